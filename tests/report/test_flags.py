"""Significance flags on the report's comparison tables (issue 18 item 7).

Each shown group is compared with its reference (no hybrid pattern; customers for the
HX index by role) with a Holm adjustment among the SHOWN rows only. The numbers are
recomputed through the public API (the measure, then ``compare_groups`` on the rows
the page shows) and looked up in the page as it formats them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.measures.privacy import WORKER_MIN_N
from hxmetrics.measures.segments import compare_groups
from hxmetrics.report import Report, build_report, default_as_of
from hxmetrics.report.main import DEFAULT_SEED
from hxmetrics.report.sections import experience, hybrid_name
from hxmetrics.report.sections.formatting import (
    FLAG_HIGHER,
    FLAG_LOWER,
    FLAG_NONE,
    FLAG_REFERENCE,
    compare_shown,
)
from hxmetrics.tables import ROLE_OF_SILO
from tests.report.html_page import Page, parse, table
from tests.report.unrendered import figures_unrendered

INSTRUMENT = {"customer": "Customer NPS", "worker": "Employee NPS (eNPS)", "partner": "Partner NPS"}
ITEMS = [f"hx{i}" for i in range(1, 7)]
FLAG = "Flag"


@pytest.fixture(scope="module")
def page(sample_html: str) -> Page:
    return parse(sample_html)


@pytest.fixture(scope="module")
def used() -> pd.DataFrame:
    """The sample's answers used by the report (linked, role held), via the public API."""
    return _used(hx.load_sample())


def _used(org) -> pd.DataFrame:
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    answers = registry.attribute(org.responses)
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLE_OF_SILO.values():
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    assert default_as_of(org.tables) is not None
    return answers[(answers["attribution"] == "ok").to_numpy() & held]


def signed(decimals: int):
    return lambda v: f"{v:+.{decimals}f}"


def p_text(p: float) -> str:
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def _check(
    tab: dict,
    result: pd.DataFrame,
    column: str,
    reference: str,
    *,
    name,
    diff_fmt,
    rows: list[list[str]] | None = None,
) -> pd.DataFrame:
    """The page's differences, adjusted p-values and flags against ``compare_groups``
    run on the rows the page shows (the Holm family is the shown comparisons)."""
    header = tab["header"]
    first = 1 if header[0] == "Breakdown" else 0
    at = {h: i for i, h in enumerate(header)}
    cells = {r[first]: r for r in (rows if rows is not None else tab["rows"])}
    hidden = {label for label in result[column] if cells[name(label)][-1] == "suppressed"}
    shown = result.loc[~result[column].isin(hidden)]
    shown.attrs = result.attrs
    compared = compare_groups(shown, reference=reference, correction="holm")
    assert len(compared) == len(shown) - 1 >= 1
    for r in compared.itertuples(index=False):
        row = cells[name(getattr(r, column))]
        assert row[at["Difference"]] == diff_fmt(r.difference)
        assert row[at["Adjusted p"]] == p_text(r.p_adjusted)
        expected = FLAG_NONE if not r.differs else FLAG_HIGHER if r.difference > 0 else FLAG_LOWER
        assert row[at[FLAG]] == expected
    ref = cells[name(reference)]
    assert [ref[at["Difference"]], ref[at["Adjusted p"]], ref[at[FLAG]]] == ["–", "–", "reference"]
    for label in hidden:  # a hidden group: no number, no difference, no p-value, no flag
        row = cells[name(label)]
        assert [row[at["Difference"]], row[at["Adjusted p"]], row[at[FLAG]]] == ["–", "–", ""]
    return compared


def test_csat_and_ces_flags_match_compare_groups_among_the_shown(page, used):
    csat = hx.csat(
        used[used["instrument"] == "csat"],
        "score",
        scale=(1, 5),
        box=(4, 5),
        by="hybrid_type",
        min_n=WORKER_MIN_N,
    )
    tab = table(page, "CSAT (top-2-box) by hybrid type")
    compared = _check(tab, csat, "hybrid_type", "none", name=hybrid_name, diff_fmt=signed(1))
    # Seen on the sample: worker & customer +6.4 points (Holm p 0.382), no clear difference.
    assert (compared["p_adjusted"] >= compared["p_value"]).all()
    ces = hx.ces(
        used[used["instrument"] == "ces"],
        "score",
        scale=(1, 7),
        polarity="higher_is_easier",
        by="hybrid_type",
        min_n=WORKER_MIN_N,
    )
    tab = table(page, "Customer effort (CES, mean of 1-7) by hybrid type")
    compared = _check(tab, ces, "hybrid_type", "none", name=hybrid_name, diff_fmt=signed(2))
    # Seen on the sample: former workers now customers find it easier (+0.66, p 0.006).
    assert compared["differs"].any()


