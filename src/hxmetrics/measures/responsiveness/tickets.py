"""How fast each team answers its tickets: times to answer as right-censored data.

Input is the ``tickets`` table of the contract (:mod:`hxmetrics.tables`: ``ticket_id``,
``silo``, ``source_id``, ``opened``, ``first_response``, ``closed``, ``reopened``,
``severity``, ``touchpoint``, ``team``), customers', workers' and partners' tickets
alike (group ``by="silo"`` or ``by=["silo", "team"]``), from any frame narwhals reads
(converted with :func:`hxmetrics.tables.as_pandas` at the door; the computation is
pandas and numpy).

A ticket's time is measured from ``opened`` to its clock's stop:

* ``clock="first_response"``: the first answer, ``first_response``; a ticket closed
  without a recorded first response was answered when it was closed (the earlier of
  the two stops the clock, as response clocks of service desks do);
* ``clock="closed"``: the (final) ``closed`` time.

A ticket whose clock has not stopped by ``as_of`` (no stop time, or one after
``as_of``: at ``as_of`` it had not happened yet) is **right-censored** at ``as_of``: it
is known to have waited at least ``as_of - opened``. It is never dropped (dashboards
that average closed tickets only lose the slowest cases) and never "closed now".
Tickets opened after ``as_of`` are left out and counted. Times are the Kaplan-Meier
estimator's (Kaplan & Meier 1958), the one of :mod:`hxmetrics.measures.tenure`;
quantiles have the interval of Brookmeyer & Crowley (1982).

Time units are explicit: ``unit`` is one of ``"s"``, ``"min"``, ``"h"``, ``"D"``
(24 hours), ``"W"`` (7 days). With ``calendar=`` (a
:class:`~hxmetrics.measures.responsiveness._calendar.BusinessCalendar`), elapsed time is
business time: only working hours count, so ``"D"`` is 24 *working* hours there; use
``"h"`` or ``"min"`` with a calendar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, check_choice, check_columns
from hxmetrics.measures._inference import check_confidence
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.tenure import TRANSFORMS as _KM_TRANSFORMS
from hxmetrics.measures.tenure import _as_date, km_quantiles, km_restricted_mean, km_survival_at
from hxmetrics.tables import _ORDERINGS, _fail, _ordering_failures, as_pandas

__all__ = ["CLOCKS", "TRANSFORMS", "UNIT_SECONDS", "responsiveness", "sla_attainment"]

#: Length of each time ``unit`` in seconds (with a calendar: working seconds).
UNIT_SECONDS: dict[str, float] = {"s": 1.0, "min": 60.0, "h": 3600.0, "D": 86_400.0, "W": 604_800.0}
#: What stops a ticket's clock.
CLOCKS = ("first_response", "closed")
#: Scales of the pointwise interval of S(t), as statsmodels' ``quantile_ci`` names them
#: (the shared estimator's, :data:`hxmetrics.measures.tenure.TRANSFORMS`).
TRANSFORMS: tuple[str, ...] = tuple(_KM_TRANSFORMS)

_TABLE = "tickets"
_TIME_COLUMNS = ("opened", "first_response", "closed")


# --------------------------------------------------------------------------- input


def _check_options(clock: str, unit: str, transform: str) -> None:
    check_choice("clock", clock, CLOCKS)
    check_choice("unit", unit, list(UNIT_SECONDS))
    check_choice("transform", transform, TRANSFORMS)


def _group_columns(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    for c in cols:
        if not isinstance(c, str):
            raise ParameterError(f"by must name columns of tickets; got {type(c).__name__}.")
    if len(set(cols)) != len(cols):
        raise ParameterError(f"by names a column twice: {cols}.")
    return cols


def _positions(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask)[:5].tolist()


def _to_times(df: pd.DataFrame, column: str) -> pd.Series:
    """``column`` as datetimes; values that are not dates raise, naming rows by position."""
    raw = df[column]
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(raw):
        return pd.Series(pd.to_datetime(raw), index=df.index)
    try:
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    except (TypeError, ValueError):  # texts with different UTC offsets: instants
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
    bad = (parsed.isna() & raw.notna()).to_numpy()
    if bad.any():
        rows = _positions(bad)
        raise InputTableError(
            f"table {_TABLE!r}: column {column!r} must hold dates and times; "
            f"{int(bad.sum())} row(s) do not, e.g. at row positions {rows}.",
            table=_TABLE,
            failure_cases=pd.DataFrame(
                {
                    "column": column,
                    "check": "datetime",
                    "failure_case": "<not a date>",
                    "index": rows,
                }
            ),
        )
    return pd.Series(parsed, index=df.index)


def _utc(times: pd.Series, zone: Any) -> pd.Series:
    """Times as naive UTC when the table has time zones (elapsed time is absolute, also
    across a daylight-saving change); naive tables are used as they are. A naive column
    beside aware ones is read in the zone of the aware ones."""
    if zone is None:
        return times
    if getattr(times.dt, "tz", None) is None:
        times = times.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    return times.dt.tz_convert("UTC").dt.tz_localize(None)


def _as_of(value: Any, zone: Any, latest: pd.Timestamp | None) -> tuple[pd.Timestamp, str]:
    """``as_of`` as a naive timestamp, and where it came from."""
    if value is None:
        if latest is None:
            raise ParameterError(
                "as_of=None takes the latest time in the tickets, but they have none: "
                "pass as_of= (the time the table was extracted)."
            )
        return pd.Timestamp(latest), "latest timestamp in the table"
    cutoff = _as_date(
        value, example="e.g. as_of='2025-12-31 23:59' (the time the table was extracted)"
    )
    if cutoff.tzinfo is not None:
        if zone is None:
            raise ParameterError(
                f"as_of ({cutoff}) has a time zone but the tickets' times have none: pass a "
                f"naive time, e.g. as_of='{cutoff.tz_localize(None)}'."
            )
        return cutoff.tz_convert("UTC").tz_localize(None), "given"
    if zone is not None:  # a naive as_of is read as wall time where the tickets are
        cutoff = cutoff.tz_localize(zone).tz_convert("UTC").tz_localize(None)
    return cutoff, "given"


def _elapsed(start: pd.Series, stop: pd.Series, calendar: Any, zone: Any) -> np.ndarray:
    """Seconds from ``start`` to ``stop``: wall clock, or business time with a calendar
    (the calendar's clock, :func:`~hxmetrics.measures.responsiveness._calendar.clock_seconds`,
    which reads naive times as wall time in its zone and converts aware ones)."""
    if calendar is None:
        return (stop - start).dt.total_seconds().to_numpy(dtype=float)
    from hxmetrics.measures.responsiveness._calendar import clock_seconds

    if zone is not None:  # the times are UTC here: say so, the calendar converts them
        start, stop = start.dt.tz_localize("UTC"), stop.dt.tz_localize("UTC")
    return np.asarray(clock_seconds(start, stop, calendar=calendar), dtype=float)


def _reopened(raw: pd.Series) -> np.ndarray:
    """1.0 where a ticket was reopened (``reopened > 0``), 0.0 where not, NaN where
    unknown; a value that is not a count >= 0 raises, naming the rows."""
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (raw.notna().to_numpy() & np.isnan(values)) | (values < 0)
    if bad.any():
        rows = _positions(bad)
        raise InputTableError(
            f"table {_TABLE!r}: column 'reopened' must count reopenings (whole numbers "
            f">= 0); {int(bad.sum())} row(s) do not, e.g. at row positions {rows}.",
            table=_TABLE,
            failure_cases=pd.DataFrame(
                {"column": "reopened", "check": "ge(0)", "failure_case": None, "index": rows}
            ),
        )
    return np.where(np.isnan(values), np.nan, (values > 0).astype(float))


def _unique_ids(df: pd.DataFrame) -> None:
    """The contract's one row per ``ticket_id``: a repeated ticket would count twice."""
    if "ticket_id" not in df.columns:
        return
    twice = df["ticket_id"].duplicated(keep=False).to_numpy() & df["ticket_id"].notna().to_numpy()
    if twice.any():
        rows = _positions(twice)
        raise InputTableError(
            f"table {_TABLE!r}: column 'ticket_id' must be unique; {int(twice.sum())} rows "
            f"share an id with another row, e.g. at row positions {rows} (ids not shown). "
            "Keep one row per ticket (its latest state).",
            table=_TABLE,
            failure_cases=pd.DataFrame(
                {"column": "ticket_id", "check": "unique", "failure_case": None, "index": rows}
            ),
        )


