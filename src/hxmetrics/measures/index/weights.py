"""Item weights of the HX index: equal, a budget allocation, or one-factor loadings."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import (
    ConvergenceError,
    ParameterError,
    check_choice,
    did_you_mean,
)
from hxmetrics.measures.index.consistency import ItemMoments
from hxmetrics.measures.index.options import (
    _WEIGHTINGS,
    Scale,
    Weighting,
    _check_items,
)
from hxmetrics.measures.index.prepare import _prepare


def _one_factor_loadings(
    matrix: np.ndarray | ItemMoments, *, tol: float = 1e-10, max_iter: int = 2000
) -> np.ndarray:
    """Loadings of one common factor by iterated principal-axis factoring.

    Start from squared multiple correlations as communalities, put them on the
    diagonal of the correlation matrix, take the leading eigenpair, update the
    communalities with the squared loadings, repeat to convergence (Harman 1976).
    ``matrix`` is the (responses x items) matrix of complete responses or its
    :class:`~hxmetrics.measures.index.consistency.ItemMoments` (as aggregated on an
    engine).
    """
    moments = matrix if isinstance(matrix, ItemMoments) else ItemMoments.of(matrix)
    n, p = moments.n, len(moments.sums)
    if n < p + 2:
        raise ParameterError(
            f"factor weights need more complete responses than items; found {n} complete "
            f"responses for {p} items. Use weighting='equal' or a budget allocation."
        )
    cov = moments.covariance()
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    if np.any(sd == 0):
        raise ParameterError(
            "factor weights need every item to vary; items at positions "
            f"{np.flatnonzero(sd == 0).tolist()} are constant across the complete responses."
        )
    corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    if p == 1:
        return np.ones(1)
    try:
        h2 = 1.0 - 1.0 / np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        h2 = np.max(np.abs(corr - np.eye(p)), axis=0)
    loadings = np.zeros(p)
    for _ in range(max_iter):
        reduced = corr.copy()
        np.fill_diagonal(reduced, h2)
        values, vectors = np.linalg.eigh(reduced)
        loadings = vectors[:, -1] * math.sqrt(max(values[-1], 0.0))
        new = loadings**2
        if np.max(np.abs(new - h2)) < tol:
            break
        h2 = new
    else:
        raise ConvergenceError(
            f"principal-axis factoring did not converge in {max_iter} iterations "
            f"(communalities still moving by {np.max(np.abs(new - h2)):.2g}); "
            "use weighting='equal' or a budget allocation."
        )
    if loadings.sum() < 0:
        loadings = -loadings
    return loadings


def _resolve_weights(
    weighting: Weighting, items: list[str], matrix: np.ndarray | ItemMoments | None
) -> tuple[np.ndarray, str, np.ndarray | None, list[str]]:
    """Return (weights summing to 1, label, loadings or None, notes)."""
    notes: list[str] = []
    if isinstance(weighting, Mapping):
        unknown = [k for k in weighting if k not in items]
        missing = [i for i in items if i not in weighting]
        if unknown or missing:
            hint = did_you_mean(str(unknown[0]), items) if unknown else ""
            raise ParameterError(
                f"a budget allocation must give a weight to every core item and only to them; "
                f"missing {missing}, unknown {unknown}.{hint}"
            )
        raw = np.array([float(weighting[i]) for i in items])
        if not np.all(np.isfinite(raw)) or np.any(raw < 0) or raw.sum() <= 0:
            raise ParameterError(
                f"budget allocation weights must be non-negative, finite and not all zero; got "
                f"{dict(zip(items, raw.tolist(), strict=True))}."
            )
        total = raw.sum()
        if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
            notes.append(f"budget allocation summed to {total:g}; weights rescaled to sum to 1.")
        return raw / total, "budget", None, notes
    if not isinstance(weighting, str):
        raise ParameterError(
            f"weighting must be 'equal', 'factor' or a {{item: weight}} mapping; got {weighting!r}."
        )
    check_choice("weighting", weighting, _WEIGHTINGS)
    if weighting == "equal":
        return np.full(len(items), 1.0 / len(items)), "equal", None, notes
    if matrix is None:  # pragma: no cover - callers always build it for "factor"
        raise ParameterError("factor weights need the response-level data.")
    moments = matrix if isinstance(matrix, ItemMoments) else ItemMoments.of(matrix)
    loadings = _one_factor_loadings(moments)
    if np.any(loadings < 0):
        neg = [i for i, v in zip(items, loadings, strict=True) if v < 0]
        raise ParameterError(
            f"items {neg} load negatively on the common factor; reverse-score them "
            "(high must mean better on every item) before building the index."
        )
    squared = loadings**2
    notes.append(
        f"factor weights from a one-factor principal-axis model of {moments.n} "
        "complete responses (squared loadings scaled to unit sum)."
    )
    return squared / squared.sum(), "factor", loadings, notes


def index_weights(
    data: Any,
    items: Sequence[str],
    *,
    weighting: Weighting = "factor",
    scale: Scale = (1, 5),
    response: str = "response_id",
) -> pd.DataFrame:
    """Item weights of the index: equal, a budget allocation, or factor-derived.

    ``"factor"`` fits one common factor to the pooled correlation matrix of the
    complete responses (every group together) by iterated principal-axis
    factoring and scales the squared loadings to unit sum, the OECD/JRC (2008,
    section 6.1) recipe with a single factor (rotation is then the identity).

    Parameters
    ----------
    data : DataFrame
        Long or wide responses, as for :func:`hx_index`.
    items : list of str
        The core items.
    weighting : {"equal", "factor"} or dict, default "factor"
        As for :func:`hx_index`.
    scale : (low, high) or dict, default (1, 5)
        The instrument's fixed scale (scores outside it are an error).
    response : str, default "response_id"
        Response id column (optional for wide data).

    Returns
    -------
    pandas.DataFrame
        One row per item: ``item``, ``weight`` (summing to 1) and ``loading``
        (NaN unless ``weighting="factor"``).

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.1
    (weights from factor analysis: squared loadings scaled to unity sum).

    Harman, H. H. (1976). Modern Factor Analysis, 3rd ed. (principal-axis factoring).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import index_weights
    >>> wide = pd.DataFrame({"hx1": [1, 2, 3, 4], "hx2": [2, 2, 4, 5]})
    >>> index_weights(wide, ["hx1", "hx2"], weighting={"hx1": 3, "hx2": 1})
      item  weight  loading
    0  hx1    0.75      NaN
    1  hx2    0.25      NaN
    """
    items = _check_items(items)
    need = isinstance(weighting, str) and weighting == "factor"
    matrix = None
    if need:
        frame = nw.from_native(data).with_columns(nw.lit(0).alias("_hx_all"))
        d = _prepare(
            nw.to_native(frame),
            items,
            group_cols=["_hx_all"],
            person=None,
            weights=None,
            response=response,
            scale=scale,
            module_items=[],
            need_matrix=True,
            buckets=1,  # only the moments are read: one unit per group is enough
        )
        matrix = d.matrix
    w, _, loadings, _ = _resolve_weights(weighting, items, matrix)
    return pd.DataFrame(
        {
            "item": items,
            "weight": w,
            "loading": loadings if loadings is not None else np.full(len(items), np.nan),
        }
    )
