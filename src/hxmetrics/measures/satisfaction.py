"""Satisfaction measures: CSAT (top-box share), CES (customer effort) and item means.

* :func:`csat`: the share of answers in a *box* of a rating scale, both given
  explicitly (e.g. ``scale=(1, 5), box=(4, 5)``: top-2-box CSAT), in percent, with
  a Wilson (default), Agresti-Coull adjusted Wald or Wald interval.
* :func:`ces`: customer effort on an explicit scale and polarity. CES 2.0 (Dixon,
  Toman & DeLisi 2013) asks for agreement with "the company made it easy" on 1-7,
  7 = easiest (``polarity="higher_is_easier"``); older effort items run the other
  way (``"lower_is_easier"``), and their scores are reflected (``x -> low + high - x``)
  so that a higher CES always means less effort. ``statistic="mean"`` (t interval)
  or ``"share"`` (share on the easy side of the midpoint, e.g. 5-7 of 1-7).
* :func:`mean_score`: the mean of any Likert or rating item with a t interval.

Every measure is grouped (``by=``), weighted (``weights=``: Hájek estimates, Kish
``n_eff``/``deff``, linearised standard errors), reports missing answers in
``n_excluded_missing``, and suppresses small groups with ``min_n=``
(:mod:`hxmetrics.measures.privacy`). The aggregation is written once with narwhals
(:mod:`hxmetrics.measures._engine`), so it runs on pandas, Polars, DuckDB, PyArrow
and Spark with identical results: bit for bit for whole-number scores (counts, and
sums of whole numbers, which floats add exactly in any order); to rounding for
fractional scores and survey weights, whose float sums depend on the engine's order
of additions. Each measure returns the one grouped-result
protocol (:mod:`hxmetrics.measures._result`; the estimate in ``estimate``) and has a
``*_statistics`` / ``*_from_statistics`` pair for data in pieces (statistics per
piece, :func:`~hxmetrics.measures._engine.merge_partials`, finish).

Weighted intervals: shares use the linearised variance ``v`` and, for Wilson and
adjusted Wald, the effective sample size ``n* = p(1 - p)/v`` (Korn & Graubard
1998); means use ``m ± t(n - 1) sqrt(v)`` with ``v`` the linearised variance
including the ``n/(n - 1)`` factor. Unit weights reproduce the unweighted results.

References
----------
Wilson, E. B. (1927). JASA 22, 209-212. Agresti, A. & Coull, B. A. (1998). The
American Statistician 52, 119-126. Newcombe, R. G. (1998). Statistics in Medicine 17,
857-872. Dixon, M., Toman, N. & DeLisi, R. (2013). The Effortless Experience.
Kish, L. (1965). Survey Sampling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, check_choice
from hxmetrics.measures._engine import (
    aggregate,
    check_finite_sums,
    frame_with,
    missing_expr,
    prepare,
    raise_invalid,
    rating_code,
    rating_histogram,
)
from hxmetrics.measures._inference import (
    agresti_coull_interval,
    cancel_rounding,
    check_confidence,
    effective_n,
    kish,
    linearised_mean_variance,
    linearised_share_variance,
    t_interval,
    weight_scale,
    wilson_interval,
    z_critical,
)
from hxmetrics.measures._result import PROTOCOL_COLUMNS, grouped_result
from hxmetrics.measures.privacy import check_min_n

__all__ = [
    "POLARITIES",
    "SHARE_METHODS",
    "ces",
    "ces_from_statistics",
    "ces_statistics",
    "csat",
    "csat_from_statistics",
    "csat_statistics",
    "mean_score",
    "mean_score_from_statistics",
    "mean_score_statistics",
]

SHARE_METHODS = ("wilson", "adjusted_wald", "wald")
POLARITIES = ("higher_is_easier", "lower_is_easier")
_STATISTICS = ("mean", "share")

_SHARE_STATS = ["n_excluded_missing", "in_box", "out_box"]
_SHARE_WEIGHTED = ["sw_in_box", "sw_out_box", "sw2_in_box", "sw2_out_box"]
_MEAN_STATS = ["n_excluded_missing", "n", "sum_x", "sum_x2"]
_MEAN_WEIGHTED = ["sum_w", "sum_w2", "sum_wx", "sum_wx2", "sum_w2x", "sum_w2x2"]
# The results' columns: a group column of one of these names would clash.
_RESERVED = [
    *PROTOCOL_COLUMNS,
    "in_box",
    "sd",
    "n_eff",
    "deff",
    "n_excluded_missing",
]


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


def _scale_from(
    data: Any, scale: Any, instruments: Any, measure: str, *, required: bool = True
) -> Any:
    """``scale`` as given, or taken from the catalogue's items (``instruments=``)."""
    if instruments is None:
        if scale is None and required:
            raise ParameterError(
                f"{measure}: scale is required, e.g. scale=(1, 5) (scales vary), or pass "
                "instruments=catalogue to take it from the items' scale."
            )
        return scale
    from hxmetrics.instruments import scale_for

    low, high = scale_for(data, instruments)
    found = (int(low), int(high)) if low == round(low) and high == round(high) else (low, high)
    if scale is not None and tuple(float(v) for v in scale) != (float(low), float(high)):
        raise ParameterError(
            f"{measure}: scale={tuple(scale)!r} differs from the catalogue's {found!r} for "
            "these items; give one or the other."
        )
    return found


