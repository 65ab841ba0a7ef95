"""The data contract: a valid frame of every table passes; every kind of violation
is reported with table, column, check and example rows."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hxmetrics
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.tables import (
    OPTIONAL_TABLES,
    ROLE_OF_SILO,
    ROLES,
    ROSTERS,
    SILO_OF_ROLE,
    SILOS,
    TABLES,
    role_of,
    silo_of,
    table_from_filename,
    validate,
)


def valid(table: str) -> pd.DataFrame:
    """A small frame that satisfies the contract for ``table``, values as text."""
    if table in ROSTERS:
        id_col = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}
        kind = {"customers": "consumer", "workers": "gig", "partners": "driver"}[table]
        return pd.DataFrame(
            {
                id_col[table]: ["a1", "a2", "a1"],
                "email": ["X@example.com ", None, "x@example.com"],
                "phone": ["555-010-1234", None, None],
                "birth_year": ["1980", None, "1980"],
                "start": ["2020-01-01", "2021-06-01", "2023-01-01"],
                "end": ["2022-01-01", None, None],
                "engagement": [kind, kind, kind],
            }
        )
    keys = {"silo": ["customers", "workers"], "source_id": ["c1", "w1"]}
    if table == "responses":
        return pd.DataFrame(
            {
                "response_id": ["r1", "r1"],
                **keys,
                "instrument": ["nps", "nps"],
                "item": ["ltr", "ltr2"],
                "score": ["9", "3"],
                "timestamp": ["2024-01-01 10:00", "2024-01-02"],
                "weight": [1.0, 2.5],
            }
        )
    if table == "events":
        return pd.DataFrame(
            {
                "event_id": ["e1", "e2"],
                **keys,
                "timestamp": ["2024-01-01"] * 2,
                "event_type": ["login", "call"],
            }
        )
    if table == "transactions":
        return pd.DataFrame(
            {
                "transaction_id": ["t1", "t2"],
                **keys,
                "timestamp": ["2024-01-01"] * 2,
                "amount": ["12.5", "-3"],
            }
        )
    if table == "ticket_events":
        return pd.DataFrame(
            {
                "ticket_id": ["k1", "k1", "k2"],
                "status": ["opened", "resolved", "opened"],
                "timestamp": ["2024-01-01", "2024-01-02 09:30", "2024-01-02"],
                "team": ["t-a", None, "t-b"],
            }
        )
    if table == "teams":
        return pd.DataFrame(
            {
                "team": ["t-a", "t-b", "t-a"],
                "touchpoint": ["app", "app", "store"],
                "valid_from": ["2024-01-01", "2024-06-01", "2024-01-01"],
                "valid_to": ["2024-06-01", None, None],
            }
        )
    if table == "comments":
        return pd.DataFrame(
            {
                "comment_id": ["m1", "m2"],
                **keys,
                "timestamp": ["2024-01-01"] * 2,
                "text": ["slow delivery", ""],
            }
        )
    if table == "invitations":
        return pd.DataFrame(
            {
                "invitation_id": ["i1", "i2"],
                **keys,
                "instrument": ["nps", "csat"],
                "sent": ["2024-01-01"] * 2,
            }
        )
    assert table == "tickets"
    return pd.DataFrame(
        {
            "ticket_id": ["k1", "k2"],
            **keys,
            "opened": ["2024-01-01", "2024-01-02"],
            "first_response": ["2024-01-01 02:00", None],
            "closed": ["2024-01-03", None],
            "reopened": ["0", "1"],
            "severity": ["low", "critical"],
            "touchpoint": ["app", "phone"],
            "team": ["t-a", "t-b"],
        }
    )


def failure(df: pd.DataFrame, table: str) -> InputTableError:
    with pytest.raises(InputTableError) as info:
        validate(df, table=table)
    return info.value


@pytest.mark.parametrize("table", [*TABLES, *OPTIONAL_TABLES])
def test_valid_frame_passes_with_same_rows_and_extra_columns_kept(table):
    df = valid(table).assign(extra=1)
    out = validate(df, table=table)
    assert len(out) == len(df)
    assert list(out.index) == list(df.index)
    assert "extra" in out.columns
    time_cols = [c for c in ("start", "timestamp", "opened") if c in out.columns]
    assert all(pd.api.types.is_datetime64_any_dtype(out[c]) for c in time_cols)


@pytest.mark.parametrize("table", [*TABLES, *OPTIONAL_TABLES])
def test_missing_column_named_with_did_you_mean(table):
    df = valid(table)
    first = df.columns[0]
    err = failure(df.rename(columns={first: first.upper()}), table)
    text = str(err)
    assert f"table {table!r}" in text
    assert f"missing required column {first!r}" in text
    assert f"Did you mean {first.upper()!r}" in text
    assert err.table == table
    assert (err.failure_cases["check"] == "column_in_dataframe").any()


@pytest.mark.parametrize("table", [*TABLES, *OPTIONAL_TABLES])
def test_null_id_reported_with_row(table):
    df = valid(table)
    id_col = df.columns[0]
    df.loc[1, id_col] = None
    err = failure(df, table)
    assert f"column {id_col!r}, check not_nullable" in str(err)
    assert "row 1" in str(err)
    cases = err.failure_cases
    assert cases.loc[cases["column"] == id_col, "index"].tolist() == [1]


@pytest.mark.parametrize("table", ["workers", "customers", "partners"])
def test_roster_violations_are_all_listed_at_once(table):
    df = valid(table)
    df.loc[0, "engagement"] = "fulltime"
    df.loc[1, "birth_year"] = "1850"
    df.loc[2, "start"] = "not a date"
    err = failure(df, table)
    text = str(err)
    assert "column 'engagement', check isin" in text
    assert "'fulltime'" in text
    assert "row 0" in text
    assert "column 'birth_year', check in_range(1900, 2100)" in text
    assert "column 'start', check coerce_dtype" in text
    assert "'not a date'" in text
    assert set(err.failure_cases["column"]) == {"engagement", "birth_year", "start"}


@pytest.mark.parametrize("table", ["workers", "customers", "partners"])
def test_end_before_start_is_a_cross_column_failure(table):
    df = valid(table)
    df.loc[0, "end"] = "2019-12-31"
    err = failure(df, table)
    assert "column 'end', check end_not_before_start: 1 row(s), e.g. row 0" in str(err)


@pytest.mark.parametrize("table", ["workers", "customers", "partners"])
def test_duplicate_episode_rows_are_rejected(table):
    df = valid(table)
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    last = len(df) - 1
    err = failure(df, table)
    id_col = df.columns[0]
    # Both copies of the repeated (id, start) are named, and nothing else fails.
    assert f"column {id_col!r}, check multiple_fields_uniqueness: 2 row(s)" in str(err)
    cases = err.failure_cases
    assert set(cases["check"]) == {"multiple_fields_uniqueness"}
    assert sorted(set(cases["index"])) == [0, last]


def test_responses_value_checks():
    df = valid("responses")
    df.loc[0, "score"] = "nine"
    df.loc[1, "silo"] = "customer"
    df.loc[1, "weight"] = 0.0
    err = failure(df, "responses")
    text = str(err)
    assert "column 'score', check coerce_dtype('float64'): 1 row(s), e.g. row 0: 'nine'" in text
    assert "column 'silo', check isin" in text
    assert "'customer'" in text
    assert "column 'weight', check greater_than(0)" in text


def test_nan_and_infinite_scores_are_failures_not_dropped():
    df = valid("responses")
    df["score"] = [np.nan, np.inf]
    err = failure(df, "responses")
    text = str(err)
    assert "column 'score', check not_nullable" in text
    assert "column 'score', check finite" in text


def test_tickets_ordering_and_values():
    df = valid("tickets")
    df.loc[0, "closed"] = "2023-12-31"
    df.loc[1, "severity"] = "urgent"
    df.loc[1, "reopened"] = "-1"
    err = failure(df, "tickets")
    text = str(err)
    assert "column 'severity', check isin" in text
    assert "column 'reopened', check greater_than_or_equal_to(0)" in text
    # Cross-column rules run once types are right: fix the values, see the ordering.
    df.loc[1, "severity"] = "high"
    df.loc[1, "reopened"] = "0"
    err = failure(df, "tickets")
    assert "column 'closed', check closed_not_before_opened: 1 row(s), e.g. row 0" in str(err)


def test_unknown_table_suggests_the_nearest():
    err = failure(valid("responses"), "response")
    assert "Did you mean 'responses'?" in str(err)


def test_not_a_dataframe():
    with pytest.raises(InputTableError, match="expected a pandas DataFrame"):
        # wrong type on purpose: the runtime check is under test
        validate([1, 2], table="responses")  # type: ignore[arg-type]


def test_examples_are_capped_but_counts_are_complete():
    df = pd.concat([valid("events")] * 20, ignore_index=True)
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["silo"] = "crm"
    err = failure(df, "events")
    line = next(x for x in str(err).splitlines() if "'silo'" in x)
    assert "40 row(s)" in line
    assert line.count("row ") == 5  # five examples, however many rows fail
    assert len(err.failure_cases) == 40


@given(st.permutations(list(range(6))))
def test_validation_keeps_rows_in_order(perm):
    df = pd.concat([valid("transactions")] * 3, ignore_index=True)
    df["transaction_id"] = [f"t{i}" for i in range(6)]
    shuffled = df.iloc[perm]
    out = validate(shuffled, table="transactions")
    assert list(out["transaction_id"]) == list(shuffled["transaction_id"])


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("responses.csv", "responses"),
        ("workers_2025.parquet", "workers"),
        ("data/tickets-q1.csv", "tickets"),
        ("ticket_events.csv", "ticket_events"),
        ("ticket_events_2025.parquet", "ticket_events"),
        ("notes.csv", None),
    ],
)
def test_table_from_filename(name, table):
    assert table_from_filename(name) == table


# ------------------------------------------- issue 11: any frame narwhals accepts


@pytest.mark.parametrize("kind", ["polars", "polars_lazy", "pyarrow"])
@pytest.mark.parametrize("table", [*TABLES, *OPTIONAL_TABLES])
def test_validate_accepts_polars_and_arrow_frames_as_pandas_does(table, kind):
    # Polars is a test extra (CI installs it); without it this test cannot run.
    pl = pytest.importorskip("polars")
    df = valid(table).assign(extra=1)
    if kind == "pyarrow":
        import pyarrow as pa

        other = pa.Table.from_pandas(df, preserve_index=False)
    else:
        other = pl.from_pandas(df)
        other = other.lazy() if kind == "polars_lazy" else other
    got = validate(other, table=table)
    expected = validate(df, table=table)
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    for column in expected.columns:  # the contract's types, whatever the engine
        assert got[column].dtype.kind == expected[column].dtype.kind, column


def test_validate_polars_failures_read_as_pandas_failures():
    # Polars is a test extra (CI installs it); without it this test cannot run.
    pl = pytest.importorskip("polars")
    df = valid("workers").assign(engagement=["gig", "fulltime", "gig"])
    with pytest.raises(InputTableError) as from_pandas:
        validate(df, table="workers")
    with pytest.raises(InputTableError) as from_polars:
        validate(pl.from_pandas(df), table="workers")
    assert str(from_polars.value) == str(from_pandas.value)


@pytest.mark.parametrize("value", [[1, 2], pd.Series([1, 2]), "a.csv"])
def test_not_a_frame_message_is_unchanged(value):
    with pytest.raises(
        InputTableError,
        match=rf"table 'events': expected a pandas DataFrame, got {type(value).__name__}\.$",
    ):
        validate(value, table="events")  # type: ignore[arg-type]  # not a frame, on purpose


# ---- roles singular, silos plural, one mapping (issue 11)

SRC = Path(hxmetrics.__file__).parent
# The files of this helper's packages: they read the one mapping, never spell their own.
OWN = [
    *sorted((SRC / "stakeholders").glob("*.py")),
    *sorted((SRC / "datasets").glob("*.py")),
    SRC / "cli.py",
    SRC / "_display.py",
    SRC / "errors.py",
]


def test_roles_singular_silos_plural_one_mapping_both_ways() -> None:
    assert ROLES == ("customer", "worker", "partner")
    assert SILOS == ("customers", "workers", "partners")
    assert {SILO_OF_ROLE[r]: r for r in ROLES} == ROLE_OF_SILO
    assert tuple(SILO_OF_ROLE.values()) == SILOS


@pytest.mark.parametrize("name", ["worker", "workers", "Workers ", "WORKER"])
def test_role_of_and_silo_of_take_either_spelling(name: str) -> None:
    assert role_of(name) == "worker"
    assert silo_of(name) == "workers"


@pytest.mark.parametrize("bad", ["employee", "", "workerz", 3, None])
def test_unknown_role_or_silo_is_an_error_naming_both_spellings(bad: object) -> None:
    with pytest.raises(ParameterError, match=r"customer.*customers"):
        role_of(bad)  # type: ignore[arg-type]  # a wrong type on purpose
    with pytest.raises(ParameterError, match=r"customer.*customers"):
        silo_of(bad)  # type: ignore[arg-type]  # a wrong type on purpose


def test_workerz_gets_a_hint() -> None:
    with pytest.raises(ParameterError, match="Did you mean 'worker"):
        role_of("workerz")


def _role_silo_dicts(path: Path) -> list[int]:
    """Lines of dict literals that map a role to a silo or a silo to a role."""
    pairs = set(ROLE_OF_SILO.items()) | set(SILO_OF_ROLE.items())
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            items = {
                (k.value, v.value)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
            if items & pairs:
                lines.append(node.lineno)
        if isinstance(node, ast.DictComp) and "ROLE_OF_SILO.items()" in ast.unparse(node):
            lines.append(node.lineno)  # an inverse rebuilt by hand
    return lines


def test_no_second_copy_of_the_role_silo_mapping_in_these_packages() -> None:
    copies = {str(p.relative_to(SRC)): _role_silo_dicts(p) for p in OWN}
    assert {p: lines for p, lines in copies.items() if lines} == {}


def test_pandera_is_imported_only_when_a_table_is_validated():
    """Found (issue 11): pandera (and pyspark through it) cost every import of tables."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import hxmetrics.tables, hxmetrics.stakeholders, hxmetrics.datasets\n"
        "from hxmetrics.tables import TABLES, ROLE_OF_SILO, role_of\n"
        "assert 'pandera' not in sys.modules, 'pandera at import'\n"
        "assert 'pyspark' not in sys.modules, 'pyspark at import'\n"
        "import pandas as pd\n"
        "from hxmetrics.tables import ROSTERS, validate\n"
        "assert sorted(ROSTERS) == ['customers', 'partners', 'workers']\n"
        "df = pd.DataFrame({'worker_id': ['w1'], 'start': ['2024-01-02'], 'end': [None],\n"
        "                   'engagement': ['full_time']})\n"
        "assert len(validate(df, table='workers')) == 1\n"
        "assert 'pandera' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-800:]


