"""What the side-by-side benchmarks share: one timed call, interleaved rounds, a table.

Each case is ``(name, ours, theirs)``: two callables doing the same work. Rounds are
interleaved (a busy moment on a shared machine slows both sides alike) and reported as
medians; the CPU-time ratio (process time) is the steadier one on a shared machine.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

Case = tuple[str, Callable[[], Any], Callable[[], Any]]


def timed(fn: Callable[[], Any], wall: list[float], cpu: list[float]) -> None:
    """Run ``fn`` once after a garbage collection; append its wall and CPU seconds."""
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    cpu.append(time.process_time() - start_cpu)
    wall.append(time.perf_counter() - start)


def side_by_side(
    cases: Sequence[Case], sides: tuple[str, str], n_rounds: int
) -> tuple[dict[tuple[str, str], list[float]], dict[tuple[str, str], list[float]]]:
    """Wall and CPU seconds of every case's two sides, over interleaved rounds."""
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(n_rounds):
        for name, ours, theirs in cases:
            for who, fn in zip(sides, (ours, theirs), strict=True):
                timed(fn, wall.setdefault((name, who), []), cpu.setdefault((name, who), []))
    return wall, cpu


def ratio_rows(
    cases: Sequence[Case],
    wall: dict[tuple[str, str], list[float]],
    cpu: dict[tuple[str, str], list[float]],
    sides: tuple[str, str],
    digits: int = 3,
) -> list[str]:
    """``| name | ours (s) | theirs (s) | ratio | ratio of CPU times |`` per case."""
    ours_side, theirs_side = sides
    rows = []
    for name, _, _ in cases:
        ours_s = statistics.median(wall[(name, ours_side)])
        theirs_s = statistics.median(wall[(name, theirs_side)])
        ratio_cpu = statistics.median(cpu[(name, ours_side)]) / statistics.median(
            cpu[(name, theirs_side)]
        )
        rows.append(
            f"| {name} | {ours_s:.{digits}f} | {theirs_s:.{digits}f} | {ours_s / theirs_s:.2f} "
            f"| {ratio_cpu:.2f} |"
        )
    return rows
