"""The design of a siloed-vs-unified comparison: responses selected, attributed and weighted.

:func:`prepare_silos` does the work that does not depend on the target role (select
and check the measure's responses, attribute them with the registry, number records,
persons and strata) once; :class:`SiloDesign` then weights the responses for each
role (:meth:`SiloDesign.weights`) and compares (:meth:`SiloDesign.compare`). Several
roles of the same responses (a report's four comparisons) share one design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.compare._measures import Measure, resolve_measure
from hxmetrics.compare._names import (
    ESTIMATORS,
    NOT_ATTRIBUTED,
    ROLES,
    SILO_OF_ROLE,
    as_role,
)
from hxmetrics.compare._selection import as_frame, cases, labels, select_responses, text
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._inference import check_confidence
from hxmetrics.tables import SILOS

if TYPE_CHECKING:
    from hxmetrics.compare._results import SiloComparison
    from hxmetrics.stakeholders import StakeholderRegistry

__all__ = ["SiloDesign", "check_n_resamples", "prepare_silos", "vote_weights"]


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


def check_n_resamples(n_resamples: Any) -> int:
    """``n_resamples`` as an int: 0 (no bootstrap) or at least 100."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer):
        raise ParameterError(f"n_resamples must be a whole number (0 = none); got {n_resamples!r}.")
    if n_resamples != 0 and n_resamples < 100:
        raise ParameterError(f"n_resamples must be 0 or at least 100; got {n_resamples}.")
    return int(n_resamples)


def _roles_text(held: np.ndarray, ok: np.ndarray) -> np.ndarray:
    names = np.array(
        ["+".join(r for j, r in enumerate(ROLES) if m >> j & 1) or "none" for m in range(8)],
        dtype=object,
    )
    mask = (held * (1 << np.arange(len(ROLES)))).sum(axis=1)
    out: np.ndarray = np.where(ok, names[mask], NOT_ATTRIBUTED)
    return out


