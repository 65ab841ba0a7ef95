"""The main job: the sample report's sections, its numbers against the API, privacy,
self-containment, byte-for-byte repeatability, inputs from folders and job files.

The sample report is built once per run (``sample_report`` in conftest.py); every
number checked here is recomputed through the public functions and looked up in the
HTML exactly as the report formats it.
"""

from __future__ import annotations

import html
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.errors import InputTableError, ParameterError, PrivacyError
from hxmetrics.measures.privacy import WORKER_MIN_N
from hxmetrics.report import (
    Progress,
    Report,
    build_report,
    default_as_of,
    find_external_urls,
    input_identifiers,
    privacy_guard,
    read_tables,
)
from hxmetrics.report.__main__ import main as module_main
from hxmetrics.report.main import DEFAULT_SEED, _tables_from_job
from hxmetrics.report.sections import (
    CLV_HORIZON,
    CLV_UNIT,
    CLV_WEEKLY_DISCOUNT,
    SECTIONS,
    hybrid_name,
)
from hxmetrics.tables import ROLE_OF_SILO
from tests.report.html_page import Page, kpi, parse, row, table

SECTION_IDS = [
    "overview",
    "trends",
    "experience",
    "distributions",
    "voices",
    "zero-distance",
    "people",
    "stakeholders",
    "siloed-unified",
    "hx-index",
    "value-retention",
    "response-rates",
    "data-quality",
    "glossary",
]
INSTRUMENT = {"customer": "Customer NPS", "worker": "Employee NPS (eNPS)", "partner": "Partner NPS"}


@pytest.fixture(scope="module")
def page(sample_html: str) -> Page:
    return parse(sample_html)


def signed(value: float) -> str:
    return f"{value:+.1f}"


@pytest.fixture(scope="module")
def api() -> dict:
    """The sample's stakeholder model and attributed answers, through the public API."""
    org = hx.load_sample()
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    answers = registry.attribute(org.responses)
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLE_OF_SILO.values():
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    used = answers[(answers["attribution"] == "ok").to_numpy() & held]
    return {"org": org, "registry": registry, "used": used, "as_of": default_as_of(org.tables)}


# -- structure ------------------------------------------------------------------------------
def test_sections_in_reading_order_each_with_an_intro(sample_html, page):
    assert page.sections == SECTION_IDS
    assert next(label for label, _ in SECTIONS) == "Overview"
    for section_id in SECTION_IDS:
        body = sample_html.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]
        intro = re.search(r'<div class="intro"><p>(.*?)</p>', body)
        assert intro is not None, section_id
        assert len(intro.group(1).split()) >= 20, section_id


def test_every_figure_is_embedded_with_alt_text(sample_html, page):
    assert len(page.alts) >= 9
    assert all(alt and len(alt.split()) >= 6 for alt in page.alts)
    sources = re.findall(r'<img src="([^"]{0,30})', sample_html)
    assert all(s.startswith("data:image/png;base64,") for s in sources)


def test_self_contained_no_external_reference(sample_html):
    assert find_external_urls(sample_html) == []
    assert "<script" not in sample_html
    assert "<link" not in sample_html


# -- numbers against the API ------------------------------------------------------------------
def test_headline_counts(page, api):
    registry = api["registry"]
    persons = registry.crosswalk["person_id"].nunique()
    assert kpi(page, "People")[1] == f"{persons:,}"
    crossing = int(
        registry.hybrids(api["as_of"])["roles_ever"].str.contains("+", regex=False).sum()
    )
    assert kpi(page, "People in more than one role")[1] == f"{crossing:,}"


def test_nps_by_role_matches_the_measure(page, api):
    result = hx.nps(
        api["used"][api["used"]["instrument"] == "nps"], "score", by="role", min_n=WORKER_MIN_N
    )
    tab = table(page, "Net Promoter Score by role")
    for r in result.itertuples(index=False):
        cells = row(tab, INSTRUMENT[r.role])
        assert cells[1:] == [
            f"{r.n:,}",
            f"{r.pct_promoters:.1f}",
            f"{r.pct_detractors:.1f}",
            signed(r.estimate),
            signed(r.ci_low),
            signed(r.ci_high),
        ]
        # The headline cards count each person once per role (the unified count), not
        # each answer: they differ from this table (tests/report/test_headline.py).
        assert kpi(page, INSTRUMENT[r.role])[1] != signed(r.estimate)
    # The sample is built so that the three scores differ in sign (customers positive).
    assert result.set_index("role").loc["customer", "estimate"] > 0


