"""Hostile and careless input to the data contract (issue 10).

Every case ends in a named error (``InputTableError`` naming table, column, check and
rows; ``ParameterError`` naming the file) or in a documented reading, never in a pandas
traceback or a silent misreading; identifier values never appear in an error.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hxmetrics.cli import main
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.tables import TABLES, read_table, validate
from tests.test_tables import valid

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
EMAIL = "xgwrhv797@example.org"


def failure(df: pd.DataFrame, table: str) -> InputTableError:
    with pytest.raises(InputTableError) as info:
        validate(df, table=table)
    return info.value


def events_at(*stamps: object) -> pd.DataFrame:
    """A valid events frame with the given timestamps (as given: text or objects)."""
    n = len(stamps)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "silo": ["customers"] * n,
            "source_id": [f"c{i}" for i in range(n)],
            "timestamp": pd.Series(list(stamps), dtype=object),
            "event_type": ["login"] * n,
        }
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- 1. timestamps pandas cannot hold -------------------------------------------------


@pytest.mark.parametrize("stamp", ["2999-01-01", "1500-01-01", "2262-04-12 00:00"])
def test_out_of_bounds_timestamp_is_a_named_failure(stamp):
    err = failure(events_at("2024-01-01", stamp), "events")
    text = str(err)
    assert "column 'timestamp', check datetime_in_bounds: 1 row(s), e.g. row 1" in text
    assert stamp in text  # a timestamp is not an identifier: the value helps
    assert "1677-09-21" in text  # the hint says the range
    assert "2262-04-11" in text
    assert err.failure_cases["index"].tolist() == [1]


def test_out_of_bounds_in_a_roster_start_and_in_a_datetime_column():
    df = valid("workers")
    df.loc[0, "start"] = "1500-01-01"
    err = failure(df, "workers")
    assert "column 'start', check datetime_in_bounds" in str(err)
    # A typed column from Parquet can hold microseconds beyond datetime64[ns] too.
    typed = events_at("2024-01-01", "2024-01-02")
    typed["timestamp"] = np.array(["2024-01-01", "2999-01-01"], dtype="datetime64[us]")
    err = failure(typed, "events")
    assert "column 'timestamp', check datetime_in_bounds: 1 row(s), e.g. row 1" in str(err)


# -- 2. time zones: aware values become naive UTC; naive mixed with aware is refused --


def test_mixed_utc_offsets_are_converted_to_utc():
    out = validate(events_at("2024-01-01T10:00:00+05:00", "2024-01-01 10:00+01:00"), table="events")
    assert out["timestamp"].dtype == "datetime64[ns]"
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 05:00"),
        pd.Timestamp("2024-01-01 09:00"),
    ]


def test_trailing_z_is_utc():
    out = validate(events_at("2024-01-01T10:00:00Z", "2024-06-01T23:30Z"), table="events")
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 10:00"),
        pd.Timestamp("2024-06-01 23:30"),
    ]


def test_aware_datetime_column_is_converted_to_utc():
    df = events_at("2024-01-01", "2024-01-01")
    df["timestamp"] = pd.to_datetime(["2024-01-01 10:00", "2024-07-01 10:00"]).tz_localize(
        "Europe/Paris"
    )
    out = validate(df, table="events")
    assert out["timestamp"].dtype == "datetime64[ns]"
    # Paris is UTC+1 in winter and UTC+2 in summer.
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 09:00"),
        pd.Timestamp("2024-07-01 08:00"),
    ]


@pytest.mark.parametrize(
    "stamps",
    [
        ("2024-01-01 10:00", "2024-01-02 10:00", "2024-01-01T10:00:00Z"),
        ("2024-01-01 10:00", "2024-01-02 10:00", pd.Timestamp("2024-01-01 10:00", tz="UTC")),
    ],
)
def test_naive_mixed_with_aware_is_refused(stamps):
    err = failure(events_at(*stamps), "events")
    text = str(err)
    # The minority (one aware value among naive ones) is named, with its row.
    assert "column 'timestamp', check naive_and_aware_mixed: 1 row(s), e.g. row 2" in text
    assert "UTC offset" in text


# -- 3. files that are not a table ------------------------------------------------------


def test_empty_file_is_a_parameter_error(tmp_path):
    path = write(tmp_path, "responses.csv", b"")
    with pytest.raises(ParameterError, match=r"responses\.csv.*empty"):
        read_table(path)


def test_row_with_too_many_fields_names_the_line(tmp_path):
    path = write(tmp_path, "events.csv", b"a,b\n1,2\n1,2,3\n")
    with pytest.raises(ParameterError) as info:
        read_table(path)
    text = str(info.value)
    assert "events.csv" in text
    assert "line 3" in text
    assert "3 fields" in text
    assert "2 columns" in text


def test_trailing_separators_do_not_shift_the_columns(tmp_path):
    # pandas would make the first column the index and shift every value one left.
    path = write(tmp_path, "events.csv", b"event_id,silo\ne1,workers,\ne2,customers,\n")
    df = read_table(path)
    assert df.to_dict("list") == {"event_id": ["e1", "e2"], "silo": ["workers", "customers"]}


def test_first_row_too_long_is_not_an_index(tmp_path):
    path = write(tmp_path, "events.csv", b"event_id,silo\ne1,workers,extra\n")
    with pytest.raises(ParameterError, match=r"line 2 has 3 fields but the header has 2 columns"):
        read_table(path)


def test_latin1_bytes_name_the_line_and_the_encoding(tmp_path):
    path = write(tmp_path, "events.csv", "a,b\nx,y\ncaf\u00e9,2\n".encode("latin-1"))
    with pytest.raises(ParameterError) as info:
        read_table(path)
    text = str(info.value)
    assert "events.csv" in text
    assert "UTF-8" in text
    assert "line 3" in text


def test_utf8_with_bom_is_read(tmp_path):
    path = write(tmp_path, "events.csv", "\ufeffa,b\ncaf\u00e9,2\n".encode())
    assert read_table(path).columns.tolist() == ["a", "b"]


def test_duplicated_csv_header_is_refused_not_renamed(tmp_path):
    path = write(tmp_path, "responses.csv", b"response_id,score,item,score\nr1,9,ltr,3\n")
    with pytest.raises(ParameterError) as info:
        read_table(path)
    text = str(info.value)
    assert "responses.csv" in text
    assert "'score'" in text
    assert "columns 2 and 4" in text
    assert "score.1" not in text


def test_header_only_file_is_an_empty_table(tmp_path):
    path = write(tmp_path, "events.csv", b"event_id,silo\n")
    df = read_table(path)
    assert df.columns.tolist() == ["event_id", "silo"]
    assert len(df) == 0


def test_corrupt_parquet_is_a_parameter_error(tmp_path):
    path = write(tmp_path, "events.parquet", b"this is not parquet")
    with pytest.raises(ParameterError, match=r"events\.parquet.*Parquet"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("events.csv", b"", "empty"),
        ("events.csv", b"a,b\n1,2,3\n", "line 2"),
        ("events.csv", b"a,b\n\xe9,1\n", "UTF-8"),
        ("events.csv", b"event_id,event_id\n1,2\n", "'event_id'"),
    ],
)
def test_cli_reports_a_bad_file_in_one_line_and_exits_2(tmp_path, capsys, name, data, says):
    path = write(tmp_path, name, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert says in err
    assert name in err


def test_multiindex_columns_are_refused():
    df = valid("events")
    df.columns = pd.MultiIndex.from_tuples([("raw", c) for c in df.columns])
    err = failure(df, "events")
    assert "MultiIndex" in str(err)
    assert "table 'events'" in str(err)


# -- 4. ISO dates only -------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    ["03/04/2024", "2024/01/02", "Jan 5 2024", "04.03.2024", "20240102", "2024-01", "2024-1-2"],
)
def test_non_iso_dates_are_failures_not_guesses(stamp):
    err = failure(events_at("2024-01-01", stamp), "events")
    text = str(err)
    assert "column 'timestamp', check coerce_dtype('datetime64[ns]'): 1 row(s), e.g. row 1" in text
    assert repr(stamp) in text
    assert "YYYY-MM-DD" in text  # the hint names the accepted form


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2024-03-04", "2024-03-04"),
        ("2024-03-04 10:00", "2024-03-04 10:00"),
        ("2024-03-04T10:00:59", "2024-03-04 10:00:59"),
        ("2024-03-04 10:00:59.250", "2024-03-04 10:00:59.25"),
        ("2024-03-04T10:00:00+01:00", "2024-03-04 09:00"),
        ("2024-03-04T10:00:00-0130", "2024-03-04 11:30"),
        (" 2024-03-04 ", "2024-03-04"),
    ],
)
def test_iso_variants_are_read(stamp, expected):
    out = validate(events_at(stamp), table="events")
    assert out["timestamp"].iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    "stamps",
    [
        ("2024-02-30", "2024-01-01"),
        ("2024-02-30T10:00Z", "2024-01-01T10:00+01:00"),
        ("2024-13-01 10:00", "2024-01-01 10:00"),
    ],
)
def test_impossible_dates_in_iso_form_are_failures(stamps):
    err = failure(events_at(*stamps), "events")
    assert "column 'timestamp', check coerce_dtype('datetime64[ns]'): 1 row(s), e.g. row 0" in str(
        err
    )


def test_offsets_and_blanks_mixed_in_one_column():
    out = validate(
        events_at("2024-01-01T10:00Z", "2024-01-01 10:00:00+00:00", "2024-01-01T12:00+02:00 "),
        table="events",
    )
    assert out["timestamp"].tolist() == [pd.Timestamp("2024-01-01 10:00")] * 3


def test_datetime_objects_are_read_as_they_are():
    df = events_at(dt.date(2024, 3, 4), dt.datetime(2024, 3, 4, 10), "2024-03-05")
    out = validate(df, table="events")
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2024-03-04"),
        pd.Timestamp("2024-03-04 10:00"),
        pd.Timestamp("2024-03-05"),
    ]


def test_numbers_in_a_timestamp_column_are_not_epoch_nanoseconds():
    err = failure(events_at(1, "2024-01-01"), "events")
    assert "column 'timestamp', check coerce_dtype('datetime64[ns]'): 1 row(s), e.g. row 0" in str(
        err
    )
    # Reported once, not again as a missing value.
    assert set(err.failure_cases["check"]) == {"coerce_dtype('datetime64[ns]')"}


@pytest.mark.parametrize("table", TABLES)
def test_sample_files_still_pass(table):
    df = read_table(SAMPLES / f"{table}.csv")
    out = validate(df, table=table)
    assert len(out) == len(df)


# -- 5. identifiers never appear in an error ----------------------------------------------


def no_leak(err: InputTableError, *values: str) -> None:
    cells = [str(cell) for cell in err.failure_cases.to_numpy().ravel()]
    for value in values:
        assert value not in str(err)
        assert not any(value in cell for cell in cells)


def test_identifier_values_are_masked_in_message_and_failure_cases():
    df = valid("customers")
    df["customer_id"] = [EMAIL, "a2", EMAIL]
    df["start"] = ["2020-01-01", "2021-06-01", "2020-01-01"]
    df["end"] = [None, None, None]
    err = failure(df, "customers")
    text = str(err)
    assert "column 'customer_id', check multiple_fields_uniqueness: 2 row(s)" in text
    assert "row 0: <customer_id, masked>" in text
    assert "row 2: <customer_id, masked>" in text
    no_leak(err, EMAIL, "xgwrhv")
    # The row labels stay: they are what a person needs to find the row.
    cases = err.failure_cases
    assert sorted(cases.loc[cases["column"] == "customer_id", "index"]) == [0, 2]


@pytest.mark.parametrize("column", ["source_id", "event_id"])
def test_record_and_source_ids_are_masked(column):
    df = events_at("2024-01-01", "2024-01-02")
    df[column] = pd.Series([["C000001"], "x"], dtype=object)
    err = failure(df, "events")
    assert f"column {column!r}" in str(err)
    no_leak(err, "C000001")


def test_email_or_phone_in_a_non_identifier_column_is_masked():
    # Columns swapped by a careless export: the email lands in `engagement`.
    df = valid("workers")
    df.loc[0, "engagement"] = EMAIL
    df.loc[1, "engagement"] = "+1 (555) 626-5874"
    df.loc[2, "engagement"] = "fulltime"
    err = failure(df, "workers")
    text = str(err)
    no_leak(err, EMAIL, "626-5874")
    assert "'fulltime'" in text  # ordinary values still help
    assert "row 0: <engagement, masked>" in text


def test_row_labels_that_identify_someone_become_positions():
    df = valid("workers")
    df.loc[1, "engagement"] = "fulltime"
    by_email = df.set_index(pd.Index(["a@example.org", EMAIL, "c@example.org"]))
    err = failure(by_email, "workers")
    assert "column 'engagement', check isin(...): 1 row(s), e.g. row #1: 'fulltime'" in str(err)
    assert err.failure_cases["index"].tolist() == ["#1"]
    no_leak(err, EMAIL, "@example.org")
    # Named after an identifier column: positions too, whatever the labels look like.
    by_id = df.set_index("worker_id", drop=False)
    by_id.index = ["a1", "a2", "a3"]
    by_id.index.name = "worker_id"
    err = failure(by_id, "workers")
    assert "row #1: 'fulltime'" in str(err)
    no_leak(err, "a2")
    # Repeated identifying labels: no position to give, so the label is masked.
    by_dup = df.set_index(pd.Index([EMAIL] * 3))
    err = failure(by_dup, "workers")
    assert "row <index, masked>: 'fulltime'" in str(err)
    no_leak(err, EMAIL)


def test_did_you_mean_never_suggests_an_email_header():
    # A headerless export: the first row became the header.
    df = pd.DataFrame([["x"]], columns=["customer_id@example.org"])
    err = failure(df, "customers")
    assert "missing required column 'customer_id'" in str(err)
    no_leak(err, "@example.org")


# -- 6. frames pandas allows but the contract cannot read ----------------------------------


def test_duplicate_column_names_are_refused():
    df = valid("events")
    df = pd.concat([df, df[["silo"]].assign(silo="workers")], axis=1)
    err = failure(df, "events")
    text = str(err)
    assert "'silo'" in text
    assert "2 times" in text
    assert err.failure_cases["check"].tolist() == ["unique_column_names"]


@pytest.mark.parametrize("value", [["a"], {"a": 1}, b"a", {1, 2}, (1, 2)])
def test_non_scalar_text_is_a_failure_not_its_repr(value):
    df = valid("events")
    df["event_type"] = pd.Series([value, "login"], dtype=object)
    err = failure(df, "events")
    assert "column 'event_type', check scalar_value: 1 row(s), e.g. row 0" in str(err)


def test_non_scalar_score_names_its_row():
    df = valid("responses")
    df["score"] = pd.Series([[1], "2"], dtype=object)
    err = failure(df, "responses")
    assert "column 'score', check scalar_value: 1 row(s), e.g. row 0" in str(err)


def test_numbers_and_missing_values_in_text_columns_still_work():
    df = valid("events")
    df["source_id"] = pd.Series([101, "w1"], dtype=object)
    df["touchpoint"] = pd.Series([None, np.nan], dtype=object)
    out = validate(df, table="events")
    assert out["source_id"].tolist() == ["101", "w1"]


@pytest.mark.parametrize("table", [["events"], None, 3])
def test_table_that_is_not_a_name(table):
    with pytest.raises(InputTableError, match="unknown table"):
        validate(valid("events"), table=table)  # type: ignore[arg-type]  # the check is under test


def test_validation_keeps_rows_order_and_duplicate_index_labels():
    df = events_at("2024-01-02", "2024-01-01T10:00", "2024-01-03")
    df.index = [5, 5, 1]
    out = validate(df, table="events")
    assert list(out.index) == [5, 5, 1]
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2024-01-02"),
        pd.Timestamp("2024-01-01 10:00"),
        pd.Timestamp("2024-01-03"),
    ]
