"""Sphinx configuration: Markdown pages (MyST), notebooks (MyST-NB), numpydoc API pages,
the pydata theme.

Build with ``bash docs/build.sh`` (warnings are errors). Nothing is fetched at build
time: no intersphinx inventories, no remote images. Before any page is read
(``config-inited``), two generated folders are made, each ignoring itself in git:

- ``docs/notebooks/``: the notebooks of ``notebooks/`` executed top to bottom
  (``scripts/run_notebooks.py``, from their own folder), rendered with their outputs;
  the committed notebooks stay stripped.
- ``docs/_static/gallery/``: the sample report's figures, its manifest and the report
  itself (``docs/plot_report_gallery.py``), shown by ``gallery.md``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[1]
# Build against the checkout even when the package is not installed in editable mode.
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")
# argparse wraps help text to the terminal width; fix it so the CLI page is the same
# wherever it is built.
os.environ["COLUMNS"] = "88"

import hxmetrics  # noqa: E402

project = "hxmetrics"
author = "hxmetrics developers"
copyright = "hxmetrics developers, BSD-3-Clause"  # no year: the build is reproducible
version = release = hxmetrics.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and notebooks (it sets up myst_parser itself)
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
]

# .md pages and .ipynb notebooks: both read by MyST-NB (it registers them).
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "build.sh", "**/.ipynb_checkpoints", "README.md", "_static"]
# Optional pages (measures_*.md, stakeholders.md, benchmarks.md, ...) are picked up by
# glob patterns in the index toctree; patterns that match no page yet are dropped
# before parsing (see _drop_empty_globs), so a new page appears without an edit here.

# MyST: $...$ and $$...$$ maths and amsmath environments for the formula pages,
# ::: fences, definition lists, and anchors for links to headings (page.md#heading).
myst_enable_extensions = ["amsmath", "colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# Notebooks: executed before the build by scripts/run_notebooks.py into docs/notebooks
# (see _execute_notebooks: the kernel needs matplotlib's inline backend, which the
# build's MPLBACKEND=Agg would otherwise deny it), so MyST-NB only renders them.
nb_execution_mode = "off"
nb_merge_streams = True
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_TIMEOUT = 300  # seconds per cell, as in CI's scripts/run_notebooks.py

# API pages: numpydoc renders the docstrings; members are documented by autodoc, one
# page per module (api/<module>.rst, listed by api.rst), so numpydoc need not list
# them again.
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc "Parameters" section carries the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"hxmetrics {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    # The navbar shows the first pages of the index's toctrees under their short
    # toctree titles (index.md), the rest under "More": one line on a laptop screen.
    "header_links_before_dropdown": 5,
    # The search as an icon (Ctrl+K still opens it): the wide search field would push
    # itself and the theme switch onto a second row of the header.
    "navbar_persistent": ["search-button"],
    "icon_links": [],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
# The pages are one level deep: the navbar lists them and the right-hand column lists
# the headings of the page, so the left sidebar would stay empty; except on the API
# pages, where it lists the modules. (Exact page names: two wildcard patterns matching
# one page would be a warning.)
API_PAGES = sorted(p.stem for p in (Path(__file__).parent / "api").glob("*.rst"))
html_sidebars: dict[str, list[str]] = {
    "**": [],
    "api": ["sidebar-nav-bs"],
    **{f"api/{name}": ["sidebar-nav-bs"] for name in API_PAGES},
}
# The sample report, published beside the pages (the gallery links to its sections).
GALLERY = Path(__file__).parent / "_static" / "gallery"
html_extra_path = ["_static/gallery/site"]
html_show_sourcelink = False
html_last_updated_fmt = None


class CliHelp(SphinxDirective):
    """``hxmetrics-cli-help [SUBCOMMAND]``: the ``--help`` text of the command.

    The text comes from the parser itself, so the page cannot drift from the code.
    """

    optional_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        from hxmetrics.cli import _parser

        parser = _parser()
        if self.arguments:
            name = self.arguments[0]
            choices: dict = {}
            for action in parser._actions:  # argparse keeps subparsers here
                choices.update(getattr(action, "choices", None) or {})
            if name not in choices or not hasattr(choices[name], "format_help"):
                raise self.error(f"hxmetrics has no subcommand {name!r}; it has {sorted(choices)}")
            parser = choices[name]
        text = parser.format_help().rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


_ROLE = re.compile(r":[\w:]+:`(?:~?[\w.]*?\.)?(?:([^`<]*?)\s*<[^`]*>|~?([^`]*))`")


def _summary(module: str) -> str:
    """The first paragraph of a module's docstring, its cross-references as literals."""
    import importlib

    doc = importlib.import_module(module).__doc__ or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    return _ROLE.sub(lambda m: f"``{(m.group(1) or m.group(2)).split('.')[-1]}``", first)


