"""Journeys: sessions, the touchpoint transition matrix, frequent paths, removal effects.

Input is an events table with one row per contact: a person column, a time column and
a state column (the touchpoint), for customers', workers' and partners' journeys alike
(group with ``by="role"`` on attributed events: :func:`hxmetrics.stakeholders.attribute`).
Any frame narwhals reads is converted with :func:`hxmetrics.tables.as_pandas` at the door;
the computation is numpy on integer codes (one sort, differences, ``bincount``), with no
Python loop per person or per event.

**Sessions.** A person's contacts, in time order, form one session until a gap of more
than ``gap`` (default 30 minutes) without a contact: the inactivity timeout of web
analytics (Catledge & Pitkow 1995 measured a mean of 25.5 minutes between browsing
actions and suggested this cut; 30 minutes is Google Analytics' default session
timeout). Contacts at the same time are ordered by state name, so the result does not
depend on the order of the input rows.

**Transitions.** Every session is a path ``(start) -> s1 -> ... -> sk -> (end)``; the
first-order transition matrix counts each step and its row-normalised probabilities
(the maximum-likelihood estimate of a first-order Markov chain). With an ``outcome``,
``(end)`` splits into ``(outcome)`` (the session converted: an outcome followed it
within ``outcome_window``) and ``(no outcome)``.

**Removal effect** (Anderl, Becker, von Wangenheim & Schumann 2016; Archak, Mirrokni &
Muthukrishnan 2010). With the outcome states absorbing, the chain's probability of an
outcome from ``(start)`` is ``P = x[start]`` with ``x = (I - Q)^{-1} r`` (``Q`` the
transitions among transient states, ``r`` the one-step probabilities of the outcome).
Removing touchpoint ``s`` sends every path that reaches it to ``(no outcome)``; the
removal effect is ``RE_s = 1 - P_{-s} / P``. It is computed exactly by absorbing-chain
linear algebra, not by simulation: a path reaches ``s`` with probability
``h_s = N[start, s] / N[s, s]`` (``N = (I - Q)^{-1}``, the fundamental matrix;
Kemeny & Snell 1960, thm 3.5.7) and converts from there with probability ``x[s]``, so
``P_{-s} = P - h_s x[s]`` and ``RE_s = h_s x[s] / P`` (one inverse for all touchpoints;
equal to solving the chain without ``s``, which the tests check). The
``removal_share`` column is Anderl et al.'s attribution weight ``RE_s / sum RE``.
Outcomes can be detractor answers, churn, tickets: any table of the person's dated
outcome rows (each credits the last session that ended before it), or a flag column of
the events.

References
----------
Anderl, E., Becker, I., von Wangenheim, F. & Schumann, J. H. (2016). Mapping the
customer journey: Lessons learned from graph-based online attribution modeling.
International Journal of Research in Marketing 33(3), 457-474.
Archak, N., Mirrokni, V. S. & Muthukrishnan, S. (2010). Mining advertiser-specific user
behavior using adfactors. WWW 2010, 31-40.
Catledge, L. D. & Pitkow, J. E. (1995). Characterizing browsing strategies in the
World-Wide Web. Computer Networks and ISDN Systems 27(6), 1065-1073.
Kemeny, J. G. & Snell, J. L. (1960). Finite Markov Chains. Van Nostrand, ch. III.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import InputTableError, ParameterError, check_columns
from hxmetrics.measures._inference import (
    check_confidence,
    check_n_resamples,
    check_random_state,
    t_interval,
)
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import (
    DEFAULT_MIN_N,
    Disclosure,
    check_group_columns,
    check_min_n,
    shown_totals,
)
from hxmetrics.tables import as_pandas

__all__ = ["DEFAULT_GAP", "END", "NO_OUTCOME", "OUTCOME", "START", "Journeys", "journeys"]

#: Default inactivity gap that ends a session (the web-analytics convention).
DEFAULT_GAP = pd.Timedelta(minutes=30)
#: Names of the chain's artificial states.
START, END, OUTCOME, NO_OUTCOME = "(start)", "(end)", "(outcome)", "(no outcome)"
_TABLE = "events"
_SEP = " > "


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, repr=False, eq=False)
class Journeys(DataclassDisplay):
    """Sessions, transitions, frequent paths and removal effects of a set of journeys.

    Attributes
    ----------
    sessions : pandas.DataFrame
        Grouped result (``measure`` ``"sessions_per_person"``), one row per ``by``
        group: ``n`` persons, ``estimate`` mean sessions per person with a t interval
        (persons as units), ``n_sessions``, ``n_events``, ``mean_session_length``
        (events per session), with an outcome ``n_converted`` and ``pct_converted``
        (percent of sessions followed by an outcome), and the rows left out:
        ``n_excluded_missing_person``, ``n_excluded_missing_time``,
        ``n_excluded_missing_state``.
    transitions : pandas.DataFrame
        One row per observed transition: the ``by`` columns, ``from``, ``to``, ``n``
        (transitions), ``probability`` (``n`` over all transitions out of ``from``),
        ``n_persons`` (distinct persons who made it) and ``suppressed``. A row of the
        matrix (the transitions out of one state) is a group: rows left by fewer than
        ``min_n`` persons are hidden, with complementary rows (the rows partition the
        group's events); within a row shown, every cell is shown, as the category
        counts of a group are for NPS. Every table of the result passes one
        :class:`hxmetrics.privacy.Disclosure`: a row hidden here is hidden in
        ``removal`` and no listed path passes through it.
    paths : pandas.DataFrame
        The ``top_k`` most frequent session paths per group: the ``by`` columns,
        ``rank``, ``path`` (``"app > web"``), ``length``, ``n`` (sessions),
        ``pct`` (percent of the group's sessions), ``n_persons``, with an outcome
        ``n_converted`` and ``pct_converted``. Paths taken by fewer than ``min_n``
        persons are not listed, nor the complementary paths that would give them back
        from a group's or a touchpoint's sessions, nor paths through a hidden row of
        the matrix (``attrs["hxmetrics"]["n_paths_suppressed"]``).
    removal : pandas.DataFrame or None
        With an outcome: grouped result (``measure`` ``"removal_effect"``), one row
        per group and touchpoint: ``estimate`` the removal effect in percent (0-100),
        ``n`` persons whose sessions visit the touchpoint, ``removal_share`` (percent
        of the group's summed removal effects), ``p_outcome`` and
        ``p_outcome_without`` (the chain's outcome probability with and without the
        touchpoint), ``n_sessions``, ``n_converted``, ``pct_converted`` (of the
        sessions visiting it) and ``rank`` (1 = largest effect). With ``n_resamples``,
        ``se`` and a percentile interval from a bootstrap of persons; without, NaN.
        None without an outcome.
    meta : dict
        ``gap`` (the timeout), ``outcome_window``, ``by``, ``min_n``, ``states``.
    """

    sessions: pd.DataFrame
    transitions: pd.DataFrame
    paths: pd.DataFrame
    removal: pd.DataFrame | None
    meta: dict[str, Any] = field(default_factory=dict)

    def matrix(self, group: Any = None, *, values: str = "probability") -> pd.DataFrame:
        """The transition matrix of one group as a wide frame (rows ``from``, columns ``to``).

        Parameters
        ----------
        group : scalar or tuple, optional
            The group's ``by`` values; None for an ungrouped result (or the first group).
        values : {"probability", "n", "n_persons"}
            The cell values; suppressed cells are NaN.
        """
        if values not in ("probability", "n", "n_persons"):
            raise ParameterError(
                f"values must be 'probability', 'n' or 'n_persons'; got {values!r}."
            )
        rows = self._group_rows(self.transitions, group)
        present = set(rows["from"]) | set(rows["to"])
        states = [x for x in self.meta["states"] if x in present]
        order_from = [x for x in states if x in set(rows["from"])]
        order_to = [x for x in states if x in set(rows["to"])]
        # Transitions never made are 0; suppressed ones NaN.
        out = pd.DataFrame(
            0.0, index=pd.Index(order_from, name="from"), columns=pd.Index(order_to, name="to")
        )
        cells = rows[values].to_numpy(dtype=float, na_value=np.nan)
        i = out.index.get_indexer(pd.Index(rows["from"]))
        j = out.columns.get_indexer(pd.Index(rows["to"]))
        grid = out.to_numpy(copy=True)
        grid[i, j] = cells
        return pd.DataFrame(grid, index=out.index, columns=out.columns)

    def _group_rows(self, frame: pd.DataFrame, group: Any) -> pd.DataFrame:
        by = list(self.meta["by"])
        if not by:
            return frame
        keys = frame[by].drop_duplicates()
        if group is None:
            if keys.empty:
                return frame
            group = tuple(keys.iloc[0])
        wanted = group if isinstance(group, tuple) else (group,)
        if len(wanted) != len(by):
            raise ParameterError(f"group must give a value for each of {by}; got {group!r}.")
        mask = np.ones(len(frame), dtype=bool)
        for column, value in zip(by, wanted, strict=True):
            mask &= (frame[column].astype(object) == value).to_numpy()
        if not mask.any():
            raise ParameterError(f"no group {group!r} in this result.")
        return frame.loc[mask]

    def plot(self, *, ax: Any = None, group: Any = None) -> Any:
        """Heatmap of one group's transition probabilities (suppressed cells blank).

        Returns the matplotlib Axes.
        """
        import matplotlib.pyplot as plt

        matrix = self.matrix(group)
        if ax is None:
            _, ax = plt.subplots(figsize=(1 + 0.6 * matrix.shape[1], 1 + 0.5 * matrix.shape[0]))
        image = ax.imshow(matrix.to_numpy(), cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(matrix.shape[1]), labels=list(matrix.columns), rotation=45, ha="right")
        ax.set_yticks(range(matrix.shape[0]), labels=list(matrix.index))
        ax.set_xlabel("to")
        ax.set_ylabel("from")
        values = matrix.to_numpy()
        for i, j in zip(*np.nonzero(np.isfinite(values)), strict=True):
            v = values[i, j]
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > 0.6 else "black",
            )
        ax.figure.colorbar(image, ax=ax, label="transition probability")
        title = "transition probabilities"
        if self.meta["by"] and group is not None:
            title += f" ({group})"
        ax.set_title(title)
        return ax


# --------------------------------------------------------------------------- checks


def _check_gap(value: Any, name: str) -> int:
    """A positive duration in nanoseconds."""
    try:
        if isinstance(value, str | dt.timedelta | np.timedelta64 | pd.Timedelta):
            delta = pd.Timedelta(value)
        else:
            raise TypeError
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name} must be a duration such as '30min', '7D' or pandas.Timedelta; got {value!r}."
        ) from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ParameterError(f"{name} must be a positive duration, e.g. '30min'; got {value!r}.")
    return int(delta.value)


_ATTRIBUTED = ("person_id", "role")


def _require(columns: Any, required: Sequence[str], *, table: str) -> None:
    """:func:`hxmetrics.errors.check_columns`, with a hint when the attribution's
    columns are missing (the table was not attributed yet)."""
    try:
        check_columns(columns, required, table=table)
    except InputTableError as error:
        missing = set(error.failure_cases["column"])
        if not missing & set(_ATTRIBUTED):
            raise
        raise InputTableError(
            f"{error} Hint: person_id and role come from attribution: "
            "hxmetrics.stakeholders.attribute(table, crosswalk=..., episodes=...) or "
            "StakeholderRegistry.attribute(table).",
            table=error.table,
            failure_cases=error.failure_cases,
        ) from None


def _columns(value: Any, what: str) -> list[str]:
    cols = [] if value is None else [value] if isinstance(value, str) else list(value)
    if not all(isinstance(c, str) for c in cols):
        raise ParameterError(f"{what} must name columns; got {value!r}.")
    if len(set(cols)) != len(cols):
        raise ParameterError(f"{what} names a column twice: {cols}.")
    return cols


def _times(frame: pd.DataFrame, column: str, table: str) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since the epoch (UTC for zoned times) and the missing mask."""
    raw = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        raise InputTableError(
            f"table {table!r}: column {column!r} must hold dates and times (datetime64) to "
            f"order the journeys; it has dtype {raw.dtype}. Convert it with "
            f"pandas.to_datetime first.",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": [column],
                    "check": ["datetime"],
                    "failure_case": [str(raw.dtype)],
                    "index": [None],
                }
            ),
        )
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_convert("UTC").dt.tz_localize(None)
    values = raw.to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(values)
    return values.view(np.int64), missing


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1: missing) and the distinct values, sorted where possible."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy(dtype=np.int64)
        categories = pd.Index(values.cat.categories)
        try:
            order = np.argsort(categories.to_numpy(), kind="stable")
        except TypeError:
            return codes, categories
        # The categories' order is the input's choice: ties sort by name, as for text.
        rank = np.empty(len(order) + 1, dtype=np.int64)
        rank[order] = np.arange(len(order))
        rank[-1] = -1
        return rank[codes], categories[order]
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def _groups(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    if not by:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=range(1))
    grouper = frame.groupby(by, sort=True, dropna=False, observed=True)
    codes = grouper.ngroup().to_numpy(dtype=np.int64)
    keys = grouper.size().index.to_frame(index=False)
    for c in by:
        keys[c] = keys[c].astype(frame[c].dtype)
    return codes, keys


