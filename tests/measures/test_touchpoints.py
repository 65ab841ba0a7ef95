"""Touchpoints: reach, contacts per person, scores and detractor lift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.datasets import simulate_organisation
from hxmetrics.datasets._journeys import add_journeys
from hxmetrics.errors import InputTableError, ParameterError, PrivacyError
from hxmetrics.measures.nps import nps
from hxmetrics.measures.satisfaction import ces, csat
from hxmetrics.measures.touchpoints import TouchpointSummary, touchpoint_summary
from hxmetrics.stakeholders import attribute
from tests.measures.conftest import to_engine

T0 = pd.Timestamp("2025-03-01 09:00")


def _two_by_two(a: int, b: int, c: int, d: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Answers: a exposed detractors, b exposed others, c unexposed detractors, d others.

    Exposed persons visit the help desk a day before answering.
    """
    n = a + b + c + d
    persons = [f"p{i}" for i in range(n)]
    detractor = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)].astype(bool)
    exposed = np.r_[np.ones(a + b), np.zeros(c + d)].astype(bool)
    answers = pd.DataFrame(
        {
            "person_id": persons,
            "role": "customer",
            "timestamp": T0 + pd.Timedelta(days=2),
            "item": "ltr",
            "score": np.where(detractor, 3.0, 9.0),
        }
    )
    events = pd.DataFrame(
        {
            "person_id": persons,
            "role": "customer",
            "timestamp": T0,
            "touchpoint": np.where(exposed, "help_desk", "web"),
        }
    )
    return events, answers


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize(("a", "b", "c", "d"), [(30, 70, 10, 90), (12, 5, 40, 143), (3, 9, 7, 81)])
def test_lift_and_katz_interval_match_statsmodels(a: int, b: int, c: int, d: int) -> None:
    # Reference: statsmodels 0.15.0, Table2x2([[a, b], [c, d]]).riskratio,
    # .log_riskratio_se and .riskratio_confint(0.05) (the Katz log interval); for
    # (30, 70, 10, 90): RR 3.0, se 0.33665, interval 1.55083 to 5.80335.
    from statsmodels.stats.contingency_tables import Table2x2

    events, answers = _two_by_two(a, b, c, d)
    lift = touchpoint_summary(events, answers).lift
    assert lift is not None
    row = lift.set_index("touchpoint").loc["help_desk"]
    ref = Table2x2(np.array([[a, b], [c, d]]))
    assert float(row["estimate"]) == pytest.approx(ref.riskratio, rel=1e-12)
    assert float(row["se_log"]) == pytest.approx(ref.log_riskratio_se, rel=1e-12)
    # se on the estimate's scale: the delta method, RR * se(log RR).
    assert float(row["se"]) == pytest.approx(ref.riskratio * ref.log_riskratio_se, rel=1e-12)
    low, high = ref.riskratio_confint(0.05)
    assert float(row["ci_low"]) == pytest.approx(low, rel=1e-9)
    assert float(row["ci_high"]) == pytest.approx(high, rel=1e-9)
    assert int(row["n"]) == a + b + c + d
    assert (int(row["n_exposed"]), int(row["n_exposed_detractors"])) == (a + b, a)
    assert (int(row["n_unexposed"]), int(row["n_unexposed_detractors"])) == (c + d, c)


def test_lift_window_counts_contacts_before_the_answer_only() -> None:
    answers = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "role": "customer",
            "timestamp": T0,
            "item": "ltr",
            "score": [3.0, 3.0, 9.0, 9.0],
        }
    )
    events = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "role": "customer",
            # a: exactly the window before (counts); b: at the answer (not before);
            # c: a second more than the window before; d: just after.
            "timestamp": [
                T0 - pd.Timedelta("2D"),
                T0,
                T0 - pd.Timedelta("2D") - pd.Timedelta("1s"),
                T0 + pd.Timedelta("1s"),
            ],
            "touchpoint": "help_desk",
        }
    )
    lift = touchpoint_summary(events, answers, window="2D").lift
    assert lift is not None
    assert int(lift["n_exposed"].iloc[0]) == 1
    assert int(lift["n_exposed_detractors"].iloc[0]) == 1


