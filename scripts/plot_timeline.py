"""Draw docs/_static/stakeholder_timeline.png: one person's role timeline.

    python scripts/plot_timeline.py            # writes the PNG next to the docs

The person, their silo records and a few exhaust rows are made up here; everything
drawn (the merged episodes, the hybrid labels, the roles held at each row) is computed
by ``hxmetrics.stakeholders``, so the picture shows what the library does.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from hxmetrics.stakeholders import StakeholderRegistry

OUT = Path(__file__).resolve().parents[1] / "docs" / "_static" / "stakeholder_timeline.png"
COLOURS = {"customer": "#1b6ca8", "worker": "#d1495b", "partner": "#2e933c"}
LANES = ("customer", "worker", "partner")
VIEW_END = pd.Timestamp("2023-06-30")


def _rosters() -> dict[str, pd.DataFrame]:
    ts = pd.to_datetime
    customers = pd.DataFrame(
        {
            "customer_id": ["C000123"],
            "email": ["Sam.Lee@example.org"],
            "phone": [None],
            "birth_year": [1988],
            "start": ts(["2020-05-01"]),
            "end": ts([None]),
            "engagement": ["consumer"],
        }
    )
    workers = pd.DataFrame(
        {
            # The re-hire got a new id; the email links it to the first one.
            "worker_id": ["W-00042", "W-00871"],
            "email": ["sam.lee@example.org ", "SAM.LEE@example.org"],
            "phone": ["+1 (555) 010-4477", "555.010.4477"],
            "birth_year": [1988, 1988],
            "start": ts(["2019-03-01", "2022-02-01"]),
            "end": ts(["2021-06-30", None]),
            "engagement": ["full_time", "gig"],
        }
    )
    partners = pd.DataFrame(
        {
            "partner_id": ["P90007"],
            "email": [None],
            "phone": ["5550104477"],
            "birth_year": [None],
            "start": ts(["2021-09-01"]),
            "end": ts(["2022-08-31"]),
            "engagement": ["host"],
        }
    )
    return {"customers": customers, "workers": workers, "partners": partners}


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "silo": ["customers", "workers", "partners", "workers"],
            "source_id": ["C000123", "W-00042", "P90007", "W-00871"],
            "timestamp": pd.to_datetime(["2021-01-15", "2021-08-02", "2022-05-10", "2023-02-20"]),
            "what": ["purchase", "eNPS answer", "partner ticket", "eNPS answer"],
        }
    )


def main() -> Path:
    registry = StakeholderRegistry.from_rosters(**_rosters())
    episodes = registry.episodes
    hybrids = registry.hybrids().iloc[0]
    events = registry.attribute(_events())
    hr = registry.silo_view("workers").attribute(_events())

    fig, ax = plt.subplots(figsize=(10.0, 5.4), dpi=110)
    lane_y = {role: 3 - i for i, role in enumerate(LANES)}
    for ep in episodes.itertuples(index=False):
        y = lane_y[ep.role]
        end = ep.end if pd.notna(ep.end) else VIEW_END
        ax.barh(y, end - ep.start, left=ep.start, height=0.5, color=COLOURS[ep.role], alpha=0.85)
        label = f"{ep.engagement}  [{ep.source_id}]"
        ax.text(ep.start + pd.Timedelta(days=20), y, label, va="center", color="white", fontsize=8)
        if pd.isna(ep.end):
            ax.annotate(
                "",
                xy=(VIEW_END + pd.Timedelta(days=40), y),
                xytext=(VIEW_END, y),
                arrowprops={"arrowstyle": "->", "color": COLOURS[ep.role], "lw": 2},
            )
    for k, (ev, siloed) in enumerate(
        zip(events.itertuples(index=False), hr.itertuples(index=False), strict=True)
    ):
        ax.axvline(ev.timestamp, ymin=0.0, ymax=0.93, color="0.35", lw=0.8, ls=":")
        held = [r for r in LANES if getattr(ev, f"is_{r}")]
        text = f"{ev.what} via {ev.silo}\nroles then: {' + '.join(held) or 'none'}"
        if ev.silo == "workers":
            text += f"\nHR's own view: {siloed.attribution}"
        ax.text(
            ev.timestamp,
            0.45 if k % 2 == 0 else -0.45,
            text,
            ha="center",
            va="top",
            fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.6"},
        )
    gap = hybrids["boomerang_gap_days"]
    labels = [
        lab
        for lab in (
            "worker_customer",
            "partner_customer",
            "worker_partner",
            "gig_worker",
            "boomerang",
            "alumni_customer",
            "alumni_partner",
            "customer_to_worker",
        )
        if bool(hybrids[lab])
    ]
    labels = [f"boomerang (gap {gap:.0f} days)" if lab == "boomerang" else lab for lab in labels]
    ax.set_title(
        "One person, three silos: merged role episodes, hybrid labels, as-of attribution",
        fontsize=10,
    )
    fig.text(
        0.02,
        0.03,
        "Hybrid labels: " + ", ".join(labels) + f"\nhybrid_type (first label in rule order): "
        f"{hybrids['hybrid_type']}",
        fontsize=8.5,
    )
    ax.set_yticks([lane_y[r] for r in LANES], LANES)
    ax.set_ylim(-1.4, 3.5)
    ax.set_xlim(pd.Timestamp("2019-01-01"), VIEW_END + pd.Timedelta(days=60))
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # No software/version metadata: the same code draws the same file.
    fig.savefig(OUT, metadata={"Software": None})
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
