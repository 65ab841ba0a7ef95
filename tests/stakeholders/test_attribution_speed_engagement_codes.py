"""The Polars plan of ``attribute_lazy`` groups the segments by integer engagement codes.

The Polars plan replaces each episode's engagement by its dense rank in the text's
order before the segments' group-by (integers hash and compare cheaper than text) and
reads the text back from a table of the engagements. These tests pin that the text
comes back as it went in: engagements whose text order differs from their order of
appearance, merged ones (``a+b``), one missing (the resolution is the caller's: a
missing engagement is carried as missing), against the values written out and against
DuckDB, whose plan groups the text itself.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd
import polars as pl

from hxmetrics.stakeholders._engine_attribution import attribute_lazy


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day)


EPISODES = pl.DataFrame(
    {
        "person_id": ["P1", "P1", "P1", "P2", "P2", "P3", "P3"],
        "role": ["worker", "worker", "customer", "partner", "worker", "worker", "customer"],
        "engagement": [
            "zz_gig",
            None,
            "consumer+business",
            "agency",
            "full_time",
            "a_first",
            "consumer+business",  # twice: one code for both episodes
        ],
        "start": [
            _ts("2020-01-01"),
            _ts("2020-06-01"),
            _ts("2020-03-01"),
            _ts("2019-01-01"),
            _ts("2020-02-01"),
            _ts("2018-01-01"),
            _ts("2017-01-01"),
        ],
        "end": [
            _ts("2020-06-01"),
            _ts("2021-01-01"),
            None,
            _ts("2020-01-01"),
            None,
            _ts("2019-01-01"),
            _ts("2018-01-01"),
        ],
    }
)
CROSSWALK = pl.DataFrame(
    {
        "silo": ["customers", "workers", "workers", "partners", "workers", "customers"],
        "source_id": ["c1", "w1", "w2", "p2", "w3", "c3"],
        "person_id": ["P1", "P1", "P2", "P2", "P3", "P3"],
    }
)
EVENTS = pl.DataFrame(
    {
        "silo": ["workers"] * 4 + ["customers", "partners"] + ["workers"] * 3 + ["customers"],
        "source_id": ["w1", "w1", "w1", "w1", "c1", "p2", "w2", "w2", "w3", "c3"],
        "timestamp": [
            _ts(d)
            for d in (
                "2019-12-31",  # before any episode of P1
                "2020-02-01",  # zz_gig only
                "2020-04-01",  # zz_gig and consumer+business
                "2020-07-01",  # the worker episode without an engagement, a customer
                "2021-02-01",  # a customer only
                "2019-06-01",  # agency
                "2020-01-15",  # between P2's episodes
                "2020-03-01",  # full_time
                "2018-06-01",  # a_first
                "2017-06-01",  # P3's consumer+business
            )
        ],
    }
)
ADDED = [
    "is_customer",
    "is_worker",
    "is_partner",
    "customer_engagement",
    "worker_engagement",
    "partner_engagement",
    "attribution",
]


def _polars() -> pl.DataFrame:
    resolution = SimpleNamespace(crosswalk=CROSSWALK.lazy(), episodes=EPISODES.lazy())
    out: pl.DataFrame = attribute_lazy(EVENTS.lazy(), resolution).collect()
    return out


def _duckdb() -> pl.DataFrame:
    con = duckdb.connect()
    resolution = SimpleNamespace(
        crosswalk=con.from_arrow(CROSSWALK.to_arrow()),
        episodes=con.from_arrow(EPISODES.to_arrow()),
    )
    out: pl.DataFrame = attribute_lazy(con.from_arrow(EVENTS.to_arrow()), resolution).pl()
    con.close()
    return out


def _rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return frame.select(ADDED).rows()


def test_engagements_come_back_as_their_text() -> None:
    assert _rows(_polars()) == [
        (False, False, False, None, None, None, "outside_episodes"),
        (False, True, False, None, "zz_gig", None, "ok"),
        (True, True, False, "consumer+business", "zz_gig", None, "ok"),
        (True, True, False, "consumer+business", None, None, "ok"),
        (True, False, False, "consumer+business", None, None, "ok"),
        (False, False, True, None, None, "agency", "ok"),
        (False, False, False, None, None, None, "outside_episodes"),
        (False, True, False, None, "full_time", None, "ok"),
        (False, True, False, None, "a_first", None, "ok"),
        (True, False, False, "consumer+business", None, None, "ok"),
    ]


def test_polars_equals_duckdb_on_engagements() -> None:
    got, want = _polars(), _duckdb()
    assert got.columns == want.columns
    assert got.rows() == want.rows()
