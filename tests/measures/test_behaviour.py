"""Behaviour signals for every role (issue 15, item 4).

Checked by hand on a small frame (recency, frequency, trend, tenure, the hazard of a
Kaplan-Meier curve worked out below), against the repeat-buying model's own output
(P(alive), exactly), against statsmodels' ``SurvfuncRight`` with ``entry=`` (the
delayed-entry hazard), on the organisation simulator (P(alive) against the planted
``alive``; the hazard against the exits that happened after ``as_of``), and by
invariants: nothing after ``as_of`` is read, the order of rows does not matter, rows
kept and left out add up to the input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from hxmetrics.datasets import simulate_organisation
from hxmetrics.errors import HxWarning, InputTableError, ParameterError, PrivacyError
from hxmetrics.measures._result import PROTOCOL_COLUMNS, is_result
from hxmetrics.measures.behaviour import SIGNALS, behaviour_profile, behaviour_summary
from hxmetrics.measures.clv import BetaGeo, rfm_summary
from hxmetrics.stakeholders import attribute, merge_episodes

AS_OF = pd.Timestamp("2025-06-30")
MONTH = 365.25 / 12  # days in period "M"
# Published CDNOW estimates (Fader, Hardie & Lee 2005, Sec. 7), weeks.
CDNOW = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")


def _ts(*days: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(days)))


def _hand() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two workers (one also a customer), one customer; the episodes of four people."""
    events = pd.DataFrame(
        {
            "person_id": ["w1"] * 5 + ["h"],
            "role": ["worker"] * 6,
            "timestamp": _ts(
                "2025-06-29",  # 1 day before AS_OF: period 0 back, k = 2
                "2025-05-15",  # 46 days: 1 period back (46 / 30.44), k = 1
                "2025-05-10",  # 51 days: k = 1
                "2025-01-10",  # 171 days: outside a 3-month window
                "2025-07-05",  # after AS_OF: never read
                "2025-03-01",
            ),
        }
    )
    transactions = pd.DataFrame(
        {
            "person_id": ["h", "h", "c", "c", "c"],
            "role": ["customer"] * 5,
            "timestamp": _ts("2025-06-01", "2025-06-20", "2024-11-02", "2025-02-14", "2025-04-30"),
        }
    )
    episodes = pd.DataFrame(
        {
            "person_id": ["w1", "h", "x1", "x2", "h"],
            "role": ["worker", "worker", "worker", "worker", "customer"],
            "start": _ts("2024-06-30", "2020-01-01", "2024-01-01", "2023-01-01", "2025-05-15"),
            "end": _ts("NaT", "2025-04-01", "2025-01-20", "NaT", "NaT"),
        }
    )
    return events, transactions, episodes


