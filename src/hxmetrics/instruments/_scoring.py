"""Scoring an instrument: long answers in, subscale scores, reliability, structure,
invariance across roles and the maturity profile out.

The steps, in order (each reuses the package's one implementation):

1. the instrument's answers are checked against the catalogue
   (:func:`~hxmetrics.instruments.response_failures`: an error names the rows);
2. reverse-keyed items are reflected, ``x -> scale_min + scale_max - x``;
3. answers are averaged per respondent unit (person, role and the ``by`` groups) and
   item, so a person counts once per role and group however many times they answered;
4. a unit's subscale score is the mean of its answered items of the subscale when it
   answered at least ``min_answered`` of them (a share), else the unit is excluded from
   that subscale and counted (``n_excluded_too_few_items``);
5. group scores: the mean of the units' subscale scores with a t interval (one row per
   group and subscale, the grouped-result protocol, small groups suppressed);
6. reliability per subscale and group: Cronbach's alpha with Feldt's interval and
   McDonald's omega (:func:`hxmetrics.measures.reliability.reliability`);
7. the subscale structure's fit: a CFA with one factor per subscale on the complete
   answers (:func:`hxmetrics.measures.invariance.cfa`);
8. invariance across roles per subscale (:func:`hxmetrics.measures.invariance.
   measurement_invariance`, one-factor model per subscale): whether the roles' means
   may be compared (scalar invariance; Meredith 1993; Putnick & Bornstein 2016).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import HxWarning, InputTableError, ParameterError, check_columns
from hxmetrics.instruments._answers import (
    as_frame,
    catalogue_positions,
    keyed_scores,
    numeric_scores,
    role_column,
    unit_table,
)
from hxmetrics.instruments._catalogue import InstrumentCatalogue
from hxmetrics.instruments._checks import _message, keying_check, response_failures
from hxmetrics.measures._inference import check_confidence, t_interval
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import WORKER_MIN_N, check_group_columns, check_min_n
from hxmetrics.tables import ROLES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["InstrumentScores", "score_instrument"]

#: Levels of invariance in order; a mean comparison needs "scalar".
LEVEL_ORDER = ("configural", "metric", "scalar", "strict")

_INVARIANCE_COLUMNS = [
    "subscale",
    "roles",
    "n",
    "supported_level",
    "means_comparable",
    "reason",
]


@dataclass(frozen=True)
class Prepared:
    """An instrument's answers as respondent units: keys, keyed item matrix, subscales."""

    instrument: str
    units: pd.DataFrame
    wide: pd.DataFrame
    subscales: dict[str, list[str]]
    scale: tuple[float, float] | None
    n_missing_score: int
    frame: pd.DataFrame
    rows: np.ndarray
    unanswered: tuple[str, ...] = ()
    n_no_person: int = 0


def resolve_catalogue(catalogue: InstrumentCatalogue | None) -> InstrumentCatalogue:
    """The catalogue given, or every built-in bank."""
    if catalogue is None:
        from hxmetrics.instruments._banks import BANKS, load_bank

        return load_bank(*BANKS)
    if not isinstance(catalogue, InstrumentCatalogue):
        raise ParameterError(
            f"catalogue must be an InstrumentCatalogue or None; got {type(catalogue).__name__}."
        )
    return catalogue


