"""Draw docs/_static/ledger_planted_shift.png and print the page's tables.

    python docs/plot_ledger.py

1. The bundled sample (:func:`hxmetrics.datasets.load_sample`, 3,000 persons), whose
   teams step (:func:`hxmetrics.datasets._teams.add_teams`) gave every touchpoint an
   owner, moved chat from contact_centre to digital in mid-quarter and lowered digital's
   likelihood-to-recommend answers by one point from the planted month on. The tables
   are attributed as a user would: a :class:`StakeholderRegistry` built from the
   sample's rosters. About 20 answers a quarter reach digital: too few to see the shift.
2. The same step on a larger simulation (12 000 persons, seed 0, attributed with the
   simulator's truth crosswalk as the tests do), where the shift is recovered; and a
   two-point shift with monthly periods.

Left: digital's NPS per quarter with 95% intervals, sample and simulation, the planted
month marked; right: people served per team and quarter on the sample. Everything
drawn is computed by :func:`hxmetrics.measures.ledger.team_ledger`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from hxmetrics.datasets import load_sample, simulate_organisation
from hxmetrics.datasets._model import Organisation
from hxmetrics.datasets._teams import add_teams
from hxmetrics.measures.ledger import team_ledger
from hxmetrics.stakeholders import StakeholderRegistry, attribute

OUT = Path(__file__).resolve().parent / "_static" / "ledger_planted_shift.png"
SLA = {"critical": "2h", "high": "8h", "medium": "1D", "low": "3D"}
TIMES = (
    ("responses", "timestamp"),
    ("events", "timestamp"),
    ("tickets", "opened"),
    ("transactions", "timestamp"),
)
CHANGE = [
    "period",
    "n",
    "n_answers",
    "estimate",
    "change",
    "change_ci_low",
    "change_ci_high",
    "change_p_value",
    "change_p_holm",
]


def sample_tables(org: Organisation) -> dict[str, pd.DataFrame]:
    """The sample's exhaust attributed through a registry of its rosters."""
    registry = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    return {name: registry.attribute(getattr(org, name), time=time) for name, time in TIMES}


def truth_tables(org: Organisation) -> dict[str, pd.DataFrame]:
    """A simulation's exhaust attributed with its truth crosswalk (as the tests do)."""
    cw, ep = org.truth.crosswalk, org.truth.episodes
    return {
        name: attribute(getattr(org, name), crosswalk=cw, episodes=ep, time=time)
        for name, time in TIMES
    }


def around(ledger: pd.DataFrame, planted: dict[str, Any], freq: str) -> pd.DataFrame:
    shift = pd.Period(pd.Timestamp(planted["shift_month"]), freq=freq)
    mine = ledger[ledger["team"] == planted["team"]]
    return mine[(mine["period"] >= shift - 2) & (mine["period"] <= shift + 1)][CHANGE]


def report(name: str, ledger: pd.DataFrame, planted: dict[str, Any], freq: str) -> None:
    print(
        f"\n== {name}: planted {planted['nps_change']:.1f} NPS points from "
        f"{planted['shift_month']} ({planted['n_answers_shifted']} answers shifted)"
    )
    print(around(ledger, planted, freq).to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    flagged = ledger[ledger["change_significant"].fillna(False).astype(bool)]
    print("flagged after Holm:", flagged[["team", "period", "change"]].to_string(index=False))
    meta = ledger.attrs["hxmetrics"]
    print({k: meta[k] for k in ("revenue_unattributed", "unowned", "no_touchpoint") if k in meta})
    print("revenue credited", round(float(ledger["revenue"].sum()), 2))


def nps_panel(ax: Any, ledger: pd.DataFrame, planted: dict[str, Any], label: str) -> None:
    mine = ledger[ledger["team"] == planted["team"]]
    mine = mine[mine["period"] >= pd.Period("2021Q1", "Q")]
    x = mine["period"].dt.to_timestamp()
    ax.errorbar(
        x,
        mine["estimate"],
        yerr=[mine["estimate"] - mine["ci_low"], mine["ci_high"] - mine["estimate"]],
        fmt="o-",
        ms=3,
        capsize=2,
        label=label,
        alpha=0.85,
    )


def main() -> None:
    pd.set_option("display.width", 200)
    sample = load_sample()  # the teams step is in it already: never add_teams again
    planted = sample.truth.planted["teams"]
    ledger = team_ledger(sample.teams, period="Q", sla=SLA, min_n=10, **sample_tables(sample))
    report("sample, quarters", ledger, planted, "Q")
    last = ledger[ledger["period"] == ledger["period"].max()]
    columns = ["team", "n", "n_served_customer", "n_served_worker", "n_served_partner"]
    columns += ["pct_repeat", "n_answers", "estimate", "median_first_response_hours"]
    columns += ["pct_sla_met", "revenue"]
    print(last[columns].round(1).to_string(index=False))
    total = float(sample.transactions["amount"].sum())
    print("transactions total", round(total, 2))
    quarterly_all = team_ledger(sample.teams, period="Q", **sample_tables(sample))
    mine = quarterly_all[quarterly_all["team"] == planted["team"]]
    print("digital answers a quarter (no min_n):", mine["n_answers"].describe().round(1).to_dict())

    big = add_teams(simulate_organisation(12_000, random_state=0), random_state=0)
    big_planted = big.truth.planted["teams"]
    big_ledger = team_ledger(big.teams, period="Q", sla=SLA, min_n=10, **truth_tables(big))
    report("12 000 persons, quarters", big_ledger, big_planted, "Q")
    served = team_ledger(
        big.teams, period="Q", revenue_rule="served_in_period", **truth_tables(big)
    )
    big_total = float(big.transactions["amount"].sum())
    print("revenue share last_touch", round(float(big_ledger["revenue"].sum()) / big_total, 3))
    print("revenue share served_in_period", round(float(served["revenue"].sum()) / big_total, 3))

    two = add_teams(simulate_organisation(12_000, random_state=0), random_state=0, score_shift=-2)
    cw, ep = two.truth.crosswalk, two.truth.episodes
    answers = attribute(two.responses, crosswalk=cw, episodes=ep)
    monthly = team_ledger(two.teams, responses=answers, period="M")
    report("12 000 persons, score_shift=-2, months", monthly, two.truth.planted["teams"], "M")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    nps_panel(ax1, ledger, planted, "sample (3,000 persons)")
    nps_panel(ax1, big_ledger, big_planted, "simulation (12,000 persons)")
    ax1.axvline(pd.Timestamp(planted["shift_month"]), color="tab:red", ls="--", label="shift")
    ax1.set_title(f"{planted['team']}: NPS per quarter (95% interval)")
    ax1.set_ylabel("NPS (points)")
    ax1.legend(loc="lower left", fontsize=8)
    for name, part in ledger.groupby("team", observed=True):
        ax2.plot(part["period"].dt.to_timestamp(), part["n"], label=str(name))
    ax2.set_title("sample: people served per quarter")
    ax2.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)


if __name__ == "__main__":
    main()
