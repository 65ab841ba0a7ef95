"""Long answers against a catalogue: which item each row answers, its keyed score, the
respondent's role, and the wide (one row per respondent) form the models need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, check_columns
from hxmetrics.instruments._catalogue import InstrumentCatalogue
from hxmetrics.tables import ROLE_OF_SILO, ROLES

__all__ = ["catalogue_positions", "keyed_scores", "role_column", "unit_table"]


def catalogue_positions(frame: pd.DataFrame, catalogue: InstrumentCatalogue) -> np.ndarray:
    """Position in ``catalogue.items`` of each row's (instrument, item); -1 if unknown."""
    keys = pd.MultiIndex.from_tuples(
        [(it.instrument, it.item) for it in catalogue.items], names=["instrument", "item"]
    )
    rows = pd.MultiIndex.from_arrays(
        [frame["instrument"].astype("string"), frame["item"].astype("string")]
    )
    out: np.ndarray = np.asarray(keys.get_indexer(rows), dtype=np.int64)
    return out


def item_arrays(catalogue: InstrumentCatalogue) -> dict[str, np.ndarray]:
    """Per catalogue item: ``lo``, ``hi`` (NaN without a scale), ``integer``, ``reverse``."""
    items = catalogue.items
    return {
        "lo": np.array([np.nan if it.scale_min is None else it.scale_min for it in items]),
        "hi": np.array([np.nan if it.scale_max is None else it.scale_max for it in items]),
        "integer": np.array([it.integer for it in items], dtype=bool),
        "reverse": np.array([it.reverse_keyed for it in items], dtype=bool),
    }


def keyed_scores(score: np.ndarray, pos: np.ndarray, catalogue: InstrumentCatalogue) -> np.ndarray:
    """Scores with reverse-keyed items reflected: ``scale_min + scale_max - x``."""
    arr = item_arrays(catalogue)
    known = pos >= 0
    p = np.where(known, pos, 0)
    reverse = known & arr["reverse"][p]
    out: np.ndarray = np.where(reverse, arr["lo"][p] + arr["hi"][p] - score, score)
    return out


def role_column(frame: pd.DataFrame, role: str | None, *, table: str) -> pd.Series:
    """Each row's role: the ``role`` column if given (or present), else from ``silo``.

    Silo names are read as their role (``"workers"`` -> ``"worker"``).
    """
    if role is not None:
        check_columns(frame.columns, [role], table=table)
        values = frame[role]
    elif "role" in frame.columns:
        values = frame["role"]
    elif "silo" in frame.columns:
        values = frame["silo"]
    else:
        raise InputTableError(
            f"{table}: the respondent's role is needed: a 'role' column, or 'silo' "
            "(customers, workers, partners); found neither. Pass role='<column>'.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": ["role"], "check": ["column_in_dataframe"], "failure_case": ["role"],
                 "index": [None]}
            ),
        )  # fmt: skip
    text = values.astype("string").str.strip()
    out = text.replace(ROLE_OF_SILO)
    bad = out.notna() & ~out.isin(ROLES)
    if bool(bad.any()):
        where = np.flatnonzero(bad.to_numpy(dtype=bool))[:5].tolist()
        raise InputTableError(
            f"{table}: role must be one of {list(ROLES)} (or its silo); "
            f"{int(bad.sum())} row(s) are not, e.g. at row(s) {where}.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": "role", "check": "isin", "failure_case": None, "index": where}
            ),
        )
    return out


def unit_table(
    keys: pd.DataFrame, item: pd.Series, score: np.ndarray, items: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Answers averaged per respondent unit and item, one row per unit.

    ``keys`` holds the unit's columns (person, role, groups) per answer row. A unit that
    answered an item several times (waves, repeated responses) counts once, with the mean
    of its answers. Returns the unit keys (one row per unit, in order of first
    appearance) and the wide item matrix (one column per item of ``items``, NaN where
    not answered), aligned by position.
    """
    cols = list(keys.columns)
    if keys[cols[0]].isna().any():
        bad = keys[cols[0]].isna().to_numpy(dtype=bool)
        where = np.flatnonzero(bad)[:5].tolist()
        column = cols[0]
        raise InputTableError(
            f"responses: column {column!r} is empty at {int(bad.sum())} answer row(s), e.g. "
            f"row(s) {where}; every answer needs its respondent. Fill or drop them.",
            table="responses",
            failure_cases=pd.DataFrame(
                {"column": column, "check": "not_null", "failure_case": None, "index": where}
            ),
        )
    codes, uniques = _factorize_rows(keys[cols])
    item_codes = pd.Index(list(items)).get_indexer(pd.Index(item.astype("string")))
    keep = item_codes >= 0
    n_units = len(uniques)
    k = len(items)
    flat = codes[keep] * k + item_codes[keep]
    sums = np.bincount(flat, weights=score[keep], minlength=n_units * k)
    counts = np.bincount(flat, minlength=n_units * k)
    with np.errstate(invalid="ignore", divide="ignore"):
        wide = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).reshape(n_units, k)
    return uniques.reset_index(drop=True), pd.DataFrame(wide, columns=list(items))


def _factorize_rows(keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes of each row's combination of ``keys`` (order of first appearance)."""
    if keys.shape[1] == 0:
        raise ParameterError("a respondent unit needs at least one key column.")
    grouped = keys.groupby(list(keys.columns), sort=False, observed=True, dropna=False)
    codes = grouped.ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    uniques = keys.iloc[first]
    return codes.astype(np.int64), uniques


def numeric_scores(frame: pd.DataFrame, *, table: str) -> np.ndarray:
    """The ``score`` column as floats; text that is not a number is an error."""
    raw = frame["score"]
    num = pd.to_numeric(raw, errors="coerce")
    bad = (num.isna() & raw.notna()).to_numpy(dtype=bool)
    if bad.any():
        where = np.flatnonzero(bad)[:5].tolist()
        raise InputTableError(
            f"{table}: column 'score' failed check numeric: {int(bad.sum())} value(s) are "
            f"not numbers, e.g. at row(s) {where}. Recode the answers to numbers.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": "score", "check": "numeric", "failure_case": None, "index": where}
            ),
        )
    out: np.ndarray = num.to_numpy(dtype=float, na_value=np.nan)
    return out


def as_frame(data: Any, *, table: str) -> pd.DataFrame:
    """pandas, positions as the index (messages name positions, never labels)."""
    from hxmetrics.tables import as_pandas

    return as_pandas(data, table=table).reset_index(drop=True)
