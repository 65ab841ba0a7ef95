"""Committed notebooks carry no outputs (scripts/strip_notebooks.py) and use the public API.

Executing them is the job of ``scripts/run_notebooks.py`` in CI; these checks are fast
and need no Jupyter package.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STRIP = runpy.run_path(str(ROOT / "scripts" / "strip_notebooks.py"))


def test_the_three_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert {"analyst_tour.ipynb", "pipeline_job.ipynb", "siloed_vs_unified.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_stripped(path):
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert STRIP["dumps"](STRIP["strip"](notebook)) == text, (
        f"{path.name} is not stripped: run python scripts/strip_notebooks.py"
    )


@pytest.mark.parametrize(
    "name", ["analyst_tour.ipynb", "pipeline_job.ipynb"], ids=lambda n: n.removesuffix(".ipynb")
)
def test_short_and_told_in_markdown(name):
    cells = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))["cells"]
    assert 10 <= len(cells) <= 20
    assert sum(c["cell_type"] == "markdown" for c in cells) >= len(cells) // 3
    assert "import hxmetrics as hx" in "".join(cells[1]["source"])


def test_strip_removes_outputs_and_run_state():
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {"scrolled": True, "tags": ["keep"]},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
                "source": "1",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {}, "language_info": {}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    clean = STRIP["strip"](notebook)
    cell = clean["cells"][0]
    assert (cell["outputs"], cell["execution_count"], cell["metadata"]) == (
        [],
        None,
        {"tags": ["keep"]},
    )
    assert clean["metadata"] == {
        "kernelspec": {"name": "python3"},
        "language_info": {"name": "python"},
    }
    assert notebook["cells"][0]["outputs"], "the input is not changed"
