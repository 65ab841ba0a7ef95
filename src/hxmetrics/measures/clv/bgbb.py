"""BG/BB: repeat transactions at discrete opportunities (Fader, Hardie & Shang 2010).

At each of ``n`` opportunities (a yearly fund drive, a weekly event) an alive customer
transacts with probability ``p`` (beta(alpha, beta) across customers) and, before each
opportunity, dies with probability ``theta`` (beta(gamma, delta)). A customer's history
is ``(x, t_x, n)``: ``x`` transactions, the last at opportunity ``t_x`` (0 if none), out
of ``n``. The likelihood (their Eq. 5) is a sum of ``n - t_x + 1`` beta-function terms,
added here with ``logsumexp``; its gradient weights each term's digamma derivative by
the term's share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln

from hxmetrics.errors import ParameterError
from hxmetrics.measures.clv._base import (
    UNIT_ATTR,
    CLVModel,
    as_pandas,
    bad_rows,
    check_identified,
    numeric_columns,
    resolve_fit_unit,
    wsum,
)

__all__ = ["BetaGeoBetaBinom"]


def _terms(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log terms of the likelihood (rows x terms, -inf padded) and the index grid."""
    a, b, g, d = params
    width = int(np.max(n - tx)) if len(n) else 0
    i = np.arange(width)[None, :]
    valid = i < (n - tx)[:, None]
    ii = np.where(valid, i, 0)
    base = -betaln(a, b) - betaln(g, d)
    t0 = base + betaln(a + x, b + n - x) + betaln(g, d + n)
    ti = (
        base
        + betaln(a + x[:, None], b + (tx - x)[:, None] + ii)
        + betaln(g + 1.0, d + tx[:, None] + ii)
    )
    ti = np.where(valid, ti, -np.inf)
    return np.concatenate([t0[:, None], ti], axis=1), ii, valid


