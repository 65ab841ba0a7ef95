"""Simulate customer histories from each CLV model with known parameters.

Every generator is vectorised (no loop over customers) and reproducible through
``random_state``. They draw the model's own story, not its likelihood, so fitting
the model to their output checks the likelihood, the optimiser and the standard errors
(parameter recovery).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.measures.clv._base import UNIT_ATTR, check_unit

__all__ = [
    "simulate_betageo",
    "simulate_bgbb",
    "simulate_gamma_gamma",
    "simulate_modified_betageo",
    "simulate_pareto_nbd",
    "simulate_sbg",
]


def _rng(random_state: Any) -> np.random.Generator:
    return np.random.default_rng(random_state)


def _check(n: int, **params: float) -> None:
    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise ParameterError(f"n must be a positive integer; got {n!r}.")
    bad = [k for k, v in params.items() if not (np.isfinite(v) and v > 0)]
    if bad:
        raise ParameterError(f"parameters {bad} must be positive and finite.")


def _observation_lengths(n: int, T: Any, rng: np.random.Generator) -> np.ndarray:
    big_t = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(big_t <= 0):
        raise ParameterError("T must be > 0.")
    return big_t


def _frame(x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, unit: str) -> pd.DataFrame:
    out = pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": big_t})
    out.attrs[UNIT_ATTR] = check_unit(unit)
    return out


def _repeat_buying(
    n: int,
    lam: np.ndarray,
    alive_for: np.ndarray,
    max_purchases: np.ndarray,
    big_t: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Purchases of a Poisson(lam) process on (0, min(T, alive_for)], capped in count.

    Given N purchases in a window of length W, their times are uniform order
    statistics, so the k-th is W * Beta(k, N - k + 1).
    """
    window = np.minimum(big_t, alive_for)
    count = rng.poisson(lam * window)
    x = np.minimum(count, max_purchases)
    safe_x = np.maximum(x, 1)
    tx = np.where(x > 0, window * rng.beta(safe_x, np.maximum(count - x, 0) + 1.0), 0.0)
    return x, tx


def _simulate_bg(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    unit: str,
    random_state: Any,
    *,
    toss_at_start: bool,
) -> pd.DataFrame:
    """BG/NBD histories; with ``toss_at_start`` also the MBG/NBD toss at time 0."""
    _check(n, r=r, alpha=alpha, a=a, b=b)
    rng = _rng(random_state)
    big_t = _observation_lengths(n, T, rng)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    # The drop-out comes right after purchase K ~ Geometric(p) on {1, 2, ...}; with a
    # toss at time 0 as well, the customer makes K - 1 purchases before dropping out.
    k = rng.geometric(np.clip(p, 1e-12, 1.0))
    if toss_at_start:
        k = k - 1
    x, tx = _repeat_buying(n, lam, np.full(n, np.inf), k, big_t, rng)
    return _frame(x, tx, big_t, unit)


def simulate_betageo(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    unit: str = "W",
    random_state: Any = None,
) -> pd.DataFrame:
    """Customer histories from the BG/NBD story (drop out after a purchase w.p. p).

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        True parameters.
    T : float or array
        Observation length(s) since each customer's first purchase.
    unit : str, default "W"
        Unit recorded on the result (``attrs['hx_unit']``).
    random_state : int or Generator, optional

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T``.

    Examples
    --------
    >>> from hxmetrics.measures.clv.simulate import simulate_betageo
    >>> d = simulate_betageo(3, r=0.5, alpha=5, a=1, b=3, T=52, random_state=1)
    >>> list(d.columns), d.attrs["hx_unit"]
    (['frequency', 'recency', 'T'], 'W')
    """
    return _simulate_bg(n, r, alpha, a, b, T, unit, random_state, toss_at_start=False)


def simulate_modified_betageo(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    unit: str = "W",
    random_state: Any = None,
) -> pd.DataFrame:
    """Histories from the MBG/NBD story: the drop-out coin is also tossed at time 0."""
    return _simulate_bg(n, r, alpha, a, b, T, unit, random_state, toss_at_start=True)