def test_reach_denominator_is_the_active_persons_of_the_role() -> None:
    events = pd.DataFrame(
        {
            "person_id": ["a", "a", "b", "c", "w", "w", "x"],
            "role": ["customer"] * 4 + ["worker"] * 3,
            "timestamp": [T0] * 7,
            "touchpoint": ["app", "app", "web", None, "portal", "app", "portal"],
        }
    )
    s = touchpoint_summary(events)
    reach = s.reach.set_index(["touchpoint", "role"])
    # c is active (an event without a touchpoint) and counts in the denominator.
    assert int(reach.loc[("app", "customer"), "n"]) == 3
    assert float(reach.loc[("app", "customer"), "estimate"]) == pytest.approx(100 / 3)
    assert int(reach.loc[("portal", "worker"), "n_reached"]) == 2
    assert float(reach.loc[("portal", "worker"), "estimate"]) == pytest.approx(100.0)
    contacts = s.contacts.set_index(["touchpoint", "role"])
    assert float(contacts.loc[("app", "customer"), "estimate"]) == pytest.approx(2.0)
    assert int(contacts["n_contacts"].sum()) == int(events["touchpoint"].notna().sum())
    assert s.reach.attrs["hxmetrics"]["n_events_without_touchpoint"] == 1
    gaps = events.assign(timestamp=[T0, pd.NaT, *[T0] * 5], person_id=["a", *[None], *"bcwwx"])
    excluded = touchpoint_summary(gaps, period="M").reach.attrs["hxmetrics"]["n_events_excluded"]
    assert excluded == {"missing_person": 1, "missing_time": 0}
    gaps.loc[2, "timestamp"] = pd.NaT
    excluded = touchpoint_summary(gaps, period="M").reach.attrs["hxmetrics"]["n_events_excluded"]
    assert excluded == {"missing_person": 1, "missing_time": 1}


def test_period_splits_reach_and_lift() -> None:
    events, answers = _two_by_two(30, 70, 10, 90)
    later = events.assign(timestamp=T0 + pd.DateOffset(months=2))
    s = touchpoint_summary(pd.concat([events, later], ignore_index=True), answers, period="M")
    assert list(s.reach.columns[:4]) == ["measure", "period", "touchpoint", "role"]
    assert s.reach["period"].astype(str).unique().tolist() == ["2025-03", "2025-05"]
    assert s.lift is not None
    assert s.lift["period"].astype(str).unique().tolist() == ["2025-03"]


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.integers(0, 20),  # days
        st.sampled_from(["app", "web", "help_desk"]),
        st.sampled_from(["customer", "worker"]),
    ),
    min_size=1,
    max_size=30,
)
answers_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(0, 20), st.integers(0, 10)),
    min_size=1,
    max_size=15,
)


@settings(max_examples=40, deadline=None)
@given(ev_rows=events_strategy, ans_rows=answers_strategy, seed=st.integers(0, 2**16))
def test_order_invariance_and_reconciliation(
    ev_rows: list[tuple[str, int, str, str]], ans_rows: list[tuple[str, int, int]], seed: int
) -> None:
    ev = pd.DataFrame(ev_rows, columns=["person_id", "day", "touchpoint", "role"])
    ev["timestamp"] = T0 + pd.to_timedelta(ev["day"], unit="D")
    ans = pd.DataFrame(ans_rows, columns=["person_id", "day", "score"])
    ans["timestamp"] = T0 + pd.to_timedelta(ans["day"], unit="D") + pd.Timedelta("1h")
    ans["score"] = ans["score"].astype(float)
    ans["item"] = "ltr"
    ans["role"] = "customer"
    a = touchpoint_summary(ev, ans)
    b = touchpoint_summary(
        ev.sample(frac=1.0, random_state=seed), ans.sample(frac=1.0, random_state=seed + 1)
    )
    pd.testing.assert_frame_equal(a.reach, b.reach)
    pd.testing.assert_frame_equal(a.contacts, b.contacts)
    assert a.lift is not None
    assert b.lift is not None
    pd.testing.assert_frame_equal(a.lift, b.lift)
    # Counts reconcile: contacts are the events, reached persons at most the active.
    assert int(a.contacts["n_contacts"].sum()) == len(ev)
    assert (a.reach["n_reached"] <= a.reach["n"]).all()
    lift = a.lift
    assert ((lift["n_exposed"] + lift["n_unexposed"]) == lift["n"]).all()
    assert (lift["n"] == len(ans)).all()


# --------------------------------------------------------------------------- recovery


