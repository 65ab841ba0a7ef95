"""Fixtures of the HX index tests."""

from __future__ import annotations

from typing import Any

import narwhals as nw
import pytest


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Heights of every table collected from a lazy frame (narwhals' collect, which
    every conversion of a lazy frame to pandas in the package goes through)."""
    seen: list[int] = []
    original = nw.LazyFrame.collect

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        seen.append(len(out))
        return out

    monkeypatch.setattr(nw.LazyFrame, "collect", wrapped)
    return seen
