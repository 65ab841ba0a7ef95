"""rfm_summary's pandas cells by one sort (``_sorted_cells``) against the engines' group-by.

On pandas, text and integer ids are grouped as integer codes and the customer-period cells are
formed by sorting packed integers in numpy rather than by narwhals' group-by. These
tests hold the two to the same cells, and the whole summary on pandas to the one
Polars and DuckDB compute with the plain query, bit for bit.
"""

from __future__ import annotations

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError
from hxmetrics.measures.clv import rfm_summary
from hxmetrics.measures.clv.rfm import _A, _C, _K, _S, _Z, _sorted_cells, period_of


def _rows(code: np.ndarray, place: np.ndarray, cents: np.ndarray, size: np.ndarray) -> nw.LazyFrame:
    frame = pd.DataFrame({_C: code, _S: place, _A: cents, _Z: size})
    return nw.from_native(frame, eager_only=True).lazy()


def _by_group_by(rows: nw.LazyFrame, count_rows: bool) -> pd.DataFrame:
    sums = [nw.len().alias(_K)] if count_rows else []
    cells = rows.group_by(_C, _S).agg(*sums, nw.col(_A).sum(), nw.col(_Z).sum())
    return cells.collect().to_native()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in (_C, _S, _K, _A, _Z) if c in frame.columns]
    out = frame[columns].sort_values([_C, _S]).reset_index(drop=True)
    return out.astype({c: "int64" for c in columns if c != _Z})


@pytest.mark.parametrize(
    ("highest_place", "path"),
    [
        # 300 codes take 9 bits, 5,000 row numbers 13: places of 7, 41 and 61 bits.
        (120, "sort"),  # packed cells and row numbers, one plain sort
        (2**40, "argsort"),  # 9 + 41 + 13 bits: no room for the row numbers
        (2**60, "group_by"),  # 9 + 61 bits: the cell does not fit one integer
    ],
)
@pytest.mark.parametrize("count_rows", [True, False])
def test_cells_equal_the_group_by(
    highest_place: int, path: str, count_rows: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Missing ids (code -1), the negative places of rows left out, a missing size
    # (NaN, skipped by pandas' sum), and places far apart (each branch of the packing,
    # told apart by counting the calls of np.argsort and pandas' group-by).
    calls = {"argsort": 0, "group_by": 0}
    argsort, groupby = np.argsort, pd.DataFrame.groupby

    def counted_argsort(*args, **kwargs):
        calls["argsort"] += 1
        return argsort(*args, **kwargs)

    def counted_groupby(*args, **kwargs):
        calls["group_by"] += 1
        return groupby(*args, **kwargs)

    rng = np.random.default_rng(7)
    n = 5_000
    code = rng.integers(-1, 300, n)
    place = rng.choice(np.array([-3, -2, -1, 0, 5, 17, highest_place]), n)
    cents = rng.integers(-(10**6), 10**6, n)
    size = np.abs(cents) / 100.0
    size[rng.random(n) < 0.05] = np.nan
    rows = _rows(code, place, cents, size)
    with monkeypatch.context() as patch:
        patch.setattr(np, "argsort", counted_argsort)
        patch.setattr(pd.DataFrame, "groupby", counted_groupby)
        got = _sorted_cells(rows, count_rows=count_rows, summed=[_A, _Z]).collect().to_native()
    assert calls == {"argsort": int(path == "argsort"), "group_by": int(path == "group_by")}
    want = _by_group_by(rows, count_rows)
    if path == "sort":
        # Cells come sorted by customer and place (the per-customer group-by reads
        # them in order).
        assert got[_C].is_monotonic_increasing
    got, want = _sorted(got), _sorted(want)
    # Codes, places, row counts and cents are integers: equal exactly.
    exact = [c for c in want.columns if c != _Z]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
    # A float column (_Z here) is summed in another order: reduceat adds a cell's values
    # one after the other, pandas' group-by with compensated (Kahan) summation, so the
    # last bits may differ. (rfm_summary itself now sums only integer cents per cell.)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    for c in (_C, _S, _A, *([_K] if count_rows else [])):
        np.testing.assert_array_equal(_sorted(got)[c].to_numpy(), _sorted(want)[c].to_numpy())


def test_no_rows_give_no_cells() -> None:
    empty = np.array([], dtype=np.int64)
    rows = _rows(empty, empty, empty, empty.astype(float))
    got = _sorted_cells(rows, count_rows=True, summed=[_A, _Z]).collect().to_native()
    assert len(got) == 0
    assert set(got.columns) == {_C, _S, _K, _A, _Z}


_IDS = ["a", "b", "B", "é", "", "c 1", "zz"]
_KWARGS = {"customer": "id", "time": "ts", "observation_end": "2024-03-31"}


def _log(rows: list[tuple[int, int, int]], ids: str = "text") -> pd.DataFrame:
    # Text ids, or integers (negative, large, unordered: any int64 is an id).
    numbers = [-5, 2**62, 0, 3, 17, -(2**40), 9]
    return pd.DataFrame(
        {
            "id": pd.Series([_IDS[i] for i, _, _ in rows], dtype="str")
            if ids == "text"
            else pd.Series([numbers[i] for i, _, _ in rows], dtype=ids),
            # Hours over Jan-May 2024: some after observation_end, some after
            # calibration_end in its own week.
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta([h for _, h, _ in rows], unit="h"),
            "value": [c / 100 for _, _, c in rows],
        }
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],  # each example runs three engines
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, len(_IDS) - 1),
            st.integers(0, 24 * 150),
            st.integers(-10_000, 10**6),
        ),
        min_size=1,
        max_size=60,
    ),
    unit=st.sampled_from(["h", "D", "W", "M"]),
    amount=st.sampled_from([None, "value"]),
    calibration_end=st.sampled_from([None, "2024-02-14 12:00"]),
    ids=st.sampled_from(["text", "int64", "Int64"]),
)
def test_pandas_ids_as_codes_give_the_engines_summary(
    rows, unit, amount, calibration_end, ids
) -> None:
    tx = _log(rows, ids)
    kwargs = dict(_KWARGS, unit=unit, amount=amount, calibration_end=calibration_end)
    out = rfm_summary(tx, **kwargs)
    for native in (pl.from_pandas(tx).lazy(), duckdb.from_df(tx)):
        other = rfm_summary(native, **kwargs)
        pd.testing.assert_frame_equal(other, out, check_exact=True)
        assert other.attrs["excluded"] == out.attrs["excluded"]


