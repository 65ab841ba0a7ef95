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
    for col in ("n", "promoters", "detractors", "estimate", "ci_low", "ci_high"):
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
    # How each result was computed (no longer columns of the result: attrs and here).
    assert by_name["nps_by_silo"]["method"] == "adjusted_wald"
    assert by_name["nps_by_silo"]["confidence"] == 0.95
    assert by_name["csat_overall"]["measure"] == "csat"
    # The sample's NPS answers by silo (customers, partners, workers; fewer since the
    # sample's invitations removed non-respondents' answers, issue 17).
    assert by_name["nps_by_silo"]["rows_in"] == 688 + 144 + 782
    # Attribution reports every row's status: nothing disappears.
    status = manifest["attribution"]["responses"]
    assert sum(status.values()) == manifest["inputs"]["responses"]["rows"]
    assert "excluded" in by_name["csat_overall"]


def test_hybrid_groups_come_from_attribution(sample_run):
    got = read(sample_run, "nps_by_hybrid", "csv")
    assert "hybrid_type" in got.columns
    assert len(got) >= 2


def test_polars_engine_gives_the_same_numbers(tmp_path, sample_run):
    # Polars is a test extra (CI installs it); without it this test cannot run.
    pytest.importorskip("polars")
    job = write_job(tmp_path, fmt="parquet")
    assert main(["compute", "--job", str(job), "--engine", "polars"]) == 0
    pandas_result = read(sample_run, "nps_by_silo", "csv")
    polars_result = read(tmp_path / "out", "nps_by_silo", "parquet")
    for col in ("n", "estimate", "se", "ci_low", "ci_high"):
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
    # As a killed run leaves it: the marker (written first, listing the files to come)
    # and a half-written file.
    stale = tmp_path / f".out.tmp-{dead}-abc"
    stale.mkdir()
    (stale / ".hxmetrics-output").write_text(
        json.dumps({"tool": "hxmetrics", "files": ["nps_by_silo.csv", "manifest.json"]})
    )
    (stale / "nps_by_silo.csv").write_text("half")
    # A folder with our naming pattern but without the marker is not ours: left alone.
    foreign = tmp_path / f".out.tmp-{dead}-xyz"
    foreign.mkdir()
    (foreign / "nps_by_silo.csv").write_text("someone else's")
    assert main(["compute", "--job", str(job)]) == 0
    assert not stale.exists()
    assert (foreign / "nps_by_silo.csv").read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == [foreign.name]


# ------------------------------------------------------------ outputs that never destroy


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, str]:
    """Every file and folder under ``root`` (outside ``skip``): path -> sha256 / 'dir' /
    'link -> target'."""
    import hashlib
    import os

    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if skip is not None and (here == skip or skip in here.parents):
            continue
        for name in dirs + files:
            path = here / name
            if skip is not None and path == skip:
                continue
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def workdir(tmp_path):
    """A job in tmp/work with its inputs copied beside it, a sentinel file and folder."""
    work = tmp_path / "work"
    data = work / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("truth", "events*", "tickets*"))
    (tmp_path / "keep.txt").write_text("do not touch")
    (tmp_path / "unrelated").mkdir()
    (tmp_path / "unrelated" / "notes.txt").write_text("mine")
    (work / "job.toml").write_text(JOB.format(d=data.as_posix(), fmt="csv"))
    return work


def set_output(work: Path, value: str) -> Path:
    job = work / "job.toml"
    job.write_text(job.read_text().replace('dir = "out"', f"dir = {json.dumps(value)}"))
    return job


@pytest.mark.parametrize(
    "target",
    [".", "..", "../unrelated", "data", "data/customers.csv", "link", "../keep.txt"],
)
def test_an_existing_folder_or_file_is_never_replaced(workdir, capsys, target):
    """Found: `dir="."` deleted the inputs and the job file; `dir="customers.csv"` turned
    the input into a folder. Now: exit 2 naming the path and the rule; nothing changes."""
    (workdir / "link").symlink_to(workdir.parent / "unrelated", target_is_directory=True)
    job = set_output(workdir, target)
    root = workdir.parent
    before = snapshot(root)
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert "refused" in err
    assert "hxmetrics" in err
    assert "marked by a .hxmetrics-output file" in err
    assert snapshot(root) == before


