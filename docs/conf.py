"""Sphinx configuration: Markdown pages (MyST), numpydoc API pages, the pydata theme.

Build with ``bash docs/build.sh`` (warnings are errors). Nothing is fetched at build
time: no intersphinx inventories, no remote images.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
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
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "build.sh", "**/.ipynb_checkpoints", "README.md"]
# Optional pages (measures_*.md, stakeholders.md, benchmarks.md, ...) are picked up by
# glob patterns in the index toctree; patterns that match no page yet are dropped
# before parsing (see _drop_empty_globs), so a new page appears without an edit here.

# MyST: $...$ and $$...$$ maths and amsmath environments for the formula pages,
# ::: fences, definition lists, and anchors for links to headings (page.md#heading).
myst_enable_extensions = ["amsmath", "colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# API pages: numpydoc renders the docstrings; members are documented by autodoc on
# the module pages of api.rst, so numpydoc need not list them again.
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
    "header_links_before_dropdown": 7,
    "icon_links": [],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
# The pages are one level deep: the navbar lists them and the right-hand column lists
# the headings of the page, so the left sidebar would stay empty.
html_sidebars: dict[str, list[str]] = {"**": []}
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


_GLOB_ENTRY = re.compile(r"[\w\-/]*[*?][\w\-/*?]*")


def _drop_empty_globs(app: Sphinx, docname: str, source: list[str]) -> None:
    """Remove toctree glob entries of the index that match no page yet.

    Sphinx warns on an empty glob (and -W makes that an error); the pages behind the
    patterns are written by different people at different times.
    """
    if docname != root_doc:
        return
    srcdir = Path(app.srcdir)
    kept = []
    for line in source[0].splitlines(keepends=True):
        entry = line.strip()
        if _GLOB_ENTRY.fullmatch(entry) and not any(
            p.suffix in source_suffix for p in srcdir.glob(entry)
        ):
            continue
        kept.append(line)
    source[0] = "".join(kept)


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_directive("hxmetrics-cli-help", CliHelp)
    app.connect("source-read", _drop_empty_globs)
    return {"parallel_read_safe": True}
