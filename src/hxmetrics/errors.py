"""Every error hxmetrics raises derives from :class:`HxError`; every warning it gives
is an :class:`HxWarning`.

Messages say what was expected, what was found, an example, and a hint. All exception
and warning classes of the package are defined here (the command line's
:class:`UsageError` and the batch jobs' :class:`JobError` included), so that one
``except HxError`` or one warnings filter on :class:`HxWarning` covers the package.

Errors and their exit codes in the ``hxmetrics`` command:

- :class:`InputTableError`: an input table breaks the data contract (exit 1);
- :class:`UsageError` (a :class:`JobError` too), :class:`ParameterError`: the command
  line, a job file or an argument asks for something that cannot be done (exit 2);
- any other :class:`HxError` (:class:`ConvergenceError`, :class:`PrivacyError`): the run
  failed (exit 3).
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
    "HxWarning",
    "InputTableError",
    "JobError",
    "ParameterError",
    "PrivacyError",
    "UsageError",
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


class UsageError(HxError):
    """The command line asks for something that cannot be done (exit code 2).

    Also importable as ``hxmetrics.cli.UsageError``.
    """


class JobError(UsageError, ParameterError):
    """A job file asks for something that cannot be done (a usage error, exit code 2).

    The message names the section, key or ``[[measure]]`` at fault. Also importable as
    ``hxmetrics.jobs.JobError``.
    """


class HxWarning(UserWarning):
    """A statistical warning: a result was computed but should be read with care.

    For example a fit that did not converge, a Heywood case (a negative or zero
    residual variance in a factor model) or a reliability too low for an index built
    on the items. Results also say so in their notes; the warning makes it visible
    where nobody reads them. Filter all of them at once with
    ``warnings.simplefilter("ignore", hxmetrics.errors.HxWarning)`` (or turn them into
    errors with ``"error"``).

    Examples
    --------
    >>> import warnings
    >>> from hxmetrics.errors import HxWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", HxWarning)
    ...     warnings.warn("Cronbach's alpha 0.0016 is below 0.5", HxWarning, stacklevel=1)
    >>> caught[0].category.__name__
    'HxWarning'
    """


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
    measure : str or None
        In a batch job, the ``name`` of the ``[[measure]]`` whose options named what
        the table lacks; ``None`` elsewhere.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str,
        failure_cases: pd.DataFrame,
        measure: str | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.failure_cases = failure_cases
        self.measure = measure


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
