"""The maturity profile: one axis per practice or dimension, one line per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, check_choice

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_profile"]

KINDS = ("radar", "parallel")


def _label(row: pd.Series, by: Sequence[str]) -> str:
    return ", ".join(str(row[c]) for c in by) if by else "all"


def plot_profile(
    scores: pd.DataFrame,
    *,
    subscales: Sequence[str],
    by: Sequence[str],
    scale: tuple[float, float] | None,
    ax: Axes | None = None,
    kind: str | None = None,
    title: str | None = None,
) -> Axes:
    """Draw group profiles: radar (polar axes) or parallel axes (with intervals).

    ``scores`` is a grouped result with a ``subscale`` column; suppressed groups and
    subscales without an estimate are not drawn. ``kind=None`` draws a radar on a new
    or polar ``ax`` and parallel axes on a Cartesian one.
    """
    import matplotlib.pyplot as plt

    if kind is not None:
        check_choice("kind", kind, KINDS)
    if ax is None:
        if kind == "parallel":
            _, ax = plt.subplots(figsize=(7.0, 4.0), layout="constrained")
        else:
            _, ax = plt.subplots(
                figsize=(6.0, 6.0), subplot_kw={"projection": "polar"}, layout="constrained"
            )
    polar = getattr(ax, "name", "") == "polar"
    kind = kind or ("radar" if polar else "parallel")
    if kind == "radar" and not polar:
        raise ParameterError(
            "a radar profile needs polar axes: plt.subplots(subplot_kw={'projection': "
            "'polar'}), or kind='parallel' on these axes."
        )
    shown = scores[~scores["suppressed"].to_numpy(dtype=bool)]
    k = len(subscales)
    groups = shown[list(by)].drop_duplicates() if by else pd.DataFrame(index=[0])
    angles = np.linspace(0.0, 2.0 * np.pi, k, endpoint=False)
    for _, g in groups.iterrows():
        part = shown
        for c in by:
            part = part[part[c] == g[c]]
        est = part.set_index("subscale")["estimate"].reindex(list(subscales))
        lo = part.set_index("subscale")["ci_low"].reindex(list(subscales))
        hi = part.set_index("subscale")["ci_high"].reindex(list(subscales))
        y = est.to_numpy(dtype=float)
        label = _label(g, by)
        if kind == "radar":
            closed = np.r_[angles, angles[:1]]
            ax.plot(closed, np.r_[y, y[:1]], marker="o", label=label)
            ax.fill(closed, np.r_[y, y[:1]], alpha=0.08)
        else:
            x = np.arange(k)
            err = np.vstack([y - lo.to_numpy(dtype=float), hi.to_numpy(dtype=float) - y])
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label)
    names = [s.replace("_", " ") for s in subscales]
    if kind == "radar":
        ax.set_xticks(angles)
        ax.set_xticklabels(names)
        if scale is not None:
            ax.set_ylim(scale[0], scale[1])
    else:
        ax.set_xticks(np.arange(k))
        ax.set_xticklabels(names, rotation=30, ha="right")
        if scale is not None:
            ax.set_ylim(scale[0], scale[1])
        ax.set_ylabel("subscale score (mean of keyed items)")
    if title:
        ax.set_title(title)
    if len(groups) > 1 or by:
        if kind == "radar":  # outside the circle, clear of the axis labels
            ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), fontsize=8)
        else:
            ax.legend(loc="best", fontsize=8)
    return ax
