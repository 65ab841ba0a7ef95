"""Benchmark: exact vs probabilistic identity resolution of rosters without email or phone.

Run from the repository root (one command, Markdown on stdout)::

    python -m benchmarks.bench_linkage                   # 1,000,000 records
    python -m benchmarks.bench_linkage --records 10000000
    python -m benchmarks.bench_linkage --quick           # 100,000 records

The rosters come from the identity simulator
(:func:`hxmetrics.datasets._identity.simulate_identity_rosters`: names, dates of
birth, addresses and postcodes with typos, nicknames, moves, name changes, missing
values and households; about 1.3 records per person), so each method's pairwise
precision and recall against the truth are reported beside its time.

* **exact**: ``resolve_identities(method="exact")`` on two hand-built composite keys,
  the best the exact method can do without contacts: normalised given name + family
  name + date of birth, and family name + date of birth + postcode.
* **probabilistic**: ``resolve_identities(method="probabilistic")`` with the shipped
  template, split into fitting the model (``u`` on 2e6 random pairs, ``m`` by EM) and
  scoring the rosters with the fitted model (blocking, scoring, components, conflicts,
  person ids): a pipeline fits once and scores every run.

Absolute times on a shared machine are noise; the simulator's time is not counted.
``run(quick=False) -> str`` gives the section for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata as md
import time
from typing import Any

import pandas as pd

from hxmetrics.datasets._identity import simulate_identity_rosters
from hxmetrics.stakeholders.evaluation import resolution_scores
from hxmetrics.stakeholders.probabilistic import LinkageModel
from hxmetrics.stakeholders.resolution import resolve_identities

SECRET = "5d0b9f1e7a3c48e2b6f4a9d1c3e5f7a9"
RECORDS_PER_PERSON = 1.3


def _composite_keys(rosters: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Rosters with two exact composite keys (normalised text joined by '|')."""
    out = {}
    for silo, df in rosters.items():
        given = df["given_name"].str.lower().str.strip()
        family = df["family_name"].str.lower().str.strip()
        dob = pd.to_datetime(df["date_of_birth"]).dt.strftime("%Y-%m-%d")
        postcode = df["postcode"].str.upper().str.replace(" ", "", regex=False)
        out[silo] = df.assign(
            name_dob=given + "|" + family + "|" + dob,
            family_dob_postcode=family + "|" + dob + "|" + postcode,
        )
    return out


def _timed(fn: Any) -> tuple[Any, float]:
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _versions() -> str:
    names = ("hxmetrics", "splink", "duckdb", "pandas", "numpy", "pyarrow")
    found = []
    for name in names:
        try:
            found.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            continue
    return ", ".join(found)


def run(quick: bool = False, *, records: int | None = None) -> str:
    """Time both methods on simulated rosters; return a Markdown section."""
    n_records = records or (100_000 if quick else 1_000_000)
    n_people = max(int(n_records / RECORDS_PER_PERSON), 10)
    sim, t_sim = _timed(lambda: simulate_identity_rosters(n_people, random_state=0))
    rosters = sim.rosters
    n = sum(len(df) for df in rosters.values())
    keyed = _composite_keys(rosters)
    rows = []

    exact, t_exact = _timed(
        lambda: resolve_identities(keyed, keys=["name_dob", "family_dob_postcode"], secret=SECRET)
    )
    s = resolution_scores(exact.crosswalk, sim.truth).iloc[0]
    rows.append(("exact, composite keys", t_exact, s["precision"], s["recall"]))
    del exact
    model, t_fit = _timed(lambda: LinkageModel().fit(rosters, random_state=0))
    prob, t_score = _timed(
        lambda: resolve_identities(rosters, method="probabilistic", model=model, secret=SECRET)
    )
    s = resolution_scores(prob.crosswalk, sim.truth).iloc[0]
    rows.append(("probabilistic: fit the model", t_fit, float("nan"), float("nan")))
    rows.append(
        ("probabilistic: score with the fitted model", t_score, s["precision"], s["recall"])
    )
    rows.append(("probabilistic: fit + score", t_fit + t_score, s["precision"], s["recall"]))
    attrs = prob.crosswalk.attrs["hxmetrics"]

    table = ["| method | seconds | records / s | pairwise precision | pairwise recall |"]
    table.append("|---|---:|---:|---:|---:|")
    for name, secs, p, r in rows:
        ps = "" if p != p else f"{p:.4f}"
        rs = "" if r != r else f"{r:.4f}"
        table.append(f"| {name} | {secs:.1f} | {n / secs:,.0f} | {ps} | {rs} |")
    lines = [
        f"Identity resolution of {n:,} roster records ({n_people:,} simulated persons, "
        "three silos, no email or phone); simulator time "
        f"{t_sim:.1f} s not counted.",
        "",
        *table,
        "",
        f"Probabilistic: {attrs['n_links']:,} model links at threshold "
        f"{attrs['threshold']}, {attrs['n_review_pairs']:,} pairs in the review band "
        f"{tuple(attrs['review_band'])}, "
        f"{int((prob.conflicts['kind'] == 'household').sum()):,} records in links refused "
        "by the household rule.",
        f"- Versions: {_versions()}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None, help="roster records")
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    args = parser.parse_args(argv)
    try:
        from benchmarks.run import machine

        header = machine()
    except ImportError:  # pragma: no cover - run outside the repository
        header = ""
    body = run(args.quick, records=args.records)
    print(f"## Identity resolution: exact vs probabilistic (splink)\n\n{header}\n\n{body}")


if __name__ == "__main__":
    main()
