"""The teams step: ownership with one change, NPS credited by last touch, a planted shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._teams import DEFAULT_OWNERS, add_teams
from hxmetrics.errors import ParameterError
from hxmetrics.measures.ledger import check_teams, owner_at
from hxmetrics.tables import validate


@pytest.fixture(scope="module")
def base() -> Organisation:
    return simulate_organisation(3000, random_state=5)


@pytest.fixture(scope="module")
def org(base: Organisation) -> Organisation:
    return add_teams(base, random_state=5)


def _category(score: np.ndarray) -> np.ndarray:
    return np.where(score >= 9, 1, np.where(score >= 7, 0, -1))


def test_pure_and_reproducible(base: Organisation, org: Organisation) -> None:
    before = base.responses.copy()
    again = add_teams(base, random_state=5)
    assert base.teams is None
    assert "teams" not in base.truth.planted
    pd.testing.assert_frame_equal(base.responses, before)
    pd.testing.assert_frame_equal(again.teams, org.teams)
    pd.testing.assert_frame_equal(again.responses, org.responses)
    # The other tables are the same objects: the step touches only responses.
    assert org.events is base.events
    assert org.transactions is base.transactions


def test_tables_stay_valid(org: Organisation) -> None:
    assert org.teams is not None
    validate(org.teams, table="teams")
    validate(org.responses, table="responses")
    seen = set(org.events["touchpoint"]) | set(org.tickets["touchpoint"])
    check_teams(org.teams, touchpoints=seen)
    nps_rows = org.responses["instrument"] == "nps"
    s = org.responses.loc[nps_rows, "score"].dropna()
    assert ((s >= 0) & (s <= 10) & (s == np.round(s))).all()


def test_every_exhaust_touchpoint_has_one_owner_at_every_time(org: Organisation) -> None:
    spells = check_teams(org.teams)
    for table, time in (("events", "timestamp"), ("tickets", "opened")):
        df = getattr(org, table)
        owners = owner_at(spells, df["touchpoint"], df[time])
        assert not pd.isna(owners).any(), table


def test_one_ownership_change_at_the_recorded_date(org: Organisation) -> None:
    change = org.truth.planted["teams"]["change"].iloc[0]
    assert change["touchpoint"] == "chat"
    assert change["from_team"] == "contact_centre"
    assert change["to_team"] == "digital"
    at = change["at"]
    assert org.start < at < org.end
    q = at.to_period("Q")
    assert q.start_time < at
    assert at.day == 15
    spells = check_teams(org.teams)
    got = owner_at(spells, ["chat", "chat"], [at - pd.Timedelta("1s"), at])
    assert got.tolist() == ["contact_centre", "digital"]
    assert (org.teams["valid_to"].notna()).sum() == 1


def test_nps_answers_credited_to_the_last_event(org: Organisation, base: Organisation) -> None:
    resp = org.responses
    ltr = (resp["instrument"] == "nps").to_numpy()
    assert base.responses.loc[ltr, "touchpoint"].isna().all()
    credited = resp.loc[ltr, "touchpoint"].notna()
    # Most relationship answers get a touchpoint (the id had an event within a year).
    assert 0.3 < credited.mean() < 0.95
    ev = org.events.sort_values("timestamp", kind="stable")
    window = pd.Timedelta(org.truth.planted["teams"]["touch_window"])
    rows = resp[ltr].sample(60, random_state=1)
    for r in rows.itertuples():  # brute force on a sample of answers
        mine = ev[
            (ev["silo"] == r.silo)
            & (ev["source_id"] == r.source_id)
            & (ev["timestamp"] <= r.timestamp)
            & (ev["timestamp"] >= r.timestamp - window)
        ]
        expected = None if mine.empty else mine["touchpoint"].iloc[-1]
        got = None if pd.isna(r.touchpoint) else r.touchpoint
        assert got == expected
    # Answers that already had a touchpoint (CSAT, CES) keep it.
    other = ~ltr
    pd.testing.assert_series_equal(
        resp.loc[other, "touchpoint"], base.responses.loc[other, "touchpoint"]
    )


def test_planted_shift_moves_only_the_teams_answers_after_the_month(
    org: Organisation, base: Organisation
) -> None:
    planted = org.truth.planted["teams"]
    assert planted["team"] == "digital"
    assert planted["touchpoints"] == ["app", "chat", "web"]
    month = planted["shift_month"]
    assert month == month.to_period("M").to_timestamp()
    old = base.responses["score"].to_numpy()
    new = org.responses["score"].to_numpy()
    changed = ~np.isclose(old, new, equal_nan=True)
    resp = org.responses
    owner = owner_at(check_teams(org.teams), resp["touchpoint"], resp["timestamp"])
    eligible = (
        (resp["instrument"] == "nps").to_numpy()
        & (owner == "digital")
        & (resp["timestamp"] >= month).to_numpy()
        & ~np.isnan(old)
    )
    assert not (changed & ~eligible).any()
    np.testing.assert_array_equal(new[eligible], np.clip(old[eligible] - 1, 0, 10))
    assert planted["n_answers_shifted"] == int(eligible.sum()) > 30
    expected = 100 * (_category(new[eligible]) - _category(old[eligible])).mean()
    assert planted["nps_change"] == pytest.approx(expected)
    assert -60 < planted["nps_change"] < -10
    # CSAT and CES are untouched.
    other = (resp["instrument"] != "nps").to_numpy()
    np.testing.assert_array_equal(new[other], old[other])


def test_options_and_bad_parameters(base: Organisation) -> None:
    custom = add_teams(
        base,
        random_state=0,
        owners={**DEFAULT_OWNERS, "stores": ("store", "phone"), "contact_centre": ("chat",)},
        moved_touchpoint="email",
        moved_to="stores",
        change_at="2021-05-20",
        shift_team="stores",
        shift_month="2022-03-17",
        score_shift=-2,
    )
    planted = custom.truth.planted["teams"]
    assert planted["shift_month"] == pd.Timestamp("2022-03-01")
    assert planted["touchpoints"] == ["email", "phone", "store"]
    # email had no owner in these owners: it starts with the fallback team.
    assert custom.truth.planted["teams"]["change"]["from_team"].iloc[0] == "operations"
    with pytest.raises(ParameterError, match="shift_month"):
        add_teams(base, shift_month="1990-01-01")
    with pytest.raises(ParameterError, match="change_at"):
        add_teams(base, change_at="2040-01-01")
    with pytest.raises(ParameterError, match="moved_to"):
        add_teams(base, moved_to="contact_centre")
    with pytest.raises(ParameterError, match="score_shift"):
        add_teams(base, score_shift=0.5)  # type: ignore[arg-type]
