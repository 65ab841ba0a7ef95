"""A job's inputs, scanned lazily on the job's engine.

An ``[inputs]`` entry of a job file names one table's data. It may be

- a file, ``"responses.csv"`` or ``"responses.parquet"``;
- a glob, ``"data/responses-*.parquet"`` (every matching file, in sorted order; one format);
- a folder, ``"data/responses/"``: every CSV or Parquet file below it (hidden files and
  names starting with ``_``, such as Spark's ``_SUCCESS``, are skipped), hive-partitioned
  when its sub-folders are named ``key=value`` (the keys become text columns);
- a DuckDB database table, ``"duckdb:path/to/file.duckdb::table"`` (or ``::schema.table``);
- on Spark, a catalogue table, ``"spark:db.table"``.

Relative paths are relative to the job file. :func:`parse_input` checks an entry,
:func:`scan` gives the engine's native frame without reading the data into Python:
pandas reads eagerly (as :func:`hxmetrics.tables.read_table` always has), Polars scans
(``scan_parquet``/``scan_csv``), DuckDB reads on the job's one connection
(``read_parquet``/``read_csv``), Spark through ``spark.read``. CSV values are read as
text on every engine, with pandas' default missing-value markers, so that the table
contract (:func:`hxmetrics.tables.validate_lazy`) coerces the same text everywhere;
Parquet and database columns keep their own types.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd

from hxmetrics.errors import InputTableError, JobError

__all__ = [
    "NA_VALUES",
    "InputSpec",
    "checksum",
    "is_uri",
    "parse_input",
    "scan",
    "shown_uri",
]

#: The text pandas reads as missing in a CSV file (``pandas.read_csv``'s default
#: ``na_values``, with ``keep_default_na=True`` as :func:`hxmetrics.tables.read_table`
#: reads): every engine reads the same cells as missing.
NA_VALUES: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
# A URI (s3://, gs://, abfss://, hdfs://, https://, file://): taken as a path, it would
# name a local folder "s3:" beside the job file (pathlib folds the double slash).
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(raw: str) -> bool:
    """Whether ``raw`` starts with a URI scheme (``s3://...``), not a file path.

    >>> is_uri("s3://bucket/out"), is_uri("out"), is_uri("C:/data/out")
    (True, False, False)
    """
    return _URI.match(raw) is not None


def shown_uri(raw: str) -> str:
    """A URI as an error message shows it: its scheme only (a URI may carry a user name,
    a password or a signed token, which never go into a message or a log).

    >>> shown_uri("s3://AKIA:secret@bucket/out")
    's3://...'
    """
    match = _URI.match(raw)
    return (match.group(0) if match else "") + "..."


#: Hive's name for a partition whose value is missing.
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_ENGINES = ("pandas", "polars", "duckdb", "spark")


@dataclass(frozen=True)
class InputSpec:
    """One checked ``[inputs]`` entry.

    Attributes
    ----------
    text : str
        The entry as written in the job file.
    kind : {"file", "glob", "directory", "duckdb", "spark"}
        What it names.
    location : str
        What the manifest shows: the absolute file, pattern or folder, or the table as
        ``duckdb:/abs/file.duckdb::table`` / ``spark:db.table``.
    files : tuple of Path
        The data files, sorted (empty for a database table).
    root : Path or None
        The folder file names are relative to in the checksum (a glob's fixed part, the
        folder), or the DuckDB database file.
    table : str or None
        The database or catalogue table.
    format : {"csv", "parquet"} or None
        The files' format.
    hive : tuple of str
        Partition keys of a hive-partitioned folder, outermost first.
    """

    text: str
    kind: str
    location: str
    files: tuple[Path, ...] = ()
    root: Path | None = None
    table: str | None = None
    format: str | None = None
    hive: tuple[str, ...] = ()

    @property
    def path(self) -> Path | None:
        """The one file of a ``file`` entry (None otherwise)."""
        return self.files[0] if self.kind == "file" else None


def _format_of(files: Sequence[Path], where: str) -> str:
    formats = {_FORMATS.get(f.suffix.lower()) for f in files}
    if None in formats:
        odd = next(f for f in files if f.suffix.lower() not in _FORMATS)
        raise JobError(f"{where}: expected .csv or .parquet files, got {odd}")
    if len(formats) > 1:
        raise JobError(
            f"{where}: mixes CSV and Parquet files; one input is one format "
            "(CSV is read as text, Parquet with its own types)."
        )
    return str(formats.pop())


def _visible(rel: Path) -> bool:
    # Spark and Hadoop write _SUCCESS, _metadata and .crc files beside the data.
    return not any(part.startswith((".", "_")) for part in rel.parts)


def _hive_keys(root: Path, files: Sequence[Path], where: str) -> tuple[str, ...]:
    """The partition keys of a folder: every sub-folder named ``key=value``, the same
    keys in the same order for every file; a flat folder has none."""
    layouts = set()
    for file in files:
        parents = file.relative_to(root).parts[:-1]
        keys = tuple(p.split("=", 1)[0] for p in parents if "=" in p)
        if len(keys) != len(parents):
            raise JobError(
                f"{where}: {file.relative_to(root)} lies in a sub-folder not named "
                "key=value; a folder input is flat or hive-partitioned (silo=workers/...)."
            )
        layouts.add(keys)
    if len(layouts) > 1:
        raise JobError(
            f"{where}: the files are partitioned by different keys "
            f"({' / '.join(sorted('/'.join(k) or '(none)' for k in layouts))})."
        )
    return layouts.pop()


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if _glob.has_magic(p))]]
    return Path(*fixed) if fixed else Path(".")


def parse_input(raw: Any, *, base: Path, where: str) -> InputSpec:
    """Check one ``[inputs]`` entry (relative paths are relative to ``base``).

    Parameters
    ----------
    raw : str
        The entry as written: a file, a glob, a folder, ``duckdb:file::table`` or
        ``spark:db.table``.
    base : Path
        The job file's folder.
    where : str
        How errors name the entry (``[inputs].responses``).

    Returns
    -------
    InputSpec

    Raises
    ------
    JobError
        No such file, a glob matching nothing, a folder without data files, mixed
        formats, a malformed table name.

    Examples
    --------
    >>> from pathlib import Path
    >>> parse_input("spark:hx.responses", base=Path("."), where="[inputs].responses").kind
    'spark'
    """
    if not isinstance(raw, str) or not raw:
        raise JobError(f"{where}: expected a path (a string); got {raw!r}.")
    if raw.startswith("spark:"):
        name = raw.removeprefix("spark:")
        if not _TABLE_NAME.fullmatch(name):
            raise JobError(
                f"{where}: {raw!r} is not a catalogue table; write spark:table or "
                "spark:database.table."
            )
        return InputSpec(raw, "spark", f"spark:{name}", table=name)
    if raw.startswith("duckdb:"):
        file_part, sep, name = raw.removeprefix("duckdb:").rpartition("::")
        if not sep or not file_part or not _TABLE_NAME.fullmatch(name):
            raise JobError(
                f"{where}: {raw!r} is not a DuckDB table; write "
                "duckdb:path/to/file.duckdb::table (or ::schema.table)."
            )
        db = (base / file_part).resolve()
        if not db.is_file():
            raise JobError(f"{where}: no such DuckDB database file {db}")
        return InputSpec(raw, "duckdb", f"duckdb:{db}::{name}", root=db, table=name)
    if is_uri(raw):
        raise JobError(
            f"{where}: {shown_uri(raw)!r} is a URI; inputs are files, folders and "
            "globs on a local or mounted file system, DuckDB tables "
            "(duckdb:file.duckdb::table) and, on engine spark, catalogue tables "
            "(spark:db.table). Mount the storage, copy the data to a local folder, or "
            "register it as a table of Spark's catalogue."
        )
    target = base / raw
    if _glob.has_magic(raw):
        pattern = str(target.resolve().parent / target.name) if "**" not in raw else str(target)
        root = _glob_root(pattern).resolve()
        files = tuple(sorted(Path(p).resolve() for p in _glob.glob(pattern, recursive=True)))
        files = tuple(f for f in files if f.is_file())
        if not files:
            raise JobError(f"{where}: no file matches {pattern}")
        fmt = _format_of(files, where)
        return InputSpec(raw, "glob", pattern, files=files, root=root, format=fmt)
    resolved = target.resolve()
    if resolved.is_dir():
        files = tuple(
            sorted(
                f
                for f in resolved.rglob("*")
                if f.is_file()
                and _visible(f.relative_to(resolved))
                and f.suffix.lower() in _FORMATS
            )
        )
        if not files:
            raise JobError(f"{where}: the folder {resolved} holds no .csv or .parquet file")
        fmt = _format_of(files, where)
        hive = _hive_keys(resolved, files, where)
        return InputSpec(
            raw, "directory", str(resolved), files=files, root=resolved, format=fmt, hive=hive
        )
    if not resolved.is_file():
        raise JobError(f"{where}: no such file {resolved}")
    if resolved.suffix.lower() not in _FORMATS:
        raise JobError(f"{where}: expected .csv or .parquet, got {resolved}")
    return InputSpec(
        raw,
        "file",
        str(resolved),
        files=(resolved,),
        root=resolved.parent,
        format=_FORMATS[resolved.suffix.lower()],
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parquet_columns(path: Path) -> dict[str, str]:
    """A Parquet file's columns and their types, from its footer (no data read).

    Types that every engine reads alike count as one: dictionary-encoded values as
    their values (pandas writes categoricals so), large and view strings as strings.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[str, str] = {}
    for field in pq.read_schema(path):
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
            kind = pa.binary()
        out[field.name] = str(kind)
    return out


def check_files_agree(spec: InputSpec, table: str) -> bool:
    """Refuse an input whose files do not share one schema, on every engine alike.

    The engines differ on such files: pandas stacks them (a column one file lacks is
    missing there), Polars refuses with an error of its own, DuckDB reads every file
    into the first one's types (2.5 of a float file became 2 after an integer file,
    silently), Spark reads CSV columns by position. Every file must have the same
    columns: CSV in the same order, Parquet of the same types (in any order). A
    Parquet column of Arrow type ``null`` (only missing values, written without a type,
    as pandas writes an all-None column) agrees with any type.

    Returns
    -------
    bool
        True when some Parquet files hold such ``null`` columns: the engine must read
        the files into the others' types (:func:`scan` does).

    Raises
    ------
    InputTableError
        Naming the table, the first column that differs and two files that differ
        on it, with how many files differ from the first.
    ParameterError
        A CSV header that cannot be read (as :func:`hxmetrics.tables.read_table`),
        checked in every CSV file, one or many.
    """
    if spec.format == "csv":
        # Every file's header, one file or many: the header checks of
        # hxmetrics.tables.read_table (a repeated column name, not UTF-8, an empty file)
        # read the first line only, so the lazy engines get pandas' errors for them.
        from hxmetrics.tables import _csv_header

        schemas = {
            file: {name: f"column {i + 1}" for i, name in enumerate(_csv_header(file))}
            for file in spec.files
        }
    elif spec.format == "parquet" and len(spec.files) > 1:
        schemas = {file: _parquet_columns(file) for file in spec.files}
    else:
        return False
    if len(schemas) < 2:
        return False
    root = spec.root if spec.root is not None else spec.files[0].parent
    typed: dict[str, str] = {}  # each column's first type other than null
    for schema in schemas.values():
        for name, kind in schema.items():
            if kind != "null":
                typed.setdefault(name, kind)
    first = schemas[spec.files[0]]

    def clash(a: str, b: str) -> bool:
        if spec.format == "parquet" and "absent" not in (a, b) and "null" in (a, b):
            return False
        return a != b

    def first_clash(other: dict[str, str]) -> str | None:
        for name in {**first, **other}:
            if clash(first.get(name, "absent"), other.get(name, "absent")):
                return name
        # A type against the column's first type other than null (null agrees with all).
        return next((c for c, kind in other.items() if clash(typed.get(c, kind), kind)), None)

    differing: list[tuple[Path, str]] = []
    for file, other in schemas.items():
        clashing = first_clash(other)
        if clashing is not None:
            differing.append((file, clashing))
    if differing:
        from hxmetrics.privacy import shown_name

        file, name = differing[0]
        now = schemas[file].get(name, "absent")
        ref = next(f for f, sch in schemas.items() if clash(sch.get(name, "absent"), now))
        detail = (
            f"{schemas[ref].get(name, 'absent')} in {ref.relative_to(root).as_posix()}, "
            f"{now} in {file.relative_to(root).as_posix()}"
        )
        raise InputTableError(
            f"{table}: the {len(spec.files)} files of {spec.text!r} do not share one schema: "
            f"column {shown_name(name)}: {detail} ({len(differing)} of the {len(spec.files)} "
            "files differ). Every file of an input must have the same columns (CSV: in the "
            "same order; Parquet: of the same types); engines would read them differently. "
            "Rewrite the files with one schema."
            + (
                f" ({name!r} is a pandas index, which DataFrame.to_parquet writes when the "
                "index is not a plain range: write the files with index=False.)"
                if re.fullmatch(r"__index_level_\d+__", name)
                else ""
            ),
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": [name],
                    "check": ["files_share_one_schema"],
                    "failure_case": [detail],
                    "index": [None],
                }
            ),
        )
    return any(kind == "null" for schema in schemas.values() for kind in schema.values())


