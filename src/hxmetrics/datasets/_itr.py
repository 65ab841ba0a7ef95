"""Status histories of the simulated tickets (the issue-to-resolution chain) and stalls.

Every ticket's history is cut from the times the tickets table already holds, so the
two agree: ``opened`` is the ticket's opening, the first ``in_progress`` is its first
response (the first move out of triage) and ``closed`` its closing. The first-response
time is split between ``opened`` and ``triaged`` by a Beta share; the time from first
response to close between ``in_progress``, ``waiting_on_customer`` (when the ticket
pauses), ``resolved`` and ``reopened`` (when it is reopened, as often as the tickets
table's ``reopened`` says) by a Dirichlet share, and each status's share over its
visits by uniform spacings. A stall (``ticket_stalls=True``) adds one long wait in
``triaged`` or ``waiting_on_customer``. Statuses at or after the window end are not
recorded: a ticket still open has a partial history (its ``reopened`` in the tickets
table counts the reopenings of its whole history, the later ones not yet shown).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._draws import _choice, _ids, _lookup, _str, _to_ts
from ._recipe import (
    _DAY,
    _FIRST_RESPONSE_SIGMA,
    _RESOLUTION_SIGMA,
    _SEVERITY_FACTOR,
    _STALL_MEDIAN_DAYS,
    _STALL_PROBABILITY,
    _STALL_SIGMA,
    _STALL_STAGE_MIX,
    _TEAM_STAGES,
    _TEAM_TIMES,
    _TRIAGE_SHARE,
    TICKET_STATUSES,
)

_OPENED, _TRIAGED, _IN_PROGRESS, _WAITING, _RESOLVED, _REOPENED, _CLOSED = range(7)
# Stalls longer than this are cut (ten years: timestamps stay far from the ns limit).
_STALL_CAP_DAYS = 3650


def _stalls(
    rng: np.random.Generator, team: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each ticket would stall, where, and for how many seconds.

    Drawn whether or not stalls are applied, so the rest of the histories is the
    same with and without them.
    """
    m = len(team)
    stalled = rng.random(m) < _lookup(_STALL_PROBABILITY, team)
    stage = _choice(rng, _STALL_STAGE_MIX, m)
    days = _STALL_MEDIAN_DAYS * np.exp(_STALL_SIGMA * rng.standard_normal(m))
    seconds = np.rint(np.minimum(days, _STALL_CAP_DAYS) * _DAY).astype(np.int64)
    return stalled, stage, seconds


def _spacings(
    rng: np.random.Generator,
    owner: np.ndarray,
    total: np.ndarray,
    n_owner: int,
    slots: np.ndarray | None = None,
) -> np.ndarray:
    """Split ``total[k]`` over the items owned by ``k`` evenly at random (Dirichlet(1..1)).

    ``owner`` is sorted. ``slots[k]`` (at least ``k``'s items) exponentials are drawn per
    owner and the first ones used, so the draws do not depend on how many are used.
    """
    counts = np.bincount(owner, minlength=n_owner)
    slots = counts if slots is None else slots
    e_all = rng.exponential(size=int(slots.sum()))
    first_slot = np.concatenate([[0], np.cumsum(slots)[:-1]])
    first_item = np.concatenate([[0], np.cumsum(counts)[:-1]])
    e = e_all[first_slot[owner] + np.arange(len(owner)) - first_item[owner]]
    sums = np.bincount(owner, weights=e, minlength=n_owner)
    out: np.ndarray = total[owner] * e / np.where(sums[owner] > 0, sums[owner], 1.0)
    return out


