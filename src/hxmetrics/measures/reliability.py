"""Reliability of multi-item scales: Cronbach's alpha, McDonald's omega, item analysis.

Input is *wide*: one row per respondent, one numeric column per item (pivot long survey
responses first, e.g. ``responses.pivot(index="response_id", columns="item",
values="score")``). Every function takes ``by=`` for one row per group, states how
missing answers were handled (``missing="listwise"`` or ``"pairwise"``) and suppresses
groups smaller than ``min_n`` (the row stays, with the estimate blank and a note).

Everything is computed from per-group sufficient statistics (pairwise counts, sums and
cross-products), so the same numbers follow from the rows or from merged partial sums.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hxmetrics.errors import HxError, ParameterError, check_choice, check_columns
from hxmetrics.measures import _cfa

__all__ = ["cronbach_alpha", "feldt_interval", "item_total", "mcdonald_omega", "reliability"]

MISSING = ("listwise", "pairwise")

_RESULT_COLUMNS = [
    "n",
    "n_items",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n_rows",
    "n_excluded",
    "missing",
    "suppressed",
    "note",
]


# --------------------------------------------------------------------------- preparation


class _Prepared:
    """Item matrix, group codes and per-group covariance statistics."""

    def __init__(
        self,
        data: Any,
        items: Sequence[str] | None,
        by: str | Sequence[str] | None,
        missing: str,
    ) -> None:
        check_choice("missing", missing, MISSING)
        frame = _cfa.to_pandas(data)
        self.by = [] if by is None else ([by] if isinstance(by, str) else list(by))
        check_columns(frame.columns, self.by)
        if items is None:
            items = [c for c in frame.columns if c not in self.by]
        elif isinstance(items, str):
            raise ParameterError(
                f"items must be a list of column names; got the string {items!r}. "
                f"Hint: items=[{items!r}, ...]."
            )
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
        self.cov = np.full((G, k, k), np.nan)
        self.mean = np.full((G, k), np.nan)
        for g in range(G):  # one set of BLAS products per group
            a, b = bounds[g], bounds[g + 1]
            xg, mg = x0[a:b], m[a:b]
            n = mg.T @ mg
            sx = xg.T @ mg
            sxx = xg.T @ xg
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = (sxx - sx * sx.T / n) / (n - 1.0)
                self.mean[g] = np.diagonal(sx) / np.diagonal(n)
            self.npair[g] = n
            self.cov[g] = cov

    def n_effective(self, g: int) -> int:
        """Listwise: complete rows. Pairwise: the smallest pairwise count (conservative)."""
        return int(self.npair[g].min()) if self.npair[g].size else 0

    def key_row(self, g: int) -> dict[str, Any]:
        return {c: self.keys.iloc[g][c] for c in self.by}


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
    g = 1.0 - confidence
    lo = 1.0 - (1.0 - alpha) * float(stats.f.ppf(1.0 - g / 2.0, df1, df2))
    hi = 1.0 - (1.0 - alpha) * float(stats.f.ppf(g / 2.0, df1, df2))
    return lo, hi


def feldt_interval(alpha: float, n: int, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Feldt's F-based interval for alpha (Feldt 1965; Feldt, Woodruff & Salih 1987).

    ``(1 - alpha) / (1 - alpha_hat)`` is taken as F-distributed with ``n - 1`` and
    ``(n - 1)(k - 1)`` degrees of freedom (exact for parallel items with normal
    errors), giving ``[1 - (1 - a) F_{1-g/2}, 1 - (1 - a) F_{g/2}]`` with
    ``g = 1 - confidence`` (Feldt et al. 1987, p. 95, formulas 6 and 7).

    Examples
    --------
    >>> lo, hi = feldt_interval(0.85, 89, 7)
    >>> round(lo, 4), round(hi, 4)
    (0.7971, 0.8932)
    """
    if n < 2 or k < 2 or not math.isfinite(alpha):
        return math.nan, math.nan
    return _feldt(alpha, n - 1, (n - 1) * (k - 1), confidence)


