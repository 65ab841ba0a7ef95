"""Fit machinery shared by the CLV models.

Every model maximises a closed-form log-likelihood written in log space, with its
analytic gradient, over the logarithms of its (positive) parameters:

* identical data rows are collapsed first (:func:`collapse`), so the likelihood is a
  weighted sum over the distinct rows, not over customers;
* the objective is the mean negative log-likelihood per customer plus an optional L2
  penalty ``l2 * sum(log(param) ** 2)`` (it shrinks every parameter towards 1);
* a trust-region quasi-Newton method (:mod:`._optimize`) runs on the log parameters
  (bounded to ``[-30, 30]`` so no step can overflow); its final Hessian is the
  forward finite difference of the analytic gradient at the optimum. The covariance
  of the log parameters is its inverse and the standard errors of the parameters
  follow by the delta method (``se(theta) = theta * se(log theta)``); intervals are
  Wald intervals on the log scale, so they stay positive.

Time units are part of a model: ``fit`` records the unit of the data (from the
``unit=`` argument or from the ``hx_unit`` attribute that
:func:`~hxmetrics.measures.clv.rfm_summary` puts on its result) and every prediction
checks it. A model fitted in weeks refuses days: there is no silent rescaling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import ConvergenceError, InputTableError, ParameterError, did_you_mean
from hxmetrics.measures._inference import check_confidence, z_critical
from hxmetrics.measures.clv._optimize import trust_region_sr1

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "PERIOD_DAYS",
    "UNITS",
    "CLVModel",
    "check_unit",
    "collapse",
    "discount_per_period",
    "model_from_dict",
]

#: Time units: a unit is a calendar period. Transactions in the same period count as
#: one (see :func:`~hxmetrics.measures.clv.rfm_summary`).
UNITS: dict[str, str] = {
    "h": "clock hour",
    "D": "calendar day",
    "W": "ISO week, Monday to Sunday",
    "M": "calendar month",
    "Q": "calendar quarter",
    "Y": "calendar year",
}

#: Attribute name under which frames carry their time unit.
UNIT_ATTR = "hx_unit"

#: Mean length of each unit in days (a year of 365.25 days), for converting an annual
#: discount rate to a unit's period.
PERIOD_DAYS: dict[str, float] = {
    "h": 1.0 / 24.0,
    "D": 1.0,
    "W": 7.0,
    "M": 365.25 / 12.0,
    "Q": 365.25 / 4.0,
    "Y": 365.25,
}

#: Default extent of a model's plot, in periods of its unit (about a year or so).
DEFAULT_HORIZON: dict[str, float] = {
    "h": 168.0,
    "D": 365.0,
    "W": 52.0,
    "M": 12.0,
    "Q": 8.0,
    "Y": 5.0,
}

_BOUND = 30.0
_REGISTRY: dict[str, type[CLVModel]] = {}


def check_unit(unit: Any) -> str:
    """Return ``unit`` if it is one of :data:`UNITS`, else raise :class:`ParameterError`."""
    if not isinstance(unit, str) or unit not in UNITS:
        allowed = ", ".join(f"{k!r} ({v})" for k, v in UNITS.items())
        raise ParameterError(
            f"unit must be one of {allowed}; got {unit!r}." + did_you_mean(str(unit), list(UNITS))
        )
    return unit


def discount_per_period(
    function: str,
    unit: str,
    *,
    annual_discount_rate: float | None,
    discount_rate_per_period: float | None,
    positive: bool = False,
) -> tuple[float, float]:
    """The discount rate per period of ``unit`` and per year, from exactly one of them.

    ``per period = (1 + annual) ** (days in a period / 365.25) - 1``.

    Parameters
    ----------
    function : str
        Name of the caller (for messages).
    unit : str
        The period of the rate per period (one of :data:`UNITS`).
    annual_discount_rate, discount_rate_per_period : float or None
        Exactly one is given.
    positive : bool, default False
        Require a rate > 0 (an infinite sum diverges at 0).

    Returns
    -------
    (float, float)
        The rate per period and the same rate per year.

    Examples
    --------
    >>> per_week, per_year = discount_per_period("f", "W", annual_discount_rate=0.1,
    ...                                          discount_rate_per_period=None)
    >>> round(per_week, 6), per_year
    (0.001828, 0.1)
    """
    check_unit(unit)
    given = [
        (name, value)
        for name, value in (
            ("annual_discount_rate", annual_discount_rate),
            ("discount_rate_per_period", discount_rate_per_period),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise ParameterError(
            f"{function}(): give exactly one discount rate: annual_discount_rate= (per year, "
            f"e.g. 0.10) or discount_rate_per_period= (per {unit!r} period, "
            f"{UNITS[unit]}); got {len(given)}."
        )
    name, raw = given[0]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value <= 0):
        bound = "> 0 (the sum over all periods diverges otherwise)" if positive else ">= 0"
        raise ParameterError(f"{function}(): {name} must be a number {bound}; got {raw!r}.")
    years = PERIOD_DAYS[unit] / 365.25
    if name == "annual_discount_rate":
        return float((1.0 + value) ** years - 1.0), value
    return value, float((1.0 + value) ** (1.0 / years) - 1.0)


def frame_unit(data: Any) -> str | None:
    """The unit a frame carries in ``attrs['hx_unit']``, or None."""
    attrs = getattr(data, "attrs", None)
    if isinstance(attrs, Mapping):
        unit = attrs.get(UNIT_ATTR)
        return str(unit) if unit is not None else None
    return None


def resolve_fit_unit(model_name: str, unit: str | None, data: Any) -> str:
    """The unit of the data a model is fitted to: ``unit=`` or the frame's ``hx_unit``."""
    data_unit = frame_unit(data)
    if unit is None and data_unit is None:
        raise ParameterError(
            f"{model_name}.fit needs the time unit of the data: pass unit='W' (or 'D', "
            "'M', ...), or fit on the output of rfm_summary, which records it."
        )
    if unit is not None:
        check_unit(unit)
        if data_unit is not None and data_unit != unit:
            raise ParameterError(
                f"unit={unit!r} disagrees with the data's unit {data_unit!r} "
                "(data.attrs['hx_unit']); times are never rescaled silently."
            )
    return check_unit(unit if unit is not None else data_unit)


