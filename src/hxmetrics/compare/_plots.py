"""The waterfall of a siloed-vs-unified comparison: from the siloed estimate to the unified."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hxmetrics.compare._axes import keyword_ax
from hxmetrics.compare._names import COMPONENTS
from hxmetrics.compare._results import SiloComparison
from hxmetrics.errors import ParameterError
from hxmetrics.measures._inference import z_critical

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_decomposition"]


@keyword_ax
def plot_decomposition(result: SiloComparison, *, ax: Axes | None = None) -> Axes:
    """Waterfall from the siloed estimate through the three components to the unified one.

    Bars for the siloed and unified estimates, floating steps for the components
    (each step is ``-contribution``: the move from one estimator to the next), and
    person-clustered intervals as error bars.

    Parameters
    ----------
    result : SiloComparison
        What :func:`siloed_vs_unified` returned.
    ax : matplotlib.axes.Axes, optional
        Where to draw (keyword only); a new figure if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(result, SiloComparison):
        raise ParameterError(
            f"plot_decomposition needs a SiloComparison; got {type(result).__name__}."
        )
    import matplotlib.pyplot as plt

    from hxmetrics.plotting import PALETTE

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    est = result.estimates.set_index("estimator")
    dec = result.decomposition.set_index("component")
    value = est["estimate"].astype(float).to_dict()
    value_se = est["se"].astype(float).to_dict()
    step_se = dec["se"].astype(float).to_dict()
    steps = (-dec["contribution"].astype(float)).to_dict()
    z = z_critical(result.confidence)
    labels = ["siloed", *[c.replace("_", "\n") for c in COMPONENTS], "unified"]
    level = value["siloed"]
    x = np.arange(len(labels))
    ax.bar(0, level, color=PALETTE[0], width=0.6)
    ax.errorbar(0, level, yerr=z * value_se["siloed"], color="black", capsize=3)
    for i, comp in enumerate(COMPONENTS, start=1):
        step = steps[comp]
        color = PALETTE[2] if step >= 0 else PALETTE[1]
        ax.bar(i, step, bottom=level, color=color, width=0.6)
        ax.errorbar(i, level + step, yerr=z * step_se[comp], color="black", capsize=3)
        level += step
    last = len(labels) - 1
    ax.bar(last, value["unified"], color=PALETTE[0], width=0.6)
    ax.errorbar(last, value["unified"], yerr=z * value_se["unified"], color="black", capsize=3)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x, labels)
    unit = f" ({result.unit})" if result.unit else ""
    ax.set_ylabel(f"{result.measure}{unit}")
    ax.set_title(f"Siloed to unified {result.measure}, role {result.role!r}")
    return ax
