"""Normalisation and aggregation: item means per group -> the 0-100 index."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from hxmetrics.errors import ParameterError
from hxmetrics.measures.index.prepare import _Data
from hxmetrics.measures.privacy import suppress


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _pooled_moments(
    w: np.ndarray, s: np.ndarray, q: np.ndarray | None, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled (all reported groups) answer-level mean and SD per item; (..., J).

    Without the sums of squares ``q`` (only ``"pooled_zscore"`` needs the SD), the SD
    is NaN.
    """
    wp = w[..., active, :].sum(axis=-2)
    mean = _safe_div(s[..., active, :].sum(axis=-2), wp)
    if q is None:
        return mean, np.full_like(mean, np.nan)
    var = _safe_div(q[..., active, :].sum(axis=-2), wp) - mean**2
    return mean, np.sqrt(np.clip(var, 0.0, None))


def _normalise(
    means: np.ndarray,
    method: str,
    *,
    low: np.ndarray,
    high: np.ndarray,
    active: np.ndarray,
    pooled_mean: np.ndarray,
    pooled_sd: np.ndarray,
    reference: int | None,
) -> np.ndarray:
    """Map item means (..., G, J) onto the index scale; pooled methods use active groups only."""
    if method == "minmax":
        return 100.0 * (means - low) / (high - low)
    if method == "pooled_minmax":
        act = means[..., active, :]
        finite = np.isfinite(act)
        lo = np.where(finite, act, np.inf).min(axis=-2, keepdims=True)
        hi = np.where(finite, act, -np.inf).max(axis=-2, keepdims=True)
        span = hi - lo
        with np.errstate(invalid="ignore"):
            out = 100.0 * _safe_div(means - lo, span)
        # An item on which every group ties carries no information: 50 for all.
        return np.where(np.isfinite(span) & (span == 0) & np.isfinite(means), 50.0, out)
    if method == "pooled_zscore":
        z = _safe_div(means - pooled_mean[..., None, :], pooled_sd[..., None, :])
        tie = (pooled_sd[..., None, :] == 0) & np.isfinite(means)
        return np.where(tie, 50.0, 50.0 + 10.0 * z)
    if method == "rank":
        masked = np.where(active[:, None], means, np.nan)
        ranks = _average_ranks(masked)
        n_valid = np.isfinite(masked).sum(axis=-2, keepdims=True)
        out = _safe_div(100.0 * (ranks - 1.0), (n_valid - 1.0) * np.ones_like(ranks))
        return np.where((n_valid == 1) & np.isfinite(ranks), 50.0, out)
    if method == "distance_to_reference":
        ref = pooled_mean if reference is None else means[..., reference, :]
        unit = (means - low) / (high - low)
        unit_ref = (ref - low) / (high - low)
        return 100.0 * _safe_div(unit, unit_ref[..., None, :])
    raise ParameterError(f"unknown normalisation {method!r}")  # pragma: no cover


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ascending ranks along axis -2 among finite values, ties averaged; NaN stays NaN."""
    valid = np.isfinite(values)
    a = values[..., :, None, :]  # the group being ranked
    b = values[..., None, :, :]  # the groups it is compared with
    other = valid[..., None, :, :]
    with np.errstate(invalid="ignore"):
        below = ((b < a) & other).sum(axis=-2)
        ties = ((b == a) & other).sum(axis=-2)
    ranks = 1.0 + below + (ties - 1) / 2.0
    return np.where(valid, ranks, np.nan)


def _aggregate(x: np.ndarray, weights: np.ndarray, method: str, shift: float) -> np.ndarray:
    """Weighted linear or (shifted) geometric mean over the last axis."""
    if method == "linear":
        return np.sum(x * weights, axis=-1)
    # Outside the domain (x + shift <= 0) the log is NaN, and so is the composite.
    y = x + shift
    logs = np.log(np.where(y > 0, y, np.nan))
    return np.exp(np.sum(logs * weights, axis=-1)) - shift


@dataclass(frozen=True)
class _Spec:
    normalise: str
    aggregate: str
    shift: float
    reference: int | None


def _index_from_sums(
    w: np.ndarray,
    s: np.ndarray,
    q: np.ndarray | None,
    *,
    data: _Data,
    active: np.ndarray,
    spec: _Spec,
    weights: np.ndarray,
) -> np.ndarray:
    """Index (..., G) from summed statistics (..., G, J) over the core items."""
    core = slice(0, data.n_core)
    w, s = w[..., core], s[..., core]
    q = None if q is None else q[..., core]
    means = _safe_div(s, w)
    pooled_mean, pooled_sd = _pooled_moments(w, s, q, active)
    x = _normalise(
        means,
        spec.normalise,
        low=data.low[core],
        high=data.high[core],
        active=active,
        pooled_mean=pooled_mean,
        pooled_sd=pooled_sd,
        reference=spec.reference,
    )
    return _aggregate(x, weights, spec.aggregate, spec.shift)


def _reference_index(reference: Hashable | None, data: _Data) -> int | None:
    if reference is None:
        return None
    key = reference if isinstance(reference, tuple) else (reference,)
    keys = data.key_tuples()
    for pos, k in enumerate(keys):
        if tuple(k) == key:
            return pos
    raise ParameterError(
        f"reference {reference!r} is not a group; groups are {keys[:10]}"
        + (" ..." if len(keys) > 10 else "")
        + "."
    )


def _check_point(
    index: np.ndarray, data: _Data, active: np.ndarray, spec: _Spec, label: str = ""
) -> None:
    core = slice(0, data.n_core)
    has_all = (data.group_sums()[0][:, core] > 0).all(axis=1)
    bad = active & has_all & ~np.isfinite(index)
    if bad.any():
        keys = [data.key_tuples()[i] for i in np.flatnonzero(bad)][:5]
        if spec.aggregate == "geometric":
            hint = (
                "the geometric mean needs every normalised indicator + shift > 0; "
                f"raise shift (now {spec.shift:g}) or use aggregate='linear'."
            )
        elif spec.normalise == "distance_to_reference":
            hint = (
                "the reference sits at the bottom of the scale on some item, "
                "so ratios are undefined."
            )
        else:
            hint = "check the input data."
        raise ParameterError(f"{label}the index is undefined for groups {keys}: {hint}")


def _hidden(d: _Data, min_n: int | None) -> np.ndarray:
    """Groups not shown: below ``min_n`` persons, and their complements.

    The same rule (:func:`hxmetrics.measures.privacy.suppress`) that hides the rows of
    the output decides which groups take part in pooled normalisations and ranks, so a
    hidden group influences no number that is shown.
    """
    sizes = d.keys.copy()
    sizes["n"] = d.n_persons
    hidden = suppress(sizes, min_n=min_n, by=d.group_cols)["suppressed"]
    return hidden.to_numpy(dtype=bool)


def _missing_item_notes(d: _Data, active: np.ndarray) -> list[str]:
    w = d.group_sums()[0][:, : d.n_core]
    notes = []
    for g in np.flatnonzero(active & (w <= 0).any(axis=1)):
        missing = [d.items[j] for j in np.flatnonzero(w[g] <= 0)]
        notes.append(
            f"group {d.key_tuples()[g]} has no answers to core items {missing}; its index is NaN."
        )
    return notes
