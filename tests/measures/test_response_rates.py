"""Invitations, AAPOR response rates and non-response weights (issue 17, item 5).

References reproduced:

* the AAPOR arithmetic: the outcomerate R package's documented example (README of
  ropensci/outcomerate, v1.0.1: I=4, P=2, R=NC=O=UH=UO=NE=1, e = 0.9 gives RR1 0.364,
  RR2 0.545, RR3 0.370, RR4 0.556, RR5 0.444, RR6 0.667), from counts and from an
  invitations table with those dispositions;
* raking: R survey's ``rake()`` example on its ``api`` data (help page of ``rake``),
  run here with R 4.2.2 and survey 4.1.1 (see ``test_rake_reproduces_r_survey``);
* the Wilson interval: statsmodels ``proportion_confint(method="wilson")``;
* the simulator's planted non-response bias (``add_invitations``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._invitations import add_invitations
from hxmetrics.errors import (
    ConvergenceError,
    HxWarning,
    InputTableError,
    ParameterError,
    PrivacyError,
)
from hxmetrics.measures._result import is_result
from hxmetrics.measures.nps import nps
from hxmetrics.measures.response_rates import (
    DEFINITIONS,
    SurveyWeights,
    aapor_response_rates,
    check_invitations,
    kish_design_effect,
    rake,
    response_propensity_weights,
    response_rates,
    with_weights,
)

from .conftest import Convert

T0 = pd.Timestamp("2024-03-01")
ITEMS = ["q1", "q2", "q3", "q4"]

# outcomerate README (ropensci/outcomerate, v1.0.1): outcomerate(freq, e =
# eligibility_rate(freq)) with freq = c(I=4, P=2, R=1, NC=1, O=1, UH=1, UO=1, NE=1).
OUTCOMERATE = {"RR1": 0.364, "RR2": 0.545, "RR3": 0.370, "RR4": 0.556, "RR5": 0.444, "RR6": 0.667}


def _tables(
    answered: list[int],
    *,
    eligibility: list[str] | None = None,
    group: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invitations k = 0.. with ``answered[k]`` of the four items answered (0: no reply)."""
    k = len(answered)
    inv = pd.DataFrame(
        {
            "invitation_id": [f"i{j}" for j in range(k)],
            "silo": "customers",
            "source_id": [f"C{j}" for j in range(k)],
            "instrument": "pulse",
            "sent": T0,
            "channel": "email",
        }
    )
    if eligibility is not None:
        inv["eligibility"] = eligibility
    if group is not None:
        inv["team"] = group
    rows = [
        {
            "response_id": f"r{j}",
            "silo": "customers",
            "source_id": f"C{j}",
            "instrument": "pulse",
            "item": ITEMS[q],
            "score": 4.0,
            "timestamp": T0 + pd.Timedelta(days=2),
            "invitation_id": f"i{j}",
        }
        for j, m in enumerate(answered)
        for q in range(m)
    ]
    # One answer without an invitation (an open link): it does not enter any rate.
    rows.append(
        {
            "response_id": "open",
            "silo": "customers",
            "source_id": "C999",
            "instrument": "pulse",
            "item": "q1",
            "score": 3.0,
            "timestamp": T0,
            "invitation_id": None,
        }
    )
    return inv, pd.DataFrame(rows)


# The outcomerate example as invitations: 4 complete (4 of 4 items), 2 partial (3 and
# 2 of 4: at least one half), 1 break-off (1 of 4), 2 eligible non-replies (NC + O),
# 2 of unknown eligibility (UH + UO) and 1 known ineligible.
EXAMPLE_ANSWERED = [4, 4, 4, 4, 3, 2, 1, 0, 0, 0, 0, 0]
EXAMPLE_ELIGIBILITY = ["eligible"] * 9 + ["unknown", "unknown", "ineligible"]


# ---------------------------------------------------------------- AAPOR arithmetic


