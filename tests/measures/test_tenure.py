"""Tenure: Kaplan-Meier validated against R survival's output on the AML data."""

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._result import is_result
from hxmetrics.measures.tenure import (
    KaplanMeier,
    boomerang_summary,
    kaplan_meier,
    median_tenure,
    retention_curve,
    time_to_return,
)
from hxmetrics.plotting import new_figure

# survival::aml (Miller 1981): weeks to relapse, status 1 = relapse.
MAINTAINED = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
NONMAINTAINED = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


def test_kaplan_meier_matches_r_survival_aml():
    # R: summary(survfit(Surv(time, status) ~ x, data = aml)), conf.type = "log"
    # (default): time, n.risk, n.event, survival, std.err, lower/upper 95% CI.
    km = kaplan_meier(*MAINTAINED).query("n_events > 0")
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
    got = km[["time", "n_at_risk", "n_events", "survival", "se", "ci_low", "ci_high"]].to_numpy()
    np.testing.assert_allclose(got[:, :3], expected[:, :3])
    np.testing.assert_allclose(got[:, 3], expected[:, 3], atol=5e-4)
    np.testing.assert_allclose(got[:, 4:6], expected[:, 4:6], atol=5e-5)
    np.testing.assert_allclose(got[:, 6], expected[:, 6], atol=5e-4)
    km0 = kaplan_meier(*NONMAINTAINED).query("n_events > 0")
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
    assert cust["n_events"].sum() == 0
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
    assert curve["n_events"].sum() == 1
    assert curve.loc[curve.n_events > 0, "time"].iloc[0] == pytest.approx(151.0)


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
    assert a.attrs["hxmetrics"]["role"] == "worker"


@pytest.mark.parametrize(
    "function", [retention_curve, median_tenure, boomerang_summary, time_to_return]
)
@pytest.mark.parametrize("as_of", [None, pd.NaT, "not a date"])
def test_as_of_is_required_and_must_be_a_date(function, as_of):
    # Tenure never defaults to "today": the same data must give the same numbers.
    with pytest.raises(ParameterError, match=r"as_of"):
        function(_episodes(), as_of=as_of)


# ------------------------------------------ issue 11: a Kaplan-Meier fitted model


def test_kaplan_meier_model_follows_the_model_protocol():
    # Found: tenure had no fitted model (lifelines users expect a Kaplan-Meier fitter
    # with fit() returning it, summary(), plot(ax=), a notebook display, saving).
    t = MAINTAINED[0] + NONMAINTAINED[0]
    e = MAINTAINED[1] + NONMAINTAINED[1]
    model = KaplanMeier(confidence=0.95)
    assert model.fit(t, e, unit="W") is model
    # R: survfit(Surv(time, status) ~ 1, data = aml): median 27, 0.95LCL 18, 0.95UCL 45.
    assert model.median_ == 27.0
    assert model.median_ci_ == (18.0, 45.0)
    summary = model.summary()
    assert list(summary.columns) == [
        "time",
        "n_at_risk",
        "n_events",
        "n_censored",
        "survival",
        "se",
        "ci_low",
        "ci_high",
    ]
    assert summary.attrs["hxmetrics"]["measure"] == "kaplan_meier"
    assert summary.attrs["hxmetrics"]["unit"] == "W"
    # The function and the model are one implementation.
    pd.testing.assert_frame_equal(kaplan_meier(t, e), model.params_)
    assert model.survival_function_.loc[27.0] == pytest.approx(
        summary.set_index("time").loc[27.0, "survival"]
    )
    _fig, ax = new_figure()
    assert model.plot(ax=ax) is ax
    assert len(ax.lines) == 1
    html = model._repr_html_()
    assert "KaplanMeier" in html
    assert "median" in html
    assert "median = 27 W" in repr(model)
    state = json.loads(json.dumps(model.to_dict()))
    back = KaplanMeier.from_dict(state)
    pd.testing.assert_frame_equal(back.summary(), summary)
    assert (back.median_, back.median_ci_, back.unit_) == (27.0, (18.0, 45.0), "W")


def test_kaplan_meier_plot_ax_is_keyword_only_and_optional():
    model = KaplanMeier().fit(*MAINTAINED)
    with pytest.raises(TypeError):
        model.plot(new_figure()[1])  # type: ignore[misc]  # ax is keyword-only on purpose
    ax = model.plot(ci=False, label="maintained")
    assert ax.get_legend() is not None


def test_kaplan_meier_not_fitted_and_bad_state():
    model = KaplanMeier()
    with pytest.raises(ParameterError, match="not fitted"):
        model.summary()
    assert "not fitted" in repr(model)
    with pytest.raises(ParameterError, match="BetaGeo"):
        KaplanMeier.from_dict({"model": "BetaGeo"})
    with pytest.raises(ParameterError, match="confidence"):
        KaplanMeier(confidence=95)
    # Nobody has left yet: the median is not reached (NaN), and the display says so.
    censored = KaplanMeier().fit([3.0, 5.0], [0, 0])
    assert np.isnan(censored.median_)
    assert "median = not reached" in repr(censored)


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_kaplan_meier_fits_columns_of_a_frame(engine):
    frame = pd.DataFrame({"weeks": MAINTAINED[0], "relapse": MAINTAINED[1]})
    data = frame if engine == "pandas" else pl.from_pandas(frame)
    by_name = KaplanMeier().fit(data, duration="weeks", event="relapse")
    pd.testing.assert_frame_equal(by_name.params_, kaplan_meier(*MAINTAINED))
    pd.testing.assert_frame_equal(
        kaplan_meier(data, duration="weeks", event="relapse"), kaplan_meier(*MAINTAINED)
    )
    with pytest.raises(ParameterError, match="event="):
        KaplanMeier().fit(data, MAINTAINED[1], duration="weeks")
    weighted = frame.assign(w=2.0)
    by_weight = KaplanMeier().fit(weighted, duration="weeks", event="relapse", weights="w")
    pd.testing.assert_frame_equal(
        by_weight.params_, kaplan_meier(*MAINTAINED, weights=np.full(11, 2.0))
    )
    all_events = KaplanMeier().fit(frame, duration="weeks")
    assert all_events.n_events_ == 11


