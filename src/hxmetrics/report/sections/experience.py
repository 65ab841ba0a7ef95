"""Section 3, "Experience by role and hybrid type": NPS, eNPS, partner NPS, CSAT, CES."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.measures.segments import compare_groups
from hxmetrics.plotting import ROLE_COLORS, new_figure, plot_estimates
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    FLAG_LABELS,
    FLAG_REFERENCE,
    INSTRUMENT_NAME,
    NPS_FMT,
    PCT_FMT,
    add_table,
    ci_formats,
    compare_shown,
    flag_note,
    flag_words,
    hybrid_sorted,
    level,
    p_value,
    row_at,
    signed,
)
from hxmetrics.report.sections.plan import split_hidden
from hxmetrics.report.sections.settings import ROLES


def hybrid_differences(ctx: Context) -> dict[str, pd.DataFrame]:
    """Per role: each shown hybrid type's NPS against 'none' (Holm among the shown).

    The plan hides the comparisons of hidden groups and every comparison of a role
    whose reference is hidden; the p-values are adjusted among the comparisons shown
    (a Holm adjustment over hidden groups would carry their p-values into the shown).
    """
    cached = ctx.planned.get("differences")
    if cached is not None:
        return dict(cached)
    out: dict[str, pd.DataFrame] = {}
    for role in ROLES:
        if f"nps_diff:{role}" not in ctx.planned:
            continue
        tests = ctx.shown(f"nps_diff:{role}")
        allowed = set(tests.loc[~tests["suppressed"], "hybrid_type"].astype("str"))
        part = ctx.shown(f"nps_part:{role}")
        keep = ~part["suppressed"].astype(bool) & part["hybrid_type"].astype("str").isin(
            allowed | {"none"}
        )
        part = part.loc[keep]
        if not allowed or "none" not in set(part["hybrid_type"].astype("str")):
            continue
        compared = compare_groups(part, reference="none", correction="holm")
        if not compared.empty:
            out[role] = compared
    ctx.planned["differences"] = out
    return dict(out)


def _nps_display(result: pd.DataFrame) -> pd.DataFrame:
    frame = result.copy()
    frame["instrument"] = frame["role"].astype("str").map(INSTRUMENT_NAME)
    frame["_role"] = frame["role"].astype("str").map({r: i for i, r in enumerate(ROLES)})
    frame = frame.sort_values("_role", kind="stable")
    columns = [
        "instrument",
        "n",
        "pct_promoters",
        "pct_detractors",
        "estimate",
        "ci_low",
        "ci_high",
    ]
    return frame[[*columns, "suppressed"]]


_NPS_LABELS = {
    "instrument": "Measure",
    "hybrid_type": "Hybrid type",
    "n": "Answers",
    "pct_promoters": "Promoters %",
    "pct_detractors": "Detractors %",
    "estimate": "NPS",
    "ci_low": "CI from",
    "ci_high": "to",
    "suppressed": "Suppressed",
}
_NPS_FORMATS: dict[str, Any] = {
    "pct_promoters": PCT_FMT,
    "pct_detractors": PCT_FMT,
    "estimate": NPS_FMT,
    "ci_low": NPS_FMT,
    "ci_high": NPS_FMT,
}


HOW_TO_READ = (
    "Each score comes with an interval: the range the true score is likely to be in. Wide "
    "intervals mean few answers; quote the score with its interval and its number of "
    "answers.\n\n"
    "In the tables by hybrid type, each group is compared with a reference group (people "
    "with no hybrid pattern). The flag says 'significantly higher' or 'significantly "
    "lower' only when the difference is unlikely to be chance after allowing for the "
    "number of groups compared (Holm adjustment); 'no clear difference' means the gap may "
    "be chance. A suppressed group had too few answers to show: it has no score, no "
    "difference and no flag.\n\n"
    "These scores count answers (a person who answered twice counts twice). For one "
    "number per person, quote the unified scores of 'Siloed vs unified'."
)

#: The columns of a figure's data table (the numbers the dot plot draws).
_DOT_DATA = ["group", "n", "estimate", "ci_low", "ci_high"]


def _drawn(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a dot plot draws (shown, with an estimate), as its data table."""
    keep = ~frame["suppressed"].astype(bool) & frame["estimate"].notna()
    return frame.loc[keep, _DOT_DATA].reset_index(drop=True)


