"""Behaviour signals for every role: recency, frequency, tenure, trend and churn.

:func:`behaviour_profile` turns attributed activity (the ``events`` and
``transactions`` exhaust tables after :func:`hxmetrics.stakeholders.attribute`, or any
frames with ``person_id``, ``role`` and ``timestamp``) into one row per person and
role, as of a date. A hybrid person (a worker who also buys) gets one row per role:
the ``role`` of an activity is the door it came through (its silo's role, the
``role`` column that attribution adds). The rows carry ``person_id`` and ``role``
only (no silo ids, names or emails), so they join to any other per-person table on
``person_id``.

Definitions (``as_of`` = the cut-off; a period is ``period`` long in days: ``D`` 1,
``W`` 7, ``M`` 365.25/12, ``Q`` 365.25/4, ``Y`` 365.25, as in
:mod:`hxmetrics.measures.tenure`):

* an **activity** is a row of ``events`` or of ``transactions`` at or before
  ``as_of``; nothing after ``as_of`` is read (rows after it are counted and left out);
* ``recency_days``: days from the last activity to ``as_of``;
* ``frequency``: activities in the window, the ``window`` periods ending at
  ``as_of``: ``(as_of - window * period, as_of]``;
* ``activity_trend``: the least-squares slope of the activity counts of those
  ``window`` periods against the period number (oldest 0, newest ``window - 1``), in
  activities per period per period. The periods are of equal length counted back
  from ``as_of`` (a calendar month would leave the last one partial). A person who
  started during the window has zero counts before the start, so a newcomer's trend
  is positive: read it with ``tenure_days``;
* ``tenure_days``: with ``episodes`` (a
  :class:`~hxmetrics.stakeholders.StakeholderRegistry` or its episodes table), days
  from the start of the person's latest episode in the role that started by
  ``as_of`` to the earlier of its end and ``as_of`` (``tenure_from =
  "episode_start"``); without an episode, days since the first activity
  (``tenure_from = "first_activity"``). ``in_role``: the episode holds at ``as_of``
  (episodes are half-open, ``[start, end)``); missing without an episode;
* churn, by role:

  - customers: ``p_alive``, the probability that the customer is still "alive" at
    ``as_of`` given their purchase history, from a repeat-buying model
    (:class:`~hxmetrics.measures.clv.BetaGeo` by default, BG/NBD of Fader, Hardie &
    Lee 2005, Eq. 11) on the customer transactions summarised by
    :func:`~hxmetrics.measures.clv.rfm_summary` in ``unit`` (``observation_end =
    as_of``). The model is fitted here unless a fitted one is given; the number is
    the model's own ``probability_alive`` for that summary. Customers without a
    transaction have none (missing, counted);
  - workers and partners: ``leave_hazard``, the probability of leaving within the
    next period given the tenure so far, ``h(t) = 1 - S(t + period) / S(t)``, with S
    the Kaplan-Meier curve of the role's episodes censored at ``as_of``
    (:func:`~hxmetrics.measures.tenure.retention_curve`; Kaplan & Meier 1958) and
    ``t`` the person's ``tenure_days``. Missing for a person no longer in the role
    at ``as_of``, and where ``t + period`` is past the curve's last time (beyond
    follow-up the curve is unknown, as R's ``summary(survfit, extend = FALSE)``).
    With ``observed_from`` (rosters that hold only the episodes running on or after
    a date), episodes started earlier join the risk set at their tenure on that date
    (delayed entry; Klein & Moeschberger 2003, Sec. 4.6): without it the survivors of
    older cohorts, whose early leavers are missing, make the hazard too low.

:func:`behaviour_summary` summarises a profile per role (or any of its columns): the
mean of each signal with a t interval and the median with the distribution-free
order-statistic interval, through
:func:`~hxmetrics.measures._result.grouped_result` (small groups suppressed).

Input frames may be any frame narwhals reads; they are converted to pandas at the
door (:func:`hxmetrics.tables.as_pandas`) and the computation is numpy and pandas,
vectorised over rows and persons (one ``groupby`` or ``bincount`` per quantity; loops
run only over the two input tables, the roles and the signals).

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy
way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
observations. *JASA* 53, 457-481. Klein, J. P. & Moeschberger, M. L. (2003).
*Survival Analysis*, 2nd ed., Springer, Sec. 4.6. Conover, W. J. (1999). *Practical Nonparametric
Statistics*, 3rd ed., Wiley, Sec. 3.2 (confidence interval for a quantile).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import (
    HxWarning,
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._inference import check_confidence, t_interval
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.clv import BetaGeo, rfm_summary
from hxmetrics.measures.clv._base import RepeatBuyingModel, check_unit
from hxmetrics.measures.tenure import UNIT_DAYS, _as_date, retention_curve
from hxmetrics.privacy import check_group_columns
from hxmetrics.tables import ROLE_OF_SILO, ROLES, as_pandas

__all__ = ["SIGNALS", "behaviour_profile", "behaviour_summary"]

#: The numeric signals of a profile, in column order (what :func:`behaviour_summary`
#: summarises by default).
SIGNALS = (
    "recency_days",
    "frequency",
    "activity_trend",
    "tenure_days",
    "p_alive",
    "leave_hazard",
)
#: Roles whose churn signal is the tenure hazard (customers get P(alive)).
HAZARD_ROLES = ("worker", "partner")
STATISTICS = ("mean", "median")

_COLUMNS = ("person_id", "role", "timestamp")
_NS_PER_DAY = 86_400 * 10**9
_EXAMPLE = "e.g. as_of='2025-12-31'"


@dataclass(frozen=True)
class _Rows:
    """The kept rows of one input table, as arrays."""

    table: str
    person: pd.Series  # ids of the kept rows (the table's dtype)
    role: np.ndarray  # index into ROLES
    ns: np.ndarray  # naive local time, int64 nanoseconds
    by: pd.DataFrame  # the by columns of the kept rows
    excluded: dict[str, int]


# --------------------------------------------------------------------------- input


def _roles_asked(role: str | Sequence[str] | None) -> tuple[str, ...]:
    if role is None:
        return tuple(ROLES)
    asked = [role] if isinstance(role, str) else list(role)
    out = []
    for r in asked:
        name = ROLE_OF_SILO.get(r, r) if isinstance(r, str) else r
        if name not in ROLES:
            raise ParameterError(
                f"role must be one of {list(ROLES)} (or a silo name); got {r!r}."
                + did_you_mean(str(r), list(ROLES))
            )
        out.append(str(name))
    return tuple(dict.fromkeys(out))


def _by_columns(by: str | Sequence[str] | None) -> list[str]:
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    # The profile has one row per person already: an identifier carried beside
    # person_id would put an email or a silo id in the output.
    check_group_columns(cols)
    for c in cols:
        if not isinstance(c, str):
            raise ParameterError(f"by must name columns; got {type(c).__name__} {c!r}.")
        if c in _COLUMNS or c in SIGNALS or c in ("n_activities", "tenure_from", "in_role"):
            raise ParameterError(
                f"by={c!r} is a column of the profile itself; by names extra columns to "
                "carry (e.g. 'hybrid_type')."
            )
    if len(set(cols)) != len(cols):
        raise ParameterError(f"by names a column twice: {cols}.")
    return cols


def _local_cutoff(cutoff: pd.Timestamp, zone: Any, table: str) -> pd.Timestamp:
    """``as_of`` as local wall time of a time column in ``zone`` (None: naive)."""
    if zone is None:
        if cutoff.tzinfo is not None:
            raise ParameterError(
                f"as_of ({cutoff}) has a time zone but the times of {table} have none: "
                f"compare like with like, e.g. as_of='{cutoff.tz_localize(None)}'."
            )
        return cutoff
    return cutoff.tz_convert(zone).tz_localize(None) if cutoff.tzinfo is not None else cutoff


def _wall_ns(
    values: pd.Series, cutoff: pd.Timestamp, *, table: str, column: str
) -> tuple[np.ndarray, np.ndarray, pd.Timestamp]:
    """Naive local times as int64 ns, the missing mask, and ``as_of`` on that clock.

    Times with a time zone are read as local wall-clock time in their zone, as
    :func:`~hxmetrics.measures.clv.rfm_summary` reads them.
    """
    dtype = values.dtype
    zone = getattr(dtype, "tz", None)
    if zone is None and getattr(dtype, "kind", "") == "M" and not isinstance(dtype, np.dtype):
        values = pd.to_datetime(values)  # an Arrow timestamp or date: to numpy's
        dtype = values.dtype
        zone = getattr(dtype, "tz", None)
    if zone is not None:
        values = values.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(dtype):
        raise InputTableError(
            f"{table}: column {column!r} must hold timestamps (datetime); got {dtype}. "
            "Hint: parse it first, e.g. pd.to_datetime(df[column]).",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": [column],
                    "check": ["datetime"],
                    "failure_case": [str(dtype)],
                    "index": [None],
                }
            ),
        )
    missing = values.isna().to_numpy()
    ns = values.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return ns, missing, _local_cutoff(cutoff, zone, table)


def _role_codes(values: pd.Series, table: str) -> np.ndarray:
    """Index of each row's role in ROLES (silo names read as roles); -1 where missing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = [ROLE_OF_SILO.get(u, u) if isinstance(u, str) else u for u in np.asarray(uniques)]
    bad = [i for i, u in enumerate(names) if u not in ROLES]
    if bad:
        rows = np.flatnonzero(np.isin(codes, bad))[:5]
        raise InputTableError(
            f"{table}: column 'role' holds {len(np.flatnonzero(np.isin(codes, bad)))} row(s) "
            f"with a value that is not a role ({list(ROLES)}), e.g. at row position(s) "
            f"{rows.tolist()}. Hint: attribute the rows first "
            "(hxmetrics.stakeholders.attribute), which adds the role.",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": "role",
                    "check": f"isin({list(ROLES)})",
                    "failure_case": [str(values.iloc[i]) for i in rows],
                    "index": rows.tolist(),
                }
            ),
        )
    lookup = np.array([*(ROLES.index(u) for u in names), -1], dtype=np.int64)
    return lookup[codes]


