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
- one module per section, in the order of :data:`SECTIONS`; the newer ones
  (trends, distributions, zero distance, what people say, people and partners,
  response rates, glossary) each hold a ``plan(ctx, d)`` that registers their numbers
  (run by the plan, in the order of :data:`PLANS`) and a ``section(report, ctx)``.

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

from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report
from hxmetrics.report.sections import (
    crossing,
    data_quality,
    distributions,
    experience,
    glossary,
    overview,
    people,
    reliability_index,
    response,
    siloed_unified,
    trends,
    value_retention,
    voices,
    zero_distance,
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
    "PLANS",
    "ROLES",
    "SECTIONS",
    "TENURE_UNIT",
    "Builder",
    "Context",
    "hybrid_name",
]

Builder = Callable[[Report, Context], None]
Planner = Callable[[Context, Disclosure], None]

SECTIONS: tuple[tuple[str, Builder], ...] = (
    ("Overview", overview.overview),
    ("Trends", trends.section),
    ("Experience by role and hybrid type", experience.experience),
    ("Distributions, items and drivers", distributions.section),
    ("What people say", voices.section),
    ("Zero distance", zero_distance.section),
    ("People and partners", people.section),
    ("Who crosses roles", crossing.crossing),
    ("Siloed vs unified", siloed_unified.siloed_unified),
    ("Reliability and the HX index", reliability_index.reliability_index),
    ("Lifetime value and retention", value_retention.value_retention),
    ("Response rates and weights", response.section),
    ("Data quality and methods", data_quality.data_quality),
    ("Glossary", glossary.section),
)

#: The plans of the sections that keep their own (run after the core plan, in order).
PLANS: tuple[Planner, ...] = (
    trends.plan,
    distributions.plan,
    voices.plan,
    zero_distance.plan,
    people.plan,
    response.plan,
    glossary.plan,
)
