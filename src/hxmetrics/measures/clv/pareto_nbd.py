"""Pareto/NBD: Poisson purchases while alive, exponential lifetimes, gamma heterogeneity.

Schmittlein, Morrison & Colombo (1987); the likelihood and its pieces follow Fader &
Hardie's (2005) note. Integrating the purchase and drop-out rates out first and the
(unobserved) death time last (their Eq. 21 route) gives::

    L = K (alpha+T)^-(r+x) (beta+T)^-s  [1 + J],
    K = G(r+x) alpha^r beta^s / G(r),
    J = s (alpha+T)^(r+x) (beta+T)^s  I,
    I = integral_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau,

and ``P(alive | x, t_x, T) = 1 / (1 + J)``. The note writes ``I`` with Gaussian
hypergeometric functions; evaluated directly those overflow or lose all precision
for customers with hundreds of purchases (``2F1`` with first parameter ``r+s+x`` near
``z = 1``). Here ``I`` is computed in log space by Gauss-Legendre quadrature after the
substitution ``l = log(1 - v) = m log((k+t_x)/(k+tau))`` with ``m = r+s+x`` and
``k+t_x`` the weighted geometric mean of ``alpha+t_x`` and ``beta+t_x``: in ``v`` the
integrand is nearly constant (exactly when ``alpha = beta``), and in ``l`` it is
``e^l`` times a smooth function, so 48 nodes on ``[max(l_T, -45), 0]`` give close to
double precision for ordinary parameters (checked against 40-digit quadrature during
development: median error 2e-13 in log I; up to 3e-5 when alpha and beta differ by a
factor of several hundred; exact when alpha = beta, tested). The gradient
differentiates under the integral sign with the same nodes. Everything stays finite for
any history.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import expit, gammaln

from hxmetrics.measures.clv._base import RepeatBuyingModel, rising, wsum

__all__ = ["ParetoNBD"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)
_PMF_NODES, _PMF_WEIGHTS = np.polynomial.legendre.leggauss(64)
_CHUNK = 20_000
_L_MIN = -45.0
_LOG_WEIGHTS = np.log(_WEIGHTS)


def _log_integral(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, *, grad: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """log I for each row (-inf where T == t_x) and, optionally, d log I / d params."""
    r, alpha, s, beta = params
    n = len(x)
    log_i = np.full(n, -np.inf)
    d_log_i = np.zeros((4, n)) if grad else None
    rows = np.flatnonzero(big_t > tx)
    for start in range(0, len(rows), _CHUNK):
        idx = rows[start : start + _CHUNK]
        xi, txi, ti = x[idx, None], tx[idx, None], big_t[idx, None]
        p1 = r + xi  # power of (alpha + tau)
        p2 = s + 1.0  # power of (beta + tau)
        m = r + s + xi
        log_k0 = (p1 * np.log(alpha + txi) + p2 * np.log(beta + txi)) / (p1 + p2)
        k0 = np.exp(log_k0)
        kappa = k0 - txi
        # In l = log(1 - v) the integrand is e^l times a smooth function; the part
        # below l = -45 weighs less than e^-45 of the whole and is left out.
        l_low = np.clip(m * (log_k0 - np.log(kappa + ti)), _L_MIN, -1e-300)
        ell = 0.5 * l_low * (1.0 - _NODES[None, :])
        tau = k0 * np.exp(-ell / m) - kappa
        log_a = np.log(alpha + tau)
        log_b = np.log(beta + tau)
        terms = (_LOG_WEIGHTS[None, :] - ell / m) - p1 * log_a - p2 * log_b
        top = terms.max(axis=1, keepdims=True)
        e = np.exp(terms - top)
        total = e.sum(axis=1)
        log_i[idx] = (
            np.log(total) + top[:, 0] + np.log(-0.5 * l_low[:, 0]) + log_k0[:, 0] - np.log(m[:, 0])
        )
        if d_log_i is not None:
            pi = e / total[:, None]
            d_log_i[0, idx] = -(pi * log_a).sum(axis=1)
            d_log_i[1, idx] = -p1[:, 0] * (pi / (alpha + tau)).sum(axis=1)
            d_log_i[2, idx] = -(pi * log_b).sum(axis=1)
            d_log_i[3, idx] = -p2 * (pi / (beta + tau)).sum(axis=1)
    return log_i, d_log_i


def _log_j(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, *, grad: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    r, alpha, s, beta = params
    log_i, d_log_i = _log_integral(params, x, tx, big_t, grad=grad)
    lat = np.log(alpha + big_t)
    lbt = np.log(beta + big_t)
    with np.errstate(invalid="ignore"):
        log_j = np.log(s) + log_i + (r + x) * lat + s * lbt
    log_j = np.where(np.isfinite(log_i), log_j, -np.inf)
    d_log_j = None
    if d_log_i is not None:
        d_log_j = d_log_i.copy()
        d_log_j[0] += lat
        d_log_j[1] += (r + x) / (alpha + big_t)
        d_log_j[2] += 1.0 / s + lbt
        d_log_j[3] += s / (beta + big_t)
    return log_j, d_log_j


def _pnbd_loglik(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    r, alpha, s, beta = params
    log_j, maybe_d = _log_j(params, x, tx, big_t, grad=True)
    d_log_j = maybe_d if maybe_d is not None else np.zeros((4, len(x)))
    lat = np.log(alpha + big_t)
    # r ln(alpha) - r ln(alpha+T) = -r ln(1 + T/alpha), and the same for s and beta;
    # the gamma-function ratio as an exact rising sum (see clv._base.rising).
    log1p_a = np.log1p(big_t / alpha)
    log1p_b = np.log1p(big_t / beta)
    lg_r, psi_r = rising(r, x, int(x.max(initial=0)))
    ll = lg_r - r * log1p_a - x * lat - s * log1p_b + np.logaddexp(0.0, log_j)
    dead = expit(log_j)
    g_r = psi_r - log1p_a + dead * d_log_j[0]
    g_alpha = r * big_t / (alpha * (alpha + big_t)) - x / (alpha + big_t) + dead * d_log_j[1]
    g_s = -log1p_b + dead * d_log_j[2]
    g_beta = s * big_t / (beta * (beta + big_t)) + dead * d_log_j[3]
    grad = np.array([wsum(w, g_r), wsum(w, g_alpha), wsum(w, g_s), wsum(w, g_beta)])
    return wsum(w, ll), grad


def _one_minus_power_over(k: float | np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """``(1 - exp(-k L)) / k`` with its limit ``L`` at ``k = 0``."""
    k_arr = np.asarray(k, dtype=float)
    small = np.abs(k_arr) < 1e-10
    safe = np.where(small, 1.0, k_arr)
    return np.where(small, log_ratio, -np.expm1(-safe * log_ratio) / safe)


class ParetoNBD(RepeatBuyingModel):
    """Pareto/NBD model of repeat purchases (Schmittlein, Morrison & Colombo 1987).

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate: gamma shape and rate), ``s``, ``beta``
        (drop-out rate: gamma shape and rate).

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers:
    who are they and what will they do next? *Management Science* 33(1), 1-24.
    Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and
    related expressions. http://brucehardie.com/notes/009/

    Examples
    --------
    CDNOW estimates (Fader, Hardie & Lee 2005, Table 2), weeks:

    >>> from hxmetrics.measures.clv import ParetoNBD
    >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="W")
    >>> hist = {"frequency": [0, 2], "recency": [0.0, 30.43], "T": [38.86, 38.86]}
    >>> [round(float(p), 2) for p in m.probability_alive(hist)]
    [0.3, 0.87]
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)

    def _loglik(
        self, params: np.ndarray, data: tuple[np.ndarray, ...], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        x, tx, big_t = data
        return _pnbd_loglik(params, x, tx, big_t, weights)

    def _alive(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        log_j, _ = _log_j(self._p(), x, tx, big_t, grad=False)
        return np.asarray(expit(-log_j), dtype=float)

    def _conditional(
        self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray
    ) -> np.ndarray:
        r, alpha, s, beta = self._p()
        alive = self._alive(x, tx, big_t)
        log_ratio = np.log(beta + big_t + t) - np.log(beta + big_t)
        per_alive = (
            (r + x) / (alpha + big_t) * (beta + big_t) * _one_minus_power_over(s - 1.0, log_ratio)
        )
        return alive * per_alive

    def _expected(self, t: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self._p()
        log_ratio = np.log(beta + t) - np.log(beta)
        return r * beta / alpha * _one_minus_power_over(s - 1.0, log_ratio)

    def _pmf(self, n: np.ndarray, t: np.ndarray) -> np.ndarray:
        # Alive through t: NBD(n; t) (beta/(beta+t))^s. Died at tau < t: NBD(n; tau)
        # times the Pareto density, integrated by Gauss-Legendre in w = log(1+tau/beta),
        # where the density is s e^(-s w).
        r, alpha, s, beta = self._p()
        flat_n, flat_t = n.ravel(), t.ravel()
        out = np.zeros_like(flat_t)

        def log_nbd(k: np.ndarray, tau: np.ndarray) -> np.ndarray:
            tau_pos = np.where(tau > 0, tau, 1.0)
            val = (
                gammaln(r + k)
                - gammaln(r)
                - gammaln(k + 1.0)
                + r * (np.log(alpha) - np.log(alpha + tau_pos))
                + k * (np.log(tau_pos) - np.log(alpha + tau_pos))
            )
            return np.where(tau > 0, val, np.where(k == 0, 0.0, -np.inf))

        pos = flat_t > 0
        out[~pos] = (flat_n[~pos] == 0).astype(float)
        if pos.any():
            k, tt = flat_n[pos], flat_t[pos]
            alive = np.exp(log_nbd(k, tt) + s * (np.log(beta) - np.log(beta + tt)))
            w_max = np.log1p(tt / beta)[:, None]
            w = 0.5 * w_max * (_PMF_NODES[None, :] + 1.0)
            tau = beta * np.expm1(w)
            dens = s * np.exp(-s * w) * 0.5 * w_max * _PMF_WEIGHTS[None, :]
            died = (np.exp(log_nbd(k[:, None], tau)) * dens).sum(axis=1)
            out[pos] = alive + died
        return out.reshape(t.shape)
