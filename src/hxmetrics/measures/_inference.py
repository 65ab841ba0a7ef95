"""Shared interval and test machinery, on small aggregated arrays.

Everything here is vectorised over groups: the arguments are numpy arrays (one
entry per group) and so are the results. Nothing here touches rows.

* the shared checks of the options every measure takes: :func:`check_confidence`,
  :func:`check_n_resamples`, :func:`check_random_state` (``min_n``:
  :func:`hxmetrics.privacy.check_min_n`);
* critical values: :func:`z_critical`, :func:`t_critical`;
* shares: :func:`wald_interval`, :func:`wilson_interval`, :func:`agresti_coull_interval`
  (Agresti & Coull's "adjusted Wald");
* means: :func:`t_interval`;
* survey weights: :func:`kish` (effective n and design effect),
  :func:`linearised_share_variance`, :func:`linearised_mean_variance`,
  :func:`effective_n`;
* tests and multiplicity: :func:`z_test`, :func:`welch_df`, :func:`holm`,
  :func:`benjamini_hochberg`, :func:`adjust_pvalues`.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
inference. JASA 22, 209-212.
Agresti, A. & Coull, B. A. (1998). Approximate is better than "exact" for interval
estimation of binomial proportions. The American Statistician 52, 119-126.
Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion:
comparison of seven methods. Statistics in Medicine 17, 857-872.
Kish, L. (1965). Survey Sampling. Wiley. (effective sample size, design effect)
Korn, E. L. & Graubard, B. I. (1998). Confidence intervals for proportions with small
expected number of positive counts estimated from survey data. Survey Methodology 24.
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
Scandinavian Journal of Statistics 6, 65-70.
Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57,
289-300.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hxmetrics.errors import ParameterError, check_choice

__all__ = [
    "CORRECTIONS",
    "RandomState",
    "adjust_pvalues",
    "agresti_coull_interval",
    "benjamini_hochberg",
    "cancel_rounding",
    "check_confidence",
    "check_n_resamples",
    "check_random_state",
    "effective_n",
    "holm",
    "kish",
    "linearised_mean_variance",
    "linearised_share_variance",
    "t_critical",
    "t_interval",
    "wald_interval",
    "weight_scale",
    "welch_df",
    "wilson_interval",
    "z_critical",
    "z_test",
]

CORRECTIONS = ("holm", "bh", "none")

#: What ``random_state=`` accepts everywhere: None (fresh entropy), a non-negative int
#: seed, or a :class:`numpy.random.Generator` (used as is, so draws continue from it).
RandomState = int | np.random.Generator | None


def check_confidence(confidence: Any) -> float:
    """Return ``confidence`` as a float in (0, 1) or raise :class:`ParameterError`."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise ParameterError(
            f"confidence must be a number between 0 and 1 (e.g. 0.95); got {confidence!r}."
        ) from None
    if not 0.0 < value < 1.0:
        raise ParameterError(
            f"confidence must lie strictly between 0 and 1 (e.g. 0.95); got {confidence!r}."
        )
    return value


def check_n_resamples(n_resamples: Any, *, minimum: int = 1) -> int:
    """Return ``n_resamples`` as an int >= ``minimum`` or raise :class:`ParameterError`.

    Examples
    --------
    >>> check_n_resamples(2000)
    2000
    >>> check_n_resamples(10.0)
    Traceback (most recent call last):
    ...
    hxmetrics.errors.ParameterError: n_resamples must be a whole number >= 1 (e.g. 2000); got 10.0.
    """
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, int | np.integer)
        or n_resamples < minimum
    ):
        raise ParameterError(
            f"n_resamples must be a whole number >= {minimum} (e.g. 2000); got {n_resamples!r}."
        )
    return int(n_resamples)


def check_random_state(random_state: Any) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``random_state`` (see :data:`RandomState`).

    An int seeds a new generator (the same int, the same draws); a Generator is
    returned as is; None draws fresh entropy. Anything else (a float, a bool, a legacy
    ``numpy.random.RandomState``) raises :class:`ParameterError`.

    Examples
    --------
    >>> a = check_random_state(7).integers(1000, size=3)
    >>> b = check_random_state(7).integers(1000, size=3)
    >>> bool((a == b).all())
    True
    >>> rng = np.random.default_rng(1)
    >>> check_random_state(rng) is rng
    True
    """
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    seed = isinstance(random_state, int | np.integer) and not isinstance(random_state, bool)
    if seed and random_state >= 0:
        return np.random.default_rng(int(random_state))
    hint = (
        " Hint: numpy.random.default_rng(seed) replaces the legacy RandomState."
        if isinstance(random_state, np.random.RandomState)
        else ""
    )
    raise ParameterError(
        "random_state must be None, a non-negative int seed or a numpy.random.Generator; "
        f"got {random_state!r}.{hint}"
    )


def z_critical(confidence: float) -> float:
    """Two-sided standard normal critical value: 1.959964 for 0.95."""
    from scipy import stats  # imported when used: scipy.stats costs ~0.5 s to import

    return float(stats.norm.ppf(0.5 + check_confidence(confidence) / 2.0))


def t_critical(confidence: float, df: np.ndarray | float) -> np.ndarray:
    """Two-sided Student t critical values (NaN where ``df`` < 1)."""
    from scipy import stats  # imported when used: scipy.stats costs ~0.5 s to import

    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        out = stats.t.ppf(0.5 + check_confidence(confidence) / 2.0, np.where(df >= 1, df, np.nan))
    return np.asarray(out, dtype=float)


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def wald_interval(p: Any, n: Any, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wald interval for a share: ``p ± z sqrt(p(1-p)/n)``, clipped to [0, 1].

    Returns ``(se, low, high)``; NaN where ``n`` is 0.
    """
    p, n = _arr(p), _arr(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.clip(p * (1 - p), 0, None) / n)
    se = np.where(n > 0, se, np.nan)
    return se, np.clip(p - z * se, 0, 1), np.clip(p + z * se, 0, 1)


