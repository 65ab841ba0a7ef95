"""Kaplan-Meier quantiles, survival at times and restricted means (issue 14).

Validated against R survival 3.5.3 (R 4.2.2, recorded below with the calls), statsmodels'
``SurvfuncRight`` (run here, every transform), and a simulation with known truth.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import HxWarning, ParameterError
from hxmetrics.measures.tenure import (
    KaplanMeier,
    km_quantiles,
    km_restricted_mean,
    km_survival_at,
)

LUNG = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "lung.csv")
# survival::aml (Miller 1981), both arms: weeks to relapse, status 1 = relapse.
AML_TIME = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
AML_TIME += [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
AML_EVENT = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
AML_EVENT += [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
PROBS = [0.1, 0.25, 0.5, 0.75, 0.9]
TRANSFORMS = ["log", "cloglog", "linear", "logit", "asinsqrt"]
# R's conf.type for each transform.
R_CONF_TYPE = {
    "log": "log",
    "cloglog": "log-log",
    "linear": "plain",
    "logit": "logit",
    "asinsqrt": "arcsin",
}
NAN = float("nan")


def _lung():
    return LUNG["time"].to_numpy(float), LUNG["status"].to_numpy()


def test_lung_data_is_r_lung():
    # R: lung has 228 rows, 165 deaths (status 2 there, 1 here).
    t, e = _lung()
    assert (len(t), int(e.sum())) == (228, 165)
    assert set(np.unique(e)) == {0, 1}


def test_median_matches_r_print_survfit_on_lung():
    # R 4.2.2, survival 3.5.3:
    # > print(survfit(Surv(time, status) ~ 1, data = lung))
    #        n events median 0.95LCL 0.95UCL
    # [1,] 228    165    310     285     363
    km = KaplanMeier().fit(*_lung())
    assert km.median_ == 310.0
    assert km.median_ci_ == (285.0, 363.0)
    row = km.quantile(0.5).iloc[0]
    assert (row["estimate"], row["ci_low"], row["ci_high"]) == (310.0, 285.0, 363.0)
    grouped = km_quantiles(*_lung(), q=0.5)
    assert grouped[["estimate", "ci_low", "ci_high"]].iloc[0].tolist() == [310.0, 285.0, 363.0]


# R 4.2.2, survival 3.5.3, for each conf.type:
# > f <- survfit(Surv(time, status) ~ 1, data = lung, conf.type = ct)
# > quantile(f, probs = c(0.1, 0.25, 0.5, 0.75, 0.9))   # $quantile, $lower, $upper
R_LUNG = {
    "log": ([79, 170, 310, 550, 735], [60, 145, 285, 460, 689], [107, 197, 363, 654, NAN]),
    "log-log": ([79, 170, 310, 550, 735], [54, 144, 284, 457, 687], [105, 194, 361, 643, NAN]),
    "plain": ([79, 170, 310, 550, 735], [60, 145, 284, 457, 655], [107, 197, 361, 643, 883]),
    "logit": ([79, 170, 310, 550, 735], [54, 144, 284, 457, 689], [105, 194, 361, 654, NAN]),
    "arcsin": ([79, 170, 310, 550, 735], [59, 145, 284, 457, 687], [107, 194, 361, 643, NAN]),
}
# The same on survival::aml (both arms, ~ 1).
R_AML = {
    "log": ([8, 12, 27, 43, 48], [5, 8, 18, 31, 43], [18, 30, 48, NAN, NAN]),
    "log-log": ([8, 12, 27, 43, 48], [5, 5, 13, 30, 43], [12, 23, 34, NAN, NAN]),
    "plain": ([8, 12, 27, 43, 48], [5, 8, 18, 30, 34], [13, 27, 34, 48, NAN]),
    "logit": ([8, 12, 27, 43, 48], [5, 5, 13, 30, 43], [12, 23, 43, NAN, NAN]),
    "arcsin": ([8, 12, 27, 43, 48], [5, 8, 13, 30, 43], [12, 23, 34, NAN, NAN]),
}


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize(
    ("data", "reference"),
    [((LUNG["time"], LUNG["status"]), R_LUNG), ((AML_TIME, AML_EVENT), R_AML)],
    ids=["lung", "aml"],
)
def test_quantiles_match_r_quantile_survfit(transform, data, reference):
    got = KaplanMeier().fit(*data).quantile(PROBS, transform=transform)
    expected = np.array(reference[R_CONF_TYPE[transform]], dtype=float).T
    np.testing.assert_array_equal(got[["estimate", "ci_low", "ci_high"]].to_numpy(), expected)
    assert got["quantile"].tolist() == PROBS
    many = km_quantiles(*data, q=PROBS, transform=transform)
    pd.testing.assert_frame_equal(many, got, check_like=False)


def test_print_survfit_and_quantile_survfit_differ_where_the_band_recrosses():
    # On aml (conf.type "log") R's two functions disagree on the median's upper limit:
    # > print(survfit(Surv(time, status) ~ 1, data = aml))   # median 27, LCL 18, UCL 45
    # > quantile(survfit(...), 0.5)                          # 27, lower 18, upper 48
    # The upper curve falls to 0.5 at 45 and rises above it again; print.survfit takes
    # the first crossing, quantile.survfit the time of the smallest 1 - upper >= 0.5.
    km = KaplanMeier().fit(AML_TIME, AML_EVENT)
    assert (km.median_, km.median_ci_) == (27.0, (18.0, 45.0))
    assert km.quantile(0.5).iloc[0, 1:].tolist() == [27.0, 18.0, 48.0]


def test_ties_at_exactly_one_half_follow_each_peer():
    # R 4.2.2, survival 3.5.3. S = 0.5 exactly from t = 2 to the end of follow-up (4):
    # > f1 <- survfit(Surv(c(1, 2, 3, 4), c(1, 1, 0, 0)) ~ 1)
    # > print(f1)               # median 2, 0.95LCL 1, 0.95UCL NA
    # > quantile(f1, 0.5)       # quantile 3 (midpoint of 2 and the last time 4), lower 1
    f1 = KaplanMeier().fit([1, 2, 3, 4], [1, 1, 0, 0])
    assert f1.median_ == 2.0
    assert f1.median_ci_[0] == 1.0
    assert np.isnan(f1.median_ci_[1])
    assert f1.quantile(0.5).iloc[0, 1:3].tolist() == [3.0, 1.0]
    # S = 0.5 exactly between t = 3 and the next event at 4: both give the midpoint.
    # > f2 <- survfit(Surv(1:6, rep(1, 6)) ~ 1)
    # > print(f2)                         # median 3.5, 0.95LCL 2, 0.95UCL NA
    # > quantile(f2, c(0.5, 1/3))         # 3.5 and 2.5; lower 2 and 1; upper NA NA
    f2 = KaplanMeier().fit(np.arange(1.0, 7.0))
    assert (f2.median_, f2.median_ci_[0]) == (3.5, 2.0)
    q = f2.quantile([0.5, 1 / 3])
    assert q["estimate"].tolist() == [3.5, 2.5]
    assert q["ci_low"].tolist() == [2.0, 1.0]
    assert q["ci_high"].isna().all()
    # statsmodels (SAS) reads S < 0.5 strictly: the next event time, no midpoint.
    from statsmodels.duration.survfunc import SurvfuncRight

    for t, e, fitted in (([1, 2, 3, 4], [1, 1, 0, 0], f1), (list(range(1, 7)), [1] * 6, f2)):
        ref = SurvfuncRight(np.array(t, float), np.array(e, float))
        got = fitted.quantile(0.5, convention="statsmodels").iloc[0]
        # statsmodels takes log(0) where the curve reaches 0 (f2): its numpy warning.
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = [ref.quantile(0.5), *ref.quantile_ci(0.5, 0.05, method="log")]
        np.testing.assert_array_equal(got[["estimate", "ci_low", "ci_high"]], expected)


def _simulated_with_ties(seed=3, n=300):
    rng = np.random.default_rng(seed)
    t = rng.lognormal(3.0, 0.8, n)
    c = rng.uniform(0, 80, n)
    # Whole days: many ties, several exactly at the same time as censorings.
    return np.ceil(np.minimum(t, c)), (t <= c).astype(int)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("confidence", [0.95, 0.9])
@pytest.mark.parametrize("data", ["lung", "aml", "simulated"])
def test_statsmodels_convention_matches_survfuncright(transform, confidence, data):
    from statsmodels.duration.survfunc import SurvfuncRight

    t, e = {
        "lung": _lung(),
        "aml": (np.array(AML_TIME, float), np.array(AML_EVENT)),
        "simulated": _simulated_with_ties(),
    }[data]
    sf = SurvfuncRight(t, e.astype(float))
    alpha = 1 - confidence
    expected = np.array(
        [[sf.quantile(p), *sf.quantile_ci(p, alpha=alpha, method=transform)] for p in PROBS],
        dtype=float,
    )
    model = KaplanMeier(confidence=confidence).fit(t, e)
    got = model.quantile(PROBS, transform=transform, convention="statsmodels")
    np.testing.assert_array_equal(got[["estimate", "ci_low", "ci_high"]].to_numpy(), expected)
    many = km_quantiles(
        t, e, q=PROBS, confidence=confidence, transform=transform, convention="statsmodels"
    )
    pd.testing.assert_frame_equal(many, got)


def test_survival_at_matches_r_summary():
    # R 4.2.2, survival 3.5.3:
    # > ss <- summary(survfit(Surv(time, status) ~ 1, data = lung), times = c(100, 200, 365, 500))
    # > cbind(ss$time, ss$n.risk, ss$surv, ss$std.err, ss$lower, ss$upper)
    expected = np.array(
        [
            [100, 196, 0.8639689676, 0.02271023043, 0.8205848921, 0.9096467462],
            [200, 144, 0.6802728622, 0.03113457166, 0.6219071503, 0.7441161705],
            [365, 65, 0.4092416245, 0.03582363817, 0.3447215818, 0.4858376035],
            [500, 41, 0.2932691937, 0.03507781850, 0.2319821383, 0.3707475956],
        ]
    )
    got = KaplanMeier().fit(*_lung()).survival_at([100, 200, 365, 500])
    cols = ["time", "n_at_risk", "survival", "se", "ci_low", "ci_high"]
    np.testing.assert_allclose(got[cols].to_numpy(), expected, rtol=1e-9)
    many = km_survival_at(*_lung(), times=[100, 200, 365, 500])
    pd.testing.assert_frame_equal(many, got, check_exact=False, rtol=1e-12)


def test_survival_at_steps_and_ends():
    km = KaplanMeier().fit([2, 4, 4, 6, 8], [1, 1, 0, 1, 0])
    out = km.survival_at([0, 1.9, 2, 5.5, 8, 100])
    # Right-continuous: S(2) already counts the event at 2; before it S = 1.
    assert out["survival"].round(6).tolist() == [1.0, 1.0, 0.8, 0.6, 0.3, 0.3]
    assert out["n_at_risk"].tolist() == [5.0, 5.0, 5.0, 2.0, 1.0, 0.0]
    assert out.loc[0, ["se", "ci_low", "ci_high"]].tolist() == [0.0, 1.0, 1.0]
    # SLA attainment 1 - S(t) with the interval turned round.
    attained = 1 - out["survival"]
    assert np.all(1 - out["ci_high"] <= attained + 1e-12)
    assert np.all(attained <= 1 - out["ci_low"] + 1e-12)
    # When everyone had the event the curve is 0 and its interval undefined.
    dead = KaplanMeier().fit([1, 2]).survival_at([5])
    assert dead["survival"].iloc[0] == 0.0
    assert dead[["se", "ci_low", "ci_high"]].isna().all(axis=None)


def test_restricted_mean_matches_r_survmean():
    # R 4.2.2, survival 3.5.3 (print(fit, rmean = h) shows the same, rounded):
    # > fit <- survfit(Surv(time, status) ~ 1, data = lung)
    # > summary(fit, rmean = 500)$table[c("rmean", "se(rmean)")]    # 310.3344367 11.2460096
    # > summary(fit, rmean = 1000)$table[c("rmean", "se(rmean)")]   # 375.16714365 19.43885937
    # > print(survfit(Surv(time, status) ~ 1, data = aml), rmean = 40)  # 25.2395 2.6984
    km = KaplanMeier().fit(*_lung())
    got = km.restricted_mean([500, 1000])
    np.testing.assert_allclose(got["estimate"], [310.3344367, 375.16714365], rtol=1e-9)
    np.testing.assert_allclose(got["se"], [11.2460096, 19.43885937], rtol=1e-8)
    z = 1.959963984540054
    np.testing.assert_allclose(got["ci_low"], got["estimate"] - z * got["se"], rtol=1e-12)
    aml = KaplanMeier().fit(AML_TIME, AML_EVENT).restricted_mean(40).iloc[0]
    assert (round(aml["estimate"], 4), round(aml["se"], 4)) == (25.2395, 2.6984)
    many = km_restricted_mean(*_lung(), horizon=500)
    assert many["estimate"].iloc[0] == pytest.approx(310.3344367, rel=1e-9)
    assert not many["beyond_follow_up"].iloc[0]


def test_restricted_mean_is_the_area_under_the_curve():
    # Without censoring the restricted mean is the sample mean of min(T, h), exactly.
    rng = np.random.default_rng(1)
    t = rng.exponential(5.0, 50)
    got = KaplanMeier().fit(t).restricted_mean(4.0)["estimate"].iloc[0]
    assert got == pytest.approx(np.minimum(t, 4.0).mean(), rel=1e-12)
    # Before the first time the area is the horizon itself, with no uncertainty.
    early = KaplanMeier().fit([5.0, 6.0]).restricted_mean(2.0).iloc[0]
    assert (early["estimate"], early["se"]) == (2.0, 0.0)


def test_restricted_mean_after_follow_up_warns_and_flags():
    km = KaplanMeier().fit(AML_TIME, AML_EVENT)
    with pytest.warns(HxWarning, match="after the last time observed"):
        km.restricted_mean(500)
    flagged = km_restricted_mean(AML_TIME, AML_EVENT, horizon=500)
    assert flagged["beyond_follow_up"].iloc[0]
    # A curve that reached 0 is known to stay there: no flag.
    assert not km_restricted_mean([1, 2, 3], horizon=10)["beyond_follow_up"].iloc[0]


@pytest.mark.parametrize("convention", ["survival", "statsmodels"])
def test_groups_equal_one_model_per_group(convention):
    t, e = _simulated_with_ties(seed=5, n=400)
    rng = np.random.default_rng(5)
    team = rng.choice(np.array(["north", "south", "east", "west"]), len(t))
    w = rng.uniform(0.5, 2.0, len(t))
    many = km_quantiles(
        t, e, groups=team, weights=w, q=(0.5, 0.9), transform="cloglog", convention=convention
    )
    at = km_survival_at(t, e, groups=team, weights=w, times=[5, 20, 60])
    rm = km_restricted_mean(t, e, groups=team, weights=w, horizon=30)
    assert many["group"].unique().tolist() == ["east", "north", "south", "west"]
    for name in ["east", "north", "south", "west"]:
        keep = team == name
        model = KaplanMeier().fit(t[keep], e[keep], weights=w[keep])
        one = model.quantile([0.5, 0.9], transform="cloglog", convention=convention)
        got = many[many["group"] == name].drop(columns="group").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, one, check_exact=False, rtol=1e-12)
        got_at = at[at["group"] == name].drop(columns="group").reset_index(drop=True)
        pd.testing.assert_frame_equal(
            got_at, model.survival_at([5, 20, 60]), check_exact=False, rtol=1e-12
        )
        rm_one = model.restricted_mean(30).iloc[0]
        rm_got = rm[rm["group"] == name].iloc[0]
        assert rm_got["estimate"] == pytest.approx(rm_one["estimate"], rel=1e-12)
        assert rm_got["se"] == pytest.approx(rm_one["se"], rel=1e-12)


def test_simulation_intervals_cover_the_true_median_and_the_naive_median_is_biased():
    # Exponential latencies (true median log 2 / rate) and uniform random censoring
    # (about a third censored); 400 replications of 200 tickets, in one grouped call.
    rng = np.random.default_rng(20261206)
    reps, n, rate = 400, 200, 0.1
    truth = np.log(2) / rate
    latency = rng.exponential(1 / rate, (reps, n))
    censor = rng.uniform(0, 25.0, (reps, n))
    t = np.minimum(latency, censor).ravel()
    e = (latency <= censor).ravel()
    rep = np.repeat(np.arange(reps), n)
    for transform in ("log", "cloglog"):
        out = km_quantiles(t, e, groups=rep, q=0.5, transform=transform)
        covered = ((out["ci_low"] <= truth) & (truth <= out["ci_high"])).mean()
        # Monte Carlo error: sd = sqrt(0.95 * 0.05 / 400) = 0.0109; 3 sd either side.
        assert 0.95 - 3 * 0.0109 <= covered <= 0.95 + 3 * 0.0109, (transform, covered)
        # The Kaplan-Meier median is close to unbiased here (within 3%).
        assert abs(out["estimate"].mean() / truth - 1) < 0.03
    # The naive median of the closed tickets only is biased low: the slow ones are
    # the ones still open when the observation window closes.
    naive = np.array([np.median(t[rep == r][e[rep == r]]) for r in range(reps)])
    assert naive.mean() < 0.85 * truth
    assert np.mean(naive < truth) > 0.95


def test_bad_input_raises():
    km = KaplanMeier().fit(AML_TIME, AML_EVENT)
    for q in (0, 1, 1.5, -0.1, [0.5, float("nan")], [], "half"):
        with pytest.raises(ParameterError, match="q must"):
            km.quantile(q)
    with pytest.raises(ParameterError, match="transform"):
        km.quantile(0.5, transform="probit")
    with pytest.raises(ParameterError, match="convention"):
        km.quantile(0.5, convention="sas")
    with pytest.raises(ParameterError, match="times"):
        km.survival_at([-1.0])
    with pytest.raises(ParameterError, match="horizon"):
        km.restricted_mean(float("inf"))
    with pytest.raises(ParameterError, match="one label per duration"):
        km_quantiles([1, 2, 3], groups=["a", "b"])
    with pytest.raises(ParameterError, match="not fitted"):
        KaplanMeier().quantile(0.5)


def test_saved_model_gives_the_same_quantiles():
    import json

    km = KaplanMeier(conf_type="log-log").fit(*_lung())
    back = KaplanMeier.from_dict(json.loads(json.dumps(km.to_dict())))
    pd.testing.assert_frame_equal(back.quantile(PROBS), km.quantile(PROBS))
    assert (back.median_, back.median_ci_) == (km.median_, km.median_ci_)
    pd.testing.assert_frame_equal(back.params_, km.params_)


durations = st.lists(
    st.tuples(st.integers(0, 30).map(float), st.booleans()), min_size=1, max_size=40
)


def _quantiles(t, e, **kw):
    return km_quantiles(t, e, q=(0.25, 0.5, 0.9), **kw)


@settings(max_examples=150, deadline=None)
@given(
    rows=durations, extra=st.integers(0, 5), convention=st.sampled_from(["survival", "statsmodels"])
)
def test_a_censored_observation_at_the_end_never_lowers_a_quantile(rows, extra, convention):
    t = np.array([r[0] for r in rows])
    e = np.array([r[1] for r in rows])
    before = _quantiles(t, e, convention=convention)["estimate"].to_numpy()
    t2 = np.append(t, t.max() + extra)
    after = _quantiles(t2, np.append(e, False), convention=convention)["estimate"].to_numpy()
    reached = ~np.isnan(before)
    # A quantile reached before is reached later or not at all (NaN) after.
    assert np.all(np.isnan(after[reached]) | (after[reached] >= before[reached]))


@settings(max_examples=150, deadline=None)
@given(rows=durations, convention=st.sampled_from(["survival", "statsmodels"]))
def test_quantiles_within_the_observed_times_and_order_free(rows, convention):
    t = np.array([r[0] for r in rows])
    e = np.array([r[1] for r in rows])
    out = _quantiles(t, e, convention=convention)
    est = out["estimate"].dropna()
    assert np.all(est <= t.max())
    assert np.all(est >= t.min())
    # Each quantile is no earlier than the one before it.
    assert np.all(np.diff(out["estimate"].to_numpy()[~out["estimate"].isna()]) >= 0)
    perm = np.random.default_rng(len(t)).permutation(len(t))
    pd.testing.assert_frame_equal(_quantiles(t[perm], e[perm], convention=convention), out)
    # Unit weights are no weights.
    weighted = _quantiles(t, e, weights=np.ones(len(t)), convention=convention)
    pd.testing.assert_frame_equal(weighted, out)
    model = KaplanMeier().fit(t, e).quantile((0.25, 0.5, 0.9), convention=convention)
    pd.testing.assert_frame_equal(model, out)
    # The interval holds the estimate where both exist.
    both = out.dropna()
    assert np.all((both["ci_low"] <= both["estimate"]) & (both["estimate"] <= both["ci_high"]))


def test_many_groups_take_the_vectorised_path_with_the_same_numbers(monkeypatch):
    # Up to tenure._LOOP_GROUPS groups are looped over; beyond, whole-array passes.
    # Both must give the numbers of one model per group, ties at 0.5 included.
    from hxmetrics.measures import tenure

    t, e = _simulated_with_ties(seed=11, n=600)
    groups = np.random.default_rng(11).integers(0, 30, len(t)).astype(str)
    # Two groups with the curve at exactly 0.5 (to the end; then falling further).
    t = np.concatenate([t, [1, 2, 3, 4], np.arange(1.0, 7.0)])
    e = np.concatenate([e, [1, 1, 0, 0], np.ones(6, int)])
    groups = np.concatenate([groups, ["flat"] * 4, ["step"] * 6])
    args = {"q": (0.25, 0.5, 0.9), "transform": "logit"}
    looped = km_quantiles(t, e, groups=groups, **args)
    monkeypatch.setattr(tenure, "_LOOP_GROUPS", 0)
    vectorised = km_quantiles(t, e, groups=groups, **args)
    pd.testing.assert_frame_equal(vectorised, looped)
    flat = looped[looped["group"] == "flat"].set_index("quantile")
    assert flat.loc[0.5, "estimate"] == 3.0  # R's quantile.survfit (see above)
    for name in ["flat", "step", "0", "17"]:
        keep = groups == name
        one = KaplanMeier().fit(t[keep], e[keep]).quantile(**args)
        got = vectorised[vectorised["group"] == name].drop(columns="group")
        pd.testing.assert_frame_equal(got.reset_index(drop=True), one)


# Three of 300 random tied data sets on which R's print.survfit and quantile.survfit
# disagree (R 4.2.2, survival 3.5.3; all 300 x 5 conf.types agree with ours, both
# functions). For each: f <- survfit(Surv(time, status) ~ 1, conf.type = "log");
# summary(f)$table[c("median", "0.95LCL", "0.95UCL")] and quantile(f, 0.5).
R_DISAGREE = [
    (  # the upper curve recrosses 0.5: UCL 29 (print) vs 31 (quantile)
        [22, 28, 15, 29, 16, 29, 18, 3, 4, 37, 25, 23, 31, 11, 15, 17, 26, 21, 11, 21],
        [1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1],
        [22.0, 18.0, 29.0],
        [22.0, 18.0, 31.0],
    ),
    (  # S = 0.5 from 4 to the end (9): 4 (print) vs 6.5 (quantile)
        [5, 2, 4, 9, 3],
        [0, 0, 1, 0, 1],
        [4.0, 3.0, NAN],
        [6.5, 3.0, NAN],
    ),
    ([22, 17], [0, 1], [17.0, 17.0, NAN], [19.5, 17.0, NAN]),
]


@pytest.mark.parametrize(("t", "e", "printed", "quantile"), R_DISAGREE)
def test_print_survfit_and_quantile_survfit_on_random_data(t, e, printed, quantile):
    km = KaplanMeier().fit(t, e)
    np.testing.assert_array_equal([km.median_, *km.median_ci_], printed)
    got = km.quantile(0.5)[["estimate", "ci_low", "ci_high"]].iloc[0].to_numpy()
    np.testing.assert_array_equal(got, quantile)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 25).map(float), st.booleans(), st.floats(0.1, 3.0)),
        min_size=1,
        max_size=60,
    ),
    weighted=st.booleans(),
    transform=st.sampled_from(TRANSFORMS),
    confidence=st.sampled_from([0.6, 0.95, 0.99]),
)
def test_one_curve_shortcuts_equal_the_whole_curve_search(rows, weighted, transform, confidence):
    # One curve computes its interval's curves only where the answer can lie (and the
    # median likewise); many groups search whole curves. Same numbers, ties included.
    from hxmetrics.measures import tenure

    t = np.array([r[0] for r in rows])
    e = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows]) if weighted else None
    qs = [0.1, 0.25, 1 / 3, 0.5, 0.75, 0.9]
    one = KaplanMeier(confidence=confidence).fit(t, e, weights=w).quantile(qs, transform=transform)
    # A second group makes km_quantiles take the whole-curve path for the first.
    many = km_quantiles(
        np.append(t, 1.0),
        np.append(e, True),
        groups=np.append(np.zeros(len(t)), 1),
        weights=None if w is None else np.append(w, 1.0),
        q=qs,
        confidence=confidence,
        transform=transform,
    )
    first = many[many["group"] == 0].drop(columns="group").reset_index(drop=True)
    pd.testing.assert_frame_equal(one, first)
    for conf_type, band_transform in tenure.TRANSFORM_OF_CONF_TYPE.items():
        km = KaplanMeier(confidence=confidence, conf_type=conf_type).fit(t, e, weights=w)
        ev = km._curves.events_only()
        sigma = np.sqrt(ev.var_log)
        low, high = tenure._band(ev.survival, sigma, km._z, band_transform)
        whole = [tenure._minmin(ev.time, c, ev.bounds)[0] for c in (ev.survival, low, high)]
        np.testing.assert_array_equal([km.median_, *km.median_ci_], whole)


def test_a_band_that_rises_again_follows_r():
    # At 99% the log-log lower curve rises between t = 1 (0.24999) and t = 3 (0.25049),
    # so R's rule (the smallest 1 - lower >= q) picks odd rows; ours must too. The one-
    # curve shortcut must search up to where 1 - S passes that value, not stop early.
    # R 4.2.2, survival 3.5.3:
    # > f <- survfit(Surv(c(6, 12, 9, 5, 14, 1, 14, 11, 12, 3),
    # +                   c(1, 0, 1, 0, 0, 1, 1, 1, 1, 1)) ~ 1,
    # +              conf.type = "log-log", conf.int = 0.99)
    # > quantile(f, c(0.1, 0.25, 0.5, 0.75, 0.9))
    # $quantile 2 6 11 14 NA; $lower 3 3 3 1 11; $upper 9 12 NA NA NA
    t = [6, 12, 9, 5, 14, 1, 14, 11, 12, 3]
    e = [1, 0, 1, 0, 0, 1, 1, 1, 1, 1]
    got = KaplanMeier(confidence=0.99).fit(t, e).quantile(PROBS, transform="cloglog")
    expected = [
        [2, 6, 11, 14, NAN],
        [3, 3, 3, 1, 11],
        [9, 12, NAN, NAN, NAN],
    ]
    np.testing.assert_array_equal(got[["estimate", "ci_low", "ci_high"]].to_numpy().T, expected)


def test_no_durations_tell_nothing():
    km = KaplanMeier().fit([], [])
    assert np.isnan(km.median_)
    assert km.quantile([0.5, 0.9])[["estimate", "ci_low", "ci_high"]].isna().all(axis=None)
    assert km.survival_at([1.0])[["survival", "se", "ci_low", "ci_high"]].isna().all(axis=None)
    assert km.restricted_mean(3.0)[["estimate", "se"]].isna().all(axis=None)
    out = km_restricted_mean([], horizon=3.0)
    assert np.isnan(out["estimate"].iloc[0])
    assert not out["beyond_follow_up"].iloc[0]
