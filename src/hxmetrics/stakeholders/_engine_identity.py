"""Exact-key identity resolution on the engine that holds the rosters.

The pandas path (:func:`~hxmetrics.stakeholders.resolve_identities`, ``method="exact"``)
computes the connected components of the bipartite graph record -- key value with
scipy in one process. Here the same graph stays on the rosters' engine (pandas,
Polars lazy, DuckDB, Spark) and its components are found by *min-label propagation*
with joins: every record starts with its own label (its 64-bit record hash, moved to
a signed integer that sorts like the unsigned hash); each step gives every key value
the smallest label of its records, then every record the smallest label of its key
values; the step is repeated until no label changes (counted with one aggregate per
step). A component ends labelled with the smallest record hash among its members,
which is exactly the member that names the person in the pandas path, so the person
id is the keyed hash (HMAC-SHA256) of that record. A chain of ``k`` records linked one
to the next needs up to ``k`` steps.

The conflict rules are those of the pandas exact path, applied with joins and group
aggregates: a key value shared by records with contradicting birth years is not used;
a component that still contradicts itself first loses the links of its records
without a birth year (an ambiguous bridge), else its most shared key value (ties: the
first key column, then the smallest value), and is linked again; after ten rounds the
still suspicious components are split into their records. Only the components touched
by a round are linked again. Same partition, same ``matched_on``, same person ids and
the same conflict report as the pandas path.

What comes back to Python: one integer per propagation step and per round (the
number of labels that changed, of suspicious components), the two uniqueness checks
of the hashes, and the conflict report (one row per record in a conflict). No roster
is collected; the crosswalk and the episodes are native lazy frames of the engine.

Engine-specific pieces (everything else is narwhals):

* materialising the labels after each step (an iterative algorithm whose plan would
  otherwise grow with every step): Polars ``collect().lazy()``, DuckDB a temporary
  table on the relation's connection (``CREATE TEMP TABLE`` through
  :meth:`duckdb.DuckDBPyRelation.query`: a relation does not expose its connection),
  Spark ``localCheckpoint`` (kept on the executors, lineage cut);
* the record hash (pandas' SipHash-2-4 and the SplitMix64 finaliser, as
  :func:`~hxmetrics.stakeholders._rosters._record_hash`) and the person id (HMAC-SHA256,
  as :func:`~hxmetrics.stakeholders._person_ids._person_ids`): neither is an SQL
  builtin, so each is a vectorised function over batches of ids, run where the data
  are: pandas directly, Polars ``map_batches``, DuckDB :meth:`~duckdb.DuckDBPyRelation.map`
  (chunks of 2,048 rows streamed through the function; a relation does not expose its
  connection, so ``create_function`` cannot be reached from it), Spark ``pandas_udf``
  (on the executors);
* stripping whitespace on DuckDB: RE2 anchored at both ends, several times faster
  than ``trim`` with a set of characters;
* the regular expression of "not a digit" in phone numbers: Python's ``\\D`` (pandas,
  Polars) is Unicode-aware; DuckDB's RE2 and Spark's Java ``\\D`` are ASCII-only, so
  those two get ``[^\\p{Nd}]`` (the same Unicode decimal digits).
"""

from __future__ import annotations

import hmac
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import HxError, InputTableError, ParameterError, did_you_mean
from hxmetrics.stakeholders._person_ids import (
    _PERSON_ID_CONTEXT,
    _format_ids,
    _hmac_sha256_prefixes,
    _utf8,
)
from hxmetrics.stakeholders._rosters import _record_hash
from hxmetrics.stakeholders.episodes import EPISODE_COLUMNS
from hxmetrics.stakeholders.keys import (
    DEFAULT_KEYS,
    PSEUDONYM_PREFIX,
    _key_kind,
    _process_secret,
    check_keys,
    secret_key,
)
from hxmetrics.stakeholders.resolution import _MAX_ROUNDS, CONFLICT_KINDS
from hxmetrics.tables import ENGAGEMENTS, ID_COLUMN, ROLE_OF_SILO, SILOS

__all__ = ["ENGINES", "EngineResolution", "resolve_exact_lazy"]

#: Engines the exact path runs on, by narwhals implementation name.
ENGINES = ("pandas", "polars", "duckdb", "spark")

_KIND_CODE = {kind: i for i, kind in enumerate(CONFLICT_KINDS)}
# The characters Python's str.strip() (and so pandas' .str.strip()) removes: the SQL
# backends of narwhals strip only ASCII whitespace when none are named.
_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
_WHITESPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _WHITESPACE) + "]"
_WHITESPACE_ENDS = f"^{_WHITESPACE_CLASS}+|{_WHITESPACE_CLASS}+$"
# A uint64 record hash XOR the sign bit, read as int64, sorts like the unsigned hash:
# engines without unsigned integers (Spark) take the same minimum.
_SIGN = np.uint64(1 << 63)


@dataclass(frozen=True)
class EngineResolution:
    """Exact-key identity resolution computed on an engine.

    Attributes
    ----------
    crosswalk : native lazy frame
        ``silo``, ``source_id``, ``person_id``, ``matched_on``: one row per record, the
        same rows and values as the crosswalk of
        ``resolve_identities(..., method="exact")`` (row order is the engine's: sort
        by ``silo``, ``source_id`` to compare).
    conflicts : pandas.DataFrame
        The conflict report, equal to the pandas path's (same rows, order and dtypes).
    episodes : native lazy frame
        Merged role episodes (:data:`~hxmetrics.stakeholders.episodes.EPISODE_COLUMNS`),
        the values of ``StakeholderRegistry.episodes`` (row order is the engine's).
    keys : tuple of str
        The key columns used.
    notes : tuple of str
        What a reader must know (e.g. that no key linked any record).
    engine : str
        ``pandas``, ``polars``, ``duckdb`` or ``spark``.
    steps : tuple of int
        Propagation steps of each round (the first round links every record; later
        rounds only the components a conflict rule cut). The last step of a round is
        the one in which no label changed.
    """

    crosswalk: Any
    conflicts: pd.DataFrame
    episodes: Any
    keys: tuple[str, ...]
    notes: tuple[str, ...] = ()
    engine: str = "pandas"
    steps: tuple[int, ...] = field(default=())
    #: Roster records (rows of the crosswalk) and persons, counted during the
    #: resolution (its uniqueness checks): a caller's log line needs no other pass.
    n_records: int | None = None
    n_persons: int | None = None
    #: Polars: the scratch folder of the Parquet files the lazy frames above read
    #: (removed when the resolution is garbage collected: keep the resolution while
    #: its frames are read).
    scratch: Any = field(default=None, repr=False, compare=False)


