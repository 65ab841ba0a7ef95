"""Readable ``repr`` and notebook HTML for result objects, from a title and a frame.

A result or model class mixes in :class:`DisplayMixin` and, if the defaults do not
fit, overrides ``_display_title`` (one line: what it is, on how many rows),
``_display_frame`` (the summary table; default: ``self.summary()``) and
``_display_notes`` (short lines: exclusions, suppressed groups, convergence).
``print(result)`` and a notebook then show the same content, as text or as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import pandas as pd

from hxmetrics.errors import HxError

__all__ = ["DisplayMixin", "html_block", "text_block"]

_MAX_ROWS = 30


def _limited(frame: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str]:
    if len(frame) <= max_rows:
        return frame, ""
    return frame.head(max_rows), f"showing the first {max_rows:,} of {len(frame):,} rows"


def text_block(
    title: str,
    frame: pd.DataFrame | None,
    *,
    notes: Sequence[str] = (),
    max_rows: int = _MAX_ROWS,
) -> str:
    """Plain-text display: the title, the frame, then notes.

    Parameters
    ----------
    title : str
        First line.
    frame : DataFrame or None
        The table; ``None`` leaves it out.
    notes : sequence of str
        Lines after the table.
    max_rows : int, default 30
        Rows shown; the rest are counted in a note.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(text_block("NPS by role (2 groups)", pd.DataFrame({"role": ["customer", "worker"],
    ...                  "nps": [21.5, -3.0]}), notes=["4 rows without a score excluded"]))
    NPS by role (2 groups)
           role   nps
       customer  21.5
         worker  -3.0
    note: 4 rows without a score excluded
    """
    lines = [title]
    extra = list(notes)
    if frame is not None:
        shown, more = _limited(frame, max_rows)
        lines.append(shown.to_string(index=False) if len(shown) else "(no rows)")
        if more:
            extra.insert(0, more)
    lines.extend(f"note: {n}" for n in extra)
    return "\n".join(lines)


def html_block(
    title: str,
    frame: pd.DataFrame | None,
    *,
    notes: Sequence[str] = (),
    max_rows: int = _MAX_ROWS,
) -> str:
    """Notebook display: the same content as :func:`text_block`, as escaped HTML.

    Parameters
    ----------
    title : str
        Heading line.
    frame : DataFrame or None
        The table; ``None`` leaves it out.
    notes : sequence of str
        Lines after the table.
    max_rows : int, default 30
        Rows shown; the rest are counted in a note.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> html_block("a <b>", pd.DataFrame({"x": [1]})).startswith("<div><p><strong>a &lt;b&gt;")
    True
    """
    parts = [f"<div><p><strong>{escape(title)}</strong></p>"]
    extra = list(notes)
    if frame is not None:
        shown, more = _limited(frame, max_rows)
        parts.append(shown.to_html(index=False, escape=True, border=0, na_rep="–"))
        if more:
            extra.insert(0, more)
    parts.extend(f"<p><em>note:</em> {escape(n)}</p>" for n in extra)
    parts.append("</div>")
    return "".join(parts)


class DisplayMixin:
    """Give a class a readable ``__repr__`` and ``_repr_html_``.

    Override ``_display_title``, ``_display_frame`` and ``_display_notes`` as needed.
    Display never raises: a model that is not fitted yet shows "(not fitted)".

    Examples
    --------
    >>> import pandas as pd
    >>> class Fit(DisplayMixin):
    ...     def summary(self):
    ...         return pd.DataFrame({"param": ["r", "alpha"], "value": [0.24, 4.41]})
    >>> Fit()
    Fit
    param  value
        r   0.24
    alpha   4.41
    """

    def _display_title(self) -> str:
        return type(self).__name__

    def _display_frame(self) -> pd.DataFrame | None:
        summary = getattr(self, "summary", None)
        if not callable(summary):
            return None
        frame = summary()
        return frame if isinstance(frame, pd.DataFrame) else None

    def _display_notes(self) -> Sequence[str]:
        return ()

    def _display_parts(self) -> tuple[str, pd.DataFrame | None, list[str]]:
        title = self._display_title()
        notes = list(self._display_notes())
        try:
            frame = self._display_frame()
        except HxError as exc:  # e.g. summary() of a model before fit()
            frame = None
            notes.insert(0, f"(not fitted) {exc}")
        return title, frame, notes

    def __repr__(self) -> str:
        title, frame, notes = self._display_parts()
        return text_block(title, frame, notes=notes)

    def _repr_html_(self) -> str:
        title, frame, notes = self._display_parts()
        return html_block(title, frame, notes=notes)
