"""Instruments: what was asked, of whom, on which scale; item banks; scoring; the gap.

* :class:`InstrumentCatalogue` (:class:`Item`): the questions, from TOML, CSV, a frame
  or code; :func:`check_responses` checks answers against it (an answer off its item's
  scale, an answer to an item not in the catalogue, a role not asked) and warns about an
  item that looks scored the wrong way round; :func:`check_responses_lazy` does the
  same where the answers live (Polars, DuckDB, Spark).
* :func:`load_bank`: the built-in banks shipped with the package: ``"core"`` (the
  instruments of the simulator and the sample), ``"zero_distance"`` (the six practices,
  with worker, customer and partner variants of each item) and ``"customer_centricity"``
  (the eight dimensions). Their items are written by the project and not yet validated.
* :func:`scale_for`: the scale of the items answered in a table, which the measures
  (``csat``, ``ces``, ``mean_score`` with ``instruments=``) take from the catalogue.
* :func:`score_instrument`: long answers in; reverse keying, subscale scores per person
  and group, reliability, the subscale structure's CFA fit, invariance across roles and
  a maturity profile (:class:`InstrumentScores`).
* :func:`zero_distance_gap`: per team and practice, the team's self-assessment against
  the experience of the people it serves at the touchpoints it owns, where invariance
  across roles supports the comparison (:class:`ZeroDistanceGap`).
"""

from hxmetrics.instruments._banks import BANKS, load_bank
from hxmetrics.instruments._catalogue import CATALOGUE_COLUMNS, InstrumentCatalogue, Item
from hxmetrics.instruments._checks import (
    check_responses,
    check_responses_lazy,
    keying_check,
    response_failures,
)
from hxmetrics.instruments._gap import ZeroDistanceGap, zero_distance_gap
from hxmetrics.instruments._scale import scale_for
from hxmetrics.instruments._scoring import InstrumentScores, score_instrument

__all__ = [
    "BANKS",
    "CATALOGUE_COLUMNS",
    "InstrumentCatalogue",
    "InstrumentScores",
    "Item",
    "ZeroDistanceGap",
    "check_responses",
    "check_responses_lazy",
    "keying_check",
    "load_bank",
    "response_failures",
    "scale_for",
    "score_instrument",
    "zero_distance_gap",
]
