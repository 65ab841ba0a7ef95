"""The glossary (issue 18 item 8): plain definitions, anchors, and links beside the terms."""

from __future__ import annotations

import html
import re

import pytest

from hxmetrics.report import Report
from hxmetrics.report.sections import SECTIONS, glossary
from hxmetrics.report.sections.glossary import FORMS, GLOSSARY, slug

#: The terms the brief asks the glossary to define.
REQUIRED = [
    "interval",
    "significance",
    "Holm adjustment",
    "NPS",
    "eNPS",
    "CSAT",
    "CES",
    "promoter/passive/detractor",
    "censored",
    "median time (Kaplan-Meier)",
    "SLA attainment",
    "closed loop",
    "control chart",
    "relative importance (Shapley)",
    "quadrant",
    "sentiment",
    "theme",
    "response rate",
    "weights/raking",
    "design effect",
    "reliability",
    "alpha",
    "omega",
    "CFI",
    "RMSEA",
    "invariance",
    "suppression",
    "boomerang",
    "touchpoint",
    "journey",
    "removal effect",
    "team ledger",
    "zero-distance gap",
    "unified vs siloed",
    "hybrid",
]
LINK = re.compile(r'<a class="term" href="#([^"]+)" title="([^"]*)">([^<]*)</a>')


def _body(page: str, section_id: str) -> str:
    return page.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


def test_every_required_term_has_one_or_two_plain_sentences():
    assert [t for t in REQUIRED if t not in GLOSSARY] == []
    for term, text in GLOSSARY.items():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z'])", text.strip()) if s]
        assert 1 <= len(sentences) <= 2, (term, sentences)
        assert text.strip().endswith("."), term
        assert len(text.split()) <= 60, term  # plain and short, not a lecture
    assert set(FORMS) <= set(GLOSSARY)
    slugs = [slug(t) for t in GLOSSARY]
    assert len(set(slugs)) == len(slugs)


def test_the_glossary_needs_no_data():
    # The section reads nothing from the context: any input, even none, gets it whole.
    report = Report(title="t")
    # None where a Context is typed: on purpose, to show the section reads none of it.
    glossary.section(report, None)  # type: ignore[arg-type]
    page = report.to_html()
    ids = re.findall(r'<dt id="(g-[^"]+)">', page)
    assert ids == [f"g-{slug(t)}" for t in GLOSSARY]
    assert "g-omega" in ids
    assert "g-median-time-kaplan-meier" in ids


def test_the_sample_glossary_is_last_with_every_entry(sample_html):
    assert SECTIONS[-1][0] == "Glossary"
    assert sample_html.rsplit('<section id="', 1)[1].startswith('glossary"')
    body = _body(sample_html, "glossary")
    for term, text in GLOSSARY.items():
        entry = f'<dt id="g-{slug(term)}">{html.escape(term)}</dt><dd>{html.escape(text)}</dd>'
        assert entry in body, term
    assert 'class="term"' not in body  # the glossary does not link to itself


def test_links_point_to_entries_with_the_definition_as_title(sample_html):
    links = LINK.findall(sample_html)
    # Seen on the sample: 227 links over 13 sections and their toggles.
    assert len(links) >= 60
    defined = set(re.findall(r'<dt id="(g-[^"]+)">', sample_html))
    by_anchor = {f"g-{slug(t)}": html.escape(d, quote=True) for t, d in GLOSSARY.items()}
    for anchor, title, _ in links:
        assert anchor in defined
        assert title == by_anchor[anchor]
    # Each term at most once per section (its first use), and once per toggle, which a
    # reader opens on its own ("How to read this", a figure's data).
    for section_id in re.findall(r'<section id="([^"]+)"', sample_html):
        body = _body(sample_html, section_id)
        toggles = re.findall(r"<details[^>]*>.*?</details>", body, re.S)
        rest = re.sub(r"<details[^>]*>.*?</details>", "", body, flags=re.S)
        for part in [rest, *toggles]:
            anchors = [a for a, _, _ in LINK.findall(part)]
            assert len(anchors) == len(set(anchors)), section_id


@pytest.mark.parametrize(
    ("section_id", "anchors"),
    [
        ("experience", ["g-nps", "g-enps", "g-csat", "g-ces", "g-interval", "g-holm-adjustment"]),
        ("siloed-unified", ["g-unified-vs-siloed", "g-interval", "g-p-value"]),
        (
            "hx-index",
            ["g-reliability", "g-alpha", "g-omega", "g-cfi", "g-rmsea", "g-invariance"],
        ),
    ],
)
def test_terms_are_linked_where_they_are_used(sample_html, section_id, anchors):
    body = _body(sample_html, section_id)
    linked = {a for a, _, _ in LINK.findall(body)}
    assert set(anchors) <= linked


def test_no_link_inside_a_heading_cell_or_alt_text(sample_html):
    for tag in ("h2", "h3", "td", "summary", "dt"):
        for inner in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", sample_html, re.S):
            assert 'class="term"' not in inner, (tag, inner[:80])
    for alt in re.findall(r'alt="([^"]*)"', sample_html):
        assert "<a" not in alt


def test_how_to_read_and_plain_glosses_in_the_three_sections(sample_html):
    for section_id in ("experience", "siloed-unified", "hx-index"):
        body = _body(sample_html, section_id)
        note = re.search(
            r'<details class="how-to-read"><summary>How to read this</summary>(.*?)'
            r"</details>",
            body,
            re.S,
        )
        assert note is not None, section_id
        assert len(re.sub(r"<[^>]+>", "", note.group(1)).split()) >= 40, section_id
    body = _body(sample_html, "hx-index")
    text = re.sub(r"<[^>]+>", "", body)
    # Right beside the tables that show them: alpha and omega, then CFI and RMSEA.
    reliability = text.index("Reliability of the six core questions by role")
    gloss = text.index("How to read these coefficients: alpha")
    invariance = text.index("Measurement invariance across roles")
    fit = text.index("How to read the fit: CFI (comparative fit index")
    assert reliability < gloss < invariance < fit
    assert "0.95 or more is good" in text
    assert "0.06 or less is good" in text
    unified = re.sub(r"<[^>]+>", "", _body(sample_html, "siloed-unified"))
    assert "Quote the unified number" in unified
