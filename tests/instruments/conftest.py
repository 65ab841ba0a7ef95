"""Shared answer builders for the instrument tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation
from hxmetrics.instruments._catalogue import InstrumentCatalogue


def simulated_answers(
    catalogue: InstrumentCatalogue,
    instrument: str,
    n: dict[str, int],
    *,
    seed: int = 0,
    loading: float = 0.9,
    wrong_way: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Long 1-5 answers from one factor per subscale (practices correlated 0.4).

    Reverse-keyed items are written reflected (as a respondent answers them); items in
    ``wrong_way`` are written keyed already (the error: reversed upstream).
    """
    rng = np.random.default_rng(seed)
    subs = catalogue.subscales(instrument)
    frames = []
    for role, m in n.items():
        f = 0.6 * rng.normal(size=(m, 1)) + 0.8 * rng.normal(size=(m, len(subs)))
        pid = np.array([f"{role[0]}{i:04d}" for i in range(m)], dtype=object)
        for j, items in enumerate(subs.values()):
            for item in items:
                y = 3 + loading * f[:, j] + rng.normal(0, 0.7, m)
                x = np.clip(np.rint(y), 1, 5)
                if catalogue.item(instrument, item).reverse_keyed and item not in wrong_way:
                    x = 6 - x
                frames.append(
                    pd.DataFrame(
                        {
                            "response_id": [f"R-{role}-{p}" for p in pid],
                            "person_id": pid,
                            "silo": {"worker": "workers", "customer": "customers",
                                     "partner": "partners"}[role],
                            "instrument": instrument,
                            "item": item,
                            "score": x,
                        }
                    )
                )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def simulated_org() -> Organisation:
    """A simulated organisation with the instruments step (one wave, three teams)."""
    from hxmetrics.datasets import simulate_organisation
    from hxmetrics.datasets._instruments import add_instruments

    org = simulate_organisation(n_people=1500, random_state=5)
    return add_instruments(org, random_state=6)


def with_persons(org: Organisation, instrument: str) -> pd.DataFrame:
    """The instrument's answers with the true person of each silo id."""
    responses = org.responses[org.responses["instrument"] == instrument]
    crosswalk = org.truth.crosswalk[["silo", "source_id", "person_id"]]
    return responses.merge(crosswalk, on=["silo", "source_id"], how="left", validate="m:1")