def test_an_empty_existing_folder_is_adopted(workdir):
    (workdir / "empty").mkdir()
    job = set_output(workdir, "empty")
    root = workdir.parent
    before = snapshot(root, skip=workdir / "empty")
    assert main(["compute", "--job", str(job)]) == 0
    assert (workdir / "empty" / "manifest.json").is_file()
    assert (workdir / "empty" / ".hxmetrics-output").is_file()
    assert snapshot(root, skip=workdir / "empty") == before
    # Owned now: a second run replaces it.
    assert main(["compute", "--job", str(job)]) == 0
    assert snapshot(root, skip=workdir / "empty") == before


def test_an_owned_output_holding_someone_elses_file_is_refused(workdir, capsys):
    job = workdir / "job.toml"
    assert main(["compute", "--job", str(job)]) == 0
    (workdir / "out" / "my-notes.txt").write_text("mine")
    before = snapshot(workdir.parent)
    assert main(["compute", "--job", str(job)]) == 2
    assert "'my-notes.txt', which hxmetrics did not write" in capsys.readouterr().err
    assert snapshot(workdir.parent) == before


def test_an_input_inside_the_output_folder_is_refused(workdir, capsys):
    """A job reading an earlier output (out/nps_by_silo.csv) must not write into out/."""
    job = workdir / "job.toml"
    assert main(["compute", "--job", str(job)]) == 0
    second = workdir / "second.toml"
    second.write_text(
        "[inputs]\nresponses = 'out/nps_by_silo.csv'\n[output]\ndir = 'out'\n"
        "[[measure]]\nname = 'x'\nfunction = 'mean_score'\ntable = 'responses'\n"
        "score = 'n'\n"
    )
    before = snapshot(workdir.parent)
    assert main(["compute", "--job", str(second)]) == 2
    assert "contains the input" in capsys.readouterr().err
    assert snapshot(workdir.parent) == before


@pytest.mark.parametrize(
    "name", ["../escape", "/tmp/abs", "", ".hidden", "a/b", "a\\\\b", "manifest", "a b", ".."]
)
def test_unsafe_measure_names_are_refused(workdir, capsys, name):
    """Found: `name="../x"` or an absolute path wrote outside the output folder;
    `name=""` wrote a hidden `.csv`."""
    job = workdir / "job.toml"
    job.write_text(job.read_text().replace('name = "csat_overall"', f'name = "{name}"'))
    before = snapshot(workdir.parent)
    assert main(["compute", "--job", str(job)]) == 2
    assert "[[measure]] #3" in capsys.readouterr().err
    assert snapshot(workdir.parent) == before


def test_a_run_killed_between_the_renames_is_restored_by_the_next_run(workdir, capsys):
    """Found: a kill between `out -> .out.old-PID` and `tmp -> out` left `out/` missing
    and the old folder behind, never restored. The state such a kill leaves is built
    here (the SIGKILL tests below produce it for real); any later run, even one that
    fails, restores the previous output first."""
    job = workdir / "job.toml"
    assert main(["compute", "--job", str(job)]) == 0
    out = workdir / "out"
    previous = snapshot(out)
    dead = _dead_pid()
    out.rename(workdir / f".out.old-{dead}-abcd1234")
    broken = job.read_text().replace('by = ["silo"]', 'by = ["no_such_column"]')
    job.write_text(broken)
    assert main(["compute", "--job", str(job)]) in (1, 3)
    assert snapshot(out) == previous
    assert sorted(p.name for p in workdir.iterdir()) == ["data", "job.toml", "out"]


def _dead_pid() -> int:
    import subprocess
    import sys

    return int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def _run_killed_at(step: int, argv: list[str]) -> int:
    """Run the CLI in a child process that SIGKILLs itself at write step ``step``;
    returns the signal number if it was killed, else minus its exit status (100 + the
    CLI's code). The child is forked from a clean, pre-imported server
    (:mod:`tests.report.forked`), never from this process."""
    import signal

    from tests.report import forked

    status = forked.run_forked(forked.cli, step, argv)
    if status < 0:
        assert -status == signal.SIGKILL
        return signal.SIGKILL
    return -status


