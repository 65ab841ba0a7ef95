"""Journeys on millions of events, side by side with the naive per-person loop.

    python -m benchmarks.bench_journeys            # 1,000,000 events both ways, then 10M
    python -m benchmarks.bench_journeys --quick    # 100,000 events both ways
    python -m benchmarks.run journeys              # the same section into docs/benchmarks.md

Events as attributed events come (``person_id`` categorical, as
:func:`hxmetrics.stakeholders.attribute` returns it; ``timestamp``; ``touchpoint``, 8
touchpoints): 20 events per person on average over a year, in bursts (a contact a few
minutes after the previous one with probability 0.6, else hours or days later), so that
sessions have 2.5 contacts on average. Two ways to the transition counts:

* hxmetrics: :func:`hxmetrics.measures.journeys.journeys` (sessions, the whole transition
  table with persons per cell and suppression, the top paths; ``min_n=5``);
* the naive way: sort, ``groupby("person_id").apply`` of a Python loop over each
  person's contacts that splits sessions at 30 minutes and counts transitions in a
  dict (transitions only: no paths, no persons per cell).

The counts are checked equal before anything is timed. Measured in one process,
interleaved rounds, median; ratio = hxmetrics / naive (below 1: faster). At 10M events
hxmetrics alone is timed (the naive loop would take many minutes on the shared machine;
its time is the 1M time scaled, said so in the table).
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import timed

TOUCHPOINTS = ("app", "web", "store", "help_desk", "chat", "phone", "email", "portal")
GAP = pd.Timedelta(minutes=30)


def make_events(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` events of ``n / 20`` persons in bursts (see the module notes)."""
    rng = np.random.default_rng(seed)
    n_persons = max(1, n // 20)
    person = np.sort(rng.integers(0, n_persons, n))
    minutes = np.where(rng.random(n) < 0.6, rng.integers(1, 20, n), rng.integers(60, 20_000, n))
    first = np.r_[True, person[1:] != person[:-1]]
    step = np.where(first, rng.integers(0, 60 * 24 * 30, n), minutes).astype(np.int64)
    # Running sum restarted at each person: cumsum minus the cumsum at the person's start.
    total = np.cumsum(step)
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    offset = total - total[start] + step[start]
    stamps = np.datetime64("2025-01-01", "ns") + offset.astype("timedelta64[m]")
    order = rng.permutation(n)  # the rows in no particular order
    ids = pd.Categorical.from_codes(
        person[order].astype(np.int32),
        categories=pd.Index([f"P{i:08d}" for i in range(n_persons)], dtype="str"),
    )
    return pd.DataFrame(
        {
            "person_id": ids,
            "timestamp": stamps[order],
            "touchpoint": pd.Categorical.from_codes(
                rng.integers(0, len(TOUCHPOINTS), n).astype(np.int8),
                categories=pd.Index(TOUCHPOINTS, dtype="str"),
            ),
        }
    )


def naive(events: pd.DataFrame) -> Counter[tuple[str, str]]:
    """Per person, a loop: the obvious way."""
    counts: Counter[tuple[str, str]] = Counter()
    gap = GAP.to_timedelta64()

    def walk(rows: pd.DataFrame) -> None:
        previous, last = "(start)", None
        for t, tp in zip(rows["timestamp"].to_numpy(), rows["touchpoint"].astype(str), strict=True):
            if last is not None and t - last > gap:
                counts[(previous, "(end)")] += 1
                previous = "(start)"
            counts[(previous, tp)] += 1
            previous, last = tp, t
        counts[(previous, "(end)")] += 1

    named = events.assign(name=events["touchpoint"].astype(str))
    ordered = named.sort_values(["person_id", "timestamp", "name"], kind="stable")
    ordered.groupby("person_id", observed=True, sort=False)[["timestamp", "touchpoint"]].apply(walk)
    return counts


def ours(events: pd.DataFrame) -> Any:
    from hxmetrics.measures.journeys import journeys

    return journeys(events, gap=GAP, min_n=5)


def _check(events: pd.DataFrame) -> None:
    """A wrong result must not be timed: the same counts as the loop."""
    from hxmetrics.measures.journeys import journeys

    got = journeys(events, gap=GAP, min_n=None).transitions
    mine = {(f, t): int(n) for f, t, n in got[["from", "to", "n"]].itertuples(index=False)}
    assert mine == dict(naive(events)), "journeys and the naive loop disagree"


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run(quick: bool = False) -> str:
    """Time journeys against the naive loop; return a Markdown section."""
    n, n_rounds = (100_000, 3) if quick else (1_000_000, 3)
    events = make_events(n)
    _check(events.iloc[: min(n, 200_000)])
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for _ in range(n_rounds):
        timed(lambda: ours(events), wall.setdefault("ours", []), cpu.setdefault("ours", []))
        timed(lambda: naive(events), wall.setdefault("naive", []), cpu.setdefault("naive", []))
    result = ours(events)
    sessions = int(result.sessions["n_sessions"].iloc[0])
    ours_s, naive_s = statistics.median(wall["ours"]), statistics.median(wall["naive"])
    ratio_cpu = statistics.median(cpu["ours"]) / statistics.median(cpu["naive"])
    lines = [
        "## Journeys (sessions, transitions, paths)",
        "",
        f"{n:,} events of {n // 20:,} persons ({sessions:,} sessions at a 30-minute gap), "
        f"8 touchpoints; median seconds over {n_rounds} interleaved rounds; counts checked",
        "equal to the naive loop first. Ratio = hxmetrics / naive.",
        "",
        "| events | hxmetrics `journeys` (s) | naive groupby-apply loop (s) | ratio "
        "| ratio of CPU times |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {n:,} | {ours_s:.2f} | {naive_s:.2f} | {ours_s / naive_s:.3f} | {ratio_cpu:.3f} |",
    ]
    if not quick:
        big = 10_000_000
        del events
        gc.collect()
        events = make_events(big, seed=1)
        w: list[float] = []
        c: list[float] = []
        timed(lambda: ours(events), w, c)
        scaled = naive_s * big / n
        lines.append(
            f"| {big:,} | {w[0]:.2f} | ~{scaled:.0f} (1M time x 10, not run) "
            f"| ~{w[0] / scaled:.3f} | |"
        )
        lines += ["", f"Peak resident memory of the process: {_peak_gib():.2f} GiB."]
    lines += [
        "",
        "hxmetrics computes more than the loop (persons per transition cell, suppression,",
        "sessions per person, the top paths); the loop counts transitions only.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    section = run(quick="--quick" in sys.argv[1:])
    title, rest = section.split("\n", 1)
    from benchmarks.run import machine  # the one machine description of the benchmarks

    print(f"{title}\n\n{machine()}\n{rest}")
