"""Follow-ups of relationship answers (the closed loop): events, probabilities, effect.

The follow-up decision depends on the silo (role), the answer's likelihood to
recommend and the person's persistent level (the known confounding), all in the
truth's ``probability`` column. The effect is checked with an estimator written here
from pandas that uses that known probability: the mean next score of those followed
up minus the mean of those not, weighted by the odds p / (1 - p) (inverse probability
weighting for the effect on the followed-up; Rosenbaum 1987, JASA 82, 387-394).
Within cells of silo and prior score alone (what an analyst sees) the comparison is
still confounded by the level.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.tables import validate

N, SEED = 30_000, 8


@pytest.fixture(scope="module")
def followed() -> Organisation:
    return simulate_organisation(N, random_state=SEED, follow_ups=True)


@pytest.fixture(scope="module")
def no_effect() -> Organisation:
    return simulate_organisation(N, random_state=SEED, follow_ups=True, follow_up_effect=0.0)


def _pairs(org: Organisation) -> pd.DataFrame:
    """Answers that could be followed up and have a next answer, with its score."""
    fu = org.truth.follow_ups
    assert fu is not None
    r = org.responses
    ltr = r[r["item"] == "ltr"].set_index("response_id")["score"]
    d = fu[fu["next_response_id"].notna()].copy()
    d["next"] = d["next_response_id"].map(ltr)
    # Followed up only after the next answer: neither treated nor a control.
    d = d[~(d["followed_up"] & ~d["effect_applied"])]
    d["treated"] = d["effect_applied"]
    assert d["next"].notna().all()
    return d


def _weighted(d: pd.DataFrame) -> tuple[float, float, float]:
    """Effect on the followed-up with the known probability (controls weighted by
    p / (1 - p)), its standard error, and the truth's ATT over the same answers."""
    t, c = d[d["treated"]], d[~d["treated"]]
    w = (c["probability"] / (1 - c["probability"])).to_numpy()
    y = c["next"].to_numpy()
    control = float((w * y).sum() / w.sum())
    est = float(t["next"].mean()) - control
    var = t["next"].var() / len(t) + float((w**2 * (y - control) ** 2).sum()) / w.sum() ** 2
    return est, math.sqrt(var), float(t["expected_next_ltr_change"].mean())


def _matched(d: pd.DataFrame) -> tuple[float, float]:
    """ATT within (silo, prior ltr) cells (what an analyst without the level can
    match on) and its standard error."""
    parts = []
    for _, g in d.groupby(["silo", "ltr"]):
        t, c = g[g["treated"]], g[~g["treated"]]
        if len(t) < 2 or len(c) < 2:
            continue
        parts.append(
            (
                len(t),
                t["next"].mean() - c["next"].mean(),
                t["next"].var() / len(t) + c["next"].var() / len(c),
            )
        )
    n = sum(p[0] for p in parts)
    est = sum(k / n * diff for k, diff, _ in parts)
    var = sum((k / n) ** 2 * v for k, _, v in parts)
    return est, math.sqrt(var)


def test_follow_up_effect_is_recovered_and_the_naive_comparison_is_confounded(
    followed: Organisation,
) -> None:
    d = _pairs(followed)
    assert d["treated"].sum() > 1000
    est, se, truth = _weighted(d)
    att = followed.truth.params["follow_ups"]["att_next_ltr"]
    # The same expected change averaged over the answers this test pairs (a subset of
    # the followed-up ones) and over all of them (the parameter): they differ by the
    # subset's mix, not by an estimate; 0.05 points is that difference's room.
    assert truth == pytest.approx(att, abs=0.05)
    assert 0.3 < truth < 2.0
    assert abs(est - truth) <= 4 * se, (est, se, truth)
    assert est - 4 * se > 0  # visible: the interval excludes no effect
    # Naive: followed-up vs not, ignoring the prior score. Teams follow up the
    # angriest and the people they know to be unhappy, whose next answers are lower
    # anyway: the naive difference is biased downward.
    t, c = d.loc[d["treated"], "next"], d.loc[~d["treated"], "next"]
    naive = t.mean() - c.mean()
    se_naive = math.sqrt(t.var() / len(t) + c.var() / len(c))
    assert naive + 4 * se_naive < truth, (naive, se_naive, truth)
    assert d.loc[d["treated"], "ltr"].mean() < d.loc[~d["treated"], "ltr"].mean() - 1
    # The followed-up are lower for good (the persistent level, sd 1) ...
    assert d.loc[d["treated"], "level"].mean() < d.loc[~d["treated"], "level"].mean() - 0.5
    # ... so matching on what the analyst sees (silo and score) is biased too.
    matched, se_matched = _matched(d)
    assert matched + 3 * se_matched < truth, (matched, se_matched, truth)


