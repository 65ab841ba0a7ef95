"""The one disclosure-control layer: what an output of hxmetrics may show.

Every number that leaves the library (a report, a batch job's files and manifest, a
measure's result) passes here. An output registers every table it will show in one
:class:`Disclosure`; the layer decides which cells are hidden, consistently across all
of them, and only then are the tables read. :func:`suppress` is the same layer applied
to one table (what a measure's ``min_n=`` does).

The rules follow tabular disclosure control (Hundepool et al. 2012, ch. 4). A *cell*
is a population: the rows of a *base* (a named row universe, such as the NPS answers
of the responses table) that satisfy conditions ``column in values``. A row of a
registered table is the cell ``where`` ∧ ``{b: row[b] for b in by}`` and ``n`` says
how many units it holds. Cells with the same base and conditions are the same cell,
in whichever table they appear.

1. *Primary suppression* (the minimum-frequency rule): a cell with ``n < min_n`` is
   hidden.
2. *Secondary (complementary) suppression*: every group of a table is part of linear
   relations "total = sum of parts": the rows sharing all group values but one
   partition the cell that leaves that one out (with one group column, the table
   partitions its ``where``). Totals count as known whether or not they are shown.
   No relation may hold exactly one hidden cell (it would be the total minus the
   rest), nor hidden cells that hold fewer than ``min_n`` units together (their union
   would be a small group whose sum is the total minus the shown parts); where one
   does, its smallest shown part is hidden too. This is the relation-by-relation
   heuristic of cell suppression (as in R sdcTable's simple heuristic).
3. *Nested populations*: two cells of one base where one's conditions imply the
   other's (a narrower ``where``, one more group column) differ by a population
   too; when that difference holds between 1 and ``min_n - 1`` units, the narrower
   is hidden. Nested cells of equal size are the same people and are hidden
   together; :meth:`Disclosure.link` declares such cells when their descriptions
   differ (a silo's answers and a role's answers).
4. *The audit*: relations combined can pin down a cell that each relation alone
   protects. After the rules above reach a fixed point, the hidden cells are solved
   for exactly (a hidden cell is determined when its unit vector lies in the row
   space of the equations the shown numbers give, checked with the null space of each
   connected block); a determined cell takes the smallest shown part of one of its
   relations with it, and the rules run again. This is the purpose of tau-ARGUS's
   audit, done by linear algebra rather than linear programming: a hidden cell can
   still be bounded to an interval (and a count narrowed, knowing groups are not
   empty), never recovered.
5. *Derived numbers*: a hidden cell hides every number of its row (counts, shares,
   estimate, standard error, interval, exclusion counts); a row compared with a hidden
   reference (a difference, a p-value) is hidden; ranks are recomputed among the
   shown rows.

Grouping by an identifier column (:data:`IDENTIFIER_COLUMNS`) is refused outright:
its "groups" are people or records.

References
----------
Hundepool, A., Domingo-Ferrer, J., Franconi, L., Giessing, S., Schulte Nordholt, E.,
Spicer, K. & de Wolf, P.-P. (2012). Statistical Disclosure Control. Wiley. Ch. 4
(frequency and magnitude tables; primary and secondary cell suppression).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, PrivacyError

__all__ = [
    "DEFAULT_MIN_N",
    "IDENTIFIER_COLUMNS",
    "PLACEHOLDERS",
    "WORKER_MIN_N",
    "Disclosure",
    "check_group_columns",
    "check_min_n",
    "looks_personal",
    "redact_identifiers",
    "shown_name",
    "shown_totals",
    "suppress",
]

#: Smallest group shown by default in every output (the report, batch jobs).
DEFAULT_MIN_N = 5
#: Smallest group of workers shown by a measure's ``min_n`` (eNPS, the HX core of workers).
WORKER_MIN_N = DEFAULT_MIN_N

#: Columns that hold personal identifiers or record ids. Never a group column, never
#: printed in an output or an error message.
IDENTIFIER_COLUMNS = frozenset(
    {
        "email",
        "phone",
        "source_id",
        "person_id",
        "customer_id",
        "worker_id",
        "partner_id",
        "response_id",
        "event_id",
        "transaction_id",
        "ticket_id",
        "comment_id",
        "invitation_id",
        "name",
        "given_name",
        "family_name",
        "date_of_birth",
        "address",
        "postcode",
        # A roster's external person id (a national or tax number, an HR number)
        # when it is a linkage key.
        "external_id",
    }
)

#: Columns that describe the computation rather than a group's numbers; never hidden.
_METADATA = frozenset(
    {"method", "confidence", "suppressed", "statistic", "polarity", "prior", "measure"}
)
_REASONS = ("primary", "secondary", "nested", "linked", "audit")
_ROW = "__row__"  # the pseudo group column of a table registered without group columns
_NA = "<NA>"

Condition = tuple[tuple[str, frozenset[str]], ...]
CellKey = tuple[str, Condition]


def check_min_n(min_n: object) -> int | None:
    """Return ``min_n`` as an int >= 1, or None; raise :class:`ParameterError` otherwise.

    Examples
    --------
    >>> check_min_n(5), check_min_n(None)
    (5, None)
    """
    if min_n is None:
        return None
    if isinstance(min_n, bool) or not isinstance(min_n, (int, np.integer)) or min_n < 1:
        raise ParameterError(
            f"min_n must be a positive integer (e.g. {DEFAULT_MIN_N}) or None; got {min_n!r}."
        )
    return int(min_n)


# A careless export puts an email or a phone number in any column (columns swapped, a
# headerless file): values that look like one are masked wherever they are.
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_PHONE = r"\s*\+?[\d\s().-]+\s*"
_PHONE_DIGITS = 9
_DATE_START = r"\s*\d{4}-\d{1,2}-\d{1,2}"


def looks_personal(text: pd.Series) -> pd.Series:
    """Whether each text looks like an email address or a phone number (vectorised).

    Examples
    --------
    >>> import pandas as pd
    >>> looks_personal(pd.Series(["ana@example.org", "+44 20 7946 0958", "2024-01-02", "team"]))
    0     True
    1     True
    2    False
    3    False
    dtype: bool
    """
    phone = (
        text.str.fullmatch(_PHONE)
        & (text.str.count(r"\d") >= _PHONE_DIGITS)
        & ~text.str.match(_DATE_START)
    )
    return (text.str.contains(_EMAIL) | phone).fillna(False).astype(bool)


def shown_name(name: object) -> str:
    """A column name for a message: quoted, unless it looks like an email or a phone.

    Examples
    --------
    >>> shown_name("score"), shown_name("ana@example.org")
    ("'score'", '<a column name that looks like an email or phone, masked>')
    """
    if bool(looks_personal(pd.Series([str(name)], dtype=object)).iloc[0]):
        return "<a column name that looks like an email or phone, masked>"
    return repr(name)


def check_group_columns(by: str | Iterable[str] | None, *, what: str = "by") -> None:
    """Refuse grouping by a column that identifies people or records.

    Raises
    ------
    PrivacyError
        If any column of ``by`` is in :data:`IDENTIFIER_COLUMNS`.

    Examples
    --------
    >>> check_group_columns(["role", "team"])
    >>> check_group_columns("source_id")
    Traceback (most recent call last):
    ...
    hxmetrics.errors.PrivacyError: by: cannot group by 'source_id': ...
    """
    columns = [by] if isinstance(by, str) else list(by or ())
    for column in columns:
        if str(column) in IDENTIFIER_COLUMNS:
            raise PrivacyError(
                f"{what}: cannot group by {column!r}: it identifies people or records, so "
                "each group would be one person's data. Group by a role, a team, a "
                "touchpoint or a period instead."
            )


def _values(value: Any) -> frozenset[str]:
    items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    return frozenset(_text(v) for v in items)


def _text(value: Any) -> str:
    try:
        missing = bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    return _NA if missing else str(value)


def _condition(where: Mapping[str, Any] | None) -> dict[str, frozenset[str]]:
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise ParameterError(
            f"where must be a mapping of column to value(s); got {type(where).__name__}."
        )
    return {str(k): _values(v) for k, v in where.items()}


def _freeze(condition: Mapping[str, frozenset[str]]) -> Condition:
    return tuple(sorted(condition.items()))


def _within(inner: Condition, outer: Condition) -> bool:
    """True when every unit satisfying ``inner`` satisfies ``outer``."""
    inner_map = dict(inner)
    return all(col in inner_map and inner_map[col] <= vals for col, vals in outer)


@dataclass
class _Table:
    frame: pd.DataFrame | None
    cells: np.ndarray
    by: tuple[str, ...]
    compared: CellKey | None
    ranks: tuple[str, ...]
    refs: list[CellKey] = field(default_factory=list)


class Disclosure:
    """Disclosure control for one output: every table it shows, suppressed consistently.

    Register every table (:meth:`add`) and every standalone count (:meth:`add_count`)
    first; then read them (:meth:`table`, :meth:`count`, :meth:`is_hidden`). The first
    read resolves the plan (see the module notes for the rules) and freezes it: a
    later registration raises, so that nothing shown earlier can be contradicted.

    Parameters
    ----------
    min_n : int or None, default 5
        Smallest cell shown. None: nothing is hidden (every table still gets its
        ``suppressed`` column, all False).

    Examples
    --------
    Partners are too few; their total is known from the table of all answers, so the
    smallest other role is hidden with them; the person counts are a second table
    whose margin would otherwise give the partners back:

    >>> import pandas as pd
    >>> d = Disclosure(min_n=5)
    >>> by_role = pd.DataFrame({"role": ["customer", "worker", "partner"],
    ...                         "n": [967, 448, 3], "nps": [10.8, 2.0, 66.7]})
    >>> d.add("nps_by_role", by_role, base="answers:nps", by=["role"])
    >>> d.add_count("everyone", 1418, base="answers:nps")
    >>> d.table("nps_by_role")
           role     n   nps  suppressed
    0  customer   967  10.8       False
    1    worker  <NA>   NaN        True
    2   partner  <NA>   NaN        True
    >>> d.count("everyone")
    1418
    """

    def __init__(self, min_n: int | None = DEFAULT_MIN_N) -> None:
        self.min_n = check_min_n(min_n)
        self._index: dict[CellKey, int] = {}
        self._keys: list[CellKey] = []
        self._n: list[float] = []
        self._implicit: list[bool] = []
        self._tables: dict[str, _Table] = {}
        self._relations: list[tuple[int, np.ndarray]] = []
        self._links: list[list[CellKey]] = []
        self._hidden: np.ndarray | None = None
        self._reason: list[str] = []

    def __repr__(self) -> str:
        state = "resolved" if self._hidden is not None else "open"
        return (
            f"Disclosure(min_n={self.min_n}, tables={len(self._tables)}, "
            f"cells={len(self._keys)}, {state})"
        )

    # -- registration -----------------------------------------------------------------
    def _open(self, name: str) -> None:
        if self._hidden is not None:
            raise ParameterError(
                f"cannot register {name!r}: this output's disclosure plan was already read. "
                "Register every table before reading any, so that nothing already shown "
                "can be contradicted."
            )
        if name in self._tables:
            raise ParameterError(f"a table named {name!r} is already registered.")

    def _cell(self, key: CellKey, n: float, *, implicit: bool = False) -> int:
        at = self._index.get(key)
        if at is None:
            at = len(self._keys)
            self._index[key] = at
            self._keys.append(key)
            self._n.append(n)
            self._implicit.append(implicit)
            return at
        if implicit:
            return at
        if self._implicit[at]:
            self._implicit[at] = False
            self._n[at] = n
        elif not np.isnan(n):
            # Two tables counting one population differently: the smaller count is
            # the one a primary rule must judge.
            self._n[at] = n if np.isnan(self._n[at]) else min(self._n[at], n)
        return at

    def add(
        self,
        name: str,
        frame: pd.DataFrame,
        *,
        base: str,
        by: str | Sequence[str] = (),
        where: Mapping[str, Any] | None = None,
        n: str | None = "n",
        compared_with: Mapping[str, Any] | None = None,
        ranks: Sequence[str] = (),
    ) -> None:
        """Register one table of the output.

        Parameters
        ----------
        name : str
            The table's name in this output (unique).
        frame : pandas.DataFrame
            One row per group, with true (unsuppressed) counts.
        base : str
            The row universe the counts are drawn from (e.g. ``"responses:nps:score"``);
            cells of different bases are never compared.
        by : str or sequence of str
            The group columns. Identifier columns are refused.
        where : mapping, optional
            Conditions every row shares (a filter: column to a value or a list).
        n : str or None, default "n"
            The column with each cell's size. None: the rows' cells are registered by
            another table (this one shows numbers derived from them).
        compared_with : mapping, optional
            Conditions (added to ``where``) of the reference cell every row is
            compared with; if it is hidden, every row is hidden.
        ranks : sequence of str
            Rank columns, recomputed among the shown rows.
        """
        self._open(name)
        group = [by] if isinstance(by, str) else list(by)
        check_group_columns(group)
        wanted = [*group, *([] if n is None else [n]), *ranks]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise ParameterError(f"table {name!r}: no column(s) {missing}.")
        common = _condition(where)
        if not group and len(frame) > 1:
            group = [_ROW]
            frame = frame.assign(**{_ROW: [f"{name}#{i}" for i in range(len(frame))]})
        keys = self._row_keys(frame, base, group, common)
        if n is None:
            cells = np.full(len(frame), -1, dtype=np.int64)
            refs = keys
        else:
            sizes = pd.to_numeric(frame[n], errors="coerce").to_numpy(dtype=float, na_value=0.0)
            cells = np.array(
                [self._cell(k, s) for k, s in zip(keys, sizes, strict=True)], dtype=np.int64
            )
            refs = []
            self._add_relations(frame, base, group, common, cells, sizes)
        compared = None
        if compared_with is not None:
            compared = (base, _freeze({**common, **_condition(compared_with)}))
        self._tables[name] = _Table(
            frame=frame.drop(columns=_ROW) if _ROW in frame.columns else frame,
            cells=cells,
            by=tuple(c for c in group if c != _ROW),
            compared=compared,
            ranks=tuple(ranks),
            refs=refs,
        )

    def add_count(
        self, name: str, n: float, *, base: str, where: Mapping[str, Any] | None = None
    ) -> None:
        """Register one standalone count (a card's n, a manifest's rows, a figure label)."""
        self._open(name)
        at = self._cell((base, _freeze(_condition(where))), float(n))
        self._tables[name] = _Table(
            frame=None, cells=np.array([at]), by=(), compared=None, ranks=()
        )

    def link(self, *cells: tuple[str, Mapping[str, Any] | None]) -> None:
        """Declare cells, given as ``(base, where)``, to be the same people: hidden together.

        Every cell must be registered (by :meth:`add` or :meth:`add_count`) before the
        plan is read.
        """
        if self._hidden is not None:
            raise ParameterError("cannot link cells: the disclosure plan was already read.")
        self._links.append([(base, _freeze(_condition(where))) for base, where in cells])

    def _row_keys(
        self,
        frame: pd.DataFrame,
        base: str,
        group: list[str],
        common: dict[str, frozenset[str]],
    ) -> list[CellKey]:
        if not group:
            return [(base, _freeze(common))] * len(frame)
        columns = [frame[c].map(_text).tolist() for c in group]
        keys = []
        for values in zip(*columns, strict=True):
            cond = dict(common)
            cond.update((c, frozenset([v])) for c, v in zip(group, values, strict=True))
            keys.append((base, _freeze(cond)))
        return keys

    def _add_relations(
        self,
        frame: pd.DataFrame,
        base: str,
        group: list[str],
        common: dict[str, frozenset[str]],
        cells: np.ndarray,
        sizes: np.ndarray,
    ) -> None:
        if not group or len(frame) < 2:
            return
        labels = {c: frame[c].map(_text).to_numpy() for c in group}
        for dropped in group:
            rest = [c for c in group if c != dropped]
            if rest:
                codes = pd.MultiIndex.from_arrays([labels[c] for c in rest]).factorize()[0]
            else:
                codes = np.zeros(len(frame), dtype=np.int64)
            order = np.argsort(codes, kind="stable")
            bounds = np.flatnonzero(np.diff(codes[order])) + 1
            for members in np.split(order, bounds):
                if members.size < 2:
                    continue
                cond = dict(common)
                first = members[0]
                cond.update((c, frozenset([labels[c][first]])) for c in rest)
                total = self._cell(
                    (base, _freeze(cond)), float(sizes[members].sum()), implicit=True
                )
                self._relations.append((total, np.unique(cells[members])))

    # -- resolution -------------------------------------------------------------------
    def _resolve(self) -> np.ndarray:
        if self._hidden is not None:
            return self._hidden
        n = np.asarray(self._n, dtype=float)
        hidden = np.zeros(n.size, dtype=bool)
        reason = [""] * n.size
        if self.min_n is not None:
            hidden = ~(n >= self.min_n)  # NaN counts are hidden
            reason = ["primary" if h else "" for h in hidden]
            links = self._link_groups(n)
            nested = self._nested_pairs(n)
            while True:
                self._fixed_point(hidden, reason, n, links, nested)
                # The audit: a hidden cell that the relations determine (a linear
                # combination of them isolates it) takes one more cell with it.
                determined = self._determined(hidden, links)
                if determined.size == 0:
                    break
                if not self._protect(determined, hidden, reason, n):
                    break  # pragma: no cover - every cell of the relations is hidden
        self._hidden = hidden
        self._reason = reason
        return hidden

    def _fixed_point(
        self,
        hidden: np.ndarray,
        reason: list[str],
        n: np.ndarray,
        links: list[np.ndarray],
        nested: list[tuple[int, int]],
    ) -> None:
        assert self.min_n is not None
        changed = True
        while changed:
            changed = False
            for members in links:
                if hidden[members].any() and not hidden[members].all():
                    for m in members[~hidden[members]]:
                        reason[m] = "linked"
                    hidden[members] = True
                    changed = True
            for total, parts in self._relations:
                # One hidden cell is the total minus the rest; hidden parts holding fewer
                # than min_n units together are a small group whose sum is the total
                # minus the shown parts. Either way one more part is hidden.
                inside = hidden[parts]
                single = int(hidden[total]) + int(inside.sum()) == 1
                small_union = not hidden[total] and 0 < n[parts[inside]].sum() < self.min_n
                visible = parts[~inside]
                if not (single or small_union) or visible.size == 0:
                    continue
                pick = visible[np.argmin(n[visible])]
                hidden[pick] = True
                reason[pick] = "secondary"
                changed = True
            for inner, outer in nested:
                if not hidden[inner] and not hidden[outer]:
                    hidden[inner] = True
                    reason[inner] = "nested"
                    changed = True

    def _equations(self, hidden: np.ndarray, links: list[np.ndarray]) -> list[dict[int, float]]:
        """The linear equations the shown numbers give about the hidden cells."""
        rows: list[dict[int, float]] = []
        for total, parts in self._relations:
            row = {int(p): 1.0 for p in parts if hidden[p]}
            if hidden[total]:
                row[int(total)] = row.get(int(total), 0.0) - 1.0
            if row:
                rows.append(row)
        for members in links:
            for a, b in itertools.pairwise(members):
                if hidden[a] and hidden[b]:
                    rows.append({int(a): 1.0, int(b): -1.0})
        return rows

    def _determined(self, hidden: np.ndarray, links: list[np.ndarray]) -> np.ndarray:
        """Hidden cells whose value the equations fix (unit vector in their row space)."""
        from scipy.linalg import null_space
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        rows = self._equations(hidden, links)
        if not rows:
            return np.empty(0, dtype=np.int64)
        cells = np.unique(np.fromiter((c for r in rows for c in r), dtype=np.int64))
        col = {int(c): i for i, c in enumerate(cells)}
        # Cells of one equation are connected; audit each connected block on its own.
        ii: list[int] = []
        jj: list[int] = []
        for row in rows:
            linked = [col[c] for c in row]
            ii += linked[:-1]
            jj += linked[1:]
        graph = coo_matrix((np.ones(len(ii)), (ii, jj)), shape=(cells.size, cells.size))
        _, block = connected_components(graph, directed=False)
        out: list[int] = []
        row_block = np.array([block[col[next(iter(r))]] for r in rows])
        for b in np.unique(block):
            members = np.flatnonzero(block == b)
            local = {int(m): i for i, m in enumerate(members)}
            eq = [r for r, rb in zip(rows, row_block, strict=True) if rb == b]
            a = np.zeros((len(eq), members.size))
            for k, r in enumerate(eq):
                for c, v in r.items():
                    a[k, local[col[c]]] = v
            basis = null_space(a)
            # No null direction at all: every cell of the block is fixed.
            fixed = (
                np.all(np.abs(basis) < 1e-9, axis=1) if basis.size else np.full(members.size, True)
            )
            out.extend(int(cells[m]) for m in members[fixed])
        return np.array(sorted(out), dtype=np.int64)

    def _protect(
        self, determined: np.ndarray, hidden: np.ndarray, reason: list[str], n: np.ndarray
    ) -> bool:
        """Hide the smallest shown part of a relation holding a determined cell."""
        target = set(determined.tolist())
        best = -1
        for total, parts in self._relations:
            if not (target & set(parts.tolist()) or int(total) in target):
                continue
            visible = parts[~hidden[parts]]
            if visible.size and (best < 0 or n[visible].min() < n[best]):
                best = int(visible[np.argmin(n[visible])])
        if best < 0:
            return False
        hidden[best] = True
        reason[best] = "audit"
        return True

    def _link_groups(self, n: np.ndarray) -> list[np.ndarray]:
        groups = []
        for cells in self._links:
            members = []
            for key in cells:
                if key not in self._index:
                    raise ParameterError(
                        f"link: cell {_describe(key)} is not registered by any table."
                    )
                members.append(self._index[key])
            groups.append(np.unique(members))
        # Nested cells of equal size are the same people.
        for inner, outer in self._nested(n):
            if n[inner] == n[outer]:
                groups.append(np.array([inner, outer]))
        return groups

    def _nested_pairs(self, n: np.ndarray) -> list[tuple[int, int]]:
        assert self.min_n is not None
        return [
            (inner, outer)
            for inner, outer in self._nested(n)
            if 0 < n[outer] - n[inner] < self.min_n
        ]

    def _nested(self, n: np.ndarray) -> list[tuple[int, int]]:
        """Pairs (inner, outer) of distinct cells of one base, inner within outer."""
        pairs: list[tuple[int, int]] = []
        by_base: dict[str, list[int]] = {}
        for at, (base, _) in enumerate(self._keys):
            by_base.setdefault(base, []).append(at)
        for members in by_base.values():
            single: dict[frozenset[str], dict[tuple[str, ...], int]] = {}
            multi: list[int] = []
            for at in members:
                cond = self._keys[at][1]
                if all(len(v) == 1 for _, v in cond):
                    columns = frozenset(c for c, _ in cond)
                    values = tuple(next(iter(v)) for _, v in cond)
                    single.setdefault(columns, {})[values] = at
                else:
                    multi.append(at)
            for at in members:
                mapping = dict(self._keys[at][1])
                mine = frozenset(mapping)
                for columns, cells in single.items():
                    if not columns < mine:
                        continue
                    projected = [mapping[c] for c in sorted(columns)]
                    if any(len(v) != 1 for v in projected):
                        continue
                    outer = cells.get(tuple(next(iter(v)) for v in projected))
                    if outer is not None:
                        pairs.append((at, outer))
            for m in multi:
                for at in members:
                    if at == m:
                        continue
                    if _within(self._keys[at][1], self._keys[m][1]):
                        pairs.append((at, m))
                    elif _within(self._keys[m][1], self._keys[at][1]) and at not in multi:
                        pairs.append((m, at))
        return [(i, o) for i, o in dict.fromkeys(pairs) if not (np.isnan(n[i]) or np.isnan(n[o]))]

    # -- reading ----------------------------------------------------------------------
    def is_hidden(self, base: str, where: Mapping[str, Any] | None = None) -> bool:
        """Whether the cell ``(base, where)`` is hidden (it must be registered)."""
        hidden = self._resolve()
        key = (base, _freeze(_condition(where)))
        if key not in self._index:
            raise ParameterError(f"cell {_describe(key)} is not registered by any table.")
        return bool(hidden[self._index[key]])

    def count(self, name: str) -> int | None:
        """A count registered by :meth:`add_count`, or None when it is hidden."""
        spec = self._spec(name)
        if spec.frame is not None:
            raise ParameterError(f"{name!r} is a table; read it with table().")
        at = int(spec.cells[0])
        return None if self._resolve()[at] else int(self._n[at])

    def table(self, name: str) -> pd.DataFrame:
        """A registered table as it may be shown.

        Returns
        -------
        pandas.DataFrame
            A copy with a boolean ``suppressed`` column; every number of a hidden row
            (every numeric column but the group columns) is missing: ``<NA>`` in
            integer columns (``Int64`` once suppression is on), NaN in float ones.
            A measure's ``attrs["hxmetrics"]["excluded"]`` totals are counted again
            over the rows shown, for each reason with an ``n_excluded_<reason>``
            column: a total over hidden rows too would give them back by subtraction.
        """
        spec = self._spec(name)
        if spec.frame is None:
            raise ParameterError(f"{name!r} is a count; read it with count().")
        hidden_cells = self._resolve()
        rows = self._row_hidden(spec, hidden_cells)
        out = _blank(spec.frame, rows, by=spec.by, ranks=spec.ranks, on=self.min_n is not None)
        return shown_totals(out)

    def _spec(self, name: str) -> _Table:
        if name not in self._tables:
            raise ParameterError(
                f"no table named {name!r} is registered; have {sorted(self._tables)}."
            )
        return self._tables[name]

    def _row_hidden(self, spec: _Table, hidden_cells: np.ndarray) -> np.ndarray:
        if spec.refs:
            rows = np.zeros(len(spec.refs), dtype=bool)
            for i, key in enumerate(spec.refs):
                if key not in self._index:
                    raise ParameterError(
                        f"a row refers to cell {_describe(key)}, which no table registers "
                        "with its size; register the table it is derived from first."
                    )
                rows[i] = hidden_cells[self._index[key]]
        else:
            rows = hidden_cells[spec.cells].copy()
        if spec.compared is not None:
            if spec.compared not in self._index:
                raise ParameterError(
                    f"the reference cell {_describe(spec.compared)} is not registered."
                )
            rows |= bool(hidden_cells[self._index[spec.compared]])
        return rows

    def summary(self) -> pd.DataFrame:
        """Per table: rows, and how many are hidden by each rule (counts only)."""
        hidden = self._resolve()
        records = []
        for name, spec in self._tables.items():
            cells = (
                [self._index.get(k, -1) for k in spec.refs] if spec.refs else spec.cells.tolist()
            )
            reasons = [self._reason[c] for c in cells if c >= 0 and hidden[c]]
            records.append(
                {
                    "table": name,
                    "rows": len(cells),
                    "hidden": int(self._row_hidden(spec, hidden).sum()),
                    **{
                        r: reasons.count(r)
                        for r in ("primary", "secondary", "nested", "linked", "audit")
                    },
                }
            )
        return pd.DataFrame(records)


def _describe(key: CellKey) -> str:
    base, cond = key
    parts = [f"{c}={sorted(v)[0] if len(v) == 1 else sorted(v)}" for c, v in cond]
    return f"{base}[{', '.join(parts) or 'all'}]"


def _blank(
    frame: pd.DataFrame,
    hidden: np.ndarray,
    *,
    by: Sequence[str],
    ranks: Sequence[str] = (),
    on: bool = True,
) -> pd.DataFrame:
    out = frame.copy()
    if on:
        for column in out.columns:
            dtype = out[column].dtype
            if (
                column in by
                or column in _METADATA
                or not pd.api.types.is_numeric_dtype(dtype)
                or pd.api.types.is_bool_dtype(dtype)
            ):
                continue
            if pd.api.types.is_integer_dtype(dtype):
                out[column] = out[column].astype("Int64")
                out.loc[hidden, column] = pd.NA
            else:
                out[column] = out[column].astype(float)
                out.loc[hidden, column] = np.nan
        for column in ranks:
            shown = out.loc[~hidden, column]
            out.loc[~hidden, column] = shown.rank(method="min")
    out["suppressed"] = hidden
    return out


def shown_totals(table: pd.DataFrame) -> pd.DataFrame:
    """``attrs["hxmetrics"]["excluded"]`` re-totalled over the rows shown (hidden: <NA>).

    Changes ``table.attrs`` in place and returns ``table``.
    """
    meta = table.attrs.get("hxmetrics")
    if not isinstance(meta, dict) or not isinstance(meta.get("excluded"), Mapping):
        return table
    excluded = dict(meta["excluded"])
    for reason in excluded:
        column = f"n_excluded_{reason}"
        if column in table.columns:
            excluded[reason] = int(pd.to_numeric(table[column]).sum(skipna=True))
    table.attrs = {**table.attrs, "hxmetrics": {**meta, "excluded": excluded}}
    return table


def suppress(
    result: pd.DataFrame,
    *,
    min_n: int | None,
    by: Sequence[str] = (),
    n_column: str = "n",
) -> pd.DataFrame:
    """Hide groups below ``min_n`` and their complements in one table.

    The layer of :class:`Disclosure` applied to a single table (what a measure's
    ``min_n=`` does): primary suppression below ``min_n`` and complementary
    suppression within every partition whose total can be shown (the groups sharing
    all ``by`` values but one; with one group column, the whole table).

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
    by = [by] if isinstance(by, str) else list(by)
    if n_column not in result.columns:
        raise ParameterError(f"suppress: result has no {n_column!r} column.")
    if min_n is None:
        out = result.copy()
        out["suppressed"] = False
        return out
    layer = Disclosure(min_n)
    frame = result.reset_index(drop=True)
    layer.add("result", frame, base="result", by=by, n=n_column)
    out = layer.table("result")
    out.index = result.index
    return out


