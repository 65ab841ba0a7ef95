"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007).

At the end of each period a customer cancels with probability ``theta`` (constant for
the customer, beta(alpha, beta) across customers). For a cohort observed over ``K``
periods, with ``n_t`` lost in period ``t`` and ``S_K`` still active::

    LL = sum_t n_t ln P(T = t) + S_K ln S(K),
    P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta),   S(t) = B(alpha, beta+t) / B(alpha, beta),

(their Eq. B3). Several cohorts observed for different lengths are pooled by adding
their log-likelihoods (Fader & Hardie's 2007 note on multi-cohort data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma

from hxmetrics._compat import renamed
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.clv._base import (
    CLVModel,
    _no_cases,
    as_pandas,
    bad_rows,
    discount_per_period,
    numeric_columns,
    resolve_fit_unit,
    wsum,
)

__all__ = ["ShiftedBetaGeometric"]


def _sbg_loglik(
    params: np.ndarray, t: np.ndarray, censored: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Rows: churned in period ``t`` (censored = 0) or still active after ``t`` (= 1)."""
    a, b = params
    base_a = digamma(a) - digamma(a + b)
    base_b = digamma(b) - digamma(a + b)
    churn = censored == 0
    ll = np.where(
        churn,
        betaln(a + 1.0, b + t - 1.0) - betaln(a, b),
        betaln(a, b + t) - betaln(a, b),
    )
    g_a = np.where(
        churn,
        digamma(a + 1.0) - digamma(a + b + t) - base_a,
        digamma(a) - digamma(a + b + t) - base_a,
    )
    g_b = np.where(
        churn,
        digamma(b + t - 1.0) - digamma(a + b + t) - base_b,
        digamma(b + t) - digamma(a + b + t) - base_b,
    )
    return wsum(w, ll), np.array([wsum(w, g_a), wsum(w, g_b)])


def _hyp1(p: np.ndarray, q: np.ndarray, z: float) -> np.ndarray:
    """2F1(1, p; q; z) for 0 < p < q and 0 <= z < 1: positive terms shrinking by < z."""
    total = np.ones_like(p)
    term = np.ones_like(p)
    for k in range(100_000):
        term = term * (p + k) / (q + k) * z
        total = total + term
        if np.all(term <= 1e-17 * total):
            break
    return total


class ShiftedBetaGeometric(CLVModel):
    """sBG model of contract renewals by cohort (Fader & Hardie 2007).

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta``: the beta distribution of the per-period churn probability.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention.
    *Journal of Interactive Marketing* 21(1), 76-90.

    Examples
    --------
    The paper's "regular" segment, seven years of survivors out of 1000:

    >>> import pandas as pd
    >>> from hxmetrics.measures.clv import ShiftedBetaGeometric
    >>> survivors = pd.DataFrame({"period": range(8),
    ...     "survivors": [1000, 631, 468, 382, 326, 289, 262, 241]})
    >>> m = ShiftedBetaGeometric().fit(survivors, unit="Y")
    >>> round(m.params_["alpha"], 3), round(m.params_["beta"], 3)
    (0.704, 1.182)
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0)

    def _loglik(
        self, params: np.ndarray, data: tuple[np.ndarray, ...], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        t, censored = data
        return _sbg_loglik(params, t, censored, weights)

    def fit(
        self,
        data: Any,
        *,
        period: str = "period",
        survivors: str = "survivors",
        cohort: str | None = None,
        unit: str | None = None,
        start: Mapping[str, float] | None = None,
    ) -> ShiftedBetaGeometric:
        """Fit to survivor counts of one or several cohorts.

        Parameters
        ----------
        data : DataFrame
            One row per (cohort, period): ``period`` 0, 1, ..., K (consecutive) and the
            number of customers of the cohort still active at that period (period 0 =
            the cohort's size). Counts may be weighted (non-integer).
        period, survivors : str
            Column names.
        cohort : str, optional
            Cohort column; cohorts are pooled (one ``alpha``, ``beta``), each with its
            own length of observation. Fit cohorts separately to compare them.
        unit : str
            The contract period (``"M"``, ``"Y"``, ...), or ``data.attrs['hx_unit']``.
        start : mapping, optional
            Starting values.

        Returns
        -------
        self
        """
        fit_unit = resolve_fit_unit(type(self).__name__, unit, data)
        frame = as_pandas(data)
        roles = {"period": period, "survivors": survivors}
        frame, cols = numeric_columns(frame, roles)
        key = frame[cohort] if cohort is not None else pd.Series(0, index=frame.index)
        if cohort is not None and key.isna().any():
            raise bad_rows(
                frame,
                key.isna().to_numpy(),
                columns=[cohort],
                check="not_null",
                message="have a missing cohort",
            )
        work = pd.DataFrame(
            {"cohort": key.to_numpy(), "t": cols["period"], "s": cols["survivors"]},
            index=frame.index,
        )
        work = work.sort_values(["cohort", "t"], kind="stable")
        pos = work.groupby("cohort", sort=False).cumcount().to_numpy()
        bad = work["t"].to_numpy() != pos
        if bad.any():
            raise bad_rows(
                frame.loc[work.index],
                bad,
                columns=[period],
                check="consecutive",
                message="break the rule that each cohort's periods run 0, 1, 2, ... "
                "without gaps or repeats",
            )
        s = work["s"].to_numpy()
        prev = work.groupby("cohort", sort=False)["s"].shift(1).to_numpy()
        lost = prev - s
        bad = (s < 0) | (np.nan_to_num(lost, nan=0.0) < 0)
        if bad.any():
            raise bad_rows(
                frame.loc[work.index],
                bad,
                columns=[survivors],
                check="non_increasing",
                message="have negative or increasing survivor counts",
            )
        t = work["t"].to_numpy()
        is_last = work.groupby("cohort", sort=False)["t"].transform("max").to_numpy() == t
        if np.all(t == 0):
            raise InputTableError(
                "sBG needs at least one renewal period per cohort (periods 0 and 1).",
                table="data",
                failure_cases=_no_cases(),
            )
        churn_t, churn_w = t[t > 0], lost[t > 0]
        cens_t, cens_w = t[is_last & (t > 0)], s[is_last & (t > 0)]
        times = np.concatenate([churn_t, cens_t])
        censored = np.concatenate([np.zeros(len(churn_t)), np.ones(len(cens_t))])
        weights = np.concatenate([churn_w, cens_w])
        keep = weights > 0
        self._fit_arrays(
            (times[keep], censored[keep]),
            weights[keep],
            unit=fit_unit,
            start=self._start_values(start),
            extra_info={
                "n_cohorts": int(work["cohort"].nunique()),
                "n_customers": float(s[t == 0].sum()),
            },
        )
        return self

    def _periods(self, t: Any, unit: str | None) -> np.ndarray:
        self._check_prediction_unit(unit)
        arr = np.asarray(t, dtype=float)
        if np.any(arr < 0) or np.any(arr != np.floor(arr)):
            raise ParameterError("periods must be whole numbers >= 0.")
        return arr

    def _plot_curve(self, horizon: float | None) -> tuple[np.ndarray, np.ndarray, str, str, bool]:
        t = np.arange(0.0, math.floor(horizon or 10.0) + 1.0)
        return (
            t,
            self.survival(t),
            f"renewal periods ({self.unit_})",
            "share of a cohort still active",
            True,
        )

    def survival(self, t: Any, *, unit: str | None = None) -> np.ndarray:
        """S(t): share of a new cohort still active after ``t`` renewal periods."""
        a, b = self._p()
        tt = self._periods(t, unit)
        return np.asarray(np.exp(betaln(a, b + tt) - betaln(a, b)), dtype=float)

    def churn_probability(self, t: Any, *, unit: str | None = None) -> np.ndarray:
        """P(T = t): probability of cancelling at the end of period ``t`` (t >= 1)."""
        a, b = self._p()
        tt = self._periods(t, unit)
        if np.any(tt < 1):
            raise ParameterError("churn periods start at 1.")
        return np.asarray(np.exp(betaln(a + 1.0, b + tt - 1.0) - betaln(a, b)), dtype=float)

    def retention_rate(self, t: Any, *, unit: str | None = None) -> np.ndarray:
        """r_t = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1."""
        a, b = self._p()
        tt = self._periods(t, unit)
        if np.any(tt < 1):
            raise ParameterError("retention rates start at period 1.")
        return np.asarray((b + tt - 1.0) / (a + b + tt - 1.0), dtype=float)

    def expected_survivors(
        self, cohort_size: float, t: Any, *, unit: str | None = None
    ) -> np.ndarray:
        """Expected number of a cohort of ``cohort_size`` still active after ``t`` periods."""
        return float(cohort_size) * self.survival(t, unit=unit)

    @renamed(discount_rate="discount_rate_per_period")
    def discounted_expected_payments(
        self,
        *,
        annual_discount_rate: float | None = None,
        discount_rate_per_period: float | None = None,
        age: Any = 0,
        unit: str | None = None,
    ) -> np.ndarray:
        """Expected discounted number of payments of a customer active at ``age``.

        A customer who has renewed ``age`` times pays now (period ``age``) and at every
        later period while active: ``sum_k S(age+k)/S(age) / (1+d)^k`` over ``k >= 0``
        (the "discounted expected residual lifetime" of Fader & Hardie 2010, counting the
        current payment).

        Parameters
        ----------
        annual_discount_rate : float, optional
            Discount rate per year (> 0), converted to the model's period as
            ``(1 + r) ** (days in a period / 365.25) - 1``.
        discount_rate_per_period : float, optional
            Discount rate ``d`` per period of the model's unit (> 0). Give exactly one
            of the two; ``discount_rate=`` is the deprecated old name of this one.
        age : int or array, default 0
            Renewals so far.
        unit : str, optional
            If given, must be the model's unit.
        """
        a, b = self._p()
        ages = self._periods(age, unit)
        d, _ = discount_per_period(
            "discounted_expected_payments",
            str(self.unit_),
            annual_discount_rate=annual_discount_rate,
            discount_rate_per_period=discount_rate_per_period,
            positive=True,
        )
        return _hyp1(b + ages, a + b + ages, 1.0 / (1.0 + d))

    @renamed(discount_rate="discount_rate_per_period")
    def customer_lifetime_value(
        self,
        *,
        value_per_period: float,
        annual_discount_rate: float | None = None,
        discount_rate_per_period: float | None = None,
        age: Any = 0,
        unit: str | None = None,
    ) -> np.ndarray:
        """Expected discounted value of a customer active at ``age`` (contractual CLV).

        ``value_per_period`` times :meth:`discounted_expected_payments` (the same
        discount rate arguments: ``annual_discount_rate=`` or
        ``discount_rate_per_period=``, per period of the model's unit).
        """
        return float(value_per_period) * self.discounted_expected_payments(
            annual_discount_rate=annual_discount_rate,
            discount_rate_per_period=discount_rate_per_period,
            age=age,
            unit=unit,
        )