def test_sigkill_at_every_write_step_is_recovered(workdir):
    """Kill a run at every step of the write (first run: no previous output; second run:
    replacing one). Nothing outside the output folder changes (our own staging and old
    folders aside, which only the next run may clean), and a normal run afterwards
    recovers: a complete output, no leftovers, the tree as before."""
    # A small job (one measure, no stakeholder model): the write steps are the same.
    job = workdir / "job.toml"
    job.write_text(
        "[inputs]\nresponses = 'data/responses.csv'\n[output]\ndir = 'out'\nformat = 'csv'\n"
        "[[measure]]\nname = 'nps_by_silo'\nfunction = 'nps'\ntable = 'responses'\n"
        "where = { instrument = 'nps' }\nscore = 'score'\nby = ['silo']\n"
        "[[measure]]\nname = 'csat'\nfunction = 'csat'\ntable = 'responses'\n"
        "where = { instrument = 'csat' }\nscore = 'score'\nscale = [1, 5]\nbox = [4, 5]\n"
    )
    root = workdir.parent
    out = workdir / "out"
    before = snapshot(root)

    def ours(rel: str) -> bool:
        parts = Path(rel).parts
        return len(parts) > 1 and parts[1].startswith((".out.tmp-", ".out.old-"))

    for previous in (False, True):
        if previous:
            assert main(["compute", "--job", str(job)]) == 0
            first = snapshot(out)
        step = 1
        while True:
            status = _run_killed_at(step, ["compute", "--job", str(job)])
            after_kill = {k: v for k, v in snapshot(root, skip=out).items() if not ours(k)}
            assert after_kill == before
            if previous:
                # Killed before the new output is in place, the old one is intact (or
                # restorable); after it, the new one is complete.
                assert not out.exists() or (out / "manifest.json").is_file()
            assert main(["compute", "--job", str(job)]) == 0
            assert snapshot(root, skip=out) == before
            assert (out / "manifest.json").is_file()
            assert sorted(p.name for p in workdir.iterdir()) == ["data", "job.toml", "out"]
            if previous:
                assert snapshot(out).keys() == first.keys()
            if status != 9:  # the run finished: every step has been tried
                assert status == -100
                break
            step += 1
        assert step > 6
        shutil.rmtree(out)


def test_csv_cells_that_start_a_formula_are_neutralised(tmp_path):
    """Found: group names such as `=HYPERLINK(...)`, `+cmd|...`, `@SUM` were written
    verbatim to CSV outputs. OWASP's rule: prefix a single quote. Parquet unchanged;
    numbers (negative ones too) untouched."""
    labels = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "web"]
    rows = []
    for g, label in enumerate(labels):
        for i in range(6):
            rows.append(
                {
                    "response_id": f"R{g}{i}",
                    "silo": "customers",
                    "source_id": f"C-{g}{i}",
                    "instrument": "nps",
                    "item": "ltr",
                    "score": (i * 3 + g) % 11,
                    "timestamp": "2024-01-01 00:00:00",
                    "touchpoint": label,
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "responses.csv", index=False)
    text = (
        "[inputs]\nresponses = 'responses.csv'\n[output]\ndir = 'out'\nformat = '{fmt}'\n"
        "[[measure]]\nname = 'by_touchpoint'\nfunction = 'nps'\ntable = 'responses'\n"
        "score = 'score'\nby = ['touchpoint']\n"
    )
    for fmt in ("csv", "parquet"):
        job = tmp_path / f"{fmt}.toml"
        job.write_text(text.format(fmt=fmt).replace("'out'", f"'out-{fmt}'"))
        assert main(["compute", "--job", str(job)]) == 0
    raw = (tmp_path / "out-csv" / "by_touchpoint.csv").read_text()
    for label in labels[:4]:
        assert f"\n{label}" not in raw
        assert f",{label}" not in raw
    got = pd.read_csv(tmp_path / "out-csv" / "by_touchpoint.csv")
    assert sorted(got["touchpoint"]) == sorted(["'" + x for x in labels[:4]] + ["web"])
    assert (got["estimate"] < 0).any()  # negative numbers stay numbers
    assert pd.api.types.is_float_dtype(got["estimate"])
    parquet = pd.read_parquet(tmp_path / "out-parquet" / "by_touchpoint.parquet")
    assert sorted(parquet["touchpoint"]) == sorted(labels)


# ------------------------------------------------------------ job files: named errors


def _edit(work: Path, old: str, new: str, count: int = 1) -> Path:
    job = work / "job.toml"
    text = job.read_text()
    assert old in text
    job.write_text(text.replace(old, new, count))
    return job


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # Found: an unknown measure keyword was exit 3 (a TypeError at run time).
        (
            'by = ["silo"]',
            'by = ["silo"]\nscroe = "score"',
            "[[measure]] #1 (nps_by_silo): unknown option 'scroe' for nps; it takes score, by,"
            " weights, method, confidence, min_n, random_state, n_resamples, prior. "
            "Did you mean 'score'?",
        ),
        # Found: a string instead of a table was a traceback.
        (
            'where = { instrument = "nps" }',
            'where = "instrument=nps"',
            "[[measure]] #1 (nps_by_silo): where must be a table such as "
            "where = { column = value }",
        ),
        (
            'where = { instrument = "nps" }',
            "where = { instrument = { a = 1 } }",
            "where.instrument: expected a value or a list of values",
        ),
        ('name = "sample-job"', 'name = "sample-job"\nengin = "polars"', "Did you mean 'engine'?"),
        # Found (issue 11): an unknown [job] key must never pass silently.
        (
            'name = "sample-job"',
            'name = "sample-job"\ncolour = "red"',
            "unknown key 'colour' in [job]",
        ),
        ('format = "csv"', 'format = "csv"\ndri = "x"', "unknown key 'dri' in [output]"),
        (
            'keys = ["email", "phone"]',
            'keys = ["email", "phone"]\nkey = "email"',
            "unknown key 'key' in [stakeholders]; allowed: keys, secret_file. Did you mean 'keys'?",
        ),
        ('keys = ["email", "phone"]', "keys = [1, 2]", "[stakeholders].keys"),
    ],
)
def test_job_file_mistakes_are_usage_errors_at_load_time(workdir, capsys, old, new, message):
    job = _edit(workdir, old, new)
    with pytest.raises(jobs.JobError):
        jobs.load_job(job)
    assert main(["compute", "--job", str(job)]) == 2
    assert message in capsys.readouterr().err
    assert not (workdir / "out").exists()


