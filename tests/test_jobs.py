"""Batch jobs: ``hxmetrics compute --job job.toml`` on the sample and on Polars."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics import jobs
from hxmetrics.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples"

JOB = """
[job]
name = "sample-job"

[inputs]
customers = "{d}/customers.csv"
workers = "{d}/workers.csv"
partners = "{d}/partners.csv"
responses = "{d}/responses.csv"
transactions = "{d}/transactions.csv"

[stakeholders]
keys = ["email", "phone"]

[output]
dir = "out"
format = "{fmt}"

[[measure]]
name = "nps_by_silo"
function = "nps"
table = "responses"
where = {{ instrument = "nps" }}
score = "score"
by = ["silo"]

[[measure]]
name = "nps_by_hybrid"
function = "nps"
table = "responses"
where = {{ instrument = "nps", silo = "customers" }}
score = "score"
by = ["hybrid_type"]
min_n = 5

[[measure]]
name = "csat_overall"
function = "csat"
table = "responses"
where = {{ instrument = "csat" }}
score = "score"
scale = [1, 5]
box = [4, 5]
"""


def write_job(tmp_path: Path, fmt: str = "csv", text: str = JOB) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(text.format(d=SAMPLE.as_posix(), fmt=fmt))
    return path


def read(out: Path, name: str, fmt: str) -> pd.DataFrame:
    file = out / f"{name}.{fmt}"
    return pd.read_csv(file) if fmt == "csv" else pd.read_parquet(file)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("job")
    job = write_job(tmp)
    assert main(["compute", "--job", str(job)]) == 0
    return tmp / "out"


def test_outputs_equal_the_api(sample_run):
    org = hx.load_sample()
    answers = org.responses[org.responses["instrument"] == "nps"]
    expected = hx.nps(answers, "score", by="silo")
    got = read(sample_run, "nps_by_silo", "csv")
    assert got["silo"].tolist() == expected["silo"].tolist()
    for col in ("n", "promoters", "detractors", "nps", "ci_low", "ci_high"):
        assert got[col].to_numpy() == pytest.approx(expected[col].to_numpy(), rel=1e-12)


def test_manifest_records_inputs_options_and_exclusions(sample_run):
    manifest = json.loads((sample_run / "manifest.json").read_text())
    assert set(manifest["inputs"]) == {
        "customers",
        "workers",
        "partners",
        "responses",
        "transactions",
    }
    raw = (SAMPLE / "responses.csv").read_bytes()
    import hashlib

    assert manifest["inputs"]["responses"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert manifest["inputs"]["responses"]["rows"] == len(pd.read_csv(SAMPLE / "responses.csv"))
    assert manifest["versions"]["hxmetrics"] == hx.__version__
    by_name = {m["name"]: m for m in manifest["measures"]}
    assert by_name["nps_by_hybrid"]["options"]["min_n"] == 5
    assert by_name["nps_by_silo"]["rows_in"] == 1447 + 198 + 887
    # Attribution reports every row's status: nothing disappears.
    status = manifest["attribution"]["responses"]
    assert sum(status.values()) == manifest["inputs"]["responses"]["rows"]
    assert "excluded" in by_name["csat_overall"]


def test_hybrid_groups_come_from_attribution(sample_run):
    got = read(sample_run, "nps_by_hybrid", "csv")
    assert "hybrid_type" in got.columns
    assert len(got) >= 2


def test_polars_engine_gives_the_same_numbers(tmp_path, sample_run):
    pytest.importorskip("polars")
    job = write_job(tmp_path, fmt="parquet")
    assert main(["compute", "--job", str(job), "--engine", "polars"]) == 0
    pandas_result = read(sample_run, "nps_by_silo", "csv")
    polars_result = read(tmp_path / "out", "nps_by_silo", "parquet")
    for col in ("n", "nps", "se", "ci_low", "ci_high"):
        assert polars_result[col].to_numpy() == pytest.approx(pandas_result[col].to_numpy())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["engine"] == "polars"


def test_invalid_input_exits_1_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("truth"))
    bad = pd.read_csv(data / "responses.csv", dtype=str)
    bad.loc[3, "score"] = "ten"
    bad.to_csv(data / "responses.csv", index=False)
    job = tmp_path / "job.toml"
    job.write_text(JOB.format(d=data.as_posix(), fmt="csv"))
    assert main(["compute", "--job", str(job)]) == 1
    err = capsys.readouterr().err
    assert "table 'responses'" in err
    assert "row 3: 'ten'" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('function = "csat"', 'function = "csatt"'), "Did you mean 'csat'"),
        (lambda t: t.replace("[inputs]", "[input]"), "unknown section [input]"),
        (lambda t: t.replace('format = "{fmt}"', 'format = "xlsx"'), "format must be one of"),
        (lambda t: t.replace('table = "responses"', 'table = "tickets"', 1), "not among [inputs]"),
        (lambda t: t.replace("responses.csv", "nope.csv"), "no such file"),
        (lambda t: t + "\n[[measure]\n", "not valid TOML"),
    ],
)
def test_bad_job_files_exit_2_with_a_readable_message(tmp_path, capsys, edit, message):
    job = write_job(tmp_path, text=edit(JOB))
    assert main(["compute", "--job", str(job)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_runtime_failure_exits_3_and_keeps_the_previous_output(tmp_path, capsys):
    job = write_job(tmp_path)
    assert main(["compute", "--job", str(job)]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    broken = JOB.replace('by = ["silo"]', 'by = ["no_such_column"]')
    write_job(tmp_path, text=broken)
    code = main(["compute", "--job", str(job)])
    assert code in (1, 3)
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_interrupted_write_leaves_no_partial_output(tmp_path, monkeypatch):
    """A run stopped while writing (here: interrupted after the first file) leaves
    neither a half-written output directory nor its temporary directory."""
    job = jobs.load_job(write_job(tmp_path))
    real = pd.DataFrame.to_csv
    calls = []

    def stop_after_first(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", stop_after_first)
    with pytest.raises(KeyboardInterrupt):
        jobs.run_job(job)
    assert list(tmp_path.iterdir()) == [tmp_path / "job.toml"]


def test_stakeholder_keys_default_to_the_rosters_key_columns(tmp_path):
    job = write_job(tmp_path, text=JOB.replace('keys = ["email", "phone"]\n', ""))
    assert "keys" not in job.read_text()
    assert main(["compute", "--job", str(job)]) == 0
    got = read(tmp_path / "out", "nps_by_hybrid", "csv")
    assert "hybrid_type" in got.columns


def test_a_killed_run_leaves_no_output_and_its_leftovers_are_cleaned(tmp_path):
    """SIGKILL a real run; the output directory never appears half-written, and a
    temporary directory left by a dead process is removed by the next run."""
    import signal
    import subprocess
    import sys
    import time

    job = write_job(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "hxmetrics.cli", "compute", "--job", str(job)])
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = tmp_path / "out"
    # Either the run was killed before the final rename (no output at all) or after it
    # (a complete output with its manifest): never a partial directory.
    assert not out.exists() or (out / "manifest.json").exists()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = tmp_path / f".out.tmp-{dead}-abc"
    stale.mkdir()
    (stale / "nps_by_silo.csv").write_text("half")
    assert main(["compute", "--job", str(job)]) == 0
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []
