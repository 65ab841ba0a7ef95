"""The report's "People and partners" section: eNPS by engagement kind, headcount and
turnover per period, boomerang returns per period, partner NPS by partner kind.

Every number is registered with the report's one disclosure plan in :func:`plan`:

- eNPS and partner NPS by kind are the used NPS answers of the role (base
  ``"responses:nps"``, ``{"use": "used", "role": ...}``) split by the engagement of
  the person's episode at the answer's time (``<role>_engagement`` of the attributed
  answers): the same cells as the role's NPS and its hybrid table, so that a small kind
  cannot be recovered from the eNPS total;
- the workforce of each period is two partitions of one population (the worker
  episodes running at the period's start or starting during it): at start + joined
  = still there at the end + left. The end of one period is the start of the next
  (linked); the joiners and leavers are also the worker episodes of the retention
  tables (base ``"episodes"``, linked), so no hidden count is the difference of shown
  ones;
- boomerang returns per period are the first exits of the retention section's
  leavers (base ``"leavers:worker"``) split by the period they left in and whether
  they came back; the first exits are also cells of the episodes that ended (nested,
  linked), so the workers who left twice are never a small difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.measures.nps import nps
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.tenure import boomerang_summary
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
    p_value,
    row_at,
)
from hxmetrics.report.sections.plan import (
    EPISODES,
    LEAVERS,
    NPS_BASE,
    USED,
    _add,
    _same,
    partition,
    recorded,
    split_hidden,
)
from hxmetrics.report.sections.settings import TENURE_UNIT

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

#: The worker episodes of each period (two partitions of one population per period).
WORKFORCE = "workforce:worker"
#: Worker episodes when the retention tables count them differently (never mixed).
OWN_EPISODES = "people:episodes"
#: Periods of a year when the window spans more than this many years, else quarters.
YEARS_ABOVE = 3.0
KIND_ROLES = ("worker", "partner")
_MEASURE = {"worker": "eNPS", "partner": "Partner NPS"}
_KIND = {"worker": "engagement kind", "partner": "partner kind"}


def plan(ctx: Context, d: Disclosure) -> None:
    """Compute this section's numbers unsuppressed and register them with ``d``."""
    for role in KIND_ROLES:
        _plan_kinds(ctx, role)
    flows = _plan_flows(ctx)
    if flows is not None:
        _plan_boomerang(ctx, flows)


# -- NPS by kind -----------------------------------------------------------------------
def _kind_where(role: str) -> dict[str, Any]:
    return {**USED, "role": role}


def _plan_kinds(ctx: Context, role: str) -> None:
    column = f"{role}_engagement"
    if column not in ctx.responses.columns:
        return
    rows = ctx.answers("nps", ["ltr"], columns=["role", "score", column])
    rows = rows.loc[rows["role"].astype("str") == role]
    if rows.empty:
        return
    kind = rows[column].astype("object")
    rows = rows.assign(engagement=kind.where(kind.notna(), "unknown").astype("str"))
    result, said = recorded(
        nps, rows, "score", by="engagement", confidence=ctx.confidence, min_n=None
    )
    result = result.assign(engagement=result["engagement"].astype("str"))
    # The reference is the largest kind (ties: the first in order), on true counts:
    # whether it is shown is for the plan to say.
    order = result.sort_values(["n", "engagement"], ascending=[False, True], kind="stable")
    reference = str(order["engagement"].iloc[0])
    ctx.planned[f"people:kinds:{role}"] = {"reference": reference, "notes": said}
    where = _kind_where(role)
    _add(ctx, f"people:nps:{role}", result, base=NPS_BASE, by="engagement", where=where)
    if len(result) < 2:
        return
    compared = compare_groups(result, reference=reference, correction="holm")
    if compared.empty:
        return
    # A difference is a number of its kind and of the reference: hidden with either.
    _add(
        ctx,
        f"people:diff:{role}",
        compared,
        base=NPS_BASE,
        by="engagement",
        where=where,
        n=None,
        compared_with={"engagement": reference},
    )
    _registered(ctx).add(f"people:diff:{role}")