def test_nps_by_hybrid_flags_match_compare_groups_among_the_shown(page, used):
    rows = used[used["instrument"] == "nps"]
    flagged = 0
    for role, label in INSTRUMENT.items():
        result = hx.nps(rows[rows["role"] == role], "score", by="hybrid_type", min_n=WORKER_MIN_N)
        tab = table(page, f"{label}: scores and differences from no hybrid pattern")
        compared = _check(tab, result, "hybrid_type", "none", name=hybrid_name, diff_fmt=signed(1))
        flagged += int(compared["differs"].sum())
    # Seen on the sample: worker & customer eNPS -21.9 points vs no hybrid pattern (p 0.002).
    assert flagged >= 1


def test_hx_index_flags_by_role_and_by_type(page, used):
    core = used[used["instrument"] == "hx_core"]
    # The report numbers the persons in the crosswalk's order before the index (its
    # pseudonyms are keyed by a secret drawn at every run, and the bootstrap's draws
    # follow the persons' order): the same here, so that the draws are the report's.
    codes = core["person_id"].cat.codes
    core = core.assign(person_id=pd.array(codes.where(codes >= 0), dtype="Int64"))
    tab = table(page, "HX index by role and by hybrid type")
    for column, reference, name in (
        ("role", "customer", str),
        ("hybrid_type", "none", hybrid_name),
    ):
        index = hx.hx_index(
            core, ITEMS, by=column, person="person_id", min_n=10, random_state=DEFAULT_SEED
        )
        part = [r for r in tab["rows"] if r[0] == ("role" if column == "role" else "hybrid type")]
        compared = _check(tab, index, column, reference, name=name, diff_fmt=signed(1), rows=part)
        if column == "role":
            # Seen on the sample: workers -5.3 points below customers (p < 0.001).
            worker = compared.set_index("role").loc["worker"]
            assert worker["differs"]
            assert worker["difference"] < 0


def test_every_flagged_table_says_what_the_flag_means(sample_html):
    body = sample_html.split('<section id="experience"', 1)[1].split("</section>", 1)[0]
    assert body.count("Flag: each group is compared with") == 1  # once
    assert "adjusted for the number of groups compared" in body
    hx_body = sample_html.split('<section id="hx-index"', 1)[1].split("</section>", 1)[0]
    assert "by role, each role is compared with customers" in hx_body


# -- suppression ------------------------------------------------------------------------------
def _result(hidden: set[str]) -> pd.DataFrame:
    """A CSAT-like result by hybrid type as the plan shows it (hidden rows blanked)."""
    frame = pd.DataFrame(
        {
            "measure": "csat",
            "hybrid_type": ["none", "worker_customer", "gig_worker", "partner_customer"],
            "n": [400.0, 120.0, 6.0, 60.0],
            "estimate": [70.0, 82.0, 40.0, 60.0],
            "se": [2.3, 3.5, 20.0, 6.3],
            "ci_low": [65.5, 75.1, 0.8, 47.6],
            "ci_high": [74.5, 88.9, 79.2, 72.3],
            "in_box": [280.0, 98.0, 2.0, 36.0],
            "suppressed": False,
        }
    )
    mask = frame["hybrid_type"].isin(hidden)
    frame.loc[mask, ["n", "estimate", "se", "ci_low", "ci_high", "in_box"]] = np.nan
    frame["suppressed"] = mask
    frame.attrs["hxmetrics"] = {"measure": "csat", "by": ["hybrid_type"], "estimate": "estimate"}
    return frame


