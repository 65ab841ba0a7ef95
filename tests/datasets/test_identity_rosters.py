"""The noisy identity-roster simulator: rosters valid, truth consistent, noise at its rates."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.datasets._identity import (
    DEFAULT_MISSING,
    IDENTITY_COLUMNS,
    IdentityRosters,
    _vocabularies,
    simulate_identity_rosters,
)
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import resolution_scores, resolve_identities
from hxmetrics.stakeholders._rosters import check_rosters
from hxmetrics.tables import ID_COLUMN, validate

# Every noise off: each record must show its person's clean identity.
_CLEAN = {
    "typo_rate": 0.0,
    "move_rate": 0.0,
    "name_change_rate": 0.0,
    "missing_rate": 0.0,
    "nickname_rate": 0.0,
    "initial_rate": 0.0,
    "swap_rate": 0.0,
    "date_error_rate": 0.0,
    "silo_styles": False,
}


@pytest.fixture(scope="module")
def sim() -> IdentityRosters:
    return simulate_identity_rosters(3000, random_state=5)


def _records(sim: IdentityRosters) -> pd.DataFrame:
    """One row per record (silo, source_id) with its person's clean identity beside it."""
    parts = []
    for silo, df in sim.rosters.items():
        one = df.drop_duplicates(ID_COLUMN[silo]).rename(columns={ID_COLUMN[silo]: "source_id"})
        parts.append(one.assign(silo=silo))
    rec = pd.concat(parts, ignore_index=True).drop(columns=["start", "end", "engagement"])
    rec = rec.merge(sim.truth, on=["silo", "source_id"], how="left", validate="one_to_one")
    clean = sim.persons.rename(columns={c: f"true_{c}" for c in sim.persons if c != "person_id"})
    return rec.merge(clean, on="person_id", how="left", validate="many_to_one")


def _within(share: float, rate: float, n: int, z: float = 4.0) -> bool:
    """``share`` of ``n`` Bernoulli draws is within ``z`` standard errors of ``rate``."""
    se = math.sqrt(max(rate * (1 - rate), 1e-12) / n)
    return abs(share - rate) <= z * se


# --------------------------------------------------------------------------- determinism
def test_same_arguments_same_rosters(sim: IdentityRosters) -> None:
    again = simulate_identity_rosters(3000, random_state=5)
    for silo, df in sim.rosters.items():
        pd.testing.assert_frame_equal(df, again.rosters[silo])
    pd.testing.assert_frame_equal(sim.truth, again.truth)
    pd.testing.assert_frame_equal(sim.persons, again.persons)
    pd.testing.assert_frame_equal(sim.noise, again.noise)
    other = simulate_identity_rosters(3000, random_state=6)
    assert not other.rosters["customers"]["given_name"].equals(
        sim.rosters["customers"]["given_name"]
    )


def test_generator_seed_is_deterministic() -> None:
    a = simulate_identity_rosters(300, random_state=np.random.default_rng(3))
    b = simulate_identity_rosters(300, random_state=np.random.default_rng(3))
    pd.testing.assert_frame_equal(a.rosters["workers"], b.rosters["workers"])
    assert "random_state" not in a.params


def test_a_noise_rate_changes_that_noise_only() -> None:
    low = simulate_identity_rosters(4000, random_state=2, typo_rate=0.05)
    high = simulate_identity_rosters(4000, random_state=2, typo_rate=0.2)
    pd.testing.assert_frame_equal(low.persons, high.persons)
    pd.testing.assert_frame_equal(low.truth, high.truth)
    for flag in ("given_typo", "family_typo", "address_typo", "postcode_typo"):
        # Noisy at a rate means noisy at every higher rate.
        assert not (low.noise[flag] & ~high.noise[flag]).any()
        assert high.noise[flag].sum() > low.noise[flag].sum()
    for column in ("date_of_birth", "start", "end", "engagement"):
        pd.testing.assert_series_equal(
            low.rosters["customers"][column], high.rosters["customers"][column]
        )


