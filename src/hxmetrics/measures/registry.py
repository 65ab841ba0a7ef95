"""The registry of grouped measures, for the shared invariant tests.

Every grouped measure registers itself here once; ``tests/measures/
test_registry_properties.py`` then runs the same property tests over all of them:
bounds, row-order invariance, unit weights equal to no weights, the merge of
partial statistics equal to the whole, one-row and all-identical inputs.

Adding a measure is one call::

    register(Measure("csat", partial(csat, scale=(1, 5), box=(4, 5)),
                     partial(csat_statistics, scale=(1, 5), box=(4, 5)),
                     csat_from_statistics, bounds=(0.0, 100.0), values=(1.0, ...)))

The contract a :class:`Measure` promises (the tests build a table with a numeric
``score`` column drawn from ``values``, a text ``segment`` column and a positive
``w`` column):

* ``function(data, "score", by=..., weights=...)`` -> the tidy result;
* ``statistics(data, "score", by=..., weights=...)`` -> sufficient statistics, one
  row per group, that :func:`~hxmetrics.measures._engine.merge_partials` can add;
* ``finish(statistics)`` -> the same result as ``function``;
* the result follows the one protocol (:mod:`hxmetrics.measures._result`);
* the estimate is in column ``estimate``, within ``bounds``, and so are ``ci_low``
  and ``ci_high`` (NaN allowed only when ``n < interval_min_n``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.measures import satisfaction as _sat
from hxmetrics.measures.nps import METHODS as _NPS_METHODS
from hxmetrics.measures.nps import nps as _nps
from hxmetrics.measures.nps import nps_from_statistics as _nps_from_statistics
from hxmetrics.measures.nps import nps_statistics as _nps_statistics

__all__ = ["MEASURES", "Measure", "register"]


@dataclass(frozen=True)
class Measure:
    """One grouped measure and what the shared tests need to know about it.

    Attributes
    ----------
    name : str
        Registry key (a measure may be registered once per method).
    function : callable
        ``function(data, score, *, by, weights) -> DataFrame``.
    statistics : callable
        ``statistics(data, score, *, by, weights) -> DataFrame`` of sums.
    finish : callable
        ``finish(statistics) -> DataFrame``, equal to ``function``'s result.
    bounds : (float, float)
        Where the estimate and the interval must lie.
    values : tuple of float
        Valid answers the tests draw scores from.
    interval_min_n : int
        Smallest group with a defined interval (2 for t intervals).
    estimate : str
        The estimate column (``"estimate"``, the protocol's).
    """

    name: str
    function: Callable[..., pd.DataFrame]
    statistics: Callable[..., pd.DataFrame]
    finish: Callable[..., pd.DataFrame]
    bounds: tuple[float, float]
    values: tuple[float, ...]
    interval_min_n: int = 1
    #: The estimate column: ``"estimate"`` for every measure of the result protocol.
    estimate: str = "estimate"


#: Every registered measure by name.
MEASURES: dict[str, Measure] = {}


def register(measure: Measure) -> Measure:
    """Add ``measure`` to :data:`MEASURES` (names are unique) and return it."""
    if measure.name in MEASURES:
        raise ParameterError(f"a measure named {measure.name!r} is already registered.")
    MEASURES[measure.name] = measure
    return measure


def _options(**kwargs: Any) -> dict[str, Any]:
    return kwargs


_LTR = tuple(float(v) for v in range(11))
_FIVE = (1.0, 2.0, 3.0, 4.0, 5.0)
_SEVEN = tuple(float(v) for v in range(1, 8))
# Monte Carlo methods get a seed so that every call is reproducible.
_SEEDED = _options(random_state=12345, n_resamples=1000)

for _method in _NPS_METHODS:
    _opts = _options(method=_method, **(_SEEDED if _method in ("bootstrap", "bayes") else {}))
    register(
        Measure(
            name="nps" if _method == "adjusted_wald" else f"nps_{_method}",
            function=partial(_nps, **_opts),
            statistics=_nps_statistics,
            finish=partial(_nps_from_statistics, **_opts),
            bounds=(-100.0, 100.0),
            values=_LTR,
        )
    )

for _method in _sat.SHARE_METHODS:
    register(
        Measure(
            name="csat" if _method == "wilson" else f"csat_{_method}",
            function=partial(_sat.csat, scale=(1, 5), box=(4, 5), method=_method),
            statistics=partial(_sat.csat_statistics, scale=(1, 5), box=(4, 5)),
            finish=partial(_sat.csat_from_statistics, method=_method),
            bounds=(0.0, 100.0),
            values=_FIVE,
        )
    )

for _name, _ces in (
    ("ces", _options(scale=(1, 7), polarity="higher_is_easier")),
    ("ces_reflected", _options(scale=(1, 5), polarity="lower_is_easier")),
    ("ces_share", _options(scale=(1, 7), polarity="higher_is_easier", statistic="share")),
):
    _share = _ces.get("statistic") == "share"
    _low, _high = _ces["scale"]
    register(
        Measure(
            name=_name,
            function=partial(_sat.ces, **_ces),
            statistics=partial(_sat.ces_statistics, **_ces),
            finish=partial(_sat.ces_from_statistics, **_ces),
            bounds=(0.0, 100.0) if _share else (float(_low), float(_high)),
            values=tuple(float(v) for v in range(_low, _high + 1)),
            interval_min_n=1 if _share else 2,
        )
    )
register(
    Measure(
        name="mean_score",
        function=partial(_sat.mean_score, scale=(1, 5)),
        statistics=partial(_sat.mean_score_statistics, scale=(1, 5)),
        finish=partial(_sat.mean_score_from_statistics, scale=(1, 5)),
        bounds=(1.0, 5.0),
        values=_FIVE,
        interval_min_n=2,
    )
)
