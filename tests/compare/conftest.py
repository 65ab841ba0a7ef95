"""Shared fixtures: a hand-made two-person organisation and the bundled sample."""

from __future__ import annotations

import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, load_sample
from hxmetrics.stakeholders import StakeholderRegistry

day = pd.to_datetime


@pytest.fixture(scope="session")
def tiny() -> tuple[StakeholderRegistry, pd.DataFrame]:
    """Person A: customer c1 from 2020, worker w1 from 2021. Person B: customer c2.

    Responses (NPS values in brackets):
    r1 c1 2022 score 10 (+100)      r2 w1 2022 score 0 (-100)     r3 c2 2022 score 0 (-100)
    r4 c1 2019 score 10 (+100): before A held any role (outside every episode)
    r5 c9 2022 score 10 (+100): an id in no roster
    r6 c2 2023 score nan: no answer
    """
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "email": ["a@x.org", "b@x.org"],
            "start": day(["2020-01-01", "2020-01-01"]),
            "end": [None, None],
            "engagement": ["consumer", "consumer"],
        }
    )
    workers = pd.DataFrame(
        {
            "worker_id": ["w1"],
            "email": ["A@x.org"],
            "start": day(["2021-01-01"]),
            "end": [None],
            "engagement": ["full_time"],
        }
    )
    reg = StakeholderRegistry.from_rosters(customers=customers, workers=workers, keys=["email"])
    responses = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
            "silo": ["customers", "workers", "customers", "customers", "customers", "customers"],
            "source_id": ["c1", "w1", "c2", "c1", "c9", "c2"],
            "instrument": "nps",
            "item": "ltr",
            "score": [10, 0, 0, 10, 10, None],
            "timestamp": day(
                ["2022-01-01", "2022-02-01", "2022-03-01", "2019-06-01", "2022-04-01", "2023-01-01"]
            ),
        }
    )
    return reg, responses


@pytest.fixture(scope="session")
def sample() -> Organisation:
    return load_sample()


@pytest.fixture(scope="session")
def sample_registry(sample: Organisation) -> StakeholderRegistry:
    return StakeholderRegistry.from_rosters(
        customers=sample.customers, workers=sample.workers, partners=sample.partners
    )
