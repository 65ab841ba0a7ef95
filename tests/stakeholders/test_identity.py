"""Identity resolution: normalisation, transitive linking, conflicts, stable ids, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import (
    PSEUDONYM_PREFIX,
    exact_matches,
    normalise_key,
    pseudonymise,
    resolution_scores,
    resolve_identities,
)

from ._helpers import partition, roster, slow_components

# ----------------------------------------------------------------- normalisation


def test_email_normalisation_strips_and_lowercases():
    got = normalise_key(
        pd.Series(["  Ann@Example.ORG ", "ann@example.org", "", None]), kind="email"
    )
    assert got.tolist()[:2] == ["ann@example.org", "ann@example.org"]
    assert got.isna().tolist() == [False, False, True, True]


@pytest.mark.parametrize(
    "raw",
    [
        "5550102030",
        "555-010-2030",
        "(555) 010-2030",
        "+1 555 010 2030",
        "+15550102030",
        "555.010.2030",
    ],
)
def test_phone_formats_normalise_to_the_same_ten_digits(raw):
    assert normalise_key(pd.Series([raw]), kind="phone").iloc[0] == "5550102030"


def test_short_phones_are_missing_and_numeric_phones_are_read_as_digits():
    got = normalise_key(pd.Series(["12-34", None]), kind="phone")
    assert got.isna().all()
    # A phone column read as float must not gain a trailing zero from ".0".
    floats = normalise_key(pd.Series([5550102030.0, np.nan]), kind="phone")
    assert floats.iloc[0] == "5550102030"
    assert pd.isna(floats.iloc[1])


def test_pseudonymised_values_pass_normalisation_unchanged():
    hashed = pseudonymise(
        pd.DataFrame({"phone": ["555 010 2030"]}), ["phone"], salt="a secret salt value"
    )
    value = hashed["phone"].iloc[0]
    assert value.startswith(PSEUDONYM_PREFIX)
    assert normalise_key(pd.Series([value]), kind="phone").iloc[0] == value


def test_normalise_key_rejects_unknown_kind():
    with pytest.raises(ParameterError, match="kind must be"):
        normalise_key(pd.Series(["x"]), kind="fax")


# ------------------------------------------------------------------- resolution


def _three_silos():
    customers = roster(
        "customer_id",
        [
            {"id": "c1", "email": "Ann@x.org", "birth_year": 1980, "engagement": "consumer"},
            {"id": "c2", "email": "bo@y.org", "phone": "555 000 1111", "engagement": "consumer"},
            # Within-silo duplicate of Ann: another customer id, same phone as w1.
            {"id": "c3", "phone": "+1 (555) 222-3333", "engagement": "business"},
        ],
    )
    workers = roster(
        "worker_id",
        [
            {"id": "w1", "email": " ann@X.org", "phone": "5552223333", "engagement": "full_time"},
            # Re-hire under the same id: two rows, one record.
            {"id": "w9", "email": "cy@z.org", "start": 0, "end": 5, "engagement": "gig"},
            {"id": "w9", "email": "cy@z.org", "start": 9, "engagement": "gig"},
        ],
    )
    partners = roster("partner_id", [{"id": "p1", "phone": "555-000-1111", "engagement": "driver"}])
    return {"customers": customers, "workers": workers, "partners": partners}


def test_transitive_links_across_and_within_silos():
    cw, conflicts = resolve_identities(_three_silos())
    assert conflicts.empty
    assert partition(cw) == {
        # c1 -email- w1 -phone- c3: transitive, and c1/c3 are duplicates in one silo.
        frozenset({("customers", "c1"), ("workers", "w1"), ("customers", "c3")}),
        frozenset({("customers", "c2"), ("partners", "p1")}),
        frozenset({("workers", "w9")}),
    }
    matched = dict(zip(cw["source_id"], cw["matched_on"], strict=True))
    assert matched == {
        "c1": "email",
        "c2": "phone",
        "c3": "phone",
        "w1": "email+phone",
        "w9": "none",
        "p1": "phone",
    }
    assert list(cw.columns) == ["silo", "source_id", "person_id", "matched_on"]
    assert cw["person_id"].str.fullmatch(r"P[0-9a-f]{16}").all()


def test_household_phone_with_contradicting_birth_years_is_not_merged():
    # Two people share a landline; the father (1950) also has an email link.
    customers = roster(
        "customer_id",
        [
            {
                "id": "c1",
                "phone": "5550001111",
                "birth_year": 1950,
                "email": "dad@x",
                "engagement": "consumer",
            },
            {"id": "c2", "phone": "555-000-1111", "birth_year": 1985, "engagement": "consumer"},
        ],
    )
    workers = roster(
        "worker_id",
        [
            {
                "id": "w1",
                "email": "DAD@x",
                "phone": "5550001111",
                "birth_year": 1950,
                "engagement": "full_time",
            }
        ],
    )
    cw, conflicts = resolve_identities({"customers": customers, "workers": workers})
    assert partition(cw) == {
        frozenset({("customers", "c1"), ("workers", "w1")}),
        frozenset({("customers", "c2")}),
    }
    assert set(conflicts["kind"]) == {"birth_year_mismatch"}
    assert set(conflicts["key"]) == {"phone"}
    assert set(conflicts["action"]) == {"key_not_used"}
    assert set(zip(conflicts["silo"], conflicts["source_id"], strict=True)) == {
        ("customers", "c1"),
        ("customers", "c2"),
        ("workers", "w1"),
    }
    assert conflicts["conflict_id"].nunique() == 1
    # No raw identifier in the conflicts table.
    assert not conflicts.astype(str).apply(lambda c: c.str.contains("555|dad")).any().any()
    # Birth years are only a conflict signal: switching it off merges the household.
    cw_off, none = resolve_identities({"customers": customers, "workers": workers}, birth_year=None)
    assert cw_off["person_id"].nunique() == 1
    assert none.empty


def test_birth_year_tolerance_allows_near_misses():
    customers = roster(
        "customer_id",
        [
            {"id": "c1", "email": "a@x", "birth_year": 1980, "engagement": "consumer"},
            {"id": "c2", "email": "a@x", "birth_year": 1981, "engagement": "consumer"},
        ],
    )
    strict, c_strict = resolve_identities({"customers": customers})
    loose, c_loose = resolve_identities({"customers": customers}, birth_year_tolerance=1)
    assert strict["person_id"].nunique() == 2
    assert len(c_strict) == 2
    assert loose["person_id"].nunique() == 1
    assert c_loose.empty


def test_record_without_birth_year_does_not_bridge_contradicting_people():
    # A (1980) -email- B (?) -phone- C (1985): B could be either; nobody is merged.
    customers = roster(
        "customer_id",
        [
            {"id": "a", "email": "a@x", "birth_year": 1980, "engagement": "consumer"},
            {"id": "b", "email": "a@x", "phone": "5550001111", "engagement": "consumer"},
            {"id": "c", "phone": "5550001111", "birth_year": 1985, "engagement": "consumer"},
            {"id": "d", "email": "a@x", "birth_year": 1980, "engagement": "consumer"},
        ],
    )
    cw, conflicts = resolve_identities({"customers": customers})
    assert partition(cw) == {
        # a and d keep their email link (both 1980); b is cut loose, c stays alone.
        frozenset({("customers", "a"), ("customers", "d")}),
        frozenset({("customers", "b")}),
        frozenset({("customers", "c")}),
    }
    assert set(conflicts["kind"]) == {"ambiguous_birth_year_bridge"}
    assert set(conflicts["source_id"]) == {"a", "b", "c", "d"}


def test_component_size_guard_cuts_the_most_shared_key():
    # A placeholder phone shared by five people; pairs of them also share emails.
    rows = [
        {"id": f"c{i}", "phone": "5559999999", "email": f"u{i // 2}@x", "engagement": "consumer"}
        for i in range(5)
    ]
    cw, conflicts = resolve_identities(
        {"customers": roster("customer_id", rows)}, max_component_size=3
    )
    assert partition(cw) == {
        frozenset({("customers", "c0"), ("customers", "c1")}),
        frozenset({("customers", "c2"), ("customers", "c3")}),
        frozenset({("customers", "c4")}),
    }
    assert set(conflicts["kind"]) == {"component_too_large"}
    assert set(conflicts["key"]) == {"phone"}
    assert len(conflicts) == 5


def test_a_component_that_cannot_be_cut_in_time_is_split_and_reported():
    # A chain c00 -p0- c01 -e1- c02 -p1- c03 ...: every key is shared by two
    # records; each round cuts one key per component (peeling two records off the
    # chain), so after the last round the rest of the chain is split and reported.
    rows = [
        {
            "id": f"c{i:02d}",
            "email": f"e{(i + 1) // 2:02d}",
            "phone": f"555000{i // 2:04d}",
            "engagement": "consumer",
        }
        for i in range(30)
    ]
    cw, conflicts = resolve_identities(
        {"customers": roster("customer_id", rows)}, max_component_size=2
    )
    sizes = cw.groupby("person_id").size()
    assert sizes.max() <= 2
    assert "unresolved_component" in set(conflicts["kind"])
    split = conflicts[conflicts["kind"] == "unresolved_component"]
    assert set(split["action"]) == {"split_into_records"}
    assert set(conflicts["kind"]) == {"component_too_large", "unresolved_component"}
    # The split records are persons of their own.
    alone = cw[cw["source_id"].isin(split["source_id"])]
    assert alone["person_id"].is_unique


def test_record_whose_rows_disagree_on_birth_year_is_reported():
    workers = roster(
        "worker_id",
        [
            {
                "id": "w1",
                "email": "a@x",
                "birth_year": 1970,
                "start": 0,
                "end": 3,
                "engagement": "gig",
            },
            {"id": "w1", "email": "a@x", "birth_year": 1990, "start": 5, "engagement": "gig"},
        ],
    )
    cw, conflicts = resolve_identities({"workers": workers})
    assert len(cw) == 1
    assert conflicts[["kind", "source_id", "action"]].values.tolist() == [
        ["record_birth_year_mismatch", "w1", "birth_year_ignored"]
    ]
    assert conflicts["birth_year"].isna().all()


def test_pseudonymised_keys_give_the_identical_partition():
    rosters = _three_silos()
    hashed = {
        silo: pseudonymise(df, ["email", "phone"], salt="a secret salt value")
        for silo, df in rosters.items()
    }
    raw_cw, _ = resolve_identities(rosters)
    hashed_cw, _ = resolve_identities(hashed)
    pd.testing.assert_frame_equal(raw_cw, hashed_cw)
    assert not hashed["workers"]["email"].str.contains("@").any()


def test_different_salts_do_not_link():
    rosters = _three_silos()
    a = pseudonymise(rosters["customers"], ["email", "phone"], salt="first salt 1234567")
    b = pseudonymise(rosters["workers"], ["email", "phone"], salt="other salt 4567890")
    cw, _ = resolve_identities({"customers": a, "workers": b})
    persons = cw.groupby("person_id")["silo"].nunique()
    assert (persons == 1).all()


def test_pseudonymise_rejects_a_short_salt_and_a_missing_column():
    df = pd.DataFrame({"email": ["a@x"]})
    with pytest.raises(ParameterError, match="salt must be at least 16 bytes; got 5"):
        pseudonymise(df, ["email"], salt="short")
    with pytest.raises(InputTableError, match="Did you mean 'email'"):
        pseudonymise(df, ["emial"], salt="long enough salt")


# ---------------------------------------------------------------------- errors


def test_missing_id_column_names_table_and_suggests():
    df = pd.DataFrame({"worker_idd": ["w1"], "email": ["a@x"]})
    with pytest.raises(InputTableError, match=r"workers.*worker_id.*Did you mean 'worker_idd'"):
        resolve_identities({"workers": df})


def test_missing_ids_name_the_rows():
    df = pd.DataFrame({"customer_id": ["c1", None, "c3"], "email": ["a", "b", "c"]})
    with pytest.raises(InputTableError, match=r"'customers', column 'customer_id'.*row 1") as err:
        resolve_identities({"customers": df})
    assert err.value.failure_cases["index"].tolist() == [1]


def test_key_in_no_roster_is_an_error_with_a_hint():
    df = pd.DataFrame({"customer_id": ["c1"], "e_mail": ["a"]})
    with pytest.raises(InputTableError, match=r"\['email'\].*Did you mean 'e_mail'"):
        resolve_identities({"customers": df}, keys=["email"])
    # By default the rosters' own email / phone columns are the keys; with neither, no
    # record is linked (issue 11: ids-only rosters register) and a note says so, with
    # the near miss.
    cw, _ = resolve_identities({"customers": df})
    assert cw["matched_on"].tolist() == ["none"]
    (note,) = cw.attrs["hxmetrics"]["notes"]
    assert "no key column (email, phone)" in note
    assert "Did you mean 'e_mail'" in note
    only_email = pd.DataFrame({"customer_id": ["c1", "c2"], "email": ["a@x", "A@x "]})
    cw, _ = resolve_identities({"customers": only_email})
    assert cw["person_id"].nunique() == 1


def test_bad_birth_year_names_the_rows():
    df = pd.DataFrame(
        {"customer_id": ["c1", "c2"], "email": ["a", "b"], "birth_year": ["1980", "nineteen"]}
    )
    with pytest.raises(InputTableError, match=r"birth_year.*row 1: 'nineteen'"):
        resolve_identities({"customers": df})


@pytest.mark.parametrize(
    ("rosters", "kwargs", "message"),
    [
        ({"custmers": pd.DataFrame()}, {}, "unknown silo 'custmers'.*Did you mean 'customers'"),
        ({}, {}, "rosters is empty"),
        ([pd.DataFrame()], {}, "rosters must be a mapping"),
        (
            {"workers": pd.DataFrame({"worker_id": ["w"], "email": ["a"]})},
            {"max_component_size": 1},
            "max_component_size must be at least 2",
        ),
        (
            {"workers": pd.DataFrame({"worker_id": ["w"], "email": ["a"]})},
            {"keys": ("email", "email")},
            "keys has duplicates",
        ),
    ],
)
def test_parameter_errors(rosters, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        resolve_identities(rosters, **kwargs)


def test_non_frame_roster_is_an_input_table_error():
    with pytest.raises(InputTableError, match="expected a pandas DataFrame, got list"):
        resolve_identities({"workers": [1, 2]})


# ------------------------------------------------------------------ properties

_silo = st.sampled_from(["customers", "workers", "partners"])
_ID = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}


@st.composite
def _rosters(draw, with_birth_years: bool = True):
    n = draw(st.integers(1, 25))
    rows = []
    for _ in range(n):
        rows.append(
            {
                "silo": draw(_silo),
                "id": f"id{draw(st.integers(0, 12))}",
                "email": draw(
                    st.one_of(st.none(), st.sampled_from(["a@x", " A@x", "b@x", "c@x", "d@x"]))
                ),
                "phone": draw(
                    st.one_of(
                        st.none(),
                        st.sampled_from(
                            ["5550000001", "+1 555 000 0001", "5550000002", "555-000-0003"]
                        ),
                    )
                ),
                "birth_year": (
                    draw(st.one_of(st.none(), st.sampled_from([1970, 1971, 1990])))
                    if with_birth_years
                    else None
                ),
            }
        )
    frame = pd.DataFrame(rows)
    out = {}
    for silo, part in frame.groupby("silo"):
        out[str(silo)] = pd.DataFrame(
            {
                _ID[str(silo)]: part["id"].to_numpy(),
                "email": part["email"].to_numpy(),
                "phone": part["phone"].to_numpy(),
                "birth_year": pd.array(part["birth_year"].to_numpy(), dtype="Int64"),
            }
        )
    return out


@settings(max_examples=60)
@given(_rosters(), st.randoms(use_true_random=False))
def test_person_ids_do_not_depend_on_row_or_silo_order(rosters, rnd):
    cw, conflicts = resolve_identities(rosters, max_component_size=4)
    shuffled = {}
    silos = list(rosters)
    rnd.shuffle(silos)
    for silo in silos:
        df = rosters[silo]
        order = list(range(len(df)))
        rnd.shuffle(order)
        shuffled[silo] = df.iloc[order].reset_index(drop=True)
    cw2, conflicts2 = resolve_identities(shuffled, max_component_size=4)
    key = ["silo", "source_id"]
    pd.testing.assert_frame_equal(
        cw.sort_values(key, ignore_index=True), cw2.sort_values(key, ignore_index=True)
    )
    order = ["conflict_id", "silo", "source_id"]
    pd.testing.assert_frame_equal(
        conflicts.sort_values(order, ignore_index=True),
        conflicts2.sort_values(order, ignore_index=True),
    )


@settings(max_examples=60)
@given(_rosters(with_birth_years=False))
def test_partition_equals_plain_union_find_without_conflict_signals(rosters):
    cw, conflicts = resolve_identities(rosters, birth_year=None, max_component_size=10**6)
    assert conflicts.empty
    records = []
    for silo, df in rosters.items():
        for sid, email, phone in df[[_ID[silo], "email", "phone"]].itertuples(index=False):
            tokens = []
            if not pd.isna(email):
                tokens.append("e:" + email.strip().lower())
            if not pd.isna(phone):
                tokens.append("p:" + "".join(ch for ch in phone if ch.isdigit())[-10:])
            records.append((silo, sid, tokens))
    labels = slow_components(records)
    expected: dict[int, set] = {}
    for node, label in labels.items():
        expected.setdefault(label, set()).add(node)
    assert partition(cw) == {frozenset(g) for g in expected.values()}


@settings(max_examples=40)
@given(_rosters())
def test_no_person_mixes_contradicting_birth_years(rosters):
    cw, _ = resolve_identities(rosters)
    years = []
    for silo, df in rosters.items():
        years.append(
            pd.DataFrame({"silo": silo, "source_id": df[_ID[silo]], "by": df["birth_year"]})
        )
    merged = cw.merge(pd.concat(years), on=["silo", "source_id"])
    # A record whose own rows disagree is reported, its years ignored.
    consistent = merged.groupby(["silo", "source_id"])["by"].transform("nunique") <= 1
    span = merged[consistent].groupby("person_id")["by"].agg(lambda s: s.max() - s.min())
    assert (span.fillna(0) == 0).all()


# ------------------------------------------------------------------ evaluation


def test_resolution_scores_count_pairs():
    truth = pd.DataFrame(
        {"silo": ["workers"] * 4, "source_id": list("abcd"), "person_id": list("xxxy")}
    )
    # Found: {a, b}, {c, d}: one correct pair out of two found, of three true.
    found = truth.assign(person_id=list("ppqq"))
    scores = resolution_scores(found, truth).iloc[0]
    assert scores["true_pairs"] == 3
    assert scores["found_pairs"] == 2
    assert scores["correct_pairs"] == 1
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["exact_persons"] == 0.0
    assert exact_matches(truth, truth)["person_id_true"].tolist() == ["x", "y"]


def test_exact_matches_takes_found_ids_that_are_not_text():
    # Cluster numbers as found person ids (a probabilistic linker's output): compared
    # as text like everywhere in the scores; merging on int and str raised before.
    truth = pd.DataFrame(
        {"silo": ["workers"] * 3, "source_id": list("abc"), "person_id": list("xxy")}
    )
    found = truth.assign(person_id=[7, 7, 9])
    assert exact_matches(found, truth)["person_id_found"].tolist() == ["7", "9"]
    assert resolution_scores(found, truth).iloc[0]["exact_persons"] == pytest.approx(1.0)
