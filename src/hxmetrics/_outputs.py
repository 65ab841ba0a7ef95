"""Output folders that never destroy anything.

hxmetrics writes only into a folder it created or marked as its own: the folder holds
a marker file, :data:`MARKER` (``.hxmetrics-output``, a small JSON: tool, version,
owner). Anything else at the target path is refused before any work:

- a file, a symlink, or a folder that has content but no marker (``"."``, ``".."``,
  an unrelated folder) is refused; an *empty* existing folder is adopted (marked);
- an input file inside the output folder is refused (a run would replace it).

A run writes a complete new folder beside the target (``.<out>.tmp-<pid>-<token>``),
then swaps it in with two renames: ``out -> .<out>.old-<pid>-<token>`` and
``tmp -> out``, and removes the old folder. Every run first *recovers* what a killed
run left: if ``out`` is missing and an old folder exists, the old folder is restored
(the killed run is rolled back, never rolled forward); staging and old folders of dead
processes are removed. A folder is only ever removed if it matches that naming pattern
exactly and carries the marker (or is empty); its marker is removed last, so a folder
whose removal was interrupted still carries it.

CSV outputs are neutralised against formula injection (:func:`neutralise_csv`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hxmetrics.errors import ParameterError

__all__ = [
    "MARKER",
    "check_output_dir",
    "check_output_name",
    "is_owned",
    "neutralise_csv",
    "recover",
    "write_outputs",
]

MARKER = ".hxmetrics-output"

#: File names an output folder reserves for itself.
RESERVED = frozenset({"manifest"})

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

# OWASP, "CSV Injection": a cell starting with one of these is read as a formula by
# spreadsheet programs; prefixing a single quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_output_name(name: Any, *, what: str = "name") -> str:
    """Return ``name`` if it is a safe file name inside an output folder.

    Allowed: letters, digits, ``_``, ``.`` and ``-``, not starting with ``.``, without
    ``..``, at most 100 characters, and not a reserved name (``manifest``).

    Raises
    ------
    ParameterError
        Otherwise: a separator, a traversal, an absolute path, a dot-file or an empty
        name would write outside the folder or hide a file.
    """
    if not isinstance(name, str):
        raise ParameterError(f"{what}: expected a string; got {type(name).__name__}.")
    if not _NAME.fullmatch(name) or ".." in name or len(name) > 100:
        raise ParameterError(
            f"{what} {name!r} is not a safe output file name: use letters, digits, '_', "
            "'.' and '-' (at most 100, not starting with '.', no '..', no '/' or '\\')."
        )
    if name.lower() in RESERVED:
        raise ParameterError(f"{what} {name!r} is reserved for the output folder's own files.")
    return name


def _marker(folder: Path) -> dict[str, Any] | None:
    """The marker's content if ``folder`` is a real folder (not a symlink) holding ours."""
    marker = folder / MARKER
    try:
        if folder.is_symlink() or not folder.is_dir():
            return None
        if not stat.S_ISREG(marker.lstat().st_mode):
            return None
        content = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("tool") != "hxmetrics":
        return None
    return content


def is_owned(folder: Path) -> bool:
    """Whether ``folder`` is a real folder (not a symlink) holding our marker."""
    return _marker(folder) is not None


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of an owned folder that its marker does not list (someone else's)."""
    content = _marker(folder) or {}
    listed = set(content.get("files", ())) | {MARKER}
    return sorted(p.name for p in folder.iterdir() if p.name not in listed)


def _is_empty_dir(folder: Path) -> bool:
    return folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir())


def output_path(base: Path, raw: str) -> Path:
    """The absolute output folder for ``raw`` relative to ``base``, without following a
    symlink at the last component (so a symlink target can be refused)."""
    absolute = Path(os.path.abspath(base / raw))
    if absolute.name in ("", ".", ".."):
        return absolute  # the filesystem root: refused by check_output_dir
    return absolute.parent.resolve() / absolute.name


