"""RFM summaries: a transaction log to one row per customer, in an explicit time unit.

Time is counted in whole calendar periods of ``unit`` (see :data:`UNITS`): a
transaction's period is its clock hour, calendar day, ISO week (Monday to Sunday),
calendar month, quarter or year. Transactions of a customer in the same period count
as one purchase (their amounts are added), as in the ``lifetimes`` convention. Then,
per customer,

* ``frequency``: number of distinct periods with a purchase, minus one (repeat purchases);
* ``recency``: periods from the first to the last purchase (0 without repeats);
* ``T``: periods from the first purchase to the period of ``observation_end``;
* ``monetary_value``: mean amount of the repeat periods (0 without repeats);
* with ``calibration_end``: the calibration columns use purchases up to it, and
  ``frequency_holdout``, ``monetary_value_holdout`` and ``duration_holdout`` the
  periods after it up to ``observation_end``. Customers whose first purchase is after
  ``calibration_end`` are not in the calibration cohort; they are counted, not kept.

Every transaction is in the calibration, in the holdout, or counted in
``attrs["hxmetrics"]["excluded"]`` (``{reason: count}``): after ``observation_end``;
after ``calibration_end`` but in its period (the calibration ends at ``calibration_end``
and the holdout is whole periods after its period); of customers whose first purchase
is after ``calibration_end``.

Times with a time zone are read as local wall-clock time in that zone (a period is a
local calendar day, week, ...); ``observation_end`` and ``calibration_end`` are then
converted to that zone if they carry one, or read as local time there if not.

Money is counted in whole cents: an integer amount is multiplied by 100; any other
(float, decimal) is rounded to the cent, half up, as ``floor(100 * x + 0.5)`` in double
precision (two IEEE operations, the same on every engine: 1.255 is 1.25499... in
binary and becomes 125 cents). The sums are 64-bit integers, exact in any order, and
``monetary_value`` is ``cents / (100 * periods)``, one rounding: the same float on
every engine. An amount with more than two decimals is rounded to the cent; totals
of 2**62 cents (4.6e16 currency units) or more are refused.

The aggregation is one lazy query per engine, written once with narwhals and collected
once (rows -> customer-period cells -> one row per customer, with every count and
check in it): pandas, Polars (eager or lazy), DuckDB and Spark give the same frame, bit
for bit, with the customer id as text (``str``), integers or categories. Nothing but
the per-customer table comes back from the engine. On pandas alone, the rows' group-by
into customer-period cells is one sort in numpy (:func:`_sorted_cells`: the same cells,
sorted, for which pandas' group-by on two columns is slow); the rows and every number
per cell and per customer are still the query's.
"""

from __future__ import annotations

import datetime as dt
import numbers
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._engine import invalid_rows, require_columns, to_narwhals
from hxmetrics.measures.clv._base import UNIT_ATTR, UNITS, check_unit

__all__ = ["UNITS", "period_of", "rfm_summary"]

# 1900-01-01 was a Monday: whole weeks counted from it are ISO weeks.
_EPOCH = dt.datetime(1900, 1, 1)
_SECONDS = {"h": 3600, "D": 86_400, "W": 7 * 86_400}
_P = "__hx_period"
_A = "__hx_amount"
_S = "__hx_status"
_T = "__hx_time"
_M = "__hx_missing"
_K = "__hx_rows"
_Z = "__hx_size"
_C = "__hx_customer"
# The place of a transaction left out (see _summary_query); others have their period.
_MISSING_ROW, _AFTER_END_ROW, _GAP_ROW = -1, -2, -3
#: Sums of whole cents are 64-bit integers: the absolute amounts must add up to less
#: than 2**62 cents (4.6e16 currency units), so that no partial sum can overflow.
_MAX_CENTS = 2.0**62
_MAX_AMOUNT = _MAX_CENTS / 100
# The first period's amount rides in the low 42 bits of a 63-bit key (see
# _summary_query): periods below 2**21 (hours until the year 2139) and cell amounts
# below 2**41 cents (22 billion currency units).
_PERIOD_BOUND = 1 << 21
_CELL_BOUND = 1 << 41
_CELL_SPAN = 1 << 42
_NO_KEY = (1 << 63) - 1
_UNKEYED = -1
#: pandas' text dtype (``"str"``): a text customer id has it on every engine.
_STR = pd.Series([], dtype="str").dtype


