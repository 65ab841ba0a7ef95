"""The data-exhaust contract: one pandera schema per roster and exhaust table.

Rosters are what each silo keeps about its people (one row per relationship
episode); exhaust tables are what people leave behind (survey answers,
interactions, purchases, feedback tickets). Every exhaust row names the silo it
came from and that silo's own id for the person (``silo``, ``source_id``): the
stakeholder model turns those into persons.

``validate(df, table=...)`` returns the coerced frame or raises
:class:`~hxmetrics.errors.InputTableError` listing every failed check.
Nothing is dropped: a value that cannot be coerced is a failure, not a NaN.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, did_you_mean


@contextmanager
def _without_pyspark_pandas_warning() -> Iterator[None]:
    # With pyspark installed, pandera imports pyspark.pandas (on import and when it
    # registers its backends at the first validation), which warns that it does not
    # support pandas 3. hxmetrics never uses pyspark.pandas; silence that one warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


with _without_pyspark_pandas_warning():
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

__all__ = [
    "ENGAGEMENTS",
    "EXHAUST",
    "ROLE_OF_SILO",
    "ROSTERS",
    "SCHEMAS",
    "SILOS",
    "TABLES",
    "read_table",
    "table_from_filename",
    "validate",
]

#: The silos and the role each one records.
ROLE_OF_SILO: dict[str, str] = {
    "customers": "customer",
    "workers": "worker",
    "partners": "partner",
}
SILOS: tuple[str, ...] = tuple(ROLE_OF_SILO)

#: Engagement kinds allowed per role.
ENGAGEMENTS: dict[str, tuple[str, ...]] = {
    "customer": ("consumer", "business"),
    "worker": ("full_time", "part_time", "contract", "freelance", "gig", "intern"),
    "partner": ("supplier", "reseller", "driver", "host"),
}

_STR = pa.String
_FINITE = pa.Check(lambda s: np.isfinite(s), name="finite")
_TS = pa.DateTime
_SEVERITIES = ("low", "medium", "high", "critical")


def _id(name: str) -> pa.Column:
    return pa.Column(_STR, nullable=False, coerce=True, title=name)


def _roster(role: str, id_column: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            id_column: _id(id_column),
            "email": pa.Column(_STR, nullable=True, required=False, coerce=True),
            "phone": pa.Column(_STR, nullable=True, required=False, coerce=True),
            "birth_year": pa.Column(
                "Int64",
                pa.Check.in_range(1900, 2100),
                nullable=True,
                required=False,
                coerce=True,
            ),
            "start": pa.Column(_TS, nullable=False, coerce=True),
            "end": pa.Column(_TS, nullable=True, coerce=True),
            "engagement": pa.Column(_STR, pa.Check.isin(ENGAGEMENTS[role]), coerce=True),
        },
        unique=[id_column, "start"],
        name=f"{role}s",
        strict=False,
    )


def _exhaust_keys() -> dict[str, pa.Column]:
    return {
        "silo": pa.Column(_STR, pa.Check.isin(SILOS), coerce=True),
        "source_id": _id("source_id"),
    }


def _responses() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "response_id": _id("response_id"),
            **_exhaust_keys(),
            "instrument": pa.Column(_STR, coerce=True),
            "item": pa.Column(_STR, coerce=True),
            "score": pa.Column(float, _FINITE, coerce=True),
            "timestamp": pa.Column(_TS, coerce=True),
            "weight": pa.Column(
                float, pa.Check.greater_than(0), nullable=False, required=False, coerce=True
            ),
            "touchpoint": pa.Column(_STR, nullable=True, required=False, coerce=True),
        },
        unique=["response_id", "item"],
        name="responses",
    )


def _events() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "event_id": _id("event_id"),
            **_exhaust_keys(),
            "timestamp": pa.Column(_TS, coerce=True),
            "event_type": pa.Column(_STR, coerce=True),
            "touchpoint": pa.Column(_STR, nullable=True, required=False, coerce=True),
        },
        unique=["event_id"],
        name="events",
    )


def _transactions() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "transaction_id": _id("transaction_id"),
            **_exhaust_keys(),
            "timestamp": pa.Column(_TS, coerce=True),
            "amount": pa.Column(float, _FINITE, coerce=True),
        },
        unique=["transaction_id"],
        name="transactions",
    )


def _tickets() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "ticket_id": _id("ticket_id"),
            **_exhaust_keys(),
            "opened": pa.Column(_TS, coerce=True),
            "first_response": pa.Column(_TS, nullable=True, coerce=True),
            "closed": pa.Column(_TS, nullable=True, coerce=True),
            "reopened": pa.Column("Int64", pa.Check.ge(0), coerce=True),
            "severity": pa.Column(_STR, pa.Check.isin(_SEVERITIES), coerce=True),
            "touchpoint": pa.Column(_STR, coerce=True),
            "team": pa.Column(_STR, coerce=True),
        },
        unique=["ticket_id"],
        name="tickets",
    )


#: Rosters: the silo tables companies already have, one row per episode.
ROSTERS: dict[str, pa.DataFrameSchema] = {
    "customers": _roster("customer", "customer_id"),
    "workers": _roster("worker", "worker_id"),
    "partners": _roster("partner", "partner_id"),
}
#: Exhaust tables: what people leave behind.
EXHAUST: dict[str, pa.DataFrameSchema] = {
    "responses": _responses(),
    "events": _events(),
    "transactions": _transactions(),
    "tickets": _tickets(),
}
SCHEMAS: dict[str, pa.DataFrameSchema] = {**ROSTERS, **EXHAUST}
TABLES: tuple[str, ...] = tuple(SCHEMAS)

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
    **{silo: (_Ordering("start", "end"),) for silo in ROSTERS},
    "tickets": (_Ordering("opened", "first_response"), _Ordering("opened", "closed")),
}

_EXAMPLES_PER_CHECK = 5


def table_from_filename(name: str) -> str | None:
    """Infer the table from a file name such as ``responses.csv`` or ``workers_2025.parquet``."""
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    for table in sorted(TABLES, key=len, reverse=True):
        if stem == table or stem.startswith(table + "_") or stem.startswith(table + "-"):
            return table
    return None


#: File types :func:`read_table` reads.
SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".pq")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file as it is; giving values their types is :func:`validate`'s job.

    CSV values are read as text, so nothing is guessed before the contract coerces it.

    Raises
    ------
    ParameterError
        If the file does not exist or is not ``.csv``/``.parquet``.
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
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    return pd.read_parquet(path)


def validate(df: pd.DataFrame, *, table: str) -> pd.DataFrame:
    """Check ``df`` against the contract for ``table`` and return it coerced.

    Parameters
    ----------
    df : pandas.DataFrame
        The table to check. Extra columns are kept as they are.
    table : str
        One of ``customers``, ``workers``, ``partners`` (rosters) or
        ``responses``, ``events``, ``transactions``, ``tickets`` (exhaust).

    Returns
    -------
    pandas.DataFrame
        A copy with every contract column coerced to its type; same rows, same order.

    Raises
    ------
    InputTableError
        Listing every failed check per column, with example values and row
        labels, a "did you mean" for a missing column, and ``.failure_cases``.

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
    if table not in SCHEMAS:
        raise InputTableError(
            f"unknown table {table!r}; the contract has {', '.join(TABLES)}."
            + did_you_mean(table, TABLES),
            table=table,
            failure_cases=pd.DataFrame(columns=_CASE_COLUMNS),
        )
    if not isinstance(df, pd.DataFrame):
        raise InputTableError(
            f"table {table!r}: expected a pandas DataFrame, got {type(df).__name__}.",
            table=table,
            failure_cases=pd.DataFrame(columns=_CASE_COLUMNS),
        )
    schema = SCHEMAS[table]
    df, date_cases = _parse_datetimes(df, schema)
    try:
        with _without_pyspark_pandas_warning():
            coerced = schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = pd.concat([date_cases, _tidy_failures(exc.failure_cases)], ignore_index=True)
    else:
        if not date_cases.empty:
            cases = date_cases
            raise InputTableError(_message(table, cases, df), table=table, failure_cases=cases)
        # Cross-column rules run only once every column has its type, so a bad
        # date is reported as a bad date and not as a failed comparison.
        cases = _ordering_failures(coerced, _ORDERINGS.get(table, ()))
        if cases.empty:
            return coerced
    raise InputTableError(_message(table, cases, df), table=table, failure_cases=cases)