class _Prepared:
    """The tickets as censored times: one row per ticket kept, and the rows left out."""

    def __init__(
        self,
        frame: pd.DataFrame,
        cols: list[str],
        left_out: dict[str, pd.DataFrame],
        as_of: pd.Timestamp,
        as_of_source: str,
    ) -> None:
        self.frame = frame
        self.cols = cols
        self.left_out = left_out
        self.as_of = as_of
        self.as_of_source = as_of_source


def _prepare(
    tickets: Any,
    *,
    clock: str,
    cols: list[str],
    as_of: Any,
    unit: str,
    calendar: Any,
    extra_columns: Sequence[str] = (),
) -> _Prepared:
    df = as_pandas(tickets, table=_TABLE)
    needed = ["opened", "closed", *(["first_response"] if clock == "first_response" else [])]
    check_columns(df.columns, [*needed, *cols, *extra_columns], table=_TABLE)
    _unique_ids(df)
    times = {c: _to_times(df, c) for c in _TIME_COLUMNS if c in df.columns}
    zones = [t.dt.tz for t in times.values() if getattr(t.dt, "tz", None) is not None]
    zone = zones[0] if zones else None
    times = {c: _utc(t, zone) for c, t in times.items()}
    # The contract's orderings (closed and first_response not before opened), with its
    # messages: the rows named, identifiers never shown.
    timed = pd.DataFrame(times, index=df.index)
    rules = tuple(
        r for r in _ORDERINGS[_TABLE] if r.earlier in timed.columns and r.later in timed.columns
    )
    cases = _ordering_failures(timed, rules)
    if not cases.empty:
        _fail(_TABLE, cases, df)
    stamps = [t.max() for t in times.values() if t.notna().any()]
    latest = pd.Timestamp(max(stamps)) if stamps else None
    cutoff, source = _as_of(as_of, zone, latest)

    opened = times["opened"]
    missing = opened.isna().to_numpy()
    future = (~missing) & (opened > cutoff).to_numpy()
    keep = ~(missing | future)
    kept_columns = [*cols, *[c for c in extra_columns if c not in cols]]
    left_out = {
        "missing_opened": df.loc[missing, kept_columns],
        "opened_after_as_of": df.loc[future, kept_columns],
    }

    frame = df.loc[keep, kept_columns].copy()
    start = opened[keep]
    closed = times["closed"][keep]
    if clock == "first_response":
        stop = times["first_response"][keep]
        # Closed without a recorded answer: the closing answered it (the earlier stops).
        stop = stop.where(stop.notna() & ~(closed < stop), closed)
    else:
        stop = closed
    event = (stop.notna() & (stop <= cutoff)).to_numpy()
    end = stop.where(event, cutoff)
    scale = UNIT_SECONDS[unit]
    frame["_time"] = _elapsed(start, end, calendar, zone) / scale
    frame["_event"] = event
    closed_by = (closed.notna() & (closed <= cutoff)).to_numpy()
    frame["_closed"] = closed_by
    if clock == "first_response":
        no_answer = times["first_response"][keep].isna().to_numpy()
        frame["_closing_answer"] = no_answer & event
    else:
        frame["_closing_answer"] = False
    if "reopened" in df.columns:
        frame["_reopened"] = _reopened(df["reopened"])[keep]
    else:
        frame["_reopened"] = np.nan
    # The backlog (opened and not closed by as_of): each ticket's age so far.
    ages = np.full(len(frame), np.nan)
    waiting = start[~closed_by]
    at = pd.Series(cutoff, index=waiting.index)
    ages[~closed_by] = _elapsed(waiting, at, calendar, zone) / scale
    frame["_age"] = ages
    return _Prepared(frame, cols, left_out, cutoff, source)


