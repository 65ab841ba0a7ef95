"""Reports built without drawing their figures into pixels, for tests that never look
at the pixels.

The disclosure attacks read what a report shows as text: its tables, cards, alt texts,
the "Data behind the figure" tables and the frames handed to the plotting functions.
None of that depends on the PNG bytes, which are about 40% of a build's CPU time
(layout passes and the Agg render of every figure). Inside :func:`figures_unrendered`
each figure is still made by the same plotting code and embedded the same way, with
one fixed placeholder image instead of its render. The renders themselves are tested
on the sample report (``test_main``, ``test_plotting``, ``test_browser``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from matplotlib.figure import Figure

from hxmetrics.report import builder

#: A valid 1x1 transparent PNG.
PLACEHOLDER = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _placeholder(figure: Figure, *, dpi: int = builder.DPI) -> bytes:
    """Stands in for :func:`hxmetrics.report.builder.settled_png`."""
    if not isinstance(figure, Figure):  # the real one would fail on it too
        raise TypeError(f"expected a matplotlib Figure, got {type(figure).__name__}")
    return PLACEHOLDER


@contextmanager
def figures_unrendered() -> Iterator[None]:
    """Within the block, :meth:`Section.add_figure` embeds :data:`PLACEHOLDER`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builder, "settled_png", _placeholder)
        yield
