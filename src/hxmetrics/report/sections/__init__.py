"""The sections of the main report, one module each, and what they share.

Every number comes from a public function of :mod:`hxmetrics.measures`,
:mod:`hxmetrics.stakeholders` or :mod:`hxmetrics.compare`; the sections only select
rows, call them, and lay the results out. Adding a measure to the report is one more
module with a function ``(report, context) -> None`` in :data:`SECTIONS`.

- :mod:`~hxmetrics.report.sections.context`: :class:`Context`, the checked tables, the
  stakeholder model and the results several sections share;
- :mod:`~hxmetrics.report.sections.plan`: the disclosure plan (:meth:`Context.plan`);
- :mod:`~hxmetrics.report.sections.formatting`: names, number formats, tables;
- :mod:`~hxmetrics.report.sections.settings`: the report's fixed choices;
- one module per section, in the order of :data:`SECTIONS`.

Privacy: one :class:`hxmetrics.privacy.Disclosure` per report decides what may be
shown. :meth:`Context.plan` computes every table, card, count and figure source
unsuppressed and registers it before any section is laid out (primary suppression
below the report's ``min_n``, complementary suppression across every table of the
report, linked populations, comparisons with a hidden reference); the sections only
format what the plan shows. No identifier of a person or record is ever put into a
table, a figure or a sentence.
"""

from __future__ import annotations

from collections.abc import Callable

from hxmetrics.report.builder import Report
from hxmetrics.report.sections import (
    crossing,
    data_quality,
    experience,
    overview,
    reliability_index,
    siloed_unified,
    value_retention,
)
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import INSTRUMENT_NAME, hybrid_name
from hxmetrics.report.sections.settings import (
    CLV_ANNUAL_DISCOUNT,
    CLV_HORIZON,
    CLV_UNIT,
    CLV_WEEKLY_DISCOUNT,
    HX_ITEMS,
    ROLES,
    TENURE_UNIT,
)

__all__ = [
    "CLV_ANNUAL_DISCOUNT",
    "CLV_HORIZON",
    "CLV_UNIT",
    "CLV_WEEKLY_DISCOUNT",
    "HX_ITEMS",
    "INSTRUMENT_NAME",
    "ROLES",
    "SECTIONS",
    "TENURE_UNIT",
    "Builder",
    "Context",
    "hybrid_name",
]

Builder = Callable[[Report, Context], None]

SECTIONS: tuple[tuple[str, Builder], ...] = (
    ("Overview", overview.overview),
    ("Who crosses roles", crossing.crossing),
    ("Experience by role and hybrid type", experience.experience),
    ("Siloed vs unified", siloed_unified.siloed_unified),
    ("Reliability and the HX index", reliability_index.reliability_index),
    ("Lifetime value and retention", value_retention.value_retention),
    ("Data quality and methods", data_quality.data_quality),
)
