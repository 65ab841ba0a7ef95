"""Reliability of multi-item scales: Cronbach's alpha, McDonald's omega, item analysis.

Input is *wide* (one row per respondent, one numeric column per item) or *long*, the
form :func:`~hxmetrics.measures.index.hx_index` reads: one row per response and item,
with the item's name in ``item``, the answer in ``score`` and the response named by
``response=`` (default ``"response_id"``). Both give the same result. Every function
takes ``by=`` for one row per group and states how missing answers were handled
(``missing="listwise"`` or ``"pairwise"``).

:func:`cronbach_alpha`, :func:`mcdonald_omega` and :func:`reliability` return grouped
results of the one protocol (:func:`hxmetrics.measures._result.grouped_result`):
``measure``, the group columns, ``n``, ``estimate``, ``se``, ``ci_low``, ``ci_high``,
``n_items``, ``missing``, ``n_excluded_missing``, ``suppressed``. Groups smaller than
``min_n`` (and their complements) are hidden by the disclosure-control layer.

Estimates below :data:`LOW_RELIABILITY` (0.70), a fit that did not converge and a
Heywood case give an :class:`~hxmetrics.errors.HxWarning`; so does a shown group
without an estimate. The same lines are kept in ``attrs["hxmetrics"]["notes"]``.

Everything is computed from per-group sufficient statistics (pairwise counts, sums and
cross-products), so the same numbers follow from the rows or from merged partial sums:
:func:`cronbach_alpha_statistics` per part,
:func:`~hxmetrics.measures._engine.merge_partials`, then
:func:`cronbach_alpha_from_statistics` or :func:`mcdonald_omega_from_statistics`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError, HxWarning, ParameterError, check_choice, check_columns
from hxmetrics.measures import _cfa
from hxmetrics.measures._inference import check_confidence, z_critical
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import check_min_n, suppress

__all__ = [
    "LOW_RELIABILITY",
    "cronbach_alpha",
    "cronbach_alpha_from_statistics",
    "cronbach_alpha_statistics",
    "feldt_interval",
    "item_total",
    "mcdonald_omega",
    "mcdonald_omega_from_statistics",
    "mcdonald_omega_statistics",
    "reliability",
]

MISSING = ("listwise", "pairwise")

#: Below this, a reliability estimate gives an :class:`~hxmetrics.errors.HxWarning`:
#: 0.70 is the "modest reliability" Nunnally & Bernstein (1994, pp. 264-265) ask of
#: scales used to compare groups in early research (0.80 for basic research, 0.90 or
#: more for decisions about individuals). Lance, Butts & Michels (2006) trace the
#: cut-off and its use.
LOW_RELIABILITY = 0.70

#: Result columns after the protocol's estimate columns, in order.
_EXTRA = ("n_items", "missing")


# --------------------------------------------------------------------------- preparation


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    return [] if by is None else ([by] if isinstance(by, str) else [str(c) for c in by])


def _wide_answers(
    data: Any,
    items: Sequence[str] | None,
    by: Sequence[str],
    response: str,
) -> tuple[Any, Sequence[str] | None]:
    """Wide answers as pandas: long ones are pivoted (one row per response)."""
    if isinstance(items, str):
        raise ParameterError(
            f"items must be a list of column names; got the string {items!r}. "
            f"Hint: items=[{items!r}, ...]."
        )
    frame = _cfa.to_pandas(data)
    if _cfa.is_long(frame, items):
        frame = _cfa.wide_from_long(frame, response=response, by=by, items=items)
        if items is None:
            items = [c for c in frame.columns if c not in by]
    return frame, items


class _Prepared:
    """Item matrix, group codes and per-group covariance statistics."""

    def __init__(
        self,
        data: Any,
        items: Sequence[str] | None,
        by: str | Sequence[str] | None,
        missing: str,
        response: str = "response_id",
    ) -> None:
        check_choice("missing", missing, MISSING)
        self.by = _by_list(by)
        frame, items = _wide_answers(data, items, self.by, response)
        check_columns(frame.columns, self.by)
        if items is None:
            items = [c for c in frame.columns if c not in {*self.by, response}]
        self.items = [str(i) for i in items]
        if len(self.items) < 2:
            raise ParameterError(
                f"a reliability coefficient needs at least 2 items; got {self.items}."
            )
        if len(set(self.items)) != len(self.items):
            raise ParameterError(f"items lists a column twice: {self.items}.")
        self.missing = missing
        self.x = _cfa.item_matrix(frame, self.items)
        if self.by:
            grouped = frame.groupby(self.by, dropna=False, sort=True, observed=True)
            self.codes = grouped.ngroup().to_numpy()
            self.keys = grouped.size().index.to_frame(index=False)
        else:
            self.codes = np.zeros(len(frame), dtype=int)
            self.keys = pd.DataFrame(index=[0])
        self.G = len(self.keys)
        self._moments()

    def _moments(self) -> None:
        """Pairwise counts and covariances (divisor n_ij - 1) per group.

        For rows where both i and j are answered, ``cov_ij = (sum x_i x_j - sum x_i sum
        x_j / n_ij) / (n_ij - 1)``; with ``M`` the answered-indicator and ``X0`` the
        answers with gaps as 0 the three sums are ``X0'X0``, ``X0'M`` and ``M'M``.
        Listwise handling first keeps only complete rows.
        """
        x, codes, G, k = self.x, self.codes, self.G, len(self.items)
        answered = ~np.isnan(x)
        n_answered = answered.sum(axis=1)
        self.n_rows = np.bincount(codes, minlength=G)
        # pairwise: every answer counts (a lone answer still enters its item's variance)
        keep = n_answered == k if self.missing == "listwise" else n_answered >= 1
        self.n_excluded = np.bincount(codes[~keep], minlength=G)
        xk, mk, ck = x[keep], answered[keep], codes[keep]
        x0 = np.where(mk, xk, 0.0)
        m = mk.astype(float)
        order = np.argsort(ck, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(ck, minlength=G))])
        x0, m = x0[order], m[order]
        self.npair = np.zeros((G, k, k))
        self.sx = np.zeros((G, k, k))
        self.sxx = np.zeros((G, k, k))
        for g in range(G):  # one set of BLAS products per group
            a, b = bounds[g], bounds[g + 1]
            xg, mg = x0[a:b], m[a:b]
            self.npair[g] = mg.T @ mg
            self.sx[g] = xg.T @ mg
            self.sxx[g] = xg.T @ xg
        self._finish()

    def _finish(self) -> None:
        """Covariances and means from the sums (the same from rows or merged parts)."""
        n, sx, sxx = self.npair, self.sx, self.sxx
        with np.errstate(invalid="ignore", divide="ignore"):
            self.cov = (sxx - sx * np.swapaxes(sx, 1, 2) / n) / (n - 1.0)
            self.mean = np.diagonal(sx, axis1=1, axis2=2) / np.diagonal(n, axis1=1, axis2=2)

    @classmethod
    def from_statistics(
        cls, stats: Any, items: Sequence[str], missing: str, what: str
    ) -> _Prepared:
        """Rebuild from :func:`cronbach_alpha_statistics` (possibly merged parts)."""
        check_choice("missing", missing, MISSING)
        if isinstance(items, str) or len(items) < 2:
            raise ParameterError(
                f"{what}: items must list the (at least 2) items the statistics were "
                f"computed on, in order; got {items!r}."
            )
        frame = _cfa.to_pandas(stats, what="stats")
        self = cls.__new__(cls)
        self.items = [str(i) for i in items]
        self.missing = missing
        columns = {name: _stat_columns(self.items, name) for name in _SUMS}
        needed = ["n_rows", "n_excluded_missing", *(c for cs in columns.values() for c in cs)]
        check_columns(frame.columns, needed, table="stats")
        self.by = [c for c in frame.columns if c not in set(needed)]
        frame = frame.reset_index(drop=True)
        self.keys = frame[self.by] if self.by else pd.DataFrame(index=[0])
        self.G = len(frame) if self.by else 1
        if not self.by and len(frame) != 1:
            raise ParameterError(
                f"{what}: statistics without group columns must be one row; got "
                f"{len(frame)} (merge the parts with merge_partials first)."
            )
        k = len(self.items)
        self.n_rows = frame["n_rows"].to_numpy(dtype=np.int64)
        self.n_excluded = frame["n_excluded_missing"].to_numpy(dtype=np.int64)
        sums = {
            name: frame[cs].to_numpy(dtype=float).reshape(self.G, k, k)
            for name, cs in columns.items()
        }
        self.npair, self.sx, self.sxx = sums["n"], sums["sx"], sums["sxx"]
        self._finish()
        return self

    def statistics(self) -> pd.DataFrame:
        """The sums per group as one row each (see :func:`cronbach_alpha_statistics`)."""
        k = len(self.items)
        out = self.keys[self.by].copy() if self.by else pd.DataFrame(index=[0])
        out = out.reset_index(drop=True)
        out["n_rows"] = self.n_rows.astype(np.int64)
        out["n_excluded_missing"] = self.n_excluded.astype(np.int64)
        parts = [out]
        for name, values in (("n", self.npair), ("sx", self.sx), ("sxx", self.sxx)):
            flat = values.reshape(self.G, k * k)
            block = pd.DataFrame(flat, columns=_stat_columns(self.items, name))
            if name == "n":
                block = block.astype(np.int64)
            parts.append(block)
        return pd.concat(parts, axis=1)

    def n_effective(self, g: int) -> int:
        """Listwise: complete rows. Pairwise: the smallest pairwise count (conservative)."""
        return int(self.npair[g].min()) if self.npair[g].size else 0

    def label(self, g: int) -> str:
        """The group as text for a message (``team='north'``), or ``all rows``."""
        if not self.by:
            return "all rows"
        return ", ".join(f"{c}={self.keys.iloc[g][c]!r}" for c in self.by)


#: The sums of the sufficient statistics: pairwise counts ``n`` (rows answering both
#: items), ``sx`` (the sum of the first item over those rows) and ``sxx`` (the sum of
#: the products).
_SUMS = ("n", "sx", "sxx")


def _stat_columns(items: Sequence[str], name: str) -> list[str]:
    return [f"{name}:{a}:{b}" for a in items for b in items]


def _alpha_from_cov(s: np.ndarray) -> float:
    k = s.shape[0]
    total = float(s.sum())
    if not total > 0:
        return math.nan
    return k / (k - 1.0) * (1.0 - float(np.trace(s)) / total)


def _alpha_se(s: np.ndarray, n: int) -> float:
    """Normal-theory asymptotic SE of alpha (van Zyl, Neudecker & Nel 2000;
    Duhachek & Iacobucci 2004)::

        Q = 2k^2 / ((k-1)^2 (1'S1)^3) [(1'S1)(tr S^2 + tr^2 S) - 2 tr S (1'S^2 1)]
        se = sqrt(Q / n)
    """
    k = s.shape[0]
    one = np.ones(k)
    jsj = float(one @ s @ one)
    s2 = s @ s
    q = (2.0 * k**2 / ((k - 1.0) ** 2 * jsj**3)) * (
        jsj * (np.trace(s2) + np.trace(s) ** 2) - 2.0 * np.trace(s) * float(one @ s2 @ one)
    )
    return math.sqrt(q / n) if q >= 0 and n > 0 else math.nan


def _feldt(alpha: float, df1: float, df2: float, confidence: float) -> tuple[float, float]:
    """``[1 - (1 - a) F_{1-g/2}(df1, df2), 1 - (1 - a) F_{g/2}(df1, df2)]``."""
    from scipy import stats  # imported when used: scipy.stats costs ~0.5 s to import

    g = 1.0 - confidence
    lo = 1.0 - (1.0 - alpha) * float(stats.f.ppf(1.0 - g / 2.0, df1, df2))
    hi = 1.0 - (1.0 - alpha) * float(stats.f.ppf(g / 2.0, df1, df2))
    return lo, hi


def feldt_interval(
    alpha: float, n: int, k: int, *args: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Feldt's F-based interval for alpha (Feldt 1965; Feldt, Woodruff & Salih 1987).

    ``(1 - alpha) / (1 - alpha_hat)`` is taken as F-distributed with ``n - 1`` and
    ``(n - 1)(k - 1)`` degrees of freedom (exact for parallel items with normal
    errors), giving ``[1 - (1 - a) F_{1-g/2}, 1 - (1 - a) F_{g/2}]`` with
    ``g = 1 - confidence`` (Feldt et al. 1987, p. 95, formulas 6 and 7).

    Parameters
    ----------
    alpha : float
        The estimated coefficient alpha.
    n, k : int
        Respondents and items.
    confidence : float, keyword-only
        Level of the interval (passing it as the fourth positional argument is
        deprecated).

    Returns
    -------
    tuple of float
        ``(ci_low, ci_high)``; NaN when ``n < 2``, ``k < 2`` or alpha is not finite.

    Examples
    --------
    >>> lo, hi = feldt_interval(0.85, 89, 7)
    >>> round(lo, 4), round(hi, 4)
    (0.7971, 0.8932)
    """
    if args:
        if len(args) > 1:
            raise ParameterError(
                f"feldt_interval() takes alpha, n and k positionally; got {3 + len(args)} "
                "positional arguments."
            )
        if confidence != 0.95:
            raise ParameterError("feldt_interval(): pass confidence= only (keyword).")
        warnings.warn(
            "feldt_interval(): confidence as the fourth positional argument is deprecated, "
            "pass confidence=... (the positional form goes in the next release).",
            DeprecationWarning,
            stacklevel=2,
        )
        confidence = args[0]
    confidence = check_confidence(confidence)
    if n < 2 or k < 2 or not math.isfinite(alpha):
        return math.nan, math.nan
    return _feldt(alpha, n - 1, (n - 1) * (k - 1), confidence)


# --------------------------------------------------------------------------- results


class _Problems:
    """Per-group problems found while estimating, warned about for shown groups only."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, str]] = []

    def add(self, kind: str, g: int, text: str) -> None:
        self.items.append((kind, g, text))


#: What each kind of problem means and what to do, after the groups it concerns.
_ADVICE = {
    "none": "no estimate. {detail}",
    "convergence": (
        "the one-factor fit did not converge, so the estimate may be wrong. Check that the "
        "items covary positively (reverse-keyed items recoded), drop near-constant items, "
        "or use more respondents."
    ),
    "heywood": (
        "Heywood case: a residual variance is estimated at or below 0 (a standardised "
        "loading of 1 or more), so the one-factor model does not fit these items. Check for "
        "an item that duplicates another or is keyed the other way, and do not read omega "
        "as the scale's reliability there."
    ),
}


def _grouped(
    prep: _Prepared,
    *,
    measure: str,
    n: np.ndarray,
    estimate: np.ndarray,
    se: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    confidence: float,
    method: str,
    min_n: int | None,
    problems: _Problems,
) -> pd.DataFrame:
    """The protocol result, then one HxWarning per kind of problem in the shown groups."""
    out = grouped_result(
        prep.keys[prep.by] if prep.by else pd.DataFrame(index=[0]),
        measure=measure,
        n=n,
        estimate=estimate,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
        method=method,
        min_n=min_n,
        extra={
            "n_items": np.full(prep.G, len(prep.items), dtype=np.int64),
            "missing": np.full(prep.G, prep.missing, dtype=object),
        },
        excluded={"missing": prep.n_excluded},
        meta={"items": list(prep.items), "missing": prep.missing},
    )
    shown = ~out["suppressed"].to_numpy(dtype=bool)
    notes: list[str] = []
    by_kind: dict[str, list[str]] = {}
    details: dict[str, str] = {}
    for kind, g, text in problems.items:
        if shown[g]:
            by_kind.setdefault(kind, []).append(prep.label(g))
            details.setdefault(kind, text)
    low = [
        f"{prep.label(g)} ({estimate[g]:.3f})"
        for g in range(prep.G)
        if shown[g] and math.isfinite(estimate[g]) and estimate[g] < LOW_RELIABILITY
    ]
    for kind, labels in by_kind.items():
        advice = _ADVICE[kind].format(detail=details[kind])
        notes.append(f"{measure}: {_listed(labels)}: {advice}")
    if low:
        notes.append(
            f"{measure}: below {LOW_RELIABILITY:.2f} for {_listed(low)}. The items hardly "
            "measure one thing there (Nunnally & Bernstein 1994 ask at least 0.70 to "
            "compare groups): check item_total() for items that do not belong (reverse-keyed, "
            "another construct) before comparing groups or building an index on them."
        )
    for note in notes:
        # user -> cronbach_alpha (or a finisher) -> _alpha_result -> _grouped
        warnings.warn(note, HxWarning, stacklevel=4)
    out.attrs["hxmetrics"]["notes"] = notes
    return out


def _listed(labels: list[str], limit: int = 5) -> str:
    more = len(labels) - limit
    return ", ".join(labels[:limit]) + (f" and {more} more group(s)" if more > 0 else "")


def _check_common(confidence: float, min_n: int | None) -> tuple[float, int | None]:
    return check_confidence(confidence), check_min_n(min_n)


def _skipped(n: int, min_n: int | None) -> bool:
    """Groups hidden anyway (fewer than ``min_n``) are not estimated."""
    return min_n is not None and n < min_n


# --------------------------------------------------------------------------- alpha


def cronbach_alpha(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    response: str = "response_id",
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int | None = 10,
) -> pd.DataFrame:
    """Cronbach's coefficient alpha with Feldt's F-based confidence interval.

    ``alpha = k / (k - 1) * (1 - sum_i s_ii / 1'S1)`` from the item covariance matrix S.

    Parameters
    ----------
    data : DataFrame
        Wide answers (one row per respondent, one numeric column per item) or long
        ones (one row per response and item: ``response``, ``item``, ``score``, the
        form :func:`~hxmetrics.measures.index.hx_index` reads). pandas, or any frame
        narwhals accepts.
    items : list of str, optional
        The items (wide: columns; long: values of ``item``); default every column not
        named in ``by`` or ``response`` (long: every item).
    by : str or list of str, optional
        Group columns; one result row per group (missing group keys form their own
        group, no row is dropped). In long answers a group column must not change
        within a response.
    response : str
        The column naming the response (respondent) in long answers; a response
        answering an item twice is an error. In wide answers it is only left out of
        the default items.
    missing : {"listwise", "pairwise"}
        ``"listwise"`` uses complete rows only. ``"pairwise"`` uses every answered pair
        (each covariance from the rows answering both items); ``n`` is then the smallest
        pairwise count, used for the interval. Stated in the ``missing`` column.
    confidence : float
        Level of the Feldt interval.
    min_n : int or None
        Groups with fewer usable respondents, and their complements, are suppressed
        (:func:`hxmetrics.privacy.suppress`); None shows every group.

    Returns
    -------
    DataFrame
        The grouped-result protocol, one row per group: ``measure``
        (``"cronbach_alpha"``), the ``by`` columns, ``n`` (respondents used),
        ``estimate`` (alpha), ``se`` (normal-theory asymptotic SE), ``ci_low``,
        ``ci_high`` (Feldt), ``n_items``, ``missing``, ``n_excluded_missing`` (rows not
        used: incomplete under listwise, no answer at all under pairwise),
        ``suppressed``; ``attrs["hxmetrics"]`` with ``notes``.

    Warns
    -----
    HxWarning
        An estimate below :data:`LOW_RELIABILITY`, or a shown group without one.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    Psychometrika 16, 297-334.
    Feldt, L. S., Woodruff, D. J. & Salih, F. A. (1987). Statistical inference for
    coefficient alpha. Applied Psychological Measurement 11, 93-103.
    van Zyl, J. M., Neudecker, H. & Nel, D. G. (2000). On the distribution of the
    maximum likelihood estimator of Cronbach's alpha. Psychometrika 65, 271-280.
    Nunnally, J. C. & Bernstein, I. H. (1994). Psychometric Theory (3rd ed.).
    McGraw-Hill, pp. 264-265.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> true = rng.normal(size=(300, 1))
    >>> answers = pd.DataFrame(true + rng.normal(size=(300, 4)), columns=list("abcd"))
    >>> answers["team"] = np.repeat(["north", "south"], 150)
    >>> res = cronbach_alpha(answers, items=list("abcd"), by="team")
    >>> res[["measure", "team", "n", "estimate", "ci_low", "ci_high"]].round(3)
              measure   team    n  estimate  ci_low  ci_high
    0  cronbach_alpha  north  150     0.807   0.752    0.853
    1  cronbach_alpha  south  150     0.792   0.732    0.841
    """
    confidence, min_n = _check_common(confidence, min_n)
    prep = _Prepared(data, items, by, missing, response)
    return _alpha_result(prep, confidence, min_n)


def _alpha_result(prep: _Prepared, confidence: float, min_n: int | None) -> pd.DataFrame:
    k = len(prep.items)
    n = np.array([prep.n_effective(g) for g in range(prep.G)], dtype=np.int64)
    est, se, lo, hi = (np.full(prep.G, math.nan) for _ in range(4))
    problems = _Problems()
    for g in range(prep.G):
        if _skipped(int(n[g]), min_n):
            continue
        s = prep.cov[g]
        if not np.all(np.isfinite(s)):
            problems.add("none", g, "An item pair has fewer than 2 joint answers.")
            continue
        a = _alpha_from_cov(s)
        if math.isnan(a):
            problems.add("none", g, "Every item is constant: the total score has no variance.")
            continue
        ng = int(n[g])
        est[g] = a
        se[g] = _alpha_se(s * (ng - 1.0) / ng, ng)
        lo[g], hi[g] = feldt_interval(a, ng, k, confidence=confidence)
    return _grouped(
        prep,
        measure="cronbach_alpha",
        n=n,
        estimate=est,
        se=se,
        ci_low=lo,
        ci_high=hi,
        confidence=confidence,
        method="feldt",
        min_n=min_n,
        problems=problems,
    )


# --------------------------------------------------------------------------- omega


def _omega_one(s_biased: np.ndarray, n: int) -> tuple[float, float, list[tuple[str, str]]]:
    """Total omega from a one-factor ML model, its delta-method SE and the problems
    of the fit (``("convergence", message)``, ``("heywood", items)``)."""
    k = s_biased.shape[0]
    # Marker: the item with the largest summed absolute covariance (omega does not
    # depend on the marker, but a near-zero marker loading makes the fit ill-posed).
    off = np.abs(s_biased).sum(axis=1) - np.abs(np.diagonal(s_biased))
    order = [int(np.argmax(off))] + [i for i in range(k) if i != int(np.argmax(off))]
    names = [f"i{i}" for i in order]
    structure = _cfa.parse_model({"f": names})
    perm = np.array(order)
    mom = _cfa.Moments(
        ("all",), np.array([float(n)]), np.zeros((1, k)), s_biased[None][:, perm][:, :, perm]
    )
    spec = _cfa.Spec(structure, 1, frozenset(), False)
    fit = _cfa.fit_ml(spec, mom)
    L, P, T, *_ = spec.fill(fit.theta)
    lam, phi, theta = L[0, :, 0], float(P[0, 0, 0]), T[0]
    a = float(lam.sum()) ** 2 * phi
    b = float(theta.sum())
    omega = a / (a + b)
    # d omega / d parameter, by the parameter's place in the spec
    grad = np.zeros(spec.q)
    den2 = (a + b) ** 2
    for i in range(k):
        idx = spec.L_idx[0, i, 0]
        if idx >= 0:
            grad[idx] = 2.0 * float(lam.sum()) * phi * b / den2
        grad[spec.T_idx[0, i]] = -a / den2
    grad[spec.P_idx[0, 0, 0]] = float(lam.sum()) ** 2 * b / den2
    _, vcov = _cfa.standard_errors(spec, mom, fit.theta)
    se = math.sqrt(max(float(grad @ vcov @ grad), 0.0))
    problems: list[tuple[str, str]] = []
    if not fit.converged:
        problems.append(("convergence", fit.message))
    if fit.at_bound:
        problems.append(("heywood", f"{len(fit.at_bound)} variance(s) at the bound"))
    return omega, se, problems


def mcdonald_omega(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    response: str = "response_id",
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int | None = 10,
) -> pd.DataFrame:
    """McDonald's total omega from a one-factor maximum-likelihood model.

    ``omega = (sum lambda)^2 phi / ((sum lambda)^2 phi + sum theta)`` with the loadings,
    factor variance and residual variances of a one-factor CFA fitted by ML to the item
    covariance matrix (the model-implied total variance in the denominator). The
    interval is Wald, ``omega +/- z * se``, with the delta-method SE from the expected
    information of the fit. Items must be keyed in the same direction.

    Parameters
    ----------
    data, items, by, response, missing, confidence, min_n
        As in :func:`cronbach_alpha` (wide or long answers). At least 3 items (a
        one-factor model with two items is not identified).

    Returns
    -------
    DataFrame
        Same columns as :func:`cronbach_alpha`, with ``measure`` ``"mcdonald_omega"``
        and ``estimate`` = omega.

    Warns
    -----
    HxWarning
        An estimate below :data:`LOW_RELIABILITY`, a one-factor fit that did not
        converge, a Heywood case (a residual variance at or below 0), or a shown group
        without an estimate.

    References
    ----------
    McDonald, R. P. (1999). Test Theory: A Unified Treatment. Erlbaum, ch. 6.
    Raykov, T. (2001). Estimation of congeneric scale reliability using covariance
    structure analysis with nonlinear constraints. BJMSP 54, 315-323.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> true = rng.normal(size=(300, 1))
    >>> answers = pd.DataFrame(true * [0.5, 1, 1, 1.5] + rng.normal(size=(300, 4)),
    ...                        columns=list("abcd"))
    >>> res = mcdonald_omega(answers)
    >>> res[["n", "estimate", "se", "ci_low", "ci_high"]].round(3)
         n  estimate     se  ci_low  ci_high
    0  300       0.8  0.019   0.762    0.837
    """
    confidence, min_n = _check_common(confidence, min_n)
    prep = _Prepared(data, items, by, missing, response)
    return _omega_result(prep, confidence, min_n)


def _omega_result(prep: _Prepared, confidence: float, min_n: int | None) -> pd.DataFrame:
    if len(prep.items) < 3:
        raise ParameterError(
            f"omega needs at least 3 items (a one-factor model with {len(prep.items)} "
            "items is not identified); use cronbach_alpha for two items."
        )
    z = z_critical(confidence)
    n = np.array([prep.n_effective(g) for g in range(prep.G)], dtype=np.int64)
    est, se, lo, hi = (np.full(prep.G, math.nan) for _ in range(4))
    problems = _Problems()
    for g in range(prep.G):
        ng = int(n[g])
        if _skipped(ng, min_n):
            continue
        s = prep.cov[g]
        if not np.all(np.isfinite(s)):
            problems.add("none", g, "An item pair has fewer than 2 joint answers.")
            continue
        try:
            om, sd, found = _omega_one(s * (ng - 1.0) / ng, ng)
        except HxError as exc:
            problems.add("none", g, f"The one-factor fit failed: {exc}")
            continue
        est[g], se[g], lo[g], hi[g] = om, sd, om - z * sd, om + z * sd
        for kind, text in found:
            problems.add(kind, g, text)
    return _grouped(
        prep,
        measure="mcdonald_omega",
        n=n,
        estimate=est,
        se=se,
        ci_low=lo,
        ci_high=hi,
        confidence=confidence,
        method="wald",
        min_n=min_n,
        problems=problems,
    )


# --------------------------------------------------------------------------- partials


def cronbach_alpha_statistics(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    response: str = "response_id",
    missing: str = "listwise",
) -> pd.DataFrame:
    """Sufficient statistics of alpha and omega per group, to merge across parts.

    Alpha and omega need only the pairwise counts and sums of the items in each group,
    so a table too large for one machine (or held in pieces) is handled part by part:
    compute the statistics of each part, add them up with
    :func:`~hxmetrics.measures._engine.merge_partials`, and finish with
    :func:`cronbach_alpha_from_statistics` or :func:`mcdonald_omega_from_statistics`.
    The result equals the one of the whole table (counts exactly, the rest up to
    rounding). With ``missing="listwise"`` a row counts when it answers every item of
    ``items``. :func:`mcdonald_omega_statistics` is the same function.

    Parameters
    ----------
    data, items, by, response, missing
        As in :func:`cronbach_alpha` (wide or long answers).

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns, ``n_rows``, ``n_excluded_missing`` and,
        for every ordered pair of items ``a``, ``b``: ``n:a:b`` (rows answering both),
        ``sx:a:b`` (the sum of ``a`` over them) and ``sxx:a:b`` (the sum of ``a * b``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from hxmetrics.measures._engine import merge_partials
    >>> rng = np.random.default_rng(7)
    >>> answers = pd.DataFrame(rng.normal(size=(300, 1)) + rng.normal(size=(300, 4)),
    ...                        columns=list("abcd"))
    >>> parts = [cronbach_alpha_statistics(p) for p in (answers[:120], answers[120:])]
    >>> merged = cronbach_alpha_from_statistics(merge_partials(parts), items=list("abcd"))
    >>> round(float(merged["estimate"].iloc[0]), 10) == round(
    ...     float(cronbach_alpha(answers)["estimate"].iloc[0]), 10)
    True
    """
    return _Prepared(data, items, by, missing, response).statistics()


#: The statistics of omega are those of alpha.
mcdonald_omega_statistics = cronbach_alpha_statistics


def cronbach_alpha_from_statistics(
    stats: Any,
    *,
    items: Sequence[str],
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int | None = 10,
) -> pd.DataFrame:
    """Finish :func:`cronbach_alpha_statistics` (possibly merged) into alpha.

    Parameters
    ----------
    stats : DataFrame
        The statistics; every column that is not a statistic is a group column.
    items : list of str
        The items the statistics were computed on, in their order.
    missing : {"listwise", "pairwise"}
        As the statistics were computed (recorded in the result).
    confidence, min_n
        As in :func:`cronbach_alpha`.

    Returns
    -------
    DataFrame
        The result of :func:`cronbach_alpha` on the whole table.
    """
    confidence, min_n = _check_common(confidence, min_n)
    prep = _Prepared.from_statistics(stats, items, missing, "cronbach_alpha_from_statistics")
    return _alpha_result(prep, confidence, min_n)


def mcdonald_omega_from_statistics(
    stats: Any,
    *,
    items: Sequence[str],
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int | None = 10,
) -> pd.DataFrame:
    """Finish :func:`mcdonald_omega_statistics` (possibly merged) into omega.

    Parameters
    ----------
    stats, items, missing, confidence, min_n
        As in :func:`cronbach_alpha_from_statistics`.

    Returns
    -------
    DataFrame
        The result of :func:`mcdonald_omega` on the whole table.
    """
    confidence, min_n = _check_common(confidence, min_n)
    prep = _Prepared.from_statistics(stats, items, missing, "mcdonald_omega_from_statistics")
    return _omega_result(prep, confidence, min_n)


# --------------------------------------------------------------------------- items


def item_total(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    response: str = "response_id",
    missing: str = "listwise",
    min_n: int | None = 10,
) -> pd.DataFrame:
    """Item analysis: corrected item-total correlation and alpha if the item is deleted.

    The corrected correlation correlates an item with the sum of the *other* items
    (psych's ``r.drop``); the uncorrected one with the total including the item. Both,
    and alpha-if-deleted, are computed from the (listwise or pairwise) item covariance
    matrix.

    Parameters
    ----------
    data, items, by, response, missing, min_n
        As in :func:`cronbach_alpha` (wide or long answers). A group is suppressed as
        in :func:`cronbach_alpha` (its own ``n`` below ``min_n``, or hidden as a
        complement), and then shows no number at all.

    Returns
    -------
    DataFrame
        One row per group and item: the ``by`` columns, ``item``, ``n`` (answers used
        for this item, ``Int64``), ``mean``, ``sd``, ``r_item_rest`` (corrected),
        ``r_item_total`` (uncorrected), ``alpha_if_deleted``, ``missing``,
        ``suppressed``.

    References
    ----------
    Cronbach, L. J. (1951). Psychometrika 16, 297-334. Revelle, W., psych::alpha
    documentation ("r.drop", "alpha if an item is omitted").

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> true = rng.normal(size=(300, 1))
    >>> answers = pd.DataFrame(true * [1, 1, 1, 0] + rng.normal(size=(300, 4)),
    ...                        columns=list("abcd"))
    >>> item_total(answers)[["item", "r_item_rest", "alpha_if_deleted"]].round(2)
      item  r_item_rest  alpha_if_deleted
    0    a         0.51              0.46
    1    b         0.57              0.40
    2    c         0.58              0.40
    3    d        -0.02              0.77
    """
    _, min_n = _check_common(0.95, min_n)
    prep = _Prepared(data, items, by, missing, response)
    k = len(prep.items)
    groups = prep.keys[prep.by] if prep.by else pd.DataFrame(index=[0])
    groups = groups.assign(n=[prep.n_effective(g) for g in range(prep.G)])
    hidden = suppress(groups, min_n=min_n, by=prep.by)["suppressed"].to_numpy(dtype=bool)
    rows = []
    for g in range(prep.G):
        s = prep.cov[g]
        suppressed = bool(hidden[g])
        total_var = float(s.sum())
        for i, it in enumerate(prep.items):
            rest = [j for j in range(k) if j != i]
            row: dict[str, Any] = {
                **{c: prep.keys.iloc[g][c] for c in prep.by},
                "item": it,
                "n": pd.NA if suppressed else int(prep.npair[g][i, i]),
                "mean": math.nan,
                "sd": math.nan,
                "r_item_rest": math.nan,
                "r_item_total": math.nan,
                "alpha_if_deleted": math.nan,
                "missing": prep.missing,
                "suppressed": suppressed,
            }
            if not suppressed and np.all(np.isfinite(s)):
                cov_rest = float(s[i, rest].sum())
                var_rest = float(s[np.ix_(rest, rest)].sum())
                with np.errstate(invalid="ignore", divide="ignore"):
                    row["mean"] = float(prep.mean[g][i])
                    row["sd"] = math.sqrt(s[i, i])
                    row["r_item_rest"] = cov_rest / math.sqrt(s[i, i] * var_rest)
                    row["r_item_total"] = float(s[i].sum()) / math.sqrt(s[i, i] * total_var)
                row["alpha_if_deleted"] = (
                    _alpha_from_cov(s[np.ix_(rest, rest)]) if k > 2 else math.nan
                )
            rows.append(row)
    columns = [
        *prep.by,
        "item",
        "n",
        "mean",
        "sd",
        "r_item_rest",
        "r_item_total",
        "alpha_if_deleted",
        "missing",
        "suppressed",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out["n"] = out["n"].astype("Int64")
    out["suppressed"] = out["suppressed"].astype(bool)
    for c in prep.by:
        out[c] = out[c].astype(prep.keys[c].dtype)
    return out


# --------------------------------------------------------------------------- both


def reliability(
    data: Any,
    *,
    scales: Mapping[str, Sequence[str]] | None = None,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    response: str = "response_id",
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int | None = 10,
) -> pd.DataFrame:
    """Alpha and omega side by side, for one or several scales, per group.

    Parameters
    ----------
    data, by, response, missing, confidence, min_n
        As in :func:`cronbach_alpha` (wide or long answers).
    scales : mapping, optional
        ``{"scale name": [items...]}``; the same shape as a CFA ``model``. Default: one
        scale named ``"scale"`` made of ``items`` (or every item).
    items : list of str, optional
        The items of the single scale when ``scales`` is not given.

    Returns
    -------
    DataFrame
        The results of :func:`cronbach_alpha` and :func:`mcdonald_omega` (omega only
        for scales of 3 or more items) stacked: one row per group, scale and
        coefficient, ``measure`` naming the coefficient (``"cronbach_alpha"``,
        ``"mcdonald_omega"``) and a ``scale`` column after the group columns. Rows are
        group-major; scales keep their order, alpha before omega. Each coefficient is
        suppressed as in its own function (the same groups, since they share ``n``).
        ``attrs["hxmetrics"]`` has ``measure`` ``"reliability"``, ``by`` = the group
        columns and ``"scale"``, ``measures`` (the coefficients), ``notes`` and
        ``excluded`` (summed over the scales). Compare groups on one coefficient:
        ``compare_groups(res[res["measure"] == "cronbach_alpha"])``; plot both with
        ``plot_estimates(res, hue="measure")``.

    Warns
    -----
    HxWarning
        As :func:`cronbach_alpha` and :func:`mcdonald_omega`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> true = rng.normal(size=(300, 1))
    >>> answers = pd.DataFrame(true + rng.normal(size=(300, 4)), columns=list("abcd"))
    >>> reliability(answers)[["measure", "scale", "estimate"]].round(3)
              measure  scale  estimate
    0  cronbach_alpha  scale     0.800
    1  mcdonald_omega  scale     0.802
    """
    byl = _by_list(by)
    if scales is not None and items is not None:
        raise ParameterError("give either scales= or items=, not both.")
    wanted = None if scales is None else [str(i) for its in scales.values() for i in its]
    frame, items = _wide_answers(data, items if scales is None else wanted, byl, response)
    check_columns(frame.columns, byl)
    if scales is None:
        if items is None:
            items = [c for c in frame.columns if c not in {*byl, response}]
        scales = {"scale": list(items)}
    parts = []
    for name, its in scales.items():
        its = list(its)
        for measure, fn in (("cronbach_alpha", cronbach_alpha), ("mcdonald_omega", mcdonald_omega)):
            if measure == "mcdonald_omega" and len(its) < 3:
                continue
            res = fn(frame, items=its, by=by, missing=missing, confidence=confidence, min_n=min_n)
            res.insert(1 + len(byl), "scale", pd.Series([name] * len(res), dtype="string"))
            parts.append(res)
    metas = [p.attrs["hxmetrics"] for p in parts]
    out = pd.concat(parts, ignore_index=True)
    if byl:  # group-major; scales keep the order given, alpha before omega
        out = out.sort_values(byl, kind="stable").reset_index(drop=True)
    excluded: dict[str, int] = {}
    for m in metas:
        if m["measure"] == "cronbach_alpha":
            for reason, count in m["excluded"].items():
                excluded[reason] = excluded.get(reason, 0) + int(count)
    out.attrs["hxmetrics"] = {
        **metas[0],
        "measure": "reliability",
        "measures": list(dict.fromkeys(m["measure"] for m in metas)),
        "by": [*byl, "scale"],
        "method": {"cronbach_alpha": "feldt", "mcdonald_omega": "wald"},
        "items": {name: list(its) for name, its in scales.items()},
        "excluded": excluded,
        "notes": [note for m in metas for note in m.get("notes", [])],
    }
    return out
