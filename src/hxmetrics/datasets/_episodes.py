"""Role episodes of the simulated persons, and the silo ids of their accounts.

Each archetype gets its episodes in integer days from the window start: free
episodes that intersect the window, concurrent second roles that start inside the
first, and sequential moves that start on or after the earlier episode's end.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hxmetrics.tables import SILO_OF_ROLE

from ._draws import _choice, _lookup
from ._recipe import (
    _ENGAGEMENT_MIX,
    _GAP_MEDIAN_DAYS,
    _GAP_SIGMA,
    _ID_FORMAT,
    _OPEN,
    _PRE_WINDOW_SHARE,
    _TENURE_MEDIAN_DAYS,
    _TENURE_SIGMA,
    _ZERO_GAP_SHARE,
    ARCHETYPES,
)


def _tenure(rng: np.random.Generator, eng: np.ndarray) -> np.ndarray:
    med = _lookup(_TENURE_MEDIAN_DAYS, eng)
    days = med * np.exp(_TENURE_SIGMA * rng.standard_normal(len(eng)))
    return np.maximum(1, np.rint(days)).astype(np.int64)


def _free_episode(
    rng: np.random.Generator, eng: np.ndarray, role: str, end_d: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end days of an episode that intersects the window."""
    m = len(eng)
    pre = rng.random(m) < _PRE_WINDOW_SHARE.get(role, 0.0)
    start = np.where(pre, -rng.integers(1, 3651, m), rng.integers(0, end_d, m))
    end = start + _tenure(rng, eng)
    # Already in the role at window start: draw how much longer they stay.
    end = np.where(end <= 0, _tenure(rng, eng), end)
    return start.astype(np.int64), end.astype(np.int64)


def _inside(rng: np.random.Generator, s: np.ndarray, e: np.ndarray, end_d: int) -> np.ndarray:
    """A day in [max(s, 0), min(e, end_d)): a start that makes two episodes overlap."""
    lo = np.maximum(s, 0)
    hi = np.minimum(e, end_d)
    return lo + np.floor(rng.random(len(s)) * (hi - lo)).astype(np.int64)


def _ended(rng: np.random.Generator, eng: np.ndarray, end_d: int) -> tuple[np.ndarray, np.ndarray]:
    """An episode that ends inside the window, early enough for a successor."""
    e1 = rng.integers(30, end_d - 60, len(eng)).astype(np.int64)
    return e1 - _tenure(rng, eng), e1


def _after(rng: np.random.Generator, e1: np.ndarray, end_d: int) -> np.ndarray:
    """The start of a successor: on/after ``e1`` and before the window end."""
    m = len(e1)
    zero = rng.random(m) < _ZERO_GAP_SHARE
    gap = np.ceil(_GAP_MEDIAN_DAYS * np.exp(_GAP_SIGMA * rng.standard_normal(m)))
    room = end_d - e1
    squeeze = np.floor(rng.random(m) * room)
    gap = np.where(gap >= room, squeeze, gap)
    return e1 + np.where(zero, 0, gap).astype(np.int64)


def _engagement(
    rng: np.random.Generator, role: str, m: int, only: tuple[str, ...] | None = None
) -> np.ndarray:
    mix = _ENGAGEMENT_MIX[role]
    if only is not None:
        mix = {k: v for k, v in mix.items() if k in only}
    return _choice(rng, mix, m)