def _check_common(confidence: float, min_n: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must be strictly between 0 and 1; got {confidence!r}.")
    if not isinstance(min_n, int | np.integer) or min_n < 2:
        raise ParameterError(f"min_n must be an integer >= 2; got {min_n!r}.")


def _frame(prep: _Prepared, rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=[*prep.by, *columns])
    return out.reset_index(drop=True)


def _base_row(prep: _Prepared, g: int, min_n: int) -> tuple[dict[str, Any], bool]:
    n = prep.n_effective(g)
    row = {
        **prep.key_row(g),
        "n": n,
        "n_items": len(prep.items),
        "estimate": math.nan,
        "se": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "n_rows": int(prep.n_rows[g]),
        "n_excluded": int(prep.n_excluded[g]),
        "missing": prep.missing,
        "suppressed": False,
        "note": "",
    }
    if n < min_n:
        row["suppressed"] = True
        row["note"] = f"suppressed: n = {n} < min_n = {min_n}"
        return row, False
    return row, True


# --------------------------------------------------------------------------- alpha


def cronbach_alpha(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int = 10,
) -> pd.DataFrame:
    """Cronbach's coefficient alpha with Feldt's F-based confidence interval.

    ``alpha = k / (k - 1) * (1 - sum_i s_ii / 1'S1)`` from the item covariance matrix S.

    Parameters
    ----------
    data : DataFrame
        Wide answers: one row per respondent, one numeric column per item (pandas, or
        any frame narwhals accepts).
    items : list of str, optional
        The item columns; default every column not named in ``by``.
    by : str or list of str, optional
        Group columns; one result row per group (missing group keys form their own
        group, no row is dropped).
    missing : {"listwise", "pairwise"}
        ``"listwise"`` uses complete rows only. ``"pairwise"`` uses every answered pair
        (each covariance from the rows answering both items); ``n`` is then the smallest
        pairwise count, used for the interval. Stated in the ``missing`` column.
    confidence : float
        Level of the Feldt interval.
    min_n : int
        Groups with fewer usable respondents are suppressed (estimate left blank, a
        note says why).

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns, ``n``, ``n_items``, ``estimate`` (alpha),
        ``se`` (normal-theory asymptotic SE), ``ci_low``, ``ci_high`` (Feldt),
        ``n_rows`` (rows in the group), ``n_excluded`` (rows not used: incomplete under
        listwise, no answer at all under pairwise), ``missing``, ``suppressed``,
        ``note``.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    Psychometrika 16, 297-334.
    Feldt, L. S., Woodruff, D. J. & Salih, F. A. (1987). Statistical inference for
    coefficient alpha. Applied Psychological Measurement 11, 93-103.
    van Zyl, J. M., Neudecker, H. & Nel, D. G. (2000). On the distribution of the
    maximum likelihood estimator of Cronbach's alpha. Psychometrika 65, 271-280.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> true = rng.normal(size=(300, 1))
    >>> answers = pd.DataFrame(true + rng.normal(size=(300, 4)), columns=list("abcd"))
    >>> answers["team"] = np.repeat(["north", "south"], 150)
    >>> res = cronbach_alpha(answers, items=list("abcd"), by="team")
    >>> res[["team", "n", "estimate", "ci_low", "ci_high"]].round(3)
        team    n  estimate  ci_low  ci_high
    0  north  150     0.807   0.752    0.853
    1  south  150     0.792   0.732    0.841
    """
    _check_common(confidence, min_n)
    prep = _Prepared(data, items, by, missing)
    k = len(prep.items)
    rows = []
    for g in range(prep.G):
        row, ok = _base_row(prep, g, min_n)
        if ok:
            s = prep.cov[g]
            if not np.all(np.isfinite(s)):
                row["note"] = "an item pair has fewer than 2 joint answers"
            else:
                a = _alpha_from_cov(s)
                if math.isnan(a):
                    row["note"] = "every item is constant: the total score has no variance"
                else:
                    n = row["n"]
                    row["estimate"] = a
                    row["se"] = _alpha_se(s * (n - 1.0) / n, n)
                    row["ci_low"], row["ci_high"] = feldt_interval(a, n, k, confidence)
        rows.append(row)
    return _frame(prep, rows, _RESULT_COLUMNS)


# --------------------------------------------------------------------------- omega


def _omega_one(s_biased: np.ndarray, n: int) -> tuple[float, float, str]:
    """Total omega from a one-factor ML model and its delta-method SE."""
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
    note = "" if fit.converged else "the one-factor fit did not fully converge"
    if fit.at_bound:
        note = (
            note + "; " if note else ""
        ) + "a residual variance is estimated at or below 0 (Heywood case)"
    return omega, se, note


def mcdonald_omega(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int = 10,
) -> pd.DataFrame:
    """McDonald's total omega from a one-factor maximum-likelihood model.

    ``omega = (sum lambda)^2 phi / ((sum lambda)^2 phi + sum theta)`` with the loadings,
    factor variance and residual variances of a one-factor CFA fitted by ML to the item
    covariance matrix (the model-implied total variance in the denominator). The
    interval is Wald, ``omega +/- z * se``, with the delta-method SE from the expected
    information of the fit. Items must be keyed in the same direction.

    Parameters
    ----------
    data, items, by, missing, confidence, min_n
        As in :func:`cronbach_alpha`. At least 3 items (a one-factor model with two
        items is not identified).

    Returns
    -------
    DataFrame
        Same columns as :func:`cronbach_alpha`, with ``estimate`` = omega.

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
    _check_common(confidence, min_n)
    prep = _Prepared(data, items, by, missing)
    if len(prep.items) < 3:
        raise ParameterError(
            f"omega needs at least 3 items (a one-factor model with {len(prep.items)} "
            "items is not identified); use cronbach_alpha for two items."
        )
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    rows = []
    for g in range(prep.G):
        row, ok = _base_row(prep, g, min_n)
        if ok:
            n = row["n"]
            s = prep.cov[g]
            if not np.all(np.isfinite(s)):
                row["note"] = "an item pair has fewer than 2 joint answers"
            else:
                try:
                    om, se, note = _omega_one(s * (n - 1.0) / n, n)
                except HxError as exc:
                    row["note"] = f"one-factor fit failed: {exc}"
                else:
                    row.update(estimate=om, se=se, ci_low=om - z * se, ci_high=om + z * se)
                    row["note"] = note
        rows.append(row)
    return _frame(prep, rows, _RESULT_COLUMNS)


# --------------------------------------------------------------------------- items


def item_total(
    data: Any,
    *,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    missing: str = "listwise",
    min_n: int = 10,
) -> pd.DataFrame:
    """Item analysis: corrected item-total correlation and alpha if the item is deleted.

    The corrected correlation correlates an item with the sum of the *other* items
    (psych's ``r.drop``); the uncorrected one with the total including the item. Both,
    and alpha-if-deleted, are computed from the (listwise or pairwise) item covariance
    matrix.

    Parameters
    ----------
    data, items, by, missing, min_n
        As in :func:`cronbach_alpha`.

    Returns
    -------
    DataFrame
        One row per group and item: the ``by`` columns, ``item``, ``n`` (answers used
        for this item), ``mean``, ``sd``, ``r_item_rest`` (corrected), ``r_item_total``
        (uncorrected), ``alpha_if_deleted``, ``missing``, ``suppressed``.

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
    _check_common(0.95, min_n)
    prep = _Prepared(data, items, by, missing)
    k = len(prep.items)
    rows = []
    for g in range(prep.G):
        s = prep.cov[g]
        suppressed = prep.n_effective(g) < min_n
        total_var = float(s.sum())
        for i, it in enumerate(prep.items):
            rest = [j for j in range(k) if j != i]
            row: dict[str, Any] = {
                **prep.key_row(g),
                "item": it,
                "n": int(prep.npair[g][i, i]),
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
    return _frame(prep, rows, columns)


# --------------------------------------------------------------------------- both


def reliability(
    data: Any,
    *,
    scales: Mapping[str, Sequence[str]] | None = None,
    items: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    missing: str = "listwise",
    confidence: float = 0.95,
    min_n: int = 10,
) -> pd.DataFrame:
    """Alpha and omega side by side, for one or several scales, per group.

    Parameters
    ----------
    data, by, missing, confidence, min_n
        As in :func:`cronbach_alpha`.
    scales : mapping, optional
        ``{"scale name": [items...]}``; the same shape as a CFA ``model``. Default: one
        scale named ``"scale"`` made of ``items`` (or every non-``by`` column).
    items : list of str, optional
        The items of the single scale when ``scales`` is not given.

    Returns
    -------
    DataFrame
        Long: one row per group, scale and measure (``"alpha"``, ``"omega"``; omega only
        for scales of 3 or more items), with the columns of :func:`cronbach_alpha` plus
        ``scale`` and ``measure``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> true = rng.normal(size=(300, 1))
    >>> answers = pd.DataFrame(true + rng.normal(size=(300, 4)), columns=list("abcd"))
    >>> reliability(answers)[["scale", "measure", "estimate"]].round(3)
       scale measure  estimate
    0  scale   alpha     0.800
    1  scale   omega     0.802
    """
    if scales is None:
        if items is None:
            frame = _cfa.to_pandas(data)
            byl = [] if by is None else ([by] if isinstance(by, str) else list(by))
            items = [c for c in frame.columns if c not in byl]
        scales = {"scale": list(items)}
    elif items is not None:
        raise ParameterError("give either scales= or items=, not both.")
    parts = []
    for name, its in scales.items():
        its = list(its)
        for measure, fn in (("alpha", cronbach_alpha), ("omega", mcdonald_omega)):
            if measure == "omega" and len(its) < 3:
                continue
            res = fn(data, items=its, by=by, missing=missing, confidence=confidence, min_n=min_n)
            nby = len(res.columns) - len(_RESULT_COLUMNS)
            res.insert(nby, "measure", measure)
            res.insert(nby, "scale", name)
            parts.append(res)
    out = pd.concat(parts, ignore_index=True)
    byl = list(out.columns[: len(out.columns) - len(_RESULT_COLUMNS) - 2])
    if byl:  # group-major; scales keep the order given, alpha before omega
        out = out.sort_values(byl, kind="stable").reset_index(drop=True)
    return out
