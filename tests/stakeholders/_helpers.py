"""Shared builders and slow reference implementations for the stakeholder tests."""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

DAY0 = pd.Timestamp("2020-01-01")


def day(n: float | None) -> pd.Timestamp:
    """Day ``n`` after 2020-01-01 (``None`` -> NaT)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return pd.NaT
    return DAY0 + pd.Timedelta(days=n)


def roster(id_column: str, rows: list[dict]) -> pd.DataFrame:
    """A roster from short dicts: id, email, phone, birth_year, start/end days, engagement."""
    defaults = {"email": None, "phone": None, "birth_year": None, "start": 0, "end": None}
    out = []
    for r in rows:
        r = {**defaults, **r}
        out.append(
            {
                id_column: r["id"],
                "email": r["email"],
                "phone": r["phone"],
                "birth_year": r["birth_year"],
                "start": day(r["start"]),
                "end": day(r["end"]),
                "engagement": r["engagement"],
            }
        )
    df = pd.DataFrame(out)
    df["birth_year"] = df["birth_year"].astype("Int64")
    df["start"] = df["start"].astype("datetime64[ns]")
    df["end"] = df["end"].astype("datetime64[ns]")
    return df


def slow_components(records: list[tuple[str, str, list[str]]]) -> dict[tuple[str, str], int]:
    """Plain union-find over (silo, source_id) records sharing any token."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, tuple[str, str]] = {}
    for silo, sid, tokens in records:
        node = (silo, sid)
        parent.setdefault(node, node)
        for tok in tokens:
            if tok in owner:
                a, b = find(owner[tok]), find(node)
                if a != b:
                    parent[a] = b
            else:
                owner[tok] = node
    roots: dict[tuple[str, str], int] = {}
    return {n: roots.setdefault(find(n), len(roots)) for n in parent}


def partition(crosswalk: pd.DataFrame) -> set[frozenset[tuple[str, str]]]:
    """The set of persons, each the set of its (silo, source_id) records."""
    groups: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for s, i, p in crosswalk[["silo", "source_id", "person_id"]].itertuples(index=False):
        groups[p].add((s, i))
    return {frozenset(g) for g in groups.values()}


# ------------------------------------------------------------ slow references

_ROLES = ("customer", "worker", "partner")

# The default labels in their documented precedence order (COMMON brief, "Hybrid labels"),
# written out here rather than read from ``HYBRID_RULES`` so the reference is independent.
DEFAULT_LABELS = (
    "worker_customer",
    "partner_customer",
    "worker_partner",
    "gig_worker",
    "boomerang",
    "alumni_customer",
    "alumni_partner",
    "customer_to_worker",
)


def slow_merge(episodes: pd.DataFrame) -> dict[tuple[str, str], list[dict]]:
    """Merged episodes per (person, role) by a plain loop (the documented rule).

    Rows sorted by (start, end, engagement); a row joins the current episode if it starts before
    the latest end so far or repeats the previous row's (start, end) exactly.
    Ends are ``math.inf`` when open; times are nanosecond integers.
    """
    rows: dict[tuple[str, str], list[tuple[int, float, str]]] = defaultdict(list)
    for p, role, eng, s, e in episodes[
        ["person_id", "role", "engagement", "start", "end"]
    ].itertuples(index=False):
        end = math.inf if pd.isna(e) else pd.Timestamp(e).value
        rows[(p, role)].append((pd.Timestamp(s).value, end, eng))
    out: dict[tuple[str, str], list[dict]] = {}
    for key, items in rows.items():
        items.sort()
        merged: list[dict] = []
        prev = None
        for s, e, eng in items:
            if merged and (s < merged[-1]["end"] or (prev is not None and (s, e) == prev)):
                block = merged[-1]
                block["end"] = max(block["end"], e)
                for part in eng.split("+"):
                    if part not in block["parts"]:
                        block["parts"].append(part)
            else:
                merged.append({"start": s, "end": e, "parts": list(dict.fromkeys(eng.split("+")))})
            prev = (s, e)
        out[key] = merged
    return out


