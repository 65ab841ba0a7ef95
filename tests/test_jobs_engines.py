"""The whole sample job on pandas, Polars (lazy), DuckDB and Spark: the same outputs.

One job (validation, exact identity resolution, attribution and every job measure:
nps, csat, ces, mean_score, hx_index, rfm_summary) runs on every engine from CSV files
and from Parquet (a glob, a hive-partitioned folder, single files) and a DuckDB table.
The outputs equal the pandas run's exactly, the manifests equal it apart from
``engine``, and a guard fails the run if an input table is materialised in Python on
the engine path (``collect``/``to_pandas``/``.df()``/``toPandas()`` of more than a few
rows).

Spark has one test function (its JVM starts once per worker; see tests/conftest.py).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hxmetrics import _scan, jobs
from hxmetrics.cli import main
from hxmetrics.measures.index.prepare import BOOTSTRAP_BUCKETS
from hxmetrics.tables import read_table

pl = pytest.importorskip("polars", reason="Polars is a test extra (CI installs it)")
duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (CI installs it)")

# Spark's Python workers run the engine identity's batch functions (pandas UDFs), which
# import hxmetrics: they must use this interpreter (its environment), not "python3" on
# the PATH. Set before the session starts (collection comes before every fixture).
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples"
TABLES = ("customers", "workers", "partners", "responses", "transactions")
MEASURES = ("nps_by_silo", "nps_by_hybrid", "csat_by_silo", "ces_by_silo", "mean_core")
SPARK_PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"

JOB = """
[job]
name = "engines"

[inputs]
{inputs}

[stakeholders]
keys = ["email", "phone"]
secret_file = "org.secret"

[privacy]
min_n = 1

[output]
dir = "out"
format = "parquet"

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
where = {{ instrument = "nps" }}
score = "score"
by = ["role", "hybrid_type"]

[[measure]]
name = "csat_by_silo"
function = "csat"
table = "responses"
where = {{ instrument = "csat" }}
score = "score"
scale = [1, 5]
box = [4, 5]
by = "silo"

[[measure]]
name = "ces_by_silo"
function = "ces"
table = "responses"
where = {{ instrument = "ces" }}
score = "score"
scale = [1, 7]
polarity = "higher_is_easier"
by = "silo"

[[measure]]
name = "mean_core"
function = "mean_score"
table = "responses"
where = {{ instrument = "hx_core" }}
score = "score"
by = ["silo", "item"]

[[measure]]
name = "index"
function = "hx_index"
table = "responses"
where = {{ instrument = "hx_core" }}
items = ["hx1", "hx2", "hx3", "hx4", "hx5", "hx6"]
by = "silo"
n_resamples = 50
random_state = 7

[[measure]]
name = "rfm"
function = "rfm_summary"
table = "transactions"
customer = "person_id"
time = "timestamp"
amount = "amount"
observation_end = "2021-06-30"
"""

OUTPUTS = (*MEASURES, "index", "rfm")


def _inputs(root: Path) -> dict[str, dict[str, str]]:
    """The sample as CSV files, as Parquet (a glob, a hive folder, files) and with a
    DuckDB table; returns ``[inputs]`` per variant."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = root / "data"
    data.mkdir(parents=True)
    raw = {t: read_table(SAMPLE / f"{t}.csv") for t in TABLES}
    half = len(raw["responses"]) // 2
    raw["responses"].iloc[:half].to_parquet(data / "responses-0.parquet", index=False)
    raw["responses"].iloc[half:].to_parquet(data / "responses-1.parquet", index=False)
    pq.write_to_dataset(
        pa.Table.from_pandas(raw["customers"], preserve_index=False),
        data / "customers",
        partition_cols=["engagement"],
    )
    for table in ("workers", "partners", "transactions"):
        raw[table].to_parquet(data / f"{table}.parquet", index=False)
    con = duckdb.connect(str(data / "hx.duckdb"))
    con.register("w", raw["workers"])
    con.execute("CREATE TABLE workers AS SELECT * FROM w")
    con.close()
    csv = {t: (SAMPLE / f"{t}.csv").as_posix() for t in TABLES}
    parquet = {
        "customers": "data/customers",
        "workers": "data/workers.parquet",
        "partners": "data/partners.parquet",
        "responses": "data/responses-*.parquet",
        "transactions": "data/transactions.parquet",
    }
    return {
        "csv": csv,
        "parquet": parquet,
        "duckdb": {**parquet, "workers": "duckdb:data/hx.duckdb::workers"},
    }