def test_hand_computed_signals() -> None:
    events, transactions, episodes = _hand()
    out = behaviour_profile(
        events, transactions, as_of=AS_OF, episodes=episodes, window=3, model=CDNOW
    )
    assert out[["person_id", "role"]].to_numpy().tolist() == [
        ["c", "customer"],
        ["h", "customer"],
        ["h", "worker"],
        ["w1", "worker"],
    ]
    row = out.set_index(["person_id", "role"])
    w1 = row.loc[("w1", "worker")]
    assert w1["recency_days"] == 1.0
    assert w1["frequency"] == 3  # 2025-01-10 is outside (as_of - 3 months, as_of]
    assert w1["n_activities"] == 4  # 2025-07-05 is after as_of
    # Counts of the 3 periods, oldest first: [0, 2, 1]; slope = 0.5, as np.polyfit.
    assert w1["activity_trend"] == pytest.approx(np.polyfit([0, 1, 2], [0, 2, 1], 1)[0])
    assert w1["tenure_days"] == 365.0
    assert w1["tenure_from"] == "episode_start"
    assert bool(w1["in_role"])
    # The worker curve: durations 365 (w1, censored at as_of), 385 (x1, left),
    # 911 (x2, censored), 1917 (h, left). S(365) = 1; at 385, 1 of 3 at risk leaves:
    # S(365 + 30.44) = 2/3, so the hazard of the next month at tenure 365 is 1/3.
    assert w1["leave_hazard"] == pytest.approx(1 / 3, abs=1e-15)
    assert np.isnan(w1["p_alive"])
    hw = row.loc[("h", "worker")]
    ended = (pd.Timestamp("2025-04-01") - pd.Timestamp("2020-01-01")).days
    assert hw["tenure_days"] == ended
    assert not bool(hw["in_role"])
    assert np.isnan(hw["leave_hazard"])  # no longer a worker at as_of
    assert hw["frequency"] == 0
    assert hw["recency_days"] == (AS_OF - pd.Timestamp("2025-03-01")).days
    hc = row.loc[("h", "customer")]
    assert hc["tenure_days"] == 46.0
    assert hc["tenure_from"] == "episode_start"
    c = row.loc[("c", "customer")]
    # No customer episode of c: tenure from the first activity, said so.
    assert c["tenure_from"] == "first_activity"
    assert c["tenure_days"] == (AS_OF - pd.Timestamp("2024-11-02")).days
    assert pd.isna(c["in_role"])
    meta = out.attrs["hxmetrics"]
    assert meta["missing"]["rows_without_episode"] == 1
    assert meta["missing"]["hazard_not_in_role_at_as_of"] == 1
    assert meta["excluded"]["events_after_as_of"] == 1
    assert meta["churn"]["hazard"]["estimator"] == "kaplan_meier"


def test_p_alive_is_the_models_own_output() -> None:
    events, transactions, episodes = _hand()
    out = behaviour_profile(events, transactions, as_of=AS_OF, episodes=episodes, model=CDNOW)
    rfm = rfm_summary(
        transactions, customer="person_id", time="timestamp", observation_end=AS_OF, unit="W"
    )
    expected = pd.Series(CDNOW.probability_alive(rfm), index=rfm["person_id"].to_numpy())
    got = out[out["role"] == "customer"].set_index("person_id")["p_alive"]
    assert got.to_dict() == expected.to_dict()  # exact: the same call on the same numbers


@pytest.fixture(scope="module")
def org1():
    return simulate_organisation(n_people=3000, random_state=1)


def _attributed(org):
    tr = org.truth
    ev = attribute(org.events, crosswalk=tr.crosswalk, episodes=tr.episodes)
    tx = attribute(org.transactions, crosswalk=tr.crosswalk, episodes=tr.episodes)
    return ev, tx


