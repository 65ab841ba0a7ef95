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
  template, split into fitting the model (on a random sample of at most
  ``LinkageModel.max_records`` = 200,000 records: ``u`` on 2e6 random pairs, ``m`` by
  EM) and scoring every record with the fitted model (normalising the identity values,
  blocking, scoring in DuckDB with the threshold applied there, components, conflicts,
  person ids): a pipeline fits once and scores every run.

Each step is reported with its wall and CPU seconds (CPU: this process, DuckDB's
threads included; the steadier figure on a shared machine), the peak resident memory
of the process after it, and the load average of the machine while it ran. Absolute
times on a shared machine are noise; the simulator's time is not counted.
``run(quick=False) -> str`` gives the section for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata as md
import os
import resource
import time
from pathlib import Path
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


def _step(fn: Any) -> tuple[Any, dict[str, float]]:
    """``fn()`` and its wall and CPU seconds, peak RSS (GiB) after it, mean load."""
    gc.collect()
    load0 = os.getloadavg()[0]
    start, start_cpu = time.perf_counter(), time.process_time()
    value = fn()
    cpu = time.process_time() - start_cpu
    wall = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux: the process's peak so far (the simulator's included).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    load = (load0 + os.getloadavg()[0]) / 2
    return value, {"wall": wall, "cpu": cpu, "rss": rss, "load": load}


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

    exact, t_exact = _step(
        lambda: resolve_identities(keyed, keys=["name_dob", "family_dob_postcode"], secret=SECRET)
    )
    s = resolution_scores(exact.crosswalk, sim.truth).iloc[0]
    rows.append(("exact, composite keys", t_exact, s["precision"], s["recall"]))
    del exact
    model, t_fit = _step(lambda: LinkageModel().fit(rosters, random_state=0))
    prob, t_score = _step(
        lambda: resolve_identities(rosters, method="probabilistic", model=model, secret=SECRET)
    )
    s = resolution_scores(prob.crosswalk, sim.truth).iloc[0]
    nan = float("nan")
    rows.append(("probabilistic: fit the model", t_fit, nan, nan))
    rows.append(
        ("probabilistic: score with the fitted model", t_score, s["precision"], s["recall"])
    )
    both = {
        "wall": t_fit["wall"] + t_score["wall"],
        "cpu": t_fit["cpu"] + t_score["cpu"],
        "rss": max(t_fit["rss"], t_score["rss"]),
        "load": (t_fit["load"] + t_score["load"]) / 2,
    }
    rows.append(("probabilistic: fit + score", both, s["precision"], s["recall"]))
    attrs = prob.crosswalk.attrs["hxmetrics"]

    table = [
        "| method | wall s | CPU s | records / s (wall) | peak RSS GiB | load | "
        "pairwise precision | pairwise recall |"
    ]
    table.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, t, p, r in rows:
        ps = "" if p != p else f"{p:.4f}"
        rs = "" if r != r else f"{r:.4f}"
        table.append(
            f"| {name} | {t['wall']:.1f} | {t['cpu']:.1f} | {n / t['wall']:,.0f} | "
            f"{t['rss']:.2f} | {t['load']:.1f} | {ps} | {rs} |"
        )
    lines = [
        f"Identity resolution of {n:,} roster records ({n_people:,} simulated persons, "
        "three silos, no email or phone); simulator time "
        f"{t_sim:.1f} s not counted. The model was fitted on "
        + (
            f"a random sample of {model.n_fitted_records_:,} of the {model.n_records_:,} "
            "records (max_records)."
            if model.n_fitted_records_ != model.n_records_
            else f"all {model.n_records_:,} records (at most max_records: no sample)."
        ),
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


# ------------------------------------------------------------------ the engine path

#: Records per simulator draw when rosters are generated to Parquet for the engine path.
DRAW_RECORDS = 1_000_000
DATA = Path(os.environ.get("HX_BENCH_LINKAGE_DATA", "/tmp/hxmetrics-bench-linkage"))


def generate(records: int, folder: Path) -> Path:
    """Simulated rosters of about ``records`` records as Parquet, with the truth.

    One simulator draw per million records (seeds 0, 1, ...; ids prefixed ``d<k>-`` per
    draw), written draw by draw so that the generator holds one draw in memory (about
    0.8 GB) whatever the size: households and twins stay within a draw; names and
    dates come from the same vocabularies in every draw; postcodes, drawn per draw, may
    repeat across draws (slightly harder rosters than one draw of the same size).
    ``folder/<silo>/part-<k>.parquet`` and ``folder/truth/part-<k>.parquet``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = folder / f"r{records}"
    if (out / "_DONE").exists():
        return out
    n_draws = max(1, round(records / DRAW_RECORDS))
    per_draw = records / n_draws
    for k in range(n_draws):
        sim = simulate_identity_rosters(max(int(per_draw / RECORDS_PER_PERSON), 10), random_state=k)
        prefix = f"d{k}-" if n_draws > 1 else ""
        for silo, df in sim.rosters.items():
            column = df.columns[0]
            df = df.assign(**{column: prefix + df[column].astype(str)})
            (out / silo).mkdir(parents=True, exist_ok=True)
            pq.write_table(
                pa.Table.from_pandas(df, preserve_index=False), out / silo / f"part-{k}.parquet"
            )
        truth = sim.truth.assign(
            source_id=prefix + sim.truth["source_id"].astype(str),
            person_id=prefix + sim.truth["person_id"].astype(str),
        )
        (out / "truth").mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(truth[["silo", "source_id", "person_id"]], preserve_index=False),
            out / "truth" / f"part-{k}.parquet",
        )
        del sim, truth
        gc.collect()
    (out / "_DONE").write_text("done\n")
    return out


def _pair_scores(con: Any, crosswalk: str, truth: str) -> dict[str, float]:
    """``resolution_scores``' pairwise precision and recall, as DuckDB aggregates."""
    sql = f"""
        WITH both_ AS (
            SELECT c.person_id AS found, t.person_id AS truth
            FROM {crosswalk} c JOIN {truth} t USING (silo, source_id)),
        f AS (SELECT count(*) AS n FROM both_ GROUP BY found),
        t AS (SELECT count(*) AS n FROM both_ GROUP BY truth),
        ft AS (SELECT count(*) AS n FROM both_ GROUP BY found, truth)
        SELECT (SELECT sum(n * (n - 1) / 2) FROM f), (SELECT sum(n * (n - 1) / 2) FROM t),
               (SELECT sum(n * (n - 1) / 2) FROM ft), (SELECT count(*) FROM both_)"""
    found, true, correct, n = con.sql(sql).fetchall()[0]
    return {
        "precision": float(correct) / float(found) if found else 1.0,
        "recall": float(correct) / float(true) if true else 1.0,
        "true_pairs": float(true),
        "found_pairs": float(found),
        "n": float(n),
    }


def run_engine(records: int, *, memory_limit: str = "4GB", threads: int = 2) -> str:
    """Fit (a 200,000-record sample) and score every record on a file-backed DuckDB
    under ``memory_limit`` through the engine path; Markdown rows."""
    import subprocess
    import sys
    import tempfile

    import duckdb

    from hxmetrics.stakeholders._engine_linkage import resolve_probabilistic_lazy

    # The rosters are generated in a child process: this process's peak RSS is the
    # pipeline's alone.
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from benchmarks.bench_linkage import generate; from pathlib import Path; "
            f"generate({records}, Path({str(DATA)!r}))",
        ],
        check=True,
    )
    t_gen = time.perf_counter() - start
    folder = DATA / f"r{records}"
    scratch = Path(tempfile.mkdtemp(prefix="hx-linkage-", dir=DATA))
    con = duckdb.connect(str(scratch / "linkage.duckdb"))
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET temp_directory = '{scratch / 'spill'}'")
    rosters = {
        silo: con.read_parquet(str(folder / silo / "*.parquet"))
        for silo in ("customers", "partners", "workers")
    }
    (n_rows,) = con.sql(
        "SELECT "
        + " + ".join(
            f"(SELECT count(*) FROM read_parquet('{folder / s / '*.parquet'}'))" for s in rosters
        )
    ).fetchall()[0]
    model = LinkageModel()
    out, t_all = _step(
        lambda: resolve_probabilistic_lazy(rosters, model=model, random_state=0, secret=SECRET)
    )
    cw = out.crosswalk
    cw.create_view("hx_bench_cw")
    truth = folder / "truth" / "*.parquet"
    con.execute(f"CREATE VIEW hx_bench_truth AS SELECT * FROM read_parquet('{truth}')")
    scores, t_eval = _timed(lambda: _pair_scores(con, "hx_bench_cw", "hx_bench_truth"))
    # Why recall falls with size: true pairs the model scored in the review band (below
    # the threshold) and left apart, against the prior that set their probability.
    out.review.create_view("hx_bench_review")
    (band_true, band_apart), _ = _timed(
        lambda: con.sql(
            """SELECT count(*), count(*) FILTER (WHERE NOT r.same_person)
            FROM hx_bench_review r
            JOIN hx_bench_truth a ON r.silo_l = a.silo AND r.source_id_l = a.source_id
            JOIN hx_bench_truth b ON r.silo_r = b.silo AND r.source_id_r = b.source_id
            WHERE a.person_id = b.person_id"""
        ).fetchall()[0]
    )
    prior = float(model.params_["probability_two_random_records_match"])
    spill = sum(f.stat().st_size for f in scratch.rglob("*") if f.is_file()) / 2**30
    attrs = out.attrs
    n_refused = int((out.conflicts["kind"] == "household").sum())
    lines = [
        f"DuckDB engine path, {int(n_rows):,} roster rows, {model.n_records_:,} records "
        f"(generated in {t_gen:.0f} s, not counted); model fitted on a random sample of "
        f"{model.n_fitted_records_:,} records; file-backed database, memory_limit "
        f"'{memory_limit}', {threads} threads; database + spill files at the end "
        f"{spill:.1f} GiB.",
        "",
        "| step | wall s | CPU s | peak RSS GiB | load | pairwise precision | pairwise recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| fit + score, engine path (DuckDB) | {t_all['wall']:.0f} | {t_all['cpu']:.0f} | "
        f"{t_all['rss']:.2f} | {t_all['load']:.1f} | {scores['precision']:.4f} | "
        f"{scores['recall']:.4f} |",
        "",
        f"{attrs['n_links']:,} model links at threshold {attrs['threshold']}, "
        f"{attrs['n_review_pairs']:,} pairs in the review band, {n_refused:,} records in "
        f"links or keys refused by the household rule; true pairs {scores['true_pairs']:,.0f}, "
        f"found pairs {scores['found_pairs']:,.0f}; propagation steps {list(out.steps)}; "
        f"scoring the crosswalk against the truth in DuckDB took {t_eval:.0f} s (not counted).",
        f"Prior (probability that two random records match) {prior:.3e}; true pairs "
        f"scored in the review band: {int(band_true):,}, of which {int(band_apart):,} left "
        f"in two persons; missed true pairs (pairwise) "
        f"{scores['true_pairs'] - scores['recall'] * scores['true_pairs']:,.0f}.",
    ]
    con.close()
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None, help="roster records")
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument(
        "--engine",
        choices=["duckdb"],
        default=None,
        help="the engine path (resolve_probabilistic_lazy) on a file-backed DuckDB",
    )
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit")
    args = parser.parse_args(argv)
    if args.engine:
        records = args.records or (100_000 if args.quick else 1_000_000)
        print(run_engine(records, memory_limit=args.memory_limit))
        return
    try:
        from benchmarks.run import machine

        header = machine()
    except ImportError:  # pragma: no cover - run outside the repository
        header = ""
    body = run(args.quick, records=args.records)
    print(f"## Identity resolution: exact vs probabilistic (splink)\n\n{header}\n\n{body}")


if __name__ == "__main__":
    main()
