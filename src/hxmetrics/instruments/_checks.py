"""Answers against the catalogue: each answer on its item's scale, asked of its role.

:func:`response_failures` lists every failed check as failure cases (the form
:func:`hxmetrics.tables.validate` collects); :func:`check_responses` raises them as one
:class:`~hxmetrics.errors.InputTableError` and then looks for items that answer the wrong
way round (:func:`keying_check`), which is a statistical finding, hence an
:class:`~hxmetrics.errors.HxWarning` and not an error.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import HxWarning, InputTableError, ParameterError, check_columns
from hxmetrics.instruments._answers import (
    as_frame,
    catalogue_positions,
    item_arrays,
    keyed_scores,
    numeric_scores,
    role_column,
    unit_table,
)
from hxmetrics.instruments._catalogue import InstrumentCatalogue
from hxmetrics.measures._inference import check_confidence, z_critical
from hxmetrics.privacy import shown_name
from hxmetrics.tables import ROLES

__all__ = ["check_responses", "check_responses_lazy", "keying_check", "response_failures"]

_CASES = ["column", "check", "failure_case", "index"]
_EXAMPLES = 5

#: What each check means, for the message.
_MEANING = {
    "item_in_catalogue": "the (instrument, item) is not in the catalogue",
    "score_in_item_scale": "the answer is outside its item's scale",
    "score_integer": "the item's scale is whole numbers; the answer is not",
    "role_asked": "the item is not asked of the respondent's role",
}


def _check_catalogue(catalogue: Any) -> InstrumentCatalogue:
    if not isinstance(catalogue, InstrumentCatalogue):
        raise ParameterError(
            "catalogue must be an InstrumentCatalogue (load_bank(...), "
            f"InstrumentCatalogue.from_toml(...)); got {type(catalogue).__name__}."
        )
    return catalogue


def response_failures(
    responses: Any, catalogue: InstrumentCatalogue, *, table: str = "responses"
) -> pd.DataFrame:
    """Every answer that breaks the catalogue, as failure cases.

    Parameters
    ----------
    responses : DataFrame
        Long answers with ``instrument``, ``item``, ``score`` and the respondent's role
        (a ``role`` column, or ``silo``; without either the role check is skipped).
        pandas or any frame narwhals reads.
    catalogue : InstrumentCatalogue
        What was asked.
    table : str
        The table's name in messages.

    Returns
    -------
    DataFrame
        ``column``, ``check``, ``failure_case``, ``index`` (the row's position, never an
        id): ``item_in_catalogue`` (an answer to an item the catalogue lacks: an error,
        not a guess), ``score_in_item_scale``, ``score_integer``, ``role_asked``. Empty
        when every answer fits. Missing scores are not checked here (the contract's
        own checks see them).
    """
    cat = _check_catalogue(catalogue)
    frame = as_frame(responses, table=table)
    check_columns(frame.columns, ["instrument", "item", "score"], table=table)
    pos = catalogue_positions(frame, cat)
    score = numeric_scores(frame, table=table)
    arr = item_arrays(cat)
    known = pos >= 0
    p = np.where(known, pos, 0)
    answered = ~np.isnan(score)
    parts = []
    unknown = np.flatnonzero(~known)
    if len(unknown):
        names = (
            frame["instrument"].astype("string").iloc[unknown].fillna("<NA>")
            + "/"
            + frame["item"].astype("string").iloc[unknown].fillna("<NA>")
        )
        parts.append(_cases("item", "item_in_catalogue", names.to_numpy(dtype=object), unknown))
    lo, hi = arr["lo"][p], arr["hi"][p]
    with np.errstate(invalid="ignore"):
        off = known & answered & ~np.isnan(lo) & ((score < lo) | (score > hi))
    if off.any():
        where = np.flatnonzero(off)
        parts.append(_cases("score", "score_in_item_scale", score[where], where))
    fractional = known & answered & arr["integer"][p] & ~off & (score != np.round(score))
    if fractional.any():
        where = np.flatnonzero(fractional)
        parts.append(_cases("score", "score_integer", score[where], where))
    if "role" in frame.columns or "silo" in frame.columns:
        role = role_column(frame, None, table=table)
        r_codes = pd.Index(list(ROLES)).get_indexer(pd.Index(role.fillna("")))
        asked = np.array([[r in it.roles for r in ROLES] for it in cat.items], dtype=bool)
        has_role = r_codes >= 0
        bad_role = known & has_role & ~asked[p, np.where(has_role, r_codes, 0)]
        if bad_role.any():
            where = np.flatnonzero(bad_role)
            column = "role" if "role" in frame.columns else "silo"
            parts.append(_cases(column, "role_asked", role.to_numpy(dtype=object)[where], where))
    if not parts:
        return pd.DataFrame(columns=_CASES)
    return pd.concat(parts, ignore_index=True)


def _cases(column: str, check: str, values: Any, where: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "column": column,
            "check": check,
            "failure_case": list(values),
            "index": where.astype(np.int64),
        }
    )


def _message(table: str, cases: pd.DataFrame, frame: pd.DataFrame) -> str:
    parts = []
    for (column, check), part in cases.groupby(["column", "check"], sort=False):
        rows = part["index"].head(_EXAMPLES).tolist()
        examples = [
            (r, frame["instrument"].iloc[r], frame["item"].iloc[r], frame["score"].iloc[r])
            for r in rows
        ]
        parts.append((str(column), str(check), len(part), examples))
    return _text(table, cases["check"].nunique(), cases["index"].nunique(), parts)


def _text(
    table: str, n_checks: int, n_rows: int, parts: list[tuple[str, str, int, list[Any]]]
) -> str:
    """The message: per failed check its count and examples ``(row, instrument, item,
    score)`` (shared by the pandas and the engine paths, so both say the same)."""
    lines = [
        f"table {table!r} failed {n_checks} check(s) against the instrument "
        f"catalogue on {n_rows} row(s):"
    ]
    for column, check, total, rows in parts:
        examples = [
            f"row {r}: {shown_name(inst)}/{shown_name(item)} score {value}"
            for r, inst, item, value in rows
        ]
        lines.append(
            f"  column {column!r}, check {check} ({_MEANING[check]}): {total} "
            f"row(s), e.g. {'; '.join(examples)}"
        )
    if any(check == "item_in_catalogue" for _, check, _, _ in parts):
        lines.append(
            "hint: add the item to the catalogue (or combine banks: load_bank('core', ...)); "
            "an answer to an unknown item is never guessed."
        )
    return "\n".join(lines)


def check_responses(
    responses: Any,
    catalogue: InstrumentCatalogue,
    *,
    table: str = "responses",
    keying: bool = True,
    min_n: int = 30,
    confidence: float = 0.95,
) -> None:
    """Check answers against the catalogue; raise on any answer that does not fit.

    Parameters
    ----------
    responses, catalogue, table
        As in :func:`response_failures`.
    keying : bool
        Also look for items scored the wrong way round (:func:`keying_check`), with a
        warning naming them.
    min_n, confidence
        Passed to :func:`keying_check`.

    Raises
    ------
    InputTableError
        Naming each failed check (an answer off its item's scale, a fraction on a
        whole-number scale, an item not in the catalogue, a role not asked), the rows
        by position, the instrument and item; ``failure_cases`` lists every row.

    Warns
    -----
    HxWarning
        An item whose corrected item-total correlation, after reverse keying, is below
        zero with its interval (see :func:`keying_check`).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.instruments import load_bank
    >>> answers = pd.DataFrame({"response_id": ["r1", "r1", "r2"], "silo": "customers",
    ...                         "instrument": ["csat", "ces", "csat"],
    ...                         "item": ["overall", "effort", "overall"],
    ...                         "score": [4, 7, 7]})
    >>> check_responses(answers, load_bank("core"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hxmetrics.errors.InputTableError: table 'responses' failed 1 check(s) ... on 1 row(s):
      column 'score', check score_in_item_scale (...): 1 row(s), e.g. row 2: ... score 7
    """
    frame = as_frame(responses, table=table)
    cases = response_failures(frame, catalogue, table=table)
    if not cases.empty:
        raise InputTableError(_message(table, cases, frame), table=table, failure_cases=cases)
    if keying:
        found = keying_check(frame, catalogue, min_n=min_n, confidence=confidence)
        _warn_keying(table, found, stacklevel=3)


def _warn_keying(table: str, found: pd.DataFrame, *, stacklevel: int) -> None:
    """The keying warning for the flagged rows of a :func:`keying_check` table."""
    flagged = found[found["flagged"]]
    if len(flagged):
        names = ", ".join(
            f"{r.instrument}/{r.item} (r = {r.r_item_rest:.2f}, reverse_keyed="
            f"{bool(r.reverse_keyed)})"
            for r in flagged.itertuples(index=False)
        )
        warnings.warn(
            f"{table}: item(s) {names} correlate negatively with the rest of their "
            "subscale after reverse keying: they look scored the wrong way round. Check "
            "whether the answers were already reversed before they reached hxmetrics, or "
            "whether the catalogue's reverse_keyed is wrong for them.",
            HxWarning,
            stacklevel=stacklevel,
        )


def keying_check(
    responses: Any,
    catalogue: InstrumentCatalogue,
    *,
    response: str = "response_id",
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Find items scored the wrong way round: a negative corrected item-total correlation.

    After reverse keying, every item of a subscale should correlate positively with the
    sum of the subscale's other items (the corrected item-total correlation, psych's
    ``r.drop``). An item whose correlation is below zero with its whole interval
    (Fisher's z, ``atanh(r) ± z / sqrt(n - 3)``) points the other way: typically a
    reverse-keyed item whose answers were already reversed upstream, or a catalogue that
    marks the wrong item. Subscales of at least three items with ``min_n`` answers per
    item are checked (with two items the pair's correlation cannot say which is wrong).
    Roles are pooled.

    Parameters
    ----------
    responses : DataFrame
        Long answers (``response``, ``instrument``, ``item``, ``score``); items not in the
        catalogue are left out here (see :func:`response_failures`).
    catalogue : InstrumentCatalogue
    response : str
        The column naming one filled-in questionnaire.
    min_n : int
        Fewest answers to an item for it to be checked.
    confidence : float
        Level of the interval.

    Returns
    -------
    DataFrame
        ``instrument``, ``subscale``, ``item``, ``reverse_keyed``, ``n``, ``r_item_rest``,
        ``ci_low``, ``ci_high``, ``flagged`` (``ci_high < 0``).
    """
    from hxmetrics.measures.reliability import item_total

    cat = _check_catalogue(catalogue)
    confidence = check_confidence(confidence)
    z = z_critical(confidence)
    frame = as_frame(responses, table="responses")
    check_columns(frame.columns, [response, "instrument", "item", "score"], table="responses")
    pos = catalogue_positions(frame, cat)
    score = keyed_scores(numeric_scores(frame, table="responses"), pos, cat)
    rows: list[dict[str, Any]] = []
    for inst in cat.instruments:
        in_inst = (frame["instrument"].astype("string") == inst).to_numpy(dtype=bool)
        in_inst &= pos >= 0
        if not in_inst.any():
            continue
        for sub, items in cat.subscales(inst).items():
            if len(items) < 3:
                continue
            sel = np.flatnonzero(in_inst & frame["item"].isin(items).to_numpy(dtype=bool))
            if not len(sel):
                continue
            _, wide = unit_table(
                frame[[response]].iloc[sel], frame["item"].iloc[sel], score[sel], items
            )
            table = item_total(wide, items=items, missing="pairwise", min_n=None)
            ns = table["n"].to_numpy(dtype=float, na_value=np.nan)
            rs = table["r_item_rest"].to_numpy(dtype=float, na_value=np.nan)
            for name, n_f, rr in zip(table["item"].astype(str), ns, rs, strict=True):
                rows.append(_keying_row(cat, inst, sub, name, n_f, rr, z=z, min_n=min_n))
    return _keying_frame(rows)


def _keying_row(
    cat: InstrumentCatalogue,
    inst: str,
    sub: str,
    name: str,
    n_f: float,
    rr: float,
    *,
    z: float,
    min_n: int,
) -> dict[str, Any]:
    """One item's row of :func:`keying_check`: its Fisher-z interval and flag."""
    n = int(n_f) if math.isfinite(n_f) else 0
    lo = hi = math.nan
    if n >= max(min_n, 4) and math.isfinite(rr) and abs(rr) < 1:
        half = z / math.sqrt(n - 3)
        lo, hi = math.tanh(math.atanh(rr) - half), math.tanh(math.atanh(rr) + half)
    return {
        "instrument": inst,
        "subscale": sub,
        "item": name,
        "reverse_keyed": cat.item(inst, name).reverse_keyed,
        "n": n,
        "r_item_rest": float(rr),
        "ci_low": lo,
        "ci_high": hi,
        "flagged": bool(math.isfinite(hi) and hi < 0),
    }


def _keying_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = [
        "instrument",
        "subscale",
        "item",
        "reverse_keyed",
        "n",
        "r_item_rest",
        "ci_low",
        "ci_high",
        "flagged",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out["n"] = out["n"].astype("Int64")
    out["flagged"] = out["flagged"].astype(bool)
    out["reverse_keyed"] = out["reverse_keyed"].astype(bool)
    return out


# ----------------------------------------------------------------------------- engines

_P = "__hx_cat_"  # prefix of the catalogue table's columns on the engine
_ENGINES = ("polars", "duckdb", "spark")


def check_responses_lazy(
    frame: Any,
    catalogue: InstrumentCatalogue,
    *,
    table: str = "responses",
    keying: bool = True,
    min_n: int = 30,
    confidence: float = 0.95,
) -> None:
    """:func:`check_responses` where the answers live: Polars, DuckDB or Spark.

    The catalogue becomes a small table on the frame's engine (for DuckDB on the
    relation's own connection), joined to the answers; every check's failing rows are
    counted in one aggregate and, only on failure, at most 5 example rows per check are
    fetched with their 0-based position as read. The answers are never collected.

    Parameters
    ----------
    frame : native lazy frame
        Answers as :func:`hxmetrics.tables.validate_lazy` returns them (a numeric
        ``score``): a Polars LazyFrame or DataFrame, a DuckDB relation, a Spark
        DataFrame; a pandas DataFrame goes to :func:`check_responses`.
    catalogue, table, keying, min_n, confidence
        As in :func:`check_responses`.

    Raises
    ------
    InputTableError
        The same message as :func:`check_responses` on the same data; its
        ``failure_cases`` hold the first 5 rows of each failed check (the pandas path
        lists every row).
    ParameterError
        For a frame of another library, or a ``score`` that is not numeric.

    Warns
    -----
    HxWarning
        As :func:`check_responses`: the keying check runs on pairwise sums of the
        per-response item means (count, sum, sum of products per item pair), computed on
        the engine; the correlations are finished in numpy exactly as
        :func:`hxmetrics.measures.item_total` does (whole-number answers give exact sums,
        hence the same correlations to the bit).

    Examples
    --------
    >>> import polars as pl
    >>> from hxmetrics.instruments import load_bank
    >>> answers = pl.LazyFrame({"response_id": ["r1", "r2"], "silo": "customers",
    ...                         "instrument": "csat", "item": "overall",
    ...                         "score": [4.0, 7.0]})
    >>> check_responses_lazy(answers, load_bank("core"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hxmetrics.errors.InputTableError: table 'responses' failed 1 check(s) ... on 1 row(s):
      column 'score', check score_in_item_scale (...): 1 row(s), e.g. row 1: ... score 7.0
    """
    import narwhals.stable.v2 as nw

    from hxmetrics._engine_tables import _engine

    engine = _engine(frame)
    if engine == "pandas":
        check_responses(
            frame, catalogue, table=table, keying=keying, min_n=min_n, confidence=confidence
        )
        return
    if engine not in _ENGINES:
        raise ParameterError(
            f"check_responses_lazy({table!r}): expected a pandas DataFrame, a Polars "
            "LazyFrame or DataFrame, a DuckDB relation or a Spark DataFrame; got "
            f"{type(frame).__module__}.{type(frame).__name__}."
        )
    cat = _check_catalogue(catalogue)
    native = frame.lazy() if engine == "polars" and hasattr(frame, "lazy") else frame
    lf = nw.from_native(native).lazy()
    schema = lf.collect_schema()
    check_columns(list(schema.names()), ["instrument", "item", "score"], table=table)
    if not schema["score"].is_numeric():
        raise ParameterError(
            f"check_responses_lazy({table!r}): column 'score' is {schema['score']}, not a "
            "number; validate the answers first (tables.validate_lazy(..., table="
            "'responses')), which reads the scores as numbers."
        )
    ref = _catalogue_on(cat, engine, native)
    role_col = "role" if "role" in schema.names() else "silo" if "silo" in schema else None
    checks = _lazy_checks(role_col)
    joined = _joined(lf, ref, role_col)
    aggs = [m.fill_null(value=False).cast(nw.Int64).sum().alias(k) for k, m in checks.items()]
    any_bad = nw.any_horizontal(
        *[checks[k].fill_null(value=False) for k in _ORDER if k in checks], ignore_nulls=True
    )
    aggs.append(any_bad.cast(nw.Int64).sum().alias("__hx_any"))
    if keying and "response_id" in schema:
        aggs.append(
            (_in_scope() & nw.col("response_id").is_null())
            .fill_null(value=False)
            .cast(nw.Int64)
            .sum()
            .alias("__hx_no_rid")
        )
    row = joined.select(aggs).collect().rows(named=True)[0]
    counts = {k: int(v or 0) for k, v in row.items()}
    if counts.get("bad_role"):
        _raise_bad_role(native, engine, ref, role_col, checks, counts["bad_role"], table)
    failed = [k for k in _ORDER if counts.get(k)]
    if failed:
        _raise_failures(native, engine, ref, role_col, checks, failed, counts, table)
    if keying:
        # keying_check's own checks, in its order: the column, then empty responses
        check_columns(
            list(schema.names()), ["response_id", "instrument", "item", "score"], table=table
        )
        if counts["__hx_no_rid"]:
            _raise_no_response(native, engine, ref, role_col, cat)
        found = _keying_lazy(joined, cat, min_n=min_n, confidence=confidence)
        _warn_keying(table, found, stacklevel=3)


#: The checks in the order the pandas path lists them.
_ORDER = ("item_in_catalogue", "score_in_item_scale", "score_integer", "role_asked")


def _catalogue_on(cat: InstrumentCatalogue, engine: str, native: Any) -> Any:
    """The catalogue as a small table of the frame's engine (a narwhals lazy frame)."""
    import narwhals.stable.v2 as nw

    arr = item_arrays(cat)
    sub_of: dict[tuple[str, str], str] = {}
    for inst in cat.instruments:
        for sub, items in cat.subscales(inst).items():
            if len(items) >= 3:  # keying_check judges subscales of at least three items
                sub_of.update({(inst, it): sub for it in items})
    cols = {
        "inst": ("VARCHAR", "string"),
        "item": ("VARCHAR", "string"),
        "pos": ("BIGINT", "bigint"),
        "lo": ("DOUBLE", "double"),
        "hi": ("DOUBLE", "double"),
        "int": ("BOOLEAN", "boolean"),
        "rev": ("BOOLEAN", "boolean"),
        "sub": ("VARCHAR", "string"),
        **{f"asked_{r}": ("BOOLEAN", "boolean") for r in ROLES},
    }
    rows = [
        (
            it.instrument,
            it.item,
            i,
            None if np.isnan(arr["lo"][i]) else float(arr["lo"][i]),
            None if np.isnan(arr["hi"][i]) else float(arr["hi"][i]),
            bool(arr["integer"][i]),
            bool(arr["reverse"][i]),
            sub_of.get((it.instrument, it.item)),
            *(r in it.roles for r in ROLES),
        )
        for i, it in enumerate(cat.items)
    ]
    names = [_P + c for c in cols]
    if engine == "polars":
        import polars as pl

        kinds = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "DOUBLE": pl.Float64,
                 "BOOLEAN": pl.Boolean}  # fmt: skip
        schema = {n: kinds[sql] for n, (sql, _) in zip(names, cols.values(), strict=True)}
        return nw.from_native(pl.LazyFrame(rows, schema=schema, orient="row")).lazy()
    if engine == "duckdb":
        # On the relation's own connection (a relation does not expose it; a query
        # through the relation runs there): narwhals' from_dict would use the default
        # connection, which cannot be joined with a relation of another connection.
        def lit(v: Any, sql: str) -> str:
            if v is None:
                return f"CAST(NULL AS {sql})"
            if sql == "VARCHAR":
                return "'" + str(v).replace("'", "''") + "'"
            if sql == "DOUBLE":
                return f"CAST({float(v)!r} AS DOUBLE)"
            return f"CAST({v!s} AS {sql})"

        kinds_sql = [sql for sql, _ in cols.values()]
        body = ", ".join(
            "(" + ", ".join(lit(v, k) for v, k in zip(r, kinds_sql, strict=True)) + ")"
            for r in rows
        )
        header = ", ".join(f'"{n}"' for n in names)
        sql = f"SELECT * FROM (VALUES {body}) AS t({header})"
        return nw.from_native(native.query("__hx_src", sql)).lazy()
    spark_schema = ", ".join(f"{n} {sp}" for n, (_, sp) in zip(names, cols.values(), strict=True))
    return nw.from_native(native.sparkSession.createDataFrame(rows, spark_schema)).lazy()


def _lazy_checks(role_col: str | None) -> dict[str, Any]:
    """Each check's mask (True = the row fails) on the joined frame."""
    import narwhals.stable.v2 as nw

    known = ~nw.col(_P + "pos").is_null()
    s = nw.col("__hx_score")
    answered = ~s.is_null() & ~s.is_nan()
    lo, hi = nw.col(_P + "lo"), nw.col(_P + "hi")
    off = known & answered & ~lo.is_null() & ((s < lo) | (s > hi))
    out = {
        "item_in_catalogue": ~known,
        "score_in_item_scale": off,
        "score_integer": known
        & answered
        & nw.col(_P + "int")
        & ~off.fill_null(value=False)
        & (s != s.round(0)),
    }
    if role_col is not None:
        role = nw.col("__hx_role")
        has_role = role.is_in(list(ROLES))
        asked = nw.lit(False)
        for r in reversed(ROLES):
            asked = nw.when(role == r).then(nw.col(f"{_P}asked_{r}")).otherwise(asked)
        out["role_asked"] = known & has_role & ~asked
        out["bad_role"] = ~role.is_null() & ~has_role
    return out


def _joined(lf: Any, ref: Any, role_col: str | None) -> Any:
    """The answers with their catalogue row (left join: unknown items keep nulls)."""
    import narwhals.stable.v2 as nw

    from hxmetrics.tables import ROLE_OF_SILO

    extra = [nw.col("score").cast(nw.Float64).alias("__hx_score")]
    if role_col is not None:
        text = nw.col(role_col).cast(nw.String).str.strip_chars()
        role: Any = text
        for silo, r in ROLE_OF_SILO.items():
            role = nw.when(text == silo).then(nw.lit(r)).otherwise(role)
        extra.append(role.alias("__hx_role"))
    keyed = lf.with_columns(
        nw.col("instrument").cast(nw.String).alias("__hx_inst"),
        nw.col("item").cast(nw.String).alias("__hx_item"),
        *extra,
    )
    return keyed.join(
        ref, left_on=["__hx_inst", "__hx_item"], right_on=[_P + "inst", _P + "item"], how="left"
    )


def _indexed(native: Any, engine: str, ref: Any, role_col: str | None) -> Any:
    import narwhals.stable.v2 as nw

    from hxmetrics._engine_tables import _with_position

    return _joined(nw.from_native(_with_position(native, engine)).lazy(), ref, role_col)


def _examples(indexed: Any, mask: Any, columns: list[str]) -> list[tuple[Any, ...]]:
    """At most 5 failing rows, in input order (the error path only)."""
    from hxmetrics._engine_tables import _ROW

    out: list[tuple[Any, ...]] = (
        indexed.filter(mask.fill_null(value=False))
        .select([_ROW, *columns])
        .sort(_ROW)
        .head(_EXAMPLES)
        .collect()
        .rows()
    )
    return out


def _raise_bad_role(
    native: Any,
    engine: str,
    ref: Any,
    role_col: str | None,
    checks: dict[str, Any],
    n: int,
    table: str,
) -> None:
    """The error :func:`~hxmetrics.instruments._answers.role_column` gives for a role
    (or silo) that is none of the roles."""
    rows = _examples(_indexed(native, engine, ref, role_col), checks["bad_role"], [])
    where = [int(r[0]) for r in rows]
    raise InputTableError(
        f"{table}: role must be one of {list(ROLES)} (or its silo); "
        f"{n} row(s) are not, e.g. at row(s) {where}.",
        table=table,
        failure_cases=pd.DataFrame(
            {"column": "role", "check": "isin", "failure_case": None, "index": where}
        ),
    )


def _in_scope() -> Any:
    """Rows the keying check reads: known items of subscales of at least three items."""
    import narwhals.stable.v2 as nw

    return ~nw.col(_P + "pos").is_null() & ~nw.col(_P + "sub").is_null()


def _raise_no_response(
    native: Any, engine: str, ref: Any, role_col: str | None, cat: InstrumentCatalogue
) -> None:
    """The error ``unit_table`` gives for answers without their response, as the pandas
    path reaches it: for the first subscale (catalogue order) holding such answers, with
    the rows' positions among that subscale's answers (error path only)."""
    import narwhals.stable.v2 as nw

    from hxmetrics._engine_tables import _ROW

    indexed = _indexed(native, engine, ref, role_col)
    empty = _in_scope() & nw.col("response_id").is_null()
    held = {
        (inst, sub): int(n)
        for inst, sub, n in indexed.filter(empty)
        .group_by("__hx_inst", _P + "sub")
        .agg(nw.len().alias("n"))
        .collect()
        .rows()
    }
    inst, sub = next(
        (i, s)
        for i in cat.instruments
        for s, items in cat.subscales(i).items()
        if len(items) >= 3 and (i, s) in held
    )
    in_sub = _in_scope() & (nw.col("__hx_inst") == inst) & (nw.col(_P + "sub") == sub)
    rows = [int(r[0]) for r in _examples(indexed, in_sub & nw.col("response_id").is_null(), [])]
    before = indexed.filter(in_sub).select(
        *[(nw.col(_ROW) < r).cast(nw.Int64).sum().alias(f"p{k}") for k, r in enumerate(rows)]
    )
    where = [int(v) for v in before.collect().rows()[0]]
    raise InputTableError(
        f"responses: column 'response_id' is empty at {held[(inst, sub)]} answer row(s), "
        f"e.g. row(s) {where}; every answer needs its respondent. Fill or drop them.",
        table="responses",
        failure_cases=pd.DataFrame(
            {"column": "response_id", "check": "not_null", "failure_case": None, "index": where}
        ),
    )


def _raise_failures(
    native: Any,
    engine: str,
    ref: Any,
    role_col: str | None,
    checks: dict[str, Any],
    failed: list[str],
    counts: dict[str, int],
    table: str,
) -> None:
    indexed = _indexed(native, engine, ref, role_col)
    wanted = ["instrument", "item", "score"] + (["__hx_role"] if role_col else [])
    parts, cases = [], []
    for check in failed:
        rows = _examples(indexed, checks[check], wanted)
        where = np.array([r[0] for r in rows], dtype=np.int64)
        scores = [math.nan if r[3] is None else r[3] for r in rows]
        if check == "item_in_catalogue":
            column = "item"
            values: Any = np.array(
                [f"{'<NA>' if r[1] is None else r[1]}/{'<NA>' if r[2] is None else r[2]}"
                 for r in rows], dtype=object,
            )  # fmt: skip
        elif check == "role_asked":
            column = str(role_col) if role_col == "role" else "silo"
            values = np.array([r[4] for r in rows], dtype=object)
        else:
            column = "score"
            values = np.array(scores, dtype=float)
        cases.append(_cases(column, check, values, where))
        examples = [
            (int(r[0]), r[1], r[2], np.float64(s)) for r, s in zip(rows, scores, strict=True)
        ]
        parts.append((column, check, counts[check], examples))
    found = pd.concat(cases, ignore_index=True)
    message = _text(table, len(failed), counts["__hx_any"], parts)
    raise InputTableError(message, table=table, failure_cases=found)


def _keying_lazy(
    joined: Any, cat: InstrumentCatalogue, *, min_n: int, confidence: float
) -> pd.DataFrame:
    """:func:`keying_check` from sums aggregated on the engine.

    Per (instrument, subscale, response, item) the mean keyed answer (a response that
    answered an item twice counts once, with its mean, as ``unit_table`` does); then,
    joining a response's items pairwise, per item pair the count, the sum of the first
    item's answers and the sum of products: the ``npair``, ``sx`` and ``sxx`` of
    ``measures.reliability`` (k x k per subscale: the only table collected).
    """
    import narwhals.stable.v2 as nw

    confidence = check_confidence(confidence)
    z = z_critical(confidence)
    s, lo, hi = nw.col("__hx_score"), nw.col(_P + "lo"), nw.col(_P + "hi")
    keyed = nw.when(nw.col(_P + "rev")).then(lo + hi - s).otherwise(s)
    scope = joined.filter(_in_scope())
    keys = ["__hx_inst", _P + "sub", "response_id"]
    units = (
        scope.with_columns(keyed.alias("__hx_x"))
        .group_by(*keys, "__hx_item")
        .agg(
            nw.col("__hx_x").sum().alias("__hx_sum"),
            nw.col("__hx_x").count().alias("__hx_cnt"),
            nw.len().alias("__hx_len"),
        )
        # unit_table: a unit's mean is missing when any of its answers to the item is
        .filter((nw.col("__hx_cnt") == nw.col("__hx_len")) & (nw.col("__hx_cnt") > 0))
        .select(*keys, "__hx_item", (nw.col("__hx_sum") / nw.col("__hx_len")).alias("__hx_x"))
    )
    other = units.select(
        *keys, nw.col("__hx_item").alias("__hx_j"), nw.col("__hx_x").alias("__hx_xj")
    )
    pairs = (
        units.join(other, on=keys, how="inner")
        .group_by("__hx_inst", _P + "sub", "__hx_item", "__hx_j")
        .agg(
            nw.len().alias("n"),
            nw.col("__hx_x").sum().alias("sx"),
            (nw.col("__hx_x") * nw.col("__hx_xj")).sum().alias("sxx"),
        )
        .collect()
        .rows()
    )
    sums: dict[tuple[str, str], dict[tuple[str, str], tuple[float, float, float]]] = {}
    for inst, sub, i, j, n, sx, sxx in pairs:
        sums.setdefault((inst, sub), {})[(i, j)] = (float(n), float(sx), float(sxx))
    rows: list[dict[str, Any]] = []
    for inst in cat.instruments:
        for sub, items in cat.subscales(inst).items():
            if len(items) < 3 or (inst, sub) not in sums:
                continue
            got, k = sums[(inst, sub)], len(items)
            npair, sx, sxx = np.zeros((k, k)), np.zeros((k, k)), np.zeros((k, k))
            for a, ia in enumerate(items):
                for b, ib in enumerate(items):
                    npair[a, b], sx[a, b], sxx[a, b] = got.get((ia, ib), (0.0, 0.0, 0.0))
            # measures.reliability._Prepared._finish and item_total, the same arithmetic
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = (sxx - sx * sx.T / npair) / (npair - 1.0)
            for a, name in enumerate(items):
                rest = [b for b in range(k) if b != a]
                rr = math.nan
                if np.all(np.isfinite(cov)):
                    cov_rest = float(cov[a, rest].sum())
                    var_rest = float(cov[np.ix_(rest, rest)].sum())
                    with np.errstate(invalid="ignore", divide="ignore"):
                        rr = cov_rest / math.sqrt(cov[a, a] * var_rest)
                rows.append(_keying_row(cat, inst, sub, name, npair[a, a], rr, z=z, min_n=min_n))
    return _keying_frame(rows)
