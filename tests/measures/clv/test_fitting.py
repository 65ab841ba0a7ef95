"""The fit machinery: row collapsing, the trust-region optimiser, exact rising sums."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma, gammaln

from hxmetrics.measures.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeometric,
)
from hxmetrics.measures.clv._base import collapse, rising
from hxmetrics.measures.clv._optimize import trust_region_sr1


def _as_counts(cols, weights):
    frame = pd.DataFrame({f"c{i}": c for i, c in enumerate(cols)})
    frame["w"] = weights
    return frame.groupby(list(frame.columns[:-1]))["w"].sum()


@settings(max_examples=40)
@given(
    data=st.lists(
        st.tuples(
            st.integers(0, 30),
            st.sampled_from([0.0, 0.5, 1.0, 2.25, 1e9]),
            st.integers(-3, 3),
            st.floats(0.0, 5.0),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_collapse_equals_groupby_sum(data):
    # Whole numbers take the arithmetic path, the rest are hashed; 1e9 forces the
    # hashed path for the key as well. Either way: the distinct rows and their summed
    # weights, exactly as a groupby gives them.
    a, b, c, w = (np.array(v, dtype=float) for v in zip(*data, strict=True))
    *cols, summed = collapse(a, b, c, weights=w)
    got = _as_counts(cols, summed).sort_index()
    want = _as_counts([a, b, c], w).sort_index()
    assert got.index.equals(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-12)
    # Unweighted: the counts.
    *cols, counts = collapse(a, b, c)
    assert counts.sum() == len(a)
    assert len(cols[0]) == len(want)


def test_collapse_is_order_invariant_and_merges():
    rng = np.random.default_rng(3)
    x = rng.poisson(2, 5000).astype(float)
    tx = rng.integers(0, 40, 5000).astype(float)
    perm = rng.permutation(5000)
    one = _as_counts(collapse(x, tx)[:-1], collapse(x, tx)[-1]).sort_index()
    two = collapse(x[perm], tx[perm])
    assert _as_counts(two[:-1], two[-1]).sort_index().equals(one)
    # Collapsing two halves and then their union of distinct rows (with weights)
    # equals collapsing the whole.
    h1, h2 = collapse(x[:2000], tx[:2000]), collapse(x[2000:], tx[2000:])
    merged = collapse(
        np.concatenate([h1[0], h2[0]]),
        np.concatenate([h1[1], h2[1]]),
        weights=np.concatenate([h1[2], h2[2]]),
    )
    assert _as_counts(merged[:-1], merged[-1]).sort_index().equals(one)


def _rosenbrock(z):
    # Rosenbrock (1960): minimum 0 at (1, ..., 1); the classic test of a curved valley.
    f = float(np.sum(100.0 * (z[1:] - z[:-1] ** 2) ** 2 + (1.0 - z[:-1]) ** 2))
    g = np.zeros_like(z)
    g[:-1] = -400.0 * z[:-1] * (z[1:] - z[:-1] ** 2) - 2.0 * (1.0 - z[:-1])
    g[1:] += 200.0 * (z[1:] - z[:-1] ** 2)
    return f, g


@pytest.mark.parametrize("k", [2, 3, 4])
def test_optimiser_solves_rosenbrock(k):
    res = trust_region_sr1(_rosenbrock, np.full(k, -1.2))
    assert res.success, res.message
    np.testing.assert_allclose(res.x, np.ones(k), atol=1e-7)
    # The returned Hessian is the finite-difference one at the optimum: for k = 2 it
    # is [[802, -400], [-400, 200]] exactly.
    if k == 2:
        np.testing.assert_allclose(res.hess, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-5)
    assert res.nfev < 150


def test_optimiser_respects_bounds_and_reports_the_projected_optimum():
    # Minimum at (5, -1) but x0 is bounded by 2: the answer is (2, -1).
    def fun(z):
        d = z - np.array([5.0, -1.0])
        return float(d @ d), 2.0 * d

    res = trust_region_sr1(fun, np.zeros(2), bound=2.0)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [2.0, -1.0], atol=1e-9)


def test_optimiser_shrinks_away_from_non_finite_values():
    # log-barrier: undefined for z <= 0; the first full step overshoots into it.
    def fun(z):
        if z[0] <= 0:
            return np.inf, np.full(1, np.nan)
        return float(z[0] - 3.0 * np.log(z[0])), np.array([1.0 - 3.0 / z[0]])

    res = trust_region_sr1(fun, np.array([0.05]))
    assert res.success, res.message
    assert res.x[0] == pytest.approx(3.0, rel=1e-8)


@pytest.mark.parametrize("c", [0.05, 0.7, 13.0, 400.0])
def test_rising_sums_equal_gamma_differences(c):
    m = np.arange(0.0, 60.0)
    lg, psi = rising(c, m, 59)
    np.testing.assert_allclose(lg, gammaln(c + m) - gammaln(c), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(psi, digamma(c + m) - digamma(c), rtol=1e-13, atol=1e-14)


def test_rising_sums_keep_precision_for_huge_shapes():
    # c = 1e10: log G(c+m)/G(c) = m log c + m(m-1)/(2c) - ... to 1e-18; the difference of
    # two gammaln values (~2.2e11 each) keeps only ~5 digits of it.
    c, m = 1e10, np.array([0.0, 1.0, 5.0, 30.0])
    lg, psi = rising(c, m, 30)
    expected = m * np.log(c) + m * (m - 1) / (2 * c)
    np.testing.assert_allclose(lg, expected, rtol=1e-14)
    np.testing.assert_allclose(psi, m / c - m * (m - 1) / (2 * c**2), rtol=1e-12)


def test_no_heterogeneity_fits_on_the_ridge():
    # Every customer buys at the same Poisson rate 0.5 per week and nobody drops out:
    # the gamma mixing distribution degenerates (r, alpha -> infinity with r/alpha =
    # 0.5) and the mean drop-out probability a/(a+b) -> 0. The fit must end cleanly on
    # that ridge, with the right rate, and say that it is on a bound.
    rng = np.random.default_rng(8)
    n, big_t = 3000, 52.0
    x = rng.poisson(0.5 * big_t, n).astype(float)
    tx = np.where(x > 0, big_t * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    m = BetaGeo().fit({"frequency": x, "recency": tx, "T": np.full(n, big_t)}, unit="W")
    r, alpha, a, b = (m.params_[k] for k in ("r", "alpha", "a", "b"))
    assert r > 100
    # On the ridge the MLE of the rate r/alpha is the pooled rate sum(x)/(n T); the fit
    # stops at a finite point of the ridge (measured relative error 4e-8).
    assert r / alpha == pytest.approx(x.sum() / (n * big_t), rel=1e-4)
    assert a / (a + b) < 1e-6
    assert m.fit_info_["at_bound"]


def test_fits_take_few_likelihood_evaluations(cdnow, donations):
    # Not a timing test: the evaluation count of the optimiser on the published data
    # (L-BFGS-B with a central-difference Hessian took 30-45 here).
    survivors = pd.DataFrame(
        {"period": range(8), "survivors": [1000, 631, 468, 382, 326, 289, 262, 241]}
    )
    fits = [
        BetaGeo().fit(cdnow),
        ModifiedBetaGeo().fit(cdnow),
        ParetoNBD().fit(cdnow),
        GammaGamma().fit(cdnow),
        BetaGeoBetaBinom().fit(donations, weights="weights", unit="Y"),
        ShiftedBetaGeometric().fit(survivors, unit="Y"),
    ]
    evaluations = {type(m).__name__: m.fit_info_["evaluations"] for m in fits}
    assert all(v <= 32 for v in evaluations.values()), evaluations
