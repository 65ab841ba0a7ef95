"""Roster intake for identity resolution: checked rosters, their records and key values.

A *record* is one ``(silo, source_id)``; a roster may hold several rows for it (one
per episode). :func:`check_rosters` converts and orders the rosters, :func:`source_ids`
reads each silo's id column, and ``_collect`` turns the rosters into records, their
stable 64-bit hashes, birth years and normalised key values. Errors about rows go
through :func:`row_error`, which masks identifier values.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, check_columns, did_you_mean
from hxmetrics.privacy import IDENTIFIER_COLUMNS
from hxmetrics.stakeholders.keys import _as_text, _key_kind, normalise_key
from hxmetrics.tables import ID_COLUMN, SILOS, as_pandas

__all__ = [
    "IDENTITY_COLUMNS",
    "check_rosters",
    "id_column_of",
    "identity_frame",
    "row_error",
    "source_ids",
]


class _Records(NamedTuple):
    silos: list[str]  # silo names, canonical order
    node_silo: np.ndarray  # silo code per record (int64)
    node_source: pd.Series  # source_id per record (str), in order of first appearance
    node_hash: np.ndarray  # stable 64-bit hash of (silo, source_id) per record
    row_node: np.ndarray  # record of each roster row
    row_birth_year: np.ndarray  # float, nan if missing
    key_values: dict[str, pd.Series]  # normalised values per key, aligned with rows


def row_error(
    table: str, column: str, check: str, bad: pd.Series, hint: str, *, identifying: bool = False
) -> InputTableError:
    """The error for rows failing a check; values of identifier columns are masked.

    An identifier (an email, a phone, a roster id) is shown as ``<column, masked>``
    in the message and in ``failure_cases``: the row label points to it.
    """
    identifying = identifying or column in IDENTIFIER_COLUMNS
    missing = bad.isna().to_numpy()
    shown = np.array([str(v) for v in bad.to_numpy()], dtype=object)
    if identifying:
        shown[~missing] = f"<{column}, masked>"
    cases = pd.DataFrame(
        {"column": column, "check": check, "failure_case": shown, "index": bad.index}
    )
    examples = "; ".join(
        f"row {i!r}: {'<missing>' if gone else (text if identifying else repr(v))}"
        for (i, v), text, gone in zip(bad.head(5).items(), shown, missing, strict=False)
    )
    return InputTableError(
        f"table {table!r}, column {column!r}: {len(bad)} row(s) fail {check}, "
        f"e.g. {examples}. {hint}",
        table=table,
        failure_cases=cases,
    )


def id_column_of(df: pd.DataFrame, silo: str) -> str:
    """The id column of a roster: the contract's name, else ``source_id``."""
    column = ID_COLUMN[silo]
    if column in df.columns:
        return column
    if "source_id" in df.columns:
        return "source_id"
    check_columns(df.columns, [column], table=silo)
    return column  # pragma: no cover - check_columns raised