# --------------------------------------------------------------------------- contract
def test_rosters_pass_the_contract(sim: IdentityRosters) -> None:
    checked = check_rosters(sim.rosters)
    assert sorted(checked) == ["customers", "partners", "workers"]
    for silo, df in sim.rosters.items():
        validate(df, table=silo)
        assert list(df.columns) == [
            ID_COLUMN[silo],
            *IDENTITY_COLUMNS,
            "start",
            "end",
            "engagement",
        ]
        dob = df["date_of_birth"]
        assert pd.api.types.is_datetime64_any_dtype(dob)
        assert (dob.dropna() == dob.dropna().dt.normalize()).all()  # dates, no time
        assert not df.duplicated([ID_COLUMN[silo], "start"]).any()
        # Every row of one record carries the same identity.
        per_record = df.groupby(ID_COLUMN[silo])[list(IDENTITY_COLUMNS)].nunique(dropna=False)
        assert (per_record <= 1).all().all()
        assert (df["end"].isna() | (df["end"] > df["start"])).all()


def test_contacts_add_email_and_phone() -> None:
    sim = simulate_identity_rosters(2000, random_state=1, contacts=True)
    for silo, df in sim.rosters.items():
        validate(df, table=silo)
        assert {"email", "phone"} <= set(df.columns)
    assert {"email", "phone"} <= set(sim.persons.columns)


def test_without_contacts_exact_resolution_has_no_key() -> None:
    sim = simulate_identity_rosters(500, random_state=1)
    crosswalk, _ = resolve_identities(sim.rosters)
    # No default key: one person per record, and the notes say so.
    assert crosswalk["person_id"].nunique() == len(sim.truth)
    assert "no key column" in crosswalk.attrs["hxmetrics"]["notes"][0]
    with pytest.raises(InputTableError, match=r"\['email', 'phone'\] are in none of the rosters"):
        resolve_identities(sim.rosters, keys=["email", "phone"])


def test_with_contacts_exact_resolution_runs_and_households_trap_it() -> None:
    sim = simulate_identity_rosters(3000, random_state=4, contacts=True)
    crosswalk, _ = resolve_identities(sim.rosters)
    scores = resolution_scores(crosswalk, sim.truth).iloc[0]
    assert scores["n_unmatched"] == 0
    assert scores["recall"] > 0.5
    # Shared household landlines merge different persons: the exact path's trap.
    assert scores["precision"] < 1.0
    no_household = simulate_identity_rosters(
        3000, random_state=4, contacts=True, household_share=0.0
    )
    crosswalk, _ = resolve_identities(no_household.rosters)
    assert resolution_scores(crosswalk, no_household.truth).iloc[0]["precision"] == 1.0


# --------------------------------------------------------------------------- truth
def test_truth_is_one_person_per_record(sim: IdentityRosters) -> None:
    truth = sim.truth
    assert list(truth.columns) == ["silo", "source_id", "person_id"]
    assert not truth.duplicated(["silo", "source_id"]).any()
    ids = {(silo, i) for silo, df in sim.rosters.items() for i in df[ID_COLUMN[silo]].unique()}
    assert ids == set(zip(truth["silo"], truth["source_id"], strict=True))
    assert set(truth["person_id"]) == set(sim.persons["person_id"])
    assert sim.persons["person_id"].is_unique
    # Against itself the truth scores perfectly; people in 2-3 silos and within-silo
    # duplicates exist.
    scores = resolution_scores(truth, truth).iloc[0]
    assert scores["precision"] == scores["recall"] == 1.0
    silos_per_person = truth.groupby("person_id")["silo"].nunique()
    assert set(silos_per_person) == {1, 2, 3}
    assert truth.groupby(["person_id", "silo"]).size().max() >= 2


def test_without_noise_every_record_shows_its_person() -> None:
    sim = simulate_identity_rosters(3000, random_state=8, **_CLEAN)
    rec = _records(sim)
    for c in IDENTITY_COLUMNS:
        assert rec[c].equals(rec[f"true_{c}"].rename(c)), c
    assert not sim.noise.drop(columns=["silo", "source_id", "person_id", "dob_error"]).any().any()


# --------------------------------------------------------------------------- noise rates
@pytest.fixture(scope="module")
def n_big() -> int:
    return 40_000


@pytest.mark.parametrize("column", ["given_name", "family_name", "address", "postcode"])
def test_typo_rate_is_recovered(n_big: int, column: str) -> None:
    rate = 0.08
    sim = simulate_identity_rosters(n_big, random_state=9, **{**_CLEAN, "typo_rate": rate})
    rec = _records(sim)
    differs = rec[column] != rec[f"true_{column}"]
    assert _within(float(differs.mean()), rate, len(rec))
    if column in ("given_name", "family_name"):
        # One edit: lengths differ by at most one.
        gap = (rec[column].str.len() - rec[f"true_{column}"].str.len()).abs()
        assert gap.max() == 1


