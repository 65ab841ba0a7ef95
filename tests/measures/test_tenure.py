"""Tenure: Kaplan-Meier validated against R survival's output on the AML data."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.tenure import (
    boomerang_summary,
    kaplan_meier,
    median_tenure,
    retention_curve,
    time_to_return,
)

# survival::aml (Miller 1981): weeks to relapse, status 1 = relapse.
MAINTAINED = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
NONMAINTAINED = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


def test_kaplan_meier_matches_r_survival_aml():
    # R: summary(survfit(Surv(time, status) ~ x, data = aml)), conf.type = "log"
    # (default): time, n.risk, n.event, survival, std.err, lower/upper 95% CI.
    km = kaplan_meier(*MAINTAINED).query("n_event > 0")
    expected = np.array(
        [
            [9, 11, 1, 0.909, 0.0867, 0.7541, 1.000],
            [13, 10, 1, 0.818, 0.1163, 0.6192, 1.000],
            [18, 8, 1, 0.716, 0.1397, 0.4884, 1.000],
            [23, 7, 1, 0.614, 0.1526, 0.3769, 0.999],
            [31, 5, 1, 0.491, 0.1642, 0.2549, 0.946],
            [34, 4, 1, 0.368, 0.1627, 0.1549, 0.875],
            [48, 2, 1, 0.184, 0.1535, 0.0359, 0.944],
        ]
    )
    got = km[["time", "n_risk", "n_event", "survival", "se", "ci_low", "ci_high"]].to_numpy()
    np.testing.assert_allclose(got[:, :3], expected[:, :3])
    np.testing.assert_allclose(got[:, 3], expected[:, 3], atol=5e-4)
    np.testing.assert_allclose(got[:, 4:6], expected[:, 4:6], atol=5e-5)
    np.testing.assert_allclose(got[:, 6], expected[:, 6], atol=5e-4)
    km0 = kaplan_meier(*NONMAINTAINED).query("n_event > 0")
    # Nonmaintained: last rows 43 -> 0.0972 (0.0919; 0.0153, 0.620), 45 -> 0 (NaN).
    row = km0[km0.time == 43].iloc[0]
    assert (
        round(row.survival, 4),
        round(row.se, 4),
        round(row.ci_low, 4),
        round(row.ci_high, 3),
    ) == (0.0972, 0.0919, 0.0153, 0.620)
    last = km0[km0.time == 45].iloc[0]
    assert last.survival == 0
    assert np.isnan(last.se)
    assert np.isnan(last.ci_low)


def test_median_matches_r_print_survfit():
    # R: survfit(Surv(time, status) ~ 1, data = aml): median 27, 0.95LCL 18, 0.95UCL 45.
    t = MAINTAINED[0] + NONMAINTAINED[0]
    e = MAINTAINED[1] + NONMAINTAINED[1]
    ep = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(len(t))],
            "role": "worker",
            "engagement": "full_time",
            "start": pd.Timestamp("2000-01-03"),
        }
    )
    ep["end"] = [
        ep.start[0] + pd.Timedelta(weeks=w) if d else pd.NaT for w, d in zip(t, e, strict=True)
    ]
    as_of = ep.start[0] + pd.Timedelta(weeks=161)
    # Censored episodes must end at their censoring time: give them that as_of per row
    # by shifting their start so that as_of - start = their time.
    ep.loc[ep["end"].isna(), "start"] = [
        as_of - pd.Timedelta(weeks=w) for w, d in zip(t, e, strict=True) if not d
    ]
    out = median_tenure(ep, as_of=as_of, unit="W")
    assert out[["n", "n_events", "estimate", "ci_low", "ci_high"]].iloc[
        0
    ].tolist() == pytest.approx([23, 18, 27.0, 18.0, 45.0])


@given(st.lists(st.tuples(st.floats(0, 100), st.booleans()), min_size=1, max_size=40))
def test_km_bounds_and_interval_order(rows):
    t = [r[0] for r in rows]
    e = [r[1] for r in rows]
    for conf_type in ("log", "log-log", "plain"):
        km = kaplan_meier(t, e, conf_type=conf_type)
        s = km["survival"].to_numpy()
        assert np.all((s >= 0) & (s <= 1))
        assert np.all(np.diff(s) <= 1e-15)
        ok = km["ci_low"].notna()
        assert np.all(km.loc[ok, "ci_low"] <= km.loc[ok, "survival"] + 1e-12)
        assert np.all(km.loc[ok, "survival"] <= km.loc[ok, "ci_high"] + 1e-12)
    # Order of the rows does not matter.
    perm = np.random.default_rng(0).permutation(len(t))
    a = kaplan_meier(t, e)
    b = kaplan_meier(np.array(t)[perm], np.array(e)[perm])
    pd.testing.assert_frame_equal(a, b)


def test_unit_weights_equal_unweighted():
    a = kaplan_meier(*MAINTAINED)
    b = kaplan_meier(*MAINTAINED, weights=np.ones(11))
    pd.testing.assert_frame_equal(a, b)


def _episodes():
    return pd.DataFrame(
        {
            "person_id": ["a", "a", "b", "b", "c", "d", "e"],
            "role": ["worker"] * 6 + ["customer"],
            "engagement": [
                "full_time",
                "gig",
                "full_time",
                "full_time",
                "full_time",
                "gig",
                "consumer",
            ],
            "start": pd.to_datetime(
                [
                    "2020-01-01",
                    "2021-06-01",
                    "2020-01-01",
                    "2020-06-01",
                    "2020-03-01",
                    "2021-01-01",
                    "2019-01-01",
                ]
            ),
            "end": pd.to_datetime(
                ["2021-01-01", None, "2020-12-01", "2021-03-01", "2021-01-01", None, "2023-01-01"]
            ),
        }
    )


def test_retention_curve_by_role_censors_at_as_of():
    curve = retention_curve(_episodes(), as_of="2022-01-01", unit="M", by="role")
    cust = curve[curve.role == "customer"]
    # The customer episode ends after as_of: censored at as_of, not an event.
    assert cust["n_event"].sum() == 0
    assert cust["n_censored"].sum() == 1
    assert set(curve["role"]) == {"customer", "worker"}


def test_boomerangs():
    ep = _episodes()
    summary = boomerang_summary(ep, as_of="2022-01-01")
    # a left 2021-01-01 and came back 2021-06-01; b's overlapping contracts merge into
    # one spell ending 2021-03-01 (no return); c left; d never left.
    assert summary[["n", "n_returned"]].iloc[0].tolist() == [3, 1]
    assert summary["median_gap"].iloc[0] == pytest.approx(151 / (365.25 / 12))
    curve = time_to_return(ep, as_of="2022-01-01", unit="D")
    assert curve["n_event"].sum() == 1
    assert curve.loc[curve.n_event > 0, "time"].iloc[0] == pytest.approx(151.0)


def test_bad_episodes_are_rejected():
    ep = _episodes()
    ep.loc[0, "end"] = pd.Timestamp("2019-01-01")
    with pytest.raises(InputTableError, match="end before start"):
        retention_curve(ep, as_of="2022-01-01")


# ------------------------------------------------ issue 11: no silent empty results


@pytest.mark.parametrize("function", [retention_curve, median_tenure])
def test_plural_silo_name_is_the_singular_role(function):
    # ROLE_OF_SILO (hxmetrics.tables) is the one mapping: "workers" is the role "worker".
    plural = function(_episodes(), as_of="2022-01-01", role="workers")
    singular = function(_episodes(), as_of="2022-01-01", role="worker")
    assert len(singular) > 0
    pd.testing.assert_frame_equal(plural, singular)


@pytest.mark.parametrize(
    "function", [retention_curve, median_tenure, boomerang_summary, time_to_return]
)
def test_unknown_role_raises_naming_the_roles_present(function):
    with pytest.raises(ParameterError, match=r"role 'boss'.*customer.*worker"):
        function(_episodes(), as_of="2022-01-01", role="boss")
    # A known role without episodes here is no better than a typo: no empty result.
    with pytest.raises(ParameterError, match=r"role 'partner'.*roles present.*customer"):
        function(_episodes(), as_of="2022-01-01", role="partner")


def test_role_list_with_one_unknown_raises():
    with pytest.raises(ParameterError, match=r"role 'custmer'"):
        retention_curve(_episodes(), as_of="2022-01-01", role=["worker", "custmer"])
    both = retention_curve(_episodes(), as_of="2022-01-01", role=["workers", "customer"], by="role")
    assert set(both["role"]) == {"worker", "customer"}


def test_boomerang_plural_role_matches_singular():
    a = boomerang_summary(_episodes(), as_of="2022-01-01", role="workers")
    b = boomerang_summary(_episodes(), as_of="2022-01-01", role="worker")
    assert int(a["n"].iloc[0]) == int(b["n"].iloc[0]) > 0
    assert a.attrs["role"] == "worker"


@pytest.mark.parametrize(
    "function", [retention_curve, median_tenure, boomerang_summary, time_to_return]
)
@pytest.mark.parametrize("as_of", [None, pd.NaT, "not a date"])
def test_as_of_is_required_and_must_be_a_date(function, as_of):
    # Tenure never defaults to "today": the same data must give the same numbers.
    with pytest.raises(ParameterError, match=r"as_of"):
        function(_episodes(), as_of=as_of)
