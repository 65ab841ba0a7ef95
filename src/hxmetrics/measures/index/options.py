"""Options of the HX index: the choices offered, their types and their checks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from hxmetrics.errors import (
    ParameterError,
    check_choice,
    did_you_mean,
)
from hxmetrics.privacy import check_min_n

#: Normalisations offered. Only ``"minmax"`` (fixed instrument scale) makes a
#: group's index independent of the other groups; the others are pooled over
#: groups and exist for the sensitivity analysis.
NORMALISATIONS: tuple[str, ...] = (
    "minmax",
    "pooled_minmax",
    "pooled_zscore",
    "rank",
    "distance_to_reference",
)
#: Aggregations offered.
AGGREGATIONS: tuple[str, ...] = ("linear", "geometric")
_WEIGHTINGS = ("equal", "factor")
_WITHIN_GROUP = frozenset(
    {
        "zscore",
        "z_score",
        "z",
        "standardise",
        "standardize",
        "standardised",
        "standardized",
        "within_group_zscore",
        "group_zscore",
        "within_zscore",
    }
)

Scale = tuple[float, float] | Mapping[str, tuple[float, float]]
Weighting = str | Mapping[str, float]
RandomState = int | np.random.Generator | None


def _as_list(by: str | Sequence[str]) -> list[str]:
    if isinstance(by, str):
        return [by]
    cols = list(by)
    if not cols:
        raise ParameterError(
            "by must name at least one group column (the index compares groups); got an empty list."
        )
    return cols


def _check_items(items: Sequence[str], name: str = "items") -> list[str]:
    if isinstance(items, str):
        raise ParameterError(
            f"{name} must be a list of item names, e.g. ['hx1', 'hx2']; got {items!r}."
        )
    out = [str(i) for i in items]
    if not out:
        raise ParameterError(f"{name} must name at least one item; got an empty list.")
    dupes = sorted({i for i in out if out.count(i) > 1})
    if dupes:
        raise ParameterError(f"{name} lists {dupes} more than once.")
    return out


def _scales(scale: Scale, items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(scale, Mapping):
        missing = [i for i in items if i not in scale]
        if missing:
            raise ParameterError(
                f"scale is a mapping but has no (low, high) for items {missing}; "
                f"it has {list(scale)}.{did_you_mean(missing[0], [str(k) for k in scale])}"
            )
        pairs = [tuple(scale[i]) for i in items]
    else:
        pairs = [tuple(scale)] * len(items)
    for item, pair in zip(items, pairs, strict=True):
        if len(pair) != 2 or not all(math.isfinite(float(v)) for v in pair):
            raise ParameterError(
                f"scale for {item!r} must be two finite numbers (low, high); got {pair}."
            )
        if not float(pair[0]) < float(pair[1]):
            raise ParameterError(f"scale for {item!r} must have low < high; got {pair}.")
    low = np.array([float(p[0]) for p in pairs])
    high = np.array([float(p[1]) for p in pairs])
    return low, high


def _seed(random_state: RandomState) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ParameterError(
            "random_state must be None, a non-negative int or a numpy Generator; "
            f"got {random_state!r}."
        )
    if random_state < 0:
        raise ParameterError(f"random_state must be non-negative; got {random_state}.")
    return int(random_state)


def _check_common(normalise: str, aggregate: str, shift: float, min_n: int | None) -> None:
    if isinstance(normalise, str) and normalise.lower() in _WITHIN_GROUP:
        raise ParameterError(
            f"normalise={normalise!r}: within-group z-scores are not offered, because they "
            "force every group's mean to 0 and so erase the between-group differences the "
            "index exists to show. Use 'minmax' (the instrument's fixed scale), or "
            "'pooled_zscore' (one mean and SD pooled over all groups)."
        )
    check_choice("normalise", normalise, NORMALISATIONS)
    check_choice("aggregate", aggregate, AGGREGATIONS)
    if not (isinstance(shift, (int, float)) and math.isfinite(shift) and shift >= 0):
        raise ParameterError(f"shift must be a finite number >= 0; got {shift!r}.")
    check_min_n(min_n)
