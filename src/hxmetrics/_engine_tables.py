"""The table contract checked on the engine that holds the data (:func:`validate_lazy`).

Each check of :func:`hxmetrics.tables.validate` is written once here with narwhals
expressions: coercion (a value that is present but does not cast is a failure),
``isin``, not-null, numeric ranges, uniqueness, and the ordering rules (``end`` not
before ``start``). All counts come back from ONE aggregate (a one-row table). Only when a
check fails does the engine return its first example rows (five per check) with their
0-based position in the input; the message and ``failure_cases`` are then built by
:mod:`hxmetrics.tables`' own helpers, so the text is the pandas path's.

The order of the checks in a message follows the pandas path (pandera's order): values
that are not scalars, timestamps (unreadable, out of range, mixed offsets), uniqueness,
missing columns, other coercions, then per column (schema order) missing values and the
column's value checks; value checks are skipped on a column whose values do not
coerce, and the ordering rules run only when everything else passed. Then, as on the
pandas path, the cross-table rule (``ticket_events`` against ``parents={"tickets":
...}``, a left join: one more one-row aggregate) and, for ``teams``, the ledger's
cross-row checks (windows per touchpoint). Uniqueness is counted by a group-by joined
to the one-row aggregate (same query); a window marks the rows only on the error path.

Engine-specific code (narwhals has no portable form for these): the row position on the
error path, building a timestamp from its integer parts, and naive-UTC conversion of
typed timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import pandas as pd

from hxmetrics import tables as _t
from hxmetrics.errors import InputTableError, ParameterError, did_you_mean

__all__ = ["validate_lazy"]

_ROW = "__hx_row"
_DUP = "__hx_dup"
_ROWS = "__hx_rows"
_EXAMPLES = _t._EXAMPLES_PER_CHECK

# The characters Python's str.strip() removes, which the pandas path strips around
# timestamps and float() ignores around numbers (every engine's trim takes a set).
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# float() (pandas' cast of text) ignores the same, less the separators \x1c-\x1f.
_NUMBER_BLANKS = "".join(c for c in _WHITESPACE if not "\x1c" <= c <= "\x1f")
# tables._ISO_TIMESTAMP with ASCII digits (\d is Unicode in Python and Rust, ASCII in
# Java and RE2; pandas cannot parse other digits anyway) and \z (Java's $ also matches
# before a final newline). The fields' ranges (month, day 01-31, hours, minutes,
# seconds, the offset's) are in the pattern too: text outside them is unreadable on the
# pandas path, as text the pattern refuses is; one match costs less than comparing each
# parsed field (on Spark, every literal of a comparison is a round trip to the JVM).
_MINUTE = "[0-5][0-9]"
_HOUR = "(?:[01][0-9]|2[0-3])"
_ISO_BODY = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    rf"(?:[T ]{_HOUR}:{_MINUTE}(?::{_MINUTE}(?:\.[0-9]{{1,9}})?)?)?"
)
_ISO = f"^{_ISO_BODY}(?:Z|[+-]{_HOUR}(?::?{_MINUTE})?)?\\z"
_FLOAT = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\z"
_INF = r"^[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?\z"
_NAN = r"^[+-]?[nN][aA][nN]\z"
# What Python's float() reads beyond _FLOAT: '_' between digits, any script's digits.
_PYTHON_NUMBER = r"^[+-]?[\p{Nd}_]*(?:\.[\p{Nd}_]*)?(?:[eE][+-]?[\p{Nd}_]+)?\z"
# At most 18 digits always fit an Int64 (pandas takes up to 9223372036854775807).
_INT = r"^-?[0-9]{1,18}\z"
# datetime64[ns] bounds in microseconds and the nanoseconds below them (pandas'
# Timestamp.min/max: -9223372036854775807 and 9223372036854775807 ns).
_MIN_US, _MIN_SUB = -9_223_372_036_854_776, 193
_MAX_US, _MAX_SUB = 9_223_372_036_854_775, 807
_DAY_US = 86_400_000_000

_NOT_NULL = "not_nullable"
_UNIQUE = "multiple_fields_uniqueness"
_MISSING = "column_in_dataframe"
_SCALAR = "scalar_value"


def _engine(native: Any) -> str:
    if isinstance(native, pd.DataFrame):
        return "pandas"
    module = type(native).__module__.split(".")[0]
    if module == "polars":
        return "polars"
    if module in ("duckdb", "_duckdb"):
        return "duckdb"
    if module == "pyspark":
        return "spark"
    return module


def validate_lazy(
    frame: Any, *, table: str, parents: dict[str, Any] | None = None, instruments: Any = None
) -> Any:
    """See :func:`hxmetrics.tables.validate_lazy` (the public door)."""
    return validate_counted(frame, table=table, parents=parents, instruments=instruments)[0]


def validate_counted(
    frame: Any, *, table: str, parents: dict[str, Any] | None = None, instruments: Any = None
) -> tuple[Any, int]:
    """:func:`validate_lazy` and the number of rows of the table.

    The rows are counted by the validation's own aggregate (one more sum in the query
    that counts every check), not by a query of their own: on Spark every query has a
    fixed cost larger than counting a small table (a job counted each input so).
    """
    if not isinstance(table, str) or table not in _t._CONTRACT:
        hint = did_you_mean(table, _t._CONTRACT) if isinstance(table, str) else ""
        raise InputTableError(
            f"unknown table {table!r}; the contract has {', '.join(_t._CONTRACT)}." + hint,
            table=str(table),
            failure_cases=_t._no_cases(),
        )
    engine = _engine(frame)
    if engine == "pandas":
        out = _t.validate(frame, table=table, parents=parents, instruments=instruments)
        return out, len(out)
    if engine not in ("polars", "duckdb", "spark"):
        raise ParameterError(
            f"validate_lazy(table={table!r}): expected a pandas DataFrame, a Polars "
            f"LazyFrame or DataFrame, a DuckDB relation or a Spark DataFrame; got "
            f"{type(frame).__module__}.{type(frame).__name__}."
        )
    if instruments is not None and table != "responses":
        raise ParameterError(
            f"instruments= checks answers: it applies to table 'responses', not {table!r}."
        )
    checked = _checked_parents(table, parents, engine)
    eager = engine == "polars" and not _is_lazy_polars(frame)
    native = frame.lazy() if eager else frame
    validation = _Validation(native, table=table, engine=engine, parents=checked)
    out = validation.run()
    if instruments is not None:
        # The answers against the catalogue, on the engine, after the contract's
        # coercion (tables.validate runs check_responses at the same point).
        from hxmetrics.instruments._checks import check_responses_lazy

        check_responses_lazy(out, instruments, table=table)
    return (out.collect() if eager else out), validation.rows


def _checked_parents(table: str, parents: Any, engine: str) -> dict[str, Any]:
    """The parents of ``table``, validated on the engine (tables._checked_parents' rules)."""
    if parents is None:
        return {}
    if table == "responses" and isinstance(parents, dict) and "invitations" in parents:
        # check_invitations (hxmetrics.measures.response_rates) is written for pandas.
        raise ParameterError(
            f"validate_lazy(table='responses', parents={{'invitations': ...}}): the "
            f"invitation check runs on pandas only, not on {engine}; validate on pandas, "
            "or leave parents out."
        )
    if not isinstance(parents, dict):
        _t._checked_parents(table, parents)  # raises the pandas path's refusal
    rule = _t._REFERENCES.get(table)
    allowed = [] if rule is None else [rule.parent]
    unknown = [name for name in parents if name not in allowed]
    if unknown:
        refers = f"refers to {allowed[0]!r}" if allowed else "refers to no other table"
        raise ParameterError(
            f"validate(table={table!r}): {table!r} {refers}; parents names {unknown}."
            + did_you_mean(str(unknown[0]), allowed)
        )
    out = {}
    for name, frame in parents.items():
        if _engine(frame) != engine:
            raise ParameterError(
                f"validate_lazy(table={table!r}): the parent {name!r} is on engine "
                f"{_engine(frame)}, the table on {engine}; give both on one engine."
            )
        out[name] = validate_lazy(frame, table=name)
    return out


def _is_lazy_polars(frame: Any) -> bool:
    import polars as pl

    return isinstance(frame, pl.LazyFrame)


@dataclass
class _Check:
    """One check: failing rows are ``mask``; ``value`` is what ``failure_cases`` shows."""

    column: str
    check: str
    mask: nw.Expr
    value: str | None  # the work column whose value is the failure case
    kind: str  # how to show it: "raw", "null", "coerced", "ordering"
    target: str = "string"  # the column's kind: string, int, float, datetime
    after_coerce: bool = False  # skipped when the column has coercion failures
    extra: tuple[str, str] = ("", "")  # ordering: (earlier, later) work columns
    rule: tuple[str, str] = ("", "")  # ordering: (earlier, later) column names
    key: str = field(default="")


class _Validation:
    def __init__(
        self, native: Any, *, table: str, engine: str, parents: dict[str, Any] | None = None
    ) -> None:
        self.native = native
        self.parents = parents or {}
        self.refs: list[_Check] = []
        self.table = table
        self.engine = engine
        self.rows = 0  # the table's rows, counted with the checks (run)
        self.schema = _t._schemas()[table]
        frame = nw.from_native(native).lazy()
        self.names = list(frame.collect_schema().names())
        # Same refusal, same text as the pandas path (names only, no data).
        _t._check_column_names(pd.DataFrame(columns=pd.Index(self.names, dtype=object)), table)
        self.dtypes = dict(frame.collect_schema().items())
        self.present = [c for c in self.schema.columns if c in self.names]
        self.missing = [
            c for c, col in self.schema.columns.items() if col.required and c not in self.names
        ]
        self.work_name = {c: f"__hx{i}_v" for i, c in enumerate(self.present)}
        self.checks: list[_Check] = []
        self.mixed: dict[str, tuple[_Check, _Check]] = {}
        self.bounds: dict[str, tuple[_Check, _Check]] = {}
        self.fine: dict[str, str] = {}  # datetime column -> flag of sub-microsecond values
        self.exotic: dict[str, str] = {}  # number column -> flag of numbers only Python reads

    # -- building the work frame ---------------------------------------------------
    def _target(self, name: str) -> str:
        dtype = str(self.schema.columns[name].dtype)
        if dtype.startswith("datetime64"):
            return "datetime"
        if dtype == "Int64":
            return "int"
        if dtype == "float64":
            return "float"
        return "string"

    def work(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        """``frame`` with, per contract column, its coerced value and check flags."""
        self.checks = []
        early_scalar: list[_Check] = []
        early_dates: list[_Check] = []
        coerce: list[_Check] = []
        per_column: list[_Check] = []
        stage1: list[nw.Expr] = []
        for i, name in enumerate(self.present):
            p = f"__hx{i}_"
            dtype = self.dtypes[name]
            raw = nw.col(name)
            if _is_non_scalar(dtype):
                # Lists, structs, bytes: never a contract value (tables._non_scalar_values).
                stage1.append(_present(raw).alias(p + "scalar"))
                early_scalar.append(_Check(name, _SCALAR, nw.col(p + "scalar"), name, "raw"))
                text = nw.lit(None, nw.String)
                dtype = nw.String()
            elif isinstance(dtype, (nw.Categorical, nw.Enum)):
                text = raw.cast(nw.String)
                dtype = nw.String()
            else:
                text = raw
            stage1.append(text.alias(p + "raw"))
            blanks = self._blanks(name)
            if blanks and dtype == nw.String:
                # The text without the blanks Python ignores, once: the coercion reads it
                # several times, and Spark evaluates (and builds) each use again.
                stage1.append(text.str.strip_chars(blanks).alias(p + "txt"))
        frame = frame.with_columns(stage1) if stage1 else frame

        # Stage 0: coerced values and timestamp text; then the timestamp parts' stages;
        # the last: flags read from them.
        stages: list[list[nw.Expr]] = [[] for _ in range(7)]
        native_ts: list[str] = []
        for i, name in enumerate(self.present):
            p = f"__hx{i}_"
            raw = nw.col(p + "raw")
            dtype = self.dtypes[name]
            if _is_non_scalar(dtype) or isinstance(dtype, (nw.Categorical, nw.Enum)):
                dtype = nw.String()
            target = self._target(name)
            column = self.schema.columns[name]
            value = p + "v"
            fails_coerce: nw.Expr | None = None
            if target == "datetime":
                if dtype == nw.String:
                    for k, exprs in enumerate(_timestamp_parts(nw.col(p + "txt"), p)):
                        stages[k].extend(exprs)
                    native_ts.append(p)
                    unreadable = _present(raw) & ~nw.col(p + "ok")
                    naive = nw.col(p + "ok") & ~nw.col(p + "aware")
                    aware = nw.col(p + "ok") & nw.col(p + "aware")
                    outside = nw.col(p + "ok") & ~nw.col(p + "inb")
                    early_dates.append(_Check(name, _t._COERCE_DATETIME, unreadable, name, "raw"))
                    b_naive = _Check(name, _t._IN_BOUNDS, outside & naive, name, "raw")
                    b_aware = _Check(name, _t._IN_BOUNDS, outside & aware, name, "raw")
                    m_naive = _Check(name, _t._MIXED_ZONES, naive, name, "raw")
                    m_aware = _Check(name, _t._MIXED_ZONES, aware, name, "raw")
                    self.bounds[name] = (b_naive, b_aware)
                    self.mixed[name] = (m_naive, m_aware)
                    early_dates.extend([b_naive, b_aware, m_naive, m_aware])
                    if self.engine != "polars":
                        self.fine[name] = p + "fine"
                        fine = nw.col(p + "ok") & nw.col(p + "inb") & (nw.col(p + "sub") != 0)
                        stages[-1].append(fine.alias(p + "fine"))
                elif isinstance(dtype, (nw.Datetime, nw.Date)):
                    outside_typed = _typed_outside_ns(raw, dtype)
                    typed = raw
                    if outside_typed is not None:
                        # datetime64[ns]'s range, as tables._timestamps checks typed values
                        # (the check reports such a value before it is used).
                        early_dates.append(
                            _Check(
                                name,
                                _t._IN_BOUNDS,
                                outside_typed,
                                p + "raw",
                                "coerced" if isinstance(dtype, nw.Datetime) else "raw",
                                target="datetime",
                            )
                        )
                        if self.engine == "polars":
                            # Polars' cast to nanoseconds raises on it: nulled first.
                            # DuckDB and Spark (microseconds) hold it: the column stays a
                            # plain column there, as the later plans read it.
                            typed = nw.when(~outside_typed).then(raw)
                    stages[0].append(typed.alias(p + "typed"))
                    native_ts.append(p)
                else:
                    # Numbers or booleans are not timestamps in the contract's terms.
                    stages[0].append(nw.lit(None, nw.String).alias(p + "typed"))
                    native_ts.append(p)
                    early_dates.append(
                        _Check(name, _t._COERCE_DATETIME, _present(raw), name, "raw")
                    )
            elif target == "float":
                coerced, bad, exotic = _to_float(raw, dtype, nw.col(p + "txt"))
                stages[0].append(coerced.alias(value))
                fails_coerce = bad
                if exotic is not None:
                    stages[0].append(exotic.alias(p + "exotic"))
                    self.exotic[name] = p + "exotic"
            elif target == "int":
                coerced, bad = _to_int(raw, dtype)
                stages[0].append(coerced.alias(value))
                fails_coerce = bad
            else:
                stages[0].append((raw if dtype == nw.String else raw.cast(nw.String)).alias(value))
            if fails_coerce is not None:
                label = f"coerce_dtype('{column.dtype}')"
                coerce.append(_Check(name, label, fails_coerce, name, "raw", after_coerce=False))
            if not column.nullable:
                per_column.append(
                    _Check(
                        name,
                        _NOT_NULL,
                        self._missing(i),
                        None,
                        "null",
                        target=target,
                    )
                )
            for check in column.checks:
                per_column.append(
                    _Check(
                        name,
                        _check_label(check),
                        _check_mask(check, nw.col(value)),
                        value,
                        "coerced",
                        target=target,
                        after_coerce=True,
                    )
                )
        for stage in stages:
            if stage:
                frame = frame.with_columns(stage)
        if native_ts:
            frame = self._timestamps(frame, native_ts)
        unique = self._unique_checks()
        ordering = [
            _Check(
                rule.later,
                rule.name,
                _present(nw.col(self.work_name[rule.later]))
                & (nw.col(self.work_name[rule.later]) < nw.col(self.work_name[rule.earlier])),
                None,
                "ordering",
                extra=(self.work_name[rule.earlier], self.work_name[rule.later]),
                rule=(rule.earlier, rule.later),
            )
            for rule in _t._ORDERINGS.get(self.table, ())
            if rule.earlier in self.work_name and rule.later in self.work_name
        ]
        self.checks = [*early_scalar, *early_dates, *unique, *coerce, *per_column, *ordering]
        for k, check in enumerate(self.checks):
            check.key = f"__hxc{k}"
        return frame

    def flagged(self, work: nw.LazyFrame) -> nw.LazyFrame:
        """``work`` with the uniqueness flag, a window (kept out of the result)."""
        keys = [k for k in (self.schema.unique or []) if k in self.work_name]
        if not keys:
            return work
        return work.with_columns(
            (nw.len().over(*[self.work_name[k] for k in keys]) > 1).alias(_DUP)
        )

    def _blanks(self, name: str) -> str:
        """The characters stripped around the text of column ``name`` before it is read
        as a timestamp or a number ("" when its text is read as it is)."""
        target = self._target(name)
        if target == "datetime":
            return _WHITESPACE
        if target == "float":
            return _NUMBER_BLANKS
        return ""

    def _missing(self, i: int) -> nw.Expr:
        """Rows where column ``i`` has no value (a non-scalar value is reported as such,
        not as missing)."""
        raw = nw.col(f"__hx{i}_raw")
        if _is_non_scalar(self.dtypes[self.present[i]]):
            return raw.is_null() & ~nw.col(f"__hx{i}_scalar")
        # No "& ~False": on Spark a literal operand costs round trips to the JVM.
        return raw.is_null()

    def _unique_checks(self) -> list[_Check]:
        keys = [k for k in (self.schema.unique or []) if k in self.work_name]
        if not keys:
            return []
        dup = nw.col(_DUP)
        return [
            _Check(k, _UNIQUE, dup, self.work_name[k], "coerced", target=self._target(k))
            for k in keys
        ]

    def _timestamps(self, frame: nw.LazyFrame, prefixes: list[str]) -> nw.LazyFrame:
        """Add ``<p>v``, the naive UTC timestamp, for each datetime column (engine code)."""
        native = frame.to_native()
        builder: Callable[[Any, list[str]], Any] = {
            "polars": _polars_timestamps,
            "duckdb": _duckdb_timestamps,
            "spark": _spark_timestamps,
        }[self.engine]
        return nw.from_native(builder(native, prefixes)).lazy()

    # -- running -------------------------------------------------------------------
    def run(self) -> Any:
        base = nw.from_native(self.native).lazy()
        work = self.work(base)
        out = work.select(
            [
                nw.col(self.work_name[c]).alias(c) if c in self.work_name else nw.col(c)
                for c in self.names
            ]
        )
        self.base_work = work
        counts = self._counts(work)
        self.rows = counts.pop(_ROWS)
        self._check_limits(counts)
        reported = self._reported(counts)
        if self.missing or any(c.kind != "ordering" for c in reported):
            self._fail(reported, counts)
        # Cross-table rules run once every column has its type, beside the ordering
        # rules (tables.validate); one more aggregate, over a join with the parent.
        found = self._references(work, counts)
        reported += found
        if reported:
            self._fail(reported, counts)
        if self.table == "teams":
            _check_teams(out, self.native, self.engine)
        return out.to_native()
        raise AssertionError("unreachable")  # pragma: no cover - _fail raises

    def _joined(self, work: nw.LazyFrame) -> nw.LazyFrame:
        """``work`` with the parent's ``since`` beside each row (a left join on the key;
        the parent's keys are unique, so every row is kept once)."""
        rule = _t._REFERENCES.get(self.table)
        if rule is None or rule.parent not in self.parents:
            return work
        parent = (
            nw.from_native(self.parents[rule.parent])
            .lazy()
            .select(nw.col(rule.key).alias("__hx_pkey"), nw.col(rule.since).alias("__hx_since"))
            .with_columns(nw.lit(value=True).alias("__hx_known"))
        )
        return work.join(
            parent, left_on=self.work_name[rule.column], right_on="__hx_pkey", how="left"
        )

    def _references(self, work: nw.LazyFrame, counts: dict[str, int]) -> list[_Check]:
        """The cross-table rule of the table (tables._REFERENCES), counted on the engine."""
        rule = _t._REFERENCES.get(self.table)
        if rule is None or rule.parent not in self.parents:
            return []
        unknown_name, early_name = rule.names
        known = nw.col("__hx_known").fill_null(value=False)
        time = self.work_name[rule.time]
        self.refs = [
            _Check(rule.column, unknown_name, ~known, self.work_name[rule.column], "coerced"),
            _Check(
                rule.time,
                early_name,
                known & _present(nw.col("__hx_since")) & (nw.col(time) < nw.col("__hx_since")),
                None,
                "reference",
                extra=("__hx_since", time),
                rule=(f"{rule.parent}.{rule.since}", rule.time),
            ),
        ]
        for k, check in enumerate(self.refs):
            check.key = f"__hxr{k}"
        row = (
            self._joined(work)
            .select(
                [c.mask.fill_null(value=False).cast(nw.Int64).sum().alias(c.key) for c in self.refs]
            )
            .collect()
            .rows(named=True)[0]
        )
        counts.update({k: int(v or 0) for k, v in row.items()})
        return [c for c in self.refs if counts[c.key]]

    def _counts(self, work: nw.LazyFrame) -> dict[str, int]:
        """Every check's number of failing rows: one query, one row back.

        Uniqueness is counted by a group-by (rows of keys held more than once) joined to
        the row checks' sums: a window over the keys costs several times more.
        """
        unique = [c for c in self.checks if c.check == _UNIQUE]
        aggs = [
            c.mask.fill_null(value=False).cast(nw.Int64).sum().alias(c.key)
            for c in self.checks
            if c.check != _UNIQUE
        ]
        aggs += [
            nw.col(flag).fill_null(value=False).cast(nw.Int64).sum().alias(flag)
            for flag in [*self.fine.values(), *self.exotic.values()]
        ]
        # The table's rows too, for a caller that reports them (validate_counted).
        aggs.append(nw.len().alias(_ROWS))
        query = work.select(aggs)
        if unique:
            n = "__hx_n"
            keys = [self.work_name[c.column] for c in unique]
            dups = (
                work.group_by(*keys)
                .agg(nw.len().alias(n))
                .filter(nw.col(n) > 1)
                .select(nw.col(n).sum().alias(_DUP))
            )
            query = query.join(dups, how="cross")
        row = query.collect().rows(named=True)[0]
        counts = {k: int(v or 0) for k, v in row.items()}
        for check in unique:
            counts[check.key] = counts[_DUP]
        return counts

    def _reported(self, counts: dict[str, int]) -> list[_Check]:
        """The checks the pandas path reports, given every check's count."""
        # Mixed offsets: the fewer kind is named (tables._timestamps); those rows are
        # not also reported as out of range.
        drop: set[int] = set()
        for name, (m_naive, m_aware) in self.mixed.items():
            b_naive, b_aware = self.bounds[name]
            n_naive, n_aware = counts[m_naive.key], counts[m_aware.key]
            drop.add(id(m_naive))
            drop.add(id(m_aware))
            if n_naive and n_aware:
                if n_aware <= n_naive:
                    drop.discard(id(m_aware))
                    drop.add(id(b_aware))
                else:
                    drop.discard(id(m_naive))
                    drop.add(id(b_naive))
        uncoercible = {
            c.column
            for c in self.checks
            if c.check.startswith("coerce_dtype")
            and not c.check.endswith("('datetime64[ns]')")
            and counts[c.key]
        }
        kept = [
            c
            for c in self.checks
            if id(c) not in drop
            and counts[c.key]
            and not (c.after_coerce and c.column in uncoercible)
        ]
        others = [c for c in kept if c.kind != "ordering"]
        if others or self.missing:
            return others
        return kept

    def _check_limits(self, counts: dict[str, int]) -> None:
        """Refuse values the engine would read differently from pandas (never silently)."""
        for name, flag in self.exotic.items():
            if counts.get(flag):
                raise ParameterError(
                    f"table {self.table!r}, column {name!r}: {counts[flag]} value(s) are "
                    "numbers only Python reads (digits grouped with '_', or digits of "
                    f"another script); the {self.engine} path reads ASCII numbers only "
                    "(1234.5, -1e3, inf, nan): validate on pandas, or rewrite the values."
                )
        for name, flag in self.fine.items():
            if counts.get(flag):
                kind = {"duckdb": "DuckDB's TIMESTAMP", "spark": "Spark's TIMESTAMP_NTZ"}
                raise ParameterError(
                    f"table {self.table!r}, column {name!r}: {counts[flag]} value(s) carry "
                    f"fractions of a second finer than a microsecond, which "
                    f"{kind[self.engine]} cannot hold; validate on pandas or Polars "
                    "(nanoseconds), or round the values to microseconds."
                )

    def _fail(self, reported: list[_Check], counts: dict[str, int]) -> None:
        indexed = self._joined(
            self.flagged(self.work(nw.from_native(_with_position(self.native, self.engine)).lazy()))
        )
        by_key = {c.key: c for c in [*self.checks, *self.refs]}
        reported = [by_key[c.key] for c in reported]  # same checks, on the indexed frame
        # One check of the pandas path may be two here (out of range: naive and aware
        # values): one fetch of the examples of both, in row order.
        groups: dict[tuple[str, str], list[_Check]] = {}
        for check in reported:
            groups.setdefault((check.column, check.check), []).append(check)
        parts: list[pd.DataFrame] = []
        totals: dict[tuple[str, str], int] = {}
        for key, same in groups.items():
            check = same[0]
            columns = [_ROW]
            if check.kind in ("ordering", "reference"):
                columns += list(check.extra)
            elif check.value is not None:
                columns.append(check.value)
            mask = nw.any_horizontal(
                *[c.mask.fill_null(value=False) for c in same], ignore_nulls=True
            )
            rows = indexed.filter(mask).select(columns).sort(_ROW).head(_EXAMPLES).collect().rows()
            parts.append(self._cases(check, rows))
            totals[key] = sum(counts[c.key] for c in same)
        missing = pd.DataFrame(
            {
                "column": self.table,
                "check": _MISSING,
                "failure_case": pd.Series(self.missing, dtype=object),
                "index": pd.Series([None] * len(self.missing), dtype=object),
            }
        )
        ordered = self._in_message_order(parts, missing)
        cases = pd.concat(ordered, ignore_index=True) if ordered else _t._no_cases()
        n_rows = 0
        if reported:
            any_bad = nw.any_horizontal(
                *[c.mask.fill_null(value=False) for c in reported], ignore_nulls=True
            )
            n_rows = int(
                self._joined(self.flagged(self.base_work))
                .select(any_bad.cast(nw.Int64).sum().alias("n"))
                .collect()
                .rows()[0][0]
                or 0
            )
        names = pd.DataFrame(columns=pd.Index(self.names, dtype=object))
        _t._fail(self.table, cases, names, counts=totals, n_rows=n_rows)

    def _in_message_order(
        self, parts: list[pd.DataFrame], missing: pd.DataFrame
    ) -> list[pd.DataFrame]:
        # Missing columns come after uniqueness and before the other coercions.
        before = [
            p
            for p in parts
            if not p.empty
            and p["check"].iloc[0]
            in (_SCALAR, _t._COERCE_DATETIME, _t._IN_BOUNDS, _t._MIXED_ZONES, _UNIQUE)
        ]
        after = [
            p
            for p in parts
            if not p.empty
            and p["check"].iloc[0]
            not in (_SCALAR, _t._COERCE_DATETIME, _t._IN_BOUNDS, _t._MIXED_ZONES, _UNIQUE)
        ]
        return [*before, *([missing] if len(missing) else []), *after]

    def _cases(self, check: _Check, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        values: list[Any] = []
        for row in rows:
            if check.kind == "null":
                values.append(pd.NaT if check.target == "datetime" else float("nan"))
            elif check.kind in ("ordering", "reference"):
                earlier, later = (pd.Timestamp(v) for v in row[1:3])
                rule_earlier, rule_later = check.rule
                values.append(f"{rule_later}={later} < {rule_earlier}={earlier}")
            elif check.kind == "coerced":
                values.append(_shown(row[1], check.target))
            else:
                values.append(row[1])
        return pd.DataFrame(
            {
                "column": pd.Series([check.column] * len(rows), dtype=object),
                "check": pd.Series([check.check] * len(rows), dtype=object),
                "failure_case": pd.Series(values, dtype=object),
                "index": pd.Series([int(r[0]) for r in rows], dtype=object),
            }
        )


def _shown(value: Any, target: str) -> Any:
    if value is None:
        return pd.NaT if target == "datetime" else float("nan")
    if target == "datetime":
        return pd.Timestamp(value)
    if target == "int":
        return int(value)
    if target == "float":
        return float(value)
    return value


def _typed_outside_ns(raw: nw.Expr, dtype: Any) -> nw.Expr | None:
    """Typed values outside datetime64[ns]'s range (pandas' Timestamp.min/max), or None
    when the type cannot hold one (nanoseconds) or carries a time zone (not checked
    here: compared after conversion to UTC on the pandas path)."""
    import datetime as dt

    if isinstance(dtype, nw.Date):
        # 1677-09-21 00:00 is before Timestamp.min; 2262-04-11 00:00 is in range.
        return (raw < nw.lit(dt.date(1677, 9, 22))) | (raw > nw.lit(dt.date(2262, 4, 11)))
    if dtype.time_unit == "ns" or dtype.time_zone is not None:
        return None
    # In microseconds: _MIN_US + 1 and _MAX_US (see the bounds above), exactly.
    low = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=_MIN_US + 1)
    high = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=_MAX_US)
    return (raw < nw.lit(low)) | (raw > nw.lit(high))


def _is_non_scalar(dtype: Any) -> bool:
    return isinstance(dtype, (nw.List, nw.Array, nw.Struct, nw.Binary, nw.Object))


def _check_label(check: Any) -> str:
    """The check's name as pandera writes it in ``failure_cases``."""
    return str(check.error) if check.error else str(check.name)


def _check_mask(check: Any, value: nw.Expr) -> nw.Expr:
    """Rows failing one of the schema's value checks (missing values pass, as in pandera)."""
    stats = check.statistics or {}
    name = check.name
    if name == "isin":
        ok = value.is_in(list(stats["allowed_values"]))
    elif name == "in_range":
        low = (
            value >= stats["min_value"]
            if stats.get("include_min", True)
            else value > stats["min_value"]
        )
        high = (
            value <= stats["max_value"]
            if stats.get("include_max", True)
            else value < stats["max_value"]
        )
        ok = low & high
    elif name == "greater_than":
        ok = value > stats["min_value"]
    elif name == "greater_than_or_equal_to":
        ok = value >= stats["min_value"]
    elif name == "finite":
        ok = value.is_finite()
    else:  # pragma: no cover - a new kind of check in tables.py needs its engine form here
        raise NotImplementedError(f"validate_lazy has no engine form of check {name!r}")
    return _present(value) & ~ok


def _to_float(
    raw: nw.Expr, dtype: Any, text: nw.Expr
) -> tuple[nw.Expr, nw.Expr | None, nw.Expr | None]:
    """``raw`` as Float64 (NaN as missing, as pandas reads it), where it fails to cast,
    and where it is a number only Python's ``float`` reads (``1_000``, other scripts'
    digits), which the engine refuses rather than read differently. ``text`` is the text
    of ``raw`` without the blanks around it (``_NUMBER_BLANKS``), a column of its own."""
    exotic = None
    if dtype == nw.String:
        number = text.str.contains(_FLOAT)
        inf = text.str.contains(_INF)
        # Casts are strict on some engines: only text that reads as a number is cast.
        value = nw.when(number).then(text).otherwise(nw.lit(None, nw.String)).cast(nw.Float64)
        value = (
            nw.when(inf & text.str.starts_with("-"))
            .then(nw.lit(float("-inf")))
            .when(inf)
            .then(nw.lit(float("inf")))
            .otherwise(value)
        )
        bad = _present(raw) & ~(number | inf | text.str.contains(_NAN))
        exotic = bad & text.str.contains(_PYTHON_NUMBER) & text.str.contains(r"\p{Nd}")
    elif dtype.is_numeric() or dtype == nw.Boolean:
        value = raw.cast(nw.Float64)
        bad = None
    else:
        value = nw.lit(None, nw.Float64)
        bad = _present(raw)
    value = nw.when(~value.is_nan()).then(value).otherwise(nw.lit(None, nw.Float64))
    return value, bad, exotic


def _to_int(raw: nw.Expr, dtype: Any) -> tuple[nw.Expr, nw.Expr | None]:
    """``raw`` as Int64 and where it fails to cast (pandas' ``astype("Int64")``)."""
    if dtype == nw.String:
        ok = raw.str.contains(_INT)
        value = nw.when(ok).then(raw).otherwise(nw.lit(None, nw.String)).cast(nw.Int64)
        bad = _present(raw) & ~ok
    elif dtype.is_integer() or dtype == nw.Boolean:
        value = raw.cast(nw.Int64)
        bad = None
    elif dtype.is_float():
        whole = raw.is_finite() & (raw.round(0) == raw) & (raw.abs() < 9.2e18)
        value = nw.when(whole).then(raw).otherwise(nw.lit(None, nw.Float64)).cast(nw.Int64)
        bad = _present(raw) & ~raw.is_nan() & ~whole
    else:
        value = nw.lit(None, nw.Int64)
        bad = _present(raw)
    return value, bad


def _timestamp_parts(stripped: nw.Expr, p: str) -> list[list[nw.Expr]]:
    """Integer parts of ISO 8601 text (tables._parse_iso's rules), in stages of columns.

    ``stripped`` is the text without the whitespace around it (``_WHITESPACE``).

    Each stage reads only the columns of the stages before it, which keeps every
    engine's query small. The columns that matter after: ``ok`` (a real date and
    time), ``aware`` (has an offset), ``d`` (days since 1970-01-01 of the local
    date), ``us`` (microseconds of the day minus the offset), ``sub`` (nanoseconds
    below the microsecond), ``inb`` (within datetime64[ns]) and ``valid`` (both).
    """
    t0 = nw.when(stripped.str.contains(_ISO)).then(stripped).otherwise(nw.lit(None, nw.String))

    def c(name: str) -> nw.Expr:
        return nw.col(p + name)

    t = c("t")
    n = t.str.len_chars()

    def part(start: int, length: int) -> nw.Expr:
        return t.str.slice(start, length).cast(nw.Int64)

    has_time = n > 10
    has_sec = (n >= 19) & (t.str.slice(16, 1) == ":")
    digits = t.str.replace_all(r"^[^.]*\.", "").str.replace_all(r"[Z+-].*\z", "")
    frac9 = (
        nw.when(t.str.contains(r"\."))
        .then(nw.concat_str([digits, nw.lit("000000000")]).str.slice(0, 9))
        .otherwise(nw.lit("000000000"))
    )
    parts = [
        part(0, 4).alias(p + "yr"),
        part(5, 2).alias(p + "mo"),
        part(8, 2).alias(p + "dy"),
        nw.when(has_time).then(part(11, 2)).otherwise(0).alias(p + "h"),
        nw.when(has_time).then(part(14, 2)).otherwise(0).alias(p + "mi"),
        nw.when(has_sec).then(part(17, 2)).otherwise(0).alias(p + "s"),
        frac9.alias(p + "frac"),
        t.str.replace_all(f"^{_ISO_BODY}", "").alias(p + "off"),
    ]
    year, month, day, off = c("yr"), c("mo"), c("dy"), c("off")
    off_m_text = off.str.replace_all(r"^[+-][0-9]{2}:?", "")
    leap = ((year % 4) == 0) & (((year % 100) != 0) | ((year % 400) == 0))
    fields = [
        c("frac").str.slice(0, 6).cast(nw.Int64).alias(p + "micro"),
        c("frac").str.slice(6, 3).cast(nw.Int64).alias(p + "sub"),
        (off.str.len_chars() > 0).fill_null(value=False).alias(p + "aware"),
        nw.when(off.str.starts_with("-")).then(-1).otherwise(1).alias(p + "sign"),
        nw.when(off.str.len_chars() >= 3)
        .then(off.str.slice(1, 2))
        .otherwise(nw.lit("0"))
        .cast(nw.Int64)
        .alias(p + "oh"),
        nw.when(off_m_text.str.len_chars() == 2)
        .then(off_m_text)
        .otherwise(nw.lit("0"))
        .cast(nw.Int64)
        .alias(p + "om"),
        # Days from the civil date (H. Hinnant's algorithm), shifted by 400 years so
        # that every division is of non-negative numbers (floor and truncation agree).
        (year - nw.when(month <= 2).then(1).otherwise(0) + 400).alias(p + "y"),
        nw.when(month > 2).then(month - 3).otherwise(month + 9).alias(p + "mp"),
        nw.when(month == 2)
        .then(nw.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
        .alias(p + "dim"),
    ]
    # The other fields' ranges are checked by the pattern (_ISO): only the month's
    # length is left.
    ok = _present(t) & (day <= c("dim"))
    civil = [
        ok.fill_null(value=False).alias(p + "ok"),
        (c("y") // 400).alias(p + "era"),
        ((153 * c("mp") + 2) // 5 + day - 1).alias(p + "doy"),
    ]
    yoe = c("y") - c("era") * 400
    seconds = c("h") * 3600 + c("mi") * 60 + c("s") - c("sign") * (c("oh") * 3600 + c("om") * 60)
    days = [
        (c("era") * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + c("doy") - 719468 - 146097).alias(
            p + "d"
        ),
        (seconds * 1_000_000 + c("micro")).alias(p + "us"),
    ]
    total = c("d") * _DAY_US + c("us")
    inb = (
        ((total > _MIN_US) & (total < _MAX_US))
        | ((total == _MAX_US) & (c("sub") <= _MAX_SUB))
        | ((total == _MIN_US) & (c("sub") >= _MIN_SUB))
    ).fill_null(value=False)
    # ``valid`` reads ``inb`` in a stage of its own: written beside it, the whole range
    # expression would be built (and, on Spark, sent to the JVM) twice.
    valid = [(c("ok") & c("inb")).alias(p + "valid")]
    return [[t0.alias(p + "t")], parts, fields, civil, days, [inb.alias(p + "inb")], valid]


def _polars_timestamps(native: Any, prefixes: list[str]) -> Any:
    import polars as pl

    exprs = []
    for p in prefixes:
        names = native.collect_schema().names()
        if p + "typed" in names:
            exprs.append(_polars_typed(pl.col(p + "typed"), native.collect_schema()[p + "typed"]))
        else:
            ns = pl.col(p + "d") * (_DAY_US * 1000) + pl.col(p + "us") * 1000 + pl.col(p + "sub")
            exprs.append(pl.when(pl.col(p + "valid")).then(pl.from_epoch(ns, time_unit="ns")))
        exprs[-1] = exprs[-1].cast(pl.Datetime("ns")).alias(p + "v")
    return native.with_columns(exprs)


def _polars_typed(col: Any, dtype: Any) -> Any:
    import polars as pl

    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if isinstance(dtype, (pl.Datetime, pl.Date)):
        return col
    return pl.lit(None, pl.Datetime("ns"))


def _duckdb_timestamps(native: Any, prefixes: list[str]) -> Any:
    types = dict(zip(native.columns, [str(t) for t in native.types], strict=True))
    exprs = []
    for p in prefixes:
        if p + "typed" in types:
            kind = types[p + "typed"].upper()
            col = f'"{p}typed"'
            if "WITH TIME ZONE" in kind:
                expr = f"CAST(timezone('UTC', {col}) AS TIMESTAMP)"
            elif kind.startswith(("TIMESTAMP", "DATE")):
                expr = f"CAST({col} AS TIMESTAMP)"
            else:
                expr = "CAST(NULL AS TIMESTAMP)"
        else:
            expr = (
                f'CASE WHEN "{p}valid" THEN make_timestamp(CAST("{p}d" AS BIGINT) * {_DAY_US} '
                f'+ CAST("{p}us" AS BIGINT)) END'
            )
        exprs.append(f'{expr} AS "{p}v"')
    return native.project(", ".join(["*", *exprs]))


def _spark_timestamps(native: Any, prefixes: list[str]) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = {f.name: f.dataType for f in native.schema.fields}
    exprs = {}
    for p in prefixes:
        if p + "typed" in fields:
            kind = fields[p + "typed"]
            col = F.col(f"`{p}typed`")
            if isinstance(kind, T.TimestampType):
                # An instant: its UTC wall clock, whatever the session's time zone.
                tz = native.sparkSession.conf.get("spark.sql.session.timeZone")
                expr = F.convert_timezone(F.lit(tz), F.lit("UTC"), col.cast("timestamp_ntz"))
            elif isinstance(kind, (T.TimestampNTZType, T.DateType)):
                expr = col.cast("timestamp_ntz")
            else:
                expr = F.lit(None).cast("timestamp_ntz")
        else:
            expr = F.when(
                F.col(f"`{p}valid`"),
                F.expr(
                    f"timestampadd(MICROSECOND, `{p}us`, "
                    f"CAST(date_from_unix_date(CAST(`{p}d` AS INT)) AS TIMESTAMP_NTZ))"
                ),
            )
        exprs[p + "v"] = expr
    return native.withColumns(exprs)


def _check_teams(out: nw.LazyFrame, native: Any, engine: str) -> None:
    """:func:`hxmetrics.measures.ledger.check_teams` on the engine: the same errors.

    Spells end after they start; two spells never own one touchpoint at once (per
    touchpoint, by ``valid_from``: a spell starting before the latest end of the spells
    before it, or after an open one, clashes). Counts first (one row back); positions
    and examples only when a rule fails.
    """
    from hxmetrics.measures.ledger import _cases

    start, stop = nw.col("valid_from"), nw.col("valid_to")
    early = _present(stop) & (stop <= start)
    flagged = _teams_clash(out, ["valid_from"])
    n_early, n_clash = (
        flagged.select(
            early.fill_null(value=False).cast(nw.Int64).sum().alias("early"),
            nw.col("__hx_clash").cast(nw.Int64).sum().alias("clash"),
        )
        .collect()
        .rows()[0]
    )
    if not (n_early or n_clash):
        return
    coerced = out.to_native()
    indexed = nw.from_native(_with_position(coerced, engine)).lazy()
    if n_early:
        pos = [
            int(r[0])
            for r in indexed.filter(early.fill_null(value=False))
            .select(_ROW)
            .sort(_ROW)
            .head(5)
            .collect()
            .rows()
        ]
        raise InputTableError(
            f"teams: valid_to must be after valid_from (spells are [valid_from, valid_to)); "
            f"rows {pos} (positions) end at or before they start. Leave valid_to empty "
            "for a team that still owns the touchpoint.",
            table="teams",
            failure_cases=_cases([("valid_to", "valid_to_after_valid_from", None, p) for p in pos]),
        )
    clashes = _teams_clash(indexed, ["valid_from", _ROW]).filter(nw.col("__hx_clash"))
    rows = nw.concat(
        [
            clashes.select(nw.col(_ROW).alias("p")),
            clashes.select(nw.col("__hx_prev").alias("p")),
        ]
    )
    pos = [int(r[0]) for r in rows.unique().sort("p").head(6).collect().rows()]
    where = [
        str(r[0])
        for r in clashes.select("touchpoint").unique().sort("touchpoint").head(3).collect().rows()
    ]
    raise InputTableError(
        f"teams: {int(n_clash)} spell(s) own a touchpoint while another spell "
        f"owns it (touchpoint(s) {where}; rows {pos}, positions; columns touchpoint, "
        "valid_from, valid_to). One touchpoint has one owner at a time: end the "
        "earlier spell (valid_to) at or before the next one's valid_from.",
        table="teams",
        failure_cases=_cases([("valid_from", "overlapping_ownership", None, p) for p in pos]),
    )


def _teams_clash(frame: nw.LazyFrame, order: list[str]) -> nw.LazyFrame:
    """``frame`` with ``__hx_clash`` (the spell starts before an earlier one of its
    touchpoint ends) and, when ``order`` has the position, ``__hx_prev`` (the position of
    the spell just before). Ties in ``valid_from`` change which rows are named, never
    how many clash: positions break them on the error path, as the pandas path's
    stable sort does."""
    start, stop = nw.col("valid_from"), nw.col("valid_to")
    frame = frame.with_columns(
        # An open spell's end is later than any start: a flag, and its start as a stand-in.
        stop.is_null().cast(nw.Int64).alias("__hx_open"),
        nw.when(stop.is_null()).then(start).otherwise(stop).alias("__hx_end"),
    )
    frame = frame.with_columns(
        nw.col("__hx_open").cum_max().over("touchpoint", order_by=order).alias("__hx_ro"),
        nw.col("__hx_end").cum_max().over("touchpoint", order_by=order).alias("__hx_re"),
    )
    shifted = [
        nw.col("__hx_ro").shift(1).over("touchpoint", order_by=order).alias("__hx_po"),
        nw.col("__hx_re").shift(1).over("touchpoint", order_by=order).alias("__hx_pe"),
    ]
    if _ROW in order:
        shifted.append(nw.col(_ROW).shift(1).over("touchpoint", order_by=order).alias("__hx_prev"))
    frame = frame.with_columns(shifted)
    clash = _present(nw.col("__hx_pe")) & ((nw.col("__hx_po") == 1) | (start < nw.col("__hx_pe")))
    return frame.with_columns(clash.fill_null(value=False).alias("__hx_clash"))


def _with_position(native: Any, engine: str) -> Any:
    """``native`` with ``__hx_row``, the 0-based position of each row as read (error path
    only: these are engine-specific, narwhals numbers rows of lazy frames only by an order)."""
    if engine == "polars":
        return native.with_row_index(_ROW)
    if engine == "duckdb":
        # DuckDB keeps insertion order (preserve_insertion_order, on by default), and an
        # empty window numbers the rows in that order.
        return native.project(f'*, row_number() OVER () - 1 AS "{_ROW}"')
    return _spark_with_position(native)


def _spark_with_position(native: Any) -> Any:
    """Spark rows numbered in read order, in the JVM (no Python workers).

    ``monotonically_increasing_id`` holds the partition in its upper bits and the row's
    place in the partition in its lower 33; adding the rows of the partitions before
    (one small aggregate: a count per partition) gives the position. Partitions of a
    file follow the file's order.
    """
    from pyspark.sql import functions as F

    pid, mid = "__hx_pid", "__hx_mid"
    tagged = native.withColumn(pid, F.spark_partition_id()).withColumn(
        mid, F.monotonically_increasing_id()
    )
    sizes = sorted(tuple(r) for r in tagged.groupBy(pid).count().collect())
    offsets, total = [], 0
    for partition, count in sizes:
        offsets.append((int(partition), total))
        total += int(count)
    if not offsets:
        return tagged.withColumn(_ROW, F.lit(0).cast("long")).drop(pid, mid)
    start = native.sparkSession.createDataFrame(offsets, f"{pid} int, __hx_start long")
    row = F.col(mid) - F.shiftleft(F.col(pid).cast("long"), 33) + F.col("__hx_start")
    return (
        tagged.join(F.broadcast(start), on=pid, how="left")
        .withColumn(_ROW, row)
        .drop(pid, mid, "__hx_start")
    )


def _present(expr: nw.Expr) -> nw.Expr:
    return ~expr.is_null()
