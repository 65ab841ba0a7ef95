"""Teams that own the touchpoints, one change of owner, and a planted shift in one team's NPS.

:func:`add_teams` gives every touchpoint of the simulated exhaust an owning team (the
optional ``teams`` table: one row per ownership spell), moves one touchpoint to
another team at a known date, and plants a drop in one team's NPS from a known month
on. What it planted is in ``org.truth.planted["teams"]``.

Relationship NPS answers carry no touchpoint in the base simulation (they are not
triggered by a contact). This step credits each of them to the touchpoint of the
answering id's last event within ``touch_window`` before the answer (a relationship
survey read as a verdict on the last contact: "last touch"); answers with no such
event keep an empty touchpoint. The planted shift then moves the likelihood to
recommend of the answers at the shifted team's touchpoints (owned by it at the
answer's time) from the shift month on by ``score_shift`` scale points, clipped to
0..10: scores stay whole numbers from 0 to 10. CSAT and CES answers are not changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError

from ._draws import _str
from ._model import Organisation

__all__ = ["DEFAULT_OWNERS", "add_teams"]

#: The touchpoints each team owns at the window start. A touchpoint of the exhaust
#: not listed here is owned by ``"operations"``.
DEFAULT_OWNERS: dict[str, tuple[str, ...]] = {
    "digital": ("web", "app"),
    "stores": ("store",),
    "contact_centre": ("phone", "chat", "email"),
    "people_ops": ("intranet", "in_person"),
    "partner_desk": ("portal",),
}
_FALLBACK_TEAM = "operations"


def _category(score: np.ndarray) -> np.ndarray:
    """+1 promoter, 0 passive, -1 detractor (Reichheld 2003 cut points)."""
    return np.where(score >= 9, 1, np.where(score >= 7, 0, -1))


def _month_start(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a date; got {value!r}.") from None
    if ts.tz is not None:
        raise ParameterError(f"{name} must be a date without a time zone; got {value!r}.")
    return ts.to_period("M").to_timestamp()


def _owners_table(
    touchpoints: list[str],
    owners: Mapping[str, tuple[str, ...]],
    start: pd.Timestamp,
    moved: str,
    to_team: str,
    change_at: pd.Timestamp,
) -> pd.DataFrame:
    first = {tp: team for team, tps in owners.items() for tp in tps}
    rows: list[tuple[str, str, Any, Any]] = []
    for tp in sorted(touchpoints):
        team = first.get(tp, _FALLBACK_TEAM)
        if tp == moved:
            rows.append((team, tp, start, change_at))
            rows.append((to_team, tp, change_at, pd.NaT))
        else:
            rows.append((team, tp, start, pd.NaT))
    out = pd.DataFrame(rows, columns=["team", "touchpoint", "valid_from", "valid_to"])
    out["team"] = _str(out["team"])
    out["touchpoint"] = _str(out["touchpoint"])
    out["valid_from"] = out["valid_from"].astype("datetime64[ns]")
    out["valid_to"] = out["valid_to"].astype("datetime64[ns]")
    return out


def _last_touch(
    responses: pd.DataFrame, events: pd.DataFrame, asked: np.ndarray, window: pd.Timedelta
) -> np.ndarray:
    """Touchpoint of each asked answer's id's last event within ``window`` before it."""
    out = np.full(len(responses), None, dtype=object)
    pos = np.flatnonzero(asked)
    if len(pos) == 0 or len(events) == 0:
        return out
    left = pd.DataFrame(
        {
            "silo": responses["silo"].to_numpy(dtype=object)[pos],
            "source_id": responses["source_id"].to_numpy(dtype=object)[pos],
            "timestamp": responses["timestamp"].to_numpy()[pos],
            "pos": pos,
        }
    ).sort_values("timestamp", kind="stable")
    right = pd.DataFrame(
        {
            "silo": events["silo"].to_numpy(dtype=object),
            "source_id": events["source_id"].to_numpy(dtype=object),
            "timestamp": events["timestamp"].to_numpy(),
            "last_touchpoint": events["touchpoint"].to_numpy(dtype=object),
        }
    )
    right = right[right["last_touchpoint"].notna()].sort_values("timestamp", kind="stable")
    joined = pd.merge_asof(
        left,
        right,
        on="timestamp",
        by=["silo", "source_id"],
        direction="backward",
        tolerance=window,
    )
    out[joined["pos"].to_numpy()] = joined["last_touchpoint"].to_numpy(dtype=object)
    return out


def add_teams(
    org: Organisation,
    *,
    random_state: int | np.random.Generator | None = None,
    owners: Mapping[str, tuple[str, ...]] | None = None,
    moved_touchpoint: str = "chat",
    moved_to: str = "digital",
    change_at: Any = None,
    shift_team: str = "digital",
    shift_month: Any = None,
    score_shift: int = -1,
    touch_window: str | pd.Timedelta = "365D",
) -> Organisation:
    """Give the touchpoints owning teams, change one owner, plant a shift in one team's NPS.

    Parameters
    ----------
    org : Organisation
        A simulated organisation (with or without the other optional steps).
    random_state : int or numpy.random.Generator, optional
        Accepted for the common step signature; this step draws nothing (the
        ownership, the change and the shift are fixed by the arguments).
    owners : mapping, optional
        Team -> touchpoints it owns at the window start (:data:`DEFAULT_OWNERS`).
    moved_touchpoint, moved_to : str
        The touchpoint that changes owner and its new team.
    change_at : date, optional
        When it changes owner (default: the 15th of the middle month of the quarter
        at 40% of the window: a change in mid-quarter).
    shift_team : str
        The team whose NPS shifts.
    shift_month : date, optional
        The first month of the shift (default: the first month of the quarter at 70%
        of the window; any date is taken to its month's start).
    score_shift : int
        Scale points added to the shifted likelihood-to-recommend answers (clipped to
        0..10); negative lowers the NPS.
    touch_window : str or pandas.Timedelta
        How far back an NPS answer's last event may be to credit its touchpoint.

    Returns
    -------
    Organisation
        A new organisation with ``teams`` set, the relationship NPS answers credited
        to a touchpoint, the shifted scores, and ``truth.planted["teams"]``:
        ``teams`` (the table), ``change`` (``touchpoint``, ``from_team``,
        ``to_team``, ``at``), ``team``, ``touchpoints`` (the team's at the shift
        month), ``shift_month``, ``score_shift``, ``n_answers_shifted``,
        ``nps_change`` (the NPS points the shift moved the team's answers from the
        shift month on: the exact change of those answers, 100 times the mean change
        of their promoter/passive/detractor category), ``nps_touchpoint_rule``
        (``"last_touch"``) and ``touch_window``.

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = add_teams(simulate_organisation(300, random_state=1), random_state=1)
    >>> sorted(org.teams["team"].unique())[:2]
    ['contact_centre', 'digital']
    >>> org.truth.planted["teams"]["team"]
    'digital'
    """
    del random_state  # nothing is drawn: the plan is fixed by the arguments
    owners = dict(owners or DEFAULT_OWNERS)
    if not isinstance(score_shift, (int, np.integer)) or isinstance(score_shift, bool):
        raise ParameterError(f"score_shift must be a whole number of points; got {score_shift!r}.")
    window = pd.Timedelta(touch_window)
    start, end = pd.Timestamp(org.start), pd.Timestamp(org.end)
    span = end - start
    if change_at is None:
        q = (start + 0.4 * span).to_period("Q")
        change = (q.start_time + pd.DateOffset(months=1)).normalize() + pd.Timedelta(days=14)
    else:
        change = pd.Timestamp(change_at)
    if shift_month is None:
        shift = (start + 0.7 * span).to_period("Q").start_time.normalize()
    else:
        shift = _month_start(shift_month, "shift_month")
    if not start < change < end:
        raise ParameterError(
            f"change_at must lie inside the window [{start}, {end}); got {change}."
        )
    if not start < shift < end:
        raise ParameterError(
            f"shift_month must lie inside the window [{start}, {end}); got {shift}."
        )

    seen = pd.concat(
        [
            org.events["touchpoint"].astype(object),
            org.tickets["touchpoint"].astype(object),
            org.responses["touchpoint"].astype(object),
        ]
    ).dropna()
    touchpoints = sorted({str(t) for t in seen.unique()} | {moved_touchpoint})
    from_team = next((t for t, tps in owners.items() if moved_touchpoint in tps), _FALLBACK_TEAM)
    if from_team == moved_to:
        raise ParameterError(
            f"moved_to must differ from the current owner of {moved_touchpoint!r} ({from_team!r})."
        )
    teams = _owners_table(touchpoints, owners, start, moved_touchpoint, moved_to, change)

    resp = org.responses
    tp = resp["touchpoint"].to_numpy(dtype=object).copy()
    is_ltr = (resp["instrument"].to_numpy(dtype=object) == "nps") & (
        resp["item"].to_numpy(dtype=object) == "ltr"
    )
    missing_tp = pd.isna(tp)
    credited = _last_touch(resp, org.events, is_ltr & missing_tp, window)
    tp = np.where(is_ltr & missing_tp, credited, tp)

    # Which answers are at the shifted team's touchpoints, by ownership at answer time.
    ts = resp["timestamp"].to_numpy()
    owned = np.zeros(len(resp), dtype=bool)
    mine = teams[teams["team"] == shift_team]
    spell_tp = mine["touchpoint"].to_numpy(dtype=object)
    spell_lo = mine["valid_from"].to_numpy()
    spell_hi = mine["valid_to"].to_numpy()
    for k in range(len(mine)):  # one pass per spell of the team (a handful)
        inside = (tp == spell_tp[k]) & (ts >= spell_lo[k])
        if not np.isnat(spell_hi[k]):
            inside &= ts < spell_hi[k]
        owned |= inside
    hit = is_ltr & owned & (ts >= np.datetime64(shift)) & resp["score"].notna().to_numpy()
    score = resp["score"].to_numpy(dtype=float).copy()
    old = score[hit]
    new = np.clip(old + int(score_shift), 0, 10)
    score[hit] = new
    nps_change = float(100 * (_category(new) - _category(old)).mean()) if hit.any() else 0.0

    out_resp = resp.copy()
    out_resp["touchpoint"] = _str(tp)
    out_resp["score"] = score
    at_shift = teams[
        (teams["team"] == shift_team)
        & (teams["valid_from"] <= shift)
        & (teams["valid_to"].isna() | (teams["valid_to"] > shift))
    ]
    planted = {
        "teams": teams.copy(),
        "change": pd.DataFrame(
            {
                "touchpoint": _str([moved_touchpoint]),
                "from_team": _str([from_team]),
                "to_team": _str([moved_to]),
                "at": pd.Series([change], dtype="datetime64[ns]"),
            }
        ),
        "team": shift_team,
        "touchpoints": sorted(str(t) for t in at_shift["touchpoint"]),
        "shift_month": shift,
        "score_shift": int(score_shift),
        "n_answers_shifted": int(hit.sum()),
        "nps_change": nps_change,
        "nps_touchpoint_rule": "last_touch",
        "touch_window": str(window),
    }
    truth = dataclasses.replace(org.truth, planted={**org.truth.planted, "teams": planted})
    return dataclasses.replace(org, teams=teams, responses=out_resp, truth=truth)
