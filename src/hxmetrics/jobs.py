"""Batch jobs: a TOML file names the inputs, the measures and the output directory.

``hxmetrics compute --job job.toml`` runs it. Outputs are tidy tables (one file per
measure) plus ``manifest.json`` (input checksums, versions, options, row counts,
rows excluded and why). Every output and count passes one disclosure-control layer
(:class:`hxmetrics.privacy.Disclosure`, ``[privacy] min_n``). Outputs go only into a
folder hxmetrics owns (:mod:`hxmetrics._outputs`): a failed or killed run leaves the
previous output as it was (or restorable by the next run), and nothing else changes.

A job file::

    [job]
    name = "quarterly-hx"
    engine = "pandas"            # pandas | polars | duckdb | spark

    [inputs]                     # table = data, relative to this file:
    responses = "responses.csv"  # a CSV or Parquet file,
    customers = "customers/"     # a folder (hive-partitioned key=value/ sub-folders too),
    workers = "workers-*.parquet"  # a glob, "duckdb:file.duckdb::table", "spark:db.table"

    [engine]                     # optional: DuckDB's resources (other engines: see
    memory_limit = "4GB"         # docs/engines.md); DuckDB spills to temp_directory
    temp_directory = "tmp"       # beyond memory_limit
    threads = 2

    [stakeholders]               # optional: resolve persons, attribute exhaust rows
    keys = ["email", "phone"]    # default: every key column the rosters have;
                                 # keys = []: no linking, one person per record
    secret_file = "org.secret"   # optional; default: generated, kept in the output folder

    [linkage]                    # optional, with [stakeholders]: how records are linked
    method = "probabilistic"     # exact (default) | probabilistic (hxmetrics[linkage])
    model_file = "linkage.json"  # optional: a saved LinkageModel (LinkageModel.save);
                                 # default: a model fitted on these rosters
    threshold = 0.9              # optional: match probability that links two records

    [instruments]                # optional: check every answer against its item
    banks = ["core"]             # built-in banks: core, zero_distance, customer_centricity
    catalogue = "items.toml"     # and/or your own catalogue (TOML or CSV)

    [privacy]
    min_n = 5                    # default 5; 1 turns suppression off

    [output]
    dir = "out"
    format = "parquet"           # parquet | csv
    partition_by = ["silo"]      # optional (parquet): outputs holding these columns are
                                 # written as hive-partitioned folders

    [[measure]]
    name = "nps_by_silo"         # output file name
    function = "nps"             # a measure of hxmetrics.measures
    table = "responses"
    where = { instrument = "nps" }
    score = "score"
    by = ["silo"]

Outputs of grouped measures follow the one result protocol (``measure``, the group
columns, ``n``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ...); how each was
computed (``measure``, ``method``, ``confidence``) is in the manifest.

On engine pandas the tables are read into memory; on Polars, DuckDB and Spark the
whole run (scan, validation, identity resolution, attribution, aggregation) stays on
the engine and only the small aggregated tables come back to Python (docs/engines.md).
An
``rfm_summary`` output (only with ``[privacy] min_n = 1``: it is per-person data) has
one row per customer, sorted by the customer's id, which must be the keyed
pseudonymous ``person_id`` of ``[stakeholders]`` (``customer = "person_id"``), keyed
by the organisation's ``[stakeholders] secret_file`` (required then: the key is never
stored beside the ids it keys): a raw roster id never leaves in an output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata as md
import inspect
import json
import logging
import math
import os
import platform
import re
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd

from hxmetrics import _outputs, _scan
from hxmetrics._scan import InputSpec
from hxmetrics.errors import (
    InputTableError,
    JobError,
    ParameterError,
    PrivacyError,
    did_you_mean,
)
from hxmetrics.measures._engine import number_rows
from hxmetrics.privacy import (
    DEFAULT_MIN_N,
    IDENTIFIER_COLUMNS,
    Disclosure,
    check_group_columns,
    check_min_n,
    looks_personal,
    shown_totals,
)
from hxmetrics.tables import OPTIONAL_TABLES, ROSTERS, TABLES, validate

# JobError is defined in hxmetrics.errors; ``hxmetrics.jobs.JobError`` is kept for callers.
__all__ = [
    "ENGINES",
    "Job",
    "JobError",
    "job_catalogue",
    "job_inputs",
    "job_instruments",
    "job_linkage",
    "load_job",
    "run_job",
    "to_engine",
]

#: Steps of a run at INFO (one line per input, per measure, per write), details at DEBUG.
#: Only names of tables and measures and counts are logged: never a value of the data
#: (identifiers, ``where`` filters), never a count the disclosure control hides.
logger = logging.getLogger(__name__)

ENGINES = ("pandas", "polars", "duckdb", "spark")
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    function: str
    table: str
    where: dict[str, Any]
    options: dict[str, Any]


@dataclass(frozen=True)
class Job:
    """A parsed, checked job file."""

    path: Path
    name: str
    engine: str
    #: ``[inputs]``, checked: a file, a glob, a folder or a database table per table.
    inputs: dict[str, InputSpec]
    output_dir: Path
    output_format: str
    #: ``[stakeholders] keys`` as written: None when not given (every key column the
    #: rosters have), ``()`` for ``keys = []`` (no linking: one person per record).
    keys: tuple[str, ...] | None
    measures: tuple[MeasureSpec, ...]
    raw: dict[str, Any] = field(repr=False)
    #: Smallest group shown in every output of the job (``[privacy] min_n``); 1: none hidden.
    min_n: int = DEFAULT_MIN_N
    #: ``[stakeholders] secret_file``: the organisation's secret for person ids.
    secret_file: Path | None = None
    #: The job has a ``[stakeholders]`` section: resolve persons, attribute rows.
    stakeholders: bool = False
    #: ``[linkage] method``: ``exact`` (shared keys) or ``probabilistic`` (a model).
    linkage_method: str = "exact"
    #: ``[linkage] model_file``: a saved LinkageModel; None: fitted on the rosters.
    model_file: Path | None = None
    #: ``[linkage] threshold``; None: the library's default.
    threshold: float | None = None
    #: ``[instruments] banks``: built-in item banks the answers are checked against.
    banks: tuple[str, ...] = ()
    #: ``[instruments] catalogue``: the organisation's own catalogue (TOML or CSV).
    catalogue_file: Path | None = None
    #: ``[engine]``: DuckDB's ``memory_limit``, ``temp_directory`` and ``threads``.
    engine_options: dict[str, Any] = field(default_factory=dict)
    #: ``[output] partition_by``: outputs holding these columns are partitioned folders.
    partition_by: tuple[str, ...] = ()

    def input_files(self) -> list[Path]:
        """Every file the inputs read (data files and DuckDB databases)."""
        out: list[Path] = []
        for spec in self.inputs.values():
            out.extend(spec.files)
            if spec.kind == "duckdb" and spec.root is not None:
                out.append(spec.root)
        return out


def _measure_functions() -> dict[str, Callable[..., pd.DataFrame]]:
    """The measures a job can call, by name (imported lazily: jobs load fast)."""
    from hxmetrics import measures

    return {name: getattr(measures, name) for name in getattr(measures, "JOB_MEASURES", ())}


def _expect(section: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in section:
        raise JobError(f"{where}: missing key {key!r}." + did_you_mean(key, section))
    value = section[key]
    if not isinstance(value, kind):
        raise JobError(
            f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}."
        )
    return value


def _check_keys(section: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in section:
        if key not in allowed:
            raise JobError(
                f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}."
                + did_you_mean(key, allowed)
            )


def _section(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise JobError(f"[{name}] must be a table (a [{name}] section); got {value!r}.")
    return value


def _keys(section: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``keys``: one key column (a string) or a list of them, as the Python API takes.

    Not given: None (the registry's default, every key column the rosters have); an
    empty list stays empty: no linking, one person per roster record.
    """
    if "keys" not in section:
        return None
    raw = section["keys"]
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(k, str) and k for k in raw):
        raise JobError(
            f"[stakeholders].keys: expected a key column or a list of them, such as "
            f'keys = ["email", "phone"]; got {raw!r}.'
        )
    return tuple(raw)


_SCALARS = (str, int, float, bool, dt.date, dt.datetime)


def _where(entry: Mapping[str, Any], label: str) -> dict[str, Any]:
    """A measure's row filter: ``{column: value or [values]}``."""
    raw = entry.get("where", {})
    if not isinstance(raw, dict):
        raise JobError(
            f"{label}: where must be a table such as where = {{ column = value }} or "
            f'where = {{ instrument = "nps", silo = ["workers", "partners"] }}; got {raw!r}.'
        )
    for column, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, _SCALARS) for v in values):
            raise JobError(
                f"{label}: where.{column}: expected a value or a list of values; got {value!r}."
            )
    return dict(raw)


