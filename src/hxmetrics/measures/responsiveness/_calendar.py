"""Business time: working hours per weekday, a time zone and holidays, and clocks that pause.

A :class:`BusinessCalendar` says when a team works; :meth:`BusinessCalendar.business_seconds`
counts the working seconds between two arrays of timestamps and :func:`clock_seconds`
counts elapsed time (wall or business) minus the time a ticket spent in a pause status,
like the SLA clocks of service desks (start, pause, resume, stop).

Method (no Python loop per row): over the days the timestamps cover, the cumulative
working time at each local midnight is precomputed once; the business position of a
timestamp ``t`` is then ``B(t) = cum(day(t)) + working time of that day up to t`` and the
business time between ``s`` and ``e`` is ``B(e) - B(s)``. All positions are whole
nanoseconds (int64), so the clock is exactly additive.

Time zones: the calendar's hours are wall-clock hours in its ``tz``. Naive timestamps are
read as wall-clock times in ``tz``; time-zone aware ones are converted to ``tz`` first.
Working time is counted **as the wall clock shows it**, also on the days the clocks change
(daylight saving time): 09:00-17:00 is 8 hours on every day, and a span that contains
the change (a night shift, a 24/7 calendar) counts its wall-clock length, so 00:00-24:00 is
24 hours on the 23-hour and 25-hour days alike. In the repeated hour of an autumn change,
two aware instants whose wall-clock times run backwards count 0 business seconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import warnings
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from hxmetrics.errors import ParameterError, did_you_mean

__all__ = ["BusinessCalendar", "clock_seconds"]

WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_NS: Final = 86_400 * 10**9
_SECOND_NS: Final = 10**9
_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_NAT: Final = np.iinfo(np.int64).min
# A range of at least a week has every weekday: no working time in it means holidays
# cover every working day (a shorter range may legitimately fall on a weekend).
_FULL_WEEK_DAYS: Final = 7
_SHOWN_POSITIONS: Final = 5
_SHOWN_HOLIDAYS: Final = 6

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Span = tuple[int, int]


def _weekday_index(key: object) -> int:
    text = str(key).strip().lower()
    for i, (short, full) in enumerate(zip(WEEKDAYS, _FULL_NAMES, strict=True)):
        if text in (short.lower(), full.lower()):
            return i
    hint = did_you_mean(str(key), WEEKDAYS + _FULL_NAMES)
    raise ParameterError(
        f"hours: unknown weekday {key!r}; the keys are weekday names "
        f"({', '.join(WEEKDAYS)}, case-insensitive, or written in full).{hint}"
    )


def _seconds_of_day(value: object, day: str) -> int:
    if isinstance(value, dt.time):
        if value.tzinfo is not None or value.microsecond:
            raise ParameterError(
                f"hours[{day!r}]: {value!r} must be a naive time of day in whole seconds "
                "(the calendar's tz gives the zone)."
            )
        return value.hour * 3600 + value.minute * 60 + value.second
    match = _TIME_OF_DAY.match(value) if isinstance(value, str) else None
    if match is not None:
        hours, minutes = int(match[1]), int(match[2])
        seconds = int(match[3] or 0)
        total = hours * 3600 + minutes * 60 + seconds
        if minutes < 60 and seconds < 60 and total <= 86_400:
            return total
    raise ParameterError(
        f"hours[{day!r}]: {value!r} is not a time of day; write 'HH:MM' or 'HH:MM:SS' "
        "from '00:00' to '24:00' (e.g. '09:00')."
    )


def _format_seconds(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _is_time(value: object) -> bool:
    return isinstance(value, str | dt.time)


def _parse_day(value: object, day: str) -> tuple[Span, ...]:
    if value is None:
        return ()
    if isinstance(value, Sequence) and len(value) == 2 and all(_is_time(v) for v in value):
        pairs: list[object] = [value]
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
        pairs = list(value)
    else:
        raise ParameterError(
            f"hours[{day!r}]: expected a span ('09:00', '17:00') or a list of spans, "
            f"got {type(value).__name__}."
        )
    spans: list[Span] = []
    for pair in pairs:
        if not (isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2):
            raise ParameterError(
                f"hours[{day!r}]: each span is a pair (start, end) such as ('09:00', '17:00'); "
                f"got {pair!r}."
            )
        start, end = (_seconds_of_day(v, day) for v in pair)
        if start >= end:
            raise ParameterError(
                f"hours[{day!r}]: span {tuple(pair)!r} starts at or after it ends; a span "
                "that runs past midnight is written as two spans, e.g. Mon ('22:00', '24:00') "
                "and Tue ('00:00', '06:00')."
            )
        spans.append((start, end))
    spans.sort()
    for (a0, a1), (b0, b1) in itertools.pairwise(spans):
        if b0 < a1:
            raise ParameterError(
                f"hours[{day!r}]: spans {(_format_seconds(a0), _format_seconds(a1))!r} and "
                f"{(_format_seconds(b0), _format_seconds(b1))!r} overlap; give each working "
                "stretch once."
            )
    return tuple(spans)


def _parse_tz(tz: object) -> str:
    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz.key
    if isinstance(tz, str):
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return tz
        hint = did_you_mean(tz, zoneinfo.available_timezones())
    else:
        hint = ""
    raise ParameterError(
        f"tz: {tz!r} is not an IANA time zone name such as 'Europe/Berlin' or 'UTC'.{hint}"
    )


def _parse_holidays(holidays: Iterable[object]) -> tuple[dt.date, ...]:
    if isinstance(holidays, str | bytes):
        raise ParameterError("holidays: expected a list of dates, got a single string.")
    days: set[dt.date] = set()
    for i, value in enumerate(holidays):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            days.add(value)
            continue
        try:
            stamp: object = pd.Timestamp(value)  # type: ignore[arg-type]  # bad ones raise
        except (ValueError, TypeError):
            stamp = None
        if not isinstance(stamp, pd.Timestamp) or pd.isna(stamp):
            raise ParameterError(
                f"holidays[{i}]: {value!r} is not a date; write dates such as '2026-12-25'."
            )
        days.add(stamp.date())
    return tuple(sorted(days))


class BusinessCalendar:
    """When a team works: hours per weekday in a time zone, minus holidays.

    Immutable (hashable, compared by value) and JSON-ready through :meth:`to_dict` /
    :meth:`from_dict`.

    Parameters
    ----------
    hours : mapping
        Working hours per weekday: keys ``"Mon"`` ... ``"Sun"`` (case-insensitive; full
        names such as ``"monday"`` too), values one span ``("09:00", "17:00")`` or a list
        of spans ``[("09:00", "12:00"), ("13:00", "17:00")]``; ``None`` or ``[]`` (or a
        missing key) for a day off. Times are ``"HH:MM"`` or ``"HH:MM:SS"`` (or
        :class:`datetime.time`) from ``"00:00"`` to ``"24:00"``; a span that runs past
        midnight is written as two spans on two days.
    tz : str, default "UTC"
        IANA time zone of the working hours (:mod:`zoneinfo`), e.g. ``"Europe/Berlin"``.
    holidays : iterable of dates, default ()
        Local dates with no working time (``datetime.date``, ``"2026-12-25"``, ...).

    Notes
    -----
    Naive timestamps are wall-clock times in ``tz``; aware ones are converted to ``tz``.
    Working time counts as the wall clock shows it, also on the days the clocks change
    (daylight saving time): see the module's notes.

    Examples
    --------
    >>> cal = BusinessCalendar.standard(tz="Europe/Berlin", holidays=["2026-12-25"])
    >>> cal
    BusinessCalendar({'Mon': ('09:00', '17:00'), 'Tue': ('09:00', '17:00'), \
'Wed': ('09:00', '17:00'), 'Thu': ('09:00', '17:00'), 'Fri': ('09:00', '17:00')}, \
tz='Europe/Berlin', holidays=['2026-12-25'])
    >>> cal.business_seconds(["2026-12-04 16:00"], ["2026-12-07 10:00"]) / 3600  # Fri -> Mon
    array([2.])
    """

    __slots__ = ("_holiday_days", "_holidays", "_hours", "_tz", "_zone")

    _hours: tuple[tuple[Span, ...], ...]
    _tz: str
    _zone: zoneinfo.ZoneInfo
    _holidays: tuple[dt.date, ...]
    _holiday_days: Int64Array

    def __init__(
        self,
        hours: Mapping[str, Any],
        *,
        tz: str | zoneinfo.ZoneInfo = "UTC",
        holidays: Iterable[Any] = (),
    ) -> None:
        if not isinstance(hours, Mapping):
            raise ParameterError(
                "hours: expected a mapping of weekday to spans, e.g. "
                f"{{'Mon': ('09:00', '17:00')}}; got {type(hours).__name__}."
            )
        week: list[tuple[Span, ...] | None] = [None] * 7
        for key, value in hours.items():
            index = _weekday_index(key)
            if week[index] is not None:
                raise ParameterError(
                    f"hours: {WEEKDAYS[index]} is given twice (keys are case-insensitive)."
                )
            week[index] = _parse_day(value, WEEKDAYS[index])
        parsed = tuple(day or () for day in week)
        if not any(parsed):
            raise ParameterError(
                "hours: the calendar has no working hours on any weekday, so no business "
                "time can pass; give at least one span, e.g. {'Mon': ('09:00', '17:00')}."
            )
        tz_name = _parse_tz(tz)
        days = _parse_holidays(holidays)
        epoch = dt.date(1970, 1, 1)
        set_ = object.__setattr__
        set_(self, "_hours", parsed)
        set_(self, "_tz", tz_name)
        set_(self, "_zone", zoneinfo.ZoneInfo(tz_name))
        set_(self, "_holidays", days)
        set_(
            self,
            "_holiday_days",
            np.array([(d - epoch).days for d in days], dtype=np.int64),
        )

    @classmethod
    def standard(
        cls, *, tz: str | zoneinfo.ZoneInfo = "UTC", holidays: Iterable[Any] = ()
    ) -> BusinessCalendar:
        """Monday to Friday, 09:00 to 17:00 in ``tz``, minus ``holidays``.

        Examples
        --------
        >>> BusinessCalendar.standard().weekly_seconds / 3600
        40.0
        """
        return cls({day: ("09:00", "17:00") for day in WEEKDAYS[:5]}, tz=tz, holidays=holidays)

    # -- read-only state -------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("BusinessCalendar is immutable; build a new one.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("BusinessCalendar is immutable; build a new one.")

    @property
    def hours(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """Working spans per weekday (all seven days, ``()`` for a day off)."""
        return {
            day: tuple((_format_seconds(a), _format_seconds(b)) for a, b in spans)
            for day, spans in zip(WEEKDAYS, self._hours, strict=True)
        }

    @property
    def tz(self) -> str:
        """IANA name of the calendar's time zone."""
        return self._tz

    @property
    def holidays(self) -> tuple[dt.date, ...]:
        """Holidays, sorted, each once."""
        return self._holidays

    @property
    def weekly_seconds(self) -> float:
        """Working seconds in a week without holidays."""
        return float(sum(b - a for spans in self._hours for a, b in spans))

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # pickle and copy rebuild through the public state (attributes cannot be set).
        return (type(self).from_dict, (self.to_dict(),))

    def _key(self) -> tuple[object, ...]:
        return (self._hours, self._tz, self._holidays)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown: dict[str, object] = {}
        for day, spans in self.hours.items():
            if spans:
                shown[day] = spans[0] if len(spans) == 1 else list(spans)
        parts = [repr(shown), f"tz={self._tz!r}"]
        if len(self._holidays) > _SHOWN_HOLIDAYS:
            first, last = self._holidays[0], self._holidays[-1]
            parts.append(f"holidays=<{len(self._holidays)} dates, {first} to {last}>")
        elif self._holidays:
            parts.append(f"holidays={[d.isoformat() for d in self._holidays]!r}")
        return f"BusinessCalendar({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """The calendar as plain JSON values; :meth:`from_dict` restores it.

        Examples
        --------
        >>> import json
        >>> cal = BusinessCalendar({"sat": [("09:00", "12:00"), ("13:00", "15:30")]})
        >>> state = json.loads(json.dumps(cal.to_dict()))
        >>> state["hours"]["Sat"]
        [['09:00', '12:00'], ['13:00', '15:30']]
        >>> BusinessCalendar.from_dict(state) == cal
        True
        """
        return {
            "model": "BusinessCalendar",
            "format": 1,
            "hours": {day: [list(span) for span in spans] for day, spans in self.hours.items()},
            "tz": self._tz,
            "holidays": [d.isoformat() for d in self._holidays],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> BusinessCalendar:
        """Restore a calendar saved with :meth:`to_dict` (after a JSON round trip too)."""
        if state.get("model") != "BusinessCalendar":
            raise ParameterError(
                f"cannot restore a {state.get('model')!r} state with BusinessCalendar.from_dict."
            )
        if "hours" not in state:
            raise ParameterError("BusinessCalendar state lacks 'hours'.")
        return cls(state["hours"], tz=state.get("tz", "UTC"), holidays=state.get("holidays", ()))

    # -- business time ---------------------------------------------------------------

    def business_seconds(self, start: Any, end: Any) -> FloatArray:
        """Working seconds in ``[start, end)``, row by row.

        Parameters
        ----------
        start, end : array-like of timestamps
            Arrays, Series, lists or single timestamps (a single one is used for every
            row, e.g. ``end=as_of``). Naive timestamps are wall-clock times in the
            calendar's ``tz``; aware ones are converted to it.

        Returns
        -------
        numpy.ndarray of float
            Seconds, one per row; ``NaN`` where ``start`` or ``end`` is missing (``NaT``:
            callers measure open tickets up to ``as_of`` instead).

        Raises
        ------
        ParameterError
            An ``end`` before its ``start`` (the message gives the row positions), values
            that are not timestamps, or a range of a week or more in which every working
            day is a holiday.

        Examples
        --------
        >>> cal = BusinessCalendar.standard()
        >>> cal.business_seconds(
        ...     ["2026-01-09 16:00", "2026-01-10 10:00"], ["2026-01-12 10:00", None]
        ... )
        array([7200.,   nan])
        """
        return clock_seconds(start, end, calendar=self)

    def _wall_ns(self, times: _Times) -> Int64Array:
        if times.index.tz is None:
            return times.index.asi8
        return times.index.tz_convert(self._zone).tz_localize(None).asi8

    def _day_table(self, walls: Sequence[Int64Array], missing: npt.NDArray[np.bool_]) -> _DayTable:
        present = ~missing
        if not present.any():
            return _DayTable(self, 0, 0)
        top = np.iinfo(np.int64).max
        low = min(int(np.min(w, where=present, initial=top)) for w in walls)
        high = max(int(np.max(w, where=present, initial=_NAT)) for w in walls)
        return _DayTable(self, low // _DAY_NS, high // _DAY_NS)


class _DayTable:
    """Working time per local day over a range of days, as flat per-day lookups."""

    def __init__(self, calendar: BusinessCalendar, first_day: int, last_day: int) -> None:
        days = np.arange(first_day, last_day + 1, dtype=np.int64)
        # 1970-01-01 (day 0) was a Thursday (index 3 with Monday as 0).
        weekday = (days + 3) % 7
        working = ~np.isin(days, calendar._holiday_days)
        width = max(len(spans) for spans in calendar._hours)
        starts = np.zeros((width, 7), dtype=np.int64)
        lengths = np.zeros((width, 7), dtype=np.int64)
        for day, spans in enumerate(calendar._hours):
            for j, (a, b) in enumerate(spans):
                starts[j, day] = a * _SECOND_NS
                lengths[j, day] = (b - a) * _SECOND_NS
        # One row per span, one column per day of the range: a holiday's spans are empty.
        self.starts = starts[:, weekday]
        self.lengths = lengths[:, weekday] * working
        self.cumulative = np.concatenate([[0], np.cumsum(self.lengths.sum(axis=0))])
        self.origin = first_day * _DAY_NS
        if len(days) >= _FULL_WEEK_DAYS and self.cumulative[-1] == 0:
            first = dt.date(1970, 1, 1) + dt.timedelta(days=first_day)
            last = dt.date(1970, 1, 1) + dt.timedelta(days=last_day)
            raise ParameterError(
                f"calendar: every working day from {first} to {last} is a holiday, so no "
                "business time passes in the range of the timestamps; check the holidays."
            )

    def position(self, wall: Int64Array) -> Int64Array:
        """Business nanoseconds from the table's first midnight to each wall-clock time."""
        # In-place steps: at 10M rows each pass over the data is the cost.
        into_day = wall - self.origin
        k = into_day // _DAY_NS
        scratch = k * _DAY_NS
        np.subtract(into_day, scratch, out=into_day)
        out = self.cumulative.take(k, mode="clip")
        length = np.empty_like(scratch)
        for starts, lengths in zip(self.starts, self.lengths, strict=True):
            starts.take(k, out=scratch, mode="clip")
            np.subtract(into_day, scratch, out=scratch)
            np.maximum(scratch, 0, out=scratch)
            lengths.take(k, out=length, mode="clip")
            np.minimum(scratch, length, out=scratch)
            out += scratch
        return out


