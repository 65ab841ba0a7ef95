"""Readable repr and notebook HTML for result objects."""

from __future__ import annotations

import pandas as pd

from hxmetrics._display import DisplayMixin, html_block, text_block
from hxmetrics.errors import HxError


class _Model(DisplayMixin):
    def __init__(self, fitted: bool) -> None:
        self.fitted = fitted

    def summary(self) -> pd.DataFrame:
        if not self.fitted:
            raise HxError("call fit() first")
        return pd.DataFrame({"param": ["r", "<alpha>"], "value": [0.243, 4.414]})

    def _display_notes(self):
        return ["2 rows excluded: missing amount"]


def test_repr_shows_title_table_and_notes():
    text = repr(_Model(fitted=True))
    lines = text.splitlines()
    assert lines[0] == "_Model"
    assert "0.243" in lines[2]
    assert lines[-1] == "note: 2 rows excluded: missing amount"


def test_html_is_escaped_and_matches_the_text():
    html = _Model(fitted=True)._repr_html_()
    assert "&lt;alpha&gt;" in html
    assert "<alpha>" not in html
    assert "4.414" in html
    assert "2 rows excluded" in html


def test_unfitted_model_displays_instead_of_raising():
    model = _Model(fitted=False)
    assert "(not fitted) call fit() first" in repr(model)
    assert "(not fitted)" in model._repr_html_()


def test_long_tables_are_cut_and_say_so():
    frame = pd.DataFrame({"x": range(100)})
    text = text_block("t", frame, max_rows=5)
    assert len(text.splitlines()) == 1 + 6 + 1
    assert text.endswith("note: showing the first 5 of 100 rows")
    assert html_block("t", frame, max_rows=5).count("<tr") == 6


def test_without_summary_only_the_title_shows():
    class Bare(DisplayMixin):
        pass

    assert repr(Bare()) == "Bare"
