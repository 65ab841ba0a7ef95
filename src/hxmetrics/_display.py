"""Readable ``repr`` and notebook HTML for result objects, from a title and a frame.

A result or model class mixes in :class:`DisplayMixin` and, if the defaults do not
fit, overrides ``_display_title`` (one line: what it is, on how many rows),
``_display_frame`` (the summary table; default: ``self.summary()``) and
``_display_notes`` (short lines: exclusions, suppressed groups, convergence).
``print(result)`` and a notebook then show the same content, as text or as a table.

A dataclass result mixes in :class:`DataclassDisplay` instead: its notebook HTML is a
small table of its scalar fields followed by its frames (:func:`dataclass_html`); its
``repr`` stays the dataclass's.

A container of personal data (a stakeholder registry, a data set and its truth) mixes
in :class:`CountsDisplay`: a one-line ``repr`` and a notebook table of counts only,
never a row of its tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError

__all__ = [
    "CountsDisplay",
    "DataclassDisplay",
    "DisplayMixin",
    "counts_html",
    "dataclass_html",
    "html_block",
    "text_block",
]

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


# ------------------------------------------------------------------ dataclass results

_SCALARS = (str, int, float, bool, np.generic, dt.date, dt.datetime, pd.Timestamp)
#: A mapping or sequence of scalars up to this length is shown inline, like a scalar.
_INLINE = 12


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, _SCALARS)


def _scalar_text(value: Any) -> str:
    from hxmetrics.privacy import looks_personal

    text = str(value.item() if isinstance(value, np.generic) else value)
    # A result never shows an email or phone number, even in a free-text field.
    if isinstance(value, str) and bool(looks_personal(pd.Series([text], dtype=object)).iloc[0]):
        return "<masked: looks like an email or phone>"
    return text


def _inline(value: Any) -> str | None:
    """The text of a scalar or of a short mapping or sequence of scalars, else None."""
    if _is_scalar(value):
        return _scalar_text(value)
    short = isinstance(value, (Mapping, list, tuple)) and len(value) <= _INLINE
    if short and isinstance(value, Mapping) and all(_is_scalar(v) for v in value.values()):
        return ", ".join(f"{_scalar_text(k)}: {_scalar_text(v)}" for k, v in value.items())
    if short and isinstance(value, (list, tuple)) and all(_is_scalar(v) for v in value):
        return ", ".join(_scalar_text(v) for v in value)
    return None


def _described(value: Any) -> str:
    """A one-line description of a field that is neither a scalar nor a frame."""
    if isinstance(value, Mapping):
        return f"{type(value).__name__} of {len(value):,} entries"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"{type(value).__name__} of {len(value):,} items"
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    return type(value).__name__


def _frame_html(name: str, frame: pd.DataFrame | pd.Series, max_rows: int) -> str:
    from hxmetrics.privacy import IDENTIFIER_COLUMNS

    if isinstance(frame, pd.Series):
        shape = f"{len(frame):,} rows"
        frame = frame.to_frame()
        index = True
    else:
        shape = f"{len(frame):,} rows × {frame.shape[1]:,} columns"
        index = not isinstance(frame.index, pd.RangeIndex)
    heading = f"<p><strong>{escape(name)}</strong> ({shape}"
    if IDENTIFIER_COLUMNS & {str(c) for c in frame.columns}:
        # A roster or raw exhaust table (e.g. a data set's): its identifiers are personal
        # data, never displayed; its shape and columns are enough to recognise it.
        columns = ", ".join(escape(str(c)) for c in frame.columns)
        return f"{heading}, with identifier columns: not shown)</p><p>columns: {columns}</p>"
    shown, more = _limited(frame, max_rows)
    html = heading + ")</p>" + shown.to_html(index=index, escape=True, border=0, na_rep="–")
    if more:
        html += f"<p><em>note:</em> {escape(more)}</p>"
    return html


def dataclass_html(obj: Any, *, max_rows: int = _MAX_ROWS) -> str:
    """Notebook display of a dataclass: its scalar fields, then its frames.

    Scalars (and short mappings or lists of scalars) form a small two-column table of
    field name and value; each DataFrame or Series field follows as a table (the first
    ``max_rows`` rows) under its name and shape. Other fields are named with their type
    and size. A frame with identifier columns (``email``, ``source_id``, ...: a roster
    or raw data) shows only its shape and columns; a text that looks like an email or a
    phone number is masked. Never raises: an object that is not a dataclass shows its
    ``repr``.

    Parameters
    ----------
    obj : dataclass instance
        The result.
    max_rows : int, default 30
        Rows shown per frame; the rest are counted in a note.

    Returns
    -------
    str

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Fit:
    ...     level: str
    ...     n: int
    >>> dataclass_html(Fit("metric", 120))  # doctest: +NORMALIZE_WHITESPACE
    '<div><p><strong>Fit</strong></p><table><tr><th>level</th><td>metric</td></tr><tr><th>n</th><td>120</td></tr></table></div>'
    """
    try:
        fields = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    except (TypeError, AttributeError):
        return f"<pre>{escape(repr(obj))}</pre>"
    rows: list[str] = []
    frames: list[str] = []
    for name, value in fields:
        if isinstance(value, (pd.DataFrame, pd.Series)):
            frames.append(_frame_html(name, value, max_rows))
            continue
        text = _inline(value)
        text = _described(value) if text is None else text
        rows.append(f"<tr><th>{escape(name)}</th><td>{escape(text)}</td></tr>")
    parts = [f"<div><p><strong>{escape(type(obj).__name__)}</strong></p>"]
    if rows:
        parts.append("<table>" + "".join(rows) + "</table>")
    parts.extend(frames)
    parts.append("</div>")
    return "".join(parts)


class DataclassDisplay:
    """Give a dataclass result a notebook display (``_repr_html_``): see
    :func:`dataclass_html`. Its ``repr`` stays the one the dataclass generates.

    Examples
    --------
    >>> import dataclasses
    >>> import pandas as pd
    >>> @dataclasses.dataclass
    ... class Check(DataclassDisplay):
    ...     table: pd.DataFrame
    ...     valid: bool
    >>> html = Check(pd.DataFrame({"level": ["metric"]}), True)._repr_html_()
    >>> html.startswith("<div><p><strong>Check</strong></p><table><tr><th>valid</th>")
    True
    >>> "<p><strong>table</strong> (1 rows × 1 columns)</p>" in html
    True
    """

    def _repr_html_(self) -> str:
        return dataclass_html(self)


# ------------------------------------------------------------- containers of personal data


def _count_text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    text = _inline(value)
    return _described(value) if text is None else text


def counts_html(title: str, rows: Mapping[str, Any], *, notes: Sequence[str] = ()) -> str:
    """Notebook display of counts: a title, a two-column table of name and value, notes.

    Integers are shown with thousands separators; texts that look like an email or a
    phone number are masked (as in :func:`dataclass_html`).

    Parameters
    ----------
    title : str
        Heading line.
    rows : mapping of str to value
        What is counted and its count (or a short scalar such as a date).
    notes : sequence of str
        Lines after the table.

    Returns
    -------
    str

    Examples
    --------
    >>> html = counts_html("Registry", {"persons": 1200, "silos": ["customers", "workers"]})
    >>> html.startswith("<div><p><strong>Registry</strong></p><table><tr><th>persons</th>")
    True
    >>> "<td>1,200</td>" in html, "<td>customers, workers</td>" in html
    (True, True)
    """
    body = "".join(
        f"<tr><th>{escape(str(name))}</th><td>{escape(_count_text(value))}</td></tr>"
        for name, value in rows.items()
    )
    parts = [f"<div><p><strong>{escape(title)}</strong></p>", f"<table>{body}</table>"]
    parts.extend(f"<p><em>note:</em> {escape(n)}</p>" for n in notes)
    parts.append("</div>")
    return "".join(parts)


class CountsDisplay:
    """A one-line ``repr`` and a notebook table of counts, for containers of personal data.

    The class defines ``_display_counts`` (the short summary: its ``repr`` is
    ``Name(key=value, ...)``) and may define ``_display_rows`` (the notebook table;
    default: the same counts) and ``_display_notes``. Neither ever shows a row of the
    data. A dataclass using it must be declared with ``repr=False`` (a dataclass
    otherwise writes its own ``__repr__`` over the mixin's).

    Examples
    --------
    >>> class Roster(CountsDisplay):
    ...     def _display_counts(self):
    ...         return {"rows": 1200, "silos": ["workers"]}
    >>> Roster()
    Roster(rows=1200, silos=['workers'])
    >>> Roster()._repr_html_().count("<tr>")
    2
    """

    def _display_counts(self) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - every user defines it

    def _display_rows(self) -> dict[str, Any]:
        return self._display_counts()

    def _display_notes(self) -> Sequence[str]:
        return ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._display_counts().items())
        return f"{type(self).__name__}({fields})"

    def _repr_html_(self) -> str:
        return counts_html(type(self).__name__, self._display_rows(), notes=self._display_notes())
