"""The "Distributions, items and drivers" section: its numbers against the public API on
the sample, its figures (alt text and data behind each), suppression of a hidden role
in a small report, and absent data.

The sample report is built once per run (``sample_report`` in conftest.py); every number
checked here is recomputed through the public functions and looked up in the page exactly
as the section formats it.
"""

from __future__ import annotations

import re
from html import escape as html_escape

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.instruments import load_bank
from hxmetrics.report import build_report, sections
from hxmetrics.report import main as report_main
from hxmetrics.report.main import DEFAULT_SEED
from hxmetrics.report.sections import distributions
from hxmetrics.report.sections.distributions import CATEGORIES
from hxmetrics.tables import ROLE_OF_SILO
from tests.report.html_page import Page, parse, row, table

ROLES = ("customer", "worker", "partner")
NAME = {"customer": "customers", "worker": "workers", "partner": "partners"}
ITEMS = [f"hx{i}" for i in range(1, 7)]
MIN_N = 5  # the report's default min_n
SCORE_HEADER = ["Role", "Score", "Answers", "Share %"]
SPLIT_HEADER = ["Role", "Category", "Answers", "Share %"]
QUADRANT_HEADER = ["Question", "Importance", "95% CI from", "to", "Performance", "Quadrant"]


def body(html: str) -> str:
    """The section's HTML (between its opening tag and the next section's)."""
    return html.split('<section id="distributions"', 1)[1].split("</section>", 1)[0]


def tables_with(page: Page, header: list[str]) -> list[dict]:
    return [t for t in page.tables if t["header"] == header]


@pytest.fixture(scope="module")
def html(sample_html: str) -> str:
    return body(sample_html)


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return parse(html)


@pytest.fixture(scope="module")
def used() -> pd.DataFrame:
    """The sample's used answers (attributed, role held when answering), via the API."""
    org = hx.load_sample()
    registry = hx.StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    answers = registry.attribute(org.responses)
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLES:
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    return answers[(answers["attribution"] == "ok").to_numpy() & held].reset_index(drop=True)


def nps_rows(used: pd.DataFrame) -> pd.DataFrame:
    return used[(used["instrument"] == "nps") & (used["item"] == "ltr")]


def core_rows(used: pd.DataFrame) -> pd.DataFrame:
    return used[(used["instrument"] == "hx_core") & used["item"].isin(ITEMS)]


# -- the 0-10 answers and the promoter split ---------------------------------------------------
def test_score_bars_show_the_counts_and_hide_small_scores(html, page, used):
    (data,) = tables_with(page, SCORE_HEADER)
    shown = {(r[0], int(r[1])): r for r in data["rows"]}
    counts = pd.crosstab(nps_rows(used)["role"], nps_rows(used)["score"].astype(int))
    hidden = []
    for role in ROLES:
        total = int(counts.loc[role].sum())
        for category, scores in CATEGORIES.items():
            gone = []
            for score in scores:
                n = int(counts.loc[role].get(score, 0))
                cells = shown.get((NAME[role], score))
                if cells is None:
                    gone.append(n)
                    continue
                assert cells[2:] == [f"{n:,}", f"{100 * n / total:.1f}"]
                # A shown count is never below the minimum (zeros hold no one).
                assert n == 0 or n >= MIN_N
            # Within a category, never one score hidden alone, never a small union.
            assert len(gone) != 1, (role, category)
            assert not gone or sum(gone) >= MIN_N, (role, category)
            hidden += [(role, n) for n in gone]
    # The sample's partners gave 2 answers of 1: hidden, with a neighbour.
    assert ("partner", 2) in hidden
    assert (NAME["partner"], 1) not in shown
    # The page's text (glossary links wrap terms such as "suppressed" in tags).
    assert f"{len(hidden)} suppressed score(s) have no bar" in re.sub(r"<[^>]+>", "", html)


def test_promoter_split_matches_nps(page, used):
    result = hx.nps(nps_rows(used), "score", by="role")
    (split,) = tables_with(page, SPLIT_HEADER)
    rows = {(r[0], r[1]): r for r in split["rows"]}
    assert len(rows) == 9
    for r in result.itertuples(index=False):
        promoters = rows[(NAME[r.role], "Promoters (9-10)")]
        detractors = rows[(NAME[r.role], "Detractors (0-6)")]
        passives = rows[(NAME[r.role], "Passives (7-8)")]
        assert promoters[3] == f"{r.pct_promoters:.1f}"
        assert detractors[3] == f"{r.pct_detractors:.1f}"
        counts = [int(x[2].replace(",", "")) for x in (promoters, passives, detractors)]
        assert sum(counts) == r.n
        assert counts[0] == round(r.pct_promoters * r.n / 100)


