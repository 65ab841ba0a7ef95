"""The "Response rates and weights" section: AAPOR response rates by survey and role and
the NPS of invited respondents unweighted and weighted, against the public API on the
sample; suppression in a small report with invitations; an input without invitations.

The sample report is built once per run (conftest.py); every number is recomputed
through the public functions and looked up as the page formats it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.measures.nps import nps
from hxmetrics.measures.response_rates import (
    kish_design_effect,
    rake,
    response_rates,
    with_weights,
)
from hxmetrics.report import Report, build_report, default_as_of
from hxmetrics.report.main import DEFAULT_SEED
from hxmetrics.report.sections import Context, response
from hxmetrics.tables import ROLE_OF_SILO, validate
from tests.report.html_page import Page, parse, row, table

RATES = "Response rate (AAPOR RR1) by survey and role"
WEIGHTS = (
    "NPS of the answers linked to an invitation, unweighted and weighted "
    "(raked to the invited shares of each engagement kind)"
)
DASH = "–"


def signed(value: float) -> str:
    return "0.0" if abs(value) < 0.05 else f"{value:+.1f}"


def body(html: str, section_id: str) -> str:
    return html.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


@pytest.fixture(scope="module")
def page(sample_html: str) -> Page:
    return parse(body(sample_html, "response-rates"))


@pytest.fixture(scope="module")
def org() -> hx.datasets.Organisation:
    return hx.load_sample()


def invited(org: hx.datasets.Organisation) -> pd.DataFrame:
    """Invitations with the role and the engagement kind at the invitation (pooled)."""
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    inv = registry.attribute(org.invitations, time="sent")
    inv["role"] = inv["silo"].map(ROLE_OF_SILO)
    kind = pd.Series("unknown", index=inv.index, dtype=object)
    for role in ROLE_OF_SILO.values():
        mine = (inv["role"] == role) & inv[f"{role}_engagement"].notna()
        kind[mine] = inv.loc[mine, f"{role}_engagement"].astype(str)
    kind = inv["role"] + ": " + kind.astype(str)
    # Kinds with fewer than 30 invitations pooled per role (docs/measures_response_rates.md).
    size = kind.map(kind.value_counts())
    inv["engagement_group"] = kind.where(size >= 30, inv["role"] + ": other")
    return inv


def test_rates_against_the_api(page, org):
    inv = invited(org)
    result = response_rates(inv, org.responses, by=["instrument", "role"])
    tab = table(page, RATES)
    assert len(tab["rows"]) == len(result) == 3
    for r in result.itertuples(index=False):
        cells = next(c for c in tab["rows"] if c[1] == r.role)
        assert cells == [
            r.instrument,
            r.role,
            f"{r.n:,}",
            f"{r.complete:,}",
            f"{r.estimate:.1f}",
            f"{r.ci_low:.1f}",
            f"{r.ci_high:.1f}",
        ]
    # docs/measures_response_rates.md quotes these (customers 847 invited, 88 answered).
    assert next(c for c in tab["rows"] if c[1] == "customer")[2:] == [
        "847",
        "88",
        "10.4",
        "8.5",
        "12.6",
    ]


def test_weighted_nps_against_the_api(page, org):
    inv = invited(org)
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    answers = registry.attribute(org.responses)
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLE_OF_SILO.values():
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    ltr = answers[
        (answers["attribution"] == "ok").to_numpy()
        & held
        & (answers["instrument"] == "nps").to_numpy()
        & (answers["item"] == "ltr").to_numpy()
    ]
    group = inv.set_index("invitation_id")["engagement_group"]
    ltr = ltr[ltr["invitation_id"].isin(group.index)]
    ltr = ltr.assign(engagement_group=ltr["invitation_id"].map(group))
    # On the sample every pooled group has at least min_n (5) invitations and answers,
    # so the report pools no further.
    assert ltr["engagement_group"].value_counts().min() >= 5
    shares = inv["engagement_group"].value_counts(normalize=True).to_dict()
    w = rake(ltr[["response_id", "engagement_group"]], {"engagement_group": shares})
    weighted = with_weights(ltr, w)
    tab = table(page, WEIGHTS)
    for name, part in [("everyone", weighted), *weighted.groupby("role")]:
        plain = nps(part, "score").iloc[0]
        adjusted = nps(part, "score", weights="weight").iloc[0]
        kish = kish_design_effect(part["weight"].to_numpy())
        assert row(tab, name) == [
            name,
            f"{len(part):,}",
            signed(plain["estimate"]),
            signed(plain["ci_low"]),
            signed(plain["ci_high"]),
            signed(adjusted["estimate"]),
            signed(adjusted["ci_low"]),
            signed(adjusted["ci_high"]),
            f"{kish['deff']:.2f}",
            f"{kish['n_eff']:,.0f}",
        ]
    # The sample's numbers: 587 invited answers, NPS -8.9 unweighted, -7.9 weighted.
    assert row(tab, "everyone")[1:3] == ["587", "-8.9"]
    assert row(tab, "everyone")[5] == "-7.9"
    assert row(tab, "everyone")[8] == "2.42"


def test_figures_have_alt_and_data(sample_html, page):
    section = body(sample_html, "response-rates")
    assert len(page.alts) == 2
    assert all(a and len(a.split()) >= 6 for a in page.alts)
    assert "lowest nps · customer at 10.4%" in page.alts[0]
    assert section.count("Data behind the figure") == 2
    assert "How to read this" in section


# -- suppression: a small organisation with invitations and a high min_n ----------------------
@pytest.fixture(scope="module")
def small() -> Page:
    org = hx.simulate_organisation(300, random_state=3, invitations=True)
    tables = {**org.tables, "invitations": org.invitations}
    parent = validate(tables["invitations"], table="invitations")
    checked = {
        t: parent
        if t == "invitations"
        else validate(
            v, table=t, **({"parents": {"invitations": parent}} if t == "responses" else {})
        )
        for t, v in tables.items()
    }
    # The whole plan (every section's numbers), then this section's layout only, so
    # that the test does not depend on the other sections' layouts.
    ctx = Context.build(
        checked,
        as_of=default_as_of(checked),
        min_n=10,
        keys=("email", "phone"),
        confidence=0.95,
        random_state=DEFAULT_SEED,
    )
    report = Report(title="Response")
    response.section(report, ctx)
    return parse(report.to_html())


def test_no_rate_or_weight_effect_for_a_hidden_group(small):
    rates = table(small, RATES)
    hidden = {c[1] for c in rates["rows"] if c[-1] == "suppressed"}
    shown = {c[1] for c in rates["rows"] if c[-1] != "suppressed"}
    # The setting must hide some roles (partners: 14 of 22 answered) and show one.
    assert hidden
    assert shown
    for cells in rates["rows"]:
        if cells[1] in hidden:
            assert cells[2:-1] == [DASH] * 5
    weights = table(small, WEIGHTS)
    for role in hidden:
        assert row(weights, role)[1:] == [*[DASH] * 9, "suppressed"]
    # The overall weighted NPS mixes every role's weights: hidden with any of them.
    assert row(weights, "everyone")[1:] == [*[DASH] * 9, "suppressed"]
    data = [t for t in small.tables if t["caption"] == ""]
    drawn = {c[1] for c in data[0]["rows"]} | {c[0] for c in data[1]["rows"]}
    assert not drawn & hidden
    assert all(role not in " ".join(a or "" for a in small.alts) for role in hidden)


# -- absent data ---------------------------------------------------------------------------------
def test_without_invitations_one_note():
    # A customers-only input (no invitations table): the whole report, built as usual.
    org = hx.simulate_organisation(300, random_state=3)
    responses = org.responses[org.responses["silo"] == "customers"]
    report = build_report({"customers": org.customers, "responses": responses})
    section = body(report.to_html(), "response-rates")
    assert section.count('class="note') == 1
    assert "No invitations in the data" in section
    assert "<table" not in section
    assert "<img" not in section