def test_a_hidden_group_has_no_flag_and_leaves_the_holm_family():
    shown = compare_shown(_result({"gig_worker"}), "hybrid_type", "none", confidence=0.95)
    assert shown is not None
    row = shown.set_index("hybrid_type").loc["gig_worker"]
    assert np.isnan(row["difference"])
    assert np.isnan(row["p_adjusted"])
    assert row["flag"] == ""
    # The adjustment counts the two shown comparisons only: Holm of their raw p-values.
    visible = _result({"gig_worker"}).loc[lambda f: ~f["suppressed"]]
    visible.attrs = _result(set()).attrs
    raw = compare_groups(visible, reference="none", correction="none").set_index("hybrid_type")
    m = 2
    p = raw["p_value"].sort_values()
    expected = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * p.to_numpy()))
    got = shown.set_index("hybrid_type").loc[p.index, "p_adjusted"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Over all three groups, the hidden one would have raised the others' p-values.
    everyone = compare_shown(_result(set()), "hybrid_type", "none", confidence=0.95)
    assert everyone is not None
    assert (everyone.set_index("hybrid_type").loc[p.index, "p_adjusted"].to_numpy() > got).all()
    assert shown.set_index("hybrid_type").loc["none", "flag"] == FLAG_REFERENCE


def test_a_hidden_reference_shows_no_comparison():
    assert compare_shown(_result({"none"}), "hybrid_type", "none", confidence=0.95) is None

    class Ctx:  # what the table reads of the context: the interval's level
        confidence = 0.95

    report = Report(title="t")
    section = report.add_section("s", "S")
    experience._flagged_table(
        section,
        # A stand-in with only what _flagged_table reads, not a full Context.
        Ctx(),  # type: ignore[arg-type]
        _result({"none"}),
        ["group", "n", "in_box", "estimate", "ci_low", "ci_high"],
        caption="CSAT by hybrid type",
        labels={"group": "Hybrid type", "n": "Answers", "estimate": "CSAT %"},
        number_formats={},
    )
    page = parse(report.to_html())
    tab = table(page, "CSAT by hybrid type")
    assert FLAG not in tab["header"]
    assert "Difference" not in tab["header"]
    assert "Adjusted p" not in tab["header"]
    html = report.to_html()
    assert "that reference group, or every other group, is suppressed" in html
    for word in (FLAG_HIGHER, FLAG_LOWER, FLAG_NONE):
        assert word not in html


@pytest.fixture(scope="module")
def small():
    """A 600-person organisation with min_n 12: some hybrid groups hidden, others shown."""
    org = hx.simulate_organisation(600, random_state=3)
    tables = {k: v for k, v in org.tables.items() if k != "transactions"}
    # No pixels: the tests read the page's text and tables (see unrendered).
    with figures_unrendered():
        return _used(org), parse(build_report(tables, min_n=12).to_html())


def test_hidden_groups_in_a_real_report_have_no_flag_no_difference_and_no_mark(small):
    used, page = small
    rows = used[used["instrument"] == "nps"]
    result = hx.nps(rows[rows["role"] == "worker"], "score", by="hybrid_type", min_n=12)
    caption = "Employee NPS (eNPS): scores and differences from no hybrid pattern"
    tab = table(page, caption)
    hidden = [r[0] for r in tab["rows"] if r[-1] == "suppressed"]
    shown = [r[0] for r in tab["rows"] if r[-1] != "suppressed"]
    # Seen: 5 groups hidden; no hybrid pattern, worker & customer and boomerang shown.
    assert len(hidden) >= 1
    assert len(shown) >= 3
    # Holm over the shown comparisons only (checked cell by cell, hidden rows blank).
    compared = _check(tab, result, "hybrid_type", "none", name=hybrid_name, diff_fmt=signed(1))
    assert len(compared) == len(shown) - 1
    # The figure's data (the dots drawn) holds the shown groups only.
    at = next(i for i, t in enumerate(page.tables) if t["caption"] == caption)
    drawn = page.tables[at - 1]
    assert drawn["caption"] == ""
    assert drawn["header"][0] == "Hybrid type"
    assert sorted(r[0] for r in drawn["rows"]) == sorted(shown)
    # A table whose reference is shown but every other group hidden compares nothing.
    partner = table(page, "Partner NPS: scores and differences from no hybrid pattern")
    assert partner["rows"][0][0] == "no hybrid pattern"
    assert partner["rows"][0][-1] != "suppressed"
    assert all(r[-1] == "suppressed" for r in partner["rows"][1:])
    assert FLAG not in partner["header"]
    assert "Adjusted p" not in partner["header"]
