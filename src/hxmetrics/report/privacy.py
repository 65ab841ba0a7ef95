"""Checks run on a finished report: no external URL, no identifier from the input.

A report leaves the organisation. It must not load anything from elsewhere (a URL
in it is either a tracking risk or a broken reference when read offline), and it must
not carry an email address or a phone number from the rosters it was computed on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

import pandas as pd

from hxmetrics.errors import PrivacyError

__all__ = [
    "PrivacyError",
    "check_no_external_urls",
    "collect_identifiers",
    "find_external_urls",
    "privacy_guard",
]


# Any URL scheme followed by "//" (http, https, ftp, file, ...), protocol-relative
# references in attributes and CSS, and the schemes that address a person.
_URL_PATTERNS = (
    re.compile(r"\b[a-z][a-z0-9+.\-]*://", re.IGNORECASE),
    re.compile(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*//""", re.IGNORECASE),
    re.compile(r"""url\(\s*["']?\s*(?!data:|#)[^)\s]""", re.IGNORECASE),
    re.compile(r"@import\b", re.IGNORECASE),
    re.compile(r"\b(?:mailto|tel|sms|callto):", re.IGNORECASE),
)
# Embedded images are base64 payloads: not text a reader sees, and long enough to
# contain digit runs by chance. They are skipped when looking for identifiers.
_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+\-]+;base64,[A-Za-z0-9+/=]+", re.IGNORECASE)
_PHONE_TOKEN = re.compile(r"\+?\(?\d[\d\s().\-/]{5,}\d")
_PHONE_VALUE = re.compile(r"^[\d\s().\-+/]+$")
_EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SECTION = re.compile(r'<section[^>]*\bid="([^"]+)"')
# Numbers written with national prefixes differ in their leading digits
# (+44 20 7946 0958 vs 020 7946 0958); the subscriber part does not.
_PHONE_TAIL = 9
_MIN_PHONE_DIGITS = 7
_MIN_LITERAL = 4


def find_external_urls(text: str) -> list[str]:
    """Return every external reference in ``text`` (URLs, ``mailto:``, CSS imports).

    Fragment links (``#section``) and ``data:`` URIs are not external.

    Parameters
    ----------
    text : str
        An HTML document or any text.

    Returns
    -------
    list of str
        Each offending snippet with a little context, in order of appearance.

    Examples
    --------
    >>> find_external_urls('<a href="#nps">NPS</a><img src="data:image/png;base64,AA==">')
    []
    >>> find_external_urls('see https://example.org and <img src="//cdn.example/x.png">')
    ['see https://example.org and <img src', 'img src="//cdn.example/x.png">']
    """
    hits: list[tuple[int, str]] = []
    for pattern in _URL_PATTERNS:
        for match in pattern.finditer(text):
            lo, hi = max(match.start() - 4, 0), min(match.end() + 24, len(text))
            hits.append((match.start(), text[lo:hi]))
    return [snippet for _, snippet in sorted(hits)]


def check_no_external_urls(text: str) -> None:
    """Raise :class:`PrivacyError` if ``text`` references anything external.

    Parameters
    ----------
    text : str
        The HTML of a report.

    Examples
    --------
    >>> check_no_external_urls("<p>all local</p>")
    >>> check_no_external_urls('<link href="https://fonts.example/x.css">')
    Traceback (most recent call last):
    ...
    hxmetrics.errors.PrivacyError: the report references 1 external resource(s) ...
    """
    found = find_external_urls(text)
    if found:
        shown = "; ".join(repr(s) for s in found[:5])
        raise PrivacyError(
            f"the report references {len(found)} external resource(s) (a self-contained "
            f"report must not load or link anything): {shown}. Hint: embed images with "
            "Section.add_figure and keep URLs out of titles, notes and table cells."
        )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _phone_match(a: str, b: str) -> bool:
    if a == b:
        return True
    return min(len(a), len(b)) >= _PHONE_TAIL and a[-_PHONE_TAIL:] == b[-_PHONE_TAIL:]


def _mask(value: str) -> str:
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = _digits(value)
    if len(digits) >= _MIN_PHONE_DIGITS:
        return f"***{digits[-3:]}"
    return f"{value[:1]}***"


