"""Section 4, "Siloed vs unified": the same NPS the way departments count it and
per person, and the gap split into its causes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.compare import COMPONENTS, plot_decomposition
from hxmetrics.plotting import new_figure, plot_estimates, style
from hxmetrics.report.builder import Report
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    GROUP_NAME,
    NPS_FMT,
    add_table,
    as_float,
    level,
    p_value,
    row_at,
)

HOW_TO_READ = (
    "Quote the unified number: each person counts once, with every answer filed under the "
    "role they held when answering. The siloed number is what each department would "
    "report from its own survey; it is shown so that the two can be reconciled.\n\n"
    "The gap is siloed minus unified, with its interval and p-value (a small p-value means "
    "the two ways of counting really differ). The second table splits the gap into its "
    "three causes, which add up to it; the waterfall draws the largest gap step by step. "
    "A suppressed group is not compared and its gap is not shown."
)

#: Reader-facing names of the decomposition's components (and the two ends).
_STEP_NAME = {
    "siloed": "siloed NPS",
    "double_counting": "double counting",
    "role_attribution": "role attribution",
    "hybrid_experience": "hybrid experience",
    "unified": "unified NPS",
}


def _waterfall_data(result: Any) -> pd.DataFrame:
    """The bars of the waterfall: the siloed score, each step (-contribution), the unified.

    Each step moves the score from one way of counting to the next, so it is the
    component's contribution to the gap (siloed minus unified) with its sign turned.
    """
    est = result.estimates.set_index("estimator")
    dec = result.decomposition.set_index("component")
    rows = []
    for name in ("siloed", *COMPONENTS, "unified"):
        if name in COMPONENTS:
            value = -as_float(dec.loc[name, "contribution"])
            low = -as_float(dec.loc[name, "ci_high"])
            high = -as_float(dec.loc[name, "ci_low"])
        else:
            value = as_float(est.loc[name, "estimate"])
            low = as_float(est.loc[name, "ci_low"])
            high = as_float(est.loc[name, "ci_high"])
        rows.append({"step": _STEP_NAME[name], "value": value, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def siloed_unified(report: Report, ctx: Context) -> None:
    """The same NPS the way departments count it and per person."""
    section = report.add_section(
        "siloed-unified",
        "Siloed vs unified",
        intro=(
            "Each department usually reports its own survey: marketing counts customers, "
            "HR counts employees. Someone who is both is then counted twice, and answers "
            "given after a person changed role are still filed under the old one. The "
            "unified view counts each person once and files every answer under the roles the "
            "person held when answering, whichever department asked. This section puts the "
            "two side by side and splits the gap into its causes. Here each person has one "
            "vote, so the unified scores differ slightly from the per-answer scores above."
        ),
        how_to_read=HOW_TO_READ,
    )
    results = ctx.comparisons
    if not results:
        section.add_note("No NPS answers in the data: the comparison is not shown.")
        return
    rows = []
    decomposition = []
    for group, result in results.items():
        hidden = ctx.comparison_hidden(group)
        est = result.estimates.set_index("estimator")
        for estimator in ("siloed", "unified"):
            rows.append(
                {
                    "group": GROUP_NAME[group],
                    "view": estimator,
                    "nps": np.nan if hidden else as_float(est.loc[estimator, "estimate"]),
                    "ci_low": np.nan if hidden else as_float(est.loc[estimator, "ci_low"]),
                    "ci_high": np.nan if hidden else as_float(est.loc[estimator, "ci_high"]),
                    "n": pd.NA if hidden else int(as_float(est.loc[estimator, "n_units"])),
                    "suppressed": hidden,
                }
            )
        d = result.difference.iloc[0]
        dec = result.decomposition.set_index("component")
        entry: dict[str, Any] = {
            "group": GROUP_NAME[group],
            "siloed": d["siloed"],
            "unified": d["unified"],
            "difference": d["difference"],
            "ci_low": d["ci_low"],
            "ci_high": d["ci_high"],
            "p_value": d["p_value"],
        }
        for component in COMPONENTS:
            entry[component] = dec.loc[component, "contribution"]
        entry["suppressed"] = hidden
        if hidden:
            entry = {k: (v if k in ("group", "suppressed") else np.nan) for k, v in entry.items()}
        decomposition.append(entry)
    side = pd.DataFrame(rows)
    side["n"] = side["n"].astype("Int64")
    fig, ax = new_figure(FIG_WIDTH, 1.3 + 0.62 * len(results))
    plot_estimates(
        side,
        estimate="nps",
        by="group",
        hue="view",
        reference=0,
        xlabel="NPS (points, -100 to +100)",
        ax=ax,
    )
    gaps = pd.DataFrame(decomposition)
    largest = (
        row_at(gaps.assign(size=gaps["difference"].abs()), "size", largest=True)
        if gaps["difference"].notna().any()
        else None
    )
    alt = "Dot plot of NPS for everyone and each role, siloed and unified, with intervals."
    if largest is not None:
        alt += (
            f" The largest gap is for {largest['group']}: {NPS_FMT(largest['siloed'])} "
            f"siloed vs {NPS_FMT(largest['unified'])} unified."
        )
    drawn = side.loc[~side["suppressed"].astype(bool) & side["nps"].notna()]
    section.add_figure(
        fig,
        alt=alt,
        caption="Siloed: each silo record one vote, every answer the department recorded. "
        "Unified: each person one vote, answers filed under the roles held at the time. "
        "n = silo records (siloed) or persons (unified).",
        data=drawn[["group", "view", "n", "nps", "ci_low", "ci_high"]].reset_index(drop=True),
        labels={
            "group": "Group",
            "view": "Counted",
            "n": "n",
            "nps": "NPS",
            "ci_low": f"{level(ctx.confidence)} CI from",
            "ci_high": "to",
        },
        number_formats={"nps": NPS_FMT, "ci_low": NPS_FMT, "ci_high": NPS_FMT},
    )
    labels = {
        "group": "Group",
        "siloed": "Siloed",
        "unified": "Unified",
        "difference": "Gap",
        "ci_low": "CI from",
        "ci_high": "to",
        "p_value": "p",
        "double_counting": "Double counting",
        "role_attribution": "Role attribution",
        "hybrid_experience": "Hybrid experience",
    }
    formats: dict[str, Any] = {
        **dict.fromkeys(("siloed", "unified", "difference", "ci_low", "ci_high"), NPS_FMT),
        **dict.fromkeys(COMPONENTS, NPS_FMT),
        "p_value": p_value,
    }
    add_table(
        section,
        ctx,
        gaps[["group", "siloed", "unified", "difference", "ci_low", "ci_high", "p_value"]].assign(
            suppressed=gaps["suppressed"]
        ),
        caption="Siloed and unified NPS and the gap between them (siloed minus unified)",
        labels=labels,
        number_formats=formats,
    )
    add_table(
        section,
        ctx,
        gaps[["group", *COMPONENTS, "difference"]].assign(suppressed=gaps["suppressed"]),
        caption="Where the gap comes from (points; the three causes add up to the gap)",
        labels=labels,
        number_formats=formats,
    )
    section.add_list(
        [
            "Double counting: a person who answered in two departments' surveys counts twice "
            "in the siloed view.",
            "Role attribution: answers given when the person no longer (or not yet) held the "
            "role, or that cannot be linked to anyone, are left out of the unified view.",
            "Hybrid experience: answers a group's members gave in another role's survey (a "
            "worker's answer to the customer survey) belong to the group too.",
        ]
    )
    visible = [(g, r) for g, r in results.items() if not ctx.comparison_hidden(g)]
    if visible:
        group, result = max(
            visible, key=lambda item: abs(float(item[1].difference["difference"].iloc[0]))
        )
        fig, ax = new_figure(FIG_WIDTH, 3.6)
        with style():
            plot_decomposition(result, ax=ax)
            ax.set_title(f"From the siloed to the unified NPS: {GROUP_NAME[group]}")
            ax.set_ylabel("NPS (points)")
            ax.grid(True, axis="y")
            ax.grid(False, axis="x")
        dec = result.decomposition.set_index("component")
        main = max(COMPONENTS, key=lambda c: abs(as_float(dec.loc[c, "contribution"])))
        section.add_figure(
            fig,
            alt=(
                f"Waterfall from the siloed NPS of {GROUP_NAME[group]} "
                f"({NPS_FMT(result.difference['siloed'].iloc[0])}) to the unified one "
                f"({NPS_FMT(result.difference['unified'].iloc[0])}); the largest step is "
                f"{main.replace('_', ' ')}."
            ),
            caption="Each bar in the middle is one cause of the gap; error bars are "
            f"{level(ctx.confidence)} intervals clustered by person.",
            data=_waterfall_data(result),
            labels={
                "step": "Bar",
                "value": "Points",
                "ci_low": f"{level(ctx.confidence)} CI from",
                "ci_high": "to",
            },
            number_formats={"value": NPS_FMT, "ci_low": NPS_FMT, "ci_high": NPS_FMT},
        )
    flagged = [
        GROUP_NAME[g]
        for g, r in results.items()
        if r.simpson.get("kind", "none") != "none" and not ctx.comparison_hidden(g)
    ]
    if flagged:
        section.add_note(
            "Simpson check: for "
            + ", ".join(flagged)
            + " the overall gap points the other way from the gap within most combinations "
            "of role and hybrid type. Read the overall number with care.",
            kind="warning",
        )
