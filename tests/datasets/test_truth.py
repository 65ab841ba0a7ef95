"""Ground-truth consistency: ids, episodes, hybrid labels, keys, attribution."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.datasets import HYBRID_LABELS, Organisation, simulate_organisation
from hxmetrics.datasets._hybrids import hybrid_labels

from ._reference import FAR_FUTURE, labels_by_intervals, roster_episodes

EXHAUST_TIME = {"responses": "timestamp", "events": "timestamp", "transactions": "timestamp"}


def _check_ids_and_episodes(org: Organisation) -> None:
    cw = org.truth.crosswalk
    assert not cw.duplicated(["silo", "source_id"]).any()
    known = set(zip(cw["silo"], cw["source_id"], strict=True))
    ros = roster_episodes(org.tables)
    assert set(zip(ros["silo"], ros["source_id"], strict=True)) == set(
        zip(cw.loc[cw["in_roster"], "silo"], cw.loc[cw["in_roster"], "source_id"], strict=True)
    )
    for name in ("responses", "events", "transactions", "tickets"):
        t = org.tables[name]
        ids = set(zip(t["silo"], t["source_id"], strict=True))
        assert ids <= known, name
    # Every id maps to exactly one person, and each roster row is a true episode.
    ep = org.truth.episodes
    cols = ["silo", "source_id", "role", "engagement", "start", "end"]
    a = ros[cols].sort_values([*cols[:2], "start"]).reset_index(drop=True)
    b = ep[cols].sort_values([*cols[:2], "start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    per_id = ep.groupby(["silo", "source_id"])["person_id"].nunique()
    assert (per_id == 1).all()
    m = ep.merge(cw, on=["silo", "source_id"], suffixes=("", "_cw"))
    assert (m["person_id"] == m["person_id_cw"]).all()
    assert len(m) == len(ep)
    # Half-open, non-empty episodes; nothing starts at or after the window end.
    assert ((ep["end"].isna()) | (ep["end"] > ep["start"])).all()
    assert (ep["start"] < org.end).all()
    assert (ep["end"].isna() | (ep["end"] < org.end)).all()
    assert (ep["end"].isna() | (ep["end"] > org.start)).all()


def _check_labels(org: Organisation) -> None:
    h = org.truth.hybrids
    ref = labels_by_intervals(org.truth.episodes, h["person_id"])
    pd.testing.assert_frame_equal(
        h[["person_id", *HYBRID_LABELS]].reset_index(drop=True),
        ref[["person_id", *HYBRID_LABELS]],
        check_dtype=False,
    )
    assert h["boomerang_gap_days"].notna().eq(h["boomerang"]).all()
    np.testing.assert_allclose(
        h["boomerang_gap_days"].to_numpy(dtype=float),
        ref["boomerang_gap_days"].to_numpy(dtype=float),
        rtol=0,
        atol=1e-9,  # days from nanosecond timestamps: exact up to float rounding
    )


def _check_exhaust_inside(org: Organisation) -> None:
    ep = org.truth.episodes[["silo", "source_id", "start", "end"]]
    for name, col in {**EXHAUST_TIME, "tickets": "opened"}.items():
        t = org.tables[name]
        assert (t[col] >= org.start).all(), name
        assert (t[col] < org.end).all(), name
        rows = t[["silo", "source_id", col]].reset_index().rename(columns={col: "t"})
        m = rows.merge(ep, on=["silo", "source_id"], how="left")
        inside = (m["start"] <= m["t"]) & (m["t"] < m["end"].fillna(FAR_FUTURE))
        ok = inside.groupby(m["index"]).any()
        if name == "responses":
            bad = set(t.loc[~ok.reindex(t.index).to_numpy(), "response_id"])
            assert bad == set(org.truth.unattributable["response_id"])
        else:
            assert ok.all(), name


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 250),
    hybrid_share=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    key_noise=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_truth_is_consistent(seed: int, n: int, hybrid_share: float, key_noise: float) -> None:
    org = simulate_organisation(
        n, random_state=seed, hybrid_share=hybrid_share, key_noise=key_noise
    )
    _check_ids_and_episodes(org)
    _check_labels(org)
    _check_exhaust_inside(org)


def test_truth_is_consistent_at_scale(big_org: Organisation) -> None:
    _check_ids_and_episodes(big_org)
    _check_labels(big_org)
    _check_exhaust_inside(big_org)


def test_unattributable_share_and_reasons(big_org: Organisation) -> None:
    u = big_org.truth.unattributable
    n = big_org.responses["response_id"].nunique()
    share = big_org.truth.experience.params["unattributable_share"]
    # Binomial count: 4 standard deviations.
    assert abs(len(u) - n * share) < 4 * math.sqrt(n * share)
    assert set(u["reason"]) == {"unknown_id", "outside_episode"}
    cw = big_org.truth.crosswalk.set_index(["silo", "source_id"])
    in_roster = cw.loc[list(zip(u["silo"], u["source_id"], strict=True)), "in_roster"].to_numpy()
    assert (in_roster == (u["reason"] == "outside_episode").to_numpy()).all()
    persons = cw.loc[list(zip(u["silo"], u["source_id"], strict=True)), "person_id"].to_numpy()
    assert (persons == u["person_id"].to_numpy()).all()


def test_archetypes_carry_their_labels(big_org: Organisation) -> None:
    h = big_org.truth.hybrids.set_index("person_id")
    expect = {
        "worker_customer": "worker_customer",
        "driver_partner_customer": "partner_customer",
        "worker_partner": "worker_partner",
        "boomerang": "boomerang",
        "alumni_customer": "alumni_customer",
        "alumni_partner": "alumni_partner",
        "customer_to_worker": "customer_to_worker",
    }
    for arch, label in expect.items():
        assert h.loc[h["archetype"] == arch, label].all(), arch
    # Sequential ones are truly sequential: alumni never overlap their old job.
    assert not h.loc[h["archetype"] == "alumni_customer", "worker_customer"].any()
    assert not h.loc[h["archetype"] == "alumni_partner", "worker_partner"].any()
    # Some alumni move on the very day they leave (the half-open boundary case).
    ep = big_org.truth.episodes
    alumni = h.index[h["archetype"] == "alumni_customer"]
    e = ep[ep["person_id"].isin(alumni)].pivot_table(
        index="person_id", columns="role", values="start", aggfunc="min"
    )
    worker_end = ep[ep["person_id"].isin(alumni) & (ep["role"] == "worker")].set_index("person_id")[
        "end"
    ]
    assert (e["customer"] == worker_end.reindex(e.index)).sum() > 0
    # Pure persons have one episode and no multi-role label.
    pure = h["archetype"].str.startswith("pure_")
    multi = [lab for lab in HYBRID_LABELS if lab != "gig_worker"]
    assert not h.loc[pure, multi].any().any()
    counts = ep.groupby("person_id").size()
    assert (counts.reindex(h.index[pure]) == 1).all()
    # Boomerangs sometimes keep their worker id and sometimes get a new one.
    w = ep[ep["role"] == "worker"]
    boom = w[w["person_id"].isin(h.index[h["archetype"] == "boomerang"])]
    ids = boom.groupby("person_id")["source_id"].nunique()
    assert set(ids) == {1, 2}


def test_hybrid_share_is_honoured(big_org: Organisation) -> None:
    h = big_org.truth.hybrids
    n = len(h)
    p = big_org.settings["hybrid_share"]
    observed = (~h["archetype"].str.startswith("pure_")).sum()
    assert abs(observed - n * p) < 4 * math.sqrt(n * p * (1 - p))
    # Persons with more than one role: every hybrid archetype except boomerangs.
    roles = big_org.truth.episodes.groupby("person_id")["role"].nunique()
    multi_role = (roles > 1).sum()
    boomerangs = (h["archetype"] == "boomerang").sum()
    assert multi_role == observed - boomerangs


def test_key_noise_rates_are_honoured(big_org: Organisation) -> None:
    k = big_org.settings["key_noise"]
    keys = big_org.truth.keys.set_index("person_id")
    ep = big_org.truth.episodes
    rows = []
    for silo, id_col in (
        ("customers", "customer_id"),
        ("workers", "worker_id"),
        ("partners", "partner_id"),
    ):
        r = big_org.tables[silo].rename(columns={id_col: "source_id"})
        r = r.merge(ep[["silo", "source_id", "start", "person_id"]].query("silo == @silo"))
        rows.append(r)
    r = pd.concat(rows, ignore_index=True)
    assert len(r) == len(ep)
    n = len(r)
    anchor = keys["anchor"].reindex(r["person_id"]).to_numpy()
    email = r["email"]

    def near(count: int, trials: int, rate: float) -> bool:
        return abs(count - trials * rate) < 4 * math.sqrt(trials * rate * (1 - rate)) + 1

    present = email.notna()
    stripped = email[present].str.strip()
    assert near(int((stripped != email[present]).sum()), int(present.sum()), k)  # whitespace
    assert near(int((stripped != stripped.str.lower()).sum()), int(present.sum()), k)  # case
    on_phone = anchor == "phone"
    assert near(int(email[on_phone].isna().sum()), int(on_phone.sum()), k)
    assert email[~on_phone].notna().all()
    assert near(int(r["phone"][~on_phone].isna().sum()), int((~on_phone).sum()), k)
    assert r["phone"][on_phone].notna().all()
    assert near(int(r["birth_year"].isna().sum()), n, k / 2)
    # Normalised keys are the person's true keys: records stay linkable.
    canon_email = keys["email"].reindex(r["person_id"]).to_numpy()
    assert (stripped.str.lower().to_numpy() == canon_email[present.to_numpy()]).all()
    digits = r["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    canon_phone = keys["phone"].reindex(r["person_id"]).to_numpy()
    has_phone = r["phone"].notna().to_numpy()
    assert (digits[has_phone].to_numpy() == canon_phone[has_phone]).all()
    assert r["phone"].dropna().str.contains(r"[().\- +]", regex=True).any()
    assert r["phone"].dropna().str.fullmatch(r"\d{10}").any()


def test_household_trap(big_org: Organisation) -> None:
    keys = big_org.truth.keys.set_index("person_id")
    sharers = keys[keys["shares_phone_with"].notna()]
    n = len(keys)
    rate = big_org.settings["key_noise"] / 10
    assert abs(len(sharers) - n * rate) < 4 * math.sqrt(n * rate) + 1
    hosts = keys.loc[sharers["shares_phone_with"]]
    assert (sharers["phone"].to_numpy() == hosts["phone"].to_numpy()).all()
    assert (sharers["birth_year"].to_numpy() != hosts["birth_year"].to_numpy()).all()
    assert (sharers["anchor"] == "email").all()
    assert not set(sharers.index) & set(hosts.index)


def test_reference_labels_on_hand_made_episodes() -> None:
    t = pd.Timestamp
    nat = pd.NaT
    rows = [
        # a: worker then customer starting on the day the job ends -> alumni, not concurrent
        ("a", "worker", "full_time", t("2020-01-01"), t("2021-01-01")),
        ("a", "customer", "consumer", t("2021-01-01"), nat),
        # b: open worker episode and a customer episode inside it -> concurrent
        ("b", "worker", "gig", t("2020-01-01"), nat),
        ("b", "customer", "consumer", t("2022-05-01"), t("2022-06-01")),
        # c: re-hired 30 days after leaving; a customer before the first job
        ("c", "customer", "business", t("2018-01-01"), t("2018-06-01")),
        ("c", "worker", "contract", t("2019-01-01"), t("2019-03-01")),
        ("c", "worker", "contract", t("2019-03-31"), nat),
        # d: partner and customer touching at one instant only -> not concurrent
        ("d", "partner", "driver", t("2020-01-01"), t("2020-02-01")),
        ("d", "customer", "consumer", t("2019-01-01"), t("2020-01-01")),
    ]
    ep = pd.DataFrame(rows, columns=["person_id", "role", "engagement", "start", "end"])
    got = hybrid_labels(ep, persons=["a", "b", "c", "d", "e"]).set_index("person_id")
    assert got.loc["a", "alumni_customer"]
    assert not got.loc["a", "worker_customer"]
    assert got.loc["b", "worker_customer"]
    assert got.loc["b", "gig_worker"]
    assert not got.loc["b", "alumni_customer"]
    assert got.loc["c", "boomerang"]
    assert got.loc["c", "boomerang_gap_days"] == 30
    assert got.loc["c", "customer_to_worker"]
    assert not got.loc["c", "worker_customer"]
    assert not got.loc["d", "partner_customer"]
    assert not got.loc["e", list(HYBRID_LABELS)].any()
    assert np.isnan(got.loc["a", "boomerang_gap_days"])
    ref = labels_by_intervals(ep, pd.Series(["a", "b", "c", "d", "e"])).set_index("person_id")
    pd.testing.assert_frame_equal(got[list(HYBRID_LABELS)], ref[list(HYBRID_LABELS)])
    np.testing.assert_allclose(got["boomerang_gap_days"], ref["boomerang_gap_days"])


@pytest.mark.parametrize("silo", ["customers", "workers", "partners"])
def test_linkable_through_the_anchor_key(big_org: Organisation, silo: str) -> None:
    # Each person's anchor key is present in every one of their records.
    id_col = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}[silo]
    r = big_org.tables[silo].rename(columns={id_col: "source_id"})
    ep = big_org.truth.episodes
    r = r.merge(ep.loc[ep["silo"] == silo, ["source_id", "start", "person_id"]])
    anchor = big_org.truth.keys.set_index("person_id")["anchor"].reindex(r["person_id"])
    key = np.where(anchor == "email", r["email"].notna(), r["phone"].notna())
    assert key.all()