def test_a_where_that_matches_nothing_is_an_error(workdir, capsys):
    """Found: `instrument = "NPS"` (wrong case) succeeded with a 0-row output."""
    job = _edit(workdir, 'where = { instrument = "nps" }', 'where = { instrument = "NPS" }')
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert "[[measure]] nps_by_silo: where {'instrument': 'NPS'} matches no rows" in err
    assert not (workdir / "out").exists()


def test_keys_given_as_a_string_are_one_key(workdir):
    """Found: `keys = "email"` became ['e', 'm', 'a', 'i', 'l']."""
    job = _edit(workdir, 'keys = ["email", "phone"]', 'keys = ["email"]')
    assert main(["compute", "--job", str(job)]) == 0
    listed = snapshot(workdir / "out")
    job = _edit(workdir, 'keys = ["email"]', 'keys = "email"')
    assert jobs.load_job(job).keys == ("email",)
    assert main(["compute", "--job", str(job)]) == 0
    again = snapshot(workdir / "out")
    listed.pop("manifest.json")
    again.pop("manifest.json")
    assert again == listed


def test_rows_a_measure_excludes_reach_the_manifest(workdir):
    """Found: transactions after rfm_summary's observation_end were dropped and not in
    the manifest (the count is in the result's attrs, not in an n_excluded column)."""
    tx = pd.read_csv(workdir / "data" / "transactions.csv")
    end = "2021-06-30"
    after = int((pd.to_datetime(tx["timestamp"]) > pd.Timestamp(end)).sum())
    assert after > 0
    job = _with_secret_file(workdir)
    # rfm_summary is per customer: only without disclosure control (min_n = 1).
    job.write_text(
        "[privacy]\nmin_n = 1\n"
        + job.read_text()
        + '\n[[measure]]\nname = "rfm"\nfunction = "rfm_summary"\ntable = "transactions"\n'
        + f'customer = "person_id"\ntime = "timestamp"\nobservation_end = "{end}"\n'
    )
    assert main(["compute", "--job", str(job)]) == 0
    manifest = json.loads((workdir / "out" / "manifest.json").read_text())
    rfm = next(m for m in manifest["measures"] if m["name"] == "rfm")
    assert rfm["excluded"]["transactions_after_observation_end"] == after


@pytest.mark.parametrize("previous", [False, True])
def test_a_failure_mid_run_changes_nothing(workdir, monkeypatch, previous):
    """A measure failing after others ran, and a write failing after some files were
    written: the tree (the previous output included) is exactly as before."""
    job = workdir / "job.toml"
    if previous:
        assert main(["compute", "--job", str(job)]) == 0
    before = snapshot(workdir.parent)
    real = jobs._measure_functions

    def failing_csat():
        functions = dict(real())

        def boom(*args, **kwargs):
            raise RuntimeError("boom")

        functions["csat"] = boom
        return functions

    monkeypatch.setattr(jobs, "_measure_functions", failing_csat)
    assert main(["compute", "--job", str(job)]) == 3
    assert snapshot(workdir.parent) == before
    monkeypatch.setattr(jobs, "_measure_functions", real)
    written = []
    real_to_csv = pd.DataFrame.to_csv

    def fail_second(self, *args, **kwargs):
        written.append(1)
        if len(written) == 2:
            raise OSError("disk full")
        return real_to_csv(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_second)
    assert main(["compute", "--job", str(job)]) == 3
    assert snapshot(workdir.parent) == before