class ModuleList(SphinxDirective):
    """``hxmetrics-modules``: one line per module (its page and docstring summary).

    The content names modules, one per line; each has its page ``api/<module>.rst``.
    With ``:toctree:`` the pages also enter the site's navigation (a hidden toctree
    under ``:caption:``, entries titled without the ``hxmetrics.`` prefix).
    """

    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "caption": directives.unchanged,
        "toctree": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        modules = [line.strip() for line in self.content if line.strip()]
        if not modules:
            raise self.error("hxmetrics-modules needs at least one module name")
        for module in modules:
            if module not in API_PAGES:
                raise self.error(f"{module} has no page api/{module}.rst")
        lines: list[str] = []
        caption = self.options.get("caption")
        if "toctree" in self.options:
            lines += [".. toctree::", "   :hidden:", "   :maxdepth: 1"]
            lines += [f"   :caption: {caption}"] if caption else []
            lines += [""] + [f"   {m.removeprefix('hxmetrics.')} </api/{m}>" for m in modules]
            lines += [""]
        if caption:
            lines += [f".. rubric:: {caption}", ""]
        lines += [".. list-table::", "   :widths: 35 65", "   :class: hx-modules", ""]
        for module in modules:
            lines += [f"   * - :doc:`{module} </api/{module}>`", f"     - {_summary(module)}"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="hxmetrics-modules"), 0, container)
        return container.children


class ReportGallery(SphinxDirective):
    """``hxmetrics-report-gallery``: every figure of the sample report, by section.

    Reads ``_static/gallery/figures.json`` (written by docs/plot_report_gallery.py at
    config time): one sub-section per report section that has figures, a link to the
    section in the published sample report, then each figure with its alt text (what
    it shows and the finding) as caption and the report's own caption under it.
    """

    has_content = False

    def run(self) -> list[nodes.Node]:
        path = GALLERY / "figures.json"
        self.env.note_dependency(str(path))
        contents = json.loads(path.read_text(encoding="utf-8"))
        report = contents["report"]
        intro = nodes.paragraph()
        intro += nodes.Text("The whole report: ")
        intro += nodes.reference("", report, refuri=report)
        n_figures = sum(len(entry["figures"]) for entry in contents["sections"])
        intro += nodes.Text(f" ({n_figures} figures).")
        out: list[nodes.Node] = [intro]
        for entry in contents["sections"]:
            if not entry["figures"]:
                continue
            section = nodes.section(ids=[f"gallery-{entry['id']}"])
            section += nodes.title(text=entry["title"])
            para = nodes.paragraph()
            n = len(entry["figures"])
            para += nodes.Text(f"{n} figure{'s' if n != 1 else ''}; ")
            para += nodes.reference(
                "", "open this section in the sample report", refuri=f"{report}#{entry['id']}"
            )
            para += nodes.Text(".")
            section += para
            for fig in entry["figures"]:
                figure = nodes.figure(classes=["hx-gallery"])
                image = nodes.image(uri=f"/_static/gallery/{fig['file']}", alt=fig["alt"])
                if fig.get("width"):
                    image["width"] = f"{fig['width']}px"
                figure += image
                figure += nodes.caption(text=fig["alt"])
                if fig["caption"]:
                    figure += nodes.legend("", nodes.paragraph(text=fig["caption"]))
                section += figure
            out.append(section)
        if len(out) == 1:
            raise self.error(f"{path} lists no figure: the gallery would be empty")
        return out


