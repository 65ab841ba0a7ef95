"""Identity resolution: link silo records into persons through shared keys.

Every silo keeps its own id for a person (``customer_id``, ``worker_id``,
``partner_id``). A *record* here is one ``(silo, source_id)``; a roster may hold
several rows for it (one per episode). Records are linked when they carry the
same normalised key value (email, phone, any external id), and links are
transitive: the persons are the connected components of the bipartite graph
record -- key value (union-find over key components, computed by
:func:`scipy.sparse.csgraph.connected_components`, no Python loop per record).

Suspicious merges are reported in a conflicts table and never silently made:

* ``birth_year_mismatch``: a key value shared by records whose birth years
  contradict (a household phone, a shared mailbox). The key is not used.
* ``ambiguous_birth_year_bridge``: records without a birth year joined records
  with contradicting birth years (A 1980 -- B ? -- C 1985). The records without a
  birth year in that component are not linked through these keys (the key still
  links the other records).
* ``component_birth_year_mismatch`` / ``component_too_large``: a component that
  still contradicts itself, or has more than ``max_component_size`` records. Its
  most shared key is not used, and the graph is cut again.
* ``unresolved_component``: still suspicious after the cuts: its records stay
  separate persons.
* ``record_birth_year_mismatch``: one record's own rows carry different birth
  years; its birth year is ignored for the checks above.

``person_id`` is ``"P"`` followed by 16 hex digits of a keyed hash (HMAC-SHA256,
RFC 2104) of one member record's ``(silo, source_id)`` under a secret: without the
secret, ids cannot be computed from roster ids, so hashing guessed ids (``C000001``,
...) re-identifies no one. Pass the organisation's secret (:func:`new_secret` makes
one; keep it with the rosters, not with the outputs) for ids that are stable across
runs; without one, a random secret is drawn once per process and the ids are stable
within that process only. The secret changes the ids and nothing else: which records
form a person, which member names it (the member whose unkeyed 64-bit hash is smallest,
so ids do not depend on the rows' order), the conflicts and the crosswalk's row order
are the same under any secret. The crosswalk lists records in order of first
appearance in the rosters (silos in the order customers, partners, workers).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence, Set
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError, InputTableError, ParameterError, check_columns, did_you_mean
from hxmetrics.privacy import IDENTIFIER_COLUMNS
from hxmetrics.stakeholders._unionfind import bipartite_components, group_max, group_min
from hxmetrics.tables import ID_COLUMN, SILOS, as_pandas

__all__ = [
    "CONFLICT_KINDS",
    "DEFAULT_KEYS",
    "MIN_SECRET_BYTES",
    "PSEUDONYM_PREFIX",
    "Resolution",
    "exact_matches",
    "new_secret",
    "normalise_key",
    "pseudonymise",
    "resolution_scores",
    "resolve_identities",
]

#: Key columns used when none are named (those present in the rosters).
DEFAULT_KEYS: tuple[str, ...] = ("email", "phone")

#: Pseudonymised key values start with this marker; normalisation leaves them alone.
PSEUDONYM_PREFIX = "hxp:"

#: Shortest secret (person ids) or salt (:func:`pseudonymise`) accepted, in bytes.
MIN_SECRET_BYTES = 16

#: Conflict kinds, in the order conflicts are numbered, and what was done about each.
CONFLICT_KINDS: dict[str, str] = {
    "birth_year_mismatch": "key_not_used",
    "ambiguous_birth_year_bridge": "records_without_birth_year_not_linked",
    "component_birth_year_mismatch": "key_not_used",
    "component_too_large": "key_not_used",
    "unresolved_component": "split_into_records",
    "record_birth_year_mismatch": "birth_year_ignored",
}
_KIND_CODE = {kind: i for i, kind in enumerate(CONFLICT_KINDS)}

# Rounds of "cut the most shared key of each suspicious component" before the
# remaining suspicious components are split into their records.
_MAX_ROUNDS = 10
_CROSSWALK_COLUMNS = ["silo", "source_id", "person_id", "matched_on"]
_CONFLICT_COLUMNS = ["conflict_id", "kind", "key", "silo", "source_id", "birth_year", "action"]


class Resolution(NamedTuple):
    """The result of :func:`resolve_identities`.

    Attributes
    ----------
    crosswalk : pandas.DataFrame
        One row per ``(silo, source_id)``: ``silo``, ``source_id``, ``person_id``
        (a keyed hash under the secret, see :func:`resolve_identities`),
        ``matched_on`` (the key kinds that linked the record to another record of
        the same person, joined by ``"+"``; ``"none"`` for a person with one record).
    conflicts : pandas.DataFrame
        One row per record involved in a suspicious merge: ``conflict_id``,
        ``kind``, ``key``, ``silo``, ``source_id``, ``birth_year``, ``action``.
        Raw key values never appear.
    """

    crosswalk: pd.DataFrame
    conflicts: pd.DataFrame


# ------------------------------------------------------------------------ secrets

_MAKE_ONE = (
    "Make one with hxmetrics.stakeholders.new_secret() (64 random hex digits), keep it "
    "secret and pass the same one every time."
)
# Words a person types when asked for a secret; a value made of them (and of digits or
# punctuation) is refused whatever its length.
_WEAK_WORDS = re.compile(
    rb"(?:password|passwort|passe|secret|changeme|change|qwerty|azerty|letmein|admin|"
    rb"default|welcome|salt|test|example|hxmetrics)+"
)
_MIN_DISTINCT_BYTES = 8
# Share of neighbouring bytes equal or one apart ("aaaa", "1234", "abcd") above
# which a value is a run, not a secret; random hex has about 0.19.
_MAX_RUN_SHARE = 0.75


def new_secret() -> str:
    """A fresh random secret for person ids and :func:`pseudonymise`: 64 hex digits.

    32 bytes from :func:`secrets.token_bytes`, as hex so it can be stored in a text
    file. Store it where the rosters are (whoever holds it and the roster ids can
    recompute the person ids), and pass the same secret to every run whose person
    ids or pseudonyms must match.

    Examples
    --------
    >>> from hxmetrics.stakeholders import new_secret
    >>> len(new_secret()), new_secret() == new_secret()
    (64, False)
    """
    return secrets.token_hex(32)


def _weakness(key: bytes) -> str | None:
    """Why ``key`` is not a secret worth the name, or ``None`` (never quotes the key)."""
    codes = np.frombuffer(key, dtype=np.uint8).astype(np.int64)
    if np.unique(codes).size < _MIN_DISTINCT_BYTES:
        return f"fewer than {_MIN_DISTINCT_BYTES} distinct characters"
    if float(np.mean(np.abs(np.diff(codes)) <= 1)) >= _MAX_RUN_SHARE:
        return "mostly repeated or consecutive characters"
    n = len(key)
    # Periods up to 64: a longer repeated unit is itself a long enough secret.
    if any(key == key[:p] * (n // p) + key[: n % p] for p in range(1, min(n // 2, 64) + 1)):
        return "a short pattern repeated"
    letters = re.sub(rb"[^a-z]", b"", key.lower())
    if letters and _WEAK_WORDS.fullmatch(letters):
        return "a common word with digits or punctuation"
    return None


def secret_key(value: Any, *, name: str) -> bytes:
    """The bytes of a secret or salt; :class:`ParameterError` if it is not one."""
    if not isinstance(value, str | bytes):
        raise ParameterError(
            f"{name} must be str or bytes; got {type(value).__name__}. {_MAKE_ONE}"
        )
    key = value.encode() if isinstance(value, str) else bytes(value)
    if len(key) < MIN_SECRET_BYTES:
        raise ParameterError(
            f"{name} must be at least {MIN_SECRET_BYTES} bytes; got {len(key)}. {_MAKE_ONE}"
        )
    reason = _weakness(key)
    if reason is not None:
        raise ParameterError(f"{name} is too weak: {reason}. {_MAKE_ONE}")
    return key


@functools.cache
def _process_secret() -> bytes:
    """The secret used when none is given: drawn once per process (forks inherit it)."""
    return secrets.token_bytes(32)


# --------------------------------------------------------------------------- keys


def _key_kind(column: str, kinds: Mapping[str, str] | None) -> str:
    if kinds is not None and column in kinds:
        kind = kinds[column]
        if kind not in ("email", "phone", "generic"):
            raise ParameterError(
                f"key_kinds[{column!r}] must be 'email', 'phone' or 'generic'; got {kind!r}."
            )
        return kind
    lower = column.lower()
    if "email" in lower or "e_mail" in lower:
        return "email"
    if "phone" in lower or "mobile" in lower:
        return "phone"
    return "generic"


def _as_text(values: pd.Series) -> pd.Series:
    """Key values as strings; integral floats (a phone read as a number) lose their ``.0``."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.isna() | (values == np.floor(values))
        if bool(whole.all()):
            values = values.astype("Int64")
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(
        values.dtype
    ):
        return values
    return values.astype("str")


