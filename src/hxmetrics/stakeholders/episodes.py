"""Role episodes: who held which role, with which engagement, from when to when.

A roster row is an episode of the silo's role (``customers`` -> ``customer``,
``workers`` -> ``worker``, ``partners`` -> ``partner``) over the half-open interval
``[start, end)``; a missing ``end`` is an open episode. After identity
resolution each episode belongs to a person.

Merge rule (documented, applied by :func:`merge_episodes`): episodes of the same
person and role are merged when they overlap (``a.start < b.end`` and
``b.start < a.end``, a missing end being +infinity) or are exact duplicates. Touching
episodes (one ends the instant the next starts) are *not* merged: that is a
re-start, and it is what makes a boomerang with a zero gap. A merged episode runs
from the earliest start to the latest end (open if any part is open); its
``engagement`` is the distinct engagements of its parts in order of first start,
joined by ``"+"`` (``"full_time+gig"``); its ``silo`` and ``source_id`` are those of
its earliest part (ties: smallest ``source_id``); ``n_records`` counts the roster
rows merged. After merging, a person holds at most one episode per role at any time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hxmetrics.errors import check_columns
from hxmetrics.stakeholders._lookup import positions
from hxmetrics.stakeholders._lookup import text as _text
from hxmetrics.stakeholders._rosters import check_rosters, row_error, source_ids
from hxmetrics.tables import ROLE_OF_SILO, ROLES, SILO_OF_ROLE

__all__ = ["EPISODE_COLUMNS", "ROLES", "merge_episodes", "role_episodes"]

#: Columns of the episodes table, in order.
EPISODE_COLUMNS = [
    "person_id",
    "role",
    "engagement",
    "start",
    "end",
    "silo",
    "source_id",
    "n_records",
]

_OPEN = np.iinfo(np.int64).max


def to_ns(values: pd.Series, *, table: str, column: str) -> pd.Series:
    """Coerce to naive ``datetime64[ns]``; values that are not dates are an error."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        raise row_error(
            table,
            column,
            "naive_datetime",
            values.head(5).astype("str"),
            "Timestamps are naive; convert with .dt.tz_convert(None) first.",
        )
    if not pd.api.types.is_datetime64_dtype(values.dtype):
        converted = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = converted.isna() & values.notna()
        if bool(bad.any()):
            raise row_error(
                table, column, "datetime", values[bad], "Use ISO dates, e.g. 2024-01-31."
            )
        values = converted
    if values.dtype != np.dtype("datetime64[ns]"):
        values = values.astype("datetime64[ns]")
    return values


def _ns(values: pd.Series) -> np.ndarray:
    """int64 nanoseconds, NaT as +infinity (an open end)."""
    raw = values.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    raw[values.isna().to_numpy()] = _OPEN
    return raw


