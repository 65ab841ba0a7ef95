"""Tenure of every stakeholder: retention curves, median tenure, boomerangs.

Input is a table of role episodes (columns ``person_id``, ``role``, ``engagement``,
``start``, ``end``; an open episode has ``end`` NaT), as produced by
:mod:`hxmetrics.stakeholders`. An episode's tenure is ``end - start``; an open
episode, or one ending after ``as_of``, is right-censored at ``as_of``; an episode
starting after ``as_of`` is left out (and counted in ``attrs['excluded']``).
Durations are in days divided by the unit's length: ``h`` 1/24, ``D`` 1, ``W`` 7,
``M`` 365.25/12, ``Q`` 365.25/4, ``Y`` 365.25.

* :func:`kaplan_meier`: the product-limit estimator (Kaplan & Meier 1958) with
  Greenwood's variance. Intervals default to ``conf_type="log"`` (a symmetric interval
  for log S, R ``survival``'s default); ``"log-log"`` (for log(-log S), the default of
  Stata and lifelines) and ``"plain"`` are available.
* :func:`retention_curve`: Kaplan-Meier by role, engagement, hybrid type or any column.
* :func:`median_tenure`: the median with the interval of Brookmeyer & Crowley (1982),
  read off the pointwise interval as R does.
* :func:`boomerang_summary` and :func:`time_to_return`: the share of leavers who come
  back, and time to return as a censored survival curve.

``as_of`` is required by every function here and never defaults to today: the same
episodes give the same numbers on any day. ``None``, ``NaT`` or a value that is not a
date raise :class:`~hxmetrics.errors.ParameterError`. ``role`` takes the roles of the
episodes (``"worker"``); a silo name (``"workers"``) is read as its role through
:data:`hxmetrics.tables.ROLE_OF_SILO`. A role the episodes do not have raises
:class:`~hxmetrics.errors.ParameterError` listing the roles present: never an empty
result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import (
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._inference import check_confidence, wilson_interval, z_critical
from hxmetrics.tables import ROLE_OF_SILO

__all__ = [
    "boomerang_summary",
    "kaplan_meier",
    "median_tenure",
    "retention_curve",
    "time_to_return",
]

UNIT_DAYS: dict[str, float] = {
    "h": 1.0 / 24.0,
    "D": 1.0,
    "W": 7.0,
    "M": 365.25 / 12.0,
    "Q": 365.25 / 4.0,
    "Y": 365.25,
}
CONF_TYPES = ("log", "log-log", "plain")
EPISODE_COLUMNS = ("person_id", "role", "engagement", "start", "end")


def kaplan_meier(
    durations: Any,
    events: Any,
    *,
    weights: Any = None,
    confidence: float = 0.95,
    conf_type: str = "log",
) -> pd.DataFrame:
    """Kaplan-Meier survival curve with Greenwood standard errors and intervals.

    Parameters
    ----------
    durations : array-like
        Time to the event or to censoring (>= 0).
    events : array-like of bool
        True where the event was observed, False where censored.
    weights : array-like, optional
        Case weights (>= 0).
    confidence : float, default 0.95
    conf_type : {"log", "log-log", "plain"}, default "log"
        Scale of the pointwise interval (see the module notes).

    Returns
    -------
    pandas.DataFrame
        One row per distinct time: ``time``, ``n_risk``, ``n_event``, ``n_censored``,
        ``survival`` (just after ``time``), ``se`` (of the survival), ``ci_low``,
        ``ci_high``. ``se`` and the interval are NaN once the curve reaches 0.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
    observations. *JASA* 53, 457-481. Greenwood, M. (1926). The natural duration of
    cancer. *Reports on Public Health and Medical Subjects* 33.

    Examples
    --------
    The maintained arm of the AML data (R ``survival::aml``):

    >>> km = kaplan_meier([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
    ...                   [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
    >>> km.loc[km.n_event > 0, ["time", "survival"]].round(3).head(3).to_numpy().tolist()
    [[9.0, 0.909], [13.0, 0.818], [18.0, 0.716]]
    """
    check_choice("conf_type", conf_type, CONF_TYPES)
    z = z_critical(check_confidence(confidence))
    t = np.asarray(durations, dtype=float).ravel()
    e = np.asarray(events).astype(bool).ravel()
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (len(t) == len(e) == len(w)):
        raise ParameterError("durations, events and weights must have the same length.")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ParameterError("durations must be finite and >= 0.")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ParameterError("weights must be finite and >= 0.")
    with np.errstate(over="ignore"):
        total = float(w.sum())
    if not np.isfinite(total):
        # Weights of 1e308 are finite, the numbers at risk (their sums) are not.
        big = np.flatnonzero(w >= float(np.finfo(np.float64).max) / max(len(w), 1))
        raise ParameterError(
            f"weights sum to more than the largest number ({len(big)} weight(s) are too "
            f"large, e.g. at positions {big[:5].tolist()}); weights matter only relative "
            "to each other: divide them by their mean."
        )
    times, inverse = np.unique(t, return_inverse=True)
    d = np.bincount(inverse, weights=w * e, minlength=len(times))
    c = np.bincount(inverse, weights=w * ~e, minlength=len(times))
    leaving = d + c
    at_risk = leaving[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - d / at_risk, 1.0)
        surv = np.cumprod(factor)
        term = np.where(d > 0, d / (at_risk * (at_risk - d)), 0.0)
        sigma = np.sqrt(np.cumsum(term))  # se of log S (Greenwood)
        se = surv * sigma
        if conf_type == "log":
            low, high = surv * np.exp(-z * sigma), np.minimum(surv * np.exp(z * sigma), 1.0)
        elif conf_type == "plain":
            low, high = np.clip(surv - z * se, 0, 1), np.clip(surv + z * se, 0, 1)
        else:
            log_s = np.log(surv)
            u = np.log(-log_s)
            se_u = sigma / np.abs(log_s)
            low = np.exp(-np.exp(u + z * se_u))
            high = np.exp(-np.exp(u - z * se_u))
            low = np.where(surv >= 1.0, 1.0, low)
            high = np.where(surv >= 1.0, 1.0, high)
    dead = (surv <= 0) | ~np.isfinite(sigma)
    se = np.where(dead, np.nan, se)
    low = np.where(dead, np.nan, low)
    high = np.where(dead, np.nan, high)
    return pd.DataFrame(
        {
            "time": times,
            "n_risk": at_risk,
            "n_event": d,
            "n_censored": c,
            "survival": surv,
            "se": se,
            "ci_low": low,
            "ci_high": high,
        }
    )


def _first_below(times: np.ndarray, curve: np.ndarray, event_times: np.ndarray) -> float:
    """R's quantile rule: first time the curve is <= 0.5; at exactly 0.5, the midpoint."""
    ok = np.isfinite(curve)
    below = np.flatnonzero(ok & (curve <= 0.5 + 1e-12))
    if len(below) == 0:
        return float("nan")
    i = below[0]
    if abs(curve[i] - 0.5) < 1e-12:
        later = event_times[event_times > times[i]]
        if len(later):
            return float((times[i] + later[0]) / 2.0)
    return float(times[i])


def _median_from(km: pd.DataFrame) -> tuple[float, float, float]:
    ev = km[km["n_event"] > 0]
    times = ev["time"].to_numpy()
    return (
        _first_below(times, ev["survival"].to_numpy(), times),
        _first_below(times, ev["ci_low"].to_numpy(), times),
        _first_below(times, ev["ci_high"].to_numpy(), times),
    )


def _cutoff(as_of: Any) -> pd.Timestamp:
    """``as_of`` as a timestamp; :class:`ParameterError` if missing or not a date."""
    example = "e.g. as_of='2024-12-31' (the censoring date; tenure never assumes today)"
    if as_of is None:
        raise ParameterError(f"as_of is required: {example}.")
    try:
        cutoff = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"as_of must be a date; got {type(as_of).__name__} {as_of!r}: {example}."
        ) from exc
    if pd.isna(cutoff):
        raise ParameterError(f"as_of is missing (NaT): {example}.")
    return cutoff


def _roles(episodes: pd.DataFrame, role: str | Sequence[str]) -> list[str]:
    """The roles asked for, silo names read as roles; an absent role raises.

    A role the episodes do not have would give an empty result without a word, the
    same as a typo: both raise, naming the roles present.
    """
    check_columns(episodes.columns, ["role"], table="episodes")
    asked = [role] if isinstance(role, str) else list(role)
    present = sorted({str(r) for r in episodes["role"].dropna().unique()})
    out = []
    for r in asked:
        if not isinstance(r, str):
            raise ParameterError(
                f"role must be a role name or a list of them; got {type(r).__name__} {r!r}."
            )
        # The one mapping of silos to roles: "workers" is the role "worker".
        name = r if r in present else ROLE_OF_SILO.get(r, r)
        if name not in present:
            raise ParameterError(
                f"no episodes with role {r!r}; roles present: {present or 'none'}."
                + did_you_mean(r, present)
            )
        out.append(name)
    return out


def _durations(
    episodes: pd.DataFrame, *, as_of: Any, unit: str, role: str | Sequence[str] | None
) -> tuple[pd.DataFrame, dict[str, int]]:
    if not isinstance(episodes, pd.DataFrame):
        raise InputTableError(
            f"episodes must be a pandas DataFrame; got {type(episodes).__name__}.",
            table="episodes",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    check_columns(episodes.columns, ["person_id", "start", "end"], table="episodes")
    check_choice("unit", unit, list(UNIT_DAYS))
    cutoff = _cutoff(as_of)
    frame = episodes
    if role is not None:
        frame = frame[frame["role"].isin(_roles(episodes, role))]
    start = pd.to_datetime(frame["start"])
    end = pd.to_datetime(frame["end"])
    bad = start.isna() | (end.notna() & (end < start))
    if bad.any():
        rows = frame.loc[bad, ["person_id", "start", "end"]].head(5)
        raise InputTableError(
            f"episodes: {int(bad.sum())} episode(s) have no start or end before start, "
            f"e.g.\n{rows.to_string()}",
            table="episodes",
            failure_cases=pd.DataFrame(
                {
                    "column": "start",
                    "check": "start_not_null_and_before_end",
                    "failure_case": [str(tuple(r)) for r in rows.itertuples(index=False)],
                    "index": list(rows.index),
                }
            ),
        )
    future = start > cutoff
    kept = frame.loc[~future].copy()
    s, e_ = start[~future], end[~future]
    observed = e_.notna() & (e_ <= cutoff)
    stop = e_.where(observed, cutoff)
    kept["duration"] = (stop - s).dt.total_seconds().to_numpy() / 86_400.0 / UNIT_DAYS[unit]
    kept["event"] = observed.to_numpy()
    return kept, {"episodes_starting_after_as_of": int(future.sum())}


def _grouped(frame: pd.DataFrame, by: str | Sequence[str] | None) -> tuple[list[str], Any]:
    """The group columns and ``(values, rows)`` per group, ``values`` a tuple."""
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    check_columns(frame.columns, cols, table="episodes")
    if not cols:
        return cols, [((), frame)]
    groups = frame.groupby(cols, sort=True, dropna=False)
    return cols, ((key if isinstance(key, tuple) else (key,), part) for key, part in groups)


def _insert_groups(curve: pd.DataFrame, cols: list[str], keys: tuple[Any, ...]) -> pd.DataFrame:
    """``curve`` with the group columns ``cols`` (values ``keys``) put first."""
    for c, v in zip(cols, keys, strict=True):
        curve.insert(cols.index(c), c, v)
    return curve


def retention_curve(
    episodes: pd.DataFrame,
    *,
    as_of: Any,
    unit: str = "M",
    by: str | Sequence[str] | None = None,
    role: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    conf_type: str = "log",
) -> pd.DataFrame:
    """Kaplan-Meier retention of role episodes, per group.

    Parameters
    ----------
    episodes : DataFrame
        Role episodes (``person_id``, ``role``, ``engagement``, ``start``, ``end``,
        plus any grouping columns such as a merged ``hybrid_type``).
    as_of : timestamp
        Censoring date for open episodes; required (``None`` raises, never "today").
    unit : str, default "M"
        Unit of the ``time`` column (see module notes).
    by : str or list of str, optional
        Group columns (``"role"``, ``"engagement"``, ``"hybrid_type"``, ...).
    role : str or list, optional
        Keep only these roles (``"worker"``; the silo name ``"workers"`` reads as its
        role). A role the episodes do not have raises, listing the roles present.
    confidence, conf_type
        As in :func:`kaplan_meier`.

    Returns
    -------
    pandas.DataFrame
        Group columns, then the :func:`kaplan_meier` columns, one row per time.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"person_id": ["a", "b", "c"], "role": "worker",
    ...     "engagement": "full_time",
    ...     "start": pd.to_datetime(["2020-01-01", "2020-01-01", "2021-01-01"]),
    ...     "end": pd.to_datetime(["2021-01-01", None, None])})
    >>> curve = retention_curve(ep, as_of="2022-01-01", unit="Y")
    >>> curve[["n_risk", "n_event", "survival"]].round(2).to_numpy().tolist()
    [[3.0, 0.0, 1.0], [2.0, 1.0, 0.5], [1.0, 0.0, 0.5]]
    """
    frame, excluded = _durations(episodes, as_of=as_of, unit=unit, role=role)
    cols, groups = _grouped(frame, by)
    parts = []
    for keys, part in groups:
        km = kaplan_meier(
            part["duration"], part["event"], confidence=confidence, conf_type=conf_type
        )
        parts.append(_insert_groups(km, cols, keys))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out.attrs.update(
        {
            "unit": unit,
            "as_of": str(pd.Timestamp(as_of)),
            "excluded": excluded,
            "conf_type": conf_type,
        }
    )
    return out


def median_tenure(
    episodes: pd.DataFrame,
    *,
    as_of: Any,
    unit: str = "M",
    by: str | Sequence[str] | None = None,
    role: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    conf_type: str = "log",
) -> pd.DataFrame:
    """Median tenure per group with its confidence interval.

    Returns one row per group: group columns, ``n``, ``n_events``, ``n_censored``,
    ``estimate`` (the median; NaN if the curve never falls to 0.5), ``ci_low`` and
    ``ci_high`` (first times the pointwise interval's lower and upper curves fall to
    0.5, Brookmeyer & Crowley 1982, as R's ``print.survfit``). No standard error is
    reported: the interval is not a symmetric Wald interval.
    """
    frame, excluded = _durations(episodes, as_of=as_of, unit=unit, role=role)
    cols, groups = _grouped(frame, by)
    rows = []
    for keys, part in groups:
        km = kaplan_meier(
            part["duration"], part["event"], confidence=confidence, conf_type=conf_type
        )
        med, lo, hi = _median_from(km)
        rows.append(
            {
                **dict(zip(cols, keys, strict=True)),
                "n": len(part),
                "n_events": int(part["event"].sum()),
                "n_censored": int((~part["event"]).sum()),
                "estimate": med,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    out = pd.DataFrame(
        rows, columns=[*cols, "n", "n_events", "n_censored", "estimate", "ci_low", "ci_high"]
    )
    out.attrs.update({"unit": unit, "as_of": str(pd.Timestamp(as_of)), "excluded": excluded})
    return out


def _exits(
    episodes: pd.DataFrame, *, as_of: Any, unit: str, role: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """First exit of each person from ``role`` and the time to the next spell (if any).

    Overlapping episodes of the same person are merged into one spell (a concurrent
    second contract is not a departure); a spell starting on or after the end of the
    previous one is a return.
    """
    check_columns(episodes.columns, ["person_id", "role", "start", "end"], table="episodes")
    check_choice("unit", unit, list(UNIT_DAYS))
    cutoff = _cutoff(as_of)
    (role,) = _roles(episodes, role)
    ep = episodes[episodes["role"] == role].copy()
    ep["start"] = pd.to_datetime(ep["start"])
    ep["end"] = pd.to_datetime(ep["end"])
    future = ep["start"] > cutoff
    ep = ep.loc[~future]
    ep = ep.sort_values(["person_id", "start"], kind="stable")
    open_end = ep["end"].where(ep["end"].notna() & (ep["end"] <= cutoff), pd.Timestamp.max)
    running = open_end.groupby(ep["person_id"]).cummax()
    prev = running.groupby(ep["person_id"]).shift(1)
    new_spell = prev.isna() | (ep["start"] >= prev)
    ep["spell"] = new_spell.cumsum()
    ep["_end"] = open_end
    spells = ep.groupby("spell", sort=False).agg(
        person_id=("person_id", "first"), start=("start", "min"), end=("_end", "max")
    )
    extra = [c for c in episodes.columns if c not in ("person_id", "start", "end", "spell")]
    last_rows = ep.groupby("spell", sort=False)[extra].last()
    spells = spells.join(last_rows)
    spells["next_start"] = spells.groupby("person_id")["start"].shift(-1)
    ended = spells[spells["end"] < pd.Timestamp.max]
    first_exit = ended.groupby("person_id", sort=False).head(1).copy()
    returned = first_exit["next_start"].notna()
    stop = first_exit["next_start"].where(returned, cutoff)
    first_exit["time"] = (stop - first_exit["end"]).dt.total_seconds() / 86_400 / UNIT_DAYS[unit]
    first_exit["returned"] = returned.to_numpy()
    return first_exit.reset_index(drop=True), {"episodes_starting_after_as_of": int(future.sum())}


def boomerang_summary(
    episodes: pd.DataFrame,
    *,
    as_of: Any,
    role: str = "worker",
    by: str | Sequence[str] | None = None,
    unit: str = "M",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of leavers who came back, per group (by the exit spell's columns).

    A leaver is a person whose first spell in ``role`` ended on or before ``as_of``;
    they returned if a later spell started by ``as_of``. The share is the plain
    proportion with a Wilson interval: recent leavers have had less time to return, so
    read it with :func:`time_to_return`, which accounts for that.

    ``as_of`` is required: ``as_of=None`` raises :class:`~hxmetrics.errors.ParameterError`
    (it used to count no leaver at all, n=0, without a word), as in every tenure
    function. ``role`` takes a role (``"worker"``) or its silo (``"workers"``); a role
    the episodes do not have raises, listing the roles present.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``n`` (leavers), ``n_returned``, ``estimate`` (share), ``se``,
        ``ci_low``, ``ci_high``, ``median_gap`` (median time to return among returners,
        in ``unit``).
    """
    (role,) = _roles(episodes, role)  # "workers" -> "worker", as the result says
    exits, excluded = _exits(episodes, as_of=as_of, unit=unit, role=role)
    z = z_critical(check_confidence(confidence))
    cols, groups = _grouped(exits, by)
    rows = []
    for keys, part in groups:
        n = len(part)
        k = int(part["returned"].sum())
        p = k / n if n else float("nan")
        lo, hi = wilson_interval(p, n, z)
        gaps = part.loc[part["returned"], "time"]
        rows.append(
            {
                **dict(zip(cols, keys, strict=True)),
                "n": n,
                "n_returned": k,
                "estimate": p,
                "se": float(np.sqrt(p * (1 - p) / n)) if n else float("nan"),
                "ci_low": float(lo),
                "ci_high": float(hi),
                "median_gap": float(gaps.median()) if len(gaps) else float("nan"),
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[*cols, "n", "n_returned", "estimate", "se", "ci_low", "ci_high", "median_gap"],
    )
    out.attrs.update(
        {"unit": unit, "as_of": str(pd.Timestamp(as_of)), "excluded": excluded, "role": role}
    )
    return out


def time_to_return(
    episodes: pd.DataFrame,
    *,
    as_of: Any,
    role: str = "worker",
    by: str | Sequence[str] | None = None,
    unit: str = "M",
    confidence: float = 0.95,
    conf_type: str = "log",
) -> pd.DataFrame:
    """Time from a leaver's exit to their return, as a censored Kaplan-Meier curve.

    Leavers who have not returned by ``as_of`` are censored there. The column
    ``returned`` = 1 - survival is the cumulative share back by ``time``.
    """
    (role,) = _roles(episodes, role)  # "workers" -> "worker", as the result says
    exits, excluded = _exits(episodes, as_of=as_of, unit=unit, role=role)
    cols, groups = _grouped(exits, by)
    parts = []
    for keys, part in groups:
        km = kaplan_meier(
            part["time"], part["returned"], confidence=confidence, conf_type=conf_type
        )
        km["returned"] = 1.0 - km["survival"]
        parts.append(_insert_groups(km, cols, keys))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out.attrs.update(
        {"unit": unit, "as_of": str(pd.Timestamp(as_of)), "excluded": excluded, "role": role}
    )
    return out
