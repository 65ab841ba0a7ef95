"""Hybrid stakeholders: role patterns derived from a person's episodes, never typed in.

The labels are data: :data:`HYBRID_RULES` is a tuple of :class:`HybridRule`, and
:func:`classify_hybrids` takes any other list of rules (objects, dicts or a
DataFrame with the same fields). Four kinds of rule exist:

``concurrent`` (first, second)
    The person has an episode of role ``first`` and a different episode of role
    ``second`` that overlap in time (``a.start < b.end`` and ``b.start < a.end``,
    a missing end being +infinity).
``engagement`` (first, engagements)
    The person has an episode of role ``first`` whose engagement is one of
    ``engagements`` (a merged ``"full_time+gig"`` counts as both).
``sequential`` (first, second)
    An episode of role ``second`` starts on or after the end of an earlier, ended,
    different episode of role ``first``. The gap in days is reported for the
    earliest such episode, measured from the latest end before it
    (``<label>_gap_days``; missing when the label is false).
``first_after`` (first, second)
    The person's first episode of role ``second`` starts strictly after their first
    episode of role ``first`` (so they were not a ``second`` before).

Episodes are merged first (:func:`~hxmetrics.stakeholders.merge_episodes`), so
overlapping pieces of one job never look like a re-hire.

``hybrid_type`` is one string per person: the label of the first rule, in rule
order, that is true, or ``"none"``. Reorder the rules to change the precedence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, check_choice
from hxmetrics.stakeholders._lookup import text as _text
from hxmetrics.stakeholders.episodes import _OPEN, ROLES, _ns, merge_episodes, to_ns

__all__ = ["HYBRID_RULES", "RULE_KINDS", "HybridRule", "classify_hybrids", "rules_table"]

RULE_KINDS = ("concurrent", "engagement", "sequential", "first_after")


@dataclass(frozen=True)
class HybridRule:
    """One hybrid label, defined as data.

    Parameters
    ----------
    label : str
        Name of the boolean output column.
    kind : {"concurrent", "engagement", "sequential", "first_after"}
        See the module docstring.
    first : str
        A role (``customer``, ``worker``, ``partner``).
    second : str, optional
        The other role, for ``concurrent``, ``sequential`` and ``first_after``.
    engagements : tuple of str
        For ``engagement`` rules: the engagement kinds that qualify.
    """

    label: str
    kind: str
    first: str
    second: str | None = None
    engagements: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, RULE_KINDS)
        check_choice("first", self.first, ROLES)
        if self.kind == "engagement":
            if not self.engagements:
                raise ParameterError(f"rule {self.label!r}: engagement rules need engagements.")
        else:
            check_choice(f"rule {self.label!r}: second", self.second, ROLES)
        if not self.label.isidentifier():
            raise ParameterError(f"rule label must be a column-friendly name; got {self.label!r}.")


#: The default rules, in precedence order for ``hybrid_type``.
HYBRID_RULES: tuple[HybridRule, ...] = (
    HybridRule("worker_customer", "concurrent", "worker", "customer"),
    HybridRule("partner_customer", "concurrent", "partner", "customer"),
    HybridRule("worker_partner", "concurrent", "worker", "partner"),
    HybridRule("gig_worker", "engagement", "worker", engagements=("gig", "freelance")),
    HybridRule("boomerang", "sequential", "worker", "worker"),
    HybridRule("alumni_customer", "sequential", "worker", "customer"),
    HybridRule("alumni_partner", "sequential", "worker", "partner"),
    HybridRule("customer_to_worker", "first_after", "customer", "worker"),
)


def rules_table(rules: Iterable[HybridRule] = HYBRID_RULES) -> pd.DataFrame:
    """The rules as a DataFrame (one row per label, in precedence order).

    Examples
    --------
    >>> from hxmetrics.stakeholders import rules_table
    >>> rules_table().loc[:1, ["label", "kind", "first", "second"]]
                  label        kind    first    second
    0   worker_customer  concurrent   worker  customer
    1  partner_customer  concurrent  partner  customer
    """
    return pd.DataFrame(
        [
            {
                "label": r.label,
                "kind": r.kind,
                "first": r.first,
                "second": r.second,
                "engagements": "+".join(r.engagements) if r.engagements else None,
            }
            for r in rules
        ]
    )


def _coerce_rules(rules: Any) -> tuple[HybridRule, ...]:
    if rules is None:
        return HYBRID_RULES
    if isinstance(rules, pd.DataFrame):
        rules = rules.to_dict("records")
    out = []
    for r in rules:
        if isinstance(r, HybridRule):
            out.append(r)
        elif isinstance(r, Mapping):
            eng = r.get("engagements")
            # A DataFrame of rules holds missing cells as NaN / None.
            if isinstance(eng, str):
                eng = tuple(eng.split("+"))
            elif not isinstance(eng, list | tuple):
                eng = ()
            second = r.get("second")
            if not isinstance(second, str):
                second = None
            out.append(
                HybridRule(str(r["label"]), str(r["kind"]), str(r["first"]), second, tuple(eng))
            )
        else:
            raise ParameterError(
                f"rules must be HybridRule objects, dicts or a DataFrame; got {type(r).__name__}."
            )
    labels = [r.label for r in out]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"rule labels must be unique; got {labels}.")
    reserved = {"person_id", "roles_ever", "roles_as_of", "hybrid_type"}
    if reserved & set(labels):
        raise ParameterError(f"rule labels may not be {sorted(reserved)}.")
    return tuple(out)


def _as_of_ns(as_of: Any) -> int | None:
    if as_of is None:
        return None
    ts = pd.Timestamp(as_of)
    if ts is pd.NaT or pd.isna(ts):
        raise ParameterError(f"as_of must be a timestamp or None; got {as_of!r}.")
    if ts.tzinfo is not None:
        raise ParameterError("as_of must be naive (timestamps in hxmetrics are naive).")
    return int(ts.as_unit("ns").value)


def _role_names(mask: np.ndarray) -> np.ndarray:
    names = np.array(
        ["+".join(r for i, r in enumerate(ROLES) if m >> i & 1) or "none" for m in range(8)],
        dtype=object,
    )
    return names[mask]


def classify_hybrids(
    episodes: pd.DataFrame,
    *,
    as_of: Any = None,
    rules: Sequence[HybridRule] | pd.DataFrame | None = None,
    merged: bool = False,
) -> pd.DataFrame:
    """Per person: roles ever held, roles held at ``as_of``, and hybrid labels.

    Parameters
    ----------
    episodes : pandas.DataFrame
        ``person_id``, ``role``, ``engagement``, ``start``, ``end`` (one row per
        episode; overlapping ones are merged first).
    as_of : timestamp, optional
        Classify with what was known at this instant: episodes starting after it
        are ignored and ends after it are open. ``None`` uses the whole history, and
        ``roles_as_of`` is then the roles of open episodes (held "now").
    rules : sequence of HybridRule, list of dicts or DataFrame, optional
        The labels to compute, in precedence order; default :data:`HYBRID_RULES`.
    merged : bool, default False
        The episodes are already merged (e.g. from ``role_episodes``): skip merging.

    Returns
    -------
    pandas.DataFrame
        One row per person (sorted by ``person_id``): ``person_id``,
        ``roles_ever`` and ``roles_as_of`` (roles joined by ``"+"`` in the order
        customer, worker, partner, or ``"none"``), one boolean column per rule,
        ``<label>_gap_days`` for each sequential rule, and ``hybrid_type``.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import classify_hybrids
    >>> eps = pd.DataFrame({"person_id": ["P1", "P1", "P1"],
    ...     "role": ["worker", "worker", "customer"],
    ...     "engagement": ["full_time", "full_time", "consumer"],
    ...     "start": pd.to_datetime(["2020-01-01", "2021-03-01", "2020-06-01"]),
    ...     "end": pd.to_datetime(["2021-01-01", None, None])})
    >>> h = classify_hybrids(eps)
    >>> h[["roles_ever", "worker_customer", "boomerang", "boomerang_gap_days"]]
            roles_ever  worker_customer  boomerang  boomerang_gap_days
    0  customer+worker             True       True                59.0
    >>> h["hybrid_type"].tolist()
    ['worker_customer']
    >>> classify_hybrids(eps, as_of="2020-03-01")[["roles_ever", "hybrid_type"]]
      roles_ever hybrid_type
    0     worker        none
    """
    rule_list = _coerce_rules(rules)
    cut = _as_of_ns(as_of)
    if not merged:
        episodes = merge_episodes(episodes)
    person_codes, persons = pd.factorize(_text(episodes["person_id"]), sort=True)
    n = len(persons)
    role = pd.Index(ROLES).get_indexer(pd.Index(episodes["role"]))
    s = _ns(to_ns(episodes["start"], table="episodes", column="start"))
    e = _ns(to_ns(episodes["end"], table="episodes", column="end"))
    eng = _text(episodes["engagement"])
    if cut is not None:
        keep = s <= cut
        e = np.where(e > cut, _OPEN, e)
        person_codes, role, s, e = person_codes[keep], role[keep], s[keep], e[keep]
        eng = eng[keep]
    ep = pd.DataFrame(
        {"person": person_codes, "role": role, "start": s, "end": e, "ep": np.arange(s.size)}
    )

    ever = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(ever, ep["person"].to_numpy(), np.left_shift(1, ep["role"].to_numpy()))
    now = np.zeros(n, dtype=np.int64)
    is_open = ep["end"].to_numpy() == _OPEN
    np.bitwise_or.at(
        now, ep["person"].to_numpy()[is_open], np.left_shift(1, ep["role"].to_numpy()[is_open])
    )
    out: dict[str, Any] = {
        "person_id": pd.Series(np.asarray(persons, dtype=object), dtype="str"),
        "roles_ever": pd.Series(_role_names(ever), dtype="str"),
        "roles_as_of": pd.Series(_role_names(now), dtype="str"),
    }
    gaps: dict[str, np.ndarray] = {}
    by_role = {r: ep[ep["role"] == i] for i, r in enumerate(ROLES)}
    for rule in rule_list:
        if rule.kind == "concurrent":
            out[rule.label] = _concurrent(by_role[rule.first], by_role[str(rule.second)], n)
        elif rule.kind == "engagement":
            out[rule.label] = _engagement(ep, eng, ROLES.index(rule.first), rule.engagements, n)
        elif rule.kind == "sequential":
            flag, gap = _sequential(by_role[rule.first], by_role[str(rule.second)], n)
            out[rule.label] = flag
            gaps[f"{rule.label}_gap_days"] = gap
        else:
            out[rule.label] = _first_after(by_role[rule.first], by_role[str(rule.second)], n)
    out.update(gaps)
    hybrid = np.full(n, "none", dtype=object)
    decided = np.zeros(n, dtype=bool)
    for rule in rule_list:
        take = out[rule.label] & ~decided
        hybrid[take] = rule.label
        decided |= take
    out["hybrid_type"] = pd.Series(hybrid, dtype="str")
    return pd.DataFrame(out)


def _pairs(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Every (episode of a, different episode of b) pair of the same person."""
    pairs = a.merge(b, on="person", suffixes=("_a", "_b"))
    return pairs[pairs["ep_a"] != pairs["ep_b"]]


