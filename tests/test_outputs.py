"""Output folders that never destroy (hxmetrics._outputs)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from hxmetrics import _outputs
from hxmetrics._outputs import (
    MARKER,
    check_output_dir,
    check_output_name,
    neutralise_csv,
    recover,
    write_outputs,
)
from hxmetrics.errors import ParameterError
from tests.test_jobs import _dead_pid, snapshot


@pytest.mark.parametrize("name", ["nps", "nps_by_silo", "a.b-c", "X1"])
def test_safe_names_pass(name):
    assert check_output_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        ".hidden",
        "../x",
        "a/b",
        "a\\b",
        "/abs",
        "a..b",
        "a b",
        "é",
        "MANIFEST",
        "x" * 101,
        3,
        None,
    ],
)
def test_unsafe_names_are_refused(name):
    with pytest.raises(ParameterError, match="name"):
        check_output_name(name)


def writers(text: str = "v1") -> dict:
    def put(content: str):
        return lambda target: target.write_text(content)

    return {"a.csv": put(f"a {text}"), "b.csv": put(f"b {text}"), "manifest.json": put("{}")}


def test_a_new_folder_is_created_and_marked(tmp_path):
    out = tmp_path / "out"
    assert write_outputs(out, writers(), owner={"job": "t"}) == []
    marker = json.loads((out / MARKER).read_text())
    assert marker["tool"] == "hxmetrics"
    assert marker["job"] == "t"
    assert marker["files"] == ["a.csv", "b.csv", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    write_outputs(out, writers("v2"), owner={"job": "t"})
    assert (out / "a.csv").read_text() == "a v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("kind", ["file", "folder", "symlink", "dot"])
def test_foreign_targets_are_refused_and_untouched(tmp_path, kind):
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("precious")
    elif kind == "folder":
        target.mkdir()
        (target / "precious.txt").write_text("precious")
    elif kind == "symlink":
        (tmp_path / "real").mkdir()
        target.symlink_to(tmp_path / "real", target_is_directory=True)
    else:
        target = _outputs.output_path(tmp_path, ".")
        (tmp_path / "precious.txt").write_text("precious")
    before = snapshot(tmp_path)
    with pytest.raises(ParameterError, match="refused"):
        check_output_dir(target)
    with pytest.raises(ParameterError, match="refused"):
        write_outputs(target, writers(), owner={})
    assert snapshot(tmp_path) == before


def test_a_marker_of_someone_else_does_not_make_a_folder_ours(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"tool": "other"}))
    (out / "x").write_text("x")
    with pytest.raises(ParameterError, match="not created by hxmetrics"):
        check_output_dir(out)


def test_an_input_inside_the_output_is_refused(tmp_path):
    out = tmp_path / "out"
    write_outputs(out, writers(), owner={})
    with pytest.raises(ParameterError, match="contains the input"):
        check_output_dir(out, inputs=[out / "a.csv"])


def test_recovery_restores_the_previous_output_and_cleans_only_ours(tmp_path):
    out = tmp_path / "out"
    write_outputs(out, writers(), owner={})
    kept = snapshot(out)
    dead = _dead_pid()
    out.rename(tmp_path / f".out.old-{dead}-aa")
    stale = tmp_path / f".out.tmp-{dead}-bb"
    stale.mkdir()
    (stale / MARKER).write_text(json.dumps({"tool": "hxmetrics", "files": ["a.csv"]}))
    (stale / "a.csv").write_text("half")
    empty = tmp_path / f".out.tmp-{dead}-cc"
    empty.mkdir()
    # Not ours: no marker, a different name, a live pid, an extra file.
    unmarked = tmp_path / f".out.tmp-{dead}-dd"
    unmarked.mkdir()
    (unmarked / "a.csv").write_text("?")
    other = tmp_path / f".other.tmp-{dead}-ee"
    other.mkdir()
    live = tmp_path / f".out.tmp-{os.getpid()}-ff"
    live.mkdir()
    extra = tmp_path / f".out.tmp-{dead}-gg"
    extra.mkdir()
    (extra / MARKER).write_text(json.dumps({"tool": "hxmetrics", "files": []}))
    (extra / "notes.txt").write_text("mine")
    actions = recover(out)
    assert snapshot(out) == kept
    assert any("restored" in a for a in actions)
    assert not stale.exists()
    assert not empty.exists()
    for folder in (unmarked, other, live, extra):
        assert folder.exists()
    assert (extra / "notes.txt").read_text() == "mine"


def _fork_write(out: Path, step: int, text: str) -> bool:
    """Write in a forked child that SIGKILLs itself at step ``step``; True if killed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.environ["HXMETRICS_TEST_KILL_AT"] = str(step)
            write_outputs(out, writers(text), owner={})
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.parametrize("start", ["new", "owned", "empty"])
def test_sigkill_at_every_step_then_a_normal_run_recovers(tmp_path, start):
    out = tmp_path / "out"
    (tmp_path / "neighbour.txt").write_text("n")
    before = snapshot(tmp_path)
    steps = 0
    while True:
        steps += 1
        if start == "owned":
            write_outputs(out, writers("old"), owner={})
        elif start == "empty":
            out.mkdir()
        killed = _fork_write(out, steps, "new")
        # Between the kill and the next run: at most our own marked folders beside it.
        leftovers = [p for p in tmp_path.iterdir() if p.name not in ("out", "neighbour.txt")]
        for p in leftovers:
            assert p.name.startswith((".out.tmp-", ".out.old-"))
        if out.exists() and start != "empty":
            assert (out / "a.csv").read_text() in ("a old", "a new")
            assert (out / "manifest.json").is_file()
        write_outputs(out, writers("final"), owner={})
        assert sorted(p.name for p in tmp_path.iterdir()) == ["neighbour.txt", "out"]
        assert (out / "a.csv").read_text() == "a final"
        assert sorted(p.name for p in out.iterdir()) == [
            MARKER,
            "a.csv",
            "b.csv",
            "manifest.json",
        ]
        assert snapshot(tmp_path, skip=out) == before
        _outputs._remove_owned(out)
        if not killed:
            break
    # recovered, staging, marker, three files, moved in (+ aside, adopted, removals)
    assert steps >= 8


