"""``StakeholderRegistry``: the facade over identity, episodes, hybrids and attribution."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from hxmetrics._display import CountsDisplay
from hxmetrics.errors import ParameterError, check_choice
from hxmetrics.stakeholders.attribution import AttributionIndex, attribute_with_index
from hxmetrics.stakeholders.episodes import role_episodes
from hxmetrics.stakeholders.hybrids import HybridRule, classify_hybrids
from hxmetrics.stakeholders.keys import check_keys, secret_key
from hxmetrics.stakeholders.overlap import overlap_matrix, overlap_summary
from hxmetrics.stakeholders.resolution import resolve_identities
from hxmetrics.stakeholders.views import SiloView, silo_view
from hxmetrics.tables import SILOS, as_pandas, validate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["StakeholderRegistry", "overlap_matrix", "overlap_summary"]


class StakeholderRegistry(CountsDisplay):
    """One stakeholder model over every silo's roster.

    Build it with :meth:`from_rosters`. It holds the crosswalk, the conflicts, the
    merged role episodes; hybrids, attribution and silo views are computed from
    them (cached where reused).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import StakeholderRegistry, new_secret
    >>> day = pd.to_datetime
    >>> customers = pd.DataFrame({"customer_id": ["c1", "c2"], "email": ["ann@x", "bo@y"],
    ...     "start": day(["2020-01-01", "2021-01-01"]), "end": [None, None],
    ...     "engagement": ["consumer", "consumer"]})
    >>> workers = pd.DataFrame({"worker_id": ["w1"], "email": ["ANN@x"],
    ...     "start": day(["2019-01-01"]), "end": [None], "engagement": ["full_time"]})
    >>> reg = StakeholderRegistry.from_rosters(customers=customers, workers=workers,
    ...                                        keys="email", secret=new_secret())
    >>> reg  # doctest: +NORMALIZE_WHITESPACE
    StakeholderRegistry(silos=['customers', 'workers'], records=3, persons=2,
                        episodes=3, conflicts=0)
    >>> reg.summary()[["roles", "n_ever"]].head(4)
                 roles  n_ever
    0         customer       1
    1           worker       0
    2          partner       0
    3  customer+worker       1
    """

    def __init__(
        self,
        *,
        rosters: Mapping[str, pd.DataFrame],
        crosswalk: pd.DataFrame,
        conflicts: pd.DataFrame,
        episodes: pd.DataFrame,
        rules: Sequence[HybridRule] | pd.DataFrame | None = None,
    ) -> None:
        self._rosters = dict(rosters)
        self._crosswalk = crosswalk
        self._conflicts = conflicts
        self._episodes = episodes
        self._rules = rules
        self._hybrids: pd.DataFrame | None = None
        self._hybrids_at: dict[pd.Timestamp, pd.DataFrame] = {}
        self._index: AttributionIndex | None = None
        self._views: dict[str, SiloView] = {}

    @classmethod
    def from_rosters(
        cls,
        *,
        customers: pd.DataFrame | None = None,
        workers: pd.DataFrame | None = None,
        partners: pd.DataFrame | None = None,
        keys: str | Sequence[str] | None = None,
        secret: str | bytes | None = None,
        validate_rosters: bool = True,
        birth_year: str | None = "birth_year",
        birth_year_tolerance: int = 0,
        max_component_size: int = 50,
        key_kinds: Mapping[str, str] | None = None,
        rules: Sequence[HybridRule] | pd.DataFrame | None = None,
    ) -> StakeholderRegistry:
        """Resolve identities and build episodes from the silo rosters.

        Parameters
        ----------
        customers, workers, partners : pandas.DataFrame, optional
            The rosters (at least one), per the table contract. Polars, PyArrow and
            other frames narwhals accepts are converted to pandas here (lazy frames
            collected).
        keys : str or sequence of str, optional
            Key columns for identity resolution (raw or pseudonymised); one string
            is one column (``keys="email"``); default ``email`` and ``phone``, those
            the rosters have. ``keys=[]`` links nothing: one person per record
            (silo, source_id). Rosters with no default key (ids only) get the same
            when ``keys`` is not given; :attr:`notes` says so. A named key column
            in no roster is an error (a typo).
        secret : str or bytes, optional
            The organisation's secret key of the person ids (at least 16 bytes;
            :func:`~hxmetrics.stakeholders.new_secret` makes one). Pass the same
            secret for person ids that are stable across runs; by default a random
            secret is drawn once per process (ids stable within the process only).
            See :func:`~hxmetrics.stakeholders.resolve_identities`.
        validate_rosters : bool, default True
            Check every roster against the contract first
            (:func:`hxmetrics.validate`); turn off only for rosters already checked.
        birth_year, birth_year_tolerance, max_component_size, key_kinds
            Passed to :func:`~hxmetrics.stakeholders.resolve_identities`.
        rules : optional
            Hybrid rules (default :data:`~hxmetrics.stakeholders.HYBRID_RULES`).

        Returns
        -------
        StakeholderRegistry
        """
        given = {"customers": customers, "workers": workers, "partners": partners}
        rosters = {s: df for s, df in given.items() if df is not None}
        if not rosters:
            raise ParameterError(
                "from_rosters needs at least one roster: customers=..., workers=..., partners=...."
            )
        # Arguments first: a bad key list or secret fails before the rosters are checked.
        keys = check_keys(keys)
        if secret is not None:
            secret_key(secret, name="secret")
        if validate_rosters:
            rosters = {s: validate(df, table=s) for s, df in rosters.items()}
        else:
            rosters = {s: as_pandas(df, table=s) for s, df in rosters.items()}
        crosswalk, conflicts = resolve_identities(
            rosters,
            keys=keys,
            secret=secret,
            birth_year=birth_year,
            birth_year_tolerance=birth_year_tolerance,
            max_component_size=max_component_size,
            key_kinds=key_kinds,
        )
        episodes = role_episodes(rosters, crosswalk)
        return cls(
            rosters=rosters,
            crosswalk=crosswalk,
            conflicts=conflicts,
            episodes=episodes,
            rules=rules,
        )

    def _display_counts(self) -> dict[str, Any]:
        # Counts only: a registry holds personal data, its display never shows a row.
        return {
            "silos": sorted(self._rosters),
            "records": len(self._crosswalk),
            "persons": int(self._crosswalk["person_id"].nunique()),
            "episodes": len(self._episodes),
            "conflicts": int(self._conflicts["conflict_id"].nunique()),
        }

    def _display_rows(self) -> dict[str, Any]:
        counts = self._display_counts()
        silos_per_person = self._crosswalk.groupby("person_id", sort=False)["silo"].nunique()
        rows: dict[str, Any] = {"silos": counts["silos"]}
        records = self._crosswalk["silo"].value_counts()
        rows |= {f"records: {s}": int(records.get(s, 0)) for s in SILOS if s in self._rosters}
        rows |= {
            "records": counts["records"],
            "persons": counts["persons"],
            "persons in more than one silo": int((silos_per_person > 1).sum()),
            "episodes": counts["episodes"],
            "conflicts (merges not made)": counts["conflicts"],
        }
        keys = self._crosswalk.attrs.get("hxmetrics", {}).get("keys")
        if keys is not None:
            rows["keys"] = list(keys) or "none"
        return rows

    def _display_notes(self) -> tuple[str, ...]:
        return self.notes

    @property
    def crosswalk(self) -> pd.DataFrame:
        """``silo``, ``source_id``, ``person_id``, ``matched_on``: one row per silo record."""
        return self._crosswalk

    @property
    def notes(self) -> tuple[str, ...]:
        """What the reader of any result must know, e.g. that no key linked any record."""
        meta = self._crosswalk.attrs.get("hxmetrics", {})
        return tuple(meta.get("notes", ()))

    @property
    def conflicts(self) -> pd.DataFrame:
        """Suspicious merges that were reported and not made (see ``resolve_identities``)."""
        return self._conflicts

    @property
    def episodes(self) -> pd.DataFrame:
        """Merged role episodes: ``person_id, role, engagement, start, end, silo, source_id``."""
        return self._episodes

    def hybrids(self, as_of: Any = None) -> pd.DataFrame:
        """Per person: roles ever, roles at ``as_of``, hybrid labels (see ``classify_hybrids``)."""
        if as_of is None:
            if self._hybrids is None:
                self._hybrids = classify_hybrids(self._episodes, rules=self._rules, merged=True)
            return self._hybrids
        # Sections of a report ask for the same date several times: classify once per date.
        try:
            key = pd.Timestamp(as_of)
        except (TypeError, ValueError):  # classify_hybrids words the error
            return classify_hybrids(self._episodes, as_of=as_of, rules=self._rules, merged=True)
        if key not in self._hybrids_at:
            self._hybrids_at[key] = classify_hybrids(
                self._episodes, as_of=as_of, rules=self._rules, merged=True
            )
        return self._hybrids_at[key]

    def attribute(
        self,
        events: pd.DataFrame,
        *,
        time: str = "timestamp",
        silo: str = "silo",
        source_id: str = "source_id",
    ) -> pd.DataFrame:
        """Add ``person_id``, the roles held at each row's time, ``hybrid_type`` and ``role``.

        See :func:`~hxmetrics.stakeholders.attribute`; the index is built once. After
        its columns comes ``role``: the role of the row's silo (``customers`` ->
        ``customer``, :data:`~hxmetrics.tables.ROLE_OF_SILO`), categorical, missing
        where the silo is missing or unknown. It is the door the row came through,
        so ``nps(answers, "score", by="role")`` needs no mapping; the ``is_*``
        columns say which roles the person held at the time.

        Raises
        ------
        ParameterError
            If ``events`` already has one of the added columns (``role`` included).
        """
        return attribute_with_index(events, self.index, time=time, silo=silo, source_id=source_id)

    @property
    def index(self) -> AttributionIndex:
        """The attribution index (built on first use, then reused)."""
        if self._index is None:
            self._index = AttributionIndex.build(
                self._crosswalk, self._episodes, self.hybrids(), merged=True
            )
        return self._index

    def silo_view(self, silo: str) -> SiloView:
        """What one department sees: its own ids and role, no cross-silo knowledge."""
        check_choice("silo", silo, SILOS)
        if silo not in self._rosters:
            raise ParameterError(
                f"no {silo!r} roster in this registry; it has {sorted(self._rosters)}."
            )
        if silo not in self._views:
            self._views[silo] = silo_view(self._rosters[silo], silo, rules=self._rules)
        return self._views[silo]

    def summary(self, as_of: Any = None) -> pd.DataFrame:
        """Counts of persons by role combination (see :func:`overlap_summary`)."""
        return overlap_summary(self.hybrids(as_of))

    def overlap_matrix(self, as_of: Any = None, *, column: str = "roles_ever") -> pd.DataFrame:
        """Persons per pair of roles (see :func:`overlap_matrix`)."""
        return overlap_matrix(self.hybrids(as_of), column=column)

    def plot_overlap(
        self,
        *args: Any,
        ax: Axes | None = None,
        as_of: Any = None,
        column: str = "roles_ever",
    ) -> Axes:
        """Heat map of the overlap matrix (see :func:`~hxmetrics.stakeholders.plot_overlap`).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (keyword-only; passing it by position is deprecated).
        as_of, column
            See :meth:`overlap_matrix`.

        Returns
        -------
        matplotlib Axes
        """
        if args:
            # Positional ax (the old signature) keeps working for one release.
            if len(args) > 1 or ax is not None:
                raise ParameterError(
                    "plot_overlap() takes ax as a keyword only, once: plot_overlap(ax=ax)."
                )
            warnings.warn(
                "plot_overlap(): passing ax by position is deprecated, use ax=... (the "
                "positional form goes in the next release).",
                DeprecationWarning,
                stacklevel=2,
            )
            ax = args[0]
        from hxmetrics.stakeholders.plots import plot_overlap

        return plot_overlap(self.overlap_matrix(as_of, column=column), ax=ax)
