"""rfm_summary's sums of cents (session 11): the total of the absolute amounts is one
number beside the query, and the first period's key says itself when it does not fit.

Before, each row and each customer-period cell carried its amount's size (a float) to
a per-customer total, read twice: its sum bounded every sum of cents, and each
customer's bounded its cells, so that the first period's amount fitted the key's low
bits (else a second query, by a window). Now the bound is one aggregate beside the
summary, and a calibration cell whose cents or period do not fit the key sets the
customer's key to -1, which asks for the window query: exactly the customers whose
key would be wrong, no more.
"""

from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from hxmetrics.errors import InputTableError
from hxmetrics.measures.clv import rfm, rfm_summary

from ..conftest import SPARK_PANDAS_WARNING

_KW = {"customer": "id", "time": "ts", "amount": "v", "observation_end": "2024-02-25"}
_KEY_BOUND = 2**41  # cents: a cell's amount must be below it in absolute value


def _natives(tx: pd.DataFrame) -> list[object]:
    return [tx, pl.from_pandas(tx).lazy(), duckdb.connect().from_df(tx)]


def _log(first_week: list[float]) -> pd.DataFrame:
    """Customer a: ``first_week``'s amounts on Monday 1 January, then 2.50 and 7.25 in
    the next two weeks; b: one purchase."""
    n = len(first_week)
    return pd.DataFrame(
        {
            "id": pd.Series(["a"] * (n + 2) + ["b"], dtype="str"),
            "ts": pd.to_datetime(["2024-01-01"] * n + ["2024-01-08", "2024-01-15", "2024-01-03"]),
            "v": [*first_week, 2.50, 7.25, 1.0],
        }
    )


