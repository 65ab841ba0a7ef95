"""Draw docs/_static/journeys_transitions.png and touchpoints_lift.png; print the page's tables.

    python docs/plot_journeys.py

The bundled sample (:func:`hxmetrics.datasets.load_sample`, 3,000 persons), whose
journeys step (:func:`hxmetrics.datasets._journeys.add_journeys`) planted a help desk
visited before 70% of the customers' detractor answers and 10% of the others. The
tables are attributed as a user would: a :class:`StakeholderRegistry` built from the
sample's three rosters (not the simulator's truth crosswalk), then
:func:`~hxmetrics.measures.journeys.journeys` and
:func:`~hxmetrics.measures.touchpoints.touchpoint_summary`. Everything drawn is computed
by hxmetrics.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from hxmetrics.datasets import load_sample
from hxmetrics.measures.journeys import journeys
from hxmetrics.measures.touchpoints import touchpoint_summary
from hxmetrics.stakeholders import StakeholderRegistry

STATIC = Path(__file__).resolve().parent / "_static"


def main() -> None:
    org = load_sample()  # the journeys are in it already: never add_journeys again
    registry = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    events = registry.attribute(org.events)
    answers = registry.attribute(org.responses)
    detractors = answers[(answers["item"] == "ltr") & (answers["score"] <= 6)]

    j = journeys(events, by="role", outcome=detractors, outcome_window="3D")
    s = touchpoint_summary(events, answers, window="2D", min_n=5)
    truth = org.truth.planted["journeys"]

    pd.set_option("display.width", 200)
    print(truth)
    print(j.sessions[["role", "n", "estimate", "n_sessions", "mean_session_length"]])
    assert j.removal is not None
    customer = j.removal[j.removal["role"] == "customer"].sort_values("rank")
    print(customer[["touchpoint", "n", "estimate", "removal_share", "pct_converted", "rank"]])
    print(j.paths[j.paths["role"] == "customer"][["rank", "path", "n", "pct", "n_persons"]])
    assert s.lift is not None
    lift = s.lift[s.lift["role"] == "customer"]
    print(lift[["touchpoint", "n", "estimate", "ci_low", "ci_high", "n_exposed"]])
    print(s.reach[s.reach["role"] == "customer"][["touchpoint", "n", "n_reached", "estimate"]])

    fig, ax = plt.subplots(figsize=(8, 5.5))
    j.plot(ax=ax, group="customer")
    ax.set_title("customers' journeys: transition probabilities (rows of < 5 persons hidden)")
    fig.tight_layout()
    fig.savefig(STATIC / "journeys_transitions.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.2))
    shown = s.lift[s.lift["role"] == "customer"]
    summary = type(s)(s.reach, s.contacts, s.scores, shown, s.meta)
    summary.plot(ax=ax, kind="lift")
    ax.axvline(truth["expected_lift"], color="tab:red", ls="--", lw=1, label="planted lift")
    ax.legend(loc="lower right")
    ax.set_title("customers: detractor lift, 2 days before answering (95% Katz)")
    fig.tight_layout()
    fig.savefig(STATIC / "touchpoints_lift.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
