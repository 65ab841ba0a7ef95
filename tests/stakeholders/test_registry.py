"""The StakeholderRegistry facade, silo views, the overlap summary and its plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders import StakeholderRegistry, plot_overlap, silo_view

from ._helpers import day, roster


def _rosters():
    customers = roster(
        "customer_id",
        [
            {
                "id": "c1",
                "email": "ann@x",
                "birth_year": 1980,
                "start": 5,
                "engagement": "consumer",
            },
            {"id": "c2", "email": "bo@x", "start": 0, "engagement": "consumer"},
            {"id": "c3", "phone": "555 777 0000", "start": 2, "engagement": "business"},
        ],
    )
    workers = roster(
        "worker_id",
        [
            {"id": "w1", "email": "ANN@x", "start": 0, "end": 10, "engagement": "full_time"},
            {"id": "w1", "email": "ANN@x", "start": 20, "engagement": "full_time"},
            {"id": "w2", "email": "cy@x", "start": 0, "engagement": "gig"},
            {"id": "w3", "email": "cy@x", "start": 3, "end": 8, "engagement": "gig"},
        ],
    )
    partners = roster(
        "partner_id",
        [{"id": "p1", "phone": "+1 555 777 0000", "start": 1, "engagement": "driver"}],
    )
    return {"customers": customers, "workers": workers, "partners": partners}


@pytest.fixture(scope="module")
def registry():
    return StakeholderRegistry.from_rosters(**_rosters())


def test_registry_tables(registry):
    assert len(registry.crosswalk) == 7
    assert registry.crosswalk["person_id"].nunique() == 4
    assert registry.conflicts.empty
    assert set(registry.episodes["role"]) == {"customer", "worker", "partner"}
    h = registry.hybrids().set_index("roles_ever")
    assert h.loc["customer+worker", "hybrid_type"] == "worker_customer"
    assert bool(h.loc["customer+worker", "boomerang"])
    assert h.loc["customer+partner", "hybrid_type"] == "partner_customer"
    assert h.loc["worker", "hybrid_type"] == "gig_worker"
    assert registry.hybrids() is registry.hybrids()  # cached
    early = registry.hybrids(as_of=day(1))
    # On day 1 Ann is only a worker, and the driver has not become a customer yet.
    assert sorted(early["roles_ever"]) == ["customer", "partner", "worker", "worker"]
    assert (early["hybrid_type"] != "partner_customer").all()


def test_summary_is_the_overlap_without_identifiers(registry):
    summary = registry.summary()
    assert summary["roles"].tolist() == [
        "customer",
        "worker",
        "partner",
        "customer+worker",
        "customer+partner",
        "worker+partner",
        "customer+worker+partner",
        "none",
    ]
    assert dict(zip(summary["roles"], summary["n_ever"], strict=True)) == {
        "customer": 1,
        "worker": 1,
        "partner": 0,
        "customer+worker": 1,
        "customer+partner": 1,
        "worker+partner": 0,
        "customer+worker+partner": 0,
        "none": 0,
    }
    assert summary["n_ever"].sum() == 4
    assert summary["share_ever"].sum() == pytest.approx(1.0)
    text = summary.to_string()
    for secret in ("ann", "555", "c1", "w1", "P"):
        assert secret not in text.replace("partner", "")
    matrix = registry.overlap_matrix()
    assert matrix.loc["customer", "customer"] == 3
    assert matrix.loc["customer", "worker"] == 1
    assert matrix.loc["worker", "customer"] == 1
    assert matrix.loc["partner", "worker"] == 0


def test_overlap_plot_takes_and_returns_ax(registry):
    fig, ax = plt.subplots()
    out = registry.plot_overlap(ax=ax)
    assert out is ax
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts.count("3") == 1  # customers
    assert ax.get_title() == "Persons by role overlap"
    plt.close(fig)
    with pytest.raises(ParameterError, match="square"):
        plot_overlap(pd.DataFrame({"a": [1, 2]}))


def test_attribute_through_the_registry(registry):
    events = pd.DataFrame(
        {
            "silo": ["customers", "customers", "partners"],
            "source_id": ["c1", "c1", "p1"],
            "timestamp": [day(6), day(15), day(3)],
        }
    )
    got = registry.attribute(events)
    # c1 is Ann: a worker on day 6, between jobs on day 15 (customer only).
    assert got["is_worker"].tolist() == [True, False, False]
    assert got["is_customer"].tolist() == [True, True, True]
    assert got["is_partner"].tolist() == [False, False, True]
    assert got["attribution"].astype(str).tolist() == ["ok", "ok", "ok"]


def test_silo_view_knows_only_its_own_ids_and_role(registry):
    view = registry.silo_view("workers")
    assert view.crosswalk["person_id"].tolist() == ["w1", "w2", "w3"]
    assert set(view.episodes["role"]) == {"worker"}
    # The duplicate gig worker w2 / w3 is two people to HR.
    assert view.hybrids()["hybrid_type"].tolist() == ["boomerang", "gig_worker", "gig_worker"]
    events = pd.DataFrame(
        {
            "silo": ["workers", "customers", "workers"],
            "source_id": ["w1", "c1", "w1"],
            "timestamp": [day(12), day(6), day(25)],
        }
    )
    got = view.attribute(events)
    assert got["attribution"].astype(str).tolist() == ["outside_episodes", "other_silo", "ok"]
    assert got["person_id"].astype(object).tolist()[::2] == ["w1", "w1"]
    assert not got["is_customer"].any()
    assert view.summary()["n_ever"].sum() == 3
    assert registry.silo_view("workers") is view
    assert "SiloView(silo='workers'" in repr(view)


def test_registry_errors():
    with pytest.raises(ParameterError, match="at least one roster"):
        StakeholderRegistry.from_rosters()
    rosters = _rosters()
    reg = StakeholderRegistry.from_rosters(workers=rosters["workers"])
    with pytest.raises(ParameterError, match=r"no 'customers' roster.*\['workers'\]"):
        reg.silo_view("customers")
    with pytest.raises(ParameterError, match="Did you mean 'workers'"):
        reg.silo_view("wrkers")
    bad = rosters["workers"].assign(engagement="fulltime")
    with pytest.raises(InputTableError, match="engagement"):
        StakeholderRegistry.from_rosters(workers=bad)
    with pytest.raises(ParameterError, match="must be a pandas DataFrame"):
        silo_view([1], "workers")
    assert "StakeholderRegistry(silos=['workers']" in repr(reg)


def test_overlap_plot_ax_is_keyword_only_and_positional_warns(registry):
    """Found (issue 11): ``ax`` was positional in some plots, keyword-only in others."""
    import inspect
    import warnings

    assert inspect.signature(registry.plot_overlap).parameters["ax"].kind.name == "KEYWORD_ONLY"
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.plot_overlap(ax=ax) is ax
    fig2, ax2 = plt.subplots()
    with pytest.warns(DeprecationWarning, match="ax="):
        assert registry.plot_overlap(ax2) is ax2
    # The same picture either way.
    assert [t.get_text() for t in ax.texts] == [t.get_text() for t in ax2.texts]
    with pytest.raises(ParameterError, match="ax"):
        registry.plot_overlap(ax2, ax=ax)
    plt.close(fig)
    plt.close(fig2)
