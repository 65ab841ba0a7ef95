"""Ticket status histories: contract, agreement with the tickets, truth recovered.

The checks read the histories with plain pandas (group by ticket, time spent in a
status = time to the ticket's next status), not with the simulator's helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, load_sample, simulate_organisation
from hxmetrics.datasets._recipe import TICKET_STATUSES
from hxmetrics.tables import validate

# Allowed moves of the issue-to-resolution chain (the recipe's, written out again).
ALLOWED = {
    ("opened", "triaged"),
    ("triaged", "in_progress"),
    ("in_progress", "waiting_on_customer"),
    ("waiting_on_customer", "in_progress"),
    ("in_progress", "resolved"),
    ("resolved", "reopened"),
    ("reopened", "in_progress"),
    ("resolved", "closed"),
}


def _moves(events: pd.DataFrame) -> pd.DataFrame:
    """Each status with the ticket's next status and the hours until it (NaN: last)."""
    e = events.sort_values(["ticket_id", "timestamp"], kind="stable").reset_index(drop=True)
    same = e["ticket_id"].shift(-1) == e["ticket_id"]
    e["next_status"] = e["status"].shift(-1).where(same)
    e["hours"] = ((e["timestamp"].shift(-1) - e["timestamp"]).dt.total_seconds() / 3600).where(same)
    return e


@pytest.fixture(scope="module")
def stalled() -> Organisation:
    return simulate_organisation(12_000, random_state=21, ticket_stalls=True)


@pytest.fixture(scope="module")
def large() -> Organisation:
    """Many tickets, no stalls: the histories' own distributions."""
    return simulate_organisation(40_000, random_state=5)


@pytest.mark.parametrize("which", ["org", "stalled"])
def test_histories_obey_the_contract_and_the_chain(
    which: str, org: Organisation, stalled: Organisation
) -> None:
    o = org if which == "org" else stalled
    ev = o.ticket_events
    assert ev is not None
    pd.testing.assert_frame_equal(
        validate(ev, table="ticket_events", parents={"tickets": o.tickets}), ev
    )
    assert set(ev["status"]) == set(TICKET_STATUSES)
    m = _moves(ev)
    # Strictly later, move by move, and only along the chain.
    assert (m["hours"].dropna() > 0).all()
    pairs = set(zip(m["status"], m["next_status"], strict=True))
    assert {p for p in pairs if isinstance(p[1], str)} <= ALLOWED
    first = m.groupby("ticket_id").first()
    assert (first["status"] == "opened").all()
    assert (ev["timestamp"] < o.end).all()
    # The team of the history is the ticket's.
    teams = ev["ticket_id"].map(o.tickets.set_index("ticket_id")["team"])
    assert (teams == ev["team"]).all()


@pytest.mark.parametrize("which", ["org", "stalled"])
def test_histories_agree_with_the_tickets(
    which: str, org: Organisation, stalled: Organisation
) -> None:
    o = org if which == "org" else stalled
    ev, t = o.ticket_events, o.tickets.set_index("ticket_id")
    assert ev is not None
    assert set(ev["ticket_id"]) == set(t.index)
    opened = ev[ev["status"] == "opened"].set_index("ticket_id")["timestamp"]
    assert opened.reindex(t.index).equals(t["opened"])
    # First response = the first move out of triage (the first in_progress).
    first_ip = ev[ev["status"] == "in_progress"].groupby("ticket_id")["timestamp"].min()
    pd.testing.assert_series_equal(
        first_ip.reindex(t.index), t["first_response"], check_names=False
    )
    closed = ev[ev["status"] == "closed"].set_index("ticket_id")["timestamp"]
    pd.testing.assert_series_equal(closed.reindex(t.index), t["closed"], check_names=False)
    # Reopen loops: as many as the ticket says once it is closed; no more while open
    # (``reopened`` counts the whole history, partly after the window end).
    n_reopen = (ev["status"] == "reopened").groupby(ev["ticket_id"]).sum().reindex(t.index)
    is_closed = t["closed"].notna()
    assert (n_reopen[is_closed] == t.loc[is_closed, "reopened"]).all()
    assert (n_reopen[~is_closed] <= t.loc[~is_closed, "reopened"]).all()
    last = _moves(ev).groupby("ticket_id")["status"].last().reindex(t.index)
    assert ((last == "closed") == is_closed).all()


