"""Issue 11: one vocabulary and one model protocol in CLV (data first, explicit rates)."""

import json

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from hxmetrics.errors import ParameterError
from hxmetrics.measures.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeometric,
    customer_lifetime_value,
    model_from_dict,
    rfm_summary,
)
from hxmetrics.plotting import new_figure

from ..conftest import SPARK_PANDAS_WARNING

SURVIVORS = pd.DataFrame(
    {"period": range(8), "survivors": [1000, 631, 468, 382, 326, 289, 262, 241]}
)


@pytest.fixture(scope="module")
def fitted(cdnow, donations):
    return [
        BetaGeo().fit(cdnow),
        ModifiedBetaGeo().fit(cdnow),
        ParetoNBD().fit(cdnow),
        GammaGamma().fit(cdnow),
        BetaGeoBetaBinom().fit(donations, weights="weights", unit="Y"),
        ShiftedBetaGeometric().fit(SURVIVORS, unit="Y"),
    ]


# ------------------------------------------------------------- data first


def test_customer_lifetime_value_takes_the_data_first(cdnow):
    # Found: customer_lifetime_value took the data third.
    bg, gg = BetaGeo().fit(cdnow), GammaGamma().fit(cdnow)
    data = cdnow.head(40)
    new = customer_lifetime_value(
        data, bg, gg, horizon=26, unit="W", discount_rate_per_period=0.002
    )
    keywords = customer_lifetime_value(
        data,
        transaction_model=bg,
        spend_model=gg,
        horizon=26,
        unit="W",
        discount_rate_per_period=0.002,
    )
    pd.testing.assert_frame_equal(new, keywords)
    # The old order works for one release, with a warning, and gives the same result.
    with pytest.warns(DeprecationWarning, match="data comes first"):
        old = customer_lifetime_value(
            bg, gg, data, horizon=26, unit="W", discount_rate_per_period=0.002
        )
    pd.testing.assert_frame_equal(old, new)
    with pytest.warns(DeprecationWarning, match="data comes first"):
        old_spend = customer_lifetime_value(
            bg, None, data, horizon=26, unit="W", discount_rate_per_period=0.002, spend=10.0
        )
    pd.testing.assert_frame_equal(
        old_spend,
        customer_lifetime_value(
            data, bg, horizon=26, unit="W", discount_rate_per_period=0.002, spend=10.0
        ),
    )
    with pytest.raises(ParameterError, match="transaction_model"):
        customer_lifetime_value(data, horizon=26, unit="W", discount_rate_per_period=0.0)


# ------------------------------------------------- discount rate and its period


def test_discount_rate_says_its_period(cdnow):
    # Found: discount_rate was per model period with nothing saying so (0.1 with
    # weekly data was 10% a week). An annual rate is converted; the output records
    # the rate, its period and the same rate per year.
    bg, gg = BetaGeo().fit(cdnow), GammaGamma().fit(cdnow)
    data = cdnow.head(60)
    annual = customer_lifetime_value(data, bg, gg, horizon=52, unit="W", annual_discount_rate=0.1)
    weekly = 1.1 ** (7 / 365.25) - 1
    per_period = customer_lifetime_value(
        data, bg, gg, horizon=52, unit="W", discount_rate_per_period=weekly
    )
    np.testing.assert_allclose(annual["clv"], per_period["clv"], rtol=1e-12)
    meta = annual.attrs["hxmetrics"]
    assert meta["measure"] == "customer_lifetime_value"
    assert meta["discount_period"] == "W"
    assert meta["discount_rate_per_period"] == pytest.approx(weekly, rel=1e-12)
    assert meta["annual_discount_rate"] == pytest.approx(0.1, rel=1e-12)
    assert per_period.attrs["hxmetrics"]["annual_discount_rate"] == pytest.approx(0.1)
    # A year of weekly discounting at 10% a year costs about 5% of the value, not
    # the 99% that 10% a week would.
    undiscounted = customer_lifetime_value(
        data, bg, gg, horizon=52, unit="W", annual_discount_rate=0.0
    )
    ratio = annual["clv"].sum() / undiscounted["clv"].sum()
    assert 0.93 < ratio < 0.97


