"""The report's "Response rates and weights" section: who was asked, who answered,
and what non-response weights do to the NPS (where an ``invitations`` table exists).

:func:`plan` registers every number with the report's one disclosure plan:

- the response rates are cells of the invitations table's rows (base
  ``"rows:invitations"``, the base of its row count and attribution table in the data
  quality section), by instrument and role, each split into complete, partial and
  no answer: a rate is shown only when every part is;
- the NPS of the answers linked to an invitation, unweighted and weighted, are cells
  of the used NPS answers (base ``"responses:nps"``, ``{"use": "used", "role": ...,
  "invited": True}``), nested in each role's NPS answers;
- the weights come from every invitation of the instrument (the answers raked to the
  invited shares of the engagement kinds at the invitation); a role's weighted NPS and
  design effect are shown only when its rate, its answered parts and its linked NPS
  answers are all shown, the overall ones only when every role's are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError
from hxmetrics.measures.nps import nps
from hxmetrics.measures.response_rates import (
    kish_design_effect,
    rake,
    response_rates,
    with_weights,
)
from hxmetrics.plotting import new_figure, plot_estimates
from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    NPS_FMT,
    PCT_FMT,
    add_table,
    ci_formats,
    is_missing,
    level,
    row_at,
)
from hxmetrics.report.sections.plan import NPS_BASE, USED, _add, recorded
from hxmetrics.report.sections.settings import ROLES
from hxmetrics.tables import ROLE_OF_SILO

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

INVITATIONS = "rows:invitations"
#: The instrument whose answers are weighted (the one NPS the report headlines).
WEIGHTED = "nps"
#: Engagement kinds with fewer invitations than this are pooled per role before the
#: weighting (a tiny kind answered by everyone or no one gives extreme weights:
#: docs/measures_response_rates.md, "Why the pooled engagement groups").
POOL_BELOW = 30
INVITED: dict[str, Any] = {**USED, "invited": True}


def plan(ctx: Context, d: Disclosure) -> None:
    """Compute this section's numbers unsuppressed and register them with ``d``."""
    frame = ctx.tables.get("invitations")
    if frame is None or frame.empty or "invitations" not in ctx.attributed:
        return
    invited = _invited(ctx)
    try:
        rates, said = recorded(
            response_rates,
            invited,
            ctx.tables["responses"],
            by=["instrument", "role"],
            confidence=ctx.confidence,
            min_n=None,
        )
    except HxError as exc:
        ctx.planned["response:rates_error"] = type(exc).__name__
        return
    rates = rates.assign(
        instrument=rates["instrument"].astype("str"), role=rates["role"].astype("str")
    )
    ctx.planned["response:rates"] = rates
    ctx.planned["response:notes"] = said
    _add(ctx, "response:rates", rates, base=INVITATIONS, by=["instrument", "role"])
    # Each row's invitations by outcome: the rate is complete over all, so the
    # complete answers are a cell of their own (a partial answer is not complete).
    complete = rates["complete"].to_numpy(dtype=int)
    partial = (rates["partial"] + rates["breakoff"]).to_numpy(dtype=int)
    n = rates["n"].to_numpy(dtype=int)
    keys = rates[["instrument", "role"]]
    parts = pd.concat(
        [
            keys.assign(answered="complete", n=complete),
            keys.assign(answered="partial", n=partial),
            keys.assign(answered="none", n=n - complete - partial),
        ],
        ignore_index=True,
    )
    parts = parts.loc[parts["n"] > 0].reset_index(drop=True)
    _add(ctx, "response:answered", parts, base=INVITATIONS, by=["instrument", "role", "answered"])
    _plan_weights(ctx, d, invited)


def _invited(ctx: Context) -> pd.DataFrame:
    """The invitations with the invitee's role and engagement kind at the invitation."""
    inv = ctx.attributed["invitations"]
    role = inv["silo"].astype("str").map(ROLE_OF_SILO).fillna("unknown").astype("str")
    kind = pd.Series("unknown", index=inv.index, dtype="object")
    for r in ROLES:
        column = f"{r}_engagement"
        if column in inv.columns:
            mine = (role == r).to_numpy() & inv[column].notna().to_numpy()
            kind[mine] = inv.loc[mine, column].astype("str")
    kind = role + ": " + kind.astype("str")
    size = kind.groupby(kind).transform("size")
    group = kind.where(size >= POOL_BELOW, role + ": other")
    columns = ["invitation_id", "silo", "source_id", "instrument", "sent"]
    return inv[columns].assign(role=role, engagement_group=group.astype("str"))


