"""The report can link records probabilistically (issue 12: "the report and jobs work
unchanged on either [method]; a job file can select the method and a saved model").

Data: ``simulate_identity_rosters(300, random_state=5)`` (noisy names, dates of birth
and addresses, no email or phone) and one NPS answer per roster record, so that the
exact path (no key: one person per record) and the probabilistic path differ in the
number of persons the report counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Why: splink is an optional extra ([linkage]); CI installs it with the test extras.
pytest.importorskip("splink", reason="the probabilistic method needs hxmetrics[linkage]")

from hxmetrics.datasets import _identity as identity
from hxmetrics.errors import ParameterError
from hxmetrics.report.main import (
    add_report_arguments,
    build_report,
    report_from_args,
)
from hxmetrics.report.sections import Context
from hxmetrics.stakeholders.probabilistic import LinkageModel
from hxmetrics.tables import ID_COLUMN
from tests.report.unrendered import figures_unrendered


@pytest.fixture(autouse=True)
def _no_pixels():
    """These tests read a report's footer and text, never its pixels (see unrendered)."""
    with figures_unrendered():
        yield


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    sim = identity.simulate_identity_rosters(300, random_state=5)
    out = dict(sim.rosters)
    rng = np.random.default_rng(5)
    rows = []
    for silo, roster in sim.rosters.items():
        first = roster.drop_duplicates(ID_COLUMN[silo])
        for i, (sid, start) in enumerate(zip(first[ID_COLUMN[silo]], first["start"], strict=True)):
            rows.append((f"{silo}-{i}", silo, sid, start + pd.Timedelta(days=1)))
    responses = pd.DataFrame(rows, columns=["response_id", "silo", "source_id", "timestamp"])
    responses["instrument"] = "nps"
    responses["item"] = "ltr"
    responses["score"] = rng.integers(0, 11, len(responses)).astype(float)
    out["responses"] = responses
    return out


def _context(tables: dict[str, pd.DataFrame], **linkage: object) -> Context:
    from hxmetrics.tables import validate

    checked = {t: validate(df, table=t) for t, df in tables.items()}
    return Context.build(
        checked,
        as_of=pd.Timestamp("2026-01-01"),
        min_n=5,
        keys=(),
        confidence=0.95,
        random_state=0,
        **linkage,  # type: ignore[arg-type]
    )


def test_probabilistic_report_links_records_the_exact_path_cannot(tables):
    exact = _context(tables)
    prob = _context(tables, method="probabilistic")
    # No shared key: the exact path makes one person per record; the model joins
    # the records of one person across silos (about 1.3 records per person here).
    assert exact.n_persons == exact.n_records
    assert prob.n_persons < 0.9 * prob.n_records
    assert "match_probability" in prob.registry.crosswalk.columns
    assert "exact shared keys" in exact.linkage_note()
    assert "probabilistic record-linkage model" in prob.linkage_note()


def test_build_report_says_how_records_were_linked_and_uses_a_saved_model(tables, tmp_path):
    model = LinkageModel().fit(
        {k: v for k, v in tables.items() if k != "responses"}, random_state=0
    )
    saved = model.save(tmp_path / "linkage.json")
    report = build_report(tables, keys=(), method="probabilistic", model=saved, threshold=0.9)
    assert "probabilistic record-linkage model" in report.footer
    assert "at least 0.9" in report.footer
    exact = build_report(tables, keys=())
    assert "exact shared keys" in exact.footer


def test_model_or_threshold_without_the_probabilistic_method_is_refused(tables):
    with pytest.raises(ParameterError, match="apply to method='probabilistic'"):
        _context(tables, threshold=0.9)


def test_cli_options_select_the_method(tables, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in tables.items():
        frame.to_csv(data / f"{name}.csv", index=False)
    parser = add_report_arguments(argparse.ArgumentParser())
    with pytest.raises(SystemExit):
        parser.parse_args(["--threshold", "1.5"])
    out = tmp_path / "report.html"
    args = parser.parse_args(
        ["--data", str(data), "--out", str(out), "--keys", "--method", "probabilistic", "--quiet"]
    )
    assert report_from_args(args) == 0
    html = Path(out).read_text()
    assert "probabilistic record-linkage model" in html


def test_report_from_a_job_file_uses_its_linkage_section(tables, tmp_path):
    from hxmetrics.report.main import run_report

    data = tmp_path / "data"
    data.mkdir()
    for name, frame in tables.items():
        frame.to_csv(data / f"{name}.csv", index=False)
    model = LinkageModel().fit(
        {k: v for k, v in tables.items() if k != "responses"}, random_state=0
    )
    model.save(tmp_path / "linkage.json")
    inputs = "\n".join(f'{name} = "data/{name}.csv"' for name in tables)
    job = tmp_path / "job.toml"
    job.write_text(
        f'[job]\nname = "linked"\n\n[inputs]\n{inputs}\n\n[stakeholders]\nkeys = []\n\n'
        '[linkage]\nmethod = "probabilistic"\nmodel_file = "linkage.json"\nthreshold = 0.95\n\n'
        '[output]\ndir = "out"\n\n[[measure]]\nname = "nps_all"\nfunction = "nps"\n'
        'table = "responses"\nscore = "score"\n'
    )
    out = run_report(job=job, out=tmp_path / "r.html", keys=(), progress=False)
    html = out.read_text()
    assert "probabilistic record-linkage model" in html
    assert "at least 0.95" in html
    # A value given to run_report wins over the job file's.
    out = run_report(job=job, out=tmp_path / "r2.html", keys=(), method="exact", progress=False)
    assert "exact shared keys" in out.read_text()