def _days_since_epoch(col: nw.Expr) -> nw.Expr:
    """Whole days from 1900-01-01 to the calendar date of ``col``, by integer arithmetic.

    The proleptic Gregorian day count of a (year, month, day) (the "days from civil"
    algorithm of H. Hinnant, for years >= 1900): used on engines without duration
    arithmetic on timestamps (Spark), it gives the same day numbers as subtracting
    the epoch.
    """
    year = col.dt.year().cast(nw.Int64)
    month = col.dt.month().cast(nw.Int64)
    day = col.dt.day().cast(nw.Int64)
    early = (month <= 2).cast(nw.Int64)
    y = year - early
    era = y // 400
    yoe = y - era * 400
    shifted = month + 9 - 12 * (1 - early)  # March = 0, ..., February = 11
    doy = (153 * shifted + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    # 693901 = days from 0000-03-01 to 1900-01-01 in this count.
    return era * 146097 + doe - 693901


def _period_expr(time: str, unit: str, *, civil: bool = False) -> nw.Expr:
    """The period index of each time (see :func:`period_of`).

    ``civil=True`` counts hours, days and weeks from calendar fields (year, month,
    day, hour) rather than from a duration: the same numbers, for engines that have
    no duration arithmetic (Spark).
    """
    col = nw.col(time)
    if unit in _SECONDS and civil:
        days = _days_since_epoch(col)
        if unit == "h":
            return days * 24 + col.dt.hour().cast(nw.Int64)
        return days if unit == "D" else days // 7
    if unit in _SECONDS:
        # In microseconds: pandas subtracts nanosecond times in int64 nanoseconds, which
        # overflow from 1900 to after 2192-04-11 (review finding R1); microseconds
        # reach 294,000 years. The cast floors (pandas, Polars, DuckDB alike) and periods
        # are whole hours at the finest, so no time changes its period.
        secs = (col.cast(nw.Datetime("us")) - nw.lit(_EPOCH)).dt.total_seconds()
        return (secs // _SECONDS[unit]).cast(nw.Int64)
    year = col.dt.year().cast(nw.Int64)
    month = col.dt.month().cast(nw.Int64)
    if unit == "M":
        return year * 12 + month - 1
    if unit == "Q":
        return year * 4 + (month - 1) // 3
    return year  # "Y"


def period_of(timestamp: Any, unit: str) -> int:
    """The period index of one timestamp (same definition as the aggregation).

    Examples
    --------
    >>> period_of("2024-01-07", "W") == period_of("2024-01-01", "W")  # Mon..Sun
    True
    >>> period_of("2024-01-08", "W") - period_of("2024-01-07", "W")
    1
    """
    check_unit(unit)
    ts = pd.Timestamp(timestamp)
    if unit in _SECONDS:
        secs = (ts - pd.Timestamp(_EPOCH)).total_seconds()
        return int(secs // _SECONDS[unit])
    if unit == "M":
        return ts.year * 12 + ts.month - 1
    if unit == "Q":
        return ts.year * 4 + (ts.month - 1) // 3
    return int(ts.year)


def _count(condition: nw.Expr) -> nw.Expr:
    """Rows where ``condition`` holds (booleans summed as integers: Spark refuses
    a sum of booleans)."""
    return condition.cast(nw.Int64).sum().alias("n")


def _collect(frame: Any) -> pd.DataFrame:
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()


def _cents(amount: str, *, integer: bool, missing: nw.Expr) -> nw.Expr:
    """An amount in whole cents (Int64).

    Integer amounts are multiplied by 100, exactly. Other amounts are rounded to the
    cent, half up, in double precision: ``floor(100 * x + 0.5)`` (two IEEE operations,
    the same on every engine). Amounts too large for 64-bit cents are replaced by 0
    here; they make the total of :func:`_amount_size` fail the check that follows.
    """
    x = nw.col(amount)
    size = nw.when(~missing).then(x.cast(nw.Float64).abs())
    if integer:
        ok = ~missing & (size < _MAX_AMOUNT)
        return nw.when(ok).then(x.cast(nw.Int64) * 100).otherwise(0)
    ok = ~missing & (size < _MAX_AMOUNT)
    clamped = nw.when(ok).then(x.cast(nw.Float64)).otherwise(0.0)
    return (clamped * 100 + 0.5).floor().cast(nw.Int64)


def _amount_size(amount: str) -> nw.Expr:
    """The total of the absolute amounts (a float, ``_Z``).

    It bounds every sum of cents the summary forms (see :func:`_check_amount_total`).
    One aggregate over the amount column alone, beside the summary, rather than a
    float per row and per cell carried through its group-bys (120-190 MB at 10M rows).
    Rows with a missing value (a NaN amount makes the total NaN) or a time before
    1900 are in it too: the total is read only once no such row is found, and then
    it is the total of the rows summarised.
    """
    return nw.col(amount).cast(nw.Float64).abs().sum().alias(_Z)


def _summary_query(
    frame: Any,
    *,
    customer: str,
    time: str,
    amount: str | None,
    amount_integer: bool,
    missing: nw.Expr,
    unit: str,
    end: pd.Timestamp,
    cal: pd.Timestamp | None,
    civil: bool,
    ordered: bool = False,
    first_by_window: bool = False,
    key: str | None = None,
) -> Any:
    """One lazy query: one row per customer (and one for a missing customer) with the
    calibration, holdout and left-out counts and sums.

    Rows -> customer-period cells (indicator columns derived first, then plain sums)
    -> one row per customer. The amount of a customer's first calibration period is
    the low bits of the smallest ``period * 2**42 + cents + 2**41`` over its cells (one
    more ``min``, no join); that needs periods below 2**21 and cell amounts below 2**41
    cents, which the caller checks, or else asks for ``first_by_window`` (a window
    over the cells: exact for any amount, slower).

    ``key`` groups the rows instead of ``customer`` (which still decides which rows
    are missing): the customers' integer codes on pandas (see :func:`_customer_codes`).
    """
    key = customer if key is None else key
    # Each row's place, in one integer: its period, or a negative code for a row left
    # out. Cells are (customer, place), so the counts of rows left out are cell sizes.
    after_end = nw.col(time) > nw.lit(end.to_pydatetime())
    is_missing = nw.col(_M)
    place = nw.when(is_missing).then(_MISSING_ROW).when(after_end).then(_AFTER_END_ROW)
    if cal is not None:
        # After calibration_end but in its period: not in the calibration (after its
        # end), nor in the holdout (whole periods after the calibration's last one).
        after_cal = nw.col(time) > nw.lit(cal.to_pydatetime())
        place = place.when(after_cal & (nw.col(_P) == period_of(cal, unit))).then(_GAP_ROW)
    located = place.otherwise(nw.col(_P))
    needed = [customer, time, *([amount] if amount is not None else [])]
    needed += [key] if key != customer else []
    columns = [nw.col(key), located.alias(_S)]
    # A cell's sums: its row count (``_K``, unless the cents carry it) and these columns.
    count_rows, summed = True, []
    k = nw.col(_K)
    if amount is not None:
        cents = _cents(amount, integer=amount_integer, missing=is_missing)
        if cal is None:
            # One sum per cell carries both numbers a cell needs: the cents of a placed
            # cell, the row count of a cell left out (1 per row; its amounts are not
            # used). One aggregate fewer on 10M rows (with a calibration, the holdout
            # cells need both, and the row count stays).
            cents = nw.when(is_missing | after_end).then(1).otherwise(cents)
            count_rows, k = False, nw.col(_A)
        columns.append(cents.alias(_A))
        summed = [_A]
    # A missing time gets a placeholder period (its row is counted as missing, not
    # placed): pandas cannot cast the NaN of a missing period to an integer.
    rows = (
        frame.select(*needed)
        .with_columns(nw.col(time).fill_null(value=_EPOCH).alias(_T), missing.alias(_M))
        .with_columns(_period_expr(_T, unit, civil=civil).alias(_P))
        .select(*columns)
    )
    # Customer-period cells: purchases of one period count once (amounts added).
    if key == _C:
        cells = _sorted_cells(rows, count_rows=count_rows, summed=summed)
    else:
        cells = _grouped_cells(rows, key, count_rows=count_rows, summed=summed)
    at = nw.col(_S)
    in_cal = (at >= 0) if cal is None else ((at >= 0) & (at <= period_of(cal, unit)))
    per_cell = [
        nw.when(in_cal).then(at).alias("first"),
        in_cal.cast(nw.Int64).alias("n_periods"),
        nw.when(at == _AFTER_END_ROW).then(k).otherwise(0).alias("n_after"),
        nw.when(at == _MISSING_ROW).then(k).otherwise(0).alias("n_missing"),
    ]
    if cal is not None:
        in_hold = at > period_of(cal, unit)
        per_cell += [
            in_hold.cast(nw.Int64).alias("frequency_holdout"),
            nw.when(in_hold).then(k).otherwise(0).alias("n_hold"),
            nw.when(at == _GAP_ROW).then(k).otherwise(0).alias("n_gap"),
        ]
    if amount is not None:
        # DuckDB sums BIGINT as HUGEINT: back to 64 bits (the total was bounded).
        a = nw.col(_A).cast(nw.Int64)
        per_cell.append(nw.when(in_cal).then(a).otherwise(0).alias("a_cal"))
        if cal is not None:
            per_cell.append(nw.when(in_hold).then(a).otherwise(0).alias("a_hold"))
        if first_by_window:
            first_period = nw.when(in_cal).then(at).min().over(key)
            first_cell = nw.when(in_cal & (at == first_period))
            # otherwise(0), not null: pandas would hold the cents as floats.
            per_cell.append(first_cell.then(a).otherwise(0).alias("first_amount"))
        else:
            fits = (at < _PERIOD_BOUND) & (a.abs() < _CELL_BOUND)
            packed = at * _CELL_SPAN + a + _CELL_BOUND
            # Never null (pandas would hold the keys as floats, rounded): cells outside
            # the calibration get the largest key, never the minimum of a customer in
            # the result; calibration cells whose key does not fit get -1, below every
            # key, which asks for the window query (_first_key_fits).
            first_key = nw.when(in_cal & fits).then(packed).when(in_cal).then(_UNKEYED)
            per_cell.append(first_key.otherwise(_NO_KEY).alias("first_key"))
    cells = cells.with_columns(*per_cell)
    # With the first period's key, the first period is its high bits (read after the
    # collect): one ``min`` fewer over the cells.
    keyed = amount is not None and not first_by_window
    per = [
        *([] if keyed else [nw.col("first").min()]),
        nw.col("first").max().alias("last"),
        nw.col("n_periods").sum(),
        nw.col("n_after").sum(),
        nw.col("n_missing").sum(),
    ]
    if cal is not None:
        per += [
            nw.col("frequency_holdout").sum(),
            nw.col("n_hold").sum(),
            nw.col("n_gap").sum(),
        ]
    if amount is not None:
        per += [
            nw.col("a_cal").sum(),
            nw.col("first_amount").sum() if first_by_window else nw.col("first_key").min(),
        ]
        if cal is not None:
            per.append(nw.col("a_hold").sum())
    summary = cells.group_by(key).agg(*per)
    if amount is not None:
        # One row, one number, joined to every customer's row in the same query (on
        # Polars the input is scanned once for both).
        size = frame.select(_amount_size(amount))
        summary = summary.join(size, how="cross")
    integers = [
        c
        for c in (
            "n_periods",
            "n_after",
            "n_missing",
            "frequency_holdout",
            "n_hold",
            "n_gap",
            "a_cal",
            "a_hold",
            "first_key",
            "first_amount",
        )
        if c in summary.columns
    ]
    summary = summary.with_columns(*[nw.col(c).cast(nw.Int64) for c in integers])
    if ordered:
        # Sorted on the engine (in parallel, where the engine has threads): the sort in
        # pandas that follows (_by_customer) then only checks the order. Text and
        # integer ids only, whose engine order is pandas' (code points, values); any
        # other order is sorted again there.
        summary = summary.sort(key, nulls_last=True)
    return summary


def _grouped_cells(rows: Any, key: str, *, count_rows: bool, summed: list[str]) -> Any:
    """The customer-period cells by the engine's group-by: the row count ``_K`` (if
    ``count_rows``) and the sums of ``summed`` per (``key``, place)."""
    sums = [nw.len().alias(_K)] if count_rows else []
    return rows.group_by(key, _S).agg(*sums, *[nw.col(c).sum() for c in summed])


def _sorted_cells(rows: Any, *, count_rows: bool, summed: list[str]) -> Any:
    """pandas: the customer-period cells of rows keyed by customer codes (``_C``),
    sorted by customer and place, by one sort in numpy.

    The same cells as ``group_by(_C, _S).agg(...)`` (row count ``_K`` if
    ``count_rows``, the sums of ``summed``, missing values skipped as pandas does),
    faster than narwhals can say it on pandas, whose group-by on two columns hashes
    the 10M (code, place) pairs (3.9 of 11 CPU seconds at 10M rows) and returns them
    in no order, so that the group-by per customer that follows reads its cells at
    random (0.4 s an aggregate, against 0.1 s over cells sorted by customer).

    The codes are dense (0 to n - 1, -1 for a missing id) and the places a narrow
    range, so a cell is one integer, ``code + 1`` in the high bits and the place
    (less the lowest) in the low ones; sorting them puts each cell's rows together,
    customers in order. Where the row numbers fit in the bits left, they ride in the
    lowest bits of the same integers: a plain sort (SIMD) instead of an argsort.
    """
    native = rows.collect().to_native()
    code = native[_C].to_numpy(dtype=np.int64)
    place = native[_S].to_numpy(dtype=np.int64)
    n = len(code)
    lowest = int(place.min()) if n else 0
    place_bits = (int(place.max()) - lowest).bit_length() if n else 0
    row_bits = (n - 1).bit_length() if n else 0
    code_bits = (int(code.max()) + 1).bit_length() if n else 0
    if n == 0 or code_bits + place_bits > 62:
        # No rows, or too many (customer, place) pairs for one integer: pandas' own
        # group-by (the same cells, in another order).
        return _grouped_cells(rows, _C, count_rows=count_rows, summed=summed)
    # In place: each temporary of 10M integers costs its page faults.
    cell = code + 1
    cell <<= place_bits
    cell |= place - lowest
    if code_bits + place_bits + row_bits <= 62:
        cell <<= row_bits
        cell |= np.arange(n, dtype=np.int64)
        cell.sort()
        order = cell & ((1 << row_bits) - 1)
        cell >>= row_bits
    else:
        order = np.argsort(cell)
        cell = cell[order]
    starts = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1])))
    first_of_cell = cell[starts]
    out = {
        _C: (first_of_cell >> place_bits) - 1,
        _S: (first_of_cell & ((1 << place_bits) - 1)) + lowest,
    }
    if count_rows:
        out[_K] = np.diff(np.append(starts, n))
    for c in summed:
        values = native[c].to_numpy()
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), 0.0, values)  # skipped, as pandas does
        out[c] = np.add.reduceat(values[order], starts)
    # copy=False: one block per column, not stacked into one (0.8 s at 10M rows).
    return nw.from_native(pd.DataFrame(out, copy=False), eager_only=True).lazy()


