"""The data-exhaust contract: one pandera schema per roster and exhaust table.

Rosters are what each silo keeps about its people (one row per relationship
episode); exhaust tables are what people leave behind (survey answers,
interactions, purchases, feedback tickets). Every exhaust row names the silo it
came from and that silo's own id for the person (``silo``, ``source_id``): the
stakeholder model turns those into persons. Optional tables (:data:`OPTIONAL_TABLES`:
``ticket_events``, the status history of tickets; ``teams``, who owns each
touchpoint; ``comments``, free text; ``invitations``, survey invitations) are kept
out of :data:`TABLES`: code that walks :data:`TABLES` never meets them, so a folder
without them reads as before.

``validate(df, table=...)`` returns the coerced frame or raises
:class:`~hxmetrics.errors.InputTableError` listing every failed check.
Nothing is dropped: a value that cannot be coerced is a failure, not a NaN.
Errors show the row label of an identifier (email, phone, id, name), never its value.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, did_you_mean

# Errors show the row label of these columns, never a value (privacy imports no tables).
from hxmetrics.privacy import IDENTIFIER_COLUMNS, looks_personal, shown_name


@contextmanager
def _without_pyspark_pandas_warning() -> Iterator[None]:
    # With pyspark installed, pandera imports pyspark.pandas (on import and when it
    # registers its backends at the first validation), which warns that it does not
    # support pandas 3. hxmetrics never uses pyspark.pandas; silence that one warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = [
    "ENGAGEMENTS",
    "EXHAUST",
    "EXHAUST_TABLES",
    "OPTIONAL",
    "OPTIONAL_TABLES",
    "ROLES",
    "ROLE_OF_SILO",
    "ROSTERS",
    "ROSTER_TABLES",
    "SCHEMAS",
    "SILOS",
    "SILO_OF_ROLE",
    "TABLES",
    "as_pandas",
    "read_table",
    "role_of",
    "silo_of",
    "table_from_filename",
    "validate",
    "validate_lazy",
]

#: The silos and the role each one records: silos plural, roles singular. The one
#: mapping of the package; :data:`SILO_OF_ROLE`, :data:`SILOS`, :data:`ROLES`,
#: :func:`role_of` and :func:`silo_of` are read from it.
ROLE_OF_SILO: dict[str, str] = {
    "customers": "customer",
    "workers": "worker",
    "partners": "partner",
}
#: The silo that records each role (``"worker"`` -> ``"workers"``).
SILO_OF_ROLE: dict[str, str] = {role: silo for silo, role in ROLE_OF_SILO.items()}
SILOS: tuple[str, ...] = tuple(ROLE_OF_SILO)
ROLES: tuple[str, ...] = tuple(SILO_OF_ROLE)


def _role_or_silo(name: object, what: str) -> str:
    text = name.strip().lower() if isinstance(name, str) else None
    if text in SILO_OF_ROLE:
        return text
    if text in ROLE_OF_SILO:
        return ROLE_OF_SILO[text]
    spellings = ", ".join(f"{r!r} or {s!r}" for r, s in SILO_OF_ROLE.items())
    hint = did_you_mean(text, [*ROLES, *SILOS]) if text else ""
    raise ParameterError(f"{what} must be a role or its silo: {spellings}; got {name!r}.{hint}")


def role_of(name: str, *, what: str = "role") -> str:
    """The role named by a role or a silo, in either spelling (``"workers"`` -> ``"worker"``).

    Parameters
    ----------
    name : str
        ``customer``/``customers``, ``worker``/``workers``, ``partner``/``partners``
        (case and surrounding spaces ignored).
    what : str, default "role"
        The argument's name in the error message.

    Returns
    -------
    str
        The role (singular).

    Raises
    ------
    ParameterError
        For any other value, with both spellings and the nearest name.

    Examples
    --------
    >>> role_of("workers"), role_of("Partner")
    ('worker', 'partner')
    """
    return _role_or_silo(name, what)


def silo_of(name: str, *, what: str = "silo") -> str:
    """The silo named by a role or a silo, in either spelling (``"worker"`` -> ``"workers"``).

    Parameters
    ----------
    name : str
        A role or a silo (case and surrounding spaces ignored).
    what : str, default "silo"
        The argument's name in the error message.

    Returns
    -------
    str
        The silo (plural).

    Raises
    ------
    ParameterError
        For any other value, with both spellings and the nearest name.

    Examples
    --------
    >>> silo_of("customer"), silo_of("workers")
    ('customers', 'workers')
    """
    return SILO_OF_ROLE[_role_or_silo(name, what)]


#: Engagement kinds allowed per role.
ENGAGEMENTS: dict[str, tuple[str, ...]] = {
    "customer": ("consumer", "business"),
    "worker": ("full_time", "part_time", "contract", "freelance", "gig", "intern"),
    "partner": ("supplier", "reseller", "driver", "host"),
}

_SEVERITIES = ("low", "medium", "high", "critical")


@functools.cache
def _pandera() -> Any:
    """pandera, imported at the first validation, not with this module.

    It costs about a second (pyspark included, when installed): most users of the
    contract's names (silos, roles, tables) never validate a frame.
    """
    with _without_pyspark_pandas_warning():
        import pandera.pandas

    return pandera.pandas


def _finite() -> pa.Check:
    return _pandera().Check(lambda s: np.isfinite(s), name="finite")


def _id(name: str) -> pa.Column:
    pa = _pandera()
    return pa.Column(pa.String, nullable=False, coerce=True, title=name)


def _roster(role: str, id_column: str) -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            id_column: _id(id_column),
            "email": pa.Column(pa.String, nullable=True, required=False, coerce=True),
            "phone": pa.Column(pa.String, nullable=True, required=False, coerce=True),
            "birth_year": pa.Column(
                "Int64",
                pa.Check.in_range(1900, 2100),
                nullable=True,
                required=False,
                coerce=True,
            ),
            "start": pa.Column(pa.DateTime, nullable=False, coerce=True),
            "end": pa.Column(pa.DateTime, nullable=True, coerce=True),
            "engagement": pa.Column(pa.String, pa.Check.isin(ENGAGEMENTS[role]), coerce=True),
        },
        unique=[id_column, "start"],
        name=f"{role}s",
        strict=False,
    )


def _exhaust_keys() -> dict[str, pa.Column]:
    pa = _pandera()
    return {
        "silo": pa.Column(pa.String, pa.Check.isin(SILOS), coerce=True),
        "source_id": _id("source_id"),
    }


def _responses() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "response_id": _id("response_id"),
            **_exhaust_keys(),
            "instrument": pa.Column(pa.String, coerce=True),
            "item": pa.Column(pa.String, coerce=True),
            "score": pa.Column(float, _finite(), coerce=True),
            "timestamp": pa.Column(pa.DateTime, coerce=True),
            "weight": pa.Column(
                float, pa.Check.greater_than(0), nullable=False, required=False, coerce=True
            ),
            "touchpoint": pa.Column(pa.String, nullable=True, required=False, coerce=True),
            # The survey invitation the answer came from (``invitations.invitation_id``).
            "invitation_id": pa.Column(pa.String, nullable=True, required=False, coerce=True),
        },
        unique=["response_id", "item"],
        name="responses",
    )


def _events() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "event_id": _id("event_id"),
            **_exhaust_keys(),
            "timestamp": pa.Column(pa.DateTime, coerce=True),
            "event_type": pa.Column(pa.String, coerce=True),
            "touchpoint": pa.Column(pa.String, nullable=True, required=False, coerce=True),
        },
        unique=["event_id"],
        name="events",
    )


def _transactions() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "transaction_id": _id("transaction_id"),
            **_exhaust_keys(),
            "timestamp": pa.Column(pa.DateTime, coerce=True),
            "amount": pa.Column(float, _finite(), coerce=True),
        },
        unique=["transaction_id"],
        name="transactions",
    )


def _tickets() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "ticket_id": _id("ticket_id"),
            **_exhaust_keys(),
            "opened": pa.Column(pa.DateTime, coerce=True),
            "first_response": pa.Column(pa.DateTime, nullable=True, coerce=True),
            "closed": pa.Column(pa.DateTime, nullable=True, coerce=True),
            "reopened": pa.Column("Int64", pa.Check.ge(0), coerce=True),
            "severity": pa.Column(pa.String, pa.Check.isin(_SEVERITIES), coerce=True),
            "touchpoint": pa.Column(pa.String, coerce=True),
            "team": pa.Column(pa.String, coerce=True),
            # Free text: the ticket's description (may carry identifiers; never shown as is).
            "description": pa.Column(pa.String, nullable=True, required=False, coerce=True),
        },
        unique=["ticket_id"],
        name="tickets",
    )


def _ticket_events() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "ticket_id": _id("ticket_id"),
            "status": pa.Column(pa.String, nullable=False, coerce=True),
            "timestamp": pa.Column(pa.DateTime, nullable=False, coerce=True),
            "team": pa.Column(pa.String, nullable=True, required=False, coerce=True),
        },
        unique=["ticket_id", "timestamp", "status"],
        name="ticket_events",
    )


def _teams() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "team": pa.Column(pa.String, nullable=False, coerce=True),
            "touchpoint": pa.Column(pa.String, nullable=False, coerce=True),
            "valid_from": pa.Column(pa.DateTime, nullable=False, coerce=True),
            "valid_to": pa.Column(pa.DateTime, nullable=True, coerce=True),
        },
        unique=["team", "touchpoint", "valid_from"],
        name="teams",
    )


def _comments() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "comment_id": _id("comment_id"),
            **_exhaust_keys(),
            "timestamp": pa.Column(pa.DateTime, coerce=True),
            # Empty or missing text is allowed here; the text measures count it as excluded.
            "text": pa.Column(pa.String, nullable=True, coerce=True),
            "response_id": pa.Column(pa.String, nullable=True, required=False, coerce=True),
            "touchpoint": pa.Column(pa.String, nullable=True, required=False, coerce=True),
        },
        unique=["comment_id"],
        name="comments",
    )


def _invitations() -> pa.DataFrameSchema:
    pa = _pandera()
    return pa.DataFrameSchema(
        {
            "invitation_id": _id("invitation_id"),
            **_exhaust_keys(),
            "instrument": pa.Column(pa.String, nullable=False, coerce=True),
            "sent": pa.Column(pa.DateTime, nullable=False, coerce=True),
            "channel": pa.Column(pa.String, nullable=True, required=False, coerce=True),
        },
        unique=["invitation_id"],
        name="invitations",
    )


#: Rosters: the silo tables companies already have, one row per episode.
ROSTER_TABLES: tuple[str, ...] = SILOS
#: Exhaust tables: what people leave behind.
EXHAUST_TABLES: tuple[str, ...] = ("responses", "events", "transactions", "tickets")
#: Every table of the contract, rosters first.
TABLES: tuple[str, ...] = (*ROSTER_TABLES, *EXHAUST_TABLES)
#: Optional tables: details of an exhaust table's rows (``ticket_events``), the
#: organisation's own structure (``teams``) and more exhaust (``comments``,
#: ``invitations``). :func:`validate`, :func:`table_from_filename` and :data:`OPTIONAL`
#: know them; they are kept out of :data:`TABLES`, so the report, batch jobs and the
#: sample, which walk :data:`TABLES`, work with or without them.
#:
#: ``ticket_events``: one row per status change of a ticket. ``ticket_id`` (text, a
#: ``tickets.ticket_id``), ``status`` (text, the organisation's own status names),
#: ``timestamp`` (when the ticket took that status) and, optionally, ``team`` (who
#: holds the ticket from that step on; empty where not recorded). ``(ticket_id,
#: timestamp, status)`` is unique. Read by
#: :func:`hxmetrics.measures.responsiveness.itr.itr_stages`.
#:
#: ``teams``: who owns each touchpoint, over time. ``team`` (text), ``touchpoint``
#: (text), ``valid_from`` (datetime) and ``valid_to`` (datetime, on or after
#: ``valid_from``; empty while the team still owns it). Whether two teams own one
#: touchpoint at once is checked by :func:`hxmetrics.measures.ledger.check_teams`.
#:
#: ``comments``: free text as exhaust (``silo``, ``source_id`` like the exhaust
#: tables). ``comment_id`` (id), ``timestamp``, ``text`` (may be empty or missing:
#: the text measures count such rows as excluded) and, optionally, ``response_id``
#: (the survey response it came with) and ``touchpoint``. Text can carry emails,
#: phones and names: it is never shown as is, only redacted.
#:
#: ``invitations``: survey invitations. ``invitation_id`` (id), ``silo``,
#: ``source_id``, ``instrument`` (text), ``sent`` (datetime) and, optionally,
#: ``channel``. Responses name theirs in the optional ``responses.invitation_id``.
#:
#: Optional columns of exhaust tables: ``responses.invitation_id``,
#: ``responses.touchpoint``, ``responses.weight``, ``events.touchpoint`` and
#: ``tickets.description`` (free text, like ``comments.text``).
OPTIONAL_TABLES: tuple[str, ...] = ("ticket_events", "teams", "comments", "invitations")
_CONTRACT: tuple[str, ...] = (*TABLES, *OPTIONAL_TABLES)


@functools.cache
def _schemas() -> dict[str, pa.DataFrameSchema]:
    """The pandera schema of every table (built, and pandera imported, on first use)."""
    return {
        "customers": _roster("customer", "customer_id"),
        "workers": _roster("worker", "worker_id"),
        "partners": _roster("partner", "partner_id"),
        "responses": _responses(),
        "events": _events(),
        "transactions": _transactions(),
        "tickets": _tickets(),
        "ticket_events": _ticket_events(),
        "teams": _teams(),
        "comments": _comments(),
        "invitations": _invitations(),
    }


# ROSTERS, EXHAUST, OPTIONAL and SCHEMAS (table name -> pandera schema) are made on
# first access, so that importing this module does not import pandera. SCHEMAS holds
# the schemas of TABLES; OPTIONAL those of OPTIONAL_TABLES.
_LAZY_SCHEMAS = {
    "ROSTERS": ROSTER_TABLES,
    "EXHAUST": EXHAUST_TABLES,
    "OPTIONAL": OPTIONAL_TABLES,
    "SCHEMAS": TABLES,
}
if TYPE_CHECKING:
    ROSTERS: dict[str, pa.DataFrameSchema]
    EXHAUST: dict[str, pa.DataFrameSchema]
    OPTIONAL: dict[str, pa.DataFrameSchema]
    SCHEMAS: dict[str, pa.DataFrameSchema]


def __getattr__(name: str) -> Any:
    if name in _LAZY_SCHEMAS:
        schemas = _schemas()
        value = {t: schemas[t] for t in _LAZY_SCHEMAS[name]}
        globals()[name] = value  # the same dict on every later access
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The id column of each roster, by silo.
ID_COLUMN: dict[str, str] = {
    "customers": "customer_id",
    "workers": "worker_id",
    "partners": "partner_id",
}


@dataclass(frozen=True)
class _Ordering:
    """A cross-column rule: ``later`` is empty or on/after ``earlier``."""

    earlier: str
    later: str

    @property
    def name(self) -> str:
        return f"{self.later}_not_before_{self.earlier}"

    def failing(self, df: pd.DataFrame) -> pd.Series:
        return df[self.later].notna() & (df[self.later] < df[self.earlier])


_ORDERINGS: dict[str, tuple[_Ordering, ...]] = {
    **{silo: (_Ordering("start", "end"),) for silo in ROSTER_TABLES},
    "tickets": (_Ordering("opened", "first_response"), _Ordering("opened", "closed")),
    "teams": (_Ordering("valid_from", "valid_to"),),
}


@dataclass(frozen=True)
class _Reference:
    """A cross-table rule: ``column`` is a ``key`` of ``parent``, and ``time`` is not
    before that parent row's ``since`` (a ticket's status cannot change before it opened)."""

    parent: str
    column: str
    key: str
    time: str
    since: str

    @property
    def names(self) -> tuple[str, str]:
        return (
            f"{self.column}_in_{self.parent}",
            f"{self.time}_not_before_{self.parent}_{self.since}",
        )

    def failures(self, df: pd.DataFrame, parent: pd.DataFrame) -> pd.DataFrame:
        """Failure rows of ``df`` (coerced) against the coerced ``parent``."""
        since = pd.Series(parent[self.since].to_numpy(), index=parent[self.key].to_numpy())
        at = pd.Index(since.index).get_indexer(df[self.column])
        known = at >= 0
        opened = np.full(len(df), _NAT)
        opened[known] = since.to_numpy()[at[known]]
        time = df[self.time].to_numpy(dtype="datetime64[ns]")
        early = known & ~np.isnat(opened) & (time < opened)
        unknown_name, early_name = self.names
        parts = []
        if (~known).any():
            parts.append(_cases(self.column, unknown_name, df[self.column], ~known))
        if early.any():
            text = pd.Series(
                [
                    f"{self.time}={pd.Timestamp(t)} < {self.parent}.{self.since}={pd.Timestamp(o)}"
                    for t, o in zip(time[early], opened[early], strict=True)
                ],
                dtype=object,
            )
            parts.append(
                pd.DataFrame(
                    {
                        "column": self.time,
                        "check": early_name,
                        "failure_case": text,
                        "index": df.index[early],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else _no_cases()


#: Cross-table rules, checked by :func:`validate` when the parent table is given.
_REFERENCES: dict[str, _Reference] = {
    "ticket_events": _Reference("tickets", "ticket_id", "ticket_id", "timestamp", "opened"),
}

_EXAMPLES_PER_CHECK = 5


def table_from_filename(name: str) -> str | None:
    """Infer the table from a file name such as ``responses.csv`` or ``workers_2025.parquet``."""
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    for table in sorted(_CONTRACT, key=len, reverse=True):
        if stem == table or stem.startswith(table + "_") or stem.startswith(table + "-"):
            return table
    return None


#: File types :func:`read_table` reads.
SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".pq")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file as it is; giving values their types is :func:`validate`'s job.

    CSV values are read as text, so nothing is guessed before the contract coerces it.
    A CSV file must be UTF-8 (a byte-order mark is allowed) with a header line of
    distinct column names, and every row may have at most as many fields as the header.

    Raises
    ------
    ParameterError
        If the file does not exist, is not ``.csv``/``.parquet``, or cannot be read as
        a table: an empty file, bytes that are not UTF-8, a repeated column name in the
        header, a row with more fields than the header, a damaged Parquet file. The
        message names the file, the problem and, where it is known, the line.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ParameterError(f"{path}: no such file")
    if suffix not in SUFFIXES:
        raise ParameterError(
            f"{path}: expected a .csv or .parquet file, got {suffix or 'no suffix'!r}"
        )
    if suffix == ".csv":
        return _read_csv(path)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ParameterError(f"{path}: cannot be read as a Parquet file ({exc})") from None


def _read_csv(path: Path) -> pd.DataFrame:
    header = _csv_header(path)
    try:
        # index_col=False: pandas would otherwise turn a first row with one field too
        # many into an index column without a word; it warns instead, made an error here.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                path, dtype=str, keep_default_na=True, encoding="utf-8", index_col=False
            )
    except UnicodeDecodeError:
        raise ParameterError(_not_utf8(path)) from None
    except pd.errors.ParserError as exc:
        raise ParameterError(f"{path}: {_parser_problem(exc, header)}") from None
    except pd.errors.ParserWarning:
        raise ParameterError(f"{path}: {_long_row(path, header)}") from None


def _csv_header(path: Path) -> list[str]:
    """The header line as pandas will read it (blank lines skipped), checked for repeats.

    pandas renames a repeated name (``score``, ``score.1``) without a word, so the
    contract would read the first copy and carry the second along unseen.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            header = next((row for row in csv.reader(file) if row), None)
    except UnicodeDecodeError:
        raise ParameterError(_not_utf8(path)) from None
    except csv.Error as exc:
        raise ParameterError(f"{path}: the header line cannot be read as CSV ({exc})") from None
    if header is None:
        raise ParameterError(f"{path}: the file is empty (no header line)")
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        positions.setdefault(name, []).append(number)
    repeated = [
        f"{shown_name(name)} (columns {' and '.join(map(str, at))})"
        for name, at in positions.items()
        if len(at) > 1
    ]
    if repeated:
        raise ParameterError(
            f"{path}: the header names a column more than once: {'; '.join(repeated)}. "
            "Rename or drop the copies."
        )
    return header


