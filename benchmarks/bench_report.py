"""Benchmark: the whole HTML report, end to end, from the sample to 10M responses.

Run from the repository root::

    python -m benchmarks.run report                  # writes its section of docs/benchmarks.md
    python -m benchmarks.bench_report --sizes 100000  # one size, prints the table
    python -m benchmarks.bench_report --child DIR     # one timed run on a data folder (JSON)

The organisations come from :func:`hxmetrics.datasets.simulate_organisation` (the
sample's generator, vectorised: a million persons take about a minute). The number of
survey answers per person is set by scaling the relational survey rates
(``experience={"survey_rate": ...}``), calibrated on a small organisation so that the
responses table has about the requested number of rows; everything else (episodes,
hybrids, events, purchases, tickets, key noise) follows the sample's defaults. Each
organisation is written once to Parquet under ``$HXMETRICS_BENCH_DIR`` (default
``/tmp/hxmetrics-bench-report``) and reused.

Each size runs in a fresh Python process, as ``hxmetrics report --data DIR`` would:
read the Parquet files, :func:`hxmetrics.report.main.build_report` (validate,
resolve, attribute, every section), then ``Report.write`` (the privacy guard over
every input identifier, then the file). The process's peak resident memory
(``ru_maxrss``) is the memory figure: it includes the tables read. Each step is timed
on its own; the sections are timed one by one (the report's progress steps).

Target (issue 10): the sample in seconds; 10M responses and 1M persons within 2
minutes and 6 GB on a 2-core, 24 GB machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_BENCH_DIR = Path(os.environ.get("HXMETRICS_BENCH_DIR", "/tmp/hxmetrics-bench-report"))
# (persons, survey answer rows): the sample's shape, then x30 and x600 the answers.
SIZES = ((100_000, 1_000_000), (1_000_000, 10_000_000))
QUICK_SIZES = ((3_000, 30_000),)
_DEFAULT_RATES = {"customer": 0.2, "worker": 0.6, "partner": 0.4}


def _rows_per_person(scale: float, *, n_people: int = 20_000) -> float:
    from hxmetrics.datasets import simulate_organisation

    rates = {k: v * scale for k, v in _DEFAULT_RATES.items()}
    org = simulate_organisation(n_people, seed=7, experience={"survey_rate": rates})
    return len(org.tables["responses"]) / n_people


def survey_scale(n_people: int, n_responses: int) -> float:
    """The factor on the survey rates that gives about ``n_responses`` answer rows.

    Answer rows grow linearly in the rate (relational surveys) plus a constant part
    (transactional surveys after purchases), so two small simulations fix the line.
    """
    lo, hi = 1.0, 3.0
    y_lo, y_hi = _rows_per_person(lo), _rows_per_person(hi)
    slope = (y_hi - y_lo) / (hi - lo)
    want = n_responses / n_people
    return max(0.05, lo + (want - y_lo) / slope)


def make_data(n_people: int, n_responses: int) -> Path:
    """Simulate an organisation of this size once and write it as Parquet; return the folder."""
    folder = _BENCH_DIR / f"p{n_people}_r{n_responses}"
    done = folder / "DONE"
    if done.exists():
        return folder
    from hxmetrics.datasets import simulate_organisation

    scale = survey_scale(n_people, n_responses)
    rates = {k: v * scale for k, v in _DEFAULT_RATES.items()}
    t0 = time.perf_counter()
    org = simulate_organisation(n_people, seed=11, experience={"survey_rate": rates})
    seconds = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in org.tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    rows = {name: len(frame) for name, frame in org.tables.items()}
    done.write_text(json.dumps({"rows": rows, "scale": scale, "simulate_s": seconds}))
    return folder


class _Steps:
    """A stand-in for :class:`hxmetrics.report.Progress` that records each step's time."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float, float]] = []

    def step(self, label: str) -> Any:
        steps = self

        class _Step:
            def __enter__(self) -> None:
                self.t0 = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                steps.times.append((label, time.perf_counter() - self.t0, rss))

        return _Step()


def child(folder: Path, *, profile: Path | None = None) -> dict[str, Any]:
    """One timed report on a data folder, in this process (call it in a fresh one)."""
    from hxmetrics.report.main import build_report, read_tables

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    tables = read_tables(folder)
    out["read_s"] = time.perf_counter() - t0
    out["rows"] = {k: len(v) for k, v in tables.items()}
    out["rss_after_read_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = _Steps()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    report = build_report(tables, source="benchmark", progress=steps)  # type: ignore[arg-type]
    out["build_s"] = time.perf_counter() - t0
    out["n_forbidden"] = len(report.forbidden)
    target = folder / "report.html"
    t0 = time.perf_counter()
    report.write(target)
    out["write_s"] = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    out["html_bytes"] = target.stat().st_size
    out["steps"] = steps.times
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_child(folder: Path) -> dict[str, Any]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_report", "--child", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"report on {folder} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def _sample_folder() -> Path:
    folder = _BENCH_DIR / "sample"
    if not (folder / "DONE").exists():
        from hxmetrics.datasets import load_sample

        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in load_sample().tables.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "DONE").write_text("{}")
    return folder


