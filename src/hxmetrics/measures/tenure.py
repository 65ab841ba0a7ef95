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
  are available. :func:`kaplan_meier` returns its table. ``quantile(q, transform=)``
  gives any quantile with the interval of Brookmeyer & Crowley (1982) on five scales
  (as statsmodels' ``quantile_ci``; R survival's ``quantile.survfit`` or statsmodels'
  reading of the step curve), ``survival_at(times)`` S(t) with its interval (SLA
  attainment is 1 - S(t)), ``restricted_mean(horizon)`` the area under the curve with
  R's standard error.
* :func:`km_quantiles`, :func:`km_survival_at`, :func:`km_restricted_mean`: the same
  numbers for many groups at once from arrays (one sort, no model per group): the
  engine of the responsiveness measures.
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

import bisect
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import (
    HxWarning,
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
    "km_quantiles",
    "km_restricted_mean",
    "km_survival_at",
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
#: Transforms of the Brookmeyer-Crowley quantile interval (statsmodels' ``quantile_ci``
#: ``method=``; R survival's ``conf.type`` "log", "log-log", "plain", "arcsin", "logit").
TRANSFORMS = ("log", "cloglog", "linear", "asinsqrt", "logit")
#: Whose rule reads a quantile and its interval off the curve (see :meth:`KaplanMeier.quantile`).
CONVENTIONS = ("survival", "statsmodels")
#: The transform of each pointwise interval scale (``conf_type``).
TRANSFORM_OF_CONF_TYPE = {"log": "log", "log-log": "cloglog", "plain": "linear"}
# "The curve is at p" within this tolerance: R survival's sqrt(.Machine$double.eps), in
# quantile.survfit (findq) and print.survfit (survmean's minmin).
_TOL = math.sqrt(float(np.finfo(np.float64).eps))
# Up to this many groups a Python loop over them (a few numpy calls each) is faster than
# vectorised passes over all rows.
_LOOP_GROUPS = 2048


@dataclass(frozen=True)
class _Curves:
    """Kaplan-Meier curves of one or more groups, stacked: one row per distinct time.

    Rows ``bounds[g]:bounds[g + 1]`` are group ``g``'s, sorted by time. ``var_log`` is
    Greenwood's variance of log S (the cumulative sum of d / (n (n - d))); it is
    infinite from the row where the curve reaches 0.
    """

    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    survival: np.ndarray
    var_log: np.ndarray
    bounds: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.bounds) - 1

    def row_groups(self) -> np.ndarray:
        """Group number of each row."""
        return np.repeat(np.arange(self.n_groups), np.diff(self.bounds))

    def last_times(self) -> np.ndarray:
        """Largest time of each group (censored or not; NaN for an empty group)."""
        ends = self.bounds[1:]
        out = np.full(self.n_groups, np.nan)
        full = ends > self.bounds[:-1]
        out[full] = self.time[ends[full] - 1]
        return out

    def events_only(self, *, counts: bool = True) -> _Curves:
        """The rows with events (where the curve and its interval change).

        ``counts=False`` leaves out the counts (empty arrays): the quantiles and the
        median need only times, survival and variance.
        """
        rows = np.flatnonzero(self.n_events > 0)
        none = np.zeros(0)
        return _Curves(
            self.time[rows],
            self.n_at_risk[rows] if counts else none,
            self.n_events[rows] if counts else none,
            self.n_censored[rows] if counts else none,
            self.survival[rows],
            self.var_log[rows],
            np.searchsorted(rows, self.bounds),
        )


def _accumulate(
    func: Any, values: np.ndarray, bounds: np.ndarray, *, reverse: bool = False
) -> np.ndarray:
    """``func`` (np.cumsum, np.cumprod) within each group, from the end if ``reverse``.

    A loop over the groups: a running sum differenced at the group starts would lose
    the precision of small groups after large ones (and an infinite Greenwood term,
    where a curve reaches 0, would spill into the next group).
    """
    if len(bounds) == 2:
        return func(values[::-1])[::-1] if reverse else func(values)
    out = np.empty_like(values)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if reverse:
            out[a:b] = func(values[a:b][::-1])[::-1]
        else:
            func(values[a:b], out=out[a:b])
    return out


