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
from hxmetrics.stakeholders.identity import _fail, check_rosters, source_ids
from hxmetrics.tables import ROLE_OF_SILO

__all__ = ["EPISODE_COLUMNS", "ROLES", "merge_episodes", "role_episodes"]

#: The roles, in their canonical order.
ROLES: tuple[str, ...] = tuple(ROLE_OF_SILO.values())
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
        raise _fail(
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
            raise _fail(table, column, "datetime", values[bad], "Use ISO dates, e.g. 2024-01-31.")
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
        lookup = pd.Index(cw["source_id"].astype("str")).get_indexer(pd.Index(ids))
        missing = lookup < 0
        if missing.any():
            raise _fail(
                silo,
                "source_id",
                "in_crosswalk",
                ids[missing],
                "The crosswalk must come from these rosters (resolve_identities).",
            )
        start = to_ns(df["start"], table=silo, column="start")
        end = to_ns(df["end"], table=silo, column="end")
        if bool(start.isna().any()):
            raise _fail(
                silo, "start", "not_nullable", df["start"][start.isna()], "Every episode starts."
            )
        bad = end.notna() & (end < start)
        if bool(bad.any()):
            raise _fail(
                silo,
                "end",
                "end_not_before_start",
                df["end"][bad],
                "An episode ends on/after it starts.",
            )
        missing_eng = df["engagement"].isna()
        if bool(missing_eng.any()):
            raise _fail(
                silo,
                "engagement",
                "not_nullable",
                df["engagement"][missing_eng],
                "Every episode has an engagement kind.",
            )
        parts.append(
            pd.DataFrame(
                {
                    "person_id": cw["person_id"].astype("str").to_numpy()[lookup],
                    "role": ROLE_OF_SILO[silo],
                    "engagement": df["engagement"].astype("str").to_numpy(),
                    "start": start.to_numpy(),
                    "end": end.to_numpy(),
                    "silo": silo,
                    "source_id": ids.to_numpy(),
                    "n_records": 1,
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
        raise _fail(
            "episodes",
            "role",
            f"isin({list(ROLES)})",
            episodes["role"][bad_role],
            "Roles are customer, worker, partner.",
        )
    start = to_ns(episodes["start"], table="episodes", column="start")
    end = to_ns(episodes["end"], table="episodes", column="end")
    if bool(start.isna().any()):
        raise _fail(
            "episodes",
            "start",
            "not_nullable",
            episodes["start"][start.isna()],
            "Every episode starts.",
        )
    person_codes, persons = pd.factorize(episodes["person_id"].astype("str"), sort=True)
    role_codes = pd.Index(ROLES).get_indexer(pd.Index(episodes["role"]))
    s, e = _ns(start), _ns(end)
    silo = (
        episodes["silo"].astype("str").to_numpy(dtype=object)
        if "silo" in episodes.columns
        else np.array([_silo_of(r) for r in ROLES], dtype=object)[role_codes]
    )
    source = (
        episodes["source_id"].astype("str").to_numpy(dtype=object)
        if "source_id" in episodes.columns
        else np.full(len(episodes), None, dtype=object)
    )
    n_rec = (
        episodes["n_records"].to_numpy(dtype=np.int64)
        if "n_records" in episodes.columns
        else np.ones(len(episodes), dtype=np.int64)
    )
    engagement = episodes["engagement"].astype("str").to_numpy(dtype=object)
    src_rank = pd.factorize(pd.Series(source, dtype="str"), sort=True)[0]
    order = np.lexsort((src_rank, e, s, role_codes, person_codes))
    group = person_codes[order].astype(np.int64) * len(ROLES) + role_codes[order]
    s, e = s[order], e[order]
    first = np.r_[True, group[1:] != group[:-1]] if group.size else np.zeros(0, bool)
    # Running latest end within (person, role); a row starts a new merged episode when
    # it starts at/after everything before it has ended (no overlap) and is not an
    # exact duplicate of the previous row.
    run_end = pd.Series(e).groupby(group).cummax().to_numpy()
    prev_end = np.r_[np.int64(0), run_end[:-1]] if group.size else run_end
    dup = np.r_[False, (s[1:] == s[:-1]) & (e[1:] == e[:-1])] if group.size else first
    new = first | ((s >= prev_end) & ~dup)
    block = np.cumsum(new) - 1
    n_blocks = int(block[-1]) + 1 if block.size else 0
    lead = np.flatnonzero(new)
    block_end = np.maximum.reduceat(e, lead) if n_blocks else e[:0]
    block_n = np.add.reduceat(n_rec[order], lead) if n_blocks else n_rec[:0]
    eng = _joined_engagements(block, engagement[order], n_blocks)
    is_open = block_end == _OPEN
    out = pd.DataFrame(
        {
            "person_id": pd.Series(
                np.asarray(persons, dtype=object)[person_codes[order][lead]], dtype="str"
            ),
            "role": pd.Series(
                np.asarray(ROLES, dtype=object)[role_codes[order][lead]], dtype="str"
            ),
            "engagement": pd.Series(eng, dtype="str"),
            "start": pd.Series(s[lead].view("datetime64[ns]")),
            "end": pd.Series(np.where(is_open, 0, block_end).view("datetime64[ns]")).mask(is_open),
            "silo": pd.Series(silo[order][lead], dtype="str"),
            "source_id": pd.Series(source[order][lead], dtype="str"),
            "n_records": block_n.astype(np.int64),
        }
    )
    return out


def _silo_of(role: str) -> str:
    return {r: s for s, r in ROLE_OF_SILO.items()}[role]


def _joined_engagements(block: np.ndarray, engagement: np.ndarray, n_blocks: int) -> np.ndarray:
    """Distinct engagements per block in order of first appearance, joined by '+'."""
    if n_blocks == 0:
        return np.zeros(0, dtype=object)
    pairs = pd.DataFrame({"block": block, "engagement": engagement}).drop_duplicates()
    counts = np.bincount(pairs["block"].to_numpy(), minlength=n_blocks)
    out = np.empty(n_blocks, dtype=object)
    single = pairs[counts[pairs["block"].to_numpy()] == 1]
    out[single["block"].to_numpy()] = single["engagement"].to_numpy(dtype=object)
    multi = pairs[counts[pairs["block"].to_numpy()] > 1]
    if len(multi):
        # A merged engagement that is already joined ("full_time+gig") is split so
        # merging twice gives the same string.
        parts = multi.assign(engagement=multi["engagement"].str.split("+")).explode("engagement")
        parts = parts.drop_duplicates()
        joined = parts.groupby("block", sort=True)["engagement"].agg("+".join)
        out[joined.index.to_numpy()] = joined.to_numpy(dtype=object)
    return out
