"""Draw docs/_static/trends_sample.png, trends_team_chart.png and trends_control_chart.png.

    python docs/plot_trends.py

1. On the bundled sample (:func:`hxmetrics.datasets.load_sample`): quarterly NPS of the
   likelihood-to-recommend answers of customers and workers, with intervals and the
   Holm-adjusted quarter-on-quarter changes (:func:`~hxmetrics.measures.trends.trend`);
   the table is printed for the page. No attribution is needed: ``silo`` and
   ``touchpoint`` are on the raw answers.
2. On the sample: the quarterly NPS of the answers given at the touchpoints team
   "digital" owned at the time (:func:`~hxmetrics.measures.ledger.owner_at`), where
   the teams step planted a one-point drop from October 2023; Laney chart with limits
   frozen on the quarters before it.
3. A simulated monthly NPS process (300 answers a month; promoters/passives/detractors
   45/35/20% until month 30, 38/37/25% after: NPS 25 -> 13) charted with Laney's p'
   chart on NPS's multinomial variance, limits frozen on the first 24 months
   (:func:`~hxmetrics.measures.trends.control_chart`). Everything drawn is computed by
   hxmetrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hxmetrics.datasets import load_sample
from hxmetrics.datasets._model import Organisation
from hxmetrics.measures.ledger import owner_at
from hxmetrics.measures.trends import control_chart, plot_trend, trend

STATIC = Path(__file__).resolve().parent / "_static"


def markdown(frame: pd.DataFrame) -> str:
    """A Markdown table (numbers rounded to one decimal; missing as a dash)."""

    def cell(value: object) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return "-"
        if isinstance(value, float):
            return f"{value:.1f}" if abs(value) >= 0.05 or value == 0 else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("|" + " --- |" * len(frame.columns))
    for row in frame.astype(object).itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def sample_trend(org: Organisation) -> pd.DataFrame:
    responses = org.responses
    # Partners give ~7 answers a quarter: below min_n, and their complement in every
    # quarter (the quarter's total is known) would be the workers; left out here.
    ltr = responses[(responses["item"] == "ltr") & (responses["silo"] != "partners")]
    return trend(ltr, "nps", period="Q", by="silo", min_n=10)


def team_chart(org: Organisation) -> tuple[Any, pd.Period]:
    """Laney chart of the planted team's quarterly NPS, frozen before the shift."""
    planted = org.truth.planted["teams"]
    ltr = org.responses[org.responses["item"] == "ltr"]
    ltr = ltr.assign(team=owner_at(org.teams, ltr["touchpoint"], ltr["timestamp"]))
    team = ltr[ltr["team"] == planted["team"]]
    shift = pd.Timestamp(planted["shift_month"]).to_period("Q")
    freeze = shift.start_time - pd.Timedelta(days=1)
    return control_chart(team, measure="nps", period="Q", freeze=freeze), shift


def shifted_answers(random_state: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(random_state)
    parts = []
    for k, month in enumerate(pd.period_range("2023-01", periods=42, freq="M")):
        probs = [0.45, 0.35, 0.20] if k < 30 else [0.38, 0.37, 0.25]
        scores = rng.choice([10, 7, 3], size=300, p=probs)
        stamps = month.start_time + pd.to_timedelta(rng.integers(0, 28, 300), "D")
        parts.append(pd.DataFrame({"score": scores, "timestamp": stamps}))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    STATIC.mkdir(exist_ok=True)
    org = load_sample()
    t = sample_trend(org)
    recent = t[t["period"] >= pd.Period("2024Q1", "Q")]
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    plot_trend(recent, ax=ax)
    ax.set_title("Quarterly NPS by silo (sample; 95% intervals)", loc="left")
    fig.savefig(STATIC / "trends_sample.png", dpi=120)
    plt.close(fig)
    columns = ["silo", "period", "n", "estimate", "ci_low", "ci_high", "change"]
    columns += ["change_p_value", "change_p_adjusted", "change_significant", "suppressed"]
    print(markdown(recent[columns].assign(period=recent["period"].astype(str))))
    family = int(t["change_p_value"].notna().sum())
    print(f"changes in the family: {family}, {t['period'].min()} to {t['period'].max()}")
    print("significant:", int(t["change_significant"].fillna(False).sum()))

    chart, shift = team_chart(org)
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    chart.plot(ax=ax)
    ax.axvline(shift.start_time, color="black", linewidth=0.8)
    ax.set_title(
        f"Sample, team digital: Laney chart of quarterly NPS; frozen before {shift}", loc="left"
    )
    fig.savefig(STATIC / "trends_team_chart.png", dpi=120)
    plt.close(fig)
    print(
        f"\nteam chart: centre {chart.centre:.2f}, sigma_z {chart.sigma_z:.3f}, "
        f"baseline {chart.baseline_periods} quarters"
    )
    table = chart.table[["period", "n", "value", "lcl", "ucl", "signal_beyond_limits"]]
    table = table.assign(run=chart.table["signal_run_of_8"], period=table["period"].astype(str))
    print(markdown(table.iloc[16:]))

    chart = control_chart(shifted_answers(), measure="nps", method="laney", freeze=24)
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    chart.plot(ax=ax)
    ax.axvline(pd.Period("2025-07", "M").start_time, color="black", linewidth=0.8)
    ax.set_title("Laney p' chart of NPS; limits frozen on 24 months; shift at 2025-07", loc="left")
    fig.savefig(STATIC / "trends_control_chart.png", dpi=120)
    plt.close(fig)
    print(f"\ncentre {chart.centre:.2f}, sigma_z {chart.sigma_z:.3f}")
    signals = chart.signals[
        ["period", "n", "value", "lcl", "ucl", "signal_beyond_limits", "signal_run_of_8"]
    ]
    print(markdown(signals.assign(period=signals["period"].astype(str))))


if __name__ == "__main__":
    main()
