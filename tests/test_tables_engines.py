"""The table contract on the engine (``validate_lazy``) gives what ``validate`` gives on pandas.

The reference is always :func:`hxmetrics.tables.validate` on the same file read by
:func:`hxmetrics.tables.read_table`: the coerced values (compared after collecting, in
the test only) and, for bad input, the error's text and ``failure_cases``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from hxmetrics import tables
from hxmetrics.errors import InputTableError, ParameterError

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SPARK_PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"

SAMPLE_TABLES = list(tables._CONTRACT)

Reader = Callable[[Path], Any]


def _pandas(path: Path) -> pd.DataFrame:
    return tables.read_table(path)


def _polars(path: Path) -> pl.LazyFrame:
    return pl.scan_csv(path, infer_schema=False)


def _duckdb(path: Path) -> Any:
    return duckdb.connect().read_csv(str(path), all_varchar=True)


READERS: dict[str, Reader] = {"pandas": _pandas, "polars": _polars, "duckdb": _duckdb}


def _native_kinds(out: Any) -> dict[str, str]:
    """Each column's type as the engine holds it, in a few words."""
    if isinstance(out, pl.LazyFrame | pl.DataFrame):
        schema = out.collect_schema() if isinstance(out, pl.LazyFrame) else out.schema
        return {n: str(t) for n, t in schema.items()}
    if type(out).__module__.startswith("pyspark"):
        return {f.name: f.dataType.simpleString() for f in out.schema.fields}
    return dict(zip(out.columns, [str(t) for t in out.types], strict=True))


_INTEGER_KINDS = ("Int64", "BIGINT", "bigint")


def _collected(out: Any) -> pd.DataFrame:
    """The engine's result as pandas (in the test only, to compare values); integer
    columns the engine holds as integers are given pandas' nullable Int64 (Polars and
    DuckDB hand nullable integers to pandas as floats)."""
    if isinstance(out, pd.DataFrame):
        return out
    if isinstance(out, pl.LazyFrame):
        df = out.collect().to_pandas()
    elif isinstance(out, pl.DataFrame):
        df = out.to_pandas()
    elif type(out).__module__.startswith("pyspark"):
        # toPandas' Arrow path breaks on pandas 3 (a deprecated copy= keyword).
        df = out.toArrow().to_pandas()
    else:
        df = out.df()
    for name, kind in _native_kinds(out).items():
        if kind in _INTEGER_KINDS:
            df[name] = df[name].astype("Int64")
    return df


