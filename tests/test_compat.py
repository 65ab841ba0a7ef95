"""Old argument names: forwarded for one release with a DeprecationWarning, never mixed."""

from __future__ import annotations

from typing import Any

import pytest

from hxmetrics._compat import deprecated_value, renamed
from hxmetrics.errors import ParameterError


@renamed(group="by", n_boot="n_resamples")
def _measure(data: Any, *, by: str | None = None, n_resamples: int = 10) -> tuple[Any, ...]:
    return data, by, n_resamples


def test_an_old_name_warns_and_gives_the_new_names_result() -> None:
    with pytest.warns(DeprecationWarning, match=r"_measure\(\): 'group' is deprecated, use 'by'"):
        old = _measure(1, group="team")
    assert old == _measure(1, by="team") == (1, "team", 10)


def test_each_old_name_warns() -> None:
    with pytest.warns(DeprecationWarning, match="is deprecated") as caught:
        assert _measure(1, group="t", n_boot=50) == (1, "t", 50)
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["group", "n_boot"]


def test_old_and_new_name_together_is_an_error() -> None:
    with pytest.raises(ParameterError, match="pass 'by' only"):
        _measure(1, group="a", by="b")


def test_the_wrapper_keeps_the_signature_and_lists_its_renames() -> None:
    import inspect

    assert list(inspect.signature(_measure).parameters) == ["data", "by", "n_resamples"]
    # type: ignore: the decorator sets this attribute at run time; mypy cannot see it
    renames = _measure.__hx_renamed__  # type: ignore[attr-defined]
    assert renames == {"group": "by", "n_boot": "n_resamples"}


def test_deprecated_value_converts_an_old_meaning() -> None:
    kwargs: dict[str, Any] = {"alpha": 0.05}
    with pytest.warns(DeprecationWarning, match="'alpha' is deprecated, use 'confidence'"):
        got = deprecated_value(
            "f", kwargs, "alpha", "confidence", 0.95, default=0.95, convert=lambda a: 1 - a
        )
    assert got == pytest.approx(0.95)
    assert kwargs == {}
    kwargs = {"alpha": 0.1}
    with pytest.raises(ParameterError, match="pass 'confidence' only"):
        deprecated_value("f", kwargs, "alpha", "confidence", 0.9, default=0.95)
    assert deprecated_value("f", {}, "alpha", "confidence", 0.8, default=0.95) == 0.8
