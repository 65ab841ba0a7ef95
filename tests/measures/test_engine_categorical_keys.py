"""Categorical group keys give the same rows, in the same order, on every engine.

Found (session 11): a Polars ``Categorical`` group column came back with its categories
in the order the values were first seen (Arrow's dictionary), so the groups of
``nps(..., by="segment")`` on Polars were ``y, x`` where pandas gave ``x, y``: a
different row order, and a different dtype, for the same data. A Polars Categorical has
no category order of its own (Polars sorts it as text), so its groups now come in text
order, as pandas' default categoricals do; an ``Enum`` keeps its declared order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.measures import csat, mean_score, nps

pl = pytest.importorskip("polars", reason="Polars is a test extra (CI installs it)")
duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (CI installs it)")

MEASURES = {
    "nps": lambda f, by: nps(f, score="score", by=by, min_n=1),
    "csat": lambda f, by: csat(f, score="score", scale=(0, 10), box=(9, 10), by=by, min_n=1),
    "mean_score": lambda f, by: mean_score(f, score="score", by=by),
}


def _answers() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    segment = rng.choice(["x", "y", "z"], 300).astype(object)
    segment[0] = "z"  # first seen: z, then y: not the text order
    segment[1] = "y"
    segment[5] = None
    return pd.DataFrame(
        {
            "score": rng.integers(0, 11, 300).astype(float),
            "segment": pd.Categorical(segment),
            "silo": rng.choice(["customers", "workers"], 300),
        }
    )


@pytest.mark.parametrize("measure", sorted(MEASURES))
@pytest.mark.parametrize("by", ["segment", ["silo", "segment"]])
def test_a_polars_categorical_groups_like_pandas(measure, by):
    answers = _answers()
    run = MEASURES[measure]
    expected = run(answers, by)
    assert expected["segment"].cat.categories.tolist() == ["x", "y", "z"]
    polars = pl.from_pandas(answers)
    assert polars.schema["segment"] == pl.Categorical
    for frame in (polars, polars.lazy(), duckdb.from_df(answers)):
        pd.testing.assert_frame_equal(run(frame, by), expected)


def test_an_enum_keeps_its_declared_order():
    answers = _answers()
    lazy = pl.from_pandas(answers).lazy()
    lazy = lazy.with_columns(pl.col("segment").cast(pl.Enum(["z", "y", "x"])))
    out = nps(lazy, score="score", by="segment", min_n=1)
    assert out["segment"].cat.categories.tolist() == ["z", "y", "x"]
    assert out["segment"].astype(object).tolist()[:3] == ["z", "y", "x"]
    again = nps(answers, score="score", by="segment", min_n=1).set_index("segment")
    shown = out.set_index(out["segment"].astype(object))
    for key in ("z", "y", "x"):
        assert shown.loc[key, "promoters"] == again.loc[key, "promoters"]


def test_hx_index_by_a_polars_categorical_groups_like_pandas():
    """hx_index collects its aggregates through tables.as_pandas: the same rule there."""
    from pathlib import Path

    from hxmetrics.measures import hx_index

    sample = Path(__file__).resolve().parents[2] / "data" / "samples" / "responses.csv"
    answers = pd.read_csv(sample)
    core = answers[answers["instrument"] == "hx_core"].iloc[::-1].reset_index(drop=True)
    # Reversed, the first silo seen is not the first in text order.
    core["segment"] = pd.Categorical(core["silo"].str[0])
    items = ["hx1", "hx2", "hx3", "hx4", "hx5", "hx6"]
    expected = hx_index(core, items=items, by="segment", n_resamples=20, random_state=1)
    assert expected["segment"].astype(object).tolist() == ["c", "p", "w"]
    lazy = pl.from_pandas(core).lazy()
    assert lazy.collect_schema()["segment"] == pl.Categorical
    got = hx_index(lazy, items=items, by="segment", n_resamples=20, random_state=1)
    pd.testing.assert_frame_equal(got, expected)
