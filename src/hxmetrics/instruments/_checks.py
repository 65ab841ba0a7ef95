"""Answers against the catalogue: each answer on its item's scale, asked of its role.

:func:`response_failures` lists every failed check as failure cases (the form
:func:`hxmetrics.tables.validate` collects); :func:`check_responses` raises them as one
:class:`~hxmetrics.errors.InputTableError` and then looks for items that answer the wrong
way round (:func:`keying_check`), which is a statistical finding, hence an
:class:`~hxmetrics.errors.HxWarning` and not an error.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import HxWarning, InputTableError, ParameterError, check_columns
from hxmetrics.instruments._answers import (
    as_frame,
    catalogue_positions,
    item_arrays,
    keyed_scores,
    numeric_scores,
    role_column,
    unit_table,
)
from hxmetrics.instruments._catalogue import InstrumentCatalogue
from hxmetrics.measures._inference import check_confidence, z_critical
from hxmetrics.privacy import shown_name
from hxmetrics.tables import ROLES

__all__ = ["check_responses", "keying_check", "response_failures"]

_CASES = ["column", "check", "failure_case", "index"]
_EXAMPLES = 5

#: What each check means, for the message.
_MEANING = {
    "item_in_catalogue": "the (instrument, item) is not in the catalogue",
    "score_in_item_scale": "the answer is outside its item's scale",
    "score_integer": "the item's scale is whole numbers; the answer is not",
    "role_asked": "the item is not asked of the respondent's role",
}


def _check_catalogue(catalogue: Any) -> InstrumentCatalogue:
    if not isinstance(catalogue, InstrumentCatalogue):
        raise ParameterError(
            "catalogue must be an InstrumentCatalogue (load_bank(...), "
            f"InstrumentCatalogue.from_toml(...)); got {type(catalogue).__name__}."
        )
    return catalogue


def response_failures(
    responses: Any, catalogue: InstrumentCatalogue, *, table: str = "responses"
) -> pd.DataFrame:
    """Every answer that breaks the catalogue, as failure cases.

    Parameters
    ----------
    responses : DataFrame
        Long answers with ``instrument``, ``item``, ``score`` and the respondent's role
        (a ``role`` column, or ``silo``; without either the role check is skipped).
        pandas or any frame narwhals reads.
    catalogue : InstrumentCatalogue
        What was asked.
    table : str
        The table's name in messages.

    Returns
    -------
    DataFrame
        ``column``, ``check``, ``failure_case``, ``index`` (the row's position, never an
        id): ``item_in_catalogue`` (an answer to an item the catalogue lacks: an error,
        not a guess), ``score_in_item_scale``, ``score_integer``, ``role_asked``. Empty
        when every answer fits. Missing scores are not checked here (the contract's
        own checks see them).
    """
    cat = _check_catalogue(catalogue)
    frame = as_frame(responses, table=table)
    check_columns(frame.columns, ["instrument", "item", "score"], table=table)
    pos = catalogue_positions(frame, cat)
    score = numeric_scores(frame, table=table)
    arr = item_arrays(cat)
    known = pos >= 0
    p = np.where(known, pos, 0)
    answered = ~np.isnan(score)
    parts = []
    unknown = np.flatnonzero(~known)
    if len(unknown):
        names = (
            frame["instrument"].astype("string").iloc[unknown].fillna("<NA>")
            + "/"
            + frame["item"].astype("string").iloc[unknown].fillna("<NA>")
        )
        parts.append(_cases("item", "item_in_catalogue", names.to_numpy(dtype=object), unknown))
    lo, hi = arr["lo"][p], arr["hi"][p]
    with np.errstate(invalid="ignore"):
        off = known & answered & ~np.isnan(lo) & ((score < lo) | (score > hi))
    if off.any():
        where = np.flatnonzero(off)
        parts.append(_cases("score", "score_in_item_scale", score[where], where))
    fractional = known & answered & arr["integer"][p] & ~off & (score != np.round(score))
    if fractional.any():
        where = np.flatnonzero(fractional)
        parts.append(_cases("score", "score_integer", score[where], where))
    if "role" in frame.columns or "silo" in frame.columns:
        role = role_column(frame, None, table=table)
        r_codes = pd.Index(list(ROLES)).get_indexer(pd.Index(role.fillna("")))
        asked = np.array([[r in it.roles for r in ROLES] for it in cat.items], dtype=bool)
        has_role = r_codes >= 0
        bad_role = known & has_role & ~asked[p, np.where(has_role, r_codes, 0)]
        if bad_role.any():
            where = np.flatnonzero(bad_role)
            column = "role" if "role" in frame.columns else "silo"
            parts.append(_cases(column, "role_asked", role.to_numpy(dtype=object)[where], where))
    if not parts:
        return pd.DataFrame(columns=_CASES)
    return pd.concat(parts, ignore_index=True)


def _cases(column: str, check: str, values: Any, where: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "column": column,
            "check": check,
            "failure_case": list(values),
            "index": where.astype(np.int64),
        }
    )


def _message(table: str, cases: pd.DataFrame, frame: pd.DataFrame) -> str:
    lines = [
        f"table {table!r} failed {cases['check'].nunique()} check(s) against the instrument "
        f"catalogue on {cases['index'].nunique()} row(s):"
    ]
    for (column, check), part in cases.groupby(["column", "check"], sort=False):
        rows = part["index"].head(_EXAMPLES).tolist()
        examples = []
        for r in rows:
            inst = shown_name(frame["instrument"].iloc[r])
            item = shown_name(frame["item"].iloc[r])
            value = frame["score"].iloc[r]
            examples.append(f"row {r}: {inst}/{item} score {value}")
        lines.append(
            f"  column {column!r}, check {check} ({_MEANING[str(check)]}): {len(part)} "
            f"row(s), e.g. {'; '.join(examples)}"
        )
    if (cases["check"] == "item_in_catalogue").any():
        lines.append(
            "hint: add the item to the catalogue (or combine banks: load_bank('core', ...)); "
            "an answer to an unknown item is never guessed."
        )
    return "\n".join(lines)


def check_responses(
    responses: Any,
    catalogue: InstrumentCatalogue,
    *,
    table: str = "responses",
    keying: bool = True,
    min_n: int = 30,
    confidence: float = 0.95,
) -> None:
    """Check answers against the catalogue; raise on any answer that does not fit.

    Parameters
    ----------
    responses, catalogue, table
        As in :func:`response_failures`.
    keying : bool
        Also look for items scored the wrong way round (:func:`keying_check`), with a
        warning naming them.
    min_n, confidence
        Passed to :func:`keying_check`.

    Raises
    ------
    InputTableError
        Naming each failed check (an answer off its item's scale, a fraction on a
        whole-number scale, an item not in the catalogue, a role not asked), the rows
        by position, the instrument and item; ``failure_cases`` lists every row.

    Warns
    -----
    HxWarning
        An item whose corrected item-total correlation, after reverse keying, is below
        zero with its interval (see :func:`keying_check`).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.instruments import load_bank
    >>> answers = pd.DataFrame({"response_id": ["r1", "r1", "r2"], "silo": "customers",
    ...                         "instrument": ["csat", "ces", "csat"],
    ...                         "item": ["overall", "effort", "overall"],
    ...                         "score": [4, 7, 7]})
    >>> check_responses(answers, load_bank("core"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hxmetrics.errors.InputTableError: table 'responses' failed 1 check(s) ... on 1 row(s):
      column 'score', check score_in_item_scale (...): 1 row(s), e.g. row 2: ... score 7
    """
    frame = as_frame(responses, table=table)
    cases = response_failures(frame, catalogue, table=table)
    if not cases.empty:
        raise InputTableError(_message(table, cases, frame), table=table, failure_cases=cases)
    if keying:
        found = keying_check(frame, catalogue, min_n=min_n, confidence=confidence)
        flagged = found[found["flagged"]]
        if len(flagged):
            names = ", ".join(
                f"{r.instrument}/{r.item} (r = {r.r_item_rest:.2f}, reverse_keyed="
                f"{bool(r.reverse_keyed)})"
                for r in flagged.itertuples(index=False)
            )
            warnings.warn(
                f"{table}: item(s) {names} correlate negatively with the rest of their "
                "subscale after reverse keying: they look scored the wrong way round. Check "
                "whether the answers were already reversed before they reached hxmetrics, or "
                "whether the catalogue's reverse_keyed is wrong for them.",
                HxWarning,
                stacklevel=2,
            )


def keying_check(
    responses: Any,
    catalogue: InstrumentCatalogue,
    *,
    response: str = "response_id",
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Find items scored the wrong way round: a negative corrected item-total correlation.

    After reverse keying, every item of a subscale should correlate positively with the
    sum of the subscale's other items (the corrected item-total correlation, psych's
    ``r.drop``). An item whose correlation is below zero with its whole interval
    (Fisher's z, ``atanh(r) ± z / sqrt(n - 3)``) points the other way: typically a
    reverse-keyed item whose answers were already reversed upstream, or a catalogue that
    marks the wrong item. Subscales of at least three items with ``min_n`` answers per
    item are checked (with two items the pair's correlation cannot say which is wrong).
    Roles are pooled.

    Parameters
    ----------
    responses : DataFrame
        Long answers (``response``, ``instrument``, ``item``, ``score``); items not in the
        catalogue are left out here (see :func:`response_failures`).
    catalogue : InstrumentCatalogue
    response : str
        The column naming one filled-in questionnaire.
    min_n : int
        Fewest answers to an item for it to be checked.
    confidence : float
        Level of the interval.

    Returns
    -------
    DataFrame
        ``instrument``, ``subscale``, ``item``, ``reverse_keyed``, ``n``, ``r_item_rest``,
        ``ci_low``, ``ci_high``, ``flagged`` (``ci_high < 0``).
    """
    from hxmetrics.measures.reliability import item_total

    cat = _check_catalogue(catalogue)
    confidence = check_confidence(confidence)
    z = z_critical(confidence)
    frame = as_frame(responses, table="responses")
    check_columns(frame.columns, [response, "instrument", "item", "score"], table="responses")
    pos = catalogue_positions(frame, cat)
    score = keyed_scores(numeric_scores(frame, table="responses"), pos, cat)
    rows: list[dict[str, Any]] = []
    for inst in cat.instruments:
        in_inst = (frame["instrument"].astype("string") == inst).to_numpy(dtype=bool)
        in_inst &= pos >= 0
        if not in_inst.any():
            continue
        for sub, items in cat.subscales(inst).items():
            if len(items) < 3:
                continue
            sel = np.flatnonzero(in_inst & frame["item"].isin(items).to_numpy(dtype=bool))
            if not len(sel):
                continue
            _, wide = unit_table(
                frame[[response]].iloc[sel], frame["item"].iloc[sel], score[sel], items
            )
            table = item_total(wide, items=items, missing="pairwise", min_n=None)
            ns = table["n"].to_numpy(dtype=float, na_value=np.nan)
            rs = table["r_item_rest"].to_numpy(dtype=float, na_value=np.nan)
            for name, n_f, rr in zip(table["item"].astype(str), ns, rs, strict=True):
                n = int(n_f) if math.isfinite(n_f) else 0
                lo = hi = math.nan
                if n >= max(min_n, 4) and math.isfinite(rr) and abs(rr) < 1:
                    half = z / math.sqrt(n - 3)
                    lo, hi = math.tanh(math.atanh(rr) - half), math.tanh(math.atanh(rr) + half)
                rows.append(
                    {
                        "instrument": inst,
                        "subscale": sub,
                        "item": name,
                        "reverse_keyed": cat.item(inst, name).reverse_keyed,
                        "n": n,
                        "r_item_rest": float(rr),
                        "ci_low": lo,
                        "ci_high": hi,
                        "flagged": bool(math.isfinite(hi) and hi < 0),
                    }
                )
    columns = [
        "instrument",
        "subscale",
        "item",
        "reverse_keyed",
        "n",
        "r_item_rest",
        "ci_low",
        "ci_high",
        "flagged",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out["n"] = out["n"].astype("Int64")
    out["flagged"] = out["flagged"].astype(bool)
    out["reverse_keyed"] = out["reverse_keyed"].astype(bool)
    return out
