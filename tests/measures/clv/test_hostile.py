"""Hostile and careless inputs to the CLV pieces (issue 10).

Each test reproduces one finding of issue 10: amounts of 1e308 gave inf with only a
RuntimeWarning, tz-aware times a pandas traceback, a ``calibration_end`` inside a
period lost transactions silently, and BG/NBD on data without repeat purchases (or
without observation time) returned parameters near 1e13 with NaN standard errors.
"""

import numpy as np
import pandas as pd
import polars as pl
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    rfm_summary,
)

TX = pd.DataFrame(
    {
        "id": ["a", "a", "a", "b", "c", "c"],
        "ts": pd.to_datetime(
            [
                "2024-01-01 09:00",
                "2024-01-09 10:00",
                "2024-01-30 10:00",
                "2024-01-03 00:00",
                "2024-01-02 00:00",
                "2024-01-17 00:00",
            ]
        ),
        "value": [10.0, 5.0, 6.0, 20.0, 7.0, 3.0],
    }
)

# ------------------------------------------------------------------ huge amounts


def test_rfm_amounts_whose_sum_overflows_name_the_column_and_rows() -> None:
    # Before: monetary_value inf with "RuntimeWarning: overflow encountered in reduceat".
    tx = TX.copy()
    tx.loc[[0, 1], "value"] = 1e308
    with pytest.raises(InputTableError, match=r"'value'.*finite_total.*row 0.*row 1") as err:
        rfm_summary(tx, customer="id", time="ts", amount="value", observation_end="2024-02-04")
    assert set(err.value.failure_cases["index"]) == {0, 1}


def test_rfm_amounts_overflowing_on_polars_are_refused_too() -> None:
    tx = TX.copy()
    tx.loc[[0, 1], "value"] = 1e308
    with pytest.raises(InputTableError, match="finite_total"):
        rfm_summary(
            pl.from_pandas(tx),
            customer="id",
            time="ts",
            amount="value",
            observation_end="2024-02-04",
        )


def test_gamma_gamma_refuses_spend_whose_total_overflows() -> None:
    # Before: "RuntimeWarning: overflow encountered in multiply" and a meaningless fit.
    spend = pd.DataFrame({"frequency": [1, 2, 3, 1], "monetary_value": [2.0, 1e308, 5.0, 3.0]})
    with pytest.raises(InputTableError, match=r"monetary_value.*row 1") as err:
        GammaGamma().fit(spend)
    assert list(err.value.failure_cases["index"]) == [1]


# ------------------------------------------------------------------- time zones


def test_rfm_tz_aware_times_count_local_calendar_periods() -> None:
    # Before: "TypeError: Cannot subtract tz-naive and tz-aware datetime-like objects".
    # 23:30 in Berlin on Sunday 7 January is still in the ISO week of Monday 1 January
    # (in UTC, 22:30, too); 00:30 on Monday 8 January in Berlin is the next week
    # (23:30 on Sunday in UTC): periods are the calendar periods of the local time.
    tx = pd.DataFrame(
        {
            "id": ["a", "a", "a"],
            "ts": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-07 23:30", "2024-01-08 00:30"]
            ).tz_localize("Europe/Berlin"),
        }
    )
    out = rfm_summary(tx, customer="id", time="ts", observation_end="2024-01-31", unit="W")
    assert out.loc["a", ["frequency", "recency", "T"]].tolist() == [1, 1, 4]
    assert out.attrs["hxmetrics"]["time_zone"] == "Europe/Berlin"
    # A tz-aware end is converted to the column's zone first: the same result.
    end = pd.Timestamp("2024-01-31", tz="Europe/Berlin").tz_convert("UTC")
    same = rfm_summary(tx, customer="id", time="ts", observation_end=end, unit="W")
    pd.testing.assert_frame_equal(same, out)


def test_rfm_tz_aware_end_with_naive_times_is_a_named_error() -> None:
    with pytest.raises(ParameterError, match="time zone"):
        rfm_summary(
            TX,
            customer="id",
            time="ts",
            observation_end=pd.Timestamp("2024-02-04", tz="UTC"),
        )


# ------------------------------------------------------------ nothing is lost