def prepare(
    responses: Any,
    instrument: str,
    catalogue: InstrumentCatalogue,
    *,
    unit: Sequence[str],
    person: str,
    role: str | None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> Prepared:
    """Select, check and key an instrument's answers, then pivot them to units.

    ``unit`` are the key columns besides the person and ``role`` (``role`` is always a
    key: one person answering as worker and as customer is two units). ``extra`` adds
    computed key columns (one value per input row) before pivoting.
    """
    frame = as_frame(responses, table="responses")
    check_columns(frame.columns, [person, "instrument", "item", "score"], table="responses")
    catalogue.items_of(instrument)  # a ParameterError naming the catalogue's instruments
    rows = np.flatnonzero((frame["instrument"].astype("string") == instrument).to_numpy(bool))
    if not len(rows):
        present = sorted(frame["instrument"].astype("string").dropna().unique().tolist())
        raise ParameterError(
            f"no answers to instrument {instrument!r}; the answers hold {present[:10]}."
        )
    part = frame.iloc[rows].reset_index(drop=True)
    cases = response_failures(part, catalogue)
    if not cases.empty:
        cases["index"] = rows[cases["index"].to_numpy(dtype=np.int64)]
        raise InputTableError(
            _message("responses", cases, frame), table="responses", failure_cases=cases
        )
    score = numeric_scores(part, table="responses")
    pos = catalogue_positions(part, catalogue)
    keyed = keyed_scores(score, pos, catalogue)
    answered = ~np.isnan(keyed)
    keys = pd.DataFrame({person: part[person].astype("string")})
    keys["role"] = role_column(part, role, table="responses").to_numpy()
    for c in unit:
        if c in (person, "role"):
            continue
        if extra is not None and c in extra:
            keys[c] = np.asarray(extra[c])[rows]
        else:
            check_columns(part.columns, [c], table="responses")
            keys[c] = part[c].to_numpy()
    items = [it.item for it in catalogue.items_of(instrument)]
    subscales = catalogue.subscales(instrument) or {instrument: items}
    # An answer without a person (not attributed) or a role cannot be scored: counted.
    no_person = (keys[person].isna() | keys["role"].isna()).to_numpy(dtype=bool)
    use = np.flatnonzero(answered & ~no_person)
    units, wide = unit_table(
        keys.iloc[use].reset_index(drop=True),
        part["item"].iloc[use].reset_index(drop=True),
        keyed[use],
        items,
    )
    answered_items = wide.notna().any(axis=0)
    kept = {s: i for s, i in subscales.items() if bool(answered_items[list(i)].any())}
    scales = {
        catalogue.scale(instrument, i) for i in items if catalogue.item(instrument, i).has_scale
    }
    scale = next(iter(scales)) if len(scales) == 1 else None
    return Prepared(
        instrument=instrument,
        units=units,
        wide=wide,
        subscales=kept,
        scale=scale,
        n_missing_score=int((~answered).sum()),
        frame=part,
        rows=rows,
        unanswered=tuple(s for s in subscales if s not in kept),
        n_no_person=int((answered & no_person).sum()),
    )


def subscale_scores(prep: Prepared, min_answered: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per unit and subscale: the score (NaN when too few items) and whether excluded."""
    scores = {}
    excluded = {}
    for sub, items in prep.subscales.items():
        x = prep.wide[items].to_numpy(dtype=float)
        n_ans = (~np.isnan(x)).sum(axis=1)
        enough = n_ans >= math.ceil(min_answered * len(items) - 1e-9)
        enough &= n_ans > 0
        total = np.where(np.isnan(x), 0.0, x).sum(axis=1)
        scores[sub] = np.where(enough, total / np.maximum(n_ans, 1), np.nan)
        excluded[sub] = ~enough
    return pd.DataFrame(scores), pd.DataFrame(excluded)


def group_scores(
    units: pd.DataFrame,
    scores: pd.DataFrame,
    excluded: pd.DataFrame,
    by: Sequence[str],
    *,
    measure: str,
    confidence: float,
    min_n: int | None,
    subscales: Mapping[str, Sequence[str]],
    meta: Mapping[str, Any],
) -> pd.DataFrame:
    """One row per group and subscale: mean of the units' scores, t interval."""
    by = list(by)
    if by:
        grouped = units[by].groupby(by, sort=True, observed=True, dropna=False)
        codes = grouped.ngroup().to_numpy()
        keys = grouped.size().index.to_frame(index=False)
        for c in by:
            keys[c] = keys[c].astype(units[c].dtype)
    else:
        codes = np.zeros(len(units), dtype=np.int64)
        keys = pd.DataFrame(index=[0])
    G = len(keys)
    parts = []
    for sub, items in subscales.items():
        y = scores[sub].to_numpy(dtype=float)
        ok = ~np.isnan(y)
        n = np.bincount(codes[ok], minlength=G)
        s1 = np.bincount(codes[ok], weights=y[ok], minlength=G)
        s2 = np.bincount(codes[ok], weights=y[ok] ** 2, minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
            var = np.where(n > 1, (s2 - n * mean**2) / (n - 1.0), np.nan)
            var = np.maximum(var, 0.0)
            se = np.sqrt(var / n)
        lo, hi = t_interval(mean, se, n - 1.0, confidence)
        n_excl = np.bincount(codes[excluded[sub].to_numpy(bool)], minlength=G)
        res = grouped_result(
            keys,
            measure=measure,
            n=n.astype(np.int64),
            estimate=mean,
            se=se,
            ci_low=lo,
            ci_high=hi,
            confidence=confidence,
            method="t",
            min_n=min_n,
            extra={"sd": np.sqrt(var), "n_items": np.full(G, len(items), dtype=np.int64)},
            excluded={"too_few_items": n_excl.astype(np.int64)},
            meta=meta,
        )
        res.insert(1 + len(by), "subscale", pd.Series([sub] * len(res), dtype="string"))
        parts.append(res)
    metas = [p.attrs["hxmetrics"] for p in parts]
    out = pd.concat(parts, ignore_index=True)
    if by:
        out = out.sort_values(by, kind="stable").reset_index(drop=True)
    excluded_totals: dict[str, int] = {}
    for m in metas:
        for reason, count in m["excluded"].items():
            excluded_totals[reason] = excluded_totals.get(reason, 0) + int(count)
    out.attrs["hxmetrics"] = {**metas[0], "by": [*by, "subscale"], "excluded": excluded_totals}
    return out


def invariance_by_subscale(
    wide: pd.DataFrame,
    roles: pd.Series,
    subscales: Mapping[str, Sequence[str]],
    *,
    min_n: int,
    require: str = "scalar",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Measurement invariance across roles, one one-factor model per subscale.

    Roles with fewer than ``min_n`` complete answers to a subscale are left out of its
    test (a multi-group CFA needs more); a subscale tested on fewer than two roles, or
    with fewer than three items, gets no verdict (``supported_level`` empty) and the
    reason says why.
    """
    from hxmetrics.measures.invariance import measurement_invariance

    rows = []
    fits: dict[str, Any] = {}
    need = LEVEL_ORDER.index(require)
    for sub, items in subscales.items():
        x = wide[list(items)]
        complete = x.notna().all(axis=1).to_numpy() & roles.notna().to_numpy()
        counts = roles[complete].value_counts()
        kept = [r for r in ROLES if int(counts.get(r, 0)) >= min_n]
        small = [r for r in ROLES if 0 < int(counts.get(r, 0)) < min_n]
        row: dict[str, Any] = {
            "subscale": sub,
            "roles": ", ".join(kept),
            "n": int(sum(int(counts.get(r, 0)) for r in kept)),
            "supported_level": None,
            "means_comparable": False,
            "reason": "",
        }
        if len(items) < 3:
            row["reason"] = (
                f"a one-factor model of {len(items)} item(s) is not identified: invariance "
                "cannot be tested"
            )
        elif len(kept) < 2:
            row["reason"] = (
                f"fewer than two roles with at least {min_n} complete answers"
                + (f" ({', '.join(small)} had fewer)" if small else "")
                + ": invariance across roles cannot be tested"
            )
        else:
            keep = complete & roles.isin(kept).to_numpy()
            data = x[keep].assign(role=roles[keep].to_numpy())
            res = measurement_invariance(data, {sub: list(items)}, by="role")
            fits[sub] = res
            level = res.supported_level
            row["supported_level"] = level
            row["means_comparable"] = level is not None and LEVEL_ORDER.index(level) >= need
            verdict = res.verdict.set_index("requires")
            reason = str(verdict.loc[require, "reason"]) if require in verdict.index else ""
            row["reason"] = reason + (
                f"; left out for too few answers: {', '.join(small)}" if small else ""
            )
        rows.append(row)
    out = pd.DataFrame(rows, columns=_INVARIANCE_COLUMNS)
    out["n"] = out["n"].astype("Int64")
    out["means_comparable"] = out["means_comparable"].astype(bool)
    return out, fits


def _structure_fit(
    wide: pd.DataFrame, subscales: Mapping[str, Sequence[str]], min_n: int
) -> tuple[pd.DataFrame | None, Any, str | None]:
    """CFA of the subscale structure on complete answers, or why it was not fitted."""
    from hxmetrics.measures.invariance import cfa

    model = {s: list(i) for s, i in subscales.items()}
    items = [i for its in model.values() for i in its]
    if any(len(i) < 2 for i in model.values()) or (len(model) == 1 and len(items) < 3):
        return None, None, "the subscale structure is not identified (a subscale of one item)"
    complete = wide[items].dropna()
    need = max(min_n, 2 * len(items))
    if len(complete) < need:
        return (
            None,
            None,
            f"the subscale structure was not fitted: {len(complete)} complete answer sets, "
            f"fewer than {need} (twice the items)",
        )
    fit = cfa(complete, model)
    fm = fit.fit_measures_
    table = pd.DataFrame(
        [
            {
                "n": int(fm["n"]),
                "n_excluded_incomplete": len(wide) - len(complete),
                "factors": len(model),
                "items": len(items),
                **{k: fm[k] for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")},
                "converged": fit.converged_,
            }
        ]
    )
    return table, fit, None


@dataclass(frozen=True, eq=False)
class InstrumentScores(DataclassDisplay):
    """The outcome of :func:`score_instrument`.

    Attributes
    ----------
    instrument : str
    scores : DataFrame
        One row per group and subscale (the grouped-result protocol): ``measure``
        (``"instrument_score"``), the ``by`` columns, ``subscale``, ``n`` (respondent
        units scored), ``estimate`` (mean subscale score on the items' scale, after
        reverse keying), ``se``, ``ci_low``, ``ci_high`` (t interval), ``sd``,
        ``n_items``, ``n_excluded_too_few_items``, ``suppressed``.
    persons : DataFrame
        One row per respondent unit: the person column, ``role``, the ``by`` columns and
        one column per subscale (NaN where too few items were answered). Personal data:
        not for reports.
    reliability : DataFrame or None
        Alpha (Feldt interval) and omega per group and subscale
        (:func:`hxmetrics.measures.reliability.reliability`).
    structure : DataFrame or None
        The CFA fit of the subscale structure (one row: ``n``, ``chisq``, ``df``,
        ``pvalue``, ``cfi``, ``tli``, ``rmsea``, ``srmr``, ``converged``).
    invariance : DataFrame or None
        Per subscale: ``roles`` tested, ``n``, ``supported_level``, ``means_comparable``
        (scalar invariance holds) and ``reason``.
    keying : DataFrame
        Corrected item-total correlations after keying (:func:`keying_check`).
    fits : dict
        ``"structure"``: the fitted :class:`~hxmetrics.measures.invariance.CFA`;
        ``"invariance"``: subscale -> :class:`~hxmetrics.measures.invariance.InvarianceResult`.
    notes : tuple of str
        What was skipped or excluded, and why.
    settings : dict
    """

    instrument: str
    scores: pd.DataFrame
    persons: pd.DataFrame
    reliability: pd.DataFrame | None
    structure: pd.DataFrame | None
    invariance: pd.DataFrame | None
    keying: pd.DataFrame
    fits: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The group scores (``scores``)."""
        return self.scores

    def plot(self, *, ax: Axes | None = None, kind: str | None = None) -> Axes:
        """The maturity profile: one axis per subscale, one line per group.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Polar axes draw a radar, Cartesian ones parallel axes with intervals; a new
            radar by default.
        kind : {"radar", "parallel"}, optional
            Force one form.

        Returns
        -------
        Axes
        """
        from hxmetrics.instruments._profile import plot_profile

        scale = self.settings.get("scale")
        return plot_profile(
            self.scores,
            subscales=list(self.settings["subscales"]),
            by=list(self.settings["by"]),
            scale=tuple(scale) if scale else None,
            ax=ax,
            kind=kind,
            title=f"{self.instrument}: profile",
        )


def score_instrument(
    responses: Any,
    instrument: str,
    *,
    catalogue: InstrumentCatalogue | None = None,
    by: str | Sequence[str] | None = "role",
    person: str = "person_id",
    role: str | None = None,
    min_answered: float = 0.5,
    confidence: float = 0.95,
    min_n: int | None = WORKER_MIN_N,
    reliability: bool = True,
    structure: bool = True,
    invariance: bool = True,
    invariance_min_n: int = 30,
) -> InstrumentScores:
    """Score an instrument from long answers: subscales, reliability, structure, profile.

    Parameters
    ----------
    responses : DataFrame
        Long answers, one row per answer: ``instrument``, ``item``, ``score``, the person
        column and the role (a ``role`` column, or ``silo``), e.g. responses attributed
        with :func:`hxmetrics.stakeholders.attribution.attribute`. pandas or any frame
        narwhals reads (converted to pandas: the computation is pandas/numpy).
    instrument : str
        The instrument to score (its rows are selected by ``instrument``).
    catalogue : InstrumentCatalogue, optional
        What was asked; default every built-in bank (:func:`load_bank`).
    by : str or list of str or None, default "role"
        Group columns of the scores and the reliability. ``"role"`` is the respondent's
        role (derived from ``silo`` when there is no ``role`` column).
    person : str
        The column naming the respondent (a unit is a person in a role and group; their
        repeated answers to an item are averaged).
    role : str, optional
        The column with the role, when it is not ``role`` or derived from ``silo``.
    min_answered : float
        Share of a subscale's items a unit must answer to get a score (0.5: half);
        units below are excluded from that subscale and counted.
    confidence : float
    min_n : int or None, default 5
        Smallest group shown (suppression through :mod:`hxmetrics.privacy`); also used
        by the reliability table.
    reliability, structure, invariance : bool
        Compute the reliability table, the CFA fit of the subscale structure, and
        invariance across roles per subscale.
    invariance_min_n : int
        Fewest complete answer sets for a role to enter the invariance test of a
        subscale, and for the structure's CFA.

    Returns
    -------
    InstrumentScores

    Raises
    ------
    InputTableError
        An answer off its item's scale or to an item not in the catalogue (rows named
        by position), a missing column, a role that is not one.
    ParameterError
        An instrument the catalogue or the answers lack; a bad option.

    Warns
    -----
    HxWarning
        An item that looks scored the wrong way round (negative corrected item-total
        correlation after keying), low reliability, a CFA problem.

    References
    ----------
    Cronbach (1951); Feldt, Woodruff & Salih (1987); McDonald (1999); Jöreskog (1971);
    Meredith (1993), Psychometrika 58, 525-543; Putnick & Bornstein (2016),
    Developmental Review 41, 71-90 (scalar invariance before comparing means).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=40)
    >>> items = ["cc_cu1", "cc_cu2", "cc_cu3"]
    >>> x = np.clip(np.rint(3 + f[:, None] + rng.normal(0, .6, (40, 3))), 1, 5)
    >>> x[:, 2] = 6 - x[:, 2]                     # cc_cu3 is reverse-keyed
    >>> answers = pd.DataFrame({"person_id": np.repeat([f"p{i}" for i in range(40)], 3),
    ...     "silo": "workers", "instrument": "customer_centricity",
    ...     "item": items * 40, "score": x.ravel()})
    >>> from hxmetrics.instruments import load_bank
    >>> cat = load_bank("customer_centricity")
    >>> res = score_instrument(answers, "customer_centricity", catalogue=cat,
    ...                        structure=False)
    >>> res.scores[["role", "subscale", "n", "estimate"]].round(2)
         role subscale   n  estimate
    0  worker  culture  40      2.95
    """
    cat = resolve_catalogue(catalogue)
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    if not (isinstance(min_answered, float | int) and 0 < min_answered <= 1):
        raise ParameterError(f"min_answered must be a share in (0, 1]; got {min_answered!r}.")
    if not (isinstance(invariance_min_n, int) and invariance_min_n >= 10):
        raise ParameterError(
            f"invariance_min_n must be an integer of at least 10; got {invariance_min_n!r}."
        )
    byl = [] if by is None else ([by] if isinstance(by, str) else [str(c) for c in by])
    check_group_columns(byl)
    prep = prepare(responses, instrument, cat, unit=byl, person=person, role=role)
    subscales = prep.subscales
    notes: list[str] = []
    if prep.unanswered:
        notes.append(f"subscale(s) without any answer left out: {', '.join(prep.unanswered)}")
    scores, excluded = subscale_scores(prep, float(min_answered))
    if prep.n_missing_score:
        notes.append(f"{prep.n_missing_score} answer row(s) without a score were left out")
    if prep.n_no_person:
        notes.append(
            f"{prep.n_no_person} answer row(s) without a person or role (not attributed) "
            "were left out"
        )
    meta: dict[str, Any] = {"instrument": instrument, "min_answered": float(min_answered)}
    if prep.scale is not None:
        meta["bounds"] = list(prep.scale)
    table = group_scores(
        prep.units,
        scores,
        excluded,
        byl,
        measure="instrument_score",
        confidence=confidence,
        min_n=min_n,
        subscales=subscales,
        meta=meta,
    )
    table.attrs["hxmetrics"]["excluded_rows"] = {
        "missing_score": prep.n_missing_score,
        "no_person": prep.n_no_person,
    }
    persons = pd.concat([prep.units, scores], axis=1)
    wide_by = pd.concat([prep.units[byl].reset_index(drop=True), prep.wide], axis=1)
    rel = None
    multi = {s: i for s, i in subscales.items() if len(i) >= 2}
    if reliability and multi:
        from hxmetrics.measures.reliability import reliability as _reliability

        rel = _reliability(wide_by, scales=multi, by=byl or None, min_n=min_n)
    fits: dict[str, Any] = {}
    struct = None
    if structure:
        struct, model, why = _structure_fit(prep.wide, subscales, max(invariance_min_n, min_n or 0))
        if why:
            notes.append(why)
        if model is not None:
            fits["structure"] = model
    inv = None
    if invariance:
        inv, fits["invariance"] = invariance_by_subscale(
            prep.wide, prep.units["role"], subscales, min_n=max(invariance_min_n, min_n or 0)
        )
    unit_codes = pd.Series(np.arange(len(prep.units)))
    keying = _keying(prep, cat, unit_codes)
    flagged = keying[keying["flagged"]]
    if len(flagged):
        names = ", ".join(f"{r.item} (r = {r.r_item_rest:.2f})" for r in flagged.itertuples())
        warnings.warn(
            f"score_instrument({instrument!r}): item(s) {names} correlate negatively with the "
            "rest of their subscale after reverse keying: they look scored the wrong way "
            "round (already reversed upstream, or reverse_keyed wrong in the catalogue). "
            "Their subscale scores are biased towards the middle; fix the keying first.",
            HxWarning,
            stacklevel=2,
        )
    return InstrumentScores(
        instrument=instrument,
        scores=table,
        persons=persons,
        reliability=rel,
        structure=struct,
        invariance=inv,
        keying=keying,
        fits=fits,
        notes=tuple(notes),
        settings={
            "by": byl,
            "person": person,
            "subscales": list(subscales),
            "scale": list(prep.scale) if prep.scale else None,
            "min_answered": float(min_answered),
            "confidence": confidence,
            "min_n": min_n,
            "invariance_min_n": invariance_min_n,
        },
    )


def _keying(prep: Prepared, cat: InstrumentCatalogue, codes: pd.Series) -> pd.DataFrame:
    """The keying check on the units (a long frame rebuilt from the unit matrix).

    The matrix holds keyed answers; keying_check keys again, so reverse-keyed columns
    are reflected back first.
    """
    long = prep.wide.copy()
    for it in cat.items_of(prep.instrument):
        if it.reverse_keyed and it.item in long:
            long[it.item] = float(it.scale_min) + float(it.scale_max) - long[it.item]  # type: ignore[arg-type]
    long.insert(0, "_unit", codes.to_numpy())
    stacked = long.melt(id_vars="_unit", var_name="item", value_name="score").dropna()
    stacked["instrument"] = prep.instrument
    return keying_check(stacked, cat, response="_unit")