def test_schemas_are_the_same_objects_through_every_name():
    from hxmetrics import tables

    assert set(tables.SCHEMAS) == set(TABLES)
    assert (*tables.ROSTER_TABLES, *tables.EXHAUST_TABLES) == tables.TABLES
    assert tables.SCHEMAS["workers"] is ROSTERS["workers"]
    assert tables.SCHEMAS["tickets"] is tables.EXHAUST["tickets"]


# ------------------------------------- issue 14: ticket_events, an optional table


def test_ticket_events_is_optional_and_outside_tables():
    """Code that walks TABLES (report, jobs, sample) never meets the optional table."""
    from hxmetrics import tables

    assert OPTIONAL_TABLES == ("ticket_events", "teams", "comments", "invitations")
    assert "ticket_events" not in TABLES
    assert "ticket_events" not in tables.SCHEMAS
    assert set(tables.OPTIONAL) == set(OPTIONAL_TABLES)
    schema = tables.OPTIONAL["ticket_events"]
    assert list(schema.columns) == ["ticket_id", "status", "timestamp", "team"]
    assert not schema.columns["team"].required
    assert schema.columns["team"].nullable


def test_ticket_events_without_team_passes_and_keeps_order():
    df = valid("ticket_events").drop(columns="team").iloc[::-1]
    out = validate(df, table="ticket_events")
    assert list(out.index) == list(df.index)
    assert out["timestamp"].dtype == "datetime64[ns]"


