"""Benchmark: the cross-group HX index on 100,000 persons (about 1.2 million long
answer rows), its person-clustered bootstrap, and the sensitivity Monte Carlo.

Run from the repository root::

    python -c "import benchmarks.bench_index as b; print(b.run())"
    python -c "import benchmarks.bench_index as b; print(b.bootstrap_old_new())"

The second times the bootstrap kernel (``_resampled_sums``) before and after issue 11
side by side in one run, on the same data and seeds, and checks that both give the
same sums.

The data are generated here (vectorised, seeded): six stakeholder groups, persons
with one to three responses to the six ``hx_core`` items on 1-5. Baselines:

- the cheapest point estimate, a bare pandas ``groupby([group, item]).score.mean()``
  (no checks, no weights, no normalisation);
- a straightforward bootstrap loop: per replicate, sample persons with replacement
  within each group with pandas, merge back their answers and recompute the item
  means (timed over a few replicates, reported per replicate).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.measures.index import hx_index, sensitivity
from hxmetrics.measures.index.bootstrap import _group_rngs, _resampled_sums
from hxmetrics.measures.index.prepare import _Data, _prepare

ITEMS = [f"hx{j}" for j in range(1, 7)]


def make_responses(n_persons: int, n_groups: int = 6, seed: int = 0) -> pd.DataFrame:
    """Long hx_core answers: group-level shifts of a 1-5 Likert response."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n_persons)
    level = rng.normal(0.3 * group / n_groups, 0.8, n_persons)
    n_resp = rng.integers(1, 4, n_persons)
    person = np.repeat(np.arange(n_persons), n_resp)
    lat = np.repeat(level, n_resp)
    n_r = person.size
    raw = 3.2 + lat[:, None] + rng.normal(0, 0.9, (n_r, len(ITEMS)))
    score = np.clip(np.rint(raw), 1, 5)
    return pd.DataFrame(
        {
            "response_id": np.repeat(np.arange(n_r), len(ITEMS)),
            "person_id": np.repeat(person, len(ITEMS)),
            "grp": pd.Series(
                np.repeat(np.char.add("g", group[person].astype(str)), len(ITEMS)), dtype="str"
            ),
            "item": pd.Series(np.tile(ITEMS, n_r), dtype="str"),
            "score": score.ravel(),
        }
    )


