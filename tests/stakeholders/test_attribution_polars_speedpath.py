"""The Polars plan of ``attribute_lazy`` on the cases its integer path adds.

The Polars path numbers the persons (a table sorted by id), ranks each segment's
(held, engagement) values into a *kind*, and gathers the text columns from those
two tables by index, beside the rows (a horizontal concatenation padded with nulls,
then only the rows kept). These tests pin what that adds to the cases of
``test_engine_attribution.py``, against the registry (pandas) as the reference:
an exhaust shorter than the persons' table (the padding is the tables' height), an
empty one, and a person with many segments sharing kinds with other persons, rows
on, just before and between every boundary, without a time, and of unknown ids.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import polars as pl
import pytest

from hxmetrics.stakeholders import StakeholderRegistry
from hxmetrics.stakeholders._engine_attribution import attribute_lazy

from ._helpers import day, roster

SECRET = "3f9c2a7be1d04c6f8a5b9e2d7c1f0a6b"


def _world() -> StakeholderRegistry:
    """Person a: 30 worker jobs with gaps, and customer spells across them (many
    segments); persons p0..p39: one job each (the same kinds as a's, more persons
    than the short exhausts have rows)."""
    jobs = [
        {
            "id": f"wa{i}",
            "email": "a@x.org",
            "start": 3 * i,
            "end": 3 * i + 2,
            "engagement": ["gig", "full_time", "contract"][i % 3],
        }
        for i in range(30)
    ]
    jobs += [
        {"id": f"w{p}", "email": f"p{p}@x.org", "start": p, "end": p + 5, "engagement": "gig"}
        for p in range(40)
    ]
    spells = [
        {
            "id": f"ca{i}",
            "email": "a@x.org",
            "start": 10 * i + 1,
            "end": 10 * i + 6,
            "engagement": "consumer",
        }
        for i in range(9)
    ]
    return StakeholderRegistry.from_rosters(
        workers=roster("worker_id", jobs),
        customers=roster("customer_id", spells),
        keys="email",
        secret=SECRET,
    )


def _events(times: list[pd.Timestamp | None], ids: list[tuple[str, str]]) -> pd.DataFrame:
    events = pd.DataFrame(
        {
            "silo": [s for s, _ in ids],
            "source_id": [i for _, i in ids],
            "timestamp": pd.Series(times, dtype="datetime64[ns]"),
        }
    ).astype({"silo": "str", "source_id": "str"})
    events["score"] = np.arange(len(events), dtype=np.int64)
    return events


def _attribute(reg: StakeholderRegistry, events: pd.DataFrame) -> pd.DataFrame:
    resolution = SimpleNamespace(
        crosswalk=pl.from_pandas(reg.crosswalk).lazy(),
        episodes=pl.from_pandas(reg.episodes).lazy(),
    )
    got = attribute_lazy(pl.from_pandas(events).lazy(), resolution).collect()
    return got.to_pandas()


def _assert_equals_the_registry(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, same rows in the same (the exhaust's) order, same values; the
    registry's categoricals compared by their labels (the engine's are text)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        w = want[c].astype(object) if isinstance(want[c].dtype, pd.CategoricalDtype) else want[c]
        g, w = got[c].reset_index(drop=True), w.reset_index(drop=True)
        assert [None if pd.isna(v) else v for v in g.astype(object)] == [
            None if pd.isna(v) else v for v in w.astype(object)
        ], c


def test_a_person_with_many_segments_equals_the_registry() -> None:
    reg = _world()
    # Every boundary of person a, a second before it and half a day after it, twice
    # over two of a's records, and p7's; then rows without a time and unknown ids.
    times: list[pd.Timestamp | None] = []
    ids: list[tuple[str, str]] = []
    for d in range(0, 95):
        for t in (day(d), day(d) - pd.Timedelta(seconds=1), day(d + 0.5)):
            times.append(t)
            ids.append(("workers", "wa4") if d % 2 else ("customers", "ca3"))
    times += [day(9), day(9), None, day(3), day(3), None]
    ids += [
        ("workers", "w7"),
        ("workers", "nobody"),
        ("workers", "wa0"),
        ("vendors", "wa0"),
        ("customers", "w7"),
        ("workers", "nobody"),
    ]
    events = _events(times, ids)
    want = reg.attribute(events)
    assert set(want["attribution"].astype(str)) == {
        "ok",
        "outside_episodes",
        "missing_time",
        "unknown_id",
    }
    _assert_equals_the_registry(_attribute(reg, events), want)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_an_exhaust_shorter_than_the_persons_table(n: int) -> None:
    reg = _world()
    assert reg.crosswalk["person_id"].nunique() > 3  # the padding is the persons' height
    rows = [("workers", "w39", day(40)), ("customers", "ca8", day(82)), ("workers", "x", day(1))]
    events = _events([t for *_, t in rows[:n]], [(s, i) for s, i, _ in rows[:n]])
    want = reg.attribute(events)
    got = _attribute(reg, events)
    assert len(got) == n
    _assert_equals_the_registry(got, want)
