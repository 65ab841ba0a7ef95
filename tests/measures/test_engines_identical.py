"""The job measures give the same pandas frame, bit for bit, on every engine.

``nps``, ``csat``, ``ces``, ``mean_score``, ``hx_index`` and ``rfm_summary``
(:data:`hxmetrics.measures.JOB_MEASURES`) aggregate integer sufficient statistics on
the engine (counts, sums of whole-number scores, amounts in whole cents) and finish
in numpy, so a pandas frame, a Polars frame (eager or lazy), a DuckDB relation and a
Spark DataFrame holding the same data give frames equal with ``check_exact=True``:
the same rows in the same (sorted) order, the same dtypes, the same floats, the same
bootstrap and posterior draws for a given ``random_state``.

Float sums (survey weights, fractional scores) are the documented exception: their
rounding depends on the engine's order of additions (tested to 1e-12 below).

The engine path never brings the input back to Python: a guard records every table
collected from Polars, DuckDB or Spark and fails if one is as large as the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hxmetrics.measures import JOB_MEASURES, ces, csat, hx_index, mean_score, nps
from hxmetrics.measures.clv import rfm_summary

from .conftest import SPARK_PANDAS_WARNING

duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (CI installs it)")
pl = pytest.importorskip("polars", reason="Polars is a test extra (CI installs it)")
pa = pytest.importorskip("pyarrow", reason="pyarrow is a core dependency")
nw = pytest.importorskip("narwhals", reason="narwhals is a core dependency")

ITEMS = ["hx1", "hx2", "hx3", "hx4"]


def _responses(seed: int = 11, n: int = 900) -> pd.DataFrame:
    """One row per answer: scores with missing values, text and integer groups with
    missing keys, a fractional score and survey weights."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "éast", "West", ""], n).astype(object)
    region[rng.random(n) < 0.05] = None
    band = pd.array(rng.integers(1, 5, n), dtype="Int64")
    band[rng.random(n) < 0.05] = pd.NA
    df = pd.DataFrame(
        {
            "ltr": rng.integers(0, 11, n).astype("float64"),
            "overall": pd.array(rng.integers(1, 6, n), dtype="Int64"),
            "effort": rng.integers(1, 8, n).astype("int64"),
            "x": rng.normal(3.0, 1.0, n).round(3),
            "region": pd.Series(region, dtype="str"),
            "band": band,
            "silo": pd.Series(rng.choice(["customers", "workers", "partners"], n), dtype="str"),
            "w": rng.uniform(0.2, 3.0, n),
        }
    )
    df.loc[rng.random(n) < 0.04, "ltr"] = np.nan
    df.loc[rng.random(n) < 0.04, "overall"] = pd.NA
    return df


def _answers(seed: int = 5, n_responses: int = 240) -> pd.DataFrame:
    """Long HX answers: a response per person visit, four core items, missing scores,
    a text group with a missing key (counted, not grouped)."""
    rng = np.random.default_rng(seed)
    person = rng.integers(0, 90, n_responses)
    team = np.array(["a", "b", "c"], dtype=object)[person % 3]
    latent = rng.normal(0, 1, n_responses)
    rows = []
    for r in range(n_responses):
        for item in ITEMS:
            score = float(np.clip(np.rint(3 + latent[r] + rng.normal(0, 0.7)), 1, 5))
            rows.append((f"r{r:04d}", f"p{person[r]:03d}", item, score, team[r]))
    df = pd.DataFrame(rows, columns=["response_id", "person_id", "item", "score", "team"])
    df.loc[rng.random(len(df)) < 0.03, "score"] = np.nan
    df.loc[df["person_id"] == "p007", "team"] = None
    return df.astype({"response_id": "str", "person_id": "str", "item": "str", "team": "str"})


def _wide(seed: int = 5) -> pd.DataFrame:
    """The same answers wide: one row per response, one column per item."""
    long = _answers(seed)
    wide = long.pivot(index=["response_id", "person_id", "team"], columns="item", values="score")
    return wide.reset_index().rename_axis(columns=None)


