"""The report's "Trends" section: each headline measure per quarter, its change, a control
chart; suppression of small periods; repeatability; absent data.

Numbers are recomputed through the public API (:func:`hxmetrics.measures.trends.trend`
and :func:`~hxmetrics.measures.trends.control_chart` on the used answers, attributed as
tests/report/test_main.py does) and compared with the page's cells as it formats them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
import hxmetrics.report.main as report_main
from hxmetrics.measures._inference import holm
from hxmetrics.measures.privacy import WORKER_MIN_N
from hxmetrics.measures.trends import control_chart, trend
from hxmetrics.report import build_report
from hxmetrics.report.sections import trends
from hxmetrics.tables import ROLE_OF_SILO
from tests.report.html_page import parse

RECENT = 8
# label, instrument, item, role (None: every used answer), measure options, estimate
# decimals, whether the estimate carries a sign (NPS) — as the page formats them.
SERIES = [
    ("Customer NPS", "nps", "ltr", "customer", {}, 1, True),
    ("Employee NPS (eNPS)", "nps", "ltr", "worker", {}, 1, True),
    ("Partner NPS", "nps", "ltr", "partner", {}, 1, True),
    ("CSAT", "csat", "overall", None, {"scale": (1, 5), "box": (4, 5)}, 1, False),
    ("CES", "ces", "effort", None, {"scale": (1, 7), "polarity": "higher_is_easier"}, 2, False),
]
DASH = "–"


def fixed(value: float, decimals: int, sign: bool) -> str:
    """A number as the page shows it: signed ones lose their sign when they round to 0."""
    if sign:
        if abs(value) < 0.5 * 10.0**-decimals:
            return f"{0.0:.{decimals}f}"
        return f"{value:+.{decimals}f}"
    return f"{value:.{decimals}f}"


def p_text(value: float) -> str:
    return "<0.001" if value < 0.0005 else f"{value:.3f}"


def section_html(document: str) -> str:
    return document.split('<section id="trends"', 1)[1].split("</section>", 1)[0]


def used_answers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The answers the report uses: attributed, the surveying role held at the time."""
    registry = hx.StakeholderRegistry.from_rosters(
        **{k: tables[k] for k in ("customers", "workers", "partners") if k in tables}
    )
    answers = registry.attribute(tables["responses"])
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLE_OF_SILO.values():
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    return answers[(answers["attribution"] == "ok").to_numpy() & held]


def api_trend(used: pd.DataFrame, spec: tuple, period: str = "Q") -> pd.DataFrame:
    _, instrument, item, role, options, _, _ = spec
    rows = used[(used["instrument"] == instrument) & (used["item"] == item)]
    if role is not None:
        rows = rows[rows["role"] == role]
    return trend(rows, instrument, period=period, **options)


def pairs(document: str) -> dict[str, tuple[dict | None, dict]]:
    """Per measure: the figure's data table and the recent table after it."""
    page = parse(section_html(document))
    out = {}
    for i, tab in enumerate(page.tables):
        match = re.fullmatch(r"(.+) by quarter: the last \d+ quarters", tab["caption"].strip())
        if match:
            # The data behind the figure come just before (no figure: no data table).
            data = page.tables[i - 1] if i and page.tables[i - 1]["caption"] == "" else None
            out[match.group(1)] = (data, tab)
    return out


def blanked(result: pd.DataFrame, hidden: set[str]) -> pd.DataFrame:
    """The trend with hidden periods' estimates removed: what the chart may use."""
    out = result.copy()
    mask = out["period"].astype("str").isin(hidden).to_numpy()
    out.loc[mask, "estimate"] = np.nan
    out["suppressed"] = mask
    out.attrs["hxmetrics"] = result.attrs["hxmetrics"]
    return out


