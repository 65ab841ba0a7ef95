"""The grouped results of the instruments follow the one result protocol (the checks of
tests/measures/test_protocol.py, applied here until the lead lists these measures there),
and any frame narwhals reads gives the same result."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from hxmetrics.instruments._banks import load_bank
from hxmetrics.instruments._gap import zero_distance_gap
from hxmetrics.instruments._scoring import score_instrument
from hxmetrics.measures._result import is_result, result_meta

from .conftest import simulated_answers

ZD = load_bank("zero_distance")
LEDGER = pd.DataFrame(
    {
        "team": ["north", "south", "tiny"],
        "touchpoint": ["web", "app", "kiosk"],
        "valid_from": pd.to_datetime(["2020-01-01"] * 3),
        "valid_to": pd.to_datetime([None] * 3),
    }
)


def _answers() -> pd.DataFrame:
    data = simulated_answers(ZD, "zero_distance", {"worker": 60, "customer": 80}, seed=8)
    persons = data["person_id"].astype(str)
    codes = pd.factorize(persons)[0]
    # "tiny" gets 3 workers and 3 customers: below min_n on both sides
    data["touchpoint"] = np.where(
        persons.isin(["w0000", "w0001", "w0002", "c0000", "c0001", "c0002"]),
        "kiosk",
        np.where(codes % 2 == 0, "web", "app"),
    )
    data["timestamp"] = pd.Timestamp("2024-03-01")
    data["segment"] = np.where(persons.isin(["w0000", "w0001", "w0002"]), "tiny", "main")
    return data


def _scores(data: pd.DataFrame, min_n: int | None) -> pd.DataFrame:
    return score_instrument(data, "zero_distance", catalogue=ZD, by=["role", "segment"],
                            min_n=min_n, reliability=False, structure=False,
                            invariance=False).scores  # fmt: skip


def _gaps(data: pd.DataFrame, min_n: int | None) -> pd.DataFrame:
    return zero_distance_gap(data, teams=LEDGER, catalogue=ZD, require=None,
                             min_n=min_n).gaps  # fmt: skip


@pytest.mark.parametrize("compute", [_scores, _gaps], ids=["scores", "gaps"])
def test_protocol_columns_dtypes_and_attrs(
    compute: Callable[[pd.DataFrame, int | None], pd.DataFrame],
) -> None:
    data = _answers()
    results = {m: compute(data, m) for m in (None, 5)}
    for result in results.values():
        assert is_result(result)
        meta = result_meta(result)
        assert meta is not None
        by = meta["by"]
        columns = list(result.columns)
        assert columns[: 2 + len(by)] == ["measure", *by, "n"]
        assert columns[1 + len(by) : 6 + len(by)] == ["n", "estimate", "se", "ci_low", "ci_high"]
        excluded = [c for c in columns if c.startswith("n_excluded_")]
        assert columns[-1 - len(excluded) : -1] == excluded
        assert columns[-1] == "suppressed"
        for c in ["n", *excluded]:
            assert str(result[c].dtype) == "Int64", c
        for c in ("estimate", "se", "ci_low", "ci_high"):
            assert result[c].dtype == np.float64, c
        assert isinstance(result.index, pd.RangeIndex)
        shown = result[~result["suppressed"]]
        for c in excluded:
            assert meta["excluded"][c.removeprefix("n_excluded_")] == int(shown[c].sum())
        lo, hi = meta["bounds"]
        est = shown["estimate"].dropna()
        assert ((est >= lo) & (est <= hi)).all()
    pd.testing.assert_series_equal(results[None].dtypes, results[5].dtypes)
    hidden = results[5][results[5]["suppressed"]]
    assert len(hidden) > 0
    assert hidden["estimate"].isna().all()
    assert hidden["n"].isna().all()


def test_polars_input_gives_the_same_result() -> None:
    # Why: polars is a test extra; CI installs it (the engines' equality is what is tested).
    pl = pytest.importorskip("polars", reason="polars is a test extra")
    data = _answers()
    pd.testing.assert_frame_equal(_scores(pl.from_pandas(data), 5), _scores(data, 5))
    pd.testing.assert_frame_equal(_gaps(pl.from_pandas(data), 5), _gaps(data, 5))
