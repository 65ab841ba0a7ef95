"""Checks run on a finished report: no external URL, no identifier from the input.

A report leaves the organisation. It must not load anything from elsewhere (a URL
in it is either a tracking risk or a broken reference when read offline), and it must
not carry an email address or a phone number from the rosters it was computed on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hxmetrics.errors import PrivacyError

__all__ = [
    "PrivacyError",
    "check_no_external_urls",
    "collect_identifiers",
    "distinct_identifiers",
    "find_external_urls",
    "privacy_guard",
]


# Any URL scheme followed by "//" (http, https, ftp, file, ...), protocol-relative
# references in attributes and CSS, and the schemes that address a person. Each comes
# with a character string every match contains: a page without it skips that pattern's
# scan (a long report is read five times otherwise).
_URL_PATTERNS = (
    ("://", re.compile(r"\b[a-z][a-z0-9+.\-]*://", re.IGNORECASE)),
    ("//", re.compile(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*//""", re.IGNORECASE)),
    ("(", re.compile(r"""url\(\s*["']?\s*(?!data:|#)[^)\s]""", re.IGNORECASE)),
    ("@", re.compile(r"@import\b", re.IGNORECASE)),
    (":", re.compile(r"\b(?:mailto|tel|sms|callto):", re.IGNORECASE)),
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
# What Python's str.strip() and the phone rule above mean on ASCII text, spelled out so
# that PyArrow's regular expressions (RE2) read them the same way.
_ASCII_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
_ASCII_PHONE_VALUE = r"[0-9\t\n\x0b\x0c\r\x1c-\x1f ().+/-]+"


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
    for needle, pattern in _URL_PATTERNS:
        if needle not in text:
            continue
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


#: A phone number is written in at most this many groups of digits (+44 20 7946 0958).
_MAX_PHONE_GROUPS = 8
_DIGIT_GROUP = re.compile(r"\d+")


def _phone_spans(run: str) -> set[str]:
    """The digits of every stretch of consecutive digit groups of a phone-like run.

    A phone-like run can join a phone number to its neighbours ("5551234567 2019Q1":
    the period label follows the number after a space); its digits as a whole then
    match no phone. Every stretch of up to eight consecutive groups (those a phone
    number is written in) with at least seven digits is a candidate, so the number is
    found whatever stands beside it.
    """
    groups = _DIGIT_GROUP.findall(run)
    spans = {"".join(groups)}
    for start in range(len(groups)):
        digits = ""
        for group in groups[start : start + _MAX_PHONE_GROUPS]:
            digits += group
            if len(digits) >= _MIN_PHONE_DIGITS:
                spans.add(digits)
    return spans


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


@dataclass
class _Identifiers:
    """Forbidden values, stripped and sorted into the two ways they are matched.

    ``values`` keeps the caller's order (repeats included); ``phone`` holds the
    digits of the phone-like values and ``literal`` the case-folded text of every
    other value of at least 4 characters, both labelled as in ``values``.
    """

    values: pd.Series
    phone: pd.Series
    literal: pd.Series


def _apply(values: pd.Series, function: Callable[[str], str]) -> pd.Series:
    return pd.Series([function(v) for v in values], index=values.index, dtype="str")


def _stripped(raw: pd.Series) -> pd.Series:
    """Values as text, stripped as ``str.strip`` does; missing and blank values dropped."""
    # The str dtype turns None and NaN into missing values and anything else into str(x).
    values = raw.astype("str").dropna().str.strip(_ASCII_SPACE)
    ascii_ = values.str.isascii().to_numpy(dtype=bool)
    if not ascii_.all():
        values = values.where(ascii_, _apply(values[~ascii_], str.strip))
    return values[values.str.len().to_numpy() > 0]


