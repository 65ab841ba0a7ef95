"""The instrument catalogue: what was asked, of whom, on which scale.

An :class:`InstrumentCatalogue` holds one :class:`Item` per question: the instrument and
the item's name (as they appear in ``responses.instrument`` and ``responses.item``), its
wording (one text, or one per role when the same question is put to workers, customers
and partners from their side), its scale (lowest and highest answer, integer or not,
labels), whether it is reverse-keyed, the subscale it belongs to, the roles it is asked
of, and its licence and source.

A catalogue is built in code, or read from a TOML file (:meth:`InstrumentCatalogue.from_toml`),
a CSV file (:meth:`~InstrumentCatalogue.from_csv`) or a data frame
(:meth:`~InstrumentCatalogue.from_frame`); :meth:`~InstrumentCatalogue.to_frame` writes the
flat form back. Every constructor checks the catalogue and raises
:class:`~hxmetrics.errors.InputTableError` (table ``"instruments"``) naming the check and the
item positions: a scale whose lowest answer is not below its highest
(``scale_min_below_scale_max``), an item listed twice with two subscales
(``one_subscale_per_item``) or twice at all (``unique_item``), a reverse key on an item
without a scale (``reverse_key_needs_scale``), a role that is not one
(``roles_known``), labels that fit neither the scale's end points nor its points
(``labels_fit_scale``), a role asked without a wording (``wording_for_each_role``).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._display import html_block, text_block
from hxmetrics.errors import InputTableError, ParameterError, did_you_mean
from hxmetrics.tables import ROLE_OF_SILO, ROLES, as_pandas

__all__ = ["CATALOGUE_COLUMNS", "InstrumentCatalogue", "Item"]

TABLE = "instruments"

#: The flat form's columns (:meth:`InstrumentCatalogue.to_frame`), in order. ``instrument``,
#: ``item`` and a wording (``wording`` or one ``wording_<role>``) are required; the rest
#: have defaults (no scale, not reverse-keyed, no subscale, every role, integer answers).
CATALOGUE_COLUMNS: tuple[str, ...] = (
    "instrument",
    "item",
    "subscale",
    "wording",
    *(f"wording_{r}" for r in ROLES),
    "scale_min",
    "scale_max",
    "integer",
    "labels",
    "reverse_keyed",
    "roles",
    "licence",
    "source",
)
_REQUIRED = ("instrument", "item")
#: Separators of the flat form's list cells: labels may hold commas, roles may not.
_LABEL_SEP = "|"
_ROLE_SEP = ";"
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f", ""})


@dataclass(frozen=True)
class Item:
    """One question of an instrument.

    Parameters
    ----------
    instrument, item : str
        The names answers carry in ``responses.instrument`` and ``responses.item``.
    wording : str
        The question as asked (of every role without a wording of its own).
    scale_min, scale_max : float or None
        Lowest and highest answer; None for an item without a scale (a free number).
    integer : bool
        Answers are whole numbers (a rating scale); False for a continuous scale.
    labels : tuple of str
        The scale's labels: two (the end points) or one per point of an integer scale.
    reverse_keyed : bool
        A high answer means *less* of the subscale: scored ``scale_min + scale_max - x``.
    subscale : str or None
        The subscale (practice, dimension) the item belongs to.
    roles : tuple of str
        The roles the item is asked of (``customer``, ``worker``, ``partner``).
    role_wording : tuple of (role, text) pairs
        The wording put to a role, where it differs from ``wording`` (the role variants
        of a practice: the worker's self-view, the customer's and the partner's view).
    licence, source : str
        Under which terms the wording may be used, and where it comes from.
    """

    instrument: str
    item: str
    wording: str = ""
    scale_min: float | None = None
    scale_max: float | None = None
    integer: bool = True
    labels: tuple[str, ...] = ()
    reverse_keyed: bool = False
    subscale: str | None = None
    roles: tuple[str, ...] = ROLES
    role_wording: tuple[tuple[str, str], ...] = ()
    licence: str = ""
    source: str = ""

    @property
    def has_scale(self) -> bool:
        """Both ends of the scale are known."""
        return self.scale_min is not None and self.scale_max is not None

    def wording_for(self, role: str) -> str:
        """The wording put to ``role`` (its own variant, else the general wording)."""
        return dict(self.role_wording).get(role, self.wording)


def _problems_of(items: Sequence[Item]) -> pd.DataFrame:
    """Every failed catalogue check: ``column, check, failure_case, index`` (positions)."""
    rows: list[tuple[str, str, Any, int]] = []
    seen: dict[tuple[str, str], int] = {}
    for pos, it in enumerate(items):
        for name in ("instrument", "item"):
            value = getattr(it, name)
            if not isinstance(value, str) or not value.strip():
                rows.append((name, "not_empty", value, pos))
        if (it.scale_min is None) != (it.scale_max is None):
            rows.append(("scale_max", "scale_complete", f"{it.scale_min}..{it.scale_max}", pos))
        if it.has_scale:
            lo, hi = float(it.scale_min), float(it.scale_max)  # type: ignore[arg-type]
            if not (math.isfinite(lo) and math.isfinite(hi)):
                rows.append(("scale_min", "finite", f"{lo}..{hi}", pos))
            elif lo >= hi:
                rows.append(("scale_min", "scale_min_below_scale_max", f"{lo:g}..{hi:g}", pos))
            elif it.integer and not (lo.is_integer() and hi.is_integer()):
                rows.append(("scale_min", "integer_scale_ends", f"{lo:g}..{hi:g}", pos))
            elif it.labels and len(it.labels) != 2:
                points = int(hi - lo) + 1 if it.integer else None
                if points is None or len(it.labels) != points:
                    rows.append(("labels", "labels_fit_scale", len(it.labels), pos))
        elif it.labels:
            rows.append(("labels", "labels_fit_scale", len(it.labels), pos))
        if it.reverse_keyed and not it.has_scale:
            rows.append(("reverse_keyed", "reverse_key_needs_scale", True, pos))
        if not it.roles:
            rows.append(("roles", "roles_known", "", pos))
        for role in it.roles:
            if role not in ROLES:
                rows.append(("roles", "roles_known", role, pos))
        worded = dict(it.role_wording)
        for role in worded:
            if role not in it.roles:
                rows.append((f"wording_{role}", "role_wording_asked", role, pos))
        for role in it.roles:
            if role in ROLES and not (worded.get(role) or it.wording).strip():
                rows.append((f"wording_{role}", "wording_for_each_role", role, pos))
        key = (it.instrument, it.item)
        if key in seen:
            first = items[seen[key]]
            check = "one_subscale_per_item" if first.subscale != it.subscale else "unique_item"
            rows.append(("subscale" if check != "unique_item" else "item", check, it.item, pos))
        else:
            seen[key] = pos
    return pd.DataFrame(rows, columns=["column", "check", "failure_case", "index"])


_ADVICE = {
    "scale_min_below_scale_max": "the lowest answer must be below the highest",
    "scale_complete": "give both scale_min and scale_max, or neither",
    "integer_scale_ends": "an integer scale has whole-number ends (or set integer = false)",
    "finite": "scale ends must be finite numbers",
    "labels_fit_scale": "give two labels (the ends) or one per scale point",
    "reverse_key_needs_scale": "reversing x to min + max - x needs the scale's ends",
    "roles_known": f"roles are {', '.join(ROLES)}",
    "role_wording_asked": "a role's wording is given but the item is not asked of that role",
    "wording_for_each_role": "every role asked needs a wording (its own or the general one)",
    "one_subscale_per_item": "an item belongs to one subscale of its instrument",
    "unique_item": "each (instrument, item) is listed once",
    "not_empty": "instrument and item names are needed",
}


def _raise_problems(problems: pd.DataFrame, items: Sequence[Item]) -> None:
    if problems.empty:
        return
    lines = []
    for (column, check), part in problems.groupby(["column", "check"], sort=False):
        where = part["index"].head(5).tolist()
        names = ", ".join(f"{items[p].instrument}/{items[p].item}" for p in where if p < len(items))
        lines.append(
            f"  column {column!r}, check {check}: {len(part)} item(s), e.g. position(s) "
            f"{where} ({names}): {_ADVICE.get(str(check), '')}"
        )
    raise InputTableError(
        f"instrument catalogue failed {problems['check'].nunique()} check(s) on "
        f"{problems['index'].nunique()} item(s):\n" + "\n".join(lines),
        table=TABLE,
        failure_cases=problems.reset_index(drop=True),
    )


@dataclass(frozen=True, eq=True, repr=False, init=False)
class InstrumentCatalogue:
    """What was asked: one :class:`Item` per (instrument, item), checked when built.

    Parameters
    ----------
    items : iterable of Item
        The questions, in order (the order of subscales and items in results).

    Raises
    ------
    InputTableError
        Table ``"instruments"``, naming each failed check (see the module) and the
        item positions.

    Examples
    --------
    >>> cat = InstrumentCatalogue([
    ...     Item("pulse", "q1", "I can act on feedback.", 1, 5, subscale="autonomy"),
    ...     Item("pulse", "q2", "I wait for approval.", 1, 5, subscale="autonomy",
    ...          reverse_keyed=True),
    ... ])
    >>> cat.scale("pulse", "q2"), cat.subscales("pulse")
    ((1.0, 5.0), {'autonomy': ['q1', 'q2']})
    >>> InstrumentCatalogue([Item("pulse", "q1", "?", 5, 1)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hxmetrics.errors.InputTableError: instrument catalogue failed 1 check(s) on 1 item(s):
      column 'scale_min', check scale_min_below_scale_max: 1 item(s), e.g. position(s) [0] ...
    """

    items: tuple[Item, ...] = field(default_factory=tuple)

    def __init__(self, items: Iterable[Item] = ()) -> None:
        clean = tuple(_normalised(it) for it in items)
        object.__setattr__(self, "items", clean)
        _raise_problems(_problems_of(clean), clean)

    # ------------------------------------------------------------------ lookup

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __add__(self, other: InstrumentCatalogue) -> InstrumentCatalogue:
        if not isinstance(other, InstrumentCatalogue):
            return NotImplemented
        return InstrumentCatalogue((*self.items, *other.items))

    @property
    def instruments(self) -> tuple[str, ...]:
        """The instruments, in the order of their first item."""
        return tuple(dict.fromkeys(it.instrument for it in self.items))

    def items_of(self, instrument: str) -> tuple[Item, ...]:
        """The items of ``instrument``, in order."""
        self._check_instrument(instrument)
        return tuple(it for it in self.items if it.instrument == instrument)

    def item(self, instrument: str, item: str) -> Item:
        """The :class:`Item` named ``item`` of ``instrument``."""
        found = [it for it in self.items_of(instrument) if it.item == item]
        if not found:
            names = [it.item for it in self.items_of(instrument)]
            raise ParameterError(
                f"instrument {instrument!r} has no item {item!r}; it has {names}."
                + did_you_mean(str(item), names)
            )
        return found[0]

    def scale(self, instrument: str, item: str) -> tuple[float, float]:
        """``(scale_min, scale_max)`` of an item, for measures that need the scale.

        Raises
        ------
        ParameterError
            The item is not in the catalogue, or has no scale.
        """
        it = self.item(instrument, item)
        if not it.has_scale:
            raise ParameterError(f"item {instrument}/{item} has no scale in the catalogue.")
        return float(it.scale_min), float(it.scale_max)  # type: ignore[arg-type]

    def subscales(self, instrument: str) -> dict[str, list[str]]:
        """``{subscale: [items]}`` of an instrument, in catalogue order (items without a
        subscale are left out); the shape of a CFA ``model`` and of ``reliability``'s
        ``scales``."""
        out: dict[str, list[str]] = {}
        for it in self.items_of(instrument):
            if it.subscale is not None:
                out.setdefault(it.subscale, []).append(it.item)
        return out

    def roles_of(self, instrument: str) -> tuple[str, ...]:
        """The roles asked any item of ``instrument``."""
        return tuple(r for r in ROLES if any(r in it.roles for it in self.items_of(instrument)))

    def _check_instrument(self, instrument: str) -> None:
        if instrument not in self.instruments:
            raise ParameterError(
                f"the catalogue has no instrument {instrument!r}; it has "
                f"{list(self.instruments)}." + did_you_mean(str(instrument), self.instruments)
            )

    # ------------------------------------------------------------------ flat form

    def to_frame(self) -> pd.DataFrame:
        """The flat form: one row per item, the columns of :data:`CATALOGUE_COLUMNS`.

        Labels are joined with ``|`` and roles with ``;``; a missing scale end or
        subscale is empty. :meth:`from_frame` reads it back to an equal catalogue.
        """
        rows = []
        for it in self.items:
            worded = dict(it.role_wording)
            rows.append(
                {
                    "instrument": it.instrument,
                    "item": it.item,
                    "subscale": it.subscale,
                    "wording": it.wording,
                    **{f"wording_{r}": worded.get(r, "") for r in ROLES},
                    "scale_min": np.nan if it.scale_min is None else it.scale_min,
                    "scale_max": np.nan if it.scale_max is None else it.scale_max,
                    "integer": it.integer,
                    "labels": _LABEL_SEP.join(it.labels),
                    "reverse_keyed": it.reverse_keyed,
                    "roles": _ROLE_SEP.join(it.roles),
                    "licence": it.licence,
                    "source": it.source,
                }
            )
        out = pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))
        for c in ("scale_min", "scale_max"):
            out[c] = out[c].astype(float)
        out["subscale"] = out["subscale"].astype("string")
        return out

    @classmethod
    def from_frame(cls, frame: Any) -> InstrumentCatalogue:
        """A catalogue from its flat form (see :meth:`to_frame`).

        Parameters
        ----------
        frame : DataFrame
            One row per item; pandas or any frame narwhals reads (converted with
            :func:`hxmetrics.tables.as_pandas`). Cells may be text (as read from a
            CSV file) or typed. Columns not in :data:`CATALOGUE_COLUMNS` are refused
            (a misspelt column would otherwise be silently ignored).

        Raises
        ------
        InputTableError
            Table ``"instruments"``: a missing or unknown column, a cell that is not
            a number or a yes/no where one is needed, or a failed catalogue check;
            rows are named by position.
        """
        df = as_pandas(frame, table=TABLE).reset_index(drop=True)
        columns = [str(c) for c in df.columns]
        missing = [c for c in _REQUIRED if c not in columns]
        unknown = [c for c in columns if c not in CATALOGUE_COLUMNS]
        if missing or unknown:
            hints = "".join(did_you_mean(c, CATALOGUE_COLUMNS) for c in unknown)
            raise InputTableError(
                f"instrument catalogue: missing column(s) {missing}, unknown column(s) "
                f"{unknown}; the columns are {list(CATALOGUE_COLUMNS)}.{hints}",
                table=TABLE,
                failure_cases=pd.DataFrame(
                    {
                        "column": [*missing, *unknown],
                        "check": ["column_in_dataframe"] * len(missing)
                        + ["known_column"] * len(unknown),
                        "failure_case": [*missing, *unknown],
                        "index": [None] * (len(missing) + len(unknown)),
                    }
                ),
            )
        cells: list[tuple[str, str, Any, int]] = []
        items = []
        for pos, row in enumerate(df.to_dict("records")):
            items.append(_item_from_row({str(k): v for k, v in row.items()}, pos, cells))
        if cells:
            problems = pd.DataFrame(cells, columns=["column", "check", "failure_case", "index"])
            _raise_problems(problems, items)
        return cls(items)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> InstrumentCatalogue:
        """Read the flat form (:meth:`to_frame`) from a CSV file (UTF-8, header row)."""
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InputTableError(
                f"instrument catalogue {os.fspath(path)!r} could not be read as CSV: {exc}",
                table=TABLE,
                failure_cases=_empty_cases(),
            ) from None
        return cls.from_frame(frame)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> InstrumentCatalogue:
        """Read a catalogue from a TOML file.

        The file holds ``[[instrument]]`` tables (``name`` and defaults for its items:
        ``scale = [min, max]``, ``integer``, ``labels``, ``roles``, ``licence``,
        ``source``), each with ``[[instrument.item]]`` tables (``item``, ``subscale``,
        ``reverse_keyed``, ``wording`` as one text or a table ``{worker = "...",
        customer = "..."}``, and any default overridden). A top-level ``licence`` and
        ``source`` apply to every instrument. Roles default to those with a wording of
        their own, else to the instrument's ``roles``, else to every role. The built-in
        banks (:func:`~hxmetrics.instruments.load_bank`) are such files.

        Raises
        ------
        InputTableError
            Table ``"instruments"``: not valid TOML, an unknown key (with the nearest
            known one), or a failed catalogue check.
        """
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputTableError(
                f"instrument catalogue {os.fspath(path)!r} could not be read as TOML: {exc}",
                table=TABLE,
                failure_cases=_empty_cases(),
            ) from None
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> InstrumentCatalogue:
        """A catalogue from the parsed TOML structure (see :meth:`from_toml`)."""
        _check_keys(data, _TOP_KEYS, "the file")
        defaults = {k: data[k] for k in ("licence", "source") if k in data}
        items = []
        for i, inst in enumerate(data.get("instrument", [])):
            where = f"instrument {i}"
            if not isinstance(inst, Mapping):
                _key_error(f"{where} is not a table", "instrument")
            _check_keys(inst, _INSTRUMENT_KEYS, where)
            name = inst.get("name")
            if not isinstance(name, str):
                _key_error(f"{where} has no name", "name")
            base = {**defaults, **{k: v for k, v in inst.items() if k not in ("name", "item")}}
            for j, raw in enumerate(inst.get("item", [])):
                spot = f"instrument {name!r}, item {j}"
                if not isinstance(raw, Mapping):
                    _key_error(f"{spot} is not a table", "item")
                _check_keys(raw, _ITEM_KEYS, spot)
                items.append(_item_from_toml(name, {**base, **raw}, spot))
        return cls(items)

    # ------------------------------------------------------------------ display

    def summary(self) -> pd.DataFrame:
        """One row per instrument and subscale: ``instrument``, ``subscale``,
        ``n_items``, ``n_reverse_keyed``, ``scale``, ``roles``."""
        rows = []
        for inst in self.instruments:
            groups: dict[str | None, list[Item]] = {}
            for it in self.items_of(inst):
                groups.setdefault(it.subscale, []).append(it)
            for sub, its in groups.items():
                scales = sorted(
                    {f"{it.scale_min:g}-{it.scale_max:g}" for it in its if it.has_scale}
                )
                rows.append(
                    {
                        "instrument": inst,
                        "subscale": sub if sub is not None else "",
                        "n_items": len(its),
                        "n_reverse_keyed": sum(it.reverse_keyed for it in its),
                        "scale": ", ".join(scales) or "none",
                        "roles": ", ".join(r for r in ROLES if any(r in it.roles for it in its)),
                    }
                )
        return pd.DataFrame(
            rows,
            columns=["instrument", "subscale", "n_items", "n_reverse_keyed", "scale", "roles"],
        )

    def _title(self) -> str:
        return (
            f"InstrumentCatalogue: {len(self.instruments)} instrument(s), {len(self.items)} item(s)"
        )

    def __repr__(self) -> str:
        return text_block(self._title(), self.summary())

    def _repr_html_(self) -> str:
        return html_block(self._title(), self.summary())


# ---------------------------------------------------------------------- helpers


def _empty_cases() -> pd.DataFrame:
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def _normalised(it: Item) -> Item:
    """Scale ends as floats, tuples as tuples (so equal catalogues compare equal)."""
    if not isinstance(it, Item):
        raise ParameterError(f"a catalogue holds Item objects; got {type(it).__name__}.")

    def num(v: Any) -> float | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return float(v)

    try:
        lo, hi = num(it.scale_min), num(it.scale_max)
    except (TypeError, ValueError):
        raise ParameterError(
            f"item {it.instrument}/{it.item}: scale_min and scale_max must be numbers; "
            f"got {it.scale_min!r}, {it.scale_max!r}."
        ) from None
    roles = (it.roles,) if isinstance(it.roles, str) else tuple(it.roles)
    # A silo's name is the plural of its role: "workers" means "worker".
    roles = tuple(ROLE_OF_SILO.get(str(r).strip(), str(r).strip()) for r in roles)
    roles = tuple(sorted(roles, key=_role_rank))
    worded = sorted(
        ((ROLE_OF_SILO.get(str(r), str(r)), str(t)) for r, t in it.role_wording if str(t).strip()),
        key=lambda pair: _role_rank(pair[0]),
    )
    return Item(
        instrument=it.instrument,
        item=it.item,
        wording=it.wording or "",
        scale_min=lo,
        scale_max=hi,
        integer=bool(it.integer),
        labels=tuple(str(x) for x in it.labels),
        reverse_keyed=bool(it.reverse_keyed),
        subscale=it.subscale if it.subscale else None,
        roles=roles,
        role_wording=tuple(worded),
        licence=it.licence or "",
        source=it.source or "",
    )


def _role_rank(role: str) -> int:
    """Roles in the package's order (customer, worker, partner), unknown ones last."""
    return ROLES.index(role) if role in ROLES else len(ROLES)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _number(
    value: Any, column: str, pos: int, cells: list[tuple[str, str, Any, int]]
) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        cells.append((column, "numeric", text, pos))
        return None


def _flag(
    value: Any, column: str, pos: int, cells: list[tuple[str, str, Any, int]], default: bool
) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = _text(value).lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    cells.append((column, "boolean", text, pos))
    return default


def _item_from_row(
    row: Mapping[str, Any], pos: int, cells: list[tuple[str, str, Any, int]]
) -> Item:
    roles_text = _text(row.get("roles"))
    worded = tuple(
        (r, _text(row.get(f"wording_{r}"))) for r in ROLES if _text(row.get(f"wording_{r}"))
    )
    if roles_text:
        roles = tuple(r.strip() for r in roles_text.replace(",", _ROLE_SEP).split(_ROLE_SEP))
    else:
        roles = tuple(r for r, _ in worded) if worded and not _text(row.get("wording")) else ROLES
    labels_text = _text(row.get("labels"))
    return Item(
        instrument=_text(row.get("instrument")),
        item=_text(row.get("item")),
        wording=_text(row.get("wording")),
        scale_min=_number(row.get("scale_min"), "scale_min", pos, cells),
        scale_max=_number(row.get("scale_max"), "scale_max", pos, cells),
        integer=_flag(row.get("integer"), "integer", pos, cells, True),
        labels=tuple(x.strip() for x in labels_text.split(_LABEL_SEP)) if labels_text else (),
        reverse_keyed=_flag(row.get("reverse_keyed"), "reverse_keyed", pos, cells, False),
        subscale=_text(row.get("subscale")) or None,
        roles=tuple(r for r in roles if r),
        role_wording=worded,
        licence=_text(row.get("licence")),
        source=_text(row.get("source")),
    )


_TOP_KEYS = ("instrument", "licence", "source", "title", "description", "bank")
_DEFAULT_KEYS = ("scale", "integer", "labels", "roles", "licence", "source")
_INSTRUMENT_KEYS = ("name", "item", "title", "description", *_DEFAULT_KEYS)
_ITEM_KEYS = ("item", "wording", "subscale", "reverse_keyed", *_DEFAULT_KEYS)


def _key_error(text: str, key: str) -> None:
    raise InputTableError(
        f"instrument catalogue: {text}.",
        table=TABLE,
        failure_cases=pd.DataFrame(
            {"column": [key], "check": ["toml_structure"], "failure_case": [key], "index": [None]}
        ),
    )


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = [str(k) for k in table if k not in allowed]
    if unknown:
        hints = "".join(did_you_mean(k, allowed) for k in unknown)
        _key_error(
            f"{where} has unknown key(s) {unknown}; allowed: {list(allowed)}.{hints}", unknown[0]
        )


def _item_from_toml(instrument: str, raw: Mapping[str, Any], spot: str) -> Item:
    scale = raw.get("scale")
    lo = hi = None
    if scale is not None:
        if not (isinstance(scale, list) and len(scale) == 2):
            _key_error(f"{spot}: scale must be [lowest, highest]; got {scale!r}", "scale")
        lo, hi = scale
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)):
            _key_error(f"{spot}: scale ends must be numbers; got {scale!r}", "scale")
    wording = raw.get("wording", "")
    role_wording: tuple[tuple[str, str], ...] = ()
    general = ""
    if isinstance(wording, Mapping):
        role_wording = tuple((str(r), str(t)) for r, t in wording.items())
    elif isinstance(wording, str):
        general = wording
    else:
        _key_error(f"{spot}: wording must be a text or a table of role = text", "wording")
    roles = raw.get("roles")
    if roles is None:
        roles = [r for r, _ in role_wording] if role_wording else list(ROLES)
    elif isinstance(roles, str):
        roles = [roles]
    labels = raw.get("labels", [])
    if not isinstance(labels, list):
        _key_error(f"{spot}: labels must be a list of texts", "labels")
    item = raw.get("item")
    if not isinstance(item, str):
        _key_error(f"{spot} has no item name", "item")
    return Item(
        instrument=instrument,
        item=str(item),
        wording=general,
        scale_min=lo,
        scale_max=hi,
        integer=bool(raw.get("integer", True)),
        labels=tuple(str(x) for x in labels),
        reverse_keyed=bool(raw.get("reverse_keyed", False)),
        subscale=raw.get("subscale"),
        roles=tuple(str(r) for r in roles),
        role_wording=role_wording,
        licence=str(raw.get("licence", "")),
        source=str(raw.get("source", "")),
    )
