"""The command line: exit codes 0 (valid), 1 (invalid input), 2 (usage)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from hxmetrics.cli import main
from tests.report.unrendered import figures_unrendered
from tests.test_tables import valid


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "workers.csv"
    valid("workers").to_csv(good, index=False)
    bad = valid("responses")
    bad.loc[1, "score"] = "high"
    bad_path = tmp_path / "responses_2025.csv"
    bad.to_csv(bad_path, index=False)
    pq = tmp_path / "ticket_dump.parquet"
    valid("tickets").to_parquet(pq)
    return good, bad_path, pq


def test_valid_file_exits_0(files, capsys):
    good, _, _ = files
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok")
    assert "(workers, 3 rows" in out


def test_invalid_file_exits_1_with_the_report(files, capsys):
    good, bad, _ = files
    assert main(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"INVALID {bad} (responses, 2 rows)" in out
    assert "column 'score', check coerce_dtype('float64'): 1 row(s), e.g. row 1: 'high'" in out


def test_table_given_explicitly_for_a_parquet_file(files, capsys):
    _, _, pq = files
    assert main(["validate", "--table", "tickets", str(pq)]) == 0
    assert "(tickets, 2 rows" in capsys.readouterr().out


def test_the_optional_ticket_events_table_validates(tmp_path, capsys):
    # An optional table of the contract (issue 14): --table ticket_events was refused.
    events = pd.DataFrame(
        {
            "ticket_id": ["K1", "K1"],
            "status": ["opened", "triaged"],
            "timestamp": ["2025-01-01 09:00", "2025-01-01 10:00"],
        }
    )
    path = tmp_path / "history.csv"
    events.to_csv(path, index=False)
    assert main(["validate", "--table", "ticket_events", str(path)]) == 0
    assert "(ticket_events, 2 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["validate"],
        ["validate", "--table", "nonsense", "x.csv"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2


def test_unknown_table_name_and_missing_file_exit_2(files, tmp_path, capsys):
    _, _, pq = files
    assert main(["validate", str(pq)]) == 2
    assert "cannot tell which table" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "responses.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_entry_point(files):
    good, bad, _ = files
    ok = subprocess.run([sys.executable, "-m", "hxmetrics.cli", "validate", str(good)])
    assert ok.returncode == 0
    fail = subprocess.run(
        [sys.executable, "-m", "hxmetrics.cli", "validate", str(bad)], capture_output=True
    )
    assert fail.returncode == 1


def test_ctrl_c_prints_one_line_and_exits_130(files, capsys, monkeypatch):
    """Found: Ctrl-C printed a long KeyboardInterrupt traceback."""
    from hxmetrics import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_validate", interrupted)
    good, _, _ = files
    assert main(["validate", str(good)]) == 130
    err = capsys.readouterr().err
    assert err == "hxmetrics: interrupted\n"


def test_version(capsys):
    import hxmetrics

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"hxmetrics {hxmetrics.__version__}\n"


def test_verbose_shows_info_logs_on_stderr_and_quiet_by_default(files, capsys):
    """Found (issue 11): no logging; `-v` shows the steps on stderr (INFO)."""
    import logging

    good, _, _ = files
    package = logging.getLogger("hxmetrics")
    handlers = list(package.handlers)
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().err == ""
    for argv in (["-v", "validate", str(good)], ["validate", "-v", str(good)]):
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert "hxmetrics.cli INFO: validated workers: 3 rows" in err
        assert "DEBUG" not in err
    assert main(["-vv", "validate", str(good)]) == 0
    assert "DEBUG" in capsys.readouterr().err
    # main() leaves the logging configuration as it found it.
    assert package.handlers == handlers
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().err == ""


def test_keys_with_no_column_means_no_key():
    """Found (issue 11): ``--keys`` with no value was an argparse error (exit 2)."""
    from hxmetrics.cli import _parser

    report = ["report", "--out", "r.html"]
    assert _parser().parse_args([*report, "--keys"]).keys == []
    assert _parser().parse_args([*report, "--keys", "email"]).keys == ["email"]
    assert _parser().parse_args(report).keys == ["email", "phone"]


@pytest.mark.parametrize(("argv", "keys"), [(["--keys"], ()), ([], ("email", "phone"))])
def test_keys_reach_the_report(argv, keys, monkeypatch, tmp_path, capsys):
    """``--keys`` alone reaches the report as no key (the registry then links nothing)."""
    import hxmetrics.report.main as report_main

    seen = {}

    def fake_run_report(data, **kwargs):
        seen.update(kwargs)
        return tmp_path / "r.html"

    monkeypatch.setattr(report_main, "run_report", fake_run_report)
    assert main(["report", "--out", str(tmp_path / "r.html"), *argv]) == 0
    assert seen["keys"] == keys


@pytest.mark.parametrize("keys", [["--keys"], []])
def test_report_runs_on_rosters_without_contact_keys(tmp_path, keys, capsys):
    """Found (issue 11): key-less rosters (ids only) register, one person per record."""
    from hxmetrics.datasets import simulate_organisation

    org = simulate_organisation(120, random_state=5)
    data = tmp_path / "data"
    data.mkdir()
    for name, table in org.tables.items():
        table.drop(columns=["email", "phone"], errors="ignore").to_csv(
            data / f"{name}.csv", index=False
        )
    out = tmp_path / "report.html"
    argv = ["report", "--data", str(data), "--out", str(out), "--quiet", *keys]
    # No pixels: the test reads the page's text (see tests/report/unrendered.py); the
    # full render on key-less rosters is test_sections' keyless test.
    with figures_unrendered():
        assert main(argv) == 0, capsys.readouterr().err
    assert out.exists()
    html = out.read_text()
    assert "one person per record" in html
    assert not any(e in html for e in org.customers["email"].dropna().head(50))


def test_spark_job_entry_point_usage(capsys):
    """The spark-submit entry point parses its arguments before it starts Spark: a
    missing job file is a usage error (exit 2) with no JVM started."""
    from hxmetrics import spark_job

    assert spark_job.main([]) == 2
    assert "JOB.toml" in capsys.readouterr().err
    assert spark_job.main(["--help"]) == 0
    assert "spark-submit" in capsys.readouterr().out
