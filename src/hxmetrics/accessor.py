"""The ``df.hx`` pandas accessor: the measures as methods of a DataFrame.

Registered when :mod:`hxmetrics` is imported. Each method is the measure function of
:mod:`hxmetrics.measures` with the frame as its first argument; nothing is computed
here, so ``df.hx.nps(score="ltr", by="segment")`` equals
``hxmetrics.nps(df, score="ltr", by="segment")``.

Examples
--------
>>> import pandas as pd
>>> import hxmetrics  # registers the accessor
>>> df = pd.DataFrame({"ltr": [10, 9, 8, 3, 10, 6], "segment": list("aabbab")})
>>> df.hx.nps(score="ltr", by="segment", method="wald")[["segment", "n", "nps"]]
  segment  n         nps
0       a  3  100.000000
1       b  3  -66.666667
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

__all__ = ["HxAccessor"]


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: HxAccessor, *args: Any, **kwargs: Any) -> Any:
        from hxmetrics import measures

        return getattr(measures, name)(self._df, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"HxAccessor.{name}"
    method.__doc__ = f"``df.hx.{name}(...)`` is ``hxmetrics.{name}(df, ...)``; see its docs."
    return method


@pd.api.extensions.register_dataframe_accessor("hx")
class HxAccessor:
    """Measures of :mod:`hxmetrics.measures` as methods of a pandas DataFrame."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    nps = _delegate("nps")
    csat = _delegate("csat")
    ces = _delegate("ces")
    mean_score = _delegate("mean_score")
    cronbach_alpha = _delegate("cronbach_alpha")
    mcdonald_omega = _delegate("mcdonald_omega")
    hx_index = _delegate("hx_index")
    rfm_summary = _delegate("rfm_summary")
