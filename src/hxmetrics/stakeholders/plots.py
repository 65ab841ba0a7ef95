"""Figures of the stakeholder model; each takes ``ax=`` and returns it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_overlap"]


def plot_overlap(matrix: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Heat map of persons per pair of roles, counts written in the cells.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square role x role counts, e.g. :func:`~hxmetrics.stakeholders.overlap_matrix`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import overlap_matrix, plot_overlap
    >>> m = overlap_matrix(pd.DataFrame({"roles_ever": ["customer+worker", "customer"]}))
    >>> ax = plot_overlap(m)
    >>> ax.get_title()
    'Persons by role overlap'
    """
    if not isinstance(matrix, pd.DataFrame) or matrix.shape[0] != matrix.shape[1]:
        raise ParameterError("matrix must be a square DataFrame of counts (overlap_matrix).")
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    values = matrix.to_numpy(dtype=float)
    ax.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1.0))
    labels = [str(c) for c in matrix.columns]
    ax.set_xticks(np.arange(len(labels)), labels)
    ax.set_yticks(np.arange(len(labels)), [str(i) for i in matrix.index])
    top = values.max() if values.size else 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            dark = top > 0 and values[i, j] > 0.6 * top
            ax.text(
                j,
                i,
                f"{int(values[i, j]):,}",
                ha="center",
                va="center",
                color="white" if dark else "black",
            )
    ax.set_title("Persons by role overlap")
    return ax
