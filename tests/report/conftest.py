"""The demo report, built once per session (figures take a second to render)."""

from __future__ import annotations

import pytest

from tests.report import demo


@pytest.fixture(scope="session")
def page() -> str:
    return demo.build().to_html()