def _from_arrow(table: Any) -> pd.DataFrame:
    """An Arrow table in pandas: integers as ``Int64`` (exact, nullable; unsigned 64-bit
    ones as ``UInt64``, which holds ids of 2**63 and more: review finding R2), text as
    ``str``."""
    import pyarrow as pa

    def mapper(kind: Any) -> Any:
        if pa.types.is_uint64(kind):
            return pd.UInt64Dtype()
        if pa.types.is_integer(kind):
            return pd.Int64Dtype()
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _STR
        if pa.types.is_string_view(kind):
            return _STR
        return None

    return table.to_pandas(types_mapper=mapper)


def _customer_codes(frame: Any, customer: str) -> tuple[Any, str | None, Any]:
    """On pandas, text or integer customer ids as dense integer codes (a column
    ``_C``) and the distinct ids, which the per-customer table takes back; elsewhere
    the frame as it is.

    narwhals groups a pandas frame with ``DataFrame.groupby``, which hashes the text
    ids once per group-by (twice in the summary: cells, then customers; 4.3 of 12.5
    CPU seconds at 10M rows). Factorised once here, both group-bys hash integers, and
    the cells are formed by one sort of packed integers (:func:`_sorted_cells`), which
    needs codes from 0 to n - 1: integer ids are factorised too (9.5 to 6.8 CPU s at
    10M rows). The other engines group natively (and DuckDB, Polars and Spark frames
    are never materialised for it). A missing id gets code -1; its rows are missing
    anyway (the query reads ``customer`` for that) and raise before any code is taken
    back.
    """
    if frame.implementation is not nw.Implementation.PANDAS:
        return frame, None, None
    dtype = frame.collect_schema()[customer]
    if dtype != nw.String and not dtype.is_integer():
        return frame, None, None
    import pyarrow as pa

    native = frame.to_native()
    codes, uniques = pd.factorize(native[customer], use_na_sentinel=True)
    # The ids as every engine gives them (through Arrow: text as ``str``, integers as
    # ``Int64``).
    table = pa.Table.from_pandas(pd.DataFrame({customer: uniques}), preserve_index=False)
    ids = _from_arrow(table)[customer]
    native = native.assign(**{_C: codes.astype(np.int64)})
    return nw.from_native(native, eager_only=True), _C, ids