def test_ticket_events_repeated_step_is_named_with_rows_and_masked_id():
    df = pd.concat([valid("ticket_events"), valid("ticket_events").iloc[[1]]], ignore_index=True)
    err = failure(df, "ticket_events")
    text = str(err)
    assert "table 'ticket_events'" in text
    assert "multiple_fields_uniqueness" in text or "unique" in text
    assert "row 3" in text
    assert "'k1'" not in text  # ticket ids are identifiers: masked
    assert "<ticket_id, masked>" in text


def test_ticket_events_missing_status_and_bad_timestamp_are_listed_together():
    df = valid("ticket_events")
    df.loc[0, "status"] = None
    df.loc[2, "timestamp"] = "02/01/2024"
    err = failure(df, "ticket_events")
    text = str(err)
    assert "column 'status', check not_nullable: 1 row(s), e.g. row 0" in text
    assert "column 'timestamp', check coerce_dtype('datetime64[ns]'): 1 row(s), e.g. row 2" in text


def test_ticket_events_against_tickets_name_unknown_ticket_and_early_status():
    tickets = valid("tickets")  # k1 opened 2024-01-01, k2 opened 2024-01-02
    events = pd.DataFrame(
        {
            "ticket_id": ["k1", "k2", "k9", "k2"],
            "status": ["opened", "opened", "opened", "triaged"],
            "timestamp": ["2024-01-01", "2024-01-01 12:00", "2024-01-05", "2024-01-03"],
        }
    )
    assert len(validate(events, table="ticket_events")) == 4  # nothing wrong on its own
    with pytest.raises(InputTableError) as info:
        validate(events, table="ticket_events", parents={"tickets": tickets})
    err = info.value
    text = str(err)
    assert err.table == "ticket_events"
    assert "column 'ticket_id', check ticket_id_in_tickets: 1 row(s), e.g. row 2:" in text
    assert "'k9'" not in text
    assert (
        "column 'timestamp', check timestamp_not_before_tickets_opened: 1 row(s), e.g. row 1: "
        "'timestamp=2024-01-01 12:00:00 < tickets.opened=2024-01-02 00:00:00'"
    ) in text
    cases = err.failure_cases
    assert set(cases["check"]) == {
        "ticket_id_in_tickets",
        "timestamp_not_before_tickets_opened",
    }
    assert sorted(cases["index"]) == [1, 2]