def normalise_key(
    values: pd.Series, *, kind: str = "generic", min_phone_digits: int = 7
) -> pd.Series:
    """Normalise key values so that spellings of the same identifier compare equal.

    Parameters
    ----------
    values : pandas.Series
        Raw key values (strings or numbers); missing values stay missing.
    kind : {"email", "phone", "generic"}
        ``email`` and ``generic``: strip surrounding whitespace and lower-case.
        ``phone``: keep digits only, then the last 10 digits (drops country codes
        and trunk prefixes); fewer than ``min_phone_digits`` digits becomes missing.
        Empty strings become missing. Pseudonymised values (starting with
        :data:`PSEUDONYM_PREFIX`) are returned unchanged.
    min_phone_digits : int, default 7
        Phones with fewer digits are treated as missing (too short to identify).

    Returns
    -------
    pandas.Series
        Normalised strings (``str`` dtype) with the same index.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import normalise_key
    >>> normalise_key(pd.Series([" Ann@Example.COM", ""]), kind="email").tolist()
    ['ann@example.com', nan]
    >>> normalise_key(pd.Series(["+1 (555) 010-2030", "555.010.2030", "12"]),
    ...               kind="phone").tolist()
    ['5550102030', '5550102030', nan]
    """
    return _normalise(values, kind=kind, min_phone_digits=min_phone_digits, keep_hashed=True)