def checksum(spec: InputSpec) -> tuple[str | None, str | None]:
    """The input's SHA-256 and, when there is none, why.

    A file: over its bytes. A glob or a folder: over the text of its sorted
    ``"<name relative to the folder>\\t<sha256 of the file>\\n"`` lines (so that a renamed,
    added, removed or changed file changes it). A database table: ``None`` (a table has
    no bytes of its own to hash; the reason says so).
    """
    if spec.kind == "file":
        return _file_sha256(spec.files[0]), None
    if spec.kind in ("glob", "directory"):
        assert spec.root is not None  # set for every file input
        lines = "".join(
            f"{f.relative_to(spec.root).as_posix()}\t{_file_sha256(f)}\n" for f in spec.files
        )
        return hashlib.sha256(lines.encode()).hexdigest(), None
    return None, (
        "a database table has no file to checksum; its content is not fixed by this "
        "manifest (rows counts it)"
    )


# ---------------------------------------------------------------- the engines


def _partitions(spec: InputSpec, file: Path) -> dict[str, str | None]:
    assert spec.root is not None
    parents = file.relative_to(spec.root).parts[:-1]
    out: dict[str, str | None] = {}
    for part in parents:
        key, value = part.split("=", 1)
        text = unquote(value)
        out[key] = None if text == _HIVE_NULL else text
    return out


