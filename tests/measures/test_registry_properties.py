"""Shared invariants over every registered measure (hypothesis).

A measure registered in :mod:`hxmetrics.measures.registry` gets these tests for
free: bounds, row-order invariance, unit weights equal to no weights, the merge of
partial statistics equal to the whole, one-row and all-identical inputs.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.measures._engine import merge_partials
from hxmetrics.measures.registry import MEASURES, Measure

NAMES = sorted(MEASURES)
# 11 registered variants x 6 properties: a modest number of examples each keeps the
# file within its time budget while still exploring sizes, ties and empty groups.
EXAMPLES = settings(max_examples=12)
SEGMENTS = ("north", "south", "east")


@st.composite
def tables(draw: st.DrawFn, measure: Measure, min_rows: int = 1) -> pd.DataFrame:
    n = draw(st.integers(min_value=min_rows, max_value=40))
    scores = draw(st.lists(st.sampled_from(measure.values), min_size=n, max_size=n))
    segments = draw(st.lists(st.sampled_from(SEGMENTS), min_size=n, max_size=n))
    weights = draw(
        st.lists(st.floats(min_value=0.1, max_value=10.0, allow_nan=False), min_size=n, max_size=n)
    )
    return pd.DataFrame({"score": np.array(scores, dtype=float), "segment": segments, "w": weights})


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    # Float sums in another order differ in the last bits; counts must be equal.
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-9)


def _check_bounds(measure: Measure, result: pd.DataFrame) -> None:
    lo, hi = measure.bounds
    est = result[measure.estimate].to_numpy(dtype=float)
    assert np.all((est >= lo - 1e-9) & (est <= hi + 1e-9)), est
    low = result["ci_low"].to_numpy(dtype=float)
    high = result["ci_high"].to_numpy(dtype=float)
    n = result["n"].to_numpy(dtype=float)
    defined = n >= measure.interval_min_n
    assert np.all(np.isfinite(low[defined]) & np.isfinite(high[defined]))
    assert np.all(np.isnan(low[~defined]))
    assert np.all(low[defined] >= lo - 1e-9)
    assert np.all(high[defined] <= hi + 1e-9)
    assert np.all(low[defined] <= high[defined] + 1e-9)
    se = result["se"].to_numpy(dtype=float)
    assert np.all(se[defined] >= 0)


@pytest.mark.parametrize("name", NAMES)
def test_bounds(name: str) -> None:
    measure = MEASURES[name]

    @EXAMPLES
    @given(data=tables(measure))
    def check(data: pd.DataFrame) -> None:
        for by, weights in ((["segment"], None), (None, "w")):
            _check_bounds(measure, measure.function(data, "score", by=by, weights=weights))

    check()


@pytest.mark.parametrize("name", NAMES)
def test_row_order_invariance(name: str) -> None:
    measure = MEASURES[name]

    @EXAMPLES
    @given(data=tables(measure), seed=st.integers(0, 2**32 - 1))
    def check(data: pd.DataFrame, seed: int) -> None:
        shuffled = data.sample(frac=1.0, random_state=seed)
        for weights in (None, "w"):
            _assert_same(
                measure.function(shuffled, "score", by=["segment"], weights=weights),
                measure.function(data, "score", by=["segment"], weights=weights),
            )

    check()


@pytest.mark.parametrize("name", NAMES)
def test_unit_weights_equal_no_weights(name: str) -> None:
    measure = MEASURES[name]

    @EXAMPLES
    @given(data=tables(measure))
    def check(data: pd.DataFrame) -> None:
        unit = data.assign(w=1.0)
        _assert_same(
            measure.function(unit, "score", by=["segment"], weights="w"),
            measure.function(data, "score", by=["segment"]),
        )

    check()


@pytest.mark.parametrize("name", NAMES)
def test_merge_of_partials_equals_the_whole(name: str) -> None:
    measure = MEASURES[name]

    @EXAMPLES
    @given(data=tables(measure, min_rows=2), cut=st.floats(0.0, 1.0))
    def check(data: pd.DataFrame, cut: float) -> None:
        k = round(cut * len(data))
        first, second = data.iloc[:k], data.iloc[k:]
        for by, weights in ((["segment"], None), ([], "w")):
            parts = [
                measure.statistics(part, "score", by=by, weights=weights)
                for part in (first, second)
            ]
            merged = measure.finish(merge_partials(parts, by=by))
            _assert_same(merged, measure.function(data, "score", by=by, weights=weights))

    check()


@pytest.mark.parametrize("name", NAMES)
def test_merge_of_many_partials_keeps_the_protocol(name: str) -> None:
    # The documented path for data in pieces: statistics per piece (any piece may be
    # empty or miss a group), merge_partials, finish: the same frame and the same
    # attrs["hxmetrics"] as the measure on the whole table.
    measure = MEASURES[name]

    @EXAMPLES
    @given(
        data=tables(measure, min_rows=2),
        cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
    )
    def check(data: pd.DataFrame, cuts: list[float]) -> None:
        edges = [0, *sorted(round(c * len(data)) for c in cuts), len(data)]
        pieces = [data.iloc[a:b] for a, b in pairwise(edges)]
        for by, weights in ((["segment"], None), (["segment"], "w"), ([], None)):
            parts = [measure.statistics(p, "score", by=by, weights=weights) for p in pieces]
            merged = measure.finish(merge_partials(parts, by=by))
            whole = measure.function(data, "score", by=by, weights=weights)
            _assert_same(merged, whole)
            assert merged.attrs["hxmetrics"] == whole.attrs["hxmetrics"]

    check()


@pytest.mark.parametrize("name", NAMES)
def test_one_row_gives_a_defined_result(name: str) -> None:
    measure = MEASURES[name]
    for value in (measure.values[0], measure.values[-1]):
        data = pd.DataFrame({"score": [value], "segment": ["north"], "w": [2.5]})
        for weights in (None, "w"):
            result = measure.function(data, "score", weights=weights)
            assert len(result) == 1
            assert np.isfinite(result[measure.estimate].iloc[0])
            _check_bounds(measure, result)


@pytest.mark.parametrize("name", NAMES)
def test_all_identical_answers_give_a_defined_result(name: str) -> None:
    measure = MEASURES[name]

    @EXAMPLES
    @given(
        value=st.sampled_from(measure.values),
        n=st.integers(2, 30),
        weight=st.floats(0.1, 10.0),
    )
    def check(value: float, n: int, weight: float) -> None:
        data = pd.DataFrame({"score": [value] * n, "segment": ["north"] * n, "w": [weight] * n})
        plain = measure.function(data, "score")
        weighted = measure.function(data, "score", weights="w")
        _check_bounds(measure, plain)
        _assert_same(weighted, plain)  # constant weights change nothing
        assert np.isfinite(plain[measure.estimate].iloc[0])
        assert plain["n"].iloc[0] == n

    check()


def test_every_measure_is_registered_once_with_a_known_estimate() -> None:
    assert {"nps", "csat", "ces", "mean_score"} <= set(MEASURES)
    for measure in MEASURES.values():
        data = pd.DataFrame({"score": list(measure.values), "segment": "north", "w": 1.0})
        result = measure.function(data, "score")
        assert measure.estimate == "estimate" == result.attrs["hxmetrics"]["estimate"]
        assert measure.estimate in result.columns
