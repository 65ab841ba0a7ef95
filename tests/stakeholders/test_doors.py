"""Issue 11, the stakeholder doors: rosters without keys, any frame, ``role`` on attribution."""

from __future__ import annotations

import pandas as pd
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import StakeholderRegistry, new_secret, resolve_identities
from hxmetrics.tables import ROLE_OF_SILO

from ._helpers import day

# Polars is a test extra (CI installs it); without it this test cannot run.
pl = pytest.importorskip("polars")

SECRET = new_secret()


def _ids_only(silo: str, ids: list[str], engagement: str) -> pd.DataFrame:
    """A CRM export of ids only: the silo's id, the episode dates, no email, no phone."""
    id_column = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}
    return pd.DataFrame(
        {
            id_column[silo]: ids,
            "start": [day(i) for i in range(len(ids))],
            "end": pd.Series([pd.NaT] * len(ids), dtype="datetime64[ns]"),
            "engagement": [engagement] * len(ids),
        }
    )


# ------------------------------------------------------------- rosters without keys


def test_ids_only_roster_gives_one_person_per_record_with_a_note():
    # c1 has two episodes: one record, one person; c2 and c3 are persons of their own.
    customers = _ids_only("customers", ["c1", "c2", "c1", "c3"], "consumer")
    reg = StakeholderRegistry.from_rosters(customers=customers, secret=SECRET)
    cw = reg.crosswalk
    assert cw["source_id"].tolist() == ["c1", "c2", "c3"]
    assert cw["person_id"].nunique() == 3
    assert (cw["matched_on"] == "none").all()
    assert reg.episodes["person_id"].nunique() == 3  # c1's two open episodes merge
    assert reg.conflicts.empty
    (note,) = reg.notes
    assert "no key" in note
    assert "one person per record" in note
    assert "email" in note  # the defaults that were looked for
    assert "phone" in note
    assert cw.attrs["hxmetrics"]["notes"] == [note]
    assert cw.attrs["hxmetrics"]["keys"] == []


def test_ids_only_rosters_of_two_silos_never_link_even_with_equal_ids():
    # The same id text in two silos is two records: without a key nothing links them.
    customers = _ids_only("customers", ["x1", "x2"], "consumer")
    workers = _ids_only("workers", ["x1"], "gig")
    cw, conflicts = resolve_identities({"customers": customers, "workers": workers}, secret=SECRET)
    assert cw["person_id"].nunique() == 3
    assert (cw["matched_on"] == "none").all()
    assert conflicts.empty
    assert "no key" in cw.attrs["hxmetrics"]["notes"][0]


def test_empty_keys_means_link_nothing_even_when_keys_exist():
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "email": ["ann@x", "ANN@x"],
            "start": [day(0), day(1)],
            "end": pd.Series([pd.NaT] * 2, dtype="datetime64[ns]"),
            "engagement": ["consumer"] * 2,
        }
    )
    linked = StakeholderRegistry.from_rosters(customers=customers, secret=SECRET)
    assert linked.crosswalk["person_id"].nunique() == 1
    assert linked.notes == ()
    for empty in ([], ()):
        reg = StakeholderRegistry.from_rosters(customers=customers, keys=empty, secret=SECRET)
        assert reg.crosswalk["person_id"].nunique() == 2
        assert (reg.crosswalk["matched_on"] == "none").all()
        (note,) = reg.notes
        assert "keys=[]" in note
        assert "one person per record" in note


def test_a_named_key_in_no_roster_is_still_an_error():
    customers = _ids_only("customers", ["c1"], "consumer").assign(e_mail="a@x")
    with pytest.raises(InputTableError, match=r"\['email'\] are in none.*Did you mean 'e_mail'"):
        StakeholderRegistry.from_rosters(customers=customers, keys="email")


def test_ids_only_registry_attributes_and_gives_roles():
    customers = _ids_only("customers", ["c1", "c2"], "consumer")
    workers = _ids_only("workers", ["w1"], "gig")
    reg = StakeholderRegistry.from_rosters(customers=customers, workers=workers, secret=SECRET)
    events = pd.DataFrame(
        {
            "silo": ["customers", "workers", "customers"],
            "source_id": ["c2", "w1", "zz"],
            "timestamp": pd.to_datetime(["2024-01-01"] * 3),
        }
    )
    out = reg.attribute(events)
    assert out["attribution"].astype("str").tolist() == ["ok", "ok", "unknown_id"]
    assert out["role"].astype("str").tolist() == ["customer", "worker", "customer"]


# ------------------------------------------------------------ the role of each row


