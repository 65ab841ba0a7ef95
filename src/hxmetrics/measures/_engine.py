"""One aggregation, every engine: rows -> sufficient statistics per group.

Every measure in :mod:`hxmetrics.measures` is computed in two steps:

1. **Aggregate** (this module) rows into sufficient statistics per group, written
   once with narwhals, so that the same code runs on pandas, Polars (eager or lazy),
   DuckDB, PyArrow and Spark:

   * :func:`histogram` -- counts (and sums) per group and *distinct value* of a
     column: the sufficient statistic of a discrete rating item. Engines group by
     plain columns; the answers are checked on the few distinct values.
   * :func:`aggregate` -- each row gets a small integer *code* (missing, valid,
     invalid, ... ) and a few derived numeric columns are summed per (group, code)
     cell. Following the architecture, derived columns are computed first with
     ``select`` and only plain columns are summed in ``agg``.

2. **Finish** (the measure's module): the small per-group arrays become estimates,
   standard errors and intervals with numpy/scipy.

Because counts and sums add, statistics computed on two parts of a table merge to
the statistics of the whole (:func:`merge_partials`): counts exactly, float sums up
to floating-point rounding (the order of additions differs).

Data in pieces (files per day, partitions, shards on other machines) takes the
same three steps for every measure that has sufficient statistics: statistics per
piece, :func:`merge_partials`, finish. The finished frame (and its
``attrs["hxmetrics"]``) equals the measure on the whole table:

==============  ===============================  ====================================
measure         statistics                       finish
==============  ===============================  ====================================
``nps``         ``nps_statistics``               ``nps_from_statistics``
``csat``        ``csat_statistics``              ``csat_from_statistics``
``ces``         ``ces_statistics``               ``ces_from_statistics``
``mean_score``  ``mean_score_statistics``        ``mean_score_from_statistics``
==============  ===============================  ====================================

>>> import pandas as pd
>>> from hxmetrics.measures.nps import nps, nps_from_statistics, nps_statistics
>>> day1 = pd.DataFrame({"ltr": [10, 9, 3], "team": ["a", "a", "b"]})
>>> day2 = pd.DataFrame({"ltr": [8, 0], "team": ["b", "b"]})
>>> parts = [nps_statistics(day, "ltr", by="team") for day in (day1, day2)]
>>> merged = nps_from_statistics(merge_partials(parts, by=["team"]))
>>> merged.equals(nps(pd.concat([day1, day2]), "ltr", by="team"))
True

The public surface, for measure authors:

* :func:`prepare` -> :class:`Inputs` -- check a measure's table arguments once
  (columns with "did you mean", numeric score and weights, name clashes);
* :func:`histogram`, :func:`rating_histogram` (histogram + scale and weight checks
  with example rows), :func:`aggregate`, :func:`rating_code` -> :class:`Cells`;
* :func:`merge_partials` -- add up sufficient-statistics frames;
* :func:`frame_with` -- assemble a result frame from group keys and arrays;
* :func:`invalid_rows`, :func:`raise_invalid` -- example rows for an error message;
* :func:`missing_expr`, :func:`score_conditions`, :func:`weight_condition`,
  :func:`scale_values` -- the row and value conditions, the same on every engine.

pandas inputs take a fast path with the same semantics: the group keys (and the
histogram column) are factorised once (a categorical key is taken as its codes, with
no factorisation) and every count and sum is one :func:`numpy.bincount` over the cell
index, faster than a pandas ``groupby``.

Exactly the same numbers on every engine: counts are integers, and the measures'
sums are of whole-number scores (0-10, 1-5, 1-7 answers), which float64 adds exactly
in any order below 2**53; the finish is numpy on the same arrays. So pandas, Polars
(eager and lazy), DuckDB and Spark give bit-identical results, bootstraps included
(drawn from the counts). Group rows are sorted by their keys (missing keys last) and
the key columns have one dtype per kind whatever the engine (text: ``str``; integers:
``int64``, or ``Int64`` with a missing key; booleans: ``bool``/``boolean``; floats;
categoricals stay categoricals). Float sums are the exception, documented: survey
weights and fractional scores are added in each engine's order, so results agree to
rounding (to 1e-12 relative in the tests), not bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, check_columns
from hxmetrics.tables import polars_categories_as_text

__all__ = [
    "Cells",
    "Inputs",
    "aggregate",
    "as_columns",
    "check_finite_sums",
    "column_names",
    "frame_with",
    "histogram",
    "invalid_rows",
    "is_float_column",
    "is_numeric_column",
    "merge_partials",
    "missing_expr",
    "prepare",
    "raise_invalid",
    "rating_code",
    "rating_histogram",
    "require_columns",
    "scale_values",
    "score_conditions",
    "to_narwhals",
    "weight_condition",
]

_CODE = "__hx_code"
_ROW = "__hx_row"


def to_narwhals(data: Any) -> nw.DataFrame[Any] | nw.LazyFrame[Any]:
    """Wrap any frame narwhals accepts (pandas, Polars, DuckDB, PyArrow, Spark, ...).

    Raises
    ------
    InputTableError
        If ``data`` is not a data frame narwhals knows.
    """
    if isinstance(data, (nw.DataFrame, nw.LazyFrame)):
        return data
    try:
        frame = nw.from_native(data)
    except TypeError as exc:
        raise InputTableError(
            f"expected a data frame (pandas, Polars, DuckDB, PyArrow, Spark, ...); "
            f"got {type(data).__name__}.",
            table="data",
            failure_cases=_no_cases(),
        ) from exc
    if not isinstance(frame, (nw.DataFrame, nw.LazyFrame)):
        raise InputTableError(
            f"expected a data frame, got a series ({type(data).__name__}); "
            "pass a frame and name the column.",
            table="data",
            failure_cases=_no_cases(),
        )
    return frame


def column_names(data: Any) -> list[str]:
    """Column names of any supported frame (no computation on lazy frames)."""
    frame = to_narwhals(data)
    return list(frame.collect_schema().names())


def require_columns(data: Any, columns: Iterable[str], *, table: str = "data") -> None:
    """Raise :class:`InputTableError` naming each missing column, with a "did you mean"."""
    check_columns(column_names(data), list(columns), table=table)


def _dtype(data: Any, column: str) -> Any:
    return to_narwhals(data).collect_schema()[column]


def is_numeric_column(data: Any, column: str) -> bool:
    """True if ``column`` holds numbers (integers or floats, not booleans)."""
    dtype = _dtype(data, column)
    return bool(dtype.is_numeric())


def is_float_column(data: Any, column: str) -> bool:
    """True if ``column`` is a float column (so it may hold NaN as well as nulls)."""
    dtype = _dtype(data, column)
    return bool(dtype.is_float())


def missing_expr(column: str, *, is_float: bool) -> nw.Expr:
    """Null, or NaN for a float column: both count as "missing" on every engine.

    pandas already treats NaN as null; Polars, DuckDB and Spark keep them apart, and
    Spark and DuckDB even sort NaN above every number, so the code of a row must test
    for NaN before any comparison.
    """
    expr = nw.col(column).is_null()
    if is_float:
        expr = expr | nw.col(column).is_nan()
    return expr


@dataclass(frozen=True)
class Cells:
    """Counts and sums per (group, code) cell.

    Attributes
    ----------
    keys : pandas.DataFrame
        One row per group, the ``by`` columns, sorted by them (missing keys last).
        With no ``by`` there is one group and no columns.
    counts : numpy.ndarray
        ``(n_groups, n_codes)`` int64: rows per group and code.
    sums : dict of str to numpy.ndarray
        ``(n_groups, n_codes)`` float64 per summed expression.
    """

    keys: pd.DataFrame
    counts: np.ndarray
    sums: dict[str, np.ndarray]
    #: For :func:`histogram`: the distinct values of the column, one per cell column
    #: (ascending, NaN last for null/NaN); None for :func:`aggregate`.
    values: np.ndarray | None = None

    @property
    def n_groups(self) -> int:
        return int(self.counts.shape[0])


def aggregate(
    data: Any,
    *,
    by: Sequence[str] = (),
    code: nw.Expr,
    n_codes: int,
    sums: Mapping[str, nw.Expr] | None = None,
) -> Cells:
    """Count rows and sum expressions per group and code, on any engine.

    Parameters
    ----------
    data : frame
        Any frame narwhals accepts; lazy frames stay lazy until the (small) result
        is collected.
    by : sequence of str
        Group columns. Missing keys form their own group; no row is dropped.
    code : narwhals.Expr
        An integer expression in ``0 .. n_codes - 1`` for *every* row (write it with
        ``nw.when(...).then(...)`` and an ``otherwise``, so it is never null).
    n_codes : int
        Number of distinct codes.
    sums : mapping of str to narwhals.Expr, optional
        Numeric expressions summed per cell (cast to Float64). Nulls add nothing.

    Returns
    -------
    Cells
        Groups sorted by their keys; empty input gives zero groups when ``by`` is
        given and one all-zero group otherwise.

    Examples
    --------
    >>> import narwhals as nw, pandas as pd
    >>> df = pd.DataFrame({"g": ["a", "b", "a"], "x": [1.0, 5.0, 7.0]})
    >>> cells = aggregate(df, by=["g"], code=nw.when(nw.col("x") > 4).then(1).otherwise(0),
    ...                   n_codes=2, sums={"x": nw.col("x")})
    >>> cells.keys["g"].tolist(), cells.counts.tolist(), cells.sums["x"].tolist()
    (['a', 'b'], [[1, 1], [0, 1]], [[1.0, 7.0], [0.0, 5.0]])
    """
    by = list(by)
    sums = dict(sums or {})
    if n_codes < 1:
        raise ParameterError(f"n_codes must be at least 1; got {n_codes}.")
    clash = [name for name in sums if name in by or name == _CODE]
    if clash:
        raise ParameterError(f"sum names {clash} clash with group columns or internal names.")
    frame = to_narwhals(data)
    if isinstance(frame, nw.DataFrame) and frame.implementation.is_pandas():
        cells = _aggregate_pandas(frame, by, code, n_codes, sums)
    else:
        cells = _aggregate_lazy(frame, by, code, n_codes, sums)
    return _sorted(cells, by)


def histogram(
    data: Any,
    *,
    by: Sequence[str] = (),
    column: str,
    sums: Mapping[str, nw.Expr] | None = None,
) -> Cells:
    """Count rows and sum expressions per group and distinct value of ``column``.

    For discrete answers (0-10 recommend scores, 1-5 ratings) the histogram per group
    is the sufficient statistic: every count, share, mean and variance follows from
    it, and checking the answers needs only the few distinct values, not every row.
    The cell key is the raw column, so the engines group by plain columns (fast on
    every engine); the pandas path factorises the column and uses one bincount.

    Returns
    -------
    Cells
        With ``values`` the distinct values as floats (ascending; null and NaN both
        become one NaN value, last), and ``counts``/``sums`` of shape
        ``(n_groups, n_values)``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"g": ["a", "b", "a", "a"], "x": [9, 3, 9, None]})
    >>> cells = histogram(df, by=["g"], column="x")
    >>> cells.values.tolist(), cells.counts.tolist()
    ([3.0, 9.0, nan], [[0, 2, 1], [1, 0, 0]])
    """
    by = list(by)
    sums = dict(sums or {})
    clash = [name for name in sums if name in by or name == column]
    if clash:
        raise ParameterError(f"sum names {clash} clash with group or value columns.")
    frame = to_narwhals(data)
    if isinstance(frame, nw.DataFrame) and frame.implementation.is_pandas():
        keys, counts, out, raw = _histogram_pandas(frame, by, column, sums)
    else:
        keys, counts, out, raw = _histogram_lazy(frame, by, column, sums)
    values = raw.to_numpy(dtype=np.float64, na_value=np.nan) if len(raw) else np.zeros(0)
    # Null and NaN are one "missing" value; merge their cells, then sort the values.
    missing = np.isnan(values)
    if missing.sum() > 1:
        first = np.flatnonzero(missing)[0]
        for extra in np.flatnonzero(missing)[1:]:
            counts[:, first] += counts[:, extra]
            for arr in out.values():
                arr[:, first] += arr[:, extra]
        keep = ~missing
        keep[first] = True
        values, counts = values[keep], counts[:, keep]
        out = {k: v[:, keep] for k, v in out.items()}
    # Only values that occur (the fast path may code a whole range).
    order = np.argsort(values, kind="stable")
    order = order[counts[:, order].sum(axis=0) > 0]
    cells = Cells(keys, counts[:, order], {k: v[:, order] for k, v in out.items()}, values[order])
    sorted_cells = _sorted(cells, by)
    return Cells(sorted_cells.keys, sorted_cells.counts, sorted_cells.sums, values[order])


_Histogram = tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray], pd.Series]


def _histogram_pandas(
    frame: nw.DataFrame[Any], by: list[str], column: str, sums: dict[str, nw.Expr]
) -> _Histogram:
    native = frame.to_native()
    value_codes, uniques = _value_codes(native[column])
    group, keys = _factorise(native, by)
    n_groups, n_values = len(keys), len(uniques)
    cell = group * n_values
    cell += value_codes
    size = n_groups * n_values
    counts = np.bincount(cell, minlength=size).astype(np.int64).reshape(n_groups, n_values)
    out: dict[str, np.ndarray] = {name: np.zeros((n_groups, n_values)) for name in sums}
    if sums and n_values:
        derived = frame.select(*[expr.cast(nw.Float64).alias(name) for name, expr in sums.items()])
        for name in sums:
            summed = derived[name].to_numpy().astype(np.float64, copy=False)
            summed = np.where(np.isnan(summed), 0.0, summed)
            out[name] = np.bincount(cell, weights=summed, minlength=size).reshape(
                n_groups, n_values
            )
    keys, counts, out = _drop_empty(keys, counts, out)
    return keys, counts, out, pd.Series(uniques)


def _value_codes(series: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes of the distinct values of a numeric column, like ``pd.factorize``.

    Rating answers are whole numbers in a short range: then the code is the value
    minus the smallest one (NaN gets the last code), a few vectorised passes that
    are about twice as fast as hashing. Anything else is factorised.
    """
    if series.dtype.kind in "fiu":
        x = series.to_numpy()
        if x.size:
            lo, hi = np.fmin.reduce(x), np.fmax.reduce(x)
            if np.isfinite(lo) and np.isfinite(hi) and hi - lo <= 4096:
                span = int(hi - lo) + 1
                with np.errstate(invalid="ignore"):
                    shifted = x - lo
                    codes = shifted.astype(np.int64)
                if x.dtype.kind in "iu":
                    return codes, lo + np.arange(span, dtype=np.float64)
                nan = np.isnan(x)
                if bool(((codes == shifted) | nan).all()):
                    codes[nan] = span
                    uniques = np.append(lo + np.arange(span, dtype=np.float64), np.nan)
                    return codes, uniques
    return pd.factorize(series, use_na_sentinel=False)