def kind_differences(ctx: Context, role: str) -> pd.DataFrame | None:
    """Each shown kind against the shown reference kind, Holm-adjusted among the shown.

    None when the reference is hidden or fewer than two kinds are shown.
    """
    info = ctx.planned.get(f"people:kinds:{role}")
    if info is None or f"people:diff:{role}" not in _registered(ctx):
        return None
    reference = info["reference"]
    tests = ctx.shown(f"people:diff:{role}")
    allowed = set(tests.loc[~tests["suppressed"].astype(bool), "engagement"].astype("str"))
    part = ctx.shown(f"people:nps:{role}")
    keep = ~part["suppressed"].astype(bool) & part["engagement"].astype("str").isin(
        allowed | {reference}
    )
    part = part.loc[keep]
    if not allowed or reference not in set(part["engagement"].astype("str")):
        return None
    compared = compare_groups(part, reference=reference, correction="holm")
    return None if compared.empty else compared


def _registered(ctx: Context) -> set[str]:
    """Names this section registered (kept by the plan; empty tables are kept aside)."""
    names: set[str] = ctx.planned.setdefault("people:names", set())
    return names


# -- headcount and turnover -------------------------------------------------------------
def period_label(period: pd.Period) -> str:
    """A period as the tables show it: "year 2024" or "2024 Q1" (never a bare number).

    Examples
    --------
    >>> period_label(pd.Period("2024", freq="Y")), period_label(pd.Period("2024Q1", freq="Q"))
    ('year 2024', '2024 Q1')
    """
    if period.freqstr.startswith("Q"):
        return f"{period.year} Q{period.quarter}"
    return f"year {period.year}"


def _period_labels(periods: pd.PeriodIndex) -> list[str]:
    return [period_label(p) for p in periods]


def _plan_flows(ctx: Context) -> dict[str, Any] | None:
    episodes = ctx.registry.episodes
    if episodes.empty:
        return None
    mine = episodes.loc[episodes["role"].astype("str") == "worker"]
    start = pd.to_datetime(mine["start"])
    mine, start = mine.loc[start <= ctx.as_of], start.loc[start <= ctx.as_of]
    if mine.empty:
        return None
    end = pd.to_datetime(mine["end"])
    ended = end.notna() & (end <= ctx.as_of)
    # The window starts with the period of the first departure (no one left before
    # it, so everyone running then joined before it), or is the last period.
    first = end.loc[ended].min() if ended.any() else ctx.as_of
    years = (ctx.as_of - first).days / 365.25
    freq = "Y" if years > YEARS_ABOVE else "Q"
    periods = pd.period_range(first, ctx.as_of, freq=freq)
    labels = _period_labels(periods)
    # Period k holds [b_k, b_k+1); the last one runs to as_of (inclusive).
    bounds = [p.start_time for p in periods] + [ctx.as_of + pd.Timedelta(1, "ns")]
    s = start.to_numpy(dtype="datetime64[ns]")
    e = end.where(ended).to_numpy(dtype="datetime64[ns]")
    is_ended = ended.to_numpy()

    def running(at: pd.Timestamp) -> int:
        t = np.datetime64(at, "ns")
        return int(((s < t) & (~is_ended | (e >= t))).sum())

    heads = [running(b) for b in bounds]
    joined = [int(((s >= bounds[k]) & (s < bounds[k + 1])).sum()) for k in range(len(labels))]
    left = [
        int((is_ended & (e >= bounds[k]) & (e < bounds[k + 1])).sum()) for k in range(len(labels))
    ]
    flows = pd.DataFrame(
        {
            "period": labels,
            "at_start": heads[:-1],
            "joined": joined,
            "left": left,
            "at_end": heads[1:],
        }
    )
    average = (flows["at_start"] + flows["at_end"]) / 2
    flows["turnover"] = np.where(
        average > 0, 100 * flows["left"] / average.where(average > 0, 1), np.nan
    )
    ctx.planned["people:flows"] = flows
    ctx.planned["people:freq"] = freq
    # The retention tables count the worker episodes (all, ended, running): when they
    # count the same, these are their cells; otherwise a base of their own.
    tenure = ctx.planned.get("tenure")
    base = OWN_EPISODES
    if tenure is not None:
        row = tenure.loc[tenure["role"].astype("str") == "worker"]
        if (
            len(row)
            and int(row["n"].iloc[0]) == len(mine)
            and int(row["n_events"].iloc[0]) == int(ended.sum())
            and int(row["n_censored"].iloc[0]) == heads[-1]
        ):
            base = EPISODES
    ctx.planned["people:episodes_base"] = base
    names = _registered(ctx)
    worker = {"role": "worker"}
    done = {"role": "worker", "status": "ended"}
    for k, label in enumerate(labels):
        period = {"period": label}
        arrived = partition({"part": ["at_start", "joined"]}, [heads[k], joined[k]])
        after = partition({"outcome": ["stayed", "left"]}, [heads[k + 1], left[k]])
        for name, frame, column in (
            (f"people:in:{label}", arrived, "part"),
            (f"people:out:{label}", after, "outcome"),
        ):
            _add(ctx, name, frame, base=WORKFORCE, by=column, where=period)
            names.add(name)
        if k + 1 < len(labels) and heads[k + 1]:
            _same(
                ctx,
                (WORKFORCE, {**period, "outcome": "stayed"}),
                (WORKFORCE, {"period": labels[k + 1], "part": "at_start"}),
            )
        if joined[k]:
            _same(
                ctx, (WORKFORCE, {**period, "part": "joined"}), (base, {**worker, "joined": label})
            )
        if left[k]:
            _same(ctx, (WORKFORCE, {**period, "outcome": "left"}), (base, {**done, "left": label}))
    before = f"before {labels[0]}"
    _add(
        ctx,
        "people:joined",
        partition({"joined": [before, *labels]}, [heads[0], *joined]),
        base=base,
        by="joined",
        where=worker,
    )
    _add(ctx, "people:left", partition({"left": labels}, left), base=base, by="left", where=done)
    names.update({"people:joined", "people:left"})
    if heads[0]:
        _same(
            ctx,
            (WORKFORCE, {"period": labels[0], "part": "at_start"}),
            (base, {**worker, "joined": before}),
        )
    if heads[-1] and base == EPISODES:
        _same(
            ctx,
            (WORKFORCE, {"period": labels[-1], "outcome": "stayed"}),
            (EPISODES, {"role": "worker", "status": "running"}),
        )
    return {"periods": periods, "labels": labels, "base": base, "mine": mine}


