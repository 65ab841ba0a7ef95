"""CSAT, CES and item means: published values, weights, inputs, engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.satisfaction import ces, csat, mean_score

SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]


def _csat_table(hits: int, n: int) -> pd.DataFrame:
    return pd.DataFrame({"overall": [5] * hits + [2] * (n - hits)})


@pytest.mark.parametrize(
    ("hits", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17, Table I, Wilson score interval.
        (81, 263, 25.53, 36.62),
        (15, 148, 6.24, 16.05),
        (0, 20, 0.0, 16.11),
        (1, 29, 0.61, 17.18),
    ],
)
def test_csat_wilson_reproduces_newcombe(hits, n, low, high) -> None:
    r = csat(_csat_table(hits, n), "overall", scale=(1, 5), box=(4, 5)).iloc[0]
    assert r["estimate"] == pytest.approx(100 * hits / n)
    # Newcombe prints proportions to 4 decimals: half a unit is 0.005 percentage points.
    assert r["ci_low"] == pytest.approx(low, abs=0.005)
    assert r["ci_high"] == pytest.approx(high, abs=0.005)
    assert r["in_box"] == hits


def test_csat_wald_and_adjusted_wald() -> None:
    data = _csat_table(81, 263)
    # Newcombe (1998) Table I, simple asymptotic (Wald) method: 0.2522 to 0.3638.
    wald = csat(data, "overall", scale=(1, 5), box=(4, 5), method="wald").iloc[0]
    assert wald["ci_low"] == pytest.approx(25.22, abs=0.005)
    assert wald["ci_high"] == pytest.approx(36.38, abs=0.005)
    # Agresti & Coull (1998): p~ = (x + z²/2)/(n + z²), p~ ± z sqrt(p~(1 - p~)/(n + z²)).
    z = stats.norm.ppf(0.975)
    p_t = (81 + z * z / 2) / (263 + z * z)
    half = z * np.sqrt(p_t * (1 - p_t) / (263 + z * z))
    ac = csat(data, "overall", scale=(1, 5), box=(4, 5), method="adjusted_wald").iloc[0]
    assert ac["ci_low"] == pytest.approx(100 * (p_t - half))
    assert ac["ci_high"] == pytest.approx(100 * (p_t + half))


def test_csat_box_and_scale_are_explicit_and_checked() -> None:
    df = pd.DataFrame({"overall": [1, 2, 3, 4, 5, 5]})
    top1 = csat(df, "overall", scale=(1, 5), box=(5,)).iloc[0]
    assert top1["estimate"] == pytest.approx(100 * 2 / 6)
    bottom2 = csat(df, "overall", scale=(1, 5), box=[1, 2]).iloc[0]
    assert bottom2["in_box"] == 2
    with pytest.raises(TypeError):
        # wrong type on purpose: the runtime check is under test
        csat(df, "overall")  # type: ignore[call-arg]
    with pytest.raises(ParameterError, match="box points"):
        csat(df, "overall", scale=(1, 5), box=(6,))
    with pytest.raises(ParameterError, match="scale"):
        csat(df, "overall", scale=(5, 1), box=(5,))
    with pytest.raises(InputTableError, match=r"whole numbers from 1 to 5.*row 1: 7"):
        csat(pd.DataFrame({"overall": [5, 7, 3]}), "overall", scale=(1, 5), box=(4, 5))


def test_ces_polarity_reflects_effort_items() -> None:
    # CES 2.0 (Dixon, Toman & DeLisi 2013): 1-7 agreement, 7 = easiest: the mean as is.
    answers = [7, 6, 5, 2, 7, 4, 1]
    df = pd.DataFrame({"effort": answers})
    higher = ces(df, "effort", scale=(1, 7), polarity="higher_is_easier").iloc[0]
    assert higher["estimate"] == pytest.approx(np.mean(answers))
    # An effort item (1 = very low effort) is reflected: x -> 1 + 7 - x.
    lower = ces(df, "effort", scale=(1, 7), polarity="lower_is_easier").iloc[0]
    assert lower["estimate"] == pytest.approx(np.mean(8 - np.array(answers)))
    assert lower["se"] == pytest.approx(higher["se"])
    # The share on the easy side of the midpoint: 5, 6, 7 of 1-7; 1, 2, 3 when reflected.
    share = ces(df, "effort", scale=(1, 7), polarity="higher_is_easier", statistic="share")
    assert share["estimate"].iloc[0] == pytest.approx(100 * 4 / 7)
    share_low = ces(df, "effort", scale=(1, 7), polarity="lower_is_easier", statistic="share")
    assert share_low["estimate"].iloc[0] == pytest.approx(100 * 2 / 7)
    with pytest.raises(ParameterError, match="polarity"):
        ces(df, "effort", scale=(1, 7), polarity="up")


def test_mean_score_t_interval_reproduces_r() -> None:
    # R: t.test(sleep$extra[1:10]): mean 0.75, 95 percent CI -0.5297804 2.0297804.
    r = mean_score(pd.DataFrame({"extra": SLEEP_1}), "extra").iloc[0]
    assert r["estimate"] == pytest.approx(0.75)
    assert r["sd"] == pytest.approx(np.std(SLEEP_1, ddof=1))
    assert r["ci_low"] == pytest.approx(-0.5297804, abs=5e-8)
    assert r["ci_high"] == pytest.approx(2.0297804, abs=5e-8)


def test_mean_score_interval_is_clipped_to_the_scale_and_needs_two_answers() -> None:
    r = mean_score(pd.DataFrame({"x": [1.0, 5.0]}), "x", scale=(1, 5)).iloc[0]
    assert r["ci_low"] == 1.0
    assert r["ci_high"] == 5.0
    one = mean_score(pd.DataFrame({"x": [4.0]}), "x").iloc[0]
    assert one["estimate"] == 4.0
    assert np.isnan(one["se"])
    assert np.isnan(one["ci_low"])
    with pytest.raises(InputTableError, match="from 1 to 5"):
        mean_score(pd.DataFrame({"x": [4.0, 6.0]}), "x", scale=(1, 5))
    with pytest.raises(InputTableError, match="finite numbers"):
        mean_score(pd.DataFrame({"x": [4.0, np.inf]}), "x")


def test_weighted_mean_uses_the_linearised_variance() -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(1, 6, 200).astype(float)
    w = rng.uniform(0.2, 4.0, 200)
    r = mean_score(pd.DataFrame({"x": x, "w": w}), "x", weights="w").iloc[0]
    m = (w * x).sum() / w.sum()
    # Linearised variance of the ratio mean: n/(n-1) Σ w²(x - m)² / (Σw)².
    v = 200 / 199 * (w**2 * (x - m) ** 2).sum() / w.sum() ** 2
    assert r["estimate"] == pytest.approx(m)
    assert r["se"] == pytest.approx(np.sqrt(v), rel=1e-10)
    assert r["ci_low"] == pytest.approx(m - stats.t.ppf(0.975, 199) * np.sqrt(v), rel=1e-10)
    assert r["deff"] == pytest.approx(200 * (w**2).sum() / w.sum() ** 2)


def test_weighted_share_uses_the_linearised_variance() -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(1, 6, 300)
    w = rng.uniform(0.2, 4.0, 300)
    r = csat(pd.DataFrame({"x": x, "w": w}), "x", scale=(1, 5), box=(4, 5), weights="w").iloc[0]
    y = (x >= 4).astype(float)
    p = (w * y).sum() / w.sum()
    v = (w**2 * (y - p) ** 2).sum() / w.sum() ** 2
    assert r["estimate"] == pytest.approx(100 * p)
    assert r["se"] == pytest.approx(100 * np.sqrt(v), rel=1e-10)
    # Wilson with the effective n* = p(1-p)/v (Korn & Graubard 1998).
    n_star = p * (1 - p) / v
    z = stats.norm.ppf(0.975)
    centre = (p + z * z / (2 * n_star)) / (1 + z * z / n_star)
    half = z / (1 + z * z / n_star) * np.sqrt(p * (1 - p) / n_star + z * z / (4 * n_star**2))
    assert r["ci_low"] == pytest.approx(100 * (centre - half), rel=1e-9)


@pytest.mark.parametrize("measure", ["csat", "ces", "mean_score"])
def test_identical_results_on_every_engine(engine, measure) -> None:
    rng = np.random.default_rng(2)
    n = 300
    df = pd.DataFrame(
        {
            "x": rng.integers(1, 6, n).astype(float),
            "team": rng.choice(["a", "b", "c"], n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    df.loc[[0, 7], "x"] = np.nan
    calls = {
        "csat": lambda d, **k: csat(d, "x", scale=(1, 5), box=(4, 5), **k),
        "ces": lambda d, **k: ces(d, "x", scale=(1, 5), polarity="lower_is_easier", **k),
        "mean_score": lambda d, **k: mean_score(d, "x", **k),
    }
    call = calls[measure]
    for weights in (None, "w"):
        expected = call(df, by="team", weights=weights)
        got = call(engine(df), by="team", weights=weights)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert expected["n_excluded_missing"].sum() == 2


def test_integer_scores_on_every_engine(engine) -> None:
    df = pd.DataFrame({"x": np.array([1, 4, 5, 5, 2], dtype="int64")})
    r = csat(engine(df), "x", scale=(1, 5), box=(4, 5))
    assert r["in_box"].iloc[0] == 3
