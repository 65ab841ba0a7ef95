"""Customer lifetime value from a transaction model and a spend model.

``CLV_i = margin * E[spend_i] * sum_k (E[Y_i(k)] - E[Y_i(k-1)]) / (1 + d)^k``

over periods ``k = 1..horizon`` of the transaction model's unit: the expected purchases
of period ``k`` (from the customer's history) are valued at the expected spend per
purchase and discounted by ``d`` per period. Horizon, unit and discount rate are
explicit arguments; the unit must be the model's (no silent rescaling).

The discount rate says its period in its name: ``annual_discount_rate=0.10`` (10% a
year, converted to the model's period as ``(1 + r) ** (days in the period / 365.25) -
1``), or ``discount_rate_per_period=`` (per period of ``unit``: 0.002 a week). The
old ``discount_rate=`` (per period, with nothing saying so: 0.1 with weekly data was
10% a week) still works for one release, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._compat import renamed
from hxmetrics.errors import ParameterError
from hxmetrics.measures.clv._base import (
    UNIT_ATTR,
    CLVModel,
    RepeatBuyingModel,
    as_pandas,
    check_unit,
    discount_per_period,
)
from hxmetrics.measures.clv.bgbb import BetaGeoBetaBinom
from hxmetrics.measures.clv.gamma_gamma import GammaGamma

__all__ = ["customer_lifetime_value"]


@renamed(discount_rate="discount_rate_per_period")
def customer_lifetime_value(
    data: Any,
    transaction_model: RepeatBuyingModel | BetaGeoBetaBinom | None = None,
    spend_model: GammaGamma | None = None,
    *,
    horizon: int,
    unit: str,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float = 1.0,
    spend: float | None = None,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    n_periods: str = "n_periods",
    monetary_value: str = "monetary_value",
) -> pd.DataFrame:
    """Discounted expected value of each customer over an explicit horizon.

    Parameters
    ----------
    data : DataFrame
        One row per customer (e.g. from :func:`rfm_summary`; pandas, Polars, DuckDB
        or a mapping of columns).
    transaction_model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted model of purchases.
    spend_model : GammaGamma or None
        A fitted spend model; or None with a fixed ``spend`` per purchase.
    horizon : int
        Number of periods of ``unit`` to value.
    unit : str
        Unit of the horizon; must be the transaction model's.
    annual_discount_rate : float, optional
        Discount rate per year (0.10 for 10% a year), >= 0; converted to the period
        of ``unit`` as ``(1 + r) ** (days in a period / 365.25) - 1`` (a week: 7 days,
        a month: 365.25 / 12 days).
    discount_rate_per_period : float, optional
        Discount rate per period of ``unit`` (0.002 a week), >= 0. Give exactly one
        of the two rates. ``discount_rate=`` is its deprecated old name.
    margin : float, default 1
        Profit margin applied to spend.
    spend : float, optional
        Spend per purchase when ``spend_model`` is None.
    frequency, recency, T, n_periods, monetary_value : str
        Column names in ``data``.

    Returns
    -------
    pandas.DataFrame
        Index of ``data``; the customer id column first if ``data`` is an
        :func:`rfm_summary` (``attrs["hxmetrics"]["customer"]``); columns
        ``expected_purchases`` (undiscounted, over the horizon), ``expected_spend``
        and ``clv``. ``attrs["hxmetrics"]`` records ``horizon``, ``unit``,
        ``discount_rate_per_period``, ``discount_period`` (the unit it is per),
        ``annual_discount_rate`` (the same rate per year) and ``margin`` (also as
        flat ``attrs`` for one release).

    Notes
    -----
    Until issue 11 the data came third, ``customer_lifetime_value(transaction_model,
    spend_model, data, ...)``; that order still works for one release, with a
    :class:`DeprecationWarning` (a model as the first argument tells it apart).

    Examples
    --------
    >>> from hxmetrics.measures.clv import BetaGeo, GammaGamma, customer_lifetime_value
    >>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")
    >>> gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> hist = {"frequency": [2], "recency": [30.43], "T": [38.86], "monetary_value": [22.35]}
    >>> out = customer_lifetime_value(hist, bg, gg, horizon=52, unit="W",
    ...                               annual_discount_rate=0.0)
    >>> bool(abs(out["clv"].iloc[0] - out["expected_purchases"].iloc[0] * 24.66) < 0.05)
    True
    >>> out = customer_lifetime_value(hist, bg, gg, horizon=52, unit="W",
    ...                               annual_discount_rate=0.10)
    >>> meta = out.attrs["hxmetrics"]
    >>> meta["discount_period"], round(meta["discount_rate_per_period"], 6)
    ('W', 0.001828)
    """
    if isinstance(data, CLVModel):
        # The old order (transaction_model, spend_model, data): a model comes first.
        warnings.warn(
            "customer_lifetime_value(): the data comes first now, "
            "customer_lifetime_value(data, transaction_model, spend_model, ...); the old "
            "order (transaction_model, spend_model, data) goes in the next release.",
            DeprecationWarning,
            stacklevel=3,
        )
        old: tuple[Any, Any, Any] = (spend_model, data, transaction_model)
        data, transaction_model, spend_model = old
    if transaction_model is None:
        raise ParameterError(
            "customer_lifetime_value needs a fitted transaction_model (BetaGeo, "
            "ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom) after the data."
        )
    check_unit(unit)
    if not (isinstance(horizon, (int, np.integer)) and horizon >= 1):
        raise ParameterError(
            f"horizon must be a whole number of {unit!r} periods >= 1; got {horizon!r}."
        )
    per_period, annual = discount_per_period(
        "customer_lifetime_value",
        unit,
        annual_discount_rate=annual_discount_rate,
        discount_rate_per_period=discount_rate_per_period,
    )
    if isinstance(transaction_model, CLVModel):
        transaction_model._check_prediction_unit(unit, data)
    frame = as_pandas(data)
    steps = np.arange(0, int(horizon) + 1, dtype=float)
    if isinstance(transaction_model, BetaGeoBetaBinom):
        cols = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        cum = _cumulative_purchases(transaction_model, frame, steps, cols)
    elif isinstance(transaction_model, RepeatBuyingModel):
        cols = {"frequency": frequency, "recency": recency, "T": T}
        cum = _cumulative_purchases(transaction_model, frame, steps, cols)
    else:
        raise ParameterError(
            "transaction_model must be a fitted BetaGeo, ModifiedBetaGeo, ParetoNBD or "
            f"BetaGeoBetaBinom; got {type(transaction_model).__name__}."
        )
    per_period_purchases = np.diff(cum, axis=1)
    discount = (1.0 + per_period) ** -steps[1:]
    if spend_model is not None:
        if spend is not None:
            raise ParameterError("give either spend_model or spend, not both.")
        if not isinstance(spend_model, GammaGamma):
            raise ParameterError(
                "spend_model must be a fitted GammaGamma or None; got "
                f"{type(spend_model).__name__}."
            )
        expected_spend = spend_model.conditional_expected_spend(
            frame, frequency=frequency, monetary_value=monetary_value
        )
    elif spend is not None and math.isfinite(spend) and spend >= 0:
        expected_spend = np.full(len(frame), float(spend))
    else:
        raise ParameterError("give a fitted spend_model or a fixed spend >= 0 per purchase.")
    clv = float(margin) * expected_spend * (per_period_purchases @ discount)
    out = pd.DataFrame(
        {"expected_purchases": cum[:, -1], "expected_spend": expected_spend, "clv": clv},
        index=frame.index,
    )
    source = frame.attrs.get("hxmetrics")
    customer = source.get("customer") if isinstance(source, dict) else None
    if isinstance(customer, str) and customer in frame.columns:
        out.insert(0, customer, frame[customer].to_numpy())
    meta = {
        "horizon": int(horizon),
        "unit": unit,
        "discount_rate_per_period": per_period,
        "discount_period": unit,
        "annual_discount_rate": annual,
        "margin": float(margin),
    }
    out.attrs.update({k: v for k, v in meta.items() if k != "unit"})
    out.attrs[UNIT_ATTR] = unit
    out.attrs["hxmetrics"] = {"measure": "customer_lifetime_value", **meta}
    return out


def _cumulative_purchases(
    model: Any, frame: pd.DataFrame, steps: np.ndarray, cols: dict[str, str]
) -> np.ndarray:
    """Expected purchases by each horizon of ``steps``: an (n customers, len(steps)) array.

    The prediction is a function of each customer's history columns alone, and
    customers share few distinct histories (thousands among a million), so the
    horizons after the first are evaluated once per distinct history and expanded:
    the same floating-point operations on the same values, so the same numbers.
    The first horizon runs on the whole frame, so that its checks (and their error
    messages) see every row as before.
    """
    first = model.conditional_expected_purchases(frame, steps[0], **cols)
    cum = np.empty((len(frame), len(steps)))
    cum[:, 0] = first
    if len(steps) == 1:
        return cum
    keys = frame[list(dict.fromkeys(cols.values()))]
    # Groups numbered by first appearance: group k is row k of the distinct histories.
    grouped = keys.groupby(list(keys.columns), sort=False, dropna=False)
    codes = grouped.ngroup().to_numpy()
    distinct = keys.drop_duplicates()
    distinct.attrs.update(frame.attrs)
    for pos, k in enumerate(steps[1:], start=1):
        cum[:, pos] = model.conditional_expected_purchases(distinct, k, **cols)[codes]
    return cum
