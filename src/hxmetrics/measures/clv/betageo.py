"""BG/NBD: the beta-geometric / negative binomial model of repeat buying.

While alive a customer buys as a Poisson process with rate ``lambda`` (gamma(r,
alpha) across customers); after each purchase the customer drops out with
probability ``p`` (beta(a, b) across customers). Fader, Hardie & Lee (2005).

The likelihood (their Eq. 6) is evaluated in log space as

    log L = lnG(r+x) - lnG(r) + r ln(alpha) + lnB(a, b+x) - lnB(a, b)
            - (r+x) ln(alpha+T) + softplus(d),
    d = ln(a) - ln(b+x-1) + (r+x) [ln(alpha+T) - ln(alpha+t_x)]   (x > 0; else no term)

so a customer with hundreds of purchases and a long silence gives a large ``d`` and no
overflow (``softplus(d) = log(1 + e^d)`` via ``logaddexp``). ``P(alive) = 1 /
(1 + e^d) = expit(-d)``.

The conditional expectation (their Eq. 10) contains
``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``, whose hypergeometric factor overflows for
large ``x``; Euler's transformation turns it into
``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose parameters stay moderate.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1

from hxmetrics.measures.clv._base import RepeatBuyingModel

__all__ = ["BetaGeo"]


def _bg_loglik(
    params: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    big_t: np.ndarray,
    w: np.ndarray,
    *,
    modified: bool,
) -> tuple[float, np.ndarray]:
    """Weighted log-likelihood of BG/NBD (or MBG/NBD) and its gradient."""
    r, alpha, a, b = params
    lat = np.log(alpha + big_t)
    ltx = np.log(alpha + tx)
    # MBG/NBD lets a customer drop out right after the first purchase too: the beta
    # terms shift by one purchase and the "died" branch exists for every x.
    shift = 1.0 if modified else 0.0
    has_death = np.ones_like(x, dtype=bool) if modified else x > 0
    bx = b + x + shift - 1.0  # b+x-1 (BG) or b+x (MBG): the odds of the last drop-out
    safe_bx = np.where(has_death, bx, 1.0)
    d = np.where(has_death, np.log(a) - np.log(safe_bx) + (r + x) * (lat - ltx), -np.inf)
    ll = (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + betaln(a, b + x + shift)
        - betaln(a, b)
        - (r + x) * lat
        + np.logaddexp(0.0, d)
    )
    dead = expit(d)  # posterior probability of the "dropped out" branch
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + x + shift)
    g_r = digamma(r + x) - digamma(r) + np.log(alpha) - lat + dead * (lat - ltx)
    g_alpha = (
        r / alpha
        - (r + x) / (alpha + big_t)
        + dead * (r + x) * (1.0 / (alpha + big_t) - 1.0 / (alpha + tx))
    )
    g_a = psi_ab - psi_abx + dead / a
    g_b = digamma(b + x + shift) - psi_abx - digamma(b) + psi_ab - dead / safe_bx
    grad = np.array([w @ g_r, w @ g_alpha, w @ g_a, w @ g_b])
    return float(w @ ll), grad


def _one_minus_tail(
    t: np.ndarray,
    x: np.ndarray,
    big_t: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    modified: bool,
) -> np.ndarray:
    """``coef * [1 - (1-z)^(r+x) 2F1(...)]``: E[purchases in (T, T+t] | alive at T]."""
    c = a + b + x if modified else a + b + x - 1.0
    c1 = a + b - r if modified else a + b - 1.0 - r
    z = t / (alpha + big_t + t)
    log_1mz = np.log(alpha + big_t) - np.log(alpha + big_t + t)
    # Euler: (1-z)^(r+x) 2F1(r+x, b+x(+1); c; z) = (1-z)^(a-1) 2F1(c1, a-1; c; z).
    tail = np.exp((a - 1.0) * log_1mz) * hyp2f1(c1, a - 1.0, c, z)
    return c / (a - 1.0) * (1.0 - tail)


class BetaGeo(RepeatBuyingModel):
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    l2 : float, default 0
        L2 penalty on the log parameters, per customer (``l2 * sum(log(p)^2)`` is
        added to the mean negative log-likelihood).

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate: gamma shape and rate), ``a``, ``b`` (drop-out
        probability: beta).
    standard_errors_ : dict
        From the inverse Hessian, by the delta method.
    log_likelihood_ : float
    unit_ : str
        Time unit of the data the model was fitted to.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the
    easy way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    Examples
    --------
    Published CDNOW estimates (Fader, Hardie & Lee 2005, Sec. 7), weeks:

    >>> from hxmetrics.measures.clv import BetaGeo
    >>> m = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")
    >>> round(float(m.expected_purchases(78.0)), 3)
    1.861
    >>> hist = {"frequency": [2], "recency": [30.43], "T": [38.86]}
    >>> round(float(m.conditional_expected_purchases(hist, 39.0)[0]), 3)
    1.226
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)
    _modified: ClassVar[bool] = False

    def _loglik(
        self, params: np.ndarray, data: tuple[np.ndarray, ...], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        x, tx, big_t = data
        return _bg_loglik(params, x, tx, big_t, weights, modified=self._modified)

    def _log_odds_dead(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._p()
        shift = 1.0 if self._modified else 0.0
        has_death = np.ones_like(x, dtype=bool) if self._modified else x > 0
        safe_bx = np.where(has_death, b + x + shift - 1.0, 1.0)
        return np.where(
            has_death,
            np.log(a) - np.log(safe_bx) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx)),
            -np.inf,
        )

    def _alive(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        return np.asarray(expit(-self._log_odds_dead(x, tx, big_t)), dtype=float)

    def _conditional(
        self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = self._p()
        alive = self._alive(x, tx, big_t)
        return alive * _one_minus_tail(t, x, big_t, r, alpha, a, b, modified=self._modified)

    def _expected(self, t: np.ndarray) -> np.ndarray:
        zero = np.zeros_like(t)
        return self._conditional(t, zero, zero, zero)

    def _pmf(self, n: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._p()
        shift = 1.0 if self._modified else 0.0
        t_pos = np.where(t > 0, t, 1.0)
        # P(N(t) = n) under the gamma-Poisson (NBD) and P(N(t) >= n) = I_{t/(a+t)}(n, r).
        log_nbd = (
            gammaln(r + n)
            - gammaln(r)
            - gammaln(n + 1.0)
            + r * (np.log(alpha) - np.log(alpha + t_pos))
            + n * (np.log(t_pos) - np.log(alpha + t_pos))
        )
        n_pos = np.where(n > 0, n, 1.0)
        at_least = np.where(n > 0, betainc(n_pos, r, t_pos / (alpha + t_pos)), 1.0)
        alive_part = np.exp(betaln(a, b + n + shift) - betaln(a, b) + log_nbd)
        dead_ok = n >= 0 if self._modified else n > 0
        b_dead = np.where(dead_ok, b + n + shift - 1.0, 1.0)
        dead_part = np.where(
            dead_ok, np.exp(betaln(a + 1.0, b_dead) - betaln(a, b)) * at_least, 0.0
        )
        out = alive_part + dead_part
        return np.where(t > 0, out, (n == 0).astype(float))
