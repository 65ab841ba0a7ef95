"""Validated experience measures: tables in, tidy tables out.

One module per family: :mod:`~hxmetrics.measures.nps`,
:mod:`~hxmetrics.measures.satisfaction` (CSAT, CES, means),
:mod:`~hxmetrics.measures.segments` (comparisons across groups),
:mod:`~hxmetrics.measures.reliability`, :mod:`~hxmetrics.measures.index` (the HX
index), :mod:`~hxmetrics.measures.invariance` (multi-group CFA),
:mod:`~hxmetrics.measures.clv` and :mod:`~hxmetrics.measures.tenure`.
"""

from hxmetrics.measures.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeometric,
    customer_lifetime_value,
    model_from_dict,
    rfm_summary,
)
from hxmetrics.measures.index import hx_index, index_weights, plot_rank_intervals, sensitivity
from hxmetrics.measures.invariance import cfa, measurement_invariance
from hxmetrics.measures.nps import nps, nps_margin, nps_sample_size, nps_test
from hxmetrics.measures.privacy import WORKER_MIN_N, suppress
from hxmetrics.measures.reliability import (
    cronbach_alpha,
    item_total,
    mcdonald_omega,
    reliability,
)
from hxmetrics.measures.satisfaction import ces, csat, mean_score
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.tenure import (
    boomerang_summary,
    kaplan_meier,
    median_tenure,
    retention_curve,
    time_to_return,
)

#: Measures a batch job (``hxmetrics compute``) may name in ``function = "..."``:
#: those that take a long table first and return a tidy frame.
JOB_MEASURES = (
    "nps",
    "csat",
    "ces",
    "mean_score",
    "hx_index",
    "rfm_summary",
)

__all__ = [
    "JOB_MEASURES",
    "WORKER_MIN_N",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "boomerang_summary",
    "ces",
    "cfa",
    "compare_groups",
    "cronbach_alpha",
    "csat",
    "customer_lifetime_value",
    "hx_index",
    "index_weights",
    "item_total",
    "kaplan_meier",
    "mcdonald_omega",
    "mean_score",
    "measurement_invariance",
    "median_tenure",
    "model_from_dict",
    "nps",
    "nps_margin",
    "nps_sample_size",
    "nps_test",
    "plot_rank_intervals",
    "reliability",
    "retention_curve",
    "rfm_summary",
    "sensitivity",
    "suppress",
    "time_to_return",
]