def _label_of(times: pd.Series, periods: pd.PeriodIndex) -> pd.Series:
    """The period label of each time (missing outside the window)."""
    stamps = pd.to_datetime(times)
    out = pd.Series(pd.NA, index=times.index, dtype="object")
    for p in periods:
        inside = (stamps >= p.start_time) & (stamps <= p.end_time)
        out[inside.fillna(False).to_numpy()] = period_label(p)
    return out.fillna("open").astype("str")


# -- boomerangs per period --------------------------------------------------------------
def _plan_boomerang(ctx: Context, flows: Mapping[str, Any]) -> None:
    if "boomerang" not in ctx.planned:
        return
    episodes = ctx.registry.episodes
    ends = pd.to_datetime(episodes["end"]).where(pd.to_datetime(episodes["end"]) <= ctx.as_of)
    labelled = episodes.assign(left=_label_of(ends, flows["periods"]))
    result = boomerang_summary(
        labelled,
        as_of=ctx.as_of,
        role="worker",
        by="left",
        unit=TENURE_UNIT,
        confidence=ctx.confidence,
    )
    result = result.loc[result["left"].astype("str") != "open"].reset_index(drop=True)
    if result.empty:
        return
    result = result.assign(left=result["left"].astype("str"))
    ctx.planned["people:boomerang"] = result
    n = result["n"].to_numpy(dtype=int)
    k = result["n_returned"].to_numpy(dtype=int)
    long = pd.DataFrame(
        {
            "left": np.concatenate([result["left"].to_numpy(), result["left"].to_numpy()]),
            "returned": [True] * len(result) + [False] * len(result),
            "n": np.concatenate([k, n - k]),
        }
    )
    long = long.loc[long["n"] > 0].reset_index(drop=True)
    _add(ctx, "people:returns", long, base=LEAVERS, by=["left", "returned"])
    # Each period's leavers (the parts of the retention section's leavers), also when
    # one part is empty and the returns table has a single row for it.
    _add(ctx, "people:leavers", result[["left", "n"]], base=LEAVERS, by="left")
    # The first exits are also episodes that ended: nested in each period's leavers,
    # so that those who left twice are never a small difference of shown counts.
    base = flows["base"]
    first = {"role": "worker", "status": "ended", "first_exit": True}
    _add(
        ctx,
        "people:first_exits",
        result[["left", "n"]],
        base=base,
        by="left",
        where=first,
    )
    ctx.disclosure.add_count("people:first_exits_all", int(n.sum()), base=base, where=first)
    _registered(ctx).update({"people:returns", "people:leavers", "people:first_exits"})
    for label in result["left"]:
        _same(ctx, (base, {**first, "left": label}), (LEAVERS, {"left": label}))
    _same(ctx, (base, first), (LEAVERS, None))


