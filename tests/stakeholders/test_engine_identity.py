"""Exact-key identity resolution on the engine equals the pandas path.

``resolve_exact_lazy`` on pandas, Polars lazy, DuckDB and Spark gives the crosswalk,
person ids, ``matched_on``, conflict report and merged episodes of
``resolve_identities(..., method="exact")`` / ``StakeholderRegistry.from_rosters``,
on the sample rosters, on generated roster sets whose shared emails and phones make
long components and every conflict rule fire, and on chains that need one
propagation step per record. Outputs are collected here, in the tests only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hxmetrics as hx
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import StakeholderRegistry, resolve_identities, role_episodes
from hxmetrics.stakeholders._engine_identity import (
    EngineResolution,
    _Engine,
    _normalised,
    resolve_exact_lazy,
)
from hxmetrics.stakeholders._rosters import _record_hash
from hxmetrics.stakeholders.keys import normalise_key
from hxmetrics.tables import ENGAGEMENTS, ROLE_OF_SILO, validate

SECRET = "5f0c7a9e13b2d8c4e6a1f3b9d7c5e2a8"
LAZY = ("pandas", "polars", "duckdb")
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SPARK_PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"


# ---------------------------------------------------------------------------- helpers


class _On:
    """Puts pandas rosters on an engine the way a job reads them: Parquet, scanned."""

    def __init__(self, engine: str, tmp: Path, spark: Any = None) -> None:
        self.engine = engine
        self.tmp = tmp
        self.spark = spark
        self.n = 0
        if engine == "duckdb":
            import duckdb

            self.con = duckdb.connect()

    def __call__(self, df: pd.DataFrame) -> Any:
        if self.engine == "pandas":
            return df.copy()
        self.n += 1
        path = self.tmp / f"roster_{self.n}.parquet"
        # Microseconds: what DuckDB and Spark keep (Spark refuses nanosecond Parquet).
        df.to_parquet(path, coerce_timestamps="us", allow_truncated_timestamps=True)
        if self.engine == "polars":
            import polars as pl

            return pl.scan_parquet(path)
        if self.engine == "duckdb":
            return self.con.read_parquet(str(path))
        return self.spark.read.parquet(str(path))


def _collect(native: Any) -> pd.DataFrame:
    # Through Arrow: Spark's own toPandas warns under pandas 3 (a deprecated keyword).
    frame = nw.from_native(native).lazy().collect(backend="pyarrow").to_native()
    out: pd.DataFrame = frame.to_pandas()
    return out


def _crosswalk(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values(["silo", "source_id"], ignore_index=True)
    return out.astype("str")


def _episodes(frame: pd.DataFrame) -> pd.DataFrame:
    order = ["person_id", "role", "start", "end", "source_id", "engagement"]
    out = frame.sort_values(order, ignore_index=True, na_position="last")
    return out.astype(
        {"start": "datetime64[ns]", "end": "datetime64[ns]", "n_records": "int64"}
    ).astype({c: "str" for c in ("person_id", "role", "engagement", "silo", "source_id")})


def _assert_same(
    out: EngineResolution, rosters: dict[str, pd.DataFrame], **options: Any
) -> pd.DataFrame:
    """The engine's crosswalk, conflicts and episodes equal the pandas path's."""
    ref = resolve_identities(rosters, secret=SECRET, **options)
    got = _collect(out.crosswalk)
    assert list(got.columns) == ["silo", "source_id", "person_id", "matched_on"]
    pd.testing.assert_frame_equal(_crosswalk(got), _crosswalk(ref.crosswalk))
    pd.testing.assert_frame_equal(out.conflicts, ref.conflicts)
    assert list(out.keys) == ref.crosswalk.attrs["hxmetrics"]["keys"]
    assert list(out.notes) == ref.crosswalk.attrs["hxmetrics"]["notes"]
    episodes = _collect(out.episodes)
    assert list(episodes.columns) == list(role_episodes(rosters, ref.crosswalk).columns)
    pd.testing.assert_frame_equal(
        _episodes(episodes), _episodes(role_episodes(rosters, ref.crosswalk))
    )
    return got


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    org = hx.load_sample()
    return {silo: getattr(org, silo) for silo in ("customers", "partners", "workers")}


# ------------------------------------------------------------------ generated rosters

_EMAILS = ["ann@x.org", " ANN@x.org", "bo@y.net", "cy@z.com", "Cy@Z.com\t", "dee@w.io", ""]
_PHONES = ["+1 (555) 010-2030", "555.010.2030", "555 777 8888", "44 555 777 8888", "12", None]
_YEARS = [None, None, 1980, 1980, 1981, 1982, 1985]
_DAYS = pd.date_range("2019-01-01", periods=8, freq="90D")


@st.composite
def roster_sets(draw: Any) -> dict[str, pd.DataFrame]:
    """Small roster sets sharing a few emails and phones: chains, hubs, conflicts."""
    n_emails = draw(st.integers(2, len(_EMAILS)))
    silos = draw(
        st.lists(st.sampled_from(["customers", "partners", "workers"]), min_size=1, unique=True)
    )
    out = {}
    for silo in sorted(silos):
        role = ROLE_OF_SILO[silo]
        rows = []
        for r in range(draw(st.integers(1, 7))):
            source_id = f"{silo[0].upper()}{r}"
            # Most records keep one birth year; some rows contradict their record.
            year = draw(st.sampled_from(_YEARS))
            starts = draw(st.lists(st.integers(0, 7), min_size=1, max_size=3, unique=True))
            for s in starts:
                own_year = draw(st.sampled_from([year, year, 1990]))
                end = draw(st.sampled_from([None, 1, 2, 5]))
                rows.append(
                    {
                        "id": source_id,
                        "email": draw(st.sampled_from([*_EMAILS[:n_emails], None])),
                        "phone": draw(st.sampled_from(_PHONES)),
                        "birth_year": own_year,
                        "start": _DAYS[s],
                        "end": None if end is None else _DAYS[s] + pd.Timedelta(days=90 * end),
                        "engagement": draw(st.sampled_from(ENGAGEMENTS[role])),
                    }
                )
        df = pd.DataFrame(rows).rename(columns={"id": f"{role}_id"})
        out[silo] = validate(df, table=silo)
    return out


def _chain(k: int) -> dict[str, pd.DataFrame]:
    """``k`` customers, each sharing its email with one neighbour, its phone with the other."""
    ids = [f"C{i:04d}" for i in range(k)]
    df = pd.DataFrame(
        {
            "customer_id": ids,
            "email": [f"m{(i + 1) // 2}@x.org" for i in range(k)],
            "phone": [f"555{i // 2:07d}" for i in range(k)],
            "start": pd.Timestamp("2020-01-01"),
            "end": pd.NaT,
            "engagement": "consumer",
        }
    )
    return {"customers": validate(df, table="customers")}


def _steps_of_chain(k: int) -> int:
    """Steps min-label propagation needs on the chain: distance to the smallest hash, + 1."""
    ids = pd.Series([f"C{i:04d}" for i in range(k)], dtype="str")
    where = int(np.argmin(_record_hash("customers", ids)))
    return max(where, k - 1 - where) + 1


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("engine", LAZY)
def test_sample_rosters_match_the_pandas_path(engine, sample, tmp_path) -> None:
    on = _On(engine, tmp_path)
    out = resolve_exact_lazy({s: on(df) for s, df in sample.items()}, secret=SECRET)
    got = _assert_same(out, sample)
    assert out.engine == engine
    reg = StakeholderRegistry.from_rosters(**sample, secret=SECRET)
    pd.testing.assert_frame_equal(_episodes(_collect(out.episodes)), _episodes(reg.episodes))
    # The sample has conflicts and links across silos: the test is not vacuous.
    assert len(out.conflicts) > 0
    assert got["matched_on"].ne("none").sum() > 100
    # The counts a job logs, taken during the resolution.
    assert (out.n_records, out.n_persons) == (len(got), got["person_id"].nunique())
    if engine == "pandas":
        # The native frame of the pandas engine has the pandas path's dtypes.
        assert dict(out.crosswalk.dtypes) == dict(reg.crosswalk.dtypes)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_sample_csv_scanned_and_validated_on_the_engine(engine) -> None:
    import duckdb

    from hxmetrics._scan import parse_input, scan
    from hxmetrics.tables import read_table, validate_lazy

    connection = duckdb.connect() if engine == "duckdb" else None
    rosters, lazy = {}, {}
    for silo in ("customers", "partners", "workers"):
        spec = parse_input(f"{silo}.csv", base=SAMPLES, where=f"[inputs].{silo}")
        lazy[silo] = validate_lazy(scan(spec, engine, connection=connection), table=silo)
        rosters[silo] = validate(read_table(SAMPLES / f"{silo}.csv"), table=silo)
    out = resolve_exact_lazy(lazy, secret=SECRET)
    _assert_same(out, rosters)


@pytest.mark.parametrize("engine", LAZY)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rosters=roster_sets(),
    max_size=st.sampled_from([2, 3, 50]),
    tolerance=st.sampled_from([0, 1]),
    keys=st.sampled_from([None, ["email"], ["phone", "email"]]),
)
def test_generated_rosters_match_the_pandas_path(
    engine, rosters, max_size, tolerance, keys, tmp_path
) -> None:
    on = _On(engine, tmp_path)
    options = {"keys": keys, "max_component_size": max_size, "birth_year_tolerance": tolerance}
    out = resolve_exact_lazy({s: on(df) for s, df in rosters.items()}, secret=SECRET, **options)
    _assert_same(out, rosters, **options)


def test_generated_rosters_exercise_every_exact_conflict_rule() -> None:
    """The strategy above reaches every conflict kind of the exact method (not vacuous).

    A property of the strategy: checked on the pandas path, which is fast.
    """
    seen: set[str] = set()

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(
        rosters=roster_sets(),
        max_size=st.sampled_from([2, 3, 50]),
        tolerance=st.sampled_from([0, 1]),
    )
    def collect(rosters, max_size, tolerance) -> None:
        out = resolve_identities(
            rosters,
            secret=SECRET,
            max_component_size=max_size,
            birth_year_tolerance=tolerance,
        )
        seen.update(out.conflicts["kind"])

    collect()
    # component_birth_year_mismatch is rare here: test_a_component_whose_birth_years_drift.
    exact_kinds = {
        "birth_year_mismatch",
        "ambiguous_birth_year_bridge",
        "component_too_large",
        "record_birth_year_mismatch",
    }
    assert exact_kinds <= seen


def _drift() -> dict[str, pd.DataFrame]:
    """Birth years 1980, 1981, 1982 along shared keys: each key agrees within one year,
    the component does not; a record without a year bridges 1980 and 1985 elsewhere."""
    rows = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "F"],
            "email": ["a@x", "a@x", None, "d@x", "d@x", None],
            "phone": [None, "5550001111", "5550001111", None, "5550002222", "5550002222"],
            "birth_year": pd.array([1980, 1981, 1982, 1980, None, 1985], dtype="Int64"),
            "start": pd.Timestamp("2020-01-01"),
            "end": pd.NaT,
            "engagement": "consumer",
        }
    )
    return {"customers": validate(rows, table="customers")}


def test_unresolved_components_after_ten_rounds() -> None:
    """A hub of records sharing many keys is cut ten times, then split into records."""
    k = 14
    df = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(k)],
            # Every record shares every email with every other: each cut leaves a clique.
            **{f"e{j}": [f"hub{j}@x.org"] * k for j in range(12)},
            "start": pd.Timestamp("2020-01-01"),
            "end": pd.NaT,
            "engagement": "consumer",
        }
    )
    rosters = {"customers": validate(df, table="customers")}
    keys = [f"e{j}" for j in range(12)]
    out = resolve_exact_lazy(rosters, keys=keys, secret=SECRET, max_component_size=5)
    _assert_same(out, rosters, keys=keys, max_component_size=5)
    assert "unresolved_component" in set(out.conflicts["kind"])
    assert len(out.steps) == 11  # the first linking and ten rounds after cuts


@pytest.mark.parametrize("engine", LAZY)
def test_a_component_whose_birth_years_drift(engine, tmp_path) -> None:
    rosters = _drift()
    on = _On(engine, tmp_path)
    out = resolve_exact_lazy(
        {s: on(df) for s, df in rosters.items()}, secret=SECRET, birth_year_tolerance=1
    )
    _assert_same(out, rosters, birth_year_tolerance=1)
    assert set(out.conflicts["kind"]) == {
        "component_birth_year_mismatch",
        "ambiguous_birth_year_bridge",
    }
    assert len(out.steps) == 2  # one round of cuts, then the cut components again


@pytest.mark.parametrize("engine", LAZY)
@pytest.mark.parametrize("k", [2, 7, 40])
def test_a_chain_needs_one_step_per_record(engine, k, tmp_path) -> None:
    rosters = _chain(k)
    on = _On(engine, tmp_path)
    out = resolve_exact_lazy(
        {s: on(df) for s, df in rosters.items()}, secret=SECRET, max_component_size=10_000
    )
    got = _assert_same(out, rosters, max_component_size=10_000)
    assert got["person_id"].nunique() == 1
    # Steps: the distance from the record with the smallest hash to the chain's far
    # end, plus the step in which nothing changed; at most k.
    assert out.steps == (_steps_of_chain(k),)
    assert out.steps[0] <= k


@pytest.mark.parametrize("engine", LAZY)
def test_a_chain_of_200_records_converges(engine, tmp_path) -> None:
    rosters = _chain(200)
    on = _On(engine, tmp_path)
    out = resolve_exact_lazy(
        {s: on(df) for s, df in rosters.items()}, secret=SECRET, max_component_size=10_000
    )
    got = _assert_same(out, rosters, max_component_size=10_000)
    assert got["person_id"].nunique() == 1
    assert out.steps == (_steps_of_chain(200),)
    assert out.steps[0] > 100  # the far end is at least half the chain away


@pytest.mark.parametrize("engine", LAZY)
def test_a_long_chain_is_cut_round_after_round(engine, tmp_path) -> None:
    rosters = _chain(30)
    on = _On(engine, tmp_path)
    out = resolve_exact_lazy(
        {s: on(df) for s, df in rosters.items()}, secret=SECRET, max_component_size=8
    )
    _assert_same(out, rosters, max_component_size=8)
    assert set(out.conflicts["kind"]) == {"component_too_large"}
    assert len(out.steps) >= 3  # rounds after cuts relink only the cut components


@pytest.mark.parametrize("engine", LAZY)
def test_no_keys_and_an_absent_roster(engine, sample, tmp_path) -> None:
    on = _On(engine, tmp_path)
    two = {s: sample[s] for s in ("customers", "workers")}  # no partners roster
    out = resolve_exact_lazy({s: on(df) for s, df in two.items()}, keys=[], secret=SECRET)
    got = _assert_same(out, two, keys=[])
    assert got["person_id"].nunique() == len(got)
    assert set(got["matched_on"]) == {"none"}
    assert out.steps == ()
    linked = resolve_exact_lazy({s: on(df) for s, df in two.items()}, secret=SECRET)
    assert set(_assert_same(linked, two)["silo"]) == {"customers", "workers"}
    # Rosters without any key column: one person per record, and a note says so.
    bare = {
        s: df[["customer_id", "start", "end", "engagement"]]
        for s, df in two.items()
        if s == "customers"
    }
    ids_only = resolve_exact_lazy({s: on(df) for s, df in bare.items()}, secret=SECRET)
    _assert_same(ids_only, bare)
    assert "no key column" in ids_only.notes[0]


def _episode_cases() -> dict[str, pd.DataFrame]:
    """Episodes that exercise every branch of the merge rule: duplicates, an
    episode touching the next (two episodes), one nested in an open one, overlaps whose
    engagements first appear in an order that is not alphabetical, and the same kinds
    in another order; non-ASCII ids (the person id hashes their UTF-8 bytes)."""
    day = pd.Timestamp
    rows = [
        # W1 and W1b (one person by email): the same episode twice, then a touching
        # episode (a new one).
        ("W\u00e91", "2020-01-01", "2020-06-01", "gig"),
        ("W1b", "2020-01-01", "2020-06-01", "gig"),
        ("W\u00e91", "2020-06-01", "2020-09-01", "full_time"),
        # W2: open from 2019, every later episode is in its block: part_time+gig+contract
        # (first appearance, not alphabetical).
        ("W2", "2019-01-01", None, "part_time"),
        ("W2", "2019-03-01", "2019-04-01", "gig"),
        ("W2", "2021-01-01", "2021-02-01", "contract"),
        # W3: overlaps in a chain, then a gap: two blocks.
        ("W3", "2018-01-01", "2018-05-01", "contract"),
        ("W3", "2018-04-01", "2018-08-01", "full_time"),
        ("W3", "2018-07-01", "2018-09-01", "contract"),
        ("W3", "2019-01-01", "2019-02-01", "gig"),
        # W4 and W4b (one person): the same start, open and closed: open sorts last
        # (contract+gig).
        ("W4", "2020-01-01", None, "gig"),
        ("W4b", "2020-01-01", "2020-02-01", "contract"),
    ]
    workers = pd.DataFrame(
        {
            "worker_id": [r[0] for r in rows],
            "email": ["\u00e9@x.org"] * 3 + ["b@x.org"] * 3 + ["c@x.org"] * 4 + ["d@x.org"] * 2,
            "birth_year": pd.array([1980] * len(rows), dtype="Int64"),
            "start": [day(r[1]) for r in rows],
            "end": [pd.NaT if r[2] is None else day(r[2]) for r in rows],
            "engagement": [r[3] for r in rows],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["C\u00fc1", "C2"],
            "email": ["\u00e9@x.org", "b@x.org"],
            "birth_year": pd.array([1980, 1980], dtype="Int64"),
            "start": [day("2020-03-01"), day("2019-02-01")],
            "end": [pd.NaT, day("2019-03-01")],
            "engagement": ["consumer", "business"],
        }
    )
    return {
        "customers": validate(customers, table="customers"),
        "workers": validate(workers, table="workers"),
    }


@pytest.mark.parametrize("engine", LAZY)
def test_episode_merge_cases_match_the_pandas_path(engine, tmp_path) -> None:
    """DuckDB merges episodes in its own SQL, the others with narwhals: both are the
    pandas path's episodes, and DuckDB's person ids (HMAC in SQL) are its ids."""
    rosters = _episode_cases()
    on = _On(engine, tmp_path)
    out = resolve_exact_lazy({s: on(df) for s, df in rosters.items()}, secret=SECRET)
    _assert_same(out, rosters)
    episodes = _collect(out.episodes)
    # Not vacuous: merged blocks with several engagements in first-appearance order.
    assert {"part_time+gig+contract", "contract+full_time", "contract+gig"} <= set(
        episodes["engagement"]
    )
    assert episodes["n_records"].max() == 3


@pytest.mark.parametrize("engine", LAZY)
def test_key_normalisation_is_the_pandas_one(engine, tmp_path) -> None:
    values = [
        " Ann@Example.COM\t",
        "\xa0bo@y.org\u3000",
        "ÉCOLE@Lycée.fr",
        "",
        "   ",
        None,
        "hxp:ABCdef",
        " hxp:AbC ",
        "+1 (555) 010-2030",
        "555.010.2030",
        "12",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667 8",
        "\uff15\uff15\uff15\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
        "\x1c0044 20 7946 0000\x1f",
        "x\u2003",
    ]
    df = pd.DataFrame({"v": pd.Series(values, dtype="str")})
    native = _On(engine, tmp_path)(df)
    eng = _Engine(engine, nw.from_native(native).lazy())
    for kind in ("email", "phone", "generic"):
        for digits in (7, 10):
            lf = nw.from_native(native).lazy()
            got = _collect(
                _normalised(lf, "v", "v", kind=kind, min_phone_digits=digits, engine=eng)
                .select("v")
                .to_native()
            )
            expected = normalise_key(df["v"], kind=kind, min_phone_digits=digits)
            # approx only so that missing keys (None/NaN) compare equal: the keys are text,
            # so every present value must match exactly.
            assert got["v"].tolist() == pytest.approx(expected.tolist(), nan_ok=True), kind


def test_bad_arguments_are_named() -> None:
    roster = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "email": ["a@b"],
            "start": pd.to_datetime(["2020-01-01"]),
            "end": pd.NaT,
            "engagement": ["consumer"],
        }
    )
    with pytest.raises(InputTableError, match=r"key column\(s\) \['emial'\] are in none"):
        resolve_exact_lazy({"customers": roster}, keys=["emial"], secret=SECRET)
    with pytest.raises(ParameterError, match="unknown silo 'customer'"):
        resolve_exact_lazy({"customer": roster}, secret=SECRET)
    with pytest.raises(ParameterError, match=r"too weak|at least 16"):
        resolve_exact_lazy({"customers": roster}, secret="password")
    with pytest.raises(ParameterError, match="max_component_size"):
        resolve_exact_lazy({"customers": roster}, secret=SECRET, max_component_size=1)
    import polars as pl

    mixed = {"customers": roster, "workers": pl.from_pandas(roster).lazy()}
    with pytest.raises(ParameterError, match="several engines"):
        resolve_exact_lazy(mixed, secret=SECRET)
    floats = {"customers": roster.assign(email=[1.5])}
    with pytest.raises(ParameterError, match="key column 'email' is Float64"):
        resolve_exact_lazy(floats, keys=["email"], secret=SECRET)


@pytest.mark.spark
# pyspark warns on import that it does not support pandas 3; only pyspark.sql is used.
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_spark_matches_the_pandas_path(spark, sample, tmp_path) -> None:
    """One function (one JVM start for the file): sample, conflicts, chain, no keys."""
    on = _On("spark", tmp_path, spark)
    out = resolve_exact_lazy({s: on(df) for s, df in sample.items()}, secret=SECRET)
    _assert_same(out, sample)
    assert out.engine == "spark"
    assert len(out.conflicts) > 0
    # Cuts and bridges (the ten-round split runs the same narwhals code, tested above).
    drift = _drift()
    out = resolve_exact_lazy(
        {s: on(df) for s, df in drift.items()}, secret=SECRET, birth_year_tolerance=1
    )
    _assert_same(out, drift, birth_year_tolerance=1)
    chain = _chain(12)
    out = resolve_exact_lazy(
        {s: on(df) for s, df in chain.items()}, secret=SECRET, max_component_size=100
    )
    _assert_same(out, chain, max_component_size=100)
    assert out.steps == (_steps_of_chain(12),)
    two = {s: sample[s] for s in ("customers", "workers")}
    none = resolve_exact_lazy({s: on(df) for s, df in two.items()}, keys=[], secret=SECRET)
    _assert_same(none, two, keys=[])
    values = pd.DataFrame(
        {"v": pd.Series([" Ann@X.org\u3000", "+1 (555) 010-2030", "\u0661\u0662 3456789", None])}
    )
    native = on(values)
    eng = _Engine("spark", nw.from_native(native))
    for kind in ("email", "phone"):
        lf = _normalised(
            nw.from_native(native), "v", "v", kind=kind, min_phone_digits=7, engine=eng
        )
        got_v = _collect(lf.select("v").to_native())["v"]
        expected = normalise_key(values["v"], kind=kind)
        # approx only so that missing keys compare equal; present text keys match exactly.
        assert got_v.tolist() == pytest.approx(expected.tolist(), nan_ok=True)
