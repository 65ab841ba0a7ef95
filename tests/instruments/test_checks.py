"""Answers against the catalogue (issue 17, item 1): scales, unknown items, roles, keying."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import load_sample
from hxmetrics.errors import HxWarning, InputTableError
from hxmetrics.instruments._banks import load_bank
from hxmetrics.instruments._checks import check_responses, keying_check, response_failures
from hxmetrics.tables import validate

from .conftest import simulated_answers


def _answers(rows: list[tuple[str, str, float]], silo: str = "customers") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": [f"R{i:07d}" for i in range(len(rows))],
            "silo": silo,
            "source_id": [f"C{i:06d}" for i in range(len(rows))],
            "instrument": [r[0] for r in rows],
            "item": [r[1] for r in rows],
            "score": [r[2] for r in rows],
        },
        index=[f"label{i}" for i in range(len(rows))],  # messages name positions, not labels
    )


def test_the_sample_validates_clean_against_the_built_in_banks() -> None:
    # The sample holds the core instruments and answers to both item banks.
    responses = validate(load_sample().responses, table="responses")
    banks = load_bank("core", "zero_distance", "customer_centricity")
    assert set(responses["instrument"]) == set(banks.instruments)
    assert response_failures(responses, banks).empty
    # Why: warnings as errors: the sample must not trigger the keying check.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_responses(responses, banks)
    # The core bank alone does not know the banks' items: an error, not a guess.
    assert not response_failures(responses, load_bank("core")).empty


def test_a_one_to_seven_answer_on_a_one_to_five_item_is_caught() -> None:
    answers = _answers([("ces", "effort", 6.0), ("csat", "overall", 4.0), ("csat", "overall", 6.0)])
    with pytest.raises(InputTableError) as exc:
        check_responses(answers, load_bank("core"))
    cases = exc.value.failure_cases
    assert cases[["column", "check", "index"]].values.tolist() == [
        ["score", "score_in_item_scale", 2]
    ]
    assert "row 2: 'csat'/'overall' score 6.0" in str(exc.value)
    # the row is named by position, never by an id or label
    for secret in ("R0000002", "C000002", "label2"):
        assert secret not in str(exc.value)


def test_an_unknown_item_is_an_error_not_a_guess() -> None:
    answers = _answers([("nps", "ltr", 9.0), ("nps", "ltr_v2", 9.0), ("enps", "ltr", 3.0)])
    with pytest.raises(InputTableError) as exc:
        check_responses(answers, load_bank("core"))
    cases = exc.value.failure_cases
    assert cases["check"].tolist() == ["item_in_catalogue"] * 2
    assert cases["index"].tolist() == [1, 2]
    assert cases["failure_case"].tolist() == ["nps/ltr_v2", "enps/ltr"]
    assert "never guessed" in str(exc.value)


def test_fractions_on_whole_number_scales_and_roles_not_asked() -> None:
    answers = pd.concat(
        [
            _answers([("csat", "overall", 3.5), ("nps", "ltr", 7.0)]),
            _answers([("csat", "overall", 4.0)], silo="workers"),
        ],
        ignore_index=True,
    )
    cases = response_failures(answers, load_bank("core"))
    assert sorted(map(tuple, cases[["check", "index"]].values.tolist())) == [
        ("role_asked", 2),
        ("score_integer", 0),
    ]


def test_a_reverse_keyed_item_scored_the_wrong_way_round_is_caught() -> None:
    cat = load_bank("zero_distance")
    wrong = simulated_answers(cat, "zero_distance", {"worker": 150}, wrong_way=("zd_fv4",))
    wrong["silo"] = "workers"
    with pytest.warns(HxWarning, match=r"zero_distance/zd_fv4 \(r = -0\.\d+, reverse_keyed=True\)"):
        check_responses(wrong, cat)
    found = keying_check(wrong, cat)
    flagged = found.loc[found["flagged"], "item"].tolist()
    assert flagged == ["zd_fv4"]
    # The other three reverse-keyed items, written the right way, correlate positively.
    right = found[found["reverse_keyed"] & (found["item"] != "zd_fv4")]
    assert (right["ci_low"] > 0).all()


def test_clean_answers_give_no_keying_warning() -> None:
    cat = load_bank("zero_distance")
    answers = simulated_answers(cat, "zero_distance", {"worker": 150, "customer": 100}, seed=4)
    # Why: warnings as errors: clean answers must give no keying warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_responses(answers, cat)
    found = keying_check(answers, cat)
    assert len(found) == 24
    assert not found["flagged"].any()
    assert (found["n"] == 250).all()


def test_too_few_answers_are_not_judged() -> None:
    cat = load_bank("zero_distance")
    few = simulated_answers(cat, "zero_distance", {"worker": 20}, wrong_way=("zd_fv4",))
    found = keying_check(few, cat, min_n=30)
    assert found["ci_high"].isna().all()
    assert not found["flagged"].any()
    assert np.isfinite(found["r_item_rest"]).all()