def _plan_weights(ctx: Context, d: Disclosure, invited: pd.DataFrame) -> None:
    if "invitation_id" not in ctx.tables["responses"].columns:
        return
    mine = invited.loc[invited["instrument"].astype("str") == WEIGHTED]
    if mine.empty:
        return
    answers = ctx.answers(
        WEIGHTED, ["ltr"], columns=["response_id", "invitation_id", "role", "score"]
    )
    ids = mine["invitation_id"].astype("str")
    group = pd.Series(mine["engagement_group"].astype("str").to_numpy(), index=ids.to_numpy())
    answers = answers.loc[answers["invitation_id"].astype("str").isin(group.index)]
    if answers.empty:
        return
    asked = answers["invitation_id"].astype("str").tolist()
    # A group with fewer than min_n invitations or answers is not weighed on its own
    # (its weight would show its response rate): pooled with its role's other kinds,
    # then with everyone's. A group still without an answer cannot be represented.
    role_of = pd.Series(mine["role"].astype("str").to_numpy(), index=group.index)
    for pooled in (role_of + ": other", pd.Series("other", index=group.index)):
        n_asked = group.map(group.value_counts())
        n_answered = group.map(group.loc[asked].value_counts()).fillna(0)
        group = group.where((n_asked >= ctx.min_n) & (n_answered >= ctx.min_n), pooled)
    answered = set(group.loc[asked])
    if not group.isin(answered).all():
        ctx.planned["response:unweighted_groups"] = True
    targets = group.loc[group.isin(answered).to_numpy()]
    # Raking the answers to the invited shares of the groups (one margin) is the
    # weighting-class adjustment: each answer's weight is the inverse of its group's
    # response rate, what the propensity model with this one covariate gives, without
    # fitting a model.
    answers = answers.assign(engagement_group=group.loc[asked].to_numpy())
    shares = targets.value_counts(normalize=True).sort_index()
    try:
        weights, said = recorded(
            rake,
            answers[["response_id", "engagement_group"]],
            {"engagement_group": shares.to_dict()},
        )
    except HxError as exc:
        ctx.planned["response:weights_error"] = type(exc).__name__
        return
    ctx.planned["response:notes"] = [*ctx.planned["response:notes"], *said]
    if ctx.planned.get("response:unweighted_groups"):
        ctx.planned["response:notes"].append(
            "Some invitations belong to groups that gave no answer, even pooled with "
            "the other roles: the weights stand for the other invitations only."
        )
    answers = answers.assign(role=answers["role"].astype("str"))
    weighted = with_weights(answers, weights)
    rows = []
    for role, part in [("all", weighted), *weighted.groupby("role", sort=True)]:
        plain = nps(part, "score", confidence=ctx.confidence).iloc[0]
        adjusted = nps(part, "score", weights="weight", confidence=ctx.confidence).iloc[0]
        kish = kish_design_effect(part["weight"].to_numpy(dtype=float))
        rows.append(
            {
                "role": str(role),
                "n": len(part),
                "unweighted": float(plain["estimate"]),
                "u_low": float(plain["ci_low"]),
                "u_high": float(plain["ci_high"]),
                "weighted": float(adjusted["estimate"]),
                "w_low": float(adjusted["ci_low"]),
                "w_high": float(adjusted["ci_high"]),
                "deff": float(kish["deff"]),
                "n_eff": float(kish["n_eff"]),
            }
        )
    table = pd.DataFrame(rows)
    ctx.planned["response:weights"] = table
    ctx.planned["response:weights_info"] = {"deff": weights.deff, "n_eff": weights.n_eff}
    by_role = table.loc[table["role"] != "all"]
    _add(ctx, "response:nps", by_role, base=NPS_BASE, by="role", where=INVITED)
    d.add_count("response:nps_all", len(weighted), base=NPS_BASE, where=INVITED)


