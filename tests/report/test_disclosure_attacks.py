"""Disclosure attacks on the report: no suppressed value can be recovered.

The report is built on the bundled sample, on a sample with tiny groups (three partner
NPS answers, two CSAT answers; the sample already has a hybrid type of two people)
and on the sample with a ``min_n`` larger than any group. For each, the true values of
the hidden groups are computed with the unsuppressed Python API, and the attacks of
issue 10 are tried on what the report shows: a hidden group's difference plus the
reference, the same group shown in another table, counts from figure labels and
cards subtracted from their totals, and a hidden count shown in "Hybrid patterns".

Tables, cards and alt texts are read with an HTML parser; the figures' sources are
the frames handed to the plotting functions (recorded while the report is built).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.report import build_report, default_as_of
from hxmetrics.report.sections import (
    INSTRUMENT_NAME,
    crossing,
    experience,
    hybrid_name,
    reliability_index,
    siloed_unified,
    value_retention,
)
from hxmetrics.tables import OPTIONAL_TABLES, ROLE_OF_SILO
from tests.report.html_page import Page
from tests.report.unrendered import figures_unrendered

MIN_N = 5
HUGE = 10**6
ROLES = ("customer", "worker", "partner")
GROUP = {"customer": "customers", "worker": "workers", "partner": "partners"}
#: Headers of table columns that count people, answers, responses, records or episodes.
COUNTS = {
    "Answers",
    "Respondents",
    "People",
    "Responses",
    "Customers",
    "People (ever)",
    "People with the pattern",
    "People of this hybrid type",
    "Episodes",
    "Ended",
    "Still running",
    "Used",
    "Left out",
    "Role not held then",
    "Unknown id",
    "Outside every role",
    "No time",
    "Cases",
    "Records involved",
}
EMPTY = {"–", "", "suppressed"}


@dataclass
class Built:
    """One report: its parsed page, the frames its figures were drawn from, its truth."""

    page: Page
    html: str
    figures: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    min_n: int = MIN_N


def _used(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, hx.StakeholderRegistry]:
    """Attributed answers used by the report (the person held the silo's role then)."""
    registry = hx.StakeholderRegistry.from_rosters(
        customers=tables["customers"], workers=tables["workers"], partners=tables["partners"]
    )
    answers = registry.attribute(tables["responses"])
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLES:
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    return answers[(answers["attribution"] == "ok").to_numpy() & held], registry


def _build(tables: dict[str, pd.DataFrame], *, min_n: int) -> Built:
    figures: list[tuple[str, pd.DataFrame]] = []

    def recording(name, function):
        def draw(data, *args, **kwargs):
            if isinstance(data, pd.DataFrame):
                figures.append((name, data.copy()))
            return function(data, *args, **kwargs)

        return draw

    with pytest.MonkeyPatch.context() as patch:
        # Each section module draws with the plotting functions it imported.
        for module in (crossing, experience, siloed_unified, reliability_index, value_retention):
            for name in ("plot_estimates", "plot_overlap", "plot_curves"):
                if hasattr(module, name):
                    patch.setattr(module, name, recording(name, getattr(module, name)))
        # No pixels: every attack reads text and the recorded frames (see unrendered).
        with figures_unrendered():
            document = build_report(tables, min_n=min_n).to_html()
    page = Page()
    page.feed(document)
    page.close()
    return Built(page=page, html=document, figures=figures, min_n=min_n)


def _with_optional(org: hx.datasets.Organisation) -> dict[str, pd.DataFrame]:
    """The organisation's tables with its optional ones (teams, comments, invitations...)."""
    tables = dict(org.tables)
    for name in OPTIONAL_TABLES:
        if getattr(org, name, None) is not None:
            tables[name] = getattr(org, name)
    return tables


@pytest.fixture(scope="module")
def sample_tables() -> dict[str, pd.DataFrame]:
    return _with_optional(hx.load_sample())


@pytest.fixture(scope="module")
def tiny_tables(sample_tables) -> dict[str, pd.DataFrame]:
    """The sample with three partner NPS answers and two CSAT answers left."""
    used, _ = _used(sample_tables)
    responses = sample_tables["responses"]
    partner_nps = used.loc[(used["instrument"] == "nps") & (used["role"] == "partner")]
    csat = used.loc[used["instrument"] == "csat"]
    keep_partner = set(partner_nps["response_id"].iloc[:3])
    keep_csat = set(csat["response_id"].iloc[:2])
    is_partner_nps = (responses["instrument"] == "nps") & (responses["silo"] == "partners")
    is_csat = responses["instrument"] == "csat"
    drop = (is_partner_nps & ~responses["response_id"].isin(keep_partner)) | (
        is_csat & ~responses["response_id"].isin(keep_csat)
    )
    return {**sample_tables, "responses": responses.loc[~drop].reset_index(drop=True)}


@pytest.fixture(scope="module")
def sample(sample_tables) -> Built:
    return _build(sample_tables, min_n=MIN_N)


@pytest.fixture(scope="module")
def tiny(tiny_tables) -> Built:
    return _build(tiny_tables, min_n=MIN_N)


@pytest.fixture(scope="module")
def small() -> Built:
    """A small simulated organisation (300 people): many groups near the minimum."""
    org = hx.simulate_organisation(
        300,
        random_state=3,
        teams=True,
        journeys=True,
        instruments=True,
        comments=True,
        invitations=True,
    )
    return _build(_with_optional(org), min_n=MIN_N)


@pytest.fixture(scope="module")
def huge(sample_tables) -> Built:
    return _build(sample_tables, min_n=HUGE)


def tables_of(built: Built, caption: str) -> list[dict]:
    return [t for t in built.page.tables if t["caption"].strip() == caption]


def one_table(built: Built, caption: str) -> dict:
    found = tables_of(built, caption)
    assert len(found) == 1, [t["caption"] for t in built.page.tables]
    return found[0]


def number(text: str) -> float | None:
    """A displayed number ("1,234", "+7.4", "<0.001" is not one), or None."""
    cleaned = text.replace(",", "").replace("%", "")
    try:
        return float(cleaned)
    except ValueError:
        return None


def hidden_rows(tab: dict) -> Iterator[list[str]]:
    for cells in tab["rows"]:
        if cells and cells[-1] == "suppressed":
            yield cells


def column(tab: dict, header: str) -> int:
    return tab["header"].index(header)


def true_nps(used: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return hx.nps(used.loc[used["instrument"] == "nps"], "score", by=by)


# -- every build: a hidden row shows nothing, a shown count is never small ---------------------
@pytest.mark.parametrize("which", ["sample", "tiny", "small", "huge"])
def test_a_hidden_row_shows_no_number_in_any_table(which, request):
    built = request.getfixturevalue(which)
    checked = 0
    for tab in built.page.tables:
        for cells in hidden_rows(tab):
            # Leading label cells (group names) hold no number; after them, only blanks.
            first = next(
                (i for i, c in enumerate(cells) if c in EMPTY or number(c) is not None),
                len(cells),
            )
            assert all(c in EMPTY for c in cells[first:]), (tab["caption"], cells)
            checked += 1
    if which != "sample":
        assert checked > 5


@pytest.mark.parametrize("which", ["sample", "tiny", "small", "huge"])
def test_no_shown_count_is_below_the_minimum(which, request):
    built = request.getfixturevalue(which)
    for tab in built.page.tables:
        for position, name in enumerate(tab["header"]):
            if name not in COUNTS and not name.startswith("People (on "):
                continue
            for cells in tab["rows"]:
                if cells == ["no rows"]:  # an empty table's one cell
                    continue
                value = number(cells[position])
                if value is not None and value != 0:
                    assert value >= built.min_n, (tab["caption"], name, cells)


@pytest.mark.parametrize("which", ["sample", "tiny", "small", "huge"])
def test_figures_get_no_number_of_a_hidden_group(which, request):
    built = request.getfixturevalue(which)
    assert built.figures
    for name, frame in built.figures:
        if "suppressed" not in frame.columns:
            continue
        hidden = frame["suppressed"].fillna(False).astype(bool).to_numpy()
        numeric = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c].dtype)
            and not pd.api.types.is_bool_dtype(frame[c].dtype)
        ]
        for c in numeric:
            assert frame.loc[hidden, c].isna().all(), (name, c, frame.loc[hidden])


