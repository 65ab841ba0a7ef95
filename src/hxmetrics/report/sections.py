"""The sections of the main report, one function each, and the context they share.

Every number comes from a public function of :mod:`hxmetrics.measures`,
:mod:`hxmetrics.stakeholders` or :mod:`hxmetrics.compare`; this module only selects
rows, calls them, and lays the results out. Adding a measure to the report is one
more function ``(report, context) -> None`` in :data:`SECTIONS`.

Privacy: one :class:`hxmetrics.privacy.Disclosure` per report decides what may be
shown. :meth:`Context.plan` computes every table, card, count and figure source
unsuppressed and registers it before any section is laid out (primary suppression
below the report's ``min_n``, complementary suppression across every table of the
report, linked populations, comparisons with a hidden reference); the sections only
format what the plan shows. No identifier of a person or record is ever put into a
table, a figure or a sentence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

import hxmetrics
from hxmetrics.compare import COMPONENTS, SiloComparison, plot_decomposition, siloed_vs_unified
from hxmetrics.errors import HxError
from hxmetrics.measures.clv import BetaGeo, GammaGamma, customer_lifetime_value, rfm_summary
from hxmetrics.measures.index import hx_index
from hxmetrics.measures.invariance import InvarianceResult, measurement_invariance
from hxmetrics.measures.nps import nps
from hxmetrics.measures.reliability import reliability
from hxmetrics.measures.satisfaction import ces, csat, mean_score
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.tenure import boomerang_summary, median_tenure, retention_curve
from hxmetrics.plotting import (
    ROLE_COLORS,
    new_figure,
    plot_curves,
    plot_distribution,
    plot_estimates,
    plot_overlap,
    style,
)
from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Kpi, Report, Section
from hxmetrics.stakeholders import (
    HYBRID_RULES,
    StakeholderRegistry,
    attribution_summary,
)
from hxmetrics.tables import EXHAUST, ROLE_OF_SILO, ROSTERS

__all__ = ["SECTIONS", "Context"]

ROLES = ("customer", "worker", "partner")
INSTRUMENT_NAME = {
    "customer": "Customer NPS",
    "worker": "Employee NPS (eNPS)",
    "partner": "Partner NPS",
}
HYBRID_NAME = {
    "none": "no hybrid pattern",
    "worker_customer": "worker & customer",
    "partner_customer": "partner & customer",
    "worker_partner": "worker & partner",
    "gig_worker": "gig or freelance worker",
    "boomerang": "boomerang (re-hired worker)",
    "alumni_customer": "former worker, now customer",
    "alumni_partner": "former worker, now partner",
    "customer_to_worker": "customer who became a worker",
}
HX_ITEMS = tuple(f"hx{i}" for i in range(1, 7))
# Lifetime value: one year ahead in ISO weeks, 10% a year discount (a common
# planning rate), converted to the weekly rate that compounds to it.
CLV_UNIT = "W"
CLV_HORIZON = 52
CLV_ANNUAL_DISCOUNT = 0.10
CLV_WEEKLY_DISCOUNT = (1 + CLV_ANNUAL_DISCOUNT) ** (1 / 52) - 1
TENURE_UNIT = "M"
# Bases of the disclosure plan (see Context.plan): the row universes cells are drawn from.
PERSONS = "persons"
RECORDS = "records"
NPS_BASE = "responses:nps"
HX_BASE = "responses:hx_core"
HX_PERSONS = "respondents:hx_core"
BUYERS = "buyers"
EPISODES = "episodes"
LEAVERS = "leavers:worker"
#: The answers the measures use (the usage table's "used" cell of each instrument).
USED: dict[str, Any] = {"use": "used"}
USE_REASONS = ("used", "role_not_held", "unknown_id", "outside_episodes", "missing_time")
LEFT_OUT = USE_REASONS[1:]
FIG_WIDTH = 7.6
PCT_FMT = "{:.1f}"


def signed(decimals: int) -> Callable[[Any], str]:
    """Formatter with an explicit sign; values that round to zero show no sign."""

    def fmt(value: Any) -> str:
        v = float(value)
        if abs(v) < 0.5 * 10.0**-decimals:
            return f"{0.0:.{decimals}f}"
        return f"{v:+.{decimals}f}"

    return fmt


def p_value(value: Any) -> str:
    """A p-value with three decimals, or "<0.001"."""
    v = float(value)
    return "<0.001" if v < 0.0005 else f"{v:.3f}"


NPS_FMT = signed(1)

_REFERENCES = (
    "Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review "
    "81(12), 46-54.",
    "Rocks, B. (2016). Interval estimation for the Net Promoter Score. The American "
    "Statistician 70(4), 365-372.",
    "Wilson, E. B. (1927). Probable inference, the law of succession, and statistical "
    "inference. JASA 22, 209-212.",
    "Dixon, M., Toman, N. & DeLisi, R. (2013). The Effortless Experience. Portfolio.",
    "Holm, S. (1979). A simple sequentially rejective multiple test procedure. "
    "Scandinavian Journal of Statistics 6, 65-70.",
    "Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. "
    "Psychometrika 16, 297-334.",
    "Feldt, L. S., Woodruff, D. J. & Salih, F. A. (1987). Statistical inference for "
    "coefficient alpha. Applied Psychological Measurement 11, 93-103.",
    "McDonald, R. P. (1999). Test Theory: A Unified Treatment. Erlbaum.",
    "Meredith, W. (1993). Measurement invariance, factor analysis and factorial "
    "invariance. Psychometrika 58, 525-543.",
    "Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement "
    "invariance. Structural Equation Modeling 14, 464-504.",
    "OECD/JRC (2008). Handbook on Constructing Composite Indicators. OECD Publishing.",
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). Counting your customers the "
    "easy way: an alternative to the Pareto/NBD model. Marketing Science 24, 275-284.",
    "Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.",
    "Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete "
    "observations. JASA 53, 457-481.",
    "Brookmeyer, R. & Crowley, J. (1982). A confidence interval for the median survival "
    "time. Biometrics 38, 29-41.",
    "Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust "
    "inference. Journal of Human Resources 50, 317-372.",
    "Hundepool, A., Domingo-Ferrer, J., Franconi, L., Giessing, S., Schulte Nordholt, E., "
    "Spicer, K. & de Wolf, P.-P. (2012). Statistical Disclosure Control. Wiley.",
    "Bickel, P. J., Hammel, E. A. & O'Connell, J. W. (1975). Sex bias in graduate "
    "admissions: data from Berkeley. Science 187, 398-404.",
)


def hybrid_name(label: Any) -> str:
    """Reader-facing name of a hybrid type label."""
    text = str(label)
    return HYBRID_NAME.get(text, text.replace("_", " "))


def _hybrid_order(labels: Sequence[Any]) -> list[str]:
    known = ["none", *(rule.label for rule in HYBRID_RULES)]
    present = [str(v) for v in dict.fromkeys(labels)]
    return [v for v in known if v in present] + sorted(v for v in present if v not in known)


def _ci(low: Any, high: Any, fmt: Callable[[Any], str]) -> str:
    if _missing(low) or _missing(high):
        return "no interval"
    return f"{fmt(low)} to {fmt(high)}"


def _f(value: Any) -> float:
    """A cell as a float (pandas' stubs type cells too broadly for ``float()``)."""
    return float(value)


def _row_at(frame: pd.DataFrame, column: str, *, largest: bool) -> pd.Series:
    """The row with the largest (or smallest) value of ``column``."""
    values = frame[column].to_numpy(dtype=float)
    return frame.iloc[int(np.nanargmax(values) if largest else np.nanargmin(values))]


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _table(
    section: Section,
    ctx: Context,
    frame: pd.DataFrame,
    *,
    caption: str,
    labels: Mapping[str, str],
    number_formats: Mapping[str, Any] | None = None,
) -> None:
    """Add a result table: a plain index, a 'suppressed' mark only where a group is hidden.

    A column labelled "CI from" gets the interval's level in its header.
    """
    shown = frame.reset_index(drop=True)
    formats = dict(number_formats or {})
    if "suppressed" in shown.columns:
        hidden = shown["suppressed"].fillna(False).astype(bool)
        if hidden.any():
            shown["suppressed"] = hidden
            formats["suppressed"] = lambda v: "suppressed" if v else ""
        else:
            shown = shown.drop(columns="suppressed")
    section.add_table(
        shown,
        caption=caption,
        labels={k: _header(k, v, ctx) for k, v in labels.items() if k in shown},
        number_formats={k: v for k, v in formats.items() if k in shown},
    )


def _header(column: str, label: str, ctx: Context) -> str:
    if column == "suppressed":
        return ""
    if label == "CI from":
        return f"{_level(ctx.confidence)} CI from"
    return label


def _level(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _count(n: Any) -> str:
    return "–" if _missing(n) else f"{int(n):,}"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _ci_formats(column: str, fmt: Any) -> dict[str, Any]:
    """One number format for an estimate column and its interval columns."""
    return {column: fmt, "ci_low": fmt, "ci_high": fmt}


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
    disclosure: Disclosure = field(default_factory=lambda: Disclosure(None))
    planned: dict[str, Any] = field(default_factory=dict)
    _links: list[tuple[tuple[str, Mapping[str, Any] | None], ...]] = field(default_factory=list)
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
    ) -> Context:
        """Resolve the stakeholders and attribute every exhaust table."""
        rosters = {t: tables[t] for t in ROSTERS if t in tables}
        present = [k for k in keys if any(k in df.columns for df in rosters.values())]
        registry = StakeholderRegistry.from_rosters(
            customers=rosters.get("customers"),
            workers=rosters.get("workers"),
            partners=rosters.get("partners"),
            keys=present,
            validate_rosters=False,
        )
        attributed = {}
        for table in EXHAUST:
            if table in tables:
                time = "opened" if table == "tickets" else "timestamp"
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
            if name in EXHAUST
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
            f"{_level(self.confidence)} confidence intervals. Groups with fewer than "
            f"{self.min_n} people or answers are suppressed, together with other groups "
            "where needed so that no hidden number can be recovered by subtraction from "
            "any total, margin, difference or label shown anywhere in this report. No name, "
            "email, phone number or record id from the input appears in this report."
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
        frame = self.attributed["responses"].copy(deep=False)
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
        per = frame.drop_duplicates(["instrument", "response_id", "use"])
        table = (
            per.groupby(["instrument", "use"], observed=True, sort=True)
            .size()
            .unstack("use", fill_value=0)
        )
        reasons = list(USE_REASONS)
        for column in reasons:
            if column not in table.columns:
                table[column] = 0
        table["responses"] = table[list(table.columns)].sum(axis=1)
        # The distinct (instrument, item) pairs first: a set over every answer row
        # costs seconds at millions of rows, the pairs are a handful.
        pairs = frame[["instrument", "item"]].drop_duplicates()
        items = pairs.groupby("instrument", observed=True, sort=True)["item"].agg(
            lambda values: ", ".join(sorted({str(v) for v in values}))
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
        responses = self.tables["responses"]
        is_nps = (responses["instrument"].astype("str") == "nps") & (
            responses["item"].astype("str") == "ltr"
        )
        if not is_nps.any():
            return {}
        out = {}
        for group in ("all", *ROLES):
            silo = {v: k for k, v in ROLE_OF_SILO.items()}.get(group)
            if silo is not None and silo not in self.tables:
                continue
            # Only the NPS rows: siloed_vs_unified selects them itself, so the result is
            # the same, without attributing every other answer again for each group.
            out[group] = siloed_vs_unified(
                self.registry,
                responses.loc[is_nps],
                measure="nps",
                group=group,
                confidence=self.confidence,
            )
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
        """Compute every number the sections show, unsuppressed, and register it.

        One :class:`~hxmetrics.privacy.Disclosure` decides, across every table, card,
        figure and sentence of the report, which cells are hidden; it sees true counts
        (every measure here runs with ``min_n=None``) and freezes at its first read, so
        everything is registered here, before any section is laid out. The sections
        then only format what the plan holds.

        Cells are described consistently, so that one population in two tables is one
        cell: persons are cells of base ``"persons"`` (``roles_ever``, ``roles_as_of``,
        ``hybrid_type``, a hybrid label); survey answers are cells of
        ``"responses:<instrument>"`` with ``use`` (the usage table) and, for used
        answers, ``role`` and ``hybrid_type``; populations that are the same people
        under other descriptions (a role's siloed and unified NPS and its answers) are
        linked.
        """
        if self.planned:
            return
        d = self.disclosure
        self._plan_persons(d)
        self._plan_answers(d)
        self._plan_comparisons(d)
        self._plan_core(d)
        self._plan_value(d)
        self._plan_retention(d)
        self._plan_quality(d)
        for cells in self._links:
            d.link(*cells)
        self.planned["done"] = True

    def _add(self, name: str, frame: pd.DataFrame, **options: Any) -> None:
        """Register a table; an empty one is kept aside (it has no cell to show)."""
        if len(frame):
            self.disclosure.add(name, frame, **options)
        else:
            self.planned.setdefault("empty", {})[name] = frame

    def _same(self, *cells: tuple[str, Mapping[str, Any] | None]) -> None:
        """Cells that are the same people (hidden together), linked once all exist."""
        self._links.append(cells)

    def _plan_persons(self, d: Disclosure) -> None:
        summary = self.registry.summary(self.as_of)
        summary = summary.assign(roles=summary["roles"].astype("str"))
        self.planned["roles"] = summary
        d.add_count("people", self.n_persons, base=PERSONS)
        ever = summary.loc[summary["n_ever"] > 0].rename(columns={"roles": "roles_ever"})
        self._add("roles_ever", ever, base=PERSONS, by="roles_ever", n="n_ever")
        now = summary.loc[summary["n_as_of"] > 0].rename(columns={"roles": "roles_as_of"})
        self._add("roles_as_of", now, base=PERSONS, by="roles_as_of", n="n_as_of")
        multi = ever.loc[ever["roles_ever"].str.contains("+", regex=False)]
        self.planned["crossing"] = int(multi["n_ever"].sum())
        if len(multi):
            # The people in more than one role are the total of these rows.
            crossing = {"roles_ever": multi["roles_ever"].tolist()}
            self._add(
                "roles_crossing", multi, base=PERSONS, by="roles_ever", where=crossing, n="n_ever"
            )
            d.add_count("crossing", self.planned["crossing"], base=PERSONS, where=crossing)
        hybrids = self.hybrids
        counts = hybrids["hybrid_type"].astype("str").value_counts().sort_index()
        types = pd.DataFrame({"hybrid_type": counts.index.astype("str"), "n": counts.to_numpy()})
        self._add("hybrid_types", types, base=PERSONS, by="hybrid_type")
        as_type = dict(zip(types["hybrid_type"].tolist(), types["n"].tolist(), strict=True))
        patterns: dict[str, int] = {}
        for rule in HYBRID_RULES:
            if rule.label not in hybrids.columns:
                continue
            n = int(hybrids[rule.label].fillna(False).astype(bool).sum())
            patterns[rule.label] = n
            if n == 0:
                continue
            d.add_count(f"pattern:{rule.label}", n, base=PERSONS, where={rule.label: True})
            # A type is part of its pattern's people; when the two differ by fewer than
            # min_n people they are (nearly) the same people: hidden together.
            if rule.label in as_type and n - int(as_type[rule.label]) < self.min_n:
                self._same((PERSONS, {rule.label: True}), (PERSONS, {"hybrid_type": rule.label}))
        self.planned["patterns"] = patterns
        d.add_count("records", self.n_records, base=RECORDS)
        matched = self.registry.crosswalk["matched_on"].astype("str") != "none"
        linked = _counts({"linked": [True, False]}, [int(matched.sum()), int((~matched).sum())])
        self._add("records_linked", linked, base=RECORDS, by="linked")
        conflicts = self.registry.conflicts
        if len(conflicts):
            kinds = (
                conflicts.groupby("kind", sort=True)
                .agg(conflicts=("conflict_id", "nunique"), records=("source_id", "size"))
                .reset_index()
            )
            kinds["kind"] = kinds["kind"].astype("str")
            self.planned["conflicts"] = kinds
            self._add("conflicts", kinds, base="conflicts", by="kind", n="conflicts")
            self._add("conflict_records", kinds, base="conflict_records", by="kind", n="records")
            d.add_count(
                "conflicts_total", int(conflicts["conflict_id"].nunique()), base="conflicts"
            )
            for kind in kinds["kind"]:
                self._same(("conflicts", {"kind": kind}), ("conflict_records", {"kind": kind}))

    def _plan_answers(self, d: Disclosure) -> None:
        usage = self.usage()
        self.planned["usage"] = usage
        for row in usage.to_dict("records"):
            instrument = str(row["instrument"])
            base = f"responses:{instrument}"
            # "Used" is the total of the instrument's measure tables (the same cell).
            # The responses left out are their own total, never summed with the used
            # ones: a few unusable records must not hide the measures' totals, so the
            # number of all responses is not shown (it would give the left-out back).
            if int(row["used"]):
                d.add_count(f"usage_used:{instrument}", int(row["used"]), base=base, where=USED)
            reasons = [r for r in LEFT_OUT if int(row[r]) > 0]
            if reasons:
                left = {"use": list(LEFT_OUT)}
                long = _counts({"use": reasons}, [int(row[r]) for r in reasons])
                self._add(f"usage:{instrument}", long, base=base, by="use", where=left)
                total = sum(int(row[r]) for r in reasons)
                d.add_count(f"usage_left:{instrument}", total, base=base, where=left)
        self._add("nps_by_role", self.nps_by_role, base=NPS_BASE, by="role", where=USED)
        self._add(
            "nps_by_hybrid",
            self.nps_by_hybrid,
            base=NPS_BASE,
            by=["role", "hybrid_type"],
            where=USED,
        )
        self.planned["nps_roles"] = set(self.nps_by_role["role"].astype("str"))
        missing = int(self.nps_by_role["n_excluded_missing"].fillna(0).sum())
        self.planned["nps_missing"] = missing
        if missing:
            d.add_count("nps_missing", missing, base=NPS_BASE, where={**USED, "score": "missing"})
        rows = self.answers("nps", ["ltr"])
        for role in ROLES:
            part = rows.loc[rows["role"] == role]
            if part.empty or "none" not in set(part["hybrid_type"].astype("str")):
                continue
            result = nps(part, "score", by="hybrid_type", confidence=self.confidence)
            compared = compare_groups(result, reference="none", correction="holm")
            if compared.empty:
                continue
            # The role's groups again (cells of nps_by_hybrid): the shown ones are
            # compared again at display time, Holm-adjusted among themselves.
            self._add(
                f"nps_part:{role}",
                result,
                base=NPS_BASE,
                by="hybrid_type",
                where={**USED, "role": role},
                n=None,
            )
            # Differences and p-values of a group are numbers of its cell and of the
            # reference's: hidden with either (the reference through compared_with).
            self._add(
                f"nps_diff:{role}",
                compared,
                base=NPS_BASE,
                by="hybrid_type",
                where={**USED, "role": role},
                n=None,
                compared_with={"hybrid_type": "none"},
            )
            self.planned[f"nps_diff:{role}"] = True
        for name, grouped in (
            ("csat_by_hybrid", self.csat_by_hybrid),
            ("ces_by_hybrid", self.ces_by_hybrid),
        ):
            if grouped is not None:
                base = "responses:csat" if name.startswith("csat") else "responses:ces"
                self._add(name, grouped, base=base, by="hybrid_type", where=USED)
        if self.csat_overall is not None:
            self._add("csat_overall", self.csat_overall, base="responses:csat", where=USED)
        if self.ces_overall is not None:
            self._add("ces_overall", self.ces_overall, base="responses:ces", where=USED)

    def _plan_comparisons(self, d: Disclosure) -> None:
        results = self.comparisons
        if not results:
            return

        def units(group: str, estimator: str) -> int:
            est = results[group].estimates.set_index("estimator")
            return int(_f(est.loc[estimator, "n_units"]))

        roles = [g for g in ROLES if g in results]
        if roles:
            # Silo records partition everyone's siloed count: one table, one relation.
            siloed = pd.DataFrame({"group": roles, "n": [units(g, "siloed") for g in roles]})
            self._add("svu_siloed", siloed, base="nps:siloed", by="group")
        for group in results:
            where = _svu_where(group)
            if group == "all":
                d.add_count("svu_siloed:all", units(group, "siloed"), base="nps:siloed")
            d.add_count(
                f"svu_unified:{group}", units(group, "unified"), base="nps:unified", where=where
            )
            cells: list[tuple[str, Mapping[str, Any] | None]] = [
                ("nps:siloed", where),
                ("nps:unified", where),
            ]
            # The same role's NPS counted per answer: the same people, hidden together.
            if group == "all" and self.planned["nps_roles"]:
                cells.append((NPS_BASE, USED))
            elif group in self.planned["nps_roles"]:
                cells.append((NPS_BASE, {**USED, "role": group}))
            self._same(*cells)

    def _plan_core(self, d: Disclosure) -> None:
        wide = self.hx_wide
        if wide.empty:
            return
        items = list(HX_ITEMS)
        floor = self.core_floor
        rel = reliability(wide, items=items, by="role", min_n=floor, confidence=self.confidence)
        self.planned["reliability"] = rel
        complete = {**USED, "complete": True}
        first = rel.drop_duplicates("role")[["role", "n"]]
        self._add("reliability_n", first, base=HX_BASE, by="role", where=complete)
        self._add("reliability", rel, base=HX_BASE, by="role", where=complete, n=None)
        for key, group in (("hx_role", "role"), ("hx_type", "hybrid_type")):
            result = hx_index(
                self.hx_long,
                items,
                group=group,
                person="person_id",
                min_n=1,
                confidence=self.confidence,
                random_state=self.random_state,
            )
            self.planned[key] = result
            self._add(key, result, base=HX_PERSONS, by=group)
            self._add(
                f"{key}:responses", result, base=HX_BASE, by=group, where=USED, n="n_responses"
            )
            for value in result[group].astype("str"):
                self._same((HX_PERSONS, {group: value}), (HX_BASE, {**USED, group: value}))

    def _plan_value(self, d: Disclosure) -> None:
        rfm = self.rfm
        if rfm is None:
            return
        try:
            bg = BetaGeo().fit(rfm)
            gg = GammaGamma().fit(rfm)
        except HxError as exc:
            self.planned["clv_error"] = type(exc).__name__
            return
        value = customer_lifetime_value(
            bg, gg, rfm, horizon=CLV_HORIZON, unit=CLV_UNIT, discount_rate=CLV_WEEKLY_DISCOUNT
        )
        hyb = self.hybrids.set_index("person_id")["hybrid_type"]
        per_type = pd.DataFrame(
            {"clv": value["clv"].to_numpy(), "hybrid_type": hyb.reindex(value.index).to_numpy()}
        )
        by_type = mean_score(per_type, "clv", by="hybrid_type", confidence=self.confidence)
        self.planned.update(clv_models=(bg, gg), clv_value=value, clv_by_type=by_type)
        d.add_count("buyers", len(rfm), base=BUYERS)
        self._add("clv_by_type", by_type, base=BUYERS, by="hybrid_type")
        repeat = rfm["frequency"].to_numpy() > 0
        self._add(
            "buyers_repeat",
            _counts({"repeat": [True, False]}, [int(repeat.sum()), int((~repeat).sum())]),
            base=BUYERS,
            by="repeat",
        )

    def _plan_retention(self, d: Disclosure) -> None:
        episodes = self.registry.episodes
        if episodes.empty:
            return
        medians = median_tenure(
            episodes, as_of=self.as_of, unit=TENURE_UNIT, by="role", confidence=self.confidence
        )
        medians = medians.assign(role=medians["role"].astype("str"))
        self.planned["tenure"] = medians
        self._add("tenure", medians, base=EPISODES, by="role")
        status = pd.concat(
            [
                medians[["role"]].assign(status="ended", n=medians["n_events"]),
                medians[["role"]].assign(status="running", n=medians["n_censored"]),
            ],
            ignore_index=True,
        )
        status = status.loc[status["n"] > 0]
        self._add("tenure_status", status, base=EPISODES, by=["role", "status"])
        if (episodes["role"].astype("str") == "worker").any():
            boom = boomerang_summary(
                episodes,
                as_of=self.as_of,
                role="worker",
                unit=TENURE_UNIT,
                confidence=self.confidence,
            )
            row = boom.iloc[0]
            leavers, returned = int(row["n"]), int(row["n_returned"])
            self.planned["boomerang"] = row
            d.add_count("leavers", leavers, base=LEAVERS)
            self._add(
                "leavers_returned",
                _counts({"returned": [True, False]}, [returned, leavers - returned]),
                base=LEAVERS,
                by="returned",
            )
            if returned and self.planned["patterns"].get("boomerang") == returned:
                self._same((LEAVERS, {"returned": True}), (PERSONS, {"boomerang": True}))

    def _plan_quality(self, d: Disclosure) -> None:
        episodes = self.planned.get("tenure")
        for name, frame in self.tables.items():
            base = f"rows:{name}"
            d.add_count(f"rows:{name}", len(frame), base=base)
            if name in self.attributed:
                counts = attribution_summary(self.attributed[name])
                counts = counts.assign(attribution=counts["attribution"].astype("str"))
                counts = counts.loc[counts["n"] > 0, ["attribution", "n"]]
                self._add(f"attribution:{name}", counts, base=base, by="attribution")
            role = ROLE_OF_SILO.get(name)
            if name in ROSTERS and role is not None and episodes is not None:
                # A roster's rows are its role's episodes when they count the same.
                mine = episodes.loc[episodes["role"] == role, "n"]
                if len(mine) and int(mine.iloc[0]) == len(frame):
                    self._same((base, None), (EPISODES, {"role": role}))
        rfm = self.rfm
        if rfm is not None:
            excluded = rfm.attrs.get("excluded", {})
            for reason, n in sorted(excluded.items()):
                if n:
                    d.add_count(
                        f"clv_excluded:{reason}",
                        int(n),
                        base="rows:transactions",
                        where={"excluded": str(reason)},
                    )
            self.planned["clv_excluded"] = {str(k): int(v) for k, v in excluded.items() if v}

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
        """Whether a group of the siloed-vs-unified comparison is hidden."""
        self.plan()
        return self.disclosure.is_hidden("nps:siloed", _svu_where(group))

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


def _counts(labels: Mapping[str, Sequence[Any]], n: Sequence[int]) -> pd.DataFrame:
    """A one-column partition with its counts, empty parts left out.

    An empty part holds no one: it is shown as 0 and never hidden (hiding it would
    only force hiding a neighbour).
    """
    ((column, values),) = labels.items()
    frame = pd.DataFrame({column: list(values), "n": [int(v) for v in n]})
    return frame.loc[frame["n"] > 0].reset_index(drop=True)


def _svu_where(group: str) -> dict[str, str] | None:
    return None if group == "all" else {"group": group}


Builder = Callable[[Report, Context], None]


# ---------------------------------------------------------------------------------------
# 1. Overview
# ---------------------------------------------------------------------------------------
def _role_row(result: pd.DataFrame, role: str) -> pd.Series | None:
    rows = result.loc[result["role"].astype("str") == role]
    return None if rows.empty else rows.iloc[0]


def _nps_kpi(result: pd.DataFrame, role: str, confidence: float) -> Kpi | None:
    row = _role_row(result, role)
    if row is None:
        return None
    if bool(row["suppressed"]):
        return Kpi(INSTRUMENT_NAME[role], None, note="suppressed: too few answers")
    return Kpi(
        INSTRUMENT_NAME[role],
        float(row["nps"]),
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        n=int(row["n"]),
        fmt=NPS_FMT,
        note="points, -100 to +100",
        confidence=confidence,
    )


def overview(report: Report, ctx: Context) -> None:
    """Headline numbers and what stands out."""
    section = report.add_section(
        "overview",
        "At a glance",
        intro=(
            "This report looks at the people your organisation serves, employs and works "
            "with as one population. Customer records, worker records and partner records "
            "were linked into persons, so someone who is both a customer and an employee "
            "counts once, and every survey answer is tied to the roles the person held when "
            "they gave it. Each score comes with its "
            f"{_level(ctx.confidence)} confidence interval: the range the true value "
            "most likely lies in, given how many people answered."
        ),
    )
    people = ctx.count("people")
    records = ctx.count("records")
    crossing = ctx.crossing()
    kpis = [
        Kpi(
            "People",
            people,
            fmt="{:,}",
            note="linked from the silo records"
            if records is None
            else f"linked from {records:,} records",
        ),
        Kpi(
            "People in more than one role",
            crossing,
            fmt="{:,}",
            note="ever"
            if people is None or crossing is None
            else f"{_pct(crossing, people)} of all people, ever",
        ),
    ]
    by_role = ctx.shown("nps_by_role")
    for role in ROLES:
        kpi = _nps_kpi(by_role, role, ctx.confidence)
        if kpi is not None:
            kpis.append(kpi)
    for name, label, column, fmt, unit, note in (
        ("csat_overall", "CSAT (top-2-box)", "csat", PCT_FMT, "%", "share answering 4 or 5 of 5"),
        (
            "ces_overall",
            "Customer effort (CES)",
            "ces",
            "{:.2f}",
            "",
            "mean ease, 1 to 7 (7 = easiest)",
        ),
    ):
        if getattr(ctx, name) is None:
            continue
        row = ctx.shown(name).iloc[0]
        if bool(row["suppressed"]):
            kpis.append(Kpi(label, None, note="suppressed: too few answers"))
            continue
        kpis.append(
            Kpi(
                label,
                float(row[column]),
                ci_low=float(row["ci_low"]),
                ci_high=float(row["ci_high"]),
                n=int(row["n"]),
                fmt=fmt,
                unit=unit,
                note=note,
                confidence=ctx.confidence,
            )
        )
    section.add_kpis(kpis)
    findings = _findings(ctx)
    if findings:
        section.add_heading("What stands out")
        section.add_list(findings)


def _findings(ctx: Context) -> list[str]:
    out = []
    people, crossing = ctx.count("people"), ctx.crossing()
    if people is not None and crossing is not None:
        out.append(
            f"{crossing:,} of {people:,} people ({_pct(crossing, people)}) have held more "
            "than one role; a siloed view counts them once per silo."
        )
    for role, tests in _hybrid_differences(ctx).items():
        differs = tests.loc[tests["differs"].astype(bool)]
        for row in differs.to_dict("records"):
            difference = _f(row["difference"])
            direction = "higher" if difference > 0 else "lower"
            out.append(
                f"{INSTRUMENT_NAME[role]} among people of hybrid type "
                f"'{hybrid_name(row['hybrid_type'])}' is {NPS_FMT(row['estimate'])}, "
                f"{abs(difference):.1f} points {direction} than among people with no hybrid "
                f"pattern ({NPS_FMT(row['estimate_other'])}); the difference holds after "
                "Holm's correction for multiple comparisons."
            )
    for group, comparison in ctx.comparisons.items():
        if ctx.comparison_hidden(group):
            continue
        d = comparison.difference.iloc[0]
        if d["ci_low"] > 0 or d["ci_high"] < 0:
            who = "everyone" if group == "all" else f"the {group} group"
            out.append(
                f"Counted the siloed way, NPS for {who} is {NPS_FMT(d['siloed'])}; "
                f"counting each person once in the roles they held, it is "
                f"{NPS_FMT(d['unified'])} (gap {NPS_FMT(d['difference'])}, "
                f"{_level(ctx.confidence)} CI {_ci(d['ci_low'], d['ci_high'], NPS_FMT)})."
            )
    return out


def _hybrid_differences(ctx: Context) -> dict[str, pd.DataFrame]:
    """Per role: each shown hybrid type's NPS against 'none' (Holm among the shown).

    The plan hides the comparisons of hidden groups and every comparison of a role
    whose reference is hidden; the p-values are adjusted among the comparisons shown
    (a Holm adjustment over hidden groups would carry their p-values into the shown).
    """
    cached = ctx.planned.get("differences")
    if cached is not None:
        return dict(cached)
    out: dict[str, pd.DataFrame] = {}
    for role in ROLES:
        if f"nps_diff:{role}" not in ctx.planned:
            continue
        tests = ctx.shown(f"nps_diff:{role}")
        allowed = set(tests.loc[~tests["suppressed"], "hybrid_type"].astype("str"))
        part = ctx.shown(f"nps_part:{role}")
        keep = ~part["suppressed"].astype(bool) & part["hybrid_type"].astype("str").isin(
            allowed | {"none"}
        )
        part = part.loc[keep]
        if not allowed or "none" not in set(part["hybrid_type"].astype("str")):
            continue
        compared = compare_groups(part, reference="none", correction="holm")
        if not compared.empty:
            out[role] = compared
    ctx.planned["differences"] = out
    return dict(out)


# ---------------------------------------------------------------------------------------
# 2. Who crosses roles
# ---------------------------------------------------------------------------------------
def _shown_count(frame: pd.DataFrame, column: str, value: Any, n: str = "n") -> Any:
    """One row's shown count in a registered table: <NA> if hidden, 0 if not registered.

    Empty parts are not registered (see :func:`_counts`): they hold no one.
    """
    rows = frame.loc[frame[column].astype("str") == str(value)]
    if rows.empty:
        return 0
    return rows[n].iloc[0]


def _partly_hidden(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Mark a row suppressed when every count it has is hidden (zeros are shown)."""
    values = frame[list(columns)]
    hidden = values.isna().all(axis=1)
    return frame.assign(suppressed=hidden.to_numpy())


def crossing(report: Report, ctx: Context) -> None:
    """Overlap of roles, hybrid types and identity conflicts."""
    section = report.add_section(
        "stakeholders",
        "Who crosses roles",
        intro=(
            "Records from the customer, worker and partner lists were linked into persons "
            "through shared contact details. The chart counts each person once, in the "
            "combination of roles they have ever held. Hybrid patterns describe how roles "
            "combine: at the same time (a worker who is also a customer) or one after the "
            "other (a former employee who became a customer)."
        ),
    )
    summary = ctx.planned["roles"]
    ever = ctx.shown("roles_ever")
    people = ctx.count("people")
    if not ever.empty:
        fig, ax = new_figure(FIG_WIDTH, 0.9 + 0.34 * len(ever))
        plot_overlap(ever, count="n_ever", roles=list(ROLES), ax=ax)
        multi = ever.loc[ever["roles_ever"].str.contains("+", regex=False) & ~ever["suppressed"]]
        crossing = ctx.crossing()
        alt = "Bar chart of people by combination of roles ever held"
        if crossing is not None and people is not None:
            alt += f": {crossing:,} of {people:,} people hold more than one role"
        if not multi.empty:
            top = multi.sort_values("n_ever", kind="stable").iloc[-1]
            alt += (
                f"; the largest combination of roles is {top['roles_ever']} with "
                f"{int(top['n_ever']):,} people"
            )
        section.add_figure(
            fig,
            alt=alt + ".",
            caption="People by the combination of roles they have ever held; combinations "
            "of two or more roles in orange.",
        )
    now = ctx.shown("roles_as_of")
    rows = []
    for r in summary.itertuples(index=False):
        if r.n_ever == 0 and r.n_as_of == 0:
            continue
        n_ever = _shown_count(ever, "roles_ever", r.roles, "n_ever")
        n_now = _shown_count(now, "roles_as_of", r.roles, "n_as_of")
        rows.append(
            {
                "roles": r.roles,
                "n_ever": n_ever,
                "share_ever": _share(n_ever, people),
                "n_as_of": n_now,
                "share_as_of": _share(n_now, people),
            }
        )
    table = pd.DataFrame(rows)
    for column in ("n_ever", "n_as_of"):
        table[column] = table[column].astype("Int64")
    table = _partly_hidden(table, ["n_ever", "n_as_of"])
    table["roles"] = table["roles"].astype("str").str.replace("+", " + ", regex=False)
    table["roles"] = table["roles"].replace({"none": "no role (as of the reference date)"})
    _table(
        section,
        ctx,
        table,
        caption="People by combination of roles",
        labels={
            "roles": "Roles",
            "n_ever": "People (ever)",
            "share_ever": "Share (ever)",
            "n_as_of": f"People (on {ctx.as_of:%Y-%m-%d})",
            "share_as_of": "Share",
            "suppressed": "Suppressed",
        },
        number_formats={"share_ever": ".1%", "share_as_of": ".1%"},
    )

    types = ctx.shown("hybrid_types")
    patterns = ctx.planned["patterns"]
    prow = []
    for rule in HYBRID_RULES:
        if rule.label not in patterns:
            continue
        with_label = ctx.count(f"pattern:{rule.label}") if patterns[rule.label] else 0
        prow.append(
            {
                "pattern": hybrid_name(rule.label),
                "kind": str(rule.kind).replace("_", " "),
                "with_label": pd.NA if with_label is None else with_label,
                "as_type": _shown_count(types, "hybrid_type", rule.label),
            }
        )
    prow.append(
        {
            "pattern": hybrid_name("none"),
            "kind": "",
            "with_label": pd.NA,
            "as_type": _shown_count(types, "hybrid_type", "none"),
        }
    )
    pattern_table = pd.DataFrame(prow)
    for column in ("with_label", "as_type"):
        pattern_table[column] = pattern_table[column].astype("Int64")
    hidden = pattern_table["as_type"].isna() & (
        pattern_table["with_label"].isna() | (pattern_table["pattern"] == hybrid_name("none"))
    )
    pattern_table["suppressed"] = hidden.to_numpy()
    _table(
        section,
        ctx,
        pattern_table,
        caption="Hybrid patterns",
        labels={
            "pattern": "Pattern",
            "kind": "Kind",
            "with_label": "People with the pattern",
            "as_type": "People of this hybrid type",
            "suppressed": "Suppressed",
        },
    )
    section.add_text(
        "A person can show several patterns; their hybrid type is the first pattern in "
        "this list that applies, so that each person belongs to exactly one type. The "
        "experience measures below are broken down by hybrid type."
    )
    if "conflicts" in ctx.planned:
        total = ctx.count("conflicts_total")
        cases = ctx.shown("conflicts")
        records = ctx.shown("conflict_records")[["kind", "records"]]
        kinds = cases[["kind", "conflicts"]].merge(records, on="kind", how="left")
        kinds["suppressed"] = (cases["suppressed"].to_numpy()) & kinds["records"].isna().to_numpy()
        kinds["kind"] = kinds["kind"].astype("str").str.replace("_", " ")
        count = "Some" if total is None else f"{total:,}"
        section.add_note(
            f"{count} suspicious link(s) were found and not made: records that share "
            "a contact detail but disagree on something else (such as the birth year). They "
            "are kept as separate persons; review them in the source systems."
        )
        _table(
            section,
            ctx,
            kinds,
            caption="Links not made during identity resolution",
            labels={
                "kind": "Reason",
                "conflicts": "Cases",
                "records": "Records involved",
                "suppressed": "Suppressed",
            },
        )
    else:
        section.add_text("Identity resolution found no conflicting links.")


def _share(n: Any, total: int | None) -> float:
    if total is None or _missing(n) or not total:
        return float("nan")
    return float(n) / total


# ---------------------------------------------------------------------------------------
# 3. Experience by role and hybrid type
# ---------------------------------------------------------------------------------------
def _nps_display(result: pd.DataFrame) -> pd.DataFrame:
    frame = result.copy()
    frame["instrument"] = frame["role"].astype("str").map(INSTRUMENT_NAME)
    frame["_role"] = frame["role"].astype("str").map({r: i for i, r in enumerate(ROLES)})
    frame = frame.sort_values("_role", kind="stable")
    columns = ["instrument", "n", "pct_promoters", "pct_detractors", "nps", "ci_low", "ci_high"]
    return frame[[*columns, "suppressed"]]


_NPS_LABELS = {
    "instrument": "Measure",
    "hybrid_type": "Hybrid type",
    "n": "Answers",
    "pct_promoters": "Promoters %",
    "pct_detractors": "Detractors %",
    "nps": "NPS",
    "ci_low": "CI from",
    "ci_high": "to",
    "suppressed": "Suppressed",
}
_NPS_FORMATS = {
    "pct_promoters": PCT_FMT,
    "pct_detractors": PCT_FMT,
    "nps": NPS_FMT,
    "ci_low": NPS_FMT,
    "ci_high": NPS_FMT,
}


def experience(report: Report, ctx: Context) -> None:
    """NPS, eNPS, partner NPS, CSAT and CES by role and hybrid type."""
    section = report.add_section(
        "experience",
        "Experience by role and hybrid type",
        intro=(
            "Net Promoter Score asks how likely someone is to recommend the company, from 0 "
            "to 10; the score is the share of promoters (9-10) minus the share of detractors "
            "(0-6), from -100 to +100. Customers answer it as customers (NPS), workers as "
            "employees (eNPS) and partners as partners. Here each answer counts once and is "
            "attributed to the person and the role they held when they answered; answers "
            "given after the person had left that role are not counted (see Data quality). "
            "When an interval includes the other group's score, the difference may be chance."
        ),
    )
    table = _nps_display(ctx.shown("nps_by_role"))
    _table(
        section,
        ctx,
        table,
        caption="Net Promoter Score by role",
        labels={k: v for k, v in _NPS_LABELS.items() if k in table.columns},
        number_formats=_NPS_FORMATS,
    )
    by_hybrid = ctx.shown("nps_by_hybrid")
    differences = _hybrid_differences(ctx)
    section.add_text(
        "Below, each score is broken down by hybrid type. Each hybrid type is compared with "
        "people with no hybrid pattern in the same role; the p-values are adjusted for the "
        "number of comparisons (Holm), so 'yes' under 'Differs' means the difference is "
        "unlikely to be chance."
    )
    for role in ROLES:
        part = by_hybrid.loc[by_hybrid["role"].astype("str") == role]
        if part.empty:
            continue
        part = _hybrid_sorted(part)
        section.add_heading(f"{INSTRUMENT_NAME[role]} by hybrid type")
        fig, ax = new_figure(FIG_WIDTH, 0.75 + 0.36 * len(part))
        plot_estimates(
            part[["group", "nps", "ci_low", "ci_high", "n", "suppressed"]],
            estimate="nps",
            by="group",
            reference=0,
            xlabel="NPS (points, -100 to +100)",
            color=ROLE_COLORS[role],
            ax=ax,
        )
        visible = part.loc[~part["suppressed"].astype(bool)]
        if visible.empty:
            alt = f"{INSTRUMENT_NAME[role]} by hybrid type: every group is suppressed."
        else:
            top = _row_at(visible, "nps", largest=True)
            low = _row_at(visible, "nps", largest=False)
            alt = (
                f"Dot plot of {INSTRUMENT_NAME[role]} by hybrid type with intervals: highest "
                f"for {top['group']} ({NPS_FMT(top['nps'])}), lowest "
                f"for {low['group']} ({NPS_FMT(low['nps'])})."
            )
        section.add_figure(fig, alt=alt)
        table = part[["hybrid_type", "group", "n", "nps", "ci_low", "ci_high"]]
        hidden = part["suppressed"].astype(bool).to_numpy()
        if role in differences:
            tests = differences[role][["hybrid_type", "difference", "p_adjusted", "differs"]]
            tests = tests.assign(hybrid_type=tests["hybrid_type"].astype("str"))
            table = table.assign(hybrid_type=table["hybrid_type"].astype("str")).merge(
                tests, on="hybrid_type", how="left", validate="one_to_one"
            )
            verdict = np.where(table["differs"].astype("boolean").fillna(False), "yes", "no")
            verdict = np.where(table["difference"].isna(), "", verdict)
            verdict = np.where((table["hybrid_type"] == "none") & ~hidden, "reference", verdict)
            table["differs"] = pd.Series(verdict, index=table.index, dtype="str")
        table = table.assign(suppressed=hidden).drop(columns="hybrid_type")
        _table(
            section,
            ctx,
            table,
            caption=f"{INSTRUMENT_NAME[role]}: scores and differences from no hybrid pattern",
            labels={
                **_NPS_LABELS,
                "group": "Hybrid type",
                "difference": "Difference",
                "p_adjusted": "Adjusted p",
                "differs": "Differs",
            },
            number_formats={**_NPS_FORMATS, "difference": NPS_FMT, "p_adjusted": p_value},
        )
    n_hidden = int(by_hybrid["suppressed"].astype(bool).sum())
    if n_hidden:
        section.add_note(
            f"{n_hidden} group(s) are suppressed: fewer than {ctx.min_n} answers, or hidden "
            "with such a group so that it cannot be worked out by subtracting the other "
            "groups from a total shown anywhere in this report.",
            kind="warning",
        )
    _satisfaction(section, ctx)


def _satisfaction(section: Section, ctx: Context) -> None:
    result = ctx.shown("csat_by_hybrid") if ctx.csat_by_hybrid is not None else None
    effort = ctx.shown("ces_by_hybrid") if ctx.ces_by_hybrid is not None else None
    if result is None and effort is None:
        section.add_note("No CSAT or CES answers in the data: satisfaction is not shown.")
        return
    section.add_heading("Customer satisfaction (CSAT) and effort (CES)")
    section.add_text(
        "CSAT is the share of customers who rate a contact 4 or 5 out of 5 (Wilson "
        "interval). CES asks whether the company made it easy to get things done, from 1 "
        "to 7, and reports the mean (t interval); higher is easier."
    )
    if result is not None:
        frame = _hybrid_sorted(result)
        fig, ax = new_figure(FIG_WIDTH, 0.95 + 0.36 * len(frame))
        plot_estimates(
            frame[["group", "csat", "ci_low", "ci_high", "n", "suppressed"]],
            estimate="csat",
            by="group",
            xlabel="CSAT (% satisfied)",
            title="CSAT by hybrid type",
            color=ROLE_COLORS["customer"],
            ax=ax,
        )
        satisfied = int(frame["in_box"].fillna(0).sum())
        answers = int(frame["n"].fillna(0).sum())
        alt = (
            "Dot plot of CSAT by hybrid type with intervals; in the groups shown, "
            f"{satisfied:,} of {answers:,} answers are satisfied."
        )
        if frame["suppressed"].astype(bool).all():
            alt = "CSAT by hybrid type: every group is suppressed."
        section.add_figure(fig, alt=alt)
        _table(
            section,
            ctx,
            frame[["group", "n", "in_box", "csat", "ci_low", "ci_high", "suppressed"]],
            caption="CSAT (top-2-box) by hybrid type",
            labels={
                "group": "Hybrid type",
                "n": "Answers",
                "in_box": "Satisfied",
                "csat": "CSAT %",
                "ci_low": "CI from",
                "ci_high": "to",
                "suppressed": "Suppressed",
            },
            number_formats=_ci_formats("csat", PCT_FMT),
        )
    if effort is not None:
        frame = _hybrid_sorted(effort)
        _table(
            section,
            ctx,
            frame[["group", "n", "ces", "ci_low", "ci_high", "suppressed"]],
            caption="Customer effort (CES, mean of 1-7) by hybrid type",
            labels={
                "group": "Hybrid type",
                "n": "Answers",
                "ces": "CES",
                "ci_low": "CI from",
                "ci_high": "to",
                "suppressed": "Suppressed",
            },
            number_formats=_ci_formats("ces", "{:.2f}"),
        )


def _hybrid_sorted(result: pd.DataFrame) -> pd.DataFrame:
    frame = result.copy()
    order = _hybrid_order(frame["hybrid_type"].tolist())
    frame["_o"] = frame["hybrid_type"].astype("str").map({h: i for i, h in enumerate(order)})
    frame = frame.sort_values("_o", kind="stable").reset_index(drop=True)
    frame["group"] = frame["hybrid_type"].map(hybrid_name)
    return frame


# ---------------------------------------------------------------------------------------
# 4. Siloed vs unified
# ---------------------------------------------------------------------------------------
_GROUP_NAME = {
    "all": "everyone",
    "customer": "customers",
    "worker": "workers",
    "partner": "partners",
}


def siloed_unified(report: Report, ctx: Context) -> None:
    """The same NPS the way departments count it and per person."""
    section = report.add_section(
        "siloed-unified",
        "Siloed vs unified",
        intro=(
            "Each department usually reports its own survey: marketing counts customers, "
            "HR counts employees. Someone who is both is then counted twice, and answers "
            "given after a person changed role are still filed under the old one. The "
            "unified view counts each person once and files every answer under the roles the "
            "person held when answering, whichever department asked. This section puts the "
            "two side by side and splits the gap into its causes. Here each person has one "
            "vote, so the unified scores differ slightly from the per-answer scores above."
        ),
    )
    results = ctx.comparisons
    if not results:
        section.add_note("No NPS answers in the data: the comparison is not shown.")
        return
    rows = []
    decomposition = []
    for group, result in results.items():
        hidden = ctx.comparison_hidden(group)
        est = result.estimates.set_index("estimator")
        for estimator in ("siloed", "unified"):
            rows.append(
                {
                    "group": _GROUP_NAME[group],
                    "view": estimator,
                    "nps": np.nan if hidden else _f(est.loc[estimator, "estimate"]),
                    "ci_low": np.nan if hidden else _f(est.loc[estimator, "ci_low"]),
                    "ci_high": np.nan if hidden else _f(est.loc[estimator, "ci_high"]),
                    "n": pd.NA if hidden else int(_f(est.loc[estimator, "n_units"])),
                    "suppressed": hidden,
                }
            )
        d = result.difference.iloc[0]
        dec = result.decomposition.set_index("component")
        entry: dict[str, Any] = {
            "group": _GROUP_NAME[group],
            "siloed": d["siloed"],
            "unified": d["unified"],
            "difference": d["difference"],
            "ci_low": d["ci_low"],
            "ci_high": d["ci_high"],
            "p_value": d["p_value"],
        }
        for component in COMPONENTS:
            entry[component] = dec.loc[component, "contribution"]
        entry["suppressed"] = hidden
        if hidden:
            entry = {k: (v if k in ("group", "suppressed") else np.nan) for k, v in entry.items()}
        decomposition.append(entry)
    side = pd.DataFrame(rows)
    side["n"] = side["n"].astype("Int64")
    fig, ax = new_figure(FIG_WIDTH, 1.3 + 0.62 * len(results))
    plot_estimates(
        side,
        estimate="nps",
        by="group",
        hue="view",
        reference=0,
        xlabel="NPS (points, -100 to +100)",
        ax=ax,
    )
    gaps = pd.DataFrame(decomposition)
    largest = (
        _row_at(gaps.assign(size=gaps["difference"].abs()), "size", largest=True)
        if gaps["difference"].notna().any()
        else None
    )
    alt = "Dot plot of NPS for everyone and each role, siloed and unified, with intervals."
    if largest is not None:
        alt += (
            f" The largest gap is for {largest['group']}: {NPS_FMT(largest['siloed'])} "
            f"siloed vs {NPS_FMT(largest['unified'])} unified."
        )
    section.add_figure(
        fig,
        alt=alt,
        caption="Siloed: each silo record one vote, every answer the department recorded. "
        "Unified: each person one vote, answers filed under the roles held at the time. "
        "n = silo records (siloed) or persons (unified).",
    )
    labels = {
        "group": "Group",
        "siloed": "Siloed",
        "unified": "Unified",
        "difference": "Gap",
        "ci_low": "CI from",
        "ci_high": "to",
        "p_value": "p",
        "double_counting": "Double counting",
        "role_attribution": "Role attribution",
        "hybrid_experience": "Hybrid experience",
    }
    formats: dict[str, Any] = {
        **dict.fromkeys(("siloed", "unified", "difference", "ci_low", "ci_high"), NPS_FMT),
        **dict.fromkeys(COMPONENTS, NPS_FMT),
        "p_value": p_value,
    }
    _table(
        section,
        ctx,
        gaps[["group", "siloed", "unified", "difference", "ci_low", "ci_high", "p_value"]].assign(
            suppressed=gaps["suppressed"]
        ),
        caption="Siloed and unified NPS and the gap between them (siloed minus unified)",
        labels=labels,
        number_formats=formats,
    )
    _table(
        section,
        ctx,
        gaps[["group", *COMPONENTS, "difference"]].assign(suppressed=gaps["suppressed"]),
        caption="Where the gap comes from (points; the three causes add up to the gap)",
        labels=labels,
        number_formats=formats,
    )
    section.add_list(
        [
            "Double counting: a person who answered in two departments' surveys counts twice "
            "in the siloed view.",
            "Role attribution: answers given when the person no longer (or not yet) held the "
            "role, or that cannot be linked to anyone, are left out of the unified view.",
            "Hybrid experience: answers a group's members gave in another role's survey (a "
            "worker's answer to the customer survey) belong to the group too.",
        ]
    )
    visible = [(g, r) for g, r in results.items() if not ctx.comparison_hidden(g)]
    if visible:
        group, result = max(
            visible, key=lambda item: abs(float(item[1].difference["difference"].iloc[0]))
        )
        fig, ax = new_figure(FIG_WIDTH, 3.6)
        with style():
            plot_decomposition(result, ax=ax)
            ax.set_title(f"From the siloed to the unified NPS: {_GROUP_NAME[group]}")
            ax.set_ylabel("NPS (points)")
            ax.grid(True, axis="y")
            ax.grid(False, axis="x")
        dec = result.decomposition.set_index("component")
        main = max(COMPONENTS, key=lambda c: abs(_f(dec.loc[c, "contribution"])))
        section.add_figure(
            fig,
            alt=(
                f"Waterfall from the siloed NPS of {_GROUP_NAME[group]} "
                f"({NPS_FMT(result.difference['siloed'].iloc[0])}) to the unified one "
                f"({NPS_FMT(result.difference['unified'].iloc[0])}); the largest step is "
                f"{main.replace('_', ' ')}."
            ),
            caption="Each bar in the middle is one cause of the gap; error bars are "
            f"{_level(ctx.confidence)} intervals clustered by person.",
        )
    flagged = [
        _GROUP_NAME[g]
        for g, r in results.items()
        if r.simpson.get("kind", "none") != "none" and not ctx.comparison_hidden(g)
    ]
    if flagged:
        section.add_note(
            "Simpson check: for "
            + ", ".join(flagged)
            + " the overall gap points the other way from the gap within most combinations "
            "of role and hybrid type. Read the overall number with care.",
            kind="warning",
        )


# ---------------------------------------------------------------------------------------
# 5. Reliability and the cross-group HX index
# ---------------------------------------------------------------------------------------
def reliability_index(report: Report, ctx: Context) -> None:
    """Alpha and omega per role, the HX index per group, measurement invariance."""
    section = report.add_section(
        "hx-index",
        "The common core: reliability and the HX index",
        intro=(
            "Every group answers the same six core questions (1 to 5). Before comparing "
            "groups on them, we check that the questions hang together (reliability: alpha "
            "and omega, where 0.8 or more is good) and that they mean the same to customers, "
            "workers and partners (measurement invariance). The HX index turns the six "
            "answers into one score from 0 (every answer 1) to 100 (every answer 5)."
        ),
    )
    wide = ctx.hx_wide
    if wide.empty:
        section.add_note("No answers to the core questions (hx_core): nothing to show.")
        return
    items = list(HX_ITEMS)
    floor = ctx.core_floor
    rel = ctx.shown("reliability")
    rel["_o"] = rel["role"].astype("str").map({r: i for i, r in enumerate(ROLES)})
    rel = rel.sort_values(["_o", "measure"], kind="stable")
    _table(
        section,
        ctx,
        rel[["role", "measure", "n", "estimate", "ci_low", "ci_high", "n_excluded", "suppressed"]],
        caption="Reliability of the six core questions by role",
        labels={
            "role": "Role",
            "measure": "Coefficient",
            "n": "Respondents",
            "estimate": "Estimate",
            "ci_low": "CI from",
            "ci_high": "to",
            "n_excluded": "Incomplete (left out)",
            "suppressed": "Suppressed",
        },
        number_formats=_ci_formats("estimate", "{:.3f}"),
    )
    # Groups shown with fewer than ten people keep their count but get no estimate:
    # an index of a handful of people is too uncertain to report.
    by_role = _floored(ctx.shown("hx_role"), floor)
    by_type = _floored(ctx.shown("hx_type"), floor)
    frame_role = by_role.copy()
    frame_role["group"] = frame_role["role"].astype("str")
    frame_role["_o"] = frame_role["group"].map({r: i for i, r in enumerate(ROLES)})
    frame_role = frame_role.sort_values("_o", kind="stable")
    frame_type = _hybrid_sorted(by_type)
    both = pd.concat(
        [
            frame_role.assign(breakdown="role"),
            frame_type.assign(breakdown="hybrid type"),
        ],
        ignore_index=True,
    )[["breakdown", "group", "n", "n_responses", "hx_index", "ci_low", "ci_high", "suppressed"]]
    fig, ax = new_figure(FIG_WIDTH, 0.95 + 0.34 * len(both))
    plot_estimates(
        both.assign(label=both["breakdown"] + ": " + both["group"]),
        estimate="hx_index",
        by="label",
        xlabel="HX index (0 to 100)",
        ax=ax,
    )
    visible = frame_role.loc[
        ~frame_role["suppressed"].astype(bool) & frame_role["hx_index"].notna()
    ]
    alt = "Dot plot of the HX index by role and by hybrid type with intervals."
    if not visible.empty:
        alt += (
            " By role: "
            + ", ".join(f"{r.group} {r.hx_index:.1f}" for r in visible.itertuples(index=False))
            + "."
        )
    section.add_figure(
        fig,
        alt=alt,
        caption="Intervals from a bootstrap that resamples persons (all of a person's "
        "answers together).",
    )
    _table(
        section,
        ctx,
        both,
        caption="HX index by role and by hybrid type",
        labels={
            "breakdown": "Breakdown",
            "group": "Group",
            "n": "People",
            "n_responses": "Responses",
            "hx_index": "HX index",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        },
        number_formats=_ci_formats("hx_index", "{:.1f}"),
    )
    _invariance(section, ctx, wide, items, floor)


_LEVEL_TEXT = {
    "configural": "the same questions measure the same thing",
    "metric": "relationships (such as driver weights) can be compared across groups",
    "scalar": "average scores can be compared across groups",
    "strict": "the scores are fully interchangeable across groups",
}


def _floored(result: pd.DataFrame, floor: int) -> pd.DataFrame:
    """Blank the index of shown groups smaller than ``floor`` (too few to estimate)."""
    out = result.copy()
    small = (out["n"].astype("Float64").fillna(0) < floor).to_numpy()
    for column in ("hx_index", "ci_low", "ci_high", "se"):
        if column in out.columns:
            out[column] = out[column].astype(float)
            out.loc[small, column] = np.nan
    return out


def _invariance(
    section: Section, ctx: Context, wide: pd.DataFrame, items: list[str], floor: int
) -> None:
    counts = wide["role"].value_counts()
    rel = ctx.shown("reliability")
    shown = set(rel.loc[~rel["suppressed"].astype(bool), "role"].astype("str"))
    groups = [r for r in ROLES if r in shown and counts.get(r, 0) >= max(floor, 2 * len(items))]
    if len(groups) < 2:
        section.add_note(
            "Measurement invariance needs at least two roles with enough complete answers; "
            "it is not tested here."
        )
        return
    data = wide.loc[wide["role"].isin(groups), [*items, "role"]]
    try:
        result: InvarianceResult = measurement_invariance(
            data, {"hx": items}, group="role", reliability=False, min_n=floor
        )
    except HxError as exc:
        section.add_note(
            f"Measurement invariance could not be tested ({type(exc).__name__}).", kind="warning"
        )
        return
    section.add_heading("Do the questions mean the same to every group?")
    level = result.supported_level
    if level is None:
        text = (
            "Even the least demanding model fits poorly, so the groups' scores should not be "
            "compared directly."
        )
    else:
        text = f"The data support {level} invariance: {_LEVEL_TEXT.get(level, level)}."
    names = [_GROUP_NAME[g] for g in groups]
    section.add_text(
        "A factor model of the six questions was fitted to "
        + (", ".join(names[:-1]) + " and " + names[-1])
        + " with increasingly strict equality constraints (Chen's 2007 cut-offs on the "
        "change in fit). " + text
    )
    table = result.table[
        ["level", "chisq", "df", "cfi", "rmsea", "srmr", "delta_cfi", "delta_rmsea", "supported"]
    ]
    _table(
        section,
        ctx,
        table,
        caption="Measurement invariance across roles",
        labels={
            "level": "Level",
            "chisq": "Chi-square",
            "df": "df",
            "cfi": "CFI",
            "rmsea": "RMSEA",
            "srmr": "SRMR",
            "delta_cfi": "Change in CFI",
            "delta_rmsea": "Change in RMSEA",
            "supported": "Supported",
        },
        number_formats={
            "chisq": "{:.1f}",
            "df": "{:.0f}",
            "cfi": "{:.3f}",
            "rmsea": "{:.3f}",
            "srmr": "{:.3f}",
            "delta_cfi": signed(3),
            "delta_rmsea": signed(3),
        },
    )


# ---------------------------------------------------------------------------------------
# 6. Lifetime value and retention
# ---------------------------------------------------------------------------------------
def value_retention(report: Report, ctx: Context) -> None:
    """CLV (BG/NBD + Gamma-Gamma), retention curves, median tenure, boomerangs."""
    section = report.add_section(
        "value-retention",
        "Customer lifetime value and retention",
        intro=(
            "Lifetime value estimates what each customer will spend in the next "
            f"{CLV_HORIZON} weeks, from how often and how recently they bought and how much "
            "they spend (the BG/NBD and Gamma-Gamma models), discounted at "
            f"{CLV_ANNUAL_DISCOUNT:.0%} a year. Retention shows how long people stay in each "
            "role: the share still in the role after a given number of months, counting "
            "people who are still there as 'at least this long' (Kaplan-Meier)."
        ),
    )
    _clv(section, ctx)
    _retention(section, ctx)


def _clv(section: Section, ctx: Context) -> None:
    section.add_heading("Lifetime value")
    if ctx.rfm is None:
        section.add_note("No attributable transactions in the data: lifetime value is not shown.")
        return
    if "clv_error" in ctx.planned:
        section.add_note(
            f"The lifetime value models could not be fitted ({ctx.planned['clv_error']}).",
            kind="warning",
        )
        return
    buyers = ctx.count("buyers")
    if buyers is None:
        section.add_note(
            f"Lifetime value is suppressed: fewer than {ctx.min_n} customers with purchases."
        )
        return
    bg, gg = ctx.planned["clv_models"]
    value = ctx.planned["clv_value"]
    clv = value["clv"].to_numpy(dtype=float)
    total = float(clv.sum())
    top = np.sort(clv)[::-1][: max(1, math.ceil(0.1 * len(clv)))].sum()
    repeat = ctx.shown("buyers_repeat")
    repeaters = _shown_count(repeat, "repeat", True)
    section.add_kpis(
        [
            Kpi("Customers with purchases", buyers, fmt="{:,}"),
            Kpi(
                "Repeat buyers",
                None if _missing(repeaters) else float(100 * int(repeaters) / buyers),
                fmt=PCT_FMT,
                unit="%",
                note="bought more than once",
            ),
            Kpi(
                f"Expected value, next {CLV_HORIZON} weeks",
                total,
                fmt="{:,.0f}",
                note="all customers, in the currency of the amounts",
            ),
            Kpi(
                "Share from the top 10%",
                float(100 * top / total) if total > 0 else None,
                fmt=PCT_FMT,
                unit="%",
                note="of expected value",
            ),
        ]
    )
    if len(clv) >= 2 * ctx.min_n:
        fig, ax = new_figure(FIG_WIDTH, 3.4)
        plot_distribution(
            _top_coded(clv, ctx.min_n),
            log=True,
            floor=0.01,
            bins=40,
            xlabel=f"expected value over the next {CLV_HORIZON} weeks (log scale)",
            title="Customer lifetime value",
            ax=ax,
        )
        section.add_figure(
            fig,
            alt=(
                f"Histogram of expected {CLV_HORIZON}-week value per customer on a log "
                f"scale: median {np.median(clv):,.2f}, mean {clv.mean():,.2f}; a few "
                "customers carry much of the value."
            ),
        )
    q10, q25, q50, q75, q90 = _percentiles(clv, (0.1, 0.25, 0.5, 0.75, 0.9), ctx.min_n)
    quantiles = pd.DataFrame(
        {
            "customers": [len(clv)],
            "p10": [q10],
            "p25": [q25],
            "median": [q50],
            "p75": [q75],
            "p90": [q90],
            "mean": [clv.mean()],
            "total": [total],
        }
    )
    _table(
        section,
        ctx,
        quantiles,
        caption=f"Expected value per customer over the next {CLV_HORIZON} weeks",
        labels={
            "customers": "Customers",
            "p10": "10th percentile",
            "p25": "25th",
            "median": "Median",
            "p75": "75th",
            "p90": "90th",
            "mean": "Mean",
            "total": "Total",
        },
        number_formats=dict.fromkeys(
            ("p10", "p25", "median", "p75", "p90", "mean", "total"), "{:,.2f}"
        ),
    )
    by_type = _hybrid_sorted(ctx.shown("clv_by_type"))
    _table(
        section,
        ctx,
        by_type[["group", "n", "mean", "ci_low", "ci_high", "suppressed"]],
        caption="Mean expected value by hybrid type (t interval)",
        labels={
            "group": "Hybrid type",
            "n": "Customers",
            "mean": "Mean value",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        },
        number_formats=_ci_formats("mean", "{:,.2f}"),
    )
    params = pd.concat(
        [
            bg.summary(confidence=ctx.confidence).assign(model="BG/NBD (purchases)"),
            gg.summary(confidence=ctx.confidence).assign(model="Gamma-Gamma (spend)"),
        ],
        ignore_index=True,
    )[["model", "parameter", "estimate", "ci_low", "ci_high"]]
    _table(
        section,
        ctx,
        params,
        caption="Fitted model parameters",
        labels={
            "model": "Model",
            "parameter": "Parameter",
            "estimate": "Estimate",
            "ci_low": "CI from",
            "ci_high": "to",
        },
        number_formats=_ci_formats("estimate", "{:.3f}"),
    )


def _percentiles(values: np.ndarray, shares: Sequence[float], min_n: int) -> list[float]:
    """Percentiles of ``values``; NaN where fewer than ``min_n`` values lie on a side.

    A percentile is one person's value (or between two): it is shown only when at
    least ``min_n`` values lie below it and above it.

    Examples
    --------
    >>> _percentiles(np.arange(20.0), (0.1, 0.5, 0.9), 5)
    [nan, 9.5, nan]
    """
    return [
        float(np.quantile(values, q)) if min(q, 1 - q) * len(values) >= min_n else float("nan")
        for q in shares
    ]


def _top_coded(values: np.ndarray, min_n: int) -> np.ndarray:
    """Values clipped to the ``min_n``-th smallest and largest, for a histogram.

    The outermost bars of a histogram can hold one customer each and show their
    value; clipped, each end holds at least ``min_n`` customers (top- and
    bottom-coding, as statistical agencies publish income distributions).
    """
    if values.size < 2 * min_n:
        return values
    ordered = np.sort(values)
    return np.clip(values, ordered[min_n - 1], ordered[-min_n])


def _retention(section: Section, ctx: Context) -> None:
    section.add_heading("Retention")
    episodes = ctx.registry.episodes
    if episodes.empty:
        section.add_note("No role episodes: retention is not shown.")
        return
    curves = retention_curve(
        episodes, as_of=ctx.as_of, unit=TENURE_UNIT, by="role", confidence=ctx.confidence
    )
    medians = ctx.shown("tenure")
    # Ended and still running are the parts of a role's episodes: shown as the plan says.
    status = ctx.shown("tenure_status")
    for column, kind in (("n_events", "ended"), ("n_censored", "running")):
        part = status.loc[status["status"] == kind].set_index("role")["n"]
        medians[column] = (
            medians["role"].map(part).astype("Int64").where(medians["role"].isin(part.index), 0)
        )
    shown_roles = [
        r for r in ROLES if r in set(medians.loc[~medians["suppressed"], "role"].astype("str"))
    ]
    if not shown_roles:
        section.add_note(
            f"Retention is suppressed: every role has fewer than {ctx.min_n} episodes or is "
            "hidden with one that has."
        )
        return
    # A curve's tail rests on a handful of long episodes: stop where fewer than
    # ``at_risk`` are still observed, as is usual for Kaplan-Meier plots.
    at_risk = max(10, ctx.min_n)
    curves = curves.loc[
        curves["role"].astype("str").isin(shown_roles) & (curves["n_risk"] >= at_risk)
    ]
    # Each curve starts at 100% at time 0 (no one has left before they started).
    start = pd.DataFrame(
        {"role": shown_roles, "time": 0.0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    )
    curves = pd.concat([start, curves[start.columns]], ignore_index=True)
    curves["role"] = pd.Categorical(curves["role"].astype("str"), categories=shown_roles)
    curves = curves.sort_values(["role", "time"], kind="stable")
    curves["role"] = curves["role"].astype("str")
    curves["retained"] = curves["survival"] * 100
    curves["low"] = curves["ci_low"] * 100
    curves["high"] = curves["ci_high"] * 100
    fig, ax = new_figure(FIG_WIDTH, 3.8)
    plot_curves(
        curves,
        x="time",
        y="retained",
        by="role",
        ci_low="low",
        ci_high="high",
        step=True,
        xlabel="months in the role",
        ylabel="% still in the role",
        title="Retention by role",
        ax=ax,
    )
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    section.add_figure(
        fig,
        alt="Step curves of the share of people still in each role by months since they "
        "started, with intervals: "
        + "; ".join(
            f"{r.role} median "
            + ("not reached" if _missing(r.estimate) else f"{r.estimate:.1f} months")
            for r in medians.loc[~medians["suppressed"]].itertuples(index=False)
        )
        + ".",
        caption=f"Shaded: {_level(ctx.confidence)} intervals. Each curve stops where fewer "
        f"than {at_risk} episodes of the role are still under observation.",
    )
    med = medians.copy()
    med["_o"] = med["role"].astype("str").map({r: i for i, r in enumerate(ROLES)})
    med = med.sort_values("_o", kind="stable")
    _table(
        section,
        ctx,
        med[["role", "n", "n_events", "n_censored", "estimate", "ci_low", "ci_high", "suppressed"]],
        caption="Median time in the role (months)",
        labels={
            "role": "Role",
            "n": "Episodes",
            "n_events": "Ended",
            "n_censored": "Still running",
            "estimate": "Median",
            "ci_low": "CI from",
            "ci_high": "to",
            "suppressed": "Suppressed",
        },
        number_formats=_ci_formats("estimate", "{:.1f}"),
    )
    if medians["estimate"].isna().any():
        section.add_text(
            "A missing median means more than half of the episodes are still running: the "
            "median has not been reached yet."
        )
    if "boomerang" in ctx.planned:
        row = ctx.planned["boomerang"]
        # The share of leavers who came back is a number of both parts: shown only
        # when neither is hidden.
        parts = ctx.shown("leavers_returned")
        hidden = ctx.count("leavers") is None or bool(parts["suppressed"].any())
        if hidden:
            section.add_text("Too few workers have left to report how many came back.")
        else:
            section.add_kpis(
                [
                    Kpi(
                        "Leavers who came back",
                        float(row["estimate"] * 100),
                        ci_low=float(row["ci_low"] * 100),
                        ci_high=float(row["ci_high"] * 100),
                        n=int(row["n"]),
                        fmt=PCT_FMT,
                        unit="%",
                        note=f"{int(row['n_returned']):,} boomerang workers",
                        confidence=ctx.confidence,
                    ),
                    Kpi(
                        "Median time away",
                        None if _missing(row["median_gap"]) else float(row["median_gap"]),
                        fmt="{:.1f}",
                        unit=" months",
                        note="among those who came back",
                    ),
                ]
            )
            section.add_text(
                "Recent leavers have had less time to come back, so the share of "
                "boomerangs will grow as time passes."
            )


# ---------------------------------------------------------------------------------------
# 7. Data quality and methods
# ---------------------------------------------------------------------------------------
def data_quality(report: Report, ctx: Context) -> None:
    """Rows per table, what was left out and why, the methods and references."""
    section = report.add_section(
        "data-quality",
        "Data quality and methods",
        intro=(
            "What went in, what was left out and why. Nothing is dropped silently: every "
            "row that is not used is counted here with its reason."
        ),
    )
    rows = []
    attribution = {
        "ok": "linked",
        **{k: k for k in ("unknown_id", "outside_episodes", "missing_time")},
    }
    for name in ctx.tables:
        entry: dict[str, Any] = {
            "table": name,
            "kind": "roster" if name in ROSTERS else "exhaust",
            "rows": _na(ctx.count(f"rows:{name}")),
        }
        if name in ctx.attributed:
            shown = ctx.shown(f"attribution:{name}")
            entry.update(
                {
                    column: _shown_count(shown, "attribution", status)
                    for status, column in attribution.items()
                }
            )
        rows.append(entry)
    tables = pd.DataFrame(rows)
    for column in ("rows", *attribution.values()):
        if column not in tables.columns:
            tables[column] = pd.NA
        tables[column] = tables[column].astype("Int64")
    _table(
        section,
        ctx,
        tables,
        caption="Input tables and how their rows were linked to persons",
        labels={
            "table": "Table",
            "kind": "Kind",
            "rows": "Rows",
            "linked": "Linked to a person in a role",
            "unknown_id": "Unknown id",
            "outside_episodes": "Outside every role",
            "missing_time": "No time",
        },
    )
    records, people = ctx.count("records"), ctx.count("people")
    linked = _shown_count(ctx.shown("records_linked"), "linked", True)
    linked_on = " or ".join(ctx.keys) if ctx.keys else "no column (every record is a person)"
    if records is None or people is None or _missing(linked):
        text = (
            "Identity resolution: roster records were linked into persons through a shared "
            f"{linked_on} (the counts are suppressed: too few records)."
        )
    else:
        text = (
            f"Identity resolution: {records:,} roster records became {people:,} persons; "
            f"{int(linked):,} records were linked to at least one other record through a "
            f"shared {linked_on}."
        )
    if ctx.missing_keys:
        text += f" Key column(s) asked for but found in no roster: {', '.join(ctx.missing_keys)}."
    section.add_text(text)
    planned = ctx.planned["usage"]
    usage = planned[["instrument", "items"]].copy()

    def shown_usage(instrument: str, kind: str) -> Any:
        row = planned.loc[planned["instrument"] == instrument].iloc[0]
        if kind == "used":
            return _na(ctx.count(f"usage_used:{instrument}")) if int(row["used"]) else 0
        if not any(int(row[r]) for r in LEFT_OUT):
            return 0
        if kind == "left_out":
            return _na(ctx.count(f"usage_left:{instrument}"))
        return _shown_count(ctx.shown(f"usage:{instrument}"), "use", kind)

    for kind in ("used", "left_out", *LEFT_OUT):
        usage[kind] = [shown_usage(str(i), kind) for i in usage["instrument"]]
        usage[kind] = usage[kind].astype("Int64")
    _table(
        section,
        ctx,
        _partly_hidden(usage, ["used", "left_out", *LEFT_OUT]),
        caption="Survey responses: used and left out",
        labels={
            "instrument": "Instrument",
            "items": "Items",
            "used": "Used",
            "left_out": "Left out",
            "role_not_held": "Role not held then",
            "unknown_id": "Unknown id",
            "outside_episodes": "Outside every role",
            "missing_time": "No time",
            "suppressed": "Suppressed",
        },
    )
    section.add_text(
        "'Role not held then': the person was known but no longer (or not yet) held the "
        "role of the department that asked, at the time of the answer; such answers are "
        "left out of the scores by role. Answers without a score are counted by each "
        "measure and left out."
    )
    notes = _exclusion_notes(ctx)
    if notes:
        section.add_list(notes)
    section.add_heading("Methods")
    section.add_list(
        [
            "NPS, eNPS and partner NPS: promoters (9-10) minus detractors (0-6), in points; "
            "adjusted Wald interval (Rocks 2016).",
            "CSAT: share of 4 and 5 on a 1-5 scale, Wilson interval. CES 2.0: mean of a "
            "1-7 agreement scale (7 = easiest), t interval.",
            "Group differences: z tests against people with no hybrid pattern, Holm-adjusted.",
            "Siloed vs unified: ratio estimators with person-clustered (sandwich) standard "
            "errors; the gap is split into double counting, role attribution and hybrid "
            "experience, in that order.",
            "Reliability: Cronbach's alpha with Feldt's interval and McDonald's omega from a "
            "one-factor model, complete answers only.",
            "HX index: mean of the six core items on the fixed 1-5 scale, rescaled to 0-100, "
            "equal weights; percentile intervals from 1,000 bootstrap resamples of persons.",
            "Measurement invariance: multi-group confirmatory factor analysis, configural to "
            "strict, with Chen's (2007) change-in-fit rules.",
            f"Lifetime value: BG/NBD for purchases and Gamma-Gamma for spend, fitted by "
            f"maximum likelihood on weekly purchase histories up to {ctx.as_of:%Y-%m-%d}; "
            f"value over {CLV_HORIZON} weeks discounted at {CLV_ANNUAL_DISCOUNT:.0%} a year.",
            "Retention: Kaplan-Meier by role with Greenwood intervals (log scale); median "
            "with the Brookmeyer-Crowley interval. Boomerangs: share of worker leavers who "
            "started again, Wilson interval.",
            f"Privacy: groups with fewer than {ctx.min_n} answers or people are suppressed "
            "(primary suppression), and so are other groups wherever a total, a margin, "
            "another table or a difference would give a hidden one back (complementary "
            "suppression across the whole report, relation by relation, with a linear "
            "audit; Hundepool et al. 2012, ch. 4); differences from a hidden reference "
            "are hidden; the lifetime-value histogram is top- and bottom-coded; no "
            "identifier leaves the input.",
        ]
    )
    section.add_heading("References")
    section.add_list(_REFERENCES)


def _na(value: int | None) -> Any:
    return pd.NA if value is None else value


def _exclusion_notes(ctx: Context) -> list[str]:
    out = []
    if ctx.planned["nps_missing"]:
        missing = ctx.count("nps_missing")
        count = "Some" if missing is None else f"{missing:,}"
        out.append(f"{count} NPS answer(s) had no score and were left out.")
    for reason in sorted(ctx.planned.get("clv_excluded", {})):
        n = ctx.count(f"clv_excluded:{reason}")
        what = str(reason).replace("_", " ")
        out.append(f"Lifetime value: {'some' if n is None else f'{n:,}'} {what}.")
    if "transactions" in ctx.attributed:
        shown = ctx.shown("attribution:transactions")
        left = shown.loc[shown["attribution"] != "ok"]
        if len(left):
            unlinked = left["n"]
            count = "Some" if unlinked.isna().any() else f"{int(unlinked.sum()):,}"
            out.append(
                f"Lifetime value: {count} transaction(s) could not be linked to a customer "
                "and were left out."
            )
    return out


SECTIONS: tuple[tuple[str, Builder], ...] = (
    ("Overview", overview),
    ("Who crosses roles", crossing),
    ("Experience by role and hybrid type", experience),
    ("Siloed vs unified", siloed_unified),
    ("Reliability and the HX index", reliability_index),
    ("Lifetime value and retention", value_retention),
    ("Data quality and methods", data_quality),
)
