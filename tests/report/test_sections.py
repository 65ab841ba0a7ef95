"""The report's sections on inputs the sample does not cover.

Key-less rosters (issue 11: ids only, no email or phone) and a scale whose items do
not hang together for one role (issue 11: a reliability of 0.0016 went by without a
word): the report runs, and says what the measures found.
"""

from __future__ import annotations

import html
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.errors import HxWarning
from hxmetrics.report import build_report
from hxmetrics.report.sections.plan import recorded
from hxmetrics.stakeholders import StakeholderRegistry
from tests.report.unrendered import figures_unrendered


def _section_text(document: str, section_id: str) -> str:
    """The visible text of one section, entities decoded, spaces collapsed."""
    start = document.index(f'<section id="{section_id}"')
    end = document.find("</section>", start)
    text = html.unescape(re.sub(r"<[^>]+>", " ", document[start:end]))
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def sample_tables() -> dict[str, pd.DataFrame]:
    return dict(hx.load_sample().tables)


def test_keyless_rosters_give_a_report_that_says_one_person_per_record(sample_tables, tmp_path):
    # Found (issue 11): rosters without contact keys (a CRM export of ids) should give
    # one person per record with a note, and the report should run on them.
    tables = dict(sample_tables)
    for silo in ("customers", "workers", "partners"):
        tables[silo] = tables[silo].drop(columns=["email", "phone"], errors="ignore")
    report = build_report(tables)
    document = report.to_html()
    registry = StakeholderRegistry.from_rosters(
        customers=tables["customers"],
        workers=tables["workers"],
        partners=tables["partners"],
        keys=[],
    )
    assert registry.notes, "the registry says that no key linked any record"
    records = len(registry.crosswalk)  # one row per record (a roster row is an episode)
    assert registry.crosswalk["person_id"].nunique() == records
    quality = _section_text(document, "data-quality")
    for note in registry.notes:
        assert note in quality
    assert f"each of the {records:,} roster records is one person" in quality
    assert "through a shared no column" not in quality
    # The people card counts one person per record.
    assert f"{records:,}" in _section_text(document, "overview")
    assert report.write(tmp_path / "keyless.html").is_file()


def test_the_sample_report_has_no_registry_note(sample_html):
    assert "one person per record" not in _section_text(sample_html, "data-quality")


def test_low_reliability_of_a_shown_role_is_a_note_not_a_warning(sample_tables):
    # Found (issue 11): "Reliability of 0.0016 on the index items ... without a word".
    # Workers answer two of the six core items the other way round (reverse-keyed):
    # their alpha falls below 0.70 and the report says so next to the table.
    responses = sample_tables["responses"].copy()
    flip = (
        (responses["silo"] == "workers")
        & (responses["instrument"] == "hx_core")
        & responses["item"].isin(["hx1", "hx2", "hx3"])
    )
    responses.loc[flip, "score"] = 6 - responses.loc[flip, "score"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", HxWarning)  # none may reach the caller
        # No pixels: the note is text (see unrendered); the figures are still made.
        with figures_unrendered():
            document = build_report({**sample_tables, "responses": responses}).to_html()
    core = _section_text(document, "hx-index")
    assert "role='worker'" in core
    assert "below 0.70" in core
    assert "role='customer'" not in core


def test_recorded_keeps_statistical_warnings_and_passes_others():
    def measure(x: float) -> float:
        warnings.warn("alpha is low", HxWarning, stacklevel=2)
        warnings.warn("alpha is low", HxWarning, stacklevel=2)
        return x * 2

    assert recorded(measure, 2.0) == (4.0, ["alpha is low"])

    def noisy() -> int:
        warnings.warn("old name", DeprecationWarning, stacklevel=2)
        return 1

    with pytest.warns(DeprecationWarning, match="old name"):
        assert recorded(noisy) == (1, [])
    assert recorded(np.add, 1, 2) == (3, [])
