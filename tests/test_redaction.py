"""redact_identifiers: planted identifiers never survive; ordinary numbers do."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import ParameterError
from hxmetrics.privacy import PLACEHOLDERS, redact_identifiers

WORDS = st.lists(
    st.sampled_from(
        ["the", "wait", "was", "long", "staff", "were", "kind", "5 stars", "2 days", "price"]
    ),
    min_size=0,
    max_size=6,
).map(" ".join)

_SEPARATORS = st.sampled_from([" ", "-", ".", ""])


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Phone numbers as people type them: international or local, spaces, dashes, dots,
    brackets. Local ones with 7 digits as 3-4; the rest with 9 to 15 digits (a calendar
    date has at most 8, so none of these can read as one)."""
    sep = draw(_SEPARATORS)
    if draw(st.booleans()):
        groups = [draw(st.from_regex(r"\A\d{3}\Z")), draw(st.from_regex(r"\A\d{4}\Z"))]
        return (sep or "-").join(groups)
    country = draw(st.one_of(st.none(), st.from_regex(r"\A\+[1-9]\d{0,2}\Z")))
    area = draw(st.one_of(st.none(), st.from_regex(r"\A\d{2,4}\Z")))
    rest = draw(st.lists(st.from_regex(r"\A\d{2,4}\Z"), min_size=2, max_size=4))
    digits = sum(len(g) for g in [area or "", *rest]) + (len(country) - 1 if country else 0)
    # At least 9 digits, as the docstring says: one group of 4 was not always enough
    # ("01-01" + "1234" has 8 digits and reads as the date 01-01-1234).
    while digits < 9:
        rest.append("1234")
        digits += 4
    if digits > 15:
        rest = rest[:2]
    head = []
    if country:
        head.append(country)
    if area:
        head.append(f"({area})" if draw(st.booleans()) else area)
    body = (sep or " ").join(rest) if sep == "" and area is None else sep.join(rest)
    return " ".join([*head, body]) if head else body


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@settings(max_examples=300, deadline=None)
@given(before=WORDS, after=WORDS, email=st.emails())
def test_generated_emails_never_survive(before: str, after: str, email: str) -> None:
    text = f"{before} {email} {after}"
    out = redact_identifiers(text)
    assert email not in out
    assert email.split("@")[1] not in out  # not even the domain
    assert PLACEHOLDERS["email"] in out


@settings(max_examples=300, deadline=None)
@given(before=WORDS, after=WORDS, phone=phones())
def test_generated_phones_never_survive(before: str, after: str, phone: str) -> None:
    text = f"{before} {phone}. {after}"
    out = redact_identifiers(text)
    assert phone not in out
    # No run of the phone's digits longer than a country code is left in the text.
    digits = _digits(phone)
    left = _digits(out)
    assert digits[-7:] not in left
    assert PLACEHOLDERS["phone"] in out or PLACEHOLDERS["number"] in out


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("+44 20 7946 0958", "phone"),
        ("(555) 574-5423", "phone"),
        ("555.574.5423", "phone"),
        ("555-1234", "phone"),
        ("+1 (555) 534-1107", "phone"),
        ("+49-30-1234567", "phone"),
        ("07700 900123", "phone"),
        ("https://example.org/my/account?id=7", "url"),
        ("www.example.org", "url"),
        ("4111 1111 1111 1111", "number"),
        ("4111-1111-1111-1111", "number"),
        ("5551234567", "number"),
        ("C000123", "id"),
        ("W-00042", "id"),
        ("#10234", "id"),
        ("ana.lee+xm@mail.example.co.uk", "email"),
    ],
)
def test_each_kind_has_its_placeholder(text: str, kind: str) -> None:
    assert redact_identifiers(f"see {text} today") == f"see {PLACEHOLDERS[kind]} today"


@pytest.mark.parametrize(
    "text",
    [
        "5 stars",
        "waited 2 days",
        "3.5 out of 5",
        "rated 10 out of 10",
        "in 2024 and 2025",
        "on 2024-03-15 or 15.03.2024",
        "100% sure, 45 minutes, £25.50, 1,250 euros",
        "order of 3 items at 10:30",
    ],
)
def test_ordinary_numbers_survive(text: str) -> None:
    assert redact_identifiers(text) == text


def test_names_whole_words_any_case_longest_first() -> None:
    out = redact_identifiers(
        pd.Series(["ana lee helped", "Ana was kind", "Banana bread", "ANA LEE!"]),
        names=["Ana", "Ana Lee", None, "x"],
    )
    assert out.tolist() == ["[NAME] helped", "[NAME] was kind", "Banana bread", "[NAME]!"]


def test_series_keeps_index_and_missing() -> None:
    s = pd.Series(["mail a@b.io", None, "", "fine"], index=[10, 20, 30, 40])
    out = redact_identifiers(s)
    assert out.index.tolist() == [10, 20, 30, 40]
    assert out.iloc[0] == "mail [EMAIL]"
    assert pd.isna(out.iloc[1])
    assert out.iloc[2:].tolist() == ["", "fine"]
    assert redact_identifiers(None) is None


def test_pyarrow_strings() -> None:
    s = pd.Series(["call 555-1234"], dtype="string[pyarrow]")
    assert redact_identifiers(s).iloc[0] == "call [PHONE]"


def test_bad_input() -> None:
    with pytest.raises(ParameterError, match="Series must hold text or missing values"):
        redact_identifiers(pd.Series(["ok", 5, "ana@example.org"], dtype=object))
    with pytest.raises(ParameterError, match="dtype is int64"):
        redact_identifiers(pd.Series([1, 2]))
    with pytest.raises(ParameterError, match="expected a text"):
        redact_identifiers(12345)
    with pytest.raises(ParameterError, match="names must be text"):
        redact_identifiers("hi", names=["Ana", 3])


def test_vectorised_over_many() -> None:
    rng = np.random.default_rng(0)
    numbers = rng.integers(100, 999, 1000)
    s = pd.Series([f"call {a}-{a}0 or mail u{a}@example.com" for a in numbers])
    out = redact_identifiers(s)
    assert (out == "call [PHONE] or mail [EMAIL]").all()
