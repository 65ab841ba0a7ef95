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
    FLAG_LABELS,
    GROUP_NAME,
    add_table,
    ci_formats,
    compare_shown,
    hybrid_sorted,
    level,
    p_value,
    signed,
)
from hxmetrics.report.sections.plan import recorded
from hxmetrics.report.sections.settings import HX_ITEMS, ROLES

HOW_TO_READ = (
    "Reliability (alpha and omega, from 0 to 1) says whether the six questions measure one "
    "thing consistently: 0.8 or more is good, 0.7 to 0.8 acceptable, below 0.7 weak. Only "
    "then does an index that adds them up mean something.\n\n"
    "The HX index is shown with its interval and the number of people behind it. Each role "
    "is compared with customers and each hybrid type with people with no hybrid pattern; "
    "the flag says 'significantly higher' or 'lower' only when the difference is unlikely "
    "to be chance after the Holm adjustment for the number of groups compared. Suppressed "
    "groups, and groups too small for an index, are not compared.\n\n"
    "The invariance table says how far scores may be compared across roles: fit is good "
    "when CFI is 0.95 or more and RMSEA 0.06 or less, and a level holds when the stricter "
    "model fits almost as well as the one before it. Compare average scores across roles "
    "only when the scalar level is supported."
)

#: Plain words beside the reliability table, for the coefficients it shows.
RELIABILITY_GLOSS = (
    "How to read these coefficients: alpha (Cronbach's) measures how strongly the answers "
    "to the six questions go together; omega (McDonald's) does the same from a factor "
    "model that lets questions count unequally. Both run from 0 to 1: 0.8 or more is good, "
    "0.7 to 0.8 acceptable, below 0.7 weak. The interval is the range the true value is "
    "likely to be in."
)

#: Plain words beside the invariance table, for the fit measures it shows.
FIT_GLOSS = (
    "How to read the fit: CFI (comparative fit index, 0 to 1) says how much better the "
    "model fits than a model where the questions are unrelated; 0.95 or more is good, "
    "below 0.90 poor. RMSEA (root mean square error of approximation) says how far the "
    "model is from the answers; 0.06 or less is good, above 0.10 poor. SRMR is the "
    "typical gap between observed and modelled correlations; 0.08 or less is good. Each "
    "stricter level is supported when CFI drops by less than 0.010 or RMSEA rises by less "
    "than 0.015 (and SRMR stays close) compared with the level before it."
)


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
        how_to_read=HOW_TO_READ,
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
    section.add_text(RELIABILITY_GLOSS)
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
    # Each breakdown is its own family of comparisons: roles against customers, hybrid
    # types against no hybrid pattern, each Holm-adjusted among its shown groups.
    tests_role = compare_shown(by_role, "role", "customer", confidence=ctx.confidence)
    tests_type = compare_shown(by_type, "hybrid_type", "none", confidence=ctx.confidence)
    frame_role = _with_tests(frame_role, tests_role, "role")
    frame_type = _with_tests(frame_type, tests_type, "hybrid_type")
    columns = ["breakdown", "group", "n", "n_responses", "estimate", "ci_low", "ci_high"]
    flagged = tests_role is not None or tests_type is not None
    if flagged:
        columns += ["difference", "p_adjusted", "flag"]
    both = pd.concat(
        [
            frame_role.assign(breakdown="role"),
            frame_type.assign(breakdown="hybrid type"),
        ],
        ignore_index=True,
    )[[*columns, "suppressed"]]
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
    drawn = both.loc[
        ~both["suppressed"].astype(bool) & both["estimate"].notna(),
        ["breakdown", "group", "n", "estimate", "ci_low", "ci_high"],
    ].reset_index(drop=True)
    section.add_figure(
        fig,
        alt=alt,
        caption="Intervals from a bootstrap that resamples persons (all of a person's "
        "answers together).",
        data=drawn,
        labels={
            "breakdown": "Breakdown",
            "group": "Group",
            "n": "People",
            "estimate": "HX index",
            "ci_low": f"{level(ctx.confidence)} CI from",
            "ci_high": "to",
        },
        number_formats=ci_formats("estimate", "{:.1f}"),
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
            **FLAG_LABELS,
        },
        number_formats={
            **ci_formats("estimate", "{:.1f}"),
            "difference": signed(1),
            "p_adjusted": p_value,
        },
    )
    if flagged:
        section.add_note(
            "Flag: by role, each role is compared with customers; by hybrid "
            "type, each type against people with no hybrid pattern. 'Significantly higher' "
            "or 'lower' means the difference is unlikely to be chance: its p-value, adjusted "
            "for the number of groups compared in that breakdown (Holm), is below "
            f"{1 - ctx.confidence:.2g}. 'No clear difference' means the gap may be chance. "
            "Suppressed groups and groups too small for an index are not compared, and "
            "only the comparisons shown count in the adjustment."
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


def _with_tests(frame: pd.DataFrame, tests: pd.DataFrame | None, column: str) -> pd.DataFrame:
    """``frame`` with its comparison columns (empty when nothing is compared)."""
    if tests is None:
        return frame.assign(difference=np.nan, p_adjusted=np.nan, flag="")
    found = tests.set_index(column)
    keys = frame[column].astype("str")
    return frame.assign(
        difference=keys.map(found["difference"]).to_numpy(dtype=float),
        p_adjusted=keys.map(found["p_adjusted"]).to_numpy(dtype=float),
        flag=keys.map(found["flag"]).fillna("").to_numpy(dtype=object),
    )


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
    section.add_text(FIT_GLOSS)
