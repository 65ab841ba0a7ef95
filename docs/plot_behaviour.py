"""Draw docs/_static/behaviour_churn_signals.png and print the numbers it shows.

    python docs/plot_behaviour.py

On the bundled sample (:func:`hxmetrics.datasets.load_sample`), attributed through a
:class:`~hxmetrics.stakeholders.StakeholderRegistry` built from its rosters:

* left: P(alive) of every customer at the sample's last day
  (:func:`~hxmetrics.measures.behaviour.behaviour_profile`), split by what the simulator
  knows (``truth.clv.latent.alive``: still buying at the end, or lapsed), with the AUC;
* right: the next-quarter leave hazard of the workers and partners in role 400 days
  before the end, summed (the exits it predicts), against the exits that happened in
  that quarter (the truth's episode ends), for the plain Kaplan-Meier curve and with
  ``observed_from`` (delayed entry at the sample's first day).

Everything drawn is computed by hxmetrics; the truth is the simulator's.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from hxmetrics.datasets import load_sample
from hxmetrics.measures.behaviour import behaviour_profile
from hxmetrics.stakeholders import StakeholderRegistry, merge_episodes

OUT = Path(__file__).resolve().parent / "_static" / "behaviour_churn_signals.png"
QUARTER = 365.25 / 4


def _truth_ids(registry: StakeholderRegistry, truth_crosswalk: pd.DataFrame) -> pd.Series:
    """The simulator's person of each registry person (through their silo ids)."""
    both = registry.crosswalk.merge(truth_crosswalk, on=["silo", "source_id"], suffixes=("", "_t"))
    return both.drop_duplicates("person_id").set_index("person_id")["person_id_t"]


def main() -> None:
    org = load_sample()
    registry = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    events = registry.attribute(org.events)
    transactions = registry.attribute(org.transactions)
    to_truth = _truth_ids(registry, org.truth.crosswalk)

    prof = behaviour_profile(
        events, transactions, as_of=org.end, episodes=registry, observed_from=org.start
    )
    alive = org.truth.clv.latent.sort_values("start").groupby("person_id")["alive"].last()
    cust = prof[prof["role"] == "customer"].assign(truth=lambda d: d["person_id"].map(to_truth))
    cust = cust.join(alive, on="truth").dropna(subset=["p_alive", "alive"])
    pos = cust["alive"].to_numpy(dtype=bool)
    ranks = stats.rankdata(cust["p_alive"])
    auc = (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())
    print(f"customers {len(cust)}, alive {pos.mean():.2f}, AUC of P(alive) {auc:.3f}")

    as_of = org.end - pd.Timedelta(days=400)
    kw = {"as_of": as_of, "episodes": registry, "role": ["worker", "partner"], "period": "Q"}
    plain = behaviour_profile(events, **kw)
    delayed = behaviour_profile(events, observed_from=org.start, **kw)
    ep = merge_episodes(org.truth.episodes)
    ep = ep[ep["start"] <= as_of].sort_values("start").groupby(["person_id", "role"]).last()
    left = ep["end"].notna() & (ep["end"] > as_of)
    left &= ep["end"] <= as_of + pd.Timedelta(days=QUARTER)
    rows = []
    for name, p in (("plain Kaplan-Meier", plain), ("observed_from (delayed entry)", delayed)):
        p = p[np.isfinite(p["leave_hazard"])].assign(truth=lambda d: d["person_id"].map(to_truth))
        exits = left.reindex(pd.MultiIndex.from_arrays([p["truth"], p["role"]])).fillna(False)
        rows.append((name, len(p), float(p["leave_hazard"].sum()), int(exits.sum())))
    for name, n, predicted, observed in rows:
        print(f"{name}: {n} in role, predicted {predicted:.1f}, observed {observed}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    bins = np.linspace(0, 1, 21)
    ax1.hist(cust.loc[pos, "p_alive"], bins=bins, alpha=0.6, label="still buying (truth)")
    ax1.hist(cust.loc[~pos, "p_alive"], bins=bins, alpha=0.6, label="lapsed (truth)")
    ax1.set_xlabel("P(alive) at the last day")
    ax1.set_ylabel("customers")
    ax1.set_title(f"Customers: P(alive), AUC {auc:.2f}")
    ax1.legend(frameon=False)
    x = np.arange(len(rows))
    ax2.bar(x - 0.2, [r[2] for r in rows], width=0.4, label="predicted (sum of hazards)")
    ax2.bar(x + 0.2, [r[3] for r in rows], width=0.4, label="observed exits")
    ax2.set_xticks(x, [r[0] for r in rows])
    ax2.set_ylabel("workers and partners leaving")
    ax2.set_title("Next-quarter exits, 400 days before the end")
    ax2.legend(frameon=False)
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