def test_old_discount_rate_warns_and_means_per_period(cdnow):
    bg, gg = BetaGeo().fit(cdnow), GammaGamma().fit(cdnow)
    data = cdnow.head(30)
    with pytest.warns(DeprecationWarning, match="discount_rate_per_period"):
        old = customer_lifetime_value(data, bg, gg, horizon=12, unit="W", discount_rate=0.01)
    new = customer_lifetime_value(data, bg, gg, horizon=12, unit="W", discount_rate_per_period=0.01)
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(ParameterError, match="exactly one discount rate"):
        customer_lifetime_value(data, bg, gg, horizon=12, unit="W")
    with pytest.raises(ParameterError, match="exactly one discount rate"):
        customer_lifetime_value(
            data,
            bg,
            gg,
            horizon=12,
            unit="W",
            annual_discount_rate=0.1,
            discount_rate_per_period=0.01,
        )
    with pytest.raises(ParameterError, match="annual_discount_rate must be"):
        customer_lifetime_value(data, bg, gg, horizon=12, unit="W", annual_discount_rate=-0.1)


def test_sbg_discount_rate_says_its_period():
    m = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182, unit="M")
    monthly = 1.1 ** (1 / 12) - 1
    assert m.discounted_expected_payments(annual_discount_rate=0.1) == pytest.approx(
        m.discounted_expected_payments(discount_rate_per_period=monthly), rel=1e-12
    )
    with pytest.warns(DeprecationWarning, match="discount_rate"):
        old = m.customer_lifetime_value(value_per_period=10.0, discount_rate=0.01)
    assert old == pytest.approx(
        m.customer_lifetime_value(value_per_period=10.0, discount_rate_per_period=0.01)
    )
    with pytest.raises(ParameterError, match="> 0"):
        m.discounted_expected_payments(annual_discount_rate=0.0)
    with pytest.warns(DeprecationWarning, match="discount_rate"):
        old_payments = m.discounted_expected_payments(discount_rate=0.02)
    assert old_payments == m.discounted_expected_payments(discount_rate_per_period=0.02)


# ------------------------------------------- rfm_summary: the id, one order


def _shuffled_log():
    rng = np.random.default_rng(3)
    ids = np.array(["c", "a", "B", "b", "10", "9", "ä"])
    n = 60
    tx = pd.DataFrame(
        {
            "id": rng.choice(ids, n),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 80, n), unit="D"),
            "value": rng.uniform(1, 50, n).round(2),
        }
    )
    return tx


@pytest.mark.parametrize("kind", ["text", "int", "category"])
def test_rfm_summary_carries_the_customer_id_sorted_on_every_engine(kind):
    # Found: a job's rfm_summary output had no customer id and its row order
    # depended on the engine, so it could not be joined to anything.
    tx = _shuffled_log()
    if kind == "int":
        tx["id"] = tx["id"].map({k: i for i, k in enumerate(sorted(tx["id"].unique()))}) * 7 % 11
    elif kind == "category":
        tx["id"] = (
            tx["id"]
            .astype("category")
            .cat.reorder_categories(sorted(tx["id"].unique(), reverse=True))
        )
    kwargs = {
        "customer": "id",
        "time": "ts",
        "amount": "value",
        "observation_end": "2024-03-31",
        "unit": "W",
    }
    out = rfm_summary(tx, **kwargs)
    assert out.columns[0] == "id"
    expected = sorted(tx["id"].astype(object).unique())
    assert out["id"].tolist() == expected
    # Written without the index (as a job writes it), the id is still there.
    assert out.reset_index(drop=True)["id"].tolist() == expected
    assert out.attrs["hxmetrics"]["customer"] == "id"
    plain = tx.assign(id=tx["id"].astype(object)) if kind == "category" else tx
    for native in (pl.from_pandas(plain), duckdb.from_df(plain)):
        other = rfm_summary(native, **kwargs)
        assert other["id"].tolist() == expected
        pd.testing.assert_frame_equal(
            other.drop(columns="id").reset_index(drop=True),
            out.drop(columns="id").reset_index(drop=True),
        )


