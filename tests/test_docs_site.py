"""The docs site as a reader's way in: API pages, notebooks, the report's gallery, the navbar.

No Sphinx here (the tests run without the docs extra): the site's sources are read as
text, and the gallery script (docs/plot_report_gallery.py, which needs only hxmetrics)
is run on small reports built with :class:`hxmetrics.report.Report`. The real build
is ``bash docs/build.sh`` (warnings are errors) in CI.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from matplotlib.figure import Figure

from hxmetrics.plotting import new_figure
from hxmetrics.report import Report
from hxmetrics.report.builder import Term

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "src" / "hxmetrics"

# Modules without a page of their own, and why. Every other module whose dotted name
# has no part starting with "_" must have its page docs/api/<module>.rst.
DOCUMENTED_BY_PACKAGE = {
    # Implementation modules: their public names are the package's (its __all__),
    # documented on the package's page.
    "hxmetrics.measures.index": "one concept per module behind hxmetrics.measures.index",
    "hxmetrics.report": "builder, main, privacy, progress behind hxmetrics.report",
}
NOT_API = {
    "hxmetrics.report.sections": "the report's own sections, laid out by build_report",
    "hxmetrics.stakeholders.identity": "imports the names of keys, resolution, evaluation",
}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts))
    return names


def _public_modules() -> list[str]:
    out = []
    for name in _modules():
        if name == "hxmetrics":  # re-exports every module's names: api.rst itself says so
            continue
        if any(part.startswith("_") for part in name.split(".")):
            continue
        parent = name.rpartition(".")[0]
        if parent in DOCUMENTED_BY_PACKAGE:
            continue
        if any(name == m or name.startswith(m + ".") for m in NOT_API):
            continue
        out.append(name)
    return out


def _directive_targets(text: str, kind: str) -> list[str]:
    """Targets of ``.. <kind>::`` (reST) and ```{<kind>}`` (MyST) in a page."""
    return re.findall(rf"(?:\.\. {kind}::|```\{{{kind}\}})[ \t]+(\S+)", text)


def _module_lists(text: str) -> list[tuple[dict[str, str], list[str]]]:
    """Each ``hxmetrics-modules`` directive of a page: its options and its modules."""
    out = []
    for block in re.findall(r"\.\. hxmetrics-modules::\n((?:[ \t]+.*\n|\n)*)", text + "\n"):
        options = dict(re.findall(r"^\s+:(\w+):[ \t]*(.*)$", block, flags=re.M))
        modules = re.findall(r"^\s+(hxmetrics[\w.]*)\s*$", block, flags=re.M)
        out.append((options, modules))
    return out


def _doc_pages() -> dict[str, str]:
    pages = [*DOCS.glob("*.md"), *DOCS.glob("*.rst"), *(DOCS / "api").glob("*")]
    return {p.relative_to(DOCS).as_posix(): p.read_text(encoding="utf-8") for p in pages}


def test_every_public_module_has_its_api_page() -> None:
    public = _public_modules()
    # Not a vacuous list: the families named in the issue are all there.
    for name in ["hxmetrics.tables", "hxmetrics.stakeholders", "hxmetrics.measures.nps",
                 "hxmetrics.measures.clv.betageo", "hxmetrics.instruments",
                 "hxmetrics.compare", "hxmetrics.datasets", "hxmetrics.report",
                 "hxmetrics.privacy", "hxmetrics.jobs", "hxmetrics.plotting"]:  # fmt: skip
        assert name in public
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (DOCS / "api").glob("*.rst")}
    missing = [m for m in public if m not in pages]
    assert not missing, f"public modules without docs/api/<module>.rst: {missing}"
    for module in public:
        assert _directive_targets(pages[module], "automodule")[:1] == [module], (
            f"docs/api/{module}.rst must start by documenting {module}"
        )
    # Every page is a module's, and no excluded module sneaks a page in.
    assert set(pages) <= set(_modules())
    for excluded in [*DOCUMENTED_BY_PACKAGE, *NOT_API]:
        assert excluded in _modules(), f"{excluded} is gone: drop it from the test's lists"
    for package in DOCUMENTED_BY_PACKAGE:
        assert ":no-members:" not in pages[package], f"{package}'s page must list its names"


