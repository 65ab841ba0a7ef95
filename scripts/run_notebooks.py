"""Execute every notebook in notebooks/ (or the paths given) and fail on any error.

Usage::

    python scripts/run_notebooks.py                 # every notebooks/*.ipynb
    python scripts/run_notebooks.py notebooks/analyst_tour.ipynb --timeout 120

Each notebook runs top to bottom in a fresh kernel of the running Python (nbclient),
from its own folder, with the non-interactive matplotlib backend. Outputs are not
written back: committed notebooks stay stripped (see scripts/strip_notebooks.py).
Exit code 0 when every notebook ran, 1 otherwise; one line per notebook with its time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(
    path: Path,
    *,
    timeout: int,
    save: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> float:
    """Execute one notebook (in memory); return the seconds it took.

    With ``save``, the executed notebook (outputs included) is written there, for
    reading the results; the notebook itself is never changed. ``env`` replaces the
    kernel's environment (the docs build passes one with matplotlib's inline backend,
    so that figures become outputs; by default the kernel inherits this process's).
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    started = time.perf_counter()
    try:
        if env is None:
            client.execute()
        else:
            client.execute(env=dict(env))
    finally:
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, save / path.name)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    parser.add_argument(
        "--timeout", type=int, default=300, help="seconds allowed per cell (default 300)"
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="also write the executed notebooks, with outputs, to DIR (never to notebooks/)",
    )
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    failed = []
    for path in paths:
        try:
            seconds = run(path, timeout=args.timeout, save=args.save)
        except Exception as exc:  # report every failing notebook, then fail
            failed.append(path)
            print(f"FAILED  {path} ({type(exc).__name__})\n{exc}", file=sys.stderr)
        else:
            print(f"ok      {path} ({seconds:.1f} s)")
    if failed:
        print(f"{len(failed)} of {len(paths)} notebook(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