def as_pandas(data: Any, *, table: str = "data") -> pd.DataFrame:
    """A pandas frame from a mapping of columns or any frame narwhals accepts.

    Frames go through the package's one converter, :func:`hxmetrics.tables.as_pandas`.
    """
    if isinstance(data, Mapping):
        return pd.DataFrame({k: np.atleast_1d(np.asarray(v)) for k, v in data.items()})
    from hxmetrics.tables import as_pandas as frame_as_pandas

    return frame_as_pandas(data, table=table)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones: messages read ``1e+308``, not ``np.float64(1e+308)``."""
    return value.item() if isinstance(value, np.generic) else value


def _no_cases() -> pd.DataFrame:
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def bad_rows(
    frame: pd.DataFrame,
    mask: np.ndarray,
    *,
    columns: Sequence[str],
    check: str,
    message: str,
    table: str = "data",
) -> InputTableError:
    """Build an :class:`InputTableError` quoting up to five rows where ``mask`` holds."""
    mask = np.asarray(mask, dtype=bool)
    rows = frame.loc[mask, list(columns)].head(5)
    examples = "; ".join(
        f"row {idx}: " + ", ".join(f"{c}={_plain(row[c])!r}" for c in columns)
        for idx, row in rows.iterrows()
    )
    cases = pd.DataFrame(
        {
            "column": [columns[0]] * len(rows),
            "check": [check] * len(rows),
            "failure_case": [str(tuple(r)) for r in rows.itertuples(index=False)],
            "index": list(rows.index),
        }
    )
    return InputTableError(
        f"{table}: {int(mask.sum())} row(s) {message}, e.g. {examples}.",
        table=table,
        failure_cases=cases,
    )


def numeric_columns(
    data: Any, columns: Mapping[str, str], *, table: str = "data"
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Float arrays of the named columns, checked for presence and finiteness.

    ``columns`` maps a role (``"frequency"``) to the column name in ``data``.
    """
    frame = as_pandas(data, table=table)
    have = [str(c) for c in frame.columns]
    missing = [name for name in columns.values() if name not in frame.columns]
    if missing:
        hints = "".join(did_you_mean(m, have) for m in missing)
        raise InputTableError(
            f"{table}: the following columns were not found: {missing}; available: {have}." + hints,
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": missing,
                    "check": ["column_in_dataframe"] * len(missing),
                    "failure_case": missing,
                    "index": [None] * len(missing),
                }
            ),
        )
    out: dict[str, np.ndarray] = {}
    for role, name in columns.items():
        try:
            values = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise InputTableError(
                f"{table}: column {name!r} ({role}) must be numeric; got dtype "
                f"{frame[name].dtype}.",
                table=table,
                failure_cases=_no_cases(),
            ) from exc
        bad = ~np.isfinite(values)
        if bad.any():
            raise bad_rows(
                frame,
                bad,
                columns=[name],
                check="finite",
                message=f"have a missing or infinite {role} ({name!r})",
                table=table,
            )
        out[role] = values
    return frame, out


