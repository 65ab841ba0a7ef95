"""hxmetrics.errors owns every exception and warning class of the package (issue 11)."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

import hxmetrics
from hxmetrics import errors

SRC = Path(hxmetrics.__file__).resolve().parent


def _exception_classes_outside_errors() -> list[str]:
    """Classes defined anywhere but errors.py whose base is an exception or warning."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
            if any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    return found


def test_every_exception_class_is_defined_in_errors():
    """Found: the CLI's UsageError and the jobs' JobError lived in cli.py and jobs.py."""
    assert _exception_classes_outside_errors() == []


def test_every_exception_class_of_errors_is_exported():
    defined = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type)
        and issubclass(obj, (Exception, Warning))
        and obj.__module__ == errors.__name__
    }
    assert defined <= set(errors.__all__)
    assert {"UsageError", "JobError", "HxWarning"} <= defined


def test_the_old_import_paths_are_the_same_objects():
    from hxmetrics import cli, jobs

    assert cli.UsageError is errors.UsageError
    assert jobs.JobError is errors.JobError


def test_usage_and_job_errors_keep_their_bases():
    # A job-file mistake is a usage error of the command (exit 2) and, as before, a
    # ParameterError (a ValueError) for Python callers of load_job.
    assert issubclass(errors.UsageError, errors.HxError)
    assert issubclass(errors.JobError, errors.UsageError)
    assert issubclass(errors.JobError, errors.ParameterError)
    assert issubclass(errors.JobError, ValueError)


def test_hx_warning_is_a_user_warning_that_can_be_filtered_alone():
    assert issubclass(errors.HxWarning, UserWarning)
    assert not issubclass(errors.HxWarning, errors.HxError)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")  # everything else off: the filter below alone
        warnings.simplefilter("always", errors.HxWarning)
        warnings.warn("reliability 0.0016 is below 0.5", errors.HxWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [type(w.message) for w in caught] == [errors.HxWarning]
    with pytest.warns(errors.HxWarning, match="Heywood"):
        warnings.warn("Heywood case: a negative residual variance", errors.HxWarning, stacklevel=1)
