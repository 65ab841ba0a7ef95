"""Pooled vs stratified: a two-group comparison within strata, with a Simpson's-paradox flag.

References
----------
Bickel, P. J., Hammel, E. A. & O'Connell, J. W. (1975). Sex bias in graduate
admissions: data from Berkeley. Science 187(4175), 398-404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.compare._inference import cluster_totals, contrast, ratio_covariance
from hxmetrics.compare._results import SimpsonCheck
from hxmetrics.compare._selection import as_frame, cases, raise_rows
from hxmetrics.errors import InputTableError, ParameterError, check_columns
from hxmetrics.measures._inference import check_confidence, z_critical

__all__ = ["pooled_vs_stratified", "simpson_flag"]


def simpson_flag(pooled: float, diffs: np.ndarray, sizes: np.ndarray) -> tuple[float, str]:
    """Share (by size) of strata whose difference has the opposite sign; and the verdict."""
    keep = np.isfinite(diffs) & (sizes > 0)
    diffs, sizes = diffs[keep], sizes[keep]
    if not np.isfinite(pooled) or pooled == 0 or diffs.size == 0:
        return 0.0, "none"
    opposite = np.sign(diffs) == -np.sign(pooled)
    share = float(sizes[opposite].sum() / sizes.sum())
    nonzero = diffs != 0
    if nonzero.any() and opposite[nonzero].all():
        return share, "all"
    if share > 0.5:
        return share, "majority"
    return share, "none"


def pooled_vs_stratified(
    data: Any,
    value: str,
    *,
    compare: str,
    by: str | Sequence[str],
    levels: Sequence[Any] | None = None,
    cluster: str | None = None,
    confidence: float = 0.95,
) -> SimpsonCheck:
    """Compare two groups pooled and within strata, and flag a Simpson's paradox.

    The difference of means ``a - b`` of ``value`` between the two levels of
    ``compare`` is computed over all rows (pooled), within each stratum of ``by``,
    and standardised (stratum differences weighted by the strata's shares of all
    rows). When the pooled difference has the opposite sign to most strata the
    pooled comparison is misleading: the groups are distributed differently over
    the strata (Bickel, Hammel & O'Connell 1975).

    Parameters
    ----------
    data : DataFrame
        One row per observation; pandas or any eager frame narwhals accepts (Polars,
        PyArrow, ...).
    value : str
        Numeric column to average (e.g. 0/1 for a rate, or the NPS value +-100/0).
        Rows with a missing value are excluded, counted in
        ``table.attrs["hxmetrics"]["excluded"]`` and said in the display's notes.
    compare : str
        Column with the two groups to compare.
    by : str or sequence of str
        Strata columns.
    levels : (a, b), optional
        The two groups, in the order of the difference; default the two values
        of ``compare`` in sorted order. Rows of other groups are left out.
    cluster : str, optional
        Rows sharing a value are one cluster (a person) for the standard errors;
        default every row is its own cluster.
    confidence : float, default 0.95
        Level of the Wald intervals.

    Returns
    -------
    SimpsonCheck

    References
    ----------
    Bickel, P. J., Hammel, E. A. & O'Connell, J. W. (1975). Sex bias in graduate
    admissions: data from Berkeley. Science 187(4175), 398-404.

    Examples
    --------
    Two hospitals: A is better in both severity strata but worse pooled, because it
    treats most of the severe cases.

    >>> import pandas as pd
    >>> cells = [("A", "mild", 1, 95), ("A", "mild", 0, 5), ("A", "severe", 1, 300),
    ...          ("A", "severe", 0, 300), ("B", "mild", 1, 450), ("B", "mild", 0, 50),
    ...          ("B", "severe", 1, 40), ("B", "severe", 0, 60)]
    >>> df = pd.DataFrame([(h, s, y) for h, s, y, k in cells for _ in range(k)],
    ...                   columns=["hospital", "severity", "survived"])
    >>> check = pooled_vs_stratified(df, "survived", compare="hospital", by="severity")
    >>> round(check.pooled, 3), check.kind
    (-0.252, 'all')
    """
    confidence = check_confidence(confidence)
    data = as_frame(data, name="data")
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise ParameterError("by must name at least one strata column.")
    need = [value, compare, *by_cols] + ([cluster] if cluster else [])
    check_columns(data.columns, need, table="data")
    frame = data[need]
    y_all = pd.to_numeric(frame[value], errors="coerce")
    if (y_all.isna() & frame[value].notna()).any():
        bad = np.flatnonzero((y_all.isna() & frame[value].notna()).to_numpy())
        raise_rows(
            frame, np.isin(np.arange(len(frame)), bad), value, "numeric", "numbers", table="data"
        )
    if levels is None:
        found = sorted(frame[compare].dropna().unique().tolist())
        if len(found) != 2:
            raise ParameterError(
                f"compare column {compare!r} must have exactly two groups; found {found[:10]}. "
                "Pass levels=(a, b) to pick two."
            )
        levels = found
    if len(levels) != 2:
        raise ParameterError(f"levels must be two groups (a, b); got {levels!r}.")
    a_lev, b_lev = levels[0], levels[1]
    side = np.where(frame[compare] == a_lev, 0, np.where(frame[compare] == b_lev, 1, -1))
    keep = (side >= 0) & y_all.notna().to_numpy()
    n_missing = int(((side >= 0) & y_all.isna().to_numpy()).sum())
    if not keep.any():
        raise InputTableError(
            f"no rows of groups {a_lev!r} or {b_lev!r} with a value in {value!r}.",
            table="data",
            failure_cases=cases(compare, "levels", str(levels), None),
        )
    sub = frame.loc[keep]
    y = y_all.to_numpy(dtype=float)[keep]
    side = side[keep]
    strata, uniques = pd.MultiIndex.from_frame(sub[by_cols]).factorize()
    h = len(uniques)
    if cluster is None:
        clusters = np.arange(len(sub))
    else:
        clusters, _ = pd.factorize(sub[cluster])
    n_clusters = int(clusters.max()) + 1
    # Columns: pooled a, pooled b, then (stratum h, side) for every stratum.
    cols = np.zeros((len(sub), 2 + 2 * h))
    rows = np.arange(len(sub))
    cols[rows, side] = 1.0
    cols[rows, 2 + 2 * strata + side] = 1.0
    t_tot, n_tot = cluster_totals(y, cols, clusters, n_clusters)
    theta, cov = ratio_covariance(t_tot, n_tot)
    counts = cols.sum(axis=0)
    z = z_critical(confidence)

    pooled_c = np.zeros(2 + 2 * h)
    pooled_c[[0, 1]] = [1.0, -1.0]
    pooled, pooled_se, _ = contrast(pooled_c, theta, cov)
    n_a = counts[2::2]
    n_b = counts[3::2]
    both = (n_a > 0) & (n_b > 0)
    diffs = np.where(both, theta[2::2] - theta[3::2], np.nan)
    ses = np.full(h, np.nan)
    for j in np.flatnonzero(both):
        c = np.zeros(2 + 2 * h)
        c[[2 + 2 * j, 3 + 2 * j]] = [1.0, -1.0]
        ses[j] = contrast(c, theta, cov)[1]
    share_rows = (n_a + n_b) / (n_a + n_b)[both].sum()
    std_c = np.zeros(2 + 2 * h)
    for j in np.flatnonzero(both):
        std_c[2 + 2 * j] = share_rows[j]
        std_c[3 + 2 * j] = -share_rows[j]
    standardised, std_se, _ = contrast(std_c, theta, cov)
    share, kind = simpson_flag(pooled, diffs, np.where(both, n_a + n_b, 0))

    keys = pd.DataFrame(list(uniques), columns=by_cols) if h else pd.DataFrame(columns=by_cols)
    strata_tab = keys.assign(
        level="stratum",
        n_a=n_a.astype(np.int64),
        n_b=n_b.astype(np.int64),
        estimate_a=np.where(n_a > 0, theta[2::2], np.nan),
        estimate_b=np.where(n_b > 0, theta[3::2], np.nan),
        difference=diffs,
        se=ses,
    )
    head = pd.DataFrame(
        {
            "level": ["pooled", "standardised"],
            "n_a": [int(counts[0])] * 2,
            "n_b": [int(counts[1])] * 2,
            "estimate_a": [theta[0], np.nan],
            "estimate_b": [theta[1], np.nan],
            "difference": [pooled, standardised],
            "se": [pooled_se, std_se],
        }
    )
    for col in by_cols:
        head[col] = "(all)"
    table = pd.concat([head, strata_tab], ignore_index=True)
    table = table[["level", *by_cols, "n_a", "n_b", "estimate_a", "estimate_b", "difference", "se"]]
    table["ci_low"] = table["difference"] - z * table["se"]
    table["ci_high"] = table["difference"] + z * table["se"]
    table["opposite_sign"] = np.sign(table["difference"]) == -np.sign(pooled)
    table.loc[table["level"] != "stratum", "opposite_sign"] = False
    table["level"] = table["level"].astype("str")
    table.attrs["hxmetrics"] = {
        "value": value,
        "compare": compare,
        "by": by_cols,
        "levels": [a_lev, b_lev],
        "confidence": confidence,
        "excluded": {"missing": n_missing},
    }
    return SimpsonCheck(
        table=table,
        pooled=pooled,
        standardised=standardised,
        share_opposite=share,
        kind=kind,
        levels=(a_lev, b_lev),
    )