def _read(
    data: Any, table: str, cutoff: pd.Timestamp, roles: tuple[str, ...], by: list[str]
) -> tuple[_Rows, pd.Timestamp]:
    frame = as_pandas(data, table=table)
    check_columns(frame.columns, [*_COLUMNS, *by], table=table)
    ns, no_time, cut = _wall_ns(frame["timestamp"], cutoff, table=table, column="timestamp")
    no_person = frame["person_id"].isna().to_numpy()
    role = _role_codes(frame["role"], table)
    no_role = role < 0
    wanted = np.isin(role, [ROLES.index(r) for r in roles])
    cut_ns = cut.as_unit("ns").value
    reasons = [
        ("missing_person", no_person),
        ("missing_role", no_role),
        ("missing_time", no_time),
        ("other_roles", ~wanted),
        ("after_as_of", ns > cut_ns),
    ]
    out = np.zeros(len(frame), dtype=bool)
    excluded: dict[str, int] = {}
    for reason, mask in reasons:
        new = mask & ~out
        excluded[f"{table}_{reason}"] = int(new.sum())
        out |= new
    keep = ~out
    rows = _Rows(
        table=table,
        person=frame["person_id"][keep].reset_index(drop=True),
        role=role[keep],
        ns=ns[keep],
        by=frame.loc[keep, by].reset_index(drop=True),
        excluded=excluded,
    )
    return rows, cut


