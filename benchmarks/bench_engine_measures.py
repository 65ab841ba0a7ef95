"""The job measures on each engine against the query a person would write by hand.

    python -m benchmarks.run engine_measures
    python -m benchmarks.bench_engine_measures --quick      # small sizes, prints

Three goals of issue 13, measured side by side in one run (ratios, not tests):

1. ``rfm_summary`` (10,000,000 transactions of 1,000,000 customers, weeks, with an
   amount) within 1.2x of a hand-written query with the same output on pandas,
   Polars (lazy, ``scan_parquet``) and DuckDB (``read_parquet``), with no more
   memory. Two hand-written queries per engine (see "the sides" below): one with
   rfm_summary's output bit for bit and its checks, the goal's reference, and the
   rfm-only query of earlier runs, which does less. Each side runs in a fresh process
   that loads (pandas) or scans (Polars, DuckDB) the same Parquet file; the time is
   the call (wall and CPU), the memory the peak resident set during the call above the
   resident set before it (sampled every 5 ms). Sides and engines are interleaved,
   the time is the median of the rounds.
2. Attribution (``attribute_lazy``; on pandas the registry's own code) within 1.5x
   of the engine's own as-of join of one role, on pandas, Polars and DuckDB: the
   10,000,000 answers of 1,000,000 roster records of ``bench_engines`` (generated
   once, reused), resolved once on DuckDB (not timed); each engine in a fresh
   process. The reference as issue 13 defines it (the answers already carrying their
   person) and the same with the id lookup inside the clock; wall and CPU times,
   peak memory.
3. Grouped NPS on pandas (10,000,000 answers in 50 segments) within 2x of the
   bincount floor: ``np.bincount`` of (segment code x 11 + score) on a categorical
   segment column, the least any grouped count can cost. A text segment column
   (factorised once) is shown beside it.

The results are checked: the hand-written output and ours have the same customers,
frequencies, recencies, ages and monetary floats (bit for bit); the rfm-only query's
monetary values are within a cent (it sums float amounts).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

END = "2024-12-31"
EPOCH = "1900-01-01"
ENGINES = ("pandas", "polars", "duckdb")
SIDES = ("hxmetrics", "hand-written", "hand-written, rfm only")


# ----------------------------------------------------------------------- data


def write_transactions(path: Path, n_rows: int, n_customers: int, seed: int = 0) -> None:
    """Text customer ids, times over two years, amounts in cents (two decimals)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    customer = rng.integers(0, n_customers, n_rows)
    seconds = rng.integers(0, 2 * 365 * 86_400, n_rows)
    start = np.datetime64("2023-01-01T00:00:00", "us")
    frame = pl.DataFrame(
        {
            "customer": pl.Series(customer).cast(pl.String).str.zfill(7),
            "ts": pl.Series(start + seconds.astype("timedelta64[s]")),
            "amount": rng.integers(100, 20_000, n_rows) / 100.0,
        }
    ).with_columns(pl.format("c{}", pl.col("customer")).alias("customer"))
    frame.write_parquet(path)


# ------------------------------------------------------------- the sides
#
# Two hand-written queries per engine. "rfm only" (the reference of earlier runs) does
# less than rfm_summary must: it drops the rows after observation_end without counting
# them (rfm_summary reports the count in attrs["excluded"]), checks no missing customer,
# time or amount (rfm_summary raises), sums amounts as floats (rfm_summary sums whole
# cents as 64-bit integers, so that every engine gives the same float) and guards no
# integer sum against overflow. "hand-written" adds exactly those, written as an expert
# of each engine would: the same output, bit for bit. Of the ways tried, the fastest:
# on Polars and DuckDB the checks beside the rfm query, rather than one pass keeping
# the rows left out as coded cells (slower on both). Neither builds error messages with
# example rows (rfm_summary does so only when it raises, untimed).

_MAX_AMOUNT = 2.0**62 / 100


def _finish(per: pd.DataFrame, n_after: int | None = None) -> pd.DataFrame:
    """The per-customer table of a hand-written query (customer, n_periods, first,
    last, total and first-period cents; n_after, n_missing and size unless checked
    before) to the output: the checks rfm_summary makes, then its columns."""
    if n_after is None:
        if int(per["n_missing"].sum()):
            raise ValueError("missing customer, time or amount")
        if not float(per["size"].sum()) < _MAX_AMOUNT:
            raise ValueError("amounts too large for 64-bit sums of cents")
        n_after = int(per["n_after"].sum())
    per = per[per["n_periods"].to_numpy() > 0]
    n = per["n_periods"].to_numpy(dtype=np.int64)
    first = per["first"].to_numpy(dtype=np.int64)
    repeat = per["total"].to_numpy(dtype=np.int64) - per["first_a"].to_numpy(dtype=np.int64)
    freq = n - 1
    end_p = (pd.Timestamp(END) - pd.Timestamp(EPOCH)).days // 7
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(freq > 0, repeat / (100 * freq), 0.0)
    out = pd.DataFrame(
        {
            "customer": per["customer"].to_numpy(),
            "frequency": freq,
            "recency": per["last"].to_numpy(dtype=np.int64) - first,
            "T": end_p - first,
            "monetary_value": monetary,
        }
    )
    out.attrs["n_after"] = n_after
    return out