def experience(report: Report, ctx: Context) -> None:
    """NPS, eNPS, partner NPS, CSAT and CES by role and hybrid type."""
    section = report.add_section(
        "experience",
        "Experience by role and hybrid type",
        intro=(
            "Net Promoter Score asks how likely someone is to recommend the company, from 0 "
            "to 10; the score is the share of promoters (9-10) minus the share of detractors "
            "(0-6), from -100 to +100. Customers answer it as customers (NPS), workers as "
            "employees (eNPS) and partners as partners. Here each answer counts once and is "
            "attributed to the person and the role they held when they answered; answers "
            "given after the person had left that role are not counted (see Data quality). "
            "When an interval includes the other group's score, the difference may be chance."
        ),
        how_to_read=HOW_TO_READ,
    )
    if not ctx.has_responses:
        section.add_note(
            "No survey responses in the data: NPS, eNPS, partner NPS, CSAT and CES need a "
            "responses table (answers to the NPS, csat and ces instruments)."
        )
        return
    by_role = ctx.shown("nps_by_role").copy()
    # A role whose promoter/passive/detractor split has a suppressed part (see the
    # distributions section) shows no promoter or detractor share: with the number of
    # answers, a share gives the hidden count back.
    split_off = np.array([split_hidden(ctx, str(r)) for r in by_role["role"]], dtype=bool)
    by_role.loc[split_off, ["pct_promoters", "pct_detractors"]] = np.nan
    table = _nps_display(by_role)
    add_table(
        section,
        ctx,
        table,
        caption="Net Promoter Score by role",
        labels={k: v for k, v in _NPS_LABELS.items() if k in table.columns},
        number_formats=_NPS_FORMATS,
    )
    if split_off.any():
        section.add_text(
            "No promoter or detractor share is shown for "
            + ", ".join(str(INSTRUMENT_NAME[str(r)]) for r in by_role["role"][split_off])
            + ": a part of its split into promoters, passives and detractors is too small."
        )
    by_hybrid = ctx.shown("nps_by_hybrid")
    differences = hybrid_differences(ctx)
    section.add_text(
        "Below, each score is broken down by hybrid type. Each hybrid type is compared with "
        "people with no hybrid pattern in the same role; the p-values are adjusted for the "
        "number of comparisons (Holm), so 'significantly higher' or 'lower' means the "
        "difference is unlikely to be chance."
    )
    explained = False  # the note on the flags, once, under the first flagged table
    for role in ROLES:
        part = by_hybrid.loc[by_hybrid["role"].astype("str") == role]
        if part.empty:
            continue
        part = hybrid_sorted(part)
        section.add_heading(f"{INSTRUMENT_NAME[role]} by hybrid type")
        fig, ax = new_figure(FIG_WIDTH, 0.75 + 0.36 * len(part))
        plot_estimates(
            part[["group", "estimate", "ci_low", "ci_high", "n", "suppressed"]],
            estimate="estimate",
            by="group",
            reference=0,
            xlabel="NPS (points, -100 to +100)",
            color=ROLE_COLORS[role],
            ax=ax,
        )
        visible = part.loc[~part["suppressed"].astype(bool)]
        if visible.empty:
            alt = f"{INSTRUMENT_NAME[role]} by hybrid type: every group is suppressed."
        else:
            top = row_at(visible, "estimate", largest=True)
            low = row_at(visible, "estimate", largest=False)
            alt = (
                f"Dot plot of {INSTRUMENT_NAME[role]} by hybrid type with intervals: highest "
                f"for {top['group']} ({NPS_FMT(top['estimate'])}), lowest "
                f"for {low['group']} ({NPS_FMT(low['estimate'])})."
            )
        section.add_figure(
            fig,
            alt=alt,
            data=_drawn(part),
            labels={
                "group": "Hybrid type",
                "n": "Answers",
                "estimate": "NPS",
                "ci_low": f"{level(ctx.confidence)} CI from",
                "ci_high": "to",
            },
            number_formats={k: v for k, v in _NPS_FORMATS.items() if k in _DOT_DATA},
        )
        table = part[["hybrid_type", "group", "n", "estimate", "ci_low", "ci_high"]]
        hidden = part["suppressed"].astype(bool).to_numpy()
        if role in differences:
            tests = differences[role][["hybrid_type", "difference", "p_adjusted", "differs"]]
            tests = tests.assign(hybrid_type=tests["hybrid_type"].astype("str"))
            table = table.assign(hybrid_type=table["hybrid_type"].astype("str")).merge(
                tests, on="hybrid_type", how="left", validate="one_to_one"
            )
            words = [
                flag_words(d, f) for d, f in zip(table["difference"], table["differs"], strict=True)
            ]
            verdict = np.where((table["hybrid_type"] == "none") & ~hidden, FLAG_REFERENCE, words)
            table = table.drop(columns="differs").assign(
                flag=pd.Series(verdict, index=table.index, dtype="str")
            )
        table = table.assign(suppressed=hidden).drop(columns="hybrid_type")
        add_table(
            section,
            ctx,
            table,
            caption=f"{INSTRUMENT_NAME[role]}: scores and differences from no hybrid pattern",
            labels={
                **_NPS_LABELS,
                "group": "Hybrid type",
                **FLAG_LABELS,
            },
            number_formats={**_NPS_FORMATS, "difference": NPS_FMT, "p_adjusted": p_value},
        )
        if role in differences and not explained:
            section.add_note(flag_note(_REFERENCE, ctx.confidence))
            explained = True
    n_hidden = int(by_hybrid["suppressed"].astype(bool).sum())
    if n_hidden:
        section.add_note(
            f"{n_hidden} group(s) are suppressed: fewer than {ctx.min_n} answers, or hidden "
            "with such a group so that it cannot be worked out by subtracting the other "
            "groups from a total shown anywhere in this report.",
            kind="warning",
        )
    _satisfaction(section, ctx, explained=explained)


