"""The shared Kaplan-Meier estimator against statsmodels' SurvfuncRight, side by side.

    python -m benchmarks.bench_km            # 1,000,000 durations, 7 rounds
    python -m benchmarks.bench_km --quick    # 100,000 durations, 3 rounds
    python -m benchmarks.run km              # the same section into docs/benchmarks.md

1,000,000 continuous durations (exponential latencies, uniform censoring: about a
third censored; every time distinct) and the same rounded up to whole hours (many
ties). Measured in one process, in interleaved rounds (a busy moment on a shared
machine then slows both sides alike), and reported as the median over the rounds:

* the curve: ``KaplanMeier().fit(t, e)`` against ``SurvfuncRight(t, e)`` (both give
  the survival and Greenwood's se at every event time; hxmetrics builds its table and
  the median on first use, statsmodels has neither);
* the curve and the median with its 95% interval: ``fit(t, e).quantile(0.5)`` against
  ``SurvfuncRight(t, e)`` then ``quantile(0.5)`` and ``quantile_ci(0.5)``;
* 200 groups (teams): one ``km_quantiles(t, e, groups=team, q=(0.5, 0.9))`` against
  a loop of ``SurvfuncRight`` with ``quantile`` and ``quantile_ci`` per group.

The results are checked against statsmodels before the clock starts (the statsmodels
convention gives the same numbers). Ratio = hxmetrics / statsmodels (below 1: faster).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._timing import ratio_rows, side_by_side

SIDES = ("hxmetrics", "statsmodels")


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latency = rng.exponential(10.0, n)
    censor = rng.uniform(0.0, 30.0, n)
    team = rng.integers(0, 200, n)
    return np.minimum(latency, censor), latency <= censor, team


def _statsmodels_quantiles(t: np.ndarray, e: np.ndarray, team: np.ndarray) -> list[float]:
    from statsmodels.duration.survfunc import SurvfuncRight

    out = []
    order = np.argsort(team, kind="stable")
    bounds = np.flatnonzero(np.diff(team[order])) + 1
    for idx in np.split(order, bounds):
        sf = SurvfuncRight(t[idx], e[idx])
        for p in (0.5, 0.9):
            out += [sf.quantile(p), *sf.quantile_ci(p, 0.05, method="log")]
    return out


def _check(t: np.ndarray, e: np.ndarray, team: np.ndarray) -> None:
    """A wrong result must not be timed: the same numbers as statsmodels."""
    from statsmodels.duration.survfunc import SurvfuncRight

    from hxmetrics.measures.tenure import KaplanMeier, km_quantiles

    ef = e.astype(float)
    sf = SurvfuncRight(t, ef)
    km = KaplanMeier().fit(t, e)
    table = km.params_
    assert table is not None
    events = table[table["n_events"] > 0]
    np.testing.assert_allclose(events["survival"], sf.surv_prob, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(events["se"], sf.surv_prob_se, rtol=1e-8, atol=1e-12)
    ours = km.quantile(0.5, transform="log", convention="statsmodels").iloc[0, 1:]
    theirs = [sf.quantile(0.5), *sf.quantile_ci(0.5, 0.05, method="log")]
    np.testing.assert_array_equal(ours.to_numpy(float), theirs)
    grouped = km_quantiles(t, e, groups=team, q=(0.5, 0.9), convention="statsmodels")
    expected = np.array(_statsmodels_quantiles(t, ef, team)).reshape(-1, 3)
    np.testing.assert_array_equal(grouped[["estimate", "ci_low", "ci_high"]], expected)


def run(quick: bool = False) -> str:
    """Time the Kaplan-Meier estimator; return a Markdown section with times and ratios."""
    from statsmodels.duration.survfunc import SurvfuncRight

    from hxmetrics.measures.tenure import KaplanMeier, km_quantiles

    n, n_rounds = (100_000, 3) if quick else (1_000_000, 7)
    t, e, team = make_data(n)
    ef = e.astype(float)
    hours = np.ceil(t)
    # statsmodels takes log(0) where a group's curve reaches 0 (its numpy warnings).
    with np.errstate(divide="ignore", invalid="ignore"):
        _check(t, e, team)
        _check(hours, e, team)
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "curve, continuous",
            lambda: KaplanMeier().fit(t, e),
            lambda: SurvfuncRight(t, ef),
        ),
        (
            "curve, whole hours (ties)",
            lambda: KaplanMeier().fit(hours, e),
            lambda: SurvfuncRight(hours, ef),
        ),
        (
            "curve + median with 95% interval",
            lambda: KaplanMeier().fit(t, e).quantile(0.5),
            lambda: (lambda sf: (sf.quantile(0.5), sf.quantile_ci(0.5, 0.05, method="log")))(
                SurvfuncRight(t, ef)
            ),
        ),
        (
            "200 teams, q = 0.5 and 0.9 with intervals",
            lambda: km_quantiles(t, e, groups=team, q=(0.5, 0.9)),
            lambda: _statsmodels_quantiles(t, ef, team),
        ),
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        wall, cpu = side_by_side(cases, SIDES, n_rounds)
    lines = [
        "## Kaplan-Meier (tenure, responsiveness)",
        "",
        f"{n:,} durations (exponential latencies, uniform censoring, "
        f"{1 - e.mean():.0%} censored); median seconds over {n_rounds} interleaved rounds;",
        "results checked equal to statsmodels first. Ratio = hxmetrics / statsmodels.",
        "",
        "| case | hxmetrics (s) | statsmodels SurvfuncRight (s) | ratio | ratio of CPU times |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += ratio_rows(cases, wall, cpu, SIDES, digits=3)
    lines += [
        "",
        "Seconds are wall-clock medians; the CPU-time ratio (process time, both sides",
        "single-threaded) is the steadier one on a shared machine. Target (issue 14): the",
        "shared Kaplan-Meier at least as fast as SurvfuncRight (ratio <= 1).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    section = run(quick="--quick" in sys.argv[1:])
    title, rest = section.split("\n", 1)
    from benchmarks.run import machine  # the one machine description of the benchmarks

    print(f"{title}\n\n{machine()}\n{rest}")