def test_truth_paths_agree_with_the_histories(stalled: Organisation) -> None:
    o = stalled
    paths = o.truth.ticket_paths
    ev = o.ticket_events
    assert paths is not None
    assert ev is not None
    t = o.tickets
    assert (paths["ticket_id"] == t["ticket_id"]).all()
    hours = ((t["closed"] - t["opened"]).dt.total_seconds() / 3600).to_numpy()
    done = t["closed"].notna().to_numpy()
    # Timestamps are whole seconds (the CSV round trip): hours agree to 1/3600 of a
    # second's rounding, well inside 1e-5 h (0.036 s).
    np.testing.assert_allclose(paths["closed_hours"].to_numpy()[done], hours[done], atol=1e-5)
    # Open at the end: the true close lies after the end (what the censoring hides).
    age = ((o.end - t["opened"]).dt.total_seconds() / 3600).to_numpy()
    assert (paths["closed_hours"].to_numpy()[~done] >= age[~done] - 1e-5).all()
    waits = (ev["status"] == "waiting_on_customer").groupby(ev["ticket_id"]).sum()
    waits = waits.reindex(t["ticket_id"]).to_numpy()
    extra = (paths["stall_status"] == "waiting_on_customer").to_numpy()
    assert (waits[done] == (paths["pauses"].to_numpy() + extra)[done]).all()
    # A stall is a long time in its status (to the seconds the other visits keep:
    # every status lasts at least a second).
    m = _moves(ev)
    total = m.groupby(["ticket_id", "status"])["hours"].sum().unstack()
    total = total.reindex(t["ticket_id"])
    for status in ("triaged", "waiting_on_customer"):
        sel = (paths["stall_status"] == status).to_numpy() & done
        assert sel.sum() > 10, status
        stall = paths["stall_hours"].to_numpy()[sel]
        assert (total[status].to_numpy()[sel] >= stall - 60 / 3600).all()


def _binomial_ok(below: int, n: int, p: float = 0.5, z: float = 4.0) -> bool:
    return abs(below - n * p) <= z * math.sqrt(n * p * (1 - p))


def test_stage_medians_and_visits_recover_the_truth(large: Organisation) -> None:
    # Tickets opened at least a year before the end are all closed (no stalls): the
    # closed ones are every ticket, not the fast ones. A status's total hours per
    # ticket, divided by the severity's factor (the truth scales by it), has the
    # truth's median of severity 'medium' (factor 1); so the count below it is
    # Binomial(n, 1/2): a distribution-free check, +- 4 standard errors.
    o = large
    ev, itr, svc = o.ticket_events, o.truth.itr, o.truth.service
    assert ev is not None
    assert itr is not None
    t = o.tickets[o.tickets["opened"] < o.end - pd.Timedelta(days=365)]
    assert t["closed"].notna().all()
    factor = svc.groupby("severity")["median_resolution_hours"].sum()
    factor = factor / factor["medium"]
    m = _moves(ev[ev["ticket_id"].isin(t["ticket_id"])])
    total = m.groupby(["ticket_id", "status"])["hours"].sum().unstack()
    info = t.set_index("ticket_id")[["team", "severity"]]
    total = total.join(info)
    scaled = total.drop(columns=["team", "severity"]).div(
        total["severity"].map(factor).astype(float), axis=0
    )
    truth = itr[itr["severity"] == "medium"].set_index(["team", "status"])
    checked = 0
    for (team, status), row in truth.iterrows():
        x = scaled.loc[total["team"] == team, status]
        n_team = int((total["team"] == team).sum())
        visited = int(x.notna().sum())
        assert (
            _binomial_ok(visited, n_team, row["visit_probability"])
            or row["visit_probability"] == 1.0
        ), (team, status, visited, n_team)
        if row["visit_probability"] == 1.0:
            assert visited == n_team
        x = x.dropna()
        if len(x) < 200:
            continue
        below = int((x <= row["median_hours"]).sum())
        assert _binomial_ok(below, len(x)), (team, status, below / len(x), len(x))
        checked += 1
    assert checked >= 30
    # The check can fail: a median 10% off is far outside the band for in_progress.
    x = scaled.loc[total["team"] == "customer_care", "in_progress"]
    wrong = 1.1 * truth.loc[("customer_care", "in_progress"), "median_hours"]
    assert not _binomial_ok(int((x <= wrong).sum()), len(x))


