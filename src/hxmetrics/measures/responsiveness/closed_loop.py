"""The closed loop: is a piece of bad feedback followed up in time, and does it help?

:func:`closed_loop` reads survey answers (the ``responses`` table) and follow-up
contacts (any frame with the person and a ``timestamp``) and answers three questions
for every group of ``by``:

1. **Share followed up** within ``window`` of a triggering answer (a detractor, a low
   CSAT, a high effort, or a caller's rule), with a Wilson interval, among triggers
   whose window has closed by ``as_of``.
2. **Time to follow-up** as a right-censored time (Kaplan-Meier, the one estimator of
   :mod:`hxmetrics.measures.tenure`): a trigger not followed up is censored at the end
   of its window or at ``as_of``, whichever comes first, never dropped.
3. **The change in the next score** of followed-up vs not followed-up people, by one of
   three designs (``design=``). The naive comparison is confounded: teams follow up
   the angriest first, and the angriest rebound most whatever is done (regression to
   the mean). ``"did"`` and ``"matching"`` address that under stated assumptions.

Definitions (the rules every number follows)
--------------------------------------------
* **Person**: ``person_id`` when both frames have it (attributed answers, see
  :mod:`hxmetrics.stakeholders`), otherwise ``(silo, source_id)``. Ids are compared as
  text.
* **Trigger**: one triggering answer (a person answering twice in a bad way gives two
  triggers). Presets read these instruments of the responses table (``instrument=``
  names another instrument with the same scale):

  =================  ============  ==================================================
  ``trigger``        instrument    triggering scores
  =================  ============  ==================================================
  ``"detractor"``    ``"nps"``     0-6 on the 0-10 likelihood-to-recommend item
  ``"low_csat"``     ``"csat"``    1-2 on the 1-5 satisfaction item (bottom-2-box)
  ``"high_effort"``  ``"ces"``     1-3 on the 1-7 CES 2.0 item ("easy to handle", 7 =
                                   easiest, as in the simulator): disagreeing
  =================  ============  ==================================================

  Every item of the instrument is read (the sample has one per instrument: ``ltr``,
  ``overall``, ``effort``); a score off the scale raises
  :class:`~hxmetrics.errors.InputTableError`. A callable gets the responses as a
  pandas frame and returns a boolean mask (one value per row).
* **Follow-up**: the person's first follow-up at or after the trigger's time; it
  counts if it comes within ``window`` (the window is closed: a follow-up exactly at
  its end counts; one before the trigger, or of another person, does not). Follow-ups
  after ``as_of`` are not known yet and are ignored. The caller chooses what a
  follow-up is: tickets' ``first_response`` renamed to ``timestamp``, or ``events``
  rows with ``event_type == "follow_up"`` (as :func:`~hxmetrics.datasets.simulate_organisation`
  writes them), filtered before the call.
* **Next score**: the person's first later answer to the same instrument and item,
  strictly after the trigger's window has ended (so that whether the person was
  followed up is settled before the answer is given); **prior score**: their last
  answer to it before the trigger.
* ``as_of`` (default: the latest timestamp in either frame): answers and follow-ups
  after it are not used. Timestamps with a time zone are compared in UTC.

Designs for the effect (``design=``)
------------------------------------
The outcome is compared between triggers followed up within the window (treated) and
not (control); standard errors are cluster-robust by person (statsmodels' ``cluster``
covariance with its small-sample correction, computed directly) and intervals normal.

* ``"naive"``: the difference in mean next score. An **association**: the followed-up
  were angrier at the trigger, so it is biased (usually downward).
* ``"did"`` (difference in differences, the default): on triggers with a prior score,
  the change from the prior to the next answer, treated minus control, with the
  trigger score (per instrument and item) as fixed effects. The prior and the next
  answer are both taken away from the selection occasion, so a stable personal level
  and the trigger's transient dip cancel. Assumption: **parallel trends** - without a
  follow-up, the expected change from prior to next answer would be the same for
  followed-up and other triggers with the same trigger score.
* ``"matching"``: exact matching on the trigger score, ``silo`` (the role) and
  ``touchpoint`` (when the responses have it), within instrument and item; the
  average effect on the followed-up (controls weighted by treated/controls in their
  stratum). Treated triggers with no control in their stratum (and controls with no
  treated) are left out and counted (``unmatched``). Assumption: **no unmeasured
  confounding** given the matched covariates - whether a trigger is followed up
  depends on nothing else that also moves the next score.

``did`` and ``matching`` are labelled ``"effect (assumes ...)"`` in the
``interpretation`` column; ``naive`` is labelled ``"association"``. Neither
assumption can be checked from these data alone: read the estimate as an association
when they are doubtful.

The function is pandas/numpy inside: any frame narwhals reads (pandas, Polars, DuckDB,
PyArrow, Spark) is converted at the door with :func:`hxmetrics.tables.as_pandas`.

References
----------
Angrist, J. D. & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, ch. 5
(differences in differences) and 3.3 (matching). Iacus, S. M., King, G. & Porro, G.
(2012). Causal inference without balance checking: coarsened exact matching.
*Political Analysis* 20, 1-24. Barnett, A. G., van der Pols, J. C. & Dobson, A. J.
(2005). Regression to the mean: what it is and how to deal with it. *International
Journal of Epidemiology* 34, 215-220. Cameron, A. C. & Miller, D. L. (2015). A
practitioner's guide to cluster-robust inference. *Journal of Human Resources* 50,
317-372. Wilson, E. B. (1927). *JASA* 22, 209-212. Kaplan, E. L. & Meier, P. (1958).
*JASA* 53, 457-481.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import (
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
    did_you_mean,
)
from hxmetrics.measures._inference import (
    check_confidence,
    check_n_resamples,
    check_random_state,
    wilson_interval,
    z_critical,
)
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.tenure import UNIT_DAYS, KaplanMeier
from hxmetrics.privacy import check_min_n
from hxmetrics.tables import as_pandas

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DESIGNS", "TRIGGERS", "ClosedLoop", "closed_loop"]

#: The designs of the effect on the next score (see the module notes).
DESIGNS = ("did", "matching", "naive")


@dataclass(frozen=True)
class _Preset:
    instrument: str
    scale: tuple[int, int]
    triggering: tuple[int, int]


_PRESETS: dict[str, _Preset] = {
    "detractor": _Preset("nps", (0, 10), (0, 6)),
    "low_csat": _Preset("csat", (1, 5), (1, 2)),
    "high_effort": _Preset("ces", (1, 7), (1, 3)),
}
#: The trigger presets: name -> (instrument read by default, scale, triggering scores).
TRIGGERS: dict[str, tuple[str, tuple[int, int], tuple[int, int]]] = {
    name: (p.instrument, p.scale, p.triggering) for name, p in _PRESETS.items()
}

_ASSUMPTIONS = {
    "naive": "association",
    "did": "effect (assumes parallel trends given the trigger score)",
    "matching": "effect (assumes no unmeasured confounding given the matched covariates)",
}
_NS_PER_DAY = 86_400 * 10**9

Trigger = str | Callable[[pd.DataFrame], Any]


# ---------------------------------------------------------------------------- inputs


def _window(window: Any) -> pd.Timedelta:
    """``window`` as a positive Timedelta; a bare number (no unit) is refused."""
    example = "e.g. window='48h', '2D' or pandas.Timedelta(hours=48)"
    if isinstance(window, bool | int | float | np.number):
        raise ParameterError(
            f"window must be a duration with a unit ({example}); got the number {window!r}."
        )
    try:
        width = pd.Timedelta(window)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"window must be a duration ({example}); got {window!r}.") from exc
    if pd.isna(width) or width <= pd.Timedelta(0):
        raise ParameterError(f"window must be a positive duration ({example}); got {window!r}.")
    return width


def _failure(
    table: str, column: str, check: str, rows: np.ndarray, message: str
) -> InputTableError:
    """An :class:`InputTableError` naming the table, column, check and row positions."""
    shown = rows[:5].tolist()
    return InputTableError(
        f"{table}: column {column!r} {message} ({len(rows)} row(s), e.g. at row positions "
        f"{shown}).",
        table=table,
        failure_cases=pd.DataFrame(
            {
                "column": column,
                "check": check,
                "failure_case": [f"row {i}" for i in shown],
                "index": shown,
            }
        ),
    )


def _utc_ns(raw: pd.Series, *, table: str) -> tuple[np.ndarray, bool]:
    """Timestamps as int64 nanoseconds (UTC if zoned); missing -> int64 min.

    Returns the values and whether the column had a time zone. A value that is present
    but is not a time raises, naming the rows.
    """
    try:
        parsed = pd.to_datetime(raw, errors="coerce", utc=False)
    except (TypeError, ValueError):
        parsed = pd.to_datetime(raw, errors="coerce", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy() & raw.notna().to_numpy())
    if len(bad):
        raise _failure(table, "timestamp", "is_datetime", bad, "holds values that are not times")
    zoned = getattr(parsed.dt, "tz", None) is not None
    if zoned:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    values = parsed.astype("datetime64[ns]").to_numpy().view(np.int64)
    return values, zoned


def _person_key(responses: pd.DataFrame, followups: pd.DataFrame) -> list[str]:
    if "person_id" in responses.columns and "person_id" in followups.columns:
        return ["person_id"]
    check_columns(responses.columns, ["silo", "source_id"], table="responses")
    check_columns(followups.columns, ["silo", "source_id"], table="followups")
    return ["silo", "source_id"]


def _codes(values: Any) -> np.ndarray:
    """Integer codes of the values (-1 where missing); text and numbers compared as text."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    missing = series.isna().to_numpy()
    if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_numeric_dtype(series)):
        series = series.astype(str)
    codes = pd.factorize(series, use_na_sentinel=True)[0].astype(np.int64)
    codes[missing] = -1
    return codes