class _Times:
    """Timestamps read once: a ns DatetimeIndex plus its missing mask."""

    def __init__(self, values: Any, name: str) -> None:
        self.name = name
        self.index = _datetime_index(values, name)
        self.missing = np.asarray(self.index.isna())

    def __len__(self) -> int:
        return len(self.index)

    @property
    def aware(self) -> bool:
        return self.index.tz is not None

    def take(self, positions: npt.NDArray[np.intp]) -> _Times:
        out = object.__new__(_Times)
        out.name = self.name
        out.index = self.index[positions]
        out.missing = self.missing[positions]
        return out


def _datetime_index(values: Any, name: str) -> pd.DatetimeIndex:
    if isinstance(values, str | dt.datetime | dt.date | np.datetime64) or values is None:
        values = [values]
    elif hasattr(values, "to_pandas") and not isinstance(values, pd.Series | pd.Index):
        # Polars and PyArrow columns: through pandas, which keeps their time zone
        # (their numpy conversion drops it).
        values = values.to_pandas()
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return pd.DatetimeIndex(values).as_unit("ns")
    if isinstance(dtype, np.dtype) and dtype.kind in "iufcb" and len(values) > 0:
        raise ParameterError(
            f"{name}: expected timestamps, got numbers ({dtype}); convert them with "
            "pandas.to_datetime and the right unit first."
        )
    parsed: object = None
    with warnings.catch_warnings():
        # Mixed UTC offsets: pandas 2 warns and returns objects, pandas 3 raises; either
        # way they are read as instants (utc=True) on the second try.
        warnings.simplefilter("ignore", FutureWarning)
        for utc in (False, True):
            try:
                parsed = pd.Index(pd.to_datetime(values, format="ISO8601", utc=utc))
            except (ValueError, TypeError, OverflowError):
                continue
            if isinstance(parsed, pd.DatetimeIndex):
                break
    if not isinstance(parsed, pd.DatetimeIndex):
        raise ParameterError(
            f"{name}: could not read the values as timestamps; pass datetimes, "
            "datetime64 arrays or ISO 8601 strings such as '2026-01-05 09:00'."
        )
    return parsed.as_unit("ns")