def _renamed_options(
    function: Callable[..., Any], fname: str, options: dict[str, Any], label: str
) -> dict[str, Any]:
    """Old option names of a measure (``group`` for ``by``, ...) under their new names.

    A job file written for an older release keeps working for one release: each old
    name gives a :class:`DeprecationWarning` (and a log warning, which the CLI shows),
    and both spellings at once are a job-file error.
    """
    renamed: Mapping[str, str] = getattr(function, "__hx_renamed__", {})
    out = dict(options)
    for old, new in renamed.items():
        if old not in out:
            continue
        if new in out:
            raise JobError(f"{label}: give {new!r} only; {old!r} is its old name.")
        message = (
            f"{label}: option {old!r} of {fname} is deprecated, use {new!r} (the old name "
            "goes in the next release)."
        )
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        logger.warning("%s", message)
        out[new] = out.pop(old)
    return out


def _check_options(
    function: Callable[..., Any], fname: str, options: Mapping[str, Any], label: str
) -> None:
    """Check a measure's options against the function's signature (usage error, exit 2)."""
    params = list(inspect.signature(function).parameters.values())[1:]  # data first
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind is not p.VAR_POSITIONAL]
    for key in options:
        if key not in names:
            raise JobError(
                f"{label}: unknown option {key!r} for {fname}; it takes {', '.join(names)}."
                + did_you_mean(key, names)
            )
    missing = [
        p.name
        for p in params
        if p.default is p.empty and p.kind is not p.VAR_POSITIONAL and p.name not in options
    ]
    if missing:
        raise JobError(f"{label}: {fname} needs {', '.join(repr(m) for m in missing)}.")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise JobError(f"{path}: no such job file") from None
    except tomllib.TOMLDecodeError as exc:
        raise JobError(f"{path}: not valid TOML: {exc}") from None


def _inputs(raw: Mapping[str, Any], path: Path) -> dict[str, InputSpec]:
    inputs_raw = _expect(raw, "inputs", dict, str(path))
    if not inputs_raw:
        raise JobError(f"{path}: [inputs] names no table files.")
    inputs: dict[str, InputSpec] = {}
    # The contract's tables and its optional ones (teams, comments, invitations, ticket
    # events): the report reads them all; measures take the ones they need.
    contract = (*TABLES, *OPTIONAL_TABLES)
    for table, rel in inputs_raw.items():
        if table not in contract:
            raise JobError(
                f"[inputs]: unknown table {table!r}; the contract has {', '.join(contract)}."
                + did_you_mean(table, contract)
            )
        inputs[table] = _scan.parse_input(rel, base=path.parent, where=f"[inputs].{table}")
    return {t: inputs[t] for t in contract if t in inputs}


def job_inputs(path: str | os.PathLike[str]) -> dict[str, Path]:
    """The input files a job file names, by table (its ``[inputs]``), checked.

    ``hxmetrics report --job`` reads its tables from here without running the measures.
    It reads one file per table: a glob, a folder or a database table is refused with
    a :class:`JobError` naming it (``hxmetrics compute`` reads them).
    """
    path = Path(path)
    out = {}
    for table, spec in _inputs(_read_toml(path), path).items():
        if spec.path is None:
            raise JobError(
                f"[inputs].{table}: {spec.text!r} is a {spec.kind}; this command reads one "
                "CSV or Parquet file per table (hxmetrics compute reads globs, folders "
                "and database tables)."
            )
        out[table] = spec.path
    return out


def job_linkage(path: str | os.PathLike[str]) -> tuple[str, Path | None, float | None]:
    """How a job file links records (its ``[linkage]``): method, saved model, threshold.

    ``hxmetrics report --job`` links as the job does without running its measures.
    Without a ``[linkage]`` section: ``("exact", None, None)``.
    """
    path = Path(path)
    raw = _read_toml(path)
    return _linkage(raw, path.parent, "stakeholders" in raw)


def job_instruments(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], Path | None]:
    """What a job file checks answers against (its ``[instruments]``): banks, catalogue file.

    ``hxmetrics report --job`` checks as the job does without running its measures.
    Without an ``[instruments]`` section: ``((), None)``.
    """
    path = Path(path)
    raw = _read_toml(path)
    return _instruments(raw, path.parent, _inputs(raw, path))


def load_job(path: str | os.PathLike[str], *, engine: str | None = None) -> Job:
    """Read and check a job file; every problem is a :class:`JobError`."""
    path = Path(path)
    raw = _read_toml(path)
    known = {
        "job",
        "engine",
        "inputs",
        "output",
        "stakeholders",
        "linkage",
        "instruments",
        "privacy",
        "measure",
    }
    for key in raw:
        if key not in known:
            raise JobError(f"{path}: unknown section [{key}]." + did_you_mean(key, known))
    base = path.parent
    job = _section(raw, "job")
    _check_keys(job, ("name", "engine"), "[job]")
    name = str(job.get("name", path.stem))
    engine = engine or str(job.get("engine", "pandas"))
    if engine not in ENGINES:
        raise JobError(f"engine must be one of {ENGINES}; got {engine!r}.")

    inputs = _inputs(raw, path)
    for table, spec in inputs.items():
        if spec.kind == "spark" and engine != "spark":
            raise JobError(
                f"[inputs].{table}: {spec.text!r} is a Spark catalogue table; it is read on "
                f"engine spark only (the job runs on {engine})."
            )
        if spec.kind == "duckdb" and engine == "spark":
            raise JobError(
                f"[inputs].{table}: Spark cannot read the DuckDB table {spec.text!r}; export "
                "it to Parquet (COPY ... TO 'file.parquet') or run on duckdb or polars."
            )
    engine_options = _engine_options(raw, base, engine)
    output = _expect(raw, "output", dict, str(path))
    _check_keys(output, ("dir", "format", "partition_by"), "[output]")
    raw_dir = str(_expect(output, "dir", str, "[output]"))
    if _scan.is_uri(raw_dir):
        raise JobError(
            f"[output].dir: {_scan.shown_uri(raw_dir)!r} is a URI; hxmetrics writes "
            "its outputs only into a folder on a local or mounted file system (it "
            "creates, marks and replaces that folder itself, and nothing else). Write to "
            "a local folder and copy it to the storage after the run, or mount the "
            "storage."
        )
    # The last component is not resolved: a symlink as the target is refused, not followed.
    out_dir = _outputs.output_path(base, raw_dir)
    fmt = str(output.get("format", "parquet"))
    if fmt not in FORMATS:
        raise JobError(f"[output].format must be one of {FORMATS}; got {fmt!r}.")
    partition_by = _partition_by(output, fmt)
    if "temp_directory" in engine_options:
        spill = Path(str(engine_options["temp_directory"])).resolve()
        if spill == out_dir.resolve() or out_dir.resolve() in spill.parents:
            # The output folder is replaced as a whole by each run: a spill folder in it
            # would be made by this run and then refused as something it did not write.
            raise JobError(
                f"[engine].temp_directory {spill} is inside [output].dir {out_dir}; "
                "choose a folder outside the output."
            )

    # None: the registry's default keys; (): no linking (one person per record).
    keys: tuple[str, ...] | None = None
    secret_file: Path | None = None
    has_stakeholders = "stakeholders" in raw
    if has_stakeholders:
        stakeholders = _section(raw, "stakeholders")
        _check_keys(stakeholders, ("keys", "secret_file"), "[stakeholders]")
        keys = _keys(stakeholders)
        if not any(t in inputs for t in ROSTERS):
            raise JobError("[stakeholders] needs at least one roster in [inputs].")
        if "secret_file" in stakeholders:
            rel = _expect(stakeholders, "secret_file", str, "[stakeholders]")
            secret_file = (base / rel).resolve()
            if not secret_file.is_file():
                raise JobError(f"[stakeholders].secret_file: no such file {secret_file}")
    method, model_file, threshold = _linkage(raw, base, has_stakeholders)
    if method == "probabilistic" and engine == "polars":
        raise JobError(
            '[linkage] method = "probabilistic" runs on engines pandas, duckdb and spark: '
            "splink, which fits and scores the model, has no Polars backend. Run this job "
            'with engine = "duckdb", or link with method = "exact" on Polars.'
        )
    banks, catalogue_file = _instruments(raw, base, inputs)
    files = [f for spec in inputs.values() for f in spec.files]
    databases = [s.root for s in inputs.values() if s.kind == "duckdb" and s.root is not None]
    read = [
        *files,
        *databases,
        path.resolve(),
        *([secret_file] if secret_file else []),
        *([model_file] if model_file else []),
        *([catalogue_file] if catalogue_file else []),
    ]
    try:
        _outputs.check_output_dir(out_dir, inputs=read)
    except ParameterError as exc:
        raise JobError(f"[output].dir: {exc}") from None

    privacy = _section(raw, "privacy")
    _check_keys(privacy, ("min_n",), "[privacy]")
    try:
        min_n = check_min_n(privacy.get("min_n", DEFAULT_MIN_N))
    except ParameterError as exc:
        raise JobError(f"[privacy].{exc}") from None
    if min_n is None:  # TOML has no null; kept for the type checker and for dict input
        raise JobError("[privacy].min_n must be a positive integer; 1 turns suppression off.")

    available = _measure_functions()
    specs = []
    seen: set[str] = set()
    for i, entry in enumerate(raw.get("measure", [])):
        where = f"[[measure]] #{i + 1}"
        entry = dict(entry)
        mname = str(_expect(entry, "name", str, where))
        try:
            _outputs.check_output_name(mname, what=f"{where}: name")
        except ParameterError as exc:
            raise JobError(str(exc)) from None
        # Case-insensitive: on macOS and Windows "NPS" and "nps" are one file.
        if mname.lower() in seen:
            raise JobError(f"{where}: duplicate measure name {mname!r}.")
        seen.add(mname.lower())
        function = str(_expect(entry, "function", str, where))
        if function not in available:
            raise JobError(
                f"{where}: unknown function {function!r}; available: "
                f"{', '.join(sorted(available))}." + did_you_mean(function, available)
            )
        table = str(_expect(entry, "table", str, where))
        if table not in inputs:
            raise JobError(f"{where}: table {table!r} is not among [inputs] {sorted(inputs)}.")
        label = f"{where} ({mname})"
        filters = _where(entry, label)
        entry.pop("where", None)
        for k in ("name", "function", "table"):
            entry.pop(k)
        entry = _renamed_options(available[function], function, entry, label)
        _check_options(available[function], function, entry, label)
        _check_privacy(function, entry, label, min_n)
        if function == "rfm_summary":
            _check_rfm_id(entry, label, has_stakeholders, secret_file)
        specs.append(MeasureSpec(mname, function, table, filters, entry))
    if not specs:
        raise JobError(f"{path}: no [[measure]] entries: nothing to compute.")
    logger.info(
        "loaded job %s: %d measures on %d input tables (engine %s, min_n %d)",
        name,
        len(specs),
        len(inputs),
        engine,
        min_n,
    )
    return Job(
        path,
        name,
        engine,
        inputs,
        out_dir,
        fmt,
        keys,
        tuple(specs),
        raw,
        min_n=min_n,
        secret_file=secret_file,
        stakeholders=has_stakeholders,
        linkage_method=method,
        model_file=model_file,
        threshold=threshold,
        banks=banks,
        catalogue_file=catalogue_file,
        engine_options=engine_options,
        partition_by=partition_by,
    )