@dataclass(frozen=True, eq=False, repr=False)
class SiloDesign(DisplayMixin):
    """The responses of one measure, selected, checked and attributed once for every role.

    What :func:`siloed_vs_unified` does before it looks at the target role: build it
    with :func:`prepare_silos`, then call :meth:`compare` once per role. The arrays
    hold one entry per response with a score, in the order of the attributed rows.

    Attributes
    ----------
    measure, instrument, item : str
        The measure and the item whose scores are averaged.
    response_id : numpy.ndarray
        The responses (``str``).
    y : numpy.ndarray
        Each response's value on the measure's scale (NPS: +100, 0, -100).
    cluster : numpy.ndarray
        Integer code of the person (a silo id the registry cannot link is its own
        person); ``n_clusters`` codes in all.
    record : numpy.ndarray
        Integer code of the silo record ``(silo, source_id)``.
    silo_code : numpy.ndarray
        Position of the recording silo in :data:`hxmetrics.tables.SILOS`.
    status : numpy.ndarray
        The registry's attribution of each response (``ok``, ``unknown_id``, ...).
    held : Mapping[str, numpy.ndarray]
        Per target (``"all"`` and each role): whether the response was given while the
        person held that role (any role for ``"all"``).
    stratum : numpy.ndarray
        Integer code of the (roles at response time, hybrid type) stratum; ``strata``
        names the codes.
    pair, pair_stratum : numpy.ndarray
        Integer code of each response's (person, stratum) pair, in person order, and
        the stratum of each pair: what the stratified comparison sums over.
    n_missing : int
        Rows of the item without a score (left out of every estimator).
    """

    measure: str
    instrument: str
    item: str
    response_id: np.ndarray
    y: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    record: np.ndarray
    silo_code: np.ndarray
    status: np.ndarray
    held: Mapping[str, np.ndarray]
    stratum: np.ndarray
    strata: pd.DataFrame
    pair: np.ndarray
    pair_stratum: np.ndarray
    n_missing: int
    spec: Measure

    @property
    def n_responses(self) -> int:
        """Responses with a score (the rows of every array)."""
        return len(self.y)

    @property
    def silo(self) -> np.ndarray:
        """The recording silo of each response (``str``)."""
        out: np.ndarray = np.asarray(SILOS, dtype=object)[self.silo_code]
        return out

    def weights(self, role: str = "all") -> np.ndarray:
        """Vote weights of every estimator for ``role``: responses x :data:`ESTIMATORS`.

        A zero means "not counted". Raises :class:`InputTableError` when no response
        belongs to the role.
        """
        role = as_role(role)
        held = self.held[role]
        if role == "all":
            recorded = np.ones(self.n_responses, dtype=bool)
        else:
            recorded = self.silo_code == SILOS.index(SILO_OF_ROLE[role])
        if not recorded.any() and not held.any():
            raise InputTableError(
                f"no {self.instrument}/{self.item} responses belong to role {role!r}: none was "
                "recorded by its silo or given by a person holding the role.",
                table="responses",
                failure_cases=cases("silo", f"role_{role}", role, None),
            )
        return np.column_stack(
            [
                vote_weights(recorded, self.record, self.silo_code),
                vote_weights(recorded, self.cluster, self.silo_code),
                vote_weights(recorded & held, self.cluster, self.silo_code),
                vote_weights(held, self.cluster, self.silo_code),
            ]
        )

    def exclusions(self, role: str = "all") -> pd.DataFrame:
        """``reason``, ``n`` (responses) and ``excluded_from`` (the estimators) for ``role``."""
        role = as_role(role)
        held = self.held[role]
        if role == "all":
            recorded = np.ones(self.n_responses, dtype=bool)
        else:
            recorded = self.silo_code == SILOS.index(SILO_OF_ROLE[role])
        return _exclusions(self._status_masks, recorded, held, self.n_missing, role)

    @cached_property
    def _status_masks(self) -> dict[str, np.ndarray]:
        """Which responses have each attribution status (compared once, for every role)."""
        return {s: self.status == s for s in ("ok", *_EXCLUDED_STATUSES)}

    def compare(
        self,
        *,
        role: str = "all",
        confidence: float = 0.95,
        n_resamples: int = 0,
        random_state: int | np.random.Generator | None = None,
    ) -> SiloComparison:
        """The siloed-vs-unified comparison for ``role`` (see :func:`siloed_vs_unified`).

        Parameters
        ----------
        role : {"all", "customer", "worker", "partner"}, default "all"
            Whose experience: everyone, or the holders of one role (a silo's plural
            name, ``"workers"``, reads as its role).
        confidence : float, default 0.95
            Level of the Wald intervals.
        n_resamples : int, default 0
            Person-level bootstrap resamples (0: none; 1000 or more for a check).
        random_state : int or numpy.random.Generator, optional
            Seed of the bootstrap.

        Returns
        -------
        SiloComparison
            The same result as :func:`siloed_vs_unified` on the same responses, bit
            for bit.
        """
        from hxmetrics.compare._decomposition import decompose

        confidence = check_confidence(confidence)
        n_resamples = check_n_resamples(n_resamples)
        role = as_role(role)
        weights = self.weights(role)
        return decompose(
            self,
            role,
            weights,
            self.exclusions(role),
            confidence=confidence,
            n_resamples=n_resamples,
            random_state=random_state,
        )

    def summary(self) -> pd.DataFrame:
        """Per silo: responses with a score, silo records and persons who gave them."""
        rows = []
        for code, silo in enumerate(SILOS):
            mine = self.silo_code == code
            rows.append(
                {
                    "silo": silo,
                    "n_responses": int(mine.sum()),
                    "n_records": int(np.unique(self.record[mine]).size),
                    "n_persons": int(np.unique(self.cluster[mine]).size),
                }
            )
        out = pd.DataFrame(rows)
        out["silo"] = out["silo"].astype("str")
        return out

    def _display_title(self) -> str:
        return (
            f"Silo design: {self.measure} (instrument {self.instrument!r}, item {self.item!r}), "
            f"{self.n_responses:,} responses of {self.n_clusters:,} persons"
        )

    def _display_notes(self) -> Sequence[str]:
        notes = []
        if self.n_missing:
            notes.append(f"{self.n_missing:,} response(s) without a score left out")
        placed = int((self.status == "ok").sum())
        if placed < self.n_responses:
            notes.append(
                f"{self.n_responses - placed:,} response(s) the registry cannot place in a role"
            )
        return notes


_EXCLUDED_STATUSES = ("unknown_id", "outside_episodes", "missing_time")


