"""Uncertainty and sensitivity of the groups' ranking: :func:`sensitivity` and its plot."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._compat import renamed, warn_renamed
from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import (
    ParameterError,
    check_columns,
)
from hxmetrics.measures.index.bootstrap import (
    _group_rngs,
    _resampled_sums,
)
from hxmetrics.measures.index.consistency import check_consistency
from hxmetrics.measures.index.options import (
    AGGREGATIONS,
    NORMALISATIONS,
    RandomState,
    Scale,
    Weighting,
    _as_list,
    _check_common,
    _check_items,
    _seed,
)
from hxmetrics.measures.index.prepare import BOOTSTRAP_BUCKETS, _prepare
from hxmetrics.measures.index.scoring import (
    _check_point,
    _hidden,
    _index_from_sums,
    _reference_index,
    _Spec,
)
from hxmetrics.measures.index.weights import _resolve_weights
from hxmetrics.measures.privacy import suppress

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass(frozen=True)
class SensitivityResult(DataclassDisplay):
    """Monte Carlo uncertainty and sensitivity analysis of the HX index ranking.

    Attributes
    ----------
    ranks : pandas.DataFrame
        One row per group: group columns, ``n``, ``suppressed``,
        ``nominal_index`` and ``nominal_rank`` (first normalisation, weighting and
        aggregation listed, full data), ``median_rank``, ``rank_low`` and
        ``rank_high`` (the rank interval, e.g. 5th-95th percentile), ``p_first``
        (share of draws ranked first) and ``n_draws`` (draws with a defined rank).
    scenarios : pandas.DataFrame
        The index and rank of every group under every combination of the choices
        (full data, nominal weights): ``normalisation``, ``weighting``,
        ``aggregation``, group columns, ``hx_index``, ``rank``.
    draws : pandas.DataFrame
        One row per draw and group: ``draw``, the three choices, group columns,
        ``hx_index``, ``rank``.
    settings : dict
        The options of the run.
    """

    ranks: pd.DataFrame
    scenarios: pd.DataFrame
    draws: pd.DataFrame
    settings: dict[str, Any]

    def summary(self) -> pd.DataFrame:
        """The per-group rank summary (a copy of :attr:`ranks`)."""
        return self.ranks.copy()


def _ranks(index: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Competition ranks (1 = highest) among active groups with a defined index; (D, G)."""
    vals = np.where(active[None, :] & np.isfinite(index), index, np.nan)
    valid = np.isfinite(vals)
    with np.errstate(invalid="ignore"):
        above = (vals[:, None, :] > vals[:, :, None]) & valid[:, None, :]
    ranks = 1.0 + above.sum(axis=2)
    return np.where(valid, ranks, np.nan)


def _weighting_labels(weightings: Sequence[Weighting]) -> list[str]:
    labels: list[str] = []
    for w in weightings:
        base = w if isinstance(w, str) else "budget"
        label = base
        k = 2
        while label in labels:
            label = f"{base}_{k}"
            k += 1
        labels.append(label)
    return labels


