"""Trends (issue 15, item 5): a measure per period and its period-over-period change.

The change's test is checked against the package's own two-sample tests on the same two
periods (``nps_test`` for NPS, ``compare_groups`` for every measure), the adjustment
against ``holm``/``benjamini_hochberg``; empty and suppressed periods, bad input and the
invariants (row order, unit weights) have their own tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._inference import benjamini_hochberg, holm
from hxmetrics.measures._result import is_result
from hxmetrics.measures.nps import nps, nps_test
from hxmetrics.measures.satisfaction import ces, csat, mean_score
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.trends import plot_trend, trend
from hxmetrics.plotting import new_figure

CHANGE = ["change", "change_se", "change_statistic", "change_p_value", "change_p_adjusted"]


def _answers(
    months: list[str],
    sizes: list[int],
    *,
    high: int = 10,
    low: int = 0,
    seed: int = 0,
    shift: float = 0.0,
) -> pd.DataFrame:
    """Answers on ``low..high`` in the given months (``sizes`` each), with a team column."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (month, size) in enumerate(zip(months, sizes, strict=True)):
        start = pd.Timestamp(f"{month}-01")
        days = rng.integers(0, 28, size)
        # Later months lean higher when shift > 0 (so that changes can be significant).
        probs = np.linspace(1.0, 1.0 + shift * k, high - low + 1)
        scores = rng.choice(np.arange(low, high + 1), size=size, p=probs / probs.sum())
        parts.append(
            pd.DataFrame(
                {
                    "score": scores.astype(float),
                    "timestamp": start + pd.to_timedelta(days, "D"),
                    "team": rng.choice(["a", "b"], size),
                    "w": 1.0,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------
# The change's test is the package's two-sample test
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["adjusted_wald", "wald"])
def test_nps_change_is_nps_test_on_the_two_periods(method: str) -> None:
    df = _answers(["2025-01", "2025-02"], [60, 75], seed=1, shift=0.2)
    t = trend(df, "nps", method=method)
    feb = df["timestamp"] >= "2025-02-01"
    # nps_test(a=this period, b=the previous one): difference = a - b.
    ref = nps_test(df.loc[feb, "score"], df.loc[~feb, "score"], method=method).iloc[0]
    row = t.iloc[1]
    # The same arithmetic on the same shares (counts / n): exactly the same numbers.
    assert row["change_p_value"] == ref["p_value"]
    assert row["change_statistic"] == ref["statistic"]
    assert row["change_se"] == ref["se"]
    # The difference of the two estimates (100 r each) vs 100 (r_a - r_b): rounding only.
    assert row["change"] == pytest.approx(ref["difference"], rel=1e-13, abs=1e-12)
    assert np.isnan(t.iloc[0]["change_p_value"])


def test_nps_wald_change_is_compare_groups_too() -> None:
    df = _answers(["2025-01", "2025-02"], [80, 70], seed=2, shift=0.3)
    t = trend(df, "nps", method="wald")
    by_month = nps(
        df.assign(period=df["timestamp"].dt.to_period("M")), "score", by="period", method="wald"
    )
    ref = compare_groups(by_month).iloc[0]  # a = January, b = February: a - b
    assert t.iloc[1]["change_p_value"] == pytest.approx(ref["p_value"], rel=1e-12)
    assert t.iloc[1]["change_statistic"] == pytest.approx(-ref["statistic"], rel=1e-12)
    assert t.iloc[1]["change_se"] == pytest.approx(ref["se"], rel=1e-12)


@pytest.mark.parametrize(
    ("measure", "options", "function", "low", "high"),
    [
        ("csat", {"scale": (1, 5), "box": (4, 5)}, csat, 1, 5),
        ("csat", {"scale": (1, 5), "box": (4, 5), "method": "adjusted_wald"}, csat, 1, 5),
        ("mean_score", {}, mean_score, 1, 5),
        ("ces", {"scale": (1, 7), "polarity": "higher_is_easier"}, ces, 1, 7),
        ("nps", {"method": "bootstrap", "random_state": 3, "n_resamples": 500}, nps, 0, 10),
    ],
)
def test_change_is_compare_groups_on_the_two_periods(
    measure: str, options: dict, function, low: int, high: int
) -> None:
    df = _answers(["2025-03", "2025-04"], [50, 64], low=low, high=high, seed=4, shift=0.4)
    t = trend(df, measure, **options)
    by_month = function(
        df.assign(period=df["timestamp"].dt.to_period("M")), "score", by="period", **options
    )
    ref = compare_groups(by_month).iloc[0]
    row = t.iloc[1]
    # compare_groups' difference is January minus February; ours February minus January.
    assert row["change"] == pytest.approx(-ref["difference"], rel=1e-12)
    assert row["change_se"] == pytest.approx(ref["se"], rel=1e-12)
    assert row["change_statistic"] == pytest.approx(-ref["statistic"], rel=1e-12)
    assert row["change_p_value"] == pytest.approx(ref["p_value"], rel=1e-12)
    if measure in ("mean_score", "ces"):  # Welch t: the same degrees of freedom
        assert row["change_df"] == pytest.approx(ref["df"], rel=1e-12)
    else:
        assert np.isnan(row["change_df"])


@pytest.mark.parametrize(("adjust", "function"), [("holm", holm), ("bh", benjamini_hochberg)])
def test_adjustment_over_every_change_of_the_table(adjust: str, function) -> None:
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    df = _answers(months, [90, 80, 85, 95, 70], seed=5, shift=0.3)
    t = trend(df, "nps", by="team", adjust=adjust)
    p = t["change_p_value"].to_numpy()
    np.testing.assert_array_equal(t["change_p_adjusted"].to_numpy(), function(p))
    assert np.isfinite(p).sum() == 8  # 4 changes per team, none across teams
    flags = t["change_significant"]
    assert str(flags.dtype) == "boolean"
    assert (flags.isna().to_numpy() == np.isnan(p)).all()
    shown = flags.notna().to_numpy()
    assert (flags[shown].to_numpy(bool) == (t["change_p_adjusted"][shown] < 0.05)).all()
    none = trend(df, "nps", by="team", adjust="none")
    np.testing.assert_array_equal(none["change_p_adjusted"], none["change_p_value"])


def test_a_planted_change_is_significant_and_no_change_is_not() -> None:
    rng = np.random.default_rng(8)
    size = 400
    rows = []
    for month, promoter in (("2025-01", 0.3), ("2025-02", 0.3), ("2025-03", 0.55)):
        cat = rng.choice([10, 8, 3], size=size, p=[promoter, 0.4, 0.6 - promoter])
        rows.append(pd.DataFrame({"score": cat, "timestamp": pd.Timestamp(f"{month}-10")}))
    t = trend(pd.concat(rows), "nps")
    # +50 points on n = 400 per month (se of the change ~ 6 points): z ~ 8.
    assert t["change_significant"].tolist()[1:] == [False, True]


# ---------------------------------------------------------------------------
# Periods: empty, suppressed, the table's shape
# ---------------------------------------------------------------------------


def test_empty_periods_are_rows_with_n_zero() -> None:
    df = _answers(["2025-01", "2025-04"], [40, 30], seed=6)
    t = trend(df, "nps", by="team")
    assert t["period"].astype(str).tolist() == ["2025-01", "2025-02", "2025-03", "2025-04"] * 2
    empty = t["period"].astype(str).isin(["2025-02", "2025-03"]).to_numpy()
    assert (t.loc[empty, "n"] == 0).all()
    assert (t.loc[empty, ["promoters", "passives", "detractors", "n_excluded_missing"]] == 0).all(
        axis=None
    )
    assert t.loc[empty, ["estimate", "se", "ci_low", "ci_high"]].isna().all(axis=None)
    assert not t["suppressed"].any()
    # No change across the gap: April is not compared with January.
    assert t[CHANGE].isna().all(axis=None)
    assert t.attrs["hxmetrics"]["trend"]["n_empty"] == 4
    assert is_result(t)


def test_suppressed_periods_show_no_estimate_and_take_part_in_no_change() -> None:
    months = ["2025-01", "2025-02", "2025-03", "2025-04"]
    df = _answers(months, [50, 3, 60, 55], seed=7)
    full = trend(df, "nps")
    t = trend(df, "nps", min_n=5)
    hidden = t["suppressed"].to_numpy()
    assert hidden[1]  # February: 3 answers
    assert hidden.sum() >= 2  # and a complement (total minus the rest)
    numbers = ["n", "estimate", "se", "ci_low", "ci_high", *CHANGE, "promoters"]
    assert t.loc[hidden, numbers].isna().all(axis=None)
    assert t.loc[hidden, "change_significant"].isna().all()
    # A change that involves a hidden period is hidden too (the one after it).
    after = np.flatnonzero(hidden) + 1
    after = after[after < len(t)]
    assert t.loc[after, CHANGE].isna().all(axis=None)
    # Hidden changes leave the family: the adjustment runs over the shown p-values only
    # (with the hidden ones in it, the shown adjusted p-values would depend on them).
    np.testing.assert_array_equal(t["change_p_adjusted"], holm(t["change_p_value"]))
    # What is shown is the true figure.
    shown = ~hidden
    pd.testing.assert_frame_equal(
        t.loc[shown, ["n", "estimate", "se"]], full.loc[shown, ["n", "estimate", "se"]]
    )


def test_columns_follow_the_result_protocol() -> None:
    df = _answers(["2025-01", "2025-02", "2025-03"], [30, 30, 30], seed=9)
    t = trend(df, "csat", scale=(0, 10), box=(9, 10), by="team", min_n=5)
    cols = list(t.columns)
    assert cols[:5] == ["measure", "team", "period", "n", "estimate"]
    assert cols[-2:] == ["n_excluded_missing", "suppressed"]
    assert cols.index("change") > cols.index("in_box")
    assert str(t["n"].dtype) == "Int64"
    assert isinstance(t["period"].dtype, pd.PeriodDtype)
    meta = t.attrs["hxmetrics"]
    assert meta["by"] == ["team", "period"]
    assert meta["trend"]["test"] == "z"
    assert meta["trend"]["adjust"] == "holm"
    assert meta["excluded"]["missing_timestamp"] == 0
    assert isinstance(t.index, pd.RangeIndex)


def test_periods_of_other_lengths_and_zoned_times() -> None:
    df = _answers(["2025-01", "2025-02", "2025-05"], [20, 20, 20], seed=10)
    assert len(trend(df, "nps", period="Q")) == 2
    assert len(trend(df, "nps", period="W")) > 10
    zoned = df.assign(timestamp=df["timestamp"].dt.tz_localize("Europe/Berlin"))
    # Zoned times keep their wall-clock date: the same periods as the naive times.
    pd.testing.assert_frame_equal(trend(zoned, "nps"), trend(df, "nps"))


def test_rows_without_a_timestamp_are_counted() -> None:
    df = _answers(["2025-01", "2025-02"], [20, 20], seed=11)
    df.loc[[0, 5, 30], "timestamp"] = pd.NaT
    t = trend(df, "nps")
    assert t.attrs["hxmetrics"]["excluded"]["missing_timestamp"] == 3
    assert int(t["n"].sum()) == 37


def test_polars_input_gives_the_pandas_result() -> None:
    # Why: polars is an optional engine, a test extra that CI installs.
    pl = pytest.importorskip("polars")
    df = _answers(["2025-01", "2025-02", "2025-03"], [30, 25, 35], seed=12)
    pd.testing.assert_frame_equal(
        trend(pl.from_pandas(df), "nps", by="team"), trend(df, "nps", by="team")
    )


def test_plot_trend_returns_the_axes() -> None:
    df = _answers(["2025-01", "2025-02", "2025-03"], [30, 25, 35], seed=13)
    _fig, ax = new_figure(5, 3)
    assert plot_trend(trend(df, "nps", by="team"), ax=ax) is ax
    assert len(ax.lines) == 2
    with pytest.raises(ParameterError, match="result of trend"):
        plot_trend(pd.DataFrame({"a": [1]}), ax=ax)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_bad_input_gets_named_errors() -> None:
    df = _answers(["2025-01", "2025-02"], [20, 20], seed=14)
    with pytest.raises(ParameterError, match="Did you mean 'nps'"):
        trend(df, "npss")
    with pytest.raises(ParameterError, match="takes no option"):
        trend(df, "nps", scale=(0, 10))
    with pytest.raises(ParameterError, match=r"needs box=\.\.\., scale=\.\.\."):
        trend(df, "csat")
    with pytest.raises(ParameterError, match="not a period pandas knows"):
        trend(df, "nps", period="fortnight")
    with pytest.raises(ParameterError, match="not a period pandas knows"):
        trend(df, "nps", period="ME")
    with pytest.raises(ParameterError, match="one calendar unit"):
        trend(df, "nps", period="2M")
    with pytest.raises(ParameterError, match="must not name 'period'"):
        trend(df, "nps", by="period")
    with pytest.raises(ParameterError, match="adjust must be one of"):
        trend(df, "nps", adjust="bonferroni")
    with pytest.raises(InputTableError, match="columns were not found") as missing:
        trend(df.drop(columns="timestamp"), "nps")
    assert missing.value.table == "data"
    with pytest.raises(InputTableError, match="must hold datetimes") as text:
        trend(df.assign(timestamp=df["timestamp"].astype(str)), "nps")
    assert text.value.failure_cases["check"].tolist() == ["datetime"]
    with pytest.raises(InputTableError, match="at least two periods"):
        trend(df, "nps", period="Y")
    with pytest.raises(InputTableError, match="no row has"):
        trend(df.assign(timestamp=pd.NaT), "nps")


# ---------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------

BASE = _answers(["2025-01", "2025-02", "2025-03", "2025-04"], [25, 30, 20, 35], seed=15)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), measure=st.sampled_from(["nps", "mean_score"]))
def test_row_order_does_not_matter(seed: int, measure: str) -> None:
    shuffled = BASE.sample(frac=1.0, random_state=np.random.default_rng(seed))
    pd.testing.assert_frame_equal(
        trend(shuffled, measure, by="team", min_n=5), trend(BASE, measure, by="team", min_n=5)
    )


