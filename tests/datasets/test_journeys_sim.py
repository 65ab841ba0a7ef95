"""The journeys simulation step: events added, the planted touchpoint, the truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._journeys import JOURNEY_TOUCHPOINTS, add_journeys
from hxmetrics.errors import ParameterError
from hxmetrics.tables import validate


@pytest.fixture(scope="module")
def base() -> Organisation:
    return simulate_organisation(n_people=3000, random_state=21)


@pytest.fixture(scope="module")
def journeyed(base: Organisation) -> Organisation:
    return add_journeys(base, random_state=4)


def test_pure_and_reproducible(base: Organisation, journeyed: Organisation) -> None:
    n_before = len(base.events)
    again = add_journeys(base, random_state=4)
    assert len(base.events) == n_before
    assert "journeys" not in base.truth.planted
    pd.testing.assert_frame_equal(again.events, journeyed.events)
    other = add_journeys(base, random_state=np.random.default_rng(5))
    assert not other.events.equals(journeyed.events)
    # Only events change: responses and the other tables are the same objects.
    assert journeyed.responses is base.responses
    assert journeyed.tickets is base.tickets


def test_events_stay_valid_and_keep_the_old_ones(
    base: Organisation, journeyed: Organisation
) -> None:
    ev = journeyed.events
    validate(ev, table="events")
    assert ev["timestamp"].is_monotonic_increasing
    assert (ev["timestamp"] >= journeyed.start).all()
    assert (ev["timestamp"] < journeyed.end).all()
    old = ev[ev["event_type"] != "journey_step"].sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(old, base.events.sort_values("event_id").reset_index(drop=True))
    truth = journeyed.truth.planted["journeys"]
    assert int((ev["event_type"] == "journey_step").sum()) == truth["n_events"]
    every = {t for names in JOURNEY_TOUCHPOINTS.values() for t in names}
    new = set(ev.loc[ev["event_type"] == "journey_step", "touchpoint"])
    assert new == every | {"help_desk", "hr_desk", "partner_desk"}


def test_planted_visits_come_just_before_an_answer(journeyed: Organisation) -> None:
    truth = journeyed.truth.planted["journeys"]
    ev = journeyed.events
    visits = ev[ev["touchpoint"] == truth["touchpoint"]].sort_values("timestamp")
    assert len(visits) == truth["n_planted_visits"]
    assert set(visits["silo"]) == {"customers"}
    r = journeyed.responses
    answers = r[(r["item"] == "ltr") & r["score"].notna()].sort_values("timestamp")
    matched = pd.merge_asof(
        visits[["silo", "source_id", "timestamp"]],
        answers[["silo", "source_id", "timestamp", "score"]].rename(columns={"timestamp": "at"}),
        left_on="timestamp",
        right_on="at",
        by=["silo", "source_id"],
        direction="forward",
        tolerance=pd.Timedelta(hours=truth["window_hours"]),
    )
    assert matched["at"].notna().all()


def test_planted_probabilities_and_expected_lift(journeyed: Organisation) -> None:
    truth = journeyed.truth.planted["journeys"]
    assert truth["touchpoint"] == "help_desk"
    assert truth["role"] == "customer"
    d, p1, p0 = truth["detractor_share"], truth["p_detractor"], truth["p_other"]
    by_bayes = (p1 / (d * p1 + (1 - d) * p0)) / ((1 - p1) / (d * (1 - p1) + (1 - d) * (1 - p0)))
    assert truth["expected_lift"] == pytest.approx(by_bayes)
    assert truth["expected_removal_effect"] == p1
    # The draws' shares against the design: binomial sd from the answers' counts
    # (about 400 customer detractors and 1100 others here); 4 sd.
    r = journeyed.responses
    cust = r[(r["item"] == "ltr") & (r["silo"] == "customers") & r["score"].notna()]
    n_det = int((cust["score"] <= 6).sum())
    n_other = len(cust) - n_det
    assert abs(truth["realised_p_detractor"] - p1) < 4 * np.sqrt(p1 * (1 - p1) / n_det)
    assert abs(truth["realised_p_other"] - p0) < 4 * np.sqrt(p0 * (1 - p0) / n_other)
    # Why: the planted share counts answers with a pre-answer session; here that is every
    # customer answer (equal: 0.2967 both), 0.01 leaves room for a few without one.
    assert truth["detractor_share"] == pytest.approx(n_det / len(cust), abs=0.01)


def test_works_with_other_optional_steps_and_options(base: Organisation) -> None:
    teams = pd.DataFrame(
        {
            "team": ["care"],
            "touchpoint": ["help_desk"],
            "valid_from": [base.start],
            "valid_to": [pd.NaT],
        }
    )
    with_teams = dataclasses.replace(
        base, teams=teams, truth=dataclasses.replace(base.truth, planted={"teams": {"x": 1}})
    )
    out = add_journeys(
        with_teams, random_state=1, role="worker", touchpoint="payroll_desk", p_detractor=0.9
    )
    assert out.teams is teams
    assert set(out.truth.planted) == {"teams", "journeys"}
    visits = out.events[out.events["touchpoint"] == "payroll_desk"]
    assert set(visits["silo"]) == {"workers"}
    quiet = add_journeys(base, random_state=1, sessions_per_year={"customer": 0.0})
    assert (
        quiet.truth.planted["journeys"]["n_sessions"]
        < (add_journeys(base, random_state=1).truth.planted["journeys"]["n_sessions"])
    )


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("role", "customers", "role"),
        ("touchpoint", "web", "touchpoint"),
        ("p_detractor", 1.5, "p_detractor"),
        ("p_other", -0.1, "p_other"),
        ("sessions_per_year", {"customer": -1.0}, "sessions_per_year"),
        ("quiet_days", 1.0, "quiet_days"),
        ("random_state", 1.5, "random_state"),
    ],
)
def test_bad_options(base: Organisation, option: str, value: object, match: str) -> None:
    options: dict[str, object] = {"random_state": 1, option: value}
    with pytest.raises(ParameterError, match=match):
        add_journeys(base, **options)  # type: ignore[arg-type]