def _same_values(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for name in want.columns:
        a, b = got[name], want[name]
        if pd.api.types.is_datetime64_any_dtype(b.dtype):
            assert pd.api.types.is_datetime64_any_dtype(a.dtype), name
            assert getattr(a.dtype, "tz", None) is None, name
            np.testing.assert_array_equal(
                a.to_numpy(dtype="datetime64[ns]"), b.to_numpy(dtype="datetime64[ns]"), name
            )
        elif pd.api.types.is_float_dtype(b.dtype):
            assert pd.api.types.is_float_dtype(a.dtype), name
            # Bit for bit: the engine casts the same text to the same double.
            np.testing.assert_array_equal(a.to_numpy(float), b.to_numpy(float), name)
        elif str(b.dtype) == "Int64":
            assert pd.api.types.is_integer_dtype(a.dtype), name
            assert a.astype("Int64").equals(b), name
        else:
            assert a.isna().tolist() == b.isna().tolist(), name
            assert a[b.notna()].astype(str).tolist() == b[b.notna()].astype(str).tolist(), name


def _cell(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ("missing", type(value).__name__)
    return (type(value).__name__, value)


def _rows(cases: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        (str(c), str(k), _cell(v), None if pd.isna(i) else int(i))
        for c, k, v, i in zip(
            cases["column"], cases["check"], cases["failure_case"], cases["index"], strict=True
        )
    ]


def _first_examples(cases: pd.DataFrame) -> pd.DataFrame:
    """pandas' failure cases cut to the engine's: the first five of each check."""
    return cases.groupby(["column", "check"], sort=False, dropna=False).head(
        tables._EXAMPLES_PER_CHECK
    )


def _error(run: Callable[[], Any]) -> InputTableError:
    with pytest.raises(InputTableError) as info:
        run()
    return info.value


# -- the sample tables ---------------------------------------------------------------
@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize("table", SAMPLE_TABLES)
def test_sample_tables_validate_to_the_pandas_values(table: str, engine: str) -> None:
    path = SAMPLES / f"{table}.csv"
    want = tables.validate(tables.read_table(path), table=table)
    got = tables.validate_lazy(READERS[engine](path), table=table)
    assert type(got) is type(READERS[engine](path))  # lazy in, lazy out
    _same_values(_collected(got), want)


def test_pandas_frames_take_the_pandas_path() -> None:
    df = tables.read_table(SAMPLES / "workers.csv")
    pd.testing.assert_frame_equal(
        tables.validate_lazy(df, table="workers"), tables.validate(df, table="workers")
    )


def test_eager_polars_stays_eager() -> None:
    path = SAMPLES / "tickets.csv"
    got = tables.validate_lazy(pl.read_csv(path, infer_schema=False), table="tickets")
    assert isinstance(got, pl.DataFrame)
    _same_values(got.to_pandas(), tables.validate(tables.read_table(path), table="tickets"))


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_typed_parquet_input(tmp_path: Path, engine: str) -> None:
    """Typed columns (Parquet) are cast, not parsed: the same values again."""
    want = tables.validate(tables.read_table(SAMPLES / "tickets.csv"), table="tickets")
    path = tmp_path / "tickets.parquet"
    want.to_parquet(path)
    native = (
        pl.scan_parquet(path) if engine == "polars" else duckdb.connect().read_parquet(str(path))
    )
    _same_values(_collected(tables.validate_lazy(native, table="tickets")), want)


# -- bad input: the same error on every engine ---------------------------------------
RESPONSES_HEADER = "response_id,silo,source_id,instrument,item,score,timestamp,weight\n"
BAD = {
    # A score that is not a number, a non-date, a silo outside isin, a missing
    # instrument, a repeated (response_id, item): the ids are masked.
    "responses": (
        RESPONSES_HEADER
        + "r1,workers,W-1,nps,ltr,x,2024-01-01,1\n"
        + "r2,workers,W-2,nps,ltr,7,2024-13-45,1\n"
        + "r3,worker,W-3,nps,ltr,7,2024-01-02 10:00:00,1\n"
        + "r4,workers,W-4,,ltr,7,2024-01-02T10:00,1\n"
        + "r5,workers,W-5,nps,ltr,7,2024-01-03,1\n"
        + "r5,workers,W-5,nps,ltr,8,2024-01-03,0\n"
    ),
    # A missing required column, with a near spelling.
    "workers": (
        "worker_id,email,start,end,engagment\n"
        "w1,a@example.com,2024-01-01,,gig\n"
        "w2,b@example.com,2024-01-01,,gig\n"
    ),
    # An end before its start (checked once every value has its type).
    "partners": (
        "partner_id,email,phone,birth_year,start,end,engagement\n"
        "p1,a@example.com,,1980,2024-01-01,2023-01-01,host\n"
        "p2,b@example.com,,,2024-01-01,,driver\n"
        "p3,c@example.com,,1990,2024-02-01 10:00:00,2024-02-01 09:59:59,host\n"
    ),
    # More than five failures of one check, an identifier that looks like an email,
    # out-of-range counts and mixed UTC offsets.
    "tickets": (
        "ticket_id,silo,source_id,opened,first_response,closed,reopened,severity,touchpoint,team\n"
        + "".join(
            f"k{i},workers,W-{i},2024-01-0{1 + i % 3} 10:00:00{'+01:00' if i == 4 else ''},"
            f",,{-1 if i % 2 else 0},{'urgent' if i < 7 else 'low'},app,it\n"
            for i in range(9)
        )
        + "alice@example.com,workers,,2024-01-01,,,0,low,app,\n"
    ),
    # Text in a number column with nulls beside it; impossible dates and times.
    "transactions": (
        "transaction_id,silo,source_id,timestamp,amount\n"
        "t1,customers,C1,2024-02-30,1.5\n"
        "t2,customers,C1,2024-01-01 24:00,inf\n"
        "t3,customers,C1,2024-01-01 10:00+24:00,1e3\n"
        "t4,customers,C1,1500-01-01,\n"
        "t5,customers,C1,  2024-01-01 ,one\n"
        "t6,customers,C1,2024-1-01,2.\n"
    ),
}


def _bad_file(tmp_path: Path, table: str) -> Path:
    path = tmp_path / f"{table}.csv"
    path.write_text(BAD[table], encoding="utf-8")
    return path


def _assert_same_error(got: InputTableError, want: InputTableError) -> None:
    assert str(got) == str(want)
    assert got.table == want.table
    assert _rows(got.failure_cases) == _rows(_first_examples(want.failure_cases))


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize("table", sorted(BAD))
def test_bad_input_gets_the_pandas_error(tmp_path: Path, table: str, engine: str) -> None:
    path = _bad_file(tmp_path, table)
    want = _error(lambda: tables.validate(tables.read_table(path), table=table))
    got = _error(lambda: tables.validate_lazy(READERS[engine](path), table=table))
    _assert_same_error(got, want)


def test_the_bad_inputs_fail_the_checks_they_are_meant_to(tmp_path: Path) -> None:
    """The fixtures above exercise what the issue names (pandas path, the reference)."""
    found: dict[str, set[str]] = {}
    for table in BAD:
        error = _error(
            lambda t=table: tables.validate(tables.read_table(_bad_file(tmp_path, t)), table=t)
        )
        found[table] = set(error.failure_cases["check"].astype(str))
        assert "alice" not in str(error)
    assert {
        "coerce_dtype('float64')",
        "coerce_dtype('datetime64[ns]')",
        "not_nullable",
        "multiple_fields_uniqueness",
    } <= found["responses"]
    assert any(c.startswith("isin(") for c in found["responses"])
    assert found["workers"] == {"column_in_dataframe"}
    assert found["partners"] == {"end_not_before_start"}
    assert "naive_and_aware_mixed" in found["tickets"]
    assert {"datetime_in_bounds", "coerce_dtype('datetime64[ns]')"} <= found["transactions"]
    many = _error(
        lambda: tables.validate(tables.read_table(_bad_file(tmp_path, "tickets")), table="tickets")
    )
    assert (many.failure_cases["check"].astype(str).str.startswith("isin")).sum() > 5


TIMESTAMPS = [
    "2024-01-01",
    "2024-01-01 10:00",
    "2024-01-01T10:00:05",
    "2024-01-01 10:00:05.5",
    "2024-01-01 10:00:05.123456",
    " 2024-03-01 00:00:00\t",
    "2024-02-29 23:59:59",
]
AWARE = [
    "2024-01-01 10:00Z",
    "2024-01-01T10:00:00+05:30",
    "2024-01-01 10:00-0800",
    "2024-01-01 00:30+01",
    "2023-12-31T23:59:59.999999-00:00",
    "1970-01-01 00:00+23:59",
]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize("values", [TIMESTAMPS, AWARE], ids=["naive", "aware"])
def test_iso_timestamps_parse_to_the_pandas_values(engine: str, values: list[Any]) -> None:
    events = pd.DataFrame(
        {"ticket_id": [f"k{i}" for i in range(len(values))], "status": "open", "timestamp": values}
    )
    expected = tables.validate(events, table="ticket_events")
    native: Any = pl.from_pandas(events).lazy()
    if engine == "duckdb":
        native = duckdb.connect().from_df(events)
    _same_values(_collected(tables.validate_lazy(native, table="ticket_events")), expected)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_numbers_only_python_reads_are_refused(engine: str) -> None:
    """pandas reads '1_000' (and other scripts' digits) as numbers; the engine says so."""
    for text in ("1_000", "\u0661\u0662"):
        tx = pd.DataFrame(
            {
                "transaction_id": ["t1", "t2"],
                "silo": "customers",
                "source_id": "C",
                "timestamp": "2024-01-01",
                "amount": ["2.5", text],
            }
        )
        assert tables.validate(tx, table="transactions")["amount"].iloc[1] > 0
        native: Any = pl.from_pandas(tx).lazy()
        if engine == "duckdb":
            native = duckdb.connect().from_df(tx)
        with pytest.raises(ParameterError, match="numbers only Python reads"):
            tables.validate_lazy(native, table="transactions")


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_blanks_around_values_are_stripped_as_python_does(engine: str) -> None:
    blanks = ["\u3000", "\x1c", "\xa0", " \t", "\u2028"]
    tx = pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(blanks))],
            "silo": "customers",
            "source_id": "C",
            "timestamp": [f"{b}2024-01-0{i + 1} 10:00{b}" for i, b in enumerate(blanks)],
            # float() does not skip \x1c-\x1f, which str.strip() does (below).
            "amount": [f"{b}1.{i}{b}".replace("\x1c", " ") for i, b in enumerate(blanks)],
        }
    )

    def native(frame: pd.DataFrame) -> Any:
        if engine == "duckdb":
            return duckdb.connect().from_df(frame)
        return pl.from_pandas(frame).lazy()

    want = tables.validate(tx, table="transactions")
    _same_values(_collected(tables.validate_lazy(native(tx), table="transactions")), want)
    tx.loc[1, "amount"] = "\x1c1.5"
    _assert_same_error(
        _error(lambda: tables.validate_lazy(native(tx), table="transactions")),
        _error(lambda: tables.validate(tx, table="transactions")),
    )


