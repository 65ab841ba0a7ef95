"""Connected components of a bipartite record-key graph, without a Python loop per record.

Union-find over key components is the same partition as the connected components
of the graph whose vertices are records and key values and whose edges say "this
record carries this key". ``scipy.sparse.csgraph.connected_components`` computes it
in C in O(vertices + edges).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bipartite_components", "group_max", "group_min"]


def bipartite_components(
    n_left: int, n_right: int, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Component label of each left vertex of a bipartite graph.

    ``left[i]`` and ``right[i]`` are the ends of edge ``i`` (``0 <= left < n_left``,
    ``0 <= right < n_right``). Labels are ``0 .. n_components - 1`` in an
    arbitrary order; callers name components by their members, not by label.
    """
    n = n_left + n_right
    if n_left == 0:
        return np.zeros(0, dtype=np.int64)
    # Here, not at the top: scipy.sparse costs most of the package's import time.
    from scipy import sparse
    from scipy.sparse import csgraph

    rows = np.asarray(left, dtype=np.int64)
    cols = np.asarray(right, dtype=np.int64) + n_left
    # Duplicate edges would be summed by the sparse constructor; the weights are
    # irrelevant to connectivity, int32 cannot wrap to zero for any realistic count.
    weights = np.ones(rows.size, dtype=np.int32)
    graph = sparse.csr_array((weights, (rows, cols)), shape=(n, n))
    _, labels = csgraph.connected_components(graph, directed=False)
    return labels[:n_left].astype(np.int64)


def group_min(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Minimum of ``values`` per group (``+inf`` for an empty group)."""
    out = np.full(n_groups, np.inf)
    np.minimum.at(out, groups, values)
    return out


def group_max(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Maximum of ``values`` per group (``-inf`` for an empty group)."""
    out = np.full(n_groups, -np.inf)
    np.maximum.at(out, groups, values)
    return out