_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _engine_options(raw: Mapping[str, Any], base: Path, engine: str) -> dict[str, Any]:
    """``[engine]``: DuckDB's resources (``memory_limit``, ``temp_directory``,
    ``threads``), checked. Other engines take theirs from their own settings
    (``POLARS_MAX_THREADS``, ``spark-submit --conf``): a run on them logs that these
    are not applied."""
    section = _section(raw, "engine")
    _check_keys(section, ("memory_limit", "temp_directory", "threads"), "[engine]")
    out: dict[str, Any] = {}
    if "memory_limit" in section:
        value = section["memory_limit"]
        if not isinstance(value, str) or not _SIZE.fullmatch(value.strip()):
            raise JobError(
                f'[engine].memory_limit: expected a size such as "4GB" or "512MiB"; got {value!r}.'
            )
        out["memory_limit"] = value.strip()
    if "temp_directory" in section:
        rel = _expect(section, "temp_directory", str, "[engine]")
        folder = (base / rel).resolve()
        if folder.exists() and not folder.is_dir():
            raise JobError(f"[engine].temp_directory: {folder} exists and is not a folder.")
        out["temp_directory"] = str(folder)
    if "threads" in section:
        value = section["threads"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise JobError(f"[engine].threads: expected a positive integer; got {value!r}.")
        out["threads"] = value
    if out and engine != "duckdb":
        logger.warning(
            "[engine] %s apply to engine duckdb; engine %s takes its own settings "
            "(docs/engines.md)",
            ", ".join(sorted(out)),
            engine,
        )
    return out


def _partition_by(output: Mapping[str, Any], fmt: str) -> tuple[str, ...]:
    """``[output] partition_by``: group columns whose values partition the outputs."""
    if "partition_by" not in output:
        return ()
    raw = output["partition_by"]
    columns = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(columns, list)
        or not columns
        or not all(isinstance(c, str) and c for c in columns)
    ):
        raise JobError(
            f'[output].partition_by: expected a column or a list of them, such as ["silo"]; '
            f"got {raw!r}."
        )
    if fmt != "parquet":
        raise JobError('[output].partition_by writes Parquet folders: set format = "parquet".')
    return tuple(columns)


def _instruments(
    raw: Mapping[str, Any], base: Path, inputs: Mapping[str, Any]
) -> tuple[tuple[str, ...], Path | None]:
    """``[instruments]``: built-in banks and a catalogue file the answers are checked
    against (the catalogue itself is read, and checked, when the job runs)."""
    if "instruments" not in raw:
        return (), None
    section = _section(raw, "instruments")
    _check_keys(section, ("banks", "catalogue"), "[instruments]")
    if "responses" not in inputs:
        raise JobError("[instruments] checks answers: it needs responses in [inputs].")
    banks = section.get("banks", [])
    if not isinstance(banks, list) or not all(isinstance(b, str) for b in banks):
        raise JobError(f"[instruments].banks must be a list of bank names; got {banks!r}.")
    from hxmetrics.instruments import BANKS

    for bank in banks:
        if bank not in BANKS:
            raise JobError(
                f"[instruments].banks: unknown bank {bank!r}; built in: {', '.join(BANKS)}."
                + did_you_mean(bank, BANKS)
            )
    catalogue: Path | None = None
    if "catalogue" in section:
        rel = _expect(section, "catalogue", str, "[instruments]")
        catalogue = (base / rel).resolve()
        if not catalogue.is_file():
            raise JobError(f"[instruments].catalogue: no such file {catalogue}")
        if catalogue.suffix.lower() not in (".toml", ".csv"):
            raise JobError(f"[instruments].catalogue: expected .toml or .csv, got {catalogue}")
    if not banks and catalogue is None:
        raise JobError("[instruments] names no banks and no catalogue: nothing to check.")
    return tuple(banks), catalogue


def job_catalogue(job: Job) -> Any:
    """The instrument catalogue of a job (its ``[instruments]``), or None without one."""
    if not job.banks and job.catalogue_file is None:
        return None
    return read_catalogue(job.banks, job.catalogue_file)


def read_catalogue(banks: Sequence[str], file: Path | None) -> Any:
    """Built-in banks plus a catalogue file (TOML or CSV), as one catalogue."""
    from hxmetrics.instruments import InstrumentCatalogue, load_bank

    parts = [load_bank(*banks)] if banks else []
    if file is not None:
        read = (
            InstrumentCatalogue.from_csv
            if file.suffix.lower() == ".csv"
            else InstrumentCatalogue.from_toml
        )
        parts.append(read(file))
    catalogue = parts[0]
    for part in parts[1:]:
        catalogue = catalogue + part
    return catalogue


_LINKAGE_METHODS = ("exact", "probabilistic")