# ------------------------------------------------ errors inside a measure name the measure


@pytest.mark.parametrize("engine", ["pandas", "polars"])
@pytest.mark.parametrize(
    ("old", "new", "measure", "column"),
    [
        ('by = ["silo"]', 'by = ["no_such_column"]', "nps_by_silo", "no_such_column"),
        ('by = ["hybrid_type"]', 'by = ["hybrid_typ"]', "nps_by_hybrid", "hybrid_typ"),
        ("box = [4, 5]", 'box = [4, 5]\nweights = "wieght"', "csat_overall", "wieght"),
    ],
)
def test_a_bad_column_in_a_measure_names_the_measure(
    workdir, capsys, engine, old, new, measure, column
):
    """Found (issue 11): a bad column in a measure reported `INVALID input (data)`
    without saying which measure of the job asked for it."""
    job = _edit(workdir, old, new)
    assert main(["compute", "--job", str(job), "--engine", engine]) == 1
    err = capsys.readouterr().err
    function = "csat" if measure == "csat_overall" else "nps"
    first = err.splitlines()[0]
    assert first == f"INVALID input (responses) in [[measure]] {measure} ({function})"
    assert f"[[measure]] {measure} ({function} on table 'responses'): " in err
    assert f"columns were not found: [{column!r}]" in err
    assert "(data)" not in err
    assert "data:" not in err
    assert not (workdir / "out").exists()


def test_a_bad_column_raised_by_run_job_keeps_its_failure_cases(workdir):
    job = jobs.load_job(_edit(workdir, 'by = ["silo"]', 'by = ["no_such_column"]'))
    with pytest.raises(hx.InputTableError) as info:
        jobs.run_job(job)
    assert info.value.table == "responses"
    assert info.value.measure == "nps_by_silo"
    assert list(info.value.failure_cases["column"]) == ["no_such_column"]


def test_a_bad_option_value_in_a_measure_is_a_usage_error_naming_it(workdir, capsys):
    """A value the measure refuses (here an unknown method) is a job-file mistake: exit 2,
    with the measure named (it was the bare ParameterError of nps)."""
    job = _edit(workdir, 'by = ["silo"]', 'by = ["silo"]\nmethod = "wlad"')
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hxmetrics: error: [[measure]] nps_by_silo (nps on table 'responses'): ")
    assert "method must be one of" in err
    assert not (workdir / "out").exists()


# ------------------------------------------------------------------------------ logging

_ID_COLUMNS = {
    "customers": ["customer_id", "email", "phone"],
    "workers": ["worker_id", "email", "phone"],
    "partners": ["partner_id", "email", "phone"],
    "responses": ["response_id", "source_id"],
    "transactions": ["transaction_id", "source_id"],
}


def _identifiers(data: Path) -> set[str]:
    values: set[str] = set()
    for table, columns in _ID_COLUMNS.items():
        frame = pd.read_csv(data / f"{table}.csv", dtype=str)
        for column in columns:
            values.update(frame[column].dropna())
    return values


def test_a_compute_run_logs_its_steps_one_line_per_measure_and_no_identifier(workdir, caplog):
    """Found (issue 11): no logging anywhere. A run logs its steps under the
    ``hxmetrics`` logger: counts and names of tables and measures, never a value."""
    import logging

    caplog.set_level(logging.DEBUG, logger="hxmetrics")
    assert main(["compute", "--job", str(workdir / "job.toml")]) == 0
    records = [r for r in caplog.records if r.name.startswith("hxmetrics")]
    assert records
    # Module loggers (getLogger(__name__)) under the package's, never the root logger.
    assert all(r.name.startswith("hxmetrics.") for r in records)
    assert not [r for r in caplog.records if r.name == "root"]
    info = [r.getMessage() for r in records if r.levelno == logging.INFO]
    per_measure = [m for m in info if m.startswith("measure ")]
    assert [m.split()[1] for m in per_measure] == ["nps_by_silo", "nps_by_hybrid", "csat_overall"]
    assert per_measure[0].startswith("measure nps_by_silo (nps on responses): ")
    manifest = json.loads((workdir / "out" / "manifest.json").read_text())
    for line, entry in zip(per_measure, manifest["measures"], strict=True):
        assert f"{entry['rows_out']} rows out" in line
    # The steps: reading and validating each input, resolving, writing.
    for table in ("customers", "workers", "partners", "responses", "transactions"):
        assert any(m.startswith(f"validated {table}: ") for m in info), table
    assert any(m.startswith("resolved stakeholders") for m in info)
    assert any(m.startswith("wrote ") for m in info)
    text = "\n".join(r.getMessage() for r in records)
    leaked = {v for v in _identifiers(workdir / "data") if v in text}
    assert leaked == set()
    # Filter values (where) are values too: not logged.
    assert "instrument" not in text


