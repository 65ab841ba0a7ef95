"""The report's "Zero distance" section (issue 18, item 4): how close each team is to the
people it serves.

Five parts, each from a public measure, each computed unsuppressed in :func:`plan` and
registered with the report's one disclosure layer before anything is laid out:

- responsiveness per ticket desk (:func:`~hxmetrics.measures.responsiveness.responsiveness`:
  Kaplan-Meier medians to first response and to closing, open tickets censored) and SLA
  attainment (:func:`~hxmetrics.measures.responsiveness.sla_attainment`), tickets as
  cells of base ``"tickets"`` by ``team`` (and ``severity``);
- the closed loop (:func:`~hxmetrics.measures.responsiveness.closed_loop`): detractors
  followed up within a window, and the effect on their next score;
- the team ledger (:func:`~hxmetrics.measures.ledger.team_ledger`) of the latest period;
- journeys (:func:`~hxmetrics.measures.journeys.journeys`): frequent paths and the
  removal effects of touchpoints;
- the zero-distance gap (:func:`hxmetrics.instruments.zero_distance_gap`).

A hidden team (or path, or touchpoint) shows nothing: no number, no interval, no rank, no
mark in a figure; lists of "top" rows are chosen among the shown rows only, and tables
keep a fixed (alphabetical) order so that a hidden row's place tells nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from hxmetrics.errors import HxError
from hxmetrics.instruments import load_bank, zero_distance_gap
from hxmetrics.measures._inference import holm
from hxmetrics.measures.journeys import journeys
from hxmetrics.measures.ledger import team_ledger
from hxmetrics.measures.responsiveness import closed_loop, responsiveness, sla_attainment
from hxmetrics.plotting import PALETTE, ROLE_COLORS, new_figure, plot_estimates
from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Kpi, Report, Section
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    NPS_FMT,
    PCT_FMT,
    add_table,
    as_float,
    p_value,
    row_at,
    signed,
)
from hxmetrics.report.sections.plan import (
    _add,
    _same,
    categories_registered,
    category_cell,
    recorded,
)
from hxmetrics.report.sections.settings import ROLES

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

#: First-response targets by severity (the documented example of the measures'
#: pages, docs/measures_responsiveness.md and measures_ledger.md): a common tiering of
#: service desks; the report says them.
SLA: dict[str, str] = {"critical": "2h", "high": "8h", "medium": "1D", "low": "3D"}
#: Time allowed to follow a detractor up (the closed loop's default: 48 hours).
LOOP_WINDOW = "48h"
#: How long after a session a detractor answer still counts as its outcome (as the
#: touchpoints page does on the sample).
OUTCOME_WINDOW = "3D"
#: Paths and touchpoints listed per role.
TOP = 5
#: Ledger period (quarters: the sample's months are too thin, docs/measures_ledger.md).
PERIOD = "Q"

_P = "zero_distance"
TICKETS = "tickets"
LOOP = "closed_loop:detractors"
LOOP_EFFECT = "closed_loop:effect"
SERVED = "ledger:served"
LEDGER_ANSWERS = "ledger:answers"
LEDGER_TICKETS = "ledger:tickets"
SESSIONS = "journeys:persons"
PATHS = "journeys:paths"
VISITORS = "journeys:visitors"
GAP = "respondents:zero_distance"
GAP_SELF: dict[str, Any] = {"role": "worker"}
GAP_SERVED: dict[str, Any] = {"role": ["customer", "partner"]}

HOURS = "{:.1f}"


def _key(name: str) -> str:
    return f"{_P}:{name}"


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows attributed to a person (the measures that need one)."""
    keep = (frame["attribution"].astype("str") == "ok").to_numpy()
    return frame.loc[keep & frame["person_id"].notna().to_numpy()].reset_index(drop=True)


def _register(ctx: Context, name: str, frame: pd.DataFrame, **options: Any) -> None:
    """Register a table with the plan (``plan._add``) and remember that it exists."""
    _add(ctx, _key(name), frame.reset_index(drop=True), **options)
    ctx.planned.setdefault(_key("tables"), set()).add(_key(name))


def _note(ctx: Context, text: str) -> None:
    ctx.planned.setdefault(_key("missing"), []).append(text)


# -- the plan ---------------------------------------------------------------------------
def plan(ctx: Context, d: Disclosure) -> None:
    """Compute this section's numbers unsuppressed and register them with ``d``."""
    ctx.planned[_key("missing")] = []
    _plan_tickets(ctx)
    _plan_loop(ctx)
    _plan_ledger(ctx)
    _plan_journeys(ctx)
    _plan_gap(ctx)


def _tickets(ctx: Context) -> pd.DataFrame | None:
    tickets = ctx.attributed.get("tickets")
    if tickets is None or tickets.empty or "team" not in tickets.columns:
        return None
    with_team = tickets["team"].notna().to_numpy()
    if not with_team.any():
        return None
    return tickets.loc[with_team].assign(team=tickets.loc[with_team, "team"].astype("str"))


