"""Siloed vs unified measurement: the same measure computed as departments do and per person.

:func:`siloed_vs_unified` computes a measure four ways, from what the silos report
(each silo record a person, every recorded answer counted) to the unified view
(each person once, answers attributed to the roles held when they were given), with
person-clustered standard errors, an exact decomposition of the gap into double
counting, role attribution and hybrid experience, and the pooled comparison next
to the stratified one (:func:`pooled_vs_stratified`, a Simpson's-paradox check).
:func:`prepare_silos` does the role-independent part once, so that several roles of
the same responses share it (``design.compare(role=...)``).
:func:`simulate_silo_bias` studies both estimators on synthetic organisations with
known truth. :func:`linkage_sensitivity` shows how far the unified estimate moves with
the threshold of a probabilistic identity resolution. Definitions and the order of the
decomposition: ``docs/compare.md``.

The modules follow the concepts: ``_names`` (estimators, components, roles),
``_measures`` (how a score becomes a value), ``_selection`` (reading and checking
the responses), ``_design`` (attribution and vote weights), ``_inference``
(person-clustered covariance and bootstrap), ``_decomposition`` (the estimates, the
gap and its parts, the strata), ``_results`` (result types), ``_simpson``
(pooled vs stratified), ``_plots``, ``_siloed`` (the entry point) and ``research``.
"""

from hxmetrics.compare._design import SiloDesign, prepare_silos
from hxmetrics.compare._measures import MEASURES
from hxmetrics.compare._names import COMPONENTS, ESTIMATORS, GROUPS
from hxmetrics.compare._plots import plot_decomposition
from hxmetrics.compare._results import SiloComparison, SimpsonCheck
from hxmetrics.compare._siloed import siloed_vs_unified
from hxmetrics.compare._simpson import pooled_vs_stratified
from hxmetrics.compare.linkage import linkage_sensitivity
from hxmetrics.compare.research import plot_silo_bias, simulate_silo_bias

__all__ = [
    "COMPONENTS",
    "ESTIMATORS",
    "GROUPS",
    "MEASURES",
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
]
