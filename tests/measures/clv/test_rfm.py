"""rfm_summary: hand-checked values, engines, holdout, units, no silent drops."""

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.clv import BetaGeo, rfm_summary
from hxmetrics.measures.clv.plotting import (
    calibration_holdout_table,
    cumulative_purchases_table,
    plot_calibration_holdout,
    plot_cumulative_purchases,
    plot_frequency_recency,
)
from hxmetrics.plotting import new_figure

TX = pd.DataFrame(
    {
        "id": ["a", "a", "a", "a", "b", "c", "c"],
        "ts": pd.to_datetime(
            [
                "2024-01-01 09:00",
                "2024-01-01 17:00",
                "2024-01-03 00:00",
                "2024-01-20 00:00",
                "2024-01-10 00:00",
                "2024-01-02 00:00",
                "2024-02-20 00:00",
            ]
        ),
        "value": [10.0, 5.0, 6.0, 20.0, 7.0, 3.0, 9.0],
    }
)


def test_hand_checked_days():
    out = rfm_summary(
        TX, customer="id", time="ts", amount="value", observation_end="2024-01-31", unit="D"
    ).drop(columns="id")
    # a: days 1, 3, 20 (two purchases on Jan 1 count once, amounts added):
    # frequency 2, recency 19, T 30, repeat mean (6 + 20) / 2 = 13.
    assert out.loc["a"].tolist() == [2, 19, 30, 13.0]
    assert out.loc["b"].tolist() == [0, 0, 21, 0.0]
    # c's Feb purchase is after observation_end: excluded and counted.
    assert out.loc["c"].tolist() == [0, 0, 29, 0.0]
    assert out.attrs["excluded"]["transactions_after_observation_end"] == 1
    assert out.attrs["hx_unit"] == "D"


def test_weeks_are_iso_weeks():
    out = rfm_summary(TX, customer="id", time="ts", observation_end="2024-01-31", unit="W")
    out = out.drop(columns="id")
    # 2024-01-01 is a Monday: Jan 1 and 3 share a week, Jan 20 (Sat) is 2 weeks later.
    assert out.loc["a"].tolist() == [1, 2, 4]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_same_result_on_every_engine(engine):
    native = pl.from_pandas(TX) if engine == "polars" else duckdb.sql("select * from TX")
    kwargs = dict(
        customer="id",
        time="ts",
        amount="value",
        observation_end="2024-03-31",
        unit="D",
        calibration_end="2024-01-05",
    )
    pd.testing.assert_frame_equal(rfm_summary(native, **kwargs), rfm_summary(TX, **kwargs))


def test_holdout_split():
    out = rfm_summary(
        TX,
        customer="id",
        time="ts",
        amount="value",
        observation_end="2024-03-31",
        unit="D",
        calibration_end="2024-01-05",
    )
    # Calibration cohort: a and c (b first buys after Jan 5: counted, not kept).
    assert list(out.index) == ["a", "c"]
    assert out.attrs["excluded"]["customers_first_purchase_after_calibration_end"] == 1
    assert out.loc["a", ["frequency", "recency", "T", "frequency_holdout"]].tolist() == [1, 2, 4, 1]
    assert out.loc["c", "monetary_value_holdout"] == 9.0
    assert (out["duration_holdout"] == 86).all()


def test_missing_values_raise():
    bad = TX.copy()
    bad.loc[2, "ts"] = pd.NaT
    with pytest.raises(InputTableError, match="missing"):
        rfm_summary(bad, customer="id", time="ts", observation_end="2024-01-31")
    with pytest.raises(InputTableError, match="datetime"):
        rfm_summary(
            TX.assign(ts=TX.ts.astype(str)), customer="id", time="ts", observation_end="2024-01-31"
        )
    with pytest.raises(ParameterError, match="unit"):
        rfm_summary(TX, customer="id", time="ts", observation_end="2024-01-31", unit="week")


