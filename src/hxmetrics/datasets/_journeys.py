"""Simulation step: multi-touchpoint journeys, with a planted detractor-concentrating touchpoint.

:func:`add_journeys` adds events (never changes the responses) of two kinds:

* *background sessions*: a Poisson process of sessions (``sessions_per_year`` per role)
  on the observed part of every roster episode; each session is 1 + Poisson(1.5)
  steps drawn from the role's touchpoints (customers: app, web, store; workers:
  onboarding, shift_app, intranet; partners: partner_portal, partner_app), a few
  minutes apart. No background session starts within ``quiet_days`` (3) before a
  relationship answer of the same record, so that the session just before an answer
  is the planted one.
* *pre-answer sessions*: before every relationship answer (``instrument="nps"``,
  ``item="ltr"``, score present) one session of 1 + Poisson(0.5) regular steps whose
  last step ends ``lead`` before the answer (uniform in [1, 47] hours). In the
  planted role, the session ends with a visit to the planted touchpoint with
  probability ``p_detractor`` when that answer is a detractor (0-6) and ``p_other``
  when it is not; the planted touchpoint occurs nowhere else. Other roles' sessions
  end at a support touchpoint (``hr_desk``, ``partner_desk``) with the same
  probability ``p_other`` whatever the answer (nothing planted there).

What a method should recover is in ``truth.planted["journeys"]``:

* ``touchpoint``, ``role``, ``p_detractor``, ``p_other``, ``window_hours`` (48: every
  planted visit is within 48 hours before its answer);
* ``detractor_share``: the realised share of detractors among the role's
  relationship answers given a pre-answer session;
* ``expected_lift``: P(detractor | visited within the window) / P(detractor | not),
  from Bayes' rule on the three numbers above:
  ``[p1 / (d p1 + (1 - d) p0)] / [(1 - p1) / (d (1 - p1) + (1 - d)(1 - p0))]``;
* ``expected_removal_effect``: ``p_detractor``. With sessions followed by a detractor
  answer as the conversions and the planted touchpoint always the last step of its
  session, the first-order chain's removal effect of the touchpoint equals the share
  of converting sessions that visit it (the fitted chain reproduces the observed
  visit counts per session), whose expectation is ``p_detractor``;
* ``realised_p_detractor``, ``realised_p_other``, ``realised_lift``: the same from
  the draws (the share of the role's detractor / other answers whose session ends at
  the touchpoint): what an exact method recovers from these data;
* ``n_events``, ``n_sessions``, ``n_pre_answer_sessions``, ``n_planted_visits``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.datasets._draws import _poisson_times, _str
from hxmetrics.datasets._model import Organisation
from hxmetrics.errors import ParameterError
from hxmetrics.tables import ROLE_OF_SILO, SILO_OF_ROLE

__all__ = ["JOURNEY_TOUCHPOINTS", "add_journeys"]

#: Touchpoints of background sessions per role (the planted and support touchpoints
#: come only in pre-answer sessions).
JOURNEY_TOUCHPOINTS: dict[str, tuple[str, ...]] = {
    "customer": ("app", "web", "store"),
    "worker": ("onboarding", "shift_app", "intranet"),
    "partner": ("partner_portal", "partner_app"),
}
_SUPPORT = {"customer": "help_desk", "worker": "hr_desk", "partner": "partner_desk"}
_SESSIONS_PER_YEAR = {"customer": 3.0, "worker": 4.0, "partner": 4.0}
_DAY = 86_400
_YEAR = 365.25 * _DAY
_WINDOW_HOURS = 48


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ParameterError(
            f"random_state must be an int or a numpy Generator; got {random_state!r}."
        )
    return np.random.default_rng([int(random_state), 15_000])


def _probability(name: str, value: Any) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a probability in [0, 1]; got {value!r}.") from None
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"{name} must be a probability in [0, 1]; got {value!r}.")
    return p


def _seconds(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    values = pd.to_datetime(times).to_numpy(dtype="datetime64[ns]")
    out: np.ndarray = (values - origin.to_datetime64()).astype("timedelta64[s]").astype(np.int64)
    return out


def _steps(
    rng: np.random.Generator, n_sessions: int, mean_extra: float
) -> tuple[np.ndarray, np.ndarray]:
    """Session index of each step and its position in the session."""
    length = 1 + rng.poisson(mean_extra, n_sessions)
    session = np.repeat(np.arange(n_sessions), length)
    first = np.cumsum(length) - length
    position = np.arange(len(session)) - first[session]
    return session, position


def _offsets(rng: np.random.Generator, position: np.ndarray) -> np.ndarray:
    """Seconds from a session's first step to each step, 1-10 minutes between steps
    (steps sorted by session, positions 0, 1, ... within each)."""
    gaps = np.where(position > 0, rng.integers(60, 601, len(position)), 0)
    total = np.cumsum(gaps)
    first = np.arange(len(position)) - position
    out: np.ndarray = total - total[first]
    return out


def _draw(rng: np.random.Generator, names: tuple[str, ...], size: int) -> np.ndarray:
    return np.asarray(names, dtype=object)[rng.integers(0, len(names), size)]


def _background(
    org: Organisation, rng: np.random.Generator, rates: Mapping[str, float]
) -> pd.DataFrame:
    """Background sessions: one row per session (silo, source_id, start second, role)."""
    origin, span = org.start, _seconds(pd.Series([org.end]), org.start)[0]
    parts = []
    for silo, role in ROLE_OF_SILO.items():
        roster = getattr(org, silo)
        a = np.clip(_seconds(roster["start"], origin), 0, span)
        end = roster["end"]
        b = np.where(
            end.isna().to_numpy(), span, np.clip(_seconds(end.fillna(org.end), origin), 0, span)
        )
        ep, ts = _poisson_times(rng, a, np.maximum(a, b), np.full(len(a), float(rates[role])))
        ids = roster[f"{role}_id"].to_numpy(dtype=object)
        parts.append(pd.DataFrame({"silo": silo, "source_id": ids[ep], "start": ts, "role": role}))
    return pd.concat(parts, ignore_index=True)


def _quiet(sessions: pd.DataFrame, answers: pd.DataFrame, quiet: int) -> np.ndarray:
    """Whether each background session starts within ``quiet`` seconds before (or an
    hour after) an answer of the same record: the sort-merge of starts and answers."""
    keys = pd.concat([sessions[["silo", "source_id"]], answers[["silo", "source_id"]]])
    codes = pd.MultiIndex.from_frame(keys.astype(str)).factorize()[0] if len(keys) else np.zeros(0)
    codes = np.asarray(codes, dtype=np.int64)
    n_s = len(sessions)
    record = codes
    t = np.r_[sessions["start"].to_numpy(np.int64), answers["second"].to_numpy(np.int64)]
    is_answer = np.r_[np.zeros(n_s, bool), np.ones(len(answers), bool)]
    # Next answer at or after each start (descending scan), and the last one before it.
    order = np.lexsort((~is_answer, t, record))
    pos = np.arange(len(order))
    ans_pos = np.where(is_answer[order], pos, len(order))
    nxt = np.minimum.accumulate(ans_pos[::-1])[::-1]
    prev = np.maximum.accumulate(np.where(is_answer[order], pos, -1))
    sorted_t, sorted_r = t[order], record[order]
    ok_next = nxt < len(order)
    nxt_c = np.minimum(nxt, len(order) - 1)
    near_next = ok_next & (sorted_r[nxt_c] == sorted_r) & (sorted_t[nxt_c] - sorted_t <= quiet)
    prev_c = np.maximum(prev, 0)
    near_prev = (prev >= 0) & (sorted_r[prev_c] == sorted_r) & (sorted_t - sorted_t[prev_c] <= 3600)
    drop = np.zeros(len(order), bool)
    drop[order] = near_next | near_prev
    out: np.ndarray = drop[:n_s]
    return out


def add_journeys(
    org: Organisation,
    *,
    random_state: int | np.random.Generator,
    role: str = "customer",
    touchpoint: str = "help_desk",
    p_detractor: float = 0.7,
    p_other: float = 0.1,
    sessions_per_year: Mapping[str, float] | None = None,
    quiet_days: float = 3.0,
) -> Organisation:
    """Add multi-touchpoint journeys as events, with a planted detractor touchpoint.

    Parameters
    ----------
    org : Organisation
        From :func:`~hxmetrics.datasets.simulate_organisation` (with or without the
        other optional steps). Not changed.
    random_state : int or numpy.random.Generator
        Seed; the same seed and organisation give the same events.
    role : {"customer", "worker", "partner"}, default "customer"
        The role whose pre-answer sessions carry the planted touchpoint.
    touchpoint : str, default "help_desk"
        The planted touchpoint's name (not one of the background touchpoints).
    p_detractor, p_other : float, default 0.7 and 0.1
        Probability that a pre-answer session of the role ends at ``touchpoint`` when
        the answer is a detractor, and when it is not.
    sessions_per_year : mapping, optional
        Background sessions per year in each role (default customer 3, worker 4,
        partner 4).
    quiet_days : float, default 3
        No background session starts within this many days before an answer of the
        same record (nor within an hour after).

    Returns
    -------
    Organisation
        A copy whose ``events`` has the journeys' events added (``event_id``
        ``J0000001``, ...; ``event_type`` ``"journey_step"``; sorted by time) and whose
        ``truth.planted["journeys"]`` says what was planted (see the module notes).

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = add_journeys(simulate_organisation(n_people=300, random_state=1), random_state=2)
    >>> org.truth.planted["journeys"]["touchpoint"]
    'help_desk'
    >>> bool((org.events["event_type"] == "journey_step").any())
    True
    """
    rng = _rng(random_state)
    if role not in SILO_OF_ROLE:
        raise ParameterError(f"role must be one of {list(SILO_OF_ROLE)}; got {role!r}.")
    background_names = {t for names in JOURNEY_TOUCHPOINTS.values() for t in names}
    if not isinstance(touchpoint, str) or not touchpoint or touchpoint in background_names:
        raise ParameterError(
            f"touchpoint must be a new name, not one of the background touchpoints "
            f"{sorted(background_names)}; got {touchpoint!r}."
        )
    p1 = _probability("p_detractor", p_detractor)
    p0 = _probability("p_other", p_other)
    rates = {**_SESSIONS_PER_YEAR, **dict(sessions_per_year or {})}
    for r, v in rates.items():
        if r not in SILO_OF_ROLE or not (float(v) >= 0 and np.isfinite(float(v))):
            raise ParameterError(
                f"sessions_per_year must map roles to rates >= 0; got {r!r}: {v!r}."
            )
    if not (np.isfinite(quiet_days) and quiet_days >= _WINDOW_HOURS / 24):
        raise ParameterError(f"quiet_days must be at least 2 (the window); got {quiet_days!r}.")

    origin, span = org.start, int(_seconds(pd.Series([org.end]), org.start)[0])
    resp = org.responses
    sel = (
        (resp["instrument"] == "nps").to_numpy()
        & (resp["item"] == "ltr").to_numpy()
        & resp["score"].notna().to_numpy()
        & resp["silo"].isin(list(ROLE_OF_SILO)).to_numpy()
    )
    answers = pd.DataFrame(
        {
            "silo": resp["silo"].to_numpy(dtype=object)[sel],
            "source_id": resp["source_id"].to_numpy(dtype=object)[sel],
            "second": _seconds(resp["timestamp"][sel], origin),
            "detractor": resp["score"].to_numpy(dtype=float)[sel] <= 6,
        }
    )
    answers["role"] = answers["silo"].map(ROLE_OF_SILO).to_numpy(dtype=object)

    # Pre-answer sessions: regular steps, then maybe the support (or planted) touchpoint.
    n_a = len(answers)
    a_role = answers["role"].to_numpy(dtype=object)
    planted_role = a_role == role
    p_end = np.where(planted_role, np.where(answers["detractor"].to_numpy(), p1, p0), p0)
    ends_at_support = rng.random(n_a) < p_end
    session, position = _steps(rng, n_a, 0.5)
    tp = np.empty(len(session), dtype=object)
    for r, names in JOURNEY_TOUCHPOINTS.items():
        at = a_role[session] == r
        tp[at] = _draw(rng, names, int(at.sum()))
    # The support step is appended after the regular ones.
    sup = np.flatnonzero(ends_at_support)
    session = np.r_[session, sup]
    position = np.r_[position, np.bincount(session[: len(tp)], minlength=n_a)[sup]]
    support_names = np.array(
        [touchpoint if r == role else _SUPPORT[r] for r in a_role[sup]], dtype=object
    )
    tp = np.r_[tp, support_names]
    order = np.lexsort((position, session))
    session, position, tp = session[order], position[order], tp[order]
    offset = _offsets(rng, position)
    last_offset = np.zeros(n_a, dtype=np.int64)
    last_offset[session] = offset  # sorted: the last write per session is its last step
    lead = rng.integers(3600, 47 * 3600 + 1, n_a)
    begin = answers["second"].to_numpy(np.int64) - lead - last_offset
    pre = pd.DataFrame(
        {
            "silo": answers["silo"].to_numpy(dtype=object)[session],
            "source_id": answers["source_id"].to_numpy(dtype=object)[session],
            "second": begin[session] + offset,
            "touchpoint": tp,
        }
    )
    pre_keep = (pre["second"] >= 0).to_numpy() & (pre["second"] < span).to_numpy()

    # Background sessions, away from the answers.
    starts = _background(org, rng, rates)
    quiet = round(float(quiet_days) * _DAY)
    starts = starts.loc[~_quiet(starts, answers, quiet)].reset_index(drop=True)
    b_session, b_position = _steps(rng, len(starts), 1.5)
    b_role = starts["role"].to_numpy(dtype=object)[b_session]
    b_tp = np.empty(len(b_session), dtype=object)
    for r, names in JOURNEY_TOUCHPOINTS.items():
        at = b_role == r
        b_tp[at] = _draw(rng, names, int(at.sum()))
    b_offset = _offsets(rng, b_position)
    back = pd.DataFrame(
        {
            "silo": starts["silo"].to_numpy(dtype=object)[b_session],
            "source_id": starts["source_id"].to_numpy(dtype=object)[b_session],
            "second": starts["start"].to_numpy(np.int64)[b_session] + b_offset,
            "touchpoint": b_tp,
        }
    )
    back_keep = (back["second"] < span).to_numpy()

    new = pd.concat([pre.loc[pre_keep], back.loc[back_keep]], ignore_index=True)
    new = new.sort_values("second", kind="stable").reset_index(drop=True)
    width = max(7, len(str(len(new))))
    ids = np.char.add("J", np.char.zfill(np.arange(1, len(new) + 1).astype(str), width))
    added = pd.DataFrame(
        {
            "event_id": _str(ids.astype(object)),
            "silo": _str(new["silo"]),
            "source_id": _str(new["source_id"]),
            "timestamp": (
                origin.to_datetime64() + new["second"].to_numpy(np.int64).astype("timedelta64[s]")
            ).astype("datetime64[ns]"),
            "event_type": _str(np.full(len(new), "journey_step", dtype=object)),
            "touchpoint": _str(new["touchpoint"]),
        }
    )
    old = org.events
    if "touchpoint" not in old.columns:
        old = old.assign(touchpoint=pd.Series(pd.NA, index=old.index, dtype="str"))
    events = pd.concat([old, added], ignore_index=True)
    events = events.sort_values("timestamp", kind="stable").reset_index(drop=True)

    kept_session = np.zeros(n_a, bool)
    kept_session[session[pre_keep]] = True
    in_role = planted_role & kept_session
    d = float(answers["detractor"].to_numpy()[in_role].mean()) if in_role.any() else float("nan")
    lift = _expected_lift(d, p1, p0)
    det = answers["detractor"].to_numpy()
    with np.errstate(invalid="ignore"):
        real_p1 = float(ends_at_support[in_role & det].mean()) if (in_role & det).any() else np.nan
        real_p0 = (
            float(ends_at_support[in_role & ~det].mean()) if (in_role & ~det).any() else np.nan
        )
    planted = {
        "touchpoint": touchpoint,
        "role": role,
        "p_detractor": p1,
        "p_other": p0,
        "window_hours": _WINDOW_HOURS,
        "detractor_share": d,
        "expected_lift": lift,
        "expected_removal_effect": p1,
        "realised_p_detractor": real_p1,
        "realised_p_other": real_p0,
        "realised_lift": _expected_lift(d, real_p1, real_p0),
        "n_events": len(added),
        "n_sessions": int(kept_session.sum()) + len(starts),
        "n_pre_answer_sessions": int(kept_session.sum()),
        "n_planted_visits": int(((pre["touchpoint"] == touchpoint).to_numpy() & pre_keep).sum()),
        "sessions_per_year": {k: float(v) for k, v in rates.items()},
        "quiet_days": float(quiet_days),
    }
    truth = dataclasses.replace(org.truth, planted={**org.truth.planted, "journeys": planted})
    return dataclasses.replace(org, events=events, truth=truth)


def _expected_lift(d: float, p1: float, p0: float) -> float:
    """P(detractor | visited) / P(detractor | not) by Bayes' rule."""
    visited = d * p1 + (1 - d) * p0
    not_visited = d * (1 - p1) + (1 - d) * (1 - p0)
    if visited <= 0 or not_visited <= 0 or (1 - p1) <= 0:
        return float("nan")
    return float((p1 / visited) / ((1 - p1) / not_visited))
