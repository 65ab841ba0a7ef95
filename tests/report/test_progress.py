"""Progress goes to stderr only when a person is watching (stderr is a terminal)."""

from __future__ import annotations

import io
import sys

import pytest

from hxmetrics.errors import ParameterError
from hxmetrics.report import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_stderr_is_not_a_terminal(capsys):
    assert not sys.stderr.isatty()  # pytest captures stderr into a file
    progress = Progress(total=2)
    with progress.step("Reading tables"):
        print("result", end="")
    with progress.step("Writing the report"):
        pass
    out, err = capsys.readouterr()
    assert (out, err) == ("result", "")


def test_steps_are_counted_on_a_terminal():
    stream = _Terminal()
    progress = Progress(total=3, stream=stream)
    assert progress.enabled
    with progress.step("Reading tables"):
        pass
    with progress.step("Resolving identities"):
        pass
    lines = stream.getvalue().splitlines()
    assert [line.split(" ... ")[0] for line in lines] == [
        "hxmetrics [1/3] Reading tables",
        "hxmetrics [2/3] Resolving identities",
    ]
    assert all(line.split(" ... ")[1].startswith("done (") for line in lines)


def test_failed_step_is_reported_and_the_error_propagates():
    stream = _Terminal()
    progress = Progress(stream=stream)
    with pytest.raises(ZeroDivisionError), progress.step("Computing"):
        1 / 0
    assert stream.getvalue() == "hxmetrics [1] Computing ... failed\n"


def test_can_be_forced_off_on_a_terminal_and_checks_total():
    stream = _Terminal()
    with Progress(stream=stream, enabled=False).step("x"):
        pass
    assert stream.getvalue() == ""
    with pytest.raises(ParameterError):
        Progress(total=0)
