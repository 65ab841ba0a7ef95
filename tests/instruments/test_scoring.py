"""score_instrument (issue 17, item 3): keying, subscale scores, reliability, structure,
invariance and the profile, against hand computations."""

from __future__ import annotations

import math
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hxmetrics.datasets import Organisation
from hxmetrics.errors import HxWarning, InputTableError, ParameterError
from hxmetrics.instruments._banks import load_bank
from hxmetrics.instruments._scoring import InstrumentScores, score_instrument
from hxmetrics.measures._result import is_result

from .conftest import simulated_answers, with_persons

matplotlib.use("Agg")

CC = load_bank("customer_centricity")

# A hand example on the culture dimension: cc_cu3 is reverse-keyed (1-5: 6 - x).
# person: (cc_cu1, cc_cu2, cc_cu3) as answered; None = not answered.
HAND = {
    "p1": (4, 5, 2),  # keyed 4, 5, 4 -> 13/3
    "p2": (3, 3, 3),  # -> 3
    "p3": (2, 1, 5),  # keyed 2, 1, 1 -> 4/3
    "p4": (5, 4, 1),  # keyed 5, 4, 5 -> 14/3
    "p5": (4, None, 3),  # 2 of 3 answered (>= half): keyed 4, 3 -> 3.5
    "p6": (1, None, None),  # 1 of 3: too few items, excluded and counted
}
# p7 answered cc_cu1 twice (two waves: 2 and 4, averaged to 3), cc_cu2 = 3, cc_cu3 = 3.
HAND_SCORES = {"p1": 13 / 3, "p2": 3.0, "p3": 4 / 3, "p4": 14 / 3, "p5": 3.5, "p7": 3.0}


def _hand_frame() -> pd.DataFrame:
    rows = []
    for person, answers in HAND.items():
        for item, x in zip(["cc_cu1", "cc_cu2", "cc_cu3"], answers, strict=True):
            if x is not None:
                rows.append((person, item, float(x)))
    rows += [("p7", "cc_cu1", 2.0), ("p7", "cc_cu1", 4.0), ("p7", "cc_cu2", 3.0)]
    rows += [("p7", "cc_cu3", 3.0)]
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "silo": "workers",
            "instrument": "customer_centricity",
            "item": [r[1] for r in rows],
            "score": [r[2] for r in rows],
        }
    )