# ------------------------------------------------------------------------- groups


def _split(prepared: _Prepared, cols: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The groups' keys (sorted, with the columns' dtypes) and each kept row's group code.

    Groups come from every row, the ones left out too: a team whose tickets were all
    opened after ``as_of`` is a row with ``n`` 0 and its exclusions, not a gap.
    """
    frame = prepared.frame
    if not cols:
        return pd.DataFrame(index=range(1)), np.zeros(len(frame), dtype=np.int64)
    parts = [frame[cols], *(rows[cols] for rows in prepared.left_out.values() if len(rows))]
    every = pd.concat(parts, ignore_index=True) if len(parts) > 1 else frame[cols]
    grouper = every.groupby(cols, sort=True, dropna=False, observed=True)
    codes = grouper.ngroup().to_numpy(dtype=np.int64)[: len(frame)]
    keys = grouper.size().index.to_frame(index=False)
    for c in cols:
        keys[c] = keys[c].astype(frame[c].dtype)
    return keys, codes


def _per_group(left_out: pd.DataFrame, cols: list[str], keys: pd.DataFrame) -> np.ndarray:
    if not cols:
        return np.full(len(keys), len(left_out), dtype=np.int64)
    counts = left_out.groupby(cols, sort=False, dropna=False, observed=True).size()
    lookup = {(k if isinstance(k, tuple) else (k,)): int(v) for k, v in counts.items()}
    rows = keys[cols].itertuples(index=False, name=None)
    return np.array([lookup.get(tuple(r), 0) for r in rows], dtype=np.int64)


def _quantile_name(q: float) -> str:
    return "q" + f"{100 * q:g}".replace(".", "_")


def _check_quantiles(quantiles: Any) -> list[float]:
    values = [quantiles] if isinstance(quantiles, int | float) else list(quantiles)
    if not values:
        raise ParameterError("quantiles must name at least one probability, e.g. (0.5, 0.9).")
    out = []
    for q in values:
        try:
            value = float(q)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"quantiles must be numbers in (0, 1); got {q!r}.") from exc
        if not 0 < value < 1:
            raise ParameterError(f"quantiles must be in (0, 1); got {value!r}.")
        out.append(value)
    names = [_quantile_name(q) for q in out]
    if len(set(names)) != len(names):
        raise ParameterError(f"quantiles repeat: {out}.")
    return out


def _check_horizon(horizon: Any) -> float | None:
    if horizon is None:
        return None
    try:
        value = float(horizon)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"horizon must be a positive number (in unit); got {horizon!r}."
        ) from exc
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"horizon must be a positive number (in unit); got {horizon!r}.")
    return value


# ---------------------------------------------------------------------- the curve


def _by_code(table: pd.DataFrame, column: str, size: int, per_group: int = 1) -> np.ndarray:
    """``column`` of a shared-estimator table (a ``group`` column of codes) as a
    (groups, per_group) array; NaN for groups the table does not have."""
    out = np.full((size, per_group), np.nan)
    if len(table):
        codes = table["group"].to_numpy(dtype=np.int64).reshape(-1, per_group)[:, 0]
        out[codes] = table[column].to_numpy(dtype=float).reshape(-1, per_group)
    return out


def _quantile_numbers(
    t: np.ndarray,
    e: np.ndarray,
    codes: np.ndarray,
    size: int,
    *,
    probs: list[float],
    confidence: float,
    transform: str,
) -> dict[str, np.ndarray]:
    """Kaplan-Meier quantiles with their Brookmeyer-Crowley intervals, per group code
    (the one estimator: :func:`hxmetrics.measures.tenure.km_quantiles`)."""
    table = km_quantiles(t, e, groups=codes, q=probs, confidence=confidence, transform=transform)
    out = {}
    for column, suffix in (("estimate", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
        values = _by_code(table, column, size, len(probs))
        for k, q in enumerate(probs):
            out[_quantile_name(q) + suffix] = values[:, k]
    return out


def _attained(
    ratio: np.ndarray,
    event: np.ndarray,
    codes: np.ndarray,
    size: int,
    *,
    confidence: float,
    transform: str,
) -> dict[str, np.ndarray]:
    """Percent within target per group code, its se and interval: 100 (1 - S(1)) of
    the time divided by the ticket's target
    (:func:`hxmetrics.measures.tenure.km_survival_at`)."""
    table = km_survival_at(
        ratio, event, times=1.0, groups=codes, confidence=confidence, transform=transform
    )
    s = _by_code(table, "survival", size)[:, 0]
    return {
        "pct": 100.0 * (1.0 - s),
        "se": 100.0 * _by_code(table, "se", size)[:, 0],
        "low": 100.0 * (1.0 - _by_code(table, "ci_high", size)[:, 0]),
        "high": 100.0 * (1.0 - _by_code(table, "ci_low", size)[:, 0]),
    }


# --------------------------------------------------------------------------- SLA


def _sla_table(sla: Any, unit: str, columns: Sequence[str]) -> pd.DataFrame:
    """The caller's SLA targets as a frame: key columns and ``target`` (in ``unit``)."""
    if isinstance(sla, Mapping):
        table = pd.DataFrame({"severity": list(sla.keys()), "target": list(sla.values())})
    elif isinstance(sla, pd.DataFrame):
        table = sla.copy()
    else:
        table = as_pandas(sla, table="sla")
    if "target" not in table.columns:
        raise ParameterError(
            "sla must map severity -> target, e.g. {'critical': '1h', 'high': '4h'}, or be a "
            f"table with a 'target' column and key columns; got columns {list(table.columns)}."
        )
    keys = [c for c in table.columns if c != "target"]
    if not keys:
        raise ParameterError("the sla table needs a key column beside 'target' (e.g. 'severity').")
    unknown = [c for c in keys if c not in columns]
    if unknown:
        raise ParameterError(
            f"sla key column(s) {unknown} are not columns of the tickets; they have "
            f"{list(columns)}."
        )
    if table.duplicated(keys).any():
        rows = _positions(table.duplicated(keys, keep=False).to_numpy())
        raise ParameterError(f"sla gives two targets for the same key, at rows {rows}.")
    raw = table["target"]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        target = raw.to_numpy(dtype=float)
    else:
        try:
            delta = pd.to_timedelta(raw.astype(object).map(_as_delta))
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                "sla targets must be numbers (in unit) or durations such as '4h', '30min', "
                f"pandas.Timedelta; got {raw.tolist()[:5]}."
            ) from exc
        target = delta.dt.total_seconds().to_numpy(dtype=float) / UNIT_SECONDS[unit]
    bad = ~(np.isfinite(target) & (target > 0))
    if bad.any():
        raise ParameterError(
            f"sla targets must be positive durations; rows {_positions(bad)} are not."
        )
    table["target"] = target
    return table