# -- layout -----------------------------------------------------------------------------
def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows."""
    ctx.plan()
    out = report.add_section(
        "people",
        "People and partners",
        intro=(
            "How the people who work with the organisation feel and move: the employee "
            "NPS (eNPS) of each kind of engagement (full-time, part-time, gig, ...), how "
            "many workers there were, joined and left in each period, how many leavers "
            "came back, and the partner NPS of each kind of partner. The engagement is "
            "the one the person held when they answered."
        ),
        how_to_read=(
            "Each NPS has an interval: the range the score would likely fall in with "
            "other answers from the same people. 'Differs' marks a kind whose score is "
            "significantly different from the largest kind after the Holm adjustment "
            "for the number of comparisons shown. Turnover is the leavers of a period "
            "over its average headcount. A suppressed row has too few people to show, "
            "and no difference, interval or bar is shown for it."
        ),
    )
    has_kinds = any(f"people:kinds:{r}" in ctx.planned for r in KIND_ROLES)
    has_flows = "people:flows" in ctx.planned
    if not has_kinds and not has_flows:
        out.add_note(
            "No workers or partners in the data: a workers roster (with its engagement "
            "column) and eNPS answers, or a partners roster and partner NPS answers, "
            "would fill this section."
        )
        return
    _kinds_part(out, ctx, "worker")
    _flows_part(out, ctx)
    _boomerang_part(out, ctx)
    _kinds_part(out, ctx, "partner")


_KIND_LABELS = {
    "engagement": "Kind",
    "n": "Answers",
    "pct_promoters": "Promoters %",
    "pct_detractors": "Detractors %",
    "estimate": "NPS",
    "ci_low": "CI from",
    "ci_high": "to",
    "difference": "Difference",
    "p_adjusted": "Holm p",
    "differs": "Differs",
    "suppressed": "Suppressed",
}


_DRAWN = ["engagement", "n", "estimate", "ci_low", "ci_high"]


def kind_name(value: Any) -> str:
    """A reader-facing engagement kind ("full_time" -> "full time")."""
    return str(value).replace("_", " ")


def _kinds_part(out: Section, ctx: Context, role: str) -> None:
    info = ctx.planned.get(f"people:kinds:{role}")
    measure = _MEASURE[role]
    out.add_heading(f"{measure} by {_KIND[role]}")
    if info is None:
        out.add_note(
            f"No {measure} answers in the data: answers to the {role}s' NPS survey "
            f"from people on the {role}s roster would fill this part."
        )
        return
    shown = ctx.shown(f"people:nps:{role}").copy()
    hidden = shown["suppressed"].astype(bool)
    # The kinds' answers add up to the role's: their promoter and detractor shares would
    # give back a category of the role's split that the distributions section hides.
    shares_hidden = split_hidden(ctx, role)
    if shares_hidden:
        shown[["pct_promoters", "pct_detractors"]] = np.nan
    reference = str(info["reference"])
    compared = kind_differences(ctx, role)
    shown["difference"] = np.nan
    shown["p_adjusted"] = np.nan
    shown["differs"] = pd.Series(pd.NA, index=shown.index, dtype="object")
    if compared is not None:
        kinds = compared["engagement"].astype("str")
        difference = dict(zip(kinds, compared["difference"].to_numpy(dtype=float), strict=True))
        adjusted = dict(zip(kinds, compared["p_adjusted"].to_numpy(dtype=float), strict=True))
        differs = dict(zip(kinds, compared["differs"].to_numpy(dtype=bool), strict=True))
        names = shown["engagement"].astype("str")
        shown["difference"] = names.map(difference).astype(float)
        shown["p_adjusted"] = names.map(adjusted).astype(float)
        shown["differs"] = names.map({k: "yes" if v else "no" for k, v in differs.items()})
    shown = shown.sort_values(["n", "engagement"], ascending=[False, True], na_position="last")
    shown["engagement"] = shown["engagement"].map(kind_name)
    columns = [
        "engagement",
        "n",
        "pct_promoters",
        "pct_detractors",
        "estimate",
        "ci_low",
        "ci_high",
        "difference",
        "p_adjusted",
        "differs",
        "suppressed",
    ]
    if compared is None:
        columns = [c for c in columns if c not in ("difference", "p_adjusted", "differs")]
    visible = shown.loc[~hidden.reindex(shown.index).to_numpy()]
    if len(visible):
        fig, ax = new_figure(FIG_WIDTH, 0.5 + 0.45 * len(visible) + 1.0)
        plot_estimates(
            visible[_DRAWN],
            by="engagement",
            reference=0.0,
            xlabel=f"{measure} (-100 to +100)",
            title=f"{measure} by {_KIND[role]}",
            ax=ax,
        )
        best = row_at(visible, "estimate", largest=True)
        worst = row_at(visible, "estimate", largest=False)
        out.add_figure(
            fig,
            alt=(
                f"Dot and interval plot of {measure} by {_KIND[role]}: highest "
                f"{best['engagement']} at {NPS_FMT(best['estimate'])}, lowest "
                f"{worst['engagement']} at {NPS_FMT(worst['estimate'])}."
            ),
            caption=f"Lines: {level(ctx.confidence)} intervals. Suppressed kinds are not drawn.",
            data=visible[_DRAWN].reset_index(drop=True),
            labels={c: measure if c == "estimate" else _KIND_LABELS[c] for c in _DRAWN},
            number_formats=ci_formats("estimate", NPS_FMT),
        )
    formats: dict[str, Any] = {
        **ci_formats("estimate", NPS_FMT),
        "pct_promoters": PCT_FMT,
        "pct_detractors": PCT_FMT,
        "difference": NPS_FMT,
        "p_adjusted": p_value,
    }
    labels = dict(_KIND_LABELS, estimate=measure, difference=f"vs {kind_name(reference)}")
    add_table(
        out,
        ctx,
        shown[columns],
        caption=f"{measure} by {_KIND[role]} (differences against the largest kind, "
        f"{kind_name(reference)}, Holm-adjusted)",
        labels=labels,
        number_formats=formats,
    )
    if compared is None and int((~hidden).sum()) >= 2:
        out.add_text(
            f"The largest kind ({kind_name(reference)}) is hidden or alone: no difference is shown."
        )
    if shares_hidden:
        out.add_text(
            "Promoter and detractor shares are not shown: the role's split into promoters, "
            "passives and detractors has a suppressed part, which the kinds' shares would "
            "give back."
        )
    for said in info["notes"]:
        out.add_note(said, kind="warning")


def _flows_part(out: Section, ctx: Context) -> None:
    out.add_heading("Headcount and turnover")
    flows = ctx.planned.get("people:flows")
    if flows is None:
        out.add_note(
            "No worker episodes in the data: a workers roster with start and end dates "
            "would fill this part."
        )
        return
    rows = []
    for row in flows.itertuples(index=False):
        label = str(row.period)
        arrived = _parts(ctx, f"people:in:{label}", "part")
        after = _parts(ctx, f"people:out:{label}", "outcome")
        values = {
            "period": label,
            "at_start": arrived.get("at_start", 0),
            "joined": arrived.get("joined", 0),
            "left": after.get("left", 0),
            "at_end": after.get("stayed", 0),
        }
        known = all(not is_missing(values[c]) for c in ("at_start", "left", "at_end"))
        average = (int(values["at_start"]) + int(values["at_end"])) / 2 if known else float("nan")
        values["turnover"] = 100 * int(values["left"]) / average if known and average else np.nan
        # A row is marked suppressed only when every count of it is hidden; otherwise
        # its hidden counts show as blanks, and its turnover needs all three.
        values["suppressed"] = all(
            is_missing(values[c]) for c in ("at_start", "joined", "left", "at_end")
        )
        rows.append(values)
    table = pd.DataFrame(rows)
    for column in ("at_start", "joined", "left", "at_end"):
        table[column] = table[column].astype("Int64")
    unit = "year" if ctx.planned["people:freq"] == "Y" else "quarter"
    last = str(flows["period"].iloc[-1])
    drawn = table.loc[table["turnover"].notna()]
    if len(drawn):
        fig, ax = new_figure(FIG_WIDTH, 3.4)
        x = np.arange(len(drawn))
        ax.bar(x, drawn["turnover"].to_numpy(dtype=float), color="#4C72B0")
        ax.set_xticks(x, drawn["period"].tolist())
        ax.set_ylabel("leavers per 100 workers (bars)")
        ax.set_title(f"Worker turnover and headcount per {unit}")
        heads = drawn["at_start"].to_numpy(dtype=float)
        twin = ax.twinx()
        twin.plot(x, heads, marker="o", color="#333333")
        twin.set_ylim(0, max(heads.max(), 1.0) * 1.15)
        twin.set_ylabel("headcount at start (line)")
        high = row_at(drawn, "turnover", largest=True)
        out.add_figure(
            fig,
            alt=(
                f"Bar chart of worker turnover per {unit} with the headcount at each "
                f"start as a line ({int(heads.min()):,} to {int(heads.max()):,}): turnover "
                f"highest in {high['period']} at {high['turnover']:.1f} leavers per 100 "
                "workers on average."
            ),
            caption=f"The last {unit} ({last}) runs to {ctx.as_of:%Y-%m-%d} only.",
            data=drawn[list(_FLOW_DRAWN)].reset_index(drop=True),
            labels={c: _FLOW_LABELS[c] for c in _FLOW_DRAWN},
            number_formats={"turnover": PCT_FMT},
        )
    add_table(
        out,
        ctx,
        table,
        caption=f"Worker headcount, joiners, leavers and turnover per {unit}",
        labels=_FLOW_LABELS,
        number_formats={"turnover": PCT_FMT},
    )


_FLOW_DRAWN = ("period", "at_start", "left", "at_end", "turnover")
_FLOW_LABELS = {
    "period": "Period",
    "at_start": "Headcount at start",
    "joined": "Joined",
    "left": "Left",
    "at_end": "Headcount at end",
    "turnover": "Turnover %",
    "suppressed": "Suppressed",
}


def _parts(ctx: Context, name: str, column: str) -> dict[str, Any]:
    """A registered partition's shown counts by part (<NA> when hidden; absent: 0)."""
    frame = ctx.shown(name)
    return dict(zip(frame[column].astype("str"), frame["n"], strict=True))


