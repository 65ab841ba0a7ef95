"""DuckDB attribution of persons with many role segments (review finding F2).

A gig worker with one episode per gig has hundreds of role segments. DuckDB's range
join buckets such a person's segments by time (``_range_join_duckdb``), so that an
answer is compared with the segments of its bucket, not with all of its person's. The
output must not change: it equals the pandas registry's, with everyone bucketed, with
the default threshold, and with nobody (the plain range join of before the buckets),
ordered and not.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace
from typing import Any

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.stakeholders import StakeholderRegistry
from hxmetrics.stakeholders import _engine_attribution as engine
from hxmetrics.stakeholders._engine_attribution import attribute_lazy

from ._helpers import day, roster
from .test_engine_attribution import _plain, _to_duckdb  # the same values, compared alike

SECRET = "3f9c2a7be1d04c6f8a5b9e2d7c1f0a6b"
ROW = "__row"  # the test's row label, to compare rows whatever their order
# Thresholds of "heavy": everyone bucketed (0), the module's own, nobody (the plain
# range join of before the buckets, on the person alone).
EVERYONE, NOBODY = 0, 10**9


def _attribute(
    events: pd.DataFrame, reg: StakeholderRegistry, *, heavy: int, ordered: bool
) -> pd.DataFrame:
    """DuckDB's attribution with ``heavy`` as the bucketing threshold, collected."""
    con = duckdb.connect()
    convert = functools.partial(_to_duckdb, con=con)
    res = SimpleNamespace(crosswalk=convert(reg.crosswalk), episodes=convert(reg.episodes))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "_HEAVY_SEGMENTS", heavy)
        out = attribute_lazy(convert(events), res, ordered=ordered)
        # Collected inside: the query's SQL is written when attribute_lazy is called,
        # but collecting here keeps the threshold's scope obvious.
        return nw.from_native(out).lazy().collect("pandas").to_native()


def _assert_all_equal(events: pd.DataFrame, reg: StakeholderRegistry) -> None:
    """The registry's rows = DuckDB's, whoever is bucketed, ordered or not."""
    want = _plain(reg.attribute(events))
    for ordered in (True, False):
        for heavy in (EVERYONE, engine._HEAVY_SEGMENTS, NOBODY):
            got = _plain(_attribute(events, reg, heavy=heavy, ordered=ordered))
            assert list(got.columns) == list(want.columns)
            if ordered:  # the exhaust's order, row for row
                np.testing.assert_array_equal(got[ROW].to_numpy(), np.arange(len(events)))
            else:
                got = got.sort_values(ROW, kind="stable").reset_index(drop=True)
            pd.testing.assert_frame_equal(got, want, check_dtype=False)


# ------------------------------------------------------------------ a deterministic world


def _gigs(worker: str, email: str, n: int, *, first: float, open_last: bool) -> list[dict]:
    """``n`` gigs of a quarter day, with gaps of a half to two days; the last one open.

    One worker record (id) with one roster row per gig, as a platform lists them.
    """
    rows, t = [], first
    for k in range(n):
        end = None if (open_last and k == n - 1) else t + 0.25
        rows.append({"id": worker, "email": email, "start": t, "end": end})
        rows[-1]["engagement"] = "gig"
        t += 0.25 + (0.5, 1.0, 2.0)[k % 3]
    return rows