def check_measure(
    spec: tuple, result: pd.DataFrame, data: dict | None, recent: dict, min_n: int
) -> set:
    """Every cell of one measure's two tables against the trend; returns hidden periods."""
    *_, decimals, sign = spec
    labels = result["period"].astype("str").tolist()
    n = result["n"].to_numpy(dtype=float)
    answered = {p for p, k in zip(labels, n, strict=True) if k > 0}
    # The figure's data table holds every period; the recent table the last eight.
    assert [r[0] for r in recent["rows"]] == labels[-RECENT:]
    in_recent = {r[0] for r in recent["rows"] if r[-1] == "suppressed"}
    if data is None:
        # No chart: fewer than two quarters with a shown estimate (all of them are in
        # the recent table then, or the older ones are hidden).
        shown = {r[0] for r in recent["rows"] if r[2] != DASH}
        assert len(shown) < 2
        hidden = answered - shown
    else:
        assert [r[0] for r in data["rows"]] == labels
        hidden = {r[0] for r in data["rows"] if r[-1] == "suppressed"}
    assert in_recent == hidden & set(labels[-RECENT:])
    # Primary suppression: every period with answers but fewer than min_n is hidden.
    assert {p for p, k in zip(labels, n, strict=True) if 0 < k < min_n} <= hidden
    rows = [] if data is None else data["rows"]
    chart = control_chart(blanked(result, hidden), method="laney") if rows else None
    for i, cells in enumerate(rows):
        if cells[0] in hidden:
            assert cells[1:9] == [DASH] * 7 + [""], cells
            continue
        r = result.iloc[i]
        assert cells[1] == f"{int(r['n']):,}"
        if int(r["n"]) == 0:
            assert cells[2:9] == [DASH] * 6 + [""], cells
            continue
        assert chart is not None
        c = chart.table.iloc[i]
        assert cells[2:8] == [
            fixed(r["estimate"], decimals, sign),
            fixed(r["ci_low"], decimals, sign),
            fixed(r["ci_high"], decimals, sign),
            fixed(c["centre"], decimals, sign),
            fixed(c["lcl"], decimals, sign),
            fixed(c["ucl"], decimals, sign),
        ], cells
        assert cells[8] == ("yes" if c["signal"] else "no")
    window = result.iloc[-RECENT:].reset_index(drop=True)
    # The recent table names the rules a shown quarter's chart point breaks.
    for i, cells in enumerate(recent["rows"]):
        at = len(labels) - len(recent["rows"]) + i
        broken = []
        if chart is not None and cells[0] not in hidden:
            broken = [
                text
                for rule, text in (
                    ("beyond_limits", "outside the limits"),
                    ("run_of_8", "run of 8"),
                )
                if chart.table[f"signal_{rule}"].iloc[at]
            ]
        assert cells[8] == (f"signal ({', '.join(broken)})" if broken else ""), cells
    previous = result["period"].astype("str").shift(1).iloc[-RECENT:].tolist()
    raw = np.array(
        [
            p if (cur not in hidden and prev not in hidden) else np.nan
            for p, cur, prev in zip(
                window["change_p_value"], window["period"].astype("str"), previous, strict=True
            )
        ]
    )
    adjusted = holm(raw)
    for i, cells in enumerate(recent["rows"]):
        if cells[0] in hidden:
            assert cells[1:9] == [DASH] * 6 + ["", ""], cells
            continue
        r = window.iloc[i]
        assert cells[1] == f"{int(r['n']):,}"
        if int(r["n"]) == 0:
            assert cells[2:5] == [DASH] * 3, cells
        else:
            assert cells[2:5] == [
                fixed(r[c], decimals, sign) for c in ("estimate", "ci_low", "ci_high")
            ], cells
        if np.isnan(raw[i]):
            # No change: the first period, an empty one, or one after a hidden period.
            assert cells[5:8] == [DASH, DASH, ""], cells
        else:
            assert cells[5:8] == [
                fixed(r["change"], decimals, True),
                p_text(adjusted[i]),
                "yes" if adjusted[i] < 0.05 else "no",
            ], cells
    return hidden


# -- the sample -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_used() -> pd.DataFrame:
    return used_answers(hx.load_sample().tables)


def test_sample_trends_match_the_measure(sample_html, sample_used):
    found = pairs(sample_html)
    assert list(found) == [s[0] for s in SERIES]
    hidden_total = 0
    for spec in SERIES:
        result = api_trend(sample_used, spec)
        data, recent = found[spec[0]]
        hidden_total += len(check_measure(spec, result, data, recent, WORKER_MIN_N))
    # The sample has small quarters (partners give about five answers a quarter).
    assert hidden_total > 0
    body = section_html(sample_html)
    assert "shown by quarter" in body
    assert f"the last {RECENT} quarters" in body
    assert "Holm" in body


def test_sample_figures_say_their_finding(sample_html):
    page = parse(section_html(sample_html))
    assert len(page.alts) == len(SERIES)
    for alt, spec in zip(page.alts, SERIES, strict=True):
        assert alt is not None
        assert alt.startswith(f"Control chart of {spec[0]} by quarter")
        # The finding: on the sample no quarter is outside its limits or in a long run
        # (the recent tables' signal column is checked against control_chart above; a
        # planted shift is named by test_a_planted_shift_is_a_signal).
        assert "no quarter signals a shift" in alt, alt
        assert len(alt.split()) >= 6


def test_period_follows_the_span():
    days = pd.Series(pd.to_datetime(["2024-01-03", "2026-12-30"]))
    assert trends.choose_period(days) == "M"  # 36 months
    assert trends.choose_period(pd.Series(pd.to_datetime(["2019-01-10", "2025-12-30"]))) == "Q"
    assert trends.choose_period(pd.Series(pd.to_datetime(["1990-01-01", "2025-12-30"]))) == "Y"