# -- the difference of a hidden group plus the reference ---------------------------------------
def test_difference_plus_reference_does_not_give_back_a_hidden_nps(sample, sample_tables):
    # Found: "Partner NPS: scores and differences" showed +73.4 and -29.4 for two
    # suppressed groups against a reference of -13.4: their NPS exactly.
    used, _ = _used(sample_tables)
    truth = true_nps(used, ["role", "hybrid_type"])
    attacked = 0
    for role in ROLES:
        found = tables_of(
            sample, f"{INSTRUMENT_NAME[role]}: scores and differences from no hybrid pattern"
        )
        if not found:
            continue
        tab = found[0]
        rows = {r[0]: r for r in tab["rows"]}
        reference = number(rows[hybrid_name("none")][column(tab, "NPS")])
        for cells in hidden_rows(tab):
            hidden = truth.loc[
                (truth["role"] == role) & (truth["hybrid_type"].map(hybrid_name) == cells[0])
            ]
            value = float(hidden["estimate"].iloc[0])
            attacked += 1
            for text in cells[1:]:
                shown = number(text)
                if shown is None or reference is None:
                    continue
                assert abs(reference + shown - value) > 0.051, (role, cells, value)
                assert abs(shown - value) > 0.051, (role, cells, value)
    assert attacked >= 2