def _sort_order(*keys: np.ndarray) -> np.ndarray:
    """The order that sorts rows by ``keys`` (the first is the primary key).

    Each key becomes a dense rank and the ranks one int64 (mixed radix), sorted once:
    several times faster than :func:`numpy.lexsort` on millions of rows. Rows equal in
    every key are interchangeable. Falls back to lexsort if the ranks do not fit.
    """
    ranks, sizes = [], []
    for key in keys:
        values = np.asarray(key)
        if len(values) == 0:
            return np.zeros(0, dtype=np.int64)
        if values.dtype.kind in "iub":
            low, high = int(values.min()), int(values.max())
            if high - low < 2**24:
                ranks.append(values.astype(np.int64) - low)
                sizes.append(high - low + 1)
                continue
        order = np.argsort(values)
        ordered = values[order]
        dense = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = dense
        ranks.append(rank)
        sizes.append(int(dense[-1]) + 1)
    if math.prod(sizes) >= 2**62:
        return np.lexsort(tuple(reversed(keys)))
    combined = ranks[0]
    for rank, size in zip(ranks[1:], sizes[1:], strict=True):
        combined = combined * np.int64(size) + rank
    out: np.ndarray = np.argsort(combined)
    return out


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and their counts: one sort (numpy's hash-based unique is
    several times slower on millions of distinct int64 keys)."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, len(ordered)])


