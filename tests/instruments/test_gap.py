"""The zero-distance gap (issue 17, item 4): team assignment through the ledger, Welch's
interval against scipy, recovery of the simulator's planted gap, refusal without scalar
invariance, suppression."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hxmetrics.datasets import Organisation
from hxmetrics.datasets._instruments import add_instruments
from hxmetrics.errors import HxWarning, InputTableError, ParameterError
from hxmetrics.instruments._banks import load_bank
from hxmetrics.instruments._gap import ZeroDistanceGap, zero_distance_gap

from .conftest import with_persons

ZD = load_bank("zero_distance")
ITEMS = ZD.subscales("zero_distance")["access_autonomy"]  # zd_aa4 is reverse-keyed

LEDGER = pd.DataFrame(
    {
        "team": ["alpha", "beta", "beta"],
        "touchpoint": ["web", "web", "store"],
        "valid_from": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-01-01"]),
        "valid_to": pd.to_datetime(pd.Series(["2025-03-01", None, None])),
    }
)


def _person_rows(person: str, silo: str, touchpoint: str, when: str, score: float) -> list[dict]:
    """One respondent answering the four access-autonomy items so that the keyed
    subscale score is ``score`` (the reverse-keyed zd_aa4 written reflected)."""
    return [
        {
            "person_id": person,
            "silo": silo,
            "instrument": "zero_distance",
            "item": item,
            "score": 6.0 - score if item == "zd_aa4" else score,
            "touchpoint": touchpoint,
            "timestamp": pd.Timestamp(when),
        }
        for item in ITEMS
    ]


# Keyed subscale scores by hand. alpha owns web until March, beta owns web after and store.
SELF_ALPHA = [5, 4, 4, 5, 3]  # workers at web in February -> alpha
SERVED_ALPHA = [2, 3, 3, 4, 2, 1, 3]  # customers at web in February -> alpha
SELF_BETA = [3, 4, 2, 3, 4, 3]  # workers at store (any time) -> beta
SERVED_BETA = [4, 4, 3, 5, 4, 3, 2, 4]  # customers at web in April -> beta


def _hand() -> pd.DataFrame:
    rows: list[dict] = []
    for k, s in enumerate(SELF_ALPHA):
        rows += _person_rows(f"wa{k}", "workers", "web", "2025-02-10", s)
    for k, s in enumerate(SERVED_ALPHA):
        rows += _person_rows(f"ca{k}", "customers", "web", "2025-02-20", s)
    for k, s in enumerate(SELF_BETA):
        rows += _person_rows(f"wb{k}", "workers", "store", "2025-01-15", s)
    for k, s in enumerate(SERVED_BETA):
        rows += _person_rows(f"cb{k}", "customers", "web", "2025-04-02", s)
    rows += _person_rows("lost", "customers", "web", "2024-06-01", 5)  # before any owner
    rows += _person_rows("nowhere", "customers", "kiosk", "2025-02-01", 5)  # no owner
    return pd.DataFrame(rows)


def test_gap_matches_welch_from_scipy() -> None:
    res = zero_distance_gap(_hand(), teams=LEDGER, catalogue=ZD, require=None, min_n=None)
    assert isinstance(res, ZeroDistanceGap)
    gaps = res.gaps.set_index("team")
    assert list(gaps["subscale"]) == ["access_autonomy", "access_autonomy"]
    for team, own, served in (
        ("alpha", SELF_ALPHA, SERVED_ALPHA),
        ("beta", SELF_BETA, SERVED_BETA),
    ):
        # peer: scipy.stats.ttest_ind(equal_var=False) (Welch 1947), scipy 1.17
        test = stats.ttest_ind(own, served, equal_var=False)
        ci = test.confidence_interval(0.95)
        row = gaps.loc[team]
        assert isinstance(row, pd.Series)
        assert row["estimate"] == pytest.approx(np.mean(own) - np.mean(served), abs=1e-12)
        assert row["df"] == pytest.approx(test.df, rel=1e-10)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
        assert (int(row["n_self"]), int(row["n_served"])) == (len(own), len(served))
        assert row["refused_reason"] == ""
    meta = res.gaps.attrs["hxmetrics"]
    assert meta["excluded_rows"] == {
        "no_team": 8,  # two customers' four answers: one before any owner, one at no owner
        "ambiguous_team": 0,
        "missing_score": 0,
        "no_person": 0,
    }
    assert meta["excluded"] == {"too_few_items": 0}
    assert meta["bounds"] == [-4.0, 4.0]
    assert any("not tested" in n for n in res.notes)


def test_a_team_column_wins_over_the_ledger() -> None:
    data = _hand()
    data["team"] = pd.NA
    data.loc[data["person_id"] == "wa0", "team"] = "beta"  # HR says wa0 is in beta
    res = zero_distance_gap(data, teams=LEDGER, catalogue=ZD, require=None, min_n=None)
    n_self = res.gaps.set_index("team")["n_self"]
    assert (int(n_self["alpha"]), int(n_self["beta"])) == (4, 7)


def test_small_sides_are_suppressed() -> None:
    res = zero_distance_gap(_hand(), teams=LEDGER, catalogue=ZD, require=None, min_n=6)
    gaps = res.gaps.set_index("team")
    # alpha has 5 workers: hidden; beta's sides are 6 and 8, but with one team hidden its
    # counts would be the total minus beta's: the layer hides beta too.
    assert gaps["suppressed"].all()
    assert gaps[["estimate", "self_mean", "served_mean"]].isna().all().all()
    assert gaps["n_self"].isna().all()


def test_recovers_the_planted_gap(simulated_org: Organisation) -> None:
    planted = simulated_org.truth.planted["instruments"]
    answers = with_persons(simulated_org, "zero_distance")
    # Why: warnings as errors: an invariant simulation must not be refused.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # invariant by construction: no refusal
        res = zero_distance_gap(answers, teams=planted["teams"], catalogue=ZD)
    assert res.invariance["means_comparable"].all()
    truth = planted["gap"][planted["gap"]["team"] == planted["gap_team"]]
    got = res.gaps.merge(truth, on=["team", "subscale"], suffixes=("", "_true"))
    assert len(got) == 6
    assert not got["suppressed"].any()
    # Each of the six gaps within its 95% interval would fail 5% of the time alone; within
    # 4 standard errors each fails with probability 6e-5 (normal tails).
    assert (np.abs(got["estimate"] - got["gap"]) < 4 * got["se"]).all()
    # the two largest planted gaps are found (their intervals exclude 0)
    big = got[got["latent_gap"] >= 0.8]
    assert (big["ci_low"] > 0).all()


def test_interval_coverage_over_replications(simulated_org: Organisation) -> None:
    """Twenty waves of the same organisation (new answers each time); every team and
    practice (3 x 6), invariance not re-tested (it holds by construction): 360 intervals.

    Monte Carlo error allowed. The six practices of one team share their respondents:
    their standardised errors correlate about 0.35 within a wave, the hit indicators
    about 0.05 (measured on 70 waves, seeds 100-119 and 300-349), so the binomial sd of
    the coverage, 0.0115 for 360 independent intervals, grows by sqrt(1 + 5 x 0.05) to
    about 0.013 (a bootstrap of 20 of the 70 waves gives 0.014).

    * coverage within 3 such sd of 0.95: [0.91, 0.99]. The upper limit is real: intervals
      1.5 times too wide cover 0.997 and fail it.
    * the width: the sd of the standardised errors z = (estimate - planted gap) / se is
      1 when the standard errors are right (1.02 expected: Welch's t on the small
      partner_desk side, df about 12, has sd 1.09; 1.024 on the 70 waves); its sd over
      sets of 20 waves is 0.054 (bootstrap of the 70 waves), so the band is
      1.02 +- 3 x 0.054 -> [0.85, 1.20]. Standard errors 1.2 times too large (or too
      small) fail it at least half the time, 1.3 times about nine times in ten.
    * no bias: the mean error over 360 estimates (sd about 0.2 each) within 0.05.

    Seeds 100-119 give coverage 0.950, sd(z) 1.016, mean error +0.008.
    """
    base = dataclasses.replace(
        simulated_org,
        responses=simulated_org.responses[
            ~simulated_org.responses["instrument"].isin(["zero_distance", "customer_centricity"])
        ],
    )
    hits = []
    errors = []
    z = []
    for seed in range(100, 120):
        org = add_instruments(base, random_state=seed, customer_centricity=False)
        planted = org.truth.planted["instruments"]
        res = zero_distance_gap(
            with_persons(org, "zero_distance"),
            teams=planted["teams"],
            catalogue=ZD,
            require=None,
            min_n=None,
        )
        got = res.gaps.merge(planted["gap"], on=["team", "subscale"], suffixes=("", "_true"))
        hits += ((got["ci_low"] <= got["gap"]) & (got["gap"] <= got["ci_high"])).tolist()
        errors += (got["estimate"] - got["gap"]).tolist()
        z += ((got["estimate"] - got["gap"]) / got["se"]).tolist()
    assert len(hits) == 360
    coverage = float(np.mean(hits))
    assert 0.91 <= coverage <= 0.99, coverage
    spread = float(np.std(z, ddof=1))
    assert 0.85 <= spread <= 1.20, spread
    assert abs(float(np.mean(errors))) < 0.05


def test_refused_with_the_reason_when_invariance_fails(simulated_org: Organisation) -> None:
    base = dataclasses.replace(
        simulated_org,
        responses=simulated_org.responses[
            ~simulated_org.responses["instrument"].isin(["zero_distance", "customer_centricity"])
        ],
    )
    # workers read two feedback items a category higher than customers and partners
    # do at the same latent level: a scalar non-invariance planted in one practice.
    org = add_instruments(
        base, random_state=6, non_invariant={"zd_fv1": 1.0, "zd_fv2": 1.0},
        customer_centricity=False,
    )  # fmt: skip
    planted = org.truth.planted["instruments"]
    with pytest.warns(HxWarning, match="refused for 1 practice") as caught:
        res = zero_distance_gap(with_persons(org, "zero_distance"), teams=planted["teams"],
                                catalogue=ZD)  # fmt: skip
    assert "feedback_value" in str(caught[0].message)
    inv = res.invariance.set_index("subscale")
    assert not inv.loc["feedback_value", "means_comparable"]
    assert inv.drop(index="feedback_value")["means_comparable"].all()
    fv = res.gaps[res.gaps["subscale"] == "feedback_value"]
    assert fv["estimate"].isna().all()
    assert fv["ci_low"].isna().all()
    shown = fv[~fv["suppressed"]]
    assert shown["refused_reason"].str.contains("scalar invariance is rejected").all()
    others = res.gaps[(res.gaps["subscale"] != "feedback_value") & ~res.gaps["suppressed"]]
    assert others["estimate"].notna().all()
    assert (others["refused_reason"] == "").all()


def test_bad_options_and_tables() -> None:
    with pytest.raises(ParameterError, match="require"):
        zero_distance_gap(_hand(), teams=LEDGER, catalogue=ZD, require="configural")
    with pytest.raises(ParameterError, match="other than self_role"):
        zero_distance_gap(_hand(), teams=LEDGER, catalogue=ZD, served=["workers"])
    backwards = LEDGER.assign(valid_to=pd.to_datetime(pd.Series(["2024-01-01", None, None])))
    with pytest.raises(InputTableError, match="valid_to must be after valid_from"):
        zero_distance_gap(_hand(), teams=backwards, catalogue=ZD, require=None)
    with pytest.raises(InputTableError, match="valid_from"):
        zero_distance_gap(_hand(), teams=LEDGER.drop(columns="valid_from"), catalogue=ZD)


def test_plot_and_display() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = zero_distance_gap(_hand(), teams=LEDGER, catalogue=ZD, require=None, min_n=None)
    ax = res.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["access autonomy"]
    legend = ax.get_legend()
    assert legend is not None
    assert len(legend.get_texts()) == 2
    html = res._repr_html_()
    assert "<strong>gaps</strong>" in html
    assert "person_id" not in html
    plt.close("all")


def test_refused_when_invariance_cannot_be_tested() -> None:
    # 11 workers and 15 customers: fewer than 30 complete answer sets per role
    with pytest.warns(HxWarning, match="refused for 1 practice"):
        res = zero_distance_gap(_hand(), teams=LEDGER, catalogue=ZD, min_n=None)
    assert res.gaps["estimate"].isna().all()
    assert res.gaps["refused_reason"].str.contains("cannot be tested").all()
    assert not res.invariance["means_comparable"].any()
