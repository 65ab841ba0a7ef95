"""The four estimators of the siloed-to-unified chain and their person-clustered inference.

Every estimator here is a ratio of weighted sums over survey responses,
``theta_k = sum_r a_kr y_r / sum_r a_kr``, where ``y_r`` is the response's value on
the measure's scale (NPS: +100 promoter, 0 passive, -100 detractor) and ``a_kr``
says how much of a vote the response carries under estimator ``k``. What differs
between the estimators is only which responses take part and how the votes are
split (see :func:`hxmetrics.compare.siloed_vs_unified` for the definitions).

Inference works on per-person totals: with ``T_ck = sum_{r in c} a_kr y_r`` and
``N_ck = sum_{r in c} a_kr`` for person (cluster) ``c``, every estimator is a ratio
of means of i.i.d. cluster totals, and its linearisation (influence function) is
``u_ck = (T_ck - theta_k N_ck) / A_k``. The covariance of all the estimators at
once is ``G/(G-1) sum_c u_c u_c'`` (the cluster-robust sandwich of a stacked
weighted regression on estimator indicators, with the usual ``G/(G-1)`` factor),
so differences between estimators computed on the same people get the right,
correlated, variance. The person-level bootstrap resamples the same cluster totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import InputTableError, ParameterError, check_choice, check_columns
from hxmetrics.measures._inference import check_confidence, z_critical
from hxmetrics.tables import ROLE_OF_SILO, SILOS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from hxmetrics.stakeholders import StakeholderRegistry

__all__ = [
    "COMPONENTS",
    "ESTIMATORS",
    "GROUPS",
    "MEASURES",
    "SiloComparison",
    "SimpsonCheck",
    "plot_decomposition",
    "pooled_vs_stratified",
    "siloed_vs_unified",
]

ROLES: tuple[str, ...] = tuple(ROLE_OF_SILO.values())
SILO_OF_ROLE: dict[str, str] = {role: silo for silo, role in ROLE_OF_SILO.items()}

#: The chain of estimators, from what departments report to the unified one.
ESTIMATORS: tuple[str, ...] = ("siloed", "deduplicated", "attributed", "unified")
#: Each component of the gap is the difference between two neighbours in the chain.
COMPONENTS: dict[str, tuple[str, str]] = {
    "double_counting": ("siloed", "deduplicated"),
    "role_attribution": ("deduplicated", "attributed"),
    "hybrid_experience": ("attributed", "unified"),
}
#: Target groups: everyone, or the holders of one role.
GROUPS: tuple[str, ...] = ("all", *ROLES)

_DESCRIPTIONS = {
    "siloed": "each silo record one vote, every response the silos recorded",
    "deduplicated": "each person one vote, same responses",
    "attributed": "only responses given while the person held the group's role",
    "unified": "plus the group's answers recorded by other silos",
}
_NOT_ATTRIBUTED = "unattributed"


@dataclass(frozen=True)
class _Measure:
    """How one measure turns a score into the value that is averaged."""

    name: str
    instrument: str | None
    item: str | None
    scale: tuple[float, float] | None
    integer: bool
    kind: str  # "nps", "share" or "mean"
    box: tuple[float, ...] = ()
    unit: str = ""

    @property
    def bounds(self) -> tuple[float, float] | None:
        if self.kind == "nps":
            return (-100.0, 100.0)
        if self.kind == "share":
            return (0.0, 100.0)
        return self.scale

    def value(self, score: np.ndarray) -> np.ndarray:
        if self.kind == "nps":
            # Reichheld (2003): promoters 9-10, detractors 0-6.
            out: np.ndarray = 100.0 * ((score >= 9).astype(float) - (score <= 6).astype(float))
            return out
        if self.kind == "share":
            return 100.0 * np.isin(score, np.asarray(self.box, dtype=float)).astype(float)
        return score.astype(float)


#: The measures :func:`siloed_vs_unified` knows, with their default instrument and item.
MEASURES: dict[str, _Measure] = {
    "nps": _Measure("nps", "nps", "ltr", (0.0, 10.0), True, "nps", unit="NPS points"),
    "csat": _Measure("csat", "csat", "overall", (1.0, 5.0), True, "share", (4.0, 5.0), "%"),
    "ces": _Measure("ces", "ces", "effort", (1.0, 7.0), True, "mean", unit="scale points"),
    "mean": _Measure("mean", None, None, None, False, "mean", unit="scale points"),
}


# --------------------------------------------------------------------------- design


@dataclass(frozen=True)
class _Design:
    """The responses of one comparison, their values and the weights of each estimator.

    Rows are the responses with a score (one per ``response_id``). ``weights`` has
    one column per estimator in :data:`ESTIMATORS`; a zero means "not counted".
    """

    response_id: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    record: np.ndarray
    silo: np.ndarray
    silo_code: np.ndarray
    roles: np.ndarray
    hybrid_type: np.ndarray
    exclusions: pd.DataFrame
    measure: _Measure
    group: str

    def totals(self, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-cluster ``T = sum a y`` and ``N = sum a`` (clusters x estimators)."""
        return cluster_totals(
            self.y if y is None else y, self.weights, self.cluster, self.n_clusters
        )


def _text(values: Any) -> np.ndarray:
    return pd.Series(values, dtype="object").astype("str").to_numpy(dtype=object)


