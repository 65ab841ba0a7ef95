"""Figures for results: one house style, deterministic output, every plot takes ``ax=``.

The measure modules draw their own model-specific figures (retention curves of a
fitted model, CLV distributions); this module holds the style they share and the
generic plots the report needs: point estimates with intervals from any tidy result
(:func:`plot_estimates`), the overlap of roles (:func:`plot_overlap`) and curves with
bands (:func:`plot_curves`).

Every function that draws takes ``ax=`` (draws on it) and returns the Axes. Without
``ax`` it opens a new pyplot figure, so it shows in a notebook. Figures meant for a
file or the HTML report come from :func:`new_figure` (not registered with pyplot, so
nothing needs closing) and are encoded by :func:`figure_to_png`, which gives the same
bytes for the same figure: fixed size, fixed resolution, fixed font, no timestamp or
software tag in the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler

from hxmetrics.errors import ParameterError, check_columns

__all__ = [
    "DPI",
    "PALETTE",
    "ROLE_COLORS",
    "STYLE",
    "figure_to_png",
    "new_figure",
    "plot_curves",
    "plot_distribution",
    "plot_estimates",
    "plot_overlap",
    "style",
]

#: Categorical colours: muted, told apart by people with the common colour-vision
#: deficiencies (hues after the Okabe-Ito set), darkened so each has a contrast of at
#: least 4.5:1 against white: enough for lines and markers (WCAG 2.1 asks 3:1 of
#: graphical objects) and for text in these colours (4.5:1).
PALETTE: tuple[str, ...] = (
    "#1f5f99",  # blue
    "#b35806",  # orange
    "#1b7a5a",  # green
    "#8c3d8f",  # purple
    "#8a6d00",  # ochre
    "#5b6670",  # slate grey
)

#: One colour per role, the same in every figure.
ROLE_COLORS: dict[str, str] = {
    "customer": PALETTE[0],
    "worker": PALETTE[1],
    "partner": PALETTE[2],
}

_INK = "#1f2328"  # text
_MUTED = "#5b6670"  # secondary text, single-role bars
_GRID = "#d8dde3"

#: Resolution of encoded figures: 1.5 pixels per CSS pixel, sharp on most screens.
DPI = 144
_MAX_RENDERS = 6

#: matplotlib settings applied while drawing and saving. The font is the one shipped
#: with matplotlib, so output does not depend on the fonts installed on a machine.
#:
#: :meta hide-value:
STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.5,
    "axes.edgecolor": _MUTED,
    "axes.labelcolor": _INK,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "x",
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "grid.color": _GRID,
    "grid.linewidth": 0.8,
    "xtick.color": _INK,
    "ytick.color": _INK,
    "xtick.labelsize": 10.0,
    "ytick.labelsize": 10.0,
    "legend.frameon": False,
    "legend.fontsize": 10.0,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": _INK,
    "svg.hashsalt": "hxmetrics",
    "path.simplify": True,
}


@contextmanager
def style() -> Iterator[None]:
    """Apply the house style (:data:`STYLE`) inside a ``with`` block.

    Examples
    --------
    >>> with style():
    ...     fig, ax = new_figure(4, 2)
    >>> ax.spines["top"].get_visible()
    False
    """
    with mpl.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def new_figure(width: float = 6.4, height: float = 3.6) -> tuple[Figure, Axes]:
    """Make a figure of a fixed size in the house style, with one Axes.

    The figure is not registered with pyplot: it is freed with its last reference and
    never shown by accident. Encode it with :func:`figure_to_png`.

    Parameters
    ----------
    width, height : float
        Size in inches (at 96 CSS pixels per inch on screen). Must be positive.

    Returns
    -------
    (Figure, Axes)

    Examples
    --------
    >>> fig, ax = new_figure(5, 2.5)
    >>> [float(v) for v in fig.get_size_inches()]
    [5.0, 2.5]
    """
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ParameterError(
            f"width and height must be positive numbers of inches; got {width!r} x {height!r}."
        )
    with style():
        fig = Figure(figsize=(float(width), float(height)), dpi=100, layout="constrained")
        ax = fig.add_subplot()
    return fig, ax


def figure_to_png(fig: Figure, *, dpi: int = DPI) -> bytes:
    """Encode a figure as PNG bytes that are identical for an identical figure.

    The size is the figure's own (no tight bounding box), the resolution is fixed and
    the file carries no software tag or timestamp, so two runs on the same machine
    give the same bytes (and a golden test can compare them).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to encode.
    dpi : int, default 144
        Pixels per inch of the image.

    Returns
    -------
    bytes
        The PNG file.

    Examples
    --------
    >>> fig, ax = new_figure(2, 1)
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> png = figure_to_png(fig)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", png == figure_to_png(fig)
    (True, True)
    """
    png = b""
    if not isinstance(fig, Figure):
        raise ParameterError(
            f"expected a matplotlib Figure; got {type(fig).__name__}. "
            "Hint: pass ax.figure when you have an Axes."
        )
    if not (isinstance(dpi, int) and 10 <= dpi <= 600):
        raise ParameterError(f"dpi must be an integer from 10 to 600; got {dpi!r}.")
    # Constrained layout refines itself on every draw, starting from the last one, so
    # the first and second renders of a figure can differ by a pixel. Render until two
    # in a row agree (two or three renders in practice): the result is the layout's
    # fixed point, the same however often the figure was drawn before.
    previous = b""
    with style():
        for _ in range(_MAX_RENDERS):
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
            png = buf.getvalue()
            if png == previous:
                break
            previous = png
    return png


def _axes(ax: Axes | None, width: float, height: float) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ParameterError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
        return ax
    import matplotlib.pyplot as plt

    _, new_ax = plt.subplots(figsize=(width, height), layout="constrained")
    return new_ax


def _as_frame(result: Any, what: str) -> pd.DataFrame:
    if isinstance(result, pd.DataFrame):
        return result
    summary = getattr(result, "summary", None)
    if callable(summary):
        frame = summary()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise ParameterError(
        f"{what} expects a pandas DataFrame (a tidy result) or an object with a "
        f"summary() method returning one; got {type(result).__name__}."
    )


def _protocol_meta(frame: pd.DataFrame) -> dict[str, Any] | None:
    """``attrs["hxmetrics"]`` of a grouped result (the protocol of
    :mod:`hxmetrics.measures._result`), read here without importing the measures."""
    meta = frame.attrs.get("hxmetrics")
    if isinstance(meta, dict) and "estimate" in meta and isinstance(meta.get("by"), list):
        return meta
    return None


def _columns(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _label(values: Sequence[Any]) -> str:
    return " · ".join("–" if pd.isna(v) else str(v) for v in values)


def plot_estimates(
    result: Any,
    *,
    estimate: str = "estimate",
    by: str | Sequence[str] | None = None,
    hue: str | None = None,
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    n: str | None = "n",
    reference: float | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    color: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Dot-and-interval (forest) plot of the estimates in a tidy result.

    One row per group: a dot at the estimate and a line from ``ci_low`` to
    ``ci_high``. With ``hue`` the rows of each group are drawn side by side in one
    colour per hue level (for example siloed vs unified). Rows whose ``suppressed``
    column is true, or whose estimate is missing, are labelled "suppressed" instead
    of drawn, so a hidden group is visible as hidden.

    Parameters
    ----------
    result : DataFrame or object with ``summary()``
        A tidy result: one row per group with the group columns, the estimate and its
        interval; ``n`` and ``suppressed`` are used when present. Any grouped result
        of :mod:`hxmetrics.measures` (``nps``, ``csat``, ``hx_index``, ...) works
        unchanged: its ``attrs["hxmetrics"]`` name the groups and the measure (a
        result holding several measures per group draws them side by side, as
        ``hue="measure"``).
    estimate : str, default "estimate"
        Column of the point estimate (the protocol's ``"estimate"``; another name
        for hand-made frames).
    by : str or list of str, optional
        Group columns that label the rows, joined with " · ". Default: the groups a
        measure's result names in its attrs (the measure's name for an ungrouped
        result); for other frames every column that is neither numeric nor ``hue``
        nor ``suppressed``.
    hue : str, optional
        Column whose levels are drawn side by side within each row, with a legend.
    ci_low, ci_high : str
        Columns of the interval bounds. Rows with missing bounds get a dot only.
    n : str or None, default "n"
        Column of the sample size, written at the right of each row; ``None`` or a
        missing column: not written.
    reference : float, optional
        Draw a vertical reference line here (0 for NPS, say).
    xlabel, title : str, optional
        Axis label (default: the measure's name, else the estimate column) and title.
    color : str, optional
        Colour of the dots and lines without ``hue`` (e.g. ``ROLE_COLORS["worker"]``);
        default the first colour of :data:`PALETTE`. With ``hue`` the palette is used.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    Any measure's result, as it comes:

    >>> import pandas as pd
    >>> from hxmetrics.measures.nps import nps
    >>> answers = pd.DataFrame({"ltr": [10, 9, 3, 8, 10, 6, 9], "role": list("ccwwccw")})
    >>> fig, ax = new_figure(5, 2)
    >>> ax = plot_estimates(nps(answers, "ltr", by="role"), reference=0, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_xlabel()
    (['c', 'w'], 'nps')

    or a hand-made frame:

    >>> res = pd.DataFrame({"role": ["customer", "worker"], "nps": [12.0, -4.0],
    ...                     "ci_low": [5.0, -15.0], "ci_high": [19.0, 7.0], "n": [400, 90]})
    >>> fig, ax = new_figure(5, 2)
    >>> ax = plot_estimates(res, estimate="nps", reference=0, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['customer', 'worker']
    """
    frame = _as_frame(result, "plot_estimates")
    check_columns(frame.columns, [estimate, ci_low, ci_high], table="result")
    if hue is not None:
        check_columns(frame.columns, [hue], table="result")
    meta = _protocol_meta(frame)
    several = "measure" in frame.columns and frame["measure"].nunique(dropna=False) > 1
    if meta is not None and hue is None and several:
        hue = "measure"  # several measures per group (reliability): side by side
    if by is None and meta is not None:
        # A grouped result names its groups; without groups its one row is the measure.
        by_cols = [c for c in meta["by"] if c != hue and c in frame.columns]
        if not by_cols and hue is None and "measure" in frame.columns:
            by_cols = ["measure"]
        if xlabel is None and estimate == meta["estimate"]:
            xlabel = str(meta.get("measure", estimate))
    elif by is None:
        skip = {hue, "suppressed"}
        by_cols = [
            c
            for c in frame.columns
            if c not in skip and not pd.api.types.is_numeric_dtype(frame[c].dtype)
        ]
    else:
        by_cols = _columns(by)
        check_columns(frame.columns, by_cols, table="result")
    if not by_cols and hue is None and len(frame) > 1:
        raise ParameterError(
            "plot_estimates: cannot tell the rows apart: the result has no text columns; "
            "pass by=[...] naming the group columns."
        )
    if frame.empty:
        raise ParameterError("plot_estimates: the result has no rows to draw.")

    est = pd.to_numeric(frame[estimate], errors="coerce").to_numpy(dtype=float)
    low = pd.to_numeric(frame[ci_low], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(frame[ci_high], errors="coerce").to_numpy(dtype=float)
    hidden = ~np.isfinite(est)
    if "suppressed" in frame.columns:
        hidden |= frame["suppressed"].fillna(False).astype(bool).to_numpy()
    sizes = frame[n].to_numpy() if n is not None and n in frame.columns else None

    labels = [_label(row) for row in frame[by_cols].itertuples(index=False)] if by_cols else None
    row_keys: list[str] = list(dict.fromkeys(labels)) if labels else [""]
    row_of = [row_keys.index(lab) for lab in labels] if labels else [0] * len(frame)
    hue_levels = list(dict.fromkeys(frame[hue].tolist())) if hue is not None else [None]
    hue_of = [hue_levels.index(v) for v in frame[hue]] if hue is not None else [0] * len(frame)
    k = len(hue_levels)
    step = 0.7 / k if k > 1 else 0.0

    ax = _axes(ax, 6.4, 0.9 + 0.32 * len(row_keys) * max(k, 1))
    with style():
        finite_bounds = np.concatenate([est[~hidden], low[~hidden], high[~hidden]])
        finite_bounds = finite_bounds[np.isfinite(finite_bounds)]
        if reference is not None:
            finite_bounds = np.append(finite_bounds, reference)
        lo, hi = (finite_bounds.min(), finite_bounds.max()) if finite_bounds.size else (0, 1)
        pad = (hi - lo) * 0.05 or 1.0
        x_hidden = lo
        row_all_hidden = {
            r: bool(np.all(hidden[np.asarray(row_of) == r])) for r in range(len(row_keys))
        }
        labelled: set[int] = set()
        for i in range(len(frame)):
            y = row_of[i] + (hue_of[i] - (k - 1) / 2) * step
            dot_color = (
                color if color is not None and hue is None else PALETTE[hue_of[i] % len(PALETTE)]
            )
            if hidden[i]:
                if row_all_hidden[row_of[i]]:
                    # One label for a group hidden in every hue level, on its row.
                    if row_of[i] in labelled:
                        continue
                    labelled.add(row_of[i])
                    y = row_of[i]
                ax.text(
                    x_hidden,
                    y,
                    "suppressed",
                    va="center",
                    ha="left",
                    color=_MUTED,
                    fontsize=9.5,
                    fontstyle="italic",
                )
                continue
            if np.isfinite(low[i]) and np.isfinite(high[i]):
                ax.plot(
                    [low[i], high[i]],
                    [y, y],
                    color=dot_color,
                    linewidth=1.6,
                    solid_capstyle="butt",
                )
            ax.plot([est[i]], [y], marker="o", markersize=5.5, color=dot_color, linestyle="none")
        if reference is not None:
            ax.axvline(reference, color=_MUTED, linewidth=0.9, linestyle=(0, (4, 3)))
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(len(row_keys) - 0.5, -0.5)
        ax.set_yticks(range(len(row_keys)), row_keys)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel if xlabel is not None else estimate)
        if sizes is not None:
            transform = ax.get_yaxis_transform()
            for i in range(len(frame)):
                if pd.isna(sizes[i]):
                    continue
                y = row_of[i] + (hue_of[i] - (k - 1) / 2) * step
                ax.text(
                    1.01,
                    y,
                    f"n={int(sizes[i]):,}",
                    transform=transform,
                    va="center",
                    ha="left",
                    color=_MUTED,
                    fontsize=9,
                    clip_on=False,
                )
        if hue is not None:
            from matplotlib.lines import Line2D

            handles = [
                Line2D(
                    [],
                    [],
                    color=PALETTE[j % len(PALETTE)],
                    marker="o",
                    linewidth=1.6,
                    label=str(level),
                )
                for j, level in enumerate(hue_levels)
            ]
            ax.legend(
                handles=handles,
                title=hue,
                loc="lower left",
                bbox_to_anchor=(0, 1.0),
                ncols=min(k, 4),
                alignment="left",
            )
        if title:
            ax.set_title(title, pad=22 if hue is not None else 6)
    return ax