def simulate_pareto_nbd(
    n: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: Any,
    unit: str = "W",
    random_state: Any = None,
) -> pd.DataFrame:
    """Histories from the Pareto/NBD story: exponential lifetime with gamma(s, beta) rate."""
    _check(n, r=r, alpha=alpha, s=s, beta=beta)
    rng = _rng(random_state)
    big_t = _observation_lengths(n, T, rng)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    big = np.iinfo(np.int64).max
    x, tx = _repeat_buying(n, lam, lifetime, np.full(n, big), big_t, rng)
    return _frame(x, tx, big_t, unit)


def simulate_bgbb(
    n: int,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    n_periods: int,
    unit: str = "Y",
    random_state: Any = None,
) -> pd.DataFrame:
    """Histories from the BG/BB story over ``n_periods`` opportunities.

    Returns ``frequency``, ``recency`` (opportunity of the last transaction, 0 if none)
    and ``n_periods``.
    """
    _check(n, alpha=alpha, beta=beta, gamma=gamma, delta=delta)
    if not (isinstance(n_periods, (int, np.integer)) and n_periods > 0):
        raise ParameterError(f"n_periods must be a positive integer; got {n_periods!r}.")
    rng = _rng(random_state)
    p = rng.beta(alpha, beta, n)
    theta = rng.beta(gamma, delta, n)
    # Alive at opportunity i (1-based) iff the customer survived i drop-out tosses.
    alive_for = rng.geometric(np.clip(theta, 1e-12, 1.0)) - 1
    i = np.arange(1, n_periods + 1)[None, :]
    buys = (i <= alive_for[:, None]) & (rng.random((n, n_periods)) < p[:, None])
    x = buys.sum(axis=1)
    tx = np.where(x > 0, np.max(np.where(buys, i, 0), axis=1), 0)
    out = pd.DataFrame(
        {
            "frequency": x.astype(float),
            "recency": tx.astype(float),
            "n_periods": np.full(n, float(n_periods)),
        }
    )
    out.attrs[UNIT_ATTR] = check_unit(unit)
    return out


def simulate_gamma_gamma(
    frequency: Any, *, p: float, q: float, gamma: float, random_state: Any = None
) -> pd.DataFrame:
    """Average spend of ``frequency`` repeat transactions per customer (Gamma-Gamma story).

    Returns ``frequency`` and ``monetary_value`` (0 where ``frequency`` is 0).
    """
    x = np.asarray(frequency, dtype=float)
    _check(max(len(x), 1), p=p, q=q, gamma=gamma)
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ParameterError("frequency must hold whole numbers >= 0.")
    rng = _rng(random_state)
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    # The mean of x gamma(p, nu) draws is gamma(p x, nu x).
    safe = np.maximum(x, 1.0)
    zbar = rng.gamma(p * safe, 1.0 / (nu * safe))
    return pd.DataFrame({"frequency": x, "monetary_value": np.where(x > 0, zbar, 0.0)})


def simulate_sbg(
    cohort_sizes: Any,
    *,
    alpha: float,
    beta: float,
    n_periods: Any,
    unit: str = "Y",
    random_state: Any = None,
) -> pd.DataFrame:
    """Survivor counts of cohorts under the sBG story.

    Parameters
    ----------
    cohort_sizes : int or sequence of int
        Customers per cohort.
    n_periods : int or sequence of int
        Periods each cohort is observed for.

    Returns
    -------
    pandas.DataFrame
        ``cohort``, ``period`` (0..K) and ``survivors``.
    """
    sizes = np.atleast_1d(np.asarray(cohort_sizes, dtype=int))
    lengths = np.broadcast_to(np.atleast_1d(np.asarray(n_periods, dtype=int)), sizes.shape)
    _check(int(sizes.sum()), alpha=alpha, beta=beta)
    if np.any(sizes <= 0) or np.any(lengths <= 0):
        raise ParameterError("cohort sizes and n_periods must be positive.")
    rng = _rng(random_state)
    cohort = np.repeat(np.arange(len(sizes)), sizes)
    theta = rng.beta(alpha, beta, len(cohort))
    churn_at = rng.geometric(np.clip(theta, 1e-12, 1.0))  # cancels at end of this period
    rows = []
    for c, k in enumerate(lengths):
        t = np.arange(int(k) + 1)
        alive = (churn_at[cohort == c][:, None] > t[None, :]).sum(axis=0)
        rows.append(pd.DataFrame({"cohort": c, "period": t, "survivors": alive.astype(float)}))
    out = pd.concat(rows, ignore_index=True)
    out.attrs[UNIT_ATTR] = check_unit(unit)
    return out