def test_api_index_lists_every_page_once_in_the_navigation() -> None:
    index = (DOCS / "api.rst").read_text(encoding="utf-8")
    lists = _module_lists(index)
    assert len(lists) >= 3
    listed = [m for options, modules in lists if "toctree" in options for m in modules]
    pages = sorted(p.stem for p in (DOCS / "api").glob("*.rst"))
    assert sorted(listed) == pages, "api.rst's toctrees must list every API page once"
    assert all(options.get("caption") for options, _ in lists)
    assert "import hxmetrics as" in index
    # The index itself documents nothing: the 870 KB page is gone.
    assert not _directive_targets(index, "automodule")
    # Package pages list their submodules with one line each (no second toctree).
    for text in (DOCS / "api").glob("*.rst"):
        for options, modules in _module_lists(text.read_text(encoding="utf-8")):
            assert "toctree" not in options
            assert all(m.startswith(text.stem + ".") for m in modules)


def test_each_object_is_documented_on_one_page_only() -> None:
    targets: Counter[str] = Counter()
    for text in _doc_pages().values():
        for kind in ["automodule", "autoclass", "autofunction", "autodata", "autoexception"]:
            targets.update(_directive_targets(text, kind))
    assert targets["hxmetrics.measures.nps"] == 1
    repeated = {name: n for name, n in targets.items() if n > 1}
    assert not repeated, f"documented on more than one page (duplicate objects): {repeated}"


def _toctrees(text: str) -> list[tuple[dict[str, str], list[tuple[str | None, str]]]]:
    """Each MyST toctree of a page: its options, and its entries as (title, target)."""
    out = []
    for block in re.findall(r"```\{toctree\}\n(.*?)```", text, flags=re.S):
        options = dict(re.findall(r"^:(\w+):[ \t]*(.*)$", block, flags=re.M))
        entries: list[tuple[str | None, str]] = []
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith(":"):
                continue
            m = re.fullmatch(r"(.+?)\s*<([^>]+)>", line)
            entries.append((m.group(1), m.group(2)) if m else (None, line))
        out.append((options, entries))
    return out


def _conf_literal(name: str) -> object:
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            assert node.value is not None
            return ast.literal_eval(node.value)
    raise AssertionError(f"docs/conf.py sets no {name}")


def test_every_notebook_is_rendered_on_the_site() -> None:
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 3
    entries = {
        target
        for _, items in _toctrees((DOCS / "index.md").read_text(encoding="utf-8"))
        for _, target in items
    }
    missing = [n for n in notebooks if f"notebooks/{n}" not in entries]
    assert not missing, f"notebooks not in the index's toctree: {missing}"
    # Read by MyST-NB from docs/notebooks/, where docs/conf.py executes them first
    # (so MyST-NB does not execute them again); nothing of that folder is committed.
    # _conf_literal returns object (any literal of conf.py); here it is the list.
    assert "myst_nb" in _conf_literal("extensions")  # type: ignore[operator]
    assert _conf_literal("nb_execution_mode") == "off"
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert 'srcdir / "notebooks"' in conf
    assert "runner.run(" in conf


def test_the_navbar_shows_short_titles_on_one_line() -> None:
    options = _conf_literal("html_theme_options")
    assert isinstance(options, dict)
    shown = options["header_links_before_dropdown"]
    entries = [
        e for _, items in _toctrees((DOCS / "index.md").read_text(encoding="utf-8")) for e in items
    ]
    first = entries[:shown]
    assert len(first) == shown
    # A title without an explicit short form would be the page's own (up to 100+
    # characters, wrapped over three lines); 22 characters fit one line of the navbar,
    # and the six together (plus "More") fit a 1280-pixel-wide screen.
    assert all(title is not None and len(title) <= 22 for title, _ in first), first
    assert sum(len(title or "") for title, _ in first) <= 100
    assert "gallery" in [target for _, target in first]


# -- the gallery script -----------------------------------------------------------------


def _gallery() -> ModuleType:
    name = "hxmetrics_docs_gallery"  # a script of docs/, not a package: loaded by path
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCS / "plot_report_gallery.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def _figure(n: int) -> Figure:
    fig, ax = new_figure(4, 2)
    ax.plot(range(n), range(n))
    return fig


