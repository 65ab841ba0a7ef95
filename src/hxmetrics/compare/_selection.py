"""Reading the responses of one measure: the rows of its item, checked, and their labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.compare._measures import Measure
from hxmetrics.errors import InputTableError, ParameterError, check_columns
from hxmetrics.tables import SILOS

__all__ = ["as_frame", "cases", "labels", "raise_rows", "select_responses", "text"]


def as_frame(data: Any, *, name: str = "responses") -> pd.DataFrame:
    """A pandas frame of ``data`` (any eager frame narwhals accepts)."""
    if isinstance(data, pd.DataFrame):
        return data
    try:
        import narwhals as nw

        out: pd.DataFrame = nw.from_native(data, eager_only=True).to_pandas()
    except TypeError:
        raise ParameterError(f"{name} must be a DataFrame; got {type(data).__name__}.") from None
    return out


def text(values: Any) -> np.ndarray:
    """The values as an object array of ``str``."""
    return pd.Series(values, dtype="object").astype("str").to_numpy(dtype=object)


def labels(values: pd.Series, *, missing: str) -> np.ndarray:
    """:func:`text` of a column, ``missing`` where it is missing.

    A categorical column (what attribution returns) is decoded from its codes: one
    ``str`` per category instead of one per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        names = [str(c) for c in values.cat.categories]
        out: np.ndarray = np.asarray([*names, missing], dtype=object)[values.cat.codes.to_numpy()]
        return out
    return text(values.astype("object").fillna(missing))


def select_responses(responses: pd.DataFrame, spec: Measure) -> tuple[pd.DataFrame, int]:
    """The rows of the measure's item, scores checked; returns (rows with a score, n missing)."""
    need = ["response_id", "silo", "source_id", "instrument", "item", "score", "timestamp"]
    check_columns(responses.columns, need, table="responses")
    inst = responses["instrument"].astype("str")
    item = responses["item"].astype("str")
    rows = responses.loc[
        (inst == spec.instrument).to_numpy() & (item == spec.item).to_numpy(),
        ["response_id", "silo", "source_id", "score", "timestamp"],
    ]
    if rows.empty:
        have = (
            pd.DataFrame({"instrument": inst, "item": item})
            .drop_duplicates()
            .head(10)
            .itertuples(index=False)
        )
        listed = ", ".join(f"{a}/{b}" for a, b in have) or "none"
        raise InputTableError(
            f"responses: no rows of instrument {spec.instrument!r}, item {spec.item!r}; "
            f"the table has (instrument/item): {listed}. Pass instrument= and item=.",
            table="responses",
            failure_cases=cases("item", "present", spec.item, None),
        )
    silo = rows["silo"].astype("str")
    bad_silo = ~silo.isin(SILOS).to_numpy()
    if bad_silo.any():
        raise_rows(rows, bad_silo, "silo", "isin(silos)", f"one of {', '.join(SILOS)}")
    dup = rows["response_id"].astype("str").duplicated(keep=False).to_numpy()
    if dup.any():
        raise_rows(
            rows,
            dup,
            "response_id",
            "unique",
            f"one row per response for item {spec.item!r} (response_id repeats)",
        )
    raw = rows["score"]
    score = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    not_number = np.isnan(score) & raw.notna().to_numpy()
    if not_number.any():
        raise_rows(rows, not_number, "score", "numeric", "numbers")
    missing = np.isnan(score)
    if spec.scale is not None:
        low, high = spec.scale
        off = ~missing & ((score < low) | (score > high))
        if spec.integer:
            off |= ~missing & (np.round(score) != score)
        if off.any():
            kind = "whole numbers" if spec.integer else "numbers"
            raise_rows(
                rows,
                off,
                "score",
                f"{spec.name}_scale",
                f"{kind} from {low:g} to {high:g} for measure {spec.name!r}",
            )
    else:
        inf = ~missing & ~np.isfinite(score)
        if inf.any():
            raise_rows(rows, inf, "score", "finite", "finite numbers")
    kept = rows.loc[~missing].copy()
    kept["score"] = score[~missing]
    return kept, int(missing.sum())


def cases(column: str, check: str, case: Any, index: Any) -> pd.DataFrame:
    """A one-row ``failure_cases`` frame."""
    return pd.DataFrame(
        {"column": [column], "check": [check], "failure_case": [case], "index": [index]}
    )


def raise_rows(
    rows: pd.DataFrame,
    bad: np.ndarray,
    column: str,
    check: str,
    expected: str,
    *,
    table: str = "responses",
) -> None:
    """Raise :class:`InputTableError` naming the rows of ``column`` that are ``bad``.

    Values of an identifier column (:data:`hxmetrics.privacy.IDENTIFIER_COLUMNS`) are
    masked, in the message and in ``failure_cases``; so are row labels that are not
    integers (an index of ids).
    """
    from hxmetrics.privacy import IDENTIFIER_COLUMNS

    where = np.flatnonzero(bad)
    masked = column in IDENTIFIER_COLUMNS
    values = rows[column].iloc[where].to_numpy()
    if masked:
        values = np.full(len(where), f"<{column}, masked>", dtype=object)
    index = rows.index[where]
    if not pd.api.types.is_integer_dtype(rows.index.dtype):
        index = pd.Index(np.full(len(where), "<index, masked>", dtype=object))
    shown = str if masked else repr
    examples = "; ".join(f"row {index[i]}: {shown(values[i])}" for i in range(min(5, len(where))))
    raise InputTableError(
        f"{table}: column {column!r} must hold {expected}; {len(where)} row(s) do not, "
        f"e.g. {examples}.",
        table=table,
        failure_cases=pd.DataFrame(
            {"column": column, "check": check, "failure_case": values, "index": index}
        ),
    )