def test_rfm_rows_keep_an_id_lookup_and_feed_the_models():
    tx = _shuffled_log()
    rfm = rfm_summary(tx, customer="id", time="ts", amount="value", observation_end="2024-03-31")
    assert rfm.loc["a", "id"] == "a"
    assert rfm.index.name is None  # the id column alone is "id": no ambiguity
    assert rfm.reset_index(drop=True).groupby("id").size().eq(1).all()
    bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W")
    value = customer_lifetime_value(rfm, bg, horizon=4, unit="W", annual_discount_rate=0.1, spend=5)
    # The value carries the id too: it joins to the customers.
    assert value["id"].tolist() == rfm["id"].tolist()
    assert list(value.index) == list(rfm.index)


# --------------------------------------------------------- model protocol


def test_every_model_follows_the_protocol(fitted):
    for model in fitted:
        assert isinstance(model.params_, dict)
        summary = model.summary()
        assert list(summary.columns) == ["parameter", "estimate", "se", "ci_low", "ci_high"]
        assert summary.attrs["hxmetrics"]["model"] == type(model).__name__
        assert summary.attrs["hxmetrics"]["unit"] == model.unit_
        html = model._repr_html_()
        assert type(model).__name__ in html
        assert "log-likelihood" in repr(model)
        _fig, ax = new_figure()
        assert model.plot(ax=ax) is ax
        assert len(ax.lines) == 1
        assert np.all(np.isfinite(ax.lines[0].get_ydata()))
        with pytest.raises(TypeError):
            model.plot(ax)  # ax is keyword-only
        state = json.loads(json.dumps(model.to_dict(), allow_nan=False))
        back = model_from_dict(state)
        pd.testing.assert_frame_equal(back.summary(), summary)
        assert back.fit_info_ == model.fit_info_


def test_fit_returns_the_model(cdnow, donations):
    for model, data, kwargs in (
        (BetaGeo(), cdnow, {}),
        (ParetoNBD(), cdnow, {}),
        (GammaGamma(), cdnow, {}),
        (BetaGeoBetaBinom(), donations, {"weights": "weights", "unit": "Y"}),
        (ShiftedBetaGeometric(), SURVIVORS, {"unit": "Y"}),
    ):
        assert model.fit(data, **kwargs) is model


def test_models_with_given_parameters_display_and_plot():
    # Found: repr() of a model made with from_params raised (n and the
    # log-likelihood are unknown).
    models = [
        BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="W"),
        GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44),
        ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182, unit="Y"),
    ]
    for model in models:
        assert "parameters given" in repr(model)
        assert "parameters given" in model._repr_html_()
        assert model.plot(horizon=20).get_xlim()[1] >= 19
    assert "not fitted" in repr(BetaGeo())
    with pytest.raises(ParameterError, match="not fitted"):
        BetaGeo().plot()
    with pytest.raises(ParameterError, match="horizon"):
        models[0].plot(horizon=-1)


@pytest.mark.spark
# pyspark's own notice that it does not fully support pandas 3 (see conftest).
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_rfm_summary_on_spark_is_the_pandas_result(spark):
    # rfm_summary failed on Spark (a sum of booleans; no duration arithmetic on
    # timestamps): periods are counted from calendar fields there, the same numbers.
    tx = _shuffled_log()
    tx["ts"] = tx["ts"] + pd.to_timedelta(np.arange(len(tx)) * 7919, unit="s")
    native = spark.createDataFrame(tx)
    for unit in ("h", "D", "W", "M", "Q"):
        kwargs = {
            "customer": "id",
            "time": "ts",
            "amount": "value",
            "observation_end": "2024-03-31",
            "calibration_end": "2024-02-15",
            "unit": unit,
        }
        pd.testing.assert_frame_equal(rfm_summary(native, **kwargs), rfm_summary(tx, **kwargs))
