"""Silo views: what one department sees on its own.

A department knows its own roster and nothing else: its own ids (each
``source_id`` is a "person" to it, so a person with two worker ids is two
people), its own role only, and no link to any other silo. A worker who is also
a customer is, to HR, just a worker. :func:`silo_view` builds that view with the
same machinery as the unified model, so a measure computed both ways (see
``compare``) differs only in the knowledge it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from hxmetrics.errors import ParameterError, check_choice, check_columns
from hxmetrics.stakeholders._rosters import source_ids
from hxmetrics.stakeholders.attribution import STATUSES, AttributionIndex, attribute_with_index
from hxmetrics.stakeholders.episodes import role_episodes
from hxmetrics.stakeholders.hybrids import HybridRule, classify_hybrids
from hxmetrics.stakeholders.overlap import overlap_summary
from hxmetrics.tables import ROLE_OF_SILO, SILOS

__all__ = ["SiloView", "silo_view"]


class SiloView:
    """One department's view: its ids, its role, no cross-silo links.

    Attributes
    ----------
    silo : str
        ``customers``, ``workers`` or ``partners``.
    role : str
        The silo's role.
    crosswalk : pandas.DataFrame
        ``silo``, ``source_id``, ``person_id`` (= ``source_id``), ``matched_on``
        (``"none"``): the identity mapping of the silo's own ids.
    episodes : pandas.DataFrame
        The silo's episodes per own id, merged by the same rule as the unified
        episodes.
    """

    def __init__(
        self,
        silo: str,
        crosswalk: pd.DataFrame,
        episodes: pd.DataFrame,
        rules: Sequence[HybridRule] | pd.DataFrame | None = None,
    ) -> None:
        self.silo = silo
        self.role = ROLE_OF_SILO[silo]
        self.crosswalk = crosswalk
        self.episodes = episodes
        self._rules = rules
        self._index: AttributionIndex | None = None
        self._hybrids: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return (
            f"SiloView(silo={self.silo!r}, ids={len(self.crosswalk)}, "
            f"episodes={len(self.episodes)})"
        )

    def hybrids(self, *, as_of: Any = None) -> pd.DataFrame:
        """Hybrid labels as the department can see them (only its own role's patterns).

        A worker silo sees its own boomerangs (same id re-hired) and gig workers,
        never a worker who is also a customer.
        """
        if as_of is None:
            if self._hybrids is None:
                self._hybrids = classify_hybrids(self.episodes, rules=self._rules, merged=True)
            return self._hybrids
        return classify_hybrids(self.episodes, as_of=as_of, rules=self._rules, merged=True)

    def attribute(
        self,
        events: pd.DataFrame,
        *,
        time: str = "timestamp",
        silo: str = "silo",
        source_id: str = "source_id",
    ) -> pd.DataFrame:
        """Attribute exhaust rows the siloed way.

        Same columns as the unified :func:`~hxmetrics.stakeholders.attribute`:
        ``person_id`` is the department's own id, only the silo's role can be
        true, and rows of other silos are kept with ``attribution = "other_silo"``.
        """
        if self._index is None:
            self._index = AttributionIndex.build(
                self.crosswalk, self.episodes, self.hybrids(), merged=True
            )
        out = attribute_with_index(events, self._index, time=time, silo=silo, source_id=source_id)
        rows_silo = out[silo].astype("str")
        foreign = (rows_silo.notna() & (rows_silo != self.silo)).to_numpy(dtype=bool)
        if foreign.any():
            status = out["attribution"].to_numpy(copy=True)
            status[foreign] = "other_silo"
            out["attribution"] = pd.Categorical(status, categories=pd.Index(STATUSES, dtype="str"))
        return out

    def summary(self, *, as_of: Any = None) -> pd.DataFrame:
        """Counts of the department's "people" (own ids), ever and at ``as_of``."""
        return overlap_summary(self.hybrids(as_of=as_of))


def silo_view(
    roster: pd.DataFrame,
    silo: str,
    *,
    rules: Sequence[HybridRule] | pd.DataFrame | None = None,
) -> SiloView:
    """Build one department's view from its own roster.

    Parameters
    ----------
    roster : pandas.DataFrame
        The silo's roster (id column, ``start``, ``end``, ``engagement``).
    silo : {"customers", "workers", "partners"}
        Which silo it is.
    rules : optional
        Hybrid rules (default :data:`~hxmetrics.stakeholders.HYBRID_RULES`).

    Returns
    -------
    SiloView

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import silo_view
    >>> workers = pd.DataFrame({"worker_id": ["w1", "w2"], "email": ["a@x", "a@x"],
    ...     "start": pd.to_datetime(["2020-01-01", "2021-01-01"]), "end": [None, None],
    ...     "engagement": ["gig", "full_time"]})
    >>> view = silo_view(workers, "workers")
    >>> view.crosswalk["person_id"].tolist()  # two ids, two "people": no linking
    ['w1', 'w2']
    >>> view.hybrids()["hybrid_type"].tolist()
    ['gig_worker', 'none']
    """
    check_choice("silo", silo, SILOS)
    if not isinstance(roster, pd.DataFrame):
        raise ParameterError(f"roster must be a pandas DataFrame; got {type(roster).__name__}.")
    check_columns(roster.columns, ["start", "end", "engagement"], table=silo)
    ids = pd.Series(source_ids(roster, silo).unique(), dtype="str").sort_values(ignore_index=True)
    crosswalk = pd.DataFrame(
        {
            "silo": pd.Series([silo] * len(ids), dtype="str"),
            "source_id": ids,
            "person_id": ids,
            "matched_on": pd.Series(["none"] * len(ids), dtype="str"),
        }
    )
    episodes = role_episodes({silo: roster}, crosswalk)
    return SiloView(silo, crosswalk, episodes, rules)
