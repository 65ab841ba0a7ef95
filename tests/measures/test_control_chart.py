"""Control charts (issue 15, item 5): p, Laney p' and XmR, run rules, frozen limits.

Hand-computed examples check the formulas and the published constants; simulations
check what the charts are for: Laney's sigma_z is 1 on binomial (and multinomial NPS)
data and grows with overdispersion, a planted shift is flagged soon after it happens,
and a stable process raises false alarms at the nominal rates.

Simulated series are built from per-period counts (the measure's statistics) through
the same finishing step :func:`trend` uses (``_trend_from_statistics``), so that tens
of thousands of periods cost a second, not millions of answer rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import ParameterError
from hxmetrics.measures.trends import (
    D2,
    D4,
    E2,
    NOMINAL_FALSE_ALARM,
    ControlChart,
    _run_lengths,
    _trend_from_statistics,
    control_chart,
    trend,
)
from hxmetrics.plotting import new_figure


def _nps_series(counts: np.ndarray, freq: str = "D") -> pd.DataFrame:
    """A trend of NPS from per-period counts (columns: promoters, passives, detractors)."""
    m = len(counts)
    stats = pd.DataFrame(
        {
            "period": pd.period_range("2000-01-01", periods=m, freq=freq),
            "n_excluded_missing": np.zeros(m, dtype=np.int64),
            "detractors": counts[:, 2],
            "passives": counts[:, 1],
            "promoters": counts[:, 0],
        }
    )
    return _trend_from_statistics(stats, measure="nps", by=[], period=freq)


def _share_series(hits: np.ndarray, n: np.ndarray, freq: str = "D") -> pd.DataFrame:
    """A trend of CSAT (a share) from per-period counts in the box out of n."""
    m = len(n)
    stats = pd.DataFrame(
        {
            "period": pd.period_range("2000-01-01", periods=m, freq=freq),
            "n_excluded_missing": np.zeros(m, dtype=np.int64),
            "in_box": hits,
            "out_box": n - hits,
        }
    )
    return _trend_from_statistics(stats, measure="csat", by=[], period=freq)


def _monthly(values: list[float]) -> pd.DataFrame:
    """One answer per month with the given scores (a mean-score trend of those values)."""
    stamps = pd.date_range("2024-01-01", periods=len(values), freq="MS") + pd.Timedelta(days=14)
    return pd.DataFrame({"score": values, "timestamp": stamps})


# ---------------------------------------------------------------------------
# Formulas and constants
# ---------------------------------------------------------------------------


def test_published_constants() -> None:
    # Montgomery (2019), Appendix VI, n = 2: d2 = 1.128, D4 = 3.267; Wheeler & Chambers
    # (1992): natural process limits at 2.66 average moving ranges (= 3/d2, rounded).
    assert (D2, E2, D4) == (1.128, 2.66, 3.267)
    assert pytest.approx(3 / D2, abs=0.0005) == E2  # 2.6596 published as 2.66
    assert NOMINAL_FALSE_ALARM["beyond_limits"] == pytest.approx(0.0027, abs=1e-5)
    assert NOMINAL_FALSE_ALARM["run_of_8"] == 2 * 0.5**8


def test_xmr_by_hand() -> None:
    # x = 10, 12, 11, 15, 13: mean 12.2; moving ranges 2, 1, 4, 2: MR-bar 2.25.
    chart = control_chart(
        _monthly([10, 12, 11, 15, 13]),
        measure="mean_score",
        method="xmr",
        rules=("beyond_limits", "run_of_8", "moving_range"),
    )
    table = chart.table
    assert chart.centre == pytest.approx(12.2, rel=1e-12)
    assert chart.mr_bar == pytest.approx(2.25, rel=1e-12)
    assert table["ucl"].iloc[0] == pytest.approx(12.2 + 2.66 * 2.25, rel=1e-12)
    assert table["lcl"].iloc[0] == pytest.approx(12.2 - 2.66 * 2.25, rel=1e-12)
    assert table["mr_ucl"].iloc[0] == pytest.approx(3.267 * 2.25, rel=1e-12)
    np.testing.assert_allclose(table["moving_range"], [np.nan, 2, 1, 4, 2])
    assert np.isnan(chart.sigma_z)
    assert not table["signal"].any()
    # A jump of 9 is beyond 7.35 (the moving-range limit) and 18.185 (the upper limit).
    jumped = control_chart(
        _monthly([10, 12, 11, 15, 13, 22]),
        measure="mean_score",
        method="xmr",
        freeze=5,
        rules=("beyond_limits", "moving_range"),
    )
    assert jumped.table["signal_beyond_limits"].tolist() == [False] * 5 + [True]
    assert jumped.table["signal_moving_range"].tolist() == [False] * 5 + [True]


def test_p_chart_by_hand() -> None:
    # Montgomery ch. 7 (variable sample size): p-bar = 90/300 = 0.3, limits
    # 0.3 ± 3 sqrt(0.21/n_i), the lower one clipped at 0.
    hits = np.array([30, 10, 50])
    n = np.array([100, 50, 150])
    chart = control_chart(_share_series(hits, n), method="p")
    sigma = np.sqrt(0.21 / n)
    np.testing.assert_allclose(chart.table["ucl"], 100 * (0.3 + 3 * sigma), rtol=1e-12)
    np.testing.assert_allclose(chart.table["lcl"], 100 * np.clip(0.3 - 3 * sigma, 0, 1), rtol=1e-12)
    np.testing.assert_allclose(chart.table["z"], (hits / n - 0.3) / sigma, rtol=1e-12, atol=1e-12)
    assert chart.centre == pytest.approx(30.0, rel=1e-12)
    assert chart.sigma_z == 1.0
    assert chart.unit_variance == pytest.approx(0.21, rel=1e-12)


def test_laney_by_hand_is_the_p_chart_widened_by_sigma_z() -> None:
    hits = np.array([30, 10, 50, 21, 40])
    n = np.array([100, 50, 150, 90, 120])
    series = _share_series(hits, n)
    p_chart = control_chart(series, method="p")
    laney = control_chart(series, method="laney")
    z = p_chart.table["z"].to_numpy()
    sigma_z = np.abs(np.diff(z)).mean() / 1.128  # Laney (2002): MR-bar(z) / d2
    assert laney.sigma_z == pytest.approx(sigma_z, rel=1e-12)
    centre = p_chart.centre
    np.testing.assert_allclose(
        laney.table["ucl"] - centre, sigma_z * (p_chart.table["ucl"] - centre), rtol=1e-12
    )


def test_nps_limits_use_the_multinomial_variance() -> None:
    # Counts (promoters, passives, detractors): P-bar = 0.45, D-bar = 0.2 over 600.
    counts = np.array([[40, 40, 20], [95, 60, 45], [135, 100, 65]])
    chart = control_chart(_nps_series(counts), method="laney")
    p_bar, d_bar = 270 / 600, 130 / 600
    variance = p_bar + d_bar - (p_bar - d_bar) ** 2  # Rocks (2016)
    assert chart.unit_variance == pytest.approx(variance, rel=1e-12)
    assert chart.centre == pytest.approx(100 * (p_bar - d_bar), rel=1e-12)
    n = counts.sum(axis=1)
    half = 3 * chart.sigma_z * np.sqrt(variance / n)
    np.testing.assert_allclose(chart.table["ucl"], chart.centre + 100 * half, rtol=1e-12)
    with pytest.raises(ParameterError, match="multinomial"):
        control_chart(_nps_series(counts), method="p")


def test_run_lengths_and_the_run_rule() -> None:
    side = np.array([1, 1, 1, -1, 0, 1, 1])
    assert _run_lengths(side).tolist() == [1, 2, 3, 1, 0, 1, 2]
    # Nine months at 20 from April; June is empty: the eight left (April, May, July to
    # December) are one run, flagged at its eighth point. Had the gap broken the run,
    # July to December (six) would not be flagged.
    values = [0, 0, 0, 20, 20, 20, 20, 20, 20, 20, 20, 20, 0, 0]
    df = _monthly(values)
    df = df[df["timestamp"].dt.month != 6]
    chart = control_chart(df, measure="mean_score", method="xmr", rules=("run_of_8",))
    assert chart.centre == pytest.approx(160 / 13, rel=1e-12)
    flagged = chart.table.loc[chart.table["signal_run_of_8"], "period"].astype(str)
    assert flagged.tolist() == ["2024-12"]
    assert chart.table["value"].isna().sum() == 1  # June: a row without a value


# ---------------------------------------------------------------------------
# Laney's sigma_z: 1 on binomial data, larger under overdispersion
# ---------------------------------------------------------------------------


def test_sigma_z_is_one_on_binomial_data() -> None:
    rng = np.random.default_rng(20)
    estimates = []
    for _ in range(25):
        n = rng.integers(100, 500, 4000)
        estimates.append(control_chart(_share_series(rng.binomial(n, 0.7), n)).sigma_z)
    # Monte Carlo error: one sigma_z from 4000 periods has sd 0.0138 (seen over 100
    # charts, seed 7000: mean 1.0022; over 400 charts of 400 periods, sd 0.046, mean
    # 0.9974), so the mean of 25 has se 0.0138/sqrt(25) = 0.0028 and 0.009 is 3.2 of
    # them. A bias of 0.012 (1.2%, four se) fails with probability ~0.84 (the earlier
    # 25 charts of 400 periods with +-0.045 let a 4% bias pass).
    assert np.mean(estimates) == pytest.approx(1.0, abs=0.009)


def test_sigma_z_is_one_on_multinomial_nps_data() -> None:
    rng = np.random.default_rng(21)
    estimates = []
    for _ in range(25):
        counts = rng.multinomial(int(rng.integers(100, 500)), [0.45, 0.35, 0.2], size=4000)
        estimates.append(control_chart(_nps_series(counts)).sigma_z)
    # As above: sd 0.0146 per chart of 4000 periods (100 charts, seed 7000: mean
    # 1.0029; 400 charts of 400 periods: sd 0.043, mean 1.0005), se of the mean of 25
    # 0.0029; 0.009 is 3.1 of them (a 1.2% bias fails with probability ~0.84).
    assert np.mean(estimates) == pytest.approx(1.0, abs=0.009)


def test_limits_widen_by_sigma_z_under_overdispersion() -> None:
    rng = np.random.default_rng(22)
    estimates, p_alarms, laney_alarms = [], 0, 0
    n = np.full(4000, 400)
    for _ in range(25):
        # p_i ~ Beta(mean 0.7, a + b = 132.3): between-period variance 0.21/133.3, three
        # times the binomial 0.21/400, so sd(z) = sqrt(1 + 3) = 2 (1.998 exactly, with
        # E[p(1 - p)] = 0.21 (1 - 1/133.3) within a period).
        p = rng.beta(0.7 * 132.3, 0.3 * 132.3, 4000)
        series = _share_series(rng.binomial(n, p), n)
        laney, p_chart = control_chart(series), control_chart(series, method="p")
        estimates.append(laney.sigma_z)
        np.testing.assert_allclose(
            laney.table["ucl"] - laney.centre,
            laney.sigma_z * (p_chart.table["ucl"] - p_chart.centre),
            rtol=1e-12,
        )
        p_alarms += int(p_chart.table["signal_beyond_limits"].sum())
        laney_alarms += int(laney.table["signal_beyond_limits"].sum())
    # sd of sigma_z 0.030 per chart of 4000 periods (100 charts, seed 7000: mean
    # 2.0023), se of the mean of 25 0.006; 0.018 is three of them (it was 0.09 with
    # charts of 400 periods).
    assert np.mean(estimates) == pytest.approx(2.0, abs=0.018)
    # The p chart flags ~13% of the points (|z| > 1.5 sd), Laney's few (~0.3%).
    assert p_alarms > 10 * max(laney_alarms, 1)


# ---------------------------------------------------------------------------
# What a chart is for: a planted shift, and few false alarms
# ---------------------------------------------------------------------------


def test_a_planted_shift_is_flagged_soon_after_it() -> None:
    rng = np.random.default_rng(23)
    shift, length, runs = 30, 48, 100
    before, after = [0.45, 0.35, 0.20], [0.38, 0.37, 0.25]  # NPS 25 -> 13
    delays, found = [], 0
    early = 0
    for _ in range(runs):
        counts = np.vstack(
            [
                rng.multinomial(300, before, size=shift),
                rng.multinomial(300, after, size=length - shift),
            ]
        )
        chart = control_chart(_nps_series(counts, freq="M"), freeze=24)
        signal = chart.table["signal"].to_numpy()
        hits = np.flatnonzero(signal[shift:])
        if hits.size and hits[0] < 8:
            found += 1
            delays.append(int(hits[0]))
        early += int(signal[24:shift].sum())
    # A 12-point drop is 2.7 within-month sds (sqrt(0.5875/300) = 4.4 points): each
    # month after it is below the centre with probability ~0.997, so eight in a row
    # (the run rule) by month 37 in ~97% of series, the limit earlier in most.
    assert found >= 95
    assert np.median(delays) <= 2
    # Before the shift, the six monitored months (24-29) must raise false alarms at the
    # rate of a chart whose limits come from 24 months. More stable series (the same
    # first 30 months, no shift) make the estimate precise enough to test.
    stable = 300
    for _ in range(stable):
        counts = rng.multinomial(300, before, size=shift)
        chart = control_chart(_nps_series(counts, freq="M"), freeze=24)
        early += int(chart.table["signal"].to_numpy()[24:shift].sum())
    rate = early / ((runs + stable) * (shift - 24))
    # Reference: 3000 such series (seed 1000) gave 0.0147 alarms per monitored month
    # (se 0.0011), above the nominal ~0.0105 of known limits (2Φ(-3) + 2/2^8, less
    # their overlap) because limits from 24 months are estimated: a wrong centre or
    # sigma_z raises the tail more often than it lowers it. Monte Carlo error of this
    # test: the alarms of one series (6 months) have sd 0.377 (clumped runs included,
    # from the same 3000), so the rate over 400 series has se 0.377/(6 sqrt(400)) =
    # 0.0031; with the reference's se, 0.0033. Three of them: 0.0147 +- 0.010. A false-
    # alarm rate of 0.028 (2.7x nominal; the earlier bound was 0.05) fails with
    # probability ~0.84; a chart that never alarms fails too.
    assert abs(rate - 0.0147) < 0.010


def test_the_planted_shift_from_answers_end_to_end() -> None:
    rng = np.random.default_rng(24)
    rows = []
    for k, month in enumerate(pd.period_range("2023-01", periods=30, freq="M")):
        probs = [0.45, 0.35, 0.20] if k < 22 else [0.30, 0.35, 0.35]
        cat = rng.choice([10, 7, 2], size=250, p=probs)
        days = rng.integers(0, 28, 250)
        stamps = month.start_time + pd.to_timedelta(days, "D")
        rows.append(pd.DataFrame({"score": cat, "timestamp": stamps}))
    data = pd.concat(rows, ignore_index=True)
    chart = control_chart(data, measure="nps", freeze="2024-06-30")
    assert chart.baseline_periods == 18
    first = chart.signals["period"].astype(str).iloc[0]
    # NPS 25 -> -5 from November 2024 (month 22): flagged at once (6.9 sds).
    assert first == "2024-11"


def test_false_alarms_on_a_stable_process_match_the_nominal_rates() -> None:
    rng = np.random.default_rng(25)
    beyond = runs = points = 0
    sigmas = []
    for _ in range(3):
        counts = rng.multinomial(1000, [0.45, 0.35, 0.20], size=40_000)
        chart = control_chart(_nps_series(counts), freeze=20_000)
        monitored = ~chart.table["baseline"].to_numpy()
        beyond += int(chart.table["signal_beyond_limits"].to_numpy()[monitored].sum())
        runs += int(chart.table["signal_run_of_8"].to_numpy()[monitored].sum())
        points += int(monitored.sum())
        sigmas.append(chart.sigma_z)
    # Beyond the limits: nominal 0.0027 per point, 162 expected in 60,000 points.
    # Binomial sd 12.7; sigma_z from a 20,000-period baseline is off by ~0.6%, which
    # moves a 3-sigma tail by ~6% per chart (3.6% over three): together sd ~14 alarms.
    # 3.5 sds: 162 ± 49.
    expected = points * NOMINAL_FALSE_ALARM["beyond_limits"]
    assert abs(beyond - expected) < 3.5 * np.sqrt(expected + (0.036 * expected) ** 2)
    # Runs of 8: nominal 2/2^8 per point, 469 expected. Flags come in clumps (a run
    # that reaches 8 goes on with probability 1/2 per point, mean clump 2, E[K²] = 6),
    # so the count's variance is ~3x Poisson: sd ~37.5; 3.5 sds.
    expected = points * NOMINAL_FALSE_ALARM["run_of_8"]
    assert abs(runs - expected) < 3.5 * np.sqrt(3 * expected)
    assert np.mean(sigmas) == pytest.approx(1.0, abs=0.02)  # se ~0.004 per 3 charts


# ---------------------------------------------------------------------------
# freeze, input, errors, plot
# ---------------------------------------------------------------------------


def test_frozen_limits_ignore_what_comes_after_the_baseline() -> None:
    rng = np.random.default_rng(26)
    counts = rng.multinomial(300, [0.45, 0.35, 0.2], size=24)
    frozen = control_chart(_nps_series(counts, freq="M"), freeze=12)
    changed = counts.copy()
    changed[12:] = rng.multinomial(300, [0.2, 0.3, 0.5], size=12)
    refrozen = control_chart(_nps_series(changed, freq="M"), freeze=12)
    assert frozen.centre == refrozen.centre
    assert frozen.sigma_z == refrozen.sigma_z
    by_date = control_chart(_nps_series(counts, freq="M"), freeze="2000-12-31")
    assert by_date.baseline_periods == 12
    assert by_date.sigma_z == frozen.sigma_z
    assert frozen.table["baseline"].tolist() == [True] * 12 + [False] * 12


def test_bad_input_gets_named_errors() -> None:
    rng = np.random.default_rng(27)
    series = _nps_series(rng.multinomial(300, [0.45, 0.35, 0.2], size=6), freq="M")
    with pytest.raises(ParameterError, match="method must be one of"):
        control_chart(series, method="laneyy")
    with pytest.raises(ParameterError, match="unknown rule"):
        control_chart(series, rules=("run_of_9",))
    with pytest.raises(ParameterError, match="belongs to the XmR chart"):
        control_chart(series, rules=("moving_range",))
    with pytest.raises(ParameterError, match="only 6"):
        control_chart(series, freeze=7)
    with pytest.raises(ParameterError, match="after the last period"):
        control_chart(series, freeze="2001-01-01")
    with pytest.raises(ParameterError, match="before the first period"):
        control_chart(series, freeze="1999-06-01")
    with pytest.raises(ParameterError, match="at least 2"):
        control_chart(series, freeze=1)
    with pytest.raises(ParameterError, match="at least two periods"):
        control_chart(series.iloc[:1])
    with pytest.raises(ParameterError, match="trend is of 'nps'"):
        control_chart(series, measure="csat")
    with pytest.raises(ParameterError, match="needs measure="):
        control_chart(_monthly([1.0, 2.0, 3.0]))
    with pytest.raises(ParameterError, match="a mean"):
        control_chart(_monthly([1.0, 2.0, 3.0]), measure="mean_score", method="p")
    answers = _monthly([5.0, 6.0, 7.0, 4.0]).assign(team=["a", "b", "a", "b"])
    grouped = trend(answers, "mean_score", by="team")
    with pytest.raises(ParameterError, match="several groups"):
        control_chart(grouped, method="xmr")
    one_team = control_chart(grouped[grouped["team"] == "a"], method="xmr")
    assert one_team.table["value"].notna().sum() == 2


def test_row_order_of_the_answers_does_not_matter() -> None:
    rng = np.random.default_rng(28)
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 1500), "D")
    data = pd.DataFrame({"score": rng.integers(0, 11, 1500), "timestamp": stamps})
    reference = control_chart(data, measure="nps", freeze=6).table

    @settings(max_examples=8, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def check(seed: int) -> None:
        shuffled = data.sample(frac=1.0, random_state=np.random.default_rng(seed))
        table = control_chart(shuffled, measure="nps", freeze=6).table
        pd.testing.assert_frame_equal(table, reference)

    check()


def test_the_result_and_its_plots() -> None:
    rng = np.random.default_rng(29)
    chart = control_chart(
        _nps_series(rng.multinomial(300, [0.45, 0.35, 0.2], size=18), freq="M"), freeze=12
    )
    assert isinstance(chart, ControlChart)
    assert "<table>" in chart._repr_html_()
    _fig, ax = new_figure(5, 3)
    assert chart.plot(ax=ax) is ax
    xmr = control_chart(_monthly([10, 12, 11, 15, 13]), measure="mean_score", method="xmr")
    _fig, ax2 = new_figure(5, 3)
    assert xmr.plot(ax=ax2, moving_range=True) is ax2
    with pytest.raises(ParameterError, match="XmR"):
        chart.plot(ax=ax, moving_range=True)


def test_the_simulators_planted_team_shift_is_flagged() -> None:
    # The simulator's teams step (datasets._teams.add_teams) plants a drop in one team's
    # NPS from a known month; the team's answers are those at the touchpoints it owns at
    # the answer's time. Quarterly NPS of that team, Laney chart, limits frozen on the
    # quarters before the shift.
    from hxmetrics.datasets import simulate_organisation
    from hxmetrics.datasets._teams import add_teams

    base = simulate_organisation(n_people=3000, random_state=3)
    first_signal = {}
    for score_shift in (-2, -1):
        org = add_teams(base, random_state=3, score_shift=score_shift)
        planted = org.truth.planted["teams"]
        answers = org.responses[(org.responses["item"] == "ltr")]
        spells = answers.merge(org.teams, on="touchpoint")
        owned = (spells["timestamp"] >= spells["valid_from"]) & (
            spells["valid_to"].isna() | (spells["timestamp"] < spells["valid_to"])
        )
        team = spells[owned & (spells["team"] == planted["team"])]
        shift = pd.Timestamp(planted["shift_month"]).to_period("Q")
        chart = control_chart(
            team, measure="nps", period="Q", freeze=shift.start_time - pd.Timedelta(days=1)
        )
        assert chart.table["baseline"].sum() == (shift - chart.table["period"].iloc[0]).n
        # Nothing flagged before the shift (the baseline is the stable process).
        assert not chart.table.loc[chart.table["period"] < shift, "signal"].any()
        first_signal[score_shift] = (chart.signals["period"].iloc[0] - shift).n
    # -2 points on the 0-10 scale (NPS about -74 points, ~30 answers a quarter, ~5
    # within-quarter sds): flagged in the shift's own quarter. -1 (the default, about -25
    # NPS points, 1.5 sds) is flagged by the run rule, at the latest at the 8th quarter.
    assert first_signal[-2] == 0
    assert 0 <= first_signal[-1] <= 7
