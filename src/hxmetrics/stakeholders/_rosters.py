"""Roster intake for identity resolution: checked rosters, their records and key values.

A *record* is one ``(silo, source_id)``; a roster may hold several rows for it (one
per episode). :func:`check_rosters` converts and orders the rosters, :func:`source_ids`
reads each silo's id column, and ``_collect`` turns the rosters into records, their
stable 64-bit hashes, birth years and normalised key values. Errors about rows go
through :func:`row_error`, which masks identifier values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import NamedTuple

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


def _clean_text(values: pd.Series, *, column: str, silo: str, keep: str) -> pd.Series:
    """Lower-case text without accents, punctuation or repeated blanks; ``""`` -> missing."""
    present = values.notna()
    text_like = values[present].map(lambda v: isinstance(v, str))
    if column != "postcode" and not bool(text_like.all()):
        bad = values[present][~text_like.to_numpy()]
        raise row_error(silo, column, "text", bad, f"{column} must be text or missing.")
    text = _as_text(values).where(present)

    def fold(v: object) -> object:
        if not isinstance(v, str):
            return v
        decomposed = unicodedata.normalize("NFKD", v)
        return "".join(c for c in decomposed if not unicodedata.combining(c))

    text = text.astype("str")
    # Accents: only the few non-ASCII values go through Python.
    accented = ~text.str.isascii().fillna(True).astype(bool)
    if bool(accented.any()):
        text = text.where(~accented, text[accented].map(fold))
    text = text.str.lower().str.replace(keep, " ", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    if column == "postcode":
        text = text.str.replace(" ", "", regex=False).str.upper()
    elif column == "given_name":
        text = text.replace(GIVEN_NAME_SHORT_FORMS)
    elif column == "address":
        text = text.str.replace(_STREET_PATTERN, lambda m: _STREET_TYPES[m.group(1)], regex=True)
    return text.where(text.str.len() > 0)


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
        col = pd.Series(pd.NA, index=range(n_nodes), dtype="str")
        col[firsts.index.to_numpy()] = firsts.to_numpy()
        out[c] = col
    return out
