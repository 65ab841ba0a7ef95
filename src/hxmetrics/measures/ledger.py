"""The team ledger: per team and period, the people served and the value created for them.

In a touchpoint organisation each small team owns touchpoints (an app, a store, a help
desk) and is reviewed on what happens there. The optional ``teams`` table (one row per
ownership spell: ``team``, ``touchpoint``, ``valid_from``, ``valid_to``, an empty
``valid_to`` meaning the team still owns it) says who owned which touchpoint when.
:func:`check_teams` validates it across rows; :func:`owner_at` finds the owning team
of any (touchpoint, time); :func:`team_ledger` builds the ledger.

Every exhaust row (an event, a ticket at its opening, a survey answer) with a
touchpoint is credited to the team owning that touchpoint at the row's time, so an
ownership change splits a period: the old team gets the rows before the change, the
new team those from it on. Rows at a touchpoint nobody owned at the time are counted
in ``attrs["hxmetrics"]["unowned"]``, never silently dropped.

A ledger row (team, period) shows:

* ``n``: people served: unique persons (``person_id``) with a row at the team's
  touchpoints while it owned them, in the period; by role (``n_served_customer``, ...:
  a person served in two roles counts in both) and, when the inputs carry
  ``hybrid_type`` (:func:`hxmetrics.stakeholders.attribute`), by hybrid type
  (``n_served_hybrid_<type>``, summing to ``n``);
* ``repeat`` and ``pct_repeat``: the persons served who this team also served in an
  earlier period (the first period of the data has none by construction);
* ``estimate``, ``se``, ``ci_low``, ``ci_high``: the experience (NPS through
  :func:`hxmetrics.measures.nps`, or CSAT through
  :func:`hxmetrics.measures.satisfaction.csat`) of the answers given at the team's
  touchpoints, from ``n_answers`` answers;
* ``change`` ... ``change_p_holm``: the experience minus the previous period's, with
  a test: for NPS :func:`hxmetrics.measures.nps_test` (two independent samples,
  adjusted-Wald z test, Sauro & Lewis 2021); for CSAT a Wald z test on the two
  independent estimates (``(a - b) / sqrt(se_a² + se_b²)``). ``change_p_holm`` is
  Holm's step-down adjustment over the changes the ledger shows (Holm 1979: a
  suppressed row leaves the family) and ``change_significant`` reads it at
  ``1 - confidence``;
* responsiveness of the tickets opened at the team's touchpoints
  (:func:`hxmetrics.measures.responsiveness.responsiveness`, Kaplan-Meier medians
  with open tickets censored at ``as_of``): ``median_first_response_hours``,
  ``median_resolution_hours``, ``pct_sla_met`` (with ``sla=``), ``n_tickets``;
* ``revenue`` and ``n_transactions``: transactions credited to the team by
  ``revenue_rule``:

  - ``"last_touch"``: a transaction goes to the owner of the touchpoint of the
    person's last row at an owned touchpoint within ``revenue_window`` before it
    (at or before its time), in the transaction's period;
  - ``"served_in_period"``: a transaction of a person served in its period goes to
    the teams that served the person then, split in equal shares.

  Either way each transaction is credited once in total (or not at all: counted in
  ``attrs["hxmetrics"]["revenue_unattributed"]``), so the ledger's revenue sums to
  the attributed transactions.

References
----------
Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review.
Sauro, J. & Lewis, J. R. (2021). MeasuringU: a significance test for comparing two
Net Promoter Scores (adjusted-Wald proportions).
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
Scandinavian Journal of Statistics 6(2), 65-70.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, check_choice, check_columns
from hxmetrics.measures._inference import check_confidence, holm, z_critical, z_test
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import check_min_n, suppress
from hxmetrics.tables import as_pandas

__all__ = ["PERIODS", "REVENUE_RULES", "check_teams", "owner_at", "team_ledger"]

#: Period lengths the ledger accepts (pandas period codes).
PERIODS = ("D", "W", "M", "Q", "Y")
#: How transactions are credited to teams (see the module notes).
REVENUE_RULES = ("last_touch", "served_in_period")

_TEAM_COLUMNS = ["team", "touchpoint", "valid_from", "valid_to"]
_DEFAULT_INSTRUMENT = {"nps": "nps", "csat": "csat"}
_ROLES = ("customer", "worker", "partner")
# "Still owns": the largest datetime64[ns] (an open spell's end).
_FAR = np.datetime64(np.iinfo(np.int64).max, "ns")


def _cases(rows: Sequence[tuple[str, str, Any, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["column", "check", "failure_case", "index"])


def _naive(values: pd.Series, *, table: str, column: str) -> pd.Series:
    """Datetimes without a time zone (aware ones are taken to UTC), NaT where missing."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    bad = parsed.isna() & values.notna()
    if bad.any():
        pos = np.flatnonzero(bad.to_numpy())[:5].tolist()
        raise InputTableError(
            f"{table}: column {column!r} must hold dates; rows {pos} (positions) do not.",
            table=table,
            failure_cases=_cases([(column, "datetime", None, p) for p in pos]),
        )
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _text(values: pd.Series) -> np.ndarray:
    out = values.astype(object).to_numpy()
    missing = pd.isna(out)
    out = out.astype(str).astype(object)
    out[missing] = None
    return out


def _touchpoint_set(touchpoints: Any) -> set[str]:
    if isinstance(touchpoints, pd.DataFrame):
        touchpoints = touchpoints["touchpoint"]
    if isinstance(touchpoints, str):
        return {touchpoints}
    return {str(t) for t in pd.Series(list(touchpoints), dtype=object).dropna()}


