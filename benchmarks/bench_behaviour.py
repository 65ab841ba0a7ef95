"""behaviour_profile against the usual pandas way (groupby, then a per-person apply).

    python -m benchmarks.bench_behaviour            # 1M activities side by side, 10M alone
    python -m benchmarks.bench_behaviour --quick    # 100,000 activities, 3 rounds

Customers' events and transactions (half each; a customer buys and visits), ``n / 10``
customers, two years of activity. Both sides compute the same numbers per customer:
recency, frequency in the last 12 months, the trend (slope of the 12 monthly counts),
tenure since the first activity and P(alive) of a fixed BG/NBD model (the published
CDNOW parameters, so no fit is timed). The pandas way is what an analyst writes: one
``groupby().agg`` for the first and last times and the counts, a ``groupby().apply``
with ``np.polyfit`` per customer for the trend, then ``rfm_summary`` and
``probability_alive``. The numbers are checked equal before the clock starts. Rounds
are interleaved and the median reported; ratio = hxmetrics / pandas way (below 1:
faster).
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import timed

AS_OF = pd.Timestamp("2025-12-31")
MONTH = 365.25 / 12


def make_data(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_people = max(n // 10, 10)
    ids = pd.Index([f"C{i:07d}" for i in range(n_people)])
    # Heterogeneous activity: some customers are far busier than others.
    weight = rng.gamma(0.8, 1.0, n_people)
    who = rng.choice(n_people, n, p=weight / weight.sum())
    when = AS_OF - pd.to_timedelta(np.round(rng.uniform(0, 730 * 86_400, n)), unit="s")
    frame = pd.DataFrame(
        {
            "person_id": pd.Categorical.from_codes(who, categories=ids),
            "role": pd.Categorical(["customer"] * n, categories=["customer", "worker", "partner"]),
            "timestamp": when,
        }
    )
    half = n // 2
    return frame.iloc[:half].reset_index(drop=True), frame.iloc[half:].reset_index(drop=True)


def _model() -> Any:
    from hxmetrics.measures.clv import BetaGeo

    return BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")


def ours(events: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    from hxmetrics.measures.behaviour import behaviour_profile

    return behaviour_profile(events, transactions, as_of=AS_OF, role="customer", model=_model())


def pandas_way(events: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    from hxmetrics.measures.clv import rfm_summary

    acts = pd.concat([events, transactions], ignore_index=True)
    acts["person_id"] = acts["person_id"].astype(str)
    age = (AS_OF - acts["timestamp"]).dt.total_seconds() / 86_400
    acts["back"] = np.floor(age / MONTH).astype(int)
    g = acts.groupby("person_id")
    out = g["timestamp"].agg(["min", "max"])
    out["recency_days"] = (AS_OF - out["max"]).dt.total_seconds() / 86_400
    out["tenure_days"] = (AS_OF - out["min"]).dt.total_seconds() / 86_400
    inside = acts[acts["back"] < 12]
    out["frequency"] = inside.groupby("person_id").size().reindex(out.index, fill_value=0)

    def slope(backs: pd.Series) -> float:
        counts = np.bincount(11 - backs.to_numpy(), minlength=12)
        return float(np.polyfit(np.arange(12), counts, 1)[0])

    trend = inside.groupby("person_id")["back"].apply(slope)
    out["activity_trend"] = trend.reindex(out.index, fill_value=0.0)
    tx = transactions.assign(person_id=transactions["person_id"].astype(str))
    rfm = rfm_summary(tx, customer="person_id", time="timestamp", observation_end=AS_OF, unit="W")
    out["p_alive"] = pd.Series(_model().probability_alive(rfm), index=rfm.index).reindex(out.index)
    return out


def _check(events: pd.DataFrame, transactions: pd.DataFrame) -> None:
    """A wrong result must not be timed: the same numbers both ways."""
    a = ours(events, transactions).set_index("person_id")
    b = pandas_way(events, transactions).reindex(a.index)
    for c in ("recency_days", "tenure_days", "p_alive"):
        np.testing.assert_allclose(a[c], b[c], rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(a["frequency"].to_numpy(int), b["frequency"].to_numpy(int))
    np.testing.assert_allclose(a["activity_trend"], b["activity_trend"], atol=1e-10)


def run(quick: bool = False) -> str:
    """Time behaviour_profile; return a Markdown section with times and ratios."""
    sizes, n_rounds, alone = ((100_000,), 3, None) if quick else ((1_000_000,), 3, 10_000_000)
    lines = [
        "## Behaviour profile (`behaviour_profile`)",
        "",
        "Customers' events and transactions, n / 10 customers, two years; recency, "
        "12-month frequency, trend (slope of 12 monthly counts), tenure and P(alive) of a "
        "fixed BG/NBD model. The pandas way: `groupby().agg`, a per-customer "
        "`groupby().apply(np.polyfit)`, `rfm_summary` and `probability_alive`. Median "
        f"of {n_rounds} interleaved rounds; ratio = hxmetrics / pandas way.",
        "",
        "| activities | customers | hxmetrics (s) | pandas way (s) | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n in sizes:
        events, transactions = make_data(n)
        _check(events, transactions)
        w_ours: list[float] = []
        w_pd: list[float] = []
        cpu: list[float] = []
        for _ in range(n_rounds):
            timed(lambda e=events, t=transactions: ours(e, t), w_ours, cpu)
            timed(lambda e=events, t=transactions: pandas_way(e, t), w_pd, cpu)
        a, b = statistics.median(w_ours), statistics.median(w_pd)
        lines.append(f"| {n:,} | {n // 10:,} | {a:.2f} | {b:.2f} | {a / b:.3f} |")
    if alone:
        events, transactions = make_data(alone)
        wall: list[float] = []
        cpu = []
        timed(lambda: ours(events, transactions), wall, cpu)
        lines.append(
            f"| {alone:,} | {alone // 10:,} | {wall[0]:.2f} ({cpu[0]:.1f} CPU s) | not run | |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