# -- one group, two tables ---------------------------------------------------------------------
def _siloed_rows(built: Built) -> dict[str, list[str]]:
    tab = one_table(built, "Siloed and unified NPS and the gap between them (siloed minus unified)")
    return {r[0]: r for r in tab["rows"]}


def test_a_role_hidden_by_role_is_hidden_in_siloed_vs_unified(tiny):
    # Found: siloed-vs-unified showed workers while "NPS by role" hid eNPS.
    by_role = one_table(tiny, "Net Promoter Score by role")
    hidden = [role for role in ROLES if row_hidden(by_role, INSTRUMENT_NAME[role])]
    assert "partner" in hidden, by_role["rows"]
    assert len(hidden) >= 2, by_role["rows"]
    siloed = _siloed_rows(tiny)
    parts = one_table(tiny, "Where the gap comes from (points; the three causes add up to the gap)")
    for role in hidden:
        assert siloed[GROUP[role]][-1] == "suppressed", siloed[GROUP[role]]
        assert all(c in EMPTY for c in siloed[GROUP[role]][1:])
        assert all(c in EMPTY for c in {r[0]: r for r in parts["rows"]}[GROUP[role]][1:])
    # ... and in every figure source and alt text of that section.
    frames = [f for name, f in tiny.figures if name == "plot_estimates" and "view" in f.columns]
    assert len(frames) == 1
    frame = frames[0]
    for role in hidden:
        rows = frame.loc[frame["group"] == GROUP[role]]
        assert rows["n"].isna().all(), rows
        assert rows["nps"].isna().all(), rows
    for alt in tiny.page.alts:
        for role in hidden:
            assert f"for {GROUP[role]}:" not in alt, alt
            assert f"of {GROUP[role]} (" not in alt, alt


def row_hidden(tab: dict, label: str) -> bool:
    cells = next(r for r in tab["rows"] if r[0] == label)
    return cells[-1] == "suppressed"


