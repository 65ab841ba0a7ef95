"""hxmetrics: human-experience analytics on a unified stakeholder model.

Everything a notebook needs is reachable from ``hx.``::

    import hxmetrics as hx
    org = hx.load_sample()
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners)
    answers = registry.attribute(org.responses)
    hx.nps(answers[answers["instrument"] == "nps"], "score", by="hybrid_type")

Importing hxmetrics registers the ``df.hx`` pandas accessor.
"""

from hxmetrics import accessor as _accessor  # noqa: F401  (registers df.hx)
from hxmetrics.compare import (
    SiloComparison,
    SimpsonCheck,
    plot_decomposition,
    plot_silo_bias,
    pooled_vs_stratified,
    siloed_vs_unified,
    simulate_silo_bias,
)
from hxmetrics.datasets import load_sample, simulate_organisation
from hxmetrics.errors import (
    ConvergenceError,
    HxError,
    InputTableError,
    ParameterError,
    PrivacyError,
)
from hxmetrics.measures import *  # noqa: F403
from hxmetrics.measures import __all__ as _measures_all
from hxmetrics.privacy import Disclosure
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
from hxmetrics.tables import validate

__version__ = "0.1.0"

__all__ = [
    "ConvergenceError",
    "Disclosure",
    "HxError",
    "InputTableError",
    "ParameterError",
    "PrivacyError",
    "SiloComparison",
    "SimpsonCheck",
    "StakeholderRegistry",
    "__version__",
    "attribute",
    "classify_hybrids",
    "load_sample",
    "new_secret",
    "plot_decomposition",
    "plot_silo_bias",
    "pooled_vs_stratified",
    "pseudonymise",
    "resolve_identities",
    "role_episodes",
    "silo_view",
    "siloed_vs_unified",
    "simulate_silo_bias",
    "simulate_organisation",
    "validate",
    *_measures_all,
]