@pytest.mark.parametrize("column", IDENTITY_COLUMNS)
def test_missing_rate_is_recovered(n_big: int, column: str) -> None:
    rate = 0.1
    sim = simulate_identity_rosters(n_big, random_state=10, **{**_CLEAN, "missing_rate": rate})
    rec = _records(sim)
    assert _within(float(rec[column].isna().mean()), rate, len(rec))
    assert rec[column].dropna().equals(rec[f"true_{column}"][rec[column].notna()].rename(column))


def test_missing_rate_per_column(n_big: int) -> None:
    rates = {"date_of_birth": 0.2, "postcode": 0.05}
    sim = simulate_identity_rosters(n_big, random_state=10, **{**_CLEAN, "missing_rate": rates})
    rec = _records(sim)
    for column in IDENTITY_COLUMNS:
        share = float(rec[column].isna().mean())
        if column in rates:
            assert _within(share, rates[column], len(rec)), column
        else:
            assert share == 0.0, column
    assert sim.params["missing_rate"]["date_of_birth"] == 0.2
    json.dumps(sim.params)  # plain values


def test_default_missing_rates_are_recovered(n_big: int) -> None:
    sim = simulate_identity_rosters(n_big, random_state=14, contacts=True)
    records = pd.concat(
        [df.drop_duplicates(ID_COLUMN[s]) for s, df in sim.rosters.items()], ignore_index=True
    )
    for column, rate in DEFAULT_MISSING.items():
        assert _within(float(records[column].isna().mean()), rate, len(records)), column


def test_nicknames_initials_and_swaps(n_big: int) -> None:
    sim = simulate_identity_rosters(n_big, random_state=15, **{**_CLEAN, "nickname_rate": 1.0})
    rec = _records(sim)
    short = {"William": "Bill", "Elizabeth": "Liz", "Robert": "Bob"}
    for full, nick in short.items():
        mine = rec["true_given_name"] == full
        assert mine.sum() > 0
        assert (rec.loc[mine, "given_name"] == nick).all()
    plain = rec["true_given_name"] == "Maria"  # no short form: unchanged
    assert (rec.loc[plain, "given_name"] == "Maria").all()

    sim = simulate_identity_rosters(n_big, random_state=15, **{**_CLEAN, "initial_rate": 0.1})
    rec = _records(sim)
    changed = rec["given_name"] != rec["true_given_name"]
    assert _within(float(changed.mean()), 0.1, len(rec))
    assert (rec.loc[changed, "given_name"] == rec.loc[changed, "true_given_name"].str[0]).all()

    sim = simulate_identity_rosters(n_big, random_state=15, **{**_CLEAN, "swap_rate": 0.1})
    rec = _records(sim)
    swapped = rec["given_name"] != rec["true_given_name"]
    assert _within(float(swapped.mean()), 0.1, len(rec))
    assert (rec.loc[swapped, "given_name"] == rec.loc[swapped, "true_family_name"]).all()
    assert (rec.loc[swapped, "family_name"] == rec.loc[swapped, "true_given_name"]).all()


def test_silo_styles_normalise_back_to_the_identity() -> None:
    sim = simulate_identity_rosters(3000, random_state=16, **{**_CLEAN, "silo_styles": True})
    rec = _records(sim)
    partners = rec["silo"] == "partners"
    assert (rec.loc[partners, "family_name"] == rec.loc[partners, "family_name"].str.upper()).all()
    assert (rec.loc[~partners, "family_name"] == rec.loc[~partners, "true_family_name"]).all()
    assert rec["family_name"].str.casefold().equals(rec["true_family_name"].str.casefold())
    customers = rec["silo"] == "customers"
    way = rec["true_address"].str.endswith(" Way")  # "Way" has no shorter form
    same = rec["address"] == rec["true_address"]
    assert not (same & customers & ~way).any()
    full = {"St": "Street", "Rd": "Road", "Ln": "Lane", "Ave": "Avenue", "Cl": "Close"}
    full |= {"Dr": "Drive", "Pl": "Place", "Ct": "Court", "Way": "Way"}
    words = rec.loc[customers, "address"].str.rsplit(" ", n=1)
    expanded = words.str[0] + " " + words.str[1].map(full)
    assert expanded.equals(rec.loc[customers, "true_address"].rename("address"))
    assert (rec.loc[~customers, "address"] == rec.loc[~customers, "true_address"]).all()