def _normalise(
    values: pd.Series, *, kind: str, min_phone_digits: int = 7, keep_hashed: bool
) -> pd.Series:
    if kind not in ("email", "phone", "generic"):
        raise ParameterError(f"kind must be 'email', 'phone' or 'generic'; got {kind!r}.")
    text = _as_text(values).str.strip()
    if keep_hashed:
        hashed = text.str.startswith(PSEUDONYM_PREFIX).fillna(False).astype(bool)
    else:
        hashed = pd.Series(False, index=text.index)
    if kind == "phone":
        digits = text.str.replace(r"\D+", "", regex=True).str.slice(-10)
        digits = digits.where(digits.str.len() >= min_phone_digits)
        out = digits.where(~hashed, text)
    else:
        out = text.str.lower().where(~hashed, text)
    return out.where(out.str.len() > 0)


def pseudonymise(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    salt: str | bytes,
    key_kinds: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Replace identifier columns by salted hashes of their normalised values.

    Each value is normalised (see :func:`normalise_key`) and replaced by
    ``"hxp:"`` + the first 32 hex digits of HMAC-SHA256(salt, value). The same salt
    gives the same pseudonym for the same identifier, so
    :func:`resolve_identities` links hashed rosters exactly as it links raw ones,
    and raw identifiers need not leave the caller. Keep the salt secret: without
    it a pseudonym cannot be checked against a guessed identifier.

    Every value is hashed, including values that already start with ``"hxp:"``
    (nothing is passed through in clear), so pseudonymising twice is not the same
    as pseudonymising once: pseudonymise each roster once, with one salt.

    Parameters
    ----------
    df : pandas.DataFrame
        A roster (or any table) holding identifier columns.
    columns : str or sequence of str
        The columns to pseudonymise, e.g. ``["email", "phone"]``.
    salt : str or bytes
        The secret key of the HMAC: at least :data:`MIN_SECRET_BYTES` (16) bytes, not
        a common word, a run or a repeated pattern (:func:`new_secret` makes one).
        Use the same salt for every roster that should link.
    key_kinds : mapping, optional
        Normalisation kind per column (``email``, ``phone``, ``generic``); by
        default guessed from the column name.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with those columns hashed; missing values stay missing.

    Raises
    ------
    ParameterError
        If ``salt`` is not str or bytes, is shorter than 16 bytes or is weak (the
        message never repeats it).

    References
    ----------
    Krawczyk, Bellare & Canetti (1997), RFC 2104, "HMAC: Keyed-Hashing for
    Message Authentication".

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import new_secret, pseudonymise
    >>> salt = new_secret()  # store it: the same salt links the same people
    >>> df = pd.DataFrame({"email": ["Ann@x.org ", "ann@x.org", None]})
    >>> out = pseudonymise(df, ["email"], salt=salt)
    >>> bool(out["email"].iloc[0] == out["email"].iloc[1]), bool(out["email"].isna().iloc[2])
    (True, True)
    >>> out["email"].iloc[0][:4]
    'hxp:'
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"df must be a pandas DataFrame; got {type(df).__name__}.")
    key = secret_key(salt, name="salt")
    if isinstance(columns, str):
        columns = [columns]
    check_columns(df.columns, columns, table="data")
    out = df.copy()
    for column in columns:
        norm = _normalise(df[column], kind=_key_kind(column, key_kinds), keep_hashed=False)
        codes, uniques = pd.factorize(norm)
        # One HMAC per distinct value; 128 bits of HMAC-SHA256 put collisions out of
        # reach for any roster.
        digests = np.array(
            [
                PSEUDONYM_PREFIX + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:32]
                for u in uniques
            ],
            dtype=object,
        )
        hashed = pd.Series(pd.NA, index=df.index, dtype="str")
        present = codes >= 0
        hashed[present] = digests[codes[present]]
        out[column] = hashed
    return out


# --------------------------------------------------------------------- collection


class _Records(NamedTuple):
    silos: list[str]  # silo names, canonical order
    node_silo: np.ndarray  # silo code per record (int64)
    node_source: pd.Series  # source_id per record (str), in order of first appearance
    node_hash: np.ndarray  # stable 64-bit hash of (silo, source_id) per record
    row_node: np.ndarray  # record of each roster row
    row_birth_year: np.ndarray  # float, nan if missing
    key_values: dict[str, pd.Series]  # normalised values per key, aligned with rows