def test_fitted_p_alive_equals_betageo_fit_and_discriminates_truth(org1) -> None:
    ev, tx = _attributed(org1)
    out = behaviour_profile(ev, tx, as_of=org1.end, episodes=org1.truth.episodes)
    # Exact: fitting BG/NBD on the same RFM summary gives the same P(alive).
    cust = tx[(tx["role"] == "customer")]
    rfm = rfm_summary(
        cust.assign(person_id=cust["person_id"].astype(str)),
        customer="person_id",
        time="timestamp",
        observation_end=org1.end,
        unit="W",
    )
    model = BetaGeo().fit(rfm)
    got = out[out["role"] == "customer"].set_index("person_id")["p_alive"]
    expected = pd.Series(model.probability_alive(rfm), index=rfm["person_id"].to_numpy())
    assert got.reindex(expected.index).to_numpy().tolist() == expected.to_numpy().tolist()
    assert out.attrs["hxmetrics"]["churn"]["p_alive"]["params"] == model.params_
    # Against the planted truth: alive at the observation end (the latest customer
    # episode of each person). AUC by the Mann-Whitney rank formula. Found 0.952
    # (seed 1), 0.950 and 0.943 (seeds 2, 3) with about 2,250 customers, where the AUC's
    # standard error is about 0.005; recency alone gives 0.65-0.69. The bound 0.85 sits
    # 20 standard errors below what the model achieves and far above recency: a P(alive)
    # with the wrong T, unit or customers fails it.
    latent = org1.truth.clv.latent.sort_values("start").groupby("person_id")["alive"].last()
    both = got.dropna().to_frame().join(latent, how="inner")
    assert len(both) > 2000
    ranks = stats.rankdata(both["p_alive"])
    pos = both["alive"].to_numpy(dtype=bool)
    n1, n0 = pos.sum(), (~pos).sum()
    auc = (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    assert auc > 0.85


def _observed_exits(org, prof: pd.DataFrame, as_of: pd.Timestamp, days: float) -> pd.DataFrame:
    """Each profiled person's exit from the role's current episode in (as_of, as_of+days]."""
    ep = merge_episodes(org.truth.episodes)
    ep = ep[ep["start"] <= as_of].sort_values("start").groupby(["person_id", "role"]).last()
    ep["left"] = (
        ep["end"].notna() & (ep["end"] > as_of) & (ep["end"] <= as_of + pd.Timedelta(days=days))
    )
    out = prof.merge(ep["left"].reset_index(), on=["person_id", "role"])
    return out[np.isfinite(out["leave_hazard"])]


def test_tenure_hazard_matches_the_exits_that_followed() -> None:
    """Predicted exits in the next quarter against those the simulator then made.

    The observed count O among persons in role at as_of against E = sum of their
    hazards; under calibration O - E has variance sum h(1 - h) (a Poisson-binomial
    count), so |z| < 3 is the nominal 99.7% band (the hazards' own estimation error,
    from a curve of ~1,000 episodes, adds a little; seeds 1-8 gave |z| <= 1.2 each).
    The simulator's rosters hold only the episodes running in its window (from
    org.start): with observed_from those started earlier enter the risk set then.
    Without it the plain Kaplan-Meier curve sees the long-serving survivors of earlier
    cohorts and none of their early leavers, and under-predicts (z 3-4 per seed).
    """
    obs, exp, var, exp_plain, var_plain = 0, 0.0, 0.0, 0.0, 0.0
    for seed in (1, 3):
        org = simulate_organisation(n_people=3000, random_state=seed)
        ev, _ = _attributed(org)
        as_of = org.end - pd.Timedelta(days=400)  # a year and more of future to see
        kw = {"as_of": as_of, "episodes": org.truth.episodes, "role": ["worker", "partner"]}
        prof = behaviour_profile(ev, period="Q", observed_from=org.start, **kw)
        assert prof.attrs["hxmetrics"]["churn"]["hazard"]["estimator"] == (
            "kaplan_meier_delayed_entry"
        )
        j = _observed_exits(org, prof, as_of, 365.25 / 4)
        h = j["leave_hazard"].to_numpy()
        obs += int(j["left"].sum())
        exp += h.sum()
        var += (h * (1 - h)).sum()
        plain = _observed_exits(org, behaviour_profile(ev, period="Q", **kw), as_of, 365.25 / 4)
        exp_plain += plain["leave_hazard"].sum()
        var_plain += (plain["leave_hazard"] * (1 - plain["leave_hazard"])).sum()
    assert obs > 40  # enough exits for the comparison to bite
    assert abs(obs - exp) / np.sqrt(var) < 3
    assert (obs - exp_plain) / np.sqrt(var_plain) > 3  # the bias observed_from removes


def _random_episodes(rng: np.random.Generator, n: int, as_of: pd.Timestamp) -> pd.DataFrame:
    start = as_of - pd.to_timedelta(rng.uniform(10, 3000, n), unit="D")
    length = pd.to_timedelta(rng.exponential(700, n), unit="D")
    end = (start + length).where(rng.random(n) < 0.9)  # 10% open
    return pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n)],
            "role": "worker",
            "start": start.round("s"),
            "end": end.round("s"),
        }
    )


def _events_at(episodes: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"person_id": episodes["person_id"], "role": "worker", "timestamp": as_of})