def _episodes(episodes: Any) -> pd.DataFrame:
    """The episodes table of a registry, or the given table, merged (one per time)."""
    from hxmetrics.stakeholders import StakeholderRegistry, merge_episodes

    if isinstance(episodes, StakeholderRegistry):
        return episodes.episodes  # already merged
    frame = as_pandas(episodes, table="episodes")
    check_columns(frame.columns, ["person_id", "role", "start", "end"], table="episodes")
    if "engagement" not in frame.columns:
        frame = frame.assign(engagement="unknown")
    # Overlapping episodes of a role are one spell (the rule of merge_episodes): the
    # latest start must not be a concurrent second contract inside a longer one.
    return merge_episodes(frame)


# --------------------------------------------------------------------------- signals


def _hazard(
    ep: pd.DataFrame,
    cutoff: pd.Timestamp,
    roles: list[str],
    role_of_row: np.ndarray,
    tenure: np.ndarray,
    period_days: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """1 - S(t + period) / S(t) from each role's Kaplan-Meier curve (days)."""
    curve = retention_curve(ep, as_of=cutoff, unit="D", by="role", role=roles)
    out = np.full(len(tenure), np.nan)
    beyond = np.zeros(len(tenure), dtype=bool)
    at_risk: dict[str, int] = {}
    for r in roles:  # one curve per role (two at most)
        mine = curve["role"].astype(str).to_numpy() == r
        times = curve["time"].to_numpy(dtype=float)[mine]
        surv = curve["survival"].to_numpy(dtype=float)[mine]
        at_risk[r] = int(curve["n_at_risk"].to_numpy()[mine][0]) if mine.any() else 0
        rows = np.flatnonzero((role_of_row == ROLES.index(r)) & np.isfinite(tenure))
        if not len(rows) or not len(times):
            continue
        t = tenure[rows]

        def s_at(x: np.ndarray, times: np.ndarray = times, surv: np.ndarray = surv) -> np.ndarray:
            i = np.searchsorted(times, x, side="right") - 1
            return np.where(i >= 0, surv[np.maximum(i, 0)], 1.0)

        now, later = s_at(t), s_at(t + period_days)
        known = (t + period_days <= times[-1]) & (now > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = np.where(known, 1.0 - later / now, np.nan)
        beyond[rows] = ~known
    return out, beyond, at_risk


def _hazard_delayed(
    ep: pd.DataFrame,
    start_ns: np.ndarray,
    end_ns: np.ndarray,
    open_end: np.ndarray,
    cut_ns: int,
    from_ns: int,
    roles: list[str],
    role_of_row: np.ndarray,
    tenure: np.ndarray,
    period_days: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, int], int]:
    """1 - S(t + period) / S(t) from the product-limit estimator with delayed entry.

    An episode started before ``observed_from`` is seen only from its tenure on that
    date (left truncation): it joins the risk set there, not at 0. The estimator is
    Kaplan-Meier's with the risk set at time u counting the episodes with entry < u
    <= duration (Klein & Moeschberger 2003, Sec. 4.6; statsmodels' ``SurvfuncRight``
    with ``entry=``). Episodes that ended by ``observed_from`` were never seen at risk:
    left out and counted. Durations in days, censored at ``as_of`` as
    :func:`~hxmetrics.measures.tenure.retention_curve` censors them.
    """
    role_ep = pd.Index(ROLES).get_indexer(pd.Index(ep["role"].astype(str)))
    started = start_ns <= cut_ns
    observed = ~open_end & (end_ns <= cut_ns)
    stop = np.where(observed, end_ns, cut_ns)
    duration = (stop - start_ns) / _NS_PER_DAY
    entry = np.maximum(from_ns - start_ns, 0) / _NS_PER_DAY
    seen = started & (duration > entry)
    never_seen = int((started & ~seen & np.isin(role_ep, [ROLES.index(r) for r in roles])).sum())
    out = np.full(len(tenure), np.nan)
    beyond = np.zeros(len(tenure), dtype=bool)
    counts: dict[str, int] = {}
    for r in roles:  # one curve per role (two at most)
        mine = seen & (role_ep == ROLES.index(r))
        d, e, a = duration[mine], observed[mine], entry[mine]
        counts[r] = int(mine.sum())
        rows = np.flatnonzero((role_of_row == ROLES.index(r)) & np.isfinite(tenure))
        if not len(rows) or not len(d):
            continue
        times, n_events = np.unique(d[e], return_counts=True)
        # Risk set at u: durations >= u minus entries >= u (entered at or after u).
        sd, sa = np.sort(d), np.sort(a)
        at_risk = (len(sd) - np.searchsorted(sd, times, "left")) - (
            len(sa) - np.searchsorted(sa, times, "left")
        )
        factor = 1.0 - n_events / at_risk
        zero = factor <= 0
        with np.errstate(divide="ignore"):
            log_f = np.where(zero, 0.0, np.log(np.where(zero, 1.0, factor)))
        cum_log = np.r_[0.0, np.cumsum(log_f)]
        cum_zero = np.r_[0, np.cumsum(zero)]
        t = tenure[rows]
        i_now = np.searchsorted(times, t, side="right")
        i_later = np.searchsorted(times, t + period_days, side="right")
        dead_now = cum_zero[i_now] > 0
        survive = np.where(
            cum_zero[i_later] > cum_zero[i_now],
            0.0,
            np.exp(cum_log[i_later] - cum_log[i_now]),
        )
        known = (t + period_days <= d.max()) & ~dead_now
        out[rows] = np.where(known, 1.0 - survive, np.nan)
        beyond[rows] = ~known
    return out, beyond, counts, never_seen


def _check_window(window: Any) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ParameterError(
            f"window must be a whole number of periods >= 2 (a trend needs two); got {window!r}."
        )
    return int(window)


def behaviour_profile(
    events: Any,
    transactions: Any = None,
    *,
    as_of: Any,
    episodes: Any = None,
    by: str | Sequence[str] | None = None,
    role: str | Sequence[str] | None = None,
    period: str = "M",
    window: int = 12,
    model: RepeatBuyingModel | None = None,
    unit: str | None = None,
    observed_from: Any = None,
) -> pd.DataFrame:
    """One row per person and role: recency, frequency, trend, tenure and churn signal.

    Parameters
    ----------
    events : DataFrame or None
        Attributed events: ``person_id``, ``role``, ``timestamp`` (and the ``by``
        columns); pandas, Polars, DuckDB, ... (converted to pandas at the door).
    transactions : DataFrame, optional
        Attributed transactions, the same columns. Customer transactions feed the
        repeat-buying model (``p_alive``); every row is an activity too.
    as_of : timestamp
        The cut-off; required. Nothing after it is read.
    episodes : StakeholderRegistry or DataFrame, optional
        Role episodes (``person_id``, ``role``, ``start``, ``end``; overlapping ones
        are merged): tenure from the episode start, and the Kaplan-Meier curves of the
        tenure hazard. Required when the profile has workers or partners.
    by : str or list of str, optional
        Columns of the inputs to carry into the profile (e.g. ``"hybrid_type"``): the
        value at the person's last activity in the role (ties: the largest value).
    role : str or list, optional
        Keep only these roles (silo names read as roles); other rows are counted.
    period : str, default "M"
        Length of a period (``D``, ``W``, ``M``, ``Q``, ``Y``; ``h`` an hour): of the
        trend's periods, the window and the hazard's horizon.
    window : int, default 12
        Periods in the window of ``frequency`` and ``activity_trend`` (>= 2).
    model : RepeatBuyingModel, optional
        A fitted repeat-buying model (BetaGeo, ModifiedBetaGeo, ParetoNBD) to use
        instead of fitting BG/NBD on the transactions.
    unit : str, optional
        Time unit of the repeat-buying model (``"W"`` by default; the model's own
        when ``model`` is given, and it must agree).
    observed_from : timestamp, optional
        The date from which the episodes are observed, when the rosters hold only the
        episodes running on or after it (a roster extract, the simulator's window):
        an episode that started earlier joins the hazard's risk set at its tenure on
        that date (delayed entry; without it, the long-serving survivors of earlier
        cohorts, with none of their early leavers, make the hazard too low). Default:
        the rosters hold every episode ever, and the hazard is the plain
        Kaplan-Meier curve of :func:`~hxmetrics.measures.tenure.retention_curve`.

    Returns
    -------
    pandas.DataFrame
        Sorted by role (customer, worker, partner) and person: ``person_id``,
        ``role``, the ``by`` columns, ``recency_days``, ``frequency`` (Int64),
        ``n_activities`` (Int64: every activity on or before ``as_of``; with the rows
        left out they add up to the input rows), ``activity_trend``, ``tenure_days``,
        ``tenure_from`` (``"episode_start"`` or ``"first_activity"``), ``in_role``
        (boolean, missing without an episode),
        ``p_alive`` (customers) and ``leave_hazard`` (workers and partners); NaN
        where a signal does not apply or cannot be computed. ``attrs["hxmetrics"]``:
        ``measure``, ``as_of``, ``period``, ``period_days``, ``window``, the
        definitions (``trend``, ``tenure``, ``churn``), the repeat-buying model
        (``model``, ``unit``, ``params``), ``excluded`` (rows left out, by table and
        reason) and ``missing`` (rows without a signal, by reason).

    Raises
    ------
    InputTableError
        A missing column, times that are not timestamps, a role that is not one.
    ParameterError
        ``as_of`` missing or before every activity; workers or partners without
        episodes (none given, or none of that role); a model unit that disagrees.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.behaviour import behaviour_profile
    >>> ev = pd.DataFrame({"person_id": ["a", "a", "b", "b", "b"],
    ...     "role": ["worker"] * 5,
    ...     "timestamp": pd.to_datetime(["2024-10-05", "2024-12-20", "2024-09-01",
    ...                                  "2024-11-15", "2024-12-30"])})
    >>> ep = pd.DataFrame({"person_id": ["a", "b", "c"], "role": "worker",
    ...     "start": pd.to_datetime(["2023-01-01", "2024-07-01", "2022-01-01"]),
    ...     "end": pd.to_datetime([None, None, "2024-03-01"])})
    >>> out = behaviour_profile(ev, as_of="2024-12-31", episodes=ep, period="M", window=6)
    >>> out[["person_id", "recency_days", "frequency", "tenure_days", "tenure_from"]]
      person_id  recency_days  frequency  tenure_days    tenure_from
    0         a          11.0          2        730.0  episode_start
    1         b           1.0          3        183.0  episode_start
    """
    cutoff = _as_date(as_of, example=_EXAMPLE)
    check_choice("period", period, list(UNIT_DAYS))
    window = _check_window(window)
    roles = _roles_asked(role)
    by_cols = _by_columns(by)
    if model is not None and not isinstance(model, RepeatBuyingModel):
        raise ParameterError(
            "model must be a fitted repeat-buying model (BetaGeo, ModifiedBetaGeo, "
            f"ParetoNBD); got {type(model).__name__}."
        )
    if model is not None:
        model._check_fitted()
        if unit is not None and check_unit(unit) != model.unit_:
            raise ParameterError(
                f"unit={unit!r} disagrees with the model's unit {model.unit_!r}; times "
                "are never rescaled silently."
            )
        clv_unit = str(model.unit_)
    else:
        clv_unit = check_unit("W" if unit is None else unit)
    given = [
        (t, d) for t, d in (("events", events), ("transactions", transactions)) if d is not None
    ]
    if not given:
        raise ParameterError("behaviour_profile needs events or transactions (or both).")
    parts = [_read(d, t, cutoff, roles, by_cols) for t, d in given]
    rows = [p for p, _ in parts]
    cuts = {r.table: c for r, (_, c) in zip(rows, parts, strict=True)}
    excluded: dict[str, int] = {k: v for r in rows for k, v in r.excluded.items()}
    if sum(len(r.ns) for r in rows) == 0:
        later = sum(r.excluded[f"{r.table}_after_as_of"] for r in rows)
        hint = (
            f"as_of is before all the data ({later} row(s) after it): pick a later as_of"
            if later
            else "no row is left to profile"
        )
        raise ParameterError(
            f"behaviour_profile: no activity of the roles {list(roles)} on or before as_of "
            f"({cutoff}); {hint}. Rows left out, by reason: {excluded}."
        )
    # One clock for all: the cut-off of the first table (the same unless the tables
    # carry different time zones, when each table's rows were cut on its own clock).
    cut = cuts[rows[0].table]
    cut_ns = cut.as_unit("ns").value

    # Persons across the tables: factorise each, then the distinct ids once.
    p_codes, p_uniques = [], []
    for r in rows:
        codes, uniq = pd.factorize(r.person)
        p_codes.append(codes)
        p_uniques.append(np.asarray(uniq, dtype=object))
    all_codes, persons = pd.factorize(np.concatenate(p_uniques))
    offsets = np.cumsum([0, *(len(u) for u in p_uniques)])
    person = np.concatenate([all_codes[offsets[i] + c] for i, c in enumerate(p_codes)]).astype(
        np.int64
    )
    role_code = np.concatenate([r.role for r in rows])
    ns = np.concatenate([r.ns for r in rows])
    source = np.repeat(np.arange(len(rows)), [len(r.ns) for r in rows])
    pair, pair_keys = pd.factorize(person * len(ROLES) + role_code)
    n_pairs = len(pair_keys)
    pair_person = np.asarray(pair_keys) // len(ROLES)
    pair_role = np.asarray(pair_keys) % len(ROLES)

    # Recency, frequency, trend: one pass each over the rows (groupby / bincount).
    span = pd.DataFrame({"g": pair, "t": ns}).groupby("g", sort=True)["t"].agg(["min", "max"])
    first_ns = span["min"].to_numpy()
    last_ns = span["max"].to_numpy()
    period_days = UNIT_DAYS[period]
    period_ns = period_days * _NS_PER_DAY
    age = (cut_ns - ns) / period_ns
    back = np.floor(age).astype(np.int64)
    inside = back < window
    k = (window - 1 - back[inside]).astype(float)
    centre = (window - 1) / 2.0
    sxx = window * (window**2 - 1) / 12.0
    frequency = np.bincount(pair[inside], minlength=n_pairs)
    # The slope of counts on period numbers is linear in the counts: each activity in
    # period k adds (k - mean k) / Sxx (half-integers over Sxx: sums in any order agree).
    trend = np.bincount(pair[inside], weights=(k - centre), minlength=n_pairs) / sxx
    recency = (cut_ns - last_ns) / _NS_PER_DAY

    # Tenure from the episodes (latest start by as_of) or from the first activity.
    tenure = (cut_ns - first_ns) / _NS_PER_DAY
    from_episode = np.zeros(n_pairs, dtype=bool)
    in_role = np.zeros(n_pairs, dtype=bool)
    roles_present = [ROLES[i] for i in sorted(set(pair_role.tolist()))]
    hazard_roles = [r for r in roles_present if r in HAZARD_ROLES]
    missing: dict[str, int] = {}
    ep: pd.DataFrame | None = None
    ep_cut = cut
    if episodes is None and hazard_roles:
        raise ParameterError(
            f"behaviour_profile: the churn signal of {hazard_roles} is the tenure hazard, "
            "estimated from their role episodes: pass episodes= (a StakeholderRegistry or "
            "its .episodes), or role='customer' to profile customers only."
        )
    if episodes is not None:
        ep = _episodes(episodes)
        have = set(ep["role"].astype(str).unique().tolist())
        lacking = [r for r in roles_present if r not in have]
        if lacking:
            raise ParameterError(
                f"behaviour_profile: no episodes of role(s) {lacking} (the episodes have "
                f"{sorted(have) or 'none'}); tenure and the churn signal of a role come "
                "from its episodes: pass the registry the rows were attributed with."
            )
        start_ns, _, ep_cut = _wall_ns(ep["start"], cutoff, table="episodes", column="start")
        start_zone = getattr(ep["start"].dtype, "tz", None)
        end_ns, open_end, _ = _wall_ns(ep["end"], cutoff, table="episodes", column="end")
        ep_cut_ns = ep_cut.as_unit("ns").value
        person_index = pd.Index(np.asarray(persons, dtype=object).astype(str))
        ep_person = person_index.get_indexer(pd.Index(ep["person_id"].astype(str)))
        ep_role = pd.Index(ROLES).get_indexer(pd.Index(ep["role"].astype(str)))
        ok = (ep_person >= 0) & (ep_role >= 0) & (start_ns <= ep_cut_ns)
        ep_pair = pd.Index(np.asarray(pair_keys)).get_indexer(
            ep_person[ok].astype(np.int64) * len(ROLES) + ep_role[ok]
        )
        s_ok, e_ok, o_ok = start_ns[ok], end_ns[ok], open_end[ok]
        has = ep_pair >= 0
        order = np.lexsort((s_ok[has], ep_pair[has]))
        g = ep_pair[has][order]
        last = np.r_[g[1:] != g[:-1], True] if len(g) else np.zeros(0, dtype=bool)
        pick = np.flatnonzero(has)[order][last]
        target = g[last]
        stop = np.where(o_ok[pick], ep_cut_ns, np.minimum(e_ok[pick], ep_cut_ns))
        tenure[target] = (stop - s_ok[pick]) / _NS_PER_DAY
        from_episode[target] = True
        in_role[target] = o_ok[pick] | (e_ok[pick] > ep_cut_ns)
        missing["rows_without_episode"] = int((~from_episode).sum())
    hazard = np.full(n_pairs, np.nan)
    churn_meta: dict[str, Any] = {}
    if hazard_roles and ep is not None:
        eligible = from_episode & in_role
        t_hazard = np.where(eligible, tenure, np.nan)
        if observed_from is None:
            hazard, beyond, at_risk = _hazard(
                ep, ep_cut, hazard_roles, pair_role, t_hazard, period_days
            )
            estimator = "kaplan_meier"
        else:
            from_ts = _local_cutoff(
                _as_date(observed_from, example="e.g. observed_from='2019-01-01'"),
                start_zone,
                "episodes",
            )
            if from_ts > ep_cut:
                raise ParameterError(
                    f"observed_from ({from_ts}) is after as_of ({ep_cut}): nothing would "
                    "be observed."
                )
            hazard, beyond, at_risk, never_seen = _hazard_delayed(
                ep,
                start_ns,
                end_ns,
                open_end,
                ep_cut_ns,
                from_ts.as_unit("ns").value,
                hazard_roles,
                pair_role,
                t_hazard,
                period_days,
            )
            missing["episodes_ended_before_observed_from"] = never_seen
            estimator = "kaplan_meier_delayed_entry"
        is_h = np.isin(pair_role, [ROLES.index(r) for r in hazard_roles])
        missing["hazard_not_in_role_at_as_of"] = int((is_h & from_episode & ~in_role).sum())
        missing["hazard_without_episode"] = int((is_h & ~from_episode).sum())
        missing["hazard_beyond_follow_up"] = int((is_h & eligible & beyond).sum())
        churn_meta["hazard"] = {
            "estimator": estimator,
            "observed_from": None if observed_from is None else str(observed_from),
            "definition": "1 - S(t + period) / S(t), t = tenure_days",
            "horizon_days": period_days,
            "episodes_per_role": at_risk,
        }

    # P(alive) of customers from the repeat-buying model of their transactions.
    p_alive = np.full(n_pairs, np.nan)
    customer = ROLES.index("customer")
    is_customer = pair_role == customer
    if is_customer.any():
        tables = [r.table for r in rows]
        tx_source = tables.index("transactions") if "transactions" in tables else -1
        tx_rows = np.flatnonzero((source == tx_source) & (role_code == customer))
        if len(tx_rows) == 0:
            warnings.warn(
                "behaviour_profile: no customer transactions on or before as_of, so "
                "p_alive (from the repeat-buying model of transactions) is missing for "
                "every customer; pass transactions= to have it.",
                HxWarning,
                stacklevel=2,
            )
        else:
            tx_cut = cuts["transactions"]
            # The summary by person id (not by an internal code): the same rows in the
            # same order as rfm_summary of these transactions gives, so the fit and
            # P(alive) are the model's own numbers for that summary, to the last bit.
            person_values = pd.Index(persons)
            txc = pd.DataFrame(
                {
                    "person_id": person_values.take(person[tx_rows]),
                    "timestamp": ns[tx_rows].view("datetime64[ns]"),
                }
            )
            rfm = rfm_summary(
                txc, customer="person_id", time="timestamp", observation_end=tx_cut, unit=clv_unit
            )
            fitted = model if model is not None else BetaGeo().fit(rfm)
            code = person_values.get_indexer(pd.Index(rfm["person_id"]))
            at = pd.Index(np.asarray(pair_keys)).get_indexer(code * len(ROLES) + customer)
            p_alive[at] = fitted.probability_alive(rfm)
            churn_meta["p_alive"] = {
                "model": type(fitted).__name__,
                "fitted_here": model is None,
                "unit": clv_unit,
                "params": dict(fitted.params_ or {}),
                "customers": len(rfm),
            }
        missing["customers_without_transactions"] = int((is_customer & ~np.isfinite(p_alive)).sum())

    # Rows in a stable order: role (ROLES order), then person id.
    person_values = pd.Index(persons)
    rank = np.empty(len(person_values), dtype=np.int64)
    rank[np.asarray(person_values.argsort())] = np.arange(len(person_values))
    order = np.lexsort((rank[pair_person], pair_role))
    out = pd.DataFrame(
        {
            "person_id": person_values.take(pair_person[order]).to_numpy(),
            "role": pd.array(np.asarray(ROLES, dtype=object)[pair_role[order]], dtype="str"),
        }
    )
    if by_cols:
        out = pd.concat(
            [
                out,
                _carried(rows, pair, ns, source, by_cols, n_pairs)
                .iloc[order]
                .reset_index(drop=True),
            ],
            axis=1,
        )
    out["recency_days"] = recency[order]
    out["frequency"] = pd.array(frequency[order], dtype="Int64")
    out["n_activities"] = pd.array(np.bincount(pair, minlength=n_pairs)[order], dtype="Int64")
    out["activity_trend"] = trend[order]
    out["tenure_days"] = tenure[order]
    out["tenure_from"] = pd.array(
        np.where(from_episode[order], "episode_start", "first_activity"), dtype="str"
    )
    out["in_role"] = pd.array(in_role[order], dtype="boolean")
    if ep is None:
        out["in_role"] = pd.array([pd.NA] * n_pairs, dtype="boolean")
    else:
        out.loc[~from_episode[order], "in_role"] = pd.NA
    out["p_alive"] = p_alive[order]
    out["leave_hazard"] = hazard[order]
    out.attrs["hxmetrics"] = {
        "measure": "behaviour_profile",
        "as_of": str(cutoff),
        "period": period,
        "period_days": period_days,
        "window": window,
        "window_days": window * period_days,
        "by": by_cols,
        "roles": list(roles),
        "activities": [r.table for r in rows],
        "trend": (
            "least-squares slope of the activity counts of the window's periods (equal "
            "periods counted back from as_of) on the period number: activities per "
            "period per period"
        ),
        "tenure": (
            "days from the start of the latest episode of the role started by as_of to "
            "min(end, as_of); without an episode, days since the first activity "
            "(tenure_from says which)"
        ),
        "churn": churn_meta,
        "excluded": excluded,
        "missing": missing,
    }
    return out


def _carried(
    rows: list[_Rows],
    pair: np.ndarray,
    ns: np.ndarray,
    source: np.ndarray,
    by: list[str],
    n_pairs: int,
) -> pd.DataFrame:
    """The ``by`` values at each pair's last activity (ties: the largest value)."""
    values = pd.concat([r.by for r in rows], ignore_index=True)
    frame = values.assign(__g=pair, __t=ns)
    frame = frame.sort_values(["__g", "__t", *by], kind="stable", na_position="first")
    last = frame.drop_duplicates("__g", keep="last").set_index("__g")
    return last.reindex(np.arange(n_pairs))[by].reset_index(drop=True)


# --------------------------------------------------------------------------- summary


def _median_ci(
    sorted_values: np.ndarray, starts: np.ndarray, n: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and its distribution-free interval, per group of sorted values.

    ``[X_(l), X_(n-l+1)]`` with ``l`` the largest rank with ``P(B <= l - 1) <= alpha/2``,
    B ~ Binomial(n, 1/2): coverage at least ``confidence`` for any continuous
    distribution (Conover 1999, Sec. 3.2). NaN where ``n`` is too small (l < 1).
    """
    from scipy import stats  # imported when used: scipy.stats is slow to import

    median = (sorted_values[starts + (n - 1) // 2] + sorted_values[starts + n // 2]) / 2.0
    half = (1.0 - confidence) / 2.0
    q = stats.binom.ppf(half, n, 0.5)
    rank = q + (stats.binom.cdf(q, n, 0.5) <= half)  # 1-based l
    ok = rank >= 1
    lo_i = np.where(ok, starts + rank.astype(np.int64) - 1, starts)
    hi_i = np.where(ok, starts + n - rank.astype(np.int64), starts)
    low = np.where(ok, sorted_values[lo_i], np.nan)
    high = np.where(ok, sorted_values[hi_i], np.nan)
    return median, low, high


def behaviour_summary(
    profile: Any,
    *,
    by: str | Sequence[str] = "role",
    signals: Sequence[str] | None = None,
    statistics: Sequence[str] = STATISTICS,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Per role (and group): mean and median of each behaviour signal with intervals.

    Parameters
    ----------
    profile : DataFrame
        A :func:`behaviour_profile` (or any frame with its signal columns).
    by : str or list of str, default "role"
        Group columns of the profile (``"role"``, ``["role", "hybrid_type"]``, ...).
    signals : list of str, optional
        Signals to summarise; default every one of :data:`SIGNALS`.
    statistics : list of str, default ("mean", "median")
        ``"mean"``: t interval (``mean ± t(n-1) sd / sqrt(n)``); ``"median"``: the
        order-statistic interval (Conover 1999, Sec. 3.2; ``se`` NaN).
    confidence : float, default 0.95
    min_n : int, optional
        Smallest group shown (persons with the signal); smaller groups and their
        complements among the signal's groups are suppressed.

    Returns
    -------
    pandas.DataFrame
        The grouped result, one row per signal, statistic and group: ``measure`` (the
        signal), group columns, ``n`` (rows with the signal), ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``statistic``, ``n_excluded_no_value`` (rows of the
        group without the signal: missing, or not the role's signal), ``suppressed``;
        sorted by group, then signal and statistic in the order asked. A group in
        which no row has the signal (``p_alive`` of workers) has no row; if no row has
        any of them, the result is empty (the same columns).
        ``attrs["hxmetrics"]`` adds ``measures`` (the signals shown), ``signals``,
        ``statistics``, ``excluded_by_signal`` and the profile's ``as_of``.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.behaviour import behaviour_summary
    >>> prof = pd.DataFrame({"person_id": list("abcdef"), "role": ["worker"] * 6,
    ...     "recency_days": [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]})
    >>> out = behaviour_summary(prof, signals=["recency_days"], statistics=["median"])
    >>> out[["measure", "role", "n", "estimate", "ci_low", "ci_high"]]
            measure    role  n  estimate  ci_low  ci_high
    0  recency_days  worker  6       6.0     1.0     11.0
    """
    frame = as_pandas(profile, table="profile")
    confidence = check_confidence(confidence)
    cols = [by] if isinstance(by, str) else list(by)
    chosen = list(SIGNALS) if signals is None else list(signals)
    if signals is None:
        chosen = [s for s in chosen if s in frame.columns]
    stats_asked = list(statistics)
    for s in stats_asked:
        check_choice("statistics", s, STATISTICS)
    if not stats_asked:
        raise ParameterError("statistics must name at least one of 'mean', 'median'.")
    check_columns(frame.columns, [*cols, *chosen], table="profile")
    if not chosen:
        raise ParameterError(f"the profile has none of the signals {list(SIGNALS)}.")
    if cols:
        group = frame.groupby(cols, sort=True, dropna=False, observed=True).ngroup().to_numpy()
        keys_all = (
            frame[cols].assign(__g=group).drop_duplicates("__g").sort_values("__g")[cols]
        ).reset_index(drop=True)
    else:
        group = np.zeros(len(frame), dtype=np.int64)
        keys_all = pd.DataFrame(index=range(1 if len(frame) else 0))
    n_groups = len(keys_all)
    rows_per_group = np.bincount(group, minlength=n_groups)
    parts = []
    part_groups: list[np.ndarray] = []
    totals: dict[str, int] = {}
    for signal in chosen:  # one pass per signal (a handful), vectorised over persons
        try:
            values = pd.to_numeric(frame[signal], errors="raise").to_numpy(
                dtype=float, na_value=np.nan
            )
        except (TypeError, ValueError) as exc:
            raise InputTableError(
                f"profile: column {signal!r} must be numeric; got {frame[signal].dtype}.",
                table="profile",
                failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
            ) from exc
        ok = np.isfinite(values)
        g, v = group[ok], values[ok]
        n = np.bincount(g, minlength=n_groups)
        shown = np.flatnonzero(n > 0)
        if not len(shown):
            continue
        keys = keys_all.iloc[shown].reset_index(drop=True)
        ns_ = n[shown]
        no_value = (rows_per_group - n)[shown]
        order = np.lexsort((v, g))
        sv = v[order]
        starts = np.r_[0, np.cumsum(n)[:-1]][shown]
        for stat in stats_asked:
            if stat == "mean":
                total = np.bincount(g, weights=v, minlength=n_groups)[shown]
                mean = total / ns_
                dev = v - (np.bincount(g, weights=v, minlength=n_groups) / np.maximum(n, 1))[g]
                ss = np.bincount(g, weights=dev * dev, minlength=n_groups)[shown]
                with np.errstate(invalid="ignore", divide="ignore"):
                    se = np.where(ns_ > 1, np.sqrt(ss / np.maximum(ns_ - 1, 1) / ns_), np.nan)
                low, high = t_interval(mean, se, ns_ - 1, confidence)
                est = mean
            else:
                est, low, high = _median_ci(sv, starts, ns_, confidence)
                se = np.full(len(shown), np.nan)
            part = grouped_result(
                keys,
                measure=signal,
                n=ns_,
                estimate=est,
                se=se,
                ci_low=low,
                ci_high=high,
                confidence=confidence,
                method="t" if stat == "mean" else "order_statistics",
                min_n=min_n,
                extra={"statistic": np.array([stat] * len(shown), dtype=object)},
                excluded={"no_value": no_value.astype(np.int64)},
            )
            part["statistic"] = part["statistic"].astype("str")
            totals[f"{signal}_{stat}"] = int(part.attrs["hxmetrics"]["excluded"]["no_value"])
            parts.append(part)
            part_groups.append(shown)
    if not parts:  # no row has any of the signals: an empty result, the same columns
        empty = np.zeros(0)
        parts.append(
            grouped_result(
                keys_all.iloc[:0],
                measure="behaviour_summary",
                n=empty.astype(np.int64),
                estimate=empty,
                se=empty,
                ci_low=empty,
                ci_high=empty,
                confidence=confidence,
                method="none",
                min_n=min_n,
                extra={"statistic": empty.astype(object)},
                excluded={"no_value": empty.astype(np.int64)},
            )
        )
        parts[0]["statistic"] = parts[0]["statistic"].astype("str")
        part_groups.append(np.zeros(0, dtype=np.int64))
    # Rows by group (sorted as the groups sort), then signal and statistic as asked.
    groups_of_rows = np.concatenate(part_groups)
    part_of_rows = np.repeat(np.arange(len(parts)), [len(g) for g in part_groups])
    out = pd.concat(parts, ignore_index=True)
    out = out.iloc[np.lexsort((part_of_rows, groups_of_rows))].reset_index(drop=True)
    profile_meta = (
        getattr(profile, "attrs", {}).get("hxmetrics", {}) if hasattr(profile, "attrs") else {}
    )
    out.attrs["hxmetrics"] = {
        "measure": "behaviour_summary",
        "estimate": "estimate",
        "by": cols,
        "confidence": confidence,
        "method": "t interval (mean); order-statistic interval, Conover 1999 (median)",
        "min_n": min_n,
        # The measure column holds the signal of each row.
        "measures": [s for s in chosen if s in set(out["measure"].astype(str))],
        "signals": chosen,
        "statistics": stats_asked,
        # Rows without the signal in the groups shown: in all, and per signal/statistic.
        "excluded": {"no_value": sum(totals.values())},
        "excluded_by_signal": totals,
        "as_of": profile_meta.get("as_of") if isinstance(profile_meta, dict) else None,
    }
    return out