def _plan_tickets(ctx: Context) -> None:
    tickets = _tickets(ctx)
    if tickets is None:
        _note(
            ctx,
            "No tickets with a handling team in the data: responsiveness and SLA attainment "
            "are not shown (a tickets table with opened, first_response, closed and team "
            "would fill them).",
        )
        return
    has_severity = "severity" in tickets.columns and bool(tickets["severity"].notna().any())
    sla = SLA if has_severity else None
    common: dict[str, Any] = {"by": "team", "as_of": ctx.as_of, "confidence": ctx.confidence}
    first, said_first = recorded(responsiveness, tickets, sla=sla, **common)
    closing, said_close = recorded(responsiveness, tickets, clock="closed", **common)
    for frame in (first, closing):
        frame["team"] = frame["team"].astype("str")
    ctx.planned[_key("first")] = first
    ctx.planned[_key("said")] = [*said_first, *said_close]
    everyone, said_all = recorded(responsiveness, tickets, sla=sla, **{**common, "by": None})
    ctx.planned[_key("said")] += said_all
    # All tickets are the total of the desks' cells (one row, no group).
    _register(ctx, "all_tickets", everyone, base=TICKETS)
    # The tickets of a desk are one cell of base "tickets": both clocks count them.
    _register(ctx, "first", first, base=TICKETS, by="team")
    _register(ctx, "close", closing, base=TICKETS, by="team")
    if sla is not None:
        detail, said = recorded(sla_attainment, tickets, sla, **common)
        detail = detail.assign(
            team=detail["team"].astype("str"), severity=detail["severity"].astype("str")
        )
        detail = detail.loc[detail["n"] > 0].reset_index(drop=True)
        ctx.planned[_key("said")] += said
        # A desk's tickets of each severity partition its tickets (nested cells).
        _register(ctx, "sla", detail, base=TICKETS, by=["team", "severity"])
        # Tickets that met or missed their target are cells of their own (a share of a
        # desk's tickets, with their number, tells the count): a small count hides the
        # share and the counts of its row, with complementary suppression.
        split = pd.concat(
            [
                detail[["team", "severity"]].assign(met="met", n=detail["n_met"]),
                detail[["team", "severity"]].assign(met="missed", n=detail["n_missed"]),
            ],
            ignore_index=True,
        )
        split = split.loc[split["n"].fillna(0) > 0].reset_index(drop=True)
        _register(ctx, "sla_met", split, base=TICKETS, by=["team", "severity", "met"])
        desk = split.groupby(["team", "met"], sort=True)["n"].sum().reset_index()
        _register(ctx, "sla_met_desk", desk, base=TICKETS, by=["team", "met"])
    ctx.planned[_key("sla_used")] = sla is not None


def _plan_loop(ctx: Context) -> None:
    columns = ["person_id", "role", "instrument", "item", "score", "timestamp"]
    answers = ctx.answers("nps", ["ltr"], columns=columns)
    if answers.empty:
        _note(
            ctx,
            "No NPS answers: the closed loop (detractors followed up) and the removal "
            "effects of touchpoints (what leads to detractors) are not shown.",
        )
        return
    followups, source = _followups(ctx)
    if followups is None:
        _note(
            ctx,
            "No follow-up contacts in the data: the closed loop is not shown (events with "
            "event_type 'follow_up', or tickets with a first response, would fill it).",
        )
        return
    loop, said = recorded(
        closed_loop,
        answers,
        followups,
        window=LOOP_WINDOW,
        as_of=ctx.as_of,
        by="role",
        design="did",
        confidence=ctx.confidence,
        min_n=None,
    )
    share = loop.share.assign(role=loop.share["role"].astype("str"))
    effect = loop.effect.assign(role=loop.effect["role"].astype("str"))
    ctx.planned[_key("loop_source")] = source
    ctx.planned[_key("loop_said")] = said
    _register(ctx, "loop_share", share.loc[share["n"] > 0], base=LOOP, by="role")
    # A role's detractor answers are (nearly) the detractor category of its NPS answers,
    # which the distributions section shows: the same people, hidden together.
    for role in share.loc[share["n"] > 0, "role"]:
        if "detractor" in categories_registered(ctx, str(role)):
            _same(ctx, (LOOP, {"role": str(role)}), category_cell(str(role), "detractor"))
    usable = effect.loc[effect["n"] > 0].reset_index(drop=True)
    _register(ctx, "loop_effect", usable, base=LOOP_EFFECT, by="role")
    # The two arms of each effect are cells of their own: a small arm hides the effect
    # (a difference of two means tells each arm's mean).
    arms = pd.concat(
        [
            usable[["role"]].assign(arm="followed up", n=usable["n_followed_up"]),
            usable[["role"]].assign(arm="not followed up", n=usable["n_not_followed_up"]),
        ],
        ignore_index=True,
    )
    arms = arms.loc[arms["n"].fillna(0) > 0].reset_index(drop=True)
    _register(ctx, "loop_arms", arms, base=LOOP_EFFECT, by=["role", "arm"])
    ctx.planned[_key("loop")] = True


def _followups(ctx: Context) -> tuple[pd.DataFrame | None, str]:
    """Follow-up contacts: 'follow_up' events when there are any, else ticket answers."""
    events = ctx.attributed.get("events")
    if events is not None and "event_type" in events.columns:
        calls = events.loc[(events["event_type"].astype("str") == "follow_up").to_numpy()]
        calls = _ok(calls) if len(calls) else calls
        if len(calls):
            return calls[["person_id", "timestamp"]], "events"
    tickets = ctx.attributed.get("tickets")
    if tickets is not None and len(tickets) and "first_response" in tickets.columns:
        answered = _ok(tickets.loc[tickets["first_response"].notna().to_numpy()])
        if len(answered):
            out = answered[["person_id", "first_response"]].rename(
                columns={"first_response": "timestamp"}
            )
            return out, "tickets"
    return None, ""


def _plan_ledger(ctx: Context) -> None:
    teams = ctx.tables.get("teams")
    if teams is None or teams.empty:
        _note(
            ctx,
            "No teams table: the team ledger and the zero-distance gap are not shown (a teams "
            "table saying which team owns each touchpoint, and since when, would fill them).",
        )
        return
    # Rows are credited to teams through their touchpoint: a table without one is left
    # out (transactions are credited through the person's last touch).
    inputs = {
        name: _ok(ctx.attributed[name])
        for name in ("responses", "events", "tickets", "transactions")
        if name in ctx.attributed
        and len(ctx.attributed[name])
        and (name == "transactions" or "touchpoint" in ctx.attributed[name].columns)
    }
    if not any(name in inputs for name in ("events", "tickets", "responses")):
        _note(
            ctx,
            "No events, tickets or answers with a touchpoint to credit to teams: no team ledger.",
        )
        return
    has_severity = "tickets" in inputs and "severity" in inputs["tickets"].columns
    try:
        ledger, said = recorded(
            team_ledger,
            teams,
            period=PERIOD,
            sla=SLA if has_severity else None,
            as_of=ctx.as_of,
            confidence=ctx.confidence,
            min_n=None,
            **inputs,
        )
    except HxError as exc:
        _note(ctx, f"The team ledger could not be made: {str(exc).splitlines()[0]}")
        return
    ledger = ledger.assign(team=ledger["team"].astype("str"), period=ledger["period"].astype("str"))
    periods = sorted(set(ledger["period"]))
    last = periods[-1]
    previous = periods[-2] if len(periods) > 1 else None
    now = ledger.loc[ledger["period"] == last].reset_index(drop=True)
    ctx.planned[_key("ledger")] = (last, previous)
    ctx.planned[_key("ledger_said")] = said
    where = {"period": last}
    _register(ctx, "ledger", now.loc[now["n"] > 0], base=SERVED, by="team", where=where)
    answered = now.loc[now["n_answers"].fillna(0) > 0]
    _register(
        ctx, "ledger_answers", answered, base=LEDGER_ANSWERS, by="team", where=where, n="n_answers"
    )
    if "n_tickets" in now.columns:
        ticketed = now.loc[now["n_tickets"].fillna(0) > 0]
        _register(
            ctx,
            "ledger_tickets",
            ticketed,
            base=LEDGER_TICKETS,
            by="team",
            where=where,
            n="n_tickets",
        )
    if previous is not None:
        before = ledger.loc[(ledger["period"] == previous) & (ledger["n_answers"].fillna(0) > 0)]
        # A change is a number of both periods' answers: the earlier ones are cells too.
        _register(
            ctx,
            "ledger_previous",
            before,
            base=LEDGER_ANSWERS,
            by="team",
            where={"period": previous},
            n="n_answers",
        )