def test_nps_by_hybrid_type_is_suppressed_like_the_measure(page, api):
    rows = api["used"][api["used"]["instrument"] == "nps"]
    result = hx.nps(rows, "score", by=["role", "hybrid_type"], min_n=WORKER_MIN_N)
    assert result["suppressed"].any(), "the sample has small groups to suppress"
    for role, part in result.groupby("role"):
        tab = table(page, f"{INSTRUMENT[role]}: scores and differences from no hybrid pattern")
        assert len(tab["rows"]) == len(part)
        cells = {r[0]: r for r in tab["rows"]}
        for r in part.itertuples(index=False):
            shown = cells[hybrid_name(r.hybrid_type)]
            if r.suppressed:
                assert shown[1:5] == ["–"] * 4
                assert shown[-1] == "suppressed"
            else:
                assert shown[1:5] == [
                    f"{r.n:,}",
                    signed(r.estimate),
                    signed(r.ci_low),
                    signed(r.ci_high),
                ]
                assert int(r.n) >= WORKER_MIN_N


def test_no_visible_group_below_the_minimum(page):
    counted = {"Answers", "Respondents", "People", "Customers"}
    checked = 0
    for tab in page.tables:
        for position, name in enumerate(tab["header"]):
            if name not in counted:
                continue
            for cells in tab["rows"]:
                value = cells[position]
                if value != "–":
                    assert int(value.replace(",", "")) >= WORKER_MIN_N, (tab["caption"], cells)
                    checked += 1
    assert checked > 30


def test_csat_and_ces_match_the_measures(page, api):
    used = api["used"]
    csat = hx.csat(used[used["instrument"] == "csat"], "score", scale=(1, 5), box=(4, 5))
    card = kpi(page, "CSAT (top-2-box)")
    assert card[1] == f"{csat['estimate'].iloc[0]:.1f}%"
    ces = hx.ces(
        used[used["instrument"] == "ces"], "score", scale=(1, 7), polarity="higher_is_easier"
    )
    assert kpi(page, "Customer effort (CES)")[1] == f"{ces['estimate'].iloc[0]:.2f}"


def test_siloed_vs_unified_matches_compare(page, api):
    org = api["org"]
    result = hx.siloed_vs_unified(api["registry"], org.responses, measure="nps", role="all")
    d = result.difference.iloc[0]
    tab = table(page, "Siloed and unified NPS and the gap between them (siloed minus unified)")
    cells = row(tab, "everyone")
    assert cells[1:6] == [
        signed(d["siloed"]),
        signed(d["unified"]),
        signed(d["difference"]),
        signed(d["ci_low"]),
        signed(d["ci_high"]),
    ]
    dec = result.decomposition.set_index("component")["contribution"]
    parts = row(
        table(page, "Where the gap comes from (points; the three causes add up to the gap)"),
        "everyone",
    )
    assert parts[1:3] == [signed(dec["double_counting"]), signed(dec["role_attribution"])]


