"""Every measure on Spark (local mode) gives the pandas result.

One test function on purpose: the JVM is started once (session fixture) and, under
``pytest -n 2``, only one worker pays for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import InputTableError
from hxmetrics.measures._engine import merge_partials
from hxmetrics.measures.nps import METHODS, nps, nps_from_statistics, nps_statistics
from hxmetrics.measures.satisfaction import ces, csat, mean_score
from hxmetrics.measures.segments import compare_groups

from .conftest import SPARK_PANDAS_WARNING

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)]


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    n = 600
    df = pd.DataFrame(
        {
            "ltr": rng.integers(0, 11, n).astype(float),
            "overall": rng.integers(1, 6, n).astype(float),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "silo": rng.choice(["customers", "workers"], n),
            "w": rng.uniform(0.3, 3.0, n),
        }
    )
    df.loc[[1, 50, 77], "ltr"] = np.nan
    df.loc[[3], "overall"] = np.nan
    df.loc[[5, 6], "region"] = None
    return df


def test_every_measure_on_spark_matches_pandas(spark) -> None:
    df = _table()
    sdf = spark.createDataFrame(df)
    for weights in (None, "w"):
        # The aggregation runs on Spark once; every method finishes the same statistics.
        by = ["silo", "region"]
        stats = nps_statistics(sdf, "ltr", by=by, weights=weights)
        pd.testing.assert_frame_equal(
            stats, nps_statistics(df, "ltr", by=by, weights=weights), check_exact=False, rtol=1e-12
        )
        for method in METHODS:
            expected = nps(df, "ltr", by=by, weights=weights, method=method, random_state=1)
            got = nps_from_statistics(stats, method=method, random_state=1)
            pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
        calls = [
            lambda d, w=weights: csat(
                d, "overall", scale=(1, 5), box=(4, 5), by="region", weights=w
            ),
            lambda d, w=weights: ces(
                d, "overall", scale=(1, 5), polarity="lower_is_easier", by="silo", weights=w
            ),
            lambda d, w=weights: mean_score(d, "overall", by="region", weights=w, min_n=140),
        ]
        for call in calls:
            pd.testing.assert_frame_equal(call(sdf), call(df), check_exact=False, rtol=1e-12)
    # Comparisons work on the Spark result as on any other.
    assert len(compare_groups(nps(sdf, "ltr", by="region"))) == 10
    # Partial statistics from two Spark tables merge to the whole.
    halves = [spark.createDataFrame(df.iloc[:250]), spark.createDataFrame(df.iloc[250:])]
    parts = [nps_statistics(h, "ltr", by="region", weights="w") for h in halves]
    merged = nps_from_statistics(merge_partials(parts, by=["region"]))
    pd.testing.assert_frame_equal(
        merged, nps(df, "ltr", by="region", weights="w"), check_exact=False, rtol=1e-12
    )
    # Bad rows are reported with examples.
    bad = spark.createDataFrame(pd.DataFrame({"ltr": [9.0, 12.0, 3.0]}))
    with pytest.raises(InputTableError, match=r"1 row\(s\).*12\.0"):
        nps(bad, "ltr")