def _overlap_bars(
    frame: pd.DataFrame, count: str, roles: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    flags = frame[roles].fillna(False).astype(bool).to_numpy()
    counts = pd.to_numeric(frame[count], errors="coerce").to_numpy(dtype=float)
    labels = [
        " + ".join(r for r, on in zip(roles, row, strict=True) if on) or "(no role)"
        for row in flags
    ]
    return labels, counts, flags.sum(axis=1)


def plot_overlap(
    matrix: pd.DataFrame | pd.Series,
    *,
    count: str = "n",
    roles: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Who crosses roles: bars of people per role combination, or a role-by-role heatmap.

    Accepts either

    * a combination table: one row per combination of roles, a boolean column per
      role and a count column (UpSet-style bars, largest first; combinations of more
      than one role in the accent colour), or a Series of counts indexed by a
      combination label; or
    * a square role-by-role matrix (index equal to columns) of people holding both
      roles, drawn as an annotated heatmap.

    Parameters
    ----------
    matrix : DataFrame or Series
        The counts, in one of the shapes above.
    count : str, default "n"
        Count column of a combination table.
    roles : list of str, optional
        Role columns of a combination table. Default: its boolean columns.
    title : str, optional
        Axes title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> combos = pd.DataFrame({"customer": [True, False, True], "worker": [False, True, True],
    ...                        "n": [900, 120, 35]})
    >>> fig, ax = new_figure(5, 2)
    >>> ax = plot_overlap(combos, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['customer', 'worker', 'customer + worker']
    """
    if isinstance(matrix, pd.Series):
        labels = [str(v) for v in matrix.index]
        counts = pd.to_numeric(matrix, errors="coerce").to_numpy(dtype=float)
        multi = np.array([("+" in lab) for lab in labels], dtype=int) + 1
        return _draw_bars(labels, counts, multi, title, ax)
    if not isinstance(matrix, pd.DataFrame):
        raise ParameterError(
            f"plot_overlap expects a DataFrame or Series of counts; got {type(matrix).__name__}."
        )
    square = (
        matrix.shape[0] == matrix.shape[1]
        and list(map(str, matrix.index)) == list(map(str, matrix.columns))
        and all(
            pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
            for t in matrix.dtypes
        )
    )
    if square:
        return _draw_heatmap(matrix, title, ax)
    if roles is None:
        roles = [c for c in matrix.columns if pd.api.types.is_bool_dtype(matrix[c].dtype)]
    roles = list(roles)
    check_columns(matrix.columns, [*roles, count], table="overlap")
    if not roles:
        raise ParameterError(
            "plot_overlap: found no boolean role columns; pass roles=[...] or give a square "
            "role-by-role matrix."
        )
    labels, counts, multi = _overlap_bars(matrix, count, roles)
    return _draw_bars(labels, counts, multi, title, ax)


def _draw_bars(
    labels: list[str], counts: np.ndarray, multi: np.ndarray, title: str | None, ax: Axes | None
) -> Axes:
    # Single roles first, then pairs, ...; people with no role (as of a date) last.
    rank = np.where(multi == 0, len(labels) + 1, multi)
    order = np.lexsort((-np.nan_to_num(counts, nan=-1.0), rank))
    ax = _axes(ax, 6.4, 0.9 + 0.3 * len(labels))
    with style():
        ys = np.arange(len(order))
        values = np.nan_to_num(counts[order], nan=0.0)
        colors = [PALETTE[1] if multi[i] > 1 else _MUTED for i in order]
        ax.barh(ys, values, color=colors, height=0.62)
        top = float(values.max()) if values.size else 1.0
        for y, i in zip(range(len(order)), order, strict=True):
            text = "suppressed" if np.isnan(counts[i]) else f"{counts[i]:,.0f}"
            ax.text(
                values[y] + top * 0.01, y, text, va="center", ha="left", fontsize=9.5, color=_INK
            )
        ax.set_yticks(ys, [labels[i] for i in order])
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_xlim(0, (top or 1.0) * 1.15)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("people")
        if title:
            ax.set_title(title)
    return ax


def _draw_heatmap(matrix: pd.DataFrame, title: str | None, ax: Axes | None) -> Axes:
    values = matrix.to_numpy(dtype=float)
    ax = _axes(ax, 4.2, 3.4)
    with style():
        image = ax.imshow(values, cmap="Blues", aspect="equal")
        top = np.nanmax(values) if np.isfinite(values).any() else 1.0
        for (r, c), v in np.ndenumerate(values):
            text = "–" if np.isnan(v) else f"{v:,.0f}"
            ax.text(
                c,
                r,
                text,
                ha="center",
                va="center",
                fontsize=10,
                color="white" if v > 0.55 * top else _INK,
            )
        ax.set_xticks(range(values.shape[1]), [str(c) for c in matrix.columns])
        ax.set_yticks(range(values.shape[0]), [str(i) for i in matrix.index])
        ax.grid(False)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        image.set_clim(0, top)
        if title:
            ax.set_title(title)
    return ax


def plot_curves(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    by: str | None = None,
    ci_low: str | None = None,
    ci_high: str | None = None,
    step: bool = False,
    colors: Mapping[str, str] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Lines (or steps) of ``y`` against ``x``, one per group, with optional bands.

    For retention and survival curves (``step=True``), trends over time, or any tidy
    frame of curve points.

    Parameters
    ----------
    data : DataFrame
        One row per point: ``x``, ``y``, optional group and band columns.
    x, y : str
        Columns of the axes.
    by : str, optional
        Group column: one line per level, in order of first appearance.
    ci_low, ci_high : str, optional
        Columns of a band drawn around each line (both or neither).
    step : bool, default False
        Draw post-steps (a Kaplan-Meier curve holds its value until the next time).
    colors : mapping, optional
        Colour per group level; default :data:`ROLE_COLORS` for role names, then
        :data:`PALETTE`.
    xlabel, ylabel, title : str, optional
        Labels; the axis labels default to the column names.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> km = pd.DataFrame({"month": [0, 6, 12, 0, 6, 12], "retained": [1, .8, .7, 1, .6, .4],
    ...                    "role": ["customer"] * 3 + ["worker"] * 3})
    >>> fig, ax = new_figure(5, 3)
    >>> ax = plot_curves(km, x="month", y="retained", by="role", step=True, ax=ax)
    >>> len(ax.get_lines())
    2
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"plot_curves expects a DataFrame; got {type(data).__name__}.")
    if (ci_low is None) != (ci_high is None):
        raise ParameterError("plot_curves: give both ci_low and ci_high, or neither.")
    needed = [x, y, *(c for c in (by, ci_low, ci_high) if c is not None)]
    check_columns(data.columns, needed, table="data")
    groups = list(dict.fromkeys(data[by].tolist())) if by is not None else [None]
    ax = _axes(ax, 6.4, 3.6)
    with style():
        ax.grid(True, axis="both")
        for j, level in enumerate(groups):
            part = data if by is None else data[data[by] == level]
            part = part.sort_values(x, kind="stable")
            default = ROLE_COLORS.get(str(level), PALETTE[j % len(PALETTE)])
            color = (colors or {}).get(str(level), default)
            xs = part[x].to_numpy()
            drawstyle = "steps-post" if step else "default"
            ax.plot(
                xs,
                part[y].to_numpy(dtype=float),
                color=color,
                linewidth=1.8,
                drawstyle=drawstyle,
                label=None if level is None else str(level),
            )
            if ci_low is not None and ci_high is not None:
                ax.fill_between(
                    xs,
                    part[ci_low].to_numpy(dtype=float),
                    part[ci_high].to_numpy(dtype=float),
                    color=color,
                    alpha=0.15,
                    linewidth=0,
                    step="post" if step else None,
                )
        ax.set_xlabel(xlabel if xlabel is not None else x)
        ax.set_ylabel(ylabel if ylabel is not None else y)
        if by is not None:
            ax.legend(title=by)
        if title:
            ax.set_title(title)
    return ax


def plot_distribution(
    values: Any,
    *,
    bins: int = 30,
    log: bool = False,
    floor: float | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    color: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of a skewed quantity (lifetime value, spend, tenure) with its median and mean.

    Parameters
    ----------
    values : array-like
        The values; missing ones are left out and counted in a line under the axis.
    bins : int, default 30
        Number of bins (equal width, or equal width in log scale with ``log``).
    log : bool, default False
        Log-scaled x axis with log-spaced bins, for values over several orders of
        magnitude. Values that are not positive cannot be placed on it: they are
        counted in the line under the axis.
    floor : float, optional
        Draw only values at or above ``floor`` (e.g. 0.01 for money on a log axis,
        where a near-zero value would stretch the axis over many empty decades); the
        others are counted in the line under the axis. The median and mean lines are
        those of every finite value.
    xlabel, title : str, optional
        Labels.
    color : str, optional
        Bar colour; default the first colour of :data:`PALETTE`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> fig, ax = new_figure(5, 3)
    >>> values = np.random.default_rng(1).lognormal(2.0, 1.0, 500)
    >>> ax = plot_distribution(values, log=True, xlabel="value", ax=ax)
    >>> ax.get_xscale(), len(ax.patches)
    ('log', 30)
    """
    if not (isinstance(bins, int) and not isinstance(bins, bool) and bins >= 1):
        raise ParameterError(f"bins must be a positive integer; got {bins!r}.")
    data = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce")
    x = data.to_numpy(dtype=float)
    finite = np.isfinite(x)
    left_out = []
    if (~finite).any():
        left_out.append(f"{int((~finite).sum()):,} missing")
    if log:
        nonpos = finite & (x <= 0)
        if nonpos.any():
            left_out.append(f"{int(nonpos.sum()):,} not positive")
        finite &= x > 0
    all_finite = x[np.isfinite(x)]
    if floor is not None:
        below = finite & (x < floor)
        if below.any():
            left_out.append(f"{int(below.sum()):,} below {floor:g}")
        finite &= x >= floor
    shown = x[finite]
    if shown.size == 0:
        raise ParameterError("plot_distribution: no values to draw.")
    ax = _axes(ax, 6.4, 3.4)
    with style():
        lo, hi = float(shown.min()), float(shown.max())
        if log:
            edges = np.geomspace(lo, hi if hi > lo else lo * 10, bins + 1)
        else:
            edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        ax.hist(
            shown, bins=edges.tolist(), color=color or PALETTE[0], edgecolor="white", linewidth=0.5
        )
        if log:
            ax.set_xscale("log")
        median, mean = float(np.median(all_finite)), float(np.mean(all_finite))
        ax.axvline(median, color=_INK, linewidth=1.2, label=f"median {median:,.2f}")
        ax.axvline(
            mean, color=PALETTE[1], linewidth=1.2, linestyle=(0, (4, 3)), label=f"mean {mean:,.2f}"
        )
        ax.legend(loc="upper right")
        ax.grid(True, axis="y")
        ax.grid(False, axis="x")
        ax.set_ylabel("count")
        label = xlabel if xlabel is not None else ("" if data.name is None else str(data.name))
        if left_out:
            label = (
                f"{label}\n(not shown: {', '.join(left_out)})"
                if label
                else (f"not shown: {', '.join(left_out)}")
            )
        ax.set_xlabel(label)
        if title:
            ax.set_title(title)
    return ax