# -- layout -----------------------------------------------------------------------------
def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows."""
    ctx.plan()
    out = report.add_section(
        "response-rates",
        "Response rates and weights",
        intro=(
            "A score says what the people who answered think. Whether it speaks for "
            "everyone asked depends on who answered: this section shows the response "
            "rate of each survey and role, and how the NPS moves when the answers are "
            "weighted so that the groups that answered less count more."
        ),
        how_to_read=(
            "The response rate is AAPOR's RR1: complete answers over every invitation, "
            "with a Wilson interval. The weights make the answers stand for everyone "
            "invited: raked to the invited share of each engagement kind, an answer from "
            "a kind that answered less counts more (the inverse of its response rate). "
            "The design effect says how much the weights widen the interval (2 means "
            "the answers weigh as much as half as many unweighted ones). Quote the "
            "weighted NPS when the two differ and its interval is not much wider."
        ),
    )
    if "response:rates_error" in ctx.planned:
        out.add_note(
            "The invitations and the responses do not fit together "
            f"({ctx.planned['response:rates_error']}): no response rate is shown.",
            kind="warning",
        )
        return
    rates = ctx.planned.get("response:rates")
    if rates is None:
        out.add_note(
            "No invitations in the data: an invitations table (who was asked, for which "
            "survey, when) with each response's invitation_id would give the response "
            "rates and the non-response weights."
        )
        return
    shown = _shown_rates(ctx)
    _rates_part(out, ctx, shown)
    _weights_part(out, ctx, shown)
    for said in ctx.planned.get("response:notes", []):
        out.add_note(said, kind="warning")


def _shown_rates(ctx: Context) -> pd.DataFrame:
    """The rates with each row's numbers missing unless its answered parts are shown."""
    shown = ctx.shown("response:rates").copy()
    parts = ctx.shown("response:answered")
    hidden_parts = {
        (str(i), str(r))
        for i, r, h in zip(parts["instrument"], parts["role"], parts["suppressed"], strict=True)
        if bool(h)
    }
    cut = np.array(
        [
            bool(h) or (str(i), str(r)) in hidden_parts
            for i, r, h in zip(shown["instrument"], shown["role"], shown["suppressed"], strict=True)
        ],
        dtype=bool,
    )
    numbers = ["n", "complete", "estimate", "ci_low", "ci_high"]
    shown[numbers] = shown[numbers].astype("Float64")
    shown.loc[cut, numbers] = pd.NA
    shown["suppressed"] = cut
    return shown


_RATE_LABELS = {
    "instrument": "Survey",
    "role": "Role",
    "n": "Invited",
    "complete": "Answered (complete)",
    "estimate": "Response rate %",
    "ci_low": "CI from",
    "ci_high": "to",
    "suppressed": "Suppressed",
}


def _rates_part(out: Section, ctx: Context, shown: pd.DataFrame) -> None:
    out.add_heading("Response rates")
    table = shown[["instrument", "role", "n", "complete", "estimate", "ci_low", "ci_high"]]
    table = table.assign(suppressed=shown["suppressed"].to_numpy())
    for column in ("n", "complete"):
        table[column] = table[column].round().astype("Int64")
    visible = table.loc[~table["suppressed"]].reset_index(drop=True)
    if len(visible):
        drawn = visible.assign(group=visible["instrument"] + " · " + visible["role"])
        fig, ax = new_figure(FIG_WIDTH, 0.5 + 0.45 * len(drawn) + 1.0)
        plot_estimates(
            drawn[["group", "n", "estimate", "ci_low", "ci_high"]].astype(
                {"n": float, "estimate": float, "ci_low": float, "ci_high": float}
            ),
            by="group",
            xlabel="response rate (%)",
            title="Response rate by survey and role",
            ax=ax,
        )
        drawn = drawn.assign(estimate=drawn["estimate"].astype(float))
        low = row_at(drawn, "estimate", largest=False)
        high = row_at(drawn, "estimate", largest=True)
        out.add_figure(
            fig,
            alt=(
                "Dot and interval plot of response rates by survey and role: "
                + (
                    f"{low['group']} at {float(low['estimate']):.1f}%."
                    if len(drawn) == 1
                    else f"lowest {low['group']} at {float(low['estimate']):.1f}%, highest "
                    f"{high['group']} at {float(high['estimate']):.1f}%."
                )
            ),
            caption=f"Lines: {level(ctx.confidence)} Wilson intervals. Hidden groups are not "
            "drawn.",
            data=visible.drop(columns="suppressed"),
            labels={k: v for k, v in _RATE_LABELS.items() if k != "suppressed"},
            number_formats=ci_formats("estimate", PCT_FMT),
        )
    add_table(
        out,
        ctx,
        table,
        caption="Response rate (AAPOR RR1) by survey and role",
        labels=_RATE_LABELS,
        number_formats=ci_formats("estimate", PCT_FMT),
    )


_WEIGHT_LABELS = {
    "role": "Role",
    "n": "Answers",
    "unweighted": "NPS unweighted",
    "u_low": "CI from",
    "u_high": "to",
    "weighted": "NPS weighted",
    "w_low": "CI from",
    "w_high": "to",
    "deff": "Design effect",
    "n_eff": "Effective n",
    "suppressed": "Suppressed",
}