@pytest.fixture(scope="module")
def planted() -> tuple[TouchpointSummary, dict[str, object]]:
    org = add_journeys(simulate_organisation(n_people=2000, random_state=1), random_state=3)
    tr = org.truth
    ev = attribute(org.events, crosswalk=tr.crosswalk, episodes=tr.episodes)
    rs = attribute(org.responses, crosswalk=tr.crosswalk, episodes=tr.episodes)
    return touchpoint_summary(ev, rs, window="2D"), tr.planted["journeys"]


def test_lift_recovers_the_planted_touchpoint(
    planted: tuple[TouchpointSummary, dict[str, object]],
) -> None:
    s, truth = planted
    assert s.lift is not None
    rows = s.lift[s.lift["role"] == truth["role"]].set_index("touchpoint")
    assert rows["estimate"].idxmax() == truth["touchpoint"]
    x = rows.loc[truth["touchpoint"]]
    # The interval covers both the design lift (6.77) and the lift of these draws.
    assert float(x["ci_low"]) <= truth["expected_lift"] <= float(x["ci_high"])
    assert float(x["ci_low"]) <= truth["realised_lift"] <= float(x["ci_high"])
    others = rows.drop(index=truth["touchpoint"])
    assert float(x["ci_low"]) > float(others["ci_high"].max())


def test_scores_are_the_measures_by_touchpoint(
    planted: tuple[TouchpointSummary, dict[str, object]],
) -> None:
    s, _ = planted
    org = add_journeys(simulate_organisation(n_people=2000, random_state=1), random_state=3)
    tr = org.truth
    rs = attribute(org.responses, crosswalk=tr.crosswalk, episodes=tr.episodes)
    rs = rs[rs["touchpoint"].notna()]
    want_csat = csat(
        rs[rs["item"] == "overall"], "score", scale=(1, 5), box=(4, 5), by=["touchpoint", "role"]
    )
    want_ces = ces(
        rs[rs["item"] == "effort"],
        "score",
        scale=(1, 7),
        polarity="higher_is_easier",
        by=["touchpoint", "role"],
    )
    pd.testing.assert_frame_equal(s.scores["csat"], want_csat)
    pd.testing.assert_frame_equal(s.scores["ces"], want_ces)
    assert "nps" not in s.scores  # the simulator's NPS answers carry no touchpoint


def test_nps_by_touchpoint_is_the_nps_measure() -> None:
    events, answers = _two_by_two(30, 70, 10, 90)
    answers["touchpoint"] = np.where(np.arange(len(answers)) % 3 == 0, "store", "app")
    answers.loc[answers.index[:5], "touchpoint"] = None
    s = touchpoint_summary(events, answers)
    with_tp = answers[answers["touchpoint"].notna()]
    pd.testing.assert_frame_equal(s.scores["nps"], nps(with_tp, "score", by=["touchpoint", "role"]))
    assert s.meta["n_answers_without_touchpoint"] == 5


# --------------------------------------------------------------------------- privacy


def test_small_groups_and_small_arms_are_hidden() -> None:
    events, answers = _two_by_two(3, 1, 40, 60)  # 4 exposed answers
    s = touchpoint_summary(events, answers, min_n=5)
    assert s.lift is not None
    row = s.lift.set_index("touchpoint").loc["help_desk"]
    assert bool(row["suppressed"])
    assert pd.isna(row["estimate"])
    assert pd.isna(row["n_exposed"])
    few = pd.DataFrame(
        {
            "person_id": ["x", "y"],
            "role": "partner",
            "timestamp": T0,
            "touchpoint": "portal",
        }
    )
    s2 = touchpoint_summary(pd.concat([events, few], ignore_index=True), min_n=5)
    reach = s2.reach.set_index(["touchpoint", "role"])
    assert bool(reach.loc[("portal", "partner"), "suppressed"])
    assert pd.isna(reach.loc[("portal", "partner"), "estimate"])


# --------------------------------------------------------------------------- errors