def _concurrent(a: pd.DataFrame, b: pd.DataFrame, n: int) -> np.ndarray:
    p = _pairs(a, b)
    hit = (p["start_a"] < p["end_b"]) & (p["start_b"] < p["end_a"])
    flag = np.zeros(n, dtype=bool)
    flag[p.loc[hit, "person"].to_numpy()] = True
    return flag


def _engagement(
    ep: pd.DataFrame, eng: pd.Series, role: int, kinds: tuple[str, ...], n: int
) -> np.ndarray:
    parts = eng.to_numpy(dtype=object)
    mine = ep["role"].to_numpy() == role
    wanted = set(kinds)
    codes, uniques = pd.factorize(parts[mine])
    good = np.array([bool(wanted & set(u.split("+"))) for u in uniques], dtype=bool)
    flag = np.zeros(n, dtype=bool)
    if codes.size:
        flag[ep["person"].to_numpy()[mine][good[codes]]] = True
    return flag


def _sequential(a: pd.DataFrame, b: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    ended = a[a["end"] != _OPEN]
    p = _pairs(ended, b)
    p = p[p["start_b"] >= p["end_a"]]
    flag = np.zeros(n, dtype=bool)
    gap = np.full(n, np.nan)
    if len(p):
        # The earliest qualifying episode of b, measured from the latest end before it.
        p = p.sort_values(["person", "start_b", "end_a"], ascending=[True, True, False])
        first = p.drop_duplicates("person")
        who = first["person"].to_numpy()
        flag[who] = True
        gap[who] = (first["start_b"].to_numpy() - first["end_a"].to_numpy()) / 86_400e9
    return flag, gap


def _first_after(a: pd.DataFrame, b: pd.DataFrame, n: int) -> np.ndarray:
    first_a = np.full(n, _OPEN, dtype=np.int64)
    first_b = np.full(n, _OPEN, dtype=np.int64)
    np.minimum.at(first_a, a["person"].to_numpy(), a["start"].to_numpy())
    np.minimum.at(first_b, b["person"].to_numpy(), b["start"].to_numpy())
    return (first_a != _OPEN) & (first_b != _OPEN) & (first_b > first_a)