def test_n_events_is_one_spelling():
    # Found: n_event (curves) vs n_events (medians). One spelling: n_events, n_at_risk.
    ep = _episodes()
    for frame in (
        kaplan_meier(*MAINTAINED),
        retention_curve(ep, as_of="2022-01-01"),
        time_to_return(ep, as_of="2022-01-01"),
        median_tenure(ep, as_of="2022-01-01"),
    ):
        assert "n_events" in frame.columns
        assert "n_event" not in frame.columns
        assert "n_risk" not in frame.columns


# ------------------------------- issue 11: grouped tenure results, one result builder


def test_median_tenure_is_a_grouped_result():
    out = median_tenure(_episodes(), as_of="2022-01-01", by="role")
    assert is_result(out)
    assert list(out.columns) == [
        "measure",
        "role",
        "n",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n_events",
        "n_censored",
        "n_excluded_episodes_starting_after_as_of",
        "suppressed",
    ]
    assert str(out["n"].dtype) == "Int64"
    assert str(out["n_events"].dtype) == "Int64"
    assert out["measure"].tolist() == ["median_tenure"] * 2
    meta = out.attrs["hxmetrics"]
    assert (meta["measure"], meta["estimate"], meta["by"], meta["unit"]) == (
        "median_tenure",
        "estimate",
        ["role"],
        "M",
    )
    assert not out["suppressed"].any()


def test_median_tenure_suppresses_small_groups():
    # Found: tenure did no suppression at all (min_n was not even an argument).
    out = median_tenure(_episodes(), as_of="2022-01-01", by="role", min_n=2)
    # The customer group has one episode: hidden, and the worker group with it (the
    # total of episodes minus the workers would give the customer's numbers back).
    assert out["suppressed"].tolist() == [True, True]
    assert out["n"].isna().all()
    assert out["estimate"].isna().all()
    assert out["n_events"].isna().all()
    shown = median_tenure(_episodes(), as_of="2022-01-01", by="role", role="worker", min_n=2)
    assert shown["suppressed"].tolist() == [False]
    assert int(shown["n"].iloc[0]) == 6


def test_episodes_after_as_of_are_counted_per_group():
    ep = _episodes()
    late = ep.iloc[[0]].assign(start=pd.Timestamp("2023-01-01"), end=pd.NaT)
    out = median_tenure(pd.concat([ep, late]), as_of="2022-01-01", by="role")
    assert out.set_index("role")["n_excluded_episodes_starting_after_as_of"].to_dict() == {
        "customer": 0,
        "worker": 1,
    }
    assert out.attrs["hxmetrics"]["excluded"] == {"episodes_starting_after_as_of": 1}


def test_boomerang_summary_is_a_grouped_result_with_suppression():
    out = boomerang_summary(_episodes(), as_of="2022-01-01", by="engagement")
    assert is_result(out)
    assert out["measure"].unique().tolist() == ["boomerang"]
    assert str(out["n_returned"].dtype) == "Int64"
    hidden = boomerang_summary(_episodes(), as_of="2022-01-01", by="engagement", min_n=4)
    assert hidden["suppressed"].all()
    assert hidden["n_returned"].isna().all()


def test_tenure_accepts_polars_episodes():
    # The measures take any frame narwhals reads; tenure refused anything but pandas.
    ep = _episodes()
    native = pl.from_pandas(ep)
    pd.testing.assert_frame_equal(
        median_tenure(native, as_of="2022-01-01", by="role"),
        median_tenure(ep, as_of="2022-01-01", by="role"),
    )
    pd.testing.assert_frame_equal(
        retention_curve(native, as_of="2022-01-01"), retention_curve(ep, as_of="2022-01-01")
    )


def test_boomerang_share_is_in_percent_like_every_share_estimate():
    # Found: shares were 0-1 here and percent (0-100) in CSAT.
    out = boomerang_summary(_episodes(), as_of="2022-01-01")
    row = out.iloc[0]
    assert row["estimate"] == pytest.approx(100 / 3)
    assert 0 < row["ci_low"] < row["estimate"] < row["ci_high"] < 100
    assert row["se"] == pytest.approx(100 * np.sqrt((1 / 3) * (2 / 3) / 3))
    assert out.attrs["hxmetrics"]["bounds"] == (0.0, 100.0)


def test_times_with_a_time_zone_are_read_as_local_wall_times():
    # Spark (and Parquet) sources come back with UTC times: tenure read them and then
    # failed comparing them with a naive as_of.
    ep = _episodes()
    utc = ep.assign(start=ep["start"].dt.tz_localize("UTC"), end=ep["end"].dt.tz_localize("UTC"))
    for function in (median_tenure, boomerang_summary):
        pd.testing.assert_frame_equal(
            function(utc, as_of="2022-01-01"), function(ep, as_of="2022-01-01")
        )
    pd.testing.assert_frame_equal(
        retention_curve(utc, as_of=pd.Timestamp("2022-01-01", tz="UTC")),
        retention_curve(ep, as_of="2022-01-01"),
    )
    with pytest.raises(ParameterError, match="time zone"):
        median_tenure(ep, as_of=pd.Timestamp("2022-01-01", tz="UTC"))
