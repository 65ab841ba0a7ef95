"""Monthly NPS by team with month-on-month tests, against a hand-written pandas version.

    python -c "import benchmarks.bench_trends as b; print(b.run(quick=True))"

10,000,000 answers (0-10 scores as floats) over 36 months in 20 teams (text). Measured
side by side in one process: what an analyst writes with plain pandas (a groupby of
the counts per team and month, the Wald NPS, a z test of each month against the one
before with the trinomial variances, Holm's adjustment by statsmodels'
``multipletests``; no input checks, no empty months, no suppression), and
``hxmetrics.measures.trends.trend(..., "nps", by="team", method="wald")`` on pandas and
on Polars (converted to pandas at the door), then a Laney chart of one team's trend. The
results are checked against each other before the clock starts; best of the rounds.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.measures.trends import control_chart, trend


def make_data(n_rows: int, n_teams: int = 20, months: int = 36, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"team_{i:02d}" for i in range(n_teams)])
    probs = np.array([0.03, 0.02, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.2, 0.18, 0.22])
    seconds = rng.integers(0, months * 30 * 86_400, n_rows)
    return pd.DataFrame(
        {
            "team": names[rng.integers(0, n_teams, n_rows)],
            "score": rng.choice(11, size=n_rows, p=probs / probs.sum()).astype(float),
            "timestamp": pd.Timestamp("2023-01-01") + pd.to_timedelta(seconds, "s"),
        }
    )


def handwritten(df: pd.DataFrame) -> pd.DataFrame:
    """Counts per team and month, Wald NPS, z test against the previous month, Holm."""
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    score = df["score"]
    flags = pd.DataFrame(
        {
            "team": df["team"],
            "period": df["timestamp"].dt.to_period("M"),
            "promoter": score >= 9,
            "detractor": score <= 6,
        }
    )
    c = flags.groupby(["team", "period"], sort=True).agg(
        n=("promoter", "size"), promoters=("promoter", "sum"), detractors=("detractor", "sum")
    )
    c = c.reset_index()
    p, d = c["promoters"] / c["n"], c["detractors"] / c["n"]
    c["nps"] = 100 * (p - d)
    var = (p + d - (p - d) ** 2) / c["n"]
    same = c["team"].eq(c["team"].shift())
    diff = (p - d) - (p - d).shift()
    z = diff / np.sqrt(var + var.shift())
    c["p_value"] = np.where(same, 2 * stats.norm.sf(np.abs(z)), np.nan)
    ok = c["p_value"].notna().to_numpy()
    adjusted = np.full(len(c), np.nan)
    adjusted[ok] = multipletests(c["p_value"].to_numpy()[ok], method="holm")[1]
    c["p_adjusted"] = adjusted
    return c


def _ours(native: Any) -> pd.DataFrame:
    return trend(native, "nps", by="team", method="wald")


def _best(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _check(result: pd.DataFrame, reference: pd.DataFrame) -> None:
    """A wrong result must not be timed: same counts, NPS and p-values."""
    if not np.array_equal(result["n"].to_numpy(dtype=np.int64), reference["n"].to_numpy()):
        raise AssertionError("n differs from the hand-written result")
    np.testing.assert_allclose(result["estimate"], reference["nps"], rtol=1e-12)
    np.testing.assert_allclose(result["change_p_value"], reference["p_value"], rtol=1e-9)
    np.testing.assert_allclose(result["change_p_adjusted"], reference["p_adjusted"], rtol=1e-9)


def run(quick: bool = False) -> str:
    """Time the monthly trend; return a Markdown section with the times and ratios."""
    n_rows = 200_000 if quick else 10_000_000
    repeats = 2 if quick else 3
    df = make_data(n_rows)
    reference = handwritten(df)
    _check(_ours(df), reference)
    engines: dict[str, Any] = {"hxmetrics trend, pandas": df}
    try:
        import polars as pl

        engines["hxmetrics trend, Polars"] = pl.from_pandas(df)
    except ImportError:  # pragma: no cover - optional engine
        pass
    baseline = "hand-written pandas + statsmodels (baseline)"
    best: dict[str, float] = {}
    one_team = _ours(df)
    one_team = one_team[one_team["team"] == "team_00"]
    for _ in range(repeats):  # interleaved rounds: a busy moment favours no one
        runs: list[tuple[str, Callable[[], Any]]] = [(baseline, lambda: handwritten(df))]
        runs += [(name, lambda native=native: _ours(native)) for name, native in engines.items()]
        runs.append(("control_chart (Laney) of one team's trend", lambda: control_chart(one_team)))
        for name, fn in runs:
            best[name] = min(best.get(name, float("inf")), _best(fn, 1))
    reference_time = best[baseline]
    lines = [
        "## Trends: monthly NPS by team with month-on-month tests",
        "",
        f"{n_rows:,} answers over 36 months in 20 teams; NPS (Wald) per team and month, the",
        "z test of each month against the previous one, Holm's adjustment over the table.",
        "hxmetrics also validates every score, fills empty months and returns the tidy",
        f"result; the baseline does none of that. Best of {repeats} interleaved rounds.",
        "Ratio = time / baseline (lower is faster); on a shared machine read the ratios.",
        "",
        "| implementation | seconds | ratio |",
        "| --- | ---: | ---: |",
    ]
    for name, seconds in best.items():
        lines.append(f"| {name} | {seconds:.3f} | {seconds / reference_time:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(run())