def _unique_count(key: np.ndarray, person: np.ndarray, n_persons: int, size: int) -> np.ndarray:
    """Distinct persons per key (keys in [0, size))."""
    pair, _ = _distinct(key.astype(np.int64) * np.int64(max(n_persons, 1)) + person)
    return np.bincount(pair // max(n_persons, 1), minlength=size)


# --------------------------------------------------------------------------- chain


def removal_effects(counts: np.ndarray, start: int, outcome: int) -> tuple[np.ndarray, float]:
    """Removal effect of every transient state of an absorbing chain, from its counts.

    Parameters
    ----------
    counts : numpy.ndarray
        (m, m) transition counts; states ``start`` and the transient ones have
        outgoing counts, absorbing states (``outcome``, no outcome) have none.
    start, outcome : int
        Indices of the start state and of the outcome state.

    Returns
    -------
    (numpy.ndarray, float)
        ``RE`` (fraction 0-1) of every state (NaN for start and the absorbing ones,
        and where the chain never reaches the outcome) and ``P``, the probability of
        the outcome from start.

    Examples
    --------
    Paths A > B -> outcome, A -> none, B -> outcome (states A, B, start, outcome,
    none): P = 2/3; without A only B's third remains (RE 0.5); without B nothing
    converts (RE 1).

    >>> c = np.zeros((5, 5))
    >>> c[2, 0], c[2, 1], c[0, 1], c[0, 4], c[1, 3] = 2, 1, 1, 1, 2
    >>> re, p = removal_effects(c, start=2, outcome=3)
    >>> round(p, 4), [round(float(v), 4) for v in re[:2]]
    (0.6667, [0.5, 1.0])
    """
    m = counts.shape[0]
    out_total = counts.sum(axis=1)
    if out_total[start] <= 0:
        return np.full(m, np.nan), float("nan")
    transient = out_total > 0
    transient[outcome] = False
    idx = np.flatnonzero(transient)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = counts[np.ix_(idx, np.arange(m))] / out_total[idx, None]
    q = prob[:, idx]
    r = prob[:, outcome]
    fundamental = np.linalg.inv(np.eye(len(idx)) - q)
    x = fundamental @ r
    s0 = int(np.flatnonzero(idx == start)[0])
    p = float(x[s0])
    re = np.full(m, np.nan)
    if p > 0:
        reach = fundamental[s0, :] / np.diag(fundamental)
        re[idx] = reach * x / p
    re[start] = np.nan
    return re, p


# --------------------------------------------------------------------------- main


def journeys(
    events: Any,
    *,
    person: str = "person_id",
    order_by: str = "timestamp",
    state: str = "touchpoint",
    by: str | Sequence[str] | None = None,
    gap: Any = DEFAULT_GAP,
    outcome: Any = None,
    outcome_window: Any = "7D",
    top_k: int = 10,
    confidence: float = 0.95,
    min_n: int | None = DEFAULT_MIN_N,
    n_resamples: int = 0,
    random_state: int | np.random.Generator | None = None,
) -> Journeys:
    """Sessions, the transition matrix, frequent paths and removal effects of journeys.

    Parameters
    ----------
    events : DataFrame
        One row per contact (pandas, Polars, DuckDB, PyArrow, ...: converted with
        :func:`hxmetrics.tables.as_pandas`). Needs the ``person``, ``order_by`` and
        ``state`` columns and the ``by`` columns; attributed events
        (:func:`hxmetrics.stakeholders.attribute`) have ``person_id``, ``role`` and
        ``timestamp``. Rows without a person, a time or a state are left out and
        counted.
    person : str, default "person_id"
        Whose journey a row belongs to. Never shown in the output.
    order_by : str, default "timestamp"
        The time column (datetime64, naive or with a time zone).
    state : str, default "touchpoint"
        The column whose values are the chain's states.
    by : str or sequence of str, optional
        Separate journeys per group, e.g. ``"role"`` (customers', workers' and partners'
        journeys apart; a person's contacts in two roles are two journeys).
    gap : duration, default 30 minutes
        Inactivity that ends a session (``"30min"``, ``pandas.Timedelta``, ...); must be
        positive.
    outcome : str or DataFrame, optional
        What the journeys lead to. A column name of ``events`` (a boolean flag, e.g. a
        complaint): a session converts when one of its contacts has it. Or a table of
        outcome occurrences (detractor answers, churn dates, tickets opened) with the
        ``person`` and ``order_by`` columns (and the ``by`` columns, if it has them, to
        match groups): each occurrence credits the person's last session that ended at
        or before it, if within ``outcome_window``.
    outcome_window : duration, default "7D"
        How long after a session an outcome still counts as its consequence.
    top_k : int, default 10
        Paths listed per group.
    confidence : float, default 0.95
        Level of the interval of sessions per person.
    min_n : int or None, default 5
        Smallest number of persons behind any number shown (a group, a transition, a
        path, a touchpoint's removal effect). Default 5 (not None as for the answer
        measures): a rare path or transition describes one person's behaviour.
    n_resamples : int, default 0
        With an outcome: bootstrap replicates for the removal effects' standard errors
        and percentile intervals, resampling persons (Poisson weights, one per person:
        a person's sessions move together); 0: no interval (``se`` and the interval
        NaN). The replicates loop over resamples, each one ``bincount``.
    random_state : int or numpy.random.Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    Journeys
        ``sessions``, ``transitions``, ``paths``, ``removal`` (see :class:`Journeys`),
        ``matrix()`` and ``plot(ax=)``.

    Raises
    ------
    InputTableError
        A missing column (named, with the table ``events`` or ``outcome``), an
        ``order_by`` column that is not datetime64, no row with a person, a time and
        a state, an ``outcome`` that is neither a flag column nor a table.
    ParameterError
        ``gap`` or ``outcome_window`` not a positive duration, a bad ``top_k``, ``by``
        naming an identifier column.

    References
    ----------
    Anderl, E. et al. (2016). IJRM 33(3), 457-474 (the removal effect).
    Catledge, L. D. & Pitkow, J. E. (1995) (the inactivity timeout).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({
    ...     "person_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:05",
    ...                                  "2025-01-02 09:00", "2025-01-01 12:00",
    ...                                  "2025-01-01 12:10"]),
    ...     "touchpoint": ["app", "web", "app", "app", "store"]})
    >>> j = journeys(ev, min_n=None)
    >>> j.sessions[["n", "estimate", "n_sessions", "n_events"]]
       n  estimate  n_sessions  n_events
    0  2       1.5           3         5
    >>> print(j.matrix(values="n").to_string())
    to       app  store  web  (end)
    from
    app      0.0    1.0  1.0    1.0
    store    0.0    0.0  0.0    1.0
    web      0.0    0.0  0.0    1.0
    (start)  3.0    0.0  0.0    0.0
    """
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    n_resamples = check_n_resamples(n_resamples, minimum=0)
    rng = check_random_state(random_state)
    gap_ns = _check_gap(gap, "gap")
    window_ns = _check_gap(outcome_window, "outcome_window")
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ParameterError(f"top_k must be a whole number >= 1; got {top_k!r}.")
    for name, value in (("person", person), ("order_by", order_by), ("state", state)):
        if not isinstance(value, str):
            raise ParameterError(f"{name} must name a column; got {value!r}.")
    cols = _columns(by, "by")
    check_group_columns(cols)
    flag = outcome if isinstance(outcome, str) else None
    df = as_pandas(events, table=_TABLE)
    _require(df.columns, [person, order_by, state, *cols, *([flag] if flag else [])], table=_TABLE)
    t_all, no_time = _times(df, order_by, _TABLE)
    g_all, keys = _groups(df, cols)
    n_groups = len(keys)
    person_values = df[person]
    table = None if outcome is None or flag else as_pandas(outcome, table="outcome")
    if table is not None:
        _require(table.columns, [person, order_by], table="outcome")
        person_values = pd.concat([person_values, table[person]], ignore_index=True)
    p_codes, persons = _codes(person_values)
    p_all = p_codes[: len(df)]
    s_all, states = _codes(df[state])
    no_person, no_state = p_all < 0, s_all < 0
    excluded = {
        "missing_person": np.bincount(g_all[no_person], minlength=n_groups),
        "missing_time": np.bincount(g_all[~no_person & no_time], minlength=n_groups),
        "missing_state": np.bincount(g_all[~no_person & ~no_time & no_state], minlength=n_groups),
    }
    keep = ~(no_person | no_time | no_state)
    if not keep.any():
        raise InputTableError(
            f"table {_TABLE!r}: no row has a {person!r}, a {order_by!r} and a {state!r}: "
            "there are no journeys to describe.",
            table=_TABLE,
            failure_cases=pd.DataFrame(
                {"column": [state], "check": ["not_empty"], "failure_case": [None], "index": [None]}
            ),
        )
    flags_all = None
    if flag is not None:
        raw = df[flag]
        if not pd.api.types.is_bool_dtype(raw.dtype) and not (
            raw.dtype == object and raw.dropna().map(type).isin([bool, np.bool_]).all()
        ):
            raise InputTableError(
                f"table {_TABLE!r}: the outcome column {flag!r} must be a flag (True/False, "
                f"missing = False); it has dtype {raw.dtype}. For dated outcomes (answers, "
                "tickets, churn) pass a table as outcome=.",
                table=_TABLE,
                failure_cases=pd.DataFrame(
                    {
                        "column": [flag],
                        "check": ["boolean"],
                        "failure_case": [str(raw.dtype)],
                        "index": [None],
                    }
                ),
            )
        flags_all = raw.fillna(False).to_numpy(dtype=bool)

    # One sort: group, person, time, state (ties by state name: order invariant).
    g, p, t, s = g_all[keep], p_all[keep], t_all[keep], s_all[keep]
    order = _sort_order(g, p, t, s)
    g, p, t, s = g[order], p[order], t[order], s[order]
    n_ev = len(s)
    new = np.ones(n_ev, dtype=bool)
    if n_ev > 1:
        new[1:] = (g[1:] != g[:-1]) | (p[1:] != p[:-1]) | (np.diff(t) > gap_ns)
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, n_ev - 1]
    session = np.cumsum(new) - 1
    n_sessions = len(first)
    sg, sp = g[first], p[first]

    converted = np.zeros(n_sessions, dtype=bool)
    if flags_all is not None:
        hit = flags_all[keep][order]
        converted = np.logical_or.reduceat(hit, first) if n_ev else converted
    elif table is not None:
        converted = _credit(
            table, cols, keys, p_codes[len(df) :], order_by, sg, sp, t[last], window_ns
        )
    has_outcome = outcome is not None

    k = len(states)
    start_code = k
    if has_outcome:
        names = [*map(str, states), START, OUTCOME, NO_OUTCOME]
        end_codes = np.where(converted, k + 1, k + 2)
    else:
        names = [*map(str, states), START, END]
        end_codes = np.full(n_sessions, k + 1)
    m = len(names)
    inner = ~new[1:] if n_ev > 1 else np.zeros(0, dtype=bool)
    frm = np.r_[np.full(n_sessions, start_code), s[:-1][inner], s[last]]
    to = np.r_[s[first], s[1:][inner], end_codes]
    tg = np.r_[sg, g[1:][inner], sg]
    tp = np.r_[sp, p[1:][inner], sp]
    cell = (tg * m + frm) * m + to
    counts = np.bincount(cell, minlength=n_groups * m * m).reshape(n_groups, m, m)
    cell_persons = _unique_count(cell, tp, len(persons), n_groups * m * m).reshape(n_groups, m, m)

    # Every table is computed whole, then passes one disclosure layer together
    # (_disclose): a count hidden in one table is hidden in all of them.
    sessions = _sessions_table(
        keys,
        g,
        p,
        sg,
        sp,
        converted,
        has_outcome,
        n_groups,
        len(persons),
        excluded,
        confidence,
    )
    row_persons = _unique_count(tg * m + frm, tp, len(persons), n_groups * m).reshape(n_groups, m)
    path_counts, rare_persons, max_len = _path_counts(
        s, first, new, sg, sp, converted, k, n_groups, min_n
    )
    removal = None
    removal_cells = None
    if has_outcome:
        draws = None
        if n_resamples > 0:
            draws = np.full((n_resamples, n_groups, m), np.nan)
            for b in range(n_resamples):  # one bincount per resample, never per person
                weights = rng.poisson(1.0, len(persons)).astype(float)
                boot = np.bincount(cell, weights=weights[tp], minlength=n_groups * m * m)
                boot = boot.reshape(n_groups, m, m)
                for code in range(n_groups):
                    draws[b, code] = removal_effects(boot[code], start=k, outcome=k + 1)[0]
        removal, removal_cells = _removal_table(
            keys,
            cols,
            counts,
            s,
            session,
            g,
            p,
            converted,
            names,
            k,
            len(persons),
            confidence,
            draws,
        )
    sessions, row_hidden, listed, removal = _disclose(
        min_n,
        keys,
        cols,
        names,
        k,
        sessions,
        row_persons,
        path_counts,
        rare_persons,
        max_len,
        removal,
        removal_cells,
    )
    transitions = _transitions_table(keys, cols, counts, cell_persons, names, row_hidden, min_n)
    paths = _paths_table(
        keys,
        cols,
        path_counts,
        listed,
        np.bincount(sg, minlength=n_groups),
        has_outcome,
        k,
        [str(x) for x in states],
        max_len,
        top_k,
        min_n,
    )
    meta = {
        "gap": pd.Timedelta(gap_ns),
        "outcome_window": pd.Timedelta(window_ns) if has_outcome else None,
        "by": cols,
        "min_n": min_n,
        "states": names,
    }
    return Journeys(sessions, transitions, paths, removal, meta)


