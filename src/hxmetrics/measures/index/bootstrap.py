"""The person-clustered bootstrap of the HX index: resampled sums and their intervals."""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from hxmetrics.measures.index.prepare import _Data

# Largest bootstrap count matrix (replicates x persons) held at once (per thread).
_MAX_CELLS = 4_000_000
# Threads for the tallies at most. One (off) until the gain is measured on free cores:
# on the shared 2-core machine of issue 11 (CPU shared per session) two threads gave
# no gain in wall time and ~5-10% more CPU; benchmarks/bench_index.py
# bootstrap_old_new() times 1 and 2 threads side by side. Any value gives the same
# sums.
_MAX_WORKERS = 1
# The smallest problem (replicates x persons) worth threads.
_PARALLEL_CELLS = 8_000_000


def _key_hash(key: tuple[Any, ...]) -> int:
    text = repr(tuple(str(v) for v in key)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _group_rngs(seed: int, keys: list[tuple[Any, ...]]) -> list[np.random.Generator]:
    # One stream per group, keyed by the group's label: a group's resamples do
    # not change when other groups are added or removed.
    return [np.random.default_rng([seed, _key_hash(k)]) for k in keys]


def _tally(picks: np.ndarray, stacked: np.ndarray) -> np.ndarray:
    """Resampled sums (b, C) of one chunk: each replicate's count per person x stats."""
    b, n = picks.shape
    # n draws with replacement per replicate, tallied per person: a multinomial(n, 1/n)
    # count vector. One bincount per replicate over n bins stays in cache where one
    # over b * n bins does not.
    counts = np.empty((b, n))
    for row in range(b):
        counts[row] = np.bincount(picks[row], minlength=n)
    return counts @ stacked


def _workers(n_cells: int) -> int:
    """Threads for the tallies: one per core up to ``_MAX_WORKERS``, one for small problems."""
    if n_cells < _PARALLEL_CELLS:
        return 1
    return max(1, min(_MAX_WORKERS, os.cpu_count() or 1))


def _resampled_sums(
    data: _Data,
    rngs: list[np.random.Generator],
    n_rep: int,
    *,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Person-clustered bootstrap: (n_rep, G, J) sums, persons resampled within group.

    Returns the resampled sums of weights, weighted scores and weighted squared
    scores. The draws of each group come from its own
    generator, in order, on the calling thread; the tallies and products (numpy's
    bincount and BLAS release the GIL) run on ``workers`` threads, at most
    ``workers`` chunks in flight. Each chunk is the same computation on the same
    numbers whatever the thread count, so the result is identical with one thread or
    several. (Multiplying fewer columns, e.g. without the squares, is not done: it
    saves little, the product being bound by reading the counts, and BLAS may round
    a column differently when the matrix has another width.)
    """
    g_count, j = data.n_groups, len(data.items)
    out = np.zeros((3, n_rep, g_count, j))
    if workers is None:
        workers = _workers(n_rep * int(data.offsets[-1]))

    def store(g: int, start: int, res: np.ndarray) -> None:
        stop = start + len(res)
        for k in range(3):
            out[k, start:stop, g] = res[:, k * j : (k + 1) * j]

    def chunks() -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        for g in range(g_count):
            lo, hi = int(data.offsets[g]), int(data.offsets[g + 1])
            n = hi - lo
            stacked = np.concatenate([data.w[lo:hi], data.s[lo:hi], data.q[lo:hi]], axis=1)
            chunk = max(1, _MAX_CELLS // n)
            for start in range(0, n_rep, chunk):
                b = min(n_rep, start + chunk) - start
                # int32 draws are the same numbers as int64 (the generator draws
                # 32-bit values below 2**32) in half the memory.
                picks = rngs[g].integers(0, n, size=(b, n), dtype=np.int32)
                yield g, start, picks, stacked

    if workers <= 1:
        for g, start, picks, stacked in chunks():
            store(g, start, _tally(picks, stacked))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque[tuple[int, int, Future[np.ndarray]]] = deque()
            for g, start, picks, stacked in chunks():
                pending.append((g, start, pool.submit(_tally, picks, stacked)))
                while len(pending) >= workers:
                    g0, s0, done = pending.popleft()
                    store(g0, s0, done.result())
            for g0, s0, done in pending:
                store(g0, s0, done.result())
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
