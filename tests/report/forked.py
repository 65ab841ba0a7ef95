"""Child processes for the kill tests, forked from one clean server that has imported
hxmetrics.

The tests SIGKILL a write at each of its steps and check what the next run recovers.
A fresh interpreter per step spent about 2 CPU seconds on imports. Here every child is
forked from multiprocessing's fork server: a fresh interpreter, started once per test
session, that has imported the modules below and run nothing else. A child therefore
shares nothing with the test process but the files (forking the test process itself,
which runs threads such as BLAS, DuckDB or Arrow pools of earlier tests, can crash the
child with SIGSEGV), starts with the imports done, and dies by the same SIGKILL of
``HXMETRICS_TEST_KILL_AT`` as before.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: What the children import: the CLI's compute job and the report writer (their
#: validation imports pandera lazily), and this module, whose functions they run.
PRELOAD = ["hxmetrics.cli", "hxmetrics.jobs", "hxmetrics.report", "pandera.pandas", __name__]


def run_forked(target: Callable[..., Any], *args: Any) -> int:
    """Run ``target(*args)`` in a child of the fork server and wait for it.

    Returns
    -------
    int
        Its exit status, or minus the signal that killed it (as ``subprocess``).
    """
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts, at the first child of the session.
    context.set_forkserver_preload(PRELOAD)
    child = context.Process(target=target, args=args)
    child.start()
    child.join()
    assert child.exitcode is not None
    return child.exitcode


def _kill_at(step: int | None) -> None:
    os.environ.pop("HXMETRICS_TEST_KILL_AT", None)
    if step is not None:
        os.environ["HXMETRICS_TEST_KILL_AT"] = str(step)


def cli(step: int | None, argv: list[str]) -> None:
    """The CLI, SIGKILLed at write step ``step``; exits with 100 + its code."""
    from hxmetrics.cli import main

    _kill_at(step)
    # os._exit: no atexit or multiprocessing clean-up runs after the CLI.
    os._exit(100 + main(argv))


def small_report(out: Path, step: int | None, title: str) -> None:
    """A one-section report written to ``out``, SIGKILLed at write step ``step``."""
    import matplotlib

    from hxmetrics.report import Report

    matplotlib.use("Agg")  # as MPLBACKEND=Agg: no display in a child
    _kill_at(step)
    report = Report(title=title)
    report.add_section("s", "S").add_text("NPS 31.2")
    report.write(out)
    os._exit(0)
