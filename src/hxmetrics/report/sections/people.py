"""The report's "People and partners" section (being built: plans nothing, shows nothing yet)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context


def plan(ctx: Context, d: Disclosure) -> None:
    """Compute this section's numbers unsuppressed and register them with ``d``."""


def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows."""