def _boomerang_part(out: Section, ctx: Context) -> None:
    result = ctx.planned.get("people:boomerang")
    if result is None:
        return
    out.add_heading("Boomerang returns by period of leaving")
    shown = ctx.shown("people:returns")
    counts: dict[tuple[str, bool], Any] = {
        (str(left), bool(back)): n
        for left, back, n in zip(shown["left"], shown["returned"], shown["n"], strict=True)
    }
    rows = []
    for r in result.itertuples(index=False):
        label = str(r.left)
        back = counts.get((label, True), 0)
        away = counts.get((label, False), 0)
        hidden = is_missing(back) or is_missing(away)
        rows.append(
            {
                "left": label,
                "n": pd.NA if hidden else int(back) + int(away),
                "n_returned": pd.NA if hidden else int(back),
                "estimate": np.nan if hidden else float(r.estimate),
                "ci_low": np.nan if hidden else float(r.ci_low),
                "ci_high": np.nan if hidden else float(r.ci_high),
                "median_gap": np.nan if hidden or not int(back) else float(r.median_gap),
                "suppressed": hidden,
            }
        )
    table = pd.DataFrame(rows)
    for column in ("n", "n_returned"):
        table[column] = table[column].astype("Int64")
    add_table(
        out,
        ctx,
        table,
        caption="Workers who left (first departure) and came back, by period of leaving",
        labels={
            "left": "Left in",
            "n": "Leavers",
            "n_returned": "Came back",
            "estimate": "Came back %",
            "ci_low": "CI from",
            "ci_high": "to",
            "median_gap": "Median months away",
            "suppressed": "Suppressed",
        },
        number_formats={**ci_formats("estimate", PCT_FMT), "median_gap": "{:.1f}"},
    )
    out.add_text(
        "Recent leavers have had less time to come back, so the latest periods show "
        "fewer boomerangs. The share over all periods and the time to return are in "
        "'Lifetime value and retention'."
    )