def _queries(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Spy: ``first_by_window`` of each summary query rfm_summary builds."""
    calls: list[bool] = []
    real = rfm._summary_query

    def spy(*args: object, first_by_window: bool = False, **kwargs: object) -> object:
        calls.append(first_by_window)
        return real(*args, first_by_window=first_by_window, **kwargs)

    monkeypatch.setattr(rfm, "_summary_query", spy)
    return calls


@pytest.mark.parametrize(
    ("first_week", "cents", "window"),
    [
        # 21,990,232,555.00 + 0.51 = 2**41 - 1 cents: the largest that fits the key.
        ([21_990_232_555.0, 0.51], _KEY_BOUND - 1, False),
        # One cent more (2**41) or as much below zero: the window query.
        ([21_990_232_555.0, 0.52], _KEY_BOUND, True),
        ([-21_990_232_555.0, -0.52], -_KEY_BOUND, True),
        ([-21_990_232_555.0, -0.51], -(_KEY_BOUND - 1), False),
    ],
)
def test_first_period_cents_at_the_keys_bound(
    monkeypatch: pytest.MonkeyPatch, first_week: list[float], cents: int, window: bool
) -> None:
    calls = _queries(monkeypatch)
    tx = _log(first_week)
    outs = [rfm_summary(native, **_KW, unit="W") for native in _natives(tx)]
    # One query each; a second, by the window, where the key does not fit.
    assert calls == [False, True] * 3 if window else [False] * 3
    # a: three weeks, the first one's cents left out of the repeat mean.
    total = cents + 250 + 725
    for out in outs:
        assert out.loc["a", "frequency"] == 2
        assert out.loc["a", "monetary_value"] == (total - cents) / 200  # 4.875
        assert out.loc["b", "monetary_value"] == 0.0
        pd.testing.assert_frame_equal(out, outs[0], check_exact=True)


def test_large_totals_in_small_cells_keep_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each week below 2**41 cents, the customer's total above 2**40: the key is exact,
    # so one query (before, the per-customer total asked for the window query).
    calls = _queries(monkeypatch)
    week = 15_000_000_000.0  # 1.5e12 cents a week, 2**40 is 1.1e12
    tx = pd.DataFrame(
        {
            "id": pd.Series(["a"] * 4, dtype="str"),
            "ts": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]),
            "v": [week, -week, week, 0.07],
        }
    )
    out = rfm_summary(tx, **_KW, unit="W")
    assert calls == [False]
    assert out.loc["a", "monetary_value"] == (-week * 100 + week * 100 + 7) / 300
    for native in _natives(tx)[1:]:
        pd.testing.assert_frame_equal(rfm_summary(native, **_KW, unit="W"), out, check_exact=True)


def test_a_total_of_2_62_cents_is_refused_though_no_row_is(monkeypatch: pytest.MonkeyPatch) -> None:
    # Three amounts of 2e16 (each below the 4.6e16 limit) in separate weeks and
    # customers: only the total tells that a 64-bit sum of cents could overflow.
    tx = pd.DataFrame(
        {
            "id": pd.Series(["a", "b", "c", "c"], dtype="str"),
            "ts": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]),
            "v": [2e16, -2e16, 2e16, 1.0],
        }
    )
    for native in _natives(tx):
        with pytest.raises(InputTableError, match="finite_total") as info:
            rfm_summary(native, **_KW, unit="W")
        assert "3 row(s) are so large" in str(info.value)
    # Just below the limit in total: kept, and exact.
    ok = tx.assign(v=[1.5e16, -1.5e16, 1.5e16, 1.0])
    out = rfm_summary(ok, **_KW, unit="W")
    assert out.loc["c", "monetary_value"] == 1.0


def test_rows_refused_as_missing_are_told_before_their_amounts() -> None:
    # A huge amount on a row without a customer: the missing customer is the error
    # (the total counts every amount, but is read only once no row is missing).
    tx = _log([3.0])
    tx.loc[0, "v"] = 1e300
    tx.loc[0, "id"] = None
    for native in _natives(tx):
        with pytest.raises(InputTableError, match="row 0: missing id") as info:
            rfm_summary(native, **_KW, unit="W")
        assert "finite_total" not in str(info.value)


def test_cell_sums_past_64_bits_are_refused_by_name_on_every_engine() -> None:
    # Three amounts of 4e16 (each below the limit) in one week of one customer: the
    # cell's sum, 1.2e19 cents, is past 64 bits. Before, DuckDB raised its own
    # ConversionException (the cast of the cell's 128-bit sum) before the total was
    # read; pandas and Polars wrap around, and the total refuses them after.
    tx = pd.DataFrame(
        {
            "id": pd.Series(["a", "a", "a", "b"], dtype="str"),
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-08"]),
            "v": [4e16, 4e16, 4e16, 1.0],
        }
    )
    messages = set()
    for native in _natives(tx):
        with pytest.raises(InputTableError, match="finite_total") as info:
            rfm_summary(native, **_KW, unit="W")
        messages.add(str(info.value))
    assert len(messages) == 1
    assert "3 row(s) are so large" in messages.pop()
    # A missing customer among them is told first, as without the overflow.
    tx.loc[3, "id"] = None
    for native in _natives(tx):
        with pytest.raises(InputTableError, match="row 3: missing id"):
            rfm_summary(native, **_KW, unit="W")


@pytest.mark.spark
# pyspark's own notice that it does not fully support pandas 3 (see conftest).
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_sums_past_64_bits_and_the_keys_bound_on_spark(spark: Any) -> None:
    # Spark 4 checks its sums (ANSI mode): the cell's 1.2e19 cents raised its own
    # ARITHMETIC_OVERFLOW before the total was read; now pandas' error, word for word.
    from pyspark.sql import functions as F

    def native(tx: pd.DataFrame) -> Any:
        frame = spark.createDataFrame(pa.Table.from_pandas(tx, preserve_index=False))
        return frame.withColumn("ts", F.col("ts").cast("timestamp_ntz"))  # naive times

    tx = pd.DataFrame(
        {
            "id": pd.Series(["a", "a", "a", "b"], dtype="str"),
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-08"]),
            "v": [4e16, 4e16, 4e16, 1.0],
        }
    )
    with pytest.raises(InputTableError, match="finite_total") as want:
        rfm_summary(tx, **_KW, unit="W")
    with pytest.raises(InputTableError, match="finite_total") as got:
        rfm_summary(native(tx), **_KW, unit="W")
    assert str(got.value) == str(want.value)
    # A first week of 2**41 cents (the window query) and of 2**41 - 1 (the key).
    for cents in ([21_990_232_555.0, 0.52], [21_990_232_555.0, 0.51]):
        log = _log(cents)
        expected = rfm_summary(log, **_KW, unit="W")
        pd.testing.assert_frame_equal(
            rfm_summary(native(log), **_KW, unit="W"), expected, check_exact=True
        )
