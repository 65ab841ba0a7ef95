"""Responsiveness: tickets as right-censored times (issue 14, item 1).

Validated against statsmodels' ``SurvfuncRight`` (quantiles, ``quantile_ci`` for every
transform, survival probabilities and their Greenwood standard errors) and lifelines
(restricted mean), and by a simulation with known log-normal latencies per team and
censoring by an ``as_of`` cut.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures._result import is_result
from hxmetrics.measures.responsiveness.tickets import (
    TRANSFORMS,
    responsiveness,
    sla_attainment,
)

from .conftest import SPARK_PANDAS_WARNING

AS_OF = pd.Timestamp("2025-03-31 18:00")


# A hand example: hours from opening to the first answer; None = still unanswered at
# AS_OF (the ticket's window, as_of - opened, is then the censored time). No KM level
# lands exactly on 0.5 or 0.1 (statsmodels' quantile uses "<", R's "<=": they differ
# only there), checked below. Each team's longest ticket is open: where a curve drops to
# 0, statsmodels' upper limit is the last time and R's (ours) NA.
HAND = {
    "north": (
        [1.5, 2.0, 2.0, 3.25, 4.0, 5.5, 7.0, 9.0, 12.0, 20.0, 26.0],
        [True, True, False, True, True, False, True, True, False, True, False],
    ),
    "south": (
        [0.5, 1.0, 1.25, 2.5, 3.0, 3.0, 4.5, 6.0, 8.0, 10.5, 15.0, 30.0, 41.0],
        [True, True, True, False, True, True, True, False, True, True, True, False, False],
    ),
}


def _tickets(
    groups: dict[str, tuple[list[float], list[bool]]],
    as_of: pd.Timestamp = AS_OF,
    prefix: str = "K",
):
    """Tickets whose first answers (or windows, when unanswered) are the given hours."""
    rows = []
    k = 0
    for team, (hours, answered) in groups.items():
        for h, e in zip(hours, answered, strict=True):
            k += 1
            if e:  # answered at opened + h, opened a day before the answer at least
                opened = as_of - pd.Timedelta(hours=h + 24 + k)
                response = opened + pd.Timedelta(hours=h)
            else:  # open for exactly h hours at as_of
                opened = as_of - pd.Timedelta(hours=h)
                response = pd.NaT
            rows.append((f"{prefix}{k:05d}", "customers", team, opened, response))
    frame = pd.DataFrame(rows, columns=["ticket_id", "silo", "team", "opened", "first_response"])
    frame["closed"] = pd.NaT
    frame["reopened"] = 0
    frame["severity"] = "high"
    return frame


def _statsmodels(team: str):
    from statsmodels.duration.survfunc import SurvfuncRight

    hours, answered = HAND[team]
    return SurvfuncRight(np.array(hours), np.array(answered, dtype=float))


def _quantile_ci(sf, p, transform):
    # statsmodels evaluates g(S) at S = 0 and 1 too (log of 0): numpy warns, the result
    # is right.
    with np.errstate(divide="ignore", invalid="ignore"):
        return sf.quantile_ci(p, alpha=0.05, method=transform)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_quantiles_and_intervals_match_statsmodels_per_group(transform):
    # Peer: statsmodels 0.14/0.15 SurvfuncRight(time, status).quantile(p) and
    # .quantile_ci(p, alpha=0.05, method=transform), per team.
    out = responsiveness(
        _tickets(HAND), as_of=AS_OF, quantiles=(0.5, 0.9, 0.25), transform=transform
    )
    assert list(out["team"]) == ["north", "south"]
    for _, row in out.iterrows():
        sf = _statsmodels(row["team"])
        for p in (0.5, 0.9, 0.25):
            assert not np.any(np.isclose(sf.surv_prob, 1 - p, atol=1e-12))
        assert row["estimate"] == pytest.approx(sf.quantile(0.5))
        low, high = _quantile_ci(sf, 0.5, transform)
        assert row["ci_low"] == pytest.approx(low)
        if np.isfinite(high):
            assert row["ci_high"] == pytest.approx(high)
        else:  # statsmodels' inf (the upper curve never falls to 0.5) is NaN here
            assert np.isnan(row["ci_high"])
        for p, name in ((0.9, "q90"), (0.25, "q25")):
            expected = sf.quantile(p)
            if np.isnan(expected):
                assert np.isnan(row[name])
            else:
                assert row[name] == pytest.approx(expected)
            low, high = _quantile_ci(sf, p, transform)
            for got, want in ((row[f"{name}_ci_low"], low), (row[f"{name}_ci_high"], high)):
                if np.isfinite(want):
                    assert got == pytest.approx(want)
                else:  # statsmodels' inf (not reached) is NaN here
                    assert np.isnan(got)


def test_counts_and_restricted_mean_match_statsmodels_curve():
    # Peer: the area under statsmodels' SurvfuncRight step curve up to the horizon
    # (lifelines' utils.restricted_mean_survival_time gives the same area; its variance
    # is that of min(T, horizon), not of the estimate, so only the area is compared).
    out = responsiveness(_tickets(HAND), as_of=AS_OF, horizon=24.0)
    for _, row in out.iterrows():
        hours, answered = HAND[row["team"]]
        assert row["n"] == len(hours)
        assert row["n_answered"] == sum(answered)
        assert row["n_open"] == len(hours) - sum(answered)
        assert row["backlog_open"] == len(hours)  # nothing is closed
        sf = _statsmodels(row["team"])
        steps = np.concatenate(([0.0], sf.surv_times[sf.surv_times < 24.0], [24.0]))
        levels = np.concatenate(([1.0], sf.surv_prob[sf.surv_times < 24.0]))
        assert row["rmst"] == pytest.approx(float(np.sum(np.diff(steps) * levels)))
        assert row["rmst_horizon"] == 24.0
        assert row["rmst_se"] > 0


def test_default_horizon_is_the_longest_every_group_reaches():
    out = responsiveness(_tickets(HAND), as_of=AS_OF)
    # north reaches 26 h, south 41 h: both curves are estimated up to 26 h.
    assert (out["rmst_horizon"] == 26.0).all()
    assert out.attrs["hxmetrics"]["horizon"] == 26.0


def test_sla_attainment_is_one_minus_survival_at_the_target():
    # Peer: statsmodels SurvfuncRight: 1 - S(t) at the target, Greenwood se.
    tickets = _tickets(HAND)
    out = sla_attainment(tickets, {"high": "4h"}, as_of=AS_OF, transform="linear")
    assert is_result(out)
    assert list(out.columns[:3]) == ["measure", "team", "severity"]
    for _, row in out.iterrows():
        sf = _statsmodels(row["team"])
        i = np.flatnonzero(sf.surv_times <= 4.0)[-1]
        assert row["estimate"] == pytest.approx(100 * (1 - sf.surv_prob[i]))
        assert row["se"] == pytest.approx(100 * sf.surv_prob_se[i])
        z = 1.959963984540054
        s, se = sf.surv_prob[i], sf.surv_prob_se[i]
        assert row["ci_low"] == pytest.approx(100 * max(0.0, 1 - (s + z * se)))
        assert row["ci_high"] == pytest.approx(100 * min(1.0, 1 - (s - z * se)))
        assert row["target"] == 4.0
        hours, answered = HAND[row["team"]]
        h, e = np.array(hours), np.array(answered)
        assert row["n_met"] == int((e & (h <= 4)).sum())
        assert row["n_missed"] == int((h > 4).sum())
    # The same number as a column of responsiveness, and a table gives the same.
    summary = responsiveness(tickets, as_of=AS_OF, sla={"high": 4.0}, transform="linear")
    np.testing.assert_allclose(summary["pct_sla_met"], out["estimate"])
    table = pd.DataFrame({"severity": ["high", "low"], "target": ["240min", "3D"]})
    again = sla_attainment(tickets, table, as_of=AS_OF, transform="linear")
    pd.testing.assert_frame_equal(again.drop(columns="target"), out.drop(columns="target"))


def test_sla_without_a_target_is_shown_and_counted():
    tickets = _tickets(HAND)
    tickets.loc[tickets.index[:3], "severity"] = "low"
    out = sla_attainment(tickets, {"high": "4h"}, as_of=AS_OF)
    low = out[out["severity"] == "low"].iloc[0]
    assert low["n"] == 0
    assert low["n_excluded_without_sla_target"] == 3
    assert np.isnan(low["estimate"])
    summary = responsiveness(tickets, as_of=AS_OF, sla={"high": "4h"})
    assert summary["n_without_sla_target"].tolist() == [3, 0]


def test_open_ticket_is_censored_never_dropped_nor_closed_now():
    answered = [1.0, 2.0, 3.0, 5.0, 6.0]
    tickets = _tickets({"a": ([*answered, 100.0, 100.0], [True] * 5 + [False, False])})
    out = responsiveness(tickets, as_of=AS_OF).iloc[0]
    assert (out["n"], out["n_open"], out["n_answered"]) == (7, 2, 5)
    # Censored: S = 6/7, 5/7, 4/7, 3/7 at 1, 2, 3, 5 h: the median is 5 h, and 90% of
    # tickets answered is not reached. Dropping the open tickets would give a median of
    # 3 h; "answering them now" would give a 90th percentile of 100 h.
    assert out["estimate"] == 5.0
    assert np.isnan(out["q90"])
    assert out["backlog_open"] == 7
    ages = [24 + h + k for k, h in enumerate(answered, start=1)] + [100.0, 100.0]
    assert out["backlog_age_q50"] == pytest.approx(np.median(ages))


def test_stops_and_tickets_after_as_of_have_not_happened():
    tickets = _tickets(HAND)
    cut = AS_OF - pd.Timedelta(hours=30)
    out = responsiveness(tickets, as_of=cut, clock="first_response")
    opened = tickets["opened"]
    late = tickets["first_response"] > cut
    for _, row in out.iterrows():
        mine = tickets["team"] == row["team"]
        assert row["n_excluded_opened_after_as_of"] == int((mine & (opened > cut)).sum())
        kept = mine & (opened <= cut)
        assert row["n"] == int(kept.sum())
        assert row["n_open"] == int((kept & (late | tickets["first_response"].isna())).sum())
    assert out.attrs["hxmetrics"]["as_of"] == str(cut)
    assert out.attrs["hxmetrics"]["as_of_source"] == "given"
    assert out.attrs["hxmetrics"]["excluded"]["opened_after_as_of"] == int((opened > cut).sum())


def test_as_of_defaults_to_the_latest_time_in_the_table():
    tickets = _tickets(HAND)
    latest = max(tickets["opened"].max(), tickets["first_response"].max())
    out = responsiveness(tickets)
    meta = out.attrs["hxmetrics"]
    assert meta["as_of"] == str(latest)
    assert meta["as_of_source"] == "latest timestamp in the table"
    pd.testing.assert_frame_equal(out, responsiveness(tickets, as_of=latest), check_like=True)


def test_closed_clock_backlog_and_reopen_rate():
    opened = pd.Timestamp("2025-01-01 08:00")
    tickets = pd.DataFrame(
        {
            "team": ["a"] * 5,
            "opened": [opened] * 5,
            "first_response": [opened + pd.Timedelta(hours=h) for h in (1, 1, 2, 2, 3)],
            "closed": [opened + pd.Timedelta(hours=h) for h in (5, 10, 20, 50, 60)],
            "reopened": [0, 1, 0, 2, 0],
        }
    )
    as_of = opened + pd.Timedelta(hours=30)
    out = responsiveness(tickets, clock="closed", as_of=as_of, quantiles=(0.5,)).iloc[0]
    assert (out["n_answered"], out["n_open"]) == (3, 2)
    assert out["estimate"] == 20.0  # S: 0.8, 0.6, 0.4 at 5, 10, 20 h
    # Reopen rate among the 3 closed by as_of: one (the 10 h ticket) was reopened.
    assert out["pct_reopened"] == pytest.approx(100 / 3)
    assert out["backlog_open"] == 2
    assert out["backlog_age_q50"] == 30.0
    assert "n_answered_at_close" not in out.index
    first = responsiveness(tickets, as_of=as_of, quantiles=(0.5,)).iloc[0]
    assert (first["n_open"], first["backlog_open"]) == (0, 2)


def test_closed_without_a_response_was_answered_by_the_closing():
    opened = pd.Timestamp("2025-01-01 08:00")
    tickets = pd.DataFrame(
        {
            "team": "a",
            "opened": [opened] * 3,
            "first_response": [opened + pd.Timedelta(hours=1), pd.NaT, pd.NaT],
            "closed": [opened + pd.Timedelta(hours=4), opened + pd.Timedelta(hours=2), pd.NaT],
        }
    )
    out = responsiveness(tickets, as_of=opened + pd.Timedelta(hours=10)).iloc[0]
    assert (out["n_answered"], out["n_answered_at_close"], out["n_open"]) == (2, 1, 1)
    assert out["estimate"] == 2.0
    assert np.isnan(out["pct_reopened"])  # no reopened column: unknown, not 0


def test_units():
    tickets = _tickets(HAND)
    hours = responsiveness(tickets, as_of=AS_OF, unit="h")
    minutes = responsiveness(tickets, as_of=AS_OF, unit="min")
    days = responsiveness(tickets, as_of=AS_OF, unit="D")
    for column in ("estimate", "ci_low", "q90", "rmst", "rmst_horizon", "backlog_age_q50"):
        np.testing.assert_allclose(minutes[column], 60 * hours[column])
        np.testing.assert_allclose(days[column], hours[column] / 24)
    assert minutes.attrs["hxmetrics"]["unit"] == "min"


def test_time_zones_measure_absolute_time():
    tickets = _tickets(HAND)
    aware = tickets.copy()
    for c in ("opened", "first_response", "closed"):
        aware[c] = aware[c].dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai")
    expected = responsiveness(tickets, as_of=AS_OF)
    got = responsiveness(aware, as_of=AS_OF.tz_localize("UTC"))
    pd.testing.assert_frame_equal(
        got.drop(columns="measure"), expected.drop(columns="measure"), check_exact=False
    )
    with pytest.raises(ParameterError, match="time zone"):
        responsiveness(tickets, as_of=AS_OF.tz_localize("UTC"))
    # Texts with different UTC offsets (an export across a daylight-saving change) are
    # instants: 10:00+01:00 to 11:30+02:00 is half an hour.
    texts = pd.DataFrame(
        {
            "team": "a",
            "opened": ["2025-03-29 10:00+01:00", "2025-03-30 10:00+02:00"],
            "first_response": ["2025-03-29 11:30+02:00", None],
            "closed": None,
        }
    )
    out = responsiveness(texts, as_of="2025-03-30 12:00+02:00", quantiles=(0.25, 0.5))
    assert out["n_answered"].item() == 1
    assert out["estimate"].item() == 0.5
    assert out["backlog_age_q50"].item() == pytest.approx((2.0 + 25.0) / 2)


def test_groups_by_silo_and_team_on_the_sample():
    from hxmetrics.datasets import load_sample

    tickets = load_sample().tickets
    out = responsiveness(tickets, by=["silo", "team"], min_n=50)
    assert is_result(out)
    assert set(out["silo"]) == {"customers", "workers", "partners"}
    assert list(out.columns[:4]) == ["measure", "silo", "team", "n"]
    assert out.loc[~out["suppressed"], "n"].min() >= 50
    silos = responsiveness(tickets, by="silo", clock="closed")
    assert silos["n"].sum() == len(tickets)
    whole = responsiveness(tickets, by=None)
    assert whole["n"].tolist() == [len(tickets)]


def test_min_n_suppresses_through_the_privacy_layer():
    groups = dict(HAND)
    groups["tiny"] = ([1.0, 2.0], [True, False])
    out = responsiveness(_tickets(groups), as_of=AS_OF, min_n=5)
    tiny = out[out["team"] == "tiny"].iloc[0]
    assert tiny["suppressed"]
    assert pd.isna(tiny["n"])
    assert np.isnan(tiny["estimate"])
    assert pd.isna(tiny["backlog_open"])


def test_every_engine_gives_the_pandas_result(engine):
    tickets = _tickets(HAND)
    expected = responsiveness(tickets, as_of=AS_OF, sla={"high": "4h"})
    got = responsiveness(engine(tickets), as_of=AS_OF, sla={"high": "4h"})
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert got.attrs == expected.attrs


@pytest.mark.spark
# pyspark warns on import that it does not fully support pandas 3; only pyspark.sql
# is used here, never pyspark.pandas (the same filter as every Spark test).
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_spark_gives_the_pandas_result(spark):
    tickets = _tickets(HAND)
    expected = responsiveness(tickets, as_of=AS_OF, sla={"high": "4h"})
    got = responsiveness(spark.createDataFrame(tickets), as_of=AS_OF, sla={"high": "4h"})
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


# ------------------------------------------------------------------- bad input


def test_closed_before_opened_names_table_column_and_row():
    tickets = _tickets(HAND)
    tickets.loc[3, "closed"] = tickets.loc[3, "opened"] - pd.Timedelta(hours=1)
    with pytest.raises(InputTableError, match="closed") as info:
        responsiveness(tickets, as_of=AS_OF)
    assert info.value.table == "tickets"
    assert "row 3" in str(info.value)
    assert "K00004" not in str(info.value)  # never an identifier
    assert info.value.failure_cases["check"].tolist() == ["closed_not_before_opened"]


def test_first_response_before_opened_raises():
    tickets = _tickets(HAND)
    tickets.loc[[0, 5], "first_response"] = tickets.loc[[0, 5], "opened"] - pd.Timedelta("1min")
    with pytest.raises(InputTableError, match="first_response") as info:
        responsiveness(tickets, as_of=AS_OF, clock="closed")
    assert info.value.failure_cases["index"].tolist() == [0, 5]


def test_a_time_that_is_not_a_date_raises():
    tickets = _tickets(HAND).astype({"opened": object})
    tickets.loc[2, "opened"] = "yesterday-ish"
    with pytest.raises(InputTableError, match=r"'opened'.*row positions \[2\]"):
        responsiveness(tickets, as_of=AS_OF)


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"clock": "resolved"}, "clock must be one of"),
        ({"unit": "hours"}, "unit must be one of"),
        ({"transform": "loglog"}, "transform must be one of"),
        ({"quantiles": (0.5, 1.0)}, "quantiles"),
        ({"horizon": -1}, "horizon"),
        ({"as_of": "not a date"}, "as_of"),
        ({"confidence": 95}, "confidence"),
        ({"sla": {"high": 0}}, "positive"),
        ({"sla": {"high": "4 parsecs"}}, "durations"),
        ({"sla": pd.DataFrame({"queue": ["x"], "target": [1.0]})}, "not columns"),
    ],
)
def test_bad_options_raise_parameter_error(option, match):
    with pytest.raises(ParameterError, match=match):
        responsiveness(_tickets(HAND), **{"as_of": AS_OF, **option})


def test_missing_column_names_the_table():
    tickets = _tickets(HAND).drop(columns="first_response")
    with pytest.raises(InputTableError, match="first_response") as info:
        responsiveness(tickets, as_of=AS_OF)
    assert info.value.table == "tickets"
    responsiveness(tickets, as_of=AS_OF, clock="closed")  # not needed for that clock


# ------------------------------------------------------------------ simulation


def _simulate(rng: np.random.Generator, replicates: int, size: int, medians: dict[str, float]):
    """Log-normal times to answer (sigma 1) per team kind, opened uniformly over the
    4 medians before as_of (about 35% still unanswered then, and the closed-only
    median about 0.70 of the truth); replicate r of kind k is the team f"{k}{r}"."""
    window = 4 * max(medians.values())
    rows = []
    for kind, median in medians.items():
        n = replicates * size
        opened_h = rng.uniform(window - 4 * median, window, n)
        latency = median * np.exp(rng.standard_normal(n))
        team = np.repeat([f"{kind}{r:03d}" for r in range(replicates)], size)
        rows.append(pd.DataFrame({"kind": kind, "team": team, "o": opened_h, "t": latency}))
    sim = pd.concat(rows, ignore_index=True)
    start = pd.Timestamp("2025-06-01")
    sim["opened"] = start + pd.to_timedelta(sim["o"], unit="h")
    sim["first_response"] = sim["opened"] + pd.to_timedelta(sim["t"], unit="h")
    sim["closed"] = pd.NaT
    return sim, start + pd.Timedelta(hours=window)


@pytest.mark.slow
def test_simulation_naive_is_biased_ours_recovers_the_truth_and_covers():
    # Known truth: medians 2, 8 and 20 hours (log-normal, sigma 1); 200 teams of 200
    # tickets per kind; about 35% of tickets still unanswered at as_of.
    rng = np.random.default_rng(20261206)
    medians = {"fast": 2.0, "mid": 8.0, "slow": 20.0}
    replicates = 200
    sim, as_of = _simulate(rng, replicates, 200, medians)
    # SLA targets of 1.5 medians per kind (an SLA table keyed by any ticket column):
    # truly met by Phi(log 1.5) = 65.8% of tickets.
    targets = pd.DataFrame({"kind": list(medians), "target": [1.5 * m for m in medians.values()]})
    out = responsiveness(sim, by="team", as_of=as_of, unit="h", sla=targets)
    out["kind"] = out["team"].str.rstrip("0123456789")
    answered = sim[sim["first_response"] <= as_of]
    naive = answered.groupby("team")["t"].median()  # the closed-only dashboard number
    # Monte Carlo error of a coverage estimated from 200 intervals:
    # sqrt(0.95 * 0.05 / 200) = 0.0154; we accept 0.95 +- 3 of them: [0.904, 0.996].
    bound = 3 * math.sqrt(0.95 * 0.05 / replicates)
    for kind, truth in medians.items():
        mine = out[out["kind"] == kind]
        assert mine["estimate"].notna().all()
        teams = mine["team"]
        naive_mean = naive.loc[teams].mean()
        assert naive_mean < 0.8 * truth, (kind, naive_mean)  # biased low (about 0.7)
        # The mean of 200 medians: its Monte Carlo error is about 1% of the truth
        # here; 3% is three of them (the naive one is 30% low).
        assert mine["estimate"].mean() == pytest.approx(truth, rel=0.03), kind
        covered = ((mine["ci_low"] <= truth) & (truth <= mine["ci_high"])).mean()
        assert abs(covered - 0.95) <= bound, (kind, covered)
    # The restricted mean up to the common horizon: true value by numerical
    # integration of the log-normal survival function; Wald coverage of rmst +- z se.
    from scipy.stats import lognorm

    horizon = out["rmst_horizon"].iloc[0]
    for kind, truth_median in medians.items():
        grid = np.linspace(0, horizon, 20001)
        truth = np.trapezoid(lognorm.sf(grid, s=1.0, scale=truth_median), grid)
        mine = out[out["kind"] == kind]
        z = 1.959963984540054
        covered = (np.abs(mine["rmst"] - truth) <= z * mine["rmst_se"]).mean()
        assert abs(covered - 0.95) <= bound, (kind, covered)
    # SLA attainment 1 - S(target): ours recovers and covers the truth; the share of
    # the answered tickets answered within target (the dashboard's) is biased upwards.
    from scipy.stats import norm

    truth = 100 * norm.cdf(math.log(1.5))
    met = answered["t"] <= 1.5 * answered["kind"].map(medians)
    naive_met = 100 * met.groupby(answered["team"]).mean()
    assert naive_met.mean() > truth + 10, naive_met.mean()
    # Mean of 600 percentages, each from 200 tickets (sd about 3.5 points): its Monte
    # Carlo error is about 0.15 points, one point is six of them; the naive share is
    # more than 10 points high.
    assert out["pct_sla_met"].mean() == pytest.approx(truth, abs=1.0)
    covered = ((out["pct_sla_met_ci_low"] <= truth) & (truth <= out["pct_sla_met_ci_high"])).mean()
    # 600 intervals: Monte Carlo error sqrt(0.95 * 0.05 / 600) = 0.0089, 3 of them.
    assert abs(covered - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / len(out)), covered


# -------------------------------------------------------------------- properties

_hours = st.integers(0, 48 * 4).map(lambda q: q / 4)  # quarter hours: ties happen


@st.composite
def _small_tables(draw):
    n = draw(st.integers(1, 25))
    hours = draw(st.lists(_hours, min_size=n, max_size=n))
    answered = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return _tickets({"a": (hours, answered)}, prefix="S")


def _quantile_values(out: pd.DataFrame) -> np.ndarray:
    values = out[["estimate", "q90", "q25"]].to_numpy(dtype=float)[0]
    return np.where(np.isnan(values), np.inf, values)  # not reached = beyond everything


@settings(max_examples=40, deadline=None)
@given(table=_small_tables(), extra=_hours)
def test_adding_an_open_ticket_never_lowers_a_quantile(table, extra):
    probs = (0.5, 0.9, 0.25)
    before = responsiveness(table, by=None, as_of=AS_OF, quantiles=probs)
    grown = pd.concat([table, _tickets({"a": ([extra], [False])}, prefix="X")], ignore_index=True)
    after = responsiveness(grown, by=None, as_of=AS_OF, quantiles=probs)
    assert np.all(_quantile_values(after) >= _quantile_values(before))


@settings(max_examples=40, deadline=None)
@given(table=_small_tables())
def test_estimates_never_exceed_the_observation_window(table):
    out = responsiveness(table, by=None, as_of=AS_OF, quantiles=(0.5, 0.9), horizon=1000.0)
    window = (AS_OF - table["opened"]).dt.total_seconds().max() / 3600
    for column in ("estimate", "ci_low", "q90", "q90_ci_low", "rmst", "backlog_age_q90"):
        value = out[column].iloc[0]
        assert np.isnan(value) or value <= window + 1e-9, column
    for column in ("ci_high", "q90_ci_high"):  # NaN when the interval is open-ended
        value = out[column].iloc[0]
        assert np.isnan(value) or value <= window + 1e-9, column


@settings(max_examples=20, deadline=None)
@given(table=_small_tables(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(table, seed):
    table = pd.concat([table, _tickets(HAND)], ignore_index=True)
    shuffled = table.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    expected = responsiveness(table, as_of=AS_OF, sla={"high": "3h"})
    got = responsiveness(shuffled, as_of=AS_OF, sla={"high": "3h"})
    pd.testing.assert_frame_equal(got, expected)


# -------------------------------------------------------------------- calendars


def test_business_time_is_the_calendar_clock_and_never_exceeds_wall_time():
    from hxmetrics.measures.responsiveness._calendar import BusinessCalendar, clock_seconds

    tickets = _tickets(HAND)
    wall = responsiveness(tickets, as_of=AS_OF, quantiles=(0.5, 0.9, 0.25))
    always = BusinessCalendar(
        {day: ("00:00", "24:00") for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
    )
    same = responsiveness(tickets, as_of=AS_OF, quantiles=(0.5, 0.9, 0.25), calendar=always)
    pd.testing.assert_frame_equal(same, wall, check_exact=False)  # a 24/7 calendar: wall
    office = BusinessCalendar.standard(tz="Europe/Berlin")
    business = responsiveness(
        tickets, as_of=AS_OF, quantiles=(0.5, 0.9, 0.25), calendar=office, horizon=5.0
    )
    assert business.attrs["hxmetrics"]["business_time"]
    for column in ("estimate", "q90", "q25", "backlog_age_q50"):
        b, w = business[column].to_numpy(float), wall[column].to_numpy(float)
        assert np.all(np.isnan(b) | (b <= w + 1e-9) | np.isnan(w)), column
    # The open tickets' ages are the calendar's clock from opened to as_of.
    ages = clock_seconds(tickets["opened"], [AS_OF] * len(tickets), calendar=office) / 3600
    north = tickets["team"] == "north"
    assert business["backlog_age_q50"].iloc[0] == pytest.approx(np.median(ages[north.to_numpy()]))


# --------------------------------------------------------------------- edges


def test_a_team_with_every_ticket_after_as_of_is_a_row_with_n_zero():
    groups = dict(HAND)
    tickets = _tickets(groups)
    late = _tickets(
        {"east": ([1.0, 2.0], [True, True])}, as_of=AS_OF + pd.Timedelta(days=30), prefix="L"
    )
    out = responsiveness(pd.concat([tickets, late], ignore_index=True), as_of=AS_OF)
    east = out[out["team"] == "east"].iloc[0]
    assert east["n"] == 0
    assert east["n_excluded_opened_after_as_of"] == 2
    assert np.isnan(east["estimate"])
    assert out.attrs["hxmetrics"]["excluded"]["opened_after_as_of"] == 2
    hidden = responsiveness(pd.concat([tickets, late], ignore_index=True), as_of=AS_OF, min_n=3)
    assert hidden.loc[hidden["team"] == "east", "suppressed"].item()


def test_missing_opened_is_left_out_and_counted():
    tickets = _tickets(HAND)
    tickets.loc[[1, 2], "opened"] = pd.NaT
    tickets.loc[[1, 2], "first_response"] = pd.NaT
    out = responsiveness(tickets, as_of=AS_OF)
    assert out["n_excluded_missing_opened"].tolist() == [2, 0]
    assert out["n"].tolist() == [9, 13]


def test_empty_table_gives_no_rows_or_one_empty_row():
    empty = _tickets(HAND).iloc[:0]
    assert len(responsiveness(empty, as_of=AS_OF)) == 0
    whole = responsiveness(empty, as_of=AS_OF, by=None)
    assert whole["n"].tolist() == [0]
    assert np.isnan(whole["estimate"].iloc[0])
    with pytest.raises(ParameterError, match="as_of"):
        responsiveness(empty)


def test_a_repeated_ticket_or_a_bad_reopen_count_raises_without_the_id():
    tickets = _tickets(HAND)
    tickets.loc[4, "ticket_id"] = tickets.loc[0, "ticket_id"]
    with pytest.raises(InputTableError, match=r"unique.*\[0, 4\]") as info:
        responsiveness(tickets, as_of=AS_OF)
    assert "K00001" not in str(info.value)
    tickets = _tickets(HAND).astype({"reopened": object})
    tickets.loc[6, "reopened"] = "twice"
    with pytest.raises(InputTableError, match=r"'reopened'.*\[6\]"):
        responsiveness(tickets, as_of=AS_OF)