def role_episodes(rosters: Mapping[str, pd.DataFrame], crosswalk: pd.DataFrame) -> pd.DataFrame:
    """One table of role episodes per person, from the rosters and a crosswalk.

    Parameters
    ----------
    rosters : mapping of str to pandas.DataFrame
        Roster per silo with the id column, ``start``, ``end`` (missing = open) and
        ``engagement``.
    crosswalk : pandas.DataFrame
        ``silo``, ``source_id``, ``person_id`` covering every roster id, e.g. from
        :func:`~hxmetrics.stakeholders.resolve_identities`.

    Returns
    -------
    pandas.DataFrame
        Columns ``person_id, role, engagement, start, end, silo, source_id,
        n_records``, overlapping and duplicated episodes of one role merged (see
        the module docstring), sorted by person, role and start.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import role_episodes
    >>> workers = pd.DataFrame({"worker_id": ["w1", "w1", "w1"],
    ...     "start": pd.to_datetime(["2020-01-01", "2020-06-01", "2022-01-01"]),
    ...     "end": pd.to_datetime(["2021-01-01", "2020-09-01", None]),
    ...     "engagement": ["full_time", "gig", "full_time"]})
    >>> cw = pd.DataFrame({"silo": ["workers"], "source_id": ["w1"], "person_id": ["P1"]})
    >>> role_episodes({"workers": workers}, cw)[["engagement", "start", "end", "n_records"]]
          engagement      start        end  n_records
    0  full_time+gig 2020-01-01 2021-01-01          2
    1      full_time 2022-01-01        NaT          1
    """
    rosters = check_rosters(rosters)
    check_columns(crosswalk.columns, ["silo", "source_id", "person_id"], table="crosswalk")
    parts = []
    for silo, df in rosters.items():
        check_columns(df.columns, ["start", "end", "engagement"], table=silo)
        ids = source_ids(df, silo)
        cw = crosswalk.loc[crosswalk["silo"].astype("str") == silo]
        lookup = positions(ids, cw["source_id"])
        missing = lookup < 0
        if missing.any():
            raise row_error(
                silo,
                "source_id",
                "in_crosswalk",
                ids[missing],
                "The crosswalk must come from these rosters (resolve_identities).",
            )
        start = to_ns(df["start"], table=silo, column="start")
        end = to_ns(df["end"], table=silo, column="end")
        if bool(start.isna().any()):
            raise row_error(
                silo, "start", "not_nullable", df["start"][start.isna()], "Every episode starts."
            )
        bad = end.notna() & (end < start)
        if bool(bad.any()):
            raise row_error(
                silo,
                "end",
                "end_not_before_start",
                df["end"][bad],
                "An episode ends on/after it starts.",
            )
        missing_eng = df["engagement"].isna()
        if bool(missing_eng.any()):
            raise row_error(
                silo,
                "engagement",
                "not_nullable",
                df["engagement"][missing_eng],
                "Every episode has an engagement kind.",
            )
        m = len(df)
        parts.append(
            pd.DataFrame(
                {
                    "person_id": _text(cw["person_id"]).take(lookup).reset_index(drop=True),
                    "role": pd.Series([ROLE_OF_SILO[silo]] * m, dtype="str"),
                    "engagement": _text(df["engagement"]).reset_index(drop=True),
                    "start": start.reset_index(drop=True),
                    "end": end.reset_index(drop=True),
                    "silo": pd.Series([silo] * m, dtype="str"),
                    "source_id": ids.reset_index(drop=True),
                    "n_records": np.ones(m, dtype=np.int64),
                }
            )
        )
    raw = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return merge_episodes(raw)


