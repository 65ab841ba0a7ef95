"""The sufficient-statistics engine: the same counts and sums on every engine."""

from __future__ import annotations

import narwhals as nw
import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._engine import (
    aggregate,
    column_names,
    histogram,
    invalid_rows,
    merge_partials,
    prepare,
    rating_code,
)


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 200
    df = pd.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], n),
            "team": rng.choice(["a", "b"], n),
            "x": rng.integers(0, 11, n).astype(float),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    df.loc[[3, 17, 40], "x"] = np.nan
    df.loc[[5, 6], "region"] = None
    return df


_CODE = (
    nw.when(nw.col("x").is_null() | nw.col("x").is_nan())
    .then(0)
    .when(nw.col("x") >= 9)
    .then(2)
    .otherwise(1)
)


def _expected(df: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Plain pandas reference: counts per (group, code) and Σw per cell."""
    code = np.where(df["x"].isna(), 0, np.where(df["x"] >= 9, 2, 1))
    tmp = df.assign(code=code)
    keys = tmp[by].drop_duplicates().sort_values(by, na_position="last").reset_index(drop=True)
    counts = np.zeros((len(keys), 3), dtype=np.int64)
    sums = np.zeros((len(keys), 3))
    for i, key in keys.iterrows():
        mask = np.ones(len(tmp), dtype=bool)
        for col in by:
            mask &= (tmp[col].isna() & pd.isna(key[col])) | (tmp[col] == key[col]).fillna(False)
        for c in range(3):
            sel = mask & (tmp["code"] == c)
            counts[i, c] = sel.sum()
            sums[i, c] = tmp.loc[sel, "w"].sum()
    return keys, counts, sums


@pytest.mark.parametrize("by", [[], ["region"], ["region", "team"]])
def test_aggregate_matches_plain_pandas_on_every_engine(engine, by) -> None:
    df = _table()
    cells = aggregate(engine(df), by=by, code=_CODE, n_codes=3, sums={"w": nw.col("w")})
    if by:
        keys, counts, sums = _expected(df, by)
        pd.testing.assert_frame_equal(cells.keys, keys.astype("str"))
    else:
        counts = np.array([[3, *np.bincount(np.where(df["x"].dropna() >= 9, 2, 1))[1:]]])
        sums = None
    np.testing.assert_array_equal(cells.counts, counts)
    assert cells.counts.dtype == np.int64
    if sums is not None:
        np.testing.assert_allclose(cells.sums["w"], sums, rtol=1e-12)


def test_aggregate_keeps_missing_keys_as_a_group_last(engine) -> None:
    df = _table()
    cells = aggregate(engine(df), by=["region"], code=_CODE, n_codes=3)
    assert cells.keys["region"].iloc[:3].tolist() == ["east", "north", "south"]
    assert pd.isna(cells.keys["region"].iloc[3])
    assert cells.counts[3].sum() == 2
    assert cells.counts.sum() == len(df)  # no row dropped


def test_aggregate_of_empty_input(engine) -> None:
    df = _table().iloc[:0]
    grouped = aggregate(engine(df), by=["region"], code=_CODE, n_codes=3)
    assert grouped.n_groups == 0
    whole = aggregate(engine(df), code=_CODE, n_codes=3, sums={"w": nw.col("w")})
    assert whole.counts.tolist() == [[0, 0, 0]]
    assert whole.sums["w"].tolist() == [[0.0, 0.0, 0.0]]


def test_merge_partials_adds_up_to_the_whole() -> None:
    df = _table()
    parts = [df.iloc[:70], df.iloc[70:]]

    def stats(frame: pd.DataFrame) -> pd.DataFrame:
        cells = aggregate(frame, by=["region"], code=_CODE, n_codes=3, sums={"w": nw.col("w")})
        out = cells.keys.copy()
        out["n"] = cells.counts.sum(axis=1)
        out["sw"] = cells.sums["w"].sum(axis=1)
        return out

    merged = merge_partials([stats(p) for p in parts], by=["region"])
    whole = stats(df)
    pd.testing.assert_frame_equal(merged[["region", "n"]], whole[["region", "n"]])
    np.testing.assert_allclose(merged["sw"], whole["sw"], rtol=1e-13)


def test_merge_partials_without_groups_and_errors() -> None:
    a = pd.DataFrame({"n": [2], "s": [1.5]})
    b = pd.DataFrame({"n": [3], "s": [2.0]})
    merged = merge_partials([a, b])
    assert merged["n"].tolist() == [5]
    assert merged["n"].dtype == np.int64
    assert merged["s"].tolist() == [3.5]
    with pytest.raises(ParameterError, match="different columns"):
        merge_partials([a, b.rename(columns={"s": "t"})])
    with pytest.raises(ParameterError, match="at least one"):
        merge_partials([])


def test_code_must_be_total_and_in_range() -> None:
    df = pd.DataFrame({"x": [1.0, np.nan]})
    with pytest.raises(ParameterError, match="codes must lie"):
        aggregate(df, code=nw.when(nw.col("x") > 0).then(5).otherwise(0), n_codes=2)


def test_invalid_rows_shows_row_labels_for_pandas_and_positions_elsewhere(engine) -> None:
    df = pd.DataFrame({"x": [1.0, 12.0, 3.0, 15.0]}, index=[10, 11, 12, 13])
    rows = invalid_rows(engine(df), nw.col("x") > 10, columns=["x"])
    assert rows["x"].tolist() == [12.0, 15.0]
    name = engine.engine
    if name == "pandas":
        assert rows["row"].tolist() == [11, 13]
    elif name in ("polars", "pyarrow"):
        assert rows["row"].tolist() == [1, 3]
    else:
        assert rows["row"].isna().all()  # lazy frames have no row order


def test_prepare_names_missing_columns_with_a_suggestion() -> None:
    df = pd.DataFrame({"ltr": [9.0], "region": ["x"]})
    with pytest.raises(InputTableError, match=r"not found: \['ltrr'\].*Did you mean 'ltr'"):
        prepare(df, "ltrr", by=None, weights=None)
    with pytest.raises(InputTableError, match="Did you mean 'region'"):
        prepare(df, "ltr", by="regoin", weights=None)
    with pytest.raises(InputTableError, match="must be numeric"):
        prepare(df, "region", by=None, weights=None)
    with pytest.raises(ParameterError, match="must be different"):
        prepare(df, "ltr", by="ltr", weights=None)
    with pytest.raises(ParameterError, match="names of result columns"):
        prepare(df.rename(columns={"region": "n"}), "ltr", by="n", weights=None, reserved=["n"])
    with pytest.raises(InputTableError, match="expected a data frame"):
        prepare([1, 2, 3], "ltr", by=None, weights=None)
    assert column_names(df) == ["ltr", "region"]


def test_rating_code_flags_off_scale_fractional_and_bad_weights(engine) -> None:
    df = pd.DataFrame(
        {
            "x": [1.0, np.nan, 7.5, 11.0, 3.0, 2.0, np.inf],
            "w": [1.0, np.nan, 1.0, 1.0, -1.0, np.nan, 1.0],
        }
    )
    code, n_codes, _, _ = rating_code(
        "x",
        is_float=True,
        low=0,
        high=10,
        integer=True,
        categories=[nw.col("x") >= 0],
        weights="w",
    )
    cells = aggregate(engine(df), code=code, n_codes=n_codes)
    # missing | valid | bad score | bad weight
    assert cells.counts.tolist() == [[1, 1, 3, 2]]


@pytest.mark.parametrize("by", [[], ["region"], ["region", "team"]])
def test_histogram_matches_plain_pandas_on_every_engine(engine, by) -> None:
    df = _table()
    cells = histogram(engine(df), by=by, column="x", sums={"w": nw.col("w")})
    values = cells.values
    assert values is not None
    assert np.isnan(values[-1])  # missing answers form one value, last
    np.testing.assert_array_equal(values[:-1], np.sort(df["x"].dropna().unique()))
    keys = df[by].drop_duplicates().sort_values(by, na_position="last") if by else None
    assert cells.n_groups == (len(keys) if by else 1)
    assert cells.counts.sum() == len(df)
    # Spot-check one cell against pandas: the first group, the answer 10.
    first = np.ones(len(df), dtype=bool)
    if by:
        for column in by:
            value = keys.iloc[0][column]
            first &= (df[column] == value).to_numpy(dtype=bool, na_value=False)
    j = int(np.flatnonzero(values == 10.0)[0])
    sel = first & (df["x"] == 10.0).to_numpy()
    assert cells.counts[0, j] == sel.sum()
    assert cells.sums["w"][0, j] == pytest.approx(df.loc[sel, "w"].sum(), rel=1e-12)


def test_histogram_merges_null_and_nan_and_handles_empty_input() -> None:
    import polars as pl

    frame = pl.DataFrame({"x": [1.0, None, float("nan"), 2.0]})
    cells = histogram(frame, column="x")
    assert cells.values is not None
    assert cells.values[:2].tolist() == [1.0, 2.0]
    assert cells.counts.tolist() == [[1, 1, 2]]
    empty = histogram(
        pd.DataFrame({"x": pd.Series([], dtype=float), "g": []}), by=["g"], column="x"
    )
    assert empty.n_groups == 0
    whole = histogram(pd.DataFrame({"x": pd.Series([], dtype=float)}), column="x")
    assert whole.counts.shape == (1, 0)
