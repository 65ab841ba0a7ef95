"""BG/NBD: the beta-geometric / negative binomial model of repeat buying.

While alive a customer buys as a Poisson process with rate ``lambda`` (gamma(r,
alpha) across customers); after each purchase the customer drops out with
probability ``p`` (beta(a, b) across customers). Fader, Hardie & Lee (2005).

The likelihood (their Eq. 6) is evaluated in log space as::

    log L = [lnG(r+x) - lnG(r)] + [lnB(a, b+x) - lnB(a, b)]
            - r ln(1 + T/alpha) - x ln(alpha+T) + softplus(d),
    d = ln(a) - ln(b+x-1) + (r+x) ln(1 + (T-t_x)/(alpha+t_x))   (x > 0; else no term)

so a customer with hundreds of purchases and a long silence gives a large ``d`` and no
overflow (``softplus(d) = log(1 + e^d)``), and ``P(alive) = 1 / (1 + e^d) =
expit(-d)``. The bracketed differences are sums of ``ln(r+k)`` and
``ln((b+k)/(a+b+k))`` over ``k < x``, tabulated once per evaluation up to the largest
``x``: exact where a difference of ``gammaln`` values would cancel (a customer base
without heterogeneity sends ``r`` and ``alpha`` towards infinity). Terms that depend on
``x`` alone or on ``T`` alone are computed once per distinct value and weighted by its
count, so only the ``d`` terms run over the (collapsed) rows.

The conditional expectation (their Eq. 10) contains
``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``, whose hypergeometric factor overflows for
large ``x``; Euler's transformation turns it into
``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose parameters stay moderate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, NamedTuple

import numpy as np
from scipy.special import betainc, betaln, expit, gammaln, hyp2f1

from hxmetrics.measures.clv._base import RepeatBuyingModel, rising, wsum

__all__ = ["BetaGeo"]


class _BGRows(NamedTuple):
    """BG/NBD data reduced once per fit (nothing here depends on the parameters)."""

    ux: np.ndarray  # distinct x
    wx: np.ndarray  # weight of each distinct x
    ut: np.ndarray  # distinct T
    wt: np.ndarray  # weight of each distinct T
    wxt: np.ndarray  # sum of w * x for each distinct T
    # Rows with a "dropped out" branch (x > 0 for BG/NBD, every row for MBG/NBD):
    x: np.ndarray
    ix: np.ndarray  # position of x in ux
    w: np.ndarray
    log_gap: Callable[[float], np.ndarray]  # alpha -> log(alpha+T) - log(alpha+t_x)
    inv_gap: Callable[[float], np.ndarray]  # alpha -> 1/(alpha+T) - 1/(alpha+t_x)


def _bg_rows(
    x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, w: np.ndarray, *, modified: bool
) -> _BGRows:
    ux, ix_all = np.unique(x, return_inverse=True)
    ut, it_all = np.unique(big_t, return_inverse=True)
    dying = np.ones(len(x), dtype=bool) if modified else x > 0
    tx_d, t_d = tx[dying], big_t[dying]
    gap = t_d - tx_d

    def log_gap(alpha: float) -> np.ndarray:
        # log((alpha+T)/(alpha+t_x)) = log1p((T-t_x)/(alpha+t_x)): exact for tiny gaps.
        return np.log1p(gap / (alpha + tx_d))

    def inv_gap(alpha: float) -> np.ndarray:
        return -gap / ((alpha + t_d) * (alpha + tx_d))

    return _BGRows(
        ux=ux,
        wx=np.bincount(ix_all, weights=w, minlength=len(ux)),
        ut=ut,
        wt=np.bincount(it_all, weights=w, minlength=len(ut)),
        wxt=np.bincount(it_all, weights=w * x, minlength=len(ut)),
        x=x[dying],
        ix=ix_all[dying],
        w=w[dying],
        log_gap=log_gap,
        inv_gap=inv_gap,
    )


def _bg_loglik_rows(
    params: np.ndarray, rows: _BGRows, *, modified: bool
) -> tuple[float, np.ndarray]:
    """Weighted log-likelihood of BG/NBD (or MBG/NBD) and its gradient.

    Terms that depend on ``x`` alone or on ``T`` alone are evaluated once per distinct
    value and weighted by its total weight; only the "dropped out" branch is per row.
    """
    r, alpha, a, b = params
    # MBG/NBD lets a customer drop out right after the first purchase too: the beta
    # terms shift by one purchase and the "died" branch exists for every x.
    shift = 1 if modified else 0
    ux, wx, ut, wt, wxt = rows.ux, rows.wx, rows.ut, rows.wt, rows.wxt
    top = int(ux[-1]) + shift
    lg_r, psi_r = rising(r, ux, top)
    lg_b, psi_b = rising(b, ux + shift, top)
    lg_ab, psi_ab = rising(a + b, ux + shift, top)
    # r ln(alpha) - (r+x) ln(alpha+T) = -r ln(1 + T/alpha) - x ln(alpha+T)
    log1p_t = np.log1p(ut / alpha)
    log_alpha_t = np.log(alpha + ut)
    ll_base = wsum(wx, lg_r + lg_b - lg_ab) - r * wsum(wt, log1p_t) - wsum(wxt, log_alpha_t)
    g_r = wsum(wx, psi_r) - wsum(wt, log1p_t)
    g_alpha = r * wsum(wt, ut / (alpha * (alpha + ut))) - wsum(wxt, 1.0 / (alpha + ut))
    g_a = -wsum(wx, psi_ab)
    g_b = wsum(wx, psi_b - psi_ab)
    # The dropped-out branch: d = log a - log(b+x-1) + (r+x) log((alpha+T)/(alpha+t_x))
    # (b+x for MBG/NBD), and the row's likelihood gains a factor 1 + e^d.
    x, w = rows.x, rows.w
    log_gap = rows.log_gap(alpha)
    # log of the odds denominator per distinct x (x = 0 has none in BG/NBD)
    log_bx1 = np.log(np.where(ux + shift > 0, b + ux + shift - 1.0, 1.0))
    d = (np.log(a) - log_bx1[rows.ix]) + (r + x) * log_gap
    e = np.exp(-np.abs(d))
    softplus = np.maximum(d, 0.0) + np.log1p(e)
    dead = np.where(d > 0, 1.0, e) / (1.0 + e)  # expit(d): P(dropped out | history)
    wd = w * dead
    ll = ll_base + wsum(w, softplus)
    g_r += wsum(wd, log_gap)
    g_alpha += wsum(wd * (r + x), rows.inv_gap(alpha))
    g_a += float(wd.sum()) / a
    g_b -= wsum(np.bincount(rows.ix, weights=wd, minlength=len(ux)), np.exp(-log_bx1))
    return float(ll), np.array([g_r, g_alpha, g_a, g_b])


def _bg_loglik(
    params: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    big_t: np.ndarray,
    w: np.ndarray,
    *,
    modified: bool,
) -> tuple[float, np.ndarray]:
    """Weighted log-likelihood of BG/NBD (or MBG/NBD) and its gradient, from raw rows."""
    return _bg_loglik_rows(params, _bg_rows(x, tx, big_t, w, modified=modified), modified=modified)


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

    def _prepare(self, data: tuple[np.ndarray, ...], weights: np.ndarray) -> _BGRows:
        x, tx, big_t = data
        return _bg_rows(x, tx, big_t, weights, modified=self._modified)

    def _loglik(
        self, params: np.ndarray, data: _BGRows, weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        return _bg_loglik_rows(params, data, modified=self._modified)

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