def _check_scale(scale: Any, *, integer: bool) -> tuple[float, float]:
    try:
        low, high = scale
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise ParameterError(
            f"scale must be (lowest, highest), e.g. (1, 5); got {scale!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ParameterError(
            f"scale must be (lowest, highest) with lowest < highest; got {scale!r}."
        )
    if integer and (low != round(low) or high != round(high)):
        raise ParameterError(f"scale ends must be whole numbers; got {scale!r}.")
    return low, high


def _check_box(box: Any, low: float, high: float) -> list[float]:
    if isinstance(box, (str, bytes)) or not isinstance(box, Iterable):
        raise ParameterError(f"box must list scale points, e.g. (4, 5); got {box!r}.")
    values = sorted({float(v) for v in box})
    if not values:
        raise ParameterError("box must name at least one scale point, e.g. (4, 5).")
    bad = [v for v in values if v != round(v) or not low <= v <= high]
    if bad:
        raise ParameterError(
            f"box points must be whole numbers on the scale {int(low)}..{int(high)}; got {bad}."
        )
    return values


# ---------------------------------------------------------------------------
# Shares
# ---------------------------------------------------------------------------


def _share_stats(
    data: Any,
    score: str,
    *,
    scale: tuple[float, float],
    box: Sequence[float],
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Sufficient statistics of a box share: counts in and out of the box (and Σw, Σw²)."""
    low, high = _check_scale(scale, integer=True)
    values = _check_box(box, low, high)
    inputs = prepare(data, score, by=by, weights=weights, reserved=_RESERVED)
    cells, missing = rating_histogram(
        inputs,
        low=low,
        high=high,
        integer=True,
        check="rating_scale",
        expected=f"whole numbers from {low:g} to {high:g} (the scale)",
    )
    answers = cells.values if cells.values is not None else np.zeros(0)
    in_box = ~missing & np.isin(answers, values)
    out_box = ~missing & ~in_box
    columns = {
        "n_excluded_missing": cells.counts[:, missing].sum(axis=1),
        "in_box": cells.counts[:, in_box].sum(axis=1),
        "out_box": cells.counts[:, out_box].sum(axis=1),
    }
    if weights is not None:
        columns["sw_in_box"] = cells.sums["w"][:, in_box].sum(axis=1)
        columns["sw_out_box"] = cells.sums["w"][:, out_box].sum(axis=1)
        columns["sw2_in_box"] = cells.sums["w2"][:, in_box].sum(axis=1)
        columns["sw2_out_box"] = cells.sums["w2"][:, out_box].sum(axis=1)
    return frame_with(cells.keys, columns)


def _raise_bad(
    frame: Any,
    counts: np.ndarray,
    score: str,
    weights: str | None,
    bad_score: nw.Expr,
    bad_weight: nw.Expr,
    low: float | None,
    high: float | None,
    integer: bool,
) -> None:
    k = counts.shape[1]
    n_bad = int(counts[:, k - 2].sum())
    if n_bad:
        if low is None or high is None:
            expected = "finite numbers"
        else:
            kind = "whole numbers" if integer else "numbers"
            expected = f"{kind} from {low:g} to {high:g} (the scale)"
        raise_invalid(
            frame,
            bad_score,
            column=score,
            check="rating_scale",
            expected=expected,
            count=n_bad,
            hint="Missing answers may be left empty (NaN/null): they are excluded and "
            "counted in n_excluded_missing.",
        )
    n_bad_w = int(counts[:, k - 1].sum())
    if n_bad_w:
        raise_invalid(
            frame,
            bad_weight,
            column=weights or "",
            check="positive_weight",
            expected="finite weights greater than 0 on every answered row",
            count=n_bad_w,
        )


def _groups(stats: pd.DataFrame, base: list[str], extra: list[str]) -> tuple[list[str], bool]:
    missing = [c for c in base if c not in stats.columns]
    if missing:
        raise ParameterError(f"not the statistics of this measure: columns {missing} are missing.")
    weighted = all(c in stats.columns for c in extra)
    known = set(base) | (set(extra) if weighted else set())
    return [c for c in stats.columns if c not in known], weighted


def _share_finish(
    stats: pd.DataFrame,
    *,
    measure: str,
    method: str = "wilson",
    confidence: float = 0.95,
    min_n: int | None = None,
    extra_attrs: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Share (percent) per group with its interval, from :func:`_share_stats`."""
    check_choice("method", method, SHARE_METHODS)
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    by, weighted = _groups(stats, _SHARE_STATS, _SHARE_WEIGHTED)
    hits = stats["in_box"].to_numpy(dtype=float)
    n = hits + stats["out_box"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if weighted:
            sw_in, sw_out = stats["sw_in_box"].to_numpy(float), stats["sw_out_box"].to_numpy(float)
            s2_in, s2_out = (
                stats["sw2_in_box"].to_numpy(float),
                stats["sw2_out_box"].to_numpy(float),
            )
            # Huge weights: rescale the group so that (Σw)² cannot overflow.
            c = weight_scale(sw_in + sw_out)
            sw_in, sw_out, s2_in, s2_out = sw_in / c, sw_out / c, s2_in / c / c, s2_out / c / c
            sum_w, sum_w2 = sw_in + sw_out, s2_in + s2_out
            p, v = linearised_share_variance(sum_w, sum_w2, sw_in, s2_in)
            n_eff, deff = kish(sum_w, sum_w2, n)
            n_star = effective_n(p * (1 - p), v, n_eff)
        else:
            p = hits / n
            v = np.clip(p * (1 - p), 0, None) / n
            n_eff, deff = n.copy(), np.where(n > 0, 1.0, np.nan)
            n_star = n
    ok = n > 0
    z = z_critical(confidence)
    se = np.sqrt(v)
    if method == "wilson":
        low, high = wilson_interval(p, n_star, z)
    elif method == "adjusted_wald":
        se, low, high = agresti_coull_interval(p, n_star, z)
    else:
        low, high = np.clip(p - z * se, 0, 1), np.clip(p + z * se, 0, 1)
    return grouped_result(
        stats[by],
        measure=measure,
        n=n.astype(np.int64),
        estimate=np.where(ok, 100 * p, np.nan),
        se=np.where(ok, 100 * se, np.nan),
        ci_low=np.where(ok, 100 * low, np.nan),
        ci_high=np.where(ok, 100 * high, np.nan),
        confidence=confidence,
        method=method,
        min_n=min_n,
        extra={
            "in_box": stats["in_box"].to_numpy(),
            "n_eff": np.where(ok, n_eff, np.nan),
            "deff": np.where(ok, deff, np.nan),
        },
        excluded={"missing": stats["n_excluded_missing"].to_numpy()},
        meta={"test": "z", "bounds": (0.0, 100.0), "weighted": weighted, **(extra_attrs or {})},
    )


# ---------------------------------------------------------------------------
# Means
# ---------------------------------------------------------------------------


def _mean_stats(
    data: Any,
    score: str,
    *,
    scale: tuple[float, float] | None = None,
    integer: bool = False,
    reflect: bool = False,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Sufficient statistics of a mean: n, Σx, Σx² (and Σw, Σw², Σwx, Σwx², Σw²x, Σw²x²)."""
    bounds = _check_scale(scale, integer=integer) if scale is not None else None
    if reflect and bounds is None:
        raise ParameterError("reflecting scores needs the scale (lowest, highest).")
    inputs = prepare(data, score, by=by, weights=weights, reserved=_RESERVED)
    s = nw.col(score)
    low, high = bounds if bounds is not None else (None, None)
    code, n_codes, bad_score, bad_weight = rating_code(
        score,
        is_float=inputs.score_is_float,
        low=low,
        high=high,
        integer=integer,
        categories=[s == s],
        weights=weights,
        weights_float=inputs.weights_is_float,
    )
    x = (low + high - s) if (reflect and low is not None and high is not None) else s
    x = x.cast(nw.Float64)
    sums: dict[str, nw.Expr] = {"x": x, "x2": x * x}
    if weights is not None:
        w = nw.col(weights).cast(nw.Float64)
        sums |= {
            "w": w,
            "w2": w * w,
            "wx": w * x,
            "wx2": w * x * x,
            "w2x": w * w * x,
            "w2x2": w * w * x * x,
        }
    cells = aggregate(inputs.frame, by=inputs.by, code=code, n_codes=n_codes, sums=sums)
    _raise_bad(
        inputs.frame, cells.counts, score, weights, bad_score, bad_weight, low, high, integer
    )
    # Scores of 1e200 (no scale) or weights of 1e308 are finite, their squares are not.
    check_finite_sums(
        inputs.frame,
        {k: cells.sums[k][:, 1] for k in sums},
        answered=~missing_expr(score, is_float=inputs.score_is_float),
        n_rows=int(cells.counts[:, 1].sum()),
        score=score,
        weights=weights,
        x=x,
    )
    columns = {
        "n_excluded_missing": cells.counts[:, 0],
        "n": cells.counts[:, 1],
        "sum_x": cells.sums["x"][:, 1],
        "sum_x2": cells.sums["x2"][:, 1],
    }
    if weights is not None:
        for key in ("w", "w2", "wx", "wx2", "w2x", "w2x2"):
            columns[f"sum_{key}"] = cells.sums[key][:, 1]
    return frame_with(cells.keys, columns)


def _mean_finish(
    stats: pd.DataFrame,
    *,
    measure: str,
    scale: tuple[float, float] | None = None,
    confidence: float = 0.95,
    min_n: int | None = None,
    extra_attrs: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Mean per group with a t interval, from :func:`_mean_stats`."""
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    by, weighted = _groups(stats, _MEAN_STATS, _MEAN_WEIGHTED)
    n = stats["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if weighted:
            cols = [
                stats[f"sum_{k}"].to_numpy(float) for k in ("w", "w2", "wx", "wx2", "w2x", "w2x2")
            ]
            # Huge weights: rescale the group (first-order sums by c, second-order by c²).
            c = weight_scale(cols[0])
            cols = [
                col / c if k in ("w", "wx", "wx2") else col / c / c
                for k, col in zip(("w", "w2", "wx", "wx2", "w2x", "w2x2"), cols, strict=True)
            ]
            sum_w, sum_w2, _, sum_wx2, _, _ = cols
            m, v = linearised_mean_variance(n, *cols)
            n_eff, deff = kish(sum_w, sum_w2, n)
            ss = cancel_rounding(sum_wx2 - m * m * sum_w, sum_wx2, m * m * sum_w)
            sd = np.where(n > 1, np.sqrt(ss / sum_w * n / (n - 1)), np.nan)
        else:
            sum_x, sum_x2 = stats["sum_x"].to_numpy(float), stats["sum_x2"].to_numpy(float)
            m = sum_x / n
            ss = cancel_rounding(sum_x2 - n * m * m, sum_x2, n * m * m)
            var = np.where(n > 1, ss / (n - 1), np.nan)
            sd = np.sqrt(var)
            v = var / n
            n_eff, deff = n.copy(), np.where(n > 0, 1.0, np.nan)
    ok = n > 0
    se = np.sqrt(v)
    low, high = t_interval(m, se, n - 1, confidence)
    if scale is not None:
        lo_s, hi_s = _check_scale(scale, integer=False)
        low, high = np.clip(low, lo_s, hi_s), np.clip(high, lo_s, hi_s)
    bounds = _check_scale(scale, integer=False) if scale is not None else (-np.inf, np.inf)
    return grouped_result(
        stats[by],
        measure=measure,
        n=stats["n"].to_numpy().astype(np.int64),
        estimate=np.where(ok, m, np.nan),
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method="t",
        min_n=min_n,
        extra={
            "sd": sd,
            "n_eff": np.where(ok, n_eff, np.nan),
            "deff": np.where(ok, deff, np.nan),
        },
        excluded={"missing": stats["n_excluded_missing"].to_numpy()},
        meta={"test": "welch", "bounds": bounds, "weighted": weighted, **(extra_attrs or {})},
    )


# ---------------------------------------------------------------------------
# Public measures
# ---------------------------------------------------------------------------


def csat_statistics(
    data: Any,
    score: str,
    *,
    scale: tuple[int, int],
    box: Sequence[int],
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Sufficient statistics of CSAT per group, on any engine.

    One row per group: the group columns, ``n_excluded_missing``, ``in_box``,
    ``out_box`` (counts) and, with weights, ``sw_*`` (Σw) and ``sw2_*`` (Σw²) in and
    out of the box. Statistics of parts of a table add up
    (:func:`~hxmetrics.measures._engine.merge_partials`) to those of the whole, and
    :func:`csat_from_statistics` finishes them into the result of :func:`csat`.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures._engine import merge_partials
    >>> df = pd.DataFrame({"overall": [5, 4, 2, 1, 5, 3], "team": list("aabbab")})
    >>> parts = [csat_statistics(part, "overall", scale=(1, 5), box=(4, 5), by="team")
    ...          for part in (df.iloc[:4], df.iloc[4:])]
    >>> merged = csat_from_statistics(merge_partials(parts, by=["team"]))
    >>> merged.equals(csat(df, "overall", scale=(1, 5), box=(4, 5), by="team"))
    True
    """
    return _share_stats(data, score, scale=scale, box=box, by=by, weights=weights)


def csat_from_statistics(
    stats: pd.DataFrame,
    *,
    method: str = "wilson",
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Finish :func:`csat_statistics` (possibly merged from parts) into the CSAT result.

    Takes the options of :func:`csat` and returns the same frame.
    """
    return _share_finish(stats, measure="csat", method=method, confidence=confidence, min_n=min_n)


def csat(
    data: Any,
    score: str,
    *,
    scale: tuple[int, int] | None = None,
    box: Sequence[int],
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    method: str = "wilson",
    confidence: float = 0.95,
    min_n: int | None = None,
    instruments: Any = None,
) -> pd.DataFrame:
    """Customer satisfaction: the share of answers in ``box`` of ``scale``, in percent.

    Parameters
    ----------
    data : frame
        Any frame narwhals accepts (pandas, Polars, DuckDB, PyArrow, Spark).
    score : str
        The rating column (whole numbers on ``scale``; missing answers are excluded
        and counted in ``n_excluded_missing``).
    scale : (int, int)
        Lowest and highest scale points, e.g. ``(1, 5)``. Required (CSAT scales vary)
        unless ``instruments`` gives it.
    box : sequence of int
        The points counted as satisfied, e.g. ``(4, 5)`` for top-2-box. Required.
    by : str or sequence of str, optional
        Group columns.
    weights : str, optional
        Survey weights column.
    method : {"wilson", "adjusted_wald", "wald"}
        Interval: Wilson score (default), Agresti-Coull adjusted Wald, or Wald.
    confidence : float
        Interval level.
    min_n : int, optional
        Suppress groups with fewer answers (and their complements).
    instruments : InstrumentCatalogue, optional
        Take ``scale`` from the catalogue (:func:`hxmetrics.instruments.scale_for`):
        ``data`` has ``instrument`` and ``item`` columns whose items share one scale in
        the catalogue; an item it lacks is an error, not a guess.

    Returns
    -------
    pandas.DataFrame
        The grouped-result protocol (:mod:`hxmetrics.measures._result`), one row per
        group, sorted: ``measure`` (``"csat"``), the group columns, ``n`` (answers,
        Int64), ``estimate`` (percent in the box), ``se``, ``ci_low``, ``ci_high``
        (percent), ``in_box`` (count, Int64), ``n_eff``, ``deff`` (Kish; n and 1
        without weights), ``n_excluded_missing`` (Int64), ``suppressed``.
        ``attrs["hxmetrics"]`` records ``method``, ``confidence``, ``min_n``,
        ``bounds`` (0, 100), ``test`` (``"z"``), ``weighted`` and ``excluded``.

    References
    ----------
    Wilson (1927); Agresti & Coull (1998); Newcombe (1998), Table I.

    Examples
    --------
    Newcombe (1998), Table I: 81 of 263 has the Wilson interval 25.53% to 36.62%.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"overall": [5] * 81 + [2] * 182})
    >>> r = csat(df, "overall", scale=(1, 5), box=(4, 5))
    >>> r[["measure", "n", "in_box", "estimate", "ci_low", "ci_high"]].round(2)
      measure    n  in_box  estimate  ci_low  ci_high
    0    csat  263      81      30.8   25.53    36.62
    """
    check_choice("method", method, SHARE_METHODS)
    scale = _scale_from(data, scale, instruments, "csat")
    stats = csat_statistics(data, score, scale=scale, box=box, by=by, weights=weights)
    return csat_from_statistics(stats, method=method, confidence=confidence, min_n=min_n)


def _easy_box(scale: tuple[float, float], polarity: str) -> list[float]:
    low, high = scale
    mid = (low + high) / 2
    points = np.arange(low, high + 1)
    side = points > mid if polarity == "higher_is_easier" else points < mid
    return [float(v) for v in points[side]]


def ces_statistics(
    data: Any,
    score: str,
    *,
    scale: tuple[int, int],
    polarity: str,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    statistic: str = "mean",
) -> pd.DataFrame:
    """Sufficient statistics of CES per group, on any engine.

    For ``statistic="mean"`` those of :func:`mean_score_statistics` on the
    (reflected, for ``"lower_is_easier"``) scores; for ``"share"`` those of
    :func:`csat_statistics` with the easy side of the scale as the box. Parts merge
    with :func:`~hxmetrics.measures._engine.merge_partials`; finish with
    :func:`ces_from_statistics` and the same ``scale``, ``polarity`` and
    ``statistic``.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures._engine import merge_partials
    >>> df = pd.DataFrame({"effort": [7, 6, 5, 2, 7, 4]})
    >>> opts = dict(scale=(1, 7), polarity="lower_is_easier")
    >>> parts = [ces_statistics(df.iloc[:2], "effort", **opts),
    ...          ces_statistics(df.iloc[2:], "effort", **opts)]
    >>> merged = ces_from_statistics(merge_partials(parts), **opts)
    >>> float(merged["estimate"].iloc[0]) == float(ces(df, "effort", **opts)["estimate"].iloc[0])
    True
    """
    check_choice("polarity", polarity, POLARITIES)
    check_choice("statistic", statistic, _STATISTICS)
    bounds = _check_scale(scale, integer=True)
    if statistic == "share":
        box = _easy_box(bounds, polarity)
        return _share_stats(data, score, scale=bounds, box=box, by=by, weights=weights)
    return _mean_stats(
        data,
        score,
        scale=bounds,
        integer=True,
        reflect=polarity == "lower_is_easier",
        by=by,
        weights=weights,
    )


def ces_from_statistics(
    stats: pd.DataFrame,
    *,
    scale: tuple[int, int],
    polarity: str,
    statistic: str = "mean",
    method: str = "wilson",
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Finish :func:`ces_statistics` (possibly merged from parts) into the CES result.

    Takes the options of :func:`ces` and returns the same frame.
    """
    check_choice("polarity", polarity, POLARITIES)
    check_choice("statistic", statistic, _STATISTICS)
    bounds = _check_scale(scale, integer=True)
    attrs = {"polarity": polarity, "statistic": statistic, "scale": bounds}
    if statistic == "share":
        return _share_finish(
            stats,
            measure="ces",
            method=method,
            confidence=confidence,
            min_n=min_n,
            extra_attrs=attrs,
        )
    return _mean_finish(
        stats,
        measure="ces",
        scale=bounds,
        confidence=confidence,
        min_n=min_n,
        extra_attrs=attrs,
    )


def ces(
    data: Any,
    score: str,
    *,
    scale: tuple[int, int] | None = None,
    polarity: str,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    statistic: str = "mean",
    method: str = "wilson",
    confidence: float = 0.95,
    min_n: int | None = None,
    instruments: Any = None,
) -> pd.DataFrame:
    """Customer Effort Score on an explicit scale and polarity; higher always means easier.

    Parameters
    ----------
    data : frame
        Any frame narwhals accepts.
    score : str
        The effort item (whole numbers on ``scale``).
    scale : (int, int)
        E.g. ``(1, 7)`` for CES 2.0. Required unless ``instruments`` gives it.
    polarity : {"higher_is_easier", "lower_is_easier"}
        CES 2.0 ("the company made it easy", 7 = strongly agree) is
        ``"higher_is_easier"``; an effort item where 1 = very low effort is
        ``"lower_is_easier"`` and is reflected (``x -> low + high - x``). Required.
    by, weights, confidence, min_n, instruments
        As in :func:`csat`.
    statistic : {"mean", "share"}
        ``"mean"``: mean ease on the scale with a t interval. ``"share"``: percent
        of answers on the easy side of the midpoint (5-7 of 1-7) with ``method``.
    method : {"wilson", "adjusted_wald", "wald"}
        Interval for ``statistic="share"``.

    Returns
    -------
    pandas.DataFrame
        Like :func:`mean_score` (``statistic="mean"``) or :func:`csat`
        (``"share"``), with ``measure`` ``"ces"``; ``attrs["hxmetrics"]`` adds
        ``polarity``, ``statistic`` and ``scale``.

    References
    ----------
    Dixon, M., Toman, N. & DeLisi, R. (2013). The Effortless Experience. Portfolio.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"effort": [7, 6, 5, 2, 7, 4]})
    >>> r = ces(df, "effort", scale=(1, 7), polarity="higher_is_easier")
    >>> r["measure"].iloc[0], float(r["estimate"].iloc[0])
    ('ces', 5.166...)
    >>> float(ces(df, "effort", scale=(1, 7), polarity="lower_is_easier")["estimate"].iloc[0])
    2.833...
    """
    check_choice("polarity", polarity, POLARITIES)
    check_choice("statistic", statistic, _STATISTICS)
    if statistic == "share":
        check_choice("method", method, SHARE_METHODS)
    scale = _scale_from(data, scale, instruments, "ces")
    stats = ces_statistics(
        data, score, scale=scale, polarity=polarity, statistic=statistic, by=by, weights=weights
    )
    return ces_from_statistics(
        stats,
        scale=scale,
        polarity=polarity,
        statistic=statistic,
        method=method,
        confidence=confidence,
        min_n=min_n,
    )


def mean_score_statistics(
    data: Any,
    score: str,
    *,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Sufficient statistics of a mean per group, on any engine.

    One row per group: the group columns, ``n_excluded_missing``, ``n``, ``sum_x``,
    ``sum_x2`` and, with weights, ``sum_w``, ``sum_w2``, ``sum_wx``, ``sum_wx2``,
    ``sum_w2x``, ``sum_w2x2``. Parts merge with
    :func:`~hxmetrics.measures._engine.merge_partials` (counts exactly, float sums up
    to rounding); :func:`mean_score_from_statistics` finishes them.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures._engine import merge_partials
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 4.0, 5.0], "g": list("abab")})
    >>> parts = [mean_score_statistics(df.iloc[:1], "x", by="g"),
    ...          mean_score_statistics(df.iloc[1:], "x", by="g")]
    >>> mean_score_from_statistics(merge_partials(parts, by=["g"]))[["g", "n", "estimate"]]
       g  n  estimate
    0  a  2       2.5
    1  b  2       3.5
    """
    return _mean_stats(data, score, scale=scale, by=by, weights=weights)


def mean_score_from_statistics(
    stats: pd.DataFrame,
    *,
    scale: tuple[float, float] | None = None,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Finish :func:`mean_score_statistics` (possibly merged) into the mean-score result.

    Takes the options of :func:`mean_score` and returns the same frame.
    """
    return _mean_finish(
        stats, measure="mean_score", scale=scale, confidence=confidence, min_n=min_n
    )


def mean_score(
    data: Any,
    score: str,
    *,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    scale: tuple[float, float] | None = None,
    confidence: float = 0.95,
    min_n: int | None = None,
    instruments: Any = None,
) -> pd.DataFrame:
    """Mean of a Likert or rating item per group, with a t interval.

    Parameters
    ----------
    data : frame
        Any frame narwhals accepts.
    score : str
        A numeric rating column; missing answers are excluded and counted.
    by, weights, confidence, min_n, instruments
        As in :func:`csat` (with ``instruments``, the scale is the items').
    scale : (float, float), optional
        If given, answers outside it are an error and the interval is clipped to it.

    Returns
    -------
    pandas.DataFrame
        The grouped-result protocol (:mod:`hxmetrics.measures._result`), one row per
        group, sorted: ``measure`` (``"mean_score"``), the group columns, ``n``
        (answers, Int64), ``estimate`` (the mean), ``se``, ``ci_low``, ``ci_high``
        (``mean ± t(n - 1) se``; NaN when n < 2), ``sd``, ``n_eff``, ``deff``,
        ``n_excluded_missing`` (Int64), ``suppressed``. ``attrs["hxmetrics"]``
        records ``method`` (``"t"``), ``confidence``, ``min_n``, ``bounds`` (the
        scale, or ±inf), ``test`` (``"welch"``), ``weighted`` and ``excluded``.

    References
    ----------
    Student (1908). The probable error of a mean. Biometrika 6, 1-25.
    Kish, L. (1965). Survey Sampling (weights: effective n, design effect).

    Examples
    --------
    R's ``t.test(sleep$extra[1:10])`` (Cushny & Peebles' sleep data, group 1) gives
    mean 0.75 and the 95% interval -0.5297804 to 2.0297804.

    >>> import pandas as pd
    >>> extra = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> r = mean_score(pd.DataFrame({"extra": extra}), "extra")
    >>> int(r["n"].iloc[0]), float(r["estimate"].iloc[0])
    (10, 0.75)
    >>> round(float(r["ci_low"].iloc[0]), 7), round(float(r["ci_high"].iloc[0]), 7)
    (-0.5297804, 2.0297804)
    """
    scale = _scale_from(data, scale, instruments, "mean_score", required=False)
    stats = mean_score_statistics(data, score, scale=scale, by=by, weights=weights)
    return mean_score_from_statistics(stats, scale=scale, confidence=confidence, min_n=min_n)