def _positions_text(mask: npt.NDArray[np.bool_]) -> str:
    positions = np.flatnonzero(mask)
    shown = ", ".join(str(p) for p in positions[:_SHOWN_POSITIONS])
    more = f", ... ({len(positions)} in all)" if len(positions) > _SHOWN_POSITIONS else ""
    return f"[{shown}{more}]"


def _broadcast(start: _Times, end: _Times) -> tuple[_Times, _Times]:
    n_start, n_end = len(start), len(end)
    if n_start == n_end:
        return start, end
    if n_start == 1:
        return start.take(np.zeros(n_end, dtype=np.intp)), end
    if n_end == 1:
        return start, end.take(np.zeros(n_start, dtype=np.intp))
    raise ParameterError(
        f"{start.name} has {n_start} values and {end.name} {n_end}; give one per row "
        "(or a single timestamp for all rows)."
    )


def _check_order(start: _Times, end: _Times, start_ns: Int64Array, end_ns: Int64Array) -> None:
    if start.aware and end.aware:
        start_ns, end_ns = start.index.asi8, end.index.asi8
    bad = (end_ns < start_ns) & ~start.missing & ~end.missing
    if bad.any():
        raise ParameterError(
            f"{end.name} is before {start.name} at positions {_positions_text(bad)}; "
            "a time is measured from its start to its end."
        )