def test_hidden_counts_do_not_follow_from_figure_labels(tiny, tiny_tables):
    # Found: everyone 1,418 - customers 967 - workers 448 = 3 partners (the n labels of
    # the siloed view in the siloed-vs-unified figure).
    frame = next(f for name, f in tiny.figures if name == "plot_estimates" and "view" in f.columns)
    siloed = frame.loc[frame["view"] == "siloed"].set_index("group")["n"]
    everyone = siloed.get("everyone")
    roles = siloed.drop(index="everyone", errors="ignore")
    assert roles.isna().sum() != 1 or pd.isna(everyone), siloed
    if pd.notna(everyone):
        hidden_total = everyone - roles.dropna().sum()
        assert hidden_total == 0 or hidden_total >= MIN_N
    # the true siloed count of partners, from the unsuppressed API, is nowhere in the frame
    _, registry = _used(tiny_tables)
    truth = hx.siloed_vs_unified(registry, tiny_tables["responses"], measure="nps", role="partner")
    n_partners = int(truth.estimates.set_index("estimator").loc["siloed", "n_units"])
    assert n_partners < MIN_N
    assert not (frame["n"].dropna().astype(int) == n_partners).any()


def test_nps_partitions_never_hide_exactly_one_group(sample, tiny):
    # The total of a role is shown in "NPS by role": its hybrid types are its parts.
    for built in (sample, tiny):
        by_role = {r[0]: r for r in one_table(built, "Net Promoter Score by role")["rows"]}
        for role in ROLES:
            found = tables_of(
                built, f"{INSTRUMENT_NAME[role]}: scores and differences from no hybrid pattern"
            )
            total = number(by_role[INSTRUMENT_NAME[role]][1])
            if not found or total is None:
                continue
            tab = found[0]
            at = column(tab, "Answers")
            shown = [number(r[at]) for r in tab["rows"]]
            missing = [s for s in shown if s is None]
            assert len(missing) != 1, (role, tab["rows"])
            rest = total - sum(s for s in shown if s is not None)
            assert rest == 0 or rest >= MIN_N, (role, rest)


# -- headline cards ----------------------------------------------------------------------------
def _card(built: Built, label: str) -> list[str]:
    found = [k for k in built.page.kpis if k and k[0] == label]
    assert len(found) == 1, [k[:1] for k in built.page.kpis]
    return found[0]


def test_a_small_headline_card_is_suppressed(tiny):
    # Found: "CSAT 100.0%, n = 2".
    card = _card(tiny, "CSAT (top-2-box)")
    assert card[1] == "suppressed", card
    assert not any(text.startswith("n = ") for text in card)
    assert not any(number(text.rstrip("%")) is not None for text in card[1:])
    usage = one_table(tiny, "Survey responses: used and left out")
    csat = next(r for r in usage["rows"] if r[0] == "csat")
    assert csat[column(usage, "Used")] != "2"


def test_a_huge_min_n_hides_every_card_and_count(huge, sample_tables):
    # Found: `--min-n 1000000` still showed CSAT n = 1,075.
    used, _ = _used(sample_tables)
    n_csat = int((used["instrument"] == "csat").sum())
    for card in huge.page.kpis:
        assert not any(text.startswith("n = ") for text in card), card
        assert card[1] == "suppressed" or number(card[1].split()[0]) is None, card
    for tab in huge.page.tables:
        for cells in tab["rows"]:
            for text in cells:
                value = number(text)
                assert value is None or value == 0, (tab["caption"], cells)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", huge.html)
    assert f"{n_csat:,}" not in text
    for alt in huge.page.alts:
        assert not re.search(r"\d{2,}", alt.replace("52-week", "")), alt