#: The reference of every comparison in this section, for the note on the flags.
_REFERENCE = "people with no hybrid pattern (in the same role, for the NPS tables)"


def _satisfaction(section: Section, ctx: Context, *, explained: bool) -> None:
    """CSAT and CES by hybrid type; the flags explained under the first flagged table
    unless ``explained`` already."""
    result = ctx.shown("csat_by_hybrid") if ctx.csat_by_hybrid is not None else None
    effort = ctx.shown("ces_by_hybrid") if ctx.ces_by_hybrid is not None else None
    if result is None and effort is None:
        section.add_note("No CSAT or CES answers in the data: satisfaction is not shown.")
        return
    section.add_heading("Customer satisfaction (CSAT) and effort (CES)")
    section.add_text(
        "CSAT is the share of customers who rate a contact 4 or 5 out of 5 (Wilson "
        "interval). CES asks whether the company made it easy to get things done, from 1 "
        "to 7, and reports the mean (t interval); higher is easier."
    )
    if result is not None:
        frame = hybrid_sorted(result)
        fig, ax = new_figure(FIG_WIDTH, 0.95 + 0.36 * len(frame))
        plot_estimates(
            frame[["group", "estimate", "ci_low", "ci_high", "n", "suppressed"]],
            estimate="estimate",
            by="group",
            xlabel="CSAT (% satisfied)",
            title="CSAT by hybrid type",
            color=ROLE_COLORS["customer"],
            ax=ax,
        )
        satisfied = int(frame["in_box"].fillna(0).sum())
        answers = int(frame["n"].fillna(0).sum())
        alt = (
            "Dot plot of CSAT by hybrid type with intervals; in the groups shown, "
            f"{satisfied:,} of {answers:,} answers are satisfied."
        )
        if frame["suppressed"].astype(bool).all():
            alt = "CSAT by hybrid type: every group is suppressed."
        labels = {
            "group": "Hybrid type",
            "n": "Answers",
            "in_box": "Satisfied",
            "estimate": "CSAT %",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        }
        section.add_figure(
            fig,
            alt=alt,
            data=_drawn(frame),
            labels={
                **{k: v for k, v in labels.items() if k in _DOT_DATA},
                "ci_low": f"{level(ctx.confidence)} CI from",
            },
            number_formats=ci_formats("estimate", PCT_FMT),
        )
        explained |= _flagged_table(
            section,
            ctx,
            result,
            ["group", "n", "in_box", "estimate", "ci_low", "ci_high"],
            caption="CSAT (top-2-box) by hybrid type",
            labels=labels,
            number_formats={**ci_formats("estimate", PCT_FMT), "difference": signed(1)},
            explain=not explained,
        )
    if effort is not None:
        _flagged_table(
            section,
            ctx,
            effort,
            ["group", "n", "estimate", "ci_low", "ci_high"],
            caption="Customer effort (CES, mean of 1-7) by hybrid type",
            labels={
                "group": "Hybrid type",
                "n": "Answers",
                "estimate": "CES",
                "ci_low": "CI from",
                "ci_high": "to",
                "suppressed": "Suppressed",
            },
            number_formats={**ci_formats("estimate", "{:.2f}"), "difference": signed(2)},
            explain=not explained,
        )


def _flagged_table(
    section: Section,
    ctx: Context,
    result: pd.DataFrame,
    columns: list[str],
    *,
    caption: str,
    labels: dict[str, str],
    number_formats: dict[str, Any],
    explain: bool = True,
) -> bool:
    """A table by hybrid type with each shown group compared with 'none' (Holm).

    Returns whether any group is compared; the note on what the flags mean follows
    the table when ``explain``.
    """
    frame = hybrid_sorted(result)
    table = frame[columns]
    tests = compare_shown(result, "hybrid_type", "none", confidence=ctx.confidence)
    if tests is not None:
        found = tests.set_index("hybrid_type")
        keys = frame["hybrid_type"].astype("str")
        table = table.assign(
            difference=keys.map(found["difference"]).to_numpy(dtype=float),
            p_adjusted=keys.map(found["p_adjusted"]).to_numpy(dtype=float),
            flag=keys.map(found["flag"]).fillna("").to_numpy(dtype=object),
        )
    add_table(
        section,
        ctx,
        table.assign(suppressed=frame["suppressed"]),
        caption=caption,
        labels={**labels, **FLAG_LABELS},
        number_formats={**number_formats, "p_adjusted": p_value},
    )
    if tests is None:
        section.add_note(
            "No group is compared with people with no hybrid pattern here: that reference "
            "group, or every other group, is suppressed."
        )
        return False
    if explain:
        section.add_note(flag_note(_REFERENCE, ctx.confidence))
    return True