def check_output_dir(out_dir: Path, *, inputs: Iterable[Path] = ()) -> Path:
    """Check that hxmetrics may write ``out_dir``; nothing is written.

    Parameters
    ----------
    out_dir : Path
        The output folder (absolute; see :func:`output_path`).
    inputs : iterable of Path
        Files the run reads (inputs, the job file): none may lie inside the folder.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    ParameterError
        The path is a file or a symlink, a folder with content that hxmetrics did not
        create, or contains an input.
    """
    rule = (
        "hxmetrics writes only into a folder it created (marked by a "
        f"{MARKER} file), a new path or an empty folder"
    )
    if out_dir.name in ("", ".", ".."):
        raise ParameterError(f"output folder {out_dir}: not a folder name. {rule}.")
    if out_dir.is_symlink():
        raise ParameterError(f"output folder {out_dir} is a symlink; refused. {rule}.")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ParameterError(
                f"output folder {out_dir} exists and is a file, not a folder; refused. {rule}."
            )
        if not is_owned(out_dir) and not _is_empty_dir(out_dir):
            raise ParameterError(
                f"output folder {out_dir} exists and was not created by hxmetrics; "
                f"refused (nothing was changed). {rule}: choose a new path."
            )
        foreign = _foreign_entries(out_dir) if is_owned(out_dir) else []
        if foreign:
            raise ParameterError(
                f"output folder {out_dir} holds {', '.join(map(repr, foreign[:5]))}, which "
                "hxmetrics did not write; refused (a run replaces the whole folder). "
                "Move those files elsewhere."
            )
    for file in inputs:
        resolved = Path(file).resolve()
        if resolved == out_dir or out_dir in resolved.parents:
            raise ParameterError(
                f"output folder {out_dir} contains the input {resolved}; a run would "
                "replace it. Choose an output folder that holds no input."
            )
    return out_dir


# ---------------------------------------------------------------- recovery


def _leftover_pattern(out_dir: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(out_dir.name)}\.(tmp|old)-(\d+)-[A-Za-z0-9_]+")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _remove_owned(folder: Path) -> bool:
    """Remove a folder of ours: the files its marker lists, then the marker, then the
    folder. Anything else in it stays (and so does the folder); an interrupted removal
    leaves a folder that still carries its marker, so the next recovery finishes it.

    Returns whether the folder is gone.
    """
    content = _marker(folder)
    if content is None:
        if _is_empty_dir(folder):
            folder.rmdir()
            return True
        return False
    for name in content.get("files", ()):
        path = folder / str(name)
        if str(name) == MARKER or path.parent != folder:
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
            _checkpoint("removed a file")
        elif path.is_dir():
            _remove_partitioned(path)
    # Someone else's entry, or a listed folder holding something hxmetrics did not write.
    if any(p.name != MARKER for p in folder.iterdir()):
        return False
    (folder / MARKER).unlink()
    folder.rmdir()
    return True


#: What a partitioned output folder holds (pyarrow's hive layout as jobs write it):
#: ``<column>=<value>`` folders and ``part-<i>.parquet`` files.
_PARTITION_DIR = re.compile(r"[^=/]+=[^/]*")
_PARTITION_FILE = re.compile(r"part-\d+\.parquet")


def _remove_partitioned(folder: Path) -> None:
    """Remove a partitioned output folder (one the marker lists): its ``part-<i>.parquet``
    files and ``<column>=<value>`` folders, then itself. Anything else found in it
    stays, with the folders above it; a symlink is left as it is, never followed."""
    for entry in list(folder.iterdir()):
        if entry.is_symlink():
            continue
        if entry.is_dir() and _PARTITION_DIR.fullmatch(entry.name):
            _remove_partitioned(entry)
        elif entry.is_file() and _PARTITION_FILE.fullmatch(entry.name):
            entry.unlink()
            _checkpoint("removed a file")
    if not any(folder.iterdir()):
        folder.rmdir()