# -- hybrid patterns ---------------------------------------------------------------------------
def test_hybrid_pattern_counts_below_the_minimum_are_hidden(sample, sample_tables):
    # Found: "Hybrid patterns" showed a count of 2 below --min-n.
    _, registry = _used(sample_tables)
    hybrids = registry.hybrids(default_as_of(sample_tables))
    types = hybrids["hybrid_type"].astype(str).value_counts()
    small = types[types < MIN_N]
    assert len(small) >= 1, "the sample has a hybrid type with fewer than five people"
    tab = one_table(sample, "Hybrid patterns")
    at = column(tab, "People of this hybrid type")
    rows = {r[0]: r for r in tab["rows"]}
    for label in small.index:
        assert number(rows[hybrid_name(label)][at]) is None, rows[hybrid_name(label)]
    # Subtracting the shown types from everyone gives no single hidden type.
    people = number(_card(sample, "People")[1])
    shown = [number(r[at]) for r in tab["rows"]]
    if people is not None:
        assert sum(s is None for s in shown) != 1
        rest = people - sum(s for s in shown if s is not None)
        assert rest == 0 or rest >= MIN_N


# -- findings and alt texts --------------------------------------------------------------------
def test_findings_and_alt_texts_name_no_hidden_group(tiny):
    siloed = _siloed_rows(tiny)
    hidden = [g for g, cells in siloed.items() if cells[-1] == "suppressed"]
    assert hidden
    html_text = tiny.html
    findings = html_text.split("What stands out", 1)[1].split("</ul>", 1)[0]
    for group in hidden:
        role = next(r for r, g in GROUP.items() if g == group)
        assert f"the {role} group" not in findings
        for alt in tiny.page.alts:
            assert f"gap is for {group}" not in alt, alt
            assert f"NPS of {group}" not in alt, alt


# -- every total shown with its parts: no single hidden part, no small hidden union ---------
@pytest.fixture(scope="module")
def mid(sample_tables) -> Built:
    """The sample with a minimum that hides many groups (more secondary suppression)."""
    return _build(sample_tables, min_n=60)


def _check_partition(what: str, total: float | None, parts: list[float | None], min_n: int):
    if total is None:
        return
    hidden = sum(p is None for p in parts)
    assert hidden != 1, (what, total, parts)
    rest = total - sum(p for p in parts if p is not None)
    assert rest == 0 or rest >= min_n, (what, total, parts)


def _card_number(built: Built, label: str) -> float | None:
    found = [k for k in built.page.kpis if k and k[0] == label]
    return number(found[0][1]) if found else None


def _card_n(built: Built, label: str) -> float | None:
    found = [k for k in built.page.kpis if k and k[0] == label]
    sizes = [t for t in (found[0] if found else []) if t.startswith("n = ")]
    return number(sizes[0][4:]) if sizes else None