def _job_text(inputs: dict[str, str]) -> str:
    return JOB.format(inputs="\n".join(f'{t} = "{p}"' for t, p in inputs.items()))


@dataclass
class Run:
    """The outputs and manifest of one run, and what its guard recorded."""

    outputs: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    guard: Guard | None = None


def _run(
    root: Path, variant: str, engine: str, *, call: Callable[[Path], int] | None = None
) -> Run:
    job = root / f"job-{variant}.toml"
    code = call(job) if call else main(["compute", "--job", str(job), "--engine", engine])
    assert code == 0
    out = root / "out"
    outputs = {name: pd.read_parquet(out / f"{name}.parquet") for name in OUTPUTS}
    return Run(outputs, json.loads((out / "manifest.json").read_text()))


# ---------------------------------------------------------------- the guard

#: Rows a conversion to Python may bring back on the engine path: aggregated tables
#: (groups x score values: the sample's largest, NPS by role and hybrid type, has 154),
#: a few example rows of an error, a small conflict report. Every input table of the
#: sample is larger (the smallest, partners, has 362 rows).
LIMIT = 300
#: hx_index's bootstrap resamples persons: the engine returns its sums per (group, unit,
#: item), a unit being a person, or above BOOTSTRAP_BUCKETS persons a bucket of them
#: (tests/measures/index/test_index_buckets.py shows the bound holds past it). Its bound
#: does not grow with the data: 3 silos x BOOTSTRAP_BUCKETS x 6 items.
HX_INDEX_BOUND = 3 * BOOTSTRAP_BUCKETS * 6


@dataclass
class Guard:
    """Records every conversion of an engine frame to Python with more than ``LIMIT``
    rows, with the step of the run it happened in.

    Two steps may bring back more: ``rfm_summary``, whose output is one row per customer
    (its per-customer statistics, at most ``customers`` rows, are the output itself), and
    ``hx_index``, at most ``HX_INDEX_BOUND`` rows whatever the number of persons.
    """

    customers: int = 0
    phase: str = "reading, validation, identity, attribution"
    violations: list[str] = field(default_factory=list)
    conversions: int = 0

    def check(self, where: str, result: Any) -> Any:
        self.conversions += 1
        rows, columns = _shape(result)
        per_customer = self.phase == "rfm_summary" and rows <= self.customers
        bounded = self.phase == "hx_index" and rows <= HX_INDEX_BOUND
        if rows > LIMIT and not per_customer and not bounded:
            self.violations.append(
                f"{where} during {self.phase}: {rows} rows, columns {sorted(columns)[:8]}"
            )
        return result


def _shape(result: Any) -> tuple[int, list[str]]:
    if isinstance(result, pd.DataFrame):
        return len(result), [str(c) for c in result.columns]
    if isinstance(result, pl.DataFrame):
        return result.height, result.columns
    if hasattr(result, "num_rows") and hasattr(result, "column_names"):  # pyarrow.Table
        return int(result.num_rows), list(result.column_names)
    if isinstance(result, dict):  # fetchnumpy
        return max((len(v) for v in result.values()), default=0), list(result)
    if isinstance(result, list):  # fetchall, Spark's collect
        first = result[0] if result else None
        columns = list(first.asDict()) if hasattr(first, "asDict") else []
        return len(result), columns
    return 0, []