def test_date_error_rate_is_recovered(n_big: int) -> None:
    rate = 0.1
    sim = simulate_identity_rosters(n_big, random_state=11, **{**_CLEAN, "date_error_rate": rate})
    rec = _records(sim)
    wrong = rec["date_of_birth"] != rec["true_date_of_birth"]
    assert _within(float(wrong.mean()), rate, len(rec))
    bad = rec[wrong]
    true, seen = bad["true_date_of_birth"], bad["date_of_birth"]
    kind = sim.noise.set_index(["silo", "source_id"]).loc[
        list(zip(bad["silo"], bad["source_id"], strict=True)), "dob_error"
    ]
    kind = kind.to_numpy()
    swapped = kind == "day_month_swapped"
    assert (seen[swapped].dt.day.to_numpy() == true[swapped].dt.month.to_numpy()).all()
    year = kind == "year_off_by_one"
    assert ((seen[year].dt.year - true[year].dt.year).abs() == 1).all()
    day = kind == "day_off_by_one"
    assert ((seen[day] - true[day]).abs() == pd.Timedelta(days=1)).all()
    jan = kind == "first_of_january"
    assert ((seen[jan].dt.month == 1) & (seen[jan].dt.day == 1)).all()
    assert set(kind) == {
        "day_month_swapped",
        "day_off_by_one",
        "year_off_by_one",
        "first_of_january",
    }


def test_moves_and_name_changes(n_big: int) -> None:
    move, change = 0.2, 0.1
    sim = simulate_identity_rosters(
        n_big, random_state=12, **{**_CLEAN, "move_rate": move, "name_change_rate": change}
    )
    persons = sim.persons
    alone = persons["household_id"].isna()  # households move together
    assert _within(float(persons.loc[alone, "moved_on"].notna().mean()), move, int(alone.sum()))
    assert _within(float(persons["name_changed_on"].notna().mean()), change, len(persons))
    assert (persons["moved_on"].notna() == persons["previous_address"].notna()).all()
    changed = persons["name_changed_on"].notna()
    assert (persons.loc[changed, "birth_family_name"] != persons.loc[changed, "family_name"]).all()
    rec = _records(sim)
    old_addr = rec["address"] != rec["true_address"]
    assert (rec.loc[old_addr, "address"] == rec.loc[old_addr, "true_previous_address"]).all()
    assert (rec.loc[old_addr, "postcode"] == rec.loc[old_addr, "true_previous_postcode"]).all()
    old_name = rec["family_name"] != rec["true_family_name"]
    assert (rec.loc[old_name, "family_name"] == rec.loc[old_name, "true_birth_family_name"]).all()
    assert old_addr.any()
    assert old_name.any()
    # Some persons show two addresses across their records: the move between silos.
    moved_between = rec.groupby("person_id")["address"].nunique()
    assert (moved_between >= 2).sum() > 0


# --------------------------------------------------------------------------- name frequencies
@pytest.mark.parametrize(
    ("column", "vocab", "size", "q"),
    [("given_name", "given", 4000, 3.0), ("family_name", "family", 60000, 10.0)],
)
def test_name_frequencies_follow_zipf_mandelbrot(
    n_big: int, column: str, vocab: str, size: int, q: float
) -> None:
    # p(rank r) = (r + q)^-1 / sum_k (k + q)^-1: common names are common (term
    # frequencies matter), with a long tail.
    sim = simulate_identity_rosters(n_big, random_state=17, household_share=0.0)
    names = sim.persons[column]
    w = 1.0 / (np.arange(1, size + 1) + q)
    expected = w / w.sum()
    ranked = _vocabularies()[vocab][:10]
    for name, p in zip(ranked, expected[:10], strict=True):
        assert _within(float((names == name).mean()), float(p), len(names)), name
    # The tail: the share of persons whose name is not among the 100 most common.
    tail = float(1 - expected[:100].sum())
    assert _within(float((~names.isin(_vocabularies()[vocab][:100])).mean()), tail, len(names))


