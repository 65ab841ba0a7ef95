"""Key drivers: how much of an outcome's explained variance each driver carries.

:func:`key_drivers` decomposes the fit of a regression of an outcome (an overall score,
likelihood to recommend, being a promoter) on its drivers (item scores, theme
indicators) into one share per driver, with bootstrap intervals, per group:

* ``method="relative_weights"``: Johnson's (2000) relative weights. The drivers'
  correlation matrix :math:`R_{xx} = Q \\Lambda Q'` gives the orthogonal counterparts
  :math:`Z = X R_{xx}^{-1/2}`; with :math:`\\Lambda^{*} = R_{xx}^{1/2}` (the loadings
  of :math:`X` on :math:`Z`) and :math:`\\beta^{*} = R_{xx}^{-1/2} r_{xy}` (the
  regression of :math:`y` on :math:`Z`), driver :math:`j`'s weight is
  :math:`\\varepsilon_j = \\sum_m \\lambda^{*2}_{jm} \\beta^{*2}_m`.
* ``method="shapley"``: the Shapley value of :math:`R^2` (Lindeman, Merenda & Gold
  1980, "LMG"; Grömping 2006): the average over every order of entry of the increase
  in :math:`R^2` a driver brings. Up to :data:`EXACT_MAX_DRIVERS` drivers it is exact:
  the :math:`R^2` of all :math:`2^k` subsets is computed from the correlation matrix
  (one batched solve per subset size on the submatrices; no model is refitted to the
  rows). Above, it is estimated from ``n_permutations`` random orders, each walked by
  the sweep operator (Goodnight 1979) on the correlation matrix, and its Monte Carlo
  standard error is given in ``mc_se``.
* ``method="dominance"``: dominance analysis (Budescu 1993; Azen & Budescu 2003):
  general dominance weights (equal to the Shapley values) in the table, and the
  conditional and complete dominance designations of :func:`dominance_analysis`
  (counted in ``n_conditionally_dominated`` and ``n_completely_dominated``).

Every method's weights add up to the model's :math:`R^2` (column ``r2``), so
``pct_of_r2`` (the weight as a percentage of :math:`R^2`) adds up to 100.

A binary outcome (promoter or not) takes ``model="logistic"``: the fit statistic is
McFadden's (1974) pseudo-:math:`R^2`, :math:`1 - \\log L_S / \\log L_0`, which Azen &
Traxel (2009) recommend for dominance analysis of logistic regression because it
grows as predictors are added and has a clear reading (the proportional reduction in
deviance). The subsets' models are fitted by Newton's method (at most
:data:`LOGISTIC_MAX_DRIVERS` drivers); ``"relative_weights"`` is linear only.

Intervals come from the nonparametric bootstrap: rows are resampled with replacement
within each group (``weights`` travel with their rows) and the whole decomposition is
recomputed on each resample. The interval of a weight (``ci_low``, ``ci_high``) and of
R² is the *bias-corrected and accelerated* (BCa) interval (Efron 1987; Efron &
Tibshirani 1993, ch. 14), its acceleration estimated by a delete-a-group jackknife
(rows in at most 200 random groups; 50 for a logistic model); ``se`` is the resamples'
standard deviation. The rank interval (``rank_low``, ``rank_high``) is the percentile
interval of the resamples' ranks. Differences between groups
(:func:`compare_key_drivers`) have percentile intervals. In this package's simulation
(n = 300, three correlated drivers), 95% intervals from the default 1,000 resamples
covered the population weights 0.944-0.960 of the time; from 200 resamples 0.917-0.95
(the tails of few resamples are noisy): keep ``n_resamples`` near 1,000.

Large samples of rating answers repeat: an unweighted linear fit of at least
:data:`PATTERN_MIN_ROWS` rows with at most a quarter of them distinct is fitted on the
distinct rows with their counts (the same estimates) and resampled by the Poisson
bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012): a pattern seen ``c`` times is
drawn Poisson(``c``) times. Its cost then grows with the number of distinct answer
patterns, not of rows (2,000,000 answers to six 1-5 items and a 0-10 question: 17 s
instead of about 85 s); the jackknife replicates are the row path's exactly.

References
----------
Johnson, J. W. (2000). A heuristic method for estimating the relative weight of
predictor variables in multiple regression. Multivariate Behavioral Research 35, 1-19.
Lindeman, R. H., Merenda, P. F. & Gold, R. Z. (1980). Introduction to Bivariate and
Multivariate Analysis. Scott, Foresman.
Grömping, U. (2006). Relative importance for linear regression in R: the package
relaimpo. Journal of Statistical Software 17(1).
Chamandy, N., Muralidharan, O., Najmi, A. & Naidu, S. (2012). Estimating uncertainty
for massive data streams. Google Technical Report.
Hanley, J. A. & MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
Poisson frequencies. Computer Methods and Programs in Biomedicine 83, 57-62.
Budescu, D. V. (1993). Dominance analysis: a new approach to the problem of relative
importance of predictors in multiple regression. Psychological Bulletin 114, 542-551.
Azen, R. & Budescu, D. V. (2003). The dominance analysis approach for comparing
predictors in multiple regression. Psychological Methods 8, 129-148.
Azen, R. & Traxel, N. (2009). Using dominance analysis to determine predictor
importance in logistic regression. Journal of Educational and Behavioral Statistics
34, 319-347.
McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In
P. Zarembka (ed.), Frontiers in Econometrics, 105-142.
Goodnight, J. H. (1979). A tutorial on the SWEEP operator. The American Statistician
33, 149-158.
Castro, J., Gómez, D. & Tejada, J. (2009). Polynomial calculation of the Shapley value
based on sampling. Computers & Operations Research 36, 1726-1730.
Efron, B. (1987). Better bootstrap confidence intervals. JASA 82, 171-185.
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import (
    HxWarning,
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._inference import (
    check_confidence,
    check_n_resamples,
    check_random_state,
)
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import check_group_columns, check_min_n, shown_name
from hxmetrics.tables import as_pandas

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "EXACT_MAX_DRIVERS",
    "LOGISTIC_MAX_DRIVERS",
    "METHODS",
    "MODELS",
    "DominanceResult",
    "compare_key_drivers",
    "dominance_analysis",
    "driver_table",
    "key_drivers",
    "plot_key_drivers",
]

#: The decompositions :func:`key_drivers` computes.
METHODS = ("relative_weights", "shapley", "dominance")
#: The regression models: linear (:math:`R^2`) or logistic (McFadden's pseudo-:math:`R^2`).
MODELS = ("linear", "logistic")
#: Up to this many drivers the Shapley decomposition is exact (all :math:`2^k` subsets).
EXACT_MAX_DRIVERS = 15
#: Most drivers of a logistic model (each subset's model is fitted by Newton's method).
LOGISTIC_MAX_DRIVERS = 12

_TABLE = "data"
# Groups of the delete-a-group jackknife that estimates the BCa acceleration (every row
# its own group up to this many rows). Logistic models refit every subset per group.
_JACK_GROUPS = 200
#: Unweighted linear fits of at least this many rows whose rows repeat (at most a
#: quarter distinct) are fitted on the distinct rows with their counts
#: (:func:`_pattern_resamples`): the same estimates, a Poisson bootstrap.
PATTERN_MIN_ROWS = 100_000
_JACK_GROUPS_LOGISTIC = 50
_MEASURE = "key_drivers"
_TIDY_COLUMNS = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "pct_of_r2",
    "rank",
    "rank_low",
    "rank_high",
    "r2",
    "r2_ci_low",
    "r2_ci_high",
    "driver_mean",
    "mc_se",
    "n_completely_dominated",
    "n_conditionally_dominated",
)
# Eigenvalues of the drivers' correlation matrix below this fraction of the largest
# mean a linear dependence (the matrix is singular to working precision for a solve).
_SINGULAR = 1e-10


# ---------------------------------------------------------------------------
# Correlations
# ---------------------------------------------------------------------------


def _weighted_correlation(values: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Correlation matrix of the columns of ``values`` (weights: frequency-style)."""
    if w is None:
        centred = values - values.mean(axis=0)
        cov = centred.T @ centred
    else:
        mean = (w @ values) / w.sum()
        centred = values - mean
        cov = (centred * w[:, None]).T @ centred
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    return np.asarray(corr)


# ---------------------------------------------------------------------------
# Decompositions of R² from a stack of correlation matrices (outcome first)
# ---------------------------------------------------------------------------