def _scan_pandas(spec: InputSpec, connection: Any) -> pd.DataFrame:
    from hxmetrics.tables import read_table

    if spec.kind == "duckdb":
        # The pandas engine reads its inputs into memory (as it always has).
        relation = _duckdb_table(spec, connection)
        out: pd.DataFrame = relation.df()
        return out
    frames = []
    for file in spec.files:
        frame = read_table(file)
        for key, value in _partitions(spec, file).items():
            frame[key] = pd.Series([value] * len(frame), index=frame.index, dtype="str")
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _scan_polars(
    spec: InputSpec, connection: Any, scratch: Path | None, *, unify: bool = False
) -> Any:
    import polars as pl

    if spec.kind == "duckdb":
        if scratch is not None:
            # DuckDB streams the table to a Parquet file (out of core) that Polars
            # scans: a plan may read it several times, even at once, which one DuckDB
            # connection cannot serve.
            file = (
                scratch
                / f"duckdb-{hashlib.sha256(spec.location.encode()).hexdigest()[:12]}.parquet"
            )
            relation = _duckdb_table(spec, connection)
            relation.write_parquet(str(file))
            return pl.scan_parquet(file)
        # Without a scratch folder: DuckDB streams record batches when the plan runs, on
        # a cursor of its own (one plan reading it twice at once fails; jobs pass one).
        cursor = None if connection is None else connection.cursor()
        return _duckdb_table(spec, cursor).pl(lazy=True)
    files = [str(f) for f in spec.files]
    if spec.format == "parquet":
        schema: dict[str, Any] | None = None
        if unify:
            # Null-typed columns of some files read into the others' types.
            schema = {}
            for path in files:
                for name, dtype in pl.read_parquet_schema(path).items():
                    if schema.get(name, pl.Null) == pl.Null:
                        schema[name] = dtype
        return pl.scan_parquet(
            files,
            schema=schema,
            glob=False,  # the files are listed: a name is never a pattern
            hive_partitioning=bool(spec.hive),
            hive_schema={k: pl.String for k in spec.hive} if spec.hive else None,
            try_parse_hive_dates=False,
        )

    def one(file: str) -> Any:
        return pl.scan_csv(
            file,
            infer_schema=False,
            null_values=list(NA_VALUES),
            glob=False,
        )

    if not spec.hive:
        return pl.scan_csv(files, infer_schema=False, null_values=list(NA_VALUES), glob=False)
    # scan_csv has no hive partitioning: each file gets its partition values as text.
    return pl.concat(
        [
            one(str(f)).with_columns(
                pl.lit(v, dtype=pl.String).alias(k) for k, v in _partitions(spec, f).items()
            )
            for f in spec.files
        ],
        how="vertical",
    )


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _duckdb_table(spec: InputSpec, connection: Any) -> Any:
    """A DuckDB database table, attached read-only on ``connection`` (one attachment per
    database file)."""
    import duckdb

    if connection is None:
        connection = duckdb.connect()
    assert spec.root is not None  # set for every database entry
    assert spec.table is not None
    alias = "hx_" + hashlib.sha256(str(spec.root).encode()).hexdigest()[:12]
    attached = {
        row[0] for row in connection.sql("select database_name from duckdb_databases()").fetchall()
    }
    if alias not in attached:
        connection.execute(f"ATTACH {_sql_list([str(spec.root)])[1:-1]} AS {alias} (READ_ONLY)")
    parts = spec.table.split(".")
    qualified = ".".join(f'"{p}"' for p in [alias, *(["main"] if len(parts) == 1 else []), *parts])
    try:
        return connection.sql(f"SELECT * FROM {qualified}")
    except duckdb.Error as exc:
        raise JobError(f"{spec.text}: the table cannot be read ({exc})") from None