def _plan_journeys(ctx: Context) -> None:
    events = ctx.attributed.get("events")
    if events is None or events.empty or "touchpoint" not in events.columns:
        _note(ctx, "No events with a touchpoint: journeys are not shown.")
        return
    events = _ok(events)
    events = events.loc[events["touchpoint"].notna().to_numpy()]
    if events.empty:
        _note(ctx, "No attributed events with a touchpoint: journeys are not shown.")
        return
    answers = ctx.answers("nps", ["ltr"], columns=["person_id", "role", "score", "timestamp"])
    detractors = answers.loc[(answers["score"] <= 6).to_numpy(), ["person_id", "role", "timestamp"]]
    outcome = detractors if len(detractors) else None
    result = journeys(
        events[["person_id", "role", "timestamp", "touchpoint"]],
        by="role",
        outcome=outcome,
        outcome_window=OUTCOME_WINDOW,
        top_k=2 * TOP,
        confidence=ctx.confidence,
        min_n=None,
    )
    sessions = result.sessions.assign(role=result.sessions["role"].astype("str"))
    paths = result.paths.assign(role=result.paths["role"].astype("str"))
    _register(ctx, "sessions", sessions, base=SESSIONS, by="role")
    # A path's cell is the persons who took it (a rare path describes one person).
    _register(ctx, "paths", paths, base=PATHS, by=["role", "path"], n="n_persons")
    if result.removal is not None:
        removal = result.removal.assign(
            role=result.removal["role"].astype("str"),
            touchpoint=result.removal["touchpoint"].astype("str"),
        )
        removal = removal.loc[removal["n"] > 0]
        _register(ctx, "removal", removal, base=VISITORS, by=["role", "touchpoint"])
    ctx.planned[_key("journeys")] = result.removal is not None


def _plan_gap(ctx: Context) -> None:
    answers = ctx.answers("zero_distance")
    if answers.empty:
        _note(
            ctx,
            "No answers to the zero-distance bank: the zero-distance gap is not shown "
            "(workers' and served people's answers to the zero_distance items would fill it).",
        )
        return
    teams = ctx.tables.get("teams")
    if teams is None or teams.empty:
        return  # said once with the ledger
    catalogue = ctx.catalogue
    source = "the instrument catalogue given to the report"
    if catalogue is None or "zero_distance" not in tuple(catalogue.instruments):
        catalogue = load_bank("zero_distance")
        source = "the built-in zero_distance bank"
    try:
        gap, said = recorded(
            zero_distance_gap,
            answers,
            teams=teams,
            catalogue=catalogue,
            confidence=ctx.confidence,
            min_n=None,
        )
    except HxError as exc:
        _note(ctx, f"The zero-distance gap could not be computed: {str(exc).splitlines()[0]}")
        return
    gaps = gap.gaps.assign(
        team=gap.gaps["team"].astype("str"), subscale=gap.gaps["subscale"].astype("str")
    )
    ctx.planned[_key("gap")] = gaps
    ctx.planned[_key("gap_source")] = source
    # The refusals are said in words from the table; the measure's other warnings
    # (reliability, a CFA problem) are shown as they are.
    ctx.planned[_key("gap_said")] = [t for t in said if "gaps refused" not in t]
    # Respondents per team and side (the fewest over the practices: those scored).
    sides = gaps.groupby("team", sort=True)[["n_self", "n_served"]].min().reset_index()
    for name, column, where in (
        ("gap_self", "n_self", GAP_SELF),
        ("gap_served", "n_served", GAP_SERVED),
    ):
        part = sides.loc[sides[column].fillna(0) > 0, ["team", column]]
        _register(ctx, name, part, base=GAP, by="team", where=where, n=column)


# -- the section ------------------------------------------------------------------------
def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows."""
    ctx.plan()
    sec = report.add_section(
        "zero-distance",
        "Zero distance",
        intro=(
            "Zero distance means that the teams who serve customers, workers and partners "
            "hear them and act quickly. This section shows how fast each desk answers and "
            "closes tickets, whether unhappy people are called back and whether that helps, "
            "what each team did for the people it serves in the latest quarter, which paths "
            "people take through the touchpoints, and how far each team's view of its own "
            "practices is from the experience of the people it serves."
        ),
        how_to_read=(
            "Median times are Kaplan-Meier medians: tickets still open are counted as "
            "censored (they have waited at least this long), not dropped, so slow desks do "
            "not look fast. An interval is the range the true value plausibly lies in; "
            "'not reached' means too many tickets are still open to tell. SLA attainment is "
            "the share answered within the target for the ticket's severity. A removal effect "
            "says how much less often sessions would lead to a detractor answer without that "
            "touchpoint. A positive zero-distance gap means a team rates itself higher than "
            "the people it serves experience it; 'differs' is judged after the Holm "
            "adjustment. Suppressed teams, paths and touchpoints show no number and no mark."
        ),
    )
    for text in ctx.planned.get(_key("missing"), []):
        sec.add_note(text)
    if _key("first") in ctx.planned:
        _show_tickets(sec, ctx)
    if ctx.planned.get(_key("loop")):
        _show_loop(sec, ctx)
    if _key("ledger") in ctx.planned:
        _show_ledger(sec, ctx)
    if _key("journeys") in ctx.planned:
        _show_journeys(sec, ctx)
    if _key("gap") in ctx.planned:
        _show_gap(sec, ctx)


def _said(sec: Section, texts: list[str], hidden: set[str]) -> None:
    """The measures' warnings, except those naming a hidden group (they may hold its numbers)."""
    for text in texts:
        if not any(name and name in text for name in hidden):
            sec.add_note(str(text))


