"""One protocol for every grouped measure (issue 11), tested once over all of them.

Like scikit-learn's ``metrics/tests/test_common.py``: :data:`CASES` lists every grouped
measure of :mod:`hxmetrics.measures` with a small table for it, and each test below
runs over all of them: the columns and their order, one dtype per column (with or
without ``min_n``), ``attrs["hxmetrics"]``, suppression, :func:`compare_groups`,
:func:`plot_estimates`, the merge of partial statistics (where the measure has them),
and the same result on every engine (pandas, Polars eager and lazy, DuckDB, PyArrow;
Spark when pyspark and Java are there). A new grouped measure is one more case.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import HxWarning
from hxmetrics.measures._engine import merge_partials
from hxmetrics.measures._result import PROTOCOL_COLUMNS, is_result, result_meta
from hxmetrics.measures.index import hx_index
from hxmetrics.measures.registry import MEASURES
from hxmetrics.measures.segments import compare_groups
from hxmetrics.plotting import new_figure, plot_estimates

from .conftest import ENGINES, SPARK_PANDAS_WARNING, to_engine

# ``hxmetrics.measures`` exports functions named like these modules.
reliability = importlib.import_module("hxmetrics.measures.reliability")
tenure = importlib.import_module("hxmetrics.measures.tenure")

#: Group sizes: "tiny" is below MIN_N; complementary suppression hides the smallest
#: other group ("east"); "north" and "south" stay shown, so there is a pair to compare.
SIZES = {"east": 30, "north": 40, "south": 35, "tiny": 3}
MIN_N = 5
BY = ("segment",)
ITEMS = ["hx1", "hx2", "hx3", "hx4"]


@dataclass(frozen=True)
class Case:
    """A grouped measure as the shared tests run it.

    ``compute(data, min_n=...)`` gives the result grouped by ``by``; ``data()`` the
    pandas table it takes. With ``statistics``/``finish``, ``finish(statistics(part)
    merged, min_n=...)`` equals ``compute`` on the whole.
    """

    name: str
    compute: Callable[..., pd.DataFrame]
    data: Callable[[], pd.DataFrame]
    by: tuple[str, ...] = BY
    statistics: Callable[[Any], pd.DataFrame] | None = None
    finish: Callable[..., pd.DataFrame] | None = None
    #: Rows of one unit that a piece must not split (a response's answers in long data).
    rows_per_unit: int = 1


@cache
def _scores(values: tuple[float, ...]) -> pd.DataFrame:
    """One answer per row: ``score`` drawn from ``values``, a few missing, ``segment``."""
    rng = np.random.default_rng(11)
    segments = np.repeat(list(SIZES), list(SIZES.values()))
    scores = rng.choice(np.asarray(values), size=len(segments))
    frame = pd.DataFrame({"segment": segments, "score": scores.astype(float)})
    # Missing answers in a shown group and in the hidden one (n_excluded_missing).
    frame.loc[[0, 40, 41, len(frame) - 1], "score"] = np.nan
    return frame


@cache
def _long_items() -> pd.DataFrame:
    """Long answers (response, item, score) of four correlated 1-5 items."""
    rng = np.random.default_rng(3)
    rows = []
    rid = 0
    for segment, size in SIZES.items():
        for _ in range(size):
            rid += 1
            latent = rng.normal()
            for item in ITEMS:
                value = float(np.clip(np.round(3 + latent + rng.normal(scale=0.6)), 1, 5))
                rows.append((f"R{rid:04d}", segment, item, value))
    frame = pd.DataFrame(rows, columns=["response_id", "segment", "item", "score"])
    return frame


@cache
def _episodes() -> pd.DataFrame:
    """Worker episodes with a segment; some ended, some still open."""
    rng = np.random.default_rng(5)
    rows = []
    for segment, size in SIZES.items():
        for i in range(size):
            start = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
            ended = rng.random() < 0.7
            end = start + pd.Timedelta(days=int(rng.integers(30, 900))) if ended else pd.NaT
            rows.append((f"{segment}{i}", "worker", "full_time", start, end, segment))
            if ended and rng.random() < 0.3:  # some come back
                back = end + pd.Timedelta(days=int(rng.integers(30, 200)))
                rows.append((f"{segment}{i}", "worker", "full_time", back, pd.NaT, segment))
    return pd.DataFrame(
        rows, columns=["person_id", "role", "engagement", "start", "end", "segment"]
    )


def _registered(name: str) -> Case:
    measure = MEASURES[name]

    def compute(data: Any, *, min_n: int | None) -> pd.DataFrame:
        return measure.function(data, "score", by=list(BY), min_n=min_n)

    def statistics(data: Any) -> pd.DataFrame:
        return measure.statistics(data, "score", by=list(BY))

    def finish(stats: pd.DataFrame, *, min_n: int | None) -> pd.DataFrame:
        return measure.finish(stats, min_n=min_n)

    return Case(
        name, compute, lambda: _scores(measure.values), statistics=statistics, finish=finish
    )


def _hx_index(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return hx_index(data, ITEMS, by="segment", n_resamples=200, random_state=1, min_n=min_n)


def _alpha(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return reliability.cronbach_alpha(data, items=ITEMS, by="segment", min_n=min_n)


def _omega(data: Any, *, min_n: int | None) -> pd.DataFrame:
    if min_n is None:
        with pytest.warns(HxWarning, match="segment='tiny': no estimate"):
            return reliability.mcdonald_omega(data, items=ITEMS, by="segment", min_n=min_n)
    return reliability.mcdonald_omega(data, items=ITEMS, by="segment", min_n=min_n)


def _alpha_statistics(data: Any) -> pd.DataFrame:
    return reliability.cronbach_alpha_statistics(data, items=ITEMS, by="segment")


def _alpha_finish(stats: pd.DataFrame, *, min_n: int | None) -> pd.DataFrame:
    return reliability.cronbach_alpha_from_statistics(stats, items=ITEMS, min_n=min_n)


def _omega_statistics(data: Any) -> pd.DataFrame:
    return reliability.mcdonald_omega_statistics(data, items=ITEMS, by="segment")


def _omega_finish(stats: pd.DataFrame, *, min_n: int | None) -> pd.DataFrame:
    if min_n is None:
        with pytest.warns(HxWarning, match="segment='tiny': no estimate"):
            return reliability.mcdonald_omega_from_statistics(stats, items=ITEMS, min_n=min_n)
    return reliability.mcdonald_omega_from_statistics(stats, items=ITEMS, min_n=min_n)


def _reliability(data: Any, *, min_n: int | None) -> pd.DataFrame:
    if min_n is None:
        # Shown, the tiny group (3 people, 4 items) has no omega, and says so.
        with pytest.warns(HxWarning, match="segment='tiny': no estimate"):
            return reliability.reliability(data, items=ITEMS, by="segment", min_n=min_n)
    return reliability.reliability(data, items=ITEMS, by="segment", min_n=min_n)


def _median_tenure(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return tenure.median_tenure(data, as_of="2022-06-30", by="segment", min_n=min_n)


def _boomerang(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return tenure.boomerang_summary(data, as_of="2022-06-30", by="segment", min_n=min_n)


#: Every grouped measure of the package. Adding a measure: add its case here.
CASES: list[Case] = [
    *(_registered(name) for name in sorted(MEASURES)),
    Case("hx_index", _hx_index, _long_items),
    Case(
        "cronbach_alpha",
        _alpha,
        _long_items,
        statistics=_alpha_statistics,
        finish=_alpha_finish,
        rows_per_unit=len(ITEMS),
    ),
    Case(
        "mcdonald_omega",
        _omega,
        _long_items,
        statistics=_omega_statistics,
        finish=_omega_finish,
        rows_per_unit=len(ITEMS),
    ),
    Case("reliability", _reliability, _long_items, by=("segment", "scale")),
    Case("median_tenure", _median_tenure, _episodes),
    Case("boomerang_summary", _boomerang, _episodes),
]
IDS = [case.name for case in CASES]


def _float_columns(result: pd.DataFrame) -> list[str]:
    return ["estimate", "se", "ci_low", "ci_high"]


def _count_columns(result: pd.DataFrame) -> list[str]:
    return ["n", *(c for c in result.columns if c.startswith("n_excluded_"))]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_columns_order_and_dtypes(case: Case) -> None:
    # Found (issue 11): estimate columns named nps/csat/ces/mean/hx_index/survival;
    # n int64 without min_n and Int64 with it; exclusions in three shapes.
    for min_n in (None, MIN_N):
        result = case.compute(case.data(), min_n=min_n)
        assert is_result(result)
        by = list(case.by)
        columns = list(result.columns)
        assert columns[: 2 + len(by)] == ["measure", *by, "n"]
        assert columns[1 + len(by) : 6 + len(by)] == ["n", "estimate", "se", "ci_low", "ci_high"]
        assert columns[-1] == "suppressed"
        excluded = [c for c in columns if c.startswith("n_excluded_")]
        assert columns[-1 - len(excluded) : -1] == excluded  # together, before suppressed
        assert len(set(columns)) == len(columns)
        assert isinstance(result.index, pd.RangeIndex)
        assert isinstance(result["measure"].dtype, pd.StringDtype)
        for column in _count_columns(result):
            assert str(result[column].dtype) == "Int64", column
        for column in _float_columns(result):
            assert result[column].dtype == np.float64, column
        assert result["suppressed"].dtype == bool
        shares = [c for c in columns if c.startswith("pct_")]
        for column in shares:  # percentages, not 0-1 shares
            values = result[column].dropna().to_numpy(dtype=float)
            assert np.all((values >= 0) & (values <= 100))
    unsuppressed = case.compute(case.data(), min_n=None)
    suppressed = case.compute(case.data(), min_n=MIN_N)
    # One dtype per column, whatever min_n.
    pd.testing.assert_series_equal(unsuppressed.dtypes, suppressed.dtypes)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_attrs(case: Case) -> None:
    result = case.compute(case.data(), min_n=MIN_N)
    meta = result_meta(result)
    assert meta is not None
    assert meta["estimate"] == "estimate"
    assert meta["by"] == list(case.by)
    assert meta["confidence"] == 0.95
    assert meta["min_n"] == MIN_N
    assert "method" in meta
    names = set(result["measure"].astype(str))
    assert names == {meta["measure"]} or names <= set(meta.get("measures", ()))
    excluded = meta["excluded"]
    assert all(isinstance(v, int) for v in excluded.values())
    shown = result[~result["suppressed"]]
    for column in (c for c in result.columns if c.startswith("n_excluded_")):
        reason = column.removeprefix("n_excluded_")
        # Totals of the groups shown only: a hidden group's count must not follow.
        assert excluded[reason] == int(shown[column].sum()), reason
    if "bounds" in meta:
        lo, hi = meta["bounds"]
        estimates = shown["estimate"].dropna().to_numpy(dtype=float)
        assert np.all((estimates >= lo - 1e-9) & (estimates <= hi + 1e-9))
    # Rows come sorted by their groups.
    keys = result[list(case.by)].astype(str).apply(tuple, axis=1).tolist()
    assert keys == sorted(keys)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_suppression(case: Case) -> None:
    # Found (issue 11): suppression differed by measure (complement or not, n kept
    # or not, a note, nothing). Now one layer, the same for every measure.
    data = case.data()
    full = case.compute(data, min_n=None)
    result = case.compute(data, min_n=MIN_N)
    assert not full["suppressed"].any()
    hidden = result["suppressed"].to_numpy()
    by = list(case.by)
    small = full["n"].to_numpy(dtype=float) < MIN_N
    assert small.any()
    assert hidden[small].all()
    assert hidden.sum() > small.sum()  # a complement too: "total minus the rest"
    assert not hidden.all()
    numbers = [
        c
        for c in result.columns
        if c not in (*by, "measure", "suppressed")
        and pd.api.types.is_numeric_dtype(result[c].dtype)
        and not pd.api.types.is_bool_dtype(result[c].dtype)
    ]
    assert {"n", "estimate", "se", "ci_low", "ci_high"} <= set(numbers)
    assert result.loc[hidden, numbers].isna().all().all()
    # What is shown is the true figure.
    pd.testing.assert_frame_equal(
        result.loc[~hidden, numbers].reset_index(drop=True),
        full.loc[~hidden, numbers].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(result[by], full[by])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compare_groups(case: Case) -> None:
    # Found (issue 11): compare_groups(hx_index(...)) raised.
    result = case.compute(case.data(), min_n=MIN_N)
    compared = compare_groups(result)
    shown = result.loc[~result["suppressed"], list(case.by)].astype(str)
    labels = set(shown.apply(tuple, axis=1))
    by = list(case.by)
    for side in (by, [f"{c}_other" for c in by]):
        assert set(compared[side].astype(str).apply(tuple, axis=1)) <= labels
    usable = result.loc[~result["suppressed"] & np.isfinite(result["se"].astype(float))]
    pairs = usable.groupby("measure").size()
    expected = int((pairs * (pairs - 1) // 2).sum())
    assert len(compared) == expected
    if "measure" in compared.columns:  # several measures: each compared within itself
        assert set(compared["measure"]) <= set(result["measure"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_plot_estimates(case: Case) -> None:
    # Found (issue 11): plot_estimates(nps_result) failed.
    result = case.compute(case.data(), min_n=MIN_N)
    _fig, ax = new_figure(5, 3)
    assert plot_estimates(result, ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    expected = result[list(case.by)].astype(str).agg(" · ".join, axis=1)
    assert labels == list(dict.fromkeys(expected))
    assert ax.get_xlabel() == result.attrs["hxmetrics"]["measure"]
    assert "suppressed" in [t.get_text() for t in ax.texts]


MERGEABLE = [case for case in CASES if case.statistics is not None]


@pytest.mark.parametrize("case", MERGEABLE, ids=[c.name for c in MERGEABLE])
def test_merge_of_partials(case: Case) -> None:
    assert case.statistics is not None
    assert case.finish is not None
    data = case.data()
    k = case.rows_per_unit
    pieces = [data.iloc[: 17 * k], data.iloc[17 * k : 17 * k], data.iloc[17 * k : 60 * k]]
    pieces.append(data.iloc[60 * k :])
    parts = [case.statistics(piece) for piece in pieces]
    for min_n in (None, MIN_N):
        merged = case.finish(merge_partials(parts, by=list(case.by)), min_n=min_n)
        whole = case.compute(data, min_n=min_n)
        pd.testing.assert_frame_equal(merged, whole, check_exact=False, rtol=1e-12)
        assert merged.attrs == whole.attrs


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_engine_gives_the_pandas_result(case: Case, engine_name: str) -> None:
    # An engine is a test extra; without it the case cannot run (CI installs every one).
    pytest.importorskip("polars" if engine_name.startswith("polars") else engine_name)
    data = case.data()
    expected = case.compute(data, min_n=MIN_N)
    got = case.compute(to_engine(data, engine_name), min_n=MIN_N)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert got.attrs == expected.attrs


@pytest.mark.spark
# pyspark's own notice that it does not fully support pandas 3 (see conftest).
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_measure_on_spark(spark: Any, case: Case) -> None:
    # The session fixture starts the JVM once for all cases (see test_spark.py).
    data = case.data()
    expected = case.compute(data, min_n=MIN_N)
    got = case.compute(spark.createDataFrame(data), min_n=MIN_N)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert got.attrs == expected.attrs


def test_every_grouped_measure_is_a_case() -> None:
    # The protocol columns are the builder's; a grouped measure not listed here would
    # escape every test above.
    assert PROTOCOL_COLUMNS[:2] == ("measure", "n")
    names = {case.name for case in CASES}
    assert set(MEASURES) <= names
    assert {"hx_index", "cronbach_alpha", "mcdonald_omega", "reliability"} <= names
    assert {"median_tenure", "boomerang_summary"} <= names
