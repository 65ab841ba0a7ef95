"""Synthetic organisations with known ground truth, and the bundled sample.

``simulate_organisation`` draws persons from archetypes (pure and hybrid),
gives them role episodes in three silos with noisy match keys, and lets them
leave exhaust (survey answers, events, purchases, tickets with their status
histories, follow-ups of answers). ``truth`` says who is who, which hybrid labels
hold, and which parameters made every score, ticket time and follow-up effect, so
identity resolution and every measure can be checked against the truth.
``load_sample`` reads the committed sample in ``data/samples/``.
``simulate_identity_rosters`` draws rosters that share no clean key (names, dates of
birth, addresses with typos, moves, name changes, households) and the true persons,
for validating identity resolution.
"""

from hxmetrics.datasets._hybrids import LABELS as HYBRID_LABELS
from hxmetrics.datasets._identity import (
    DEFAULT_MISSING,
    IDENTITY_COLUMNS,
    IdentityRosters,
    simulate_identity_rosters,
)
from hxmetrics.datasets._model import ClvTruth, ExperienceTruth, Organisation, Truth
from hxmetrics.datasets._recipe import TICKET_STATUSES
from hxmetrics.datasets._sample import (
    SAMPLE_SETTINGS,
    load_sample,
    read_organisation,
    write_organisation,
)
from hxmetrics.datasets._simulate import (
    ARCHETYPES,
    DEFAULT_CLV,
    DEFAULT_EXPERIENCE,
    simulate_organisation,
)

__all__ = [
    "ARCHETYPES",
    "DEFAULT_CLV",
    "DEFAULT_EXPERIENCE",
    "DEFAULT_MISSING",
    "HYBRID_LABELS",
    "IDENTITY_COLUMNS",
    "SAMPLE_SETTINGS",
    "TICKET_STATUSES",
    "ClvTruth",
    "ExperienceTruth",
    "IdentityRosters",
    "Organisation",
    "Truth",
    "load_sample",
    "read_organisation",
    "simulate_identity_rosters",
    "simulate_organisation",
    "write_organisation",
]