def _ticket_events(
    rng: np.random.Generator,
    tk: Mapping[str, np.ndarray],
    stall_status: np.ndarray,
    stall_s: np.ndarray,
    apply_stalls: bool,
    end_d: int,
    origin: np.datetime64,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``ticket_events`` table and the per-ticket truth (``ticket_paths``).

    ``stall_status`` is where each ticket would stall (None: it would not) and
    ``stall_s`` for how many seconds; applied when ``apply_stalls``. The draws are the
    same either way, so a ticket that does not stall has the same history with and
    without stalls.
    """
    m = len(tk["opened"])
    team = tk["team"]
    t0 = tk["opened"]
    f0 = tk["first_s"]
    d0 = tk["close_s"].astype(float)
    n_reopen = np.asarray(tk["reopened"], dtype=np.int64)
    would_wait = stall_status == "waiting_on_customer"
    stall_triage = np.where(apply_stalls & (stall_status == "triaged"), stall_s, 0)
    stall_wait = np.where(apply_stalls & would_wait, stall_s, 0)
    has_wait_stall = stall_wait > 0
    t1 = t0 + f0 + stall_triage

    # Draws, always the same number for the same tickets.
    triage_share = rng.beta(*_TRIAGE_SHARE, size=m)
    n_pause = rng.poisson(_lookup({t: v[0] for t, v in _TEAM_STAGES.items()}, team))
    alpha = np.column_stack(
        [_lookup({t: v[1][k] for t, v in _TEAM_STAGES.items()}, team) for k in range(4)]
    )
    gam = rng.standard_gamma(alpha)
    gam[:, 1] *= n_pause > 0
    gam[:, 3] *= n_reopen > 0
    share = gam / gam.sum(axis=1, keepdims=True)

    # Cycles: the first work cycle and one more per reopening.
    n_cycle = n_reopen + 1
    c_tk = np.repeat(np.arange(m), n_cycle)
    c_first = np.concatenate([[0], np.cumsum(n_cycle)[:-1]])
    c_idx = np.arange(len(c_tk)) - c_first[c_tk]

    # Pauses: the ticket's regular pauses plus its stall, each in a random cycle, in
    # a random order within the cycle; the stall is the ticket's first pause drawn
    # (drawn for every ticket that would stall there, kept when stalls apply).
    n_pz = n_pause + would_wait
    p_tk = np.repeat(np.arange(m), n_pz)
    p_first = np.concatenate([[0], np.cumsum(n_pz)[:-1]])
    p_is_stall = would_wait[p_tk] & (np.arange(len(p_tk)) == p_first[p_tk])
    p_cycle = np.floor(rng.random(len(p_tk)) * n_cycle[p_tk]).astype(np.int64)
    p_key = rng.random(len(p_tk))
    regular = ~p_is_stall
    p_len = np.zeros(len(p_tk))
    p_len[regular] = _spacings(rng, p_tk[regular], d0 * share[:, 1], m)
    p_len[p_is_stall] = stall_wait[p_tk[p_is_stall]]
    present = regular | has_wait_stall[p_tk]
    p_tk, p_cycle, p_key, p_len = p_tk[present], p_cycle[present], p_key[present], p_len[present]
    p_order = np.lexsort((p_key, p_cycle, p_tk))
    p_len = p_len[p_order]
    k_cycle = np.bincount(c_first[p_tk] + p_cycle, minlength=len(c_tk))

    # Resolution tokens, cycle by cycle: in_progress, (waiting, in_progress) x k,
    # resolved, then reopened unless it is the last cycle.
    n_tok = 2 + 2 * k_cycle + (c_idx < n_reopen[c_tk])
    r_cyc = np.repeat(np.arange(len(c_tk)), n_tok)
    r_first = np.concatenate([[0], np.cumsum(n_tok)[:-1]])
    j = np.arange(len(r_cyc)) - r_first[r_cyc]
    k = k_cycle[r_cyc]
    status = np.where(
        j == 0,
        _IN_PROGRESS,
        np.where(
            j <= 2 * k,
            np.where(j % 2 == 1, _WAITING, _IN_PROGRESS),
            np.where(j == 2 * k + 1, _RESOLVED, _REOPENED),
        ),
    )
    r_tk = c_tk[r_cyc]
    length = np.zeros(len(r_tk))
    # Work visits: one per cycle and one after each pause (slots for the stall's too).
    work_slots = n_reopen + 1 + n_pause + would_wait
    for code, col, slots in (
        (_IN_PROGRESS, 0, work_slots),
        (_RESOLVED, 2, None),
        (_REOPENED, 3, None),
    ):
        sel = status == code
        length[sel] = _spacings(rng, r_tk[sel], d0 * share[:, col], m, slots)
    length[status == _WAITING] = p_len  # same (ticket, cycle, order) ordering

    # Integer seconds: every status lasts at least a second and the last boundary is
    # exactly the close (first response + resolution time + any waiting stall).
    total_int = tk["close_s"] + stall_wait
    n_res = np.bincount(r_tk, minlength=m)
    t_first = np.concatenate([[0], np.cumsum(n_res)[:-1]])
    pos = np.arange(len(r_tk)) - t_first[r_tk]
    cum_before = np.cumsum(length) - length
    cum_before -= cum_before[t_first[r_tk]]
    total = np.bincount(r_tk, weights=length, minlength=m)
    spare = np.maximum(total_int - n_res, 0)
    r_ts = t1[r_tk] + pos + np.floor(cum_before / total[r_tk] * spare[r_tk]).astype(np.int64)
    closed_at = t1 + n_res + spare
    triaged_at = t0 + 1 + np.floor(triage_share * (f0 - 2)).astype(np.int64)

    tk_all = np.concatenate([np.arange(m), np.arange(m), r_tk, np.arange(m)])
    pos_all = np.concatenate([np.zeros(m), np.ones(m), 2 + pos, 2 + n_res]).astype(np.int64)
    st_all = np.concatenate(
        [np.full(m, _OPENED), np.full(m, _TRIAGED), status, np.full(m, _CLOSED)]
    )
    ts_all = np.concatenate([t0, triaged_at, r_ts, closed_at])
    keep = ts_all < end_d * _DAY
    order = np.lexsort((pos_all[keep], tk_all[keep]))
    tk_k, st_k, ts_k = tk_all[keep][order], st_all[keep][order], ts_all[keep][order]
    ids = _ids("K", np.arange(1, m + 1), 6)
    names = np.array(TICKET_STATUSES, dtype=object)
    events = pd.DataFrame(
        {
            "ticket_id": _str(ids[tk_k]),
            "status": _str(names[st_k]),
            "timestamp": _to_ts(origin, ts_k),
            "team": _str(team[tk_k]),
        }
    )
    stall_s = stall_triage + stall_wait
    stall_status = np.full(m, None, dtype=object)
    stall_status[stall_triage > 0] = "triaged"
    stall_status[has_wait_stall] = "waiting_on_customer"
    paths = pd.DataFrame(
        {
            "ticket_id": _str(ids),
            "team": _str(team),
            "severity": _str(tk["severity"]),
            "pauses": n_pause.astype(np.int64),
            "reopened": n_reopen,
            "stall_status": pd.Series(stall_status, dtype="str"),
            "stall_hours": np.round(stall_s / 3600.0, 6),
            "first_response_hours": np.round((t1 - t0) / 3600.0, 6),
            "closed_hours": np.round((closed_at - t0) / 3600.0, 6),
        }
    )
    return events, paths


def _quantile_of_product(
    mu: float, sigma: float, cases: list[tuple[float, float, float]], q: float = 0.5
) -> float:
    """The ``q`` quantile of ``D * S``: D log-normal(mu, sigma), S a mixture of Betas.

    ``cases`` holds ``(weight, a, b)``; P(D S <= x) = sum_w w E_S[Phi((log x - log S -
    mu) / sigma)], the expectation by Gauss-Legendre over the Beta quantile (a smooth
    integrand), the root by bisection on log x.
    """
    from scipy.special import betaincinv, ndtr

    # Midpoint rule on the Beta's probability scale: 4000 nodes put the CDF within
    # about 1e-6 of the integral (the integrand is bounded and smooth inside (0, 1)).
    u = (np.arange(4000) + 0.5) / 4000
    total_w = sum(w for w, _, _ in cases)
    weights = np.concatenate([np.full(len(u), w / total_w / len(u)) for w, _, _ in cases])
    log_s = np.concatenate([np.log(betaincinv(a, b, u)) for _, a, b in cases])

    def cdf(log_x: float) -> float:
        # A plain sum, not a BLAS dot product (slow for one vector under thread contention).
        return float(np.sum(weights * ndtr((log_x - log_s - mu) / sigma)))

    lo, hi = mu - 12 * sigma - 40, mu + 12 * sigma
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) < q:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2)


def _itr_truth() -> pd.DataFrame:
    """Per team, severity and status: the share of tickets visiting it, the expected
    visits and the median total hours in it among tickets visiting it (no stalls)."""
    return _itr_truth_cached().copy()


@functools.cache
def _itr_truth_cached() -> pd.DataFrame:
    # The recipe is fixed: the quadratures run once per process.
    rows: list[dict[str, Any]] = []
    a_t, b_t = _TRIAGE_SHARE
    for team, (first_h, close_h, reopen_rate) in _TEAM_TIMES.items():
        pause_rate, alpha = _TEAM_STAGES[team]
        p_pause = 1 - math.exp(-pause_rate)
        p_reopen = 1 - math.exp(-reopen_rate)
        # (probability, pauses present, reopened) of each case of the Dirichlet.
        cases = [
            ((1 - p_pause) * (1 - p_reopen), False, False),
            (p_pause * (1 - p_reopen), True, False),
            ((1 - p_pause) * p_reopen, False, True),
            (p_pause * p_reopen, True, True),
        ]
        base: dict[str, tuple[float, float, list[tuple[float, float, float]]]] = {
            "opened": (math.log(first_h), _FIRST_RESPONSE_SIGMA, [(1.0, a_t, b_t)]),
            "triaged": (math.log(first_h), _FIRST_RESPONSE_SIGMA, [(1.0, b_t, a_t)]),
        }
        resolution = ("in_progress", "waiting_on_customer", "resolved", "reopened")
        for col, status in enumerate(resolution):
            mix = []
            for w, pz, rp in cases:
                present = (True, pz, True, rp)
                if not present[col]:
                    continue
                a_tot = sum(a for a, on in zip(alpha, present, strict=True) if on)
                mix.append((w, alpha[col], a_tot - alpha[col]))
            base[status] = (math.log(close_h), _RESOLUTION_SIGMA, mix)
        visits = {
            "opened": 1.0,
            "triaged": 1.0,
            "in_progress": 1.0 + pause_rate + reopen_rate,
            "waiting_on_customer": pause_rate,
            "resolved": 1.0 + reopen_rate,
            "reopened": reopen_rate,
        }
        reach = {"waiting_on_customer": p_pause, "reopened": p_reopen}
        medians = {s: _quantile_of_product(*spec) for s, spec in base.items()}
        for sev, f in _SEVERITY_FACTOR.items():
            for status in TICKET_STATUSES[:-1]:
                rows.append(
                    {
                        "team": team,
                        "severity": sev,
                        "status": status,
                        "visit_probability": round(reach.get(status, 1.0), 10),
                        "visits_per_ticket": round(visits[status], 10),
                        "median_hours": float(f"{medians[status] * f:.8g}"),
                    }
                )
    out = pd.DataFrame(rows)
    for name in ("team", "severity", "status"):
        out[name] = _str(out[name])
    return out


def _itr_params(ticket_stalls: bool) -> dict[str, Any]:
    """The history and stall parameters, for ``truth/params.json``."""
    return {
        "statuses": list(TICKET_STATUSES),
        "first_response_status": "in_progress",
        "triage_share_beta": list(_TRIAGE_SHARE),
        "stages": {
            team: {
                "pause_rate": rate,
                "dirichlet": dict(
                    zip(
                        ("in_progress", "waiting_on_customer", "resolved", "reopened"),
                        weights,
                        strict=True,
                    )
                ),
            }
            for team, (rate, weights) in _TEAM_STAGES.items()
        },
        "stalls": {
            "enabled": bool(ticket_stalls),
            "probability": dict(_STALL_PROBABILITY),
            "status_mix": dict(_STALL_STAGE_MIX),
            "median_days": _STALL_MEDIAN_DAYS,
            "sigma": _STALL_SIGMA,
            "cap_days": _STALL_CAP_DAYS,
        },
    }
