"""``StakeholderRegistry``: the facade over identity, episodes, hybrids and attribution."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import CountsDisplay
from hxmetrics.errors import ParameterError, check_choice
from hxmetrics.stakeholders.attribution import AttributionIndex, attribute_with_index
from hxmetrics.stakeholders.episodes import role_episodes
from hxmetrics.stakeholders.hybrids import HybridRule, classify_hybrids
from hxmetrics.stakeholders.keys import check_keys, secret_key
from hxmetrics.stakeholders.overlap import overlap_matrix, overlap_summary
from hxmetrics.stakeholders.probabilistic import LinkageModel
from hxmetrics.stakeholders.resolution import resolve_identities
from hxmetrics.stakeholders.views import SiloView, silo_view
from hxmetrics.tables import SILOS, as_pandas, validate

if TYPE_CHECKING:
    from pathlib import Path

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
        review: pd.DataFrame | None = None,
        linkage_model: LinkageModel | None = None,
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
        self._review = review
        self._linkage_model = linkage_model
        # from_rosters' resolution arguments, so that relink() repeats them exactly.
        self._options: dict[str, Any] | None = None
        self._scores: _ScoredPairs | None = None
        self._uncertain: pd.DataFrame | None = None

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
        method: str = "exact",
        model: LinkageModel | Mapping[str, Any] | str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
        threshold: float | None = None,
        review_band: tuple[float, float] | None = None,
        conflict_rules: Mapping[str, Any] | None = None,
        random_state: int | np.random.Generator | None = None,
        backend: Any = "duckdb",
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
        method, model, settings, threshold, review_band, conflict_rules, random_state, backend
            Passed to :func:`~hxmetrics.stakeholders.resolve_identities`:
            ``method="probabilistic"`` links records with a linkage model over the
            identity columns (fitted here unless ``model`` is given). The registry
            keeps the review table (:attr:`review`) and the model
            (:attr:`linkage_model`); episodes, hybrids, attribution, views and every
            comparison work the same on either method.

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
        options: dict[str, Any] = {
            "keys": keys,
            "birth_year": birth_year,
            "birth_year_tolerance": birth_year_tolerance,
            "max_component_size": max_component_size,
            "key_kinds": key_kinds,
            "method": method,
            "conflict_rules": conflict_rules,
            "backend": backend,
        }
        # Given only when set: the exact method refuses them (resolve_identities says so).
        probabilistic: dict[str, Any] = {
            "model": model,
            "settings": settings,
            "threshold": threshold,
            "review_band": review_band,
            "random_state": random_state,
        }
        resolution = resolve_identities(
            rosters,
            secret=secret,
            **options,
            **{k: v for k, v in probabilistic.items() if v is not None},
        )
        registry = cls._from_resolution(rosters, resolution, rules)
        registry._options = options | {"secret": secret}
        return registry

    @classmethod
    def _from_resolution(
        cls,
        rosters: Mapping[str, pd.DataFrame],
        resolution: Any,
        rules: Sequence[HybridRule] | pd.DataFrame | None,
    ) -> StakeholderRegistry:
        crosswalk, conflicts = resolution
        episodes = role_episodes(rosters, crosswalk)
        return cls(
            rosters=rosters,
            crosswalk=crosswalk,
            conflicts=conflicts,
            episodes=episodes,
            rules=rules,
            review=getattr(resolution, "review", None),
            linkage_model=getattr(resolution, "model", None),
        )

    def _display_counts(self) -> dict[str, Any]:
        # Counts only: a registry holds personal data, its display never shows a row.
        return {
            "silos": sorted(self._rosters),
            "records": len(self._crosswalk),
            "persons": int(self._crosswalk["person_id"].nunique()),
            "episodes": len(self._episodes),
            "conflicts": int(self._conflicts["conflict_id"].nunique()),
        } | ({"uncertain": len(self.uncertain_persons())} if self.method != "exact" else {})

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
        if self.method != "exact":
            meta = self._crosswalk.attrs["hxmetrics"]
            rows["method"] = self.method
            rows["threshold"] = meta.get("threshold")
            rows["persons resting on uncertain links"] = counts["uncertain"]
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
        notes = tuple(meta.get("notes", ()))
        if self.method == "exact":
            return notes
        low, high = self._band()
        n = len(self.uncertain_persons())
        total = int(self._crosswalk["person_id"].nunique())
        return (
            *notes,
            f"{n:,} of {total:,} persons rest on uncertain links (a pair of their records "
            f"scored in [{low:g}, {high:g}), linked or not): see uncertain_persons(), and "
            "hxmetrics.compare.linkage.linkage_sensitivity for how much an estimate moves "
            "with the threshold.",
        )

    @property
    def method(self) -> str:
        """How identities were resolved: ``"exact"`` or ``"probabilistic"``."""
        return str(self._crosswalk.attrs.get("hxmetrics", {}).get("method", "exact"))

    @property
    def review(self) -> pd.DataFrame:
        """Pairs of records scored in the review band (see ``Resolution.review``).

        Empty for the exact method. Roster ids and comparison levels, never a name,
        a date or an address: for the data owner's clerical review.
        """
        if self._review is None:
            from hxmetrics.stakeholders.resolution import _empty_review

            return _empty_review()
        return self._review

    @property
    def linkage_model(self) -> LinkageModel | None:
        """The fitted linkage model (``None`` for the exact method): save it with
        :meth:`LinkageModel.save` to score later rosters with the same weights."""
        return self._linkage_model

    def _band(self) -> tuple[float, float]:
        band = self._crosswalk.attrs.get("hxmetrics", {}).get("review_band") or (0.5, 0.9)
        return float(band[0]), float(band[1])

    def uncertain_persons(self, *, band: tuple[float, float] | None = None) -> pd.DataFrame:
        """Persons whose records rest on uncertain links: how many persons may be wrong.

        A person counts when a pair of its records, or one of its records and another
        person's, was scored by the linkage model with a probability in ``band``
        (``[low, high)``): a link made on weak evidence, or a merge not made on
        evidence that was not negligible. Either way the number of persons, and what
        each one answered, could change with the threshold. A person whose record's
        best link (``match_probability``) is below ``high`` counts too (a threshold
        below the band). The count is an upper bound of the persons whose partition
        would change: a weak link next to a strong one counts.

        Parameters
        ----------
        band : (float, float), optional
            The uncertain band, within the registry's review band (the pairs the
            registry kept); default the review band itself.

        Returns
        -------
        pandas.DataFrame
            One row per uncertain person, sorted by ``person_id``: ``person_id``,
            ``n_records``, ``n_pairs_linked`` (pairs in the band between its own
            records, linked by the model or by other links), ``n_pairs_not_linked``
            (pairs in the band with another person's record) and
            ``min_match_probability``. Empty for the exact method.

        Raises
        ------
        ParameterError
            If ``band`` is not ``(low, high)`` inside the review band.
        """
        review_band = self._band()
        if band is None:
            lo, hi = review_band
        else:
            try:
                lo, hi = float(band[0]), float(band[1])
                ok = len(band) == 2 and 0 < lo < hi <= 1
            except (TypeError, ValueError, IndexError):
                ok = False
            if not ok or lo < review_band[0] or hi > review_band[1]:
                raise ParameterError(
                    f"band must be (low, high) with {review_band[0]:g} <= low < high <= "
                    f"{review_band[1]:g} (the review band: the pairs this registry kept); "
                    f"got {band!r}. Build the registry with a wider review_band=... for more."
                )
        if band is None and self._uncertain is not None:
            return self._uncertain
        out = self._uncertain_persons(lo, hi)
        if band is None:
            self._uncertain = out
        return out

    def _uncertain_persons(self, lo: float, hi: float) -> pd.DataFrame:
        cw = self._crosswalk
        columns = {
            "person_id": "str",
            "n_records": "Int64",
            "n_pairs_linked": "Int64",
            "n_pairs_not_linked": "Int64",
            "min_match_probability": "float64",
        }
        if self.method == "exact" or self._review is None:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
        person = cw.set_index(["silo", "source_id"])["person_id"]
        rv = self._review
        rv = rv[rv["match_probability"].ge(lo) & rv["match_probability"].lt(hi)]
        p_l = person.reindex(pd.MultiIndex.from_frame(rv[["silo_l", "source_id_l"]])).to_numpy()
        p_r = person.reindex(pd.MultiIndex.from_frame(rv[["silo_r", "source_id_r"]])).to_numpy()
        prob = rv["match_probability"].to_numpy(dtype=float)
        same = p_l == p_r
        best = cw["match_probability"].astype("float64").to_numpy(dtype=float, na_value=np.nan)
        weak = best < hi
        cross = np.r_[p_l[~same], p_r[~same]]
        hits = pd.DataFrame(
            {
                # A pair within a person; a pair across two (both count); a record
                # whose best link is weak (a threshold below the band).
                "person_id": np.r_[p_l[same], cross, cw["person_id"].to_numpy()[weak]],
                "linked": np.r_[np.ones(int(same.sum())), np.zeros(cross.size + int(weak.sum()))],
                "not_linked": np.r_[
                    np.zeros(int(same.sum())), np.ones(cross.size), np.zeros(int(weak.sum()))
                ],
                "p": np.r_[prob[same], prob[~same], prob[~same], best[weak]],
            }
        )
        per = hits.groupby("person_id", sort=True).agg(
            n_pairs_linked=("linked", "sum"),
            n_pairs_not_linked=("not_linked", "sum"),
            min_match_probability=("p", "min"),
        )
        n_records = cw.groupby("person_id", sort=False).size()
        return pd.DataFrame(
            {
                "person_id": pd.Series(per.index.to_numpy(), dtype="str"),
                "n_records": pd.array(n_records.reindex(per.index).to_numpy(), dtype="Int64"),
                "n_pairs_linked": pd.array(per["n_pairs_linked"].to_numpy(), dtype="Int64"),
                "n_pairs_not_linked": pd.array(per["n_pairs_not_linked"].to_numpy(), dtype="Int64"),
                "min_match_probability": per["min_match_probability"].to_numpy(dtype=float),
            }
        )

    def relink(
        self, threshold: float, *, review_band: tuple[float, float] | None = None
    ) -> StakeholderRegistry:
        """The same rosters, model and options, linked at another threshold.

        The linkage model is not fitted again: the rosters' pairs are scored with its
        weights once per registry (kept for the next call) and the pairs at or above
        ``threshold`` go through the same components, conflict rules and person ids
        (the same secret). For a sensitivity analysis of the threshold (see
        :func:`hxmetrics.compare.linkage.linkage_sensitivity`).

        Parameters
        ----------
        threshold : float
            Match probability at or above which a scored pair links its records.
        review_band : (float, float), optional
            Default: this registry's review band.

        Returns
        -------
        StakeholderRegistry

        Raises
        ------
        ParameterError
            If the registry was not built by ``from_rosters(method="probabilistic")``
            (it holds no model and no resolution arguments), or for a bad threshold.
        """
        if self.method == "exact" or self._linkage_model is None or self._options is None:
            raise ParameterError(
                "relink() needs a registry built by StakeholderRegistry.from_rosters(..., "
                "method='probabilistic'): this one has no linkage model or no resolution "
                "arguments to repeat."
            )
        if self._scores is None:
            self._scores = _ScoredPairs(self._linkage_model)
        options = dict(self._options)
        resolution = resolve_identities(
            self._rosters,
            **options,
            model=self._scores,
            threshold=threshold,
            review_band=self._band() if review_band is None else review_band,
        )
        registry = self._from_resolution(self._rosters, resolution, self._rules)
        registry._linkage_model = self._linkage_model
        registry._options = options
        registry._scores = self._scores
        return registry

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


class _ScoredPairs(LinkageModel):
    """A fitted model that scores the same records once and reuses the pairs.

    Only for :meth:`StakeholderRegistry.relink`: the records are the registry's, so
    the scored pairs at or above one probability hold those above any higher one.
    Scored again (and kept) for a lower probability or other records.
    """

    def __init__(self, model: LinkageModel) -> None:
        super().__init__()
        self.__dict__.update(model.__dict__)
        self.notes_ = list(model.notes_)  # scoring's messages stay off the caller's model
        self._frame: pd.DataFrame | None = None
        self._pairs: pd.DataFrame | None = None
        self._at = 1.0
        self.n_scored = 0

    def _score_frame(self, frame: pd.DataFrame, threshold: float, backend: Any) -> pd.DataFrame:
        same = self._frame is not None and self._frame.equals(frame)
        if not same or self._pairs is None or threshold < self._at:
            self._pairs = super()._score_frame(frame, threshold, backend)
            self._frame, self._at = frame, threshold
            self.n_scored += 1
        pairs = self._pairs
        keep = pairs["match_probability"].to_numpy(dtype=float) >= threshold
        return pairs[keep].reset_index(drop=True)
