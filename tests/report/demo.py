"""A demo report built from small, fixed, made-up results (no measure code involved).

Used by the tests and to look at the report rendered:
``python -m tests.report.demo /tmp/demo.html``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from hxmetrics.plotting import new_figure, plot_curves, plot_estimates, plot_overlap
from hxmetrics.report import Kpi, Report

# Identifiers of the made-up input; none of them may reach the report.
EMAILS = ["ana.lima@example.com", "B.Okafor@example.org"]
PHONES = ["+44 20 7946 0958", "(555) 010-4477"]

NPS = pd.DataFrame(
    {
        "view": ["siloed"] * 3 + ["unified"] * 3,
        "role": ["customer", "worker", "partner"] * 2,
        "n": [812, 143, 9, 780, 171, 9],
        "nps": [21.4, -3.5, np.nan, 19.8, 4.1, np.nan],
        "se": [3.2, 7.9, np.nan, 3.3, 7.1, np.nan],
        "ci_low": [15.1, -18.9, np.nan, 13.3, -9.8, np.nan],
        "ci_high": [27.6, 12.0, np.nan, 26.2, 18.0, np.nan],
        "promoters": [372, 44, 0, 350, 60, 0],
        "detractors": [198, 49, 0, 196, 53, 0],
        "suppressed": [False, False, True, False, False, True],
    }
)

OVERLAP = pd.DataFrame(
    {
        "customer": [True, False, False, True, True, False, True],
        "worker": [False, True, False, True, False, True, True],
        "partner": [False, False, True, False, True, True, True],
        "n": [4210, 388, 152, 96, 41, 17, 6],
    }
)

RETENTION = pd.DataFrame(
    {
        "month": np.tile(np.arange(0, 25, 3), 2),
        "retained": np.concatenate(
            [np.exp(-np.arange(0, 25, 3) / 30), np.exp(-np.arange(0, 25, 3) / 45)]
        ),
        "role": ["customer"] * 9 + ["worker"] * 9,
    }
)
RETENTION["ci_low"] = RETENTION["retained"] - 0.04
RETENTION["ci_high"] = (RETENTION["retained"] + 0.04).clip(upper=1)


def build() -> Report:
    """Build the demo report; the same content every call."""
    report = Report(
        title="Human-experience report",
        subtitle="Demo organisation · 5,000 people · surveys January–June 2025",
        footer="Made with hxmetrics. Groups with fewer than 10 respondents are suppressed.",
    )
    overview = report.add_section(
        "overview",
        "At a glance",
        intro="Headline scores with 95% intervals. Partner NPS is suppressed: only nine "
        "partners answered.",
    )
    overview.add_kpis(
        [
            Kpi("Customer NPS", 19.8, ci_low=13.3, ci_high=26.2, n=780),
            Kpi("Employee NPS (eNPS)", 4.1, ci_low=-9.8, ci_high=18.0, n=171),
            Kpi("Partner NPS", None, n=9, note="fewer than 10 respondents"),
            Kpi("CSAT (top-2-box)", 81.2, ci_low=78.9, ci_high=83.3, n=1204, unit="%"),
        ]
    )
    people = report.add_section(
        "stakeholders",
        "Who crosses roles",
        intro="People per combination of roles, after linking the three silos.",
    )
    fig, ax = new_figure(7.0, 3.0)
    plot_overlap(OVERLAP, ax=ax)
    people.add_figure(
        fig,
        alt="Bar chart: 4,210 customers only, 388 workers only, 152 partners only; 96 "
        "people are both customers and workers.",
        caption="Each person is counted once, in the combination of roles they held.",
    )
    nps = report.add_section(
        "nps",
        "Net Promoter Score by role: siloed vs unified",
        intro="Siloed: each silo surveys its own list. Unified: each answer is attributed "
        "to the person and the roles held when it was given.",
    )
    fig, ax = new_figure(7.0, 2.6)
    plot_estimates(
        NPS, estimate="nps", by="role", hue="view", reference=0, ax=ax, xlabel="NPS (−100 to 100)"
    )
    nps.add_figure(fig, alt="Dot plot of NPS by role for the siloed and unified views.")
    nps.add_table(
        NPS.drop(columns="se"),
        caption="NPS by role",
        number_formats={"nps": "{:+.1f}", "ci_low": "{:+.1f}", "ci_high": "{:+.1f}"},
        labels={"ci_low": "95% CI from", "ci_high": "to", "nps": "NPS"},
    )
    nps.add_note("Partner NPS is suppressed in both views (n = 9 < 10).", kind="warning")
    tenure = report.add_section("tenure", "Retention", intro="Share still active, by role.")
    fig, ax = new_figure(7.0, 3.2)
    plot_curves(
        RETENTION,
        x="month",
        y="retained",
        by="role",
        ci_low="ci_low",
        ci_high="ci_high",
        step=True,
        ax=ax,
        ylabel="share retained",
    )
    tenure.add_figure(fig, alt="Step curves: workers are retained longer than customers.")
    tenure.add_heading("Cell escaping")
    tenure.add_table(
        pd.DataFrame({"touchpoint": ["<script>alert(1)</script>", "app & web"], "n": [12, 30]})
    )
    return report


if __name__ == "__main__":  # pragma: no cover
    out = sys.argv[1] if len(sys.argv) > 1 else "demo_report.html"
    print(build().write(out, forbidden=EMAILS + PHONES))