def test_every_transaction_after_observation_end_gives_no_rows_on_every_engine() -> None:
    tx = _log([(0, 24 * 120, 100), (1, 24 * 130, 250)])
    out = rfm_summary(tx, amount="value", unit="W", **_KWARGS)
    assert len(out) == 0
    assert out.attrs["excluded"]["transactions_after_observation_end"] == 2
    pd.testing.assert_frame_equal(
        rfm_summary(pl.from_pandas(tx).lazy(), amount="value", unit="W", **_KWARGS), out
    )


def test_a_missing_id_still_raises_with_its_row() -> None:
    # The code -1 of a missing id forms a cell of its own (code + 1 = 0 in the high
    # bits): counted as missing, raised with the row, never taken back as an id.
    tx = _log([(0, 1, 100), (1, 2, 100), (2, 3, 100)])
    tx.loc[1, "id"] = None
    with pytest.raises(InputTableError, match="row 1: missing id"):
        rfm_summary(tx, amount="value", unit="W", **_KWARGS)


@pytest.mark.parametrize("unit", ["h", "D", "W", "M", "Q", "Y"])
def test_a_time_before_1900_is_refused_by_its_row_on_every_engine(unit: str) -> None:
    # Hours, days and weeks are counted from 1900-01-01, so its period would be
    # negative: before, a week 4 days before 1900-01-01 was read as the code of a
    # missing row (an error naming no row, counting cents as rows) and earlier ones
    # were left out of every count. 1900-01-01 00:00 itself is period 0. Months,
    # quarters and years follow the same rule (dates before 1900 are not supported,
    # as for observation_end; their calendar numbers go negative before year 0).
    tx = pd.DataFrame(
        {
            "id": pd.Series(["a", "a", "b", "c"], dtype="str"),
            "ts": pd.to_datetime(["1899-12-28", "2024-01-01", "1900-01-01", "1850-06-01"]),
            "v": [1.0, 2.0, 3.0, 4.0],
        }
    )
    kwargs = dict(customer="id", time="ts", amount="v", observation_end="2024-02-01", unit=unit)
    for native in (tx, pl.from_pandas(tx).lazy(), duckdb.from_df(tx)):
        with pytest.raises(InputTableError, match="2 row") as info:
            rfm_summary(native, **kwargs)
        assert "row 0: ts before 1900-01-01; row 3: ts before 1900-01-01." in str(info.value)
        cases = info.value.failure_cases
        assert cases["index"].tolist() == [0, 3]
        assert cases["check"].tolist() == ["from_1900", "from_1900"]
    # Without them, the first period is 1900's.
    out = rfm_summary(tx.iloc[[1, 2]], **kwargs)
    periods = period_of("2024-01-01", unit) - period_of("1900-01-01", unit)
    assert out.loc["b", "T"] == out.loc["a", "T"] + periods
    if unit in ("h", "D", "W"):
        assert period_of("1900-01-01", unit) == 0