def test_ticket_events_parents_are_validated_and_checked():
    events = valid("ticket_events")
    tickets = valid("tickets")
    out = validate(events, table="ticket_events", parents={"tickets": tickets})
    assert len(out) == len(events)
    bad = tickets.assign(severity=["low", "urgent"])
    with pytest.raises(InputTableError, match="table 'tickets'"):
        validate(events, table="ticket_events", parents={"tickets": bad})
    with pytest.raises(ParameterError, match=r"refers to 'tickets'.*Did you mean 'tickets'"):
        validate(events, table="ticket_events", parents={"ticket": tickets})
    with pytest.raises(ParameterError, match="refers to no other table"):
        validate(tickets, table="tickets", parents={"tickets": tickets})


# ------------------- issues 15-17: teams, comments and invitations, optional tables


def test_teams_ownership_ending_before_it_starts_is_named():
    df = valid("teams")
    df.loc[1, "valid_to"] = "2024-05-01"
    text = str(failure(df, "teams"))
    assert "table 'teams'" in text
    assert "check valid_to_not_before_valid_from: 1 row(s), e.g. row 1" in text


def test_teams_missing_touchpoint_and_open_spell():
    df = valid("teams")
    df.loc[0, "touchpoint"] = None
    text = str(failure(df, "teams"))
    assert "column 'touchpoint', check not_nullable: 1 row(s), e.g. row 0" in text
    # An open spell (no valid_to) is valid: the team still owns the touchpoint.
    assert validate(valid("teams"), table="teams")["valid_to"].isna().sum() == 2