def test_backlog_of_every_team_at_the_end(stalled: Organisation) -> None:
    # With stalls, the end of the window finds open tickets of every team, some of
    # them old (forgotten in triage or waiting on the customer), some unanswered.
    for o in (stalled, load_sample()):
        t = o.tickets
        open_ = t[t["closed"].isna()]
        assert set(open_["team"]) == set(t["team"]), sorted(set(open_["team"]))
        age_days = (o.end - open_["opened"]).dt.total_seconds() / 86_400
        assert (age_days > 30).sum() >= 3
        assert t["first_response"].isna().sum() >= 2
        # The histories show where each open ticket stands.
        ev = o.ticket_events
        assert ev is not None
        last = ev.sort_values("timestamp", kind="stable").groupby("ticket_id")["status"].last()
        assert set(last.reindex(open_["ticket_id"])) <= set(TICKET_STATUSES[:-1])
    plain = simulate_organisation(12_000, random_state=21)
    assert plain.tickets["closed"].isna().sum() < stalled.tickets["closed"].isna().sum() / 3


def test_stalls_touch_only_the_stalled_tickets(stalled: Organisation) -> None:
    plain = simulate_organisation(12_000, random_state=21)
    for name in ("customers", "workers", "partners", "responses", "events", "transactions"):
        pd.testing.assert_frame_equal(plain.tables[name], stalled.tables[name], obj=name)
    paths = stalled.truth.ticket_paths
    assert paths is not None
    assert plain.ticket_events is not None
    assert stalled.ticket_events is not None
    calm = set(paths.loc[paths["stall_status"].isna(), "ticket_id"])
    a = plain.ticket_events[plain.ticket_events["ticket_id"].isin(calm)].reset_index(drop=True)
    b = stalled.ticket_events[stalled.ticket_events["ticket_id"].isin(calm)]
    pd.testing.assert_frame_equal(a, b.reset_index(drop=True))
    # Stall probabilities by team (the recipe's, in params) show in the draws.
    params = stalled.truth.params["tickets"]["stalls"]
    assert params["enabled"] is True
    share = paths["stall_status"].notna().groupby(paths["team"]).agg(["sum", "size"])
    for team, (k, n) in share.iterrows():
        assert _binomial_ok(int(k), int(n), params["probability"][team]), team


@pytest.mark.parametrize(
    ("mu", "sigma", "cases"),
    [
        (math.log(10.0), 1.0, [(1.0, 2.0, 5.0)]),
        (math.log(48.0), 0.9, [(0.7, 4.0, 5.0), (0.3, 4.0, 8.5)]),
    ],
)
def test_quadrature_median_against_direct_draws(
    mu: float, sigma: float, cases: list[tuple[float, float, float]]
) -> None:
    # The truth's medians come from a quadrature of D * S (D log-normal, S a mixture
    # of Betas). Drawn here directly with numpy: the share of draws below it is
    # Binomial(n, 1/2) around one half.
    from hxmetrics.datasets._itr import _quantile_of_product

    median = _quantile_of_product(mu, sigma, cases)
    rng = np.random.default_rng(2024)
    n = 400_000
    weights = np.array([w for w, _, _ in cases])
    which = rng.choice(len(cases), size=n, p=weights / weights.sum())
    a = np.array([c[1] for c in cases])[which]
    b = np.array([c[2] for c in cases])[which]
    x = np.exp(mu + sigma * rng.standard_normal(n)) * rng.beta(a, b)
    assert _binomial_ok(int((x <= median).sum()), n)
    assert not _binomial_ok(int((x <= 1.02 * median).sum()), n)


def test_itr_truth_scales_with_severity(org: Organisation) -> None:
    itr, svc = org.truth.itr, org.truth.service
    assert itr is not None
    assert set(itr["status"]) == set(TICKET_STATUSES) - {"closed"}
    wide = itr.pivot_table(index=["team", "status"], columns="severity", values="median_hours")
    f = svc.groupby("severity")["median_resolution_hours"].sum()
    for sev in ("low", "high", "critical"):
        np.testing.assert_allclose(wide[sev] / wide["medium"], f[sev] / f["medium"], rtol=1e-6)
    # Visit shares: 1 - exp(-rate) of the pauses and reopenings.
    reopen = svc.groupby("team")["reopen_rate"].first()
    got = itr[itr["status"] == "reopened"].groupby("team")["visit_probability"].first()
    np.testing.assert_allclose(got, 1 - np.exp(-reopen.reindex(got.index)), rtol=1e-9)