def _scan_duckdb(spec: InputSpec, connection: Any, *, unify: bool = False) -> Any:
    if connection is None:
        raise JobError("the duckdb engine scans on the job's connection; none was given.")
    if spec.kind == "duckdb":
        return _duckdb_table(spec, connection)
    files = _sql_list([str(f) for f in spec.files])
    hive = "true" if spec.hive else "false"
    if spec.format == "parquet":
        return connection.sql(
            f"SELECT * FROM read_parquet({files}, hive_partitioning = {hive}, "
            # Null-typed columns of some files read into the others' types (the files
            # agree otherwise: check_files_agree).
            f"hive_types_autocast = false, union_by_name = {'true' if unify else 'false'})"
        )
    # The dialect is pandas' (comma, double quote doubled inside quotes), not sniffed.
    return connection.sql(
        f"SELECT * FROM read_csv({files}, header = true, all_varchar = true, "
        f"delim = ',', quote = '\"', escape = '\"', nullstr = {_sql_list(NA_VALUES)}, "
        f"hive_partitioning = {hive}, hive_types_autocast = false)"
    )


def spark_session(connection: Any = None) -> Any:
    """``connection`` if given, else the active SparkSession (or a new local one)."""
    if connection is not None:
        return connection
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()


def _scan_spark(spec: InputSpec, connection: Any) -> Any:
    spark = spark_session(connection)
    if spec.kind == "spark":
        assert spec.table is not None
        return spark.table(spec.table)
    if spec.kind == "duckdb":
        raise JobError(
            f"{spec.text}: Spark cannot read a DuckDB database table; export it to Parquet "
            "(COPY ... TO 'file.parquet') or run the job with engine duckdb or polars."
        )
    from pyspark.sql import functions as F

    files = [str(f) for f in spec.files]
    reader = spark.read
    if spec.hive:
        assert spec.root is not None
        reader = reader.option("basePath", str(spec.root))
    # Partition values stay text, as on the other engines (Spark would infer numbers).
    key = "spark.sql.sources.partitionColumnTypeInference.enabled"
    previous = spark.conf.get(key)
    spark.conf.set(key, "false")
    try:
        if spec.format == "parquet":
            return reader.parquet(*files)
        # Every value as text (no inferSchema), pandas' dialect (a quote doubled inside
        # quotes), and a malformed row is an error rather than silently dropped.
        frame = reader.csv(
            files,
            header=True,
            inferSchema=False,
            quote='"',
            escape='"',
            encoding="UTF-8",
            mode="FAILFAST",
        )
    finally:
        spark.conf.set(key, previous)
    # spark.read.csv knows one null marker: pandas' others are mapped here, lazily.
    na = list(NA_VALUES)
    return frame.select(
        *[
            F.when(F.col(f"`{c}`").isin(na), F.lit(None).cast("string"))
            .otherwise(F.col(f"`{c}`"))
            .alias(c)
            for c in frame.columns
        ]
    )


