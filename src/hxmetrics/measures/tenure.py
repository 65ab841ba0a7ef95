"""Tenure of every stakeholder: retention curves, median tenure, boomerangs.

Input is a table of role episodes (columns ``person_id``, ``role``, ``engagement``,
``start``, ``end``; an open episode has ``end`` NaT), as produced by
:mod:`hxmetrics.stakeholders`. An episode's tenure is ``end - start``; an open
episode, or one ending after ``as_of``, is right-censored at ``as_of``; an episode
starting after ``as_of`` is left out (and counted: ``attrs["hxmetrics"]["excluded"]``
and, in grouped results, ``n_excluded_episodes_starting_after_as_of``). Durations are
in days divided by the unit's length: ``h`` 1/24, ``D`` 1, ``W`` 7, ``M`` 365.25/12,
``Q`` 365.25/4, ``Y`` 365.25. Episodes may be any frame narwhals reads (pandas,
Polars, DuckDB, Spark); times with a time zone are read as local wall-clock times.

* :class:`KaplanMeier`: the product-limit estimator (Kaplan & Meier 1958) with
  Greenwood's variance as a fitted model (``fit`` returns it; ``summary()``,
  ``plot(ax=)``, ``median_``, ``to_dict``/``from_dict``). Intervals default to
  ``conf_type="log"`` (a symmetric interval for log S, R ``survival``'s default);
  ``"log-log"`` (for log(-log S), the default of Stata and lifelines) and ``"plain"``
  are available. :func:`kaplan_meier` returns its table.
* :func:`retention_curve`: Kaplan-Meier by role, engagement, hybrid type or any column.
* :func:`median_tenure`: the median with the interval of Brookmeyer & Crowley (1982),
  read off the pointwise interval as R does; a grouped result (one row per group,
  ``min_n`` suppression through :func:`hxmetrics.privacy.suppress`).
* :func:`boomerang_summary` (a grouped result too) and :func:`time_to_return`: the
  share of leavers who come back, and time to return as a censored survival curve.

Counts are spelled ``n_at_risk``, ``n_events``, ``n_censored`` everywhere (the curves
had ``n_risk`` and ``n_event`` before issue 11).

``as_of`` is required by every function here and never defaults to today: the same
episodes give the same numbers on any day. ``None``, ``NaT`` or a value that is not a
date raise :class:`~hxmetrics.errors.ParameterError`. ``role`` takes the roles of the
episodes (``"worker"``); a silo name (``"workers"``) is read as its role through
:data:`hxmetrics.tables.ROLE_OF_SILO`. A role the episodes do not have raises
:class:`~hxmetrics.errors.ParameterError` listing the roles present: never an empty
result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import (
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._inference import check_confidence, wilson_interval, z_critical
from hxmetrics.measures._result import grouped_result
from hxmetrics.tables import ROLE_OF_SILO, as_pandas

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "KaplanMeier",
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


#: Columns of a Kaplan-Meier table (:meth:`KaplanMeier.summary`, :func:`kaplan_meier`).
KM_COLUMNS = (
    "time",
    "n_at_risk",
    "n_events",
    "n_censored",
    "survival",
    "se",
    "ci_low",
    "ci_high",
)


def _km_arrays(
    t: np.ndarray, e: np.ndarray, w: np.ndarray, *, z: float, conf_type: str
) -> dict[str, np.ndarray]:
    """The product-limit table of checked arrays (one entry per :data:`KM_COLUMNS`)."""
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
    return {
        "time": times,
        "n_at_risk": at_risk,
        "n_events": d,
        "n_censored": c,
        "survival": surv,
        "se": np.where(dead, np.nan, se),
        "ci_low": np.where(dead, np.nan, low),
        "ci_high": np.where(dead, np.nan, high),
    }


def _checked_arrays(
    durations: Any, events: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float).ravel()
    e = np.ones(len(t), dtype=bool) if events is None else np.asarray(events).astype(bool).ravel()
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
    return t, e, w


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class KaplanMeier(DisplayMixin):
    """Kaplan-Meier (product-limit) estimator as a fitted model.

    The fitted-model protocol of hxmetrics (as lifelines' ``KaplanMeierFitter``):
    :meth:`fit` returns the model; ``params_`` is the estimated curve (a
    nonparametric model's parameters are the curve itself), ``survival_function_``
    the survival by time, ``median_`` and ``median_ci_`` the median and its interval;
    :meth:`summary` gives the table, :meth:`plot` draws the step curve on ``ax=``,
    and :meth:`to_dict`/:meth:`from_dict` save and restore it as JSON.

    Standard errors are Greenwood's. Intervals default to ``conf_type="log"`` (a
    symmetric interval for log S, R ``survival``'s default); ``"log-log"`` (the
    default of Stata and lifelines) and ``"plain"`` are available. The median's
    interval is that of Brookmeyer & Crowley (1982), read off the pointwise interval
    as R's ``print.survfit`` does.

    Parameters
    ----------
    confidence : float, default 0.95
        Level of the pointwise intervals and of the median's interval.
    conf_type : {"log", "log-log", "plain"}, default "log"
        Scale of the pointwise interval.

    Attributes
    ----------
    params_ : pandas.DataFrame
        One row per distinct time: ``time``, ``n_at_risk``, ``n_events``,
        ``n_censored``, ``survival`` (just after ``time``), ``se`` (of the survival),
        ``ci_low``, ``ci_high``. ``se`` and the interval are NaN once the curve
        reaches 0.
    survival_function_ : pandas.Series
        ``survival`` indexed by ``time``.
    median_ : float
        First time the curve is at or below 0.5 (NaN if it never gets there).
    median_ci_ : tuple of float
        The median's interval (NaN where the interval's curve stays above 0.5).
    n_, n_events_ : float
        Total weight (units) and observed events.
    unit_ : str or None
        Unit of the durations, if given to :meth:`fit`.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
    observations. *JASA* 53, 457-481. Greenwood, M. (1926). The natural duration of
    cancer. *Reports on Public Health and Medical Subjects* 33. Brookmeyer, R. &
    Crowley, J. (1982). A confidence interval for the median survival time.
    *Biometrics* 38, 29-41.

    Examples
    --------
    The maintained arm of the AML data (R ``survival::aml``), in weeks:

    >>> km = KaplanMeier().fit([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
    ...                        [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0], unit="W")
    >>> km.median_, km.median_ci_
    (31.0, (18.0, nan))
    >>> km.summary().query("n_events > 0")[["time", "survival"]].round(3).head(2)
       time  survival
    0   9.0     0.909
    1  13.0     0.818
    """

    def __init__(self, *, confidence: float = 0.95, conf_type: str = "log") -> None:
        check_choice("conf_type", conf_type, CONF_TYPES)
        self.confidence = check_confidence(confidence)
        self.conf_type = conf_type
        self.params_: pd.DataFrame | None = None
        self.median_: float | None = None
        self.median_ci_: tuple[float, float] | None = None
        self.n_: float | None = None
        self.n_events_: float | None = None
        self.unit_: str | None = None

    def fit(
        self,
        durations: Any,
        events: Any = None,
        *,
        duration: str | None = None,
        event: str | None = None,
        weights: Any = None,
        unit: str | None = None,
    ) -> KaplanMeier:
        """Estimate the survival curve.

        Two ways to pass the data: arrays, ``fit(durations, events)`` (as lifelines'
        ``fit(T, E)``), or a frame and its column names,
        ``fit(data, duration="tenure", event="left")``.

        Parameters
        ----------
        durations : array-like or DataFrame
            Time to the event or to censoring (>= 0); with ``duration=``, the frame
            (pandas, Polars, DuckDB, ...) that holds the columns.
        events : array-like of bool, optional
            True where the event was observed, False where censored (default: every
            event observed). Not with ``duration=``: use ``event=``.
        duration, event : str, optional
            Column names in the frame ``durations`` (``event`` omitted: every event
            observed).
        weights : array-like or str, optional
            Case weights (>= 0), or their column with ``duration=``.
        unit : str, optional
            Unit of the durations (``"D"``, ``"W"``, ``"M"``, ...), recorded and shown.

        Returns
        -------
        KaplanMeier
            The fitted model (``self``).
        """
        if duration is not None:
            if events is not None:
                raise ParameterError(
                    "KaplanMeier.fit: with duration= (a column of the data), give the "
                    "event column as event=, not a second positional argument."
                )
            frame = as_pandas(durations, table="data")
            names = [duration] + [c for c in (event, weights) if isinstance(c, str)]
            check_columns(frame.columns, names, table="data")
            t_in: Any = frame[duration].to_numpy(dtype=float)
            e_in: Any = None if event is None else frame[event].to_numpy()
            w_in: Any = (
                frame[weights].to_numpy(dtype=float) if isinstance(weights, str) else weights
            )
        else:
            if event is not None:
                raise ParameterError(
                    "KaplanMeier.fit: event= names a column; pass duration= too, or give "
                    "the events as the second argument."
                )
            t_in, e_in, w_in = durations, events, weights
        if unit is not None:
            check_choice("unit", unit, list(UNIT_DAYS))
        t, e, w = _checked_arrays(t_in, e_in, w_in)
        z = z_critical(self.confidence)
        self._set_table(pd.DataFrame(_km_arrays(t, e, w, z=z, conf_type=self.conf_type)))
        self.unit_ = unit
        return self

    def _set_table(self, table: pd.DataFrame) -> None:
        self.params_ = table
        self.median_, low, high = _median_from(table)
        self.median_ci_ = (low, high)
        self.n_ = float(table["n_events"].sum() + table["n_censored"].sum())
        self.n_events_ = float(table["n_events"].sum())

    def _fitted(self) -> pd.DataFrame:
        if self.params_ is None:
            raise ParameterError(
                "KaplanMeier is not fitted yet: call fit(durations, events) first, or "
                "from_dict(...) to restore a fitted model."
            )
        return self.params_

    @property
    def survival_function_(self) -> pd.Series:
        """Survival just after each distinct time (a Series indexed by ``time``)."""
        table = self._fitted()
        return pd.Series(
            table["survival"].to_numpy(),
            index=pd.Index(table["time"], name="time"),
            name="survival",
        )

    def summary(self) -> pd.DataFrame:
        """The estimated curve: one row per distinct time.

        Returns
        -------
        pandas.DataFrame
            Columns ``time``, ``n_at_risk``, ``n_events``, ``n_censored``,
            ``survival``, ``se``, ``ci_low``, ``ci_high``; ``attrs["hxmetrics"]``
            holds ``measure`` (``"kaplan_meier"``), ``confidence``, ``conf_type``,
            ``unit``, ``n``, ``n_events`` and the median with its interval.
        """
        table = self._fitted().copy()
        table.attrs["hxmetrics"] = {
            "measure": "kaplan_meier",
            "confidence": self.confidence,
            "conf_type": self.conf_type,
            "unit": self.unit_,
            "n": self.n_,
            "n_events": self.n_events_,
            "median": self.median_,
            "median_ci": list(self.median_ci_ or ()),
        }
        return table

    def plot(self, *, ax: Axes | None = None, ci: bool = True, label: str | None = None) -> Axes:
        """Step curve of the survival with its pointwise interval.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure if omitted).
        ci : bool, default True
            Shade the pointwise interval.
        label : str, optional
            Legend label of the curve.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from hxmetrics.plotting import PALETTE, _axes, style

        table = self._fitted()
        times = np.concatenate(([0.0], table["time"].to_numpy()))
        surv = np.concatenate(([1.0], table["survival"].to_numpy()))
        ax = _axes(ax, 6.4, 3.6)
        with style():
            ax.step(times, surv, where="post", color=PALETTE[0], label=label)
            if ci:
                low = np.concatenate(([1.0], table["ci_low"].to_numpy()))
                high = np.concatenate(([1.0], table["ci_high"].to_numpy()))
                ax.fill_between(
                    times, low, high, step="post", color=PALETTE[0], alpha=0.2, linewidth=0
                )
            ax.set_ylim(0.0, 1.02)
            ax.set_xlabel("time" if self.unit_ is None else f"time ({self.unit_})")
            ax.set_ylabel("survival")
            if label is not None:
                ax.legend(frameon=False)
        return ax

    def _display_title(self) -> str:
        if self.params_ is None:
            return "KaplanMeier"
        unit = f" {self.unit_}" if self.unit_ else ""
        median = self.median_ if self.median_ is not None else math.nan
        shown = f"{median:.4g}{unit}" if math.isfinite(median) else "not reached"
        return f"KaplanMeier: n = {self.n_:g}, events = {self.n_events_:g}, median = {shown}"

    def _display_notes(self) -> Sequence[str]:
        if self.params_ is None or self.median_ci_ is None:
            return ()
        low, high = self.median_ci_
        return (
            f"{self.confidence:.0%} interval of the median: {low:.4g} to {high:.4g} "
            f"({self.conf_type} scale, Brookmeyer & Crowley)",
        )

    def to_dict(self) -> dict[str, Any]:
        """The fitted curve as plain numbers (JSON-ready); :meth:`from_dict` restores it."""
        table = self._fitted()
        return {
            "model": "KaplanMeier",
            "format": 1,
            "confidence": self.confidence,
            "conf_type": self.conf_type,
            "unit": self.unit_,
            "table": {
                c: [_json_number(v) for v in table[c].to_numpy(dtype=float)] for c in KM_COLUMNS
            },
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> KaplanMeier:
        """Restore a model saved with :meth:`to_dict` (after a JSON round trip too)."""
        if state.get("model") != "KaplanMeier":
            raise ParameterError(
                f"cannot restore a {state.get('model')!r} state with KaplanMeier.from_dict."
            )
        table = state.get("table") or {}
        missing = [c for c in KM_COLUMNS if c not in table]
        if missing:
            raise ParameterError(f"KaplanMeier state lacks columns {missing}.")
        model = cls(
            confidence=state.get("confidence", 0.95), conf_type=state.get("conf_type", "log")
        )
        frame = pd.DataFrame(
            {
                c: np.array([np.nan if v is None else v for v in table[c]], dtype=float)
                for c in KM_COLUMNS
            }
        )
        model._set_table(frame)
        unit = state.get("unit")
        if unit is not None:
            check_choice("unit", unit, list(UNIT_DAYS))
        model.unit_ = unit
        return model


def kaplan_meier(
    durations: Any,
    events: Any = None,
    *,
    duration: str | None = None,
    event: str | None = None,
    weights: Any = None,
    confidence: float = 0.95,
    conf_type: str = "log",
) -> pd.DataFrame:
    """Kaplan-Meier survival curve with Greenwood standard errors and intervals.

    The table of :class:`KaplanMeier` (``KaplanMeier(...).fit(...).summary()``): use
    the model for the median, the plot and saving.

    Parameters
    ----------
    durations : array-like or DataFrame
        Time to the event or to censoring (>= 0); with ``duration=``, the frame.
    events : array-like of bool, optional
        True where the event was observed, False where censored (default: all).
    duration, event : str, optional
        Column names when ``durations`` is a frame.
    weights : array-like or str, optional
        Case weights (>= 0), or their column.
    confidence : float, default 0.95
    conf_type : {"log", "log-log", "plain"}, default "log"
        Scale of the pointwise interval (see :class:`KaplanMeier`).

    Returns
    -------
    pandas.DataFrame
        One row per distinct time: ``time``, ``n_at_risk``, ``n_events``,
        ``n_censored``, ``survival`` (just after ``time``), ``se`` (of the survival),
        ``ci_low``, ``ci_high``. ``se`` and the interval are NaN once the curve
        reaches 0. (The counts were ``n_risk`` and ``n_event`` before issue 11.)
        ``attrs["hxmetrics"]`` as in :meth:`KaplanMeier.summary`.

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
    >>> km.loc[km.n_events > 0, ["time", "survival"]].round(3).head(3).to_numpy().tolist()
    [[9.0, 0.909], [13.0, 0.818], [18.0, 0.716]]
    """
    model = KaplanMeier(confidence=confidence, conf_type=conf_type)
    model.fit(durations, events, duration=duration, event=event, weights=weights)
    return model.summary()


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
    ev = km[km["n_events"] > 0]
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


def _wall_times(
    start: pd.Series, end: pd.Series, cutoff: pd.Timestamp
) -> tuple[pd.Series, pd.Series, pd.Timestamp]:
    """Start, end and ``as_of`` as naive local (wall-clock) times.

    Times with a time zone (a Spark or Parquet source gives UTC) are read as local
    time in the zone of ``start``, as :func:`~hxmetrics.measures.clv.rfm_summary`
    does; ``as_of`` is converted to that zone if it has one, or read as local time
    there if not. With naive times, an ``as_of`` with a time zone is ambiguous.
    """
    start = pd.to_datetime(start)
    end = pd.to_datetime(end)
    zone = getattr(start.dt, "tz", None)
    if zone is None and getattr(end.dt, "tz", None) is not None:
        zone = end.dt.tz
    if zone is None:
        if cutoff.tzinfo is not None:
            raise ParameterError(
                f"as_of ({cutoff}) has a time zone but the episodes' start and end have "
                f"none: pass a naive date, e.g. as_of='{cutoff.tz_localize(None).date()}'."
            )
        return start, end, cutoff
    start = start.dt.tz_convert(zone).dt.tz_localize(None) if start.dt.tz else start
    end = end.dt.tz_convert(zone).dt.tz_localize(None) if end.dt.tz else end
    if cutoff.tzinfo is not None:
        cutoff = cutoff.tz_convert(zone).tz_localize(None)
    return start, end, cutoff


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


def _episodes_frame(episodes: Any) -> pd.DataFrame:
    return as_pandas(episodes, table="episodes")


def _durations(
    episodes: pd.DataFrame, *, as_of: Any, unit: str, role: str | Sequence[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes with ``duration`` and ``event``, and the episodes left out (after as_of)."""
    check_columns(episodes.columns, ["person_id", "start", "end"], table="episodes")
    check_choice("unit", unit, list(UNIT_DAYS))
    cutoff = _cutoff(as_of)
    frame = episodes
    if role is not None:
        frame = frame[frame["role"].isin(_roles(episodes, role))]
    start, end, cutoff = _wall_times(frame["start"], frame["end"], cutoff)
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
    return kept, frame.loc[future]


def _group_columns(frame: pd.DataFrame, by: str | Sequence[str] | None) -> list[str]:
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    check_columns(frame.columns, cols, table="episodes")
    return cols


def _grouped(frame: pd.DataFrame, cols: list[str]) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    """``(values, rows)`` per group of ``cols``, ``values`` a tuple; sorted by values."""
    if not cols:
        return [((), frame)]
    groups = frame.groupby(cols, sort=True, dropna=False, observed=True)
    return [(key if isinstance(key, tuple) else (key,), part) for key, part in groups]


def _keys(frame: pd.DataFrame, cols: list[str], keys: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The groups' values as a frame, each column with the dtype it has in ``frame``."""
    if not cols:
        return pd.DataFrame(index=range(len(keys)))
    out = pd.DataFrame(keys, columns=cols)
    for c in cols:
        out[c] = out[c].astype(frame[c].dtype)
    return out


def _per_group(left_out: pd.DataFrame, cols: list[str], keys: list[tuple[Any, ...]]) -> np.ndarray:
    """Rows of ``left_out`` in each group of ``keys`` (0 where none)."""
    if not cols:
        return np.array([len(left_out)] * len(keys), dtype=np.int64)
    counts = left_out.groupby(cols, sort=False, dropna=False, observed=True).size()
    lookup = {(k if isinstance(k, tuple) else (k,)): int(v) for k, v in counts.items()}
    return np.array([lookup.get(k, 0) for k in keys], dtype=np.int64)


def _insert_groups(curve: pd.DataFrame, cols: list[str], keys: tuple[Any, ...]) -> pd.DataFrame:
    """``curve`` with the group columns ``cols`` (values ``keys``) put first."""
    for c, v in zip(cols, keys, strict=True):
        curve.insert(cols.index(c), c, v)
    return curve


def _curves(
    groups: list[tuple[tuple[Any, ...], pd.DataFrame]],
    cols: list[str],
    *,
    time: str,
    event: str,
    unit: str,
    confidence: float,
    conf_type: str,
) -> pd.DataFrame:
    """One Kaplan-Meier table per group, the group columns first."""
    parts = []
    for keys, part in groups:
        model = KaplanMeier(confidence=confidence, conf_type=conf_type)
        model.fit(part[time].to_numpy(dtype=float), part[event].to_numpy(), unit=unit)
        parts.append(_insert_groups(model._fitted().copy(), cols, keys))
    if not parts:
        return pd.DataFrame(columns=[*cols, *KM_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def retention_curve(
    episodes: Any,
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
        plus any grouping columns such as a merged ``hybrid_type``); pandas, Polars,
        DuckDB, ...
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
        As in :class:`KaplanMeier`.

    Returns
    -------
    pandas.DataFrame
        Group columns, then the :class:`KaplanMeier` table (``time``, ``n_at_risk``,
        ``n_events``, ``n_censored``, ``survival``, ``se``, ``ci_low``, ``ci_high``),
        one row per time. ``attrs["hxmetrics"]``: ``measure``, ``unit``, ``as_of``,
        ``by``, ``confidence``, ``conf_type``, ``excluded``. A curve is not a grouped
        result: its rows are times, so nothing is suppressed here; show curves only
        for groups that a suppressed :func:`median_tenure` shows.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"person_id": ["a", "b", "c"], "role": "worker",
    ...     "engagement": "full_time",
    ...     "start": pd.to_datetime(["2020-01-01", "2020-01-01", "2021-01-01"]),
    ...     "end": pd.to_datetime(["2021-01-01", None, None])})
    >>> curve = retention_curve(ep, as_of="2022-01-01", unit="Y")
    >>> curve[["n_at_risk", "n_events", "survival"]].round(2).to_numpy().tolist()
    [[3.0, 0.0, 1.0], [2.0, 1.0, 0.5], [1.0, 0.0, 0.5]]
    """
    episodes = _episodes_frame(episodes)
    confidence = check_confidence(confidence)
    check_choice("conf_type", conf_type, CONF_TYPES)
    frame, left_out = _durations(episodes, as_of=as_of, unit=unit, role=role)
    cols = _group_columns(frame, by)
    out = _curves(
        _grouped(frame, cols),
        cols,
        time="duration",
        event="event",
        unit=unit,
        confidence=confidence,
        conf_type=conf_type,
    )
    excluded = {"episodes_starting_after_as_of": len(left_out)}
    out.attrs["hxmetrics"] = {
        "measure": "retention_curve",
        "unit": unit,
        "as_of": str(pd.Timestamp(as_of)),
        "by": cols,
        "confidence": confidence,
        "conf_type": conf_type,
        "excluded": excluded,
    }
    return out


def median_tenure(
    episodes: Any,
    *,
    as_of: Any,
    unit: str = "M",
    by: str | Sequence[str] | None = None,
    role: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    conf_type: str = "log",
    min_n: int | None = None,
) -> pd.DataFrame:
    """Median tenure per group with its confidence interval.

    Parameters
    ----------
    episodes, as_of, unit, by, role, confidence, conf_type
        As in :func:`retention_curve`.
    min_n : int, optional
        Smallest group shown: groups with fewer episodes, and their complements, are
        suppressed (:func:`hxmetrics.privacy.suppress`).

    Returns
    -------
    pandas.DataFrame
        The grouped result (:func:`~hxmetrics.measures._result.grouped_result`):
        ``measure`` (``"median_tenure"``), group columns, ``n`` (episodes, Int64),
        ``estimate`` (the median in ``unit``; NaN if the curve never falls to 0.5),
        ``se`` (NaN: the interval is not a symmetric Wald interval), ``ci_low`` and
        ``ci_high`` (first times the pointwise interval's lower and upper curves fall
        to 0.5, Brookmeyer & Crowley 1982, as R's ``print.survfit``), ``n_events``,
        ``n_censored``, ``n_excluded_episodes_starting_after_as_of`` and
        ``suppressed``. ``attrs["hxmetrics"]`` adds ``unit``, ``as_of`` and
        ``conf_type``.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"person_id": ["a", "b", "c"], "role": "worker",
    ...     "start": pd.to_datetime(["2020-01-01", "2020-01-01", "2021-01-01"]),
    ...     "end": pd.to_datetime(["2021-01-01", "2020-07-01", None])})
    >>> out = median_tenure(ep, as_of="2022-01-01", unit="M", by="role")
    >>> out[["measure", "role", "n", "estimate", "n_events"]].round(1)
             measure    role  n  estimate  n_events
    0  median_tenure  worker  3      12.0         2
    """
    episodes = _episodes_frame(episodes)
    confidence = check_confidence(confidence)
    check_choice("conf_type", conf_type, CONF_TYPES)
    frame, left_out = _durations(episodes, as_of=as_of, unit=unit, role=role)
    cols = _group_columns(frame, by)
    groups = _grouped(frame, cols)
    values = []
    for _, part in groups:
        model = KaplanMeier(confidence=confidence, conf_type=conf_type)
        model.fit(part["duration"].to_numpy(dtype=float), part["event"].to_numpy(), unit=unit)
        low, high = model.median_ci_ or (math.nan, math.nan)
        events = int(part["event"].sum())
        values.append((len(part), model.median_, low, high, events, len(part) - events))
    table = np.array(values, dtype=float).reshape(len(values), 6)
    keys = [k for k, _ in groups]
    return grouped_result(
        _keys(frame, cols, keys),
        measure="median_tenure",
        n=table[:, 0].astype(np.int64),
        estimate=table[:, 1],
        se=np.full(len(values), np.nan),
        ci_low=table[:, 2],
        ci_high=table[:, 3],
        confidence=confidence,
        method="brookmeyer_crowley",
        min_n=min_n,
        extra={
            "n_events": table[:, 4].astype(np.int64),
            "n_censored": table[:, 5].astype(np.int64),
        },
        excluded={"episodes_starting_after_as_of": _per_group(left_out, cols, keys)},
        meta={
            "unit": unit,
            "as_of": str(pd.Timestamp(as_of)),
            "conf_type": conf_type,
            "excluded": {"episodes_starting_after_as_of": len(left_out)},
        },
    )


def _exits(
    episodes: pd.DataFrame, *, as_of: Any, unit: str, role: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First exit of each person from ``role`` and the time to the next spell (if any).

    Overlapping episodes of the same person are merged into one spell (a concurrent
    second contract is not a departure); a spell starting on or after the end of the
    previous one is a return. Also returns the episodes left out (starting after
    ``as_of``).
    """
    check_columns(episodes.columns, ["person_id", "role", "start", "end"], table="episodes")
    check_choice("unit", unit, list(UNIT_DAYS))
    cutoff = _cutoff(as_of)
    (role,) = _roles(episodes, role)
    ep = episodes[episodes["role"] == role].copy()
    ep["start"], ep["end"], cutoff = _wall_times(ep["start"], ep["end"], cutoff)
    future = ep["start"] > cutoff
    left_out = ep.loc[future]
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
    return first_exit.reset_index(drop=True), left_out


def boomerang_summary(
    episodes: Any,
    *,
    as_of: Any,
    role: str = "worker",
    by: str | Sequence[str] | None = None,
    unit: str = "M",
    confidence: float = 0.95,
    min_n: int | None = None,
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

    Parameters
    ----------
    episodes, as_of, role, by, unit, confidence
        As in :func:`retention_curve` (``role`` one role here).
    min_n : int, optional
        Smallest group of leavers shown; smaller groups and their complements are
        suppressed.

    Returns
    -------
    pandas.DataFrame
        The grouped result: ``measure`` (``"boomerang"``), group columns, ``n``
        (leavers), ``estimate`` (percent who returned, 0-100, as every share estimate;
        it was a 0-1 share before issue 11), ``se``, ``ci_low``, ``ci_high`` (percent),
        ``n_returned``, ``median_gap`` (median time to return among
        returners, in ``unit``), ``n_excluded_episodes_starting_after_as_of``,
        ``suppressed``; ``attrs["hxmetrics"]`` adds ``role``, ``unit`` and ``as_of``.
    """
    episodes = _episodes_frame(episodes)
    (role,) = _roles(episodes, role)  # "workers" -> "worker", as the result says
    exits, left_out = _exits(episodes, as_of=as_of, unit=unit, role=role)
    confidence = check_confidence(confidence)
    z = z_critical(confidence)
    cols = _group_columns(exits, by)
    groups = _grouped(exits, cols)
    rows = []
    for _, part in groups:
        n = len(part)
        k = int(part["returned"].sum())
        p = k / n if n else float("nan")
        lo, hi = wilson_interval(p, n, z)
        gaps = part.loc[part["returned"], "time"]
        se = float(np.sqrt(p * (1 - p) / n)) if n else float("nan")
        gap = float(gaps.median()) if len(gaps) else float("nan")
        # Percent (0-100), as every share estimate of a grouped result (CSAT too).
        rows.append((n, 100 * p, 100 * se, 100 * float(lo), 100 * float(hi), k, gap))
    table = np.array(rows, dtype=float).reshape(len(rows), 7)
    keys = [k for k, _ in groups]
    return grouped_result(
        _keys(exits, cols, keys),
        measure="boomerang",
        n=table[:, 0].astype(np.int64),
        estimate=table[:, 1],
        se=table[:, 2],
        ci_low=table[:, 3],
        ci_high=table[:, 4],
        confidence=confidence,
        method="wilson",
        min_n=min_n,
        extra={"n_returned": table[:, 5].astype(np.int64), "median_gap": table[:, 6]},
        excluded={"episodes_starting_after_as_of": _per_group(left_out, cols, keys)},
        meta={
            "role": role,
            "unit": unit,
            "as_of": str(pd.Timestamp(as_of)),
            "bounds": (0.0, 100.0),
            "excluded": {"episodes_starting_after_as_of": len(left_out)},
        },
    )


def time_to_return(
    episodes: Any,
    *,
    as_of: Any,
    role: str = "worker",
    by: str | Sequence[str] | None = None,
    unit: str = "M",
    confidence: float = 0.95,
    conf_type: str = "log",
) -> pd.DataFrame:
    """Time from a leaver's exit to their return, as a censored Kaplan-Meier curve.

    Leavers who have not returned by ``as_of`` are censored there. The columns are
    those of :func:`retention_curve`, plus ``returned`` = 1 - survival, the
    cumulative share back by ``time``; ``attrs["hxmetrics"]`` adds ``role``.
    """
    episodes = _episodes_frame(episodes)
    (role,) = _roles(episodes, role)  # "workers" -> "worker", as the result says
    confidence = check_confidence(confidence)
    check_choice("conf_type", conf_type, CONF_TYPES)
    exits, left_out = _exits(episodes, as_of=as_of, unit=unit, role=role)
    cols = _group_columns(exits, by)
    out = _curves(
        _grouped(exits, cols),
        cols,
        time="time",
        event="returned",
        unit=unit,
        confidence=confidence,
        conf_type=conf_type,
    )
    out["returned"] = 1.0 - out["survival"].astype(float)
    out.attrs["hxmetrics"] = {
        "measure": "time_to_return",
        "role": role,
        "unit": unit,
        "as_of": str(pd.Timestamp(as_of)),
        "by": cols,
        "confidence": confidence,
        "conf_type": conf_type,
        "excluded": {"episodes_starting_after_as_of": len(left_out)},
    }
    return out