def _execute_notebooks(srcdir: Path) -> None:
    """Execute every notebook of notebooks/ into docs/notebooks/, outputs kept."""
    script = ROOT / "scripts" / "run_notebooks.py"
    spec = importlib.util.spec_from_file_location("run_notebooks", script)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {script}")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    target = srcdir / "notebooks"
    target.mkdir(exist_ok=True)
    (target / ".gitignore").write_text(
        "# The notebooks of ../../notebooks, executed by docs/conf.py at every docs build.\n*\n"
    )
    for old in target.glob("*.ipynb"):
        old.unlink()
    # The kernel draws with matplotlib's inline backend (figures become outputs), with
    # the checkout's package first on its path.
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONHASHSEED", "0")
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        started = time.perf_counter()
        try:
            runner.run(notebook, timeout=NOTEBOOK_TIMEOUT, save=target, env=env)
        except Exception as exc:
            raise ConfigError(f"notebook {notebook.name} failed: {exc}") from exc
        print(f"executed {notebook.name} ({time.perf_counter() - started:.1f} s)", flush=True)


def _prepare(app: Sphinx, config: Config) -> None:
    """Make the generated pages' inputs: the gallery and the executed notebooks.

    docs/plot_report_gallery.py (which rebuilds the sample report when the package
    changed) runs in a process of its own while the notebooks execute.
    """
    srcdir = Path(app.srcdir)
    env = dict(os.environ, MPLBACKEND="Agg")
    env.setdefault("PYTHONHASHSEED", "0")
    gallery = subprocess.Popen(
        [sys.executable, str(srcdir / "plot_report_gallery.py"), "--out", str(GALLERY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        _execute_notebooks(srcdir)
    finally:
        output, _ = gallery.communicate()
    if gallery.returncode != 0:
        raise ConfigError(f"docs/plot_report_gallery.py failed:\n{output}")
    print(output.strip(), flush=True)


_GLOB_ENTRY = re.compile(r"[\w\-/]*[*?][\w\-/*?]*")


def _drop_empty_globs(app: Sphinx, docname: str, source: list[str]) -> None:
    """Remove toctree glob entries of the index that would match no page.

    Sphinx warns on an empty glob (and -W makes that an error); the pages behind the
    patterns are written by different people at different times. A glob matches no
    page when no file matches it yet, or when every page it matches is already an
    explicit entry of the index (listed with a short title for the navbar: a glob
    after the explicit entries picks up the pages added since).
    """
    if docname != root_doc:
        return
    srcdir = Path(app.srcdir)
    suffixes = tuple(app.config.source_suffix)
    text = source[0]
    blocks = re.findall(r"```\{toctree\}(.*?)```", text, flags=re.S)
    explicit = {
        m.group(1) or m.group(2)
        for block in blocks
        for line in block.splitlines()
        if (m := re.fullmatch(r"\s*(?:[^:<]*<([\w\-/.]+)>|([\w\-/.]+))\s*", line))
    }
    kept = []
    for line in text.splitlines(keepends=True):
        entry = line.strip()
        if _GLOB_ENTRY.fullmatch(entry):
            pages = {
                p.relative_to(srcdir).with_suffix("").as_posix()
                for p in srcdir.glob(entry)
                if p.name.endswith(suffixes)
            }
            if not pages - explicit:
                continue
        kept.append(line)
    source[0] = "".join(kept)


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_directive("hxmetrics-cli-help", CliHelp)
    app.add_directive("hxmetrics-modules", ModuleList)
    app.add_directive("hxmetrics-report-gallery", ReportGallery)
    app.connect("config-inited", _prepare)
    app.connect("source-read", _drop_empty_globs)
    return {"parallel_read_safe": True}
