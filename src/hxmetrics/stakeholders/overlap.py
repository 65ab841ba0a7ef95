"""Overlap of roles: persons by role combination and per pair of roles (counts only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import check_choice, check_columns
from hxmetrics.stakeholders.episodes import ROLES

__all__ = ["overlap_matrix", "overlap_summary"]

# Every combination of roles (customer=1, worker=2, partner=4), singles first.
_COMBOS = (1, 2, 4, 3, 5, 6, 7, 0)


def _mask(roles: pd.Series) -> np.ndarray:
    # A handful of distinct role combinations for millions of persons: decode each
    # distinct text once and index with the codes.
    codes, uniques = pd.factorize(roles.astype("str"), use_na_sentinel=False)
    bits = np.array(
        [sum(1 << i for i, r in enumerate(ROLES) if r in str(u).split("+")) for u in uniques],
        dtype=np.int64,
    )
    return bits[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def _name(mask: int) -> str:
    return "+".join(r for i, r in enumerate(ROLES) if mask >> i & 1) or "none"


def overlap_summary(hybrids: pd.DataFrame) -> pd.DataFrame:
    """Counts of persons by role combination (no personal identifiers).

    Parameters
    ----------
    hybrids : pandas.DataFrame
        Output of :func:`~hxmetrics.stakeholders.classify_hybrids` (``roles_ever``
        and ``roles_as_of``).

    Returns
    -------
    pandas.DataFrame
        One row per combination (every one listed, zeros included): ``roles``,
        one boolean column per role, ``n_ever``, ``share_ever`` (persons whose
        roles ever held are exactly this combination), ``n_as_of``, ``share_as_of``
        (roles held at ``as_of``, or now).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import overlap_summary
    >>> h = pd.DataFrame({"roles_ever": ["customer+worker", "customer", "customer"],
    ...                   "roles_as_of": ["customer", "customer", "none"]})
    >>> overlap_summary(h)[["roles", "n_ever", "n_as_of"]].head(4)
                 roles  n_ever  n_as_of
    0         customer       2        2
    1           worker       0        0
    2          partner       0        0
    3  customer+worker       1        0
    """
    check_columns(hybrids.columns, ["roles_ever", "roles_as_of"], table="hybrids")
    ever = np.bincount(_mask(hybrids["roles_ever"]), minlength=8)
    now = np.bincount(_mask(hybrids["roles_as_of"]), minlength=8)
    combos = np.array(_COMBOS)
    total = max(len(hybrids), 1)
    out: dict[str, Any] = {"roles": pd.Series([_name(m) for m in _COMBOS], dtype="str")}
    for i, role in enumerate(ROLES):
        out[role] = (combos >> i & 1).astype(bool)
    out["n_ever"] = ever[combos].astype(np.int64)
    out["share_ever"] = ever[combos] / total
    out["n_as_of"] = now[combos].astype(np.int64)
    out["share_as_of"] = now[combos] / total
    return pd.DataFrame(out)


def overlap_matrix(hybrids: pd.DataFrame, *, column: str = "roles_ever") -> pd.DataFrame:
    """Persons holding both roles (off-diagonal) or each role (diagonal).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import overlap_matrix
    >>> h = pd.DataFrame({"roles_ever": ["customer+worker", "customer", "partner"]})
    >>> overlap_matrix(h)
              customer  worker  partner
    customer         2       1        0
    worker           1       1        0
    partner          0       0        1
    """
    check_choice("column", column, ["roles_ever", "roles_as_of"])
    check_columns(hybrids.columns, [column], table="hybrids")
    mask = _mask(hybrids[column])
    has = np.stack([(mask >> i & 1).astype(np.int64) for i in range(len(ROLES))], axis=1)
    counts = has.T @ has
    return pd.DataFrame(
        counts, index=pd.Index(ROLES, dtype="str"), columns=pd.Index(ROLES, dtype="str")
    )
