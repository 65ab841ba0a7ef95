"""The cross-group HX index: one 0-100 composite of a common core of items.

Every stakeholder group (customers, workers, partners, hybrids, ...) answers the
same core items (``hx_core``: ``hx1`` .. ``hx6`` on 1-5). The index follows the
OECD/JRC (2008) composite-indicator recipe with the *group* as the unit being
scored:

1. **Indicators.** For each group ``g`` and core item ``j`` the (survey-weighted)
   mean score ``m[g, j]`` over every answer of the group's respondents.
2. **Normalisation** onto a common 0-100 range. The default, ``"minmax"``, uses the
   instrument's *fixed* scale ``(low, high)``: ``100 * (m - low) / (high - low)``.
   It never looks at the data, so a group's index does not depend on which other
   groups are in the table. Within-group z-scores are not offered: they set every
   group's mean to zero and erase exactly the differences the index is for. The
   data-driven alternatives (for the sensitivity analysis) are all *pooled* over
   groups: ``"pooled_minmax"``, ``"pooled_zscore"``, ``"rank"`` and
   ``"distance_to_reference"``.
3. **Weighting**: ``"equal"``, a budget allocation ``{item: points}`` (rescaled to
   sum to 1) or ``"factor"``: squared loadings of a one-factor model of the pooled
   responses, scaled to unit sum (Handbook, section 6.1).
4. **Aggregation**: ``"linear"`` (weighted arithmetic mean) or ``"geometric"``
   (weighted geometric mean of the shifted values ``x + shift``, minus ``shift``;
   with ``shift=0`` it is the plain weighted geometric mean, as in the HDI).

Uncertainty: a person-clustered bootstrap (persons resampled within each group,
all of a person's answers kept together) gives ``se`` and percentile intervals;
groups of more than :data:`BOOTSTRAP_BUCKETS` persons resample random buckets of
whole persons (so that an engine returns a table of bounded size);
:func:`sensitivity` adds a Monte Carlo over the modelling choices and reports
each group's median rank and rank interval (Saisana, Saltelli & Tarantola 2005).

Input is a *long* survey table (one row per ``response_id`` x ``item`` with a
``score`` column, as in the responses contract). A *wide* table (one column per
item, one row per response) is accepted as it is: when the frame has no
``item``/``score`` columns and every name in ``items`` is a column.

The package holds one concept per module: :mod:`.options` (the choices and their
checks), :mod:`.prepare` (intake: answers to sufficient statistics per group, person or
bucket of persons, and item),
:mod:`.weights`, :mod:`.scoring` (normalisation and aggregation), :mod:`.bootstrap`,
:mod:`.group_modules` (group-specific items), :mod:`.consistency` (the check that
the core items measure one thing), :mod:`.model` (:class:`HXIndex`, the one
implementation), :mod:`.measure` (:func:`hx_index`, its result in one call) and
:mod:`.sensitivity`.
"""

from __future__ import annotations

from hxmetrics.measures.index.consistency import MIN_ALPHA
from hxmetrics.measures.index.measure import hx_index
from hxmetrics.measures.index.model import HXIndex
from hxmetrics.measures.index.options import AGGREGATIONS, NORMALISATIONS
from hxmetrics.measures.index.prepare import BOOTSTRAP_BUCKETS
from hxmetrics.measures.index.sensitivity import (
    SensitivityResult,
    plot_rank_intervals,
    sensitivity,
)
from hxmetrics.measures.index.weights import _one_factor_loadings, index_weights

__all__ = [
    "AGGREGATIONS",
    "BOOTSTRAP_BUCKETS",
    "MIN_ALPHA",
    "NORMALISATIONS",
    "HXIndex",
    "SensitivityResult",
    "_one_factor_loadings",
    "hx_index",
    "index_weights",
    "plot_rank_intervals",
    "sensitivity",
]
