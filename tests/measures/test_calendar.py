"""Business calendars and pausing clocks (issue 14, item 2).

Hand-computed examples (each number worked out in the comment beside it), the invariants
the issue lists as hypothesis properties, and a check of the vectorised clock against a
slow per-day reference written independently here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import ParameterError
from hxmetrics.measures.responsiveness._calendar import BusinessCalendar, clock_seconds

HOUR = 3600.0
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALWAYS = {day: ("00:00", "24:00") for day in WEEKDAYS}


# -- a slow reference, independent of the implementation -------------------------------

Spec = Mapping[int, Sequence[tuple[int, int]]]  # weekday -> spans in seconds of the day


def reference_business(
    spec: Spec, holidays: set[dt.date], start: dt.datetime, end: dt.datetime
) -> float:
    """Working seconds in [start, end) (naive wall-clock datetimes), day by day."""
    total = 0.0
    day = start.date()
    while day <= end.date():
        if day not in holidays:
            midnight = dt.datetime.combine(day, dt.time())
            for a, b in spec.get(day.weekday(), ()):
                low = max(start, midnight + dt.timedelta(seconds=a))
                high = min(end, midnight + dt.timedelta(seconds=b))
                total += max(0.0, (high - low).total_seconds())
        day += dt.timedelta(days=1)
    return total


def reference_union(
    intervals: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[list[dt.datetime]] = []
    for low, high in sorted(intervals):
        if high <= low:
            continue
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(a, b) for a, b in merged]


def reference_clock(
    spec: Spec,
    holidays: set[dt.date],
    start: dt.datetime,
    end: dt.datetime,
    pauses: list[tuple[dt.datetime, dt.datetime]],
) -> float:
    clipped = [(min(max(a, start), end), min(max(b, start), end)) for a, b in pauses]
    paused = sum(reference_business(spec, holidays, a, b) for a, b in reference_union(clipped))
    return reference_business(spec, holidays, start, end) - paused


def hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def calendar_from(spec: Spec, holidays: set[dt.date], tz: str = "UTC") -> BusinessCalendar:
    hours = {WEEKDAYS[d]: [(hhmm(a), hhmm(b)) for a, b in spans] for d, spans in spec.items()}
    return BusinessCalendar(hours, tz=tz, holidays=sorted(holidays))


STANDARD_SPEC: Spec = {d: [(9 * 3600, 17 * 3600)] for d in range(5)}


# -- hand-computed examples -----------------------------------------------------------


def test_friday_afternoon_to_monday_morning_is_two_hours() -> None:
    # Fri 2026-01-09 16:00 -> Mon 2026-01-12 10:00 on Mon-Fri 09-17: Fri 16-17 + Mon 9-10.
    cal = BusinessCalendar.standard()
    out = cal.business_seconds(["2026-01-09 16:00"], ["2026-01-12 10:00"])
    assert out.tolist() == [2 * HOUR]


def test_a_holiday_has_no_working_time() -> None:
    # Thu 2026-12-24 16:00 -> Mon 2026-12-28 10:00: Thu 1 h + Fri 8 h + Mon 1 h = 10 h;
    # with Fri 25 December a holiday, 2 h.
    start, end = ["2026-12-24 16:00"], ["2026-12-28 10:00"]
    assert BusinessCalendar.standard().business_seconds(start, end).tolist() == [10 * HOUR]
    cal = BusinessCalendar.standard(holidays=[dt.date(2026, 12, 25)])
    assert cal.business_seconds(start, end).tolist() == [2 * HOUR]


def test_several_spans_per_day() -> None:
    # Mon 2026-01-05 08:00 -> 18:00 with a lunch break: 3 h + 4 h; 11:30 -> 13:30: 0.5 + 0.5.
    cal = BusinessCalendar({"mon": [("13:00", "17:00"), ("09:00", "12:00")]})
    out = cal.business_seconds(
        ["2026-01-05 08:00", "2026-01-05 11:30"], ["2026-01-05 18:00", "2026-01-05 13:30"]
    )
    assert out.tolist() == [7 * HOUR, 1 * HOUR]


def test_dst_spring_forward_in_berlin_keeps_working_hours_on_the_wall_clock() -> None:
    # Europe/Berlin moves 02:00 -> 03:00 on Sun 2026-03-29. Fri 2026-03-27 15:00 UTC is
    # 16:00 CET; Mon 2026-03-30 07:00 UTC is 09:00 CEST: Fri 16-17 only, 1 h, while
    # 64 h pass on the clock.
    cal = BusinessCalendar.standard(tz="Europe/Berlin")
    start = pd.Series(pd.to_datetime(["2026-03-27 15:00"]).tz_localize("UTC"))
    end = pd.Series(pd.to_datetime(["2026-03-30 07:00"]).tz_localize("UTC"))
    assert cal.business_seconds(start, end).tolist() == [1 * HOUR]
    assert clock_seconds(start, end).tolist() == [64 * HOUR]
    # Mon 30 March 09:00-17:00 CEST is 8 h, as on any other Monday.
    assert cal.business_seconds(["2026-03-30 08:00"], ["2026-03-30 18:00"]).tolist() == [8 * HOUR]


def test_dst_a_span_containing_the_change_counts_wall_clock_time() -> None:
    # The documented choice: working time is counted as the wall clock shows it. Sat
    # 12:00 CET -> Sun 12:00 CEST (2026-03-29) is 23 real hours but 24 wall-clock hours.
    cal = BusinessCalendar(ALWAYS, tz="Europe/Berlin")
    start = pd.DatetimeIndex(["2026-03-28 11:00"]).tz_localize("UTC")  # 12:00 CET
    end = pd.DatetimeIndex(["2026-03-29 10:00"]).tz_localize("UTC")  # 12:00 CEST
    assert clock_seconds(start, end).tolist() == [23 * HOUR]
    assert cal.business_seconds(start, end).tolist() == [24 * HOUR]
    # Autumn (Sun 2026-10-25, 03:00 CEST -> 02:00 CET): a night shift Sun 00:00-06:00
    # counts 6 h though 7 real hours pass.
    night = BusinessCalendar({"Sun": ("00:00", "06:00")}, tz="Europe/Berlin")
    assert night.business_seconds(["2026-10-24 12:00"], ["2026-10-25 12:00"]).tolist() == [6 * HOUR]


def test_dst_repeated_hour_running_backwards_on_the_wall_clock_counts_zero() -> None:
    # 00:40 UTC is 02:40 CEST, 01:10 UTC is 02:10 CET (the repeated hour): real time runs
    # forward 30 min, the wall clock backwards; documented as 0, not an error.
    cal = BusinessCalendar(ALWAYS, tz="Europe/Berlin")
    start = pd.DatetimeIndex(["2026-10-25 00:40"]).tz_localize("UTC")
    end = pd.DatetimeIndex(["2026-10-25 01:10"]).tz_localize("UTC")
    assert cal.business_seconds(start, end).tolist() == [0.0]
    assert clock_seconds(start, end).tolist() == [0.5 * HOUR]


def test_aware_input_in_another_zone_is_converted_to_the_calendar_zone() -> None:
    # Calendar in New York (EST, UTC-5 in January). Tokyo (UTC+9) 2026-01-12 23:00 is
    # New York Mon 09:00; Tokyo 2026-01-13 07:00 is New York Mon 17:00: a full day, 8 h.
    cal = BusinessCalendar.standard(tz="America/New_York")
    start = pd.Series(pd.to_datetime(["2026-01-12 23:00", "2026-01-13 05:00"])).dt.tz_localize(
        "Asia/Tokyo"
    )
    end = pd.Series(pd.to_datetime(["2026-01-13 07:00", "2026-01-13 06:00"])).dt.tz_localize(
        "Asia/Tokyo"
    )
    # Row 2: Tokyo 05:00-06:00 on the 13th is New York Mon 15:00-16:00: 1 h.
    assert cal.business_seconds(start, end).tolist() == [8 * HOUR, 1 * HOUR]
    # Naive times are wall-clock times in the calendar's zone, not UTC.
    assert cal.business_seconds(["2026-01-12 09:00"], ["2026-01-12 17:00"]).tolist() == [8 * HOUR]
    # ISO strings with offsets are instants too, mixed offsets included: 14:00 UTC is
    # 09:00 New York; 15:00+01:00 is 09:00 again (0 h), 17:00+02:00 is 10:00 (1 h).
    out = cal.business_seconds(
        ["2026-01-12T14:00:00+00:00"] * 2,
        ["2026-01-12T15:00:00+01:00", "2026-01-12T17:00:00+02:00"],
    )
    assert out.tolist() == [0.0, HOUR]


@pytest.mark.parametrize("engine", ["polars", "pyarrow"])
def test_polars_and_pyarrow_columns_keep_their_time_zone(engine: str) -> None:
    # Mon 2026-01-12 08:00 -> 09:00 UTC is 09:00 -> 10:00 in Berlin: 1 h (0 if the zone
    # were dropped and the times read as Berlin wall-clock times).
    cal = BusinessCalendar.standard(tz="Europe/Berlin")
    times = [dt.datetime(2026, 1, 12, 8), dt.datetime(2026, 1, 12, 9)]
    if engine == "polars":
        pl = pytest.importorskip("polars", reason="polars is an optional engine")
        column = pl.Series(times).dt.replace_time_zone("UTC")
    else:
        pa = pytest.importorskip("pyarrow", reason="pyarrow is an optional engine")
        column = pa.array(times, pa.timestamp("us", "UTC"))
    assert cal.business_seconds(column[:1], column[1:]).tolist() == [HOUR]
    assert clock_seconds(column[:1], column[1:]).tolist() == [HOUR]


def test_missing_end_is_nan_and_a_single_as_of_broadcasts() -> None:
    cal = BusinessCalendar.standard()
    start = pd.Series(pd.to_datetime(["2026-01-05 09:00", "2026-01-06 09:00"]))
    end = pd.Series([pd.Timestamp("2026-01-05 10:00"), pd.NaT])
    out = cal.business_seconds(start, end)
    assert out[0] == HOUR
    assert np.isnan(out[1])
    # as_of for every row: Tue 2026-01-06 12:00.
    assert cal.business_seconds(start, "2026-01-06 12:00").tolist() == [11 * HOUR, 3 * HOUR]
    assert clock_seconds(start, pd.Timestamp("2026-01-06 12:00")).tolist() == [27 * HOUR, 3 * HOUR]


def test_pauses_overlap_once_are_clipped_and_cost_nothing_outside_hours() -> None:
    # Ticket 0: Mon 2026-01-05 09:00 -> Tue 12:00, pauses Mon 16:00 -> Tue 10:00 and
    # Mon 15:00 -> 16:30 (overlapping: Mon 15:00 -> Tue 10:00 once). Wall: 27 h - 19 h = 8 h.
    # Business: 11 h - (Mon 15-17 + Tue 9-10 = 3 h) = 8 h. Ticket 1: Mon 09:00 -> 12:00, a
    # pause from Sun to Mon 10:00 clipped to 09:00-10:00 and one still on (no end) from
    # 11:30: 3 h - 1 h - 0.5 h. Ticket 2: no pause.
    start = ["2026-01-05 09:00"] * 3
    end = ["2026-01-06 12:00", "2026-01-05 12:00", "2026-01-05 12:00"]
    pauses = (
        np.array([0, 0, 1, 1]),
        ["2026-01-05 16:00", "2026-01-05 15:00", "2026-01-04 10:00", "2026-01-05 11:30"],
        ["2026-01-06 10:00", "2026-01-05 16:30", "2026-01-05 10:00", None],
    )
    wall = clock_seconds(start, end, pauses=pauses)
    assert wall.tolist() == [8 * HOUR, 1.5 * HOUR, 3 * HOUR]
    business = clock_seconds(start, end, calendar=BusinessCalendar.standard(), pauses=pauses)
    assert business.tolist() == [8 * HOUR, 1.5 * HOUR, 3 * HOUR]
    # A pause in the night costs wall time but no business time.
    night = (np.array([0]), ["2026-01-05 20:00"], ["2026-01-06 08:00"])
    assert clock_seconds(start[:1], end[:1], pauses=night).tolist() == [15 * HOUR]
    assert clock_seconds(
        start[:1], end[:1], calendar=BusinessCalendar.standard(), pauses=night
    ).tolist() == [11 * HOUR]


# -- the calendar object ---------------------------------------------------------------


def test_json_round_trip_equality_hash_and_repr() -> None:
    cal = BusinessCalendar(
        {"MON": ("09:00", "17:00"), "saturday": [("10:00", "12:00"), ("13:00", "14:30:30")]},
        tz="Europe/Berlin",
        holidays=["2026-12-25", dt.date(2026, 12, 26), pd.Timestamp("2026-12-25")],
    )
    state = json.loads(json.dumps(cal.to_dict()))
    back = BusinessCalendar.from_dict(state)
    assert back == cal
    assert hash(back) == hash(cal)
    assert state["hours"]["Sat"] == [["10:00", "12:00"], ["13:00", "14:30:30"]]
    assert state["hours"]["Sun"] == []
    assert back.holidays == (dt.date(2026, 12, 25), dt.date(2026, 12, 26))
    assert repr(cal) == (
        "BusinessCalendar({'Mon': ('09:00', '17:00'), 'Sat': [('10:00', '12:00'), "
        "('13:00', '14:30:30')]}, tz='Europe/Berlin', holidays=['2026-12-25', '2026-12-26'])"
    )
    assert eval(repr(cal), {"BusinessCalendar": BusinessCalendar}) == cal
    many = BusinessCalendar.standard(holidays=pd.date_range("2026-01-01", periods=10))
    assert "holidays=<10 dates, 2026-01-01 to 2026-01-10>" in repr(many)
    assert cal != BusinessCalendar.standard(tz="Europe/Berlin")
    with pytest.raises(ParameterError, match="cannot restore"):
        BusinessCalendar.from_dict({"model": "KaplanMeier"})


def test_calendar_is_immutable() -> None:
    cal = BusinessCalendar.standard()
    with pytest.raises(AttributeError, match="immutable"):
        cal.tz = "Europe/Berlin"  # type: ignore[misc]  # the point of the test
    # Pickling (process pools) and copying rebuild it without setting attributes.
    assert pickle.loads(pickle.dumps(cal)) == cal
    assert copy.deepcopy(cal) == cal
    hours = cal.hours
    hours["Sat"] = (("09:00", "10:00"),)
    assert cal.hours["Sat"] == ()
    assert cal.weekly_seconds == 40 * HOUR


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "pattern"),
    [
        ({"Tue": ("09:00", "25:00")}, r"hours\['Tue'\]: '25:00' is not a time of day"),
        ({"wed": ("9h", "17:00")}, r"hours\['Wed'\]: '9h'"),
        ({"Thu": ("09:60", "17:00")}, r"hours\['Thu'\]: '09:60'"),
        (
            {"Fri": ("17:00", "09:00")},
            r"hours\['Fri'\]: span \('17:00', '09:00'\) starts at or after",
        ),
        ({"Mon": ("09:00", "09:00")}, r"hours\['Mon'\].*starts at or after"),
        ({"Mon": [("09:00", "13:00"), ("12:00", "17:00")]}, r"hours\['Mon'\].*overlap"),
        ({"Mnday": ("09:00", "17:00")}, r"unknown weekday 'Mnday'.*Did you mean 'Monday'"),
        ({"Mon": ("09:00", "17:00"), "monday": None}, "Mon is given twice"),
        ({"Mon": "09:00-17:00"}, r"hours\['Mon'\]: expected a span"),
        ({}, "no working hours on any weekday"),
        ({"Mon": [], "Tue": None}, "no working hours on any weekday"),
    ],
)
def test_malformed_hours_are_named(hours: dict[str, object], pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        BusinessCalendar(hours)


def test_bad_zone_and_holidays() -> None:
    with pytest.raises(ParameterError, match="Did you mean 'Europe/Berlin'"):
        BusinessCalendar.standard(tz="Europe/Berln")
    with pytest.raises(ParameterError, match=r"holidays\[1\]: 'not a date'"):
        BusinessCalendar.standard(holidays=["2026-12-25", "not a date"])


def test_every_working_day_a_holiday_over_the_range_is_refused() -> None:
    # Mondays only, and every Monday of January 2026 a holiday: no business time can pass.
    mondays = pd.date_range("2026-01-05", "2026-02-02", freq="W-MON")
    cal = BusinessCalendar({"Mon": ("09:00", "17:00")}, holidays=mondays)
    with pytest.raises(ParameterError, match="every working day from 2026-01-05 to 2026-01-31"):
        cal.business_seconds(["2026-01-05 09:00"], ["2026-01-31 09:00"])
    # Less than a week may fall on days off: Tue to Sun is 0, not an error.
    assert cal.business_seconds(["2026-01-06"], ["2026-01-11"]).tolist() == [0.0]


def test_end_before_start_names_positions() -> None:
    start = ["2026-01-05 09:00"] * 4
    end = ["2026-01-05 10:00", "2026-01-05 08:00", "2026-01-05 09:00", "2026-01-04 09:00"]
    with pytest.raises(ParameterError, match=r"end is before start at positions \[1, 3\]"):
        BusinessCalendar.standard().business_seconds(start, end)
    with pytest.raises(ParameterError, match=r"positions \[1, 3\]"):
        clock_seconds(start, end)


def test_bad_inputs_to_the_clock() -> None:
    start, end = ["2026-01-05 09:00"] * 2, ["2026-01-05 17:00"] * 2
    with pytest.raises(ParameterError, match="3 values and end 2"):
        clock_seconds(start + start[:1], end)
    with pytest.raises(ParameterError, match="expected timestamps, got numbers"):
        clock_seconds(np.array([1, 2]), end)
    with pytest.raises(ParameterError, match="could not read the values as timestamps"):
        clock_seconds(["soon", "later"], end)
    aware = pd.DatetimeIndex(end).tz_localize("UTC")
    with pytest.raises(ParameterError, match="end has a time zone and start does not"):
        clock_seconds(start, aware)
    # With a calendar, naive times are read in its zone: no error.
    assert (
        clock_seconds(start, aware, calendar=BusinessCalendar.standard()).tolist() == [8 * HOUR] * 2
    )
    with pytest.raises(ParameterError, match="expected a BusinessCalendar"):
        clock_seconds(start, end, calendar={"Mon": ("09:00", "17:00")})  # type: ignore[arg-type]  # wrong on purpose
    good = ["2026-01-05 10:00"]
    with pytest.raises(ParameterError, match=r"between 0 and 1.*positions \[0\]"):
        clock_seconds(start, end, pauses=(np.array([2]), good, good))
    with pytest.raises(ParameterError, match=r"pause_end is before pause_start at positions \[0\]"):
        clock_seconds(start, end, pauses=(np.array([0]), good, ["2026-01-05 09:30"]))
    with pytest.raises(ParameterError, match=r"pause_start is missing at pause positions \[0\]"):
        clock_seconds(start, end, pauses=(np.array([0]), [None], good))
    with pytest.raises(ParameterError, match="1 row positions, 1 pause starts and 2"):
        clock_seconds(start, end, pauses=(np.array([0]), good, good * 2))
    with pytest.raises(ParameterError, match="integers"):
        clock_seconds(start, end, pauses=(np.array([0.5]), good, good))
    with pytest.raises(ParameterError, match="three equal-length"):
        clock_seconds(start, end, pauses=(np.array([0]), good))  # type: ignore[arg-type]  # wrong on purpose


def test_empty_input() -> None:
    empty = pd.Series([], dtype="datetime64[ns]")
    assert clock_seconds(empty, empty, calendar=BusinessCalendar.standard()).shape == (0,)
    none = (np.array([], dtype=int), empty, empty)
    assert clock_seconds(empty, empty, pauses=none).shape == (0,)


# -- properties ------------------------------------------------------------------------

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
ORIGIN = dt.datetime(2026, 3, 20)  # two DST changes within reach (Berlin, New York, Lord Howe)


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    spec: dict[int, list[tuple[int, int]]] = {}
    for day in range(7):
        cuts = sorted(set(draw(st.lists(st.integers(0, 96), max_size=4))))
        cuts = cuts[: len(cuts) // 2 * 2]
        spans = [(cuts[i] * 900, cuts[i + 1] * 900) for i in range(0, len(cuts), 2)]
        if spans:
            spec[day] = spans
    if not spec:
        spec[draw(st.integers(0, 6))] = [(9 * 3600, 17 * 3600)]
    return spec


seconds_in_window = st.integers(0, 40 * 86_400)
holiday_sets = st.sets(
    st.integers(0, 40).map(lambda d: ORIGIN.date() + dt.timedelta(days=d)), max_size=4
)


def business_or_none(
    cal: BusinessCalendar, start: Sequence[dt.datetime], end: Sequence[dt.datetime]
) -> np.ndarray | None:
    """The business seconds, or None where holidays cover every working day of a week."""
    try:
        return cal.business_seconds(start, end)
    except ParameterError as error:
        if "is a holiday" not in str(error):
            raise
        return None


def stamp(offset: int) -> dt.datetime:
    return ORIGIN + dt.timedelta(seconds=offset)


@settings(max_examples=80)
@given(
    spec=specs(),
    holidays=holiday_sets,
    tz=st.sampled_from(ZONES),
    points=st.lists(seconds_in_window, min_size=2, max_size=12),
)
def test_business_time_matches_reference_and_bounds(
    spec: Spec, holidays: set[dt.date], tz: str, points: list[int]
) -> None:
    cal = calendar_from(spec, holidays, tz)
    half = len(points) // 2
    pairs = [tuple(sorted(p)) for p in zip(points[:half], points[half : 2 * half], strict=True)]
    start = [stamp(a) for a, _ in pairs]
    end = [stamp(b) for _, b in pairs]
    out = business_or_none(cal, start, end)
    if out is None:
        return
    wall = clock_seconds(start, end)
    expected = [reference_business(spec, holidays, s, e) for s, e in zip(start, end, strict=True)]
    assert out.tolist() == expected
    assert (out >= 0).all()
    assert (out <= wall).all()


@given(
    spec=specs(),
    holidays=holiday_sets,
    tz=st.sampled_from(ZONES),
    abc=st.lists(seconds_in_window, min_size=3, max_size=3).map(sorted),
)
def test_business_time_is_additive(
    spec: Spec, holidays: set[dt.date], tz: str, abc: list[int]
) -> None:
    cal = calendar_from(spec, holidays, tz)
    a, b, c = (stamp(x) for x in abc)
    whole = business_or_none(cal, [a], [c])
    if whole is None:
        return
    assert (
        whole.tolist() == (cal.business_seconds([a], [b]) + cal.business_seconds([b], [c])).tolist()
    )


@given(tz=st.sampled_from(ZONES), points=st.lists(seconds_in_window, min_size=2, max_size=10))
def test_a_24_7_calendar_is_wall_time(tz: str, points: list[int]) -> None:
    half = len(points) // 2
    pairs = [tuple(sorted(p)) for p in zip(points[:half], points[half : 2 * half], strict=True)]
    start = [stamp(a) for a, _ in pairs]
    end = [stamp(b) for _, b in pairs]
    # Naive times are wall-clock times in any zone; aware ones in UTC.
    cal = BusinessCalendar(ALWAYS, tz=tz)
    assert cal.business_seconds(start, end).tolist() == clock_seconds(start, end).tolist()
    utc_start = pd.DatetimeIndex(start).tz_localize("Asia/Tokyo")
    utc_end = pd.DatetimeIndex(end).tz_localize("Asia/Tokyo")
    assert (
        BusinessCalendar(ALWAYS).business_seconds(utc_start, utc_end).tolist()
        == clock_seconds(utc_start, utc_end).tolist()
    )


@settings(max_examples=80)
@given(
    spec=specs(),
    holidays=holiday_sets,
    use_calendar=st.booleans(),
    tickets=st.lists(
        st.lists(seconds_in_window, min_size=2, max_size=2).map(sorted), min_size=1, max_size=5
    ),
    raw_pauses=st.lists(
        st.tuples(st.integers(0, 4), seconds_in_window, st.integers(0, 5 * 86_400)), max_size=8
    ),
)
def test_pauses_never_lengthen_the_clock(
    spec: Spec,
    holidays: set[dt.date],
    use_calendar: bool,
    tickets: list[list[int]],
    raw_pauses: list[tuple[int, int, int]],
) -> None:
    cal = calendar_from(spec, holidays) if use_calendar else None
    clock_spec = spec if use_calendar else {d: [(0, 86_400)] for d in range(7)}
    clock_holidays = holidays if use_calendar else set()
    start = [stamp(a) for a, _ in tickets]
    end = [stamp(b) for _, b in tickets]
    pauses = [(r % len(tickets), stamp(s), stamp(s + length)) for r, s, length in raw_pauses]
    arrays = (
        np.array([r for r, _, _ in pauses], dtype=int),
        [s for _, s, _ in pauses],
        [e for _, _, e in pauses],
    )
    plain = clock_seconds(start, end) if cal is None else business_or_none(cal, start, end)
    if plain is None:
        return
    paused = clock_seconds(start, end, calendar=cal, pauses=arrays)
    assert (paused <= plain).all()
    assert (paused >= 0).all()
    expected = [
        reference_clock(
            clock_spec,
            clock_holidays,
            s,
            e,
            [(ps, pe) for r, ps, pe in pauses if r == i],
        )
        for i, (s, e) in enumerate(zip(start, end, strict=True))
    ]
    assert paused.tolist() == pytest.approx(expected, abs=1e-6)
    # Pausing the whole interval (or more) stops the clock entirely.
    whole = (
        np.arange(len(tickets)),
        [s - dt.timedelta(hours=1) for s in start],
        end,
    )
    assert clock_seconds(start, end, calendar=cal, pauses=whole).tolist() == [0.0] * len(tickets)


# -- scale: no Python loop per row -------------------------------------------------------


def test_a_million_rows_agree_with_the_reference_on_a_sample() -> None:
    rng = np.random.default_rng(14)
    n = 1_000_000
    spec: Spec = {d: [(8 * 3600, 12 * 3600), (13 * 3600, 17 * 3600 + 1800)] for d in range(5)}
    spec = {**spec, 5: [(10 * 3600, 14 * 3600)]}
    holidays = {
        dt.date(2026, 4, 3),
        dt.date(2026, 4, 6),
        dt.date(2026, 5, 1),
        dt.date(2026, 12, 25),
    }
    cal = calendar_from(spec, holidays, "Europe/Berlin")
    origin = np.datetime64("2026-01-01T00:00:00", "s")
    start = origin + rng.integers(0, 365 * 86_400, n).astype("timedelta64[s]")
    end = start + rng.exponential(3 * 86_400, n).astype(np.int64).astype("timedelta64[s]")
    n_pauses = 300_000
    rows = rng.integers(0, n, n_pauses)
    pause_start = start[rows] + rng.integers(-86_400, 5 * 86_400, n_pauses).astype("timedelta64[s]")
    pause_end = pause_start + rng.exponential(86_400, n_pauses).astype(np.int64).astype(
        "timedelta64[s]"
    )
    out = clock_seconds(start, end, calendar=cal, pauses=(rows, pause_start, pause_end))
    assert out.shape == (n,)
    assert np.isfinite(out).all()
    sample = np.concatenate([rng.choice(n, 150, replace=False), rows[:50]])
    for i in sample:
        mine = [j for j in np.flatnonzero(rows == i)]
        s, e = pd.Timestamp(start[i]).to_pydatetime(), pd.Timestamp(end[i]).to_pydatetime()
        pauses = [
            (
                pd.Timestamp(pause_start[j]).to_pydatetime(),
                pd.Timestamp(pause_end[j]).to_pydatetime(),
            )
            for j in mine
        ]
        assert out[i] == pytest.approx(reference_clock(spec, holidays, s, e, pauses), abs=1e-6)
