"""The stakeholders package's modules: one concept each, no import cycle.

Issue 11: ``identity.py`` held keys, resolution and evaluation; ``registry`` and
``views`` imported each other (``views`` reached back into ``registry`` inside a
method). Every module must import alone, in a fresh interpreter, in any order.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hxmetrics.stakeholders as stakeholders
from hxmetrics.stakeholders import evaluation, identity, keys, resolution

PACKAGE_DIR = Path(stakeholders.__file__).parent
MODULES = sorted(
    f"hxmetrics.stakeholders.{p.stem}" for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__"
)


def test_identity_keeps_its_public_names_from_the_concept_modules() -> None:
    homes = {
        "CONFLICT_KINDS": resolution,
        "Resolution": resolution,
        "resolve_identities": resolution,
        "DEFAULT_KEYS": keys,
        "MIN_SECRET_BYTES": keys,
        "PSEUDONYM_PREFIX": keys,
        "new_secret": keys,
        "normalise_key": keys,
        "pseudonymise": keys,
        "secret_key": keys,
        "check_keys": keys,
        "resolution_scores": evaluation,
        "exact_matches": evaluation,
    }
    for name, home in homes.items():
        assert getattr(identity, name) is getattr(home, name), name
        # The package exports the same objects as before the split.
        if name in stakeholders.__all__:
            assert getattr(stakeholders, name) is getattr(home, name), name
    old_public = {
        "CONFLICT_KINDS",
        "DEFAULT_KEYS",
        "MIN_SECRET_BYTES",
        "PSEUDONYM_PREFIX",
        "Resolution",
        "exact_matches",
        "new_secret",
        "normalise_key",
        "pseudonymise",
        "resolution_scores",
        "resolve_identities",
    }
    assert old_public <= set(identity.__all__)


def _imports(path: Path) -> set[str]:
    """Every stakeholders module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n in MODULES)
    return found


def test_no_import_cycle_between_stakeholders_modules() -> None:
    graph = {
        f"hxmetrics.stakeholders.{p.stem}": _imports(p)
        for p in PACKAGE_DIR.glob("*.py")
        if p.stem != "__init__"
    }
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                cycles.append([*path[path.index(dep) :], dep])
            elif len(path) < len(graph):
                visit(dep, [*path, dep])

    for module in graph:
        visit(module, [module])
    assert cycles == []


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    # All at once (each is mostly waiting on imports); each its own interpreter.
    procs = {
        m: subprocess.Popen(
            [sys.executable, "-W", "error", "-c", f"import {m}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in MODULES
    }
    failed = {}
    for module, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failed[module] = err.strip().splitlines()[-1:]
    assert failed == {}
    assert len(MODULES) >= 10


@pytest.mark.parametrize("module", ["registry", "views"])
def test_registry_and_views_each_import_first(module: str) -> None:
    other = "views" if module == "registry" else "registry"
    code = (
        f"import hxmetrics.stakeholders.{module}, hxmetrics.stakeholders.{other}\n"
        "from hxmetrics.stakeholders.registry import overlap_summary\n"
        "from hxmetrics.stakeholders.views import SiloView\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_importing_the_package_does_not_import_scipy() -> None:
    """Found (issue 11): import cost; scipy.sparse (0.8 s) is needed only to resolve."""
    code = (
        "import sys\n"
        "import hxmetrics.stakeholders\n"
        "assert 'scipy.sparse' not in sys.modules, 'scipy.sparse at import'\n"
        "import pandas as pd\n"
        "from hxmetrics.stakeholders import resolve_identities\n"
        "rosters = {'workers': pd.DataFrame({'worker_id': ['a', 'b'], 'email': ['x@y', 'x@y']})}\n"
        "assert resolve_identities(rosters)[0]['person_id'].nunique() == 1\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
