"""Draw docs/_static/ledger_planted_shift.png and print the page's tables.

    python docs/plot_ledger.py

A simulated organisation (12 000 persons, seed 0) with the teams step
(:func:`hxmetrics.datasets._teams.add_teams`: the touchpoints' owners, chat moving from
contact_centre to digital in mid-quarter, digital's likelihood-to-recommend answers
lowered by one point from the planted month on). Left: digital's NPS per quarter with
its 95% interval, the planted month marked; right: people served per team and quarter
(the chat move shows as a step). Everything drawn is computed by
:func:`hxmetrics.measures.ledger.team_ledger`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from hxmetrics.datasets import simulate_organisation
from hxmetrics.datasets._teams import add_teams
from hxmetrics.measures.ledger import team_ledger
from hxmetrics.stakeholders import attribute

OUT = Path(__file__).resolve().parent / "_static" / "ledger_planted_shift.png"


def build() -> tuple[pd.DataFrame, dict[str, object]]:
    org = add_teams(simulate_organisation(12_000, random_state=0), random_state=0)
    cw, ep = org.truth.crosswalk, org.truth.episodes
    tables = {
        name: attribute(getattr(org, name), crosswalk=cw, episodes=ep, time=time)
        for name, time in (
            ("responses", "timestamp"),
            ("events", "timestamp"),
            ("tickets", "opened"),
            ("transactions", "timestamp"),
        )
    }
    ledger = team_ledger(
        org.teams,
        period="Q",
        sla={"critical": "2h", "high": "8h", "medium": "1D", "low": "3D"},
        min_n=10,
        **tables,
    )
    return ledger, org.truth.planted["teams"]


def main() -> None:
    ledger, planted = build()
    team = str(planted["team"])
    shift = pd.Period(pd.Timestamp(planted["shift_month"]), freq="Q")  # type: ignore[arg-type]
    mine = ledger[ledger["team"] == team]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = mine["period"].dt.to_timestamp()
    ax1.errorbar(
        x,
        mine["estimate"],
        yerr=[mine["estimate"] - mine["ci_low"], mine["ci_high"] - mine["estimate"]],
        fmt="o-",
        ms=3,
        capsize=2,
    )
    ax1.axvline(shift.start_time, color="tab:red", ls="--", label="planted shift")
    ax1.set_title(f"{team}: NPS per quarter (95% interval)")
    ax1.set_ylabel("NPS (points)")
    ax1.legend(loc="lower left")
    for name, part in ledger.groupby("team", observed=True):
        ax2.plot(part["period"].dt.to_timestamp(), part["n"], label=str(name))
    ax2.set_title("people served per quarter")
    ax2.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    cols = [
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
    around = mine[(mine["period"] >= shift - 2) & (mine["period"] <= shift + 1)]
    print(f"planted: {planted['nps_change']:.1f} NPS points from {planted['shift_month']}")
    print(around[cols].to_string(index=False))
    last = ledger[ledger["period"] == ledger["period"].max()]
    print(
        last[
            [
                "team",
                "n",
                "n_served_customer",
                "n_served_worker",
                "n_served_partner",
                "pct_repeat",
                "estimate",
                "median_first_response_hours",
                "pct_sla_met",
                "revenue",
            ]
        ]
        .round(1)
        .to_string(index=False)
    )
    print({k: v for k, v in ledger.attrs["hxmetrics"].items() if "revenue" in k})


if __name__ == "__main__":
    main()
