"""The comparison of one role: the four estimates, the gap, its decomposition and strata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.compare._inference import (
    bootstrap_estimates,
    cluster_totals,
    contrast,
    ratio_covariance,
)
from hxmetrics.compare._names import COMPONENTS, DESCRIPTIONS, ESTIMATORS
from hxmetrics.compare._results import SiloComparison
from hxmetrics.compare._simpson import simpson_flag
from hxmetrics.measures._inference import z_critical
from hxmetrics.tables import SILOS

if TYPE_CHECKING:
    from hxmetrics.compare._design import SiloDesign

__all__ = ["decompose"]


def decompose(
    design: SiloDesign,
    role: str,
    weights: np.ndarray,
    exclusions: pd.DataFrame,
    *,
    confidence: float,
    n_resamples: int,
    random_state: int | np.random.Generator | None,
) -> SiloComparison:
    """Estimates, clustered covariance, gap, decomposition, strata and overlap of one role."""
    from scipy import stats as sps

    z = z_critical(confidence)
    t_tot, n_tot = cluster_totals(design.y, weights, design.cluster, design.n_clusters)
    theta, cov = ratio_covariance(t_tot, n_tot)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))  # NaN stays NaN
    boot = None
    if n_resamples:
        boot = bootstrap_estimates(
            t_tot, n_tot, n_resamples=n_resamples, rng=np.random.default_rng(random_state)
        )
    used = weights > 0
    n_units = [_n_distinct(design.record[used[:, 0]])] + [
        _n_distinct(design.cluster[used[:, k]]) for k in range(1, 4)
    ]
    estimates = pd.DataFrame(
        {
            "estimator": pd.Series(ESTIMATORS, dtype="str"),
            "description": pd.Series([DESCRIPTIONS[e] for e in ESTIMATORS], dtype="str"),
            "n_responses": used.sum(axis=0).astype(np.int64),
            "n_units": np.asarray(n_units, dtype=np.int64),
            "n_persons": np.array(
                [_n_distinct(design.cluster[used[:, k]]) for k in range(4)], dtype=np.int64
            ),
            "estimate": theta,
            "se": se,
        }
    )
    estimates["ci_low"], estimates["ci_high"] = _clipped(theta, se, z, design.spec.bounds)
    if boot is not None:
        estimates["se_bootstrap"] = np.nanstd(boot, axis=0, ddof=1)

    c_gap = np.array([1.0, 0.0, 0.0, -1.0])
    gap, gap_se, gap_boot = contrast(c_gap, theta, cov, boot)
    stat = gap / gap_se if gap_se > 0 else np.nan
    p_value = float(2 * sps.norm.sf(abs(stat))) if np.isfinite(stat) else np.nan
    difference = pd.DataFrame(
        {
            "siloed": [theta[0]],
            "unified": [theta[3]],
            "difference": [gap],
            "se": [gap_se],
            "ci_low": [gap - z * gap_se],
            "ci_high": [gap + z * gap_se],
            "z": [stat],
            "p_value": [p_value],
            "se_independent": [float(np.sqrt(se[0] ** 2 + se[3] ** 2))],
        }
    )
    if boot is not None:
        difference["se_bootstrap"] = gap_boot

    rows = []
    for name, (a, b) in [*COMPONENTS.items(), ("total", ("siloed", "unified"))]:
        c = np.zeros(4)
        c[ESTIMATORS.index(a)] += 1.0
        c[ESTIMATORS.index(b)] -= 1.0
        est, s, sb = contrast(c, theta, cov, boot)
        rows.append(
            {
                "component": name,
                "from_estimator": a,
                "to_estimator": b,
                "contribution": est,
                "se": s,
                "ci_low": est - z * s,
                "ci_high": est + z * s,
                "share_of_gap": est / gap if gap != 0 else np.nan,
                "se_bootstrap": sb,
            }
        )
    decomposition = pd.DataFrame(rows)
    for col in ("component", "from_estimator", "to_estimator"):
        decomposition[col] = decomposition[col].astype("str")
    if boot is None:
        decomposition = decomposition.drop(columns="se_bootstrap")

    strata, simpson = _strata(design, weights, theta, gap_se, z)
    return SiloComparison(
        measure=design.measure,
        role=role,
        estimates=estimates,
        difference=difference,
        decomposition=decomposition,
        strata=strata,
        simpson=simpson,
        overlap=_overlap(design, weights),
        exclusions=exclusions,
        confidence=confidence,
        unit=design.spec.unit,
    )


def _n_distinct(codes: np.ndarray) -> int:
    """Number of distinct non-negative integer codes (a count, not a sort)."""
    return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0


def _clipped(
    theta: np.ndarray, se: np.ndarray, z: float, bounds: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    low, high = theta - z * se, theta + z * se
    if bounds is not None:
        low, high = np.clip(low, *bounds), np.clip(high, *bounds)
    return low, high


def _strata(
    design: SiloDesign, weights: np.ndarray, theta: np.ndarray, pooled_se: float, z: float
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Siloed and unified within each (roles at response time, hybrid type) stratum."""
    codes = design.stratum
    h = len(design.strata)
    w = weights[:, [0, 3]]
    # Per (cluster, stratum) pair, in cluster order: the same sums as a clusters x
    # (2 strata) table (each pair's rows added in row order; each stratum's pairs in
    # cluster order, where the table's other clusters only add zeros), without the
    # dense table, which has millions of rows times twice the number of strata.
    pair, stratum = design.pair, design.pair_stratum
    n_pair = np.column_stack([np.bincount(pair, weights=w[:, j]) for j in range(2)])
    t_pair = np.column_stack([np.bincount(pair, weights=w[:, j] * design.y) for j in range(2)])
    a = np.column_stack([np.bincount(stratum, weights=n_pair[:, j], minlength=h) for j in range(2)])
    t_sum = np.column_stack(
        [np.bincount(stratum, weights=t_pair[:, j], minlength=h) for j in range(2)]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        est = t_sum / a
        # Influence of the within-stratum difference, per cluster (only variances needed).
        u = (t_pair - est[stratum] * n_pair) / a[stratum]
    u = np.where(n_pair > 0, u, 0.0)
    g = design.n_clusters
    factor = g / (g - 1) if g > 1 else np.nan
    diff_u = u[:, 0] - u[:, 1]
    var = factor * np.bincount(stratum, weights=diff_u**2, minlength=h)
    n_s = np.bincount(codes, weights=(w[:, 0] > 0).astype(float), minlength=h)
    n_u = np.bincount(codes, weights=(w[:, 1] > 0).astype(float), minlength=h)
    both = (n_s > 0) & (n_u > 0)
    siloed = np.where(n_s > 0, est[:, 0], np.nan)
    unified = np.where(n_u > 0, est[:, 1], np.nan)
    diff = np.where(both, siloed - unified, np.nan)
    se = np.where(both, np.sqrt(np.clip(var, 0, None)), np.nan)
    pooled = float(theta[0] - theta[3])
    share, kind = simpson_flag(pooled, diff, np.where(both, n_s + n_u, 0))
    tab = design.strata.assign(
        level="stratum",
        n_siloed=n_s.astype(np.int64),
        n_unified=n_u.astype(np.int64),
        siloed=siloed,
        unified=unified,
        difference=diff,
        se=se,
    )
    tab = tab.loc[(n_s + n_u) > 0].sort_values(["roles", "hybrid_type"], kind="stable")
    head = pd.DataFrame(
        {
            "level": ["pooled"],
            "roles": ["(all)"],
            "hybrid_type": ["(all)"],
            "n_siloed": [int((w[:, 0] > 0).sum())],
            "n_unified": [int((w[:, 1] > 0).sum())],
            "siloed": [theta[0]],
            "unified": [theta[3]],
            "difference": [pooled],
            "se": [pooled_se],
        }
    )
    out = pd.concat([head, tab], ignore_index=True)
    out["ci_low"] = out["difference"] - z * out["se"]
    out["ci_high"] = out["difference"] + z * out["se"]
    out["opposite_sign"] = (np.sign(out["difference"]) == -np.sign(pooled)) & (
        out["level"] == "stratum"
    )
    for col in ("level", "roles", "hybrid_type"):
        out[col] = out[col].astype("str")
    return out.reset_index(drop=True), {"kind": kind, "share_opposite": share}


def _overlap(design: SiloDesign, weights: np.ndarray) -> pd.DataFrame:
    used = (weights > 0).any(axis=1)
    k = len(SILOS)
    has = np.zeros((design.n_clusters, k), dtype=bool)
    has[design.cluster[used], design.silo_code[used]] = True
    # Persons by the set of silos they answered in (a bit mask), then per pair of silos
    # the persons whose set holds both: the integer counts of the persons x silos
    # indicator's cross-product, without the product.
    per_set = np.bincount(has @ (1 << np.arange(k)), minlength=1 << k)
    holds = (np.arange(1 << k)[:, None] >> np.arange(k)) & 1  # sets x silos, 0/1
    counts = (holds * per_set[:, None]).T @ holds
    index = pd.Index(list(SILOS), dtype="str")
    return pd.DataFrame(counts, index=index, columns=index)
