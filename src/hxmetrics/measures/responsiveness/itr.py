"""The issue-to-resolution chain: how tickets move through their stages, and where they wait.

Input is the optional exhaust table ``ticket_events`` (:data:`hxmetrics.tables.OPTIONAL_TABLES`):
one row per status change of a ticket, ``ticket_id``, ``status``, ``timestamp`` and,
optionally, ``team`` (who holds the ticket from that step on). :func:`itr_stages` reads
it against an ordered list of stages (``opened``, ``triaged``, ..., ``closed``) and the
statuses that stop the clock (``waiting_on_customer``), and returns an
:class:`ITRStages`: five grouped results, one row per group and stage.

How a history is read
---------------------
* Events are ordered by time; events of one ticket at the same instant by their place in
  ``stages``, then in ``pause``, then by status name, so that the result never depends
  on the order of the rows.
* A ticket enters the chain at its first event of the first stage (``stages[0]``); with
  ``tickets=`` given, a ticket without such an event enters at ``tickets.opened`` (and a
  ticket of ``tickets`` without any event is in the first stage since it opened).
* A stage status moves the ticket to that stage (a *visit* starts when the stage
  changes; the same stage again is no move). A move to an earlier stage is *rework*
  (a loop back: a reopened ticket, a resolution sent back). A ``pause`` status stops
  the clock until the next event that is not a pause status; the stage does not
  change. Any other status (``assigned``, ``comment``) changes nothing but ends a
  pause: they are counted in ``attrs["hxmetrics"]["other_statuses"]``, and one that
  looks like a stage or pause name (``"reopened"`` beside ``"opened"``, a typo) gives
  an :class:`~hxmetrics.errors.HxWarning`: map it first
  (``events["status"].replace({"reopened": "opened"})``).
* Clock time is wall time without the paused stretches or, with ``calendar=``, business
  time (working hours, holidays) through the calendar of
  :mod:`hxmetrics.measures.responsiveness`. The last stage is where tickets end: no
  time is counted in it; a ticket not in it at ``as_of`` is *open*.
* Right-censoring, never dropping: a ticket still in a stage at ``as_of`` has spent *at
  least* that long there; the time in a stage is estimated by Kaplan-Meier (the one
  estimator of :class:`hxmetrics.measures.tenure.KaplanMeier`), so the slowest tickets,
  the ones still open, count (:func:`hxmetrics.measures.tenure.km_quantiles`).
  Events after ``as_of`` are left out and counted.

Why a result object of five frames: each question has its own unit and denominator
(tickets for reach and rework, tickets that entered a stage for its time, open
tickets for stalls, clock time for the teams), so each is a grouped result of its own,
with one ``estimate`` and its interval, suppressed on its own counts;
:meth:`ITRStages.summary` puts the headline numbers side by side.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import (
    HxWarning,
    InputTableError,
    ParameterError,
    PrivacyError,
    check_choice,
    did_you_mean,
)
from hxmetrics.measures._inference import check_confidence, wilson_interval, z_critical
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.responsiveness.tickets import (
    UNIT_SECONDS,
    _check_quantiles,
    _quantile_name,
    _quantile_numbers,
)
from hxmetrics.privacy import check_group_columns, looks_personal
from hxmetrics.tables import as_pandas, validate

__all__ = ["ITRStages", "itr_stages"]

#: The ``stage`` of the row of :attr:`ITRStages.rework` that counts loops from any stage.
ANY_STAGE = "(any)"
#: ``held_by`` of time whose holder no event (and no ``tickets.team``) names.
NOT_RECORDED = "(not recorded)"

_NS_PER_SECOND = 1_000_000_000
_EXAMPLES = 5


# -- the clock ---------------------------------------------------------------------------


def _clock_seconds(start: np.ndarray, end: np.ndarray, calendar: Any, *, utc: bool) -> np.ndarray:
    """Clock seconds between ``start`` and ``end`` (naive ``datetime64[ns]``).

    Wall time without a calendar; with one, the business time of the calendar's clock
    (:func:`hxmetrics.measures.responsiveness._calendar.clock_seconds`), to which the
    times are given as UTC instants when ``utc`` (the table had offsets: the contract
    stored them as naive UTC), else as wall-clock times in the calendar's zone. Paused
    stretches never reach this function: they count zero (see :func:`_walk`).
    """
    if calendar is None:
        return (end - start).astype("timedelta64[ns]").astype(np.int64) / _NS_PER_SECOND
    from hxmetrics.measures.responsiveness._calendar import clock_seconds

    begin, stop = pd.DatetimeIndex(start), pd.DatetimeIndex(end)
    if utc:
        begin, stop = begin.tz_localize("UTC"), stop.tz_localize("UTC")
    return np.asarray(clock_seconds(begin, stop, calendar=calendar), dtype=float)


def _has_offsets(raw: pd.Series) -> bool:
    """Whether the input's timestamps carry a time zone or UTC offsets.

    :func:`hxmetrics.tables.validate` stores such values as naive UTC and refuses a
    column that mixes them with naive ones, so the first value tells.
    """
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return True
    present = raw.dropna()
    if present.empty or pd.api.types.is_datetime64_dtype(raw.dtype):
        return False
    value = present.iloc[0]
    if isinstance(value, str):
        return bool(re.search(r"[T ]\d{2}:[^Z+-]*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$", value))
    return getattr(value, "tzinfo", None) is not None


# -- the result --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=False)
class ITRStages(DisplayMixin):
    """The issue-to-resolution chain of a set of tickets: five grouped results.

    Every frame is a grouped result (:func:`~hxmetrics.measures._result.grouped_result`:
    ``measure``, the ``by`` columns, ``stage``, ``n``, ``estimate``, ``se``, ``ci_low``,
    ``ci_high``, measure-specific columns, ``suppressed``), one row
    per group and stage, stages in chain order, suppressed with ``min_n``. Shares are
    percent (0-100); times are clock time in ``unit``.

    Attributes
    ----------
    reach : pandas.DataFrame
        ``itr_reach``: percent of the group's tickets that reached each stage by
        ``as_of`` (Wilson interval); ``n`` tickets, ``n_reached``, ``n_pending`` (open
        tickets that have not reached the stage yet: the final share lies between
        ``n_reached / n`` and ``(n_reached + n_pending) / n``), and what was left out,
        counted once per group on its first stage's row (0 on the others):
        ``n_excluded_tickets_opened_after_as_of``,
        ``n_excluded_tickets_without_first_stage`` (no event of the first stage and
        no ``tickets`` row to give the opening time), ``n_excluded_events_after_as_of``.
        Every frame's ``attrs["hxmetrics"]["excluded"]`` has the totals over the
        groups shown.
    time : pandas.DataFrame
        ``itr_time_in_stage``: Kaplan-Meier quantiles of the clock time of a ticket's
        first visit to each stage but the last (``estimate`` the first of
        ``quantiles``, the median by default; ``q90``, ``q90_ci_low``, ``q90_ci_high``
        for the others), with Brookmeyer-Crowley intervals (log transform, R's
        default; NaN where the curve or its interval never falls that far; ``se``
        NaN); ``n`` tickets that entered the stage, ``n_left`` (moved on, or back,
        by ``as_of``: events), ``n_still_in`` (censored), ``median_completed_only``
        (the naive median of the visits that ended: biased low, shown for
        comparison).
    rework : pandas.DataFrame
        ``itr_rework``: per stage, percent of the tickets that entered it which were
        sent back from it to an earlier stage at least once (Wilson interval), and
        ``n_loops`` (moves back from it); the first row of each group, stage
        ``"(any)"``, is the percent of tickets with any loop back.
    stalls : pandas.DataFrame
        ``itr_stalls``: tickets open at ``as_of``, by the stage they are in (the stage
        after which they stall): ``n`` open tickets of the group, ``n_stalled``,
        ``estimate`` percent of the open tickets in that stage (Wilson), ``n_paused``
        (clock stopped at ``as_of``), ``median_age`` (clock time in the stage so far).
    teams : pandas.DataFrame or None
        ``itr_team_time``: where the clock time of each stage goes, one row per group,
        stage and ``held_by`` (the team holding the ticket): ``estimate`` percent of
        the stage's clock time held by the team, a ratio estimate over tickets with
        its linearised standard error (Cochran 1977, 6.3); ``n`` tickets the team
        held in the stage, ``n_in_stage``, ``time_held`` (total, in ``unit``),
        ``mean_time_held`` (per ticket held). None when neither ``ticket_events.team``
        nor ``tickets`` names a team.
    """

    reach: pd.DataFrame
    time: pd.DataFrame
    rework: pd.DataFrame
    stalls: pd.DataFrame
    teams: pd.DataFrame | None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The result frames by name (``reach``, ``time``, ``rework``, ``stalls``, ``teams``)."""
        out = {"reach": self.reach, "time": self.time, "rework": self.rework}
        out["stalls"] = self.stalls
        if self.teams is not None:
            out["teams"] = self.teams
        return out

    def summary(self) -> pd.DataFrame:
        """One row per group and stage: the headline number of each frame, side by side.

        Columns: the ``by`` columns, ``stage``, ``n`` (tickets), ``pct_reached``,
        ``median_time`` with ``median_ci_low``/``median_ci_high``, ``n_still_in``,
        ``pct_sent_back``, ``n_stalled`` and ``median_age``. Values as in the frames,
        so suppressed numbers stay hidden (NaN/<NA>).
        """
        by = list(self.reach.attrs["hxmetrics"]["by"])
        keys = [*by]
        reach = self.reach[[*keys, "n", "estimate"]].rename(columns={"estimate": "pct_reached"})
        time = self.time[[*keys, "estimate", "ci_low", "ci_high", "n_still_in"]].rename(
            columns={
                "estimate": "median_time",
                "ci_low": "median_ci_low",
                "ci_high": "median_ci_high",
            }
        )
        rework = self.rework.loc[self.rework["stage"] != ANY_STAGE, [*keys, "estimate"]]
        rework = rework.rename(columns={"estimate": "pct_sent_back"})
        stalls = self.stalls[[*keys, "n_stalled", "median_age"]]
        out = reach
        for part in (time, rework, stalls):
            out = out.merge(part, on=keys, how="left", sort=False)
        return out

    def _display_title(self) -> str:
        meta = self.reach.attrs.get("hxmetrics", {})
        stages = " -> ".join(meta.get("stages", ()))
        return f"ITRStages: {stages} (as of {meta.get('as_of')}, times in {meta.get('unit')})"