def _bgbb_loglik(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    a, b, g, d = params
    terms, ii, valid = _terms(params, x, tx, n)
    top = terms.max(axis=1, keepdims=True)
    e = np.exp(terms - top)
    total = e.sum(axis=1)
    ll = np.log(total) + top[:, 0]
    share = e / total[:, None]
    s0, si = share[:, 0], share[:, 1:]
    # d/d(param) of each log term, less the common -lnB(a,b) - lnB(g,d) part.
    xc, txc, nc = x[:, None], tx[:, None], n[:, None]
    d_a0 = digamma(a + x) - digamma(a + b + n)
    d_b0 = digamma(b + n - x) - digamma(a + b + n)
    d_g0 = digamma(g) - digamma(g + d + n)
    d_d0 = digamma(d + n) - digamma(g + d + n)
    safe = np.where(valid, 1.0, 0.0)
    d_ai = digamma(a + xc) - digamma(a + b + txc + ii)
    d_bi = digamma(b + txc - xc + ii) - digamma(a + b + txc + ii)
    d_gi = digamma(g + 1.0) - digamma(g + d + txc + ii + 1.0)
    d_di = digamma(d + txc + ii) - digamma(g + d + txc + ii + 1.0)
    del nc
    g_a = s0 * d_a0 + (si * safe * d_ai).sum(axis=1) - (digamma(a) - digamma(a + b))
    g_b = s0 * d_b0 + (si * safe * d_bi).sum(axis=1) - (digamma(b) - digamma(a + b))
    g_g = s0 * d_g0 + (si * safe * d_gi).sum(axis=1) - (digamma(g) - digamma(g + d))
    g_d = s0 * d_d0 + (si * safe * d_di).sum(axis=1) - (digamma(d) - digamma(g + d))
    grad = np.array([wsum(w, g_a), wsum(w, g_b), wsum(w, g_g), wsum(w, g_d)])
    return wsum(w, ll), grad


class BetaGeoBetaBinom(CLVModel):
    """BG/BB model of transactions at discrete opportunities (Fader, Hardie & Shang 2010).

    The time unit of a BG/BB model is the opportunity (e.g. ``"Y"`` for a yearly
    drive); horizons are whole numbers of opportunities.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` (transaction probability: beta) and ``gamma``, ``delta``
        (drop-out probability: beta).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a
    discrete-time noncontractual setting. *Marketing Science* 29(6), 1086-1108.

    Examples
    --------
    The paper's estimates on the 1995 donor cohort, 6 yearly opportunities:

    >>> from hxmetrics.measures.clv import BetaGeoBetaBinom
    >>> m = BetaGeoBetaBinom.from_params(alpha=1.204, beta=0.750, gamma=0.657,
    ...                                  delta=2.783, unit="Y")
    >>> hist = {"frequency": [6], "recency": [6], "n_periods": [6]}
    >>> round(float(m.probability_alive(hist)[0]), 2)   # Table 6 of the paper
    0.93
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)

    def _loglik(
        self, params: np.ndarray, data: tuple[np.ndarray, ...], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        x, tx, n = data
        return _bgbb_loglik(params, x, tx, n, weights)

    def _histories(
        self, data: Any, *, frequency: str, recency: str, n_periods: str
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        frame, cols = numeric_columns(
            data, {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        )
        x, tx, n = cols["frequency"], cols["recency"], cols["n_periods"]
        whole = (x == np.floor(x)) & (tx == np.floor(tx)) & (n == np.floor(n))
        checks = [
            (~whole, "whole_numbers", "are not whole numbers of transactions/opportunities"),
            (
                (x < 0) | (tx < x) | (n < tx),
                "0 <= x <= t_x <= n",
                "break 0 <= frequency <= recency <= n_periods",
            ),
            (
                (x == 0) & (tx != 0),
                "recency_zero_without_transactions",
                "have recency != 0 but no transaction",
            ),
        ]
        for mask, check, message in checks:
            if np.any(mask):
                raise bad_rows(
                    frame,
                    mask,
                    columns=[frequency, recency, n_periods],
                    check=check,
                    message=message,
                )
        return frame, x, tx, n

    def fit(
        self,
        data: Any,
        *,
        frequency: str = "frequency",
        recency: str = "recency",
        n_periods: str = "n_periods",
        weights: str | None = None,
        unit: str | None = None,
        start: Mapping[str, float] | None = None,
    ) -> BetaGeoBetaBinom:
        """Fit by maximum likelihood.

        Parameters
        ----------
        data : DataFrame
            One row per customer (or per distinct history with ``weights``).
        frequency, recency, n_periods : str
            Columns of ``x`` (transactions after the first), ``t_x`` (opportunity of
            the last one, 0 if none) and ``n`` (opportunities observed).
        weights : str, optional
            Column of the number of customers with each history.
        unit : str
            The opportunity period (``"Y"``, ``"M"``, ...); or ``data.attrs['hx_unit']``.
        start : mapping, optional
            Starting values.

        Returns
        -------
        self
        """
        fit_unit = resolve_fit_unit(type(self).__name__, unit, data)
        frame, x, tx, n = self._histories(
            data, frequency=frequency, recency=recency, n_periods=n_periods
        )
        w = None
        if weights is not None:
            w = numeric_columns(frame, {"weights": weights})[1]["weights"]
        check_identified(
            type(self).__name__, x, n, w, observed_name="n_periods", repeats="repeat transaction"
        )
        self._fit_collapsed((x, tx, n), w, unit=fit_unit, start=start)
        return self

    def _log_lik(self, x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> np.ndarray:
        terms, _, _ = _terms(self._p(), x, tx, n)
        top = terms.max(axis=1)
        return np.log(np.exp(terms - top[:, None]).sum(axis=1)) + top

    def probability_alive(
        self,
        data: Any,
        *,
        periods_ahead: int = 1,
        frequency: str = "frequency",
        recency: str = "recency",
        n_periods: str = "n_periods",
        unit: str | None = None,
    ) -> np.ndarray:
        """P(alive at opportunity n + periods_ahead | history) (Eq. 11 for 1 period)."""
        self._check_prediction_unit(unit, data)
        if not (isinstance(periods_ahead, (int, np.integer)) and periods_ahead >= 0):
            raise ParameterError(f"periods_ahead must be an integer >= 0; got {periods_ahead!r}.")
        a, b, g, d = self._p()
        _, x, tx, n = self._histories(
            data, frequency=frequency, recency=recency, n_periods=n_periods
        )
        log_alive = (
            betaln(a + x, b + n - x)
            - betaln(a, b)
            + betaln(g, d + n + periods_ahead)
            - betaln(g, d)
        )
        return np.asarray(np.exp(log_alive - self._log_lik(x, tx, n)), dtype=float)

    def _plot_curve(self, horizon: float | None) -> tuple[np.ndarray, np.ndarray, str, str, bool]:
        n = np.arange(0.0, math.floor(horizon or 10.0) + 1.0)
        return (
            n,
            self.expected_purchases(n),
            f"opportunities ({self.unit_})",
            "expected transactions of a new customer",
            True,
        )

    def expected_purchases(self, n: Any, *, unit: str | None = None) -> np.ndarray:
        """E[X(n)]: expected transactions of a new customer in ``n`` opportunities (Eq. 9)."""
        self._check_prediction_unit(unit)
        a, b, g, d = self._p()
        n_arr = np.asarray(n, dtype=float)
        log_ratio = (
            gammaln(g + d) + gammaln(1.0 + d + n_arr) - gammaln(g + d + n_arr) - gammaln(1.0 + d)
        )
        return a / (a + b) * d / (g - 1.0) * -np.expm1(log_ratio)

    def conditional_expected_purchases(
        self,
        data: Any,
        horizon: Any,
        *,
        frequency: str = "frequency",
        recency: str = "recency",
        n_periods: str = "n_periods",
        unit: str | None = None,
    ) -> np.ndarray:
        """E[transactions in the next ``horizon`` opportunities | history] (Eq. 13)."""
        self._check_prediction_unit(unit, data)
        a, b, g, d = self._p()
        _, x, tx, n = self._histories(
            data, frequency=frequency, recency=recency, n_periods=n_periods
        )
        h = np.asarray(horizon, dtype=float)
        if np.any(h < 0) or np.any(h != np.floor(h)):
            raise ParameterError("horizon must be a whole number of opportunities >= 0.")
        log_pref = (
            betaln(a + x + 1.0, b + n - x)
            - betaln(a, b)
            - self._log_lik(x, tx, n)
            + gammaln(g + d)
            - gammaln(1.0 + d)
            + gammaln(1.0 + d + n)
            - gammaln(g + d + n)
        )
        shift = (gammaln(1.0 + d + n + h) - gammaln(g + d + n + h)) - (
            gammaln(1.0 + d + n) - gammaln(g + d + n)
        )
        return d / (g - 1.0) * np.exp(log_pref) * -np.expm1(shift)

    def probability_of_purchases(self, x: Any, n: Any, *, unit: str | None = None) -> np.ndarray:
        """P(X(n) = x): probability of ``x`` transactions in ``n`` opportunities (Eq. 7)."""
        self._check_prediction_unit(unit)
        a, b, g, d = self._p()
        xb, nb = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
        xf, nf = xb.ravel(), nb.ravel()
        if (
            np.any(xf < 0)
            or np.any(xf > nf)
            or np.any(xf != np.floor(xf))
            or np.any(nf != np.floor(nf))
        ):
            raise ParameterError("need whole numbers 0 <= x <= n.")

        def log_choose(top: np.ndarray, k: np.ndarray) -> np.ndarray:
            return gammaln(top + 1.0) - gammaln(k + 1.0) - gammaln(top - k + 1.0)

        first = (
            log_choose(nf, xf)
            + betaln(a + xf, b + nf - xf)
            - betaln(a, b)
            + betaln(g, d + nf)
            - betaln(g, d)
        )
        width = int(np.max(nf)) if len(nf) else 0
        i = np.arange(width)[None, :]
        valid = (i >= xf[:, None]) & (i < nf[:, None])
        ii = np.where(valid, i, xf[:, None])
        rest = (
            log_choose(ii, xf[:, None])
            + betaln(a + xf[:, None], b + ii - xf[:, None])
            - betaln(a, b)
            + betaln(g + 1.0, d + ii)
            - betaln(g, d)
        )
        rest = np.where(valid, rest, -np.inf)
        allterms = np.concatenate([first[:, None], rest], axis=1)
        top = allterms.max(axis=1)
        out = np.exp(top) * np.exp(allterms - top[:, None]).sum(axis=1)
        return out.reshape(xb.shape)

    def predict(
        self,
        data: Any,
        *,
        horizon: int,
        frequency: str = "frequency",
        recency: str = "recency",
        n_periods: str = "n_periods",
        unit: str | None = None,
    ) -> pd.DataFrame:
        """P(alive next opportunity) and expected transactions over ``horizon``."""
        frame = as_pandas(data)
        out = pd.DataFrame(
            {
                "p_alive": self.probability_alive(
                    data, unit=unit, frequency=frequency, recency=recency, n_periods=n_periods
                ),
                "expected_purchases": self.conditional_expected_purchases(
                    data,
                    horizon,
                    unit=unit,
                    frequency=frequency,
                    recency=recency,
                    n_periods=n_periods,
                ),
            },
            index=frame.index,
        )
        out.attrs.update({"horizon": horizon, UNIT_ATTR: self.unit_})
        return out
