"""The zero-distance gap: a team's self-assessment against the experience of the people
it serves, practice by practice, where the comparison is valid.

Who belongs to which team: every answer carries the ``touchpoint`` it is about and a
``timestamp``; the ``teams`` ledger (``team``, ``touchpoint``, ``valid_from``,
``valid_to``) says which team owned that touchpoint then. A worker's self-assessment is
about the touchpoint they work at; a customer's or partner's answer about the touchpoint
where they were served. Where the answers have a ``team`` column, its non-empty values
are used as they are (a worker's team known from HR), and the ledger fills the rest.

The gap of a practice for a team is ``mean(self) - mean(served)`` of the respondents'
subscale scores (after reverse keying), each person counted once per team and role, with
Welch's interval (unequal variances, Welch-Satterthwaite degrees of freedom). A positive
gap: the team rates itself higher than the people it serves experience it.

Comparing means across roles needs the items to measure the practice in the same way for
both sides: scalar invariance (equal loadings and intercepts; Meredith 1993; Putnick &
Bornstein 2016). It is tested per practice across the roles, on every team's answers
pooled (a team's few workers cannot support a multi-group factor model, so invariance
within one team is assumed from the pooled test). Where it fails, or cannot be tested,
the practice's gaps are refused: NaN, with the reason in ``refused_reason`` and an
:class:`~hxmetrics.errors.HxWarning`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import HxWarning, InputTableError, ParameterError, check_columns
from hxmetrics.instruments._answers import as_frame
from hxmetrics.instruments._catalogue import InstrumentCatalogue
from hxmetrics.instruments._scoring import (
    LEVEL_ORDER,
    invariance_by_subscale,
    prepare,
    resolve_catalogue,
    subscale_scores,
)
from hxmetrics.measures._inference import check_confidence, t_interval, welch_df
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import WORKER_MIN_N, check_min_n, suppress
from hxmetrics.tables import as_pandas, role_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ZeroDistanceGap", "assign_teams", "zero_distance_gap"]

_TEAM = "team"


def assign_teams(
    frame: pd.DataFrame,
    teams: Any,
    *,
    touchpoint: str = "touchpoint",
    time: str = "timestamp",
    team: str | None = "team",
) -> tuple[np.ndarray, dict[str, int]]:
    """The team of each answer row (None where none), and the rows left without one.

    A non-empty ``team`` column of the answers wins; otherwise the owner of the row's
    touchpoint at its time in the ledger (``valid_from <= time < valid_to``, an empty
    ``valid_to`` still owning). Returns the team per row and counts: ``no_team`` (no
    touchpoint, or no owner then) and ``ambiguous_team`` (two owners at once: see
    ``check_teams`` in the ledger).
    """
    ledger = as_pandas(teams, table="teams").reset_index(drop=True)
    check_columns(ledger.columns, ["team", "touchpoint", "valid_from", "valid_to"], table="teams")
    n = len(frame)
    out = np.full(n, None, dtype=object)
    given = np.zeros(n, dtype=bool)
    if team is not None and team in frame.columns:
        col = frame[team].astype("string").str.strip()
        given = (col.notna() & (col != "")).to_numpy(dtype=bool)
        out[given] = col[given].to_numpy(dtype=object)
    counts = {"no_team": 0, "ambiguous_team": 0}
    need = np.flatnonzero(~given)
    if len(need):
        check_columns(frame.columns, [touchpoint, time], table="responses")
        start = pd.to_datetime(ledger["valid_from"]).to_numpy(dtype="datetime64[ns]")
        end = pd.to_datetime(ledger["valid_to"]).to_numpy(dtype="datetime64[ns]")
        bad = ~np.isnat(end) & (end <= start)
        if bad.any():
            where = np.flatnonzero(bad)[:5].tolist()
            raise InputTableError(
                f"teams: valid_to must be after valid_from; not so at row(s) {where}.",
                table="teams",
                failure_cases=pd.DataFrame(
                    {"column": "valid_to", "check": "valid_to_after_valid_from",
                     "failure_case": None, "index": where}
                ),
            )  # fmt: skip
        spells = pd.DataFrame(
            {
                "tp": ledger["touchpoint"].astype("string").to_numpy(),
                "owner": ledger["team"].astype("string").to_numpy(),
                "start": start,
                "end": end,
            }
        )
        rows = pd.DataFrame(
            {
                "pos": need,
                "tp": frame[touchpoint].astype("string").iloc[need].to_numpy(),
                "t": pd.to_datetime(frame[time].iloc[need]).to_numpy(dtype="datetime64[ns]"),
            }
        )
        joined = rows.merge(spells, on="tp", how="inner")
        t, s, e = (joined[c].to_numpy(dtype="datetime64[ns]") for c in ("t", "start", "end"))
        inside = (s <= t) & (np.isnat(e) | (t < e))
        hit = joined[inside]
        per_row = hit.groupby("pos")["owner"].agg(["first", "nunique"])
        single = per_row[per_row["nunique"] == 1]
        out[single.index.to_numpy(dtype=np.int64)] = single["first"].to_numpy(dtype=object)
        counts["ambiguous_team"] = int((per_row["nunique"] > 1).sum())
        counts["no_team"] = int(len(need) - len(per_row))
    return out, counts


@dataclass(frozen=True, eq=False)
class ZeroDistanceGap(DataclassDisplay):
    """The outcome of :func:`zero_distance_gap`.

    Attributes
    ----------
    gaps : DataFrame
        One row per team and practice: ``measure`` (``"zero_distance_gap"``), ``team``,
        ``subscale``, ``n`` (respondents of both sides), ``estimate`` (self minus
        served, on the items' scale), ``se``, ``ci_low``, ``ci_high`` (Welch), ``df``,
        ``self_mean``, ``served_mean``, ``n_self``, ``n_served`` (Int64),
        ``invariance_level`` (the highest level held across roles for the practice),
        ``refused_reason`` (why the gap is NaN; empty when given),
        ``n_excluded_too_few_items``, ``suppressed``.
    invariance : DataFrame
        Per practice: the roles tested, ``n``, ``supported_level``,
        ``means_comparable``, ``reason``.
    fits : dict
        Practice -> :class:`~hxmetrics.measures.invariance.InvarianceResult`.
    notes : tuple of str
    settings : dict
    """

    gaps: pd.DataFrame
    invariance: pd.DataFrame
    fits: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The gaps table (``gaps``)."""
        return self.gaps

    def plot(self, *, ax: Axes | None = None, teams: Sequence[str] | None = None) -> Axes:
        """Gaps with their intervals, one row per practice, one colour per team.

        Refused and suppressed gaps are not drawn (the practice's label says
        "refused"). ``teams`` limits the teams drawn.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7.0, 4.5), layout="constrained")
        g = self.gaps
        subs = list(dict.fromkeys(g["subscale"].astype(str)))
        names = list(dict.fromkeys(g["team"].astype(str))) if teams is None else list(teams)
        k = max(len(names), 1)
        for j, name in enumerate(names):
            part = g[g["team"].astype(str) == name].set_index("subscale").reindex(subs)
            y = np.arange(len(subs)) + (j - (k - 1) / 2) * 0.8 / k
            est = part["estimate"].to_numpy(dtype=float)
            lo = part["ci_low"].to_numpy(dtype=float)
            hi = part["ci_high"].to_numpy(dtype=float)
            ok = np.isfinite(est)
            ax.errorbar(
                est[ok], y[ok], xerr=np.vstack([est[ok] - lo[ok], hi[ok] - est[ok]]),
                fmt="o", capsize=3, label=name,
            )  # fmt: skip
        refused = set(
            g.loc[g["refused_reason"].fillna("").str.startswith("invariance"), "subscale"]
        )
        labels = [s.replace("_", " ") + (" (refused)" if s in refused else "") for s in subs]
        ax.set_yticks(np.arange(len(subs)))
        ax.set_yticklabels(labels)
        ax.axvline(0.0, color="0.6", lw=1)
        ax.set_xlabel("gap: self-assessment minus the served's experience")
        ax.legend(loc="best", fontsize=8)
        return ax


def zero_distance_gap(
    responses: Any,
    *,
    teams: Any,
    catalogue: InstrumentCatalogue | None = None,
    instrument: str = "zero_distance",
    person: str = "person_id",
    role: str | None = None,
    self_role: str = "worker",
    served: Sequence[str] = ("customer", "partner"),
    touchpoint: str = "touchpoint",
    time: str = "timestamp",
    team: str | None = "team",
    require: str | None = "scalar",
    min_answered: float = 0.5,
    confidence: float = 0.95,
    min_n: int | None = WORKER_MIN_N,
    invariance_min_n: int = 30,
) -> ZeroDistanceGap:
    """Per team and practice: the team's self-assessment minus the served's experience.

    Parameters
    ----------
    responses : DataFrame
        Long answers to ``instrument``: ``instrument``, ``item``, ``score``, the person
        column, the role (``role`` or ``silo``), and, to find the team, ``touchpoint``
        and ``timestamp`` (or a ``team`` column). pandas or any frame narwhals reads
        (converted to pandas).
    teams : DataFrame
        The ownership ledger: ``team``, ``touchpoint``, ``valid_from``, ``valid_to``
        (empty: still owns).
    catalogue : InstrumentCatalogue, optional
        Default: every built-in bank.
    instrument : str
        The instrument (default the built-in ``zero_distance``; one subscale per
        practice).
    person, role
        As in :func:`score_instrument`.
    self_role : str
        The role whose answers are the self-assessment (``"worker"``).
    served : sequence of str
        The roles served, pooled on the other side (``("customer", "partner")``; pass
        one role to compare with it alone).
    touchpoint, time, team : str
        Columns of the answers (``team=None`` ignores a team column).
    require : {"metric", "scalar", "strict"} or None
        The invariance level a practice needs before its gaps are given: ``"scalar"``
        for comparing means (the default, and the minimum the literature accepts).
        None skips the test (the gaps are then given unchecked, ``invariance_level``
        empty, and a note says so): for few answers, or a test done elsewhere.
    min_answered, confidence
        As in :func:`score_instrument`.
    min_n : int or None, default 5
        A side (the team's workers, or the people it serves) with fewer respondents
        hides the row (:mod:`hxmetrics.privacy`, both sides' counts suppressed as
        tables of their own, complements included).
    invariance_min_n : int
        Fewest complete answer sets for a role to enter a practice's invariance test.

    Returns
    -------
    ZeroDistanceGap

    Raises
    ------
    InputTableError
        A missing column, an answer off its scale or to an item not in the catalogue, a
        ledger spell that ends before it starts.
    ParameterError
        A bad option.

    Warns
    -----
    HxWarning
        Practices whose gaps are refused, with the reason.

    References
    ----------
    Meredith, W. (1993). Measurement invariance, factor analysis and factorial
    invariance. Psychometrika 58, 525-543.
    Putnick, D. L. & Bornstein, M. H. (2016). Measurement invariance conventions and
    reporting: the state of the art and future directions for psychological research.
    Developmental Review 41, 71-90.
    Welch, B. L. (1947). The generalization of "Student's" problem when several
    different population variances are involved. Biometrika 34, 28-35.
    """
    cat = resolve_catalogue(catalogue)
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    if require is not None and require not in LEVEL_ORDER[1:]:
        raise ParameterError(
            f"require must be 'metric', 'scalar' or 'strict'; got {require!r}. Comparing "
            "means needs 'scalar' (Putnick & Bornstein 2016)."
        )
    self_role = role_of(self_role, what="self_role")
    if isinstance(served, str):
        served = [served]
    served_roles = [role_of(r, what="served") for r in served]
    if not served_roles or self_role in served_roles:
        raise ParameterError(
            f"served must name at least one role other than self_role {self_role!r}; "
            f"got {list(served)}."
        )
    frame = as_frame(responses, table="responses")
    in_inst = (frame["instrument"].astype("string") == instrument).to_numpy(dtype=bool)
    owner = np.full(len(frame), None, dtype=object)
    sub = frame[in_inst].reset_index(drop=True)
    owned, counts = assign_teams(sub, teams, touchpoint=touchpoint, time=time, team=team)
    owner[np.flatnonzero(in_inst)] = owned
    keep = ~in_inst | (owner != None)  # noqa: E711 (elementwise on an object array)
    kept = frame[keep].reset_index(drop=True)
    prep = prepare(
        kept,
        instrument,
        cat,
        unit=[_TEAM],
        person=person,
        role=role,
        extra={_TEAM: owner[keep]},
    )
    units = prep.units
    wanted = units["role"].isin([self_role, *served_roles]).to_numpy(dtype=bool)
    units = units[wanted].reset_index(drop=True)
    wide = prep.wide[wanted].reset_index(drop=True)
    prep_scores, excluded = subscale_scores(
        dataclasses.replace(prep, units=units, wide=wide), float(min_answered)
    )
    if require is None:
        inv = pd.DataFrame(
            {
                "subscale": list(prep.subscales),
                "roles": "",
                "n": pd.array([pd.NA] * len(prep.subscales), dtype="Int64"),
                "supported_level": None,
                "means_comparable": True,
                "reason": "not tested (require=None)",
            }
        )
        fits: dict[str, Any] = {}
    else:
        inv, fits = invariance_by_subscale(
            wide,
            units["role"],
            prep.subscales,
            min_n=max(invariance_min_n, min_n or 0),
            require=require,
        )
    side = np.where(units["role"].to_numpy(dtype=object) == self_role, 0, 1)
    team_codes, team_names = pd.factorize(units[_TEAM].astype(str), sort=True)
    T = len(team_names)
    parts = []
    refused_msgs = []
    for _, irow in inv.iterrows():
        s = str(irow["subscale"])
        y = prep_scores[s].to_numpy(dtype=float)
        ok = ~np.isnan(y)
        stats = {}
        for k in (0, 1):
            m = ok & (side == k)
            n = np.bincount(team_codes[m], minlength=T)
            s1 = np.bincount(team_codes[m], weights=y[m], minlength=T)
            s2 = np.bincount(team_codes[m], weights=y[m] ** 2, minlength=T)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
                var = np.maximum(np.where(n > 1, (s2 - n * mean**2) / (n - 1.0), np.nan), 0.0)
            stats[k] = (n, mean, var)
        (n0, m0, v0), (n1, m1, v1) = stats[0], stats[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            se0, se1 = np.sqrt(v0 / n0), np.sqrt(v1 / n1)
            gap = m0 - m1
            se = np.sqrt(se0**2 + se1**2)
            df = welch_df(se0, n0, se1, n1)
        lo, hi = t_interval(gap, se, df, confidence)
        reason = np.full(T, "", dtype=object)
        reason[(n0 < 2) | (n1 < 2)] = "fewer than 2 scored respondents on a side"
        if not bool(irow["means_comparable"]):
            text = f"invariance across roles does not support comparing means: {irow['reason']}"
            reason[:] = text
            refused_msgs.append(f"{s} ({irow['reason']})")
        refused = reason != ""
        for arr in (gap, se, lo, hi, df):
            arr[refused] = np.nan
        n_excl = np.bincount(team_codes[excluded[s].to_numpy(bool)], minlength=T)
        keys = pd.DataFrame({_TEAM: pd.array(list(team_names), dtype="string")})
        res = grouped_result(
            keys,
            measure="zero_distance_gap",
            n=(n0 + n1).astype(np.int64),
            estimate=gap,
            se=se,
            ci_low=lo,
            ci_high=hi,
            confidence=confidence,
            method="welch",
            min_n=None,
            extra={
                "df": df,
                "self_mean": m0,
                "served_mean": m1,
                "n_self": n0.astype(np.int64),
                "n_served": n1.astype(np.int64),
                "invariance_level": np.array([irow["supported_level"] or ""] * T, dtype=object),
                "refused_reason": reason,
            },
            excluded={"too_few_items": n_excl.astype(np.int64)},
        )
        hidden = _hidden(keys, n0, n1, min_n)
        res = _blank(res, hidden)
        res.insert(2, "subscale", pd.Series([s] * len(res), dtype="string"))
        parts.append(res)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(_TEAM, kind="stable").reset_index(drop=True)
    for c in ("invariance_level", "refused_reason"):
        out[c] = out[c].astype("string")
    notes = []
    if counts["no_team"]:
        notes.append(f"{counts['no_team']} answer row(s) had no owning team and were left out")
    if counts["ambiguous_team"]:
        notes.append(
            f"{counts['ambiguous_team']} answer row(s) fell on a touchpoint owned by two teams "
            "at once and were left out (check the ledger)"
        )
    if require is None:
        notes.append("invariance across roles was not tested (require=None): the gaps assume it")
    if prep.n_no_person:
        notes.append(
            f"{prep.n_no_person} answer row(s) without a person or role (not attributed) "
            "were left out"
        )
    other = int((~wanted).sum())
    if other:
        notes.append(f"{other} respondent unit(s) in other roles were left out")
    out.attrs["hxmetrics"] = {
        "measure": "zero_distance_gap",
        "estimate": "estimate",
        "by": [_TEAM, "subscale"],
        "confidence": confidence,
        "method": "welch",
        "min_n": min_n,
        # totals of the rows shown (a hidden team's count must not follow from them)
        "excluded": {
            "too_few_items": int(
                out.loc[~out["suppressed"], "n_excluded_too_few_items"].sum(skipna=True)
            )
        },
        # answer rows left out before any team or person was known
        "excluded_rows": {
            "no_team": counts["no_team"],
            "ambiguous_team": counts["ambiguous_team"],
            "missing_score": prep.n_missing_score,
            "no_person": prep.n_no_person,
        },
        "instrument": instrument,
        "self_role": self_role,
        "served": served_roles,
        "require": require,
        "notes": notes,
        **(
            {"bounds": [prep.scale[0] - prep.scale[1], prep.scale[1] - prep.scale[0]]}
            if prep.scale
            else {}
        ),
    }
    if refused_msgs:
        warnings.warn(
            f"zero_distance_gap: gaps refused for {len(refused_msgs)} practice(s): "
            + "; ".join(refused_msgs)
            + f". Means of the self-assessment and the served's experience are comparable only "
            f"under {require} invariance (Meredith 1993; Putnick & Bornstein 2016): look at "
            "the practice's items (fits[practice].fits['scalar'].summary()) for one that "
            "reads differently by role.",
            HxWarning,
            stacklevel=2,
        )
    return ZeroDistanceGap(
        gaps=out,
        invariance=inv,
        fits=fits,
        notes=tuple(notes),
        settings={
            "instrument": instrument,
            "self_role": self_role,
            "served": served_roles,
            "require": require,
            "confidence": confidence,
            "min_n": min_n,
            "min_answered": float(min_answered),
            "invariance_min_n": invariance_min_n,
        },
    )


def _hidden(
    keys: pd.DataFrame, n_self: np.ndarray, n_served: np.ndarray, min_n: int | None
) -> np.ndarray:
    """Rows to hide: either side's count suppressed as a table of its own.

    Each side is suppressed by the one disclosure layer (primary below ``min_n``,
    complements included); a row shows only when both sides may. Hiding more than one
    side alone asks never reveals a cell either side protects.
    """
    if min_n is None:
        return np.zeros(len(keys), dtype=bool)
    out = np.zeros(len(keys), dtype=bool)
    for n in (n_self, n_served):
        frame = keys.assign(n=n.astype(np.int64))
        out |= suppress(frame, min_n=min_n, by=[_TEAM])["suppressed"].to_numpy(dtype=bool)
    return out


_KEEP = {"measure", _TEAM, "subscale", "invariance_level", "suppressed"}


def _blank(res: pd.DataFrame, hidden: np.ndarray) -> pd.DataFrame:
    """Hide every number (and the reason, which may tell a count) of hidden rows."""
    if not hidden.any():
        return res
    out = res.copy()
    for c in out.columns:
        if c in _KEEP:
            continue
        if c == "refused_reason":
            out[c] = np.where(hidden, "", out[c].to_numpy(dtype=object))
        elif pd.api.types.is_integer_dtype(out[c].dtype):
            out[c] = out[c].astype("Int64").mask(hidden)
        else:
            out[c] = out[c].astype(float).mask(hidden)
    out["suppressed"] = out["suppressed"].to_numpy(dtype=bool) | hidden
    return out
