"""Identity resolution: link silo records into persons through shared keys.

The names live in three modules, one concept each; this module gathers them under
the name they always had:

* :mod:`hxmetrics.stakeholders.keys`: normalising and pseudonymising key values, the
  secrets of person ids and salts (:func:`normalise_key`, :func:`pseudonymise`,
  :func:`new_secret`).
* :mod:`hxmetrics.stakeholders.resolution`: linking records into persons
  (:func:`resolve_identities`, :class:`Resolution`, :data:`CONFLICT_KINDS`).
* :mod:`hxmetrics.stakeholders.evaluation`: precision and recall against the true
  persons (:func:`resolution_scores`, :func:`exact_matches`).
"""

from __future__ import annotations

from hxmetrics.stakeholders._rosters import check_rosters, id_column_of, source_ids
from hxmetrics.stakeholders.evaluation import exact_matches, resolution_scores
from hxmetrics.stakeholders.keys import (
    DEFAULT_KEYS,
    MIN_SECRET_BYTES,
    PSEUDONYM_PREFIX,
    check_keys,
    new_secret,
    normalise_key,
    pseudonymise,
    secret_key,
)
from hxmetrics.stakeholders.resolution import CONFLICT_KINDS, Resolution, resolve_identities

__all__ = [
    "CONFLICT_KINDS",
    "DEFAULT_KEYS",
    "MIN_SECRET_BYTES",
    "PSEUDONYM_PREFIX",
    "Resolution",
    "check_keys",
    "check_rosters",
    "exact_matches",
    "id_column_of",
    "new_secret",
    "normalise_key",
    "pseudonymise",
    "resolution_scores",
    "resolve_identities",
    "secret_key",
    "source_ids",
]
