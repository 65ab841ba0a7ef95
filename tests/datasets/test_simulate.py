"""The generator's output: contract validity, dtypes, determinism, arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.errors import ParameterError
from hxmetrics.tables import TABLES, validate


def _all_frames(org: Organisation) -> dict[str, pd.DataFrame]:
    out = dict(org.tables)
    for name in ("crosswalk", "episodes", "hybrids", "keys", "unattributable", "service"):
        out[f"truth.{name}"] = getattr(org.truth, name)
    for name in ("latent_mean", "items", "nps", "csat", "ces", "weights"):
        out[f"experience.{name}"] = getattr(org.truth.experience, name)
    out["clv.latent"] = org.truth.clv.latent
    assert org.ticket_events is not None
    out["ticket_events"] = org.ticket_events
    for name in ("itr", "ticket_paths", "follow_ups"):
        frame = getattr(org.truth, name)
        assert frame is not None
        out[f"truth.{name}"] = frame
    return out


@pytest.mark.parametrize(
    ("n", "seed", "kwargs"),
    [
        (1, 0, {}),
        (50, 1, {"hybrid_share": 1.0}),
        (400, 2, {"hybrid_share": 0.0, "key_noise": 0.0}),
        (2000, 3, {"key_noise": 0.5, "start": "2024-01-01", "end": "2024-07-01"}),
    ],
)
def test_every_table_passes_the_contract_unchanged(n: int, seed: int, kwargs: dict) -> None:
    org = simulate_organisation(n, random_state=seed, **kwargs)
    assert set(org.tables) == set(TABLES)
    for name, df in org.tables.items():
        # validate() coerces; the generator already hands out coerced frames.
        pd.testing.assert_frame_equal(validate(df, table=name), df)
    # The optional status histories too, checked against their tickets.
    events = org.ticket_events
    assert events is not None
    parents = {"tickets": org.tickets}
    pd.testing.assert_frame_equal(validate(events, table="ticket_events", parents=parents), events)


def test_dtypes_are_nanosecond_timestamps_and_string_ids(org: Organisation) -> None:
    for name, df in _all_frames(org).items():
        for col in df.columns:
            dtype = df[col].dtype
            if col in (
                "start",
                "end",
                "timestamp",
                "opened",
                "first_response",
                "closed",
                "dropout",
            ):
                assert dtype == "datetime64[ns]", (name, col)
            if col.endswith("_id") or col in ("silo", "role", "engagement"):
                assert dtype == "str", (name, col)
    assert isinstance(org.end, pd.Timestamp)
    assert org.end == pd.Timestamp("2025-12-31")


def test_every_group_and_instrument_is_present(org: Organisation) -> None:
    r = org.responses
    assert set(r["silo"]) == {"customers", "workers", "partners"}
    pairs = set(zip(r["instrument"], r["item"], strict=True))
    assert pairs == {("nps", "ltr"), ("csat", "overall"), ("ces", "effort")} | {
        ("hx_core", f"hx{j}") for j in range(1, 7)
    }
    assert set(r.loc[r["instrument"] == "hx_core", "silo"]) == {"customers", "workers", "partners"}
    assert set(r.loc[r["instrument"].isin(["csat", "ces"]), "silo"]) == {"customers"}
    assert r.loc[r["instrument"].isin(["csat", "ces"]), "touchpoint"].notna().all()
    ranges = {"ltr": (0, 10), "overall": (1, 5), "effort": (1, 7)}
    for item, g in r.groupby("item"):
        lo, hi = ranges.get(str(item), (1, 5))
        assert g["score"].between(lo, hi).all()
        assert (g["score"] == g["score"].round()).all()
    assert (r["weight"] > 0).all()
    # One weight per response, not per item.
    assert r.groupby("response_id")["weight"].nunique().eq(1).all()
    assert (org.transactions["amount"] > 0).all()
    assert set(org.transactions["silo"]) == {"customers"}
    for silo, role in (("customers", "customer"), ("workers", "worker"), ("partners", "partner")):
        engagements = set(org.tables[silo]["engagement"])
        assert len(engagements) > 1, (silo, role)


def test_ids_have_a_distinct_format_per_silo(org: Organisation) -> None:
    assert org.customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert org.workers["worker_id"].str.fullmatch(r"W-\d{5}").all()
    assert org.partners["partner_id"].str.fullmatch(r"P9\d{4}").all()
    emails = pd.concat([t["email"] for t in (org.customers, org.workers, org.partners)]).dropna()
    assert emails.str.strip().str.lower().str.fullmatch(r"[a-z]+\d+@example\.(com|org|net)").all()


def test_tickets_are_consistent(org: Organisation) -> None:
    t = org.tickets
    assert (t["first_response"].isna() | (t["first_response"] >= t["opened"])).all()
    assert (t["closed"].isna() | (t["closed"] >= t["first_response"])).all()
    # Nothing is closed before it is answered; an unanswered ticket is open.
    assert (t["first_response"].notna() | t["closed"].isna()).all()
    assert t["closed"].isna().any()
    assert t["closed"].notna().any()
    # Teams answer at different speeds (the truth says by how much).
    hours = (t["first_response"] - t["opened"]).dt.total_seconds() / 3600
    med = hours.groupby(t["team"]).median()
    assert med["customer_care"] < med["hr_ops"]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120))
def test_same_seed_same_organisation(seed: int, n: int) -> None:
    a = simulate_organisation(n, random_state=seed)
    b = simulate_organisation(n, random_state=seed)
    fa, fb = _all_frames(a), _all_frames(b)
    for name in fa:
        pd.testing.assert_frame_equal(fa[name], fb[name], check_exact=True, obj=name)
    assert a.truth.experience.params == b.truth.experience.params
    assert a.truth.clv.params == b.truth.clv.params


def test_seed_is_the_old_name_of_random_state() -> None:
    # Found (issue 11): seeds were `seed` here and `random_state` everywhere else.
    with pytest.warns(DeprecationWarning, match="'seed' is deprecated, use 'random_state'"):
        old = simulate_organisation(40, seed=3)
    new = simulate_organisation(40, random_state=3)
    assert new.settings["random_state"] == 3
    fo, fn = _all_frames(old), _all_frames(new)
    for name in fn:
        pd.testing.assert_frame_equal(fo[name], fn[name], check_exact=True, obj=name)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(20, 120))
def test_different_seeds_differ(seed: int, n: int) -> None:
    a = simulate_organisation(n, random_state=seed)
    b = simulate_organisation(n, random_state=seed + 1)
    assert not a.truth.episodes["start"].equals(b.truth.episodes["start"])
    assert not a.truth.keys["email"].equals(b.truth.keys["email"])


def test_overrides_reach_the_truth_and_the_data() -> None:
    org = simulate_organisation(
        300,
        random_state=5,
        experience={"role_mean": {"worker": 1.0}, "ltr_loading": 2.0},
        clv={"r": 1.0, "alpha": 2.0},
    )
    lm = org.truth.experience.latent_mean
    row = lm[(lm["role"] == "worker") & (lm["archetype"] == "pure_worker")]
    row = row[row["engagement"] == "full_time"]
    assert row["mu"].item() == pytest.approx(1.0)
    assert org.truth.experience.params["role_mean"]["customer"] == 0.2  # merged, not replaced
    assert org.truth.clv.params["r"] == 1.0
    assert org.truth.clv.params["b"] == 2.426


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_people": 0}, "n_people"),
        ({"n_people": 2.5}, "n_people"),
        ({"random_state": -1}, "random_state"),
        ({"hybrid_share": 1.5}, "hybrid_share"),
        ({"key_noise": 0.9}, "key_noise"),
        ({"start": "2020-01-01", "end": "2020-02-01"}, "180 days"),
        ({"start": "2020-01-01 12:00"}, "midnight"),
        ({"start": "not a date"}, "start"),
        ({"experience": {"ltr_loadings": 1.0}}, "Did you mean 'ltr_loading'"),
        ({"experience": {"hx_loadings": [1, 2]}}, "needs 6 numbers"),
        ({"experience": {"ltr_baseline": [0.5] * 11}}, "summing to 1"),
        ({"experience": {"person_sd": 1.0}}, "person_sd"),
        ({"clv": {"gama": 1.0}}, "Did you mean 'gamma'"),
        ({"clv": {"q": 0.5}}, "q"),
        ({"clv": {"r": -1}}, "> 0"),
        ({"ticket_stalls": 1}, "ticket_stalls must be True or False"),
        ({"follow_ups": "yes"}, "follow_ups must be True or False"),
        ({"follow_up_effect": 5.0}, "follow_up_effect"),
        ({"follow_up_effect": True}, "follow_up_effect"),
    ],
)
def test_bad_arguments_raise_parameter_error(kwargs: dict, match: str) -> None:
    args = {"n_people": 10} | kwargs
    n = args.pop("n_people")
    with pytest.raises(ParameterError, match=match):
        simulate_organisation(n, **args)


def test_repr_has_sizes_not_identifiers(org: Organisation) -> None:
    text = repr(org)
    assert "persons=3000" in text
    assert "@" not in text
    assert np.all([name in text for name in (*TABLES, "ticket_events")])


def test_key_noise_changes_only_the_keys() -> None:
    # Each component draws from its own stream: the same people, episodes and
    # exhaust under more noise, so recall can be compared at fixed truth.
    a = simulate_organisation(400, random_state=9, key_noise=0.0)
    b = simulate_organisation(400, random_state=9, key_noise=0.3)
    pd.testing.assert_frame_equal(a.truth.episodes, b.truth.episodes)
    for name in ("responses", "events", "transactions", "tickets"):
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], obj=name)
    assert a.ticket_events is not None
    assert b.ticket_events is not None
    pd.testing.assert_frame_equal(a.ticket_events, b.ticket_events)
    key_cols = ["email", "phone", "birth_year"]
    assert not a.customers[key_cols].equals(b.customers[key_cols])
    assert a.customers["email"].notna().all()
    assert not b.customers["email"].notna().all()


def test_importing_datasets_does_not_import_scipy() -> None:
    """Found (issue 11): import cost; scipy is needed only when simulating."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import hxmetrics.datasets\n"
        "assert 'scipy' not in sys.modules, 'scipy at import'\n"
        "org = hxmetrics.datasets.simulate_organisation(20, random_state=1)\n"
        "assert len(org.truth.hybrids) == 20\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