def resolve_exact_lazy(
    rosters: Mapping[str, Any],
    *,
    keys: str | Sequence[str] | None = None,
    secret: str | bytes | None = None,
    birth_year: str | None = "birth_year",
    birth_year_tolerance: int = 0,
    max_component_size: int = 50,
    key_kinds: Mapping[str, str] | None = None,
    min_phone_digits: int = 7,
) -> EngineResolution:
    """Link roster records into persons by shared keys, on the rosters' engine.

    The same partition, person ids, ``matched_on`` and conflict report as
    :func:`~hxmetrics.stakeholders.resolve_identities` with ``method="exact"``, with
    every roster table left on its engine (see the module docstring for how).

    Parameters
    ----------
    rosters : mapping of str to native frame
        Roster per silo (``customers``, ``workers``, ``partners``), already validated
        and coerced (``hxmetrics.tables.validate_lazy`` or ``validate``), all on one
        engine: pandas DataFrames, Polars LazyFrames (or DataFrames), DuckDB
        relations or Spark DataFrames.
    keys, secret, birth_year, birth_year_tolerance, max_component_size, key_kinds, min_phone_digits
        As in :func:`~hxmetrics.stakeholders.resolve_identities`.

    Returns
    -------
    EngineResolution
        ``crosswalk`` and ``episodes`` as native lazy frames of the engine,
        ``conflicts`` as a small pandas DataFrame.

    Raises
    ------
    ParameterError
        For a bad argument, rosters on several or unsupported engines, or a key column
        of a type that is neither text nor integer.
    InputTableError
        For a key column in none of the rosters, or a roster without its id column.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import new_secret
    >>> from hxmetrics.stakeholders._engine_identity import resolve_exact_lazy
    >>> day = pd.to_datetime
    >>> customers = pd.DataFrame({"customer_id": ["c1", "c2"], "email": ["Ann@x.org", "bo@y"],
    ...     "start": day(["2020-01-01", "2021-01-01"]), "end": day([None, None]),
    ...     "engagement": ["consumer", "consumer"]})
    >>> workers = pd.DataFrame({"worker_id": ["w1"], "email": ["ann@x.org "],
    ...     "start": day(["2019-01-01"]), "end": day([None]), "engagement": ["full_time"]})
    >>> out = resolve_exact_lazy({"customers": customers, "workers": workers},
    ...                          secret=new_secret())
    >>> out.crosswalk.sort_values(["silo", "source_id"])[["silo", "source_id", "matched_on"]]
            silo source_id matched_on
    0  customers        c1      email
    1  customers        c2       none
    2    workers        w1      email
    >>> out.crosswalk["person_id"].nunique(), len(out.conflicts), out.steps
    (2, 0, (2,))
    """
    if max_component_size < 2:
        raise ParameterError(f"max_component_size must be at least 2; got {max_component_size}.")
    if birth_year_tolerance < 0:
        raise ParameterError(f"birth_year_tolerance must be >= 0; got {birth_year_tolerance}.")
    key = _process_secret() if secret is None else secret_key(secret, name="secret")
    frames, engine = _frames(rosters)
    columns = {silo: list(lf.collect_schema().names()) for silo, lf in frames.items()}
    id_columns = {silo: _id_column(columns[silo], silo) for silo in frames}
    _refuse_missing_ids(frames, id_columns)
    checked = check_keys(keys)
    notes: list[str] = []
    have = sorted({c for cols in columns.values() for c in cols})
    if checked is None:
        checked = tuple(k for k in DEFAULT_KEYS if k in have)
        if not checked:
            hints = "".join(did_you_mean(k, have) for k in DEFAULT_KEYS)
            notes.append(
                f"no key column ({', '.join(DEFAULT_KEYS)}) in the rosters: no record is "
                "linked to another, one person per record (silo, source_id). Name the key "
                f"columns with keys=[...] to link records across silos.{hints}"
            )
    elif not checked:
        notes.append(
            "keys=[] (no key): no record is linked to another, one person per record "
            "(silo, source_id)."
        )
    _check_key_columns(checked, frames, columns, have)
    kinds = {k: _key_kind(k, key_kinds) for k in checked}
    run = _Run(engine, checked, float(birth_year_tolerance), max_component_size)
    kept: list[nw.LazyFrame[Any]] = []
    try:
        rows = _silo_rows(
            frames, id_columns, columns, birth_year, checked, kinds, min_phone_digits, engine
        )
        held = run.resolve(rows, key)
        kept.append(held)
        crosswalk = held.select("silo", "source_id", "person_id", "matched_on")
        if engine.name == "duckdb":
            # DuckDB inlines a relation at every read: the episodes (read by attribution
            # several times) are computed once.
            episodes = run.hold(_episodes(frames, id_columns, columns, crosswalk))
            kept.append(episodes)
        else:
            episodes = _episodes(frames, id_columns, columns, crosswalk)
    finally:
        # The crosswalk's table stays (the lazy results read it), and on DuckDB the
        # episodes' table; nothing else does.
        run.release(keep=kept)
    return EngineResolution(
        crosswalk=crosswalk.to_native(),
        conflicts=run.conflicts.table(checked),
        episodes=episodes.to_native(),
        keys=checked,
        notes=tuple(notes),
        engine=engine.name,
        steps=tuple(run.steps),
        n_records=run.n_records,
        n_persons=run.n_persons,
        scratch=engine.scratch,
    )


# ---------------------------------------------------------------------------- intake


def _frames(rosters: Mapping[str, Any]) -> tuple[dict[str, nw.LazyFrame[Any]], _Engine]:
    """The rosters as narwhals lazy frames in the canonical silo order, and their engine."""
    if not isinstance(rosters, Mapping):
        raise ParameterError(
            "rosters must be a mapping from silo name to roster frame, e.g. "
            f"{{'customers': customers, 'workers': workers}}; got {type(rosters).__name__}."
        )
    if not rosters:
        raise ParameterError("rosters is empty: pass at least one roster, e.g. {'workers': df}.")
    for silo in rosters:
        if silo not in SILOS:
            raise ParameterError(
                f"unknown silo {silo!r}; rosters are keyed by {', '.join(map(repr, SILOS))}."
                + did_you_mean(str(silo), SILOS)
            )
    frames: dict[str, nw.LazyFrame[Any]] = {}
    names: dict[str, str] = {}
    for silo in sorted(rosters):
        try:
            frame = nw.from_native(rosters[silo], allow_series=False)
        except TypeError:
            frame = None
        if not isinstance(frame, nw.DataFrame | nw.LazyFrame):
            raise ParameterError(
                f"roster {silo!r} must be a pandas DataFrame, a Polars LazyFrame, a DuckDB "
                f"relation or a Spark DataFrame; got {type(rosters[silo]).__name__}."
            )
        impl = frame.implementation
        name = {
            nw.Implementation.PANDAS: "pandas",
            nw.Implementation.POLARS: "polars",
            nw.Implementation.DUCKDB: "duckdb",
            nw.Implementation.PYSPARK: "spark",
        }.get(impl)
        if name is None:
            raise ParameterError(
                f"roster {silo!r} is a {impl} frame; the engine path runs on "
                f"{', '.join(ENGINES)} (convert it, or use resolve_identities on pandas)."
            )
        names[silo] = name
        frames[silo] = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    engines = sorted(set(names.values()))
    if len(engines) > 1:
        raise ParameterError(
            f"the rosters are on several engines ({', '.join(engines)}): pass them all on one."
        )
    return frames, _Engine(engines[0], next(iter(frames.values())))


def _id_column(columns: list[str], silo: str) -> str:
    column = ID_COLUMN[silo]
    if column in columns:
        return column
    if "source_id" in columns:
        return "source_id"
    from hxmetrics.errors import check_columns

    check_columns(columns, [column], table=silo)
    return column  # pragma: no cover - check_columns raised


