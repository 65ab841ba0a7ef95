"""The disclosure plan: every number the report shows, computed unsuppressed and
registered with the report's one :class:`~hxmetrics.privacy.Disclosure` before any
section is laid out (:meth:`Context.plan <hxmetrics.report.sections.context.Context.plan>`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError, HxWarning
from hxmetrics.measures.clv import BetaGeo, GammaGamma, customer_lifetime_value
from hxmetrics.measures.index import hx_index
from hxmetrics.measures.nps import nps
from hxmetrics.measures.reliability import reliability
from hxmetrics.measures.satisfaction import mean_score
from hxmetrics.measures.segments import compare_groups
from hxmetrics.measures.tenure import boomerang_summary, median_tenure
from hxmetrics.privacy import Disclosure
from hxmetrics.report.sections.formatting import as_float
from hxmetrics.report.sections.settings import (
    CLV_HORIZON,
    CLV_UNIT,
    CLV_WEEKLY_DISCOUNT,
    HX_ITEMS,
    LEFT_OUT,
    ROLES,
    TENURE_UNIT,
)
from hxmetrics.stakeholders import HYBRID_RULES, attribution_summary
from hxmetrics.tables import ROLE_OF_SILO, ROSTERS

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

T = TypeVar("T")


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


def make_plan(ctx: Context) -> None:
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
    if ctx.planned:
        return
    d = ctx.disclosure
    _plan_persons(ctx, d)
    _plan_answers(ctx, d)
    _plan_comparisons(ctx, d)
    _plan_core(ctx, d)
    _plan_value(ctx, d)
    _plan_retention(ctx, d)
    _plan_quality(ctx, d)
    # The sections that plan their own numbers (imported here: they import this module).
    from hxmetrics.report.sections import PLANS

    for section_plan in PLANS:
        section_plan(ctx, d)
    for cells in ctx.links:
        d.link(*cells)
    ctx.planned["done"] = True


def _add(ctx: Context, name: str, frame: pd.DataFrame, **options: Any) -> None:
    """Register a table; an empty one is kept aside (it has no cell to show)."""
    if len(frame):
        ctx.disclosure.add(name, frame, **options)
    else:
        ctx.planned.setdefault("empty", {})[name] = frame


def _same(ctx: Context, *cells: tuple[str, Mapping[str, Any] | None]) -> None:
    """Cells that are the same people (hidden together), linked once all exist."""
    ctx.links.append(cells)


def _plan_persons(ctx: Context, d: Disclosure) -> None:
    summary = ctx.registry.summary(ctx.as_of)
    summary = summary.assign(roles=summary["roles"].astype("str"))
    ctx.planned["roles"] = summary
    d.add_count("people", ctx.n_persons, base=PERSONS)
    ever = summary.loc[summary["n_ever"] > 0].rename(columns={"roles": "roles_ever"})
    _add(ctx, "roles_ever", ever, base=PERSONS, by="roles_ever", n="n_ever")
    now = summary.loc[summary["n_as_of"] > 0].rename(columns={"roles": "roles_as_of"})
    _add(ctx, "roles_as_of", now, base=PERSONS, by="roles_as_of", n="n_as_of")
    multi = ever.loc[ever["roles_ever"].str.contains("+", regex=False)]
    ctx.planned["crossing"] = int(multi["n_ever"].sum())
    if len(multi):
        # The people in more than one role are the total of these rows.
        crossing = {"roles_ever": multi["roles_ever"].tolist()}
        _add(
            ctx, "roles_crossing", multi, base=PERSONS, by="roles_ever", where=crossing, n="n_ever"
        )
        d.add_count("crossing", ctx.planned["crossing"], base=PERSONS, where=crossing)
    hybrids = ctx.hybrids
    counts = hybrids["hybrid_type"].astype("str").value_counts().sort_index()
    types = pd.DataFrame({"hybrid_type": counts.index.astype("str"), "n": counts.to_numpy()})
    _add(ctx, "hybrid_types", types, base=PERSONS, by="hybrid_type")
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
        if rule.label in as_type and n - int(as_type[rule.label]) < ctx.min_n:
            _same(ctx, (PERSONS, {rule.label: True}), (PERSONS, {"hybrid_type": rule.label}))
    ctx.planned["patterns"] = patterns
    d.add_count("records", ctx.n_records, base=RECORDS)
    matched = ctx.registry.crosswalk["matched_on"].astype("str") != "none"
    linked = partition({"linked": [True, False]}, [int(matched.sum()), int((~matched).sum())])
    _add(ctx, "records_linked", linked, base=RECORDS, by="linked")
    conflicts = ctx.registry.conflicts
    if len(conflicts):
        kinds = (
            conflicts.groupby("kind", sort=True)
            .agg(conflicts=("conflict_id", "nunique"), records=("source_id", "size"))
            .reset_index()
        )
        kinds["kind"] = kinds["kind"].astype("str")
        ctx.planned["conflicts"] = kinds
        _add(ctx, "conflicts", kinds, base="conflicts", by="kind", n="conflicts")
        _add(ctx, "conflict_records", kinds, base="conflict_records", by="kind", n="records")
        d.add_count("conflicts_total", int(conflicts["conflict_id"].nunique()), base="conflicts")
        for kind in kinds["kind"]:
            _same(ctx, ("conflicts", {"kind": kind}), ("conflict_records", {"kind": kind}))


def _plan_answers(ctx: Context, d: Disclosure) -> None:
    usage = ctx.usage()
    ctx.planned["usage"] = usage
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
            long = partition({"use": reasons}, [int(row[r]) for r in reasons])
            _add(ctx, f"usage:{instrument}", long, base=base, by="use", where=left)
            total = sum(int(row[r]) for r in reasons)
            d.add_count(f"usage_left:{instrument}", total, base=base, where=left)
    _add(ctx, "nps_by_role", ctx.nps_by_role, base=NPS_BASE, by="role", where=USED)
    _add(
        ctx,
        "nps_by_hybrid",
        ctx.nps_by_hybrid,
        base=NPS_BASE,
        by=["role", "hybrid_type"],
        where=USED,
    )
    ctx.planned["nps_roles"] = set(ctx.nps_by_role["role"].astype("str"))
    missing = int(ctx.nps_by_role["n_excluded_missing"].fillna(0).sum())
    ctx.planned["nps_missing"] = missing
    if missing:
        d.add_count("nps_missing", missing, base=NPS_BASE, where={**USED, "score": "missing"})
    rows = ctx.answers("nps", ["ltr"])
    for role in ROLES:
        part = rows.loc[rows["role"] == role]
        if part.empty or "none" not in set(part["hybrid_type"].astype("str")):
            continue
        result = nps(part, "score", by="hybrid_type", confidence=ctx.confidence)
        compared = compare_groups(result, reference="none", correction="holm")
        if compared.empty:
            continue
        # The role's groups again (cells of nps_by_hybrid): the shown ones are
        # compared again at display time, Holm-adjusted among themselves.
        _add(
            ctx,
            f"nps_part:{role}",
            result,
            base=NPS_BASE,
            by="hybrid_type",
            where={**USED, "role": role},
            n=None,
        )
        # Differences and p-values of a group are numbers of its cell and of the
        # reference's: hidden with either (the reference through compared_with).
        _add(
            ctx,
            f"nps_diff:{role}",
            compared,
            base=NPS_BASE,
            by="hybrid_type",
            where={**USED, "role": role},
            n=None,
            compared_with={"hybrid_type": "none"},
        )
        ctx.planned[f"nps_diff:{role}"] = True
    for name, grouped in (
        ("csat_by_hybrid", ctx.csat_by_hybrid),
        ("ces_by_hybrid", ctx.ces_by_hybrid),
    ):
        if grouped is not None:
            base = "responses:csat" if name.startswith("csat") else "responses:ces"
            _add(ctx, name, grouped, base=base, by="hybrid_type", where=USED)
    if ctx.csat_overall is not None:
        _add(ctx, "csat_overall", ctx.csat_overall, base="responses:csat", where=USED)
    if ctx.ces_overall is not None:
        _add(ctx, "ces_overall", ctx.ces_overall, base="responses:ces", where=USED)


def _plan_comparisons(ctx: Context, d: Disclosure) -> None:
    results = ctx.comparisons
    if not results:
        return

    def units(group: str, estimator: str) -> int:
        est = results[group].estimates.set_index("estimator")
        return int(as_float(est.loc[estimator, "n_units"]))

    # A role can have a unified count without any record of its own silo answering
    # (partners who answered only as customers): its siloed count is 0, no cell.
    siloed = {g: units(g, "siloed") for g in results}
    unified = {g: units(g, "unified") for g in results}
    ctx.planned["svu_siloed_units"] = siloed
    ctx.planned["svu_unified_units"] = unified
    roles = [g for g in ROLES if g in results]
    if roles:
        # Silo records partition everyone's siloed count: one table, one relation.
        parts = partition({"group": roles}, [siloed[g] for g in roles])
        _add(ctx, "svu_siloed", parts, base="nps:siloed", by="group")
    for group in results:
        where = svu_where(group)
        if group == "all" and siloed[group]:
            d.add_count("svu_siloed:all", siloed[group], base="nps:siloed")
        if not unified[group]:
            continue
        d.add_count(f"svu_unified:{group}", unified[group], base="nps:unified", where=where)
        cells: list[tuple[str, Mapping[str, Any] | None]] = [("nps:unified", where)]
        if siloed[group]:
            cells.append(("nps:siloed", where))
        # The same role's NPS counted per answer: the same people, hidden together.
        if group == "all" and ctx.planned["nps_roles"]:
            cells.append((NPS_BASE, USED))
        elif group in ctx.planned["nps_roles"]:
            cells.append((NPS_BASE, {**USED, "role": group}))
        if len(cells) > 1:
            _same(ctx, *cells)


def _persons_numbered(long: pd.DataFrame) -> pd.DataFrame:
    """``long`` with each person as its number in the crosswalk's order (missing kept).

    hx_index's bootstrap resamples persons in the order of their ids; the report's
    pseudonyms are keyed by a secret drawn at every run, so their order (and with it the
    intervals) would change from run to run. The crosswalk's order depends on the
    rosters only: the same draws, and the same report, at every run.
    """
    ids = long["person_id"]
    if not isinstance(ids.dtype, pd.CategoricalDtype):
        ids = ids.astype("category")
    codes = pd.array(ids.cat.codes.to_numpy(), dtype="Int64")
    return long.assign(person_id=pd.Series(codes, index=long.index).mask(ids.isna()))


def _plan_core(ctx: Context, d: Disclosure) -> None:
    wide = ctx.hx_wide
    if wide.empty:
        return
    items = list(HX_ITEMS)
    floor = ctx.core_floor
    rel = _reliability(wide, items, floor=floor, confidence=ctx.confidence, notes=ctx.notes)
    ctx.planned["reliability"] = rel
    complete = {**USED, "complete": True}
    first = rel.drop_duplicates("role")[["role", "n"]]
    _add(ctx, "reliability_n", first, base=HX_BASE, by="role", where=complete)
    _add(ctx, "reliability", rel, base=HX_BASE, by="role", where=complete, n=None)
    for key, group in (("hx_role", "role"), ("hx_type", "hybrid_type")):
        result, said = recorded(
            hx_index,
            _persons_numbered(ctx.hx_long),
            items,
            by=group,
            person="person_id",
            min_n=1,
            confidence=ctx.confidence,
            random_state=ctx.random_state,
        )
        if said:
            # The index's check of the items on every answer: its text carries the
            # number of complete responses of everyone, a total the plan does not
            # register, so the section says it in words only.
            ctx.notes[("hx_index", "all")] = said
        ctx.planned[key] = result
        _add(ctx, key, result, base=HX_PERSONS, by=group)
        _add(ctx, f"{key}:responses", result, base=HX_BASE, by=group, where=USED, n="n_responses")
        for value in result[group].astype("str"):
            _same(ctx, (HX_PERSONS, {group: value}), (HX_BASE, {**USED, group: value}))


def _reliability(
    wide: pd.DataFrame,
    items: list[str],
    *,
    floor: int,
    confidence: float,
    notes: dict[tuple[str, str], list[str]],
) -> pd.DataFrame:
    """Alpha and omega by role, unsuppressed (the plan decides what is shown).

    A role with fewer than ``floor`` respondents keeps its count but gets no estimate.
    Each role is estimated on its own, in the order ``by="role"`` gives, so that the
    measure's warnings (a Heywood case, low reliability) are known per role: those of
    a role that gets an estimate are kept in ``notes`` under ``("reliability", role)``
    for the section to show; the others concern numbers that are never shown.
    """
    roles = wide["role"].astype("str")
    parts = []
    for role in sorted(set(roles)):
        part, said = recorded(
            reliability,
            wide.loc[(roles == role).to_numpy()],
            items=items,
            by="role",
            min_n=None,
            confidence=confidence,
        )
        if said and int(part["n"].fillna(0).min()) >= floor:
            notes[("reliability", role)] = said
        parts.append(part)
    rel = pd.concat(parts, ignore_index=True)
    small = (rel["n"].fillna(0) < floor).to_numpy()
    rel.loc[small, ["estimate", "se", "ci_low", "ci_high"]] = np.nan
    return rel


def recorded(function: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[str]]:
    """Call a measure and keep its statistical warnings (:class:`HxWarning`) as text.

    The report shows them as notes where the numbers they concern are shown, instead
    of letting them reach the console (or fail a run with warnings as errors). Other
    warnings pass through unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HxWarning)
        result = function(*args, **kwargs)
    said = []
    for w in caught:
        if issubclass(w.category, HxWarning):
            said.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, list(dict.fromkeys(said))


