"""Comparisons across segments: which groups of a measure's result differ.

:func:`compare_groups` takes the result of a grouped measure (:func:`~hxmetrics.
measures.nps.nps`, :func:`~hxmetrics.measures.satisfaction.csat`, ...), tests every
pair of groups (or every group against a reference group) and adjusts the p-values
for multiplicity with Holm (1979, family-wise error) or Benjamini & Hochberg (1995,
false discovery rate).

Each test uses the estimates and standard errors the measure reported, for
independent groups: a z test ``(e_a - e_b) / sqrt(se_a² + se_b²)`` for shares and
NPS, and Welch's t test (Welch-Satterthwaite degrees of freedom from ``n``) for
means. Suppressed groups are never compared, so no test leaks them.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._compat import deprecated_value
from hxmetrics.errors import ParameterError, did_you_mean
from hxmetrics.measures._inference import (
    CORRECTIONS,
    adjust_pvalues,
    check_confidence,
    welch_df,
    z_test,
)

__all__ = ["compare_groups"]


def _meta(result: pd.DataFrame) -> dict[str, Any]:
    meta = result.attrs.get("hxmetrics") if isinstance(result, pd.DataFrame) else None
    if not isinstance(meta, dict) or "estimate" not in meta:
        raise ParameterError(
            "compare_groups needs the result of a grouped hxmetrics measure (nps, csat, ces, "
            "mean_score, ...): its attrs name the estimate and the groups. Pass the result "
            "unchanged (filtering rows keeps the attrs; rebuilding the frame does not)."
        )
    if not meta.get("by"):
        raise ParameterError("compare_groups needs a grouped result (the measure with by=...).")
    return meta


def _label_rows(result: pd.DataFrame, by: list[str], reference: Any) -> np.ndarray:
    if len(by) == 1 and not isinstance(reference, (tuple, dict)):
        wanted = {by[0]: reference}
    elif isinstance(reference, dict):
        wanted = dict(reference)
    else:
        values = tuple(reference)
        if len(values) != len(by):
            raise ParameterError(
                f"reference must give one value per group column {by}; got {reference!r}."
            )
        wanted = dict(zip(by, values, strict=True))
    if set(wanted) != set(by):
        raise ParameterError(f"reference must name every group column {by}; got {reference!r}.")
    mask = np.ones(len(result), dtype=bool)
    for column, value in wanted.items():
        mask &= (result[column] == value).to_numpy(dtype=bool, na_value=False)
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        labels = result[by[0]].astype(str).tolist()
        raise ParameterError(
            f"reference group {reference!r} is not in the result; groups: "
            f"{result[by].drop_duplicates().to_dict('records')}."
            + did_you_mean(str(reference), labels)
        )
    return rows


def compare_groups(
    result: pd.DataFrame,
    *,
    reference: Any = None,
    correction: str = "holm",
    confidence: float = 0.95,
    **deprecated: Any,
) -> pd.DataFrame:
    """Flag which groups of a measure's result differ, with a multiplicity correction.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of a grouped measure, unchanged: any frame of the grouped-result
        protocol (:mod:`hxmetrics.measures._result`; ``nps``, ``csat``, ``ces``,
        ``mean_score``, ``hx_index``, ``reliability``, ``median_tenure``, ...). When
        its ``measure`` column holds several measures, each is compared within itself.
    reference : optional
        None: every pair of groups. Otherwise the reference group (its value for one
        group column; a tuple or dict for several): each other group against it.
    correction : {"holm", "bh", "none"}
        Holm's step-down (family-wise error rate), Benjamini-Hochberg (false
        discovery rate) or none.
    confidence : float
        A comparison ``differs`` when its adjusted p-value is below
        ``1 - confidence`` (0.05 for the default 0.95). ``alpha=0.05``, the old
        spelling, still works for one release (with a :class:`DeprecationWarning`).

    Returns
    -------
    pandas.DataFrame
        One row per comparison (``measure`` first when the result holds several):
        the group columns and ``<column>_other`` for the
        group compared with, ``estimate``, ``estimate_other``, ``difference``, ``se``,
        ``statistic``, ``df`` (Welch t only), ``p_value``, ``p_adjusted``,
        ``differs``, ``correction``. Suppressed groups and groups without an
        estimate are left out.

    References
    ----------
    Holm, S. (1979). Scandinavian Journal of Statistics 6, 65-70.
    Benjamini, Y. & Hochberg, Y. (1995). JRSS B 57, 289-300.
    Welch, B. L. (1947). Biometrika 34, 28-35.

    Examples
    --------
    R's ``t.test(extra ~ group, data = sleep)`` (Welch) gives t = -1.8608,
    df = 17.776, p = 0.07939.

    >>> import pandas as pd
    >>> from hxmetrics.measures.satisfaction import mean_score
    >>> sleep = pd.DataFrame({
    ...     "group": ["1"] * 10 + ["2"] * 10,
    ...     "extra": [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0,
    ...               1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]})
    >>> c = compare_groups(mean_score(sleep, "extra", by="group"))
    >>> round(float(c["statistic"].iloc[0]), 4), round(float(c["df"].iloc[0]), 3)
    (-1.8608, 17.776)
    >>> round(float(c["p_value"].iloc[0]), 5)
    0.07939
    """
    meta = _meta(result)
    if correction not in CORRECTIONS:
        raise ParameterError(
            f"correction must be one of {', '.join(map(repr, CORRECTIONS))}; got {correction!r}."
            + did_you_mean(str(correction), CORRECTIONS)
        )
    confidence = deprecated_value(
        "compare_groups",
        deprecated,
        "alpha",
        "confidence",
        confidence,
        default=0.95,
        convert=lambda a: 1 - float(a),
    )
    if deprecated:
        raise ParameterError(
            f"compare_groups() got unexpected argument(s) {sorted(deprecated)}."
            + did_you_mean(sorted(deprecated)[0], ["reference", "correction", "confidence"])
        )
    confidence = check_confidence(confidence)
    alpha = round(1.0 - confidence, 12)  # 0.05, not 0.050000000000000044
    by = list(meta["by"])
    estimate = meta["estimate"]
    frame = result.reset_index(drop=True)
    est = frame[estimate].to_numpy(dtype=float, na_value=np.nan)
    se = frame["se"].to_numpy(dtype=float, na_value=np.nan)
    n = frame["n"].to_numpy(dtype=float, na_value=np.nan)
    usable = np.isfinite(est) & np.isfinite(se)
    if "suppressed" in frame.columns:
        usable &= ~frame["suppressed"].to_numpy(dtype=bool)
    # A result may hold several measures per group (reliability: alpha and omega):
    # only estimates of the same measure are compared.
    kinds = (
        frame["measure"].astype(str).to_numpy()
        if "measure" in frame.columns
        else np.zeros(len(frame), dtype=str)
    )
    several = len(set(kinds.tolist())) > 1
    if reference is None:
        pairs = [
            (int(i), int(j))
            for i, j in combinations(np.flatnonzero(usable), 2)
            if kinds[i] == kinds[j]
        ]
    else:
        ref_rows = _label_rows(frame, by, reference)
        refs = {kinds[r]: int(r) for r in ref_rows[::-1]}
        if not any(usable[r] for r in refs.values()):
            raise ParameterError(
                f"the reference group {reference!r} is suppressed or has no estimate."
            )
        pairs = [
            (int(i), refs[kinds[i]])
            for i in np.flatnonzero(usable)
            if kinds[i] in refs and usable[refs[kinds[i]]] and i != refs[kinds[i]]
        ]
    a = np.array([i for i, _ in pairs], dtype=int)
    b = np.array([j for _, j in pairs], dtype=int)
    diff = est[a] - est[b]
    se_diff = np.sqrt(se[a] ** 2 + se[b] ** 2)
    if meta.get("test") == "welch":
        df = welch_df(se[a], n[a], se[b], n[b])
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = diff / se_diff
        stat = np.where(se_diff == 0, np.where(diff == 0, 0.0, np.copysign(np.inf, diff)), stat)
        from scipy import stats as sps  # imported when used: scipy.stats costs ~0.4 s

        p = 2 * sps.t.sf(np.abs(stat), np.where(np.isfinite(df), df, np.inf))
    else:
        df = np.full(len(pairs), np.nan)
        stat, p = z_test(diff, se_diff)
    p_adj = adjust_pvalues(p, correction)
    out = frame.loc[a, by].reset_index(drop=True)
    if several:
        out.insert(0, "measure", kinds[a])
    other = frame.loc[b, by].reset_index(drop=True)
    for column in by:
        out[f"{column}_other"] = other[column]
    out["estimate"] = est[a]
    out["estimate_other"] = est[b]
    out["difference"] = diff
    out["se"] = se_diff
    out["statistic"] = stat
    out["df"] = df
    out["p_value"] = p
    out["p_adjusted"] = p_adj
    out["differs"] = p_adj < alpha
    out["correction"] = correction
    out.attrs["hxmetrics"] = {
        "measure": meta.get("measure"),
        "compared": estimate,
        "confidence": confidence,
        "by": by,
    }
    return out