def _exclusions(
    status: Mapping[str, np.ndarray],
    recorded: np.ndarray,
    held: np.ndarray,
    n_missing: int,
    role: str,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {"reason": "missing_score", "n": n_missing, "excluded_from": ", ".join(ESTIMATORS)}
    ]
    later = "attributed, unified"
    for reason in _EXCLUDED_STATUSES:
        rows.append(
            {
                "reason": reason,
                "n": int((recorded & status[reason]).sum()),
                "excluded_from": later,
            }
        )
    if role != "all":
        rows.append(
            {
                "reason": f"not_{role}_at_response_time",
                "n": int((recorded & status["ok"] & ~held).sum()),
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


def prepare_silos(
    registry: StakeholderRegistry,
    responses: Any,
    *,
    measure: str = "nps",
    instrument: str | None = None,
    item: str | None = None,
    box: Sequence[float] | None = None,
) -> SiloDesign:
    """Select, check and attribute the responses of a measure once, for every role.

    The part of :func:`siloed_vs_unified` that does not depend on the target role.
    Compare several roles on the same responses through one design:
    ``design.compare(role=...)`` equals ``siloed_vs_unified(registry, responses,
    role=..., ...)`` exactly, without selecting and attributing the responses again.

    Parameters
    ----------
    registry : StakeholderRegistry
        The unified stakeholder model (identity resolution and role episodes).
    responses : DataFrame
        Long survey responses per the table contract (``response_id, silo,
        source_id, instrument, item, score, timestamp``); pandas or any eager frame
        narwhals accepts. Only the measure's item is read.
    measure : {"nps", "csat", "ces", "mean"}, default "nps"
        See :func:`siloed_vs_unified`.
    instrument, item : str, optional
        Override the measure's default instrument/item.
    box : sequence of float, optional
        Scale points counted as satisfied for ``csat``.

    Returns
    -------
    SiloDesign

    Examples
    --------
    >>> from hxmetrics.datasets import load_sample
    >>> from hxmetrics.stakeholders import StakeholderRegistry
    >>> org = load_sample()
    >>> reg = StakeholderRegistry.from_rosters(customers=org.customers, workers=org.workers,
    ...                                        partners=org.partners)
    >>> design = prepare_silos(reg, org.responses, measure="nps")
    >>> results = {role: design.compare(role=role) for role in ("all", "customer", "worker")}
    >>> sorted(results)
    ['all', 'customer', 'worker']
    """
    spec = resolve_measure(measure, instrument, item, box)
    if not hasattr(registry, "attribute"):
        raise ParameterError(
            "registry must be a StakeholderRegistry (StakeholderRegistry.from_rosters(...)); "
            f"got {type(registry).__name__}."
        )
    rows, n_missing = select_responses(as_frame(responses), spec)
    att = registry.attribute(rows)
    n = len(att)
    # select_responses checked that every silo is one of SILOS, so every row gets a code;
    # three vectorised comparisons cost less than hashing every row's text.
    silo_column = att["silo"].astype("str")
    silo = np.full(n, -1, dtype=np.int64)
    for code, name in enumerate(SILOS):
        silo[(silo_column == name).to_numpy(dtype=bool)] = code
    status = labels(att["attribution"], missing="nan")
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

    is_role = np.stack([att[f"is_{r}"].to_numpy(dtype=bool) for r in ROLES], axis=1)
    held = {"all": ok.copy(), **{r: ok & is_role[:, j] for j, r in enumerate(ROLES)}}
    hybrid_type = np.where(
        known, labels(att["hybrid_type"], missing=NOT_ATTRIBUTED), NOT_ATTRIBUTED
    ).astype(object)
    # Strata: roles held at response time x hybrid type, numbered in first-seen order.
    role_code, role_names = pd.factorize(_roles_text(is_role, ok))
    hybrid_code, hybrid_names = pd.factorize(hybrid_type)
    stratum, combos = pd.factorize(role_code.astype(np.int64) * len(hybrid_names) + hybrid_code)
    strata = pd.DataFrame(
        {
            "roles": role_names[combos // len(hybrid_names)],
            "hybrid_type": hybrid_names[combos % len(hybrid_names)],
        }
    )
    # (person, stratum) pairs in person order: each stratum's sums then add its
    # persons' totals in person order, as a persons x strata table would.
    pairs, pair = np.unique(cluster.astype(np.int64) * len(combos) + stratum, return_inverse=True)
    return SiloDesign(
        measure=spec.name,
        instrument=str(spec.instrument),
        item=str(spec.item),
        response_id=text(att["response_id"]),
        y=spec.value(att["score"].to_numpy(dtype=float)),
        cluster=cluster.astype(np.int64),
        n_clusters=len(cluster_uniques),
        record=record.astype(np.int64),
        silo_code=silo,
        status=status,
        held=held,
        stratum=stratum,
        strata=strata,
        pair=pair,
        pair_stratum=pairs % len(combos),
        n_missing=n_missing,
        spec=spec,
    )