def _plan_value(ctx: Context, d: Disclosure) -> None:
    rfm = ctx.rfm
    if rfm is None:
        return
    try:
        bg = BetaGeo().fit(rfm)
        gg = GammaGamma().fit(rfm)
    except HxError as exc:
        ctx.planned["clv_error"] = type(exc).__name__
        return
    value = customer_lifetime_value(
        rfm,
        bg,
        gg,
        horizon=CLV_HORIZON,
        unit=CLV_UNIT,
        discount_rate_per_period=CLV_WEEKLY_DISCOUNT,
    )
    hyb = ctx.hybrids.set_index("person_id")["hybrid_type"]
    per_type = pd.DataFrame(
        {"clv": value["clv"].to_numpy(), "hybrid_type": hyb.reindex(value.index).to_numpy()}
    )
    by_type = mean_score(per_type, "clv", by="hybrid_type", confidence=ctx.confidence)
    ctx.planned.update(clv_models=(bg, gg), clv_value=value, clv_by_type=by_type)
    d.add_count("buyers", len(rfm), base=BUYERS)
    _add(ctx, "clv_by_type", by_type, base=BUYERS, by="hybrid_type")
    repeat = rfm["frequency"].to_numpy() > 0
    _add(
        ctx,
        "buyers_repeat",
        partition({"repeat": [True, False]}, [int(repeat.sum()), int((~repeat).sum())]),
        base=BUYERS,
        by="repeat",
    )