def _section_at(document: str, offset: int) -> str:
    ids = [m.group(1) for m in _SECTION.finditer(document, 0, offset)]
    return f"section {ids[-1]!r}" if ids else "the report header"


def privacy_guard(document: str, *, forbidden: Iterable[str]) -> None:
    """Raise :class:`PrivacyError` if a forbidden identifier or an external URL is in a report.

    Values are matched against the text of the report (HTML entities decoded,
    embedded images skipped):

    * email-like values (``x@y.z``): case-insensitively, as substrings;
    * phone-like values (only digits and ``+ - ( ) . /`` and spaces, at least 7
      digits): by digits, so ``+44 20 7946 0958`` is found when written
      ``020-7946-0958``; two numbers match when equal or when they share their last 9
      digits;
    * any other value of at least 4 characters: case-insensitively, as substrings.
      Shorter values cannot be told from ordinary words and numbers and are not
      matched.

    The error names how many values were found and in which sections, with each value
    masked (the message may be logged).

    Parameters
    ----------
    document : str
        The HTML of a report.
    forbidden : iterable of str
        Identifiers from the input (see :func:`collect_identifiers`). Missing values
        and blanks are ignored.

    Raises
    ------
    PrivacyError
        If any forbidden value or any external reference is present.

    Examples
    --------
    >>> privacy_guard("<p>NPS 31.2</p>", forbidden=["ana@example.com", "+44 20 7946 0958"])
    >>> privacy_guard("<td>020-7946-0958</td>", forbidden=["+44 20 7946 0958"])
    Traceback (most recent call last):
    ...
    hxmetrics.errors.PrivacyError: the report contains 1 identifier(s) from the input ...
    """
    check_no_external_urls(document)
    text = _DATA_URI.sub("data:", html.unescape(document))
    lowered = text.casefold()
    tokens = [(m.start(), _digits(m.group())) for m in _PHONE_TOKEN.finditer(text)]
    found: list[tuple[str, int]] = []
    for raw in dict.fromkeys(forbidden):
        if raw is None or (not isinstance(raw, str) and pd.isna(raw)):
            continue
        value = str(raw).strip()
        if not value:
            continue
        digits = _digits(value)
        if _PHONE_VALUE.match(value) and len(digits) >= _MIN_PHONE_DIGITS:
            where = next((pos for pos, tok in tokens if _phone_match(tok, digits)), -1)
        elif _EMAIL_VALUE.match(value) or len(value) >= _MIN_LITERAL:
            where = lowered.find(value.casefold())
        else:
            continue
        if where >= 0:
            found.append((value, where))
    if found:
        places = sorted({_section_at(text, pos) for _, pos in found})
        shown = ", ".join(_mask(v) for v, _ in found[:5])
        raise PrivacyError(
            f"the report contains {len(found)} identifier(s) from the input ({shown}) in "
            f"{', '.join(places)}. Personal identifiers must never reach a report: "
            "aggregate, or replace the value with a pseudonymous label before adding it."
        )


def collect_identifiers(
    tables: Iterable[pd.DataFrame], *, columns: Sequence[str] = ("email", "phone")
) -> list[str]:
    """Gather the distinct identifier values of the given columns from input tables.

    Parameters
    ----------
    tables : iterable of DataFrame
        Rosters (or any tables); tables without a column are skipped for it.
    columns : sequence of str, default ("email", "phone")
        Columns holding personal identifiers.

    Returns
    -------
    list of str
        Distinct non-blank values, sorted, ready for :func:`privacy_guard`.

    Examples
    --------
    >>> import pandas as pd
    >>> roster = pd.DataFrame(
    ...     {"email": ["a@x.org", None, "a@x.org"], "phone": ["555 0101 22", "", None]}
    ... )
    >>> collect_identifiers([roster])
    ['555 0101 22', 'a@x.org']
    """
    values: set[str] = set()
    for table in tables:
        for column in columns:
            if column not in table.columns:
                continue
            for value in table[column].dropna().astype(str):
                if value.strip():
                    values.add(value.strip())
    return sorted(values)