# -- checks ------------------------------------------------------------------------------


def _names(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or ())
    if not all(isinstance(v, str) and v for v in items):
        raise ParameterError(f"itr_stages: {what} must be status names (text); got {value!r}.")
    repeated = sorted({v for v in items if items.count(v) > 1})
    if repeated:
        raise ParameterError(f"itr_stages: {what} names {repeated} more than once.")
    return tuple(items)


def _check_stage_names(
    stages: tuple[str, ...], pause: tuple[str, ...], present: Sequence[str], *, has_tickets: bool
) -> None:
    both = sorted(set(stages) & set(pause))
    if both:
        raise ParameterError(
            f"itr_stages: {both} is both a stage and a pause status; a pause keeps the "
            "ticket in its stage: name it in one list only."
        )
    known = set(present)
    shown = sorted(known)[:20]
    more = f" and {len(known) - 20} more" if len(known) > 20 else ""
    for what, names in (("stages", stages), ("pause", pause)):
        for name in names:
            if name in known or (what == "stages" and name == stages[0] and has_tickets):
                continue
            raise ParameterError(
                f"itr_stages: {what} names {name!r}, which is not a status in table "
                f"'ticket_events' (column 'status'); statuses present: {shown}{more}."
                + did_you_mean(name, known)
            )