def merge_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping or duplicated episodes of the same person and role.

    Parameters
    ----------
    episodes : pandas.DataFrame
        ``person_id``, ``role``, ``engagement``, ``start``, ``end``; optional
        ``silo``, ``source_id``, ``n_records`` (1 per row if absent).

    Returns
    -------
    pandas.DataFrame
        The episodes table (:data:`EPISODE_COLUMNS`), merged by the rule in the
        module docstring, sorted by person, role, start. Merging twice changes
        nothing.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import merge_episodes
    >>> eps = pd.DataFrame({"person_id": ["P1"] * 3, "role": ["worker"] * 3,
    ...     "engagement": ["gig", "gig", "contract"],
    ...     "start": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-06-01"]),
    ...     "end": pd.to_datetime(["2020-06-01", "2020-04-01", None])})
    >>> merge_episodes(eps)[["engagement", "start", "end", "n_records"]]
      engagement      start        end  n_records
    0        gig 2020-01-01 2020-06-01          2
    1   contract 2020-06-01        NaT          1
    """
    check_columns(
        episodes.columns, ["person_id", "role", "engagement", "start", "end"], table="episodes"
    )
    bad_role = ~episodes["role"].isin(ROLES)
    if bool(bad_role.any()):
        raise row_error(
            "episodes",
            "role",
            f"isin({list(ROLES)})",
            episodes["role"][bad_role],
            "Roles are customer, worker, partner.",
        )
    start = to_ns(episodes["start"], table="episodes", column="start")
    end = to_ns(episodes["end"], table="episodes", column="end")
    if bool(start.isna().any()):
        raise row_error(
            "episodes",
            "start",
            "not_nullable",
            episodes["start"][start.isna()],
            "Every episode starts.",
        )
    for column in ("person_id", "engagement"):
        missing = episodes[column].isna()
        if bool(missing.any()):
            raise row_error(
                "episodes",
                column,
                "not_nullable",
                episodes[column][missing].astype("object"),
                "Every episode has a person and an engagement kind.",
            )
    person_text = _text(episodes["person_id"]).reset_index(drop=True)
    person_codes, persons = pd.factorize(person_text)
    # Output is sorted by person_id: rank the distinct ids, not every row.
    person_rank = np.empty(len(persons), dtype=np.int64)
    person_rank[np.asarray(pd.Index(persons).argsort())] = np.arange(len(persons))
    person_codes = person_rank[person_codes] if len(persons) else person_codes
    role_codes = pd.Index(ROLES).get_indexer(pd.Index(episodes["role"]))
    s, e = _ns(start), _ns(end)
    n = len(episodes)
    silo = (
        _text(episodes["silo"]).reset_index(drop=True)
        if "silo" in episodes.columns
        else pd.Series(np.array(list(SILO_OF_ROLE.values()), dtype=object)[role_codes], dtype="str")
    )
    source = (
        _text(episodes["source_id"]).reset_index(drop=True)
        if "source_id" in episodes.columns
        else pd.Series([None] * n, dtype="str")
    )
    n_rec = (
        episodes["n_records"].to_numpy(dtype=np.int64)
        if "n_records" in episodes.columns
        else np.ones(n, dtype=np.int64)
    )
    group = person_codes.astype(np.int64) * len(ROLES) + role_codes
    engagement = _text(episodes["engagement"]).reset_index(drop=True)
    order = _episode_order(group, s, e, source, engagement)
    group = group[order]
    s, e = s[order], e[order]
    first = np.r_[True, group[1:] != group[:-1]] if group.size else np.zeros(0, bool)
    # Running latest end within (person, role); a row starts a new merged episode when
    # it starts at/after everything before it has ended (no overlap) and is not an
    # exact duplicate of the previous row.
    run_end = _group_cummax(e, first)
    prev_end = np.r_[np.int64(0), run_end[:-1]] if group.size else run_end
    dup = np.r_[False, (s[1:] == s[:-1]) & (e[1:] == e[:-1])] if group.size else first
    new = first | ((s >= prev_end) & ~dup)
    block = np.cumsum(new) - 1
    n_blocks = int(block[-1]) + 1 if block.size else 0
    lead = np.flatnonzero(new)
    block_end = np.maximum.reduceat(e, lead) if n_blocks else e[:0]
    block_n = np.add.reduceat(n_rec[order], lead) if n_blocks else n_rec[:0]
    eng_codes, eng_uniques = pd.factorize(engagement)
    eng = _joined_engagements(block, eng_codes[order], list(eng_uniques), n_blocks)
    is_open = block_end == _OPEN
    take = order[lead]
    out = pd.DataFrame(
        {
            "person_id": person_text.take(take).reset_index(drop=True),
            "role": pd.Series(pd.Index(ROLES, dtype="str")[role_codes[take]], dtype="str"),
            "engagement": eng,
            "start": pd.Series(s[lead].view("datetime64[ns]")),
            "end": pd.Series(np.where(is_open, 0, block_end).view("datetime64[ns]")).mask(is_open),
            "silo": silo.take(take).reset_index(drop=True),
            "source_id": source.take(take).reset_index(drop=True),
            "n_records": block_n.astype(np.int64),
        }
    )
    return out


def _group_cummax(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Running maximum that restarts where ``first`` is True (groups are runs)."""
    n = values.size
    if n == 0:
        return values.copy()
    # On ranks (< n) every group can be lifted above all earlier ones without
    # overflow, so one global running maximum does every group at once.
    order = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    lift = (np.cumsum(first) - 1) * np.int64(n)
    best = np.maximum.accumulate(rank + lift) - lift
    out: np.ndarray = values[order[best]]
    return out


