"""As-of attribution: who was the person behind this row, in which roles, at that time?

Each exhaust row names its silo and that silo's id (``silo``, ``source_id``). The
crosswalk turns the pair into a ``person_id``; then, for every role, the person's
episode that holds at the row's time is found across *all* their episodes, not
only the silo's: a ticket raised through the customer desk by someone who also
works here gets ``is_worker = True``.

The lookup is vectorised. Each id string is hashed once (a factorisation) and only
the distinct ids are looked up in the crosswalk. Most persons have at most one
episode per role: their episodes sit in one 64-byte row per person (start and end of
each role's episode, engagement codes, hybrid code), fetched with one gather per
event and checked for all three roles at once, in cache-sized blocks of events. A
person with several episodes of a role has them sorted by start in a CSR layout (one
contiguous run per person), searched with a vectorised binary search. After merging,
a person holds at most one episode per role at any time, so the last episode
starting at or before ``t`` is the only candidate.

Every row is kept. ``attribution`` says what happened:

* ``ok``: the person holds at least one role at the row's time;
* ``unknown_id``: the ``(silo, source_id)`` is in no roster;
* ``outside_episodes``: the person is known but holds no role at that time;
* ``missing_time``: the row has no timestamp;
* ``other_silo``: only in a silo view, a row of another department.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, check_columns
from hxmetrics.stakeholders._lookup import positions
from hxmetrics.stakeholders._lookup import text as _text
from hxmetrics.stakeholders._rosters import row_error
from hxmetrics.stakeholders.episodes import ROLES, _ns, merge_episodes, to_ns
from hxmetrics.stakeholders.hybrids import classify_hybrids
from hxmetrics.tables import ROLE_OF_SILO, as_pandas

__all__ = ["ATTRIBUTION_COLUMNS", "STATUSES", "attribute", "attribution_summary"]

#: Values of the ``attribution`` column.
STATUSES = ("ok", "unknown_id", "outside_episodes", "missing_time", "other_silo")
#: Columns :func:`attribute` adds, in order.
ATTRIBUTION_COLUMNS = [
    "person_id",
    *(f"is_{r}" for r in ROLES),
    *(f"{r}_engagement" for r in ROLES),
    "hybrid_type",
    "attribution",
    "role",
]
_OK, _UNKNOWN, _OUTSIDE, _NO_TIME, _OTHER = range(5)
_INFO, _HYB = 6, 7
# Column _INFO holds four int16 slots: flags (bit r: several episodes of role r),
# then the engagement code of each role's single episode (-1: none).
_FLAGS16, _ENG16 = 4 * _INFO, 4 * _INFO + 1
_NEVER, _BEFORE_ALL = np.iinfo(np.int64).max, np.iinfo(np.int64).min


@dataclass(frozen=True)
class _RoleRuns:
    ptr: np.ndarray  # run of person p: [ptr[p], ptr[p + 1])
    start: np.ndarray
    end: np.ndarray  # _OPEN for an open end
    engagement: np.ndarray  # codes into categories
    categories: pd.Index


@dataclass(frozen=True)
class AttributionIndex:
    """Everything an as-of lookup needs, as sorted integer arrays (built once)."""

    persons: pd.Index
    silos: dict[str, tuple[pd.Series, np.ndarray]]
    roles: dict[str, _RoleRuns]
    hybrid_categories: pd.Index
    #: One 8-column int64 row per person (plus a last row for "no person"):
    #: start/end of the single episode of each role (start = +inf when the person
    #: has none or several), flags and engagement codes, hybrid code.
    packed: np.ndarray

    @classmethod
    def build(
        cls,
        crosswalk: pd.DataFrame,
        episodes: pd.DataFrame,
        hybrids: pd.DataFrame | None = None,
        *,
        merged: bool = False,
    ) -> AttributionIndex:
        """Index a crosswalk and its episodes (and hybrid labels, computed if absent).

        ``merged=True`` says the episodes are already merged (as
        :func:`~hxmetrics.stakeholders.role_episodes` returns them) and skips merging.
        """
        check_columns(crosswalk.columns, ["silo", "source_id", "person_id"], table="crosswalk")
        if not merged:
            episodes = merge_episodes(episodes)
        cw_codes, uniques = pd.factorize(_text(crosswalk["person_id"]))
        persons = pd.Index(uniques, dtype="str")
        silos: dict[str, tuple[pd.Series, np.ndarray]] = {}
        cw_silo = _text(crosswalk["silo"])
        source = _text(crosswalk["source_id"])
        for silo in cw_silo.unique():
            mine = (cw_silo == silo).to_numpy()
            ids = source[mine].reset_index(drop=True)
            if ids.duplicated().any():
                dup = ids[ids.duplicated()].head(5).tolist()
                raise ParameterError(
                    f"crosswalk: (silo, source_id) must be unique; silo {silo!r} repeats {dup}."
                )
            silos[str(silo)] = (ids, cw_codes[mine])
        person_code = positions(episodes["person_id"], persons)
        if (person_code < 0).any():
            raise row_error(
                "episodes",
                "person_id",
                "in_crosswalk",
                episodes["person_id"][person_code < 0],
                "Episodes and crosswalk must come from the same resolution.",
            )
        merged_eps = episodes

        roles = {}
        for role in ROLES:
            mine = (merged_eps["role"] == role).to_numpy()
            p = person_code[mine]
            s = _ns(merged_eps["start"][mine])
            e = _ns(merged_eps["end"][mine])
            eng_codes, eng_cats = pd.factorize(merged_eps["engagement"][mine], sort=True)
            order = np.lexsort((e, s, p))
            counts = np.bincount(p, minlength=len(persons))
            roles[role] = _RoleRuns(
                ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
                start=s[order],
                end=e[order],
                engagement=eng_codes[order],
                categories=pd.Index(eng_cats, dtype="str"),
            )
        if hybrids is None:
            hybrids = classify_hybrids(merged_eps, merged=True)
        check_columns(hybrids.columns, ["person_id", "hybrid_type"], table="hybrids")
        h_codes, h_cats = pd.factorize(hybrids["hybrid_type"].astype("str"), sort=True)
        hybrid_codes = np.full(len(persons), -1, dtype=np.int64)
        where = positions(hybrids["person_id"], persons)
        hybrid_codes[where[where >= 0]] = h_codes[where >= 0]
        # A person without episodes has no label to find; call them "none".
        cats = pd.Index(h_cats, dtype="str")
        if (hybrid_codes < 0).any():
            if "none" not in cats:
                cats = cats.append(pd.Index(["none"], dtype="str"))
            hybrid_codes[hybrid_codes < 0] = cats.get_loc("none")
        packed = _pack(roles, len(persons), hybrid_codes)
        return cls(persons, silos, roles, cats, packed)


def _pack(roles: dict[str, _RoleRuns], n_persons: int, hybrid_codes: np.ndarray) -> np.ndarray:
    packed = np.zeros((n_persons + 1, 8), dtype=np.int64)
    slots = packed.view(np.int16)
    flags = np.zeros(n_persons + 1, dtype=np.int16)
    for r, role in enumerate(ROLES):
        runs = roles[role]
        if len(runs.categories) > np.iinfo(np.int16).max:
            raise ParameterError(  # pragma: no cover - 32 767 engagement kinds per role
                f"too many distinct {role} engagements ({len(runs.categories)})."
            )
        count = np.diff(runs.ptr)
        one = np.flatnonzero(count == 1)
        first = runs.ptr[:-1][one]
        starts = np.full(n_persons + 1, _NEVER, dtype=np.int64)
        ends = np.full(n_persons + 1, _BEFORE_ALL, dtype=np.int64)
        starts[one] = runs.start[first]
        ends[one] = runs.end[first]
        packed[:, 2 * r] = starts
        packed[:, 2 * r + 1] = ends
        code = np.full(n_persons + 1, -1, dtype=np.int16)
        code[one] = runs.engagement[first]
        slots[:, _ENG16 + r] = code
        flags[:-1] |= ((count > 1).astype(np.int16) << r).astype(np.int16)
    slots[:, _FLAGS16] = flags
    packed[:-1, _HYB] = hybrid_codes
    packed[-1, _HYB] = -1
    return packed


def _encode(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer codes (-1 for missing) and the distinct values as strings.

    A categorical column (e.g. a dictionary-encoded Parquet column) is already
    encoded: its codes are used as they are, no string is hashed.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        return codes, _text(pd.Series(values.cat.categories))
    codes, uniques = pd.factorize(_text(values))
    return codes, _text(pd.Series(uniques))


def _id_lookup(
    index: AttributionIndex, silo: pd.Series, source: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of each row's silo and id, and the (silo, id) -> person table.

    Each id string is hashed once (a factorisation); only the distinct ids are
    looked up in the crosswalk. Missing silo or id codes are -1 and pick the last
    row / column of the table, which holds -1: no person.
    """
    silo_codes, silo_uniques = _encode(silo)
    src_codes, src_uniques = _encode(source)
    src_text = src_uniques
    known = [str(s) for s in silo_uniques]
    table = np.full((len(known) + 1, len(src_text) + 1), -1, dtype=np.int64)
    for row, name in enumerate(known):
        if name in index.silos:
            ids, person = index.silos[name]
            hit = positions(src_text, ids)
            table[row, :-1] = np.where(hit >= 0, person[hit], -1)
    return silo_codes, src_codes, table