def _histogram_lazy(
    frame: nw.DataFrame[Any] | nw.LazyFrame[Any],
    by: list[str],
    column: str,
    sums: dict[str, nw.Expr],
) -> _Histogram:
    lazy = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    derived = lazy.select(
        *_key_exprs(lazy, by),
        nw.col(column),
        *[expr.cast(nw.Float64).alias(name) for name, expr in sums.items()],
    )
    result = _collect_keyed(
        derived.group_by([*by, column]).agg(
            nw.len().alias("__hx_n"), *[nw.col(name).sum() for name in sums]
        ),
        by,
    )
    value_codes, uniques = pd.factorize(result[column], use_na_sentinel=False)
    group, keys = _factorise(result, by)
    n_groups, n_values = len(keys), len(uniques)
    counts = np.zeros((n_groups, n_values), dtype=np.int64)
    np.add.at(counts, (group, value_codes), result["__hx_n"].to_numpy().astype(np.int64))
    out: dict[str, np.ndarray] = {}
    for name in sums:
        arr = np.zeros((n_groups, n_values), dtype=np.float64)
        np.add.at(arr, (group, value_codes), result[name].to_numpy(np.float64, na_value=0.0))
        out[name] = arr
    keys, counts, out = _drop_empty(keys, counts, out)
    return keys, counts, out, pd.Series(uniques)


