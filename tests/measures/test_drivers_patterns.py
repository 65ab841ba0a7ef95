"""key_drivers on large samples of rating answers: the fit on distinct answer patterns.

Unweighted linear fits of many rows that repeat (rating scales) are fitted on the
distinct rows with their counts and bootstrapped by the Poisson bootstrap
(``drivers._pattern_resamples``). The point estimates must equal the fit on every row, the
jackknife must be the row path's replicates exactly, and the intervals must keep their
coverage (simulation with known truth below).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from hxmetrics.measures import drivers
from hxmetrics.measures.drivers import (
    _correlations,
    _patterns,
    _shapley_from_subsets,
    key_drivers,
    subset_r2,
)

NAMES = ["d0", "d1", "d2"]
BETA = np.array([2.0, 1.0, 1.0])
LEVELS = np.array([-1.0, 0.0, 1.0])
NOISE = np.arange(-2.0, 3.0)  # e uniform on -2..2: variance 2


def _pmf() -> tuple[np.ndarray, np.ndarray]:
    """A known joint distribution of three correlated 3-level drivers."""
    support = np.array(list(itertools.product(LEVELS, repeat=3)))
    a, b, c = support.T
    weight = np.exp(0.4 * (a * b + a * c + b * c))
    return support, weight / weight.sum()


def _population_weights() -> np.ndarray:
    """Shapley weights of the exact population correlation of (y, x)."""
    support, p = _pmf()
    mean_x = p @ support
    cx = support - mean_x
    cov_xx = (cx * p[:, None]).T @ cx
    cov_xy = cov_xx @ BETA
    var_y = BETA @ cov_xx @ BETA + np.mean(NOISE**2)
    cov = np.block([[np.array([[var_y]]), cov_xy[None, :]], [cov_xy[:, None], cov_xx]])
    sd = np.sqrt(np.diag(cov))
    corr = (cov / np.outer(sd, sd))[None]
    return np.asarray(_shapley_from_subsets(subset_r2(corr), 3)[0])


def _draw(n: int, rng: np.random.Generator) -> pd.DataFrame:
    support, p = _pmf()
    x = support[rng.choice(len(p), size=n, p=p)]
    y = x @ BETA + rng.choice(NOISE, size=n)
    return pd.DataFrame(x, columns=NAMES).assign(y=y)


def test_patterns_collapse_only_repeating_large_samples(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    values = _draw(5000, rng)[["y", *NAMES]].to_numpy()
    assert _patterns(values) is None  # below PATTERN_MIN_ROWS: the row path
    monkeypatch.setattr(drivers, "PATTERN_MIN_ROWS", 1)
    rows, counts, inverse = _patterns(values)
    assert counts.sum() == len(values)
    np.testing.assert_array_equal(rows[inverse], values)  # every row is its pattern
    assert len(rows) == len(np.unique(values, axis=0))
    continuous = rng.normal(size=(5000, 4))
    assert _patterns(continuous) is None  # every row distinct: no gain, the row path


def test_pattern_fit_equals_the_row_fit(monkeypatch) -> None:
    df = _draw(20_000, np.random.default_rng(11))
    rows_fit = key_drivers(df, "y", NAMES, method="shapley", n_resamples=1000, random_state=5)
    monkeypatch.setattr(drivers, "PATTERN_MIN_ROWS", 1)
    pattern_fit = key_drivers(df, "y", NAMES, method="shapley", n_resamples=1000, random_state=5)
    # The point estimates are functions of the same moments: equal up to float order
    # (per-pattern sums then weighted sums, instead of one sum over rows).
    for column in ("estimate", "r2", "pct_of_r2"):
        np.testing.assert_allclose(pattern_fit[column], rows_fit[column], rtol=1e-10, atol=1e-13)
    # Two independent bootstraps of B = 1000: the relative standard error of a
    # bootstrap SD is about 1 / sqrt(2 (B - 1)) = 2.2%, of the ratio of two about 3.2%;
    # 4 of those (13%) bounds a correct method's ratio except once in ~15,000.
    ratio = pattern_fit["se"].to_numpy() / rows_fit["se"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.13), ratio


def test_pattern_jackknife_is_the_row_jackknife() -> None:
    rng = np.random.default_rng(8)
    values = _draw(3000, rng)[["y", *NAMES]].to_numpy()
    old = drivers.PATTERN_MIN_ROWS
    try:
        drivers.PATTERN_MIN_ROWS = 1
        rows, counts, inverse = _patterns(values)
    finally:
        drivers.PATTERN_MIN_ROWS = old
    g = 200
    block = np.random.default_rng(1).permutation(len(values)) % g
    # The row path: replicate j leaves out the rows of group j.
    row_weights = (block[None, :] != np.arange(g)[:, None]).astype(float)
    by_rows = _correlations(values, np.ones(len(values)), row_weights)
    # The pattern path (as in _pattern_resamples): the rows left out, counted per pattern.
    left_out = np.bincount(inverse * g + block, minlength=len(rows) * g).reshape(-1, g)
    by_patterns = _correlations(rows, counts, counts[None, :] - left_out.T)
    # Equal sums added in another order (per pattern, then across): float rounding only.
    np.testing.assert_allclose(by_patterns, by_rows, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_poisson_bootstrap_interval_coverage(monkeypatch) -> None:
    # Simulation with known truth: the population weights are those of the exact
    # population correlation of the discrete model above. n = 2,000 is far below the
    # sizes the pattern path is used for (100,000 rows and more), where the Poisson
    # resample approximates the multinomial one more closely still. Tolerance as in
    # test_drivers_simulated: 3 binomial standard errors of 0.95 over 250 replications.
    monkeypatch.setattr(drivers, "PATTERN_MIN_ROWS", 1)
    truth = _population_weights()
    rng = np.random.default_rng(20261207)
    reps, hits = 250, np.zeros(3)
    for _ in range(reps):
        res = key_drivers(_draw(2000, rng), "y", NAMES, method="shapley", random_state=rng)
        hits += (res["ci_low"].to_numpy() <= truth) & (truth <= res["ci_high"].to_numpy())
    coverage = hits / reps
    tolerance = 3 * np.sqrt(0.95 * 0.05 / reps)
    assert np.all(np.abs(coverage - 0.95) <= tolerance), coverage