def _hand_pandas(df: pd.DataFrame) -> pd.DataFrame:
    """pandas: whole-column checks (in memory, no second read), whole cents, the sorted
    group-bys of the rfm-only query."""
    ts, amount = df["ts"], df["amount"]
    missing = df["customer"].isna() | ts.isna() | amount.isna()
    if int(missing.sum()):
        raise ValueError("missing customer, time or amount")
    if not float(amount.abs().sum()) < _MAX_AMOUNT:
        raise ValueError("amounts too large for 64-bit sums of cents")
    after = (ts > pd.Timestamp(END)).to_numpy()
    n_after = int(after.sum())
    kept = df[~after]
    period = (kept["ts"] - pd.Timestamp(EPOCH)).dt.days // 7
    cents = np.floor(kept["amount"].to_numpy() * 100 + 0.5).astype(np.int64)
    per = _per_customer(kept["customer"], period, cents)
    return _finish(per.reset_index(), n_after)


def _per_customer(customer: pd.Series, period: pd.Series, amount: Any) -> pd.DataFrame:
    """The two group-bys of both pandas queries: amounts summed per (customer, period),
    then each customer's first and last period, periods, total and first period's sum."""
    cells = (
        pd.DataFrame({"customer": customer, "p": period, "a": amount})
        .groupby(["customer", "p"], sort=True)["a"]
        .sum()
        .reset_index()
    )
    return cells.groupby("customer", sort=True).agg(
        first=("p", "min"),
        last=("p", "max"),
        n_periods=("p", "size"),
        total=("a", "sum"),
        first_a=("a", "first"),
    )


