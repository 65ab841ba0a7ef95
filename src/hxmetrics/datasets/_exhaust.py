"""What the simulated persons leave behind besides survey answers: events and tickets.

Both are Poisson processes on the observed part of each episode, with types,
touchpoints, teams and severities drawn from the recipe's mixes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._draws import _choice, _ids, _lookup, _poisson_times, _str, _take, _to_ts
from ._recipe import (
    _DAY,
    _EVENT_RATE,
    _EVENT_TYPES,
    _FIRST_RESPONSE_SIGMA,
    _RESOLUTION_SIGMA,
    _SEVERITY_FACTOR,
    _SEVERITY_MIX,
    _TEAM_TIMES,
    _TEAMS,
    _TICKET_RATE,
    _TOUCHPOINTS,
)


def _events(
    rng: np.random.Generator,
    role_arr: np.ndarray,
    a_sec: np.ndarray,
    b_sec: np.ndarray,
    silo: np.ndarray,
    source_id: np.ndarray,
    origin: np.datetime64,
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The events table, and (episode, second, type, touchpoint) of each event in order."""
    ev_ep, ev_ts = _poisson_times(rng, a_sec, b_sec, _lookup(_EVENT_RATE, role_arr))
    ev_type = np.empty(len(ev_ep), dtype=object)
    ev_tp = np.empty(len(ev_ep), dtype=object)
    for role in ("customer", "worker", "partner"):
        sel = role_arr[ev_ep] == role
        ev_type[sel] = _choice(rng, _EVENT_TYPES[role], int(sel.sum()))
        ev_tp[sel] = _choice(rng, _TOUCHPOINTS[role], int(sel.sum()))
    order = np.lexsort((np.arange(len(ev_ep)), ev_ts))
    ev_ep, ev_ts, ev_type, ev_tp = ev_ep[order], ev_ts[order], ev_type[order], ev_tp[order]
    events = pd.DataFrame(
        {
            "event_id": _str(_ids("E", np.arange(1, len(ev_ep) + 1), 7)),
            "silo": _take(silo, ev_ep),
            "source_id": _take(source_id, ev_ep),
            "timestamp": _to_ts(origin, ev_ts),
            "event_type": _str(ev_type),
            "touchpoint": _str(ev_tp),
        }
    )
    return events, (ev_ep, ev_ts, ev_type, ev_tp)


def _tickets(
    rng: np.random.Generator,
    role_arr: np.ndarray,
    a_sec: np.ndarray,
    b_sec: np.ndarray,
    silo: np.ndarray,
    source_id: np.ndarray,
) -> dict[str, np.ndarray]:
    """Support tickets' draws, in table order (by opening time): times in seconds."""
    tk_ep, tk_ts = _poisson_times(rng, a_sec, b_sec, _lookup(_TICKET_RATE, role_arr))
    m_tk = len(tk_ep)
    team = np.empty(m_tk, dtype=object)
    tk_tp = np.empty(m_tk, dtype=object)
    for role in ("customer", "worker", "partner"):
        sel = role_arr[tk_ep] == role
        team[sel] = _choice(rng, _TEAMS[role], int(sel.sum()))
        tk_tp[sel] = _choice(rng, _TOUCHPOINTS[role], int(sel.sum()))
    severity = _choice(rng, _SEVERITY_MIX, m_tk)
    factor = _lookup(_SEVERITY_FACTOR, severity)
    med_first = _lookup({t: v[0] for t, v in _TEAM_TIMES.items()}, team) * factor
    med_close = _lookup({t: v[1] for t, v in _TEAM_TIMES.items()}, team) * factor
    reopen_rate = _lookup({t: v[2] for t, v in _TEAM_TIMES.items()}, team)
    first_s = np.maximum(
        60, np.rint(med_first * 3600 * np.exp(_FIRST_RESPONSE_SIGMA * rng.standard_normal(m_tk)))
    ).astype(np.int64)
    close_s = np.maximum(
        60, np.rint(med_close * 3600 * np.exp(_RESOLUTION_SIGMA * rng.standard_normal(m_tk)))
    ).astype(np.int64)
    reopened = rng.poisson(reopen_rate)
    order = np.lexsort((np.arange(m_tk), tk_ts))
    return {
        "opened": tk_ts[order],
        "first_s": first_s[order],
        "close_s": close_s[order],
        "reopened": reopened[order],
        "severity": severity[order],
        "touchpoint": tk_tp[order],
        "team": team[order],
        "silo": silo[tk_ep][order],
        "source_id": source_id[tk_ep][order],
    }


def _ticket_table(
    tk: Mapping[str, np.ndarray],
    first_at: np.ndarray,
    closed_at: np.ndarray,
    end_d: int,
    origin: np.datetime64,
) -> pd.DataFrame:
    """The tickets table: what is known at the window end (later times are empty)."""
    end_sec = end_d * _DAY
    nat = np.datetime64("NaT", "ns")
    m_tk = len(tk["opened"])
    return pd.DataFrame(
        {
            "ticket_id": _str(_ids("K", np.arange(1, m_tk + 1), 6)),
            "silo": _str(tk["silo"]),
            "source_id": _str(tk["source_id"]),
            "opened": _to_ts(origin, tk["opened"]),
            "first_response": np.where(first_at < end_sec, _to_ts(origin, first_at), nat),
            "closed": np.where(closed_at < end_sec, _to_ts(origin, closed_at), nat),
            "reopened": pd.array(tk["reopened"], dtype="Int64"),
            "severity": _str(tk["severity"]),
            "touchpoint": _str(tk["touchpoint"]),
            "team": _str(tk["team"]),
        }
    )


def _service_truth() -> pd.DataFrame:
    rows = []
    for team, (first, close, reopen) in _TEAM_TIMES.items():
        for sev, f in _SEVERITY_FACTOR.items():
            rows.append(
                {
                    "team": team,
                    "severity": sev,
                    "median_first_response_hours": round(first * f, 10),
                    "first_response_sigma": _FIRST_RESPONSE_SIGMA,
                    "median_resolution_hours": round(close * f, 10),
                    "resolution_sigma": _RESOLUTION_SIGMA,
                    "reopen_rate": reopen,
                }
            )
    out = pd.DataFrame(rows)
    out["team"] = _str(out["team"])
    out["severity"] = _str(out["severity"])
    return out