def _weights_part(out: Section, ctx: Context, rates: pd.DataFrame) -> None:
    out.add_heading("Weighted and unweighted NPS")
    if "response:weights_error" in ctx.planned:
        out.add_note(
            "The non-response weights could not be made "
            f"({ctx.planned['response:weights_error']}): no weighted NPS is shown."
        )
        return
    table = ctx.planned.get("response:weights")
    if table is None:
        out.add_note(
            "No NPS answers linked to an NPS invitation: responses carrying their "
            "invitation_id would give the weighted NPS."
        )
        return
    counts = ctx.shown("response:nps")
    nps_hidden = {
        str(r): bool(h) for r, h in zip(counts["role"], counts["suppressed"], strict=True)
    }
    mine = rates.loc[rates["instrument"].astype("str") == WEIGHTED]
    rate_hidden = {str(r): bool(h) for r, h in zip(mine["role"], mine["suppressed"], strict=True)}
    roles = [r for r in table["role"].astype("str") if r != "all"]
    hidden = {r: nps_hidden.get(r, True) or rate_hidden.get(r, True) for r in roles}
    # The overall weighted NPS mixes every role's weights: shown only when all are.
    hidden["all"] = any(hidden.values()) or ctx.count("response:nps_all") is None
    frame = table.copy()
    cut = frame["role"].astype("str").map(hidden).fillna(True).astype(bool).to_numpy()
    numbers = [c for c in frame.columns if c != "role"]
    frame[numbers] = frame[numbers].astype("Float64")
    frame.loc[cut, numbers] = pd.NA
    frame["suppressed"] = cut
    frame["n"] = frame["n"].round().astype("Int64")
    frame["role"] = frame["role"].map(lambda r: "everyone" if r == "all" else str(r))
    visible = frame.loc[~frame["suppressed"]].reset_index(drop=True)
    if len(visible):
        long = pd.concat(
            [
                visible[["role"]].assign(
                    NPS="unweighted",
                    estimate=visible["unweighted"],
                    ci_low=visible["u_low"],
                    ci_high=visible["u_high"],
                ),
                visible[["role"]].assign(
                    NPS="weighted",
                    estimate=visible["weighted"],
                    ci_low=visible["w_low"],
                    ci_high=visible["w_high"],
                ),
            ],
            ignore_index=True,
        ).astype({"estimate": float, "ci_low": float, "ci_high": float})
        fig, ax = new_figure(FIG_WIDTH, 0.5 + 0.7 * len(visible) + 1.0)
        plot_estimates(
            long,
            by="role",
            hue="NPS",
            n=None,
            reference=0.0,
            xlabel="NPS (-100 to +100)",
            ax=ax,
        )
        moved = visible["weighted"].astype(float) - visible["unweighted"].astype(float)
        widest = int(np.argmax(np.abs(moved.to_numpy())))
        out.add_figure(
            fig,
            alt=(
                "Dot and interval plot of the NPS of invited respondents by role, "
                "unweighted and weighted; the largest move is "
                f"{visible['role'].iloc[widest]}, {NPS_FMT(moved.iloc[widest])} points."
            ),
            caption=f"Lines: {level(ctx.confidence)} intervals. Hidden groups are not drawn.",
            data=visible.drop(columns="suppressed"),
            labels={k: v for k, v in _WEIGHT_LABELS.items() if k != "suppressed"},
            number_formats=_WEIGHT_FORMATS,
        )
    add_table(
        out,
        ctx,
        frame,
        caption="NPS of the answers linked to an invitation, unweighted and weighted "
        "(raked to the invited shares of each engagement kind)",
        labels=_WEIGHT_LABELS,
        number_formats=_WEIGHT_FORMATS,
    )
    if not is_missing(frame["deff"].iloc[0]):
        deff = float(frame["deff"].iloc[0])
        out.add_text(
            f"Over everyone, the weights' design effect is {deff:.2f}: the weighted answers "
            f"carry as much information as {float(frame['n_eff'].iloc[0]):,.0f} unweighted "
            "ones, so the weighted interval is wider. The weights correct only the part of "
            "the non-response that the engagement kind explains."
        )


_WEIGHT_FORMATS: dict[str, Any] = {
    "unweighted": NPS_FMT,
    "u_low": NPS_FMT,
    "u_high": NPS_FMT,
    "weighted": NPS_FMT,
    "w_low": NPS_FMT,
    "w_high": NPS_FMT,
    "deff": "{:.2f}",
    "n_eff": "{:,.0f}",
}
