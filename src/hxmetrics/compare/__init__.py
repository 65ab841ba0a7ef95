"""Siloed vs unified measurement: the same measure computed as departments do and per person.

:func:`siloed_vs_unified` computes a measure four ways, from what the silos report
(each silo record a person, every recorded answer counted) to the unified view
(each person once, answers attributed to the roles held when they were given), with
person-clustered standard errors, an exact decomposition of the gap into double
counting, role attribution and hybrid experience, and the pooled comparison next
to the stratified one (:func:`pooled_vs_stratified`, a Simpson's-paradox check).
:func:`simulate_silo_bias` studies both estimators on synthetic organisations with
known truth. Definitions and the order of the decomposition: ``docs/compare.md``.
"""

from hxmetrics.compare._estimators import (
    COMPONENTS,
    ESTIMATORS,
    GROUPS,
    MEASURES,
    SiloComparison,
    SimpsonCheck,
    plot_decomposition,
    pooled_vs_stratified,
    siloed_vs_unified,
)
from hxmetrics.compare.research import plot_silo_bias, simulate_silo_bias

__all__ = [
    "COMPONENTS",
    "ESTIMATORS",
    "GROUPS",
    "MEASURES",
    "SiloComparison",
    "SimpsonCheck",
    "plot_decomposition",
    "plot_silo_bias",
    "pooled_vs_stratified",
    "siloed_vs_unified",
    "simulate_silo_bias",
]