@renamed(group="by", n_draws="n_resamples", level="confidence")
def sensitivity(
    data: Any,
    items: Sequence[str],
    *,
    by: str | Sequence[str],
    person: str | None = None,
    weights: str | None = None,
    normalisations: Sequence[str] = NORMALISATIONS,
    weightings: Sequence[Weighting] = ("equal", "factor"),
    aggregations: Sequence[str] = AGGREGATIONS,
    weight_noise: float = 0.0,
    resample: bool = True,
    scale: Scale = (1, 5),
    shift: float = 1.0,
    reference: Hashable | None = None,
    response: str = "response_id",
    n_resamples: int = 1000,
    confidence: float = 0.90,
    min_n: int = 10,
    random_state: RandomState = None,
) -> SensitivityResult:
    """Uncertainty and sensitivity of the groups' ranking to the index's modelling choices.

    Each Monte Carlo draw picks a normalisation, a weighting and an aggregation
    uniformly at random (independent triggers, Saisana, Saltelli & Tarantola 2005),
    optionally perturbs the weights and resamples persons within each group
    (the person-clustered bootstrap of :func:`hx_index`), recomputes every group's
    index and ranks the groups (1 = highest; ties share the better rank). Each
    group is summarised by its median rank and its rank interval (the central
    ``confidence`` share of its ranks: 5th-95th percentile by default), as in the
    OECD/JRC (2008) Handbook, section 7.

    Parameters
    ----------
    data, items, by, person, weights, scale, shift, reference, response, min_n
        As for :func:`hx_index`.
    normalisations : list of str, default all of :data:`NORMALISATIONS`
        Normalisations to sample; the first is the nominal one.
    weightings : list, default ("equal", "factor")
        Weightings to sample (``"equal"``, ``"factor"`` or budget-allocation
        mappings); the first is the nominal one.
    aggregations : list of str, default ("linear", "geometric")
        Aggregations to sample; the first is the nominal one.
    weight_noise : float, default 0.0
        If > 0, each weight is multiplied by an independent Uniform(1 - a, 1 + a)
        factor in every draw, then the weights are rescaled to sum to 1.
    resample : bool, default True
        Also resample persons within groups in every draw, so the rank intervals
        carry sampling uncertainty as well as modelling uncertainty (buckets of
        persons in groups of more than 4096 persons, as :func:`hx_index` does).
        Factor weights are estimated once on the full data.
    n_resamples : int, default 1000
        Monte Carlo draws (``n_draws=`` is the deprecated old name).
    confidence : float, default 0.90
        Coverage of the rank interval (0.90: 5th to 95th percentile; the
        percentiles are observed ranks, ``inverted_cdf``). ``level=`` is the
        deprecated old name.
    random_state : int, Generator or None
        Seed; the same seed reproduces every draw.

    Returns
    -------
    SensitivityResult
        ``ranks`` (per group), ``scenarios`` (per choice combination) and
        ``draws`` (per draw); see :class:`SensitivityResult`.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 7
    (uncertainty and sensitivity analysis; median rank and 5th-95th percentile).

    Saisana, M., Saltelli, A. & Tarantola, S. (2005). Uncertainty and sensitivity
    analysis techniques as tools for the quality assessment of composite
    indicators. JRSS A 168(2), 307-323.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import sensitivity
    >>> wide = pd.DataFrame({"team": list("aaabbbccc"),
    ...                      "hx1": [5, 4, 5, 3, 3, 4, 1, 2, 2],
    ...                      "hx2": [4, 5, 5, 3, 4, 3, 2, 1, 2]})
    >>> res = sensitivity(wide, ["hx1", "hx2"], by="team", weightings=["equal"],
    ...                   min_n=1, n_resamples=200, random_state=1)
    >>> res.ranks[["team", "nominal_rank", "median_rank", "rank_low", "rank_high"]]
      team  nominal_rank  median_rank  rank_low  rank_high
    0    a           1.0          1.0       1.0        1.0
    1    b           2.0          2.0       2.0        2.0
    2    c           3.0          3.0       3.0        3.0
    """
    items = _check_items(items)
    group_cols = _as_list(by)
    norms = [normalisations] if isinstance(normalisations, str) else list(normalisations)
    aggs = [aggregations] if isinstance(aggregations, str) else list(aggregations)
    wts = [weightings] if isinstance(weightings, (str, Mapping)) else list(weightings)
    if not norms or not aggs or not wts:
        raise ParameterError(
            "normalisations, weightings and aggregations must each list at least one choice."
        )
    for n in norms:
        for a in aggs:
            _check_common(n, a, shift, min_n)
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, (int, np.integer))
        or n_resamples < 1
    ):
        raise ParameterError(f"n_resamples must be a positive integer; got {n_resamples!r}.")
    if isinstance(confidence, bool) or not (
        isinstance(confidence, (int, float, np.floating)) and 0 < confidence < 1
    ):
        raise ParameterError(f"confidence must be between 0 and 1 (e.g. 0.90); got {confidence!r}.")
    if not (math.isfinite(weight_noise) and 0 <= weight_noise < 1):
        raise ParameterError(f"weight_noise must be in [0, 1); got {weight_noise!r}.")
    need_matrix = any(isinstance(w, str) and w == "factor" for w in wts)
    d = _prepare(
        data,
        items,
        group_cols=group_cols,
        person=person,
        weights=weights,
        response=response,
        scale=scale,
        module_items=[],
        need_matrix=need_matrix,
        # Without resampling only each group's sums are needed: one unit per group.
        buckets=BOOTSTRAP_BUCKETS if resample else 1,
    )
    check_consistency(d.alpha, d.n_alpha, items, stacklevel=3)
    labels = _weighting_labels(wts)
    wvecs = [_resolve_weights(w, items, d.matrix)[0] for w in wts]
    ref = _reference_index(reference, d)
    active = ~_hidden(d, min_n)
    if active.sum() < 2:
        raise ParameterError(
            f"ranking needs at least two groups with min_n={min_n} persons or more; "
            f"found {int(active.sum())}."
        )
    if ref is not None and not active[ref]:
        raise ParameterError(f"reference group {reference!r} has fewer than min_n={min_n} persons.")
    g_count = d.n_groups
    sums = d.group_sums()

    scen_parts = []
    nominal = None
    for n in norms:
        for label, wv in zip(labels, wvecs, strict=True):
            for a in aggs:
                spec = _Spec(n, a, float(shift), ref)
                idx = _index_from_sums(*sums, data=d, active=active, spec=spec, weights=wv)
                _check_point(idx, d, active, spec, label=f"[{n}, {label}, {a}] ")
                idx = np.where(active, idx, np.nan)
                rk = _ranks(idx[None, :], active)[0]
                if nominal is None:
                    nominal = (idx, rk)
                part = d.keys.copy()
                part.insert(0, "aggregation", a)
                part.insert(0, "weighting", label)
                part.insert(0, "normalisation", n)
                part["hx_index"] = idx
                part["rank"] = rk
                scen_parts.append(part)
    scenarios = pd.concat(scen_parts, ignore_index=True)
    if nominal is None:  # pragma: no cover - the loops above run at least once
        raise ParameterError("no scenario was evaluated.")

    seed = _seed(random_state)
    rng = np.random.default_rng([seed, 0])
    pick_n = rng.integers(len(norms), size=n_resamples)
    pick_w = rng.integers(len(wts), size=n_resamples)
    pick_a = rng.integers(len(aggs), size=n_resamples)
    noise = rng.uniform(1 - weight_noise, 1 + weight_noise, size=(n_resamples, len(items)))
    if resample:
        rw, rs, rq = _resampled_sums(d, _group_rngs(seed, d.key_tuples()), n_resamples)
    index = np.full((n_resamples, g_count), np.nan)
    combos = np.unique(np.stack([pick_n, pick_w, pick_a], axis=1), axis=0)
    for ni, wi, ai in combos:
        sel = np.flatnonzero((pick_n == ni) & (pick_w == wi) & (pick_a == ai))
        wv = wvecs[wi]
        if weight_noise > 0:
            wm = wv * noise[sel]
            wv = (wm / wm.sum(axis=1, keepdims=True))[:, None, :]
        pq: np.ndarray | None
        if resample:
            pw, ps, pq = rw[sel], rs[sel], rq[sel]
        else:
            pw, ps, pq = (np.broadcast_to(s, (len(sel), *s.shape)) for s in sums)
        spec = _Spec(norms[ni], aggs[ai], float(shift), ref)
        index[sel] = _index_from_sums(pw, ps, pq, data=d, active=active, spec=spec, weights=wv)
    index = np.where(active[None, :], index, np.nan)
    ranks = _ranks(index, active)

    lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    summary = d.keys.copy()
    summary["n"] = d.n_persons
    summary["suppressed"] = ~active
    summary["nominal_index"] = nominal[0]
    summary["nominal_rank"] = nominal[1]
    cols: dict[str, list[float]] = {
        k: [] for k in ("median_rank", "rank_low", "rank_high", "p_first")
    }
    n_valid = []
    for g in range(g_count):
        r = ranks[:, g]
        r = r[np.isfinite(r)]
        n_valid.append(r.size)
        if r.size == 0:
            for k in cols:
                cols[k].append(np.nan)
            continue
        cols["median_rank"].append(float(np.median(r)))
        low_r, high_r = np.quantile(r, [lo_q, hi_q], method="inverted_cdf")
        cols["rank_low"].append(float(low_r))
        cols["rank_high"].append(float(high_r))
        cols["p_first"].append(float(np.mean(r == 1)))
    for k, v in cols.items():
        summary[k] = v
    summary["n_draws"] = n_valid  # draws with a defined rank (a count column)
    # n and the counts of hidden groups are hidden too (the same rule as hx_index).
    order = list(summary.columns)
    summary = suppress(summary.drop(columns="suppressed"), min_n=min_n, by=group_cols)[order]

    draws = pd.DataFrame(
        {
            "draw": np.repeat(np.arange(n_resamples), g_count),
            "normalisation": np.asarray(norms, dtype=object)[np.repeat(pick_n, g_count)],
            "weighting": np.asarray(labels, dtype=object)[np.repeat(pick_w, g_count)],
            "aggregation": np.asarray(aggs, dtype=object)[np.repeat(pick_a, g_count)],
        }
    )
    tiled = pd.concat([d.keys] * n_resamples, ignore_index=True)
    draws = pd.concat([draws, tiled], axis=1)
    draws["hx_index"] = index.ravel()
    draws["rank"] = ranks.ravel()
    settings = {
        "items": items,
        "normalisations": norms,
        "weightings": dict(
            zip(labels, [dict(zip(items, w.tolist(), strict=True)) for w in wvecs], strict=True)
        ),
        "aggregations": aggs,
        "weight_noise": float(weight_noise),
        "resample": bool(resample),
        "n_resamples": int(n_resamples),
        "confidence": float(confidence),
        "min_n": int(min_n),
        "shift": float(shift),
        "excluded": d.excluded,
    }
    return SensitivityResult(ranks=summary, scenarios=scenarios, draws=draws, settings=settings)


