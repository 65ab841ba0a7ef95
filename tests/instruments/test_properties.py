"""Invariants of scoring and the gap (hypothesis): bounds, row order, keying, counts."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.instruments._catalogue import InstrumentCatalogue, Item
from hxmetrics.instruments._gap import zero_distance_gap
from hxmetrics.instruments._scoring import score_instrument

ITEMS = ("q1", "q2", "q3", "q4")
LEDGER = pd.DataFrame(
    {
        "team": ["t1", "t2"],
        "touchpoint": ["web", "app"],
        "valid_from": pd.to_datetime(["2020-01-01", "2020-01-01"]),
        "valid_to": pd.to_datetime([None, None]),
    }
)


def _catalogue(reverse: tuple[bool, ...]) -> InstrumentCatalogue:
    return InstrumentCatalogue(
        Item("pulse", q, "?", 1, 5, reverse_keyed=r, subscale="a" if k < 2 else "b")
        for k, (q, r) in enumerate(zip(ITEMS, reverse, strict=True))
    )


answers = st.lists(
    st.tuples(
        st.integers(0, 7),  # person
        st.sampled_from(["workers", "customers"]),
        st.sampled_from(ITEMS),
        st.integers(1, 5),
        st.sampled_from(["web", "app"]),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda t: (t[0], t[1], t[2]),
)


def _frame(rows: list[tuple[int, str, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [f"p{r[0]}" for r in rows],
            "silo": [r[1] for r in rows],
            "instrument": "pulse",
            "item": [r[2] for r in rows],
            "score": [float(r[3]) for r in rows],
            # one touchpoint per person and role, so a person's answers share a team
            "touchpoint": [["web", "app"][(r[0] + len(r[1])) % 2] for r in rows],
            "timestamp": pd.Timestamp("2024-05-01"),
        }
    )


def _score(frame: pd.DataFrame, cat: InstrumentCatalogue) -> pd.DataFrame:
    res = score_instrument(frame, "pulse", catalogue=cat, min_n=None, reliability=False,
                           structure=False, invariance=False)  # fmt: skip
    return res.scores


@settings(max_examples=40)
@given(answers, st.tuples(*[st.booleans()] * 4), st.randoms(use_true_random=False))
def test_scoring_invariants(rows: list[Any], reverse: tuple[bool, ...], rnd: random.Random) -> None:
    cat = _catalogue(reverse)
    frame = _frame(rows)
    scores = _score(frame, cat)
    est = scores["estimate"].dropna()
    assert ((est >= 1) & (est <= 5)).all()  # bounds of the items' scale
    # counts reconcile: every unit of a group is scored or excluded, per subscale
    units = frame.groupby("silo")["person_id"].nunique()
    for row in scores.itertuples():
        role_silo = {"worker": "workers", "customer": "customers"}[row.role]
        assert int(row.n) + int(row.n_excluded_too_few_items) == units[role_silo]
    # row order does not matter
    order = list(range(len(frame)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(_score(frame.iloc[order], cat), scores)
    # keying: a reverse-keyed item answered x is the same as a plain item answered 6 - x
    flipped = frame.assign(
        score=np.where(
            frame["item"].isin([q for q, r in zip(ITEMS, reverse, strict=True) if r]),
            6.0 - frame["score"],
            frame["score"],
        )
    )
    plain = _score(flipped, _catalogue((False,) * 4))
    pd.testing.assert_frame_equal(plain, scores)


@settings(max_examples=25)
@given(answers)
def test_gap_swaps_sign_with_the_sides(rows: list[Any]) -> None:
    frame = _frame(rows)
    cat = _catalogue((False, True, False, False))
    one = zero_distance_gap(frame, teams=LEDGER, catalogue=cat, instrument="pulse",
                            served=["customer"], require=None, min_n=None).gaps  # fmt: skip
    other = zero_distance_gap(frame, teams=LEDGER, catalogue=cat, instrument="pulse",
                              self_role="customer", served=["worker"], require=None,
                              min_n=None).gaps  # fmt: skip
    np.testing.assert_allclose(one["estimate"], -other["estimate"], atol=1e-12)
    np.testing.assert_allclose(one["ci_low"], -other["ci_high"], atol=1e-12)
    assert (one["n_self"].astype(float).values == other["n_served"].astype(float).values).all()
