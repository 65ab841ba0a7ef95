"""A job file and the report check answers against an instrument catalogue (issue 17:
"The report and the job file can use the catalogue")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from hxmetrics import jobs
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.jobs import JobError, job_instruments, load_job, run_job
from hxmetrics.report.main import add_report_arguments, report_from_args, run_report

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples"
TABLES = ("customers", "workers", "partners", "responses")
BANKS = '["core", "zero_distance", "customer_centricity"]'


def _job(tmp_path: Path, instruments: str, responses: Path | None = None) -> Path:
    files = {t: SAMPLE / f"{t}.csv" for t in TABLES}
    if responses is not None:
        files["responses"] = responses
    inputs = "\n".join(f'{t} = "{file.as_posix()}"' for t, file in files.items())
    path = tmp_path / "job.toml"
    path.write_text(
        f'[job]\nname = "checked"\n\n[inputs]\n{inputs}\n\n{instruments}\n\n'
        '[output]\ndir = "out"\nformat = "csv"\n\n[[measure]]\nname = "nps_all"\n'
        'function = "nps"\ntable = "responses"\nwhere = { instrument = "nps" }\n'
        'score = "score"\n'
    )
    return path


def _bad_responses(tmp_path: Path) -> Path:
    responses = pd.read_csv(SAMPLE / "responses.csv", dtype=str, keep_default_na=False)
    at = responses.index[responses["instrument"].eq("csat")][0]
    responses.loc[at, "score"] = "7"  # a 1-5 item
    path = tmp_path / "responses.csv"
    responses.to_csv(path, index=False)
    return path


def test_a_job_checks_answers_against_its_banks_and_records_them(tmp_path):
    job = load_job(_job(tmp_path, f"[instruments]\nbanks = {BANKS}"))
    assert job.banks == ("core", "zero_distance", "customer_centricity")
    manifest = run_job(job)
    assert manifest["instruments"]["banks"] == list(job.banks)
    assert "zero_distance" in manifest["instruments"]["instruments"]
    written = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert written["instruments"]["banks"] == list(job.banks)


def test_a_job_stops_on_an_answer_off_its_scale(tmp_path):
    job = load_job(_job(tmp_path, f"[instruments]\nbanks = {BANKS}", _bad_responses(tmp_path)))
    with pytest.raises(InputTableError, match="score_in_item_scale"):
        run_job(job)
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_job_with_its_own_catalogue_file(tmp_path):
    from hxmetrics.instruments import load_bank

    frame = load_bank("core", "zero_distance", "customer_centricity").to_frame()
    frame.to_csv(tmp_path / "items.csv", index=False)
    path = _job(tmp_path, '[instruments]\ncatalogue = "items.csv"')
    assert job_instruments(path) == ((), (tmp_path / "items.csv").resolve())
    manifest = run_job(load_job(path))
    assert manifest["instruments"]["catalogue"]["sha256"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[instruments]\nbanks = ["cor"]', "unknown bank 'cor'"),
        ('[instruments]\nbanks = "core"', "must be a list of bank names"),
        ('[instruments]\ncatalogue = "nope.toml"', "no such file"),
        ("[instruments]\n", "nothing to check"),
        ('[instruments]\nbank = ["core"]', "unknown key 'bank'"),
    ],
)
def test_bad_instruments_sections_are_named(tmp_path, section, message):
    with pytest.raises(JobError, match=message):
        load_job(_job(tmp_path, section))


def test_the_report_checks_answers_with_banks_or_the_job_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for t in TABLES:
        (data / f"{t}.csv").write_bytes((SAMPLE / f"{t}.csv").read_bytes())
    (data / "responses.csv").write_bytes(_bad_responses(tmp_path).read_bytes())
    parser = add_report_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--data", str(data), "--out", str(tmp_path / "r.html"), "--quiet", "--instruments",
         "core", "zero_distance", "customer_centricity"]
    )  # fmt: skip
    with pytest.raises(InputTableError, match="score_in_item_scale"):
        report_from_args(args)
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(ParameterError, match="neither a built-in bank"):
        run_report(data, out=tmp_path / "r.html", instruments=["cor"])
    # From a job file's [instruments]: the same check.
    job = _job(tmp_path, f"[instruments]\nbanks = {BANKS}", data / "responses.csv")
    with pytest.raises(InputTableError, match="score_in_item_scale"):
        run_report(job=job, out=tmp_path / "r.html", progress=False)
    assert jobs.job_instruments(job)[0] == ("core", "zero_distance", "customer_centricity")