def _linkage(
    raw: Mapping[str, Any], base: Path, has_stakeholders: bool
) -> tuple[str, Path | None, float | None]:
    """``[linkage]``: the resolution method, a saved model and the threshold."""
    if "linkage" not in raw:
        return "exact", None, None
    linkage = _section(raw, "linkage")
    if not has_stakeholders:
        raise JobError("[linkage] needs a [stakeholders] section (it says how to link them).")
    _check_keys(linkage, ("method", "model_file", "threshold"), "[linkage]")
    method = str(linkage.get("method", "exact"))
    if method not in _LINKAGE_METHODS:
        raise JobError(
            f"[linkage].method must be one of {', '.join(_LINKAGE_METHODS)}; got {method!r}."
            + did_you_mean(method, _LINKAGE_METHODS)
        )
    model_file: Path | None = None
    threshold: float | None = None
    if "model_file" in linkage:
        rel = _expect(linkage, "model_file", str, "[linkage]")
        model_file = (base / rel).resolve()
        if not model_file.is_file():
            raise JobError(f"[linkage].model_file: no such file {model_file}")
    if "threshold" in linkage:
        value = linkage["threshold"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise JobError(f"[linkage].threshold must be a number in (0, 1]; got {value!r}.")
        threshold = float(value)
    if method == "exact" and (model_file is not None or threshold is not None):
        raise JobError(
            '[linkage].model_file and threshold apply to method = "probabilistic"; '
            "the method is exact."
        )
    return method, model_file, threshold


# ---------------------------------------------------------------- disclosure control

#: Measures whose ``n`` counts answers (rows with a value): their cells share one base
#: per table and value column, so that two measures over the same answers (an NPS and a
#: mean score, a broad and a narrower ``where``) are checked against each other.
_ANSWER_MEASURES = ("nps", "csat", "ces", "mean_score")
#: hx_index's pooled normalisations put every group's mean into every group's index.
_POOLED = ("pooled_minmax", "pooled_zscore", "rank", "distance_to_reference")


def _groups(function: str, options: Mapping[str, Any]) -> list[str]:
    """A measure's group columns: ``by`` (old names are renamed at load time)."""
    raw = options.get("by")
    if raw is None:
        return []
    return [raw] if isinstance(raw, str) else [str(c) for c in raw]


def _refuse_personal_labels(table: pd.DataFrame, by: Sequence[str], name: str) -> None:
    """A group label that is an email or a phone number is a person, whatever the column
    is called (``check_group_columns`` only knows identifier column names); the error
    names the column, never the value."""
    for column in by:
        if column in table.columns and bool(looks_personal(table[column].astype(str)).any()):
            raise PrivacyError(
                f"measure {name!r}: group column {column!r} holds values that look like an "
                "email or a phone number; each group would be one person. Group by a "
                "role, a team, a touchpoint or a period instead."
            )


def _check_privacy(function: str, options: Mapping[str, Any], label: str, min_n: int) -> None:
    """What a measure may output under the job's ``min_n`` (usage errors, exit 2)."""
    try:
        check_group_columns(_groups(function, options), what=label)
    except PrivacyError as exc:
        raise JobError(str(exc)) from None
    own = options.get("min_n")
    if own is not None:
        try:
            own = check_min_n(own)
        except ParameterError as exc:
            raise JobError(f"{label}: {exc}") from None
        if own is not None and own < min_n:
            raise JobError(
                f"{label}: min_n = {own} is below the job's [privacy] min_n = {min_n}; a "
                "measure may only be stricter. Lower [privacy] min_n for the whole job "
                "(it is written in the manifest) if that is really meant."
            )
    if min_n > 1 and function == "rfm_summary":
        raise JobError(
            f"{label}: rfm_summary writes one row per customer, which is per-person data; "
            f"a job with disclosure control ([privacy] min_n = {min_n}) cannot write it. "
            "Set [privacy] min_n = 1 to write it without suppression (recorded in the "
            "manifest), or compute it with the Python API."
        )
    if min_n > 1 and function == "hx_index" and options.get("normalise") in _POOLED:
        raise JobError(
            f"{label}: normalise = {options['normalise']!r} puts the hidden groups' means "
            "into every shown group's index; under disclosure control use the default "
            "'minmax' (or set [privacy] min_n = 1)."
        )


#: The one customer id an ``rfm_summary`` output may carry: the keyed pseudonymous id
#: of identity resolution (HMAC with the organisation's secret), never a raw roster id.
RFM_ID = "person_id"


def _check_rfm_id(
    options: Mapping[str, Any], label: str, stakeholders: bool, secret_file: Path | None
) -> None:
    """An ``rfm_summary`` output has one row per customer and its id, so that it joins to
    other tables. Raw ids (``source_id``, e-mail, ...) never leave in an output; the
    id written is the keyed pseudonymous ``person_id`` of ``[stakeholders]``, whose key
    must be the organisation's ``secret_file``, kept apart from the outputs: the key
    stored in the output folder (a job's default) would travel with the ids, and
    whoever holds both can recompute the id of any roster id they guess (HMAC of the
    silo and the id), which undoes the pseudonyms."""
    customer = options.get("customer")
    if customer != RFM_ID or not stakeholders:
        raise JobError(
            f"{label}: rfm_summary writes one row per customer with the customer's id; in "
            f"a job that id must be the keyed pseudonymous {RFM_ID!r} (never a raw id such "
            f"as {customer!r}): add a [stakeholders] section (with the rosters in [inputs]) "
            f"and set customer = {RFM_ID!r}."
        )
    if secret_file is None:
        raise JobError(
            f"{label}: rfm_summary writes each customer's keyed pseudonymous {RFM_ID!r}; "
            "their key must be kept apart from them. Set [stakeholders] secret_file to "
            "the organisation's secret (a file outside the output folder; "
            "hxmetrics.stakeholders.new_secret() makes one). Without it the job would "
            "store its key in the output folder, beside the ids, where anyone with the "
            "folder could recompute the id of any roster id they guess."
        )


def _bases(spec: MeasureSpec) -> tuple[str, str, str]:
    """(base of the output's cells, its n column, base of the rows_in count)."""
    if spec.function == "hx_index":
        person = spec.options.get("person") or spec.options.get("response", "response_id")
        # n counts persons; rows_in counts (response, item) rows: different units.
        return f"{spec.table}:hx_index:{person}", "n", f"{spec.table}:hx_index:rows"
    value = spec.options.get("score", "score")
    base = f"{spec.table}:answers:{value}"
    return base, "n", base


#: The counts of a probabilistic linkage that a manifest shows (through the privacy layer).
_LINKAGE_COUNTS = ("links", "pairs_to_review", "persons_with_uncertain_links")


def _protect(
    job: Job,
    results: Mapping[str, pd.DataFrame],
    rows_in: Mapping[str, int],
    linkage: dict[str, Any] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, int | None], Disclosure]:
    """Apply the job's disclosure control to every output and count at once.

    Every output table and every measure's ``rows_in`` is registered in one
    :class:`~hxmetrics.privacy.Disclosure`, so a group hidden in one output is hidden
    wherever it appears and cannot be recovered by subtraction across outputs or the
    manifest (nested ``where`` filters of one base included).
    """
    layer = Disclosure(job.min_n if job.min_n > 1 else None)
    registered = []
    for spec in job.measures:
        if spec.function == "rfm_summary":  # only reachable with min_n = 1 (no control)
            continue
        base, n_column, rows_base = _bases(spec)
        by = _groups(spec.function, spec.options)
        _refuse_personal_labels(results[spec.name], by, spec.name)
        layer.add(spec.name, results[spec.name], base=base, by=by, where=spec.where, n=n_column)
        layer.add_count(
            f"{spec.name}:rows_in", rows_in[spec.name], base=rows_base, where=spec.where
        )
        registered.append(spec)
    # The linkage counts of the manifest (pairs and persons): each its own population,
    # hidden (None) when smaller than min_n, like every other count the job writes.
    linkage_counts = [k for k in _LINKAGE_COUNTS if linkage is not None and k in linkage]
    for key in linkage_counts:
        assert linkage is not None
        layer.add_count(f"linkage:{key}", int(linkage[key]), base=f"linkage:{key}")
    for key in linkage_counts:
        assert linkage is not None
        linkage[key] = layer.count(f"linkage:{key}")
    shown = dict(results)
    counts: dict[str, int | None] = dict(rows_in)
    for spec in registered:
        table = layer.table(spec.name)
        own = spec.options.get("min_n")
        if own is not None and own > job.min_n:
            # A stricter threshold for this measure: applied within its own table
            # (primary and complementary); across outputs the job's min_n governs.
            strict = Disclosure(own)
            strict.add(
                spec.name,
                results[spec.name],
                base="own",
                by=_groups(spec.function, spec.options),
                n=_bases(spec)[1],
            )
            extra = strict.table(spec.name)
            more = extra["suppressed"].to_numpy() & ~table["suppressed"].to_numpy()
            # Counts become nullable (Int64) once anything may be hidden.
            table = table.astype(extra.dtypes.to_dict())
            table.loc[more] = extra.loc[more]
            if rows_in[spec.name] < own:
                counts[spec.name] = None
        # The strict layer may have hidden more rows: totals over the rows shown.
        shown[spec.name] = shown_totals(table.copy())
        if layer.count(f"{spec.name}:rows_in") is None:
            counts[spec.name] = None
    return shown, counts, layer


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def to_engine(df: pd.DataFrame, engine: str) -> Any:
    """Hand a pandas frame to another engine for the aggregations."""
    if engine == "pandas":
        return df
    if engine == "polars":
        import polars as pl

        return pl.from_pandas(df)
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if engine == "duckdb":
        import duckdb

        return duckdb.from_arrow(table)
    if engine == "spark":
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession() or (
            SparkSession.builder.master("local[2]")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        return spark.createDataFrame(table)
    raise ParameterError(f"engine must be one of {ENGINES}; got {engine!r}.")


def _label(spec: MeasureSpec) -> str:
    """How errors name a measure of the job: its ``name``, function and table."""
    return f"[[measure]] {spec.name} ({spec.function} on table {spec.table!r})"


def _apply_where(
    frame: Any, where: Mapping[str, Any], label: str, *, positions: bool = False
) -> Any:
    """The rows of ``frame`` matching ``where``. With ``positions``, a lazy frame's rows
    are numbered before the filter, so that a measure naming rows ("row N", as
    rfm_summary does) names the input's rows, as pandas does by its index labels."""
    nwf = nw.from_native(frame)
    for column in where:
        if column not in nwf.columns:
            raise JobError(
                f"{label}: where: column {column!r} not found; available {list(nwf.columns)}."
                + did_you_mean(column, nwf.columns)
            )
    if positions and where and isinstance(nwf, nw.LazyFrame):
        numbered = number_rows(nwf, table=label)
        nwf = nwf if numbered is None else numbered
    schema = dict(nwf.collect_schema().items())
    for column, value in where.items():
        nwf = nwf.filter(_where_condition(column, value, schema[column], label))
    return nwf.to_native()


def _where_kind(dtype: Any) -> str:
    """What a ``where`` value must be to compare with a column of ``dtype``."""
    if dtype == nw.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "number"
    if dtype in (nw.String, nw.Categorical, nw.Enum):
        return "text"
    if dtype == nw.Datetime:
        return "datetime"
    if dtype == nw.Date:
        return "date"
    return "any"  # pandas object columns: compared as pandas compares them


def _where_condition(column: str, value: Any, dtype: Any, label: str) -> nw.Expr:
    """``where``'s condition on one column of ``dtype``: one value or a list of them.

    The values must be of the column's kind, the same rule on every engine: pandas
    compared ``1`` with ``"1"`` as unequal (a filter matching nothing) where Polars and
    DuckDB raised their own type errors, and ``True`` equalled ``1.0``. Numbers compare
    as numbers (``4`` matches a float 4.0); an integer column takes whole numbers only.
    NaN is refused: pandas reads a missing float as NaN and would match it, the engines
    would not.
    """
    values = value if isinstance(value, list) else [value]
    kind = _where_kind(dtype)
    expected: tuple[type, ...] = {
        "boolean": (bool,),
        "integer": (int, float),
        "number": (int, float),
        "text": (str,),
        "datetime": (dt.datetime,),
        "date": (dt.date,),
        "any": (object,),
    }[kind]
    wrong = [
        v
        for v in values
        if not isinstance(v, expected)
        or (kind in ("integer", "number") and isinstance(v, bool))
        or (kind == "integer" and isinstance(v, float) and not v.is_integer())
        or (kind == "date" and isinstance(v, dt.datetime))
        or (isinstance(v, float) and not math.isfinite(v))
    ]
    if kind == "datetime" and not wrong:
        zoned = getattr(dtype, "time_zone", None) is not None
        wrong = [v for v in values if (v.tzinfo is not None) != zoned]
        kind = "time-zone-aware datetime" if zoned else "naive datetime"
    if wrong:
        shown = repr(wrong[0])
        text = pd.Series([str(wrong[0])], dtype=object)
        if column in IDENTIFIER_COLUMNS or looks_personal(text)[0]:
            shown = "a value (masked: it may identify a person)"
        raise JobError(
            f"{label}: where.{column}: column {column!r} holds {kind} values ({dtype}); "
            f"{shown} ({type(wrong[0]).__name__}) is not one."
            + (
                " A missing value is never matched: NaN and infinities are no where values."
                if isinstance(wrong[0], float) and not math.isfinite(wrong[0])
                else ""
            )
        )
    if kind == "integer":
        values = [int(v) for v in values]
    elif kind == "number":
        values = [float(v) for v in values]
    return nw.col(column).is_in(values)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    engines = ("pyarrow", "polars", "duckdb", "pyspark")
    for name in ("hxmetrics", "pandas", "numpy", "scipy", "narwhals", "pandera", *engines):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:  # pragma: no cover
            continue
    return out


def _excluded(result: pd.DataFrame) -> dict[str, int]:
    """Rows a measure left out, by reason: its ``n_excluded_*`` columns (summed over
    groups) and the ``{reason: count}`` of ``attrs["hxmetrics"]["excluded"]`` (or the
    older ``attrs["excluded"]``), for what no group holds (rows after an
    ``observation_end``, ...). A reason with a column counts the rows of that column
    only: the attrs may total hidden groups too."""
    out = {
        col.removeprefix("n_excluded_") or "total": int(result[col].sum())
        for col in result.columns
        if col.startswith("n_excluded")
    }
    per_group = set(out)
    meta = result.attrs.get("hxmetrics")
    for source in (
        meta.get("excluded") if isinstance(meta, dict) else None,
        result.attrs.get("excluded"),
    ):
        if not isinstance(source, Mapping):
            continue
        for reason, count in source.items():
            if str(reason) in per_group:
                continue
            if isinstance(count, (int, float)) and not isinstance(count, bool):
                out[str(reason)] = max(out.get(str(reason), 0), int(count))
    return out


def _manifest_entry(spec: MeasureSpec, shown: pd.DataFrame, rows_in: int | None) -> dict[str, Any]:
    hidden = int(shown["suppressed"].sum()) if "suppressed" in shown.columns else 0
    entry: dict[str, Any] = {
        "name": spec.name,
        "function": spec.function,
        "table": spec.table,
        "where": spec.where,
        "options": spec.options,
        "rows_in": rows_in,
        "rows_out": len(shown),
        "rows_suppressed": hidden,
        # Hidden rows show no counts, so their exclusions are not summed either.
        "excluded": _excluded(shown[~shown["suppressed"].astype(bool)] if hidden else shown),
    }
    # The result's columns no longer repeat how it was computed; the manifest says it.
    meta = shown.attrs.get("hxmetrics")
    if isinstance(meta, Mapping):
        for key in ("measure", "method", "confidence"):
            if isinstance(meta.get(key), (str, int, float)):
                entry[key] = meta[key]
    notes = []
    if rows_in is None:
        notes.append("rows_in is suppressed: the filtered population is a small group.")
    if hidden:
        notes.append(
            f"{hidden} of {len(shown)} groups are suppressed; 'excluded' counts the "
            "shown groups only (and rows outside every group)."
        )
    if notes:
        entry["notes"] = notes
    return entry


def _privacy_manifest(job: Job, layer: Disclosure) -> dict[str, Any]:
    if job.min_n <= 1:
        return {
            "min_n": job.min_n,
            "note": "[privacy] min_n = 1: no disclosure control; every group is shown.",
        }
    summary = layer.summary()
    return {
        "min_n": job.min_n,
        "rule": "primary suppression below min_n and secondary (complementary) "
        "suppression across every output and count of the job (hxmetrics.privacy)",
        "suppressed": {
            str(row["table"]): int(row["hidden"])
            for row in summary.to_dict("records")
            if ":rows_in" not in str(row["table"])
        },
    }


def run_job(job: Job) -> dict[str, Any]:
    """Run a checked job; returns the manifest (also written to the output dir).

    On engine pandas the inputs are read into memory. On Polars, DuckDB and Spark
    every step runs on the engine's lazy frames (:func:`hxmetrics._scan.scan`,
    :func:`hxmetrics.tables.validate_lazy`, exact identity resolution and attribution
    on the engine, the measures' aggregations); only aggregated tables come back.

    Raises :class:`~hxmetrics.errors.InputTableError` (invalid input) before anything
    is written; any failure leaves the output directory as it was.
    """
    # A run killed during an earlier write left the previous output aside: restore it
    # first, so that even a run that fails below leaves the output as it was.
    recovered = _outputs.recover(job.output_dir)
    if recovered:
        logger.info("cleaned up after a killed run: %d actions", len(recovered))
    catalogue = job_catalogue(job)
    with _connection(job) as session:
        tables, manifest_inputs = _read_inputs(job, catalogue, session)
        attribution: dict[str, Any] = {}
        linkage: dict[str, Any] | None = None
        secret: str | None = None
        secret_source: str | None = None
        if job.stakeholders:
            secret, secret_source = _secret(job)
            logger.debug(
                "resolving stakeholders of %s on keys %s",
                [t for t in ROSTERS if t in tables],
                "(default)" if job.keys is None else (list(job.keys) or "none: one per record"),
            )
            if job.engine == "pandas":
                linkage = _attribute_pandas(job, tables, attribution, secret)
            else:
                linkage = _attribute_on_engine(job, tables, attribution, secret, session)
        results, rows_counts = _run_measures(job, tables, manifest_inputs)

    shown, counts, layer = _protect(job, results, rows_counts, linkage)
    manifest_measures = []
    for spec in job.measures:
        entry = _manifest_entry(spec, shown[spec.name], counts[spec.name])
        if _partitioned(job, shown[spec.name]):
            entry["partitioned_by"] = list(job.partition_by)
        manifest_measures.append(entry)
        source = "a suppressed count of" if entry["rows_in"] is None else entry["rows_in"]
        logger.info(
            "measure %s (%s on %s): %d rows out, %d suppressed, from %s rows",
            spec.name,
            spec.function,
            spec.table,
            entry["rows_out"],
            entry["rows_suppressed"],
            source,
        )

    manifest = {
        "job": job.name,
        "job_file": str(job.path),
        "engine": job.engine,
        "versions": _versions(),
        "inputs": manifest_inputs,
        "attribution": attribution,
        "measures": manifest_measures,
        "privacy": _privacy_manifest(job, layer),
        "output_format": job.output_format,
    }
    if linkage is not None:
        manifest["linkage"] = linkage
    if catalogue is not None:
        manifest["instruments"] = {
            "banks": list(job.banks),
            "catalogue": None
            if job.catalogue_file is None
            else {"path": str(job.catalogue_file), "sha256": _sha256(job.catalogue_file)},
            "instruments": list(catalogue.instruments),
        }
    if secret_source is not None:
        # Where the secret behind person ids came from; never the secret itself.
        manifest["person_id_secret"] = secret_source
    if recovered:
        manifest["recovered"] = recovered
    _write_outputs(job, shown, manifest, secret=secret)
    logger.info("wrote %d outputs (%s) and manifest.json", len(shown), job.output_format)
    return manifest


@dataclass
class _Session:
    """The engine's side of a run: its one connection (DuckDB's, or the SparkSession)
    and the intermediate tables kept on the engine (dropped when the run ends)."""

    engine: str
    connection: Any = None
    scratch: Path | None = None
    kept: list[Any] = field(default_factory=list)

    def keep(self, frame: Any, name: str) -> Any:
        """``frame`` computed once and kept on the engine, read back lazily.

        The attributed exhaust tables are read by every measure; as lazy plans each
        measure would recompute validation, identity joins and attribution. DuckDB keeps
        the table in its own storage (spilling beyond ``memory_limit``), Spark keeps it
        on the executors (a local checkpoint: memory and disk), Polars streams it to a
        Parquet file in a temporary folder and scans that. Nothing is collected to Python.
        """
        if self.engine == "duckdb":
            table = f"hx_{name}_{len(self.kept)}"
            frame.create(table)
            self.kept.append(table)
            return self.connection.table(table)
        if self.engine == "spark":
            # Computed now and kept on the executors with its lineage cut: every later
            # query plans from one scan of the kept blocks. A persisted frame kept its
            # whole plan (scan, validation, identity joins, attribution): Spark analysed
            # it again, and compared it with the cache's plans, at every one of the dozens
            # of queries that read it (most of the sample job's time on Spark). Like
            # persist(MEMORY_AND_DISK), the blocks live on the executors; unlike it, a lost
            # executor is not recomputed (the job fails), as for the identity resolution's
            # own steps (stakeholders._engine_identity).
            kept = frame.localCheckpoint(eager=True)
            self.kept.append(kept)
            return kept
        if self.engine == "polars":
            import polars as pl

            assert self.scratch is not None  # made for engine polars
            file = self.scratch / f"{name}-{len(self.kept)}.parquet"
            frame.sink_parquet(file)
            self.kept.append(file)
            return pl.scan_parquet(file)
        return frame

    def release(self) -> None:
        for item in self.kept:
            if self.engine == "spark":
                from hxmetrics.stakeholders._engine_identity import free_checkpoint

                free_checkpoint(item)
            elif self.engine == "duckdb":
                self.connection.execute(f'DROP TABLE IF EXISTS "{item}"')
        self.kept.clear()


@contextlib.contextmanager
def _connection(job: Job) -> Iterator[_Session]:
    """The session of a run: DuckDB's one connection (with ``[engine]``'s options; also
    for a ``duckdb:`` input on pandas or Polars), the SparkSession on Spark, and for
    Polars a temporary folder for the tables kept (:meth:`_Session.keep`).

    What the run kept on the engine is dropped, and a DuckDB connection closed, when the
    run's results are in.
    """
    session = _Session(job.engine)
    with contextlib.ExitStack() as stack:
        if job.engine == "spark":
            session.connection = _scan.spark_session()
        elif job.engine == "duckdb" or any(s.kind == "duckdb" for s in job.inputs.values()):
            import duckdb

            config: dict[str, str | bool | int | float | list[str]] = (
                dict(job.engine_options) if job.engine == "duckdb" else {}
            )
            if "temp_directory" in config:
                Path(str(config["temp_directory"])).mkdir(parents=True, exist_ok=True)
            session.connection = duckdb.connect(config=config)
            stack.callback(session.connection.close)
        if job.engine == "polars":
            import tempfile

            session.scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.callback(session.release)
        yield session


def _read_inputs(
    job: Job, catalogue: Any, session: _Session
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Scan and validate every input on the job's engine; the manifest's inputs."""
    tables: dict[str, Any] = {}
    manifest_inputs: dict[str, dict[str, Any]] = {}
    for table, spec in job.inputs.items():
        logger.debug("reading %s (%s, %s)", table, spec.kind, spec.format or "table")
        frame = _scan.scan(
            spec,
            job.engine,
            connection=session.connection,
            scratch=session.scratch,
            table=table,
        )
        checks = {"instruments": catalogue} if table == "responses" else {}
        if job.engine == "pandas":
            tables[table] = validate(frame, table=table, **checks)
            rows = len(tables[table])
        else:
            tables[table], rows = _validate_on_engine(frame, table, checks)
        logger.info("validated %s: %d rows", table, rows)
        sha, why = _scan.checksum(spec)
        entry: dict[str, Any] = {"path": spec.location, "sha256": sha, "rows": rows}
        if why is not None:
            entry["sha256_note"] = why
        if spec.kind in ("glob", "directory"):
            entry["files"] = len(spec.files)
        manifest_inputs[table] = entry
    return tables, manifest_inputs


def _validate_on_engine(frame: Any, table: str, checks: Mapping[str, Any]) -> tuple[Any, int]:
    """:func:`hxmetrics.tables.validate_lazy`: the contract checked on the engine; the
    validated frame and its rows.

    The rows are counted in the validation's aggregate: a count of its own was one more
    query per input (on Spark a query's fixed cost exceeds a small table's count, even
    from Parquet metadata).
    """
    from hxmetrics._engine_tables import validate_counted

    # The instrument catalogue too (instruments=): checked on the engine.
    wanted = {k: v for k, v in checks.items() if v is not None}
    return validate_counted(frame, table=table, **wanted)


def _time_column(table: str) -> str:
    return "opened" if table == "tickets" else "timestamp"


def _attribute_pandas(
    job: Job, tables: dict[str, Any], attribution: dict[str, Any], secret: str
) -> dict[str, Any] | None:
    """Resolve persons and attribute every exhaust row in pandas (engine pandas)."""
    from hxmetrics.stakeholders import StakeholderRegistry

    linkage: dict[str, Any] | None = None
    rosters = [t for t in ROSTERS if t in tables]
    if job.linkage_method == "exact":
        registry = StakeholderRegistry.from_rosters(
            customers=tables.get("customers"),
            workers=tables.get("workers"),
            partners=tables.get("partners"),
            # An explicit empty list means no keys (one person per record), not the default.
            keys=None if job.keys is None else list(job.keys),
            secret=secret,
            validate_rosters=False,  # validated above
        )
    else:
        registry, linkage = _probabilistic_registry(job, tables, rosters, secret)
    crosswalk = registry.crosswalk
    logger.info(
        "resolved stakeholders: %d roster records, %d persons",
        len(crosswalk),
        crosswalk["person_id"].nunique(),
    )
    for table in list(tables):
        if table in ROSTERS:
            continue
        attributed = registry.attribute(tables[table], time=_time_column(table))
        # The attributed columns as text, as every other engine has them (a pandas
        # categorical group column would sort by its categories, text sorts by value):
        # the same job gives the same rows in the same order on every engine.
        categorical = [
            c for c, dtype in attributed.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)
        ]
        attributed = attributed.astype(dict.fromkeys(categorical, "str"))
        attribution[table] = _status_counts(attributed["attribution"].value_counts().to_dict())
        tables[table] = attributed
        logger.debug("attributed %s: %s", table, attribution[table])
    return linkage


def _attribute_on_engine(
    job: Job, tables: dict[str, Any], attribution: dict[str, Any], secret: str, session: _Session
) -> dict[str, Any] | None:
    """Identity resolution (exact, or probabilistic through splink on DuckDB and Spark)
    and as-of attribution on the engine's frames; the manifest's linkage entry of a
    probabilistic run (None for an exact one)."""
    from hxmetrics.stakeholders._engine_attribution import attribute_lazy, attribution_counts
    from hxmetrics.stakeholders._engine_identity import resolve_exact_lazy

    rosters = {t: tables[t] for t in ROSTERS if t in tables}
    keys = None if job.keys is None else list(job.keys)
    linkage: dict[str, Any] | None = None
    if job.linkage_method == "probabilistic":
        from hxmetrics.stakeholders._engine_linkage import resolve_probabilistic_lazy

        resolution: Any = resolve_probabilistic_lazy(
            rosters,
            keys=keys,
            secret=secret,
            model=job.model_file,
            threshold=job.threshold,
            random_state=0,
            connection=session.connection if job.engine == "duckdb" else None,
        )
        linkage = _linkage_entry(job, resolution.attrs)
    with _unordered(session, job.engine == "duckdb" and job.linkage_method == "exact"):
        if job.linkage_method == "exact":
            resolution = resolve_exact_lazy(rosters, keys=keys, secret=secret)
        # Attribution reads the crosswalk and the episodes several times per exhaust
        # table: computed once and kept on the engine (DuckDB spills them beyond
        # memory_limit), not recomputed from the rosters at every read.
        resolution = dataclasses.replace(
            resolution,
            crosswalk=session.keep(resolution.crosswalk, "crosswalk"),
            episodes=session.keep(resolution.episodes, "episodes"),
        )
    if logger.isEnabledFor(logging.INFO):
        records = getattr(resolution, "n_records", None)
        persons = getattr(resolution, "n_persons", None)
        if records is None or persons is None:
            # Two numbers back from the engine (the crosswalk stays there); the exact
            # resolution counted them already (a pass over the crosswalk less).
            counts = (
                nw.from_native(resolution.crosswalk)
                .lazy()
                .select(nw.len().alias("records"), nw.col("person_id").n_unique().alias("persons"))
                .collect()
            )
            records, persons = int(counts["records"][0]), int(counts["persons"][0])
        logger.info("resolved stakeholders: %d roster records, %d persons", records, persons)
    for table in list(tables):
        if table in ROSTERS:
            continue
        wanted = _columns_read(job, table)
        # Read by the answer measures only (wanted is known): they aggregate and never
        # name a row by its position, so DuckDB need not sort the rows back into the
        # input's order (at 1M records / 10M answers: 3.9 of the job's ~35 CPU seconds
        # and 0.8 GiB of peak RSS). Another measure (rfm_summary names rows) gets them
        # in order.
        attributed = attribute_lazy(
            tables[table], resolution, time=_time_column(table), ordered=wanted is None
        )
        if wanted is not None:
            # Only what the measures read is kept (and the status, counted below): the
            # attributed table is about twice as wide as its input and writing the
            # unread text columns cost more than the attribution itself (DuckDB,
            # 10M answers).
            names = nw.from_native(attributed).lazy().collect_schema().names()
            attributed = (
                nw.from_native(attributed)
                .lazy()
                .select([c for c in names if c in wanted or c == "attribution"])
                .to_native()
            )
        # The answer measures never name a row by its position: a table read by them
        # only is kept in any order (DuckDB then writes it without ordering its chunks).
        with _unordered(session, job.engine == "duckdb" and wanted is not None):
            attributed = session.keep(attributed, table)
        attribution[table] = _status_counts(attribution_counts(attributed))
        tables[table] = attributed
        logger.debug("attributed %s: %s", table, attribution[table])
    return linkage


@contextlib.contextmanager
def _unordered(session: _Session, apply: bool) -> Iterator[None]:
    """DuckDB: ``preserve_insertion_order = false`` while ``apply`` (the previous value
    restored after).

    Used where no row order matters: exact identity resolution on DuckDB (its tables
    are joined, aggregated and kept, each row's values decided by keys, never by a
    position), and keeping an attributed table that only the answer measures read
    (they aggregate, and never name a row by its position). Without the order DuckDB
    writes those tables without ordering their chunks, as the hand-written SQL of
    ``benchmarks/bench_engines.py`` runs. Row positions need the order ("row N" of an
    error: the 0-based place of a row in the input as read,
    :func:`hxmetrics._engine_tables._with_position`): validation, the attribution of a
    table another measure reads (``rfm_summary`` names rows), and the measures run
    with DuckDB's default (order kept). Not for the probabilistic path: splink's
    sampling is its own.
    """
    if not apply:
        yield
        return
    con = session.connection
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    previous = bool(row[0]) if row is not None else True
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if previous else 'false'}")


def _columns_read(job: Job, table: str) -> set[str] | None:
    """The columns the job's measures read from ``table``; None: every column.

    Known only for the answer measures (nps, csat, ces, mean_score), which read their
    ``score``, ``by`` and ``weights`` columns and nothing else; the ``where`` filters'
    columns too. Any other measure on the table (hx_index reads ``item`` and ``score``
    by name, for one) keeps every column.
    """
    wanted: set[str] = set()
    for spec in job.measures:
        if spec.table != table:
            continue
        if spec.function not in _ANSWER_MEASURES:
            return None
        wanted.update(spec.where)
        for option in ("score", "weights"):
            value = spec.options.get(option)
            if isinstance(value, str):
                wanted.add(value)
        wanted.update(_groups(spec.function, spec.options))
    return wanted


def _status_counts(counts: Mapping[Any, Any]) -> dict[str, int]:
    """Every attribution status with its count (0 included), in the statuses' order:
    the same manifest entry on every engine."""
    from hxmetrics.stakeholders.attribution import STATUSES

    out = {status: int(counts.get(status, 0)) for status in STATUSES}
    for key in sorted(set(map(str, counts)) - set(STATUSES)):
        out[key] = int(counts[key])
    return out


def _run_measures(
    job: Job, tables: Mapping[str, Any], manifest_inputs: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Every ``[[measure]]`` on the engine's frames; the (small) results as pandas."""
    functions = _measure_functions()
    results: dict[str, pd.DataFrame] = {}
    rows_counts: dict[str, int] = {}
    matching = _rows_matching(job, tables)
    for spec in job.measures:
        # rfm_summary names rows by position in its errors: numbered before the filter.
        named = spec.function == "rfm_summary"
        frame = _apply_where(tables[spec.table], spec.where, _label(spec), positions=named)
        rows_in = matching[spec.name]
        if rows_in == 0:
            # An empty group is almost always a typo in a value (values are compared
            # exactly, case included); a 0-row output would pass it silently.
            what = f"where {spec.where!r} matches no rows" if spec.where else "has no rows"
            raise JobError(
                f"[[measure]] {spec.name}: {what} of table {spec.table!r} "
                f"({manifest_inputs[spec.table]['rows']} rows). Values are compared exactly, "
                "case included; check them against the data."
            )
        options = dict(spec.options)
        if spec.function in _ANSWER_MEASURES:
            # The measure runs without its own suppression: the layer below sees the
            # true counts of every output at once and hides consistently.
            options["min_n"] = None
        elif spec.function == "hx_index":
            options["min_n"] = 1
        # rows_in is not logged here: it may be a count the disclosure control hides.
        logger.debug(
            "computing %s (%s on %s, %s)", spec.name, spec.function, spec.table, job.engine
        )
        result = _compute(functions[spec.function], frame, options, spec)
        if spec.function == "rfm_summary":
            result = _by_customer(result, str(spec.options["customer"]))
        results[spec.name] = result
        rows_counts[spec.name] = rows_in
    return results, rows_counts


def _rows_matching(job: Job, tables: Mapping[str, Any]) -> dict[str, int]:
    """The rows each ``[[measure]]``'s ``where`` selects: one aggregate per table.

    A count per measure was one query each; on Spark every query has a fixed cost of
    about a second, more than counting the sample's rows (the sample job's five
    measures of ``responses`` took five). The conditions are those of
    :func:`_apply_where` (a missing value never matches, as ``filter`` drops it). A
    measure whose ``where`` names a missing column is left out: :func:`_apply_where`
    refuses it by name, in the measures' order, as before.
    """
    counted: dict[str, int] = {}
    for name in dict.fromkeys(spec.table for spec in job.measures):
        frame = nw.from_native(tables[name]).lazy()
        schema = dict(frame.collect_schema().items())
        columns = set(schema)
        exprs: dict[str, nw.Expr] = {}
        for spec in job.measures:
            if spec.table != name or not set(spec.where) <= columns:
                continue
            if not spec.where:
                exprs[spec.name] = nw.len()
                continue
            conditions = [
                _where_condition(c, v, schema[c], _label(spec)) for c, v in spec.where.items()
            ]
            match = nw.all_horizontal(*conditions, ignore_nulls=False).fill_null(value=False)
            exprs[spec.name] = match.cast(nw.Int64).sum()
        if exprs:
            row = frame.select(**exprs).collect().rows(named=True)[0]
            counted.update({k: int(v or 0) for k, v in row.items()})
    return counted


def _probabilistic_registry(
    job: Job, tables: Mapping[str, Any], rosters: Sequence[str], secret: str
) -> tuple[Any, dict[str, Any]]:
    """The registry of ``[linkage] method = "probabilistic"`` and its manifest entry.

    The manifest says how records were linked (method, threshold, the model's source
    and checksum, counts of links, of pairs to review and of persons resting on an
    uncertain link); never a roster value or id.
    """
    from hxmetrics.stakeholders.registry import StakeholderRegistry
    from hxmetrics.tables import as_pandas

    frames = {t: as_pandas(tables[t], table=t) for t in rosters}
    # The registry keeps the model and the resolution arguments: relink() repeats them.
    registry = StakeholderRegistry.from_rosters(
        customers=frames.get("customers"),
        workers=frames.get("workers"),
        partners=frames.get("partners"),
        keys=None if job.keys is None else list(job.keys),
        secret=secret,
        validate_rosters=False,
        method="probabilistic",
        model=job.model_file,
        threshold=job.threshold,
        random_state=0,
    )
    return registry, _linkage_entry(job, registry.crosswalk.attrs["hxmetrics"])


def _linkage_entry(job: Job, info: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's ``linkage`` of a probabilistic run, from the resolution's counts
    (``crosswalk.attrs["hxmetrics"]`` on pandas, ``EngineLinkage.attrs`` on an engine)."""
    return {
        "method": "probabilistic",
        "threshold": info["threshold"],
        "review_band": info["review_band"],
        "model": "fitted on these rosters"
        if job.model_file is None
        else {"path": str(job.model_file), "sha256": _sha256(job.model_file)},
        "links": info["n_links"],
        "pairs_to_review": info["n_review_pairs"],
        "persons_with_uncertain_links": info["n_persons_uncertain"],
    }


def _by_customer(result: pd.DataFrame, customer: str) -> pd.DataFrame:
    """An ``rfm_summary`` output: the customer id as a column, rows sorted by it.

    The same rows in the same order on every engine, so that the file joins to other
    tables and two runs compare line by line.
    """
    out = result.copy()
    if customer not in out.columns:
        out.insert(0, customer, out.index.to_numpy())
    out[customer] = out[customer].astype(str)
    out = out.sort_values(customer, kind="stable").reset_index(drop=True)
    out.attrs = dict(result.attrs)
    return out


def _compute(
    function: Callable[..., pd.DataFrame],
    frame: Any,
    options: Mapping[str, Any],
    spec: MeasureSpec,
) -> pd.DataFrame:
    """Run one measure; its input and argument errors name the measure of the job.

    The measure itself only knows its ``data`` argument: a missing column would read
    ``INVALID input (data)`` with no hint of which ``[[measure]]`` asked for it.
    """
    try:
        return function(frame, **options)
    except InputTableError as exc:
        # Still an invalid input (exit 1): the job's table lacks what the measure needs.
        message = str(exc).removeprefix(f"{exc.table}: ")
        raise InputTableError(
            f"{_label(spec)}: {message}",
            table=spec.table,
            failure_cases=exc.failure_cases,
            measure=spec.name,
        ) from None
    except JobError:
        raise
    except ParameterError as exc:
        # The measure's arguments are the job file's options: a job-file mistake (exit 2).
        raise JobError(f"{_label(spec)}: {exc}") from None


SECRET_FILE = ".hxmetrics-secret"


def _secret(job: Job) -> tuple[str, str]:
    """The organisation's secret for person ids, and where it came from (never the
    secret itself: the manifest records only the source).

    ``[stakeholders] secret_file`` if given; else the one stored in the output folder by
    an earlier run (so person ids stay stable); else a new one, stored there.
    """
    if job.secret_file is not None:
        text = job.secret_file.read_text().strip()
        if not text:
            raise JobError(f"[stakeholders].secret_file {job.secret_file} is empty.")
        return text, f"secret_file {job.secret_file}"
    stored = job.output_dir / SECRET_FILE
    if _outputs.is_owned(job.output_dir) and stored.is_file() and not stored.is_symlink():
        text = stored.read_text().strip()
        if text:
            return text, f"stored in the output folder ({SECRET_FILE})"
    from hxmetrics.stakeholders import new_secret

    return new_secret(), f"generated by this run, stored in the output folder ({SECRET_FILE})"


def _write_secret(secret: str) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        # Created with mode 0600 (never readable by others, not even for a moment).
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")

    return write


def _writer(result: pd.DataFrame, fmt: str) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        if fmt == "csv":
            _outputs.neutralise_csv(result).to_csv(target, index=False)
        else:
            result.to_parquet(target, index=False)

    return write


def _partitioned(job: Job, result: pd.DataFrame) -> bool:
    """Whether an output is written as a partitioned folder: ``[output] partition_by``
    is given and the output holds every one of its columns."""
    return bool(job.partition_by) and all(c in result.columns for c in job.partition_by)


def _refuse_hive_null_values(result: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """A group whose value is the text ``__HIVE_DEFAULT_PARTITION__`` is refused.

    Hive names the folder of a missing value so; readers (pyarrow, Spark, DuckDB) read
    that folder back as missing, and would merge the group with the missing group
    (percent-encoding does not help: readers decode before they compare). The label is
    the marker itself, never a person's value, so the error names it.
    """
    for column in columns:
        values = result[column].astype("str").to_numpy(dtype=object)
        present = result[column].notna().to_numpy()
        if bool((present & (values == _scan._HIVE_NULL)).any()):
            raise JobError(
                f"[[measure]] {name}: partition column {column!r} has a group whose value is "
                f"the text {_scan._HIVE_NULL!r}, which a hive-partitioned folder cannot hold "
                "(readers take that folder as the missing group, merging the two). Rename "
                "the value in the input, or leave the column out of [output] partition_by."
            )


def _partitioned_writer(result: pd.DataFrame, columns: Sequence[str]) -> Callable[[Path], None]:
    """A hive-partitioned Parquet folder (``silo=workers/part-0.parquet``, ...).

    pyarrow writes it inside the staging folder the output layer gives; partition
    values are URI-encoded in folder names (a ``/`` in a value cannot leave it), and
    a missing value is ``__HIVE_DEFAULT_PARTITION__``.
    """

    def write(target: Path) -> None:
        import pyarrow as pa
        import pyarrow.dataset as ds

        table = pa.Table.from_pandas(result, preserve_index=False)
        ds.write_dataset(
            table,
            target,
            format="parquet",
            partitioning=list(columns),
            partitioning_flavor="hive",
            basename_template="part-{i}.parquet",
            existing_data_behavior="error",
        )

    return write


def _write_outputs(
    job: Job,
    results: Mapping[str, pd.DataFrame],
    manifest: dict[str, Any],
    *,
    secret: str | None = None,
) -> list[str]:
    writers: dict[str, Callable[[Path], None]] = {}
    for name, result in results.items():
        if _partitioned(job, result):
            _refuse_hive_null_values(result, job.partition_by, name)
            writers[name] = _partitioned_writer(result, job.partition_by)
        else:
            writers[f"{name}.{job.output_format}"] = _writer(result, job.output_format)
    text = json.dumps(manifest, indent=2, default=str) + "\n"

    def write_manifest(target: Path) -> None:
        target.write_text(text)

    writers["manifest.json"] = write_manifest
    if secret is not None and job.secret_file is None:
        writers[SECRET_FILE] = _write_secret(secret)
    return _outputs.write_outputs(
        job.output_dir,
        writers,
        owner={"job": job.name},
        inputs=[
            *job.input_files(),
            job.path.resolve(),
            *([job.secret_file] if job.secret_file else []),
        ],
    )
