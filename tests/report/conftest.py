"""Reports built once per session (figures take a second to render)."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from hxmetrics.report import run_report
from tests.report import demo


@pytest.fixture(scope="session")
def page() -> str:
    return demo.build().to_html()


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The main job on the bundled sample, as the README runs it (no arguments).

    Built once for the whole run: under pytest-xdist the workers share one file (the
    first to take the lock builds it), so the ten-second build is not repeated.
    """
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent
    out = base / "main-job" / "hxmetrics-report.html"
    out.parent.mkdir(exist_ok=True)
    with open(out.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not out.is_file():
                run_report(out=out)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return out


@pytest.fixture(scope="session")
def sample_html(sample_report: Path) -> str:
    return sample_report.read_text(encoding="utf-8")
