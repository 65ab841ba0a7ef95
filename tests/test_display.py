"""Notebook display of dataclass results (issue 11: InvarianceResult, SensitivityResult
and others had no ``_repr_html_``; the invariance repr dumped a dataclass)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay, dataclass_html


@dataclasses.dataclass(frozen=True)
class _Result(DataclassDisplay):
    table: pd.DataFrame
    supported_level: str | None
    n_excluded: int
    alpha: float
    converged: np.bool_
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    groups: pd.Series | None = None


def _result(rows: int = 3) -> _Result:
    return _Result(
        table=pd.DataFrame(
            {"level": [f"l{i}" for i in range(rows)], "cfi": np.linspace(1, 0, rows)}
        ),
        supported_level="metric <strict>",
        n_excluded=4,
        alpha=0.8123,
        converged=np.bool_(True),
        settings={"rule": "chen2007", "delta_cfi": 0.01},
        groups=pd.Series([10, 12], index=["a", "b"], name="n"),
    )


def test_a_dataclass_result_has_a_notebook_table():
    html = _result()._repr_html_()
    assert html.startswith("<div><p><strong>_Result</strong></p>")
    # Scalars: one row per field of a small definition table, escaped.
    assert "<th>supported_level</th><td>metric &lt;strict&gt;</td>" in html
    assert "<th>n_excluded</th><td>4</td>" in html
    assert "<th>alpha</th><td>0.8123</td>" in html
    assert "<th>converged</th><td>True</td>" in html
    assert "<th>settings</th><td>rule: chen2007, delta_cfi: 0.01</td>" in html
    # Frames (and Series) as tables, with their shape.
    assert "<p><strong>table</strong> (3 rows × 2 columns)</p>" in html
    assert html.count("<table") == 3
    assert "l2" in html
    assert "<p><strong>groups</strong> (2 rows)</p>" in html
    assert html.endswith("</div>")
    # The dataclass's own repr is kept.
    assert repr(_result()).startswith("_Result(table=")


def test_long_frames_are_cut_and_counted():
    html = _result(rows=50)._repr_html_()
    assert "l29" in html
    assert "l30" not in html
    assert "showing the first 30 of 50 rows" in html


def test_frames_with_identifier_columns_are_summarised_not_shown():
    """A result (or a data set such as the sample Organisation) that holds a roster
    never shows emails, phones or ids in a notebook: only the table's shape and columns."""
    import hxmetrics as hx

    org = hx.load_sample()
    html = dataclass_html(org)
    assert "customers</strong> (2,275 rows × 7 columns, with identifier columns: not shown)" in (
        html
    )
    for table in (org.customers, org.workers, org.responses):
        for column in ("email", "phone", "customer_id", "source_id", "response_id"):
            if column in table.columns:
                assert not any(str(v) in html for v in table[column].dropna().head(50))
    assert "@example." not in html


def test_personal_looking_text_is_masked():
    @dataclasses.dataclass
    class Note(DataclassDisplay):
        contact: str
        note: str

    html = Note("ana@example.org", "ok")._repr_html_()
    assert "ana@example.org" not in html
    assert "<th>note</th><td>ok</td>" in html


def test_display_never_raises():
    class NotADataclass(DataclassDisplay):
        def __repr__(self) -> str:
            return "<odd & thing>"

    assert NotADataclass()._repr_html_() == "<pre>&lt;odd &amp; thing&gt;</pre>"


# ---- containers of personal data: counts only (issue 11: StakeholderRegistry,
# Organisation, Truth had no _repr_html_; Truth's repr printed every email).


def _identifiers(org: Any) -> set[str]:
    """Every id, email, phone and person id in a simulated organisation."""
    values: set[str] = set()
    frames = [*org.tables.values(), org.truth.crosswalk, org.truth.keys, org.truth.clv.latent]
    for frame in frames:
        for column in frame.columns:
            if column in {"email", "phone", "person_id", "source_id", "shares_phone_with"} or (
                str(column).endswith("_id")
            ):
                values.update(str(v) for v in frame[column].dropna().unique())
    return values


def test_containers_show_counts_and_never_an_identifier() -> None:
    from hxmetrics.datasets import simulate_organisation
    from hxmetrics.stakeholders import StakeholderRegistry, new_secret

    org = simulate_organisation(150, random_state=4)
    registry = StakeholderRegistry.from_rosters(
        customers=org.customers,
        workers=org.workers,
        partners=org.partners,
        secret=new_secret(),
    )
    ids = _identifiers(org) | set(registry.crosswalk["person_id"])
    assert len(ids) > 500
    shown = {
        "registry": (repr(registry), registry._repr_html_()),
        "organisation": (repr(org), org._repr_html_()),
        "truth": (repr(org.truth), org.truth._repr_html_()),
        "clv truth": (repr(org.truth.clv), org.truth.clv._repr_html_()),
        "experience truth": (repr(org.truth.experience), org.truth.experience._repr_html_()),
    }
    for name, (text, html) in shown.items():
        assert "\n" not in text, (name, text)
        assert len(text) < 300, (name, text)
        assert html.startswith("<div>"), name
        leaked = sorted(v for v in ids if v in text or v in html)
        assert leaked == [], (name, leaked[:3])
    registry_html = shown["registry"][1]
    for count in (
        len(org.customers),
        len(registry.crosswalk),
        registry.crosswalk["person_id"].nunique(),
    ):
        assert f">{count:,}<" in registry_html
    assert f">{len(org.truth.hybrids):,}<" in shown["truth"][1]
    assert f">{len(org.events):,}<" in shown["organisation"][1]