# ---------------------------------------------------------------- identifiers in free text

#: The typed placeholders :func:`redact_identifiers` writes, by kind.
PLACEHOLDERS: dict[str, str] = {
    "email": "[EMAIL]",
    "url": "[URL]",
    "name": "[NAME]",
    "phone": "[PHONE]",
    "id": "[ID]",
    "number": "[NUMBER]",
}

# Local part as RFC 5322's dot-atom characters; domain labels of letters, digits, hyphens.
_TEXT_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.ASCII
)
# A scheme or "www." up to the next space; trailing punctuation belongs to the sentence.
_TEXT_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE
)
# Digit groups joined by one space, dot or dash, with an optional +country code and a
# bracketed area code. Whether it is a phone is decided on its digits (_phone).
_TEXT_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,8}(?:[ .-]\d{1,8}){0,6}(?!\w)"
)
# E.164 numbers have at most 15 digits; local numbers at least 7.
_PHONE_MIN_DIGITS, _PHONE_MAX_DIGITS = 7, 15
_TEXT_DATE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})|(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})"
)
# Record ids: a short letter prefix and at least four digits (C000123, W-00042, #10234).
_TEXT_ID = re.compile(r"(?<!\w)(?:[A-Za-z]{1,5}[-_]?|#)\d{4,}[A-Za-z0-9]*(?!\w)")
# What is left of long digit runs (account and card numbers): six or more digits, single
# spaces or dashes allowed between them.
_TEXT_NUMBER = re.compile(r"(?<![\w.,])\d(?:[ -]?\d){5,}(?!\w)")


