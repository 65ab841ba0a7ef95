"""Shared intervals and tests against published values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import ParameterError
from hxmetrics.measures._inference import (
    adjust_pvalues,
    agresti_coull_interval,
    benjamini_hochberg,
    check_confidence,
    check_n_resamples,
    check_random_state,
    effective_n,
    holm,
    kish,
    linearised_mean_variance,
    linearised_share_variance,
    t_interval,
    wald_interval,
    welch_df,
    wilson_interval,
    z_critical,
    z_test,
)
from hxmetrics.measures.satisfaction import mean_score
from hxmetrics.measures.segments import compare_groups

Z95 = 1.959963984540054


def test_z_critical() -> None:
    assert z_critical(0.95) == pytest.approx(Z95, rel=1e-12)
    assert z_critical(0.90) == pytest.approx(1.6448536269514722, rel=1e-12)
    for bad in (0, 1, 1.5, "high", None):
        with pytest.raises(ParameterError, match="confidence"):
            check_confidence(bad)


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_reproduces_newcombe_table_1(x, n, low, high) -> None:
    lo, hi = wilson_interval(x / n, n, Z95)
    assert float(lo) == pytest.approx(low, abs=5e-5)
    assert float(hi) == pytest.approx(high, abs=5e-5)


def test_wald_and_agresti_coull_formulas() -> None:
    # Wald: p ± z sqrt(p(1-p)/n); Newcombe (1998) Table I, method 1: 81/263 -> 0.2522, 0.3638.
    se, lo, hi = wald_interval(81 / 263, 263, Z95)
    assert float(lo) == pytest.approx(0.2522, abs=5e-5)
    assert float(hi) == pytest.approx(0.3638, abs=5e-5)
    assert float(se) == pytest.approx(np.sqrt(81 / 263 * 182 / 263 / 263))
    # Agresti & Coull (1998): add z²/2 successes and z²/2 failures.
    se, lo, hi = agresti_coull_interval(0.0, 20, Z95)
    p_adj = (Z95**2 / 2) / (20 + Z95**2)
    half = Z95 * np.sqrt(p_adj * (1 - p_adj) / (20 + Z95**2))
    assert float(lo) == 0.0  # clipped at 0
    assert float(hi) == pytest.approx(p_adj + half)
    # No data: no interval.
    assert np.isnan(wilson_interval(0.0, 0, Z95)[0])


def test_t_interval_reproduces_r_t_test_on_the_sleep_data() -> None:
    # R: t.test(sleep$extra[1:10]) -> mean 0.75, 95 percent CI -0.5297804 2.0297804.
    x = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
    se = x.std(ddof=1) / np.sqrt(x.size)
    lo, hi = t_interval(x.mean(), se, x.size - 1, 0.95)
    assert float(lo) == pytest.approx(-0.5297804, abs=5e-8)
    assert float(hi) == pytest.approx(2.0297804, abs=5e-8)
    assert np.isnan(t_interval(1.0, 0.0, 0, 0.95)[0])  # n = 1: no interval


def test_kish_effective_n_and_design_effect() -> None:
    # Kish (1965): n_eff = (Σw)²/Σw², deff = 1 + CV²(w). Weights 1, 2, 3, 4:
    # Σw = 10, Σw² = 30, n_eff = 100/30; CV² = var(w)/mean(w)² = 1.25/6.25 = 0.2.
    w = np.array([1.0, 2.0, 3.0, 4.0])
    n_eff, deff = kish(w.sum(), (w**2).sum(), w.size)
    assert float(n_eff) == pytest.approx(100 / 30)
    assert float(deff) == pytest.approx(1.2)
    assert float(deff) == pytest.approx(1 + w.var() / w.mean() ** 2)
    n_eff, deff = kish(5.0, 5.0, 5)  # unit weights
    assert (float(n_eff), float(deff)) == (5.0, 1.0)


def test_linearised_share_variance_equals_the_rowwise_formula() -> None:
    # v = Σ w²(y - p)² / (Σw)² for the ratio estimator, computed from sums only.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 50).astype(float)
    w = rng.uniform(0.2, 3.0, 50)
    p, v = linearised_share_variance(w.sum(), (w**2).sum(), (w * y).sum(), (w**2 * y).sum())
    p_direct = (w * y).sum() / w.sum()
    assert float(p) == pytest.approx(p_direct)
    assert float(v) == pytest.approx((w**2 * (y - p_direct) ** 2).sum() / w.sum() ** 2)
    # Unit weights: the Wald variance p(1-p)/n.
    ones = np.ones(50)
    p1, v1 = linearised_share_variance(50.0, 50.0, y.sum(), y.sum())
    assert float(v1) == pytest.approx(y.mean() * (1 - y.mean()) / 50)
    assert float(p1) == pytest.approx((ones * y).sum() / 50)


def test_linearised_mean_variance_equals_rowwise_and_unit_weights_give_s2_over_n() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(3, 1, 40)
    w = rng.uniform(0.5, 2.0, 40)
    sums = [w.sum(), (w**2).sum(), (w * x).sum(), (w * x * x).sum()]
    sums += [(w * w * x).sum(), (w * w * x * x).sum()]
    m, v = linearised_mean_variance(40, *sums)
    m_direct = (w * x).sum() / w.sum()
    assert float(m) == pytest.approx(m_direct)
    expected = 40 / 39 * (w**2 * (x - m_direct) ** 2).sum() / w.sum() ** 2
    assert float(v) == pytest.approx(expected)
    one = np.ones(40)
    _, v1 = linearised_mean_variance(
        40, 40.0, 40.0, x.sum(), (x * x).sum(), (one * x).sum(), (x * x).sum()
    )
    assert float(v1) == pytest.approx(x.var(ddof=1) / 40)


def test_effective_n_falls_back_to_kish_when_design_variance_is_zero() -> None:
    out = effective_n(np.array([0.25, 0.0]), np.array([0.0025, 0.0]), np.array([80.0, 7.0]))
    assert out.tolist() == pytest.approx([100.0, 7.0])


def test_z_test_and_welch_df_on_the_sleep_data() -> None:
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939.
    a = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
    b = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])
    se_a, se_b = a.std(ddof=1) / np.sqrt(10), b.std(ddof=1) / np.sqrt(10)
    df = welch_df(se_a, 10, se_b, 10)
    assert float(df) == pytest.approx(17.776, abs=5e-4)
    # The library's own Welch t test: compare_groups on a mean_score result.
    sleep = pd.DataFrame({"group": ["1"] * 10 + ["2"] * 10, "extra": np.concatenate([a, b])})
    welch = compare_groups(mean_score(sleep, "extra", by="group")).iloc[0]
    assert welch["statistic"] == pytest.approx(-1.8608, abs=5e-5)
    assert welch["df"] == pytest.approx(17.776, abs=5e-4)
    assert welch["p_value"] == pytest.approx(0.07939, abs=5e-6)
    z, p = z_test(1.96, 1.0)
    assert float(p) == pytest.approx(0.04999579, abs=1e-8)
    z, p = z_test(0.0, 0.0)
    assert (float(z), float(p)) == (0.0, 1.0)


# Benjamini & Hochberg (1995), section 4: fifteen p-values (Neuhaus et al. 1992).
BH_1995 = np.array(
    [
        *(0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240),
        *(0.4262, 0.5719, 0.6528, 0.7590, 1.0000),
    ]
)


def test_benjamini_hochberg_rejects_four_in_the_published_example() -> None:
    # BH (1995): at q = 0.05 the step-up procedure rejects exactly the four smallest
    # (p(4) = 0.0095 <= 4/15 * 0.05; p(5) = 0.0201 > 5/15 * 0.05).
    adjusted = benjamini_hochberg(BH_1995)
    assert (adjusted < 0.05).tolist() == [True] * 4 + [False] * 11
    # The adjusted value of p(4) is 15 * 0.0095 / 4.
    assert adjusted[3] == pytest.approx(15 * 0.0095 / 4)


def test_holm_rejects_three_in_the_same_example() -> None:
    # Holm (1979) by hand: p(i) <= 0.05/(15 - i + 1): 0.0001 <= 0.00333, 0.0004 <= 0.00357,
    # 0.0019 <= 0.00385, but 0.0095 > 0.05/12 = 0.00417: three rejections.
    adjusted = holm(BH_1995)
    assert (adjusted < 0.05).tolist() == [True] * 3 + [False] * 12
    assert adjusted[:3].tolist() == pytest.approx([15 * 0.0001, 14 * 0.0004, 13 * 0.0019])


def test_corrections_match_statsmodels_multipletests() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(11)
    p = rng.uniform(0, 0.2, 25)
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        expected = multipletests(p, method=theirs)[1]
        np.testing.assert_allclose(adjust_pvalues(p, ours), expected, rtol=1e-12)
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)
    with pytest.raises(ParameterError, match="correction"):
        adjust_pvalues(p, "bonferoni")


def test_corrections_leave_nan_out_of_the_family() -> None:
    p = np.array([0.01, np.nan, 0.04])
    assert holm(p)[[0, 2]].tolist() == pytest.approx([0.02, 0.04])
    assert np.isnan(holm(p)[1])
    assert np.isnan(benjamini_hochberg(np.array([np.nan]))).all()


def test_shared_checks_of_n_resamples_and_random_state() -> None:
    # Issue 11: resample counts and seeds were checked (and typed) differently per measure.
    assert check_n_resamples(2000) == 2000
    assert check_n_resamples(np.int64(0), minimum=0) == 0
    for bad in (0, -5, 10.0, True, "100", None):
        with pytest.raises(ParameterError, match="n_resamples must be a whole number >= 1"):
            check_n_resamples(bad)
    a = check_random_state(11).normal(size=4)
    b = check_random_state(np.int32(11)).normal(size=4)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(3)
    assert check_random_state(rng) is rng
    assert isinstance(check_random_state(None), np.random.Generator)
    for bad in (1.5, True, -1, "seed"):
        with pytest.raises(ParameterError, match="random_state must be None"):
            check_random_state(bad)
    with pytest.raises(ParameterError, match="default_rng"):
        check_random_state(np.random.RandomState(1))


def test_the_interval_and_factor_modules_import_scipy_only_when_used() -> None:
    # Issue 11: importing a measure pulled scipy.stats (~0.5 s) before any interval was
    # computed. These modules import scipy inside the functions that use it.
    import ast
    from pathlib import Path

    import hxmetrics.measures as package

    root = Path(package.__file__).parent
    for name in ("_inference", "_cfa", "reliability", "invariance"):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        top = [
            node
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
            and any(
                (getattr(node, "module", None) or alias.name).startswith("scipy")
                for alias in node.names
            )
        ]
        assert top == [], f"{name}.py imports scipy at module level"