def test_aapor_counts_reproduce_outcomerate() -> None:
    rates = aapor_response_rates(
        {"I": 4, "P": 2, "R": 1, "NC": 1, "O": 1, "UH": 1, "UO": 1, "NE": 1}
    )
    assert rates["e"] == pytest.approx(0.9, abs=1e-12)
    for name, value in OUTCOMERATE.items():
        # The README prints three decimals: half a unit of the third.
        assert rates[name] == pytest.approx(value, abs=5e-4), name
    # The exact fractions: 4/11, 6/11, 4/10.8, 6/10.8, 4/9, 6/9.
    exact = [4 / 11, 6 / 11, 4 / 10.8, 6 / 10.8, 4 / 9, 6 / 9]
    assert [rates[f"RR{k}"] for k in range(1, 7)] == pytest.approx(exact, rel=1e-12)


def test_response_rates_reproduce_outcomerate_from_tables() -> None:
    inv, resp = _tables(EXAMPLE_ANSWERED, eligibility=EXAMPLE_ELIGIBILITY)
    r = response_rates(inv, resp, eligibility="eligibility", definition="RR3")
    assert is_result(r)
    row = r.iloc[0]
    assert (row["complete"], row["partial"], row["breakoff"], row["no_reply"]) == (4, 2, 1, 2)
    assert row["unknown_eligibility"] == 2
    assert row["n_excluded_ineligible"] == 1
    assert row["n"] == 11
    assert row["e"] == pytest.approx(0.9, abs=1e-12)
    for name, value in OUTCOMERATE.items():
        # Why: outcomerate prints the rates to three decimals: half a unit of the last digit.
        assert row[f"pct_{name.lower()}"] / 100 == pytest.approx(value, abs=5e-4), name
    assert row["estimate"] == pytest.approx(100 * 4 / 10.8, rel=1e-12)
    meta = r.attrs["hxmetrics"]
    assert meta["definition"] == "RR3"
    assert meta["method"] == "wilson"
    assert set(meta["applicable"]) == set(DEFINITIONS)
    assert meta["applicable"]["RR3"].startswith("applies")
    assert "AAPOR (2023)" in meta["source"]


def test_a_score_that_is_not_a_number_is_refused_not_counted_as_unanswered() -> None:
    # Found in review: text scores made a complete response a break-off, silently.
    inv, resp = _tables(EXAMPLE_ANSWERED, eligibility=EXAMPLE_ELIGIBILITY)
    resp["score"] = resp["score"].astype(object)
    resp.loc[[1, 2], "score"] = "four"
    with pytest.raises(InputTableError, match=r"score must hold numbers.*rows \[1, 2\]"):
        response_rates(inv, resp, eligibility="eligibility")
    # A missing score is an unanswered item, as before.
    resp.loc[[1, 2], "score"] = None
    row = response_rates(inv, resp, eligibility="eligibility").iloc[0]
    assert (row["complete"], row["partial"]) == (3, 3)


def test_wilson_interval_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    inv, resp = _tables([4] * 13 + [0] * 24)
    r = response_rates(inv, resp, confidence=0.9)
    lo, hi = proportion_confint(13, 37, alpha=0.1, method="wilson")
    assert r["ci_low"].iloc[0] == pytest.approx(100 * lo, rel=1e-10)
    assert r["ci_high"].iloc[0] == pytest.approx(100 * hi, rel=1e-10)
    assert r["estimate"].iloc[0] == pytest.approx(100 * 13 / 37, rel=1e-12)


def test_without_unknown_eligibility_rr3_rr5_equal_rr1() -> None:
    inv, resp = _tables([4, 4, 3, 0, 0, 1, 4, 0])
    r = response_rates(inv, resp).iloc[0]
    assert r["pct_rr1"] == r["pct_rr3"] == r["pct_rr5"] == pytest.approx(100 * 3 / 8)
    assert r["pct_rr2"] == r["pct_rr4"] == r["pct_rr6"] == pytest.approx(100 * 4 / 8)
    applicable = response_rates(inv, resp).attrs["hxmetrics"]["applicable"]
    assert applicable["RR3"].startswith("equals RR1")
    assert applicable["RR5"].startswith("equals RR1")
    assert applicable["RR2"].startswith("applies")  # there is a partial


