"""siloed_vs_unified: the estimators by hand, the decomposition, the clustered inference."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hxmetrics.compare import (
    COMPONENTS,
    ESTIMATORS,
    SiloComparison,
    plot_decomposition,
    prepare_silos,
    siloed_vs_unified,
)
from hxmetrics.compare._design import vote_weights
from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.measures.nps import nps
from hxmetrics.measures.satisfaction import ces, csat, mean_score
from hxmetrics.stakeholders import StakeholderRegistry

matplotlib.use("Agg")


def _estimate(res: SiloComparison) -> dict[str, float]:
    return dict(zip(res.estimates["estimator"], res.estimates["estimate"], strict=True))


# --------------------------------------------------------------------------- by hand


def test_estimators_by_hand_for_everyone(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    res = siloed_vs_unified(reg, responses, role="all")
    est = _estimate(res)
    # siloed: records c1 (r1, r4: +100), w1 (-100), c2 (-100), c9 (+100) -> 0.
    assert est["siloed"] == pytest.approx(0.0)
    # deduplicated: A splits over customers (+100) and workers (-100) -> 0; B -100;
    # c9 (unlinked) +100 -> 0.
    assert est["deduplicated"] == pytest.approx(0.0)
    # attributed: r4 (no role in 2019) and r5 (unknown id) leave: A 0, B -100 -> -50.
    assert est["attributed"] == pytest.approx(-50.0)
    assert est["unified"] == pytest.approx(-50.0)
    dec = res.decomposition.set_index("component")["contribution"]
    assert dec["double_counting"] == pytest.approx(0.0)
    assert dec["role_attribution"] == pytest.approx(50.0)
    assert dec["hybrid_experience"] == pytest.approx(0.0)
    assert res.estimates["n_units"].tolist() == [4, 3, 2, 2]
    assert res.estimates["n_responses"].tolist() == [5, 5, 3, 3]


def test_estimators_by_hand_for_customers(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    res = siloed_vs_unified(reg, responses, role="customer")
    est = _estimate(res)
    # siloed: customer records c1 (+100, +100), c2 (-100), c9 (+100) -> 100/3.
    assert est["siloed"] == pytest.approx(100 / 3)
    assert est["deduplicated"] == pytest.approx(100 / 3)
    # attributed: A (r1 +100), B (-100) -> 0.
    assert est["attributed"] == pytest.approx(0.0)
    # unified: A also answered the worker survey while a customer: (+100 - 100)/2 = 0.
    assert est["unified"] == pytest.approx(-50.0)
    dec = res.decomposition.set_index("component")["contribution"]
    assert dec["role_attribution"] == pytest.approx(100 / 3)
    assert dec["hybrid_experience"] == pytest.approx(50.0)
    assert dec["total"] == pytest.approx(100 / 3 + 50)
    ex = res.exclusions.set_index("reason")["n"]
    assert ex["missing_score"] == 1
    assert ex["unknown_id"] == 1
    assert ex["outside_episodes"] == 1
    assert ex["recorded_by_other_silo"] == 1


def test_vote_weights_give_each_unit_one_vote() -> None:
    rng = np.random.default_rng(3)
    unit = rng.integers(0, 20, 300)
    silo = rng.integers(0, 3, 300)
    mask = rng.random(300) < 0.8
    w = vote_weights(mask, unit, silo)
    per_unit = np.bincount(unit, weights=w, minlength=20)
    present = np.bincount(unit[mask], minlength=20) > 0
    np.testing.assert_allclose(per_unit[present], 1.0)
    assert (w[~mask] == 0).all()


# --------------------------------------------------------------------------- one measure


@pytest.mark.parametrize(
    ("measure", "kwargs"),
    [("nps", {}), ("csat", {}), ("ces", {}), ("mean", {"instrument": "hx_core", "item": "hx3"})],
)
def test_estimates_equal_the_weighted_measures(
    sample: Organisation, sample_registry: StakeholderRegistry, measure: str, kwargs: dict
) -> None:
    """Each estimator is the library's own weighted measure with the vote weights."""
    design = prepare_silos(sample_registry, sample.responses, measure=measure, **kwargs)
    weights = design.weights("all")
    res = siloed_vs_unified(sample_registry, sample.responses, measure=measure, **kwargs)
    # Scores in design order, taken back from the responses table.
    item = {"nps": "ltr", "csat": "overall", "ces": "effort"}.get(measure, "hx3")
    r = sample.responses[sample.responses["item"] == item].set_index("response_id")
    score = r.loc[design.response_id, "score"].to_numpy(dtype=float)
    for k, name in enumerate(ESTIMATORS):
        keep = weights[:, k] > 0
        frame = pd.DataFrame({"score": score[keep], "w": weights[keep, k]})
        if measure == "nps":
            out = nps(frame, "score", weights="w")
        elif measure == "csat":
            out = csat(frame, "score", scale=(1, 5), box=(4, 5), weights="w")
        elif measure == "ces":
            out = ces(frame, "score", scale=(1, 7), polarity="higher_is_easier", weights="w")
        else:
            out = mean_score(frame, "score", weights="w")
        # The measures' estimate column (issue 11: "estimate"; before, the measure's name).
        value = out["estimate" if "estimate" in out.columns else measure].iloc[0]
        assert res.estimates.loc[k, "estimate"] == pytest.approx(value, rel=1e-10, abs=1e-10), name