def _is_date(text: str) -> bool:
    found = _TEXT_DATE.fullmatch(text)
    if found is None:
        return False
    g = found.groups()
    if g[0] is not None:
        return 1 <= int(g[1]) <= 12 and 1 <= int(g[2]) <= 31
    a, b = int(g[3]), int(g[4])
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _phone(found: re.Match[str]) -> str:
    text = found.group(0)
    digits = sum(c.isdigit() for c in text)
    formatted = text.startswith("+") or "(" in text or any(c in text for c in " .-")
    if not formatted or not _PHONE_MIN_DIGITS <= digits <= _PHONE_MAX_DIGITS or _is_date(text):
        return text  # a plain digit run is left to the number rule; a date stays
    return PLACEHOLDERS["phone"]


def _number(found: re.Match[str]) -> str:
    text = found.group(0)
    return text if _is_date(text) else PLACEHOLDERS["number"]


def _names_pattern(names: Any) -> re.Pattern[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    values = pd.Series(list(names), dtype=object)
    bad = ~values.map(lambda v: isinstance(v, str)) & values.notna()
    if bad.any():
        raise ParameterError(
            "redact_identifiers: names must be text (e.g. a roster's given and family "
            f"names); {int(bad.sum())} value(s) are not, e.g. at positions "
            f"{np.flatnonzero(bad.to_numpy())[:5].tolist()}."
        )
    kept = {v.strip() for v in values.dropna() if len(v.strip()) >= 2}
    if not kept:
        return None
    # Longest first, so that "Ana Lee" is replaced whole before "Ana".
    parts = [r"\s+".join(map(re.escape, v.split())) for v in sorted(kept, key=len, reverse=True)]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def redact_identifiers(text: Any, *, names: Iterable[str] | str | None = None) -> Any:
    """Replace personal identifiers in free text by typed placeholders (vectorised).

    Before a comment, a ticket description or any free text is shown, written or
    modelled, what identifies a person is replaced, in this order:

    ============  ===============================================================
    placeholder   what
    ============  ===============================================================
    ``[EMAIL]``   email addresses (``local@domain.tld``)
    ``[URL]``     web addresses starting with a scheme (``https://``) or ``www.``
    ``[NAME]``    the ``names`` given (whole words, any case; e.g. from rosters)
    ``[PHONE]``   phone numbers: 7 to 15 digits in groups joined by spaces, dots or
                  dashes, with an optional ``+`` country code and a bracketed area
                  code (``+44 20 7946 0958``, ``(555) 574-5423``, ``555.574.5423``,
                  ``555-1234``); calendar dates (``2024-03-15``, ``15.03.2024``)
                  are not phones
    ``[ID]``      record ids: up to five letters (or ``#``) and four or more digits
                  (``C000123``, ``W-00042``, ``#10234``)
    ``[NUMBER]``  remaining long digit runs: six or more digits, single spaces or
                  dashes allowed between them (account and card numbers)
    ============  ===============================================================

    Ordinary numbers ("5 stars", "2 days", "3.5 out of 5", "in 2024") stay. The rules
    are deliberately broad (a run of seven numbers separated by spaces reads as a
    phone): a little more redaction is the price of never showing an identifier.
    Names are matched in any case, so a roster name that is also a word ("Will",
    "May") is redacted wherever the word occurs.

    Parameters
    ----------
    text : str, pandas.Series or None
        One text or a Series of texts (missing values stay missing).
    names : iterable of str or str, optional
        Names of people to redact (e.g. a roster's given and family names, and full
        names). Missing values and names shorter than two characters are ignored.

    Returns
    -------
    str, pandas.Series or None
        The same shape as ``text`` (a Series keeps its index), redacted.

    Raises
    ------
    ParameterError
        If ``text`` is neither text nor a Series of texts, or ``names`` holds
        something that is not text (positions named, values never shown).

    Examples
    --------
    >>> redact_identifiers("Mail ana.lee@example.org or call +44 20 7946 0958 in 2 days")
    'Mail [EMAIL] or call [PHONE] in 2 days'
    >>> import pandas as pd
    >>> redact_identifiers(pd.Series(["Ana was great, 5 stars", None]), names=["Ana"])
    0    [NAME] was great, 5 stars
    1                          NaN
    dtype: str
    """
    names_re = _names_pattern(names)
    if text is None:
        return None
    if isinstance(text, str):
        return redact_identifiers(pd.Series([text], dtype=object), names=names).iloc[0]
    if not isinstance(text, pd.Series):
        raise ParameterError(
            f"redact_identifiers: expected a text or a pandas Series of texts; got "
            f"{type(text).__name__}."
        )
    values = text
    if not (
        pd.api.types.is_string_dtype(values.dtype) or pd.api.types.is_object_dtype(values.dtype)
    ) or isinstance(values.dtype, pd.CategoricalDtype):
        if values.notna().any():
            raise ParameterError(
                f"redact_identifiers: the Series must hold text; its dtype is {values.dtype}."
            )
    elif pd.api.types.is_object_dtype(values.dtype) and pd.api.types.infer_dtype(
        values, skipna=True
    ) not in ("string", "empty"):
        # Checked in C first (infer_dtype); searched value by value only when mixed.
        bad = values.notna().to_numpy() & ~values.map(lambda v: isinstance(v, str)).to_numpy(
            dtype=bool
        )
        if bad.any():
            raise ParameterError(
                f"redact_identifiers: the Series must hold text or missing values; "
                f"{int(bad.sum())} value(s) are not, e.g. at positions "
                f"{np.flatnonzero(bad)[:5].tolist()} (values not shown)."
            )
    out = values.str.replace(_TEXT_EMAIL, PLACEHOLDERS["email"], regex=True)
    out = out.str.replace(_TEXT_URL, PLACEHOLDERS["url"], regex=True)
    if names_re is not None:
        out = out.str.replace(names_re, PLACEHOLDERS["name"], regex=True)
    out = out.str.replace(_TEXT_PHONE, _phone, regex=True)
    out = out.str.replace(_TEXT_ID, PLACEHOLDERS["id"], regex=True)
    return out.str.replace(_TEXT_NUMBER, _number, regex=True)