def test_delayed_entry_hazard_matches_statsmodels() -> None:
    """Reference: statsmodels 0.15 ``SurvfuncRight(time, status, entry=entry)``, whose
    risk set at u is the subjects with entry < u <= time, as ours."""
    import statsmodels.api as sm  # a core dependency: imported, never skipped

    rng = np.random.default_rng(7)
    as_of = pd.Timestamp("2025-01-01")
    ep = _random_episodes(rng, 400, as_of)
    observed_from = pd.Timestamp("2021-01-01")
    out = behaviour_profile(
        _events_at(ep, as_of), as_of=as_of, episodes=ep, observed_from=observed_from
    )
    observed = ep["end"].notna() & (ep["end"] <= as_of)
    stop = ep["end"].where(observed, as_of)
    time = ((stop - ep["start"]).dt.total_seconds() / 86_400).to_numpy()
    entry = np.maximum(((observed_from - ep["start"]).dt.total_seconds() / 86_400).to_numpy(), 0)
    seen = time > entry
    assert out.attrs["hxmetrics"]["missing"]["episodes_ended_before_observed_from"] == int(
        (~seen).sum()
    )
    sf = sm.SurvfuncRight(time[seen], observed.to_numpy()[seen].astype(float), entry=entry[seen])

    def s_at(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(sf.surv_times, x, side="right") - 1
        return np.where(i >= 0, sf.surv_prob[np.maximum(i, 0)], 1.0)

    rows = out[np.isfinite(out["leave_hazard"])]
    assert len(rows) > 20
    t = rows["tenure_days"].to_numpy()
    ref = 1 - s_at(t + MONTH) / s_at(t)
    np.testing.assert_allclose(rows["leave_hazard"].to_numpy(), ref, rtol=1e-12, atol=1e-15)
    # Observed from before every start, delayed entry is no entry: the plain curve.
    early = behaviour_profile(
        _events_at(ep, as_of), as_of=as_of, episodes=ep, observed_from="1990-01-01"
    )
    plain = behaviour_profile(_events_at(ep, as_of), as_of=as_of, episodes=ep)
    np.testing.assert_allclose(
        early["leave_hazard"].to_numpy(), plain["leave_hazard"].to_numpy(), rtol=1e-12
    )


def test_nothing_after_as_of_is_read(org1) -> None:
    ev, tx = _attributed(org1)
    as_of = org1.end - pd.Timedelta(days=400)
    ep = org1.truth.episodes
    kw = {"as_of": as_of, "by": "hybrid_type", "observed_from": org1.start}
    full = behaviour_profile(ev, tx, episodes=ep, **kw)
    # The same data cut at as_of: future rows dropped, future episode ends unknown
    # (open), episodes starting later dropped.
    cut_ep = ep[ep["start"] <= as_of].assign(
        end=lambda d: d["end"].where(d["end"].notna() & (d["end"] <= as_of))
    )
    past = behaviour_profile(
        ev[ev["timestamp"] <= as_of], tx[tx["timestamp"] <= as_of], episodes=cut_ep, **kw
    )
    assert (ev["timestamp"] > as_of).sum() > 100
    assert (tx["timestamp"] > as_of).sum() > 100
    pd.testing.assert_frame_equal(full, past)


def test_rows_kept_and_left_out_add_up() -> None:
    events, transactions, episodes = _hand()
    extra = pd.DataFrame(
        {
            "person_id": [None, "w1", "w1", "p9"],
            "role": ["worker", None, "worker", "partner"],
            "timestamp": _ts("2025-01-01", "2025-01-01", "NaT", "2025-01-01"),
        }
    )
    ev = pd.concat([events, extra], ignore_index=True)
    out = behaviour_profile(
        ev, transactions, as_of=AS_OF, episodes=episodes, role=["worker", "customer"], model=CDNOW
    )
    excluded = out.attrs["hxmetrics"]["excluded"]
    assert excluded["events_missing_person"] == 1
    assert excluded["events_missing_role"] == 1
    assert excluded["events_missing_time"] == 1
    assert excluded["events_other_roles"] == 1
    assert excluded["events_after_as_of"] == 1
    assert int(out["n_activities"].sum()) + sum(excluded.values()) == len(ev) + len(transactions)


ROLE_LIST = ["customer", "worker", "partner"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],  # each example fits nothing, but builds frames
)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(ROLE_LIST), st.integers(0, 720)),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_order_of_rows_does_not_matter(rows, seed) -> None:
    as_of = pd.Timestamp("2025-01-01")
    frame = pd.DataFrame(rows, columns=["person", "role", "days"])
    frame = pd.DataFrame(
        {
            "person_id": "p" + frame["person"].astype(str),
            "role": frame["role"],
            "timestamp": as_of - pd.to_timedelta(frame["days"], unit="D"),
            "segment": frame["days"] % 3,  # carried by=: ties broken by value
        }
    )
    persons = sorted(frame["person_id"].unique())
    episodes = pd.DataFrame(
        {
            "person_id": [p for p in persons for _ in ROLE_LIST],
            "role": ROLE_LIST * len(persons),
            "start": pd.Timestamp("2022-01-01"),
            "end": pd.NaT,
        }
    )
    episodes["end"] = episodes["end"].astype("datetime64[ns]")
    tx = frame[frame["role"] == "customer"]
    ev = frame[frame["role"] != "customer"]
    rng = np.random.default_rng(seed)
    kw = {"as_of": as_of, "episodes": episodes, "model": CDNOW, "by": "segment", "window": 6}

    def run(e: pd.DataFrame, t: pd.DataFrame, eps: pd.DataFrame) -> pd.DataFrame:
        with warnings.catch_warnings():
            # No customer transactions in an example: the warning says p_alive is missing.
            warnings.simplefilter("ignore", HxWarning)
            return behaviour_profile(
                e if len(e) else None, t if len(t) else None, **{**kw, "episodes": eps}
            )

    if len(ev) == 0 and len(tx) == 0:
        return
    a = run(ev, tx, episodes)
    b = run(
        ev.sample(frac=1, random_state=rng),
        tx.sample(frac=1, random_state=rng),
        episodes.sample(frac=1, random_state=rng),
    )
    pd.testing.assert_frame_equal(a, b)
    assert (a["frequency"] <= a["n_activities"]).all()
    # Every episode started before any activity: tenure covers the time since the last.
    assert (a["recency_days"] >= 0).all()
    assert (a["tenure_days"] >= a["recency_days"]).all()
    h = a["leave_hazard"].dropna()
    assert ((h >= 0) & (h <= 1)).all()


