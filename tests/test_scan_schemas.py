"""The files of one input must share one schema, checked alike on every engine.

Found (session 11, a hostile pass over multi-file inputs), before the check:
- Parquet files of one glob, `score` int64 in one and double in another: DuckDB read
  every file into the first one's types and 2.5 became 2, silently; Polars failed with
  exit 3 and its own SchemaError; pandas stacked them.
- CSV files whose columns came in another order: Polars exit 3 ("schema names differ"),
  pandas and DuckDB read them by name; Spark reads CSV columns by position.
- a CSV file without an optional column: pandas read it as missing values, Polars and
  DuckDB failed with their own errors (exit 3).
- a Parquet column of Arrow type null in one file (pandas writes an all-None column so)
  and string in another: Polars and DuckDB failed when the null file came first.
Now: files that disagree are refused with an InputTableError (exit 1) naming the table,
the column and two files; Parquet columns in another order and null-typed columns are
read alike on pandas, Polars and DuckDB; Spark refuses the null-typed case by name.
"""

from __future__ import annotations

from pathlib import Path

import narwhals as nw
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hxmetrics import _scan
from hxmetrics.cli import main
from hxmetrics.errors import InputTableError, ParameterError

pl = pytest.importorskip("polars", reason="Polars is a test extra (CI installs it)")
duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (CI installs it)")

ENGINES = ("pandas", "polars", "duckdb")


def _read(folder: Path, pattern: str, engine: str) -> pd.DataFrame:
    spec = _scan.parse_input(pattern, base=folder, where="[inputs].t")
    connection = duckdb.connect() if engine == "duckdb" else None
    frame = _scan.scan(spec, engine, connection=connection, table="responses")
    out = nw.from_native(frame).lazy().collect().to_pandas()
    return out.sort_values("a", ignore_index=True)


def _parquet(folder: Path, *tables) -> Path:
    folder.mkdir()
    for i, table in enumerate(tables):
        pq.write_table(table, folder / f"{i}.parquet")
    return folder


@pytest.mark.parametrize("engine", ENGINES)
def test_an_integer_file_beside_a_float_file_is_refused_not_truncated(engine, tmp_path):
    _parquet(
        tmp_path / "d",
        pa.table({"a": pa.array([1, 2], pa.int64())}),
        pa.table({"a": pa.array([2.5], pa.float64())}),
    )
    with pytest.raises(InputTableError) as err:
        _read(tmp_path, "d/*.parquet", engine)
    assert str(err.value).startswith(
        "responses: the 2 files of 'd/*.parquet' do not share one schema: column 'a': "
        "int64 in 0.parquet, double in 1.parquet (1 of the 2 files differ)."
    )
    assert err.value.table == "responses"
    assert err.value.failure_cases[["column", "check"]].values.tolist() == [
        ["a", "files_share_one_schema"]
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_clash_after_a_null_first_file_names_the_typed_files(engine, tmp_path):
    """The null-typed first file agrees with both; the message names the two that clash."""
    _parquet(
        tmp_path / "d",
        pa.table({"a": pa.array([None, None], pa.null())}),
        pa.table({"a": pa.array([1], pa.int64())}),
        pa.table({"a": pa.array(["x"], pa.string())}),
    )
    with pytest.raises(InputTableError, match=r"column 'a': int64 in 1.parquet, string in 2."):
        _read(tmp_path, "d", engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("second", "said"),
    [
        ("b,a\ny,2\n", "column 'a': column 1 in 0.csv, column 2 in 1.csv"),
        ("a\n2\n", "column 'b': column 2 in 0.csv, absent in 1.csv"),
        ("a,b,c\n2,y,z\n", "column 'c': absent in 0.csv, column 3 in 1.csv"),
    ],
)
def test_csv_files_must_have_the_same_columns_in_the_same_order(engine, tmp_path, second, said):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "0.csv").write_text("a,b\n1,x\n")
    (tmp_path / "d" / "1.csv").write_text(second)
    with pytest.raises(InputTableError, match=said):
        _read(tmp_path, "d/*.csv", engine)