_CASE_COLUMNS = ["column", "check", "failure_case", "index"]


def _parse_datetimes(
    df: pd.DataFrame, schema: pa.DataFrameSchema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse text timestamps in any ISO-like format, row by row.

    pandas infers one format from the first value, so "2024-01-01" followed by
    "2024-01-01 10:00" would fail; ``format="mixed"`` parses each value on its own.
    Values that do not parse are reported (never turned into NaT silently).
    """
    out = df
    parts = []
    for name, column in schema.columns.items():
        if name not in df.columns or str(column.dtype) != "datetime64[ns]":
            continue
        raw = df[name]
        if pd.api.types.is_datetime64_any_dtype(raw):
            continue
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
        bad = parsed.isna() & raw.notna()
        if bad.any():
            parts.append(
                pd.DataFrame(
                    {
                        "column": name,
                        "check": "coerce_dtype('datetime64[ns]')",
                        "failure_case": raw[bad].to_numpy(),
                        "index": raw.index[bad],
                    }
                )
            )
            parsed = parsed.where(~bad)
        if out is df:
            out = df.copy()
        out[name] = parsed.astype("datetime64[ns]")
    cases = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_CASE_COLUMNS)
    return out, cases


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
        return pd.DataFrame(columns=_CASE_COLUMNS)
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


def _describe_check(check: Any) -> str:
    text = str(check)
    # pandera spells value sets out in full; keep messages short.
    if text.startswith("isin(") and len(text) > 60:
        return "isin(...)"
    return text


def _message(table: str, cases: pd.DataFrame, df: pd.DataFrame) -> str:
    n_rows = cases["index"].dropna().nunique()
    n_checks = cases.groupby(["column", "check"], sort=False).ngroups
    rows = f" on {n_rows} row(s)" if n_rows else ""
    lines = [f"table {table!r} failed {n_checks} check(s){rows}:"]
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        label = _describe_check(check)
        if check == "column_in_dataframe":
            missing = str(group["failure_case"].iloc[0])
            hint = did_you_mean(missing, [str(c) for c in df.columns])
            lines.append(f"  missing required column {missing!r}.{hint}")
            continue
        examples = []
        for _, row in group.head(_EXAMPLES_PER_CHECK).iterrows():
            where = "" if pd.isna(row["index"]) else f"row {row['index']}: "
            examples.append(f"{where}{row['failure_case']!r}")
        count = len(group)
        where_col = "table-wide" if column == "<table>" else f"column {column!r}"
        lines.append(f"  {where_col}, check {label}: {count} row(s), e.g. " + "; ".join(examples))
    return "\n".join(lines)
