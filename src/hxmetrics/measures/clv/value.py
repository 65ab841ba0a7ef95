"""Customer lifetime value from a transaction model and a spend model.

``CLV_i = margin * E[spend_i] * sum_k (E[Y_i(k)] - E[Y_i(k-1)]) / (1 + d)^k``

over periods ``k = 1..horizon`` of the transaction model's unit: the expected purchases
of period ``k`` (from the customer's history) are valued at the expected spend per
purchase and discounted by ``d`` per period. Horizon, unit and discount rate are
explicit arguments; the unit must be the model's (no silent rescaling).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.measures.clv._base import UNIT_ATTR, RepeatBuyingModel, as_pandas, check_unit
from hxmetrics.measures.clv.bgbb import BetaGeoBetaBinom
from hxmetrics.measures.clv.gamma_gamma import GammaGamma

__all__ = ["customer_lifetime_value"]


def customer_lifetime_value(
    transaction_model: RepeatBuyingModel | BetaGeoBetaBinom,
    spend_model: GammaGamma | None,
    data: Any,
    *,
    horizon: int,
    unit: str,
    discount_rate: float,
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
    transaction_model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted model of purchases.
    spend_model : GammaGamma or None
        A fitted spend model; or None with a fixed ``spend`` per purchase.
    data : DataFrame
        One row per customer (e.g. from :func:`rfm_summary`).
    horizon : int
        Number of periods of ``unit`` to value.
    unit : str
        Unit of the horizon and the discount rate; must be the transaction model's.
    discount_rate : float
        Discount rate per period of ``unit`` (e.g. 0.01 per month), >= 0.
    margin : float, default 1
        Profit margin applied to spend.
    spend : float, optional
        Spend per purchase when ``spend_model`` is None.

    Returns
    -------
    pandas.DataFrame
        Index of ``data``; columns ``expected_purchases`` (undiscounted, over the
        horizon), ``expected_spend`` and ``clv``; ``attrs`` record horizon, unit,
        discount rate and margin.

    Examples
    --------
    >>> from hxmetrics.measures.clv import BetaGeo, GammaGamma, customer_lifetime_value
    >>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")
    >>> gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> hist = {"frequency": [2], "recency": [30.43], "T": [38.86], "monetary_value": [22.35]}
    >>> out = customer_lifetime_value(bg, gg, hist, horizon=52, unit="W", discount_rate=0.0)
    >>> bool(abs(out["clv"].iloc[0] - out["expected_purchases"].iloc[0] * 24.66) < 0.05)
    True
    """
    check_unit(unit)
    if not (isinstance(horizon, (int, np.integer)) and horizon >= 1):
        raise ParameterError(
            f"horizon must be a whole number of {unit!r} periods >= 1; got {horizon!r}."
        )
    if not (math.isfinite(discount_rate) and discount_rate >= 0):
        raise ParameterError(f"discount_rate must be >= 0 per {unit!r}; got {discount_rate!r}.")
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
    per_period = np.diff(cum, axis=1)
    discount = (1.0 + discount_rate) ** -steps[1:]
    if spend_model is not None:
        if spend is not None:
            raise ParameterError("give either spend_model or spend, not both.")
        expected_spend = spend_model.conditional_expected_spend(
            frame, frequency=frequency, monetary_value=monetary_value
        )
    elif spend is not None and math.isfinite(spend) and spend >= 0:
        expected_spend = np.full(len(frame), float(spend))
    else:
        raise ParameterError("give a fitted spend_model or a fixed spend >= 0 per purchase.")
    clv = float(margin) * expected_spend * (per_period @ discount)
    out = pd.DataFrame(
        {"expected_purchases": cum[:, -1], "expected_spend": expected_spend, "clv": clv},
        index=frame.index,
    )
    out.attrs.update(
        {
            "horizon": int(horizon),
            UNIT_ATTR: unit,
            "discount_rate": float(discount_rate),
            "margin": float(margin),
        }
    )
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