def plot_rank_intervals(
    result: SensitivityResult | pd.DataFrame, *args: Any, ax: Axes | None = None
) -> Axes:
    """Draw each group's rank interval, median rank and nominal rank.

    Parameters
    ----------
    result : SensitivityResult or DataFrame
        The output of :func:`sensitivity`, or its ``ranks`` frame.
    ax : matplotlib Axes, optional, keyword-only
        Where to draw; a new figure is made when omitted. Passing it as the second
        positional argument still works, with a DeprecationWarning.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, groups ordered by median rank (best at the top).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import sensitivity, plot_rank_intervals
    >>> wide = pd.DataFrame({"team": list("aabb"), "hx1": [5, 4, 2, 1], "hx2": [4, 4, 2, 2]})
    >>> res = sensitivity(wide, ["hx1", "hx2"], by="team", weightings=["equal"],
    ...                   min_n=1, n_resamples=50, random_state=0)
    >>> ax = plot_rank_intervals(res)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['a', 'b']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    if args:
        if len(args) > 1 or ax is not None:
            raise ParameterError(
                "plot_rank_intervals() takes the result and ax= only; got extra positional "
                "arguments."
            )
        warn_renamed("plot_rank_intervals", "ax as a positional argument", "ax=")
        ax = args[0]
    ranks = result.ranks if isinstance(result, SensitivityResult) else result
    check_columns(
        ranks.columns,
        ["median_rank", "rank_low", "rank_high", "nominal_rank", "suppressed"],
        table="ranks",
    )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 0.4 * max(len(ranks), 3) + 1))
    stat_cols = {
        "n",
        "suppressed",
        "nominal_index",
        "nominal_rank",
        "median_rank",
        "rank_low",
        "rank_high",
        "p_first",
        "n_draws",
    }
    group_cols = [c for c in ranks.columns if c not in stat_cols]
    shown = ranks[~ranks["suppressed"].astype(bool)].sort_values(["median_rank", "nominal_rank"])
    labels = [" / ".join(str(v) for v in row) for row in shown[group_cols].itertuples(index=False)]
    y = np.arange(len(shown))
    ax.hlines(
        y, shown["rank_low"], shown["rank_high"], color="0.35", linewidth=2, label="rank interval"
    )
    ax.plot(shown["median_rank"], y, "o", color="C0", label="median rank")
    ax.plot(shown["nominal_rank"], y, "x", color="C3", label="nominal rank")
    ax.set_yticks(y, labels)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0.5, len(shown) + 0.5)
    ax.set_xlabel("rank (1 = highest HX index)")
    ax.legend(loc="best", fontsize="small")
    return ax