def test_partial_rule_and_items_from_a_catalogue() -> None:
    inv, resp = _tables([4, 3, 2, 1])
    r = response_rates(inv, resp).iloc[0]
    assert (r["complete"], r["partial"], r["breakoff"]) == (1, 2, 1)
    strict = response_rates(inv, resp, partial_threshold=0.75).iloc[0]
    assert (strict["complete"], strict["partial"], strict["breakoff"]) == (1, 1, 2)
    # A catalogue with a fifth item nobody answered: nobody is complete.
    catalogue = {"pulse": [*ITEMS, "q5"]}
    r5 = response_rates(inv, resp, items=catalogue).iloc[0]
    assert (r5["complete"], r5["partial"], r5["breakoff"]) == (0, 2, 2)


def test_groups_and_suppression() -> None:
    answered = [4, 0, 0, 4, 4, 0, 4, 0, 0, 0, 4, 4]
    teams = ["a"] * 8 + ["b"] * 4
    inv, resp = _tables(answered, group=teams)
    r = response_rates(inv, resp, by="team")
    assert r["team"].tolist() == ["a", "b"]
    assert r["n"].tolist() == [8, 4]
    assert r["estimate"].tolist() == pytest.approx([50.0, 50.0])
    hidden = response_rates(inv, resp, by="team", min_n=5)
    assert hidden["suppressed"].tolist() == [True, True]  # b small, a its complement
    assert hidden["estimate"].isna().all()
    with pytest.raises(PrivacyError):
        response_rates(inv, resp, by="source_id")
    with pytest.raises(PrivacyError, match="invitation_id"):
        response_rates(inv, resp, by="invitation_id")


def test_engines(engine: Convert) -> None:
    inv, resp = _tables(EXAMPLE_ANSWERED, eligibility=EXAMPLE_ELIGIBILITY)
    want = response_rates(inv, resp, eligibility="eligibility")
    got = response_rates(engine(inv), engine(resp), eligibility="eligibility")
    pd.testing.assert_frame_equal(got, want)


# ---------------------------------------------------------------- cross-table checks


def test_response_before_its_invitation() -> None:
    inv, resp = _tables([4, 4, 0])
    resp.loc[resp["response_id"] == "r1", "timestamp"] = T0 - pd.Timedelta(hours=1)
    with pytest.raises(InputTableError, match="after_invitation") as info:
        check_invitations(inv, resp)
    message = str(info.value)
    assert "responses.timestamp < invitations.sent" in message
    assert "rows [4, 5, 6, 7]" in message
    assert "invitations rows [1, 1, 1, 1]" in message
    assert "C1" not in message  # positions, never ids
    assert "r1" not in message
    cases = info.value.failure_cases
    assert set(cases["check"]) == {"after_invitation"}
    assert cases["index"].tolist() == [4, 5, 6, 7]
    with pytest.raises(InputTableError, match="after_invitation"):
        response_rates(inv, resp)


def test_unknown_invitation_and_mismatched_person() -> None:
    inv, resp = _tables([4, 4])
    resp.loc[0, "invitation_id"] = "nope"
    resp.loc[5, "source_id"] = "C0"
    with pytest.raises(InputTableError) as info:
        check_invitations(inv, resp)
    checks = set(info.value.failure_cases["check"])
    assert {"known_invitation", "same_source_id", "one_invitation_per_response"} <= checks
    assert info.value.table == "responses"


def test_invitation_for_an_unknown_instrument() -> None:
    inv, resp = _tables([4, 0])
    inv.loc[1, "instrument"] = "plse"
    with pytest.raises(InputTableError, match="known_instrument") as info:
        check_invitations(inv, resp)
    assert info.value.table == "invitations"
    assert info.value.failure_cases["failure_case"].tolist() == ["plse"]
    # Known to the catalogue: accepted, even if nobody answered it yet.
    check_invitations(inv, resp, instruments=["pulse", "plse"])
    with pytest.raises(InputTableError, match="known_instrument"):
        check_invitations(inv, resp, instruments=iter(["nps"]))
    with pytest.raises(ParameterError, match="iterable"):
        check_invitations(inv, resp, instruments="pulse")


