"""Run the benchmarks and write docs/benchmarks.md.

    python -m benchmarks.run            # every bench_*.py module, full sizes
    python -m benchmarks.run nps clv    # only these; other sections are kept
    python -m benchmarks.run --quick    # tiny sizes: checks that they run

Each ``benchmarks/bench_<name>.py`` has ``run(quick: bool = False) -> str`` returning
a Markdown section. Ratios are measured side by side in one run; absolute times on a
shared machine are noise, so read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata as md
import os
import platform
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "benchmarks.md"
PACKAGES = [
    "hxmetrics",
    "numpy",
    "pandas",
    "scipy",
    "narwhals",
    "polars",
    "duckdb",
    "pyarrow",
    "pyspark",
    "statsmodels",
    "lifetimes",
]


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown"
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            continue
    threads = ", ".join(
        f"{k}={os.environ[k]}"
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        if k in os.environ
    )
    return (
        f"- Environment: {threads or 'BLAS threads not limited'}\n"
        f"- Machine: {cpu}, {os.cpu_count()} cores, {mem} RAM, {platform.system()} "
        f"{platform.release()}\n"
        f"- Python {platform.python_version()}; {', '.join(versions)}\n"
        f"- Run: {dt.date.today().isoformat()}"
    )


def section(name: str, body: str) -> str:
    return f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"of {available()}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes; do not write docs")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    fresh = {}
    for name in names:
        start = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        fresh[name] = module.run(quick=args.quick).strip()
        print(f"[bench] {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.quick:
        for name in names:
            print(fresh[name])
        return 0
    # Read the file only now, not before the runs (which can take an hour): a section
    # written meanwhile by another run or by hand is kept, and only the run ones replaced.
    old = OUT.read_text() if OUT.exists() else ""
    sections = dict(re.findall(r"<!-- bench:(\w+) -->\n(.*?)\n<!-- /bench:\1 -->", old, re.S))
    sections.update(fresh)
    header = (
        "# Benchmarks\n\n"
        "Written by `python -m benchmarks.run` (see `benchmarks/README.md`). Every ratio\n"
        "compares runs made side by side in the same process on the same data; absolute\n"
        "times on a shared machine are noise, the ratios are the result.\n\n"
        f"{machine()}\n"
    )
    if "<!-- bench:" in old and set(names) != set(available()):
        # The machine and run lines describe a run of every benchmark: kept as they were
        # when only some ran (each section states its own conditions).
        header = old[: old.index("<!-- bench:")].rstrip("\n") + "\n"
    body = "\n\n".join(section(n, sections[n]) for n in sorted(sections))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(f"{header}\n{body}\n")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
