"""The Polars plan of ``attribute_lazy`` read through a projection.

The Polars plan gathers the added columns by position from small tables (the persons'
table, the table of row codes) that must be in a set order. A query that reads only
some of the added columns lets Polars' optimiser prune the rest of the plan, and
Polars 2.1 drops a sort followed by a ``select`` of ``when/then`` on literals (the
table of codes came back in the wrong order when only ``attribution`` was read:
``attribution_counts`` counted 8 ``ok`` rows of 5). So each added column, read alone,
must equal the same column of the whole result, which must equal the registry's.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import polars as pl
import pytest

from hxmetrics.stakeholders import STATUSES
from hxmetrics.stakeholders._engine_attribution import attribute_lazy, attribution_counts
from hxmetrics.stakeholders.attribution import ATTRIBUTION_COLUMNS

from ._helpers import day
from .test_attribution_polars_speedpath import _assert_equals_the_registry, _events, _world


def _rows() -> pd.DataFrame:
    """Rows of every status, in an order that no sort of the plan's tables gives:
    each of person a's boundaries and half a day after it, then rows without a time
    and of unknown ids, then p7's and a's rows again."""
    times: list[pd.Timestamp | None] = []
    ids: list[tuple[str, str]] = []
    for d in range(94, -1, -3):
        for t in (day(d), day(d + 0.5)):
            times.append(t)
            ids.append(("customers", "ca3") if d % 2 else ("workers", "wa4"))
    times += [None, day(3), day(9), day(9), day(2), day(70)]
    ids += [
        ("workers", "wa0"),
        ("vendors", "wa0"),
        ("workers", "nobody"),
        ("workers", "w7"),
        ("workers", "w7"),
        ("customers", "ca6"),
    ]
    return _events(times, ids)


def _lazy() -> tuple[pl.LazyFrame, pd.DataFrame]:
    reg = _world()
    events = _rows()
    resolution = SimpleNamespace(
        crosswalk=pl.from_pandas(reg.crosswalk).lazy(),
        episodes=pl.from_pandas(reg.episodes).lazy(),
    )
    return attribute_lazy(pl.from_pandas(events).lazy(), resolution), reg.attribute(events)


def test_the_whole_result_equals_the_registry() -> None:
    lazy, want = _lazy()
    assert set(want["attribution"].astype(str)) == set(STATUSES) - {"other_silo"}
    _assert_equals_the_registry(lazy.collect().to_pandas(), want)


@pytest.mark.parametrize("column", ATTRIBUTION_COLUMNS)
def test_each_added_column_read_alone_equals_the_whole_results(column: str) -> None:
    lazy, _ = _lazy()
    whole = lazy.collect()
    alone = lazy.select(column).collect()
    assert alone.to_series().to_list() == whole[column].to_list()


def test_the_counts_of_statuses_equal_the_registry() -> None:
    lazy, want = _lazy()
    counts = want["attribution"].astype(str).value_counts()
    assert attribution_counts(lazy) == {s: int(counts.get(s, 0)) for s in STATUSES}