def _aggregate_pandas(
    frame: nw.DataFrame[Any],
    by: list[str],
    code: nw.Expr,
    n_codes: int,
    sums: dict[str, nw.Expr],
) -> Cells:
    native = frame.to_native()
    derived = frame.select(
        code.cast(nw.Int64).alias(_CODE),
        *[expr.cast(nw.Float64).alias(name) for name, expr in sums.items()],
    )
    codes = _checked_codes(derived[_CODE].to_numpy(), n_codes)
    group, keys = _factorise(native, by)
    n_groups = len(keys)
    cell = group * n_codes + codes
    size = n_groups * n_codes
    counts = np.bincount(cell, minlength=size).astype(np.int64).reshape(n_groups, n_codes)
    out = {}
    for name in sums:
        values = derived[name].to_numpy().astype(np.float64, copy=False)
        # Nulls add nothing, as in a SQL SUM.
        values = np.where(np.isnan(values), 0.0, values)
        out[name] = np.bincount(cell, weights=values, minlength=size).reshape(n_groups, n_codes)
    return Cells(*_drop_empty(keys, counts, out))


def _checked_codes(codes: np.ndarray, n_codes: int) -> np.ndarray:
    if codes.dtype.kind not in "iu":
        # A null code arrives as float NaN: the code expression was not total.
        raise ParameterError("the code expression gave nulls; end it with .otherwise(...).")
    codes = codes.astype(np.int64, copy=False)
    if codes.size and (codes.min() < 0 or codes.max() >= n_codes):
        raise ParameterError(f"codes must lie in 0..{n_codes - 1}.")
    return codes