def _transactions(seed: int = 3, n: int = 1500) -> pd.DataFrame:
    """A transaction log: text ids, times to the second, amounts with up to three
    decimals (half cents and values just below a half cent in binary, e.g. 1.255)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:03d}" for i in range(120)] + ["Ä", "b"], dtype=object)
    seconds = rng.integers(0, 300 * 86_400, n)
    amount = rng.integers(0, 20_000, n) / 1000.0
    amount[:20] = [1.255, 0.125, 2.675, 0.005, 1.005, 10.115, 0.015, 3.335, 0.045, 1.115] * 2
    return pd.DataFrame(
        {
            "customer": pd.Series(rng.choice(ids, n), dtype="str"),
            "ts": pd.Timestamp("2023-03-01") + pd.to_timedelta(seconds, unit="s"),
            "amount": amount,
            "units": rng.integers(1, 9, n).astype("int64"),
        }
    )


Call = Callable[[Any], pd.DataFrame]

#: Every job measure with each method and option that changes the computation.
CALLS: dict[str, tuple[str, Call]] = {
    "nps_adjusted_wald": ("responses", lambda d: nps(d, "ltr", by=["region", "band"])),
    "nps_wald": ("responses", lambda d: nps(d, "ltr", by="band", method="wald")),
    "nps_bootstrap": (
        "responses",
        lambda d: nps(
            d, "ltr", by=["silo", "region"], method="bootstrap", random_state=7, n_resamples=300
        ),
    ),
    "nps_bayes": (
        "responses",
        lambda d: nps(d, "ltr", by="region", method="bayes", random_state=7, n_resamples=300),
    ),
    "nps_ungrouped_min_n": ("responses", lambda d: nps(d, "ltr", min_n=5)),
    "nps_suppressed": ("responses", lambda d: nps(d, "ltr", by=["region", "band"], min_n=40)),
    "csat_wilson": (
        "responses",
        lambda d: csat(d, "overall", scale=(1, 5), box=(4, 5), by=["band", "region"]),
    ),
    "csat_adjusted_wald": (
        "responses",
        lambda d: csat(d, "overall", scale=(1, 5), box=(5,), by="silo", method="adjusted_wald"),
    ),
    "csat_wald": (
        "responses",
        lambda d: csat(d, "overall", scale=(1, 5), box=(4, 5), by="region", method="wald"),
    ),
    "ces_mean_lower": (
        "responses",
        lambda d: ces(d, "effort", scale=(1, 7), polarity="lower_is_easier", by="region"),
    ),
    "ces_mean_higher": (
        "responses",
        lambda d: ces(d, "effort", scale=(1, 7), polarity="higher_is_easier", by="band"),
    ),
    "ces_share": (
        "responses",
        lambda d: ces(
            d, "effort", scale=(1, 7), polarity="higher_is_easier", statistic="share", by="silo"
        ),
    ),
    "mean_score": ("responses", lambda d: mean_score(d, "overall", by=["silo", "band"])),
    "mean_score_scale": (
        "responses",
        lambda d: mean_score(d, "ltr", by="region", scale=(0, 10), min_n=30),
    ),
    "hx_index": (
        "answers",
        lambda d: hx_index(
            d, ITEMS, by="team", person="person_id", n_resamples=200, random_state=3, min_n=5
        ),
    ),
    "hx_index_factor_geometric": (
        "answers",
        lambda d: hx_index(
            d,
            ITEMS,
            by="team",
            weighting="factor",
            aggregate="geometric",
            n_resamples=100,
            random_state=3,
            min_n=5,
        ),
    ),
    "hx_index_wide": (
        "wide",
        lambda d: hx_index(
            d, ITEMS, by="team", person="person_id", n_resamples=100, random_state=3, min_n=5
        ),
    ),
    "rfm_weeks": (
        "transactions",
        lambda d: rfm_summary(
            d, customer="customer", time="ts", amount="amount", observation_end="2023-12-01"
        ),
    ),
    "rfm_days_holdout": (
        "transactions",
        lambda d: rfm_summary(
            d,
            customer="customer",
            time="ts",
            amount="amount",
            observation_end="2023-12-20",
            calibration_end="2023-09-13 12:00",
            unit="D",
        ),
    ),
    "rfm_integer_amounts_months": (
        "transactions",
        lambda d: rfm_summary(
            d,
            customer="customer",
            time="ts",
            amount="units",
            observation_end="2023-12-31",
            calibration_end="2023-08-31",
            unit="M",
        ),
    ),
    "rfm_hours_no_amount": (
        "transactions",
        lambda d: rfm_summary(
            d, customer="customer", time="ts", observation_end="2023-11-01 06:00", unit="h"
        ),
    ),
}


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "responses": _responses(),
        "answers": _answers(),
        "wide": _wide(),
        "transactions": _transactions(),
    }


def _native(df: pd.DataFrame, engine: str, connection: Any = None) -> Any:
    if engine == "pandas":
        return df
    table = pa.Table.from_pandas(df, preserve_index=False)
    if engine == "polars":
        return pl.from_arrow(table)
    if engine == "polars_lazy":
        return pl.from_arrow(table).lazy()
    if engine == "duckdb":
        return (connection or duckdb.connect()).from_arrow(table)
    raise ValueError(engine)


def _same(got: pd.DataFrame, expected: pd.DataFrame, label: str) -> None:
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    except AssertionError as exc:
        raise AssertionError(f"{label}: {exc}") from None
    assert repr(got.attrs) == repr(expected.attrs), label


def test_every_job_measure_is_covered() -> None:
    names = {name.split("_")[0] for name in CALLS} | {"mean_score", "hx_index", "rfm_summary"}
    covered = {m for m in JOB_MEASURES if m.split("_")[0] in names}
    assert covered == set(JOB_MEASURES)


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_job_measures_are_bit_identical_on_each_engine(engine: str) -> None:
    tables = _tables()
    connection = duckdb.connect()
    expected = {name: call(tables[table]) for name, (table, call) in CALLS.items()}
    for name, (table, call) in CALLS.items():
        got = call(_native(tables[table], engine, connection))
        _same(got, expected[name], f"{name} on {engine}")


def test_group_columns_have_one_dtype_per_kind() -> None:
    df = _responses()
    out = nps(_native(df, "duckdb"), "ltr", by=["region", "band", "silo"])
    # Text keys are pandas' str; integer keys with a missing one are Int64; the
    # missing keys form groups of their own, sorted last.
    assert out["region"].dtype == pd.Series([], dtype="str").dtype
    assert out["band"].dtype == pd.Int64Dtype()
    assert out["region"].isna().any()
    assert out["band"].isna().any()
    complete = nps(_native(df.dropna(subset=["band"]), "polars_lazy"), "ltr", by="band")
    assert complete["band"].dtype == np.dtype("int64")
    assert complete["band"].tolist() == [1, 2, 3, 4]
    keys = list(zip(out["region"].fillna("\uffff"), out["band"].fillna(99), strict=True))
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)


def test_rfm_keeps_the_customer_id_in_cents() -> None:
    tx = _transactions()
    out = rfm_summary(
        _native(tx, "polars_lazy"),
        customer="customer",
        time="ts",
        amount="amount",
        observation_end="2023-12-01",
    )
    assert out.columns[0] == "customer"
    assert out["customer"].tolist() == sorted(tx["customer"].unique())
    assert out["customer"].dtype == pd.Series([], dtype="str").dtype
    # Amounts are whole cents, rounded half up from 100 x in double precision: the
    # mean of the repeat periods is (cents) / (100 * frequency), one rounding.
    kept = tx[tx["ts"] <= pd.Timestamp("2023-12-01")]
    cents = np.floor(kept["amount"].to_numpy() * 100 + 0.5).astype(np.int64)
    week = (kept["ts"] - pd.Timestamp("1900-01-01")).dt.days.to_numpy() // 7
    cells = (
        pd.DataFrame({"c": kept["customer"].to_numpy(), "p": week, "a": cents})
        .groupby(["c", "p"])["a"]
        .sum()
        .reset_index()
        .sort_values(["c", "p"])
    )
    first = cells.groupby("c")["a"].first()
    freq = cells.groupby("c").size() - 1
    total = cells.groupby("c")["a"].sum()
    expected = ((total - first) / (100 * freq)).where(freq > 0, 0.0)
    np.testing.assert_array_equal(out["monetary_value"].to_numpy(), expected.to_numpy())


def test_rfm_amounts_too_large_for_the_key_take_the_exact_window_path() -> None:
    # Amounts of billions in one period do not fit the low bits of the first-period
    # key: a second query finds the first period's amount by a window, as exactly.
    tx = pd.DataFrame(
        {
            "customer": pd.Series(["a", "a", "a", "b"], dtype="str"),
            "ts": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-01-22", "2024-01-03"]),
            "amount": [3e10, 2e10, 0.01, 7.5],
        }
    )
    kwargs = {
        "customer": "customer",
        "time": "ts",
        "amount": "amount",
        "observation_end": "2024-01-31",
        "unit": "W",
    }
    expected = rfm_summary(tx, **kwargs)
    # a: weeks 0 (3e10), 2 (2e10) and 3 (0.01): two repeat periods.
    assert expected.loc["a", "monetary_value"] == (2_000_000_000_000 + 1) / 200
    assert expected.loc["b", "monetary_value"] == 0.0
    for engine in ("polars_lazy", "duckdb"):
        _same(rfm_summary(_native(tx, engine), **kwargs), expected, engine)


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_rfm_errors_name_the_same_rows_on_each_engine(engine: str) -> None:
    # Rows with a missing id, time or amount (and amounts too large for exact sums)
    # are named by their row on every engine: the pandas label, on a lazy engine the
    # position numbered there (its first five, in order), never by an id.
    from hxmetrics.errors import InputTableError

    tx = _transactions()
    tx.loc[[1400, 7, 903, 12, 1201, 64], "customer"] = None
    tx.loc[[7, 333], "amount"] = np.nan
    tx.loc[1499, "ts"] = pd.NaT
    kwargs = {"customer": "customer", "time": "ts", "amount": "amount"}
    kwargs["observation_end"] = "2024-01-31"
    with pytest.raises(InputTableError) as want:
        rfm_summary(tx, **kwargs)
    with pytest.raises(InputTableError) as got:
        rfm_summary(_native(tx, engine), **kwargs)
    assert str(got.value) == str(want.value)
    assert "row 7: missing customer, amount; row 12: missing customer; row 64:" in str(got.value)
    pd.testing.assert_frame_equal(got.value.failure_cases, want.value.failure_cases)
    big = tx.dropna().reset_index(drop=True)
    big.loc[[900, 30], "amount"] = 1e300
    with pytest.raises(InputTableError) as want:
        rfm_summary(big, **kwargs)
    with pytest.raises(InputTableError) as got:
        rfm_summary(_native(big, engine), **kwargs)
    assert str(got.value) == str(want.value)
    assert "row 30: 1e+300; row 900: 1e+300" in str(got.value)


def test_float_sums_agree_to_rounding() -> None:
    # Survey weights and fractional scores are summed as floats: the order of the
    # additions differs between engines, so the results agree to rounding only
    # (1e-12 relative: a few units in the last place for sums of ~1,000 terms).
    df = _responses()
    calls = [
        lambda d: nps(d, "ltr", by="region", weights="w"),
        lambda d: csat(d, "overall", scale=(1, 5), box=(4, 5), by="band", weights="w"),
        lambda d: mean_score(d, "x", by="silo"),
        lambda d: mean_score(d, "overall", by="silo", weights="w"),
    ]
    for call in calls:
        expected = call(df)
        for engine in ("polars_lazy", "duckdb"):
            got = call(_native(df, engine))
            # Weights and fractional scores are float sums, added in the engine's order:
            # equal to rounding (the documented 1e-12), not bit for bit.
            pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


@pytest.mark.spark
# pyspark warns on import that it does not support pandas 3; only pyspark.sql is used.
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_job_measures_are_bit_identical_on_spark(spark: Any) -> None:
    # One test function: the JVM is shared, and each Spark query costs about a second.
    from pyspark.sql import functions as F

    tables = _tables()
    natives = {
        name: spark.createDataFrame(pa.Table.from_pandas(df, preserve_index=False))
        for name, df in tables.items()
    }
    # Naive times as Spark's naive timestamps (a pandas datetime arrives as Spark's
    # zoned TIMESTAMP, which rfm_summary reads, rightly, as times in a zone).
    natives["transactions"] = natives["transactions"].withColumn(
        "ts", F.col("ts").cast("timestamp_ntz")
    )
    for name, (table, call) in CALLS.items():
        _same(call(natives[table]), call(tables[table]), f"{name} on spark")


# ------------------------------------------------------------- no materialisation


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, tuple[str, ...]]]:
    """Height and columns of every table collected from a lazy engine frame, via
    narwhals or Polars itself (``LazyFrame.collect``, ``DataFrame.to_pandas``)."""
    seen: list[tuple[int, tuple[str, ...]]] = []
    nw_collect = nw.LazyFrame.collect

    def nw_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = nw_collect(self, *args, **kwargs)
        seen.append((len(out), tuple(out.columns)))
        return out

    pl_collect = pl.LazyFrame.collect

    def pl_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = pl_collect(self, *args, **kwargs)
        seen.append((out.height, tuple(out.columns)))
        return out

    pl_to_pandas = pl.DataFrame.to_pandas

    def pl_pandas_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((self.height, tuple(self.columns)))
        return pl_to_pandas(self, *args, **kwargs)

    monkeypatch.setattr(nw.LazyFrame, "collect", nw_wrapper)
    monkeypatch.setattr(pl.LazyFrame, "collect", pl_wrapper)
    monkeypatch.setattr(pl.DataFrame, "to_pandas", pl_pandas_wrapper)
    return seen


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_the_engine_path_collects_only_aggregates(
    engine: str, collected: list[tuple[int, tuple[str, ...]]]
) -> None:
    tables = _tables()
    for name, (table, call) in CALLS.items():
        if name == "hx_index_factor_geometric":
            # Without a person column each response is its own person: the index's
            # per-person statistics (what its bootstrap resamples) have one row per
            # answer, by design. With persons (the other calls) they are smaller.
            continue
        collected.clear()
        call(_native(tables[table], engine))
        assert collected, f"{name}: nothing was collected (the guard saw no query)"
        # The largest aggregate here is one row per (group, person, item) of the HX
        # index (< 1/2 of its answers) or one per customer (< 1/10 of the log).
        answers = len(tables[table]) * (len(ITEMS) if table == "wide" else 1)
        assert max(h for h, _ in collected) < answers / 2, (name, engine, collected)
        # And no table with the input's columns (a wide table is smaller than its
        # aggregates, so its height alone would not tell).
        inputs = set(tables[table].columns)
        assert not [cols for _, cols in collected if inputs <= set(cols)], (name, engine)


def test_the_guard_sees_a_materialised_input(
    collected: list[tuple[int, tuple[str, ...]]],
) -> None:
    # The guard itself: collecting the whole input is seen.
    df = _responses()
    nw.from_native(_native(df, "polars_lazy")).collect()
    nw.from_native(_native(df, "duckdb")).collect()
    assert [h for h, _ in collected].count(len(df)) >= 2
    assert all(set(df.columns) <= set(cols) for _, cols in collected)
