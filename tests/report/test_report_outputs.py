"""Where the report is written: never over an input, a folder, a symlink or a file
hxmetrics did not write; ``--out`` checked before any work; written atomically; and
nothing else in the surrounding folder changes.

Each test takes a snapshot (names, sizes, bytes) of the folder around the target and
compares it after the run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.cli import main as cli_main
from hxmetrics.errors import ParameterError
from hxmetrics.report import Report, run_report
from hxmetrics.report import main as report_main
from hxmetrics.report.builder import GENERATOR_TAG, check_target
from tests.report import forked


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` (files by content digest, folders and links marked)."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def org():
    return hx.simulate_organisation(300, random_state=3)


@pytest.fixture
def data(org, tmp_path) -> Path:
    """A project folder: ``data/`` with the tables as CSV, a job file, a notes file."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name, frame in org.tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    (tmp_path / "job.toml").write_text(
        '[inputs]\nworkers = "data/workers.csv"\nresponses = "data/responses.csv"\n'
        '[output]\ndir = "out"\n'
    )
    (tmp_path / "notes.html").write_text("<html><body>my own notes</body></html>")
    return folder


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the report starts computing (the target must be checked first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the report started computing before --out was checked")

    monkeypatch.setattr(report_main, "build_report", refuse)
    monkeypatch.setattr(report_main, "read_table", refuse)


@pytest.fixture
def quick(monkeypatch):
    """A one-section report instead of the whole computation (for the writing tests)."""

    def build(tables, **kwargs):
        report = Report("Quick")
        report.add_section("s", "S").add_text(f"{len(tables)} tables")
        return report

    monkeypatch.setattr(report_main, "build_report", build)


def test_out_over_an_input_file_is_refused_with_exit_2(data, capsys):
    # Found: `report --out data/responses.csv` overwrote an input with HTML.
    root = data.parent
    before = snapshot(root)
    target = data / "responses.csv"
    code = cli_main(["report", "--data", str(data), "--out", str(target), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "it is an input of this report" in err
    assert "Traceback" not in err
    assert snapshot(root) == before


@pytest.mark.parametrize("which", ["responses", "workers", "job"])
def test_out_over_a_job_input_or_the_job_file_is_refused(data, which, no_work):
    root = data.parent
    job = root / "job.toml"
    target = job if which == "job" else data / f"{which}.csv"
    before = snapshot(root)
    with pytest.raises(ParameterError, match="input of this report"):
        run_report(job=job, out=target)
    assert snapshot(root) == before


def test_an_input_reached_by_another_spelling_is_refused(data, no_work, monkeypatch):
    monkeypatch.chdir(data.parent)
    before = snapshot(data.parent)
    with pytest.raises(ParameterError, match="input of this report"):
        run_report(data, out=Path("data") / ".." / "data" / "customers.csv")
    assert snapshot(data.parent) == before


def test_out_a_folder_is_refused_before_any_work(data, no_work):
    # Found: `--out DIR` failed only after the whole run.
    root = data.parent
    before = snapshot(root)
    for folder in (root, data, Path(".")):
        with pytest.raises(ParameterError, match="is a folder"):
            run_report(data, out=folder)
    assert snapshot(root) == before


def test_out_in_a_missing_folder_is_refused_before_any_work(data, no_work):
    with pytest.raises(ParameterError, match="does not exist"):
        run_report(data, out=data.parent / "missing" / "report.html")
    assert not (data.parent / "missing").exists()


@pytest.mark.parametrize("points_to", ["report", "notes", "nothing"])
def test_out_a_symlink_is_refused(data, no_work, points_to):
    root = data.parent
    old = root / "old.html"
    old.write_text(f"<!DOCTYPE html>\n<html>\n<head>\n{GENERATOR_TAG}\n</head></html>")
    dest = {"report": old, "notes": root / "notes.html", "nothing": root / "gone.html"}[points_to]
    link = root / "link.html"
    link.symlink_to(dest)
    before = snapshot(root)
    with pytest.raises(ParameterError, match="symbolic link"):
        run_report(data, out=link)
    assert snapshot(root) == before


def test_an_existing_file_that_is_not_a_report_is_left_alone(data, no_work):
    root = data.parent
    before = snapshot(root)
    with pytest.raises(ParameterError, match="not a report hxmetrics wrote"):
        run_report(data, out=root / "notes.html")
    assert snapshot(root) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_an_unwritable_folder_is_refused_before_any_work(data, no_work):
    locked = data.parent / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ParameterError, match="not writable"):
            run_report(data, out=locked / "report.html")
    finally:
        locked.chmod(0o700)


def test_an_unwritable_folder_is_refused_before_any_work_as_root_too(data, no_work, monkeypatch):
    # Root passes every permission check, so the check is exercised through os.access.
    locked = data.parent / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(
        "hxmetrics.report.builder.os.access",
        lambda path, mode: False if Path(path) == locked else real(path, mode),
    )
    with pytest.raises(ParameterError, match="not writable"):
        run_report(data, out=locked / "report.html")
    assert list(locked.iterdir()) == []


def test_a_report_replaces_only_its_own_file(data, quick):
    root = data.parent
    first = run_report(data, out=root / "report.html")
    assert GENERATOR_TAG in first.read_text()[:200]
    before = snapshot(root)
    # A second run replaces the earlier report: the only change in the folder.
    (root / "report.html").write_bytes(first.read_bytes().replace(b"Quick", b"Older"))
    run_report(data, out=root / "report.html")
    assert snapshot(root) == before


def test_a_successful_run_changes_nothing_but_the_report(data, org):
    root = data.parent
    before = snapshot(root)
    written = run_report(data, out=root / "out.html", progress=False)
    after = snapshot(root)
    assert set(after) - set(before) == {"out.html"}
    assert {k: after[k] for k in before} == before
    assert GENERATOR_TAG in written.read_text()


@pytest.mark.parametrize("fail_at", ["write", "replace"])
def test_a_failed_write_leaves_the_folder_as_it_was(data, quick, monkeypatch, fail_at):
    root = data.parent
    run_report(data, out=root / "report.html")
    before = snapshot(root)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    if fail_at == "replace":
        monkeypatch.setattr("hxmetrics.report.builder.os.replace", boom)
    else:
        monkeypatch.setattr("hxmetrics.report.builder.os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        run_report(data, out=root / "report.html")
    assert snapshot(root) == before


def test_check_target_names_the_reason(tmp_path):
    (tmp_path / "table.csv").write_text("a\n1\n")
    assert check_target(tmp_path / "new.html") == tmp_path / "new.html"
    with pytest.raises(ParameterError, match="input of this report"):
        check_target(tmp_path / "table.csv", inputs=[tmp_path / "table.csv"])
    with pytest.raises(ParameterError, match="not a report hxmetrics wrote"):
        check_target(tmp_path / "table.csv")
    with pytest.raises(ParameterError, match="is a folder"):
        check_target(tmp_path)


def test_report_write_checks_the_target_too(tmp_path):
    report = Report("t")
    report.add_section("s", "S").add_table(pd.DataFrame({"a": [1]}))
    keep = tmp_path / "keep.csv"
    keep.write_text("a\n1\n")
    with pytest.raises(ParameterError, match="not a report hxmetrics wrote"):
        report.write(keep)
    assert keep.read_text() == "a\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


def _write_process(out: Path, kill_at: int | None, title: str) -> int:
    """Write a small report in a child process (SIGKILLed at write step ``kill_at``),
    forked from a clean, pre-imported server (:mod:`tests.report.forked`); its exit
    status, or minus the signal that killed it."""
    return forked.run_forked(forked.small_report, out, kill_at, title)


@pytest.mark.parametrize("previous", [False, True], ids=["new", "replacing"])
def test_a_report_killed_at_every_write_step_leaves_nothing_behind(tmp_path, previous):
    """SIGKILL after the temporary file is created, and after it is written: the target
    is the previous report or absent (never a partial one), and the next run removes
    the leftover temporary file: the folder then holds the report and nothing else."""
    out = tmp_path / "site" / "r.html"
    out.parent.mkdir()
    (out.parent / "notes.txt").write_text("mine")
    if previous:
        assert _write_process(out, None, "first") == 0
    before = snapshot(out.parent)
    for step in (1, 2):
        assert _write_process(out, step, f"killed at {step}") == -9  # killed by SIGKILL
        after_kill = snapshot(out.parent)
        leftovers = set(after_kill) - set(before)
        assert len(leftovers) == 1
        assert next(iter(leftovers)).startswith(".r.html.hxmetrics-")
        assert {k: after_kill[k] for k in before} == before  # the report is untouched
        assert _write_process(out, None, f"after {step}") == 0
        after = snapshot(out.parent)
        assert set(after) == {"notes.txt", "r.html"}
        assert after["notes.txt"] == before["notes.txt"]
        assert f"after {step}" in out.read_text()
        before = after


def test_a_temporary_file_of_a_live_process_or_another_tool_is_left_alone(tmp_path):
    from hxmetrics.report.builder import _remove_stale_temporaries, _temporary

    target = tmp_path / "r.html"
    alive = _temporary(target, os.getpid())
    alive.write_bytes(b"<!DOCTYPE html>")
    foreign = tmp_path / ".r.html.hxmetrics-999999999.tmp"
    foreign.write_bytes(b"not a report")
    unrelated = tmp_path / ".r.html.other-1.tmp"
    unrelated.write_bytes(b"")
    _remove_stale_temporaries(target)
    assert alive.exists()
    assert foreign.exists()
    assert unrelated.exists()
    dead = tmp_path / ".r.html.hxmetrics-999999999.tmp"
    dead.write_bytes(b"<!DOCTYPE ht")
    _remove_stale_temporaries(target)
    assert not dead.exists()