def _combine(*codes: np.ndarray) -> np.ndarray:
    """One code per distinct combination of codes (-1 where any is -1)."""
    out = np.zeros(len(codes[0]), dtype=np.int64)
    missing = np.zeros(len(codes[0]), dtype=bool)
    for c in codes:
        missing |= c < 0
        out = out * (int(c.max(initial=0)) + 1) + np.maximum(c, 0)
        out = np.unique(out, return_inverse=True)[1].astype(np.int64).reshape(-1)
    out[missing] = -1
    return out


def _person_codes(frames: Sequence[pd.DataFrame], key: list[str]) -> list[np.ndarray]:
    """One integer per person, shared by the frames; -1 where the key is missing."""
    parts = []
    for c in key:
        # Ids are compared as text: 17 in one table is "17" in the other.
        both = pd.concat([f[c].reset_index(drop=True) for f in frames], ignore_index=True)
        if not pd.api.types.is_string_dtype(both):
            both = both.astype(object).where(both.isna(), both.astype(str))
        parts.append(_codes(both))
    codes = _combine(*parts)
    out, start = [], 0
    for f in frames:
        out.append(codes[start : start + len(f)])
        start += len(f)
    return out


def _callable_mask(trigger: Callable[[pd.DataFrame], Any], responses: pd.DataFrame) -> np.ndarray:
    raw = trigger(responses.copy())
    values = np.asarray(raw.to_numpy() if isinstance(raw, pd.Series) else raw)
    if values.shape != (len(responses),):
        raise ParameterError(
            f"trigger: the callable must return one boolean per row of responses "
            f"({len(responses)}); got shape {values.shape}."
        )
    if values.dtype == object:
        ok = np.array([isinstance(v, bool | np.bool_) for v in values], dtype=bool)
        if not ok.all():
            raise ParameterError(
                "trigger: the callable returned values that are not True/False (e.g. at "
                f"row positions {np.flatnonzero(~ok)[:5].tolist()})."
            )
        return values.astype(bool)
    if values.dtype != bool:
        raise ParameterError(
            f"trigger: the callable must return booleans; got dtype {values.dtype}."
        )
    return values


