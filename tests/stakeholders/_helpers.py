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