def test_finer_than_microseconds_is_refused_on_duckdb() -> None:
    events = pd.DataFrame(
        {"ticket_id": ["k1"], "status": ["open"], "timestamp": ["2024-01-01 10:00:00.123456789"]}
    )
    ok = tables.validate_lazy(pl.from_pandas(events).lazy(), table="ticket_events").collect()
    assert ok["timestamp"].dt.nanosecond().item() == 123456789
    with pytest.raises(ParameterError, match="finer than a microsecond"):
        tables.validate_lazy(duckdb.connect().from_df(events), table="ticket_events")


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_what_the_engine_cannot_check_is_refused(engine: str) -> None:
    responses = READERS[engine](SAMPLES / "responses.csv")
    # The catalogue check runs on the engine (tests/instruments/test_checks_engines.py);
    # it checks answers, so another table is refused, as validate refuses it.
    with pytest.raises(ParameterError, match="applies to table 'responses'"):
        tables.validate_lazy(
            READERS[engine](SAMPLES / "workers.csv"), table="workers", instruments=object()
        )
    with pytest.raises(InputTableError, match="unknown table"):
        tables.validate_lazy(responses, table="respones")


TEAMS = {
    # Two spells of one touchpoint at once (one of them open), and a tie in valid_from.
    "overlap": (
        "team,touchpoint,valid_from,valid_to\n"
        "a,chat,2024-01-01,2024-03-01\n"
        "b,app,2024-01-01,\n"
        "c,chat,2024-02-01,2024-04-01\n"
        "d,app,2024-06-01,2024-07-01\n"
        "e,mail,2024-01-01,2024-02-01\n"
        "f,mail,2024-02-01,\n"
        "g,web,2024-01-01,2024-02-01\n"
        "h,web,2024-01-01,2024-03-01\n"
    ),
    # A spell that ends when it starts (the contract takes it, the ledger does not).
    "empty spell": (
        "team,touchpoint,valid_from,valid_to\n"
        "a,chat,2024-01-01,2024-01-01\n"
        "b,app,2024-01-01,2024-02-01\n"
    ),
}


