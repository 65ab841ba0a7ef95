"""The cross-group HX index: one 0-100 composite of a common core of items.

Every stakeholder group (customers, workers, partners, hybrids, ...) answers the
same core items (``hx_core``: ``hx1`` .. ``hx6`` on 1-5). The index follows the
OECD/JRC (2008) composite-indicator recipe with the *group* as the unit being
scored:

1. **Indicators.** For each group ``g`` and core item ``j`` the (survey-weighted)
   mean score ``m[g, j]`` over every answer of the group's respondents.
2. **Normalisation** onto a common 0-100 range. The default, ``"minmax"``, uses the
   instrument's *fixed* scale ``(low, high)``: ``100 * (m - low) / (high - low)``.
   It never looks at the data, so a group's index does not depend on which other
   groups are in the table. Within-group z-scores are not offered: they set every
   group's mean to zero and erase exactly the differences the index is for. The
   data-driven alternatives (for the sensitivity analysis) are all *pooled* over
   groups: ``"pooled_minmax"``, ``"pooled_zscore"``, ``"rank"`` and
   ``"distance_to_reference"``.
3. **Weighting**: ``"equal"``, a budget allocation ``{item: points}`` (rescaled to
   sum to 1) or ``"factor"``: squared loadings of a one-factor model of the pooled
   responses, scaled to unit sum (Handbook, section 6.1).
4. **Aggregation**: ``"linear"`` (weighted arithmetic mean) or ``"geometric"``
   (weighted geometric mean of the shifted values ``x + shift``, minus ``shift``;
   with ``shift=0`` it is the plain weighted geometric mean, as in the HDI).

Uncertainty: a person-clustered bootstrap (persons resampled within each group,
all of a person's answers kept together) gives ``se`` and percentile intervals;
:func:`sensitivity` adds a Monte Carlo over the modelling choices and reports
each group's median rank and rank interval (Saisana, Saltelli & Tarantola 2005).

Input is a *long* survey table (one row per ``response_id`` x ``item`` with a
``score`` column, as in the responses contract). A *wide* table (one column per
item, one row per response) is accepted as it is: when the frame has no
``item``/``score`` columns and every name in ``items`` is a column.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import (
    ConvergenceError,
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._engine import check_finite_sums
from hxmetrics.measures.privacy import suppress

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AGGREGATIONS",
    "NORMALISATIONS",
    "SensitivityResult",
    "hx_index",
    "index_weights",
    "plot_rank_intervals",
    "sensitivity",
]

#: Normalisations offered. Only ``"minmax"`` (fixed instrument scale) makes a
#: group's index independent of the other groups; the others are pooled over
#: groups and exist for the sensitivity analysis.
NORMALISATIONS: tuple[str, ...] = (
    "minmax",
    "pooled_minmax",
    "pooled_zscore",
    "rank",
    "distance_to_reference",
)
#: Aggregations offered.
AGGREGATIONS: tuple[str, ...] = ("linear", "geometric")
_WEIGHTINGS = ("equal", "factor")
_WITHIN_GROUP = frozenset(
    {
        "zscore",
        "z_score",
        "z",
        "standardise",
        "standardize",
        "standardised",
        "standardized",
        "within_group_zscore",
        "group_zscore",
        "within_zscore",
    }
)

Scale = tuple[float, float] | Mapping[str, tuple[float, float]]
Weighting = str | Mapping[str, float]
RandomState = int | np.random.Generator | None

# Largest bootstrap count matrix (replicates x persons) held at once.
_MAX_CELLS = 4_000_000
_P = "_hx_person"
_R = "_hx_response"
_ITEM = "_hx_item"
_SCORE = "_hx_score"
_W = "_hx_w"
_ROW = "_hx_row"
_RC = "_hx_response_code"
_IC = "_hx_item_code"


# --------------------------------------------------------------------------- data


@dataclass
class _Data:
    """Sufficient statistics per (group, person, item), groups and persons sorted."""

    group_cols: list[str]
    keys: pd.DataFrame  # one row per group, sorted
    items: list[str]  # core items first, then module items
    n_core: int
    low: np.ndarray  # (J,)
    high: np.ndarray  # (J,)
    w: np.ndarray  # (P, J) sum of survey weights of the answers
    s: np.ndarray  # (P, J) weighted sum of scores
    q: np.ndarray  # (P, J) weighted sum of squared scores
    k: np.ndarray  # (P, J) number of answers
    offsets: np.ndarray  # (G + 1,) person rows of group g: offsets[g]:offsets[g+1]
    n_responses: np.ndarray  # (G,)
    excluded: dict[str, int]
    matrix: np.ndarray | None = None  # complete responses x core items (factor weights)
    notes: list[str] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    @property
    def n_persons(self) -> np.ndarray:
        return np.diff(self.offsets)

    def group_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts = self.offsets[:-1]
        return (
            np.add.reduceat(self.w, starts, axis=0),
            np.add.reduceat(self.s, starts, axis=0),
            np.add.reduceat(self.q, starts, axis=0),
        )

    def key_tuples(self) -> list[tuple[Any, ...]]:
        return list(self.keys.itertuples(index=False, name=None))


def _as_list(group: str | Sequence[str]) -> list[str]:
    if isinstance(group, str):
        return [group]
    cols = list(group)
    if not cols:
        raise ParameterError("group must name at least one column; got an empty list.")
    return cols


def _check_items(items: Sequence[str], name: str = "items") -> list[str]:
    if isinstance(items, str):
        raise ParameterError(
            f"{name} must be a list of item names, e.g. ['hx1', 'hx2']; got {items!r}."
        )
    out = [str(i) for i in items]
    if not out:
        raise ParameterError(f"{name} must name at least one item; got an empty list.")
    dupes = sorted({i for i in out if out.count(i) > 1})
    if dupes:
        raise ParameterError(f"{name} lists {dupes} more than once.")
    return out


def _scales(scale: Scale, items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(scale, Mapping):
        missing = [i for i in items if i not in scale]
        if missing:
            raise ParameterError(
                f"scale is a mapping but has no (low, high) for items {missing}; "
                f"it has {list(scale)}.{did_you_mean(missing[0], [str(k) for k in scale])}"
            )
        pairs = [tuple(scale[i]) for i in items]
    else:
        pairs = [tuple(scale)] * len(items)
    for item, pair in zip(items, pairs, strict=True):
        if len(pair) != 2 or not all(math.isfinite(float(v)) for v in pair):
            raise ParameterError(
                f"scale for {item!r} must be two finite numbers (low, high); got {pair}."
            )
        if not float(pair[0]) < float(pair[1]):
            raise ParameterError(f"scale for {item!r} must have low < high; got {pair}.")
    low = np.array([float(p[0]) for p in pairs])
    high = np.array([float(p[1]) for p in pairs])
    return low, high


def _to_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()


def _prepare(
    data: Any,
    items: list[str],
    *,
    group_cols: list[str],
    person: str | None,
    weights: str | None,
    response: str,
    scale: Scale,
    module_items: list[str],
    need_matrix: bool,
) -> _Data:
    all_items = items + module_items
    low, high = _scales(scale, all_items)
    try:
        frame = nw.from_native(data)
    except TypeError as exc:
        raise InputTableError(
            f"data must be a data frame (pandas, Polars, DuckDB, ...); got {type(data).__name__}.",
            table="responses",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        ) from exc
    columns = list(frame.columns)
    # Example rows in errors are shown by their label, never by an id's value.
    if isinstance(frame, nw.DataFrame):
        frame = frame.with_row_index(name=_ROW)
    is_long = "item" in columns and "score" in columns
    extra = [c for c in (person, weights) if c is not None]
    if is_long:
        check_columns(columns, [response, "item", "score", *group_cols, *extra], table="responses")
    else:
        if not all(i in columns for i in items):
            missing = [i for i in items if i not in columns]
            hint = did_you_mean(missing[0], columns)
            raise InputTableError(
                "data must be long (columns 'item' and 'score', one row per response x item) "
                f"or wide (one column per item); found neither: no 'item'/'score' columns and "
                f"items {missing} are not columns. Columns: {columns}.{hint}",
                table="responses",
                failure_cases=pd.DataFrame(
                    {
                        "column": missing,
                        "check": "column_in_dataframe",
                        "failure_case": missing,
                        "index": None,
                    }
                ),
            )
        check_columns(columns, [*group_cols, *extra], table="responses")
        if isinstance(frame, nw.LazyFrame):
            frame = frame.collect()
        if _ROW not in frame.columns:
            frame = frame.with_row_index(name=_ROW)
        present = [i for i in all_items if i in columns]
        if response not in columns:
            frame = frame.with_row_index(name=_R)
            rcol = _R
        else:
            rcol = response
        keep = list(dict.fromkeys([*group_cols, *extra, rcol, _ROW]))
        frame = frame.select([*keep, *present]).with_columns(
            [nw.col(c).cast(nw.Float64) for c in present]
        )
        frame = frame.unpivot(on=present, index=keep, variable_name="item", value_name="score")
        response = rcol

    person_col = person if person is not None else response
    frame = frame.with_columns(
        nw.col("item").cast(nw.String).alias(_ITEM),
        nw.col("score").cast(nw.Float64).alias(_SCORE),
        nw.col(person_col).alias(_P),
        nw.col(response).alias(_R),
        (nw.col(weights).cast(nw.Float64) if weights is not None else nw.lit(1.0)).alias(_W),
    )
    in_items = nw.col(_ITEM).is_in(all_items)
    no_score = nw.col(_SCORE).is_null() | nw.col(_SCORE).is_nan()
    no_group = nw.lit(False)
    for c in group_cols:
        no_group = no_group | nw.col(c).is_null()
    kept = in_items & ~no_group & ~no_score
    bad_w = (
        nw.col(_W).is_null()
        | nw.col(_W).is_nan()
        | (nw.col(_W) <= 0)
        | (nw.col(_W) == float("inf"))
    )
    counts = _to_pandas(
        frame.select(
            (~in_items).cast(nw.Int64).sum().alias("other_items"),
            (in_items & no_group).cast(nw.Int64).sum().alias("missing_group"),
            (in_items & ~no_group & no_score).cast(nw.Int64).sum().alias("missing_score"),
            (kept & nw.col(_P).is_null()).cast(nw.Int64).sum().alias("_no_person"),
            (kept & bad_w).cast(nw.Int64).sum().alias("_bad_weight"),
        )
    ).iloc[0]
    excluded = {k: int(counts[k]) for k in ("other_items", "missing_group", "missing_score")}
    frame = frame.filter(kept)
    if counts["_no_person"] > 0:
        _raise_no_person(frame, person_col)
    if counts["_bad_weight"] > 0 and weights is not None:
        _raise_bad_weight(frame, weights, bad_w)

    frame = _integer_keys(frame, all_items)
    frame = frame.with_columns(
        (nw.col(_W) * nw.col(_SCORE)).alias("_hx_ws"),
        (nw.col(_W) * nw.col(_SCORE) * nw.col(_SCORE)).alias("_hx_wss"),
    )
    stats = _to_pandas(
        frame.group_by([*group_cols, _P, _IC]).agg(
            nw.col(_W).sum(),
            nw.col("_hx_ws").sum(),
            nw.col("_hx_wss").sum(),
            nw.len().alias("_hx_k"),
            nw.col(_RC).n_unique().alias("_hx_nr"),
            nw.col(_SCORE).min().alias("_hx_min"),
            nw.col(_SCORE).max().alias("_hx_max"),
        )
    )
    stats = _item_names(stats, all_items)
    # A response answers an item once: a person's answers to an item in fewer
    # responses than answers means a repeated (response, item) row.
    if bool((stats["_hx_nr"] < stats["_hx_k"]).any()):
        _raise_duplicates(frame, stats, response if is_long else rcol, is_long=is_long)
    _check_scale(frame, stats, items=all_items, low=low, high=high)
    _check_weighted_sums(frame, stats, weights=weights, is_long=is_long)
    resp = _to_pandas(frame.group_by(group_cols).agg(nw.col(_RC).n_unique().alias("_hx_nresp")))
    if stats.empty:
        raise InputTableError(
            f"no answers to items {all_items} were found (after excluding {excluded}).",
            table="responses",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )

    try:
        stats = stats.sort_values([*group_cols, _P], kind="stable").reset_index(drop=True)
    except TypeError as exc:
        raise InputTableError(
            f"group columns {group_cols} and the person column must each hold values of one "
            f"type that can be sorted: {exc}",
            table="responses",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        ) from exc
    by_group = stats.groupby(group_cols, sort=True, dropna=False)
    keys = by_group.size().reset_index()[group_cols]
    g_code = by_group.ngroup().to_numpy()
    pair_code = stats.groupby([*group_cols, _P], sort=True, dropna=False).ngroup().to_numpy()
    i_code = pd.Categorical(stats[_ITEM], categories=all_items).codes
    n_pairs = int(pair_code.max()) + 1
    shape = (n_pairs, len(all_items))
    arrays = {}
    for name, col in (("w", _W), ("s", "_hx_ws"), ("q", "_hx_wss"), ("k", "_hx_k")):
        arr = np.zeros(shape)
        arr[pair_code, i_code] = stats[col].to_numpy(dtype=float)
        arrays[name] = arr
    pair_group = np.zeros(n_pairs, dtype=np.int64)
    pair_group[pair_code] = g_code
    offsets = np.searchsorted(pair_group, np.arange(len(keys) + 1))

    resp = keys.merge(resp, on=group_cols, how="left")
    data_out = _Data(
        group_cols=group_cols,
        keys=keys,
        items=all_items,
        n_core=len(items),
        low=low,
        high=high,
        w=arrays["w"],
        s=arrays["s"],
        q=arrays["q"],
        k=arrays["k"],
        offsets=offsets,
        n_responses=resp["_hx_nresp"].to_numpy(dtype=np.int64),
        excluded=excluded,
    )
    if need_matrix:
        data_out.matrix = _response_matrix(frame, items)
    return data_out


def _integer_keys(frame: Any, items: list[str]) -> Any:
    """Integer codes for the person (order-preserving), the response and the item.

    Grouping and counting distinct values on integers is several times faster than
    on id strings in pandas. Person codes follow the sorted order of the ids, so
    that the persons' order below (and with it every bootstrap draw) is unchanged.
    ``_RC`` and ``_IC`` are the response's and the item's codes; other backends group
    on the values themselves (``_RC`` and ``_IC`` are copies of the columns).
    """
    native = frame.to_native() if isinstance(frame, nw.DataFrame) else None
    as_is = [nw.col(_R).alias(_RC), nw.col(_ITEM).alias(_IC)]
    if not isinstance(native, pd.DataFrame):
        return frame.with_columns(as_is)
    try:
        person = pd.factorize(native[_P], sort=True)[0]
    except TypeError:
        # Ids of mixed types cannot be sorted: the sort in _prepare says so.
        return frame.with_columns(as_is)
    response = pd.factorize(native[_R])[0]
    # Every kept row's item is one of ``items`` (rows of other items were excluded).
    item = pd.Categorical(native[_ITEM], categories=items).codes.astype(np.int64)
    coded = native.assign(**{_P: person, _RC: response, _IC: item})
    return nw.from_native(coded, eager_only=True)


def _item_names(stats: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """``_ITEM`` (the item's name) from ``_IC`` (its position in ``items``, or its name)."""
    code = stats.pop(_IC)
    if pd.api.types.is_integer_dtype(code.dtype):
        names = np.asarray(items, dtype=object)[code.to_numpy()]
        stats[_ITEM] = pd.Series(names, index=stats.index, dtype="str")
    else:
        stats[_ITEM] = code
    return stats


_NO_CASES = ["column", "check", "failure_case", "index"]


def _raise_no_person(frame: Any, person_col: str) -> None:
    # Rows by label: the response id may be an identifier and stays out of the message.
    labelled = _ROW in frame.columns
    ex = _to_pandas(frame.filter(nw.col(_P).is_null()).select(_R, *([_ROW] * labelled)).head(5))
    where = ", ".join(f"row {int(r)}" for r in ex[_ROW]) if labelled else f"{len(ex)} rows"
    raise InputTableError(
        f"column {person_col!r} (the person to cluster on) is missing for some answers, "
        f"e.g. {where}; attribute every response to a person "
        "or pass person=None to treat responses as independent.",
        table="responses",
        failure_cases=pd.DataFrame(
            {"column": person_col, "check": "not_nullable", "failure_case": None, "index": None},
            index=range(len(ex)),
        ),
    )


def _raise_duplicates(frame: Any, stats: pd.DataFrame, response: str, *, is_long: bool) -> None:
    dup = stats.loc[stats["_hx_nr"] < stats["_hx_k"], [_P, _ITEM]]
    n_pairs = len(dup)
    # Example rows: every answer of the first repeated (person, item) pairs, found by
    # the internal columns so that no identifier value enters the message.
    first = dup.head(3)
    condition = nw.lit(False)
    for person, item in zip(first[_P], first[_ITEM], strict=True):
        condition = condition | ((nw.col(_P) == person) & (nw.col(_ITEM) == item))
    ex = _to_pandas(
        frame.filter(condition).select(_R, _ITEM, *([_ROW] if _ROW in frame.columns else []))
    )
    repeated = ex[ex.duplicated([_R, _ITEM], keep=False)]
    rows = repeated[_ROW].astype(int).tolist() if _ROW in repeated.columns else []
    where = ", ".join(f"row {r}" for r in rows[:6]) or "(a lazy frame has no row order)"
    what = (
        f"columns {response!r} and 'item' failed check unique: each response answers an "
        "item once (one row per response x item)"
        if is_long
        else f"column {response!r} failed check unique: one row per response"
    )
    raise InputTableError(
        f"responses: {what}; {n_pairs} (person, item) pair(s) have a repeated answer, e.g. "
        f"{where}. Remove the repeated rows (keep one answer per response and item).",
        table="responses",
        failure_cases=pd.DataFrame(
            {
                "column": response if not is_long else f"{response}, item",
                "check": "unique",
                "failure_case": [f"row {r}" for r in rows[:6]] if rows else ["unknown row"],
                "index": list(rows[:6]) if rows else [pd.NA],
            }
        ),
    )


def _check_weighted_sums(
    frame: Any, stats: pd.DataFrame, *, weights: str | None, is_long: bool
) -> None:
    """Weights of 1e308 are finite, their sums are not: refuse them with example rows."""
    if weights is None:
        return
    n_rows = int(stats["_hx_k"].sum())
    # The bootstrap draws a person up to n times (n persons in a group, fewer than the
    # person x item rows): its sums must stay finite that many times over.
    n_max = max(len(stats), 1)
    with np.errstate(over="ignore", invalid="ignore"):
        totals = {
            "w": np.array([stats[_W].sum() * n_max]),
            "wx": np.array([stats["_hx_ws"].sum() * n_max]),
            "wx2": np.array([stats["_hx_wss"].sum() * n_max]),
        }
    check_finite_sums(
        frame,
        totals,
        answered=nw.lit(True),
        n_rows=n_rows * n_max,
        score=_SCORE,
        weights=_W,
        x=nw.col(_SCORE),
        label_column=_ROW if _ROW in frame.columns else None,
        names={_W: weights, _SCORE: "score"},
        table="responses",
    )


def _raise_bad_weight(frame: Any, weights: str, bad_w: Any) -> None:
    # Rows by label: the response id may be an identifier and stays out of the message.
    labelled = _ROW in frame.columns
    ex = _to_pandas(frame.filter(bad_w).select(_W, *([_ROW] if labelled else [])).head(5))
    rows = ex[_ROW].astype(int).tolist() if labelled else [None] * len(ex)
    shown = "; ".join(
        (f"row {r}: " if r is not None else "") + f"{v:g}"
        for r, v in zip(rows, ex[_W], strict=True)
    )
    raise InputTableError(
        f"responses: column {weights!r} failed check positive_weight: survey weights must "
        f"be finite numbers greater than 0; found e.g. {shown}.",
        table="responses",
        failure_cases=pd.DataFrame(
            {"column": weights, "check": "greater_than(0)", "failure_case": ex[_W], "index": rows}
        ),
    )


def _check_scale(
    frame: Any, stats: pd.DataFrame, *, items: list[str], low: np.ndarray, high: np.ndarray
) -> None:
    codes = pd.Categorical(stats[_ITEM], categories=items).codes
    mins = np.full(len(items), np.inf)
    maxs = np.full(len(items), -np.inf)
    np.minimum.at(mins, codes, stats["_hx_min"].to_numpy(dtype=float))
    np.maximum.at(maxs, codes, stats["_hx_max"].to_numpy(dtype=float))
    bad = (mins < low) | (maxs > high)
    if not bad.any():
        return
    outside = pd.DataFrame({"_lo": low, "_hi": high}, index=pd.Index(items))[bad]
    lines = []
    cases: list[dict[str, Any]] = []
    for item, row in outside.iterrows():
        lo, hi = row["_lo"], row["_hi"]
        labelled = _ROW in frame.columns
        ex = _to_pandas(
            frame.filter((nw.col(_ITEM) == item) & ((nw.col(_SCORE) < lo) | (nw.col(_SCORE) > hi)))
            .select(_SCORE, *([_ROW] * labelled))
            .head(3)
        )
        # Rows by label: the response id may be an identifier.
        examples = ", ".join(
            (f"row {int(r)}: " if labelled else "") + f"{v:g}"
            for r, v in zip(ex[_ROW] if labelled else ex[_SCORE], ex[_SCORE], strict=True)
        )
        lines.append(f"  item {item!r} outside its scale [{lo:g}, {hi:g}], e.g. {examples}")
        cases.extend(
            {
                "column": "score",
                "check": f"in_range({lo:g}, {hi:g})",
                "failure_case": v,
                "index": None,
            }
            for v in ex[_SCORE]
        )
    raise InputTableError(
        "scores must lie on the instrument's fixed scale (the index maps low -> 0 and "
        "high -> 100):\n" + "\n".join(lines) + "\nHint: pass scale=(low, high) or a "
        "{item: (low, high)} mapping matching the instrument.",
        table="responses",
        failure_cases=pd.DataFrame(cases),
    )


def _response_matrix(frame: Any, items: list[str]) -> np.ndarray:
    long = _to_pandas(frame.filter(nw.col(_ITEM).is_in(items)).select(_R, _ITEM, _SCORE))
    dup = long.duplicated([_R, _ITEM])
    if dup.any():
        ex = long.loc[dup, [_R, _ITEM]].head(3).to_numpy().tolist()
        raise InputTableError(
            f"each response may answer an item once; found repeats, e.g. (response, item) {ex}.",
            table="responses",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    wide = long.pivot(index=_R, columns=_ITEM, values=_SCORE).reindex(columns=items)
    return wide.dropna().to_numpy(dtype=float)


# ------------------------------------------------------------------- weighting


def _one_factor_loadings(
    matrix: np.ndarray, *, tol: float = 1e-10, max_iter: int = 2000
) -> np.ndarray:
    """Loadings of one common factor by iterated principal-axis factoring.

    Start from squared multiple correlations as communalities, put them on the
    diagonal of the correlation matrix, take the leading eigenpair, update the
    communalities with the squared loadings, repeat to convergence (Harman 1976).
    """
    n, p = matrix.shape
    if n < p + 2:
        raise ParameterError(
            f"factor weights need more complete responses than items; found {n} complete "
            f"responses for {p} items. Use weighting='equal' or a budget allocation."
        )
    sd = matrix.std(axis=0)
    if np.any(sd == 0):
        raise ParameterError(
            "factor weights need every item to vary; items at positions "
            f"{np.flatnonzero(sd == 0).tolist()} are constant across the complete responses."
        )
    corr = np.corrcoef(matrix, rowvar=False)
    if p == 1:
        return np.ones(1)
    try:
        h2 = 1.0 - 1.0 / np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        h2 = np.max(np.abs(corr - np.eye(p)), axis=0)
    loadings = np.zeros(p)
    for _ in range(max_iter):
        reduced = corr.copy()
        np.fill_diagonal(reduced, h2)
        values, vectors = np.linalg.eigh(reduced)
        loadings = vectors[:, -1] * math.sqrt(max(values[-1], 0.0))
        new = loadings**2
        if np.max(np.abs(new - h2)) < tol:
            break
        h2 = new
    else:
        raise ConvergenceError(
            f"principal-axis factoring did not converge in {max_iter} iterations "
            f"(communalities still moving by {np.max(np.abs(new - h2)):.2g}); "
            "use weighting='equal' or a budget allocation."
        )
    if loadings.sum() < 0:
        loadings = -loadings
    return loadings


def _resolve_weights(
    weighting: Weighting, items: list[str], matrix: np.ndarray | None
) -> tuple[np.ndarray, str, np.ndarray | None, list[str]]:
    """Return (weights summing to 1, label, loadings or None, notes)."""
    notes: list[str] = []
    if isinstance(weighting, Mapping):
        unknown = [k for k in weighting if k not in items]
        missing = [i for i in items if i not in weighting]
        if unknown or missing:
            hint = did_you_mean(str(unknown[0]), items) if unknown else ""
            raise ParameterError(
                f"a budget allocation must give a weight to every core item and only to them; "
                f"missing {missing}, unknown {unknown}.{hint}"
            )
        raw = np.array([float(weighting[i]) for i in items])
        if not np.all(np.isfinite(raw)) or np.any(raw < 0) or raw.sum() <= 0:
            raise ParameterError(
                f"budget allocation weights must be non-negative, finite and not all zero; got "
                f"{dict(zip(items, raw.tolist(), strict=True))}."
            )
        total = raw.sum()
        if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
            notes.append(f"budget allocation summed to {total:g}; weights rescaled to sum to 1.")
        return raw / total, "budget", None, notes
    if not isinstance(weighting, str):
        raise ParameterError(
            f"weighting must be 'equal', 'factor' or a {{item: weight}} mapping; got {weighting!r}."
        )
    check_choice("weighting", weighting, _WEIGHTINGS)
    if weighting == "equal":
        return np.full(len(items), 1.0 / len(items)), "equal", None, notes
    if matrix is None:  # pragma: no cover - callers always build it for "factor"
        raise ParameterError("factor weights need the response-level data.")
    loadings = _one_factor_loadings(matrix)
    if np.any(loadings < 0):
        neg = [i for i, v in zip(items, loadings, strict=True) if v < 0]
        raise ParameterError(
            f"items {neg} load negatively on the common factor; reverse-score them "
            "(high must mean better on every item) before building the index."
        )
    squared = loadings**2
    notes.append(
        f"factor weights from a one-factor principal-axis model of {len(matrix)} "
        "complete responses (squared loadings scaled to unit sum)."
    )
    return squared / squared.sum(), "factor", loadings, notes


# ------------------------------------------------------- normalise & aggregate


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _pooled_moments(
    w: np.ndarray, s: np.ndarray, q: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled (all reported groups) answer-level mean and SD per item; (..., J)."""
    wp = w[..., active, :].sum(axis=-2)
    mean = _safe_div(s[..., active, :].sum(axis=-2), wp)
    var = _safe_div(q[..., active, :].sum(axis=-2), wp) - mean**2
    return mean, np.sqrt(np.clip(var, 0.0, None))


def _normalise(
    means: np.ndarray,
    method: str,
    *,
    low: np.ndarray,
    high: np.ndarray,
    active: np.ndarray,
    pooled_mean: np.ndarray,
    pooled_sd: np.ndarray,
    reference: int | None,
) -> np.ndarray:
    """Map item means (..., G, J) onto the index scale; pooled methods use active groups only."""
    if method == "minmax":
        return 100.0 * (means - low) / (high - low)
    if method == "pooled_minmax":
        act = means[..., active, :]
        finite = np.isfinite(act)
        lo = np.where(finite, act, np.inf).min(axis=-2, keepdims=True)
        hi = np.where(finite, act, -np.inf).max(axis=-2, keepdims=True)
        span = hi - lo
        with np.errstate(invalid="ignore"):
            out = 100.0 * _safe_div(means - lo, span)
        # An item on which every group ties carries no information: 50 for all.
        return np.where(np.isfinite(span) & (span == 0) & np.isfinite(means), 50.0, out)
    if method == "pooled_zscore":
        z = _safe_div(means - pooled_mean[..., None, :], pooled_sd[..., None, :])
        tie = (pooled_sd[..., None, :] == 0) & np.isfinite(means)
        return np.where(tie, 50.0, 50.0 + 10.0 * z)
    if method == "rank":
        masked = np.where(active[:, None], means, np.nan)
        ranks = _average_ranks(masked)
        n_valid = np.isfinite(masked).sum(axis=-2, keepdims=True)
        out = _safe_div(100.0 * (ranks - 1.0), (n_valid - 1.0) * np.ones_like(ranks))
        return np.where((n_valid == 1) & np.isfinite(ranks), 50.0, out)
    if method == "distance_to_reference":
        ref = pooled_mean if reference is None else means[..., reference, :]
        unit = (means - low) / (high - low)
        unit_ref = (ref - low) / (high - low)
        return 100.0 * _safe_div(unit, unit_ref[..., None, :])
    raise ParameterError(f"unknown normalisation {method!r}")  # pragma: no cover


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ascending ranks along axis -2 among finite values, ties averaged; NaN stays NaN."""
    valid = np.isfinite(values)
    a = values[..., :, None, :]  # the group being ranked
    b = values[..., None, :, :]  # the groups it is compared with
    other = valid[..., None, :, :]
    with np.errstate(invalid="ignore"):
        below = ((b < a) & other).sum(axis=-2)
        ties = ((b == a) & other).sum(axis=-2)
    ranks = 1.0 + below + (ties - 1) / 2.0
    return np.where(valid, ranks, np.nan)


def _aggregate(x: np.ndarray, weights: np.ndarray, method: str, shift: float) -> np.ndarray:
    """Weighted linear or (shifted) geometric mean over the last axis."""
    if method == "linear":
        return np.sum(x * weights, axis=-1)
    # Outside the domain (x + shift <= 0) the log is NaN, and so is the composite.
    y = x + shift
    logs = np.log(np.where(y > 0, y, np.nan))
    return np.exp(np.sum(logs * weights, axis=-1)) - shift


@dataclass(frozen=True)
class _Spec:
    normalise: str
    aggregate: str
    shift: float
    reference: int | None


def _index_from_sums(
    w: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    *,
    data: _Data,
    active: np.ndarray,
    spec: _Spec,
    weights: np.ndarray,
) -> np.ndarray:
    """Index (..., G) from summed statistics (..., G, J) over the core items."""
    core = slice(0, data.n_core)
    w, s, q = w[..., core], s[..., core], q[..., core]
    means = _safe_div(s, w)
    pooled_mean, pooled_sd = _pooled_moments(w, s, q, active)
    x = _normalise(
        means,
        spec.normalise,
        low=data.low[core],
        high=data.high[core],
        active=active,
        pooled_mean=pooled_mean,
        pooled_sd=pooled_sd,
        reference=spec.reference,
    )
    return _aggregate(x, weights, spec.aggregate, spec.shift)


# ------------------------------------------------------------------ bootstrap


def _seed(random_state: RandomState) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ParameterError(
            "random_state must be None, a non-negative int or a numpy Generator; "
            f"got {random_state!r}."
        )
    if random_state < 0:
        raise ParameterError(f"random_state must be non-negative; got {random_state}.")
    return int(random_state)


def _key_hash(key: tuple[Any, ...]) -> int:
    text = repr(tuple(str(v) for v in key)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _group_rngs(seed: int, keys: list[tuple[Any, ...]]) -> list[np.random.Generator]:
    # One stream per group, keyed by the group's label: a group's resamples do
    # not change when other groups are added or removed.
    return [np.random.default_rng([seed, _key_hash(k)]) for k in keys]


def _resampled_sums(
    data: _Data, rngs: list[np.random.Generator], n_rep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Person-clustered bootstrap: (n_rep, G, J) sums, persons resampled within group."""
    g_count, j = data.n_groups, len(data.items)
    out = np.zeros((3, n_rep, g_count, j))
    for g in range(g_count):
        lo, hi = int(data.offsets[g]), int(data.offsets[g + 1])
        n = hi - lo
        stacked = np.concatenate([data.w[lo:hi], data.s[lo:hi], data.q[lo:hi]], axis=1)
        chunk = max(1, _MAX_CELLS // n)
        for start in range(0, n_rep, chunk):
            stop = min(n_rep, start + chunk)
            b = stop - start
            # n draws with replacement per replicate, tallied per person: a
            # multinomial(n, 1/n) count vector. The draws as int32 are the same
            # numbers as int64 (the generator draws 32-bit values below 2**32) in half
            # the memory, and one bincount per replicate over n bins stays in cache
            # where one over b * n bins does not: same counts, same product, faster.
            picks = rngs[g].integers(0, n, size=(b, n), dtype=np.int32)
            counts = np.empty((b, n))
            for row in range(b):
                counts[row] = np.bincount(picks[row], minlength=n)
            res = counts @ stacked
            out[0, start:stop, g] = res[:, :j]
            out[1, start:stop, g] = res[:, j : 2 * j]
            out[2, start:stop, g] = res[:, 2 * j :]
    return out[0], out[1], out[2]


def _summarise_reps(reps: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    """se and percentile interval per column of (B, G) replicates, ignoring NaN replicates."""
    g_count = reps.shape[1]
    se = np.full(g_count, np.nan)
    lo = np.full(g_count, np.nan)
    hi = np.full(g_count, np.nan)
    alpha = 1.0 - confidence
    for g in range(g_count):
        col = reps[:, g]
        col = col[np.isfinite(col)]
        if col.size >= 2:
            se[g] = col.std(ddof=1)
            lo[g], hi[g] = np.quantile(col, [alpha / 2, 1 - alpha / 2])
    return se, lo, hi


# ----------------------------------------------------------------- public API


def _check_common(normalise: str, aggregate: str, shift: float, min_n: int) -> None:
    if isinstance(normalise, str) and normalise.lower() in _WITHIN_GROUP:
        raise ParameterError(
            f"normalise={normalise!r}: within-group z-scores are not offered, because they "
            "force every group's mean to 0 and so erase the between-group differences the "
            "index exists to show. Use 'minmax' (the instrument's fixed scale), or "
            "'pooled_zscore' (one mean and SD pooled over all groups)."
        )
    check_choice("normalise", normalise, NORMALISATIONS)
    check_choice("aggregate", aggregate, AGGREGATIONS)
    if not (isinstance(shift, (int, float)) and math.isfinite(shift) and shift >= 0):
        raise ParameterError(f"shift must be a finite number >= 0; got {shift!r}.")
    if isinstance(min_n, bool) or not isinstance(min_n, (int, np.integer)) or min_n < 1:
        raise ParameterError(f"min_n must be a positive integer; got {min_n!r}.")


def _reference_index(reference: Hashable | None, data: _Data) -> int | None:
    if reference is None:
        return None
    key = reference if isinstance(reference, tuple) else (reference,)
    keys = data.key_tuples()
    for pos, k in enumerate(keys):
        if tuple(k) == key:
            return pos
    raise ParameterError(
        f"reference {reference!r} is not a group; groups are {keys[:10]}"
        + (" ..." if len(keys) > 10 else "")
        + "."
    )


def _check_point(
    index: np.ndarray, data: _Data, active: np.ndarray, spec: _Spec, label: str = ""
) -> None:
    core = slice(0, data.n_core)
    has_all = (data.group_sums()[0][:, core] > 0).all(axis=1)
    bad = active & has_all & ~np.isfinite(index)
    if bad.any():
        keys = [data.key_tuples()[i] for i in np.flatnonzero(bad)][:5]
        if spec.aggregate == "geometric":
            hint = (
                "the geometric mean needs every normalised indicator + shift > 0; "
                f"raise shift (now {spec.shift:g}) or use aggregate='linear'."
            )
        elif spec.normalise == "distance_to_reference":
            hint = (
                "the reference sits at the bottom of the scale on some item, "
                "so ratios are undefined."
            )
        else:
            hint = "check the input data."
        raise ParameterError(f"{label}the index is undefined for groups {keys}: {hint}")


def hx_index(
    data: Any,
    items: Sequence[str],
    *,
    group: str | Sequence[str],
    person: str | None = None,
    weights: str | None = None,
    weighting: Weighting = "equal",
    normalise: str = "minmax",
    aggregate: Literal["linear", "geometric"] = "linear",
    scale: Scale = (1, 5),
    shift: float = 1.0,
    reference: Hashable | None = None,
    modules: Mapping[Hashable, Sequence[str]] | None = None,
    module_share: float | None = None,
    response: str = "response_id",
    n_boot: int = 1000,
    confidence: float = 0.95,
    min_n: int = 10,
    random_state: RandomState = None,
) -> pd.DataFrame:
    """Cross-group HX index on a fixed 0-100 scale, with person-clustered intervals.

    Parameters
    ----------
    data : DataFrame
        Long survey responses (one row per ``response_id`` x ``item`` with a
        ``score`` column), or wide (one row per response, one column per item; used
        when the frame has no ``item``/``score`` columns). Any frame narwhals
        accepts (pandas, Polars, DuckDB, ...).
    items : list of str
        The common core: items every group answers (e.g. ``hx1`` .. ``hx6``).
        Rows of other items are ignored and counted in ``attrs["excluded"]``.
    group : str or list of str
        Column(s) naming the stakeholder group of each answer.
    person : str, optional
        Column identifying the person; the bootstrap resamples persons, keeping all
        their answers together. ``None`` treats each response as its own person.
    weights : str, optional
        Column of positive survey weights (per answer). Unit weights give the
        unweighted result.
    weighting : {"equal", "factor"} or dict, default "equal"
        Item weights: equal; ``"factor"``, squared loadings of a one-factor
        principal-axis model of the pooled complete responses scaled to unit sum
        (OECD/JRC 2008, section 6.1); or a budget allocation ``{item: points}``
        rescaled to sum to 1 (a note says so in ``attrs["notes"]``).
    normalise : str, default "minmax"
        ``"minmax"``: ``100 * (mean - low) / (high - low)`` on the fixed ``scale``;
        the only choice under which a group's index ignores the other groups.
        Pooled alternatives (never within-group): ``"pooled_minmax"`` (goalposts =
        lowest and highest group mean), ``"pooled_zscore"`` (``50 + 10 z`` with the
        mean and SD of all answers pooled; unbounded), ``"rank"`` (rank of the group
        on the item, 0 = lowest, 100 = highest) and ``"distance_to_reference"``
        (``100 x`` ratio of the fixed-scale position to that of ``reference``, the
        pooled mean by default; 100 = at par, unbounded above). Pooled methods use
        the reported (not suppressed) groups; an item on which all groups tie scores
        50.
    aggregate : {"linear", "geometric"}, default "linear"
        Weighted arithmetic mean, or weighted geometric mean of ``x + shift`` minus
        ``shift``. The geometric mean never exceeds the arithmetic one (AM-GM) and
        penalises unbalanced profiles.
    scale : (low, high) or dict, default (1, 5)
        The instrument's fixed scale, or one ``(low, high)`` per item. Scores outside
        it are an error.
    shift : float, default 1.0
        Index points added before and removed after the geometric mean, so that an
        item at the bottom of the scale (0) does not zero the composite. ``0`` gives
        the plain weighted geometric mean (then every indicator must be > 0).
    reference : group label, optional
        Reference group for ``"distance_to_reference"`` (a tuple for several group
        columns). ``None``: the pooled mean of all reported groups.
    modules : dict, optional
        Group-specific items ``{group label: [items]}`` answered by that group only.
        Adds ``module_index`` (equal weights, fixed-scale min-max, same aggregation)
        and ``extended_index`` (core and module combined with weights
        ``1 - module_share`` and ``module_share``) with their intervals. Only the core
        ``hx_index`` is comparable across groups.
    module_share : float, optional
        Weight of the module in ``extended_index``; default: the module's share of
        the items (``n_module / (n_core + n_module)``).
    response : str, default "response_id"
        Response id column (optional for wide data).
    n_boot : int, default 1000
        Bootstrap replicates; 0 skips the intervals.
    confidence : float, default 0.95
        Level of the percentile intervals.
    min_n : int, default 10
        Groups with fewer persons are reported with ``suppressed=True`` and NaN
        estimates, and take no part in pooled normalisations.
    random_state : int, Generator or None
        Seed; the same seed gives the same intervals. Each group's resamples are
        keyed by its label, so they do not change when other groups are added.

    Returns
    -------
    pandas.DataFrame
        One row per group: the group columns, ``n`` (persons), ``n_responses``,
        ``hx_index``, ``se``, ``ci_low``, ``ci_high``, ``suppressed`` (and the module
        columns when ``modules`` is given). ``attrs`` holds ``weights`` (item ->
        weight), ``normalise``, ``aggregate``, ``excluded`` (rows left out and why)
        and ``notes``.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and
    User Guide. Paris: OECD. Sections 5 (normalisation), 6 (weighting and
    aggregation), 7 (uncertainty and sensitivity analysis).

    UNDP (2020). Human Development Report 2020, Technical notes: fixed goalposts and
    the geometric mean of dimension indices.

    Examples
    --------
    Wide data, two teams, two items on 1-5. Team a: item means 4.5 and 4.0, i.e.
    87.5 and 75 on 0-100, index 81.25; team b: 2.5 and 2.0, index 31.25.

    >>> import pandas as pd
    >>> from hxmetrics.measures.index import hx_index
    >>> wide = pd.DataFrame({"team": ["a", "a", "b", "b"],
    ...                      "hx1": [5, 4, 2, 3], "hx2": [4, 4, 3, 1]})
    >>> out = hx_index(wide, ["hx1", "hx2"], group="team", min_n=1, n_boot=200,
    ...                random_state=0)
    >>> out[["team", "n", "hx_index"]]
      team  n  hx_index
    0    a  2     81.25
    1    b  2     31.25
    """
    items = _check_items(items)
    group_cols = _as_list(group)
    _check_common(normalise, aggregate, shift, min_n)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ParameterError(f"n_boot must be a non-negative integer; got {n_boot!r}.")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be between 0 and 1; got {confidence!r}.")
    module_map = _check_modules(modules, items)
    module_items = list(dict.fromkeys(i for its in module_map.values() for i in its))
    need_matrix = isinstance(weighting, str) and weighting == "factor"
    d = _prepare(
        data,
        items,
        group_cols=group_cols,
        person=person,
        weights=weights,
        response=response,
        scale=scale,
        module_items=module_items,
        need_matrix=need_matrix,
    )
    item_w, _, _, notes = _resolve_weights(weighting, items, d.matrix)
    spec = _Spec(normalise, aggregate, float(shift), _reference_index(reference, d))
    active = ~_hidden(d, min_n)
    if spec.reference is not None and not active[spec.reference]:
        raise ParameterError(
            f"reference group {reference!r} is suppressed: it has fewer than min_n={min_n} "
            "persons, or hiding a smaller group required hiding it too."
        )
    notes = notes + _missing_item_notes(d, active)

    sums = d.group_sums()
    point = _index_from_sums(*sums, data=d, active=active, spec=spec, weights=item_w)
    _check_point(point, d, active, spec)

    g_count = d.n_groups
    se = lo = hi = np.full(g_count, np.nan)
    reps = None
    if n_boot > 0:
        rngs = _group_rngs(_seed(random_state), d.key_tuples())
        reps_sums = _resampled_sums(d, rngs, n_boot)
        reps = _index_from_sums(*reps_sums, data=d, active=active, spec=spec, weights=item_w)
        se, lo, hi = _summarise_reps(reps, confidence)
        failed = int(
            (~np.isfinite(reps[:, active])).sum() - n_boot * (~np.isfinite(point[active])).sum()
        )
        if failed > 0:
            notes.append(
                f"{failed} bootstrap replicate(s) gave an undefined index and were left out."
            )

    out = d.keys.copy()
    out["n"] = d.n_persons
    out["n_responses"] = d.n_responses
    out["hx_index"] = point
    out["se"] = se
    out["ci_low"] = lo
    out["ci_high"] = hi
    if module_map:
        _add_modules(
            out,
            d,
            module_map,
            module_share,
            spec,
            reps_sums if n_boot > 0 else None,
            reps,
            confidence,
            notes,
        )
    # One disclosure rule for every measure: n and counts of a hidden group are hidden
    # too, and so is a neighbour whenever the total would give the hidden group back.
    out = suppress(out, min_n=min_n, by=group_cols)
    out.attrs = {
        "weights": dict(zip(items, item_w.tolist(), strict=True)),
        "normalise": normalise,
        "aggregate": aggregate,
        "shift": float(shift),
        "scale": {i: (float(a), float(b)) for i, a, b in zip(d.items, d.low, d.high, strict=True)},
        "n_boot": int(n_boot),
        "confidence": float(confidence),
        "min_n": int(min_n),
        "excluded": d.excluded,
        "notes": notes,
    }
    return out


def _hidden(d: _Data, min_n: int) -> np.ndarray:
    """Groups not shown: below ``min_n`` persons, and their complements.

    The same rule (:func:`hxmetrics.measures.privacy.suppress`) that hides the rows of
    the output decides which groups take part in pooled normalisations and ranks, so a
    hidden group influences no number that is shown.
    """
    sizes = d.keys.copy()
    sizes["n"] = d.n_persons
    hidden = suppress(sizes, min_n=min_n, by=d.group_cols)["suppressed"]
    return hidden.to_numpy(dtype=bool)


def _missing_item_notes(d: _Data, active: np.ndarray) -> list[str]:
    w = d.group_sums()[0][:, : d.n_core]
    notes = []
    for g in np.flatnonzero(active & (w <= 0).any(axis=1)):
        missing = [d.items[j] for j in np.flatnonzero(w[g] <= 0)]
        notes.append(
            f"group {d.key_tuples()[g]} has no answers to core items {missing}; its index is NaN."
        )
    return notes


def _check_modules(
    modules: Mapping[Hashable, Sequence[str]] | None, items: list[str]
) -> dict[tuple[Any, ...], list[str]]:
    if modules is None:
        return {}
    if not isinstance(modules, Mapping):
        raise ParameterError(f"modules must be a {{group: [items]}} mapping; got {modules!r}.")
    out: dict[tuple[Any, ...], list[str]] = {}
    for label, its in modules.items():
        its = _check_items(its, name=f"modules[{label!r}]")
        overlap = [i for i in its if i in items]
        if overlap:
            raise ParameterError(
                f"module items {overlap} of group {label!r} are core items; a module holds "
                "only the group's own extra items."
            )
        out[label if isinstance(label, tuple) else (label,)] = its
    return out


def _add_modules(
    out: pd.DataFrame,
    d: _Data,
    module_map: dict[tuple[Any, ...], list[str]],
    module_share: float | None,
    spec: _Spec,
    reps_sums: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    core_reps: np.ndarray | None,
    confidence: float,
    notes: list[str],
) -> None:
    keys = d.key_tuples()
    unknown = [k for k in module_map if k not in keys]
    if unknown:
        raise ParameterError(
            f"modules name groups {unknown} that are not in the data; groups: {keys[:10]}."
        )
    if module_share is not None and not 0 < module_share < 1:
        raise ParameterError(f"module_share must be between 0 and 1; got {module_share!r}.")
    cols = ["module_index", "module_ci_low", "module_ci_high"]
    cols += ["extended_index", "extended_ci_low", "extended_ci_high"]
    for c in cols:
        out[c] = np.nan
    w_all, s_all, _ = d.group_sums()
    core_index = out["hx_index"].to_numpy()
    for key, its in module_map.items():
        g = keys.index(key)
        idx = [d.items.index(i) for i in its]
        share = module_share if module_share is not None else len(its) / (d.n_core + len(its))
        eq = np.full(len(idx), 1.0 / len(idx))
        low, high = d.low[idx], d.high[idx]

        def module(
            w: np.ndarray,
            s: np.ndarray,
            idx: list[int] = idx,
            low: np.ndarray = low,
            high: np.ndarray = high,
            eq: np.ndarray = eq,
        ) -> np.ndarray:
            x = 100.0 * (_safe_div(s[..., idx], w[..., idx]) - low) / (high - low)
            return _aggregate(x, eq, spec.aggregate, spec.shift)

        def combine(core: np.ndarray, mod: np.ndarray, share: float = share) -> np.ndarray:
            pair = np.stack([core, mod], axis=-1)
            return _aggregate(pair, np.array([1 - share, share]), spec.aggregate, spec.shift)

        m_point = module(w_all[g], s_all[g])
        out.loc[g, "module_index"] = m_point
        out.loc[g, "extended_index"] = combine(np.asarray(core_index[g]), np.asarray(m_point))
        if reps_sums is not None and core_reps is not None:
            rw, rs, _ = reps_sums
            m_reps = module(rw[:, g], rs[:, g])
            n_bad = int((~np.isfinite(m_reps)).sum())
            if n_bad and np.isfinite(m_point):
                notes.append(
                    f"{n_bad} bootstrap replicate(s) of the module of group {key} drew no "
                    "answers to some module item and were left out of its intervals."
                )
            _, lo, hi = _summarise_reps(m_reps[:, None], confidence)
            out.loc[g, ["module_ci_low", "module_ci_high"]] = [lo[0], hi[0]]
            _, lo, hi = _summarise_reps(combine(core_reps[:, g], m_reps)[:, None], confidence)
            out.loc[g, ["extended_ci_low", "extended_ci_high"]] = [lo[0], hi[0]]


def index_weights(
    data: Any,
    items: Sequence[str],
    *,
    weighting: Weighting = "factor",
    scale: Scale = (1, 5),
    response: str = "response_id",
) -> pd.DataFrame:
    """Item weights of the index: equal, a budget allocation, or factor-derived.

    ``"factor"`` fits one common factor to the pooled correlation matrix of the
    complete responses (every group together) by iterated principal-axis
    factoring and scales the squared loadings to unit sum, the OECD/JRC (2008,
    section 6.1) recipe with a single factor (rotation is then the identity).

    Parameters
    ----------
    data : DataFrame
        Long or wide responses, as for :func:`hx_index`.
    items : list of str
        The core items.
    weighting : {"equal", "factor"} or dict, default "factor"
        As for :func:`hx_index`.
    scale : (low, high) or dict, default (1, 5)
        The instrument's fixed scale (scores outside it are an error).
    response : str, default "response_id"
        Response id column (optional for wide data).

    Returns
    -------
    pandas.DataFrame
        One row per item: ``item``, ``weight`` (summing to 1) and ``loading``
        (NaN unless ``weighting="factor"``).

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.1
    (weights from factor analysis: squared loadings scaled to unity sum).

    Harman, H. H. (1976). Modern Factor Analysis, 3rd ed. (principal-axis factoring).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import index_weights
    >>> wide = pd.DataFrame({"hx1": [1, 2, 3, 4], "hx2": [2, 2, 4, 5]})
    >>> index_weights(wide, ["hx1", "hx2"], weighting={"hx1": 3, "hx2": 1})
      item  weight  loading
    0  hx1    0.75      NaN
    1  hx2    0.25      NaN
    """
    items = _check_items(items)
    need = isinstance(weighting, str) and weighting == "factor"
    matrix = None
    if need:
        frame = nw.from_native(data).with_columns(nw.lit(0).alias("_hx_all"))
        d = _prepare(
            nw.to_native(frame),
            items,
            group_cols=["_hx_all"],
            person=None,
            weights=None,
            response=response,
            scale=scale,
            module_items=[],
            need_matrix=True,
        )
        matrix = d.matrix
    w, _, loadings, _ = _resolve_weights(weighting, items, matrix)
    return pd.DataFrame(
        {
            "item": items,
            "weight": w,
            "loading": loadings if loadings is not None else np.full(len(items), np.nan),
        }
    )


# ---------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class SensitivityResult:
    """Monte Carlo uncertainty and sensitivity analysis of the HX index ranking.

    Attributes
    ----------
    ranks : pandas.DataFrame
        One row per group: group columns, ``n``, ``suppressed``,
        ``nominal_index`` and ``nominal_rank`` (first normalisation, weighting and
        aggregation listed, full data), ``median_rank``, ``rank_low`` and
        ``rank_high`` (the rank interval, e.g. 5th-95th percentile), ``p_first``
        (share of draws ranked first) and ``n_draws`` (draws with a defined rank).
    scenarios : pandas.DataFrame
        The index and rank of every group under every combination of the choices
        (full data, nominal weights): ``normalisation``, ``weighting``,
        ``aggregation``, group columns, ``hx_index``, ``rank``.
    draws : pandas.DataFrame
        One row per draw and group: ``draw``, the three choices, group columns,
        ``hx_index``, ``rank``.
    settings : dict
        The options of the run.
    """

    ranks: pd.DataFrame
    scenarios: pd.DataFrame
    draws: pd.DataFrame
    settings: dict[str, Any]

    def summary(self) -> pd.DataFrame:
        """The per-group rank summary (a copy of :attr:`ranks`)."""
        return self.ranks.copy()


def _ranks(index: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Competition ranks (1 = highest) among active groups with a defined index; (D, G)."""
    vals = np.where(active[None, :] & np.isfinite(index), index, np.nan)
    valid = np.isfinite(vals)
    with np.errstate(invalid="ignore"):
        above = (vals[:, None, :] > vals[:, :, None]) & valid[:, None, :]
    ranks = 1.0 + above.sum(axis=2)
    return np.where(valid, ranks, np.nan)


def _weighting_labels(weightings: Sequence[Weighting]) -> list[str]:
    labels: list[str] = []
    for w in weightings:
        base = w if isinstance(w, str) else "budget"
        label = base
        k = 2
        while label in labels:
            label = f"{base}_{k}"
            k += 1
        labels.append(label)
    return labels


def sensitivity(
    data: Any,
    items: Sequence[str],
    *,
    group: str | Sequence[str],
    person: str | None = None,
    weights: str | None = None,
    normalisations: Sequence[str] = NORMALISATIONS,
    weightings: Sequence[Weighting] = ("equal", "factor"),
    aggregations: Sequence[str] = AGGREGATIONS,
    weight_noise: float = 0.0,
    resample: bool = True,
    scale: Scale = (1, 5),
    shift: float = 1.0,
    reference: Hashable | None = None,
    response: str = "response_id",
    n_draws: int = 1000,
    level: float = 0.90,
    min_n: int = 10,
    random_state: RandomState = None,
) -> SensitivityResult:
    """Uncertainty and sensitivity of the groups' ranking to the index's modelling choices.

    Each Monte Carlo draw picks a normalisation, a weighting and an aggregation
    uniformly at random (independent triggers, Saisana, Saltelli & Tarantola 2005),
    optionally perturbs the weights and resamples persons within each group
    (the person-clustered bootstrap of :func:`hx_index`), recomputes every group's
    index and ranks the groups (1 = highest; ties share the better rank). Each
    group is summarised by its median rank and its rank interval (the central
    ``level`` share of its ranks: 5th-95th percentile by default), as in the
    OECD/JRC (2008) Handbook, section 7.

    Parameters
    ----------
    data, items, group, person, weights, scale, shift, reference, response, min_n
        As for :func:`hx_index`.
    normalisations : list of str, default all of :data:`NORMALISATIONS`
        Normalisations to sample; the first is the nominal one.
    weightings : list, default ("equal", "factor")
        Weightings to sample (``"equal"``, ``"factor"`` or budget-allocation
        mappings); the first is the nominal one.
    aggregations : list of str, default ("linear", "geometric")
        Aggregations to sample; the first is the nominal one.
    weight_noise : float, default 0.0
        If > 0, each weight is multiplied by an independent Uniform(1 - a, 1 + a)
        factor in every draw, then the weights are rescaled to sum to 1.
    resample : bool, default True
        Also resample persons within groups in every draw, so the rank intervals
        carry sampling uncertainty as well as modelling uncertainty. Factor weights
        are estimated once on the full data.
    n_draws : int, default 1000
        Monte Carlo draws.
    level : float, default 0.90
        Coverage of the rank interval (0.90: 5th to 95th percentile; the
        percentiles are observed ranks, ``inverted_cdf``).
    random_state : int, Generator or None
        Seed; the same seed reproduces every draw.

    Returns
    -------
    SensitivityResult
        ``ranks`` (per group), ``scenarios`` (per choice combination) and
        ``draws`` (per draw); see :class:`SensitivityResult`.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 7
    (uncertainty and sensitivity analysis; median rank and 5th-95th percentile).

    Saisana, M., Saltelli, A. & Tarantola, S. (2005). Uncertainty and sensitivity
    analysis techniques as tools for the quality assessment of composite
    indicators. JRSS A 168(2), 307-323.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import sensitivity
    >>> wide = pd.DataFrame({"team": list("aaabbbccc"),
    ...                      "hx1": [5, 4, 5, 3, 3, 4, 1, 2, 2],
    ...                      "hx2": [4, 5, 5, 3, 4, 3, 2, 1, 2]})
    >>> res = sensitivity(wide, ["hx1", "hx2"], group="team", weightings=["equal"],
    ...                   min_n=1, n_draws=200, random_state=1)
    >>> res.ranks[["team", "nominal_rank", "median_rank", "rank_low", "rank_high"]]
      team  nominal_rank  median_rank  rank_low  rank_high
    0    a           1.0          1.0       1.0        1.0
    1    b           2.0          2.0       2.0        2.0
    2    c           3.0          3.0       3.0        3.0
    """
    items = _check_items(items)
    group_cols = _as_list(group)
    norms = [normalisations] if isinstance(normalisations, str) else list(normalisations)
    aggs = [aggregations] if isinstance(aggregations, str) else list(aggregations)
    wts = [weightings] if isinstance(weightings, (str, Mapping)) else list(weightings)
    if not norms or not aggs or not wts:
        raise ParameterError(
            "normalisations, weightings and aggregations must each list at least one choice."
        )
    for n in norms:
        for a in aggs:
            _check_common(n, a, shift, min_n)
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ParameterError(f"n_draws must be a positive integer; got {n_draws!r}.")
    if not 0 < level < 1:
        raise ParameterError(f"level must be between 0 and 1; got {level!r}.")
    if not (math.isfinite(weight_noise) and 0 <= weight_noise < 1):
        raise ParameterError(f"weight_noise must be in [0, 1); got {weight_noise!r}.")
    need_matrix = any(isinstance(w, str) and w == "factor" for w in wts)
    d = _prepare(
        data,
        items,
        group_cols=group_cols,
        person=person,
        weights=weights,
        response=response,
        scale=scale,
        module_items=[],
        need_matrix=need_matrix,
    )
    labels = _weighting_labels(wts)
    wvecs = [_resolve_weights(w, items, d.matrix)[0] for w in wts]
    ref = _reference_index(reference, d)
    active = ~_hidden(d, min_n)
    if active.sum() < 2:
        raise ParameterError(
            f"ranking needs at least two groups with min_n={min_n} persons or more; "
            f"found {int(active.sum())}."
        )
    if ref is not None and not active[ref]:
        raise ParameterError(f"reference group {reference!r} has fewer than min_n={min_n} persons.")
    g_count = d.n_groups
    sums = d.group_sums()

    scen_parts = []
    nominal = None
    for n in norms:
        for label, wv in zip(labels, wvecs, strict=True):
            for a in aggs:
                spec = _Spec(n, a, float(shift), ref)
                idx = _index_from_sums(*sums, data=d, active=active, spec=spec, weights=wv)
                _check_point(idx, d, active, spec, label=f"[{n}, {label}, {a}] ")
                idx = np.where(active, idx, np.nan)
                rk = _ranks(idx[None, :], active)[0]
                if nominal is None:
                    nominal = (idx, rk)
                part = d.keys.copy()
                part.insert(0, "aggregation", a)
                part.insert(0, "weighting", label)
                part.insert(0, "normalisation", n)
                part["hx_index"] = idx
                part["rank"] = rk
                scen_parts.append(part)
    scenarios = pd.concat(scen_parts, ignore_index=True)
    if nominal is None:  # pragma: no cover - the loops above run at least once
        raise ParameterError("no scenario was evaluated.")

    seed = _seed(random_state)
    rng = np.random.default_rng([seed, 0])
    pick_n = rng.integers(len(norms), size=n_draws)
    pick_w = rng.integers(len(wts), size=n_draws)
    pick_a = rng.integers(len(aggs), size=n_draws)
    noise = rng.uniform(1 - weight_noise, 1 + weight_noise, size=(n_draws, len(items)))
    if resample:
        rw, rs, rq = _resampled_sums(d, _group_rngs(seed, d.key_tuples()), n_draws)
    index = np.full((n_draws, g_count), np.nan)
    combos = np.unique(np.stack([pick_n, pick_w, pick_a], axis=1), axis=0)
    for ni, wi, ai in combos:
        sel = np.flatnonzero((pick_n == ni) & (pick_w == wi) & (pick_a == ai))
        wv = wvecs[wi]
        if weight_noise > 0:
            wm = wv * noise[sel]
            wv = (wm / wm.sum(axis=1, keepdims=True))[:, None, :]
        if resample:
            pw, ps, pq = rw[sel], rs[sel], rq[sel]
        else:
            pw, ps, pq = (np.broadcast_to(s, (len(sel), *s.shape)) for s in sums)
        spec = _Spec(norms[ni], aggs[ai], float(shift), ref)
        index[sel] = _index_from_sums(pw, ps, pq, data=d, active=active, spec=spec, weights=wv)
    index = np.where(active[None, :], index, np.nan)
    ranks = _ranks(index, active)

    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    summary = d.keys.copy()
    summary["n"] = d.n_persons
    summary["suppressed"] = ~active
    summary["nominal_index"] = nominal[0]
    summary["nominal_rank"] = nominal[1]
    cols: dict[str, list[float]] = {
        k: [] for k in ("median_rank", "rank_low", "rank_high", "p_first")
    }
    n_valid = []
    for g in range(g_count):
        r = ranks[:, g]
        r = r[np.isfinite(r)]
        n_valid.append(r.size)
        if r.size == 0:
            for k in cols:
                cols[k].append(np.nan)
            continue
        cols["median_rank"].append(float(np.median(r)))
        low_r, high_r = np.quantile(r, [lo_q, hi_q], method="inverted_cdf")
        cols["rank_low"].append(float(low_r))
        cols["rank_high"].append(float(high_r))
        cols["p_first"].append(float(np.mean(r == 1)))
    for k, v in cols.items():
        summary[k] = v
    summary["n_draws"] = n_valid
    # n and the counts of hidden groups are hidden too (the same rule as hx_index).
    order = list(summary.columns)
    summary = suppress(summary.drop(columns="suppressed"), min_n=min_n, by=group_cols)[order]

    draws = pd.DataFrame(
        {
            "draw": np.repeat(np.arange(n_draws), g_count),
            "normalisation": np.asarray(norms, dtype=object)[np.repeat(pick_n, g_count)],
            "weighting": np.asarray(labels, dtype=object)[np.repeat(pick_w, g_count)],
            "aggregation": np.asarray(aggs, dtype=object)[np.repeat(pick_a, g_count)],
        }
    )
    tiled = pd.concat([d.keys] * n_draws, ignore_index=True)
    draws = pd.concat([draws, tiled], axis=1)
    draws["hx_index"] = index.ravel()
    draws["rank"] = ranks.ravel()
    settings = {
        "items": items,
        "normalisations": norms,
        "weightings": dict(
            zip(labels, [dict(zip(items, w.tolist(), strict=True)) for w in wvecs], strict=True)
        ),
        "aggregations": aggs,
        "weight_noise": float(weight_noise),
        "resample": bool(resample),
        "n_draws": int(n_draws),
        "level": float(level),
        "min_n": int(min_n),
        "shift": float(shift),
        "excluded": d.excluded,
    }
    return SensitivityResult(ranks=summary, scenarios=scenarios, draws=draws, settings=settings)


def plot_rank_intervals(result: SensitivityResult | pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw each group's rank interval, median rank and nominal rank.

    Parameters
    ----------
    result : SensitivityResult or DataFrame
        The output of :func:`sensitivity`, or its ``ranks`` frame.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, groups ordered by median rank (best at the top).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import sensitivity, plot_rank_intervals
    >>> wide = pd.DataFrame({"team": list("aabb"), "hx1": [5, 4, 2, 1], "hx2": [4, 4, 2, 2]})
    >>> res = sensitivity(wide, ["hx1", "hx2"], group="team", weightings=["equal"],
    ...                   min_n=1, n_draws=50, random_state=0)
    >>> ax = plot_rank_intervals(res)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['a', 'b']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ranks = result.ranks if isinstance(result, SensitivityResult) else result
    check_columns(
        ranks.columns,
        ["median_rank", "rank_low", "rank_high", "nominal_rank", "suppressed"],
        table="ranks",
    )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 0.4 * max(len(ranks), 3) + 1))
    stat_cols = {
        "n",
        "suppressed",
        "nominal_index",
        "nominal_rank",
        "median_rank",
        "rank_low",
        "rank_high",
        "p_first",
        "n_draws",
    }
    group_cols = [c for c in ranks.columns if c not in stat_cols]
    shown = ranks[~ranks["suppressed"].astype(bool)].sort_values(["median_rank", "nominal_rank"])
    labels = [" / ".join(str(v) for v in row) for row in shown[group_cols].itertuples(index=False)]
    y = np.arange(len(shown))
    ax.hlines(
        y, shown["rank_low"], shown["rank_high"], color="0.35", linewidth=2, label="rank interval"
    )
    ax.plot(shown["median_rank"], y, "o", color="C0", label="median rank")
    ax.plot(shown["nominal_rank"], y, "x", color="C3", label="nominal rank")
    ax.set_yticks(y, labels)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0.5, len(shown) + 0.5)
    ax.set_xlabel("rank (1 = highest HX index)")
    ax.legend(loc="best", fontsize="small")
    return ax
