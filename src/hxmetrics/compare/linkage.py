"""How much the unified estimate rests on the identity-linkage threshold.

A probabilistic registry (``StakeholderRegistry.from_rosters(...,
method="probabilistic")``) links two records when the linkage model scores them at or
above a threshold. A lower threshold merges more records into fewer persons (more
hybrids, less double counting), a higher one the reverse, and the unified estimate of
:func:`~hxmetrics.compare.siloed_vs_unified` moves with it.
:func:`linkage_sensitivity` recomputes the comparison at several thresholds, with the
registry's fitted model (never fitted again: the pairs are scored once and re-cut at
each threshold), so that a researcher sees how far the unified number moves and how
many persons each threshold makes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.compare._design import prepare_silos
from hxmetrics.compare._names import ESTIMATORS
from hxmetrics.compare._siloed import siloed_vs_unified
from hxmetrics.errors import ParameterError
from hxmetrics.measures._result import grouped_result
from hxmetrics.stakeholders.registry import StakeholderRegistry
from hxmetrics.tables import as_pandas

__all__ = ["DEFAULT_THRESHOLDS", "linkage_sensitivity"]

#: Thresholds of :func:`linkage_sensitivity` when none are given.
DEFAULT_THRESHOLDS = (0.8, 0.9, 0.95, 0.99)


def linkage_sensitivity(
    registry: StakeholderRegistry,
    responses: Any,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    measure: str = "nps",
    role: str = "all",
    instrument: str | None = None,
    item: str | None = None,
    box: Sequence[float] | None = None,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """The unified estimate and the number of persons at each linkage threshold.

    For each threshold, the registry's rosters are linked again with its fitted
    linkage model (:meth:`StakeholderRegistry.relink`: the same model, keys, conflict
    rules and secret; the pairs are scored once for all thresholds, the model is not
    fitted again) and :func:`~hxmetrics.compare.siloed_vs_unified` is computed on the
    result. A higher threshold links fewer pairs: more persons, fewer hybrids.

    Parameters
    ----------
    registry : StakeholderRegistry
        Built by ``StakeholderRegistry.from_rosters(..., method="probabilistic")``.
    responses : DataFrame
        Long survey responses, as for :func:`~hxmetrics.compare.siloed_vs_unified`
        (pandas or any eager frame narwhals reads; converted to pandas there).
    thresholds : sequence of float, default (0.8, 0.9, 0.95, 0.99)
        Match probabilities in (0, 1], distinct; the rows come in increasing order.
    measure, role, instrument, item, box, confidence
        As for :func:`~hxmetrics.compare.siloed_vs_unified`.
    min_n : int, optional
        Smallest number of responses shown (see :func:`hxmetrics.privacy.suppress`).

    Returns
    -------
    pandas.DataFrame
        A grouped result (``measure``, ``threshold``, ``n`` = responses in the
        unified estimate, ``estimate`` = the unified estimate, ``se``
        (person-clustered), ``ci_low``, ``ci_high``), then ``n_links`` (model links
        made), ``n_persons`` (persons in the registry), ``n_persons_multi_silo``
        (persons with records in more than one silo), ``n_persons_uncertain``
        (:meth:`StakeholderRegistry.uncertain_persons`), ``n_respondents`` (persons
        behind the unified estimate), ``n_respondents_uncertain`` and
        ``n_responses_uncertain`` (those of them, and their responses, that rest on
        uncertain links), ``siloed`` (the siloed estimate: it does not
        depend on the linkage), ``difference`` (siloed - unified), ``change``
        (unified - the registry's own unified estimate) and ``at_registry_threshold``
        (the row of the registry's threshold), then ``suppressed``.
        ``attrs["hxmetrics"]`` adds ``role``, ``registry_threshold`` and
        ``registry_estimate``.

    Raises
    ------
    ParameterError
        For a registry without a linkage model, or bad thresholds.

    See Also
    --------
    StakeholderRegistry.uncertain_persons : the persons resting on uncertain links.

    Examples
    --------
    With rosters that share no clean key (names, dates of birth, addresses) and long
    survey ``responses`` (fitting the model takes a few seconds):

    >>> from hxmetrics.stakeholders import StakeholderRegistry
    >>> reg = StakeholderRegistry.from_rosters(  # doctest: +SKIP
    ...     customers=customers, workers=workers, method="probabilistic", random_state=1)
    >>> table = linkage_sensitivity(reg, responses)  # doctest: +SKIP
    >>> table[["threshold", "n_persons", "estimate", "change"]]  # doctest: +SKIP
    """
    if not isinstance(registry, StakeholderRegistry):
        raise ParameterError(
            "registry must be a StakeholderRegistry (StakeholderRegistry.from_rosters(..., "
            f"method='probabilistic')); got {type(registry).__name__}."
        )
    if registry.method != "probabilistic" or registry.linkage_model is None:
        raise ParameterError(
            "linkage_sensitivity needs a registry built with method='probabilistic' (a "
            f"linkage model and its threshold); this one is {registry.method!r}."
        )
    cuts = _check_thresholds(thresholds)
    meta = registry.crosswalk.attrs["hxmetrics"]
    own_threshold = float(meta["threshold"])
    options: dict[str, Any] = {
        "measure": measure,
        "role": role,
        "instrument": instrument,
        "item": item,
        "box": box,
        "confidence": confidence,
    }
    own = siloed_vs_unified(registry, responses, **options)  # checks the arguments
    own_unified = _row(own.estimates, "unified")
    # Who answered: the responses' records, to count the respondents resting on
    # uncertain links (response ids only leave the design).
    frame = as_pandas(responses, table="responses")
    answered = pd.DataFrame(
        {
            "response_id": frame["response_id"].astype("str").to_numpy(),
            "silo": frame["silo"].astype("str").to_numpy(),
            "source_id": frame["source_id"].astype("str").to_numpy(),
        }
    ).drop_duplicates("response_id")
    unified_column = list(ESTIMATORS).index("unified")
    rows = []
    for t in cuts:  # increasing: the lowest is scored first and its pairs kept for the rest
        linked = registry.relink(t)
        design = prepare_silos(
            linked, responses, measure=measure, instrument=instrument, item=item, box=box
        )
        result = design.compare(role=role, confidence=confidence)  # = siloed_vs_unified
        used = design.weights(result.role)[:, unified_column] > 0
        unified = _row(result.estimates, "unified")
        unsure = _uncertain_respondents(
            linked, answered, pd.unique(design.response_id[used].astype(str))
        )
        siloed = _row(result.estimates, "siloed")
        cw = linked.crosswalk
        silos = cw.groupby("person_id", sort=False)["silo"].nunique()
        rows.append(
            {
                "threshold": t,
                "n": int(unified["n_responses"]),
                "estimate": float(unified["estimate"]),
                "se": float(unified["se"]),
                "ci_low": float(unified["ci_low"]),
                "ci_high": float(unified["ci_high"]),
                "n_links": int(cw.attrs["hxmetrics"]["n_links"]),
                "n_persons": int(cw["person_id"].nunique()),
                "n_persons_multi_silo": int((silos > 1).sum()),
                "n_persons_uncertain": len(linked.uncertain_persons()),
                "n_respondents": int(unified["n_persons"]),
                "n_respondents_uncertain": unsure[0],
                "n_responses_uncertain": unsure[1],
                "siloed": float(siloed["estimate"]),
                "at_registry_threshold": math.isclose(t, own_threshold),
            }
        )
    table = pd.DataFrame(rows)
    estimate = table["estimate"].to_numpy(dtype=float)
    extra: dict[str, Any] = {
        c: table[c].to_numpy(dtype=np.int64)
        for c in ("n_links", "n_persons", "n_persons_multi_silo", "n_persons_uncertain")
    }
    extra |= {
        c: table[c].to_numpy(dtype=np.int64)
        for c in ("n_respondents", "n_respondents_uncertain", "n_responses_uncertain")
    }
    extra |= {
        "siloed": table["siloed"].to_numpy(dtype=float),
        "difference": table["siloed"].to_numpy(dtype=float) - estimate,
        "change": estimate - float(own_unified["estimate"]),
        "at_registry_threshold": table["at_registry_threshold"].to_numpy(dtype=bool),
    }
    return grouped_result(
        table[["threshold"]],
        measure=own.measure,
        n=table["n"].to_numpy(dtype=np.int64),
        estimate=estimate,
        se=table["se"].to_numpy(dtype=float),
        ci_low=table["ci_low"].to_numpy(dtype=float),
        ci_high=table["ci_high"].to_numpy(dtype=float),
        confidence=confidence,
        method="wald_person_clustered",
        min_n=min_n,
        extra=extra,
        meta={
            "role": own.role,
            "registry_threshold": own_threshold,
            "registry_estimate": float(own_unified["estimate"]),
        },
    )


def _uncertain_respondents(
    registry: StakeholderRegistry, answered: pd.DataFrame, response_ids: np.ndarray
) -> tuple[int, int]:
    """Respondents of the unified estimate resting on uncertain links, and their responses."""
    unsure = set(registry.uncertain_persons()["person_id"])
    if not unsure or response_ids.size == 0:
        return 0, 0
    cw = registry.crosswalk[["silo", "source_id", "person_id"]]
    rows = answered[answered["response_id"].isin(response_ids)].merge(
        cw, on=["silo", "source_id"], how="inner"
    )
    rows = rows[rows["person_id"].isin(unsure)]
    return int(rows["person_id"].nunique()), int(rows["response_id"].nunique())


def _row(estimates: pd.DataFrame, estimator: str) -> pd.Series:
    row: pd.Series = estimates.loc[estimates["estimator"].astype(str) == estimator].iloc[0]
    return row


def _check_thresholds(thresholds: Any) -> list[float]:
    try:
        values = [float(t) for t in thresholds]
        ok = (
            len(values) > 0
            and not any(isinstance(t, bool) for t in thresholds)
            and all(0 < v <= 1 for v in values)
            and len(set(values)) == len(values)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError(
            "thresholds must be distinct match probabilities in (0, 1], e.g. "
            f"{DEFAULT_THRESHOLDS}; got {thresholds!r}."
        )
    return sorted(values)
