"""Gamma-Gamma model of spend per transaction (Fader & Hardie 2013 note; FHL 2005).

A customer's transaction values are gamma(p, nu); ``nu`` is gamma(q, gamma) across
customers and independent of the transaction process. The average ``zbar`` of ``x``
transactions has the beta-of-the-second-kind density::

    f(zbar | x) = 1 / (zbar B(px, q)) * (g / (g + x zbar))^q * (x zbar / (g + x zbar))^(px),

written, as the note recommends, with both bases below one; the log-likelihood and its
gradient are sums of logs and digammas. Customers without repeat purchases carry no
spend information and are left out of the fit (the count is in ``fit_info_``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammainccinv, gammaln

from hxmetrics.errors import ParameterError
from hxmetrics.measures.clv._base import (
    CLVModel,
    as_pandas,
    bad_rows,
    collapse,
    numeric_columns,
    wsum,
)

__all__ = ["GammaGamma"]


def _gg_loglik(
    params: np.ndarray, x: np.ndarray, zbar: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    p, q, g = params
    px = p * x
    log_den = np.log(g + x * zbar)
    log_g_share = np.log(g) - log_den  # log(g / (g + x zbar))
    log_z_share = np.log(x * zbar) - log_den  # log(x zbar / (g + x zbar))
    ll = -np.log(zbar) - betaln(px, q) + q * log_g_share + px * log_z_share
    psi = digamma(px + q)
    g_p = x * (psi - digamma(px) + log_z_share)
    g_q = psi - digamma(q) + log_g_share
    g_g = q / g - (px + q) / (g + x * zbar)
    return wsum(w, ll), np.array([wsum(w, g_p), wsum(w, g_q), wsum(w, g_g)])


class GammaGamma(CLVModel):
    """Gamma-Gamma model of the average spend per repeat transaction.

    Attributes
    ----------
    params_ : dict
        ``p`` (shape of a customer's spend), ``q`` and ``gamma`` (gamma distribution of
        the spend rate across customers).
    fit_info_ : dict
        Includes ``n_excluded_no_repeat``: customers left out for having no repeat
        purchase.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
    http://brucehardie.com/notes/025/
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value
    curves for customer base analysis. *Journal of Marketing Research* 42(4), 415-430.

    Examples
    --------
    >>> from hxmetrics.measures.clv import GammaGamma
    >>> m = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> spend = {"frequency": [2, 0], "monetary_value": [22.35, 0.0]}
    >>> [round(float(v), 2) for v in m.conditional_expected_spend(spend)]
    [24.66, 35.22]
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0)
    _needs_unit: ClassVar[bool] = False

    def _loglik(
        self, params: np.ndarray, data: tuple[np.ndarray, ...], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        x, zbar = data
        return _gg_loglik(params, x, zbar, weights)

    def _spend(
        self, data: Any, *, frequency: str, monetary_value: str
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        frame, cols = numeric_columns(
            data, {"frequency": frequency, "monetary_value": monetary_value}
        )
        x, z = cols["frequency"], cols["monetary_value"]
        bad = (x < 0) | (x != np.floor(x))
        if bad.any():
            raise bad_rows(
                frame,
                bad,
                columns=[frequency],
                check="frequency_whole",
                message="have a frequency that is not a whole number >= 0",
            )
        bad = (x > 0) & (z <= 0)
        if bad.any():
            raise bad_rows(
                frame,
                bad,
                columns=[frequency, monetary_value],
                check="positive_spend",
                message="have repeat purchases but a monetary value <= 0 (the model is for "
                "positive spend; drop refunds or model them separately)",
            )
        # The likelihood needs a customer's total repeat spend x * zbar; an average of
        # 1e308 is finite but that total is not (inf, with only a RuntimeWarning).
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(x * z)
        if bad.any():
            raise bad_rows(
                frame,
                bad,
                columns=[monetary_value, frequency],
                check="finite_total_spend",
                message=f"have a {monetary_value!r} so large that the total spend "
                f"({frequency!r} x {monetary_value!r}) is not a finite number; express "
                "amounts in a larger currency unit (e.g. thousands)",
            )
        return frame, x, z

    def fit(
        self,
        data: Any,
        *,
        frequency: str = "frequency",
        monetary_value: str = "monetary_value",
        weights: str | None = None,
        start: Mapping[str, float] | None = None,
    ) -> GammaGamma:
        """Fit to customers' repeat-purchase counts and average repeat spend.

        Parameters
        ----------
        data : DataFrame
            E.g. the output of :func:`~hxmetrics.measures.clv.rfm_summary` with
            ``amount=``. Rows with ``frequency == 0`` are left out (and counted).
        frequency, monetary_value : str
            Columns of ``x`` and of the mean spend of the ``x`` repeat purchases.
        weights : str, optional
            Column of case weights.
        start : mapping, optional
            Starting values.

        Returns
        -------
        self
        """
        frame, x, z = self._spend(data, frequency=frequency, monetary_value=monetary_value)
        w = np.ones(len(x))
        if weights is not None:
            w = numeric_columns(frame, {"weights": weights})[1]["weights"]
        used = x > 0
        if not used.any():
            raise ParameterError(
                "GammaGamma.fit: no customer has a repeat purchase, so there is no spend to model."
            )
        cx, cz, cw = collapse(x[used], z[used], weights=w[used])
        keep = cw > 0
        self._fit_arrays(
            (cx[keep], cz[keep]),
            cw[keep],
            unit=None,
            start=self._start_values(start),
            extra_info={
                "n_customers": float(w[used].sum()),
                "n_excluded_no_repeat": float(w[~used].sum()),
            },
        )
        return self

    def _plot_curve(self, horizon: float | None) -> tuple[np.ndarray, np.ndarray, str, str, bool]:
        # A customer's mean spend p / nu, nu ~ Gamma(q, rate gamma), is inverse gamma
        # with shape q and scale p * gamma: P(M <= m) = Q(q, p * gamma / m).
        p, q, g = self._p()
        scale = p * g
        top = float(horizon) if horizon else scale / float(gammainccinv(q, 0.99))
        m = np.linspace(top / 400.0, top, 400)
        log_pdf = q * np.log(scale) - gammaln(q) - (q + 1.0) * np.log(m) - scale / m
        return (
            m,
            np.exp(log_pdf),
            "mean spend per transaction of a customer",
            "density across customers",
            False,
        )

    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1): mean spend per transaction across customers."""
        p, q, g = self._p()
        if q <= 1:
            raise ParameterError(
                f"q = {q:.4g} <= 1: the mean spend across customers is infinite under "
                "this fit (heavy right tail); report medians instead."
            )
        return float(p * g / (q - 1.0))

    def conditional_expected_spend(
        self,
        data: Any,
        *,
        frequency: str = "frequency",
        monetary_value: str = "monetary_value",
    ) -> np.ndarray:
        """E[Z | zbar, x] = p (gamma + x zbar) / (p x + q - 1) per customer (Eq. 5).

        A weighted average of the population mean and the customer's own average; a
        customer without repeat purchases gets the population mean.
        """
        p, q, g = self._p()
        _, x, z = self._spend(data, frequency=frequency, monetary_value=monetary_value)
        z = np.where(x > 0, z, 0.0)
        den = p * x + q - 1.0
        if np.any(den <= 0):
            raise ParameterError(
                f"q = {q:.4g}: the expected spend is infinite for customers with "
                "p x + q <= 1 (for x = 0 when q <= 1)."
            )
        return np.asarray(p * (g + x * z) / den, dtype=float)

    def predict(
        self,
        data: Any,
        *,
        frequency: str = "frequency",
        monetary_value: str = "monetary_value",
    ) -> pd.DataFrame:
        """Expected spend per transaction for each customer (``expected_spend``)."""
        frame = as_pandas(data)
        return pd.DataFrame(
            {
                "expected_spend": self.conditional_expected_spend(
                    data, frequency=frequency, monetary_value=monetary_value
                )
            },
            index=frame.index,
        )
