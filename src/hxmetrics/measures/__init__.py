"""Validated experience measures: tables in, tidy tables out.

One module per family: :mod:`~hxmetrics.measures.nps`,
:mod:`~hxmetrics.measures.satisfaction` (CSAT, CES, means),
:mod:`~hxmetrics.measures.segments` (comparisons across groups),
:mod:`~hxmetrics.measures.reliability`, :mod:`~hxmetrics.measures.index` (the HX
index), :mod:`~hxmetrics.measures.invariance` (multi-group CFA),
:mod:`~hxmetrics.measures.clv`, :mod:`~hxmetrics.measures.tenure` and
:mod:`~hxmetrics.measures.responsiveness` (tickets, the issue-to-resolution chain, the
closed loop); zero distance, part 2: :mod:`~hxmetrics.measures.touchpoints`,
:mod:`~hxmetrics.measures.journeys`, :mod:`~hxmetrics.measures.ledger` (the team
ledger), :mod:`~hxmetrics.measures.behaviour`, :mod:`~hxmetrics.measures.trends`
(trends and control charts); :mod:`~hxmetrics.measures.drivers` (key drivers),
:mod:`~hxmetrics.measures.text` (comments: sentiment, themes) and
:mod:`~hxmetrics.measures.response_rates` (invitations, response rates, weights).
"""

from hxmetrics.measures._engine import merge_partials
from hxmetrics.measures.behaviour import (
    behaviour_profile,
    behaviour_summary,
)
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
from hxmetrics.measures.drivers import (
    DominanceResult,
    compare_key_drivers,
    dominance_analysis,
    driver_table,
    key_drivers,
    plot_key_drivers,
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
from hxmetrics.measures.journeys import (
    Journeys,
    journeys,
    removal_effects,
)
from hxmetrics.measures.ledger import (
    check_teams,
    team_ledger,
)
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
from hxmetrics.measures.response_rates import (
    SurveyWeights,
    aapor_response_rates,
    check_invitations,
    kish_design_effect,
    rake,
    response_propensity_weights,
    response_rates,
    with_weights,
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
from hxmetrics.measures.text import (
    SentimentResult,
    ThemeImpactResult,
    ThemesResult,
    comment_sentiment,
    comment_themes,
    theme_impact,
    verbatims,
)
from hxmetrics.measures.touchpoints import (
    TouchpointSummary,
    touchpoint_summary,
)
from hxmetrics.measures.trends import (
    ControlChart,
    control_chart,
    plot_trend,
    trend,
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
    "ControlChart",
    "DominanceResult",
    "GammaGamma",
    "HXIndex",
    "ITRStages",
    "InvarianceResult",
    "Journeys",
    "KaplanMeier",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "SensitivityResult",
    "SentimentResult",
    "ShiftedBetaGeometric",
    "SurveyWeights",
    "ThemeImpactResult",
    "ThemesResult",
    "TouchpointSummary",
    "aapor_response_rates",
    "behaviour_profile",
    "behaviour_summary",
    "boomerang_summary",
    "ces",
    "ces_from_statistics",
    "ces_statistics",
    "cfa",
    "check_invitations",
    "check_teams",
    "clock_seconds",
    "closed_loop",
    "comment_sentiment",
    "comment_themes",
    "compare_groups",
    "compare_key_drivers",
    "control_chart",
    "cronbach_alpha",
    "cronbach_alpha_from_statistics",
    "cronbach_alpha_statistics",
    "csat",
    "csat_from_statistics",
    "csat_statistics",
    "customer_lifetime_value",
    "dominance_analysis",
    "driver_table",
    "hx_index",
    "index_weights",
    "item_total",
    "itr_stages",
    "journeys",
    "kaplan_meier",
    "key_drivers",
    "kish_design_effect",
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
    "plot_key_drivers",
    "plot_rank_intervals",
    "plot_trend",
    "rake",
    "reliability",
    "removal_effects",
    "response_propensity_weights",
    "response_rates",
    "responsiveness",
    "retention_curve",
    "rfm_summary",
    "sensitivity",
    "sla_attainment",
    "suppress",
    "team_ledger",
    "theme_impact",
    "time_to_return",
    "touchpoint_summary",
    "trend",
    "verbatims",
    "with_weights",
]
