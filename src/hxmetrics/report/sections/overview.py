"""Section 1, "At a glance": headline cards and what stands out."""

from __future__ import annotations

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


def _role_row(result: pd.DataFrame, role: str) -> pd.Series | None:
    rows = result.loc[result["role"].astype("str") == role]
    return None if rows.empty else rows.iloc[0]


def _nps_kpi(result: pd.DataFrame, role: str, confidence: float) -> Kpi | None:
    row = _role_row(result, role)
    if row is None:
        return None
    if bool(row["suppressed"]):
        return Kpi(INSTRUMENT_NAME[role], None, note="suppressed: too few answers")
    return Kpi(
        INSTRUMENT_NAME[role],
        float(row["estimate"]),
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        n=int(row["n"]),
        fmt=NPS_FMT,
        note="points, -100 to +100",
        confidence=confidence,
    )


def overview(report: Report, ctx: Context) -> None:
    """Headline numbers and what stands out."""
    section = report.add_section(
        "overview",
        "At a glance",
        intro=(
            "This report looks at the people your organisation serves, employs and works "
            "with as one population. Customer records, worker records and partner records "
            "were linked into persons, so someone who is both a customer and an employee "
            "counts once, and every survey answer is tied to the roles the person held when "
            "they gave it. Each score comes with its "
            f"{level(ctx.confidence)} confidence interval: the range the true value "
            "most likely lies in, given how many people answered."
        ),
    )
    people = ctx.count("people")
    records = ctx.count("records")
    crossing = ctx.crossing()
    kpis = [
        Kpi(
            "People",
            people,
            fmt="{:,}",
            note="linked from the silo records"
            if records is None
            else f"linked from {records:,} records",
        ),
        Kpi(
            "People in more than one role",
            crossing,
            fmt="{:,}",
            note="ever"
            if people is None or crossing is None
            else f"{percent(crossing, people)} of all people, ever",
        ),
    ]
    by_role = ctx.shown("nps_by_role")
    for role in ROLES:
        kpi = _nps_kpi(by_role, role, ctx.confidence)
        if kpi is not None:
            kpis.append(kpi)
    for name, label, fmt, unit, note in (
        ("csat_overall", "CSAT (top-2-box)", PCT_FMT, "%", "share answering 4 or 5 of 5"),
        ("ces_overall", "Customer effort (CES)", "{:.2f}", "", "mean ease, 1 to 7 (7 = easiest)"),
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
    findings = _findings(ctx)
    if findings:
        section.add_heading("What stands out")
        section.add_list(findings)


def _findings(ctx: Context) -> list[str]:
    out = []
    people, crossing = ctx.count("people"), ctx.crossing()
    if people is not None and crossing is not None:
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
                f"pattern ({NPS_FMT(row['estimate_other'])}); the difference holds after "
                "Holm's correction for multiple comparisons."
            )
    for group, comparison in ctx.comparisons.items():
        if ctx.comparison_hidden(group):
            continue
        d = comparison.difference.iloc[0]
        if d["ci_low"] > 0 or d["ci_high"] < 0:
            who = "everyone" if group == "all" else f"the {group} group"
            out.append(
                f"Counted the siloed way, NPS for {who} is {NPS_FMT(d['siloed'])}; "
                f"counting each person once in the roles they held, it is "
                f"{NPS_FMT(d['unified'])} (gap {NPS_FMT(d['difference'])}, "
                f"{level(ctx.confidence)} CI {interval(d['ci_low'], d['ci_high'], NPS_FMT)})."
            )
    return out