def _identifiers(forbidden: Iterable[str]) -> _Identifiers:
    """Classify every value once, vectorised (millions of roster values are usual).

    ASCII values (nearly all) go through pandas' string methods with explicit ASCII
    character classes, which mean the same in Python's ``re`` and in PyArrow's RE2;
    the few others go through the reference rules one by one, so Unicode digits,
    spaces and case folding behave exactly as Python's ``str`` methods. Each step
    runs only on the values it can concern (digits only of phone-like values, case
    folding only of the others).
    """
    # Not de-duplicated here (a hash of millions of strings): the few values found are.
    values = _stripped(pd.Series(list(forbidden), dtype=object))
    ascii_ = values.str.isascii().to_numpy(dtype=bool)
    phone_like = values.str.fullmatch(_ASCII_PHONE_VALUE).to_numpy(dtype=bool, copy=True)
    if not ascii_.all():
        phone_like[~ascii_] = [bool(_PHONE_VALUE.match(v)) for v in values[~ascii_]]
    candidates = values[phone_like]
    plain = candidates.str.isascii().to_numpy(dtype=bool)
    digits = candidates.str.replace(r"[^0-9]", "", regex=True)
    if not plain.all():
        digits = digits.where(plain, _apply(candidates[~plain], _digits))
    is_phone = digits.str.len().to_numpy() >= _MIN_PHONE_DIGITS
    phone_like[phone_like] = is_phone
    is_literal = ~phone_like & (values.str.len().to_numpy() >= _MIN_LITERAL)
    others = values[is_literal]
    plain = ascii_[is_literal]
    literal = others.str.lower()
    if not plain.all():
        literal = literal.where(plain, _apply(others[~plain], str.casefold))
    return _Identifiers(values=values, phone=digits[is_phone], literal=literal)


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.uint64
    )


def _trigram_keys(points: np.ndarray) -> np.ndarray:
    # Three code points (21 bits each) packed into one exact 63-bit key.
    return (points[:-2] << np.uint64(42)) | (points[1:-1] << np.uint64(21)) | points[2:]