def check_rosters(rosters: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Rosters by silo, in the canonical silo order; errors name the bad input."""
    if not isinstance(rosters, Mapping):
        raise ParameterError(
            "rosters must be a mapping from silo name to roster DataFrame, e.g. "
            f"{{'customers': customers_df, 'workers': workers_df}}; got {type(rosters).__name__}."
        )
    if not rosters:
        raise ParameterError("rosters is empty: pass at least one roster, e.g. {'workers': df}.")
    out: dict[str, pd.DataFrame] = {}
    for silo in rosters:
        if silo not in SILOS:
            raise ParameterError(
                f"unknown silo {silo!r}; rosters are keyed by {', '.join(map(repr, SILOS))}."
                + did_you_mean(str(silo), SILOS)
            )
    for silo in sorted(rosters):
        # Polars, PyArrow, lazy frames: converted here, at the boundary (the pandas path).
        out[silo] = as_pandas(rosters[silo], table=silo)
    return out


def source_ids(df: pd.DataFrame, silo: str) -> pd.Series:
    """The roster's ids as strings; missing ids are an error naming the rows."""
    column = id_column_of(df, silo)
    ids = df[column]
    missing = ids.isna()
    if bool(missing.any()):
        raise row_error(
            silo,
            column,
            "not_nullable",
            ids[missing],
            "Every roster row needs the silo's id for the person.",
        )
    return _as_text(ids)


def _collect(
    rosters: dict[str, pd.DataFrame],
    keys: Sequence[str],
    birth_year: str | None,
    key_kinds: Mapping[str, str] | None,
    min_phone_digits: int,
) -> _Records:
    for silo, df in rosters.items():
        id_column_of(df, silo)
    present = {k for df in rosters.values() for k in keys if k in df.columns}
    absent = [k for k in keys if k not in present]
    if absent:
        columns = sorted({str(c) for df in rosters.values() for c in df.columns})
        hints = "".join(did_you_mean(k, columns) for k in absent)
        raise InputTableError(
            f"key column(s) {absent} are in none of the rosters "
            f"({', '.join(rosters)}); available: {columns}.{hints}",
            table=next(iter(rosters)),
            failure_cases=pd.DataFrame(
                {
                    "column": absent,
                    "check": "column_in_dataframe",
                    "failure_case": absent,
                    "index": [None] * len(absent),
                }
            ),
        )
    node_silo, node_source, node_hash, row_node, row_by = [], [], [], [], []
    values: dict[str, list[pd.Series]] = {k: [] for k in keys}
    offset = 0
    for code, (silo, df) in enumerate(rosters.items()):
        ids = source_ids(df, silo)
        codes, uniques = pd.factorize(ids)
        uniq = pd.Series(uniques, dtype="str")
        node_source.append(uniq)
        node_silo.append(np.full(len(uniq), code, dtype=np.int64))
        node_hash.append(_record_hash(silo, uniq))
        row_node.append(codes.astype(np.int64) + offset)
        offset += len(uniq)
        if birth_year is not None and birth_year in df.columns:
            raw = df[birth_year]
            years = pd.to_numeric(raw, errors="coerce")
            bad = years.isna() & raw.notna()
            if bool(bad.any()):
                raise row_error(
                    silo, birth_year, "numeric", raw[bad], "Birth years must be numbers or missing."
                )
            row_by.append(years.to_numpy(dtype=float, na_value=np.nan))
        else:
            row_by.append(np.full(len(df), np.nan))
        for k in keys:
            if k in df.columns:
                norm = normalise_key(
                    df[k], kind=_key_kind(k, key_kinds), min_phone_digits=min_phone_digits
                )
                values[k].append(norm.reset_index(drop=True))
            else:
                values[k].append(pd.Series(pd.NA, index=range(len(df)), dtype="str"))
    return _Records(
        silos=list(rosters),
        node_silo=np.concatenate(node_silo),
        node_source=pd.concat(node_source, ignore_index=True),
        node_hash=np.concatenate(node_hash),
        row_node=np.concatenate(row_node),
        row_birth_year=np.concatenate(row_by),
        key_values={
            k: pd.concat(v, ignore_index=True) if len(v) > 1 else v[0] for k, v in values.items()
        },
    )


_U64 = np.uint64


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection of uint64 that spreads every input bit."""
    z = x + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    out: np.ndarray = z ^ (z >> _U64(31))
    return out


def _record_hash(silo: str, ids: pd.Series) -> np.ndarray:
    """Stable 64-bit hash of (silo, source_id).

    pandas' ``hash_array`` is SipHash-2-4 with a fixed key, so the value is the same
    in every run and on every machine; the silo enters through a second SipHash and
    the SplitMix64 finaliser.
    """
    text = ids.to_numpy(dtype=object)
    h = pd.util.hash_array(text, categorize=False)
    salt = pd.util.hash_array(np.array([silo], dtype=object), categorize=False)
    with np.errstate(over="ignore"):
        return _mix(h ^ salt[0])


# ------------------------------------------------------------------ identity columns

#: Optional roster columns that describe a person (for probabilistic resolution).
#: Each is a personal identifier (:data:`hxmetrics.privacy.IDENTIFIER_COLUMNS`):
#: never a group column, never shown in an output or an error message.
IDENTITY_COLUMNS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "date_of_birth",
    "address",
    "postcode",
)

_TEXT_COLUMNS = ("given_name", "family_name", "address")

# Street types spelled out or abbreviated by different silos: one spelling each
# (the usual postal abbreviations), so that "12 Mill Road" and "12 Mill Rd" agree.
_STREET_TYPES = {
    "road": "rd",
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "place": "pl",
    "close": "cl",
    "court": "ct",
    "drive": "dr",
    "lane": "ln",
    "crescent": "cres",
    "terrace": "tce",
    "square": "sq",
    "boulevard": "blvd",
    "gardens": "gdns",
    "highway": "hwy",
    "parkway": "pkwy",
}
# Usual English short forms of given names, read as the full name so that "Bob Smith"
# and "Robert Smith" compare as one given name (a short form of two names maps to
# the more common one). Written for this module from common usage.
_SHORT_FORMS = {
    "full": {
        "robert": ("bob", "bobby", "rob", "robbie", "bert"),
        "william": ("bill", "billy", "will", "willy", "liam"),
        "james": ("jim", "jimmy", "jamie"),
        "john": ("johnny", "jack"),
        "david": ("dave", "davy"),
        "michael": ("mike", "mikey", "mick"),
        "daniel": ("dan", "danny"),
        "elizabeth": ("liz", "lizzie", "beth", "betty", "eliza", "libby"),
        "thomas": ("tom", "tommy"),
        "katherine": ("kate", "katie", "kathy", "kat", "kay"),
        "joseph": ("joe", "joey"),
        "christopher": ("chris", "kit"),
        "jennifer": ("jen", "jenny"),
        "richard": ("rick", "ricky", "rich", "richie", "dick"),
        "margaret": ("maggie", "meg", "peggy", "margie", "marge"),
        "peter": ("pete",),
        "rebecca": ("becky", "becca"),
        "andrew": ("andy", "drew"),
        "susan": ("sue", "susie"),
        "alexander": ("alex", "sasha"),
        "victoria": ("vicky", "vicki", "tori"),
        "samuel": ("sam", "sammy"),
        "benjamin": ("ben", "benny"),
        "patricia": ("pat", "patty", "trish"),
        "matthew": ("matt", "matty"),
        "anthony": ("tony",),
        "nicholas": ("nick", "nicky"),
        "jonathan": ("jon", "jonny"),
        "isabel": ("bella", "izzy"),
        "edward": ("ed", "eddie", "ted", "ned"),
        "olivia": ("liv", "livvy"),
        "stephen": ("steve", "stevie"),
        "gregory": ("greg",),
        "timothy": ("tim", "timmy"),
        "kenneth": ("ken", "kenny"),
        "lawrence": ("larry",),
        "gerald": ("gerry", "jerry"),
        "deborah": ("debbie", "deb"),
        "jacqueline": ("jackie",),
        "frederick": ("fred", "freddie"),
        "charles": ("charlie", "chuck"),
        "henry": ("harry", "hank"),
    }
}
GIVEN_NAME_SHORT_FORMS: dict[str, str] = {
    short: full for full, shorts in _SHORT_FORMS["full"].items() for short in shorts
}

_STREET_PATTERN = r"\b(" + "|".join(_STREET_TYPES) + r")\b"

# Python's ``re`` (what pandas uses for these patterns) reads ``\w``, ``\s`` and ``\b``
# as Unicode; on ASCII text they are these explicit classes, which pyarrow's RE2
# evaluates in C++ without a Python call per value (``\s``: the ASCII characters
# whose ``str.isspace()`` is true, including the separators 0x1c-0x1f).
_ASCII_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"
_ASCII_DROP = {
    r"[^\w\s]": r"[^0-9A-Za-z_\t\n\x0b\x0c\r\x1c-\x1f ]",
    r"[^\w]": r"[^0-9A-Za-z_]",
}
# One pass of lookups equals the regex's one pass only if no replacement is itself
# replaced again; the tables keep it so (checked here, not assumed).
assert not set(_STREET_TYPES.values()) & set(_STREET_TYPES)
assert not set(GIVEN_NAME_SHORT_FORMS.values()) & set(GIVEN_NAME_SHORT_FORMS)


@functools.cache
def _arrow() -> Any:
    """pyarrow and its lookup tables, or None without pyarrow (an optional dependency).

    Without pyarrow the distinct values are cleaned with Python's ``re`` as before:
    the same values, only slower.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow comes with every extra and test env
        return None

    def table(values: Any) -> Any:
        return pa.array(list(values), type=pa.large_string())

    return (
        pa,
        pc,
        {
            "given_name": (table(GIVEN_NAME_SHORT_FORMS), table(GIVEN_NAME_SHORT_FORMS.values())),
            "address": (table(_STREET_TYPES), table(_STREET_TYPES.values())),
        },
    )


def _fold(v: object) -> object:
    """``v`` without accents (NFKD, combining marks dropped); non-text unchanged."""
    if not isinstance(v, str):
        return v
    decomposed = unicodedata.normalize("NFKD", v)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _clean_python(text: pd.Series, keep: str) -> pd.Series:
    """Accents folded, lower case, ``keep`` and repeated blanks to one blank, stripped.

    pandas runs these patterns through Python's ``re`` value by value: used for the
    few distinct values that are not ASCII (and for a ``keep`` pattern without an
    ASCII equivalent in :data:`_ASCII_DROP`).
    """
    accented = ~text.str.isascii().fillna(True).astype(bool)
    if bool(accented.any()):
        text = text.where(~accented, text[accented].map(_fold))
    text = text.str.lower().str.replace(keep, " ", regex=True)
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _clean_ascii(text: Any, drop: str) -> Any:
    """:func:`_clean_python` for ASCII values, in pyarrow (the same result on ASCII)."""
    _, pc, _ = _arrow()
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, pattern=drop, replacement=" ")
    text = pc.replace_substring_regex(text, pattern=_ASCII_SPACE + "+", replacement=" ")
    # After the blanks became one " ", str.strip() removes exactly the outer " ".
    return pc.utf8_trim(text, characters=" ")


