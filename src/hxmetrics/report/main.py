"""The main job: one self-contained HTML report on a roster-and-exhaust data set.

:func:`build_report` takes the contract tables (rosters and exhaust), checks them,
resolves the stakeholders, computes every measure through the public functions of
:mod:`hxmetrics.measures`, :mod:`hxmetrics.stakeholders` and :mod:`hxmetrics.compare`,
and returns a :class:`~hxmetrics.report.Report`. :func:`run_report` reads the tables
(the bundled sample, a directory, or the ``[inputs]`` of a job file), builds the
report and writes it after the privacy checks. The sections themselves live in
:mod:`hxmetrics.report.sections`, one function per section.

The same input gives the same bytes: no timestamp, no path and no random seed that
is not fixed goes into the document.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hxmetrics.errors import ParameterError, did_you_mean
from hxmetrics.measures.privacy import WORKER_MIN_N, check_min_n
from hxmetrics.report.builder import Report, check_target
from hxmetrics.report.privacy import distinct_identifiers
from hxmetrics.report.progress import Progress
from hxmetrics.report.sections import SECTIONS, Context
from hxmetrics.tables import (
    ID_COLUMN,
    OPTIONAL_TABLES,
    ROSTERS,
    SUFFIXES,
    TABLES,
    read_table,
    table_from_filename,
    validate,
)

__all__ = [
    "DEFAULT_OUT",
    "DEFAULT_TITLE",
    "add_report_arguments",
    "build_report",
    "default_as_of",
    "input_identifiers",
    "read_tables",
    "report_from_args",
    "run_report",
]

DEFAULT_TITLE = "Human-experience report"
DEFAULT_OUT = Path("hxmetrics-report.html")
#: Seed of every random step (bootstrap intervals); fixed so that a report is repeatable.
DEFAULT_SEED = 20240611
# Columns holding personal identifiers or record ids: never shown in a report.
_ID_COLUMNS = ("email", "phone", "source_id", "comment_id", "invitation_id", *ID_COLUMN.values())
# Numeric ids this short cannot be told from counts in the text, so the guard skips
# them (the report never prints an id; the guard is the second line of defence).
_MIN_NUMERIC_ID = 6
_TIME_COLUMNS = {"tickets": "opened", "invitations": "sent"}
#: Optional tables whose rows another table refers to, checked against it.
_PARENTS = {"ticket_events": "tickets", "responses": "invitations"}


def _time_column(table: str) -> str:
    return _TIME_COLUMNS.get(table, "timestamp")


def read_tables(directory: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read every contract table found in a directory of CSV or Parquet files.

    A file belongs to the table its name starts with (``responses.csv``,
    ``workers_2025.parquet``; see :func:`hxmetrics.tables.table_from_filename`).
    Files of other names are ignored; two files for one table are an error. CSV
    values are read as text: the contract (:func:`hxmetrics.validate`) gives them
    their types.

    Parameters
    ----------
    directory : path-like
        The folder to read (not recursive).

    Returns
    -------
    dict of str to DataFrame
        Table name to frame, in the contract's order (rosters first).

    Raises
    ------
    ParameterError
        If the folder does not exist, holds no table, or holds two files for one table.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"worker_id": ["w1"]}).to_csv(f"{folder}/workers.csv", index=False)
    >>> list(read_tables(folder))
    ['workers']
    """
    files = _table_files(directory)
    return {t: read_table(files[t]) for t in (*TABLES, *OPTIONAL_TABLES) if t in files}


