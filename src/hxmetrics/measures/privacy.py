"""Small-group suppression, primary and complementary, for every measure's output.

A group with fewer than ``min_n`` respondents is *suppressed*: its row stays (its
group labels and the ``suppressed`` flag show that it exists) but every number in
it is hidden: ``n``, the counts, shares, estimate, standard error, interval, weight
summaries and exclusion counts. Counts become pandas' missing ``<NA>`` (the count
columns use the nullable ``Int64`` dtype whenever ``min_n`` is given, suppressed or
not, so the dtypes depend only on the arguments) and floats become NaN.

Hiding one small group is not enough when its total can be computed: anyone can run
the measure with fewer (or no) group columns and subtract the visible siblings.
*Complementary suppression* closes that door: within every partition whose total
can be shown (the groups sharing all ``by`` values but one; with a single group
column, the whole table), if exactly one group is suppressed, the smallest other
group of that partition is suppressed too. This repeats until no partition has
exactly one suppressed group, so a suppressed group's counts can never be recovered
as "total minus visible siblings".

Worker instruments (eNPS, the HX core asked of workers) use
:data:`WORKER_MIN_N` = 5 by default; customer and partner measures default to no
suppression (``min_n=None``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError

__all__ = ["WORKER_MIN_N", "check_min_n", "suppress"]

#: Smallest group of workers whose answers are shown (eNPS, the HX core of workers).
WORKER_MIN_N = 5

#: Columns that describe the computation rather than the group; never hidden.
_METADATA = ("method", "confidence", "suppressed", "statistic", "polarity", "prior")


def check_min_n(min_n: object) -> int | None:
    """Return ``min_n`` as an int >= 1, or None; raise :class:`ParameterError` otherwise."""
    if min_n is None:
        return None
    if isinstance(min_n, bool) or not isinstance(min_n, (int, np.integer)) or min_n < 1:
        raise ParameterError(
            f"min_n must be a positive integer (e.g. {WORKER_MIN_N} for worker "
            f"instruments) or None; got {min_n!r}."
        )
    return int(min_n)


def suppress(
    result: pd.DataFrame,
    *,
    min_n: int | None,
    by: Sequence[str] = (),
    n_column: str = "n",
) -> pd.DataFrame:
    """Hide groups below ``min_n`` and their complements (see the module notes).

    Parameters
    ----------
    result : pandas.DataFrame
        One row per group: the ``by`` columns, ``n_column`` and the numbers to hide.
    min_n : int or None
        Smallest group shown. None: nothing is hidden (a ``suppressed`` column of
        False is still added).
    by : sequence of str
        The group columns of ``result``.
    n_column : str
        The column with each group's respondent count.

    Returns
    -------
    pandas.DataFrame
        A copy with a boolean ``suppressed`` column; suppressed rows show NaN/<NA>
        in every numeric column except the group columns.

    References
    ----------
    Hundepool, A. et al. (2012). Statistical Disclosure Control. Wiley (primary and
    secondary, i.e. complementary, cell suppression).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"team": ["a", "b", "c"], "n": [3, 40, 12], "score": [1.0, 2.0, 3.0]})
    >>> suppress(r, min_n=5, by=["team"])
      team     n  score  suppressed
    0    a  <NA>    NaN        True
    1    b    40    2.0       False
    2    c  <NA>    NaN        True
    """
    min_n = check_min_n(min_n)
    by = list(by)
    out = result.copy()
    if n_column not in out.columns:
        raise ParameterError(f"suppress: result has no {n_column!r} column.")
    if min_n is None:
        out["suppressed"] = False
        return out
    n = out[n_column].to_numpy(dtype=float, na_value=0.0)
    hidden = n < min_n
    hidden = _complementary(out, by, n, hidden)
    value_columns = [
        c
        for c in out.columns
        if c not in by
        and c not in _METADATA
        and pd.api.types.is_numeric_dtype(out[c].dtype)
        and not pd.api.types.is_bool_dtype(out[c].dtype)
    ]
    for column in value_columns:
        if pd.api.types.is_integer_dtype(out[column].dtype):
            out[column] = out[column].astype("Int64")
            out.loc[hidden, column] = pd.NA
        else:
            out[column] = out[column].astype(float)
            out.loc[hidden, column] = np.nan
    out["suppressed"] = hidden
    return out


def _partitions(frame: pd.DataFrame, by: list[str]) -> list[np.ndarray]:
    """Row-index sets whose total is showable: all rows sharing all keys but one."""
    if len(frame) < 2:
        return []
    if len(by) <= 1:
        return [np.arange(len(frame))]
    parts = []
    keys = frame[by].reset_index(drop=True)
    for dropped in by:
        rest = [c for c in by if c != dropped]
        ids = keys.groupby(rest, dropna=False, sort=False).ngroup().to_numpy()
        for gid in np.unique(ids):
            members = np.flatnonzero(ids == gid)
            if members.size > 1:
                parts.append(members)
    return parts


def _complementary(
    frame: pd.DataFrame, by: list[str], n: np.ndarray, hidden: np.ndarray
) -> np.ndarray:
    hidden = hidden.copy()
    parts = _partitions(frame, by)
    changed = True
    while changed:
        changed = False
        for members in parts:
            sub = hidden[members]
            if sub.sum() == 1 and (~sub).any():
                visible = members[~sub]
                # The smallest visible sibling; ties go to the first in row order.
                pick = visible[np.argmin(n[visible])]
                hidden[pick] = True
                changed = True
    return hidden
