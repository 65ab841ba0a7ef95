"""Who was asked: invitations, AAPOR response rates and non-response weights.

The optional ``invitations`` table (``invitation_id``, ``silo``, ``source_id``,
``instrument``, ``sent``, optional ``channel``) says who was invited to answer which
instrument; ``responses.invitation_id`` links an answer to its invitation. From the
two tables this module computes

* :func:`check_invitations`: the cross-table checks (a response linked to an unknown
  invitation or dated before it, an invitation for an unknown instrument, a link whose
  silo or silo id differs, one response linked to two invitations);
* :func:`response_rates`: the AAPOR response rates RR1-RR6 per group (AAPOR 2023,
  Standard Definitions, 10th edition), with a Wilson (1927) interval;
  :func:`aapor_response_rates` computes them from disposition counts;
* non-response weights that feed the ``weights=`` of every measure:
  :func:`rake` (iterative proportional fitting to known margins, Deming & Stephan
  1940) and :func:`response_propensity_weights` (inverse response propensity from a
  logistic regression on roster covariates, optionally in weighting classes, Little
  1986), both with Kish's (1965) design effect ``1 + CV²`` and effective n
  (:func:`kish_design_effect`); :func:`with_weights` writes them on the responses.

Dispositions of an invitation (AAPOR's codes; what invitations and responses support):

===============  =========================================================
``I``            a linked response answers every item of the invitation's
                 instrument (complete)
``P``            it answers at least ``partial_threshold`` (default one half)
                 of the items but not all (partial)
``R``            it answers fewer (a break-off, counted with refusals)
``R+NC+O``       no linked response: an eligible non-respondent (a roster
                 member who did not answer; refusals, non-contacts and
                 others cannot be told apart from invitations)
``UH+UO``        unknown eligibility: only from an ``eligibility`` column
                 (e.g. a bounced invitation: ``"unknown"``)
``NE``           known ineligible (``"ineligible"``): left out of every rate
===============  =========================================================

Every computation here is pandas/numpy: other engines' frames are converted at the
door (:func:`hxmetrics.tables.as_pandas`).

References
----------
The American Association for Public Opinion Research (2023). Standard Definitions:
Final Dispositions of Case Codes and Outcome Rates for Surveys. 10th edition. AAPOR.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
inference. JASA 22, 209-212.
Brown, L. D., Cai, T. T. & DasGupta, A. (2001). Interval estimation for a binomial
proportion. Statistical Science 16, 101-133.
Deming, W. E. & Stephan, F. F. (1940). On a least squares adjustment of a sampled
frequency table when the expected marginal totals are known. Annals of Mathematical
Statistics 11, 427-444.
Kish, L. (1965). Survey Sampling. Wiley.
Little, R. J. A. (1986). Survey nonresponse adjustments for estimates of means.
International Statistical Review 54, 139-157.
Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling
weights. Proceedings of the Survey Research Methods Section, ASA, 225-230.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay, html_block
from hxmetrics.errors import (
    ConvergenceError,
    HxWarning,
    InputTableError,
    ParameterError,
    check_choice,
    check_columns,
)
from hxmetrics.measures._inference import check_confidence, kish, wilson_interval, z_critical
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.privacy import check_min_n
from hxmetrics.privacy import check_group_columns
from hxmetrics.tables import as_pandas

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DEFINITIONS",
    "SurveyWeights",
    "aapor_response_rates",
    "check_invitations",
    "kish_design_effect",
    "rake",
    "response_propensity_weights",
    "response_rates",
    "with_weights",
]

#: The AAPOR response rates and what each assumes (AAPOR 2023, section on response rates).
DEFINITIONS = {
    "RR1": "I / ((I+P) + (R+NC+O) + (UH+UO)): completes only; every case of unknown "
    "eligibility counted as eligible (the minimum response rate)",
    "RR2": "(I+P) / ((I+P) + (R+NC+O) + (UH+UO)): partials count as respondents",
    "RR3": "I / ((I+P) + (R+NC+O) + e(UH+UO)): only the estimated eligible share e of the "
    "unknown-eligibility cases counted",
    "RR4": "(I+P) / ((I+P) + (R+NC+O) + e(UH+UO)): RR3 with partials as respondents",
    "RR5": "I / ((I+P) + (R+NC+O)): assumes no case of unknown eligibility is eligible (e = 0)",
    "RR6": "(I+P) / ((I+P) + (R+NC+O)): RR5 with partials as respondents (the maximum)",
}

_INVITATION_COLUMNS = ("invitation_id", "silo", "source_id", "instrument", "sent")
_RESPONSE_COLUMNS = ("response_id", "silo", "source_id", "instrument", "item", "timestamp")
_ELIGIBILITY = ("eligible", "unknown", "ineligible")
_EXAMPLES = 5
# Shares that add up to one within this (margins typed to 3-6 decimals still pass).
_SUM_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------
# Cross-table checks
# ---------------------------------------------------------------------------


def _positions(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _linked_ids(responses: pd.DataFrame) -> pd.Series:
    """``responses.invitation_id`` as text, empty strings as missing."""
    ids = responses["invitation_id"]
    ids = ids.astype("string")
    return ids.mask(ids.str.strip() == "")


def _failure(rows: np.ndarray, *, column: str, check: str, values: Any = None) -> pd.DataFrame:
    values = [None] * rows.size if values is None else list(values)
    return pd.DataFrame(
        {"column": column, "check": check, "failure_case": values, "index": rows},
    )


def _times(frame: pd.DataFrame, column: str, table: str) -> pd.Series:
    """A column as datetimes; values that are not dates are an InputTableError."""
    raw = frame[column]
    times = pd.to_datetime(raw, errors="coerce")
    bad = (times.isna() & raw.notna()).to_numpy(dtype=bool)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputTableError(
            f"{table}: {column} must hold dates and times (check datetime); {rows.size} "
            f"row(s) do not, e.g. rows {rows[:_EXAMPLES].tolist()} (0-based positions).",
            table=table,
            failure_cases=_failure(rows, column=column, check="datetime"),
        )
    return times


def check_invitations(
    invitations: Any,
    responses: Any,
    *,
    instruments: Iterable[str] | None = None,
) -> None:
    """Check invitations against the responses that link to them.

    Rows are named by their 0-based position in each table, never by an id.

    Parameters
    ----------
    invitations : frame
        The ``invitations`` table: ``invitation_id``, ``silo``, ``source_id``,
        ``instrument``, ``sent`` (any frame narwhals reads; checked in pandas).
    responses : frame
        The ``responses`` table with an ``invitation_id`` column (empty where an
        answer came without an invitation).
    instruments : iterable of str, optional
        The known instrument names (e.g. a catalogue's); by default the instruments
        found in ``responses``.

    Raises
    ------
    InputTableError
        One error listing every failed check with example row positions:
        ``unique_invitation_id`` (an invitation id twice), ``known_invitation``
        (a response links to an invitation that does not exist),
        ``after_invitation`` (responses.timestamp < invitations.sent),
        ``same_silo`` / ``same_source_id`` (the response and its invitation name
        different people), ``one_invitation_per_response`` (the rows of one
        response link to different invitations), ``known_instrument`` (an
        invitation for an instrument nobody answered and no catalogue knows).
        ``failure_cases`` has one row per failing row (``column``, ``check``,
        ``failure_case``, ``index`` = row position).

    Examples
    --------
    >>> import pandas as pd
    >>> inv = pd.DataFrame({"invitation_id": ["i1"], "silo": ["customers"],
    ...     "source_id": ["C1"], "instrument": ["nps"],
    ...     "sent": pd.to_datetime(["2024-01-02"])})
    >>> resp = pd.DataFrame({"response_id": ["r1"], "silo": ["customers"],
    ...     "source_id": ["C1"], "instrument": ["nps"], "item": ["ltr"],
    ...     "score": [9.0], "timestamp": pd.to_datetime(["2024-01-01"]),
    ...     "invitation_id": ["i1"]})
    >>> check_invitations(inv, resp)
    Traceback (most recent call last):
    ...
    hxmetrics.errors.InputTableError: responses and invitations: 1 response row(s) dated ...
    """
    inv = as_pandas(invitations, table="invitations")
    resp = as_pandas(responses, table="responses")
    check_columns(inv.columns, _INVITATION_COLUMNS, table="invitations")
    check_columns(resp.columns, [*_RESPONSE_COLUMNS, "invitation_id"], table="responses")
    problems: list[str] = []
    failures: list[pd.DataFrame] = []

    inv_ids = inv["invitation_id"].astype("string")
    dup = inv_ids.duplicated(keep=False).to_numpy(dtype=bool) & inv_ids.notna().to_numpy(dtype=bool)
    if dup.any():
        rows = _positions(dup)
        problems.append(
            f"invitations: {rows.size} row(s) share an invitation_id with another row (check "
            f"unique_invitation_id), e.g. rows {rows[:_EXAMPLES].tolist()}; an invitation "
            "id must name one invitation."
        )
        failures.append(_failure(rows, column="invitation_id", check="unique_invitation_id"))

    linked = _linked_ids(resp)
    has_link = linked.notna().to_numpy(dtype=bool)
    index = pd.Index(inv_ids.drop_duplicates())
    first_row = pd.Series(np.arange(len(inv)), index=inv_ids).groupby(level=0).first()
    pos = np.full(len(resp), -1, dtype=np.int64)
    if has_link.any():
        found = index.get_indexer(pd.Index(linked[has_link].to_numpy()))
        where = np.flatnonzero(has_link)
        ok = found >= 0
        pos[where[ok]] = first_row.reindex(index[found[ok]]).to_numpy(dtype=np.int64)
    unknown = has_link & (pos < 0)
    if unknown.any():
        rows = _positions(unknown)
        problems.append(
            f"responses: {rows.size} row(s) link (responses.invitation_id) to an invitation "
            f"that is not in invitations (check known_invitation), e.g. rows "
            f"{rows[:_EXAMPLES].tolist()}; load the invitations of every wave, or leave "
            "invitation_id empty for answers that came without an invitation."
        )
        failures.append(_failure(rows, column="invitation_id", check="known_invitation"))

    ok = pos >= 0
    if ok.any():
        r_rows = np.flatnonzero(ok)
        i_rows = pos[ok]
        ts_all = _times(resp, "timestamp", "responses")
        sent_all = _times(inv, "sent", "invitations")
        if (ts_all.dt.tz is None) != (sent_all.dt.tz is None):
            raise InputTableError(
                "responses.timestamp and invitations.sent: one has a time zone and the other "
                "not (check same_time_zone); convert both to one zone (or both to naive "
                "UTC) before linking them.",
                table="responses",
                failure_cases=_failure(
                    np.array([], dtype=np.int64), column="timestamp", check="same_time_zone"
                ),
            )
        ts = ts_all.iloc[r_rows].reset_index(drop=True)
        sent = sent_all.iloc[i_rows].reset_index(drop=True)
        before = (ts < sent).fillna(False).to_numpy(dtype=bool)
        if before.any():
            rows = r_rows[before]
            problems.append(
                f"responses and invitations: {rows.size} response row(s) dated before the "
                "invitation they link to (check after_invitation: responses.timestamp < "
                f"invitations.sent), e.g. responses rows {rows[:_EXAMPLES].tolist()} "
                f"(invitations rows {i_rows[before][:_EXAMPLES].tolist()}). A response "
                "comes after its invitation: check the link and the two clocks' time zones."
            )
            failures.append(_failure(rows, column="timestamp", check="after_invitation"))
        for column in ("silo", "source_id"):
            a = resp[column].astype("string").to_numpy(dtype=object)[r_rows]
            b = inv[column].astype("string").to_numpy(dtype=object)[i_rows]
            differ = a != b
            if differ.any():
                rows = r_rows[differ]
                problems.append(
                    f"responses and invitations: {rows.size} response row(s) whose {column} "
                    f"differs from their invitation's (check same_{column}), e.g. responses "
                    f"rows {rows[:_EXAMPLES].tolist()} (invitations rows "
                    f"{i_rows[differ][:_EXAMPLES].tolist()}); an invitation and its "
                    "response are one person's."
                )
                failures.append(_failure(rows, column=column, check=f"same_{column}"))

    if has_link.any():
        frame = pd.DataFrame(
            {"r": resp["response_id"].astype("string").to_numpy(), "i": linked.to_numpy()}
        )
        frame = frame[has_link]
        counts = frame.groupby("r", dropna=False)["i"].nunique()
        several = counts.index[counts.to_numpy() > 1]
        if len(several):
            bad = frame["r"].isin(several).to_numpy(dtype=bool)
            rows = np.flatnonzero(has_link)[bad]
            problems.append(
                f"responses: {len(several)} response(s) whose rows link to different "
                f"invitations (check one_invitation_per_response), e.g. rows "
                f"{rows[:_EXAMPLES].tolist()}; all rows of a response share one invitation."
            )
            failures.append(
                _failure(rows, column="invitation_id", check="one_invitation_per_response")
            )

    if instruments is None:
        known = set(resp["instrument"].dropna().astype(str))
        source = "the instruments answered in responses"
    else:
        if isinstance(instruments, str):
            raise ParameterError(
                "instruments must be an iterable of instrument names (e.g. a catalogue's "
                f"names), not one string; got {instruments!r}."
            )
        known = {str(name) for name in instruments}
        source = "the instrument catalogue"
    inv_instrument = inv["instrument"].astype("string")
    strange = ~inv_instrument.isin(sorted(known)).to_numpy(dtype=bool)
    if strange.any():
        rows = _positions(strange)
        names = sorted({str(v) for v in inv_instrument.to_numpy(dtype=object)[strange]})
        problems.append(
            f"invitations: {rows.size} invitation(s) for an instrument not in {source} "
            f"(check known_instrument): {names[:_EXAMPLES]}, e.g. rows "
            f"{rows[:_EXAMPLES].tolist()}; known: {sorted(known)[:10]}. Correct the name "
            "or pass the catalogue's instrument names (instruments=)."
        )
        failures.append(
            _failure(
                rows,
                column="instrument",
                check="known_instrument",
                values=inv_instrument.to_numpy(dtype=object)[strange],
            )
        )

    if problems:
        cases = pd.concat(failures, ignore_index=True)
        on_invitations = {"unique_invitation_id", "known_instrument"}
        table = "invitations" if set(cases["check"]) <= on_invitations else "responses"
        raise InputTableError(
            " ".join(problems) + " (Row numbers are 0-based positions.)",
            table=table,
            failure_cases=cases,
        )


# ---------------------------------------------------------------------------
# Response rates
# ---------------------------------------------------------------------------


def _rates(i: Any, p: Any, rnco: Any, u: Any, e: Any) -> dict[str, np.ndarray]:
    """RR1-RR6 (shares) and their denominators, vectorised over groups."""
    i, p, rnco, u, e = (np.asarray(x, dtype=float) for x in (i, p, rnco, u, e))
    known = i + p + rnco
    dens = {
        "RR1": known + u,
        "RR2": known + u,
        "RR3": known + e * u,
        "RR4": known + e * u,
        "RR5": known,
        "RR6": known,
    }
    nums = {"RR1": i, "RR2": i + p, "RR3": i, "RR4": i + p, "RR5": i, "RR6": i + p}
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in DEFINITIONS:
            out[name] = np.where(dens[name] > 0, nums[name] / dens[name], np.nan)
            out[f"den_{name}"] = dens[name]
    return out


def _check_e(e: Any) -> float:
    try:
        value = float(e)
    except (TypeError, ValueError):
        raise ParameterError(
            f"e (the estimated eligible share of unknown-eligibility cases) must be a "
            f"number in [0, 1] or None; got {e!r}."
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ParameterError(f"e must lie in [0, 1]; got {e!r}.")
    return value


def aapor_response_rates(
    counts: Mapping[str, float], *, e: float | None = None
) -> dict[str, float]:
    """AAPOR response rates RR1-RR6 from disposition counts.

    Parameters
    ----------
    counts : mapping
        Counts (or weighted counts) by AAPOR code: ``I`` (complete), ``P``
        (partial), ``R`` (refusal and break-off), ``NC`` (non-contact), ``O``
        (other), ``UH``, ``UO`` (unknown eligibility), ``NE`` (not eligible; used
        only to estimate ``e``). Missing codes count 0; codes are case-insensitive.
    e : float, optional
        The estimated eligible share of the unknown-eligibility cases (RR3, RR4).
        By default the proportional estimate of AAPOR's outcome-rate calculator,
        ``(I+P+R+NC+O) / (I+P+R+NC+O+NE)`` (1 when there are no such cases).

    Returns
    -------
    dict
        ``RR1`` ... ``RR6`` (shares, 0-1) and ``e``.

    References
    ----------
    AAPOR (2023). Standard Definitions, 10th edition: the response-rate formulas.

    Examples
    --------
    The outcomerate R package's documented example (README, v1.0.1): 4 complete,
    2 partial, 1 each of R, NC, O, UH, UO and NE, e = 9/10:

    >>> rates = aapor_response_rates({"I": 4, "P": 2, "R": 1, "NC": 1, "O": 1,
    ...                               "UH": 1, "UO": 1, "NE": 1})
    >>> {k: round(v, 3) for k, v in rates.items()}
    {'RR1': 0.364, 'RR2': 0.545, 'RR3': 0.37, 'RR4': 0.556, 'RR5': 0.444, 'RR6': 0.667, 'e': 0.9}
    """
    allowed = ("I", "P", "R", "NC", "O", "UH", "UO", "NE")
    c: dict[str, float] = dict.fromkeys(allowed, 0.0)
    for key, value in counts.items():
        code = str(key).upper()
        check_choice("disposition code", code, allowed)
        v = float(value)
        if not np.isfinite(v) or v < 0:
            raise ParameterError(f"count of {code} must be a finite number >= 0; got {value!r}.")
        c[code] += v
    eligible = c["I"] + c["P"] + c["R"] + c["NC"] + c["O"]
    if e is None:
        e_value = eligible / (eligible + c["NE"]) if eligible + c["NE"] > 0 else 1.0
    else:
        e_value = _check_e(e)
    rates = _rates(c["I"], c["P"], c["R"] + c["NC"] + c["O"], c["UH"] + c["UO"], e_value)
    out = {name: float(rates[name]) for name in DEFINITIONS}
    out["e"] = float(e_value)
    return out


def _applicable(partial: int, unknown: int) -> dict[str, str]:
    """Which of RR1-RR6 this data supports, and why (one sentence each)."""
    out = {"RR1": "applies: completes over every invitation not known to be ineligible."}
    out["RR2"] = (
        "applies: partials count as respondents."
        if partial
        else "equals RR1 here: no response is partial."
    )
    if unknown:
        out["RR3"] = "applies: unknown-eligibility invitations weighted by the estimated e."
        out["RR4"] = "applies: RR3 with partials as respondents."
        out["RR5"] = (
            "applies only if no unknown-eligibility invitation is eligible (e = 0); "
            "overstates the rate otherwise."
        )
        out["RR6"] = "as RR5, with partials as respondents."
    else:
        out["RR3"] = "equals RR1 here: no invitation has unknown eligibility (no e needed)."
        out["RR4"] = "equals RR2 here: no invitation has unknown eligibility."
        out["RR5"] = (
            "equals RR1 here: every invitation went to a known-eligible roster member, "
            "so the assumption of no unknown eligibility holds."
        )
        out["RR6"] = "equals RR2 here, for the same reason."
    return out


def _dispositions(
    inv: pd.DataFrame,
    resp: pd.DataFrame,
    *,
    items: Mapping[str, Sequence[str]] | None,
    partial_threshold: float,
    eligibility: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per invitation: the disposition code and the share of its items answered."""
    inv_ids = inv["invitation_id"].astype("string").to_numpy(dtype=object)
    linked = _linked_ids(resp)
    has = linked.notna().to_numpy(dtype=bool)
    rows = pd.DataFrame(
        {
            "invitation_id": linked.to_numpy(dtype=object)[has],
            "instrument": resp["instrument"].astype("string").to_numpy(dtype=object)[has],
            "item": resp["item"].astype("string").to_numpy(dtype=object)[has],
        }
    )
    if "score" in resp.columns:
        numbers = pd.to_numeric(resp["score"], errors="coerce")
        text = (numbers.isna() & resp["score"].notna()).to_numpy(dtype=bool)
        if text.any():
            # A score that is not a number is bad input, not an unanswered item.
            at = np.flatnonzero(text)
            raise InputTableError(
                f"responses: score must hold numbers (check numeric); {at.size} row(s) "
                f"do not, e.g. rows {at[:_EXAMPLES].tolist()} (0-based positions).",
                table="responses",
                failure_cases=_failure(at, column="score", check="numeric"),
            )
        answered = numbers.notna().to_numpy(dtype=bool)
        rows = rows[answered[has]]
    instrument_of = pd.Series(
        inv["instrument"].astype("string").to_numpy(dtype=object), index=inv_ids
    )
    instrument_of = instrument_of[~instrument_of.index.duplicated()]
    same = pd.Series(rows["instrument"].to_numpy(), dtype="string").eq(
        pd.Series(instrument_of.reindex(rows["invitation_id"]).to_numpy(), dtype="string")
    )
    rows = rows[same.fillna(False).to_numpy(dtype=bool)]
    if items is None:
        all_items = resp[["instrument", "item"]].astype("string").drop_duplicates()
        size = all_items.groupby("instrument")["item"].nunique()
    else:
        allowed = pd.DataFrame(
            [(str(k), str(v)) for k, values in items.items() for v in values],
            columns=["instrument", "item"],
            dtype=object,
        ).drop_duplicates()
        size = allowed.groupby("instrument")["item"].nunique()
        rows = rows.merge(allowed, on=["instrument", "item"], how="inner")
    answered_n = rows.drop_duplicates().groupby("invitation_id")["item"].nunique()
    linked_any = pd.Index(linked.dropna().unique())
    n_answered = answered_n.reindex(inv_ids).fillna(0).to_numpy(dtype=float)
    n_items = size.reindex(inv["instrument"].astype("string").to_numpy(dtype=object))
    n_items_arr = n_items.fillna(0).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_items_arr > 0, n_answered / n_items_arr, 0.0)
    responded = np.asarray(pd.Index(inv_ids).isin(linked_any), dtype=bool)
    code = np.where(
        ~responded,
        "NR",
        np.where(share >= 1.0, "I", np.where(share >= partial_threshold, "P", "R")),
    ).astype(object)
    if eligibility is not None:
        status = inv[eligibility].astype("string").str.strip().str.lower()
        bad = ~status.isin(_ELIGIBILITY).to_numpy(dtype=bool)
        if bad.any():
            where = np.flatnonzero(bad)
            raise InputTableError(
                f"invitations: the eligibility column {eligibility!r} must hold "
                f"{list(_ELIGIBILITY)} on every row (check eligibility_values); "
                f"{where.size} row(s) do not, e.g. rows {where[:_EXAMPLES].tolist()}. Map "
                "bounced or undeliverable invitations to 'unknown' and people outside the "
                "survey's population to 'ineligible'.",
                table="invitations",
                failure_cases=_failure(
                    where,
                    column=eligibility,
                    check="eligibility_values",
                    values=status.to_numpy(dtype=object)[bad],
                ),
            )
        s = status.to_numpy(dtype=object)
        # A response shows the invitee was eligible (AAPOR): only non-replies move.
        code = np.where(
            code == "NR",
            np.where(s == "unknown", "U", np.where(s == "ineligible", "NE", "NR")),
            code,
        ).astype(object)
    return code, share