def _table_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """The file of each contract table in a folder (see :func:`read_tables`)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ParameterError(f"--data: {folder} is not a directory.")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            continue
        table = table_from_filename(path.name)
        if table is None:
            continue
        if table in found:
            raise ParameterError(
                f"{folder}: two files for table {table!r}: {found[table].name} and {path.name}. "
                "Keep one (or concatenate them first)."
            )
        found[table] = path
    if not found:
        names = sorted(p.name for p in folder.iterdir() if p.is_file())[:10]
        raise ParameterError(
            f"{folder}: no table files found. Name each CSV/Parquet file after its table "
            f"({', '.join((*TABLES, *OPTIONAL_TABLES))}), e.g. responses.csv; found: "
            f"{names or 'no files'}."
        )
    return found


def _job_files(job: str | os.PathLike[str]) -> dict[str, Path]:
    """The ``[inputs]`` of a job file by table (see :func:`hxmetrics.jobs.job_inputs`)."""
    from hxmetrics.jobs import job_inputs

    return job_inputs(job)


def _job_linkage(job: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``[linkage]`` of a job file: method, saved model and threshold."""
    from hxmetrics.jobs import job_linkage

    method, model, threshold = job_linkage(job)
    return {"method": method, "model": model, "threshold": threshold}


def _job_catalogue(job: str | os.PathLike[str]) -> tuple[Any, list[Path]]:
    """The instrument catalogue of a job file's ``[instruments]`` (None without one),
    and the catalogue file read."""
    from hxmetrics.jobs import job_instruments, read_catalogue

    banks, file = job_instruments(job)
    if not banks and file is None:
        return None, []
    return read_catalogue(banks, file), [] if file is None else [file]


def _catalogue(specs: Sequence[str]) -> tuple[Any, list[Path]]:
    """Banks by name and catalogue files by path, as one catalogue (and the files read)."""
    from hxmetrics.instruments import BANKS
    from hxmetrics.jobs import read_catalogue

    banks = [s for s in specs if s in BANKS]
    files = [Path(s) for s in specs if s not in BANKS]
    for file in files:
        if file.suffix.lower() not in (".toml", ".csv") or not file.is_file():
            raise ParameterError(
                f"--instruments: {str(file)!r} is neither a built-in bank "
                f"({', '.join(BANKS)}) nor a .toml or .csv catalogue file."
                + did_you_mean(str(file), list(BANKS))
            )
    if len(files) > 1:
        raise ParameterError("--instruments: give at most one catalogue file.")
    return read_catalogue(banks, files[0] if files else None), files


