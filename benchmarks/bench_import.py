"""What ``import hxmetrics`` costs next to ``import pandas``, in the same run.

Each import runs in a fresh interpreter (``python -X importtime -c "import X"``),
alternating pandas and hxmetrics so that both see the same machine load; the table
reports the median over the repetitions of the total import time (the cumulative
microseconds of the top-level modules in ``-X importtime``), of the process wall time,
and of the peak resident memory. The issue's target: hxmetrics within 1.5x of pandas.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TARGETS = {
    "pandas": "import pandas",
    "hxmetrics": "import hxmetrics",
    "a measure": "from hxmetrics.measures import nps",
}


def _one(code: str) -> tuple[float, float, float]:
    """(import seconds of every top-level import, wall seconds, peak RSS MiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    cumulative = 0  # microseconds, summed over the top-level (unindented) imports
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            cumulative += int(parts[1])
    return cumulative / 1e6, wall, _peak_rss(code)


def _peak_rss(code: str) -> float:
    """Peak resident memory (MiB) of a process that runs ``code`` and reports it."""
    probe = f"{code}\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[-1]) / 1024


def run(quick: bool = False) -> str:
    reps = 3 if quick else 11
    samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in TARGETS}
    for code in TARGETS.values():  # warm the file cache once
        _one(code)
    for _ in range(reps):
        for name, code in TARGETS.items():
            samples[name].append(_one(code))
    med = {
        name: tuple(statistics.median(s[i] for s in rows) for i in range(3))
        for name, rows in samples.items()
    }
    base = med["pandas"]
    lines = [
        "## Import time",
        "",
        f"Each import in a fresh interpreter, `python -X importtime -c ...`, the three "
        f"alternating, {reps} times; medians. Import = the cumulative times of the "
        "top-level modules reported by `-X importtime` (the interpreter's own start-up "
        "imports, a few ms, included for all three); wall = the whole process; peak = its "
        "maximum resident memory.",
        "",
        "| what | import (s) | ratio to pandas | wall (s) | peak RSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, code in TARGETS.items():
        imp, wall, rss = med[name]
        lines.append(f"| `{code}` | {imp:.3f} | {imp / base[0]:.2f}x | {wall:.3f} | {rss:.0f} |")
    ratio = med["hxmetrics"][0] / base[0]
    verdict = "met" if ratio <= 1.5 else "NOT met"
    lines += [
        "",
        f"- `import hxmetrics` / `import pandas` = **{ratio:.2f}x** (target 1.5x: {verdict})",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