def _refusals(sec: Section, gaps: pd.DataFrame) -> None:
    """One note per reason a practice's gaps are refused (the measure's warning, in words)."""
    reasons = gaps["refused_reason"].fillna("").astype("str")
    refused = gaps.loc[reasons.str.startswith("invariance").to_numpy()]
    for reason, part in refused.groupby("refused_reason", sort=True):
        practices = ", ".join(sorted({str(v).replace("_", " ") for v in part["subscale"]}))
        sec.add_note(
            f"Gaps not given for {practices}: {reason}. Comparing the workers' and the "
            "served people's means needs the items to work alike for both (scalar "
            "invariance).",
            kind="warning",
        )


def _hidden_note(sec: Section, ctx: Context, n: int, what: str) -> None:
    if n:
        sec.add_note(
            f"{n} {what} suppressed: fewer than {ctx.min_n} people or records, or hidden with "
            "such a group so that it cannot be worked out from a total shown in this report.",
            kind="warning",
        )


def _interval_text(low: Any, high: Any) -> str:
    if pd.isna(low) and pd.isna(high):
        return "not reached"
    lo = "not reached" if pd.isna(low) else f"{float(low):.1f}"
    hi = "not reached" if pd.isna(high) else f"{float(high):.1f}"
    return f"{lo} to {hi}"


def _show_tickets(sec: Section, ctx: Context) -> None:
    first = ctx.shown(_key("first")).sort_values("team", kind="stable").reset_index(drop=True)
    closing = ctx.shown(_key("close")).set_index("team")
    hidden = first["suppressed"].astype(bool).to_numpy()
    _ticket_kpis(sec, ctx, sla_used=bool(ctx.planned.get(_key("sla_used"))))
    sec.add_heading("Responsiveness per desk")
    sla_used = bool(ctx.planned.get(_key("sla_used")))
    targets = ", ".join(f"{k} {v}" for k, v in SLA.items())
    sec.add_text(
        "Hours from a ticket's opening to its first response and to its closing, per "
        "handling desk (the tickets' team), with tickets still open at the reference date "
        "counted as censored."
        + (
            f" SLA targets for the first response, by severity: {targets} (a common tiering; "
            "the report's default, as no targets come with the data)."
            if sla_used
            else " The tickets hold no severity: SLA attainment is not shown."
        )
    )
    table = pd.DataFrame(
        {
            "team": first["team"],
            "n": first["n"],
            "first": first["estimate"],
            "first_ci": [
                "" if h else _interval_text(lo, hi)
                for h, lo, hi in zip(hidden, first["ci_low"], first["ci_high"], strict=True)
            ],
            "close": closing["estimate"].reindex(first["team"]).to_numpy(),
            "close_ci": [
                "" if h else _interval_text(lo, hi)
                for h, lo, hi in zip(
                    hidden,
                    closing["ci_low"].reindex(first["team"]),
                    closing["ci_high"].reindex(first["team"]),
                    strict=True,
                )
            ],
            "open": first["n_open"],
        }
    )
    if sla_used:
        # A desk whose met or missed count is hidden shows no attainment.
        no_split = {t for (t,) in _met_hidden(ctx, "sla_met_desk", ["team"])}
        off = first["team"].astype("str").isin(no_split).to_numpy()
        table["sla"] = np.where(off, np.nan, first["pct_sla_met"].to_numpy(dtype=float))
        table["sla_ci"] = [
            "" if h or o else _interval_text(lo, hi)
            for h, o, lo, hi in zip(
                hidden,
                off,
                first["pct_sla_met_ci_low"],
                first["pct_sla_met_ci_high"],
                strict=True,
            )
        ]
    table["suppressed"] = hidden
    add_table(
        sec,
        ctx,
        table,
        caption="Responsiveness per desk: median hours to first response and to close",
        labels={
            "team": "Desk",
            "n": "Tickets",
            "first": "Median first response (h)",
            "first_ci": "First response interval (h)",
            "close": "Median to close (h)",
            "close_ci": "Close interval (h)",
            "open": "Open now",
            "sla": "SLA met %",
            "sla_ci": "SLA interval (%)",
            "suppressed": "",
        },
        number_formats={"first": HOURS, "close": HOURS, "sla": PCT_FMT},
    )
    shown = first.loc[~hidden & first["estimate"].notna().to_numpy()]
    if len(shown):
        fig, ax = new_figure(FIG_WIDTH, 0.9 + 0.34 * len(shown))
        data = shown[["team", "estimate", "ci_low", "ci_high", "n"]].reset_index(drop=True)
        plot_estimates(
            data,
            by="team",
            xlabel="median hours to first response (Kaplan-Meier)",
            color=PALETTE[0],
            ax=ax,
        )
        fast = row_at(data, "estimate", largest=False)
        slow = row_at(data, "estimate", largest=True)
        sec.add_figure(
            fig,
            alt=(
                f"Dot plot of the median hours to first response per desk with intervals: "
                f"fastest {fast['team']} ({float(fast['estimate']):.1f} h), slowest "
                f"{slow['team']} ({float(slow['estimate']):.1f} h)."
            ),
            data=data,
            labels={
                "team": "Desk",
                "estimate": "Median (h)",
                "ci_low": "From",
                "ci_high": "To",
                "n": "Tickets",
            },
            number_formats={"estimate": HOURS, "ci_low": HOURS, "ci_high": HOURS},
        )
    if sla_used:
        _show_sla(sec, ctx)
    _hidden_note(sec, ctx, int(hidden.sum()), "desk(s) are")
    _said(sec, ctx.planned.get(_key("said"), []), set(first.loc[hidden, "team"].astype("str")))


