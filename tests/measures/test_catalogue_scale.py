"""Measures take their scale from the instrument catalogue when given one (issue 17:
"measures take their scale from the catalogue when given one; an answer to an item not
in the catalogue is an error, not a guess")."""

from __future__ import annotations

import pandas as pd
import pytest

from hxmetrics.datasets import load_sample
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.instruments import InstrumentCatalogue, load_bank, scale_for
from hxmetrics.measures.satisfaction import ces, csat, mean_score

CORE = load_bank("core")


@pytest.fixture(scope="module")
def responses() -> pd.DataFrame:
    return load_sample().responses


def test_csat_ces_and_mean_take_the_items_scale(responses):
    answers = responses[responses["instrument"] == "csat"]
    given = csat(answers, "score", scale=(1, 5), box=(4, 5), by="silo")
    pd.testing.assert_frame_equal(
        csat(answers, "score", box=(4, 5), by="silo", instruments=CORE), given
    )
    effort = responses[responses["instrument"] == "ces"]
    low, high = CORE.scale("ces", "effort")
    polarity = "higher_is_easier"
    pd.testing.assert_frame_equal(
        ces(effort, "score", polarity=polarity, instruments=CORE),
        ces(effort, "score", scale=(int(low), int(high)), polarity=polarity),
    )
    hx1 = responses[(responses["instrument"] == "hx_core") & (responses["item"] == "hx1")]
    with_scale = mean_score(hx1, "score", instruments=CORE)
    assert with_scale.attrs["hxmetrics"]["bounds"] == CORE.scale("hx_core", "hx1")
    assert mean_score(hx1, "score").attrs["hxmetrics"]["bounds"] != CORE.scale("hx_core", "hx1")


def test_an_item_not_in_the_catalogue_is_an_error_not_a_guess(responses):
    answers = responses[responses["instrument"] == "csat"]
    other = InstrumentCatalogue.from_frame(CORE.to_frame().query("instrument != 'csat'"))
    with pytest.raises(ParameterError, match="csat"):
        csat(answers, "score", box=(4, 5), instruments=other)


def test_without_scale_or_catalogue_and_with_both_disagreeing(responses):
    answers = responses[responses["instrument"] == "csat"]
    with pytest.raises(ParameterError, match="scale is required"):
        csat(answers, "score", box=(4, 5))
    with pytest.raises(ParameterError, match="differs from the catalogue"):
        csat(answers, "score", scale=(1, 7), box=(4, 5), instruments=CORE)
    # A scale that agrees with the catalogue is accepted.
    csat(answers, "score", scale=(1, 5), box=(4, 5), instruments=CORE)


def test_items_on_different_scales_must_be_filtered_first(responses):
    mixed = responses[responses["instrument"].isin(["csat", "ces"])]
    with pytest.raises(ParameterError, match="different scales"):
        scale_for(mixed, CORE)
    with pytest.raises(InputTableError, match="'item'"):
        scale_for(mixed.drop(columns="item"), CORE)
    with pytest.raises(ParameterError, match="InstrumentCatalogue"):
        scale_for(mixed, {"csat": (1, 5)})  # type: ignore[arg-type]  # a wrong type on purpose