def _labels(values: pd.Series, *, missing: str) -> np.ndarray:
    """:func:`_text` of a column, ``missing`` where it is missing.

    A categorical column (what attribution returns) is decoded from its codes: one
    ``str`` per category instead of one per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        names = [str(c) for c in values.cat.categories]
        out: np.ndarray = np.asarray([*names, missing], dtype=object)[values.cat.codes.to_numpy()]
        return out
    return _text(values.astype("object").fillna(missing))


def _resolve_measure(
    measure: str, instrument: str | None, item: str | None, box: Sequence[float] | None
) -> _Measure:
    check_choice("measure", measure, MEASURES)
    spec = MEASURES[measure]
    inst = instrument if instrument is not None else spec.instrument
    it = item if item is not None else spec.item
    if inst is None or it is None:
        raise ParameterError(
            f"measure={measure!r} needs the instrument and item to average, e.g. "
            "instrument='hx_core', item='hx1'."
        )
    new_box = spec.box
    if box is not None:
        if spec.kind != "share":
            raise ParameterError(f"box= applies to measure='csat' only; got measure={measure!r}.")
        new_box = tuple(sorted({float(b) for b in box}))
        low, high = spec.scale or (-np.inf, np.inf)
        if not new_box or any(b < low or b > high for b in new_box):
            raise ParameterError(
                f"box must list points of the {low:g}..{high:g} scale, e.g. (4, 5); got {box!r}."
            )
    return _Measure(spec.name, inst, it, spec.scale, spec.integer, spec.kind, new_box, spec.unit)


def _select(responses: pd.DataFrame, spec: _Measure) -> tuple[pd.DataFrame, int]:
    """The rows of the measure's item, scores checked; returns (rows with a score, n missing)."""
    need = ["response_id", "silo", "source_id", "instrument", "item", "score", "timestamp"]
    check_columns(responses.columns, need, table="responses")
    inst = responses["instrument"].astype("str")
    item = responses["item"].astype("str")
    rows = responses.loc[
        (inst == spec.instrument).to_numpy() & (item == spec.item).to_numpy(),
        ["response_id", "silo", "source_id", "score", "timestamp"],
    ]
    if rows.empty:
        have = (
            pd.DataFrame({"instrument": inst, "item": item})
            .drop_duplicates()
            .head(10)
            .itertuples(index=False)
        )
        listed = ", ".join(f"{a}/{b}" for a, b in have) or "none"
        raise InputTableError(
            f"responses: no rows of instrument {spec.instrument!r}, item {spec.item!r}; "
            f"the table has (instrument/item): {listed}. Pass instrument= and item=.",
            table="responses",
            failure_cases=_cases("item", "present", spec.item, None),
        )
    silo = rows["silo"].astype("str")
    bad_silo = ~silo.isin(SILOS).to_numpy()
    if bad_silo.any():
        _raise_rows(rows, bad_silo, "silo", "isin(silos)", f"one of {', '.join(SILOS)}")
    dup = rows["response_id"].astype("str").duplicated(keep=False).to_numpy()
    if dup.any():
        _raise_rows(
            rows,
            dup,
            "response_id",
            "unique",
            f"one row per response for item {spec.item!r} (response_id repeats)",
        )
    raw = rows["score"]
    score = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    not_number = np.isnan(score) & raw.notna().to_numpy()
    if not_number.any():
        _raise_rows(rows, not_number, "score", "numeric", "numbers")
    missing = np.isnan(score)
    if spec.scale is not None:
        low, high = spec.scale
        off = ~missing & ((score < low) | (score > high))
        if spec.integer:
            off |= ~missing & (np.round(score) != score)
        if off.any():
            kind = "whole numbers" if spec.integer else "numbers"
            _raise_rows(
                rows,
                off,
                "score",
                f"{spec.name}_scale",
                f"{kind} from {low:g} to {high:g} for measure {spec.name!r}",
            )
    else:
        inf = ~missing & ~np.isfinite(score)
        if inf.any():
            _raise_rows(rows, inf, "score", "finite", "finite numbers")
    kept = rows.loc[~missing].copy()
    kept["score"] = score[~missing]
    return kept, int(missing.sum())


def _cases(column: str, check: str, case: Any, index: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {"column": [column], "check": [check], "failure_case": [case], "index": [index]}
    )


def _raise_rows(
    rows: pd.DataFrame, bad: np.ndarray, column: str, check: str, expected: str
) -> None:
    where = np.flatnonzero(bad)
    examples = "; ".join(
        f"row {rows.index[i]!r}: {rows[column].iloc[i]!r}" for i in where[:5].tolist()
    )
    raise InputTableError(
        f"responses: column {column!r} must hold {expected}; {len(where)} row(s) do not, "
        f"e.g. {examples}.",
        table="responses",
        failure_cases=pd.DataFrame(
            {
                "column": column,
                "check": check,
                "failure_case": rows[column].iloc[where].to_numpy(),
                "index": rows.index[where],
            }
        ),
    )