def test_simulated_log_fits_and_plots():
    rng = np.random.default_rng(5)
    n = 400
    first = pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    counts = rng.poisson(4, n)
    ids = np.repeat(np.arange(n), counts + 1)
    offsets = np.concatenate([np.r_[0, np.sort(rng.integers(0, 500, c))] for c in counts])
    tx = pd.DataFrame({"id": ids, "ts": first[ids] + pd.to_timedelta(offsets, unit="D")})
    rfm = rfm_summary(
        tx,
        customer="id",
        time="ts",
        observation_end="2024-06-30",
        unit="W",
        calibration_end="2023-12-31",
    )
    model = BetaGeo().fit(rfm)
    table = calibration_holdout_table(rfm, model)
    assert table["n"].sum() == len(rfm)
    for draw in (
        lambda ax: plot_calibration_holdout(rfm, model, ax=ax),
        lambda ax: plot_frequency_recency(model, T=52, max_frequency=10, ax=ax),
        lambda ax: plot_frequency_recency(
            model, T=52, max_frequency=10, kind="expected_purchases", horizon=4, ax=ax
        ),
        lambda ax: plot_cumulative_purchases(
            tx,
            model,
            customer="id",
            time="ts",
            observation_end="2024-06-30",
            calibration_end="2023-12-31",
            ax=ax,
        ),
    ):
        _fig, ax = new_figure()
        assert draw(ax) is ax


def test_diagnostics_take_the_data_first_and_the_old_order_warns():
    rfm = rfm_summary(
        TX,
        customer="id",
        time="ts",
        observation_end="2024-03-31",
        unit="D",
        calibration_end="2024-01-05",
    )
    model = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="D")
    new = calibration_holdout_table(rfm, model)
    with pytest.warns(DeprecationWarning, match="data comes first"):
        old = calibration_holdout_table(model, rfm)  # type: ignore[arg-type]  # old order
    pd.testing.assert_frame_equal(old, new)
    kwargs = {"customer": "id", "time": "ts", "observation_end": "2024-03-31"}
    with pytest.warns(DeprecationWarning, match="data comes first"):
        # type: ignore: the old argument order on purpose (model first)
        old = cumulative_purchases_table(model, TX, **kwargs)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(old, cumulative_purchases_table(TX, model, **kwargs))
    _fig, ax = new_figure()
    with pytest.warns(DeprecationWarning, match="data comes first"):
        # type: ignore: the old argument order on purpose (model first)
        assert plot_calibration_holdout(model, rfm, ax=ax) is ax  # type: ignore[arg-type]


def test_text_ids_on_pandas_grouped_as_codes_give_every_engines_table():
    # On pandas the text ids are factorised once and grouped as integer codes (one
    # hashing of the text instead of two); the table must be the one every engine
    # gives: the same ids (dtype str), rows in code-point order, the same numbers, a
    # customer whose only purchase is after observation_end counted and not kept.
    ids = ["é", "B", "", "a ", "a", "Z", "B", "a", "é", "late"]
    tx = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="str"),
            "ts": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                    "2024-01-05",
                    "2024-01-06",
                    "2024-01-20",
                    "2024-01-25",
                    "2024-01-29",
                    "2024-02-15",
                ]
            ),
            "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.5, 8.25, 9.0, 10.0],
        }
    )
    kwargs = dict(customer="id", time="ts", amount="value", observation_end="2024-01-31", unit="W")
    out = rfm_summary(tx, **kwargs)
    assert out["id"].tolist() == ["", "B", "Z", "a", "a ", "é"]
    assert out["id"].dtype == pd.Series([], dtype="str").dtype
    assert out.attrs["excluded"]["transactions_after_observation_end"] == 1
    # B: weeks 0 and 2 (Jan 2, Jan 20): one repeat of 7.50; é: weeks 0 and 4.
    assert out.loc["B", ["frequency", "recency", "T", "monetary_value"]].tolist() == [1, 2, 4, 7.5]
    assert out.loc["é", ["frequency", "recency", "monetary_value"]].tolist() == [1, 4, 9.0]
    for native in (pl.from_pandas(tx).lazy(), duckdb.sql("select * from tx")):
        pd.testing.assert_frame_equal(rfm_summary(native, **kwargs), out)
    # Categories take the plain path (no codes): the same numbers.
    as_category = rfm_summary(tx.astype({"id": "category"}), **kwargs)
    np.testing.assert_array_equal(as_category["id"].astype(str), out["id"].astype(str))
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_array_equal(as_category[column].to_numpy(), out[column].to_numpy())


def test_a_missing_text_id_on_pandas_names_its_row_not_an_id():
    bad = TX.copy()
    bad.loc[3, "id"] = None
    with pytest.raises(InputTableError, match="row 3: missing id") as info:
        rfm_summary(bad, customer="id", time="ts", amount="value", observation_end="2024-03-31")
    assert "'a'" not in str(info.value)
    assert info.value.failure_cases["index"].tolist() == [3]
