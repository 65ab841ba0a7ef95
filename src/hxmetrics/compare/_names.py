"""The chain of estimators, the components of the gap, and the roles a comparison targets.

The roles come from the one mapping of silos to roles (:data:`hxmetrics.tables.ROLE_OF_SILO`):
a role is singular (``"worker"``), a silo plural (``"workers"``); :func:`as_role` reads
either as the role.
"""

from __future__ import annotations

from typing import Any

from hxmetrics.errors import check_choice
from hxmetrics.tables import ROLE_OF_SILO, ROLES, SILO_OF_ROLE

__all__ = ["COMPONENTS", "DESCRIPTIONS", "ESTIMATORS", "GROUPS", "ROLES", "SILO_OF_ROLE", "as_role"]

#: The chain of estimators, from what departments report to the unified one.
ESTIMATORS: tuple[str, ...] = ("siloed", "deduplicated", "attributed", "unified")
#: Each component of the gap is the difference between two neighbours in the chain.
COMPONENTS: dict[str, tuple[str, str]] = {
    "double_counting": ("siloed", "deduplicated"),
    "role_attribution": ("deduplicated", "attributed"),
    "hybrid_experience": ("attributed", "unified"),
}
#: Target roles of a comparison: everyone (``"all"``), or the holders of one role.
GROUPS: tuple[str, ...] = ("all", *ROLES)

DESCRIPTIONS = {
    "siloed": "each silo record one vote, every response the silos recorded",
    "deduplicated": "each person one vote, same responses",
    "attributed": "only responses given while the person held the group's role",
    "unified": "plus the group's answers recorded by other silos",
}
NOT_ATTRIBUTED = "unattributed"


def as_role(value: Any, *, name: str = "role") -> str:
    """The target role: ``"all"`` or a role, a silo's (plural) name read as its role.

    Examples
    --------
    >>> as_role("workers"), as_role("worker"), as_role("all")
    ('worker', 'worker', 'all')
    """
    role = ROLE_OF_SILO.get(value, value) if isinstance(value, str) else value
    check_choice(name, role, GROUPS)
    return str(role)