def _preset_mask(
    name: str, instrument: str | None, responses: pd.DataFrame, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows read by a preset (its instrument) and the triggering rows among them."""
    preset = _PRESETS[name]
    inst = preset.instrument if instrument is None else instrument
    instruments = responses["instrument"].astype("string")
    read = (instruments == inst).fillna(False).to_numpy(dtype=bool)
    if not read.any():
        present = sorted(str(v) for v in instruments.dropna().unique())
        raise ParameterError(
            f"trigger={name!r} reads instrument {inst!r}, which the responses do not have; "
            f"instruments present: {present or 'none'}. Pass instrument= to read another."
            + did_you_mean(inst, present)
        )
    low, high = preset.scale
    with np.errstate(invalid="ignore"):
        off = (
            read & ~np.isnan(score) & ((score < low) | (score > high) | (score != np.round(score)))
        )
    if off.any():
        raise _failure(
            "responses",
            "score",
            f"{name}_scale",
            np.flatnonzero(off),
            f"has scores of instrument {inst!r} that are not whole numbers from {low} to "
            f"{high} (the scale trigger={name!r} reads)",
        )
    lo, hi = preset.triggering
    with np.errstate(invalid="ignore"):
        hit = read & (score >= lo) & (score <= hi)
    return read, hit


def _as_of(as_of: Any, stamps: Sequence[np.ndarray], zoned: bool) -> int:
    if as_of is None:
        present = [s[s != _MISSING] for s in stamps]
        latest = [int(s.max()) for s in present if len(s)]
        if not latest:
            raise ParameterError("as_of: no timestamp in responses or followups to default to.")
        return max(latest)
    try:
        cutoff = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"as_of must be a date or time; got {as_of!r}.") from exc
    if pd.isna(cutoff):
        raise ParameterError("as_of is missing (NaT): pass a date, e.g. as_of='2024-12-31'.")
    if cutoff.tzinfo is not None:
        if not zoned:
            raise ParameterError(
                "as_of has a time zone but the timestamps have none: pass a naive time."
            )
        cutoff = cutoff.tz_convert("UTC").tz_localize(None)
    return int(cutoff.as_unit("ns").value)


_MISSING = np.iinfo(np.int64).min


# ----------------------------------------------------------------------- the triggers


def _dense_ranks(*arrays: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Dense ranks of the values of all arrays together (ties share a rank)."""
    values, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    out, start = [], 0
    for a in arrays:
        out.append(inverse[start : start + len(a)].astype(np.int64))
        start += len(a)
    return out, len(values) + 1


def _neighbours(
    series: np.ndarray,
    rank: np.ndarray,
    values: np.ndarray,
    query_series: np.ndarray,
    query_rank: np.ndarray,
    base: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The previous (strictly earlier) and next (strictly later) answer of the same
    series for each query: a row of it and its value (row -1, NaN where none).

    Answers of a series at the same time are one answer with their mean value, so
    that the order of the rows never matters.
    """
    keys, inverse = np.unique(series * base + rank, return_inverse=True)
    inverse = inverse.reshape(-1)
    means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    rows = np.empty(len(keys), dtype=np.int64)
    rows[inverse] = np.arange(len(inverse))  # any row of a key: they share the time
    q = query_series * base + query_rank
    found = []
    for at in (
        np.searchsorted(keys, q, side="left") - 1,
        np.searchsorted(keys, q, side="right"),
    ):
        ok = (at >= 0) & (at < len(keys))
        ok[ok] = keys[at[ok]] // base == query_series[ok]
        row = np.full(len(q), -1, dtype=np.int64)
        value = np.full(len(q), np.nan)
        row[ok] = rows[at[ok]]
        value[ok] = means[at[ok]]
        found.append((row, value))
    (prev_row, prev_value), (next_row, next_value) = found
    return prev_row, prev_value, next_row, next_value


@dataclass
class _Triggers:
    """One row per trigger up to ``as_of`` (arrays), and per-row exclusions."""

    frame: pd.DataFrame  # group columns, person, score, prior, next, stratum columns
    after_as_of: pd.DataFrame  # group columns of triggers after as_of
    missing: pd.DataFrame  # group columns of triggering rows without score/time/person


def _triggers(
    resp: pd.DataFrame,
    fol_person: np.ndarray,
    fol_ts: np.ndarray,
    *,
    person: np.ndarray,
    ts: np.ndarray,
    score: np.ndarray,
    read: np.ndarray,
    hit: np.ndarray,
    cols: list[str],
    cutoff: int,
    width: int,
) -> _Triggers:
    valid = (person >= 0) & (ts != _MISSING) & ~np.isnan(score)
    missing = read & ~valid
    trig = hit & valid
    late = trig & (ts > cutoff)
    trig &= ts <= cutoff
    known = valid & (ts <= cutoff)  # answers that can be a prior or a next answer
    instrument = _codes(resp["instrument"])
    item = _codes(resp["item"])
    series = _combine(person, instrument, item)
    f_ok = (fol_person >= 0) & (fol_ts != _MISSING) & (fol_ts <= cutoff)
    idx_known = np.flatnonzero(known)
    idx_trig = np.flatnonzero(trig)
    f_idx = np.flatnonzero(f_ok)
    (r_known, r_trig, r_fol), base = _dense_ranks(ts[idx_known], ts[idx_trig], fol_ts[f_idx])
    _, prior_value, nxt, next_value = _neighbours(
        series[idx_known], r_known, score[idx_known], series[idx_trig], r_trig, base
    )
    # First follow-up at or after the trigger: the entry just before (side="left") the
    # trigger's own (person, time) in the sorted follow-ups is earlier; the one at it is not.
    f_comb = fol_person[f_idx] * base + r_fol
    f_order = np.argsort(f_comb, kind="stable")
    f_sorted = f_comb[f_order]
    q = person[idx_trig] * base + r_trig
    at = np.searchsorted(f_sorted, q, side="left")
    found = at < len(f_sorted)
    found[found] = f_sorted[at[found]] // base == person[idx_trig][found]
    delay = np.full(len(idx_trig), np.inf)
    hit_rows = f_idx[f_order[at[found]]]
    delay[found] = (fol_ts[hit_rows] - ts[idx_trig][found]).astype(float)

    t0 = ts[idx_trig]
    frame = resp.iloc[idx_trig][cols].reset_index(drop=True)
    frame["_person"] = person[idx_trig]
    silo = _codes(resp["silo"]) if "silo" in resp.columns else np.zeros(len(resp), np.int64)
    touchpoint = (
        _codes(resp["touchpoint"])
        if "touchpoint" in resp.columns
        else np.zeros(len(resp), np.int64)
    )
    # Scores are compared exactly (a rating scale's points); missing strata (-1) form
    # their own stratum: -1 + 1 = 0.
    level = _codes(score)
    frame["_did_stratum"] = _combine(instrument + 1, item + 1, level + 1)[idx_trig]
    frame["_match_stratum"] = _combine(
        instrument + 1, item + 1, level + 1, silo + 1, touchpoint + 1
    )[idx_trig]
    frame["_score"] = score[idx_trig]
    frame["_delay"] = delay
    frame["_closed"] = t0 + width <= cutoff
    frame["_horizon"] = np.minimum(width, cutoff - t0).astype(float)
    frame["_followed"] = delay <= width
    has_next = nxt >= 0
    next_rows = idx_known[np.where(has_next, nxt, 0)]
    frame["_has_next"] = has_next
    frame["_next_late"] = has_next & (ts[next_rows] > t0 + width)
    frame["_next"] = next_value
    frame["_prior"] = prior_value
    return _Triggers(
        frame=frame,
        after_as_of=resp.loc[late, cols].reset_index(drop=True),
        missing=resp.loc[missing, cols].reset_index(drop=True),
    )


# ------------------------------------------------------------------------ estimation


def _within(values: np.ndarray, strata: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values`` minus their weighted mean in each stratum."""
    total = np.bincount(strata, weights=weights)
    sums = np.bincount(strata, weights=weights * values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(total > 0, sums / total, 0.0)
    out: np.ndarray = values - means[strata]
    return out


def _regression(
    y: np.ndarray,
    treated: np.ndarray,
    strata: np.ndarray,
    weights: np.ndarray,
    clusters: np.ndarray,
) -> tuple[float, float]:
    """Coefficient of ``treated`` in a weighted regression with stratum fixed effects,
    and its cluster-robust standard error.

    The fixed effects are absorbed (Frisch-Waugh-Lovell: both sides centred within
    strata); the variance is the sandwich with statsmodels' small-sample correction
    ``G/(G-1) (N-1)/(N-K)``, K = strata + 1, which is what
    ``WLS(y, [treated, dummies], weights).fit(cov_type="cluster")`` gives (checked in
    the tests).
    """
    codes = np.unique(strata, return_inverse=True)[1]
    d = _within(treated.astype(float), codes, weights)
    r = _within(y, codes, weights)
    sxx = float(np.sum(weights * d * d))
    if not sxx > 1e-12:
        return math.nan, math.nan
    beta = float(np.sum(weights * d * r)) / sxx
    resid = r - beta * d
    groups = np.unique(clusters, return_inverse=True)[1]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    n, k = len(y), int(codes.max()) + 2
    if n_groups < 2 or n <= k:
        return beta, math.nan
    score = np.bincount(groups, weights=weights * d * resid)
    correction = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    return beta, math.sqrt(correction * float(np.sum(score**2))) / sxx


def _design_data(
    part: pd.DataFrame, design: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outcome, treatment, strata, weights and clusters of a design's sample."""
    treated = part["_followed"].to_numpy(dtype=bool)
    clusters = part["_person"].to_numpy()
    if design == "naive":
        y = part["_next"].to_numpy(dtype=float)
        strata = np.zeros(len(part), dtype=np.int64)
        return y, treated, strata, np.ones(len(part)), clusters
    if design == "did":
        y = part["_next"].to_numpy(dtype=float) - part["_prior"].to_numpy(dtype=float)
        strata = part["_did_stratum"].to_numpy()
    else:
        y = part["_next"].to_numpy(dtype=float)
        strata = part["_match_stratum"].to_numpy()
    strata = np.unique(strata, return_inverse=True)[1].reshape(-1)
    weights = np.ones(len(part))
    if design == "matching":
        n_t = np.bincount(strata, weights=treated.astype(float))
        n_c = np.bincount(strata, weights=(~treated).astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(n_c > 0, n_t / n_c, 0.0)
        weights = np.where(treated, 1.0, ratio[strata])
    return y, treated, strata, weights, clusters


def _matched(part: pd.DataFrame) -> np.ndarray:
    """Rows whose matching stratum has both followed-up and other triggers."""
    strata = np.unique(part["_match_stratum"].to_numpy(), return_inverse=True)[1].reshape(-1)
    treated = part["_followed"].to_numpy(dtype=bool)
    n_t = np.bincount(strata, weights=treated.astype(float))
    n_c = np.bincount(strata, weights=(~treated).astype(float))
    both: np.ndarray = (n_t[strata] > 0) & (n_c[strata] > 0)
    return both


def _effect_sample(part: pd.DataFrame, design: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The design's sample of a group's triggers and the counts left out, by reason."""
    counts: dict[str, int] = {}
    keep = part["_has_next"].to_numpy(dtype=bool).copy()
    counts["no_next_answer"] = int((~keep).sum())
    late = part["_next_late"].to_numpy(dtype=bool)
    counts["next_answer_within_window"] = int((keep & ~late).sum())
    keep &= late
    if design == "did":
        prior = part["_prior"].notna().to_numpy()
        counts["no_prior_answer"] = int((keep & ~prior).sum())
        keep &= prior
    sample = part.loc[keep]
    if design == "matching":
        matched = _matched(sample)
        counts["unmatched"] = int((~matched).sum())
        sample = sample.loc[matched]
    return sample, counts


def _estimate(sample: pd.DataFrame, design: str) -> tuple[float, float]:
    y, treated, strata, weights, clusters = _design_data(sample, design)
    return _regression(y, treated, strata, weights, clusters)


def _bootstrap(
    sample: pd.DataFrame, design: str, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Estimates on samples of people drawn with replacement (all triggers of a person)."""
    people, codes = np.unique(sample["_person"].to_numpy(), return_inverse=True)
    rows_of = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[rows_of], np.arange(len(people)))
    sizes = np.bincount(codes, minlength=len(people))
    draws = np.full(n_resamples, np.nan)
    for b in range(n_resamples):
        pick = rng.integers(0, len(people), len(people))
        rows = np.concatenate([rows_of[starts[p] : starts[p] + sizes[p]] for p in pick])
        boot = sample.iloc[rows].copy()
        # A person drawn twice is two people (two clusters).
        boot["_person"] = np.repeat(np.arange(len(pick)), sizes[pick])
        if design == "matching":
            boot = boot.loc[_matched(boot)]
        draws[b] = _estimate(boot, design)[0]
    return draws


# --------------------------------------------------------------------------- results


def _groups(
    frame: pd.DataFrame, cols: list[str], *others: pd.DataFrame
) -> tuple[list[tuple[tuple[Any, ...], pd.DataFrame]], list[np.ndarray]]:
    """The triggers of each group, and the rows of ``others`` in each group.

    Groups come from every row (a group whose answers are all after ``as_of`` is a
    row with n 0 and its exclusions, so that the exclusions add up).
    """
    if not cols:
        return [((), frame)], [np.array([len(o)], dtype=np.int64) for o in others]
    every = pd.concat([frame[cols], *(o[cols] for o in others)], ignore_index=True)
    bounds = np.cumsum([len(frame), *(len(o) for o in others)])
    groups, counts = [], []
    for key, part in every.groupby(cols, sort=True, dropna=False, observed=True):
        pos = part.index.to_numpy()
        groups.append(
            (key if isinstance(key, tuple) else (key,), frame.iloc[pos[pos < len(frame)]])
        )
        counts.append(
            np.bincount(np.searchsorted(bounds, pos, side="right"), minlength=len(bounds))
        )
    table = np.array(counts, dtype=np.int64).reshape(len(counts), len(bounds))
    return groups, [table[:, 1 + i] for i in range(len(others))]


def _keys(frame: pd.DataFrame, cols: list[str], keys: list[tuple[Any, ...]]) -> pd.DataFrame:
    if not cols:
        return pd.DataFrame(index=range(len(keys)))
    out = pd.DataFrame(keys, columns=cols)
    for c in cols:
        out[c] = out[c].astype(frame[c].dtype)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): _json_value(v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


class ClosedLoop(DisplayMixin):
    """The result of :func:`closed_loop`: three grouped results and the curves.

    Attributes
    ----------
    share : pandas.DataFrame
        Grouped result ``"closed_loop_share"``: ``n`` triggers whose window closed by
        ``as_of``, ``estimate`` percent followed up within the window (0-100, Wilson
        interval), ``n_followed_up``, ``n_excluded_after_as_of``,
        ``n_excluded_missing``, ``n_excluded_window_open``.
    time : pandas.DataFrame
        Grouped result ``"time_to_follow_up"``: ``n`` triggers up to ``as_of``,
        ``estimate`` the Kaplan-Meier median time to follow-up in ``unit`` (NaN when
        fewer than half are followed up within the window), ``ci_low``/``ci_high``
        (Brookmeyer-Crowley), ``se`` NaN; ``pct_followed_up_km`` (1 - S(window), in
        percent: uses the triggers whose window is still open too), ``n_events``,
        ``n_censored``, ``n_excluded_after_as_of``, ``n_excluded_missing``.
    effect : pandas.DataFrame
        Grouped result ``"closed_loop_effect"``: ``n`` triggers in the design's sample,
        ``estimate`` the difference followed-up minus not (next score for ``naive``
        and ``matching``, change from the prior to the next score for ``did``), in
        score points, ``se`` (cluster-robust by person, or the bootstrap's), the
        interval; ``design``, ``interpretation``, ``n_followed_up``,
        ``n_not_followed_up``, ``mean_followed_up``, ``mean_not_followed_up`` (the
        outcome's mean per arm; controls weighted for ``matching``), then the
        exclusions: ``after_as_of``, ``missing``, ``no_next_answer``,
        ``next_answer_within_window``, and ``no_prior_answer`` (did) or ``unmatched``
        (matching). A group whose smaller arm is below ``min_n`` is suppressed too.
    curve : pandas.DataFrame
        The Kaplan-Meier table per group (shown groups only) with ``followed_up`` =
        1 - survival, the cumulative share followed up by ``time`` (in ``unit``).
    design, interpretation, window, as_of, unit, trigger : str
        What was computed.
    """

    def __init__(
        self,
        *,
        share: pd.DataFrame,
        time: pd.DataFrame,
        effect: pd.DataFrame,
        curve: pd.DataFrame,
        meta: Mapping[str, Any],
    ) -> None:
        self.share = share
        self.time = time
        self.effect = effect
        self.curve = curve
        self.design = str(meta["design"])
        self.interpretation = _ASSUMPTIONS[self.design]
        self.window = str(meta["window"])
        self.as_of = str(meta["as_of"])
        self.unit = str(meta["unit"])
        self.trigger = str(meta["trigger"])
        self.meta = dict(meta)

    def summary(self) -> pd.DataFrame:
        """The three grouped results stacked (one row per measure and group)."""
        parts = [self.share, self.time, self.effect]
        return pd.concat([p.reset_index(drop=True) for p in parts], ignore_index=True)

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Cumulative share followed up by time since the trigger, per group.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure if omitted).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from hxmetrics.plotting import PALETTE, _axes, style

        ax = _axes(ax, 6.4, 3.6)
        by = [str(c) for c in self.meta["by"]]
        with style():
            for i, (keys, part) in enumerate(_groups(self.curve, by)[0]):
                times = np.concatenate(([0.0], part["time"].to_numpy(dtype=float)))
                done = np.concatenate(([0.0], part["followed_up"].to_numpy(dtype=float)))
                label = ", ".join(str(k) for k in keys) or None
                ax.step(times, done, where="post", color=PALETTE[i % len(PALETTE)], label=label)
            ax.axvline(float(self.meta["window_in_unit"]), color="grey", linestyle=":")
            ax.set_ylim(0.0, 1.02)
            ax.set_xlabel(f"time since the trigger ({self.unit})")
            ax.set_ylabel("share followed up")
            if by:
                ax.legend(frameon=False)
        return ax

    def to_dict(self) -> dict[str, Any]:
        """The result as plain values (JSON-ready); :meth:`from_dict` restores it."""
        return {
            "result": "ClosedLoop",
            "format": 1,
            "meta": {k: _json_value(v) for k, v in self.meta.items()},
            **{
                name: {"records": _records(frame), "attrs": frame.attrs.get("hxmetrics", {})}
                for name, frame in (
                    ("share", self.share),
                    ("time", self.time),
                    ("effect", self.effect),
                    ("curve", self.curve),
                )
            },
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ClosedLoop:
        """Restore a result saved with :meth:`to_dict` (frames as plain columns)."""
        if state.get("result") != "ClosedLoop":
            raise ParameterError(
                f"cannot restore a {state.get('result')!r} state with ClosedLoop.from_dict."
            )
        frames = {}
        for name in ("share", "time", "effect", "curve"):
            frame = pd.DataFrame.from_records(state[name]["records"])
            frame.attrs["hxmetrics"] = dict(state[name]["attrs"])
            frames[name] = frame
        return cls(**frames, meta=state["meta"])

    def _display_title(self) -> str:
        return (
            f"Closed loop ({self.trigger}, window {self.window}, as of {self.as_of}): "
            f"effect by design {self.design!r}"
        )

    def _display_notes(self) -> Sequence[str]:
        return (f"interpretation: {self.interpretation}",)


def closed_loop(
    responses: Any,
    followups: Any,
    *,
    trigger: Trigger = "detractor",
    instrument: str | None = None,
    window: Any = "48h",
    as_of: Any = None,
    by: str | Sequence[str] | None = None,
    design: str = "did",
    unit: str = "h",
    confidence: float = 0.95,
    n_resamples: int | None = None,
    random_state: int | np.random.Generator | None = None,
    min_n: int | None = None,
) -> ClosedLoop:
    """Share of bad feedback followed up in time, time to follow-up, and its effect.

    See the module notes (:mod:`hxmetrics.measures.responsiveness.closed_loop`) for
    the definitions of a trigger, a follow-up, the next and prior score, and the
    assumptions of each design.

    Parameters
    ----------
    responses : frame
        The responses table (``silo``, ``source_id``, ``instrument``, ``item``,
        ``score``, ``timestamp``; ``person_id`` for attributed answers; ``touchpoint``
        is used for matching when present). Any frame narwhals reads.
    followups : frame
        One row per follow-up contact: the person (``person_id``, or ``silo`` and
        ``source_id``) and ``timestamp``. E.g. ``events`` filtered to
        ``event_type == "follow_up"``, or tickets with ``first_response`` as
        ``timestamp``. Rows without a time are ignored (counted in
        ``attrs["hxmetrics"]["followups_without_timestamp"]``).
    trigger : {"detractor", "low_csat", "high_effort"} or callable
        Which answers call for a follow-up (see the module notes), or a function of
        the responses (a pandas frame) returning one boolean per row.
    instrument : str, optional
        The instrument a preset reads, if not its default (``nps``, ``csat``,
        ``ces``); not used with a callable.
    window : str or Timedelta, default "48h"
        Time allowed for the follow-up (a duration with a unit).
    as_of : timestamp, optional
        When the data were taken (default: the latest timestamp in either frame).
    by : str or list of str, optional
        Columns of ``responses`` to group by (``"silo"``, ``"touchpoint"``, ...).
    design : {"did", "matching", "naive"}, default "did"
        How the effect on the next score is estimated.
    unit : str, default "h"
        Unit of the times (``h``, ``D``, ``W``, ``M``, ``Q``, ``Y``).
    confidence : float, default 0.95
    n_resamples : int, optional
        With a number, the effect's interval is a percentile bootstrap over people (all
        triggers of a person together) and ``se`` the bootstrap's standard deviation;
        without, the cluster-robust normal interval.
    random_state : int or numpy.random.Generator, optional
        Seed of the bootstrap.
    min_n : int, optional
        Smallest group shown in each table (and smallest arm in the effect table).

    Returns
    -------
    ClosedLoop
        ``share``, ``time`` and ``effect`` (grouped results) and ``curve``.

    Raises
    ------
    ParameterError
        An unknown trigger or design, a window that is not a positive duration, an
        instrument the responses lack, a callable that does not return booleans.
    InputTableError
        A table lacks a column (``followups`` without ``timestamp``), has times that
        are not times, or scores off the preset's scale (naming table, column, rows).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.Timestamp("2024-01-01")
    >>> h = pd.Timedelta(hours=1)
    >>> responses = pd.DataFrame({
    ...     "silo": "customers", "source_id": ["a", "a", "b", "b", "c"],
    ...     "instrument": "nps", "item": "ltr", "score": [3.0, 8.0, 5.0, 6.0, 9.0],
    ...     "timestamp": [t, t + 200 * h, t, t + 200 * h, t]})
    >>> followups = pd.DataFrame({"silo": "customers", "source_id": ["a"],
    ...                           "timestamp": [t + 5 * h]})
    >>> out = closed_loop(responses, followups, window="48h", design="naive",
    ...                   as_of=t + 300 * h)
    >>> out.share[["n", "n_followed_up", "estimate"]]
       n  n_followed_up  estimate
    0  3              1      33.3
    >>> out.effect[["n", "estimate", "n_excluded_no_next_answer"]]
       n  estimate  n_excluded_no_next_answer
    0  2       2.0                          1
    """
    check_choice("design", design, DESIGNS)
    check_choice("unit", unit, list(UNIT_DAYS))
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    width_td = _window(window)
    if callable(trigger):
        if instrument is not None:
            raise ParameterError(
                "instrument= chooses the instrument of a preset trigger; a callable trigger "
                "chooses its rows itself."
            )
    elif not isinstance(trigger, str) or trigger not in _PRESETS:
        hint = did_you_mean(str(trigger), list(_PRESETS))
        raise ParameterError(
            f"trigger must be one of {', '.join(map(repr, _PRESETS))} or a callable "
            f"returning a boolean mask; got {trigger!r}.{hint}"
        )
    rng = None
    if n_resamples is not None:
        n_resamples = check_n_resamples(n_resamples, minimum=50)
        rng = check_random_state(random_state)

    resp = as_pandas(responses, table="responses").reset_index(drop=True)
    fol = as_pandas(followups, table="followups").reset_index(drop=True)
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    check_columns(resp.columns, ["instrument", "item", "score", "timestamp"], table="responses")
    key = _person_key(resp, fol)
    check_columns(resp.columns, [*key, *cols], table="responses")
    check_columns(fol.columns, [*key, "timestamp"], table="followups")
    clash = [c for c in cols if str(c).startswith("_")]
    if clash:
        raise ParameterError(f"by: column names starting with '_' are reserved; got {clash}.")

    ts, zoned_r = _utc_ns(resp["timestamp"], table="responses")
    fts, zoned_f = _utc_ns(fol["timestamp"], table="followups")
    if zoned_r != zoned_f and len(resp) and len(fol):
        raise ParameterError(
            "responses and followups: one has timestamps with a time zone and the other "
            "not; give both a time zone (or neither) so that they can be compared."
        )
    try:
        score = pd.to_numeric(resp["score"], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        coerced = pd.to_numeric(resp["score"], errors="coerce")
        bad = np.flatnonzero(coerced.isna().to_numpy() & resp["score"].notna().to_numpy())
        raise _failure(
            "responses", "score", "is_number", bad, "holds values that are not numbers"
        ) from None
    if callable(trigger):
        hit = _callable_mask(trigger, resp)
        read = hit
        name = getattr(trigger, "__name__", "callable")
    else:
        read, hit = _preset_mask(trigger, instrument, resp, score)
        name = trigger
    cutoff = _as_of(as_of, [ts, fts], zoned_r or zoned_f)
    person, fol_person = _person_codes([resp, fol], key)
    width = int(width_td.value)
    trig = _triggers(
        resp,
        fol_person,
        fts,
        person=person,
        ts=ts,
        score=score,
        read=read,
        hit=hit,
        cols=cols,
        cutoff=cutoff,
        width=width,
    )
    scale = _NS_PER_DAY * UNIT_DAYS[unit]
    frame = trig.frame
    groups, (after, missing) = _groups(frame, cols, trig.after_as_of, trig.missing)
    keys = _keys(frame, cols, [k for k, _ in groups])
    z = z_critical(confidence)
    window_unit = width / scale
    as_of_text = str(pd.Timestamp(cutoff))
    common = {
        "trigger": name,
        "window": window if isinstance(window, str) else str(width_td),
        "as_of": as_of_text,
        "unit": unit,
        "followups_without_timestamp": int(np.sum(fts == _MISSING)),
    }

    # 1. Share followed up within the window (triggers whose window has closed).
    share_rows = []
    for _, part in groups:
        closed = part["_closed"].to_numpy(dtype=bool)
        n = int(closed.sum())
        k = int(part["_followed"].to_numpy(dtype=bool)[closed].sum())
        p = k / n if n else math.nan
        lo, hi = wilson_interval(p, n, z)
        se = math.sqrt(p * (1 - p) / n) if n else math.nan
        share_rows.append((n, k, 100 * p, 100 * se, 100 * float(lo), 100 * float(hi)))
    st = np.array(share_rows, dtype=float).reshape(len(share_rows), 6)
    open_counts = np.array(
        [int((~part["_closed"].to_numpy(dtype=bool)).sum()) for _, part in groups],
        dtype=np.int64,
    )
    share = grouped_result(
        keys,
        measure="closed_loop_share",
        n=st[:, 0].astype(np.int64),
        estimate=st[:, 2],
        se=st[:, 3],
        ci_low=st[:, 4],
        ci_high=st[:, 5],
        confidence=confidence,
        method="wilson",
        min_n=min_n,
        extra={"n_followed_up": st[:, 1].astype(np.int64)},
        excluded={"after_as_of": after, "missing": missing, "window_open": open_counts},
        meta={**common, "bounds": (0.0, 100.0)},
    )

    # 2. Time to follow-up: Kaplan-Meier, censored at the window's end or at as_of.
    time_rows, curves = [], []
    for keys_g, part in groups:
        delay = part["_delay"].to_numpy(dtype=float)
        horizon = part["_horizon"].to_numpy(dtype=float)
        event = delay <= horizon
        durations = np.where(event, delay, horizon) / scale
        if len(part) == 0:
            time_rows.append((0, math.nan, math.nan, math.nan, math.nan, 0, 0))
            continue
        km = KaplanMeier(confidence=confidence).fit(durations, event, unit=unit)
        table = km.summary()
        surv = table["survival"].to_numpy()
        at = np.searchsorted(table["time"].to_numpy(), window_unit, side="right") - 1
        reached = 100 * (1 - (surv[at] if at >= 0 else 1.0))
        low, high = km.median_ci_ or (math.nan, math.nan)
        n_ev = int(event.sum())
        median = math.nan if km.median_ is None else float(km.median_)
        time_rows.append((len(part), median, low, high, reached, n_ev, len(part) - n_ev))
        curve = table.copy()
        curve["followed_up"] = 1.0 - curve["survival"].astype(float)
        for i, c in enumerate(cols):
            curve.insert(i, c, keys_g[i])
        curves.append(curve)
    tt = np.array(time_rows, dtype=float).reshape(len(time_rows), 7)
    time = grouped_result(
        keys,
        measure="time_to_follow_up",
        n=tt[:, 0].astype(np.int64),
        estimate=tt[:, 1],
        se=np.full(len(time_rows), np.nan),
        ci_low=tt[:, 2],
        ci_high=tt[:, 3],
        confidence=confidence,
        method="brookmeyer_crowley",
        min_n=min_n,
        extra={
            "pct_followed_up_km": tt[:, 4],
            "n_events": tt[:, 5].astype(np.int64),
            "n_censored": tt[:, 6].astype(np.int64),
        },
        excluded={"after_as_of": after, "missing": missing},
        meta={**common, "conf_type": "log"},
    )
    curve_frame = (
        pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=[*cols, "time", "survival", "followed_up"])
    )
    if cols and len(curve_frame):
        shown = time.loc[~time["suppressed"], cols]
        curve_frame = curve_frame.merge(shown, on=cols, how="inner")
    elif time["suppressed"].any():
        curve_frame = curve_frame.iloc[0:0]

    # 3. The effect on the next score.
    effect_rows, excluded_rows = [], []
    for _, part in groups:
        sample, counts = _effect_sample(part, design)
        excluded_rows.append(counts)
        y, treated, strata, weights, clusters = _design_data(sample, design)
        beta, se = _regression(y, treated, strata, weights, clusters)
        low, high = beta - z * se, beta + z * se
        if rng is not None and n_resamples is not None and len(sample):
            draws = _bootstrap(sample, design, n_resamples, rng)
            ok = draws[np.isfinite(draws)]
            if len(ok) >= 2:
                alpha = 1 - confidence
                se = float(np.std(ok, ddof=1))
                low, high = (float(q) for q in np.quantile(ok, [alpha / 2, 1 - alpha / 2]))
            else:
                se, low, high = math.nan, math.nan, math.nan
        wt, wc = weights * treated, weights * ~treated
        mean_t = float(np.sum(wt * y) / wt.sum()) if wt.sum() > 0 else math.nan
        mean_c = float(np.sum(wc * y) / wc.sum()) if wc.sum() > 0 else math.nan
        effect_rows.append(
            (
                len(sample),
                beta,
                se,
                low,
                high,
                int(treated.sum()),
                int((~treated).sum()),
                mean_t,
                mean_c,
            )
        )
    et = np.array(effect_rows, dtype=float).reshape(len(effect_rows), 9)
    reasons = list(excluded_rows[0]) if excluded_rows else []
    if not reasons:
        reasons = list(_effect_sample(frame.iloc[0:0], design)[1])
    excluded = {"after_as_of": after, "missing": missing}
    for r in reasons:
        excluded[r] = np.array([c[r] for c in excluded_rows], dtype=np.int64)
    size = len(effect_rows)
    effect = grouped_result(
        keys,
        measure="closed_loop_effect",
        n=et[:, 0].astype(np.int64),
        estimate=et[:, 1],
        se=et[:, 2],
        ci_low=et[:, 3],
        ci_high=et[:, 4],
        confidence=confidence,
        method="percentile_bootstrap" if rng is not None else "cluster_robust",
        min_n=min_n,
        extra={
            "design": pd.array([design] * size, dtype="string"),
            "interpretation": pd.array([_ASSUMPTIONS[design]] * size, dtype="string"),
            "n_followed_up": et[:, 5].astype(np.int64),
            "n_not_followed_up": et[:, 6].astype(np.int64),
            "mean_followed_up": et[:, 7],
            "mean_not_followed_up": et[:, 8],
        },
        excluded=excluded,
        meta={
            **common,
            "design": design,
            "interpretation": _ASSUMPTIONS[design],
            "n_resamples": n_resamples,
        },
    )
    effect = _suppress_small_arms(effect, min_n, cols)
    return ClosedLoop(
        share=share,
        time=time,
        effect=effect,
        curve=curve_frame,
        meta={**common, "design": design, "by": cols, "window_in_unit": window_unit},
    )


def _suppress_small_arms(effect: pd.DataFrame, min_n: int | None, cols: list[str]) -> pd.DataFrame:
    """Hide a shown group whose followed-up or other arm has fewer than ``min_n`` units.

    An arm's mean is a number about that arm's people: it is shown only for arms of
    at least ``min_n``, as a group is.
    """
    if min_n is None or not len(effect):
        return effect
    arms = np.minimum(
        effect["n_followed_up"].fillna(min_n).to_numpy(dtype=float),
        effect["n_not_followed_up"].fillna(min_n).to_numpy(dtype=float),
    )
    small = (arms < min_n) & ~effect["suppressed"].to_numpy(dtype=bool)
    if not small.any():
        return effect
    out = effect.copy()
    for c in out.columns:
        if c in cols or c in ("measure", "design", "interpretation", "suppressed"):
            continue
        if isinstance(out[c].dtype, pd.Int64Dtype):
            out.loc[small, c] = pd.NA
        elif out[c].dtype.kind == "f":
            out.loc[small, c] = np.nan
    out.loc[small, "suppressed"] = True
    out.attrs = effect.attrs
    return out
