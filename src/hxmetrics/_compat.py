"""Old argument names kept for one release, each with a :class:`DeprecationWarning`.

The package speaks one vocabulary (``by``, ``n_resamples``, ``confidence``,
``random_state``, keyword-only ``ax``, data first; see ``docs/names.md``). Where a
user could already depend on an older spelling, :func:`renamed` keeps it working
for one release: the call is forwarded under the new name and warns once per call
site. Passing both spellings is an error, never a silent choice.

>>> import warnings
>>> @renamed(group="by")
... def f(data, *, by=None):
...     return by
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     f(1, group="team")
...     print(caught[0].category.__name__, caught[0].message)
'team'
DeprecationWarning f(): 'group' is deprecated, use 'by' (the old name goes in the next release).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from hxmetrics.errors import ParameterError

__all__ = ["deprecated_value", "renamed", "warn_renamed"]

F = TypeVar("F", bound=Callable[..., Any])


def warn_renamed(function: str, old: str, new: str, *, stacklevel: int = 3) -> None:
    """Give the one :class:`DeprecationWarning` of an old name."""
    warnings.warn(
        f"{function}(): {old!r} is deprecated, use {new!r} (the old name goes in the "
        "next release).",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_value(
    function: str,
    kwargs: dict[str, Any],
    old: str,
    new: str,
    current: Any,
    *,
    default: Any = None,
    convert: Callable[[Any], Any] | None = None,
    stacklevel: int = 4,
) -> Any:
    """Pop ``old`` from ``kwargs`` (warning) and return the value for ``new``.

    ``current`` is the value the new name received and ``default`` its default; both
    given (``current`` not the default) is a :class:`ParameterError`. ``convert``
    maps an old value to the new meaning (``alpha=0.05`` -> ``confidence=0.95``).
    ``stacklevel`` 4 points the warning at the caller of the function that calls this
    one; add one per wrapper in between (e.g. under :func:`renamed`).
    """
    if old not in kwargs:
        return current
    value = kwargs.pop(old)
    if current is not default and current != default:
        raise ParameterError(f"{function}(): pass {new!r} only; {old!r} is its old name.")
    warn_renamed(function, old, new, stacklevel=stacklevel)
    return convert(value) if convert is not None else value


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword name for its new one, with a warning.

    ``@renamed(group="by", n_boot="n_resamples")`` forwards ``group=`` to ``by=``.
    Passing an old and its new name together raises :class:`ParameterError`.
    """
    mapping: Mapping[str, str] = dict(old_to_new)

    def decorate(func: F) -> F:
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in mapping.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ParameterError(
                            f"{name}(): pass {new!r} only; {old!r} is its old name."
                        )
                    warn_renamed(name, old, new)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__hx_renamed__ = dict(mapping)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
