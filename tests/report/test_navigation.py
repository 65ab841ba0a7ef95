"""Navigation on the sample report (issue 18 item 9): the sticky contents bar, every
figure's data behind a toggle, print-friendly CSS, one self-contained file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hxmetrics.plotting import new_figure
from hxmetrics.report import Report
from hxmetrics.report.sections import SECTIONS
from tests.report.html_page import parse
from tests.report.test_browser import ARGS, webdriver


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', page)


def test_the_contents_bar_lists_every_section_in_order(sample_html):
    nav = re.search(r'<nav id="contents" aria-label="Contents">(.*?)</nav>', sample_html, re.S)
    assert nav is not None
    hrefs = re.findall(r'<a href="#([^"]+)">', nav.group(1))
    assert hrefs == _sections(sample_html)
    assert len(hrefs) == len(SECTIONS)  # 14 on the sample
    # Before the main content, so that it sticks at the top while reading.
    assert sample_html.index('<nav id="contents"') < sample_html.index("<main>")
    css = re.search(r"<style>(.*?)</style>", sample_html, re.S).group(1)
    assert re.search(r"nav#contents\{position:sticky;top:0;", css)
    # Headings reached from the bar are not hidden under it.
    assert 'section,[id^="g-"]{scroll-margin-top:' in css


def test_every_figure_has_its_data_behind_a_toggle(sample_html):
    # The check a report can run on itself: Report.figures_without_data() == []; on the
    # page, each figure is followed by its "Data behind the figure" table.
    figures = sample_html.count("<figure>")
    with_data = len(
        re.findall(
            r'</figure><details class="figure-data"><summary>Data behind the figure</summary>'
            r'<div class="table-wrap"><table>',
            sample_html,
        )
    )
    # Seen on the sample: 32 figures, all with data.
    assert figures >= 9
    assert with_data == figures


def test_the_figures_of_the_three_sections_carry_the_numbers_drawn(sample_html):
    page = parse(sample_html)
    heads = [t["header"] for t in page.tables if t["caption"] == ""]
    # NPS by hybrid type (three roles), CSAT, the HX index, siloed vs unified, the waterfall.
    assert heads.count(["Hybrid type", "Answers", "NPS", "95% CI from", "to"]) == 3
    assert ["Hybrid type", "Answers", "CSAT %", "95% CI from", "to"] in heads
    assert ["Breakdown", "Group", "People", "HX index", "95% CI from", "to"] in heads
    assert ["Group", "Counted", "n", "NPS", "95% CI from", "to"] in heads
    assert ["Bar", "Points", "95% CI from", "to"] in heads


def test_print_css_and_one_self_contained_file(sample_html):
    css = re.search(r"<style>(.*?)</style>", sample_html, re.S).group(1)
    printed = css.split("@media print{", 1)[1]
    assert "nav#contents{display:none}" in printed
    # Toggles print open (browsers with ::details-content; others print the summary).
    assert "details::details-content{content-visibility:visible;display:block}" in printed
    assert "tr,figure,.kpi,.note" in printed
    assert "break-inside:avoid" in printed
    assert "color:#000" in printed
    assert "<script" not in sample_html
    assert re.findall(
        r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', sample_html
    ) == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]
    assert not re.search(r'(?:src|href)="(?!#|data:image/png;base64,)', sample_html)


# -- in a browser: the bar at three widths, toggles open on paper ----------------------------
@pytest.fixture(scope="module")
def chrome() -> Iterator[Callable[..., Any]]:
    # The window's size is set by each test (the bar at three widths).
    args = [a for a in ARGS if not a.startswith("--window-size")]
    with webdriver(args) as driver:

        def run(method: str, path: str, body: Any = None) -> Any:
            return driver.call(method, f"/session/{driver.session}{path}", body)

        yield run


def _fourteen_sections(path: Path) -> Path:
    report = Report(title="Navigation")
    for i in range(14):
        sec = report.add_section(
            f"s{i}",
            f"Section {i}: a long title like experience by role and hybrid type",
            intro="Some words. " * 80,
        )
        fig, ax = new_figure(3, 2)
        ax.plot([0, 1], [0, 1])
        sec.add_figure(
            fig,
            alt="A line that rises to the right.",
            data=pd.DataFrame({"x": [0, 1], "y": [0, 1]}),
        )
    return report.write(path)


def _script(run: Callable[..., Any], script: str) -> Any:
    return run("POST", "/execute/sync", {"script": script, "args": []})


def test_the_bar_stays_one_short_row_or_a_side_list_and_toggles_print_open(chrome, tmp_path):
    page = _fourteen_sections(tmp_path / "nav.html")
    nav = (
        "const n = document.getElementById('contents'), o = n.querySelector('ol');"
        "const r = n.getBoundingClientRect();"
        "return [getComputedStyle(n).position, r.height, o.scrollWidth > o.clientWidth,"
        " getComputedStyle(n).display];"
    )
    for width, position, scrolls in (
        (390, "sticky", True),
        (1280, "sticky", True),
        (1600, "fixed", False),
    ):
        chrome("POST", "/window/rect", {"width": width, "height": 900})
        chrome("POST", "/url", {"url": page.as_uri()})
        pos, height, overflow, _ = _script(chrome, nav)
        assert pos == position, width
        if position == "sticky":
            # 14 long titles: one row that scrolls sideways, never a tall wrapped block.
            assert height < 60, (width, height)
            assert overflow == scrolls
        # Still on screen after scrolling down (sticky or fixed).
        _script(chrome, "window.scrollTo(0, document.body.scrollHeight / 2);")
        top = _script(
            chrome, "return document.getElementById('contents').getBoundingClientRect().top;"
        )
        assert 0 <= top < 40, (width, top)
    shown = "return document.querySelector('details.figure-data table').checkVisibility();"
    assert _script(chrome, shown) is False  # a closed toggle on screen
    chrome(
        "POST",
        "/goog/cdp/execute",
        {"cmd": "Emulation.setEmulatedMedia", "params": {"media": "print"}},
    )
    assert _script(chrome, shown) is True  # open on paper
    assert _script(chrome, nav)[3] == "none"  # no bar on paper
