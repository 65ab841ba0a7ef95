"""The team ledger: teams checks, ownership lookup, reconciliation, experience, planted shift."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._result import is_result
from hxmetrics.measures.ledger import check_teams, owner_at, team_ledger
from hxmetrics.measures.nps import nps, nps_test
from hxmetrics.measures.responsiveness import responsiveness
from hxmetrics.measures.satisfaction import csat

from .conftest import Convert


def _teams(rows: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": [r[0] for r in rows],
            "touchpoint": [r[1] for r in rows],
            "valid_from": pd.to_datetime([r[2] for r in rows]),
            "valid_to": pd.to_datetime([r[3] for r in rows]),
        }
    )


# chat moves from team a to team b in the middle of 2024Q1; web stays with c.
TEAMS = _teams(
    [
        ("a", "chat", "2024-01-01", "2024-02-15"),
        ("b", "chat", "2024-02-15", None),
        ("c", "web", "2024-01-01", None),
    ]
)


def _events(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "role": [r[1] for r in rows],
            "touchpoint": [r[2] for r in rows],
            "timestamp": pd.to_datetime([r[3] for r in rows]),
        }
    )


# ---------------------------------------------------------------- check_teams


def test_check_teams_accepts_touching_spells_and_returns_clean_frame() -> None:
    out = check_teams(TEAMS, touchpoints=["chat", "web", "store"])
    assert out.columns.tolist() == ["team", "touchpoint", "valid_from", "valid_to"]
    assert out["valid_to"].isna().tolist() == [False, True, True]
    assert str(out["valid_from"].dtype) == "datetime64[ns]"


def test_check_teams_overlapping_ownership_names_rows() -> None:
    bad = _teams(
        [
            ("a", "chat", "2024-01-01", "2024-03-01"),
            ("b", "web", "2024-01-01", None),
            ("b", "chat", "2024-02-15", None),
        ]
    )
    with pytest.raises(InputTableError) as err:
        check_teams(bad)
    e = err.value
    assert e.table == "teams"
    assert set(e.failure_cases["check"]) == {"overlapping_ownership"}
    assert sorted(e.failure_cases["index"]) == [0, 2]
    assert "chat" in str(e)
    assert "valid_from" in str(e)


def test_check_teams_overlap_with_a_long_earlier_spell_not_adjacent() -> None:
    # Spell 0 runs open-ended; spell 1 ends; spell 2 starts after spell 1 but inside
    # spell 0: only the running maximum of the ends sees it.
    bad = _teams(
        [
            ("a", "chat", "2024-01-01", None),
            ("b", "chat", "2024-01-02", "2024-01-03"),
            ("c", "chat", "2024-06-01", "2024-07-01"),
        ]
    )
    with pytest.raises(InputTableError) as err:
        check_teams(bad)
    assert 2 in set(err.value.failure_cases["index"])


def test_check_teams_same_team_overlap_is_refused_too() -> None:
    bad = _teams([("a", "chat", "2024-01-01", None), ("a", "chat", "2024-05-01", None)])
    with pytest.raises(InputTableError, match="one owner at a time"):
        check_teams(bad)


def test_check_teams_valid_to_not_after_valid_from() -> None:
    bad = _teams([("a", "chat", "2024-01-01", "2024-01-01"), ("b", "web", "2024-01-01", None)])
    with pytest.raises(InputTableError) as err:
        check_teams(bad)
    assert err.value.failure_cases["check"].tolist() == ["valid_to_after_valid_from"]
    assert err.value.failure_cases["index"].tolist() == [0]


def test_check_teams_unknown_touchpoint() -> None:
    with pytest.raises(InputTableError) as err:
        check_teams(TEAMS, touchpoints=pd.DataFrame({"touchpoint": ["chat", "app"]}))
    assert err.value.failure_cases["check"].tolist() == ["known_touchpoint"]
    assert err.value.failure_cases["index"].tolist() == [2]
    assert "web" in str(err.value)


def test_check_teams_missing_column_and_values() -> None:
    with pytest.raises(InputTableError):
        check_teams(TEAMS.drop(columns="valid_to"))
    bad = TEAMS.copy()
    bad.loc[1, "team"] = None
    with pytest.raises(InputTableError) as err:
        check_teams(bad)
    assert err.value.failure_cases["index"].tolist() == [1]


@settings(max_examples=150, deadline=None)
@given(
    spells=st.lists(
        st.tuples(
            st.sampled_from(["x", "y"]),
            st.sampled_from(["t0", "t1"]),
            st.integers(0, 30),
            st.one_of(st.none(), st.integers(1, 10)),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_check_teams_refuses_exactly_the_overlaps(
    spells: list[tuple[str, str, int, int | None]],
) -> None:
    base = pd.Timestamp("2024-01-01")
    teams = _teams(
        [
            (
                team,
                tp,
                str(base + pd.Timedelta(days=lo)),
                None if length is None else str(base + pd.Timedelta(days=lo + length)),
            )
            for team, tp, lo, length in spells
        ]
    )

    def end(s: tuple[str, str, int, int | None]) -> float:
        return float("inf") if s[3] is None else s[2] + s[3]

    # Half-open [lo, end): two spells of one touchpoint overlap iff each starts
    # before the other ends (brute force over every pair).
    overlap = any(
        a[1] == b[1] and a[2] < end(b) and b[2] < end(a)
        for i, a in enumerate(spells)
        for b in spells[i + 1 :]
    )
    if overlap:
        with pytest.raises(InputTableError) as err:
            check_teams(teams)
        assert set(err.value.failure_cases["check"]) == {"overlapping_ownership"}
    else:
        spells_ok = check_teams(teams)
        # Every (touchpoint, day) has at most one owner and owner_at finds it.
        for tp in ("t0", "t1"):
            days = [base + pd.Timedelta(days=d) for d in range(45)]
            got = owner_at(spells_ok, [tp] * len(days), days)
            for d, g in zip(range(45), got, strict=True):
                owners = [s[0] for s in spells if s[1] == tp and s[2] <= d < end(s)]
                assert (g,) == (tuple(owners) or (None,))


def test_owner_at_half_open_spells() -> None:
    spells = check_teams(TEAMS)
    got = owner_at(
        spells,
        ["chat", "chat", "chat", "web", "store", None, "chat"],
        pd.to_datetime(
            [
                "2024-02-14 23:59",
                "2024-02-15",
                "2023-12-31",
                "2030-01-01",
                "2024-02-01",
                "2024-02-01",
                None,
            ],
            format="ISO8601",
        ),
    )
    assert got.tolist() == ["a", "b", None, "c", None, None, None]


# ---------------------------------------------------------------- the ledger by hand


def test_hand_example_people_served_repeat_and_split() -> None:
    ev = _events(
        [
            ("p1", "customer", "chat", "2024-01-10"),  # a, Q1
            ("p2", "customer", "chat", "2024-02-14"),  # a, Q1
            ("p2", "customer", "chat", "2024-02-16"),  # b, Q1 (after the change)
            ("p3", "worker", "chat", "2024-03-01"),  # b, Q1
            ("p1", "customer", "web", "2024-01-20"),  # c, Q1
            ("p1", "customer", "web", "2024-05-20"),  # c, Q2: repeat
            ("p4", "partner", "web", "2024-05-21"),  # c, Q2
            ("p2", "customer", "chat", "2024-04-02"),  # b, Q2: repeat for b
            ("p2", "customer", "chat", "2024-04-03"),  # b, Q2: same person again
        ]
    )
    out = team_ledger(TEAMS, events=ev, period="Q")
    assert is_result(out)
    got = out[["team", "period", "n", "repeat", "n_served_customer", "n_served_worker"]]
    expected = pd.DataFrame(
        {
            "team": ["a", "b", "b", "c", "c"],
            "period": pd.PeriodIndex(["2024Q1", "2024Q1", "2024Q2", "2024Q1", "2024Q2"], freq="Q"),
            "n": [2, 2, 1, 1, 2],
            "repeat": [0, 0, 1, 0, 1],
            "n_served_customer": [2, 1, 1, 1, 1],
            "n_served_worker": [0, 1, 0, 0, 0],
        }
    )
    # Team a stopped owning chat in 2024Q1: no 2024Q2 row for it.
    assert got["team"].astype(str).tolist() == expected["team"].tolist()
    assert got["period"].astype(str).tolist() == expected["period"].astype(str).tolist()
    for c in ("n", "repeat", "n_served_customer", "n_served_worker"):
        assert got[c].astype(int).tolist() == expected[c].tolist(), c
    assert out["pct_repeat"].iloc[2] == 100.0
    meta = out.attrs["hxmetrics"]
    assert meta["served_from"] == ["events"]
    assert meta["revenue_rule"] == "last_touch"


def test_unowned_and_unattributed_rows_are_counted() -> None:
    ev = _events(
        [
            ("p1", "customer", "chat", "2024-01-10"),
            ("p2", "customer", "store", "2024-01-11"),  # nobody owns the store
            ("p3", "customer", "chat", "2023-12-01"),  # before any spell
        ]
    )
    ev.loc[len(ev)] = [None, None, "chat", pd.Timestamp("2024-01-12")]
    out = team_ledger(TEAMS, events=ev, period="Q", check_touchpoints=False)
    assert out.attrs["hxmetrics"]["unowned"] == {"events": 2}
    a = out[out["team"] == "a"].iloc[0]
    assert a["n"] == 1
    assert a["n_excluded_unattributed"] == 1


def test_hybrid_breakdown_sums_to_people_served() -> None:
    ev = _events(
        [
            ("p1", "customer", "chat", "2024-01-10"),
            ("p2", "customer", "chat", "2024-01-11"),
            ("p2", "worker", "chat", "2024-01-12"),
            ("p3", "worker", "web", "2024-01-12"),
        ]
    )
    ev["hybrid_type"] = ["none", "worker_customer", "worker_customer", "none"]
    out = team_ledger(TEAMS, events=ev, period="Q")
    hyb = [c for c in out.columns if c.startswith("n_served_hybrid_")]
    assert hyb == ["n_served_hybrid_none", "n_served_hybrid_worker_customer"]
    np.testing.assert_array_equal(out[hyb].sum(axis=1).to_numpy(), out["n"].to_numpy())
    # A person served in two roles counts once in n and in both role columns.
    a = out[out["team"] == "a"].iloc[0]
    assert (a["n"], a["n_served_customer"], a["n_served_worker"]) == (2, 2, 1)


def test_revenue_rules_and_split_ownership() -> None:
    ev = _events(
        [
            ("p1", "customer", "chat", "2024-02-10"),  # a
            ("p1", "customer", "chat", "2024-02-20"),  # b (after the change)
            ("p2", "customer", "web", "2024-01-05"),  # c
            ("p2", "customer", "chat", "2024-01-06"),  # a
        ]
    )
    tx = pd.DataFrame(
        {
            "person_id": ["p1", "p1", "p2", "p2", "p3", None],
            "timestamp": pd.to_datetime(
                ["2024-02-12", "2024-02-21", "2024-01-07", "2024-03-30", "2024-01-08", "2024-01-09"]
            ),
            "amount": [10.0, 20.0, 40.0, 80.0, 5.0, 7.0],
        }
    )
    last = team_ledger(TEAMS, events=ev, transactions=tx, period="Q", revenue_window="30D")
    rev = dict(zip(last["team"].astype(str), last["revenue"], strict=True))
    # 10 -> a (last touch chat on 02-10), 20 -> b (02-20), 40 -> a (chat 01-06 is
    # the last touch), 80: last touch 84 days before, outside 30 days: unattributed.
    assert rev == {"a": 50.0, "b": 20.0, "c": 0.0}
    meta = last.attrs["hxmetrics"]
    # 80 (too late), 5 (p3 never served), 7 (no person).
    assert meta["revenue_unattributed"] == pytest.approx(80.0 + 5.0 + 7.0)
    assert meta["n_transactions_unattributed"] == 3
    assert last["n_transactions"].astype(int).tolist() == [2, 1, 0]

    served = team_ledger(
        TEAMS, events=ev, transactions=tx, period="Q", revenue_rule="served_in_period"
    )
    rev = dict(zip(served["team"].astype(str), served["revenue"], strict=True))
    # p1 served by a and b in Q1: 30 split in halves; p2 by a and c: 120 in halves.
    assert rev == {"a": 75.0, "b": 15.0, "c": 60.0}
    assert served.attrs["hxmetrics"]["revenue_rule"] == "served_in_period"
    assert served.attrs["hxmetrics"]["revenue_window"] is None


def test_transactions_that_cannot_be_credited_are_counted_or_refused() -> None:
    # Found in review: rows without a time or an amount vanished from every count.
    ev = _events(
        [("p1", "customer", "chat", "2024-02-10"), ("p2", "customer", "web", "2024-01-03")]
    )
    tx = pd.DataFrame(
        {
            "person_id": ["p1", "p1", "p1"],
            "timestamp": pd.to_datetime(["2024-02-12", None, "2024-02-13"]),
            "amount": [10.0, 20.0, None],
        }
    )
    out = team_ledger(TEAMS, events=ev, transactions=tx, period="Q", revenue_window="30D")
    meta = out.attrs["hxmetrics"]
    assert meta["n_transactions_excluded"] == {
        "missing_timestamp": 1,
        "missing_amount": 1,
        "after_as_of": 0,
    }
    # Every row is credited, unattributed or excluded with its reason.
    credited = int(out["n_transactions"].astype(int).sum())
    excluded = sum(meta["n_transactions_excluded"].values())
    assert credited + meta["n_transactions_unattributed"] + excluded == len(tx)
    text = tx.assign(amount=pd.Series([10.0, "x", 3.0], dtype=object))
    with pytest.raises(InputTableError, match=r"'amount' must hold numbers; rows \[1\]"):
        team_ledger(TEAMS, events=ev, transactions=text, period="Q")


def test_revenue_after_ownership_ended_keeps_its_row() -> None:
    ev = _events(
        [("p1", "customer", "chat", "2024-02-10"), ("p2", "customer", "web", "2024-01-03")]
    )
    tx = pd.DataFrame(
        {
            "person_id": ["p1"],
            "timestamp": pd.to_datetime(["2024-03-05"]),
            "amount": [12.5],
        }
    )
    out = team_ledger(TEAMS, events=ev, transactions=tx, period="M")
    a = out[out["team"] == "a"]
    # Team a's chat spell ended on 02-15; the last touch (02-10) was a's: March row.
    assert a["period"].astype(str).tolist() == ["2024-01", "2024-02", "2024-03"]
    assert a["revenue"].tolist() == [0.0, 0.0, 12.5]
    assert int(a["n"].iloc[2]) == 0
    assert out["revenue"].sum() == 12.5


def test_served_from_defaults_to_contacts() -> None:
    ev = _events([("p1", "customer", "web", "2024-01-10")])
    ans = _answers(np.random.default_rng(0), 20).assign(touchpoint="web")
    ans["timestamp"] = pd.Timestamp("2024-02-01")
    default = team_ledger(TEAMS, events=ev, responses=ans, period="Q", check_touchpoints=False)
    c = default[default["team"] == "c"].iloc[0]
    # Answers give the experience, not people served (a survey is not a contact).
    assert (int(c["n"]), int(c["n_answers"])) == (1, 20)
    assert default.attrs["hxmetrics"]["served_from"] == ["events"]
    both = team_ledger(
        TEAMS,
        events=ev,
        responses=ans,
        period="Q",
        served_from=["events", "responses"],
        check_touchpoints=False,
    )
    expected = len({"p1", *ans["person_id"]})
    assert int(both.loc[both["team"] == "c", "n"].iloc[0]) == expected
    with pytest.raises(ParameterError, match="served_from"):
        team_ledger(TEAMS, events=ev, served_from=["tickets"], check_touchpoints=False)


def test_behaviour_profile_is_summarised_per_team_and_period() -> None:
    ev = _events(
        [
            ("p1", "customer", "web", "2024-01-10"),
            ("p2", "customer", "web", "2024-01-11"),
            ("p3", "worker", "web", "2024-01-12"),
            ("p1", "customer", "chat", "2024-01-13"),
        ]
    )
    profile = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p9"],
            "role": ["customer", "customer", "worker", "customer"],
            "p_alive": [0.2, 0.6, np.nan, 0.9],
            "leave_hazard": [np.nan, np.nan, 0.05, np.nan],
        }
    )
    out = team_ledger(TEAMS, events=ev, behaviour=profile, period="Q", check_touchpoints=False)
    c = out[out["team"] == "c"].iloc[0]
    assert c["mean_p_alive"] == pytest.approx(0.4)
    assert c["mean_leave_hazard"] == pytest.approx(0.05)
    a = out[out["team"] == "a"].iloc[0]
    assert a["mean_p_alive"] == pytest.approx(0.2)
    assert np.isnan(a["mean_leave_hazard"])


# ---------------------------------------------------------------- reconciliation


@st.composite
def _worlds(draw: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    touchpoints = ["t0", "t1", "t2"]
    team_names = ["x", "y", "z"]
    base = pd.Timestamp("2024-01-01")
    spells = []
    for tp in touchpoints:
        cuts = sorted(set(draw(st.lists(st.integers(1, 360), max_size=3))))
        bounds = [0, *cuts]
        for k, lo in enumerate(bounds):
            hi = bounds[k + 1] if k + 1 < len(bounds) else None
            if draw(st.booleans()) or k == 0:  # gaps: nobody owns the touchpoint
                spells.append(
                    (
                        draw(st.sampled_from(team_names)),
                        tp,
                        str(base + pd.Timedelta(days=lo)),
                        None if hi is None else str(base + pd.Timedelta(days=hi)),
                    )
                )
    teams = _teams(spells)
    n_ev = draw(st.integers(1, 40))
    ev = pd.DataFrame(
        {
            "person_id": [f"p{draw(st.integers(0, 8))}" for _ in range(n_ev)],
            "role": [draw(st.sampled_from(["customer", "worker"])) for _ in range(n_ev)],
            "touchpoint": [draw(st.sampled_from(touchpoints)) for _ in range(n_ev)],
            "timestamp": [
                base + pd.Timedelta(hours=draw(st.integers(0, 400 * 24))) for _ in range(n_ev)
            ],
        }
    )
    n_tx = draw(st.integers(0, 15))
    tx = pd.DataFrame(
        {
            "person_id": [f"p{draw(st.integers(0, 9))}" for _ in range(n_tx)],
            "timestamp": [
                base + pd.Timedelta(hours=draw(st.integers(0, 400 * 24))) for _ in range(n_tx)
            ],
            "amount": [float(draw(st.integers(1, 100))) for _ in range(n_tx)],
        }
    )
    return teams, ev, tx


def _owner_slow(teams: pd.DataFrame, tp: str, t: pd.Timestamp) -> str | None:
    for r in teams.itertuples(index=False):
        if r.touchpoint == tp and r.valid_from <= t and (pd.isna(r.valid_to) or t < r.valid_to):
            return str(r.team)
    return None


# Why: brute-force reconciliation per example is slow; time limits only, assertions unchanged.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=_worlds(), rule=st.sampled_from(["last_touch", "served_in_period"]))
def test_reconciliation_nothing_double_counted(
    world: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], rule: str
) -> None:
    teams, ev, tx = world
    owners = [_owner_slow(teams, r.touchpoint, r.timestamp) for r in ev.itertuples()]
    if all(o is None for o in owners):
        with pytest.raises(InputTableError, match="no period has data"):
            team_ledger(teams, events=ev, transactions=tx, check_touchpoints=False)
        return
    out = team_ledger(
        teams, events=ev, transactions=tx, period="M", revenue_rule=rule, check_touchpoints=False
    )
    # Brute force: the set of persons per (team, month) from a row-by-row loop.
    sets: dict[tuple[str, pd.Period], set[str]] = {}
    for r, o in zip(ev.itertuples(), owners, strict=True):
        if o is not None:
            sets.setdefault((o, r.timestamp.to_period("M")), set()).add(r.person_id)
    got = {
        (str(t), p): int(n) for t, p, n in zip(out["team"], out["period"], out["n"], strict=True)
    }
    assert {k: v for k, v in got.items() if v} == {k: len(v) for k, v in sets.items()}
    # Across teams: the sum of people served equals, per month, the number of
    # (person, team) pairs: a person counts once per team that served them.
    pairs = {(p, o, m) for (o, m), ps in sets.items() for p in ps}
    assert int(out["n"].sum()) == len(pairs)
    # Revenue: every transaction credited once in total (or counted unattributed).
    meta = out.attrs["hxmetrics"]
    total = float(tx["amount"].sum()) if len(tx) else 0.0
    assert float(out["revenue"].sum()) + meta["revenue_unattributed"] == pytest.approx(total)
    expected = 0.0
    for r in tx.itertuples():
        if rule == "served_in_period":
            m = r.timestamp.to_period("M")
            if any(r.person_id in ps for (o, mm), ps in sets.items() if mm == m):
                expected += r.amount
        else:
            touched = [
                (e.timestamp, o)
                for e, o in zip(ev.itertuples(), owners, strict=True)
                if o is not None
                and e.person_id == r.person_id
                and r.timestamp - pd.Timedelta("30D") <= e.timestamp <= r.timestamp
            ]
            if touched:
                expected += r.amount
    assert float(out["revenue"].sum()) == pytest.approx(expected)
    # Repeat: persons of (team, month) served by the team in an earlier month.
    for (o, m), ps in sets.items():
        earlier = set().union(*[q for (oo, mm), q in sets.items() if oo == o and mm < m])
        row = out[(out["team"] == o) & (out["period"] == m)].iloc[0]
        assert int(row["repeat"]) == len(ps & earlier)


def test_order_of_rows_does_not_matter() -> None:
    rng = np.random.default_rng(3)
    n = 300
    ev = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in rng.integers(0, 60, n)],
            "role": rng.choice(["customer", "worker"], n),
            "touchpoint": rng.choice(["chat", "web"], n),
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h"),
        }
    )
    a = team_ledger(TEAMS, events=ev, period="M")
    b = team_ledger(TEAMS.iloc[::-1], events=ev.sample(frac=1.0, random_state=1), period="M")
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------- experience


def _answers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in rng.integers(0, 200, n)],
            "role": "customer",
            "touchpoint": rng.choice(["chat", "web"], n),
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 180 * 24, n), unit="h"),
            "instrument": "nps",
            "item": "ltr",
            "score": rng.integers(0, 11, n).astype(float),
        }
    )


def test_experience_and_change_reuse_nps_and_nps_test() -> None:
    rng = np.random.default_rng(5)
    ans = _answers(rng, 400)
    out = team_ledger(TEAMS, responses=ans, period="Q")
    owner = owner_at(check_teams(TEAMS), ans["touchpoint"], ans["timestamp"])
    ref = ans.assign(team=owner, period=ans["timestamp"].dt.to_period("Q")).dropna(subset=["team"])
    direct = nps(ref, "score", by=["team", "period"])
    for col in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(out[col].to_numpy(), direct[col].to_numpy(), rtol=1e-12)
    assert out["n_answers"].tolist() == direct["n"].tolist()
    c = out[(out["team"] == "c") & (out["period"] == pd.Period("2024Q2", "Q"))].iloc[0]
    t = nps_test(
        ref[(ref["team"] == "c") & (ref["period"] == pd.Period("2024Q2", "Q"))]["score"],
        ref[(ref["team"] == "c") & (ref["period"] == pd.Period("2024Q1", "Q"))]["score"],
    ).iloc[0]
    assert c["change"] == pytest.approx(t["difference"], rel=1e-12)
    assert c["change_p_value"] == pytest.approx(t["p_value"], rel=1e-12)
    assert c["change_ci_low"] == pytest.approx(t["ci_low"], rel=1e-12)
    # Team a has one period: no change; b's first period has no predecessor.
    assert out.loc[out["team"] == "a", "change"].isna().all()
    assert "nps_test" in out.attrs["hxmetrics"]["change_test"]


def test_holm_adjustment_is_monotone_and_not_below_raw() -> None:
    rng = np.random.default_rng(9)
    out = team_ledger(TEAMS, responses=_answers(rng, 600), period="M")
    raw = out["change_p_value"].to_numpy()
    holm = out["change_p_holm"].to_numpy()
    ok = ~np.isnan(raw)
    assert ok.sum() >= 4
    assert np.all(holm[ok] >= raw[ok] - 1e-15)
    order = np.argsort(raw[ok])
    assert np.all(np.diff(holm[ok][order]) >= -1e-15)
    m = int(ok.sum())
    assert holm[ok][order][0] == pytest.approx(min(1.0, m * raw[ok][order][0]))


def test_csat_experience_and_wald_change() -> None:
    rng = np.random.default_rng(2)
    ans = _answers(rng, 300).assign(
        instrument="csat", item="overall", score=rng.integers(1, 6, 300).astype(float)
    )
    out = team_ledger(TEAMS, responses=ans, period="Q", measure="csat")
    owner = owner_at(check_teams(TEAMS), ans["touchpoint"], ans["timestamp"])
    ref = ans.assign(team=owner, period=ans["timestamp"].dt.to_period("Q")).dropna(subset=["team"])
    direct = csat(ref, "score", scale=(1, 5), box=(4, 5), by=["team", "period"])
    np.testing.assert_allclose(out["estimate"].to_numpy(), direct["estimate"].to_numpy())
    c = out[out["team"] == "c"].reset_index(drop=True)
    diff = c["estimate"].iloc[1] - c["estimate"].iloc[0]
    se = np.hypot(c["se"].iloc[1], c["se"].iloc[0])
    assert c["change"].iloc[1] == pytest.approx(diff)
    assert c["change_se"].iloc[1] == pytest.approx(se)
    assert "Wald" in out.attrs["hxmetrics"]["change_test"]


def test_responsiveness_reuses_the_measure() -> None:
    rng = np.random.default_rng(4)
    n = 200
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 150 * 24, n), unit="h")
    first = opened + pd.to_timedelta(rng.exponential(10, n), unit="h")
    tk = pd.DataFrame(
        {
            "ticket_id": [f"K{i}" for i in range(n)],
            "person_id": [f"p{i}" for i in rng.integers(0, 50, n)],
            "role": "customer",
            "opened": opened,
            "first_response": first.where(rng.random(n) < 0.9),
            "closed": first + pd.to_timedelta(rng.exponential(30, n), unit="h"),
            "severity": "high",
            "touchpoint": rng.choice(["chat", "web"], n),
            "team": "the_desk",  # the handling desk: not the ledger's team
        }
    )
    out = team_ledger(TEAMS, tickets=tk, period="Q", sla={"high": "8h"})
    owner = owner_at(check_teams(TEAMS), tk["touchpoint"], tk["opened"])
    ref = tk.assign(team=owner, period=tk["opened"].dt.to_period("Q"))
    direct = responsiveness(ref, by=["team", "period"], sla={"high": "8h"})
    np.testing.assert_allclose(
        out["median_first_response_hours"].to_numpy(), direct["estimate"].to_numpy()
    )
    np.testing.assert_allclose(out["pct_sla_met"].to_numpy(), direct["pct_sla_met"].to_numpy())
    assert out["n_tickets"].tolist() == direct["n"].tolist()
    closed = responsiveness(ref, by=["team", "period"], clock="closed")
    np.testing.assert_allclose(
        out["median_resolution_hours"].to_numpy(), closed["estimate"].to_numpy()
    )


# ---------------------------------------------------------------- privacy, as_of, engines


def test_small_groups_are_suppressed() -> None:
    rng = np.random.default_rng(6)
    ans = _answers(rng, 400)
    ans.loc[ans["touchpoint"] == "chat", "person_id"] = "p_one"  # chat: one person
    out = team_ledger(TEAMS, responses=ans, period="Q", min_n=5)
    a = out[out["team"] == "a"].iloc[0]
    assert a["suppressed"]
    assert pd.isna(a["n"])
    assert np.isnan(a["estimate"])
    assert pd.isna(a["change_significant"])
    shown = out[~out["suppressed"]]
    assert (shown["n"] >= 5).all()
    cells = out["n_served_customer"].dropna()
    assert ((cells == 0) | (cells >= 5)).all()


def test_breakdown_hides_a_small_cell_and_its_complement() -> None:
    rows = [(f"p{i}", "customer", "web", "2024-01-10") for i in range(12)]
    rows += [(f"q{i}", "customer", "web", "2024-01-11") for i in range(3)]
    ev = _events(rows)
    ev["hybrid_type"] = ["none"] * 12 + ["worker_customer"] * 3
    out = team_ledger(TEAMS, events=ev, period="Q", min_n=5, check_touchpoints=False)
    c = out[out["team"] == "c"].iloc[0]
    assert int(c["n"]) == 15
    # 3 is below 5; 12 = 15 - 3 would give it away: both hidden.
    assert pd.isna(c["n_served_hybrid_worker_customer"])
    assert pd.isna(c["n_served_hybrid_none"])
    assert int(c["n_served_customer"]) == 15


def test_few_answers_hide_experience_and_change() -> None:
    ev = _events([(f"p{i}", "customer", "web", "2024-01-10") for i in range(10)])
    ev2 = _events([(f"q{i}", "customer", "web", "2024-04-10") for i in range(10)])
    ans = _answers(np.random.default_rng(1), 3).assign(touchpoint="web")
    ans["timestamp"] = pd.to_datetime(["2024-01-11", "2024-04-11", "2024-04-12"])
    out = team_ledger(
        TEAMS,
        events=pd.concat([ev, ev2]),
        responses=ans,
        period="Q",
        min_n=5,
        check_touchpoints=False,
    )
    c = out[out["team"] == "c"]
    assert (c["n"] == 10).all()
    assert c["estimate"].isna().all()
    assert c["change"].isna().all()
    # Found in review: the hidden experience's answer count showed as 0 (a false
    # number); it is hidden with the experience.
    assert c["n_answers"].isna().all()
    assert str(out["n_answers"].dtype) == "Int64"


def test_as_of_cuts_rows_and_counts_them() -> None:
    ev = _events([("p1", "customer", "web", "2024-01-10"), ("p2", "customer", "web", "2024-03-10")])
    out = team_ledger(TEAMS, events=ev, period="Q", as_of="2024-02-01", check_touchpoints=False)
    assert int(out.loc[out["team"] == "c", "n"].iloc[0]) == 1
    assert out.attrs["hxmetrics"]["after_as_of"] == {"events": 1}


def test_engines_give_the_same_ledger(engine: Convert) -> None:
    rng = np.random.default_rng(8)
    ans = _answers(rng, 200)
    ref = team_ledger(TEAMS, responses=ans, period="Q")
    got = team_ledger(engine(TEAMS), responses=engine(ans), period="Q")
    pd.testing.assert_frame_equal(ref, got)


# ---------------------------------------------------------------- bad input


def test_bad_input_errors() -> None:
    ev = _events([("p1", "customer", "web", "2024-01-10")])
    with pytest.raises(ParameterError, match="at least one"):
        team_ledger(TEAMS)
    with pytest.raises(ParameterError, match="period"):
        team_ledger(TEAMS, events=ev, period="fortnight")
    with pytest.raises(ParameterError, match="revenue_rule"):
        team_ledger(TEAMS, events=ev, revenue_rule="first_touch")
    with pytest.raises(ParameterError, match="measure"):
        team_ledger(TEAMS, events=ev, measure="ces")
    with pytest.raises(ParameterError, match="revenue_window"):
        team_ledger(TEAMS, events=ev, revenue_window="soon")


def test_unknown_touchpoint_in_teams_is_an_error_unless_turned_off() -> None:
    ev = _events(
        [("p1", "customer", "web", "2024-01-10"), ("p2", "customer", "chat", "2024-01-11")]
    )
    teams = pd.concat([TEAMS, _teams([("d", "kiosk", "2024-01-01", None)])], ignore_index=True)
    with pytest.raises(InputTableError) as err:
        team_ledger(teams, events=ev)
    assert err.value.table == "teams"
    assert "kiosk" in str(err.value)
    out = team_ledger(teams, events=ev, check_touchpoints=False)
    assert "d" in set(out["team"].astype(str))


def test_overlapping_ownership_is_refused_by_the_ledger() -> None:
    ev = _events([("p1", "customer", "web", "2024-01-10")])
    bad = pd.concat([TEAMS, _teams([("d", "web", "2024-03-01", None)])], ignore_index=True)
    with pytest.raises(InputTableError, match="one owner at a time"):
        team_ledger(bad, events=ev)


def test_no_data_in_any_owned_period() -> None:
    ev = _events([("p1", "customer", "web", "2023-06-10")])  # before every spell
    with pytest.raises(InputTableError, match="no period has data") as err:
        team_ledger(TEAMS, events=ev, check_touchpoints=False)
    assert err.value.table == "teams"


# ---------------------------------------------------------------- the planted shift


def test_ledger_recovers_the_planted_nps_shift() -> None:
    # The teams step's planted drop (score - 1 at digital's touchpoints from the
    # shift month on, about -29 NPS points) at 12 000 persons: about 120 answers a
    # quarter at digital, so the change's standard error is about 9 points. Seeds
    # 0..5 all gave p < 0.04 at the planted quarter and intervals covering the
    # planted size; Holm-adjusted significance held in 4 of 6 (seed 0: p_holm 0.002).
    # One seed, fixed: the test fails if the shift lands in the wrong team or period.
    from hxmetrics.datasets import simulate_organisation
    from hxmetrics.datasets._teams import add_teams
    from hxmetrics.stakeholders import attribute

    org = add_teams(simulate_organisation(12_000, random_state=0), random_state=0)
    truth = org.truth.planted["teams"]
    resp = attribute(org.responses, crosswalk=org.truth.crosswalk, episodes=org.truth.episodes)
    out = team_ledger(org.teams, responses=resp, period="Q")
    team = out[out["team"] == truth["team"]]
    at = pd.Period(truth["shift_month"], freq="Q")
    row = team[team["period"] == at].iloc[0]
    assert row["change_p_value"] < 0.05
    assert bool(row["change_significant"])  # Holm-adjusted over the whole ledger
    assert row["change_ci_low"] <= truth["nps_change"] <= row["change_ci_high"]
    assert row["change"] < 0
    # No other period of that team shows a significant change after adjustment.
    assert not team.loc[team["period"] != at, "change_significant"].fillna(False).any()


def test_ledger_recovers_a_larger_planted_shift_at_its_month() -> None:
    # Monthly periods: about 45 answers a month at digital, so the change's standard
    # error is about 16 points; a two-point drop (about -71 NPS points) is needed. Over
    # seeds 0..5: p < 0.005 at the planted month in 6 of 6, the interval covered the
    # planted size in 5 of 6 (nominal 95%), no other month of the team flagged after
    # Holm's adjustment in 6 of 6. One seed, fixed.
    from hxmetrics.datasets import simulate_organisation
    from hxmetrics.datasets._teams import add_teams
    from hxmetrics.stakeholders import attribute

    org = add_teams(simulate_organisation(12_000, random_state=0), random_state=0, score_shift=-2)
    truth = org.truth.planted["teams"]
    resp = attribute(org.responses, crosswalk=org.truth.crosswalk, episodes=org.truth.episodes)
    out = team_ledger(org.teams, responses=resp, period="M")
    team = out[out["team"] == truth["team"]]
    at = pd.Period(truth["shift_month"], freq="M")
    row = team[team["period"] == at].iloc[0]
    assert row["change_p_value"] < 0.05
    assert bool(row["change_significant"])
    assert row["change_ci_low"] <= truth["nps_change"] <= row["change_ci_high"]
    assert not team.loc[team["period"] != at, "change_significant"].fillna(False).any()