def test_duplicate_invitation_and_bad_arguments() -> None:
    inv, resp = _tables([4, 0])
    twice = pd.concat([inv, inv.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputTableError, match="unique_invitation_id"):
        check_invitations(twice, resp)
    with pytest.raises(InputTableError, match="were not found"):
        check_invitations(inv, resp.drop(columns="invitation_id"))
    with pytest.raises(ParameterError, match="definition"):
        response_rates(inv, resp, definition="RR7")
    with pytest.raises(ParameterError, match="partial_threshold"):
        response_rates(inv, resp, partial_threshold=0)
    with pytest.raises(ParameterError, match="e must lie"):
        response_rates(inv, resp, e=1.5)
    aware = inv.assign(sent=inv["sent"].dt.tz_localize("UTC"))
    with pytest.raises(InputTableError, match="same_time_zone"):
        check_invitations(aware, resp)
    with pytest.raises(InputTableError, match=r"check datetime\); 1 row"):
        check_invitations(inv.assign(sent=["2024-01-01", "soon"]), resp)
    inv["eligibility"] = ["eligible", "bounced"]
    with pytest.raises(InputTableError, match="eligibility_values"):
        response_rates(inv, resp, eligibility="eligibility")


# ---------------------------------------------------------------- raking


def _api_sample() -> pd.DataFrame:
    # R survey's apiclus1: the cell counts of stype x sch.wide (its pw is constant,
    # 33.847, so raking depends only on these counts):
    # table(apiclus1$stype, apiclus1$sch.wide) -> E: 12 No, 132 Yes; H: 3, 11; M: 8, 17.
    cells = {("E", "No"): 12, ("E", "Yes"): 132, ("H", "No"): 3, ("H", "Yes"): 11}
    cells |= {("M", "No"): 8, ("M", "Yes"): 17}
    rows = [(s, w) for (s, w), k in cells.items() for _ in range(k)]
    return pd.DataFrame(rows, columns=["stype", "sch_wide"]).assign(pw=33.847)


def test_rake_reproduces_r_survey() -> None:
    # R 4.2.2, survey 4.1.1, the example of ?rake:
    #   dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
    #   pop.types <- data.frame(stype=c("E","H","M"), Freq=c(4421,755,1018))
    #   pop.schwide <- data.frame(sch.wide=c("No","Yes"), Freq=c(1072,5122))
    #   r <- rake(dclus1, list(~stype,~sch.wide), list(pop.types, pop.schwide),
    #             control=list(maxit=10000, epsilon=1e-13))
    #   options(digits=15)
    #   aggregate(weights(r), by=list(apiclus1$stype, apiclus1$sch.wide), mean)
    r_weights = {
        ("E", "No"): 39.8392362471298,
        ("H", "No"): 67.1255292411947,
        ("M", "No"): 49.0690721638573,
        ("E", "Yes"): 29.8706754926847,
        ("H", "Yes"): 50.3294011160392,
        ("M", "Yes"): 36.7910248640700,
    }
    sample = _api_sample()
    total = 6194.0
    margins = {
        "stype": {"E": 4421 / total, "H": 755 / total, "M": 1018 / total},
        "sch_wide": {"No": 1072 / total, "Yes": 5122 / total},
    }
    w = rake(sample, margins, weight="pw", total=total, tol=1e-13)
    got = w.weights.groupby([sample["stype"], sample["sch_wide"]]).agg(["mean", "std"])
    for key, value in r_weights.items():
        # R printed 15 significant digits; both stop at a share gap near 1e-13, so the
        # weights agree to about 12 digits.
        assert got.loc[key, "mean"] == pytest.approx(value, rel=1e-11), key
        assert got.loc[key, "std"] == pytest.approx(0.0, abs=1e-9)
    # svytable(~stype, r): 4421, 755, 1018; svytable(~sch.wide, r): 1072, 5122.
    by_type = w.weights.groupby(sample["stype"]).sum()
    assert by_type.to_numpy() == pytest.approx([4421, 755, 1018], rel=1e-10)


def test_rake_meets_its_margins_exactly() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    sample = pd.DataFrame(
        {
            "role": rng.choice(["customer", "worker", "partner"], n, p=[0.3, 0.6, 0.1]),
            "tenure": rng.choice(["<1y", "1-3y", "3y+"], n, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(["north", "south"], n, p=[0.7, 0.3]),
        }
    )
    margins = {
        "role": {"customer": 0.6, "worker": 0.3, "partner": 0.1},
        "tenure": {"<1y": 0.2, "1-3y": 0.4, "3y+": 0.4},
        "region": {"north": 0.5, "south": 0.5},
    }
    w = rake(sample, margins, tol=1e-12)
    assert isinstance(w, SurveyWeights)
    assert w.method == "raking"
    assert w.weights.sum() == pytest.approx(n, rel=1e-12)
    for column, shares in margins.items():
        got = w.weights.groupby(sample[column]).sum() / w.weights.sum()
        for cat, share in shares.items():
            assert got[cat] == pytest.approx(share, abs=1e-12)
    details = w.details
    assert (details["achieved"] - details["target"]).abs().max() < 1e-12
    k = kish_design_effect(w.weights)
    assert w.deff == pytest.approx(k["deff"])
    assert w.n_eff == pytest.approx(n / k["deff"])
    assert w.deff > 1.0
    assert "SurveyWeights (raking" in w._repr_html_()


def test_rake_errors() -> None:
    sample = pd.DataFrame({"role": ["customer", "worker", "worker"], "r": ["a", "b", "a"]})
    with pytest.raises(ParameterError, match=r"add up to 0\.9"):
        rake(sample, {"role": {"customer": 0.5, "worker": 0.4}})
    with pytest.raises(ParameterError, match="categories the data lack: \\['partner'\\]"):
        rake(sample, {"role": {"customer": 0.5, "worker": 0.4, "partner": 0.1}})
    with pytest.raises(ParameterError, match="no share for the data's categories \\['worker'\\]"):
        rake(sample, {"role": {"customer": 1.0}})
    with pytest.raises(ParameterError, match="> 0"):
        rake(sample, {"role": {"customer": 1.0, "worker": 0.0}})
    with pytest.raises(InputTableError, match="were not found"):
        rake(sample, {"team": {"x": 1.0}})
    bad = sample.assign(role=pd.Series(["customer", None, "worker"], index=sample.index))
    with pytest.raises(InputTableError, match="not_missing"):
        rake(bad, {"role": {"customer": 0.5, "worker": 0.5}})
    with pytest.raises(InputTableError, match="positive_weight"):
        rake(
            sample.assign(w=[1.0, -1.0, 2.0]),
            {"role": {"customer": 0.5, "worker": 0.5}},
            weight="w",
        )
    # Structural zeros: customers are all in r=a, yet the margins want r=a to be 10%
    # while customers are 90%: no weights meet both.
    with pytest.raises(ConvergenceError, match="not met"):
        rake(
            sample,
            {"role": {"customer": 0.9, "worker": 0.1}, "r": {"a": 0.1, "b": 0.9}},
            max_iter=200,
        )


def test_rake_weights_of_one_when_margins_equal_the_sample() -> None:
    sample = pd.DataFrame({"role": ["c", "c", "w", "w", "w"], "t": ["x", "y", "x", "y", "y"]})
    w = rake(sample, {"role": {"c": 0.4, "w": 0.6}, "t": {"x": 0.4, "y": 0.6}})
    assert w.weights.to_numpy() == pytest.approx(np.ones(5), abs=1e-12)
    assert w.deff == pytest.approx(1.0)


_cats = st.sampled_from(["a", "b", "c"])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(_cats, st.sampled_from(["x", "y"])), min_size=6, max_size=40),
    seed=st.integers(0, 2**31 - 1),
)
def test_rake_is_invariant_to_row_order(rows: list[tuple[str, str]], seed: int) -> None:
    sample = pd.DataFrame(rows, columns=["g", "h"])
    g_cats = sorted(set(sample["g"]))
    h_cats = sorted(set(sample["h"]))
    margins = {
        "g": {c: 1 / len(g_cats) for c in g_cats},
        "h": {c: 1 / len(h_cats) for c in h_cats},
    }
    try:
        w = rake(sample, margins, max_iter=2000)
    except ConvergenceError:
        return  # an empty cell the margins need: the shuffled table fails too (below)
    order = np.random.default_rng(seed).permutation(len(sample))
    shuffled = rake(sample.iloc[order], margins, max_iter=2000)
    # Sums in another order differ by rounding only.
    assert shuffled.weights.reindex(w.weights.index).to_numpy() == pytest.approx(
        w.weights.to_numpy(), rel=1e-9
    )


