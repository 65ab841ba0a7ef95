"""The "People and partners" section: eNPS and partner NPS by kind, headcount and
turnover, boomerangs per period, against the public API on the sample; suppression in
a small report; a customers-only input.

The sample report is built once per run (conftest.py); every number is recomputed
through the public functions and looked up as the page formats it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.measures.nps import nps
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.tenure import boomerang_summary, median_tenure
from hxmetrics.report import Report, build_report, default_as_of
from hxmetrics.report.main import DEFAULT_SEED
from hxmetrics.report.sections import Context, people
from hxmetrics.tables import ROLE_OF_SILO, validate
from tests.report.html_page import Page, parse, row, table

ENPS = "eNPS by engagement kind (differences against the largest kind, full time, Holm-adjusted)"
PARTNERS = (
    "Partner NPS by partner kind (differences against the largest kind, supplier, Holm-adjusted)"
)
FLOWS = "Worker headcount, joiners, leavers and turnover per year"
RETURNS = "Workers who left (first departure) and came back, by period of leaving"
DASH = "–"


def signed(value: float) -> str:
    return "0.0" if abs(value) < 0.05 else f"{value:+.1f}"


def body(html: str, section_id: str) -> str:
    return html.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


def used_ltr(org: hx.datasets.Organisation) -> tuple[hx.StakeholderRegistry, pd.DataFrame]:
    """The registry and the used NPS answers (the person held the silo's role then)."""
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    answers = registry.attribute(org.responses)
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLE_OF_SILO.values():
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    used = answers[(answers["attribution"] == "ok").to_numpy() & held]
    ltr = used[(used["instrument"] == "nps") & (used["item"] == "ltr")]
    return registry, ltr


@pytest.fixture(scope="module")
def page(sample_html: str) -> Page:
    return parse(sample_html)


@pytest.fixture(scope="module")
def api() -> dict:
    org = hx.load_sample()
    registry, ltr = used_ltr(org)
    return {"org": org, "registry": registry, "ltr": ltr, "as_of": default_as_of(org.tables)}


def by_kind(ltr: pd.DataFrame, role: str) -> pd.DataFrame:
    mine = ltr[ltr["role"] == role]
    mine = mine.assign(engagement=mine[f"{role}_engagement"].astype(str))
    return nps(mine, "score", by="engagement")


# -- the sample: numbers against the API ----------------------------------------------------
@pytest.mark.parametrize(
    ("role", "caption", "reference"),
    [("worker", ENPS, "full_time"), ("partner", PARTNERS, "supplier")],
)
def test_nps_by_kind_against_the_api(page, api, role, caption, reference):
    result = by_kind(api["ltr"], role)
    compared = compare_groups(result, reference=reference, correction="holm").set_index(
        "engagement"
    )
    tab = table(page, caption)
    assert len(tab["rows"]) == len(result)
    for r in result.itertuples(index=False):
        cells = row(tab, r.engagement.replace("_", " "))
        assert cells[1] == f"{r.n:,}"
        assert cells[4:7] == [signed(r.estimate), signed(r.ci_low), signed(r.ci_high)]
        if r.engagement == reference:
            assert cells[7:] == [DASH, DASH, DASH]
            continue
        c = compared.loc[r.engagement]
        assert cells[7] == signed(c["difference"])
        p = float(c["p_adjusted"])
        assert cells[8] == ("<0.001" if p < 0.0005 else f"{p:.3f}")
        assert cells[9] == ("yes" if c["differs"] else "no")


def test_enps_by_kind_on_the_sample(page):
    # The sample's numbers (docs and the final report quote them).
    tab = table(page, ENPS)
    assert row(tab, "full time")[1:7] == ["593", "30.7", "32.4", "-1.7", "-8.0", "+4.7"]
    assert row(tab, "gig")[4] == "-63.6"
    assert row(tab, "gig")[8:] == ["<0.001", "yes"]


def flows_by_year(episodes: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Headcount at each year's start and end, joiners and leavers, written plainly."""
    w = episodes[(episodes["role"] == "worker") & (episodes["start"] <= as_of)]
    end = w["end"].where(w["end"] <= as_of)  # ending after as_of: still running
    first = int(end.min().year)
    rows = []
    for year in range(first, as_of.year + 1):
        lo = pd.Timestamp(year, 1, 1)
        hi = pd.Timestamp(year + 1, 1, 1) if year < as_of.year else as_of + pd.Timedelta(1, "ns")
        # A one-line local helper (headcount on a day) kept beside its loop; E731 is style.
        at = lambda t: int(((w["start"] < t) & (end.isna() | (end >= t))).sum())  # noqa: E731
        rows.append(
            {
                "period": f"year {year}",
                "at_start": at(lo),
                "joined": int(((w["start"] >= lo) & (w["start"] < hi)).sum()),
                "left": int(((end >= lo) & (end < hi)).sum()),
                "at_end": at(hi),
            }
        )
    return pd.DataFrame(rows)


def test_headcount_and_turnover_against_the_episodes(page, api):
    episodes = api["registry"].episodes
    flows = flows_by_year(episodes, api["as_of"])
    tab = table(page, FLOWS)
    assert [r[0] for r in tab["rows"]] == flows["period"].tolist()
    for f in flows.itertuples(index=False):
        turnover = 100 * f.left / ((f.at_start + f.at_end) / 2)
        assert row(tab, f.period)[1:] == [
            f"{f.at_start:,}",
            f"{f.joined:,}",
            f"{f.left:,}",
            f"{f.at_end:,}",
            f"{turnover:.1f}",
        ]
    # The periods chain (one period's end is the next one's start), and their
    # leavers and joiners are the retention table's worker episodes.
    assert flows["at_end"].iloc[:-1].tolist() == flows["at_start"].iloc[1:].tolist()
    tenure = median_tenure(episodes, as_of=api["as_of"], unit="M", by="role").set_index("role")
    assert flows["left"].sum() == tenure.loc["worker", "n_events"]
    assert flows["at_end"].iloc[-1] == tenure.loc["worker", "n_censored"]
    assert row(tab, "year 2023")[1:] == ["239", "110", "124", "225", "53.4"]


def test_boomerangs_per_period_against_the_api(page, api):
    episodes = api["registry"].episodes
    ends = episodes["end"].where(episodes["end"] <= api["as_of"])
    labelled = episodes.assign(left="year " + ends.dt.year.astype("Int64").astype(str))
    result = boomerang_summary(labelled, as_of=api["as_of"], role="worker", by="left")
    result = result[result["left"] != "year <NA>"].set_index("left")
    tab = table(page, RETURNS)
    assert [r[0] for r in tab["rows"]] == result.index.tolist()
    shown = [r for r in tab["rows"] if r[-1] != "suppressed"]
    assert shown, "no period shown on the sample"
    for cells in shown:
        r = result.loc[cells[0]]
        assert cells[1:7] == [
            f"{int(r['n']):,}",
            f"{int(r['n_returned']):,}",
            f"{r['estimate']:.1f}",
            f"{r['ci_low']:.1f}",
            f"{r['ci_high']:.1f}",
            f"{r['median_gap']:.1f}",
        ]
    # 2025: four leavers came back (fewer than 5): the row is hidden entirely.
    assert int(result.loc["year 2025", "n_returned"]) == 4
    assert row(tab, "year 2025") == ["year 2025", *[DASH] * 6, "suppressed"]
    assert row(tab, "year 2023")[1:4] == ["110", "15", "13.6"]


def test_figures_have_alt_and_data(sample_html, page):
    people = body(sample_html, "people")
    alts = re.findall(r'<img src="[^"]*" width="\d+" height="\d+" alt="([^"]*)"', people)
    assert len(alts) == 3
    assert all(len(a.split()) >= 6 for a in alts)
    assert alts[0].startswith("Dot and interval plot of eNPS by engagement kind")
    assert "highest in year 2023 at 53.4" in alts[1]
    assert "(211 to 276)" in alts[1]
    assert people.count("Data behind the figure") == 3
    assert 'class="how-to-read"' in people or "How to read this" in people


# -- suppression: a small report with a high min_n ---------------------------------------------
def section_only(tables: dict[str, pd.DataFrame], *, min_n: int) -> str:
    """The whole plan (every section's numbers), then this section's layout only.

    The disclosure plan is the report's (complementary suppression across every
    table); only the other sections' layouts are left out, so that this test does not
    depend on them.
    """
    checked = {t: validate(v, table=t) for t, v in tables.items()}
    ctx = Context.build(
        checked,
        as_of=default_as_of(checked),
        min_n=min_n,
        keys=("email", "phone"),
        confidence=0.95,
        random_state=DEFAULT_SEED,
    )
    report = Report(title="People")
    people.section(report, ctx)
    return report.to_html()


@pytest.fixture(scope="module")
def small() -> dict:
    org = hx.simulate_organisation(300, random_state=3)
    html = section_only(dict(org.tables), min_n=5)
    return {"org": org, "html": html, "page": parse(body(html, "people"))}


def test_a_hidden_kind_has_no_number_no_mark_and_no_part_in_the_flags(small):
    tab = table(small["page"], ENPS)
    hidden = [r for r in tab["rows"] if r[-1] == "suppressed"]
    shown = [r for r in tab["rows"] if r[-1] != "suppressed"]
    # The setting must hide some kinds and show at least two.
    assert hidden, tab["rows"]
    assert len(shown) >= 2, tab["rows"]
    for cells in hidden:
        assert cells[1:-1] == [DASH] * (len(cells) - 2)
    alt = small["page"].alts[0]
    data = [t for t in small["page"].tables if t["caption"] == "" and t["header"][0] == "Kind"]
    drawn = [r[0] for r in data[0]["rows"]]
    for cells in hidden:
        assert cells[0] not in drawn
        assert cells[0] not in alt.split(": ", 1)[1]
    # Holm among the shown kinds only (the hidden ones' p-values never enter).
    _, ltr = used_ltr(small["org"])
    result = by_kind(ltr, "worker")
    names = {c[0] for c in shown}
    part = result[result["engagement"].str.replace("_", " ").isin(names)]
    compared = compare_groups(part, reference="full_time", correction="holm")
    for c in compared.itertuples(index=False):
        cells = row(tab, c.engagement.replace("_", " "))
        assert cells[7] == signed(c.difference)
        assert cells[8] == ("<0.001" if c.p_adjusted < 0.0005 else f"{c.p_adjusted:.3f}")


def test_hidden_flows_are_not_drawn(small):
    tab = table(small["page"], FLOWS)
    data = [t for t in small["page"].tables if t["caption"] == "" and t["header"][0] == "Period"]
    assert data  # the figure's data table (its rows are the periods drawn)
    drawn = {r[0] for r in data[0]["rows"]}
    partly = [cells for cells in tab["rows"] if DASH in cells[1:5]]
    assert partly  # the setting hides some counts
    for cells in partly:
        assert cells[0] not in drawn
        assert cells[5] == DASH  # no turnover from a hidden count
        # Only a row with every count hidden is marked; the others show their counts.
        assert (cells[-1] == "suppressed") == (cells[1:5] == [DASH] * 4)


# -- absent data --------------------------------------------------------------------------------
def test_customers_only_input_says_so_once():
    org = hx.simulate_organisation(300, random_state=3)
    responses = org.responses[org.responses["silo"] == "customers"]
    report = build_report({"customers": org.customers, "responses": responses})
    people = body(report.to_html(), "people")
    assert people.count('class="note') == 1
    assert "No workers or partners in the data" in people
    assert "<table" not in people
    assert "<img" not in people
