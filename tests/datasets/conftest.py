"""Shared simulated organisations (simulated once per session: they are read-only)."""

from __future__ import annotations

import pytest

from hxmetrics.datasets import Organisation, simulate_organisation


@pytest.fixture(scope="session")
def org() -> Organisation:
    """The default organisation (3000 persons)."""
    return simulate_organisation(3000, random_state=7)


@pytest.fixture(scope="session")
def big_org() -> Organisation:
    """A larger one for rates and parameter recovery."""
    return simulate_organisation(20_000, random_state=11, hybrid_share=0.3, key_noise=0.1)