def _fail(
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
        raise _fail(
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
                raise _fail(
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


# ---------------------------------------------------------------------- resolution


def resolve_identities(
    rosters: Mapping[str, pd.DataFrame],
    *,
    keys: Sequence[str] | None = None,
    birth_year: str | None = "birth_year",
    birth_year_tolerance: int = 0,
    max_component_size: int = 50,
    key_kinds: Mapping[str, str] | None = None,
    min_phone_digits: int = 7,
    secret: str | bytes | None = None,
) -> Resolution:
    """Link roster records across (and within) silos into persons.

    Parameters
    ----------
    rosters : mapping of str to pandas.DataFrame
        Roster per silo (``customers``, ``workers``, ``partners``), one row per
        episode, with the silo's id column (``customer_id``, ``worker_id``,
        ``partner_id``, or ``source_id``) and the key columns. A key column may be
        missing from some rosters, not from all. Polars, PyArrow and other frames
        narwhals accepts are converted to pandas (lazy frames collected).
    keys : str or sequence of str, optional
        Key columns; each must be in at least one roster (a named key in none is an
        error: a typo). One string is one column (``keys="email"``). Default:
        ``email`` and ``phone``, those of them that the rosters have. Values are
        normalised (see :func:`normalise_key`); columns whose name contains
        ``email`` / ``phone`` get the email / phone rules. Pseudonymised keys
        (:func:`pseudonymise`, one salt for every roster) link exactly as the raw
        keys do. ``keys=[]`` links nothing: one person per record
        ``(silo, source_id)``, ``matched_on="none"``. Rosters without any default
        key (a CRM export of ids only) get the same when ``keys`` is not given; in
        both cases ``crosswalk.attrs["hxmetrics"]["notes"]`` says so.
    birth_year : str or None, default "birth_year"
        Column used as a conflict signal only: records with contradicting birth
        years are never merged through a shared key. ``None`` disables the check.
    birth_year_tolerance : int, default 0
        Birth years further apart than this contradict.
    max_component_size : int, default 50
        A person with more records than this is suspicious (a shared mailbox, a
        placeholder phone): its most shared key is cut and the rest re-linked.
    key_kinds : mapping, optional
        Normalisation per key column (``email``, ``phone``, ``generic``),
        overriding the guess from the name.
    min_phone_digits : int, default 7
        Shorter phone numbers are treated as missing.
    secret : str or bytes, optional
        The organisation's secret key of the person ids (HMAC-SHA256): at least
        :data:`MIN_SECRET_BYTES` (16) bytes, not a common word, a run or a repeated
        pattern; :func:`new_secret` makes one. Pass the same secret to every run
        whose person ids must match. Default: a random secret drawn once per process,
        so the ids are stable within the process only. The secret changes the ids,
        never which records form a person, the conflicts or the row order.

    Returns
    -------
    Resolution
        ``crosswalk`` (silo, source_id, person_id, matched_on), in order of first
        appearance (silos in the order customers, partners, workers), and
        ``conflicts`` (one row per record in a reported conflict).
        ``crosswalk.attrs["hxmetrics"]`` holds ``keys`` (the key columns used) and
        ``notes`` (e.g. that no key linked any record).

    Raises
    ------
    ParameterError
        For a bad argument (a weak ``secret``: the message never repeats it).
    InputTableError
        For a roster that breaks the contract (identifier values are masked).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import new_secret, resolve_identities
    >>> customers = pd.DataFrame({"customer_id": ["c1", "c2"],
    ...     "email": ["Ann@x.org", "bo@y.org"], "phone": [None, "555-010-2030"]})
    >>> workers = pd.DataFrame({"worker_id": ["w1"], "email": ["ann@x.org "],
    ...     "phone": ["+1 555 010 9999"]})
    >>> secret = new_secret()  # stored with the rosters: the same ids in every run
    >>> cw, conflicts = resolve_identities({"customers": customers, "workers": workers},
    ...                                    secret=secret)
    >>> cw[["silo", "source_id", "matched_on"]]
            silo source_id matched_on
    0  customers        c1      email
    1  customers        c2       none
    2    workers        w1      email
    >>> cw["person_id"].nunique(), len(conflicts)
    (2, 0)
    """
    rosters = check_rosters(rosters)
    key = _process_secret() if secret is None else secret_key(secret, name="secret")
    keys = check_keys(keys)
    notes: list[str] = []
    if keys is None:
        have = {str(c) for df in rosters.values() for c in df.columns}
        keys = tuple(k for k in DEFAULT_KEYS if k in have)
        if not keys:
            # A CRM export of ids, a transaction log's customers: valid rosters that
            # simply carry no contact key. Not an error; the result says so.
            hints = "".join(did_you_mean(k, sorted(have)) for k in DEFAULT_KEYS)
            notes.append(
                f"no key column ({', '.join(DEFAULT_KEYS)}) in the rosters: no record is "
                "linked to another, one person per record (silo, source_id). Name the key "
                f"columns with keys=[...] to link records across silos.{hints}"
            )
    elif not keys:
        notes.append(
            "keys=[] (no key): no record is linked to another, one person per record "
            "(silo, source_id)."
        )
    if max_component_size < 2:
        raise ParameterError(f"max_component_size must be at least 2; got {max_component_size}.")
    if birth_year_tolerance < 0:
        raise ParameterError(f"birth_year_tolerance must be >= 0; got {birth_year_tolerance}.")
    rec = _collect(rosters, keys, birth_year, key_kinds, min_phone_digits)
    resolution = _resolve(rec, keys, float(birth_year_tolerance), max_component_size, key)
    resolution.crosswalk.attrs["hxmetrics"] = {"keys": list(keys), "notes": notes}
    return resolution


def check_keys(keys: Any) -> tuple[str, ...] | None:
    """Key columns as a tuple of names; one string is one key, ``None`` stays ``None``.

    An empty list is an empty tuple: no key, link nothing. :class:`ParameterError`
    for anything else than a column name or a list (tuple) of distinct, non-empty
    column names.
    """
    if keys is None:
        return None
    if isinstance(keys, str):
        keys = (keys,)
    elif isinstance(keys, bytes | Mapping | Set) or not isinstance(keys, Sequence | pd.Index):
        raise ParameterError(
            "keys must be a column name or a list of column names, e.g. 'email' or "
            f"['email', 'phone']; got {type(keys).__name__}."
        )
    keys = tuple(keys)
    for i, k in enumerate(keys):
        if not isinstance(k, str) or not k:
            raise ParameterError(
                f"keys must hold non-empty column names (str); keys[{i}] is "
                f"{'an empty string' if isinstance(k, str) else type(k).__name__}."
            )
    if len(set(keys)) != len(keys):
        raise ParameterError(f"keys has duplicates: {list(keys)}.")
    return keys


def _resolve(
    rec: _Records, keys: tuple[str, ...], tol: float, max_size: int, secret: bytes
) -> Resolution:
    n_nodes = rec.node_hash.size
    _check_unique_hashes(rec)
    # Key tokens: one integer per (key column, normalised value).
    edge_nodes, edge_toks, kind_offsets = [], [], [0]
    uniques: list[pd.Series] = []
    for k in keys:
        vals = rec.key_values[k]
        valid = vals.notna().to_numpy()
        codes, uniq = pd.factorize(vals[valid])
        uniques.append(pd.Series(uniq, dtype="str"))
        edge_nodes.append(rec.row_node[valid])
        edge_toks.append(codes.astype(np.int64) + kind_offsets[-1])
        kind_offsets.append(kind_offsets[-1] + len(uniq))
    tokens = _Tokens(np.asarray(kind_offsets, dtype=np.int64), uniques)
    n_tok = tokens.n
    width = max(n_tok, 1)
    # The empty arrays first: with no key (keys=()) there are no edges at all.
    none = np.zeros(0, dtype=np.int64)
    pair = _distinct(
        np.concatenate([none, *edge_nodes]) * width + np.concatenate([none, *edge_toks])
    )
    edge_node, edge_tok = pair // width, pair % width
    tok_nodes = np.bincount(edge_tok, minlength=n_tok)

    # Birth year per record; a record whose own rows disagree gets none.
    known = ~np.isnan(rec.row_birth_year)
    nlo = group_min(rec.row_node[known], rec.row_birth_year[known], n_nodes)
    nhi = group_max(rec.row_node[known], rec.row_birth_year[known], n_nodes)
    inconsistent = nhi - nlo > tol
    node_lo = np.where(inconsistent, np.inf, nlo)
    node_hi = np.where(inconsistent, -np.inf, nhi)
    unknown = np.isinf(node_lo)

    conflicts = _ConflictLog(edge_node, edge_tok, tokens)
    conflicts.add_nodes("record_birth_year_mismatch", np.flatnonzero(inconsistent), rec.node_hash)

    klo = group_min(edge_tok, node_lo[edge_node], n_tok)
    khi = group_max(edge_tok, node_hi[edge_node], n_tok)
    linking = tok_nodes >= 2
    mismatch = linking & (khi - klo > tol)
    conflicts.add_keys("birth_year_mismatch", np.flatnonzero(mismatch))
    # Links are edges: a key can stop linking one record (an ambiguous bridge)
    # and keep linking the others.
    act_e = linking[edge_tok] & ~mismatch[edge_tok]

    for round_ in range(_MAX_ROUNDS + 1):
        labels = bipartite_components(n_nodes, n_tok, edge_node[act_e], edge_tok[act_e])
        n_comp = int(labels.max()) + 1 if n_nodes else 0
        size = np.bincount(labels, minlength=n_comp)
        bad_by = group_max(labels, node_hi, n_comp) - group_min(labels, node_lo, n_comp) > tol
        bad_size = size > max_size
        bad = bad_by | bad_size
        if not bad.any():
            break
        if round_ == _MAX_ROUNDS:
            split = bad[labels]
            conflicts.add_groups(
                "unresolved_component",
                np.flatnonzero(split),
                _group_min_hash(labels, rec.node_hash, n_comp)[labels[split]],
            )
            act_e &= ~split[edge_node]
            labels = labels.copy()
            labels[split] = n_comp + np.arange(int(split.sum()))
            break
        e_comp = labels[edge_node]
        # Records without a birth year that join contradicting birth years are
        # ambiguous bridges: they are not linked through any key in that component.
        bridge_e = act_e & bad_by[e_comp] & unknown[edge_node]
        has_bridge = np.zeros(n_comp, dtype=bool)
        has_bridge[e_comp[bridge_e]] = True
        conflicts.add_keys("ambiguous_birth_year_bridge", _distinct(edge_tok[bridge_e]))
        act_e &= ~bridge_e
        # Otherwise cut the most shared key (ties: the first key column, then the
        # smallest value: an order that does not depend on the rows' order).
        need = bad & ~has_bridge
        cand_e = act_e & need[e_comp]
        if cand_e.any():
            degree = np.bincount(edge_tok[act_e], minlength=n_tok)
            comp_c, tok_c = e_comp[cand_e], edge_tok[cand_e]
            order = np.lexsort((tokens.rank(tok_c), -degree[tok_c], comp_c))
            comp_c, tok_c = comp_c[order], tok_c[order]
            lead = np.r_[True, comp_c[1:] != comp_c[:-1]]
            cut_comp, cut_tok = comp_c[lead], tok_c[lead]
            too_large = bad_size[cut_comp]
            conflicts.add_keys("component_too_large", cut_tok[too_large])
            conflicts.add_keys("component_birth_year_mismatch", cut_tok[~too_large])
            act_e &= ~np.isin(edge_tok, cut_tok)

    n_comp = int(labels.max()) + 1 if n_nodes else 0
    size = np.bincount(labels, minlength=n_comp)

    # matched_on: key columns whose value links the record to another record.
    link_e = act_e & (np.bincount(edge_tok[act_e], minlength=n_tok)[edge_tok] >= 2)
    bits = np.zeros(n_nodes, dtype=np.int64)
    np.bitwise_or.at(bits, edge_node[link_e], np.left_shift(1, tokens.kind(edge_tok[link_e])))
    bits[size[labels] == 1] = 0
    names = pd.Index(
        [
            "+".join(k for i, k in enumerate(keys) if m >> i & 1) or "none"
            for m in range(2 ** len(keys))
        ],
        dtype="str",
    )
    crosswalk = pd.DataFrame(
        {
            "silo": pd.Series(pd.Index(rec.silos, dtype="str")[rec.node_silo], dtype="str"),
            "source_id": rec.node_source,
            "person_id": _person_ids(rec, labels, secret),
            "matched_on": pd.Series(names[bits], dtype="str"),
        }
    )
    return Resolution(crosswalk, conflicts.table(rec, keys, node_lo))


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort + mask: faster than ``np.unique`` on large ints)."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    out: np.ndarray = ordered[keep]
    return out


def _group_min_hash(labels: np.ndarray, hashes: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(out, labels, hashes)
    return out


def _check_unique_hashes(rec: _Records) -> None:
    ordered = np.sort(rec.node_hash)
    if ordered.size and bool((ordered[1:] == ordered[:-1]).any()):  # pragma: no cover
        # Probability about n^2 / 2^65 (1e-8 for a million records).
        raise HxError("two silo records share a 64-bit id hash; please report this (ids only).")


# Domain separation: the person-id key is derived from the secret, so a secret also
# used as a pseudonymise salt never makes a person id equal a pseudonym.
_PERSON_ID_CONTEXT = b"hxmetrics/person_id/v1"


def _person_ids(rec: _Records, labels: np.ndarray, secret: bytes) -> pd.Series:
    """``"P"`` + 16 hex digits of HMAC-SHA256 of each person's representative record.

    The representative is the member whose unkeyed record hash is smallest: it does
    not depend on the rows' order or on the secret, only the id does. The id is
    ``"P" + HMAC-SHA256(K, silo + "\\x1f" + source_id).hexdigest()[:16]`` with
    ``K = HMAC-SHA256(secret, "hxmetrics/person_id/v1")``.
    """
    codes, _ = pd.factorize(labels)  # labels may skip numbers after a split
    n_persons = int(codes.max()) + 1 if codes.size else 0
    smallest = _group_min_hash(codes, rec.node_hash, n_persons)
    is_rep = rec.node_hash == smallest[codes]  # exactly one per person: hashes are unique
    rep = np.empty(n_persons, dtype=np.int64)
    rep[codes[is_rep]] = np.flatnonzero(is_rep)
    silo = pd.Series(np.asarray(rec.silos, dtype=object)[rec.node_silo[rep]], dtype="str")
    message = silo + "\x1f" + rec.node_source.iloc[rep].reset_index(drop=True)
    key = hmac.digest(secret, _PERSON_ID_CONTEXT, "sha256")
    digest = _hmac_sha256_prefixes(key, _utf8(message))
    ids = np.frombuffer(digest, dtype=">u8").astype(np.uint64)
    if _distinct(ids).size != ids.size:  # pragma: no cover
        # Probability about n^2 / 2^65 (3e-8 for a million persons).
        raise HxError("two persons share a 64-bit person id under this secret; use another.")
    return pd.Series(_format_ids(ids)[codes])


def _hmac_sha256_prefixes(key: bytes, messages: list[bytes]) -> bytes:
    """The first 8 bytes of HMAC-SHA256(key, m) of every message, concatenated.

    HMAC has no vectorised implementation in numpy, pandas or Arrow, so this is one
    loop step per person (never per row). It is RFC 2104 with the two padded key
    blocks hashed once and their SHA-256 states copied per message: the same bytes as
    :func:`hmac.digest` (checked by the tests), about four times faster.
    """
    block = key.ljust(64, b"\0")  # key is a 32-byte HMAC output: never longer than a block
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    parts = []
    for m in messages:
        h = inner.copy()
        h.update(m)
        o = outer.copy()
        o.update(h.digest())
        parts.append(o.digest()[:8])
    return b"".join(parts)


def _utf8(text: pd.Series) -> list[bytes]:
    """The UTF-8 bytes of each string (Arrow's cast when available)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is optional for pandas
        return [t.encode() for t in text.tolist()]
    out: list[bytes] = pa.array(text, type=pa.string()).cast(pa.binary()).to_pylist()
    return out


def _format_ids(hashes: np.ndarray) -> pd.Index:
    """``"P"`` + 16 lower-case hex digits per hash, without a Python loop."""
    h = hashes.astype(np.uint64)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((h[:, None] >> shifts) & _U64(15)).astype(np.intp)
    buf = np.empty((h.size, 17), dtype=np.uint8)
    buf[:, 0] = ord("P")
    buf[:, 1:] = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is optional for pandas
        return pd.Index(buf.view("S17").ravel().astype(str).astype(object), dtype="str")
    # Fixed-width ASCII: hand the bytes to Arrow as a string array, no Python objects.
    offsets = np.arange(0, 17 * (h.size + 1), 17, dtype=np.int32)
    arrow = pa.StringArray.from_buffers(h.size, pa.py_buffer(offsets), pa.py_buffer(buf))
    return pd.Index(pd.array(arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


class _Tokens:
    """Key tokens: kind = which key column; rank = order by (column, value)."""

    def __init__(self, offsets: np.ndarray, uniques: list[pd.Series]) -> None:
        self.offsets = offsets
        self.uniques = uniques
        self.n = int(offsets[-1])

    def kind(self, toks: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.searchsorted(self.offsets[1:], toks, side="right")
        return out

    def rank(self, toks: np.ndarray) -> np.ndarray:
        """Rank of each token by (key column, value); computed for these tokens only."""
        if toks.size == 0:
            return np.zeros(0, dtype=np.int64)
        kinds = self.kind(toks)
        values = np.empty(toks.size, dtype=object)
        for k in _distinct(kinds):
            sel = kinds == k
            values[sel] = self.uniques[k].to_numpy(dtype=object)[toks[sel] - self.offsets[k]]
        frame = pd.DataFrame({"kind": kinds, "value": values})
        order = frame.sort_values(["kind", "value"], kind="stable").index.to_numpy()
        key = frame.iloc[order]
        new = np.r_[
            True,
            (key["kind"].to_numpy()[1:] != key["kind"].to_numpy()[:-1])
            | (key["value"].to_numpy()[1:] != key["value"].to_numpy()[:-1]),
        ]
        rank = np.empty(toks.size, dtype=np.int64)
        rank[order] = np.cumsum(new) - 1
        return rank


class _ConflictLog:
    """Collects conflicts as (kind, key column, group, record) arrays."""

    def __init__(self, edge_node: np.ndarray, edge_tok: np.ndarray, tokens: _Tokens) -> None:
        self.edge_node = edge_node
        self.edge_tok = edge_tok
        self.tokens = tokens
        # (kind, key column or -1, token or -1, group hash or 0, record)
        self.parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add_keys(self, kind: str, toks: np.ndarray) -> None:
        if toks.size == 0:
            return
        hit = np.isin(self.edge_tok, toks)
        tok = self.edge_tok[hit]
        zeros = np.zeros(tok.size, dtype=np.uint64)
        self.parts.append(
            (_KIND_CODE[kind], self.tokens.kind(tok), tok, zeros, self.edge_node[hit])
        )

    def add_nodes(self, kind: str, nodes: np.ndarray, hashes: np.ndarray) -> None:
        self.add_groups(kind, nodes, hashes[nodes])

    def add_groups(self, kind: str, nodes: np.ndarray, groups: np.ndarray) -> None:
        if nodes.size:
            minus = np.full(nodes.size, -1, dtype=np.int64)
            self.parts.append((_KIND_CODE[kind], minus, minus, groups.astype(np.uint64), nodes))

    def table(self, rec: _Records, keys: tuple[str, ...], node_lo: np.ndarray) -> pd.DataFrame:
        columns = {
            "conflict_id": "int64",
            "kind": "str",
            "key": "str",
            "silo": "str",
            "source_id": "str",
            "birth_year": "Int64",
            "action": "str",
        }
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
        kind = np.concatenate([np.full(p[2].size, p[0]) for p in self.parts])
        key = np.concatenate([p[1] for p in self.parts])
        tok = np.concatenate([p[2] for p in self.parts])
        group_hash = np.concatenate([p[3] for p in self.parts])
        node = np.concatenate([p[4] for p in self.parts])
        # The group of a key conflict is the key value, ranked by (column, value);
        # of a record conflict, a record hash. Neither depends on the rows' order.
        group = np.zeros(kind.size, dtype=np.int64)
        is_tok = tok >= 0
        group[is_tok] = self.tokens.rank(tok[is_tok])
        by_hash = _distinct(group_hash[~is_tok])
        group[~is_tok] = np.searchsorted(by_hash, group_hash[~is_tok])
        frame = pd.DataFrame(
            {
                "k": kind,
                "key_i": key,
                "group": group,
                "silo_i": rec.node_silo[node],
                "source_id": rec.node_source.to_numpy(dtype=object)[node],
                "node": node,
            }
        ).drop_duplicates(["k", "key_i", "group", "node"])
        frame = frame.sort_values(["k", "key_i", "group", "silo_i", "source_id"], ignore_index=True)
        lead = frame[["k", "key_i", "group"]].ne(frame[["k", "key_i", "group"]].shift()).any(axis=1)
        kinds = np.array(list(CONFLICT_KINDS), dtype=object)
        actions = np.array(list(CONFLICT_KINDS.values()), dtype=object)
        key_names = np.array([*keys, None], dtype=object)
        years = node_lo[frame["node"].to_numpy()]
        k = frame["k"].to_numpy()
        return pd.DataFrame(
            {
                "conflict_id": np.cumsum(lead.to_numpy()) - 1,
                "kind": pd.Series(kinds[k], dtype="str"),
                "key": pd.Series(key_names[frame["key_i"].to_numpy()], dtype="str"),
                "silo": pd.Series(
                    np.asarray(rec.silos, dtype=object)[frame["silo_i"]], dtype="str"
                ),
                "source_id": pd.Series(frame["source_id"].to_numpy(), dtype="str"),
                "birth_year": pd.array(np.where(np.isinf(years), np.nan, years), dtype="Int64"),
                "action": pd.Series(actions[k], dtype="str"),
            }
        )


# ---------------------------------------------------------------------- evaluation


def _align(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    check_columns(crosswalk.columns, ["silo", "source_id", "person_id"], table="crosswalk")
    check_columns(truth.columns, ["silo", "source_id", "person_id"], table="truth")
    found = crosswalk[["silo", "source_id", "person_id"]].astype("str")
    true = truth[["silo", "source_id", "person_id"]].drop_duplicates().astype("str")
    dup = true.duplicated(["silo", "source_id"], keep=False)
    if bool(dup.any()):
        raise _fail(
            "truth",
            "person_id",
            "one_person_per_record",
            true.loc[dup, "source_id"],
            "Each (silo, source_id) must belong to one true person.",
        )
    return found.merge(true, on=["silo", "source_id"], how="inner", suffixes=("_found", "_true"))


def _pairs(counts: np.ndarray) -> float:
    c = counts.astype(float)
    return float(np.sum(c * (c - 1) / 2))


def resolution_scores(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Pairwise precision and recall of a crosswalk against the true persons.

    A pair of records is *found* if the crosswalk puts them in one person and
    *true* if the truth does. Precision = correct found pairs / found pairs;
    recall = correct found pairs / true pairs (both 1.0 when there are no pairs).
    Records missing from either table are counted, not scored.

    Parameters
    ----------
    crosswalk, truth : pandas.DataFrame
        Each with ``silo``, ``source_id``, ``person_id``.

    Returns
    -------
    pandas.DataFrame
        One row: ``n_records`` (scored), ``n_unmatched`` (records in only one
        table), ``n_persons_true``, ``n_persons_found``, ``true_pairs``,
        ``found_pairs``, ``correct_pairs``, ``precision``, ``recall``, ``f1``,
        ``exact_persons`` (share of true persons whose records are exactly one
        found person).

    References
    ----------
    Christen (2012), *Data Matching*, Springer, ch. 7 (pairwise precision/recall).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import resolution_scores
    >>> truth = pd.DataFrame({"silo": ["workers"] * 3, "source_id": ["a", "b", "c"],
    ...                       "person_id": ["x", "x", "y"]})
    >>> found = truth.assign(person_id=["p", "q", "q"])
    >>> resolution_scores(found, truth)[["true_pairs", "found_pairs", "precision", "recall"]]
       true_pairs  found_pairs  precision  recall
    0         1.0          1.0        0.0     0.0
    """
    both = _align(crosswalk, truth)
    n_unmatched = (
        len(crosswalk) + len(truth[["silo", "source_id"]].drop_duplicates()) - 2 * len(both)
    )
    f = pd.factorize(both["person_id_found"])[0]
    t = pd.factorize(both["person_id_true"])[0]
    cell = np.unique(f.astype(np.int64) * (t.max() + 1 if t.size else 1) + t, return_counts=True)[1]
    found_sizes = np.bincount(f) if f.size else np.zeros(0, int)
    true_sizes = np.bincount(t) if t.size else np.zeros(0, int)
    correct, found_p, true_p = _pairs(cell), _pairs(found_sizes), _pairs(true_sizes)
    precision = correct / found_p if found_p else 1.0
    recall = correct / true_p if true_p else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = exact_matches(crosswalk, truth)
    return pd.DataFrame(
        {
            "n_records": [len(both)],
            "n_unmatched": [int(n_unmatched)],
            "n_persons_true": [int(true_sizes.size)],
            "n_persons_found": [int(found_sizes.size)],
            "true_pairs": [true_p],
            "found_pairs": [found_p],
            "correct_pairs": [correct],
            "precision": [precision],
            "recall": [recall],
            "f1": [f1],
            "exact_persons": [len(exact) / true_sizes.size if true_sizes.size else 1.0],
        }
    )


def exact_matches(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """True persons whose records resolve to exactly one found person and nothing else.

    Parameters
    ----------
    crosswalk, truth : pandas.DataFrame
        Each with ``silo``, ``source_id``, ``person_id``.

    Returns
    -------
    pandas.DataFrame
        ``person_id_true``, ``person_id_found``: one row per exactly recovered person.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import exact_matches
    >>> truth = pd.DataFrame({"silo": ["workers"] * 3, "source_id": ["a", "b", "c"],
    ...                       "person_id": ["x", "x", "y"]})
    >>> exact_matches(truth.assign(person_id=["p", "p", "q"]), truth)
      person_id_true person_id_found
    0              x               p
    1              y               q
    """
    both = _align(crosswalk, truth)
    n_found = crosswalk.groupby("person_id").size().rename("n_found")
    n_true = truth[["silo", "source_id", "person_id"]].drop_duplicates().groupby("person_id").size()
    cells = both.groupby(["person_id_true", "person_id_found"]).size().rename("n").reset_index()
    cells = cells.merge(n_found.astype("int64"), left_on="person_id_found", right_index=True)
    cells = cells.merge(n_true.rename("n_true"), left_on="person_id_true", right_index=True)
    keep = (cells["n"] == cells["n_found"]) & (cells["n"] == cells["n_true"])
    out = cells.loc[keep, ["person_id_true", "person_id_found"]]
    return out.sort_values("person_id_true").reset_index(drop=True)
