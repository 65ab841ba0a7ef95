"""A self-contained HTML report: one file, inline CSS, figures embedded, nothing external.

The builder is deliberately small: text is escaped with :func:`html.escape`, the
document is built from strings, and every piece is rendered when it is added. Two
builds from the same content give the same bytes (figures are encoded by
:func:`hxmetrics.plotting.figure_to_png`, which fixes their metadata), so a report can
be golden-tested.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from glob import escape as glob_escape
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hxmetrics._outputs import _checkpoint
from hxmetrics.errors import ParameterError
from hxmetrics.plotting import DPI, figure_to_png, style
from hxmetrics.report.privacy import check_no_external_urls, privacy_guard

__all__ = [
    "GENERATOR_TAG",
    "Kpi",
    "Report",
    "Section",
    "Term",
    "check_target",
    "format_value",
    "link_terms",
]

#: The first line of every report's head: how an existing file is recognised as a
#: report hxmetrics wrote (and so may be replaced by a new one).
GENERATOR_TAG = '<meta name="generator" content="hxmetrics">'
# A report's generator tag sits in its first few hundred bytes; read no further.
_SNIFF_BYTES = 4096

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_RESERVED_IDS = frozenset({"top", "contents"})
_CSS_PX_PER_INCH = 96
_MISSING = "–"
_NUM = ' class="num"'

Formatter = str | Callable[[Any], str]


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _paragraphs(text: str) -> str:
    """Escape ``text``; blank lines separate paragraphs."""
    parts = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{_e(' '.join(p.split()))}</p>" for p in parts)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, fmt: Formatter | None = None) -> str:
    """Format one value for display (not yet escaped).

    Parameters
    ----------
    value : object
        The value. Missing values (None, NaN, NA, NaT) show as an en dash.
    fmt : str or callable, optional
        A format string (``"{:.1f}"``) or spec (``".1%"``), or a function of the value.
        Default: thousands separators for integers, 2 decimals for other floats,
        "yes"/"no" for booleans, ISO dates for timestamps.

    Returns
    -------
    str

    Examples
    --------
    >>> format_value(1234567), format_value(0.25, ".0%"), format_value(float("nan"))
    ('1,234,567', '25%', '–')
    >>> format_value(12.345, "{:+.1f}"), format_value(True)
    ('+12.3', 'yes')
    """
    if _is_missing(value):
        return _MISSING
    if fmt is not None:
        if callable(fmt):
            return str(fmt(value))
        return fmt.format(value) if "{" in fmt else format(value, fmt)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):,.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    return str(value)


def _column_format(series: pd.Series) -> Formatter | None:
    """Pick decimals for a float column from its magnitude, the same for every row."""
    if not pd.api.types.is_float_dtype(series.dtype):
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            values = series.dropna()
            midnight = bool((values == values.dt.normalize()).all()) if len(values) else True
            return (lambda v: v.strftime("%Y-%m-%d")) if midnight else None
        return None
    raw = series.to_numpy(dtype=float)
    finite = raw[np.isfinite(raw)]
    if finite.size == 0:
        return None
    if np.all(finite == np.round(finite)):
        return ",.0f"
    top = float(np.max(np.abs(finite)))
    if top >= 1000:
        return ",.0f"
    if top >= 10:
        return ",.1f"
    if top >= 1:
        return ",.2f"
    return ",.3f"


@dataclass(frozen=True)
class Term:
    """A technical term of a report, linked to its plain-words definition.

    Parameters
    ----------
    anchor : str
        The ``id`` of the element that defines the term (``"g-omega"``), added by
        :meth:`Section.add_definitions`.
    definition : str
        One or two plain sentences: the link's hover title.
    forms : tuple of str
        The words linked in the text ("omega", "McDonald's omega"). A form in lower
        case matches in any case and in the plural ("interval", "Intervals"); a form
        with a capital matches exactly ("NPS", "Holm").
    """

    anchor: str
    definition: str
    forms: tuple[str, ...]


# A tag of the builder's own markup: attribute values are escaped (``>`` is ``&gt;``),
# so a tag ends at the first ``>``.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*>")
# Terms are linked in running text and in table headers only; never inside a link,
# a data cell, a heading or a definition's own term.
_LINKABLE = frozenset({"p", "li", "th", "caption", "figcaption"})
_NO_LINK = frozenset(
    {"a", "td", "h1", "h2", "h3", "h4", "dt", "summary", "title", "style", "script", "nav"}
)
_VOID = frozenset({"img", "br", "hr", "meta", "input", "wbr", "col", "source"})


def _form_pattern(form: str) -> str:
    # The text is matched as the page holds it: escaped ("Cronbach&#x27;s alpha").
    words = [re.escape(_e(w)) for w in form.split()]
    body = r"\s+".join(words)
    if form == form.lower():
        return f"(?i:{body})(?:e?s)?"
    return body


def _terms_pattern(terms: Sequence[Term]) -> re.Pattern[str]:
    groups = []
    for i, term in enumerate(terms):
        # Longest forms first, so that "Holm adjustment" wins over "Holm".
        forms = sorted(set(term.forms), key=lambda f: (-len(f), f))
        groups.append(f"(?P<t{i}>{'|'.join(_form_pattern(f) for f in forms)})")
    # Not inside a word, an entity (``&amp;``) or a hyphenated compound.
    return re.compile(r"(?<![\w&#-])(?:" + "|".join(groups) + r")(?![\w-])")


def link_terms(html: str, terms: Sequence[Term], *, pattern: re.Pattern[str] | None = None) -> str:
    """Link the first use of each term in ``html`` to its definition.

    A toggle (``<details>``: "How to read this", a figure's data) is read on its own,
    so the first use inside each toggle is linked too. Only text is touched (never a
    tag or an attribute value), and only running text and table headers (paragraphs,
    list items, captions, ``th``); text inside a link,
    a data cell or a heading is left alone. The link carries the definition as its
    hover title, escaped: ``<a class="term" href="#g-omega" title="...">omega</a>``.

    Parameters
    ----------
    html : str
        Markup as the builder writes it (escaped text, well-formed tags).
    terms : sequence of Term
        The terms; each is linked once, at its first use.
    pattern : re.Pattern, optional
        The compiled pattern of ``terms`` (from a previous call), to save compiling.

    Returns
    -------
    str

    Examples
    --------
    >>> t = Term("g-omega", "How well the questions measure one thing.", ("omega",))
    >>> link_terms('<p title="omega">Omega is 0.9; omega again.</p>', [t])
    '<p title="omega"><a class="term" href="#g-omega" title="How well the questions \
measure one thing.">Omega</a> is 0.9; omega again.</p>'
    """
    if not terms:
        return html
    compiled = pattern if pattern is not None else _terms_pattern(terms)
    # The terms linked so far, per scope: the section, and each toggle (a reader opens
    # "How to read this" or a figure's data alone, so its first use is linked again).
    scopes: list[set[int]] = [set()]

    def replace(match: re.Match[str]) -> str:
        index = int(next(k for k, v in match.groupdict().items() if v is not None)[1:])
        used = scopes[-1]
        if index in used:
            return match.group(0)
        used.add(index)
        term = terms[index]
        return (
            f'<a class="term" href="#{_e(term.anchor)}" title="{_e(term.definition)}">'
            f"{match.group(0)}</a>"
        )

    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for tag in _TAG.finditer(html):
        text = html[pos : tag.start()]
        if text:
            linkable = any(t in _LINKABLE for t in stack) and not any(t in _NO_LINK for t in stack)
            out.append(compiled.sub(replace, text) if linkable else text)
        out.append(tag.group(0))
        pos = tag.end()
        closing, name = tag.group(1), tag.group(2).lower()
        if closing:
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
            if name == "details" and len(scopes) > 1:
                scopes.pop()
        elif name not in _VOID and not tag.group(0).endswith("/>"):
            stack.append(name)
            if name == "details":
                scopes.append(set())
    out.append(html[pos:])
    return "".join(out)


@dataclass(frozen=True)
class Kpi:
    """A headline number for :meth:`Section.add_kpis`.

    Parameters
    ----------
    label : str
        What the number is ("Customer NPS").
    value : float or None
        The estimate; ``None``/NaN shows as suppressed.
    ci_low, ci_high : float, optional
        Interval bounds, shown as "95% CI low to high".
    n : int, optional
        Sample size behind the number.
    fmt : str or callable, default "{:.1f}"
        Format of the value and the bounds (see :func:`format_value`).
    unit : str, default ""
        Written after the value ("%", " pts").
    note : str, default ""
        One short line under the number.
    confidence : float, default 0.95
        Level of the interval, for its label.
    """

    label: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    fmt: Formatter = "{:.1f}"
    unit: str = ""
    note: str = ""
    confidence: float = 0.95

    def to_html(self) -> str:
        """Render the card."""
        parts = [f'<div class="kpi"><div class="kpi-label">{_e(self.label)}</div>']
        if _is_missing(self.value):
            parts.append('<div class="kpi-value kpi-suppressed">suppressed</div>')
        else:
            value = format_value(self.value, self.fmt)
            parts.append(f'<div class="kpi-value">{_e(value)}{_e(self.unit)}</div>')
            if not (_is_missing(self.ci_low) or _is_missing(self.ci_high)):
                lo = format_value(self.ci_low, self.fmt)
                hi = format_value(self.ci_high, self.fmt)
                level = f"{self.confidence * 100:g}% CI"
                parts.append(f'<div class="kpi-ci">{_e(level)} {_e(lo)} to {_e(hi)}</div>')
        if not _is_missing(self.n):
            parts.append(f'<div class="kpi-n">n = {int(self.n):,}</div>')  # type: ignore[arg-type]
        if self.note:
            parts.append(f'<div class="kpi-note">{_e(self.note)}</div>')
        parts.append("</div>")
        return "".join(parts)


class Section:
    """A part of a report with its own heading and entry in the table of contents.

    Made by :meth:`Report.add_section`; its ``add_*`` methods append content in order
    and return the section, so calls can be chained.
    """

    def __init__(
        self, id: str, title: str, *, intro: str | None = None, how_to_read: str | None = None
    ) -> None:
        self.id = id
        self.title = title
        self.intro = intro
        self.how_to_read = how_to_read
        self._parts: list[str] = []
        self._figures = 0
        self._tables = 0
        # (alt text, has a data table) of each figure, for :meth:`Report.figures_without_data`.
        self._figure_data: list[tuple[str, bool]] = []
        self._anchors: list[str] = []

    def __repr__(self) -> str:
        return f"Section(id={self.id!r}, title={self.title!r}, parts={len(self._parts)})"

    def add_heading(self, text: str) -> Section:
        """Add a sub-heading inside the section."""
        self._parts.append(f"<h3>{_e(text)}</h3>")
        return self

    def add_text(self, text: str) -> Section:
        """Add prose; blank lines separate paragraphs. The text is escaped."""
        self._parts.append(_paragraphs(text))
        return self

    def add_list(self, items: Iterable[str], *, ordered: bool = False) -> Section:
        """Add a bulleted (or numbered) list; each item is escaped.

        Parameters
        ----------
        items : iterable of str
            The entries, in order.
        ordered : bool, default False
            Numbered instead of bulleted.
        """
        entries = [str(item) for item in items]
        if not entries:
            raise ParameterError("add_list needs at least one item.")
        tag = "ol" if ordered else "ul"
        body = "".join(f"<li>{_e(' '.join(item.split()))}</li>" for item in entries)
        self._parts.append(f"<{tag}>{body}</{tag}>")
        return self

    def add_note(self, text: str, *, kind: str = "info") -> Section:
        """Add a highlighted note (``kind`` "info" or "warning"), e.g. what was suppressed.

        Parameters
        ----------
        text : str
            The note; blank lines separate paragraphs. Escaped.
        kind : {"info", "warning"}, default "info"
            Look of the box.
        """
        if kind not in ("info", "warning"):
            raise ParameterError(f"kind must be 'info' or 'warning'; got {kind!r}.")
        role = ' role="note"' if kind == "info" else ' role="alert"'
        self._parts.append(f'<div class="note note-{kind}"{role}>{_paragraphs(text)}</div>')
        return self

    def add_kpis(self, kpis: Iterable[Kpi | Mapping[str, Any]]) -> Section:
        """Add a row of headline number cards.

        Parameters
        ----------
        kpis : iterable of Kpi or mapping
            Each a :class:`Kpi` or a mapping of its fields (``label``, ``value``,
            ``ci_low``, ``ci_high``, ``n``, ``fmt``, ``unit``, ``note``, ``confidence``).
        """
        cards = []
        for item in kpis:
            if isinstance(item, Kpi):
                cards.append(item)
                continue
            if not isinstance(item, Mapping):
                raise ParameterError(
                    f"each KPI must be a Kpi or a mapping of its fields; got {type(item).__name__}."
                )
            try:
                cards.append(Kpi(**item))
            except TypeError as exc:
                raise ParameterError(
                    f"a KPI mapping has unknown or missing fields ({exc}); allowed: label, "
                    "value, ci_low, ci_high, n, fmt, unit, note, confidence."
                ) from None
        if not cards:
            raise ParameterError("add_kpis needs at least one KPI.")
        self._parts.append(f'<div class="kpis">{"".join(k.to_html() for k in cards)}</div>')
        return self

    def add_table(
        self,
        data: pd.DataFrame,
        *,
        caption: str | None = None,
        number_formats: Mapping[str, Formatter] | None = None,
        labels: Mapping[str, str] | None = None,
        index: bool | None = None,
        max_rows: int | None = None,
    ) -> Section:
        """Add a table; every cell is escaped.

        Numeric columns are right-aligned with tabular figures. A float column gets
        the same number of decimals in every row, chosen from its magnitude, unless
        ``number_formats`` says otherwise. Rows whose ``suppressed`` column is true are
        greyed.

        Parameters
        ----------
        data : DataFrame
            The table.
        caption : str, optional
            Shown above the table.
        number_formats : mapping of column to str or callable, optional
            Format string (``"{:.1f}"``), spec (``".1%"``) or function per column.
        labels : mapping of column to str, optional
            Header text per column, for readers (``{"ci_low": "95% CI from"}``);
            other columns show their names.
        index : bool, optional
            Show the index as leading columns. Default: when it is not a plain
            0..n-1 range.
        max_rows : int, optional
            Show at most this many rows; the table then says how many were left out.
        """
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(f"add_table expects a DataFrame; got {type(data).__name__}.")
        formats = dict(number_formats or {})
        headers = dict(labels or {})
        for what, given in (("number_formats", formats), ("labels", headers)):
            unknown = [c for c in given if c not in data.columns]
            if unknown:
                raise ParameterError(
                    f"{what} names columns not in the table: {unknown}; "
                    f"columns: {[str(c) for c in data.columns]}."
                )
        if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 1):
            raise ParameterError(f"max_rows must be a positive integer or None; got {max_rows!r}.")
        frame = data
        if index is None:
            idx = frame.index
            index = not (
                isinstance(idx, pd.RangeIndex)
                and idx.name is None
                and idx.start == 0
                and idx.step == 1
            )
        if index:
            frame = frame.reset_index()
        total = len(frame)
        if max_rows is not None and total > max_rows:
            frame = frame.iloc[:max_rows]
        self._tables += 1

        columns = list(frame.columns)
        names = [
            headers[c]
            if c in headers
            else " · ".join(map(str, c))
            if isinstance(c, tuple)
            else str(c)
            for c in columns
        ]
        col_formats: list[Formatter | None] = []
        numeric: list[bool] = []
        for pos, column in enumerate(columns):
            series = frame.iloc[:, pos]
            numeric.append(
                pd.api.types.is_numeric_dtype(series.dtype)
                and not pd.api.types.is_bool_dtype(series.dtype)
            )
            col_formats.append(formats.get(column, _column_format(series)))

        head = "".join(
            f'<th scope="col"{_NUM if num else ""}>{_e(name)}</th>'
            for name, num in zip(names, numeric, strict=True)
        )
        suppressed = (
            frame["suppressed"].fillna(False).astype(bool).to_numpy()
            if "suppressed" in frame.columns and frame["suppressed"].ndim == 1
            else np.zeros(len(frame), dtype=bool)
        )
        rows = []
        for r, values in enumerate(frame.itertuples(index=False, name=None)):
            cells = "".join(
                f"<td{_NUM if num else ''}>{_e(format_value(v, f))}</td>"
                for v, f, num in zip(values, col_formats, numeric, strict=True)
            )
            cls = ' class="suppressed"' if suppressed[r] else ""
            rows.append(f"<tr{cls}>{cells}</tr>")
        if not rows:
            rows.append(f'<tr><td colspan="{max(len(columns), 1)}" class="empty">no rows</td></tr>')
        cap = f"<caption>{_e(caption)}</caption>" if caption else ""
        more = ""
        if len(frame) < total:
            more = f'<p class="table-more">Showing the first {len(frame):,} of {total:,} rows.</p>'
        self._parts.append(
            f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
        )
        return self

    def add_figure(
        self,
        fig: Figure | Axes,
        *,
        alt: str,
        caption: str | None = None,
        dpi: int = DPI,
        data: pd.DataFrame | None = None,
        number_formats: Mapping[str, Formatter] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Section:
        """Embed a matplotlib figure as a PNG data URI.

        The PNG bytes are deterministic (:func:`hxmetrics.plotting.figure_to_png`).
        The image is shown at the figure's size in inches (96 CSS pixels per inch),
        shrinking to fit narrow screens.

        Parameters
        ----------
        fig : Figure or Axes
            The figure (or an Axes of it).
        alt : str
            Text alternative for readers who cannot see the image: what it shows and
            the main finding. Required.
        caption : str, optional
            Shown under the image.
        dpi : int, default 144
            Pixels per inch of the embedded image.
        data : DataFrame, optional
            The numbers the figure draws: shown as a table (formatted as by
            :meth:`add_table`, with ``number_formats`` and ``labels``) behind a
            "Data behind the figure" toggle under it, for readers who cannot see the
            image or want the exact values.
        number_formats, labels : mapping, optional
            As in :meth:`add_table`, for ``data``.

        Notes
        -----
        Figures from :func:`hxmetrics.plotting.new_figure` are not registered with
        pyplot and need no closing; close pyplot figures (``plt.close(fig)``) once
        added, or pyplot keeps them all in memory.
        """
        figure = fig.figure if isinstance(fig, Axes) else fig
        if not isinstance(alt, str) or not alt.strip():
            raise ParameterError(
                "add_figure needs alt text: one sentence saying what the figure shows."
            )
        if not isinstance(figure, Figure):
            raise ParameterError(
                f"add_figure expects a matplotlib Figure or Axes; got {type(fig).__name__}."
            )
        png = settled_png(figure, dpi=dpi)
        width, height = figure.get_size_inches()
        w = math.ceil(width * _CSS_PX_PER_INCH)
        h = math.ceil(height * _CSS_PX_PER_INCH)
        encoded = base64.b64encode(png).decode("ascii")
        self._figures += 1
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        self._parts.append(
            f'<figure><img src="data:image/png;base64,{encoded}" width="{w}" height="{h}" '
            f'alt="{_e(alt.strip())}">{cap}</figure>'
        )
        if data is not None:
            if not isinstance(data, pd.DataFrame):
                raise ParameterError(
                    f"add_figure data must be a DataFrame; got {type(data).__name__}."
                )
            self._parts.append(
                '<details class="figure-data"><summary>Data behind the figure</summary>'
            )
            self.add_table(data, number_formats=number_formats, labels=labels)
            self._parts.append("</details>")
        self._figure_data.append((alt.strip(), data is not None))
        return self

    def add_definitions(self, entries: Iterable[tuple[str, str, str]]) -> Section:
        """Add a list of terms and their definitions (a glossary), each with an anchor.

        Parameters
        ----------
        entries : iterable of (anchor, term, definition)
            ``anchor`` is the ``id`` of the term's entry (a letter, then letters,
            digits, ``-`` or ``_``), the target of the links :meth:`Report.link_terms`
            makes; ``term`` and ``definition`` are escaped.
        """
        items = [(str(a), str(t), str(d)) for a, t, d in entries]
        if not items:
            raise ParameterError("add_definitions needs at least one entry.")
        for anchor, _, _ in items:
            if not _ID.match(anchor) or anchor in _RESERVED_IDS:
                raise ParameterError(
                    f"a definition's anchor must start with a letter and hold only letters, "
                    f"digits, '-' and '_'; got {anchor!r}."
                )
        anchors = [a for a, _, _ in items]
        repeated = sorted(
            {a for a in anchors if anchors.count(a) > 1} | set(anchors) & set(self._anchors)
        )
        if repeated:
            raise ParameterError(f"definition anchors must be unique; repeated: {repeated}.")
        self._anchors.extend(anchors)
        body = "".join(
            f'<dt id="{_e(a)}">{_e(t)}</dt><dd>{_e(" ".join(d.split()))}</dd>' for a, t, d in items
        )
        self._parts.append(f'<dl class="glossary">{body}</dl>')
        return self

    @property
    def figures_without_data(self) -> list[str]:
        """The alt texts of this section's figures added without their ``data``."""
        return [alt for alt, has in self._figure_data if not has]

    def to_html(self) -> str:
        """Render the section."""
        intro = f'<div class="intro">{_paragraphs(self.intro)}</div>' if self.intro else ""
        if self.how_to_read:
            intro += (
                '<details class="how-to-read"><summary>How to read this</summary>'
                f"{_paragraphs(self.how_to_read)}</details>"
            )
        return (
            f'<section id="{_e(self.id)}" aria-labelledby="{_e(self.id)}-h">'
            f'<h2 id="{_e(self.id)}-h">{_e(self.title)}</h2>'
            f"{intro}"
            f"{''.join(self._parts)}</section>"
        )