def test_a_suppressed_count_is_not_logged(workdir, caplog):
    """The log line of a measure says a hidden rows_in is suppressed, as the manifest."""
    import logging

    job = _edit(
        workdir,
        'where = { instrument = "csat" }',
        'where = { instrument = "csat", source_id = "C000048" }',
    )
    caplog.set_level(logging.INFO, logger="hxmetrics")
    assert main(["compute", "--job", str(job)]) == 0
    manifest = json.loads((workdir / "out" / "manifest.json").read_text())
    csat = next(m for m in manifest["measures"] if m["name"] == "csat_overall")
    assert csat["rows_in"] is None
    line = next(m for m in caplog.messages if m.startswith("measure csat_overall "))
    assert "from a suppressed count of rows" in line
    assert "C000048" not in caplog.text


def _spy_keys(monkeypatch) -> list:
    from hxmetrics.stakeholders import StakeholderRegistry

    seen: list = []
    real = StakeholderRegistry.from_rosters.__func__

    def spy(cls, **kwargs):
        seen.append(kwargs.get("keys"))
        return real(cls, **kwargs)

    monkeypatch.setattr(StakeholderRegistry, "from_rosters", classmethod(spy))
    return seen


def test_explicit_empty_keys_mean_no_keys(workdir, monkeypatch):
    """Found (issue 11): `keys = []` became the default keys (`job.keys or None`); an
    explicit empty list means no linking: one person per roster record."""
    job = _edit(workdir, 'keys = ["email", "phone"]', "keys = []")
    loaded = jobs.load_job(job)
    assert loaded.keys == ()
    assert loaded.stakeholders
    seen = _spy_keys(monkeypatch)
    jobs.run_job(loaded)
    assert seen == [[]]
    # Not given: the registry's default keys (None), as before.
    job = _edit(workdir, "keys = []\n", "")
    loaded = jobs.load_job(job)
    assert loaded.keys is None
    assert loaded.stakeholders
    jobs.run_job(loaded)
    assert seen == [[], None]


RFM = '\n[[measure]]\nname = "rfm"\nfunction = "rfm_summary"\ntable = "transactions"\n'


def _with_secret_file(workdir: Path) -> Path:
    """The job with ``[stakeholders] secret_file`` (an rfm output needs it), the file
    beside the job, outside the output folder."""
    from hxmetrics.stakeholders import new_secret

    (workdir / "org.secret").write_text(new_secret() + "\n")
    return _edit(workdir, "[stakeholders]\n", '[stakeholders]\nsecret_file = "org.secret"\n')


def test_rfm_output_has_the_pseudonymous_customer_id_sorted(workdir, tmp_path):
    """Found (issue 11): an rfm_summary output had no customer id and its row order
    depended on the engine. It now carries the keyed pseudonymous person_id (never a
    raw id) and is sorted by it, the same on every engine."""
    job = _with_secret_file(workdir)
    job.write_text(
        "[privacy]\nmin_n = 1\n"
        + job.read_text()
        + RFM
        + 'customer = "person_id"\ntime = "timestamp"\nobservation_end = "2021-06-30"\n'
    )
    assert main(["compute", "--job", str(job)]) == 0
    got = read(workdir / "out", "rfm", "csv")
    assert got.columns[0] == "person_id"
    assert got["person_id"].is_unique
    assert got["person_id"].tolist() == sorted(got["person_id"])
    assert not (workdir / "out" / ".hxmetrics-secret").exists()  # the key stays apart
    secret = (workdir / "org.secret").read_text()
    tx = pd.read_csv(workdir / "data" / "transactions.csv")
    raw = (workdir / "out" / "rfm.csv").read_text()
    assert not any(str(v) in raw for v in tx["source_id"].unique()[:50])
    assert secret.strip() not in raw
    # Polars is a test extra (CI installs it); without it this test cannot run.
    pytest.importorskip("polars")
    assert main(["compute", "--job", str(job), "--engine", "polars"]) == 0
    again = read(workdir / "out", "rfm", "csv")
    pd.testing.assert_frame_equal(again, got)