def _find_in_runs(runs: _RoleRuns, person: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the episode held at ``t`` (``-1`` if none) for persons with several."""
    lo = runs.ptr[person]
    hi = runs.ptr[person + 1]
    # Vectorised upper bound: the first episode of the run starting after t.
    left, right = lo.copy(), hi.copy()
    last = runs.start.size - 1
    while True:
        open_ = left < right
        if not open_.any():
            break
        mid = np.minimum((left + right) // 2, last)
        go_right = open_ & (runs.start[mid] <= t)
        go_left = open_ & ~go_right
        left = np.where(go_right, mid + 1, left)
        right = np.where(go_left, mid, right)
    idx = left - 1
    cand = np.maximum(idx, 0)
    held = (idx >= lo) & (runs.start[cand] <= t) & (t < runs.end[cand])
    return np.where(held, cand, -1)


# Events are processed in blocks so the per-person rows fetched for a block stay
# in cache while all three roles are checked.
_BLOCK = 1 << 18


def attribute_with_index(
    events: pd.DataFrame,
    index: AttributionIndex,
    *,
    time: str = "timestamp",
    silo: str = "silo",
    source_id: str = "source_id",
) -> pd.DataFrame:
    """:func:`attribute` with a prebuilt :class:`AttributionIndex` (what the registry calls)."""
    events = as_pandas(events, table="events")
    check_columns(events.columns, [time, silo, source_id], table="events")
    clash = [c for c in ATTRIBUTION_COLUMNS if c in events.columns]
    if clash:
        raise ParameterError(
            f"events already has column(s) {clash} that attribution adds; "
            "drop or rename them first (e.g. events.drop(columns=[...]))."
        )
    n = len(events)
    stamps = to_ns(events[time], table="events", column=time)
    has_time = stamps.notna().to_numpy()
    t = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    silo_codes, src_codes, lookup = _id_lookup(index, events[silo], events[source_id])
    person = np.empty(n, dtype=np.int64)
    held = np.zeros((len(ROLES), n), dtype=bool)
    eng = np.empty((len(ROLES), n), dtype=np.int32)
    hyb = np.empty(n, dtype=np.int64)
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        # Code -1 (missing) wraps to the last row / column, which holds "no person".
        flat = (silo_codes[lo:hi] % lookup.shape[0]) * lookup.shape[1] + (
            src_codes[lo:hi] % lookup.shape[1]
        )
        p = np.take(lookup, flat)
        person[lo:hi] = p
        hyb[lo:hi] = _attribute_block(
            index, p, t[lo:hi], has_time[lo:hi], held[:, lo:hi], eng[:, lo:hi]
        )
    known = person >= 0
    any_role = held.any(axis=0)
    new: dict[str, Any] = {
        "person_id": pd.Categorical.from_codes(person, categories=index.persons),
    }
    for r, role in enumerate(ROLES):
        new[f"is_{role}"] = held[r]
    for r, role in enumerate(ROLES):
        new[f"{role}_engagement"] = pd.Categorical.from_codes(
            eng[r], categories=index.roles[role].categories
        )
    new["hybrid_type"] = pd.Categorical.from_codes(hyb, categories=index.hybrid_categories)
    status = np.full(n, _OK, dtype=np.int8)
    status[~any_role] = _OUTSIDE
    status[known & ~has_time] = _NO_TIME
    status[~known] = _UNKNOWN
    new["attribution"] = pd.Categorical.from_codes(
        status, categories=pd.Index(STATUSES, dtype="str")
    )
    # The door the row came through (its silo's role), so by="role" needs no mapping;
    # the is_* columns say which roles the person held at the time. Mapped on the few
    # distinct silos (a text copy of 10M rows cost 1.3 GB and most of a minute).
    new["role"] = _role_of_silo(events[silo])
    out = events.copy(deep=False)
    for name, values in new.items():
        out[name] = values
    return out


def _role_of_silo(silo: pd.Series) -> pd.Categorical:
    """The role of each row's silo (categorical of ROLES; missing or unknown: missing)."""
    codes, uniques = pd.factorize(silo, use_na_sentinel=True)
    role_code = [
        ROLES.index(ROLE_OF_SILO[u]) if isinstance(u, str) and u in ROLE_OF_SILO else -1
        for u in uniques
    ]
    lookup = np.array([*role_code, -1], dtype=np.int8)  # code -1 (missing) -> -1
    return pd.Categorical.from_codes(lookup[codes], categories=pd.Index(ROLES, dtype="str"))


def _attribute_block(
    index: AttributionIndex,
    p: np.ndarray,
    t: np.ndarray,
    has_time: np.ndarray,
    held: np.ndarray,
    eng: np.ndarray,
) -> np.ndarray:
    """Roles held and engagements for one block of rows (written into held, eng).

    Returns the hybrid code of each row's person.
    """
    # One gather per row fetches everything about the person (a 64-byte row):
    # the single episode of each role, flags for persons with several, engagements.
    # np.take on axis 0 copies whole rows; fancy indexing goes element by element.
    rows = np.take(index.packed, p, axis=0)
    slots = rows.view(np.int16)
    flags = slots[:, _FLAGS16]
    for r, role in enumerate(ROLES):
        h = (rows[:, 2 * r] <= t) & (t < rows[:, 2 * r + 1]) & has_time
        held[r] = h
        code = slots[:, _ENG16 + r].astype(np.int32)
        np.putmask(code, ~h, -1)
        eng[r] = code
        several = np.flatnonzero(((flags >> r) & 1).astype(bool) & has_time)
        if several.size:
            runs = index.roles[role]
            hit = _find_in_runs(runs, p[several], t[several])
            got = hit >= 0
            held[r, several] = got
            eng[r, several] = np.where(got, runs.engagement[np.maximum(hit, 0)], -1)
    out: np.ndarray = rows[:, _HYB]
    return out


def attribute(
    events: pd.DataFrame,
    *,
    crosswalk: pd.DataFrame,
    episodes: pd.DataFrame,
    hybrids: pd.DataFrame | None = None,
    time: str = "timestamp",
    silo: str = "silo",
    source_id: str = "source_id",
) -> pd.DataFrame:
    """Add the person and the roles they held at each row's time.

    Parameters
    ----------
    events : DataFrame
        Any exhaust table with a silo column, the silo's id column and a time
        column (responses, events, transactions, tickets). Polars and other frames
        narwhals accepts are converted to pandas.
    crosswalk : pandas.DataFrame
        ``silo``, ``source_id``, ``person_id`` (from identity resolution).
    episodes : pandas.DataFrame
        Role episodes (``person_id``, ``role``, ``engagement``, ``start``, ``end``).
    hybrids : pandas.DataFrame, optional
        ``person_id``, ``hybrid_type``; by default :func:`classify_hybrids` on the
        whole history (the label says who the person is, the ``is_*`` columns what
        they were at the row's time).
    time, silo, source_id : str
        Column names in ``events``.

    Returns
    -------
    pandas.DataFrame
        ``events`` with :data:`ATTRIBUTION_COLUMNS` added, same rows, same order:
        ``person_id``, ``is_customer``, ``is_worker``, ``is_partner``,
        ``customer_engagement``, ``worker_engagement``, ``partner_engagement``
        (missing when the role is not held), ``hybrid_type``, ``attribution``
        (see the module docstring) and ``role``: the role of the row's silo
        (``customers`` -> ``customer``, :data:`~hxmetrics.tables.ROLE_OF_SILO`), missing
        where the silo is missing or unknown, so ``nps(answers, "score", by="role")``
        needs no mapping. Text columns are categorical.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import attribute
    >>> cw = pd.DataFrame({"silo": ["customers", "workers"], "source_id": ["c1", "w1"],
    ...                    "person_id": ["P1", "P1"]})
    >>> eps = pd.DataFrame({"person_id": ["P1", "P1"], "role": ["customer", "worker"],
    ...     "engagement": ["consumer", "full_time"],
    ...     "start": pd.to_datetime(["2020-01-01", "2021-01-01"]),
    ...     "end": pd.to_datetime([None, "2022-01-01"])})
    >>> events = pd.DataFrame({"silo": ["customers", "customers", "workers"],
    ...     "source_id": ["c1", "c1", "zz"],
    ...     "timestamp": pd.to_datetime(["2021-06-01", "2022-01-01", "2021-06-01"])})
    >>> out = attribute(events, crosswalk=cw, episodes=eps)
    >>> out[["person_id", "is_customer", "is_worker", "worker_engagement", "attribution"]]
      person_id  is_customer  is_worker worker_engagement attribution
    0        P1         True       True         full_time          ok
    1        P1         True      False               NaN          ok
    2       NaN        False      False               NaN  unknown_id
    """
    index = AttributionIndex.build(crosswalk, episodes, hybrids)
    return attribute_with_index(events, index, time=time, silo=silo, source_id=source_id)


def attribution_summary(attributed: pd.DataFrame) -> pd.DataFrame:
    """How many rows got each attribution status (every status listed, zeros included).

    Parameters
    ----------
    attributed : pandas.DataFrame
        Output of :func:`attribute` (or a silo view's ``attribute``).

    Returns
    -------
    pandas.DataFrame
        ``attribution``, ``n``, ``share``.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import attribution_summary
    >>> attribution_summary(pd.DataFrame({"attribution": ["ok", "ok", "unknown_id"]}))
            attribution  n     share
    0                ok  2  0.666667
    1        unknown_id  1  0.333333
    2  outside_episodes  0  0.000000
    3      missing_time  0  0.000000
    4        other_silo  0  0.000000
    """
    check_columns(attributed.columns, ["attribution"], table="attributed")
    # Counted on the column as it is (a categorical at millions of rows), the few
    # distinct labels made text afterwards: no string per row.
    raw = attributed["attribution"].value_counts()
    counts = raw.groupby(raw.index.astype("str")).sum()
    n = np.array([int(counts.get(s, 0)) for s in STATUSES], dtype=np.int64)
    total = n.sum()
    return pd.DataFrame(
        {
            "attribution": pd.Series(STATUSES, dtype="str"),
            "n": n,
            "share": n / total if total else np.zeros(len(STATUSES)),
        }
    )
