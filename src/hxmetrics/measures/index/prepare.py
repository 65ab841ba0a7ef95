"""The HX index's intake: answers reduced to sufficient statistics per resampling unit.

The unit is the person (what the bootstrap resamples) in every group of at most
:data:`BOOTSTRAP_BUCKETS` persons. A larger group's persons are split into that many
random groups ("buckets"; Wolter 2007, *Introduction to Variance Estimation*, 2nd ed.,
ch. 2), each bucket the sum of its persons, and the bootstrap resamples buckets within
the group: a cluster bootstrap whose clusters are buckets of whole persons. The
table an engine returns thus has at most groups x ``BOOTSTRAP_BUCKETS`` x items rows,
whatever the number of persons.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics._engine_tables import _ROW as _POSITION
from hxmetrics.errors import (
    InputTableError,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._engine import check_finite_sums, number_rows
from hxmetrics.measures.index.consistency import ItemMoments
from hxmetrics.measures.index.options import (
    Scale,
    _scales,
)
from hxmetrics.tables import as_pandas

_P = "_hx_person"
_R = "_hx_response"
_ITEM = "_hx_item"
_SCORE = "_hx_score"
_W = "_hx_w"
_ROW = "_hx_row"
_RC = "_hx_response_code"
_IC = "_hx_item_code"
_U = "_hx_unit"  # the resampling unit: the person's rank in its group, or its bucket
_NP = "_hx_n_persons"
_CELLS = "_hx_cells"

#: Most resampling units (persons, or buckets of persons) per group in the bootstrap.
#: A group with more persons is split into this many buckets by
#: :func:`_bucket_hash`; with fewer (or as many), every person is its own unit and the
#: results are those of a plain person bootstrap. Resampling H clusters makes the
#: bootstrap's variance (H - 1) / H of the clusters' unbiased estimate (Davison &
#: Hinkley 1997, section 3.8, p. 100), H being the group's *non-empty* buckets: about
#: 4096 (1 - exp(-N / 4096)) for N persons, so ~2590 just above 4096 persons (a random
#: hash leaves ~37% of the buckets empty; ~1470 singletons, ~800 pairs, ~300 larger)
#: and 4096 far above. The factor is thus >= 0.9996 for the variance (>= 0.9998 for the
#: SE), and the SE's own sampling error (relative sd ~ 1 / sqrt(2 H), 1.1-1.4%) stays
#: small; tests/measures/index/test_index_buckets_review.py checks both.
BOOTSTRAP_BUCKETS = 4096

# Primes below 2**31: every product of two residues stays below 2**62, so the hash is
# the same exact int64 arithmetic on numpy, Polars, DuckDB (which checks overflow) and
# Spark (ANSI mode raises on overflow).
_PRIME_A = 2_147_483_647
_PRIME_B = 2_147_483_629


@dataclass
class _Data:
    """Sufficient statistics per (group, unit, item), groups and units sorted.

    A unit is a person (groups of at most ``BOOTSTRAP_BUCKETS`` persons, in the
    persons' sorted order) or a bucket of persons (larger groups).
    """

    group_cols: list[str]
    keys: pd.DataFrame  # one row per group, sorted
    items: list[str]  # core items first, then module items
    n_core: int
    low: np.ndarray  # (J,)
    high: np.ndarray  # (J,)
    w: np.ndarray  # (U, J) sum of survey weights of the answers
    s: np.ndarray  # (U, J) weighted sum of scores
    q: np.ndarray  # (U, J) weighted sum of squared scores
    k: np.ndarray  # (U, J) number of answers
    offsets: np.ndarray  # (G + 1,) unit rows of group g: offsets[g]:offsets[g+1]
    persons: np.ndarray  # (G,) persons of each group
    n_responses: np.ndarray  # (G,)
    excluded: dict[str, int]
    excluded_by_group: dict[str, np.ndarray] = field(default_factory=dict)  # reason -> (G,)
    matrix: ItemMoments | None = None  # moments of the complete responses (factor weights)
    alpha: float = math.nan  # Cronbach's alpha of the core items, pooled complete responses
    n_alpha: int = 0  # complete responses behind ``alpha``
    notes: list[str] = field(default_factory=list)
    # (G, J) sums of w, w x and w x^2 of each group, added up without the units: the
    # point estimate reads these, so it does not depend on how persons are bucketed
    # (float sums added in another order differ in the last bits).
    totals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    @property
    def n_persons(self) -> np.ndarray:
        return self.persons

    @property
    def n_units(self) -> np.ndarray:
        """Resampling units of each group (its persons, or its non-empty buckets)."""
        return np.diff(self.offsets)

    def group_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.totals is not None:
            return self.totals
        starts = self.offsets[:-1]
        return (
            np.add.reduceat(self.w, starts, axis=0),
            np.add.reduceat(self.s, starts, axis=0),
            np.add.reduceat(self.q, starts, axis=0),
        )

    def key_tuples(self) -> list[tuple[Any, ...]]:
        return list(self.keys.itertuples(index=False, name=None))


def _to_pandas(frame: Any) -> pd.DataFrame:
    """The one converter of the package (:func:`hxmetrics.tables.as_pandas`)."""
    return as_pandas(frame, table="responses")


def _number_lazy_rows(frame: nw.LazyFrame[Any], response: str) -> nw.LazyFrame[Any]:
    """A wide lazy table without a response column, its rows numbered, never collected.

    Rows are numbered as read, as validation numbers them for its "row N": Polars by its
    row index, DuckDB by ``row_number() OVER ()`` (insertion order, DuckDB's default),
    Spark from partition ids and in-partition positions; the pandas numbers of the same
    table, hence the same units and draws.
    """
    numbered = number_rows(frame, table="responses")
    if numbered is None:
        # Other lazy backends narwhals knows (Dask, Ibis, SQLFrame) are not engines of
        # hxmetrics: refused rather than collected to number the rows.
        raise InputTableError(
            f"responses: a wide {frame.implementation} table without a response column "
            f"({response!r}) cannot be numbered by its rows; add a column identifying each "
            "response (and name it with response=), or pass long data (columns 'item' and "
            "'score').",
            table="responses",
            failure_cases=pd.DataFrame(
                {
                    "column": [response],
                    "check": "column_in_dataframe",
                    "failure_case": [response],
                    "index": None,
                }
            ),
        )
    return numbered.rename({_POSITION: _ROW})


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
    buckets: int = BOOTSTRAP_BUCKETS,
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
        if isinstance(frame, nw.LazyFrame) and response not in columns:
            frame = _number_lazy_rows(frame, response)
        if isinstance(frame, nw.DataFrame) and _ROW not in frame.columns:
            frame = frame.with_row_index(name=_ROW)
        present = [i for i in all_items if i in columns]
        if response not in columns:
            # Each row is a response, numbered by its position (as labelled above).
            frame = frame.with_columns(nw.col(_ROW).alias(_R))
            rcol = _R
        else:
            rcol = response
        labels = [_ROW] if _ROW in frame.columns else []
        keep = list(dict.fromkeys([*group_cols, *extra, rcol, *labels]))
        frame = frame.select([*keep, *present]).with_columns(
            [nw.col(c).cast(nw.Float64) for c in present]
        )
        if isinstance(frame, nw.LazyFrame):
            # One select per item, stacked: narwhals' unpivot on DuckDB reads the
            # relation from the default connection and fails on any other.
            frame = nw.concat(
                [
                    frame.select(*keep, nw.lit(item).alias("item"), nw.col(item).alias("score"))
                    for item in present
                ],
                how="vertical",
            )
        else:
            frame = frame.unpivot(on=present, index=keep, variable_name="item", value_name="score")
        response = rcol

    person_col = person if person is not None else response
    person_expr = nw.col(person_col)
    if not isinstance(frame.to_native(), pd.DataFrame) and isinstance(
        frame.collect_schema()[person_col], (nw.Categorical, nw.Enum)
    ):
        # The persons' order (their ranks, hence the bootstrap's units) is the order of
        # their ids' text on every engine; a categorical's own order (of its categories,
        # or of first appearance) is not the same on each. pandas: see _integer_keys.
        person_expr = person_expr.cast(nw.String)
    # Only the columns read from here on: every later step (the filter above all)
    # copies what the frame holds, and the caller's other columns can be gigabytes.
    frame = frame.select(
        *dict.fromkeys(group_cols),
        nw.col("item").cast(nw.String).alias(_ITEM),
        nw.col("score").cast(nw.Float64).alias(_SCORE),
        person_expr.alias(_P),
        nw.col(response).alias(_R),
        (nw.col(weights).cast(nw.Float64) if weights is not None else nw.lit(1.0)).alias(_W),
        *([_ROW] if _ROW in frame.columns else []),
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
    # One pass for the counts, per group: rows left out are reported per group (and
    # hidden with it); rows without a group form the group of null keys.
    flags = {
        "other_items": ~in_items,
        "missing_group": in_items & no_group,
        "missing_score": in_items & ~no_group & no_score,
        "_no_person": kept & nw.col(_P).is_null(),
        "_bad_weight": kept & bad_w,
    }
    per_group = _to_pandas(
        frame.select(*group_cols, *(f.cast(nw.Int64).alias(k) for k, f in flags.items()))
        .group_by(group_cols)
        .agg(nw.col(*flags).sum())
    )
    counts = per_group[["other_items", "missing_group", "missing_score", "_no_person"]].sum()
    counts["_bad_weight"] = per_group["_bad_weight"].sum()
    excluded = {k: int(counts[k]) for k in ("other_items", "missing_group", "missing_score")}
    per_group = per_group.loc[
        ~per_group[group_cols].isna().any(axis=1), [*group_cols, "other_items", "missing_score"]
    ]
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
    sums = [nw.col(_W).sum(), nw.col("_hx_ws").sum(), nw.col("_hx_wss").sum()]
    cells = frame.group_by([*group_cols, _P, _IC]).agg(*sums, nw.len().alias("_hx_k"))
    on_engine = isinstance(frame, nw.LazyFrame)
    if on_engine:
        # Only (group, unit, item) sums come back: at most G x buckets x J rows.
        stats = _item_names(_to_pandas(_engine_units(cells, group_cols, buckets)), all_items)
        # The point estimate's sums: one query whatever the units, so that bucketing
        # (and n_resamples=0, which needs one unit per group) cannot move its last bits.
        point = _item_names(_to_pandas(frame.group_by([*group_cols, _IC]).agg(*sums)), all_items)
    else:
        # An eager frame is in memory already: its (group, person, item) sums come
        # back as they are and are put into buckets in numpy (_bucket_rows), by the
        # same rule as on an engine.
        stats = _item_names(_to_pandas(cells), all_items)
    # A response answers an item once: a person's answers to an item in fewer
    # responses than answers means a repeated (response, item) row. Counting the
    # distinct responses of every (group, person, item) is the memory peak of the
    # whole intake at millions of answers, so it is done only when a cheap check
    # finds some (response, item) pair more than once.
    if _may_repeat(frame, len(all_items)):
        repeats = frame.group_by([*group_cols, _P, _IC]).agg(
            nw.len().alias("_hx_k"), nw.col(_RC).n_unique().alias("_hx_nr")
        )
        repeats = repeats.filter(nw.col("_hx_nr") < nw.col("_hx_k"))
        if on_engine:
            # The count and the first three (in the persons' order) come back, no more.
            n_pairs = int(_to_pandas(repeats.select(nw.len().alias("n")))["n"].iloc[0])
            first = repeats.sort([*group_cols, _P, _IC]).head(3) if n_pairs else None
        else:
            n_pairs, first = len(repeats), repeats.head(3)
        if n_pairs and first is not None:
            first = _item_names(_to_pandas(first), all_items)
            _raise_duplicates(frame, first, n_pairs, response if is_long else rcol, is_long=is_long)
    _check_scale(frame, _item_ranges(frame, all_items), items=all_items, low=low, high=high)
    n_cells = int(stats[_CELLS].sum()) if on_engine else len(stats)
    _check_weighted_sums(frame, stats, n_cells, weights=weights, is_long=is_long)
    resp = _to_pandas(frame.group_by(group_cols).agg(nw.col(_RC).n_unique().alias("_hx_nresp")))
    if stats.empty:
        raise InputTableError(
            f"no answers to items {all_items} were found (after excluding {excluded}).",
            table="responses",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    # The checks are done: from here on the answers are read for the consistency
    # check (and the factor weights) only, and the check columns are not read again.
    frame = frame.select(_RC, _IC, _ITEM, _SCORE)

    unit = _U if on_engine else _P
    try:
        stats = stats.sort_values([*group_cols, unit], kind="stable").reset_index(drop=True)
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
    pair_code = stats.groupby([*group_cols, unit], sort=True, dropna=False).ngroup().to_numpy()
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
    if on_engine:
        persons = by_group[_NP].max().to_numpy(dtype=np.int64)
        totals = _group_totals(point, keys, all_items)
    else:
        persons = np.diff(offsets)
        # The groups' sums over their persons, before any bucketing (see _Data.totals).
        starts = offsets[:-1]
        w_g, s_g, q_g = (np.add.reduceat(arrays[k], starts, axis=0) for k in ("w", "s", "q"))
        totals = (w_g, s_g, q_g)
        offsets = _bucket_rows(arrays, offsets, buckets)
    # The (group, unit, item) table is not read again: freed before the consistency
    # check makes its own arrays (hundreds of MB at scale).
    del stats, by_group, g_code, pair_code, i_code, pair_group

    resp = keys.merge(resp, on=group_cols, how="left")
    by_group_excluded = keys.merge(per_group, on=group_cols, how="left")
    data_out = _Data(
        group_cols=group_cols,
        keys=keys,
        items=all_items,
        n_core=len(items),
        low=low,
        high=high,
        totals=totals,
        w=arrays["w"],
        s=arrays["s"],
        q=arrays["q"],
        k=arrays["k"],
        offsets=offsets,
        persons=persons,
        n_responses=resp["_hx_nresp"].to_numpy(dtype=np.int64),
        excluded=excluded,
        excluded_by_group={
            reason: by_group_excluded[reason].fillna(0).to_numpy(dtype=np.int64)
            for reason in ("other_items", "missing_score")
        },
    )
    # Alpha and the factor weights read the moments of the complete responses only,
    # aggregated where the answers are (never the answers themselves).
    moments = _core_moments(frame, items)
    data_out.alpha, data_out.n_alpha = moments.alpha(), moments.n
    if need_matrix:
        data_out.matrix = moments
    return data_out


def _core_moments(frame: Any, items: list[str]) -> ItemMoments:
    """:class:`ItemMoments` of the responses that answer every core item.

    pandas: from the coded answers, in numpy. Other engines: one query (a response's
    answers side by side, the complete ones kept, their sums and cross-products
    summed), so only k + k(k+1)/2 numbers come back.
    """
    k = len(items)
    native = frame.to_native() if isinstance(frame, nw.DataFrame) else None
    if isinstance(native, pd.DataFrame) and pd.api.types.is_integer_dtype(native[_IC].dtype):
        # Codes from _integer_keys: item positions with the core items first.
        item = native[_IC].to_numpy().astype(np.int64)
        keep = item < k
        response = native[_RC].to_numpy()[keep]
        item, score = item[keep], native[_SCORE].to_numpy(dtype=float)[keep]
        if response.size == 0:
            return ItemMoments(0, np.zeros(k), np.zeros((k, k)))
        n_resp = int(response.max()) + 1
        complete = np.bincount(response, minlength=n_resp) == k
        rank = np.cumsum(complete) - 1
        rows = complete[response]
        matrix = np.zeros((int(complete.sum()), k))
        matrix[rank[response[rows]], item[rows]] = score[rows]
        return ItemMoments.of(matrix)
    lazy = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    sides = [f"_hx_x{j}" for j in range(k)]
    wide = (
        lazy.filter(nw.col(_ITEM).is_in(items))
        .select(
            nw.col(_RC),
            *[
                nw.when(nw.col(_ITEM) == item).then(nw.col(_SCORE)).alias(side)
                for item, side in zip(items, sides, strict=True)
            ],
        )
        .group_by(_RC)
        .agg(nw.len().alias("_hx_k"), *[nw.col(c).sum() for c in sides])
        .filter(nw.col("_hx_k") == k)
    )
    pairs = [(j, m) for j in range(k) for m in range(j, k)]
    products = wide.with_columns(
        *[(nw.col(sides[j]) * nw.col(sides[m])).alias(f"_hx_p{j}_{m}") for j, m in pairs]
    )
    totals = _to_pandas(
        products.select(
            nw.len().alias("_hx_n"),
            *[nw.col(c).sum() for c in sides],
            *[nw.col(f"_hx_p{j}_{m}").sum() for j, m in pairs],
        )
    )
    n = int(totals["_hx_n"].iloc[0])
    sums = np.array([float(totals[c].fillna(0).iloc[0]) for c in sides])
    cross = np.zeros((k, k))
    for j, m in pairs:
        cross[j, m] = cross[m, j] = float(totals[f"_hx_p{j}_{m}"].fillna(0).iloc[0])
    return ItemMoments(n, sums, cross)


#: The bucket hash as steps on two integers ``a`` and ``b`` that both start as the
#: person's rank (1, 2, ...): each step sets one of them from both. Only ``%``, ``*``
#: and ``+`` of non-negative integers: one definition serves numpy int64 arrays and
#: narwhals expressions, and every engine computes the same numbers (engines' own
#: hash functions differ). The residues of the rank modulo two primes identify every
#: rank below 2**62 (Chinese remainder theorem); the squares and cross products make
#: the map non-linear, so that neighbouring ranks (persons with neighbouring ids) fall
#: in unrelated buckets (``(c * r) mod p mod M`` would put runs of ranks in buckets a
#: fixed step apart). Every intermediate value is below 2**62 + 2**31: exact in int64.
_HASH_STEPS: tuple[tuple[str, Callable[[Any, Any], Any]], ...] = (
    ("a", lambda a, b: a % _PRIME_A),
    ("b", lambda a, b: b % _PRIME_B),
    ("a", lambda a, b: (a * 1_103_515_245 + 12_345) % _PRIME_A),
    ("a", lambda a, b: (a * a + b) % _PRIME_A),
    ("b", lambda a, b: (b * 48_271 + a) % _PRIME_B),
    ("a", lambda a, b: (a * b + 1_013_904_223) % _PRIME_A),
    ("a", lambda a, b: (a * a + b) % _PRIME_A),
)


def _bucket_hash(rank: np.ndarray) -> np.ndarray:
    """A person's pseudo-random integer in [0, 2**31 - 1) from its rank (int64 >= 1)."""
    a = b = np.asarray(rank, dtype=np.int64)
    for name, step in _HASH_STEPS:
        if name == "a":
            a = step(a, b)
        else:
            b = step(a, b)
    return a


def _with_bucket_hash(frame: Any, rank: str, name: str) -> Any:
    """``frame`` with column ``name``: :func:`_bucket_hash` of column ``rank``, on its engine.

    One column per step: written as one expression, each use of ``a`` and ``b`` would
    repeat the whole expression before it (thousands of terms in the engine's query).
    """
    frame = frame.with_columns(nw.col(rank).alias("_hx_a"), nw.col(rank).alias("_hx_b"))
    for target, step in _HASH_STEPS:
        value = step(nw.col("_hx_a"), nw.col("_hx_b"))
        frame = frame.with_columns(value.alias(f"_hx_{target}"))
    return frame.rename({"_hx_a": name}).drop("_hx_b")


def _engine_units(cells: Any, group_cols: list[str], buckets: int) -> Any:
    """(group, unit, item) sums of the (group, person, item) sums ``cells``, on the engine.

    A person's unit is its dense rank in the group's sorted persons minus one when the
    group has at most ``buckets`` persons (every person its own unit, in the persons'
    order), else ``_bucket_hash(rank) % buckets``. ``_NP`` is the group's persons,
    ``_CELLS`` the (person, item) cells summed into the row. With one bucket no rank
    is needed: every person's unit is 0.
    """
    sums = [nw.col(_W).sum(), nw.col("_hx_ws").sum(), nw.col("_hx_wss").sum()]
    counts = [nw.col("_hx_k").sum(), nw.len().alias(_CELLS)]
    if buckets == 1:
        persons = cells.group_by(group_cols).agg(nw.col(_P).n_unique().alias(_NP))
        return (
            cells.group_by([*group_cols, _IC])
            .agg(*sums, *counts)
            .join(persons, on=group_cols, how="left")
            .with_columns(nw.lit(0, dtype=nw.Int64).alias(_U))
        )
    # The rank (a window: a sort per group) and the hash are computed on the distinct
    # persons and joined back, not on every (person, item) cell: J times fewer rows to
    # sort (DuckDB, 400k persons x 3 items: the query 15% faster).
    persons = cells.select(*group_cols, _P).unique()
    rank = nw.col(_P).rank(method="dense").over(*group_cols).cast(nw.Int64)
    persons = persons.with_columns(rank.alias("_hx_rank"))
    persons = persons.with_columns(nw.col("_hx_rank").max().over(*group_cols).alias(_NP))
    persons = _with_bucket_hash(persons, "_hx_rank", "_hx_hash")
    r = nw.col("_hx_rank")
    unit = nw.when(nw.col(_NP) <= buckets).then(r - 1).otherwise(nw.col("_hx_hash") % buckets)
    persons = persons.select(*group_cols, _P, unit.alias(_U), _NP)
    return (
        cells.join(persons, on=[*group_cols, _P], how="inner")
        .group_by([*group_cols, _U, _IC])
        .agg(*sums, *counts, nw.col(_NP).max())
    )


def _group_totals(
    point: pd.DataFrame, keys: pd.DataFrame, items: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(G, J) arrays of the (group, item) sums ``point``, groups in the order of ``keys``."""
    group_cols = list(keys.columns)
    index = keys.assign(_hx_g=np.arange(len(keys)))
    rows = point.merge(index, on=group_cols, how="inner", validate="many_to_one")
    g = rows["_hx_g"].to_numpy(dtype=np.int64)
    j = pd.Categorical(rows[_ITEM], categories=items).codes
    out = []
    for col in (_W, "_hx_ws", "_hx_wss"):
        arr = np.zeros((len(keys), len(items)))
        arr[g, j] = rows[col].to_numpy(dtype=float)
        out.append(arr)
    return out[0], out[1], out[2]


def _bucket_rows(arrays: dict[str, np.ndarray], offsets: np.ndarray, buckets: int) -> np.ndarray:
    """Per-person rows (groups' persons sorted) summed into units, as ``_engine_units``.

    ``arrays`` are replaced by their unit rows; returns the units' offsets. Groups of at
    most ``buckets`` persons keep their rows (each person a unit): then nothing changes.
    """
    sizes = np.diff(offsets)
    if (sizes <= buckets).all():
        return offsets
    group = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    rank = np.arange(int(offsets[-1]), dtype=np.int64) - offsets[:-1][group] + 1
    unit = np.where(sizes[group] <= buckets, rank - 1, _bucket_hash(rank) % buckets)
    keys, inverse = np.unique(group * buckets + unit, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(keys)))
    for name, arr in arrays.items():
        # Summed in the persons' order within each unit.
        arrays[name] = np.add.reduceat(arr[order], starts, axis=0)
    return np.searchsorted(keys // buckets, np.arange(len(sizes) + 1))


def _integer_keys(frame: Any, items: list[str]) -> Any:
    """Integer codes for the person (order-preserving), the response and the item.

    Grouping and counting distinct values on integers is several times faster than
    on id strings in pandas. Person codes follow the sorted order of the ids, so
    that the persons' order below (and with it every bootstrap draw) is unchanged.
    ``_RC`` and ``_IC`` are the response's and the item's codes; other backends group
    on the values themselves (``_RC`` and ``_IC`` are copies of the columns). ``_R``
    is dropped: from here on ``_RC`` stands for the response. On pandas the person
    column becomes its codes too, and the item a categorical: the id strings
    (hundreds of megabytes at millions of answers) are not copied by later steps.
    """
    native = frame.to_native() if isinstance(frame, nw.DataFrame) else None
    as_is = [nw.col(_R).alias(_RC), nw.col(_ITEM).alias(_IC)]
    if not isinstance(native, pd.DataFrame):
        return frame.with_columns(as_is).drop(_R)
    ids = native[_P]
    try:
        if isinstance(ids.dtype, pd.CategoricalDtype):
            # Sorted by the ids' values, as on every engine, not by the categories' order.
            ids = ids.cat.set_categories(ids.cat.categories.sort_values())
        person = pd.factorize(ids, sort=True)[0]
    except TypeError:
        # Ids of mixed types cannot be sorted: the sort in _prepare says so.
        return frame.with_columns(as_is).drop(_R)
    response = pd.factorize(native[_R])[0]
    # Every kept row's item is one of ``items`` (rows of other items were excluded).
    # The few distinct labels are looked up, not every row's (which would make a
    # Python string per row).
    labels, uniques = pd.factorize(native[_ITEM])
    item = pd.Index(items).get_indexer(uniques).astype(np.int64)[labels]
    # The id strings are not read again: codes stand for them (one distinct code per
    # distinct id), and the item's name is a categorical of its position.
    coded = native.drop(columns=_R)
    coded[_P] = person
    coded[_RC] = response
    coded[_IC] = item.astype(_smallest_int(len(items)))
    coded[_ITEM] = pd.Categorical.from_codes(item, dtype=pd.CategoricalDtype(items))
    return nw.from_native(coded, eager_only=True)


def _smallest_int(n: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed integer type that holds 0 .. n (item positions)."""
    for kind in (np.int8, np.int16, np.int32):
        if n <= np.iinfo(kind).max:
            return kind
    return np.int64


def _may_repeat(frame: Any, n_items: int) -> bool:
    """Whether some (response, item) pair occurs more than once among the kept answers."""
    native = frame.to_native() if isinstance(frame, nw.DataFrame) else None
    if isinstance(native, pd.DataFrame) and pd.api.types.is_integer_dtype(native[_IC].dtype):
        # Integer codes (_integer_keys): one sort of one integer per answer.
        key = native[_RC].to_numpy(dtype=np.int64) * n_items + native[_IC].to_numpy()
        key.sort()
        return bool((key[1:] == key[:-1]).any())
    pairs = frame.select(_RC, _IC)
    distinct = _to_pandas(pairs.unique().select(nw.len().alias("n")))["n"].iloc[0]
    return bool(int(distinct) < int(_to_pandas(pairs.select(nw.len().alias("n")))["n"].iloc[0]))


def _item_ranges(frame: Any, items: list[str]) -> pd.DataFrame:
    """Lowest and highest score of each item (``_ITEM``, ``_hx_min``, ``_hx_max``)."""
    ranges = _to_pandas(
        frame.group_by(_IC).agg(
            nw.col(_SCORE).min().alias("_hx_min"), nw.col(_SCORE).max().alias("_hx_max")
        )
    )
    return _item_names(ranges, items)


def _item_names(stats: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """``_ITEM`` (the item's name) from ``_IC`` (its position in ``items``, or its name)."""
    code = stats.pop(_IC)
    if pd.api.types.is_integer_dtype(code.dtype):
        # A categorical: one byte per row, no string per row (millions of rows).
        names = pd.Categorical.from_codes(code.to_numpy(), dtype=pd.CategoricalDtype(items))
        stats[_ITEM] = pd.Series(names, index=stats.index)
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


def _raise_duplicates(
    frame: Any, first: pd.DataFrame, n_pairs: int, response: str, *, is_long: bool
) -> None:
    # Example rows: every answer of the first repeated (person, item) pairs (``first``),
    # found by the internal columns so that no identifier value enters the message.
    condition = nw.lit(False)
    for person, item in zip(first[_P], first[_ITEM], strict=True):
        condition = condition | ((nw.col(_P) == person) & (nw.col(_ITEM) == item))
    ex = _to_pandas(
        frame.filter(condition).select(_RC, _ITEM, *([_ROW] if _ROW in frame.columns else []))
    )
    repeated = ex[ex.duplicated([_RC, _ITEM], keep=False)]
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
    frame: Any, stats: pd.DataFrame, n_cells: int, *, weights: str | None, is_long: bool
) -> None:
    """Weights of 1e308 are finite, their sums are not: refuse them with example rows.

    ``stats`` are the sums per (group, unit, item), ``n_cells`` the (group, person,
    item) cells behind them.
    """
    if weights is None:
        return
    n_rows = int(stats["_hx_k"].sum())
    # The bootstrap draws a unit up to n times (n units in a group, fewer than the
    # person x item cells): its sums must stay finite that many times over.
    n_max = max(n_cells, 1)
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