def test_polars_input_gives_the_same_profile() -> None:
    # Why: polars is an optional engine, a test extra that CI installs.
    pl = pytest.importorskip("polars", reason="polars is an optional engine")
    events, transactions, episodes = _hand()
    a = behaviour_profile(events, transactions, as_of=AS_OF, episodes=episodes, model=CDNOW)
    b = behaviour_profile(
        pl.from_pandas(events),
        pl.from_pandas(transactions),
        as_of=AS_OF,
        episodes=pl.from_pandas(episodes),
        model=CDNOW,
    )
    pd.testing.assert_frame_equal(a, b)


def test_trend_is_the_slope_of_the_period_counts() -> None:
    """Against np.polyfit of each person's counts per period (a loop, for the check)."""
    rng = np.random.default_rng(11)
    n = 600
    as_of = pd.Timestamp("2025-03-15 09:30")
    ev = pd.DataFrame(
        {
            "person_id": rng.choice([f"p{i}" for i in range(30)], n),
            "role": "worker",
            "timestamp": as_of - pd.to_timedelta(rng.uniform(0, 500, n), unit="D"),
        }
    )
    ep = pd.DataFrame(
        {"person_id": sorted(ev["person_id"].unique()), "role": "worker", "start": "2020-01-01"}
    ).assign(start=lambda d: pd.to_datetime(d["start"]), end=pd.NaT)
    ep["end"] = ep["end"].astype("datetime64[ns]")
    out = behaviour_profile(ev, as_of=as_of, episodes=ep, period="W", window=8)
    back = np.floor((as_of - ev["timestamp"]).dt.total_seconds() / 86_400 / 7).astype(int)
    for person, part in out.set_index("person_id").iterrows():
        mine = back[ev["person_id"] == person]
        counts = np.bincount(7 - mine[mine < 8], minlength=8)
        assert part["frequency"] == counts.sum()
        slope = np.polyfit(np.arange(8), counts, 1)[0]
        assert part["activity_trend"] == pytest.approx(slope, abs=1e-12)  # lstsq rounding