# -- item means --------------------------------------------------------------------------------
def test_item_means_match_mean_score(page, used):
    result = hx.mean_score(core_rows(used), "score", by=["role", "item"])
    tab = table(page, "Core questions: mean score by role")
    assert tab["header"] == ["Role", "Question", "Answers", "Mean", "95% CI from", "to"]
    cells = {(r[0], r[1]): r for r in tab["rows"]}
    assert len(cells) == 18
    for r in result.itertuples(index=False):
        assert cells[(NAME[r.role], r.item)][2:] == [
            f"{r.n:,}",
            f"{r.estimate:.2f}",
            f"{r.ci_low:.2f}",
            f"{r.ci_high:.2f}",
        ]
    # The sample's means are 3.03 (workers' hx6) to 3.63 (partners' hx5).
    assert cells[("workers", "hx6")][3] == "3.03"
    assert cells[("partners", "hx5")][3] == "3.63"


def test_item_differences_are_those_whose_intervals_are_apart(html, used):
    result = hx.mean_score(core_rows(used), "score", by=["role", "item"])
    expected = []
    for item in ITEMS:
        part = result[result["item"] == item].to_dict("records")
        for i, a in enumerate(part):
            for b in part[i + 1 :]:
                hi, lo = (a, b) if a["estimate"] > b["estimate"] else (b, a)
                if lo["ci_high"] < hi["ci_low"]:
                    expected.append(f"{item}: {NAME[hi['role']]} above {NAME[lo['role']]}")
    assert expected, "the sample's roles differ on some core questions"
    said = re.search(r"do not overlap \(among the means shown\): (.*?)\. Other", html)
    assert said is not None
    assert sorted(said.group(1).split("; ")) == sorted(expected)


# -- key drivers -------------------------------------------------------------------------------
def test_key_drivers_match_the_measure(page, used):
    both = pd.concat([nps_rows(used), core_rows(used)], ignore_index=True)
    wide = hx.driver_table(both, ("nps", "ltr"), "hx_core", by="role")
    wide = wide.dropna(subset=["ltr", *ITEMS])
    # One decomposition per role (each role's bootstrap seeded alike).
    result = pd.concat(
        [
            hx.key_drivers(
                wide[wide["role"] == role].reset_index(drop=True),
                "ltr",
                ITEMS,
                method="shapley",
                random_state=DEFAULT_SEED,
            ).assign(role=role)
            for role in ROLES
        ],
        ignore_index=True,
    )
    for role, part in result.groupby("role"):
        first = part.iloc[0]
        caption = (
            f"Key drivers for {NAME[role]}: {int(first['n']):,} respondents, R² "
            f"{first['r2']:.3f} ({first['r2_ci_low']:.3f} to {first['r2_ci_high']:.3f})"
        )
        tab = table(page, caption)
        assert tab["header"] == [
            "Question",
            "Importance",
            "95% CI from",
            "to",
            "% of R²",
            "Rank",
            "Rank could be",
            "Performance",
            "Quadrant",
        ]
        weight = part["estimate"].to_numpy(float)
        mean = part["driver_mean"].to_numpy(float)
        for r in part.itertuples(index=False):
            high_w = r.estimate >= np.median(weight)
            high_m = r.driver_mean >= np.median(mean)
            quadrant = {
                (True, False): "act first",
                (True, True): "keep up",
                (False, False): "low priority",
                (False, True): "maintain",
            }[(bool(high_w), bool(high_m))]
            assert row(tab, r.driver)[1:] == [
                f"{r.estimate:.3f}",
                f"{r.ci_low:.3f}",
                f"{r.ci_high:.3f}",
                f"{r.pct_of_r2:.1f}",
                str(r.rank),
                f"{r.rank_low}-{r.rank_high}",
                f"{r.driver_mean:.2f}",
                quadrant,
            ]
        # Rows are in rank order: the first is the most important.
        assert tab["rows"][0][5] == "1"
    # On the sample hx1 leads in every role (docs/measures_drivers.md).
    assert (result.loc[result["rank"] == 1, "driver"] == "hx1").all()


# -- figures -----------------------------------------------------------------------------------
def test_every_figure_has_alt_text_and_its_data(html, page):
    # 0-10 bars, promoter split, item means, one quadrant per role.
    assert len(page.alts) == 6
    assert all(alt and len(alt.split()) >= 6 for alt in page.alts)
    assert html.count("<figure>") == html.count("Data behind the figure") == 6
    assert len(tables_with(page, QUADRANT_HEADER)) == 3
    assert any(a.startswith("Bar chart of the 0-10 answers") for a in page.alts)
    assert any(a.startswith("Stacked bars of promoters") for a in page.alts)
    quadrants = [a for a in page.alts if a.startswith("Importance x performance quadrant")]
    assert [re.search(r"for (\w+):", a).group(1) for a in quadrants] == [
        "customers",
        "workers",
        "partners",
    ]


def test_how_to_read_and_intro(html):
    intro = re.search(r'<div class="intro"><p>(.*?)</p>', html)
    assert intro is not None
    assert len(intro.group(1).split()) >= 20
    assert "How to read this" in html
    # The questions as worded in the built-in bank (the sample's instrument).
    bank = load_bank("core")
    for item in ITEMS:
        wording = html_escape(bank.item("hx_core", item).wording)
        assert f"<li>{item}: {wording}</li>" in html