def test_comment_text_is_never_shown_in_errors():
    df = valid("comments")
    df["text"] = ["write to ana@example.org", "call 555 0100"]
    df["comment_id"] = ["m1", "m1"]  # a repeated id: the failure names rows, not values
    df.loc[1, "timestamp"] = "yesterday"
    text = str(failure(df, "comments"))
    assert "row 1" in text
    assert "ana@example.org" not in text
    assert "555 0100" not in text
    assert "'m1'" not in text


def test_comments_keep_empty_and_missing_text():
    df = valid("comments")
    df.loc[1, "text"] = None
    out = validate(df.assign(response_id=["r1", None]), table="comments")
    assert len(out) == 2
    assert out["text"].isna().sum() == 1


def test_invitations_and_the_response_link_columns():
    df = valid("invitations").assign(channel=["email", None])
    out = validate(df, table="invitations")
    assert out["sent"].dtype == "datetime64[ns]"
    bad = df.copy()
    bad.loc[0, "sent"] = None
    assert "column 'sent', check not_nullable" in str(failure(bad, "invitations"))
    responses = valid("responses").assign(invitation_id=["i1", None])
    assert validate(responses, table="responses")["invitation_id"].isna().sum() == 1
    tickets = valid("tickets").assign(description=["app crashes at login", None])
    assert "description" in validate(tickets, table="tickets")