def _plan_retention(ctx: Context, d: Disclosure) -> None:
    episodes = ctx.registry.episodes
    if episodes.empty:
        return
    medians = median_tenure(
        episodes, as_of=ctx.as_of, unit=TENURE_UNIT, by="role", confidence=ctx.confidence
    )
    medians = medians.assign(role=medians["role"].astype("str"))
    ctx.planned["tenure"] = medians
    _add(ctx, "tenure", medians, base=EPISODES, by="role")
    status = pd.concat(
        [
            medians[["role"]].assign(status="ended", n=medians["n_events"]),
            medians[["role"]].assign(status="running", n=medians["n_censored"]),
        ],
        ignore_index=True,
    )
    status = status.loc[status["n"] > 0]
    _add(ctx, "tenure_status", status, base=EPISODES, by=["role", "status"])
    if (episodes["role"].astype("str") == "worker").any():
        boom = boomerang_summary(
            episodes,
            as_of=ctx.as_of,
            role="worker",
            unit=TENURE_UNIT,
            confidence=ctx.confidence,
        )
        row = boom.iloc[0]
        leavers, returned = int(row["n"]), int(row["n_returned"])
        ctx.planned["boomerang"] = row
        d.add_count("leavers", leavers, base=LEAVERS)
        _add(
            ctx,
            "leavers_returned",
            partition({"returned": [True, False]}, [returned, leavers - returned]),
            base=LEAVERS,
            by="returned",
        )
        if returned and ctx.planned["patterns"].get("boomerang") == returned:
            _same(ctx, (LEAVERS, {"returned": True}), (PERSONS, {"boomerang": True}))


