"""The headline NPS (issue 18, item 2): one number per role, defined on its card.

The overview's NPS cards show the unified count of :func:`hxmetrics.compare.siloed_vs_unified`
(each person once in each role they held when answering, whichever survey they answered),
say so in one line, and link to the siloed-vs-unified section where the departments'
count differs. The per-answer scores of the experience section are other numbers, by
design. Every number is recomputed through the public API and looked up as the page shows it.
"""

from __future__ import annotations

import re

import pytest

import hxmetrics as hx
from hxmetrics.report import Report
from tests.report.html_page import Page, kpi, parse, row, table

INSTRUMENT = {"customer": "Customer NPS", "worker": "Employee NPS (eNPS)", "partner": "Partner NPS"}
GROUP = {"customer": "customers", "worker": "workers", "partner": "partners"}
SVU_CAPTION = "Siloed and unified NPS and the gap between them (siloed minus unified)"


def signed(value: float) -> str:
    return f"{value:+.1f}"


def _section(document: str, section_id: str) -> str:
    return document.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


def _cards(document: str) -> dict[str, str]:
    """The overview's KPI cards as markup, by label."""
    body = _section(document, "overview")
    cards = re.findall(
        r'<div class="kpi"><div class="kpi-label">(.*?)</div>(.*?)</div></div>', body
    )
    return {label: inner for label, inner in cards}


@pytest.fixture(scope="module")
def page(sample_html: str) -> Page:
    return parse(sample_html)


@pytest.fixture(scope="module")
def comparisons() -> dict[str, hx.SiloComparison]:
    org = hx.load_sample()
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    return {
        role: hx.siloed_vs_unified(registry, org.responses, measure="nps", role=role)
        for role in INSTRUMENT
    }


def test_each_nps_card_is_the_unified_count(page, comparisons):
    for role, result in comparisons.items():
        unified = result.estimates.set_index("estimator").loc["unified"]
        card = kpi(page, INSTRUMENT[role])
        assert card[1] == signed(unified["estimate"])
        assert card[2] == f"95% CI {signed(unified['ci_low'])} to {signed(unified['ci_high'])}"
        # n is people (one vote each), not answers.
        assert card[3] == f"n = {int(unified['n_units']):,}"
        assert card[4].startswith("unified: people who were a")
        assert "each counted once" in card[4]


def test_each_nps_card_links_to_where_the_siloed_count_differs(sample_html):
    cards = _cards(sample_html)
    for role in INSTRUMENT:
        assert (
            '<a href="#siloed-unified">where the siloed count differs</a>'
            in cards[INSTRUMENT[role]]
        )
    assert '<section id="siloed-unified"' in sample_html
    # Only the NPS cards carry the link: CSAT and CES are counted per answer.
    assert "#siloed-unified" not in cards["CSAT (top-2-box)"]
    assert "each answer once" in cards["CSAT (top-2-box)"]


def test_the_card_is_the_unified_column_of_the_siloed_unified_table(page, comparisons):
    tab = table(page, SVU_CAPTION)
    for role, result in comparisons.items():
        d = result.difference.iloc[0]
        cells = row(tab, GROUP[role])
        assert cells[2] == kpi(page, INSTRUMENT[role])[1] == signed(d["unified"])
        assert cells[1] == signed(d["siloed"])
    # The sample's customers: the departments' count and the headline differ (the gap
    # the linked section explains), so the card's definition matters.
    customer = comparisons["customer"].difference.iloc[0]
    assert signed(customer["siloed"]) != signed(customer["unified"])


def test_the_per_answer_scores_are_other_numbers(page, comparisons):
    # The experience table counts each answer to the role's own survey once: on the
    # sample its customer NPS is not the headline's (both are shown, each defined).
    per_answer = row(table(page, "Net Promoter Score by role"), INSTRUMENT["customer"])[4]
    unified = comparisons["customer"].estimates.set_index("estimator").loc["unified"]
    assert per_answer != signed(unified["estimate"])


