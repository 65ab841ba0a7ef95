"""The HX index above ``BOOTSTRAP_BUCKETS`` persons: a bootstrap over buckets of persons.

A group with more persons than the bucket count is split into that many random groups
of whole persons (Wolter 2007, *Introduction to Variance Estimation*, ch. 2), and an
engine returns only (group, bucket, item) sums. Checked here: the same numbers on
every engine (the buckets are the same integers everywhere), what comes back from a
lazy engine is bounded by groups x buckets x items rows, and the bucket bootstrap's
intervals cover a known population index at their nominal rate.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hxmetrics.measures.index import HXIndex, hx_index, sensitivity
from hxmetrics.measures.index import bootstrap as boot
from hxmetrics.measures.index.prepare import (
    _PRIME_A,
    BOOTSTRAP_BUCKETS,
    _bucket_hash,
    _prepare,
    _with_bucket_hash,
)

from ..conftest import ENGINES, SPARK_PANDAS_WARNING, to_engine

ITEMS = ["hx1", "hx2", "hx3"]
BUCKETS = 16


def _answers(seed: int = 0) -> pd.DataFrame:
    """Long answers: 3 teams (700, 90 and 12 persons), 1-3 responses per person.

    Person ids are text in a scrambled order, of different lengths and with a
    non-ASCII letter, so that the persons' sorted order (their ranks, hence their
    buckets) is the binary one on every engine; survey weights are whole numbers, so
    every sum is exact whatever the engine's order of addition.
    """
    rng = np.random.default_rng(seed)
    sizes = {"a": 700, "b": 90, "c": 12}
    names = [f"p{i}" for i in range(sum(sizes.values()) - 2)] + ["é1", "Z9"]
    persons = rng.permutation(np.array(names, dtype=object))
    team = np.repeat(list(sizes), list(sizes.values()))
    level = rng.normal(0, 1, len(persons))
    n_resp = rng.integers(1, 4, len(persons))
    person_of = np.repeat(np.arange(len(persons)), n_resp)
    n_r = len(person_of)
    rows = np.repeat(np.arange(n_r), len(ITEMS))
    latent = level[person_of][rows] + rng.normal(0, 0.8, len(rows))
    score = np.clip(np.round(3 + latent), 1, 5).astype(np.int64)
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in rows],
            "person_id": persons[person_of][rows].astype(str),
            "team": team[person_of][rows],
            "item": np.tile(ITEMS, n_r),
            "score": score,
            "w": rng.integers(1, 4, len(rows)).astype(float),
        }
    )


CALLS = {
    "linear": {},
    "factor_geometric_modules": {
        "weighting": "factor",
        "aggregate": "geometric",
        "normalise": "pooled_minmax",
        "modules": {"a": ["hx3"]},
    },
}


def _same(got: pd.DataFrame, expected: pd.DataFrame, label: str) -> None:
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    except AssertionError as exc:
        raise AssertionError(f"{label}: {exc}") from None
    assert repr(got.attrs) == repr(expected.attrs), label


def _call(data: Any, name: str, buckets: int) -> pd.DataFrame:
    options = dict(CALLS[name])
    items = ["hx1", "hx2"] if "modules" in options else ITEMS
    model = HXIndex(items, n_resamples=150, random_state=11, min_n=5, **options)
    frame = data
    if "modules" in options:
        # The module item is answered by team a only.
        frame = (
            nw.from_native(data)
            .filter((nw.col("item") != "hx3") | (nw.col("team") == "a"))
            .to_native()
        )
    model._fit(
        frame, by="team", person="person_id", weights="w", response="response_id", buckets=buckets
    )
    assert model.result_ is not None
    return model.result_


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    return _answers()


@pytest.fixture(scope="module")
def expected(answers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {name: _call(answers, name, BUCKETS) for name in CALLS}


def test_large_groups_are_bucketed_small_ones_are_not(
    answers: pd.DataFrame, expected: dict[str, pd.DataFrame]
) -> None:
    out = expected["linear"]
    assert out["n"].tolist() == [700, 90, 12]
    # The persons of a and b (above 16) are resampled in buckets, and a note says so;
    # the bucket bootstrap is not the person bootstrap (other draws, other intervals),
    # while c (12 persons, each its own unit) keeps exactly the person bootstrap's.
    assert any("2 group(s) have more than 16 persons" in n for n in out.attrs["hxmetrics"]["notes"])
    persons = _call(answers, "linear", 10_000)
    assert not any("more than" in n for n in persons.attrs["hxmetrics"]["notes"])
    pd.testing.assert_series_equal(out["estimate"], persons["estimate"], check_exact=True)
    assert (out["ci_low"].iloc[:2] != persons["ci_low"].iloc[:2]).all()
    assert out.iloc[2].equals(persons.iloc[2])


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "pandas"])
@pytest.mark.parametrize("name", list(CALLS))
def test_bucketed_results_are_identical_on_every_engine(
    answers: pd.DataFrame, expected: dict[str, pd.DataFrame], engine: str, name: str
) -> None:
    _same(_call(to_engine(answers, engine), name, BUCKETS), expected[name], f"{name} on {engine}")


@pytest.mark.spark
# pyspark's own notice that it does not fully support pandas 3 (see tests/conftest.py).
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_bucketed_results_are_identical_on_spark(
    spark: Any, answers: pd.DataFrame, expected: dict[str, pd.DataFrame]
) -> None:
    import pyarrow as pa

    native = spark.createDataFrame(pa.Table.from_pandas(answers, preserve_index=False))
    for name in CALLS:
        _same(_call(native, name, BUCKETS), expected[name], f"{name} on spark")
    # The hash in Spark's (ANSI) int64 arithmetic: no overflow, the numpy numbers.
    ranks = _RANKS
    frame = nw.from_native(spark.createDataFrame(pd.DataFrame({"r": ranks})))
    got = _with_bucket_hash(frame, "r", "h").sort("r").collect()["h"].to_list()
    assert got == _bucket_hash(np.array(ranks, dtype=np.int64)).tolist()


#: Ranks around the primes' and int64's edges (the hash must stay exact everywhere).
_RANKS = [1, 2, 3, _PRIME_A - 1, _PRIME_A, _PRIME_A + 1, 2**31, 2**40 + 7, 2**61 - 1, 2**62]


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_the_hash_is_the_same_integers_on_each_engine(engine: str) -> None:
    frame = nw.from_native(to_engine(pd.DataFrame({"r": _RANKS}), engine)).lazy()
    got = _with_bucket_hash(frame, "r", "h").sort("r").collect()["h"].to_list()
    want = _bucket_hash(np.array(_RANKS, dtype=np.int64))
    assert got == want.tolist()
    assert ((want >= 0) & (want < _PRIME_A)).all()


def test_buckets_look_random() -> None:
    # Ranks 1..N into M buckets: the counts are those of a uniform multinomial
    # (chi-square test at the 0.1% level), and the buckets of neighbouring ranks are
    # unrelated (the step from one rank's bucket to the next's is uniform too), which
    # the linear hash (a * r mod p) mod M fails: its steps take one value.
    m, n = 4096, 4096 * 60
    rank = np.arange(1, n + 1, dtype=np.int64)
    bucket = _bucket_hash(rank) % m
    counts = np.bincount(bucket, minlength=m)
    assert stats.chisquare(counts).pvalue > 1e-3
    steps = np.bincount((bucket[1:] - bucket[:-1]) % m, minlength=m)
    assert stats.chisquare(steps).pvalue > 1e-3
    linear = (rank * 1_103_515_245 % _PRIME_A) % m
    assert stats.chisquare(np.bincount((linear[1:] - linear[:-1]) % m, minlength=m)).pvalue < 1e-3


# ------------------------------------------------------------------ what comes back


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_the_engine_returns_at_most_groups_buckets_items_rows(
    answers: pd.DataFrame, collected: list[int], engine: str
) -> None:
    native = to_engine(answers, engine)
    groups, items = answers["team"].nunique(), len(ITEMS)
    _call(native, "linear", BUCKETS)
    assert collected, "nothing was collected: the guard saw no query"
    assert max(collected) <= groups * BUCKETS * items
    # The guard can fail: with a bucket count above every group's persons, the per
    # person sums come back (one row per person and item).
    collected.clear()
    _call(native, "linear", 10_000)
    assert max(collected) == answers.groupby(["person_id", "item"]).ngroups
    # Without resamples only the groups' sums are needed.
    collected.clear()
    hx_index(native, ITEMS, by="team", person="person_id", n_resamples=0, min_n=5)
    assert max(collected) <= max(groups * items, len(ITEMS))


def test_sensitivity_above_the_bucket_count_is_the_same_on_each_engine() -> None:
    # One group above BOOTSTRAP_BUCKETS persons (each answering once): the default.
    rng = np.random.default_rng(5)
    n = BOOTSTRAP_BUCKETS + 500
    team = np.where(np.arange(n) < 300, "small", "large")
    level = rng.normal(0, 1, n)
    frame = pd.DataFrame(
        {
            "response_id": np.arange(n),
            "team": team,
            **{item: np.clip(np.round(3 + level + rng.normal(0, 0.7, n)), 1, 5) for item in ITEMS},
        }
    )
    runs = {}
    for engine in ("pandas", "polars_lazy", "duckdb"):
        res = sensitivity(
            to_engine(frame, engine),
            ITEMS,
            by="team",
            weightings=["equal"],
            n_resamples=40,
            random_state=2,
            min_n=5,
        )
        runs[engine] = res
    for engine in ("polars_lazy", "duckdb"):
        pd.testing.assert_frame_equal(runs[engine].draws, runs["pandas"].draws, check_exact=True)
        pd.testing.assert_frame_equal(runs[engine].ranks, runs["pandas"].ranks, check_exact=True)
    d = _prepare(
        frame,
        ITEMS,
        group_cols=["team"],
        person=None,
        weights=None,
        response="response_id",
        scale=(1, 5),
        module_items=[],
        need_matrix=False,
    )
    assert d.n_persons.tolist() == [BOOTSTRAP_BUCKETS + 200, 300]
    # At most BOOTSTRAP_BUCKETS units (a bucket may stay empty); the small group's
    # persons are its units.
    assert d.n_units[0] <= BOOTSTRAP_BUCKETS
    assert d.n_units[1] == 300


# ------------------------------------------------------------------ coverage

#: Two person types; a person's answers are independent draws from its type's scores
#: (1-5), so a person's answers are correlated and the persons are the clusters.
LOW = np.array([0.5, 0.3, 0.1, 0.05, 0.05])
HIGH = LOW[::-1]
SIM = {"a": (1500, 0.6), "b": (1000, 0.3)}  # persons, share of the high type


def _truth(share_high: float) -> float:
    """The population index (3 items, equal weights, min-max on 1-5): the answers'
    expected score, exactly (the number of responses does not depend on the type)."""
    scores = np.arange(1, 6)
    mean = (1 - share_high) * (LOW @ scores) + share_high * (HIGH @ scores)
    return float(100 * (mean - 1) / 4)


def _simulated(rng: np.random.Generator) -> pd.DataFrame:
    parts = []
    for team, (n, share) in SIM.items():
        high = rng.random(n) < share
        n_resp = rng.integers(1, 4, n)
        person = np.repeat(np.arange(n), n_resp)
        rows = np.repeat(person, len(ITEMS))
        probs = np.where(high[rows, None], HIGH, LOW)
        score = 1 + (rng.random(len(rows))[:, None] > probs.cumsum(axis=1)).sum(axis=1)
        parts.append(
            pd.DataFrame(
                {
                    "response_id": np.repeat(np.arange(len(person)), len(ITEMS)),
                    "person_id": rows,
                    "team": team,
                    "item": np.tile(ITEMS, len(person)),
                    "score": score,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["response_id"] = out["team"] + out["response_id"].astype(str)
    return out


def coverage(n_rep: int = 150, buckets: int = 32, seed: int = 2026) -> tuple[int, int]:
    """Intervals (both teams, ``n_rep`` samples each) that cover the true index."""
    rng = np.random.default_rng(seed)
    truth = np.array([_truth(share) for _, share in SIM.values()])
    hits = 0
    for rep in range(n_rep):
        model = HXIndex(ITEMS, n_resamples=400, random_state=rep, min_n=5)
        model._fit(
            _simulated(rng),
            by="team",
            person="person_id",
            weights=None,
            response="response_id",
            buckets=buckets,
        )
        out = model.result_
        assert out is not None
        assert (out["n"] > buckets).all()  # every team is bucketed
        hits += int(((out["ci_low"] <= truth) & (truth <= out["ci_high"])).sum())
    return hits, n_rep * len(SIM)


@pytest.mark.slow
def test_the_bucket_bootstrap_covers_the_true_index_at_the_nominal_rate() -> None:
    # 300 nominal-95% intervals from persons >> buckets (1500 and 1000 persons in 32
    # buckets): the number covering the true index is Binomial(300, 0.95) if the
    # intervals are right. The band is its central 99.9% (scipy's binomial quantiles),
    # so a correct bootstrap fails 1 run in 1000 (the seed is fixed: it passes or fails
    # for good). The percentile bootstrap of H clusters has variance (H - 1) / H of the
    # clusters' (Davison & Hinkley 1997, section 3.8): with H = 32 its coverage is
    # about 0.944, inside the band.
    hits, total = coverage()
    low, high = stats.binom.ppf([0.0005, 0.9995], total, 0.95)
    assert low <= hits <= high, (hits, total, low, high)


def test_the_mutations_of_the_coverage_study_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # The coverage study is not vacuous: resampling the buckets of both teams together
    # (units drawn across groups) centres every replicate on the pooled index, and the
    # intervals miss the truth. A short run suffices (its coverage is near 0).
    real = boot._resampled_sums

    def across_groups(data: Any, rngs: list[np.random.Generator], n_rep: int, **kw: Any) -> Any:
        pooled = type(data)(**{**data.__dict__})
        pooled.offsets = np.array([0, int(data.offsets[-1])])
        pooled.keys = data.keys.iloc[:1]
        w, s, q = real(pooled, rngs[:1], n_rep, **kw)
        scale = (np.diff(data.offsets) / data.offsets[-1])[None, :, None]
        return w * scale, s * scale, q * scale

    monkeypatch.setattr("hxmetrics.measures.index.model._resampled_sums", across_groups)
    hits, total = coverage(n_rep=10)
    assert hits < stats.binom.ppf(0.0005, total, 0.95)


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_fractional_weights_agree_to_the_last_bits(answers: pd.DataFrame, engine: str) -> None:
    # Fractional survey weights: an engine adds a bucket's persons' sums in its own
    # order, so the float sums (and every number after them) may differ in the last
    # bits; seen up to 3e-15 relative, so 1e-12 is a loose but meaningful tolerance
    # (a wrong bucket or draw moves the interval by 1e-3 or more).
    fractional = answers.assign(w=np.random.default_rng(1).uniform(0.3, 3.0, len(answers)))
    want = _call(fractional, "linear", BUCKETS)
    got = _call(to_engine(fractional, engine), "linear", BUCKETS)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_repeated_answers_are_counted_on_the_engine(
    answers: pd.DataFrame, collected: list[int], engine: str
) -> None:
    # The duplicate check counts the repeated (person, item) pairs on the engine and
    # brings back three of them, not one row per (group, person, item).
    from hxmetrics.errors import InputTableError

    repeated = pd.concat([answers, answers.iloc[[4, 9, 30, 31]]], ignore_index=True)
    with pytest.raises(InputTableError) as on_pandas:
        _call(repeated, "linear", BUCKETS)
    collected.clear()
    with pytest.raises(InputTableError) as on_engine:
        _call(to_engine(repeated, engine), "linear", BUCKETS)
    count = "4 (person, item) pair(s) have a repeated answer"
    assert count in str(on_pandas.value)
    assert count in str(on_engine.value)
    assert max(collected) <= len(answers["team"].unique()) * BUCKETS * len(ITEMS)
