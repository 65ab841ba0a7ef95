"""The HTML report builder: determinism, self-containment, escaping, structure, writing."""

from __future__ import annotations

import base64
import os
import pickle
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

from hxmetrics.errors import ParameterError
from hxmetrics.plotting import figure_to_png, new_figure, plot_estimates
from hxmetrics.report import Kpi, PrivacyError, Report, find_external_urls
from hxmetrics.report.builder import Section, Term, settled_png
from tests.report import demo

ROOT = Path(__file__).resolve().parents[2]


class _Collect(HTMLParser):
    """Collect tags with attributes and the text of table cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def parse(document: str) -> _Collect:
    parser = _Collect()
    parser.feed(document)
    parser.close()
    return parser


def test_two_builds_with_figures_are_byte_identical(page):
    again = demo.build().to_html()
    assert page.count("data:image/png;base64,") == 3
    assert again.encode("utf-8") == page.encode("utf-8")


def test_another_process_writes_the_same_bytes(page, tmp_path):
    # A separate interpreter with another hash seed: nothing may depend on set or dict
    # iteration order, object ids or the clock.
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    env = {**os.environ, "PYTHONHASHSEED": seed, "MPLBACKEND": "Agg"}
    out = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "tests.report.demo", str(out)]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
    assert len(page) > 50_000
    assert out.read_bytes() == page.encode("utf-8")


def test_no_external_reference_of_any_kind(page):
    assert "http://" not in page
    assert "https://" not in page
    assert find_external_urls(page) == []
    tags = parse(page).tags
    for tag, attrs in tags:
        assert tag not in {"script", "link", "iframe", "object", "embed"}
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:image/png;base64,")), (tag, value)
    # The browser is told to refuse anything external as well.
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv")]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]


def test_table_of_contents_lists_every_section_in_order(page):
    tags = parse(page).tags
    toc = re.search(r'<nav id="contents".*?</nav>', page, re.S)
    assert toc is not None
    hrefs = [a["href"] for t, a in parse(toc.group()).tags if t == "a"]
    ids = [a["id"] for t, a in tags if t == "section"]
    assert hrefs == ["#overview", "#stakeholders", "#nps", "#tenure"]
    assert hrefs == [f"#{i}" for i in ids]
    assert len(set(a.get("id") for _, a in tags if a.get("id"))) == len(
        [a for _, a in tags if a.get("id")]
    )


def test_table_cells_are_escaped(page):
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "app &amp; web" in page
    cells = parse(page).cells
    assert "<script>alert(1)</script>" in cells


@given(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40))
def test_any_cell_text_round_trips_through_the_html(text):
    report = Report(title="t")
    report.add_section("s", "S").add_table(pd.DataFrame({"c": [text]}))
    cells = parse(report.to_html()).cells
    assert cells == [text]


def test_titles_notes_and_captions_are_escaped():
    report = Report(title="<b>T</b>", subtitle="a & b")
    sec = report.add_section("s", "<i>S</i>", intro="<img src=x>")
    sec.add_note("<u>note</u>")
    sec.add_table(pd.DataFrame({"<th>": [1]}), caption="<cap>")
    html = report.to_html()
    for raw in ("<b>T", "<i>S", "<img src=x", "<u>", "<th>", "<cap>"):
        assert raw not in html
    assert "&lt;b&gt;T&lt;/b&gt;" in html
    assert "a &amp; b" in html


def test_float_columns_share_decimals_and_formats_apply():
    frame = pd.DataFrame(
        {
            "small": [0.5, 0.12345],
            "mid": [12.0, 3.25],
            "big": [1234.5, 99.0],
            "whole": [3.0, 4.0],
            "count": [1000, 2],
            "flag": [True, False],
            "p": [0.25, np.nan],
        }
    )
    sec = Report(title="t").add_section("s", "S")
    sec.add_table(frame, number_formats={"p": ".0%"}, labels={"p": "share"})
    cells = parse(sec.to_html()).cells
    assert cells[:7] == ["0.500", "12.0", "1,234", "3", "1,000", "yes", "25%"]
    assert cells[7:] == ["0.123", "3.2", "99", "4", "2", "no", "–"]
    assert ">share</th>" in sec.to_html()
    with pytest.raises(ParameterError, match="not in the table"):
        sec.add_table(frame, number_formats={"nps": ".1f"})


def test_index_shown_only_when_meaningful():
    sec = Report(title="t").add_section("s", "S")
    sec.add_table(pd.DataFrame({"n": [1, 2]}))
    sec.add_table(pd.DataFrame({"n": [1, 2]}, index=pd.Index(["a", "b"], name="role")))
    html = sec.to_html()
    assert html.count('scope="col"') == 3
    assert ">role</th>" in html


def test_truncated_table_says_how_many_rows_are_left_out():
    sec = Report(title="t").add_section("s", "S")
    sec.add_table(pd.DataFrame({"n": range(120)}), max_rows=50)
    assert len(parse(sec.to_html()).cells) == 50
    assert "Showing the first 50 of 120 rows." in sec.to_html()


def test_suppressed_rows_are_marked(page):
    assert page.count('<tr class="suppressed">') == 2


def test_section_ids_are_checked():
    report = Report(title="t")
    report.add_section("nps", "NPS")
    for bad in ("nps", "contents", "top", "1st", "has space", "", "x-h"):
        with pytest.raises(ParameterError):
            report.add_section(bad, "again")
    with pytest.raises(ParameterError, match="title"):
        Report(title="  ")


def test_figure_needs_alt_text_and_accepts_an_axes():
    fig, ax = new_figure(3, 2)
    sec = Report(title="t").add_section("s", "S")
    with pytest.raises(ParameterError, match="alt text"):
        sec.add_figure(fig, alt=" ")
    with pytest.raises(ParameterError, match="Figure or Axes"):
        # wrong type on purpose: the runtime check is under test
        sec.add_figure("figure.png", alt="x")  # type: ignore[arg-type]
    sec.add_figure(ax, alt="a <line>", caption="c")
    img = [a for t, a in parse(sec.to_html()).tags if t == "img"]
    assert img[0]["width"] == "288"
    assert img[0]["height"] == "192"
    assert img[0]["alt"] == "a <line>"


def test_kpi_cards():
    sec = Report(title="t").add_section("s", "S")
    sec.add_kpis(
        [
            Kpi("NPS", 21.44, ci_low=15.06, ci_high=27.61, n=1204),
            {"label": "Partner NPS", "value": None, "n": 9},
            {"label": "CSAT", "value": 0.812, "fmt": "{:.1%}", "confidence": 0.9},
        ]
    )
    html = sec.to_html()
    assert ">21.4<" in html
    assert "95% CI 15.1 to 27.6" in html
    assert "n = 1,204" in html
    assert "suppressed" in html
    assert ">81.2%<" in html
    with pytest.raises(ParameterError, match="unknown or missing"):
        sec.add_kpis([{"label": "x", "valeu": 1}])
    with pytest.raises(ParameterError):
        sec.add_kpis([])


def _small_report() -> Report:
    report = Report(title="Small")
    fig, ax = new_figure(2, 1.5)
    ax.plot([0, 1], [1, 0])
    sec = report.add_section("s", "S", intro="One figure, one table.")
    sec.add_figure(fig, alt="A falling line.")
    sec.add_table(pd.DataFrame({"role": ["customer"], "n": [12]}))
    return report


def test_write_is_atomic_and_guarded(tmp_path):
    report = _small_report()
    target = tmp_path / "report.html"
    assert report.write(target, forbidden=demo.EMAILS + demo.PHONES) == target
    assert target.read_bytes() == report.to_html().encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]

    leaky = _small_report()
    leaky.sections[0].add_table(pd.DataFrame({"contact": ["ana.lima@example.com"]}))
    with pytest.raises(PrivacyError, match="1 identifier"):
        leaky.write(target, forbidden=demo.EMAILS)
    # The earlier file is untouched and no temporary file is left behind.
    assert target.read_bytes() == report.to_html().encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]

    linked = Report(title="t")
    linked.add_section("s", "S").add_note("see https://example.org")
    with pytest.raises(PrivacyError, match="external"):
        linked.write(tmp_path / "other.html")
    assert not (tmp_path / "other.html").exists()
    with pytest.raises(ParameterError, match="does not exist"):
        report.write(tmp_path / "missing" / "r.html")


# -- one render per figure ----------------------------------------------------------------------
def _figures():
    """Figures whose constrained layout moves on the first draws (long labels, a legend)."""
    fig, ax = new_figure(7.6, 2.4)
    frame = pd.DataFrame(
        {
            "group": ["a rather long group label", "b", "former worker, now customer"],
            "estimate": [12.5, -40.0, 73.4],
            "ci_low": [2.0, -55.0, 60.0],
            "ci_high": [20.0, -20.0, 85.0],
            "n": [120, 80, 40],
        }
    )
    plot_estimates(frame, estimate="estimate", by="group", xlabel="NPS (points)", ax=ax)
    yield fig
    fig, ax = new_figure(4, 3)
    ax.plot([0, 1, 2], [1000.0, 2e5, 3e6], label="a line with a legend")
    ax.set_title("A title over two\nlines")
    ax.legend(loc="best")
    yield fig


def test_a_figure_is_rendered_once_with_the_bytes_of_repeated_renders(monkeypatch):
    # Issue 10 (report at scale): figure_to_png rendered each figure until two renders
    # agreed (2-3 renders). The layout is settled without rendering, then one render
    # gives the same bytes, whatever was drawn before.
    saves: list[int] = []
    real_save = Figure.savefig

    def save(self, *args, **kwargs):
        saves.append(1)
        return real_save(self, *args, **kwargs)

    for fig in _figures():
        fresh = pickle.loads(pickle.dumps(fig))
        expected = figure_to_png(pickle.loads(pickle.dumps(fig)))
        monkeypatch.setattr(Figure, "savefig", save)
        saves.clear()
        section = Section("s", "S")
        section.add_figure(fig, alt="A figure.")
        assert len(saves) == 1
        monkeypatch.setattr(Figure, "savefig", real_save)
        html_png = section.to_html().split("base64,")[1].split('"')[0]
        assert base64.b64decode(html_png) == expected
        # Drawn before (as a notebook would): still the same bytes.
        fresh.draw_without_rendering()
        assert figure_to_png(fresh) == expected


def test_a_figure_without_layout_engine_goes_through_figure_to_png():
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    assert settled_png(fig) == figure_to_png(fig)


# -- navigation, glossary links, figure data, print (issue 18 items 8 and 9) --------------------
OMEGA = Term("g-omega", 'How well the questions measure "one" thing <together>.', ("omega",))
NPS_TERM = Term("g-nps", "Promoters minus detractors.", ("NPS", "Net Promoter Score"))
INTERVAL = Term("g-interval", "Where the true value likely is.", ("interval", "CI"))


def _glossary_report(*parts: str) -> Report:
    report = Report(title="t")
    sec = report.add_section("s", "S", intro=parts[0] if parts else None)
    for text in parts[1:]:
        sec.add_text(text)
    report.add_section("glossary", "Glossary").add_definitions(
        [(t.anchor, t.anchor[2:], t.definition) for t in (OMEGA, NPS_TERM, INTERVAL)]
    )
    report.link_terms([OMEGA, NPS_TERM, INTERVAL], skip=("glossary",))
    return report


def _section_body(html: str, section_id: str) -> str:
    return html.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


def test_a_term_links_to_its_definition_once_per_section_with_an_escaped_title():
    html = _glossary_report("Omega was 0.91 and omega again; NPS and eNPS.").to_html()
    body = _section_body(html, "s")
    title = "How well the questions measure &quot;one&quot; thing &lt;together&gt;."
    assert f'<a class="term" href="#g-omega" title="{title}">Omega</a> was 0.91' in body
    assert body.count('href="#g-omega"') == 1  # the first use only
    assert '<a class="term" href="#g-nps" title="Promoters minus detractors.">NPS</a>' in body
    assert "eNPS" in body
    assert 'href="#g-nps">eNPS' not in body
    assert "<together>" not in html
    # The glossary's own entries are not linked, and carry the anchors.
    glossary = _section_body(html, "glossary")
    assert 'class="term"' not in glossary
    assert '<dt id="g-omega">omega</dt>' in glossary


def test_a_term_is_linked_again_in_each_section():
    report = _glossary_report("An interval here.")
    report.sections.insert(1, Section("t", "T", intro="Another interval there."))
    html = report.to_html()
    assert _section_body(html, "s").count('href="#g-interval"') == 1
    assert _section_body(html, "t").count('href="#g-interval"') == 1


def test_text_inside_tags_attributes_cells_and_headings_is_not_linked():
    report = _glossary_report("No term in this intro at all, just words.")
    sec = report.sections[0]
    sec.add_heading("omega in a heading")
    fig, ax = new_figure(2, 1.5)
    ax.plot([0, 1], [0, 1])
    sec.add_figure(fig, alt="The omega line rises from left to right.")
    sec.add_table(pd.DataFrame({"group": ["omega"], "n": [3]}), caption="Counts")
    html = report.to_html()
    body = _section_body(html, "s")
    assert "<h3>omega in a heading</h3>" in body
    assert 'alt="The omega line rises from left to right."' in body
    assert "<td>omega</td>" in body
    assert 'class="term"' not in body
    # A table header and a caption are linked (the first use in the section).
    sec.add_table(pd.DataFrame({"omega": [0.9]}), caption="With an interval")
    body = _section_body(report.to_html(), "s")
    assert re.search(
        r'<th scope="col" class="num"><a class="term" href="#g-omega"[^>]*>omega', body
    )
    assert re.search(r'<caption>With an <a class="term" href="#g-interval"[^>]*>interval</a>', body)


def test_escaped_text_and_case_rules():
    html = _glossary_report(
        "Tom & Jerry's CIs; <NPS> counts. the ci is lower case, the Interval is not."
    ).to_html()
    body = _section_body(html, "s")
    assert "Tom &amp; Jerry&#x27;s CIs; &lt;" in body  # entities intact, "CIs" not a form
    assert '&lt;<a class="term" href="#g-nps"' in body  # text around an entity is linked
    # "CI" has a capital: it matches exactly (not "ci"); "interval" matches any case.
    assert (
        '<a class="term" href="#g-interval" title="Where the true value likely is.">Interval</a>'
        in body
    )
    assert ">ci</a>" not in body


def test_terms_link_only_to_defined_anchors_and_reports_without_terms_are_unchanged():
    report = Report(title="t")
    report.add_section("s", "S", intro="omega here")
    plain = report.to_html()
    report.link_terms([OMEGA])  # no definition of g-omega in the report: no link
    assert report.to_html() == plain
    assert 'class="term"' not in plain
    with pytest.raises(ParameterError, match="Term"):
        # A plain string where a Term is needed: the wrong type on purpose (the error).
        report.link_terms(["omega"])  # type: ignore[list-item]


def test_definitions_need_valid_unique_anchors():
    sec = Report(title="t").add_section("g", "G")
    with pytest.raises(ParameterError, match="anchor"):
        sec.add_definitions([("1x", "x", "y")])
    with pytest.raises(ParameterError, match="unique"):
        sec.add_definitions([("g-a", "a", "b"), ("g-a", "a", "c")])
    with pytest.raises(ParameterError, match="at least one"):
        sec.add_definitions([])
    sec.add_definitions([("g-a", "a <b>", "c & d")])
    assert '<dt id="g-a">a &lt;b&gt;</dt><dd>c &amp; d</dd>' in sec.to_html()


def test_every_figure_has_its_data_behind_a_toggle():
    report = Report(title="t")
    sec = report.add_section("s", "S")
    fig, ax = new_figure(2, 1.5)
    ax.plot([0, 1], [0, 1])
    sec.add_figure(fig, alt="A rising line from zero to one.", data=pd.DataFrame({"x": [0, 1]}))
    assert report.figures_without_data() == []
    html = report.to_html()
    details = re.search(r'<details class="figure-data">(.*?)</details>', html, re.S)
    assert details is not None
    assert details.group(1).startswith("<summary>Data behind the figure</summary>")
    assert "<table>" in details.group(1)
    sec.add_figure(fig, alt="The same line without its numbers.")
    assert report.figures_without_data() == [("s", "The same line without its numbers.")]


def test_sticky_contents_bar_and_print_css(page):
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    nav = re.search(r"nav#contents\{([^}]*)\}", css).group(1)
    assert "position:sticky" in nav
    assert "top:0" in nav
    # One scrolling row: 14 long titles never wrap into a tall bar.
    toc = re.search(r"nav#contents ol\{([^}]*)\}", css).group(1)
    assert "flex-wrap:nowrap" in toc
    assert "overflow-x:auto" in toc
    assert "@media (max-width:700px)" in css
    printed = css.split("@media print{", 1)[1]
    assert "nav#contents{display:none}" in printed
    assert "details::details-content{content-visibility:visible" in printed
    assert "tr,figure" in printed
    assert "break-inside:avoid" in printed
    assert "--muted:#333" in printed  # readable grey on paper
    # Still one file, no script, the same policy.
    assert "<script" not in page
    assert "default-src 'none'; img-src data:; style-src 'unsafe-inline'" in page


def test_a_toggle_links_its_own_first_use():
    report = _glossary_report("An interval in the intro.")
    sec = report.sections[0]
    sec.how_to_read = "Read the interval as a range; the interval again."
    sec.add_text("A later interval, not linked again.")
    body = _section_body(report.to_html(), "s")
    assert body.count('href="#g-interval"') == 2  # the intro and the toggle, once each
    toggle = body.split('<details class="how-to-read">', 1)[1].split("</details>", 1)[0]
    assert toggle.count('href="#g-interval"') == 1
    assert "A later interval, not linked again." in body