def test_teams_overlapping_ownership_is_refused_by_validate():
    # The cross-row check lives beside the ledger (check_teams); validate runs it.
    df = valid("teams")
    df.loc[1, "valid_from"] = "2024-03-01"  # t-b takes 'app' while t-a still owns it
    with pytest.raises(InputTableError, match="while another spell owns it"):
        validate(df, table="teams")


def test_responses_against_a_catalogue_and_their_invitations():
    from hxmetrics.instruments import load_bank

    responses = valid("responses")
    catalogue = load_bank("core")
    with pytest.raises(InputTableError, match="catalogue"):
        # valid("responses") holds items the core bank does not know.
        validate(responses, table="responses", instruments=catalogue)
    with pytest.raises(ParameterError, match="applies to table 'responses'"):
        validate(valid("workers"), table="workers", instruments=catalogue)
    invitations = valid("invitations").assign(instrument="nps")
    linked = responses.assign(invitation_id=["i1", "i9"])  # i9 was never sent
    unlinked = responses.assign(invitation_id=["i1", None])  # one answer came uninvited
    assert len(validate(unlinked, table="responses", parents={"invitations": invitations})) == 2
    with pytest.raises(InputTableError) as info:
        validate(linked, table="responses", parents={"invitations": invitations})
    assert "'i9'" not in str(info.value)
