"""Section 1, "At a glance": headline cards and what stands out.

The headline NPS of each role is the **unified** count (each person once in each
role they held when answering, whichever department's survey they answered; see
:func:`hxmetrics.compare.siloed_vs_unified`): one number per role, defined on its
card, with a link to the section where the departments' (siloed) count differs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from hxmetrics.report.builder import Kpi, Report
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.experience import hybrid_differences
from hxmetrics.report.sections.formatting import (
    INSTRUMENT_NAME,
    NPS_FMT,
    PCT_FMT,
    as_float,
    hybrid_name,
    interval,
    level,
    percent,
)
from hxmetrics.report.sections.settings import ROLES
from hxmetrics.tables import ROSTERS

#: Where the siloed count of the headline NPS is shown and its gap explained.
SILOED_ANCHOR = "#siloed-unified"
#: A person of each role, in the cards' definitions.
ROLE_PERSON = {"customer": "a customer", "worker": "a worker", "partner": "a partner"}


@dataclass(frozen=True)
class LinkedKpi(Kpi):
    """A card with one link under its note: to the section that explains its number.

    Parameters
    ----------
    href : str
        The link's target within the report (``"#siloed-unified"``).
    link : str
        The link's text.
    """

    href: str = ""
    link: str = ""

    def to_html(self) -> str:
        """Render the card, the link last inside it."""
        card = super().to_html()
        if not self.href or not card.endswith("</div>"):
            return card
        anchor = (
            f'<div class="kpi-note"><a href="{html.escape(self.href)}">'
            f"{html.escape(self.link)}</a></div>"
        )
        return card[: -len("</div>")] + anchor + "</div>"


def headline_nps(ctx: Context) -> dict[str, pd.Series | None]:
    """The headline NPS of each role: the unified estimate, or None where it is hidden.

    Only roles with a siloed-vs-unified comparison are listed (roles with NPS
    answers). The numbers are those of the comparison's ``unified`` estimator;
    their count of persons is the plan's ``svu_unified:<role>`` cell, linked with
    the role's siloed count and its answers, so that the card, the siloed-vs-unified
    tables and the per-answer tables hide the role together.
    """
    out: dict[str, pd.Series | None] = {}
    for role in ROLES:
        result = ctx.comparisons.get(role)
        if result is None:
            continue
        estimates = result.estimates
        row = estimates.loc[estimates["estimator"] == "unified"].iloc[0]
        if int(as_float(row["n_units"])) == 0:
            continue
        hidden = ctx.count(f"svu_unified:{role}") is None or ctx.comparison_hidden(role)
        out[role] = None if hidden else row
    return out


def _nps_kpi(role: str, row: pd.Series | None, confidence: float) -> Kpi:
    if row is None:
        return Kpi(INSTRUMENT_NAME[role], None, note="suppressed: small group")
    return LinkedKpi(
        INSTRUMENT_NAME[role],
        as_float(row["estimate"]),
        ci_low=as_float(row["ci_low"]),
        ci_high=as_float(row["ci_high"]),
        n=int(as_float(row["n_units"])),
        fmt=NPS_FMT,
        note=(
            f"unified: people who were {ROLE_PERSON[role]} when answering (any survey), "
            "each counted once"
        ),
        confidence=confidence,
        href=SILOED_ANCHOR,
        link="where the siloed count differs",
    )


def _rosters(ctx: Context) -> list[str]:
    return [t for t in ROSTERS if t in ctx.tables]


def _linked(ctx: Context) -> bool:
    """Whether records of one person can be linked across silos (keys, two rosters)."""
    return len(_rosters(ctx)) > 1 and (bool(ctx.keys) or ctx.method != "exact")


def _intro(ctx: Context) -> str:
    text = (
        "This report looks at the people your organisation serves, employs and works with "
        "as one population. "
    )
    if _linked(ctx):
        text += (
            "Customer records, worker records and partner records were linked into persons, "
            "so someone who is both a customer and an employee counts once, and every survey "
            "answer is tied to the roles the person held when they gave it. "
        )
    else:
        text += (
            f"The data hold {', '.join(_rosters(ctx))} and {len(ctx.tables)} table(s) in "
            "all; each section below shows what these tables allow and says in one note "
            "what is missing. "
        )
    return text + (
        f"Each estimate comes with its {level(ctx.confidence)} confidence interval: the range "
        "the true value most likely lies in, given how many people it rests on."
    )


def overview(report: Report, ctx: Context) -> None:
    """Headline numbers and what stands out."""
    section = report.add_section(
        "overview",
        "At a glance",
        intro=_intro(ctx),
        how_to_read=(
            "Each card is one headline number with its interval and the number of people or "
            "answers behind it (n). The NPS cards are the numbers to quote: the unified "
            "count, each person once in each role they held when answering, whichever "
            "department's survey they answered. The per-answer scores under 'Experience by "
            "role' and each department's own (siloed) count under 'Siloed vs unified' "
            "differ from them by design; the latter section shows by how much and why. CSAT "
            "and CES rate single contacts, so they count each answer once. A card that "
            "reads 'suppressed' is hidden to protect a small group of people."
        ),
    )
    people = ctx.count("people")
    records = ctx.count("records")
    kpis: list[Kpi] = [
        Kpi(
            "People",
            people,
            fmt="{:,}",
            note="linked from the silo records"
            if records is None
            else f"linked from {records:,} records"
            if _linked(ctx)
            else f"from {records:,} roster records",
        )
    ]
    crossing = ctx.crossing()
    if len(_rosters(ctx)) > 1:
        kpis.append(
            Kpi(
                "People in more than one role",
                crossing,
                fmt="{:,}",
                note="ever"
                if people is None or crossing is None
                else f"{percent(crossing, people)} of all people, ever",
            )
        )
    for role, row in headline_nps(ctx).items():
        kpis.append(_nps_kpi(role, row, ctx.confidence))
    for name, label, fmt, unit, note in (
        (
            "csat_overall",
            "CSAT (top-2-box)",
            PCT_FMT,
            "%",
            "share of rated contacts scored 4 or 5 of 5; each answer once",
        ),
        (
            "ces_overall",
            "Customer effort (CES)",
            "{:.2f}",
            "",
            "mean ease, 1 to 7 (7 = easiest); each answer once",
        ),
    ):
        if getattr(ctx, name) is None:
            continue
        row = ctx.shown(name).iloc[0]
        if bool(row["suppressed"]):
            kpis.append(Kpi(label, None, note="suppressed: too few answers"))
            continue
        kpis.append(
            Kpi(
                label,
                float(row["estimate"]),
                ci_low=float(row["ci_low"]),
                ci_high=float(row["ci_high"]),
                n=int(row["n"]),
                fmt=fmt,
                unit=unit,
                note=note,
                confidence=ctx.confidence,
            )
        )
    section.add_kpis(kpis)
    if not ctx.has_responses:
        section.add_note(
            "No survey responses in the data: the experience scores (NPS, eNPS, partner "
            "NPS, CSAT, CES and the HX index) are not shown. A responses table (one row per "
            "answer) would fill them."
        )
    findings = _findings(ctx)
    if findings:
        section.add_heading("What stands out")
        section.add_list(findings)


def _findings(ctx: Context) -> list[str]:
    out = []
    people, crossing = ctx.count("people"), ctx.crossing()
    if people is not None and crossing is not None and len(_rosters(ctx)) > 1:
        out.append(
            f"{crossing:,} of {people:,} people ({percent(crossing, people)}) have held more "
            "than one role; a siloed view counts them once per silo."
        )
    for role, tests in hybrid_differences(ctx).items():
        differs = tests.loc[tests["differs"].astype(bool)]
        for row in differs.to_dict("records"):
            difference = as_float(row["difference"])
            direction = "higher" if difference > 0 else "lower"
            out.append(
                f"{INSTRUMENT_NAME[role]} among people of hybrid type "
                f"'{hybrid_name(row['hybrid_type'])}' is {NPS_FMT(row['estimate'])}, "
                f"{abs(difference):.1f} points {direction} than among people with no hybrid "
                f"pattern ({NPS_FMT(row['estimate_other'])}), counting each answer once; the "
                "difference holds after Holm's correction for multiple comparisons."
            )
    for group, comparison in ctx.comparisons.items():
        if ctx.comparison_hidden(group):
            continue
        d = comparison.difference.iloc[0]
        if d["ci_low"] > 0 or d["ci_high"] < 0:
            who = "everyone" if group == "all" else f"the {group} group"
            out.append(
                f"Counted the siloed way, NPS for {who} is {NPS_FMT(d['siloed'])}; "
                f"counting each person once in the roles they held (the headline count), it "
                f"is {NPS_FMT(d['unified'])} (gap {NPS_FMT(d['difference'])}, "
                f"{level(ctx.confidence)} CI {interval(d['ci_low'], d['ci_high'], NPS_FMT)})."
            )
    return out
