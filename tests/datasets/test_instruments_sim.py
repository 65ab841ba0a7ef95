"""Simulation step "instruments" (issue 17, item 6): add_instruments."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._instruments import DEFAULT_GAP, add_instruments
from hxmetrics.errors import ParameterError
from hxmetrics.instruments import BANKS, check_responses, load_bank
from hxmetrics.tables import validate

NEW = ("zero_distance", "customer_centricity")


@pytest.fixture(scope="module")
def org() -> Organisation:
    return simulate_organisation(n_people=600, random_state=11)


def test_pure_reproducible_and_valid(org: Organisation) -> None:
    before = org.responses.copy()
    a = add_instruments(org, random_state=3)
    b = add_instruments(org, random_state=3)
    c = add_instruments(org, random_state=4)
    pd.testing.assert_frame_equal(org.responses, before)  # the input is not changed
    assert "instruments" not in org.truth.planted
    pd.testing.assert_frame_equal(a.responses, b.responses)
    assert not a.responses.equals(c.responses)
    checked = validate(a.responses, table="responses")  # unique (response_id, item) too
    assert len(checked) == len(a.responses)
    pd.testing.assert_frame_equal(a.responses.iloc[: len(before)], before)
    added = a.responses.iloc[len(before) :]
    assert set(added["instrument"]) == set(NEW)
    assert not set(added["response_id"]) & set(before["response_id"])
    assert added["response_id"].str.fullmatch(r"R\d{7}").all()
    assert added["touchpoint"].notna().all()
    assert (added["weight"] == 1.0).all()
    # one questionnaire per person and instrument: a response is one silo id
    per_response = added.groupby("response_id")[["silo", "source_id", "instrument"]].nunique()
    assert (per_response == 1).all().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_responses(a.responses, load_bank(*BANKS))


def test_answers_are_attributable_and_by_role(org: Organisation) -> None:
    new = add_instruments(org, random_state=5)
    planted = new.truth.planted["instruments"]
    added = new.responses[new.responses["instrument"].isin(NEW)]
    episodes = new.truth.episodes
    joined = added.merge(episodes, on=["silo", "source_id"], how="left")
    inside = (joined["start"] <= joined["timestamp"]) & (
        joined["end"].isna() | (joined["timestamp"] < joined["end"])
    )
    covered = inside.groupby([joined["response_id"], joined["item"]]).any()
    assert covered.all()
    assert (added["timestamp"] >= planted["wave_start"]).all()
    assert (added["timestamp"] < planted["wave_end"]).all()
    cc = added[added["instrument"] == "customer_centricity"]
    assert set(cc["silo"]) == {"workers"}
    zd = added[added["instrument"] == "zero_distance"]
    assert set(zd["silo"]) == {"workers", "customers", "partners"}
    counts = planted["n_respondents"]
    assert zd.groupby("silo")["response_id"].nunique().to_dict() == {
        "customers": counts["customer"],
        "partners": counts["partner"],
        "workers": counts["worker"],
    }


def test_planted_truth(org: Organisation) -> None:
    new = add_instruments(org, random_state=5)
    planted = new.truth.planted["instruments"]
    gap = planted["gap"]
    assert set(gap.columns) >= {"team", "subscale", "self_mean", "served_mean", "gap"}
    own = gap[gap["team"] == planted["gap_team"]].set_index("subscale")
    assert own["latent_gap"].to_dict() == DEFAULT_GAP
    # the expected gap on the answers' scale has the latent gap's sign, 0 where it is 0
    assert (np.sign(own["gap"]) == np.sign(own["latent_gap"])).all()
    others = gap[gap["team"] != planted["gap_team"]]
    assert (others["gap"].abs() < 1e-12).all()
    assert set(planted["items"]["item"]) == set(load_bank("zero_distance").to_frame()["item"])
    assert planted["customer_centricity"]["subscale"].tolist() == list(
        load_bank("customer_centricity").subscales("customer_centricity")
    )


def test_uses_the_teams_table_when_there_is_one(org: Organisation) -> None:
    teams = pd.DataFrame(
        {
            "team": ["north", "south", "south", "east"],
            "touchpoint": ["web", "web", "store", "portal"],
            "valid_from": pd.to_datetime(["2019-01-01", "2025-11-10", "2019-01-01", "2019-01-01"]),
            "valid_to": pd.to_datetime(["2025-11-10", None, None, None]),
        }
    )
    with_teams = dataclasses.replace(org, teams=teams)
    new = add_instruments(with_teams, random_state=7, wave="2025-11-01")
    planted = new.truth.planted["instruments"]
    pd.testing.assert_frame_equal(planted["teams"], teams)
    # at the wave's start north, south and east own one touchpoint each: the first sorted
    assert planted["gap_team"] == "east"
    added = new.responses[new.responses["instrument"] == "zero_distance"]
    assert set(added["touchpoint"]) == {"web", "store", "portal"}
    web = added[added["touchpoint"] == "web"]
    # the handover on 10 November splits the web answers between north and south
    assert (web["timestamp"] < pd.Timestamp("2025-11-10")).any()
    assert (web["timestamp"] >= pd.Timestamp("2025-11-10")).any()
    assert set(planted["gap"]["team"]) == {"north", "south", "east"}
    assert new.teams is teams  # the ledger belongs to the teams step: left as it was


def test_without_teams_a_default_ledger_from_the_tickets(org: Organisation) -> None:
    assert org.teams is None
    new = add_instruments(org, random_state=8)
    ledger = new.truth.planted["instruments"]["teams"]
    assert new.teams is None
    assert set(ledger["touchpoint"]) == set(org.tickets["touchpoint"])
    assert not ledger["touchpoint"].duplicated().any()
    assert set(ledger["team"]) <= set(org.tickets["team"])


def test_extra_response_columns_and_bad_options(org: Organisation) -> None:
    extra = org.responses.assign(invitation_id=pd.Series(pd.NA, index=org.responses.index,
                                                         dtype="string"))  # fmt: skip
    new = add_instruments(dataclasses.replace(org, responses=extra), random_state=9)
    added = new.responses.iloc[len(extra) :]
    assert added["invitation_id"].isna().all()
    validate(new.responses, table="responses")
    with pytest.raises(ParameterError, match="unknown practice"):
        add_instruments(org, random_state=1, gap={"speed": 1.0})
    with pytest.raises(ParameterError, match="unknown zero_distance item"):
        add_instruments(org, random_state=1, non_invariant={"zd_xx": 1.0})
    with pytest.raises(ParameterError, match="must lie in the window"):
        add_instruments(org, random_state=1, wave="2030-01-01")
