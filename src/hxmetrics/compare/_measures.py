"""The measures a siloed-vs-unified comparison knows: how a score becomes the averaged value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hxmetrics.errors import ParameterError, check_choice

__all__ = ["MEASURES", "Measure", "resolve_measure"]


@dataclass(frozen=True)
class Measure:
    """How one measure turns a score into the value that is averaged."""

    name: str
    instrument: str | None
    item: str | None
    scale: tuple[float, float] | None
    integer: bool
    kind: str  # "nps", "share" or "mean"
    box: tuple[float, ...] = ()
    unit: str = ""

    @property
    def bounds(self) -> tuple[float, float] | None:
        if self.kind == "nps":
            return (-100.0, 100.0)
        if self.kind == "share":
            return (0.0, 100.0)
        return self.scale

    def value(self, score: np.ndarray) -> np.ndarray:
        if self.kind == "nps":
            # Reichheld (2003): promoters 9-10, detractors 0-6.
            out: np.ndarray = 100.0 * ((score >= 9).astype(float) - (score <= 6).astype(float))
            return out
        if self.kind == "share":
            return 100.0 * np.isin(score, np.asarray(self.box, dtype=float)).astype(float)
        return score.astype(float)


#: The measures :func:`siloed_vs_unified` knows, with their default instrument and item.
MEASURES: dict[str, Measure] = {
    "nps": Measure("nps", "nps", "ltr", (0.0, 10.0), True, "nps", unit="NPS points"),
    "csat": Measure("csat", "csat", "overall", (1.0, 5.0), True, "share", (4.0, 5.0), "%"),
    "ces": Measure("ces", "ces", "effort", (1.0, 7.0), True, "mean", unit="scale points"),
    "mean": Measure("mean", None, None, None, False, "mean", unit="scale points"),
}


def resolve_measure(
    measure: str, instrument: str | None, item: str | None, box: Sequence[float] | None
) -> Measure:
    """The measure with its instrument, item and box filled in and checked."""
    check_choice("measure", measure, MEASURES)
    spec = MEASURES[measure]
    inst = instrument if instrument is not None else spec.instrument
    it = item if item is not None else spec.item
    if inst is None or it is None:
        raise ParameterError(
            f"measure={measure!r} needs the instrument and item to average, e.g. "
            "instrument='hx_core', item='hx1'."
        )
    new_box = spec.box
    if box is not None:
        if spec.kind != "share":
            raise ParameterError(f"box= applies to measure='csat' only; got measure={measure!r}.")
        new_box = tuple(sorted({float(b) for b in box}))
        low, high = spec.scale or (-np.inf, np.inf)
        if not new_box or any(b < low or b > high for b in new_box):
            raise ParameterError(
                f"box must list points of the {low:g}..{high:g} scale, e.g. (4, 5); got {box!r}."
            )
    return Measure(spec.name, inst, it, spec.scale, spec.integer, spec.kind, new_box, spec.unit)
