"""prepare_silos: the role-independent work of siloed_vs_unified done once, shared by roles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from hxmetrics.compare import GROUPS, SiloComparison, SiloDesign, prepare_silos, siloed_vs_unified
from hxmetrics.datasets import Organisation
from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import StakeholderRegistry


def assert_same_comparison(a: SiloComparison, b: SiloComparison) -> None:
    """Every field equal, every frame bit for bit (no tolerance)."""
    assert (a.measure, a.role, a.confidence, a.unit) == (b.measure, b.role, b.confidence, b.unit)
    assert dict(a.simpson) == dict(b.simpson)
    for name in ("estimates", "difference", "decomposition", "strata", "overlap", "exclusions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_roles_share_one_attribution(
    sample: Organisation, sample_registry: StakeholderRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: the report's four comparisons attributed the same NPS rows four times."""
    calls = []
    attribute = sample_registry.attribute

    def counted(*args: Any, **kwargs: Any) -> pd.DataFrame:
        calls.append(1)
        return attribute(*args, **kwargs)

    monkeypatch.setattr(sample_registry, "attribute", counted)
    design = prepare_silos(sample_registry, sample.responses, measure="nps")
    shared = {role: design.compare(role=role, confidence=0.9) for role in GROUPS}
    assert len(calls) == 1
    monkeypatch.undo()
    for role, result in shared.items():
        alone = siloed_vs_unified(sample_registry, sample.responses, role=role, confidence=0.9)
        assert_same_comparison(result, alone)


def test_a_design_is_reused_with_a_bootstrap(
    tiny: tuple[StakeholderRegistry, pd.DataFrame],
) -> None:
    reg, responses = tiny
    design = prepare_silos(reg, responses)
    first = design.compare(role="customer", n_resamples=200, random_state=3)
    again = design.compare(role="customer", n_resamples=200, random_state=3)
    alone = siloed_vs_unified(reg, responses, role="customer", n_resamples=200, random_state=3)
    assert_same_comparison(first, again)
    assert_same_comparison(first, alone)


def test_design_shows_what_it_holds(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    design = prepare_silos(reg, responses)
    assert isinstance(design, SiloDesign)
    assert design.measure == "nps"
    assert design.n_responses == 5  # r6 has no score
    assert design.n_missing == 1
    text = repr(design)
    assert text.startswith("Silo design: nps (instrument 'nps', item 'ltr'), 5 responses")
    assert "<table" in design._repr_html_()
    summary = design.summary()
    assert list(summary["silo"]) == ["customers", "workers", "partners"]
    assert summary["n_responses"].tolist() == [4, 1, 0]
    # Nothing personal in the display: no ids, no emails.
    for word in ("c1", "w1", "a@x.org"):
        assert word not in text


def test_design_checks_its_role(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    design = prepare_silos(reg, responses)
    with pytest.raises(ParameterError, match="role must be one of"):
        design.compare(role="clients")
    with pytest.raises(InputTableError, match="role 'partner'"):
        design.compare(role="partner")
    # The plural (silo) spelling names the same role.
    assert_same_comparison(design.compare(role="workers"), design.compare(role="worker"))


def test_weights_of_a_role_match_the_comparison(
    tiny: tuple[StakeholderRegistry, pd.DataFrame],
) -> None:
    reg, responses = tiny
    design = prepare_silos(reg, responses)
    w = design.weights("customer")
    assert w.shape == (design.n_responses, 4)
    est = design.compare(role="customer").estimates["estimate"].to_numpy()
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose((w * design.y[:, None]).sum(0) / w.sum(0), est, rtol=1e-12)