def recover(out_dir: Path) -> list[str]:
    """Restore or clean what killed runs into ``out_dir`` left behind.

    If ``out_dir`` is missing and an old folder of a dead run exists, it is renamed back
    to ``out_dir`` (the previous output comes back; the killed run is rolled back).
    Then staging and old folders of dead processes are removed: only folders whose
    name matches ``.<out>.tmp-<pid>-<token>`` or ``.<out>.old-<pid>-<token>`` exactly
    and that carry the marker (or are empty).

    Returns
    -------
    list of str
        One line per action taken (for the manifest or a log).
    """
    actions: list[str] = []
    parent = out_dir.parent
    if not parent.is_dir():
        return actions
    pattern = _leftover_pattern(out_dir)
    dead: list[tuple[str, Path]] = []
    for path in sorted(parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if match is None or path.is_symlink() or not path.is_dir():
            continue
        if _alive(int(match.group(2))):
            continue  # a run in progress: not ours to touch
        if not (is_owned(path) or _is_empty_dir(path)):
            continue
        dead.append((match.group(1), path))
    if not out_dir.exists() and not out_dir.is_symlink():
        olds = [p for kind, p in dead if kind == "old" and is_owned(p)]
        if olds:
            newest = max(olds, key=lambda p: p.stat().st_mtime_ns)
            newest.rename(out_dir)
            actions.append(f"restored the previous output from {newest.name}")
            dead = [(k, p) for k, p in dead if p != newest]
    for _, path in dead:
        if _remove_owned(path):
            actions.append(f"removed {path.name}, left by a killed run")
        else:
            actions.append(f"left {path.name} (it holds files hxmetrics did not write)")
    return actions


# ---------------------------------------------------------------- writing


def _checkpoint(step: str) -> None:
    """Test hook: with ``HXMETRICS_TEST_KILL_AT=k`` the k-th step SIGKILLs the process
    (the tests kill a run at every write step and check what the next run recovers)."""
    target = os.environ.get("HXMETRICS_TEST_KILL_AT")
    if not target:
        return
    _steps.append(step)
    if len(_steps) == int(target):
        os.kill(os.getpid(), signal.SIGKILL)


_steps: list[str] = []


def _marker_text(owner: Mapping[str, Any], files: Iterable[str]) -> str:
    from hxmetrics import __version__

    content = {"tool": "hxmetrics", "version": __version__, **owner, "files": sorted(files)}
    return json.dumps(content, indent=2) + "\n"


def write_outputs(
    out_dir: Path,
    writers: Mapping[str, Callable[[Path], None]],
    *,
    owner: Mapping[str, Any],
    inputs: Iterable[Path] = (),
) -> list[str]:
    """Replace the contents of the output folder ``out_dir`` as one step.

    Parameters
    ----------
    out_dir : Path
        The output folder (checked again here: it may have changed since the job was
        loaded).
    writers : mapping
        File name -> function writing that file at the path it is given. Names are
        checked with the same rule as :func:`check_output_name` (plus a leading dot
        for the folder's own hidden files, e.g. a secret).
    owner : mapping
        Written into the marker (e.g. ``{"job": "quarterly-hx"}``).
    inputs : iterable of Path
        Files the run read; none may lie inside ``out_dir``.

    Returns
    -------
    list of str
        What recovery did before writing (see :func:`recover`).
    """
    for name in writers:
        if name == MARKER or not _NAME.fullmatch(name.removeprefix(".")) or ".." in name:
            raise ParameterError(f"output file name {name!r} is not allowed.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    actions = recover(out_dir)
    check_output_dir(out_dir, inputs=inputs)
    _checkpoint("recovered")
    token = secrets.token_hex(4)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{token}")
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{token}")
    moved_aside = False
    tmp.mkdir()
    try:
        _checkpoint("staging-created")
        # The marker comes first and lists every file to come: from here on the staging
        # folder is recognisably ours, whatever point a kill stops it at.
        (tmp / MARKER).write_text(_marker_text(owner, writers))
        _checkpoint("marker-written")
        for name, write in writers.items():
            write(tmp / name)
            _checkpoint(f"wrote {name}")
        if out_dir.exists():
            if not is_owned(out_dir):
                # An empty folder is adopted: marking it makes it ours to move aside.
                (out_dir / MARKER).write_text(_marker_text(owner, ()))
                _checkpoint("adopted")
            out_dir.rename(old)
            moved_aside = True
            _checkpoint("moved the previous output aside")
        tmp.rename(out_dir)
        _checkpoint("moved the new output in")
    except BaseException:
        if moved_aside and not out_dir.exists():
            old.rename(out_dir)
        if tmp.exists():
            _remove_owned(tmp)
        raise
    if moved_aside:
        _remove_owned(old)
        _checkpoint("removed the previous output")
    return actions


def neutralise_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise spreadsheet formulas in the text of a frame written as CSV.

    A text cell or column name starting with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a leading single quote (OWASP's CSV-injection rule), so a
    spreadsheet shows it as text instead of evaluating it. Numeric columns are left
    alone (a negative number stays a number); the input is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise_csv(pd.DataFrame({"g": ["=1+2", "a"], "x": [-1, 2]}))
          g  x
    0  '=1+2 -1
    1     a  2
    """

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            return "'" + value
        return value

    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[column] = series.astype(object).map(fix)
        elif pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(
            series.dtype
        ):
            out[column] = series.map(fix)
    out.columns = [fix(c) if isinstance(c, str) else c for c in out.columns]
    return out
