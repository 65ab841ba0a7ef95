"""Customer lifetime value: RFM summaries, buy-till-you-die models, spend, retention.

* :func:`rfm_summary` turns a transaction log into one row per customer
  (frequency, recency, T, monetary value, optional holdout columns), in an explicit
  time unit, on pandas, Polars or DuckDB.
* Repeat-buying models fitted to those rows: :class:`BetaGeo` (BG/NBD),
  :class:`ModifiedBetaGeo` (MBG/NBD), :class:`ParetoNBD`; for discrete opportunities
  :class:`BetaGeoBetaBinom` (BG/BB); for spend :class:`GammaGamma`; for contractual
  retention by cohort :class:`ShiftedBetaGeometric` (sBG).
* :func:`customer_lifetime_value` values the customers of ``data`` (first, as everywhere)
  with a transaction model and a spend model, over an explicit horizon and unit, at a
  discount rate that names its period: ``annual_discount_rate=`` or
  ``discount_rate_per_period=``.
* Every model follows the fitted-model protocol: ``fit`` returns it, ``params_``,
  ``summary()``, ``plot(ax=)``, a notebook display, ``to_dict``/``from_dict``.
* Per-model simulators with known parameters (:mod:`.simulate`) and diagnostics plots
  (:mod:`.plotting`, data first).
"""

from hxmetrics.measures.clv._base import UNITS, CLVModel, model_from_dict
from hxmetrics.measures.clv.betageo import BetaGeo
from hxmetrics.measures.clv.bgbb import BetaGeoBetaBinom
from hxmetrics.measures.clv.gamma_gamma import GammaGamma
from hxmetrics.measures.clv.modified_betageo import ModifiedBetaGeo
from hxmetrics.measures.clv.pareto_nbd import ParetoNBD
from hxmetrics.measures.clv.rfm import rfm_summary
from hxmetrics.measures.clv.sbg import ShiftedBetaGeometric
from hxmetrics.measures.clv.value import customer_lifetime_value

__all__ = [
    "UNITS",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "CLVModel",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "customer_lifetime_value",
    "model_from_dict",
    "rfm_summary",
]
