"""Group-specific modules: extra items answered by one group, and the extended index."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from hxmetrics.errors import ParameterError
from hxmetrics.measures.index.bootstrap import _summarise_reps
from hxmetrics.measures.index.options import _check_items
from hxmetrics.measures.index.prepare import _Data
from hxmetrics.measures.index.scoring import (
    _aggregate,
    _safe_div,
    _Spec,
)


def _check_modules(
    modules: Mapping[Hashable, Sequence[str]] | None, items: list[str]
) -> dict[tuple[Any, ...], list[str]]:
    if modules is None:
        return {}
    if not isinstance(modules, Mapping):
        raise ParameterError(f"modules must be a {{group: [items]}} mapping; got {modules!r}.")
    out: dict[tuple[Any, ...], list[str]] = {}
    for label, its in modules.items():
        its = _check_items(its, name=f"modules[{label!r}]")
        overlap = [i for i in its if i in items]
        if overlap:
            raise ParameterError(
                f"module items {overlap} of group {label!r} are core items; a module holds "
                "only the group's own extra items."
            )
        out[label if isinstance(label, tuple) else (label,)] = its
    return out


def _add_modules(
    core_index: np.ndarray,
    d: _Data,
    module_map: dict[tuple[Any, ...], list[str]],
    module_share: float | None,
    spec: _Spec,
    reps_sums: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None,
    core_reps: np.ndarray | None,
    confidence: float,
    notes: list[str],
) -> dict[str, np.ndarray]:
    """The module columns (``module_index``, ``extended_index`` and their intervals)."""
    keys = d.key_tuples()
    unknown = [k for k in module_map if k not in keys]
    if unknown:
        raise ParameterError(
            f"modules name groups {unknown} that are not in the data; groups: {keys[:10]}."
        )
    if module_share is not None and not 0 < module_share < 1:
        raise ParameterError(f"module_share must be between 0 and 1; got {module_share!r}.")
    cols = ["module_index", "module_ci_low", "module_ci_high"]
    cols += ["extended_index", "extended_ci_low", "extended_ci_high"]
    out = {c: np.full(d.n_groups, np.nan) for c in cols}
    w_all, s_all, _ = d.group_sums()
    for key, its in module_map.items():
        g = keys.index(key)
        idx = [d.items.index(i) for i in its]
        share = module_share if module_share is not None else len(its) / (d.n_core + len(its))
        eq = np.full(len(idx), 1.0 / len(idx))
        low, high = d.low[idx], d.high[idx]

        def module(
            w: np.ndarray,
            s: np.ndarray,
            idx: list[int] = idx,
            low: np.ndarray = low,
            high: np.ndarray = high,
            eq: np.ndarray = eq,
        ) -> np.ndarray:
            x = 100.0 * (_safe_div(s[..., idx], w[..., idx]) - low) / (high - low)
            return _aggregate(x, eq, spec.aggregate, spec.shift)

        def combine(core: np.ndarray, mod: np.ndarray, share: float = share) -> np.ndarray:
            pair = np.stack([core, mod], axis=-1)
            return _aggregate(pair, np.array([1 - share, share]), spec.aggregate, spec.shift)

        m_point = module(w_all[g], s_all[g])
        out["module_index"][g] = m_point
        out["extended_index"][g] = combine(np.asarray(core_index[g]), np.asarray(m_point))
        if reps_sums is not None and core_reps is not None:
            rw, rs, _ = reps_sums
            m_reps = module(rw[:, g], rs[:, g])
            n_bad = int((~np.isfinite(m_reps)).sum())
            if n_bad and np.isfinite(m_point):
                notes.append(
                    f"{n_bad} bootstrap replicate(s) of the module of group {key} drew no "
                    "answers to some module item and were left out of its intervals."
                )
            _, lo, hi = _summarise_reps(m_reps[:, None], confidence)
            out["module_ci_low"][g], out["module_ci_high"][g] = lo[0], hi[0]
            _, lo, hi = _summarise_reps(combine(core_reps[:, g], m_reps)[:, None], confidence)
            out["extended_ci_low"][g], out["extended_ci_high"][g] = lo[0], hi[0]
    return out
