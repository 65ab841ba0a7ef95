"""Every error hxmetrics raises derives from :class:`HxError`.

Messages say what was expected, what was found, an example, and a hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ConvergenceError",
    "HxError",
    "InputTableError",
    "ParameterError",
    "PrivacyError",
    "did_you_mean",
]


class HxError(Exception):
    """Base class of every error raised by hxmetrics."""


class ParameterError(HxError, ValueError):
    """An argument has a value that is not allowed."""


class PrivacyError(HxError):
    """An output would leak: a personal identifier, a group of people or records, or an
    external resource (see :mod:`hxmetrics.privacy`)."""


class ConvergenceError(HxError, RuntimeError):
    """A numerical fit did not converge; the message says what was tried."""


class InputTableError(HxError, ValueError):
    """An input table breaks the data contract.

    Attributes
    ----------
    table : str
        Name of the table in the contract (``"responses"``, ``"workers"``, ...).
    failure_cases : pandas.DataFrame
        One row per failed check and value, with columns ``column``, ``check``,
        ``failure_case`` and ``index`` (row label in the input, missing for
        whole-table checks such as a missing column).
    """

    def __init__(self, message: str, *, table: str, failure_cases: pd.DataFrame) -> None:
        super().__init__(message)
        self.table = table
        self.failure_cases = failure_cases


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest candidate, or ``""``."""
    by_lower = {str(c).lower(): str(c) for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise :class:`ParameterError` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        hint = did_you_mean(str(value), [str(a) for a in allowed])
        raise ParameterError(
            f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}.{hint}"
        )


def check_columns(columns: Iterable[str], required: Iterable[str], *, table: str = "data") -> None:
    """Raise :class:`HxError` naming every required column not in ``columns``."""
    have = list(columns)
    missing = [c for c in required if c not in have]
    if missing:
        # A headerless file's "column names" are its first row: never print an email or a
        # phone number from it, nor suggest one.
        from hxmetrics.privacy import shown_name

        shown = [shown_name(c) for c in have]
        safe = [str(c) for c, text in zip(have, shown, strict=True) if text == repr(c)]
        hints = "".join(did_you_mean(m, safe) for m in missing)
        raise InputTableError(
            f"{table}: the following columns were not found: {missing}; "
            f"available: [{', '.join(shown)}].{hints}",
            table=table,
            failure_cases=_missing_frame(missing),
        )


def _missing_frame(missing: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "column": missing,
            "check": ["column_in_dataframe"] * len(missing),
            "failure_case": missing,
            "index": [None] * len(missing),
        }
    )
