"""Hostile and careless inputs to the survey measures (issue 10).

Each test reproduces one finding of issue 10 ("silent results on bad input"): the
old code returned NaN with only a RuntimeWarning, accepted duplicate answers, kept
the counts of a suppressed group, or fixed the wrong marker item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures import (
    cfa,
    cronbach_alpha,
    csat,
    hx_index,
    kaplan_meier,
    mcdonald_omega,
    mean_score,
    measurement_invariance,
    nps,
)
from hxmetrics.measures.index import sensitivity

# --------------------------------------------------------------- huge weights

ANSWERS = pd.DataFrame(
    {
        "score": [9, 10, 3, 7, 9, 10, 6, 8],
        "team": list("aabbabab"),
        "w": [1.0, 2.0, 1.5, 1.0, 0.5, 1.0, 2.0, 1.0],
    }
)


def _huge(rows: list[int], value: float = 1e308) -> pd.DataFrame:
    df = ANSWERS.copy()
    df.loc[rows, "w"] = value
    return df


WEIGHTED = [
    pytest.param(lambda d, **kw: nps(d, "score", weights="w", **kw), id="nps"),
    pytest.param(
        lambda d, **kw: csat(d, "score", scale=(0, 10), box=[9, 10], weights="w", **kw),
        id="csat",
    ),
    pytest.param(
        lambda d, **kw: mean_score(d, "score", scale=(0, 10), weights="w", **kw), id="mean"
    ),
]


@pytest.mark.parametrize("measure", WEIGHTED)
def test_weights_whose_squares_overflow_name_the_column_and_rows(measure) -> None:
    # Before: NaN estimates with only "RuntimeWarning: overflow encountered in reduce".
    with pytest.raises(InputTableError, match=r"'w'.*weight_total") as err:
        measure(_huge([0, 4]))
    message = str(err.value)
    assert "row 0" in message
    assert "row 4" in message
    assert "row 1:" not in message  # ordinary weights are not blamed
    assert set(err.value.failure_cases["index"]) == {0, 4}


@pytest.mark.parametrize("measure", WEIGHTED)
def test_one_large_weight_whose_square_overflows_is_refused_per_group(measure) -> None:
    # One weight of 1e200 per group: Σw is finite but Σw² is not.
    with pytest.raises(InputTableError, match="weight_total"):
        measure(_huge([2], 1e200), by="team")


@pytest.mark.parametrize("measure", WEIGHTED)
def test_weights_are_scale_invariant_below_the_limit(measure) -> None:
    # Large but admissible weights give the same estimates as ordinary ones.
    plain = measure(ANSWERS, by="team")
    scaled = measure(ANSWERS.assign(w=ANSWERS["w"] * 1e120), by="team")
    for column in ("se", "ci_low", "ci_high", "n_eff", "deff"):
        # rtol: a few roundings of the scaled sums (1e120 is not a power of two).
        np.testing.assert_allclose(scaled[column], plain[column], rtol=1e-12)


@pytest.mark.parametrize("measure", WEIGHTED[:2])
def test_weights_whose_total_squared_overflows_are_rescaled(measure) -> None:
    # Σw² = 1.3e308 is finite, (Σw)² = 9e308 is not: before, NaN with a RuntimeWarning.
    # Groups whose weights total more than 1e100 are rescaled to a total of 1.
    plain = measure(ANSWERS)
    scaled = measure(ANSWERS.assign(w=ANSWERS["w"] * 3e153))
    for column in ("se", "ci_low", "ci_high", "n_eff", "deff"):
        # rtol: as above, plus the rescaling's division by Σw.
        np.testing.assert_allclose(scaled[column], plain[column], rtol=1e-12)


def test_huge_weights_on_unanswered_rows_do_not_matter() -> None:
    # A missing answer is excluded whatever its weight.
    df = ANSWERS.copy()
    df["score"] = df["score"].astype(float)
    df.loc[[0, 4], "score"] = np.nan
    df.loc[[0, 4], "w"] = 1e308
    out = nps(df, "score", weights="w")
    expected = nps(ANSWERS.drop(index=[0, 4]), "score", weights="w")
    assert np.isfinite(out["estimate"]).all()
    np.testing.assert_allclose(out["estimate"], expected["estimate"], rtol=1e-12)


def test_scores_whose_squares_overflow_are_refused() -> None:
    # mean_score without a scale accepts any finite number; 1e200 squared is inf.
    df = pd.DataFrame({"x": [1.0, 2.0, 1e200, 3.0]})
    with pytest.raises(InputTableError, match=r"'x'.*score_magnitude.*row 2"):
        mean_score(df, "x")


def test_weighted_scores_whose_products_overflow_are_refused() -> None:
    # w and x are each admissible, w²x² is not.
    df = pd.DataFrame({"x": [1.0, 2.0, 1e100, 3.0], "w": [1.0, 1e100, 1e60, 1.0]})
    with pytest.raises(InputTableError, match=r"'w'.*weighted_score_magnitude.*row 2"):
        mean_score(df, "x", weights="w")


# --------------------------------------------------------------------- hx_index


def _long(n_persons: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for grp, n in n_persons.items():
        for k in range(n):
            # Items that measure one thing (the index warns about unrelated items).
            latent = rng.normal()
            for item in ("hx1", "hx2"):
                rows.append(
                    {
                        "response_id": f"{grp}-{k}",
                        "person_id": f"{grp}-{k}",
                        "grp": grp,
                        "item": item,
                        "score": float(np.clip(np.round(3 + latent + rng.normal(0, 0.5)), 1, 5)),
                    }
                )
    return pd.DataFrame(rows)


def test_hx_index_refuses_duplicate_response_item_rows() -> None:
    data = _long({"a": 4, "b": 3})
    dup = pd.concat([data, data.iloc[[5]]], ignore_index=True)
    with pytest.raises(InputTableError, match=r"response_id.*item") as err:
        hx_index(dup, ["hx1", "hx2"], by="grp", min_n=1, n_resamples=0)
    message = str(err.value)
    assert "row 5" in message
    assert f"row {len(dup) - 1}" in message
    # The response id is an identifier: rows are shown by label, not by its value.
    assert "a-2" not in message


def test_hx_index_refuses_duplicate_rows_in_wide_data() -> None:
    wide = pd.DataFrame(
        {"response_id": ["r1", "r2", "r2"], "grp": "a", "hx1": [1, 2, 3], "hx2": [4, 5, 1]}
    )
    with pytest.raises(InputTableError, match="response_id"):
        hx_index(wide, ["hx1", "hx2"], by="grp", min_n=1, n_resamples=0)


def test_hx_index_hides_counts_of_suppressed_groups_and_a_neighbour() -> None:
    data = _long({"a": 12, "b": 20, "c": 3})
    out = hx_index(data, ["hx1", "hx2"], by="grp", min_n=5, n_resamples=0).set_index("grp")
    # c is below min_n; a, the smallest neighbour, is hidden too: the total of every
    # group (which a query without `group` shows) minus b would give c back otherwise.
    assert out["suppressed"].tolist() == [True, False, True]
    for g in ("a", "c"):
        assert out.loc[g, "n"] is pd.NA
        assert out.loc[g, "n_responses"] is pd.NA
        assert np.isnan(float(out.loc[g, "estimate"]))
    assert out.loc["b", "n"] == 20
    # The estimate columns are unchanged for shown groups.
    alone = hx_index(data[data["grp"] == "b"], ["hx1", "hx2"], by="grp", min_n=5, n_resamples=0)
    assert out.loc["b", "estimate"] == alone["estimate"].iloc[0]


def test_sensitivity_hides_the_same_groups_as_hx_index() -> None:
    data = _long({"a": 12, "b": 20, "c": 3, "d": 15})
    kw = {"by": "grp", "min_n": 5}
    shown = hx_index(data, ["hx1", "hx2"], n_resamples=0, **kw)
    res = sensitivity(data, ["hx1", "hx2"], n_resamples=20, random_state=0, **kw)
    summary = res.summary()
    assert summary["suppressed"].tolist() == shown["suppressed"].tolist()
    assert summary.loc[summary["suppressed"], "n"].isna().all()


# ----------------------------------------------------------- invariance markers

# Two factors; "c" loads on both and is listed *last* for f2, whose marker is "d".
CROSS_MODEL = {"f1": ["a", "b", "c"], "f2": ["d", "e", "f", "c"]}


def _two_factor_answers(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    eta = rng.multivariate_normal([0, 0], [[1.0, 0.4], [0.4, 1.2]], size=n)
    load = {
        "a": (1.0, 0),
        "b": (0.8, 0),
        "c": (0.6, 0.5),
        "d": (0, 1.0),
        "e": (0, 0.7),
        "f": (0, 0.9),
    }
    out = {
        k: l1 * eta[:, 0] + l2 * eta[:, 1] + rng.normal(0, 0.6, n) for k, (l1, l2) in load.items()
    }
    return pd.DataFrame(out)


def test_invariance_keeps_the_markers_of_a_model_with_a_cross_loading() -> None:
    g1, g2 = _two_factor_answers(400, 1), _two_factor_answers(350, 2)
    both = pd.concat([g1.assign(grp="x"), g2.assign(grp="y")], ignore_index=True)
    res = measurement_invariance(both, CROSS_MODEL, by="grp", levels=["configural", "metric"])
    configural = res.fits["configural"]
    joint = cfa(both, CROSS_MODEL, by="grp")
    # The configural model is cfa() per group: same fit, same estimates.
    assert configural.fit_measures_["chisq"] == pytest.approx(joint.fit_measures_["chisq"])
    est = configural.params_.set_index(["group", "lhs", "op", "rhs"])["estimate"]
    ref = joint.params_.set_index(["group", "lhs", "op", "rhs"])["estimate"]
    pd.testing.assert_series_equal(est.sort_index(), ref.sort_index(), rtol=1e-5)
    # d (listed first for f2) is the marker: its loading is fixed to 1, c's is free.
    loading = configural.params_.query("op == '=~' and lhs == 'f2'").set_index(["group", "rhs"])
    assert (loading.xs("d", level="rhs")["estimate"] == 1.0).all()
    assert loading.xs("d", level="rhs")["free"].eq(False).all()
    assert loading.xs("c", level="rhs")["free"].all()
    # Per group, each group's configural estimates equal a single-group cfa().
    for name, part in (("x", g1), ("y", g2)):
        single = cfa(part, CROSS_MODEL).params_.set_index(["lhs", "op", "rhs"])["estimate"]
        mine = est.xs(name, level="group")
        common = single.index.intersection(mine.index)
        assert len(common) == 16  # 7 loadings, 3 factor (co)variances, 6 residuals
        np.testing.assert_allclose(mine[common], single[common], rtol=2e-4)


def test_cfa_model_round_trips_with_its_markers() -> None:
    fit = cfa(_two_factor_answers(300, 3), CROSS_MODEL)
    assert fit.model["f2"][0] == "d"
    assert fit.to_dict()["model"]["f2"] == ["d", "e", "f", "c"]


def test_hx_index_refuses_weights_whose_sums_overflow() -> None:
    data = _long({"a": 6, "b": 6}).assign(w=1.0)
    data.loc[[0, 1], "w"] = 1e308
    with pytest.raises(InputTableError, match=r"'w'.*weight_total.*row 0: 1e\+308; row 1") as err:
        hx_index(data, ["hx1", "hx2"], by="grp", weights="w", min_n=1, n_resamples=20)
    assert "a-0" not in str(err.value)


def test_hx_index_refuses_infinite_weights_by_row() -> None:
    data = _long({"a": 6, "b": 6}).assign(w=1.0)
    data.loc[3, "w"] = np.inf
    with pytest.raises(InputTableError, match=r"'w'.*positive_weight.*row 3: inf") as err:
        hx_index(data, ["hx1", "hx2"], by="grp", weights="w", min_n=1, n_resamples=20)
    assert "a-1" not in str(err.value)


@pytest.mark.parametrize("measure", [cronbach_alpha, mcdonald_omega])
def test_reliability_refuses_answers_whose_covariance_overflows(measure) -> None:
    # Before: NaN with "RuntimeWarning: overflow encountered in matmul".
    rng = np.random.default_rng(4)
    wide = pd.DataFrame(rng.integers(1, 6, (30, 3)).astype(float), columns=["a", "b", "c"])
    wide.loc[7, "b"] = 1e200
    with pytest.raises(InputTableError, match=r"finite_covariance.*row 7, 'b': 1e\+200"):
        measure(wide, items=["a", "b", "c"])


def test_kaplan_meier_refuses_weights_whose_sum_overflows() -> None:
    # Before: NaN survival with "RuntimeWarning: overflow encountered in accumulate".
    with pytest.raises(ParameterError, match=r"positions \[0, 1\]"):
        kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1], weights=[1e308, 1e308, 1.0, 1.0])
