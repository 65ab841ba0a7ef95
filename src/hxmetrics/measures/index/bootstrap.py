"""The person-clustered bootstrap of the HX index: resampled sums and their intervals."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from hxmetrics.measures.index.prepare import _Data

# Largest bootstrap count matrix (replicates x persons) held at once.
_MAX_CELLS = 4_000_000


def _key_hash(key: tuple[Any, ...]) -> int:
    text = repr(tuple(str(v) for v in key)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _group_rngs(seed: int, keys: list[tuple[Any, ...]]) -> list[np.random.Generator]:
    # One stream per group, keyed by the group's label: a group's resamples do
    # not change when other groups are added or removed.
    return [np.random.default_rng([seed, _key_hash(k)]) for k in keys]


def _resampled_sums(
    data: _Data, rngs: list[np.random.Generator], n_rep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Person-clustered bootstrap: (n_rep, G, J) sums, persons resampled within group."""
    g_count, j = data.n_groups, len(data.items)
    out = np.zeros((3, n_rep, g_count, j))
    for g in range(g_count):
        lo, hi = int(data.offsets[g]), int(data.offsets[g + 1])
        n = hi - lo
        stacked = np.concatenate([data.w[lo:hi], data.s[lo:hi], data.q[lo:hi]], axis=1)
        chunk = max(1, _MAX_CELLS // n)
        for start in range(0, n_rep, chunk):
            stop = min(n_rep, start + chunk)
            b = stop - start
            # n draws with replacement per replicate, tallied per person: a
            # multinomial(n, 1/n) count vector. The draws as int32 are the same
            # numbers as int64 (the generator draws 32-bit values below 2**32) in half
            # the memory, and one bincount per replicate over n bins stays in cache
            # where one over b * n bins does not: same counts, same product, faster.
            picks = rngs[g].integers(0, n, size=(b, n), dtype=np.int32)
            counts = np.empty((b, n))
            for row in range(b):
                counts[row] = np.bincount(picks[row], minlength=n)
            res = counts @ stacked
            out[0, start:stop, g] = res[:, :j]
            out[1, start:stop, g] = res[:, j : 2 * j]
            out[2, start:stop, g] = res[:, 2 * j :]
    return out[0], out[1], out[2]


def _summarise_reps(reps: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    """se and percentile interval per column of (B, G) replicates, ignoring NaN replicates."""
    g_count = reps.shape[1]
    se = np.full(g_count, np.nan)
    lo = np.full(g_count, np.nan)
    hi = np.full(g_count, np.nan)
    alpha = 1.0 - confidence
    for g in range(g_count):
        col = reps[:, g]
        col = col[np.isfinite(col)]
        if col.size >= 2:
            se[g] = col.std(ddof=1)
            lo[g], hi[g] = np.quantile(col, [alpha / 2, 1 - alpha / 2])
    return se, lo, hi
