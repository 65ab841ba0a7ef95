"""The instrument catalogue and the built-in banks (issue 17, items 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.instruments._banks import BANKS, load_bank
from hxmetrics.instruments._catalogue import CATALOGUE_COLUMNS, InstrumentCatalogue, Item

LICENCE = "CC0-1.0, written by the hxmetrics project; not yet validated"
PRACTICES = [
    "access_autonomy",
    "accountability",
    "no_barriers",
    "feedback_value",
    "fast_teams",
    "ecosystem",
]
DIMENSIONS = [
    "culture",
    "talent",
    "incentive",
    "customer_relationship",
    "product",
    "strategy",
    "process",
    "organisation",
]


def _checks(exc: pytest.ExceptionInfo[InputTableError]) -> set[str]:
    return set(exc.value.failure_cases["check"])


# ----------------------------------------------------------------------------- banks


def test_zero_distance_bank_has_six_practices_with_three_role_variants() -> None:
    cat = load_bank("zero_distance")
    subs = cat.subscales("zero_distance")
    assert list(subs) == PRACTICES
    for items in subs.values():
        assert 3 <= len(items) <= 4
    for it in cat.items_of("zero_distance"):
        assert set(it.roles) == {"worker", "customer", "partner"}
        worded = dict(it.role_wording)
        assert set(worded) == {"worker", "customer", "partner"}
        assert len(set(worded.values())) == 3  # three different texts: one per side
        assert (it.scale_min, it.scale_max) == (1.0, 5.0)
        assert it.licence == LICENCE
    reversed_by_practice = {
        s: sum(cat.item("zero_distance", i).reverse_keyed for i in items)
        for s, items in subs.items()
    }
    assert 0 < sum(v > 0 for v in reversed_by_practice.values()) < len(PRACTICES)
    # The example wording of the issue is the worker's view of access and autonomy.
    assert cat.item("zero_distance", "zd_aa1").wording_for("worker") == (
        "When I receive customer feedback, I know what to do with it."
    )


def test_customer_centricity_bank_has_eight_dimensions() -> None:
    cat = load_bank("customer_centricity")
    subs = cat.subscales("customer_centricity")
    assert list(subs) == DIMENSIONS
    assert all(len(items) == 3 for items in subs.values())
    assert cat.roles_of("customer_centricity") == ("worker",)
    assert any(it.reverse_keyed for it in cat)
    assert {it.licence for it in cat} == {LICENCE}


def test_core_bank_matches_the_simulator_scales() -> None:
    # src/hxmetrics/datasets/_experience.py: nps/ltr 0-10, hx_core/hx1..hx6 1-5
    # (four thresholds), csat/overall 1-5, ces/effort 1-7.
    cat = load_bank("core")
    assert cat.scale("nps", "ltr") == (0.0, 10.0)
    assert [it.item for it in cat.items_of("hx_core")] == [f"hx{j}" for j in range(1, 7)]
    assert {cat.scale("hx_core", f"hx{j}") for j in range(1, 7)} == {(1.0, 5.0)}
    assert cat.scale("csat", "overall") == (1.0, 5.0)
    assert cat.scale("ces", "effort") == (1.0, 7.0)
    assert cat.roles_of("csat") == ("customer",)


def test_load_bank_combines_and_refuses_unknown_names() -> None:
    both = load_bank(*BANKS)
    assert both.instruments == (
        "nps",
        "hx_core",
        "csat",
        "ces",
        "zero_distance",
        "customer_centricity",
    )
    with pytest.raises(ParameterError, match="Did you mean 'zero_distance'"):
        load_bank("zero_distanse")
    with pytest.raises(ParameterError, match="at least one"):
        load_bank()
    with pytest.raises(InputTableError) as exc:  # the same bank twice: duplicate items
        load_bank("core", "core")
    assert _checks(exc) == {"unique_item"}


def test_scale_and_item_lookups_name_what_is_missing() -> None:
    cat = load_bank("core")
    with pytest.raises(ParameterError, match="no item 'ltr2'"):
        cat.scale("nps", "ltr2")
    with pytest.raises(ParameterError, match="no instrument 'enps'"):
        cat.items_of("enps")
    free = InstrumentCatalogue([Item("q", "age", "How old are you?", integer=False)])
    with pytest.raises(ParameterError, match="has no scale"):
        free.scale("q", "age")


# ----------------------------------------------------------------------------- flat forms


def test_frame_csv_and_toml_round_trips(tmp_path: Path) -> None:
    cat = load_bank(*BANKS)
    frame = cat.to_frame()
    assert list(frame.columns) == list(CATALOGUE_COLUMNS)
    assert InstrumentCatalogue.from_frame(frame) == cat
    path = tmp_path / "catalogue.csv"
    frame.to_csv(path, index=False)
    assert InstrumentCatalogue.from_csv(path) == cat
    toml = tmp_path / "mine.toml"
    toml.write_text(
        'licence = "internal"\n'
        "[[instrument]]\n"
        'name = "pulse"\n'
        "scale = [1, 7]\n"
        'labels = ["Disagree", "Agree"]\n'
        "  [[instrument.item]]\n"
        '  item = "q1"\n'
        '  subscale = "voice"\n'
        '  wording = { workers = "I can speak up.", customer = "They listen to me." }\n'
        "  [[instrument.item]]\n"
        '  item = "q2"\n'
        '  subscale = "voice"\n'
        "  reverse_keyed = true\n"
        '  roles = ["worker"]\n'
        '  wording = "I keep ideas to myself."\n',
        encoding="utf-8",
    )
    mine = InstrumentCatalogue.from_toml(toml)
    q1, q2 = mine.items_of("pulse")
    assert q1.roles == ("customer", "worker")  # silos read as roles, package order
    assert q1.wording_for("worker") == "I can speak up."
    assert q2.reverse_keyed
    assert q2.roles == ("worker",)
    assert q2.licence == "internal"
    assert mine.scale("pulse", "q2") == (1.0, 7.0)
    assert InstrumentCatalogue.from_frame(mine.to_frame()) == mine


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.integers(0, 3),
            st.integers(-2, 2),
            st.integers(1, 9),
            st.booleans(),
            st.sampled_from([None, "s1", "s2"]),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_flat_form_round_trip_property(
    specs: list[tuple[str, int, int, int, bool, str | None]],
) -> None:
    items = [
        Item(inst, f"q{k}", "text", lo, lo + width, reverse_keyed=rev, subscale=sub)
        for inst, k, lo, width, rev, sub in specs
    ]
    cat = InstrumentCatalogue(items)
    assert InstrumentCatalogue.from_frame(cat.to_frame()) == cat


# ----------------------------------------------------------------------------- bad input


def test_item_with_min_not_below_max_is_named() -> None:
    with pytest.raises(InputTableError) as exc:
        InstrumentCatalogue([Item("x", "q1", "?", 1, 5), Item("x", "q2", "?", 5, 5)])
    assert exc.value.table == "instruments"
    assert _checks(exc) == {"scale_min_below_scale_max"}
    assert exc.value.failure_cases["index"].tolist() == [1]
    assert "position(s) [1] (x/q2)" in str(exc.value)


def test_item_in_two_subscales_of_one_instrument_is_named() -> None:
    frame = pd.DataFrame(
        {
            "instrument": ["x", "x", "y"],
            "item": ["q1", "q1", "q1"],
            "subscale": ["voice", "speed", "voice"],
            "wording": "?",
            "scale_min": ["1", "1", "1"],
            "scale_max": ["5", "5", "5"],
        }
    )
    with pytest.raises(InputTableError) as exc:
        InstrumentCatalogue.from_frame(frame)
    assert _checks(exc) == {"one_subscale_per_item"}
    assert exc.value.failure_cases["index"].tolist() == [1]
    # the same item name in another instrument is another item
    InstrumentCatalogue.from_frame(frame.iloc[[0, 2]])


def test_reverse_key_without_a_scale_is_named() -> None:
    with pytest.raises(InputTableError) as exc:
        InstrumentCatalogue([Item("x", "q1", "?", reverse_keyed=True)])
    assert _checks(exc) == {"reverse_key_needs_scale"}


def test_duplicate_items_and_other_catalogue_checks() -> None:
    with pytest.raises(InputTableError) as exc:
        InstrumentCatalogue(
            [
                Item("x", "q1", "?", 1, 5),
                Item("x", "q1", "?", 1, 5),
                Item("x", "q2", "?", 1, 5, labels=("a", "b", "c")),
                Item("x", "q3", "?", 1, 5, roles=("boss",)),
                Item("x", "q4", "", 1, 5, roles=("worker",)),
                Item("x", "q5", "?", 1, None),
                Item("x", "q6", "?", 1.5, 5),
            ]
        )
    assert _checks(exc) == {
        "unique_item",
        "labels_fit_scale",
        "roles_known",
        "wording_for_each_role",
        "scale_complete",
        "integer_scale_ends",
    }


def test_bad_files_get_named_errors(tmp_path: Path) -> None:
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("instrument,item,wording,scale_minimum\nx,q1,?,1\n", encoding="utf-8")
    with pytest.raises(InputTableError, match="Did you mean 'scale_min'"):
        InstrumentCatalogue.from_csv(bad_csv)
    flags = tmp_path / "flags.csv"
    flags.write_text(
        "instrument,item,wording,scale_min,scale_max,reverse_keyed\nx,q1,?,1,five,maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(InputTableError) as exc:
        InstrumentCatalogue.from_csv(flags)
    assert _checks(exc) == {"numeric", "boolean"}
    typo = tmp_path / "typo.toml"
    typo.write_text(
        '[[instrument]]\nname = "x"\n[[instrument.item]]\nitem = "q1"\nreverse_keyd = true\n',
        encoding="utf-8",
    )
    with pytest.raises(InputTableError, match="Did you mean 'reverse_keyed'"):
        InstrumentCatalogue.from_toml(typo)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[instrument]\n", encoding="utf-8")
    with pytest.raises(InputTableError, match="could not be read as TOML"):
        InstrumentCatalogue.from_toml(broken)


def test_display_is_a_summary() -> None:
    cat = load_bank("zero_distance")
    assert repr(cat).startswith("InstrumentCatalogue: 1 instrument(s), 24 item(s)")
    assert "<table" in cat._repr_html_()
    assert cat.summary()["n_items"].sum() == 24