def _check_key_columns(
    keys: tuple[str, ...],
    frames: Mapping[str, nw.LazyFrame[Any]],
    columns: Mapping[str, list[str]],
    have: list[str],
) -> None:
    """The pandas path's errors: a key in no roster; a key column that is not text."""
    absent = [k for k in keys if k not in have]
    if absent:
        hints = "".join(did_you_mean(k, have) for k in absent)
        raise InputTableError(
            f"key column(s) {absent} are in none of the rosters "
            f"({', '.join(frames)}); available: {have}.{hints}",
            table=next(iter(frames)),
            failure_cases=pd.DataFrame(
                {
                    "column": absent,
                    "check": "column_in_dataframe",
                    "failure_case": absent,
                    "index": [None] * len(absent),
                }
            ),
        )
    for silo, lf in frames.items():
        schema = lf.collect_schema()
        for k in keys:
            if k in columns[silo]:
                dtype = schema[k]
                if not (dtype == nw.String or dtype.is_integer()):
                    # The pandas path turns whole floats into integers first; on an
                    # engine that needs a pass over the column: cast it where it is read.
                    raise ParameterError(
                        f"roster {silo!r}, key column {k!r} is {dtype}; the engine path "
                        "takes text or integer keys. Cast it to text first."
                    )


def _normalised(
    lf: nw.LazyFrame[Any],
    column: str,
    out: str,
    *,
    kind: str,
    min_phone_digits: int,
    engine: _Engine,
) -> nw.LazyFrame[Any]:
    """``lf`` with ``out = keys.normalise_key(column)`` (the same values, tested).

    One stage per intermediate column: written as one expression, the SQL engines got
    the stripped text and the digits spelled out again at every use (DuckDB evaluated
    the regular expression a dozen times per phone: 70 s for a million records).
    """
    text, digits, value = f"{out}__text", f"{out}__digits", f"{out}__value"
    raw = nw.col(column).cast(nw.String)
    if engine.name == "duckdb":
        # DuckDB's trim() with a set of characters is ~7x slower than RE2 anchored at
        # both ends (1.8 s against 0.4 s for 600,000 emails); the same characters.
        stripped = raw.str.replace_all(_WHITESPACE_ENDS, "")
    else:
        stripped = raw.str.strip_chars(_WHITESPACE)
    lf = lf.with_columns(stripped.alias(text))
    hashed = nw.col(text).str.starts_with(PSEUDONYM_PREFIX).fill_null(value=False)
    if kind == "phone":
        lf = lf.with_columns(nw.col(text).str.replace_all(engine.non_digits, "").alias(digits))
        lf = lf.with_columns(nw.col(digits).str.tail(10).alias(digits))
        short = nw.col(digits).str.len_chars() < min_phone_digits
        own: nw.Expr = nw.when(~short).then(nw.col(digits))
    else:
        own = nw.col(text).str.to_lowercase()
    lf = lf.with_columns(nw.when(hashed).then(nw.col(text)).otherwise(own).alias(value))
    lf = lf.with_columns(nw.when(nw.col(value).str.len_chars() > 0).then(nw.col(value)).alias(out))
    return lf.drop(*(c for c in (text, digits, value) if c in lf.collect_schema().names()))


def _silo_rows(
    frames: Mapping[str, Any],
    id_columns: Mapping[str, str],
    columns: Mapping[str, Any],
    birth_year: str | None,
    keys: tuple[str, ...],
    kinds: Mapping[str, str],
    min_phone_digits: int,
    engine: Any,
) -> dict[str, nw.LazyFrame[Any]]:
    """:func:`_rows` of every silo (the birth year where the silo has that column)."""
    return {
        silo: _rows(
            lf,
            silo=silo,
            id_column=id_columns[silo],
            birth_year=birth_year if birth_year in columns[silo] else None,
            keys=keys,
            present=columns[silo],
            kinds=kinds,
            min_phone_digits=min_phone_digits,
            engine=engine,
        )
        for silo, lf in frames.items()
    }


def _rows(
    lf: nw.LazyFrame[Any],
    *,
    silo: str,
    id_column: str,
    birth_year: str | None,
    keys: tuple[str, ...],
    present: list[str],
    kinds: Mapping[str, str],
    min_phone_digits: int,
    engine: _Engine,
) -> nw.LazyFrame[Any]:
    """One row per roster row: ``source_id``, ``by`` and the normalised keys ``k0..``."""
    exprs = [
        nw.col(id_column).cast(nw.String).alias("source_id"),
        # Float64: a roster without birth years gets a null column on every engine
        # (narwhals cannot make an Int64 null literal on pandas); years are exact.
        (
            nw.col(birth_year).cast(nw.Float64)
            if birth_year is not None
            else nw.lit(None, dtype=nw.Float64)
        ).alias("by"),
    ]
    for i, k in enumerate(keys):
        if k in present:
            lf = _normalised(
                lf, k, f"k{i}", kind=kinds[k], min_phone_digits=min_phone_digits, engine=engine
            )
            exprs.append(nw.col(f"k{i}"))
        else:
            exprs.append(nw.lit(None, dtype=nw.String).alias(f"k{i}"))
    return lf.select(exprs)


# ----------------------------------------------------------------------------- engine