def scan(
    spec: InputSpec,
    engine: str,
    *,
    connection: Any = None,
    scratch: Path | None = None,
    table: str | None = None,
) -> Any:
    """The input as the engine's native frame, not read into Python.

    Parameters
    ----------
    spec : InputSpec
        A checked entry (:func:`parse_input`).
    engine : {"pandas", "polars", "duckdb", "spark"}
        pandas reads eagerly (``pandas.DataFrame``); Polars gives a ``LazyFrame``,
        DuckDB a relation on ``connection``, Spark a ``pyspark.sql.DataFrame``.
    connection : duckdb.DuckDBPyConnection or SparkSession, optional
        The job's DuckDB connection (required for engine duckdb; used for a
        ``duckdb:`` table on pandas and Polars), or the SparkSession (default: the
        active one).
    scratch : Path, optional
        A temporary folder of the run: on Polars, a ``duckdb:`` table is streamed to a
        Parquet file there and scanned.
    table : str, optional
        The contract table the input is read as, for errors (default: the entry).

    Returns
    -------
    native frame
        CSV columns are text (missing markers as missing); Parquet and database
        columns keep their types; partition keys of a hive folder are text columns
        after the file's own.

    Raises
    ------
    JobError
        A catalogue table on an engine other than Spark, a DuckDB table on Spark.
    ParameterError
        A CSV header that cannot be read (as :func:`hxmetrics.tables.read_table`).
    InputTableError
        The files of a glob or folder do not share one schema (:func:`check_files_agree`).
    """
    if engine not in _ENGINES:
        raise JobError(f"engine must be one of {_ENGINES}; got {engine!r}.")
    if engine in ("duckdb", "spark"):
        # Their readers take every file name as a pattern: a listed file named a[1].csv
        # would read a1.csv instead (silently). Refused rather than read wrong.
        patterned = [f.name for f in spec.files if any(c in f.name for c in "*?[]{}")]
        if patterned:
            raise JobError(
                f"{spec.text}: {len(patterned)} file name(s) hold glob characters "
                f"(* ? [ ] {{ }}), e.g. {patterned[0]!r}; engine {engine} would read them as "
                "patterns. Rename the files, or run on pandas or polars."
            )
    if spec.kind == "spark" and engine != "spark":
        raise JobError(
            f"{spec.text}: a Spark catalogue table is read on engine spark only; "
            f"the job runs on {engine}."
        )
    unify = check_files_agree(spec, table or spec.text)
    if engine == "pandas":
        return _scan_pandas(spec, connection)
    if engine == "polars":
        return _scan_polars(spec, connection, scratch, unify=unify)
    if engine == "duckdb":
        return _scan_duckdb(spec, connection, unify=unify)
    if unify:
        # Spark cannot read a null-typed Parquet column beside a typed one (checked:
        # Spark 4, with and without mergeSchema or a given schema).
        raise InputTableError(
            f"{table or spec.text}: some files of {spec.text!r} hold a column of Arrow type "
            "null (only missing values, written without a type) where others give it a "
            "type; Spark cannot read them together. Write the column with its type (pandas: "
            "astype before to_parquet) or run on pandas, polars or duckdb.",
            table=table or spec.text,
            failure_cases=pd.DataFrame(
                {
                    "column": [None],
                    "check": ["files_share_one_schema"],
                    "failure_case": ["null-typed column"],
                    "index": [None],
                }
            ),
        )
    return _scan_spark(spec, connection)