def _plan_quality(ctx: Context, d: Disclosure) -> None:
    episodes = ctx.planned.get("tenure")
    for name, frame in ctx.tables.items():
        base = f"rows:{name}"
        d.add_count(f"rows:{name}", len(frame), base=base)
        if name in ctx.attributed:
            counts = attribution_summary(ctx.attributed[name])
            counts = counts.assign(attribution=counts["attribution"].astype("str"))
            counts = counts.loc[counts["n"] > 0, ["attribution", "n"]]
            _add(ctx, f"attribution:{name}", counts, base=base, by="attribution")
        role = ROLE_OF_SILO.get(name)
        if name in ROSTERS and role is not None and episodes is not None:
            # A roster's rows are its role's episodes when they count the same.
            mine = episodes.loc[episodes["role"] == role, "n"]
            if len(mine) and int(mine.iloc[0]) == len(frame):
                _same(ctx, (base, None), (EPISODES, {"role": role}))
    rfm = ctx.rfm
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
        ctx.planned["clv_excluded"] = {str(k): int(v) for k, v in excluded.items() if v}


#: The promoter / passive / detractor split of a role's NPS answers (the distributions
#: section registers each category as a cell of the role's answers).
NPS_CATEGORIES = ("promoter", "passive", "detractor")


def category_cell(role: str, category: str) -> tuple[str, dict[str, str]]:
    """The cell of a role's NPS answers in one category (promoter, passive, detractor)."""
    return NPS_BASE, {**USED, "role": role, "category": category}


