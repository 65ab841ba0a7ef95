"""The privacy guard: identifiers from the input and external URLs never reach a report."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hxmetrics.report import (
    PrivacyError,
    Report,
    check_no_external_urls,
    collect_identifiers,
    find_external_urls,
    privacy_guard,
)
from tests.report import demo


def test_clean_demo_passes_with_every_identifier(page):
    # Many digits in the page (counts, intervals, base64 images): none is a phone.
    privacy_guard(page, forbidden=demo.EMAILS + demo.PHONES)


@pytest.fixture(scope="module")
def with_cell(page):
    """Plant a table cell at the end of the NPS section of the demo page."""

    def plant(value: str) -> str:
        sec = Report(title="t").add_section("x", "X")
        sec.add_table(pd.DataFrame({"who": [value], "n": [3]}))
        table = sec.to_html().split("</h2>", 1)[1].removesuffix("</section>")
        marker = '</section>\n<section id="tenure"'
        assert page.count(marker) == 1
        return page.replace(marker, table + marker)

    return plant


@pytest.mark.parametrize(
    "planted",
    [
        "ana.lima@example.com",
        "b.okafor@EXAMPLE.org",  # case differs from the roster's B.Okafor@example.org
        "020 7946 0958",  # the roster has +44 20 7946 0958
        "+442079460958",
        "555.010.4477",  # the roster has (555) 010-4477
    ],
)
def test_planted_identifier_is_found(planted, with_cell):
    html = with_cell(planted)
    with pytest.raises(PrivacyError, match=r"1 identifier\(s\) .* in section 'nps'") as info:
        privacy_guard(html, forbidden=demo.EMAILS + demo.PHONES)
    # The message can be logged: it masks the value.
    message = str(info.value)
    assert "ana.lima" not in message
    assert "7946" not in message
    assert "010-4477" not in message


def test_identifier_in_an_attribute_or_title_is_found():
    report = Report(title="Report for Ana.Lima@example.com")
    with pytest.raises(PrivacyError, match="report header"):
        privacy_guard(report.to_html(), forbidden=demo.EMAILS)
    fig_report = Report(title="t")
    from hxmetrics.plotting import new_figure

    fig, _ = new_figure(2, 1)
    fig_report.add_section("s", "S").add_figure(fig, alt="call +44 20 7946 0958")
    with pytest.raises(PrivacyError):
        privacy_guard(fig_report.to_html(), forbidden=demo.PHONES)


def test_escaped_identifier_is_found(with_cell):
    html = with_cell("o'brien&co@example.com")
    assert "o&#x27;brien&amp;co@example.com" in html
    with pytest.raises(PrivacyError):
        privacy_guard(html, forbidden=["o'brien&co@example.com"])


def test_short_and_missing_values_are_not_matched():
    # None and NaN are passed on purpose (rosters have missing keys): type: ignore.
    privacy_guard("<p>n = 12, 3 of 4</p>", forbidden=["12", "", "  ", None, float("nan")])  # type: ignore[list-item]
    with pytest.raises(PrivacyError):
        privacy_guard("<p>employee X99-Q7</p>", forbidden=["x99-q7"])


@given(
    local=st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(com|org|net)", fullmatch=True),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_any_planted_email_is_found(local, domain, before, after):
    email = f"{local}@{domain}"
    report = Report(title="t")
    report.add_section("s", "S").add_text(before + email.upper() + after)
    with pytest.raises(PrivacyError):
        privacy_guard(report.to_html(), forbidden=[email])


@pytest.mark.parametrize(
    "snippet",
    [
        '<a href="http://example.org">x</a>',
        "plain text https://example.org",
        '<img src="//cdn.example.net/a.png">',
        "<style>body{background:url(bg.png)}</style>",
        "<style>@import 'fonts.css';</style>",
        '<a href="mailto:someone">x</a>',
        "ftp://files.example.org/x",
    ],
)
def test_external_references_are_found(snippet):
    assert find_external_urls(snippet)
    with pytest.raises(PrivacyError, match="external"):
        check_no_external_urls(snippet)


def test_local_references_are_allowed():
    html = (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '<a href="#nps">x</a><img src="data:image/png;base64,iVBORw0KGgo=">'
        "<style>x{background:url(data:image/png;base64,AA==)}</style>"
    )
    assert find_external_urls(html) == []


def test_collect_identifiers_from_rosters():
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["a@x.org", None]})
    workers = pd.DataFrame({"worker_id": ["W1"], "email": [" a@x.org "], "phone": ["555 0101 22"]})
    assert collect_identifiers([customers, workers]) == ["555 0101 22", "a@x.org"]
    assert collect_identifiers([customers], columns=["customer_id"]) == ["C1", "C2"]