def _heavy_world() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Two gig workers (300 and 120 gigs), a customer spanning some of them, a light one."""
    g = _gigs("a", "a@x.org", 300, first=0, open_last=True)
    h = _gigs("b", "b@x.org", 120, first=10.5, open_last=False)
    workers = roster(
        "worker_id",
        [*g, *h, {"id": "w", "email": "w@x.org", "start": 3, "end": 9, "engagement": "full_time"}],
    )
    # A boundary a few nanoseconds after a day: microsecond buckets, exact comparisons.
    ns = pd.Timedelta(nanoseconds=500)
    workers.loc[7, "start"] += ns  # gig 7 of worker a
    customers = roster(
        "customer_id",
        [
            # Gig worker a is a customer from day 20 to 60: segments in the gaps hold it.
            {"id": "c1", "email": "a@x.org", "start": 20, "end": 60, "engagement": "consumer"},
            {"id": "c2", "email": "c@x.org", "start": 5, "end": None, "engagement": "business"},
        ],
    )
    frames = {"workers": workers, "customers": customers}
    bounds = sorted({*workers["start"], *workers["end"].dropna(), *customers["start"]})
    tick = pd.Timedelta(nanoseconds=1)
    times = [
        day(-5),  # before anyone's first episode
        *bounds,  # exactly on every boundary (starts and ends)
        *(b - tick for b in bounds[:50]),  # a nanosecond before some
        *(b + pd.Timedelta(hours=1) for b in bounds),  # inside gigs, or in gaps
        day(2000),  # after the last episodes (a's last gig open, b's closed)
        pd.NaT,
    ]
    ids = [("workers", "a"), ("workers", "b"), ("workers", "w"), ("customers", "c1")]
    ids += [("customers", "c2"), ("workers", "nobody"), (None, "a")]
    rows = [(s, i, t) for t in times for s, i in ids]
    events = pd.DataFrame(rows, columns=["silo", "source_id", "timestamp"])
    events = events.sample(frac=1.0, random_state=3).reset_index(drop=True)  # any order
    events["timestamp"] = events["timestamp"].astype("datetime64[ns]")
    events[ROW] = np.arange(len(events), dtype=np.int64)
    return frames, events


def _registry(frames: dict[str, pd.DataFrame]) -> StakeholderRegistry:
    return StakeholderRegistry.from_rosters(**frames, keys="email", secret=SECRET)


def test_heavy_workers_equal_the_registry_and_the_plain_range_join() -> None:
    frames, events = _heavy_world()
    reg = _registry(frames)
    # The world is what it says: every status, and gig worker a held as customer in gaps.
    statuses = reg.attribute(events)["attribution"].astype(str).value_counts()
    assert {"ok", "outside_episodes", "missing_time", "unknown_id"} <= set(statuses.index)
    assert engine._HEAVY_SEGMENTS < 2 * 120  # both gig workers are bucketed by default
    _assert_all_equal(events, reg)


def test_infinite_times_fall_in_the_first_or_last_bucket() -> None:
    """DuckDB timestamps can be +-infinity (pandas has none, so the reference here is the
    plain range join): epoch_us is missing for them, and a heavy person's answer at
    infinity must still meet the open last segment, a boundary at -infinity the first."""
    frames, events = _heavy_world()
    reg = _registry(frames)
    con = duckdb.connect()
    convert = functools.partial(_to_duckdb, con=con)
    episodes = convert(reg.episodes)
    episodes.create("eps")
    # Gig worker a is also a partner from -infinity to day 3, and from day 50 to infinity.
    con.execute(
        'INSERT INTO eps (person_id, role, engagement, start, "end") '
        "SELECT person_id, 'partner', 'driver', s::TIMESTAMP_NS, e::TIMESTAMP_NS "
        "FROM (SELECT DISTINCT person_id FROM eps WHERE source_id = 'a'), "
        "(VALUES ('-infinity', '2020-01-04'), ('2020-02-20', 'infinity')) v(s, e)"
    )
    convert(events).create("ev")
    con.execute(
        "INSERT INTO ev SELECT s, i, t::TIMESTAMP_NS, -1 FROM (VALUES ('workers', 'a'), "
        "('workers', 'b'), ('customers', 'c2')) a(s, i), (VALUES ('infinity'), "
        "('-infinity')) b(t)"
    )
    res = SimpleNamespace(crosswalk=convert(reg.crosswalk), episodes=con.table("eps"))
    got = {}
    for heavy in (EVERYONE, engine._HEAVY_SEGMENTS, NOBODY):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(engine, "_HEAVY_SEGMENTS", heavy)
            got[heavy] = attribute_lazy(con.table("ev"), res).fetchall()
    assert got[EVERYONE] == got[NOBODY]
    assert got[engine._HEAVY_SEGMENTS] == got[NOBODY]
    # Worker a at +infinity: a worker (the open last gig) and a partner (to infinity).
    statuses = {(r[0], r[1], r[2].year): r[-2] for r in got[NOBODY] if r[3] == -1}
    assert statuses[("workers", "a", 9999)] == "ok"
    assert statuses[("workers", "b", 9999)] == "outside_episodes"
    assert statuses[("workers", "a", 1)] == "ok"  # a partner since -infinity
    # The buckets span the finite boundaries only (one at -infinity would make them one).
    (person,) = {r[4] for r in got[NOBODY] if r[:2] == ("workers", "a")}
    most, n_buckets = _most_per_bucket(con, _segments_view(con, con.table("eps")))[person]
    assert most <= 4 < n_buckets


# ------------------------------------------------------------------ the bucketed path


def _segments_view(con: duckdb.DuckDBPyConnection, episodes: Any) -> str:
    """The segments the join reads, as a view of ``con`` (the plan's own helpers)."""
    eps = nw.from_native(episodes).select(
        nw.col("person_id").alias(engine._P), "role", "engagement", "start", "end"
    )
    engine._segments_with_end(engine._segments(eps)).to_native().create_view("segments")
    return "segments"


def _most_per_bucket(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, tuple[int, int]]:
    """Heavy person -> (most segments in one bucket, buckets), by the join's own tables."""
    sql = engine._range_join_sql("unused", view, [])
    with_clause = sql[: sql.index(" SELECT l.*")]
    p, bucket = engine._P, engine._BUCKET
    load = con.sql(
        f'{with_clause} SELECT "{p}", max(n), count(*) FROM (SELECT "{p}", count(*) AS n '
        f'FROM heavy GROUP BY "{p}", "{bucket}") GROUP BY 1'
    ).fetchall()
    return {person: (most, n_buckets) for person, most, n_buckets in load}


def test_a_gig_workers_answer_meets_few_segments() -> None:
    """The bound itself: each bucket of an evenly spread gig worker holds few segments,
    where the plain range join compares an answer with all of the person's (~600)."""
    frames, _ = _heavy_world()
    reg = _registry(frames)
    con = duckdb.connect()
    view = _segments_view(con, _to_duckdb(reg.episodes, con))
    load = _most_per_bucket(con, view)
    p = engine._P
    sql = engine._range_join_sql("unused", view, [])
    with_clause = sql[: sql.index(" SELECT l.*")]
    light = dict(con.sql(f'{with_clause} SELECT "{p}", count(*) FROM light GROUP BY 1').fetchall())
    segments = dict(con.sql(f'SELECT "{p}", count(*) FROM {view} GROUP BY 1').fetchall())
    assert max(segments.values()) > 500  # gig worker a: ~600 segments
    heavy = {q for q, n in segments.items() if n > engine._HEAVY_SEGMENTS}
    assert len(heavy) == 2
    # Heavy persons: one bucket per segment, none holding more than 3 (gaps of 0.5-2
    # days, gigs of 0.25, span / n per bucket), and none of their segments in `light`.
    assert set(load) == heavy
    for person, (most, n_buckets) in load.items():
        assert n_buckets == segments[person]
        assert most <= 3
    # Light persons: all their segments, on the person alone (the plain range join).
    assert light == {q: n for q, n in segments.items() if q not in heavy}


def test_the_bucketed_join_is_the_plan_duckdb_runs() -> None:
    """DuckDB hashes on (person, bucket), the range checked in the probe: the plan's join
    conditions name the bucket, so the code cannot fall back to the plain range join."""
    frames, events = _heavy_world()
    reg = _registry(frames)
    con = duckdb.connect()
    convert = functools.partial(_to_duckdb, con=con)
    res = SimpleNamespace(crosswalk=convert(reg.crosswalk), episodes=convert(reg.episodes))
    out = attribute_lazy(convert(events), res, ordered=False)
    plan = json.loads(con.execute("EXPLAIN (FORMAT json) " + out.sql_query()).fetchall()[0][1])

    def joins(node: dict[str, Any]) -> list[list[str]]:
        here = []
        if node.get("name") == "HASH_JOIN":
            conditions = node.get("extra_info", {}).get("Conditions", [])
            here.append([conditions] if isinstance(conditions, str) else conditions)
        return here + [j for c in node.get("children", []) for j in joins(c)]

    conditions = [c for node in plan for c in joins(node)]
    by_bucket = [c for c in conditions if any(engine._BUCKET in x for x in c)]
    assert len(by_bucket) == 1, conditions
    (join,) = by_bucket
    # The equalities are hash keys (listed first); the times are compared in the probe.
    assert join[0] == f"person_id = {engine._P}"
    assert join[1].endswith(f"= {engine._BUCKET}")
    assert any(">=" in x or "<=" in x for x in join[2:])


# ------------------------------------------------------------------ generated worlds


@st.composite
def gig_worlds(draw: Any) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Persons with many short episodes (and gaps), others with few; answers anywhere."""
    workers: list[dict[str, Any]] = []
    customers: list[dict[str, Any]] = []
    for p in range(draw(st.integers(1, 3))):
        t = draw(st.integers(-3, 3)) / 2
        for _ in range(draw(st.integers(0, 40))):
            length = draw(st.sampled_from([None, 0, 0.25, 0.5, 1, 3]))
            gap = draw(st.sampled_from([0, 0, 0.25, 1, 2, 7]))
            end = None if length is None else t + length
            workers.append(
                {"id": f"w{p}", "email": f"p{p}@x.org", "start": t, "end": end}
                | {"engagement": draw(st.sampled_from(["gig", "full_time"]))}
            )
            # Overlaps (after an open one), touching re-starts and gaps; never the same
            # start twice (the roster contract refuses a repeated (id, start)).
            t = max((t if end is None else end) + gap, t + 0.25)
        if draw(st.booleans()):
            start = draw(st.integers(-2, 30))
            end = draw(st.sampled_from([None, start + 1, start + 20]))
            customers.append(
                {"id": f"c{p}", "email": f"p{p}@x.org", "start": start, "end": end}
                | {"engagement": "consumer"}
            )
    if not workers:
        workers.append({"id": "w0", "email": "p0@x.org", "start": 0, "engagement": "gig"})
    frames = {"workers": roster("worker_id", workers)}
    if customers:
        frames["customers"] = roster("customer_id", customers)
    bounds = sorted({v for df in frames.values() for v in [*df["start"], *df["end"].dropna()]})
    ids = [(s, i) for s, df in frames.items() for i in df.iloc[:, 0].unique()]
    ids += [("workers", "nobody"), (None, "w0")]
    rows = []
    for _ in range(draw(st.integers(1, 40))):
        silo, sid = draw(st.sampled_from(ids))
        kind = draw(st.sampled_from(["boundary", "boundary", "free", "missing"]))
        if kind == "boundary":
            ts = draw(st.sampled_from(bounds))
        elif kind == "free":
            ts = day(draw(st.integers(-8, 80)) / 4)
        else:
            ts = pd.NaT
        rows.append((silo, sid, ts))
    events = pd.DataFrame(rows, columns=["silo", "source_id", "timestamp"])
    events["timestamp"] = events["timestamp"].astype("datetime64[ns]")
    events[ROW] = np.arange(len(events), dtype=np.int64)
    return frames, events


# ~0.9 s an example (six DuckDB queries): 25 keep the test near 20 s.
@settings(max_examples=25)
@given(gig_worlds())
def test_generated_gig_worlds_equal_the_registry(world: Any) -> None:
    frames, events = world
    _assert_all_equal(events, _registry(frames))