def _not_utf8(path: Path) -> str:
    # Only on the error path: find the first line that does not decode. A newline byte
    # never occurs inside a multi-byte UTF-8 character, so splitting on it is safe.
    where = ""
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = f" line {number} (byte {exc.start + 1} of the line)"
                break
    return (
        f"{path}:{where} is not UTF-8 text; save the file as UTF-8 "
        "(it may have been written as Latin-1 or Windows-1252)."
    )


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _long_row(path: Path, header: list[str]) -> str:
    # Only on the error path: find the row pandas complained about, with its line.
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        for row in reader:
            if len(row) > len(header):
                return (
                    f"line {reader.line_num} has {len(row)} fields but the header has "
                    f"{len(header)} columns (quote values that contain the separator)."
                )
    return f"a row has more fields than the header's {len(header)} columns."


def _parser_problem(exc: Exception, header: list[str]) -> str:
    found = _FIELDS.search(str(exc))
    if found:
        _, line, saw = found.groups()
        return (
            f"line {line} has {saw} fields but the header has {len(header)} columns "
            "(quote values that contain the separator)."
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot be read as CSV: {first}"


def as_pandas(df: Any, *, table: str) -> pd.DataFrame:
    """Any data frame narwhals accepts, as a pandas DataFrame (the tables' boundary).

    pandas frames are returned as they are; eager Polars and PyArrow frames are
    converted, lazy ones (Polars, DuckDB, ...) collected first. The contract's checks
    then run on pandas, so every engine gets the same checks and the same messages.

    Raises
    ------
    InputTableError
        If ``df`` is not a data frame (a list, a Series, a path): the message names
        the table and the type.

    Examples
    --------
    >>> import polars as pl
    >>> from hxmetrics.tables import as_pandas
    >>> as_pandas(pl.DataFrame({"worker_id": ["w1"]}), table="workers")
      worker_id
    0        w1
    """
    if isinstance(df, pd.DataFrame):
        return df
    import narwhals as nw

    try:
        # eager_or_interchange_only would refuse lazy frames; they are collected here.
        frame = nw.from_native(df, allow_series=False)
    except TypeError:
        frame = None
    if not isinstance(frame, nw.DataFrame | nw.LazyFrame):
        raise InputTableError(
            f"table {table!r}: expected a pandas DataFrame, got {type(df).__name__}.",
            table=table,
            failure_cases=_no_cases(),
        )
    eager = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    out: pd.DataFrame = eager.to_pandas()
    if eager.implementation.is_polars():
        polars_categories_as_text(out, [c for c, d in eager.schema.items() if d == nw.Categorical])
    return out


def polars_categories_as_text(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Put the categories of Polars ``Categorical`` columns, now pandas, in text order.

    A Polars Categorical has no order of categories of its own (Polars sorts it as
    text), but Arrow hands it over with its categories in the order the values were
    first seen, which sorted groups would then follow: pandas' default categoricals
    are in text order, and so is what Polars gives here (an Enum keeps its declared
    order). Changes ``frame`` in place.
    """
    for column in columns:
        values = frame[column]
        frame[column] = values.cat.reorder_categories(sorted(values.cat.categories))


def validate(
    df: Any,
    *,
    table: str,
    parents: dict[str, Any] | None = None,
    instruments: Any = None,
) -> pd.DataFrame:
    """Check ``df`` against the contract for ``table`` and return it coerced.

    Parameters
    ----------
    df : pandas.DataFrame or any frame narwhals accepts
        The table to check, with one flat row of distinct column names. Extra
        columns are kept as they are. Polars, PyArrow and other frames narwhals
        accepts are converted to pandas first (lazy ones collected), see
        :func:`as_pandas`.
    table : str
        One of ``customers``, ``workers``, ``partners`` (rosters),
        ``responses``, ``events``, ``transactions``, ``tickets`` (exhaust) or
        ``ticket_events``, ``teams``, ``comments``, ``invitations`` (optional,
        :data:`OPTIONAL_TABLES`).
    parents : dict, optional
        The tables ``table`` refers to, by name, for the cross-table checks:
        ``{"tickets": tickets}`` for ``ticket_events`` (every ``ticket_id`` is a
        ticket's, check ``ticket_id_in_tickets``; no status before the ticket
        opened, check ``timestamp_not_before_tickets_opened``);
        ``{"invitations": invitations}`` for ``responses`` (every linked
        ``invitation_id`` is an invitation's, sent to the same person, before the
        answer: :func:`hxmetrics.measures.response_rates.check_invitations`). The
        parent is validated first (its errors name the parent table).
    instruments : InstrumentCatalogue, optional
        With ``table="responses"``: check every answer against its item in the
        catalogue (:func:`hxmetrics.instruments.check_responses`): an answer off its
        item's scale, a fraction on a whole-number scale, an item not in the
        catalogue, a role the item is not asked of; a warning names an item that
        looks scored the wrong way round.

    Notes
    -----
    ``teams`` is also checked across rows: two spells owning one touchpoint at
    overlapping times (:func:`hxmetrics.measures.ledger.check_teams`).

    Returns
    -------
    pandas.DataFrame
        A copy with every contract column coerced to its type; same rows, same order.
        Timestamps are naive ``datetime64[ns]``: values with a UTC offset are
        converted to UTC.

    Raises
    ------
    InputTableError
        Listing every failed check per column, with example values and row
        labels, a "did you mean" for a missing column, and ``.failure_cases``.
        Values of identifier columns (emails, phones, ids, names) are masked
        in both: the row label says where to look.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.tables import validate
    >>> workers = pd.DataFrame({"worker_id": ["w1"], "start": ["2024-01-01"],
    ...                         "end": [None], "engagement": ["fulltime"]})
    >>> validate(workers, table="workers")
    Traceback (most recent call last):
    ...
    hxmetrics.errors.InputTableError: table 'workers' failed 1 check(s) on 1 row(s):
      column 'engagement', check isin(...): 1 row(s), e.g. row 0: 'fulltime'
    """
    if not isinstance(table, str) or table not in _CONTRACT:
        hint = did_you_mean(table, _CONTRACT) if isinstance(table, str) else ""
        raise InputTableError(
            f"unknown table {table!r}; the contract has {', '.join(_CONTRACT)}." + hint,
            table=str(table),
            failure_cases=_no_cases(),
        )
    if instruments is not None and table != "responses":
        raise ParameterError(
            f"instruments= checks answers: it applies to table 'responses', not {table!r}."
        )
    checked_parents = _checked_parents(table, parents)
    df = as_pandas(df, table=table)
    _check_column_names(df, table)
    schema = _schemas()[table]
    from pandera.errors import SchemaErrors

    df, scalar_cases = _non_scalar_values(df, schema)
    df, date_cases = _parse_datetimes(df, schema)
    early = pd.concat([c for c in (scalar_cases, date_cases) if not c.empty] or [_no_cases()])
    try:
        with _without_pyspark_pandas_warning():
            coerced = schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = pd.concat(
            [early, _not_already_reported(_tidy_failures(exc.failure_cases), early)],
            ignore_index=True,
        )
    else:
        if not early.empty:
            _fail(table, early.reset_index(drop=True), df)
        # Cross-column rules run only once every column has its type, so a bad
        # date is reported as a bad date and not as a failed comparison.
        cases = _ordering_failures(coerced, _ORDERINGS.get(table, ()))
        rule = _REFERENCES.get(table)
        if rule is not None and rule.parent in checked_parents:
            found = rule.failures(coerced, checked_parents[rule.parent])
            cases = pd.concat([c for c in (cases, found) if not c.empty] or [_no_cases()])
            cases = cases.reset_index(drop=True)
        if cases.empty:
            _cross_checks(coerced, table, checked_parents, instruments)
            return coerced
    _fail(table, cases, df)


def validate_lazy(
    frame: Any, *, table: str, parents: dict[str, Any] | None = None, instruments: Any = None
) -> Any:
    """Check ``frame`` against the contract for ``table`` where its data live; return it coerced.

    The engine path of :func:`validate`: the same checks, written once with narwhals,
    run on the engine that holds the data (pandas, Polars, DuckDB, Spark). Every
    check's count comes back in one aggregate (a one-row table); only when a check
    fails are its first example rows fetched (five per check, with their 0-based
    position in the input as read). The table itself is never collected.

    Parameters
    ----------
    frame : pandas, Polars (lazy or eager), DuckDB relation or Spark DataFrame
        The table as read: CSV columns as text, Parquet columns typed.
    table : str
        A table of the contract, as in :func:`validate`.
    parents : dict, optional
        As in :func:`validate`, on the same engine: ``{"tickets": tickets}`` for
        ``ticket_events`` is checked on the engine (a join); ``{"invitations": ...}``
        for ``responses`` is pandas only (a :class:`~hxmetrics.errors.ParameterError`
        elsewhere, never skipped).
    instruments : InstrumentCatalogue, optional
        As in :func:`validate`, checked on the engine
        (:func:`hxmetrics.instruments.check_responses_lazy`): the same message;
        ``failure_cases`` holds the first five rows of each check.

    Returns
    -------
    frame of the same engine and kind (lazy stays lazy)
        The contract's columns coerced as :func:`validate` does: text, ``Int64``,
        ``Float64`` (NaN as missing) and naive UTC timestamps (Polars: ``ns``;
        DuckDB ``TIMESTAMP`` and Spark ``TIMESTAMP_NTZ``: microseconds); other
        columns as they are, in the same order. Lazy: the coercion runs when the
        result is.

    Raises
    ------
    InputTableError
        With the message :func:`validate` gives for the same data read into pandas
        (same checks, counts, example rows and masking). ``failure_cases`` holds the
        examples of each check (at most five; the message has the full counts).
        ``teams`` is also checked across rows on the engine, with the errors of
        :func:`hxmetrics.measures.ledger.check_teams`.
    ParameterError
        For what an engine cannot check: timestamps
        finer than a microsecond on DuckDB and Spark (their timestamps hold
        microseconds), numbers only Python reads, invitations as a parent.

    Notes
    -----
    "row N" is the 0-based position in the input as read: Polars
    ``with_row_index``, DuckDB ``row_number() OVER ()`` (DuckDB keeps insertion
    order), Spark ``monotonically_increasing_id`` plus the rows of the partitions
    before (partitions of a file follow the file); positions are computed only on
    the error path. Timestamps are the ISO 8601 text :func:`validate` reads; numbers
    are ASCII (``1_000`` and other scripts' digits, which Python reads, raise
    :class:`~hxmetrics.errors.ParameterError` rather than be read differently).

    Examples
    --------
    >>> import polars as pl
    >>> from hxmetrics.tables import validate_lazy
    >>> workers = pl.LazyFrame({"worker_id": ["w1"], "start": ["2024-01-01"],
    ...                         "end": [None], "engagement": ["gig"]})
    >>> validate_lazy(workers, table="workers").collect()["start"].dtype
    Datetime(time_unit='ns', time_zone=None)
    """
    from hxmetrics._engine_tables import validate_lazy as _validate_lazy

    return _validate_lazy(frame, table=table, parents=parents, instruments=instruments)


def _cross_checks(
    coerced: pd.DataFrame, table: str, parents: dict[str, pd.DataFrame], instruments: Any
) -> None:
    """The checks written beside the measures that rely on them (each raises its own
    :class:`~hxmetrics.errors.InputTableError`, naming the table and rows)."""
    if table == "teams":
        from hxmetrics.measures.ledger import check_teams

        check_teams(coerced)
    if table == "responses" and "invitations" in parents:
        from hxmetrics.measures.response_rates import check_invitations

        # Invitations name instruments: those of the catalogue when given, else
        # those answered in these responses.
        names = None if instruments is None else instruments.instruments
        check_invitations(parents["invitations"], coerced, instruments=names)
    if table == "responses" and instruments is not None:
        from hxmetrics.instruments import check_responses

        check_responses(coerced, instruments, table=table)


def _checked_parents(table: str, parents: dict[str, Any] | None) -> dict[str, pd.DataFrame]:
    """The parent tables of ``table`` given in ``parents``, validated."""
    if parents is None:
        return {}
    rule = _REFERENCES.get(table)
    allowed = [] if rule is None else [rule.parent]
    if table == "responses":
        allowed = ["invitations"]
    if not isinstance(parents, dict):
        raise ParameterError(
            f"parents must be a dict of tables by name (e.g. {{'tickets': tickets}}); "
            f"got {type(parents).__name__}."
        )
    unknown = [name for name in parents if name not in allowed]
    if unknown:
        refers = f"refers to {allowed[0]!r}" if allowed else "refers to no other table"
        raise ParameterError(
            f"validate(table={table!r}): {table!r} {refers}; parents names {unknown}."
            + did_you_mean(str(unknown[0]), allowed)
        )
    return {name: validate(frame, table=name) for name, frame in parents.items()}


_CASE_COLUMNS = ["column", "check", "failure_case", "index"]


def _no_cases() -> pd.DataFrame:
    return pd.DataFrame(columns=_CASE_COLUMNS)


def _cases(column: str, check: str, raw: pd.Series, bad: np.ndarray) -> pd.DataFrame:
    """Failure rows for the positions ``bad`` of ``raw`` (positional, so repeated labels work)."""
    return pd.DataFrame(
        {
            "column": column,
            "check": check,
            # object: Timestamps beyond datetime64[ns] must not be cast back to it.
            "failure_case": pd.Series(
                raw.iloc[np.flatnonzero(bad)].to_numpy(dtype=object), dtype=object
            ),
            "index": raw.index[bad],
        }
    )


def _fail(
    table: str,
    cases: pd.DataFrame,
    df: pd.DataFrame,
    *,
    counts: dict[tuple[str, str], int] | None = None,
    n_rows: int | None = None,
) -> NoReturn:
    """Raise the contract's error for ``cases`` (``counts``/``n_rows``: see :func:`_message`)."""
    cases = _masked(cases, df.index)
    message = _message(table, cases, df, counts=counts, n_rows=n_rows)
    raise InputTableError(message, table=table, failure_cases=cases)


def _check_column_names(df: pd.DataFrame, table: str) -> None:
    """Refuse column layouts pandas allows but the contract cannot read unambiguously."""
    if isinstance(df.columns, pd.MultiIndex):
        raise InputTableError(
            f"table {table!r}: the columns are a MultiIndex with {df.columns.nlevels} levels; "
            "the contract needs one flat row of column names (join the levels first, e.g. "
            "df.columns = ['_'.join(map(str, c)) for c in df.columns]).",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": ["<table>"],
                    "check": ["flat_columns"],
                    "failure_case": [f"MultiIndex with {df.columns.nlevels} levels"],
                    "index": [None],
                }
            ),
        )
    counts = df.columns.value_counts(sort=False)
    repeated = counts[counts > 1]
    if len(repeated):
        # Which copy would pandera check? Neither answer is safe: refuse.
        names = [f"{shown_name(name)} appears {n} times" for name, n in repeated.items()]
        raise InputTableError(
            f"table {table!r}: column names must be unique; {'; '.join(names)}. "
            "Rename or drop the copies.",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": [str(name) for name in repeated.index],
                    "check": "unique_column_names",
                    "failure_case": [f"{n} times" for n in repeated],
                    "index": [None] * len(repeated),
                }
            ),
        )


