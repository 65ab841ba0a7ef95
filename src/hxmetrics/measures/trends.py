"""Trends and control charts: a measure per period, its change, and whether the process moved.

:func:`trend` computes one of the grouped measures (``"nps"``, ``"csat"``, ``"ces"``,
``"mean_score"``) per calendar period (``period="M"``: months; any pandas period
alias) with the measure's own statistics and interval (the measure is computed by its
module, never re-implemented here), fills the periods without data with rows of
``n = 0`` and no estimate, and tests each period against the one before it:

* NPS (``method="adjusted_wald"`` or ``"wald"``): the independent-samples test of
  :func:`~hxmetrics.measures.nps.nps_test` on the two periods, the trinomial variance
  ``(p + d - (p - d)²)/n`` of each period (adjusted-Wald proportions and ``n + 3`` for
  the default); with survey weights ``n`` is the effective sample size the NPS
  interval uses (Korn & Graubard 1998), so unit weights give the unweighted test;
* every other measure (and NPS by bootstrap or posterior): the test
  :func:`~hxmetrics.measures.segments.compare_groups` runs on the two periods, a z test
  of ``(e₂ - e₁)/sqrt(se₁² + se₂²)`` for shares and Welch's t test for means.

The p-values of all the changes in the table form one family, adjusted by Holm's
step-down procedure (Holm 1979; ``adjust="holm"``, family-wise error) or Benjamini &
Hochberg's (1995; ``"bh"``, false discovery rate); a change is ``change_significant``
when its adjusted p-value is below ``1 - confidence``.

:func:`control_chart` asks whether a series of periods is one stable process:

* ``"p"``: the p chart for a share (Montgomery 2019, ch. 7): centre ``p̄ = Σ nᵢpᵢ/Σ nᵢ``,
  limits ``p̄ ± 3 sqrt(p̄(1 - p̄)/nᵢ)``, clipped to [0, 1]. It refuses NPS: NPS is the
  difference of two shares of one multinomial (promoters and detractors), whose
  per-answer variance is ``p + d - (p - d)²`` (Rocks 2016), not ``p(1 - p)``.
* ``"laney"``: Laney's (2002) p' chart: ``zᵢ = (xᵢ - x̄)/σᵢ`` with the within-period
  standard error ``σᵢ = sqrt(v/nᵢ)``; ``σ_z = MR̄(z)/1.128`` (the average moving range
  of the z-scores over d₂ = 1.128); limits ``x̄ ± 3 σᵢ σ_z``. Binomial (multinomial)
  data give ``σ_z ≈ 1`` and the p chart; between-period variation widens the limits by
  ``σ_z``. The per-answer variance ``v`` is ``p̄(1 - p̄)`` for a share, the multinomial
  ``P̄ + D̄ - (P̄ - D̄)²`` for NPS, and the pooled within-period variance for a mean.
* ``"xmr"``: the individuals and moving-range chart (Wheeler & Chambers 1992;
  Montgomery 2019, sec. 6.4): limits ``x̄ ± 2.66 MR̄`` (2.66 = 3/d₂), moving-range chart
  upper limit ``D₄ MR̄`` with ``D₄ = 3.267`` (samples of two).

Run rules (Western Electric 1956; Nelson 1984): ``"beyond_limits"``, a point outside
the limits (nominal false-alarm rate per point for 3-sigma limits on a normal process
``2Φ(-3) = 0.0027``); ``"run_of_8"``, a point that ends a run of eight or more
consecutive points on one side of the centre line (a point on the line ends a run;
nominal rate per point ``2 · 2⁻⁸ = 0.0078``, for points with seven predecessors);
``"moving_range"`` (XmR only): a moving range above ``D₄ MR̄``. Periods without an
estimate (empty or suppressed) are not plotted and neither break nor extend a run.

``freeze=`` fixes the limits on a baseline (the first k periods, or the periods up to
a date) and applies them to the periods after it (Montgomery's phase I / phase II).

References
----------
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
Journal of Statistics 6, 65-70.
Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57,
289-300.
Laney, D. B. (2002). Improved control charts for attributes. Quality Engineering
14(4), 531-537.
Montgomery, D. C. (2019). Introduction to Statistical Quality Control, 8th ed. Wiley
(ch. 6: individuals and moving-range charts, d₂ = 1.128 and D₄ = 3.267 for n = 2;
ch. 7: the p chart with variable sample size).
Wheeler, D. J. & Chambers, D. S. (1992). Understanding Statistical Process Control,
2nd ed. SPC Press (XmR charts: natural process limits x̄ ± 2.66 MR̄, URL = 3.268 MR̄).
Western Electric (1956). Statistical Quality Control Handbook (a run of eight
successive points on one side of the centre line).
Nelson, L. S. (1984). The Shewhart control chart: tests for special causes. Journal of
Quality Technology 16(4), 237-239.
Rocks, B. (2016). Interval estimation for the "Net Promoter Score". The American
Statistician 70(4), 365-372 (the trinomial variance of NPS).
Korn, E. L. & Graubard, B. I. (1998). Survey Methodology 24 (effective sample size).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import InputTableError, ParameterError, check_columns, did_you_mean
from hxmetrics.measures._inference import (
    CORRECTIONS,
    adjust_pvalues,
    check_confidence,
    effective_n,
    welch_df,
    z_test,
)
from hxmetrics.measures.nps import _independent, nps_from_statistics, nps_statistics
from hxmetrics.measures.satisfaction import (
    ces_from_statistics,
    ces_statistics,
    csat_from_statistics,
    csat_statistics,
    mean_score_from_statistics,
    mean_score_statistics,
)
from hxmetrics.privacy import check_min_n

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CHART_METHODS",
    "D2",
    "D4",
    "E2",
    "NOMINAL_FALSE_ALARM",
    "RULES",
    "TREND_MEASURES",
    "ControlChart",
    "control_chart",
    "plot_trend",
    "trend",
]

#: Measures :func:`trend` computes per period: name -> (statistics, finish).
TREND_MEASURES: Mapping[str, tuple[Callable[..., pd.DataFrame], Callable[..., pd.DataFrame]]] = {
    "nps": (nps_statistics, nps_from_statistics),
    "csat": (csat_statistics, csat_from_statistics),
    "ces": (ces_statistics, ces_from_statistics),
    "mean_score": (mean_score_statistics, mean_score_from_statistics),
}
CHART_METHODS = ("laney", "xmr", "p")
RULES = ("beyond_limits", "run_of_8", "moving_range")
#: d₂ for moving ranges of two (Montgomery 2019, Appendix VI): E|X₁ - X₂| = 1.128 σ.
D2 = 1.128
#: The XmR limit factor 3/d₂, as published (Wheeler & Chambers 1992; Montgomery 2019).
E2 = 2.66
#: D₄ for samples of two: the moving-range chart's upper limit is D₄ MR̄ (Montgomery 2019).
D4 = 3.267
#: Nominal false-alarm probability per point of a stable normal process: 2Φ(-3) beyond
#: 3-sigma limits; 2 · 2⁻⁸ that a point ends a run of eight on one side (given seven
#: predecessors and the true centre).
NOMINAL_FALSE_ALARM = {"beyond_limits": 0.0026997960632601866, "run_of_8": 0.0078125}
_RUN = 8
_TITLES = {"laney": "Laney p'", "p": "p", "xmr": "XmR"}
_MAX_PERIODS = 1_000_000
# Working columns of the NPS test, dropped before the result is returned.
_HELPERS = frozenset({"suppressed", "_p", "_d", "_n"})
_CHANGE = [
    "change",
    "change_se",
    "change_statistic",
    "change_df",
    "change_p_value",
    "change_p_adjusted",
    "change_significant",
]


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


def _measure_functions(
    measure: Any,
) -> tuple[Callable[..., pd.DataFrame], Callable[..., pd.DataFrame]]:
    if not isinstance(measure, str) or measure not in TREND_MEASURES:
        raise ParameterError(
            f"measure must be one of {', '.join(map(repr, TREND_MEASURES))}; got {measure!r}."
            + did_you_mean(str(measure), TREND_MEASURES)
        )
    return TREND_MEASURES[measure]


def _keywords(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


# Options trend() sets itself: never passed through measure_options.
_OWN = frozenset({"by", "weights", "confidence", "min_n"})


def _route_options(
    measure: str, options: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``measure_options`` between the measure's statistics and finishing steps."""
    statistics, finish = TREND_MEASURES[measure]
    s_keys, f_keys = _keywords(statistics), _keywords(finish)
    known = (set(s_keys) | set(f_keys)) - _OWN
    unknown = sorted(set(options) - known)
    if unknown:
        raise ParameterError(
            f"trend: {measure} takes no option(s) {unknown}; its options are "
            f"{sorted(known)}." + did_you_mean(unknown[0], known)
        )
    required = sorted(
        name
        for name, p in {**s_keys, **f_keys}.items()
        if p.default is inspect.Parameter.empty and name not in _OWN and name not in options
    )
    if required:
        raise ParameterError(
            f"trend: {measure} needs {', '.join(f'{r}=...' for r in required)} (e.g. "
            "scale=(1, 5), box=(4, 5) for CSAT; scale=(1, 7), "
            "polarity='higher_is_easier' for CES)."
        )
    s_opts = {k: v for k, v in options.items() if k in s_keys}
    f_opts = {k: v for k, v in options.items() if k in f_keys}
    return s_opts, f_opts


