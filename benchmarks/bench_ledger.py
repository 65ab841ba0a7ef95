"""The team ledger against the plain pandas way, side by side.

    python -m benchmarks.bench_ledger            # 2,000,000 events, 3 rounds
    python -m benchmarks.bench_ledger --quick    # 100,000 events, 3 rounds
    python -m benchmarks.run ledger              # the same section into docs/benchmarks.md

Synthetic exhaust: events of 200,000 persons (20,000 at quick size) at 40 touchpoints
over three years; 30 teams own them in spells, a third of the touchpoints changing
owner once; transactions a fifth as many as events. Measured in one process, in
interleaved rounds, median over the rounds:

* crediting rows to owners: :func:`~hxmetrics.measures.ledger.owner_at` (one as-of
  join) against the join an analyst writes first: merge every row with every spell
  of its touchpoint, keep the spell whose ``[valid_from, valid_to)`` holds the time;
* people served per team and quarter: ``team_ledger(teams, events=...)`` (the whole
  ledger: persons, roles, repeat share) against that merge then
  ``groupby(["team", "quarter"]).person_id.nunique()`` (persons only);
* the ledger with revenue by last touch (30 days) against the merge, a
  ``merge_asof`` of the transactions on the credited events and a ``groupby`` sum.

People served and revenue are checked equal before the clock starts.
Ratio = hxmetrics / plain pandas (below 1: faster).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import ratio_rows, side_by_side

SIDES = ("hxmetrics", "pandas")


def make_data(n_events: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_persons = max(1000, n_events // 10)
    start = np.datetime64("2022-01-01", "ns")
    span = np.timedelta64(3 * 365, "D").astype("timedelta64[ns]").astype(np.int64)
    tps = np.array([f"tp{k:02d}" for k in range(40)], dtype=object)
    rows = []
    for k, tp in enumerate(tps):
        team = f"team{k % 30:02d}"
        if k % 3 == 0:
            cut = start + np.timedelta64(int(rng.integers(span // 4, 3 * span // 4)), "ns")
            rows.append((team, tp, start, cut))
            rows.append((f"team{(k + 7) % 30:02d}", tp, cut, np.datetime64("NaT", "ns")))
        else:
            rows.append((team, tp, start, np.datetime64("NaT", "ns")))
    teams = pd.DataFrame(rows, columns=["team", "touchpoint", "valid_from", "valid_to"])
    teams["valid_from"] = teams["valid_from"].astype("datetime64[ns]")
    teams["valid_to"] = teams["valid_to"].astype("datetime64[ns]")

    def times(n: int) -> np.ndarray:
        out: np.ndarray = start + rng.integers(0, span, n).astype("timedelta64[ns]")
        return out

    events = pd.DataFrame(
        {
            "person_id": pd.Series(
                np.char.add("P", rng.integers(0, n_persons, n_events).astype(str)), dtype="str"
            ),
            "role": pd.Series(
                rng.choice(["customer", "worker", "partner"], n_events, p=[0.8, 0.15, 0.05]),
                dtype="str",
            ),
            "touchpoint": pd.Series(tps[rng.integers(0, len(tps), n_events)], dtype="str"),
            "timestamp": times(n_events),
        }
    )
    n_tx = n_events // 5
    transactions = pd.DataFrame(
        {
            "person_id": pd.Series(
                np.char.add("P", rng.integers(0, n_persons, n_tx).astype(str)), dtype="str"
            ),
            "timestamp": times(n_tx),
            "amount": np.round(rng.gamma(2.0, 20.0, n_tx), 2),
        }
    )
    return {"teams": teams, "events": events, "transactions": transactions}


def _plain_owner(teams: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    merged = events.merge(teams, on="touchpoint", how="inner")
    inside = (merged["timestamp"] >= merged["valid_from"]) & (
        merged["valid_to"].isna() | (merged["timestamp"] < merged["valid_to"])
    )
    return merged[inside]


def _plain_served(teams: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    owned = _plain_owner(teams, events)
    quarter = owned["timestamp"].dt.to_period("Q")
    return owned.groupby([owned["team"], quarter])["person_id"].nunique()


def _plain_revenue(teams: pd.DataFrame, events: pd.DataFrame, tx: pd.DataFrame) -> float:
    owned = _plain_owner(teams, events)[["person_id", "timestamp", "team"]]
    joined = pd.merge_asof(
        tx.sort_values("timestamp"),
        owned.sort_values("timestamp"),
        on="timestamp",
        by="person_id",
        direction="backward",
        tolerance=pd.Timedelta("30D"),
    )
    credited = joined[joined["team"].notna()]
    quarter = credited["timestamp"].dt.to_period("Q")
    return float(credited.groupby([credited["team"], quarter])["amount"].sum().sum())


def _check(data: dict[str, pd.DataFrame]) -> None:
    """A wrong result must not be timed: the same people served and revenue."""
    from hxmetrics.measures.ledger import team_ledger

    teams, events, tx = data["teams"], data["events"], data["transactions"]
    ledger = team_ledger(teams, events=events, transactions=tx, period="Q")
    plain = _plain_served(teams, events)
    ours = ledger.set_index(["team", "period"])["n"]
    ours = ours[ours > 0]
    assert len(ours) == len(plain)
    np.testing.assert_array_equal(
        ours.sort_index().to_numpy(dtype=np.int64), plain.sort_index().to_numpy(dtype=np.int64)
    )
    np.testing.assert_allclose(float(ledger["revenue"].sum()), _plain_revenue(teams, events, tx))


def run(quick: bool = False) -> str:
    """Time the ledger; return a Markdown section with times and ratios."""
    from hxmetrics.measures.ledger import check_teams, owner_at, team_ledger

    n, n_rounds = (100_000, 3) if quick else (2_000_000, 3)
    data = make_data(n)
    teams, events, tx = data["teams"], data["events"], data["transactions"]
    _check(data)
    spells = check_teams(teams)
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "credit rows to owners",
            lambda: owner_at(spells, events["touchpoint"], events["timestamp"]),
            lambda: _plain_owner(teams, events),
        ),
        (
            "people served per team and quarter",
            lambda: team_ledger(teams, events=events, period="Q"),
            lambda: _plain_served(teams, events),
        ),
        (
            "the same with revenue by last touch",
            lambda: team_ledger(teams, events=events, transactions=tx, period="Q"),
            lambda: (_plain_served(teams, events), _plain_revenue(teams, events, tx)),
        ),
    ]
    wall, cpu = side_by_side(cases, SIDES, n_rounds)
    lines = [
        "## Team ledger",
        "",
        f"{n:,} events at 40 touchpoints owned by 30 teams (13 ownership changes), "
        f"{len(tx):,} transactions; median seconds over {n_rounds} interleaved rounds;",
        "people served and revenue checked equal first. Ratio = hxmetrics / plain pandas.",
        "",
        "| case | hxmetrics (s) | plain pandas (s) | ratio | ratio of CPU times |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += ratio_rows(cases, wall, cpu, SIDES, digits=3)
    lines += [
        "",
        "The plain way computes persons only (and revenue in the last case); the ledger",
        "also counts roles, repeat persons and exclusions and validates the teams table.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    section = run(quick="--quick" in sys.argv[1:])
    title, rest = section.split("\n", 1)
    from benchmarks.run import machine  # the one machine description of the benchmarks

    print(f"{title}\n\n{machine()}\n{rest}")