# --------------------------------------------------------------------------- households
def test_households_at_their_share_are_different_persons(n_big: int) -> None:
    share = 0.25
    sim = simulate_identity_rosters(n_big, random_state=13, **{**_CLEAN, "household_share": share})
    persons = sim.persons
    in_house = persons["household_id"].notna()
    # Households are drawn as whole units of 2-4 persons: a design effect of up to 4.
    assert _within(float(in_house.mean()), share, len(persons) // 4)
    house = persons[in_house]
    shared = house.groupby("household_id")[["family_name", "address", "postcode"]].nunique()
    assert (shared == 1).all().all()
    assert (house.groupby("household_id").size() >= 2).all()
    assert not house.duplicated(["household_id", "given_name"]).any()
    twins = persons[persons["twin"]]
    assert len(twins) > 0
    assert (twins.groupby("household_id")["date_of_birth"].nunique() == 1).all()
    # The trap in the rosters: records of different persons with the same family name,
    # address and postcode.
    rec = _records(sim)
    trap = rec.groupby(["family_name", "address", "postcode"])["person_id"].nunique()
    assert (trap >= 2).sum() > 0.5 * house["household_id"].nunique()


# --------------------------------------------------------------------------- privacy
def test_no_field_leaks_the_person_id(sim: IdentityRosters) -> None:
    person_ids = set(sim.persons["person_id"])
    for df in sim.rosters.values():
        for c in df.columns:
            if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
                assert not set(df[c].dropna().astype(str)) & person_ids
    # Silo ids are numbered in random order: unrelated to the person's number.
    truth = sim.truth
    number = truth["source_id"].str.extract(r"(\d+)$")[0].astype(int)
    person = truth["person_id"].str[1:].astype(int)
    for silo in truth["silo"].unique():
        sel = (truth["silo"] == silo).to_numpy()
        rho = pd.Series(number[sel].to_numpy()).corr(
            pd.Series(person[sel].to_numpy()), method="spearman"
        )
        assert abs(rho) < 4 / math.sqrt(sel.sum())


def test_repr_shows_counts_only(sim: IdentityRosters) -> None:
    text = repr(sim) + sim._repr_html_()
    assert "persons=3000" in text
    for name in sim.persons["family_name"].head(50):
        assert name not in text


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_people": 1},
        {"n_people": 2.5},
        {"random_state": -1},
        {"typo_rate": 0.9},
        {"missing_rate": -0.1},
        {"household_share": True},
        {"contacts": "yes"},
        {"missing_rate": {"birth_date": 0.1}},
        {"missing_rate": {"postcode": 0.7}},
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object]) -> None:
    args = {"n_people": 100, **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(ParameterError, match=name):
        simulate_identity_rosters(**args)  # type: ignore[arg-type]  # bad types on purpose


# --------------------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None)
@given(
    n_people=st.integers(2, 60),
    seed=st.integers(0, 2**32 - 1),
    typo=st.floats(0, 0.5),
    missing=st.floats(0, 0.5),
    household=st.floats(0, 0.9),
    move=st.floats(0, 1),
    contacts=st.booleans(),
)
def test_any_draw_is_valid_rosters_with_a_consistent_truth(
    n_people: int,
    seed: int,
    typo: float,
    missing: float,
    household: float,
    move: float,
    contacts: bool,
) -> None:
    sim = simulate_identity_rosters(
        n_people,
        random_state=seed,
        typo_rate=typo,
        missing_rate=missing,
        household_share=household,
        move_rate=move,
        name_change_rate=move,
        duplicate_rate=typo,
        contacts=contacts,
    )
    check_rosters(sim.rosters)
    for silo, df in sim.rosters.items():
        validate(df, table=silo)
    assert set(sim.truth["person_id"]) == set(sim.persons["person_id"])
    assert len(sim.persons) == n_people
    assert not sim.truth.duplicated(["silo", "source_id"]).any()
    n_records = sum(df[ID_COLUMN[s]].nunique() for s, df in sim.rosters.items())
    assert n_records == len(sim.truth) == len(sim.noise)
    in_house = sim.persons.dropna(subset=["household_id"])
    assert (in_house.groupby("household_id").size() >= 2).all()
