"""Section 5, "The common core": reliability, the HX index, measurement invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError
from hxmetrics.measures.invariance import InvarianceResult, measurement_invariance
from hxmetrics.plotting import new_figure, plot_estimates
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    GROUP_NAME,
    add_table,
    ci_formats,
    hybrid_sorted,
    signed,
)
from hxmetrics.report.sections.plan import recorded
from hxmetrics.report.sections.settings import HX_ITEMS, ROLES


def reliability_index(report: Report, ctx: Context) -> None:
    """Alpha and omega per role, the HX index per group, measurement invariance."""
    section = report.add_section(
        "hx-index",
        "The common core: reliability and the HX index",
        intro=(
            "Every group answers the same six core questions (1 to 5). Before comparing "
            "groups on them, we check that the questions hang together (reliability: alpha "
            "and omega, where 0.8 or more is good) and that they mean the same to customers, "
            "workers and partners (measurement invariance). The HX index turns the six "
            "answers into one score from 0 (every answer 1) to 100 (every answer 5)."
        ),
    )
    wide = ctx.hx_wide
    if wide.empty:
        section.add_note("No answers to the core questions (hx_core): nothing to show.")
        return
    items = list(HX_ITEMS)
    floor = ctx.core_floor
    rel = ctx.shown("reliability")
    rel["_o"] = rel["role"].astype("str").map({r: i for i, r in enumerate(ROLES)})
    rel = rel.sort_values(["_o", "measure"], kind="stable")
    rel["measure"] = rel["measure"].astype("str").map(COEFFICIENT_NAME)
    add_table(
        section,
        ctx,
        rel[
            [
                "role",
                "measure",
                "n",
                "estimate",
                "ci_low",
                "ci_high",
                "n_excluded_missing",
                "suppressed",
            ]
        ],
        caption="Reliability of the six core questions by role",
        labels={
            "role": "Role",
            "measure": "Coefficient",
            "n": "Respondents",
            "estimate": "Estimate",
            "ci_low": "CI from",
            "ci_high": "to",
            "n_excluded_missing": "Incomplete (left out)",
            "suppressed": "Suppressed",
        },
        number_formats=ci_formats("estimate", "{:.3f}"),
    )
    # What the coefficients' own checks found (a Heywood case, low reliability), for
    # the roles whose estimates are shown.
    shown = set(rel.loc[~rel["suppressed"].astype(bool), "role"].astype("str"))
    for role in ROLES:
        if role in shown:
            for text in ctx.notes.get(("reliability", role), []):
                section.add_note(text, kind="warning")
    # Groups shown with fewer than ten people keep their count but get no estimate:
    # an index of a handful of people is too uncertain to report.
    by_role = _floored(ctx.shown("hx_role"), floor)
    by_type = _floored(ctx.shown("hx_type"), floor)
    frame_role = by_role.copy()
    frame_role["group"] = frame_role["role"].astype("str")
    frame_role["_o"] = frame_role["group"].map({r: i for i, r in enumerate(ROLES)})
    frame_role = frame_role.sort_values("_o", kind="stable")
    frame_type = hybrid_sorted(by_type)
    both = pd.concat(
        [
            frame_role.assign(breakdown="role"),
            frame_type.assign(breakdown="hybrid type"),
        ],
        ignore_index=True,
    )[["breakdown", "group", "n", "n_responses", "estimate", "ci_low", "ci_high", "suppressed"]]
    fig, ax = new_figure(FIG_WIDTH, 0.95 + 0.34 * len(both))
    plot_estimates(
        both.assign(label=both["breakdown"] + ": " + both["group"]),
        estimate="estimate",
        by="label",
        xlabel="HX index (0 to 100)",
        ax=ax,
    )
    visible = frame_role.loc[
        ~frame_role["suppressed"].astype(bool) & frame_role["estimate"].notna()
    ]
    alt = "Dot plot of the HX index by role and by hybrid type with intervals."
    if not visible.empty:
        alt += (
            " By role: "
            + ", ".join(f"{r.group} {r.estimate:.1f}" for r in visible.itertuples(index=False))
            + "."
        )
    section.add_figure(
        fig,
        alt=alt,
        caption="Intervals from a bootstrap that resamples persons (all of a person's "
        "answers together).",
    )
    add_table(
        section,
        ctx,
        both,
        caption="HX index by role and by hybrid type",
        labels={
            "breakdown": "Breakdown",
            "group": "Group",
            "n": "People",
            "n_responses": "Responses",
            "estimate": "HX index",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        },
        number_formats=ci_formats("estimate", "{:.1f}"),
    )
    if ("hx_index", "all") in ctx.notes:
        section.add_note(
            "The six core questions hardly hang together across all answers (Cronbach's "
            "alpha clearly below the usual bar): the index adds up numbers that measure "
            "different things. Read it with care and look at the questions one by one.",
            kind="warning",
        )
    _invariance(section, ctx, wide, items, floor)


#: The coefficients by the short names the report uses.
COEFFICIENT_NAME = {"cronbach_alpha": "alpha", "mcdonald_omega": "omega"}
_LEVEL_TEXT = {
    "configural": "the same questions measure the same thing",
    "metric": "relationships (such as driver weights) can be compared across groups",
    "scalar": "average scores can be compared across groups",
    "strict": "the scores are fully interchangeable across groups",
}


def _floored(result: pd.DataFrame, floor: int) -> pd.DataFrame:
    """Blank the index of shown groups smaller than ``floor`` (too few to estimate)."""
    out = result.copy()
    small = (out["n"].astype("Float64").fillna(0) < floor).to_numpy()
    for column in ("estimate", "ci_low", "ci_high", "se"):
        if column in out.columns:
            out[column] = out[column].astype(float)
            out.loc[small, column] = np.nan
    return out


def _invariance(
    section: Section, ctx: Context, wide: pd.DataFrame, items: list[str], floor: int
) -> None:
    counts = wide["role"].value_counts()
    rel = ctx.shown("reliability")
    shown = set(rel.loc[~rel["suppressed"].astype(bool), "role"].astype("str"))
    groups = [r for r in ROLES if r in shown and counts.get(r, 0) >= max(floor, 2 * len(items))]
    if len(groups) < 2:
        section.add_note(
            "Measurement invariance needs at least two roles with enough complete answers; "
            "it is not tested here."
        )
        return
    data = wide.loc[wide["role"].isin(groups), [*items, "role"]]
    try:
        result: InvarianceResult
        result, said = recorded(
            measurement_invariance, data, {"hx": items}, by="role", reliability=False, min_n=floor
        )
    except HxError as exc:
        section.add_note(
            f"Measurement invariance could not be tested ({type(exc).__name__}).", kind="warning"
        )
        return
    section.add_heading("Do the questions mean the same to every group?")
    level = result.supported_level
    if level is None:
        text = (
            "Even the least demanding model fits poorly, so the groups' scores should not be "
            "compared directly."
        )
    else:
        text = f"The data support {level} invariance: {_LEVEL_TEXT.get(level, level)}."
    names = [GROUP_NAME[g] for g in groups]
    section.add_text(
        "A factor model of the six questions was fitted to "
        + (", ".join(names[:-1]) + " and " + names[-1])
        + " with increasingly strict equality constraints (Chen's 2007 cut-offs on the "
        "change in fit). " + text
    )
    for text in said:
        section.add_note(text, kind="warning")
    table = result.table[
        ["level", "chisq", "df", "cfi", "rmsea", "srmr", "delta_cfi", "delta_rmsea", "supported"]
    ]
    add_table(
        section,
        ctx,
        table,
        caption="Measurement invariance across roles",
        labels={
            "level": "Level",
            "chisq": "Chi-square",
            "df": "df",
            "cfi": "CFI",
            "rmsea": "RMSEA",
            "srmr": "SRMR",
            "delta_cfi": "Change in CFI",
            "delta_rmsea": "Change in RMSEA",
            "supported": "Supported",
        },
        number_formats={
            "chisq": "{:.1f}",
            "df": "{:.0f}",
            "cfi": "{:.3f}",
            "rmsea": "{:.3f}",
            "srmr": "{:.3f}",
            "delta_cfi": signed(3),
            "delta_rmsea": signed(3),
        },
    )