def _codes(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes ``0..k-1`` of a column and the value of each code.

    Whole numbers in a modest range (counts, periods: what an RFM summary holds) are
    coded by arithmetic, ``value - min``; anything else is hashed (``pd.factorize``).
    """
    if len(col) and col.dtype.kind in "fiu":
        lo, hi = col.min(), col.max()
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2**24:
            codes = (col - lo).astype(np.int64)
            if np.array_equal(codes + lo, col):
                return codes, lo + np.arange(int(hi - lo) + 1, dtype=col.dtype)
    codes, uniques = pd.factorize(col, sort=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniques)


def collapse(*columns: np.ndarray, weights: np.ndarray | None = None) -> tuple[Any, ...]:
    """Collapse identical rows: the distinct rows of ``columns`` and summed weights.

    Returns ``(col_1, ..., col_k, weights)`` for the distinct rows, in no particular
    order. Each column is coded as integers (:func:`_codes`), the codes are combined
    into one integer key, and the key is counted with ``np.bincount`` when its range is
    small (as for whole-period RFM data: a million rows take ~20 ms) or hashed
    otherwise.
    """
    n = len(columns[0])
    cols = [np.asarray(c) for c in columns]
    coded = [_codes(c) for c in cols]
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for codes, values in coded:
        k = max(len(values), 1)
        if span > (2**62) // k:  # the combined key would overflow: re-code it first
            key, _ = _codes(key)
            span = int(key.max()) + 1 if n else 1
        key = key * k + codes
        span *= k
    w = None if weights is None else np.asarray(weights, dtype=float)
    if span <= max(2 * n, 1 << 16):
        counts = np.bincount(key, minlength=span)
        distinct = np.flatnonzero(counts)
        summed = (
            counts[distinct].astype(float)
            if w is None
            else np.bincount(key, weights=w, minlength=span)[distinct]
        )
    else:
        inverse, distinct = pd.factorize(key, sort=False)
        summed = np.bincount(inverse, weights=w, minlength=len(distinct)).astype(float)
    out = []
    for codes_values in reversed(coded):
        k = max(len(codes_values[1]), 1)
        out.append(codes_values[1][distinct % k])
        distinct = distinct // k
    return (*reversed(out), summed)


def wsum(weights: np.ndarray, values: np.ndarray) -> float:
    """``sum(weights * values)`` without BLAS.

    ``weights @ values`` calls BLAS ``ddot``, which OpenBLAS spreads over threads above
    10,000 elements; waking them costs more than the sum (and a lot more on a busy
    machine). NumPy's pairwise sum is also the more accurate of the two.
    """
    return float(np.sum(weights * values))


def rising(c: float, m: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``log G(c+m) - log G(c)`` and ``psi(c+m) - psi(c)`` for whole ``0 <= m <= top``.

    As sums of ``log(c+k)`` and ``1/(c+k)``, ``k < m``: unlike a difference of two
    ``gammaln`` values these keep full precision when ``c`` is large (a customer base
    without heterogeneity drives ``r`` and ``alpha`` towards infinity), and a table up
    to the largest ``x`` costs less than special functions on every distinct ``x``.
    """
    if top > 20_000:  # a table that long would cost more than it saves
        return gammaln(c + m) - gammaln(c), digamma(c + m) - digamma(c)
    k = c + np.arange(top)
    log_table = np.concatenate(([0.0], np.cumsum(np.log(k))))
    inv_table = np.concatenate(([0.0], np.cumsum(1.0 / k)))
    idx = m.astype(np.int64)
    return log_table[idx], inv_table[idx]


def _positive_weights(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ParameterError("weights must be finite and non-negative.")
    if w.sum() <= 0:
        raise ParameterError("weights sum to zero: there is nothing to fit.")
    return w


def check_identified(
    model: str,
    x: np.ndarray,
    observed: np.ndarray,
    weights: np.ndarray | None,
    *,
    observed_name: str,
    repeats: str = "repeat purchase",
) -> None:
    """Refuse data that cannot identify a repeat-buying model.

    Without any repeat purchase (every ``x`` is 0) the purchase rate has no
    information beyond "low" and the optimiser runs to the bounds (rates near 0,
    scales near 1e13, NaN standard errors); without observation time (every ``T``
    or ``n`` is 0) there is nothing to fit at all. Rows of zero weight do not count.
    """
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    counted = w > 0
    n = float(w[counted].sum())
    shown = f"{n:g} customers" if weights is not None else f"{int(counted.sum())} customers"
    if not np.any(counted & (observed > 0)):
        raise ParameterError(
            f"{model}.fit: the data cannot identify the model: no observation time "
            f"({observed_name} = 0 for all {shown}). Fit on customers observed for at "
            "least one period (check observation_end and the unit)."
        )
    if not np.any(counted & (x > 0)):
        raise ParameterError(
            f"{model}.fit: the data cannot identify the model: no {repeats} at all "
            f"(frequency = 0 for all {shown}), so the purchase and drop-out rates cannot "
            "be told apart. Use a longer observation period or a coarser unit."
        )


class CLVModel(DisplayMixin):
    """Base class: fitting in log space, standard errors, summary and JSON state.

    Subclasses set ``_param_names`` and ``_start`` and implement ``_loglik``, which
    returns the weighted log-likelihood and its gradient in the natural parameters.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _start: ClassVar[tuple[float, ...]] = ()
    #: False for models without time in their data (spend models).
    _needs_unit: ClassVar[bool] = True

    def __init__(self, *, l2: float = 0.0) -> None:
        if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 >= 0):
            raise ParameterError(f"l2 must be a non-negative number; got {l2!r}.")
        self.l2 = float(l2)
        self.params_: dict[str, float] | None = None
        self.standard_errors_: dict[str, float] | None = None
        self.covariance_: np.ndarray | None = None
        self.log_likelihood_: float | None = None
        self.unit_: str | None = None
        self.n_: float | None = None
        self.fit_info_: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls._param_names:
            _REGISTRY[cls.__name__] = cls

    # -- to implement -------------------------------------------------------------
    def _loglik(
        self, params: np.ndarray, data: Any, weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _prepare(self, data: tuple[np.ndarray, ...], weights: np.ndarray) -> Any:
        """Precompute what does not depend on the parameters (once per fit)."""
        return data

    # -- fitting ------------------------------------------------------------------
    def _fit_arrays(
        self,
        data: tuple[np.ndarray, ...],
        weights: np.ndarray,
        *,
        unit: str | None,
        start: Sequence[float] | None = None,
        extra_info: Mapping[str, Any] | None = None,
    ) -> None:
        weights = _positive_weights(weights)
        total = float(weights.sum())
        k = len(self._param_names)
        l2 = self.l2
        n_evals = [0]
        prepared = self._prepare(data, weights)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            n_evals[0] += 1
            params = np.exp(theta)
            ll, grad = self._loglik(params, prepared, weights)
            if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
                return math.inf, np.full(k, math.nan)  # the trust region shrinks
            f = -ll / total + l2 * float(theta @ theta)
            g = -(grad * params) / total + 2.0 * l2 * theta
            return f, g

        theta0 = np.log(np.asarray(start if start is not None else self._start, dtype=float))
        theta0 = np.clip(theta0, -_BOUND, _BOUND)
        first = objective(theta0)
        if not math.isfinite(first[0]):
            raise ConvergenceError(
                f"{type(self).__name__}: the log-likelihood is not finite at the starting "
                f"values {dict(zip(self._param_names, np.exp(theta0), strict=True))}; "
                "check the data (units, recency <= T) or pass start=."
            )
        result = trust_region_sr1(objective, theta0, bound=_BOUND, first=first)
        theta, grad = result.x, result.jac
        free = np.abs(theta) < _BOUND - 1e-6
        # A fit that stalls at the rounding floor of the objective with a negligible
        # projected gradient is as good as converged.
        converged = result.success or bool(np.max(np.abs(grad[free]), initial=0.0) < 1e-6)
        if not converged:
            raise ConvergenceError(
                f"{type(self).__name__}: the optimiser stopped without converging "
                f"({result.message}); largest gradient {np.max(np.abs(grad)):.3g} at "
                f"{dict(zip(self._param_names, np.exp(theta), strict=True))}. Try other "
                "start= values, a small l2 penalty, or check the data."
            )
        hess = result.hess * total
        params = np.exp(theta)
        cov_log, cov = _covariances(hess, params)
        ll = -total * (result.fun - l2 * float(theta @ theta))
        self.params_ = {n: float(v) for n, v in zip(self._param_names, params, strict=True)}
        se = np.sqrt(np.diag(cov)) if cov is not None else np.full(k, np.nan)
        self.standard_errors_ = {n: float(v) for n, v in zip(self._param_names, se, strict=True)}
        self.covariance_ = cov
        self._cov_log = cov_log
        self.log_likelihood_ = float(ll)
        self.unit_ = unit
        self.n_ = total
        self.fit_info_ = {
            "n_rows": len(weights),
            "iterations": int(result.nit),
            "evaluations": int(n_evals[0]),
            "at_bound": [n for n, f in zip(self._param_names, free, strict=True) if not f],
            "message": str(result.message),
            **(dict(extra_info) if extra_info else {}),
        }

    def _fit_collapsed(
        self,
        histories: tuple[np.ndarray, ...],
        weights: np.ndarray | None,
        *,
        unit: str | None,
        start: Mapping[str, float] | None,
    ) -> None:
        """Fit to one weighted row per distinct history (columns ``histories``).

        Identical histories are collapsed (:func:`collapse`), rows of zero weight
        dropped; ``fit_info_["n_customers"]`` is the total weight.
        """
        *distinct, counts = collapse(*histories, weights=weights)
        keep = counts > 0
        self._fit_arrays(
            tuple(column[keep] for column in distinct),
            counts[keep],
            unit=unit,
            start=self._start_values(start),
            extra_info={"n_customers": float(counts.sum())},
        )

    def _start_values(self, start: Mapping[str, float] | None) -> list[float] | None:
        if start is None:
            return None
        unknown = [k for k in start if k not in self._param_names]
        if unknown:
            raise ParameterError(
                f"start has unknown parameters {unknown}; {type(self).__name__} has "
                f"{list(self._param_names)}."
            )
        values = [
            float(start.get(n, d)) for n, d in zip(self._param_names, self._start, strict=True)
        ]
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise ParameterError(f"start values must be positive and finite; got {dict(start)}.")
        return values

    # -- state ----------------------------------------------------------------------
    @classmethod
    def from_params(cls, *, unit: str | None = None, **params: float) -> Any:
        """A model with given parameter values (e.g. published estimates), not fitted.

        Predictions work; standard errors and the log-likelihood are unknown (NaN).
        """
        names = cls._param_names
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in names]
        if missing or extra:
            raise ParameterError(
                f"{cls.__name__} takes parameters {list(names)}; missing {missing}, "
                f"unexpected {extra}."
            )
        values = {n: float(params[n]) for n in names}
        bad = [n for n, v in values.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ParameterError(f"{cls.__name__}: parameters {bad} must be positive and finite.")
        model = cls()
        model.params_ = values
        model.standard_errors_ = {n: float("nan") for n in names}
        if cls._needs_unit or unit is not None:
            model.unit_ = check_unit(unit)
        return model

    def _check_fitted(self) -> dict[str, float]:
        if self.params_ is None:
            raise ParameterError(
                f"{type(self).__name__} is not fitted yet: call fit(...) first, or "
                "from_dict(...) to restore a fitted model."
            )
        return self.params_

    def _check_prediction_unit(self, unit: str | None, data: Any = None) -> None:
        self._check_fitted()
        model_unit = self.unit_
        for given, source in ((unit, "unit="), (frame_unit(data), "the data's hx_unit")):
            if given is None:
                continue
            check_unit(given)
            if given != model_unit:
                raise ParameterError(
                    f"{type(self).__name__} was fitted with times in unit {model_unit!r} "
                    f"({UNITS.get(str(model_unit), '?')}) but {source} says {given!r}. "
                    "Units are never rescaled silently: express the horizon and the "
                    f"customer histories in {model_unit!r}, or refit the model in {given!r}."
                )

    def _p(self) -> np.ndarray:
        params = self._check_fitted()
        return np.array([params[n] for n in self._param_names])

    def summary(self, *, confidence: float = 0.95) -> pd.DataFrame:
        """One row per parameter: estimate, standard error and confidence interval.

        The interval is a Wald interval on the log scale (the scale of the fit), so it
        is asymmetric and stays positive.

        Parameters
        ----------
        confidence : float, default 0.95
            Level of the intervals.

        Returns
        -------
        pandas.DataFrame
            Columns ``parameter``, ``estimate``, ``se``, ``ci_low``, ``ci_high``;
            ``attrs["hxmetrics"]`` holds ``model``, ``confidence``, ``method``,
            ``log_likelihood``, ``n`` and ``unit`` (the last three also as flat
            ``attrs`` for one release).
        """
        params = self._check_fitted()
        z = z_critical(check_confidence(confidence))
        est = np.array([params[n] for n in self._param_names])
        se = np.array([(self.standard_errors_ or {}).get(n, np.nan) for n in self._param_names])
        with np.errstate(invalid="ignore", divide="ignore"):
            se_log = se / est
        frame = pd.DataFrame(
            {
                "parameter": list(self._param_names),
                "estimate": est,
                "se": se,
                "ci_low": est * np.exp(-z * se_log),
                "ci_high": est * np.exp(z * se_log),
            }
        )
        info = {"log_likelihood": self.log_likelihood_, "n": self.n_, "unit": self.unit_}
        frame.attrs.update(info)
        frame.attrs["hxmetrics"] = {
            "model": type(self).__name__,
            "confidence": float(confidence),
            "method": "wald_log_scale",
            **info,
        }
        return frame

    def _display_notes(self) -> Sequence[str]:
        if self.params_ is None:
            return ()
        if self.n_ is None or self.log_likelihood_ is None:
            # from_params(): given values (published estimates), no data behind them.
            return (f"unit {self.unit_!r}, parameters given (not fitted to data here)",)
        return (
            f"unit {self.unit_!r}, n = {self.n_:g}, log-likelihood = {self.log_likelihood_:.4f}",
        )

    # -- plot -----------------------------------------------------------------------
    def _plot_curve(self, horizon: float | None) -> tuple[np.ndarray, np.ndarray, str, str, bool]:
        """``(x, y, x label, y label, discrete)`` of the model's characteristic curve."""
        raise NotImplementedError

    def plot(self, *, ax: Axes | None = None, horizon: float | None = None) -> Axes:
        """Draw the model's characteristic curve.

        Repeat-buying models: expected repeat purchases of a new customer over time;
        BG/BB: over opportunities; sBG: the share of a cohort still active;
        Gamma-Gamma: the density of customers' mean spend per transaction. For
        diagnostics against data see :mod:`hxmetrics.measures.clv.plotting`.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure if omitted).
        horizon : float, optional
            Extent of the x axis, in the model's unit (periods, opportunities) or, for
            Gamma-Gamma, in currency; a default per model and unit otherwise.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from hxmetrics.plotting import PALETTE, _axes, style

        self._check_fitted()
        if horizon is not None and not (math.isfinite(horizon) and horizon > 0):
            raise ParameterError(f"horizon must be a positive number; got {horizon!r}.")
        x, y, xlabel, ylabel, discrete = self._plot_curve(horizon)
        ax = _axes(ax, 6.4, 3.6)
        with style():
            if discrete:
                ax.plot(x, y, marker="o", color=PALETTE[0], label=type(self).__name__)
            else:
                ax.plot(x, y, color=PALETTE[0], label=type(self).__name__)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_ylim(bottom=0.0)
            ax.legend(frameon=False)
        return ax

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain numbers (JSON-ready); :meth:`from_dict` restores it."""
        self._check_fitted()
        cov = self.covariance_
        return {
            "model": type(self).__name__,
            "format": 1,
            "unit": self.unit_,
            "l2": self.l2,
            "params": dict(self.params_ or {}),
            "standard_errors": {
                k: (None if not math.isfinite(v) else v)
                for k, v in (self.standard_errors_ or {}).items()
            },
            "covariance": None if cov is None else [[float(v) for v in row] for row in cov],
            "log_likelihood": self.log_likelihood_,
            "n": self.n_,
            "fit_info": _jsonable(self.fit_info_),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CLVModel:
        """Restore a model saved with :meth:`to_dict` (after a JSON round trip too)."""
        name = state.get("model")
        target = _REGISTRY.get(str(name)) if cls is CLVModel else cls
        if target is None or (cls is not CLVModel and name != cls.__name__):
            raise ParameterError(
                f"cannot restore a {name!r} state with {cls.__name__}.from_dict; known "
                f"models: {sorted(_REGISTRY)}."
            )
        params = state.get("params") or {}
        missing = [p for p in target._param_names if p not in params]
        if missing:
            raise ParameterError(f"{name} state lacks parameters {missing}.")
        model = target(l2=float(state.get("l2", 0.0)))
        model.params_ = {p: float(params[p]) for p in target._param_names}
        ses = state.get("standard_errors") or {}
        model.standard_errors_ = {
            p: float("nan") if ses.get(p) is None else float(ses[p]) for p in target._param_names
        }
        cov = state.get("covariance")
        model.covariance_ = None if cov is None else np.asarray(cov, dtype=float)
        ll = state.get("log_likelihood")
        model.log_likelihood_ = None if ll is None else float(ll)
        unit = state.get("unit")
        model.unit_ = None if unit is None and not target._needs_unit else check_unit(unit)
        n = state.get("n")
        model.n_ = None if n is None else float(n)
        model.fit_info_ = dict(state.get("fit_info") or {})
        return model


def _jsonable(value: Any) -> Any:
    """Plain Python values (numpy scalars and arrays converted; NaN as None)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _covariances(
    hess: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Covariance of log parameters and of parameters, or None if the Hessian is singular."""
    try:
        eig = np.linalg.eigvalsh(hess)
    except np.linalg.LinAlgError:
        return None, None
    if not np.all(np.isfinite(eig)) or eig.min() <= 1e-12 * max(eig.max(), 1.0):
        return None, None
    cov_log = np.linalg.inv(hess)
    cov_log = 0.5 * (cov_log + cov_log.T)
    return cov_log, cov_log * np.outer(params, params)


def model_from_dict(state: Mapping[str, Any]) -> CLVModel:
    """Restore any CLV model from :meth:`CLVModel.to_dict` output.

    Examples
    --------
    >>> from hxmetrics.measures.clv import BetaGeo, model_from_dict
    >>> m = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")
    >>> type(model_from_dict(m.to_dict())).__name__
    'BetaGeo'
    """
    return CLVModel.from_dict(state)


def _as_float_array(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must be finite numbers; got {value!r}.")
    return arr


class RepeatBuyingModel(CLVModel):
    """Models of repeat purchases in continuous time from ``(frequency, recency, T)``.

    ``frequency`` is the number of repeat purchases (purchases after the first),
    ``recency`` the time from the first to the last purchase (0 without repeats) and
    ``T`` the time from the first purchase to the end of observation, all in the
    model's unit.
    """

    _columns: ClassVar[tuple[str, str, str]] = ("frequency", "recency", "T")

    def _histories(
        self,
        data: Any,
        *,
        frequency: str,
        recency: str,
        T: str,
        table: str = "data",
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        frame, cols = numeric_columns(
            data, {"frequency": frequency, "recency": recency, "T": T}, table=table
        )
        x, tx, big_t = cols["frequency"], cols["recency"], cols["T"]
        checks = [
            (
                (x < 0) | (x != np.floor(x)),
                [frequency],
                "frequency_whole",
                "have a frequency that is not a whole number >= 0",
            ),
            (tx < 0, [recency], "recency_non_negative", "have a negative recency"),
            (
                tx > big_t * (1 + 1e-12) + 1e-12,
                [recency, T],
                "recency_le_T",
                "have recency > T (the last purchase after the end of observation)",
            ),
            (
                (x == 0) & (tx != 0),
                [frequency, recency],
                "recency_zero_without_repeats",
                "have recency != 0 but no repeat purchase (recency is measured from the "
                "first to the last purchase, so it is 0 when frequency is 0)",
            ),
        ]
        for mask, cols_, check, message in checks:
            if np.any(mask):
                raise bad_rows(
                    frame, mask, columns=cols_, check=check, message=message, table=table
                )
        return frame, x, np.minimum(tx, big_t), big_t

    def fit(
        self,
        data: Any,
        *,
        frequency: str = "frequency",
        recency: str = "recency",
        T: str = "T",
        weights: str | None = None,
        unit: str | None = None,
        start: Mapping[str, float] | None = None,
    ) -> Any:
        """Fit by maximum likelihood to one row per customer (or per distinct history).

        Parameters
        ----------
        data : DataFrame
            Customer histories, e.g. the output of
            :func:`~hxmetrics.measures.clv.rfm_summary` (pandas, Polars, DuckDB or a
            mapping of columns).
        frequency, recency, T : str
            Column names of the repeat-purchase count, the time of the last purchase
            and the observation length, both measured from the first purchase.
        weights : str, optional
            Column of case weights (the number of customers with that history). Rows
            with identical ``(frequency, recency, T)`` are collapsed in any case.
        unit : str, optional
            Time unit of ``recency`` and ``T`` (one of ``h D W M Q Y``). Taken from
            ``data.attrs['hx_unit']`` (set by ``rfm_summary``) when omitted; one of the
            two is required, and they must agree.
        start : mapping, optional
            Starting values of the parameters.

        Returns
        -------
        self
        """
        fit_unit = resolve_fit_unit(type(self).__name__, unit, data)
        frame, x, tx, big_t = self._histories(data, frequency=frequency, recency=recency, T=T)
        w = None
        if weights is not None:
            _, wcols = numeric_columns(frame, {"weights": weights})
            w = wcols["weights"]
        if start is not None:
            [float(start.get(n, d)) for n, d in zip(self._param_names, self._start, strict=True)]
        check_identified(type(self).__name__, x, big_t, w, observed_name="T")
        self._fit_collapsed((x, tx, big_t), w, unit=fit_unit, start=start)
        return self

    # -- model-specific pieces ------------------------------------------------------
    def _alive(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _conditional(
        self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

    def _expected(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _pmf(self, n: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _plot_curve(self, horizon: float | None) -> tuple[np.ndarray, np.ndarray, str, str, bool]:
        unit = str(self.unit_)
        t = np.linspace(0.0, float(horizon or DEFAULT_HORIZON[unit]), 201)
        return (
            t,
            self._expected(t),
            f"time since the first purchase ({unit}: {UNITS.get(unit, unit)})",
            "expected repeat purchases",
            False,
        )

    # -- public predictions ---------------------------------------------------------
    def expected_purchases(self, t: Any, *, unit: str | None = None) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` of a new customer, E[X(t)].

        Parameters
        ----------
        t : float or array
            Time since the first purchase, in the model's unit.
        unit : str, optional
            If given, must equal the model's unit (a guard against mixing units).
        """
        self._check_prediction_unit(unit)
        t_arr = _as_float_array(t, "t")
        if np.any(t_arr < 0):
            raise ParameterError("t must be >= 0.")
        return self._expected(t_arr)

    def probability_of_purchases(self, n: Any, t: Any, *, unit: str | None = None) -> np.ndarray:
        """P(X(t) = n): probability of exactly ``n`` repeat purchases in ``(0, t]``."""
        self._check_prediction_unit(unit)
        n_arr = _as_float_array(n, "n")
        t_arr = _as_float_array(t, "t")
        if np.any(n_arr < 0) or np.any(n_arr != np.floor(n_arr)) or np.any(t_arr < 0):
            raise ParameterError("n must be whole numbers >= 0 and t must be >= 0.")
        n_b, t_b = np.broadcast_arrays(n_arr, t_arr)
        return self._pmf(n_b.astype(float), t_b.astype(float))

    def probability_alive(
        self,
        data: Any,
        *,
        frequency: str = "frequency",
        recency: str = "recency",
        T: str = "T",
        unit: str | None = None,
    ) -> np.ndarray:
        """P(alive at T | history) for each customer (row) of ``data``."""
        self._check_prediction_unit(unit, data)
        _, x, tx, big_t = self._histories(data, frequency=frequency, recency=recency, T=T)
        return self._alive(x, tx, big_t)

    def conditional_expected_purchases(
        self,
        data: Any,
        horizon: Any,
        *,
        frequency: str = "frequency",
        recency: str = "recency",
        T: str = "T",
        unit: str | None = None,
    ) -> np.ndarray:
        """E[purchases in (T, T + horizon] | history] for each customer of ``data``."""
        self._check_prediction_unit(unit, data)
        _, x, tx, big_t = self._histories(data, frequency=frequency, recency=recency, T=T)
        h = _as_float_array(horizon, "horizon")
        if np.any(h < 0):
            raise ParameterError("horizon must be >= 0.")
        h_b, x_b, tx_b, t_b = np.broadcast_arrays(h, x, tx, big_t)
        return self._conditional(
            h_b.astype(float), x_b.astype(float), tx_b.astype(float), t_b.astype(float)
        )

    def predict(
        self,
        data: Any,
        *,
        horizon: float,
        frequency: str = "frequency",
        recency: str = "recency",
        T: str = "T",
        unit: str | None = None,
    ) -> pd.DataFrame:
        """P(alive) and expected purchases over ``horizon`` for each customer.

        Returns
        -------
        pandas.DataFrame
            Same index as ``data`` (a pandas frame), columns ``p_alive`` and
            ``expected_purchases``; ``attrs`` hold ``horizon`` and ``unit``.
        """
        frame = as_pandas(data)
        p_alive = self.probability_alive(data, frequency=frequency, recency=recency, T=T, unit=unit)
        expected = self.conditional_expected_purchases(
            data, horizon, frequency=frequency, recency=recency, T=T, unit=unit
        )
        out = pd.DataFrame({"p_alive": p_alive, "expected_purchases": expected}, index=frame.index)
        out.attrs.update({"horizon": float(horizon), UNIT_ATTR: self.unit_})
        return out
