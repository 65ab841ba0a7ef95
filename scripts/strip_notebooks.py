"""Strip outputs from notebooks before they are committed, or check that they are.

Usage::

    python scripts/strip_notebooks.py            # strip notebooks/*.ipynb in place
    python scripts/strip_notebooks.py --check    # exit 1 if any notebook has outputs

Stripped means: no cell outputs, no execution counts, no per-cell metadata beyond what
the author set on purpose (``tags``), and only ``kernelspec`` and ``language_info.name``
in the notebook metadata, so diffs show source changes only. Plain JSON: no Jupyter
package is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_KEEP_CELL_METADATA = ("tags",)


def strip(notebook: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a notebook (as parsed JSON) without outputs or run state."""
    out = json.loads(json.dumps(notebook))
    for cell in out.get("cells", []):
        cell["metadata"] = {
            k: v for k, v in cell.get("metadata", {}).items() if k in _KEEP_CELL_METADATA
        }
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        if not cell.get("attachments"):
            cell.pop("attachments", None)
    meta = out.get("metadata", {})
    kept: dict[str, Any] = {}
    if "kernelspec" in meta:
        kept["kernelspec"] = meta["kernelspec"]
    kept["language_info"] = {"name": meta.get("language_info", {}).get("name", "python")}
    out["metadata"] = kept
    return out


def dumps(notebook: dict[str, Any]) -> str:
    """Serialise as Jupyter does (one-space indent, sorted keys, trailing newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a notebook is not stripped"
    )
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        clean = dumps(strip(json.loads(text)))
        if clean == text:
            continue
        dirty.append(path)
        if not args.check:
            path.write_text(clean, encoding="utf-8")
            print(f"stripped {path}")
    if args.check and dirty:
        for path in dirty:
            print(f"not stripped: {path} (run python scripts/strip_notebooks.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
