"""Connected components of a bipartite record-key graph, without a Python loop per record.

Union-find over key components is the same partition as the connected components
of the graph whose vertices are records and key values and whose edges say "this
record carries this key". ``scipy.sparse.csgraph.connected_components`` computes it
in C in O(vertices + edges).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["bipartite_components", "first_of_group", "group_max", "group_min"]


def bipartite_components(
    n_left: int, n_right: int, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Component label of each left vertex of a bipartite graph.

    ``left[i]`` and ``right[i]`` are the ends of edge ``i`` (``0 <= left < n_left``,
    ``0 <= right < n_right``). Labels are canonical: components are numbered in
    order of their smallest left vertex, so the labelling depends only on the graph,
    not on the order of the edges.
    """
    n = n_left + n_right
    if n_left == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.asarray(left, dtype=np.int64)
    cols = np.asarray(right, dtype=np.int64) + n_left
    # Duplicate edges would be summed by the sparse constructor; the weights are
    # irrelevant to connectivity, int32 cannot wrap to zero for any realistic count.
    weights = np.ones(rows.size, dtype=np.int32)
    graph = sparse.csr_array((weights, (rows, cols)), shape=(n, n))
    _, labels = csgraph.connected_components(graph, directed=False)
    return canonical(labels[:n_left])


def canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber ``labels`` 0, 1, ... in order of first appearance."""
    if labels.size == 0:
        return labels.astype(np.int64)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size, dtype=np.int64)
    return rank[inverse.reshape(-1)]


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


def first_of_group(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the first element of each group (``-1`` for an empty group)."""
    sentinel = groups.size
    out = np.full(n_groups, sentinel, dtype=np.int64)
    np.minimum.at(out, groups, np.arange(groups.size, dtype=np.int64))
    out[out == sentinel] = -1
    return out