def _km_curves(
    t: np.ndarray,
    e: np.ndarray,
    w: np.ndarray | None,
    codes: np.ndarray | None = None,
    n_groups: int = 1,
) -> _Curves:
    """Product-limit curves of checked arrays, per group of ``codes`` (0..n_groups-1).

    One sort does the work. The durations' IEEE bit patterns sort as the durations do
    (all are >= 0, and -0.0 is made +0.0), so the sort key is the pattern shifted left
    with the censoring flag in the lowest bit: without weights or groups a plain
    ``np.sort`` of these integers (vectorised in numpy) replaces ``np.unique`` with
    ``return_inverse`` (an argsort) and two ``bincount``. With weights the key is
    argsorted (stably); with groups, the groups are put in order first (a radix sort)
    and each group's keys sorted in place.
    """
    n = len(t)
    grouped = codes is not None and n_groups > 1
    if n == 0:
        empty = np.zeros(0)
        return _Curves(empty, empty, empty, empty, empty, empty, np.zeros(n_groups + 1, int))
    # The shift drops the sign bit, so -0.0 sorts (and reads back) as +0.0.
    key = t.view(np.uint64) << np.uint64(1)
    key |= ~e
    obs_edges: np.ndarray | None = None  # where each group starts in the sorted keys
    ws: np.ndarray | None = None
    if grouped:
        assert codes is not None
        # The groups in order first (a radix sort for 16-bit codes, stable), then each
        # group's keys sorted in place (with weights: stably, carrying the weights).
        small = codes.astype(np.uint16) if n_groups <= np.iinfo(np.uint16).max else codes
        order = np.argsort(small, kind="stable")
        skey = key[order]
        ws = None if w is None else w[order]
        edges = [0, *np.cumsum(np.bincount(codes, minlength=n_groups)).tolist()]
        obs_edges = np.array(edges)
        for a, b in itertools.pairwise(edges):
            if ws is None:
                skey[a:b].sort()
            else:
                inner = np.argsort(skey[a:b], kind="stable")
                skey[a:b] = skey[a:b][inner]
                ws[a:b] = ws[a:b][inner]
    elif w is None:
        skey = np.sort(key)
    else:
        # Stable with weights: tied weights are then added in the order given, as
        # np.bincount adds them (the same sums to the last bit as before).
        order = np.argsort(key, kind="stable")
        skey = key[order]
        ws = w[order]
    # A new time where the keys differ in more than the censoring bit.
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.greater(skey[1:] ^ skey[:-1], 1, out=new[1:])
    if obs_edges is not None:
        new[obs_edges[:-1][obs_edges[:-1] < n]] = True
    starts = np.flatnonzero(new)
    distinct = len(starts) == n
    time = ((skey if distinct else skey[starts]) >> np.uint64(1)).view(np.float64)
    group_end: Any = n  # where each row's group ends in the sorted durations
    if obs_edges is not None:
        bounds = np.searchsorted(starts, obs_edges)
        group_end = np.repeat(obs_edges[1:], np.diff(bounds))
    else:
        bounds = np.array([0, len(starts)])
    censored = skey & np.uint64(1)
    if ws is None and distinct and obs_edges is None:
        # Every time distinct (continuous durations): one observation per row.
        c = censored.astype(float)
        d = 1.0 - c
        at_risk = np.arange(n, 0, -1, dtype=float)
        surv, var_log = _curve_stats(at_risk, d, bounds, positive=True)
    elif ws is None:
        # Counts as floats (exact below 2**53): censored ones from a running count.
        cum = np.empty(n + 1, dtype=np.float64)
        cum[0] = 0.0
        np.cumsum(censored, out=cum[1:])
        pos = np.append(starts, n)
        c = np.diff(cum[pos])
        d = np.diff(pos).astype(float) - c
        at_risk = (group_end - starts).astype(float)
        # Every row holds a duration, so n >= 1: no guard needed (the same numbers).
        surv, var_log = _curve_stats(at_risk, d, bounds, positive=True)
    else:
        flag = censored.astype(bool)
        row = np.cumsum(new) - 1
        # bincount adds in order (reduceat adds pairwise): the sums of before, exactly.
        d = np.bincount(row, weights=ws * ~flag, minlength=len(starts)).astype(float)
        c = np.bincount(row, weights=ws * flag, minlength=len(starts)).astype(float)
        at_risk = _accumulate(np.cumsum, d + c, bounds, reverse=True)
        surv, var_log = _curve_stats(at_risk, d, bounds)
    return _Curves(time, at_risk, d, c, surv, var_log, bounds)