def test_reliability_and_hx_index_match_the_measures(page, api):
    used = api["used"]
    core = used[used["instrument"] == "hx_core"]
    items = [f"hx{i}" for i in range(1, 7)]
    wide = core.pivot(index="response_id", columns="item", values="score")
    wide = wide.join(core.groupby("response_id")["role"].first())
    alpha = hx.cronbach_alpha(wide, items=items, by="role")
    tab = table(page, "Reliability of the six core questions by role")
    alphas = [r for r in tab["rows"] if r[1] == "alpha"]
    for r in alpha.itertuples(index=False):
        cells = next(c for c in alphas if c[0] == r.role)
        assert cells[2:6] == [
            f"{r.n:,}",
            f"{r.estimate:.3f}",
            f"{r.ci_low:.3f}",
            f"{r.ci_high:.3f}",
        ]
    # The report numbers the persons in the crosswalk's order before the index (its
    # pseudonyms are keyed by a secret drawn at every run, and the bootstrap's draws
    # follow the persons' order): the same here, so that the draws are the report's.
    codes = core["person_id"].cat.codes
    core = core.assign(person_id=pd.array(codes.where(codes >= 0), dtype="Int64"))
    index = hx.hx_index(
        core, items, by="role", person="person_id", min_n=10, random_state=DEFAULT_SEED
    )
    tab = table(page, "HX index by role and by hybrid type")
    for r in index.itertuples(index=False):
        cells = next(c for c in tab["rows"] if c[:2] == ["role", r.role])
        assert cells[2:7] == [
            f"{r.n:,}",
            f"{r.n_responses:,}",
            f"{r.estimate:.1f}",
            f"{r.ci_low:.1f}",
            f"{r.ci_high:.1f}",
        ]


def test_lifetime_value_and_tenure_match_the_models(page, api):
    registry, as_of = api["registry"], api["as_of"]
    tx = registry.attribute(api["org"].transactions)
    rfm = hx.rfm_summary(
        tx[tx["attribution"] == "ok"],
        customer="person_id",
        time="timestamp",
        amount="amount",
        observation_end=as_of,
        unit=CLV_UNIT,
    )
    bg = hx.BetaGeo().fit(rfm)
    gg = hx.GammaGamma().fit(rfm)
    value = hx.customer_lifetime_value(
        rfm,
        bg,
        gg,
        horizon=CLV_HORIZON,
        unit=CLV_UNIT,
        discount_rate_per_period=CLV_WEEKLY_DISCOUNT,
    )
    assert kpi(page, f"Expected value, next {CLV_HORIZON} weeks")[1] == (
        f"{value['clv'].sum():,.0f}"
    )
    params = table(page, "Fitted model parameters")
    r_row = next(c for c in params["rows"] if c[1] == "r")
    assert r_row[2] == f"{bg.params_['r']:.3f}"
    median = hx.median_tenure(registry.episodes, as_of=as_of, unit="M", by="role")
    worker = median.set_index("role").loc["worker"]
    cells = row(table(page, "Median time in the role (months)"), "worker")
    assert cells[4:7] == [
        f"{worker['estimate']:.1f}",
        f"{worker['ci_low']:.1f}",
        f"{worker['ci_high']:.1f}",
    ]


# -- privacy --------------------------------------------------------------------------------
def _leaks(html_text: str, org, registry) -> list[str]:
    """Input emails, phones (last 9 digits, any format), roster and person ids found
    anywhere in the page: text, table cells, attributes (alt texts), the title.

    A scan written independently of the library's guard; only embedded images are
    skipped (base64 can spell anything).
    """
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html.unescape(html_text))
    text = text.casefold()
    found = []
    emails = pd.concat([org.customers["email"], org.workers["email"], org.partners["email"]])
    found += [e for e in emails.dropna().str.strip().unique() if e.casefold() in text]
    digits = re.sub(r"\D", "", text)
    phones = pd.concat([org.customers["phone"], org.workers["phone"], org.partners["phone"]])
    found += [p for p in phones.dropna().unique() if re.sub(r"\D", "", p)[-9:] in digits]
    ids = [*org.customers["customer_id"], *org.workers["worker_id"], *org.partners["partner_id"]]
    found += [
        str(v)
        for v in [*ids, *registry.crosswalk["person_id"].unique()]
        if str(v).casefold() in text
    ]
    return found


def _guard(html_text: str, org, registry) -> None:
    privacy_guard(
        html_text,
        forbidden=input_identifiers(
            org.tables, person_ids=list(registry.crosswalk["person_id"].unique())
        ),
    )


def test_no_identifier_from_the_input(sample_html, api):
    org, registry = api["org"], api["registry"]
    assert _leaks(sample_html, org, registry) == []
    # and the library's own guard agrees, on every identifier it collects
    _guard(sample_html, org, registry)