def _ticket_kpis(sec: Section, ctx: Context, *, sla_used: bool) -> None:
    """Headline cards: every desk's tickets together."""
    total = ctx.shown(_key("all_tickets"))
    if total.empty:
        return
    rec = total.iloc[0]
    hidden = bool(rec["suppressed"])
    n = None if hidden else int(rec["n"])
    cards = [
        Kpi(
            "Median hours to first response, all desks",
            None if hidden else as_float(rec["estimate"]),
            ci_low=None if hidden else as_float(rec["ci_low"]),
            ci_high=None if hidden else as_float(rec["ci_high"]),
            n=n,
            unit=" h",
            note="Kaplan-Meier, open tickets censored",
            confidence=ctx.confidence,
        )
    ]
    if sla_used:
        cards.append(
            Kpi(
                "Tickets answered within their SLA target",
                None if hidden else as_float(rec["pct_sla_met"]),
                ci_low=None if hidden else as_float(rec["pct_sla_met_ci_low"]),
                ci_high=None if hidden else as_float(rec["pct_sla_met_ci_high"]),
                n=n,
                unit="%",
                note="targets by severity, see below",
                confidence=ctx.confidence,
            )
        )
    sec.add_kpis(cards)


def _met_hidden(ctx: Context, name: str, keys: list[str]) -> set[tuple[str, ...]]:
    """The groups (by ``keys``) with a hidden met or missed cell in table ``name``."""
    if not _registered(ctx, _key(name)):
        return set()
    split = ctx.shown(_key(name))
    gone = split.loc[split["suppressed"].astype(bool), keys].astype("str")
    return {tuple(row) for row in gone.itertuples(index=False)}


def _show_sla(sec: Section, ctx: Context) -> None:
    detail = ctx.shown(_key("sla"))
    desks = ctx.shown(_key("first"))
    gone = set(desks.loc[desks["suppressed"].astype(bool), "team"].astype("str"))
    hidden = detail["suppressed"].astype(bool) | detail["team"].astype("str").isin(gone)
    order = {s: i for i, s in enumerate(SLA)}
    detail = detail.assign(
        suppressed=hidden.to_numpy(),
        _o=detail["severity"].map(order).fillna(len(order)),
    ).sort_values(["team", "_o"], kind="stable")
    table = detail[
        [
            "team",
            "severity",
            "n",
            "estimate",
            "ci_low",
            "ci_high",
            "n_met",
            "n_missed",
            "suppressed",
        ]
    ].copy()
    table.loc[
        table["suppressed"].to_numpy(), ["n", "estimate", "ci_low", "ci_high", "n_met", "n_missed"]
    ] = np.nan
    # A row whose met or missed count is hidden shows its tickets only.
    split_gone = _met_hidden(ctx, "sla_met", ["team", "severity"])
    keys = list(zip(table["team"].astype("str"), table["severity"].astype("str"), strict=True))
    no_split = np.array([k in split_gone for k in keys], dtype=bool)
    table.loc[no_split, ["estimate", "ci_low", "ci_high", "n_met", "n_missed"]] = np.nan
    table["target"] = table["severity"].map(SLA)
    table = table[
        [
            "team",
            "severity",
            "target",
            "n",
            "estimate",
            "ci_low",
            "ci_high",
            "n_met",
            "n_missed",
            "suppressed",
        ]
    ]
    add_table(
        sec,
        ctx,
        table,
        caption="SLA attainment per desk and severity (first response within target)",
        labels={
            "team": "Desk",
            "severity": "Severity",
            "target": "Target",
            "n": "Tickets",
            "estimate": "Within target %",
            "ci_low": "CI from",
            "ci_high": "to",
            "n_met": "Met",
            "n_missed": "Missed",
            "suppressed": "",
        },
        number_formats={"estimate": PCT_FMT, "ci_low": PCT_FMT, "ci_high": PCT_FMT},
    )
    desks_off = {t for (t,) in _met_hidden(ctx, "sla_met_desk", ["team"])}
    first = desks.loc[
        ~desks["suppressed"].astype(bool)
        & desks["pct_sla_met"].notna()
        & ~desks["team"].astype("str").isin(desks_off)
    ]
    if len(first):
        data = first[["team", "pct_sla_met", "pct_sla_met_ci_low", "pct_sla_met_ci_high", "n"]]
        data = data.sort_values("team").reset_index(drop=True)
        fig, ax = new_figure(FIG_WIDTH, 0.9 + 0.34 * len(data))
        plot_estimates(
            data,
            estimate="pct_sla_met",
            ci_low="pct_sla_met_ci_low",
            ci_high="pct_sla_met_ci_high",
            by="team",
            xlabel="tickets answered within their SLA target (%)",
            color=PALETTE[2],
            ax=ax,
        )
        low = row_at(data, "pct_sla_met", largest=False)
        high = row_at(data, "pct_sla_met", largest=True)
        sec.add_figure(
            fig,
            alt=(
                "Dot plot of SLA attainment per desk with intervals: highest "
                f"{high['team']} ({float(high['pct_sla_met']):.1f}%), lowest {low['team']} "
                f"({float(low['pct_sla_met']):.1f}%)."
            ),
            data=data,
            labels={
                "team": "Desk",
                "pct_sla_met": "Within target %",
                "pct_sla_met_ci_low": "From",
                "pct_sla_met_ci_high": "To",
                "n": "Tickets",
            },
            number_formats={
                "pct_sla_met": PCT_FMT,
                "pct_sla_met_ci_low": PCT_FMT,
                "pct_sla_met_ci_high": PCT_FMT,
            },
        )


