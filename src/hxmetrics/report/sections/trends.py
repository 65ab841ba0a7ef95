"""The report's "Trends" section: each headline measure per period, its change and a
control chart (issue 18, item 1).

Customer NPS, eNPS, partner NPS, CSAT and CES are computed per calendar period by
:func:`hxmetrics.measures.trends.trend` on the report's used answers (the answers the
experience section counts). Every period is a cell of the same base as the experience
section's tables (``"responses:<instrument>"`` with ``use`` and, for NPS, ``role``), so
the periods of a measure partition the total shown there and complementary suppression
works across both. The section then uses the shown periods only: the change from the
period before is shown when both periods are shown, its p-value (the trend's test of the
two periods) is Holm-adjusted among the changes shown in the same table, and the Laney
p' control chart (:func:`hxmetrics.measures.trends.control_chart`) is computed on the
shown periods alone (a hidden period is a gap that neither breaks nor extends a run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._inference import holm
from hxmetrics.measures.trends import ControlChart, control_chart, trend
from hxmetrics.plotting import ROLE_COLORS, new_figure
from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    INSTRUMENT_NAME,
    NPS_FMT,
    add_table,
    level,
    p_value,
    signed,
)
from hxmetrics.report.sections.plan import USED, _add, recorded

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

#: Periods shown in each table (the most recent ones); the charts show every period.
RECENT = 8
#: Spans of up to this many months are shown by month; longer ones by quarter.
MONTHLY_UP_TO = 36
#: Spans of more than this many months are shown by year.
YEARLY_FROM = 240
#: The control chart: Laney's p' chart (NPS, shares and means alike) with two run rules.
CHART_METHOD = "laney"
RULES = ("beyond_limits", "run_of_8")
_UNIT = {"M": "month", "Q": "quarter", "Y": "year"}
_RULE_TEXT = {"beyond_limits": "outside the limits", "run_of_8": "run of 8"}


@dataclass(frozen=True)
class Series:
    """One headline measure charted over time: whose answers, which measure, how shown."""

    key: str
    label: str
    instrument: str
    item: str
    role: str | None
    measure: str
    axis: str
    fmt: Callable[[Any], str]
    change_fmt: Callable[[Any], str]
    color: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"responses:{self.instrument}"

    @property
    def where(self) -> dict[str, Any]:
        return dict(USED) if self.role is None else {**USED, "role": self.role}


def _fixed(decimals: int) -> Callable[[Any], str]:
    def fmt(value: Any) -> str:
        return f"{float(value):.{decimals}f}"

    return fmt


SERIES: tuple[Series, ...] = (
    *(
        Series(
            key=f"nps:{role}",
            label=INSTRUMENT_NAME[role],
            instrument="nps",
            item="ltr",
            role=role,
            measure="nps",
            axis="NPS (points, -100 to +100)",
            fmt=NPS_FMT,
            change_fmt=NPS_FMT,
            color=ROLE_COLORS[role],
        )
        for role in ("customer", "worker", "partner")
    ),
    Series(
        key="csat",
        label="CSAT",
        instrument="csat",
        item="overall",
        role=None,
        measure="csat",
        axis="CSAT (% satisfied)",
        fmt=_fixed(1),
        change_fmt=signed(1),
        color=ROLE_COLORS["customer"],
        options={"scale": (1, 5), "box": (4, 5)},
    ),
    Series(
        key="ces",
        label="CES",
        instrument="ces",
        item="effort",
        role=None,
        measure="ces",
        axis="CES (mean of 1-7, higher is easier)",
        fmt=_fixed(2),
        change_fmt=signed(2),
        color=ROLE_COLORS["customer"],
        options={"scale": (1, 7), "polarity": "higher_is_easier"},
    ),
)


def choose_period(stamps: pd.Series) -> str:
    """The period for a span of dates: months up to three years, years beyond twenty.

    Parameters
    ----------
    stamps : pandas.Series
        The answers' timestamps (naive datetimes).

    Returns
    -------
    str
        ``"M"`` for spans of up to :data:`MONTHLY_UP_TO` calendar months, ``"Q"`` up to
        :data:`YEARLY_FROM`, ``"Y"`` beyond.

    Examples
    --------
    >>> choose_period(pd.Series(pd.to_datetime(["2019-01-10", "2025-12-30"])))
    'Q'
    """
    first, last = pd.Timestamp(stamps.min()), pd.Timestamp(stamps.max())
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= MONTHLY_UP_TO:
        return "M"
    if months <= YEARLY_FROM:
        return "Q"
    return "Y"


def _name(series: Series) -> str:
    return f"trends:{series.key}"


# ---------------------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------------------
def plan(ctx: Context, d: Disclosure) -> None:
    """Compute each measure per period unsuppressed and register its periods with ``d``.

    A period is a cell of the experience section's base (``"responses:<instrument>"``,
    used answers, the role for NPS) grouped by ``period``: the periods partition the
    total shown there. Periods without answers are not registered (nothing to hide).
    """
    if "responses" not in ctx.attributed:
        ctx.planned["trends:absent"] = True
        return
    chosen: list[tuple[Series, pd.DataFrame]] = []
    for series in SERIES:
        rows = ctx.answers(series.instrument, [series.item], columns=["score", "timestamp", "role"])
        if series.role is not None:
            rows = rows.loc[(rows["role"] == series.role).to_numpy()]
        rows = rows.loc[rows["score"].notna().to_numpy() & rows["timestamp"].notna().to_numpy()]
        if not rows.empty:
            chosen.append((series, rows.reset_index(drop=True)))
    if not chosen:
        ctx.planned["trends:absent"] = True
        return
    stamps = pd.concat([pd.to_datetime(rows["timestamp"]) for _, rows in chosen])
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    freq = choose_period(stamps)
    ctx.planned["trends:period"] = freq
    planned: list[str] = []
    for series, rows in chosen:
        try:
            result, said = recorded(
                trend,
                rows,
                series.measure,
                period=freq,
                confidence=ctx.confidence,
                **series.options,
            )
        except InputTableError:
            # Every answer falls in one period: there is no trend to show.
            ctx.planned.setdefault("trends:one_period", []).append(series.key)
            continue
        ctx.planned[_name(series)] = result
        if said:
            ctx.notes[("trends", series.key)] = said
        columns = ["period", "n", "estimate", "ci_low", "ci_high"]
        cells = result.loc[(result["n"] > 0).to_numpy(), columns]
        cells = cells.assign(period=cells["period"].astype("str"))
        _add(
            ctx,
            _name(series),
            cells.reset_index(drop=True),
            base=series.base,
            by="period",
            where=series.where,
        )
        planned.append(series.key)
    ctx.planned["trends:series"] = planned
    if planned:
        periods = [ctx.planned[f"trends:{k}"]["period"] for k in planned]
        first = min(p.iloc[0] for p in periods)
        last = max(p.iloc[-1] for p in periods)
        ctx.planned["trends:span"] = f"{first} to {last}"


# ---------------------------------------------------------------------------------------
# what the plan shows
# ---------------------------------------------------------------------------------------
def shown_series(ctx: Context, series: Series) -> pd.DataFrame:
    """The trend with the numbers of hidden periods removed (a hidden period: a gap).

    Every period of the trend is kept (a control chart needs its calendar); a hidden
    period loses every number and is ``suppressed``; a period after a hidden one loses
    its change (it was computed against the hidden one).

    Parameters
    ----------
    ctx : Context
        The report's context, planned.
    series : Series
        One of :data:`SERIES` with a planned trend.

    Returns
    -------
    pandas.DataFrame
        The :func:`~hxmetrics.measures.trends.trend` table (its ``attrs`` kept, so that
        :func:`~hxmetrics.measures.trends.control_chart` reads it) as it may be shown.
    """
    full: pd.DataFrame = ctx.planned[_name(series)]
    shown = ctx.shown(_name(series))
    hidden_periods = set(shown.loc[shown["suppressed"].astype(bool), "period"].astype("str"))
    labels = full["period"].astype("str")
    hidden = labels.isin(hidden_periods).to_numpy()
    out = full.copy()
    numbers = [c for c in out.columns if c not in ("measure", "period", "suppressed")]
    for column in numbers:
        out[column] = out[column].mask(hidden)
    after = np.zeros(len(out), dtype=bool)
    after[1:] = hidden[:-1]
    changes = [c for c in out.columns if c.startswith("change")]
    for column in changes:
        out[column] = out[column].mask(after)
    out["suppressed"] = hidden
    out.attrs["hxmetrics"] = full.attrs["hxmetrics"]
    return out


def recent_changes(frame: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The last :data:`RECENT` periods with the change's Holm p among those shown.

    Parameters
    ----------
    frame : pandas.DataFrame
        A :func:`shown_series` table.
    confidence : float
        A change is significant when its adjusted p-value is below ``1 - confidence``.

    Returns
    -------
    pandas.DataFrame
        The last rows with ``p_adjusted`` (Holm among the changes present in these rows)
        and ``significant`` ("yes", "no", or "" without a change).
    """
    recent = frame.iloc[-RECENT:].copy()
    adjusted = holm(recent["change_p_value"].to_numpy(dtype=float))
    recent["p_adjusted"] = adjusted
    alpha = round(1.0 - confidence, 12)
    verdict = np.where(adjusted < alpha, "yes", "no")
    recent["significant"] = pd.Series(
        np.where(np.isnan(adjusted), "", verdict), index=recent.index, dtype="str"
    )
    return recent