def response_rates(
    invitations: Any,
    responses: Any,
    *,
    by: str | Sequence[str] | None = None,
    definition: str = "RR1",
    eligibility: str | None = None,
    e: float | None = None,
    items: Mapping[str, Sequence[str]] | None = None,
    partial_threshold: float = 0.5,
    instruments: Iterable[str] | None = None,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """AAPOR response rates per group, from invitations and the responses linked to them.

    Each invitation gets a disposition (module docstring): complete (I), partial (P),
    break-off (R), eligible non-reply (R+NC+O), unknown eligibility (UH+UO, only from
    ``eligibility``) or not eligible (NE, left out). The rates are AAPOR's
    (:data:`DEFINITIONS`; AAPOR 2023):

    * RR1 = I / ((I+P) + (R+NC+O) + (UH+UO)), RR2 counts partials (I+P) as respondents;
    * RR3, RR4 count only ``e`` of the unknown-eligibility cases;
    * RR5, RR6 assume none of them is eligible.

    With invitations to roster members and no ``eligibility`` column there is no
    unknown eligibility: RR3 = RR5 = RR1 and RR4 = RR6 = RR2, and the result says so
    (``attrs["hxmetrics"]["applicable"]``).

    Parameters
    ----------
    invitations, responses : frame
        The tables (any frame narwhals reads; computed in pandas), checked first with
        :func:`check_invitations`. Group columns (``by``) are columns of
        ``invitations`` (join roles or teams onto it first).
    by : str or list of str, optional
        Group columns of ``invitations`` (e.g. ``"instrument"``, ``"channel"``, ``"role"``).
    definition : {"RR1", ..., "RR6"}
        The rate in ``estimate``; all six are in ``pct_rr1`` ... ``pct_rr6``.
    eligibility : str, optional
        A column of ``invitations`` with ``"eligible"``, ``"unknown"`` (e.g. the
        invitation bounced) or ``"ineligible"`` on every row. Only invitations without
        a response move: a response shows the invitee was eligible.
    e : float, optional
        The estimated eligible share of the unknown-eligibility invitations (RR3,
        RR4). By default AAPOR's calculator's proportional estimate over the whole
        table, ``(I+P+R+NC+O) / (I+P+R+NC+O+NE)``.
    items : mapping, optional
        Instrument -> its items (e.g. from a catalogue). By default an instrument's
        items are every item answered for it anywhere in ``responses``.
    partial_threshold : float, default 0.5
        The partial rule: a response answering all of its instrument's items is
        complete; at least this share but not all, partial; fewer, a break-off
        (AAPOR leaves the cut-offs to the researcher and suggests one half as the
        lowest share for a partial).
    instruments : iterable of str, optional
        Known instrument names for :func:`check_invitations`.
    confidence : float
        Level of the Wilson interval.
    min_n : int, optional
        Smallest group shown (invitations in the denominator); default no suppression,
        as the other answer measures.

    Returns
    -------
    pandas.DataFrame
        The grouped-result protocol: ``measure`` (``"response_rate"``), group columns,
        ``n`` (invitations not known to be ineligible), ``estimate`` (the chosen
        rate in percent), ``se``, ``ci_low``, ``ci_high`` (Wilson score interval,
        Wilson 1927, recommended by Brown, Cai & DasGupta 2001, with the rate's
        denominator as n: for RR3/RR4 ``e`` is taken as known), ``complete``,
        ``partial``, ``breakoff``, ``no_reply``, ``unknown_eligibility``, ``e``,
        ``pct_rr1`` ... ``pct_rr6``, ``n_excluded_ineligible``, ``suppressed``.
        ``attrs["hxmetrics"]`` adds ``definition``, ``applicable`` (RR -> why it
        applies or equals another here), ``partial_rule`` and ``e_method``.

    Raises
    ------
    InputTableError
        The checks of :func:`check_invitations`; bad eligibility values.
    ParameterError
        An unknown definition, ``e`` or ``partial_threshold`` outside (0, 1], a group
        column missing from ``invitations``.

    References
    ----------
    AAPOR (2023). Standard Definitions, 10th edition.
    Wilson, E. B. (1927). JASA 22, 209-212.

    Examples
    --------
    >>> import pandas as pd
    >>> inv = pd.DataFrame({"invitation_id": ["i1", "i2", "i3", "i4"],
    ...     "silo": "customers", "source_id": ["C1", "C2", "C3", "C4"],
    ...     "instrument": "nps", "sent": pd.Timestamp("2024-01-01")})
    >>> resp = pd.DataFrame({"response_id": ["r1"], "silo": "customers",
    ...     "source_id": ["C1"], "instrument": "nps", "item": "ltr", "score": 9.0,
    ...     "timestamp": pd.Timestamp("2024-01-03"), "invitation_id": ["i1"]})
    >>> r = response_rates(inv, resp)
    >>> r[["n", "complete", "no_reply", "estimate"]]
       n  complete  no_reply  estimate
    0  4         1         3      25.0
    """
    confidence = check_confidence(confidence)
    check_choice("definition", definition, tuple(DEFINITIONS))
    min_n = check_min_n(min_n)
    try:
        threshold = float(partial_threshold)
    except (TypeError, ValueError):
        threshold = np.nan
    if not 0.0 < threshold <= 1.0:
        raise ParameterError(
            f"partial_threshold must lie in (0, 1] (the lowest share of items answered "
            f"for a partial); got {partial_threshold!r}."
        )
    inv = as_pandas(invitations, table="invitations")
    resp = as_pandas(responses, table="responses")
    check_invitations(inv, resp, instruments=instruments)
    by_cols = [by] if isinstance(by, str) else list(by or ())
    check_group_columns(by_cols)
    if "invitation_id" in by_cols:  # an id: one group per invitation (one person)
        check_group_columns("source_id", what="by=['invitation_id'] (like source_id)")
    check_columns(
        inv.columns, [*by_cols, *([eligibility] if eligibility else [])], table="invitations"
    )
    code, _ = _dispositions(
        inv, resp, items=items, partial_threshold=threshold, eligibility=eligibility
    )
    counts = pd.DataFrame(
        {
            c: (code == k).astype(np.int64)
            for c, k in (
                ("complete", "I"),
                ("partial", "P"),
                ("breakoff", "R"),
                ("no_reply", "NR"),
                ("unknown_eligibility", "U"),
                ("ineligible", "NE"),
            )
        }
    )
    if by_cols:
        for c in by_cols:
            counts[c] = inv[c].to_numpy()
        grouped = counts.groupby(by_cols, dropna=False, sort=True, observed=True).sum()
        keys = grouped.index.to_frame(index=False)
        sums = grouped.reset_index(drop=True)
    else:
        keys = pd.DataFrame(index=range(1))
        sums = counts.sum().to_frame().T
    tot = counts.sum()
    eligible_total = float(tot[["complete", "partial", "breakoff", "no_reply"]].sum())
    if e is None:
        denom = eligible_total + float(tot["ineligible"])
        e_value = eligible_total / denom if denom > 0 else 1.0
        e_method = "proportional: (I+P+R+NC+O)/(I+P+R+NC+O+NE) over the whole table"
    else:
        e_value = _check_e(e)
        e_method = "given"
    i = sums["complete"].to_numpy(dtype=float)
    p = sums["partial"].to_numpy(dtype=float)
    rnco = (sums["breakoff"] + sums["no_reply"]).to_numpy(dtype=float)
    u = sums["unknown_eligibility"].to_numpy(dtype=float)
    rates = _rates(i, p, rnco, u, e_value)
    share = rates[definition]
    den = rates[f"den_{definition}"]
    z = z_critical(confidence)
    low, high = wilson_interval(share, den, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(den > 0, np.sqrt(np.clip(share * (1 - share), 0, None) / den), np.nan)
    n = (i + p + rnco + u).astype(np.int64)
    extra: dict[str, Any] = {
        "complete": sums["complete"].to_numpy(dtype=np.int64),
        "partial": sums["partial"].to_numpy(dtype=np.int64),
        "breakoff": sums["breakoff"].to_numpy(dtype=np.int64),
        "no_reply": sums["no_reply"].to_numpy(dtype=np.int64),
        "unknown_eligibility": sums["unknown_eligibility"].to_numpy(dtype=np.int64),
        "e": np.full(len(keys), e_value),
    }
    for name in DEFINITIONS:
        extra[f"pct_{name.lower()}"] = 100 * rates[name]
    applicable = _applicable(int(tot["partial"]), int(tot["unknown_eligibility"]))
    return grouped_result(
        keys,
        measure="response_rate",
        n=n,
        estimate=100 * share,
        se=100 * se,
        ci_low=100 * low,
        ci_high=100 * high,
        confidence=confidence,
        method="wilson",
        min_n=min_n,
        extra=extra,
        excluded={"ineligible": sums["ineligible"].to_numpy(dtype=np.int64)},
        meta={
            "bounds": (0.0, 100.0),
            "test": "z",
            "definition": definition,
            "definitions": dict(DEFINITIONS),
            "applicable": applicable,
            "partial_rule": (
                f"complete: every item of the invitation's instrument answered; partial: at "
                f"least {threshold:g} of them; break-off (R): fewer"
            ),
            "e": e_value,
            "e_method": e_method,
            "source": "AAPOR (2023), Standard Definitions, 10th edition",
        },
    )


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def kish_design_effect(weights: Any) -> dict[str, float]:
    """Kish's (1965) design effect of unequal weights and the effective sample size.

    ``deff = 1 + CV² = n Σw² / (Σw)²`` (CV with the population variance of the
    weights) and ``n_eff = (Σw)² / Σw² = n / deff``.

    Parameters
    ----------
    weights : array-like
        Positive finite weights.

    Returns
    -------
    dict
        ``n``, ``n_eff``, ``deff``, ``cv``.

    Examples
    --------
    Weights 1, 2, 3, 4: CV² = 1.25 / 2.5² = 0.2, so deff = 1.2 and n_eff = 4 / 1.2.

    >>> {k: round(v, 4) for k, v in kish_design_effect([1, 2, 3, 4]).items()}
    {'n': 4, 'n_eff': 3.3333, 'deff': 1.2, 'cv': 0.4472}
    """
    w = np.asarray(weights, dtype=float).ravel()
    if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ParameterError("weights must be a non-empty array of finite numbers > 0.")
    n_eff, deff = kish(w.sum(), np.square(w).sum(), w.size)
    return {
        "n": int(w.size),
        "n_eff": float(n_eff),
        "deff": float(deff),
        "cv": float(np.sqrt(max(float(deff) - 1.0, 0.0))),
    }


@dataclasses.dataclass(frozen=True, eq=False)
class SurveyWeights(DataclassDisplay):
    """Non-response (or calibration) weights and how they were made.

    Attributes
    ----------
    weights : pandas.Series
        One weight per unit, named ``"weight"``: indexed by ``response_id`` (from
        :func:`response_propensity_weights`, or :func:`rake` on a sample with a
        ``response_id`` column) or by the sample's index. :func:`with_weights`
        writes them on the responses.
    method : str
        ``"raking"``, ``"propensity"`` or ``"propensity_classes"``.
    n, n_eff, deff : int, float, float
        Units weighted, Kish's effective n and design effect (1 + CV²).
    details : pandas.DataFrame
        Raking: ``column, category, target, achieved, unweighted`` (shares);
        propensity: the model's ``term, coef, se`` (and weighting classes).
    iterations : int or None
        Raking iterations (full cycles over the margins).
    notes : tuple of str
        Trimming, convergence, classes.
    """

    weights: pd.Series
    method: str
    n: int
    n_eff: float
    deff: float
    details: pd.DataFrame
    iterations: int | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """One row: method, n, n_eff, deff, min, median, max and total of the weights."""
        w = self.weights.to_numpy(dtype=float)
        return pd.DataFrame(
            {
                "method": [self.method],
                "n": [self.n],
                "n_eff": [self.n_eff],
                "deff": [self.deff],
                "min": [float(w.min())],
                "median": [float(np.median(w))],
                "max": [float(w.max())],
                "total": [float(w.sum())],
            }
        )

    def _repr_html_(self) -> str:
        # The weights are indexed by response ids: never shown, only their summary.
        return html_block(
            f"SurveyWeights ({self.method}, {self.n:,} units)",
            self.summary(),
            notes=list(self.notes),
        )

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Histogram of the weights, with their mean and Kish's design effect.

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
        w = self.weights.to_numpy(dtype=float)
        with style():
            ax.hist(w, bins=min(40, max(5, int(np.sqrt(w.size)))), color=PALETTE[0])
            ax.axvline(float(w.mean()), color="grey", linestyle=":")
            ax.set_xlabel("weight")
            ax.set_ylabel("units")
            ax.set_title(f"{self.method}: deff {self.deff:.2f}, n_eff {self.n_eff:,.0f}")
        return ax


def _weights_result(
    w: np.ndarray,
    index: pd.Index,
    *,
    method: str,
    details: pd.DataFrame,
    iterations: int | None = None,
    notes: Sequence[str] = (),
) -> SurveyWeights:
    k = kish_design_effect(w)
    return SurveyWeights(
        weights=pd.Series(w, index=index, name="weight", dtype=float),
        method=method,
        n=int(k["n"]),
        n_eff=k["n_eff"],
        deff=k["deff"],
        details=details,
        iterations=iterations,
        notes=tuple(notes),
    )


def _unit_index(sample: pd.DataFrame) -> pd.Index:
    if "response_id" not in sample.columns:
        return sample.index
    ids = sample["response_id"].astype("string")
    if ids.duplicated().any() or ids.isna().any():
        raise ParameterError(
            "the sample has a response_id column with repeated or missing values: rake "
            "weights one row per response (or per person); keep one row per response, "
            "e.g. responses.drop_duplicates('response_id') joined to the margin columns."
        )
    return pd.Index(ids.to_numpy(dtype=object), name="response_id")


def _base_weights(sample: pd.DataFrame, weight: str | None, table: str) -> np.ndarray:
    if weight is None:
        return np.ones(len(sample))
    check_columns(sample.columns, [weight], table=table)
    w = pd.to_numeric(sample[weight], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputTableError(
            f"{table}: the base weights {weight!r} must be finite numbers > 0 (check "
            f"positive_weight); {rows.size} row(s) are not, e.g. rows "
            f"{rows[:_EXAMPLES].tolist()} (0-based positions).",
            table=table,
            failure_cases=_failure(rows, column=weight, check="positive_weight"),
        )
    return w


def rake(
    sample: Any,
    margins: Mapping[str, Mapping[Any, float]],
    *,
    weight: str | None = None,
    total: float | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
) -> SurveyWeights:
    """Rake weights to known population margins (iterative proportional fitting).

    Deming & Stephan's (1940) algorithm: in turn for each margin, multiply the
    weights of every unit in a category by (target share / weighted share), and
    cycle until every weighted margin is within ``tol`` of its target. The raked
    weights are the base weights times one factor per margin category, the closest
    such weights to the base weights in the raking (Kullback-Leibler) sense.

    Parameters
    ----------
    sample : frame
        One row per unit (respondent or response) with the margin columns (any frame
        narwhals reads; computed in pandas). With a unique ``response_id`` column the
        weights are indexed by it, ready for :func:`with_weights`.
    margins : mapping
        Column -> {category: population share}. The shares of a column are
        proportions that add up to one (within 1e-6), each > 0; every category of
        the data must have one and every category named must occur in the data.
    weight : str, optional
        A column of base (design) weights to start from; 1 by default.
    total : float, optional
        The weights' total; by default the sample size (mean weight 1). Use the
        population size to get expansion weights.
    max_iter : int, default 1000
        Most cycles over the margins.
    tol : float, default 1e-10
        Largest allowed gap between a weighted share and its target.

    Returns
    -------
    SurveyWeights
        ``weights``, Kish's ``deff`` and ``n_eff``, ``details`` (target, achieved and
        unweighted share per margin category), ``iterations``.

    Raises
    ------
    ParameterError
        Margins that do not add up to one, a share <= 0, a category the data lack,
        a data category missing from the margins, a margin column not in the sample.
    InputTableError
        Missing values in a margin column; base weights not finite and > 0.
    ConvergenceError
        The margins are not met within ``max_iter`` cycles (raking converges for any
        table without empty cells; with empty cells it may not: margins that no
        weights can meet, e.g. a category combination the sample lacks that the
        margins need). The message names the margin furthest off.

    References
    ----------
    Deming, W. E. & Stephan, F. F. (1940). Annals of Mathematical Statistics 11,
    427-444. Kish, L. (1965). Survey Sampling.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"role": ["customer"] * 6 + ["worker"] * 4,
    ...                   "tenure": ["new", "old"] * 5})
    >>> w = rake(s, {"role": {"customer": 0.8, "worker": 0.2},
    ...              "tenure": {"new": 0.5, "old": 0.5}})
    >>> w.weights.groupby(s["role"]).sum().round(6).to_dict()
    {'customer': 8.0, 'worker': 2.0}
    >>> round(w.deff, 4)
    1.1667
    """
    frame = as_pandas(sample, table="sample")
    if not isinstance(margins, Mapping) or not margins:
        raise ParameterError(
            "margins must be a non-empty mapping of column -> {category: share}, e.g. "
            "{'role': {'customer': 0.7, 'worker': 0.3}}."
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ParameterError(f"max_iter must be a whole number >= 1; got {max_iter!r}.")
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        tol = np.nan
    if not tol > 0:
        raise ParameterError("tol must be a number > 0 (the largest gap of a share).")
    if len(frame) == 0:
        raise InputTableError(
            "sample: no rows to rake.",
            table="sample",
            failure_cases=_failure(np.array([], dtype=np.int64), column="", check="not_empty"),
        )
    check_columns(frame.columns, [str(c) for c in margins], table="sample")
    index = _unit_index(frame)
    w = _base_weights(frame, weight, "sample").copy()
    codes: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    labels: list[list[Any]] = []
    for column, shares in margins.items():
        if not isinstance(shares, Mapping) and not isinstance(shares, pd.Series):
            raise ParameterError(
                f"margins[{column!r}] must map each category to its population share; got "
                f"{type(shares).__name__}."
            )
        cats = list(shares.keys())
        values = np.array([float(shares[c]) for c in cats], dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ParameterError(
                f"margins[{column!r}]: every share must be a number > 0 (a category with "
                "no population has no place in the data either); got "
                f"{dict(zip(cats, values.tolist(), strict=True))}."
            )
        if abs(values.sum() - 1.0) > _SUM_TOLERANCE:
            raise ParameterError(
                f"margins[{column!r}]: the shares add up to {values.sum():.6g}, not 1. Give "
                "population proportions (divide counts by the population total)."
            )
        col = frame[column]
        missing = col.isna().to_numpy(dtype=bool)
        if missing.any():
            rows = np.flatnonzero(missing)
            raise InputTableError(
                f"sample: the margin column {column!r} is missing on {rows.size} row(s) "
                f"(check not_missing), e.g. rows {rows[:_EXAMPLES].tolist()} (0-based "
                "positions); give them a category (e.g. 'unknown', with its share) or drop "
                "them first.",
                table="sample",
                failure_cases=_failure(rows, column=str(column), check="not_missing"),
            )
        text = col.astype("string").to_numpy(dtype=object)
        cat_text = [str(c) for c in cats]
        if len(set(cat_text)) != len(cat_text):
            raise ParameterError(f"margins[{column!r}] names a category twice: {cat_text}.")
        code = pd.Index(cat_text).get_indexer(pd.Index(text))
        if np.any(code < 0):
            absent = sorted({str(v) for v in text[code < 0]})
            raise ParameterError(
                f"margins[{column!r}] has no share for the data's categories {absent[:10]}; "
                "every category of the data needs a population share (or recode it)."
            )
        seen = np.bincount(code, minlength=len(cats)) > 0
        if not seen.all():
            lacking = [c for c, s in zip(cat_text, seen, strict=True) if not s]
            raise ParameterError(
                f"margins[{column!r}] names categories the data lack: {lacking}; no weight "
                "can represent them. Collapse them into a neighbouring category or drop "
                "them from the margins (and rescale the shares)."
            )
        codes.append(code)
        targets.append(values / values.sum())
        labels.append(cats)
    unweighted = [
        np.bincount(c, weights=w, minlength=t.size) / w.sum()
        for c, t in zip(codes, targets, strict=True)
    ]
    base_total = w.sum()
    iterations = 0
    gap = np.inf
    for iterations in range(1, int(max_iter) + 1):  # noqa: B007 (read after the loop)
        for code, target in zip(codes, targets, strict=True):
            current = np.bincount(code, weights=w, minlength=target.size)
            w = w * (target * base_total / current)[code]
        gap = max(
            float(np.max(np.abs(np.bincount(c, weights=w, minlength=t.size) / w.sum() - t)))
            for c, t in zip(codes, targets, strict=True)
        )
        if gap <= tol:
            break
    if gap > tol:
        worst = max(
            range(len(codes)),
            key=lambda j: float(
                np.max(
                    np.abs(
                        np.bincount(codes[j], weights=w, minlength=targets[j].size) / w.sum()
                        - targets[j]
                    )
                )
            ),
        )
        raise ConvergenceError(
            f"rake: the margins are not met after {max_iter} cycles (largest gap "
            f"{gap:.3g}, in margin {list(margins)[worst]!r}). The sample may lack a "
            "combination of categories the margins need (empty cells); collapse sparse "
            "categories or raise max_iter."
        )
    scale = (float(total) if total is not None else float(len(frame))) / w.sum()
    if total is not None and not (np.isfinite(scale) and scale > 0):
        raise ParameterError(f"total must be a number > 0; got {total!r}.")
    w = w * scale
    table_rows: list[dict[str, Any]] = []
    for column, code, target, cats, before in zip(
        margins, codes, targets, labels, unweighted, strict=True
    ):
        achieved = np.bincount(code, weights=w, minlength=target.size) / w.sum()
        for j, cat in enumerate(cats):
            table_rows.append(
                {
                    "column": str(column),
                    "category": cat,
                    "target": float(target[j]),
                    "achieved": float(achieved[j]),
                    "unweighted": float(before[j]),
                }
            )
    return _weights_result(
        w,
        index,
        method="raking",
        details=pd.DataFrame(table_rows),
        iterations=iterations,
        notes=(f"converged in {iterations} cycle(s); largest gap {gap:.2g}",),
    )


def _design(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept, standardised numbers and treatment-coded categories."""
    parts = [np.ones((len(frame), 1))]
    names = ["intercept"]
    for column in columns:
        col = frame[column]
        missing = col.isna().to_numpy(dtype=bool)
        if missing.any():
            rows = np.flatnonzero(missing)
            raise InputTableError(
                f"invitations: the covariate {column!r} is missing on {rows.size} row(s) "
                f"(check not_missing), e.g. rows {rows[:_EXAMPLES].tolist()} (0-based); "
                "fill it (e.g. an 'unknown' category) before modelling response.",
                table="invitations",
                failure_cases=_failure(rows, column=column, check="not_missing"),
            )
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.to_numpy(dtype=float)
            if not np.all(np.isfinite(x)):
                rows = np.flatnonzero(~np.isfinite(x))
                raise InputTableError(
                    f"invitations: the covariate {column!r} must be finite (check finite); "
                    f"rows {rows[:_EXAMPLES].tolist()} are not.",
                    table="invitations",
                    failure_cases=_failure(rows, column=column, check="finite"),
                )
            sd = x.std()
            parts.append(((x - x.mean()) / (sd if sd > 0 else 1.0))[:, None])
            names.append(column)
        else:
            cats = pd.Categorical(col.astype("string").to_numpy(dtype=object))
            levels = list(cats.categories)
            for j in range(1, len(levels)):
                parts.append((cats.codes == j).astype(float)[:, None])
                names.append(f"{column}[{levels[j]}]")
    return np.hstack(parts), names


def _trim(w: np.ndarray, cap_ratio: float) -> tuple[np.ndarray, int]:
    """Cap weights at ``cap_ratio`` x their mean, spreading the excess over the others
    (the total is kept); repeated until no weight is above the cap."""
    total = w.sum()
    capped = np.zeros(w.size, dtype=bool)
    for _ in range(100):
        cap = cap_ratio * total / w.size
        over = (w > cap * (1 + 1e-12)) & ~capped
        if not over.any():
            break
        capped |= over
        w = np.where(capped, cap, w)
        free = ~capped
        if not free.any():
            break
        w[free] *= (total - w[capped].sum()) / w[free].sum()
    return w, int(capped.sum())


def response_propensity_weights(
    invitations: Any,
    responses: Any,
    covariates: str | Sequence[str],
    *,
    classes: int | None = None,
    trim: float | None = None,
    instruments: Iterable[str] | None = None,
) -> SurveyWeights:
    """Inverse response-propensity weights from covariates of the invited.

    A logistic regression (statsmodels ``Logit``) of "the invitation got a response"
    on ``covariates`` (columns of ``invitations``: join roster columns such as role,
    engagement or tenure onto the invitations first) gives each invitation a
    response propensity p̂. A respondent's weight is ``1 / p̂`` or, with
    ``classes=k``, ``1 / (response rate of its propensity class)``: invitations cut
    into k classes at the quantiles of p̂ (Little 1986), which is less sensitive to
    a misspecified model and to very small p̂. Every response linked to a responding
    invitation gets its invitation's weight. Respondents then stand for all the
    invited: the estimate is unbiased when response depends only on the covariates
    (missing at random given them).

    Parameters
    ----------
    invitations, responses : frame
        The tables, checked with :func:`check_invitations` (any frame narwhals
        reads; computed in pandas).
    covariates : str or list of str
        Columns of ``invitations``: numbers enter linearly (standardised),
        everything else as categories (treatment coding).
    classes : int, optional
        Weighting classes by propensity quantile (e.g. 5) instead of the direct
        inverse.
    trim : float, optional
        Cap each weight at ``trim`` times the mean weight (e.g. 5), spreading the
        excess over the other respondents so the total is kept (Potter 1990). Off by
        default; trimming trades bias for variance.
    instruments : iterable of str, optional
        Known instrument names for :func:`check_invitations`.

    Returns
    -------
    SurveyWeights
        ``weights`` indexed by ``response_id``; ``details`` the coefficients
        (``term``, ``coef``, ``se``) and, with classes, one row per class
        (``class``, ``invited``, ``responded``, ``rate``); Kish's ``deff``, ``n_eff``.

    Raises
    ------
    InputTableError
        The checks of :func:`check_invitations`; missing or non-finite covariates.
    ParameterError
        No covariate, ``classes`` < 2, ``trim`` <= 1, no invitation with (or without)
        a response.

    Warns
    -----
    HxWarning
        The logistic fit did not converge or a covariate separates respondents from
        non-respondents (some p̂ near 0 or 1): use ``classes=`` or coarser covariates.

    References
    ----------
    Little, R. J. A. (1986). International Statistical Review 54, 139-157.
    Potter, F. J. (1990). ASA Proceedings of the Survey Research Methods Section.
    Kish, L. (1965). Survey Sampling.

    Examples
    --------
    >>> import pandas as pd
    >>> inv = pd.DataFrame({"invitation_id": [f"i{k}" for k in range(8)],
    ...     "silo": "workers", "source_id": [f"W{k}" for k in range(8)],
    ...     "instrument": "nps", "sent": pd.Timestamp("2024-01-01"),
    ...     "role": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    >>> answered = [0, 1, 2, 4]
    >>> resp = pd.DataFrame({"response_id": [f"r{k}" for k in answered],
    ...     "silo": "workers", "source_id": [f"W{k}" for k in answered],
    ...     "instrument": "nps", "item": "ltr", "score": 8.0,
    ...     "timestamp": pd.Timestamp("2024-01-05"),
    ...     "invitation_id": [f"i{k}" for k in answered]})
    >>> w = response_propensity_weights(inv, resp, "role")
    >>> w.weights.round(3).tolist()
    [1.333, 1.333, 1.333, 4.0]
    """
    inv = as_pandas(invitations, table="invitations")
    resp = as_pandas(responses, table="responses")
    check_invitations(inv, resp, instruments=instruments)
    columns = [covariates] if isinstance(covariates, str) else list(covariates)
    if not columns:
        raise ParameterError("covariates: name at least one column of invitations.")
    check_columns(inv.columns, columns, table="invitations")
    if classes is not None and (
        isinstance(classes, bool) or not isinstance(classes, int | np.integer) or classes < 2
    ):
        raise ParameterError(f"classes must be a whole number >= 2 or None; got {classes!r}.")
    if trim is not None:
        try:
            trim_value = float(trim)
        except (TypeError, ValueError):
            trim_value = np.nan
        if not trim_value > 1:
            raise ParameterError(
                f"trim caps weights at trim x their mean, so it must be > 1; got {trim!r}."
            )
    linked = _linked_ids(resp)
    inv_ids = inv["invitation_id"].astype("string").to_numpy(dtype=object)
    y = np.asarray(pd.Index(inv_ids).isin(pd.Index(linked.dropna().unique())), dtype=float)
    if y.sum() == 0 or y.sum() == y.size:
        raise ParameterError(
            "response_propensity_weights needs invitations with and without a response; "
            f"got {int(y.sum())} of {y.size} answered."
        )
    x, names = _design(inv, columns)
    import statsmodels.api as sm

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y, x).fit(disp=0, method="newton", maxiter=100)
        except np.linalg.LinAlgError as exc:
            raise ParameterError(
                "the propensity model cannot be fitted: the covariates are collinear "
                f"({exc}); drop a covariate that repeats another."
            ) from None
    phat = np.asarray(fit.predict(x), dtype=float)
    trouble = [str(w.message) for w in caught]
    converged = bool(fit.mle_retvals.get("converged", True))
    extreme = bool(np.any((phat < 1e-6) | (phat > 1 - 1e-6)))
    if trouble or not converged or extreme:
        message = (
            "response_propensity_weights: the logistic fit "
            + ("did not converge" if not converged else "is unstable")
            + (
                " (some propensities are 0 or 1: a covariate category where everyone or "
                "no one answered)"
                if extreme
                else ""
            )
            + "; use classes= (e.g. 5) or coarser covariates."
        )
        warnings.warn(message, HxWarning, stacklevel=2)
        notes.append(message)
    bse = np.asarray(fit.bse, dtype=float)
    details = pd.DataFrame({"term": names, "coef": np.asarray(fit.params, dtype=float), "se": bse})
    if classes is not None:
        k = int(classes)
        # Cut at the quantiles of p-hat; equal propensities stay in one class, so
        # there may be fewer than k classes (e.g. a single categorical covariate).
        edges = np.unique(np.quantile(phat, np.linspace(0.0, 1.0, k + 1)[1:-1]))
        _, cls = np.unique(np.searchsorted(edges, phat, side="left"), return_inverse=True)
        k = int(cls.max()) + 1
        invited = np.bincount(cls, minlength=k).astype(float)
        responded = np.bincount(cls, weights=y, minlength=k)
        if np.any(responded == 0):
            raise ParameterError(
                f"classes={k}: a propensity class has no respondent; use fewer classes."
            )
        rate = responded / invited
        inv_w = 1.0 / rate[cls]
        details = pd.concat(
            [
                details,
                pd.DataFrame(
                    {
                        "term": [f"class {j + 1}" for j in range(k)],
                        "invited": invited.astype(np.int64),
                        "responded": responded.astype(np.int64),
                        "rate": rate,
                    }
                ),
            ],
            ignore_index=True,
        )
        method = "propensity_classes"
        notes.append(f"{k} weighting classes at the quantiles of the fitted propensity")
    else:
        inv_w = 1.0 / phat
        method = "propensity"
    respondent = y > 0
    w = inv_w[respondent]
    if trim is not None:
        w, n_trimmed = _trim(w, float(trim))
        notes.append(f"{n_trimmed} weight(s) trimmed to {float(trim):g} x the mean weight")
    by_invitation = pd.Series(w, index=pd.Index(inv_ids[respondent]))
    by_invitation = by_invitation[~by_invitation.index.duplicated()]
    has = linked.notna().to_numpy(dtype=bool)
    pairs = pd.DataFrame(
        {
            "response_id": resp["response_id"].astype("string").to_numpy(dtype=object)[has],
            "invitation_id": linked.to_numpy(dtype=object)[has],
        }
    ).drop_duplicates("response_id")
    values = by_invitation.reindex(pairs["invitation_id"].to_numpy()).to_numpy(dtype=float)
    return _weights_result(
        values,
        pd.Index(pairs["response_id"].to_numpy(), name="response_id"),
        method=method,
        details=details,
        notes=notes,
    )


def with_weights(
    responses: Any,
    weights: SurveyWeights | pd.Series,
    *,
    column: str = "weight",
    fill: float | None = None,
) -> pd.DataFrame:
    """The responses with the weights written in ``column``, by ``response_id``.

    Every measure's ``weights=`` then uses them, e.g.
    ``hx.nps(with_weights(linked, w).query("item == 'ltr'"), "score", weights="weight")``.

    Parameters
    ----------
    responses : frame
        The responses (long: every row of a response gets its weight); any frame
        narwhals reads, returned as pandas.
    weights : SurveyWeights or pandas.Series
        Weights indexed by ``response_id``.
    column : str, default "weight"
        The column written (replaced if present).
    fill : float, optional
        The weight of responses without one (e.g. 1.0). By default such responses
        are an error: filter the responses first (e.g. to those linked to an
        invitation).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputTableError
        Responses without a weight and no ``fill``.

    Examples
    --------
    >>> import pandas as pd
    >>> resp = pd.DataFrame({"response_id": ["r1", "r1", "r2"], "score": [9.0, 4.0, 7.0]})
    >>> w = pd.Series([2.0, 0.5], index=pd.Index(["r1", "r2"], name="response_id"))
    >>> with_weights(resp, w)["weight"].tolist()
    [2.0, 2.0, 0.5]
    """
    frame = as_pandas(responses, table="responses")
    check_columns(frame.columns, ["response_id"], table="responses")
    series = weights.weights if isinstance(weights, SurveyWeights) else weights
    if not isinstance(series, pd.Series):
        raise ParameterError(
            "weights must be a SurveyWeights (from rake or response_propensity_weights) or "
            f"a pandas Series indexed by response_id; got {type(weights).__name__}."
        )
    lookup = series[~series.index.duplicated()]
    lookup.index = lookup.index.astype("string")
    values = lookup.reindex(frame["response_id"].astype("string").to_numpy()).to_numpy(dtype=float)
    missing = ~np.isfinite(values)
    if missing.any():
        if fill is None:
            rows = np.flatnonzero(missing)
            raise InputTableError(
                f"responses: {rows.size} row(s) have no weight (check has_weight), e.g. rows "
                f"{rows[:_EXAMPLES].tolist()} (0-based positions): their response_id is not "
                "among the weights. Filter the responses to the weighted ones (e.g. those "
                "linked to an invitation) or pass fill= (e.g. 1.0)."
                + (
                    ""
                    if series.index.name == "response_id"
                    else " The weights are not indexed by response_id: rake a sample with a "
                    "response_id column."
                ),
                table="responses",
                failure_cases=_failure(rows, column="response_id", check="has_weight"),
            )
        fill_value = float(fill)
        if not (np.isfinite(fill_value) and fill_value > 0):
            raise ParameterError(f"fill must be a number > 0; got {fill!r}.")
        values = np.where(missing, fill_value, values)
    out = frame.copy()
    out[column] = values
    return out