def _show_loop(sec: Section, ctx: Context) -> None:
    share = ctx.shown(_key("loop_share"))
    effect = ctx.shown(_key("loop_effect")).set_index("role")
    arms = ctx.shown(_key("loop_arms"))
    small = set(arms.loc[arms["suppressed"].astype(bool), "role"].astype("str"))
    source = ctx.planned.get(_key("loop_source"))
    sec.add_heading("Closed loop: detractors followed up")
    what = (
        "follow-up calls (events of type follow_up)"
        if source == "events"
        else "the first response to a ticket of the same person (the data hold no follow-up calls)"
    )
    sec.add_text(
        f"A detractor answer (NPS 0-6) is followed up when the person gets {what} within "
        f"{LOOP_WINDOW.replace('h', ' hours')}. The effect compares the change of the score "
        "from the answer before to the answer after, for those followed up and those not "
        "(difference in differences: it assumes both would otherwise have moved alike)."
    )
    order = {r: i for i, r in enumerate(ROLES)}
    share = share.assign(_o=share["role"].map(order)).sort_values("_o", kind="stable")
    rows = []
    for rec in share.to_dict("records"):
        role = str(rec["role"])
        hidden = bool(rec["suppressed"])
        eff = effect.loc[role] if role in effect.index else None
        eff_hidden = hidden or eff is None or bool(eff["suppressed"]) or role in small
        if hidden:
            said = ""
        elif eff is None:
            said = "no answers before and after"
        elif eff_hidden:
            # Not the word "suppressed": that marks a whole row hidden, and this row's
            # share is shown; only its effect is withheld.
            said = _EFFECT_HIDDEN
        else:
            said = _signed_interval(eff["ci_low"], eff["ci_high"])
        rows.append(
            {
                "role": role,
                "n": rec["n"],
                "followed": rec["n_followed_up"],
                "estimate": rec["estimate"],
                "ci_low": rec["ci_low"],
                "ci_high": rec["ci_high"],
                "effect_n": np.nan if eff_hidden or eff is None else eff["n"],
                "effect": np.nan if eff_hidden or eff is None else eff["estimate"],
                "effect_ci": said,
                "suppressed": hidden,
            }
        )
    table = pd.DataFrame(rows)
    add_table(
        sec,
        ctx,
        table,
        caption=f"Closed loop by role: detractors followed up within {LOOP_WINDOW}, and the effect",
        labels={
            "role": "Role",
            "n": "Detractor answers",
            "followed": "Followed up",
            "estimate": "Followed up %",
            "ci_low": "CI from",
            "ci_high": "to",
            "effect_n": "Answers with a score before and after",
            "effect": "Effect on next score (points)",
            "effect_ci": "Effect interval",
            "suppressed": "",
        },
        number_formats={
            "estimate": PCT_FMT,
            "ci_low": PCT_FMT,
            "ci_high": PCT_FMT,
            "effect": signed(2),
        },
    )
    _hidden_note(sec, ctx, int(table["suppressed"].sum()), "role(s) are")
    unknown = table["effect_ci"].isin(["not estimable", "no answers before and after"])
    gone = (table["effect_ci"] == _EFFECT_HIDDEN) | table["suppressed"]
    if bool(unknown.any()) and bool((unknown | gone).all()):
        sec.add_note(
            "No effect of the follow-up can be shown: too few detractors were followed up "
            "and answered both before and after (where a role's interval says "
            f"{_EFFECT_HIDDEN!r}, its groups are too small to show)."
        )
    hidden_roles = set(table.loc[table["suppressed"].astype(bool), "role"].astype("str"))
    _said(sec, ctx.planned.get(_key("loop_said"), []), hidden_roles)


_EFFECT_HIDDEN = "hidden: small group"


def _signed_interval(low: Any, high: Any) -> str:
    if pd.isna(low) or pd.isna(high):
        return "not estimable"
    fmt = signed(2)
    return f"{fmt(low)} to {fmt(high)}"


def _show_ledger(sec: Section, ctx: Context) -> None:
    last, previous = ctx.planned[_key("ledger")]
    ledger = ctx.shown(_key("ledger")).sort_values("team", kind="stable").reset_index(drop=True)
    if ledger.empty:
        sec.add_note(f"No team served anyone in {last}: no team ledger.")
        return
    hidden = ledger["suppressed"].astype(bool).to_numpy()

    def shown_teams(name: str) -> set[str]:
        if name not in ctx.planned.get("empty", {}) and not _registered(ctx, name):
            return set()
        part = ctx.shown(name)
        return set(part.loc[~part["suppressed"].astype(bool), "team"].astype("str"))

    answered = shown_teams(_key("ledger_answers"))
    ticketed = shown_teams(_key("ledger_tickets"))
    before = shown_teams(_key("ledger_previous")) if previous is not None else set()
    teams = ledger["team"].astype("str")
    ok_answers = teams.isin(answered).to_numpy() & ~hidden
    ok_tickets = teams.isin(ticketed).to_numpy() & ~hidden
    ok_change = ok_answers & teams.isin(before).to_numpy() & ledger["change"].notna().to_numpy()
    p = np.where(ok_change, ledger["change_p_value"].to_numpy(dtype=float), np.nan)
    # Holm among the changes shown (a hidden team's p-value must not shape the others).
    adjusted = holm(p) if np.isfinite(p).any() else p
    table = pd.DataFrame(
        {
            "team": teams,
            "n": ledger["n"],
            "pct_repeat": ledger["pct_repeat"],
            "n_answers": ledger["n_answers"].where(ok_answers),
            "estimate": ledger["estimate"].where(ok_answers),
            "ci_low": ledger["ci_low"].where(ok_answers),
            "ci_high": ledger["ci_high"].where(ok_answers),
            "change": ledger["change"].where(ok_change),
            "p_holm": adjusted,
            "n_tickets": ledger["n_tickets"].where(ok_tickets),
            "median_first_response_hours": ledger["median_first_response_hours"].where(ok_tickets),
            "pct_sla_met": ledger["pct_sla_met"].where(ok_tickets)
            if "pct_sla_met" in ledger.columns
            else np.nan,
            "revenue": ledger["revenue"],
            "suppressed": hidden,
        }
    )
    flags = np.where(np.isnan(adjusted), "", np.where(adjusted < 1 - ctx.confidence, "yes", "no"))
    table.insert(9, "differs", flags)
    sec.add_heading(f"Team ledger, {last}")
    sec.add_text(
        f"What each team that owns touchpoints did in {last} for the people it served "
        "there: people served, the share who had been served before, their NPS with its "
        f"interval and its change since {previous or 'the previous quarter'} (Holm-adjusted "
        "among the changes shown), how fast tickets opened at its touchpoints were answered "
        "(whichever desk handled them, so these are not the desks above), and the revenue "
        "credited by the last touch within 30 days."
    )
    add_table(
        sec,
        ctx,
        table,
        caption=f"Team ledger for {last}: people served, experience, responsiveness, revenue",
        labels={
            "team": "Team",
            "n": "People served",
            "pct_repeat": "Repeat %",
            "n_answers": "Answers",
            "estimate": "NPS",
            "ci_low": "CI from",
            "ci_high": "to",
            "change": "Change",
            "p_holm": "Adjusted p",
            "differs": "Differs",
            "n_tickets": "Tickets",
            "median_first_response_hours": "Median first response (h)",
            "pct_sla_met": "SLA met %",
            "revenue": "Revenue",
            "suppressed": "",
        },
        number_formats={
            "pct_repeat": PCT_FMT,
            "estimate": NPS_FMT,
            "ci_low": NPS_FMT,
            "ci_high": NPS_FMT,
            "change": NPS_FMT,
            "p_holm": p_value,
            "median_first_response_hours": HOURS,
            "pct_sla_met": PCT_FMT,
            "revenue": "{:,.2f}",
        },
    )
    _hidden_note(sec, ctx, int(hidden.sum()), "team(s) are")
    n_thin = int((~hidden & ~ok_answers).sum())
    if n_thin:
        sec.add_note(
            f"{n_thin} team(s) show no NPS: fewer than {ctx.min_n} answers at their "
            "touchpoints this quarter (or hidden with such a team)."
        )
    _said(sec, ctx.planned.get(_key("ledger_said"), []), set(teams[hidden]))


