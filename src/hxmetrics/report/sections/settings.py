"""The report's fixed choices: the roles, the core items, the lifetime-value horizon
and discount, the tenure unit, and the reasons an answer is used or left out.
"""

from __future__ import annotations

ROLES = ("customer", "worker", "partner")
HX_ITEMS = tuple(f"hx{i}" for i in range(1, 7))
# Lifetime value: one year ahead in ISO weeks, 10% a year discount (a common
# planning rate), converted to the weekly rate that compounds to it.
CLV_UNIT = "W"
CLV_HORIZON = 52
CLV_ANNUAL_DISCOUNT = 0.10
CLV_WEEKLY_DISCOUNT = (1 + CLV_ANNUAL_DISCOUNT) ** (1 / 52) - 1
TENURE_UNIT = "M"
USE_REASONS = ("used", "role_not_held", "unknown_id", "outside_episodes", "missing_time")
LEFT_OUT = USE_REASONS[1:]
