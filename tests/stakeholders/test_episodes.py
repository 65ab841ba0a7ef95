"""Role episodes: the merge rule, built from rosters and a crosswalk."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError
from hxmetrics.stakeholders import EPISODE_COLUMNS, merge_episodes, role_episodes

from ._helpers import day, roster, slow_merge

ENG = {
    "customer": ["consumer", "business"],
    # "freelance" as well as "gig": both make a gig_worker (the rule's two engagements).
    "worker": ["full_time", "gig", "freelance", "contract"],
    "partner": ["driver", "host"],
}


def _eps(rows):
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "role": [r[1] for r in rows],
            "engagement": [r[2] for r in rows],
            "start": pd.to_datetime([day(r[3]) for r in rows]).astype("datetime64[ns]"),
            "end": pd.to_datetime([day(r[4]) for r in rows]).astype("datetime64[ns]"),
        }
    )


def test_overlaps_and_duplicates_merge_touching_episodes_do_not():
    eps = _eps(
        [
            ("P1", "worker", "full_time", 0, 10),
            ("P1", "worker", "gig", 5, 12),  # overlaps: merged
            ("P1", "worker", "full_time", 12, 20),  # touches: a re-start, kept apart
            ("P1", "worker", "contract", 30, 30),  # zero length ...
            ("P1", "worker", "contract", 30, 30),  # ... and its duplicate: merged
            ("P1", "customer", "consumer", 3, None),  # other role: never merged with work
            ("P1", "customer", "business", 50, 60),  # inside an open episode: absorbed
        ]
    )
    got = merge_episodes(eps)
    assert list(got.columns) == EPISODE_COLUMNS
    assert got[["role", "engagement", "n_records"]].values.tolist() == [
        ["customer", "consumer+business", 2],
        ["worker", "full_time+gig", 2],
        ["worker", "full_time", 1],
        ["worker", "contract", 2],
    ]
    assert got["end"].isna().tolist() == [True, False, False, False]
    assert got["start"].iloc[1] == day(0)
    assert got["end"].iloc[1] == day(12)


def test_role_episodes_from_rosters_follow_the_crosswalk():
    workers = roster(
        "worker_id",
        [
            {"id": "w1", "start": 0, "end": 10, "engagement": "full_time"},
            {"id": "w2", "start": 5, "end": 15, "engagement": "gig"},  # same person, dup id
            {"id": "w1", "start": 40, "engagement": "full_time"},
        ],
    )
    customers = roster("customer_id", [{"id": "c1", "start": 2, "engagement": "consumer"}])
    cw = pd.DataFrame(
        {
            "silo": ["workers", "workers", "customers"],
            "source_id": ["w1", "w2", "c1"],
            "person_id": ["P1", "P1", "P1"],
        }
    )
    got = role_episodes({"workers": workers, "customers": customers}, cw)
    assert got[["role", "engagement", "silo", "source_id", "n_records"]].values.tolist() == [
        ["customer", "consumer", "customers", "c1", 1],
        ["worker", "full_time+gig", "workers", "w1", 2],
        ["worker", "full_time", "workers", "w1", 1],
    ]
    assert got["start"].dtype == "datetime64[ns]"
    assert got["end"].dtype == "datetime64[ns]"


def test_roster_id_missing_from_crosswalk_is_named():
    workers = roster(
        "worker_id", [{"id": "w1", "engagement": "gig"}, {"id": "w7", "engagement": "gig"}]
    )
    cw = pd.DataFrame({"silo": ["workers"], "source_id": ["w1"], "person_id": ["P1"]})
    with pytest.raises(InputTableError, match=r"'workers'.*row 1: <source_id, masked>") as err:
        role_episodes({"workers": workers}, cw)
    # The row is named, the roster id is not (issue 10: no identifier in errors).
    assert "w7" not in str(err.value)
    assert "w7" not in err.value.failure_cases.to_string()


def test_end_before_start_and_missing_engagement_are_named():
    bad = roster("worker_id", [{"id": "w1", "start": 5, "end": 2, "engagement": "gig"}])
    cw = pd.DataFrame({"silo": ["workers"], "source_id": ["w1"], "person_id": ["P1"]})
    with pytest.raises(InputTableError, match="end_not_before_start"):
        role_episodes({"workers": bad}, cw)
    none = roster("worker_id", [{"id": "w1", "engagement": None}])
    with pytest.raises(InputTableError, match=r"engagement.*not_nullable"):
        role_episodes({"workers": none}, cw)
    with pytest.raises(InputTableError, match=r"role.*isin"):
        merge_episodes(_eps([("P1", "boss", "x", 0, None)]))
    with pytest.raises(InputTableError, match=r"'engagement'.*row 1"):
        merge_episodes(_eps([("P1", "worker", "gig", 0, None), ("P1", "worker", None, 3, None)]))


@st.composite
def episode_tables(draw, max_rows: int = 25):
    rows = []
    for _ in range(draw(st.integers(1, max_rows))):
        role = draw(st.sampled_from(list(ENG)))
        start = draw(st.integers(0, 40))
        length = draw(st.one_of(st.none(), st.integers(0, 15)))
        rows.append(
            (
                f"P{draw(st.integers(0, 3))}",
                role,
                draw(st.sampled_from(ENG[role])),
                start,
                None if length is None else start + length,
            )
        )
    return _eps(rows)


def _as_dicts(frame: pd.DataFrame) -> dict:
    out: dict = {}
    for p, role, eng, s, e in frame[["person_id", "role", "engagement", "start", "end"]].itertuples(
        index=False
    ):
        out.setdefault((p, role), []).append(
            {"start": s.value, "end": math.inf if pd.isna(e) else e.value, "parts": eng.split("+")}
        )
    return out


@settings(max_examples=60)
@given(episode_tables())
def test_merge_equals_the_slow_rule_and_is_idempotent(eps):
    got = merge_episodes(eps)
    assert _as_dicts(got) == slow_merge(eps)
    assert got["n_records"].sum() == len(eps)
    again = merge_episodes(got)
    pd.testing.assert_frame_equal(again.drop(columns="n_records"), got.drop(columns="n_records"))
    # After merging, one person holds at most one episode per role at any time.
    for _, g in got.groupby(["person_id", "role"]):
        ends = g["end"].fillna(pd.Timestamp.max).tolist()
        starts = g["start"].tolist()
        assert all(starts[i + 1] >= ends[i] for i in range(len(g) - 1))


@settings(max_examples=40)
@given(episode_tables(), st.randoms(use_true_random=False))
def test_merge_does_not_depend_on_row_order(eps, rnd):
    order = list(range(len(eps)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(
        merge_episodes(eps).drop(columns=["silo", "source_id"]),
        merge_episodes(eps.iloc[order]).drop(columns=["silo", "source_id"]),
    )
