"""Section 6, "Customer lifetime value and retention"."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from hxmetrics.measures.tenure import retention_curve
from hxmetrics.plotting import new_figure, plot_curves, plot_distribution
from hxmetrics.report.builder import Kpi, Report, Section
from hxmetrics.report.sections.context import Context
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    PCT_FMT,
    add_table,
    ci_formats,
    hybrid_sorted,
    is_missing,
    level,
    shown_count,
)
from hxmetrics.report.sections.settings import CLV_ANNUAL_DISCOUNT, CLV_HORIZON, ROLES, TENURE_UNIT


def value_retention(report: Report, ctx: Context) -> None:
    """CLV (BG/NBD + Gamma-Gamma), retention curves, median tenure, boomerangs."""
    section = report.add_section(
        "value-retention",
        "Customer lifetime value and retention",
        intro=(
            "Lifetime value estimates what each customer will spend in the next "
            f"{CLV_HORIZON} weeks, from how often and how recently they bought and how much "
            "they spend (the BG/NBD and Gamma-Gamma models), discounted at "
            f"{CLV_ANNUAL_DISCOUNT:.0%} a year. Retention shows how long people stay in each "
            "role: the share still in the role after a given number of months, counting "
            "people who are still there as 'at least this long' (Kaplan-Meier)."
        ),
        how_to_read=(
            "Lifetime value is a forecast in the currency of the purchase amounts, per "
            "customer and in total; the percentiles show how unequal it is (a few customers "
            "carry much of it). A retention curve falls as people leave a role; where it "
            "crosses 50% is the median time in the role, and a missing median means more "
            "than half are still there. Shaded bands and 'CI' columns are confidence "
            "intervals; a dash is a number suppressed to protect a small group."
        ),
    )
    _clv(section, ctx)
    _retention(section, ctx)


def _clv(section: Section, ctx: Context) -> None:
    section.add_heading("Lifetime value")
    if ctx.rfm is None:
        section.add_note(
            "No attributable transactions in the data: lifetime value is not shown. A "
            "transactions table (one purchase per row, with its customer, time and amount) "
            "would fill it."
        )
        return
    if "clv_error" in ctx.planned:
        section.add_note(
            f"The lifetime value models could not be fitted ({ctx.planned['clv_error']}).",
            kind="warning",
        )
        return
    buyers = ctx.count("buyers")
    if buyers is None:
        section.add_note(
            f"Lifetime value is suppressed: fewer than {ctx.min_n} customers with purchases."
        )
        return
    bg, gg = ctx.planned["clv_models"]
    value = ctx.planned["clv_value"]
    clv = value["clv"].to_numpy(dtype=float)
    total = float(clv.sum())
    top = np.sort(clv)[::-1][: max(1, math.ceil(0.1 * len(clv)))].sum()
    repeat = ctx.shown("buyers_repeat")
    repeaters = shown_count(repeat, "repeat", True)
    section.add_kpis(
        [
            Kpi("Customers with purchases", buyers, fmt="{:,}"),
            Kpi(
                "Repeat buyers",
                None if is_missing(repeaters) else float(100 * int(repeaters) / buyers),
                fmt=PCT_FMT,
                unit="%",
                note="bought more than once",
            ),
            Kpi(
                f"Expected value, next {CLV_HORIZON} weeks",
                total,
                fmt="{:,.0f}",
                note="all customers, in the currency of the amounts",
            ),
            Kpi(
                "Share from the top 10%",
                float(100 * top / total) if total > 0 else None,
                fmt=PCT_FMT,
                unit="%",
                note="of expected value",
            ),
        ]
    )
    if len(clv) >= 2 * ctx.min_n:
        fig, ax = new_figure(FIG_WIDTH, 3.4)
        plot_distribution(
            _top_coded(clv, ctx.min_n),
            log=True,
            floor=0.01,
            bins=40,
            xlabel=f"expected value over the next {CLV_HORIZON} weeks (log scale)",
            title="Customer lifetime value",
            ax=ax,
        )
        # The bars as drawn (top- and bottom-coded values), read back from the axes;
        # empty bars are left out, and a bar of fewer than min_n customers shows no
        # count (a count in a table is a group's size: the report's minimum applies).
        bars = pd.DataFrame(
            [
                {"low": p.get_x(), "high": p.get_x() + p.get_width(), "n": int(p.get_height())}
                for p in ax.patches
                if isinstance(p, Rectangle) and p.get_height() > 0
            ],
            columns=["low", "high", "n"],
        )
        small = (bars["n"] < ctx.min_n).to_numpy()
        bars["n"] = bars["n"].astype("Int64").mask(small)
        bars["suppressed"] = small
        section.add_figure(
            fig,
            data=bars,
            labels={
                "low": "Value from",
                "high": "to",
                "n": "Customers",
                "suppressed": "Suppressed",
            },
            number_formats={"low": "{:,.2f}", "high": "{:,.2f}"},
            alt=(
                f"Histogram of expected {CLV_HORIZON}-week value per customer on a log "
                f"scale: median {np.median(clv):,.2f}, mean {clv.mean():,.2f}; a few "
                "customers carry much of the value."
            ),
        )
    q10, q25, q50, q75, q90 = _percentiles(clv, (0.1, 0.25, 0.5, 0.75, 0.9), ctx.min_n)
    quantiles = pd.DataFrame(
        {
            "customers": [len(clv)],
            "p10": [q10],
            "p25": [q25],
            "median": [q50],
            "p75": [q75],
            "p90": [q90],
            "mean": [clv.mean()],
            "total": [total],
        }
    )
    add_table(
        section,
        ctx,
        quantiles,
        caption=f"Expected value per customer over the next {CLV_HORIZON} weeks",
        labels={
            "customers": "Customers",
            "p10": "10th percentile",
            "p25": "25th",
            "median": "Median",
            "p75": "75th",
            "p90": "90th",
            "mean": "Mean",
            "total": "Total",
        },
        number_formats=dict.fromkeys(
            ("p10", "p25", "median", "p75", "p90", "mean", "total"), "{:,.2f}"
        ),
    )
    by_type = hybrid_sorted(ctx.shown("clv_by_type"))
    add_table(
        section,
        ctx,
        by_type[["group", "n", "estimate", "ci_low", "ci_high", "suppressed"]],
        caption="Mean expected value by hybrid type (t interval)",
        labels={
            "group": "Hybrid type",
            "n": "Customers",
            "estimate": "Mean value",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        },
        number_formats=ci_formats("estimate", "{:,.2f}"),
    )
    params = pd.concat(
        [
            bg.summary(confidence=ctx.confidence).assign(model="BG/NBD (purchases)"),
            gg.summary(confidence=ctx.confidence).assign(model="Gamma-Gamma (spend)"),
        ],
        ignore_index=True,
    )[["model", "parameter", "estimate", "ci_low", "ci_high"]]
    add_table(
        section,
        ctx,
        params,
        caption="Fitted model parameters",
        labels={
            "model": "Model",
            "parameter": "Parameter",
            "estimate": "Estimate",
            "ci_low": "CI from",
            "ci_high": "to",
        },
        number_formats=ci_formats("estimate", "{:.3f}"),
    )


def _percentiles(values: np.ndarray, shares: Sequence[float], min_n: int) -> list[float]:
    """Percentiles of ``values``; NaN where fewer than ``min_n`` values lie on a side.

    A percentile is one person's value (or between two): it is shown only when at
    least ``min_n`` values lie below it and above it.

    Examples
    --------
    >>> _percentiles(np.arange(20.0), (0.1, 0.5, 0.9), 5)
    [nan, 9.5, nan]
    """
    return [
        float(np.quantile(values, q)) if min(q, 1 - q) * len(values) >= min_n else float("nan")
        for q in shares
    ]


def _top_coded(values: np.ndarray, min_n: int) -> np.ndarray:
    """Values clipped to the ``min_n``-th smallest and largest, for a histogram.

    The outermost bars of a histogram can hold one customer each and show their
    value; clipped, each end holds at least ``min_n`` customers (top- and
    bottom-coding, as statistical agencies publish income distributions).
    """
    if values.size < 2 * min_n:
        return values
    ordered = np.sort(values)
    return np.clip(values, ordered[min_n - 1], ordered[-min_n])


#: Months between the rows of the retention curves' data table.
RETENTION_STEP = 6


def _every(curves: pd.DataFrame, step: int) -> pd.DataFrame:
    """The step curves read at every ``step`` months, as drawn (the last step before).

    A curve has a step per ended episode (hundreds); the table behind the figure gives
    its value every few months, up to where the curve stops.

    Examples
    --------
    >>> c = pd.DataFrame({"role": ["worker"] * 3, "time": [0.0, 4.0, 13.0],
    ...                   "retained": [100.0, 90.0, 80.0], "low": [100.0, 85.0, 70.0],
    ...                   "high": [100.0, 95.0, 90.0]})
    >>> _every(c, 6)["retained"].tolist()
    [100.0, 90.0, 90.0]
    """
    parts = []
    for role, curve in curves.groupby("role", sort=False):
        times = curve["time"].to_numpy(dtype=float)
        at = np.arange(0.0, float(times.max()) + 1e-9, step)
        rows = np.searchsorted(times, at, side="right") - 1
        part = curve.iloc[rows][["retained", "low", "high"]].reset_index(drop=True)
        parts.append(part.assign(role=str(role), time=at)[["role", "time", *part.columns]])
    return pd.concat(parts, ignore_index=True)


def _retention(section: Section, ctx: Context) -> None:
    section.add_heading("Retention")
    episodes = ctx.registry.episodes
    if episodes.empty:
        section.add_note("No role episodes: retention is not shown.")
        return
    curves = retention_curve(
        episodes, as_of=ctx.as_of, unit=TENURE_UNIT, by="role", confidence=ctx.confidence
    )
    medians = ctx.shown("tenure")
    # Ended and still running are the parts of a role's episodes: shown as the plan says.
    status = ctx.shown("tenure_status")
    for column, kind in (("n_events", "ended"), ("n_censored", "running")):
        part = status.loc[status["status"] == kind].set_index("role")["n"]
        medians[column] = (
            medians["role"].map(part).astype("Int64").where(medians["role"].isin(part.index), 0)
        )
    shown_roles = [
        r for r in ROLES if r in set(medians.loc[~medians["suppressed"], "role"].astype("str"))
    ]
    if not shown_roles:
        section.add_note(
            f"Retention is suppressed: every role has fewer than {ctx.min_n} episodes or is "
            "hidden with one that has."
        )
        return
    # A curve's tail rests on a handful of long episodes: stop where fewer than
    # ``at_risk`` are still observed, as is usual for Kaplan-Meier plots.
    at_risk = max(10, ctx.min_n)
    curves = curves.loc[
        curves["role"].astype("str").isin(shown_roles) & (curves["n_at_risk"] >= at_risk)
    ]
    # Each curve starts at 100% at time 0 (no one has left before they started).
    start = pd.DataFrame(
        {"role": shown_roles, "time": 0.0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    )
    curves = pd.concat([start, curves[start.columns]], ignore_index=True)
    curves["role"] = pd.Categorical(curves["role"].astype("str"), categories=shown_roles)
    curves = curves.sort_values(["role", "time"], kind="stable")
    curves["role"] = curves["role"].astype("str")
    curves["retained"] = curves["survival"] * 100
    curves["low"] = curves["ci_low"] * 100
    curves["high"] = curves["ci_high"] * 100
    fig, ax = new_figure(FIG_WIDTH, 3.8)
    plot_curves(
        curves,
        x="time",
        y="retained",
        by="role",
        ci_low="low",
        ci_high="high",
        step=True,
        xlabel="months in the role",
        ylabel="% still in the role",
        title="Retention by role",
        ax=ax,
    )
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    section.add_figure(
        fig,
        alt="Step curves of the share of people still in each role by months since they "
        "started, with intervals: "
        + "; ".join(
            f"{r.role} median "
            + ("not reached" if is_missing(r.estimate) else f"{r.estimate:.1f} months")
            for r in medians.loc[~medians["suppressed"]].itertuples(index=False)
        )
        + ".",
        caption=f"Shaded: {level(ctx.confidence)} intervals. Each curve stops where fewer "
        f"than {at_risk} episodes of the role are still under observation.",
        data=_every(curves, RETENTION_STEP),
        labels={
            "role": "Role",
            "time": "Months in the role",
            "retained": "% still in the role",
            "low": "CI from",
            "high": "to",
        },
        number_formats={"time": "{:.0f}", "retained": "{:.1f}", "low": "{:.1f}", "high": "{:.1f}"},
    )
    med = medians.copy()
    med["_o"] = med["role"].astype("str").map({r: i for i, r in enumerate(ROLES)})
    med = med.sort_values("_o", kind="stable")
    add_table(
        section,
        ctx,
        med[["role", "n", "n_events", "n_censored", "estimate", "ci_low", "ci_high", "suppressed"]],
        caption="Median time in the role (months)",
        labels={
            "role": "Role",
            "n": "Episodes",
            "n_events": "Ended",
            "n_censored": "Still running",
            "estimate": "Median",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        },
        number_formats=ci_formats("estimate", "{:.1f}"),
    )
    if medians["estimate"].isna().any():
        section.add_text(
            "A missing median means more than half of the episodes are still running: the "
            "median has not been reached yet."
        )
    if "boomerang" in ctx.planned:
        row = ctx.planned["boomerang"]
        # The share of leavers who came back is a number of both parts: shown only
        # when neither is hidden.
        parts = ctx.shown("leavers_returned")
        hidden = ctx.count("leavers") is None or bool(parts["suppressed"].any())
        if hidden:
            section.add_text("Too few workers have left to report how many came back.")
        else:
            section.add_kpis(
                [
                    Kpi(
                        "Leavers who came back",
                        # A share in percent (0-100), as every result gives shares.
                        float(row["estimate"]),
                        ci_low=float(row["ci_low"]),
                        ci_high=float(row["ci_high"]),
                        n=int(row["n"]),
                        fmt=PCT_FMT,
                        unit="%",
                        note=f"{int(row['n_returned']):,} boomerang workers",
                        confidence=ctx.confidence,
                    ),
                    Kpi(
                        "Median time away",
                        None if is_missing(row["median_gap"]) else float(row["median_gap"]),
                        fmt="{:.1f}",
                        unit=" months",
                        note="among those who came back",
                    ),
                ]
            )
            section.add_text(
                "Recent leavers have had less time to come back, so the share of "
                "boomerangs will grow as time passes."
            )