def _registered(ctx: Context, name: str) -> bool:
    return name in ctx.planned.get(_key("tables"), set())


def _show_journeys(sec: Section, ctx: Context) -> None:
    sessions = ctx.shown(_key("sessions"))
    gone = set(sessions.loc[sessions["suppressed"].astype(bool), "role"].astype("str"))
    paths = ctx.shown(_key("paths"))
    paths = paths.loc[~paths["suppressed"].astype(bool) & ~paths["role"].isin(gone)]
    order = {r: i for i, r in enumerate(ROLES)}
    sec.add_heading("Top journeys")
    sec.add_text(
        "A session is a person's contacts with no pause longer than 30 minutes; its path is "
        f"the touchpoints in order. The {TOP} most frequent paths per role are listed among "
        "those that may be shown (paths taken by few people are never listed)."
    )
    top = (
        paths.assign(_o=paths["role"].map(order))
        .sort_values(["_o", "n", "path"], ascending=[True, False, True], kind="stable")
        .groupby("role", sort=False)
        .head(TOP)
    )
    if len(top):
        table = top[["role", "path", "n", "pct", "n_persons"]].reset_index(drop=True)
        add_table(
            sec,
            ctx,
            table,
            caption=f"Most frequent session paths per role (top {TOP})",
            labels={
                "role": "Role",
                "path": "Path",
                "n": "Sessions",
                "pct": "% of the role's sessions",
                "n_persons": "People",
            },
            number_formats={"pct": PCT_FMT},
        )
    _hidden_note(sec, ctx, len(gone), "role(s) are")
    if not ctx.planned.get(_key("journeys")):
        return  # no NPS answers: said once with the closed loop
    removal = ctx.shown(_key("removal"))
    removal = removal.loc[~removal["suppressed"].astype(bool) & ~removal["role"].isin(gone)]
    n_hidden = int(ctx.shown(_key("removal"))["suppressed"].astype(bool).sum())
    sec.add_text(
        "Removal effect: how much less likely sessions are to be followed by a detractor "
        f"answer within {OUTCOME_WINDOW.replace('D', ' days')} if the touchpoint were "
        "removed from every path (a Markov chain of the sessions). Common touchpoints lie "
        "on most paths and get large effects too: read the effect with the share of "
        "sessions through the touchpoint that are followed by a detractor."
    )
    best = (
        removal.assign(_o=removal["role"].map(order))
        .sort_values(["_o", "estimate", "touchpoint"], ascending=[True, False, True], kind="stable")
        .groupby("role", sort=False)
        .head(TOP)
        .reset_index(drop=True)
    )
    if len(best):
        table = best[["role", "touchpoint", "n", "estimate", "pct_converted"]]
        add_table(
            sec,
            ctx,
            table,
            caption=f"Touchpoints with the largest removal effects per role (top {TOP})",
            labels={
                "role": "Role",
                "touchpoint": "Touchpoint",
                "n": "People visiting",
                "estimate": "Removal effect %",
                "pct_converted": "Sessions followed by a detractor %",
            },
            number_formats={"estimate": PCT_FMT, "pct_converted": PCT_FMT},
        )
        # A touchpoint no session led through to an outcome has no effect (not estimable):
        # its row is in the table, not in the chart; with no effect at all, no chart.
        if best["estimate"].notna().any():
            fig, ax = new_figure(FIG_WIDTH, 0.9 + 0.3 * len(best))
            labels = [f"{r} · {t}" for r, t in zip(best["role"], best["touchpoint"], strict=True)]
            y = np.arange(len(best))[::-1]
            colors = [ROLE_COLORS.get(str(r), PALETTE[0]) for r in best["role"]]
            ax.barh(y, best["estimate"].to_numpy(dtype=float), color=colors)
            ax.set_yticks(y)
            ax.set_yticklabels(labels)
            ax.set_xlabel("removal effect (% fewer sessions followed by a detractor)")
            lead = row_at(best, "estimate", largest=True)
            sec.add_figure(
                fig,
                alt=(
                    "Bar chart of the largest removal effects per role: the largest is "
                    f"{lead['touchpoint']} for {lead['role']}s ({float(lead['estimate']):.1f}%)."
                ),
                data=table,
                labels={
                    "role": "Role",
                    "touchpoint": "Touchpoint",
                    "n": "People visiting",
                    "estimate": "Removal effect %",
                    "pct_converted": "Followed by a detractor %",
                },
                number_formats={"estimate": PCT_FMT, "pct_converted": PCT_FMT},
            )
    _hidden_note(sec, ctx, n_hidden, "touchpoint row(s) are")