def wilson_interval(p: Any, n: Any, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score interval for a share observed as ``p`` out of ``n``.

    ``n`` may be an effective sample size (not an integer) for weighted data.
    NaN where ``n`` is 0.

    Examples
    --------
    Newcombe (1998), Table I: 81 of 263 gives 0.2553 to 0.3662.

    >>> lo, hi = wilson_interval(81 / 263, 263, 1.959964)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    p, n = _arr(p), _arr(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        z2n = z * z / n
        centre = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(np.clip(p * (1 - p), 0, None) / n + z2n / (4 * n))
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def agresti_coull_interval(p: Any, n: Any, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Agresti & Coull (1998) adjusted Wald: add z²/2 successes and z²/2 failures.

    Returns ``(se, low, high)`` with ``se`` the adjusted standard error; clipped to
    [0, 1]; NaN where ``n`` is 0.
    """
    p, n = _arr(p), _arr(n)
    n_adj = n + z * z
    p_adj = (p * n + z * z / 2) / n_adj
    se = np.sqrt(p_adj * (1 - p_adj) / n_adj)
    se = np.where(n > 0, se, np.nan)
    return se, np.clip(p_adj - z * se, 0, 1), np.clip(p_adj + z * se, 0, 1)


def t_interval(mean: Any, se: Any, df: Any, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """``mean ± t(df) se``; NaN where ``df`` < 1."""
    mean, se = _arr(mean), _arr(se)
    t = t_critical(confidence, df)
    return mean - t * se, mean + t * se


def kish(sum_w: Any, sum_w2: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kish (1965) effective sample size and design effect due to weighting.

    ``n_eff = (Σw)² / Σw²`` and ``deff = n Σw² / (Σw)² = 1 + CV²(w)`` (the CV with
    the population variance of the weights). Unit weights give ``n_eff = n`` and
    ``deff = 1``.

    Examples
    --------
    Weights 1, 2, 3, 4: Σw = 10, Σw² = 30, so n_eff = 100/30 and deff = 120/100,
    and CV² = 1.25 / 2.5² = 0.2.

    >>> n_eff, deff = kish(10.0, 30.0, 4)
    >>> round(float(n_eff), 4), round(float(deff), 4)
    (3.3333, 1.2)
    """
    sum_w, sum_w2, n = _arr(sum_w), _arr(sum_w2), _arr(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(sum_w2 > 0, sum_w * sum_w / sum_w2, np.nan)
        deff = np.where(sum_w > 0, n * sum_w2 / (sum_w * sum_w), np.nan)
    return n_eff, deff


#: Groups whose weights total more than this are rescaled to a total of 1 before
#: finishing: the formulas multiply Σw by itself, which overflows above 1.3e154.
RESCALE_ABOVE = 1e100


def weight_scale(sum_w: Any) -> np.ndarray:
    """Per group, the factor ``c`` to divide first-order weighted sums by (``c²`` for Σw²...).

    Survey weights matter only relative to each other: every estimate, standard error
    and design effect is unchanged when all weights of a group are multiplied by one
    constant. Groups whose weights total more than :data:`RESCALE_ABOVE` get ``c = Σw``
    (a total of 1 afterwards); every other group ``c = 1``, so ordinary weights give
    bit-identical results.

    Examples
    --------
    >>> weight_scale([10.0, 3e153]).tolist()
    [1.0, 3e+153]
    """
    sum_w = _arr(sum_w)
    return np.where(np.isfinite(sum_w) & (sum_w > RESCALE_ABOVE), sum_w, 1.0)


def cancel_rounding(difference: Any, *terms: Any) -> np.ndarray:
    """A difference of large sums, set to 0 where it is within rounding error of 0.

    Variances computed from sums (``Σx² - n m²``) lose relative precision when the
    spread is small. Below 64 machine epsilons times the size of the terms the
    result is rounding noise, so a group of identical answers reports a variance of
    exactly 0 (not 1e-17, whose square root would show as a standard error of 1e-8).
    """
    difference = _arr(difference)
    scale = np.zeros_like(difference)
    for term in terms:
        scale = scale + np.abs(_arr(term))
    eps = np.finfo(float).eps
    return np.where(difference <= 64 * eps * scale, 0.0, difference)


def linearised_share_variance(
    sum_w: Any, sum_w2: Any, sum_wy: Any, sum_w2y: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted share ``p = Σwy/Σw`` and its linearised (Taylor) variance.

    For the ratio estimator, the linearised variable is ``u = w(y - p)/Σw``, so
    ``v = Σ w²(y - p)² / (Σw)²``; with ``y ∈ {0, 1}`` (``y² = y``) this is
    ``(Σw²y (1 - 2p) + p² Σw²) / (Σw)²``: sums only, so partial sums merge.
    No ``n/(n-1)`` factor, so unit weights reproduce the Wald ``p(1-p)/n`` exactly.
    """
    sum_w, sum_w2, sum_wy, sum_w2y = map(_arr, (sum_w, sum_w2, sum_wy, sum_w2y))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = sum_wy / sum_w
        ss = cancel_rounding(sum_w2y * (1 - 2 * p) + p * p * sum_w2, sum_w2y, p * p * sum_w2)
        v = ss / (sum_w * sum_w)
    return p, v


def linearised_mean_variance(
    n: Any,
    sum_w: Any,
    sum_w2: Any,
    sum_wx: Any,
    sum_wx2: Any,
    sum_w2x: Any,
    sum_w2x2: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean ``m = Σwx/Σw`` and its linearised variance.

    ``v = n/(n-1) · Σ w²(x - m)² / (Σw)²`` with
    ``Σw²(x - m)² = Σw²x² - 2mΣw²x + m²Σw²``; unit weights reproduce ``s²/n``.
    The ``x`` may be shifted by a constant (the same for every part) to keep the
    sums of squares well conditioned; the variance does not change.
    """
    n, sum_w, sum_w2, sum_wx, sum_wx2, sum_w2x, sum_w2x2 = map(
        _arr, (n, sum_w, sum_w2, sum_wx, sum_wx2, sum_w2x, sum_w2x2)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        m = sum_wx / sum_w
        ss = cancel_rounding(
            sum_w2x2 - 2 * m * sum_w2x + m * m * sum_w2, sum_w2x2, 2 * m * sum_w2x, m * m * sum_w2
        )
        v = np.where(n > 1, n / (n - 1) * ss / (sum_w * sum_w), np.nan)
    return m, v


def effective_n(model_variance: Any, design_variance: Any, n_kish: Any) -> np.ndarray:
    """Effective n = (per-respondent variance) / (design variance of the estimate).

    Korn & Graubard's (1998) device for carrying small-sample intervals (Wilson,
    adjusted Wald) over to weighted data. Where the design variance is 0 (every
    response alike) it falls back to Kish's effective n.
    """
    model_variance, design_variance, n_kish = map(_arr, (model_variance, design_variance, n_kish))
    with np.errstate(invalid="ignore", divide="ignore"):
        n_star = model_variance / design_variance
    return np.where((design_variance > 0) & np.isfinite(n_star), n_star, n_kish)


def z_test(difference: Any, se: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided z test of ``difference = 0``: ``(z, p)``.

    A zero standard error gives ``p = 1`` for a zero difference and ``p = 0``
    otherwise (the limits), not NaN.
    """
    from scipy import stats  # imported when used: scipy.stats costs ~0.5 s to import

    difference, se = _arr(difference), _arr(se)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = difference / se
    z = np.where(se == 0, np.where(difference == 0, 0.0, np.copysign(np.inf, difference)), z)
    p = 2 * stats.norm.sf(np.abs(z))
    return z, p


def welch_df(se_a: Any, n_a: Any, se_b: Any, n_b: Any) -> np.ndarray:
    """Welch-Satterthwaite degrees of freedom for a difference of two means."""
    se_a, n_a, se_b, n_b = map(_arr, (se_a, n_a, se_b, n_b))
    va, vb = se_a**2, se_b**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))


def holm(pvalues: Any) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control).

    ``p_adj(i) = max_{j <= i} min(1, (m - j + 1) p(j))`` over the sorted p-values.
    NaN p-values are left out of the family and stay NaN.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = _arr(pvalues)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * q[order])
    adjusted = np.maximum.accumulate(scaled)
    res = np.empty(m)
    res[order] = adjusted
    out[ok] = res
    return out


def benjamini_hochberg(pvalues: Any) -> np.ndarray:
    """Benjamini & Hochberg (1995) step-up adjusted p-values (false discovery rate).

    ``p_adj(i) = min_{j >= i} min(1, m p(j) / j)`` over the sorted p-values.
    NaN p-values are left out of the family and stay NaN.
    """
    p = _arr(pvalues)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    scaled = np.minimum(1.0, q[order] * m / np.arange(1, m + 1))
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    res = np.empty(m)
    res[order] = adjusted
    out[ok] = res
    return out


def adjust_pvalues(pvalues: Any, correction: str) -> np.ndarray:
    """Adjust p-values by ``"holm"``, ``"bh"`` (Benjamini-Hochberg) or ``"none"``."""
    check_choice("correction", correction, CORRECTIONS)
    if correction == "holm":
        return holm(pvalues)
    if correction == "bh":
        return benjamini_hochberg(pvalues)
    return _arr(pvalues).copy()
