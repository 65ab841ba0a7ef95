"""Diagnostics of the repeat-buying models; every plot takes ``ax=`` and returns it.

The data come first, then the model (``plot_calibration_holdout(rfm, model)``), as
everywhere in hxmetrics; the old order (model first) works for one release with a
:class:`DeprecationWarning`.

* :func:`plot_calibration_holdout`: mean holdout purchases, actual vs predicted, by
  calibration frequency (Fader, Hardie & Lee 2005, Fig. 4).
* :func:`plot_frequency_recency` : heatmap of P(alive) or expected purchases over a
  grid of frequency and recency.
* :func:`plot_cumulative_purchases`: tracking plot of cumulative repeat purchases of a
  cohort, actual vs expected (their Fig. 3).
"""

from __future__ import annotations

import warnings
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hxmetrics.errors import ParameterError, check_columns
from hxmetrics.measures._engine import to_narwhals
from hxmetrics.measures.clv._base import CLVModel, RepeatBuyingModel, as_pandas
from hxmetrics.measures.clv.rfm import _P, _period_expr, period_of
from hxmetrics.plotting import PALETTE, _axes, style

__all__ = [
    "calibration_holdout_table",
    "cumulative_purchases_table",
    "plot_calibration_holdout",
    "plot_cumulative_purchases",
    "plot_frequency_recency",
]


def _check_model(model: Any) -> RepeatBuyingModel:
    if not isinstance(model, RepeatBuyingModel):
        raise ParameterError(
            "expected a fitted BetaGeo, ModifiedBetaGeo or ParetoNBD model; got "
            f"{type(model).__name__}."
        )
    model._check_fitted()
    return model


def _data_first(function: str, data: Any, model: Any) -> tuple[Any, Any]:
    """``(data, model)``, swapping the old order (a model first) with a warning."""
    if isinstance(data, CLVModel) and not isinstance(model, CLVModel):
        warnings.warn(
            f"{function}(): the data comes first now, {function}(data, model, ...); the "
            "old order (model, data) goes in the next release.",
            DeprecationWarning,
            stacklevel=3,
        )
        return model, data
    return data, model