def _show_gap(sec: Section, ctx: Context) -> None:
    gaps: pd.DataFrame = ctx.planned[_key("gap")]
    shown_self = ctx.shown(_key("gap_self")) if _registered(ctx, _key("gap_self")) else None
    shown_served = ctx.shown(_key("gap_served")) if _registered(ctx, _key("gap_served")) else None
    visible: set[str] = set()
    if shown_self is not None and shown_served is not None:
        a = set(shown_self.loc[~shown_self["suppressed"].astype(bool), "team"].astype("str"))
        b = set(shown_served.loc[~shown_served["suppressed"].astype(bool), "team"].astype("str"))
        visible = a & b
    frame = gaps.sort_values(["team", "subscale"], kind="stable").reset_index(drop=True)
    hidden = ~frame["team"].isin(visible).to_numpy()
    est = frame["estimate"].to_numpy(dtype=float)
    se = frame["se"].to_numpy(dtype=float)
    df = frame["df"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.t.sf(np.abs(est / se), df)
    p = np.where(hidden | ~np.isfinite(p), np.nan, p)
    # Holm over the gaps shown only.
    adjusted = holm(p) if np.isfinite(p).any() else p
    numbers = ["n_self", "n_served", "self_mean", "served_mean", "estimate", "ci_low", "ci_high"]
    table = frame[["team", "subscale", *numbers]].copy()
    table = table.astype({c: "float" for c in numbers})
    table.loc[hidden, numbers] = np.nan
    table["subscale"] = table["subscale"].str.replace("_", " ")
    table["p_holm"] = adjusted
    table["differs"] = np.where(
        np.isnan(adjusted), "", np.where(adjusted < 1 - ctx.confidence, "yes", "no")
    )
    refused = frame["refused_reason"].fillna("").astype("str").to_numpy()
    table["note"] = np.where(hidden | (refused == ""), "", "refused (see the note)")
    table["suppressed"] = hidden
    source = ctx.planned.get(_key("gap_source"))
    sec.add_heading("Zero-distance gap")
    sec.add_text(
        "Each team's workers rate their own team's practices (the zero_distance items, 1-5); "
        "the customers and partners served at the team's touchpoints rate the same practices. "
        "The gap is the workers' mean minus the served people's mean, with Welch's interval. "
        f"Items and scoring come from {source}. Gaps are only given where the items measure "
        "the practice alike for every role (scalar invariance)."
    )
    if not table["note"].astype(bool).any():
        table = table.drop(columns="note")
    add_table(
        sec,
        ctx,
        table,
        caption="Zero-distance gap per team and practice: self-assessment minus served experience",
        labels={
            "team": "Team",
            "subscale": "Practice",
            "n_self": "Workers",
            "n_served": "People served",
            "self_mean": "Self mean",
            "served_mean": "Served mean",
            "estimate": "Gap",
            "ci_low": "CI from",
            "ci_high": "to",
            "p_holm": "Adjusted p",
            "differs": "Differs",
            "note": "Note",
            "suppressed": "",
        },
        number_formats={
            "n_self": "{:.0f}",
            "n_served": "{:.0f}",
            "self_mean": "{:.2f}",
            "served_mean": "{:.2f}",
            "estimate": signed(2),
            "ci_low": signed(2),
            "ci_high": signed(2),
            "p_holm": p_value,
        },
    )
    drawn = frame.loc[~hidden & np.isfinite(est)]
    if len(drawn):
        teams = sorted(set(drawn["team"]))
        practices = list(dict.fromkeys(frame["subscale"]))
        fig, ax = new_figure(FIG_WIDTH, 1.2 + 0.45 * len(practices))
        k = len(teams)
        for j, name in enumerate(teams):
            part = drawn.loc[drawn["team"] == name].set_index("subscale").reindex(practices)
            # The first team at the top of each band, as in the legend.
            y = np.arange(len(practices))[::-1] - (j - (k - 1) / 2) * 0.8 / k
            e = part["estimate"].to_numpy(dtype=float)
            lo = part["ci_low"].to_numpy(dtype=float)
            hi = part["ci_high"].to_numpy(dtype=float)
            ok = np.isfinite(e)
            ax.errorbar(
                e[ok],
                y[ok],
                xerr=np.vstack([e[ok] - lo[ok], hi[ok] - e[ok]]),
                fmt="o",
                ms=4,
                capsize=2,
                color=PALETTE[j % len(PALETTE)],
                label=name,
            )
        ax.set_yticks(np.arange(len(practices))[::-1])
        ax.set_yticklabels([s.replace("_", " ") for s in practices])
        ax.axvline(0.0, color="0.6", lw=1)
        ax.set_xlabel("gap: self-assessment minus the served's experience (1-5 scale)")
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(k, 5), fontsize=7,
            frameon=False,
        )  # fmt: skip
        top = row_at(drawn, "estimate", largest=True)
        data = drawn[["team", "subscale", "estimate", "ci_low", "ci_high"]].reset_index(drop=True)
        sec.add_figure(
            fig,
            alt=(
                "Dot plot of the zero-distance gap per practice, one colour per team, with "
                f"intervals: the largest gap is {top['team']}'s "
                f"{str(top['subscale']).replace('_', ' ')} ({float(top['estimate']):+.2f})."
            ),
            data=data,
            labels={
                "team": "Team",
                "subscale": "Practice",
                "estimate": "Gap",
                "ci_low": "From",
                "ci_high": "To",
            },
            number_formats={"estimate": signed(2), "ci_low": signed(2), "ci_high": signed(2)},
        )
    _hidden_note(sec, ctx, len(set(frame.loc[hidden, "team"])), "team(s) are")
    _refusals(sec, frame.loc[~hidden])
    _said(sec, ctx.planned.get(_key("gap_said"), []), set(frame.loc[hidden, "team"]))
