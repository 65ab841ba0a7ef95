"""A URI in a job file is refused, never taken as a local path.

``[output] dir = "s3://bucket/out"`` used to be written to a local folder named
``s3:/bucket/out`` beside the job file (pathlib folds the double slash), with exit 0:
the user's data went somewhere other than where they asked, silently. An input URI
failed with "no such file .../s3:/bucket/...", which did not say why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hxmetrics.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples"
JOB = """
[job]
name = "uri"
engine = "duckdb"

[inputs]
customers = "{customers}"
responses = "{responses}"

[output]
dir = "{out}"

[[measure]]
name = "overall"
function = "nps"
table = "responses"
where = {{ instrument = "nps" }}
score = "score"
"""
URIS = [
    "s3://bucket/out",
    "gs://b/o",
    "abfss://c@a.dfs.core.windows.net/o",
    "hdfs://nn/o",
    "file:///tmp/hx-out",
    "https://example.org/o",
]


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def _job(tmp_path: Path, **entries: str) -> Path:
    shutil.copy(SAMPLE / "customers.csv", tmp_path / "customers.csv")
    shutil.copy(SAMPLE / "responses.csv", tmp_path / "responses.csv")
    fields = {"customers": "customers.csv", "responses": "responses.csv", "out": "out"}
    job = tmp_path / "job.toml"
    job.write_text(JOB.format(**(fields | entries)))
    return job


def test_a_local_output_folder_is_written(tmp_path, capsys):
    """The job of the tests below, with local paths: it runs (so a refusal below is the
    URI's, not the job's)."""
    job = _job(tmp_path)
    assert main(["compute", "--job", str(job)]) == 0
    assert (tmp_path / "out" / "overall.parquet").is_file()


@pytest.mark.parametrize("uri", URIS)
def test_an_output_uri_is_refused_and_nothing_is_written(uri, tmp_path, capsys):
    job = _job(tmp_path, out=uri)
    before = _files(tmp_path)
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert f"[output].dir: '{uri.split('://')[0]}://...' is a URI" in err
    assert "local or mounted file system" in err
    assert _files(tmp_path) == before  # no "s3:" folder, nothing else
    assert not Path("s3:").exists()  # nor beside the working directory


@pytest.mark.parametrize("uri", ["s3://bucket/responses.csv", "gs://b/r/*.parquet"])
def test_an_input_uri_is_refused_with_what_inputs_may_be(uri, tmp_path, capsys):
    job = _job(tmp_path, responses=uri)
    before = _files(tmp_path)
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert f"[inputs].responses: '{uri.split('://')[0]}://...' is a URI" in err
    assert "spark:db.table" in err  # says what an input may be instead
    assert "no such file" not in err
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    "uri", ["s3://AKIAEXAMPLE:s3cr3t@bucket/out", "https://ann.lee@example.org:pw@host/o"]
)
@pytest.mark.parametrize("where", ["out", "responses"])
def test_a_uri_with_credentials_is_not_echoed(uri, where, tmp_path, capsys):
    """Found: the refusal quoted the URI whole, so a user name, password or signed token
    in it went to stderr (and to a pipeline's logs). Only the scheme is shown."""
    job = _job(tmp_path, **{where: uri})
    assert main(["compute", "--job", str(job)]) == 2
    err = capsys.readouterr().err
    assert "is a URI" in err
    for secret in ("AKIAEXAMPLE", "s3cr3t", "ann.lee", "pw@", "bucket", "example.org"):
        assert secret not in err


@pytest.mark.parametrize("path", ["out", "sub/out", "C:/data/out", "s3:out", "my:folder"])
def test_paths_that_are_not_uris_are_not_refused_as_uris(path, tmp_path, capsys):
    """Only ``scheme://`` is a URI: a relative folder, a Windows drive path, a folder
    whose name has a colon are paths (checked by the output rules as before)."""
    job = _job(tmp_path, out=path)
    main(["compute", "--job", str(job)])
    assert "is a URI" not in capsys.readouterr().err