def test_registry_attribute_adds_the_role_of_the_rows_silo():
    customers = _ids_only("customers", ["c1"], "consumer")
    workers = _ids_only("workers", ["w1"], "gig")
    partners = _ids_only("partners", ["p1"], "driver")
    reg = StakeholderRegistry.from_rosters(
        customers=customers, workers=workers, partners=partners, secret=SECRET
    )
    events = pd.DataFrame(
        {
            "silo": ["partners", "customers", "workers", None],
            "source_id": ["p1", "c1", "w1", "w1"],
            "timestamp": pd.to_datetime(["2024-01-01"] * 4),
            "score": [9.0, 10.0, 3.0, 5.0],
        }
    )
    out = reg.attribute(events)
    assert list(out.columns[:4]) == list(events.columns)
    assert out.columns[-1] == "role"
    assert out["role"].iloc[:3].astype("str").tolist() == [
        ROLE_OF_SILO["partners"],
        "customer",
        "worker",
    ]
    assert pd.isna(out["role"].iloc[3])  # no silo, no role: never guessed
    # What the issue asked for: nps by role without a hand-made mapping.
    from hxmetrics.measures import nps

    by_role = nps(out, "score", by="role")
    named = by_role["role"].dropna().astype("str")
    assert sorted(named) == ["customer", "partner", "worker"]


def test_registry_attribute_refuses_an_existing_role_column():
    reg = StakeholderRegistry.from_rosters(
        customers=_ids_only("customers", ["c1"], "consumer"), secret=SECRET
    )
    events = pd.DataFrame(
        {
            "silo": ["customers"],
            "source_id": ["c1"],
            "timestamp": pd.to_datetime(["2024-01-01"]),
            "role": ["boss"],
        }
    )
    with pytest.raises(ParameterError, match=r"already has column\(s\) \['role'\]"):
        reg.attribute(events)


# ------------------------------------------------------------------ any frame


def _rosters_pd():
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "email": ["ann@x", "bo@y", None],
            "phone": [None, None, "555 010 2030"],
            "start": pd.to_datetime(["2020-01-01", "2021-01-01", "2021-05-01"]),
            "end": pd.to_datetime([None, "2022-01-01", None]),
            "engagement": ["consumer", "consumer", "business"],
        }
    )
    workers = pd.DataFrame(
        {
            "worker_id": ["w1", "w2"],
            "email": ["ANN@x", None],
            "phone": [None, "+1 555-010-2030"],
            "start": pd.to_datetime(["2019-01-01", "2020-02-01"]),
            "end": pd.to_datetime(["2020-06-01", None]),
            "engagement": ["full_time", "gig"],
        }
    )
    return customers, workers


@pytest.mark.parametrize("kind", ["polars", "polars_lazy", "pyarrow"])
@pytest.mark.parametrize("validate_rosters", [True, False])
def test_from_rosters_accepts_any_frame_narwhals_accepts(kind, validate_rosters):
    customers, workers = _rosters_pd()
    expected = StakeholderRegistry.from_rosters(
        customers=customers, workers=workers, secret=SECRET, validate_rosters=validate_rosters
    )

    def convert(df):
        if kind == "pyarrow":
            import pyarrow as pa

            return pa.Table.from_pandas(df, preserve_index=False)
        frame = pl.from_pandas(df)
        return frame.lazy() if kind == "polars_lazy" else frame

    got = StakeholderRegistry.from_rosters(
        customers=convert(customers),
        workers=convert(workers),
        secret=SECRET,
        validate_rosters=validate_rosters,
    )
    pd.testing.assert_frame_equal(got.crosswalk, expected.crosswalk)
    assert got.crosswalk["person_id"].nunique() == 3
    pd.testing.assert_frame_equal(
        got.episodes.reset_index(drop=True),
        expected.episodes.reset_index(drop=True),
        check_dtype=False,
        check_categorical=False,
    )
    pd.testing.assert_frame_equal(got.summary(), expected.summary())


def test_from_rosters_non_frame_error_is_unchanged():
    with pytest.raises(
        InputTableError, match=r"table 'workers': expected a pandas DataFrame, got list"
    ):
        StakeholderRegistry.from_rosters(workers=[1, 2])  # type: ignore[arg-type]  # wrong type on purpose
    with pytest.raises(
        InputTableError, match=r"table 'workers': expected a pandas DataFrame, got list"
    ):
        # A list, not a frame, on purpose: the error is under test.
        StakeholderRegistry.from_rosters(workers=[1, 2], validate_rosters=False)  # type: ignore[arg-type]
    with pytest.raises(InputTableError, match="expected a pandas DataFrame, got list"):
        resolve_identities({"workers": [1, 2]})


def test_registry_attribute_on_polars_events_adds_role_and_keeps_its_errors():
    reg = StakeholderRegistry.from_rosters(
        customers=_ids_only("customers", ["c1"], "consumer"),
        workers=_ids_only("workers", ["w1"], "gig"),
        secret=SECRET,
    )
    events = pl.DataFrame(
        {
            "silo": ["workers", "customers"],
            "source_id": ["w1", "c1"],
            "timestamp": pd.to_datetime(["2024-01-01"] * 2),
        }
    )
    out = reg.attribute(events)
    assert out["role"].astype("str").tolist() == ["worker", "customer"]
    with pytest.raises(InputTableError, match="table 'events': expected a pandas DataFrame, got "):
        reg.attribute([1, 2])  # type: ignore[arg-type]  # wrong type on purpose
