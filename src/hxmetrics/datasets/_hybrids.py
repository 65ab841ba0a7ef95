"""Reference hybrid labels: a plain loop over each person's true episodes.

This is deliberately the slow, obvious implementation of the label definitions
(ARCHITECTURE / COMMON conventions), used to write ``truth.hybrids``. Episodes
are half-open ``[start, end)`` with a missing end meaning "still running".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["LABELS", "hybrid_labels"]

#: The boolean hybrid labels, in their documented order.
LABELS: tuple[str, ...] = (
    "worker_customer",
    "partner_customer",
    "worker_partner",
    "gig_worker",
    "boomerang",
    "alumni_customer",
    "alumni_partner",
    "customer_to_worker",
)

_INF = math.inf
_GIG = ("gig", "freelance")

# One episode as plain numbers: (start, end) in days since the epoch, end = +inf if open.
_Span = tuple[float, float]


def _overlap(a: _Span, b: _Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _any_overlap(xs: Sequence[_Span], ys: Sequence[_Span]) -> bool:
    return any(_overlap(x, y) for x in xs for y in ys)


def _starts_after_end(later: Sequence[_Span], earlier: Sequence[_Span]) -> bool:
    """Does some ``later`` episode start on/after the end of some ``earlier`` one?"""
    return any(e[1] != _INF and x[0] >= e[1] for x in later for e in earlier)


def _boomerang_gap(workers: Sequence[_Span]) -> float:
    """Gap (days) of the first re-hire: the earliest worker episode that starts
    on/after the end of another one, measured from the latest such end.

    Several episodes starting on that day are one re-hire: the latest end of any
    other episode by then counts, whatever the rows' order (an empty episode ending
    on the day another starts makes the gap 0).
    """
    best_start, best_gap = _INF, math.nan
    for i, w in enumerate(workers):
        ends = [e[1] for j, e in enumerate(workers) if j != i and e[1] != _INF and w[0] >= e[1]]
        if not ends:
            continue
        gap = w[0] - max(ends)
        if w[0] < best_start or (w[0] == best_start and gap < best_gap):
            best_start, best_gap = w[0], gap
    return best_gap


def _days(ts: pd.Series) -> np.ndarray:
    ns = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    out: np.ndarray = ns / 86_400e9
    out[ts.isna().to_numpy()] = _INF
    return out


def hybrid_labels(episodes: pd.DataFrame, persons: Sequence[str] | None = None) -> pd.DataFrame:
    """Hybrid labels per person from role episodes (the reference implementation).

    Parameters
    ----------
    episodes : pandas.DataFrame
        ``person_id, role, engagement, start, end`` (``end`` NaT = open).
    persons : sequence of str, optional
        Every person to report (persons without episodes get all-False rows);
        default the persons in ``episodes``.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, one bool column per label in :data:`LABELS` and
        ``boomerang_gap_days`` (NaN unless ``boomerang``), sorted by person.
    """
    start = _days(episodes["start"])
    end = _days(episodes["end"])
    spans: dict[str, dict[str, list[_Span]]] = {}
    gig: dict[str, bool] = {}
    for pid, role, eng, s, e in zip(
        episodes["person_id"].tolist(),
        episodes["role"].tolist(),
        episodes["engagement"].tolist(),
        start.tolist(),
        end.tolist(),
        strict=True,
    ):
        spans.setdefault(pid, {"customer": [], "worker": [], "partner": []})[role].append((s, e))
        if role == "worker" and eng in _GIG:
            gig[pid] = True
    ids = sorted(spans) if persons is None else sorted(persons)
    rows = []
    empty: dict[str, list[_Span]] = {"customer": [], "worker": [], "partner": []}
    for pid in ids:
        p = spans.get(pid, empty)
        c, w, q = p["customer"], p["worker"], p["partner"]
        if len(c) + len(w) + len(q) < 2:
            # Every label but gig_worker relates two episodes: one episode, no label.
            rows.append(
                (
                    pid,
                    False,
                    False,
                    False,
                    gig.get(pid, False),
                    False,
                    False,
                    False,
                    False,
                    math.nan,
                )
            )
            continue
        gap = _boomerang_gap(w)
        first_worker = min((x[0] for x in w), default=_INF)
        rows.append(
            (
                pid,
                _any_overlap(w, c),  # worker_customer
                _any_overlap(q, c),  # partner_customer
                _any_overlap(w, q),  # worker_partner
                gig.get(pid, False),  # gig_worker
                not math.isnan(gap),  # boomerang
                _starts_after_end(c, w),  # alumni_customer
                _starts_after_end(q, w),  # alumni_partner
                # customer_to_worker: the person's first worker episode starts strictly
                # after the start of a customer episode (a customer, not yet a worker).
                bool(w) and any(x[0] < first_worker for x in c),
                gap,
            )
        )
    out = pd.DataFrame(rows, columns=["person_id", *LABELS, "boomerang_gap_days"])
    out = out.astype({label: bool for label in LABELS} | {"boomerang_gap_days": float})
    return out
