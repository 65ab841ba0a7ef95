"""The package's front door: every public name resolves, and importing it stays light."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import hxmetrics


def test_every_lazy_name_resolves_to_the_object_its_module_owns() -> None:
    import importlib

    for name, module in hxmetrics._LAZY.items():
        assert getattr(hxmetrics, name) is getattr(importlib.import_module(module), name)


def test_the_package_lists_every_measure() -> None:
    from hxmetrics import measures

    assert set(hxmetrics._MEASURES) == set(measures.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hxmetrics.nope


def test_import_loads_no_heavy_dependency() -> None:
    # Importing hxmetrics costs about what pandas costs: SciPy, statsmodels, pandera,
    # matplotlib and pyspark load when a name that needs them is first used.
    code = (
        "import sys, hxmetrics, pandas as pd; "
        "pd.DataFrame({'s': [1]}).hx; "
        "print(sorted(m for m in ('scipy', 'statsmodels', 'pandera', 'matplotlib', "
        "'pyspark', 'narwhals') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_each_module_runs_whole_on_one_xdist_worker(request: pytest.FixtureRequest) -> None:
    """tests/conftest.py puts each module's tests (and all Spark tests) in one xdist group;
    pytest-xdist marks the group in the node id. Found: with pytest 9.2 (and without
    ``tryfirst`` on the hook) the mark silently did nothing, so the Spark tests started a
    JVM on each worker and module fixtures were built twice."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        # Why: a serial run (-n 0) has no workers and so no groups to check; CI and the
        # README's test command run under -n 2, where this test runs.
        pytest.skip("groups exist only under pytest -n (the README's test command)")
    assert request.node.nodeid.endswith("@tests/test_package.py")