def _as_delta(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a bare number among durations is ambiguous")
    return value


def _targets(frame: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Each ticket's target (in unit), NaN where the SLA table has none."""
    keys = [c for c in table.columns if c != "target"]
    if len(keys) == 1:
        lookup = pd.Series(table["target"].to_numpy(), index=table[keys[0]].astype(str))
        values = frame[keys[0]].astype(str).map(lookup)
        return values.to_numpy(dtype=float)
    left = frame[keys].astype(str).reset_index(drop=True)
    right = table.astype({k: str for k in keys})
    merged = left.merge(right, on=keys, how="left", validate="many_to_one")
    return merged["target"].to_numpy(dtype=float)


# ------------------------------------------------------------------------- public


def responsiveness(
    tickets: Any,
    *,
    clock: str = "first_response",
    by: str | Sequence[str] | None = "team",
    as_of: Any = None,
    quantiles: Sequence[float] = (0.5, 0.9),
    sla: Any = None,
    calendar: Any = None,
    unit: str = "h",
    horizon: float | None = None,
    confidence: float = 0.95,
    transform: str = "log",
    min_n: int | None = None,
) -> pd.DataFrame:
    """How fast each group answers (or closes) its tickets, open tickets censored.

    Parameters
    ----------
    tickets : DataFrame
        The ``tickets`` table (pandas, Polars, DuckDB, PyArrow, Spark, ...: converted
        with :func:`hxmetrics.tables.as_pandas`). Needs ``opened``, ``closed``, the
        clock's column and the ``by`` columns; ``reopened`` (count of reopenings) is
        used if present, and the SLA keys (``severity``) with ``sla=``.
    clock : {"first_response", "closed"}, default "first_response"
        What stops a ticket's clock (see the module notes).
    by : str or list of str or None, default "team"
        Group columns: ``"team"``, ``"silo"`` (customers', workers', partners'
        tickets), ``["silo", "team"]``, ``"severity"``, ...; None: one row.
    as_of : timestamp, optional
        The time the table was extracted: clocks still running then are censored
        there; stops and tickets after it have not happened yet. Default: the latest
        timestamp in the table (``opened``, ``first_response``, ``closed``), recorded
        in ``attrs["hxmetrics"]["as_of"]`` (never today's date). Pass the extraction
        time when you know it: a table quiet since its last event was observed longer.
    quantiles : sequence of float, default (0.5, 0.9)
        Probabilities of the time's distribution to estimate; the first is the
        ``estimate``, the others get columns ``q90``, ``q90_ci_low``, ``q90_ci_high``
        (named ``q`` + percent, ``q97_5`` for 0.975).
    sla : mapping or DataFrame, optional
        Targets: ``{"critical": "1h", "high": "4h", ...}`` (severity -> duration), or a
        table with a ``target`` column and key columns of the tickets (``severity``,
        and ``silo``, ``team``, ``touchpoint`` if targets differ by them). A target is
        a duration (``"4h"``, :class:`pandas.Timedelta`) or a number in ``unit``; with
        ``calendar=``, targets are business time. Adds ``pct_sla_met`` and its
        interval (see Returns); per severity: :func:`sla_attainment`.
    calendar : BusinessCalendar, optional
        Count business time only (:mod:`hxmetrics.measures.responsiveness._calendar`).
    unit : {"s", "min", "h", "D", "W"}, default "h"
        Unit of every time in the result.
    horizon : float, optional
        Restricted mean up to this time (in ``unit``). Default: the smallest, over
        the groups, of each group's largest observed time (answered or open), so that
        every group's curve is estimated up to it and the means are comparable (the
        default of R's ``survRM2`` for two groups).
    confidence : float, default 0.95
    transform : {"log", "cloglog", "linear", "asinsqrt", "logit"}, default "log"
        Scale of the pointwise interval of S(t) inverted for the quantiles' intervals
        (Brookmeyer & Crowley 1982) and for SLA attainment; ``"log"`` is R
        ``survival``'s default, ``"cloglog"`` lifelines' and Stata's.
    min_n : int, optional
        Smallest group shown: groups with fewer tickets, and their complements, are
        suppressed (:func:`hxmetrics.privacy.suppress`).

    Returns
    -------
    pandas.DataFrame
        The grouped result (:func:`~hxmetrics.measures._result.grouped_result`), one
        row per group, every time in ``unit``:

        * ``measure`` (``"responsiveness"``), the group columns, ``n`` (tickets opened
          by ``as_of``);
        * ``estimate``: the first quantile (the median by default) of the
          Kaplan-Meier curve (R's rule: first time S(t) <= 1 - q; NaN if too many
          tickets are open for the curve to get there: "not reached");
          ``ci_low``/``ci_high`` its Brookmeyer-Crowley interval (NaN: not reached);
          ``se`` is NaN: the interval inverts a test of S(t) and has no standard
          error (the quantile's asymptotic variance needs a density estimate);
        * ``n_answered`` (clock stopped by ``as_of``), ``n_open`` (clock running at
          ``as_of``: censored), ``n_answered_at_close`` (``clock="first_response"``:
          closed without a recorded first response, answered by the closing);
        * per other quantile: ``q90``, ``q90_ci_low``, ``q90_ci_high``;
        * ``rmst``, ``rmst_se``: restricted mean time up to ``rmst_horizon`` (the
          area under the curve; the mean itself is not estimable with open tickets;
          NaN where the horizon is past the group's last observed time and its curve
          has not reached 0: that would be an extrapolation);
        * ``pct_reopened``: percent (0-100) of the tickets closed by ``as_of`` that
          were reopened (``reopened > 0``), NaN without a ``reopened`` column;
        * ``backlog_open``: tickets opened and not closed at ``as_of``;
          ``backlog_age_q50``, ... : quantiles of their ages at ``as_of`` (observed,
          not estimated; linear interpolation);
        * with ``sla=``: ``pct_sla_met`` (percent of tickets answered within their
          target, 100 (1 - S) on the time divided by each ticket's target, at 1:
          open tickets counted by what is known of them), ``pct_sla_met_ci_low``,
          ``pct_sla_met_ci_high``, ``n_without_sla_target`` (tickets whose keys have
          no target: left out of ``pct_sla_met`` only);
        * ``n_excluded_missing_opened``, ``n_excluded_opened_after_as_of``,
          ``suppressed``.

        ``attrs["hxmetrics"]`` adds ``clock``, ``unit``, ``as_of``, ``as_of_source``,
        ``quantiles``, ``horizon``, ``transform``, ``business_time``.

    Raises
    ------
    InputTableError
        A ``closed`` or ``first_response`` before ``opened`` (the contract's
        orderings), a time column that is not dates, a ``ticket_id`` on two rows or a
        ``reopened`` that is not a count, naming the table, column and rows (never an
        identifier); a missing column (:func:`hxmetrics.errors.check_columns`).
    ParameterError
        An unknown ``clock``, ``unit`` or ``transform``, a bad ``as_of``,
        ``quantiles``, ``horizon`` or ``sla``.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
    observations. *JASA* 53, 457-481.
    Brookmeyer, R. & Crowley, J. (1982). A confidence interval for the median survival
    time. *Biometrics* 38, 29-41.
    Royston, P. & Parmar, M. K. B. (2013). Restricted mean survival time: an
    alternative to the hazard ratio. *BMC Medical Research Methodology* 13, 152.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"team": ["a"] * 5 + ["b"] * 3,
    ...     "opened": pd.to_datetime(["2025-01-01 09:00"] * 8),
    ...     "first_response": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 11:00",
    ...         "2025-01-01 13:00", None, None, "2025-01-01 09:30", "2025-01-01 10:00", None]),
    ...     "closed": pd.NaT})
    >>> out = responsiveness(t, as_of="2025-01-01 17:00", unit="h")
    >>> out[["team", "n", "estimate", "n_answered", "n_open"]]
      team  n  estimate  n_answered  n_open
    0    a  5       4.0           3       2
    1    b  3       1.0           2       1

    Dropping team a's two open tickets would give a median of 2 hours.
    """
    return _run(
        tickets,
        clock=clock,
        by=by,
        as_of=as_of,
        quantiles=quantiles,
        sla=sla,
        calendar=calendar,
        unit=unit,
        horizon=horizon,
        confidence=confidence,
        transform=transform,
        min_n=min_n,
        per_target=False,
    )


def sla_attainment(
    tickets: Any,
    sla: Any,
    *,
    clock: str = "first_response",
    by: str | Sequence[str] | None = "team",
    as_of: Any = None,
    calendar: Any = None,
    unit: str = "h",
    confidence: float = 0.95,
    transform: str = "log",
    min_n: int | None = None,
) -> pd.DataFrame:
    """Percent of tickets answered within their target, per group and SLA key.

    Attainment is 1 - S(target), the Kaplan-Meier estimate of the share answered
    within the target, open tickets censored at ``as_of`` (never dropped: a ticket
    open for longer than its target has missed it, one opened an hour ago counts by
    the hour it waited). The share of *closed* tickets within target, which SLA
    dashboards show, is biased upwards whenever slow tickets are still open.

    Parameters
    ----------
    tickets, clock, by, as_of, calendar, unit, confidence, transform, min_n
        As in :func:`responsiveness`.
    sla : mapping or DataFrame
        Targets per severity (``{"critical": "1h", "high": "4h", "medium": "1D",
        "low": "3D"}``), or a table with ``target`` and key columns (see
        :func:`responsiveness`).

    Returns
    -------
    pandas.DataFrame
        The grouped result, one row per ``by`` group and SLA key present in the
        tickets (``severity``): ``measure`` (``"sla_attainment"``), ``n`` (tickets
        with a target), ``estimate`` (percent within target, 0-100), ``se`` (its
        Greenwood standard error), ``ci_low``, ``ci_high`` (the pointwise interval
        on the ``transform`` scale), ``target`` (in ``unit``; NaN if it varies in the
        row), ``n_met`` (answered within target by ``as_of``), ``n_missed``
        (answered late, or open past the target), ``n_open`` (censored),
        ``n_excluded_without_sla_target`` (keys the table has no target for: a row
        with ``n`` 0, so they are seen), ``n_excluded_missing_opened``,
        ``n_excluded_opened_after_as_of``, ``suppressed``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"team": "a", "severity": ["high"] * 4,
    ...     "opened": pd.to_datetime(["2025-01-01 09:00"] * 4),
    ...     "first_response": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 12:00",
    ...         "2025-01-01 15:00", None]),
    ...     "closed": pd.NaT})
    >>> out = sla_attainment(t, {"high": "4h"}, as_of="2025-01-01 17:00")
    >>> out[["team", "severity", "n", "estimate", "n_met", "n_missed"]]
      team severity  n  estimate  n_met  n_missed
    0    a     high  4      50.0      2         2
    """
    return _run(
        tickets,
        clock=clock,
        by=by,
        as_of=as_of,
        quantiles=(0.5,),
        sla=sla,
        calendar=calendar,
        unit=unit,
        horizon=None,
        confidence=confidence,
        transform=transform,
        min_n=min_n,
        per_target=True,
    )


def _run(
    tickets: Any,
    *,
    clock: str,
    by: str | Sequence[str] | None,
    as_of: Any,
    quantiles: Sequence[float],
    sla: Any,
    calendar: Any,
    unit: str,
    horizon: float | None,
    confidence: float,
    transform: str,
    min_n: int | None,
    per_target: bool,
) -> pd.DataFrame:
    _check_options(clock, unit, transform)
    confidence = check_confidence(confidence)
    probs = _check_quantiles(quantiles)
    horizon = _check_horizon(horizon)
    cols = _group_columns(by)
    df = as_pandas(tickets, table=_TABLE)
    table = None if sla is None else _sla_table(sla, unit, list(df.columns))
    sla_keys = [] if table is None else [c for c in table.columns if c != "target"]
    prepared = _prepare(
        df,
        clock=clock,
        cols=cols,
        as_of=as_of,
        unit=unit,
        calendar=calendar,
        extra_columns=sla_keys,
    )
    if table is not None:
        prepared.frame["_target"] = _targets(prepared.frame, table)
    common = {
        "clock": clock,
        "unit": unit,
        "as_of": str(prepared.as_of),
        "as_of_source": prepared.as_of_source,
        "transform": transform,
        "business_time": calendar is not None,
    }
    if per_target:
        return _attainment(prepared, sla_keys, confidence, transform, min_n, common)
    return _summary(
        prepared, probs, table is not None, horizon, confidence, transform, min_n, common
    )


def _excluded(prepared: _Prepared, keys: pd.DataFrame, cols: list[str]) -> dict[str, Any]:
    return {reason: _per_group(rows, cols, keys) for reason, rows in prepared.left_out.items()}


def _summary(
    prepared: _Prepared,
    probs: list[float],
    with_sla: bool,
    horizon: float | None,
    confidence: float,
    transform: str,
    min_n: int | None,
    common: dict[str, Any],
) -> pd.DataFrame:
    frame, cols = prepared.frame, prepared.cols
    keys, codes = _split(prepared, cols)
    size = len(keys)
    t = frame["_time"].to_numpy(dtype=float)
    e = frame["_event"].to_numpy(dtype=bool)
    n = np.bincount(codes, minlength=size)
    answered = np.bincount(codes, weights=e, minlength=size).astype(np.int64)
    if horizon is None:
        # Every group's curve is estimated up to its largest observed time: the
        # smallest of these is the longest horizon all groups share.
        largest = pd.Series(t).groupby(codes).max().to_numpy() if len(t) else np.array([])
        horizon = float(largest.min()) if len(largest) else math.nan
    names = [_quantile_name(q) for q in probs]
    numbers = _quantile_numbers(
        t, e, codes, size, probs=probs, confidence=confidence, transform=transform
    )
    extra: dict[str, Any] = {"n_answered": answered, "n_open": n - answered}
    if common["clock"] == "first_response":
        at_close = frame["_closing_answer"].to_numpy(dtype=float)
        extra["n_answered_at_close"] = np.bincount(codes, at_close, size).astype(np.int64)
    for name in names[1:]:
        for suffix in ("", "_ci_low", "_ci_high"):
            extra[name + suffix] = numbers[name + suffix]
    if math.isfinite(horizon) and horizon > 0:
        rmst = km_restricted_mean(t, e, horizon=horizon, groups=codes)
        # Past a group's last time (its curve not at 0) the mean would extrapolate:
        # R extends the curve flat; here it is NaN.
        beyond = _by_code(rmst, "beyond_follow_up", size)[:, 0] > 0
        extra["rmst"] = np.where(beyond, np.nan, _by_code(rmst, "estimate", size)[:, 0])
        extra["rmst_se"] = np.where(beyond, np.nan, _by_code(rmst, "se", size)[:, 0])
    else:  # every time is 0 in some group: there is no common stretch to average
        extra["rmst"] = np.full(size, math.nan)
        extra["rmst_se"] = np.full(size, math.nan)
    extra["rmst_horizon"] = np.full(size, horizon, dtype=float)
    closed = frame["_closed"].to_numpy(dtype=bool)
    reopened = frame["_reopened"].to_numpy(dtype=float)
    known = closed & np.isfinite(reopened)
    n_known = np.bincount(codes[known], minlength=size)
    n_reopened = np.bincount(codes[known], weights=reopened[known], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        extra["pct_reopened"] = np.where(n_known > 0, 100.0 * n_reopened / n_known, np.nan)
    ages = frame["_age"].to_numpy(dtype=float)
    open_now = np.isfinite(ages)
    extra["backlog_open"] = np.bincount(codes[open_now], minlength=size).astype(np.int64)
    backlog = _backlog_quantiles(ages[open_now], codes[open_now], size, probs)
    for k, name in enumerate(names):
        extra[f"backlog_age_{name}"] = backlog[:, k]
    if with_sla:
        target = frame["_target"].to_numpy(dtype=float)
        has = np.isfinite(target)
        met = _attained(
            t[has] / target[has],
            e[has],
            codes[has],
            size,
            confidence=confidence,
            transform=transform,
        )
        extra["pct_sla_met"] = met["pct"]
        extra["pct_sla_met_ci_low"] = met["low"]
        extra["pct_sla_met_ci_high"] = met["high"]
        extra["n_without_sla_target"] = np.bincount(codes[~has], minlength=size).astype(np.int64)
    first = names[0]
    return grouped_result(
        keys,
        measure="responsiveness",
        n=n.astype(np.int64),
        estimate=numbers[first],
        se=np.full(size, np.nan),
        ci_low=numbers[first + "_ci_low"],
        ci_high=numbers[first + "_ci_high"],
        confidence=confidence,
        method="kaplan_meier_brookmeyer_crowley",
        min_n=min_n,
        extra=extra,
        excluded=_excluded(prepared, keys, cols),
        meta={**common, "quantiles": probs, "estimate_quantile": probs[0], "horizon": horizon},
    )


def _backlog_quantiles(
    ages: np.ndarray, codes: np.ndarray, size: int, probs: list[float]
) -> np.ndarray:
    """Empirical quantiles (linear interpolation) of the open tickets' ages per group."""
    out = np.full((size, len(probs)), np.nan)
    if len(ages) == 0:
        return out
    table = pd.Series(ages).groupby(codes).quantile(np.asarray(probs)).unstack()
    out[table.index.to_numpy(dtype=np.int64)] = table.to_numpy(dtype=float)
    return out


def _attainment(
    prepared: _Prepared,
    sla_keys: list[str],
    confidence: float,
    transform: str,
    min_n: int | None,
    common: dict[str, Any],
) -> pd.DataFrame:
    frame = prepared.frame
    cols = [*prepared.cols, *[k for k in sla_keys if k not in prepared.cols]]
    keys, codes = _split(prepared, cols)
    size = len(keys)
    t = frame["_time"].to_numpy(dtype=float)
    e = frame["_event"].to_numpy(dtype=bool)
    target = frame["_target"].to_numpy(dtype=float)
    has = np.isfinite(target)
    ratio = t[has] / target[has]
    ev, cg = e[has], codes[has]
    met = _attained(ratio, ev, cg, size, confidence=confidence, transform=transform)
    # The target of the row, if one: NaN where the SLA keys vary inside a row.
    per = pd.DataFrame({"code": cg, "target": target[has]}).groupby("code")["target"]
    lowest, highest = per.min(), per.max()
    one = lowest[lowest == highest]
    shown_target = np.full(size, np.nan)
    shown_target[one.index.to_numpy(dtype=np.int64)] = one.to_numpy(dtype=float)
    excluded = {
        "without_sla_target": np.bincount(codes[~has], minlength=size).astype(np.int64),
        **_excluded(prepared, keys, cols),
    }
    return grouped_result(
        keys,
        measure="sla_attainment",
        n=np.bincount(cg, minlength=size).astype(np.int64),
        estimate=met["pct"],
        se=met["se"],
        ci_low=met["low"],
        ci_high=met["high"],
        confidence=confidence,
        method=f"kaplan_meier_{transform}",
        min_n=min_n,
        extra={
            "target": shown_target,
            "n_met": np.bincount(cg[ev & (ratio <= 1.0)], minlength=size).astype(np.int64),
            # Answered late, or still open past the target.
            "n_missed": np.bincount(cg[ratio > 1.0], minlength=size).astype(np.int64),
            "n_open": np.bincount(cg[~ev], minlength=size).astype(np.int64),
        },
        excluded=excluded,
        meta={**common, "sla_keys": sla_keys, "bounds": (0.0, 100.0)},
    )
