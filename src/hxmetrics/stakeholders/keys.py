"""Match keys and secrets: normalising and pseudonymising keys, secrets for ids and salts.

A key is a roster column that identifies a person across silos (an email, a phone,
any external id). :func:`normalise_key` makes spellings of one identifier compare
equal; :func:`pseudonymise` replaces identifiers by keyed hashes (HMAC-SHA256, RFC
2104) so raw identifiers need not leave the caller. :func:`new_secret` makes the
secret of the person ids and the salt of the pseudonyms; :func:`secret_key` refuses
short or guessable ones without ever repeating them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence, Set
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, check_columns

__all__ = [
    "DEFAULT_KEYS",
    "MIN_SECRET_BYTES",
    "PSEUDONYM_PREFIX",
    "check_keys",
    "new_secret",
    "normalise_key",
    "pseudonymise",
    "secret_key",
]

#: Key columns used when none are named (those present in the rosters).
DEFAULT_KEYS: tuple[str, ...] = ("email", "phone")

#: Pseudonymised key values start with this marker; normalisation leaves them alone.
PSEUDONYM_PREFIX = "hxp:"

#: Shortest secret (person ids) or salt (:func:`pseudonymise`) accepted, in bytes.
MIN_SECRET_BYTES = 16


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