@settings(max_examples=30, deadline=None)
@given(scores=st.lists(st.integers(0, 10), min_size=3, max_size=50))
def test_weights_of_one_equal_unweighted(scores: list[int]) -> None:
    resp = pd.DataFrame(
        {"response_id": [f"r{k}" for k in range(len(scores))], "score": np.asarray(scores, float)}
    )
    ones = pd.Series(1.0, index=pd.Index(resp["response_id"], name="response_id"))
    weighted = nps(with_weights(resp, ones), "score", weights="weight")
    plain = nps(resp, "score")
    for column in ("n", "estimate", "se", "ci_low", "ci_high"):
        assert weighted[column].iloc[0] == pytest.approx(
            plain[column].iloc[0], rel=1e-12, abs=1e-12
        )


# ---------------------------------------------------------------- weights and their use


def test_kish_design_effect() -> None:
    # Kish (1965): deff = 1 + CV^2; weights 1, 1, 1, 3: mean 1.5, CV^2 = 0.75/2.25 = 1/3.
    k = kish_design_effect([1, 1, 1, 3])
    assert k["deff"] == pytest.approx(4 / 3)
    assert k["n_eff"] == pytest.approx(3.0)
    assert k["cv"] == pytest.approx(np.sqrt(1 / 3))
    with pytest.raises(ParameterError):
        kish_design_effect([1.0, 0.0])