def _lookup(text: Any, column: str) -> Any:
    """Each value found in the column's table replaced by its entry; others kept."""
    _, pc, tables = _arrow()
    keys, values = tables[column]
    at = pc.index_in(text, value_set=keys)
    return pc.if_else(pc.is_valid(at), pc.take(values, at), text)


def _street_words(text: Any) -> Any:
    """Street types replaced word by word (``\\b(road|...)\\b`` with the table's lookup).

    The text holds word characters separated by single blanks (the cleaning left
    nothing else), so the regex's matches are exactly the blank-separated words equal
    to a street type: split, look each word up, join.
    """
    pa, pc, _ = _arrow()
    words = pc.split_pattern(text, pattern=" ")
    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    flat = _lookup(words.values.cast(pa.large_string()), "address")
    rebuilt = pa.LargeListArray.from_arrays(
        pa.array(words.offsets, type=pa.int64()), flat, mask=words.is_null()
    )
    return pc.binary_join(rebuilt, pa.scalar(" ", type=pa.large_string()))


def _clean_distinct(uniques: pd.Series, *, column: str, keep: str) -> pd.Series:
    """The cleaned text of each distinct value (no missing values in ``uniques``)."""
    arrow = _arrow()
    # The pyarrow path needs an ASCII equivalent of ``keep``, and the word lookup of
    # street types needs text of word characters and single blanks, which these give.
    drop = _ASCII_DROP.get(keep) if arrow is not None else None
    if drop is None:
        out = _clean_python(uniques, keep)
        if column == "postcode":
            out = out.str.replace(" ", "", regex=False).str.upper()
        elif column == "given_name":
            out = out.replace(GIVEN_NAME_SHORT_FORMS)
        elif column == "address":
            out = out.str.replace(_STREET_PATTERN, lambda m: _STREET_TYPES[m.group(1)], regex=True)
        return out.where(out.str.len() > 0)
    pa = arrow[0]
    text = pa.array(uniques).cast(pa.large_string())
    ascii_ = uniques.str.isascii().astype(bool).to_numpy()
    if ascii_.all():
        cleaned = _clean_ascii(text, drop)
    else:
        # ASCII values in pyarrow, the others in Python; put back in their places.
        rest = _clean_python(uniques[~ascii_], keep)
        parts = [_clean_ascii(text.filter(pa.array(ascii_)), drop), pa.array(rest)]
        places = np.concatenate([np.flatnonzero(ascii_), np.flatnonzero(~ascii_)])
        cleaned = pa.concat_arrays([part.cast(pa.large_string()) for part in parts])
        cleaned = cleaned.take(pa.array(np.argsort(places, kind="stable")))
    if column == "given_name":
        cleaned = _lookup(cleaned, column)
    elif column == "address":
        cleaned = _street_words(cleaned)
    out = cleaned.to_pandas().set_axis(uniques.index)
    if column == "postcode":
        out = out.str.replace(" ", "", regex=False).str.upper()
    return out.where(out.str.len() > 0)