def _guard_section(n_ids: int) -> str:
    """The identifier guard alone: a report-sized page against ``n_ids`` identifiers."""
    import numpy as np

    from hxmetrics.report.privacy import privacy_guard

    rng = np.random.default_rng(3)
    numbers = rng.choice(10**9, size=n_ids, replace=False)
    ids: list[str] = []
    for k, x in enumerate(numbers.tolist()):
        kind = k % 4
        ids.append(
            f"u{x}@example.org"
            if kind == 0
            else f"+1 ({x % 1000:03d}) {x // 1000 % 1000:03d}-{x % 10000:04d}"
            if kind == 1
            else f"C{x:09d}"
            if kind == 2
            else f"P{x:012x}"
        )
    cell = "<td>{:,}</td><td>{:.1f}</td><td>[{:.1f}, {:.1f}]</td>"
    rows = "".join(
        "<tr>" + cell.format(int(v), v / 7, v / 9, v / 5) + "</tr>"
        for v in rng.random(20_000) * 1e6
    )
    page = f"<html><body><section id='s'><table>{rows}</table></section></body></html>"
    t0 = time.perf_counter()
    privacy_guard(page, forbidden=ids)
    seconds = time.perf_counter() - t0
    return (
        f"Identifier guard alone: a {len(page) / 2**20:.1f} MiB page against {n_ids:,} "
        f"identifiers (emails, phones, record ids, person ids): {seconds:.2f} s "
        f"({seconds / n_ids * 1e6:.2f} µs per identifier)."
    )


def _table(results: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| data | persons | responses | read (s) | build (s) | write + guard (s) | "
        "total (s) | peak RSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in results:
        persons = r.get("persons", "")
        total = r["read_s"] + r["build_s"] + r["write_s"]
        lines.append(
            f"| {label} | {persons:,} | {r['rows']['responses']:,} | {r['read_s']:.1f} | "
            f"{r['build_s']:.1f} | {r['write_s']:.1f} | **{total:.1f}** | "
            f"{r['peak_rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def _steps_table(results: list[tuple[str, dict[str, Any]]]) -> str:
    labels = [s[0] for s in results[-1][1]["steps"]]
    head = "| step | " + " | ".join(label for label, _ in results) + " |"
    lines = [head, "| --- |" + " ---: |" * len(results)]
    for k, step in enumerate(labels):
        cells = []
        for _, r in results:
            s = r["steps"][k] if k < len(r["steps"]) else None
            cells.append(f"{s[1]:.1f} s, {s[2]:,.0f} MiB" if s else "")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(quick: bool = False, sizes: tuple[tuple[int, int], ...] | None = None) -> str:
    """Time the report at each size (fresh process each); return a Markdown section."""
    chosen = sizes if sizes is not None else (QUICK_SIZES if quick else SIZES)
    results: list[tuple[str, dict[str, Any]]] = []
    sample = _run_child(_sample_folder())
    sample["persons"] = 3000
    results.append(("bundled sample", sample))
    for n_people, n_responses in chosen:
        folder = make_data(n_people, n_responses)
        r = _run_child(folder)
        r["persons"] = n_people
        results.append((f"simulated, {n_responses / 1e6:g}M answers", r))
        print(f"[bench_report] {n_people} persons: {r}", file=sys.stderr, flush=True)
    guard = _guard_section(20_000 if quick else 2_000_000)
    return "\n\n".join(
        [
            "## The HTML report, end to end",
            "Each row is one fresh process running what `hxmetrics report --data DIR` runs: "
            "read the Parquet tables, `build_report` (validate, resolve identities, "
            "attribute every exhaust row, every section), then `Report.write` (the "
            "identifier guard over every email, phone, record id and person id of the "
            "input, then the file). Peak RSS is the process's `ru_maxrss` (tables "
            "included). Organisations from `simulate_organisation` with the survey rates "
            "scaled to the number of answers (see `benchmarks/bench_report.py`). Target "
            "(issue 10): the sample in seconds; 10M answers and 1M persons within 120 s "
            "and 6 GiB on 2 cores.",
            _table(results),
            "Time and peak RSS after each step (the report's progress steps):",
            _steps_table(results),
            guard,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=Path, help="time one report on this data folder")
    parser.add_argument("--profile", type=Path, help="with --child: write cProfile stats here")
    parser.add_argument("--make", nargs=2, type=int, metavar=("PERSONS", "RESPONSES"))
    parser.add_argument("--sizes", nargs="*", type=int, help="persons; answers = 10 x persons")
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, profile=args.profile)))
        return 0
    if args.make is not None:
        print(make_data(*args.make))
        return 0
    sizes = tuple((p, 10 * p) for p in args.sizes) if args.sizes else None
    print(run(sizes=sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