class _Scratch:
    """A private temporary folder, removed with everything in it when this object is
    garbage collected (or at exit): keep it while frames reading its files are used."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="hxmetrics-identity-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)


class _Engine:
    """The few operations narwhals has no lazy spelling for, per engine."""

    def __init__(self, name: str, frame: nw.LazyFrame[Any]) -> None:
        self.name = name
        self.non_digits = r"[^\p{Nd}]+" if name in ("duckdb", "spark") else r"\D+"
        self._prefix = f"hx_identity_{uuid.uuid4().hex[:12]}_"
        self._count = 0
        # DuckDB: an input relation, through which SQL reaches the rosters' connection.
        self._anchor: Any = frame.to_native() if name == "duckdb" else None
        self._tables: dict[int, str] = {}  # id of a materialised DuckDB frame -> its table
        # Polars: intermediate tables go to Parquet here (streamed, never held whole).
        self.scratch: _Scratch | None = None

    def materialise(self, lf: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        """Compute ``lf`` once and return a lazy frame over the result."""
        native = lf.to_native()
        if self.name == "polars":
            # Streamed to Parquet and scanned back (as jobs keep tables): the next
            # step's plan starts from the file, and no table is held whole in memory.
            import polars as pl

            if self.scratch is None:
                self.scratch = _Scratch()
            self._count += 1
            path = self.scratch.path / f"t{self._count}.parquet"
            native.sink_parquet(path)
            return nw.from_native(pl.scan_parquet(path))
        if self.name == "duckdb":
            self._count += 1
            name = f"{self._prefix}{self._count}"
            native.query("hx_src", f'CREATE TEMP TABLE "{name}" AS SELECT * FROM hx_src')
            return self._read(name)
        if self.name == "spark":
            return nw.from_native(native.localCheckpoint(eager=True))
        return lf  # pandas: every step already ran

    def _read(self, name: str) -> nw.LazyFrame[Any]:
        # Read through the anchor (an input roster), not through the frame written: the
        # view of a query keeps its source's SQL, which may name a table dropped later.
        out = nw.from_native(self._anchor.query("hx_src", f'SELECT * FROM "{name}"'))
        self._tables[id(out)] = name
        return out

    def table_of(self, lf: nw.LazyFrame[Any]) -> str:
        """The temporary table behind a materialised DuckDB frame."""
        return self._tables[id(lf)]

    def create(self, sql: str) -> nw.LazyFrame[Any]:
        """A temporary table made by one SQL query (DuckDB only), as a lazy frame."""
        self._count += 1
        name = f"{self._prefix}{self._count}"
        self._anchor.query("hx_src", f'CREATE TEMP TABLE "{name}" AS {sql}')
        return self._read(name)

    def fetch(self, sql: str) -> Any:
        """The one value of a one-row, one-column SQL query (DuckDB only)."""
        return self._anchor.query("hx_src", sql).fetchall()[0][0]

    def release(self, lf: nw.LazyFrame[Any] | None) -> None:
        """Free a materialised frame that nothing refers to any more."""
        if lf is None:
            return
        if self.name == "duckdb":
            name = self._tables.pop(id(lf), None)
            if name is not None:
                self._anchor.query("hx_src", f'DROP TABLE IF EXISTS "{name}"')
        elif self.name == "spark":
            free_checkpoint(lf.to_native())

    def map_text(
        self,
        lf: nw.LazyFrame[Any],
        column: str,
        out: str,
        function: Callable[[np.ndarray], Any],
        dtype: str,
    ) -> nw.LazyFrame[Any]:
        """Add ``out = function(values of column)`` (a text column), batch by batch.

        ``function`` takes a numpy object array of str and returns an int64 array
        (``dtype="int64"``) or a sequence of str (``dtype="str"``).
        """
        native = lf.to_native()
        if self.name == "pandas":
            values = function(native[column].to_numpy(dtype=object))
            result = pd.Series(np.asarray(values), index=native.index)
            if dtype == "str":
                result = result.astype("str")
            return nw.from_native(native.assign(**{out: result})).lazy()
        if self.name == "polars":
            import polars as pl

            pl_type = pl.Int64 if dtype == "int64" else pl.String

            def batch(s: pl.Series) -> pl.Series:
                return pl.Series(out, np.asarray(function(s.to_numpy())), dtype=pl_type)

            expr = pl.col(column).map_batches(batch, return_dtype=pl_type, is_elementwise=True)
            return nw.from_native(native.with_columns(expr.alias(out)))
        if self.name == "duckdb":
            import duckdb

            schema = {c: t for c, t in zip(native.columns, native.types, strict=True) if c != out}
            schema[out] = duckdb.sqltype("BIGINT" if dtype == "int64" else "VARCHAR")

            def chunk(df: pd.DataFrame) -> pd.DataFrame:
                values = function(df[column].to_numpy(dtype=object))
                return df.assign(**{out: np.asarray(values)})

            return nw.from_native(native.map(chunk, schema=schema))
        # Spark: a pandas UDF, run on the executors over Arrow batches.
        from pyspark.sql import functions as F

        def udf(s: pd.Series) -> pd.Series:
            return pd.Series(np.asarray(function(s.to_numpy(dtype=object))))

        spark_udf = F.pandas_udf(udf, "long" if dtype == "int64" else "string")  # type: ignore[call-overload]  # pyspark's overloads want a literal function type
        return nw.from_native(native.withColumn(out, spark_udf(F.col(column))))

    def hmac_pads(self, secret: bytes) -> nw.LazyFrame[Any]:
        """DuckDB: a one-row frame of HMAC-SHA256's two padded key blocks (BLOB) of the
        person-id key, for :meth:`person_ids_sql`.

        Made by a Python function over a one-row relation, so that no key material is
        ever in the text of a query (DuckDB quotes a query in its error messages).
        """
        import duckdb

        block = hmac.digest(secret, _PERSON_ID_CONTEXT, "sha256").ljust(64, b"\0")
        pads = pd.DataFrame(
            {"ipad": [bytes(b ^ 0x36 for b in block)], "opad": [bytes(b ^ 0x5C for b in block)]}
        )
        blob = duckdb.sqltype("BLOB")
        one = self._anchor.query("hx_src", "SELECT 1 AS one")
        return nw.from_native(one.map(lambda _: pads, schema={"ipad": blob, "opad": blob}))

    def person_ids_sql(
        self, lf: nw.LazyFrame[Any], column: str, out: str, pads: nw.LazyFrame[Any]
    ) -> nw.LazyFrame[Any]:
        """DuckDB: ``out`` = the person id of the message ``column``, in SQL.

        ``"P"`` + the first 16 hex digits of HMAC-SHA256 (RFC 2104: the SHA-256 of the
        outer pad and the SHA-256 of the inner pad and the message's UTF-8 bytes), the
        bytes of :func:`~hxmetrics.stakeholders._person_ids._person_ids` (tested). DuckDB's
        ``sha256`` runs on every thread; the Python function over batches
        (:meth:`map_text`) took ~1.7 of 4 CPU seconds of the crosswalk at 1M records.
        """
        table = self.table_of(pads)
        sql = (
            f"SELECT l.*, 'P' || left(sha256(k.opad || unhex(sha256(k.ipad || "
            f'encode(l."{column}")))), 16) AS "{out}" FROM hx_src AS l CROSS JOIN "{table}" AS k'
        )
        return nw.from_native(lf.to_native().query("hx_src", sql))


def free_checkpoint(frame: Any) -> None:
    """Drop the blocks of a Spark frame made by ``localCheckpoint`` now (this module's
    steps and the jobs' kept tables).

    ``DataFrame.unpersist`` does not: the blocks belong to the RDD under the frame's
    plan (a ``LogicalRDD``), not to Spark's cache, and would stay until the JVM's
    garbage collector reaches that RDD (in a long-lived session, up to
    ``spark.cleaner.periodicGC.interval``, 30 minutes by default).
    """
    plan = frame._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:  # pragma: no cover - localCheckpoint's plan is a LogicalRDD (Spark 3 and 4)
        frame.unpersist()


def _refuse_missing_ids(
    frames: Mapping[str, nw.LazyFrame[Any]], id_columns: Mapping[str, str]
) -> None:
    """A roster with a missing id gets the error of the pandas path (its validation).

    The rosters should come validated; one that is not must not give a record without an
    id (DuckDB's SQL person ids would be missing too). One count per roster; on the
    error path the roster is validated on its engine, which names the column, the
    check and the rows exactly as :func:`hxmetrics.tables.validate` does.
    """
    from hxmetrics.tables import validate_lazy

    for silo, lf in frames.items():
        # As integers: Spark sums no booleans.
        (missing,) = _scalars(lf, nw.col(id_columns[silo]).is_null().cast(nw.Int64).sum())
        if missing:
            validate_lazy(lf.to_native(), table=silo)
            raise InputTableError(  # pragma: no cover - validation names them first
                f"{silo}: {int(missing)} rows without {id_columns[silo]!r} (not_nullable).",
                table=silo,
                failure_cases=pd.DataFrame(
                    {
                        "column": [id_columns[silo]],
                        "check": "not_nullable",
                        "failure_case": [None],
                        "index": None,
                    }
                ),
            )


def _scalars(lf: nw.LazyFrame[Any], *exprs: nw.Expr) -> tuple[Any, ...]:
    """One row of aggregates, back in Python."""
    row = lf.select(*exprs).collect().rows()[0]
    return tuple(row)


def _to_pandas(lf: nw.LazyFrame[Any]) -> pd.DataFrame:
    """A small derived table (a conflict report part) as pandas."""
    # Through Arrow: Spark's own toPandas warns under pandas 3 (a deprecated keyword).
    out: pd.DataFrame = lf.collect(backend="pyarrow").to_native().to_pandas()
    return out


def _record_hashes(silo: str) -> Callable[[np.ndarray], np.ndarray]:
    def function(ids: np.ndarray) -> np.ndarray:
        h = _record_hash(silo, pd.Series(ids, dtype=object))
        out: np.ndarray = (h ^ _SIGN).view(np.int64)
        return out

    return function


def _person_id_function(secret: bytes) -> Callable[[np.ndarray], np.ndarray]:
    key_bytes = hmac.digest(secret, _PERSON_ID_CONTEXT, "sha256")

    def function(messages: np.ndarray) -> np.ndarray:
        digest = _hmac_sha256_prefixes(key_bytes, _utf8(pd.Series(messages, dtype="str")))
        ids = np.frombuffer(digest, dtype=">u8").astype(np.uint64)
        return np.asarray(_format_ids(ids), dtype=object)

    return function


# ------------------------------------------------------------------------ resolution


class _Run:
    """One resolution: the engine's materialised tables, the conflicts, the step counts."""

    def __init__(self, engine: _Engine, keys: tuple[str, ...], tol: float, max_size: int) -> None:
        self.engine = engine
        self.keys = keys
        self.tol = tol
        self.max_size = max_size
        self.steps: list[int] = []
        self.n_records: int | None = None
        self.n_persons: int | None = None
        self.conflicts = _Conflicts()
        self._held: list[nw.LazyFrame[Any]] = []
        # Materialised tables of the run: records, edges of linking key values, the
        # edges still used.
        self.rec: nw.LazyFrame[Any]
        self.linking: nw.LazyFrame[Any]
        self.active: nw.LazyFrame[Any]

    def hold(self, lf: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        out = self.engine.materialise(lf)
        self._held.append(out)
        return out

    def drop(self, lf: nw.LazyFrame[Any] | None) -> None:
        if lf is not None and any(lf is h for h in self._held):
            self._held = [h for h in self._held if h is not lf]
            self.engine.release(lf)

    def release(self, keep: Iterable[nw.LazyFrame[Any]] = ()) -> None:
        kept = list(keep)
        for lf in self._held:
            if not any(lf is k for k in kept):
                self.engine.release(lf)
        self._held = kept

    # ------------------------------------------------------------------ the graph

    def resolve(self, rows: Mapping[str, nw.LazyFrame[Any]], secret: bytes) -> nw.LazyFrame[Any]:
        eng, tol = self.engine, self.tol
        if eng.name == "duckdb":
            # The normalised keys are read twice (records, edges): computed once. DuckDB
            # inlines a relation at every read (each read re-ran the regular expressions).
            rows = {silo: self.hold(lf) for silo, lf in rows.items()}
        # Records: (silo, source_id), their hash and birth years (a record whose own
        # rows disagree has none: record_birth_year_mismatch).
        parts = []
        for silo, lf in rows.items():
            rec_s = lf.group_by("source_id").agg(
                nw.col("by").min().alias("lo"), nw.col("by").max().alias("hi")
            )
            rec_s = eng.map_text(rec_s, "source_id", "h", _record_hashes(silo), "int64")
            parts.append(rec_s.with_columns(nw.lit(silo, dtype=nw.String).alias("silo")))
        rec = nw.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        inconsistent = ((nw.col("hi") - nw.col("lo")) > tol).fill_null(value=False)
        rec = self.hold(
            rec.with_columns(inconsistent.alias("inc")).select(
                "silo",
                "source_id",
                "h",
                nw.when(~nw.col("inc")).then(nw.col("lo")).alias("lo"),
                nw.when(~nw.col("inc")).then(nw.col("hi")).alias("hi"),
                "inc",
            )
        )
        n_rec, n_hash = _scalars(rec, nw.len(), nw.col("h").n_unique())
        self.n_records = int(n_rec)
        if n_rec != n_hash:  # pragma: no cover - probability about n^2 / 2^65
            raise HxError("two silo records share a 64-bit id hash; please report this (ids only).")
        self.rec = rec
        self.conflicts.add(
            rec.filter(nw.col("inc")).select(
                nw.lit(_KIND_CODE["record_birth_year_mismatch"], dtype=nw.Int64).alias("k"),
                nw.lit(-1, dtype=nw.Int64).alias("key_i"),
                nw.col("h").alias("grp"),
                "silo",
                "source_id",
                "lo",
                "h",
            )
        )
        labels: nw.LazyFrame[Any] | None = None
        active: nw.LazyFrame[Any] | None = None
        if self.keys:
            active = self._edges(rows)
            labels = self._rounds(active)
        return self._crosswalk(labels, secret)

    def _edges(self, rows: Mapping[str, nw.LazyFrame[Any]]) -> nw.LazyFrame[Any]:
        """Edges of the key values that link records; the conflicts of birth years."""
        parts = [
            lf.select(
                nw.lit(silo, dtype=nw.String).alias("silo"),
                "source_id",
                nw.lit(i, dtype=nw.Int64).alias("kind"),
                nw.col(f"k{i}").alias("value"),
            ).filter(~nw.col("value").is_null())
            for silo, lf in rows.items()
            for i in range(len(self.keys))
        ]
        raw = nw.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        edges = self.hold(
            raw.join(
                self.rec.select("silo", "source_id", "h", "lo", "hi"), on=["silo", "source_id"]
            )
            .select("h", "kind", "value", "lo", "hi")
            .unique(["h", "kind", "value"])
        )
        self._linking(edges, self._key_tokens(edges))
        return self.hold(self.linking.filter(~nw.col("mismatch")).select("h", "kind", "value"))

    def _key_tokens(self, edges: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        """Each key value that links two or more records, and whether their birth years
        lie further apart than the tolerance (``mismatch``)."""
        return (
            edges.group_by("kind", "value")
            .agg(
                nw.len().alias("n"),
                nw.col("lo").min().alias("klo"),
                nw.col("hi").max().alias("khi"),
            )
            .filter(nw.col("n") >= 2)
            .with_columns(
                ((nw.col("khi") - nw.col("klo")) > self.tol)
                .fill_null(value=False)
                .alias("mismatch")
            )
            .select("kind", "value", "mismatch")
        )

    def _linking(self, edges: nw.LazyFrame[Any], tokens: nw.LazyFrame[Any]) -> None:
        """``self.linking``: every edge of a key value that links records (conflicts list
        all its records); the birth-year conflicts recorded. ``edges`` is dropped."""
        self.linking = self.hold(
            edges.join(tokens, on=["kind", "value"]).select("h", "kind", "value", "mismatch")
        )
        self.drop(edges)
        self._add_token_conflicts(
            "birth_year_mismatch",
            self.linking.filter(nw.col("mismatch")).select("kind", "value").unique(),
        )

    def _add_token_conflicts(self, kind: str, tokens: nw.LazyFrame[Any]) -> None:
        self.conflicts.add(
            self.linking.join(tokens, on=["kind", "value"])
            .join(self.rec.select("h", "silo", "source_id", "lo"), on="h")
            .select(
                nw.lit(_KIND_CODE[kind], dtype=nw.Int64).alias("k"),
                nw.col("kind").alias("key_i"),
                "value",
                "silo",
                "source_id",
                "lo",
                "h",
            )
        )

    def _propagate(self, active: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        """Labels (``h``, ``lab``) of the records of ``active``: their components' minima."""
        labels = self.hold(active.select("h").unique().with_columns(nw.col("h").alias("lab")))
        steps = 0
        while True:
            steps += 1
            if self.engine.name == "duckdb":
                new, changed = self._duckdb_step(active, labels)
            else:
                per_key = (
                    active.join(labels, on="h")
                    .group_by("kind", "value")
                    .agg(nw.col("lab").min().alias("klab"))
                )
                new = self.hold(
                    active.join(per_key, on=["kind", "value"])
                    .group_by("h")
                    .agg(nw.col("klab").min().alias("lab"))
                    .join(labels.select("h", nw.col("lab").alias("old")), on="h")
                    .select("h", "lab", (nw.col("lab") < nw.col("old")).alias("changed"))
                )
                (changed,) = _scalars(new, nw.col("changed").cast(nw.Int64).sum())
            self.drop(labels)
            labels = new
            if not changed:
                break
        self.steps.append(steps)
        out = self.hold(labels.select("h", "lab"))
        self.drop(labels)
        return out

    def _duckdb_step(
        self, active: nw.LazyFrame[Any], labels: nw.LazyFrame[Any]
    ) -> tuple[nw.LazyFrame[Any], int]:
        """The step above as one SQL statement over the two tables (DuckDB only).

        The same joins and minima; written in SQL because each operation of DuckDB's
        relation API is bound separately: the narwhals spelling cost ~0.3 s per step
        on a 60-record chain, this one a few milliseconds.
        """
        eng = self.engine
        a, lab = eng.table_of(active), eng.table_of(labels)
        new = eng.create(
            f"""WITH per_key AS (
                SELECT a.kind, a.value, min(l.lab) AS klab
                FROM "{a}" a JOIN "{lab}" l ON a.h = l.h GROUP BY a.kind, a.value),
            per_record AS (
                SELECT a.h, min(k.klab) AS lab
                FROM "{a}" a JOIN per_key k ON a.kind = k.kind AND a.value = k.value
                GROUP BY a.h)
            SELECT p.h, p.lab, p.lab < l.lab AS changed
            FROM per_record p JOIN "{lab}" l ON p.h = l.h"""
        )
        self._held.append(new)
        changed = eng.fetch(f'SELECT count(*) FROM "{eng.table_of(new)}" WHERE changed')
        return new, int(changed)

    def _rounds(self, active: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        tol, rec = self.tol, self.rec
        labels = self._propagate(active)
        for round_ in range(_MAX_ROUNDS + 1):
            stats = (
                labels.join(rec.select("h", "lo", "hi"), on="h")
                .group_by("lab")
                .agg(
                    nw.len().alias("size"),
                    nw.col("lo").min().alias("clo"),
                    nw.col("hi").max().alias("chi"),
                )
                .with_columns(
                    ((nw.col("chi") - nw.col("clo")) > tol).fill_null(value=False).alias("bad_by"),
                    (nw.col("size") > self.max_size).alias("bad_size"),
                )
                .filter(nw.col("bad_by") | nw.col("bad_size"))
                .select("lab", "bad_by", "bad_size")
            )
            bad = self.hold(stats)
            (n_bad,) = _scalars(bad, nw.len())
            if not n_bad:
                self.drop(bad)
                break
            bad_records = labels.join(bad.select("lab"), on="lab")
            if round_ == _MAX_ROUNDS:
                # Still suspicious: split into records (their edges are not used).
                self.conflicts.add(
                    bad_records.join(rec.select("h", "silo", "source_id", "lo"), on="h").select(
                        nw.lit(_KIND_CODE["unresolved_component"], dtype=nw.Int64).alias("k"),
                        nw.lit(-1, dtype=nw.Int64).alias("key_i"),
                        nw.col("lab").alias("grp"),
                        "silo",
                        "source_id",
                        "lo",
                        "h",
                    )
                )
                unused = self.hold(active.join(bad_records.select("h"), on="h", how="anti"))
                kept = self.hold(labels.join(bad.select("lab"), on="lab", how="anti"))
                self.drop(active)
                self.drop(labels)
                self.drop(bad)
                active, labels = unused, kept
                break
            edges = (
                active.join(labels, on="h")
                .join(bad, on="lab")
                .join(rec.select("h", nw.col("lo").is_null().alias("unknown")), on="h")
                .with_columns((nw.col("bad_by") & nw.col("unknown")).alias("bridge"))
            )
            edges = self.hold(edges)
            # Records without a birth year that join contradicting birth years are
            # ambiguous bridges: not linked through any key in that component.
            bridges = edges.filter(nw.col("bridge"))
            self._add_token_conflicts(
                "ambiguous_birth_year_bridge", bridges.select("kind", "value").unique()
            )
            with_bridge = bridges.select("lab").unique()
            # Otherwise cut the most shared key (ties: the first key column, then the
            # smallest value), in every suspicious component without a bridge.
            degree = (
                edges.filter(~nw.col("bridge"))
                .join(with_bridge, on="lab", how="anti")
                .group_by("lab", "kind", "value")
                .agg(nw.len().alias("degree"))
            )
            top = degree.join(
                degree.group_by("lab").agg(nw.col("degree").max().alias("top")), on="lab"
            ).filter(nw.col("degree") == nw.col("top"))
            top = top.join(
                top.group_by("lab").agg(nw.col("kind").min().alias("first")), on="lab"
            ).filter(nw.col("kind") == nw.col("first"))
            cut = self.hold(
                top.join(top.group_by("lab").agg(nw.col("value").min().alias("least")), on="lab")
                .filter(nw.col("value") == nw.col("least"))
                .join(bad.select("lab", "bad_size"), on="lab")
                .select("kind", "value", "bad_size")
            )
            self._add_token_conflicts(
                "component_too_large", cut.filter(nw.col("bad_size")).select("kind", "value")
            )
            self._add_token_conflicts(
                "component_birth_year_mismatch",
                cut.filter(~nw.col("bad_size")).select("kind", "value"),
            )
            remaining = self.hold(
                active.join(
                    bridges.select("h", "kind", "value"), on=["h", "kind", "value"], how="anti"
                ).join(cut.select("kind", "value"), on=["kind", "value"], how="anti")
            )
            self.drop(active)
            self.drop(edges)
            self.drop(cut)
            active = remaining
            # Only the suspicious components are linked again; the others are unchanged.
            touched = self.hold(active.join(bad_records.select("h"), on="h", how="semi"))
            again = self._propagate(touched)
            self.drop(touched)
            merged = self.hold(
                nw.concat(
                    [labels.join(bad.select("lab"), on="lab", how="anti"), again],
                    how="vertical",
                )
            )
            self.drop(labels)
            self.drop(again)
            self.drop(bad)
            labels = merged
        self.active = active
        return labels

    # -------------------------------------------------------------- the crosswalk

    def _crosswalk(self, labels: nw.LazyFrame[Any] | None, secret: bytes) -> nw.LazyFrame[Any]:
        rec = self.rec.select("silo", "source_id", "h")
        if labels is None:
            rec = rec.with_columns(nw.col("h").alias("lab"))
        else:
            rec = rec.join(labels, on="h", how="left").with_columns(
                nw.coalesce("lab", "h").alias("lab")
            )
        reps = rec.filter(nw.col("h") == nw.col("lab")).select(
            "lab",
            nw.concat_str([nw.col("silo"), nw.lit("\x1f"), nw.col("source_id")]).alias("msg"),
        )
        if self.engine.name == "duckdb":
            pads = self.hold(self.engine.hmac_pads(secret))
            reps = self.engine.person_ids_sql(reps, "msg", "person_id", pads)
        else:
            reps = self.engine.map_text(
                reps, "msg", "person_id", _person_id_function(secret), "str"
            )
        out = rec.join(reps.select("lab", "person_id"), on="lab")
        if labels is not None:
            # matched_on: the key columns whose value links the record to another record
            # (a link edge joins two records, so such a record's person is never single).
            active = self.active
            linked = active.join(
                active.group_by("kind", "value")
                .agg(nw.len().alias("degree"))
                .filter(nw.col("degree") >= 2),
                on=["kind", "value"],
            )
            flags = [f"f{i}" for i in range(len(self.keys))]
            per_record = (
                linked.with_columns(
                    [(nw.col("kind") == i).cast(nw.Int64).alias(f) for i, f in enumerate(flags)]
                )
                .group_by("h")
                .agg([nw.col(f).max() for f in flags])
            )
            matched = nw.concat_str(
                [
                    nw.when(nw.col(f) == 1).then(nw.lit(k))
                    for f, k in zip(flags, self.keys, strict=True)
                ],
                separator="+",
                ignore_nulls=True,
            )
            out = out.join(
                per_record.select("h", matched.alias("matched_on")), on="h", how="left"
            ).with_columns(nw.col("matched_on").fill_null("none"))
        else:
            out = out.with_columns(nw.lit("none", dtype=nw.String).alias("matched_on"))
        out = self.hold(out.select("silo", "source_id", "person_id", "matched_on", "lab"))
        n_persons, n_ids = _scalars(out, nw.col("lab").n_unique(), nw.col("person_id").n_unique())
        self.n_persons = int(n_ids)
        if n_persons != n_ids:  # pragma: no cover - probability about n^2 / 2^65
            raise HxError("two persons share a 64-bit person id under this secret; use another.")
        self.release(keep=[out])
        return out


class _Conflicts:
    """Conflict rows collected from the engine (small), and the pandas path's report."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, lf: nw.LazyFrame[Any]) -> None:
        part = _to_pandas(lf)
        if len(part):
            # Per part, before any concat: a column of nulls next to 64-bit hashes
            # would make them floats.
            n = len(part)
            if "grp" in part:
                # Record conflicts (a hash names the group), never null: exact int64.
                part["grp"] = pd.array(part["grp"].to_numpy(dtype=np.int64), dtype="Int64")
                part["value"] = pd.Series([None] * n, dtype=object)
            else:
                part["grp"] = pd.array([pd.NA] * n, dtype="Int64")
            part["lo"] = pd.to_numeric(part["lo"].astype(object)).astype("Int64")
            self.parts.append(part)

    def table(self, keys: tuple[str, ...]) -> pd.DataFrame:
        """``_ConflictLog.table`` of the pandas path, from the collected rows."""
        columns = {
            "conflict_id": "int64",
            "kind": "str",
            "key": "str",
            "silo": "str",
            "source_id": "str",
            "birth_year": "Int64",
            "action": "str",
        }
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
        frame = pd.concat(self.parts, ignore_index=True)
        k = frame["k"].to_numpy(dtype=np.int64)
        key_i = frame["key_i"].to_numpy(dtype=np.int64)
        is_tok = key_i >= 0
        # The group of a key conflict: the key value ranked by (column, value); of a
        # record conflict: a record hash ranked among them. Neither depends on row order.
        group = np.zeros(len(frame), dtype=np.int64)
        if is_tok.any():
            toks = pd.DataFrame(
                {"kind": key_i[is_tok], "value": frame["value"].to_numpy(dtype=object)[is_tok]}
            )
            group[is_tok] = (
                toks.groupby(["kind", "value"], sort=True).ngroup().to_numpy(dtype=np.int64)
            )
        if (~is_tok).any():
            hashes = frame["grp"].to_numpy(dtype=object)[~is_tok].astype(np.int64)
            group[~is_tok] = np.searchsorted(np.unique(hashes), hashes)
        table = pd.DataFrame(
            {
                "k": k,
                "key_i": key_i,
                "group": group,
                "silo": frame["silo"].to_numpy(dtype=object),
                "source_id": frame["source_id"].to_numpy(dtype=object),
                "node": frame["h"].to_numpy(dtype=np.int64),
                "lo": frame["lo"].astype("Int64"),
            }
        ).drop_duplicates(["k", "key_i", "group", "node"])
        # Silo order is alphabetical = the pandas path's canonical order of silo codes.
        table = table.sort_values(["k", "key_i", "group", "silo", "source_id"], ignore_index=True)
        lead = table[["k", "key_i", "group"]].ne(table[["k", "key_i", "group"]].shift()).any(axis=1)
        kinds = np.array(list(CONFLICT_KINDS), dtype=object)
        actions = np.array(list(CONFLICT_KINDS.values()), dtype=object)
        key_names = np.array([*keys, None], dtype=object)
        kk = table["k"].to_numpy()
        return pd.DataFrame(
            {
                "conflict_id": np.cumsum(lead.to_numpy()) - 1,
                "kind": pd.Series(kinds[kk], dtype="str"),
                "key": pd.Series(key_names[table["key_i"].to_numpy()], dtype="str"),
                "silo": pd.Series(table["silo"].to_numpy(), dtype="str"),
                "source_id": pd.Series(table["source_id"].to_numpy(), dtype="str"),
                "birth_year": pd.array(table["lo"].to_numpy(), dtype="Int64"),
                "action": pd.Series(actions[kk], dtype="str"),
            }
        )


# --------------------------------------------------------------------------- episodes


def _episodes(
    frames: Mapping[str, nw.LazyFrame[Any]],
    id_columns: Mapping[str, str],
    columns: Mapping[str, list[str]],
    crosswalk: nw.LazyFrame[Any],
) -> nw.LazyFrame[Any]:
    """``role_episodes(rosters, crosswalk)`` (merged) as a lazy frame of the engine.

    The merge rule of :mod:`hxmetrics.stakeholders.episodes` with window functions:
    within (person, role), rows ordered by (start, end with open last, source_id,
    engagement) start a new merged episode when nothing before them is open, they
    start at or after the latest end so far, and they are not an exact duplicate of
    the previous row. Rosters arrive validated: every row has a start and an
    engagement, ends are not before starts, and an engagement names one kind.
    """
    from hxmetrics.errors import check_columns

    parts = []
    for silo, lf in frames.items():
        check_columns(columns[silo], ["start", "end", "engagement"], table=silo)
        parts.append(
            lf.select(
                nw.col(id_columns[silo]).cast(nw.String).alias("source_id"),
                nw.col("engagement").cast(nw.String).alias("engagement"),
                "start",
                "end",
            )
            .with_columns(
                nw.lit(silo, dtype=nw.String).alias("silo"),
                nw.lit(ROLE_OF_SILO[silo], dtype=nw.String).alias("role"),
            )
            .join(
                crosswalk.filter(nw.col("silo") == silo).select("source_id", "person_id"),
                on="source_id",
            )
        )
    raw = nw.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    if raw.implementation is nw.Implementation.DUCKDB:
        return _episodes_duckdb(raw)
    group = ["person_id", "role"]
    order = ["start", "open", "end_or_start", "source_id", "engagement"]

    def window(expr: nw.Expr) -> nw.Expr:
        return expr.over(*group, order_by=order)

    rows = raw.with_columns(
        nw.col("end").is_null().cast(nw.Int64).alias("open"),
        nw.coalesce("end", "start").alias("end_or_start"),
        nw.lit(1, dtype=nw.Int64).alias("one"),
    ).with_columns(
        window(nw.col("start").shift(1)).alias("prev_start"),
        window(nw.col("open").shift(1)).alias("prev_open"),
        window(nw.col("end_or_start").shift(1)).alias("prev_end"),
        window(nw.col("end_or_start").cum_max()).alias("run_end"),
        window(nw.col("open").cum_max()).alias("run_open"),
        # cum_sum, not cum_count: narwhals' pandas cum_count ignores order_by.
        window(nw.col("one").cum_sum()).alias("rn"),
    )
    rows = rows.with_columns(
        window(nw.col("run_end").shift(1)).alias("before_end"),
        window(nw.col("run_open").shift(1)).alias("before_open"),
    )
    dup = (
        (nw.col("start") == nw.col("prev_start"))
        & (nw.col("open") == nw.col("prev_open"))
        & (nw.col("end_or_start") == nw.col("prev_end"))
    ).fill_null(value=False)
    after = ((nw.col("before_open") == 0) & (nw.col("start") >= nw.col("before_end"))).fill_null(
        value=False
    )
    new = nw.col("prev_start").is_null() | (after & ~dup)
    rows = rows.with_columns(new.alias("new")).with_columns(
        window(nw.col("new").cast(nw.Int64).cum_sum()).cast(nw.Int64).alias("block")
    )
    block = [*group, "block"]
    sums = rows.group_by(*block).agg(
        nw.col("end_or_start").max().alias("last_end"),
        nw.col("open").max().alias("any_open"),
        nw.len().alias("n_records"),
    )
    leads = rows.filter(nw.col("new")).select(*block, "start", "silo", "source_id")
    # Engagements: the distinct kinds of a block in order of first appearance, "+".
    firsts = (
        rows.group_by(*block, "engagement")
        .agg(nw.col("rn").min().alias("first"))
        .with_columns(nw.col("first").rank("dense").over(*block).cast(nw.Int64).alias("pos"))
    )
    # A block holds at most every engagement kind of its role (validated rosters).
    width = max(len(ENGAGEMENTS[ROLE_OF_SILO[silo]]) for silo in frames)
    spelled = (
        firsts.with_columns(
            [
                nw.when(nw.col("pos") == j).then(nw.col("engagement")).alias(f"e{j}")
                for j in range(1, width + 1)
            ]
        )
        .group_by(*block)
        .agg([nw.col(f"e{j}").max() for j in range(1, width + 1)])
    )
    engagement = nw.concat_str(
        [nw.col(f"e{j}") for j in range(1, width + 1)], separator="+", ignore_nulls=True
    )
    out = (
        leads.join(sums, on=block)
        .join(spelled.select(*block, engagement.alias("engagement")), on=block)
        .select(
            "person_id",
            "role",
            "engagement",
            "start",
            nw.when(nw.col("any_open") == 0).then(nw.col("last_end")).alias("end"),
            "silo",
            "source_id",
            nw.col("n_records").cast(nw.Int64),
        )
    )
    return out.select(EPISODE_COLUMNS)


# The merge rule of _episodes in one DuckDB query: two sorts of the rows (narwhals' window
# expressions nest one SELECT per stage, a sort each: three here, then a table of every
# stage's columns read by three aggregates and their joins: 6 of the resolution's 17 CPU
# seconds at 1M records). A frame "up to the row before" (narwhals has no window frames)
# gives the latest end before a row without a second stage; the block's lead row, span,
# record count and engagements (distinct, in order of first appearance) come from two
# group-bys. The rows are in (start, ...) order, so the lead row's start is the block's
# least; a role has one silo. The engagements are sorted by a list function, not by
# string_agg(... ORDER BY ...), an ordered aggregate (a sort per group: 5 s at 1M
# records). Same values, tested against the pandas path.
_EPISODES_SQL = """
WITH raw AS (
    SELECT person_id, role, engagement, start, silo, source_id,
        ("end" IS NULL)::BIGINT AS open, coalesce("end", start) AS eos
    FROM hx_raw
), ordered AS (
    SELECT *,
        lag(start) OVER w AS prev_start,
        lag(open) OVER w AS prev_open,
        lag(eos) OVER w AS prev_end,
        max(eos) OVER before AS before_end,
        max(open) OVER before AS before_open,
        row_number() OVER w AS rn
    FROM raw
    WINDOW w AS (PARTITION BY person_id, role ORDER BY start ASC NULLS FIRST,
        open ASC NULLS FIRST, eos ASC NULLS FIRST, source_id ASC NULLS FIRST,
        engagement ASC NULLS FIRST),
    before AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), flagged AS (
    SELECT person_id, role, engagement, start, silo, source_id, open, eos, rn,
        prev_start IS NULL OR (
            coalesce(before_open = 0 AND start >= before_end, false)
            AND NOT coalesce(start = prev_start AND open = prev_open AND eos = prev_end, false)
        ) AS new
    FROM ordered
), blocks AS (
    SELECT *, sum(new::BIGINT) OVER (PARTITION BY person_id, role ORDER BY rn
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS block
    FROM flagged
), kinds AS (
    SELECT person_id, role, block, engagement, min(rn) AS first, min(start) AS start,
        arg_min(source_id, rn) AS source_id, any_value(silo) AS silo,
        max(eos) AS last_end, max(open) AS any_open, count(*) AS n
    FROM blocks GROUP BY person_id, role, block, engagement
)
SELECT person_id, role,
    array_to_string(
        list_transform(list_sort(list({'first': first, 'kind': engagement})), lambda e: e.kind),
        '+'
    ) AS engagement,
    min(start) AS start,
    CASE WHEN max(any_open) = 0 THEN max(last_end) END AS "end",
    any_value(silo) AS silo,
    arg_min(source_id, first) AS source_id,
    sum(n)::BIGINT AS n_records
FROM kinds GROUP BY person_id, role, block
"""


def _episodes_duckdb(raw: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """:func:`_episodes`' merge on DuckDB in one query (see ``_EPISODES_SQL``)."""
    return nw.from_native(raw.to_native().query("hx_raw", _EPISODES_SQL)).lazy()
