"""The research harness: the truth it uses, and the done-when simulation study."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hxmetrics.compare import plot_silo_bias, prepare_silos, siloed_vs_unified, simulate_silo_bias
from hxmetrics.compare.research import (
    RESULT_COLUMNS,
    _generating_cells,
    _LtrModel,
    _truth_registry,
)
from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.errors import ParameterError
from hxmetrics.stakeholders import StakeholderRegistry

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def org() -> Organisation:
    return simulate_organisation(1500, random_state=17, hybrid_share=0.4)


def test_redraw_model_is_the_simulators_model(org: Organisation) -> None:
    """The exact 0-10 probabilities of every cell equal the truth the simulator ships."""
    truth = org.truth.experience.nps
    model = _LtrModel(org.truth.experience.params)
    pmf = model.pmf(truth["mu"].to_numpy())
    np.testing.assert_allclose(pmf, truth[[f"p{k}" for k in range(11)]].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(model.expected_nps(truth["mu"].to_numpy()), truth["nps"], atol=1e-7)


def test_generating_cells_explain_the_simulated_answers(org: Organisation) -> None:
    design = prepare_silos(_truth_registry(org), org.responses)
    mu, cell_nps, person = _generating_cells(org, design.response_id)
    assert len(mu) == len(design.y)
    # The simulator's own answers scatter around their cells' true NPS: the mean
    # residual is zero within 4 person-clustered standard errors.
    resid = design.y - cell_nps
    sums = np.bincount(person, weights=resid)
    se = np.sqrt((sums**2).sum()) / len(resid)
    assert abs(resid.mean()) < 4 * se
    # The largest cell's answers follow its exact distribution.
    model = _LtrModel(org.truth.experience.params)
    values, counts = np.unique(mu, return_counts=True)
    big = values[np.argmax(counts)]
    idx = np.flatnonzero(mu == big)
    r = org.responses.set_index("response_id").loc[design.response_id[idx]]
    r = r[r["item"] == "ltr"]
    observed = np.bincount(r["score"].astype(int), minlength=11)
    probs = model.pmf(np.array([big]))[0]
    expected = probs * observed.sum()
    keep = expected >= 5
    obs, exp = observed[keep], expected[keep]
    if (~keep).any():
        obs = np.append(obs, observed[~keep].sum())
        exp = np.append(exp, expected[~keep].sum())
    assert stats.chisquare(obs, exp).pvalue > 1e-4


def test_redraws_have_the_cells_expectation(org: Organisation) -> None:
    design = prepare_silos(_truth_registry(org), org.responses)
    mu, cell_nps, person = _generating_cells(org, design.response_id)
    model = _LtrModel(org.truth.experience.params)
    reps = 300
    y = model.draw(np.random.default_rng(3), mu, person, reps)
    # The redraws are independent, so the error averaged over answers within one redraw
    # is one draw of a variable whose SE includes the within-person correlation of the
    # person effect; its mean over the 300 redraws has SE sd / sqrt(300), estimated
    # from the redraws (measured 0.139 points; the error is 0.166).
    per_redraw = (y - cell_nps[:, None]).mean(axis=0)
    se = per_redraw.std(ddof=1) / np.sqrt(reps)
    assert abs(per_redraw.mean()) < 4 * se


@pytest.mark.slow
def test_unified_is_unbiased_and_siloed_shows_the_implied_bias() -> None:
    """Done-when criterion, 200 replications with known truth.

    With 200 replications a true 95% coverage is observed within about
    [0.92, 0.98] (binomial 0.95 +- 1.96 sqrt(0.95 0.05 / 200) = 0.95 +- 0.030).
    Biases are judged against their Monte Carlo standard errors (3 MCSE).
    The customer group with many strongly different hybrids: the siloed customer
    NPS misses the worker-customers' other-role experience.
    """
    res = simulate_silo_bias(
        n_people=600,
        hybrid_shares=[0.5],
        hybrid_effects=[2.0],
        n_replications=200,
        n_organisations=2,
        role="customer",
        random_state=20250101,
    )
    assert list(res.columns) == RESULT_COLUMNS
    r = res.set_index("estimator")
    uni, sil, gap = r.loc["unified"], r.loc["siloed"], r.loc["difference"]
    assert uni["n_replications"] == 200
    assert 0.92 <= uni["coverage"] <= 0.98
    assert abs(uni["bias"]) <= 3 * uni["bias_mcse"]
    assert uni["implied_bias"] == 0.0
    # The simulator implies a large siloed bias, and the siloed estimates show it.
    assert sil["implied_bias"] > 10 * sil["bias_mcse"]
    assert abs(sil["bias"] - sil["implied_bias"]) <= 3 * sil["bias_mcse"]
    assert sil["coverage"] < uni["coverage"] - 0.1
    # The gap estimator is centred on the implied gap.
    assert abs(gap["bias"]) <= 3 * gap["bias_mcse"]
    # The clustered SE estimates the sampling sd (within 10%: the SD from 200
    # replications is itself uncertain by 1/sqrt(2*199) = 5%, so 10% is 2 MC SE).
    assert uni["mean_se"] == pytest.approx(uni["sd_estimate"], rel=0.10)


@pytest.mark.slow
def test_organisation_wide_gap_matches_the_implied_double_counting() -> None:
    res = simulate_silo_bias(
        n_people=600,
        hybrid_shares=[0.5],
        hybrid_effects=[2.0],
        n_replications=200,
        n_organisations=2,
        role="all",
        random_state=7,
    )
    r = res.set_index("estimator")
    uni, sil, gap = r.loc["unified"], r.loc["siloed"], r.loc["difference"]
    assert 0.92 <= uni["coverage"] <= 0.98
    assert abs(uni["bias"]) <= 3 * uni["bias_mcse"]
    # Organisation-wide the siloed bias is small against one estimate's SE but clear
    # in the paired gap, whose MCSE is four times smaller.
    assert abs(gap["target"]) > 5 * gap["bias_mcse"]
    assert abs(gap["bias"]) <= 3 * gap["bias_mcse"]
    assert sil["implied_bias"] == pytest.approx(gap["target"])
    # The siloed estimates show the implied bias (within 3 MCSE).
    assert abs(sil["bias"] - sil["implied_bias"]) <= 3 * sil["bias_mcse"]


def test_full_pipeline_with_resolution_gives_the_same(org: Organisation) -> None:
    """Identity resolution (noisy keys) instead of the true crosswalk: same estimates."""
    reg = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    for role in ("all", "customer"):
        a = siloed_vs_unified(reg, org.responses, role=role).estimates
        b = siloed_vs_unified(_truth_registry(org), org.responses, role=role).estimates
        assert ((a["estimate"] - b["estimate"]).abs() <= 0.05 * b["se"]).all()
        assert ((a["n_units"] - b["n_units"]).abs() <= 0.005 * b["n_units"]).all()


def test_no_hybrids_no_bias() -> None:
    res = simulate_silo_bias(
        n_people=200,
        hybrid_shares=[0.0],
        hybrid_effects=[1.0],
        n_replications=20,
        n_organisations=2,
        random_state=3,
    )
    # Without hybrids the only gap is role attribution of the few unattributable answers.
    assert res.set_index("estimator").loc["siloed", "implied_bias"] == pytest.approx(0, abs=1.0)


def test_plot_silo_bias_returns_the_axes() -> None:
    import matplotlib.pyplot as plt

    res = simulate_silo_bias(
        n_people=150,
        hybrid_shares=[0.0, 0.5],
        hybrid_effects=[0.0, 2.0],
        n_replications=10,
        n_organisations=1,
        random_state=4,
    )
    assert len(res) == 2 * 2 * 3
    fig, ax = plt.subplots()
    for metric in ("bias", "coverage", "rmse"):
        ax.clear()
        assert plot_silo_bias(res, ax=ax, metric=metric) is ax
    assert ax.get_xlabel() == "hybrid share"
    plt.close(fig)
    with pytest.raises(ParameterError, match="metric must be one of"):
        plot_silo_bias(res, metric="mse")
    with pytest.raises(ParameterError, match="columns"):
        plot_silo_bias(pd.DataFrame({"x": [1]}))


def test_errors() -> None:
    with pytest.raises(ParameterError, match="n_people"):
        simulate_silo_bias(n_people=5)
    with pytest.raises(ParameterError, match="hybrid_shares"):
        simulate_silo_bias(hybrid_shares=[1.5])
    with pytest.raises(ParameterError, match="n_organisations"):
        simulate_silo_bias(n_replications=3, n_organisations=4)
    with pytest.raises(ParameterError, match="role must be one of"):
        simulate_silo_bias(role="everyone")


def test_a_legacy_random_state_is_refused_as_everywhere() -> None:
    # Found (issue 11): seeds were typed four ways; simulate_silo_bias alone still took a
    # legacy numpy RandomState that every measure refuses.
    with pytest.raises(ParameterError, match="default_rng"):
        simulate_silo_bias(
            n_people=200, n_replications=2, n_organisations=1, random_state=np.random.RandomState(1)
        )