@pytest.mark.parametrize(
    ("stakeholders", "customer"),
    [(True, "source_id"), (True, "email"), (False, "person_id")],
)
def test_rfm_refuses_raw_ids_and_unkeyed_ids(workdir, capsys, stakeholders, customer):
    job = workdir / "job.toml"
    text = "[privacy]\nmin_n = 1\n" + job.read_text()
    if not stakeholders:
        text = text.replace('[stakeholders]\nkeys = ["email", "phone"]\n', "")
    job.write_text(
        text + RFM + f'customer = "{customer}"\ntime = "timestamp"\n'
        'observation_end = "2021-06-30"\n'
    )
    with pytest.raises(jobs.JobError, match="keyed pseudonymous 'person_id'"):
        jobs.load_job(job)
    assert main(["compute", "--job", str(job)]) == 2
    assert "never a raw id" in capsys.readouterr().err


def test_rfm_ids_need_a_key_kept_apart_from_them(workdir, capsys):
    """Found: an rfm output's person ids were written beside the key that made them (the
    job's generated secret, stored in the output folder as .hxmetrics-secret): with
    both, the HMAC of any guessed roster id gives its person id, and the ids were as
    good as raw ones. A job writing person ids now needs [stakeholders] secret_file;
    without it the job is refused before any work and nothing is written."""
    job = workdir / "job.toml"
    job.write_text(
        "[privacy]\nmin_n = 1\n"
        + job.read_text()
        + RFM
        + 'customer = "person_id"\ntime = "timestamp"\nobservation_end = "2021-06-30"\n'
    )
    before = snapshot(workdir.parent)
    with pytest.raises(jobs.JobError, match="secret_file"):
        jobs.load_job(job)
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert "their key must be kept apart from them" in err
    assert "[stakeholders] secret_file" in err
    assert snapshot(workdir.parent) == before
    # Named, the same job runs and writes the ids, and no key beside them.
    _with_secret_file(workdir)
    assert main(["compute", "--job", str(job)]) == 0
    assert "person_id" in read(workdir / "out", "rfm", "csv").columns
    assert not (workdir / "out" / ".hxmetrics-secret").exists()


# ---------------------------------------------------------------- inputs, [engine], partitions

SMALL = """
[inputs]
responses = "{responses}"

[output]
dir = "out"
format = "parquet"
{output}

[[measure]]
name = "nps_by_silo"
function = "nps"
table = "responses"
where = {{ instrument = "nps" }}
score = "score"
by = ["silo"]
"""


def small_job(tmp_path: Path, responses: str, *, output: str = "", head: str = "") -> Path:
    job = tmp_path / "small.toml"
    job.write_text(head + SMALL.format(responses=responses, output=output))
    return job