class _Episodes:
    """Accumulates episode parts: person index, role, engagement, start/end day, id slot."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        person: np.ndarray,
        role: str,
        eng: np.ndarray,
        start: np.ndarray,
        end: np.ndarray | None,
        slot: np.ndarray | None = None,
    ) -> None:
        m = len(person)
        self.parts.append(
            {
                "person": person.astype(np.int64),
                "role": np.full(m, role, dtype=object),
                "engagement": eng.astype(object),
                "start": start.astype(np.int64),
                "end": (np.full(m, _OPEN) if end is None else end).astype(np.int64),
                "slot": (np.zeros(m, np.int64) if slot is None else slot.astype(np.int64)),
            }
        )

    def frame(self) -> dict[str, np.ndarray]:
        keys = ("person", "role", "engagement", "start", "end", "slot")
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}


def _build_episodes(
    rng: np.random.Generator, archetype: np.ndarray, end_d: int
) -> dict[str, np.ndarray]:
    eps = _Episodes()
    for arch in ARCHETYPES:
        idx = np.flatnonzero(archetype == arch)
        m = len(idx)
        if m == 0:
            continue
        if arch == "pure_customer":
            eps.add(
                idx, "customer", _engagement(rng, "customer", m), rng.integers(0, end_d, m), None
            )
        elif arch in ("pure_worker", "pure_partner"):
            role = "worker" if arch == "pure_worker" else "partner"
            eng = _engagement(rng, role, m)
            s, e = _free_episode(rng, eng, role, end_d)
            eps.add(idx, role, eng, s, e)
        elif arch in ("worker_customer", "driver_partner_customer", "worker_partner"):
            # Concurrent: the second role starts inside the first role's episode.
            first = "partner" if arch == "driver_partner_customer" else "worker"
            only = ("driver",) if arch == "driver_partner_customer" else None
            eng = _engagement(rng, first, m, only)
            s, e = _free_episode(rng, eng, first, end_d)
            eps.add(idx, first, eng, s, e)
            second = "partner" if arch == "worker_partner" else "customer"
            only2 = ("supplier", "reseller", "host") if arch == "worker_partner" else None
            eng2 = _engagement(rng, second, m, only2)
            s2 = _inside(rng, s, e, end_d)
            if second == "customer":
                eps.add(idx, second, eng2, s2, None)
            else:
                eps.add(idx, second, eng2, s2, s2 + _tenure(rng, eng2))
        elif arch in ("boomerang", "alumni_customer", "alumni_partner"):
            # Sequential: a worker episode ends, the next starts on/after that end.
            eng = _engagement(rng, "worker", m)
            s, e = _ended(rng, eng, end_d)
            eps.add(idx, "worker", eng, s, e)
            s2 = _after(rng, e, end_d)
            second = {"boomerang": "worker", "alumni_customer": "customer"}.get(arch, "partner")
            eng2 = _engagement(rng, second, m)
            if second == "customer":
                eps.add(idx, second, eng2, s2, None)
            else:
                # A re-hire keeps the old worker id half of the time (slot 0), as HRIS do.
                slot = (rng.random(m) >= 0.5).astype(np.int64) if arch == "boomerang" else None
                eps.add(idx, second, eng2, s2, s2 + _tenure(rng, eng2), slot)
        elif arch == "customer_to_worker":
            cs = rng.integers(0, end_d - 60, m).astype(np.int64)
            eps.add(idx, "customer", _engagement(rng, "customer", m), cs, None)
            ws = cs + 1 + np.floor(rng.random(m) * (end_d - cs - 1)).astype(np.int64)
            eng = _engagement(rng, "worker", m)
            eps.add(idx, "worker", eng, ws, ws + _tenure(rng, eng))
        else:  # pragma: no cover - ARCHETYPES is closed
            raise AssertionError(arch)
    return eps.frame()


def _silo_ids(
    rng: np.random.Generator, ep: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Silo ids: one account per (role, person, slot), numbered by first start.

    Returns the source id and the silo of each episode and the number of accounts
    per role.
    """
    n_ep = len(ep["person"])
    account_key = pd.DataFrame(
        {"role": ep["role"], "person": ep["person"], "slot": ep["slot"], "start": ep["start"]}
    )
    tiebreak = rng.random(n_ep)
    account_key["tiebreak"] = tiebreak
    first = account_key.groupby(["role", "person", "slot"], sort=True).agg(
        start=("start", "min"), tiebreak=("tiebreak", "min")
    )
    first = first.reset_index().sort_values(["role", "start", "tiebreak"], kind="stable")
    first["number"] = first.groupby("role").cumcount() + 1
    first["source_id"] = [
        f"{_ID_FORMAT[r][0]}{x:0{_ID_FORMAT[r][1]}d}"
        for r, x in zip(first["role"], first["number"], strict=True)
    ]
    merged = account_key.merge(
        first[["role", "person", "slot", "source_id"]], on=["role", "person", "slot"], how="left"
    )
    source_id = merged["source_id"].to_numpy(dtype=object)
    silo = pd.Series(ep["role"]).map(SILO_OF_ROLE).to_numpy(dtype=object)
    n_accounts = {str(k): int(v) for k, v in first.groupby("role").size().items()}
    return source_id, silo, n_accounts
