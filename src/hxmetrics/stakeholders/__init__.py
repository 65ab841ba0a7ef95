"""The unified stakeholder model: persons, their role episodes, hybrids, attribution.

``StakeholderRegistry.from_rosters(customers=..., workers=..., partners=...)`` is the
entry point; the functions below are its parts, usable on their own. Roles are
singular (``customer``), silos plural (``customers``); :data:`ROLE_OF_SILO` (defined
in :mod:`hxmetrics.tables`, the one mapping) and :func:`role_of` / :func:`silo_of`
translate either spelling. Identity resolution is exact (shared keys, union-find; the
default) or probabilistic (``method="probabilistic"``: a Fellegi-Sunter
:class:`LinkageModel` on names, dates of birth and addresses, through splink, the
``[linkage]`` extra); both give one :class:`Resolution`.

On Polars, DuckDB and Spark the exact path runs where the data live:
:func:`resolve_exact_lazy` (an :class:`EngineResolution`: crosswalk, conflict report and
role episodes, the pandas path's values) and :func:`attribute_lazy` (the columns and
statuses of :meth:`StakeholderRegistry.attribute`), with :func:`attribution_counts`.
On DuckDB and Spark the probabilistic path runs there too, through splink's own backend:
:func:`resolve_probabilistic_lazy` (an :class:`EngineLinkage`).
"""

from hxmetrics.stakeholders._engine_attribution import attribute_lazy, attribution_counts
from hxmetrics.stakeholders._engine_identity import EngineResolution, resolve_exact_lazy
from hxmetrics.stakeholders._engine_linkage import EngineLinkage, resolve_probabilistic_lazy
from hxmetrics.stakeholders.attribution import (
    ATTRIBUTION_COLUMNS,
    STATUSES,
    AttributionIndex,
    attribute,
    attribution_summary,
)
from hxmetrics.stakeholders.episodes import EPISODE_COLUMNS, ROLES, merge_episodes, role_episodes
from hxmetrics.stakeholders.evaluation import exact_matches, resolution_scores
from hxmetrics.stakeholders.hybrids import (
    HYBRID_RULES,
    RULE_KINDS,
    HybridRule,
    classify_hybrids,
    rules_table,
)
from hxmetrics.stakeholders.keys import (
    DEFAULT_KEYS,
    MIN_SECRET_BYTES,
    PSEUDONYM_PREFIX,
    new_secret,
    normalise_key,
    pseudonymise,
)
from hxmetrics.stakeholders.overlap import overlap_matrix, overlap_summary
from hxmetrics.stakeholders.plots import plot_overlap
from hxmetrics.stakeholders.probabilistic import (
    DEFAULT_REVIEW_BAND,
    DEFAULT_THRESHOLD,
    LinkageModel,
    default_settings,
)
from hxmetrics.stakeholders.registry import StakeholderRegistry
from hxmetrics.stakeholders.resolution import (
    CONFLICT_KINDS,
    CONFLICT_RULES,
    HOUSEHOLD_RULE,
    METHODS,
    Resolution,
    resolve_identities,
)
from hxmetrics.stakeholders.views import SiloView, silo_view
from hxmetrics.tables import ROLE_OF_SILO, SILO_OF_ROLE, role_of, silo_of

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "CONFLICT_KINDS",
    "CONFLICT_RULES",
    "DEFAULT_KEYS",
    "DEFAULT_REVIEW_BAND",
    "DEFAULT_THRESHOLD",
    "EPISODE_COLUMNS",
    "HOUSEHOLD_RULE",
    "HYBRID_RULES",
    "METHODS",
    "MIN_SECRET_BYTES",
    "PSEUDONYM_PREFIX",
    "ROLES",
    "ROLE_OF_SILO",
    "RULE_KINDS",
    "SILO_OF_ROLE",
    "STATUSES",
    "AttributionIndex",
    "EngineLinkage",
    "EngineResolution",
    "HybridRule",
    "LinkageModel",
    "Resolution",
    "SiloView",
    "StakeholderRegistry",
    "attribute",
    "attribute_lazy",
    "attribution_counts",
    "attribution_summary",
    "classify_hybrids",
    "default_settings",
    "exact_matches",
    "merge_episodes",
    "new_secret",
    "normalise_key",
    "overlap_matrix",
    "overlap_summary",
    "plot_overlap",
    "pseudonymise",
    "resolution_scores",
    "resolve_exact_lazy",
    "resolve_identities",
    "resolve_probabilistic_lazy",
    "role_episodes",
    "role_of",
    "rules_table",
    "silo_of",
    "silo_view",
]
