"""Keyword-only ``ax`` for plots, with the old positional call kept for one release."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from hxmetrics.errors import ParameterError

__all__ = ["keyword_ax"]

F = TypeVar("F", bound=Callable[..., Any])


def keyword_ax(func: F) -> F:
    """Decorator: ``ax`` is keyword-only; ``f(result, ax)`` still works, with a warning.

    The decorated function takes one positional argument (the result, or ``self``)
    and ``ax=`` as a keyword. A second positional argument is read as ``ax`` and gives
    a :class:`DeprecationWarning`; more positional arguments, or ``ax`` given both
    ways, raise :class:`ParameterError`.

    Examples
    --------
    >>> @keyword_ax
    ... def draw(result, *, ax=None):
    ...     return ax
    >>> draw("r", ax="axes")
    'axes'
    """
    name = func.__name__

    @functools.wraps(func)
    def wrapper(first: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            if len(args) > 1 or "ax" in kwargs:
                raise ParameterError(
                    f"{name}(): pass ax= by keyword only, e.g. {name}(result, ax=ax)."
                )
            warnings.warn(
                f"{name}(): passing ax by position is deprecated, use ax= (the positional "
                "form goes in the next release).",
                DeprecationWarning,
                stacklevel=2,
            )
            kwargs["ax"] = args[0]
        return func(first, **kwargs)

    return wrapper  # type: ignore[return-value]