def vote_weights(mask: np.ndarray, unit: np.ndarray, silo: np.ndarray) -> np.ndarray:
    """One vote per unit, split equally over the silos it answered in, then over responses.

    ``a_r = 1 / (k_u * m_us)`` for rows in ``mask``: ``k_u`` silos answered by unit
    ``u``, ``m_us`` responses of ``u`` in silo ``s``. Zero outside ``mask``.

    Examples
    --------
    >>> import numpy as np
    >>> vote_weights(np.array([True, True, True, False]), np.array([0, 0, 1, 1]),
    ...              np.array([0, 1, 0, 0]))
    array([0.5, 0.5, 1. , 0. ])
    """
    out = np.zeros(len(mask))
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return out
    n_silos = int(silo.max()) + 1 if silo.size else 1
    # Hash factorisation (no sort): the weights do not depend on the codes' order.
    pair, upair = pd.factorize(unit[idx].astype(np.int64) * n_silos + silo[idx])
    counts = np.bincount(pair)
    pair_unit, _ = pd.factorize(upair // n_silos)
    per_unit = np.bincount(pair_unit)
    k = per_unit[pair_unit]
    out[idx] = 1.0 / (k[pair] * counts[pair])
    return out


def _roles_text(attributed: pd.DataFrame, ok: np.ndarray) -> np.ndarray:
    held = np.stack([attributed[f"is_{r}"].to_numpy(dtype=bool) for r in ROLES], axis=1)
    names = np.array(
        ["+".join(r for j, r in enumerate(ROLES) if m >> j & 1) or "none" for m in range(8)],
        dtype=object,
    )
    mask = (held * (1 << np.arange(len(ROLES)))).sum(axis=1)
    out: np.ndarray = np.where(ok, names[mask], _NOT_ATTRIBUTED)
    return out


def build_design(
    registry: StakeholderRegistry,
    responses: pd.DataFrame,
    *,
    measure: str = "nps",
    group: str = "all",
    instrument: str | None = None,
    item: str | None = None,
    box: Sequence[float] | None = None,
) -> _Design:
    """Select, check and attribute the responses; weight them for every estimator."""
    spec = _resolve_measure(measure, instrument, item, box)
    check_choice("group", group, GROUPS)
    if not hasattr(registry, "attribute"):
        raise ParameterError(
            "registry must be a StakeholderRegistry (StakeholderRegistry.from_rosters(...)); "
            f"got {type(registry).__name__}."
        )
    if not isinstance(responses, pd.DataFrame):
        try:
            import narwhals as nw

            responses = nw.from_native(responses, eager_only=True).to_pandas()
        except TypeError:
            raise ParameterError(
                f"responses must be a DataFrame; got {type(responses).__name__}."
            ) from None
    rows, n_missing = _select(responses, spec)
    att = registry.attribute(rows)
    n = len(att)
    # _select checked that every silo is one of SILOS, so every row gets a code; three
    # vectorised comparisons cost less than hashing every row's text.
    silo_column = att["silo"].astype("str")
    silo = np.full(n, -1, dtype=np.int64)
    for code, name in enumerate(SILOS):
        silo[(silo_column == name).to_numpy(dtype=bool)] = code
    silo_text = np.asarray(SILOS, dtype=object)[silo]
    status = _labels(att["attribution"], missing="nan")
    ok = status == "ok"

    # Clusters are resolved persons; a silo id the registry cannot link is its own person.
    # Integer codes of (silo, source_id) and of the person stand for the text keys
    # "silo\x1fsource_id" and "p\x1fperson" / "r\x1frecord": a one-to-one recoding, so
    # factorising them numbers records and clusters in the same first-seen order.
    source, sources = pd.factorize(att["source_id"].astype("str"))
    record, _ = pd.factorize(silo.astype(np.int64) * max(len(sources), 1) + source)
    person, persons = pd.factorize(att["person_id"])
    known = person >= 0
    cluster, cluster_uniques = pd.factorize(np.where(known, person, len(persons) + record))

    if group == "all":
        recorded = np.ones(n, dtype=bool)
        held = ok.copy()
    else:
        recorded = silo_text == SILO_OF_ROLE[group]
        held = ok & att[f"is_{group}"].to_numpy(dtype=bool)
    in_siloed = recorded
    in_attributed = recorded & held
    in_unified = held
    weights = np.column_stack(
        [
            vote_weights(in_siloed, record, silo),
            vote_weights(in_siloed, cluster, silo),
            vote_weights(in_attributed, cluster, silo),
            vote_weights(in_unified, cluster, silo),
        ]
    )
    if not in_siloed.any() and not in_unified.any():
        raise InputTableError(
            f"no {spec.instrument}/{spec.item} responses belong to group {group!r}: none was "
            "recorded by its silo or given by a person holding its role.",
            table="responses",
            failure_cases=_cases("silo", f"group_{group}", group, None),
        )

    hybrid_type = np.where(
        known, _labels(att["hybrid_type"], missing=_NOT_ATTRIBUTED), _NOT_ATTRIBUTED
    )
    exclusions = _exclusions(status, recorded, held, n_missing, group)
    return _Design(
        response_id=_text(att["response_id"]),
        y=spec.value(att["score"].to_numpy(dtype=float)),
        weights=weights,
        cluster=cluster.astype(np.int64),
        n_clusters=len(cluster_uniques),
        record=record.astype(np.int64),
        silo=silo_text,
        silo_code=silo,
        roles=_roles_text(att, ok),
        hybrid_type=hybrid_type.astype(object),
        exclusions=exclusions,
        measure=spec,
        group=group,
    )


def _exclusions(
    status: np.ndarray, recorded: np.ndarray, held: np.ndarray, n_missing: int, group: str
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {"reason": "missing_score", "n": n_missing, "excluded_from": ", ".join(ESTIMATORS)}
    ]
    later = "attributed, unified"
    for reason in ("unknown_id", "outside_episodes", "missing_time"):
        rows.append(
            {
                "reason": reason,
                "n": int((recorded & (status == reason)).sum()),
                "excluded_from": later,
            }
        )
    if group != "all":
        rows.append(
            {
                "reason": f"not_{group}_at_response_time",
                "n": int((recorded & (status == "ok") & ~held).sum()),
                "excluded_from": later,
            }
        )
        rows.append(
            {
                "reason": "recorded_by_other_silo",
                "n": int((~recorded & held).sum()),
                "excluded_from": "siloed, deduplicated, attributed",
            }
        )
        rows.append(
            {
                "reason": "outside_group",
                "n": int((~recorded & ~held).sum()),
                "excluded_from": ", ".join(ESTIMATORS),
            }
        )
    out = pd.DataFrame(rows)
    out["reason"] = out["reason"].astype("str")
    out["excluded_from"] = out["excluded_from"].astype("str")
    out["n"] = out["n"].astype(np.int64)
    return out


# --------------------------------------------------------------------------- inference


def cluster_totals(
    y: np.ndarray, weights: np.ndarray, cluster: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster weighted sums ``T`` (of ``w y``) and ``N`` (of ``w``), clusters x columns.

    ``y`` may be a vector (rows) or a matrix (rows x replications); then ``T`` is
    clusters x columns x replications.
    """
    k = weights.shape[1]
    # bincount adds the rows of a cluster in row order, as np.add.at does (same bits),
    # at a fraction of its cost.
    n_tot = np.column_stack(
        [np.bincount(cluster, weights=weights[:, j], minlength=n_clusters) for j in range(k)]
    ).reshape(n_clusters, k)
    if y.ndim == 1:
        wy = weights * y[:, None]
        t_tot = np.column_stack(
            [np.bincount(cluster, weights=wy[:, j], minlength=n_clusters) for j in range(k)]
        ).reshape(n_clusters, k)
        return t_tot, n_tot
    from scipy import sparse

    m = sparse.csr_matrix(
        (np.ones(len(cluster)), (cluster, np.arange(len(cluster)))),
        shape=(n_clusters, len(cluster)),
    )
    t3 = np.stack([m @ (weights[:, j, None] * y) for j in range(k)], axis=1)
    return t3, n_tot


def ratio_covariance(t_tot: np.ndarray, n_tot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates ``sum T / sum N`` per column and their cluster-robust covariance.

    The influence of cluster ``c`` on column ``k`` is ``(T_ck - theta_k N_ck) / A_k``
    (``A_k = sum_c N_ck``); the covariance is ``G/(G-1)`` times the cross-product of
    the influences, as in a stacked regression with ``cov_type="cluster"``.

    Examples
    --------
    Two clusters with totals (2, 1) and (0, 1): the mean is 1, influences +-0.5.

    >>> import numpy as np
    >>> theta, cov = ratio_covariance(np.array([[2.0], [0.0]]), np.array([[1.0], [1.0]]))
    >>> float(theta[0]), float(cov[0, 0])
    (1.0, 1.0)
    """
    g = t_tot.shape[0]
    a = n_tot.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = t_tot.sum(axis=0) / a
        u = (t_tot - theta * n_tot) / a
    u = np.where(n_tot > 0, u, 0.0)
    factor = g / (g - 1) if g > 1 else np.nan
    cov = factor * (u.T @ u)
    # A column without any weight has no estimate and no variance (not a zero one).
    empty = ~(a > 0)
    cov[empty, :] = np.nan
    cov[:, empty] = np.nan
    return theta, cov


def contrast(
    c: np.ndarray, theta: np.ndarray, cov: np.ndarray, boot: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Estimate, SE and bootstrap SE of ``c @ theta``, using only the columns ``c`` names."""
    idx = np.flatnonzero(c)
    ci = c[idx]
    est = float(ci @ theta[idx])
    var = float(ci @ cov[np.ix_(idx, idx)] @ ci)
    se = float(np.sqrt(var)) if var >= 0 else np.nan
    se_boot = np.nan
    if boot is not None:
        se_boot = float(np.nanstd(boot[:, idx] @ ci, ddof=1))
    return est, se, se_boot


def bootstrap_estimates(
    t_tot: np.ndarray,
    n_tot: np.ndarray,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    chunk_cells: int = 4_000_000,
) -> np.ndarray:
    """Person-level bootstrap: resample clusters with replacement, recompute every column.

    Returns ``n_resamples x columns`` estimates (NaN where a resample has no weight).
    """
    g, k = t_tot.shape
    out = np.empty((n_resamples, k))
    block = max(1, chunk_cells // max(g, 1))
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        draws = rng.integers(0, g, size=(b, g))
        offsets = (np.arange(b)[:, None] * g + draws).ravel()
        counts = np.bincount(offsets, minlength=b * g).reshape(b, g).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[done : done + b] = (counts @ t_tot) / (counts @ n_tot)
        done += b
    return out


# --------------------------------------------------------------------------- Simpson


def _simpson_flag(pooled: float, diffs: np.ndarray, sizes: np.ndarray) -> tuple[float, str]:
    """Share (by size) of strata whose difference has the opposite sign; and the verdict."""
    keep = np.isfinite(diffs) & (sizes > 0)
    diffs, sizes = diffs[keep], sizes[keep]
    if not np.isfinite(pooled) or pooled == 0 or diffs.size == 0:
        return 0.0, "none"
    opposite = np.sign(diffs) == -np.sign(pooled)
    share = float(sizes[opposite].sum() / sizes.sum())
    nonzero = diffs != 0
    if nonzero.any() and opposite[nonzero].all():
        return share, "all"
    if share > 0.5:
        return share, "majority"
    return share, "none"


@dataclass(frozen=True, eq=False, repr=False)
class SimpsonCheck(DisplayMixin):
    """A comparison shown pooled and within strata, with a Simpson's-paradox flag.

    Attributes
    ----------
    table : pandas.DataFrame
        ``level`` (``"pooled"``, ``"standardised"`` or ``"stratum"``), the strata
        columns, ``n_a``, ``n_b``, ``estimate_a``, ``estimate_b``, ``difference``
        (a - b), ``se``, ``ci_low``, ``ci_high``, ``opposite_sign`` (the stratum's
        difference has the sign opposite to the pooled one).
    pooled : float
        The pooled difference a - b.
    standardised : float
        The strata differences averaged with the strata's shares of all rows
        (direct standardisation): the comparison with the composition held fixed.
    share_opposite : float
        Share of rows (in strata with both sides) whose stratum difference has the
        opposite sign to the pooled one.
    kind : {"none", "majority", "all"}
        ``"all"``: every stratum with a non-zero difference disagrees in sign with
        the pooled difference (a full reversal); ``"majority"``: strata holding more
        than half of the rows disagree; ``"none"`` otherwise.
    """

    table: pd.DataFrame
    pooled: float
    standardised: float
    share_opposite: float
    kind: str
    levels: tuple[Any, Any] = field(default=("a", "b"))

    @property
    def reversal(self) -> bool:
        """True when the pooled comparison points the other way from most strata."""
        return self.kind != "none"

    def summary(self) -> pd.DataFrame:
        """The table (pooled, standardised, then one row per stratum)."""
        return self.table

    def _display_title(self) -> str:
        a, b = self.levels
        return f"Pooled vs stratified: {a} - {b} ({len(self.table) - 2} strata)"

    def _display_notes(self) -> Sequence[str]:
        verdict = {
            "none": "no Simpson reversal",
            "majority": "Simpson reversal: most strata point the other way",
            "all": "Simpson reversal: every stratum points the other way",
        }[self.kind]
        return [f"{verdict} (share of rows in opposite-sign strata {self.share_opposite:.2f})"]


def pooled_vs_stratified(
    data: pd.DataFrame,
    value: str,
    *,
    compare: str,
    by: str | Sequence[str],
    levels: Sequence[Any] | None = None,
    cluster: str | None = None,
    confidence: float = 0.95,
) -> SimpsonCheck:
    """Compare two groups pooled and within strata, and flag a Simpson's paradox.

    The difference of means ``a - b`` of ``value`` between the two levels of
    ``compare`` is computed over all rows (pooled), within each stratum of ``by``,
    and standardised (stratum differences weighted by the strata's shares of all
    rows). When the pooled difference has the opposite sign to most strata the
    pooled comparison is misleading: the groups are distributed differently over
    the strata (Bickel, Hammel & O'Connell 1975).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation.
    value : str
        Numeric column to average (e.g. 0/1 for a rate, or the NPS value +-100/0).
        Rows with a missing value are excluded and counted in the table's notes.
    compare : str
        Column with the two groups to compare.
    by : str or sequence of str
        Strata columns.
    levels : (a, b), optional
        The two groups, in the order of the difference; default the two values
        of ``compare`` in sorted order. Rows of other groups are left out.
    cluster : str, optional
        Rows sharing a value are one cluster (a person) for the standard errors;
        default every row is its own cluster.
    confidence : float, default 0.95
        Level of the Wald intervals.

    Returns
    -------
    SimpsonCheck

    References
    ----------
    Bickel, P. J., Hammel, E. A. & O'Connell, J. W. (1975). Sex bias in graduate
    admissions: data from Berkeley. Science 187(4175), 398-404.

    Examples
    --------
    Two hospitals: A is better in both severity strata but worse pooled, because it
    treats most of the severe cases.

    >>> import pandas as pd
    >>> cells = [("A", "mild", 1, 95), ("A", "mild", 0, 5), ("A", "severe", 1, 300),
    ...          ("A", "severe", 0, 300), ("B", "mild", 1, 450), ("B", "mild", 0, 50),
    ...          ("B", "severe", 1, 40), ("B", "severe", 0, 60)]
    >>> df = pd.DataFrame([(h, s, y) for h, s, y, k in cells for _ in range(k)],
    ...                   columns=["hospital", "severity", "survived"])
    >>> check = pooled_vs_stratified(df, "survived", compare="hospital", by="severity")
    >>> round(check.pooled, 3), check.kind
    (-0.252, 'all')
    """
    confidence = check_confidence(confidence)
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise ParameterError("by must name at least one strata column.")
    need = [value, compare, *by_cols] + ([cluster] if cluster else [])
    check_columns(data.columns, need, table="data")
    frame = data[need]
    y_all = pd.to_numeric(frame[value], errors="coerce")
    if (y_all.isna() & frame[value].notna()).any():
        bad = np.flatnonzero((y_all.isna() & frame[value].notna()).to_numpy())
        _raise_rows(frame, np.isin(np.arange(len(frame)), bad), value, "numeric", "numbers")
    if levels is None:
        found = sorted(frame[compare].dropna().unique().tolist())
        if len(found) != 2:
            raise ParameterError(
                f"compare column {compare!r} must have exactly two groups; found {found[:10]}. "
                "Pass levels=(a, b) to pick two."
            )
        levels = found
    if len(levels) != 2:
        raise ParameterError(f"levels must be two groups (a, b); got {levels!r}.")
    a_lev, b_lev = levels[0], levels[1]
    side = np.where(frame[compare] == a_lev, 0, np.where(frame[compare] == b_lev, 1, -1))
    keep = (side >= 0) & y_all.notna().to_numpy()
    n_missing = int(((side >= 0) & y_all.isna().to_numpy()).sum())
    if not keep.any():
        raise InputTableError(
            f"no rows of groups {a_lev!r} or {b_lev!r} with a value in {value!r}.",
            table="data",
            failure_cases=_cases(compare, "levels", str(levels), None),
        )
    sub = frame.loc[keep]
    y = y_all.to_numpy(dtype=float)[keep]
    side = side[keep]
    strata, uniques = pd.MultiIndex.from_frame(sub[by_cols]).factorize()
    h = len(uniques)
    if cluster is None:
        clusters = np.arange(len(sub))
    else:
        clusters, _ = pd.factorize(sub[cluster])
    n_clusters = int(clusters.max()) + 1
    # Columns: pooled a, pooled b, then (stratum h, side) for every stratum.
    cols = np.zeros((len(sub), 2 + 2 * h))
    rows = np.arange(len(sub))
    cols[rows, side] = 1.0
    cols[rows, 2 + 2 * strata + side] = 1.0
    t_tot, n_tot = cluster_totals(y, cols, clusters, n_clusters)
    theta, cov = ratio_covariance(t_tot, n_tot)
    counts = cols.sum(axis=0)
    z = z_critical(confidence)

    pooled_c = np.zeros(2 + 2 * h)
    pooled_c[[0, 1]] = [1.0, -1.0]
    pooled, pooled_se, _ = contrast(pooled_c, theta, cov)
    n_a = counts[2::2]
    n_b = counts[3::2]
    both = (n_a > 0) & (n_b > 0)
    diffs = np.where(both, theta[2::2] - theta[3::2], np.nan)
    ses = np.full(h, np.nan)
    for j in np.flatnonzero(both):
        c = np.zeros(2 + 2 * h)
        c[[2 + 2 * j, 3 + 2 * j]] = [1.0, -1.0]
        ses[j] = contrast(c, theta, cov)[1]
    share_rows = (n_a + n_b) / (n_a + n_b)[both].sum()
    std_c = np.zeros(2 + 2 * h)
    for j in np.flatnonzero(both):
        std_c[2 + 2 * j] = share_rows[j]
        std_c[3 + 2 * j] = -share_rows[j]
    standardised, std_se, _ = contrast(std_c, theta, cov)
    share, kind = _simpson_flag(pooled, diffs, np.where(both, n_a + n_b, 0))

    keys = pd.DataFrame(list(uniques), columns=by_cols) if h else pd.DataFrame(columns=by_cols)
    strata_tab = keys.assign(
        level="stratum",
        n_a=n_a.astype(np.int64),
        n_b=n_b.astype(np.int64),
        estimate_a=np.where(n_a > 0, theta[2::2], np.nan),
        estimate_b=np.where(n_b > 0, theta[3::2], np.nan),
        difference=diffs,
        se=ses,
    )
    head = pd.DataFrame(
        {
            "level": ["pooled", "standardised"],
            "n_a": [int(counts[0])] * 2,
            "n_b": [int(counts[1])] * 2,
            "estimate_a": [theta[0], np.nan],
            "estimate_b": [theta[1], np.nan],
            "difference": [pooled, standardised],
            "se": [pooled_se, std_se],
        }
    )
    for col in by_cols:
        head[col] = "(all)"
    table = pd.concat([head, strata_tab], ignore_index=True)
    table = table[["level", *by_cols, "n_a", "n_b", "estimate_a", "estimate_b", "difference", "se"]]
    table["ci_low"] = table["difference"] - z * table["se"]
    table["ci_high"] = table["difference"] + z * table["se"]
    table["opposite_sign"] = np.sign(table["difference"]) == -np.sign(pooled)
    table.loc[table["level"] != "stratum", "opposite_sign"] = False
    table["level"] = table["level"].astype("str")
    table.attrs["n_excluded_missing"] = n_missing
    return SimpsonCheck(
        table=table,
        pooled=pooled,
        standardised=standardised,
        share_opposite=share,
        kind=kind,
        levels=(a_lev, b_lev),
    )


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True, eq=False, repr=False)
class SiloComparison(DisplayMixin):
    """Siloed vs unified estimates of one measure, their gap and its decomposition.

    Attributes
    ----------
    measure, group : str
        What was measured and for whom (``"all"`` or a role).
    estimates : pandas.DataFrame
        One row per estimator of :data:`ESTIMATORS`: ``estimator``, ``description``,
        ``n_responses``, ``n_units`` (silo records for ``siloed``, persons
        otherwise), ``n_persons`` (resolved persons behind them), ``estimate``,
        ``se`` (person-clustered), ``ci_low``, ``ci_high`` and, with a bootstrap,
        ``se_bootstrap``.
    difference : pandas.DataFrame
        One row: ``siloed``, ``unified``, ``difference`` (siloed - unified), ``se``
        (person-clustered, accounting for the same people in both), ``ci_low``,
        ``ci_high``, ``z``, ``p_value``, ``se_independent`` (what treating the two
        as independent samples would give) and, with a bootstrap, ``se_bootstrap``.
    decomposition : pandas.DataFrame
        ``component`` (:data:`COMPONENTS`, then ``total``), ``from_estimator``,
        ``to_estimator``, ``contribution`` (from - to: how much this step moves the
        siloed figure away from the unified one), ``se``, ``ci_low``, ``ci_high``,
        ``share_of_gap`` and, with a bootstrap, ``se_bootstrap``. The
        contributions add up exactly to the total gap.
    strata : pandas.DataFrame
        The pooled comparison next to the stratified one: ``level`` (``pooled`` or
        ``stratum``), ``roles`` (held at response time, ``unattributed`` for rows
        the registry cannot place), ``hybrid_type``, ``n_siloed`` and ``n_unified``
        (responses), ``siloed``, ``unified``, ``difference``, ``se``, ``ci_low``,
        ``ci_high``, ``opposite_sign``.
    simpson : dict
        ``kind`` (``none``, ``majority``, ``all``) and ``share_opposite``: whether the
        pooled gap points the other way from the strata (see
        :func:`pooled_vs_stratified`).
    overlap : pandas.DataFrame
        Silo x silo counts of respondents (resolved persons; ids the registry cannot
        link count as their own person): the diagonal is the persons who answered in
        that silo, off-diagonal those who answered in both.
    exclusions : pandas.DataFrame
        ``reason``, ``n`` (response rows), ``excluded_from`` (the estimators that do
        not use them): nothing is dropped silently.
    confidence : float
        Interval level.
    """

    measure: str
    group: str
    estimates: pd.DataFrame
    difference: pd.DataFrame
    decomposition: pd.DataFrame
    strata: pd.DataFrame
    simpson: Mapping[str, Any]
    overlap: pd.DataFrame
    exclusions: pd.DataFrame
    confidence: float
    unit: str = ""

    def summary(self) -> pd.DataFrame:
        """The four estimates and the gap components in one table."""
        est = self.estimates[["estimator", "estimate", "se", "ci_low", "ci_high"]].rename(
            columns={"estimator": "row"}
        )
        dec = self.decomposition[["component", "contribution", "se", "ci_low", "ci_high"]]
        dec = dec.rename(columns={"component": "row", "contribution": "estimate"})
        out = pd.concat([est, dec], ignore_index=True)
        out["row"] = out["row"].astype("str")
        return out

    def plot(self, ax: Axes | None = None) -> Axes:
        """Waterfall from the siloed to the unified estimate (see :func:`plot_decomposition`)."""
        return plot_decomposition(self, ax=ax)

    def _display_title(self) -> str:
        return f"Siloed vs unified {self.measure} (group {self.group!r})"

    def _display_notes(self) -> Sequence[str]:
        d = self.difference.iloc[0]
        notes = [
            f"gap siloed - unified = {d['difference']:.2f} (se {d['se']:.2f}, "
            f"p = {d['p_value']:.3g}; same persons in both, clustered by person)"
        ]
        if self.simpson.get("kind", "none") != "none":
            notes.append(
                "Simpson check: the pooled gap points the other way from "
                f"{self.simpson['kind']} strata; read the stratified table"
            )
        excluded = self.exclusions[self.exclusions["n"] > 0]
        for row in excluded.itertuples(index=False):
            notes.append(f"{row.n} response(s) {row.reason}: not in {row.excluded_from}")
        return notes


def siloed_vs_unified(
    registry: StakeholderRegistry,
    responses: pd.DataFrame,
    *,
    measure: str = "nps",
    group: str = "all",
    instrument: str | None = None,
    item: str | None = None,
    box: Sequence[float] | None = None,
    confidence: float = 0.95,
    n_bootstrap: int = 0,
    random_state: int | np.random.Generator | None = None,
) -> SiloComparison:
    """Compute a measure the siloed way and the unified way, with their gap explained.

    Four estimators form a chain; each changes one thing, so the gap between the
    first (what departments report) and the last (the unified view) splits exactly
    into three components. Every estimator averages the responses' values with
    vote weights ``a_r`` (one vote per unit, split equally over the silos the unit
    answered in and then over its responses in a silo):

    ``siloed``
        The responses recorded by the group's silo (all three silos for
        ``group="all"``, concatenated as departments pool them). A unit is a silo
        record ``(silo, source_id)``: a hybrid who answered two silos' surveys is two
        people, and so is a re-hire with a new worker id. Every recorded response
        counts, whether or not the registry can place it.
    ``deduplicated``
        The same responses; a unit is a resolved person, so a hybrid's vote is split
        between the silos they answered in instead of counted once per silo.
        ``siloed - deduplicated`` is the **double counting** component.
    ``attributed``
        Only the responses given while the person held the group's role (any role
        for ``"all"``), found by :meth:`StakeholderRegistry.attribute` as of the
        response time. Responses from unknown ids, outside every episode, or
        recorded by the silo although the role was no longer (or not yet) held
        leave. ``deduplicated - attributed`` is the **role attribution** component.
    ``unified``
        All responses given while the person held the group's role, whichever silo
        recorded them: a worker who is also a customer at the time of an eNPS answer
        is part of the customer group's experience too. ``attributed - unified`` is
        the **hybrid experience** component (zero for ``group="all"``, where every
        silo is already in).

    The gap ``siloed - unified`` is the sum of the three components. A sequential
    decomposition depends on the order of the steps; the order above is fixed and
    documented (in ``docs/compare.md``).

    Standard errors are person-clustered: each estimator is linearised into
    per-person influence contributions and the covariance of all four comes from
    the same persons' contributions (a stacked estimating-equation sandwich), so a
    difference between two of them, computed on overlapping people, gets the right
    variance. ``n_bootstrap`` adds a person-level bootstrap (persons resampled with
    replacement, every estimator recomputed) as a check.

    Parameters
    ----------
    registry : StakeholderRegistry
        The unified stakeholder model (identity resolution and role episodes).
    responses : pandas.DataFrame
        Long survey responses per the table contract (``response_id, silo,
        source_id, instrument, item, score, timestamp``).
    measure : {"nps", "csat", "ces", "mean"}, default "nps"
        ``nps``: likelihood to recommend (0-10) as +100/0/-100; ``csat``: share
        in ``box`` (default 4-5 of 1-5) in %; ``ces``: mean effort score (1-7, 7 =
        easiest, CES 2.0); ``mean``: mean of any item (give ``instrument``, ``item``).
    group : {"all", "customer", "worker", "partner"}, default "all"
        Whose experience: everyone, or the holders of one role.
    instrument, item : str, optional
        Override the measure's default instrument/item (``nps``/``ltr``,
        ``csat``/``overall``, ``ces``/``effort``).
    box : sequence of float, optional
        Scale points counted as satisfied for ``csat``.
    confidence : float, default 0.95
        Level of the Wald intervals.
    n_bootstrap : int, default 0
        Person-level bootstrap resamples (0: none; 1000 or more for a check).
    random_state : int or numpy.random.Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    SiloComparison
        ``estimates``, ``difference``, ``decomposition``, ``strata`` (pooled next to
        stratified by roles at response time x hybrid type), ``simpson``,
        ``overlap`` and ``exclusions``.

    References
    ----------
    Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review.
    Bickel, P. J., Hammel, E. A. & O'Connell, J. W. (1975). Sex bias in graduate
    admissions: data from Berkeley. Science 187(4175), 398-404.
    Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. Journal of Human Resources 50(2), 317-372.

    Examples
    --------
    One person is a customer and, from 2021, also a worker; they answered both
    surveys. A second person is a pure customer.

    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import StakeholderRegistry
    >>> day = pd.to_datetime
    >>> customers = pd.DataFrame({"customer_id": ["c1", "c2"], "email": ["a@x", "b@x"],
    ...     "start": day(["2020-01-01", "2020-01-01"]), "end": [None, None],
    ...     "engagement": ["consumer", "consumer"]})
    >>> workers = pd.DataFrame({"worker_id": ["w1"], "email": ["a@x"],
    ...     "start": day(["2021-01-01"]), "end": [None], "engagement": ["full_time"]})
    >>> reg = StakeholderRegistry.from_rosters(customers=customers, workers=workers,
    ...                                        keys=["email"])
    >>> responses = pd.DataFrame({"response_id": ["r1", "r2", "r3"],
    ...     "silo": ["customers", "workers", "customers"], "source_id": ["c1", "w1", "c2"],
    ...     "instrument": "nps", "item": "ltr", "score": [10, 10, 0],
    ...     "timestamp": day(["2022-01-01", "2022-02-01", "2022-03-01"])})
    >>> res = siloed_vs_unified(reg, responses)
    >>> res.estimates[["estimator", "n_units", "estimate"]].round(2)
          estimator  n_units  estimate
    0        siloed        3     33.33
    1  deduplicated        2      0.00
    2    attributed        2      0.00
    3       unified        2      0.00
    >>> float(res.difference["difference"].iloc[0].round(2))
    33.33
    """
    confidence = check_confidence(confidence)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer):
        raise ParameterError(f"n_bootstrap must be a whole number (0 = none); got {n_bootstrap!r}.")
    if n_bootstrap != 0 and n_bootstrap < 100:
        raise ParameterError(f"n_bootstrap must be 0 or at least 100; got {n_bootstrap}.")
    design = build_design(
        registry, responses, measure=measure, group=group, instrument=instrument, item=item, box=box
    )
    return _compare(design, confidence=confidence, n_bootstrap=int(n_bootstrap), rng=random_state)


def _compare(
    design: _Design,
    *,
    confidence: float,
    n_bootstrap: int,
    rng: int | np.random.Generator | None,
) -> SiloComparison:
    z = z_critical(confidence)
    t_tot, n_tot = design.totals()
    theta, cov = ratio_covariance(t_tot, n_tot)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))  # NaN stays NaN
    boot = None
    if n_bootstrap:
        boot = bootstrap_estimates(
            t_tot, n_tot, n_resamples=n_bootstrap, rng=np.random.default_rng(rng)
        )
    w = design.weights
    used = w > 0
    n_units = [_n_distinct(design.record[used[:, 0]])] + [
        _n_distinct(design.cluster[used[:, k]]) for k in range(1, 4)
    ]
    estimates = pd.DataFrame(
        {
            "estimator": pd.Series(ESTIMATORS, dtype="str"),
            "description": pd.Series([_DESCRIPTIONS[e] for e in ESTIMATORS], dtype="str"),
            "n_responses": used.sum(axis=0).astype(np.int64),
            "n_units": np.asarray(n_units, dtype=np.int64),
            "n_persons": np.array(
                [_n_distinct(design.cluster[used[:, k]]) for k in range(4)], dtype=np.int64
            ),
            "estimate": theta,
            "se": se,
        }
    )
    estimates["ci_low"], estimates["ci_high"] = _clipped(theta, se, z, design.measure.bounds)
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

    strata, simpson = _strata(design, theta, gap_se, z)
    return SiloComparison(
        measure=design.measure.name,
        group=design.group,
        estimates=estimates,
        difference=difference,
        decomposition=decomposition,
        strata=strata,
        simpson=simpson,
        overlap=_overlap(design),
        exclusions=design.exclusions,
        confidence=confidence,
        unit=design.measure.unit,
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
    design: _Design, theta: np.ndarray, pooled_se: float, z: float
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Siloed and unified within each (roles at response time, hybrid type) stratum."""
    role_code, role_names = pd.factorize(design.roles)
    hybrid_code, hybrid_names = pd.factorize(design.hybrid_type)
    codes, combos = pd.factorize(role_code.astype(np.int64) * len(hybrid_names) + hybrid_code)
    h = len(combos)
    w = design.weights[:, [0, 3]]
    # Per (cluster, stratum) pair, in cluster order: the same sums as a clusters x
    # (2 strata) table (each pair's rows added in row order; each stratum's pairs in
    # cluster order, where the table's other clusters only add zeros), without the
    # dense table, which has millions of rows times twice the number of strata.
    pair_of_row = design.cluster.astype(np.int64) * h + codes
    pairs, pair = np.unique(pair_of_row, return_inverse=True)
    stratum = pairs % h
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
    share, kind = _simpson_flag(pooled, diff, np.where(both, n_s + n_u, 0))
    keys_u = pd.DataFrame(
        {
            "roles": role_names[combos // len(hybrid_names)],
            "hybrid_type": hybrid_names[combos % len(hybrid_names)],
        }
    )
    tab = keys_u.assign(
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


def _overlap(design: _Design) -> pd.DataFrame:
    used = (design.weights > 0).any(axis=1)
    silo_code = design.silo_code[used]
    ind = np.zeros((design.n_clusters, len(SILOS)), dtype=np.int64)
    ind[design.cluster[used], silo_code] = 1
    counts = ind.T @ ind
    index = pd.Index(list(SILOS), dtype="str")
    return pd.DataFrame(counts, index=index, columns=index)


# --------------------------------------------------------------------------- plot


def plot_decomposition(result: SiloComparison, ax: Axes | None = None) -> Axes:
    """Waterfall from the siloed estimate through the three components to the unified one.

    Bars for the siloed and unified estimates, floating steps for the components
    (each step is ``-contribution``: the move from one estimator to the next), and
    person-clustered intervals as error bars.

    Parameters
    ----------
    result : SiloComparison
        What :func:`siloed_vs_unified` returned.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(result, SiloComparison):
        raise ParameterError(
            f"plot_decomposition needs a SiloComparison; got {type(result).__name__}."
        )
    import matplotlib.pyplot as plt

    from hxmetrics.plotting import PALETTE

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    est = result.estimates.set_index("estimator")
    dec = result.decomposition.set_index("component")
    value = est["estimate"].astype(float).to_dict()
    value_se = est["se"].astype(float).to_dict()
    step_se = dec["se"].astype(float).to_dict()
    steps = (-dec["contribution"].astype(float)).to_dict()
    z = z_critical(result.confidence)
    labels = ["siloed", *[c.replace("_", "\n") for c in COMPONENTS], "unified"]
    level = value["siloed"]
    x = np.arange(len(labels))
    ax.bar(0, level, color=PALETTE[0], width=0.6)
    ax.errorbar(0, level, yerr=z * value_se["siloed"], color="black", capsize=3)
    for i, comp in enumerate(COMPONENTS, start=1):
        step = steps[comp]
        color = PALETTE[2] if step >= 0 else PALETTE[1]
        ax.bar(i, step, bottom=level, color=color, width=0.6)
        ax.errorbar(i, level + step, yerr=z * step_se[comp], color="black", capsize=3)
        level += step
    last = len(labels) - 1
    ax.bar(last, value["unified"], color=PALETTE[0], width=0.6)
    ax.errorbar(last, value["unified"], yerr=z * value_se["unified"], color="black", capsize=3)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x, labels)
    unit = f" ({result.unit})" if result.unit else ""
    ax.set_ylabel(f"{result.measure}{unit}")
    ax.set_title(f"Siloed to unified {result.measure}, group {result.group!r}")
    return ax
