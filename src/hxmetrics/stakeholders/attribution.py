"""As-of attribution: who was the person behind this row, in which roles, at that time?

Each exhaust row names its silo and that silo's id (``silo``, ``source_id``). The
crosswalk turns the pair into a ``person_id``; then, for every role, the person's
episode that holds at the row's time is found across *all* their episodes, not
only the silo's: a ticket raised through the customer desk by someone who also
works here gets ``is_worker = True``.

The search is vectorised: episodes of a role are sorted by (person, start) into a
CSR layout (one contiguous run per person), and each row does a binary search
inside its person's run, all rows at once in numpy (a few passes, one per halving
of the longest run). After merging, a person holds at most one episode per role at
any time, so the last episode starting at or before ``t`` is the only candidate.

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
from hxmetrics.stakeholders.episodes import ROLES, _ns, merge_episodes, to_ns
from hxmetrics.stakeholders.hybrids import classify_hybrids

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
]
_OK, _UNKNOWN, _OUTSIDE, _NO_TIME, _OTHER = range(5)


@dataclass(frozen=True)
class _RoleRuns:
    ptr: np.ndarray  # run of person p: [ptr[p], ptr[p + 1])
    start: np.ndarray
    end: np.ndarray  # _OPEN for an open end
    engagement: np.ndarray  # codes into categories
    categories: pd.Index
    longest: int


@dataclass(frozen=True)
class AttributionIndex:
    """Everything an as-of lookup needs, as sorted integer arrays (built once)."""

    persons: pd.Index
    silos: dict[str, tuple[pd.Index, np.ndarray]]
    roles: dict[str, _RoleRuns]
    hybrid_codes: np.ndarray
    hybrid_categories: pd.Index

    @classmethod
    def build(
        cls,
        crosswalk: pd.DataFrame,
        episodes: pd.DataFrame,
        hybrids: pd.DataFrame | None = None,
    ) -> AttributionIndex:
        """Index a crosswalk and its episodes (and hybrid labels, computed if absent)."""
        check_columns(crosswalk.columns, ["silo", "source_id", "person_id"], table="crosswalk")
        merged = merge_episodes(episodes)
        person_text = crosswalk["person_id"].astype("str")
        persons = pd.Index(
            np.union1d(person_text.unique(), merged["person_id"].unique()).astype(object),
            dtype="str",
        )
        silos: dict[str, tuple[pd.Index, np.ndarray]] = {}
        cw_silo = crosswalk["silo"].astype("str")
        for silo in cw_silo.unique():
            mine = (cw_silo == silo).to_numpy()
            ids = pd.Index(crosswalk["source_id"].astype("str")[mine])
            if not ids.is_unique:
                dup = ids[ids.duplicated()][:5].tolist()
                raise ParameterError(
                    f"crosswalk: (silo, source_id) must be unique; silo {silo!r} repeats {dup}."
                )
            silos[str(silo)] = (ids, persons.get_indexer(person_text[mine]))
        roles = {}
        person_code = persons.get_indexer(merged["person_id"])
        for role in ROLES:
            mine = (merged["role"] == role).to_numpy()
            p = person_code[mine]
            s = _ns(merged["start"][mine])
            e = _ns(merged["end"][mine])
            eng_codes, eng_cats = pd.factorize(merged["engagement"][mine], sort=True)
            order = np.lexsort((e, s, p))
            counts = np.bincount(p, minlength=len(persons))
            roles[role] = _RoleRuns(
                ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
                start=s[order],
                end=e[order],
                engagement=eng_codes[order],
                categories=pd.Index(eng_cats, dtype="str"),
                longest=int(counts.max()) if counts.size else 0,
            )
        if hybrids is None:
            hybrids = classify_hybrids(merged)
        check_columns(hybrids.columns, ["person_id", "hybrid_type"], table="hybrids")
        h_codes, h_cats = pd.factorize(hybrids["hybrid_type"].astype("str"), sort=True)
        hybrid_codes = np.full(len(persons), -1, dtype=np.int64)
        where = persons.get_indexer(hybrids["person_id"].astype("str"))
        hybrid_codes[where[where >= 0]] = h_codes[where >= 0]
        # A person without episodes has no label to find; call them "none".
        cats = pd.Index(h_cats, dtype="str")
        if (hybrid_codes < 0).any():
            if "none" not in cats:
                cats = cats.append(pd.Index(["none"], dtype="str"))
            hybrid_codes[hybrid_codes < 0] = cats.get_loc("none")
        return cls(persons, silos, roles, hybrid_codes, cats)


def _person_codes(index: AttributionIndex, silo: pd.Series, source: pd.Series) -> np.ndarray:
    silo_codes, silo_uniques = pd.factorize(silo)
    src_codes, src_uniques = pd.factorize(source)
    src_text = pd.Index(src_uniques).astype("str")
    known = [str(s) for s in silo_uniques]
    table = np.full((len(known) + 1, len(src_text) + 1), -1, dtype=np.int64)
    for row, name in enumerate(known):
        if name in index.silos:
            ids, person = index.silos[name]
            hit = ids.get_indexer(src_text)
            table[row, :-1] = np.where(hit >= 0, person[hit], -1)
    # Missing silo or id codes are -1 and pick the last row / column: no person.
    return table[silo_codes, src_codes]


def _find(runs: _RoleRuns, person: np.ndarray, t: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Index of the episode held at ``t`` (``-1`` if none), per row."""
    p = np.where(valid, person, 0)
    lo = runs.ptr[p]
    hi = np.where(valid, runs.ptr[p + 1], lo)
    idx = hi - 1  # a one-episode run: its only episode is the candidate
    multi = np.flatnonzero(hi - lo > 1)
    if multi.size:
        # Vectorised upper bound: first episode in the run starting after t.
        left, right, tt = lo[multi], hi[multi], t[multi]
        last = runs.start.size - 1
        while True:
            open_ = left < right
            if not open_.any():
                break
            mid = np.minimum((left + right) // 2, last)
            go_right = open_ & (runs.start[mid] <= tt)
            go_left = open_ & ~go_right
            left = np.where(go_right, mid + 1, left)
            right = np.where(go_left, mid, right)
        idx[multi] = left - 1
    has = hi > lo
    cand = np.where(has & (idx >= lo), idx, 0)
    if runs.start.size == 0:
        return np.full(person.size, -1, dtype=np.int64)
    held = has & (idx >= lo) & (runs.start[cand] <= t) & (t < runs.end[cand])
    return np.where(held, cand, -1)


def attribute_with_index(
    events: pd.DataFrame,
    index: AttributionIndex,
    *,
    time: str = "timestamp",
    silo: str = "silo",
    source_id: str = "source_id",
) -> pd.DataFrame:
    """:func:`attribute` with a prebuilt :class:`AttributionIndex` (what the registry calls)."""
    events = _as_pandas(events)
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
    t = np.where(has_time, stamps.to_numpy(dtype="datetime64[ns]").view(np.int64), 0)
    person = _person_codes(index, events[silo], events[source_id])
    known = person >= 0
    valid = known & has_time

    new: dict[str, Any] = {
        "person_id": pd.Categorical.from_codes(person, categories=index.persons),
    }
    any_role = np.zeros(n, dtype=bool)
    engagement = {}
    for role in ROLES:
        runs = index.roles[role]
        hit = _find(runs, person, t, valid)
        held = hit >= 0
        new[f"is_{role}"] = held
        any_role |= held
        codes = np.full(n, -1, dtype=np.int64)
        codes[held] = runs.engagement[hit[held]]
        engagement[f"{role}_engagement"] = pd.Categorical.from_codes(
            codes, categories=runs.categories
        )
    new.update(engagement)
    hyb = np.where(known, index.hybrid_codes[np.where(known, person, 0)], -1)
    new["hybrid_type"] = pd.Categorical.from_codes(hyb, categories=index.hybrid_categories)
    status = np.full(n, _OK, dtype=np.int8)
    status[~any_role] = _OUTSIDE
    status[known & ~has_time] = _NO_TIME
    status[~known] = _UNKNOWN
    new["attribution"] = pd.Categorical.from_codes(
        status, categories=pd.Index(STATUSES, dtype="str")
    )
    out = events.copy(deep=False)
    for name, values in new.items():
        out[name] = values
    return out


def _as_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    try:
        import narwhals as nw

        native = nw.from_native(frame, eager_only=True)
    except TypeError as exc:
        raise ParameterError(
            f"events must be a DataFrame (pandas, or any eager frame narwhals accepts); "
            f"got {type(frame).__name__}."
        ) from exc
    return native.to_pandas()


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
        (missing when the role is not held), ``hybrid_type`` and ``attribution``
        (see the module docstring). Text columns are categorical.

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
    counts = attributed["attribution"].astype("str").value_counts()
    n = np.array([int(counts.get(s, 0)) for s in STATUSES], dtype=np.int64)
    total = n.sum()
    return pd.DataFrame(
        {
            "attribution": pd.Series(STATUSES, dtype="str"),
            "n": n,
            "share": n / total if total else np.zeros(len(STATUSES)),
        }
    )