def _clean_text(values: pd.Series, *, column: str, silo: str, keep: str) -> pd.Series:
    """Lower-case text without accents, punctuation or repeated blanks; ``""`` -> missing.

    Each distinct value is cleaned once (names and addresses repeat across records)
    and the results are taken back by position; ASCII values are cleaned in pyarrow,
    the rest with Python's ``re`` as before: the same values either way.
    """
    present = values.notna()
    if column != "postcode" and pd.api.types.infer_dtype(values[present], skipna=True) not in (
        "string",
        "empty",
    ):
        text_like = values[present].map(lambda v: isinstance(v, str))
        bad = values[present][~text_like.to_numpy()]
        raise row_error(silo, column, "text", bad, f"{column} must be text or missing.")
    text = _as_text(values).where(present).astype("str")
    codes, uniques = pd.factorize(text)
    cleaned = _clean_distinct(pd.Series(uniques, dtype="str"), column=column, keep=keep)
    taken = cleaned.array.take(codes, allow_fill=True)
    return pd.Series(taken, index=values.index, dtype="str")


def _clean_date(values: pd.Series, *, silo: str) -> pd.Series:
    """Dates of birth as ``YYYY-MM-DD`` text (the same on every splink backend)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates = pd.Series(values)
    else:
        present = values.notna() & values.astype("str").str.strip().ne("")
        dates = pd.to_datetime(values.where(present), errors="coerce", format="ISO8601")
        bad = present & dates.isna()
        if bool(bad.any()):
            raise row_error(
                silo,
                "date_of_birth",
                "date",
                values[bad],
                "Dates of birth must be dates (YYYY-MM-DD) or missing.",
            )
    return dates.dt.strftime("%Y-%m-%d").astype("str")


def identity_frame(
    rosters: dict[str, pd.DataFrame], rec: _Records, columns: Sequence[str]
) -> pd.DataFrame:
    """One row per record: ``unique_id`` (the record's position) and normalised identity values.

    A record's value is the first non-missing one among its roster rows. Text is
    lower-cased and stripped of accents, punctuation and repeated blanks; postcodes
    lose their blanks; dates of birth become ``YYYY-MM-DD``. A value of the wrong type
    or a date that does not parse is an :class:`InputTableError` naming the row
    (values masked: these columns are identifiers).
    """
    n_nodes = rec.node_hash.size
    out = pd.DataFrame({"unique_id": np.arange(n_nodes, dtype=np.int64)})
    parts: dict[str, list[pd.Series]] = {c: [] for c in columns}
    for silo, df in rosters.items():
        for c in columns:
            if c not in df.columns:
                parts[c].append(pd.Series(pd.NA, index=range(len(df)), dtype="str"))
            elif c == "date_of_birth":
                parts[c].append(_clean_date(df[c], silo=silo).reset_index(drop=True))
            else:
                keep = r"[^\w\s]" if c in _TEXT_COLUMNS else r"[^\w]"
                parts[c].append(
                    _clean_text(df[c], column=c, silo=silo, keep=keep).reset_index(drop=True)
                )
    for c in columns:
        values = pd.concat(parts[c], ignore_index=True) if parts[c] else pd.Series(dtype="str")
        frame = pd.DataFrame({"node": rec.row_node, "value": values.astype("str")})
        firsts = frame.dropna(subset=["value"]).groupby("node", sort=True)["value"].first()
        out[c] = firsts.astype("str").reindex(out.index)
    return out
