"""Touchpoints: reach, contacts per person, scores given there, and detractor lift.

Inputs are *attributed* frames (:func:`hxmetrics.stakeholders.attribute` adds
``person_id`` and ``role`` to any exhaust table):

* ``events``: ``person_id``, ``timestamp`` (datetime64), ``touchpoint`` and the other
  ``by`` columns (``role`` by default);
* ``responses`` (optional): ``person_id``, ``timestamp``, ``item``, ``score`` and the
  other ``by`` columns; ``touchpoint`` for the score levels by touchpoint.

Any frame narwhals reads is converted with :func:`hxmetrics.tables.as_pandas` at the
door; the computation is numpy on integer codes (sorts, ``bincount``), no loop per
person or per row. With ``min_n``, reach, contacts and lift pass one disclosure layer
together (:class:`hxmetrics.privacy.Disclosure`): a touchpoint hidden in one is hidden
in all three.

**Reach** (percent, 0-100) of touchpoint ``k`` among the persons of a group (a role) in
a period: persons with at least one contact at ``k`` in the period, divided by the
persons *active* in the period: those with at least one event of any touchpoint (or
none) in the group and period. The denominator is stated in ``n``. Wilson interval
(Wilson 1927).

**Contacts per person**: among the persons reached, the mean number of contacts at the
touchpoint in the period, with a t interval over persons (contact counts are skewed;
the t interval relies on the number of persons, which ``n`` shows).

**Scores**: NPS, CSAT and CES of the answers that carry a touchpoint
(:func:`~hxmetrics.measures.nps`, :func:`~hxmetrics.measures.csat`,
:func:`~hxmetrics.measures.ces`, grouped by touchpoint and the ``by`` columns).

**Detractor lift** of touchpoint ``k``: among relationship answers (the NPS item),
``P(detractor | the person touched k within window before answering) /
P(detractor | not)``: a risk ratio with the log (Katz) interval, ``exp(log RR ± z se)``,
``se² = 1/a - 1/n1 + 1/c - 1/n0`` (Katz, Baptista, Azen & Pike 1978; the interval of
statsmodels' ``Table2x2.riskratio_confint``). A contact at the answer's exact time does
not count (it is not before). It is an association, not an effect: people who expect to
complain may seek out a help desk.

References
----------
Katz, D., Baptista, J., Azen, S. P. & Pike, M. C. (1978). Obtaining confidence
intervals for the risk ratio in cohort studies. Biometrics 34(3), 469-474.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
inference. JASA 22, 209-212.
Reichheld, F. F. (2003). The one number you need to grow. HBR (detractors: 0-6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._inference import (
    check_confidence,
    t_interval,
    wilson_interval,
    z_critical,
)
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.journeys import (
    _check_gap,
    _codes,
    _columns,
    _distinct,
    _groups,
    _require,
    _sort_order,
    _times,
)
from hxmetrics.privacy import Disclosure, check_group_columns, check_min_n, shown_totals
from hxmetrics.tables import as_pandas

__all__ = ["DEFAULT_ITEMS", "TouchpointSummary", "touchpoint_summary"]

#: The item of each score measure in ``responses`` (the simulator's and the sample's).
DEFAULT_ITEMS: dict[str, str] = {"nps": "ltr", "csat": "overall", "ces": "effort"}
_TP = "touchpoint"
_PERIOD = "period"


@dataclass(frozen=True, repr=False, eq=False)
class TouchpointSummary(DataclassDisplay):
    """What happens at each touchpoint: reach, contacts, scores and detractor lift.

    Every frame is a grouped result (``measure``, ``period`` with ``period=``, the
    ``by`` columns, ``n``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ...,
    ``suppressed``), suppressed with ``min_n``.

    Attributes
    ----------
    reach : pandas.DataFrame
        ``touchpoint_reach``: ``estimate`` percent (0-100) of the group's active
        persons who touched the touchpoint (Wilson interval); ``n`` the active
        persons (the denominator: persons with any event in the group and period),
        ``n_reached``.
    contacts : pandas.DataFrame
        ``contacts_per_person``: ``estimate`` mean contacts per person reached
        (t interval over persons); ``n`` persons reached, ``n_contacts``.
    scores : dict of str to pandas.DataFrame
        ``"nps"``, ``"csat"``, ``"ces"``: the measures' own results by touchpoint
        and group, for the items that have answers with a touchpoint.
    lift : pandas.DataFrame or None
        ``detractor_lift``: ``estimate`` the risk ratio, ``se`` its standard error
        (delta method, ``RR * se_log``), the Katz interval (``se_log``: the standard
        error of ``log RR`` it uses); ``n`` answers; ``n_exposed`` (answers whose person touched
        the touchpoint within ``window`` before), ``n_exposed_detractors``,
        ``pct_detractors_exposed``, ``n_unexposed``, ``n_unexposed_detractors``,
        ``pct_detractors_unexposed``; ``n_excluded_*``. A row is hidden also when
        either arm has fewer than ``min_n`` answers. None without relationship answers.
    meta : dict
        ``window``, ``period``, ``by``, ``items``, ``min_n`` and the rows left out.
    """

    reach: pd.DataFrame
    contacts: pd.DataFrame
    scores: dict[str, pd.DataFrame]
    lift: pd.DataFrame | None
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per touchpoint, group (and period): reach, contacts and lift side by side.

        Columns: the group columns, ``n_active``, ``pct_reach``, ``contacts_per_person``
        and, with answers, ``detractor_lift`` with ``lift_ci_low``/``lift_ci_high``.
        Hidden numbers stay hidden.
        """
        keys = list(self.reach.attrs["hxmetrics"]["by"])
        out = self.reach[[*keys, "n", "estimate"]].rename(
            columns={"n": "n_active", "estimate": "pct_reach"}
        )
        contacts = self.contacts[[*keys, "estimate"]].rename(
            columns={"estimate": "contacts_per_person"}
        )
        out = out.merge(contacts, on=keys, how="left")
        if self.lift is not None:
            lift = self.lift[[*keys, "estimate", "ci_low", "ci_high"]].rename(
                columns={
                    "estimate": "detractor_lift",
                    "ci_low": "lift_ci_low",
                    "ci_high": "lift_ci_high",
                }
            )
            out = out.merge(lift, on=keys, how="left")
        return out

    def plot(self, *, ax: Any = None, kind: str = "lift") -> Any:
        """Bars with intervals per touchpoint: ``kind="lift"`` (log scale) or ``"reach"``.

        Returns the matplotlib Axes.
        """
        import matplotlib.pyplot as plt

        if kind not in ("lift", "reach"):
            raise ParameterError(f"kind must be 'lift' or 'reach'; got {kind!r}.")
        frame = self.lift if kind == "lift" else self.reach
        if frame is None:
            raise ParameterError("this summary has no detractor lift (no answers were given).")
        shown = frame.loc[~frame["suppressed"].to_numpy(dtype=bool)]
        keys = [c for c in shown.attrs.get("hxmetrics", {}).get("by", []) if c != _TP]
        label = shown[_TP].astype(str)
        for c in keys:
            label = label + " | " + shown[c].astype(str)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.35 * len(shown) + 1.2))
        y = np.arange(len(shown))
        est = shown["estimate"].to_numpy(dtype=float)
        low = est - shown["ci_low"].to_numpy(dtype=float)
        high = shown["ci_high"].to_numpy(dtype=float) - est
        ax.errorbar(est, y, xerr=np.vstack([low, high]), fmt="o", capsize=3)
        ax.set_yticks(y, labels=list(label))
        if kind == "lift":
            ax.set_xscale("log")
            ax.axvline(1.0, color="grey", lw=0.8)
            ax.set_xlabel("P(detractor | touched) / P(detractor | not)")
        else:
            ax.set_xlabel("reach (% of active persons)")
        ax.set_title(f"touchpoint {kind}")
        return ax


