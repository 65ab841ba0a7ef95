"""Invariants of the CLV models: gradients, extremes, units, state, weights."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeometric,
    customer_lifetime_value,
    model_from_dict,
)
from hxmetrics.measures.clv.betageo import _bg_loglik
from hxmetrics.measures.clv.bgbb import _bgbb_loglik
from hxmetrics.measures.clv.gamma_gamma import _gg_loglik
from hxmetrics.measures.clv.pareto_nbd import _log_integral, _pnbd_loglik
from hxmetrics.measures.clv.sbg import _sbg_loglik

X = np.array([0.0, 1, 2, 7, 30, 500])
TX = np.array([0.0, 1.7, 30.4, 29.4, 36.0, 900.0])
T = np.array([38.9, 38.9, 38.9, 38.9, 38.9, 1000.0])
W = np.array([3.0, 1, 2, 1, 1, 1])


def _central(f, p):
    out = []
    for j in range(len(p)):
        h = 1e-6 * p[j]
        e = np.zeros(len(p))
        e[j] = h
        out.append((f(p + e) - f(p - e)) / (2 * h))
    return np.array(out)


@pytest.mark.parametrize(
    ("ll", "p"),
    [
        (lambda p: _bg_loglik(p, X, TX, T, W, modified=False), np.array([0.3, 4.0, 0.8, 2.5])),
        (lambda p: _bg_loglik(p, X, TX, T, W, modified=True), np.array([0.3, 4.0, 0.8, 2.5])),
        (lambda p: _pnbd_loglik(p, X, TX, T, W), np.array([0.5, 10.0, 0.6, 12.0])),
        (lambda p: _pnbd_loglik(p, X, TX, T, W), np.array([0.5, 2.0, 0.6, 40.0])),
        (
            lambda p: _bgbb_loglik(
                p,
                np.array([0.0, 1, 3, 6]),
                np.array([0.0, 1, 5, 6]),
                np.array([6.0, 6, 6, 6]),
                np.array([5.0, 1, 2, 3]),
            ),
            np.array([1.2, 0.75, 0.66, 2.8]),
        ),
        (
            lambda p: _gg_loglik(p, np.array([1.0, 2, 10]), np.array([20.0, 35, 12]), np.ones(3)),
            np.array([6.0, 3.7, 15.0]),
        ),
        (
            lambda p: _sbg_loglik(
                p,
                np.array([1.0, 2, 3, 3]),
                np.array([0.0, 0, 0, 1]),
                np.array([300.0, 100, 50, 550]),
            ),
            np.array([0.7, 1.2]),
        ),
    ],
)
def test_analytic_gradient_matches_finite_differences(ll, p):
    _, grad = ll(p)
    np.testing.assert_allclose(grad, _central(lambda q: ll(q)[0], p), rtol=1e-6, atol=1e-6)


def test_pareto_integral_exact_when_rates_equal():
    # alpha = beta: I = [(a+t_x)^-m - (a+T)^-m] / m with m = r+s+x (closed form).
    r, a, s = 0.7, 5.0, 1.3
    m = r + s + X
    exact = -m * np.log(a + TX) + np.log1p(-(((a + TX) / (a + T)) ** m)) - np.log(m)
    got, _ = _log_integral(np.array([r, a, s, a]), X, TX, T, grad=False)
    np.testing.assert_allclose(got, exact, rtol=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W"),
        ModifiedBetaGeo.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614, unit="W"),
        ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="W"),
        BetaGeo.from_params(r=50.0, alpha=1e4, a=200.0, b=900.0, unit="W"),
        ParetoNBD.from_params(r=40.0, alpha=0.01, s=30.0, beta=5e4, unit="W"),
    ],
)
def test_extreme_customers_are_finite(model):
    hist = {
        "frequency": [500, 0, 500, 300],
        "recency": [1000.0, 0.0, 1.0, 2.0],
        "T": [1000.0, 1e4, 1000.0, 1e4],
    }
    p = model.probability_alive(hist)
    e = model.conditional_expected_purchases(hist, 52.0)
    assert np.all(np.isfinite(p))
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.isfinite(e))
    assert np.all(e >= 0)
    assert np.isfinite(model.expected_purchases(1e4))


def test_fit_with_hundreds_of_purchases():
    d = pd.DataFrame(
        {
            "frequency": [500, 300, 0, 2, 0, 1],
            "recency": [999.0, 400, 0, 20, 0, 5],
            "T": [1000.0, 1000, 1000, 30, 40, 50],
        }
    )
    for model in (BetaGeo(), ModifiedBetaGeo(), ParetoNBD()):
        model.fit(d, unit="D")
        assert np.isfinite(model.log_likelihood_)


@given(
    x=st.integers(0, 400),
    frac=st.floats(0, 1),
    big_t=st.floats(0.5, 5000),
)
def test_probability_alive_in_unit_interval(x, frac, big_t):
    hist = {"frequency": [x], "recency": [0.0 if x == 0 else frac * big_t], "T": [big_t]}
    for m in (
        BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W"),
        ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="W"),
    ):
        p = m.probability_alive(hist)[0]
        assert 0.0 <= p <= 1.0
        assert m.conditional_expected_purchases(hist, 10.0)[0] >= 0.0


def test_unit_mismatch_is_an_error(cdnow):
    m = BetaGeo().fit(cdnow)
    assert m.unit_ == "W"
    with pytest.raises(ParameterError, match="never rescaled"):
        m.expected_purchases(30, unit="D")
    days = cdnow.copy()
    days.attrs["hx_unit"] = "D"
    with pytest.raises(ParameterError, match="unit"):
        m.probability_alive(days)
    with pytest.raises(ParameterError, match="never rescaled"):
        customer_lifetime_value(
            cdnow, m, None, horizon=12, unit="M", discount_rate_per_period=0.01, spend=10.0
        )
    with pytest.raises(ParameterError, match="unit"):
        BetaGeo().fit(cdnow, unit="D")
    bare = pd.DataFrame(
        cdnow[["frequency", "recency", "T"]].to_numpy(), columns=["frequency", "recency", "T"]
    )
    with pytest.raises(ParameterError, match="needs the time unit"):
        BetaGeo().fit(bare)


def test_bad_histories_are_rejected():
    with pytest.raises(InputTableError, match="recency > T"):
        BetaGeo().fit({"frequency": [1, 2], "recency": [5.0, 3.0], "T": [4.0, 9.0]}, unit="W")
    with pytest.raises(InputTableError, match="not found"):
        BetaGeo().fit({"freq": [1]}, unit="W")


def test_json_round_trip(cdnow, donations):
    models = [
        BetaGeo().fit(cdnow),
        ParetoNBD().fit(cdnow),
        GammaGamma().fit(cdnow),
        BetaGeoBetaBinom().fit(donations, weights="weights", unit="Y"),
        ShiftedBetaGeometric().fit(
            pd.DataFrame({"period": range(4), "survivors": [100, 70, 55, 48]}), unit="M"
        ),
    ]
    for m in models:
        back = model_from_dict(json.loads(json.dumps(m.to_dict())))
        assert type(back) is type(m)
        assert back.params_ == m.params_
        assert back.unit_ == m.unit_
        pd.testing.assert_frame_equal(back.summary(), m.summary())


def test_collapsed_weights_equal_expanded_rows(cdnow):
    hist = cdnow[["frequency", "recency", "T"]]
    counts = hist.value_counts().rename("w").reset_index()
    a = BetaGeo().fit(hist, unit="W")
    b = BetaGeo().fit(counts, weights="w", unit="W")
    shuffled = BetaGeo().fit(hist.sample(frac=1.0, random_state=3), unit="W")
    for k in a.params_:
        assert b.params_[k] == pytest.approx(a.params_[k], rel=1e-6)
        assert shuffled.params_[k] == pytest.approx(a.params_[k], rel=1e-6)
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=1e-10)


def test_l2_penalty_shrinks_log_parameters(cdnow):
    free = BetaGeo().fit(cdnow)
    pen = BetaGeo(l2=0.1).fit(cdnow)

    def norm(m: BetaGeo) -> float:
        return float(sum(np.log(v) ** 2 for v in m.params_.values()))

    assert norm(pen) < norm(free)


@pytest.mark.parametrize(
    "model",
    [
        BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W"),
        ModifiedBetaGeo.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614, unit="W"),
        ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="W"),
    ],
)
def test_pmf_sums_to_one_and_has_the_closed_form_mean(model):
    n = np.arange(0, 400)
    pmf = model.probability_of_purchases(n, 39.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert (n * pmf).sum() == pytest.approx(float(model.expected_purchases(39.0)), rel=1e-5)


def test_bgbb_pmf_and_mean():
    m = BetaGeoBetaBinom.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783, unit="Y")
    x = np.arange(0, 7)
    pmf = m.probability_of_purchases(x, 6)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert (x * pmf).sum() == pytest.approx(float(m.expected_purchases(6)), rel=1e-10)


def test_clv_discounting_and_spend(cdnow):
    bg = BetaGeo().fit(cdnow)
    gg = GammaGamma().fit(cdnow)
    plain = customer_lifetime_value(
        cdnow.head(50), bg, gg, horizon=52, unit="W", discount_rate_per_period=0.0
    )
    np.testing.assert_allclose(plain["clv"], plain["expected_purchases"] * plain["expected_spend"])
    disc = customer_lifetime_value(
        cdnow.head(50), bg, gg, horizon=52, unit="W", discount_rate_per_period=0.01, margin=0.3
    )
    assert np.all(disc["clv"].to_numpy() < 0.3 * plain["clv"].to_numpy() + 1e-12)


def test_sbg_discounted_payments_series():
    m = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182, unit="Y")
    k = np.arange(0, 3000)
    direct = (m.survival(k) / (1.1**k)).sum()
    assert m.discounted_expected_payments(discount_rate_per_period=0.1) == pytest.approx(
        direct, rel=1e-10
    )


@pytest.mark.parametrize("kind", ["bg", "mbg", "pnbd", "bgbb"])
def test_clv_on_distinct_histories_is_bit_identical(kind, cdnow, donations):
    # customer_lifetime_value evaluates the horizons once per distinct history and
    # expands: every number must equal the per-customer evaluation exactly.
    if kind == "bgbb":
        # One row per donor (the file holds distinct histories with weights).
        data = donations.loc[donations.index.repeat(3)].reset_index(drop=True)
        model = BetaGeoBetaBinom().fit(donations, weights="weights", unit="Y")
        cols = {"n_periods": "n_periods"}
        result = customer_lifetime_value(
            data, model, None, horizon=6, unit="Y", discount_rate_per_period=0.05, spend=25.0
        )
    else:
        data = pd.concat([cdnow, cdnow.head(300)], ignore_index=True)
        data.attrs.update(cdnow.attrs)
        model = {"bg": BetaGeo, "mbg": ModifiedBetaGeo, "pnbd": ParetoNBD}[kind]().fit(cdnow)
        cols = {"T": "T"}
        gg = GammaGamma().fit(cdnow)
        result = customer_lifetime_value(
            data, model, gg, horizon=13, unit="W", discount_rate_per_period=0.01
        )
    horizon = result.attrs["hxmetrics"]["horizon"]
    direct = np.stack(
        [model.conditional_expected_purchases(data, float(k), **cols) for k in range(horizon + 1)],
        axis=1,
    )
    np.testing.assert_array_equal(result["expected_purchases"].to_numpy(), direct[:, -1])
    discount = (1.0 + result.attrs["hxmetrics"]["discount_rate_per_period"]) ** -np.arange(
        1.0, horizon + 1
    )
    clv = (
        result.attrs["hxmetrics"]["margin"]
        * result["expected_spend"].to_numpy()
        * (np.diff(direct, axis=1) @ discount)
    )
    np.testing.assert_array_equal(result["clv"].to_numpy(), clv)
