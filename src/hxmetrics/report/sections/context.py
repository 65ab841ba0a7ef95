"""What every section needs: the checked tables, the stakeholder model, the settings,
the results several sections share, and reading the disclosure plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

import hxmetrics
from hxmetrics.compare import SiloComparison, prepare_silos
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.clv import rfm_summary
from hxmetrics.measures.nps import nps
from hxmetrics.measures.satisfaction import ces, csat
from hxmetrics.privacy import Disclosure
from hxmetrics.report.sections.formatting import level
from hxmetrics.report.sections.plan import make_plan, svu_where
from hxmetrics.report.sections.settings import CLV_UNIT, HX_ITEMS, ROLES, USE_REASONS
from hxmetrics.stakeholders import StakeholderRegistry
from hxmetrics.tables import EXHAUST_TABLES, ROLE_OF_SILO, ROSTERS, SILO_OF_ROLE, validate

#: The tables whose rows name a silo's record, and the time each row is attributed at.
ATTRIBUTED: dict[str, str] = {
    **{t: "opened" if t == "tickets" else "timestamp" for t in EXHAUST_TABLES},
    "comments": "timestamp",
    "invitations": "sent",
}


@dataclass
class Context:
    """What every section needs: the checked tables, the stakeholder model, settings.

    Results used by several sections are computed once (cached properties), without
    suppression; :meth:`plan` registers every number the report will show with the
    report's one :class:`~hxmetrics.privacy.Disclosure`, and the sections read what may
    be shown through :meth:`shown`, :meth:`count` and :meth:`comparison_hidden`.
    """

    tables: dict[str, pd.DataFrame]
    registry: StakeholderRegistry
    attributed: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    min_n: int
    confidence: float
    random_state: int
    keys: tuple[str, ...] = ()
    missing_keys: tuple[str, ...] = ()
    #: How records were linked: ``"exact"`` (shared keys) or ``"probabilistic"``.
    method: str = "exact"
    #: The instrument catalogue answers were checked against (``--instruments``), if any.
    catalogue: Any = None
    disclosure: Disclosure = field(default_factory=lambda: Disclosure(None))
    planned: dict[str, Any] = field(default_factory=dict)
    #: Statistical warnings of the measures, by (topic, group), for the sections to show.
    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    links: list[tuple[tuple[str, Mapping[str, Any] | None], ...]] = field(default_factory=list)
    _answers: dict[tuple[str, tuple[str, ...] | None], np.ndarray] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def build(
        cls,
        tables: Mapping[str, pd.DataFrame],
        *,
        as_of: pd.Timestamp,
        min_n: int,
        keys: tuple[str, ...],
        confidence: float,
        random_state: int,
        method: str = "exact",
        model: Any = None,
        threshold: float | None = None,
        catalogue: Any = None,
    ) -> Context:
        """Resolve the stakeholders and attribute every exhaust table.

        ``method``, ``model`` and ``threshold`` are those of
        :meth:`~hxmetrics.stakeholders.StakeholderRegistry.from_rosters`: ``"exact"``
        links records that share a key; ``"probabilistic"`` scores record pairs with a
        linkage model (``model``: a saved one, else fitted on these rosters with
        ``random_state``) and links those at or above ``threshold``.
        """
        rosters = {t: tables[t] for t in ROSTERS if t in tables}
        present = [k for k in keys if any(k in df.columns for df in rosters.values())]
        linkage: dict[str, Any] = {}
        if method != "exact":
            linkage = {
                "method": method,
                "model": model,
                "threshold": threshold,
                "random_state": random_state,
            }
        elif model is not None or threshold is not None:
            raise ParameterError(
                f"model and threshold apply to method='probabilistic'; got method={method!r}."
            )
        registry = StakeholderRegistry.from_rosters(
            customers=rosters.get("customers"),
            workers=rosters.get("workers"),
            partners=rosters.get("partners"),
            keys=present,
            validate_rosters=False,
            **linkage,
        )
        attributed = {}
        # Every table of rows from a silo's record: the exhaust tables, the comments
        # and the invitations (each row gets its person and the roles held then).
        for table, time in ATTRIBUTED.items():
            if table in tables:
                attributed[table] = registry.attribute(tables[table], time=time)
        return cls(
            tables=dict(tables),
            registry=registry,
            attributed=attributed,
            as_of=pd.Timestamp(as_of),
            min_n=min_n,
            confidence=confidence,
            random_state=random_state,
            keys=tuple(present),
            missing_keys=tuple(k for k in keys if k not in present),
            method=method,
            catalogue=catalogue,
            disclosure=Disclosure(min_n),
        )

    # -- text around the sections ---------------------------------------------------
    def person_ids(self) -> pd.Index:
        """Resolved person ids as strings (never shown; the privacy guard refuses them)."""
        # An Index, not a list: millions of ids stay in one array.
        return pd.Index(self.registry.crosswalk["person_id"].unique()).astype("str")

    def subtitle(self, source: str | None) -> str:
        """One line under the title: the data, its size and the reference date."""
        parts = [] if source is None else [source.strip()[:1].upper() + source.strip()[1:]]
        people = self.count("people")
        if people is not None:
            parts.append(f"{people:,} people")
        times = [
            pd.to_datetime(frame["opened" if name == "tickets" else "timestamp"])
            for name, frame in self.tables.items()
            if name in EXHAUST_TABLES
        ]
        stamps = pd.concat(times) if times else pd.Series(dtype="datetime64[ns]")
        if stamps.notna().any():
            parts.append(
                f"activity {stamps.min():%Y-%m-%d} to {stamps.max():%Y-%m-%d}",
            )
        parts.append(f"as of {self.as_of:%Y-%m-%d}")
        return " · ".join(parts)

    def footer(self) -> str:
        """How the report was made (no timestamp, so that it is repeatable)."""
        return (
            f"Made with hxmetrics {hxmetrics.__version__}. Intervals are "
            f"{level(self.confidence)} confidence intervals. Groups with fewer than "
            f"{self.min_n} people or answers are suppressed, together with other groups "
            "where needed so that no hidden number can be recovered by subtraction from "
            "any total, margin, difference or label shown anywhere in this report. No name, "
            "email, phone number or record id from the input appears in this report. "
            + self.linkage_note()
        )

    def linkage_note(self) -> str:
        """One sentence: how records of one person were linked across the silos."""
        if self.method == "exact":
            keys = ", ".join(self.keys) if self.keys else "no key (one person per record)"
            return f"Records were linked across silos by exact shared keys: {keys}."
        info = self.registry.crosswalk.attrs.get("hxmetrics", {})
        threshold = info.get("threshold")
        at = "" if threshold is None else f" of at least {float(threshold):g}"
        return (
            "Records were linked across silos by a probabilistic record-linkage model "
            f"(Fellegi-Sunter, splink): pairs with a match probability{at} are one person."
        )

    # -- the stakeholder model --------------------------------------------------------
    @cached_property
    def hybrids(self) -> pd.DataFrame:
        """Per person: roles ever, roles at ``as_of``, hybrid labels and type."""
        return self.registry.hybrids(self.as_of)

    @property
    def n_persons(self) -> int:
        return int(self.registry.crosswalk["person_id"].nunique())

    @property
    def n_records(self) -> int:
        return len(self.registry.crosswalk)

    @cached_property
    def n_crossing(self) -> int:
        """Persons who ever held more than one role."""
        return int(self.hybrids["roles_ever"].astype("str").str.contains("+", regex=False).sum())

    # -- survey answers ----------------------------------------------------------------
    @cached_property
    def responses(self) -> pd.DataFrame:
        """Attributed responses with ``role`` (the surveying silo's role) and ``use``.

        ``use`` is the reason a row is used (``"used"``) or left out: its attribution
        status when that is not ``ok``, or ``"role_not_held"`` when the person did
        not hold the surveying silo's role at the time of the answer.
        """
        # A shallow copy: the new columns are added to this frame only, the attributed
        # table's columns are shared (a deep copy costs gigabytes at 10M rows).
        frame = self._attributed_responses().copy(deep=False)
        # Both columns are worked out on integer codes of the few distinct silos and
        # statuses (no string per row until the end): seconds saved at 10M rows.
        silo_codes, silos = pd.factorize(frame["silo"])
        roles = sorted({ROLE_OF_SILO[str(v)] for v in silos if str(v) in ROLE_OF_SILO})
        of_silo = [
            roles.index(ROLE_OF_SILO[str(v)]) if str(v) in ROLE_OF_SILO else -1 for v in silos
        ]
        # Index -1 (a missing silo) picks the appended -1: no role.
        role_codes = np.asarray([*of_silo, -1], dtype=np.int64)[silo_codes]
        held = np.zeros(len(frame), dtype=bool)
        for r in ROLES:
            if r in roles:
                flag = frame[f"is_{r}"].fillna(False).astype(bool).to_numpy()
                held |= (role_codes == roles.index(r)) & flag
        status_codes, statuses = pd.factorize(frame["attribution"])
        names = [str(v) for v in statuses]
        uses = list(dict.fromkeys([*(v for v in names if v != "ok"), "used", "role_not_held"]))
        of_status = [uses.index(v) if v != "ok" else -2 for v in names]
        use_codes = np.asarray([*of_status, -1], dtype=np.int64)[status_codes]
        ok = use_codes == -2
        use_codes[ok] = np.where(held[ok], uses.index("used"), uses.index("role_not_held"))
        frame["role"] = pd.Series(
            pd.Categorical.from_codes(role_codes, categories=pd.Index(roles)), index=frame.index
        ).astype("str")
        frame["use"] = pd.Series(
            pd.Categorical.from_codes(use_codes, categories=pd.Index(uses)), index=frame.index
        ).astype("str")
        return frame

    @property
    def has_responses(self) -> bool:
        """Whether the input holds survey responses (a ``responses`` table with rows).

        Without them (an HR roster, a transaction log) the experience sections say so
        once and stay out of the way; :attr:`responses` is then an empty frame with
        the usual columns, so that every selection of answers is simply empty.
        """
        return len(self.attributed.get("responses", ())) > 0

    def _attributed_responses(self) -> pd.DataFrame:
        """The attributed responses, or an empty attributed frame when there are none."""
        frame = self.attributed.get("responses")
        if frame is not None:
            return frame
        columns = ("response_id", "silo", "source_id", "instrument", "item", "score", "timestamp")
        empty = validate(
            pd.DataFrame({c: pd.Series(dtype="str") for c in columns}), table="responses"
        )
        return self.registry.attribute(empty, time="timestamp")

    def answers(
        self,
        instrument: str,
        items: Sequence[str] | None = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The used answers of an instrument (and items): every column, or only ``columns``."""
        frame = self.responses
        key = (instrument, None if items is None else tuple(items))
        if key not in self._answers:
            # The rows are found once per selection (the NPS answers serve several
            # tables; each search converts millions of labels); a boolean mask is
            # kept, not the rows, so that no copy outlives its caller.
            rows = frame["instrument"].astype("str") == instrument
            if items is not None:
                rows &= frame["item"].astype("str").isin(list(items))
            rows &= frame["use"] == "used"
            self._answers[key] = rows.to_numpy(dtype=bool)
        chosen = self._answers[key]
        if columns is not None:
            return frame.loc[chosen, list(columns)].reset_index(drop=True)
        return frame.loc[chosen].reset_index(drop=True)

    def usage(self) -> pd.DataFrame:
        """Survey responses per instrument, by what happened to them.

        A response is one person's answers to one instrument at one time (its items
        share the respondent and the time, so they share the outcome).
        """
        frame = self.responses
        # On integer codes (one hash of each column, then one sort of one integer per
        # row): dropping duplicate rows of three text columns costs seconds at 10M rows.
        inst, insts = pd.factorize(frame["instrument"])
        use, uses = pd.factorize(frame["use"])
        resp = pd.factorize(frame["response_id"], use_na_sentinel=False)[0]
        n_i, n_u = len(insts), len(uses)
        # Rows without an instrument or a use are in no group (as groupby drops them).
        ok = (inst >= 0) & (use >= 0)
        triples = np.unique((resp[ok].astype(np.int64) * n_i + inst[ok]) * n_u + use[ok])
        counts = np.bincount(triples % (n_i * n_u), minlength=n_i * n_u).reshape(n_i, n_u)
        table = pd.DataFrame(
            counts,
            index=pd.Index(np.asarray(insts, dtype=object), dtype="str", name="instrument"),
            columns=pd.Index(np.asarray(uses, dtype=object), dtype="str", name="use"),
        )
        table = table.loc[counts.sum(axis=1) > 0, counts.sum(axis=0) > 0]
        table = table.sort_index(axis=0).sort_index(axis=1)
        reasons = list(USE_REASONS)
        for column in reasons:
            if column not in table.columns:
                table[column] = 0
        table["responses"] = table[list(table.columns)].sum(axis=1)
        # The items of each instrument, from the distinct (instrument, item) codes.
        item, item_names = pd.factorize(frame["item"], use_na_sentinel=False)
        has = inst >= 0
        pairs = np.unique(inst[has].astype(np.int64) * len(item_names) + item[has])
        names = [str(v) for v in np.asarray(item_names, dtype=object)]
        listed: dict[str, set[str]] = {}
        for code in pairs.tolist():
            listed.setdefault(str(insts[code // len(item_names)]), set()).add(
                names[code % len(item_names)]
            )
        items = pd.Series(
            {name: ", ".join(sorted(values)) for name, values in listed.items()}, dtype="str"
        )
        table = table.join(items.rename("items")).reset_index()
        return table[["instrument", "items", "responses", *reasons]]

    @cached_property
    def nps_by_role(self) -> pd.DataFrame:
        """NPS, eNPS and partner NPS: answers to each silo's survey, by role (unsuppressed)."""
        return nps(
            self.answers("nps", ["ltr"]),
            "score",
            by="role",
            confidence=self.confidence,
        )

    @cached_property
    def nps_by_hybrid(self) -> pd.DataFrame:
        """NPS by role and hybrid type (unsuppressed: the plan decides what is shown)."""
        return nps(
            self.answers("nps", ["ltr"]),
            "score",
            by=["role", "hybrid_type"],
            confidence=self.confidence,
        )

    def _csat(self, **grouping: Any) -> pd.DataFrame | None:
        """CSAT (top-2-box of 1-5) of the ``csat`` answers, or None without any."""
        rows = self.answers("csat", ["overall"])
        if rows.empty:
            return None
        return csat(rows, "score", scale=(1, 5), box=(4, 5), confidence=self.confidence, **grouping)

    def _ces(self, **grouping: Any) -> pd.DataFrame | None:
        """CES (mean of 1-7, higher is easier) of the ``ces`` answers, or None without any."""
        rows = self.answers("ces", ["effort"])
        if rows.empty:
            return None
        return ces(
            rows,
            "score",
            scale=(1, 7),
            polarity="higher_is_easier",
            confidence=self.confidence,
            **grouping,
        )

    @cached_property
    def csat_by_hybrid(self) -> pd.DataFrame | None:
        return self._csat(by="hybrid_type")

    @cached_property
    def csat_overall(self) -> pd.DataFrame | None:
        return self._csat()

    @cached_property
    def ces_by_hybrid(self) -> pd.DataFrame | None:
        return self._ces(by="hybrid_type")

    @cached_property
    def ces_overall(self) -> pd.DataFrame | None:
        return self._ces()

    # -- siloed vs unified ---------------------------------------------------------------
    @cached_property
    def comparisons(self) -> dict[str, SiloComparison]:
        """NPS the siloed way and the unified way, for everyone and for each role."""
        if not self.has_responses:
            return {}
        responses = self.tables["responses"]
        is_nps = (responses["instrument"].astype("str") == "nps") & (
            responses["item"].astype("str") == "ltr"
        )
        if not is_nps.any():
            return {}
        # The NPS rows are selected, checked and attributed once for every comparison
        # (the role-independent part of siloed_vs_unified; the same results).
        design = prepare_silos(self.registry, responses.loc[is_nps], measure="nps")
        out = {}
        for role in ("all", *ROLES):
            silo = SILO_OF_ROLE.get(role)
            if silo is not None and silo not in self.tables:
                continue
            try:
                out[role] = design.compare(role=role, confidence=self.confidence)
            except InputTableError:
                # No NPS answer belongs to this role (its roster is there, its survey
                # is not): no comparison and no headline card for it.
                if role == "all":
                    raise
        return out

    # -- the common core -----------------------------------------------------------------
    @cached_property
    def hx_long(self) -> pd.DataFrame:
        # Only the columns the index and the wide table read: this selection is kept
        # for the whole report and is millions of rows at scale.
        columns = ["response_id", "item", "score", "role", "hybrid_type", "person_id"]
        return self.answers("hx_core", HX_ITEMS, columns=columns)

    @cached_property
    def hx_wide(self) -> pd.DataFrame:
        """One row per response: the core items, ``role``, ``hybrid_type``, ``person_id``."""
        long = self.hx_long
        if long.empty:
            return pd.DataFrame(columns=["response_id", "role", "hybrid_type", *HX_ITEMS])
        items = long.pivot(index="response_id", columns="item", values="score")
        keys = long.groupby("response_id", sort=True)[["role", "hybrid_type", "person_id"]].first()
        wide = keys.join(items).reset_index()
        wide.columns = [str(c) for c in wide.columns]
        for item in HX_ITEMS:
            if item not in wide.columns:
                wide[item] = np.nan
        return wide

    # -- lifetime value ----------------------------------------------------------------------
    @cached_property
    def rfm(self) -> pd.DataFrame | None:
        if "transactions" not in self.attributed:
            return None
        tx = self.attributed["transactions"]
        used = tx.loc[tx["attribution"].astype("str") == "ok"]
        if used.empty:
            return None
        return rfm_summary(
            used,
            customer="person_id",
            time="timestamp",
            amount="amount",
            observation_end=self.as_of,
            unit=CLV_UNIT,
        )

    # -- the disclosure plan ---------------------------------------------------------------
    def plan(self) -> None:
        """Compute and register every number the sections show (once; see :func:`make_plan`).

        The per-answer working frames the plan needed (the used answers with their
        role and use, the core answers and the row masks) are released afterwards:
        the sections read the plan only, and at millions of answers these frames are
        gigabytes that the rest of the report (and the privacy guard) would carry.
        Asked for again, they are made again.
        """
        if self.planned:
            return
        make_plan(self)
        for name in ("responses", "hx_long"):
            self.__dict__.pop(name, None)
        self._answers.clear()

    @property
    def core_floor(self) -> int:
        """Fewest respondents for reliability and the HX index: estimates need ten."""
        return max(self.min_n, 10)

    # -- reading the plan ----------------------------------------------------------------
    def crossing(self) -> int | None:
        """People who ever held more than one role, or None when hidden."""
        self.plan()
        if not self.planned["crossing"]:
            return 0
        return self.count("crossing")

    def comparison_hidden(self, group: str) -> bool:
        """Whether a group of the siloed-vs-unified comparison is hidden.

        Its unified and siloed counts are linked (hidden together); a group with no
        unified count, or whose siloed count is 0 (no cell), is judged on what it has.
        """
        self.plan()
        where = svu_where(group)
        if not self.planned.get("svu_unified_units", {}).get(group):
            return True
        if self.disclosure.is_hidden("nps:unified", where):
            return True
        if self.planned["svu_siloed_units"].get(group):
            return self.disclosure.is_hidden("nps:siloed", where)
        return False

    def shown(self, name: str) -> pd.DataFrame:
        """A registered table as it may be shown (hidden rows' numbers missing)."""
        self.plan()
        empty = self.planned.get("empty", {})
        if name in empty:
            return empty[name].assign(suppressed=pd.Series(dtype=bool))
        return self.disclosure.table(name)

    def count(self, name: str) -> int | None:
        """A registered count, or None when it is hidden."""
        self.plan()
        return self.disclosure.count(name)
