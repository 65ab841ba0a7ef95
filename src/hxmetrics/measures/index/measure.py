"""The HX index as a grouped measure: :func:`hx_index` (the result of :class:`HXIndex`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from hxmetrics._compat import renamed
from hxmetrics.measures.index.model import HXIndex
from hxmetrics.measures.index.options import RandomState, Scale, Weighting

__all__ = ["hx_index"]


@renamed(group="by", n_boot="n_resamples")
def hx_index(
    data: Any,
    items: Sequence[str],
    *,
    by: str | Sequence[str],
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
    n_resamples: int = 1000,
    confidence: float = 0.95,
    min_n: int | None = 10,
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
        Rows of other items are ignored and counted in ``n_excluded_other_items``.
    by : str or list of str
        Column(s) naming the stakeholder group of each answer (``group=`` is the
        deprecated old name).
    person : str, optional
        Column identifying the person; the bootstrap resamples persons, keeping all
        their answers together. ``None`` treats each response as its own person.
        A group of more than ``hxmetrics.measures.index.prepare.BOOTSTRAP_BUCKETS``
        (4096) persons is split into that many random buckets of whole persons, and
        its bootstrap resamples the buckets (a cluster bootstrap; Wolter 2007, ch. 2);
        a note says which. Smaller groups are resampled person by person.
    weights : str, optional
        Column of positive survey weights (per answer). Unit weights give the
        unweighted result.
    weighting : {"equal", "factor"} or dict, default "equal"
        Item weights: equal; ``"factor"``, squared loadings of a one-factor
        principal-axis model of the pooled complete responses scaled to unit sum
        (OECD/JRC 2008, section 6.1); or a budget allocation ``{item: points}``
        rescaled to sum to 1 (a note says so in ``attrs["hxmetrics"]["notes"]``).
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
    n_resamples : int, default 1000
        Bootstrap replicates; 0 skips the intervals (``n_boot=`` is the deprecated
        old name). On a lazy engine (Polars lazy, DuckDB, Spark) only sums per
        (group, person or bucket, item) come back, at most groups x 4096 x items rows
        (per group and item with 0), and the intervals are the same on every engine
        for the same ``random_state`` (bit for bit when every weighted score is a whole
        number; with fractional survey weights the engines' sums of a bucket may
        differ in the last bits).
    confidence : float, default 0.95
        Level of the percentile intervals.
    min_n : int or None, default 10
        Groups with fewer persons (and the neighbours that would give them back) are
        reported with ``suppressed=True`` and every number hidden (``n`` too), and take
        no part in pooled normalisations. None: no suppression.
    random_state : int, Generator or None
        Seed; the same seed gives the same intervals. Each group's resamples are
        keyed by its label, so they do not change when other groups are added.

    Returns
    -------
    pandas.DataFrame
        The grouped result protocol (:func:`~hxmetrics.measures._result.grouped_result`):
        ``measure`` ("hx_index"), the group columns, ``n`` (persons, Int64),
        ``estimate`` (the index), ``se``, ``ci_low``, ``ci_high``, ``n_responses``
        (the module columns when ``modules`` is given), ``n_excluded_other_items``,
        ``n_excluded_missing_score`` and ``suppressed``. ``attrs["hxmetrics"]`` holds
        ``weights`` (item -> weight), ``normalise``, ``aggregate``, ``scale``,
        ``alpha`` (Cronbach's alpha of the pooled core items), ``excluded`` (rows
        left out and why, ``missing_group`` included) and ``notes``.
        ``compare_groups`` and ``plot_estimates`` take it as it is.

    Warns
    -----
    HxWarning
        When the core items hardly measure one thing: Cronbach's alpha of the pooled
        complete responses clearly below :data:`~hxmetrics.measures.index.MIN_ALPHA`
        (see :mod:`~hxmetrics.measures.index.consistency`).

    References
    ----------
    Wolter, K. M. (2007). Introduction to Variance Estimation, 2nd ed. New York:
    Springer. Chapter 2 (the random group method: the buckets above 4096 persons).

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
    >>> out = hx_index(wide, ["hx1", "hx2"], by="team", min_n=1, n_resamples=200,
    ...                random_state=0)
    >>> out[["team", "n", "estimate"]]
      team  n  estimate
    0    a  2     81.25
    1    b  2     31.25
    """
    model = HXIndex(
        items,
        weighting=weighting,
        normalise=normalise,
        aggregate=aggregate,
        scale=scale,
        shift=shift,
        reference=reference,
        modules=modules,
        module_share=module_share,
        n_resamples=n_resamples,
        confidence=confidence,
        min_n=min_n,
        random_state=random_state,
    )
    # The warning points at the caller: _fit -> hx_index -> the alias wrapper -> caller.
    fitted = model._fit(
        data, by=by, person=person, weights=weights, response=response, stacklevel=4
    )
    return fitted._fitted()