def check_teams(teams: Any, *, touchpoints: Iterable[str] | None = None) -> pd.DataFrame:
    """Check the ``teams`` table across rows; return it clean.

    The row checks (types, ``valid_to > valid_from``) belong to
    :func:`hxmetrics.tables.validate`; this adds what needs more than one row or
    another table: two spells owning one touchpoint at overlapping times (one team or
    two), and touchpoints unknown to the exhaust. ``valid_to <= valid_from`` is checked
    here too, so the ledger can rely on it.

    Parameters
    ----------
    teams : frame
        ``team``, ``touchpoint``, ``valid_from``, ``valid_to`` (empty: still owns), any
        frame narwhals reads (converted with :func:`hxmetrics.tables.as_pandas`).
        Spells are half-open: ``[valid_from, valid_to)``.
    touchpoints : iterable of str or DataFrame, optional
        The touchpoints the exhaust knows (a frame: its ``touchpoint`` column); a
        touchpoint of ``teams`` not among them is an error. None: not checked.

    Returns
    -------
    pandas.DataFrame
        ``team``, ``touchpoint`` (text), ``valid_from``, ``valid_to`` (naive
        ``datetime64[ns]``, NaT when open), in the input's row order.

    Raises
    ------
    InputTableError
        Naming table ``teams``, the columns, the check (``missing``,
        ``valid_to_after_valid_from``, ``overlapping_ownership``,
        ``known_touchpoint``) and example row positions.

    Examples
    --------
    >>> import pandas as pd
    >>> teams = pd.DataFrame({"team": ["a", "b"], "touchpoint": ["chat", "chat"],
    ...     "valid_from": pd.to_datetime(["2024-01-01", "2024-03-01"]),
    ...     "valid_to": pd.to_datetime(["2024-04-01", None])})
    >>> try:
    ...     check_teams(teams)
    ... except Exception as e:
    ...     print(type(e).__name__, e.failure_cases["check"].tolist())
    InputTableError ['overlapping_ownership', 'overlapping_ownership']
    """
    df = as_pandas(teams, table="teams")
    check_columns(df.columns, _TEAM_COLUMNS, table="teams")
    team = _text(df["team"])
    tp = _text(df["touchpoint"])
    start = _naive(df["valid_from"], table="teams", column="valid_from")
    stop = _naive(df["valid_to"], table="teams", column="valid_to")
    for name, missing in (
        ("team", pd.isna(team)),
        ("touchpoint", pd.isna(tp)),
        ("valid_from", start.isna().to_numpy()),
    ):
        if missing.any():
            pos = np.flatnonzero(missing)[:5].tolist()
            raise InputTableError(
                f"teams: column {name!r} is empty in rows {pos} (positions); every "
                "ownership spell needs a team, a touchpoint and a valid_from.",
                table="teams",
                failure_cases=_cases([(name, "missing", None, p) for p in pos]),
            )
    s = start.to_numpy()
    e = stop.to_numpy()
    bad = ~np.isnat(e) & (e <= s)
    if bad.any():
        pos = np.flatnonzero(bad)[:5].tolist()
        raise InputTableError(
            f"teams: valid_to must be after valid_from (spells are [valid_from, valid_to)); "
            f"rows {pos} (positions) end at or before they start. Leave valid_to empty "
            "for a team that still owns the touchpoint.",
            table="teams",
            failure_cases=_cases([("valid_to", "valid_to_after_valid_from", None, p) for p in pos]),
        )
    n = len(df)
    order = np.lexsort((s, pd.factorize(tp)[0]))
    tp_o = tp[order]
    end_o = np.where(np.isnat(e), _FAR, e)[order].astype(np.int64)
    # A spell overlaps an earlier one of its touchpoint when it starts before the
    # latest end among them (the running maximum, not only the previous spell's).
    same = np.r_[False, tp_o[1:] == tp_o[:-1]] if n else np.zeros(0, bool)
    grp = np.cumsum(~same) - 1
    running = pd.Series(end_o).groupby(grp).cummax().to_numpy()
    prev_end = np.r_[np.iinfo(np.int64).min, running[:-1]] if n else running
    clash = same & (s[order].astype(np.int64) < prev_end)
    if clash.any():
        later = order[clash]
        earlier = order[np.flatnonzero(clash) - 1]
        pos = sorted(set(np.r_[earlier, later].tolist()))[:6]
        where = sorted({str(t) for t in tp_o[clash]})[:3]
        raise InputTableError(
            f"teams: {int(clash.sum())} spell(s) own a touchpoint while another spell "
            f"owns it (touchpoint(s) {where}; rows {pos}, positions; columns touchpoint, "
            "valid_from, valid_to). One touchpoint has one owner at a time: end the "
            "earlier spell (valid_to) at or before the next one's valid_from.",
            table="teams",
            failure_cases=_cases([("valid_from", "overlapping_ownership", None, p) for p in pos]),
        )
    if touchpoints is not None:
        known = _touchpoint_set(touchpoints)
        unknown = np.array([t not in known for t in tp], dtype=bool)
        if unknown.any():
            pos = np.flatnonzero(unknown)[:5].tolist()
            names = sorted({str(t) for t in tp[unknown]})[:5]
            raise InputTableError(
                f"teams: touchpoint(s) {names} (rows {pos}, positions) never occur in the "
                f"exhaust, which knows {sorted(known)[:12]}. Check the spelling; a new "
                "touchpoint with no rows yet can be left out of the check.",
                table="teams",
                failure_cases=_cases([("touchpoint", "known_touchpoint", None, p) for p in pos]),
            )
    return pd.DataFrame(
        {
            "team": pd.Series(team, dtype="str"),
            "touchpoint": pd.Series(tp, dtype="str"),
            "valid_from": start.to_numpy(),
            "valid_to": stop.to_numpy(),
        }
    )