def _credit(
    table: pd.DataFrame,
    cols: list[str],
    keys: pd.DataFrame,
    o_person: np.ndarray,
    order_by: str,
    sg: np.ndarray,
    sp: np.ndarray,
    s_end: np.ndarray,
    window_ns: int,
) -> np.ndarray:
    """Sessions followed by an outcome: each outcome credits its person's last session
    that ended at or before it, within the window (one merge sort, no loop)."""
    o_time, o_missing = _times(table, order_by, "outcome")
    ok = (o_person >= 0) & ~o_missing
    match_groups = bool(cols) and all(c in table.columns for c in cols)
    if match_groups:
        right = keys.astype(object).reset_index().rename(columns={"index": "_g"})
        merged = table[cols].astype(object).reset_index(drop=True).merge(right, on=cols, how="left")
        og = merged["_g"].to_numpy(dtype=float)
        ok &= ~np.isnan(og)
        o_group = np.where(np.isnan(og), -1, og).astype(np.int64)
        s_group = sg
    else:
        o_group = np.zeros(len(table), dtype=np.int64)
        s_group = np.zeros(len(sg), dtype=np.int64)
    n_s = len(sg)
    grp = np.r_[s_group, o_group[ok]]
    per = np.r_[sp, o_person[ok]]
    tim = np.r_[s_end, o_time[ok]]
    kind = np.r_[np.zeros(n_s, dtype=np.int8), np.ones(int(ok.sum()), dtype=np.int8)]
    order = _sort_order(grp, per, tim, kind)
    pos = np.arange(len(order))
    is_session = kind[order] == 0
    last_session = np.maximum.accumulate(np.where(is_session, pos, -1))
    out_pos = np.flatnonzero(~is_session)
    prev = last_session[out_pos]
    valid = prev >= 0
    prev_c = np.maximum(prev, 0)
    a, b = order[out_pos], order[prev_c]
    valid &= (grp[a] == grp[b]) & (per[a] == per[b]) & (tim[a] - tim[b] <= window_ns)
    converted = np.zeros(n_s, dtype=bool)
    converted[b[valid]] = True
    return converted


