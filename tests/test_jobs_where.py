"""A job's ``where`` compares values of the column's kind, the same on every engine.

Found (session 10): ``where = { score = [1, 4] }`` on a float column raised Polars' own
``InvalidOperationError``; ``where = { i = "1" }`` on an integer column matched nothing on
pandas, raised a ``BinderException`` on DuckDB and an ``InvalidOperationError`` on Polars;
``True`` matched ``1.0`` on pandas; a naive time against a zoned column matched nothing
on pandas and DuckDB and raised on Polars. Now a value of another kind is refused with
a :class:`JobError` naming the measure, the column and the value, and numbers compare as
numbers on every engine.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import narwhals as nw
import pandas as pd
import pytest

from hxmetrics import jobs
from hxmetrics.cli import main
from hxmetrics.errors import JobError

pl = pytest.importorskip("polars", reason="Polars is a test extra (CI installs it)")
duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (CI installs it)")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples"
ENGINES = ("pandas", "polars", "duckdb")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "score": [1.0, 4.0, 2.5, None],
            "n": pd.array([1, 2, 3, None], dtype="Int64"),
            "flag": [True, False, True, False],
            "text": ["a", "b", None, "c"],
            "cat": pd.Categorical(["x", "y", "x", "y"]),
            "at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
            "zoned": pd.to_datetime(["2024-01-01 10:00"] * 2 + ["2024-01-02 10:00"] * 2)
            .tz_localize("Europe/Paris")
            .as_unit("us"),
        }
    )


def _on(engine: str, df: pd.DataFrame):
    if engine == "polars":
        return pl.from_pandas(df).lazy()
    if engine == "duckdb":
        return duckdb.from_df(df)
    return df


def _rows(engine: str, where: dict) -> int:
    out = jobs._apply_where(_on(engine, _frame()), where, "[[measure]] m")
    return len(nw.from_native(out).lazy().collect())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("where", "rows"),
    [
        ({"score": [1, 4]}, 2),  # integers against floats: Polars raised
        ({"score": 4}, 1),
        ({"score": [1.0, 2.5]}, 2),
        ({"n": [1.0, 3]}, 2),  # whole floats against integers: Polars raised
        ({"n": 2}, 1),
        ({"flag": True}, 2),
        ({"text": ["a", "c"]}, 2),
        ({"cat": "y"}, 2),
        ({"at": dt.datetime(2024, 1, 2)}, 1),
        ({"zoned": dt.datetime(2024, 1, 2, 9, tzinfo=dt.UTC)}, 2),  # 10:00 in Paris
    ],
)
def test_values_of_the_columns_kind_match_alike_on_every_engine(engine, where, rows):
    assert _rows(engine, where) == rows


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("where", "said"),
    [
        ({"n": "1"}, "column 'n' holds integer values (Int64); '1' (str) is not one."),
        ({"n": [1, 2.5]}, "column 'n' holds integer values (Int64); 2.5 (float) is not one."),
        ({"score": True}, "column 'score' holds number values (Float64); True (bool) is not one"),
        ({"score": "4"}, "'4' (str) is not one"),
        ({"score": float("nan")}, "A missing value is never matched: NaN and infinities"),
        ({"score": float("inf")}, "inf (float) is not one"),
        ({"flag": 1}, "column 'flag' holds boolean values (Boolean); 1 (int) is not one."),
        ({"text": ["a", 1]}, "column 'text' holds text values (String); 1 (int) is not one."),
        ({"cat": 1}, "1 (int) is not one."),
        ({"at": dt.date(2024, 1, 2)}, "column 'at' holds datetime values"),
        ({"at": "2024-01-02"}, "'2024-01-02' (str) is not one."),
        ({"zoned": dt.datetime(2024, 1, 2, 10)}, "holds time-zone-aware datetime values"),
        ({"at": dt.datetime(2024, 1, 2, tzinfo=dt.UTC)}, "holds naive datetime values"),
    ],
)
def test_a_value_of_another_kind_is_refused_alike_on_every_engine(engine, where, said):
    with pytest.raises(JobError) as err:
        _rows(engine, where)
    column = next(iter(where))
    assert str(err.value).startswith(f"[[measure]] m: where.{column}: column {column!r} holds")
    assert said in str(err.value)


JOB = """
[job]
name = "where"

[inputs]
responses = "{d}/responses.csv"

[output]
dir = "out"
format = "csv"

[[measure]]
name = "top"
function = "mean_score"
table = "responses"
where = {{ instrument = "nps", score = {score} }}
score = "score"
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("where") / "data"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("truth", "events*", "ticket*"))
    return folder


def _job(data: Path, folder: Path, score: str) -> Path:
    folder.mkdir()
    job = folder / "job.toml"
    job.write_text(JOB.format(d=data.as_posix(), score=score))
    return job


@pytest.mark.parametrize("engine", ENGINES)
def test_a_job_compares_numbers_as_numbers_and_refuses_text(engine, data, tmp_path, capsys):
    """The sample's scores (floats by the contract): ``[9.0, 10]`` selects what ``[9, 10]``
    does; ``"10"`` exits 2 with the measure's label and writes nothing."""
    whole = _job(data, tmp_path / "whole", "[9, 10]")
    floats = _job(data, tmp_path / "floats", "[9.0, 10]")
    text = _job(data, tmp_path / "text", '"10"')
    assert main(["compute", "--job", str(whole), "--engine", engine]) == 0
    assert main(["compute", "--job", str(floats), "--engine", engine]) == 0
    expected = pd.read_csv(whole.parent / "out" / "top.csv")
    assert expected["n"].iloc[0] > 0
    pd.testing.assert_frame_equal(pd.read_csv(floats.parent / "out" / "top.csv"), expected)
    capsys.readouterr()
    assert main(["compute", "--job", str(text), "--engine", engine]) == 2
    err = capsys.readouterr().err
    assert (
        "[[measure]] top (mean_score on table 'responses'): where.score: column 'score' "
        "holds number values (Float64); '10' (str) is not one." in err
    )
    assert not (text.parent / "out").exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_refused_value_that_may_identify_a_person_is_not_shown(engine):
    """The message names the column and the kind, never an identifier's value: a value of
    an identifier column, or one that looks like an email or a phone number."""
    frame = _frame().assign(source_id=["C1", "C2", "C3", "C4"])
    for where, secret in (
        ({"source_id": 1234567}, "1234567"),
        ({"score": "ana@example.org"}, "ana@example.org"),
        ({"score": "+44 20 7946 0958"}, "7946"),
    ):
        with pytest.raises(JobError) as err:
            jobs._apply_where(_on(engine, frame), where, "[[measure]] m")
        assert secret not in str(err.value)
        assert "a value (masked: it may identify a person)" in str(err.value)
