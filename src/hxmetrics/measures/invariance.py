"""Confirmatory factor analysis and measurement invariance across groups.

:class:`CFA` fits a (multi-group) confirmatory factor model by maximum likelihood with
analytic gradients; :func:`measurement_invariance` fits the configural → metric →
scalar → strict ladder, tabulates the fit of each level with the chi-square difference
tests between consecutive levels, and says which cross-group comparisons the data
support (correlations and driver weights need metric invariance, means need scalar).

Conventions follow lavaan's defaults so that published lavaan output is reproduced:
marker-variable identification (the first item of each factor loads 1), the normal
likelihood (covariances with divisor n, chi-square = N * F_min), standard errors from
the expected information, latent means fixed to 0 unless intercepts are held equal
(then free in every group except the reference group), the independence baseline with
group-specific variances and means for CFI/TLI, and the multi-group RMSEA multiplied
by sqrt(G). Missing answers: complete cases (listwise), counted in ``n_excluded_``.

Answers are wide (one column per item) or long, the form
:func:`~hxmetrics.measures.index.hx_index` reads (one row per response and item:
``response``, ``item``, ``score``); both give the same fit. A fit that does not converge
and a Heywood case (a variance at or below zero, a standardised loading beyond 1) give an
:class:`~hxmetrics.errors.HxWarning`.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from hxmetrics._compat import renamed, warn_renamed
from hxmetrics._display import DataclassDisplay, html_block, text_block
from hxmetrics.errors import HxWarning, ParameterError, check_choice, check_columns
from hxmetrics.measures import _cfa
from hxmetrics.measures._inference import check_confidence, z_critical
from hxmetrics.measures.reliability import reliability as _reliability

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["CFA", "InvarianceResult", "cfa", "measurement_invariance"]

#: What each level of invariance licenses (Vandenberg & Lance 2000; Putnick &
#: Bornstein 2016): the comparison and the lowest level it needs.
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("same factor structure: the items measure the same constructs", "configural"),
    ("correlations, regression slopes and driver weights across groups", "metric"),
    ("latent means and scale-score means across groups", "scalar"),
    ("observed-score variances and sum scores as interchangeable measures", "strict"),
)

_PARAM_COLUMNS = [
    "group",
    "lhs",
    "op",
    "rhs",
    "kind",
    "free",
    "label",
    "estimate",
    "se",
    "z",
    "p_value",
    "ci_low",
    "ci_high",
    "std_all",
]

_KINDS_OUT = {
    "loadings": "loading",
    "lv_variances": "factor variance",
    "lv_covariances": "factor covariance",
    "residuals": "residual variance",
    "intercepts": "intercept",
    "means": "factor mean",
}


def _equal_set(equal: str | Iterable[str]) -> frozenset[str]:
    """A level name ("metric") or family keywords ("loadings", ...) as a set."""
    if isinstance(equal, str):
        if equal in _cfa.LEVELS:
            return _cfa.LEVELS[equal]
        equal = [equal]
    out = frozenset(equal)
    bad = sorted(out - set(_cfa.EQUALITY_KEYWORDS))
    if bad:
        raise ParameterError(
            f"equal: unknown constraint(s) {bad}; use a level name "
            f"({', '.join(_cfa.LEVELS)}) or families from {list(_cfa.EQUALITY_KEYWORDS)}."
        )
    return out


def _plain(value: Any) -> Any:
    """A group label as a JSON-friendly Python scalar."""
    return value.item() if hasattr(value, "item") else value


# --------------------------------------------------------------------------- CFA


class CFA:
    """Confirmatory factor analysis by maximum likelihood, in one or several groups.

    Parameters
    ----------
    model : mapping
        ``{"factor": ["item", ...], ...}``. The first item of a factor is its marker
        (loading fixed to 1). An item listed under two factors cross-loads.
    equal : str or iterable of str
        Parameters held equal across groups: a level name (``"configural"``,
        ``"metric"``, ``"scalar"``, ``"strict"``) or families among ``"loadings"``,
        ``"intercepts"``, ``"residuals"``, ``"means"``, ``"lv_variances"``,
        ``"lv_covariances"`` (lavaan's ``group.equal``).
    meanstructure : bool, optional
        Model intercepts and latent means. Default: only with several groups (as
        lavaan's ``cfa``); a single-group fit then counts no intercepts in ``npar``.

    Attributes
    ----------
    params_ : DataFrame
        One row per group and parameter (fixed ones included): ``group``, ``lhs``,
        ``op`` (``=~`` loading, ``~~`` (co)variance, ``~1`` intercept or mean), ``rhs``,
        ``kind``, ``free``, ``label`` (the shared name of a parameter held equal across
        groups), ``estimate``, ``se``, ``z``, ``p_value``, ``ci_low``, ``ci_high``,
        ``std_all`` (completely standardised).
    fit_measures_ : dict
        ``chisq``, ``df``, ``pvalue``, ``cfi``, ``tli``, ``rmsea`` (+ 90 % interval),
        ``srmr``, ``loglik``, ``aic``, ``bic``, ``npar``, ``n``, ``n_groups``, and the
        baseline model's ``baseline_chisq`` / ``baseline_df``.
    groups_ : DataFrame
        ``group``, ``n`` (respondents used) and ``chisq`` (the group's contribution).
    n_excluded_ : int
        Rows left out: an item missing, or (with ``by``) the group label missing.
    by_ : str or None
        The group column the model was fitted with.
    heywood_ : list of str
        Heywood cases: variances estimated at or below zero, e.g. ``"x1 ~~ x1 [a]"``,
        and standardised loadings beyond 1; empty for a proper solution.
    converged_ : bool
        Whether the optimiser reached a zero gradient (``message_`` says how).

    The model protocol: :meth:`fit` returns the model, ``params_`` and :meth:`summary`
    hold the estimates, :meth:`plot` draws the loadings with their intervals,
    :meth:`to_dict` / :meth:`from_dict` give a JSON round trip without refitting, and a
    notebook shows the fit and the parameter table.

    Warns
    -----
    HxWarning
        From :meth:`fit`: the fit did not converge, or a Heywood case.

    References
    ----------
    Jöreskog, K. G. (1971). Simultaneous factor analysis in several populations.
    Psychometrika 36, 409-426.
    Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal
    of Statistical Software 48(2).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> f = rng.normal(size=(500, 1))
    >>> x = f * [1.0, 0.8, 0.9, 0.7] + rng.normal(scale=0.6, size=(500, 4))
    >>> answers = pd.DataFrame(x, columns=["q1", "q2", "q3", "q4"])
    >>> model = CFA({"hx": ["q1", "q2", "q3", "q4"]}).fit(answers)
    >>> model.summary().query("op == '=~'")[["rhs", "estimate", "se"]].round(3)
      rhs  estimate     se
    0  q1     1.000    NaN
    1  q2     0.792  0.037
    2  q3     0.959  0.041
    3  q4     0.709  0.035
    >>> round(model.fit_measures_["chisq"], 3), model.fit_measures_["df"]
    (1.032, 2.0)
    >>> import json
    >>> again = CFA.from_dict(json.loads(json.dumps(model.to_dict())))
    >>> again.summary().equals(model.summary())
    True
    """

    def __init__(
        self,
        model: Mapping[str, Sequence[str]],
        *,
        equal: str | Iterable[str] = (),
        meanstructure: bool | None = None,
    ) -> None:
        self.structure = _cfa.parse_model(model)
        self.model = self.structure.as_dict()
        self.equal = _equal_set(equal)
        self.meanstructure = meanstructure

    # ----------------------------------------------------------------- fitting

    @renamed(group="by")
    def fit(
        self,
        data: Any,
        *,
        by: str | None = None,
        reference: Any = None,
        response: str = "response_id",
    ) -> CFA:
        """Fit to wide or long answers.

        Parameters
        ----------
        data : DataFrame
            Wide answers (one row per respondent, one column per item) or long ones
            (one row per response and item: ``response``, ``item``, ``score``, as
            :func:`~hxmetrics.measures.index.hx_index` reads them). pandas or any frame
            narwhals accepts.
        by : str, optional
            Column naming the group of each row (multi-group analysis). ``group=`` is
            its deprecated old name.
        reference : optional
            The reference group (listed first; its latent means are fixed to 0 when the
            intercepts are held equal). Default: the first label in sorted order.
        response : str
            Long answers only: the column naming the response.

        Returns
        -------
        CFA
            ``self``, fitted.

        Warns
        -----
        HxWarning
            The fit did not converge, or a Heywood case.
        """
        self._fit(data, by=by, reference=reference, response=response)
        self._warn(stacklevel=4)  # _warn <- fit <- renamed's wrapper <- the caller
        return self

    def _fit(self, data: Any, *, by: str | None, reference: Any, response: str) -> CFA:
        mom, n_excluded = _moments(data, self.structure.items, by, reference, response)
        return self._fit_moments(mom, by=by, n_excluded=n_excluded)

    def _warn(self, *, stacklevel: int) -> None:
        for message in self._problems():
            warnings.warn(message, HxWarning, stacklevel=stacklevel)

    def _fit_moments(
        self,
        mom: _cfa.Moments,
        *,
        by: str | None,
        n_excluded: int,
        start: np.ndarray | None = None,
    ) -> CFA:
        ms = mom.G > 1 if self.meanstructure is None else bool(self.meanstructure)
        spec = _cfa.Spec(self.structure, mom.G, self.equal, ms)
        result = _cfa.fit_ml(spec, mom, start=start)
        self._set_state(
            mom,
            spec,
            result.theta,
            by=by,
            n_excluded=n_excluded,
            converged=result.converged,
            iterations=result.iterations,
            message=result.message,
            at_bound=result.at_bound,
        )
        return self

    def _set_state(
        self,
        mom: _cfa.Moments,
        spec: _cfa.Spec,
        theta: np.ndarray,
        *,
        by: str | None,
        n_excluded: int,
        converged: bool,
        iterations: int,
        message: str,
        at_bound: list[int],
    ) -> None:
        self._mom = mom
        self._spec = spec
        self._theta = np.asarray(theta, dtype=float)
        self.by_ = by
        self.n_excluded_ = int(n_excluded)
        self.converged_ = bool(converged)
        self.iterations_ = int(iterations)
        self.message_ = message
        self._at_bound = list(at_bound)
        self.heywood_ = [
            " ".join(x for x in spec.labels[k][1:] if x)
            + (f" [{', '.join(str(mom.groups[g]) for g in spec.param_groups()[k])}]")
            for k in self._at_bound
        ]
        f_groups = _cfa._group_discrepancy(spec, mom, self._theta)
        fit = _cfa.FitResult(
            theta=self._theta,
            F=float((mom.n / mom.n.sum()) @ f_groups) if f_groups is not None else math.nan,
            f_groups=f_groups if f_groups is not None else np.full(mom.G, np.nan),
            converged=converged,
            iterations=iterations,
            message=message,
            at_bound=self._at_bound,
        )
        self.fit_measures_ = _cfa.fit_measures(spec, mom, fit)
        self.se_, self.vcov_ = _cfa.standard_errors(spec, mom, self._theta)
        self.groups_ = pd.DataFrame(
            {
                "group": list(mom.groups),
                "n": mom.n.astype(int),
                "chisq": mom.n * fit.f_groups,
            }
        )
        self.params_ = self._params_table()
        # A standardised loading beyond 1 beside a negative residual variance is the same
        # Heywood case, listed once (by the variance).
        p = self.params_
        proper = p[(p["kind"] == "residual variance") & (p["estimate"] > 0)]
        loadings = p[p["op"] == "=~"].merge(
            proper[["group", "lhs"]].rename(columns={"lhs": "rhs"}), on=["group", "rhs"]
        )
        beyond = loadings[np.abs(loadings["std_all"].to_numpy()) > 1.0 + 1e-8]
        self.heywood_ += [
            f"{r.lhs} =~ {r.rhs} [{r.group}] (standardised {r.std_all:.3f})"
            for r in beyond.itertuples(index=False)
        ]

    @property
    def group_(self) -> str | None:
        """Deprecated: the group column, now :attr:`by_`."""
        warn_renamed("CFA", "group_", "by_")
        return self.by_

    def _problems(self) -> list[str]:
        """The fit's statistical problems, each as a message that says what to do."""
        out = []
        if not self.converged_:
            out.append(
                f"CFA did not converge ({self.message_}): the estimates, standard errors "
                "and fit measures may be wrong. Check the model (every factor needs items "
                "that covary; items keyed one way), drop near-constant items, or use more "
                "respondents."
            )
        if self.heywood_:
            shown = "; ".join(self.heywood_[:5])
            more = len(self.heywood_) - 5
            out.append(
                f"CFA: Heywood case: {shown}{f' and {more} more' if more > 0 else ''} "
                "(a variance at or below 0, or a standardised loading beyond 1). The model "
                "does not fit these items as specified: look for an item that duplicates "
                "another, a factor with too few items, or too few respondents, and do not "
                "interpret these estimates."
            )
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "_theta"):
            raise ParameterError("this CFA is not fitted yet; call .fit(data) first.")

    def _params_table(self, confidence: float = 0.95) -> pd.DataFrame:
        spec, mom, theta = self._spec, self._mom, self._theta
        s = spec.structure
        L, P, T, Nu, Al = spec.fill(theta)
        sigma = L @ P @ np.swapaxes(L, 1, 2)
        sigma[:, np.arange(s.p), np.arange(s.p)] += T
        sd_x = np.sqrt(np.diagonal(sigma, axis1=1, axis2=2))
        sd_f = np.sqrt(np.clip(np.diagonal(P, axis1=1, axis2=2), 0.0, None))
        shared = spec.param_groups()
        from scipy import stats

        z_crit = z_critical(confidence)
        rows: list[dict[str, Any]] = []

        def add(
            g: int, kind: str, lhs: str, op: str, rhs: str, idx: int, est: float, std: float
        ) -> None:
            rows.append(
                {
                    "group": mom.groups[g],
                    "lhs": lhs,
                    "op": op,
                    "rhs": rhs,
                    "kind": _KINDS_OUT[kind],
                    "free": idx >= 0,
                    "label": f"p{idx + 1}" if idx >= 0 and len(shared[idx]) > 1 else "",
                    "estimate": float(est),
                    "_idx": idx,
                    "std_all": float(std),
                }
            )

        with np.errstate(invalid="ignore", divide="ignore"):
            for g in range(spec.G):
                for j, f in enumerate(s.factors):
                    for i in map(int, np.flatnonzero(s.pattern[:, j])):
                        lam = L[g, i, j]
                        add(g, "loadings", f, "=~", s.items[i], int(spec.L_idx[g, i, j]), lam,
                            lam * sd_f[g, j] / sd_x[g, i])  # fmt: skip
                for j in range(s.m):
                    for k in range(j, s.m):
                        kind = "lv_variances" if j == k else "lv_covariances"
                        est = P[g, j, k]
                        add(g, kind, s.factors[j], "~~", s.factors[k], int(spec.P_idx[g, j, k]),
                            est, est / (sd_f[g, j] * sd_f[g, k]))  # fmt: skip
                for i in range(s.p):
                    add(g, "residuals", s.items[i], "~~", s.items[i], int(spec.T_idx[g, i]),
                        T[g, i], T[g, i] / sd_x[g, i] ** 2)  # fmt: skip
                if spec.meanstructure:
                    for i in range(s.p):
                        add(g, "intercepts", s.items[i], "~1", "", int(spec.N_idx[g, i]),
                            Nu[g, i], Nu[g, i] / sd_x[g, i])  # fmt: skip
                    for j in range(s.m):
                        add(g, "means", s.factors[j], "~1", "", int(spec.A_idx[g, j]),
                            Al[g, j], Al[g, j] / sd_f[g, j])  # fmt: skip
        out = pd.DataFrame(rows)
        idx = out.pop("_idx").to_numpy()
        free = idx >= 0
        se = np.where(free, self.se_[np.maximum(idx, 0)], np.nan)
        est = out["estimate"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(free & (se > 0), est / se, np.nan)
        out["se"] = se
        out["z"] = z
        out["p_value"] = 2.0 * stats.norm.sf(np.abs(z))
        out["ci_low"] = est - z_crit * se
        out["ci_high"] = est + z_crit * se
        return out[_PARAM_COLUMNS]

    # ----------------------------------------------------------------- results

    def summary(self, *, confidence: float = 0.95) -> pd.DataFrame:
        """The parameter table (see ``params_``), with intervals at ``confidence``."""
        self._check_fitted()
        if not 0.0 < confidence < 1.0:
            raise ParameterError(f"confidence must be between 0 and 1; got {confidence!r}.")
        return self._params_table(confidence)

    def fit_table(self) -> pd.DataFrame:
        """The fit measures as a one-row DataFrame."""
        self._check_fitted()
        return pd.DataFrame([self.fit_measures_])

    def composite_reliability(self, *, denominator: str = "model") -> pd.DataFrame:
        """Omega (composite reliability) and AVE of each factor, per group.

        ``omega = (sum lambda)^2 phi / D`` with ``D`` the model-implied variance of the
        sum of the factor's items (``denominator="model"``, Raykov 2001; semTools'
        ``reliability()`` "omega") or the observed one (``"observed"``, Bentler 2009;
        semTools' ``compRelSEM()`` default). ``ave = sum lambda^2 phi / (sum lambda^2
        phi + sum theta)`` (Fornell & Larcker 1981).

        Returns
        -------
        DataFrame
            ``group``, ``factor``, ``n_items``, ``omega``, ``ave``.
        """
        self._check_fitted()
        check_choice("denominator", denominator, ("model", "observed"))
        spec, mom, s = self._spec, self._mom, self._spec.structure
        L, P, T, *_ = spec.fill(self._theta)
        rows = []
        for g in range(spec.G):
            sigma = L[g] @ P[g] @ L[g].T + np.diag(T[g])
            for j, f in enumerate(s.factors):
                idx = np.flatnonzero(s.pattern[:, j])
                lam, phi = L[g, idx, j], P[g, j, j]
                true = float(lam.sum()) ** 2 * phi
                total = (sigma if denominator == "model" else mom.cov[g])[np.ix_(idx, idx)].sum()
                common = float((lam**2).sum() * phi)
                rows.append(
                    {
                        "group": mom.groups[g],
                        "factor": f,
                        "n_items": len(idx),
                        "omega": true / float(total),
                        "ave": common / (common + float(T[g, idx].sum())),
                    }
                )
        return pd.DataFrame(rows)

    def predict(self, data: Any) -> pd.DataFrame:
        """Factor scores by the regression (Thurstone) method.

        ``f = alpha_g + Phi Lambda' Sigma^-1 (x - mu_g)`` per row, with ``mu_g`` the
        model-implied means (or the group's observed means without a mean structure).
        Rows with a missing item get missing scores.

        Returns
        -------
        DataFrame
            One column per factor, indexed like ``data``.
        """
        self._check_fitted()
        frame = _cfa.to_pandas(data)
        s, spec, mom = self._spec.structure, self._spec, self._mom
        x = _cfa.item_matrix(frame, s.items)
        if spec.G > 1 or self.by_ is not None:
            if self.by_ is None or self.by_ not in frame.columns:
                raise ParameterError(
                    f"data needs the group column {self.by_!r} the model was fitted with."
                )
            labels = frame[self.by_].to_numpy()
            lookup = {lab: g for g, lab in enumerate(mom.groups)}
            unknown = sorted({str(v) for v in labels if v not in lookup})
            if unknown:
                raise ParameterError(
                    f"groups {unknown[:5]} were not in the fitted data; known: "
                    f"{[str(v) for v in mom.groups]}."
                )
            codes = np.array([lookup[v] for v in labels], dtype=int)
        else:
            codes = np.zeros(len(frame), dtype=int)
        L, P, T, Nu, Al = spec.fill(self._theta)
        out = np.full((len(frame), s.m), np.nan)
        for g in range(spec.G):
            sigma = L[g] @ P[g] @ L[g].T + np.diag(T[g])
            mu = Nu[g] + L[g] @ Al[g] if spec.meanstructure else mom.mean[g]
            weights = P[g] @ L[g].T @ np.linalg.inv(sigma)
            rows = np.flatnonzero(codes == g)
            out[rows] = Al[g] + (x[rows] - mu) @ weights.T
        return pd.DataFrame(out, columns=list(s.factors), index=frame.index)

    # ----------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain numbers and strings (JSON-serialisable)."""
        self._check_fitted()
        mom = self._mom
        return {
            "model": self.model,
            "equal": sorted(self.equal),
            "meanstructure": bool(self._spec.meanstructure),
            "by": self.by_,
            "groups": [_plain(g) for g in mom.groups],
            "n": mom.n.tolist(),
            "mean": mom.mean.tolist(),
            "cov": mom.cov.tolist(),
            "theta": self._theta.tolist(),
            "n_excluded": self.n_excluded_,
            "converged": self.converged_,
            "iterations": self.iterations_,
            "message": self.message_,
            "at_bound": self._at_bound,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CFA:
        """Rebuild a fitted model from :meth:`to_dict` output (no refitting)."""
        obj = cls(state["model"], equal=state["equal"], meanstructure=state["meanstructure"])
        mom = _cfa.Moments(
            tuple(state["groups"]),
            np.asarray(state["n"], dtype=float),
            np.asarray(state["mean"], dtype=float),
            np.asarray(state["cov"], dtype=float),
        )
        spec = _cfa.Spec(obj.structure, mom.G, obj.equal, bool(state["meanstructure"]))
        obj._set_state(
            mom,
            spec,
            np.asarray(state["theta"], dtype=float),
            # "group" is the key of the states written before the by= rename
            by=state["by"] if "by" in state else state.get("group"),
            n_excluded=state["n_excluded"],
            converged=state["converged"],
            iterations=state["iterations"],
            message=state["message"],
            at_bound=list(state["at_bound"]),
        )
        return obj

    def plot(self, *, ax: Axes | None = None, confidence: float = 0.95) -> Axes:
        """Draw the loadings with their intervals (one row per loading, a colour per group).

        Markers (loadings fixed to 1) are drawn without an interval.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; default a new figure.
        confidence : float
            Level of the Wald intervals.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from hxmetrics.plotting import new_figure
        >>> rng = np.random.default_rng(3)
        >>> x = rng.normal(size=(200, 1)) + rng.normal(scale=0.6, size=(200, 3))
        >>> model = CFA({"f": ["a", "b", "c"]}).fit(pd.DataFrame(x, columns=list("abc")))
        >>> fig, ax = new_figure(4, 2)
        >>> model.plot(ax=ax) is ax
        True
        """
        from hxmetrics.plotting import _axes, style

        table = self.summary(confidence=confidence)
        rows = table[table["op"] == "=~"]
        labels = list(dict.fromkeys(f"{r.lhs} =~ {r.rhs}" for r in rows.itertuples()))
        position = {label: i for i, label in enumerate(labels)}
        groups = list(dict.fromkeys(rows["group"]))
        with style():
            ax = _axes(ax, 6.0, 0.9 + 0.35 * len(labels))
            step = 0.6 / max(len(groups), 1)
            for k, g in enumerate(groups):
                part = rows[rows["group"] == g]
                y = np.array([position[f"{r.lhs} =~ {r.rhs}"] for r in part.itertuples()])
                y = y + (k - (len(groups) - 1) / 2.0) * step
                est = part["estimate"].to_numpy(dtype=float)
                low = np.nan_to_num(est - part["ci_low"].to_numpy(dtype=float))
                high = np.nan_to_num(part["ci_high"].to_numpy(dtype=float) - est)
                ax.errorbar(
                    est,
                    y,
                    xerr=np.vstack([low, high]),
                    fmt="o",
                    capsize=2,
                    label=str(g) if len(groups) > 1 else None,
                )
            ax.set_yticks(range(len(labels)), labels)
            ax.set_ylim(len(labels) - 0.5, -0.5)
            ax.axvline(0.0, color="0.6", linewidth=0.8)
            ax.set_xlabel(f"loading ({confidence:.0%} interval; markers fixed at 1)")
            if len(groups) > 1:
                ax.legend(title=self.by_, loc="best")
        return ax

    # ----------------------------------------------------------------- display

    def _title(self) -> str:
        factors = ", ".join(self.structure.factors)
        eq = ", ".join(sorted(self.equal)) or "none"
        if not hasattr(self, "fit_measures_"):
            return f"CFA of {factors} (equal: {eq}), not fitted"
        fm = self.fit_measures_
        groups = f" in {int(fm['n_groups'])} groups of {self.by_!r}" if self.by_ else ""
        return (
            f"CFA of {factors} (equal: {eq}){groups}: chisq = {fm['chisq']:.3f}, "
            f"df = {fm['df']:.0f}, CFI = {fm['cfi']:.3f}, RMSEA = {fm['rmsea']:.3f}, "
            f"SRMR = {fm['srmr']:.3f}, n = {fm['n']:.0f}"
        )

    def _notes(self) -> list[str]:
        if not hasattr(self, "fit_measures_"):
            return ["call .fit(data) first"]
        notes = [f"{self.n_excluded_:,} row(s) left out (an item or the group missing)"]
        notes += self._problems()
        return notes

    def _repr_html_(self) -> str:
        frame = self.summary() if hasattr(self, "fit_measures_") else None
        return html_block(self._title(), frame, notes=self._notes())

    def __repr__(self) -> str:
        status = "unfitted"
        if hasattr(self, "fit_measures_"):
            fm = self.fit_measures_
            status = f"chisq={fm['chisq']:.3f}, df={fm['df']:.0f}, n={fm['n']:.0f}"
        eq = ", ".join(sorted(self.equal)) or "none"
        return f"CFA(factors={list(self.structure.factors)}, equal=[{eq}], {status})"


def _wide(data: Any, items: Sequence[str], by: str | None, response: str) -> Any:
    """Wide answers as pandas; long ones pivoted to one row per response."""
    frame = _cfa.to_pandas(data)
    if _cfa.is_long(frame, items):
        frame = _cfa.wide_from_long(frame, response=response, by=[] if by is None else [by])
    return frame


def _moments(
    data: Any, items: Sequence[str], group: str | None, reference: Any, response: str
) -> tuple[_cfa.Moments, int]:
    """Complete-case sufficient statistics per group, and the number of rows left out."""
    frame = _wide(data, items, group, response)
    x = _cfa.item_matrix(frame, items)
    keep = ~np.isnan(x).any(axis=1)
    if group is None:
        labels = np.zeros(len(frame), dtype=int)
        uniques: list[Any] = ["all"]
        if reference is not None:
            raise ParameterError("reference= needs by=.")
    else:
        check_columns(frame.columns, [group])
        col = frame[group]
        keep &= col.notna().to_numpy()
        codes, found = pd.factorize(col[keep], sort=True)
        uniques = [_plain(v) for v in found]
        if reference is not None:
            if _plain(reference) not in uniques:
                raise ParameterError(
                    f"reference group {reference!r} not found in column {group!r}; groups: "
                    f"{uniques[:10]}."
                )
            r = uniques.index(_plain(reference))
            order = [r] + [i for i in range(len(uniques)) if i != r]
            remap = np.empty(len(order), dtype=int)
            remap[order] = np.arange(len(order))
            codes = remap[codes]
            uniques = [uniques[i] for i in order]
        labels = np.full(len(frame), -1)
        labels[keep] = codes
    if keep.sum() == 0:
        raise ParameterError(
            "no complete rows: every row misses at least one item"
            + (" or its group label." if group else ".")
        )
    mom = _cfa.moments_from_array(x[keep], labels[keep], uniques)
    return mom, int((~keep).sum())


@renamed(group="by")
def cfa(
    data: Any,
    model: Mapping[str, Sequence[str]],
    *,
    by: str | None = None,
    equal: str | Iterable[str] = (),
    meanstructure: bool | None = None,
    reference: Any = None,
    response: str = "response_id",
) -> CFA:
    """Fit a confirmatory factor model; shorthand for ``CFA(model, ...).fit(data, ...)``.

    Parameters
    ----------
    data : DataFrame
        Wide answers (one column per item) or long ones (``response``, ``item``,
        ``score``); see :meth:`CFA.fit`.
    model : mapping
        ``{"factor": ["item", ...]}``; see :class:`CFA`.
    by, reference, response
        See :meth:`CFA.fit` (``group=`` is the deprecated old name of ``by``).
    equal, meanstructure
        See :class:`CFA`.

    Returns
    -------
    CFA
        The fitted model (``params_``, ``fit_measures_``, ``summary()``, ``predict()``,
        ``plot()``).

    Warns
    -----
    HxWarning
        The fit did not converge, or a Heywood case.

    References
    ----------
    Jöreskog (1971); Rosseel (2012), see :class:`CFA`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> f = rng.normal(size=(500, 1))
    >>> x = f * [1.0, 0.8, 0.9, 0.7] + rng.normal(scale=0.6, size=(500, 4))
    >>> answers = pd.DataFrame(x, columns=["q1", "q2", "q3", "q4"])
    >>> fit = cfa(answers, {"hx": ["q1", "q2", "q3", "q4"]})
    >>> {k: round(fit.fit_measures_[k], 3) for k in ("cfi", "rmsea", "srmr")}
    {'cfi': 1.0, 'rmsea': 0.0, 'srmr': 0.005}
    """
    fitted = CFA(model, equal=equal, meanstructure=meanstructure)._fit(
        data, by=by, reference=reference, response=response
    )
    fitted._warn(stacklevel=4)  # _warn <- cfa <- renamed's wrapper <- the caller
    return fitted


# --------------------------------------------------------------------------- invariance


@dataclass
class InvarianceResult(DataclassDisplay):
    """The outcome of :func:`measurement_invariance`.

    Attributes
    ----------
    table : DataFrame
        One row per level: ``level``, ``constraints``, ``npar``, ``chisq``, ``df``,
        ``pvalue``, ``cfi``, ``tli``, ``rmsea`` (+ ``rmsea_ci_low``/``high``), ``srmr``,
        ``aic``, ``bic``, ``converged``, ``heywood`` (variances at or below zero), then
        the comparison with the previous level:
        ``compared_to``, ``chisq_diff``, ``df_diff``, ``p_diff``, ``delta_cfi``,
        ``delta_rmsea``, ``delta_srmr``, ``invariant`` (the rule's verdict on that
        step), and ``supported`` (this level and every step below it hold).
    verdict : DataFrame
        One row per kind of cross-group comparison: ``comparison``, ``requires``
        (level), ``valid`` (bool) and ``reason``.
    supported_level : str or None
        The highest level supported (None when even the configural model fits badly).
    fits : dict
        Level name → fitted :class:`CFA` (``params_``, ``summary()``).
    reliability : DataFrame or None
        Alpha and omega per group and factor (on the same complete rows).
    groups : DataFrame
        ``group`` and ``n`` (respondents used).
    n_excluded : int
        Rows left out (an item or the group label missing).
    settings : dict
        The group column (``by``), the decision rule and its cut-offs.

    ``print(result)`` shows the verdict and the fit table; a notebook shows every field
    (:func:`hxmetrics._display.dataclass_html`).
    """

    table: pd.DataFrame
    verdict: pd.DataFrame
    supported_level: str | None
    fits: dict[str, CFA]
    reliability: pd.DataFrame | None
    groups: pd.DataFrame
    n_excluded: int
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The fit table (``table``)."""
        return self.table

    def __repr__(self) -> str:
        by = self.settings.get("by")
        groups = f"{len(self.groups)} groups" + (f" of {by!r}" if by else "")
        n = int(self.groups["n"].sum()) if "n" in self.groups else 0
        title = (
            f"InvarianceResult: measurement invariance across {groups} (n = {n:,}); "
            f"highest level supported: {self.supported_level or 'none'}"
        )
        columns = [
            c
            for c in ("level", "chisq", "df", "cfi", "rmsea", "srmr", "delta_cfi", "supported")
            if c in self.table.columns
        ]
        notes = [
            f"{'valid' if r.valid else 'not valid'}: {r.comparison} ({r.reason})"
            for r in self.verdict.itertuples(index=False)
        ]
        if self.n_excluded:
            notes.append(f"{self.n_excluded:,} row(s) left out (an item or the group missing)")
        return text_block(title, self.table[columns].round(3), notes=notes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable state (the fitted models included)."""

        def records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if df is None:
                return None
            clean = df.astype(object).where(pd.notna(df), None)
            return [{str(k): _plain(v) for k, v in r.items()} for r in clean.to_dict("records")]

        return {
            "table": records(self.table),
            "verdict": records(self.verdict),
            "supported_level": self.supported_level,
            "fits": {k: v.to_dict() for k, v in self.fits.items()},
            "reliability": records(self.reliability),
            "groups": records(self.groups),
            "n_excluded": self.n_excluded,
            "settings": self.settings,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> InvarianceResult:
        """Rebuild from :meth:`to_dict` output."""
        table = pd.DataFrame(state["table"])
        table["invariant"] = table["invariant"].astype("boolean")
        table["supported"] = table["supported"].astype(bool)
        rel = state["reliability"]
        return cls(
            table=table,
            verdict=pd.DataFrame(state["verdict"]),
            supported_level=state["supported_level"],
            fits={k: CFA.from_dict(v) for k, v in state["fits"].items()},
            reliability=None if rel is None else pd.DataFrame(rel),
            groups=pd.DataFrame(state["groups"]),
            n_excluded=int(state["n_excluded"]),
            settings=dict(state["settings"]),
        )


def _level_sets(levels: Sequence[str | Iterable[str]]) -> list[tuple[str, frozenset[str]]]:
    out: list[tuple[str, frozenset[str]]] = []
    for lev in levels:
        if isinstance(lev, str):
            if lev not in _cfa.LEVELS:
                raise ParameterError(
                    f"unknown level {lev!r}; use {list(_cfa.LEVELS)} or a set of families "
                    f"from {list(_cfa.EQUALITY_KEYWORDS)}, e.g. ('loadings', 'intercepts', "
                    "'means')."
                )
            out.append((lev, _cfa.LEVELS[lev]))
        else:
            eq = _equal_set(lev)
            name = next((k for k, v in _cfa.LEVELS.items() if v == eq), None)
            out.append((name or "+".join(sorted(eq)), eq))
    if len(out) < 2:
        raise ParameterError("levels must name at least two models to compare.")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ParameterError(f"levels repeats a model: {names}.")
    for (n0, e0), (n1, e1) in itertools.pairwise(out):
        if not e0 <= e1:
            raise ParameterError(
                f"levels must be nested, each adding constraints: {n1!r} does not contain "
                f"the constraints of {n0!r}."
            )
    return out


def _significance_as_confidence(func: _F) -> _F:
    """Accept the old ``significance=0.05`` as ``confidence=0.95``, with a warning."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "significance" in kwargs:
            if "confidence" in kwargs:
                raise ParameterError(
                    f"{func.__name__}(): pass 'confidence' only; 'significance' is its old "
                    "name (significance=0.05 is confidence=0.95)."
                )
            # warn_renamed <- this wrapper <- renamed()'s wrapper <- the caller
            warn_renamed(func.__name__, "significance", "confidence", stacklevel=4)
            kwargs["confidence"] = 1.0 - float(kwargs.pop("significance"))
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@renamed(group="by")
@_significance_as_confidence
def measurement_invariance(
    data: Any,
    model: Mapping[str, Sequence[str]],
    *,
    by: str,
    levels: Sequence[str | Iterable[str]] = ("configural", "metric", "scalar", "strict"),
    criterion: str = "chen2007",
    delta_cfi: float = -0.010,
    delta_rmsea: float = 0.015,
    delta_srmr: tuple[float, float] = (0.030, 0.010),
    confidence: float = 0.95,
    configural_cfi: float = 0.90,
    configural_rmsea: float = 0.10,
    reference: Any = None,
    reliability: bool = True,
    min_n: int | None = 10,
    response: str = "response_id",
) -> InvarianceResult:
    """Test measurement invariance across groups with multi-group CFA.

    Fits the nested models in ``levels`` (default configural → metric (equal loadings)
    → scalar (+ equal intercepts, latent means free) → strict (+ equal residual
    variances)), compares each with the previous one, and decides which level holds.

    Decision rules (``criterion``):

    * ``"chen2007"`` (default): a step is non-invariant when CFI drops by at least
      ``|delta_cfi|`` (ΔCFI <= -0.010) **and** RMSEA rises by at least ``delta_rmsea``
      (0.015) or SRMR by at least ``delta_srmr`` (0.030 for the loadings step, 0.010
      for the intercept and residual steps) (Chen 2007).
    * ``"chisq"``: non-invariant when the chi-square difference test rejects at the
      level ``1 - confidence`` (p < 0.05 with the default).

    The configural model must itself fit acceptably (CFI >= ``configural_cfi`` and
    RMSEA <= ``configural_rmsea``) for anything to be supported.

    Parameters
    ----------
    data : DataFrame
        Wide answers (one column per item) with a group column, or long ones (one row
        per response and item: ``response``, ``item``, ``score`` and the group column,
        as :func:`~hxmetrics.measures.index.hx_index` reads them).
    model : mapping
        ``{"factor": ["item", ...]}``; the first item of each factor is its marker.
    by : str
        The group column (``group=`` is its deprecated old name).
    levels : sequence
        Level names, or sets of families held equal (e.g. ``("loadings",
        "intercepts", "means")`` to test equal latent means after scalar invariance).
        Each must contain the constraints of the one before.
    criterion, delta_cfi, delta_rmsea, delta_srmr, confidence
        The decision rule and its cut-offs (above). ``significance=0.05`` is the
        deprecated old spelling of ``confidence=0.95``.
    configural_cfi, configural_rmsea : float
        Minimum fit of the configural model.
    reference : optional
        Reference group (latent means fixed at 0); default the first in sorted order.
    reliability : bool
        Also report alpha and omega per group and factor.
    min_n : int or None
        Groups smaller than this are suppressed in the reliability table.
    response : str
        Long answers only: the column naming the response.

    Returns
    -------
    InvarianceResult
        ``table``, ``verdict``, ``supported_level``, ``fits``, ``reliability``.

    Warns
    -----
    HxWarning
        A level's fit did not converge or has a Heywood case (one warning naming the
        levels), and from the reliability table as in
        :func:`~hxmetrics.measures.reliability.reliability`.

    References
    ----------
    Meredith, W. (1993). Measurement invariance, factor analysis and factorial
    invariance. Psychometrika 58, 525-543.
    Vandenberg, R. J. & Lance, C. E. (2000). A review and synthesis of the measurement
    invariance literature. Organizational Research Methods 3, 4-70.
    Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement
    invariance. Structural Equation Modeling 14, 464-504.
    Steiger, J. H. (1998). A note on multiple sample extensions of the RMSEA fit index.
    Structural Equation Modeling 5, 411-419.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(11)
    >>> f = rng.normal(size=(600, 1))
    >>> x = f * [1.0, 0.8, 0.9, 0.7] + rng.normal(scale=0.6, size=(600, 4))
    >>> answers = pd.DataFrame(x, columns=["q1", "q2", "q3", "q4"])
    >>> answers["silo"] = np.repeat(["customers", "workers", "partners"], 200)
    >>> res = measurement_invariance(answers, {"hx": ["q1", "q2", "q3", "q4"]},
    ...                              by="silo")
    >>> res.table[["level", "df", "df_diff", "invariant"]]
            level    df  df_diff  invariant
    0  configural   6.0      NaN       <NA>
    1      metric  12.0      6.0       True
    2      scalar  18.0      6.0       True
    3      strict  26.0      8.0       True
    >>> res.supported_level
    'strict'
    """
    confidence = check_confidence(confidence)
    significance = 1.0 - confidence
    check_choice("criterion", criterion, ("chen2007", "chisq"))
    from scipy import stats  # imported when used: scipy.stats costs ~0.5 s to import

    structure = _cfa.parse_model(model)
    ladder = _level_sets(levels)
    frame = _wide(data, structure.items, by, response)
    mom, n_excluded = _moments(frame, structure.items, by, reference, response)
    if mom.G < 2:
        raise ParameterError(
            f"measurement invariance needs at least two groups; column {by!r} has "
            f"{mom.G} ({list(mom.groups)})."
        )

    fits: dict[str, CFA] = {}
    prev: CFA | None = None
    for name, eq in ladder:
        model_l = CFA(structure.as_dict(), equal=eq, meanstructure=True)
        start = None
        if prev is not None:  # start from the previous level's estimates
            spec_l = _cfa.Spec(structure, mom.G, eq, True)
            start = _cfa.params_from_matrices(spec_l, prev._spec.fill(prev._theta), mom.n)
        fits[name] = model_l._fit_moments(mom, by=by, n_excluded=n_excluded, start=start)
        prev = fits[name]
    _warn_levels(fits)

    rows = []
    for k, (name, eq) in enumerate(ladder):
        fm = fits[name].fit_measures_
        row: dict[str, Any] = {
            "level": name,
            "constraints": "+".join(sorted(eq)) or "none",
            "npar": int(fm["npar"]),
            **{c: fm[c] for c in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea")},
            "rmsea_ci_low": fm["rmsea_ci_low"],
            "rmsea_ci_high": fm["rmsea_ci_high"],
            "srmr": fm["srmr"],
            "aic": fm["aic"],
            "bic": fm["bic"],
            "converged": fits[name].converged_,
            "heywood": len(fits[name].heywood_),
            "compared_to": None,
            "chisq_diff": math.nan,
            "df_diff": math.nan,
            "p_diff": math.nan,
            "delta_cfi": math.nan,
            "delta_rmsea": math.nan,
            "delta_srmr": math.nan,
            "invariant": pd.NA,
        }
        if k > 0:
            pname, peq = ladder[k - 1]
            pm = fits[pname].fit_measures_
            dchi = fm["chisq"] - pm["chisq"]
            ddf = fm["df"] - pm["df"]
            p = float(stats.chi2.sf(max(dchi, 0.0), ddf)) if ddf > 0 else math.nan
            d_cfi = fm["cfi"] - pm["cfi"]
            d_rmsea = fm["rmsea"] - pm["rmsea"]
            d_srmr = fm["srmr"] - pm["srmr"]
            if criterion == "chisq":
                invariant = bool(p >= significance) if math.isfinite(p) else True
            else:
                added = eq - peq
                srmr_cut = delta_srmr[0] if added <= {"loadings"} else delta_srmr[1]
                flagged = d_cfi <= delta_cfi and (d_rmsea >= delta_rmsea or d_srmr >= srmr_cut)
                invariant = not flagged
            row.update(
                compared_to=pname,
                chisq_diff=dchi,
                df_diff=ddf,
                p_diff=p,
                delta_cfi=d_cfi,
                delta_rmsea=d_rmsea,
                delta_srmr=d_srmr,
                invariant=invariant,
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    table["invariant"] = table["invariant"].astype("boolean")

    first = table.iloc[0]
    supported = [bool(first["cfi"] >= configural_cfi and first["rmsea"] <= configural_rmsea)]
    for k in range(1, len(table)):
        supported.append(supported[-1] and bool(table["invariant"].iloc[k]))
    table["supported"] = supported
    held = [eq for (name, eq), ok in zip(ladder, supported, strict=True) if ok]
    supported_level = None
    for (name, _), ok in zip(ladder, supported, strict=True):
        if ok:
            supported_level = name

    tested = [eq for _, eq in ladder]
    verdict_rows = []
    for comparison, requires in COMPARISONS:
        need = _cfa.LEVELS[requires]
        valid = any(need <= eq for eq in held)
        if valid:
            reason = f"{requires} invariance holds"
        elif not any(need <= eq for eq in tested):
            reason = f"{requires} invariance was not tested"
        elif not supported[0]:
            reason = (
                f"the configural model fits poorly (CFI {first['cfi']:.3f} < "
                f"{configural_cfi} or RMSEA {first['rmsea']:.3f} > {configural_rmsea})"
            )
        else:
            reason = f"{requires} invariance is rejected (highest level held: {supported_level})"
        verdict_rows.append(
            {"comparison": comparison, "requires": requires, "valid": valid, "reason": reason}
        )
    verdict = pd.DataFrame(verdict_rows)

    rel = None
    if reliability:
        items = list(structure.items)
        keep = frame[items].notna().all(axis=1) & frame[by].notna()
        scales = {f: its for f, its in structure.as_dict().items() if len(its) >= 2}
        if scales:
            rel = _reliability(frame.loc[keep], scales=scales, by=by, min_n=min_n)

    return InvarianceResult(
        table=table,
        verdict=verdict,
        supported_level=supported_level,
        fits=fits,
        reliability=rel,
        groups=fits[ladder[0][0]].groups_[["group", "n"]].copy(),
        n_excluded=n_excluded,
        settings={
            "by": by,
            "criterion": criterion,
            "delta_cfi": delta_cfi,
            "delta_rmsea": delta_rmsea,
            "delta_srmr": list(delta_srmr),
            "confidence": confidence,
            "configural_cfi": configural_cfi,
            "configural_rmsea": configural_rmsea,
        },
    )


#: warn <- _warn_levels <- measurement_invariance <- its two wrappers <- the caller
_LEVELS_STACK = 5


def _warn_levels(fits: Mapping[str, CFA]) -> None:
    """One HxWarning per kind of problem, naming the levels it concerns."""
    stuck = [name for name, fit in fits.items() if not fit.converged_]
    heywood = {name: fit.heywood_ for name, fit in fits.items() if fit.heywood_}
    if stuck:
        warnings.warn(
            f"measurement_invariance: the fit of level(s) {stuck} did not converge; their "
            "fit measures, and the steps that compare them, may be wrong. Check the model "
            "in each group (cfa(data, model, by=...)), drop near-constant items, or merge "
            "small groups.",
            HxWarning,
            stacklevel=_LEVELS_STACK,
        )
    if heywood:
        shown = "; ".join(f"{name}: {', '.join(cases[:3])}" for name, cases in heywood.items())
        warnings.warn(
            f"measurement_invariance: Heywood case(s) ({shown}): a variance at or below 0 "
            "or a standardised loading beyond 1. The model does not fit these items in "
            "some group: look for an item that duplicates another or too few respondents "
            "in a group before reading the verdict.",
            HxWarning,
            stacklevel=_LEVELS_STACK,
        )