# The kinds of value `infer_dtype` names for object columns that hold only scalars:
# those columns skip the per-value look below.
_SCALAR_KINDS = frozenset(
    {
        "string",
        "empty",
        "integer",
        "floating",
        "mixed-integer-float",
        "boolean",
        "decimal",
        "datetime",
        "datetime64",
        "date",
        "time",
        "timedelta",
        "timedelta64",
    }
)


def _is_non_scalar(value: object) -> bool:
    # Bytes are scalars to pandas, but their text depends on an unknown encoding.
    return isinstance(value, (bytes, bytearray)) or not pd.api.types.is_scalar(value)


def _non_scalar_values(
    df: pd.DataFrame, schema: pa.DataFrameSchema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Report lists, dicts, sets, tuples and bytes in contract columns.

    Coercing them to text would store their repr (``"['a']"``) as an id or a
    category. They are blanked in the returned copy so the checks that follow see
    a missing value (reported once, as this failure) instead of raising.
    """
    out = df
    parts = []
    for name in schema.columns:
        if name not in df.columns or df[name].dtype != object:
            continue
        raw = df[name]
        if pd.api.types.infer_dtype(raw, skipna=True) in _SCALAR_KINDS:
            continue
        # Only object columns that mix kinds of value reach this per-value look.
        bad = raw.map(_is_non_scalar).to_numpy(dtype=bool)
        if not bad.any():
            continue
        parts.append(_cases(name, "scalar_value", raw, bad))
        if out is df:
            out = df.copy()
        out[name] = raw.where(~bad, None)
    return out, pd.concat(parts, ignore_index=True) if parts else _no_cases()


# The contract's timestamp text: ISO 8601 date, optional time after a space or "T",
# optional UTC offset. Month-first, day-first and compact forms are refused, not guessed.
_ISO_TIMESTAMP = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# Given a match of the pattern above, an offset is a "Z", "+" or "-" after the time.
_HAS_OFFSET = r"[T ]\d{2}:[^Z+-]*[Z+-]"
# datetime64[ns] holds these instants and nothing outside them.
_EARLIEST, _LATEST = pd.Timestamp.min, pd.Timestamp.max
_NAT = np.datetime64("NaT", "ns")

_COERCE_DATETIME = "coerce_dtype('datetime64[ns]')"
_IN_BOUNDS = "datetime_in_bounds"
_MIXED_ZONES = "naive_and_aware_mixed"


def _parse_datetimes(
    df: pd.DataFrame, schema: pa.DataFrameSchema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every timestamp column naive UTC ``datetime64[ns]`` values, reporting what fails.

    Text must be ISO 8601 (:data:`_ISO_TIMESTAMP`); each value may use its own variant.
    A value with a UTC offset (``+05:00``, ``Z``) is converted to UTC; a column that
    mixes values with and without an offset is refused, since the naive ones cannot be
    placed in time. Values outside the range of ``datetime64[ns]`` are refused.
    Failing values become NaT in the returned copy and are reported, never dropped.
    """
    out = df
    parts: list[pd.DataFrame] = []
    for name, column in schema.columns.items():
        if name not in df.columns or str(column.dtype) != "datetime64[ns]":
            continue
        raw = df[name]
        if raw.dtype == "datetime64[ns]":
            continue
        values, failures = _timestamps(raw)
        parts.extend(_cases(name, check, raw, bad) for check, bad in failures.items() if bad.any())
        if out is df:
            out = df.copy()
        out[name] = pd.Series(values, index=raw.index, name=name)
    return out, pd.concat(parts, ignore_index=True) if parts else _no_cases()


def _timestamps(raw: pd.Series) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Naive UTC ``datetime64[ns]`` values of ``raw`` and a mask of rows per failed check."""
    n = len(raw)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        typed = raw
        if isinstance(raw.dtype, pd.DatetimeTZDtype):
            typed = raw.dt.tz_convert("UTC").dt.tz_localize(None)
        values, outside = _in_ns(pd.DatetimeIndex(typed))
        return values, {_IN_BOUNDS: outside}
    if isinstance(raw.dtype, pd.CategoricalDtype):
        raw = raw.astype(object)
    present = raw.notna().to_numpy(copy=True)
    text = present.copy()
    naive_obj = np.zeros(n, dtype=bool)
    aware_obj = np.zeros(n, dtype=bool)
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) != "string":
        # Only object columns that mix kinds of value reach this per-value look.
        kind = raw.map(_timestamp_kind).to_numpy()
        text &= kind == "text"
        naive_obj = present & (kind == "naive")
        aware_obj = present & (kind == "aware")
    elif not (pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object):
        text[:] = False  # numbers or booleans: not a timestamp in the contract's terms

    values = np.full(n, _NAT)
    unreadable = present & ~(text | naive_obj | aware_obj)
    outside = np.zeros(n, dtype=bool)
    aware = aware_obj.copy()
    if text.any():
        rows = np.flatnonzero(text)
        parsed, ok, has_offset, too_far = _parse_iso(raw if len(rows) == n else raw.iloc[rows])
        values[rows] = parsed
        unreadable[rows] = ~ok
        aware[rows] = has_offset
        outside[rows] = too_far
    for rows, utc in ((naive_obj, False), (aware_obj, True)):
        if rows.any():
            stamps = pd.to_datetime(raw[rows].to_numpy(dtype=object), utc=utc, errors="coerce")
            if utc:
                stamps = stamps.tz_localize(None)
            values[rows], outside[rows] = _in_ns(stamps)
            unreadable[rows] = stamps.isna()
    naive = present & ~aware & ~unreadable
    aware &= ~unreadable
    mixed = np.zeros(n, dtype=bool)
    if naive.any() and aware.any():
        # Name the fewer kind: they are the likely mistakes.
        mixed = aware if aware.sum() <= naive.sum() else naive
        values[mixed] = _NAT
    return values, {_COERCE_DATETIME: unreadable, _IN_BOUNDS: outside & ~mixed, _MIXED_ZONES: mixed}


def _timestamp_kind(value: object) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, (dt.datetime, dt.date, np.datetime64)):
        return "aware" if getattr(value, "tzinfo", None) is not None else "naive"
    return "other"


def _parse_iso(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse timestamp texts: values (ns, UTC), readable, has an offset, out of range.

    The common case (clean text, one kind of offset or none) costs one pattern match
    and one parse of the column, both vectorised; the rest only touches what needs it.
    """
    n = len(text)
    ok = _iso(text)
    if not ok.all():
        # Surrounding blanks are harmless, but pandas reads "2024-01-01 " as NaT.
        retry = np.flatnonzero(~ok)
        stripped = text.iloc[retry].str.strip()
        again = _iso(stripped)
        if again.any():
            text = text.copy()
            text.iloc[retry[again]] = stripped.iloc[np.flatnonzero(again)]
            ok[retry[again]] = True
    values = np.full(n, _NAT)
    outside = np.zeros(n, dtype=bool)
    has_offset = np.zeros(n, dtype=bool)
    good = np.flatnonzero(ok)
    if not len(good):
        return values, ok, has_offset, outside
    checked = text if len(good) == n else text.iloc[good]
    # The pattern has been checked: errors="coerce" only catches impossible dates such
    # as 2024-02-30, reported as unreadable below.
    try:
        parts = [(good, pd.to_datetime(checked, format="ISO8601", errors="coerce"))]
    except ValueError:
        # Different offsets, or values with and without one: split them.
        offset = checked.str.contains(_HAS_OFFSET).to_numpy(dtype=bool, na_value=False)
        parts = [
            (good[~offset], pd.to_datetime(checked[~offset], format="ISO8601", errors="coerce")),
            (
                good[offset],
                pd.to_datetime(checked[offset], format="ISO8601", utc=True, errors="coerce"),
            ),
        ]
    for rows, stamps in parts:
        index = pd.DatetimeIndex(stamps)
        if index.tz is not None:
            has_offset[rows] = True
            index = index.tz_convert("UTC").tz_localize(None)
        values[rows], outside[rows] = _in_ns(index)
        ok[rows] &= ~np.asarray(index.isna(), dtype=bool)
    return values, ok, has_offset, outside


def _iso(text: pd.Series) -> np.ndarray:
    matched = text.str.fullmatch(_ISO_TIMESTAMP).to_numpy(dtype=bool, na_value=False)
    return np.array(matched, dtype=bool)


def _in_ns(stamps: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """``stamps`` as ``datetime64[ns]`` (NaT where it cannot hold them) and where that is."""
    outside = np.asarray((stamps < _EARLIEST) | (stamps > _LATEST), dtype=bool)
    values = np.array(stamps.to_numpy())
    # Blank them before the cast: numpy would wrap them around silently.
    values[outside] = np.datetime64("NaT")
    return values.astype("datetime64[ns]"), outside


def _not_already_reported(cases: pd.DataFrame, early: pd.DataFrame) -> pd.DataFrame:
    """Drop pandera's "missing value" for cells blanked because they were already reported."""
    if early.empty or cases.empty:
        return cases
    seen = pd.MultiIndex.from_arrays([early["column"], early["index"]])
    cell = pd.MultiIndex.from_arrays([cases["column"], cases["index"]])
    again = cell.isin(seen) & (cases["check"] == "not_nullable").to_numpy()
    return cases.loc[~again].reset_index(drop=True)


def _ordering_failures(df: pd.DataFrame, rules: tuple[_Ordering, ...]) -> pd.DataFrame:
    parts = []
    for rule in rules:
        bad = rule.failing(df)
        if bad.any():
            rows = df.loc[bad, [rule.earlier, rule.later]]
            parts.append(
                pd.DataFrame(
                    {
                        "column": rule.later,
                        "check": rule.name,
                        "failure_case": [
                            f"{rule.later}={b} < {rule.earlier}={a}"
                            for a, b in zip(rows[rule.earlier], rows[rule.later], strict=True)
                        ],
                        "index": rows.index,
                    }
                )
            )
    if not parts:
        return _no_cases()
    return pd.concat(parts, ignore_index=True)


def _tidy_failures(raw: pd.DataFrame) -> pd.DataFrame:
    cases = raw.copy()
    cases["column"] = cases["column"].where(cases["column"].notna(), "<table>")
    cases["check"] = cases["check"].astype(str)
    # A value that cannot be coerced also fails the dtype check, and value checks
    # on that column raise instead of failing: report it once, as the coercion.
    is_coerce = cases["check"].str.startswith("coerce_dtype")
    uncoercible = cases["column"].isin(set(cases.loc[is_coerce, "column"]))
    redundant = uncoercible & ~is_coerce
    redundant &= cases["check"].str.startswith("dtype(") | cases["index"].isna()
    return cases.loc[~redundant, _CASE_COLUMNS].reset_index(drop=True)


# Identifiers, and free text that may carry them: their values are never shown.
_MASKED_COLUMNS = IDENTIFIER_COLUMNS | {"text", "description"}


def _mask_marker(column: object) -> str:
    return f"<{column}, masked>"


def _masked(cases: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """``cases`` with identifying values replaced by ``<column, masked>``.

    Exceptions get logged, so ``failure_cases`` is masked too, not only the message.
    Missing values stay as they are: "missing" identifies no one and is the finding.
    Row labels that identify someone (an index of emails) become the row's position,
    ``#3`` (or ``<index, masked>`` when labels repeat and the position is unknown).
    """
    if cases.empty:
        return cases
    cases = cases.copy()
    value = cases["failure_case"]
    present = value.notna().to_numpy()
    hide = present & cases["column"].isin(_MASKED_COLUMNS).to_numpy()
    others = present & ~hide
    if others.any():
        hide[others] = looks_personal(value[others].astype(str)).to_numpy()
    if hide.any():
        cases["failure_case"] = cases["failure_case"].astype(object)
        cases.loc[hide, "failure_case"] = cases.loc[hide, "column"].map(_mask_marker)
    labels = cases["index"]
    has_label = labels.notna().to_numpy()
    personal_index = any(str(name) in IDENTIFIER_COLUMNS for name in index.names) or bool(
        has_label.any() and looks_personal(labels[has_label].astype(str)).any()
    )
    if personal_index:
        shown = pd.Series("<index, masked>", index=cases.index, dtype=object)
        if index.is_unique:
            at = index.get_indexer(pd.Index(labels[has_label]))
            found = pd.Series(at, dtype="int64").astype(str)
            shown[has_label] = np.where(at >= 0, "#" + found, "<index, masked>")
        cases["index"] = shown.where(has_label, None)
    return cases


def _describe_check(check: Any) -> str:
    text = str(check)
    # pandera spells value sets out in full; keep messages short.
    if text.startswith("isin(") and len(text) > 60:
        return "isin(...)"
    return text


# What to do about a failed check, where the check's name does not say it.
_HINTS = {
    _COERCE_DATETIME: (
        "timestamps are ISO 8601 text: YYYY-MM-DD, optionally followed by HH:MM[:SS[.fff]] "
        "after a space or 'T' and a UTC offset (+01:00 or Z)"
    ),
    _IN_BOUNDS: "datetime64[ns] holds 1677-09-21 to 2262-04-11",
    _MIXED_ZONES: (
        "some values carry a UTC offset and others do not, so the naive ones cannot be "
        "placed in time: give every value an offset, or none"
    ),
    "scalar_value": "a list, set, dict, tuple or bytes value is not text or a number",
    "ticket_id_in_tickets": "every status change belongs to a ticket of the tickets table",
    "timestamp_not_before_tickets_opened": "a ticket's status cannot change before it opened",
}


def _message(
    table: str,
    cases: pd.DataFrame,
    df: pd.DataFrame,
    *,
    counts: dict[tuple[str, str], int] | None = None,
    n_rows: int | None = None,
) -> str:
    """The error's text. ``cases`` holds every failure, or (on an engine, see
    :func:`validate_lazy`) only the first examples of each check: then ``counts``
    gives each (column, check)'s number of failing rows and ``n_rows`` the number of
    rows failing any check."""
    if n_rows is None:
        n_rows = cases["index"].dropna().nunique()
    n_checks = cases.groupby(["column", "check"], sort=False).ngroups
    rows = f" on {n_rows} row(s)" if n_rows else ""
    lines = [f"table {table!r} failed {n_checks} check(s){rows}:"]
    # A headerless file makes its first row the header: never suggest such a name.
    names = [str(c) for c in df.columns]
    names = [
        c
        for c, personal in zip(names, looks_personal(pd.Series(names, dtype=object)), strict=True)
        if not personal
    ]
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        label = _describe_check(check)
        if check == "column_in_dataframe":
            missing = str(group["failure_case"].iloc[0])
            hint = did_you_mean(missing, names)
            lines.append(f"  missing required column {missing!r}.{hint}")
            continue
        marker = _mask_marker(column)
        examples = []
        for _, row in group.head(_EXAMPLES_PER_CHECK).iterrows():
            where = "" if pd.isna(row["index"]) else f"row {row['index']}: "
            value = row["failure_case"]
            shown = value if isinstance(value, str) and value == marker else repr(value)
            examples.append(f"{where}{shown}")
        count = len(group) if counts is None else counts[(str(column), str(check))]
        where_col = "table-wide" if column == "<table>" else f"column {column!r}"
        hint = f" ({_HINTS[check]})" if check in _HINTS else ""
        lines.append(
            f"  {where_col}, check {label}: {count} row(s), e.g. " + "; ".join(examples) + hint
        )
    return "\n".join(lines)