@pytest.mark.parametrize("which", ["sample", "tiny", "small", "mid", "huge"])
def test_no_total_gives_back_a_hidden_part(which, request):
    built = request.getfixturevalue(which)
    m = built.min_n
    by_role = {r[0]: r for r in one_table(built, "Net Promoter Score by role")["rows"]}
    for role in ROLES:
        found = tables_of(
            built, f"{INSTRUMENT_NAME[role]}: scores and differences from no hybrid pattern"
        )
        if found and INSTRUMENT_NAME[role] in by_role:
            at = column(found[0], "Answers")
            parts = [number(r[at]) for r in found[0]["rows"]]
            _check_partition(role, number(by_role[INSTRUMENT_NAME[role]][1]), parts, m)
    people = _card_number(built, "People")
    patterns = one_table(built, "Hybrid patterns")
    at = column(patterns, "People of this hybrid type")
    _check_partition("types", people, [number(r[at]) for r in patterns["rows"]], m)
    roles = one_table(built, "People by combination of roles")
    for header in roles["header"][1:]:
        if header.startswith("People"):
            at = column(roles, header)
            _check_partition(header, people, [number(r[at]) for r in roles["rows"]], m)
    usage = one_table(built, "Survey responses: used and left out")
    reasons = ["Role not held then", "Unknown id", "Outside every role", "No time"]
    for cells in usage["rows"]:
        parts = [number(cells[column(usage, h)]) for h in reasons]
        _check_partition(cells[0], number(cells[column(usage, "Left out")]), parts, m)
    # The number of all responses is not shown: with "Used" it would give the left-out.
    assert "Responses" not in usage["header"]
    inputs = one_table(built, "Input tables and how their rows were linked to persons")
    statuses = ["Linked to a person in a role", "Unknown id", "Outside every role", "No time"]
    for cells in inputs["rows"]:
        if cells[1] == "exhaust":
            parts = [number(cells[column(inputs, h)]) for h in statuses]
            _check_partition(cells[0], number(cells[column(inputs, "Rows")]), parts, m)
    for tab in tables_of(built, "Median time in the role (months)"):
        for cells in tab["rows"]:
            parts = [number(cells[column(tab, h)]) for h in ("Ended", "Still running")]
            _check_partition(cells[0], number(cells[column(tab, "Episodes")]), parts, m)
    for tab in tables_of(built, "CSAT (top-2-box) by hybrid type"):
        at = column(tab, "Answers")
        parts = [number(r[at]) for r in tab["rows"]]
        _check_partition("csat", _card_n(built, "CSAT (top-2-box)"), parts, m)
    for tab in tables_of(built, "Mean expected value by hybrid type (t interval)"):
        at = column(tab, "Customers")
        parts = [number(r[at]) for r in tab["rows"]]
        _check_partition("clv", _card_number(built, "Customers with purchases"), parts, m)


@pytest.mark.parametrize("which", ["mid"])
def test_invariants_hold_at_a_middle_minimum(which, request):
    built = request.getfixturevalue(which)
    test_a_hidden_row_shows_no_number_in_any_table(which, request)
    test_no_shown_count_is_below_the_minimum(which, request)
    test_figures_get_no_number_of_a_hidden_group(which, request)
    assert any(cells[-1] == "suppressed" for t in built.page.tables for cells in t["rows"])


# -- individual values: percentiles and the lifetime-value histogram -------------------------
def test_percentiles_and_histogram_ends_rest_on_at_least_min_n_people():
    from hxmetrics.report.sections.value_retention import _percentiles, _top_coded

    values = np.concatenate([np.arange(1.0, 41.0), [5000.0]])  # one customer far out
    clipped = _top_coded(values, MIN_N)
    # The largest customer's value is gone; each end is shared by min_n customers.
    assert 5000.0 not in clipped
    assert (clipped == clipped.max()).sum() >= MIN_N
    assert (clipped == clipped.min()).sum() >= MIN_N
    shown = _percentiles(values, (0.1, 0.25, 0.5, 0.75, 0.9), MIN_N)
    for share, value in zip((0.1, 0.25, 0.5, 0.75, 0.9), shown, strict=True):
        if np.isnan(value):
            assert min(share, 1 - share) * len(values) < MIN_N
        else:
            assert (values < value).sum() >= MIN_N - 1
            assert (values > value).sum() >= MIN_N - 1
    assert np.isnan(_percentiles(values[:9], (0.5,), MIN_N)[0])


# -- a data set without some instruments: the plan registers only what exists -----------------
def test_a_report_without_nps_answers_is_built(tiny_tables):
    responses = tiny_tables["responses"]
    tables = {**tiny_tables, "responses": responses.loc[responses["instrument"] != "nps"]}
    # Without NPS answers, invitations to NPS would name an instrument no answer has
    # (the contract refuses that as a likely typo): the NPS survey is not in the data,
    # nor its invitations.
    del tables["invitations"]
    tables["responses"] = tables["responses"].assign(invitation_id=pd.NA)
    built = _build(tables, min_n=MIN_N)
    by_role = one_table(built, "Net Promoter Score by role")
    assert by_role["rows"] == [["no rows"]]
    # The page's text (glossary links wrap terms such as NPS in tags).
    assert "No NPS answers in the data" in re.sub(r"<[^>]+>", "", built.html)