def _episode_order(
    group: np.ndarray, s: np.ndarray, e: np.ndarray, source: pd.Series, engagement: pd.Series
) -> np.ndarray:
    """Row order by (group, start, end, source_id, engagement), in two integer sorts.

    ``(group, rank of start)`` is packed into one int64 and sorted; runs that tie on
    (group, start), rare, are then ordered by (end, source_id, engagement), so the
    order never depends on the order of the input rows.
    """
    n = group.size
    if n < 2:
        return np.arange(n)
    by_start = np.argsort(s)
    rank = np.empty(n, dtype=np.int64)
    rank[by_start] = np.arange(n, dtype=np.int64)
    order = np.argsort(group * np.int64(n) + rank)
    g, ss = group[order], s[order]
    same = (g[1:] == g[:-1]) & (ss[1:] == ss[:-1])
    if not same.any():
        return order
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = order[tied]
    run = np.cumsum(np.r_[True, ~same])[tied]
    sub = pd.DataFrame(
        {
            "run": run,
            "end": e[rows],
            "src": source.to_numpy(dtype=object)[rows],
            "eng": engagement.to_numpy(dtype=object)[rows],
            "row": rows,
        }
    ).sort_values(["run", "end", "src", "eng"], kind="stable", na_position="last")
    order = order.copy()
    order[np.flatnonzero(tied)] = sub["row"].to_numpy()
    return order


def _joined_engagements(
    block: np.ndarray, codes: np.ndarray, uniques: list[str], n_blocks: int
) -> pd.Series:
    """Distinct engagements per block in order of first appearance, joined by '+'.

    Vectorised: each block's sequence of distinct engagement codes is packed into one
    integer, and only the few distinct sequences are turned into strings. An already
    joined value ("full_time+gig") counts as its parts, so merging twice is stable.
    """
    if n_blocks == 0:
        return pd.Series([], dtype="str")
    parts_of = [str(u).split("+") for u in uniques]
    vocab = pd.Index(pd.unique(np.array([p for ps in parts_of for p in ps], dtype=object)))
    part_codes = [vocab.get_indexer(ps) for ps in parts_of]
    n_parts = np.array([len(pc) for pc in part_codes], dtype=np.int64)
    flat = np.concatenate(part_codes)
    start_of = np.r_[0, np.cumsum(n_parts)[:-1]]
    # Expand rows into their parts, keep the first occurrence of each (block, part).
    reps = n_parts[codes]
    row_block = np.repeat(block, reps)
    offset = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    part = flat[np.repeat(start_of[codes], reps) + offset]
    key = row_block * len(vocab) + part
    keep = ~pd.Series(key).duplicated().to_numpy()
    row_block, part = row_block[keep], part[keep]
    lead = np.r_[True, row_block[1:] != row_block[:-1]]
    first_pos = np.maximum.accumulate(np.where(lead, np.arange(row_block.size), 0))
    pos = np.arange(row_block.size) - first_pos
    base = len(vocab) + 1
    longest = int(pos.max()) + 1
    if longest * np.log2(base) < 62:
        packed = np.zeros(n_blocks, dtype=np.int64)
        np.add.at(packed, row_block, (part + 1) * base**pos)
        pattern_codes, patterns = pd.factorize(packed)
        names = []
        for value in np.asarray(patterns).tolist():
            items = []
            while value:
                value, digit = divmod(value, base)
                items.append(str(vocab[digit - 1]))
            names.append("+".join(items))
        return pd.Series(pd.Index(names, dtype="str")[pattern_codes], dtype="str")
    # Many distinct engagements in one episode: join them in Python.  # pragma: no cover
    frame = pd.DataFrame({"block": row_block, "part": vocab[part]})
    joined = frame.groupby("block", sort=True)["part"].agg("+".join)
    return pd.Series(joined.to_numpy(dtype=object), dtype="str")