def calibration_holdout_table(
    data: Any, model: RepeatBuyingModel, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency.

    ``data`` is an :func:`rfm_summary` with ``calibration_end`` (it has
    ``frequency_holdout`` and ``duration_holdout``). Frequencies above
    ``max_frequency`` are pooled into the last row.
    """
    data, model = _data_first("calibration_holdout_table", data, model)
    _check_model(model)
    frame = as_pandas(data)
    check_columns(
        frame.columns,
        ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"],
        table="data",
    )
    predicted = model.conditional_expected_purchases(
        frame, frame["duration_holdout"].to_numpy(dtype=float)
    )
    group = np.minimum(frame["frequency"].to_numpy(), max_frequency)
    table = (
        pd.DataFrame(
            {
                "frequency": group,
                "actual": frame["frequency_holdout"].to_numpy(),
                "predicted": predicted,
            }
        )
        .groupby("frequency", sort=True)
        .agg(n=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
        .reset_index()
    )
    return table


def plot_calibration_holdout(
    data: Any, model: RepeatBuyingModel, *, max_frequency: int = 7, ax: Axes | None = None
) -> Axes:
    """Actual vs predicted mean holdout purchases by calibration frequency."""
    data, model = _data_first("plot_calibration_holdout", data, model)
    table = calibration_holdout_table(data, model, max_frequency=max_frequency)
    ax = _axes(ax, 6.4, 3.6)
    with style():
        ax.plot(table["frequency"], table["actual"], marker="o", color=PALETTE[0], label="actual")
        ax.plot(
            table["frequency"],
            table["predicted"],
            marker="s",
            linestyle="--",
            color=PALETTE[1],
            label=f"{type(model).__name__} prediction",
        )
        ax.set_xlabel(f"repeat purchases in calibration ({max_frequency} = {max_frequency}+)")
        ax.set_ylabel("mean purchases in holdout")
        ax.legend(frameon=False)
    return ax


def plot_frequency_recency(
    model: RepeatBuyingModel,
    *,
    T: float,
    max_frequency: int,
    kind: str = "p_alive",
    horizon: float = 1.0,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of P(alive) or expected purchases by frequency and recency, at age ``T``.

    Cells with no repeat purchase but recency > 0 are impossible and left blank.
    """
    _check_model(model)
    if kind not in ("p_alive", "expected_purchases"):
        raise ParameterError(f"kind must be 'p_alive' or 'expected_purchases'; got {kind!r}.")
    freq = np.arange(0, int(max_frequency) + 1, dtype=float)
    rec = np.linspace(0.0, float(T), min(int(T) + 1, 101) if T >= 1 else 2)
    xx, rr = np.meshgrid(freq, rec, indexing="ij")
    ok = ~((xx == 0) & (rr > 0))
    grid = {"frequency": xx[ok], "recency": rr[ok], "T": np.full(ok.sum(), float(T))}
    if kind == "p_alive":
        values = model.probability_alive(grid)
        label = "P(alive)"
    else:
        values = model.conditional_expected_purchases(grid, horizon)
        label = f"expected purchases in next {horizon:g} {model.unit_}"
    z = np.full(xx.shape, np.nan)
    z[ok] = values
    ax = _axes(ax, 6.4, 4.0)
    with style():
        image = ax.imshow(
            z,
            origin="lower",
            aspect="auto",
            cmap="viridis",
            extent=(rec[0], rec[-1], freq[0] - 0.5, freq[-1] + 0.5),
        )
        ax.figure.colorbar(image, ax=ax, label=label)
        ax.set_xlabel(f"recency ({model.unit_})")
        ax.set_ylabel("frequency (repeat purchases)")
    return ax


def cumulative_purchases_table(
    transactions: Any,
    model: RepeatBuyingModel,
    *,
    customer: str,
    time: str,
    observation_end: Any,
) -> pd.DataFrame:
    """Cumulative repeat purchases per period: actual and expected under ``model``.

    Periods are counted in the model's unit, as in :func:`rfm_summary` (purchases in
    the same period count once). Expected = sum over customers of E[X(t - first_i)].
    """
    transactions, model = _data_first("cumulative_purchases_table", transactions, model)
    _check_model(model)
    unit = str(model.unit_)
    frame = to_narwhals(transactions)
    end_p = period_of(observation_end, unit)
    civil = frame.implementation.is_spark_like()
    period = _period_expr(time, unit, civil=civil).alias(_P)
    cp = frame.select(nw.col(customer), period).unique()
    if isinstance(cp, nw.LazyFrame):
        cp = cp.collect()
    table = cp.to_pandas()
    table = table[table[_P] <= end_p]
    first = table.groupby(customer)[_P].transform("min")
    repeat = table.loc[table[_P] > first, _P]
    start = int(first.min())
    periods = np.arange(start, end_p + 1)
    actual = np.cumsum(np.bincount(repeat - start, minlength=len(periods))[: len(periods)])
    cohort = np.bincount(table.groupby(customer)[_P].min() - start, minlength=len(periods))
    ages = np.arange(len(periods), dtype=float)
    curve = model.expected_purchases(ages)
    # Expected cumulative at period k: sum_j cohort[j] * E[X(k - j)].
    expected = np.convolve(cohort[: len(periods)], curve)[: len(periods)]
    return pd.DataFrame({"period": periods - start, "actual": actual, "expected": expected})


def plot_cumulative_purchases(
    transactions: Any,
    model: RepeatBuyingModel,
    *,
    customer: str,
    time: str,
    observation_end: Any,
    calibration_end: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """Tracking plot: cumulative repeat purchases, actual vs expected, by period."""
    transactions, model = _data_first("plot_cumulative_purchases", transactions, model)
    table = cumulative_purchases_table(
        transactions, model, customer=customer, time=time, observation_end=observation_end
    )
    ax = _axes(ax, 6.4, 3.6)
    with style():
        ax.plot(table["period"], table["actual"], color=PALETTE[0], label="actual")
        ax.plot(
            table["period"],
            table["expected"],
            color=PALETTE[1],
            linestyle="--",
            label=f"{type(model).__name__} expected",
        )
        if calibration_end is not None:
            first = period_of(observation_end, str(model.unit_)) - int(table["period"].iloc[-1])
            ax.axvline(
                period_of(calibration_end, str(model.unit_)) - first,
                color="grey",
                linewidth=1,
                linestyle=":",
            )
        ax.set_xlabel(f"{model.unit_} since the first acquisition period")
        ax.set_ylabel("cumulative repeat purchases")
        ax.legend(frameon=False)
    return ax
