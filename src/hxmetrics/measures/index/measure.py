"""The HX index as a grouped measure: :func:`hx_index`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.measures.index.bootstrap import (
    _group_rngs,
    _resampled_sums,
    _summarise_reps,
)
from hxmetrics.measures.index.group_modules import (
    _add_modules,
    _check_modules,
)
from hxmetrics.measures.index.options import (
    RandomState,
    Scale,
    Weighting,
    _as_list,
    _check_common,
    _check_items,
    _seed,
)
from hxmetrics.measures.index.prepare import _prepare
from hxmetrics.measures.index.scoring import (
    _check_point,
    _hidden,
    _index_from_sums,
    _missing_item_notes,
    _reference_index,
    _Spec,
)
from hxmetrics.measures.index.weights import _resolve_weights
from hxmetrics.measures.privacy import suppress


def hx_index(
    data: Any,
    items: Sequence[str],
    *,
    group: str | Sequence[str],
    person: str | None = None,
    weights: str | None = None,
    weighting: Weighting = "equal",
    normalise: str = "minmax",
    aggregate: Literal["linear", "geometric"] = "linear",
    scale: Scale = (1, 5),
    shift: float = 1.0,
    reference: Hashable | None = None,
    modules: Mapping[Hashable, Sequence[str]] | None = None,
    module_share: float | None = None,
    response: str = "response_id",
    n_boot: int = 1000,
    confidence: float = 0.95,
    min_n: int = 10,
    random_state: RandomState = None,
) -> pd.DataFrame:
    """Cross-group HX index on a fixed 0-100 scale, with person-clustered intervals.

    Parameters
    ----------
    data : DataFrame
        Long survey responses (one row per ``response_id`` x ``item`` with a
        ``score`` column), or wide (one row per response, one column per item; used
        when the frame has no ``item``/``score`` columns). Any frame narwhals
        accepts (pandas, Polars, DuckDB, ...).
    items : list of str
        The common core: items every group answers (e.g. ``hx1`` .. ``hx6``).
        Rows of other items are ignored and counted in ``attrs["excluded"]``.
    group : str or list of str
        Column(s) naming the stakeholder group of each answer.
    person : str, optional
        Column identifying the person; the bootstrap resamples persons, keeping all
        their answers together. ``None`` treats each response as its own person.
    weights : str, optional
        Column of positive survey weights (per answer). Unit weights give the
        unweighted result.
    weighting : {"equal", "factor"} or dict, default "equal"
        Item weights: equal; ``"factor"``, squared loadings of a one-factor
        principal-axis model of the pooled complete responses scaled to unit sum
        (OECD/JRC 2008, section 6.1); or a budget allocation ``{item: points}``
        rescaled to sum to 1 (a note says so in ``attrs["notes"]``).
    normalise : str, default "minmax"
        ``"minmax"``: ``100 * (mean - low) / (high - low)`` on the fixed ``scale``;
        the only choice under which a group's index ignores the other groups.
        Pooled alternatives (never within-group): ``"pooled_minmax"`` (goalposts =
        lowest and highest group mean), ``"pooled_zscore"`` (``50 + 10 z`` with the
        mean and SD of all answers pooled; unbounded), ``"rank"`` (rank of the group
        on the item, 0 = lowest, 100 = highest) and ``"distance_to_reference"``
        (``100 x`` ratio of the fixed-scale position to that of ``reference``, the
        pooled mean by default; 100 = at par, unbounded above). Pooled methods use
        the reported (not suppressed) groups; an item on which all groups tie scores
        50.
    aggregate : {"linear", "geometric"}, default "linear"
        Weighted arithmetic mean, or weighted geometric mean of ``x + shift`` minus
        ``shift``. The geometric mean never exceeds the arithmetic one (AM-GM) and
        penalises unbalanced profiles.
    scale : (low, high) or dict, default (1, 5)
        The instrument's fixed scale, or one ``(low, high)`` per item. Scores outside
        it are an error.
    shift : float, default 1.0
        Index points added before and removed after the geometric mean, so that an
        item at the bottom of the scale (0) does not zero the composite. ``0`` gives
        the plain weighted geometric mean (then every indicator must be > 0).
    reference : group label, optional
        Reference group for ``"distance_to_reference"`` (a tuple for several group
        columns). ``None``: the pooled mean of all reported groups.
    modules : dict, optional
        Group-specific items ``{group label: [items]}`` answered by that group only.
        Adds ``module_index`` (equal weights, fixed-scale min-max, same aggregation)
        and ``extended_index`` (core and module combined with weights
        ``1 - module_share`` and ``module_share``) with their intervals. Only the core
        ``hx_index`` is comparable across groups.
    module_share : float, optional
        Weight of the module in ``extended_index``; default: the module's share of
        the items (``n_module / (n_core + n_module)``).
    response : str, default "response_id"
        Response id column (optional for wide data).
    n_boot : int, default 1000
        Bootstrap replicates; 0 skips the intervals.
    confidence : float, default 0.95
        Level of the percentile intervals.
    min_n : int, default 10
        Groups with fewer persons are reported with ``suppressed=True`` and NaN
        estimates, and take no part in pooled normalisations.
    random_state : int, Generator or None
        Seed; the same seed gives the same intervals. Each group's resamples are
        keyed by its label, so they do not change when other groups are added.

    Returns
    -------
    pandas.DataFrame
        One row per group: the group columns, ``n`` (persons), ``n_responses``,
        ``hx_index``, ``se``, ``ci_low``, ``ci_high``, ``suppressed`` (and the module
        columns when ``modules`` is given). ``attrs`` holds ``weights`` (item ->
        weight), ``normalise``, ``aggregate``, ``excluded`` (rows left out and why)
        and ``notes``.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and
    User Guide. Paris: OECD. Sections 5 (normalisation), 6 (weighting and
    aggregation), 7 (uncertainty and sensitivity analysis).

    UNDP (2020). Human Development Report 2020, Technical notes: fixed goalposts and
    the geometric mean of dimension indices.

    Examples
    --------
    Wide data, two teams, two items on 1-5. Team a: item means 4.5 and 4.0, i.e.
    87.5 and 75 on 0-100, index 81.25; team b: 2.5 and 2.0, index 31.25.

    >>> import pandas as pd
    >>> from hxmetrics.measures.index import hx_index
    >>> wide = pd.DataFrame({"team": ["a", "a", "b", "b"],
    ...                      "hx1": [5, 4, 2, 3], "hx2": [4, 4, 3, 1]})
    >>> out = hx_index(wide, ["hx1", "hx2"], group="team", min_n=1, n_boot=200,
    ...                random_state=0)
    >>> out[["team", "n", "hx_index"]]
      team  n  hx_index
    0    a  2     81.25
    1    b  2     31.25
    """
    items = _check_items(items)
    group_cols = _as_list(group)
    _check_common(normalise, aggregate, shift, min_n)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ParameterError(f"n_boot must be a non-negative integer; got {n_boot!r}.")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be between 0 and 1; got {confidence!r}.")
    module_map = _check_modules(modules, items)
    module_items = list(dict.fromkeys(i for its in module_map.values() for i in its))
    need_matrix = isinstance(weighting, str) and weighting == "factor"
    d = _prepare(
        data,
        items,
        group_cols=group_cols,
        person=person,
        weights=weights,
        response=response,
        scale=scale,
        module_items=module_items,
        need_matrix=need_matrix,
    )
    item_w, _, _, notes = _resolve_weights(weighting, items, d.matrix)
    spec = _Spec(normalise, aggregate, float(shift), _reference_index(reference, d))
    active = ~_hidden(d, min_n)
    if spec.reference is not None and not active[spec.reference]:
        raise ParameterError(
            f"reference group {reference!r} is suppressed: it has fewer than min_n={min_n} "
            "persons, or hiding a smaller group required hiding it too."
        )
    notes = notes + _missing_item_notes(d, active)

    sums = d.group_sums()
    point = _index_from_sums(*sums, data=d, active=active, spec=spec, weights=item_w)
    _check_point(point, d, active, spec)

    g_count = d.n_groups
    se = lo = hi = np.full(g_count, np.nan)
    reps = None
    if n_boot > 0:
        rngs = _group_rngs(_seed(random_state), d.key_tuples())
        reps_sums = _resampled_sums(d, rngs, n_boot)
        reps = _index_from_sums(*reps_sums, data=d, active=active, spec=spec, weights=item_w)
        se, lo, hi = _summarise_reps(reps, confidence)
        failed = int(
            (~np.isfinite(reps[:, active])).sum() - n_boot * (~np.isfinite(point[active])).sum()
        )
        if failed > 0:
            notes.append(
                f"{failed} bootstrap replicate(s) gave an undefined index and were left out."
            )

    out = d.keys.copy()
    out["n"] = d.n_persons
    out["n_responses"] = d.n_responses
    out["hx_index"] = point
    out["se"] = se
    out["ci_low"] = lo
    out["ci_high"] = hi
    if module_map:
        _add_modules(
            out,
            d,
            module_map,
            module_share,
            spec,
            reps_sums if n_boot > 0 else None,
            reps,
            confidence,
            notes,
        )
    # One disclosure rule for every measure: n and counts of a hidden group are hidden
    # too, and so is a neighbour whenever the total would give the hidden group back.
    out = suppress(out, min_n=min_n, by=group_cols)
    out.attrs = {
        "weights": dict(zip(items, item_w.tolist(), strict=True)),
        "normalise": normalise,
        "aggregate": aggregate,
        "shift": float(shift),
        "scale": {i: (float(a), float(b)) for i, a, b in zip(d.items, d.low, d.high, strict=True)},
        "n_boot": int(n_boot),
        "confidence": float(confidence),
        "min_n": int(min_n),
        "excluded": d.excluded,
        "notes": notes,
    }
    return out
