"""Person ids: keyed hashes (HMAC-SHA256) of one member record per person.

Also the small sorted-hash helpers that identity resolution shares with them.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError
from hxmetrics.stakeholders._rosters import _U64, _Records


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