def _check_period(period: Any) -> str:
    """A pandas period alias with multiple 1 (``"M"``, ``"Q"``, ``"W"``, ``"D"``, ``"Y"``...)."""
    if not isinstance(period, str):
        raise ParameterError(f"period must be a pandas period alias such as 'M'; got {period!r}.")
    try:
        probe = pd.Period("2000-01-01", freq=period)
    except (ValueError, TypeError) as error:
        raise ParameterError(
            f"period {period!r} is not a period pandas knows (e.g. 'D', 'W', 'M', 'Q', "
            f"'Y'): {str(error).splitlines()[0]}"
        ) from None
    if probe.freq.n != 1:
        raise ParameterError(
            f"period must be one calendar unit ('M', 'Q', ...); got {period!r}: pandas labels "
            "each date with its own month, not with a bin of several."
        )
    return str(probe.freqstr)


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    columns = [by] if isinstance(by, str) else list(by)
    if "period" in columns:
        raise ParameterError("by must not name 'period': trend adds the period column itself.")
    return [str(c) for c in columns]


def _periods(frame: pd.DataFrame, timestamp: str, freq: str) -> pd.Series:
    """The period of each row (NaT where the timestamp is missing)."""
    raw = frame[timestamp]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        # Periods are calendar labels: a zoned time keeps its own wall-clock date.
        raw = raw.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        example = raw.dropna().head(1)
        shown = (
            "" if example.empty else f"; e.g. row position {int(np.flatnonzero(raw.notna())[0])}"
        )
        raise InputTableError(
            f"data: the timestamp column {timestamp!r} must hold datetimes; found dtype "
            f"{raw.dtype}{shown}. Hint: convert it with pandas.to_datetime first.",
            table="data",
            failure_cases=pd.DataFrame(
                {
                    "column": [timestamp],
                    "check": ["datetime"],
                    "failure_case": [str(raw.dtype)],
                    "index": [None],
                }
            ),
        )
    return raw.dt.to_period(freq)