def _wrap(guard: Guard, owner: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return guard.check(f"{owner.__name__}.{name}", original(*args, **kwargs))

    monkeypatch.setattr(owner, name, wrapped)


def _wrap_reader(guard: Guard, owner: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A method giving a pyarrow RecordBatchReader: read whole (a test's data are small),
    counted, and handed back as a fresh reader over the same batches."""
    import pyarrow as pa

    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        reader = original(*args, **kwargs)
        table = guard.check(f"{owner.__name__}.{name}", reader.read_all())
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())

    monkeypatch.setattr(owner, name, wrapped)


def _wrap_batches(guard: Guard, owner: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A method giving an iterator of frames or rows: counted as a whole once consumed."""
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        parts = list(original(*args, **kwargs))
        rows = sum(_shape(part)[0] if not hasattr(part, "asDict") else 1 for part in parts)
        columns = _shape(parts[0])[1] if parts and not hasattr(parts[0], "asDict") else []
        guard.check(f"{owner.__name__}.{name}", pd.DataFrame(index=range(rows), columns=columns))
        return iter(parts)

    monkeypatch.setattr(owner, name, wrapped)


def install_guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    """Fail-safe record of materialisations: Polars collects and conversions, DuckDB
    fetches, Spark's collect/toPandas/toArrow (Spark's are patched only if pyspark is
    installed); each job measure marks its step."""
    found = Guard(customers=len(read_table(SAMPLE / "customers.csv")))
    real = jobs._measure_functions

    def marked() -> dict[str, Callable[..., Any]]:
        def mark(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(function)  # load_job checks options against the signature
            def run(*args: Any, **kwargs: Any) -> Any:
                found.phase = name
                try:
                    return function(*args, **kwargs)
                finally:
                    found.phase = "the job"

            return run

        return {name: mark(name, f) for name, f in real().items()}

    monkeypatch.setattr(jobs, "_measure_functions", marked)
    _wrap(found, pl.LazyFrame, "collect", monkeypatch)
    _wrap_batches(found, pl.LazyFrame, "collect_batches", monkeypatch)
    collect_all = pl.collect_all

    def counted_collect_all(*args: Any, **kwargs: Any) -> Any:
        frames = collect_all(*args, **kwargs)
        for frame in frames:
            found.check("polars.collect_all", frame)
        return frames

    monkeypatch.setattr(pl, "collect_all", counted_collect_all)
    for name in ("to_pandas", "to_arrow"):
        _wrap(found, pl.DataFrame, name, monkeypatch)
    relation = duckdb.DuckDBPyRelation
    connection = duckdb.DuckDBPyConnection
    # Every way DuckDB hands rows to Python (duckdb 2.0: .arrow() gives a reader).
    eager = ("df", "fetchdf", "fetch_df", "to_df", "fetchall", "fetchmany", "fetchnumpy", "pl")
    eager += ("fetch_arrow_table", "to_arrow_table", "fetch_df_chunk")
    readers = ("arrow", "to_arrow_reader", "fetch_arrow_reader", "fetch_record_batch")
    stream = relation.__arrow_c_stream__

    def counted_stream(self: Any, requested_schema: Any = None) -> Any:
        # The Arrow PyCapsule stream (pyarrow.table(relation), polars.DataFrame(relation)):
        # counted through a second, unwatched fetch of the same relation.
        found.check("DuckDBPyRelation.__arrow_c_stream__", fetch_table(self))
        return stream(self, requested_schema)

    fetch_table = relation.to_arrow_table
    monkeypatch.setattr(relation, "__arrow_c_stream__", counted_stream)
    for owner in (relation, connection):
        for name in eager:
            if hasattr(owner, name):
                _wrap(found, owner, name, monkeypatch)
        for name in readers:
            if hasattr(owner, name):
                _wrap_reader(found, owner, name, monkeypatch)
    try:
        # The class of the frames a local session makes (Spark 4: "classic"); its
        # methods override those of pyspark.sql.DataFrame, so patching the base class
        # alone would watch nothing.
        from pyspark.sql.classic.dataframe import DataFrame as SparkFrame
    except ImportError:  # pyspark is a test extra (or older: no classic module)
        try:
            from pyspark.sql import DataFrame as SparkFrame
        except ImportError:  # without pyspark only Spark's part is off
            SparkFrame = None
    if SparkFrame is not None:
        for name in ("collect", "toPandas", "toArrow", "tail"):
            _wrap(found, SparkFrame, name, monkeypatch)
        _wrap_batches(found, SparkFrame, "toLocalIterator", monkeypatch)
    return found


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    return install_guard(monkeypatch)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("engines")
    from hxmetrics.stakeholders import new_secret

    (folder / "org.secret").write_text(new_secret())
    for variant, inputs in _inputs(folder).items():
        (folder / f"job-{variant}.toml").write_text(_job_text(inputs))
    return folder


@pytest.fixture(scope="module")
def baseline(root: Path) -> Run:
    """The pandas engine on the CSV files: today's path, the reference."""
    return _run(root, "csv", "pandas")


@pytest.fixture(scope="module")
def runs(root: Path) -> Callable[[str, str], Run]:
    """Each (inputs, engine) run once, under the guard, shared by the tests below."""
    done: dict[tuple[str, str], Run] = {}

    def get(variant: str, engine: str) -> Run:
        if (variant, engine) not in done:
            with pytest.MonkeyPatch.context() as patch:
                found = install_guard(patch)
                run = _run(root, variant, engine)
            run.guard = found
            done[variant, engine] = run
        return done[variant, engine]

    return get


def _same_outputs(got: Run, expected: Run) -> None:
    for name in OUTPUTS:
        # Integer sufficient statistics: every measure's numbers are bit-identical.
        pd.testing.assert_frame_equal(
            got.outputs[name], expected.outputs[name], check_exact=True, obj=name
        )


def _without_engine(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k != "engine"}


# ---------------------------------------------------------------- pandas, Polars, DuckDB


def test_the_scans_agree(root: Path) -> None:
    """Each input scanned by each engine holds the text pandas reads (CSV) or the same
    typed values (Parquet, hive folder, DuckDB table)."""
    con = duckdb.connect()
    for raw in (
        "data/customers",
        "data/responses-*.parquet",
        "duckdb:data/hx.duckdb::workers",
        (SAMPLE / "responses.csv").as_posix(),
    ):
        spec = _scan.parse_input(raw, base=root, where="x")
        expected = _scan.scan(spec, "pandas", connection=con)
        for engine, frame in (
            ("polars", _scan.scan(spec, "polars", connection=con).collect().to_pandas()),
            ("duckdb", _scan.scan(spec, "duckdb", connection=con).df()),
        ):
            assert list(frame.columns) == list(expected.columns), (raw, engine)
            pd.testing.assert_frame_equal(
                frame.astype(object).where(frame.notna(), None),
                expected.astype(object).where(expected.notna(), None),
                obj=f"{raw} on {engine}",
            )


#: The engine runs: every input kind on Polars and DuckDB (the "duckdb" inputs are
#: the Parquet glob, the hive folder, Parquet files and a DuckDB table), and pandas on
#: the same inputs (the reference of their manifests). Spark: test_spark.
COMBINATIONS = [
    ("csv", "polars"),
    ("csv", "duckdb"),
    ("duckdb", "pandas"),
    ("duckdb", "polars"),
    ("duckdb", "duckdb"),
]


@pytest.mark.parametrize(("variant", "engine"), COMBINATIONS)
def test_the_same_outputs_on_every_engine(runs, baseline, variant, engine) -> None:
    """Every output equals the pandas run on the CSV files exactly (integer sufficient
    statistics: bit-identical numbers, the same rows, order and dtypes)."""
    _same_outputs(runs(variant, engine), baseline)


@pytest.mark.parametrize(("variant", "engine"), COMBINATIONS)
def test_the_same_manifest_apart_from_the_engine(runs, baseline, variant, engine) -> None:
    got = runs(variant, engine)
    assert got.manifest["engine"] == engine
    reference = baseline if variant == "csv" else runs(variant, "pandas")
    assert _without_engine(got.manifest) == _without_engine(reference.manifest)
    # Between inputs of another kind only the inputs (paths, checksums) and the job
    # file differ.
    other = ("engine", "inputs", "job_file")
    assert {k: v for k, v in got.manifest.items() if k not in other} == {
        k: v for k, v in baseline.manifest.items() if k not in other
    }
    rows = {t: e["rows"] for t, e in got.manifest["inputs"].items()}
    assert rows == {t: e["rows"] for t, e in baseline.manifest["inputs"].items()}


@pytest.mark.parametrize(("variant", "engine"), [c for c in COMBINATIONS if c[1] != "pandas"])
def test_the_engine_path_never_materialises_an_input(runs, variant, engine) -> None:
    """No input-sized table comes back to Python: the guard recorded nothing (and saw
    the small aggregates come back, so it was watching)."""
    got = runs(variant, engine)
    assert got.guard is not None
    assert not got.guard.violations, "\n".join(got.guard.violations)
    assert got.guard.conversions > 0


def test_the_guard_catches_a_materialised_input(root: Path, guard: Guard) -> None:
    """The guard is not vacuous: collecting an input whole on Polars or DuckDB is
    recorded, a small aggregate is not."""
    spec = _scan.parse_input("data/responses-*.parquet", base=root, where="x")
    _scan.scan(spec, "polars").select(pl.len()).collect()
    assert guard.violations == []
    _scan.scan(spec, "polars").collect()
    con = duckdb.connect()
    _scan.scan(spec, "duckdb", connection=con).df()
    assert [v.split(" during")[0] for v in guard.violations] == [
        "LazyFrame.collect",
        "DuckDBPyRelation.df",
    ]


# ---------------------------------------------------------------- bad input


def _bad_responses(root: Path) -> Path:
    """The sample's responses with two bad scores and a bad timestamp, as CSV and as
    Parquet (text columns), and a job reading each."""
    bad = read_table(SAMPLE / "responses.csv")
    bad.loc[[3, 40], "score"] = "eleven"
    bad.loc[7, "timestamp"] = "not a date"
    folder = root / "bad"
    folder.mkdir(exist_ok=True)
    bad.to_csv(folder / "responses.csv", index=False)
    bad.to_parquet(folder / "responses.parquet", index=False)
    return folder


def _bad_job(root: Path, fmt: str) -> Path:
    folder = _bad_responses(root)
    job = folder / f"job-{fmt}.toml"
    job.write_text(
        f'[inputs]\nresponses = "responses.{fmt}"\n[output]\ndir = "out"\n'
        '[[measure]]\nname = "nps"\nfunction = "nps"\ntable = "responses"\nscore = "score"\n'
    )
    return job


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bad_input_gives_the_same_error_on_every_engine(root, capsys, fmt) -> None:
    job = _bad_job(root, fmt)
    errors = {}
    for engine in ("pandas", "polars", "duckdb"):
        assert main(["compute", "--job", str(job), "--engine", engine]) == 1, engine
        errors[engine] = capsys.readouterr().err
    assert "INVALID input (responses)" in errors["pandas"]
    assert errors["polars"] == errors["pandas"]
    assert errors["duckdb"] == errors["pandas"]
    assert not (job.parent / "out").exists()


def test_the_catalogue_check_runs_on_every_engine(root: Path, capsys) -> None:
    """[instruments] on the engine: the core bank alone lacks the sample's zero-distance
    items, and every engine refuses the answers with the pandas message (exit 1)."""
    text = (root / "job-csv.toml").read_text()
    job = root / "catalogue.toml"
    job.write_text(text.replace("[privacy]", '[instruments]\nbanks = ["core"]\n\n[privacy]'))
    errors = {}
    for engine in ("pandas", "polars", "duckdb"):
        assert main(["compute", "--job", str(job), "--engine", engine]) == 1
        errors[engine] = capsys.readouterr().err
    assert "item_in_catalogue" in errors["pandas"]
    assert errors["polars"] == errors["pandas"]
    assert errors["duckdb"] == errors["pandas"]


def test_what_an_engine_cannot_do_is_refused(root: Path) -> None:
    """No silent fallback: combinations an engine cannot run are job-file errors."""
    text = (root / "job-csv.toml").read_text()
    cases = {
        # splink, which fits and scores the linkage model, has no Polars backend.
        "polars": (
            text.replace("[privacy]", '[linkage]\nmethod = "probabilistic"\n\n[privacy]'),
            "runs on engines pandas, duckdb and spark",
        ),
    }
    for engine, (job_text, message) in cases.items():
        job = root / f"refused-{engine}.toml"
        job.write_text(job_text)
        with pytest.raises(jobs.JobError, match=message):
            jobs.load_job(job, engine=engine)
    spark_table = text.replace(
        f'responses = "{(SAMPLE / "responses.csv").as_posix()}"', 'responses = "spark:hx.responses"'
    )
    job = root / "refused-catalogue.toml"
    job.write_text(spark_table)
    with pytest.raises(jobs.JobError, match="engine spark only"):
        jobs.load_job(job, engine="duckdb")
    job.write_text((root / "job-duckdb.toml").read_text())
    with pytest.raises(jobs.JobError, match="Spark cannot read the DuckDB table"):
        jobs.load_job(job, engine="spark")


# ---------------------------------------------------------------- Spark


@pytest.mark.spark
# pyspark warns on import that it does not support pandas 3; only pyspark.sql is used.
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_spark(spark, root, baseline, runs, guard, capsys) -> None:
    """Spark (local mode), every case in one function (one JVM): the sample job from
    Parquet through the spark-submit entry point, from a catalogue table, and bad input."""
    from hxmetrics import spark_job

    got = _run(root, "parquet", "spark", call=lambda job: spark_job.main([str(job)]))
    violations = list(guard.violations)
    conversions = guard.conversions
    _same_outputs(got, baseline)
    assert _without_engine(got.manifest) == _without_engine(runs("parquet", "pandas").manifest)
    assert got.manifest["engine"] == "spark"
    # The session's time zone is restored after the run.
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"

    # A catalogue table (a temporary view stands for one: spark.table reads both), in a
    # small job (no second full Spark run): the same output as the file on pandas.
    files = sorted((root / "data").glob("responses-*.parquet"))
    spark.read.parquet(*map(str, files)).createOrReplaceTempView("hx_responses")
    small = (
        '[inputs]\nresponses = "{}"\n[output]\ndir = "out"\n[[measure]]\nname = "nps"\n'
        'function = "nps"\ntable = "responses"\nwhere = {{ instrument = "nps" }}\n'
        'score = "score"\nby = "silo"\n'
    )
    job = root / "job-catalogue.toml"
    job.write_text(small.format("data/responses-*.parquet"))
    assert main(["compute", "--job", str(job), "--engine", "pandas"]) == 0
    expected = pd.read_parquet(root / "out" / "nps.parquet")
    rows = json.loads((root / "out" / "manifest.json").read_text())["inputs"]["responses"]["rows"]
    job.write_text(small.format("spark:hx_responses"))
    assert spark_job.main([str(job)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(root / "out" / "nps.parquet"), expected)
    entry = json.loads((root / "out" / "manifest.json").read_text())["inputs"]["responses"]
    assert entry["path"] == "spark:hx_responses"
    assert entry["sha256"] is None
    assert "database table" in entry["sha256_note"]
    assert entry["rows"] == rows

    # Bad input: the same error and exit code as pandas.
    capsys.readouterr()
    for fmt in ("csv", "parquet"):
        bad = _bad_job(root, fmt)
        assert main(["compute", "--job", str(bad), "--engine", "pandas"]) == 1
        expected = capsys.readouterr().err
        assert spark_job.main([str(bad)]) == 1
        assert capsys.readouterr().err == expected

    # Last, so that the numbers above are checked whatever it finds: nothing
    # input-sized came back to the driver in the first run.
    assert not violations, "\n".join(violations)
    assert conversions > 0
