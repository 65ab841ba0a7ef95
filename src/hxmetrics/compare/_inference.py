"""Person-clustered inference for ratio estimators: cluster totals, sandwich, bootstrap.

Every estimator of the comparison is a ratio of weighted sums over responses,
``theta_k = sum_r a_kr y_r / sum_r a_kr``. With ``T_ck = sum_{r in c} a_kr y_r`` and
``N_ck = sum_{r in c} a_kr`` for person (cluster) ``c``, every estimator is a ratio of
means of i.i.d. cluster totals, and its linearisation (influence function) is
``u_ck = (T_ck - theta_k N_ck) / A_k``. The covariance of all the estimators at once is
``G/(G-1) sum_c u_c u_c'`` (the cluster-robust sandwich of a stacked weighted
regression on estimator indicators, with the usual ``G/(G-1)`` factor), so
differences between estimators computed on the same people get the right,
correlated, variance. The person-level bootstrap resamples the same cluster totals.

References
----------
Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust
inference. Journal of Human Resources 50(2), 317-372.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_estimates", "cluster_totals", "contrast", "ratio_covariance"]


def cluster_totals(
    y: np.ndarray, weights: np.ndarray, cluster: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster weighted sums ``T`` (of ``w y``) and ``N`` (of ``w``), clusters x columns.

    ``y`` may be a vector (rows) or a matrix (rows x replications); then ``T`` is
    clusters x columns x replications.
    """
    k = weights.shape[1]
    # bincount adds the rows of a cluster in row order, as np.add.at does (same bits),
    # at a fraction of its cost.
    n_tot = np.column_stack(
        [np.bincount(cluster, weights=weights[:, j], minlength=n_clusters) for j in range(k)]
    ).reshape(n_clusters, k)
    if y.ndim == 1:
        wy = weights * y[:, None]
        t_tot = np.column_stack(
            [np.bincount(cluster, weights=wy[:, j], minlength=n_clusters) for j in range(k)]
        ).reshape(n_clusters, k)
        return t_tot, n_tot
    from scipy import sparse

    m = sparse.csr_matrix(
        (np.ones(len(cluster)), (cluster, np.arange(len(cluster)))),
        shape=(n_clusters, len(cluster)),
    )
    t3 = np.stack([m @ (weights[:, j, None] * y) for j in range(k)], axis=1)
    return t3, n_tot


def ratio_covariance(t_tot: np.ndarray, n_tot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates ``sum T / sum N`` per column and their cluster-robust covariance.

    The influence of cluster ``c`` on column ``k`` is ``(T_ck - theta_k N_ck) / A_k``
    (``A_k = sum_c N_ck``); the covariance is ``G/(G-1)`` times the cross-product of
    the influences, as in a stacked regression with ``cov_type="cluster"``.

    Examples
    --------
    Two clusters with totals (2, 1) and (0, 1): the mean is 1, influences +-0.5.

    >>> import numpy as np
    >>> theta, cov = ratio_covariance(np.array([[2.0], [0.0]]), np.array([[1.0], [1.0]]))
    >>> float(theta[0]), float(cov[0, 0])
    (1.0, 1.0)
    """
    g = t_tot.shape[0]
    a = n_tot.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = t_tot.sum(axis=0) / a
        u = (t_tot - theta * n_tot) / a
    u = np.where(n_tot > 0, u, 0.0)
    factor = g / (g - 1) if g > 1 else np.nan
    cov = factor * (u.T @ u)
    # A column without any weight has no estimate and no variance (not a zero one).
    empty = ~(a > 0)
    cov[empty, :] = np.nan
    cov[:, empty] = np.nan
    return theta, cov


def contrast(
    c: np.ndarray, theta: np.ndarray, cov: np.ndarray, boot: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Estimate, SE and bootstrap SE of ``c @ theta``, using only the columns ``c`` names."""
    idx = np.flatnonzero(c)
    ci = c[idx]
    est = float(ci @ theta[idx])
    var = float(ci @ cov[np.ix_(idx, idx)] @ ci)
    se = float(np.sqrt(var)) if var >= 0 else np.nan
    se_boot = np.nan
    if boot is not None:
        se_boot = float(np.nanstd(boot[:, idx] @ ci, ddof=1))
    return est, se, se_boot


def bootstrap_estimates(
    t_tot: np.ndarray,
    n_tot: np.ndarray,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    chunk_cells: int = 4_000_000,
) -> np.ndarray:
    """Person-level bootstrap: resample clusters with replacement, recompute every column.

    Returns ``n_resamples x columns`` estimates (NaN where a resample has no weight).
    """
    g, k = t_tot.shape
    out = np.empty((n_resamples, k))
    block = max(1, chunk_cells // max(g, 1))
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        draws = rng.integers(0, g, size=(b, g))
        offsets = (np.arange(b)[:, None] * g + draws).ravel()
        counts = np.bincount(offsets, minlength=b * g).reshape(b, g).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[done : done + b] = (counts @ t_tot) / (counts @ n_tot)
        done += b
    return out
