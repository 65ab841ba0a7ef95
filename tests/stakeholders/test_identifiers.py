"""Identifiers that do not re-identify: keyed person ids, salts with entropy, masked errors.

Issue 10, "Identifiers": a person id was an unsalted hash of a roster id (hashing
guessed ids re-identified everyone), ``pseudonymise`` accepted an integer salt (zero
bytes), ``"password"`` and blank salts and left ``hxp:`` values in clear, and key lists
given as one string were split into letters.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import (
    PSEUDONYM_PREFIX,
    StakeholderRegistry,
    new_secret,
    pseudonymise,
    resolution_scores,
    resolve_identities,
)
from hxmetrics.stakeholders.identity import secret_key

from ._helpers import partition, roster

SECRET_A = "3f9c2a7be1d04c6f8a5b9e2d7c1f0a6b"
SECRET_B = b"\x8e\x11\x5a\xc3\x90\x27\xfd\x64\x0b\xd9\x42\x7e\xa1\x3c\x58\xe6"


def _rosters() -> dict[str, pd.DataFrame]:
    """Three silos: cross-silo links, a household phone conflict, single-record persons."""
    customers = roster(
        "customer_id",
        [
            {"id": "C000001", "email": "ann@x.org", "birth_year": 1980, "engagement": "consumer"},
            {
                "id": "C000002",
                "phone": "555 000 1111",
                "birth_year": 1950,
                "engagement": "consumer",
            },
            {"id": "C000003", "phone": "5550001111", "birth_year": 1985, "engagement": "consumer"},
            {"id": "C000004", "email": "bo@y.org", "engagement": "business"},
            # A record whose own rows disagree on the birth year.
            {"id": "C000005", "email": "cy@z.org", "birth_year": 1970, "engagement": "consumer"},
            {
                "id": "C000005",
                "email": "cy@z.org",
                "birth_year": 1990,
                "start": 400,
                "engagement": "consumer",
            },
        ],
    )
    workers = roster(
        "worker_id",
        [
            {"id": "W000001", "email": "ANN@x.org ", "birth_year": 1980, "engagement": "full_time"},
            {"id": "W000002", "phone": "+1 555 000 1111", "birth_year": 1950, "engagement": "gig"},
        ],
    )
    partners = roster(
        "partner_id", [{"id": "R000001", "email": "bo@y.org", "engagement": "driver"}]
    )
    return {"customers": customers, "workers": workers, "partners": partners}


def _unkeyed_id(silo: str, source_id: str) -> str:
    """The old person id of a record: SplitMix64(SipHash(source_id) ^ SipHash(silo))."""
    u64 = np.uint64
    h = pd.util.hash_array(np.array([source_id], dtype=object), categorize=False)
    s = pd.util.hash_array(np.array([silo], dtype=object), categorize=False)
    with np.errstate(over="ignore"):
        z = (h ^ s[0]) + u64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
        z = z ^ (z >> u64(31))
    return f"P{int(z[0]):016x}"


def _guessed_ids() -> set[str]:
    """What an attacker computes from guessed roster ids (C000001, ...), without a secret."""
    return {
        _unkeyed_id(silo, f"{prefix}{i:06d}")
        for silo, prefix in [("customers", "C"), ("workers", "W"), ("partners", "R")]
        for i in range(1, 50)
    }


# ----------------------------------------------------------------- person ids


def test_guessed_roster_ids_do_not_reidentify_persons():
    # Reproduction: with the old unkeyed hash every person id was in the attacker's list.
    guessed = _guessed_ids()
    for kwargs in ({}, {"secret": SECRET_A}, {"secret": SECRET_B}):
        cw, _ = resolve_identities(_rosters(), **kwargs)
        assert cw["person_id"].str.fullmatch(r"P[0-9a-f]{16}").all()
        assert not set(cw["person_id"]) & guessed, kwargs


def test_person_id_is_the_documented_hmac_of_the_representative_record():
    cw, _ = resolve_identities(_rosters(), secret=SECRET_A)
    # A single-record person is its own representative.
    person_key = hmac.digest(SECRET_A.encode(), b"hxmetrics/person_id/v1", "sha256")
    expected = "P" + hmac.new(person_key, b"customers\x1fC000004", hashlib.sha256).hexdigest()[:16]
    got = cw.loc[cw["source_id"].eq("C000004"), "person_id"].iloc[0]
    # C000004 and R000001 share an email: one person, named after one of them.
    alt = "P" + hmac.new(person_key, b"partners\x1fR000001", hashlib.sha256).hexdigest()[:16]
    assert got in {expected, alt}
    lone = cw.loc[cw["matched_on"].eq("none")]
    for silo, source_id, person_id in lone[["silo", "source_id", "person_id"]].itertuples(
        index=False
    ):
        message = f"{silo}\x1f{source_id}".encode()
        assert person_id == "P" + hmac.new(person_key, message, hashlib.sha256).hexdigest()[:16]
    assert len(lone) >= 2


def test_person_ids_are_rfc2104_hmac_for_long_and_non_ascii_ids():
    # Ids longer than a SHA-256 block and outside ASCII: the per-person HMAC must equal
    # the standard library's.
    ids = ["x" * 200, "Zoë-ßø-7", "W\u4e2d\u6587", "0"]
    df = pd.DataFrame({"worker_id": ids, "email": [f"{i}@x.org" for i in range(4)]})
    cw, _ = resolve_identities({"workers": df}, secret=SECRET_B)
    key = hmac.digest(SECRET_B, b"hxmetrics/person_id/v1", "sha256")
    expected = [
        "P" + hmac.digest(key, f"workers\x1f{i}".encode(), "sha256").hex()[:16] for i in ids
    ]
    assert cw["person_id"].tolist() == expected


def test_two_secrets_give_disjoint_ids_and_the_same_grouping():
    cw_a, conflicts_a = resolve_identities(_rosters(), secret=SECRET_A)
    cw_b, conflicts_b = resolve_identities(_rosters(), secret=SECRET_B)
    assert not set(cw_a["person_id"]) & set(cw_b["person_id"])
    # Everything but the id is independent of the secret: rows, order, grouping, conflicts.
    pd.testing.assert_frame_equal(cw_a.drop(columns="person_id"), cw_b.drop(columns="person_id"))
    assert partition(cw_a) == partition(cw_b)
    pairs = cw_a[["person_id"]].assign(other=cw_b["person_id"]).drop_duplicates()
    assert pairs["person_id"].is_unique
    assert pairs["other"].is_unique
    assert not conflicts_a.empty
    assert set(conflicts_a["kind"]) == {"birth_year_mismatch", "record_birth_year_mismatch"}
    pd.testing.assert_frame_equal(conflicts_a, conflicts_b)
    # The default (a per-process secret) groups exactly the same way.
    cw_default, conflicts_default = resolve_identities(_rosters())
    pd.testing.assert_frame_equal(
        cw_default.drop(columns="person_id"), cw_a.drop(columns="person_id")
    )
    pd.testing.assert_frame_equal(conflicts_default, conflicts_a)


def test_the_same_secret_gives_the_same_ids_as_str_or_bytes():
    first, _ = resolve_identities(_rosters(), secret=SECRET_A)
    again, _ = resolve_identities(_rosters(), secret=SECRET_A.encode())
    pd.testing.assert_frame_equal(first, again)
    # Without a secret the ids are stable within this process.
    a, _ = resolve_identities(_rosters())
    b, _ = resolve_identities(_rosters())
    pd.testing.assert_frame_equal(a, b)


_SCRIPT = """
import sys
import pandas as pd
from hxmetrics.stakeholders import resolve_identities
df = pd.DataFrame({"customer_id": ["C000001", "C000002", "C000003"],
                   "email": ["ann@x.org", "ANN@x.org", "bo@y.org"]})