# -- suppression: a small organisation with a high min_n -------------------------------------
MIN_N = 8


def trends_only(tables: dict[str, pd.DataFrame], **options: object) -> str:
    """The report's own pipeline (checks, stakeholders, core plan) with this section alone."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("hxmetrics.report.sections.PLANS", (trends.plan,))
        mp.setattr(report_main, "SECTIONS", (("Trends", trends.section),))
        # options is a plain dict of keyword arguments (min_n=...): mypy cannot type it.
        return build_report(tables, **options).to_html()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return dict(hx.simulate_organisation(300, random_state=3).tables)


@pytest.fixture(scope="module")
def small_html(small) -> str:
    return trends_only(small, min_n=MIN_N)


def test_small_periods_are_hidden_with_no_change_or_chart_point(small, small_html):
    used = used_answers(small)
    found = pairs(small_html)
    assert found, "the small organisation has at least one measure to chart"
    hidden_all = 0
    for spec in SERIES:
        if spec[0] not in found:
            continue
        result = api_trend(used, spec)
        data, recent = found[spec[0]]
        hidden = check_measure(spec, result, data, recent, MIN_N)
        hidden_all += len(hidden)
        # The chart's centre comes from the shown quarters alone: with the hidden ones
        # it would differ.
        if data is not None and hidden:
            everything = control_chart(result, method="laney")
            shown_only = control_chart(blanked(result, hidden), method="laney")
            assert everything.centre != shown_only.centre
        # The change of a quarter after a hidden one is not shown.
        labels = result["period"].astype("str").tolist()
        for cells in recent["rows"]:
            at = labels.index(cells[0])
            if at and labels[at - 1] in hidden:
                assert cells[5] == DASH
    assert hidden_all > 0
    body = section_html(small_html)
    alts = parse(body).alts
    for alt in alts:
        assert alt is not None
        assert "shown quarters" in alt
    assert "are suppressed across the measures" in body
    # A measure with no shown quarter is one sentence, not a table of dashes; one with a
    # single shown quarter has its table but no chart.
    assert "Partner NPS" not in found
    assert f"Every quarter of Partner NPS with answers is suppressed (fewer than {MIN_N}" in body
    assert found["Employee NPS (eNPS)"][0] is None
    assert "Fewer than two quarters of Employee NPS (eNPS) can be shown" in body


def test_a_planted_shift_is_a_signal(small):
    # Every effort answer of 2025 is the worst (1 of 7): CES falls from about 5.3 to 1,
    # far outside the limits of a stable process.
    tables = dict(small)
    responses = tables["responses"].copy()
    late = (responses["item"] == "effort") & (responses["timestamp"] >= "2025-01-01")
    responses.loc[late, "score"] = 1.0
    tables["responses"] = responses
    document = trends_only(tables, min_n=3)
    spec = SERIES[-1]
    result = api_trend(used_answers(tables), spec)
    data, recent = pairs(document)["CES"]
    hidden = check_measure(spec, result, data, recent, 3)
    shown_2025 = [r for r in recent["rows"] if r[0].startswith("2025") and r[0] not in hidden]
    assert shown_2025
    assert all(r[8].startswith("signal (outside the limits") for r in shown_2025)
    alt = next(a for a in parse(section_html(document)).alts if a and "of CES" in a)
    assert "signal a shift: " in alt
    assert all(r[0] in alt for r in shown_2025)


def test_the_section_is_repeatable(small, small_html):
    assert section_html(trends_only(small, min_n=MIN_N)) == section_html(small_html)


# -- absent data ----------------------------------------------------------------------------
@pytest.mark.parametrize("what", ["no responses", "no NPS, CSAT or CES", "one month"])
def test_absent_answers_give_one_note(small, what):
    tables = {k: small[k] for k in ("customers", "workers", "partners")}
    responses = small["responses"]
    if what == "no NPS, CSAT or CES":
        keep = ~responses["instrument"].isin(["nps", "csat", "ces"])
        tables["responses"] = responses.loc[keep].reset_index(drop=True)
    elif what == "one month":
        # Every answer of the last month of 2025: one period, no change to show.
        late = responses["timestamp"] >= "2025-12-01"
        tables["responses"] = responses.loc[late].reset_index(drop=True)
    body = section_html(trends_only(tables))
    page = parse(body)
    assert page.tables == []
    assert page.alts == []
    assert body.count('class="note') == 1
    if what == "one month":
        assert "falls in one month: there is no change to show" in body
    else:
        assert "No dated NPS, CSAT or CES answers" in body
    intro = re.search(r'<div class="intro"><p>(.*?)</p>', body)
    assert intro is not None
    assert len(intro.group(1).split()) >= 20