def _collect_exact(query: Any) -> pd.DataFrame:
    """The small per-customer table, integers exact (through Arrow, nullable) and the
    customer id as text (``str``), integers or categories, the same on every engine."""

    out = _from_arrow(query.collect().to_arrow())
    for column in out.columns:
        if isinstance(out[column].dtype, pd.Int64Dtype) and column not in ("first", "last"):
            out[column] = out[column].fillna(0)
    return out


def _first_key_fits(base: pd.DataFrame) -> bool:
    """Whether every customer's first-period key was formed (see _summary_query): no
    calibration cell had a period of 2**21 or more, or cents of 2**41 or more (its key
    is then -1, the customer's minimum). Read once the total has bounded the cells'
    sums, so that they are exact."""
    return bool((base["first_key"].to_numpy(dtype=np.int64) != _UNKEYED).all())


def _first_amount(base: pd.DataFrame, first: np.ndarray) -> np.ndarray:
    """Cents of each customer's first calibration period, from its key (or, from the
    window query, the cents themselves)."""
    if "first_amount" in base.columns:
        return base["first_amount"].to_numpy(dtype=np.int64)
    key = base["first_key"].to_numpy(dtype=np.int64)
    return key - first * _CELL_SPAN - _CELL_BOUND


def _mean_amount(total_cents: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mean amount per purchase period from whole cents (0 without purchases).

    One division of exact integers, so one rounding: the same float on every engine.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total_cents / (100 * n)
    return np.where(n > 0, mean, 0.0)


def rfm_summary(
    transactions: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    observation_end: Any,
    unit: str = "W",
    calibration_end: Any = None,
) -> pd.DataFrame:
    """One row per customer: frequency, recency, T (and monetary value, holdout).

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction (pandas, Polars, DuckDB, ...).
    customer : str
        Customer id column.
    time : str
        Timestamp (or date) column.
    amount : str, optional
        Transaction value; adds ``monetary_value`` (and ``monetary_value_holdout``).
    observation_end : timestamp
        End of observation. Transactions after it are left out (counted in
        ``attrs['hxmetrics']['excluded']``). With tz-aware times, a naive timestamp is
        local time in their zone; with naive times, it must be naive too.
    unit : {"h", "D", "W", "M", "Q", "Y"}, default "W"
        The calendar period time is counted in (ISO weeks for ``"W"``).
    calibration_end : timestamp, optional
        Split into calibration (transactions up to and including it) and holdout
        (whole periods after its period). Transactions after it in its own period are
        in neither and counted as excluded; a period boundary loses none.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by customer id (the same order on every engine);
        columns: the id (named ``customer``, so that the result joins to other tables
        and survives ``to_csv(index=False)``), ``frequency``, ``recency``, ``T``
        (periods), ``monetary_value`` if ``amount``; with ``calibration_end`` also
        ``frequency_holdout``, ``duration_holdout`` and ``monetary_value_holdout``.
        The index holds the ids too (unnamed), for lookups by customer.
        ``attrs``: ``hx_unit``, ``observation_end``, ``calibration_end`` and
        ``hxmetrics`` (``measure``, ``customer``, ``unit``, ``time_zone`` and
        ``excluded``: rows or customers left out, ``{reason: count}``; also at
        ``attrs['excluded']``).

    Raises
    ------
    InputTableError
        Missing columns, a non-datetime time column, missing customers, times or
        amounts, times before 1900-01-01 (never dropped silently); amounts whose
        total is not a finite number.
    ParameterError
        A tz-aware ``observation_end``/``calibration_end`` with naive times.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.clv import rfm_summary
    >>> tx = pd.DataFrame({"id": ["a", "a", "a", "b"],
    ...     "ts": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-20", "2024-01-10"]),
    ...     "value": [10.0, 5.0, 20.0, 7.0]})
    >>> rfm_summary(tx, customer="id", time="ts", amount="value",
    ...             observation_end="2024-01-31", unit="W")
      id  frequency  recency  T  monetary_value
    a  a          1        2  4            20.0
    b  b          0        0  3             0.0
    """
    check_unit(unit)
    frame = to_narwhals(transactions)
    needed = [customer, time] + ([amount] if amount is not None else [])
    require_columns(frame, needed, table="transactions")
    schema = frame.collect_schema()
    dtype = schema[time]
    zone = getattr(dtype, "time_zone", None) if isinstance(dtype, nw.Datetime) else None
    if dtype == nw.Date:
        frame = frame.with_columns(nw.col(time).cast(nw.Datetime("us")))
    elif zone is not None:
        # Periods are calendar periods of the local time: a purchase at 23:30 on a
        # Sunday in Berlin is in that week, whatever the UTC clock says.
        frame = frame.with_columns(nw.col(time).dt.replace_time_zone(None))
    elif not isinstance(dtype, nw.Datetime) and dtype != nw.Datetime:
        raise InputTableError(
            f"transactions: column {time!r} must hold timestamps (datetime); got {dtype}. "
            "Hint: parse it first, e.g. pd.to_datetime(df[time]).",
            table="transactions",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    if amount is not None and not schema[amount].is_numeric():
        raise InputTableError(
            f"transactions: column {amount!r} must be numeric; got {schema[amount]}.",
            table="transactions",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    if schema[customer] == nw.Object:
        _check_id_kinds(frame, customer)
    gaps = nw.col(customer).is_null() | nw.col(time).is_null()
    if amount is not None:
        gaps = gaps | nw.col(amount).is_null()
        if schema[amount].is_float():
            gaps = gaps | nw.col(amount).is_nan()
    # Dates before 1900-01-01 are not supported (as for observation_end): hours, days
    # and weeks are counted from it, so an earlier time has a negative period, which the
    # query would read as one of its codes for rows left out (-1, -2, -3) or leave out
    # of every count; months, quarters and years are calendar numbers, negative before
    # year 0 (review finding R3), and one rule for every unit is the simpler promise.
    # Such rows are refused with the missing ones (counted in the same query), each
    # named by its row.
    missing = gaps | (nw.col(time) < nw.lit(_EPOCH))
    end = _local(observation_end, zone, "observation_end")
    end_p = period_of(end, unit)
    cal = _local(calibration_end, zone, "calibration_end") if calibration_end is not None else None
    if cal is not None and cal > end:
        raise ParameterError(f"calibration_end ({cal}) must not be after observation_end ({end}).")
    if end < pd.Timestamp(_EPOCH) or (cal is not None and cal < pd.Timestamp(_EPOCH)):
        raise ParameterError("dates before 1900-01-01 are not supported.")

    # One lazy query, collected once: every count, check and sum below is in it.
    coded, key, ids = _customer_codes(frame, customer)
    lazy = coded.lazy() if isinstance(coded, nw.DataFrame) else coded
    options = {
        "customer": customer,
        "time": time,
        "amount": amount,
        "amount_integer": amount is not None and schema[amount].is_integer(),
        "missing": missing,
        "unit": unit,
        "end": end,
        "cal": cal,
        "civil": frame.implementation.is_spark_like(),
        # Codes are in no order of the ids: the rows are sorted once the ids are back.
        "ordered": key is None and (schema[customer] == nw.String or schema[customer].is_integer()),
        "key": key,
    }
    # Amounts of 1e308 overflow the total of their sizes (refused just below); pandas
    # runs the query as it is built, so the whole of it is inside.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            base = _collect_exact(_summary_query(lazy, **options))
        except Exception:
            # Engines that check their integer arithmetic (DuckDB's casts, Spark's sums
            # in ANSI mode) raise their own error when a sum of cents passes 64 bits,
            # before the total can refuse it (tests/measures/clv/test_rfm_amounts.py): the
            # checks below then run on their own, and this error is raised again only
            # if neither refuses the rows.
            if amount is not None:
                _refuse_rows_first(frame, amount, missing, gaps, needed, time=time)
            raise
    n_missing = int(base["n_missing"].sum())
    if n_missing:
        _raise_missing(frame, missing, gaps, needed, n_missing, time=time)
    if amount is not None:
        # The same total on every row (none without rows).
        total = float(base[_Z].iloc[0]) if len(base) else 0.0
        _check_amount_total(frame, amount, total, missing)
        if not _first_key_fits(base):
            # Amounts of billions in one period (or hourly periods after 2139): the
            # first period's amount by a window instead, a second query.
            with np.errstate(over="ignore", invalid="ignore"):
                base = _collect_exact(_summary_query(lazy, first_by_window=True, **options))
    if "first" not in base.columns:
        # The high bits of the first period's key (formed for every cohort customer,
        # as _first_key_fits checked): its period.
        base["first"] = base["first_key"] // _CELL_SPAN
    if ids is not None:
        base[customer] = ids.array.take(base[key].to_numpy(dtype=np.int64))
    excluded = {"transactions_after_observation_end": int(base["n_after"].sum())}
    if cal is not None:
        excluded["transactions_after_calibration_end_in_its_period"] = int(base["n_gap"].sum())
    cohort = (base["n_periods"] > 0).to_numpy()
    if cal is not None:
        # Customers whose first purchase is after calibration_end, and their holdout
        # purchases, belong to no row of the result: counted.
        newcomers = ~cohort & ((base["n_hold"] + base["n_gap"]) > 0).to_numpy()
        excluded["customers_first_purchase_after_calibration_end"] = int(newcomers.sum())
        excluded["transactions_of_customers_first_purchase_after_calibration_end"] = int(
            base.loc[newcomers, "n_hold"].sum()
        )
    base = base.loc[cohort]
    ref_p = end_p if cal is None else period_of(cal, unit)
    out = pd.DataFrame(index=pd.Index(base[customer], name=customer))
    first = base["first"].to_numpy(dtype=np.int64)
    freq = base["n_periods"].to_numpy(dtype=np.int64) - 1
    out["frequency"] = freq
    out["recency"] = base["last"].to_numpy(dtype=np.int64) - first
    out["T"] = ref_p - first
    if amount is not None:
        first_amount = _first_amount(base, first)
        repeat = base["a_cal"].to_numpy(dtype=np.int64) - first_amount
        out["monetary_value"] = _mean_amount(repeat, freq)
    if cal is not None:
        f_h = base["frequency_holdout"].to_numpy(dtype=np.int64)
        out["frequency_holdout"] = f_h
        out["duration_holdout"] = np.full(len(out), end_p - ref_p, dtype=np.int64)
        if amount is not None:
            out["monetary_value_holdout"] = _mean_amount(
                base["a_hold"].to_numpy(dtype=np.int64), f_h
            )
    for c in ("frequency", "recency", "T"):
        out[c] = out[c].astype("int64")
    out = _by_customer(out, customer)
    out.attrs.update(
        {
            UNIT_ATTR: unit,
            "unit_meaning": UNITS[unit],
            "observation_end": str(end),
            "calibration_end": None if cal is None else str(cal),
            "excluded": excluded,
            # The result protocol's metadata (one row per customer, so the counts of
            # rows left out are here rather than in n_excluded_* columns).
            "hxmetrics": {
                "measure": "rfm_summary",
                "customer": customer,
                "unit": unit,
                "time_zone": zone,
                "excluded": dict(excluded),
            },
        }
    )
    return out


def _by_customer(out: pd.DataFrame, customer: str) -> pd.DataFrame:
    """The customer id as the first column and as the index, rows sorted by it.

    The order is the ids' own (numbers by value, text by code point), whatever the
    engine returned: a categorical id (Polars ``Categorical``, pandas ``category``) is
    sorted by its values, not by its categories' order, so every engine agrees. The
    index keeps the ids (unnamed, so that ``reset_index`` and ``groupby(customer)``
    are not ambiguous) for lookups and joins by customer.
    """
    if isinstance(out.index.dtype, pd.CategoricalDtype):
        out.index = out.index.astype(out.index.dtype.categories.dtype)
    out = out.sort_index(kind="stable").rename_axis(None)
    # The index's own array: no round trip of a million text ids through Python objects.
    out.insert(0, customer, out.index.array)
    return out


def _local(value: Any, zone: str | None, name: str) -> pd.Timestamp:
    """A timestamp argument as local wall time of the time column's zone.

    With tz-aware times, a tz-aware argument is converted to their zone and a naive one
    read as local time there. With naive times, a tz-aware argument is ambiguous.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a timestamp; got {value!r}.") from exc
    if pd.isna(ts):
        raise ParameterError(f"{name} must be a timestamp; got {value!r}.")
    if ts.tzinfo is None:
        return ts
    if zone is None:
        raise ParameterError(
            f"{name} ({ts}) has a time zone but the time column has none: compare like "
            f"with like, e.g. pass {ts.tz_localize(None)} (local time) or localise the "
            "column first (df[time].dt.tz_localize(...))."
        )
    return ts.tz_convert(zone).tz_localize(None)


def _raise_missing(
    frame: Any,
    missing: nw.Expr,
    gaps: nw.Expr,
    needed: list[str],
    n_missing: int,
    *,
    time: str,
) -> None:
    """Refuse rows with a missing customer, time or amount (``gaps``), or a time before
    1900 (the rest of the ``n_missing`` rows of ``missing``).

    The message tells only what is true of the table's rows: missing values, early
    times, or both (counted by one more query, on this error only).
    """
    n_gaps = int(_collect(frame.select(_count(gaps)))["n"].iloc[0])
    told = [f"a missing {', '.join(needed)}"] if n_gaps else []
    if n_gaps < n_missing:
        told.append(f"a {time} before 1900-01-01 (dates before it are not supported)")
    rows = invalid_rows(frame, missing, columns=needed, positions=True)
    # Which of the columns is missing, by row label: the customer column holds
    # identifiers, whose values never enter a message.
    nulls = rows[needed].isna()
    absent = [", ".join(c for c in needed if nulls.loc[i, c]) for i in rows.index]
    # A row with a missing value is reported as such (even if its time is early too).
    columns = [a or time for a in absent]
    shown = "; ".join(
        (f"row {label}: " if label is not None and not pd.isna(label) else "")
        + (f"missing {a}" if a else f"{time} before 1900-01-01")
        for label, a in zip(rows["row"], absent, strict=True)
    )
    raise InputTableError(
        f"transactions: {n_missing} row(s) have {' or '.join(told)}; "
        f"they cannot be placed in time or attributed, e.g. {shown}.",
        table="transactions",
        failure_cases=pd.DataFrame(
            {
                "column": columns,
                "check": ["not_null" if a else "from_1900" for a in absent],
                "failure_case": None,
                "index": rows["row"].tolist(),
            }
        ),
    )


def _refuse_rows_first(
    frame: Any, amount: str, missing: nw.Expr, gaps: nw.Expr, needed: list[str], *, time: str
) -> None:
    """The checks of rows and amounts, in their order, by queries of their own (after
    the summary query failed): missing values or early times, then the total."""
    n_missing = int(_collect(frame.select(_count(missing)))["n"].iloc[0])
    if n_missing:
        _raise_missing(frame, missing, gaps, needed, n_missing, time=time)
    total = _collect(frame.select(_amount_size(amount)))[_Z].iloc[0]
    # A missing total is the sum of no rows (a NaN amount is a missing row, told above).
    _check_amount_total(frame, amount, 0.0 if pd.isna(total) else float(total), missing)


def _id_kind(value: Any) -> str:
    """The kind of one id in a column of Python objects (see :func:`_check_id_kinds`)."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, bool | np.bool_):  # before numbers: True is an int in Python
        return "boolean"
    if isinstance(value, numbers.Number):
        return "number"
    return type(value).__name__


def _check_id_kinds(frame: Any, customer: str) -> None:
    """Refuse customer ids in a column of Python objects that are not of one kind.

    Every engine gives the ids back as one typed column (through Arrow). A pandas
    object column of ids of several kinds cannot come back as one: 1 and "a" raised
    a raw ArrowTypeError (with an id in its message), True and 1 were one customer,
    text beside bytes came back as bytes. Numbers of several types (1, 2.5, Decimal)
    are one kind and come back as they did. Checked in C first (``infer_dtype``); the
    ids are read one by one only when it finds several types. A Polars ``Object``
    column holds Python objects that Polars groups by no value of theirs: refused as
    a column, whatever its ids.
    """
    if frame.implementation.is_polars():
        raise InputTableError(
            f"transactions: column {customer!r} failed check one_kind: expected customer "
            "ids of one type the engine groups by value (String or an integer type); got "
            "Object (Python objects). Hint: cast it first, e.g. to String.",
            table="transactions",
            failure_cases=pd.DataFrame(
                {"column": [customer], "check": "one_kind", "failure_case": "Object", "index": None}
            ),
        )
    if not frame.implementation.is_pandas_like():
        return  # no other engine holds Python objects
    values = frame.to_native()[customer]
    if pd.api.types.infer_dtype(values, skipna=True) not in ("mixed", "mixed-integer"):
        return
    kinds = values[values.notna().to_numpy()].map(_id_kind)
    first = kinds.drop_duplicates()  # the first row of each kind, in the table's order
    if len(first) < 2:
        return
    shown = " and ".join(f"{kind} (e.g. row {label})" for label, kind in first.items())
    raise InputTableError(
        f"transactions: column {customer!r} failed check one_kind: expected customer ids "
        f"of one kind (text, numbers, ...); found {shown} (ids not shown). Hint: convert "
        f"them to one first, e.g. df[{customer!r}].astype(str).",
        table="transactions",
        failure_cases=pd.DataFrame(
            {
                "column": customer,
                "check": "one_kind",
                "failure_case": first.tolist(),
                "index": first.index.tolist(),
            }
        ),
    )


def _check_amount_total(frame: Any, amount: str, total: float, missing: nw.Expr) -> None:
    """Refuse amounts whose total is too large for exact sums in whole cents.

    The total of the absolute amounts bounds every sum the summary forms (per period,
    per customer, repeat purchases), so one total below 2**62 cents makes all of them
    exact 64-bit integers. Example rows (a second query, on this error only) are
    those with an amount of at least 1/n of the limit.
    """
    if np.isfinite(total) and total < _MAX_AMOUNT:
        return
    n_rows = max(int(_collect(frame.select(_count(~missing)))["n"].iloc[0]), 1)
    big = ~missing & (nw.col(amount).cast(nw.Float64).abs() >= _MAX_AMOUNT / n_rows)
    rows = invalid_rows(frame, big, columns=[amount], positions=True)
    shown = "; ".join(
        f"row {label}: {value:g}" if label is not None and not pd.isna(label) else f"{value:g}"
        for value, label in zip(rows[amount], rows["row"], strict=True)
    )
    n_big = int(_collect(frame.select(_count(big)))["n"].iloc[0])
    raise InputTableError(
        f"transactions: column {amount!r} failed check finite_total: expected amounts whose "
        f"sum in whole cents is below 2**62 ({_MAX_AMOUNT:.3g} in total); {n_big} row(s) "
        f"are so large that it is not, e.g. {shown}. "
        "Hint: express amounts in a larger currency unit (e.g. thousands).",
        table="transactions",
        failure_cases=pd.DataFrame(
            {
                "column": amount,
                "check": "finite_total",
                "failure_case": rows[amount].tolist(),
                "index": rows["row"].tolist(),
            }
        ),
    )
