"""Section 7, "Data quality and methods": what went in, what was left out and why,
the methods and the references.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import (
    add_table,
    is_missing,
    na_if_none,
    partly_hidden,
    shown_count,
)
from hxmetrics.report.sections.settings import CLV_ANNUAL_DISCOUNT, CLV_HORIZON, LEFT_OUT
from hxmetrics.tables import ROSTERS

REFERENCES = (
    "Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review "
    "81(12), 46-54.",
    "Rocks, B. (2016). Interval estimation for the Net Promoter Score. The American "
    "Statistician 70(4), 365-372.",
    "Wilson, E. B. (1927). Probable inference, the law of succession, and statistical "
    "inference. JASA 22, 209-212.",
    "Dixon, M., Toman, N. & DeLisi, R. (2013). The Effortless Experience. Portfolio.",
    "Holm, S. (1979). A simple sequentially rejective multiple test procedure. "
    "Scandinavian Journal of Statistics 6, 65-70.",
    "Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. "
    "Psychometrika 16, 297-334.",
    "Feldt, L. S., Woodruff, D. J. & Salih, F. A. (1987). Statistical inference for "
    "coefficient alpha. Applied Psychological Measurement 11, 93-103.",
    "McDonald, R. P. (1999). Test Theory: A Unified Treatment. Erlbaum.",
    "Meredith, W. (1993). Measurement invariance, factor analysis and factorial "
    "invariance. Psychometrika 58, 525-543.",
    "Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement "
    "invariance. Structural Equation Modeling 14, 464-504.",
    "OECD/JRC (2008). Handbook on Constructing Composite Indicators. OECD Publishing.",
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). Counting your customers the "
    "easy way: an alternative to the Pareto/NBD model. Marketing Science 24, 275-284.",
    "Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.",
    "Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete "
    "observations. JASA 53, 457-481.",
    "Brookmeyer, R. & Crowley, J. (1982). A confidence interval for the median survival "
    "time. Biometrics 38, 29-41.",
    "Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust "
    "inference. Journal of Human Resources 50, 317-372.",
    "Hundepool, A., Domingo-Ferrer, J., Franconi, L., Giessing, S., Schulte Nordholt, E., "
    "Spicer, K. & de Wolf, P.-P. (2012). Statistical Disclosure Control. Wiley.",
    "Bickel, P. J., Hammel, E. A. & O'Connell, J. W. (1975). Sex bias in graduate "
    "admissions: data from Berkeley. Science 187, 398-404.",
)


def data_quality(report: Report, ctx: Context) -> None:
    """Rows per table, what was left out and why, the methods and references."""
    section = report.add_section(
        "data-quality",
        "Data quality and methods",
        intro=(
            "What went in, what was left out and why. Nothing is dropped silently: every "
            "row that is not used is counted here with its reason, and the methods behind "
            "every number are listed with their references."
        ),
        how_to_read=(
            "Each input table is listed with its rows and, for tables of activity (answers, "
            "purchases, tickets), how many rows were tied to a person holding a role at the "
            "time. 'Unknown id' rows name a record no roster holds; 'outside every role' "
            "rows fall outside the dates the person held a role. A dash is a count "
            "suppressed to protect a small group. Rows left out here are left out of every "
            "number in the report."
        ),
    )
    rows = []
    attribution = {
        "ok": "linked",
        **{k: k for k in ("unknown_id", "outside_episodes", "missing_time")},
    }
    for name in ctx.tables:
        entry: dict[str, Any] = {
            "table": name,
            "kind": "roster" if name in ROSTERS else "exhaust",
            "rows": na_if_none(ctx.count(f"rows:{name}")),
        }
        if name in ctx.attributed:
            shown = ctx.shown(f"attribution:{name}")
            entry.update(
                {
                    column: shown_count(shown, "attribution", status)
                    for status, column in attribution.items()
                }
            )
        rows.append(entry)
    tables = pd.DataFrame(rows)
    for column in ("rows", *attribution.values()):
        if column not in tables.columns:
            tables[column] = pd.NA
        tables[column] = tables[column].astype("Int64")
    add_table(
        section,
        ctx,
        tables,
        caption="Input tables and how their rows were linked to persons",
        labels={
            "table": "Table",
            "kind": "Kind",
            "rows": "Rows",
            "linked": "Linked to a person in a role",
            "unknown_id": "Unknown id",
            "outside_episodes": "Outside every role",
            "missing_time": "No time",
        },
    )
    records, people = ctx.count("records"), ctx.count("people")
    linked = shown_count(ctx.shown("records_linked"), "linked", True)
    linked_on = " or ".join(ctx.keys)
    if not ctx.keys and ctx.method == "exact":
        each = f"each of the {records:,} roster records" if records else "each roster record"
        absent = f" ({', '.join(ctx.missing_keys)})" if ctx.missing_keys else ""
        text = (
            f"Identity resolution: no key column{absent} links records, so {each} is one "
            "person and no one is counted across silos."
        )
    elif records is None or people is None or is_missing(linked):
        text = (
            "Identity resolution: roster records were linked into persons through a shared "
            f"{linked_on} (the counts are suppressed: too few records)."
        )
    else:
        text = (
            f"Identity resolution: {records:,} roster records became {people:,} persons; "
            f"{int(linked):,} records were linked to at least one other record through a "
            f"shared {linked_on}."
        )
    if ctx.missing_keys and (ctx.keys or ctx.method != "exact"):
        text += f" Key column(s) asked for but found in no roster: {', '.join(ctx.missing_keys)}."
    section.add_text(text)
    # What the stakeholder model says about itself (e.g. that no key linked any record).
    for note in ctx.registry.notes:
        section.add_note(note)
    planned = ctx.planned["usage"]
    if not planned.empty:
        _usage(section, ctx, planned)
    notes = _exclusion_notes(ctx)
    if notes:
        section.add_list(notes)
    _methods(section, ctx)


def _usage(section: Section, ctx: Context, planned: pd.DataFrame) -> None:
    """Survey responses per instrument: used and left out, by reason."""
    usage = planned[["instrument", "items"]].copy()

    def shown_usage(instrument: str, kind: str) -> Any:
        row = planned.loc[planned["instrument"] == instrument].iloc[0]
        if kind == "used":
            return na_if_none(ctx.count(f"usage_used:{instrument}")) if int(row["used"]) else 0
        if not any(int(row[r]) for r in LEFT_OUT):
            return 0
        if kind == "left_out":
            return na_if_none(ctx.count(f"usage_left:{instrument}"))
        return shown_count(ctx.shown(f"usage:{instrument}"), "use", kind)

    for kind in ("used", "left_out", *LEFT_OUT):
        usage[kind] = [shown_usage(str(i), kind) for i in usage["instrument"]]
        usage[kind] = usage[kind].astype("Int64")
    add_table(
        section,
        ctx,
        partly_hidden(usage, ["used", "left_out", *LEFT_OUT]),
        caption="Survey responses: used and left out",
        labels={
            "instrument": "Instrument",
            "items": "Items",
            "used": "Used",
            "left_out": "Left out",
            "role_not_held": "Role not held then",
            "unknown_id": "Unknown id",
            "outside_episodes": "Outside every role",
            "missing_time": "No time",
            "suppressed": "Suppressed",
        },
    )
    section.add_text(
        "'Role not held then': the person was known but no longer (or not yet) held the "
        "role of the department that asked, at the time of the answer; such answers are "
        "left out of the scores by role. Answers without a score are counted by each "
        "measure and left out."
    )


def _methods(section: Section, ctx: Context) -> None:
    section.add_heading("Methods")
    section.add_list(
        [
            "NPS, eNPS and partner NPS: promoters (9-10) minus detractors (0-6), in points; "
            "adjusted Wald interval (Rocks 2016).",
            "CSAT: share of 4 and 5 on a 1-5 scale, Wilson interval. CES 2.0: mean of a "
            "1-7 agreement scale (7 = easiest), t interval.",
            "Group differences: z tests against people with no hybrid pattern, Holm-adjusted.",
            "Siloed vs unified: ratio estimators with person-clustered (sandwich) standard "
            "errors; the gap is split into double counting, role attribution and hybrid "
            "experience, in that order.",
            "Reliability: Cronbach's alpha with Feldt's interval and McDonald's omega from a "
            "one-factor model, complete answers only.",
            "HX index: mean of the six core items on the fixed 1-5 scale, rescaled to 0-100, "
            "equal weights; percentile intervals from 1,000 bootstrap resamples of persons.",
            "Measurement invariance: multi-group confirmatory factor analysis, configural to "
            "strict, with Chen's (2007) change-in-fit rules.",
            f"Lifetime value: BG/NBD for purchases and Gamma-Gamma for spend, fitted by "
            f"maximum likelihood on weekly purchase histories up to {ctx.as_of:%Y-%m-%d}; "
            f"value over {CLV_HORIZON} weeks discounted at {CLV_ANNUAL_DISCOUNT:.0%} a year.",
            "Retention: Kaplan-Meier by role with Greenwood intervals (log scale); median "
            "with the Brookmeyer-Crowley interval. Boomerangs: share of worker leavers who "
            "started again, Wilson interval.",
            f"Privacy: groups with fewer than {ctx.min_n} answers or people are suppressed "
            "(primary suppression), and so are other groups wherever a total, a margin, "
            "another table or a difference would give a hidden one back (complementary "
            "suppression across the whole report, relation by relation, with a linear "
            "audit; Hundepool et al. 2012, ch. 4); differences from a hidden reference "
            "are hidden; the lifetime-value histogram is top- and bottom-coded; no "
            "identifier leaves the input.",
        ]
    )
    section.add_heading("References")
    section.add_list(REFERENCES)


def _exclusion_notes(ctx: Context) -> list[str]:
    out = []
    if ctx.planned["nps_missing"]:
        missing = ctx.count("nps_missing")
        count = "Some" if missing is None else f"{missing:,}"
        out.append(f"{count} NPS answer(s) had no score and were left out.")
    for reason in sorted(ctx.planned.get("clv_excluded", {})):
        n = ctx.count(f"clv_excluded:{reason}")
        what = str(reason).replace("_", " ")
        out.append(f"Lifetime value: {'some' if n is None else f'{n:,}'} {what}.")
    if "transactions" in ctx.attributed:
        shown = ctx.shown("attribution:transactions")
        left = shown.loc[shown["attribution"] != "ok"]
        if len(left):
            unlinked = left["n"]
            count = "Some" if unlinked.isna().any() else f"{int(unlinked.sum()):,}"
            out.append(
                f"Lifetime value: {count} transaction(s) could not be linked to a customer "
                "and were left out."
            )
    return out