def categories_registered(ctx: Context, role: str) -> list[str]:
    """The categories of a role's NPS answers registered as cells (those with answers)."""
    split = ctx.planned.get(f"distributions:categories:{role}")
    if split is None:
        return []
    held = split.loc[split["answers"] > 0, "category"].astype("str")
    return [c for c in NPS_CATEGORIES if c in set(held)]


def split_hidden(ctx: Context, role: str) -> bool:
    """Whether a role's promoter/passive/detractor split has a hidden category.

    Then no share of promoters or detractors of the role (or of parts of it that add
    up to it) may be shown: with the number of answers, a share gives the hidden
    count back.
    """
    return any(
        ctx.disclosure.is_hidden(*category_cell(role, c)) for c in categories_registered(ctx, role)
    )


def partition(labels: Mapping[str, Sequence[Any]], n: Sequence[int]) -> pd.DataFrame:
    """A one-column partition with its counts, empty parts left out.

    An empty part holds no one: it is shown as 0 and never hidden (hiding it would
    only force hiding a neighbour).
    """
    ((column, values),) = labels.items()
    frame = pd.DataFrame({column: list(values), "n": [int(v) for v in n]})
    return frame.loc[frame["n"] > 0].reset_index(drop=True)


def svu_where(group: str) -> dict[str, str] | None:
    return None if group == "all" else {"group": group}