def _sessions_table(
    keys: pd.DataFrame,
    g: np.ndarray,
    p: np.ndarray,
    sg: np.ndarray,
    sp: np.ndarray,
    converted: np.ndarray,
    has_outcome: bool,
    n_groups: int,
    n_persons: int,
    excluded: dict[str, np.ndarray],
    confidence: float,
) -> pd.DataFrame:
    # Sessions per (group, person): the persons are the units.
    pair, per_person = _distinct(sg * np.int64(max(n_persons, 1)) + sp)
    pg = pair // max(n_persons, 1)
    persons = np.bincount(pg, minlength=n_groups)
    total = np.bincount(pg, weights=per_person, minlength=n_groups)
    total2 = np.bincount(pg, weights=per_person.astype(float) ** 2, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / persons
        var = (total2 - persons * mean**2) / (persons - 1)
        se = np.sqrt(np.clip(var, 0, None) / persons)
    low, high = t_interval(mean, se, persons - 1, confidence)
    n_sessions = np.bincount(sg, minlength=n_groups)
    n_events = np.bincount(g, minlength=n_groups)
    extra: dict[str, Any] = {
        "n_sessions": n_sessions,
        "n_events": n_events,
        "mean_session_length": np.where(
            n_sessions > 0, n_events / np.maximum(n_sessions, 1), np.nan
        ),
    }
    if has_outcome:
        n_conv = np.bincount(sg[converted], minlength=n_groups)
        extra["n_converted"] = n_conv
        extra["pct_converted"] = np.where(
            n_sessions > 0, 100 * n_conv / np.maximum(n_sessions, 1), np.nan
        )
    return grouped_result(
        keys,
        measure="sessions_per_person",
        n=persons,
        estimate=np.where(persons > 0, mean, np.nan),
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method="t",
        min_n=None,
        extra=extra,
        excluded=excluded,
    )


def _hide_rows(frame: pd.DataFrame, mask: np.ndarray, by: list[str]) -> pd.DataFrame:
    """Blank every number of the rows in ``mask`` and flag them suppressed."""
    if not mask.any():
        return frame
    frame = frame.copy()
    for c in frame.columns:
        if c in by or c == "suppressed" or not pd.api.types.is_numeric_dtype(frame[c].dtype):
            continue
        if pd.api.types.is_bool_dtype(frame[c].dtype):
            continue
        if pd.api.types.is_integer_dtype(frame[c].dtype):
            frame[c] = frame[c].astype("Int64")
            frame.loc[mask, c] = pd.NA
        else:
            frame[c] = frame[c].astype(float)
            frame.loc[mask, c] = np.nan
    frame["suppressed"] = frame["suppressed"].to_numpy(dtype=bool) | mask
    return frame


def _key_columns(keys: pd.DataFrame, cols: list[str], codes: np.ndarray) -> dict[str, Any]:
    return {c: keys[c].to_numpy()[codes] for c in cols}


def _transitions_table(
    keys: pd.DataFrame,
    cols: list[str],
    counts: np.ndarray,
    cell_persons: np.ndarray,
    names: list[str],
    row_hidden: np.ndarray,
    min_n: int | None,
) -> pd.DataFrame:
    gi, fi, ti = np.nonzero(counts)
    out_total = counts.sum(axis=2)
    frame = pd.DataFrame(
        {
            **_key_columns(keys, cols, gi),
            "from": pd.array(np.asarray(names, dtype=object)[fi], dtype="str"),
            "to": pd.array(np.asarray(names, dtype=object)[ti], dtype="str"),
            "n": pd.array(counts[gi, fi, ti], dtype="Int64"),
            "probability": counts[gi, fi, ti] / out_total[gi, fi],
            "n_persons": pd.array(cell_persons[gi, fi, ti], dtype="Int64"),
        }
    )
    for c in cols:
        frame[c] = frame[c].astype(keys[c].dtype)
    # A row of the matrix (the transitions out of one state) is shown or hidden whole,
    # as the layer decided (_disclose).
    frame["suppressed"] = False
    frame = _hide_rows(frame, row_hidden[gi, fi], cols)
    frame.attrs["hxmetrics"] = {
        "measure": "transitions",
        "by": cols,
        "min_n": min_n,
        "n_suppressed": int(frame["suppressed"].sum()),
    }
    return frame


def _path_counts(
    s: np.ndarray,
    first: np.ndarray,
    new: np.ndarray,
    sg: np.ndarray,
    sp: np.ndarray,
    converted: np.ndarray,
    k: int,
    n_groups: int,
    min_n: int | None,
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Sessions, converted sessions and persons of every (group, path); a path is its
    states as one base-(k+1) integer (-1: longer than fits). Also the distinct persons
    per group of the paths taken by fewer than ``min_n`` persons (their union)."""
    base = k + 1
    max_len = max(1, math.floor(62 * math.log(2) / math.log(base))) if base > 1 else 62
    session = np.cumsum(new) - 1
    position = np.arange(len(s)) - first[session]
    length = np.diff(np.r_[first, len(s)])
    digits = np.where(position < max_len, s + 1, 0).astype(np.int64)
    powers = np.power(np.int64(base), np.minimum(position, max_len - 1).astype(np.int64))
    code = np.add.reduceat(digits * powers, first) if len(s) else np.zeros(0, np.int64)
    code = np.where(length > max_len, -1, code)  # longer paths: one row "(longer)"
    frame = pd.DataFrame({"g": sg, "code": code, "conv": converted, "p": sp})
    agg = frame.groupby(["g", "code"], sort=False).agg(n=("conv", "size"), conv=("conv", "sum"))
    persons = frame.drop_duplicates(["g", "code", "p"]).groupby(["g", "code"], sort=False).size()
    agg["n_persons"] = persons
    agg = agg.reset_index().sort_values(["g", "n", "code"], ascending=[True, False, True])
    agg = agg.reset_index(drop=True)
    # Rare paths (fewer than min_n persons): distinct persons per group, and per group
    # and touchpoint among those that pass through it.
    rare = np.zeros((n_groups, k + 1), dtype=np.int64)
    if min_n is not None:
        few = persons.loc[persons < min_n]
        sessions_few = frame.merge(
            few.rename("_few").reset_index(), on=["g", "code"], how="inner"
        ).drop_duplicates(["g", "code", "p"])
        g_few = sessions_few["g"].to_numpy(dtype=np.int64)
        p_few = sessions_few["p"].to_numpy(dtype=np.int64)
        n_p = int(p_few.max()) + 1 if len(p_few) else 1
        whole, _ = _distinct(g_few * n_p + p_few)
        rare[:, k] = np.bincount(whole // n_p, minlength=n_groups)
        row, x = np.nonzero(_path_states(sessions_few["code"].to_numpy(np.int64), k, max_len))
        pairs, _ = _distinct((g_few[row] * np.int64(k) + x) * n_p + p_few[row])
        counts = np.bincount(pairs // n_p, minlength=n_groups * k)
        rare[:, :k] = counts.reshape(n_groups, k)
    return agg, rare, max_len


def _path_states(codes: np.ndarray, k: int, max_len: int) -> np.ndarray:
    """(paths, k) bool: which states each path visits (every state for -1: unknown)."""
    base = k + 1
    out = np.zeros((len(codes), max(k, 1)), dtype=bool)
    rest = codes.copy()
    for _ in range(max_len):  # digits of the path codes (at most 62), never per path
        d = rest % base
        has = d > 0
        out[np.flatnonzero(has), d[has] - 1] = True
        rest //= base
    out[codes < 0] = True
    return out[:, :k]


def _disclose(
    min_n: int | None,
    keys: pd.DataFrame,
    cols: list[str],
    names: list[str],
    k: int,
    sessions: pd.DataFrame,
    row_persons: np.ndarray,
    paths: pd.DataFrame,
    small_persons: np.ndarray,
    max_len: int,
    removal: pd.DataFrame | None,
    removal_cells: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame | None]:
    """One disclosure layer (:class:`hxmetrics.privacy.Disclosure`) for every table.

    Registered together: the groups (``sessions``: base "persons"), each group's
    transition rows (base "transitions": a row's persons are its size; the rows of the
    touchpoints partition the group's events, known from ``n_events``), each group's
    paths (base "paths": paths taken by fewer than ``min_n`` persons are registered as
    one cell, their union; the paths partition the group's sessions, known from
    ``n_sessions``; and the paths through each touchpoint partition its sessions, which
    ``removal`` shows) and the removal rows, which refer to the transition rows' cells
    (the persons visiting a touchpoint are the persons leaving it): a touchpoint's
    row is hidden in the matrix and in ``removal`` together. Then every row of a hidden
    group is hidden, and a path through a hidden row is not listed (its sessions and
    conversions are the row's transitions). Returns the sessions shown, the hidden rows
    ``(group, state)``, which paths may be listed, and the removal table shown.
    """
    n_groups, m = row_persons.shape
    listed = np.ones(len(paths), dtype=bool)
    if min_n is None:
        return sessions, np.zeros((n_groups, m), dtype=bool), listed, removal
    layer = Disclosure(min_n)
    layer.add("sessions", sessions, base="persons", by=cols)
    names_arr = np.asarray(names, dtype=object)
    g_path = paths["g"].to_numpy(dtype=np.int64)
    big = paths["n_persons"].to_numpy() >= min_n
    states_of = _path_states(paths["code"].to_numpy(dtype=np.int64), k, max_len)
    for code in range(n_groups):  # a few tables per group (few), never per person
        where = {c: keys[c].iloc[code] for c in cols}
        states = np.flatnonzero(row_persons[code, :k] > 0)
        rows = pd.DataFrame({"from": names_arr[states], "n": row_persons[code, states]})
        layer.add(f"rows:{code}", rows, base="transitions", by=["from"], where=where)
        mine = np.flatnonzero((g_path == code) & big)
        table = pd.DataFrame(
            {
                "path": paths["code"].to_numpy()[mine].astype(str).astype(object),
                "n": paths["n_persons"].to_numpy()[mine],
            }
        )
        if small_persons[code, k] > 0:
            table.loc[len(table)] = ["(rare paths)", small_persons[code, k]]
        layer.add(f"paths:{code}", table, base="paths", by=["path"], where=where)
        # The paths through each touchpoint partition its sessions, which ``removal``
        # shows: a second relation over the same path cells (a path's cell "via x" is
        # nested in its cell with the same persons: the layer hides them together).
        through = states_of[mine]
        for x in np.flatnonzero(through.any(axis=0) | (small_persons[code, :k] > 0)):
            via = table.iloc[: len(mine)].loc[through[:, x]]
            if small_persons[code, x] > 0:
                via = pd.concat(
                    [via, pd.DataFrame({"path": ["(rare paths)"], "n": [small_persons[code, x]]})],
                    ignore_index=True,
                )
            layer.add(
                f"paths:{code}:via:{x}",
                via.reset_index(drop=True),
                base="paths",
                by=["path"],
                where={**where, "(via)": names[x]},
            )
    if removal is not None:
        registered = removal.rename(columns={"touchpoint": "from"})
        layer.add("removal", registered, base="transitions", by=[*cols, "from"], n=None)
    shown_sessions = layer.table("sessions")
    meta = {**shown_sessions.attrs["hxmetrics"], "min_n": min_n}
    shown_sessions.attrs = {**shown_sessions.attrs, "hxmetrics": meta}
    hidden_groups = shown_sessions["suppressed"].to_numpy(dtype=bool)
    row_hidden = np.zeros((n_groups, m), dtype=bool)
    row_hidden[hidden_groups] = True
    listed = big & ~hidden_groups[g_path]
    for code in range(n_groups):
        if hidden_groups[code]:
            continue
        states = np.flatnonzero(row_persons[code, :k] > 0)
        hidden = layer.table(f"rows:{code}")["suppressed"].to_numpy(dtype=bool)
        row_hidden[code, states[hidden]] = True
        mine = np.flatnonzero((g_path == code) & big)
        layer_hidden = layer.table(f"paths:{code}")["suppressed"].to_numpy(dtype=bool)
        blocked = np.asarray((states_of[mine] & row_hidden[code, :k]).any(axis=1), dtype=bool)
        listed[mine] = ~layer_hidden[: len(mine)] & ~blocked
        # Hidden only here (through a hidden row): never the one path left out, whose
        # count would be the group's sessions minus the rest.
        left_out = int((~listed[mine]).sum()) + int(small_persons[code, k] > 0)
        lonely = blocked & ~layer_hidden[: len(mine)]
        if left_out == 1 and lonely.any() and listed[mine].any():
            shown = mine[listed[mine]]
            listed[shown[np.argmin(paths["n"].to_numpy()[shown])]] = False
    if removal is not None and removal_cells is not None:
        gi, _ = removal_cells
        out = layer.table("removal").rename(columns={"from": "touchpoint"})
        out = _hide_rows(out, hidden_groups[gi], [*cols, "touchpoint"])
        meta = {**out.attrs["hxmetrics"], "min_n": min_n}
        out.attrs = {**out.attrs, "hxmetrics": meta}
        shown = ~out["suppressed"].to_numpy(dtype=bool)
        ranks = pd.Series(-out["estimate"].to_numpy(dtype=float)).where(shown)
        out["rank"] = ranks.groupby(gi).rank(method="min").to_numpy()
        removal = shown_totals(out)
    return shown_sessions, row_hidden, listed, removal


def _paths_table(
    keys: pd.DataFrame,
    cols: list[str],
    agg: pd.DataFrame,
    listed: np.ndarray,
    group_sessions: np.ndarray,
    has_outcome: bool,
    k: int,
    state_names: list[str],
    max_len: int,
    top_k: int,
    min_n: int | None,
) -> pd.DataFrame:
    """The ``top_k`` most frequent paths per group among those the layer lets through."""
    base = k + 1
    n_hidden = int((~listed).sum())
    agg = agg.loc[listed].copy()
    agg["rank"] = agg.groupby("g").cumcount() + 1
    agg = agg.loc[agg["rank"] <= top_k]
    labels, lengths = [], []
    for c in agg["code"].tolist():  # at most top_k paths per group
        if c < 0:
            labels.append(f"(longer than {max_len} steps)")
            lengths.append(max_len + 1)
            continue
        steps = []
        while c > 0:
            c, d = divmod(c, base)
            steps.append(state_names[d - 1])
        labels.append(_SEP.join(steps))
        lengths.append(len(steps))
    gcodes = agg["g"].to_numpy(dtype=np.int64)
    n = agg["n"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            **_key_columns(keys, cols, gcodes),
            "rank": pd.array(agg["rank"].to_numpy(), dtype="Int64"),
            "path": pd.array(labels, dtype="str"),
            "length": pd.array(lengths, dtype="Int64"),
            "n": pd.array(n, dtype="Int64"),
            "pct": 100 * n / group_sessions[gcodes],
            "n_persons": pd.array(agg["n_persons"].to_numpy(), dtype="Int64"),
        }
    )
    if has_outcome:
        conv = agg["conv"].to_numpy(dtype=np.int64)
        out["n_converted"] = pd.array(conv, dtype="Int64")
        out["pct_converted"] = 100 * conv / n
    for c in cols:
        out[c] = out[c].astype(keys[c].dtype)
    out["suppressed"] = False
    out.attrs["hxmetrics"] = {
        "measure": "paths",
        "by": cols,
        "min_n": min_n,
        "top_k": top_k,
        "n_paths_suppressed": n_hidden,
        "max_length": max_len,
    }
    return out.reset_index(drop=True)


def _removal_table(
    keys: pd.DataFrame,
    cols: list[str],
    counts: np.ndarray,
    s: np.ndarray,
    session: np.ndarray,
    g: np.ndarray,
    p: np.ndarray,
    converted: np.ndarray,
    names: list[str],
    k: int,
    n_persons: int,
    confidence: float,
    draws: np.ndarray | None,
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    n_groups = len(keys)
    # Sessions (and converted sessions) visiting each touchpoint, persons visiting it.
    visit, _ = _distinct(session.astype(np.int64) * k + s)
    v_session, v_state = visit // k, visit % k
    v_group = g[np.searchsorted(session, v_session)]
    cell = v_group * k + v_state
    n_sessions = np.bincount(cell, minlength=n_groups * k).reshape(n_groups, k)
    n_conv = np.bincount(cell[converted[v_session]], minlength=n_groups * k).reshape(n_groups, k)
    persons = _unique_count(g * k + s, p, n_persons, n_groups * k).reshape(n_groups, k)
    re = np.full((n_groups, k), np.nan)
    p_out = np.full(n_groups, np.nan)
    for code in range(n_groups):  # one inverse per group (few groups), never per person
        effects, prob = removal_effects(counts[code], start=k, outcome=k + 1)
        re[code] = effects[:k]
        p_out[code] = prob
    gi, si = np.nonzero(n_sessions > 0)
    effect = re[gi, si]
    totals = np.nansum(np.where(n_sessions > 0, re, 0.0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 100 * effect / totals[gi]
    key_frame = pd.DataFrame(_key_columns(keys, cols, gi))
    for c in cols:
        key_frame[c] = key_frame[c].astype(keys[c].dtype)
    key_frame["touchpoint"] = pd.array(np.asarray(names, dtype=object)[si], dtype="str")
    rank = pd.Series(-effect).groupby(gi).rank(method="min").to_numpy()
    se = low = high = np.full(len(gi), np.nan)
    method = "markov_removal"
    n_boot = 0
    if draws is not None:
        # Percentile interval over the replicates in which the chain converts at all.
        cells = draws[:, gi, si]
        usable = np.isfinite(cells).sum(axis=0)
        alpha = (1 - confidence) / 2
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: NaN
            se = 100 * np.nanstd(cells, axis=0, ddof=1)
            low = 100 * np.nanquantile(cells, alpha, axis=0)
            high = 100 * np.nanquantile(cells, 1 - alpha, axis=0)
        enough = usable >= 2
        se, low, high = (np.where(enough, v, np.nan) for v in (se, low, high))
        method = "markov_removal, person bootstrap (percentile)"
        n_boot = int(draws.shape[0])
    result = grouped_result(
        key_frame,
        measure="removal_effect",
        n=persons[gi, si],
        estimate=100 * effect,
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method=method,
        min_n=None,
        extra={
            "removal_share": share,
            "p_outcome": p_out[gi],
            "p_outcome_without": p_out[gi] * (1 - effect),
            "n_sessions": n_sessions[gi, si],
            "n_converted": n_conv[gi, si],
            "pct_converted": 100 * n_conv[gi, si] / n_sessions[gi, si],
            "rank": rank,
        },
        meta={"bounds": (0.0, 100.0), "order": 1, "n_resamples": n_boot},
    )
    return result, (gi, si)
