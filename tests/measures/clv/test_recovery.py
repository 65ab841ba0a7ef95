"""Parameter recovery: 100 simulated data sets per model with known parameters.

Each estimate should lie within two standard errors of the truth in at least 90% of
the replications (nominal 95.4%), and the standard errors should match the spread of
the estimates (on the log scale the models are fitted on).
"""

import numpy as np
import pytest

from hxmetrics.measures.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeometric,
)
from hxmetrics.measures.clv.simulate import (
    simulate_betageo,
    simulate_bgbb,
    simulate_gamma_gamma,
    simulate_modified_betageo,
    simulate_pareto_nbd,
    simulate_sbg,
)

R = 100

CASES = {
    "BetaGeo": (
        dict(r=0.5, alpha=5.0, a=1.2, b=3.0),
        lambda i, p: BetaGeo().fit(simulate_betageo(2000, T=52.0, random_state=i, **p)),
    ),
    "ModifiedBetaGeo": (
        dict(r=0.5, alpha=5.0, a=1.2, b=3.0),
        lambda i, p: ModifiedBetaGeo().fit(
            simulate_modified_betageo(2000, T=52.0, random_state=i, **p)
        ),
    ),
    "ParetoNBD": (
        dict(r=0.5, alpha=5.0, s=0.8, beta=10.0),
        lambda i, p: ParetoNBD().fit(simulate_pareto_nbd(2000, T=52.0, random_state=i, **p)),
    ),
    "BetaGeoBetaBinom": (
        dict(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8),
        lambda i, p: BetaGeoBetaBinom().fit(simulate_bgbb(2000, n_periods=8, random_state=i, **p)),
    ),
    "GammaGamma": (
        dict(p=6.0, q=4.0, gamma=15.0),
        lambda i, p: GammaGamma().fit(
            simulate_gamma_gamma(
                np.random.default_rng(10_000 + i).poisson(3.0, 1500), random_state=i, **p
            )
        ),
    ),
    "ShiftedBetaGeometric": (
        dict(alpha=0.7, beta=1.2),
        lambda i, p: ShiftedBetaGeometric().fit(
            simulate_sbg([800, 800], n_periods=[8, 5], random_state=i, **p), cohort="cohort"
        ),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_parameter_recovery(name):
    truth, fit = CASES[name]
    est, se = [], []
    for i in range(R):
        m = fit(i, truth)
        est.append([m.params_[k] for k in truth])
        se.append([m.standard_errors_[k] for k in truth])
    est, se, tr = np.array(est), np.array(se), np.array(list(truth.values()))
    assert np.all(np.isfinite(se))
    coverage = (np.abs(est - tr) <= 2 * se).mean(axis=0)
    assert np.all(coverage >= 0.90), dict(zip(truth, coverage, strict=True))
    # SEs vs spread, on the log scale: sd(log est) against the median of se/est.
    ratio = np.log(est).std(axis=0, ddof=1) / np.median(se / est, axis=0)
    assert np.all((ratio > 0.75) & (ratio < 1.33)), dict(zip(truth, ratio, strict=True))