def _time(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _loop_bootstrap(data: pd.DataFrame, n_rep: int, seed: int = 0) -> list[pd.Series]:
    rng = np.random.default_rng(seed)
    persons = data[["grp", "person_id"]].drop_duplicates()
    out = []
    for _ in range(n_rep):
        picked = persons.groupby("grp", group_keys=False).sample(
            frac=1.0, replace=True, random_state=rng
        )
        rep = picked.merge(data, on=["grp", "person_id"])
        out.append(rep.groupby(["grp", "item"])["score"].mean())
    return out


def run(quick: bool = False) -> str:
    """Time the index, its bootstrap and the sensitivity analysis; return Markdown."""
    n_persons = 2_000 if quick else 100_000
    n_boot = 100 if quick else 1_000
    n_draws = 100 if quick else 1_000
    n_loop = 2 if quick else 5
    data = make_responses(n_persons)
    n_rows = len(data)
    kw = {"by": "grp", "person": "person_id", "min_n": 1}

    t_bare, _ = _time(lambda: data.groupby(["grp", "item"])["score"].mean(), repeat=3)
    t_point, _ = _time(lambda: hx_index(data, ITEMS, n_resamples=0, **kw), repeat=3)
    t_boot, _ = _time(
        lambda: hx_index(data, ITEMS, n_resamples=n_boot, random_state=0, **kw), repeat=3
    )
    t_loop, _ = _time(lambda: _loop_bootstrap(data, n_loop))
    t_sens, _ = _time(
        lambda: sensitivity(
            data, ITEMS, n_resamples=n_draws, weight_noise=0.2, random_state=0, **kw
        )
    )
    t_polars = float("nan")
    try:
        import polars as pl

        pdata = pl.from_pandas(data)
        t_polars, _ = _time(lambda: hx_index(pdata, ITEMS, n_resamples=0, **kw), repeat=3)
    except ImportError:  # pragma: no cover - polars is a test extra
        pass
    mem_boot = _peak_mb(lambda: hx_index(data, ITEMS, n_resamples=n_boot, random_state=0, **kw))
    mem_sens = _peak_mb(
        lambda: sensitivity(
            data, ITEMS, n_resamples=n_draws, weight_noise=0.2, random_state=0, **kw
        )
    )

    boot_per_rep = max(t_boot - t_point, 1e-9) / n_boot
    loop_per_rep = t_loop / n_loop
    speedup = (
        f"**{loop_per_rep / boot_per_rep:.0f}x** faster per replicate"
        if t_boot > t_point
        else "the bootstrap cost is below the timing noise at this size"
    )
    rows = [
        ("bare pandas groupby mean (baseline)", t_bare, 1.0, "-"),
        ("hx_index, point estimate (n_resamples=0), pandas", t_point, t_point / t_bare, "-"),
        ("hx_index, point estimate, Polars input", t_polars, t_polars / t_bare, "-"),
        (f"hx_index, n_resamples={n_boot}", t_boot, t_boot / t_bare, f"{mem_boot:.0f}"),
        (
            f"sensitivity, n_resamples={n_draws} (20 scenarios, resampling, weight noise)",
            t_sens,
            t_sens / t_bare,
            f"{mem_sens:.0f}",
        ),
    ]
    table = "\n".join(
        f"| {name} | {sec:.3f} | {ratio:.1f}x | {mem} |" for name, sec, ratio, mem in rows
    )
    return f"""## HX index (`measures.index`)

{n_persons:,} persons in 6 groups, {n_rows:,} long answer rows (6 items, 1-3 responses
per person). Best of 3 runs, except the sensitivity and the loop (one run); peak memory is
what `tracemalloc` traces during the call (numpy and pandas buffers).

| step | seconds | ratio to bare groupby | peak MB |
| --- | ---: | ---: | ---: |
{table}

Bootstrap cost per replicate: vectorised (count matrix x person sufficient
statistics) {boot_per_rep * 1e3:.2f} ms, versus {loop_per_rep * 1e3:.0f} ms for a pandas
loop that samples persons, merges their answers back and regroups (measured over
{n_loop} replicates): {speedup}.
"""


# ------------------------------------------------------- bootstrap kernel, old vs new


def _old_resampled_sums(
    data: _Data, rngs: list[np.random.Generator], n_rep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel before issue 11 (commit bb59649), kept to time it side by side."""
    g_count, j = data.n_groups, len(data.items)
    out = np.zeros((3, n_rep, g_count, j))
    for g in range(g_count):
        lo, hi = int(data.offsets[g]), int(data.offsets[g + 1])
        n = hi - lo
        stacked = np.concatenate([data.w[lo:hi], data.s[lo:hi], data.q[lo:hi]], axis=1)
        chunk = max(1, 4_000_000 // n)
        for start in range(0, n_rep, chunk):
            stop = min(n_rep, start + chunk)
            b = stop - start
            picks = rngs[g].integers(0, n, size=(b, n), dtype=np.int32)
            counts = np.empty((b, n))
            for row in range(b):
                counts[row] = np.bincount(picks[row], minlength=n)
            res = counts @ stacked
            out[0, start:stop, g] = res[:, :j]
            out[1, start:stop, g] = res[:, j : 2 * j]
            out[2, start:stop, g] = res[:, 2 * j :]
    return out[0], out[1], out[2]


def bootstrap_old_new(n_persons: int = 200_000, n_resamples: int = 300, repeat: int = 3) -> str:
    """Time the bootstrap kernel before and after, alternating, on the same data and seeds.

    CPU seconds (``time.process_time``, all threads) and wall seconds, best of
    ``repeat``; the new kernel's sums are checked equal to the old ones.
    """
    data = make_responses(n_persons)
    d = _prepare(
        data,
        ITEMS,
        group_cols=["grp"],
        person="person_id",
        weights=None,
        response="response_id",
        scale=(1, 5),
        module_items=[],
        need_matrix=False,
    )

    def old() -> Any:
        return _old_resampled_sums(d, _group_rngs(0, d.key_tuples()), n_resamples)

    def new(workers: int | None) -> Any:
        return _resampled_sums(d, _group_rngs(0, d.key_tuples()), n_resamples, workers=workers)

    runs: dict[str, list[tuple[float, float]]] = {}
    results: dict[str, Any] = {}
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("old (before issue 11)", old),
        ("new, one thread", lambda: new(1)),
        ("new, 2 threads", lambda: new(2)),
    ]
    for _ in range(repeat):
        for name, fn in cases:
            w0, c0 = time.perf_counter(), time.process_time()
            results[name] = fn()
            runs.setdefault(name, []).append((time.perf_counter() - w0, time.process_time() - c0))
    ref = results["old (before issue 11)"]
    for name, res in results.items():
        if not all(np.array_equal(a, b) for a, b in zip(ref, res, strict=True)):
            raise AssertionError(f"{name}: sums differ from the old kernel")
    base_wall = min(w for w, _ in runs["old (before issue 11)"])
    base_cpu = min(c for _, c in runs["old (before issue 11)"])
    rows = []
    for name, _ in cases:
        wall = min(w for w, _ in runs[name])
        cpu = min(c for _, c in runs[name])
        rows.append(
            f"| {name} | {wall:.2f} | {base_wall / wall:.2f}x | {cpu:.2f} | {base_cpu / cpu:.2f}x |"
        )
    table = "\n".join(rows)
    return f"""### HX index bootstrap kernel, before and after (one run)

{d.n_persons.sum():,} persons in {d.n_groups} groups, {n_resamples} replicates; best of
{repeat} alternating runs; sums identical (checked).

| kernel | wall s | speed-up (wall) | CPU s | speed-up (CPU) |
| --- | ---: | ---: | ---: | ---: |
{table}
"""