@pytest.mark.parametrize("where", ["alt", "cell"])
@pytest.mark.parametrize("kind", ["email", "phone", "source_id", "person_id"])
def test_a_planted_identifier_is_caught_by_the_scan_and_the_guard(sample_html, api, where, kind):
    # The negative control of the test above: one input identifier planted in an image's
    # alt text or a table cell of the real page must be found by both checks.
    org, registry = api["org"], api["registry"]
    roster = org.workers
    value = {
        "email": roster["email"].dropna().iloc[0].strip().upper(),
        # the same number written as bare digits: a different format from the roster's
        "phone": re.sub(r"\D", "", roster["phone"].dropna().iloc[0]),
        "source_id": roster["worker_id"].iloc[0],
        "person_id": registry.crosswalk["person_id"].iloc[0],
    }[kind]
    anchor = {"alt": 'alt="', "cell": "<td>"}[where]
    assert sample_html.count(anchor) >= 1
    planted = sample_html.replace(anchor, anchor + html.escape(value) + " ", 1)
    assert _leaks(planted, org, registry) != []
    with pytest.raises(PrivacyError):
        _guard(planted, org, registry)


def test_input_identifiers_covers_ids_emails_phones():
    roster = pd.DataFrame(
        {
            "worker_id": ["W-9", "777777"],
            "email": ["a@b.co", None],
            "phone": ["+1 555 0100 22", "1234"],
        }
    )
    found = input_identifiers({"workers": roster}, person_ids=["Pabc"])
    assert found == sorted(["W-9", "777777", "a@b.co", "+1 555 0100 22", "Pabc"])


# -- repeatability ----------------------------------------------------------------------------
def test_two_runs_are_byte_identical_and_quiet_off_a_terminal(sample_report, tmp_path):
    # A second run in another process, with another hash seed (set and dict orders of
    # strings change with it: a section whose order leaked from one would differ).
    out = tmp_path / "again.html"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-m", "hxmetrics.report", "--out", str(out)],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert out.read_bytes() == sample_report.read_bytes()
    # stderr is a pipe here, not a terminal: no progress lines.
    assert done.stderr == b""


# -- inputs -----------------------------------------------------------------------------------
def _write_csvs(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    return folder


def test_a_data_folder_gives_the_same_tables_as_the_sample(api, tmp_path):
    org = api["org"]
    folder = _write_csvs(org.tables, tmp_path / "data")
    (folder / "notes.txt").write_text("not a table")
    read = read_tables(folder)
    assert list(read) == list(org.tables)
    for name, frame in read.items():
        pd.testing.assert_frame_equal(
            hx.validate(frame, table=name),
            hx.validate(org.tables[name], table=name),
            check_dtype=False,
        )


def test_a_job_file_names_the_inputs(api, tmp_path):
    org = api["org"]
    _write_csvs({"workers": org.workers, "responses": org.responses}, tmp_path / "in")
    job = tmp_path / "job.toml"
    job.write_text(
        '[inputs]\nworkers = "in/workers.csv"\nresponses = "in/responses.csv"\n'
        '[output]\ndir = "out"\n'
    )
    tables = _tables_from_job(job)
    assert list(tables) == ["workers", "responses"]
    assert len(tables["responses"]) == len(org.responses)
    # The optional tables too (a report reads comments, teams, invitations, ticket events).
    _write_csvs({"comments": org.comments, "teams": org.teams}, tmp_path / "in")
    both = tmp_path / "both.toml"
    both.write_text(
        '[inputs]\nworkers = "in/workers.csv"\nresponses = "in/responses.csv"\n'
        'comments = "in/comments.csv"\nteams = "in/teams.csv"\n[output]\ndir = "out"\n'
    )
    assert list(_tables_from_job(both)) == ["workers", "responses", "teams", "comments"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[inputs]\nworker = "in/workers.csv"\n')
    with pytest.raises(ParameterError, match="unknown table 'worker'"):
        _tables_from_job(bad)


def test_folder_errors(tmp_path):
    with pytest.raises(ParameterError, match="not a directory"):
        read_tables(tmp_path / "missing")
    with pytest.raises(ParameterError, match="no table files"):
        read_tables(tmp_path)
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "workers.csv", index=False)
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "workers_2025.csv", index=False)
    with pytest.raises(ParameterError, match="two files for table 'workers'"):
        read_tables(tmp_path)


