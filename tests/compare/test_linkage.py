"""linkage_sensitivity (issue 12, item 3): the unified estimate and the number of
persons at each linkage threshold, from one fitted model scored once.

Data: ``simulate_identity_rosters(500, random_state=3)`` with one NPS answer per
roster row at a random time inside its episode; the true persons are known, so the
unified estimate on the true partition is the target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.compare import siloed_vs_unified
from hxmetrics.errors import ParameterError
from hxmetrics.measures._result import PROTOCOL_COLUMNS, is_result
from hxmetrics.stakeholders.episodes import role_episodes
from hxmetrics.stakeholders.registry import StakeholderRegistry

# Why: splink is an optional extra ([linkage]); CI installs it with the test extras.
pytest.importorskip(
    "splink", reason="splink is the [linkage] extra, in the test extras: CI installs it"
)
from hxmetrics.compare.linkage import DEFAULT_THRESHOLDS, linkage_sensitivity
from hxmetrics.datasets import _identity as identity
from hxmetrics.stakeholders.probabilistic import LinkageModel

SECRET = "0f3c9a7be2d54c18a6f0b9e3d7c21a45"
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


@pytest.fixture(scope="module")
def sim():
    return identity.simulate_identity_rosters(500, random_state=3)


@pytest.fixture(scope="module")
def registry(sim):
    return StakeholderRegistry.from_rosters(
        **sim.rosters, method="probabilistic", random_state=1, secret=SECRET
    )


@pytest.fixture(scope="module")
def responses(sim):
    rng = np.random.default_rng(0)
    ids = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}
    mean = {"customers": 7.0, "workers": 6.0, "partners": 5.0}
    parts = []
    for silo, df in sim.rosters.items():
        end = df["end"].fillna(pd.Timestamp("2025-12-31"))
        days = (end - df["start"]).dt.days.clip(lower=0).to_numpy()
        offset = pd.to_timedelta(np.floor(rng.random(len(df)) * days), unit="D")
        score = np.clip(np.rint(rng.normal(mean[silo], 2.5, len(df))), 0, 10) + 0.0
        parts.append(
            pd.DataFrame(
                {
                    "silo": silo,
                    "source_id": df[ids[silo]].astype(str).to_numpy(),
                    "score": score,
                    "timestamp": (df["start"] + offset).to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "response_id", [f"r{i}" for i in range(len(out))])
    out.insert(3, "instrument", "nps")
    out.insert(4, "item", "ltr")
    return out


@pytest.fixture(scope="module")
def table(registry, responses):
    return linkage_sensitivity(registry, responses, thresholds=THRESHOLDS)


def test_one_row_per_threshold_in_the_result_protocol(table):
    assert is_result(table)
    assert list(table["threshold"]) == sorted(THRESHOLDS)
    assert set(PROTOCOL_COLUMNS) <= set(table.columns)
    assert list(table.columns[:2]) == ["measure", "threshold"]
    counts = ("n_links", "n_persons", "n_persons_multi_silo", "n_persons_uncertain")
    for c in (*counts, "n_respondents_uncertain", "n_responses_uncertain"):
        assert str(table[c].dtype) == "Int64", c
    assert (table["measure"] == "nps").all()
    assert table.attrs["hxmetrics"]["by"] == ["threshold"]


def test_higher_threshold_fewer_links_more_persons(table):
    # A higher threshold links a subset of the pairs: no more links, no fewer persons
    # (the conflict rules could in principle undo this; not on this data).
    assert table["n_links"].is_monotonic_decreasing
    assert table["n_persons"].is_monotonic_increasing
    assert table["n_persons_multi_silo"].is_monotonic_decreasing
    assert table["n_persons"].iloc[-1] > table["n_persons"].iloc[0]


def test_default_threshold_row_is_siloed_vs_unified_of_the_registry(registry, responses, table):
    result = siloed_vs_unified(registry, responses)
    est = result.estimates.set_index(result.estimates["estimator"].astype(str))
    row = table[table["at_registry_threshold"]]
    assert len(row) == 1
    assert float(row["threshold"].iloc[0]) == registry.crosswalk.attrs["hxmetrics"]["threshold"]
    assert row["estimate"].iloc[0] == pytest.approx(est.loc["unified", "estimate"], rel=1e-12)
    assert row["se"].iloc[0] == pytest.approx(est.loc["unified", "se"], rel=1e-9)
    assert int(row["n"].iloc[0]) == est.loc["unified", "n_responses"]
    assert int(row["n_persons"].iloc[0]) == registry.crosswalk["person_id"].nunique()
    assert row["change"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    meta = table.attrs["hxmetrics"]
    assert meta["registry_estimate"] == pytest.approx(est.loc["unified", "estimate"])
    # The siloed estimate does not depend on the linkage; the difference is the gap.
    assert np.allclose(table["siloed"], est.loc["siloed", "estimate"])
    assert np.allclose(table["difference"], table["siloed"] - table["estimate"])
    assert np.allclose(table["change"], table["estimate"] - meta["registry_estimate"])


def test_respondents_resting_on_uncertain_links(registry, responses, table):
    # Brute force at the registry's threshold: respondents whose answer counts in the
    # unified estimate (attributed, with a score) and whose person is uncertain.
    att = registry.attribute(responses)
    counted = att[(att["attribution"] == "ok") & att["score"].notna()]
    unsure = set(registry.uncertain_persons()["person_id"])
    mine = counted[counted["person_id"].isin(unsure)]
    row = table[table["at_registry_threshold"]].iloc[0]
    assert row["n_respondents_uncertain"] == mine["person_id"].nunique() > 0
    assert row["n_responses_uncertain"] == mine["response_id"].nunique()
    assert (table["n_respondents_uncertain"] <= table["n_persons_uncertain"]).all()
    assert (table["n_respondents_uncertain"] <= table["n_respondents"]).all()
    assert (table["n_responses_uncertain"] <= table["n"]).all()


def test_estimates_bracket_the_true_partition(sim, registry, responses, table):
    # Known truth: the unified NPS on the simulator's true persons. Observed (seed 3):
    # truth -28.80; the table spans -28.88 (0.99) to -28.50 (0.999), -28.84 at 0.9.
    truth = sim.truth.drop_duplicates(["silo", "source_id"])
    cw = registry.crosswalk[["silo", "source_id"]].merge(truth, on=["silo", "source_id"])
    cw["matched_on"] = "truth"
    rosters = registry._rosters
    true_reg = StakeholderRegistry(
        rosters=rosters,
        crosswalk=cw,
        conflicts=registry.conflicts.iloc[:0],
        episodes=role_episodes(rosters, cw),
    )
    est = siloed_vs_unified(true_reg, responses).estimates
    target = float(est.loc[est["estimator"].astype(str) == "unified", "estimate"].iloc[0])
    at = table[table["at_registry_threshold"]].iloc[0]
    assert abs(at["estimate"] - target) < 0.25 * at["se"]
    assert ((table["ci_low"] <= target) & (target <= table["ci_high"])).all()


def test_scored_once_never_refitted(registry, responses, monkeypatch):
    calls = []
    original = LinkageModel._score_frame

    def counting(self, frame, threshold, backend):
        calls.append(threshold)
        return original(self, frame, threshold, backend)

    monkeypatch.setattr(LinkageModel, "_score_frame", counting)
    monkeypatch.setattr(LinkageModel, "_fit_frame", lambda *a, **k: pytest.fail("refitted"))
    fresh = StakeholderRegistry(
        rosters=registry._rosters,
        crosswalk=registry.crosswalk,
        conflicts=registry.conflicts,
        episodes=registry.episodes,
        review=registry.review,
        linkage_model=registry.linkage_model,
    )
    fresh._options = registry._options
    out = linkage_sensitivity(fresh, responses, thresholds=(0.99, 0.3, 0.9))
    assert list(out["threshold"]) == [0.3, 0.9, 0.99]
    assert len(calls) == 1  # the lowest threshold first, its pairs re-cut for the rest


@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.lists(st.floats(0.3, 0.999), min_size=2, max_size=2, unique=True))
def test_persons_never_fewer_at_a_higher_threshold(registry, pair):
    low, high = sorted(pair)
    a = registry.relink(low).crosswalk["person_id"].nunique()
    b = registry.relink(high).crosswalk["person_id"].nunique()
    assert a <= b


def test_defaults_and_bad_input(registry, responses, sim):
    assert DEFAULT_THRESHOLDS == (0.8, 0.9, 0.95, 0.99)
    out = linkage_sensitivity(registry, responses)
    assert list(out["threshold"]) == list(DEFAULT_THRESHOLDS)
    for bad in ((), (0.9, 0.9), (0.0, 0.5), (1.5,), ("x",), 0.9, (True,)):
        with pytest.raises(ParameterError, match="thresholds must be"):
            linkage_sensitivity(registry, responses, thresholds=bad)
    exact = StakeholderRegistry.from_rosters(**sim.rosters, keys=["family_name"])
    with pytest.raises(ParameterError, match="method='probabilistic'"):
        linkage_sensitivity(exact, responses)
    with pytest.raises(ParameterError, match="StakeholderRegistry"):
        linkage_sensitivity(registry.crosswalk, responses)