def test_calibration_end_inside_a_period_loses_no_transaction() -> None:
    # Calibration ends on Wednesday 10 January (ISO week 2). a's purchase on Tuesday
    # 9 January is in the calibration; c's on Wednesday 17 January is in the holdout;
    # a purchase on Thursday 11 January (week 2, after the end) is in neither: it
    # was lost silently before. Now it is counted with its reason.
    tx = pd.concat(
        [TX, pd.DataFrame({"id": ["b"], "ts": [pd.Timestamp("2024-01-11")], "value": [4.0]})],
        ignore_index=True,
    )
    out = rfm_summary(
        tx,
        customer="id",
        time="ts",
        amount="value",
        observation_end="2024-02-04",
        calibration_end="2024-01-10",
        unit="W",
    )
    excluded = out.attrs["hxmetrics"]["excluded"]
    assert excluded["transactions_after_calibration_end_in_its_period"] == 1
    # One purchase per period here, so purchases = frequency + 1 and holdout periods.
    n_cal = int((out["frequency"] + 1).sum())
    n_hold = int(out["frequency_holdout"].sum())
    n_excluded = sum(v for k, v in excluded.items() if k.startswith("transactions"))
    assert n_cal + n_hold + n_excluded == len(tx)
    assert out.attrs["excluded"] == excluded  # the older key holds the same counts


def test_transactions_of_customers_joining_after_calibration_are_counted() -> None:
    tx = pd.concat(
        [
            TX,
            pd.DataFrame(
                {
                    "id": ["d", "d"],
                    "ts": pd.to_datetime(["2024-01-22", "2024-01-29"]),
                    "value": [1.0, 2.0],
                }
            ),
        ],
        ignore_index=True,
    )
    out = rfm_summary(
        tx,
        customer="id",
        time="ts",
        observation_end="2024-02-04",
        calibration_end="2024-01-14",
        unit="W",
    )
    excluded = out.attrs["hxmetrics"]["excluded"]
    assert excluded["customers_first_purchase_after_calibration_end"] == 1
    assert excluded["transactions_of_customers_first_purchase_after_calibration_end"] == 2
    n_cal = int((out["frequency"] + 1).sum())
    n_hold = int(out["frequency_holdout"].sum())
    n_excluded = sum(v for k, v in excluded.items() if k.startswith("transactions"))
    assert n_cal + n_hold + n_excluded == len(tx)


def test_rows_after_observation_end_are_in_the_result_metadata() -> None:
    out = rfm_summary(TX, customer="id", time="ts", observation_end="2024-01-20", unit="W")
    # a's purchase on 30 January is after the end: counted where a job's manifest reads.
    assert out.attrs["hxmetrics"]["excluded"] == {"transactions_after_observation_end": 1}
    assert int((out["frequency"] + 1).sum()) + 1 == len(TX)


# -------------------------------------------------------------- identifiability

REPEAT_MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD]


@pytest.mark.parametrize("model", REPEAT_MODELS)
def test_no_repeat_purchases_cannot_identify_the_model(model) -> None:
    # Before: alpha ~ 1e13, a ~ 1e-13 and NaN standard errors, no error.
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {"frequency": 0, "recency": 0.0, "T": rng.integers(1, 30, 50).astype(float)}
    )
    with pytest.raises(ParameterError, match=r"no repeat purchase.*50 customers"):
        model().fit(data, unit="W")


@pytest.mark.parametrize("model", REPEAT_MODELS)
def test_zero_observation_time_cannot_identify_the_model(model) -> None:
    data = pd.DataFrame({"frequency": np.zeros(40, int), "recency": 0.0, "T": 0.0})
    with pytest.raises(ParameterError, match=r"observation time.*T = 0.*40 customers"):
        model().fit(data, unit="W")


@pytest.mark.parametrize("model", REPEAT_MODELS)
def test_zero_weight_repeaters_do_not_identify_the_model(model) -> None:
    data = pd.DataFrame(
        {"frequency": [0, 0, 3], "recency": [0.0, 0.0, 5.0], "T": [10.0, 8.0, 9.0], "w": [5, 2, 0]}
    )
    with pytest.raises(ParameterError, match="no repeat purchase"):
        model().fit(data, weights="w", unit="W")


def test_bgbb_without_repeat_transactions_cannot_be_identified() -> None:
    data = pd.DataFrame({"frequency": 0, "recency": 0, "n_periods": np.full(30, 5)})
    with pytest.raises(ParameterError, match=r"no repeat.*30 customers"):
        BetaGeoBetaBinom().fit(data, unit="Y")
    opportunities = pd.DataFrame({"frequency": 0, "recency": 0, "n_periods": np.zeros(30, int)})
    with pytest.raises(ParameterError, match="n_periods = 0"):
        BetaGeoBetaBinom().fit(opportunities, unit="Y")


def test_missing_values_are_reported_by_row_without_customer_ids() -> None:
    # Before: the example rows printed every column, customer ids included.
    tx = TX.assign(id=["cust-a", "cust-a", "cust-a", "cust-b", "cust-c", "cust-c"])
    tx.loc[1, "ts"] = pd.NaT
    tx.loc[4, "value"] = np.nan
    with pytest.raises(InputTableError, match=r"row 1: missing ts; row 4: missing value") as err:
        rfm_summary(tx, customer="id", time="ts", amount="value", observation_end="2024-02-04")
    assert "cust-" not in str(err.value)
