"""Reading a report's HTML back: its sections, tables, KPI cards and figures.

Shared by the report's tests: a section's numbers are looked up as the page shows them.
"""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Tables (caption, header, rows of cell text), KPI cards and image alt texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.kpis: list[list[str]] = []
        self.alts: list[str | None] = []
        self.sections: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._caption = False
        self._kpi_depth = 0
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._depth += 1
        if tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "table":
            self.tables.append({"caption": "", "header": [], "rows": []})
        elif tag == "caption":
            self._caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.alts.append(a.get("alt"))
        elif tag == "div" and a.get("class") == "kpi":
            self.kpis.append([])
            self._kpi_depth = self._depth
        if tag == "img":
            self._depth -= 1  # void element: no end tag

    def handle_endtag(self, tag):
        if tag == "caption":
            self._caption = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[-1]
            if not table["header"]:
                table["header"] = self._row
            else:
                table["rows"].append(self._row)
            self._row = None
        if tag == "div" and self._kpi_depth == self._depth:
            self._kpi_depth = 0
        self._depth -= 1

    def handle_data(self, data):
        if self._caption:
            self.tables[-1]["caption"] += data
        if self._cell is not None:
            self._cell.append(data)
        if self._kpi_depth and data.strip():
            self.kpis[-1].append(data.strip())


def parse(html: str) -> Page:
    """The page of a report's HTML."""
    parser = Page()
    parser.feed(html)
    parser.close()
    return parser


def table(page: Page, caption: str) -> dict:
    found = [t for t in page.tables if t["caption"].strip() == caption]
    assert len(found) == 1, [t["caption"] for t in page.tables]
    return found[0]


def row(tab: dict, first: str) -> list[str]:
    found = [r for r in tab["rows"] if r[0] == first]
    assert len(found) == 1, (first, tab["rows"])
    return found[0]


def kpi(page: Page, label: str) -> list[str]:
    found = [k for k in page.kpis if k and k[0] == label]
    assert len(found) == 1, [k[:1] for k in page.kpis]
    return found[0]