# --------------------------------------------------------------------------- inference


def test_covariance_equals_statsmodels_stacked_cluster_regression(
    sample: Organisation, sample_registry: StakeholderRegistry
) -> None:
    """The stacked estimating-equation covariance is statsmodels' cluster-robust WLS.

    Stack one copy of the responses per estimator, regress the value on estimator
    indicators with the vote weights, cluster by person (statsmodels
    cov_type="cluster"); its small-sample factor is G/(G-1) (N-1)/(N-K), ours G/(G-1).
    """
    design = prepare_silos(sample_registry, sample.responses)
    weights = design.weights("worker")
    res = siloed_vs_unified(sample_registry, sample.responses, role="worker")
    ys, xs, ws, gs = [], [], [], []
    for k in range(4):
        keep = weights[:, k] > 0
        x = np.zeros((keep.sum(), 4))
        x[:, k] = 1.0
        ys.append(design.y[keep])
        xs.append(x)
        ws.append(weights[keep, k])
        gs.append(design.cluster[keep])
    y, x, w, g = (np.concatenate(a) for a in (ys, xs, ws, gs))
    fit = sm.WLS(y, x, weights=w).fit(cov_type="cluster", cov_kwds={"groups": g})
    np.testing.assert_allclose(fit.params, res.estimates["estimate"], rtol=1e-10)
    n, k = x.shape
    # statsmodels' G is the number of clusters present in the stacked rows.
    g_used = len(np.unique(g))
    ours = res.estimates["se"].to_numpy() ** 2
    ours *= (g_used / (g_used - 1)) / (design.n_clusters / (design.n_clusters - 1))
    ours *= (n - 1) / (n - k)
    np.testing.assert_allclose(np.diag(fit.cov_params()), ours, rtol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("role", ["all", "customer", "worker"])
def test_clustered_se_agrees_with_person_bootstrap(
    sample: Organisation, sample_registry: StakeholderRegistry, role: str
) -> None:
    """Done-when criterion: clustered SE within 10% of the person-level bootstrap.

    2000 resamples: the bootstrap SE's own Monte Carlo error is about
    1/sqrt(2 * 2000) = 1.6%, small against the 10% tolerance.
    """
    res = siloed_vs_unified(
        sample_registry, sample.responses, role=role, n_resamples=2000, random_state=11
    )
    est = res.estimates
    # Issue 6: the clustered SE agrees with the person-level bootstrap within 10%.
    np.testing.assert_allclose(est["se"], est["se_bootstrap"], rtol=0.10)
    d = res.difference.iloc[0]
    assert d["se"] == pytest.approx(d["se_bootstrap"], rel=0.10)
    # The same people are in both estimates: treating them as independent is far off.
    assert d["se"] < 0.6 * d["se_independent"]
    dec = res.decomposition[res.decomposition["se"] > 0]
    np.testing.assert_allclose(dec["se"], dec["se_bootstrap"], rtol=0.10)


def test_bootstrap_is_reproducible(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    a = siloed_vs_unified(reg, responses, n_resamples=200, random_state=5)
    b = siloed_vs_unified(reg, responses, n_resamples=200, random_state=5)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)


# --------------------------------------------------------------------------- properties


@settings(max_examples=15)
@given(
    seed=st.integers(0, 10_000),
    role=st.sampled_from(["all", "customer", "worker", "partner"]),
    shuffle=st.integers(0, 10_000),
)
@example(seed=4323, role="partner", shuffle=0)  # the partners silo recorded no answer
def test_decomposition_is_exact_and_order_free(seed: int, role: str, shuffle: int) -> None:
    org = simulate_organisation(60, random_state=seed, hybrid_share=0.5)
    reg = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    try:
        res = siloed_vs_unified(reg, org.responses, role=role)
    except InputTableError:
        return  # a tiny organisation may have nobody in the role
    dec = res.decomposition.set_index("component")["contribution"]
    gap = res.difference["difference"].iloc[0]
    est = _estimate(res)
    if res.estimates.set_index("estimator").loc["siloed", "n_responses"] == 0:
        # The role's silo recorded no answer (its people answered through other silos):
        # the siloed estimate, the gap and every step from it are undefined, not zero.
        assert np.isnan(est["siloed"])
        assert np.isnan(gap)
        assert dec[["double_counting", "total"]].isna().all()
        return
    parts = dec[list(COMPONENTS)].sum()
    assert parts == pytest.approx(gap, abs=1e-9)
    assert gap == pytest.approx(est["siloed"] - est["unified"], abs=1e-12)
    for name, (a, b) in COMPONENTS.items():
        assert dec[name] == pytest.approx(est[a] - est[b], abs=1e-12)
    finite = res.estimates["estimate"].dropna()
    assert ((finite >= -100) & (finite <= 100)).all()
    if role == "all":
        assert dec["hybrid_experience"] == 0.0
    shuffled = org.responses.sample(frac=1.0, random_state=shuffle)
    again = siloed_vs_unified(reg, shuffled, role=role)
    np.testing.assert_allclose(again.estimates["estimate"], res.estimates["estimate"], atol=1e-9)
    np.testing.assert_allclose(again.estimates["se"], res.estimates["se"], atol=1e-9)


def test_without_hybrids_or_noise_siloed_equals_unified() -> None:
    """One record per person, one silo each, every answer attributable: no gap at all."""
    org = simulate_organisation(
        150, random_state=4, hybrid_share=0.0, experience={"unattributable_share": 0.0}
    )
    reg = StakeholderRegistry.from_rosters(
        customers=org.customers, workers=org.workers, partners=org.partners
    )
    res = siloed_vs_unified(reg, org.responses)
    est = res.estimates["estimate"].to_numpy()
    np.testing.assert_allclose(est, est[0], atol=1e-10)
    assert res.difference["se"].iloc[0] == pytest.approx(0.0, abs=1e-10)


# --------------------------------------------------------------------------- output


def test_result_frames_are_tidy(sample: Organisation, sample_registry: StakeholderRegistry) -> None:
    res = siloed_vs_unified(sample_registry, sample.responses, role="customer")
    assert res.estimates["estimator"].tolist() == list(ESTIMATORS)
    assert list(res.decomposition["component"]) == [*COMPONENTS, "total"]
    assert {"estimate", "se", "ci_low", "ci_high", "n_responses", "n_units"} <= set(
        res.estimates.columns
    )
    assert (res.estimates["ci_low"] <= res.estimates["estimate"]).all()
    s = res.strata
    assert s["level"].iloc[0] == "pooled"
    assert s.loc[0, "difference"] == pytest.approx(res.difference["difference"].iloc[0])
    assert (s.loc[1:, "n_siloed"] + s.loc[1:, "n_unified"] > 0).all()
    assert res.simpson["kind"] in {"none", "majority", "all"}
    ov = res.overlap
    assert list(ov.index) == ["customers", "workers", "partners"]
    assert (ov.to_numpy() == ov.to_numpy().T).all()
    assert (np.diag(ov) >= ov.to_numpy()).all()
    text = repr(res)
    assert text.startswith("Siloed vs unified nps (role 'customer')")
    assert "gap siloed - unified" in text
    assert "<table" in res._repr_html_()
    assert list(res.summary()["row"]) == [*ESTIMATORS, *COMPONENTS, "total"]


def test_plot_decomposition_returns_the_axes(
    tiny: tuple[StakeholderRegistry, pd.DataFrame],
) -> None:
    import matplotlib.pyplot as plt

    reg, responses = tiny
    res = siloed_vs_unified(reg, responses, role="customer")
    fig, ax = plt.subplots()
    assert plot_decomposition(res, ax=ax) is ax
    assert res.plot(ax=ax) is ax
    assert len(ax.get_xticklabels()) == 5
    plt.close(fig)
    with pytest.raises(ParameterError, match="SiloComparison"):
        # wrong type on purpose: the runtime check is under test
        plot_decomposition(res.estimates)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors


def test_errors_say_what_is_wrong(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    with pytest.raises(ParameterError, match="measure must be one of"):
        siloed_vs_unified(reg, responses, measure="nsp")
    with pytest.raises(ParameterError, match="role must be one of"):
        siloed_vs_unified(reg, responses, role="clients")
    with pytest.raises(ParameterError, match="instrument and item"):
        siloed_vs_unified(reg, responses, measure="mean")
    with pytest.raises(ParameterError, match="StakeholderRegistry"):
        # wrong type on purpose: the runtime check is under test
        siloed_vs_unified(object(), responses)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="n_resamples"):
        siloed_vs_unified(reg, responses, n_resamples=10)
    with pytest.raises(InputTableError, match="not found"):
        siloed_vs_unified(reg, responses.drop(columns="timestamp"))
    with pytest.raises(InputTableError, match="no rows of instrument 'csat'"):
        siloed_vs_unified(reg, responses, measure="csat")
    bad = responses.assign(score=[10, 0, 11, 10, 10, None])
    with pytest.raises(InputTableError, match="whole numbers from 0 to 10") as info:
        siloed_vs_unified(reg, bad)
    assert info.value.failure_cases["failure_case"].tolist() == [11.0]
    dup = pd.concat([responses, responses.head(1)], ignore_index=True)
    with pytest.raises(InputTableError, match="response_id repeats"):
        siloed_vs_unified(reg, dup)
    with pytest.raises(InputTableError, match="role 'partner'"):
        siloed_vs_unified(reg, responses, role="partner")


def test_an_empty_estimator_is_missing_not_zero(
    tiny: tuple[StakeholderRegistry, pd.DataFrame],
) -> None:
    """Workers answered only the customer survey: no siloed eNPS, but a unified one."""
    reg, responses = tiny
    only_customers = responses[responses["silo"] == "customers"]
    res = siloed_vs_unified(reg, only_customers, role="worker")
    est = res.estimates.set_index("estimator")
    assert np.isnan(est.loc["siloed", "estimate"])
    assert np.isnan(est.loc["siloed", "se"])
    # A (worker since 2021) answered the customer survey in 2022: +100.
    assert est.loc["unified", "estimate"] == pytest.approx(100.0)
    assert np.isnan(res.difference["difference"].iloc[0])
    assert np.isnan(res.difference["se"].iloc[0])
    # Nothing recorded by the worker silo: every step from it is undefined too.
    assert np.isnan(est.loc["attributed", "estimate"])
    assert res.decomposition["contribution"].isna().all()


def test_other_frames_and_text_timestamps(
    tiny: tuple[StakeholderRegistry, pd.DataFrame],
) -> None:
    import polars as pl

    reg, responses = tiny
    base = siloed_vs_unified(reg, responses, role="customer").estimates
    as_polars = siloed_vs_unified(reg, pl.from_pandas(responses), role="customer").estimates
    pd.testing.assert_frame_equal(base, as_polars)
    text = responses.assign(timestamp=responses["timestamp"].dt.strftime("%Y-%m-%d"))
    as_text = siloed_vs_unified(reg, text, role="customer").estimates
    pd.testing.assert_frame_equal(base, as_text)


def test_errors_never_show_an_identifier(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    """Issue 10: validation errors printed raw ids (here the repeated response ids)."""
    reg, responses = tiny
    ids = responses.assign(response_id=["id-" + c for c in "abcdef"])
    dup = pd.concat([ids, ids.head(1)], ignore_index=True).set_index("response_id", drop=False)
    with pytest.raises(InputTableError, match="response_id repeats") as info:
        siloed_vs_unified(reg, dup)
    assert "id-a" not in str(info.value)
    assert "<response_id, masked>" in str(info.value)
    cases = info.value.failure_cases
    assert not cases.astype(str).apply(lambda c: c.str.contains("id-a")).any().any()