def _teams_file(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "teams.csv"
    path.write_text(TEAMS[case], encoding="utf-8")
    return path


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize("case", sorted(TEAMS))
def test_teams_across_rows_like_check_teams(tmp_path: Path, case: str, engine: str) -> None:
    path = _teams_file(tmp_path, case)
    want = _error(lambda: tables.validate(tables.read_table(path), table="teams"))
    got = _error(lambda: tables.validate_lazy(READERS[engine](path), table="teams"))
    assert str(got) == str(want)
    pd.testing.assert_frame_equal(got.failure_cases, want.failure_cases)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_ticket_events_against_their_tickets(tmp_path: Path, engine: str) -> None:
    """parents={"tickets": ...}: an unknown ticket and a status before the ticket
    opened, found by a join on the engine; the sample's events all fit theirs."""
    tickets = SAMPLES / "tickets.csv"
    events = tmp_path / "ticket_events.csv"
    lines = (SAMPLES / "ticket_events.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = "K999999,opened,2019-01-02 08:21:52,it_helpdesk"
    first = lines[1].split(",")
    lines[5] = ",".join([first[0], "early", "2018-12-31 00:00:00", first[3]])
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect()

    def read(path: Path) -> Any:
        if engine == "duckdb":
            return con.read_csv(str(path), all_varchar=True)
        return _polars(path)

    ok = tables.validate_lazy(
        read(SAMPLES / "ticket_events.csv"),
        table="ticket_events",
        parents={"tickets": read(tickets)},
    )
    _same_values(
        _collected(ok),
        tables.validate(
            tables.read_table(SAMPLES / "ticket_events.csv"),
            table="ticket_events",
            parents={"tickets": tables.read_table(tickets)},
        ),
    )
    want = _error(
        lambda: tables.validate(
            tables.read_table(events),
            table="ticket_events",
            parents={"tickets": tables.read_table(tickets)},
        )
    )
    got = _error(
        lambda: tables.validate_lazy(
            read(events), table="ticket_events", parents={"tickets": read(tickets)}
        )
    )
    assert {"ticket_id_in_tickets", "timestamp_not_before_tickets_opened"} <= set(
        want.failure_cases["check"]
    )
    _assert_same_error(got, want)
    with pytest.raises(ParameterError, match="pandas only"):
        tables.validate_lazy(
            read(SAMPLES / "responses.csv"),
            table="responses",
            parents={"invitations": read(SAMPLES / "invitations.csv")},
        )


# -- nothing is materialised -----------------------------------------------------------
def test_polars_input_is_not_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only one-row aggregates come back on success; five-row examples on failure."""
    heights: list[int] = []
    collect = pl.LazyFrame.collect

    def counted(self: pl.LazyFrame, *args: Any, **kwargs: Any) -> Any:
        out = collect(self, *args, **kwargs)
        heights.append(out.height)
        return out

    monkeypatch.setattr(pl.LazyFrame, "collect", counted)
    out = tables.validate_lazy(_polars(SAMPLES / "responses.csv"), table="responses")
    assert isinstance(out, pl.LazyFrame)
    assert heights == [1]  # the aggregate of every check's count, nothing else
    heights.clear()
    path = SAMPLES / "responses.csv"
    bad = _polars(path).with_columns(
        pl.when(pl.int_range(pl.len()) % 100 == 3)
        .then(pl.lit("x"))
        .otherwise(pl.col("score"))
        .alias("score")
    )
    error = _error(lambda: tables.validate_lazy(bad, table="responses"))
    assert "coerce_dtype('float64')" in str(error)
    assert max(heights) <= tables._EXAMPLES_PER_CHECK
    assert len(heights) == 3  # counts, the examples of the one failed check, rows failing


def test_duckdb_result_is_a_lazy_relation() -> None:
    """The result is a query on the source, not a copy: later rows of the source show."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events AS SELECT * FROM read_csv(?, all_varchar=true)",
        [str(SAMPLES / "events.csv")],
    )
    out = tables.validate_lazy(con.table("events"), table="events")
    assert isinstance(out, duckdb.DuckDBPyRelation)
    n = con.table("events").count("*").fetchall()[0][0]
    con.execute(
        "INSERT INTO events (event_id, silo, source_id, timestamp, event_type) "
        "VALUES ('zz', 'workers', 'W', '2030-01-01 00:00:00', 'late')"
    )
    assert out.count("*").fetchall()[0][0] == n + 1


# -- Spark: one test function, the JVM is shared -------------------------------------
@pytest.mark.spark
# pyspark warns on import that it does not support pandas 3; only pyspark.sql is used.
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_spark_validates_like_pandas(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import DataFrame

    def read(path: Path) -> DataFrame:
        return spark.read.csv(str(path), header=True)

    # Few and small (each validation is several Spark jobs): tickets has every kind of
    # column (text, Int64, timestamps, isin); the bad inputs cover every check the
    # issue names (responses: non-date, non-number, isin, null, masked ids; workers:
    # missing column; partners: end before start).
    path = SAMPLES / "tickets.csv"
    got = tables.validate_lazy(read(path), table="tickets")
    assert isinstance(got, DataFrame)
    _same_values(_collected(got), tables.validate(tables.read_table(path), table="tickets"))
    path = _teams_file(tmp_path, "overlap")
    want = _error(lambda: tables.validate(tables.read_table(path), table="teams"))
    got_error = _error(lambda: tables.validate_lazy(read(path), table="teams"))
    assert str(got_error) == str(want)
    for table in ("responses", "workers", "partners"):
        path = _bad_file(tmp_path, table)
        want = _error(lambda p=path, t=table: tables.validate(tables.read_table(p), table=t))
        got_error = _error(lambda p=path, t=table: tables.validate_lazy(read(p), table=t))
        _assert_same_error(got_error, want)