def chart_of(frame: pd.DataFrame) -> ControlChart | None:
    """The Laney p' chart of the shown periods, or None with fewer than two of them.

    Parameters
    ----------
    frame : pandas.DataFrame
        A :func:`shown_series` table: hidden periods carry no estimate, so they enter
        neither the centre, the limits, the moving ranges nor a run.

    Returns
    -------
    ControlChart or None
    """
    try:
        return control_chart(frame, method=CHART_METHOD, rules=RULES)
    except ParameterError:
        return None


def _signal_text(chart: ControlChart | None, size: int) -> list[str]:
    if chart is None:
        return [""] * size
    table = chart.table
    texts = []
    for i in range(size):
        rules = [_RULE_TEXT[r] for r in RULES if bool(table[f"signal_{r}"].iloc[i])]
        texts.append(f"signal ({', '.join(rules)})" if rules else "")
    return texts


# ---------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------
def _intro(ctx: Context) -> str:
    freq = ctx.planned.get("trends:period")
    span = ctx.planned.get("trends:span")
    common = (
        "How each headline measure moves over time: customer NPS, employee NPS (eNPS), "
        "partner NPS, CSAT and CES, each computed per period from the same answers as "
        "'Experience by role and hybrid type', with its interval, its change from the "
        "period before, and a control chart that tells a real shift from ordinary noise."
    )
    if freq is None or span is None:
        return common
    unit = _UNIT[freq]
    return (
        f"{common} The answers span {span}, so the measures are "
        f"shown by {unit} (months for spans up to three years, quarters up to twenty "
        f"years, years beyond). Each table shows the last {RECENT} {unit}s, the recent "
        f"picture; each chart shows every {unit}."
    )