def _naive_ns(times: _Times, other: _Times) -> Int64Array:
    if times.aware != other.aware:
        aware, naive = (times, other) if times.aware else (other, times)
        raise ParameterError(
            f"{aware.name} has a time zone and {naive.name} does not; without a calendar "
            "there is no zone to read the naive times in: make both aware (or both naive) "
            "or pass calendar=."
        )
    return times.index.asi8


def _pause_arrays(
    pauses: Any, n_rows: int, start: _Times, calendar: BusinessCalendar | None
) -> tuple[npt.NDArray[np.intp], _Times, _Times]:
    if not (isinstance(pauses, Sequence) and len(pauses) == 3):
        raise ParameterError(
            "pauses: expected a tuple (row, pause_start, pause_end) of three equal-length "
            "arrays: the row position of each pause and when it started and ended."
        )
    raw_rows, raw_start, raw_end = pauses
    rows_values = np.asarray(raw_rows.to_numpy() if hasattr(raw_rows, "to_numpy") else raw_rows)
    if rows_values.ndim != 1 or (len(rows_values) and rows_values.dtype.kind not in "iu"):
        raise ParameterError("pauses: the row positions must be a 1-D array of integers.")
    rows = rows_values.astype(np.intp)
    pause_start = _Times(raw_start, "pause_start")
    pause_end = _Times(raw_end, "pause_end")
    if not len(rows) == len(pause_start) == len(pause_end):
        raise ParameterError(
            f"pauses: {len(rows)} row positions, {len(pause_start)} pause starts and "
            f"{len(pause_end)} pause ends; give one of each per pause."
        )
    outside = (rows < 0) | (rows >= n_rows)
    if outside.any():
        raise ParameterError(
            f"pauses: row positions must be between 0 and {n_rows - 1}; pauses at positions "
            f"{_positions_text(outside)} point elsewhere."
        )
    if pause_start.missing.any():
        raise ParameterError(
            f"pause_start is missing at pause positions {_positions_text(pause_start.missing)}; "
            "every pause has a start (a missing pause_end means the pause is still on)."
        )
    if calendar is None:
        _naive_ns(pause_start, start)
        _naive_ns(pause_end, start)
    return rows, pause_start, pause_end


