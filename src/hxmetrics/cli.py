"""The ``hxmetrics`` command.

Exit codes: 0 success, 1 invalid input (a validation report is printed),
2 usage error, 3 runtime failure, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from hxmetrics.errors import HxError, InputTableError, ParameterError, UsageError
from hxmetrics.tables import OPTIONAL_TABLES, TABLES, read_table, table_from_filename, validate

# UsageError is defined in hxmetrics.errors; ``hxmetrics.cli.UsageError`` is kept for callers.
__all__ = ["UsageError", "main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_RUNTIME = 0, 1, 2, 3
#: 128 + SIGINT, what shells report for a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

#: The steps of a command (``-v`` shows them on stderr). Names of tables and counts only.
logger = logging.getLogger(__name__)


def _cmd_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for raw in args.paths:
        path = Path(raw)
        table = args.table or table_from_filename(path.name)
        if table is None:
            raise UsageError(
                f"{path}: cannot tell which table this is from its name; "
                f"name it after a table ({', '.join([*TABLES, *OPTIONAL_TABLES])}) or pass "
                "--table."
            )
        logger.debug("reading a %s file as table %s", path.suffix.lstrip(".") or "?", table)
        df = read_table(path)
        try:
            checked = validate(df, table=table)
        except InputTableError as exc:
            logger.info(
                "invalid %s: %d rows, %d failed checks", table, len(df), len(exc.failure_cases)
            )
            print(f"INVALID {path} ({table}, {len(df)} rows)\n{exc}\n")
            status = EXIT_INVALID
        else:
            logger.info("validated %s: %d rows, %d columns", table, len(checked), checked.shape[1])
            print(f"ok      {path} ({table}, {len(checked)} rows, {checked.shape[1]} columns)")
    return status


def _cmd_compute(args: argparse.Namespace) -> int:
    from hxmetrics.jobs import load_job, run_job

    job = load_job(args.job, engine=args.engine)  # a JobError is a UsageError: exit 2
    try:
        manifest = run_job(job)
    except InputTableError as exc:
        where = f" in [[measure]] {exc.measure}" if exc.measure else ""
        function = next((m.function for m in job.measures if m.name == exc.measure), "")
        where += f" ({function})" if function else ""
        print(f"INVALID input ({exc.table}){where}\n{exc}", file=sys.stderr)
        return EXIT_INVALID
    except HxError:
        raise
    except Exception as exc:
        print(f"hxmetrics: the job failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    for entry in manifest["measures"]:
        source = "a suppressed count of" if entry["rows_in"] is None else entry["rows_in"]
        hidden = entry.get("rows_suppressed", 0)
        extra = f" ({hidden} suppressed)" if hidden else ""
        print(f"ok      {entry['name']}: {entry['rows_out']} rows{extra} from {source} rows")
    print(f"wrote   {job.output_dir} ({job.output_format}, manifest.json)")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from hxmetrics.report.main import report_from_args

    return report_from_args(args)


_VERBOSE_HELP = "show the steps on stderr (INFO logs); -vv also the details (DEBUG)"


@contextlib.contextmanager
def _log_to_stderr(verbosity: int) -> Iterator[None]:
    """Show the ``hxmetrics`` loggers' records on stderr while a command runs.

    The handler is removed afterwards: ``main()`` called from Python (or twice) leaves
    the logging configuration as it found it.
    """
    if verbosity <= 0:
        yield
        return
    level = logging.INFO if verbosity == 1 else logging.DEBUG
    package = logging.getLogger("hxmetrics")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
    previous = package.level
    # Lower the package's level only: a caller who asked for DEBUG keeps it.
    package.setLevel(min(level, package.getEffectiveLevel()))
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(previous)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hxmetrics", description="Human-experience analytics on a unified stakeholder model."
    )
    from hxmetrics import __version__

    parser.add_argument("--version", action="version", version=f"hxmetrics {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_VERBOSE_HELP)
    # -v also after the command (hxmetrics compute --job j.toml -v); SUPPRESS keeps a
    # -v given before the command when none follows it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help=_VERBOSE_HELP
    )
    sub = parser.add_subparsers(dest="command", required=True)
    from hxmetrics.report.main import add_report_arguments

    rep = sub.add_parser(
        "report",
        parents=[common],
        help="the main job: one self-contained HTML report (default: the bundled sample)",
        description="Validate the tables, resolve stakeholders, compute the measures and "
        "write one self-contained HTML report. With no --data/--job it runs on the bundled "
        "sample organisation.",
    )
    add_report_arguments(rep)
    rep.set_defaults(func=_cmd_report)
    val = sub.add_parser(
        "validate",
        parents=[common],
        help="check CSV/Parquet files against the data contract",
        description="Check each file against the table contract. The table is inferred "
        "from the file name (responses.csv, workers_2025.parquet, ...) unless --table "
        "is given.",
    )
    val.add_argument("paths", nargs="+", metavar="PATH")
    val.add_argument("--table", choices=[*TABLES, *OPTIONAL_TABLES], help="table of every PATH")
    val.set_defaults(func=_cmd_validate)

    com = sub.add_parser(
        "compute",
        parents=[common],
        help="run a batch job file: measures on your tables, tidy outputs and a manifest",
        description="Run the measures a TOML job file names on its input tables and "
        "write one tidy file per measure plus manifest.json. Groups smaller than "
        "[privacy] min_n (default 5) are suppressed consistently across every output and "
        "the manifest. Outputs go only into a folder hxmetrics created (or an empty one); "
        "a failed, interrupted or killed run leaves the previous output as it was (the "
        "next run restores it after a kill). Exit codes: 0 ok, 1 invalid input, 2 usage "
        "error (a bad job file, an output path that is not hxmetrics'), 3 runtime "
        "failure, 130 interrupted.",
    )
    com.add_argument("--job", required=True, metavar="JOB.toml")
    com.add_argument(
        "--engine", choices=("pandas", "polars", "duckdb", "spark"), help="overrides [job].engine"
    )
    com.set_defaults(func=_cmd_compute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        with _log_to_stderr(args.verbose):
            code: int = args.func(args)
    except KeyboardInterrupt:
        # Outputs are written atomically: an interrupted run left the previous ones.
        print("hxmetrics: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ParameterError) as exc:
        print(f"hxmetrics: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputTableError as exc:
        print(f"hxmetrics: invalid input:\n{exc}", file=sys.stderr)
        return EXIT_INVALID
    except HxError as exc:
        print(f"hxmetrics: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
