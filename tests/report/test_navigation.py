"""Navigation on the sample report (issue 18 item 9): the sticky contents bar, every
figure's data behind a toggle, print-friendly CSS, one self-contained file.
"""

from __future__ import annotations

import re

from hxmetrics.report.sections import SECTIONS
from tests.report.html_page import parse


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
