"""Draw docs/_static/trends_sample.png and docs/_static/trends_control_chart.png.

    python docs/plot_trends.py

1. On the bundled sample (:func:`hxmetrics.datasets.load_sample`): quarterly NPS of the
   likelihood-to-recommend answers of customers and workers, with intervals and the Holm-adjusted
   quarter-on-quarter changes (:func:`~hxmetrics.measures.trends.trend`); the table is
   printed for the page.
2. A simulated monthly NPS process (300 answers a month; promoters/passives/detractors
   45/35/20% until month 30, 38/37/25% after: NPS 25 -> 13) charted with Laney's p'
   chart on NPS's multinomial variance, limits frozen on the first 24 months
   (:func:`~hxmetrics.measures.trends.control_chart`). Everything drawn is computed by
   hxmetrics.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hxmetrics.datasets import load_sample
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


def sample_trend() -> pd.DataFrame:
    responses = load_sample().responses
    # Partners give ~7 answers a quarter: below min_n, and their complement in every
    # quarter (the quarter's total is known) would be the workers; left out here.
    ltr = responses[(responses["item"] == "ltr") & (responses["silo"] != "partners")]
    return trend(ltr, "nps", period="Q", by="silo", min_n=10)


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
    t = sample_trend()
    recent = t[t["period"] >= pd.Period("2024Q1", "Q")]
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    plot_trend(recent, ax=ax)
    ax.set_title("Quarterly NPS by silo (sample; 95% intervals)", loc="left")
    fig.savefig(STATIC / "trends_sample.png", dpi=120)
    plt.close(fig)
    columns = ["silo", "period", "n", "estimate", "ci_low", "ci_high", "change"]
    columns += ["change_p_value", "change_p_adjusted", "change_significant", "suppressed"]
    print(markdown(recent[columns].assign(period=recent["period"].astype(str))))

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