def _curve_stats(
    at_risk: np.ndarray, d: np.ndarray, bounds: np.ndarray, *, positive: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Survival (product of 1 - d/n) and Greenwood's variance of its log, per group.

    ``positive``: every n > 0 (no weights), so 1 - d/n and d / (n (n - d)) need no
    guard (d = 0 gives exactly 0 there); with weights a row may have n = 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if positive:
            factor = 1.0 - d / at_risk
            term = d / (at_risk * (at_risk - d))
        else:
            factor = np.where(at_risk > 0, 1.0 - d / at_risk, 1.0)
            term = np.where(d > 0, d / (at_risk * (at_risk - d)), 0.0)
    return _accumulate(np.cumprod, factor, bounds), _accumulate(np.cumsum, term, bounds)


def _band(
    surv: np.ndarray, sigma: np.ndarray, z: float, transform: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval of S on the transform's scale (R survival's survfit_confint).

    ``sigma`` is the standard error of log S. Each interval is the set of p with
    |g(S) - g(p)| <= z |g'(S)| se(S), the test statsmodels' ``quantile_ci`` inverts.
    NaN where the curve has reached 0; (1, 1) before the first event.
    """
    return _band_side(surv, sigma, -z, transform), _band_side(surv, sigma, z, transform)


def _band_side(surv: np.ndarray, sigma: np.ndarray, zs: float, transform: str) -> np.ndarray:
    """The lower (``zs`` = -z) or upper (``zs`` = z) curve of :func:`_band`."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if transform == "log":
            out = surv * np.exp(zs * sigma)
            if zs > 0:
                out = np.minimum(out, 1.0)
        elif transform == "linear":
            out = np.clip(surv + zs * (surv * sigma), 0, 1)
        elif transform == "cloglog":
            log_s = np.log(surv)
            out = np.exp(-np.exp(np.log(-log_s) - zs * (sigma / np.abs(log_s))))
        elif transform == "logit":
            half = zs * sigma / (1.0 - surv)
            out = 1.0 - 1.0 / (1.0 + np.exp(np.log(surv / (1.0 - surv)) + half))
        else:  # asinsqrt: R's "arcsin"
            half = 0.5 * zs * sigma * np.sqrt(surv / (1.0 - surv))
            angle = np.arcsin(np.sqrt(surv)) + half
            out = np.sin(np.minimum(np.pi / 2, angle) if zs > 0 else np.maximum(0.0, angle)) ** 2
        if transform != "log" and transform != "linear":
            out = np.where(surv >= 1.0, 1.0, out)
    dead = ~(sigma < np.inf) | (surv <= 0)  # sigma is infinite once S reaches 0
    return np.where(dead, np.nan, out) if dead.any() else out


def _table(curves: _Curves, *, z: float, conf_type: str) -> pd.DataFrame:
    """The :data:`KM_COLUMNS` table of a single curve."""
    surv = curves.survival
    sigma = np.sqrt(curves.var_log)
    low, high = _band(surv, sigma, z, TRANSFORM_OF_CONF_TYPE[conf_type])
    with np.errstate(invalid="ignore"):
        se = surv * sigma
    dead = (surv <= 0) | ~np.isfinite(sigma)
    return pd.DataFrame(
        {
            "time": curves.time,
            "n_at_risk": curves.n_at_risk,
            "n_events": curves.n_events,
            "n_censored": curves.n_censored,
            "survival": surv,
            "se": np.where(dead, np.nan, se),
            "ci_low": low,
            "ci_high": high,
        }
    )


def _first_per_group(mask: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Row of the first True of ``mask`` in each group (rows sorted by group); -1 if none."""
    rows = np.flatnonzero(mask)
    out = np.full(n_groups, -1, dtype=np.int64)
    if len(rows):
        g = groups[rows]
        first = np.r_[True, g[1:] != g[:-1]]
        out[g[first]] = rows[first]
    return out


def _last_per_group(mask: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Row of the last True of ``mask`` in each group; -1 if none."""
    rows = np.flatnonzero(mask)
    out = np.full(n_groups, -1, dtype=np.int64)
    if len(rows):
        g = groups[rows]
        last = np.r_[g[1:] != g[:-1], True]
        out[g[last]] = rows[last]
    return out


def _pick(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]``, NaN where ``rows`` is -1."""
    out = np.full(len(rows), np.nan)
    ok = rows >= 0
    out[ok] = x[rows[ok]]
    return out


def _smallest_at_least(
    y: np.ndarray, floor: float, groups: np.ndarray, bounds: np.ndarray
) -> np.ndarray:
    """Per group, the first row holding the smallest ``y`` >= ``floor`` (-1 if none).

    R's ``approx(y, 1:n, p, method="constant", f=1)`` after ``duplicated(y)`` is
    dropped: for a monotone ``y`` the first row at or above ``floor``; for a band that
    rises again, the row of the smallest value at or above it.
    """
    n_groups = len(bounds) - 1
    vals = np.where(y >= floor, y, np.inf)  # NaN compares False
    if n_groups <= _LOOP_GROUPS:  # one argmin per group beats five passes over all rows
        out = np.full(n_groups, -1, dtype=np.int64)
        for g, (a, b) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
            if b > a:
                row = a + int(np.argmin(vals[a:b]))
                if vals[row] < np.inf:
                    out[g] = row
        return out
    full = np.flatnonzero(np.diff(bounds) > 0)
    smallest = np.full(n_groups, np.inf)
    if len(full):
        smallest[full] = np.minimum.reduceat(vals, bounds[full])
    return _first_per_group(np.isfinite(vals) & (vals == smallest[groups]), groups, n_groups)


def _findq(
    x: np.ndarray, cdf: np.ndarray, bounds: np.ndarray, p: float, last: np.ndarray
) -> np.ndarray:
    """R survival's ``quantile.survfit`` rule (its ``findq``), on rows with events.

    The first time the distribution 1 - S reaches ``p``; where it equals ``p`` over an
    interval (within R's tolerance), the midpoint of that interval; where it equals
    ``p`` to the end of follow-up, the midpoint of the time it got there and the last
    time observed (``last``, censored or not). NaN if it never gets to ``p``.
    """
    groups = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    rows = _smallest_at_least(cdf, p - _TOL, groups, bounds)
    at = _pick(x, rows)
    level = _pick(cdf, rows)
    beyond = at  # where the curve passes p (no stretch at p): the same row
    tie = level < p + _TOL
    if tie.any():
        beyond = np.where(tie, _pick(x, _smallest_at_least(cdf, p + _TOL, groups, bounds)), at)
    out = (at + beyond) / 2.0
    ends = bounds[1:] - 1
    has = ends >= bounds[:-1]
    final = np.full(len(ends), np.nan)
    final[has] = cdf[ends[has]]
    flat_to_end = np.abs(p - final) < _TOL
    out = np.where(flat_to_end, (at + last) / 2.0, out)
    return np.where(p < _TOL, np.nan, out)


def _quantile_one(
    x: np.ndarray,
    surv: np.ndarray,
    var_log: np.ndarray,
    last: float,
    qs: np.ndarray,
    *,
    z: float,
    transform: str,
) -> np.ndarray:
    """:func:`_findq` for one curve and its interval, the interval's curves computed
    only over the rows that can hold the answer (the same numbers, less work).

    With F = 1 - S nondecreasing: 1 - upper <= F, so the upper limit lies where F >=
    p - tol; 1 - lower >= F, so once F exceeds the value of 1 - lower at the first row
    with F >= p - tol, no later row can hold a smaller one. At a tie (a curve at p
    over a stretch) the whole curve is searched, as :func:`_findq` does.
    """
    n = len(x)
    out = np.full((3, len(qs)), np.nan)
    if n == 0:
        return out

    def cdf(s: float) -> float:
        return 1.0 - s

    def side(lo: int, hi: int, zs: float) -> np.ndarray:
        return 1.0 - _band_side(surv[lo:hi], np.sqrt(var_log[lo:hi]), zs, transform)

    final = {-z: float(side(n - 1, n, -z)[0]), z: float(side(n - 1, n, z)[0])}
    whole: dict[float, np.ndarray] = {}
    for j, p in enumerate(qs.tolist()):
        out[0, j] = _findq_monotone(x, surv, p, last)
        if p < _TOL:
            continue
        first = bisect.bisect_left(surv, p - _TOL, key=cdf)
        end = n
        if first < n:
            level = float(side(first, first + 1, -z)[0])
            if level == level:  # not NaN
                end = bisect.bisect_right(surv, level, key=cdf)
        windows = {-z: (0, end), z: (first, n)}
        for k, zs in ((1, -z), (2, z)):
            lo, hi = windows[zs]
            value = _findq_window(x, side(lo, hi, zs), lo, p, last, final[zs])
            if value is None:
                if zs not in whole:
                    whole[zs] = side(0, n, zs)
                bounds = np.array([0, n])
                value = float(_findq(x, whole[zs], bounds, p, np.array([last]))[0])
            out[k, j] = value
    return out


def _findq_window(
    x: np.ndarray, cdf: np.ndarray, offset: int, p: float, last: float, final: float
) -> float | None:
    """:func:`_findq` on rows ``offset:`` known to hold the answer; None at a tie."""
    vals = np.where(cdf >= p - _TOL, cdf, np.inf)
    row = int(np.argmin(vals)) if len(vals) else 0
    if not len(vals) or not vals[row] < np.inf:
        return math.nan
    if vals[row] < p + _TOL:
        return None  # at p over a stretch: R looks past it
    if abs(p - final) < _TOL:
        return float((x[offset + row] + last) / 2.0)
    return float(x[offset + row])


def _findq_monotone(x: np.ndarray, surv: np.ndarray, p: float, last: float) -> float:
    """:func:`_findq` on one monotone curve by bisection (the same comparisons)."""
    n = len(surv)
    if n == 0 or p < _TOL:
        return math.nan

    def cdf(s: float) -> float:
        return 1.0 - s

    at = bisect.bisect_left(surv, p - _TOL, key=cdf)
    if at == n:
        return math.nan
    if abs(p - cdf(surv[-1])) < _TOL:  # at p to the end of follow-up
        return float((x[at] + last) / 2.0)
    beyond = bisect.bisect_left(surv, p + _TOL, key=cdf)
    return math.nan if beyond == n else float((x[at] + x[beyond]) / 2.0)


def _median_one(
    x: np.ndarray, surv: np.ndarray, var_log: np.ndarray, *, z: float, transform: str
) -> tuple[float, float, float]:
    """:func:`_minmin` of one curve and of its interval's curves, the interval's curves
    computed only where they can first fall to 0.5 (the same numbers, less work).

    The lower curve is below S, so it gets there no later than S does (row m); the
    upper curve is above S, so not before m. A curve at 0.5 (a tie) is searched whole.
    """
    n = len(x)
    bounds = np.array([0, n])
    est = float(_minmin(x, surv, bounds)[0])
    if n == 0:
        return est, math.nan, math.nan
    m = bisect.bisect_right(surv, -(0.5 + _TOL), key=lambda s: -s)  # first S < 0.5 + tol
    limits = []
    for zs, (lo, hi) in ((-z, (0, min(m + 1, n))), (z, (m, n))):
        band = _band_side(surv[lo:hi], np.sqrt(var_log[lo:hi]), zs, transform)
        below = band < 0.5 + _TOL
        row = int(np.argmax(below)) if len(below) else 0
        if not len(below) or not below[row]:
            limits.append(math.nan)
        elif abs(band[row] - 0.5) < _TOL:  # at 0.5: where it falls further, searched whole
            whole = _band_side(surv, np.sqrt(var_log), zs, transform)
            limits.append(float(_minmin(x, whole, bounds)[0]))
        else:
            limits.append(float(x[lo + row]))
    return est, limits[0], limits[1]


def _minmin(x: np.ndarray, y: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """R survival's ``print.survfit`` median rule (``survmean``'s ``minmin``).

    The first time the curve is at or below 0.5; if it is 0.5 there (within R's
    tolerance) and falls further later, the midpoint of that time and the time it
    first falls below. NaN if it never gets to 0.5.
    """
    n_groups = len(bounds) - 1
    if n_groups == 1:  # one curve (a model's median): stop at the first crossing
        below = y < 0.5 + _TOL
        i = int(np.argmax(below)) if len(y) else 0
        if not len(y) or not below[i]:
            return np.array([np.nan])
        if abs(y[i] - 0.5) < _TOL:
            later = y[i + 1 :] < y[i]
            j = int(np.argmax(later)) if len(later) else 0
            if len(later) and later[j]:
                return np.array([(x[i] + x[i + 1 + j]) / 2.0])
        return np.array([x[i]])
    groups = np.repeat(np.arange(n_groups), np.diff(bounds))
    first = _first_per_group(y < 0.5 + _TOL, groups, n_groups)
    at = _pick(x, first)
    level = _pick(y, first)
    after = np.arange(len(y)) > first[groups]
    lower = _first_per_group(after & (y < level[groups]), groups, n_groups)
    tie = (np.abs(level - 0.5) < _TOL) & (lower >= 0)
    return np.where(tie, (at + _pick(x, lower)) / 2.0, at)


def _g(x: np.ndarray | float, transform: str) -> Any:
    """statsmodels' g-transformation of ``quantile_ci`` (and its derivative, below)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "cloglog":
            return np.log(-np.log(x))
        if transform == "linear":
            return x
        if transform == "log":
            return np.log(x)
        if transform == "logit":
            return np.log(x / (1.0 - np.asarray(x)))
        return np.arcsin(np.sqrt(x))


def _g_prime(x: np.ndarray, transform: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "cloglog":
            return -1.0 / (x * np.log(x))
        if transform == "linear":
            return np.ones_like(x)
        if transform == "log":
            return 1.0 / x
        if transform == "logit":
            return 1.0 / (x * (1.0 - x))
        return 1.0 / (2.0 * np.sqrt(x) * np.sqrt(1.0 - x))


def _quantile_table(
    curves: _Curves, qs: np.ndarray, *, z: float, transform: str, convention: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates and Brookmeyer-Crowley limits, arrays of shape (groups, quantiles)."""
    last = curves.last_times()
    ev = curves.events_only(counts=False)
    n_groups = ev.n_groups
    shape = (n_groups, len(qs))
    est, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    sigma = np.sqrt(ev.var_log)
    groups = ev.row_groups()
    if convention == "survival" and n_groups == 1:
        est[0], low[0], high[0] = _quantile_one(
            ev.time, ev.survival, ev.var_log, float(last[0]), qs, z=z, transform=transform
        )
        return est, low, high
    if convention == "survival":
        band_low, band_high = _band(ev.survival, sigma, z, transform)
        cdf_low, cdf_high = 1.0 - band_low, 1.0 - band_high
        few = n_groups <= _LOOP_GROUPS
        cdf = None if few else 1.0 - ev.survival
        edges = list(zip(ev.bounds[:-1].tolist(), ev.bounds[1:].tolist(), strict=True))
        for j, p in enumerate(qs.tolist()):
            if cdf is None:  # the estimate by bisection of each curve (S is monotone)
                est[:, j] = [
                    _findq_monotone(ev.time[a:b], ev.survival[a:b], p, last[g])
                    for g, (a, b) in enumerate(edges)
                ]
            else:
                est[:, j] = _findq(ev.time, cdf, ev.bounds, p, last)
            low[:, j] = _findq(ev.time, cdf_low, ev.bounds, p, last)
            high[:, j] = _findq(ev.time, cdf_high, ev.bounds, p, last)
        return est, low, high
    # statsmodels' SurvfuncRight.quantile and quantile_ci: the first event time with
    # S < 1 - p, and the event times where |g(S) - g(1 - p)| / (g'(S) se(S)) <= z; the
    # upper limit is the event time after the last accepted one (inf if it is the last).
    with np.errstate(invalid="ignore", divide="ignore"):
        se = ev.survival * sigma
        g_s = _g(ev.survival, transform)
        scale = _g_prime(ev.survival, transform) * se
    for j, p in enumerate(qs.tolist()):
        est[:, j] = _pick(ev.time, _first_per_group(ev.survival < 1 - p, groups, n_groups))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (g_s - _g(1 - p, transform)) / scale
        accepted = np.abs(r) <= z
        low[:, j] = _pick(ev.time, _first_per_group(accepted, groups, n_groups))
        last_ok = _last_per_group(accepted, groups, n_groups)
        after = np.where(last_ok >= 0, last_ok + 1, -1)
        to_end = (last_ok >= 0) & (after >= ev.bounds[1:])
        high[:, j] = np.where(to_end, np.inf, _pick(ev.time, np.where(to_end, -1, after)))
    return est, low, high


def _survival_table(
    curves: _Curves, at: np.ndarray, *, z: float, transform: str
) -> dict[str, np.ndarray]:
    """S, its se and pointwise interval at the times ``at``, per group (rows g-major).

    Right-continuous: S(t) is the curve just after the last distinct time <= t (1
    before the first); after the last time the last value carries on (R's
    ``summary(survfit, times=, extend=TRUE)``).
    """
    n_groups = curves.n_groups
    # after: the first row after t (S(t) is the row before it); from: the first row at
    # or after t (the durations >= t are at risk at t, as R's summary counts them).
    after = np.empty((n_groups, len(at)), dtype=np.int64)
    from_ = np.empty((n_groups, len(at)), dtype=np.int64)
    for g in range(n_groups):
        a, b = int(curves.bounds[g]), int(curves.bounds[g + 1])
        after[g] = a + np.searchsorted(curves.time[a:b], at, side="right")
        from_[g] = a + np.searchsorted(curves.time[a:b], at, side="left")
    nxt = after.ravel()
    first = from_.ravel()
    starts = np.repeat(curves.bounds[:-1], len(at))
    ends = np.repeat(curves.bounds[1:], len(at))
    before = nxt <= starts
    if len(curves.time) == 0:  # no durations: nothing is known
        surv, var, risk = np.full(len(nxt), np.nan), np.zeros(len(nxt)), np.zeros(len(nxt))
    else:
        top = len(curves.time) - 1
        row = np.clip(nxt - 1, 0, top)
        surv = np.where(before, 1.0, curves.survival[row])
        var = np.where(before, 0.0, curves.var_log[row])
        risk = np.where(first < ends, curves.n_at_risk[np.minimum(first, top)], 0.0)
    sigma = np.sqrt(var)
    low, high = _band(surv, sigma, z, transform)
    with np.errstate(invalid="ignore"):
        se = np.where((surv <= 0) | ~np.isfinite(sigma), np.nan, surv * sigma)
    return {
        "time": np.tile(at, n_groups),
        "n_at_risk": risk,
        "survival": surv,
        "se": se,
        "ci_low": low,
        "ci_high": high,
    }


def _restricted_means(curves: _Curves, horizon: float) -> dict[str, np.ndarray]:
    """Area under each curve up to ``horizon`` and its se (R survival's ``survmean``).

    var = sum over event times t_j <= horizon of A_j^2 d_j / (n_j (n_j - d_j)), A_j the
    area between t_j and the horizon (a term is 0 where n_j = d_j, as in R).
    """
    ev = curves.events_only()
    keep = ev.time <= horizon
    rows = np.flatnonzero(keep)
    bounds = np.searchsorted(rows, ev.bounds)
    t, s = ev.time[rows], ev.survival[rows]
    n, d = ev.n_at_risk[rows], ev.n_events[rows]
    nxt = np.append(t[1:], horizon)
    nxt[bounds[1:][np.diff(bounds) > 0] - 1] = horizon  # each group's last: to the horizon
    rect = (nxt - t) * s
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    area_after = _accumulate(np.cumsum, rect, bounds, reverse=True)
    n_groups = ev.n_groups
    first = np.full(n_groups, float(horizon))
    full = np.diff(bounds) > 0
    first[full] = t[bounds[:-1][full]]
    mean = first.copy()
    var = np.zeros(n_groups)
    if len(rows):
        nonempty = bounds[:-1][full]
        mean[full] += np.add.reduceat(rect, nonempty)
        var[full] = np.add.reduceat(area_after**2 * hh, nonempty)
    last = curves.last_times()
    end_surv = np.ones(n_groups)
    lastrow = curves.bounds[1:] - 1
    has = curves.bounds[1:] > curves.bounds[:-1]
    end_surv[has] = curves.survival[lastrow[has]]
    beyond = has & ~(horizon <= last) & (end_surv > 0)
    mean[~has] = np.nan  # a group without durations (only an empty input) tells nothing
    var[~has] = np.nan
    return {"estimate": mean, "se": np.sqrt(var), "beyond_follow_up": beyond}


def _checked_arrays(
    durations: Any, events: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Durations (float64, contiguous), events (bool) and weights (None if not given)."""
    t = np.ascontiguousarray(np.asarray(durations, dtype=float).ravel())
    e = np.ones(len(t), dtype=bool) if events is None else np.asarray(events).astype(bool).ravel()
    if not len(t) == len(e):
        raise ParameterError("durations, events and weights must have the same length.")
    # min/max are single vectorised passes; a NaN makes both comparisons False.
    if len(t) and not (t.min() >= 0 and t.max() < np.inf):
        raise ParameterError("durations must be finite and >= 0.")
    if weights is None:
        return t, e, None
    w = np.asarray(weights, dtype=float).ravel()
    if len(w) != len(t):
        raise ParameterError("durations, events and weights must have the same length.")
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
    default of Stata and lifelines) and ``"plain"`` are available.

    Quantiles (:meth:`quantile`) carry the interval of Brookmeyer & Crowley (1982):
    the times at which the hypothesis S(t) = 1 - q is not rejected, on the scale of
    a transform (``"log"``, R's default and ours; ``"cloglog"``, statsmodels'
    default; ``"linear"``, ``"asinsqrt"``, ``"logit"``). Two conventions read them
    off the step curve; they differ only where the curve (or an interval's curve)
    equals 1 - q exactly over a stretch, or where an interval's curve rises again:

    * ``"survival"`` (the default) is R survival's ``quantile.survfit``: the first
      time the curve is at or below 1 - q, the midpoint of the stretch where it equals
      1 - q; the limits read the same way off the pointwise interval's curves.
    * ``"statsmodels"`` is statsmodels' ``SurvfuncRight.quantile`` and
      ``quantile_ci`` (and SAS LIFETEST's): the first event time with S < 1 - q; the
      limits are the first event time not rejected and the event time after the
      last one not rejected (``inf`` if that is the last event time).

    ``median_`` and ``median_ci_`` are R's ``print.survfit`` (its ``survmean``) on
    the ``conf_type`` scale: the same as ``quantile(0.5, transform=...)`` with the
    ``"survival"`` convention, except that where the curve stays at 0.5 to the end
    of follow-up ``print.survfit`` gives the time it got there (``quantile.survfit``
    the midpoint with the last time) and that, where an interval's curve crosses 0.5
    more than once, ``print.survfit`` takes the first crossing.

    :meth:`survival_at` gives S(t) with its interval (SLA attainment is 1 - S(t));
    :meth:`restricted_mean` the area under the curve up to a horizon (R's
    ``print(survfit, rmean=)``). :func:`km_quantiles`, :func:`km_survival_at` and
    :func:`km_restricted_mean` compute the same for many groups at once, without a
    model per group.

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
        First time the curve is at or below 0.5 (NaN if it never gets there; the
        midpoint where it equals 0.5 over a stretch, as R's ``print.survfit``).
    median_ci_ : tuple of float
        The median's interval read the same way off the pointwise interval's curves
        (NaN where the interval's curve stays above 0.5).
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
        self._curves: _Curves | None = None
        self._params: pd.DataFrame | None = None
        self._median: tuple[float, float, float] | None = None
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
        self._set_curves(_km_curves(t, e, w))
        self.unit_ = unit
        return self

    def _set_curves(self, curves: _Curves) -> None:
        self._curves = curves
        # The table and the median are computed when first asked for.
        self._params = None
        self._median = None
        self._z = z_critical(self.confidence)
        self.n_ = float(curves.n_events.sum() + curves.n_censored.sum())
        self.n_events_ = float(curves.n_events.sum())

    def _median_and_limits(self) -> tuple[float, float, float] | None:
        if self._curves is None:
            return None
        if self._median is None:
            ev = self._curves.events_only(counts=False)
            self._median = _median_one(
                ev.time, ev.survival, ev.var_log, z=self._z, transform=self._transform
            )
        return self._median

    @property
    def median_(self) -> float | None:
        """First time the curve is at or below 0.5 (R's ``print.survfit``); None
        before :meth:`fit`."""
        median = self._median_and_limits()
        return None if median is None else median[0]

    @property
    def median_ci_(self) -> tuple[float, float] | None:
        """The median's interval (R's ``print.survfit``); None before :meth:`fit`."""
        median = self._median_and_limits()
        return None if median is None else (median[1], median[2])

    @property
    def _transform(self) -> str:
        return TRANSFORM_OF_CONF_TYPE[self.conf_type]

    def _fitted_curves(self) -> _Curves:
        if self._curves is None:
            raise ParameterError(
                "KaplanMeier is not fitted yet: call fit(durations, events) first, or "
                "from_dict(...) to restore a fitted model."
            )
        return self._curves

    def _fitted(self) -> pd.DataFrame:
        curves = self._fitted_curves()
        if self._params is None:
            self._params = _table(curves, z=self._z, conf_type=self.conf_type)
        return self._params

    @property
    def params_(self) -> pd.DataFrame | None:
        """The estimated curve (:data:`KM_COLUMNS`, one row per distinct time); None
        before :meth:`fit`."""
        return None if self._curves is None else self._fitted()

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

    def quantile(
        self,
        q: float | Sequence[float] = 0.5,
        *,
        transform: str = "log",
        convention: str = "survival",
    ) -> pd.DataFrame:
        """Quantiles of the time to the event with Brookmeyer-Crowley intervals.

        The q-quantile is the time by which a share q has had the event (the curve
        falls to 1 - q): ``q=0.5`` is the median, ``q=0.9`` the time by which 90% have.

        Parameters
        ----------
        q : float or sequence of float, default 0.5
            Probabilities, each strictly between 0 and 1.
        transform : {"log", "cloglog", "linear", "asinsqrt", "logit"}, default "log"
            Scale of the test inverted for the interval (statsmodels' ``quantile_ci``
            ``method=``; R's ``conf.type`` "log", "log-log", "plain", "arcsin",
            "logit"). The level is the model's ``confidence``.
        convention : {"survival", "statsmodels"}, default "survival"
            R survival's ``quantile.survfit`` or statsmodels' ``SurvfuncRight``
            (see the class notes; they differ only at exact ties and where an
            interval's curve rises again: with "cloglog", "logit" or "asinsqrt" at a
            high level on few events R's rule can then put a limit on the wrong
            side of the estimate, and so does ours, as R does).

        Returns
        -------
        pandas.DataFrame
            One row per q: ``quantile`` (q), ``estimate``, ``ci_low``, ``ci_high``
            (in the durations' unit; NaN where the curve, or the interval's curve,
            never falls to 1 - q; ``inf`` upper limits only with the statsmodels
            convention). ``attrs["hxmetrics"]``: ``measure``, ``confidence``,
            ``transform``, ``convention``, ``unit``.

        Examples
        --------
        >>> km = KaplanMeier().fit([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
        ...                        [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
        >>> km.quantile([0.25, 0.5])
           quantile  estimate  ci_low  ci_high
        0      0.25      18.0    13.0      NaN
        1      0.50      31.0    18.0      NaN
        """
        curves = self._fitted_curves()
        qs = _probabilities(q)
        check_choice("transform", transform, TRANSFORMS)
        check_choice("convention", convention, CONVENTIONS)
        est, low, high = _quantile_table(
            curves, qs, z=self._z, transform=transform, convention=convention
        )
        out = pd.DataFrame(
            {"quantile": qs, "estimate": est[0], "ci_low": low[0], "ci_high": high[0]}
        )
        out.attrs["hxmetrics"] = {
            "measure": "kaplan_meier_quantile",
            "confidence": self.confidence,
            "transform": transform,
            "convention": convention,
            "unit": self.unit_,
        }
        return out

    def survival_at(self, times: float | Sequence[float]) -> pd.DataFrame:
        """The survival at given times, with its se and pointwise interval.

        A step lookup (right-continuous: at an event time, the value just after it);
        before the first time S = 1; after the last time the last value carries on,
        as R's ``summary(survfit, times=, extend=TRUE)`` (``n_at_risk`` then says 0).
        The share that has had the event by t (an SLA's attainment) is 1 - S(t),
        with the interval 1 - ``ci_high`` to 1 - ``ci_low``.

        Parameters
        ----------
        times : float or sequence of float
            Times (>= 0) in the durations' unit.

        Returns
        -------
        pandas.DataFrame
            One row per time: ``time``, ``n_at_risk`` (weight of durations >= t),
            ``survival``, ``se`` (Greenwood), ``ci_low``, ``ci_high`` (on the model's
            ``conf_type`` scale and ``confidence``).

        Examples
        --------
        >>> km = KaplanMeier().fit([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
        ...                        [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
        >>> km.survival_at([0, 13, 20]).round(3)
           time  n_at_risk  survival     se  ci_low  ci_high
        0   0.0       11.0     1.000  0.000   1.000      1.0
        1  13.0       10.0     0.818  0.116   0.619      1.0
        2  20.0        7.0     0.716  0.140   0.488      1.0
        """
        curves = self._fitted_curves()
        at = _checked_times(times, "times")
        out = pd.DataFrame(_survival_table(curves, at, z=self._z, transform=self._transform))
        out.attrs["hxmetrics"] = {
            "measure": "kaplan_meier_survival",
            "confidence": self.confidence,
            "conf_type": self.conf_type,
            "unit": self.unit_,
        }
        return out

    def restricted_mean(self, horizon: float | Sequence[float]) -> pd.DataFrame:
        """Restricted mean time to the event: the area under the curve up to a horizon.

        The mean of min(T, horizon), estimable under censoring where the mean is not.
        Its se is R's (``print(survfit(...), rmean=horizon)``, ``survival:::survmean``):
        the sum over event times t <= horizon of A(t)^2 d / (n (n - d)), A(t) the area
        from t to the horizon. The interval is the Wald interval at ``confidence``.
        A horizon after the last time observed (with the curve above 0 there) extends
        the curve flat, as R does, and warns (:class:`~hxmetrics.errors.HxWarning`).

        Parameters
        ----------
        horizon : float or sequence of float
            Horizons (> 0) in the durations' unit.

        Returns
        -------
        pandas.DataFrame
            One row per horizon: ``horizon``, ``estimate``, ``se``, ``ci_low``,
            ``ci_high``.

        Examples
        --------
        >>> km = KaplanMeier().fit([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
        ...                        [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
        >>> km.restricted_mean(40).round(2)  # R: rmean 28.8977, se(rmean) 3.46758
           horizon  estimate    se  ci_low  ci_high
        0     40.0      28.9  3.47    22.1    35.69
        """
        curves = self._fitted_curves()
        rows = [_restricted_means(curves, h) for h in _checked_times(horizon, "horizon")]
        beyond = [
            float(h)
            for h, r in zip(np.atleast_1d(horizon), rows, strict=True)
            if r["beyond_follow_up"][0]
        ]
        if beyond:
            warnings.warn(
                f"restricted_mean: horizon {beyond[0]:g} is after the last time observed "
                f"({curves.time[-1]:g}); the curve is extended flat to it (as R does), "
                "an assumption. Use a horizon within the follow-up.",
                HxWarning,
                stacklevel=2,
            )
        est = np.array([r["estimate"][0] for r in rows])
        se = np.array([r["se"][0] for r in rows])
        out = pd.DataFrame(
            {
                "horizon": _checked_times(horizon, "horizon"),
                "estimate": est,
                "se": se,
                "ci_low": est - self._z * se,
                "ci_high": est + self._z * se,
            }
        )
        out.attrs["hxmetrics"] = {
            "measure": "restricted_mean",
            "confidence": self.confidence,
            "unit": self.unit_,
        }
        return out

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
        if self._curves is None:
            return "KaplanMeier"
        unit = f" {self.unit_}" if self.unit_ else ""
        median = self.median_ if self.median_ is not None else math.nan
        shown = f"{median:.4g}{unit}" if math.isfinite(median) else "not reached"
        return f"KaplanMeier: n = {self.n_:g}, events = {self.n_events_:g}, median = {shown}"

    def _display_notes(self) -> Sequence[str]:
        if self._curves is None or self.median_ci_ is None:
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
        cols = {
            c: np.array([np.nan if v is None else v for v in table[c]], dtype=float)
            for c in ("time", "n_at_risk", "n_events", "n_censored")
        }
        # The curve is recomputed from the counts, as fit computes it: the same numbers.
        bounds = np.array([0, len(cols["time"])])
        surv, var_log = _curve_stats(cols["n_at_risk"], cols["n_events"], bounds)
        model._set_curves(
            _Curves(
                cols["time"],
                cols["n_at_risk"],
                cols["n_events"],
                cols["n_censored"],
                surv,
                var_log,
                bounds,
            )
        )
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


def _probabilities(q: Any) -> np.ndarray:
    """``q`` (a float or a sequence) as an array of probabilities in (0, 1)."""
    try:
        qs = np.atleast_1d(np.asarray(q, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise ParameterError(
            f"q must be a probability or a list of them, e.g. q=(0.5, 0.9); got {q!r}."
        ) from None
    if len(qs) == 0 or not np.all((qs > 0) & (qs < 1)):
        raise ParameterError(
            f"q must lie strictly between 0 and 1 (0.5 is the median), e.g. q=(0.5, 0.9); "
            f"got {q!r}."
        )
    return qs


def _checked_times(times: Any, name: str) -> np.ndarray:
    try:
        at = np.atleast_1d(np.asarray(times, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be numbers (>= 0); got {times!r}.") from None
    if len(at) == 0 or not np.all(np.isfinite(at) & (at >= 0)):
        raise ParameterError(f"{name} must be finite numbers >= 0; got {times!r}.")
    return at


def _grouped_curves(
    durations: Any, events: Any, weights: Any, groups: Any
) -> tuple[_Curves, pd.Index | None]:
    """Checked arrays to curves, one per group label (sorted), and the labels."""
    t, e, w = _checked_arrays(durations, events, weights)
    if groups is None:
        return _km_curves(t, e, w), None
    labels = np.asarray(groups).ravel()
    if len(labels) != len(t):
        raise ParameterError(
            f"groups must have one label per duration ({len(t)}); got {len(labels)}."
        )
    codes, uniques = pd.factorize(labels, sort=True, use_na_sentinel=False)
    return _km_curves(t, e, w, codes, len(uniques)), pd.Index(uniques, name="group")


def _with_groups(
    columns: dict[str, np.ndarray], labels: pd.Index | None, per_group: int
) -> pd.DataFrame:
    if labels is None:
        return pd.DataFrame(columns)
    return pd.DataFrame({"group": np.repeat(labels.to_numpy(), per_group), **columns})


def km_quantiles(
    durations: Any,
    events: Any = None,
    *,
    groups: Any = None,
    weights: Any = None,
    q: float | Sequence[float] = (0.5, 0.9),
    confidence: float = 0.95,
    transform: str = "log",
    convention: str = "survival",
) -> pd.DataFrame:
    """Kaplan-Meier quantiles with Brookmeyer-Crowley intervals, for many groups at once.

    The numbers of :meth:`KaplanMeier.quantile`, per group, from arrays: one sort of
    all the durations, no model and no table per group (vectorised numpy; for
    millions of durations in thousands of groups).

    Parameters
    ----------
    durations : array-like
        Time to the event or to censoring (>= 0).
    events : array-like of bool, optional
        True where the event was observed, False where censored (default: all).
    groups : array-like, optional
        A group label per duration (a team, a severity, ...); one curve per label.
    weights : array-like, optional
        Case weights (>= 0).
    q : float or sequence of float, default (0.5, 0.9)
        Probabilities strictly between 0 and 1.
    confidence : float, default 0.95
    transform : {"log", "cloglog", "linear", "asinsqrt", "logit"}, default "log"
    convention : {"survival", "statsmodels"}, default "survival"
        As in :meth:`KaplanMeier.quantile`.

    Returns
    -------
    pandas.DataFrame
        One row per group and q: ``group`` (only with ``groups=``, labels sorted),
        ``quantile``, ``estimate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> km_quantiles([2, 4, 4, 6, 8, 1, 3, 5, 7, 9], [1, 1, 0, 1, 0, 1, 1, 1, 1, 0],
    ...              groups=list("aaaaabbbbb"), q=0.5)
      group  quantile  estimate  ci_low  ci_high
    0     a       0.5       6.0     4.0      NaN
    1     b       0.5       5.0     3.0      NaN
    """
    confidence = check_confidence(confidence)
    check_choice("transform", transform, TRANSFORMS)
    check_choice("convention", convention, CONVENTIONS)
    qs = _probabilities(q)
    curves, labels = _grouped_curves(durations, events, weights, groups)
    est, low, high = _quantile_table(
        curves, qs, z=z_critical(confidence), transform=transform, convention=convention
    )
    columns = {
        "quantile": np.tile(qs, curves.n_groups),
        "estimate": est.ravel(),
        "ci_low": low.ravel(),
        "ci_high": high.ravel(),
    }
    return _with_groups(columns, labels, len(qs))


def km_survival_at(
    durations: Any,
    events: Any = None,
    *,
    times: float | Sequence[float],
    groups: Any = None,
    weights: Any = None,
    confidence: float = 0.95,
    transform: str = "log",
) -> pd.DataFrame:
    """Kaplan-Meier survival at given times with its interval, for many groups at once.

    The numbers of :meth:`KaplanMeier.survival_at` per group (``transform`` maps to
    ``conf_type``: "log" is "log", "cloglog" "log-log", "linear" "plain"; "asinsqrt"
    and "logit" are R's "arcsin" and "logit"). SLA attainment at t is 1 - S(t).

    Parameters
    ----------
    durations, events, groups, weights, confidence, transform
        As in :func:`km_quantiles`.
    times : float or sequence of float
        Times (>= 0) in the durations' unit.

    Returns
    -------
    pandas.DataFrame
        One row per group and time: ``group`` (with ``groups=``), ``time``,
        ``n_at_risk``, ``survival``, ``se``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> km_survival_at([2, 4, 4, 6, 8], [1, 1, 0, 1, 0], times=[3, 6]).round(3)
       time  n_at_risk  survival     se  ci_low  ci_high
    0   3.0        4.0      0.80  0.179   0.516      1.0
    1   6.0        2.0      0.30  0.239   0.063      1.0
    """
    confidence = check_confidence(confidence)
    check_choice("transform", transform, TRANSFORMS)
    at = _checked_times(times, "times")
    curves, labels = _grouped_curves(durations, events, weights, groups)
    columns = _survival_table(curves, at, z=z_critical(confidence), transform=transform)
    return _with_groups(columns, labels, len(at))


def km_restricted_mean(
    durations: Any,
    events: Any = None,
    *,
    horizon: float,
    groups: Any = None,
    weights: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Restricted mean time to the event up to ``horizon``, for many groups at once.

    The numbers of :meth:`KaplanMeier.restricted_mean` per group (R's
    ``print(survfit(...), rmean=horizon)``), with a Wald interval. No warning here:
    ``beyond_follow_up`` says where the horizon is after a group's last time observed
    (the curve then extended flat, as R does).

    Parameters
    ----------
    durations, events, groups, weights, confidence
        As in :func:`km_quantiles`.
    horizon : float
        The horizon (> 0) in the durations' unit.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group`` (with ``groups=``), ``horizon``, ``estimate``,
        ``se``, ``ci_low``, ``ci_high``, ``beyond_follow_up``.

    Examples
    --------
    >>> km_restricted_mean([2, 4, 4, 6, 8], [1, 1, 0, 1, 0], horizon=6).round(3)
       horizon  estimate     se  ci_low  ci_high  beyond_follow_up
    0      6.0       4.8  0.716   3.398    6.202             False
    """
    confidence = check_confidence(confidence)
    (h,) = _checked_times(horizon, "horizon")
    curves, labels = _grouped_curves(durations, events, weights, groups)
    res = _restricted_means(curves, h)
    z = z_critical(confidence)
    columns = {
        "horizon": np.full(curves.n_groups, h),
        "estimate": res["estimate"],
        "se": res["se"],
        "ci_low": res["estimate"] - z * res["se"],
        "ci_high": res["estimate"] + z * res["se"],
        "beyond_follow_up": res["beyond_follow_up"],
    }
    return _with_groups(columns, labels, 1)


def _cutoff(as_of: Any) -> pd.Timestamp:
    """``as_of`` as a timestamp; :class:`ParameterError` if missing or not a date."""
    example = "e.g. as_of='2024-12-31' (the censoring date; tenure never assumes today)"
    if as_of is None:
        raise ParameterError(f"as_of is required: {example}.")
    return _as_date(as_of, example=example)


def _as_date(as_of: Any, *, example: str) -> pd.Timestamp:
    """A given ``as_of`` as a timestamp, or :class:`ParameterError` naming ``example``
    (shared by the censored-time measures: tenure, responsiveness)."""
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
