"""Run a job file on Spark: the ``spark-submit`` entry point.

On a cluster (or locally), submit this module with the job file::

    spark-submit $(python -c "import hxmetrics.spark_job as m; print(m.__file__)") job.toml

or, with pyspark installed and a local or configured Spark::

    python -m hxmetrics.spark_job job.toml

The job runs on the active SparkSession (``SparkSession.builder.getOrCreate()``: the
one ``spark-submit`` configured, with its ``--master`` and ``--conf`` settings), as
``hxmetrics compute --job job.toml --engine spark`` does: inputs are read by Spark
(Parquet files, globs, hive-partitioned folders, CSV, ``spark:db.table`` catalogue
tables), validated, resolved, attributed and aggregated by Spark; only the aggregated
tables come back to the driver, where the disclosure control runs and the outputs are
written into the job's output folder (which must be reachable from the driver). The
session time zone is UTC while the job runs (timestamps are naive UTC throughout).

Exit codes are those of ``hxmetrics compute``: 0 ok, 1 invalid input, 2 usage error
(a bad job file), 3 runtime failure, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "session"]


def session() -> Any:
    """The active SparkSession, or a new one from ``spark-submit``'s configuration."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.getActiveSession() or SparkSession.builder.appName("hxmetrics").getOrCreate()
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job file named in ``argv`` on Spark; returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        ``[JOB.toml]`` and optionally ``-v``/``-vv`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code of ``hxmetrics compute``.
    """
    parser = argparse.ArgumentParser(
        prog="hxmetrics.spark_job",
        description="Run a hxmetrics job file on the active SparkSession (spark-submit).",
    )
    parser.add_argument("job", metavar="JOB.toml")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    from hxmetrics.cli import main as cli_main

    spark = session()
    key = "spark.sql.session.timeZone"
    previous = spark.conf.get(key)
    spark.conf.set(key, "UTC")
    try:
        verbose = ["-" + "v" * args.verbose] if args.verbose else []
        return cli_main(["compute", "--job", args.job, "--engine", "spark", *verbose])
    finally:
        spark.conf.set(key, previous)


if __name__ == "__main__":  # pragma: no cover (run by spark-submit; tested in-process)
    sys.exit(main())