# ------------------------------------------------------------------------- bad input


def test_missing_column_is_named() -> None:
    events, transactions, episodes = _hand()
    with pytest.raises(InputTableError, match="timestamp"):
        behaviour_profile(events.drop(columns="timestamp"), as_of=AS_OF, episodes=episodes)
    with pytest.raises(InputTableError, match=r"transactions.*person_id"):
        behaviour_profile(
            events, transactions.drop(columns="person_id"), as_of=AS_OF, episodes=episodes
        )
    with pytest.raises(InputTableError, match=r"episodes.*end"):
        behaviour_profile(events, as_of=AS_OF, episodes=episodes.drop(columns="end"))


def test_an_identifier_is_not_carried_beside_person_id() -> None:
    # Found in review: by="email" put each person's email in the profile; a summary by
    # a silo id gave groups of one.
    events, _transactions, episodes = _hand()
    with pytest.raises(PrivacyError, match="cannot group by 'email'"):
        behaviour_profile(events.assign(email="x"), as_of=AS_OF, episodes=episodes, by="email")
    profile = behaviour_profile(events, as_of=AS_OF, episodes=episodes)
    with pytest.raises(PrivacyError, match="cannot group by 'source_id'"):
        behaviour_summary(profile.assign(source_id="S1"), by=["role", "source_id"])


def test_as_of_before_all_data() -> None:
    events, transactions, episodes = _hand()
    with pytest.raises(ParameterError, match="before all the data"):
        behaviour_profile(events, transactions, as_of="2000-01-01", episodes=episodes)
    with pytest.raises(ParameterError, match="as_of"):
        behaviour_profile(events, as_of=None, episodes=episodes)


def test_roles_without_episodes() -> None:
    events, transactions, episodes = _hand()
    with pytest.raises(ParameterError, match=r"\['worker'\].*episodes="):
        behaviour_profile(events, transactions, as_of=AS_OF, model=CDNOW)
    with pytest.raises(ParameterError, match=r"no episodes of role\(s\) \['worker'\]"):
        behaviour_profile(events, as_of=AS_OF, episodes=episodes[episodes["role"] == "customer"])
    # Customers alone need no episodes (tenure from the first activity, said so).
    out = behaviour_profile(None, transactions, as_of=AS_OF, model=CDNOW)
    assert (out["tenure_from"] == "first_activity").all()


def test_other_bad_arguments() -> None:
    events, transactions, episodes = _hand()
    bad_role = events.assign(role=["worker"] * 5 + ["employee"])
    with pytest.raises(InputTableError, match="not a role"):
        behaviour_profile(bad_role, as_of=AS_OF, episodes=episodes)
    with pytest.raises(ParameterError, match="window"):
        behaviour_profile(events, as_of=AS_OF, episodes=episodes, window=1)
    with pytest.raises(ParameterError, match="unit"):
        behaviour_profile(
            events, transactions, as_of=AS_OF, episodes=episodes, model=CDNOW, unit="D"
        )
    with pytest.raises(ParameterError, match="time zone"):
        behaviour_profile(events, as_of=AS_OF.tz_localize("UTC"), episodes=episodes)
    with pytest.raises(ParameterError, match="observed_from"):
        behaviour_profile(events, as_of=AS_OF, episodes=episodes, observed_from="2026-01-01")
    with pytest.raises(ParameterError, match="events or transactions"):
        behaviour_profile(None, as_of=AS_OF)
    with pytest.raises(InputTableError, match="timestamps"):
        behaviour_profile(events.assign(timestamp="2025-01-01"), as_of=AS_OF, episodes=episodes)


def test_customers_without_transactions_warn() -> None:
    events, _, episodes = _hand()
    ev = pd.concat(
        [events, pd.DataFrame({"person_id": ["h"], "role": ["customer"], "timestamp": AS_OF})]
    )
    with pytest.warns(HxWarning, match="p_alive"):
        out = behaviour_profile(ev, as_of=AS_OF, episodes=episodes)
    assert out.attrs["hxmetrics"]["missing"]["customers_without_transactions"] == 1