def _out_of_order(
    events: pd.DataFrame, rows: np.ndarray, first_time: np.ndarray, stage0: str
) -> InputTableError:
    """The error for events before their ticket entered the first stage (positions only)."""
    check = f"status_before_{stage0}"
    cases = pd.DataFrame(
        {
            "column": "status",
            "check": check,
            "failure_case": [
                f"{s!r} at {pd.Timestamp(t)} before {stage0!r} at {pd.Timestamp(f)}"
                for s, t, f in zip(
                    events["status"].to_numpy()[rows],
                    events["timestamp"].to_numpy()[rows],
                    first_time,
                    strict=True,
                )
            ],
            "index": rows,
        }
    )
    examples = "; ".join(
        f"row {i}: {text}"
        for i, text in zip(
            cases["index"][:_EXAMPLES], cases["failure_case"][:_EXAMPLES], strict=True
        )
    )
    return InputTableError(
        f"table 'ticket_events' failed 1 check(s) on {len(rows)} row(s) (rows are positions):\n"
        f"  column 'status', check {check}: {len(rows)} row(s), e.g. {examples} "
        f"(statuses out of order: a ticket's history starts with {stage0!r}, the first "
        "of stages=; fix the timestamps or the stage order)",
        table="ticket_events",
        failure_cases=cases,
    )


def _warn_lookalikes(others: list[str], named: list[str]) -> None:
    """Warn about statuses outside stages and pause that look like one of them.

    They are read as neutral events, so a ``"reopened"`` beside a stage ``"opened"``
    would not move the ticket back, and a typo (``"resovled"``) would not resolve it.
    """
    found = {}
    for status in others:
        close = difflib.get_close_matches(status.lower(), [n.lower() for n in named], 1, 0.8)
        if close:
            found[status] = next(n for n in named if n.lower() == close[0])
    if found:
        pairs = ", ".join(f"{s!r} (like {n!r})" for s, n in found.items())
        warnings.warn(
            f"itr_stages: statuses {pairs} in table 'ticket_events' are neither stages nor "
            "pause statuses, so they are read as neutral events (the stage does not "
            "change). If they mean a stage, map them first, e.g. "
            "events['status'].replace({'reopened': 'opened'}).",
            HxWarning,
            stacklevel=3,
        )


def _cutoff(as_of: Any, latest: pd.Timestamp, *, aware: bool) -> pd.Timestamp:
    if as_of is None:
        return latest
    try:
        cutoff = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"itr_stages: as_of must be a date; got {type(as_of).__name__} {as_of!r}."
        ) from exc
    if pd.isna(cutoff):
        raise ParameterError("itr_stages: as_of is missing (NaT); give a date or None.")
    if cutoff.tzinfo is not None:
        if not aware:
            raise ParameterError(
                f"itr_stages: as_of ({cutoff}) has a time zone but the timestamps of "
                "ticket_events have none: pass a naive time, e.g. "
                f"as_of='{cutoff.tz_localize(None)}'."
            )
        # Timestamps with offsets are stored as naive UTC by the contract.
        cutoff = cutoff.tz_convert("UTC").tz_localize(None)
    return cutoff.as_unit("ns")


# -- the walk through each history -------------------------------------------------------


@dataclass
class _Walk:
    """Per-ticket and per-visit arrays of the chain (tickets are 0..n_tickets-1)."""

    n_tickets: int
    visit_ticket: np.ndarray
    visit_stage: np.ndarray
    visit_clock: np.ndarray  # seconds
    visit_ended: np.ndarray
    visit_back: np.ndarray  # the visit ended with a move to an earlier stage
    last_paused: np.ndarray  # per ticket: clock stopped at as_of
    held: pd.DataFrame | None  # ticket, stage, held_by, seconds


