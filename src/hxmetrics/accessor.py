"""The ``df.hx`` pandas accessor: the measures as methods of a DataFrame.

Registered when :mod:`hxmetrics` is imported. Each method is the measure function of
:mod:`hxmetrics.measures` with the frame as its first argument; nothing is computed
here, so ``df.hx.nps(score="ltr", by="segment")`` equals
``hxmetrics.nps(df, score="ltr", by="segment")``. A grouped result is a frame too:
``result.hx.compare_groups()`` compares its groups.

Examples
--------
>>> import pandas as pd
>>> import hxmetrics  # registers the accessor
>>> df = pd.DataFrame({"ltr": [10, 9, 8, 3, 10, 6], "segment": list("aabbab")})
>>> df.hx.nps(score="ltr", by="segment", method="wald")[["segment", "n", "estimate"]]
  segment  n    estimate
0       a  3  100.000000
1       b  3  -66.666667
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

import pandas as pd

__all__ = ["HxAccessor"]


class _Measure:
    """A measure of :mod:`hxmetrics.measures` as a method of :class:`HxAccessor`.

    The method has the measure's signature without its data argument and the measure's
    docstring, so that ``help(df.hx.nps)`` and Jupyter's ``df.hx.nps?`` show the
    parameters. It is built on first use: importing hxmetrics (or ``df.hx``) must not
    import the measures and SciPy behind them.
    """

    def __init__(self) -> None:
        self._name = ""
        self._function: Callable[..., Any] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def _build(self) -> Callable[..., Any]:
        from hxmetrics import measures

        name = self._name
        measure = getattr(measures, name)

        def method(self: HxAccessor, /, *args: Any, **kwargs: Any) -> Any:
            return measure(self._df, *args, **kwargs)

        signature = inspect.signature(measure)
        accessor = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        parameters = [accessor, *list(signature.parameters.values())[1:]]  # data first
        method.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        method.__name__ = name
        method.__qualname__ = f"HxAccessor.{name}"
        method.__doc__ = (
            f"``df.hx.{name}(...)`` is ``hxmetrics.{name}(df, ...)``: the frame is the "
            "data argument; the other parameters are the measure's.\n\n"
            + inspect.cleandoc(measure.__doc__ or "")
        )
        return method

    def __get__(self, obj: HxAccessor | None, objtype: type | None = None) -> Callable[..., Any]:
        if self._function is None:
            self._function = self._build()
        return self._function if obj is None else types.MethodType(self._function, obj)


@pd.api.extensions.register_dataframe_accessor("hx")
class HxAccessor:
    """Measures of :mod:`hxmetrics.measures` as methods of a pandas DataFrame."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    nps = _Measure()
    csat = _Measure()
    ces = _Measure()
    mean_score = _Measure()
    cronbach_alpha = _Measure()
    mcdonald_omega = _Measure()
    reliability = _Measure()
    hx_index = _Measure()
    median_tenure = _Measure()
    rfm_summary = _Measure()
    #: On a measure's result: ``nps_result.hx.compare_groups(correction="bh")``.
    compare_groups = _Measure()
