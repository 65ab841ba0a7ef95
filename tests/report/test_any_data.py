"""The report on inputs without survey answers (issue 18, item 10: any data).

An HR input (a workers roster alone, or workers and their helpdesk tickets) and a
transaction log (a customers roster without email or phone, and its purchases) give a
report that runs, exits 0 and shows only what the tables can fill: the experience
sections say once that there are no answers, with no empty table, figure or card; who
crosses roles, tenure and turnover, lifetime value and data quality fill themselves;
records without contact keys are one person each, said in one sentence. The inputs are
generated here from :func:`hxmetrics.simulate_organisation`.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.cli import main as cli_main
from hxmetrics.report import build_report, input_identifiers, privacy_guard, run_report
from hxmetrics.stakeholders import StakeholderRegistry
from tests.report.html_page import parse

#: Sections of survey answers: with none, each says so in one note and shows nothing else.
SURVEY_SECTIONS = (
    "trends",
    "experience",
    "distributions",
    "voices",
    "siloed-unified",
    "hx-index",
    "response-rates",
)
#: Sections left out of the checks (none: every survey section says so in one note).
PENDING: tuple[str, ...] = ()
#: Sections that fill themselves from rosters and exhaust alone.
FILLED = ("overview", "stakeholders", "value-retention", "data-quality")
NO_ANSWERS = "No survey responses in the data"


@pytest.fixture(scope="module")
def org():
    return hx.simulate_organisation(300, random_state=3)


def _write(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    return folder


def _sections(document: str) -> dict[str, str]:
    """Each section's markup by id."""
    return dict(re.findall(r'<section id="([^"]+)"(.*?)</section>', document, flags=re.S))


def _text(markup: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", text).strip()


def _notes(markup: str) -> list[str]:
    return [_text(n) for n in re.findall(r'<div class="note[^"]*"[^>]*>(.*?)</div>', markup, re.S)]


def _check_roles(document: str, tables: dict[str, pd.DataFrame]) -> None:
    """What every report without answers must hold (shared by the inputs below)."""
    sections = _sections(document)
    for section_id in (*FILLED, *SURVEY_SECTIONS):
        assert section_id in sections, section_id
    # The overview says once that there are no answers, and shows no score card.
    overview = sections["overview"]
    assert _text(overview).count(NO_ANSWERS) == 1
    labels = [k[0] for k in parse(overview).kpis]
    assert "People" in labels
    assert not {"Customer NPS", "Employee NPS (eNPS)", "Partner NPS", "CSAT (top-2-box)"} & set(
        labels
    )
    # Each survey section: one short note, no table, no figure, no card.
    for section_id in SURVEY_SECTIONS:
        body = parse(sections[section_id])
        assert len(_notes(sections[section_id])) == 1, (section_id, _notes(sections[section_id]))
        assert (body.tables, body.alts, body.kpis) == ([], [], []), section_id
    # No empty table and no figure without its data anywhere.
    checked = "".join(body for name, body in sections.items() if name not in PENDING)
    page = parse(checked)
    for tab in page.tables:
        assert tab["rows"], tab["caption"]
        assert tab["rows"] != [["no rows"]], tab["caption"]
    figures = checked.count("<figure>")
    assert checked.count('</figure><details class="figure-data">') == figures
    # The survey-responses table of the data-quality section is left out: nothing to count.
    captions = [t["caption"] for t in page.tables]
    assert "Survey responses: used and left out" not in captions
    assert "Input tables and how their rows were linked to persons" in captions
    # Who crosses roles fills itself from the roster: people ever and on the reference date.
    people = parse(sections["stakeholders"])
    assert people.tables[0]["caption"] == "People by combination of roles"
    # No identifier of the input, by the library's guard over every id it collects.
    registry = StakeholderRegistry.from_rosters(
        **{k: v for k, v in tables.items() if k in ("customers", "workers", "partners")}, keys=[]
    )
    privacy_guard(
        document,
        forbidden=input_identifiers(tables, person_ids=list(registry.crosswalk["person_id"])),
    )


@pytest.fixture(scope="module")
def hr(org, tmp_path_factory) -> tuple[dict[str, pd.DataFrame], str]:
    """Workers and their helpdesk tickets, through the command line."""
    tables = {"workers": org.workers, "tickets": org.tickets.loc[org.tickets["silo"] == "workers"]}
    folder = _write(tables, tmp_path_factory.mktemp("hr") / "data")
    out = folder.parent / "report.html"
    assert cli_main(["report", "--data", str(folder), "--out", str(out), "--quiet"]) == 0
    return tables, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def transactions(org, tmp_path_factory) -> tuple[dict[str, pd.DataFrame], str]:
    """A transaction log: customers without email or phone, and their purchases."""
    tables = {
        "customers": org.customers.drop(columns=["email", "phone"]),
        "transactions": org.transactions,
    }
    folder = _write(tables, tmp_path_factory.mktemp("tx") / "data")
    out = run_report(data_dir=folder, out=folder.parent / "report.html", progress=False)
    return tables, out.read_text(encoding="utf-8")


def test_an_hr_input_runs_and_shows_tenure_and_turnover(hr):
    tables, document = hr
    _check_roles(document, tables)
    sections = _sections(document)
    retention = parse(sections["value-retention"])
    captions = [t["caption"] for t in retention.tables]
    assert "Median time in the role (months)" in captions
    worker = next(
        r for t in retention.tables if t["caption"].startswith("Median") for r in t["rows"]
    )
    episodes = len(tables["workers"])  # a roster row is one episode of the role
    assert worker[:2] == ["worker", f"{episodes:,}"]
    assert retention.alts
    assert all(len(a.split()) >= 6 for a in retention.alts)
    # Boomerangs are a pattern of one roster: the card of leavers who came back.
    assert retention.kpis[0][0] == "Leavers who came back"
    # Lifetime value says once what is missing.
    assert _text(sections["value-retention"]).count("No attributable transactions") == 1
    # One roster: no one crosses roles, said once, no overlap chart.
    crossing = sections["stakeholders"]
    assert _notes(crossing) == [
        "Only the workers list is in the data: no one can hold two roles here. Adding the "
        "other rosters, with a contact column such as email to link them, would show who "
        "crosses roles."
    ]
    assert parse(crossing).alts == []
    # The tickets are counted and linked in the data-quality table.
    quality = parse(sections["data-quality"])
    tickets = next(r for r in quality.tables[0]["rows"] if r[0] == "tickets")
    assert tickets[2] == f"{len(tables['tickets']):,}"


def test_a_transaction_log_without_contact_keys_shows_lifetime_value(transactions):
    tables, document = transactions
    _check_roles(document, tables)
    sections = _sections(document)
    value = parse(sections["value-retention"])
    buyers = tables["transactions"]["source_id"].nunique()
    assert value.kpis[0][:2] == ["Customers with purchases", f"{buyers:,}"]
    assert "Fitted model parameters" in [t["caption"] for t in value.tables]
    # No contact keys: one person per record, said in one sentence, and the people card
    # counts the roster's records.
    records = len(tables["customers"])
    quality = _text(sections["data-quality"])
    sentence = (
        f"no key column (email, phone) links records, so each of the {records:,} roster "
        "records is one person and no one is counted across silos."
    )
    assert quality.count(sentence) == 1
    assert parse(sections["overview"]).kpis[0][:3] == [
        "People",
        f"{records:,}",
        f"from {records:,} roster records",
    ]


def test_a_workers_roster_alone_is_enough(org):
    tables = {"workers": org.workers.drop(columns=["email", "phone"])}
    document = build_report(tables).to_html()
    _check_roles(document, tables)