def _walk(
    ticket: np.ndarray,
    time: np.ndarray,
    stage: np.ndarray,
    paused: np.ndarray,
    team: np.ndarray | None,
    *,
    n_tickets: int,
    n_stages: int,
    cutoff: np.datetime64,
    calendar: Any,
    utc: bool,
) -> _Walk:
    """Visits and held time of sorted events (every ticket's first event is its start)."""
    n = len(ticket)
    idx = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = ticket[1:] != ticket[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    # Stage after each event: the last stage event so far (every ticket starts with one).
    current = stage[np.maximum.accumulate(np.where(stage >= 0, idx, 0))]
    end = np.empty(n, dtype="datetime64[ns]")
    end[:-1] = time[1:]
    end[last] = cutoff
    counted = ~paused & (current < n_stages - 1) & (end > time)
    seconds = np.zeros(n)
    if counted.any():
        seconds[counted] = _clock_seconds(time[counted], end[counted], calendar, utc=utc)
    new_visit = first.copy()
    new_visit[1:] |= current[1:] != current[:-1]
    visit = np.cumsum(new_visit) - 1
    starts = np.flatnonzero(new_visit)
    visit_ticket = ticket[starts]
    visit_stage = current[starts]
    visit_clock = np.bincount(visit, weights=seconds, minlength=len(starts))
    ticket_last_visit = np.ones(len(starts), dtype=bool)
    ticket_last_visit[:-1] = visit_ticket[1:] != visit_ticket[:-1]
    visit_back = np.zeros(len(starts), dtype=bool)
    visit_back[:-1] = ~ticket_last_visit[:-1] & (visit_stage[1:] < visit_stage[:-1])
    held = None
    if team is not None:
        held = (
            pd.DataFrame(
                {"ticket": ticket[counted], "stage": current[counted], "held_by": team[counted]}
            )
            .assign(seconds=seconds[counted])
            .groupby(["ticket", "stage", "held_by"], sort=True, observed=True)["seconds"]
            .sum()
            .reset_index()
        )
    return _Walk(
        n_tickets=n_tickets,
        visit_ticket=visit_ticket,
        visit_stage=visit_stage,
        visit_clock=visit_clock,
        visit_ended=~ticket_last_visit,
        visit_back=visit_back,
        last_paused=np.asarray(paused[last], dtype=bool),
        held=held,
    )


# -- the measure -------------------------------------------------------------------------


def itr_stages(
    ticket_events: Any,
    *,
    stages: Sequence[str],
    pause: Sequence[str] = (),
    by: str | Sequence[str] | None = None,
    tickets: Any = None,
    as_of: Any = None,
    calendar: Any = None,
    unit: str = "h",
    quantiles: Sequence[float] = (0.5, 0.9),
    confidence: float = 0.95,
    min_n: int | None = None,
) -> ITRStages:
    """The issue-to-resolution chain: reach, time, rework and stalls per stage.

    Parameters
    ----------
    ticket_events : pandas.DataFrame or any frame narwhals reads
        The status history (table ``ticket_events``: ``ticket_id``, ``status``,
        ``timestamp``, optional ``team``), checked with
        :func:`hxmetrics.tables.validate` (and against ``tickets`` when given).
        Computed in pandas/numpy: other engines are collected first
        (:func:`hxmetrics.tables.as_pandas`).
    stages : sequence of str
        The stages in order, first to last (e.g. ``["opened", "triaged",
        "in_progress", "resolved", "closed"]``); at least two. Every name must be a
        status of ``ticket_events`` (the first may be missing when ``tickets`` gives
        the opening times). The last stage is where tickets end.
    pause : sequence of str, optional
        Statuses that stop the clock (e.g. ``["waiting_on_customer"]``) until the next
        event that is not a pause status.
    by : str or sequence of str, optional
        Ticket-level columns to group by: columns of ``tickets`` when given
        (``team``, ``severity``, ``silo``, ``touchpoint``), else columns of
        ``ticket_events`` with one value per ticket. Identifier columns are refused.
    tickets : pandas.DataFrame or any frame narwhals reads, optional
        The ``tickets`` table: the population (a ticket without events is in the first
        stage since ``opened``), opening times for histories that lack the first stage,
        the default holder (``team``) before an event names one, and ``by`` columns.
    as_of : date, optional
        The censoring date: tickets still in a stage at ``as_of`` are censored there,
        events after it are left out (and counted). Default: the latest timestamp of
        ``ticket_events`` (and of ``tickets.opened``), never today. When the
        timestamps carry UTC offsets (the contract stores them as UTC), an ``as_of``
        with a time zone is converted to UTC and a naive one is read as UTC; with
        naive timestamps, ``as_of`` must be naive too.
    calendar : BusinessCalendar, optional
        A business calendar (:class:`~hxmetrics.measures.responsiveness._calendar.BusinessCalendar`:
        working hours, time zone, holidays): clock time is then business time.
        Naive timestamps are read as wall-clock times in the calendar's zone; when
        ``ticket_events`` has UTC offsets (or a time zone) they are placed in time and
        converted. Default: wall time.
    unit : {"s", "min", "h", "D", "W"}, default "h"
        Unit of every time in the result (as in :func:`responsiveness`: with a
        calendar, ``"D"`` is 24 *working* hours; use ``"h"`` or ``"min"`` there).
    quantiles : sequence of float, default (0.5, 0.9)
        Kaplan-Meier quantiles of the time in each stage: the first is ``.time``'s
        ``estimate``, the others columns ``q90``, ``q90_ci_low``, ``q90_ci_high``.
    confidence : float, default 0.95
        Level of every interval.
    min_n : int, optional
        Smallest count shown per row; smaller rows and their complements are suppressed.

    Returns
    -------
    ITRStages
        ``.reach``, ``.time``, ``.rework``, ``.stalls`` and ``.teams`` (grouped results,
        described in :class:`ITRStages`), ``.summary()`` side by side. Every frame's
        ``attrs["hxmetrics"]`` holds ``stages``, ``pause``, ``unit``, ``as_of``,
        ``clock`` (``"wall"`` or ``"business"``), ``other_statuses`` (events of
        statuses neither a stage nor a pause, by status) and ``excluded`` (totals:
        ``tickets_opened_after_as_of``, ``tickets_without_first_stage``,
        ``events_after_as_of``).

    Raises
    ------
    InputTableError
        ``ticket_events`` (or ``tickets``) breaks the contract, is empty, or a ticket
        has a status before it entered the first stage (statuses out of order); the
        message names table, column, check and rows (positions, ids masked).
    ParameterError
        A stage or pause name that is not a status of ``ticket_events`` (with the
        nearest name), fewer than two stages, a name in both lists, a ``by`` column
        that neither table has or that varies within a ticket, a bad ``unit``,
        ``confidence`` or ``as_of``.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
    observations. *JASA* 53, 457-481. Brookmeyer, R. & Crowley, J. (1982). A confidence
    interval for the median survival time. *Biometrics* 38, 29-41. Wilson, E. B. (1927).
    Probable inference. *JASA* 22, 209-212. Cochran, W. G. (1977). *Sampling
    Techniques*, 3rd ed., ch. 6 (ratio estimators).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "ticket_id": ["k1", "k1", "k1", "k2", "k2", "k3", "k3", "k3"],
    ...     "status": ["opened", "resolved", "closed", "opened", "resolved",
    ...                "opened", "resolved", "closed"],
    ...     "timestamp": pd.to_datetime([
    ...         "2024-01-01 09:00", "2024-01-01 13:00", "2024-01-02 09:00",
    ...         "2024-01-01 10:00", "2024-01-01 12:00",
    ...         "2024-01-01 11:00", "2024-01-01 12:00", "2024-01-01 22:00"])})
    >>> chain = itr_stages(events, stages=["opened", "resolved", "closed"],
    ...                    as_of="2024-01-03")
    >>> chain.reach[["stage", "n", "n_reached", "estimate"]].round(1)
          stage  n  n_reached  estimate
    0    opened  3          3     100.0
    1  resolved  3          3     100.0
    2    closed  3          2      66.7

    k2 is still resolved at ``as_of`` (36 hours, censored): the median time in
    "resolved" is 20 hours, not the 15 of the two closed tickets.

    >>> chain.time[["stage", "estimate", "n_left", "n_still_in", "median_completed_only"]]
          stage  estimate  n_left  n_still_in  median_completed_only
    0    opened       2.0       3           0                    2.0
    1  resolved      20.0       2           1                   15.0
    """
    confidence = check_confidence(confidence)
    check_choice("unit", unit, list(UNIT_SECONDS))
    probs = _check_quantiles(quantiles)
    stage_names = _names(stages, "stages")
    pause_names = _names(pause, "pause")
    if len(stage_names) < 2:
        raise ParameterError(
            "itr_stages: stages needs at least two stages in order, first to last "
            f"(e.g. ['opened', 'resolved', 'closed']); got {list(stage_names)}."
        )
    by_cols = [by] if isinstance(by, str) else list(by or ())
    check_group_columns(by_cols)
    taken = [c for c in by_cols if c in ("stage", "held_by")]
    if taken:
        raise ParameterError(
            f"itr_stages: by names {taken}, a column the result adds itself (one row per "
            "stage, and per team holding the ticket); rename it before grouping."
        )
    raw = as_pandas(ticket_events, table="ticket_events")
    if len(raw) == 0:
        raise InputTableError(
            "table 'ticket_events' has no rows: itr_stages needs the status history of "
            "at least one ticket.",
            table="ticket_events",
            failure_cases=pd.DataFrame(
                {
                    "column": ["<table>"],
                    "check": ["not_empty"],
                    "failure_case": [0],
                    "index": [None],
                }
            ),
        )
    parents = None
    tk: pd.DataFrame | None = None
    if tickets is not None:
        tk = validate(tickets, table="tickets").reset_index(drop=True)
        parents = {"tickets": tk}
    events = validate(raw, table="ticket_events", parents=parents).reset_index(drop=True)
    present = pd.unique(events["status"]).tolist()
    _check_stage_names(stage_names, pause_names, present, has_tickets=tk is not None)
    latest = events["timestamp"].max()
    if tk is not None and len(tk):
        latest = max(latest, tk["opened"].max())
    aware = _has_offsets(raw["timestamp"])
    cutoff = _cutoff(as_of, pd.Timestamp(latest), aware=aware)

    # Tickets: 0..n-1, from tickets when given (the population), else from the events.
    if tk is not None:
        ticket_of_event = pd.Index(tk["ticket_id"]).get_indexer(events["ticket_id"])
        n_tickets = len(tk)
    else:
        codes, _ = pd.factorize(events["ticket_id"], sort=True)
        ticket_of_event = codes.astype(np.int64)
        n_tickets = int(codes.max()) + 1
    keys, group = _groups(by_cols, events, ticket_of_event, tk, n_tickets)

    # Status kinds and the order of events at one instant.
    status_code, status_names = pd.factorize(events["status"], sort=True)
    names = list(status_names)
    n_s, n_p = len(stage_names), len(pause_names)
    order = {s: i for i, s in enumerate(stage_names)}
    order.update({p: n_s + j for j, p in enumerate(pause_names)})
    rank_of = np.array([order.get(s, n_s + n_p + k) for k, s in enumerate(names)], dtype=np.int64)
    stage_of = np.array([order[s] if s in order and order[s] < n_s else -1 for s in names])
    pause_of = np.array([s in pause_names for s in names], dtype=bool)
    other = {s: 0 for s in names if s not in order}
    _warn_lookalikes(list(other), [*stage_names, *pause_names])

    t = events["timestamp"].to_numpy(dtype="datetime64[ns]")
    ev_ticket = ticket_of_event.astype(np.int64)
    ev_rank = rank_of[status_code]
    ev_stage = stage_of[status_code]
    ev_pause = pause_of[status_code]
    ev_pos = np.arange(len(events))
    ev_team = events["team"] if "team" in events.columns else None

    # Tickets of `tickets` without a first-stage event enter at `opened` (a start row).
    if tk is not None:
        has_start = np.zeros(n_tickets, dtype=bool)
        has_start[ev_ticket[ev_stage == 0]] = True
        add = np.flatnonzero(~has_start)
        ev_ticket = np.concatenate([ev_ticket, add])
        t = np.concatenate([t, tk["opened"].to_numpy(dtype="datetime64[ns]")[add]])
        ev_rank = np.concatenate([ev_rank, np.zeros(len(add), dtype=np.int64)])
        ev_stage = np.concatenate([ev_stage, np.zeros(len(add), dtype=ev_stage.dtype)])
        ev_pause = np.concatenate([ev_pause, np.zeros(len(add), dtype=bool)])
        ev_pos = np.concatenate([ev_pos, np.full(len(add), -1)])
        if ev_team is not None:
            ev_team = pd.concat(
                [ev_team.reset_index(drop=True), pd.Series([None] * len(add), dtype=object)],
                ignore_index=True,
            )

    sort = np.lexsort((ev_rank, t.astype(np.int64), ev_ticket))
    ev_ticket, t, ev_stage, ev_pause, ev_pos = (
        a[sort] for a in (ev_ticket, t, ev_stage, ev_pause, ev_pos)
    )
    n = len(sort)
    idx = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = ev_ticket[1:] != ev_ticket[:-1]
    run = np.cumsum(first) - 1
    run_start = np.flatnonzero(first)
    big = np.iinfo(np.int64).max
    first_start = np.minimum.reduceat(np.where(ev_stage == 0, idx, big), run_start)
    started = first_start < big
    early = started[run] & (idx < first_start[run])
    if early.any():
        rows = np.flatnonzero(early)
        raise _out_of_order(events, ev_pos[rows], t[first_start[run[rows]]], stage_names[0])

    # Exclusions: no first stage (without tickets); entered after as_of.
    run_ticket = ev_ticket[run_start]
    without_first = np.zeros(n_tickets, dtype=bool)
    without_first[run_ticket[~started]] = True
    start_time = np.full(n_tickets, np.datetime64("NaT"), dtype="datetime64[ns]")
    start_time[run_ticket[started]] = t[first_start[started]]
    late = ~np.isnat(start_time) & (start_time > np.datetime64(cutoff.to_datetime64()))
    in_chain = ~without_first & ~late & ~np.isnat(start_time)
    after = (t > np.datetime64(cutoff.to_datetime64())) & (ev_pos >= 0)
    events_after = np.bincount(group[ev_ticket[after & in_chain[ev_ticket]]], minlength=len(keys))
    for s, k in zip(names, np.bincount(status_code, minlength=len(names)), strict=True):
        if s in other:
            other[s] = int(k)

    keep = in_chain[ev_ticket] & ~after & (idx >= first_start[run])
    team_values, team_labels = _holders(ev_team, tk, sort, ev_ticket, first, keep)
    walk = _walk(
        ev_ticket[keep],
        t[keep],
        ev_stage[keep],
        ev_pause[keep],
        team_values,
        n_tickets=n_tickets,
        n_stages=n_s,
        cutoff=np.datetime64(cutoff.to_datetime64()),
        calendar=calendar,
        utc=aware,
    )
    excluded = {
        "tickets_opened_after_as_of": np.bincount(group[late], minlength=len(keys)),
        "tickets_without_first_stage": np.bincount(group[without_first], minlength=len(keys)),
        "events_after_as_of": events_after,
    }
    meta = {
        "stages": list(stage_names),
        "pause": list(pause_names),
        "unit": unit,
        "as_of": str(cutoff),
        "clock": "wall" if calendar is None else "business",
        "other_statuses": other,
    }
    scale = UNIT_SECONDS[unit]
    build = _Builder(
        keys=keys,
        group=group,
        in_chain=in_chain,
        stages=stage_names,
        walk=walk,
        scale=scale,
        confidence=confidence,
        min_n=min_n,
        meta=meta,
        quantiles=probs,
        team_labels=team_labels,
    )
    reach = build.reach(excluded)
    totals = dict(reach.attrs["hxmetrics"]["excluded"])
    time_frame = build.time(totals)
    rework = build.rework(totals)
    stalls = build.stalls(totals)
    teams = build.teams(totals)
    return ITRStages(reach=reach, time=time_frame, rework=rework, stalls=stalls, teams=teams)


def _holders(
    ev_team: pd.Series | None,
    tickets: pd.DataFrame | None,
    sort: np.ndarray,
    ticket: np.ndarray,
    first: np.ndarray,
    keep: np.ndarray,
) -> tuple[np.ndarray | None, list[str] | None]:
    """Who holds each (sorted, kept) event's ticket, as codes into the returned labels.

    The last team an event of the ticket named, else ``tickets.team``, else
    :data:`NOT_RECORDED`. None when no table names a team.
    """
    default = None if tickets is None or "team" not in tickets.columns else tickets["team"]
    if ev_team is None and default is None:
        return None, None
    named = [v.dropna().astype(str) for v in (ev_team, default) if v is not None]
    labels = sorted(set(pd.concat(named).unique())) if named else []
    if labels and looks_personal(pd.Series(labels, dtype=object)).any():
        raise PrivacyError(
            "itr_stages: a team (column 'team' of ticket_events or tickets) looks like an "
            "email address or a phone number; the time per team would show a person. "
            "Give teams, not people (or drop the column)."
        )
    index = pd.Index(labels, dtype=object)
    n = len(sort)
    if ev_team is not None:
        codes = index.get_indexer(ev_team.astype(object).where(ev_team.notna(), None))[sort]
    else:
        codes = np.full(n, -1, dtype=np.int64)
    idx = np.arange(n)
    source = np.maximum.accumulate(np.where(codes >= 0, idx, -1))
    start = np.maximum.accumulate(np.where(first, idx, 0))
    known = source >= start
    filled = np.full(n, -1, dtype=np.int64)
    filled[known] = codes[source[known]]
    if default is not None:
        fallback = index.get_indexer(default.astype(object).where(default.notna(), None))
        filled = np.where(filled >= 0, filled, fallback[ticket])
    filled = np.where(filled >= 0, filled, len(labels))
    return filled[keep], [*labels, NOT_RECORDED]


def _groups(
    by: list[str],
    events: pd.DataFrame,
    ticket_of_event: np.ndarray,
    tickets: pd.DataFrame | None,
    n_tickets: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Group keys (one row per group, sorted) and each ticket's group."""
    if not by:
        return pd.DataFrame(index=range(1)), np.zeros(n_tickets, dtype=np.int64)
    if tickets is not None:
        missing = [c for c in by if c not in tickets.columns]
        if missing:
            raise ParameterError(
                f"itr_stages: by names {missing}, not columns of table 'tickets'; it has "
                f"{[str(c) for c in tickets.columns]}." + did_you_mean(missing[0], tickets.columns)
            )
        frame = tickets[by].reset_index(drop=True)
    else:
        missing = [c for c in by if c not in events.columns]
        if missing:
            raise ParameterError(
                f"itr_stages: by names {missing}, not columns of table 'ticket_events' (give "
                "tickets= to group by the tickets' columns)."
                + did_you_mean(missing[0], events.columns)
            )
        per = events[by].assign(_ticket=ticket_of_event)
        varies = [c for c in by if (per.groupby("_ticket")[c].nunique(dropna=False) > 1).any()]
        if varies:
            raise ParameterError(
                f"itr_stages: by column {varies[0]!r} of table 'ticket_events' changes within "
                "a ticket; group by a ticket-level column (give tickets= to use its columns)."
            )
        frame = per.groupby("_ticket", sort=True).first().reset_index(drop=True)[by]
    index = pd.MultiIndex.from_frame(frame) if len(by) > 1 else pd.Index(frame[by[0]])
    codes, uniques = pd.factorize(index, sort=True)
    if (codes < 0).any():
        raise ParameterError(
            f"itr_stages: a by column ({', '.join(by)}) is missing for some tickets; fill "
            "it (e.g. with 'unknown') so that every ticket is counted in a group."
        )
    if isinstance(uniques, pd.MultiIndex):
        keys = uniques.to_frame(index=False)
    else:
        keys = pd.DataFrame({by[0]: np.asarray(uniques)})
    for c in by:
        keys[c] = keys[c].astype(frame[c].dtype)
    return keys, codes.astype(np.int64)


@dataclass
class _Builder:
    """The five frames from the walk (one row per group and stage, stages in order)."""

    keys: pd.DataFrame
    group: np.ndarray
    in_chain: np.ndarray
    stages: tuple[str, ...]
    walk: _Walk
    scale: float
    confidence: float
    min_n: int | None
    meta: dict[str, Any]
    quantiles: list[float]
    team_labels: list[str] | None

    def _rows(self, stages: Sequence[str]) -> pd.DataFrame:
        """Group keys crossed with ``stages`` (group-major)."""
        g = len(self.keys)
        rows = self.keys.loc[np.repeat(np.arange(g), len(stages))].reset_index(drop=True)
        rows["stage"] = pd.Categorical(
            np.tile(np.asarray(stages, dtype=object), g), categories=list(stages), ordered=True
        )
        return rows

    def _share(
        self,
        rows: pd.DataFrame,
        measure: str,
        n: np.ndarray,
        k: np.ndarray,
        extra: dict[str, Any],
        excluded: dict[str, Any] | None,
        totals: dict[str, int],
    ) -> pd.DataFrame:
        z = z_critical(self.confidence)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(n > 0, k / np.maximum(n, 1), np.nan)
            se = np.sqrt(p * (1 - p) / n)
        low, high = wilson_interval(p, n, z)
        out = grouped_result(
            rows,
            measure=measure,
            n=n.astype(np.int64),
            estimate=100 * p,
            se=100 * se,
            ci_low=100 * low,
            ci_high=100 * high,
            confidence=self.confidence,
            method="wilson",
            min_n=self.min_n,
            extra=extra,
            excluded=excluded,
            meta={**self.meta, "bounds": (0.0, 100.0)},
        )
        if excluded is None:
            out.attrs["hxmetrics"]["excluded"] = dict(totals)
        return out

    def _per(self, ticket_values: np.ndarray) -> np.ndarray:
        """Sum of a per-ticket 2-D array (tickets x stages) per group, as rows."""
        g = len(self.keys)
        columns = [
            np.bincount(self.group, weights=column, minlength=g) for column in ticket_values.T
        ]
        return np.column_stack(columns).reshape(-1)

    def reach(self, excluded: dict[str, np.ndarray]) -> pd.DataFrame:
        w, s = self.walk, len(self.stages)
        reached = np.zeros((w.n_tickets, s))
        reached[w.visit_ticket, w.visit_stage] = 1.0
        chain = self.in_chain.astype(float)[:, None]
        current = self._current_stage()
        is_open = self.in_chain & (current < s - 1)
        pending = (reached == 0) & is_open[:, None]
        n = self._per(np.repeat(chain, s, axis=1))
        k = self._per(reached)
        rows = self._rows(self.stages)
        # Tickets that never entered the chain (and events after as_of) are counted once
        # per group, on the row where the chain starts: the first stage's.
        per_group = {}
        for reason, counts in excluded.items():
            column = np.zeros((len(self.keys), s), dtype=np.int64)
            column[:, 0] = counts
            per_group[reason] = column.reshape(-1)
        return self._share(
            rows,
            "itr_reach",
            n,
            k,
            {"n_reached": k.astype(np.int64), "n_pending": self._per(pending).astype(np.int64)},
            per_group,
            {},
        )

    def _current_stage(self) -> np.ndarray:
        w = self.walk
        current = np.full(w.n_tickets, -1, dtype=np.int64)
        current[w.visit_ticket] = w.visit_stage  # the last visit of each ticket wins
        return current

    def time(self, totals: dict[str, int]) -> pd.DataFrame:
        w, stages = self.walk, self.stages[:-1]
        s = len(stages)
        size = len(self.keys) * s
        pair = w.visit_ticket * len(self.stages) + w.visit_stage
        _, first_at = np.unique(pair, return_index=True)
        first = np.zeros(len(pair), dtype=bool)
        first[first_at] = True
        first &= w.visit_stage < s
        row = (self.group[w.visit_ticket] * s + w.visit_stage)[first]
        duration = w.visit_clock[first] / self.scale
        ended = w.visit_ended[first]
        n = np.bincount(row, minlength=size)
        left = np.bincount(row, weights=ended, minlength=size).astype(np.int64)
        numbers = _quantile_numbers(
            duration,
            ended,
            row,
            size,
            probs=self.quantiles,
            confidence=self.confidence,
            transform="log",
        )
        naive = np.full(size, np.nan)
        done = pd.Series(duration[ended]).groupby(row[ended]).median()
        naive[done.index.to_numpy(dtype=np.int64)] = done.to_numpy(dtype=float)
        head = _quantile_name(self.quantiles[0])
        extra: dict[str, Any] = {
            name: values for name, values in numbers.items() if not name.startswith(head)
        }
        extra.update({"n_left": left, "n_still_in": n - left, "median_completed_only": naive})
        out = grouped_result(
            self._rows(stages),
            measure="itr_time_in_stage",
            n=n.astype(np.int64),
            estimate=numbers[head],
            se=np.full(size, np.nan),
            ci_low=numbers[head + "_ci_low"],
            ci_high=numbers[head + "_ci_high"],
            confidence=self.confidence,
            method="brookmeyer_crowley",
            min_n=self.min_n,
            extra=extra,
            meta={
                **self.meta,
                "transform": "log",
                "visit": "first",
                "quantiles": list(self.quantiles),
            },
        )
        out.attrs["hxmetrics"]["excluded"] = dict(totals)
        return out

    def rework(self, totals: dict[str, int]) -> pd.DataFrame:
        w, s = self.walk, len(self.stages)
        entered = np.zeros((w.n_tickets, s))
        entered[w.visit_ticket, w.visit_stage] = 1.0
        back = w.visit_ticket[w.visit_back] * s + w.visit_stage[w.visit_back]
        loops = np.bincount(back, minlength=w.n_tickets * s).reshape(w.n_tickets, s).astype(float)
        any_loop = loops.sum(axis=1)
        n_any = self._per(self.in_chain.astype(float)[:, None])
        k_any = self._per((any_loop > 0).astype(float)[:, None])
        loops_any = self._per(any_loop[:, None])
        n_stage = self._per(entered).reshape(len(self.keys), s)
        k_stage = self._per((loops > 0).astype(float)).reshape(len(self.keys), s)
        loops_stage = self._per(loops).reshape(len(self.keys), s)
        n = np.column_stack([n_any, n_stage]).reshape(-1)
        k = np.column_stack([k_any, k_stage]).reshape(-1)
        count = np.column_stack([loops_any, loops_stage]).reshape(-1)
        rows = self._rows((ANY_STAGE, *self.stages))
        return self._share(
            rows, "itr_rework", n, k, {"n_loops": count.astype(np.int64)}, None, totals
        )

    def stalls(self, totals: dict[str, int]) -> pd.DataFrame:
        w, stages = self.walk, self.stages[:-1]
        s = len(stages)
        current = self._current_stage()
        is_open = self.in_chain & (current >= 0) & (current < len(self.stages) - 1)
        last_visit = np.ones(len(w.visit_ticket), dtype=bool)
        last_visit[:-1] = w.visit_ticket[1:] != w.visit_ticket[:-1]
        age = np.full(w.n_tickets, np.nan)
        age[w.visit_ticket[last_visit]] = w.visit_clock[last_visit] / self.scale
        paused = np.zeros(w.n_tickets, dtype=bool)
        paused[np.unique(w.visit_ticket)] = w.last_paused
        here = np.zeros((w.n_tickets, s))
        open_rows = np.flatnonzero(is_open)
        here[open_rows, current[open_rows]] = 1.0
        n = self._per(np.repeat(is_open.astype(float)[:, None], s, axis=1))
        k = self._per(here)
        n_paused = self._per(here * paused[:, None])
        med = np.full(len(self.keys) * s, np.nan)
        frame = pd.DataFrame({"row": self.group * s + current, "age": age})[is_open]
        ages = frame.groupby("row", sort=False)["age"].median()
        med[ages.index.to_numpy(dtype=np.int64)] = ages.to_numpy(dtype=float)
        return self._share(
            self._rows(stages),
            "itr_stalls",
            n,
            k,
            {
                "n_stalled": k.astype(np.int64),
                "n_paused": n_paused.astype(np.int64),
                "median_age": med,
            },
            None,
            totals,
        )

    def teams(self, totals: dict[str, int]) -> pd.DataFrame | None:
        held = self.walk.held
        if held is None or self.team_labels is None:
            return None
        # The ratio estimator of a team's share R = sum(y) / sum(x) over the tickets in
        # the stage (y the team's clock time, x the stage's), and its linearised
        # variance sum((y - R x)^2) / (m (m - 1) mean(x)^2) (Cochran 1977, 6.3), from
        # sums: sum((y - R x)^2) = Syy - 2 R Syx + R^2 Sxx over all m tickets (y = 0
        # where the team did not hold the ticket).
        x = held.groupby(["ticket", "stage"], sort=False)["seconds"].transform("sum")
        held = held.assign(
            group=self.group[held["ticket"].to_numpy()],
            x=x,
            yy=held["seconds"] ** 2,
            yx=held["seconds"] * x,
        )
        per_ticket = held.drop_duplicates(["ticket", "stage"])[["group", "stage", "x"]]
        cell_sums = (
            per_ticket.assign(xx=per_ticket["x"] ** 2)
            .groupby(["group", "stage"], sort=True)
            .agg(m=("x", "size"), sx=("x", "sum"), sxx=("xx", "sum"))
        )
        table = (
            held.groupby(["group", "stage", "held_by"], sort=True)
            .agg(n=("seconds", "size"), sy=("seconds", "sum"), syy=("yy", "sum"), syx=("yx", "sum"))
            .join(cell_sums, on=["group", "stage"])
            .reset_index()
        )
        z = z_critical(self.confidence)
        sx, m = table["sx"].to_numpy(dtype=float), table["m"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = np.where(sx > 0, table["sy"].to_numpy(dtype=float) / sx, np.nan)
            ss = (
                table["syy"].to_numpy(dtype=float)
                - 2 * ratios * table["syx"].to_numpy(dtype=float)
                + ratios**2 * table["sxx"].to_numpy(dtype=float)
            )
            ses = np.where(m > 1, np.sqrt(np.clip(ss, 0, None) / (m * (m - 1))) / (sx / m), np.nan)
        table["time"] = table["sy"] / self.scale
        table["stage"] = np.asarray(self.stages, dtype=object)[table["stage"].to_numpy()]
        table["held_by"] = np.asarray(self.team_labels, dtype=object)[table["held_by"].to_numpy()]
        table["ratio"], table["se"] = ratios, ses
        rows = self.keys.loc[table["group"].to_numpy()].reset_index(drop=True)
        rows["stage"] = pd.Categorical(
            table["stage"].to_numpy(dtype=object), categories=list(self.stages), ordered=True
        )
        rows["held_by"] = table["held_by"].to_numpy(dtype=object)
        ratios, ses = table["ratio"].to_numpy(dtype=float), table["se"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = table["time"].to_numpy(dtype=float) / table["n"].to_numpy(dtype=float)
        out = grouped_result(
            rows,
            measure="itr_team_time",
            n=table["n"].to_numpy(dtype=np.int64),
            estimate=100 * ratios,
            se=100 * ses,
            ci_low=100 * np.clip(ratios - z * ses, 0, 1),
            ci_high=100 * np.clip(ratios + z * ses, 0, 1),
            confidence=self.confidence,
            method="ratio_linearisation",
            min_n=self.min_n,
            extra={
                "n_in_stage": table["m"].to_numpy(dtype=np.int64),
                "time_held": table["time"].to_numpy(dtype=float),
                "mean_time_held": mean,
            },
            meta={**self.meta, "bounds": (0.0, 100.0)},
        )
        out.attrs["hxmetrics"]["excluded"] = dict(totals)
        return out