def _hand_polars(lf: Any) -> pd.DataFrame:
    """Polars: the checks and the rfm query (whole cents) collected together
    (``collect_all``, which reads the file once for both)."""
    import polars as pl

    ts, amount = pl.col("ts"), pl.col("amount")
    missing = pl.col("customer").is_null() | ts.is_null() | amount.is_null() | amount.is_nan()
    end = pd.Timestamp(END).to_pydatetime()
    checks = lf.select(
        missing.sum().alias("n_missing"),
        (ts > end).sum().alias("n_after"),
        amount.abs().sum().alias("size"),
    )
    days = (ts - pd.Timestamp(EPOCH).to_pydatetime()).dt.total_days()
    cents = (amount * 100 + 0.5).floor().cast(pl.Int64)
    per = (
        lf.filter(ts <= end)
        .select("customer", (days // 7).alias("p"), cents.alias("a"))
        .group_by("customer", "p")
        .agg(pl.col("a").sum())
        .group_by("customer")
        .agg(
            pl.len().alias("n_periods"),
            pl.col("p").min().alias("first"),
            pl.col("p").max().alias("last"),
            pl.col("a").sum().alias("total"),
            pl.col("a").sort_by("p").first().alias("first_a"),
        )
        .sort("customer")
    )
    checked, per = pl.collect_all([checks, per])
    c = checked.row(0, named=True)
    if c["n_missing"]:
        raise ValueError("missing customer, time or amount")
    if not c["size"] < _MAX_AMOUNT:
        raise ValueError("amounts too large for 64-bit sums of cents")
    return _finish(per.to_pandas(), c["n_after"])


def _hand_duckdb(con: Any, path: Path) -> pd.DataFrame:
    """DuckDB: a query of the checks, then the rfm query (whole cents). No size total:
    DuckDB's cast of too large an amount to BIGINT raises and its sums of BIGINT are
    128-bit, so no sum can overflow."""
    n_missing, n_after = con.execute(
        f"""SELECT count(*) FILTER (WHERE customer IS NULL OR ts IS NULL OR amount IS NULL
                                    OR isnan(amount)),
                   count(*) FILTER (WHERE ts > TIMESTAMP '{END}')
            FROM read_parquet('{path}')"""
    ).fetchall()[0]
    if n_missing:
        raise ValueError("missing customer, time or amount")
    sql = f"""
        WITH periods AS (
            SELECT customer, date_diff('day', TIMESTAMP '{EPOCH}', ts) // 7 AS p,
                   sum(CAST(floor(amount * 100 + 0.5) AS BIGINT)) AS a
            FROM read_parquet('{path}') WHERE ts <= TIMESTAMP '{END}'
            GROUP BY customer, p
        )
        SELECT customer, count(*) AS n_periods, min(p) AS first, max(p) AS last,
               CAST(sum(a) AS BIGINT) AS total, CAST(arg_min(a, p) AS BIGINT) AS first_a
        FROM periods GROUP BY customer ORDER BY customer
    """
    return _finish(con.sql(sql).to_arrow_table().to_pandas(), n_after)


def _ours(engine: str, data: Any) -> pd.DataFrame:
    from hxmetrics.measures.clv import rfm_summary

    return rfm_summary(
        data, customer="customer", time="ts", amount="amount", observation_end=END, unit="W"
    ).reset_index(drop=True)


def _rfm_only_pandas(df: pd.DataFrame) -> pd.DataFrame:
    kept = df[df["ts"] <= pd.Timestamp(END)]
    period = (kept["ts"] - pd.Timestamp(EPOCH)).dt.days // 7
    per = _per_customer(kept["customer"], period, kept["amount"])
    freq = per["n_periods"] - 1
    end_p = (pd.Timestamp(END) - pd.Timestamp(EPOCH)).days // 7
    return pd.DataFrame(
        {
            "customer": per.index,
            "frequency": freq.to_numpy(),
            "recency": (per["last"] - per["first"]).to_numpy(),
            "T": (end_p - per["first"]).to_numpy(),
            "monetary_value": ((per["total"] - per["first_a"]) / freq.where(freq > 0, 1))
            .where(freq > 0, 0.0)
            .to_numpy(),
        }
    )


def _rfm_only_polars(lf: Any) -> pd.DataFrame:
    import polars as pl

    end = pd.Timestamp(END).to_pydatetime()
    end_p = (pd.Timestamp(END) - pd.Timestamp(EPOCH)).days // 7
    periods = (
        lf.filter(pl.col("ts") <= end)
        .with_columns(
            ((pl.col("ts") - pd.Timestamp(EPOCH).to_pydatetime()).dt.total_days() // 7).alias("p")
        )
        .group_by("customer", "p")
        .agg(pl.col("amount").sum())
    )
    out = (
        periods.group_by("customer")
        .agg(
            pl.col("p").min().alias("first"),
            pl.col("p").max().alias("last"),
            pl.len().alias("n"),
            pl.col("amount").sum().alias("total"),
            pl.col("amount").sort_by("p").first().alias("first_amount"),
        )
        .select(
            "customer",
            (pl.col("n") - 1).alias("frequency"),
            (pl.col("last") - pl.col("first")).alias("recency"),
            (end_p - pl.col("first")).alias("T"),
            pl.when(pl.col("n") > 1)
            .then((pl.col("total") - pl.col("first_amount")) / (pl.col("n") - 1))
            .otherwise(0.0)
            .alias("monetary_value"),
        )
        .sort("customer")
        .collect()
    )
    return out.to_pandas()


def _rfm_only_duckdb(con: Any, path: Path) -> pd.DataFrame:
    end_p = (pd.Timestamp(END) - pd.Timestamp(EPOCH)).days // 7
    sql = f"""
        WITH periods AS (
            SELECT customer, date_diff('day', TIMESTAMP '{EPOCH}', ts) // 7 AS p,
                   sum(amount) AS a
            FROM read_parquet('{path}') WHERE ts <= TIMESTAMP '{END}'
            GROUP BY customer, p
        )
        SELECT customer, count(*) - 1 AS frequency, max(p) - min(p) AS recency,
               {end_p} - min(p) AS "T",
               CASE WHEN count(*) > 1
                    THEN (sum(a) - arg_min(a, p)) / (count(*) - 1) ELSE 0.0 END
                   AS monetary_value
        FROM periods GROUP BY customer ORDER BY customer
    """
    return con.sql(sql).to_arrow_table().to_pandas()


# ------------------------------------------------------- one measured call


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(fn: Any) -> tuple[float, int, Any]:
    """Seconds of ``fn()`` and its peak resident set above the one before it."""
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    peak[0] = max(peak[0], _rss())
    return seconds, peak[0] - base, out


def one(engine: str, side: str, path: Path) -> dict[str, Any]:
    """Run one side on one engine in this process (a fresh one per call)."""
    import hxmetrics.measures.clv  # noqa: F401 - imported before the clock starts

    if engine == "pandas":
        data: Any = pd.read_parquet(path)
        hand, rfm_only = _hand_pandas, _rfm_only_pandas
    elif engine == "polars":
        import polars as pl

        data = pl.scan_parquet(path)
        hand, rfm_only = _hand_polars, _rfm_only_polars
    else:
        import duckdb

        con = duckdb.connect()
        data = con.read_parquet(str(path))
        hand = lambda _: _hand_duckdb(con, path)  # noqa: E731 - the SQL reads the file
        rfm_only = lambda _: _rfm_only_duckdb(con, path)  # noqa: E731 - the SQL reads the file
    calls = {SIDES[0]: lambda: _ours(engine, data), SIDES[1]: lambda: hand(data)}
    calls[SIDES[2]] = lambda: rfm_only(data)
    fn = calls[side]
    c0 = time.process_time()
    seconds, extra, out = _measure(fn)
    cpu = time.process_time() - c0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "extra_bytes": extra,
        "rows": len(out),
        "customers_hash": int(
            pd.util.hash_pandas_object(out["customer"].astype(str), index=False).sum() % (1 << 61)
        ),
        "frequency": int(out["frequency"].sum()),
        "recency": int(out["recency"].sum()),
        "T": int(out["T"].sum()),
        "monetary": float(out["monetary_value"].sum()),
        # Bit identity of the floats: a hash of their bytes.
        "monetary_hash": int(
            pd.util.hash_pandas_object(out["monetary_value"], index=False).sum() % (1 << 61)
        ),
    }


def _run_one(engine: str, side: str, path: Path) -> dict[str, Any]:
    return _run_child(["--one", engine, side, str(path)])


def _run_child(args: list[str]) -> dict[str, Any]:
    """``python -m benchmarks.bench_engine_measures ARGS`` in a fresh process; its JSON."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_engine_measures", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- attribution


def resolve_once(folder: Path, out: Path) -> float:
    """The exact resolution of the rosters in ``folder`` on DuckDB, written to Parquet
    (``crosswalk.parquet``, ``episodes.parquet``) for every engine's attribution; the
    seconds it took (not part of any timed call)."""
    import duckdb

    from hxmetrics.stakeholders import new_secret
    from hxmetrics.stakeholders._engine_identity import resolve_exact_lazy

    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = '4GB'; SET threads = 2; SET enable_progress_bar = false")
    rosters = {s: con.read_parquet(str(folder / f"{s}.parquet")) for s in ROSTERS}
    res = resolve_exact_lazy(rosters, keys=["email", "phone"], secret=new_secret())
    res.crosswalk.write_parquet(str(out / "crosswalk.parquet"))
    res.episodes.write_parquet(str(out / "episodes.parquet"))
    con.close()
    return time.perf_counter() - start


ROSTERS = ("customers", "workers", "partners")
ATTRIBUTION_SIDES = ("hxmetrics", "as-of join of one role", "id lookup + as-of join of one role")
UNORDERED = "hxmetrics, ordered=False"
# DuckDB's as-of join returns the rows in its own order; with them put back in the
# answers' order (what ``attribute_lazy`` gives by default) it is this side.
ORDERED_REF = "as-of join of one role, in the answers' order"


def _attribution_sides(engine: str, folder: Path, resolved: Path) -> dict[str, Any]:
    """The three calls of one engine, each materialising its result, data loaded first.

    ``hxmetrics``: ``attribute_lazy`` of every answer (three roles, engagements,
    hybrid label, status, every row kept, in the answers' order); on pandas that is the
    registry's own code. The engine's own as-of join of one role, as issue 13 defines
    the reference: the answers already carrying their person (joined before the clock),
    backward as-of by person onto the workers' episodes (Polars ``join_asof`` and pandas
    ``merge_asof`` with the sorts they need; DuckDB ``ASOF LEFT JOIN``). The third side
    adds what any query must do to attribute raw answers: the left join of
    ``(silo, source_id)`` on the crosswalk, inside the clock.
    """
    from types import SimpleNamespace

    from hxmetrics.stakeholders._engine_attribution import attribute_lazy

    answers, crosswalk, episodes = (
        folder / "responses.parquet",
        resolved / "crosswalk.parquet",
        resolved / "episodes.parquet",
    )
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET memory_limit = '4GB'; SET threads = 2; SET enable_progress_bar = false")
        for name, path in (("xw", crosswalk), ("eps", episodes), ("resp", answers)):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}')")
        con.execute(
            "CREATE TABLE resp_p AS SELECT r.*, x.person_id FROM resp r "
            "JOIN xw x USING (silo, source_id)"
        )
        con.execute("CREATE TABLE eps_w AS SELECT * FROM eps WHERE role = 'worker'")
        ns = SimpleNamespace(crosswalk=con.table("xw"), episodes=con.table("eps"))

        def table(sql: str) -> None:
            con.execute(f"CREATE TABLE out AS {sql}")
            con.execute("DROP TABLE out")

        def ours(ordered: bool = True) -> None:
            attribute_lazy(con.table("resp"), ns, ordered=ordered).create("out")
            con.execute("DROP TABLE out")

        asof = (
            'SELECT r.*, w.start, w."end", w.engagement FROM resp_p r ASOF LEFT JOIN eps_w w '
            "ON r.person_id = w.person_id AND r.timestamp >= w.start"
        )
        lookup = (
            'SELECT r.*, x.person_id, w.start, w."end", w.engagement FROM resp r '
            "LEFT JOIN xw x USING (silo, source_id) ASOF LEFT JOIN eps_w w "
            "ON x.person_id = w.person_id AND r.timestamp >= w.start"
        )
        # The rows numbered as read and sorted back by that number: DuckDB's documented
        # way to keep the input's order through a join (row_number() OVER ()).
        asof_ordered = (
            'SELECT * EXCLUDE (pos) FROM (SELECT r.*, w.start, w."end", w.engagement FROM '
            "(SELECT *, row_number() OVER () AS pos FROM resp_p) r ASOF LEFT JOIN eps_w w "
            "ON r.person_id = w.person_id AND r.timestamp >= w.start) ORDER BY pos"
        )
        return {
            ATTRIBUTION_SIDES[0]: ours,
            ATTRIBUTION_SIDES[1]: lambda: table(asof),
            ATTRIBUTION_SIDES[2]: lambda: table(lookup),
            # What a job calls when only measures read the table: no sort back.
            UNORDERED: lambda: ours(ordered=False),
            ORDERED_REF: lambda: table(asof_ordered),
        }
    if engine == "polars":
        import polars as pl

        cw, eps = pl.read_parquet(crosswalk), pl.read_parquet(episodes)
        resp = pl.read_parquet(answers)
        keys = cw.select("silo", "source_id", "person_id")
        resp_p = resp.join(keys, on=["silo", "source_id"])
        eps_w = eps.filter(pl.col("role") == "worker").lazy().sort("start")
        ns = SimpleNamespace(crosswalk=cw.lazy(), episodes=eps.lazy())

        def asof_pl(lf: Any) -> Any:
            on = {"left_on": "timestamp", "right_on": "start", "by": "person_id"}
            return lf.sort("timestamp").join_asof(eps_w, **on).collect()

        return {
            ATTRIBUTION_SIDES[0]: lambda: attribute_lazy(resp.lazy(), ns).collect(),
            ATTRIBUTION_SIDES[1]: lambda: asof_pl(resp_p.lazy()),
            ATTRIBUTION_SIDES[2]: lambda: asof_pl(
                resp.lazy().join(keys.lazy(), on=["silo", "source_id"], how="left")
            ),
        }
    cw_pd, eps_pd = pd.read_parquet(crosswalk), pd.read_parquet(episodes)
    resp_pd = pd.read_parquet(answers)
    keys_pd = cw_pd[["silo", "source_id", "person_id"]]
    resp_p_pd = resp_pd.merge(keys_pd, on=["silo", "source_id"])
    eps_w_pd = eps_pd[eps_pd["role"] == "worker"].sort_values("start")
    ns_pd = SimpleNamespace(crosswalk=cw_pd, episodes=eps_pd)

    def asof_pd(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.merge_asof(
            frame.sort_values("timestamp"),
            eps_w_pd[["person_id", "start", "end", "engagement"]],
            left_on="timestamp",
            right_on="start",
            by="person_id",
        )

    return {
        ATTRIBUTION_SIDES[0]: lambda: attribute_lazy(resp_pd, ns_pd),
        ATTRIBUTION_SIDES[1]: lambda: asof_pd(resp_p_pd),
        ATTRIBUTION_SIDES[2]: lambda: asof_pd(
            resp_pd.merge(keys_pd, on=["silo", "source_id"], how="left")
        ),
    }


def attribution_one(engine: str, folder: Path, resolved: Path, rounds: int) -> dict[str, Any]:
    """One engine's attribution sides in this process, interleaved: medians of wall and
    CPU seconds, the largest peak resident set above the one before the call."""
    import warnings

    import hxmetrics.stakeholders._engine_attribution  # noqa: F401 - imported before the clock

    sides = _attribution_sides(engine, folder, resolved)
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    extra: dict[str, list[int]] = {}
    with warnings.catch_warnings():
        # Polars warns that it cannot check the sortedness of a join_asof with `by`
        # groups (the reference's sides are sorted just before).
        warnings.simplefilter("ignore")
        for _ in range(rounds):
            for side, fn in sides.items():
                c0 = time.process_time()
                seconds, more, _ = _measure(fn)
                cpu.setdefault(side, []).append(time.process_time() - c0)
                wall.setdefault(side, []).append(seconds)
                extra.setdefault(side, []).append(more)
    return {
        side: {
            "seconds": statistics.median(wall[side]),
            "cpu": statistics.median(cpu[side]),
            "extra_bytes": max(extra[side]),
        }
        for side in sides
    }


def _rounds(rounds: int) -> str:
    return "one round" if rounds == 1 else f"median of {rounds} rounds"


def _attribution_section(quick: bool) -> list[str]:
    from benchmarks.bench_engines import QUICK, SPARK, make_data

    n_records, n_answers, n_tx = QUICK if quick else SPARK
    # Three rounds at full size (medians; ~2 min a round on 2 cores): one round's DuckDB
    # ratios moved by 0.15 between runs of the same code (its sorts spill under 4GB).
    rounds = 1 if quick else 3
    folder = make_data(n_records, n_answers, n_tx)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        resolved = Path(tmp)
        resolve_s = resolve_once(folder, resolved)
        for engine in ENGINES:
            results[engine] = _run_child(
                ["--attribution", engine, str(folder), str(resolved), str(rounds)]
            )
    ours, ref, lookup = ATTRIBUTION_SIDES
    lines = [
        f"Attribution: {n_answers:,} answers (1% from ids no roster knows) of "
        f"{n_records:,} roster records, resolved once on DuckDB ({resolve_s:.0f} s, not "
        "timed) and loaded into each engine before the clock; each engine in a fresh "
        f"process, its sides interleaved, {_rounds(rounds)}; every side "
        "materialises its result (a DuckDB table, a Polars or pandas DataFrame). "
        "`hxmetrics`: `attribute_lazy` (on pandas the registry's own code): three roles, "
        "engagements, hybrid label, status, every row kept, in the answers' order. "
        "The reference of issue 13, the engine's own as-of join of one role: the answers "
        "already carrying their person (joined before the clock) onto the workers' "
        "episodes (DuckDB `ASOF LEFT JOIN`; Polars `join_asof`, pandas `merge_asof`, with "
        "the sorts they need). Beside it, the same with the id lookup (a left join of "
        "`(silo, source_id)` on the crosswalk) inside the clock: what any query must do "
        "to attribute raw answers. Ratios of wall times (CPU times: all threads of the "
        "process); memory: peak resident set during the call above the one before.",
        "",
        "| engine | hxmetrics (s) | as-of of one role (s) | ratio (CPU ratio) "
        "| with the id lookup (s) | ratio (CPU ratio) | hxmetrics peak MB "
        "| reference peak MB (with lookup) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ratios = {}
    for engine in ENGINES:
        r = results[engine]
        a, b, c = r[ours], r[ref], r[lookup]
        ratios[engine] = (a["seconds"] / b["seconds"], a["seconds"] / c["seconds"])
        label = {"pandas": "pandas", "polars": "Polars lazy", "duckdb": "DuckDB"}[engine]
        lines.append(
            f"| {label} | {a['seconds']:.2f} | {b['seconds']:.2f} | "
            f"{a['seconds'] / b['seconds']:.2f} ({a['cpu'] / b['cpu']:.2f}) | "
            f"{c['seconds']:.2f} | {a['seconds'] / c['seconds']:.2f} "
            f"({a['cpu'] / c['cpu']:.2f}) | {a['extra_bytes'] / 2**20:.0f} | "
            f"{b['extra_bytes'] / 2**20:.0f} ({c['extra_bytes'] / 2**20:.0f}) |"
        )
    duck = results["duckdb"]
    u, b, a, o = duck[UNORDERED], duck[ref], duck[ours], duck[ORDERED_REF]
    # Like for like on DuckDB: the joins' order against the as-of join's own order, the
    # answers' order against the as-of join sorted back into it.
    like = {"unordered": u["seconds"] / b["seconds"], "ordered": a["seconds"] / o["seconds"]}
    lines += [
        "",
        "DuckDB's as-of join returns the rows in its own order (by person and time); "
        "`attribute_lazy` returns them in the answers' order by default, a sort by each "
        "row's number. Like for like:",
        "",
        "| DuckDB, like for like | hxmetrics (s) | as-of of one role (s) | ratio "
        "(CPU ratio) | hxmetrics peak MB | reference peak MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| rows in the joins' order: `attribute_lazy(..., ordered=False)` (a job's call "
        f"when only measures read the table) against `ASOF LEFT JOIN` | {u['seconds']:.2f} "
        f"| {b['seconds']:.2f} | {like['unordered']:.2f} ({u['cpu'] / b['cpu']:.2f}) | "
        f"{u['extra_bytes'] / 2**20:.0f} | {b['extra_bytes'] / 2**20:.0f} |",
        f"| rows in the answers' order: `attribute_lazy` (default) against the rows "
        "numbered (`row_number() OVER ()`), `ASOF LEFT JOIN`, `ORDER BY` the number | "
        f"{a['seconds']:.2f} | {o['seconds']:.2f} | {like['ordered']:.2f} "
        f"({a['cpu'] / o['cpu']:.2f}) | {a['extra_bytes'] / 2**20:.0f} | "
        f"{o['extra_bytes'] / 2**20:.0f} |",
    ]
    met = [e for e in ENGINES if ratios[e][0] <= 1.5]
    lines += [
        "",
        "Attribution within 1.5x of the as-of join of one role (the main table: ours in "
        "the answers' order, the reference in its own): "
        + (f"met on {', '.join(met)}" if met else "met on no engine")
        + "; ratios "
        + ", ".join(
            f"{e} {ratios[e][0]:.2f}x ({ratios[e][1]:.2f}x with the lookup)" for e in ENGINES
        )
        + ". DuckDB like for like: "
        + ", ".join(f"{k} {v:.2f}x ({'met' if v <= 1.5 else 'not met'})" for k, v in like.items())
        + ".",
    ]
    return lines


# --------------------------------------------------------------- grouped NPS


def _nps_floor(n_rows: int, rounds: int) -> list[str]:
    from hxmetrics.measures.nps import nps

    rng = np.random.default_rng(1)
    names = np.array([f"segment_{i:02d}" for i in range(50)])
    codes = rng.integers(0, 50, n_rows)
    score = rng.integers(0, 11, n_rows).astype(float)
    cat = pd.DataFrame({"segment": pd.Categorical.from_codes(codes, names), "score": score})
    text = pd.DataFrame({"segment": pd.Series(names[codes], dtype="str"), "score": score})

    def floor() -> np.ndarray:
        seg = cat["segment"].cat.codes.to_numpy().astype(np.int64)
        return np.bincount(seg * 11 + cat["score"].to_numpy().astype(np.int64), minlength=550)

    cases = {
        "bincount floor (categorical codes)": floor,
        "nps, categorical segment": lambda: nps(cat, "score", by="segment", method="wald"),
        "nps, text segment (factorised once)": lambda: nps(
            text, "score", by="segment", method="wald"
        ),
    }
    expected = floor().reshape(50, 11)
    got = nps(cat, "score", by="segment", method="wald")
    if not np.array_equal(got["promoters"].to_numpy(), expected[:, 9:].sum(axis=1)):
        raise AssertionError("nps promoters differ from the bincount")
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["bincount floor (categorical codes)"])
    rows = ["| call | seconds | ratio to the floor |", "| --- | ---: | ---: |"]
    for name in cases:
        t = statistics.median(times[name])
        rows.append(f"| {name} | {t:.3f} | {t / base:.2f}x |")
    return rows


# --------------------------------------------------------------------- run


LABELS = {"pandas": "pandas", "polars": "Polars lazy", "duckdb": "DuckDB"}


def _check_outputs(results: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    """Ours and the hand-written query give the same output, bit for bit; the rfm-only
    query the same customers and counts, monetary values within a cent."""
    for engine in ENGINES:
        ours = results[(engine, SIDES[0])][0]
        for side in SIDES[1:]:
            other = results[(engine, side)][0]
            keys = ["rows", "customers_hash", "frequency", "recency", "T"]
            keys += ["monetary_hash"] if side == SIDES[1] else []
            for key in keys:
                if ours[key] != other[key]:
                    raise AssertionError(f"rfm on {engine}: {key} differs from {side!r}")
            if abs(ours["monetary"] - other["monetary"]) > 0.01 * ours["rows"]:
                raise AssertionError(f"rfm on {engine}: monetary values differ from {side!r}")


def _rfm_section(quick: bool) -> list[str]:
    n_rows, n_customers = (200_000, 20_000) if quick else (10_000_000, 1_000_000)
    # Three rounds: DuckDB's peak memory moves by ~20% between runs of the same code, and
    # the median of three (as for the times) is steadier than one or the largest of two.
    rounds = 1 if quick else 3
    start = time.strftime("%H:%M", time.gmtime())
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.parquet"
        write_transactions(path, n_rows, n_customers)
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for engine in ENGINES:
                for side in SIDES:
                    results.setdefault((engine, side), []).append(_run_one(engine, side, path))
                    loads.append(os.getloadavg()[0])
    _check_outputs(results)
    stop = time.strftime("%H:%M", time.gmtime())

    def med(engine: str, side: str, key: str) -> float:
        return statistics.median(r[key] for r in results[(engine, side)])

    def peak(engine: str, side: str) -> float:
        return statistics.median(r["extra_bytes"] for r in results[(engine, side)]) / 2**20

    def peaks(engine: str, side: str) -> str:
        each = sorted(r["extra_bytes"] / 2**20 for r in results[(engine, side)])
        return "-".join(f"{m:.0f}" for m in (each[0], each[-1])) if len(each) > 1 else ""

    lines = [
        "## The job measures on every engine (`measures`, issue 13)",
        "",
        f"`rfm_summary`: {n_rows:,} transactions of {n_customers:,} customers (text ids), "
        "weeks, with an amount, read from one Parquet file (pandas: loaded before the "
        "clock; Polars `scan_parquet`, DuckDB `read_parquet`); each side in a fresh "
        f"process, engines and sides interleaved, {_rounds(rounds)} "
        f"({start}-{stop} UTC, load average {min(loads):.1f}-{max(loads):.1f} on "
        f"{os.cpu_count()} cores). Time: wall seconds of the call (CPU seconds, all "
        "threads, in brackets); memory: peak resident set during the call above the one "
        "before it (sampled every 5 ms), the median of the rounds (their range in the "
        "last column). Two hand-written queries per engine: "
        "*hand-written* gives rfm_summary's output bit for bit (the same customers, "
        "frequency, recency, T and monetary floats, checked by hashes, and the count of "
        "rows after observation_end) with its checks (no missing customer, time or "
        "amount; sums of whole cents that cannot overflow), in as few passes as an "
        "expert of the engine would, the fastest of the ways tried (pandas: whole-column "
        "checks and sorted group-bys; Polars: the checks and the rfm query collected "
        "together, `collect_all`, one read of the file; DuckDB: a query of the checks, "
        "then the rfm query, and no size total: its casts raise on overflow and its sums "
        "are 128-bit; one pass keeping the rows left out as coded cells was slower on "
        "both). *rfm only* is the reference of earlier runs, which does less: no "
        "checks, the rows after observation_end dropped uncounted, float sums (monetary "
        "values within a cent of ours). Neither builds error messages with example rows "
        "(rfm_summary does so only when it raises).",
        "",
        "| engine | hxmetrics (s) | hand-written (s) | ratio | rfm only (s) | ratio "
        "| peak MB: hxmetrics | hand-written | rfm only | memory ratio "
        "| peak MB range: hxmetrics; hand-written |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    cpu_ratio, mem_ratio, mem_verdict = {}, {}, {}
    for engine in ENGINES:
        w = [med(engine, s, "seconds") for s in SIDES]
        c = [med(engine, s, "cpu") for s in SIDES]
        m = [peak(engine, s) for s in SIDES]
        cpu_ratio[engine] = c[0] / c[1]
        mem_ratio[engine] = m[0] / max(m[1], 1e-9)
        # Met: the median peak is at most the hand-written query's. Short of that, say
        # whether it is within the hand-written query's own spread over the rounds.
        hand_max = max(r["extra_bytes"] for r in results[(engine, SIDES[1])]) / 2**20
        mem_verdict[engine] = (
            "met"
            if m[0] <= m[1]
            else "not met, within the hand-written query's spread"
            if m[0] <= hand_max
            else "not met"
        )
        lines.append(
            f"| {LABELS[engine]} | {w[0]:.2f} ({c[0]:.2f}) | {w[1]:.2f} ({c[1]:.2f}) | "
            f"{w[0] / w[1]:.2f} ({c[0] / c[1]:.2f}) | {w[2]:.2f} ({c[2]:.2f}) | "
            f"{w[0] / w[2]:.2f} ({c[0] / c[2]:.2f}) | {m[0]:.0f} | {m[1]:.0f} | {m[2]:.0f} | "
            f"{m[0] / max(m[1], 1e-9):.2f} | {peaks(engine, SIDES[0])}; "
            f"{peaks(engine, SIDES[1])} |"
        )
    met = [LABELS[e] for e in ENGINES if cpu_ratio[e] <= 1.2]
    lines += [
        "",
        "`rfm_summary` within 1.2x of the hand-written query with the same output (CPU "
        "ratio, which moves less with the load than the wall one): "
        + (f"met on {', '.join(met)}" if met else "met on no engine")
        + ". With no more memory (median peaks): "
        + ", ".join(f"{LABELS[e]} {mem_ratio[e]:.2f}x ({mem_verdict[e]})" for e in ENGINES)
        + ".",
    ]
    return lines


def run(quick: bool = False) -> str:
    lines = [
        *_rfm_section(quick),
        "",
        *_attribution_section(quick),
    ]
    nps_rows = 200_000 if quick else 10_000_000
    lines += [
        "",
        f"Grouped NPS on pandas, {nps_rows:,} answers in 50 segments (median of "
        f"{3 if not quick else 1} rounds, interleaved):",
        "",
        *_nps_floor(nps_rows, 1 if quick else 3),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "SIDE", "PATH"))
    parser.add_argument("--attribution", nargs=4, metavar=("ENGINE", "DATA", "RESOLVED", "ROUNDS"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.attribution:
        engine, data, resolved, rounds = args.attribution
        print(json.dumps(attribution_one(engine, Path(data), Path(resolved), int(rounds))))
        return 0
    if args.one:
        engine, side, path = args.one
        print(json.dumps(one(engine, side, Path(path))))
        return 0
    print(run(quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
