"""Draw docs/_static/responsiveness_naive_vs_censored.png and print the page's table.

    python docs/plot_responsiveness.py

On the bundled sample (:func:`hxmetrics.datasets.load_sample`): at each month end from
January 2024 to November 2025, the tickets opened in the 30 days before are measured as a dashboard
would see them that day (answers and closings after the month end have not happened
yet). Three numbers per month: the median time to close of the tickets already closed
(the naive dashboard number), the censored Kaplan-Meier median of
:func:`~hxmetrics.measures.responsiveness.tickets.responsiveness` with its interval,
and the truth the simulator knows (the median of the same tickets' eventual times,
``truth.ticket_paths``). Everything drawn is computed by hxmetrics.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hxmetrics.datasets import load_sample
from hxmetrics.measures.responsiveness.tickets import responsiveness

OUT = Path(__file__).resolve().parent / "_static" / "responsiveness_naive_vs_censored.png"
COHORT = pd.Timedelta(days=30)


def monthly(tickets: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Naive, censored and true median hours to close of each month's last-30-day cohort."""
    true_hours = truth.set_index("ticket_id")["closed_hours"]
    rows = []
    for end in pd.date_range("2024-01-31", "2025-11-30", freq="ME"):
        as_of = end + pd.Timedelta(hours=23, minutes=59)
        cohort = tickets[(tickets["opened"] > as_of - COHORT) & (tickets["opened"] <= as_of)]
        done = cohort[cohort["closed"] <= as_of]
        naive = ((done["closed"] - done["opened"]).dt.total_seconds() / 3600).median()
        ours = responsiveness(cohort, clock="closed", by=None, as_of=as_of).iloc[0]
        truth_median = float(true_hours.loc[cohort["ticket_id"]].median())
        rows.append(
            {
                "month": end,
                "tickets": len(cohort),
                "open": int(ours["n_open"]),
                "naive": naive,
                "censored": ours["estimate"],
                "ci_low": ours["ci_low"],
                "ci_high": ours["ci_high"],
                "truth": truth_median,
            }
        )
    return pd.DataFrame(rows)


def by_team(tickets: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per team, the last 90 days of the sample as its final day sees them."""
    as_of = tickets[["opened", "first_response", "closed"]].max().max()
    cohort = tickets[tickets["opened"] > as_of - 3 * COHORT]
    ours = responsiveness(cohort, clock="closed", by="team", as_of=as_of)
    done = cohort[cohort["closed"] <= as_of]
    naive = (
        ((done["closed"] - done["opened"]).dt.total_seconds() / 3600).groupby(done["team"]).median()
    )
    true_hours = truth.set_index("ticket_id")["closed_hours"]
    eventual = true_hours.loc[cohort["ticket_id"]].groupby(cohort["team"].to_numpy()).median()
    return pd.DataFrame(
        {
            "team": ours["team"],
            "tickets": ours["n"],
            "still open": ours["n_open"],
            "naive median (h)": naive.reindex(ours["team"]).to_numpy(),
            "censored median (h)": ours["estimate"],
            "95% interval": [
                f"{lo:.0f} to {hi:.0f}" if np.isfinite(hi) else f"{lo:.0f} to not reached"
                for lo, hi in zip(ours["ci_low"], ours["ci_high"], strict=True)
            ],
            "truth (h)": eventual.reindex(ours["team"]).to_numpy(),
        }
    )


def main() -> None:
    org = load_sample()
    tickets, truth = org.tickets, org.truth.ticket_paths
    table = monthly(tickets, truth)
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=120)
    ax.fill_between(
        table["month"],
        table["ci_low"],
        table["ci_high"],
        color="#1b6ca8",
        alpha=0.18,
        linewidth=0,
        label="censored, 95% interval",
    )
    ax.plot(
        table["month"],
        table["censored"],
        color="#1b6ca8",
        marker="o",
        ms=3,
        label="censored median (hxmetrics)",
    )
    ax.plot(
        table["month"],
        table["naive"],
        color="#d1495b",
        marker="s",
        ms=3,
        label="closed tickets only (naive)",
    )
    ax.plot(
        table["month"],
        table["truth"],
        color="#333333",
        linestyle="--",
        linewidth=1,
        label="truth (simulator)",
    )
    ax.set_ylabel("median hours to close")
    ax.set_title("Tickets opened in the 30 days before each month end", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, ncols=2, loc="upper left")
    ax.set_ylim(0, 1.3 * float(table["ci_high"].max()))  # room for the legend
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT)
    share = 100 * (table["naive"] / table["truth"] - 1)
    low, high = share.min(), share.max()
    print(f"naive vs truth: {share.mean():+.0f}% on average ({low:+.0f}% to {high:+.0f}%)")
    share = 100 * (table["censored"] / table["truth"] - 1)
    print(f"censored vs truth: {share.mean():+.0f}% on average")
    cover = ((table["ci_low"] <= table["truth"]) & (table["truth"] <= table["ci_high"])).mean()
    print(
        f"intervals covering the truth: {cover:.0%} of {len(table)} months; open share "
        f"{100 * table['open'].sum() / table['tickets'].sum():.0f}%"
    )
    print(_markdown(by_team(tickets, truth)))


def _markdown(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "not reached" if not np.isfinite(value) else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + " --- |" * frame.shape[1]]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
