"""Engine fixtures for the measures: the same pandas table on every dataframe engine.

``engine`` is parametrised over pandas, Polars (eager and lazy), DuckDB and PyArrow;
Spark (local mode) has its own session-scoped ``spark`` fixture (``tests/conftest.py``),
used by a handful of tests only (its JVM takes seconds to start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

ENGINES = ("pandas", "polars", "polars_lazy", "duckdb", "pyarrow")

# pyspark warns, on every conversion, that it does not fully support pandas 3 yet.
# It is pyspark's notice about itself, not a defect of ours; filtered by its message.
SPARK_PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"

Convert = Callable[[pd.DataFrame], Any]


def to_engine(df: pd.DataFrame, engine: str) -> Any:
    """The pandas frame ``df`` as a native frame of ``engine``."""
    if engine == "pandas":
        return df
    if engine in ("polars", "polars_lazy"):
        import polars as pl

        frame = pl.from_pandas(df)
        return frame.lazy() if engine == "polars_lazy" else frame
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if engine == "pyarrow":
        return table
    if engine == "duckdb":
        import duckdb

        # A connection per frame: tests stay independent (the relation keeps it alive).
        return duckdb.connect().from_arrow(table)
    raise ValueError(engine)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Convert:
    """A function turning a pandas frame into a frame of one engine."""
    name = request.param
    pytest.importorskip("polars" if name.startswith("polars") else name)

    def convert(df: pd.DataFrame) -> Any:
        return to_engine(df, name)

    # A label on the converter, read by the tests to name the engine; functions take
    # attributes at run time, which mypy cannot see.
    convert.engine = name  # type: ignore[attr-defined]
    return convert
