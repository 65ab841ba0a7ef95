"""The one way out of :mod:`hxmetrics.measures`: every grouped result has one shape.

Every grouped measure (NPS, CSAT, CES, mean scores, reliability, the HX index,
retention, ...) ends in :func:`grouped_result`, which builds the same frame:

=========================  ===============================================
column                     meaning (dtype)
=========================  ===============================================
``measure``                the measure's name, e.g. ``"nps"`` (string)
group columns              the ``by`` columns, as given, in order
``n``                      units that entered the estimate (``Int64``)
``estimate``               the point estimate (``float64``)
``se``                     its standard error (``float64``)
``ci_low``, ``ci_high``    the interval at ``confidence`` (``float64``)
measure-specific columns   e.g. ``promoters``, ``pct_promoters``
``n_excluded_<reason>``    rows left out and why (``Int64``), one per reason
``suppressed``             the group's numbers are hidden (``bool``)
=========================  ===============================================

Shares are always percentages (0-100) in columns named ``pct_*``; counts are
``Int64`` whether or not anything is hidden. Metadata lives in
``attrs["hxmetrics"]`` (``measure``, ``estimate`` = ``"estimate"``, ``by``,
``confidence``, ``method``, ``bounds``, ``test``, ``min_n``, ``excluded`` and
anything measure-specific), which is what :func:`~hxmetrics.measures.compare_groups`,
:func:`~hxmetrics.plotting.plot_estimates`, the report and batch jobs read.

Suppression happens here, once, through the one disclosure-control layer
(:func:`hxmetrics.privacy.suppress`): groups with ``n < min_n`` and their
complements show ``<NA>``/NaN in every number, with ``suppressed`` True. The rows
left out (``n_excluded_*``) are counts of a group's rows too, so they are hidden with
it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.privacy import check_group_columns, check_min_n, suppress

__all__ = ["PROTOCOL_COLUMNS", "grouped_result", "is_result", "result_meta"]

#: The columns every grouped result has, in order (group columns go after ``measure``).
PROTOCOL_COLUMNS = ("measure", "n", "estimate", "se", "ci_low", "ci_high", "suppressed")

_COUNT_PREFIX = "n_"


def _array(name: str, value: Any, size: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(size, arr.item())
    if arr.shape != (size,):
        raise ValueError(f"result column {name!r}: expected {size} values, got shape {arr.shape}")
    return arr


def _int64(name: str, value: Any, size: int) -> pd.arrays.IntegerArray:
    arr = _array(name, value, size)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if np.any(finite & (arr != np.round(arr))):
            raise ValueError(f"result column {name!r} holds counts; got non-whole numbers")
        return pd.arrays.IntegerArray(np.where(finite, arr, 0).astype(np.int64), ~finite)
    return pd.arrays.IntegerArray(arr.astype(np.int64), np.zeros(size, dtype=bool))


def grouped_result(
    keys: pd.DataFrame,
    *,
    measure: str,
    n: Any,
    estimate: Any,
    se: Any,
    ci_low: Any,
    ci_high: Any,
    confidence: float,
    method: str,
    min_n: int | None = None,
    extra: Mapping[str, Any] | None = None,
    excluded: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Build a measure's grouped result: one row per group, the protocol columns.

    Parameters
    ----------
    keys : pandas.DataFrame
        One row per group: the group columns (no columns for an ungrouped result).
    measure : str
        The measure's name (``"nps"``, ``"csat"``, ...), also the ``measure`` column.
    n, estimate, se, ci_low, ci_high : array-like
        One value per group (a scalar is repeated); NaN where not estimable.
    confidence : float
        The interval's confidence level.
    method : str
        The interval method (recorded in ``attrs``).
    min_n : int, optional
        Smallest group shown; smaller groups and their complements are suppressed.
    extra : mapping, optional
        Measure-specific columns in order (counts whose name starts with ``n_`` or
        that are integer arrays become ``Int64``).
    excluded : mapping, optional
        Reason -> rows left out per group; becomes ``n_excluded_<reason>`` (Int64).
    meta : mapping, optional
        Measure-specific metadata merged into ``attrs["hxmetrics"]`` (``bounds``,
        ``test``, ``weighted``, ...).

    Returns
    -------
    pandas.DataFrame
        The result, suppressed through :func:`hxmetrics.privacy.suppress`.
    """
    min_n = check_min_n(min_n)
    keys = keys.reset_index(drop=True)
    size = len(keys)
    by = [str(c) for c in keys.columns]
    # One door for every grouped measure: groups of an identifier column are people.
    check_group_columns(by, what=f"{measure}: by")
    clash = [c for c in by if c in PROTOCOL_COLUMNS or c.startswith("n_excluded_")]
    if clash:
        raise ParameterError(
            f"{measure}: group column(s) {clash} have the names of result columns; "
            "rename them before grouping."
        )
    columns: dict[str, Any] = {"measure": pd.array([measure] * size, dtype="string")}
    for c in by:
        columns[c] = keys[c].to_numpy()
    columns["n"] = _int64("n", n, size)
    for name, value in (
        ("estimate", estimate),
        ("se", se),
        ("ci_low", ci_low),
        ("ci_high", ci_high),
    ):
        columns[name] = _array(name, value, size).astype(np.float64)
    for name, value in (extra or {}).items():
        if name in columns:
            raise ValueError(f"result column {name!r} given twice")
        if isinstance(getattr(value, "dtype", None), pd.Int64Dtype):
            columns[name] = pd.array(value, dtype="Int64")  # counts with missing values
            continue
        arr = _array(name, value, size)
        integer = arr.dtype.kind in "iub" and arr.dtype.kind != "b"
        columns[name] = _int64(name, arr, size) if integer else arr
    excluded = dict(excluded or {})
    for reason, value in excluded.items():
        columns[f"n_excluded_{reason}"] = _int64(f"n_excluded_{reason}", value, size)
    columns["suppressed"] = np.zeros(size, dtype=bool)
    frame = pd.DataFrame(columns)
    for c in by:  # keep the group columns' dtypes (categories, nullable, ...)
        frame[c] = keys[c].to_numpy()
        frame[c] = frame[c].astype(keys[c].dtype)
    out = suppress(frame.drop(columns="suppressed"), min_n=min_n, by=by)
    out = _restore_dtypes(out, frame)
    # Totals of the groups shown: a hidden group's exclusions must not be recoverable
    # as "total minus the shown groups".
    totals = {r: int(out[f"n_excluded_{r}"].sum(skipna=True)) for r in excluded}
    out.attrs["hxmetrics"] = {
        "measure": measure,
        "estimate": "estimate",
        "by": by,
        "confidence": float(confidence),
        "method": method,
        "min_n": min_n,
        "excluded": totals,
        **dict(meta or {}),
    }
    return out


def _restore_dtypes(out: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Suppression may widen dtypes to hold NA; bring each column back to its family."""
    for c in like.columns:
        if c == "suppressed" or c not in out.columns:
            continue
        kind = like[c].dtype
        if isinstance(kind, pd.Int64Dtype):
            out[c] = out[c].astype("Int64")
        elif getattr(kind, "kind", "") == "f":
            out[c] = pd.to_numeric(out[c], errors="raise").astype(np.float64)
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


def result_meta(result: Any) -> dict[str, Any] | None:
    """``attrs["hxmetrics"]`` of a grouped result, or None."""
    if not isinstance(result, pd.DataFrame):
        return None
    meta = result.attrs.get("hxmetrics")
    return meta if isinstance(meta, dict) and "estimate" in meta else None


def is_result(result: Any) -> bool:
    """True for a frame built by :func:`grouped_result` (the protocol columns and attrs)."""
    meta = result_meta(result)
    return meta is not None and all(c in result.columns for c in PROTOCOL_COLUMNS)
