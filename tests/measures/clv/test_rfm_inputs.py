"""rfm_summary on careless inputs (session 11): ids of mixed kinds, and an error about
missing rows that says only what is true of them."""

import decimal

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from hxmetrics.errors import InputTableError
from hxmetrics.measures.clv import rfm_summary

_KW = {"customer": "id", "time": "ts", "observation_end": "2024-02-01", "unit": "W"}
_TIMES = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-20", "2024-01-10", "2024-01-11"])


def _log(ids: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object),
            "ts": _TIMES[: len(ids)],
            "v": [1.0, 2.0, 3.0, 4.0, 5.0][: len(ids)],
        }
    )


# --------------------------------------------------------------- ids of mixed kinds


@pytest.mark.parametrize(
    ("ids", "kinds", "rows"),
    [
        # Before: ArrowInvalid "Could not convert 'a' with type str" (an id in the message).
        ([1, "a", 2, "b"], ["number", "text"], [0, 1]),
        # Before: ArrowTypeError "Expected bytes, got a 'int' object".
        (["a", 1, "b", 2], ["text", "number"], [0, 1]),
        # Before: ArrowInvalid (True and 1 were one customer in the group-by).
        ([True, 1, 2, False], ["boolean", "number"], [0, 1]),
        # Before: no error, the text ids came back as bytes (b"a" for "a").
        (["a", b"b", "a", "c"], ["text", "bytes"], [0, 1]),
        # A missing id among them: the kinds are told first (the missing row after).
        ([None, 7, "x", 7, "y"], ["number", "text"], [1, 2]),
    ],
)
@pytest.mark.parametrize("amount", [None, "v"])
def test_ids_of_mixed_kinds_on_pandas_are_a_named_error(
    ids: list[object], kinds: list[str], rows: list[int], amount: str | None
) -> None:
    tx = _log(ids).set_axis([10 * i for i in range(len(ids))])  # labels, not positions
    with pytest.raises(InputTableError, match="'id' failed check one_kind") as info:
        rfm_summary(tx, **_KW, amount=amount)
    cases = info.value.failure_cases
    assert cases["check"].tolist() == ["one_kind"] * len(kinds)
    assert cases["column"].tolist() == ["id"] * len(kinds)
    assert cases["failure_case"].tolist() == kinds
    assert cases["index"].tolist() == [10 * r for r in rows]
    message = str(info.value)
    for kind, row in zip(kinds, rows, strict=True):
        assert f"{kind} (e.g. row {10 * row})" in message
    # No text id in the message (the numbers would be found in the row labels).
    for value in ids:
        if isinstance(value, (str, bytes)):
            assert repr(value) not in message
    assert info.value.table == "transactions"


@pytest.mark.parametrize(
    "ids",
    [
        [1, 2, 1, 3],  # integers only
        [1, 2.5, 1, 3],  # numbers: integers and floats
        [decimal.Decimal(1), 2, decimal.Decimal(1), 3],  # numbers: decimals and integers
    ],
)
def test_object_ids_of_one_kind_keep_their_summary(ids: list[object]) -> None:
    # A guard for the check above (it passes before and after it): ids of one kind in
    # an object column are summarised as before, here as their numbers are.
    out = rfm_summary(_log(ids), **_KW, amount="v")
    numbers = rfm_summary(_log(ids).astype({"id": float}), **_KW, amount="v")
    np.testing.assert_array_equal(out["id"].astype(float), numbers["id"])
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_array_equal(out[column].to_numpy(), numbers[column].to_numpy())


@pytest.mark.parametrize("ids", [[1, "a", 2, "b"], ["a", "b", "a", "c"]])
def test_polars_object_ids_are_a_named_error(ids: list[object]) -> None:
    # Before: no error, and the ids came back as the bytes of Python object addresses
    # (Polars groups an Object column by no value of the ids).
    tx = pl.DataFrame(
        {"id": pl.Series(ids, dtype=pl.Object), "ts": _TIMES[: len(ids)], "v": [1.0] * len(ids)}
    )
    for native in (tx, tx.lazy()):
        with pytest.raises(InputTableError, match="'id' failed check one_kind") as info:
            rfm_summary(native, **_KW, amount="v")
        assert "String" in str(info.value)  # the hint: cast to text or integers
        assert info.value.failure_cases["index"].isna().all()  # the column's type, no row


# ------------------------------------------------------ the missing-rows error


def _engines(tx: pd.DataFrame) -> list[object]:
    return [tx, pl.from_pandas(tx).lazy(), duckdb.connect().from_df(tx)]


def test_missing_rows_without_early_times_say_nothing_of_1900() -> None:
    # Before: "... have a missing id, ts, v or a ts before 1900-01-01 (dates before it
    # are not supported)", with no time before 1900 in the table.
    tx = _log(["a", "a", "b", "c", "c"]).astype({"id": "str"})
    tx.loc[1, "id"] = None
    tx.loc[3, "v"] = np.nan
    for native in _engines(tx):
        with pytest.raises(InputTableError) as info:
            rfm_summary(native, **_KW, amount="v")
        message = str(info.value)
        assert "2 row(s) have a missing id, ts, v; they cannot be placed" in message
        assert "1900" not in message
        assert info.value.failure_cases["check"].tolist() == ["not_null", "not_null"]


def test_early_times_alone_are_told_as_such() -> None:
    tx = _log(["a", "a", "b", "c", "c"]).astype({"id": "str"})
    tx.loc[[0, 4], "ts"] = pd.Timestamp("1899-06-01")
    for native in _engines(tx):
        with pytest.raises(InputTableError) as info:
            rfm_summary(native, **_KW, amount="v")
        message = str(info.value)
        assert message.startswith(
            "transactions: 2 row(s) have a ts before 1900-01-01 (dates before it are not "
            "supported); they cannot be placed"
        )
        assert "missing" not in message
        assert info.value.failure_cases["check"].tolist() == ["from_1900", "from_1900"]


def test_missing_and_early_rows_are_both_told() -> None:
    # Beyond the five example rows, which are all missing amounts: what is told is
    # true of the table's rows, not only of the examples. (It passed before too, when
    # both were always told; it fails if the message is read from the examples.)
    tx = pd.DataFrame(
        {
            "id": pd.Series([f"c{i % 5}" for i in range(40)], dtype="str"),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(40), unit="h"),
            "v": np.arange(40, dtype=float),
        }
    )
    tx.loc[[2, 3, 4, 5, 6, 7], "v"] = np.nan  # the five examples are all missing amounts
    tx.loc[[30, 31], "ts"] = pd.Timestamp("1850-01-01")
    tx.loc[31, "id"] = None  # missing and early: told as missing
    for native in _engines(tx):
        with pytest.raises(InputTableError) as info:
            rfm_summary(native, **_KW, amount="v")
        message = str(info.value)
        assert message.startswith(
            "transactions: 8 row(s) have a missing id, ts, v or a ts before 1900-01-01 "
            "(dates before it are not supported); they cannot be placed"
        )
