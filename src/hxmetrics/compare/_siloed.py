"""Siloed vs unified measurement of one measure for one role: the public entry point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hxmetrics._compat import renamed
from hxmetrics.compare._design import check_n_resamples, prepare_silos
from hxmetrics.compare._names import as_role
from hxmetrics.compare._results import SiloComparison
from hxmetrics.measures._inference import check_confidence

if TYPE_CHECKING:
    from hxmetrics.stakeholders import StakeholderRegistry

__all__ = ["siloed_vs_unified"]


@renamed(group="role", n_bootstrap="n_resamples")
def siloed_vs_unified(
    registry: StakeholderRegistry,
    responses: Any,
    *,
    measure: str = "nps",
    role: str = "all",
    instrument: str | None = None,
    item: str | None = None,
    box: Sequence[float] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 0,
    random_state: int | np.random.Generator | None = None,
) -> SiloComparison:
    """Compute a measure the siloed way and the unified way, with their gap explained.

    Four estimators form a chain; each changes one thing, so the gap between the
    first (what departments report) and the last (the unified view) splits exactly
    into three components. Every estimator averages the responses' values with
    vote weights ``a_r`` (one vote per unit, split equally over the silos the unit
    answered in and then over its responses in a silo):

    ``siloed``
        The responses recorded by the role's silo (all three silos for
        ``role="all"``, concatenated as departments pool them). A unit is a silo
        record ``(silo, source_id)``: a hybrid who answered two silos' surveys is two
        people, and so is a re-hire with a new worker id. Every recorded response
        counts, whether or not the registry can place it.
    ``deduplicated``
        The same responses; a unit is a resolved person, so a hybrid's vote is split
        between the silos they answered in instead of counted once per silo.
        ``siloed - deduplicated`` is the **double counting** component.
    ``attributed``
        Only the responses given while the person held the role (any role
        for ``"all"``), found by :meth:`StakeholderRegistry.attribute` as of the
        response time. Responses from unknown ids, outside every episode, or
        recorded by the silo although the role was no longer (or not yet) held
        leave. ``deduplicated - attributed`` is the **role attribution** component.
    ``unified``
        All responses given while the person held the role, whichever silo
        recorded them: a worker who is also a customer at the time of an eNPS answer
        is part of the customers' experience too. ``attributed - unified`` is
        the **hybrid experience** component (zero for ``role="all"``, where every
        silo is already in).

    The gap ``siloed - unified`` is the sum of the three components. A sequential
    decomposition depends on the order of the steps; the order above is fixed and
    documented (in ``docs/compare.md``).

    Standard errors are person-clustered: each estimator is linearised into
    per-person influence contributions and the covariance of all four comes from
    the same persons' contributions (a stacked estimating-equation sandwich), so a
    difference between two of them, computed on overlapping people, gets the right
    variance. ``n_resamples`` adds a person-level bootstrap (persons resampled with
    replacement, every estimator recomputed) as a check.

    Parameters
    ----------
    registry : StakeholderRegistry
        The unified stakeholder model (identity resolution and role episodes).
    responses : DataFrame
        Long survey responses per the table contract (``response_id, silo,
        source_id, instrument, item, score, timestamp``); pandas or any eager frame
        narwhals accepts.
    measure : {"nps", "csat", "ces", "mean"}, default "nps"
        ``nps``: likelihood to recommend (0-10) as +100/0/-100; ``csat``: share
        in ``box`` (default 4-5 of 1-5) in %; ``ces``: mean effort score (1-7, 7 =
        easiest, CES 2.0); ``mean``: mean of any item (give ``instrument``, ``item``).
    role : {"all", "customer", "worker", "partner"}, default "all"
        Whose experience: everyone, or the holders of one role. A silo's (plural)
        name, ``"workers"``, reads as its role. Formerly ``group`` (deprecated).
    instrument, item : str, optional
        Override the measure's default instrument/item (``nps``/``ltr``,
        ``csat``/``overall``, ``ces``/``effort``).
    box : sequence of float, optional
        Scale points counted as satisfied for ``csat``.
    confidence : float, default 0.95
        Level of the Wald intervals.
    n_resamples : int, default 0
        Person-level bootstrap resamples (0: none; 1000 or more for a check).
        Formerly ``n_bootstrap`` (deprecated).
    random_state : int or numpy.random.Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    SiloComparison
        ``estimates``, ``difference``, ``decomposition``, ``strata`` (pooled next to
        stratified by roles at response time x hybrid type), ``simpson``,
        ``overlap`` and ``exclusions``.

    See Also
    --------
    prepare_silos : the role-independent work once, for several roles of the same
        responses (``prepare_silos(...).compare(role=...)`` gives the same result).

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
    n_resamples = check_n_resamples(n_resamples)
    role = as_role(role)
    design = prepare_silos(
        registry, responses, measure=measure, instrument=instrument, item=item, box=box
    )
    return design.compare(
        role=role, confidence=confidence, n_resamples=n_resamples, random_state=random_state
    )
