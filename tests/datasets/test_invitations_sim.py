"""The invitations step of the simulator (issue 17, item 6): invitations with role- and
covariate-dependent non-response, the non-respondents' answers removed, the bias of the
respondents' NPS planted and recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._comments import add_comments
from hxmetrics.datasets._instruments import add_instruments
from hxmetrics.datasets._invitations import ROLE_LOG_ODDS, add_invitations
from hxmetrics.datasets._journeys import add_journeys
from hxmetrics.datasets._teams import add_teams
from hxmetrics.errors import ParameterError
from hxmetrics.measures.nps import nps
from hxmetrics.measures.response_rates import check_invitations
from hxmetrics.tables import validate


@pytest.fixture(scope="module")
def base() -> Organisation:
    return simulate_organisation(1500, random_state=5)


@pytest.fixture(scope="module")
def invited(base: Organisation) -> Organisation:
    return add_invitations(base, random_state=6)


def test_pure_and_reproducible(base: Organisation, invited: Organisation) -> None:
    before = len(base.responses)
    again = add_invitations(base, random_state=6)
    assert len(base.responses) == before
    assert base.invitations is None
    assert "invitations" not in base.truth.planted
    pd.testing.assert_frame_equal(again.invitations, invited.invitations)
    pd.testing.assert_frame_equal(again.responses, invited.responses)
    other = add_invitations(base, random_state=7)
    assert not other.invitations["sent"].equals(invited.invitations["sent"])


def test_tables_stay_valid_and_linked(invited: Organisation) -> None:
    validate(invited.responses, table="responses")
    validate(invited.invitations, table="invitations")
    check_invitations(invited.invitations, invited.responses)
    inv = invited.invitations
    assert list(inv.columns) == [
        "invitation_id",
        "silo",
        "source_id",
        "instrument",
        "sent",
        "channel",
    ]
    assert inv["invitation_id"].is_unique
    assert (inv["instrument"] == "nps").all()
    assert inv["sent"].is_monotonic_increasing
    assert (inv["sent"] >= invited.start).all()
    linked = invited.responses[invited.responses["invitation_id"].notna()]
    # one response per invitation at most, after its invitation
    per_invitation = linked.groupby("invitation_id")["response_id"].nunique()
    assert per_invitation.max() == 1
    sent = inv.set_index("invitation_id")["sent"].reindex(linked["invitation_id"]).to_numpy()
    assert (linked["timestamp"].to_numpy() >= sent).all()
    lag = linked["timestamp"].to_numpy() - sent
    assert lag.max() <= np.timedelta64(14, "D")


def test_counts_reconcile(base: Organisation, invited: Organisation) -> None:
    planted = invited.truth.planted["invitations"]
    truth = planted["invitations"]
    assert planted["n_invited"] == len(invited.invitations) == len(truth)
    linked_ids = invited.responses["invitation_id"].dropna().unique()
    assert planted["n_responded"] == len(linked_ids) == int(truth["responded"].sum())
    assert len(base.responses) - len(invited.responses) == planted["n_removed_rows"]
    removed = set(truth.loc[~truth["responded"], "response_id"])
    assert removed.isdisjoint(set(invited.responses["response_id"]))
    assert removed <= set(base.responses["response_id"])
    # Responses never invited are kept as they were (unattributable ones among them).
    unattributable = set(base.truth.unattributable["response_id"])
    assert unattributable <= set(invited.responses["response_id"])
    kept = invited.responses[invited.responses["invitation_id"].isna()]
    assert not set(kept["response_id"]) & set(truth["response_id"])


def test_planted_nps_and_bias(invited: Organisation) -> None:
    planted = invited.truth.planted["invitations"]
    truth = planted["invitations"]
    # The population NPS is the NPS of every invited answer, as drawn.
    population = nps(truth.rename(columns={"ltr": "score"}), "score")["estimate"].iloc[0]
    assert planted["population_nps"] == pytest.approx(population, rel=1e-12)
    linked = invited.responses[invited.responses["invitation_id"].notna()]
    respondents = nps(linked[linked["item"] == "ltr"], "score")["estimate"].iloc[0]
    assert planted["respondent_nps"] == pytest.approx(respondents, rel=1e-12)
    p, c = truth["propensity"].to_numpy(), truth["category"].to_numpy()
    assert planted["expected_bias"] == pytest.approx(
        100 * (p * c).sum() / p.sum() - population, rel=1e-12
    )
    assert planted["expected_bias"] < -3  # the low-NPS roles answer more
    assert planted["realised_bias"] == pytest.approx(respondents - population, rel=1e-12)


def test_response_depends_on_role_and_covariates(invited: Organisation) -> None:
    truth = invited.truth.planted["invitations"]["invitations"]
    by_role = truth.groupby("role")["propensity"].mean()
    assert by_role["customer"] < by_role["partner"] < by_role["worker"]
    workers = truth[truth["role"] == "worker"]
    gig = workers.loc[workers["engagement"] == "gig", "propensity"]
    interns = workers.loc[workers["engagement"] == "intern", "propensity"]
    assert len(gig) > 0
    assert len(interns) > 0
    assert gig.mean() > interns.mean()
    # Tenure: longer tenure, higher propensity within a role x engagement cell.
    cell = workers[workers["engagement"] == "full_time"]
    order = np.argsort(cell["tenure_years"].to_numpy())
    assert np.all(np.diff(cell["propensity"].to_numpy()[order]) >= -1e-12)
    # The realised response rate of each role is near its mean propensity (binomial:
    # within 4 standard errors).
    rates = truth.groupby("role").agg(p=("propensity", "mean"), r=("responded", "mean"))
    n = truth.groupby("role").size()
    se = np.sqrt(rates["p"] * (1 - rates["p"]) / n)
    assert ((rates["r"] - rates["p"]).abs() <= 4 * se).all()


def test_defaults_and_options(base: Organisation) -> None:
    everyone_answers = add_invitations(
        base,
        random_state=1,
        role_log_odds=dict.fromkeys(ROLE_LOG_ODDS, 40.0),
        engagement_log_odds={},
        tenure_log_odds=0.0,
    )
    planted = everyone_answers.truth.planted["invitations"]
    assert planted["n_responded"] == planted["n_invited"]
    assert planted["n_removed_rows"] == 0
    assert planted["expected_bias"] == pytest.approx(0.0, abs=1e-9)
    half = add_invitations(base, random_state=1, invite_share={"customer": 0.5})
    inv_silos = half.invitations["silo"].value_counts()
    assert "workers" not in inv_silos.index  # roles not named are not invited
    assert "customers" in inv_silos.index
    steeper = add_invitations(base, random_state=1, nps_log_odds=3.0)
    default = add_invitations(base, random_state=1)
    assert (
        steeper.truth.planted["invitations"]["expected_bias"]
        < default.truth.planted["invitations"]["expected_bias"]
    )
    with pytest.raises(ParameterError, match="invite_share"):
        add_invitations(base, random_state=1, invite_share=1.5)
    with pytest.raises(ParameterError, match="unknown role"):
        add_invitations(base, random_state=1, invite_share={"client": 0.5})
    with pytest.raises(ParameterError, match="lag_days"):
        add_invitations(base, random_state=1, lag_days=-1)


def test_after_the_other_steps_no_link_dangles(base: Organisation) -> None:
    # The lead's order: teams -> journeys -> instruments -> comments -> invitations.
    earlier = add_instruments(
        add_journeys(add_teams(base, random_state=1), random_state=2), random_state=3
    )
    commented = add_comments(earlier, random_state=3)
    org = add_invitations(commented, random_state=4)
    linked = set(org.comments["response_id"].dropna())
    assert linked <= set(org.responses["response_id"])
    # Commented answers keep no invitation (they are never removed).
    with_comment = org.responses[org.responses["response_id"].isin(linked)]
    assert with_comment["invitation_id"].isna().all()
    assert org.truth.planted["comments"] is commented.truth.planted["comments"]
    check_invitations(org.invitations, org.responses)
    validate(org.responses, table="responses")
    # The other instruments' answers are not invited and all kept.
    other = commented.responses["instrument"] != "nps"
    kept_other = set(commented.responses.loc[other, "response_id"]) - set(
        org.truth.planted["invitations"]["invitations"]["response_id"]
    )
    assert kept_other <= set(org.responses["response_id"])


def test_runs_once(invited: Organisation) -> None:
    with pytest.raises(ParameterError, match="already has invitations"):
        add_invitations(invited, random_state=9)