@settings(max_examples=10, deadline=None)
@given(
    measure=st.sampled_from(["nps", "nps_wald", "csat", "mean_score"]),
    cut=st.integers(0, len(BASE)),
)
def test_weights_of_one_equal_no_weights(measure: str, cut: int) -> None:
    options: dict = {
        "nps": {},
        "nps_wald": {"method": "wald"},
        "csat": {"scale": (0, 10), "box": (9, 10)},
        "mean_score": {},
    }[measure]
    name = "nps" if measure.startswith("nps") else measure
    data = BASE.iloc[cut:].reset_index(drop=True) if cut < len(BASE) - 40 else BASE
    weighted = trend(data, name, weights="w", by="team", **options)
    plain = trend(data, name, by="team", **options)
    columns = ["n", "estimate", "se", "ci_low", "ci_high", *CHANGE]
    # Unit weights reach the same numbers through the weighted formulas (linearised
    # variance, effective n): equal up to floating-point rounding.
    pd.testing.assert_frame_equal(weighted[columns], plain[columns], check_exact=False, rtol=1e-10)
    assert weighted["change_significant"].equals(plain["change_significant"])


def test_weighted_nps_change_uses_the_intervals_effective_n() -> None:
    # With weights, nps_test's variance (p + d - (p - d)²)/n uses the interval's
    # effective n = per-answer variance / linearised variance, so the Wald change test
    # is compare_groups' on the weighted Wald results (se² = linearised variance).
    df = _answers(["2025-01", "2025-02"], [70, 90], seed=16, shift=0.3)
    df["w"] = np.random.default_rng(16).uniform(0.3, 3.0, len(df))
    t = trend(df, "nps", weights="w", method="wald")
    by_month = nps(
        df.assign(period=df["timestamp"].dt.to_period("M")),
        "score",
        by="period",
        weights="w",
        method="wald",
    )
    ref = compare_groups(by_month).iloc[0]
    assert t.iloc[1]["change_se"] == pytest.approx(ref["se"], rel=1e-12)
    assert t.iloc[1]["change_p_value"] == pytest.approx(ref["p_value"], rel=1e-10)