def test_null_typed_parquet_columns_and_another_order_read_alike(tmp_path):
    """Same types in another column order, large strings, and an all-missing column
    written as Arrow null (first and last): one frame on every engine."""
    _parquet(
        tmp_path / "d",
        pa.table({"a": pa.array([1, 2]), "b": pa.array([None, None], pa.null())}),
        pa.table({"b": pa.array(["x"], pa.large_string()), "a": pa.array([3])}),
        pa.table({"a": pa.array([4]), "b": pa.array([None], pa.null())}),
    )
    frames = {engine: _read(tmp_path, "d/*.parquet", engine) for engine in ENGINES}
    expected = pd.DataFrame({"a": [1, 2, 3, 4], "b": [None, None, "x", None]})
    for engine, frame in frames.items():
        assert frame["a"].tolist() == expected["a"].tolist(), engine
        assert frame["b"].isna().tolist() == [True, True, False, True], engine
        assert frame["b"].iloc[2] == "x", engine


def test_spark_refuses_null_typed_columns_by_name_before_reading(tmp_path):
    """Spark 4 cannot read them (with or without mergeSchema or a schema): refused before
    any Spark session is asked for (connection=None would start one)."""
    _parquet(
        tmp_path / "d",
        pa.table({"a": pa.array([None], pa.null())}),
        pa.table({"a": pa.array(["x"])}),
    )
    spec = _scan.parse_input("d", base=tmp_path, where="[inputs].t")
    with pytest.raises(InputTableError, match="Spark cannot read them together"):
        _scan.scan(spec, "spark", table="responses")


def test_a_job_on_files_that_disagree_exits_1_naming_the_table(tmp_path, capsys):
    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "responses.csv"
    answers = pd.read_csv(sample)
    (tmp_path / "r").mkdir()
    answers.iloc[:100].to_parquet(tmp_path / "r" / "0.parquet")
    later = answers.iloc[100:].assign(score=lambda d: d["score"].astype(str))
    later.to_parquet(tmp_path / "r" / "1.parquet")
    job = tmp_path / "job.toml"
    job.write_text(
        '[job]\nname = "j"\n[inputs]\nresponses = "r/*.parquet"\n[output]\ndir = "out"\n'
        '[[measure]]\nname = "m"\nfunction = "mean_score"\ntable = "responses"\n'
        'score = "score"\n'
    )
    assert main(["compute", "--job", str(job), "--engine", "duckdb"]) == 1
    err = capsys.readouterr().err
    assert "INVALID input (responses)" in err
    assert "column 'score': int64 in 0.parquet, string in 1.parquet" in err
    assert not (tmp_path / "out").exists()


def test_a_pandas_index_in_some_files_is_named_with_the_fix(tmp_path):
    """pandas writes a shuffled frame's index as a column ``__index_level_0__``: the
    message says so and how to write the files instead."""
    answers = pd.DataFrame({"a": range(6)})
    (tmp_path / "d").mkdir()
    answers.iloc[:3].to_parquet(tmp_path / "d" / "0.parquet")
    answers.iloc[[5, 3, 4]].to_parquet(tmp_path / "d" / "1.parquet")
    with pytest.raises(InputTableError) as err:
        _read(tmp_path, "d", "pandas")
    assert "column '__index_level_0__': absent in 0.parquet, int64 in 1.parquet" in str(err.value)
    assert str(err.value).endswith(
        "('__index_level_0__' is a pandas index, which DataFrame.to_parquet writes when "
        "the index is not a plain range: write the files with index=False.)"
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_single_csv_files_header_is_checked_on_every_engine(engine, tmp_path):
    """The header checks of read_table run for one file too (a repeated name, which
    pandas would rename silently), before any engine reads the rows."""
    (tmp_path / "t.csv").write_text("a,b,a\n1,x,2\n")
    with pytest.raises(ParameterError, match="names a column more than once"):
        _read(tmp_path, "t.csv", engine)
