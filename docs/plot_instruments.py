"""Draw the instruments page's figures and print its tables.

    python docs/plot_instruments.py

On the bundled sample (:func:`hxmetrics.datasets.load_sample`), as it is: it carries the
teams ledger (``org.teams``) and one wave of the zero-distance and customer-centricity
banks (``org.responses``). The answers are attributed to persons with the stakeholder
registry built from the sample's rosters, then:

* ``docs/_static/instruments_zero_distance_profile.png``: the zero-distance profile by
  role (:func:`~hxmetrics.instruments.score_instrument`);
* ``docs/_static/instruments_customer_centricity_profile.png``: the eight dimensions
  (workers);
* ``docs/_static/instruments_gap.png``: the gap per team and practice
  (:func:`~hxmetrics.instruments.zero_distance_gap`), with the simulator's planted gap.

Everything drawn is computed by hxmetrics.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from hxmetrics.datasets import load_sample
from hxmetrics.instruments import (
    BANKS,
    check_responses,
    load_bank,
    score_instrument,
    zero_distance_gap,
)
from hxmetrics.stakeholders import StakeholderRegistry

STATIC = Path(__file__).resolve().parent / "_static"


def main() -> None:
    org = load_sample()
    catalogue = load_bank(*BANKS)
    check_responses(org.responses, catalogue)
    registry = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    answers = registry.attribute(org.responses)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)

    zd = score_instrument(answers, "zero_distance", catalogue=catalogue)
    print(zd.scores[["role", "subscale", "n", "estimate", "ci_low", "ci_high"]].round(2))
    rel = zd.reliability
    assert rel is not None
    print(rel.pivot_table(index="scale", columns=["role", "measure"], values="estimate").round(2))
    print(zd.structure)
    print(zd.invariance)
    fig, ax = plt.subplots(figsize=(6.5, 6.5), subplot_kw={"projection": "polar"})
    zd.plot(ax=ax)
    fig.savefig(STATIC / "instruments_zero_distance_profile.png", dpi=110, bbox_inches="tight")

    cc = score_instrument(answers, "customer_centricity", catalogue=catalogue)
    print(cc.scores[["subscale", "n", "estimate", "ci_low", "ci_high"]].round(2))
    print(cc.reliability[["scale", "measure", "estimate", "ci_low", "ci_high"]].round(2))  # type: ignore[index]
    print(cc.structure)
    print(org.truth.planted["instruments"]["customer_centricity"].round(2))
    fig, ax = plt.subplots(figsize=(6.5, 6.5), subplot_kw={"projection": "polar"})
    cc.plot(ax=ax)
    fig.savefig(
        STATIC / "instruments_customer_centricity_profile.png", dpi=110, bbox_inches="tight"
    )

    planted = org.truth.planted["instruments"]
    gap = zero_distance_gap(answers, teams=org.teams, catalogue=catalogue)
    table = gap.gaps.merge(planted["gap"], on=["team", "subscale"], suffixes=("", "_planted"))
    print(f"gap team: {planted['gap_team']}")
    print(
        table[["team", "subscale", "n_self", "n_served", "estimate", "ci_low", "ci_high", "gap"]]
        .round(2)
        .to_string()
    )
    fig, ax = plt.subplots(figsize=(8.5, 4.5), layout="constrained")
    gap.plot(ax=ax)
    own = planted["gap"][planted["gap"]["team"] == planted["gap_team"]].set_index("subscale")
    subs = list(dict.fromkeys(gap.gaps["subscale"].astype(str)))
    names = list(dict.fromkeys(gap.gaps["team"].astype(str)))
    k, j = len(names), names.index(planted["gap_team"])
    y = [i + (j - (k - 1) / 2) * 0.8 / k for i in range(len(subs))]  # the team's row
    ax.scatter(own["gap"].reindex(subs), y, marker="x", color="black", s=60,
               label=f"planted ({planted['gap_team']})", zorder=5)  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # off the data
    fig.savefig(STATIC / "instruments_gap.png", dpi=110)


if __name__ == "__main__":
    main()