class Report:
    """A self-contained HTML report: sections with KPIs, tables, figures and notes.

    Parameters
    ----------
    title : str
        The report's title.
    subtitle : str, optional
        A line under the title (the data it was computed on, say).
    footer : str, optional
        Text at the end (how it was made). No timestamp is added by the builder: the
        caller decides what goes in, so that identical input gives identical bytes.
    lang : str, default "en"
        Language of the document.
    forbidden : sequence of str, optional
        Identifiers from the input that must never appear (emails, phones, ids):
        :meth:`write` refuses a document containing any of them, in addition to the
        ``forbidden`` values given to it.

    Examples
    --------
    >>> import pandas as pd
    >>> report = Report(title="Experience report", subtitle="Sample organisation")
    >>> section = report.add_section("nps", "Net Promoter Score", intro="By role.")
    >>> _ = section.add_kpis([Kpi("Customer NPS", 21.4, ci_low=15.0, ci_high=27.6, n=812)])
    >>> _ = section.add_table(pd.DataFrame({"role": ["customer"], "nps": [21.4]}))
    >>> page = report.to_html()
    >>> page.startswith("<!DOCTYPE html>"), '<a href="#nps">' in page, "http://" in page
    (True, True, False)
    """

    def __init__(
        self,
        title: str,
        *,
        subtitle: str | None = None,
        footer: str | None = None,
        lang: str = "en",
        forbidden: Sequence[str] = (),
    ) -> None:
        if not isinstance(title, str) or not title.strip():
            raise ParameterError("a report needs a non-empty title.")
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", lang):
            raise ParameterError(f"lang must be a language tag like 'en' or 'en-GB'; got {lang!r}.")
        self.title = title
        self.subtitle = subtitle
        self.footer = footer
        self.lang = lang
        self.forbidden: list[str] = [str(v) for v in forbidden]
        self.sections: list[Section] = []
        self._terms: tuple[Term, ...] = ()
        self._unlinked: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        ids = ", ".join(s.id for s in self.sections)
        return f"Report(title={self.title!r}, sections=[{ids}])"

    def add_section(
        self, id: str, title: str, *, intro: str | None = None, how_to_read: str | None = None
    ) -> Section:
        """Append a section and return it.

        Parameters
        ----------
        id : str
            Anchor of the section: a letter, then letters, digits, ``-`` or ``_``;
            unique in the report.
        title : str
            Heading, also its entry in the table of contents.
        intro : str, optional
            Prose under the heading; blank lines separate paragraphs.
        how_to_read : str, optional
            A plain-words note on reading the section (what the numbers mean, what
            the marks say), behind a "How to read this" toggle under the intro.

        Returns
        -------
        Section
        """
        if not isinstance(id, str) or not _ID.match(id) or id.endswith("-h"):
            raise ParameterError(
                f"section id must start with a letter and hold only letters, digits, '-' "
                f"and '_' (and not end in '-h'); got {id!r}."
            )
        if id in _RESERVED_IDS or any(s.id == id for s in self.sections):
            taken = sorted(_RESERVED_IDS | {s.id for s in self.sections})
            raise ParameterError(f"section id {id!r} is already taken; taken ids: {taken}.")
        section = Section(id, title, intro=intro, how_to_read=how_to_read)
        self.sections.append(section)
        return section

    def link_terms(self, terms: Iterable[Term], *, skip: Iterable[str] = ()) -> None:
        """Link each section's first use of every term to its definition.

        Applied when the document is rendered (:meth:`to_html`), in each section's
        text and table headers (see :func:`link_terms`). A term is linked only when
        its anchor is defined in the report (:meth:`Section.add_definitions`).

        Parameters
        ----------
        terms : iterable of Term
            The terms, replacing any given before.
        skip : iterable of str, optional
            Ids of sections left unlinked (the glossary itself).
        """
        items = tuple(terms)
        for term in items:
            if not isinstance(term, Term) or not term.forms:
                raise ParameterError(f"link_terms takes Term objects with forms; got {term!r}.")
        self._terms = items
        self._unlinked = frozenset(str(s) for s in skip)

    def figures_without_data(self) -> list[tuple[str, str]]:
        """Every figure added without its ``data`` table: (section id, alt text).

        A report whose figures all carry their numbers returns an empty list.
        """
        return [(s.id, alt) for s in self.sections for alt in s.figures_without_data]

    def to_html(self) -> str:
        """Render the whole document as one string."""
        toc = "".join(f'<li><a href="#{_e(s.id)}">{_e(s.title)}</a></li>' for s in self.sections)
        nav = (
            f'<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>'
            if self.sections
            else ""
        )
        subtitle = f'<p class="subtitle">{_e(self.subtitle)}</p>' if self.subtitle else ""
        footer = f"<footer>{_paragraphs(self.footer)}</footer>" if self.footer else ""
        defined = {a for s in self.sections for a in s._anchors}
        terms = [t for t in self._terms if t.anchor in defined]
        pattern = _terms_pattern(terms) if terms else None
        body = "\n".join(
            link_terms(s.to_html(), terms, pattern=pattern)
            if terms and s.id not in self._unlinked
            else s.to_html()
            for s in self.sections
        )
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="{_e(self.lang)}">\n<head>\n<meta charset="utf-8">\n'
            f"{GENERATOR_TAG}\n"
            # The browser itself refuses to load anything external, whatever slips in.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "img-src data:; style-src 'unsafe-inline'\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="color-scheme" content="light">\n'
            f"<title>{_e(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f'<body>\n<header id="top"><h1>{_e(self.title)}</h1>{subtitle}</header>\n'
            f"{nav}\n<main>\n{body}\n</main>\n{footer}\n</body>\n</html>\n"
        )

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        forbidden: Sequence[str] = (),
        inputs: Iterable[str | os.PathLike[str]] = (),
    ) -> Path:
        """Write the report to ``path`` atomically, after the privacy checks.

        The target is checked first (:func:`check_target`: never a folder, a symlink,
        an input or a file that is not an hxmetrics report). The document is checked
        for external references and for the ``forbidden`` identifiers
        (:func:`~hxmetrics.report.privacy_guard`) before anything is written; it is
        then written to a temporary file beside ``path`` and moved into place, so a
        reader never sees half a report and a failure leaves no temporary file.

        Parameters
        ----------
        path : path-like
            Destination ``.html`` file; its folder must exist.
        forbidden : sequence of str, optional
            Identifiers from the input that must not appear (emails, phones), checked
            together with the report's own :attr:`forbidden` list.
        inputs : iterable of path-like, optional
            Files the report was computed from: never written over.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        ParameterError
            If the target may not be written (see :func:`check_target`).
        PrivacyError
            If the document references anything external or contains a forbidden value.
        """
        target = check_target(path, inputs=inputs)
        document = self.to_html()
        values = [*self.forbidden, *forbidden]
        if values:
            privacy_guard(document, forbidden=values)
        else:
            check_no_external_urls(document)
        data = document.encode("utf-8")
        _remove_stale_temporaries(target)
        tmp = _temporary(target, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            _checkpoint("report: temporary file created")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            _checkpoint("report: temporary file written")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target


#: Layout passes allowed before falling back to :func:`figure_to_png`; constrained
#: layout settles in two or three.
_MAX_LAYOUTS = 8


def _positions(figure: Figure) -> list[tuple[float, ...]]:
    """Where the layout put each Axes (active and original position), exactly."""
    return [
        (*ax.get_position(original=False).bounds, *ax.get_position(original=True).bounds)
        for ax in figure.axes
    ]


def settled_png(figure: Figure, *, dpi: int = DPI) -> bytes:
    """The bytes :func:`~hxmetrics.plotting.figure_to_png` gives, from one render.

    ``figure_to_png`` renders until two renders in a row agree, because constrained
    layout refines itself on every draw. Its result is the render at the layout's
    fixed point, and the layout alone gets there for a fraction of a render's cost:
    a draw that renders nothing (:meth:`~matplotlib.figure.Figure.draw_without_rendering`)
    at the image's resolution, in the house style, moves the Axes exactly as the
    layout pass of a save does. Once a pass leaves every Axes where it was, the
    layout is settled, and the one save that follows (whose own layout pass is then a
    no-op) renders the fixed point. A figure without a layout engine, or whose layout
    does not settle within a few passes, goes to ``figure_to_png`` unchanged.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure to encode.
    dpi : int, default 144
        Pixels per inch of the image.

    Returns
    -------
    bytes
        The PNG file, with no software tag or timestamp.

    Examples
    --------
    >>> from hxmetrics.plotting import new_figure
    >>> fig, ax = new_figure(3, 2)
    >>> _ = ax.plot([0, 1], [0, 1]); _ = ax.set_title("A title")
    >>> settled_png(fig) == figure_to_png(fig)
    True
    """
    if (
        figure.get_layout_engine() is None
        or type(figure.canvas) is not FigureCanvasBase
        or not (isinstance(dpi, int) and 10 <= dpi <= 600)
    ):
        return figure_to_png(figure, dpi=dpi)
    original = figure.get_dpi()
    # One Agg canvas for the layout passes and the save (a save on a canvas that can
    # print PNG keeps it): one renderer, so text is measured once, not once a pass.
    canvas = FigureCanvasAgg(figure)
    settled = False
    try:
        with style():
            figure.set_dpi(dpi)
            try:
                renderer = canvas.get_renderer()
                before = _positions(figure)
                for _ in range(_MAX_LAYOUTS):
                    with renderer._draw_disabled():
                        figure.draw(renderer)
                    after = _positions(figure)
                    if after == before:
                        settled = True
                        break
                    before = after
            finally:
                figure.set_dpi(original)
            if settled:
                # Settled: the save's own layout pass would move nothing; skip it, as
                # the save itself does for its drawing pass.
                engine = figure.get_layout_engine()
                figure.set_layout_engine("none")
                try:
                    buf = io.BytesIO()
                    figure.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
                finally:
                    figure.set_layout_engine(engine)
                return buf.getvalue()
    finally:
        FigureCanvasBase(figure)
    return figure_to_png(figure, dpi=dpi)


_TMP_INFIX = ".hxmetrics-"
_DOCTYPE = b"<!DOCTYPE html>"


def _temporary(target: Path, pid: int) -> Path:
    """Where a report is written before it replaces ``target``: beside it, named by pid."""
    return target.with_name(f".{target.name}{_TMP_INFIX}{pid}.tmp")


def _remove_stale_temporaries(target: Path) -> None:
    """Remove what a killed run left: our temporary files of processes that are gone.

    Only a regular file named exactly as :func:`_temporary` names them, of a pid that
    no longer exists, and empty or starting as a report starts, is removed.
    """
    prefix = f".{target.name}{_TMP_INFIX}"
    for path in target.parent.glob(f"{glob_escape(prefix)}*.tmp"):
        pid_text = path.name[len(prefix) : -len(".tmp")]
        if not pid_text.isdigit() or path.is_symlink() or not path.is_file():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # alive (a run writing now)
        except ProcessLookupError:
            pass
        except PermissionError:  # alive, owned by someone else
            continue
        with path.open("rb") as handle:
            head = handle.read(len(_DOCTYPE))
        if _DOCTYPE.startswith(head):
            path.unlink(missing_ok=True)


def check_target(
    path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Check that a report may be written to ``path``, before any work is done.

    A report replaces only a file that is itself an hxmetrics report (its head holds
    :data:`GENERATOR_TAG`); anything else already at the path is left alone.

    Parameters
    ----------
    path : path-like
        The ``.html`` file to write.
    inputs : iterable of path-like, optional
        Files the report is computed from (tables, a job file): never written over,
        whatever they hold. Compared by resolved path, so ``./data/../data/x.csv``
        and a symlink to an input are caught too.

    Returns
    -------
    pathlib.Path
        ``path`` as given, as a :class:`~pathlib.Path`.

    Raises
    ------
    ParameterError
        If the path is a symlink, a folder, an input or an existing file that is not
        an hxmetrics report, or if its folder is missing or not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_target(folder / "report.html") == folder / "report.html"
    True
    >>> (folder / "notes.txt").write_text("mine")
    4
    >>> check_target(folder / "notes.txt")
    Traceback (most recent call last):
    ...
    hxmetrics.errors.ParameterError: will not write the report over .../notes.txt: ...
    """
    target = Path(path)
    where = f"will not write the report over {target}"
    if target.is_symlink():
        raise ParameterError(f"{where}: it is a symbolic link. Give the path of a plain file.")
    if target.is_dir():
        raise ParameterError(
            f"{where}: it is a folder. Give a file name, e.g. {target / 'report.html'}."
        )
    resolved = target.resolve()
    for item in inputs:
        if Path(item).resolve() == resolved:
            raise ParameterError(f"{where}: it is an input of this report. Choose another --out.")
    parent = target.parent
    if not parent.is_dir():
        raise ParameterError(f"cannot write {target}: folder {parent} does not exist.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(f"cannot write {target}: folder {parent} is not writable.")
    if target.exists():
        if not target.is_file():
            raise ParameterError(f"{where}: it is not a regular file.")
        if not _is_report(target):
            raise ParameterError(
                f"{where}: it exists and is not a report hxmetrics wrote. Move it away or "
                "choose another --out."
            )
    return target


def _is_report(path: Path) -> bool:
    """Whether the file's head carries hxmetrics' generator tag."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return GENERATOR_TAG.encode("ascii") in head


# Colours: text #1f2328 on white (15.8:1), secondary #57606a (6.4:1), accent #1f5f99
# (6.6:1); all pass WCAG 2.1 AA for body text. Fonts: the reader's system fonts only.
_CSS = """
:root{--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--soft:#f4f6f8;--accent:#1f5f99;
--warn:#8a4b00;--warn-bg:#fff6e5;--info-bg:#eef4fa}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0 auto;max-width:1100px;padding:2rem 2.5rem 3rem;color:var(--ink);background:#fff;
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header h1{font-size:2rem;line-height:1.2;margin:0 0 .35rem}
.subtitle{color:var(--muted);margin:0 0 1.5rem;font-size:1.05rem}
nav#contents{position:sticky;top:0;z-index:10;display:flex;align-items:center;gap:.6rem;
margin:0 -2.5rem 2rem;padding:.4rem 2.5rem;background:#fff;border-bottom:1px solid var(--line);
box-shadow:0 2px 4px rgba(31,35,40,.06)}
nav#contents h2{flex:none;font-size:.75rem;text-transform:uppercase;letter-spacing:.06em;
color:var(--muted);margin:0;border:0;padding:0}
nav#contents ol{display:flex;flex-wrap:nowrap;gap:.15rem;margin:0;padding:.1rem 0;list-style:none;
overflow-x:auto;white-space:nowrap;scrollbar-width:thin;counter-reset:toc;min-width:0}
nav#contents li{flex:none;margin:0;counter-increment:toc}
nav#contents a{display:block;padding:.2rem .5rem;border-radius:4px;font-size:.85rem;
text-decoration:none}
nav#contents a::before{content:counter(toc) ". ";color:var(--muted)}
nav#contents a:hover,nav#contents a:focus{background:var(--soft);text-decoration:underline}
section,[id^="g-"]{scroll-margin-top:3.25rem}
a{color:var(--accent)}
a.term{color:inherit;text-decoration:underline dotted var(--muted);text-underline-offset:.18em;
cursor:help}
a.term:hover,a.term:focus{color:var(--accent)}
details{margin:.5rem 0 1.25rem}
details>summary{cursor:pointer;color:var(--accent);font-size:.9rem;font-weight:600}
details.how-to-read{border-left:4px solid var(--line);padding:.3rem 1rem;max-width:52rem}
details.figure-data{margin-top:-1rem}
dl.glossary{max-width:52rem}
dl.glossary dt{font-weight:600;margin:.9rem 0 .1rem}
dl.glossary dd{margin:0 0 0 1.2rem}
section{margin:0 0 2.75rem}
h2{font-size:1.45rem;line-height:1.25;margin:2.25rem 0 .75rem;padding-bottom:.3rem;
border-bottom:2px solid var(--line)}
h3{font-size:1.1rem;margin:1.6rem 0 .5rem}
p{margin:.5rem 0;max-width:46rem}
section ul,section ol{max-width:46rem;padding-left:1.4rem}
section li{margin:.2rem 0}
.intro{color:var(--ink);margin-bottom:1rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(12.5rem,1fr));gap:.9rem;
margin:1rem 0 1.5rem}
.kpi{border:1px solid var(--line);border-top:4px solid var(--accent);border-radius:6px;
padding:.75rem 1rem;break-inside:avoid}
.kpi-label{font-size:.85rem;color:var(--muted);font-weight:600}
.kpi-value{font-size:2rem;font-weight:700;line-height:1.2;margin:.15rem 0;
font-variant-numeric:tabular-nums}
.kpi-suppressed{font-size:1.1rem;font-weight:600;color:var(--muted);font-style:italic;
padding:.55rem 0}
.kpi-ci,.kpi-n,.kpi-note{font-size:.85rem;color:var(--muted);font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto;margin:1rem 0 1.5rem}
table{border-collapse:collapse;font-size:.9rem;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-weight:600;padding:0 0 .4rem}
th,td{padding:.35rem .75rem;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
thead th{background:var(--soft);border-bottom:2px solid var(--line);font-weight:600;
white-space:nowrap}
tbody td:first-child{white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
.num{text-align:right;white-space:nowrap}
tr.suppressed td{color:var(--muted);font-style:italic}
td.empty{color:var(--muted);font-style:italic}
.table-more{font-size:.85rem;color:var(--muted);margin-top:-.9rem}
figure{margin:1.25rem 0 1.75rem;break-inside:avoid}
figure img{display:block;max-width:100%;height:auto}
figcaption{font-size:.9rem;color:var(--muted);margin-top:.4rem;max-width:46rem}
.note{border-left:4px solid var(--accent);background:var(--info-bg);padding:.6rem 1rem;
margin:1rem 0;border-radius:0 6px 6px 0;max-width:52rem}
.note p{margin:.25rem 0}
.note-warning{border-left-color:var(--warn);background:var(--warn-bg)}
footer{margin-top:3rem;padding-top:1rem;border-top:1px solid var(--line);color:var(--muted);
font-size:.85rem}
@media (max-width:700px){body{padding:1rem}.kpi-value{font-size:1.6rem}
nav#contents{margin:0 -1rem 1.5rem;padding:.35rem 1rem}nav#contents h2{display:none}}
@media (min-width:1480px){
nav#contents{position:fixed;top:1.5rem;left:max(1rem,calc(50% - 550px - 14.5rem));width:13.5rem;
max-height:calc(100vh - 3rem);overflow-y:auto;display:block;margin:0;padding:.6rem .4rem;
border:1px solid var(--line);border-radius:6px;box-shadow:none}
nav#contents h2{margin:0 0 .4rem .5rem}
nav#contents ol{display:block;white-space:normal;overflow:visible}
nav#contents a{padding:.25rem .5rem;line-height:1.3}
}
@media print{
:root{--ink:#000;--muted:#333;--line:#888;--soft:#fff;--accent:#000;--warn:#000;--warn-bg:#fff;
--info-bg:#fff}
body{max-width:none;padding:0;font-size:10.5pt;color:#000;background:#fff}
nav#contents{display:none}
a,a.term{color:inherit;text-decoration:none}
h2,h3,caption{break-after:avoid}
.table-wrap{overflow:visible}
thead{display:table-header-group}
tbody tr:nth-child(even){background:none}
tr,figure,.kpi,.note,dl.glossary dt,dl.glossary dd{break-inside:avoid}
details>summary{list-style:none;color:#000}
details>summary::-webkit-details-marker{display:none}
details:not([open])>*{display:block}
details::details-content{content-visibility:visible;display:block}
}
""".strip()
