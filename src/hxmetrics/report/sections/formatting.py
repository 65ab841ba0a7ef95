"""How the sections show numbers: reader-facing names, number formats, and tables
with a 'suppressed' mark only where the disclosure plan hides a group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.measures.segments import compare_groups
from hxmetrics.report.builder import Section
from hxmetrics.stakeholders import HYBRID_RULES

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context


INSTRUMENT_NAME = {
    "customer": "Customer NPS",
    "worker": "Employee NPS (eNPS)",
    "partner": "Partner NPS",
}
HYBRID_NAME = {
    "none": "no hybrid pattern",
    "worker_customer": "worker & customer",
    "partner_customer": "partner & customer",
    "worker_partner": "worker & partner",
    "gig_worker": "gig or freelance worker",
    "boomerang": "boomerang (re-hired worker)",
    "alumni_customer": "former worker, now customer",
    "alumni_partner": "former worker, now partner",
    "customer_to_worker": "customer who became a worker",
}
FIG_WIDTH = 7.6
PCT_FMT = "{:.1f}"


def signed(decimals: int) -> Callable[[Any], str]:
    """Formatter with an explicit sign; values that round to zero show no sign."""

    def fmt(value: Any) -> str:
        v = float(value)
        if abs(v) < 0.5 * 10.0**-decimals:
            return f"{0.0:.{decimals}f}"
        return f"{v:+.{decimals}f}"

    return fmt


def p_value(value: Any) -> str:
    """A p-value with three decimals, or "<0.001"."""
    v = float(value)
    return "<0.001" if v < 0.0005 else f"{v:.3f}"


NPS_FMT = signed(1)


def hybrid_name(label: Any) -> str:
    """Reader-facing name of a hybrid type label."""
    text = str(label)
    return HYBRID_NAME.get(text, text.replace("_", " "))


def _hybrid_order(labels: Sequence[Any]) -> list[str]:
    known = ["none", *(rule.label for rule in HYBRID_RULES)]
    present = [str(v) for v in dict.fromkeys(labels)]
    return [v for v in known if v in present] + sorted(v for v in present if v not in known)


def interval(low: Any, high: Any, fmt: Callable[[Any], str]) -> str:
    if is_missing(low) or is_missing(high):
        return "no interval"
    return f"{fmt(low)} to {fmt(high)}"


def as_float(value: Any) -> float:
    """A cell as a float (pandas' stubs type cells too broadly for ``float()``)."""
    return float(value)


def row_at(frame: pd.DataFrame, column: str, *, largest: bool) -> pd.Series:
    """The row with the largest (or smallest) value of ``column``."""
    values = frame[column].to_numpy(dtype=float)
    return frame.iloc[int(np.nanargmax(values) if largest else np.nanargmin(values))]


def is_missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def add_table(
    section: Section,
    ctx: Context,
    frame: pd.DataFrame,
    *,
    caption: str,
    labels: Mapping[str, str],
    number_formats: Mapping[str, Any] | None = None,
) -> None:
    """Add a result table: a plain index, a 'suppressed' mark only where a group is hidden.

    A column labelled "CI from" gets the interval's level in its header.
    """
    shown = frame.reset_index(drop=True)
    formats = dict(number_formats or {})
    if "suppressed" in shown.columns:
        hidden = shown["suppressed"].fillna(False).astype(bool)
        if hidden.any():
            shown["suppressed"] = hidden
            formats["suppressed"] = lambda v: "suppressed" if v else ""
        else:
            shown = shown.drop(columns="suppressed")
    section.add_table(
        shown,
        caption=caption,
        labels={k: _header(k, v, ctx) for k, v in labels.items() if k in shown},
        number_formats={k: v for k, v in formats.items() if k in shown},
    )


def _header(column: str, label: str, ctx: Context) -> str:
    if column == "suppressed":
        return ""
    if label == "CI from":
        return f"{level(ctx.confidence)} CI from"
    return label


def level(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def ci_formats(column: str, fmt: Any) -> dict[str, Any]:
    """One number format for an estimate column and its interval columns."""
    return {column: fmt, "ci_low": fmt, "ci_high": fmt}


def shown_count(frame: pd.DataFrame, column: str, value: Any, n: str = "n") -> Any:
    """One row's shown count in a registered table: <NA> if hidden, 0 if not registered.

    Empty parts are not registered (see :func:`partition`): they hold no one.
    """
    rows = frame.loc[frame[column].astype("str") == str(value)]
    if rows.empty:
        return 0
    return rows[n].iloc[0]


def partly_hidden(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Mark a row suppressed when every count it has is hidden (zeros are shown)."""
    values = frame[list(columns)]
    hidden = values.isna().all(axis=1)
    return frame.assign(suppressed=hidden.to_numpy())


def hybrid_sorted(result: pd.DataFrame) -> pd.DataFrame:
    frame = result.copy()
    order = _hybrid_order(frame["hybrid_type"].tolist())
    frame["_o"] = frame["hybrid_type"].astype("str").map({h: i for i, h in enumerate(order)})
    frame = frame.sort_values("_o", kind="stable").reset_index(drop=True)
    frame["group"] = frame["hybrid_type"].map(hybrid_name)
    return frame


# ---------------------------------------------------------------------------------------
# 4. Siloed vs unified
# ---------------------------------------------------------------------------------------
GROUP_NAME = {
    "all": "everyone",
    "customer": "customers",
    "worker": "workers",
    "partner": "partners",
}


def na_if_none(value: int | None) -> Any:
    return pd.NA if value is None else value


# ---------------------------------------------------------------------------------------
# Significance flags on comparison tables
# ---------------------------------------------------------------------------------------
#: What a comparison's flag says, in plain words.
FLAG_HIGHER = "significantly higher"
FLAG_LOWER = "significantly lower"
FLAG_NONE = "no clear difference"
FLAG_REFERENCE = "reference"
FLAG_LABELS = {
    "difference": "Difference",
    "p_adjusted": "Adjusted p",
    "flag": "Flag",
}


def flag_words(difference: Any, differs: Any) -> str:
    """The flag of one comparison: higher, lower or no clear difference ("" if none)."""
    if is_missing(difference):
        return ""
    if is_missing(differs) or not bool(differs):
        return FLAG_NONE
    return FLAG_HIGHER if float(difference) > 0 else FLAG_LOWER


def compare_shown(
    result: pd.DataFrame, column: str, reference: str, *, confidence: float
) -> pd.DataFrame | None:
    """Each shown group of ``result`` against its shown reference, Holm among the shown.

    Only rows that are shown with an estimate take part: a hidden row (or one whose
    estimate is blanked) is neither compared nor counted in the Holm adjustment, and
    when the reference itself is hidden nothing is compared.

    Parameters
    ----------
    result : DataFrame
        A grouped result as the plan shows it (:meth:`Context.shown`), with its
        ``attrs`` (read by :func:`hxmetrics.measures.segments.compare_groups`).
    column : str
        The group column (one of the result's ``by``).
    reference : str
        The reference group's value in ``column``.
    confidence : float
        A group is flagged when its adjusted p-value is below ``1 - confidence``.

    Returns
    -------
    DataFrame or None
        One row per row of ``result``, in its order: ``column`` (as text),
        ``difference`` (group minus reference), ``p_adjusted`` (Holm) and ``flag``
        (plain words; "reference" on the reference row, "" where nothing is compared);
        None when nothing can be compared.
    """
    keys = result[column].astype("str").reset_index(drop=True)
    estimate = pd.to_numeric(result["estimate"], errors="coerce").reset_index(drop=True)
    se = pd.to_numeric(result["se"], errors="coerce").reset_index(drop=True)
    hidden = (
        result["suppressed"].astype("boolean").fillna(False).astype(bool).reset_index(drop=True)
        if "suppressed" in result.columns
        else pd.Series(False, index=keys.index)
    )
    usable = (~hidden & estimate.notna() & se.notna()).to_numpy()
    is_reference = (keys == reference).to_numpy()
    if not (usable & is_reference).any() or not (usable & ~is_reference).any():
        return None
    shown = result.reset_index(drop=True).loc[usable]
    shown.attrs = result.attrs
    compared = compare_groups(shown, reference=reference, correction="holm", confidence=confidence)
    tests = compared.assign(_key=compared[column].astype("str")).set_index("_key")
    out = pd.DataFrame({column: keys})
    out["difference"] = keys.map(tests["difference"]).astype(float)
    out["p_adjusted"] = keys.map(tests["p_adjusted"]).astype(float)
    differs = keys.map(tests["differs"])
    flags = [flag_words(d, f) for d, f in zip(out["difference"], differs, strict=True)]
    out["flag"] = pd.Series(flags, dtype="str")
    out.loc[is_reference & usable, "flag"] = FLAG_REFERENCE
    return out


def flag_note(reference: str, confidence: float) -> str:
    """The note under a flagged table: what the flag means and how it was computed."""
    return (
        f"Flag: each group is compared with {reference}. 'Significantly "
        "higher' or 'lower' means the difference is unlikely to be chance: its p-value, "
        f"adjusted for the number of groups compared in the table (Holm), is below "
        f"{1 - confidence:.2g}. 'No clear difference' means the gap may be chance, not "
        "that the groups are equal. Suppressed groups are not compared, and only the "
        "comparisons shown count in the adjustment."
    )