def slow_hybrids(episodes: pd.DataFrame) -> pd.DataFrame:
    """The default hybrid labels per person, by loops over merged episodes.

    ``hybrid_type`` is the first true label in :data:`DEFAULT_LABELS`, else ``"none"``.
    """
    merged = slow_merge(episodes)
    persons = sorted(episodes["person_id"].unique())
    rows = []
    for p in persons:
        eps = {r: merged.get((p, r), []) for r in _ROLES}
        c, w, q = eps["customer"], eps["worker"], eps["partner"]

        def overlap(xs, ys):
            return any(
                x is not y and x["start"] < y["end"] and y["start"] < x["end"]
                for x in xs
                for y in ys
            )

        def after(later, earlier):
            hits = [
                (
                    x["start"],
                    max(
                        e["end"]
                        for e in earlier
                        if e is not x and e["end"] != math.inf and x["start"] >= e["end"]
                    ),
                )
                for x in later
                if any(
                    e is not x and e["end"] != math.inf and x["start"] >= e["end"] for e in earlier
                )
            ]
            if not hits:
                return False, math.nan
            # The earliest re-hire, measured from the latest end before it: among
            # episodes starting that day, the latest end (min of tuples took the
            # earliest, against the rule, when an empty episode ended that day).
            start, end = min(hits, key=lambda hit: (hit[0], -hit[1]))
            return True, (start - end) / 86_400e9

        boomerang, gap = after(w, w)
        row = {
            "person_id": p,
            "worker_customer": overlap(w, c),
            "partner_customer": overlap(q, c),
            "worker_partner": overlap(w, q),
            "gig_worker": any({"gig", "freelance"} & set(x["parts"]) for x in w),
            "boomerang": boomerang,
            "alumni_customer": after(c, w)[0],
            "alumni_partner": after(q, w)[0],
            "customer_to_worker": bool(c and w)
            and min(x["start"] for x in w) > min(x["start"] for x in c),
            "boomerang_gap_days": gap,
        }
        row["hybrid_type"] = next((lab for lab in DEFAULT_LABELS if row[lab]), "none")
        rows.append(row)
    return pd.DataFrame(rows)


def slow_attribute(
    events: pd.DataFrame, crosswalk: pd.DataFrame, episodes: pd.DataFrame, hybrid: dict[str, str]
) -> pd.DataFrame:
    """Attribution row by row: crosswalk dict, then every merged episode of the person."""
    person_of = {
        (s, i): p
        for s, i, p in crosswalk[["silo", "source_id", "person_id"]].itertuples(index=False)
    }
    merged = slow_merge(episodes)
    out = []
    for silo, sid, ts in events[["silo", "source_id", "timestamp"]].itertuples(index=False):
        p = person_of.get((silo, sid)) if not (pd.isna(silo) or pd.isna(sid)) else None
        row: dict = {"person_id": p, "hybrid_type": hybrid.get(p, "none") if p else None}
        any_role = False
        for r in _ROLES:
            held = None
            if p is not None and not pd.isna(ts):
                t = pd.Timestamp(ts).value
                for x in merged.get((p, r), []):
                    if x["start"] <= t < x["end"]:
                        held = x
            row[f"is_{r}"] = held is not None
            row[f"{r}_engagement"] = "+".join(held["parts"]) if held else None
            any_role |= held is not None
        if p is None:
            status = "unknown_id"
        elif pd.isna(ts):
            status = "missing_time"
        elif not any_role:
            status = "outside_episodes"
        else:
            status = "ok"
        row["attribution"] = status
        # The silo's role: its name without the plural "s" (a second implementation).
        known_silo = isinstance(silo, str) and silo in ("customers", "workers", "partners")
        row["role"] = silo[:-1] if known_silo else None
        out.append(row)
    return pd.DataFrame(out)
