"""Validated experience measures: tables in, tidy tables out.

One module per family: :mod:`~hxmetrics.measures.nps`,
:mod:`~hxmetrics.measures.satisfaction` (CSAT, CES, means),
:mod:`~hxmetrics.measures.segments` (comparisons across groups),
:mod:`~hxmetrics.measures.reliability`, :mod:`~hxmetrics.measures.index` (the HX
index), :mod:`~hxmetrics.measures.invariance` (multi-group CFA),
:mod:`~hxmetrics.measures.clv`, :mod:`~hxmetrics.measures.tenure` and
:mod:`~hxmetrics.measures.responsiveness` (tickets, the issue-to-resolution chain, the
closed loop).
"""

from hxmetrics.measures._engine import merge_partials
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
from hxmetrics.measures.index import (
    HXIndex,
    SensitivityResult,
    hx_index,
    index_weights,
    plot_rank_intervals,
    sensitivity,
)
from hxmetrics.measures.invariance import CFA, InvarianceResult, cfa, measurement_invariance
from hxmetrics.measures.nps import (
    nps,
    nps_from_statistics,
    nps_margin,
    nps_sample_size,
    nps_statistics,
    nps_test,
)
from hxmetrics.measures.privacy import WORKER_MIN_N, suppress
from hxmetrics.measures.reliability import (
    cronbach_alpha,
    cronbach_alpha_from_statistics,
    cronbach_alpha_statistics,
    item_total,
    mcdonald_omega,
    mcdonald_omega_from_statistics,
    mcdonald_omega_statistics,
    reliability,
)
from hxmetrics.measures.responsiveness import (
    BusinessCalendar,
    ClosedLoop,
    ITRStages,
    clock_seconds,
    closed_loop,
    itr_stages,
    responsiveness,
    sla_attainment,
)
from hxmetrics.measures.satisfaction import (
    ces,
    ces_from_statistics,
    ces_statistics,
    csat,
    csat_from_statistics,
    csat_statistics,
    mean_score,
    mean_score_from_statistics,
    mean_score_statistics,
)
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.tenure import (
    KaplanMeier,
    boomerang_summary,
    kaplan_meier,
    km_quantiles,
    km_restricted_mean,
    km_survival_at,
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
    "CFA",
    "JOB_MEASURES",
    "WORKER_MIN_N",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "BusinessCalendar",
    "ClosedLoop",
    "GammaGamma",
    "HXIndex",
    "ITRStages",
    "InvarianceResult",
    "KaplanMeier",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "SensitivityResult",
    "ShiftedBetaGeometric",
    "boomerang_summary",
    "ces",
    "ces_from_statistics",
    "ces_statistics",
    "cfa",
    "clock_seconds",
    "closed_loop",
    "compare_groups",
    "cronbach_alpha",
    "cronbach_alpha_from_statistics",
    "cronbach_alpha_statistics",
    "csat",
    "csat_from_statistics",
    "csat_statistics",
    "customer_lifetime_value",
    "hx_index",
    "index_weights",
    "item_total",
    "itr_stages",
    "kaplan_meier",
    "km_quantiles",
    "km_restricted_mean",
    "km_survival_at",
    "mcdonald_omega",
    "mcdonald_omega_from_statistics",
    "mcdonald_omega_statistics",
    "mean_score",
    "mean_score_from_statistics",
    "mean_score_statistics",
    "measurement_invariance",
    "median_tenure",
    "merge_partials",
    "model_from_dict",
    "nps",
    "nps_from_statistics",
    "nps_margin",
    "nps_sample_size",
    "nps_statistics",
    "nps_test",
    "plot_rank_intervals",
    "reliability",
    "responsiveness",
    "retention_curve",
    "rfm_summary",
    "sensitivity",
    "sla_attainment",
    "suppress",
    "time_to_return",
]
