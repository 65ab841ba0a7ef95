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
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
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
    org = simulate_organisation(n_people, random_state=7, experience={"survey_rate": rates})
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
    org = simulate_organisation(n_people, random_state=11, experience={"survey_rate": rates})
    seconds = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in org.tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    rows = {name: len(frame) for name, frame in org.tables.items()}
    done.write_text(json.dumps({"rows": rows, "scale": scale, "simulate_s": seconds}))
    return folder


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Steps:
    """A stand-in for :class:`hxmetrics.report.Progress` that records each step's time."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float, float, float]] = []

    def step(self, label: str) -> Any:
        steps = self

        class _Step:
            def __enter__(self) -> None:
                self.t0, self.c0 = time.perf_counter(), _cpu()

            def __exit__(self, *exc: object) -> None:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                wall, cpu = time.perf_counter() - self.t0, _cpu() - self.c0
                steps.times.append((label, wall, cpu, rss))

        return _Step()


def child(folder: Path, *, profile: Path | None = None) -> dict[str, Any]:
    """One timed report on a data folder, in this process (call it in a fresh one)."""
    from hxmetrics.report.main import build_report, read_tables

    out: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), _cpu()
    tables = read_tables(folder)
    out["read_s"], out["read_cpu"] = time.perf_counter() - t0, _cpu() - c0
    out["rows"] = {k: len(v) for k, v in tables.items()}
    out["rss_after_read_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = _Steps()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), _cpu()
    report = build_report(tables, source="benchmark", progress=steps)  # type: ignore[arg-type]
    out["build_s"], out["build_cpu"] = time.perf_counter() - t0, _cpu() - c0
    out["n_forbidden"] = len(report.forbidden)
    # A fresh folder each run: the report refuses to overwrite a file it did not write.
    target = Path(tempfile.mkdtemp(prefix="hxmetrics-bench-")) / "report.html"
    t0, c0 = time.perf_counter(), _cpu()
    report.write(target)
    out["write_s"], out["write_cpu"] = time.perf_counter() - t0, _cpu() - c0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    out["html_bytes"] = target.stat().st_size
    shutil.rmtree(target.parent)
    out["steps"] = steps.times
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def compare_child(folder: Path) -> dict[str, Any]:
    """Time ``siloed_vs_unified`` alone (NPS, everyone and customers) on a data folder."""
    from hxmetrics.compare import siloed_vs_unified
    from hxmetrics.report.main import read_tables
    from hxmetrics.stakeholders import StakeholderRegistry
    from hxmetrics.tables import validate

    tables = read_tables(folder)
    rosters = {k: tables[k] for k in ("customers", "workers", "partners")}
    registry = StakeholderRegistry.from_rosters(**rosters, keys=["email", "phone"])
    responses = validate(tables["responses"], table="responses")
    registry.attribute(responses.head(10))  # build the attribution index outside the timing
    out: dict[str, Any] = {"rows": int((responses["instrument"] == "nps").sum())}
    # role= since issue 11 (group= before): a baseline tree may have either.
    name = "role" if "role" in inspect.signature(siloed_vs_unified).parameters else "group"
    for group in ("all", "customer"):
        t0, c0 = time.perf_counter(), _cpu()
        result = siloed_vs_unified(registry, responses, **{name: group})
        out[group] = (time.perf_counter() - t0, _cpu() - c0)
        out[f"{group}_estimate"] = float(result.difference["difference"].iloc[0])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_child(folder: Path, *, code: Path | None = None, mode: str = "--child") -> dict[str, Any]:
    """Run :func:`child` in a fresh process; ``code``: a source tree to import instead."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    here = Path(__file__).resolve().parent.parent
    if code is not None:
        env["PYTHONPATH"] = f"{code / 'src'}{os.pathsep}{here}"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_report", mode, str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=here,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"report on {folder} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def baseline_tree(commit: str) -> Path:
    """The package at an earlier commit (``git archive``), to time it side by side."""
    folder = _BENCH_DIR / f"code-{commit}"
    if not (folder / "src").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _sample_folder() -> Path:
    folder = _BENCH_DIR / "sample"
    if not (folder / "DONE").exists():
        from hxmetrics.datasets import load_sample

        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in load_sample().tables.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "DONE").write_text("{}")
    return folder


def _scan_per_value(document: str, forbidden: list[str]) -> int:
    """The guard's search as first written (one search of the page per value): the baseline."""
    text = document.casefold()
    return sum(text.find(v.strip().casefold()) >= 0 for v in forbidden if len(v.strip()) >= 4)


