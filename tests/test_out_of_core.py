"""Out of core (issue 13, item 6): a job on DuckDB processes inputs larger than its memory limit.

The data come from the engines benchmark's generator (``benchmarks/bench_engines.py``,
loaded from its file: ``benchmarks`` is not an installed package): rosters and a
responses table written to Parquet by DuckDB SQL. The reference numbers are the
benchmark's hand-written DuckDB SQL pipeline, itself checked here against the pandas
path (``StakeholderRegistry`` + ``attribute``) on a small table.

The job runs as ``hxmetrics compute --job`` in a child process whose peak resident
memory (``ru_maxrss``) is read from ``os.wait4``: with ``[engine] memory_limit`` far below
the responses' size in memory, the job gives the reference's counts while its process
never grows to the size of that input.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (CI installs it)")

_BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_engines.py"
# A narrow responses table of a few million rows and a small roster: the responses
# hold 363 MiB when read (Arrow sizes), 2.8x the memory limit below; the job takes about
# 20 CPU seconds. (At 64MB DuckDB runs out of memory in the attribution's joins.)
_RECORDS, _RESPONSES = 20_000, 5_000_000
_LIMIT_MB = 128


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_engines", _BENCH)
    # The file is in the repository.
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


def _arrow_bytes(file: Path) -> int:
    """The table's size in memory once read (Arrow buffers), from DuckDB's reader."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{_LIMIT_MB * 4}MB'; SET enable_progress_bar = false")
    reader = con.sql(f"SELECT * FROM read_parquet('{file}')").to_arrow_reader(1_000_000)
    total = sum(batch.nbytes for batch in reader)
    con.close()
    return int(total)


def _peak_rss_run(argv: list[str], cwd: Path) -> tuple[int, int, str]:
    """Exit code, peak RSS in bytes and stderr of a child process."""
    err_file = cwd / "stderr.txt"
    with err_file.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024, err_file.read_text(errors="replace")


def test_baseline_sql_gives_the_pandas_path_counts(bench: ModuleType, tmp_path: Path) -> None:
    # The reference of the test below and of the benchmark: the hand-written SQL gives
    # the pandas path's attribution statuses and NPS counts by silo and hybrid type.
    folder = bench.make_data(3_000, 40_000, 1_000, root=tmp_path)
    reference = bench.pandas_reference(folder)
    sql = bench.summarise(bench.baseline(folder, memory_limit="1GB")["counts"])
    assert sql == reference
    # The data exercise what the numbers depend on: every status but missing_time, and
    # hybrid types beyond "none" (several rules fire), answers from unknown ids.
    assert set(sql["attribution"]) == {"ok", "outside_episodes", "unknown_id"}
    assert len(sql["nps_by_hybrid_type"]) >= 6
    assert bench._MISSING in sql["nps_by_hybrid_type"]


def test_duckdb_job_processes_an_input_larger_than_its_memory_limit(
    bench: ModuleType, tmp_path: Path
) -> None:
    folder = bench.make_data(_RECORDS, _RESPONSES, 1_000, root=tmp_path)
    limit = _LIMIT_MB * 2**20
    size = _arrow_bytes(folder / "responses.parquet")
    assert size > 2 * limit, f"the input ({size / 2**20:.0f} MiB) must exceed the limit"

    # What the process costs without the data: the interpreter with the job's imports.
    code, idle_rss, err = _peak_rss_run(
        [sys.executable, "-c", "import duckdb, pandas, narwhals, hxmetrics.jobs, hxmetrics.cli"],
        tmp_path,
    )
    assert code == 0, err

    job = bench.write_job(folder, "duckdb", memory_limit=f"{_LIMIT_MB}MB")
    code, peak_rss, err = _peak_rss_run(
        [sys.executable, "-m", "hxmetrics.cli", "compute", "--job", str(job)], tmp_path
    )
    assert code == 0, err[-3000:]

    reference = bench.summarise(bench.baseline(folder, memory_limit="2GB")["counts"])
    assert bench.same_numbers(bench.read_job_outputs(job), reference) == []
    manifest = json.loads((job.parent / "out" / "manifest.json").read_text())
    assert manifest["inputs"]["responses"]["rows"] == _RESPONSES
    # The job never held the responses in memory: its process grew by less than their
    # size above the idle interpreter (DuckDB keeps to the limit and spills; its
    # allocator, Arrow and the small aggregated tables take some memory beyond it:
    # 262 MiB for this 363 MiB input when measured).
    grown = peak_rss - idle_rss
    assert grown < size, (
        f"the job grew by {grown / 2**20:.0f} MiB for an input of {size / 2**20:.0f} MiB "
        f"under memory_limit {_LIMIT_MB} MB"
    )


def test_unordered_steps_restore_duckdbs_setting() -> None:
    """The job's steps that need no row order run with preserve_insertion_order off
    (less memory: DuckDB writes their tables without ordering the chunks); the setting
    is restored after, also after an error, so positions ("row N") stay the input's."""
    from hxmetrics import jobs

    con = duckdb.connect()

    def setting() -> bool:
        row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        assert row is not None
        return bool(row[0])

    session = jobs._Session("duckdb", connection=con)
    assert setting() is True
    with jobs._unordered(session, True):
        assert setting() is False
    assert setting() is True
    with jobs._unordered(session, False):
        assert setting() is True
    with pytest.raises(RuntimeError, match="boom"), jobs._unordered(session, True):
        raise RuntimeError("boom")
    assert setting() is True
    con.execute("SET preserve_insertion_order = false")  # a caller's own choice is kept
    with jobs._unordered(session, True):
        assert setting() is False
    assert setting() is False