# ---------------------------------------------------------------------------
# trend
# ---------------------------------------------------------------------------


def trend(
    data: Any,
    measure: str,
    *,
    score: str = "score",
    period: str = "M",
    by: str | Sequence[str] | None = None,
    timestamp: str = "timestamp",
    weights: str | None = None,
    confidence: float = 0.95,
    adjust: str = "holm",
    min_n: int | None = None,
    **measure_options: Any,
) -> pd.DataFrame:
    """A measure per period with its interval, and the change from the period before.

    The input is converted to pandas at the door
    (:func:`hxmetrics.tables.as_pandas`); the measure itself is computed by its module
    (:func:`~hxmetrics.measures.nps.nps_statistics` and
    :func:`~hxmetrics.measures.nps.nps_from_statistics`, and the same pairs of
    :mod:`~hxmetrics.measures.satisfaction`), grouped by ``by`` and the period.

    Parameters
    ----------
    data : frame
        Any frame narwhals reads (pandas, Polars, DuckDB, PyArrow, ...); one row per
        answer, e.g. the ``responses`` table filtered to one item.
    measure : {"nps", "csat", "ces", "mean_score"}
        The measure per period.
    score : str, default "score"
        The answers' column.
    period : str, default "M"
        A pandas period alias of one unit: ``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``.
    by : str or sequence of str, optional
        Group columns: one series of periods per group.
    timestamp : str, default "timestamp"
        A datetime column (zoned times keep their own wall-clock date). Rows without
        a timestamp are left out and counted in ``attrs["hxmetrics"]["excluded"]
        ["missing_timestamp"]``.
    weights : str, optional
        Survey weights, as the measure takes them.
    confidence : float, default 0.95
        Interval level; a change is significant when its adjusted p-value is below
        ``1 - confidence``.
    adjust : {"holm", "bh", "none"}
        Multiple-comparison adjustment over all the changes of the table.
    min_n : int, optional
        Periods (of a group) with fewer answers are suppressed with their complements
        (:func:`hxmetrics.privacy.suppress`), as the measure does it.
    **measure_options
        The measure's own options: ``method``, ``scale``, ``box``, ``polarity``,
        ``statistic``, ``random_state``, ``n_resamples``, ``prior``.

    Returns
    -------
    pandas.DataFrame
        The measure's grouped result (:mod:`hxmetrics.measures._result`) with the
        group columns ``by`` and ``period`` (pandas ``Period``), one row for every
        period from the first to the last of the data in every group: a period
        without answers is a row with ``n = 0``, no estimate and ``suppressed`` False
        (nothing to hide). Before the ``n_excluded_*`` columns come ``change``
        (this period's estimate minus the previous period's, in the measure's
        units), ``change_se``, ``change_statistic`` (z or t), ``change_df`` (Welch
        t only), ``change_p_value``, ``change_p_adjusted`` and
        ``change_significant`` (nullable boolean); all missing for the first period,
        and for a period or a previous period without an estimate (empty or
        suppressed). ``attrs["hxmetrics"]["trend"]`` records the period, the test,
        the adjustment and the number of empty periods.

    Raises
    ------
    ParameterError
        An unknown measure or option, a period pandas does not know, ``by`` naming
        ``period``.
    InputTableError
        A missing column, a timestamp column that does not hold datetimes, data that
        cover fewer than two periods (there is no change to test), and whatever the
        measure refuses (scores off the scale, bad weights).

    References
    ----------
    Holm, S. (1979). Scandinavian Journal of Statistics 6, 65-70.
    Benjamini, Y. & Hochberg, Y. (1995). JRSS B 57, 289-300.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "score": [10, 9, 3, 8, 10, 0, 9, 9, 10, 10],
    ...     "timestamp": pd.to_datetime(["2025-01-05"] * 4 + ["2025-03-02"] * 6)})
    >>> t = trend(df, "nps", method="wald")
    >>> t[["period", "n", "estimate", "change"]]
        period  n  estimate  change
    0  2025-01  4      25.0     NaN
    1  2025-02  0       NaN     NaN
    2  2025-03  6      66.7     NaN
    """
    statistics, _ = _measure_functions(measure)
    s_opts, f_opts = _route_options(measure, measure_options)
    freq = _check_period(period)
    by_cols = _by_list(by)
    if score == "period" or weights == "period":
        raise ParameterError("score and weights must not be named 'period' (trend's column).")
    from hxmetrics.tables import as_pandas

    frame = as_pandas(data, table="data")
    needed = list(dict.fromkeys([*by_cols, score, timestamp, *([weights] if weights else [])]))
    check_columns([str(c) for c in frame.columns], needed, table="data")
    periods = _periods(frame, timestamp, freq)
    has_time = periods.notna().to_numpy()
    keep = [*by_cols, score, *([weights] if weights else [])]
    work = frame.loc[has_time, list(dict.fromkeys(keep))]
    work = work.assign(period=periods[has_time])
    if not has_time.any():
        raise InputTableError(
            f"data: no row has a {timestamp!r}; a trend needs dated answers.",
            table="data",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    stats = statistics(work, score, by=[*by_cols, "period"], weights=weights, **s_opts)
    return _trend_from_statistics(
        stats,
        measure=measure,
        by=by_cols,
        period=freq,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
        options=f_opts,
        missing_timestamp=int((~has_time).sum()),
    )


def _trend_from_statistics(
    stats: pd.DataFrame,
    *,
    measure: str,
    by: list[str],
    period: str,
    confidence: float = 0.95,
    adjust: str = "holm",
    min_n: int | None = None,
    options: Mapping[str, Any] | None = None,
    missing_timestamp: int = 0,
) -> pd.DataFrame:
    """Finish the measure's statistics per (group, period) into the trend table."""
    if adjust not in CORRECTIONS:
        raise ParameterError(
            f"adjust must be one of {', '.join(map(repr, CORRECTIONS))}; got {adjust!r}."
            + did_you_mean(str(adjust), CORRECTIONS)
        )
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    _, finish = _measure_functions(measure)
    opts = dict(options or {})
    result = finish(stats, confidence=confidence, min_n=min_n, **opts)
    meta = dict(result.attrs["hxmetrics"])
    observed = result["period"]
    first, last = observed.min(), observed.max()
    span = pd.period_range(first, last, freq=period)
    if len(span) < 2:
        raise InputTableError(
            f"data: every dated answer falls in one period ({first}); a trend needs at least "
            "two periods. Choose a shorter period or more data.",
            table="data",
            failure_cases=pd.DataFrame(columns=["column", "check", "failure_case", "index"]),
        )
    if len(span) > _MAX_PERIODS:
        raise ParameterError(
            f"period {period!r} gives {len(span):,} periods from {first} to {last}; choose a "
            "coarser period."
        )
    kind, method = _test_kind(measure, meta)
    if kind == "nps_test":
        _nps_sizes(result, stats, meta, confidence)
    full, added = _complete(result, by, span)
    change = _changes(full, by, kind, method, confidence, adjust)
    for name in _CHANGE:
        full[name] = change[name]
    ordered = [c for c in result.columns if c not in _HELPERS and not _excl(c)]
    ordered += _CHANGE + [c for c in result.columns if _excl(c)] + ["suppressed"]
    full = full[ordered].reset_index(drop=True)
    excluded = dict(meta.get("excluded", {}))
    excluded["missing_timestamp"] = int(missing_timestamp)
    meta["excluded"] = excluded
    meta["trend"] = {
        "period": period,
        "by": list(by),
        "test": kind if kind != "nps_test" else f"nps_test ({method})",
        "adjust": adjust,
        "n_periods": len(span),
        "n_empty": int(added.sum()),
        "first": str(first),
        "last": str(last),
    }
    full.attrs["hxmetrics"] = meta
    return full


def _excl(column: str) -> bool:
    return column.startswith("n_excluded_")


def _test_kind(measure: str, meta: Mapping[str, Any]) -> tuple[str, str]:
    method = str(meta.get("method", ""))
    if measure == "nps" and method in ("adjusted_wald", "wald"):
        return "nps_test", method
    return ("welch" if meta.get("test") == "welch" else "z"), method


def _nps_sizes(
    result: pd.DataFrame, stats: pd.DataFrame, meta: Mapping[str, Any], confidence: float
) -> None:
    """Add ``_p``, ``_d``, ``_n`` (promoter and detractor shares, the n of nps_test)."""
    n = result["n"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if meta.get("weighted"):
            p = result["pct_promoters"].to_numpy(dtype=float) / 100
            d = result["pct_detractors"].to_numpy(dtype=float) / 100
            # The interval's effective n: per-answer variance over the linearised one.
            wald = nps_from_statistics(stats, method="wald", confidence=confidence)
            variance = (wald["se"].to_numpy(dtype=float) / 100) ** 2
            size = effective_n(p + d - (p - d) ** 2, variance, result["n_eff"].to_numpy(float))
        else:
            # Exactly nps_test's shares: counts over n.
            p = result["promoters"].to_numpy(dtype=float, na_value=np.nan) / n
            d = result["detractors"].to_numpy(dtype=float, na_value=np.nan) / n
            size = n
    result["_p"], result["_d"], result["_n"] = p, d, size


def _complete(
    result: pd.DataFrame, by: list[str], span: pd.PeriodIndex
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every (group, period) of the span; empty periods get n = 0 and no estimate."""
    periods = pd.DataFrame({"period": span})
    if by:
        groups = result[by].drop_duplicates().reset_index(drop=True)
        grid = groups.merge(periods, how="cross")
    else:
        grid = periods
    full = grid.merge(result, on=[*by, "period"], how="left", indicator="_merge", sort=False)
    added = (full.pop("_merge") == "left_only").to_numpy()
    if added.any():
        full.loc[added, "measure"] = str(result["measure"].iloc[0])
        for column in result.columns:
            if isinstance(result[column].dtype, pd.Int64Dtype):
                full.loc[added, column] = 0
        full.loc[added, "suppressed"] = False
        if "_n" in full.columns:
            full.loc[added, "_n"] = 0.0
    for column in result.columns:
        if column in full.columns and column not in by:
            full[column] = full[column].astype(result[column].dtype)
    return full, added


def _changes(
    full: pd.DataFrame,
    by: list[str],
    kind: str,
    method: str,
    confidence: float,
    adjust: str,
) -> dict[str, Any]:
    """Change from the previous period of the same group, its test and adjustment."""
    size = len(full)
    est = full["estimate"].to_numpy(dtype=float)
    se = full["se"].to_numpy(dtype=float)
    n = full["n"].to_numpy(dtype=float, na_value=np.nan)
    shown = ~full["suppressed"].to_numpy(dtype=bool)
    usable = shown & np.isfinite(est) & np.isfinite(se) & (n > 0)
    if by:
        group = full.groupby(by, dropna=False, sort=False).ngroup().to_numpy()
    else:
        group = np.zeros(size, dtype=np.int64)
    cur = np.arange(1, size)
    prev = cur - 1
    pair = (group[cur] == group[prev]) & usable[cur] & usable[prev]
    cur, prev = cur[pair], prev[pair]
    out = {name: np.full(size, np.nan) for name in _CHANGE[:-1]}
    diff = est[cur] - est[prev]
    if kind == "nps_test":
        p, d, m = (full[c].to_numpy(dtype=float) for c in ("_p", "_d", "_n"))
        # nps_test(a=this period, b=the previous one): the same arithmetic, vectorised.
        centre, se_p = _independent(m[cur], p[cur], d[cur], m[prev], p[prev], d[prev], method)
        stat, pval = z_test(centre, se_p)
        se_diff = 100 * se_p
        df = np.full(cur.size, np.nan)
    else:
        se_diff = np.sqrt(se[cur] ** 2 + se[prev] ** 2)
        if kind == "welch":
            # compare_groups' Welch test, term for term.
            df = welch_df(se[cur], n[cur], se[prev], n[prev])
            with np.errstate(invalid="ignore", divide="ignore"):
                stat = diff / se_diff
            stat = np.where(se_diff == 0, np.where(diff == 0, 0.0, np.copysign(np.inf, diff)), stat)
            from scipy import stats as sps  # imported when used: scipy.stats costs ~0.4 s

            pval = 2 * sps.t.sf(np.abs(stat), np.where(np.isfinite(df), df, np.inf))
        else:
            df = np.full(cur.size, np.nan)
            stat, pval = z_test(diff, se_diff)
    out["change"][cur] = diff
    out["change_se"][cur] = se_diff
    out["change_statistic"][cur] = stat
    out["change_df"][cur] = df
    out["change_p_value"][cur] = pval
    adjusted = adjust_pvalues(out["change_p_value"], adjust)
    out["change_p_adjusted"] = adjusted
    alpha = round(1.0 - confidence, 12)
    flag = pd.array(adjusted < alpha, dtype="boolean")
    flag[np.isnan(adjusted)] = pd.NA
    result: dict[str, Any] = dict(out)
    result["change_significant"] = flag
    return result


# ---------------------------------------------------------------------------
# control charts
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ControlChart(DataclassDisplay):
    """A control chart of one series of periods (the result of :func:`control_chart`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per period: ``period``, ``n``, ``value`` (the estimate, in the
        measure's units; NaN for an empty or suppressed period), ``centre``, ``lcl``,
        ``ucl``, ``baseline`` (the period is in the baseline the limits were computed
        on), ``z`` (p and Laney: ``(value - centre)/σᵢ``), ``moving_range`` (of ``z``
        for Laney, of ``value`` for XmR), ``mr_ucl`` (XmR), one ``signal_<rule>``
        column per rule and ``signal`` (any rule).
    method : str
        ``"laney"``, ``"p"`` or ``"xmr"``.
    measure : str
        The measure charted.
    centre : float
        The centre line (the baseline's pooled estimate; its mean for XmR).
    sigma_z : float
        Laney's σ_z (average moving range of the baseline's z-scores / 1.128); 1 for
        the p chart; NaN for XmR.
    mr_bar : float
        The baseline's average moving range (of z for Laney, of the values for XmR;
        NaN for the p chart).
    baseline_periods : int
        Periods in the baseline (all of them unless ``freeze`` was given).
    rules : tuple of str
        The run rules applied.
    unit_variance : float
        The per-answer variance the p and Laney limits use (NaN for XmR), in squared
        proportion units for shares and NPS.
    """

    table: pd.DataFrame
    method: str
    measure: str
    centre: float
    sigma_z: float
    mr_bar: float
    baseline_periods: int
    rules: tuple[str, ...]
    unit_variance: float

    @property
    def signals(self) -> pd.DataFrame:
        """The periods with a signal of any rule."""
        return self.table.loc[self.table["signal"]].reset_index(drop=True)

    def plot(self, *, ax: Axes | None = None, moving_range: bool = False) -> Axes:
        """Draw the chart: values, centre line, limits, signals, the baseline's end.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure if omitted).
        moving_range : bool, default False
            Draw the moving-range chart instead (XmR only).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from hxmetrics.plotting import PALETTE, _axes, style

        ax = _axes(ax, 6.4, 3.6)
        table = self.table
        x = table["period"].dt.start_time.to_numpy()
        with style():
            if moving_range:
                if self.method != "xmr":
                    raise ParameterError("moving_range=True draws the XmR moving-range chart.")
                mr = table["moving_range"].to_numpy(dtype=float)
                ax.plot(x, mr, marker="o", color=PALETTE[0], linewidth=1)
                ax.axhline(self.mr_bar, color="grey", linewidth=1)
                ax.plot(x, table["mr_ucl"], color="firebrick", linestyle="--", linewidth=1)
                ax.set_ylabel("moving range")
            else:
                value = table["value"].to_numpy(dtype=float)
                ax.plot(x, value, marker="o", markersize=3, color=PALETTE[0], linewidth=1)
                ax.plot(x, table["centre"], color="grey", linewidth=1)
                for limit in ("lcl", "ucl"):
                    ax.step(x, table[limit], where="mid", color="firebrick", linestyle="--", lw=1)
                flagged = table["signal"].to_numpy(dtype=bool)
                ax.scatter(x[flagged], value[flagged], color="firebrick", zorder=3, s=25)
                ax.set_ylabel(self.measure)
            in_base = table["baseline"].to_numpy(dtype=bool)
            if in_base.any() and not in_base.all():
                ax.axvline(x[np.flatnonzero(in_base)[-1]], color="grey", linestyle=":")
            ax.set_xlabel("period")
            ax.set_title(f"{_TITLES[self.method]} chart of {self.measure}")
        return ax


def control_chart(
    data_or_trend: Any,
    *,
    method: str = "laney",
    measure: str | None = None,
    freeze: int | str | dt.date | pd.Timestamp | pd.Period | None = None,
    rules: Sequence[str] = ("beyond_limits", "run_of_8"),
    score: str = "score",
    period: str = "M",
    timestamp: str = "timestamp",
    weights: str | None = None,
    min_n: int | None = None,
    **measure_options: Any,
) -> ControlChart:
    """Control chart of a measure over periods: p, Laney p' or XmR, with run rules.

    Parameters
    ----------
    data_or_trend : frame
        A :func:`trend` result of one group (filter the rows of a grouped trend to
        one group: the rows keep their attrs), or the answers themselves, from which
        the trend is computed with ``measure``, ``score``, ``period``, ``timestamp``,
        ``weights``, ``min_n`` and ``measure_options``.
    method : {"laney", "xmr", "p"}
        See the module notes. ``"p"`` is for shares only (CSAT, CES as a share) and
        refuses NPS, whose variance is the multinomial one; ``"laney"`` uses it.
    measure : str, optional
        Required with answers; with a trend it must match the trend's measure.
    freeze : int or date, optional
        The baseline the limits are computed on and frozen at: the first ``freeze``
        periods, or the periods up to the one containing the date. Default: every
        period.
    rules : sequence of {"beyond_limits", "run_of_8", "moving_range"}
        Run rules to flag; ``"moving_range"`` needs ``method="xmr"``.

    Returns
    -------
    ControlChart

    Raises
    ------
    ParameterError
        An unknown method or rule, a p chart of NPS or of a mean, a grouped trend of
        several groups, a ``freeze`` before or beyond the data or with fewer than two
        estimates in the baseline, a measure that differs from the trend's.
    InputTableError
        As :func:`trend` (bad columns; fewer than two periods).

    References
    ----------
    Laney, D. B. (2002). Quality Engineering 14(4), 531-537.
    Montgomery, D. C. (2019). Introduction to Statistical Quality Control, 8th ed.
    Wheeler, D. J. & Chambers, D. S. (1992). Understanding Statistical Process Control.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730, 4000), "D")
    >>> df = pd.DataFrame({"score": rng.integers(0, 11, 4000), "timestamp": stamps})
    >>> chart = control_chart(df, measure="nps", method="laney", freeze=12)
    >>> chart.baseline_periods, len(chart.table)
    (12, 24)
    >>> bool(0.5 < chart.sigma_z < 1.5)
    True
    """
    if method not in CHART_METHODS:
        raise ParameterError(
            f"method must be one of {', '.join(map(repr, CHART_METHODS))}; got {method!r}."
            + did_you_mean(str(method), CHART_METHODS)
        )
    rules = _check_rules(rules, method)
    series = _series(
        data_or_trend,
        measure=measure,
        score=score,
        period=period,
        timestamp=timestamp,
        weights=weights,
        min_n=min_n,
        options=measure_options,
    )
    meta = series.attrs["hxmetrics"]
    name = str(meta["measure"])
    base = _baseline(series, freeze)
    value = series["estimate"].to_numpy(dtype=float)
    weighted = bool(meta.get("weighted")) and "n_eff" in series.columns
    size_col = "n_eff" if weighted else "n"
    n = series[size_col].to_numpy(dtype=float, na_value=np.nan)
    usable = np.isfinite(value) & (n > 0) & ~series["suppressed"].to_numpy(dtype=bool)
    if int((usable & base).sum()) < 2:
        raise ParameterError(
            "the baseline holds fewer than two periods with an estimate; control limits "
            "need at least two (give a later freeze, or more data)."
        )
    table = pd.DataFrame(
        {
            "period": series["period"].to_numpy(),
            "n": series["n"].to_numpy(),
            "value": np.where(usable, value, np.nan),
        }
    )
    table["period"] = table["period"].astype(series["period"].dtype)
    if method == "xmr":
        centre, lcl, ucl, extra, mr_bar, sigma_z, unit_var = _xmr(value, usable, base)
    else:
        centre, lcl, ucl, extra, mr_bar, sigma_z, unit_var = _attribute(
            series, name, method, value, n, usable, base
        )
    table["centre"] = centre
    table["lcl"] = np.where(np.isfinite(lcl), lcl, np.nan)
    table["ucl"] = ucl
    table["baseline"] = base
    for key, column in extra.items():
        table[key] = column
    flags = _signals(table, usable, rules)
    for rule, flag in flags.items():
        table[f"signal_{rule}"] = flag
    table["signal"] = np.any(np.column_stack(list(flags.values())), axis=1)
    return ControlChart(
        table=table,
        method=method,
        measure=name,
        centre=float(centre),
        sigma_z=float(sigma_z),
        mr_bar=float(mr_bar),
        baseline_periods=int(base.sum()),
        rules=rules,
        unit_variance=float(unit_var),
    )


def _check_rules(rules: Any, method: str) -> tuple[str, ...]:
    if isinstance(rules, str):
        rules = (rules,)
    chosen = tuple(dict.fromkeys(str(r) for r in rules))
    for rule in chosen:
        if rule not in RULES:
            raise ParameterError(
                f"unknown rule {rule!r}; rules are {', '.join(map(repr, RULES))}."
                + did_you_mean(rule, RULES)
            )
    if "moving_range" in chosen and method != "xmr":
        raise ParameterError("the 'moving_range' rule belongs to the XmR chart (method='xmr').")
    if not chosen:
        raise ParameterError("rules must name at least one rule, e.g. ('beyond_limits',).")
    return chosen


def _series(
    data: Any,
    *,
    measure: str | None,
    score: str,
    period: str,
    timestamp: str,
    weights: str | None,
    min_n: int | None,
    options: Mapping[str, Any],
) -> pd.DataFrame:
    """The one series of periods to chart, from a trend or from answers."""
    meta = data.attrs.get("hxmetrics") if isinstance(data, pd.DataFrame) else None
    if isinstance(meta, dict) and "trend" in meta:
        if measure is not None and measure != meta.get("measure"):
            raise ParameterError(
                f"measure={measure!r}, but the trend is of {meta.get('measure')!r}."
            )
        if options:
            raise ParameterError(
                f"options {sorted(options)} were given with a trend; they belong to trend()."
            )
        series = data.reset_index(drop=True)
        series.attrs["hxmetrics"] = meta
        by = list(meta["trend"]["by"])
        if by and len(series[by].drop_duplicates()) > 1:
            raise ParameterError(
                f"the trend holds several groups of {by}; a control chart is of one series: "
                "select one group's rows first (e.g. t[t['team'] == 'a'])."
            )
    else:
        if measure is None:
            raise ParameterError(
                "control_chart needs measure= ('nps', 'csat', 'ces' or 'mean_score') "
                "when given answers rather than a trend."
            )
        series = trend(
            data,
            measure,
            score=score,
            period=period,
            timestamp=timestamp,
            weights=weights,
            min_n=min_n,
            **options,
        )
    if len(series) < 2:
        raise ParameterError("a control chart needs at least two periods.")
    return series


def _baseline(series: pd.DataFrame, freeze: Any) -> np.ndarray:
    size = len(series)
    if freeze is None:
        return np.ones(size, dtype=bool)
    if isinstance(freeze, bool):
        raise ParameterError(f"freeze must be a number of periods or a date; got {freeze!r}.")
    if isinstance(freeze, int | np.integer):
        k = int(freeze)
        if k < 2:
            raise ParameterError(f"freeze must be at least 2 periods; got {k}.")
        if k > size:
            raise ParameterError(
                f"freeze={k} periods, but the series has only {size}; the baseline must lie "
                "within the data."
            )
        return np.arange(size) < k
    periods = series["period"]
    try:
        when = freeze.start_time if isinstance(freeze, pd.Period) else pd.Timestamp(freeze)
    except (ValueError, TypeError):
        raise ParameterError(
            f"freeze must be a number of periods or a date; got {freeze!r}."
        ) from None
    if when.tzinfo is not None:
        when = when.tz_localize(None)
    starts = periods.dt.start_time.to_numpy()
    ends = periods.dt.end_time.to_numpy()
    if when < starts[0]:
        raise ParameterError(
            f"freeze={freeze!r} is before the first period ({periods.iloc[0]}): the baseline "
            "would be empty."
        )
    if when > ends[-1]:
        raise ParameterError(
            f"freeze={freeze!r} is after the last period ({periods.iloc[-1]}): the baseline "
            "must lie within the data."
        )
    base: np.ndarray = starts <= np.datetime64(when)
    return base


def _moving_ranges(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """|xᵢ - x_prev| between consecutive usable points (NaN elsewhere and at the first)."""
    out = np.full(values.size, np.nan)
    idx = np.flatnonzero(usable)
    if idx.size > 1:
        out[idx[1:]] = np.abs(values[idx[1:]] - values[idx[:-1]])
    return out


def _mr_bar(values: np.ndarray, usable: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, float]:
    mr = _moving_ranges(values, usable & base)
    within = mr[np.isfinite(mr)]
    return _moving_ranges(values, usable), float(within.mean())


def _xmr(
    value: np.ndarray, usable: np.ndarray, base: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, dict[str, Any], float, float, float]:
    centre = float(value[usable & base].mean())
    mr, mr_bar = _mr_bar(value, usable, base)
    size = value.size
    lcl = np.full(size, centre - E2 * mr_bar)
    ucl = np.full(size, centre + E2 * mr_bar)
    extra = {"moving_range": mr, "mr_ucl": np.full(size, D4 * mr_bar)}
    return centre, lcl, ucl, extra, mr_bar, np.nan, np.nan


def _attribute(
    series: pd.DataFrame,
    name: str,
    method: str,
    value: np.ndarray,
    n: np.ndarray,
    usable: np.ndarray,
    base: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray, dict[str, Any], float, float, float]:
    """p and Laney p' charts: centre, limits and z-scores in the measure's units."""
    use = usable & base
    w = n[use]
    share = "in_box" in series.columns
    if name == "nps":
        if method == "p":
            raise ParameterError(
                "the p chart is for one share; NPS is a difference of two shares of one "
                "multinomial (promoters minus detractors), with per-answer variance "
                "p + d - (p - d)², not p(1 - p). Use method='laney' (it uses the "
                "multinomial variance) or method='xmr'."
            )
        pro = series["pct_promoters"].to_numpy(dtype=float)[use] / 100
        det = series["pct_detractors"].to_numpy(dtype=float)[use] / 100
        p_bar, d_bar = float(w @ pro / w.sum()), float(w @ det / w.sum())
        centre = p_bar - d_bar
        unit_var = p_bar + d_bar - centre**2
        scale, bounds = 100.0, (-1.0, 1.0)
    elif share:
        centre = float(w @ (value[use] / 100) / w.sum())
        unit_var = centre * (1 - centre)
        scale, bounds = 100.0, (0.0, 1.0)
    else:
        if method == "p":
            raise ParameterError(
                f"the p chart is for a share; {name} here is a mean. Use method='laney' "
                "(pooled within-period variance) or method='xmr'."
            )
        centre = float(w @ value[use] / w.sum())
        sd = series["sd"].to_numpy(dtype=float)[use]
        ok = np.isfinite(sd) & (w > 1)
        unit_var = float(((w[ok] - 1) * sd[ok] ** 2).sum() / (w[ok] - 1).sum())
        lo, hi = series.attrs["hxmetrics"].get("bounds", (-np.inf, np.inf))
        scale, bounds = 1.0, (float(lo), float(hi))
    x = value / scale
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(unit_var / n)
        z = np.where(usable, (x - centre) / sigma, np.nan)
    if method == "laney":
        mr, mr_bar = _mr_bar(z, usable, base)
        sigma_z = mr_bar / D2
    else:
        mr, mr_bar, sigma_z = _moving_ranges(z, usable), np.nan, 1.0
    half = 3 * sigma * sigma_z
    with np.errstate(invalid="ignore"):
        lcl = np.clip(centre - half, *bounds) * scale
        ucl = np.clip(centre + half, *bounds) * scale
    extra = {"z": z, "moving_range": mr}
    return centre * scale, lcl, ucl, extra, mr_bar, sigma_z, unit_var


def _run_lengths(side: np.ndarray) -> np.ndarray:
    """Length so far of the run of equal non-zero signs each position ends (0 on a 0)."""
    size = side.size
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(size, dtype=bool)
    start[1:] = side[1:] != side[:-1]
    run = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    length = np.arange(size) - first[run] + 1
    return np.where(side != 0, length, 0)


def _signals(table: pd.DataFrame, usable: np.ndarray, rules: tuple[str, ...]) -> dict[str, Any]:
    value = table["value"].to_numpy(dtype=float)
    flags: dict[str, Any] = {}
    for rule in rules:
        if rule == "beyond_limits":
            lcl, ucl = table["lcl"].to_numpy(float), table["ucl"].to_numpy(float)
            with np.errstate(invalid="ignore"):
                flag = usable & ((value > ucl) | (value < lcl))
        elif rule == "run_of_8":
            idx = np.flatnonzero(usable)
            side = np.sign(value[idx] - table["centre"].to_numpy(float)[idx])
            flag = np.zeros(value.size, dtype=bool)
            flag[idx] = _run_lengths(side) >= _RUN
        else:
            mr = table["moving_range"].to_numpy(float)
            with np.errstate(invalid="ignore"):
                flag = np.isfinite(mr) & (mr > table["mr_ucl"].to_numpy(float))
        flags[rule] = np.asarray(flag, dtype=bool)
    return flags


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------


def plot_trend(result: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw a :func:`trend`: the estimate per period with its interval, per group.

    Significant changes (after the adjustment) are ringed; empty and suppressed
    periods leave a gap.

    Parameters
    ----------
    result : pandas.DataFrame
        A :func:`trend` result.
    ax : matplotlib Axes, optional
        Where to draw (a new figure if omitted).

    Returns
    -------
    matplotlib.axes.Axes
    """
    meta = result.attrs.get("hxmetrics") if isinstance(result, pd.DataFrame) else None
    if not isinstance(meta, dict) or "trend" not in meta:
        raise ParameterError("plot_trend needs the result of trend(), unchanged.")
    from hxmetrics.plotting import PALETTE, _axes, style

    ax = _axes(ax, 6.4, 3.6)
    by = list(meta["trend"]["by"])
    parts = result.groupby(by, dropna=False, sort=False) if by else [((), result)]
    with style():
        for i, (keys, part) in enumerate(parts):
            color = PALETTE[i % len(PALETTE)]
            x = part["period"].dt.start_time.to_numpy()
            est = part["estimate"].to_numpy(dtype=float)
            label = ", ".join(str(k) for k in (keys if isinstance(keys, tuple) else (keys,)))
            ax.plot(x, est, marker="o", markersize=3, color=color, label=label or None)
            ax.fill_between(
                x,
                part["ci_low"].to_numpy(dtype=float),
                part["ci_high"].to_numpy(dtype=float),
                color=color,
                alpha=0.15,
                linewidth=0,
            )
            sig = part["change_significant"].fillna(False).to_numpy(dtype=bool)
            ax.scatter(x[sig], est[sig], s=60, facecolors="none", edgecolors=color, zorder=3)
        ax.set_xlabel("period")
        ax.set_ylabel(str(meta["measure"]))
        if by:
            ax.legend()
    return ax