def _guard_section(n_ids: int, n_baseline: int) -> str:
    """The identifier guard alone: a report-sized page against ``n_ids`` identifiers."""
    import numpy as np

    from hxmetrics.report.privacy import privacy_guard

    rng = np.random.default_rng(3)
    numbers = rng.choice(10**9, size=n_ids, replace=False)
    ids: list[str] = []
    for k, x in enumerate(numbers.tolist()):
        kind = k % 4
        if kind == 0:
            ids.append(f"u{x}@example.org")
        elif kind == 1:
            ids.append(f"+1 ({x % 1000:03d}) {x // 1000 % 1000:03d}-{x % 10000:04d}")
        elif kind == 2:
            ids.append(f"C{x:09d}")
        else:
            ids.append(f"P{x:012x}")
    cell = "<td>{:,}</td><td>{:.1f}</td><td>[{:.1f}, {:.1f}]</td>"
    rows = "".join(
        "<tr>" + cell.format(int(v), v / 7, v / 9, v / 5) + "</tr>"
        for v in rng.random(10_000) * 1e6
    )
    page = f"<html><body><section id='s'><table>{rows}</table></section></body></html>"
    t0 = time.perf_counter()
    privacy_guard(page, forbidden=ids)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    privacy_guard(page, forbidden=ids[:n_baseline])
    small = time.perf_counter() - t0
    t0 = time.perf_counter()
    _scan_per_value(page, ids[:n_baseline])
    scan = time.perf_counter() - t0
    return (
        f"The identifier guard alone, on a {len(page) / 2**20:.2f} MiB page: {n_ids:,} "
        f"identifiers (emails, phones, record ids, person ids) in {seconds:.2f} s "
        f"({seconds / n_ids * 1e6:.2f} µs each). On the first {n_baseline:,}: "
        f"{small:.3f} s, against {scan:.2f} s for one `str.find` over the page per "
        f"identifier (the old design, its cheapest form): **{scan / small:.0f}x**."
    )