def test_scores_match_the_hand_computation() -> None:
    res = score_instrument(_hand_frame(), "customer_centricity", catalogue=CC, min_n=None,
                           reliability=False, structure=False, invariance=False)  # fmt: skip
    assert isinstance(res, InstrumentScores)
    persons = res.persons.set_index("person_id")["culture"]
    for person, score in HAND_SCORES.items():
        assert persons[person] == pytest.approx(score, abs=1e-12)
    assert math.isnan(persons["p6"])
    row = res.scores.iloc[0]
    assert is_result(res.scores)
    assert (row["role"], row["subscale"], int(row["n"])) == ("worker", "culture", 6)
    assert int(row["n_excluded_too_few_items"]) == 1
    y = np.array(list(HAND_SCORES.values()))
    mean, sd = y.mean(), y.std(ddof=1)
    half = stats.t.ppf(0.975, len(y) - 1) * sd / math.sqrt(len(y))
    assert row["estimate"] == pytest.approx(mean, abs=1e-12)
    assert row["se"] == pytest.approx(sd / math.sqrt(len(y)), abs=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((mean - half, mean + half), abs=1e-12)


def test_reliability_matches_the_hand_computation() -> None:
    # Cronbach (1951): alpha = k/(k-1) (1 - sum var_i / var(total)) on the keyed complete
    # rows (p1, p2, p3, p4, p7); Feldt et al. (1987): [1 - (1-a) F(.975; n-1, (n-1)(k-1)),
    # 1 - (1-a) F(.025; ...)].
    keyed = np.array([[4, 5, 4], [3, 3, 3], [2, 1, 1], [5, 4, 5], [3, 3, 3]], dtype=float)
    n, k = keyed.shape
    alpha = k / (k - 1) * (1 - keyed.var(axis=0, ddof=1).sum() / keyed.sum(axis=1).var(ddof=1))
    lo = 1 - (1 - alpha) * stats.f.ppf(0.975, n - 1, (n - 1) * (k - 1))
    hi = 1 - (1 - alpha) * stats.f.ppf(0.025, n - 1, (n - 1) * (k - 1))
    with warnings.catch_warnings():
        # five people: omega's one-factor fit on them may be improper; not what is tested
        warnings.simplefilter("ignore", HxWarning)
        res = score_instrument(_hand_frame(), "customer_centricity", catalogue=CC,
                               min_n=None, structure=False, invariance=False)  # fmt: skip
    rel = res.reliability
    assert rel is not None
    a = rel[rel["measure"] == "cronbach_alpha"].iloc[0]
    assert (a["scale"], int(a["n"])) == ("culture", 5)
    assert a["estimate"] == pytest.approx(alpha, abs=1e-12)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((lo, hi), abs=1e-10)


def test_answers_off_the_catalogue_are_errors_with_positions() -> None:
    bad = _hand_frame()
    bad.loc[3, "score"] = 7.0  # a 1-7 answer on a 1-5 item
    with pytest.raises(InputTableError) as exc:
        score_instrument(bad, "customer_centricity", catalogue=CC)
    assert exc.value.failure_cases["index"].tolist() == [3]
    other = pd.concat([_hand_frame().assign(instrument="nps", item="ltr"), _hand_frame()])
    with pytest.raises(ParameterError, match="no answers to instrument 'zero_distance'"):
        score_instrument(other, "zero_distance", catalogue=load_bank("zero_distance"))
    customer = _hand_frame().assign(silo="customers")  # not asked of customers
    with pytest.raises(InputTableError, match="role_asked"):
        score_instrument(customer, "customer_centricity", catalogue=CC)


def test_built_in_bank_on_simulated_answers_matches_a_direct_computation(
    simulated_org: Organisation,
) -> None:
    answers = with_persons(simulated_org, "customer_centricity")
    res = score_instrument(answers, "customer_centricity", catalogue=CC, invariance=False)
    # By hand with pandas: reflect the reverse-keyed items, one row per person, the mean
    # of the answered items of each dimension (every dimension has 3 items: >= 2 needed).
    reverse = {it.item for it in CC if it.reverse_keyed}
    keyed = answers.assign(
        score=np.where(answers["item"].isin(reverse), 6 - answers["score"], answers["score"])
    )
    wide = keyed.pivot_table(index="person_id", columns="item", values="score")
    truth = simulated_org.truth.planted["instruments"]["customer_centricity"]
    for dim, items in CC.subscales("customer_centricity").items():
        x = wide[items]
        per_person = x.mean(axis=1)[x.notna().sum(axis=1) >= 2]
        row = res.scores[res.scores["subscale"] == dim].iloc[0]
        assert int(row["n"]) == len(per_person)
        assert row["estimate"] == pytest.approx(per_person.mean(), abs=1e-12)
        assert row["sd"] == pytest.approx(per_person.std(ddof=1), abs=1e-12)
        # the simulator's expected score of the dimension: within 4 se (8 dimensions;
        # a normal deviate beyond 4 has probability 6e-5 each)
        expected = float(truth.loc[truth["subscale"] == dim, "expected_score"].iloc[0])
        assert abs(row["estimate"] - expected) < 4 * row["se"]
        complete = x.dropna()
        k = len(items)
        alpha = k / (k - 1) * (1 - complete.var(ddof=1).sum() / complete.sum(axis=1).var(ddof=1))
        rel = res.reliability
        assert rel is not None
        got = rel[(rel["scale"] == dim) & (rel["measure"] == "cronbach_alpha")].iloc[0]
        assert got["estimate"] == pytest.approx(alpha, abs=1e-10)
        assert int(got["n"]) == len(complete)
    assert res.structure is not None
    assert res.structure["factors"].iloc[0] == 8
    assert res.structure["converged"].iloc[0]
    assert not res.keying["flagged"].any()


def test_invariance_across_roles_and_suppression() -> None:
    cat = load_bank("zero_distance")
    answers = simulated_answers(cat, "zero_distance", {"worker": 120, "customer": 150,
                                                        "partner": 4}, seed=2)  # fmt: skip
    res = score_instrument(answers, "zero_distance", catalogue=cat, structure=False)
    inv = res.invariance
    assert inv is not None
    assert inv["means_comparable"].all()
    assert (inv["roles"] == "customer, worker").all()  # 4 partners: too few to test
    assert inv["reason"].str.contains("left out for too few answers: partner").all()
    partners = res.scores[res.scores["role"] == "partner"]
    assert partners["suppressed"].all()
    assert partners["estimate"].isna().all()
    assert partners["n"].isna().all()
    assert set(res.persons.columns) == {"person_id", "role", *cat.subscales("zero_distance")}


def test_a_wrong_way_item_warns_when_scoring() -> None:
    cat = load_bank("zero_distance")
    answers = simulated_answers(cat, "zero_distance", {"worker": 120}, seed=3,
                                wrong_way=("zd_aa4",))  # fmt: skip
    with pytest.warns(HxWarning, match=r"zd_aa4 \(r = -"):
        # (its subscale's alpha is low too, and warns; reliability is not what is tested)
        res = score_instrument(answers, "zero_distance", catalogue=cat, reliability=False,
                               structure=False, invariance=False)  # fmt: skip
    assert res.keying.loc[res.keying["flagged"], "item"].tolist() == ["zd_aa4"]


def test_profile_plots_radar_and_parallel() -> None:
    import matplotlib.pyplot as plt

    cat = load_bank("zero_distance")
    answers = simulated_answers(cat, "zero_distance", {"worker": 60, "customer": 60}, seed=5)
    res = score_instrument(answers, "zero_distance", catalogue=cat, structure=False,
                           invariance=False)  # fmt: skip
    ax = res.plot()
    assert ax.name == "polar"
    assert len(ax.get_xticklabels()) == 6
    _, flat = plt.subplots()
    assert res.plot(ax=flat) is flat
    assert next(t.get_text() for t in flat.get_xticklabels()) == "access autonomy"
    with pytest.raises(ParameterError, match="polar"):
        res.plot(ax=flat, kind="radar")
    assert "<div>" in res._repr_html_()
    plt.close("all")


def test_options_are_checked() -> None:
    with pytest.raises(ParameterError, match="min_answered"):
        score_instrument(_hand_frame(), "customer_centricity", catalogue=CC, min_answered=0)
    with pytest.raises(ParameterError, match="InstrumentCatalogue"):
        score_instrument(_hand_frame(), "customer_centricity", catalogue="core")  # type: ignore[arg-type]


def test_unattributed_answers_are_counted_not_scored() -> None:
    frame = _hand_frame()
    lost = frame.iloc[[0]].assign(person_id=None)
    res = score_instrument(pd.concat([frame, lost], ignore_index=True), "customer_centricity",
                           catalogue=CC, min_n=None, reliability=False, structure=False,
                           invariance=False)  # fmt: skip
    assert res.scores.attrs["hxmetrics"]["excluded_rows"] == {"missing_score": 0, "no_person": 1}
    assert any("1 answer row(s) without a person" in n for n in res.notes)
    assert int(res.scores["n"].iloc[0]) == 6