def test_with_weights_errors() -> None:
    resp = pd.DataFrame({"response_id": ["r1", "r2"], "score": [9.0, 3.0]})
    w = pd.Series([2.0], index=pd.Index(["r1"], name="response_id"))
    with pytest.raises(InputTableError, match="has_weight"):
        with_weights(resp, w)
    assert with_weights(resp, w, fill=1.0)["weight"].tolist() == [2.0, 1.0]
    with pytest.raises(ParameterError, match="SurveyWeights"):
        with_weights(resp, [1.0, 2.0])  # type: ignore[arg-type]


def test_propensity_weights_by_hand_and_classes() -> None:
    # One categorical covariate: the logistic fit is saturated, so 1/p-hat is the
    # inverse response rate of each category (a: 3 of 6, b: 2 of 8).
    answered = [4, 4, 4, 0, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0]
    inv, resp = _tables(answered, group=["a"] * 6 + ["b"] * 8)
    w = response_propensity_weights(inv, resp, "team")
    expected = {"r0": 2.0, "r1": 2.0, "r2": 2.0, "r6": 4.0, "r7": 4.0}
    assert w.weights.to_dict() == pytest.approx(expected, rel=1e-8)
    assert w.weights.sum() == pytest.approx(len(answered), rel=1e-8)
    classes = response_propensity_weights(inv, resp, "team", classes=2)
    assert classes.weights.to_dict() == pytest.approx(expected, rel=1e-8)
    assert classes.method == "propensity_classes"
    trimmed = response_propensity_weights(inv, resp, "team", trim=1.2)
    assert trimmed.weights.max() <= 1.2 * trimmed.weights.mean() * (1 + 1e-9)
    assert trimmed.weights.sum() == pytest.approx(w.weights.sum(), rel=1e-12)
    with pytest.raises(ParameterError, match="trim"):
        response_propensity_weights(inv, resp, "team", trim=1.0)
    with pytest.raises(ParameterError, match="classes"):
        response_propensity_weights(inv, resp, "team", classes=1)
    with pytest.raises(ParameterError, match="with and without"):
        response_propensity_weights(*_tables([4, 4], group=["a", "b"]), "team")