# ------------------------------------------------------------------------- summary


def test_summary_means_medians_and_intervals() -> None:
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 10.0, 40)
    prof = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(50)],
            "role": ["worker"] * 40 + ["partner"] * 10,
            "recency_days": np.r_[values, np.arange(1.0, 11.0)],
            "p_alive": np.nan,  # not a worker's or partner's signal: no row at all
        }
    )
    out = behaviour_summary(prof)
    assert is_result(out)
    assert list(out.columns[:2]) == ["measure", "role"]
    assert all(c in out.columns for c in PROTOCOL_COLUMNS)
    assert set(out["measure"]) == {"recency_days"}
    mean = out[(out["statistic"] == "mean") & (out["role"] == "worker")].iloc[0]
    ref = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)  # scipy >= 1.10
    assert mean["estimate"] == pytest.approx(values.mean(), rel=1e-13)
    assert mean["ci_low"] == pytest.approx(ref.low, rel=1e-12)
    assert mean["ci_high"] == pytest.approx(ref.high, rel=1e-12)
    assert mean["n"] == 40
    assert mean["n_excluded_no_value"] == 0
    # The median of 1..10 and its 95% order-statistic interval: with B ~ Bin(10, 1/2),
    # P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2) = 56/1024, so [X(2), X(9)] = [2, 9]
    # (coverage 1 - 22/1024 = 0.979; Conover 1999, Sec. 3.2).
    med = out[(out["statistic"] == "median") & (out["role"] == "partner")].iloc[0]
    assert (med["estimate"], med["ci_low"], med["ci_high"]) == (5.5, 2.0, 9.0)
    assert np.isnan(med["se"])
    # Sorted by group, then statistic; the exclusions keyed by reason (the protocol).
    assert out[["role", "statistic"]].to_numpy().tolist() == [
        ["partner", "mean"],
        ["partner", "median"],
        ["worker", "mean"],
        ["worker", "median"],
    ]
    assert out.attrs["hxmetrics"]["measures"] == ["recency_days"]
    assert out.attrs["hxmetrics"]["excluded"] == {"no_value": 0}


def test_summary_without_any_value_is_empty() -> None:
    prof = pd.DataFrame({"person_id": ["a", "b"], "role": "worker", "p_alive": np.nan})
    out = behaviour_summary(prof, signals=["p_alive"])
    assert len(out) == 0
    assert is_result(out)
    assert list(out.columns) == list(behaviour_summary(prof.assign(p_alive=0.5)).columns)


def test_summary_suppresses_small_groups() -> None:
    prof = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(23)],
            "role": ["customer"] * 12 + ["worker"] * 8 + ["partner"] * 3,
            "frequency": pd.array(np.arange(23), dtype="Int64"),
        }
    )
    out = behaviour_summary(prof, signals=["frequency"], min_n=5)
    partner = out[out["role"] == "partner"]
    assert partner["suppressed"].all()
    assert partner["estimate"].isna().all()
    assert partner["n"].isna().all()
    # With one group hidden, the next smallest is hidden too (its complement).
    assert out[out["role"] == "worker"]["suppressed"].all()
    assert not out[out["role"] == "customer"]["suppressed"].any()


def test_summary_of_a_profile_by_role_and_hybrid_type(org1) -> None:
    ev, tx = _attributed(org1)
    prof = behaviour_profile(ev, tx, as_of=org1.end, episodes=org1.truth.episodes, by="hybrid_type")
    out = behaviour_summary(prof, by=["role", "hybrid_type"], min_n=5)
    assert set(out["measure"]) == set(SIGNALS)
    # p_alive only for customers, the hazard only for workers and partners.
    assert set(out.loc[out["measure"] == "p_alive", "role"]) == {"customer"}
    assert "customer" not in set(out.loc[out["measure"] == "leave_hazard", "role"])
    shown = out[~out["suppressed"]]
    assert (shown["n"] >= 5).all()
    pa = out[(out["measure"] == "p_alive") & ~out["suppressed"]]
    assert ((pa["estimate"] >= 0) & (pa["estimate"] <= 1)).all()