# -- suppression in a small report ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> tuple[Page, str]:
    """A small organisation with a minimum high enough to hide its partners (22 answers)."""
    org = hx.simulate_organisation(300, random_state=3)
    html = alone(dict(org.tables), min_n=25)
    return parse(html), html


def alone(tables: dict[str, pd.DataFrame], *, min_n: int = MIN_N) -> str:
    """This section's HTML in a report of the core plan and this section only.

    The other sections (tested in their own files) are left out, so that what this
    section does with a hidden role or absent answers is checked on its own; the full
    report on the sample (above) has them all.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sections, "PLANS", (distributions.plan,))
        patch.setattr(report_main, "SECTIONS", (("Distributions", distributions.section),))
        return body(build_report(tables, min_n=min_n).to_html())


def test_a_hidden_role_has_no_bar_no_item_means_no_quadrant(small):
    page, html = small
    assert re.search(r"Suppressed \(too few answers[^<]*: the answers of [^<]*partners", html)
    (split,) = tables_with(page, SPLIT_HEADER)
    bars = {r[0] for r in split["rows"]}
    assert "partners" not in bars
    scores = tables_with(page, SCORE_HEADER)
    assert all(r[0] != "partners" for t in scores for r in t["rows"])
    assert not any("partners" in (a or "") for a in page.alts)
    means = table(page, "Core questions: mean score by role")
    partner_rows = [r for r in means["rows"] if r[0] == "partners"]
    assert partner_rows
    assert all(r[-1] == "suppressed" and r[3] == "–" for r in partner_rows)
    assert not any(t["caption"].startswith("Key drivers for partners") for t in page.tables)
    assert "No key drivers for partners" in html or "Key drivers suppressed" in html
    # Every shown count in the section respects the minimum.
    for tab in page.tables:
        if "Answers" in tab["header"]:
            at = tab["header"].index("Answers")
            for cells in tab["rows"]:
                if cells[at] not in ("–", "0"):
                    assert int(cells[at].replace(",", "")) >= 25, (tab["caption"], cells)


def test_a_role_with_few_respondents_gets_no_drivers(small):
    _, html = small
    # Ten complete respondents per question, six questions: 60 (above min_n=25).
    assert f"at least {10 * len(ITEMS)} are needed" in html


# -- absent data ---------------------------------------------------------------------------------
def _without(instruments: set[str]) -> str:
    org = hx.simulate_organisation(300, random_state=3)
    tables = dict(org.tables)
    responses = tables["responses"]
    tables["responses"] = responses[~responses["instrument"].isin(instruments)]
    return alone(tables)


def test_no_nps_and_no_core_answers_is_one_note():
    html = _without({"nps", "hx_core"})
    assert html.count('class="note') == 1
    assert "No answers to the recommend question" in html
    assert "<figure>" not in html
    assert "<table" not in html


def test_no_core_answers_keeps_the_distribution():
    html = _without({"hx_core"})
    assert "No answers to the core questions" in html
    assert html.count("<figure>") == 2  # the 0-10 bars and the promoter split
    assert "Key drivers" not in html.split("No answers to the core questions", 1)[1]
    # This organisation's 22 partners hold 4 promoters: their split gets no bar, and
    # no count below the minimum is shown anywhere in the section.
    assert "The promoter split of partners is partly suppressed" in html
    page = parse(html)
    (split,) = tables_with(page, SPLIT_HEADER)
    assert {r[0] for r in split["rows"]} == {"customers", "workers"}
    # The partners' split is listed with its hidden categories marked, shown ones kept.
    (partial,) = [t for t in page.tables if t["caption"].startswith("Promoter split of the roles")]
    assert {r[0] for r in partial["rows"]} == {"partners"}
    assert any(r[-1] == "suppressed" for r in partial["rows"])
    for tab in page.tables:
        at = tab["header"].index("Answers")
        for cells in tab["rows"]:
            if cells[-1] == "suppressed":
                assert cells[at] == "–", cells
                continue
            n = int(cells[at].replace(",", ""))
            assert n == 0 or n >= MIN_N, cells


def test_a_role_whose_drivers_cannot_be_told_apart_leaves_the_others():
    org = hx.simulate_organisation(300, random_state=3)
    responses = org.responses.copy()
    flat = (
        (responses["silo"] == "workers")
        & (responses["instrument"] == "hx_core")
        & (responses["item"] == "hx3")
    )
    responses.loc[flat, "score"] = 3.0
    html = alone({**org.tables, "responses": responses})
    assert "No key drivers for workers: the questions cannot be told apart" in html
    page = parse(html)
    captions = [t["caption"] for t in page.tables if t["caption"].startswith("Key drivers")]
    assert len(captions) == 1
    assert captions[0].startswith("Key drivers for customers:")
