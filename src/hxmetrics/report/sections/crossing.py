"""Section 2, "Who crosses roles": overlap of roles, hybrid types, identity conflicts."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hxmetrics.plotting import new_figure, plot_overlap
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    add_table,
    hybrid_name,
    is_missing,
    partly_hidden,
    shown_count,
)
from hxmetrics.report.sections.settings import ROLES
from hxmetrics.stakeholders import HYBRID_RULES
from hxmetrics.tables import ROSTERS


def crossing(report: Report, ctx: Context) -> None:
    """Overlap of roles, hybrid types and identity conflicts."""
    rosters = [t for t in ROSTERS if t in ctx.tables]
    linked = len(rosters) > 1 and (bool(ctx.keys) or ctx.method != "exact")
    if linked:
        how = (
            "Records from the customer, worker and partner lists were linked into persons "
            "through shared contact details."
        )
    else:
        how = (
            f"The data hold one list of records per role ({', '.join(rosters)}), not linked "
            "to one another, so each record is one person here."
        )
    section = report.add_section(
        "stakeholders",
        "Who crosses roles",
        intro=(
            f"{how} The chart counts each person once, in the combination of roles they have "
            "ever held. Hybrid patterns describe how roles combine: at the same time (a "
            "worker who is also a customer) or one after the other (a former employee who "
            "became a customer), and within one role (a re-hired worker, a gig worker)."
        ),
        how_to_read=(
            "'Ever' counts everyone who held the roles at any time in the data; the column "
            "dated on the reference date counts who holds them on that day, so the two "
            "differ by the people who have left. A person can show several hybrid patterns "
            "but belongs to exactly one hybrid type, the first pattern that applies; the "
            "experience measures are broken down by that type. A dash means the number is "
            "suppressed (too few people, or it would give a hidden one back)."
        ),
    )
    summary = ctx.planned["roles"]
    ever = ctx.shown("roles_ever")
    people = ctx.count("people")
    if len(rosters) == 1:
        section.add_note(
            f"Only the {rosters[0]} list is in the data: no one can hold two roles here. "
            "Adding the other rosters, with a contact column such as email to link them, "
            "would show who crosses roles."
        )
    elif not ever.empty:
        fig, ax = new_figure(FIG_WIDTH, 0.9 + 0.34 * len(ever))
        plot_overlap(ever, count="n_ever", roles=list(ROLES), ax=ax)
        multi = ever.loc[ever["roles_ever"].str.contains("+", regex=False) & ~ever["suppressed"]]
        crossing = ctx.crossing()
        alt = "Bar chart of people by combination of roles ever held"
        if crossing is not None and people is not None:
            alt += f": {crossing:,} of {people:,} people hold more than one role"
        if not multi.empty:
            top = multi.sort_values("n_ever", kind="stable").iloc[-1]
            alt += (
                f"; the largest combination of roles is {top['roles_ever']} with "
                f"{int(top['n_ever']):,} people"
            )
        section.add_figure(
            fig,
            alt=alt + ".",
            caption="People by the combination of roles they have ever held; combinations "
            "of two or more roles in orange.",
            data=ever[["roles_ever", "n_ever", "suppressed"]].assign(
                roles_ever=ever["roles_ever"].astype("str").str.replace("+", " + ", regex=False)
            ),
            labels={
                "roles_ever": "Roles ever held",
                "n_ever": "People",
                "suppressed": "Suppressed",
            },
        )
    now = ctx.shown("roles_as_of")
    rows = []
    for r in summary.itertuples(index=False):
        if r.n_ever == 0 and r.n_as_of == 0:
            continue
        n_ever = shown_count(ever, "roles_ever", r.roles, "n_ever")
        n_now = shown_count(now, "roles_as_of", r.roles, "n_as_of")
        rows.append(
            {
                "roles": r.roles,
                "n_ever": n_ever,
                "share_ever": _share(n_ever, people),
                "n_as_of": n_now,
                "share_as_of": _share(n_now, people),
            }
        )
    table = pd.DataFrame(rows)
    for column in ("n_ever", "n_as_of"):
        table[column] = table[column].astype("Int64")
    table = partly_hidden(table, ["n_ever", "n_as_of"])
    table["roles"] = table["roles"].astype("str").str.replace("+", " + ", regex=False)
    table["roles"] = table["roles"].replace({"none": "no role (as of the reference date)"})
    add_table(
        section,
        ctx,
        table,
        caption="People by combination of roles",
        labels={
            "roles": "Roles",
            "n_ever": "People (ever)",
            "share_ever": "Share (ever)",
            "n_as_of": f"People (on {ctx.as_of:%Y-%m-%d})",
            "share_as_of": "Share",
            "suppressed": "Suppressed",
        },
        number_formats={"share_ever": ".1%", "share_as_of": ".1%"},
    )

    types = ctx.shown("hybrid_types")
    patterns = ctx.planned["patterns"]
    prow = []
    for rule in HYBRID_RULES:
        # A pattern no one shows is left out (an HR roster alone has no customer patterns).
        if not patterns.get(rule.label):
            continue
        with_label = ctx.count(f"pattern:{rule.label}")
        prow.append(
            {
                "pattern": hybrid_name(rule.label),
                "kind": str(rule.kind).replace("_", " "),
                "with_label": pd.NA if with_label is None else with_label,
                "as_type": shown_count(types, "hybrid_type", rule.label),
            }
        )
    if not prow:
        section.add_text(
            "No one shows a hybrid pattern: every person is of the type 'no hybrid pattern'."
        )
        _conflicts(section, ctx, linked)
        return
    prow.append(
        {
            "pattern": hybrid_name("none"),
            "kind": "",
            "with_label": pd.NA,
            "as_type": shown_count(types, "hybrid_type", "none"),
        }
    )
    pattern_table = pd.DataFrame(prow)
    for column in ("with_label", "as_type"):
        pattern_table[column] = pattern_table[column].astype("Int64")
    hidden = pattern_table["as_type"].isna() & (
        pattern_table["with_label"].isna() | (pattern_table["pattern"] == hybrid_name("none"))
    )
    pattern_table["suppressed"] = hidden.to_numpy()
    add_table(
        section,
        ctx,
        pattern_table,
        caption="Hybrid patterns",
        labels={
            "pattern": "Pattern",
            "kind": "Kind",
            "with_label": "People with the pattern",
            "as_type": "People of this hybrid type",
            "suppressed": "Suppressed",
        },
    )
    section.add_text(
        "A person can show several patterns; their hybrid type is the first pattern in "
        "this list that applies, so that each person belongs to exactly one type. The "
        "experience measures below are broken down by hybrid type."
    )
    _conflicts(section, ctx, linked)


def _conflicts(section: Section, ctx: Context, linked: bool) -> None:
    """Links identity resolution did not make (only where records were linked at all)."""
    if not linked:
        return
    if "conflicts" in ctx.planned:
        total = ctx.count("conflicts_total")
        cases = ctx.shown("conflicts")
        records = ctx.shown("conflict_records")[["kind", "records"]]
        kinds = cases[["kind", "conflicts"]].merge(records, on="kind", how="left")
        kinds["suppressed"] = (cases["suppressed"].to_numpy()) & kinds["records"].isna().to_numpy()
        kinds["kind"] = kinds["kind"].astype("str").str.replace("_", " ")
        count = "Some" if total is None else f"{total:,}"
        section.add_note(
            f"{count} suspicious link(s) were found and not made: records that share "
            "a contact detail but disagree on something else (such as the birth year). They "
            "are kept as separate persons; review them in the source systems."
        )
        add_table(
            section,
            ctx,
            kinds,
            caption="Links not made during identity resolution",
            labels={
                "kind": "Reason",
                "conflicts": "Cases",
                "records": "Records involved",
                "suppressed": "Suppressed",
            },
        )
    else:
        section.add_text("Identity resolution found no conflicting links.")


def _share(n: Any, total: int | None) -> float:
    if total is None or is_missing(n) or not total:
        return float("nan")
    return float(n) / total