def _how_to_read(ctx: Context) -> str:
    unit = _UNIT.get(str(ctx.planned.get("trends:period", "Q")), "period")
    return (
        f"Each table row is one {unit}: the score, its {level(ctx.confidence)} interval, "
        f"and the change from the {unit} before. 'Significant' is yes when that change is "
        "unlikely to be chance after a Holm adjustment among the changes shown in the same "
        "table. The control chart (Laney p' chart) draws the score per "
        f"{unit} against its centre line and control limits; a red point is a signal: a "
        f"{unit} outside the limits, or the eighth {unit} in a row on one side of the "
        "centre. A signal marks a real shift of the process, not ordinary noise. A "
        f"suppressed {unit} has too few answers (or is hidden with one that has): it shows "
        f"no number, no change and no chart point, and the next {unit}'s change is not "
        f"shown. Quote the latest {unit}'s score with its interval, and call a move real "
        "only when it is flagged significant or the chart signals."
    )


def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows: per measure a control chart and a recent table."""
    ctx.plan()
    keys = ctx.planned.get("trends:series", [])
    sec = report.add_section("trends", "Trends", intro=_intro(ctx), how_to_read=_how_to_read(ctx))
    if not keys and ctx.planned.get("trends:one_period"):
        sec.add_note(
            "Every dated NPS, CSAT and CES answer falls in one "
            f"{_UNIT[str(ctx.planned['trends:period'])]}: there is no change to show. "
            "Answers spanning at least two periods would fill this section."
        )
        return
    if not keys:
        sec.add_note(
            "No dated NPS, CSAT or CES answers in the data: trends are not shown. Survey "
            "answers in the responses table (instrument 'nps' item 'ltr', 'csat' item "
            "'overall' or 'ces' item 'effort', with a timestamp) spanning at least two "
            "periods would fill this section."
        )
        return
    unit = _UNIT[str(ctx.planned["trends:period"])]
    n_hidden = 0
    for series in SERIES:
        if series.key not in keys:
            continue
        n_hidden += _measure(sec, ctx, series, unit)
    missing = [s.label for s in SERIES if s.key not in keys]
    if missing:
        sec.add_text(
            f"Not shown for lack of answers in at least two {unit}s: {', '.join(missing)}."
        )
    if n_hidden:
        sec.add_note(
            f"{n_hidden} {unit}(s) are suppressed across the measures: fewer than "
            f"{ctx.min_n} answers, or hidden with such a {unit} so that it cannot be "
            "worked out from a total shown elsewhere. They show no score, change, p-value, "
            f"flag or chart point, and the change of the {unit} after each is not shown.",
            kind="warning",
        )


def _measure(sec: Section, ctx: Context, series: Series, unit: str) -> int:
    """One measure: heading, chart with its data, recent table. Returns hidden periods."""
    frame = shown_series(ctx, series)
    hidden = frame["suppressed"].to_numpy(dtype=bool)
    sec.add_heading(f"{series.label} by {unit}")
    visible = ~hidden & frame["estimate"].notna().to_numpy()
    if not visible.any():
        # Nothing to show but dashes: one sentence instead of an empty table.
        sec.add_text(
            f"Every {unit} of {series.label} with answers is suppressed (fewer than "
            f"{ctx.min_n} answers, or hidden with such a {unit})."
        )
        return int(hidden.sum())
    chart = chart_of(frame) if visible.sum() >= 2 else None
    signals = _signal_text(chart, len(frame))
    if chart is not None:
        _figure(sec, ctx, series, frame, chart, unit)
    else:
        sec.add_text(f"Fewer than two {unit}s of {series.label} can be shown: no control chart.")
    recent = recent_changes(frame, ctx.confidence)
    recent["signal"] = signals[-len(recent) :]
    table = recent[
        [
            "period",
            "n",
            "estimate",
            "ci_low",
            "ci_high",
            "change",
            "p_adjusted",
            "significant",
            "signal",
            "suppressed",
        ]
    ].copy()
    table["period"] = table["period"].astype("str")
    add_table(
        sec,
        ctx,
        table,
        caption=f"{series.label} by {unit}: the last {len(table)} {unit}s",
        labels={
            "period": unit.capitalize(),
            "n": "Answers",
            "estimate": series.label,
            "ci_low": "CI from",
            "ci_high": "to",
            "change": f"Change from previous {unit}",
            "p_adjusted": "Adjusted p (Holm)",
            "significant": "Significant",
            "signal": "Control chart",
            "suppressed": "Suppressed",
        },
        number_formats={
            "estimate": series.fmt,
            "ci_low": series.fmt,
            "ci_high": series.fmt,
            "change": series.change_fmt,
            "p_adjusted": p_value,
        },
    )
    for text in ctx.notes.get(("trends", series.key), []):
        sec.add_note(text)
    return int(hidden.sum())


def _figure(
    sec: Section,
    ctx: Context,
    series: Series,
    frame: pd.DataFrame,
    chart: ControlChart,
    unit: str,
) -> None:
    """The control chart of the shown periods; its data table is what it draws."""
    table = chart.table
    value = table["value"].to_numpy(dtype=float)
    # A point is drawn only for a shown period with an estimate: hidden and empty
    # periods are gaps in the line, the limits and the intervals alike.
    point = np.isfinite(value) & ~frame["suppressed"].to_numpy(dtype=bool)
    centre = np.where(point, table["centre"].to_numpy(dtype=float), np.nan)
    lcl = np.where(point, table["lcl"].to_numpy(dtype=float), np.nan)
    ucl = np.where(point, table["ucl"].to_numpy(dtype=float), np.nan)
    low = np.where(point, frame["ci_low"].to_numpy(dtype=float), np.nan)
    high = np.where(point, frame["ci_high"].to_numpy(dtype=float), np.nan)
    flagged = table["signal"].to_numpy(dtype=bool) & point
    # Periods at integer positions with fixed ticks (the first period of each year):
    # a date axis re-chooses its ticks on every layout pass and costs seconds a figure.
    x = np.arange(len(frame), dtype=float)
    periods = frame["period"]
    starts = periods.dt.start_time
    first = (starts.dt.month == 1).to_numpy() if unit != "year" else np.ones(len(x), bool)
    step = max(1, int(np.ceil(first.sum() / 10)))
    ticks = np.flatnonzero(first)[::step]
    fig, ax = new_figure(FIG_WIDTH, 3.2)
    ax.set_xticks(ticks, [str(v) for v in starts.dt.year.to_numpy()[ticks]])
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.vlines(x[point], low[point], high[point], color=series.color, alpha=0.3, linewidth=2)
    ax.plot(x, np.where(point, value, np.nan), marker="o", markersize=3, color=series.color)
    ax.axhline(chart.centre, color="grey", linewidth=1)
    # The limits per period (they vary with its answers), drawn at shown points only.
    for limit in (lcl, ucl):
        ax.hlines(limit[point], x[point] - 0.45, x[point] + 0.45, color="firebrick", lw=1)
    ax.scatter(x[flagged], value[flagged], color="firebrick", s=30, zorder=3)
    ax.set_title(f"{series.label} by {unit}: Laney p' control chart")
    ax.set_ylabel(series.axis)
    ax.set_xlabel(f"{unit} (ticks at each year's start)")
    labels = frame["period"].astype("str").to_numpy()
    if flagged.any():
        where = ", ".join(str(p) for p in labels[flagged])
        finding = f"{int(flagged.sum())} {unit}(s) signal a shift: {where}"
    else:
        finding = f"no {unit} signals a shift; the variation is ordinary noise"
    alt = (
        f"Control chart of {series.label} by {unit} over {int(point.sum())} shown {unit}s, "
        f"centre {series.fmt(chart.centre)}: {finding}."
    )
    hidden = frame["suppressed"].to_numpy(dtype=bool)
    data = pd.DataFrame(
        {
            "period": labels,
            "n": frame["n"].to_numpy(),
            "estimate": np.where(point, value, np.nan),
            "ci_low": low,
            "ci_high": high,
            "centre": centre,
            "lcl": lcl,
            "ucl": ucl,
            "signal": pd.Series(np.where(point, np.where(flagged, "yes", "no"), ""), dtype="str"),
            "suppressed": hidden,
        }
    )
    if not hidden.any():
        data = data.drop(columns="suppressed")
    formats: dict[str, Any] = {
        c: series.fmt for c in ("estimate", "ci_low", "ci_high", "centre", "lcl", "ucl")
    }
    if hidden.any():
        formats["suppressed"] = lambda v: "suppressed" if v else ""
    labels_of = {
        "period": unit.capitalize(),
        "n": "Answers",
        "estimate": series.label,
        "ci_low": f"{level(ctx.confidence)} CI from",
        "ci_high": "to",
        "centre": "Centre line",
        "lcl": "Lower control limit",
        "ucl": "Upper control limit",
        "signal": "Signal",
        "suppressed": "",
    }
    sec.add_figure(
        fig,
        alt=alt,
        caption=(
            f"Dots: {series.label} per {unit}, with its {level(ctx.confidence)} interval "
            f"(bars). Grey line: centre. Short red lines: that {unit}'s control limits. Red "
            "dots: signals. "
            f"Gaps: suppressed {unit}s or {unit}s without answers."
        ),
        data=data,
        labels={k: v for k, v in labels_of.items() if k in data.columns},
        number_formats=formats,
    )