# --------------------------------------------------------------------------- helpers


def _period(frame: pd.DataFrame, time: str, freq: str | None, table: str) -> pd.Series | None:
    if freq is None:
        return None
    raw = frame[time]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_convert("UTC").dt.tz_localize(None)
    return raw.dt.to_period(freq)


def _check_period(period: Any) -> str | None:
    if period is None:
        return None
    try:
        pd.Period("2020-01-01", freq=period)
    except (TypeError, ValueError):
        raise ParameterError(
            f"period must be a pandas period frequency such as 'M', 'Q' or 'Y'; got {period!r}."
        ) from None
    return str(period)


def _keys(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    return _groups(frame, columns)


def _frame_keys(
    keys: pd.DataFrame, cols: list[str], codes: np.ndarray, tps: pd.Index, tp_codes: np.ndarray
) -> pd.DataFrame:
    out = pd.DataFrame({c: keys[c].to_numpy()[codes] for c in cols})
    for c in cols:
        out[c] = out[c].astype(keys[c].dtype)
    out[_TP] = pd.array(np.asarray(tps, dtype=object)[tp_codes], dtype="str")
    return out


def _row_order(key_frame: pd.DataFrame) -> np.ndarray:
    """The order that sorts result rows by their group columns, left to right."""
    if key_frame.shape[1] == 0 or len(key_frame) == 0:
        return np.arange(len(key_frame))
    codes = [
        pd.factorize(key_frame[c], sort=True, use_na_sentinel=False)[0].astype(np.int64)
        for c in key_frame.columns
    ]
    return _sort_order(*codes)


def _once(per_group: np.ndarray, row_group: np.ndarray) -> np.ndarray:
    """A group's count on the group's first row, 0 on its other rows."""
    first = np.zeros(len(row_group), dtype=bool)
    first[np.unique(row_group, return_index=True)[1]] = True
    return np.where(first, per_group[row_group], 0)


def _with_min_n(result: pd.DataFrame, min_n: int | None) -> pd.DataFrame:
    meta = dict(result.attrs.get("hxmetrics", {}))
    meta["min_n"] = min_n
    result.attrs = {**result.attrs, "hxmetrics": meta}
    return shown_totals(result)


def _hide_small_arms(frame: pd.DataFrame, mask: np.ndarray, by: list[str]) -> pd.DataFrame:
    if not mask.any():
        return frame
    frame = frame.copy()
    for c in frame.columns:
        dtype = frame[c].dtype
        if c in by or c == "suppressed" or not pd.api.types.is_numeric_dtype(dtype):
            continue
        if pd.api.types.is_bool_dtype(dtype):
            continue
        if pd.api.types.is_integer_dtype(dtype):
            frame[c] = frame[c].astype("Int64")
            frame.loc[mask, c] = pd.NA
        else:
            frame[c] = frame[c].astype(float)
            frame.loc[mask, c] = np.nan
    frame["suppressed"] = frame["suppressed"].to_numpy(dtype=bool) | mask
    return frame


# --------------------------------------------------------------------------- main


def touchpoint_summary(
    events: Any,
    responses: Any = None,
    *,
    by: str | Sequence[str] = ("touchpoint", "role"),
    period: str | None = None,
    window: Any = "7D",
    items: Mapping[str, str] | None = None,
    csat_scale: tuple[int, int] = (1, 5),
    csat_box: Sequence[int] = (4, 5),
    ces_scale: tuple[int, int] = (1, 7),
    ces_polarity: str = "higher_is_easier",
    person: str = "person_id",
    time: str = "timestamp",
    confidence: float = 0.95,
    min_n: int | None = None,
) -> TouchpointSummary:
    """Reach, contacts per person, scores and detractor lift of every touchpoint.

    Parameters
    ----------
    events : DataFrame
        Attributed events (see the module notes): ``person``, ``time``,
        ``touchpoint`` and the other ``by`` columns.
    responses : DataFrame, optional
        Attributed answers: ``person``, ``time``, ``item``, ``score``, the other
        ``by`` columns and, for scores by touchpoint, ``touchpoint``.
    by : str or sequence of str, default ("touchpoint", "role")
        Group columns; must include ``"touchpoint"``. The others (``role``,
        ``hybrid_type``, ...) split the persons: reach's denominator is the persons
        active in the group.
    period : str, optional
        Pandas period frequency (``"M"``, ``"Q"``, ``"Y"``): a ``period`` column
        (of the event's or the answer's time) leads the groups. None: the whole span.
    window : duration, default "7D"
        How long before an answer a contact counts for the detractor lift.
    items : mapping, optional
        Item of each score measure (default :data:`DEFAULT_ITEMS`: ``nps`` ->
        ``"ltr"``, ``csat`` -> ``"overall"``, ``ces`` -> ``"effort"``); the NPS item's
        answers are also those of the lift.
    csat_scale, csat_box, ces_scale, ces_polarity
        Passed to :func:`~hxmetrics.measures.csat` and :func:`~hxmetrics.measures.ces`.
    person, time : str
        Column names (the same in both tables).
    confidence : float, default 0.95
    min_n : int, optional
        Smallest group shown; None as for the answer measures. The group is a role (and
        period): its active persons (reach) or answers (lift), judged with
        complementary groups, all its touchpoint rows hidden with it; contacts are
        hidden below ``min_n`` persons reached (with complementary touchpoints of the
        group), a lift row below ``min_n`` answers in either arm.

    Returns
    -------
    TouchpointSummary
        ``reach``, ``contacts``, ``scores``, ``lift`` (see :class:`TouchpointSummary`),
        ``summary()`` and ``plot(ax=)``.

    Raises
    ------
    InputTableError
        A missing column (named, with its table), a time column that is not
        datetime64, no event with a person and a time.
    ParameterError
        ``by`` without ``"touchpoint"`` or naming an identifier, a bad ``period``,
        ``window`` not a positive duration.

    References
    ----------
    Katz, D. et al. (1978). Biometrics 34(3), 469-474 (the interval of the lift).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({
    ...     "person_id": ["a", "a", "b", "c", "d"],
    ...     "role": ["customer"] * 5,
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01",
    ...                                  "2025-01-03", "2025-01-03"]),
    ...     "touchpoint": ["app", "app", "app", "store", "web"]})
    >>> s = touchpoint_summary(ev)
    >>> s.reach[["touchpoint", "n", "n_reached", "estimate"]]
      touchpoint  n  n_reached  estimate
    0        app  4          2      50.0
    1      store  4          1      25.0
    2        web  4          1      25.0
    >>> float(s.contacts["estimate"].iloc[0])
    1.5
    """
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    freq = _check_period(period)
    window_ns = _check_gap(window, "window")
    cols = _columns(by, "by")
    if _TP not in cols:
        raise ParameterError(
            f"by must include 'touchpoint' (the summary is per touchpoint); got {cols}."
        )
    check_group_columns(cols)
    others = [c for c in cols if c != _TP]
    names = dict(DEFAULT_ITEMS if items is None else items)
    unknown = sorted(set(names) - set(DEFAULT_ITEMS))
    if unknown:
        raise ParameterError(f"items maps the measures nps, csat, ces to items; got {unknown}.")

    ev = as_pandas(events, table="events")
    _require(ev.columns, [person, time, *cols], table="events")
    t_ev, no_time = _times(ev, time, "events")
    period_ev = _period(ev, time, freq, "events")
    group_frame = ev[others].copy()
    if period_ev is not None:
        group_frame.insert(0, _PERIOD, period_ev)
    gcols = [_PERIOD, *others] if freq else others

    answers = None
    if responses is not None:
        answers = as_pandas(responses, table="responses")
        _require(answers.columns, [person, time, "item", "score", *others], table="responses")
        _times(answers, time, "responses")

    # Persons: one code space for both tables.
    person_values = ev[person]
    if answers is not None:
        person_values = pd.concat([ev[person], answers[person]], ignore_index=True)
    p_all, persons = _codes(person_values)
    p_ev = p_all[: len(ev)]
    n_persons = max(len(persons), 1)

    keep = (p_ev >= 0) & ~no_time
    if not keep.any():
        raise InputTableError(
            f"table 'events': no row has a {person!r} and a {time!r}: no touchpoint has data"
            + (f" in any period ({freq})." if freq else "."),
            table="events",
            failure_cases=pd.DataFrame(
                {
                    "column": [person],
                    "check": ["not_empty"],
                    "failure_case": [None],
                    "index": [None],
                }
            ),
        )
    g_all, keys = _keys(group_frame, gcols)
    tp_all, tps = _codes(ev[_TP])
    k = max(len(tps), 1)
    n_g = len(keys)
    excluded_ev = {
        "missing_person": np.bincount(g_all[p_ev < 0], minlength=n_g),
        "missing_time": np.bincount(g_all[(p_ev >= 0) & no_time], minlength=n_g),
    }
    g, p, tp = g_all[keep], p_ev[keep], tp_all[keep]

    # Active persons per group; reached persons and contacts per (group, touchpoint).
    active = np.bincount(_distinct(g * np.int64(n_persons) + p)[0] // n_persons, minlength=n_g)
    has_tp = tp >= 0
    cell = g[has_tp] * np.int64(k) + tp[has_tp]
    pair, per_person = _distinct(cell * np.int64(n_persons) + p[has_tp])
    pc = pair // n_persons
    reached = np.bincount(pc, minlength=n_g * k)
    contacts = np.bincount(pc, weights=per_person, minlength=n_g * k)
    contacts2 = np.bincount(pc, weights=per_person.astype(float) ** 2, minlength=n_g * k)
    gi, ki = np.divmod(np.flatnonzero(reached > 0), k)
    rows = gi * k + ki
    key_frame = _frame_keys(keys, gcols, gi, tps, ki)
    key_frame = key_frame[[c for c in [_PERIOD, *cols] if c in key_frame.columns]]
    # Rows sorted by the group columns in their order (touchpoint first by default).
    sort = _row_order(key_frame)
    gi, ki, rows = gi[sort], ki[sort], rows[sort]
    key_frame = key_frame.iloc[sort].reset_index(drop=True)
    n_active = active[gi]
    share = reached[rows] / n_active
    z = z_critical(confidence)
    low, high = wilson_interval(share, n_active, z)
    # Exclusions are per group, not per touchpoint: counted once, on the group's first row.
    excl = {r: _once(v, gi) for r, v in excluded_ev.items()}
    reach = grouped_result(
        key_frame,
        measure="touchpoint_reach",
        n=n_active,
        estimate=100 * share,
        se=100 * np.sqrt(share * (1 - share) / n_active),
        ci_low=100 * low,
        ci_high=100 * high,
        confidence=confidence,
        method="wilson",
        min_n=None,
        extra={"n_reached": reached[rows]},
        excluded=excl,
        meta={
            "bounds": (0.0, 100.0),
            "denominator": "persons with at least one event in the group and period",
            "n_events_without_touchpoint": int((~has_tp).sum()),
            # Every event left out, whatever its group (one without a time has no
            # period: with period=, its group has no row to show it on).
            "n_events_excluded": {r: int(v.sum()) for r, v in excluded_ev.items()},
        },
    )
    m = reached[rows].astype(float)
    mean = contacts[rows] / m
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (contacts2[rows] - m * mean**2) / (m - 1)
        se = np.sqrt(np.clip(var, 0, None) / m)
    c_low, c_high = t_interval(mean, se, m - 1, confidence)
    contacts_frame = grouped_result(
        key_frame,
        measure="contacts_per_person",
        n=reached[rows],
        estimate=mean,
        se=se,
        ci_low=c_low,
        ci_high=c_high,
        confidence=confidence,
        method="t",
        min_n=None,
        extra={"n_contacts": contacts[rows].astype(np.int64)},
        meta={"bounds": (1.0, np.inf)},
    )

    scores: dict[str, pd.DataFrame] = {}
    lift = None
    lift_groups: dict[str, Any] | None = None
    meta: dict[str, Any] = {
        "window": pd.Timedelta(window_ns),
        "period": freq,
        "by": cols,
        "items": names,
        "min_n": min_n,
    }
    if answers is not None:
        scores = _scores(
            answers,
            names,
            cols,
            time,
            freq,
            csat_scale,
            csat_box,
            ces_scale,
            ces_polarity,
            confidence,
            min_n,
            meta,
        )
        if "nps" in names:
            lifted = _lift(
                answers,
                ev,
                keep,
                p_all[len(ev) :],
                p,
                tp,
                tps,
                t_ev[keep],
                others,
                time,
                freq,
                names["nps"],
                window_ns,
                n_persons,
                confidence,
                min_n,
                key_frame[[*others, _TP]].drop_duplicates(),
            )
            if lifted is not None:
                lift, lift_groups = lifted
    if min_n is not None:
        reach, contacts_frame, lift = _disclose(
            min_n, keys, gcols, gi, active, reach, contacts_frame, lift, lift_groups
        )
    return TouchpointSummary(reach, contacts_frame, scores, lift, meta)


def _disclose(
    min_n: int,
    keys: pd.DataFrame,
    gcols: list[str],
    gi: np.ndarray,
    active: np.ndarray,
    reach: pd.DataFrame,
    contacts: pd.DataFrame,
    lift: pd.DataFrame | None,
    lift_info: dict[str, Any] | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """One disclosure layer (:class:`hxmetrics.privacy.Disclosure`) for every table.

    Registered together: the groups (period x role: their active persons, with
    complementary groups), each group's touchpoints (the persons reached there: the
    touchpoints' contacts add up to the group's, so they are complements of one
    another), reach and contacts, whose rows both refer to the touchpoint's cell (a
    reach numerator is the contacts' ``n``), and the lift's groups (their answers).
    A touchpoint hidden in one table is hidden in all three: a lift row too, whose
    ``n_exposed`` counts the persons reached when each answers once. Every row of a
    hidden group is hidden, and a lift row when either arm has fewer than ``min_n``
    answers.
    """
    layer = Disclosure(min_n)
    groups = keys.reset_index(drop=True).copy()
    groups["n"] = active
    layer.add("groups", groups, base="active persons", by=gcols)
    reached = contacts["n"].to_numpy(dtype=np.int64, na_value=0)
    for code in np.unique(gi):  # one table per group (few), never per person
        mine = np.flatnonzero(gi == code)
        where = {c: keys[c].iloc[code] for c in gcols}
        table = pd.DataFrame({_TP: contacts[_TP].to_numpy()[mine], "n": reached[mine]})
        layer.add(f"touchpoints:{code}", table, base="reached persons", by=[_TP], where=where)
    columns = [*gcols, _TP]
    layer.add("reach", reach, base="reached persons", by=columns, n=None)
    layer.add("contacts", contacts, base="reached persons", by=columns, n=None)
    if lift_info is not None:
        answers = lift_info["keys"].reset_index(drop=True).copy()
        answers["n"] = lift_info["n"]
        layer.add("lift groups", answers, base="answers", by=list(lift_info["keys"].columns))
    hidden_groups = layer.table("groups")["suppressed"].to_numpy(dtype=bool)
    by = [c for c in reach.columns if c in (_PERIOD, *gcols, _TP)]
    reach = _with_min_n(_hide_small_arms(layer.table("reach"), hidden_groups[gi], by), min_n)
    contacts = _with_min_n(_hide_small_arms(layer.table("contacts"), hidden_groups[gi], by), min_n)
    if lift is not None and lift_info is not None:
        hidden_answers = layer.table("lift groups")["suppressed"].to_numpy(dtype=bool)
        mask = hidden_answers[lift_info["gi"]] | lift_info["small"]
        # The touchpoint's cell, where the events have it (same period and group).
        cells = contacts[columns].astype(object).assign(_hidden=contacts["suppressed"])
        found = lift[columns].astype(object).merge(cells, on=columns, how="left")["_hidden"]
        mask |= found.fillna(False).to_numpy(dtype=bool)
        lift = _with_min_n(_hide_small_arms(lift, mask, lift_info["order"]), min_n)
    return reach, contacts, lift


def _scores(
    answers: pd.DataFrame,
    names: dict[str, str],
    cols: list[str],
    time: str,
    freq: str | None,
    csat_scale: tuple[int, int],
    csat_box: Sequence[int],
    ces_scale: tuple[int, int],
    ces_polarity: str,
    confidence: float,
    min_n: int | None,
    meta: dict[str, Any],
) -> dict[str, pd.DataFrame]:
    from hxmetrics.measures.nps import nps
    from hxmetrics.measures.satisfaction import ces, csat

    out: dict[str, pd.DataFrame] = {}
    if _TP not in answers.columns:
        meta["scores"] = "responses have no 'touchpoint' column: no scores by touchpoint"
        return out
    with_tp = answers[_TP].notna().to_numpy()
    meta["n_answers_without_touchpoint"] = int((~with_tp).sum())
    group = [*([_PERIOD] if freq else []), *cols]
    for measure, item in names.items():
        rows = with_tp & (answers["item"] == item).to_numpy()
        if not rows.any():
            continue
        frame = answers.loc[rows, [*cols, "score"]].copy()
        if freq:
            frame.insert(0, _PERIOD, _period(answers.loc[rows], time, freq, "responses"))
        if measure == "nps":
            out[measure] = nps(frame, "score", by=group, confidence=confidence, min_n=min_n)
        elif measure == "csat":
            out[measure] = csat(
                frame,
                "score",
                scale=csat_scale,
                box=csat_box,
                by=group,
                confidence=confidence,
                min_n=min_n,
            )
        else:
            out[measure] = ces(
                frame,
                "score",
                scale=ces_scale,
                polarity=ces_polarity,
                by=group,
                confidence=confidence,
                min_n=min_n,
            )
    return out


def _lift(
    answers: pd.DataFrame,
    ev: pd.DataFrame,
    keep: np.ndarray,
    p_ans: np.ndarray,
    p_ev: np.ndarray,
    tp_ev: np.ndarray,
    tps: pd.Index,
    t_ev: np.ndarray,
    others: list[str],
    time: str,
    freq: str | None,
    item: str,
    window_ns: int,
    n_persons: int,
    confidence: float,
    min_n: int | None,
    touched: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    is_item = (answers["item"] == item).to_numpy()
    if not is_item.any():
        return None
    sub = answers.loc[is_item]
    t_ans, no_time = _times(sub, time, "responses")
    score = pd.to_numeric(sub["score"], errors="coerce").to_numpy(dtype=float)
    pa = p_ans[is_item]
    group_frame = sub[others].copy()
    gcols = [*([_PERIOD] if freq else []), *others]
    if freq:
        group_frame.insert(0, _PERIOD, _period(sub, time, freq, "responses"))
    g_all, keys = _keys(group_frame, gcols)
    n_g = len(keys)
    bad_person, bad_time, bad_score = pa < 0, (pa >= 0) & no_time, np.isnan(score)
    bad_score &= ~(bad_person | bad_time)
    excluded = {
        "missing_person": np.bincount(g_all[bad_person], minlength=n_g),
        "missing_time": np.bincount(g_all[bad_time], minlength=n_g),
        "missing_score": np.bincount(g_all[bad_score], minlength=n_g),
    }
    ok = ~(bad_person | bad_time | bad_score)
    ga, pa, ta = g_all[ok], pa[ok], t_ans[ok]
    det = score[ok] <= 6
    n_a = len(ga)
    k = len(tps)
    # One sort of answers and contacts by (person, time; answers first at equal time);
    # for each touchpoint, the latest earlier contact is a running maximum of positions.
    has_tp = tp_ev >= 0
    pe, te, ke = p_ev[has_tp], t_ev[has_tp], tp_ev[has_tp]
    per = np.r_[pa, pe]
    tim = np.r_[ta, te]
    kind = np.r_[np.zeros(n_a, dtype=np.int8), np.ones(len(pe), dtype=np.int8)]
    tpc = np.r_[np.full(n_a, -1), ke]
    order = _sort_order(per, tim, kind)
    s_per, s_tim, s_tp = per[order], tim[order], tpc[order]
    is_answer = kind[order] == 0
    ans_pos = np.flatnonzero(is_answer)
    ans_index = order[ans_pos]
    pos = np.arange(len(order))
    exposed = np.zeros((n_a, max(k, 1)), dtype=bool)
    for code in range(k):  # one pass per touchpoint (few), never per person
        latest = np.maximum.accumulate(np.where(s_tp == code, pos, -1))[ans_pos]
        found = latest >= 0
        lc = np.maximum(latest, 0)
        hit = found & (s_per[lc] == s_per[ans_pos]) & (s_tim[ans_pos] - s_tim[lc] <= window_ns)
        exposed[ans_index, code] = hit
    n_all = np.bincount(ga, minlength=n_g)
    d_all = np.bincount(ga[det], minlength=n_g)
    cell = ga[:, None] * k + np.arange(k)[None, :]
    n1 = np.bincount(cell[exposed[:, :k]], minlength=n_g * k)
    a = np.bincount(cell[exposed[:, :k] & det[:, None]], minlength=n_g * k)
    # Rows: every group with answers x every touchpoint its persons touch in the events.
    gi, ki = np.divmod(np.arange(n_g * k), k)
    candidates = pd.DataFrame({c: keys[c].to_numpy()[gi] for c in others})
    candidates[_TP] = np.asarray(tps, dtype=object)[ki]
    present = (
        candidates.astype(object)
        .merge(touched.astype(object).assign(_present=True), on=[*others, _TP], how="left")[
            "_present"
        ]
        .notna()
        .to_numpy()
    )
    gi, ki = gi[present], ki[present]
    rows = gi * k + ki
    n1r, ar = n1[rows], a[rows]
    n0r = n_all[gi] - n1r
    cr = d_all[gi] - ar
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p0 = ar / n1r, cr / n0r
        rr = p1 / p0
        se = np.sqrt(1 / ar - 1 / n1r + 1 / cr - 1 / n0r)
    defined = (ar > 0) & (cr > 0) & (n1r > 0) & (n0r > 0)
    rr = np.where((n1r > 0) & (n0r > 0) & (cr > 0), rr, np.nan)
    se = np.where(defined, se, np.nan)
    z = z_critical(confidence)
    low = np.where(defined, np.exp(np.log(np.where(defined, rr, 1.0)) - z * se), np.nan)
    high = np.where(defined, np.exp(np.log(np.where(defined, rr, 1.0)) + z * se), np.nan)
    key_frame = pd.DataFrame({c: keys[c].to_numpy()[gi] for c in gcols})
    for c in gcols:
        key_frame[c] = key_frame[c].astype(keys[c].dtype)
    key_frame[_TP] = pd.array(np.asarray(tps, dtype=object)[ki], dtype="str")
    order_cols = [c for c in [_PERIOD, _TP, *others] if c in key_frame.columns]
    key_frame = key_frame[order_cols]
    sort = _row_order(key_frame)
    key_frame = key_frame.iloc[sort].reset_index(drop=True)
    gi, n1r, ar, n0r, cr = gi[sort], n1r[sort], ar[sort], n0r[sort], cr[sort]
    rr, se, low, high, p1, p0 = rr[sort], se[sort], low[sort], high[sort], p1[sort], p0[sort]
    result = grouped_result(
        key_frame,
        measure="detractor_lift",
        n=n_all[gi],
        estimate=rr,
        se=rr * se,  # delta method: the standard error of RR itself
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method="katz_log",
        min_n=None,
        extra={
            "n_exposed": n1r,
            "n_exposed_detractors": ar,
            "pct_detractors_exposed": 100 * p1,
            "n_unexposed": n0r,
            "n_unexposed_detractors": cr,
            "pct_detractors_unexposed": 100 * p0,
            "se_log": se,
        },
        excluded={r: _once(v, gi) for r, v in excluded.items()},
        meta={
            "bounds": (0.0, np.inf),
            "window": pd.Timedelta(window_ns),
            "item": item,
            "detractor": "score <= 6",
            "test": None,
        },
    )
    # What the summary's one layer (_disclose) needs: the answer groups, the arms.
    groups = {
        "keys": keys,
        "n": n_all,
        "gi": gi,
        "small": (n1r < (min_n or 0)) | (n0r < (min_n or 0)),
        "order": order_cols,
    }
    return result, groups