def test_neutralise_csv():
    frame = pd.DataFrame(
        {
            "=cmd": ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "ok", None],
            "cat": pd.Categorical(["=a", "b"] * 4),
            "s": pd.array(["-x", "y"] * 4, dtype="string"),
            "num": [-1.5, 2, 3, 4, 5, 6, 7, 8],
            "int": [-1] * 8,
        }
    )
    got = neutralise_csv(frame)
    assert list(got.columns) == ["'=cmd", "cat", "s", "num", "int"]
    assert got["'=cmd"].tolist()[:7] == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "ok"]
    assert got["'=cmd"].isna().iloc[7]
    assert got["cat"].tolist()[:2] == ["'=a", "b"]
    assert got["s"].tolist()[:2] == ["'-x", "y"]
    assert got["num"].tolist() == frame["num"].tolist()
    assert got["int"].tolist() == [-1] * 8
    assert frame["=cmd"].iloc[0] == "=1+1"  # the input is not modified


def _write_partitioned(target: Path) -> None:
    """A hive-partitioned output folder as jobs write it (pyarrow's layout)."""
    for value in ("customers", "workers"):
        part = target / f"silo={value}"
        part.mkdir(parents=True)
        (part / "part-0.parquet").write_bytes(b"PAR1")


def test_a_partitioned_output_folder_is_replaced_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    writers = {"nps_by_silo": _write_partitioned, "manifest.json": lambda p: p.write_text("{}")}
    write_outputs(out, writers, owner={"job": "t"})
    write_outputs(out, writers, owner={"job": "t"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no folder left aside
    assert sorted(p.name for p in (out / "nps_by_silo").iterdir()) == [
        "silo=customers",
        "silo=workers",
    ]


def test_removing_a_partitioned_output_keeps_what_hxmetrics_did_not_write(tmp_path):
    out = tmp_path / "out"
    writers = {"nps_by_silo": _write_partitioned}
    write_outputs(out, writers, owner={"job": "t"})
    # Someone puts a file of their own, and a symlink to one outside, into the output.
    outside = tmp_path / "theirs.txt"
    outside.write_text("keep")
    (out / "nps_by_silo" / "silo=workers" / "notes.txt").write_text("keep")
    (out / "nps_by_silo" / "silo=customers" / "link.parquet").symlink_to(outside)
    write_outputs(out, writers, owner={"job": "t"})
    # The next run moved the old output aside and removed only what it had written:
    # the folder aside stays, with the foreign file and the symlink, and nothing else.
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".out.old-")]
    assert len(left) == 1
    kept = sorted(str(p.relative_to(left[0])) for p in left[0].rglob("*"))
    assert kept == [
        ".hxmetrics-output",
        "nps_by_silo",
        "nps_by_silo/silo=customers",
        "nps_by_silo/silo=customers/link.parquet",
        "nps_by_silo/silo=workers",
        "nps_by_silo/silo=workers/notes.txt",
    ]
    assert outside.read_text() == "keep"