def _literal_windows(lowered: str, literals: pd.Series) -> set[str]:
    """The slices of ``lowered`` that could equal a literal: same first 3 characters, same length.

    A literal occurs in the text exactly when one of these slices equals it, so one
    set membership test per literal replaces one scan of the text per literal.
    """
    if literals.empty or len(lowered) < 3:
        return set()
    pairs = pd.DataFrame(
        {"prefix": literals.str.slice(0, 3), "length": literals.str.len().to_numpy()}
    ).drop_duplicates()
    points = _codepoints("".join(pairs["prefix"].tolist())).reshape(-1, 3)
    keys = (points[:, 0] << np.uint64(42)) | (points[:, 1] << np.uint64(21)) | points[:, 2]
    lengths_of: dict[int, list[int]] = {}
    for key, length in zip(keys.tolist(), pairs["length"].tolist(), strict=True):
        lengths_of.setdefault(key, []).append(length)
    text_keys = _trigram_keys(_codepoints(lowered))
    # A hash look-up (pandas) rather than np.isin, which sorts the text's keys.
    known = pd.Series(text_keys).isin(np.fromiter(lengths_of, np.uint64)).to_numpy()
    hits = np.flatnonzero(known)
    return {
        lowered[pos : pos + size]
        for pos in hits.tolist()
        for size in lengths_of[int(text_keys[pos])]
    }


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

    The text is read once, however many values there are: the phone-like runs of
    digits are collected into a set of digit strings and a set of their last 9
    digits, and the slices of the text that could hold a value (same first three
    characters and same length as some value) into a set of strings; each value is
    then one set look-up. This finds exactly what searching the text for each value
    finds, in time linear in the text plus the values (millions of identifiers take
    seconds, not minutes).

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
    ids = _identifiers(forbidden)
    # Every phone-like run of the text, by its digits and by its last 9 digits, with
    # the position of its first occurrence.
    whole: dict[str, int] = {}
    tails: dict[str, int] = {}
    for match in _PHONE_TOKEN.finditer(text):
        for token in _phone_spans(match.group()):
            whole.setdefault(token, match.start())
            if len(token) >= _PHONE_TAIL:
                tails.setdefault(token[-_PHONE_TAIL:], match.start())
    phones = ids.phone
    phone_hit = phones.isin(list(whole)).to_numpy() | (
        (phones.str.len().to_numpy() >= _PHONE_TAIL)
        & phones.str.slice(-_PHONE_TAIL).isin(list(tails)).to_numpy()
    )
    literals = ids.literal
    literal_hit = literals.isin(list(_literal_windows(lowered, literals))).to_numpy()
    hit = set(phones.index[phone_hit]) | set(literals.index[literal_hit])
    found: list[tuple[str, int]] = []
    shown_values: set[str] = set()
    for label in sorted(hit):
        value = ids.values[label]
        if value in shown_values:
            continue
        shown_values.add(value)
        if label in phones.index:
            digits = phones[label]
            seen = [whole.get(digits, -1)]
            if len(digits) >= _PHONE_TAIL:
                seen.append(tails.get(digits[-_PHONE_TAIL:], -1))
            where = min(p for p in seen if p >= 0)
        else:
            where = lowered.find(literals[label])
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
    tables: Iterable[pd.DataFrame],
    *,
    columns: Sequence[str] = ("email", "phone"),
    min_digits: int = 0,
) -> list[str]:
    """Gather the distinct identifier values of the given columns from input tables.

    Parameters
    ----------
    tables : iterable of DataFrame
        Rosters (or any tables); tables without a column are skipped for it.
    columns : sequence of str, default ("email", "phone")
        Columns holding personal identifiers.
    min_digits : int, default 0
        Values made only of digits (``str.isdigit``) and shorter than this are left
        out: such numbers cannot be told from counts in a report's text.

    Returns
    -------
    list of str
        Distinct non-blank values (stripped), sorted, ready for :func:`privacy_guard`.

    Examples
    --------
    >>> import pandas as pd
    >>> roster = pd.DataFrame(
    ...     {"email": ["a@x.org", None, "a@x.org"], "phone": ["555 0101 22", "", None]}
    ... )
    >>> collect_identifiers([roster])
    ['555 0101 22', 'a@x.org']
    >>> ids = pd.DataFrame({"worker_id": ["1234", "123456", "W-1"]})
    >>> collect_identifiers([ids], columns=["worker_id"], min_digits=6)
    ['123456', 'W-1']
    """
    values = distinct_identifiers(tables, columns=columns, min_digits=min_digits)
    # Sorted by code point as sorted() does (UTF-8 byte order is code point order).
    return values.sort_values(ignore_index=True).tolist()


def distinct_identifiers(
    tables: Iterable[pd.DataFrame],
    *,
    columns: Sequence[str] = ("email", "phone"),
    min_digits: int = 0,
) -> pd.Series:
    """:func:`collect_identifiers` unsorted: the distinct values in order of first sight.

    The guard needs the values, not their order; sorting millions of strings costs
    seconds at scale. The order is still repeatable (tables, then columns, in the
    order given).
    """
    parts: list[pd.Series] = []
    for table in tables:
        for column in columns:
            if column not in table.columns:
                continue
            # Distinct values first (a column of millions holds far fewer), kept in
            # pandas' string dtype: no Python object per value.
            parts.append(_stripped(pd.Series(table[column].dropna().unique())))
    if not parts:
        return pd.Series([], dtype="str")
    values = pd.concat(parts, ignore_index=True).drop_duplicates()
    if min_digits > 0:
        values = values[~_short_number(values, min_digits)]
    return values.reset_index(drop=True)


def _short_number(values: pd.Series, min_digits: int) -> np.ndarray:
    """``v.isdigit() and len(v) < min_digits`` for each value (vectorised for ASCII)."""
    short = values.str.len().to_numpy() < min_digits
    ascii_ = values.str.isascii().to_numpy(dtype=bool)
    out: np.ndarray = short & values.str.fullmatch("[0-9]+").to_numpy(dtype=bool, copy=True)
    other = short & ~ascii_
    if other.any():
        out[other] = [v.isdigit() for v in values[other]]
    return out
