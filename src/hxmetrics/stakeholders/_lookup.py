"""Vectorised lookups of string keys: Arrow's hash kernels when pandas stores strings in Arrow."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["positions", "text"]


def text(values: pd.Series | pd.Index) -> pd.Series:
    """A column as the ``str`` dtype (no copy if it already is)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype == "str":
        return series
    return series.astype("str")


def positions(values: pd.Series | pd.Index, keys: pd.Series | pd.Index) -> np.ndarray:
    """Position of each value in ``keys`` (which are unique), ``-1`` where absent or missing.

    Uses ``pyarrow.compute.index_in`` when both sides are Arrow-backed strings (several
    times faster than ``pandas.Index.get_indexer``, which hashes Python objects), else
    pandas.
    """
    vals, ks = text(values), text(keys)
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        varr = vals.array.__arrow_array__()
        karr = ks.array.__arrow_array__()
    except (ImportError, AttributeError):  # pragma: no cover - pandas without pyarrow
        return pd.Index(ks).get_indexer(pd.Index(vals)).astype(np.int64)
    if isinstance(karr, pa.ChunkedArray):
        karr = karr.combine_chunks()
    found = pc.index_in(varr, value_set=karr).fill_null(-1)
    out: np.ndarray = found.to_numpy().astype(np.int64)
    return out