def _tables_from_job(job: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The ``[inputs]`` of a job file (see :func:`hxmetrics.jobs.job_inputs`), read."""
    return {table: read_table(path) for table, path in _job_files(job).items()}


def default_as_of(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """The day after the latest date in the tables: the default reference date.

    Retention is censored at this date, roles "now" are the roles held on it, and
    lifetime value counts purchases up to it. Every start, end and exhaust
    timestamp is considered, so the date depends on the data only.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Validated contract tables.

    Returns
    -------
    pandas.Timestamp
        Midnight after the latest timestamp.

    Examples
    --------
    >>> import pandas as pd
    >>> t = {"responses": pd.DataFrame({"timestamp": pd.to_datetime(["2025-03-01 10:00"])})}
    >>> default_as_of(t)
    Timestamp('2025-03-02 00:00:00')
    """
    latest: list[pd.Timestamp] = []
    for name, frame in tables.items():
        columns = ("start", "end") if name in ROSTERS else (_time_column(name),)
        for column in columns:
            if column in frame.columns:
                value = pd.to_datetime(frame[column]).max()
                if pd.notna(value):
                    latest.append(pd.Timestamp(value))
    if not latest:
        raise ParameterError(
            "cannot choose a reference date: the tables hold no dates. Pass as_of=..."
        )
    return max(latest).normalize() + pd.Timedelta(days=1)


def input_identifiers(
    tables: Mapping[str, pd.DataFrame], *, person_ids: Sequence[str] | pd.Index = ()
) -> list[str]:
    """Every personal identifier and record id in the input: what a report must not show.

    Emails, phones, the rosters' ids and the exhaust tables' ``source_id`` values, and
    the resolved ``person_ids``. Numeric ids shorter than 6 digits are left out: they
    cannot be told from ordinary numbers in the text.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The input tables.
    person_ids : sequence of str, optional
        Resolved person ids (``registry.crosswalk["person_id"]``).

    Returns
    -------
    list of str
        Distinct values, sorted, for :meth:`Report.write`'s ``forbidden``.

    Examples
    --------
    >>> import pandas as pd
    >>> roster = pd.DataFrame({"worker_id": ["W-001", "1234"], "email": ["a@x.org", None]})
    >>> input_identifiers({"workers": roster}, person_ids=["P9f3"])
    ['P9f3', 'W-001', 'a@x.org']
    """
    return _identifiers(tables, person_ids).sort_values(ignore_index=True).tolist()


def _identifiers(
    tables: Mapping[str, pd.DataFrame], person_ids: Sequence[str] | pd.Index
) -> pd.Series:
    """:func:`input_identifiers` unsorted (the guard does not need the order)."""
    # One pass: the person ids are one more table, and the short numeric ids are left
    # out while collecting (no filtered copy of millions of strings).
    people = pd.DataFrame({"person_id": pd.Index(person_ids, dtype=object).astype("str")})
    return distinct_identifiers(
        [*tables.values(), people],
        columns=[*_ID_COLUMNS, "person_id"],
        min_digits=_MIN_NUMERIC_ID,
    )


def _unlinked_ids(
    tables: Mapping[str, pd.DataFrame], attributed: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The tables' identifier columns, an exhaust table's ``source_id`` only where unlinked.

    An exhaust row linked to a person names a roster record: its ``source_id`` is
    that record's id, which the roster's id column already gives to the guard. Only
    the ids of rows linked to no one are new; collecting those alone spares hashing
    every exhaust row's id (tens of millions at scale) for the same list.
    """
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        columns = [c for c in _ID_COLUMNS if c in frame.columns]
        done = attributed.get(name)
        if (
            done is None
            or "source_id" not in columns
            or "person_id" not in done.columns
            or len(done) != len(frame)
        ):
            out[name] = frame[columns]
            continue
        unlinked = done["person_id"].isna().to_numpy()
        out[name] = frame[[c for c in columns if c != "source_id"]]
        out[f"{name}:unlinked"] = frame.loc[unlinked, ["source_id"]]
    return out


def build_report(
    tables: Mapping[str, pd.DataFrame],
    *,
    title: str = DEFAULT_TITLE,
    source: str | None = None,
    as_of: Any = None,
    min_n: int = WORKER_MIN_N,
    keys: Sequence[str] = ("email", "phone"),
    confidence: float = 0.95,
    random_state: int = DEFAULT_SEED,
    progress: Progress | None = None,
    method: str = "exact",
    model: Any = None,
    threshold: float | None = None,
    instruments: Any = None,
) -> Report:
    """Compute every measure on the tables and lay them out as a report.

    Steps: validate each table against the contract; resolve identities across the
    rosters and attribute every exhaust row to a person and the roles held at its
    time; then one section per topic (see :data:`hxmetrics.report.sections.SECTIONS`):
    overview, who crosses roles, experience by role and hybrid type, siloed vs
    unified, reliability and the HX index, lifetime value and retention, data
    quality. A section whose tables are missing says so in one note instead of
    failing; rosters without contact keys give one person per record.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Contract tables by name: at least one roster (``customers``, ``workers``,
        ``partners``); everything else is optional. ``responses`` enables the
        experience measures, ``transactions`` lifetime value; other tables are checked,
        counted and used by the sections that read them. Without ``responses`` (an HR
        roster, a transaction log) the report shows what the other tables hold and
        says once, in each section of survey measures, that there are no answers.
    title : str, default "Human-experience report"
        The report's title.
    source : str, optional
        One phrase naming the data, shown under the title (never a file path).
    as_of : timestamp, optional
        Reference date (censoring of tenure, end of the purchase history, roles
        "now"). Default :func:`default_as_of`.
    min_n : int, default 5
        Smallest group shown in any table or figure of the report
        (:data:`~hxmetrics.measures.privacy.WORKER_MIN_N`); smaller groups are
        suppressed, with complementary suppression, and never below a measure's own
        minimum.
    keys : sequence of str, default ("email", "phone")
        Roster columns that link records of one person across silos.
    confidence : float, default 0.95
        Level of every interval.
    random_state : int
        Seed of the bootstrap intervals (fixed by default), and of the linkage
        model's fit with ``method="probabilistic"``.
    progress : Progress, optional
        Step progress on stderr (see :class:`~hxmetrics.report.Progress`).
    method : {"exact", "probabilistic"}, default "exact"
        How records of one person are linked across the silos, as in
        :meth:`~hxmetrics.stakeholders.StakeholderRegistry.from_rosters`:
        ``"probabilistic"`` scores record pairs on names, dates of birth and
        addresses (needs ``hxmetrics[linkage]``). The report's footer says which.
    model : LinkageModel or path, optional
        With ``method="probabilistic"``: a saved linkage model
        (:meth:`~hxmetrics.stakeholders.probabilistic.LinkageModel.save`), so that a
        pipeline links with the same weights every run; default: fitted on the
        rosters.
    threshold : float, optional
        With ``method="probabilistic"``: the match probability that links two
        records (default: the library's).
    instruments : InstrumentCatalogue, optional
        Check every answer against its item in this catalogue before anything is
        computed (:func:`hxmetrics.tables.validate` with ``instruments=``): an answer
        off its item's scale or to an item the catalogue lacks stops the report.

    Returns
    -------
    Report
        Its ``forbidden`` list holds every identifier of the input
        (:func:`input_identifiers`), so ``report.write(path)`` refuses a document
        that would show one. :func:`run_report` builds and writes in one call.

    Raises
    ------
    InputTableError
        A table breaks the data contract (the message lists every failed check).
    ParameterError
        A required table is missing or an option is out of range.
    """
    min_n_checked = check_min_n(min_n)
    if min_n_checked is None:  # pragma: no cover - check_min_n returns None only for None
        raise ParameterError("min_n must be a positive integer.")
    contract = (*TABLES, *OPTIONAL_TABLES)
    unknown = [t for t in tables if t not in contract]
    if unknown:
        raise ParameterError(
            f"unknown table(s) {unknown}; the contract has {', '.join(contract)}."
            + did_you_mean(str(unknown[0]), contract)
        )
    if not any(t in tables for t in ROSTERS):
        raise ParameterError(
            "the report needs at least one roster (customers, workers or partners) to "
            f"resolve the stakeholders; got only {sorted(tables)}."
        )
    steps = Progress(total=len(SECTIONS) + 3, enabled=False) if progress is None else progress
    with steps.step("Checking the tables against the contract"):
        checked: dict[str, pd.DataFrame] = {}
        # Parents first (the contract's order), so that a child is checked against
        # its parent's checked rows: ticket events against tickets, responses
        # against their invitations.
        for t in sorted(
            (t for t in contract if t in tables), key=lambda t: (t in _PARENTS, contract.index(t))
        ):
            options: dict[str, Any] = {"instruments": instruments} if t == "responses" else {}
            parent = _PARENTS.get(t)
            if parent in checked:
                options["parents"] = {parent: checked[parent]}
            checked[t] = validate(tables[t], table=t, **options)
    with steps.step("Resolving stakeholders and attributing exhaust rows"):
        context = Context.build(
            checked,
            as_of=default_as_of(checked) if as_of is None else pd.Timestamp(as_of),
            min_n=min_n_checked,
            keys=tuple(keys),
            confidence=confidence,
            random_state=random_state,
            method=method,
            model=model,
            threshold=threshold,
            catalogue=instruments,
        )
    with steps.step("Computing every measure and the disclosure plan"):
        # Every number of every section is registered with one disclosure layer before
        # anything is laid out, so that what is hidden is decided across all of them.
        context.plan()
    report = Report(
        title=title,
        subtitle=context.subtitle(source),
        footer=context.footer(),
        # The same values as input_identifiers(tables, ...), found without hashing every
        # exhaust row's id and without sorting them (the order does not matter).
        forbidden=_identifiers(
            _unlinked_ids(tables, context.attributed), context.person_ids()
        ).tolist(),
    )
    for label, section in SECTIONS:
        with steps.step(label):
            section(report, context)
    return report


def run_report(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    job: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    title: str = DEFAULT_TITLE,
    as_of: Any = None,
    min_n: int = WORKER_MIN_N,
    keys: Sequence[str] = ("email", "phone"),
    progress: bool | None = None,
    method: str | None = None,
    model: str | os.PathLike[str] | None = None,
    threshold: float | None = None,
    instruments: Sequence[str] | None = None,
) -> Path:
    """Build the report and write it to one self-contained HTML file.

    With neither ``data_dir`` nor ``job`` it runs on the bundled sample organisation
    (:func:`hxmetrics.datasets.load_sample`).

    Parameters
    ----------
    data_dir : path-like, optional
        A folder of CSV/Parquet files named after the contract tables
        (see :func:`read_tables`).
    job : path-like, optional
        A job file (:mod:`hxmetrics.jobs`): its ``[inputs]`` are read, its measures
        are not run. Not together with ``data_dir``.
    out : path-like, default "hxmetrics-report.html"
        The HTML file to write; its folder must exist. It is checked before any work
        (:func:`~hxmetrics.report.builder.check_target`): an existing file is replaced
        only if it is an hxmetrics report, never an input, a folder or a symlink.
    title, as_of, min_n, keys
        As in :func:`build_report`.
    method, model, threshold
        How records are linked, as in :func:`build_report`. Default: the job file's
        ``[linkage]`` section (``method``, ``model_file``, ``threshold``) when ``job``
        is given, else ``"exact"``; a value given here wins over the job file's (another
        method than the job file's drops its model and threshold).
    instruments : sequence of str, optional
        Built-in bank names (``core``, ``zero_distance``, ``customer_centricity``)
        and/or catalogue files (``.toml``, ``.csv``) to check every answer against.
        Default: the job file's ``[instruments]`` when ``job`` is given, else none.
    progress : bool, optional
        Step progress on stderr; default: only when stderr is a terminal.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ParameterError
        ``out`` may not be written (checked before anything is read or computed).
    InputTableError
        A table breaks the contract (nothing is written).
    PrivacyError
        The document would contain an identifier from the input (nothing is written).
    """
    if data_dir is not None and job is not None:
        raise ParameterError("give either a data directory or a job file, not both.")
    # Where the tables come from, then whether --out may be written: both before any
    # work, so that a bad --out fails in a second, not after the whole run.
    linkage: dict[str, Any] = {"method": "exact", "model": None, "threshold": None}
    if job is not None:
        files = _job_files(job)
        inputs = [Path(job), *files.values()]
        linkage = _job_linkage(job)
        if linkage["model"] is not None:
            inputs.append(Path(linkage["model"]))
    elif data_dir is not None:
        files = _table_files(data_dir)
        inputs = list(files.values())
    else:
        files, inputs = {}, []
    catalogue = None
    if instruments is not None:
        catalogue, files_read = _catalogue(instruments)
        inputs.extend(files_read)
    elif job is not None:
        catalogue, files_read = _job_catalogue(job)
        inputs.extend(files_read)
    if method is not None and method != linkage["method"]:
        # Another method than the job file's: its model and threshold do not apply.
        linkage = {"method": method, "model": None, "threshold": None}
    given = {"model": model, "threshold": threshold}
    linkage |= {k: v for k, v in given.items() if v is not None}
    if model is not None:
        inputs.append(Path(model))
    target = check_target(out, inputs=inputs)
    steps = Progress(total=len(SECTIONS) + 5, enabled=progress)
    with steps.step("Reading the tables"):
        if job is not None:
            tables = {table: read_table(path) for table, path in files.items()}
            source = f"{len(tables)} tables named in a job file"
        elif data_dir is not None:
            tables = {t: read_table(files[t]) for t in (*TABLES, *OPTIONAL_TABLES) if t in files}
            source = f"{len(tables)} tables read from a data folder"
        else:
            from hxmetrics.datasets import load_sample

            sample = load_sample()
            tables = dict(sample.tables)
            for name in OPTIONAL_TABLES:
                if getattr(sample, name, None) is not None:
                    tables[name] = getattr(sample, name)
            source = "the bundled synthetic sample organisation"
    report = build_report(
        tables,
        title=title,
        source=source,
        as_of=as_of,
        min_n=min_n,
        keys=keys,
        progress=steps,
        method=linkage["method"],
        model=linkage["model"],
        threshold=linkage["threshold"],
        instruments=catalogue,
    )
    with steps.step("Checking for identifiers and writing the report"):
        return report.write(target, inputs=inputs)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"expected a date such as 2025-12-31, got {text!r}"
        ) from None


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``hxmetrics report`` to a parser (the CLI and ``-m`` share them).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The (sub)parser to extend.

    Returns
    -------
    argparse.ArgumentParser
        The same parser; :func:`report_from_args` runs the report from its namespace.

    Examples
    --------
    >>> import argparse
    >>> args = add_report_arguments(argparse.ArgumentParser()).parse_args(["--min-n", "10"])
    >>> args.data, args.min_n, str(args.out)
    (None, 10, 'hxmetrics-report.html')
    """
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data",
        metavar="DIR",
        help="folder of CSV/Parquet files named after the tables (customers.csv, "
        "responses.parquet, ...); default: the bundled sample organisation",
    )
    source.add_argument(
        "--job", metavar="FILE", help="read the [inputs] of a job file instead of --data"
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        type=Path,
        default=DEFAULT_OUT,
        help=f"HTML file to write (default: {DEFAULT_OUT})",
    )
    parser.add_argument("--title", default=DEFAULT_TITLE, help="title of the report")
    parser.add_argument(
        "--as-of",
        metavar="DATE",
        type=_date,
        default=None,
        help="reference date for retention and lifetime value (default: the day after "
        "the latest date in the data)",
    )
    parser.add_argument(
        "--min-n",
        metavar="N",
        type=_positive_int,
        default=WORKER_MIN_N,
        help=f"smallest group shown; smaller groups are suppressed (default: {WORKER_MIN_N})",
    )
    parser.add_argument(
        "--keys",
        # "*": --keys alone means no key, one person per record, so rosters of ids
        # only (a CRM export, a transaction log's customers) register.
        nargs="*",
        metavar="COLUMN",
        default=["email", "phone"],
        help="roster columns that link one person's records (default: email phone; "
        "those the rosters have); --keys alone: no key, one person per record",
    )
    parser.add_argument(
        "--method",
        choices=["exact", "probabilistic"],
        default=None,
        help="how records of one person are linked across silos: exact shared keys "
        "(default) or a probabilistic record-linkage model (needs hxmetrics[linkage]); "
        "default with --job: its [linkage] method",
    )
    parser.add_argument(
        "--model",
        metavar="FILE",
        default=None,
        help="with --method probabilistic: a saved linkage model (LinkageModel.save)",
    )
    parser.add_argument(
        "--threshold",
        metavar="P",
        type=_probability,
        default=None,
        help="with --method probabilistic: the match probability that links two records",
    )
    parser.add_argument(
        "--instruments",
        nargs="+",
        metavar="BANK_OR_FILE",
        default=None,
        help="check every answer against these item banks (core, zero_distance, "
        "customer_centricity) and/or a catalogue file (.toml or .csv); default with "
        "--job: its [instruments]",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress on stderr, even on a terminal"
    )
    return parser


def report_from_args(args: argparse.Namespace) -> int:
    """Run :func:`run_report` from parsed :func:`add_report_arguments` options.

    Prints the path written on stdout and returns 0; errors propagate as
    :class:`~hxmetrics.errors.HxError` subclasses for the caller to map to exit codes.
    """
    written = run_report(
        args.data,
        job=args.job,
        out=args.out,
        title=args.title,
        as_of=args.as_of,
        min_n=args.min_n,
        keys=tuple(args.keys),
        progress=False if args.quiet else None,
        method=args.method,
        model=args.model,
        threshold=args.threshold,
        instruments=args.instruments,
    )
    print(f"wrote {written}")
    return 0
