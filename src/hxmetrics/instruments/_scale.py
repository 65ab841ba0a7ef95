"""The scale of the answers in a table, taken from the catalogue (for the measures)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.instruments._catalogue import InstrumentCatalogue


def scale_for(data: Any, catalogue: InstrumentCatalogue) -> tuple[float, float]:
    """The one scale of the items answered in ``data``, from the catalogue.

    A measure given ``instruments=catalogue`` takes its scale from here instead of
    guessing it: every ``(instrument, item)`` in ``data`` must be in the catalogue,
    with a scale, and they must share one scale.

    Parameters
    ----------
    data : frame
        Answers with ``instrument`` and ``item`` columns (any frame narwhals reads;
        only the distinct pairs are collected).
    catalogue : InstrumentCatalogue
        Where the items' scales are written.

    Returns
    -------
    (float, float)
        ``(scale_min, scale_max)``.

    Raises
    ------
    InputTableError
        ``data`` lacks the ``instrument`` or ``item`` column.
    ParameterError
        No answers; an item not in the catalogue or without a scale; items on
        different scales (filter to one item first).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.instruments import load_bank, scale_for
    >>> answers = pd.DataFrame({"instrument": ["csat"] * 2, "item": ["overall"] * 2,
    ...                         "score": [4, 5]})
    >>> scale_for(answers, load_bank("core"))
    (1.0, 5.0)
    """
    import narwhals as nw

    if not isinstance(catalogue, InstrumentCatalogue):
        raise ParameterError(
            f"instruments must be an InstrumentCatalogue (load_bank(...), "
            f"InstrumentCatalogue.from_toml(...)); got {type(catalogue).__name__}."
        )
    frame = nw.from_native(data, allow_series=False)
    columns = list(frame.columns)
    missing = [c for c in ("instrument", "item") if c not in columns]
    if missing:
        raise InputTableError(
            f"responses: the scale comes from the catalogue, by instrument and item; "
            f"column(s) {missing} not found.",
            table="responses",
            failure_cases=pd.DataFrame(
                {
                    "column": missing,
                    "check": "column_in_dataframe",
                    "failure_case": missing,
                    "index": [None] * len(missing),
                }
            ),
        )
    pairs = frame.lazy().select("instrument", "item").unique().collect().to_pandas()
    pairs = pairs.dropna().astype(str).sort_values(["instrument", "item"])
    if pairs.empty:
        raise ParameterError("no answers with an instrument and an item: no scale to take.")
    scales: dict[tuple[float, float], list[str]] = {}
    for instrument, item in pairs.itertuples(index=False):
        scales.setdefault(catalogue.scale(instrument, item), []).append(f"{instrument}/{item}")
    if len(scales) > 1:
        listed = "; ".join(f"{list(v)[:3]} on {k}" for k, v in scales.items())
        raise ParameterError(
            f"the answers are to items on different scales ({listed}): filter to one item "
            "(or items on one scale) first."
        )
    return next(iter(scales))