def owner_at(teams: pd.DataFrame, touchpoint: Any, timestamp: Any) -> np.ndarray:
    """The team owning each (touchpoint, time), or None where nobody owned it.

    Parameters
    ----------
    teams : pandas.DataFrame
        A table checked by :func:`check_teams` (spells of one touchpoint never
        overlap, so each (touchpoint, time) has at most one owner).
    touchpoint, timestamp : array-like
        One value per row to look up (same length; naive datetimes).

    Returns
    -------
    numpy.ndarray
        Team names (object), None where the touchpoint or time is missing or no
        spell covers it (spells are ``[valid_from, valid_to)``).

    Examples
    --------
    >>> import pandas as pd
    >>> teams = check_teams(pd.DataFrame({"team": ["a", "b"], "touchpoint": ["chat"] * 2,
    ...     "valid_from": pd.to_datetime(["2024-01-01", "2024-02-15"]),
    ...     "valid_to": pd.to_datetime(["2024-02-15", None])}))
    >>> owner_at(teams, ["chat", "chat", "web"],
    ...          pd.to_datetime(["2024-02-14", "2024-02-15", "2024-02-14"])).tolist()
    ['a', 'b', None]
    """
    tp = pd.Series(touchpoint).reset_index(drop=True)
    ts = pd.Series(pd.to_datetime(pd.Series(timestamp).reset_index(drop=True)))
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    t = ts.to_numpy(dtype="datetime64[ns]")
    out = np.full(len(tp), None, dtype=object)
    if len(tp) == 0 or len(teams) == 0:
        return out
    # Rows grouped by touchpoint once; each touchpoint's spells (sorted, never
    # overlapping) are searched for all its rows at once: one pass per touchpoint of
    # the teams table, never per row.
    codes, names = pd.factorize(tp.astype("str").where(tp.notna()), use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    spell_tp = teams["touchpoint"].to_numpy(dtype=object)
    spell_team = teams["team"].to_numpy(dtype=object)
    lo_all = teams["valid_from"].to_numpy(dtype="datetime64[ns]")
    hi_all = teams["valid_to"].to_numpy(dtype="datetime64[ns]")
    lookup = pd.Index(names)
    for name in pd.unique(spell_tp):
        c = lookup.get_indexer([name])[0]
        if c < 0:
            continue
        a, b = np.searchsorted(sorted_codes, [c, c + 1])
        rows = order[a:b]
        mine = np.flatnonzero(spell_tp == name)
        mine = mine[np.argsort(lo_all[mine], kind="stable")]
        when = t[rows]
        j = np.searchsorted(lo_all[mine], when, side="right") - 1
        hit = (j >= 0) & ~np.isnat(when)
        jj = mine[np.where(hit, j, 0)]
        end = hi_all[jj]
        hit &= np.isnat(end) | (when < end)
        out[rows[hit]] = spell_team[jj[hit]]
    return out


def _check_period(period: Any) -> str:
    check_choice("period", period, PERIODS)
    return str(period)


def _periods(times: np.ndarray, period: str) -> pd.PeriodIndex:
    return pd.PeriodIndex(pd.DatetimeIndex(times), freq=period)


def _rows(
    table: str,
    data: Any,
    *,
    time: str,
    teams: pd.DataFrame,
    as_of: pd.Timestamp | None,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One exhaust table's rows credited to teams: ``team``, ``t``, ``person_id``, ..."""
    df = as_pandas(data, table=table)
    check_columns(df.columns, ["person_id", "role", "touchpoint", time, *extra], table=table)
    t = _naive(df[time], table=table, column=time).to_numpy()
    team = owner_at(teams, df["touchpoint"].to_numpy(dtype=object), t)
    late = np.zeros(len(df), bool) if as_of is None else (~np.isnat(t) & (t > np.datetime64(as_of)))
    counts: dict[str, Any] = {
        "seen": {str(x) for x in df["touchpoint"].dropna().unique()},
        "no_touchpoint": int(df["touchpoint"].isna().sum()),
        "unowned": int((pd.isna(team) & df["touchpoint"].notna().to_numpy()).sum()),
        "after_as_of": int((late & ~pd.isna(team)).sum()),
    }
    keep = ~pd.isna(team) & ~late
    out = pd.DataFrame(
        {
            "source": table,
            "team": team[keep],
            "t": t[keep],
            # Text columns stay text arrays (no Python string per row).
            "person_id": df["person_id"].astype("str").array[keep],
            "role": df["role"].astype("str").array[keep],
        }
    )
    if "hybrid_type" in df.columns:
        out["hybrid_type"] = df["hybrid_type"].astype("str").array[keep]
    for c in extra:
        out[c] = df[c].to_numpy()[keep]
    return out, counts


def _breakdown(
    served: pd.DataFrame, keys: pd.DataFrame, column: str, prefix: str, min_n: int | None
) -> dict[str, Any]:
    """Unique persons per (team, period, value) as wide Int64 columns, suppressed."""
    if column not in served.columns:
        return {}
    sub = served[served[column].notna()].drop_duplicates(["team", "period", column, "person_id"])
    counts = sub.groupby(["team", "period", column], observed=True).size().rename("n").reset_index()
    values = [v for v in _ROLES if v in set(counts[column])] if column == "role" else []
    values += sorted(set(counts[column]) - set(values))
    if not values:
        return {}
    idx = pd.MultiIndex.from_frame(keys[["team", "period"]])
    wide = (
        counts.pivot_table(index=["team", "period"], columns=column, values="n", aggfunc="sum")
        .reindex(index=idx, columns=values)
        .fillna(0)
        .to_numpy(dtype=np.int64)
    )
    hidden = np.zeros(wide.shape, dtype=bool)
    if min_n is not None:
        # Each row is a partition of the row's persons (exactly for hybrid types, a
        # cover for roles): small cells and their complements are hidden row by row
        # through the one disclosure layer. Rows with no small cell need nothing.
        values_frame = pd.DataFrame({column: values})
        for i in np.flatnonzero((wide < min_n).any(axis=1)):
            cell = suppress(values_frame.assign(n=wide[i]), min_n=min_n, by=[column])
            hidden[i] = cell["suppressed"].to_numpy(dtype=bool)
    out: dict[str, Any] = {}
    for j, v in enumerate(values):
        col = pd.array(wide[:, j], dtype="Int64")
        col[hidden[:, j]] = pd.NA
        out[f"{prefix}{v}"] = col
    return out


def team_ledger(
    teams: Any,
    *,
    responses: Any = None,
    events: Any = None,
    tickets: Any = None,
    transactions: Any = None,
    period: str = "Q",
    measure: str = "nps",
    instrument: str | None = None,
    item: str | None = None,
    scale: tuple[int, int] = (1, 5),
    box: Sequence[int] = (4, 5),
    method: str = "adjusted_wald",
    revenue_rule: str = "last_touch",
    revenue_window: str | pd.Timedelta = "30D",
    sla: Any = None,
    as_of: Any = None,
    served_from: Sequence[str] | None = None,
    behaviour: Any = None,
    check_touchpoints: bool = True,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """One row per team and period: people served, repeat share, experience, responsiveness,
    revenue, and the change of the experience since the previous period with a test.

    See the module notes for every definition. Inputs are *attributed* exhaust tables
    (:func:`hxmetrics.stakeholders.attribute`: ``person_id``, ``role``, and
    ``hybrid_type`` for the hybrid breakdown), any frame narwhals reads (converted
    with :func:`hxmetrics.tables.as_pandas`; the computation is pandas/numpy).

    Parameters
    ----------
    teams : frame
        The ``teams`` table (checked with :func:`check_teams`).
    responses : frame, optional
        Attributed answers with ``touchpoint``, ``timestamp``, ``instrument``,
        ``item``, ``score``: they count as persons served and give the experience.
    events : frame, optional
        Attributed events (``touchpoint``, ``timestamp``): persons served.
    tickets : frame, optional
        Attributed tickets (``touchpoint``, ``opened``, ``first_response``,
        ``closed``, ...): persons served at opening and the responsiveness. A ticket
        goes to the owner of its touchpoint when opened; the tickets' own ``team``
        column (the handling desk) is not used.
    transactions : frame, optional
        Attributed transactions (``timestamp``, ``amount``): the revenue.
    period : {"D", "W", "M", "Q", "Y"}
        Length of a ledger period (calendar periods).
    measure : {"nps", "csat"}
        The experience measure.
    instrument, item : str, optional
        The answers the measure reads (default: instrument ``measure``, every item).
    scale, box : CSAT's scale and top box (:func:`~hxmetrics.measures.satisfaction.csat`).
    method : str
        The experience interval method (``"adjusted_wald"``/``"wald"`` for NPS, also
        the method of the change test; CSAT: ``"wilson"`` is used unless another
        method of :func:`~hxmetrics.measures.satisfaction.csat` is named).
    revenue_rule : {"last_touch", "served_in_period"}
        How transactions are credited (module notes; recorded in the attrs).
    revenue_window : str or pandas.Timedelta
        How far back the last touch may be (``"last_touch"``).
    sla : mapping or DataFrame, optional
        First-response targets (:func:`~hxmetrics.measures.responsiveness.responsiveness`);
        adds ``pct_sla_met``.
    as_of : timestamp, optional
        Rows after it are left out (counted in the attrs); open tickets are censored
        there. Default: no cut; tickets censored at their latest time.
    served_from : sequence of {"events", "tickets", "responses"}, optional
        The tables whose rows count as serving a person (and as touches for
        ``"last_touch"``). Default: events and tickets when either is given (a survey
        answer is not a contact), else responses.
    behaviour : DataFrame, optional
        A :func:`hxmetrics.measures.behaviour.behaviour_profile` (one row per person
        and role, at its own ``as_of``): adds ``mean_p_alive`` (customers served) and
        ``mean_leave_hazard`` (workers and partners served), the mean churn signal of
        the persons the team served in the period, through
        :func:`~hxmetrics.measures.behaviour.behaviour_summary` (its suppression).
        Optional: the ledger does not need the behaviour module otherwise.
    check_touchpoints : bool
        Refuse a ``teams`` touchpoint that no input row has (a typo); turn off for a
        touchpoint with no rows yet.
    confidence : float
        Level of the intervals; ``change_significant`` is Holm's p below
        ``1 - confidence``.
    min_n : int, optional
        Smallest group shown, in persons served (rows) and in answers (the
        experience and its change); breakdown cells below it are hidden with their
        complements (:func:`hxmetrics.privacy.suppress`).

    Returns
    -------
    pandas.DataFrame
        The grouped-result protocol, one row per team and period from the first to
        the last period with data in which the team owned a touchpoint: ``measure``
        (``"team_ledger"``), ``team``, ``period`` (pandas Period), ``n`` (people
        served), ``estimate``/``se``/``ci_low``/``ci_high`` (the experience: NPS
        points or CSAT percent), ``n_answers``, ``n_served_<role>``,
        ``n_served_hybrid_<type>``, ``repeat``, ``pct_repeat`` (0-100), ``change``,
        ``change_se``, ``change_ci_low``, ``change_ci_high``, ``change_p_value``,
        ``change_p_holm``, ``change_significant``, ``n_tickets``,
        ``median_first_response_hours``, ``median_resolution_hours``,
        ``pct_sla_met``, ``revenue``, ``n_transactions``,
        ``n_excluded_unattributed`` (rows at the team's touchpoints without a
        person), ``n_excluded_missing_score``, ``suppressed``.
        ``attrs["hxmetrics"]`` adds ``period``, ``revenue_rule``, ``revenue_window``,
        ``change_test``, ``multiple_comparison``, ``served_from``, ``unowned``,
        ``no_touchpoint``, ``after_as_of``, ``revenue_unattributed``,
        ``n_transactions_unattributed``, ``n_transactions_excluded`` (transactions
        without a timestamp or an amount, or after ``as_of``: not credited), ``as_of``.

    Raises
    ------
    InputTableError
        A bad ``teams`` table (:func:`check_teams`); no input row at an owned
        touchpoint (no period has data); missing columns.
    ParameterError
        Bad ``period``, ``measure``, ``revenue_rule``, ``as_of`` or no input table.

    Examples
    --------
    >>> import pandas as pd
    >>> teams = pd.DataFrame({"team": ["a", "b"], "touchpoint": ["chat", "web"],
    ...     "valid_from": pd.to_datetime(["2024-01-01"] * 2), "valid_to": pd.NaT})
    >>> ev = pd.DataFrame({"person_id": ["p1", "p2", "p1", "p3"],
    ...     "role": "customer", "touchpoint": ["chat", "chat", "web", "chat"],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03",
    ...                                  "2024-04-02"])})
    >>> out = team_ledger(teams, events=ev, period="Q")
    >>> out[["team", "period", "n", "repeat"]]
      team  period  n  repeat
    0    a  2024Q1  2       0
    1    a  2024Q2  1       0
    2    b  2024Q1  1       0
    3    b  2024Q2  0       0
    """
    period = _check_period(period)
    check_choice("measure", measure, tuple(_DEFAULT_INSTRUMENT))
    check_choice("revenue_rule", revenue_rule, REVENUE_RULES)
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    if all(x is None for x in (responses, events, tickets)):
        raise ParameterError(
            "team_ledger needs at least one of responses, events or tickets (the rows "
            "that say whom each team served)."
        )
    try:
        window = pd.Timedelta(revenue_window)
    except (TypeError, ValueError):
        raise ParameterError(
            f"revenue_window must be a duration such as '30D'; got {revenue_window!r}."
        ) from None
    cut: pd.Timestamp | None = None
    if as_of is not None:
        try:
            cut = pd.Timestamp(as_of)
        except (TypeError, ValueError):
            raise ParameterError(f"as_of must be a date; got {as_of!r}.") from None
        if cut.tz is not None:
            cut = cut.tz_convert("UTC").tz_localize(None)
    spells = check_teams(teams)

    parts: list[pd.DataFrame] = []
    counts: dict[str, dict[str, Any]] = {}
    answers = None
    if responses is not None:
        inst = instrument or _DEFAULT_INSTRUMENT[measure]
        r, counts["responses"] = _rows(
            "responses",
            responses,
            time="timestamp",
            teams=spells,
            as_of=cut,
            extra=("instrument", "item", "score"),
        )
        parts.append(r)
        pick = r["instrument"].astype(object).to_numpy() == inst
        if item is not None:
            pick &= r["item"].astype(object).to_numpy() == item
        answers = r[pick]
    if events is not None:
        e, counts["events"] = _rows("events", events, time="timestamp", teams=spells, as_of=cut)
        parts.append(e)
    tk = None
    if tickets is not None:
        raw_tk = as_pandas(tickets, table="tickets")
        t, counts["tickets"] = _rows("tickets", raw_tk, time="opened", teams=spells, as_of=cut)
        parts.append(t)
        opened = _naive(raw_tk["opened"], table="tickets", column="opened").to_numpy()
        owner = owner_at(spells, raw_tk["touchpoint"].to_numpy(dtype=object), opened)
        keep = ~pd.isna(owner)
        if cut is not None:
            keep &= ~(opened > np.datetime64(cut))
        tk = raw_tk.loc[keep].drop(columns=["team"], errors="ignore").copy()
        tk["team"] = owner[keep]
        tk["period"] = _periods(opened[keep], period)
    if check_touchpoints:
        seen: set[str] = set().union(*[c["seen"] for c in counts.values()])
        check_teams(spells, touchpoints=seen)
    rows = pd.concat(parts, ignore_index=True)
    if len(rows) == 0:
        raise InputTableError(
            "team_ledger: no row of the inputs falls at a touchpoint while a team owns it "
            "(no period has data). Check the teams' valid_from/valid_to against the "
            "exhaust's dates and the touchpoint names.",
            table="teams",
            failure_cases=_cases([("valid_from", "periods_with_data", None, None)]),
        )
    rows["period"] = _periods(rows["t"].to_numpy(), period)
    # Persons as integer codes (-1: no person), roles and teams as categories: every
    # count below groups small integers, not text.
    person_code, person_names = pd.factorize(rows["person_id"], use_na_sentinel=True)
    rows["person_id"] = person_code
    rows["role"] = rows["role"].astype("category")
    rows["team"] = pd.Categorical(rows["team"].to_numpy(dtype=object))
    if "hybrid_type" in rows.columns:
        rows["hybrid_type"] = rows["hybrid_type"].astype("category")
    persons_index = pd.Index(person_names)
    given = sorted(counts)
    if served_from is None:
        contact = [x for x in ("events", "tickets") if x in given] or given
    else:
        contact = [str(x) for x in served_from]
        for x in contact:
            check_choice("served_from", x, given)

    # The ledger's rows: each team in every period from the first to the last period
    # with data in which it owned a touchpoint for at least part of the period.
    attributed = (person_code >= 0) & rows["source"].isin(contact).to_numpy()
    credited, rev_meta = _credit(
        transactions, rows[attributed], persons_index, revenue_rule, window, period, cut
    )
    p_lo, p_hi = rows["period"].min(), rows["period"].max()
    if credited is not None and len(credited):
        # A transaction credited after the last contact period still gets its row.
        p_hi = max(p_hi, credited["period"].max())
    all_p = pd.period_range(p_lo, p_hi, freq=period)
    starts = all_p.start_time.to_numpy()
    ends = all_p.end_time.to_numpy()
    key_parts = []
    spell_team = spells["team"].to_numpy(dtype=object)
    spell_lo = spells["valid_from"].to_numpy()
    spell_hi = spells["valid_to"].to_numpy()
    spell_hi = np.where(np.isnat(spell_hi), _FAR, spell_hi)
    for k in range(len(spells)):  # one pass per ownership spell (a short table)
        on = (starts < spell_hi[k]) & (ends >= spell_lo[k])
        key_parts.append(pd.DataFrame({"team": spell_team[k], "period": all_p[on]}))
    if credited is not None and len(credited):
        # Revenue credited by last touch to a team in a period after it stopped
        # owning the touchpoint (within the window) keeps its row.
        key_parts.append(
            pd.DataFrame(
                {
                    "team": credited["team"].to_numpy(dtype=object),
                    "period": pd.PeriodIndex(credited["period"]),
                }
            )
        )
    keys = (
        pd.concat(key_parts, ignore_index=True)
        .drop_duplicates()
        .sort_values(["team", "period"], kind="stable")
        .reset_index(drop=True)
    )
    keys["team"] = keys["team"].astype("str")
    keys["period"] = keys["period"].astype(pd.PeriodDtype(period))

    in_contact = rows["source"].isin(contact).to_numpy()
    unattributed = (
        rows[in_contact & (person_code < 0)].groupby(["team", "period"], observed=True).size()
    )
    served = rows[attributed].drop_duplicates(["team", "period", "person_id", "role"])
    persons = served.drop_duplicates(["team", "period", "person_id"])
    n_served = persons.groupby(["team", "period"], observed=True).size()
    # Repeat: served by this team in an earlier period (first period per team-person).
    first = persons.groupby(["team", "person_id"], observed=True)["period"].transform("min")
    repeat = persons[persons["period"] > first].groupby(["team", "period"], observed=True).size()

    def on_keys(series: pd.Series, fill: float = 0) -> np.ndarray:
        idx = pd.MultiIndex.from_frame(keys[["team", "period"]])
        return series.reindex(idx).fillna(fill).to_numpy()

    n = on_keys(n_served).astype(np.int64)
    rep = on_keys(repeat).astype(np.int64)
    extra: dict[str, Any] = {}

    exp_cols = {
        "estimate": np.full(len(keys), np.nan),
        "se": np.full(len(keys), np.nan),
        "ci_low": np.full(len(keys), np.nan),
        "ci_high": np.full(len(keys), np.nan),
    }
    n_answers = np.zeros(len(keys), np.int64)
    missing_score = np.zeros(len(keys), np.int64)
    change = {c: np.full(len(keys), np.nan) for c in ("", "_se", "_ci_low", "_ci_high", "_p")}
    change_test = None
    if answers is not None and len(answers):
        ans = pd.DataFrame(
            {
                "team": answers["team"].to_numpy(dtype=object),
                "period": _periods(answers["t"].to_numpy(), period),
                "score": pd.to_numeric(answers["score"], errors="coerce").to_numpy(dtype=float),
            }
        )
        ans["period"] = ans["period"].astype(pd.PeriodDtype(period))
        exp = _experience(ans, measure, method, scale, box, confidence, min_n)
        merged = keys.merge(exp, on=["team", "period"], how="left")
        for c in exp_cols:
            exp_cols[c] = merged[c].to_numpy(dtype=float)
        n_answers = merged["n"].fillna(0).to_numpy(dtype=np.int64)
        missing_score = merged["n_excluded_missing"].fillna(0).to_numpy(dtype=np.int64)
        shown = ~merged["suppressed"].fillna(False).to_numpy(dtype=bool)
        change, change_test = _changes(
            ans, keys, exp_cols, n_answers, shown, measure, method, confidence
        )
        # A period whose experience is hidden shows no count of answers either (not a
        # false 0); a period without answers shows 0.
        hidden = merged["suppressed"].fillna(False).to_numpy(dtype=bool)
        answers_shown = pd.array(n_answers, dtype="Int64")
        answers_shown[hidden] = pd.NA
        extra["n_answers"] = answers_shown
    else:
        extra["n_answers"] = n_answers
    extra.update(_breakdown(served, keys, "role", "n_served_", min_n))
    if "hybrid_type" in served.columns:
        extra.update(_breakdown(persons, keys, "hybrid_type", "n_served_hybrid_", min_n))
    extra["repeat"] = rep
    with np.errstate(invalid="ignore", divide="ignore"):
        extra["pct_repeat"] = np.where(n > 0, 100 * rep / n, np.nan)
    extra["change"] = change[""]
    extra["change_se"] = change["_se"]
    extra["change_ci_low"] = change["_ci_low"]
    extra["change_ci_high"] = change["_ci_high"]
    extra["change_p_value"] = change["_p"]
    # Placeholders in column order; filled after suppression (below).
    extra["change_p_holm"] = np.full(len(keys), np.nan)
    extra["change_significant"] = pd.array([pd.NA] * len(keys), dtype="boolean")

    extra.update(_service(tk, keys, sla, cut, confidence, min_n))
    revenue, n_tx = _revenue(credited, keys)
    extra["revenue"] = revenue
    extra["n_transactions"] = n_tx
    if behaviour is not None:
        extra.update(_behaviour(behaviour, served, persons_index, keys, confidence, min_n))

    unowned = {k: v["unowned"] for k, v in counts.items()}
    out = grouped_result(
        keys,
        measure="team_ledger",
        n=n,
        estimate=exp_cols["estimate"],
        se=exp_cols["se"],
        ci_low=exp_cols["ci_low"],
        ci_high=exp_cols["ci_high"],
        confidence=confidence,
        method=method if measure == "nps" else _csat_method(method),
        min_n=min_n,
        extra=extra,
        excluded={
            "unattributed": on_keys(unattributed).astype(np.int64),
            "missing_score": missing_score,
        },
        meta={
            "experience": measure,
            "period": period,
            "revenue_rule": revenue_rule,
            "revenue_window": str(window) if revenue_rule == "last_touch" else None,
            "change_test": change_test,
            "multiple_comparison": "holm",
            "served_from": contact,
            "unowned": unowned,
            "no_touchpoint": {k: v["no_touchpoint"] for k, v in counts.items()},
            "after_as_of": {k: v["after_as_of"] for k, v in counts.items()},
            "as_of": None if cut is None else str(cut),
            **rev_meta,
        },
    )
    for c in out.columns:
        if c.startswith("n_served_") or c in ("n_tickets", "n_transactions"):
            out[c] = out[c].astype("Int64")
    # Holm over the family of changes shown: suppression has blanked the hidden rows'
    # p-values, so a hidden group neither enters nor moves the adjustment.
    p_shown = out["change_p_value"].to_numpy(dtype=float)
    p_holm = holm(p_shown)
    out["change_p_holm"] = p_holm
    significant = pd.Series(p_holm < 1 - confidence, dtype="boolean")
    significant[np.isnan(p_holm)] = pd.NA
    out["change_significant"] = significant.array
    return out


def _csat_method(method: str) -> str:
    return "wilson" if method in ("adjusted_wald", "wald") else method


def _experience(
    ans: pd.DataFrame,
    measure: str,
    method: str,
    scale: tuple[int, int],
    box: Sequence[int],
    confidence: float,
    min_n: int | None,
) -> pd.DataFrame:
    if measure == "nps":
        from hxmetrics.measures.nps import nps

        res = nps(
            ans, "score", by=["team", "period"], method=method, confidence=confidence, min_n=min_n
        )
    else:
        from hxmetrics.measures.satisfaction import csat

        res = csat(
            ans,
            "score",
            scale=scale,
            box=box,
            by=["team", "period"],
            method=_csat_method(method),
            confidence=confidence,
            min_n=min_n,
        )
    res = res.copy()
    res["team"] = res["team"].astype(object)
    res["period"] = res["period"].astype(ans["period"].dtype)
    cols = ["team", "period", "n", "estimate", "se", "ci_low", "ci_high", "suppressed"]
    missing = [c for c in res.columns if c.startswith("n_excluded_")]
    res["n_excluded_missing"] = res[missing].sum(axis=1) if missing else 0
    out = res[[*cols, "n_excluded_missing"]].copy()
    out["team"] = out["team"].astype("str")
    return out


def _changes(
    ans: pd.DataFrame,
    keys: pd.DataFrame,
    exp: Mapping[str, np.ndarray],
    n_answers: np.ndarray,
    shown: np.ndarray,
    measure: str,
    method: str,
    confidence: float,
) -> tuple[dict[str, np.ndarray], str]:
    """Experience minus the previous period's, per ledger row, with its test."""
    size = len(keys)
    out = {c: np.full(size, np.nan) for c in ("", "_se", "_ci_low", "_ci_high", "_p")}
    team = keys["team"].to_numpy(dtype=object)
    per = keys["period"].to_numpy()
    prev = np.r_[-1, np.arange(size - 1)]
    # The previous period of the same team, when it is the row just before.
    has_prev = (
        np.r_[False, (team[1:] == team[:-1])]
        & np.r_[False, np.array([a == b + 1 for a, b in zip(per[1:], per[:-1], strict=True)], bool)]
    )
    ok = has_prev & (n_answers > 0) & shown
    ok[1:] &= (n_answers[:-1] > 0) & shown[:-1]
    if measure == "nps":
        from hxmetrics.measures.nps import nps_test

        test_method = method if method in ("adjusted_wald", "wald") else "adjusted_wald"
        desc = f"nps_test(current, previous, method={test_method!r}): two-sample z"
        groups = ans.dropna(subset=["score"]).groupby(["team", "period"], observed=True)["score"]
        scores = {k: v.to_numpy() for k, v in groups}
        # One test per ledger row (a loop over groups, not over rows of data).
        for i in np.flatnonzero(ok):
            a = scores[(team[i], per[i])]
            b = scores[(team[prev[i]], per[prev[i]])]
            r = nps_test(a, b, method=test_method, confidence=confidence).iloc[0]
            out[""][i] = r["difference"]
            out["_se"][i] = r["se"]
            out["_ci_low"][i] = r["ci_low"]
            out["_ci_high"][i] = r["ci_high"]
            out["_p"][i] = r["p_value"]
        return out, desc
    idx = np.flatnonzero(ok)
    j = prev[idx]
    diff = exp["estimate"][idx] - exp["estimate"][j]
    se = np.sqrt(exp["se"][idx] ** 2 + exp["se"][j] ** 2)
    z = z_critical(confidence)
    _, p = z_test(diff, se)
    out[""][idx] = diff
    out["_se"][idx] = se
    out["_ci_low"][idx] = diff - z * se
    out["_ci_high"][idx] = diff + z * se
    out["_p"][idx] = p
    return out, "Wald z on two independent CSAT estimates: (a - b) / sqrt(se_a^2 + se_b^2)"


def _service(
    tk: pd.DataFrame | None,
    keys: pd.DataFrame,
    sla: Any,
    cut: pd.Timestamp | None,
    confidence: float,
    min_n: int | None,
) -> dict[str, Any]:
    size = len(keys)
    nan = np.full(size, np.nan)
    out: dict[str, Any] = {
        "n_tickets": np.zeros(size, np.int64),
        "median_first_response_hours": nan.copy(),
        "median_resolution_hours": nan.copy(),
    }
    if sla is not None:
        out["pct_sla_met"] = nan.copy()
    if tk is None or len(tk) == 0:
        return out
    from hxmetrics.measures.responsiveness import responsiveness

    # Only the ticket columns the measure reads: the attribution columns stay out.
    cols = [
        c
        for c in ("ticket_id", "opened", "first_response", "closed", "reopened", "severity")
        if c in tk.columns
    ]
    frame = tk[[*cols, "team", "period"]].copy()
    frame["team"] = frame["team"].astype("str")
    by = ["team", "period"]
    first = responsiveness(
        frame,
        clock="first_response",
        by=by,
        as_of=cut,
        sla=sla,
        unit="h",
        confidence=confidence,
        min_n=min_n,
    )
    closed = responsiveness(
        frame, clock="closed", by=by, as_of=cut, unit="h", confidence=confidence, min_n=min_n
    )
    for res, name in ((first, "median_first_response_hours"), (closed, "median_resolution_hours")):
        r = res.copy()
        r["team"] = r["team"].astype("str")
        r["period"] = r["period"].astype(keys["period"].dtype)
        merged = keys.merge(r, on=["team", "period"], how="left")
        out[name] = merged["estimate"].to_numpy(dtype=float)
        if res is first:
            out["n_tickets"] = merged["n"].fillna(0).to_numpy(dtype=np.int64)
            if sla is not None:
                out["pct_sla_met"] = merged["pct_sla_met"].to_numpy(dtype=float)
    return out


def _behaviour(
    profile: Any,
    served: pd.DataFrame,
    persons: pd.Index,
    keys: pd.DataFrame,
    confidence: float,
    min_n: int | None,
) -> dict[str, np.ndarray]:
    """Mean churn signal of the persons served per ledger row (behaviour_summary)."""
    from hxmetrics.measures.behaviour import behaviour_summary

    prof = as_pandas(profile, table="profile")
    check_columns(prof.columns, ["person_id", "role"], table="profile")
    signals = [c for c in ("p_alive", "leave_hazard") if c in prof.columns]
    out: dict[str, np.ndarray] = {f"mean_{c}": np.full(len(keys), np.nan) for c in signals}
    if not signals:
        return out
    prof = prof[["person_id", "role", *signals]].assign(
        person_id=persons.get_indexer(pd.Index(prof["person_id"].astype("str"))),
        role=prof["role"].astype("str"),
    )
    who = served[["team", "period", "person_id", "role"]].drop_duplicates()
    who = who.assign(team=who["team"].astype("str"), role=who["role"].astype("str"))
    joined = who.merge(prof, on=["person_id", "role"], how="inner")
    if joined.empty:
        return out
    summary = behaviour_summary(
        joined,
        by=["team", "period"],
        signals=signals,
        statistics=["mean"],
        confidence=confidence,
        min_n=min_n,
    )
    for c in signals:
        part = summary[summary["measure"] == c][["team", "period", "estimate"]].copy()
        part["team"] = part["team"].astype("str")
        part["period"] = part["period"].astype(keys["period"].dtype)
        merged = keys.merge(part, on=["team", "period"], how="left")
        out[f"mean_{c}"] = merged["estimate"].to_numpy(dtype=float)
    return out


def _credit(
    transactions: Any,
    contacts: pd.DataFrame,
    persons: pd.Index,
    rule: str,
    window: pd.Timedelta,
    period: str,
    cut: pd.Timestamp | None,
) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Transactions credited to teams: ``tx``, ``team``, ``period``, ``share``."""
    if transactions is None:
        return None, {}
    tx = as_pandas(transactions, table="transactions")
    check_columns(tx.columns, ["person_id", "timestamp", "amount"], table="transactions")
    t = _naive(tx["timestamp"], table="transactions", column="timestamp").to_numpy()
    amount = pd.to_numeric(tx["amount"], errors="coerce").to_numpy(dtype=float)
    not_number = np.isnan(amount) & tx["amount"].notna().to_numpy()
    if not_number.any():
        pos = np.flatnonzero(not_number)[:5].tolist()
        raise InputTableError(
            f"transactions: column 'amount' must hold numbers; rows {pos} (positions) do not.",
            table="transactions",
            failure_cases=_cases([("amount", "numeric", None, p) for p in pos]),
        )
    # Transactions' persons in the contacts' codes (-1: never served, or no person).
    person = persons.get_indexer(pd.Index(tx["person_id"].astype("str")))
    no_time, no_amount = np.isnat(t), np.isnan(amount)
    keep = ~no_time & ~no_amount
    after = np.zeros(len(tx), dtype=bool)
    if cut is not None:
        after = keep & (t > np.datetime64(cut))
        keep &= ~after
    n_total, total = int(keep.sum()), float(amount[keep].sum())
    left = pd.DataFrame(
        {"tx": np.arange(n_total), "person_id": person[keep], "t": t[keep], "amount": amount[keep]}
    )
    left = left[left["person_id"] >= 0]
    contacts = contacts.assign(team=contacts["team"].astype("str"))
    if rule == "last_touch":
        right = contacts[["person_id", "t", "team"]].sort_values("t", kind="stable")
        joined = pd.merge_asof(
            left.sort_values("t", kind="stable"),
            right,
            on="t",
            by="person_id",
            direction="backward",
            tolerance=window,
        )
        credited = joined[joined["team"].notna()].copy()
        credited["period"] = _periods(credited["t"].to_numpy(), period)
        credited["share"] = credited["amount"]
    else:
        left = left.assign(period=_periods(left["t"].to_numpy(), period))
        who = contacts[["team", "period", "person_id"]].drop_duplicates()
        credited = left.merge(who, on=["person_id", "period"], how="inner")
        k = credited.groupby("tx")["team"].transform("size")
        # Equal shares among the teams that served the person in the period: each
        # transaction sums to one whole in total.
        credited["share"] = credited["amount"] / k
    credited["period"] = credited["period"].astype(pd.PeriodDtype(period))
    meta = {
        "revenue_unattributed": total - float(credited["share"].sum()),
        "n_transactions_unattributed": n_total - int(credited["tx"].nunique()),
        # Rows that cannot be credited, counted (never silently dropped).
        "n_transactions_excluded": {
            "missing_timestamp": int(no_time.sum()),
            "missing_amount": int((~no_time & no_amount).sum()),
            "after_as_of": int(after.sum()),
        },
    }
    return credited[["tx", "team", "period", "share"]], meta


def _revenue(credited: pd.DataFrame | None, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Revenue and transactions credited per ledger row (NaN revenue without transactions)."""
    size = len(keys)
    if credited is None:
        return np.full(size, np.nan), np.zeros(size, np.int64)
    per = credited.groupby(["team", "period"], observed=True).agg(
        share=("share", "sum"), count=("tx", "size")
    )
    idx = pd.MultiIndex.from_frame(keys[["team", "period"]])
    revenue = per["share"].reindex(idx).fillna(0.0).to_numpy(dtype=float)
    n_tx = per["count"].reindex(idx).fillna(0).to_numpy(dtype=np.int64)
    return revenue, n_tx
