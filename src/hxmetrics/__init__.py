"""hxmetrics: human-experience analytics on a unified stakeholder model.

Everything a notebook needs is reachable from ``hx.``::

    import hxmetrics as hx
    org = hx.load_sample()
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners)
    answers = registry.attribute(org.responses)
    hx.nps(answers[answers["instrument"] == "nps"], "score", by="hybrid_type")

Importing hxmetrics registers the ``df.hx`` pandas accessor and costs little more than
importing pandas: the subpackages (and SciPy, statsmodels, pandera, matplotlib behind
them) are imported when one of their names is first used.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from hxmetrics import accessor as _accessor  # registers df.hx
from hxmetrics.errors import (
    ConvergenceError,
    HxError,
    HxWarning,
    InputTableError,
    ParameterError,
    PrivacyError,
)

# A library logs; the application decides where logs go (the CLI's -v shows them).
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from hxmetrics.compare import (
        SiloComparison,
        SiloDesign,
        SimpsonCheck,
        plot_decomposition,
        plot_silo_bias,
        pooled_vs_stratified,
        prepare_silos,
        siloed_vs_unified,
        simulate_silo_bias,
    )
    from hxmetrics.datasets import load_sample, simulate_organisation
    from hxmetrics.instruments import (
        InstrumentCatalogue,
        check_responses,
        load_bank,
        score_instrument,
        zero_distance_gap,
    )
    from hxmetrics.measures import *  # noqa: F403
    from hxmetrics.privacy import Disclosure, redact_identifiers
    from hxmetrics.stakeholders import (
        StakeholderRegistry,
        attribute,
        classify_hybrids,
        new_secret,
        pseudonymise,
        resolve_identities,
        role_episodes,
        silo_view,
    )
    from hxmetrics.tables import role_of, silo_of, validate

__version__ = "0.1.0"

# The names of hxmetrics.measures, written out so that ``import hxmetrics`` need not
# import the measures (SciPy behind them) to know them; tests/test_package.py fails
# when this list and ``hxmetrics.measures.__all__`` differ.
_MEASURES = (
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
)
#: Public name -> the module that owns it (imported on first use).
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "SiloComparison",
            "SiloDesign",
            "SimpsonCheck",
            "linkage_sensitivity",
            "plot_decomposition",
            "plot_silo_bias",
            "pooled_vs_stratified",
            "prepare_silos",
            "siloed_vs_unified",
            "simulate_silo_bias",
        ),
        "hxmetrics.compare",
    ),
    **dict.fromkeys(("load_sample", "simulate_organisation"), "hxmetrics.datasets"),
    **dict.fromkeys(_MEASURES, "hxmetrics.measures"),
    **dict.fromkeys(("Disclosure", "redact_identifiers"), "hxmetrics.privacy"),
    **dict.fromkeys(
        (
            "InstrumentCatalogue",
            "check_responses",
            "load_bank",
            "score_instrument",
            "zero_distance_gap",
        ),
        "hxmetrics.instruments",
    ),
    **dict.fromkeys(
        (
            "LinkageModel",
            "StakeholderRegistry",
            "attribute",
            "classify_hybrids",
            "new_secret",
            "pseudonymise",
            "resolve_identities",
            "role_episodes",
            "silo_view",
        ),
        "hxmetrics.stakeholders",
    ),
    **dict.fromkeys(("role_of", "silo_of", "validate"), "hxmetrics.tables"),
}

__all__ = [
    "ConvergenceError",
    "HxError",
    "HxWarning",
    "InputTableError",
    "ParameterError",
    "PrivacyError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hxmetrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