def test_errors_name_the_problem() -> None:
    events, answers = _two_by_two(3, 1, 4, 6)
    with pytest.raises(InputTableError, match="person_id") as info:
        touchpoint_summary(events.drop(columns="person_id"))
    assert info.value.table == "events"
    assert "attribute" in str(info.value)  # the hint: attribute the table first
    with pytest.raises(InputTableError, match="score") as info:
        touchpoint_summary(events, answers.drop(columns="score"))
    assert info.value.table == "responses"
    with pytest.raises(InputTableError, match="role"):
        touchpoint_summary(events.drop(columns="role"))
    with pytest.raises(InputTableError, match="must hold dates and times"):
        touchpoint_summary(events.assign(timestamp="2025-01-01"))
    with pytest.raises(InputTableError, match="no row has"):
        touchpoint_summary(events.assign(person_id=None))
    with pytest.raises(ParameterError, match="touchpoint"):
        touchpoint_summary(events, by="role")
    with pytest.raises(ParameterError, match="period"):
        touchpoint_summary(events, period="fortnightly")
    with pytest.raises(ParameterError, match="window"):
        touchpoint_summary(events, answers, window="-1D")
    with pytest.raises(PrivacyError):
        touchpoint_summary(events, by=["touchpoint", "person_id"])


# --------------------------------------------------------------------------- engines, display


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_engines_give_the_pandas_result(engine: str) -> None:
    events, answers = _two_by_two(30, 70, 10, 90)
    want = touchpoint_summary(events, answers)
    got = touchpoint_summary(to_engine(events, engine), to_engine(answers, engine))
    pd.testing.assert_frame_equal(want.reach, got.reach, check_dtype=False)
    assert want.lift is not None
    assert got.lift is not None
    pd.testing.assert_frame_equal(want.lift, got.lift, check_dtype=False)


def test_summary_plot_and_display() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events, answers = _two_by_two(30, 70, 10, 90)
    s = touchpoint_summary(events, answers)
    table = s.summary()
    assert {"pct_reach", "contacts_per_person", "detractor_lift"} <= set(table.columns)
    for kind in ("lift", "reach"):
        fig, ax = plt.subplots()
        assert s.plot(ax=ax, kind=kind) is ax
        plt.close(fig)
    assert "<strong>TouchpointSummary</strong>" in s._repr_html_()


def test_a_count_hidden_in_one_table_is_hidden_in_every_table_of_the_result() -> None:
    # Found: reach, contacts and lift were suppressed apart. 20 customers: app reached
    # 15, web 12, help_desk 3. Contacts hid help_desk (3 persons reached) and web (the
    # smallest other touchpoint), but reach showed their n_reached (3 and 12: the
    # contacts' hidden n), and the lift's n_exposed (one answer per person, after every
    # contact) gave web's 12 again.
    persons = [f"p{i}" for i in range(20)]
    rows = [(p, T0, "app") for p in persons[:15]]
    rows += [(p, T0 + pd.Timedelta(hours=1), "web") for p in persons[8:]]
    rows += [(p, T0 + pd.Timedelta(hours=2), "help_desk") for p in persons[:3]]
    events = pd.DataFrame(rows, columns=["person_id", "timestamp", "touchpoint"])
    events["role"] = "customer"
    answers = pd.DataFrame(
        {
            "person_id": persons,
            "role": "customer",
            "timestamp": T0 + pd.Timedelta(days=1),
            "item": "ltr",
            "score": np.tile([3.0, 9.0, 10.0, 6.0], 5),
        }
    )
    full = touchpoint_summary(events, answers, min_n=None)
    s = touchpoint_summary(events, answers, min_n=5)
    assert s.lift is not None
    assert full.lift is not None
    contacts = s.contacts.set_index("touchpoint")
    reach = s.reach.set_index("touchpoint")
    lift = s.lift.set_index("touchpoint")
    assert bool(contacts.loc["help_desk", "suppressed"])
    assert bool(contacts.loc["web", "suppressed"])
    for tp in contacts.index[contacts["suppressed"]]:
        assert bool(reach.loc[tp, "suppressed"])
        assert pd.isna(reach.loc[tp, "n_reached"])
        assert bool(lift.loc[tp, "suppressed"])
        assert pd.isna(lift.loc[tp, "n_exposed"])
    assert not bool(reach.loc["app", "suppressed"])
    assert int(reach.loc["app", "n_reached"]) == 15
    # Without min_n nothing is hidden and the numbers are the true ones.
    for frame in (full.reach, full.contacts, full.lift):
        assert not frame["suppressed"].any()
    r = full.reach.set_index("touchpoint")["n_reached"].astype(int).to_dict()
    assert r == {"app": 15, "help_desk": 3, "web": 12}
    assert int(full.lift.set_index("touchpoint").loc["web", "n_exposed"]) == 12
