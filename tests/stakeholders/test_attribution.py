"""As-of attribution: exact against a row-by-row reference, every row kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import (
    ATTRIBUTION_COLUMNS,
    STATUSES,
    attribute,
    attribution_summary,
)

from ._helpers import day, slow_attribute, slow_hybrids
from .test_episodes import ENG, _eps

SILOS = ["customers", "workers", "partners"]
PERSONS = [f"P{i}" for i in range(4)]


@st.composite
def worlds(draw):
    """Crosswalk, episodes and events with boundary times, open ends and unknown ids."""
    cw_rows = []
    for silo in SILOS:
        for k in range(draw(st.integers(0, 3))):
            cw_rows.append((silo, f"{silo[0]}{k}", draw(st.sampled_from(PERSONS))))
    if not cw_rows:
        cw_rows.append(("workers", "w0", "P0"))
    crosswalk = pd.DataFrame(cw_rows, columns=["silo", "source_id", "person_id"])
    persons = sorted(set(crosswalk["person_id"]))
    rows = []
    # Half the worlds have no overlaps within a role, so the several-episodes path
    # (binary search within a person's run) is exercised on clean data too.
    clean = draw(st.booleans())
    for p in persons:
        for role in ENG:
            t = 0
            for _ in range(draw(st.integers(0, 4))):
                start = t + draw(st.integers(0, 6)) if clean else draw(st.integers(0, 30))
                length = draw(st.one_of(st.none(), st.integers(0, 8)))
                end = None if length is None else start + length
                rows.append((p, role, draw(st.sampled_from(ENG[role])), start, end))
                if clean:
                    if end is None:
                        break
                    t = end
    episodes = _eps(rows) if rows else _eps([(persons[0], "worker", "gig", 0, 1)])
    bounds = sorted(set(episodes["start"].tolist()) | set(episodes["end"].dropna().tolist()))
    n = draw(st.integers(1, 30))
    ids = [
        *crosswalk[["silo", "source_id"]].itertuples(index=False, name=None),
        ("workers", "nobody"),
        ("customers", None),
        (None, "c0"),
    ]
    ev = []
    for _ in range(n):
        silo, sid = draw(st.sampled_from(ids))
        kind = draw(st.sampled_from(["boundary", "free", "missing"]))
        if kind == "boundary":
            ts = draw(st.sampled_from(bounds))
        elif kind == "free":
            ts = day(draw(st.integers(-2, 45))) + pd.Timedelta(hours=draw(st.integers(0, 23)))
        else:
            ts = pd.NaT
        ev.append((silo, sid, ts))
    events = pd.DataFrame(ev, columns=["silo", "source_id", "timestamp"])
    events["timestamp"] = events["timestamp"].astype("datetime64[ns]")
    events["silo"] = events["silo"].astype("str")
    events["source_id"] = events["source_id"].astype("str")
    return crosswalk, episodes, events


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype.name in ("category", "str", "string", "object"):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.reset_index(drop=True)


@settings(max_examples=80)
@given(worlds())
def test_attribution_equals_the_row_by_row_reference(world):
    crosswalk, episodes, events = world
    got = attribute(events, crosswalk=crosswalk, episodes=episodes)
    # The expected hybrid_type comes from the slow reference, not from classify_hybrids
    # (the code path attribute() itself uses), so a wrong label would show here.
    labels = slow_hybrids(episodes)
    hybrid = dict(zip(labels["person_id"], labels["hybrid_type"], strict=True))
    want = slow_attribute(events, crosswalk, episodes, hybrid)
    assert len(got) == len(events)
    pd.testing.assert_frame_equal(
        _plain(got[ATTRIBUTION_COLUMNS]),
        _plain(want[ATTRIBUTION_COLUMNS]),
        check_dtype=False,
    )
    # The caller's columns and rows are untouched, in their order.
    pd.testing.assert_frame_equal(got[events.columns], events)
    # Dictionary-encoded ids (categoricals) take a path without hashing: same answer.
    encoded = events.astype({"silo": "category", "source_id": "category"})
    same = attribute(encoded, crosswalk=crosswalk, episodes=episodes)
    pd.testing.assert_frame_equal(
        _plain(same[ATTRIBUTION_COLUMNS]), _plain(got[ATTRIBUTION_COLUMNS]), check_dtype=False
    )


def _world():
    crosswalk = pd.DataFrame(
        {
            "silo": ["customers", "workers", "workers"],
            "source_id": ["c1", "w1", "w2"],
            "person_id": ["P1", "P1", "P2"],
        }
    )
    episodes = _eps(
        [
            ("P1", "customer", "consumer", 0, None),
            ("P1", "worker", "full_time", 5, 10),
            ("P1", "worker", "gig", 20, None),
            ("P2", "worker", "contract", 0, 3),
        ]
    )
    return crosswalk, episodes


def test_boundaries_are_half_open_and_roles_come_from_every_silo():
    crosswalk, episodes = _world()
    events = pd.DataFrame(
        {
            "silo": ["customers", "customers", "customers", "workers", "workers", "workers"],
            "source_id": ["c1", "c1", "c1", "w2", "w2", "zz"],
            "timestamp": [day(5), day(10), day(20), day(3), day(-1), day(1)],
        }
    )
    got = attribute(events, crosswalk=crosswalk, episodes=episodes)
    # Day 5: the job starts (held); day 10: it has ended; day 20: the gig starts.
    assert got["is_worker"].tolist() == [True, False, True, False, False, False]
    assert got["is_customer"].tolist() == [True, True, True, False, False, False]
    assert got["worker_engagement"].astype(object).tolist()[:3] == ["full_time", np.nan, "gig"]
    assert got["attribution"].astype(str).tolist() == [
        "ok",
        "ok",
        "ok",
        "outside_episodes",
        "outside_episodes",
        "unknown_id",
    ]
    assert got["hybrid_type"].astype(object).tolist()[0] == "worker_customer"
    summary = attribution_summary(got)
    assert summary["attribution"].tolist() == list(STATUSES)
    assert summary["n"].tolist() == [3, 1, 2, 0, 0]
    assert summary["share"].sum() == pytest.approx(1.0)


def test_missing_time_is_a_status_and_strings_are_parsed():
    crosswalk, episodes = _world()
    events = pd.DataFrame(
        {
            "silo": ["workers", "workers"],
            "source_id": ["w1", "w1"],
            "timestamp": ["2020-01-07", None],
        }
    )
    got = attribute(events, crosswalk=crosswalk, episodes=episodes)
    assert got["attribution"].astype(str).tolist() == ["ok", "missing_time"]


def test_polars_events_are_accepted():
    pl = pytest.importorskip("polars")
    crosswalk, episodes = _world()
    events = pl.DataFrame(
        {"silo": ["workers"], "source_id": ["w1"], "timestamp": [pd.Timestamp("2020-01-07")]}
    )
    got = attribute(events, crosswalk=crosswalk, episodes=episodes)
    assert got["is_worker"].tolist() == [True]


def test_bad_events_are_named():
    crosswalk, episodes = _world()
    base = pd.DataFrame({"silo": ["workers"], "source_id": ["w1"], "timestamp": [day(1)]})
    with pytest.raises(InputTableError, match=r"\['timestamp'\].*Did you mean 'timestmp'"):
        attribute(
            base.rename(columns={"timestamp": "timestmp"}), crosswalk=crosswalk, episodes=episodes
        )
    with pytest.raises(ParameterError, match=r"already has column\(s\) \['person_id'\]"):
        attribute(base.assign(person_id="x"), crosswalk=crosswalk, episodes=episodes)
    with pytest.raises(InputTableError, match=r"timestamp.*row 0: 'yesterday'"):
        attribute(base.assign(timestamp=["yesterday"]), crosswalk=crosswalk, episodes=episodes)
    with pytest.raises(InputTableError, match="naive"):
        attribute(
            base.assign(timestamp=base["timestamp"].dt.tz_localize("UTC")),
            crosswalk=crosswalk,
            episodes=episodes,
        )
    with pytest.raises(InputTableError, match="table 'events': expected a pandas DataFrame, got "):
        attribute([1, 2], crosswalk=crosswalk, episodes=episodes)
    dup = pd.concat([crosswalk, crosswalk.iloc[[0]]])
    with pytest.raises(ParameterError, match=r"must be unique.*'customers' repeats \['c1'\]"):
        attribute(base, crosswalk=dup, episodes=episodes)
    stray = pd.concat([episodes, _eps([("P9", "worker", "gig", 0, None)])])
    with pytest.raises(
        InputTableError, match=r"person_id.*in_crosswalk.*<person_id, masked>"
    ) as err:
        attribute(base, crosswalk=crosswalk, episodes=stray)
    # The row is named, the person id is not (issue 10: no identifier in errors).
    assert "P9" not in str(err.value)
    assert "P9" not in err.value.failure_cases.to_string()


def test_attribute_gives_the_role_of_each_rows_silo():
    """Found (issue 11): attribute() added no ``role``, so ``by="role"`` needed a mapping."""
    from hxmetrics.stakeholders import StakeholderRegistry
    from hxmetrics.tables import ROLES

    cw = pd.DataFrame(
        {"silo": ["customers", "workers"], "source_id": ["c1", "w1"], "person_id": ["P1", "P1"]}
    )
    eps = pd.DataFrame(
        {
            "person_id": ["P1", "P1"],
            "role": ["customer", "worker"],
            "engagement": ["consumer", "full_time"],
            "start": pd.to_datetime(["2020-01-01", "2021-01-01"]),
            "end": pd.to_datetime([None, "2022-01-01"]),
        }
    )
    events = pd.DataFrame(
        {
            "silo": pd.Series(["customers", "workers", None, "partners"], dtype="str"),
            "source_id": ["c1", "w1", "c1", "x9"],
            "timestamp": pd.to_datetime(["2021-06-01"] * 4),
        }
    )
    out = attribute(events, crosswalk=cw, episodes=eps)
    assert ATTRIBUTION_COLUMNS[-1] == "role"
    assert list(out.columns[-len(ATTRIBUTION_COLUMNS) :]) == ATTRIBUTION_COLUMNS
    assert list(out["role"].cat.categories) == list(ROLES)
    assert out["role"].astype(object).tolist()[:2] == ["customer", "worker"]
    assert out["role"].isna().tolist() == [False, False, True, False]
    assert out["role"].iloc[3] == "partner"  # the door, even for an unknown id
    # Any spelling of the silo column maps alike (mapped on its distinct values).
    for dtype in ("category", "object", "string[pyarrow]"):
        other = attribute(events.astype({"silo": dtype}), crosswalk=cw, episodes=eps)
        pd.testing.assert_series_equal(other["role"], out["role"])
    # The registry and a silo view give the same column.
    rosters = {
        "customers": pd.DataFrame(
            {
                "customer_id": ["c1"],
                "start": pd.to_datetime(["2020-01-01"]),
                "end": pd.to_datetime([None]),
                "engagement": ["consumer"],
            }
        ),
        "workers": pd.DataFrame(
            {
                "worker_id": ["w1"],
                "start": pd.to_datetime(["2021-01-01"]),
                "end": pd.to_datetime(["2022-01-01"]),
                "engagement": ["full_time"],
            }
        ),
    }
    reg = StakeholderRegistry.from_rosters(**rosters, keys=[])
    for got in (reg.attribute(events), reg.silo_view("workers").attribute(events)):
        pd.testing.assert_series_equal(got["role"], out["role"])
    with pytest.raises(ParameterError, match="role"):
        attribute(events.assign(role="x"), crosswalk=cw, episodes=eps)