def test_no_effect_gives_no_effect(followed: Organisation, no_effect: Organisation) -> None:
    # The same follow-up draws with effect 0: the estimator finds nothing, and the
    # answers are those of an organisation without follow-ups.
    est, se, truth = _weighted(_pairs(no_effect))
    assert truth == 0.0
    assert abs(est) <= 4 * se, (est, se)
    plain = simulate_organisation(N, random_state=SEED)
    pd.testing.assert_frame_equal(no_effect.responses, plain.responses)
    # With the effect, only the next answers of those followed up in time change.
    fu = followed.truth.follow_ups
    assert fu is not None
    shifted = set(fu.loc[fu["effect_applied"], "next_response_id"])
    a, b = followed.responses, plain.responses
    diff = a["score"].ne(b["score"])
    assert diff.any()
    assert set(a.loc[diff, "response_id"]) <= shifted
    cols = [c for c in a.columns if c != "score"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_follow_up_events_and_truth_agree(followed: Organisation) -> None:
    o = followed
    fu, ev = o.truth.follow_ups, o.events
    assert fu is not None
    pd.testing.assert_frame_equal(validate(ev, table="events"), ev)
    assert ev["timestamp"].is_monotonic_increasing
    f = ev[ev["event_type"] == "follow_up"].set_index("event_id")
    assert f.index.str.fullmatch(r"F\d{7}").all()
    done = fu[fu["followed_up"]].set_index("event_id")
    assert set(f.index) == set(done.index)
    f = f.loc[done.index]
    assert (f["silo"] == done["silo"]).all()
    assert (f["source_id"] == done["source_id"]).all()
    assert (f["timestamp"] == done["follow_up_at"]).all()
    asked = o.responses.drop_duplicates("response_id").set_index("response_id")["timestamp"]
    assert (done["follow_up_at"] > done["response_id"].map(asked).to_numpy()).all()
    assert (done["follow_up_at"] < o.end).all()
    roles = {"customers": "phone", "workers": "in_person", "partners": "phone"}
    assert (f["touchpoint"] == f["silo"].map(roles)).all()
    # Applied means: followed up before the same id's next relationship answer.
    app = fu[fu["effect_applied"]]
    assert app["followed_up"].all()
    assert (app["follow_up_at"].to_numpy() < app["next_response_id"].map(asked).to_numpy()).all()
    assert (fu.loc[~fu["effect_applied"], "expected_next_ltr_change"] == 0).all()
    # The other events are those of an organisation without follow-ups.
    rest = ev[ev["event_type"] != "follow_up"].reset_index(drop=True)
    plain_events = simulate_organisation(N, random_state=SEED).events
    pd.testing.assert_frame_equal(rest, plain_events)


def test_follow_up_probability_falls_with_the_score(followed: Organisation) -> None:
    o = followed
    fu = o.truth.follow_ups
    params = o.truth.params["follow_ups"]
    assert fu is not None
    probs = params["probability_by_ltr"]
    assert all(a >= b for a, b in itertools.pairwise(probs))
    role = fu["silo"].map({"customers": "customer", "workers": "worker", "partners": "partner"})
    base = fu["ltr"].map(dict(enumerate(probs))) * role.map(params["role_factor"])
    odds = base / (1 - base) * np.exp(-params["level_log_odds"] * fu["level"])
    np.testing.assert_allclose(fu["probability"], odds / (1 + odds), atol=1e-9)
    assert params["level_log_odds"] > 0
    # Answers a month before the end: every follow-up drawn lies in the window, so
    # the count followed up is a sum of Bernoulli(probability).
    asked = o.responses.drop_duplicates("response_id").set_index("response_id")["timestamp"]
    early = fu[fu["response_id"].map(asked) < o.end - pd.Timedelta(days=30)]
    for low, high in ((0, 3), (4, 6), (7, 8)):
        g = early[early["ltr"].between(low, high)]
        p = g["probability"].to_numpy()
        k = int(g["followed_up"].sum())
        sd = math.sqrt(float((p * (1 - p)).sum()))
        assert abs(k - p.sum()) <= 4 * sd, (low, high, k, p.sum())
    rate = early.groupby("ltr")["followed_up"].mean()
    assert rate.loc[0:3].mean() > rate.loc[5:6].mean() > rate.loc[7:8].mean()


def test_follow_ups_off_leave_no_trace(org: Organisation) -> None:
    assert org.truth.follow_ups is not None
    assert org.truth.follow_ups.empty
    assert "follow_up" not in set(org.events["event_type"])
    assert org.truth.params["follow_ups"]["enabled"] is False
    assert org.truth.params["follow_ups"]["att_next_ltr"] is None
    # Off, the truth reads as before the confounding by level came (no new column
    # or parameter: the committed sample's files are unchanged).
    assert "level" not in org.truth.follow_ups.columns
    assert "level_log_odds" not in org.truth.params["follow_ups"]