def _compare_section(folder: Path, old: Path | None, baseline: str | None) -> str:
    """``siloed_vs_unified`` per call on the largest organisation, before and now."""
    runs = [("now", _run_child(folder, mode="--compare"))]
    if old is not None:
        runs.insert(0, (f"before ({baseline})", _run_child(folder, code=old, mode="--compare")))
    lines = [
        f"`siloed_vs_unified` alone (NPS; {runs[-1][1]['rows']:,} answer rows; registry "
        "and attribution index built beforehand), one fresh process each:",
        "",
        "| code | group all: wall (s) | CPU (s) | group customer: wall (s) | CPU (s) | "
        "peak RSS (GiB) | gap siloed - unified (all) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in runs:
        lines.append(
            f"| {label} | {r['all'][0]:.1f} | {r['all'][1]:.1f} | {r['customer'][0]:.1f} | "
            f"{r['customer'][1]:.1f} | {r['peak_rss_mb'] / 1024:.2f} | {r['all_estimate']!r} |"
        )
    if len(runs) == 2:
        ratio = runs[0][1]["customer"][1] / runs[1][1]["customer"][1]
        lines.append("")
        lines.append(f"CPU ratio before / now (group customer): **{ratio:.1f}x**.")
    return "\n".join(lines)


def _machine() -> str:
    from benchmarks.run import machine

    return "; ".join(line.removeprefix("- ") for line in machine().splitlines()[:2])


def _verdict(label: str, r: dict[str, Any]) -> str:
    """The largest run against the target, and its three most expensive steps."""
    cpu = r["read_cpu"] + r["build_cpu"] + r["write_cpu"]
    gib = r["peak_rss_mb"] / 1024
    top = sorted(r["steps"], key=lambda s: -s[2])[:3]
    steps = "; ".join(f"{s[0].lower()} {s[2]:.0f} s" for s in top)
    return (
        f"{label}: {cpu:.0f} CPU seconds (the report runs mostly on one core, so about "
        f"its wall time on an idle machine; target 120 s: "
        f"{'met' if cpu <= 120 else 'not met'}), peak {gib:.2f} GiB (target 6 GiB: "
        f"{'met' if gib <= 6 else 'not met'}). Most expensive steps (CPU): {steps}; the "
        f"identifier guard and the write {r['write_cpu']:.1f} s."
    )


def _row(label: str, r: dict[str, Any]) -> str:
    total = r["read_s"] + r["build_s"] + r["write_s"]
    cpu = r["read_cpu"] + r["build_cpu"] + r["write_cpu"]
    return (
        f"| {label} | {r['persons']:,} | {r['rows']['responses']:,} | {r['n_forbidden']:,} | "
        f"{r['read_s']:.1f} | {r['build_s']:.1f} | {r['write_s']:.1f} | **{total:.1f}** | "
        f"{cpu:.1f} | {r['peak_rss_mb'] / 1024:,.2f} |"
    )


def _table(results: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| run | persons | responses | identifiers guarded | read (s) | build (s) | "
        "write + guard (s) | total wall (s) | total CPU (s) | peak RSS (GiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [_row(label, r) for label, r in results]
    return "\n".join(lines)


def _steps_table(results: list[tuple[str, dict[str, Any]]]) -> str:
    labels = [s[0] for s in results[-1][1]["steps"]]
    head = "| step (CPU s; peak RSS GiB after it) | " + " | ".join(lab for lab, _ in results) + " |"
    lines = [head, "| --- |" + " ---: |" * len(results)]
    for step in labels:
        cells = []
        for _, r in results:
            match = [s for s in r["steps"] if s[0] == step]
            cells.append(f"{match[0][2]:.1f}; {match[0][3] / 1024:.2f}" if match else "")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(
    quick: bool = False,
    sizes: tuple[tuple[int, int], ...] | None = None,
    baseline: str | None = None,
) -> str:
    """Time the report at each size (fresh process each); return a Markdown section.

    ``baseline``: a commit whose package is timed on the same data in the same run
    (not at the largest size, where it does not finish in reasonable time).
    """
    chosen = sizes if sizes is not None else (QUICK_SIZES if quick else SIZES)
    if baseline is None:
        baseline = os.environ.get("HXMETRICS_BENCH_BASELINE")
    old = baseline_tree(baseline) if baseline else None
    data = [("sample", 3000, _sample_folder())]
    data += [(f"{r / 1e6:g}M answers", p, make_data(p, r)) for p, r in chosen]
    results: list[tuple[str, dict[str, Any]]] = []
    # The baseline skips the largest size unless HXMETRICS_BENCH_BASELINE_ALL=1 (an
    # old baseline may not finish there in reasonable time).
    every_size = os.environ.get("HXMETRICS_BENCH_BASELINE_ALL", "") == "1"
    for k, (label, persons, folder) in enumerate(data):
        largest = k == len(data) - 1 and len(data) > 2 and not every_size
        if old is not None and not largest:
            r = _run_child(folder, code=old)
            r["persons"] = persons
            results.append((f"{label}, before ({baseline})", r))
        r = _run_child(folder)
        r["persons"] = persons
        results.append((f"{label}, now" if old is not None else label, r))
        print(f"[bench_report] {label}: {r}", file=sys.stderr, flush=True)
    guard = _guard_section(20_000 if quick else 4_000_000, 2_000 if quick else 20_000)
    verdict = _verdict(*results[-1])
    compare = _compare_section(data[-1][2], old, baseline)
    return "\n\n".join(
        [
            "## The HTML report, end to end",
            "Each row is one fresh process running what `hxmetrics report --data DIR` runs: "
            "read the Parquet tables, `build_report` (validate, resolve identities, "
            "attribute every exhaust row, every section), then `Report.write` (the "
            "identifier guard over every email, phone, record id and person id of the "
            "input, then the file). Peak RSS is the process's `ru_maxrss` (tables "
            "included); CPU is user + system time of the process, steadier than wall "
            "time on a shared machine. Organisations from `simulate_organisation` with "
            "the survey rates scaled to the number of answers (see "
            "`benchmarks/bench_report.py`). Target (issue 10): the sample in seconds; "
            "10M answers and 1M persons within 120 s and 6 GiB on 2 cores.",
            f"This run: {_machine()}.",
            _table(results),
            verdict,
            "CPU seconds of each step of `build_report` (the report's progress steps), and "
            "the peak RSS after it:",
            _steps_table(results),
            guard,
            compare,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=Path, help="time one report on this data folder")
    parser.add_argument("--profile", type=Path, help="with --child: write cProfile stats here")
    parser.add_argument("--compare", type=Path, help="time siloed_vs_unified on this folder")
    parser.add_argument("--make", nargs=2, type=int, metavar=("PERSONS", "RESPONSES"))
    parser.add_argument("--sizes", nargs="*", type=int, help="persons; answers = 10 x persons")
    parser.add_argument("--baseline", help="also time the package at this commit")
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, profile=args.profile)))
        return 0
    if args.compare is not None:
        print(json.dumps(compare_child(args.compare)))
        return 0
    if args.make is not None:
        print(make_data(*args.make))
        return 0
    sizes = tuple((p, 10 * p) for p in args.sizes) if args.sizes else None
    print(run(sizes=sizes, baseline=args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