def _union_length(
    rows: npt.NDArray[np.intp], low: Int64Array, high: Int64Array, n_rows: int
) -> Int64Array:
    """Length of the union of the intervals ``[low, high)`` of each row, overlaps once.

    A sweep over start (+1) and end (-1) events sorted by row and time: a stretch between
    two consecutive events is covered when the running count is positive. Every row's
    events balance, so the count is 0 between rows and nothing leaks from one to the next.
    """
    total = np.zeros(n_rows, dtype=np.int64)
    keep = high > low
    if not keep.any():
        return total
    rows, low, high = rows[keep], low[keep], high[keep]
    event_row = np.concatenate([rows, rows])
    event_time = np.concatenate([low, high])
    step = np.concatenate([np.ones(len(low), np.int64), -np.ones(len(high), np.int64)])
    order = np.lexsort((event_time, event_row))
    event_row, event_time, step = event_row[order], event_time[order], step[order]
    covered = np.cumsum(step)[:-1] > 0
    gaps = np.append(np.diff(event_time) * covered, 0)
    first = np.flatnonzero(np.r_[True, event_row[1:] != event_row[:-1]])
    total[event_row[first]] = np.add.reduceat(gaps, first)
    return total


def clock_seconds(
    start: Any,
    end: Any,
    *,
    calendar: BusinessCalendar | None = None,
    pauses: tuple[Any, Any, Any] | None = None,
) -> FloatArray:
    """Elapsed seconds from ``start`` to ``end`` minus the time spent in pauses.

    Without a calendar the clock is wall time (``end - start``); with one it is business
    time (:meth:`BusinessCalendar.business_seconds`). Pauses (a ticket waiting on the
    customer, say) stop the clock: the time inside them, measured with the same clock
    (so a pause outside working hours costs nothing twice), is subtracted.

    Parameters
    ----------
    start, end : array-like of timestamps
        One per row (a single timestamp is used for every row, e.g. ``end=as_of``).
        Without a calendar both must be naive or both time-zone aware.
    calendar : BusinessCalendar, optional
        Count business time instead of wall time.
    pauses : tuple (row, pause_start, pause_end), optional
        Three equal-length arrays, one entry per pause: the row position (0-based, into
        ``start``/``end``) and when the pause started and ended (a missing ``pause_end``
        means the pause is still on). Pauses of a row may overlap (each moment counts
        once) and are clipped to ``[start, end)``.

    Returns
    -------
    numpy.ndarray of float
        Seconds, one per row, ``>= 0``; ``NaN`` where ``start`` or ``end`` is missing.

    Raises
    ------
    ParameterError
        An ``end`` before its ``start`` or a ``pause_end`` before its ``pause_start`` (the
        message gives positions), a pause without a start, a row position out of range,
        naive and aware timestamps mixed without a calendar, or values that are not
        timestamps.

    Examples
    --------
    >>> start = ["2026-01-05 09:00", "2026-01-05 09:00"]
    >>> end = ["2026-01-05 17:00", "2026-01-06 12:00"]
    >>> pauses = (
    ...     [0, 0, 1],  # row 0 has two overlapping pauses: 10:00 to 11:30 counts once
    ...     ["2026-01-05 10:00", "2026-01-05 10:30", "2026-01-05 12:00"],
    ...     ["2026-01-05 11:00", "2026-01-05 11:30", "2026-01-05 13:00"],
    ... )
    >>> clock_seconds(start, end, pauses=pauses) / 3600
    array([ 6.5, 26. ])
    >>> clock_seconds(start, end, calendar=BusinessCalendar.standard(), pauses=pauses) / 3600
    array([ 6.5, 10. ])
    """
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        raise ParameterError(
            f"calendar: expected a BusinessCalendar, got {type(calendar).__name__}."
        )
    start_times, end_times = _broadcast(_Times(start, "start"), _Times(end, "end"))
    if calendar is None:
        start_ns = _naive_ns(start_times, end_times)
        end_ns = end_times.index.asi8
    else:
        start_ns = calendar._wall_ns(start_times)
        end_ns = calendar._wall_ns(end_times)
    _check_order(start_times, end_times, start_ns, end_ns)
    missing = start_times.missing | end_times.missing
    table = None if calendar is None else calendar._day_table([start_ns, end_ns], missing)
    # Missing rows get a time inside the table's range; their result is NaN anyway.
    filler = 0 if table is None else table.origin
    low = np.where(missing, filler, start_ns)
    high = np.where(missing, filler, np.maximum(end_ns, start_ns))
    elapsed = high - low if table is None else table.position(high) - table.position(low)
    if pauses is not None:
        elapsed = elapsed - _paused(pauses, start_times, calendar, table, low, high, missing)
    seconds = elapsed / _SECOND_NS
    seconds[missing] = np.nan
    return np.asarray(seconds, dtype=np.float64)


def _paused(
    pauses: Any,
    start: _Times,
    calendar: BusinessCalendar | None,
    table: _DayTable | None,
    low: Int64Array,
    high: Int64Array,
    missing: npt.NDArray[np.bool_],
) -> Int64Array:
    n_rows = len(low)
    rows, pause_start, pause_end = _pause_arrays(pauses, n_rows, start, calendar)
    if calendar is None:
        ps, pe = pause_start.index.asi8, pause_end.index.asi8
    else:
        ps, pe = calendar._wall_ns(pause_start), calendar._wall_ns(pause_end)
    ongoing = pause_end.missing
    _check_order(pause_start, pause_end, ps, pe)
    keep = ~missing[rows]
    rows, ps, pe, ongoing = rows[keep], ps[keep], pe[keep], ongoing[keep]
    row_low, row_high = low[rows], high[rows]
    pause_low = np.clip(ps, row_low, row_high)
    pause_high = np.where(ongoing, row_high, np.clip(pe, row_low, row_high))
    if table is not None:
        pause_low, pause_high = table.position(pause_low), table.position(pause_high)
    return _union_length(rows, pause_low, pause_high, n_rows)
