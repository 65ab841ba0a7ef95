"""Take the figures of the sample report for the docs' gallery (docs/gallery.md).

    python docs/plot_report_gallery.py                # build the sample report, take its figures
    python docs/plot_report_gallery.py --html R.html  # take them from a report already built
    python docs/plot_report_gallery.py --force        # rebuild even if nothing changed

The docs build (docs/conf.py) runs it before reading any page, so the gallery always
shows the figures the report has at build time, whatever its sections are: nothing
here names a section or counts its figures. It builds the report on the bundled
sample (:func:`hxmetrics.report.run_report`, privacy guard included), reads every
``<figure>`` of the page (the PNG data URI, its alt text and caption, the section it
is in) and writes, into ``docs/_static/gallery/`` (a generated folder that git
ignores: it holds its own ``.gitignore``):

- ``report_<section id>_<k>.png``: the k-th figure of a section, the same bytes as in
  the report;
- ``figures.json``: the sections in reading order, each with its figures (file, alt
  text, caption, size in CSS pixels), read by the ``hxmetrics-report-gallery``
  directive of docs/conf.py;
- ``site/sample-report.html``: the report itself, published beside the pages so that
  each gallery entry links to its section.

Building the report is the slow part (seconds to a minute); it is skipped when
``figures.json`` was made from the same source files (a hash of ``src/hxmetrics``,
this script and the matplotlib version), so a second docs build costs nothing.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "gallery"
REPORT_NAME = "sample-report.html"
MANIFEST = "figures.json"
_PNG = b"\x89PNG\r\n\x1a\n"
_DATA_URI = "data:image/png;base64,"


@dataclass(frozen=True)
class ReportFigure:
    """One figure of a report: where it is, what it says, and its PNG."""

    section_id: str
    section_title: str
    alt: str
    caption: str
    width: int | None
    height: int | None
    png: bytes

    @property
    def file_stem(self) -> str:
        return f"report_{self.section_id}"


class _FigureReader(HTMLParser):
    """Collect every ``<figure>`` of a report page with the section it is in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[ReportFigure] = []
        self.sections: list[tuple[str, str]] = []
        self._section: str | None = None
        self._titles: dict[str, str] = {}
        self._in_title = False
        self._title: list[str] = []
        self._figure: dict[str, Any] | None = None
        self._in_caption = False
        self._caption: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and a.get("id"):
            self._section = a["id"]
            self.sections.append((a["id"], a["id"]))
        elif tag == "h2" and self._section and a.get("id") == f"{self._section}-h":
            self._in_title, self._title = True, []
        elif tag == "figure":
            self._figure = {}
            self._caption = []
        elif tag == "img" and self._figure is not None:
            self._figure.update(a)
        elif tag == "figcaption" and self._figure is not None:
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._in_title and self._section:
            self._in_title = False
            title = " ".join("".join(self._title).split())
            self.sections[-1] = (self._section, title)
        elif tag == "figcaption":
            self._in_caption = False
        elif tag == "figure" and self._figure is not None:
            self._finish_figure(self._figure)
            self._figure = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if self._in_caption:
            self._caption.append(data)

    def _finish_figure(self, figure: dict[str, Any]) -> None:
        src = figure.get("src", "")
        if not src.startswith(_DATA_URI):
            raise ValueError(f"a figure of the report is not an embedded PNG: {src[:40]!r}")
        if self._section is None:
            raise ValueError("a figure of the report is outside every section")
        png = base64.b64decode(src[len(_DATA_URI) :], validate=True)
        if not png.startswith(_PNG):
            raise ValueError(f"a figure of section {self._section!r} is not a PNG image")
        self.figures.append(
            ReportFigure(
                section_id=self._section,
                section_title=self.sections[-1][1],
                alt=" ".join(figure.get("alt", "").split()),
                caption=" ".join("".join(self._caption).split()),
                width=_int(figure.get("width")),
                height=_int(figure.get("height")),
                png=png,
            )
        )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def read_figures(html: str) -> tuple[list[tuple[str, str]], list[ReportFigure]]:
    """The sections (id, title) of a report page in order, and every figure in them.

    Parameters
    ----------
    html : str
        A page written by :class:`hxmetrics.report.Report`.

    Returns
    -------
    sections : list of (str, str)
    figures : list of ReportFigure
        In the order of the page.
    """
    reader = _FigureReader()
    reader.feed(html)
    reader.close()
    return reader.sections, reader.figures


def manifest(sections: list[tuple[str, str]], figures: list[ReportFigure]) -> dict[str, Any]:
    """The gallery's table of contents: sections in order, each with its figures' files."""
    out: list[dict[str, Any]] = []
    for section_id, title in sections:
        mine = [f for f in figures if f.section_id == section_id]
        entries = [
            {
                "file": f"{f.file_stem}_{k}.png",
                "alt": f.alt,
                "caption": f.caption,
                "width": f.width,
                "height": f.height,
            }
            for k, f in enumerate(mine, start=1)
        ]
        out.append({"id": section_id, "title": title, "figures": entries})
    return {"report": REPORT_NAME, "sections": out}


def source_key() -> str:
    """A hash of what the sample report is made from: the package's files and this script."""
    import matplotlib

    digest = hashlib.sha256(matplotlib.__version__.encode())
    package = ROOT / "src" / "hxmetrics"
    files = sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    for path in [Path(__file__).resolve(), *files]:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_sample_report(folder: Path) -> str:
    """Build the report on the bundled sample into ``folder`` and return its HTML."""
    from hxmetrics.report import run_report

    path = run_report(out=folder / REPORT_NAME, progress=False)
    return Path(path).read_text(encoding="utf-8")


def write_gallery(html: str, out: Path, *, key: str = "") -> dict[str, Any]:
    """Write the figures, the manifest and the report into ``out``; return the manifest."""
    sections, figures = read_figures(html)
    if not figures:
        raise SystemExit("the sample report has no figures: the gallery would be empty")
    contents = manifest(sections, figures)
    contents["key"] = key
    out.mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text(
        "# Written by docs/plot_report_gallery.py at every docs build; never committed.\n*\n"
    )
    files = {}
    for section in contents["sections"]:
        mine = [f for f in figures if f.section_id == section["id"]]
        for entry, figure in zip(section["figures"], mine, strict=True):
            files[entry["file"]] = figure.png
    for stale in out.glob("report_*.png"):
        if stale.name not in files:
            stale.unlink()
    for name, png in files.items():
        (out / name).write_bytes(png)
    (out / "site").mkdir(exist_ok=True)
    (out / "site" / REPORT_NAME).write_text(html, encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(contents, indent=1, ensure_ascii=False) + "\n")
    return contents


def _up_to_date(out: Path, key: str) -> bool:
    try:
        contents = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    names = [f["file"] for s in contents.get("sections", []) for f in s["figures"]]
    return (
        contents.get("key") == key
        and (out / "site" / REPORT_NAME).is_file()
        and all((out / n).is_file() for n in names)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, help="take the figures from this report page")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    if args.html is not None:
        contents = write_gallery(args.html.read_text(encoding="utf-8"), args.out)
    else:
        key = source_key()
        if not args.force and _up_to_date(args.out, key):
            print(f"gallery up to date: {args.out}")
            return 0
        with tempfile.TemporaryDirectory(prefix="hxmetrics-gallery-") as tmp:
            html = build_sample_report(Path(tmp))
        contents = write_gallery(html, args.out, key=key)
    n = sum(len(s["figures"]) for s in contents["sections"])
    print(f"gallery: {n} figures of {len(contents['sections'])} sections in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
