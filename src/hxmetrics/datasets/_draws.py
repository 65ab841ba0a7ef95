"""Vectorised draws and column builders shared by the simulation steps.

Categorical draws from a mix, lookups of per-category rates, Poisson event times on
episode spans, formatted ids, timestamps from second offsets and string columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._recipe import (
    _DAY,
    _NS,
    _YEAR_DAYS,
)


def _choice(rng: np.random.Generator, mix: Mapping[str, float], size: int) -> np.ndarray:
    names = np.array(list(mix), dtype=object)
    p = np.array(list(mix.values()), dtype=float)
    return names[rng.choice(len(names), size=size, p=p / p.sum())]


def _lookup(mapping: Mapping[str, float], keys: np.ndarray) -> np.ndarray:
    codes, names = pd.factorize(np.asarray(keys, dtype=object))
    values = np.array([mapping[str(k)] for k in names], dtype=float)
    out: np.ndarray = values[codes]
    return out


def _poisson_times(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, rate_per_year: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Episode index and second of each event of a Poisson process on [a, b)."""
    n = rng.poisson(rate_per_year * (b - a) / (_YEAR_DAYS * _DAY))
    ep = np.repeat(np.arange(len(a)), n)
    ts = a[ep] + np.floor(rng.random(len(ep)) * (b - a)[ep]).astype(np.int64)
    return ep, ts


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.array([f"{prefix}{x:0{width}d}" for x in numbers.tolist()], dtype=object)


def _to_ts(origin: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    out: np.ndarray = (origin + seconds.astype("timedelta64[s]")).astype(_NS)
    return out


def _str(values: Any) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def _take(base: Any, index: np.ndarray) -> pd.Series:
    """``base[index]`` as a string column, converting only the (short) base."""
    return pd.Series(_str(base).array.take(np.asarray(index, dtype=np.intp)), dtype="str")


def _sig(x: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to significant digits so the truth files are short and stable."""
    return np.array([float(f"{v:.{digits}g}") for v in np.asarray(x, dtype=float)])
