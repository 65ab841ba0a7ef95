"""Hybrid labels: the documented rules, as data, against a slow reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings

from hxmetrics.errors import ParameterError
from hxmetrics.stakeholders import HYBRID_RULES, HybridRule, classify_hybrids, rules_table

from ._helpers import slow_hybrids
from .test_episodes import _eps, episode_tables

LABELS = [r.label for r in HYBRID_RULES]


def test_each_default_label_on_a_hand_made_person():
    eps = _eps(
        [
            # A: works 0-10 and again from 15 (boomerang, gap 5), customer from 5.
            ("A", "worker", "full_time", 0, 10),
            ("A", "worker", "full_time", 15, None),
            ("A", "customer", "consumer", 5, None),
            # B: customer first, hired later (customer_to_worker), gig work.
            ("B", "customer", "consumer", 0, 3),
            ("B", "worker", "gig", 4, 8),
            # C: worker, then partner exactly when the job ends (alumni_partner).
            ("C", "worker", "contract", 0, 10),
            ("C", "partner", "host", 10, None),
            # D: driver partner and customer at once.
            ("D", "partner", "driver", 0, None),
            ("D", "customer", "consumer", 2, 3),
            # E: a pure customer.
            ("E", "customer", "business", 0, None),
        ]
    )
    h = classify_hybrids(eps).set_index("person_id")
    truth = {
        "A": {"worker_customer", "boomerang"},
        "B": {"gig_worker", "customer_to_worker"},
        "C": {"alumni_partner"},
        "D": {"partner_customer"},
        "E": set(),
    }
    for person, labels in truth.items():
        assert {lab for lab in LABELS if h.loc[person, lab]} == labels, person
    assert h.loc["A", "boomerang_gap_days"] == 5.0
    assert np.isnan(h.loc["B", "boomerang_gap_days"])
    assert h["hybrid_type"].to_dict() == {
        "A": "worker_customer",
        "B": "gig_worker",
        "C": "alumni_partner",
        "D": "partner_customer",
        "E": "none",
    }
    assert h["roles_ever"].to_dict() == {
        "A": "customer+worker",
        "B": "customer+worker",
        "C": "worker+partner",
        "D": "customer+partner",
        "E": "customer",
    }
    # Without as_of, roles_as_of are the open episodes: held now.
    assert h["roles_as_of"].to_dict() == {
        "A": "customer+worker",
        "B": "none",
        "C": "partner",
        "D": "partner",
        "E": "customer",
    }


def test_as_of_sees_only_what_was_known_then():
    eps = _eps(
        [
            ("A", "worker", "full_time", 0, 10),
            ("A", "worker", "full_time", 15, None),
            ("A", "customer", "consumer", 5, None),
        ]
    )
    start = eps["start"].min()
    day = pd.Timedelta(days=1)
    at = {k: classify_hybrids(eps, as_of=start + k * day).iloc[0] for k in (0, 4, 10, 12, 15)}
    assert at[0]["roles_as_of"] == "worker"
    assert at[0]["roles_ever"] == "worker"
    assert not at[4]["worker_customer"]  # the customer episode starts on day 5
    assert at[10]["worker_customer"]
    assert at[10]["roles_as_of"] == "customer"  # the job ended at day 10 (half-open)
    assert not at[12]["boomerang"]
    assert at[15]["boomerang"]
    assert at[15]["roles_as_of"] == "customer+worker"
    with pytest.raises(ParameterError, match="as_of must be naive"):
        classify_hybrids(eps, as_of=pd.Timestamp("2020-01-01", tz="UTC"))


def test_rules_are_data_the_caller_can_change():
    eps = _eps([("A", "worker", "gig", 0, 10), ("A", "customer", "consumer", 5, None)])
    assert classify_hybrids(eps)["hybrid_type"].iloc[0] == "worker_customer"
    # Same rules, gig first: the precedence is the order of the rules.
    reordered = rules_table().iloc[[3, 0, 1, 2, 4, 5, 6, 7]]
    assert classify_hybrids(eps, rules=reordered)["hybrid_type"].iloc[0] == "gig_worker"
    # A new rule: contractors (an engagement rule on workers).
    rules = [
        *HYBRID_RULES,
        HybridRule("contractor", "engagement", "worker", engagements=("contract",)),
    ]
    out = classify_hybrids(eps, rules=rules)
    assert "contractor" in out.columns
    assert not out["contractor"].iloc[0]
    dict_rules = [
        {
            "label": "ever_worker_then_customer",
            "kind": "first_after",
            "first": "worker",
            "second": "customer",
        }
    ]
    got = classify_hybrids(eps, rules=dict_rules)
    assert list(got.columns) == [
        "person_id",
        "roles_ever",
        "roles_as_of",
        "ever_worker_then_customer",
        "hybrid_type",
    ]
    assert got["ever_worker_then_customer"].iloc[0]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"label": "x", "kind": "overlapz", "first": "worker", "second": "customer"},
            "kind must be one of",
        ),
        (
            {"label": "x", "kind": "concurrent", "first": "worker", "second": "boss"},
            "second must be one of",
        ),
        ({"label": "x", "kind": "engagement", "first": "worker"}, "need engagements"),
        (
            {"label": "bad label", "kind": "concurrent", "first": "worker", "second": "customer"},
            "column-friendly",
        ),
        (
            {"label": "hybrid_type", "kind": "concurrent", "first": "worker", "second": "customer"},
            "may not be",
        ),
    ],
)
def test_bad_rules_are_rejected(rule, message):
    eps = _eps([("A", "worker", "gig", 0, None)])
    with pytest.raises(ParameterError, match=message):
        classify_hybrids(eps, rules=[rule])


@example(
    # Found by hypothesis: two worker episodes start on the day of the first re-hire
    # (an empty one ending that day); the reference took the first in row order
    # (gap 1), the package the latest end (gap 0). Both now: the latest end.
    _eps(
        [
            ("P0", "worker", "full_time", 1, 1),
            ("P0", "customer", "consumer", 0, None),
            ("P0", "worker", "full_time", 1, None),
            ("P0", "worker", "full_time", 0, 0),
        ]
    )
)
@settings(max_examples=60)
@given(episode_tables(max_rows=20))
def test_labels_equal_the_slow_reference(eps):
    got = classify_hybrids(eps)
    want = slow_hybrids(eps)
    cols = ["person_id", *LABELS, "boomerang_gap_days", "hybrid_type"]
    pd.testing.assert_frame_equal(
        got[cols].astype({"person_id": object, "hybrid_type": object}),
        want[cols].astype({"person_id": object, "hybrid_type": object}),
        check_dtype=False,
    )