cw, _ = resolve_identities({"customers": df}%s)
sys.stdout.write(",".join(cw["person_id"]))
"""


def _ids_in_a_new_process(arguments: str = "") -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT % arguments], capture_output=True, text=True, check=True
    )
    return run.stdout.split(",")


def test_the_default_secret_changes_between_processes():
    first, second = _ids_in_a_new_process(), _ids_in_a_new_process()
    assert len(first) == 3
    assert first[0] == first[1] != first[2]
    assert not set(first) & set(second)
    # ... while a given secret gives the same ids in every process.
    keyed = [_ids_in_a_new_process(f", secret={SECRET_A!r}") for _ in range(2)]
    assert keyed[0] == keyed[1]
    assert not set(keyed[0]) & set(first)


def test_registry_passes_the_secret_on():
    rosters = _rosters()
    reg = StakeholderRegistry.from_rosters(**rosters, secret=SECRET_B)
    cw, _ = resolve_identities(rosters, secret=SECRET_B)
    pd.testing.assert_frame_equal(reg.crosswalk, cw)
    assert set(reg.episodes["person_id"]) <= set(cw["person_id"])


def test_new_secret_is_64_hex_digits_fresh_every_call_and_accepted():
    a, b = new_secret(), new_secret()
    assert a != b
    assert len(a) == 64
    assert int(a, 16) >= 0
    resolve_identities(_rosters(), secret=a)
    pseudonymise(pd.DataFrame({"email": ["a@x"]}), ["email"], salt=b)
    # The weakness rules never refuse a fresh secret (nor its bytes).
    for _ in range(2000):
        fresh = new_secret()
        secret_key(fresh, name="secret")
        secret_key(bytes.fromhex(fresh), name="secret")


# --------------------------------------------------------------- weak secrets

_WEAK = [
    pytest.param(8, "str or bytes", id="int"),
    pytest.param(None, "str or bytes", id="none"),
    pytest.param(12345678901234567890, "str or bytes", id="big-int"),
    pytest.param(["a" * 32], "str or bytes", id="list"),
    pytest.param("", "at least 16 bytes", id="blank"),
    pytest.param("password", "at least 16 bytes", id="password"),
    pytest.param("s3cr3t!", "at least 16 bytes", id="short"),
    pytest.param(" " * 16, "too weak", id="spaces"),
    pytest.param(b"\x00" * 16, "too weak", id="zero-bytes"),
    pytest.param("passwordpassword", "too weak", id="password-twice"),
    pytest.param("Password12345678", "too weak", id="password-digits"),
    pytest.param("abcdefghijklmnopqrstuvwxyz", "too weak", id="alphabet"),
    pytest.param("0123456789abcdef", "too weak", id="counting"),
    pytest.param("12341234123412341234", "too weak", id="repeated"),
    pytest.param("k3J9x!Qz" * 3, "too weak: a short pattern repeated", id="pattern"),
]


@pytest.mark.parametrize(("salt", "message"), _WEAK)
def test_pseudonymise_refuses_weak_or_non_text_salts(salt, message):
    df = pd.DataFrame({"email": ["ann@x.org"]})
    with pytest.raises(ParameterError, match=message) as err:
        pseudonymise(df, ["email"], salt=salt)
    text = str(err.value)
    assert "new_secret()" in text
    # The error never repeats the salt.
    if isinstance(salt, str) and salt.strip():
        assert salt not in text


@pytest.mark.parametrize(("secret", "message"), [p for p in _WEAK if p.id != "none"])
def test_resolve_identities_refuses_weak_or_non_text_secrets(secret, message):
    with pytest.raises(ParameterError, match=message) as err:
        resolve_identities(_rosters(), secret=secret)
    assert "new_secret()" in str(err.value)
    with pytest.raises(ParameterError, match=message):
        StakeholderRegistry.from_rosters(**_rosters(), secret=secret)


def test_an_integer_salt_is_not_zero_bytes():
    # Reproduction: bytes(8) is eight zero bytes, so salt=8 hashed like b"\0" * 8.
    df = pd.DataFrame({"email": ["ann@x.org"]})
    with pytest.raises(ParameterError, match="str or bytes; got int"):
        pseudonymise(df, ["email"], salt=8)


@pytest.mark.parametrize(
    "salt",
    [
        "a secret salt value",
        "simulation salt 0",
        b"\x8e\x11\x5a\xc3\x90\x27\xfd\x64\x0b\xd9\x42\x7e\xa1\x3c\x58\xe6",
        "correct horse battery staple",
    ],
)
def test_reasonable_salts_are_accepted(salt):
    out = pseudonymise(pd.DataFrame({"email": ["ann@x.org"]}), ["email"], salt=salt)
    assert out["email"].iloc[0].startswith(PSEUDONYM_PREFIX)


# ------------------------------------------------------------ pseudonymise


def test_pseudonymise_hashes_every_value_even_those_that_look_hashed():
    fake = PSEUDONYM_PREFIX + "ann@x.org"
    already = pseudonymise(pd.DataFrame({"email": ["bo@y.org"]}), ["email"], salt=SECRET_A)
    looks_hashed = already["email"].iloc[0]
    df = pd.DataFrame({"email": [fake, "ann@x.org", looks_hashed, None]})
    out = pseudonymise(df, ["email"], salt=SECRET_A)["email"]
    # Reproduction: values starting "hxp:" used to be passed through in clear.
    assert fake not in set(out)
    assert looks_hashed not in set(out)
    assert out.iloc[:3].str.fullmatch(PSEUDONYM_PREFIX + "[0-9a-f]{32}").all()
    assert out.iloc[:3].is_unique
    assert pd.isna(out.iloc[3])
    # Not idempotent (documented): pseudonymise each roster once.
    assert out.iloc[2] != looks_hashed


def test_rosters_pseudonymised_with_one_salt_still_resolve_like_raw_ones():
    rosters = _rosters()
    hashed = {s: pseudonymise(df, ["email", "phone"], salt=SECRET_B) for s, df in rosters.items()}
    raw_cw, raw_conflicts = resolve_identities(rosters, secret=SECRET_A)
    hashed_cw, hashed_conflicts = resolve_identities(hashed, secret=SECRET_A)
    pd.testing.assert_frame_equal(raw_cw, hashed_cw)
    assert len(raw_conflicts) == len(hashed_conflicts)
    assert partition(hashed_cw) == partition(raw_cw)
    for df in hashed.values():
        for column in ("email", "phone"):
            assert df[column].dropna().str.startswith(PSEUDONYM_PREFIX).all()


# ------------------------------------------------------------------- keys


def test_a_single_string_is_one_key():
    # Reproduction (in a job file): keys = "email" became ['e', 'm', 'a', 'i', 'l'].
    rosters = _rosters()
    as_str, _ = resolve_identities(rosters, keys="email", secret=SECRET_A)
    as_list, _ = resolve_identities(rosters, keys=["email"], secret=SECRET_A)
    pd.testing.assert_frame_equal(as_str, as_list)
    assert set(as_str["matched_on"]) <= {"email", "none"}
    reg = StakeholderRegistry.from_rosters(**rosters, keys="email", secret=SECRET_A)
    pd.testing.assert_frame_equal(reg.crosswalk, as_list)


@pytest.mark.parametrize(
    "keys", [["email", 3], [None], ("email", b"phone"), [""], "", 7, {"email": "phone"}]
)
def test_keys_must_be_non_empty_strings(keys):
    with pytest.raises(ParameterError, match="keys"):
        resolve_identities(_rosters(), keys=keys)
    with pytest.raises(ParameterError, match="keys"):
        StakeholderRegistry.from_rosters(**_rosters(), keys=keys)


# ---------------------------------------------------- no identifier in errors


def test_duplicated_truth_records_are_named_by_row_not_by_id():
    cw, _ = resolve_identities(_rosters(), secret=SECRET_A)
    truth = pd.DataFrame(
        {
            "silo": ["customers", "customers", "workers"],
            "source_id": ["C000001", "C000001", "W000001"],
            "person_id": ["t1", "t2", "t1"],
        }
    )
    with pytest.raises(InputTableError, match=r"one_person_per_record.*row 0") as err:
        resolution_scores(cw, truth)
    assert "C000001" not in str(err.value)
    assert "C000001" not in err.value.failure_cases.to_string()


def test_missing_ids_are_named_by_row():
    df = pd.DataFrame({"customer_id": ["C000001", None], "email": ["ann@x.org", "bo@y.org"]})
    with pytest.raises(InputTableError, match="row 1") as err:
        resolve_identities({"customers": df}, secret=SECRET_A)
    for value in ("C000001", "ann@x.org", "bo@y.org"):
        assert value not in str(err.value)
        assert value not in err.value.failure_cases.to_string()


def test_conflicts_and_summaries_hold_no_key_values():
    rosters = _rosters()
    reg = StakeholderRegistry.from_rosters(**rosters, secret=SECRET_A)
    raw = {
        str(v).strip().lower()
        for df in rosters.values()
        for column in ("email", "phone")
        for v in df[column].dropna()
    }
    digits = {"".join(ch for ch in v if ch.isdigit())[-10:] for v in raw if "@" not in v}
    shown = [*reg.conflicts.astype(str).to_numpy().ravel().tolist(), repr(reg)]
    shown += reg.summary().astype(str).to_numpy().ravel().tolist()
    for value in raw | digits:
        assert not any(value in str(cell) for cell in shown), value
    assert "person_id" not in repr(reg)
    assert not any(p in repr(reg) for p in reg.crosswalk["person_id"])