def test_a_glob_and_a_folder_read_like_one_file(tmp_path):
    """The same rows split over files (a glob, a hive-partitioned folder) give the
    same output as the one CSV file; the manifest's checksum covers every file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hxmetrics.tables import read_table

    raw = read_table(SAMPLE / "responses.csv")
    data = tmp_path / "data"
    data.mkdir()
    raw.iloc[:9000].to_parquet(data / "responses-a.parquet", index=False)
    raw.iloc[9000:].to_parquet(data / "responses-b.parquet", index=False)
    pq.write_to_dataset(
        pa.Table.from_pandas(raw, preserve_index=False), data / "hive", partition_cols=["silo"]
    )
    (data / "hive" / "_SUCCESS").write_text("")  # skipped, as Spark writes it
    outputs = {}
    for source in (
        (SAMPLE / "responses.csv").as_posix(),
        "data/responses-*.parquet",
        "data/hive",
    ):
        job = small_job(tmp_path, source)
        assert main(["compute", "--job", str(job)]) == 0
        outputs[source] = pd.read_parquet(tmp_path / "out" / "nps_by_silo.parquet")
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        entry = manifest["inputs"]["responses"]
        assert entry["rows"] == len(raw)
        assert len(entry["sha256"]) == 64
    first, *others = outputs.values()
    for other in others:
        pd.testing.assert_frame_equal(other, first, check_exact=True)
    assert entry["files"] == 3
    assert entry["path"] == str((data / "hive").resolve())
    # A changed file changes the folder's checksum.
    before = entry["sha256"]
    victim = next((data / "hive").rglob("*.parquet"))
    victim.write_bytes(victim.read_bytes() + b"\0")
    from hxmetrics import _scan

    spec = _scan.parse_input("data/hive", base=tmp_path, where="x")
    assert _scan.checksum(spec)[0] != before


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('"nothing-*.parquet"', "no file matches"),
        ('"empty"', "holds no .csv or .parquet file"),
        ('"duckdb:missing.duckdb::t"', "no such DuckDB database file"),
        ('"duckdb:x.duckdb"', "is not a DuckDB table"),
        ('"spark:not a table"', "is not a catalogue table"),
        ('"mixed"', "mixes CSV and Parquet"),
    ],
)
def test_bad_inputs_are_job_file_errors(tmp_path, entry, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.csv").write_text("x\n1\n")
    (tmp_path / "mixed" / "b.parquet").write_bytes(b"")
    job = small_job(tmp_path, "x").read_text().replace('"x"', entry)
    (tmp_path / "small.toml").write_text(job)
    with pytest.raises(jobs.JobError, match=message):
        jobs.load_job(tmp_path / "small.toml")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[engine]\nmemory_limit = "lots"\n', "expected a size"),
        ("[engine]\nthreads = 0\n", "positive integer"),
        ('[engine]\nmemroy_limit = "4GB"\n', "Did you mean 'memory_limit'"),
    ],
)
def test_engine_section_is_checked(tmp_path, section, message):
    job = small_job(tmp_path, (SAMPLE / "responses.csv").as_posix(), head=section)
    with pytest.raises(jobs.JobError, match=message):
        jobs.load_job(job)


def test_engine_section_configures_duckdb(tmp_path, monkeypatch):
    duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra")
    job = small_job(
        tmp_path,
        (SAMPLE / "responses.csv").as_posix(),
        head='[engine]\nmemory_limit = "512MB"\ntemp_directory = "spill"\nthreads = 1\n',
    )
    loaded = jobs.load_job(job, engine="duckdb")
    seen = {}
    real = duckdb.connect

    def connect(*args, **kwargs):
        connection = real(*args, **kwargs)
        seen.update(
            dict(
                connection.sql(
                    "SELECT name, value FROM duckdb_settings() WHERE name IN "
                    "('memory_limit', 'threads', 'temp_directory')"
                ).fetchall()
            )
        )
        return connection

    monkeypatch.setattr(duckdb, "connect", connect)
    jobs.run_job(loaded)
    assert seen["threads"] == "1"
    assert seen["temp_directory"] == str((tmp_path / "spill").resolve())
    assert seen["memory_limit"] in ("488.2 MiB", "512.0 MB")  # DuckDB shows it in its unit


def test_partition_by_writes_a_hive_folder(tmp_path):
    job = small_job(
        tmp_path, (SAMPLE / "responses.csv").as_posix(), output='partition_by = ["silo"]'
    )
    assert main(["compute", "--job", str(job)]) == 0
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "nps_by_silo").iterdir()) == [
        "silo=customers",
        "silo=partners",
        "silo=workers",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["measures"][0]["partitioned_by"] == ["silo"]
    back = pd.read_parquet(out / "nps_by_silo")
    (tmp_path / "plain").mkdir()
    plain = small_job(tmp_path / "plain", (SAMPLE / "responses.csv").as_posix())
    assert main(["compute", "--job", str(plain)]) == 0
    expected = pd.read_parquet(tmp_path / "plain" / "out" / "nps_by_silo.parquet")
    back["silo"] = back["silo"].astype(str)
    pd.testing.assert_frame_equal(
        back[expected.columns].sort_values("silo", ignore_index=True), expected, check_dtype=False
    )


def test_partition_by_output_is_replaced_by_the_next_run(tmp_path):
    job = small_job(
        tmp_path, (SAMPLE / "responses.csv").as_posix(), output='partition_by = ["silo"]'
    )
    assert main(["compute", "--job", str(job)]) == 0
    assert main(["compute", "--job", str(job)]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    assert len(pd.read_parquet(tmp_path / "out" / "nps_by_silo")) == 3


def test_partition_by_needs_parquet(tmp_path):
    job = small_job(
        tmp_path, (SAMPLE / "responses.csv").as_posix(), output='partition_by = ["silo"]'
    )
    job.write_text(job.read_text().replace('format = "parquet"', 'format = "csv"'))
    with pytest.raises(jobs.JobError, match="set format"):
        jobs.load_job(job)


def test_report_job_inputs_refuse_what_it_cannot_read(tmp_path):
    job = small_job(tmp_path, "spark:hx.responses")
    with pytest.raises(jobs.JobError, match="reads one CSV or Parquet file per table"):
        jobs.job_inputs(job)