def _relative_weights(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Johnson's (2000) relative weights of a stack ``(B, k + 1, k + 1)``; returns
    (weights ``(B, k)``, R² ``(B,)``)."""
    rxx = corr[:, 1:, 1:]
    rxy = corr[:, 1:, 0]
    eigval, eigvec = np.linalg.eigh(rxx)
    eigval = np.clip(eigval, 0.0, None)
    root = np.sqrt(eigval)
    # Λ* = R^{1/2} = Q diag(√e) Q' (symmetric), β* = R^{-1/2} r = Q diag(1/√e) Q' r.
    lam = (eigvec * root[:, None, :]) @ np.swapaxes(eigvec, 1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_root = np.where(root > 0, 1.0 / root, 0.0)
    qtr = np.einsum("bji,bj->bi", eigvec, rxy)
    beta = np.einsum("bij,bj->bi", eigvec, inv_root * qtr)
    weights = np.einsum("bjm,bm->bj", lam**2, beta**2)
    return weights, weights.sum(axis=1)


def subset_r2(corr: np.ndarray) -> np.ndarray:
    """R² of the regression on every subset of drivers, from correlation matrices.

    Parameters
    ----------
    corr : numpy.ndarray
        ``(B, k + 1, k + 1)`` correlation matrices, the outcome first.

    Returns
    -------
    numpy.ndarray
        ``(B, 2**k)``: entry ``m`` is the R² of the drivers whose bits are set in ``m``
        (bit ``j`` = driver ``j``); entry 0 (no driver) is 0.

    Notes
    -----
    The subsets are built in bitmask order by the sweep operator (Goodnight 1979):
    the subsets whose largest driver is ``m`` are the subsets of drivers ``0..m-1``
    with ``m`` added, so one vectorised step per driver turns the residual
    correlation matrices of masks ``[0, 2^m)`` into those of masks ``[2^m, 2^{m+1})``
    by sweeping ``m`` (a rank-one Schur-complement update). Only the outcome and the
    drivers not yet considered (``m..k-1``) are carried, so step ``m`` costs about
    :math:`2^m (k - m + 1)^2` flops per matrix and all :math:`2^k` subsets about
    :math:`6 \\cdot 2^k`, whatever the number of rows. The outcome's residual
    variance after sweeping the drivers of S is :math:`1 - R^2_S`.

    Examples
    --------
    >>> import numpy as np
    >>> corr = np.array([[[1.0, 0.5, 0.3], [0.5, 1.0, 0.0], [0.3, 0.0, 1.0]]])
    >>> subset_r2(corr).round(2)  # {}, {x0}, {x1}, {x0, x1}
    array([[0.  , 0.25, 0.09, 0.34]])
    """
    k = corr.shape[1] - 1
    # Residual correlations of (outcome, drivers m..k-1), one matrix per mask < 2^m.
    state = corr[:, None, :, :].copy()
    for _ in range(k):
        pivot = state[:, :, 1, 1]
        column = state[:, :, :, 1]
        swept = state - column[..., :, None] * column[..., None, :] / pivot[..., None, None]
        keep = [0, *range(2, state.shape[-1])]
        state = np.concatenate(
            [state[:, :, keep][:, :, :, keep], swept[:, :, keep][:, :, :, keep]], axis=1
        )
    return np.asarray(1.0 - state[:, :, 0, 0])


def _shapley_from_subsets(values: np.ndarray, k: int) -> np.ndarray:
    """Exact Shapley values ``(B, k)`` from the values of all subsets ``(B, 2**k)``."""
    masks = np.arange(1 << k, dtype=np.int64)
    size = np.zeros(1 << k, dtype=np.int64)
    for j in range(k):
        size += (masks >> j) & 1
    # Weight of a subset S (not holding j) in j's value: |S|! (k - |S| - 1)! / k!.
    coef = np.array([math.factorial(s) * math.factorial(k - s - 1) for s in range(k)], float)
    coef /= math.factorial(k)
    out = np.empty((values.shape[0], k))
    for j in range(k):
        without = masks[((masks >> j) & 1) == 0]
        gain = values[:, without | (1 << j)] - values[:, without]
        out[:, j] = gain @ coef[size[without]]
    return out


def _conditional_from_subsets(values: np.ndarray, k: int) -> np.ndarray:
    """Conditional dominance statistics ``(B, k, k)``: [b, j, s] = mean gain of driver
    j over the subsets of size s that lack it (Azen & Budescu 2003)."""
    masks = np.arange(1 << k, dtype=np.int64)
    size = np.zeros(1 << k, dtype=np.int64)
    for j in range(k):
        size += (masks >> j) & 1
    out = np.empty((values.shape[0], k, k))
    counts = np.array([math.comb(k - 1, s) for s in range(k)], float)
    for j in range(k):
        without = masks[((masks >> j) & 1) == 0]
        gain = values[:, without | (1 << j)] - values[:, without]
        sums = np.zeros((values.shape[0], k))
        np.add.at(sums.T, size[without], gain.T)
        out[:, j, :] = sums / counts
    return out


def _complete_from_subsets(values: np.ndarray, k: int) -> np.ndarray:
    """Complete dominance ``(B, k, k)``: 1 where row driver i adds more than column
    driver j to every subset holding neither, 0 where it adds less to every one, 0.5
    otherwise (Azen & Budescu 2003's D_ij); the diagonal is NaN."""
    masks = np.arange(1 << k, dtype=np.int64)
    out = np.full((values.shape[0], k, k), np.nan)
    for i in range(k):
        for j in range(i + 1, k):
            neither = masks[(((masks >> i) & 1) == 0) & (((masks >> j) & 1) == 0)]
            diff = values[:, neither | (1 << i)] - values[:, neither | (1 << j)]
            d = np.where((diff > 0).all(axis=1), 1.0, np.where((diff < 0).all(axis=1), 0.0, 0.5))
            out[:, i, j] = d
            out[:, j, i] = 1.0 - d
    return out


def _sweep_permutations(corr: np.ndarray, perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marginal R² gains along sampled orders of entry.

    ``corr`` ``(B, k + 1, k + 1)``, ``perms`` ``(P, k)``. Each order is walked by the
    sweep operator (Goodnight 1979): after sweeping the drivers in S, the outcome's
    diagonal entry is 1 - R²_S. Returns the gains ``(B, P, k)`` in driver order and the
    full R² ``(B,)``.
    """
    b = corr.shape[0]
    p, k = perms.shape
    # One flat stack of b * p matrices: matrix r is resample r // p walked in order r % p.
    a = np.repeat(corr, p, axis=0)
    order = np.tile(perms, (b, 1))
    gains = np.empty((b * p, k))
    prev = np.zeros(b * p)
    rows = np.arange(b * p)
    for t in range(k):
        piv = order[:, t] + 1
        d = a[rows, piv, piv]
        col = a[rows, :, piv].copy()
        row = a[rows, piv, :].copy()
        a -= col[:, :, None] * row[:, None, :] / d[:, None, None]
        a[rows, piv, :] = row / d[:, None]
        a[rows, :, piv] = col / d[:, None]
        a[rows, piv, piv] = -1.0 / d
        r2 = 1.0 - a[:, 0, 0]
        gains[rows, order[:, t]] = r2 - prev
        prev = r2
    return gains.reshape(b, p, k), prev.reshape(b, p)[:, 0]


# ---------------------------------------------------------------------------
# Logistic regression: McFadden's pseudo-R² of every subset
# ---------------------------------------------------------------------------


def _logistic_loglik(
    x: np.ndarray, y: np.ndarray, freq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximised log-likelihood of a logistic regression of ``y`` on ``x`` (plus an
    intercept), for each row of frequency weights ``freq`` ``(B, n)``, by Newton's
    method vectorised over the rows of ``freq``; and whether each fit converged
    (a fit whose coefficients run off to infinity, complete or quasi-complete
    separation, has not)."""
    n, s = x.shape
    sd = x.std(axis=0)
    design = np.column_stack([np.ones(n), (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)])
    b = freq.shape[0]
    beta = np.zeros((b, s + 1))
    ybar = (freq @ y) / freq.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta[:, 0] = np.log(ybar / (1 - ybar))
    converged = np.zeros(b, dtype=bool)
    # A tiny ridge keeps a (numerically) singular information matrix solvable; it moves
    # no coefficient of a well-posed fit by more than about 1e-12 relative.
    ridge = 1e-12 * np.eye(s + 1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(100):
            eta = beta @ design.T
            prob = 1.0 / (1.0 + np.exp(-eta))
            grad = (freq * (y - prob)) @ design
            info = np.einsum("bn,ni,nj->bij", freq * prob * (1 - prob), design, design)
            step = np.linalg.solve(info + ridge, grad[..., None])[..., 0]
            step = np.where(np.isfinite(step), step, 0.0)
            beta = beta + step
            converged = np.abs(step).max(axis=1) < 1e-10
            if converged.all():
                break
        # Separation: standardised coefficients this large mean fitted probabilities
        # of 0 and 1, i.e. no finite maximum.
        converged &= np.abs(beta[:, 1:]).max(axis=1, initial=0.0) < 30.0
        eta = beta @ design.T
        # log L = Σ f [y η - log(1 + e^η)], written stably.
        loglik = (freq * (y * eta - np.logaddexp(0.0, eta))).sum(axis=1)
    return np.asarray(loglik), converged


def _logistic_subsets(
    x: np.ndarray, y: np.ndarray, freq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """McFadden's pseudo-R² (1 - log L_S / log L_0) of every subset ``(B, 2**k)``, and
    whether every subset's fit converged ``(B,)``."""
    k = x.shape[1]
    ybar = (freq @ y) / freq.sum(axis=1)
    total = freq.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll0 = total * (ybar * np.log(ybar) + (1 - ybar) * np.log(1 - ybar))
    out = np.zeros((freq.shape[0], 1 << k))
    ok = np.ones(freq.shape[0], dtype=bool)
    for mask in range(1, 1 << k):
        cols = [j for j in range(k) if (mask >> j) & 1]
        ll, converged = _logistic_loglik(x[:, cols], y, freq)
        out[:, mask] = 1.0 - ll / ll0
        ok &= converged
    return out, ok


# ---------------------------------------------------------------------------
# One group: point estimate and bootstrap replicates
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    weights: np.ndarray  # (k,)
    r2: float
    mc_se: np.ndarray  # (k,) NaN unless sampled
    boot: np.ndarray  # (B, k) NaN rows where a resample failed
    boot_r2: np.ndarray  # (B,)
    means: np.ndarray  # (k,)
    subsets: np.ndarray | None  # (2**k,) fit of every subset (shapley/dominance, exact)
    boot_subsets: np.ndarray | None = field(default=None, repr=False)
    jack: np.ndarray | None = field(default=None, repr=False)  # (G, k) delete-a-group
    jack_r2: np.ndarray | None = field(default=None, repr=False)  # (G,)


def _decompose(
    stack: np.ndarray,
    *,
    method: str,
    perms: np.ndarray | None,
    keep: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Weights, R² and (with ``keep``) the subset fits and per-order gains of a stack
    of correlation matrices (linear model), in chunks of the stack that keep the
    temporaries near 32 MB."""
    if method == "relative_weights":
        w, r2 = _relative_weights(stack)
        return w, r2, None, None
    b, k1, _ = stack.shape
    k = k1 - 1
    if perms is None:
        widest = max(2 ** (m + 1) * (k - m + 1) ** 2 for m in range(k))
        chunk = max(1, int(4e6 // widest))
    else:
        chunk = max(1, int(4e6 // (len(perms) * k1 * k1)))
    weights = np.empty((b, k))
    r2 = np.empty(b)
    values = np.empty((b, 1 << k)) if keep and perms is None else None
    gains = np.empty((b, len(perms), k)) if keep and perms is not None else None
    for start in range(0, b, chunk):
        part = slice(start, min(b, start + chunk))
        if perms is None:
            fits = subset_r2(stack[part])
            weights[part] = _shapley_from_subsets(fits, k)
            r2[part] = fits[:, -1]
            if values is not None:
                values[part] = fits
        else:
            g, r = _sweep_permutations(stack[part], perms)
            weights[part] = g.mean(axis=1)
            r2[part] = r
            if gains is not None:
                gains[part] = g
    return weights, r2, values, gains


def _fit_group(
    y: np.ndarray,
    x: np.ndarray,
    w: np.ndarray | None,
    *,
    method: str,
    model: str,
    n_resamples: int,
    rng: np.random.Generator,
    perms: np.ndarray | None,
) -> _Fit:
    n, k = x.shape
    means = (w @ x) / w.sum() if w is not None else x.mean(axis=0)
    if model == "logistic":
        freq = np.ones((1, n)) if w is None else w[None, :]
        values, converged = _logistic_subsets(x, y, freq)
        if not converged[0]:
            warnings.warn(
                "key_drivers: a logistic model of the outcome on some drivers did not "
                "converge: the drivers separate the outcome (almost) perfectly, so the "
                "likelihood has no finite maximum and McFadden's pseudo-R² of those "
                "models is at its limit. Read the weights with care; drop or merge the "
                "driver that separates the outcome, or use a linear model.",
                HxWarning,
                stacklevel=4,
            )
        weights = _shapley_from_subsets(values, k)[0]
        r2 = float(values[0, -1])
        boot = np.full((n_resamples, k), np.nan)
        boot_r2 = np.full(n_resamples, np.nan)
        boot_values = np.full((n_resamples, 1 << k), np.nan)
        if n_resamples:
            counts = _resample_counts(n, n_resamples, rng)
            freq_b = counts if w is None else counts * w[None, :]
            ok = _binary_ok(y, counts)
            vals, fitted = _logistic_subsets(x, y, freq_b[ok])
            vals[~fitted] = np.nan  # a separated resample is left out (and counted)
            boot_values[ok] = vals
            boot[ok] = _shapley_from_subsets(vals, k)
            boot_r2[ok] = vals[:, -1]
            keep = _jackknife_weights(n, _JACK_GROUPS_LOGISTIC, rng) * freq
            jvals, _ = _logistic_subsets(x, y, keep)
            return _Fit(
                weights,
                r2,
                np.full(k, np.nan),
                boot,
                boot_r2,
                means,
                values[0],
                boot_values,
                _shapley_from_subsets(jvals, k),
                jvals[:, -1],
            )
        return _Fit(weights, r2, np.full(k, np.nan), boot, boot_r2, means, values[0], boot_values)
    values_yx = np.column_stack([y, x])
    patterns = _patterns(values_yx) if w is None else None
    if patterns is None:
        fit_values, fit_weights = values_yx, w
    else:
        # The distinct rows with their counts: the same moments, so the same estimates.
        fit_values, fit_weights = patterns[0], patterns[1]
    corr = _weighted_correlation(fit_values, fit_weights)[None]
    weights_b, r2_b, subsets, gains = _decompose(corr, method=method, perms=perms, keep=True)
    mc_se = np.full(k, np.nan)
    if gains is not None:
        mc_se = gains[0].std(axis=0, ddof=1) / np.sqrt(gains.shape[1])
    boot = np.full((n_resamples, k), np.nan)
    boot_r2 = np.full(n_resamples, np.nan)
    boot_subsets = None
    if n_resamples:
        if patterns is None:
            stack, jstack = _row_resamples(values_yx, w, n_resamples, rng)
        else:
            stack, jstack = _pattern_resamples(*patterns, n_resamples, rng)
        boot, boot_r2, boot_subsets = _bootstrap_fits(stack, method=method, perms=perms)
        jack, jack_r2, _, _ = _decompose(jstack, method=method, perms=perms)
    else:
        jack, jack_r2 = None, None
    return _Fit(
        weights_b[0],
        float(r2_b[0]),
        mc_se,
        boot,
        boot_r2,
        means,
        None if subsets is None else subsets[0],
        boot_subsets,
        jack,
        jack_r2,
    )


def _row_resamples(
    values: np.ndarray, w: np.ndarray | None, n_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation matrices of the bootstrap resamples of the rows, then of the
    delete-a-group jackknife replicates (drawn in that order)."""
    stack = _bootstrap_correlations(values, w, n_resamples, rng)
    base = np.ones(len(values)) if w is None else w
    jstack = _correlations(values, base, _jackknife_weights(len(values), _JACK_GROUPS, rng) * base)
    return stack, jstack


def _bootstrap_fits(
    stack: np.ndarray, *, method: str, perms: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The decomposition of each resample's correlation matrix ``stack`` ``(B, k+1, k+1)``:
    weights ``(B, k)``, R² ``(B,)`` and (dominance) the subsets' R² ``(B, 2^k)``.

    A resample can draw a constant driver or collinear rows: its row stays NaN, left out
    of the intervals and counted (``attrs["hxmetrics"]["n_resamples_failed"]``).
    """
    n_resamples, k = stack.shape[0], stack.shape[1] - 1
    boot = np.full((n_resamples, k), np.nan)
    boot_r2 = np.full(n_resamples, np.nan)
    boot_subsets = None
    good = np.asarray(np.isfinite(stack).all(axis=(1, 2)))
    good[good] = np.linalg.eigvalsh(stack[good, 1:, 1:])[:, 0] > _SINGULAR * k
    if good.any():
        wb, rb, sb, _ = _decompose(
            stack[good], method=method, perms=perms, keep=method == "dominance"
        )
        boot[good] = wb
        boot_r2[good] = rb
        if sb is not None:
            boot_subsets = np.full((n_resamples, 1 << k), np.nan)
            boot_subsets[good] = sb
    return boot, boot_r2, boot_subsets


def _patterns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The distinct rows of ``values``, how often each occurs, and each row's pattern;
    None when collapsing would not pay (fewer than :data:`PATTERN_MIN_ROWS` rows, or
    more distinct rows than a quarter of the rows).

    Rating scales repeat: a million answers to six 1-5 items and a 0-10 question have
    at most 171,875 distinct rows, usually far fewer.
    """
    n = len(values)
    if n < PATTERN_MIN_ROWS:
        return None
    codes = np.zeros(n, dtype=np.int64)
    size = 1
    for column in values.T:
        col_codes, uniques = pd.factorize(column)
        size *= len(uniques)
        if size > n:  # more combinations possible than rows: no gain to expect
            return None
        codes = codes * len(uniques) + col_codes
    inverse, distinct = pd.factorize(codes)
    if len(distinct) > n // 4:
        return None
    counts = np.bincount(inverse, minlength=len(distinct)).astype(float)
    first = np.full(len(distinct), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n))
    return values[first], counts, inverse


def _pattern_resamples(
    rows: np.ndarray,
    counts: np.ndarray,
    inverse: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_row_resamples` on the distinct rows ``rows`` seen ``counts`` times.

    The bootstrap is the Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al.
    2012): each row is drawn Poisson(1) times, so a pattern seen ``c`` times is drawn
    Poisson(``c``) times, one draw per pattern instead of one per row; for the large
    samples this path is taken on (:data:`PATTERN_MIN_ROWS` rows or more) it approximates
    the multinomial resample closely (the resample size varies by about its square
    root). The jackknife groups are drawn for the rows as on the row path and counted per
    pattern (``inverse``: each row's pattern): the same replicates exactly.
    """
    n, k1 = len(inverse), rows.shape[1]
    columns = _centred_pairs(rows, counts)
    stack = np.empty((n_resamples, k1, k1))
    chunk = max(1, int(4e6 // (len(rows) * k1)))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        draws = rng.poisson(counts, size=(b, len(rows))).astype(float)
        stack[start : start + b] = _correlations(rows, counts, draws, columns=columns)
    g = min(n, _JACK_GROUPS)
    block = rng.permutation(n) % g
    left_out = np.bincount(inverse * g + block, minlength=len(rows) * g).reshape(-1, g)
    jweights = counts[None, :] - left_out.T.astype(float)
    return stack, _correlations(rows, counts, jweights, columns=columns)


def _bootstrap_correlations(
    values: np.ndarray, w: np.ndarray | None, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Correlation matrices of ``n_resamples`` bootstrap resamples of the rows.

    A resample is a vector of counts (how often each row was drawn), times the survey
    weights; see :func:`_correlations`.
    """
    n, k1 = values.shape
    base = np.ones(n) if w is None else w
    out = np.empty((n_resamples, k1, k1))
    chunk = max(1, int(4e6 // (n * k1)))
    columns = _centred_pairs(values, base)  # once for every resample
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        weight = _resample_counts(n, b, rng) * base[None, :]
        out[start : start + b] = _correlations(values, base, weight, columns=columns)
    return out


def _centred_pairs(values: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns centred at the ``base``-weighted mean, and the products of every pair
    of them (upper triangle, row by row)."""
    centred = values - (base @ values) / base.sum()
    upper = np.triu_indices(values.shape[1])
    return centred, centred[:, upper[0]] * centred[:, upper[1]]


def _correlations(
    values: np.ndarray,
    base: np.ndarray,
    weight: np.ndarray,
    *,
    columns: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Weighted correlation matrices, one per row of ``weight`` ``(B, n)``.

    The moments are matrix products, on the columns centred at the full sample's
    (``base``-weighted) mean, which keeps the one-pass covariance free of cancellation.
    The products of every pair of columns are formed once (``columns``, from
    :func:`_centred_pairs`, may be given when called again on the same rows): each
    weighting's second moments are then one BLAS product with them, instead of a
    ``(B, n, k)`` temporary and a batched product.
    """
    n, k1 = values.shape
    centred, pairs = _centred_pairs(values, base) if columns is None else columns
    upper = np.triu_indices(k1)
    out = np.empty((weight.shape[0], k1, k1))
    chunk = max(1, int(4e6 // (n * k1)))
    for start in range(0, weight.shape[0], chunk):
        part = weight[start : start + chunk]
        total = part.sum(axis=1)
        first = part @ centred
        moments = part @ pairs
        second = np.empty((len(part), k1, k1))
        second[:, upper[0], upper[1]] = moments
        second[:, upper[1], upper[0]] = moments
        cov = second - first[:, :, None] * first[:, None, :] / total[:, None, None]
        sd = np.sqrt(np.einsum("bii->bi", cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / (sd[:, :, None] * sd[:, None, :])
        corr[:, np.arange(k1), np.arange(k1)] = 1.0
        out[start : start + len(part)] = corr
    return out


def _jackknife_weights(n: int, groups: int, rng: np.random.Generator) -> np.ndarray:
    """``(G, n)`` 0/1 weights of the delete-a-group jackknife: rows fall at random into
    ``G = min(n, groups)`` groups of (nearly) equal size; replicate g leaves group g out."""
    g = min(n, groups)
    block = rng.permutation(n) % g
    return np.asarray(block[None, :] != np.arange(g)[:, None], dtype=float)


def _resample_counts(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, n, size=(n_resamples, n))
    offsets = (np.arange(n_resamples) * n)[:, None]
    flat = np.bincount((idx + offsets).ravel(), minlength=n_resamples * n)
    return flat.reshape(n_resamples, n).astype(float)


def _binary_ok(y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    pos = counts @ y
    return np.asarray((pos > 0) & (pos < counts.sum(axis=1)))


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _cases(column: str, check: str, failure: Any, index: Any) -> pd.DataFrame:
    rows = list(index)[:5] or [None]
    return pd.DataFrame(
        {
            "column": [column] * len(rows),
            "check": [check] * len(rows),
            "failure_case": [failure] * len(rows),
            "index": rows,
        }
    )


def _raise(message: str, column: str, check: str, failure: Any, index: Any) -> None:
    raise InputTableError(
        message, table=_TABLE, failure_cases=_cases(column, check, failure, index)
    )


def _as_list(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = list(value)
    if not all(isinstance(v, str) for v in out):
        raise ParameterError(f"{what} must be column names (strings); got {value!r}.")
    return out


def _check_arguments(
    frame: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    by: list[str],
    weights: str | None,
    method: str,
    model: str,
) -> list[str]:
    check_choice("method", method, METHODS)
    check_choice("model", model, MODELS)
    if not isinstance(outcome, str):
        raise ParameterError(f"outcome must be one column name; got {outcome!r}.")
    names = _as_list(drivers, "drivers")
    if not names:
        raise ParameterError("drivers must name at least one column.")
    repeated = sorted({d for d in names if names.count(d) > 1})
    if repeated:
        raise ParameterError(f"drivers lists {repeated} more than once; list each column once.")
    if outcome in names:
        raise ParameterError(
            f"the outcome {outcome!r} is also listed in drivers: a column cannot explain "
            "itself. Remove it from drivers."
        )
    overlap = [c for c in [*names, outcome] if c in by or c == weights]
    if overlap:
        raise ParameterError(
            f"columns {overlap} are used both as outcome/drivers and as by/weights."
        )
    check_group_columns(by)
    check_columns(
        frame.columns, [outcome, *names, *by, *([weights] if weights else [])], table=_TABLE
    )
    k = len(names)
    if method == "dominance" and k > EXACT_MAX_DRIVERS:
        raise ParameterError(
            f"dominance analysis compares drivers on all 2^k subsets; {k} drivers is more "
            f"than the {EXACT_MAX_DRIVERS} it supports. Use method='shapley' (sampled "
            "above 15 drivers) or 'relative_weights', or group drivers first."
        )
    if model == "logistic":
        if method == "relative_weights":
            raise ParameterError(
                "relative weights are computed for a linear model here; for a binary "
                "outcome use model='logistic' with method='shapley' or 'dominance' "
                "(McFadden's pseudo-R²)."
            )
        if k > LOGISTIC_MAX_DRIVERS:
            raise ParameterError(
                f"a logistic model is refitted on all 2^k subsets of drivers; {k} drivers "
                f"is more than the {LOGISTIC_MAX_DRIVERS} supported. Use fewer drivers or "
                "a linear model."
            )
    for column in [outcome, *names]:
        series = frame[column]
        if not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series)):
            bad = series.index[series.notna()][:5]
            _raise(
                f"{_TABLE}: column {shown_name(column)} must be numeric (scores or 0/1 "
                f"indicators); found dtype {series.dtype}. Convert it, e.g. "
                "pd.to_numeric(df[col]), or one-hot encode a categorical driver.",
                column,
                "numeric",
                str(series.dtype),
                bad,
            )
    return names


def _numeric(series: pd.Series) -> np.ndarray:
    return np.asarray(
        pd.to_numeric(series, errors="coerce")
        .astype("float64")
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )


def _check_group(
    y: np.ndarray,
    x: np.ndarray,
    index: pd.Index,
    *,
    outcome: str,
    drivers: list[str],
    model: str,
    where: str,
) -> None:
    n, k = x.shape
    if n < k + 2:
        _raise(
            f"{_TABLE}{where}: {n} complete rows for {k} drivers; a regression on {k} "
            f"drivers needs at least {k + 2} rows (drivers + 2). Use fewer drivers or "
            "more data (or a coarser by=).",
            outcome,
            "rows_at_least_drivers_plus_2",
            n,
            index,
        )
    for j, name in enumerate(drivers):
        if np.ptp(x[:, j]) == 0:
            _raise(
                f"{_TABLE}{where}: driver {shown_name(name)} is constant ({x[0, j]:g} in "
                "every complete row): it explains nothing and its correlations are "
                "undefined. Remove it from drivers.",
                name,
                "not_constant",
                float(x[0, j]),
                index,
            )
    if np.ptp(y) == 0:
        _raise(
            f"{_TABLE}{where}: the outcome {shown_name(outcome)} is constant ({y[0]:g}): "
            "there is no variance to explain.",
            outcome,
            "not_constant",
            float(y[0]),
            index,
        )
    if model == "logistic" and not np.isin(y, (0.0, 1.0)).all():
        bad = index[~np.isin(y, (0.0, 1.0))]
        _raise(
            f"{_TABLE}{where}: a logistic model needs the outcome {shown_name(outcome)} "
            "coded 0/1 (e.g. promoter = 1).",
            outcome,
            "binary_0_1",
            "not 0/1",
            bad,
        )
    corr = _weighted_correlation(x, None)
    eigval, eigvec = np.linalg.eigh(corr)
    if eigval[0] <= _SINGULAR * max(float(eigval[-1]), 1.0) * k:
        involved = [drivers[j] for j in np.nonzero(np.abs(eigvec[:, 0]) > 1e-6)[0]]
        _raise(
            f"{_TABLE}{where}: drivers {involved} are collinear (one is an exact linear "
            "combination of the others: the correlation matrix is singular, smallest "
            f"eigenvalue {eigval[0]:.2g}). Remove one of them, or combine them into one "
            "score.",
            involved[0],
            "not_collinear",
            ", ".join(involved),
            [],
        )


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Groups:
    keys: pd.DataFrame  # one row per group
    fits: list[_Fit | None]  # None: below min_n or drivers + 2 rows: not estimated
    n: np.ndarray
    missing_outcome: np.ndarray
    missing_driver: np.ndarray
    drivers: list[str]
    perms: np.ndarray | None


def _fit_groups(
    data: Any,
    outcome: str,
    drivers: str | Sequence[str],
    *,
    method: str,
    model: str,
    by: str | Sequence[str] | None,
    weights: str | None,
    n_resamples: int,
    random_state: Any,
    min_n: int | None,
    n_permutations: int,
) -> _Groups:
    frame = as_pandas(data, table=_TABLE)
    by_cols = _as_list(by, "by")
    names = _check_arguments(frame, outcome, drivers, by_cols, weights, method, model)
    n_resamples = check_n_resamples(n_resamples, minimum=0)
    n_permutations = check_n_resamples(n_permutations, minimum=2)
    rng = check_random_state(random_state)
    k = len(names)
    perms = None
    if method == "shapley" and k > EXACT_MAX_DRIVERS:
        perms = np.argsort(rng.random((n_permutations, k)), axis=1)
    y_all = _numeric(frame[outcome])
    x_all = np.column_stack([_numeric(frame[c]) for c in names])
    miss_y = ~np.isfinite(y_all)
    miss_x = ~np.isfinite(x_all).all(axis=1) & ~miss_y
    w_all = None
    if weights is not None:
        w_all = _numeric(frame[weights])
        used = ~miss_y & ~miss_x
        bad = used & ~(np.isfinite(w_all) & (w_all > 0))
        if bad.any():
            _raise(
                f"{_TABLE}: weights {shown_name(weights)} must be finite and greater than 0 "
                f"on every complete row; {int(bad.sum())} are not.",
                weights,
                "positive_weight",
                "not > 0",
                frame.index[bad],
            )
    if by_cols:
        codes_frame = frame[by_cols]
        grouped = codes_frame.groupby(by_cols, sort=True, dropna=False, observed=True)
        group_id = grouped.ngroup().to_numpy()
        keys = grouped.size().reset_index()[by_cols]
    else:
        group_id = np.zeros(len(frame), dtype=np.int64)
        keys = pd.DataFrame(index=range(1))
    n_groups = len(keys)
    complete = ~miss_y & ~miss_x
    n = np.bincount(group_id[complete], minlength=n_groups)
    m_y = np.bincount(group_id[miss_y], minlength=n_groups)
    m_x = np.bincount(group_id[miss_x], minlength=n_groups)
    min_n = check_min_n(min_n)
    fits: list[_Fit | None] = []
    for g in range(n_groups):
        rows = np.nonzero(complete & (group_id == g))[0]
        if min_n is not None and len(rows) < min_n:
            fits.append(None)  # hidden anyway: not estimated, no check on its rows
            continue
        if by_cols and len(rows) < len(names) + 2:
            # One group too small for the regression: its row says n and no estimate
            # (the other groups are still estimated); one group alone is an error below.
            fits.append(None)
            continue
        where = ""
        if by_cols:
            label = ", ".join(f"{c}={keys.iloc[g][c]!r}" for c in by_cols)
            where = f" (group {label})"
        y, x = y_all[rows], x_all[rows]
        _check_group(
            y, x, frame.index[rows], outcome=outcome, drivers=names, model=model, where=where
        )
        fits.append(
            _fit_group(
                y,
                x,
                None if w_all is None else w_all[rows],
                method=method,
                model=model,
                n_resamples=n_resamples,
                rng=rng,
                perms=perms,
            )
        )
    return _Groups(keys, fits, n, m_y, m_x, names, perms)


def _ranks(weights: np.ndarray) -> np.ndarray:
    """Rank of each weight along the last axis, 1 = largest (ties share the best)."""
    order = -weights
    return np.asarray((order[..., :, None] > order[..., None, :]).sum(axis=-1) + 1)


def _quantiles(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2.0
    ok = np.isfinite(boot).all(axis=-1)
    if not ok.any():
        nan = np.full(boot.shape[-1], np.nan)
        return nan, nan
    lo, hi = np.quantile(boot[ok], [alpha, 1.0 - alpha], axis=0)
    return lo, hi


def _bca(
    boot: np.ndarray,
    estimate: np.ndarray,
    jack: np.ndarray | None,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected and accelerated (BCa) bootstrap interval of each column.

    Efron (1987); Efron & Tibshirani (1993, ch. 14.3): the bias correction
    :math:`z_0 = \\Phi^{-1}(\\#\\{\\theta^*_b < \\hat\\theta\\} / B)` (ties count
    half), the acceleration :math:`a = \\sum d_g^3 / (6 (\\sum d_g^2)^{3/2})` with
    :math:`d_g = \\bar\\theta_{(\\cdot)} - \\theta_{(g)}` from the delete-a-group
    jackknife, and the percentiles
    :math:`\\Phi(z_0 + (z_0 + z_\\alpha) / (1 - a (z_0 + z_\\alpha)))` of the resamples.
    """
    from scipy.special import ndtr, ndtri

    k = boot.shape[1]
    ok = np.isfinite(boot).all(axis=1)
    nan = np.full(k, np.nan)
    if ok.sum() < 2:
        return nan, nan
    b = boot[ok]
    below = (b < estimate).sum(axis=0) + 0.5 * (b == estimate).sum(axis=0)
    share = np.clip(below / len(b), 0.5 / len(b), 1.0 - 0.5 / len(b))
    z0 = ndtri(share)
    accel = np.zeros(k)
    if jack is not None and np.isfinite(jack).all() and len(jack) > 2:
        d = jack.mean(axis=0) - jack
        denom = 6.0 * (d**2).sum(axis=0) ** 1.5
        with np.errstate(invalid="ignore", divide="ignore"):
            accel = np.where(denom > 0, (d**3).sum(axis=0) / denom, 0.0)
    alpha = (1.0 - confidence) / 2.0
    out = []
    for z_alpha in (ndtri(alpha), ndtri(1.0 - alpha)):
        shifted = z0 + z_alpha
        level = ndtr(z0 + shifted / (1.0 - accel * shifted))
        out.append(np.array([np.quantile(b[:, j], level[j]) for j in range(k)]))
    return out[0], out[1]


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def key_drivers(
    data: Any,
    outcome: str,
    drivers: Sequence[str],
    *,
    method: str = "relative_weights",
    model: str = "linear",
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
    min_n: int | None = None,
    n_permutations: int = 2000,
) -> pd.DataFrame:
    """Key driver analysis: each driver's share of the outcome's explained variance.

    Parameters
    ----------
    data : DataFrame
        Wide table, one row per respondent: the outcome, the drivers (numeric
        columns: scores or 0/1 indicators) and the ``by``/``weights`` columns. Any
        frame narwhals reads (converted to pandas at the door with
        :func:`hxmetrics.tables.as_pandas`; the computation is numpy). From the long
        ``responses`` table, build it with :func:`driver_table`.
    outcome : str
        The outcome column (an overall score; 0/1 with ``model="logistic"``).
    drivers : sequence of str
        The driver columns.
    method : {"relative_weights", "shapley", "dominance"}
        Johnson's (2000) relative weights, the Shapley/LMG decomposition (exact up to
        :data:`EXACT_MAX_DRIVERS` drivers, sampled above), or dominance analysis
        (general dominance weights, with the counts of conditional and complete
        dominance; details in :func:`dominance_analysis`).
    model : {"linear", "logistic"}
        Linear regression (R²) or logistic regression for a 0/1 outcome (McFadden's
        pseudo-R²; ``"shapley"`` and ``"dominance"`` only).
    by : str or sequence of str, optional
        Group columns: one decomposition per group.
    weights : str, optional
        Survey weights: weighted correlations (logistic: weighted likelihood).
    n_resamples : int
        Bootstrap resamples for the intervals (0: no intervals).
    confidence : float
        Level of the intervals (BCa for weights and R², percentile for ranks).
    random_state : int or numpy.random.Generator, optional
        Seed of the bootstrap (and of the sampled orders above 15 drivers).
    min_n : int, optional
        Smallest group shown; smaller groups are neither estimated nor shown.
    n_permutations : int
        Random orders of entry for the sampled Shapley value (more than 15 drivers).
        The bootstrap resamples walk the same orders (common random numbers), so the
        interval reflects sampling of rows, and ``mc_se`` the sampling of orders.

    Returns
    -------
    pandas.DataFrame
        One row per (group, driver), the grouped-result protocol: ``measure``
        (``"key_drivers"``), the ``by`` columns, ``driver``, ``n`` (complete rows),
        ``estimate`` (the raw weight, on the R² scale), ``se`` (bootstrap standard
        deviation), ``ci_low``/``ci_high`` (BCa interval), ``pct_of_r2`` (the
        weight as a percentage of R²; adds up to 100 in a group), ``rank`` (1 = most
        important) with its interval ``rank_low``/``rank_high``, ``r2`` with
        ``r2_ci_low``/``r2_ci_high``, ``driver_mean`` (the driver's mean: its
        "performance"), ``mc_se`` (Monte Carlo standard error of a sampled Shapley
        value; NaN when exact), with ``method="dominance"`` also
        ``n_completely_dominated`` and ``n_conditionally_dominated`` (how many other
        drivers this one dominates), ``n_excluded_missing_outcome``,
        ``n_excluded_missing_driver`` (rows left out: no outcome; an outcome but a
        driver missing) and ``suppressed``. With ``by``, a group with fewer complete
        rows than drivers + 2 is not estimated: its rows show ``n`` and no weights
        (and are hidden when ``min_n`` is set); the other groups are estimated.

    Raises
    ------
    InputTableError
        A driver that is not numeric, constant or collinear with others; fewer complete
        rows than drivers + 2 (without ``by``); non-positive weights; a logistic
        outcome not 0/1.
    ParameterError
        The outcome among the drivers; more than 15 drivers for dominance analysis;
        relative weights with a logistic model; an unknown method.

    References
    ----------
    Johnson (2000); Lindeman, Merenda & Gold (1980); Grömping (2006); Budescu (1993);
    Azen & Budescu (2003); Azen & Traxel (2009); McFadden (1974): see
    :mod:`hxmetrics.measures.drivers`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 3))
    >>> df = pd.DataFrame(x, columns=["ease", "speed", "price"])
    >>> df["overall"] = x @ [0.6, 0.3, 0.1] + rng.normal(size=200)
    >>> res = key_drivers(df, "overall", ["ease", "speed", "price"], n_resamples=200,
    ...                   random_state=1)
    >>> res[["driver", "rank"]].to_string(index=False)
    'driver  rank\\n  ease     1\\n speed     2\\n price     3'
    >>> bool(np.isclose(res["estimate"].sum(), res["r2"].iloc[0]))
    True
    """
    confidence = check_confidence(confidence)
    groups = _fit_groups(
        data,
        outcome,
        drivers,
        method=method,
        model=model,
        by=by,
        weights=weights,
        n_resamples=n_resamples,
        random_state=random_state,
        min_n=min_n,
        n_permutations=n_permutations,
    )
    return _tidy(
        groups,
        method=method,
        model=model,
        confidence=confidence,
        min_n=min_n,
        n_resamples=n_resamples,
        weighted=weights is not None,
    )


def _tidy(
    groups: _Groups,
    *,
    method: str,
    model: str,
    confidence: float,
    min_n: int | None,
    n_resamples: int,
    weighted: bool,
) -> pd.DataFrame:
    names = groups.drivers
    k = len(names)
    n_groups = len(groups.keys)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in _TIDY_COLUMNS}
    failed = 0
    for fit in groups.fits:
        nan = np.full(k, np.nan)
        if fit is None:
            for c in cols:
                cols[c].append(nan)
            continue
        w = fit.weights
        cols["estimate"].append(w)
        ok = np.isfinite(fit.boot).all(axis=1)
        failed += int((~ok).sum())
        cols["se"].append(fit.boot[ok].std(axis=0, ddof=1) if ok.sum() > 1 else nan)
        lo, hi = _bca(fit.boot, w, fit.jack, confidence)
        cols["ci_low"].append(lo)
        cols["ci_high"].append(hi)
        cols["pct_of_r2"].append(100.0 * w / fit.r2)
        cols["rank"].append(_ranks(w).astype(float))
        rlo, rhi = _quantiles(_ranks(fit.boot[ok]).astype(float), confidence)
        cols["rank_low"].append(np.floor(rlo))
        cols["rank_high"].append(np.ceil(rhi))
        cols["r2"].append(np.full(k, fit.r2))
        jr2 = None if fit.jack_r2 is None else fit.jack_r2[:, None]
        r2lo, r2hi = _bca(fit.boot_r2[:, None], np.array([fit.r2]), jr2, confidence)
        cols["r2_ci_low"].append(np.full(k, r2lo[0]))
        cols["r2_ci_high"].append(np.full(k, r2hi[0]))
        cols["driver_mean"].append(fit.means)
        cols["mc_se"].append(fit.mc_se)
        if method == "dominance" and fit.subsets is not None:
            values = fit.subsets[None]
            comp = _complete_from_subsets(values, k)[0]
            cond = _conditional_from_subsets(values, k)[0]
            cols["n_completely_dominated"].append(np.nansum(comp == 1.0, axis=1).astype(float))
            cdom = (cond[:, None, :] > cond[None, :, :]).all(axis=2)
            cols["n_conditionally_dominated"].append(cdom.sum(axis=1).astype(float))
        else:
            cols["n_completely_dominated"].append(nan)
            cols["n_conditionally_dominated"].append(nan)
    flat = {c: np.concatenate(v) if v else np.zeros(0) for c, v in cols.items()}
    keys = groups.keys.loc[np.repeat(np.arange(n_groups), k)].reset_index(drop=True)
    keys["driver"] = pd.array(names * n_groups, dtype="string")
    extra: dict[str, Any] = {
        "pct_of_r2": flat["pct_of_r2"],
        "rank": _int_or_na(flat["rank"]),
        "rank_low": _int_or_na(flat["rank_low"]),
        "rank_high": _int_or_na(flat["rank_high"]),
        "r2": flat["r2"],
        "r2_ci_low": flat["r2_ci_low"],
        "r2_ci_high": flat["r2_ci_high"],
        "driver_mean": flat["driver_mean"],
        "mc_se": flat["mc_se"],
    }
    if method == "dominance":
        extra["n_completely_dominated"] = _int_or_na(flat["n_completely_dominated"])
        extra["n_conditionally_dominated"] = _int_or_na(flat["n_conditionally_dominated"])
    exact = method != "shapley" or k <= EXACT_MAX_DRIVERS
    fit_statistic = "r2" if model == "linear" else "mcfadden_pseudo_r2"
    result = grouped_result(
        keys,
        measure=_MEASURE,
        n=np.repeat(groups.n, k),
        estimate=flat["estimate"],
        se=flat["se"],
        ci_low=flat["ci_low"],
        ci_high=flat["ci_high"],
        confidence=confidence,
        method="bootstrap_bca",
        min_n=min_n,
        extra=extra,
        excluded={
            "missing_outcome": np.repeat(groups.missing_outcome, k),
            "missing_driver": np.repeat(groups.missing_driver, k),
        },
        meta={
            "decomposition": method,
            "group_by": [str(c) for c in groups.keys.columns],
            "model": model,
            "fit_statistic": fit_statistic,
            "exact": exact,
            "n_permutations": None if exact or groups.perms is None else len(groups.perms),
            "n_resamples": n_resamples,
            "n_resamples_failed": failed,
            "drivers": list(names),
            "weighted": weighted,
            "bounds": (0.0, 1.0),
        },
    )
    _count_groups_once(result, k)
    return result


def _count_groups_once(result: pd.DataFrame, k: int) -> None:
    """attrs' exclusion totals count each shown group once (not once per driver row)."""
    first = result.iloc[::k]
    meta = result.attrs["hxmetrics"]
    meta["excluded"] = {
        reason: int(first[f"n_excluded_{reason}"].sum(skipna=True)) for reason in meta["excluded"]
    }


def _int_or_na(values: np.ndarray) -> pd.arrays.IntegerArray:
    finite = np.isfinite(values)
    return pd.arrays.IntegerArray(np.where(finite, values, 0).astype(np.int64), ~finite)


# ---------------------------------------------------------------------------
# Dominance analysis
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DominanceResult(DataclassDisplay):
    """Dominance analysis (Budescu 1993; Azen & Budescu 2003) of one or more groups.

    Attributes
    ----------
    general : pandas.DataFrame
        General dominance weights: the :func:`key_drivers` table with
        ``method="dominance"`` (equal to the Shapley values; they add up to R²).
    conditional : pandas.DataFrame
        Conditional dominance statistics: rows (``by`` columns and) ``driver``,
        columns ``0, 1, ..., k - 1`` (the number of other drivers already in the
        model): the mean gain in R² the driver brings to the models of that size
        that lack it. A driver conditionally dominates another when its row is larger
        in every column.
    complete : pandas.DataFrame
        Complete dominance designations, a driver x driver table per group (rows
        (``by`` columns and) ``driver``, columns the drivers): 1 where the row driver
        adds more than the column driver to every model holding neither, 0 where it
        adds less to every one, 0.5 where neither dominates; NaN on the diagonal.
    complete_reproducibility : pandas.DataFrame
        Same shape: the bootstrap mean of the designation (Azen & Budescu 2003's
        expected dominance; NaN without resamples).
    fit_statistic : str
        ``"r2"`` or ``"mcfadden_pseudo_r2"``.
    n_suppressed : int
        Groups under ``min_n`` left out of ``conditional`` and ``complete`` (their
        rows in ``general`` are suppressed).
    """

    general: pd.DataFrame
    conditional: pd.DataFrame
    complete: pd.DataFrame
    complete_reproducibility: pd.DataFrame
    fit_statistic: str
    n_suppressed: int

    def summary(self) -> pd.DataFrame:
        """The general dominance table (the :func:`key_drivers` result)."""
        return self.general

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Conditional dominance: each driver's mean gain by model size (first group)."""
        from hxmetrics.plotting import _axes

        axes = _axes(ax, 6.4, 3.6)
        table = self.conditional
        # The first group's rows (k drivers = k columns); the driver is the last level.
        table = table.iloc[: table.shape[1]]
        if isinstance(table.index, pd.MultiIndex):
            table = table.set_axis(table.index.get_level_values(-1), axis=0)
        for driver, row in table.iterrows():
            axes.plot(row.index.astype(int), row.to_numpy(float), marker="o", label=str(driver))
        axes.set_xlabel("other drivers already in the model")
        axes.set_ylabel(f"mean gain in {self.fit_statistic}")
        axes.set_title("Conditional dominance")
        axes.legend(fontsize="small")
        return axes


def dominance_analysis(
    data: Any,
    outcome: str,
    drivers: Sequence[str],
    *,
    model: str = "linear",
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
    min_n: int | None = None,
) -> DominanceResult:
    """General, conditional and complete dominance of drivers (up to 15 drivers).

    Parameters are those of :func:`key_drivers` (``method="dominance"``).

    Returns
    -------
    DominanceResult
        ``general`` (the tidy table), ``conditional`` (mean gain by model size),
        ``complete`` (driver x driver designations) and their bootstrap
        reproducibility.

    References
    ----------
    Budescu, D. V. (1993). Psychological Bulletin 114, 542-551. Azen, R. & Budescu,
    D. V. (2003). Psychological Methods 8, 129-148. Azen, R. & Traxel, N. (2009).
    Journal of Educational and Behavioral Statistics 34, 319-347.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 3))
    >>> df = pd.DataFrame(x, columns=["ease", "speed", "price"])
    >>> df["overall"] = x @ [0.6, 0.3, 0.1] + rng.normal(size=300)
    >>> res = dominance_analysis(df, "overall", ["ease", "speed", "price"], n_resamples=50,
    ...                          random_state=1)
    >>> res.complete.loc["ease"].tolist()
    [nan, 1.0, 1.0]
    """
    confidence = check_confidence(confidence)
    groups = _fit_groups(
        data,
        outcome,
        drivers,
        method="dominance",
        model=model,
        by=by,
        weights=weights,
        n_resamples=n_resamples,
        random_state=random_state,
        min_n=min_n,
        n_permutations=2,
    )
    general = _tidy(
        groups,
        method="dominance",
        model=model,
        confidence=confidence,
        min_n=min_n,
        n_resamples=n_resamples,
        weighted=weights is not None,
    )
    names = groups.drivers
    k = len(names)
    by_cols = [str(c) for c in groups.keys.columns]
    shown = _shown_groups(general, by_cols, k)
    cond_parts, comp_parts, rep_parts, index_parts = [], [], [], []
    for g, fit in enumerate(groups.fits):
        if fit is None or fit.subsets is None or not shown[g]:
            continue
        values = fit.subsets[None]
        cond_parts.append(_conditional_from_subsets(values, k)[0])
        comp_parts.append(_complete_from_subsets(values, k)[0])
        if fit.boot_subsets is not None and np.isfinite(fit.boot_subsets).all(axis=1).any():
            ok = np.isfinite(fit.boot_subsets).all(axis=1)
            rep_parts.append(_complete_from_subsets(fit.boot_subsets[ok], k).mean(axis=0))
        else:
            rep_parts.append(np.full((k, k), np.nan))
        index_parts.append(g)
    index = _driver_index(groups.keys, index_parts, by_cols, names)

    def stack(parts: list[np.ndarray], columns: Any) -> pd.DataFrame:
        arr = np.concatenate(parts) if parts else np.zeros((0, len(columns)))
        frame = pd.DataFrame(arr, index=index, columns=columns)
        return frame

    sizes = pd.Index(range(k), name="n_other_drivers")
    others = pd.Index(names, name="over")
    return DominanceResult(
        general=general,
        conditional=stack(cond_parts, sizes),
        complete=stack(comp_parts, others),
        complete_reproducibility=stack(rep_parts, others),
        fit_statistic="r2" if model == "linear" else "mcfadden_pseudo_r2",
        n_suppressed=int(len(groups.fits) - len(index_parts)),
    )


def _shown_groups(result: pd.DataFrame, by_cols: list[str], k: int) -> np.ndarray:
    """Whether each group (in the fit's order) is shown in the tidy result."""
    flags = result["suppressed"].to_numpy(bool).reshape(-1, k)
    return np.asarray(~flags.any(axis=1))


def _driver_index(
    keys: pd.DataFrame, groups: list[int], by_cols: list[str], names: list[str]
) -> pd.Index:
    if not by_cols:
        return pd.Index(names * len(groups), name="driver")
    rows = keys.iloc[np.repeat(groups, len(names))].reset_index(drop=True)
    rows["driver"] = names * len(groups)
    return pd.MultiIndex.from_frame(rows)


# ---------------------------------------------------------------------------
# Group comparison
# ---------------------------------------------------------------------------


def compare_key_drivers(
    data: Any,
    outcome: str,
    drivers: Sequence[str],
    *,
    by: str | Sequence[str],
    reference: Any = None,
    method: str = "relative_weights",
    model: str = "linear",
    weights: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
    min_n: int | None = None,
    n_permutations: int = 2000,
) -> pd.DataFrame:
    """Difference of each driver's weight between each group and a reference group.

    Does the same thing drive customers, workers and partners? Each group's weights are
    estimated as in :func:`key_drivers`; the difference ``weight(group) -
    weight(reference)`` has a bootstrap percentile interval from independent resamples
    of the two groups (rows resampled within each group), and a two-sided bootstrap
    p-value (twice the smaller share of resampled differences on either side of 0,
    counted as ``(1 + count) / (B + 1)``).

    Parameters
    ----------
    by : str or sequence of str
        The group columns.
    reference : scalar or tuple, optional
        The reference group's value (a tuple with several ``by`` columns); default the
        first group in sorted order.
    Other parameters
        As :func:`key_drivers`.

    Returns
    -------
    pandas.DataFrame
        One row per (group other than the reference, driver): ``measure``
        (``"key_driver_difference"``), the ``by`` columns, ``driver``, ``n``,
        ``estimate`` (the difference), ``se``, ``ci_low``, ``ci_high``, ``weight``,
        ``weight_reference``, ``n_reference``, ``p_value``, the exclusion counts and
        ``suppressed`` (also True when the reference group is hidden).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2))
    >>> role = np.repeat(["customer", "worker"], 200)
    >>> slope = np.where(role == "worker", 0.1, 0.7)
    >>> df = pd.DataFrame({"role": role, "ease": x[:, 0], "pay": x[:, 1]})
    >>> df["overall"] = slope * x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=400)
    >>> out = compare_key_drivers(df, "overall", ["ease", "pay"], by="role",
    ...                           n_resamples=200, random_state=1)
    >>> out.loc[out.driver == "ease", "ci_high"].item() < 0
    True
    """
    confidence = check_confidence(confidence)
    if by is None:
        raise ParameterError("compare_key_drivers needs by= (the groups to compare).")
    groups = _fit_groups(
        data,
        outcome,
        drivers,
        method=method,
        model=model,
        by=by,
        weights=weights,
        n_resamples=n_resamples,
        random_state=random_state,
        min_n=min_n,
        n_permutations=n_permutations,
    )
    names = groups.drivers
    k = len(names)
    by_cols = [str(c) for c in groups.keys.columns]
    tidy = _tidy(
        groups,
        method=method,
        model=model,
        confidence=confidence,
        min_n=min_n,
        n_resamples=n_resamples,
        weighted=weights is not None,
    )
    shown = _shown_groups(tidy, by_cols, k)
    labels = [tuple(row) for row in groups.keys.itertuples(index=False, name=None)]
    if reference is None:
        ref = 0
    else:
        wanted = reference if isinstance(reference, tuple) else (reference,)
        matches = [g for g, lab in enumerate(labels) if lab == wanted]
        if not matches:
            raise ParameterError(
                f"reference {reference!r} is not a group of {by_cols}; groups: "
                f"{[lab[0] if len(lab) == 1 else lab for lab in labels][:10]}."
            )
        ref = matches[0]
    others = [g for g in range(len(labels)) if g != ref]
    if not others:
        raise ParameterError("compare_key_drivers needs at least two groups in by=.")
    alpha = (1.0 - confidence) / 2.0
    ref_fit = groups.fits[ref] if shown[ref] else None
    cols: dict[str, list[np.ndarray]] = {
        c: [] for c in ("estimate", "se", "ci_low", "ci_high", "weight", "p_value")
    }
    for g in others:
        fit = groups.fits[g]
        nan = np.full(k, np.nan)
        if fit is None or ref_fit is None:
            for c in cols:
                cols[c].append(nan)
            continue
        diff = fit.boot - ref_fit.boot
        ok = np.isfinite(diff).all(axis=1)
        cols["estimate"].append(fit.weights - ref_fit.weights)
        cols["weight"].append(fit.weights)
        if ok.sum() > 1:
            d = diff[ok]
            cols["se"].append(d.std(axis=0, ddof=1))
            lo, hi = np.quantile(d, [alpha, 1.0 - alpha], axis=0)
            cols["ci_low"].append(lo)
            cols["ci_high"].append(hi)
            # (1 + count) / (B + 1): a bootstrap p-value is never 0 (Davison & Hinkley
            # 1997, eq. 4.11).
            tail = np.minimum((d <= 0).sum(axis=0), (d >= 0).sum(axis=0))
            p = 2.0 * (1.0 + tail) / (len(d) + 1.0)
            cols["p_value"].append(np.minimum(p, 1.0))
        else:
            for c in ("se", "ci_low", "ci_high", "p_value"):
                cols[c].append(nan)
    flat = {c: np.concatenate(v) for c, v in cols.items()}
    keys = groups.keys.iloc[np.repeat(others, k)].reset_index(drop=True)
    keys["driver"] = pd.array(names * len(others), dtype="string")
    ref_weights = np.full(k, np.nan) if ref_fit is None else ref_fit.weights
    ref_label = labels[ref][0] if len(labels[ref]) == 1 else labels[ref]
    out = grouped_result(
        keys,
        measure="key_driver_difference",
        n=np.repeat(groups.n[others], k),
        estimate=flat["estimate"],
        se=flat["se"],
        ci_low=flat["ci_low"],
        ci_high=flat["ci_high"],
        confidence=confidence,
        method="bootstrap_percentile",
        min_n=min_n,
        extra={
            "weight": flat["weight"],
            "weight_reference": np.tile(ref_weights, len(others)),
            "n_reference": np.full(len(keys), groups.n[ref], dtype=np.int64),
            "p_value": flat["p_value"],
        },
        excluded={
            "missing_outcome": np.repeat(groups.missing_outcome[others], k),
            "missing_driver": np.repeat(groups.missing_driver[others], k),
        },
        meta={
            "decomposition": method,
            "model": model,
            "reference": ref_label,
            "test": "bootstrap",
            "drivers": list(names),
            "n_resamples": n_resamples,
        },
    )
    _count_groups_once(out, k)
    hide = (~np.repeat(shown[others], k)) | (ref_fit is None)
    if hide.any():
        numbers = [c for c in out.columns if c not in {"measure", "driver", *by_cols}]
        numbers = [c for c in numbers if c != "suppressed"]
        for c in numbers:
            out.loc[hide, c] = pd.NA if isinstance(out[c].dtype, pd.Int64Dtype) else np.nan
        out.loc[hide, "suppressed"] = True
    return out


# ---------------------------------------------------------------------------
# Importance x performance
# ---------------------------------------------------------------------------


def plot_key_drivers(result: pd.DataFrame, *, group: Any = None, ax: Axes | None = None) -> Axes:
    """Importance x performance quadrant chart of a :func:`key_drivers` result.

    Each driver is a point: performance (the driver's mean, ``driver_mean``) across,
    importance (its share of R², ``pct_of_r2``) up; dashed lines at the drivers'
    average performance and average importance split the chart into the four
    quadrants of importance-performance analysis (Martilla & James 1977): high
    importance and low performance is where to act first.

    Parameters
    ----------
    result : pandas.DataFrame
        A :func:`key_drivers` result.
    group : scalar or tuple, optional
        Which group to draw when the result has ``by`` columns (required then, unless
        there is only one group shown).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if None.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Martilla, J. A. & James, J. C. (1977). Importance-performance analysis. Journal of
    Marketing 41(1), 77-79.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(3, 1, size=(200, 3))
    >>> df = pd.DataFrame(x, columns=["ease", "speed", "price"])
    >>> df["overall"] = x @ [0.6, 0.3, 0.1] + rng.normal(size=200)
    >>> res = key_drivers(df, "overall", ["ease", "speed", "price"], n_resamples=0)
    >>> plot_key_drivers(res).get_xlabel()
    'performance (driver mean)'
    """
    from hxmetrics.plotting import _axes

    meta = result.attrs.get("hxmetrics", {}) if isinstance(result, pd.DataFrame) else {}
    if not isinstance(meta, dict) or meta.get("measure") != _MEASURE:
        raise ParameterError("plot_key_drivers expects a key_drivers() result.")
    by_cols = list(meta.get("group_by", []))
    frame = result[~result["suppressed"].to_numpy(bool)]
    if by_cols:
        labels = frame[by_cols].drop_duplicates()
        if group is None:
            if len(labels) != 1:
                raise ParameterError(
                    f"the result has {len(labels)} groups shown; choose one with group=."
                )
            wanted = tuple(labels.iloc[0])
        else:
            wanted = group if isinstance(group, tuple) else (group,)
        mask = np.ones(len(frame), dtype=bool)
        for c, v in zip(by_cols, wanted, strict=False):
            mask &= (frame[c] == v).to_numpy(bool)
        frame = frame[mask]
    if frame.empty:
        raise ParameterError("no group shown to plot (suppressed or not in the result).")
    axes = _axes(ax, 6.4, 4.8)
    x = frame["driver_mean"].to_numpy(float)
    y = frame["pct_of_r2"].to_numpy(float)
    axes.scatter(x, y, zorder=3)
    for xi, yi, name in zip(x, y, frame["driver"].astype(str), strict=True):
        axes.annotate(name, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize="small")
    axes.axvline(float(np.mean(x)), linestyle="--", linewidth=0.8, color="grey")
    axes.axhline(float(np.mean(y)), linestyle="--", linewidth=0.8, color="grey")
    corners = (
        (0.02, 0.98, "concentrate here", "left", "top"),
        (0.98, 0.98, "keep up the good work", "right", "top"),
        (0.02, 0.02, "low priority", "left", "bottom"),
        (0.98, 0.02, "possible overkill", "right", "bottom"),
    )
    for cx, cy, text, ha, va in corners:
        axes.text(
            cx, cy, text, transform=axes.transAxes, ha=ha, va=va, fontsize="x-small", color="grey"
        )
    axes.set_xlabel("performance (driver mean)")
    axes.set_ylabel("importance (% of R²)")
    title = "Key drivers: importance x performance"
    if by_cols:
        title += f" ({', '.join(str(v) for v in frame[by_cols].iloc[0])})"
    axes.set_title(title)
    return axes


# ---------------------------------------------------------------------------
# From the long responses table
# ---------------------------------------------------------------------------


def driver_table(
    responses: Any,
    outcome: str | tuple[str, str],
    drivers: str | tuple[str, str] | Sequence[str | tuple[str, str]],
    *,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """The wide table :func:`key_drivers` reads, from the long ``responses`` table.

    One row per ``response_id`` (one questionnaire answered), one column per item:
    the outcome's and the drivers' scores side by side. An item not answered in a
    response is NaN there (``key_drivers`` counts such rows in its exclusions).

    Parameters
    ----------
    responses : DataFrame
        The contract's ``responses`` table (``response_id``, ``instrument``, ``item``,
        ``score``, ...), possibly attributed (``person_id``, ``role``); any frame
        narwhals reads (converted with :func:`hxmetrics.tables.as_pandas`).
    outcome : str or (instrument, item)
        The outcome item: ``("nps", "ltr")``, or an item name found in one instrument.
    drivers : str, (instrument, item) or a list of them
        Driver items; a string naming an instrument stands for all its items.
    by : str or sequence of str, optional
        Columns carried over (``silo``, ``role``, ``touchpoint``, ...): each must hold
        one value per response.
    weights : str, optional
        A weight column carried over (one value per response).

    Returns
    -------
    pandas.DataFrame
        ``response_id``, the ``by`` and ``weights`` columns, then one column per item
        named by the item (``instrument.item`` where two instruments share an item
        name), the outcome first. ``attrs["hxmetrics"]["columns"]`` maps each column to
        its (instrument, item).

    Raises
    ------
    InputTableError
        An item answered twice in one response; a ``by``/``weights`` column with two
        values in one response.
    ParameterError
        An item or instrument not in the table.

    Examples
    --------
    >>> import pandas as pd
    >>> responses = pd.DataFrame({
    ...     "response_id": ["r1", "r1", "r1", "r2", "r2", "r2"],
    ...     "silo": ["workers"] * 6,
    ...     "instrument": ["nps", "hx", "hx"] * 2,
    ...     "item": ["ltr", "hx1", "hx2"] * 2,
    ...     "score": [9, 4, 5, 3, 2, 2],
    ... })
    >>> driver_table(responses, ("nps", "ltr"), "hx", by="silo")
      response_id     silo  ltr  hx1  hx2
    0          r1  workers  9.0  4.0  5.0
    1          r2  workers  3.0  2.0  2.0
    """
    table = "responses"
    frame = as_pandas(responses, table=table)
    by_cols = _as_list(by, "by")
    carry = by_cols + ([weights] if weights else [])
    check_columns(
        frame.columns, ["response_id", "instrument", "item", "score", *carry], table=table
    )
    pairs = frame[["instrument", "item"]].drop_duplicates()
    instruments = set(pairs["instrument"].astype(str))

    def resolve(spec: Any, what: str) -> list[tuple[str, str]]:
        if isinstance(spec, tuple) and len(spec) == 2:
            inst, item = str(spec[0]), str(spec[1])
            hit = (pairs["instrument"].astype(str) == inst) & (pairs["item"].astype(str) == item)
            if not hit.any():
                raise ParameterError(f"{what}: no item {spec!r} (instrument, item) in responses.")
            return [(inst, item)]
        if isinstance(spec, str):
            if spec in instruments:
                items = pairs.loc[pairs["instrument"].astype(str) == spec, "item"].astype(str)
                return [(spec, i) for i in sorted(items)]
            owners = pairs.loc[pairs["item"].astype(str) == spec, "instrument"].astype(str)
            if len(owners) == 1:
                return [(owners.iloc[0], spec)]
            if len(owners) > 1:
                raise ParameterError(
                    f"{what}: item {spec!r} is in several instruments {sorted(owners)}; "
                    "name it as (instrument, item)."
                )
            raise ParameterError(
                f"{what}: {spec!r} is neither an instrument nor an item of responses."
                + did_you_mean(spec, sorted(instruments | set(pairs["item"].astype(str))))
            )
        raise ParameterError(f"{what}: expected a name or (instrument, item); got {spec!r}.")

    wanted = resolve(outcome, "outcome")
    if len(wanted) != 1:
        raise ParameterError("outcome must be one item, e.g. ('nps', 'ltr').")
    specs = [drivers] if isinstance(drivers, (str, tuple)) else list(drivers)
    for spec in specs:
        wanted += [p for p in resolve(spec, "drivers") if p not in wanted]
    item_names = [i for _, i in wanted]
    names = [i if item_names.count(i) == 1 else f"{inst}.{i}" for inst, i in wanted]
    label = pd.Series(names, index=pd.MultiIndex.from_tuples(wanted, names=["instrument", "item"]))
    keyed = frame.assign(_inst=frame["instrument"].astype(str), _item=frame["item"].astype(str))
    keyed = keyed.join(label.rename("_column"), on=["_inst", "_item"])
    keyed = keyed[keyed["_column"].notna()]
    dup = keyed.duplicated(["response_id", "_column"], keep=False)
    if dup.any():
        _raise_table(
            table,
            f"{table}: {int(dup.sum())} rows answer the same item twice in one response "
            "(one answer per response_id, instrument and item is expected).",
            "item",
            "one_answer_per_item",
            keyed.index[dup],
        )
    for c in carry:
        counts = keyed.groupby("response_id", sort=False)[c].nunique(dropna=False)
        bad = counts[counts > 1]
        if len(bad):
            rows = keyed.index[keyed["response_id"].isin(bad.index)]
            _raise_table(
                table,
                f"{table}: column {shown_name(c)} has more than one value within "
                f"{len(bad)} responses; a by/weights column must hold one value per "
                "response.",
                c,
                "one_value_per_response",
                rows,
            )
    wide = keyed.pivot(index="response_id", columns="_column", values="score")
    wide = wide.reindex(columns=names).astype("float64")
    wide.columns.name = None
    first = keyed.groupby("response_id", sort=False)[carry].first() if carry else None
    out = wide.reset_index()
    if first is not None:
        out = out.merge(first.reset_index(), on="response_id", how="left")
        out = out[["response_id", *carry, *names]]
    out.attrs["hxmetrics"] = {"columns": dict(zip(names, wanted, strict=True))}
    return out


def _raise_table(table: str, message: str, column: str, check: str, index: Any) -> None:
    raise InputTableError(message, table=table, failure_cases=_cases(column, check, "", index))