@pytest.fixture(scope="module")
def small_report() -> Report:
    """Three sections: two figures (one captioned, with a glossary term), none, one."""
    report = Report(title="Gallery test")
    first = report.add_section("first-one", "First & foremost", intro="Some words.")
    first.add_figure(
        _figure(3),
        alt='Line of "three" points & a rising trend',
        caption="The interval is a 95% interval.",
        data=pd.DataFrame({"x": [0, 1, 2], "y": [0, 1, 2]}),
    )
    first.add_figure(_figure(4), alt="Line of four points", data=pd.DataFrame({"x": [1]}))
    report.add_section("empty", "No figures here").add_text("Only text.")
    report.add_section("last", "Last").add_figure(_figure(5), alt="Line of five points")
    glossary = report.add_section("glossary", "Glossary")
    glossary.add_definitions([("g-interval", "interval", "A range of plausible values.")])
    report.link_terms([Term("g-interval", "A range.", ("interval",))], skip=["glossary"])
    return report


def test_gallery_reads_every_figure_of_a_report(small_report: Report) -> None:
    gallery = _gallery()
    html = small_report.to_html()
    sections, figures = gallery.read_figures(html)
    assert sections == [
        ("first-one", "First & foremost"),
        ("empty", "No figures here"),
        ("last", "Last"),
        ("glossary", "Glossary"),
    ]
    # As many figures as the page embeds PNGs, each with its own bytes.
    embedded = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(figures) == len(embedded) == 3
    assert [f.png for f in figures] == [base64.b64decode(e) for e in embedded]
    assert [f.section_id for f in figures] == ["first-one", "first-one", "last"]
    assert figures[0].alt == 'Line of "three" points & a rising trend'
    # The caption's linked term (an <a> inside <figcaption>) is read as plain text.
    assert 'href="#g-interval"' in html.split("<figcaption>")[1].split("</figcaption>")[0]
    assert figures[0].caption == "The interval is a 95% interval."
    assert [f.caption for f in figures[1:]] == ["", ""]
    assert (figures[0].width, figures[0].height) == (384, 192)


def test_gallery_writes_the_figures_the_report_has(small_report: Report, tmp_path: Path) -> None:
    gallery = _gallery()
    out = tmp_path / "gallery"
    out.mkdir()
    (out / "report_gone_1.png").write_bytes(b"stale")
    contents = gallery.write_gallery(small_report.to_html(), out, key="k")
    files = [f["file"] for s in contents["sections"] for f in s["figures"]]
    assert files == ["report_first-one_1.png", "report_first-one_2.png", "report_last_1.png"]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(files)  # the stale one is gone
    assert json.loads((out / "figures.json").read_text()) == contents
    assert [s["id"] for s in contents["sections"]] == ["first-one", "empty", "last", "glossary"]
    assert contents["sections"][1]["figures"] == []
    assert (out / "site" / contents["report"]).read_text() == small_report.to_html()
    assert (out / ".gitignore").read_text().splitlines()[-1] == "*"
    # A report without any figure makes no gallery.
    empty = Report(title="Nothing")
    empty.add_section("only", "Only").add_text("No figure.")
    with pytest.raises(SystemExit, match="no figures"):
        gallery.write_gallery(empty.to_html(), tmp_path / "none")


def test_gallery_is_up_to_date_only_for_the_same_sources(
    small_report: Report, tmp_path: Path
) -> None:
    gallery = _gallery()
    key = gallery.source_key()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    gallery.write_gallery(small_report.to_html(), tmp_path, key=key)
    assert gallery._up_to_date(tmp_path, key)
    assert not gallery._up_to_date(tmp_path, "another")
    (tmp_path / "report_last_1.png").unlink()
    assert not gallery._up_to_date(tmp_path, key)


def test_gallery_page_and_build_use_the_script() -> None:
    page = (DOCS / "gallery.md").read_text(encoding="utf-8")
    assert "```{hxmetrics-report-gallery}" in page
    assert _conf_literal("html_extra_path") == ["_static/gallery/site"]
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert '"plot_report_gallery.py"' in conf
    assert 'app.connect("config-inited", _prepare)' in conf