def _group_codes(column: pd.Series) -> tuple[np.ndarray, Any]:
    """Code per row (a missing key has a code of its own) and the key of each code.

    A categorical column is coded already: its codes are taken as they are, with no
    hashing of the rows (the missing key gets the code after the last category).
    Unobserved categories make empty groups, which the callers drop after counting.
    Any other column is factorised, once.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        raw = column.cat.codes.to_numpy()
        k = len(column.cat.categories)
        codes = raw.astype(np.int64)
        missing = raw < 0
        if missing.any():
            codes[missing] = k
            return codes, pd.Categorical.from_codes([*range(k), -1], dtype=column.dtype)
        return codes, pd.Categorical.from_codes(np.arange(k), dtype=column.dtype)
    return pd.factorize(column, use_na_sentinel=False)


#: Largest number of possible key combinations coded directly (mixed radix) rather
#: than re-factorised; empty combinations are dropped after counting.
_RADIX_LIMIT = 1 << 22


def _factorise(native: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group id per row and the key row of each group id.

    Group ids may include groups with no rows (unobserved categories, unused key
    combinations): :func:`_drop_empty` removes them after counting.
    """
    n_rows = len(native)
    if not by:
        return np.zeros(n_rows, dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1))
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64), native[by].iloc[:0].reset_index(drop=True)
    coded = [_group_codes(native[column]) for column in by]
    if len(by) == 1:
        codes, values = coded[0]
        return codes.astype(np.int64, copy=False), pd.DataFrame({by[0]: values})
    sizes = [len(values) for _, values in coded]
    if math.prod(sizes) <= max(_RADIX_LIMIT, 2 * n_rows):
        # Mixed radix over the columns' codes: each id decodes to its keys directly.
        group = coded[0][0].astype(np.int64, copy=True)
        for (codes, _), size in zip(coded[1:], sizes[1:], strict=True):
            group *= size
            group += codes
        ids = np.arange(math.prod(sizes), dtype=np.int64)
        columns: dict[str, Any] = {}
        for column, (_, values), size, stride in zip(
            by, coded, sizes, _strides(sizes), strict=True
        ):
            columns[column] = pd.Series(values).take((ids // stride) % size).reset_index(drop=True)
        return group, pd.DataFrame(columns)
    group = coded[0][0].astype(np.int64, copy=True)
    for codes, values in coded[1:]:
        # Mixed radix, then re-factorise so the ids stay small.
        group = group * len(values) + codes
        group, _ = pd.factorize(group)
        group = group.astype(np.int64)
    # Recover each group's key from its first row.
    first = np.full(int(group.max()) + 1, -1, dtype=np.int64)
    order = np.arange(n_rows - 1, -1, -1)
    first[group[order]] = order
    keys = native.iloc[first][by].reset_index(drop=True)
    return group, keys


def _strides(sizes: list[int]) -> list[int]:
    out = [1] * len(sizes)
    for i in range(len(sizes) - 2, -1, -1):
        out[i] = out[i + 1] * sizes[i + 1]
    return out


def _drop_empty(
    keys: pd.DataFrame, counts: np.ndarray, sums: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Only the groups with rows (every row is counted in some cell)."""
    if keys.shape[1] == 0:
        return keys, counts, sums
    keep = counts.sum(axis=1) > 0
    if keep.all():
        return keys, counts, sums
    return (
        keys.loc[keep].reset_index(drop=True),
        counts[keep],
        {name: arr[keep] for name, arr in sums.items()},
    )


def _key_exprs(frame: nw.LazyFrame[Any], by: list[str]) -> list[nw.Expr]:
    """Group columns for an engine's group-by: a float key's NaN becomes null.

    pandas has one missing value; Polars, DuckDB and Spark keep NaN and null apart
    and would make two groups of them.
    """
    schema = frame.collect_schema()
    return [
        nw.when(~nw.col(c).is_nan()).then(nw.col(c)).alias(c) if schema[c].is_float() else nw.col(c)
        for c in by
    ]


def _collect_keyed(aggregated: nw.LazyFrame[Any], by: list[str]) -> pd.DataFrame:
    """Collect a small aggregated table, its group columns converted exactly.

    Through Arrow: integers stay integers when a key is missing (not floats, which
    would round ids beyond 2**53), text is text (pandas' ``str``) on every engine.
    """
    table = aggregated.collect().to_arrow()
    out = table.drop_columns(by).to_pandas()
    keys = table.select(by).to_pandas(types_mapper=_arrow_key_type)
    for column in by:
        out[column] = keys[column]
    if aggregated.implementation.is_polars():
        schema = aggregated.collect_schema()
        polars_categories_as_text(out, [c for c in by if schema[c] == nw.Categorical])
    return out


def _arrow_key_type(kind: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_integer(kind):
        return pd.UInt64Dtype() if kind == pa.uint64() else pd.Int64Dtype()
    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return _STR
    return None


#: pandas' text dtype (``"str"``), the dtype of text group keys on every engine.
_STR = pd.Series([], dtype="str").dtype


def _aggregate_lazy(
    frame: nw.DataFrame[Any] | nw.LazyFrame[Any],
    by: list[str],
    code: nw.Expr,
    n_codes: int,
    sums: dict[str, nw.Expr],
) -> Cells:
    lazy = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    derived = lazy.select(
        *_key_exprs(lazy, by),
        code.cast(nw.Int64).alias(_CODE),
        *[expr.cast(nw.Float64).alias(name) for name, expr in sums.items()],
    )
    aggregated = derived.group_by([*by, _CODE]).agg(
        nw.len().alias("__hx_n"),
        *[nw.col(name).sum() for name in sums],
    )
    result = _collect_keyed(aggregated, by)
    if result[_CODE].isna().any():
        raise ParameterError("the code expression gave nulls; end it with .otherwise(...).")
    codes = _checked_codes(result[_CODE].to_numpy().astype(np.int64), n_codes)
    group, keys = _factorise(result, by)
    n_groups = len(keys)
    counts = np.zeros((n_groups, n_codes), dtype=np.int64)
    np.add.at(counts, (group, codes), result["__hx_n"].to_numpy().astype(np.int64))
    out = {}
    for name in sums:
        values = result[name].to_numpy(dtype=np.float64, na_value=0.0)
        arr = np.zeros((n_groups, n_codes), dtype=np.float64)
        np.add.at(arr, (group, codes), values)
        out[name] = arr
    return Cells(*_drop_empty(keys, counts, out))


def _normalise_keys(keys: pd.DataFrame) -> pd.DataFrame:
    """One key dtype per kind of column, whatever the engine.

    Text: pandas' ``str``. Integers: ``int64``, or ``Int64`` when a key is missing
    (numpy integers cannot hold one). Booleans: ``bool``, or ``boolean`` with a
    missing key. Floats stay floats; categoricals stay categoricals (sorted by their
    categories' order). The rule depends on the keys' values, never on the engine.
    """
    keys = keys.reset_index(drop=True)
    for column in keys.columns:
        col = keys[column]
        dtype = col.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            continue
        if pd.api.types.is_bool_dtype(dtype):
            keys[column] = col.astype("boolean" if col.isna().any() else bool)
        elif pd.api.types.is_integer_dtype(dtype):
            unsigned = str(dtype).lower() == "uint64"
            if col.isna().any():
                keys[column] = col.astype(pd.UInt64Dtype() if unsigned else pd.Int64Dtype())
            else:
                keys[column] = col.astype(np.uint64 if unsigned else np.int64)
        elif isinstance(dtype, pd.StringDtype):
            keys[column] = col.astype(_STR)
        elif dtype.kind == "O":
            present = col.dropna()
            if present.map(lambda v: isinstance(v, str)).all():
                keys[column] = col.astype(_STR)
            elif len(present) and present.map(lambda v: isinstance(v, (bool, np.bool_))).all():
                keys[column] = col.astype("boolean" if col.isna().any() else bool)
    return keys


def _sort_order(keys: pd.DataFrame) -> np.ndarray:
    if keys.shape[1] == 0 or len(keys) == 0:
        return np.arange(len(keys))
    try:
        ordered = keys.sort_values(list(keys.columns), na_position="last", kind="stable")
    except TypeError:
        # Unorderable mixed keys: order by their text.
        ordered = keys.astype(str).sort_values(list(keys.columns), kind="stable")
    return ordered.index.to_numpy()


def _sorted(cells: Cells, by: list[str]) -> Cells:
    keys = _normalise_keys(cells.keys)
    order = _sort_order(keys)
    return Cells(
        keys.iloc[order].reset_index(drop=True),
        cells.counts[order],
        {k: v[order] for k, v in cells.sums.items()},
    )


def merge_partials(parts: Iterable[pd.DataFrame], *, by: Sequence[str] = ()) -> pd.DataFrame:
    """Add up sufficient-statistics frames computed on parts of one table.

    Every column that is not a group column is summed per group, so the result is
    the statistics of the union of the parts: a measure finished on it equals the
    measure on the whole table (counts exactly; float sums up to rounding).

    Parameters
    ----------
    parts : iterable of pandas.DataFrame
        Frames with the same columns (the ``by`` columns and the sums).
    by : sequence of str
        The group columns.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by the group columns.

    Examples
    --------
    >>> a = pd.DataFrame({"g": ["x", "y"], "n": [2, 1]})
    >>> b = pd.DataFrame({"g": ["x"], "n": [3]})
    >>> merge_partials([a, b], by=["g"])
       g  n
    0  x  5
    1  y  1
    """
    frames = [p for p in parts]
    if not frames:
        raise ParameterError("merge_partials needs at least one frame.")
    by = list(by)
    columns = list(frames[0].columns)
    for frame in frames[1:]:
        if list(frame.columns) != columns:
            raise ParameterError(
                f"partial statistics have different columns: {columns} vs {list(frame.columns)}."
            )
    whole = pd.concat(frames, ignore_index=True)
    values = [c for c in columns if c not in by]
    if not by:
        merged = whole[values].sum(axis=0, min_count=0).to_frame().T
        for column in values:
            merged[column] = merged[column].astype(whole[column].dtype)
        return merged.reset_index(drop=True)
    grouped = whole.groupby(by, dropna=False, sort=False, observed=True)[values].sum()
    merged = grouped.reset_index()
    keys = _normalise_keys(merged[by])
    order = _sort_order(keys)
    merged = merged.iloc[order].reset_index(drop=True)
    merged[by] = keys.iloc[order].reset_index(drop=True)
    return merged[columns]


def invalid_rows(
    data: Any,
    condition: nw.Expr,
    *,
    columns: Sequence[str],
    limit: int = 5,
    positions: bool = False,
) -> pd.DataFrame:
    """The first ``limit`` rows where ``condition`` holds, for an error message.

    Returns the ``columns`` plus ``row``: the index label for pandas, the position for
    other eager frames, and missing for lazy frames (which have no row order) unless
    ``positions``: then the position of each row in the order the engine reads the
    frame (numbered on the engine as :func:`hxmetrics.tables.validate_lazy` numbers
    "row N": Polars ``with_row_index``, DuckDB ``row_number() OVER ()``, Spark by
    partition), the first ``limit`` of them in that order. For a table read from a file
    (and kept in order, as ``attribute_lazy`` keeps it) that is the pandas label.
    """
    frame = to_narwhals(data)
    if positions and isinstance(frame, nw.LazyFrame):
        return _rows_by_position(frame, condition, list(columns), limit)
    columns = list(columns)
    if isinstance(frame, nw.DataFrame) and frame.implementation.is_pandas():
        native = frame.to_native()
        mask = frame.select(condition.alias("__hx_bad"))["__hx_bad"].to_numpy()
        mask = np.asarray(mask, dtype=bool)
        rows = native.loc[mask, columns].head(limit)
        out = rows.reset_index(drop=True)
        out["row"] = list(rows.index)
        return out
    if isinstance(frame, nw.DataFrame):
        picked = frame.with_row_index(_ROW).filter(condition).head(limit)
        out = picked.select(*columns, _ROW).to_pandas().rename(columns={_ROW: "row"})
        return out
    picked_lazy = frame.filter(condition).select(*columns).head(limit).collect().to_pandas()
    picked_lazy["row"] = None
    return picked_lazy


def number_rows(frame: nw.LazyFrame[Any], *, table: str) -> nw.LazyFrame[Any] | None:
    """``frame`` with ``__hx_row``, each row's position as read, or ``None`` on a backend
    that has none (not Polars, DuckDB or Spark).

    The one definition of "row N" that validation uses (Polars ``with_row_index``, DuckDB
    ``row_number() OVER ()``, Spark by partition). A frame numbered before a filter
    keeps its input's positions: :func:`invalid_rows` then names those. A ``table`` with
    a column of that name of its own is refused (it would be read as the positions).
    """
    from hxmetrics._engine_tables import _with_position

    if _ROW in frame.columns:
        raise InputTableError(
            f"{table}: column {_ROW!r} is the name hxmetrics numbers rows by on an engine; "
            "rename that column.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": [_ROW], "check": "reserved_name", "failure_case": [_ROW], "index": None}
            ),
        )

    impl = frame.implementation
    if impl.is_polars():
        engine = "polars"
    elif impl is nw.Implementation.DUCKDB:
        engine = "duckdb"
    elif impl.is_spark_like():
        engine = "spark"
    else:
        return None
    return nw.from_native(_with_position(frame.to_native(), engine)).lazy()


def _rows_by_position(
    frame: nw.LazyFrame[Any], condition: nw.Expr, columns: list[str], limit: int
) -> pd.DataFrame:
    """The first ``limit`` rows of a lazy frame where ``condition`` holds, by position.

    The position is numbered on the engine by the one definition of "row N" that
    validation uses (engine-specific: narwhals numbers the rows of a lazy frame only
    by an order of its columns), or read from ``__hx_row`` when the frame was numbered
    before a filter (:func:`number_rows`); only the few rows picked come back.
    """
    numbered = frame if _ROW in frame.columns else number_rows(frame, table="data")
    if numbered is None:  # other lazy backends (e.g. Dask, Ibis): no position to give
        picked = frame.filter(condition).select(*columns).head(limit).collect().to_pandas()
        picked["row"] = None
        return picked
    picked = (
        numbered.filter(condition)
        .select(*columns, _ROW)
        .sort(_ROW)
        .head(limit)
        .collect()
        .to_pandas()
    )
    picked = picked.rename(columns={_ROW: "row"})
    picked["row"] = picked["row"].astype(np.int64)
    return picked.reset_index(drop=True)


def frame_with(keys: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """``keys`` (one row per group) with ``columns`` (arrays or scalars) appended.

    Built in one go: adding columns one by one to a frame with text keys is slow.
    """
    keys = keys.reset_index(drop=True)
    data: dict[str, Any] = {c: keys[c] for c in keys.columns}
    data.update(columns)
    return pd.DataFrame(data, index=pd.RangeIndex(len(keys)))


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, so messages read ``11.0`` and not ``np.float64(11.0)``."""
    return value.item() if isinstance(value, np.generic) else value


def _no_cases() -> pd.DataFrame:
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def score_conditions(
    score: str, *, is_float: bool, low: float | None, high: float | None, integer: bool
) -> tuple[nw.Expr, nw.Expr]:
    """Row conditions ``(missing, bad)`` of a rating item: null/NaN, and off the scale
    (or not a whole number when ``integer``) among the answered rows."""
    s = nw.col(score)
    missing = missing_expr(score, is_float=is_float)
    inf = float("inf")
    bad = (s == inf) | (s == -inf) if is_float else nw.lit(False)
    if low is not None:
        bad = bad | (s < low)
    if high is not None:
        bad = bad | (s > high)
    if integer and is_float:
        bad = bad | (s.round(0) != s)
    return missing, ~missing & bad


def weight_condition(weights: str, *, is_float: bool) -> nw.Expr:
    """Rows whose weight is null, NaN, infinite or not positive."""
    w = nw.col(weights)
    bad = w.is_null() | ~(w > 0)
    if is_float:
        bad = bad | w.is_nan() | (w == float("inf"))
    return bad


def scale_values(
    values: np.ndarray, *, low: float, high: float, integer: bool
) -> tuple[np.ndarray, np.ndarray]:
    """For the distinct values of a :func:`histogram`: ``(missing, bad)`` masks."""
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):
        ok = (values >= low) & (values <= high)
        if integer:
            ok &= values == np.round(values)
    return missing, ~missing & ~ok


def rating_histogram(
    inputs: Inputs,
    *,
    low: float,
    high: float,
    integer: bool,
    check: str,
    expected: str,
) -> tuple[Cells, np.ndarray]:
    """Histogram of a discrete rating item per group, checked, on any engine.

    Counts (and, with weights, Σw and Σw²) per group and distinct answer; answers
    off the scale and bad weights on answered rows raise
    :class:`~hxmetrics.errors.InputTableError` with example rows (found with a
    second query, only then). Returns the cells and the mask of the missing value.
    """
    sums: dict[str, nw.Expr] = {}
    if inputs.weights is not None:
        w = nw.col(inputs.weights)
        bad_w = weight_condition(inputs.weights, is_float=inputs.weights_is_float)
        sums = {"w": w, "w2": w * w, "bad_w": bad_w.cast(nw.Float64)}
    cells = histogram(inputs.frame, by=inputs.by, column=inputs.score, sums=sums)
    values = cells.values if cells.values is not None else np.zeros(0)
    missing, bad = scale_values(values, low=low, high=high, integer=integer)
    n_bad = int(cells.counts[:, bad].sum())
    if n_bad:
        _, bad_rows = score_conditions(
            inputs.score, is_float=inputs.score_is_float, low=low, high=high, integer=integer
        )
        raise_invalid(
            inputs.frame,
            bad_rows,
            column=inputs.score,
            check=check,
            expected=expected,
            count=n_bad,
            hint="Missing answers may be left empty (NaN/null): they are excluded and "
            "counted in n_excluded_missing.",
        )
    if inputs.weights is not None:
        answered = ~missing_expr(inputs.score, is_float=inputs.score_is_float)
        n_bad_w = round(float(cells.sums["bad_w"][:, ~missing].sum()))
        if n_bad_w:
            raise_invalid(
                inputs.frame,
                answered & weight_condition(inputs.weights, is_float=inputs.weights_is_float),
                column=inputs.weights,
                check="positive_weight",
                expected="finite weights greater than 0 on every answered row",
                count=n_bad_w,
            )
        with np.errstate(over="ignore", invalid="ignore"):
            totals = {k: cells.sums[k][:, ~missing].sum(axis=1) for k in ("w", "w2")}
        check_finite_sums(
            inputs.frame,
            totals,
            answered=answered,
            n_rows=int(cells.counts[:, ~missing].sum()),
            score=inputs.score,
            weights=inputs.weights,
        )
    return cells, missing


def _count(data: Any, condition: nw.Expr) -> int:
    """Rows where ``condition`` holds, on any engine."""
    frame = to_narwhals(data)
    counted = frame.select(condition.cast(nw.Int64).sum().alias("__hx_n"))
    if isinstance(counted, nw.LazyFrame):
        counted = counted.collect()
    return int(counted["__hx_n"][0] or 0)


#: Sums of the weights alone, of the scores alone; every other sum is of products.
_WEIGHT_SUMS = frozenset({"w", "w2"})
_SCORE_SUMS = frozenset({"x", "x2"})


def check_finite_sums(
    data: Any,
    sums: Mapping[str, np.ndarray],
    *,
    answered: nw.Expr,
    n_rows: int,
    score: str,
    weights: str | None,
    x: nw.Expr | None = None,
    label_column: str | None = None,
    names: Mapping[str, str] | None = None,
    table: str = "data",
) -> None:
    """Refuse sufficient statistics that overflowed, naming the column and example rows.

    A weight of 1e308 is finite, but two of them (or its square) are not: the sums of a
    measure become infinite and its estimates NaN. ``sums`` are per-group sums over the
    answered rows, named as the measures name them (``w``, ``w2`` of the weights,
    ``x``, ``x2`` of the score ``x``, the others of products ``wx``, ``w2x2``, ...).
    A sum of ``n_rows`` terms reaches the largest float only if one term is at least
    ``1/n_rows`` of it, so the example rows (those with such a term) always exist.

    ``label_column`` and ``names`` are for callers that reshaped the table first: the
    column holding each row's label, and the names to show for internal columns.

    Raises
    ------
    InputTableError
        Check ``weight_total`` (the weights' sums), ``score_magnitude`` (the score's)
        or ``weighted_score_magnitude`` (products of weight and score), with the number
        of rows with too large a term and up to five of them.
    """
    bad = {name for name, arr in sums.items() if not np.isfinite(arr).all()}
    if not bad:
        return
    # The largest term of a sum of n_rows terms that overflowed is at least `top`.
    top = float(np.finfo(np.float64).max) / max(int(n_rows), 1)
    root = math.sqrt(top)
    hint = (
        "Survey weights matter only relative to each other: divide them by their mean "
        "(the estimates do not change)."
    )
    if weights is not None and bad & _WEIGHT_SUMS:
        condition = answered & (nw.col(weights) >= root)
        column, check = weights, "weight_total"
        expected = f"survey weights whose squares add up to a finite number (below {root:.3g})"
    elif x is not None and bad & _SCORE_SUMS:
        condition = answered & (x.abs() >= root)
        column, check, hint = score, "score_magnitude", ""
        expected = f"scores whose squares add up to a finite number (below {root:.3g} in size)"
    else:
        w = nw.col(weights) if weights is not None else nw.lit(1.0)
        ax = x.abs() if x is not None else nw.col(score).abs()
        condition = answered & (
            (w * ax >= root) | (w * ax * ax >= top) | (w * w * ax >= top) | (w * ax >= top)
        )
        column, check = (weights or score), "weighted_score_magnitude"
        expected = "weights and scores whose products (w·x, w·x², w²·x²) add up to finite numbers"
    raise_invalid(
        data,
        condition,
        column=column,
        check=check,
        expected=expected,
        count=_count(data, condition),
        hint=hint,
        table=table,
        label_column=label_column,
        name=(names or {}).get(column, column),
    )


def rating_code(
    score: str,
    *,
    is_float: bool,
    low: float | None,
    high: float | None,
    integer: bool,
    categories: Sequence[nw.Expr],
    weights: str | None = None,
    weights_float: bool = True,
) -> tuple[nw.Expr, int, nw.Expr, nw.Expr]:
    """The status/category code of a rating item, shared by the survey measures.

    Codes: ``0`` missing score (excluded and reported); ``1 .. k`` the first of
    ``categories`` that holds (the last category is the catch-all); ``k + 1`` a
    score off the scale (or not whole when ``integer``); ``k + 2`` a bad weight
    (null, NaN, infinite or not positive) on a row with a score.

    Returns ``(code, n_codes, bad_score, bad_weight)``; the last two are the row
    conditions used to show example rows in an error.
    """
    missing, bad_score = score_conditions(
        score, is_float=is_float, low=low, high=high, integer=integer
    )
    k = len(categories)
    if k < 1:
        raise ParameterError("rating_code needs at least one category.")
    code = nw.when(missing).then(0).when(bad_score).then(k + 1)
    if weights is not None:
        bad_w = weight_condition(weights, is_float=weights_float)
        code = code.when(bad_w).then(k + 2)
        bad_weight = ~missing & ~bad_score & bad_w
    else:
        bad_weight = nw.lit(False)
    for i, category in enumerate(categories[:-1], start=1):
        code = code.when(category).then(i)
    return code.otherwise(k), k + 3, bad_score, bad_weight


def raise_invalid(
    data: Any,
    condition: nw.Expr,
    *,
    column: str,
    check: str,
    expected: str,
    count: int,
    hint: str = "",
    table: str = "data",
    label_column: str | None = None,
    name: str | None = None,
) -> None:
    """Raise :class:`InputTableError` for ``count`` rows where ``condition`` holds.

    The message names the column, what was expected, how many rows fail, and up to
    five example rows (row label for pandas, position for other eager frames; or the
    values of ``label_column``). ``name`` is the column's name to show, if ``column``
    is an internal one.
    """
    if label_column is not None:
        frame = to_narwhals(data).filter(condition).select(column, label_column).head(5)
        picked = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
        examples = picked.to_pandas().rename(columns={label_column: "row"})
    else:
        examples = invalid_rows(data, condition, columns=[column])
    shown = []
    for value, label in zip(examples[column], examples["row"], strict=True):
        where = "" if label is None or pd.isna(label) else f"row {_plain(label)}: "
        shown.append(f"{where}{_plain(value)!r}")
    shown_name = column if name is None else name
    message = (
        f"{table}: column {shown_name!r} failed check {check}: expected {expected}; "
        f"{count} row(s) do not, e.g. " + "; ".join(shown) + "." + (f" {hint}" if hint else "")
    )
    cases = pd.DataFrame(
        {
            "column": shown_name,
            "check": check,
            "failure_case": [_plain(v) for v in examples[column]],
            "index": [_plain(v) for v in examples["row"]],
        }
    )
    raise InputTableError(message, table=table, failure_cases=cases)


@dataclass(frozen=True)
class Inputs:
    """Checked arguments of a measure: the frame, its group columns and dtypes."""

    frame: nw.DataFrame[Any] | nw.LazyFrame[Any]
    score: str
    by: list[str]
    weights: str | None
    score_is_float: bool
    weights_is_float: bool


def as_columns(by: str | Sequence[str] | None, *, name: str = "by") -> list[str]:
    """``None`` -> ``[]``, ``"a"`` -> ``["a"]``, a sequence -> a list; no duplicates."""
    if by is None:
        return []
    columns = [by] if isinstance(by, str) else list(by)
    for column in columns:
        if not isinstance(column, str):
            raise ParameterError(f"{name} must name columns (strings); got {column!r}.")
    if len(set(columns)) != len(columns):
        raise ParameterError(f"{name} names a column twice: {columns}.")
    return columns


def prepare(
    data: Any,
    score: str,
    *,
    by: str | Sequence[str] | None,
    weights: str | None,
    reserved: Sequence[str] = (),
) -> Inputs:
    """Check a measure's table arguments once, before any aggregation.

    Raises :class:`InputTableError` for missing columns (with "did you mean") and
    non-numeric score or weight columns, and :class:`ParameterError` for clashing
    names (a group column named like an output column, the score used as a group).
    """
    frame = to_narwhals(data)
    if not isinstance(score, str):
        raise ParameterError(f"score must name a column; got {score!r}.")
    columns = as_columns(by)
    if weights is not None and not isinstance(weights, str):
        raise ParameterError(f"weights must name a column of survey weights; got {weights!r}.")
    if score in columns or (weights is not None and (weights in columns or weights == score)):
        raise ParameterError(
            f"the score ({score!r}), weights ({weights!r}) and group columns {columns} "
            "must be different columns."
        )
    clash = [c for c in columns if c in reserved]
    if clash:
        raise ParameterError(
            f"group columns {clash} have the names of result columns; rename them first."
        )
    names = list(frame.collect_schema().names())
    check_columns(names, [score, *columns, *([weights] if weights else [])], table="data")
    schema = frame.collect_schema()
    for column, role in ((score, "score"), (weights, "weights")):
        if column is None:
            continue
        dtype = schema[column]
        if not dtype.is_numeric():
            raise InputTableError(
                f"data: the {role} column {column!r} must be numeric; found dtype {dtype}. "
                "Hint: convert labels such as '9 - very likely' to numbers first.",
                table="data",
                failure_cases=pd.DataFrame(
                    {
                        "column": [column],
                        "check": ["dtype('numeric')"],
                        "failure_case": [str(dtype)],
                        "index": [None],
                    }
                ),
            )
    return Inputs(
        frame=frame,
        score=score,
        by=columns,
        weights=weights,
        score_is_float=bool(schema[score].is_float()),
        weights_is_float=bool(weights is not None and schema[weights].is_float()),
    )