def test_required_tables_and_invalid_input(api):
    org = api["org"]
    # A roster alone is enough (an HR extract): the experience sections say there are
    # no answers (tests/report/test_any_data.py).
    assert build_report({"workers": org.workers}).sections
    with pytest.raises(ParameterError, match="at least one roster"):
        build_report({"responses": org.responses})
    with pytest.raises(ParameterError, match="unknown table"):
        build_report({"workers": org.workers, "responses": org.responses, "survey": org.events})
    broken = org.workers.assign(engagement="fulltime")
    with pytest.raises(InputTableError, match="engagement"):
        build_report({"workers": broken, "responses": org.responses})
    with pytest.raises(ParameterError, match="min_n"):
        build_report({"workers": org.workers, "responses": org.responses}, min_n=0)


# -- a small organisation: missing tables, progress, the guard at write time ----------------
@pytest.fixture(scope="module")
def small() -> tuple[dict[str, pd.DataFrame], Report, str]:
    org = hx.simulate_organisation(300, random_state=3)
    tables = {k: v for k, v in org.tables.items() if k != "transactions"}
    stream = io.StringIO()
    report = build_report(
        tables, progress=Progress(total=len(SECTIONS) + 3, stream=stream, enabled=True)
    )
    return tables, report, stream.getvalue()


def test_progress_lines_when_watched(small):
    lines = small[2].splitlines()
    assert len(lines) == len(SECTIONS) + 3
    assert lines[0].startswith(f"hxmetrics [1/{len(SECTIONS) + 3}] Checking the tables")
    assert all(re.search(r" \.\.\. done \(\d+\.\d s\)$", line) for line in lines)


def test_a_missing_table_is_said_not_failed(small, tmp_path):
    _, report, _ = small
    text = report.to_html()
    assert "No attributable transactions in the data" in text
    assert report.write(tmp_path / "small.html").is_file()


def test_the_guard_refuses_an_identifier_at_write_time(small, tmp_path):
    tables, report, _ = small
    email = tables["customers"]["email"].dropna().iloc[0]
    report.title = f"Report for {email}"
    with pytest.raises(PrivacyError, match="1 identifier"):
        report.write(tmp_path / "leak.html")
    assert not (tmp_path / "leak.html").exists()


def test_module_entry_point_options(tmp_path, capsys):
    # A data folder that does not exist is a usage error: exit 2, as `hxmetrics report`.
    assert (
        module_main(
            ["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html"), "--quiet"]
        )
        == 2
    )
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module_main(["--min-n", "0"])


def test_the_report_forbids_exactly_the_input_identifiers(api):
    # Issue 10 (report at scale): the guard's list is found from the rosters and the
    # exhaust rows linked to no one (a linked row's id is its roster record's id),
    # unsorted; it holds the same values as input_identifiers over every row.
    from hxmetrics.report.main import _identifiers, _unlinked_ids
    from hxmetrics.report.sections import Context

    org = api["org"]
    tables = dict(org.tables)
    extra = tables["events"].head(2).copy()
    extra["event_id"] = [f"{v}-extra" for v in extra["event_id"]]
    extra["source_id"] = ["C-not-in-any-roster", "W-not-in-any-roster"]
    tables["events"] = pd.concat([tables["events"], extra], ignore_index=True)
    ctx = Context.build(
        {name: hx.validate(frame, table=name) for name, frame in tables.items()},
        as_of=api["as_of"],
        min_n=5,
        keys=("email", "phone"),
        confidence=0.95,
        random_state=DEFAULT_SEED,
    )
    people = ctx.person_ids()
    found = _identifiers(_unlinked_ids(tables, ctx.attributed), people).tolist()
    assert "C-not-in-any-roster" in found
    assert sorted(found) == input_identifiers(tables, person_ids=people)
    assert len(found) == len(set(found))
