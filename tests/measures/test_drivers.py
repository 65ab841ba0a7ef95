"""Tests of hxmetrics.measures.drivers: key drivers, dominance analysis, comparisons."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.drivers import (
    EXACT_MAX_DRIVERS,
    DominanceResult,
    _shapley_from_subsets,
    compare_key_drivers,
    dominance_analysis,
    driver_table,
    key_drivers,
    plot_key_drivers,
    subset_r2,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SWISS_DRIVERS = ["Agriculture", "Examination", "Education", "Catholic", "Infant.Mortality"]

# R 4.2.2 `datasets::attitude` and `datasets::mtcars` (public domain), written out with
# Rscript so that the reference tests need no R at run time.
ATTITUDE = {
    "rating": [
        43,
        63,
        71,
        61,
        81,
        43,
        58,
        71,
        72,
        67,
        64,
        67,
        69,
        68,
        77,
        81,
        74,
        65,
        65,
        50,
        50,
        64,
        53,
        40,
        63,
        66,
        78,
        48,
        85,
        82,
    ],
    "complaints": [
        51,
        64,
        70,
        63,
        78,
        55,
        67,
        75,
        82,
        61,
        53,
        60,
        62,
        83,
        77,
        90,
        85,
        60,
        70,
        58,
        40,
        61,
        66,
        37,
        54,
        77,
        75,
        57,
        85,
        82,
    ],
    "privileges": [
        30,
        51,
        68,
        45,
        56,
        49,
        42,
        50,
        72,
        45,
        53,
        47,
        57,
        83,
        54,
        50,
        64,
        65,
        46,
        68,
        33,
        52,
        52,
        42,
        42,
        66,
        58,
        44,
        71,
        39,
    ],
    "learning": [
        39,
        54,
        69,
        47,
        66,
        44,
        56,
        55,
        67,
        47,
        58,
        39,
        42,
        45,
        72,
        72,
        69,
        75,
        57,
        54,
        34,
        62,
        50,
        58,
        48,
        63,
        74,
        45,
        71,
        59,
    ],
    "raises": [
        61,
        63,
        76,
        54,
        71,
        54,
        66,
        70,
        71,
        62,
        58,
        59,
        55,
        59,
        79,
        60,
        79,
        55,
        75,
        64,
        43,
        66,
        63,
        50,
        66,
        88,
        80,
        51,
        77,
        64,
    ],
    "critical": [
        92,
        73,
        86,
        84,
        83,
        49,
        68,
        66,
        83,
        80,
        67,
        74,
        63,
        77,
        77,
        54,
        79,
        80,
        85,
        78,
        64,
        80,
        80,
        57,
        75,
        76,
        78,
        83,
        74,
        78,
    ],
    "advance": [
        45,
        47,
        48,
        35,
        47,
        34,
        35,
        41,
        31,
        41,
        34,
        41,
        25,
        35,
        46,
        36,
        63,
        60,
        46,
        52,
        33,
        41,
        37,
        49,
        33,
        72,
        49,
        38,
        55,
        39,
    ],
}
MTCARS = {
    "mpg": [
        21,
        21,
        22.8,
        21.4,
        18.7,
        18.1,
        14.3,
        24.4,
        22.8,
        19.2,
        17.8,
        16.4,
        17.3,
        15.2,
        10.4,
        10.4,
        14.7,
        32.4,
        30.4,
        33.9,
        21.5,
        15.5,
        15.2,
        13.3,
        19.2,
        27.3,
        26,
        30.4,
        15.8,
        19.7,
        15,
        21.4,
    ],
    "cyl": [
        6,
        6,
        4,
        6,
        8,
        6,
        8,
        4,
        4,
        6,
        6,
        8,
        8,
        8,
        8,
        8,
        8,
        4,
        4,
        4,
        4,
        8,
        8,
        8,
        8,
        4,
        4,
        4,
        8,
        6,
        8,
        4,
    ],
    "disp": [
        160,
        160,
        108,
        258,
        360,
        225,
        360,
        146.7,
        140.8,
        167.6,
        167.6,
        275.8,
        275.8,
        275.8,
        472,
        460,
        440,
        78.7,
        75.7,
        71.1,
        120.1,
        318,
        304,
        350,
        400,
        79,
        120.3,
        95.1,
        351,
        145,
        301,
        121,
    ],
    "hp": [
        110,
        110,
        93,
        110,
        175,
        105,
        245,
        62,
        95,
        123,
        123,
        180,
        180,
        180,
        205,
        215,
        230,
        66,
        52,
        65,
        97,
        150,
        150,
        245,
        175,
        66,
        91,
        113,
        264,
        175,
        335,
        109,
    ],
    "wt": [
        2.62,
        2.875,
        2.32,
        3.215,
        3.44,
        3.46,
        3.57,
        3.19,
        3.15,
        3.44,
        3.44,
        4.07,
        3.73,
        3.78,
        5.25,
        5.424,
        5.345,
        2.2,
        1.615,
        1.835,
        2.465,
        3.52,
        3.435,
        3.84,
        3.845,
        1.935,
        2.14,
        1.513,
        3.17,
        2.77,
        3.57,
        2.78,
    ],
    "qsec": [
        16.46,
        17.02,
        18.61,
        19.44,
        17.02,
        20.22,
        15.84,
        20,
        22.9,
        18.3,
        18.9,
        17.4,
        17.6,
        18,
        17.98,
        17.82,
        17.42,
        19.47,
        18.52,
        19.9,
        20.01,
        16.87,
        17.3,
        15.41,
        17.05,
        18.9,
        16.7,
        16.9,
        14.5,
        15.5,
        14.6,
        18.6,
    ],
    "am": [
        1,
        1,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        1,
        1,
        0,
        0,
        0,
        0,
        0,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
    ],
}


@pytest.fixture(scope="module")
def swiss() -> pd.DataFrame:
    return pd.read_csv(DATA / "swiss.csv", index_col=0)


def _simulated(n: int = 300, k: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cov = 0.3 + 0.7 * np.eye(k)
    x = rng.multivariate_normal(np.zeros(k), cov, size=n)
    beta = np.linspace(0.8, 0.1, k)
    frame = pd.DataFrame(x, columns=[f"d{j}" for j in range(k)])
    frame["y"] = x @ beta + rng.normal(size=n)
    return frame


# ---------------------------------------------------------------------------
# Published and peer references
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["shapley", "dominance"])
def test_lmg_reproduces_relaimpo_swiss(swiss: pd.DataFrame, method: str) -> None:
    # Grömping (2006), relaimpo vignette / JSS 17(1): calc.relimp(lm(Fertility ~ ., swiss),
    # type = "lmg") prints R^2 70.67% and these LMG values (8 decimals shown).
    res = key_drivers(swiss, "Fertility", SWISS_DRIVERS, method=method, n_resamples=0)
    expected = [0.05709122, 0.17117303, 0.26013468, 0.10557015, 0.11276592]
    np.testing.assert_allclose(res["estimate"], expected, rtol=0, atol=1e-7)
    # Why: the vignette prints R^2 as 70.67%: four decimals, so half a unit of the last digit.
    assert res["r2"].iloc[0] == pytest.approx(0.7067, abs=5e-5)
    # Efficiency: the weights add up to R² to rounding.
    assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-13)
    assert res["pct_of_r2"].sum() == pytest.approx(100.0, abs=1e-10)
    assert res["rank"].tolist() == [5, 2, 1, 4, 3]


def test_relative_weights_reproduce_rwa_mtcars() -> None:
    # Chan, rwa package vignette "regression methods" (martinctc.github.io/rwa):
    # rwa_multiregress(mtcars, "mpg", c("cyl", "disp", "hp", "wt"))$result prints
    # Raw.RelWeight cyl 0.2096904, disp 0.1883043, hp 0.1799590, wt 0.2706812
    # (7 decimals shown) and Rescaled.RelWeight 24.70914, 22.18908, 21.20570, 31.89607.
    res = key_drivers(pd.DataFrame(MTCARS), "mpg", ["cyl", "disp", "hp", "wt"], n_resamples=0)
    np.testing.assert_allclose(
        res["estimate"], [0.2096904, 0.1883043, 0.1799590, 0.2706812], rtol=0, atol=1e-7
    )
    np.testing.assert_allclose(
        res["pct_of_r2"], [24.70914, 22.18908, 21.20570, 31.89607], rtol=0, atol=1e-5
    )
    assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-13)


def test_relative_weights_equal_squared_correlations_for_orthogonal_drivers() -> None:
    # Johnson (2000, p. 6): with uncorrelated predictors each relative weight is the
    # squared correlation with the criterion (and so is every other decomposition).
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(60, 4)))
    x = q[:, 1:] - q[:, 1:].mean(axis=0)
    x, _ = np.linalg.qr(np.column_stack([np.ones(60), x]))
    x = x[:, 1:]
    y = x @ [1.0, 0.5, 0.2] + 0.3 * rng.normal(size=60)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)
    r2 = np.array([np.corrcoef(df[c], df["y"])[0, 1] ** 2 for c in "abc"])
    for method in ("relative_weights", "shapley"):
        res = key_drivers(df, "y", ["a", "b", "c"], method=method, n_resamples=0)
        np.testing.assert_allclose(res["estimate"], r2, rtol=0, atol=1e-12)


ATT = ["complaints", "privileges", "learning", "raises", "critical", "advance"]
# Peer output: R 4.2.2, every subset refitted with summary(lm(rating ~ S, attitude))$r.squared
# (2^6 fits), conditional dominance = mean gain of a driver over the subsets of each size
# that lack it (Azen & Budescu 2003, Table 3 layout); printed with options(digits = 15):
#   xs <- c("complaints", "privileges", "learning", "raises", "critical", "advance")
#   v <- numeric(64)  # v[m + 1] = R² of the drivers whose bits are set in m
#   for (m in 1:63) v[m + 1] <- summary(lm(reformulate(xs[bitwAnd(m, 2^(0:5)) > 0],
#                                                 "rating"), attitude))$r.squared
#   cond[j, s + 1] <- mean of v[m + 2^(j-1) + 1] - v[m + 1] over the m without bit j-1
#                     and with s bits set; comp[i, j] <- 1 / 0 / 0.5 if
#                     v[m + 2^(i-1) + 1] - v[m + 2^(j-1) + 1] is > 0 / < 0 / mixed
#                     over the m holding neither.
ATT_CONDITIONAL = [
    [
        0.6813141641088638,
        0.49424691998533843,
        0.37355478436170392,
        0.28670088863406712,
        0.220403195776019356,
        0.168677213049980623,
    ],
    [
        0.1815755869840460,
        0.07544306685246079,
        0.02922502480277032,
        0.01068942771239034,
        0.005121785856785554,
        0.003367865620813704,
    ],
    [
        0.3889744528743523,
        0.22701061397532554,
        0.13686954505489163,
        0.08448808263221899,
        0.055245754423710804,
        0.042007492054349171,
    ],
    [
        0.3482640332752451,
        0.19353206605403031,
        0.10597163024439495,
        0.05269178722435214,
        0.020027685617812020,
        0.001583274005925728,
    ],
    [
        0.0244732081555923,
        0.00699633611293169,
        0.00428095609923431,
        0.00229981686541015,
        0.000689397566912908,
        0.000792620475083994,
    ],
    [
        0.0240517457458813,
        0.02163651327882597,
        0.03437519298140973,
        0.03928870616974440,
        0.032494060062378739,
        0.017247060491642485,
    ],
]
ATT_GENERAL = [
    0.3708161943193289,
    0.0509037929715444,
    0.1557659901691414,
    0.1203450794036267,
    0.0065887225458609,
    0.0281822131216471,
]
ATT_COMPLETE = [
    [np.nan, 1.0, 1.0, 1.0, 1.0, 1.0],
    [0.0, np.nan, 0.0, 0.5, 1.0, 0.5],
    [0.0, 1.0, np.nan, 1.0, 1.0, 1.0],
    [0.0, 0.5, 0.0, np.nan, 1.0, 0.5],
    [0.0, 0.0, 0.0, 0.0, np.nan, 0.5],
    [0.0, 0.5, 0.0, 0.5, 0.5, np.nan],
]


def test_dominance_reproduces_attitude() -> None:
    res = dominance_analysis(pd.DataFrame(ATTITUDE), "rating", ATT, n_resamples=0)
    assert isinstance(res, DominanceResult)
    np.testing.assert_allclose(res.conditional.to_numpy(), ATT_CONDITIONAL, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.general["estimate"], ATT_GENERAL, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.complete.to_numpy(), ATT_COMPLETE)
    assert res.complete.index.tolist() == ATT
    # dominanceanalysis README (Bustos Navarrete & Coutinho Soares, CRAN 2.1.0), on
    # lm(rating ~ ., attitude) after Azen & Budescu (2003): "complaints completely
    # dominates all other predictors, followed by learning"; privileges completely
    # dominates critical.
    assert (res.complete.loc["complaints"].drop("complaints") == 1.0).all()
    assert res.complete.loc["privileges", "critical"] == 1.0
    assert res.general["n_completely_dominated"].tolist() == [5, 1, 4, 1, 0, 0]
    assert res.general["estimate"].sum() == pytest.approx(res.general["r2"].iloc[0], abs=1e-13)


def test_logistic_mcfadden_shapley_matches_r_glm() -> None:
    # Peer output: R 4.2.2, 1 - logLik(glm(am ~ S, binomial, mtcars)) / logLik(glm(am ~ 1))
    # (McFadden 1974) for the 7 subsets of {mpg, hp, qsec}, then the Shapley formula
    # (the general dominance of Azen & Traxel 2009): mpg 0.468884338537119,
    # hp 0.112589440616163, qsec 0.245492358486018; full-model pseudo-R² 0.826966137639301.
    for method in ("shapley", "dominance"):
        res = key_drivers(
            pd.DataFrame(MTCARS),
            "am",
            ["mpg", "hp", "qsec"],
            method=method,
            model="logistic",
            n_resamples=0,
        )
        # glm stops when the deviance changes by < 1e-8 (relative): agreement to 1e-7.
        np.testing.assert_allclose(
            res["estimate"],
            [0.468884338537119, 0.112589440616163, 0.245492358486018],
            rtol=0,
            atol=1e-7,
        )
        assert res["r2"].iloc[0] == pytest.approx(0.826966137639301, abs=1e-7)
        assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-13)
        assert res.attrs["hxmetrics"]["fit_statistic"] == "mcfadden_pseudo_r2"


# ---------------------------------------------------------------------------
# The computation
# ---------------------------------------------------------------------------


def test_subset_r2_equals_least_squares_refits() -> None:
    df = _simulated(n=80, k=5, seed=2)
    x = df[[f"d{j}" for j in range(5)]].to_numpy()
    y = df["y"].to_numpy()
    corr = np.corrcoef(np.column_stack([y, x]), rowvar=False)[None]
    values = subset_r2(corr)[0]
    tss = ((y - y.mean()) ** 2).sum()
    for mask in range(1, 32):
        cols = [j for j in range(5) if mask >> j & 1]
        design = np.column_stack([np.ones(80), x[:, cols]])
        resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
        assert values[mask] == pytest.approx(1 - (resid**2).sum() / tss, abs=1e-12)


def test_weights_sum_to_r2_every_method() -> None:
    df = _simulated(n=200, k=5)
    names = [f"d{j}" for j in range(5)]
    for method in ("relative_weights", "shapley", "dominance"):
        res = key_drivers(df, "y", names, method=method, n_resamples=20, random_state=0)
        assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-13)
        assert res.attrs["hxmetrics"]["exact"]


def _wide(n: int, k: int, seed: int) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    load = rng.uniform(0.2, 0.8, size=(3, k))
    x = z @ load + rng.normal(size=(n, k))
    names = [f"d{j:02d}" for j in range(k)]
    df = pd.DataFrame(x, columns=names)
    df["y"] = x @ rng.uniform(0, 0.4, size=k) + rng.normal(size=n)
    return df, names


def test_sampled_shapley_agrees_with_exact_within_its_error() -> None:
    # 16 drivers: key_drivers samples orders of entry; the exact values come from all
    # 2^16 subsets (subset_r2). Each driver's sampled value must lie within 4 of its
    # stated Monte Carlo standard errors of the exact one: with 16 drivers the chance
    # of a false failure is below 16 * 6.3e-5 = 1e-3 (normal approximation, 2000 orders).
    df, names = _wide(500, 16, seed=5)
    res = key_drivers(df, "y", names, method="shapley", n_resamples=0, random_state=11)
    assert not res.attrs["hxmetrics"]["exact"]
    assert res.attrs["hxmetrics"]["n_permutations"] == 2000
    corr = np.corrcoef(df[["y", *names]].to_numpy(), rowvar=False)[None]
    exact = _shapley_from_subsets(subset_r2(corr), 16)[0]
    se = res["mc_se"].to_numpy()
    assert np.all(se > 0)
    assert np.all(np.abs(res["estimate"].to_numpy() - exact) < 4 * se)
    # Every sampled order's gains add up to R²: so does their mean.
    assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-12)
    assert res["r2"].iloc[0] == pytest.approx(subset_r2(corr)[0, -1], abs=1e-12)


def test_exact_up_to_fifteen_drivers() -> None:
    df, names = _wide(300, EXACT_MAX_DRIVERS, seed=1)
    res = key_drivers(df, "y", names, method="shapley", n_resamples=0)
    assert res.attrs["hxmetrics"]["exact"]
    assert res["mc_se"].isna().all()
    assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-12)


def test_integer_weights_equal_replicated_rows() -> None:
    df = _simulated(n=60, k=3, seed=4)
    names = ["d0", "d1", "d2"]
    df["w"] = np.random.default_rng(0).integers(1, 4, size=60)
    repeated = df.loc[df.index.repeat(df["w"])]
    for method in ("relative_weights", "shapley"):
        a = key_drivers(df, "y", names, method=method, weights="w", n_resamples=0)
        b = key_drivers(repeated, "y", names, method=method, n_resamples=0)
        np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-10)
        np.testing.assert_allclose(a["driver_mean"], b["driver_mean"], rtol=1e-12)
    assert a.attrs["hxmetrics"]["weighted"]


def test_bootstrap_columns_and_reproducibility() -> None:
    df = _simulated(n=150, k=3, seed=8)
    names = ["d0", "d1", "d2"]
    a = key_drivers(df, "y", names, n_resamples=200, random_state=3)
    b = key_drivers(df, "y", names, n_resamples=200, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    assert (a["ci_low"] <= a["estimate"]).all()
    assert (a["estimate"] <= a["ci_high"]).all()
    assert (a["rank_low"] <= a["rank"]).all()
    assert (a["rank"] <= a["rank_high"]).all()
    assert (a["r2_ci_low"] < a["r2"]).all()
    assert (a["r2"] < a["r2_ci_high"]).all()
    assert (a["se"] > 0).all()
    meta = a.attrs["hxmetrics"]
    assert meta["method"] == "bootstrap_bca"
    assert meta["n_resamples"] == 200
    assert meta["n_resamples_failed"] == 0
    none = key_drivers(df, "y", names, n_resamples=0)
    assert none[["se", "ci_low", "ci_high"]].isna().all().all()


def test_result_protocol_and_groups() -> None:
    df = _simulated(n=400, k=3, seed=9)
    df["role"] = np.where(np.arange(400) % 4 == 0, "partner", "customer")
    df.loc[:3, "role"] = "worker"  # 4 rows: under min_n
    res = key_drivers(
        df, "y", ["d0", "d1", "d2"], by="role", n_resamples=30, random_state=0, min_n=10
    )
    assert list(res.columns[:3]) == ["measure", "role", "driver"]
    assert res["n"].dtype == "Int64"
    assert len(res) == 9
    worker = res[res["role"] == "worker"]
    assert worker["suppressed"].all()
    assert worker["estimate"].isna().all()
    # Suppression hides the complement too (two shown groups of three): whatever the
    # privacy layer decides, a shown group's weights still add up to its R².
    for _, part in res[~res["suppressed"]].groupby("role"):
        assert part["estimate"].sum() == pytest.approx(part["r2"].iloc[0], abs=1e-13)


def test_missing_values_counted_not_dropped_silently() -> None:
    df = _simulated(n=100, k=3, seed=10)
    df.loc[:4, "y"] = np.nan
    df.loc[3:9, "d1"] = np.nan  # rows 3, 4 lack the outcome too: counted there only
    res = key_drivers(df, "y", ["d0", "d1", "d2"], n_resamples=0)
    assert res["n"].iloc[0] == 90
    assert res["n_excluded_missing_outcome"].iloc[0] == 5
    assert res["n_excluded_missing_driver"].iloc[0] == 5
    assert res.attrs["hxmetrics"]["excluded"] == {"missing_outcome": 5, "missing_driver": 5}


def test_polars_input_gives_the_same_result() -> None:
    # Why: polars is an optional engine, a test extra that CI installs.
    pl = pytest.importorskip("polars", reason="polars is an optional engine")
    df = _simulated(n=80, k=3, seed=12)
    a = key_drivers(df, "y", ["d0", "d1", "d2"], n_resamples=0)
    b = key_drivers(pl.from_pandas(df), "y", ["d0", "d1", "d2"], n_resamples=0)
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_constant_driver_is_named() -> None:
    df = _simulated(n=50, k=3).assign(d1=2.0)
    with pytest.raises(InputTableError, match="'d1' is constant") as err:
        key_drivers(df, "y", ["d0", "d1", "d2"], n_resamples=0)
    assert err.value.failure_cases["check"].iloc[0] == "not_constant"


def test_collinear_drivers_are_named() -> None:
    df = _simulated(n=50, k=3)
    df["d3"] = df["d0"] - 2 * df["d1"]
    with pytest.raises(InputTableError, match="collinear") as err:
        key_drivers(df, "y", ["d0", "d1", "d2", "d3"], method="shapley", n_resamples=0)
    message = str(err.value)
    assert "'d0'" in message
    assert "'d1'" in message
    assert "'d3'" in message
    assert "'d2'" not in message
    assert err.value.failure_cases["check"].iloc[0] == "not_collinear"


def test_too_few_rows() -> None:
    df = _simulated(n=4, k=3)
    with pytest.raises(InputTableError, match="at least 5 rows") as err:
        key_drivers(df, "y", ["d0", "d1", "d2"], n_resamples=0)
    assert err.value.failure_cases["check"].iloc[0] == "rows_at_least_drivers_plus_2"


def test_non_numeric_driver() -> None:
    df = _simulated(n=30, k=2).assign(team=lambda d: np.where(d.d0 > 0, "a", "b"))
    with pytest.raises(InputTableError, match="'team' must be numeric"):
        key_drivers(df, "y", ["d0", "team"], n_resamples=0)


def test_outcome_among_drivers() -> None:
    df = _simulated(n=30, k=2)
    with pytest.raises(ParameterError, match="also listed in drivers"):
        key_drivers(df, "y", ["d0", "y"], n_resamples=0)


def test_dominance_above_fifteen_drivers_refused() -> None:
    df, names = _wide(100, 16, seed=0)
    with pytest.raises(ParameterError, match="more than the 15"):
        key_drivers(df, "y", names, method="dominance", n_resamples=0)


def test_other_bad_arguments() -> None:
    df = _simulated(n=30, k=2)
    with pytest.raises(ParameterError, match="method must be one of"):
        key_drivers(df, "y", ["d0", "d1"], method="lmg")
    with pytest.raises(InputTableError, match="not found"):
        key_drivers(df, "y", ["d0", "nope"])
    with pytest.raises(ParameterError, match="relative weights"):
        key_drivers(df.assign(y=(df.y > 0).astype(int)), "y", ["d0", "d1"], model="logistic")
    with pytest.raises(InputTableError, match="coded 0/1"):
        key_drivers(df, "y", ["d0", "d1"], method="shapley", model="logistic")
    with pytest.raises(InputTableError, match="greater than 0"):
        key_drivers(df.assign(w=0.0), "y", ["d0", "d1"], weights="w")
    with pytest.raises(ParameterError, match="more than once"):
        key_drivers(df, "y", ["d0", "d0"])


# ---------------------------------------------------------------------------
# Invariances (hypothesis)
# ---------------------------------------------------------------------------

_METHODS = st.sampled_from(["relative_weights", "shapley", "dominance"])


# Why: fits on generated frames are slow on a shared runner; no assertion is loosened.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), method=_METHODS)
def test_unit_weights_equal_unweighted(seed: int, method: str) -> None:
    df = _simulated(n=40, k=3, seed=seed).assign(w=1.0)
    a = key_drivers(df, "y", ["d0", "d1", "d2"], method=method, n_resamples=0)
    b = key_drivers(df, "y", ["d0", "d1", "d2"], method=method, weights="w", n_resamples=0)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-9, atol=1e-13)
    assert a["r2"].iloc[0] == pytest.approx(b["r2"].iloc[0], abs=1e-13)


# Why: as above: time limits only, the examples and assertions are unchanged.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), method=_METHODS, data=st.data())
def test_row_order_and_driver_order_invariance(seed: int, method: str, data: st.DataObject) -> None:
    names = ["d0", "d1", "d2", "d3"]
    df = _simulated(n=40, k=4, seed=seed)
    rows = data.draw(st.permutations(range(40)))
    order = data.draw(st.permutations(names))
    a = key_drivers(df, "y", names, method=method, n_resamples=0).set_index("driver")
    b = key_drivers(df.iloc[list(rows)], "y", names, method=method, n_resamples=0)
    c = key_drivers(df, "y", list(order), method=method, n_resamples=0)
    assert c["driver"].tolist() == list(order)
    c = c.set_index("driver")
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(c.loc[names, "estimate"], a["estimate"], rtol=1e-9, atol=1e-13)
    assert (c.loc[names, "rank"].to_numpy() == a["rank"].to_numpy()).all() or np.isclose(
        np.sort(a["estimate"])[:-1], np.sort(a["estimate"])[1:]
    ).any()


# ---------------------------------------------------------------------------
# Group comparison, plots, the long table
# ---------------------------------------------------------------------------


def _two_roles(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    role = np.repeat(["customer", "worker"], n // 2)
    x = rng.normal(size=(n, 2))
    slope = np.where(role == "worker", 0.1, 0.8)
    return pd.DataFrame(
        {
            "role": role,
            "ease": x[:, 0],
            "pay": x[:, 1],
            "y": slope * x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n),
        }
    )


def test_compare_key_drivers_difference_and_interval() -> None:
    df = _two_roles()
    out = compare_key_drivers(df, "y", ["ease", "pay"], by="role", n_resamples=300, random_state=2)
    assert out["role"].tolist() == ["worker", "worker"]
    assert out.attrs["hxmetrics"]["reference"] == "customer"
    each = key_drivers(df, "y", ["ease", "pay"], by="role", n_resamples=0)
    w = each.set_index(["role", "driver"])["estimate"]
    ease = out[out["driver"] == "ease"].iloc[0]
    assert ease["estimate"] == pytest.approx(w["worker", "ease"] - w["customer", "ease"])
    assert ease["ci_high"] < 0
    assert ease["p_value"] < 0.01
    assert ease["weight_reference"] == pytest.approx(w["customer", "ease"])
    out2 = compare_key_drivers(
        df, "y", ["ease", "pay"], by="role", reference="worker", n_resamples=50, random_state=2
    )
    assert out2["role"].tolist() == ["customer", "customer"]
    with pytest.raises(ParameterError, match="not a group"):
        compare_key_drivers(df, "y", ["ease", "pay"], by="role", reference="partner")


def test_compare_hides_rows_against_a_suppressed_reference() -> None:
    df = _two_roles()
    df.loc[:289, "y"] = np.nan  # customers keep 10 complete rows
    out = compare_key_drivers(
        df, "y", ["ease", "pay"], by="role", n_resamples=20, random_state=0, min_n=20
    )
    assert out["suppressed"].all()
    assert out["estimate"].isna().all()
    assert out["n_reference"].isna().all()


def test_plots_return_axes() -> None:
    import matplotlib.pyplot as plt

    df = _two_roles()
    res = key_drivers(df, "y", ["ease", "pay"], by="role", n_resamples=0)
    _fig, ax = plt.subplots()
    assert plot_key_drivers(res, group="worker", ax=ax) is ax
    assert ax.get_ylabel() == "importance (% of R²)"
    with pytest.raises(ParameterError, match="choose one with group="):
        plot_key_drivers(res)
    dom = dominance_analysis(df, "y", ["ease", "pay"], by="role", n_resamples=20, random_state=0)
    assert dom.plot(ax=ax) is ax
    assert "<table>" in dom._repr_html_()
    assert dom.complete.index.names == ["role", "driver"]
    plt.close("all")


def test_dominance_bootstrap_reproducibility() -> None:
    df = _simulated(n=300, k=3, seed=1)
    res = dominance_analysis(df, "y", ["d0", "d1", "d2"], n_resamples=100, random_state=0)
    rep = res.complete_reproducibility.to_numpy()
    assert np.nanmin(rep) >= 0
    assert np.nanmax(rep) <= 1
    # d0 (slope 0.8) dominates d2 (slope 0.1) in (nearly) every resample.
    assert res.complete_reproducibility.loc["d0", "d2"] > 0.95


def test_driver_table_from_simulated_responses() -> None:
    from hxmetrics.datasets import simulate_organisation

    org = simulate_organisation(n_people=300, random_state=1)
    wide = driver_table(org.responses, ("nps", "ltr"), "hx_core", by="silo", weights="weight")
    assert list(wide.columns) == [
        "response_id",
        "silo",
        "weight",
        "ltr",
        "hx1",
        "hx2",
        "hx3",
        "hx4",
        "hx5",
        "hx6",
    ]
    assert wide["response_id"].is_unique
    res = key_drivers(
        wide.dropna(subset=["hx1"]),
        "ltr",
        ["hx1", "hx2", "hx3", "hx4", "hx5", "hx6"],
        by="silo",
        weights="weight",
        n_resamples=0,
        min_n=5,
    )
    assert set(res["silo"]) <= {"customers", "workers", "partners"}
    shown = res[~res["suppressed"]]
    assert len(shown) > 0
    for _, part in shown.groupby("silo"):
        assert part["estimate"].sum() == pytest.approx(part["r2"].iloc[0], abs=1e-12)
    # Every row is used or counted as excluded (on the unsuppressed result, so that the
    # check never depends on what suppression hides).
    n_rows = wide["hx1"].notna().sum()
    whole = key_drivers(
        wide.dropna(subset=["hx1"]),
        "ltr",
        ["hx1", "hx2", "hx3", "hx4", "hx5", "hx6"],
        by="silo",
        weights="weight",
        n_resamples=0,
        min_n=None,
    )
    first = whole.iloc[::6]
    counted = first[["n", "n_excluded_missing_outcome", "n_excluded_missing_driver"]].sum()
    assert int(counted.sum()) == n_rows
    assert wide.attrs["hxmetrics"]["columns"]["ltr"] == ("nps", "ltr")


def test_driver_table_errors() -> None:
    responses = pd.DataFrame(
        {
            "response_id": ["r1", "r1", "r1"],
            "instrument": ["nps", "hx", "hx"],
            "item": ["ltr", "hx1", "hx1"],
            "score": [9, 4, 5],
        }
    )
    with pytest.raises(InputTableError, match="same item twice"):
        driver_table(responses, ("nps", "ltr"), "hx")
    with pytest.raises(ParameterError, match="neither an instrument nor an item"):
        driver_table(responses, ("nps", "ltr"), "hx9")


def test_subsets_cover_every_combination() -> None:
    # The bitmask bookkeeping: subset_r2 fills each of the 2^k entries exactly once.
    k = 4
    corr = np.corrcoef(np.random.default_rng(0).normal(size=(30, k + 1)), rowvar=False)[None]
    values = subset_r2(corr)[0]
    assert values[0] == 0
    assert np.all(values[1:] > 0)
    for r in range(1, k + 1):
        for combo in itertools.combinations(range(k), r):
            mask = sum(1 << j for j in combo)
            sub = corr[0][np.ix_([j + 1 for j in combo], [j + 1 for j in combo])]
            rhs = corr[0][[j + 1 for j in combo], 0]
            assert values[mask] == pytest.approx(rhs @ np.linalg.solve(sub, rhs), abs=1e-13)


def _promoters(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    eta = x @ [1.2, 0.6, 0.0] - 0.3
    promoter = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame(x, columns=["ease", "speed", "price"]).assign(promoter=promoter)


def test_logistic_bootstrap_intervals() -> None:
    df = _promoters()
    res = key_drivers(
        df,
        "promoter",
        ["ease", "speed", "price"],
        method="shapley",
        model="logistic",
        n_resamples=100,
        random_state=4,
    )
    assert res["estimate"].sum() == pytest.approx(res["r2"].iloc[0], abs=1e-13)
    assert res[["ci_low", "ci_high", "se"]].notna().all().all()
    assert (res["ci_low"] < res["ci_high"]).all()
    assert res["rank"].tolist() == [1, 2, 3]
    assert res.attrs["hxmetrics"]["n_resamples_failed"] == 0


def test_logistic_separation_warns() -> None:
    from hxmetrics.errors import HxWarning

    df = _promoters(n=60)
    df["ease"] = np.where(df["promoter"] == 1, 1.0, -1.0) + 0.01 * np.arange(60)
    with pytest.warns(HxWarning, match="separate the outcome"):
        key_drivers(
            df, "promoter", ["ease", "speed"], method="shapley", model="logistic", n_resamples=0
        )


def test_two_group_columns_and_tuple_reference() -> None:
    df = _two_roles(seed=3)
    df["wave"] = np.tile(["a", "b"], len(df) // 2)
    res = key_drivers(df, "y", ["ease", "pay"], by=["role", "wave"], n_resamples=0)
    assert list(res.columns[:4]) == ["measure", "role", "wave", "driver"]
    assert len(res) == 8
    assert res.attrs["hxmetrics"]["group_by"] == ["role", "wave"]
    out = compare_key_drivers(
        df,
        "y",
        ["ease", "pay"],
        by=["role", "wave"],
        reference=("customer", "b"),
        n_resamples=30,
        random_state=0,
    )
    assert out.attrs["hxmetrics"]["reference"] == ("customer", "b")
    assert len(out) == 6
    assert not ((out["role"] == "customer") & (out["wave"] == "b")).any()