def test_propensity_separation_warns() -> None:
    answered = [4, 4, 4, 0, 4, 0, 4, 0]
    inv, resp = _tables(answered, group=["a", "a", "a", "b", "b", "b", "b", "b"])
    with pytest.warns(HxWarning, match="classes="):
        response_propensity_weights(inv, resp, "team")


def _roster_covariates(org: Organisation) -> pd.DataFrame:
    """Role, engagement and log(1 + tenure years) per invitation, from the rosters."""
    parts = []
    for silo, role, key in (
        ("customers", "customer", "customer_id"),
        ("workers", "worker", "worker_id"),
        ("partners", "partner", "partner_id"),
    ):
        roster = getattr(org, silo)
        parts.append(
            pd.DataFrame(
                {
                    "silo": silo,
                    "source_id": roster[key].astype(str),
                    "role": role,
                    "engagement": roster["engagement"].astype(str),
                    "start": roster["start"],
                    "end": roster["end"],
                }
            )
        )
    rosters = pd.concat(parts, ignore_index=True)
    inv = org.invitations
    assert inv is not None
    merged = inv.merge(rosters, on=["silo", "source_id"], how="left")
    inside = (merged["start"] <= merged["sent"]) & (
        merged["end"].isna() | (merged["sent"] < merged["end"] + pd.Timedelta(days=1))
    )
    merged = merged[inside].drop_duplicates("invitation_id")
    years = (merged["sent"] - merged["start"]).dt.days / 365.25
    merged["log_tenure"] = np.log1p(years.clip(lower=0))
    assert len(merged) == len(inv)  # every invitation went to a roster member
    return merged.drop(columns=["start", "end"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def invited_org() -> Organisation:
    return simulate_organisation(8000, random_state=21)


def test_weights_remove_the_planted_bias(invited_org: Organisation) -> None:
    """Twenty response draws on one organisation (the invited population and its NPS are
    fixed; only who answers changes): the respondents' unweighted NPS is biased by the
    planted expected bias, the inverse-propensity weighted NPS is not.

    Monte Carlo error allowed (R = 20 draws, about 1 s each):

    * weighted: the mean of the 20 weighted errors (estimate - population NPS) lies
      within 3 Monte Carlo standard errors of 0, two-sided, the MC SE being the
      empirical sd of the errors / sqrt(20) (sd about 2.2 points, so MC SE about 0.5
      and the bound about 1.5 points; with the sd estimated from 20 draws the statistic
      is t with 19 df: a correct weighting fails with probability 0.007). The smallest
      bias the test detects: a mean bias of 1.5 points fails half the time, one of 2.5
      points (5 MC SE; a third of the planted -7) fails 98% of the time. Seeds 100-119
      give +0.3 (MC SE 0.5); 40 further draws (seeds 200-239) gave +0.1 (MC SE 0.35).
    * weighted 95% intervals: at least 16 of 20 cover (binomial(20, 0.95): P(at most
      15) = 0.003). This check alone is weak: an estimator biased by one standard error
      (coverage 0.83) fails it only a quarter of the time; the bias bound above is the
      one that catches that (one SE is 2.4 points). Seeds 100-119 cover 19 of 20.
    * unweighted: the mean error within 3 MC SE (empirical, sd about 0.8 points) of the
      planted expected bias (-7.0), and every interval but at most one excludes the
      population NPS (a bias of about 4.5 of its standard errors: each interval misses
      the truth with probability > 0.999).
    """
    draws = 20
    covered = excluded = 0
    biases = []
    weighted_biases = []
    for seed in range(100, 100 + draws):
        org = add_invitations(invited_org, random_state=seed)
        planted = org.truth.planted["invitations"]
        truth = planted["population_nps"]
        cov = _roster_covariates(org)
        linked = org.responses[org.responses["invitation_id"].notna()]
        w = response_propensity_weights(cov, linked, ["role", "engagement", "log_tenure"])
        ltr = linked[linked["item"] == "ltr"]
        plain = nps(ltr, "score").iloc[0]
        weighted = nps(with_weights(ltr, w), "score", weights="weight").iloc[0]
        assert plain["estimate"] == pytest.approx(planted["respondent_nps"], rel=1e-12)
        covered += int(weighted["ci_low"] <= truth <= weighted["ci_high"])
        excluded += int(not plain["ci_low"] <= truth <= plain["ci_high"])
        biases.append(plain["estimate"] - truth)
        weighted_biases.append(weighted["estimate"] - truth)
    expected = planted["expected_bias"]
    assert expected < -6  # the step plants a bias of several points (about -7 here)
    mc_se = np.std(weighted_biases, ddof=1) / np.sqrt(draws)
    assert abs(np.mean(weighted_biases)) < 3 * mc_se, (np.mean(weighted_biases), mc_se)
    assert 3 * mc_se < abs(expected) / 3  # the bound is tight enough to mean something
    assert covered >= 16, (covered, weighted_biases)
    plain_mc_se = np.std(biases, ddof=1) / np.sqrt(draws)
    # Why: 3 Monte Carlo standard errors of the mean over the draws (computed above).
    assert np.mean(biases) == pytest.approx(expected, abs=3 * plain_mc_se)
    assert excluded >= draws - 1, (excluded, biases)


def test_rates_on_the_simulated_invitations(invited_org: Organisation) -> None:
    org = add_invitations(invited_org, random_state=3)
    planted = org.truth.planted["invitations"]
    cov = _roster_covariates(org)
    r = response_rates(cov, org.responses, by="role")
    assert r["n"].sum() == planted["n_invited"]
    assert r["complete"].sum() == planted["n_responded"]
    by_role = planted["by_role"].set_index("role")
    for _, row in r.iterrows():
        truth = by_role.loc[row["role"]]
        assert row["complete"] == truth["responded"]
        # The realised rate is within its interval of the expected one in most groups;
        # here with n >= 500 per role, 4 standard errors is a safe bound.
        assert row["estimate"] / 100 == pytest.approx(
            truth["expected_rate"], abs=4 * row["se"] / 100
        )
    applicable = r.attrs["hxmetrics"]["applicable"]
    assert applicable["RR2"].startswith("equals RR1")  # one item: no partials
    rake_sample = cov.merge(
        org.responses[org.responses["item"] == "ltr"][["invitation_id", "response_id"]],
        on="invitation_id",
    )
    shares = cov["role"].value_counts(normalize=True).to_dict()
    raked = rake(rake_sample, {"role": shares})
    got = raked.weights.groupby(rake_sample.set_index("response_id")["role"]).sum()
    assert (got / got.sum()).to_dict() == pytest.approx(shares, abs=1e-10)
    assert raked.weights.index.name == "response_id"


def test_rake_and_weights_on_other_engines_and_plot(engine: Convert) -> None:
    sample = pd.DataFrame({"role": ["a", "b", "b", "a", "b"], "t": ["x", "y", "x", "y", "y"]})
    margins = {"role": {"a": 0.5, "b": 0.5}, "t": {"x": 0.3, "y": 0.7}}
    want = rake(sample, margins)
    got = rake(engine(sample), margins)
    assert got.weights.to_numpy() == pytest.approx(want.weights.to_numpy(), rel=1e-12)
    from hxmetrics.plotting import new_figure

    _fig, ax = new_figure(4, 3)
    assert want.plot(ax=ax) is ax
    assert "deff" in ax.get_title(loc="left")  # the package style puts titles left


def test_no_invitations_gives_an_empty_rate() -> None:
    inv, resp = _tables([4, 0])
    r = response_rates(inv.iloc[:0], resp[resp["invitation_id"].isna()])
    assert r["n"].tolist() == [0]
    assert np.isnan(r["estimate"].iloc[0])