def test_the_sections_say_how_to_read_them(sample_html):
    for section_id in ("overview", "stakeholders", "value-retention", "data-quality"):
        body = _section(sample_html, section_id)
        note = re.search(
            r'<details class="how-to-read"><summary>How to read this</summary>(.*?)'
            r"</details>",
            body,
            flags=re.S,
        )
        assert note is not None, section_id
        assert len(re.sub(r"<[^>]+>", " ", note.group(1)).split()) >= 30, section_id
    overview = _section(sample_html, "overview")
    assert "numbers to quote" in overview


def _context(tables: dict, *, min_n: int):
    """The plan of a report on ``tables`` (every section's numbers registered)."""
    from hxmetrics.report.main import DEFAULT_SEED, default_as_of
    from hxmetrics.report.sections import Context

    ctx = Context.build(
        {name: hx.validate(frame, table=name) for name, frame in tables.items()},
        as_of=default_as_of(tables),
        min_n=min_n,
        keys=("email", "phone"),
        confidence=0.95,
        random_state=DEFAULT_SEED,
    )
    ctx.plan()
    return ctx


def _laid_out(ctx, *sections) -> str:
    """Only the given sections laid out from the plan (the others are not read here)."""
    report = Report("Headline")
    for section in sections:
        section(report, ctx)
    return report.to_html()


@pytest.fixture(scope="module")
def strict() -> str:
    """A small organisation whose partner NPS falls under a minimum of 20 people."""
    from hxmetrics.report.sections.experience import experience
    from hxmetrics.report.sections.overview import overview
    from hxmetrics.report.sections.siloed_unified import siloed_unified

    org = hx.simulate_organisation(300, random_state=3)
    ctx = _context(dict(org.tables), min_n=20)
    return _laid_out(ctx, overview, experience, siloed_unified)


def test_a_hidden_role_is_hidden_on_its_card_and_in_every_table(strict):
    page = parse(strict)
    org = hx.simulate_organisation(300, random_state=3)
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    partner = hx.siloed_vs_unified(registry, org.responses, role="partner")
    units = partner.estimates.set_index("estimator")["n_units"]
    # The partners' siloed count is under the minimum: primary suppression.
    assert units["siloed"] < 20
    assert kpi(page, INSTRUMENT["partner"])[1:] == ["suppressed", "suppressed: small group"]
    assert row(table(page, SVU_CAPTION), "partners")[-1] == "suppressed"
    # The same people counted per answer are hidden with them (linked cells).
    assert row(table(page, "Net Promoter Score by role"), INSTRUMENT["partner"])[-1] == (
        "suppressed"
    )
    # A role shown on its card is shown in the siloed-vs-unified table, with the same number.
    customer = kpi(page, INSTRUMENT["customer"])
    assert customer[1] == row(table(page, SVU_CAPTION), "customers")[2]
    assert customer[1] != "suppressed"


def test_a_role_without_its_own_survey_hides_only_itself():
    # Partners who answered no partner survey but some customer surveys: the partners'
    # siloed count is 0 (no cell) and their unified count is 4 people. Only the partner
    # card is hidden; before, the 0 made the plan hide customers and workers too.
    from hxmetrics.report.sections.overview import overview

    org = hx.simulate_organisation(300, random_state=3)
    r = org.responses
    tables = {**org.tables, "responses": r.loc[~((r.silo == "partners") & (r.instrument == "nps"))]}
    ctx = _context(tables, min_n=5)
    units = ctx.comparisons["partner"].estimates.set_index("estimator")["n_units"]
    assert (units["siloed"], units["unified"]) == (0, 4)
    assert ctx.comparison_hidden("partner")
    assert ctx.count("svu_unified:partner") is None
    page = parse(_laid_out(ctx, overview))
    assert kpi(page, INSTRUMENT["partner"])[1] == "suppressed"
    for role in ("customer", "worker"):
        assert not ctx.comparison_hidden(role)
        unified = ctx.comparisons[role].estimates.set_index("estimator").loc["unified"]
        assert kpi(page, INSTRUMENT[role])[1] == signed(unified["estimate"])
        assert ctx.count(f"svu_unified:{role}") == int(unified["n_units"])
