"""Disclosure attacks on the dashboard sections of issue 18 (trends, distributions,
what people say, zero distance, people and partners, response rates).

Three simulated organisations (300, 500 and 800 people, with teams, journeys,
instruments, comments and invitations) are reported with ``min_n`` 5, 10 and 25. The
true numbers of the hidden groups are computed with the unsuppressed public API, and
the attacks try to get them back from what the page shows: a hidden category of a
role's NPS answers from the shares or counts of another section, a total minus the
shown parts (periods of a trend against the role's total, scores against their
category), a hidden worker headcount from the accounting identity of the turnover
table, a count below the minimum, a comparison against a hidden reference, and a
hidden group named in an alt text or quoted in a list of verbatims.

The generic attacks of ``test_disclosure_attacks`` (a hidden row's numbers, figure
sources, siloed-vs-unified, hybrid patterns, cards) are not repeated here; their
helpers are reused. Each report is built once per module. The four leaks this
module found (category shares in NPS by role and in the partner kinds, the closed
loop's detractor counts, SLA met and missed below the minimum) are fixed: their tests
are plain tests now.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics.report import build_report
from hxmetrics.report.sections import INSTRUMENT_NAME
from tests.report.html_page import Page, parse
from tests.report.test_disclosure_attacks import _used, _with_optional, number
from tests.report.unrendered import figures_unrendered

ROLES = ("customer", "worker", "partner")
PLURAL = {"customer": "customers", "worker": "workers", "partner": "partners"}
CATEGORY_OF = {"Detractors (0-6)": "detractor", "Passives (7-8)": "passive"}
CATEGORY_OF["Promoters (9-10)"] = "promoter"
#: (people, random_state, min_n) of each report attacked.
CASES = {"s300": (300, 3, 5), "m500": (500, 7, 10), "l800": (800, 11, 25)}
EMPTY = {"–", "", "suppressed"}


@dataclass
class Built:
    """One report: its page and HTML, its input tables, its minimum, the used answers."""

    page: Page
    html: str
    tables: dict[str, pd.DataFrame]
    min_n: int
    used: pd.DataFrame


@pytest.fixture(scope="module")
def builds() -> dict[str, Built]:
    out = {}
    for key, (people, seed, min_n) in CASES.items():
        org = hx.simulate_organisation(
            people,
            random_state=seed,
            teams=True,
            journeys=True,
            instruments=True,
            comments=True,
            invitations=True,
        )
        tables = _with_optional(org)
        # No pixels: the attacks read the page's text and tables (see unrendered).
        with figures_unrendered():
            document = build_report(tables, min_n=min_n).to_html()
        used, _ = _used(tables)
        out[key] = Built(parse(document), document, tables, min_n, used)
    return out


# -- reading the page --------------------------------------------------------------------
def by_header(built: Built, header: list[str]) -> list[dict]:
    """Tables whose header starts with ``header`` (figure data tables have no caption)."""
    return [t for t in built.page.tables if t["header"][: len(header)] == header]


def by_caption(built: Built, start: str) -> list[dict]:
    return [t for t in built.page.tables if t["caption"].strip().startswith(start)]


def at(tab: dict, header: str) -> int:
    return tab["header"].index(header)


def is_hidden(cells: list[str]) -> bool:
    return bool(cells) and cells[-1] == "suppressed"


def nps_answers(built: Built) -> pd.DataFrame:
    used = built.used
    keep = (used["instrument"] == "nps") & (used["item"] == "ltr") & used["score"].notna()
    rows = used.loc[keep, ["role", "score", "timestamp", "source_id"]].copy()
    rows["score"] = rows["score"].astype(int)
    rows["category"] = np.select(
        [rows["score"] <= 6, rows["score"] <= 8], ["detractor", "passive"], "promoter"
    )
    return rows


def true_categories(built: Built) -> dict[str, dict[str, int]]:
    rows = nps_answers(built)
    out: dict[str, dict[str, int]] = {}
    for role in ROLES:
        mine = rows.loc[rows["role"] == role, "category"].value_counts()
        if mine.sum():
            out[role] = {c: int(mine.get(c, 0)) for c in ("detractor", "passive", "promoter")}
    return out


def shown_categories(built: Built) -> dict[str, dict[str, float]]:
    """The categories the distributions section shows (its stacked bars' data)."""
    out: dict[str, dict[str, float]] = {r: {} for r in ROLES}
    role_of = {PLURAL[r]: r for r in ROLES}
    for tab in by_header(built, ["Role", "Category", "Answers", "Share %"]):
        for cells in tab["rows"]:
            value = number(cells[2]) if len(cells) > 2 else None
            if cells[0] in role_of and value is not None:
                out[role_of[cells[0]]][CATEGORY_OF[cells[1]]] = value
    return out


def hidden_categories(built: Built) -> dict[str, dict[str, int]]:
    """Role -> hidden category -> its true count (non-empty categories not shown)."""
    shown = shown_categories(built)
    out: dict[str, dict[str, int]] = {}
    for role, counts in true_categories(built).items():
        hidden = {c: n for c, n in counts.items() if n > 0 and c not in shown[role]}
        if hidden:
            out[role] = hidden
    return out


def nps_by_role_rows(built: Built) -> dict[str, list[str]]:
    (tab,) = by_caption(built, "Net Promoter Score by role")
    return {cells[0]: cells for cells in tab["rows"]}


# -- the precondition of the category attacks --------------------------------------------
def test_the_category_attacks_have_a_target(builds):
    # Partners' 16 answers in s300 split 3 promoters / 4 passives / 9 detractors: the
    # distributions section hides the promoters (primary) and the passives (complementary).
    # The detractors (9) are shown in the table of partly suppressed splits.
    hidden = hidden_categories(builds["s300"])
    assert hidden.get("partner") == {"promoter": 3, "passive": 4}, hidden


def _category_leaks_in_nps_by_role(built: Built) -> list[tuple]:
    rows = nps_by_role_rows(built)
    leaks = []
    for role, hidden in hidden_categories(built).items():
        cells = rows.get(INSTRUMENT_NAME[role])
        if cells is None:
            continue
        (tab,) = by_caption(built, "Net Promoter Score by role")
        n = number(cells[at(tab, "Answers")])
        for header, category in (("Promoters %", "promoter"), ("Detractors %", "detractor")):
            if header not in tab["header"] or category not in hidden or n is None:
                continue
            share = number(cells[at(tab, header)])
            if share is not None and round(n * share / 100) == hidden[category]:
                leaks.append((role, category, hidden[category], cells))
    return leaks


def test_nps_by_role_shares_do_not_give_back_hidden_categories(builds):
    leaks = [leak for built in builds.values() for leak in _category_leaks_in_nps_by_role(built)]
    assert not leaks, leaks


def _kind_leaks(built: Built, caption: str, role: str) -> list[tuple]:
    hidden = hidden_categories(built).get(role, {})
    leaks = []
    for tab in by_caption(built, caption):
        if not tab["rows"] or any(is_hidden(cells) for cells in tab["rows"]):
            continue  # a hidden kind leaves the role's split unknown
        n = [number(cells[at(tab, "Answers")]) for cells in tab["rows"]]
        if any(v is None for v in n):
            continue
        for header, category in (("Promoters %", "promoter"), ("Detractors %", "detractor")):
            if category not in hidden:
                continue
            shares = [number(cells[at(tab, header)]) for cells in tab["rows"]]
            if any(s is None for s in shares):
                continue
            total = sum(round(k * s / 100) for k, s in zip(n, shares, strict=True))
            if total == hidden[category]:
                leaks.append((caption, role, category, total))
    return leaks


def test_kind_shares_do_not_give_back_hidden_categories(builds):
    leaks = []
    for built in builds.values():
        leaks += _kind_leaks(built, "Partner NPS by partner kind", "partner")
        leaks += _kind_leaks(built, "eNPS by engagement kind", "worker")
    assert not leaks, leaks


def marked_categories(built: Built) -> dict[str, set[str]]:
    """Role -> the categories the distributions section marks suppressed (its table of
    partly suppressed splits): the cells the plan hides. A role hidden as a whole shows
    no category at all, without any of them being a hidden cell."""
    role_of = {PLURAL[r]: r for r in ROLES}
    out: dict[str, set[str]] = {}
    for tab in by_caption(built, "Promoter split of the roles with a suppressed category"):
        for cells in tab["rows"]:
            if cells[0] in role_of and is_hidden(cells):
                out.setdefault(role_of[cells[0]], set()).add(CATEGORY_OF[cells[1]])
    return out


def test_closed_loop_shows_no_hidden_detractor_count(builds):
    # Was a leak (s300: partner 9, m500: partner 10): the loop's detractor count is now
    # linked to the role's detractor category, hidden together.
    leaks = []
    checked = 0
    for built in builds.values():
        marked = marked_categories(built)
        checked += sum(len(v) for v in marked.values())
        hidden = {r: {"detractor": 0} for r, cats in marked.items() if "detractor" in cats}
        for tab in by_caption(built, "Closed loop by role"):
            for cells in tab["rows"]:
                role = cells[0]
                shown = number(cells[at(tab, "Detractor answers")])
                if role in hidden and "detractor" in hidden[role] and shown is not None:
                    leaks.append((built.min_n, role, shown, hidden[role]["detractor"]))
    assert checked > 0  # some split is partly suppressed: the attack has targets
    assert not leaks, leaks


# -- scores within their category, categories within the role ----------------------------
def test_scores_and_categories_give_back_no_hidden_part(builds):
    checked = 0
    for built in builds.values():
        rows = nps_answers(built)
        shown_cat = shown_categories(built)
        role_of = {PLURAL[r]: r for r in ROLES}
        shown_scores: dict[str, dict[int, float]] = {r: {} for r in ROLES}
        for tab in by_header(built, ["Role", "Score", "Answers", "Share %"]):
            for cells in tab["rows"]:
                value = number(cells[2]) if len(cells) > 2 else None
                if cells[0] in role_of and value is not None:
                    shown_scores[role_of[cells[0]]][int(cells[1])] = value
        for role in ROLES:
            truth = rows.loc[rows["role"] == role, "score"].value_counts()
            for score, value in shown_scores[role].items():
                # A score shown as 0 has no answer (not a hidden one written as 0).
                assert value == int(truth.get(score, 0)), (role, score, value)
            for category, total in shown_cat[role].items():
                mine = rows.loc[(rows["role"] == role) & (rows["category"] == category)]
                counts = mine["score"].value_counts()
                hidden = [s for s in counts.index if int(s) not in shown_scores[role]]
                rest = total - sum(
                    v for s, v in shown_scores[role].items() if int(s) in set(counts.index)
                )
                assert len(hidden) != 1, (built.min_n, role, category, hidden)
                assert rest == 0 or rest >= built.min_n, (built.min_n, role, category, rest)
                checked += 1
            role_total = number(nps_by_role_rows(built).get(INSTRUMENT_NAME[role], ["", "–"])[1])
            if role_total is not None and shown_cat[role]:
                cats = true_categories(built)[role]
                hidden = [c for c, n in cats.items() if n and c not in shown_cat[role]]
                rest = role_total - sum(shown_cat[role].values())
                assert len(hidden) != 1, (built.min_n, role, hidden)
                assert rest == 0 or rest >= built.min_n, (built.min_n, role, rest)
    assert checked >= 6


# -- trends: the periods against the role's total ----------------------------------------
def _period_rows(built: Built, label: str) -> list[list[str]] | None:
    """Every period of a measure (its control chart's data), or None without a chart."""
    for unit in ("Quarter", "Month", "Year"):
        for tab in by_header(built, [unit, "Answers", label]):
            if "Centre line" in tab["header"]:
                return tab["rows"]
    return None


def test_trend_periods_give_back_no_hidden_period_or_total(builds):
    checked = 0
    for built in builds.values():
        answers = nps_answers(built)
        rows_by_role = nps_by_role_rows(built)
        for role in ROLES:
            periods = _period_rows(built, INSTRUMENT_NAME[role])
            if periods is None:
                continue
            shown = [number(cells[1]) for cells in periods]
            missing = [s is None for s in shown]
            total = number(rows_by_role.get(INSTRUMENT_NAME[role], ["", "–"])[1])
            dated = answers.loc[(answers["role"] == role) & answers["timestamp"].notna()]
            if total is None:
                # A hidden total is not the sum of shown periods.
                assert any(missing) or sum(shown) != len(dated), (role, built.min_n)
                continue
            assert sum(missing) != 1, (role, built.min_n, periods)
            rest = total - sum(s for s in shown if s is not None)
            assert rest == 0 or rest >= built.min_n, (role, built.min_n, rest)
            checked += 1
        for label, card in (("CSAT", "CSAT (top-2-box)"), ("CES", "Customer effort (CES)")):
            periods = _period_rows(built, label)
            found = [k for k in built.page.kpis if k and k[0] == card]
            sizes = [t for t in (found[0] if found else []) if t.startswith("n = ")]
            if periods is None or not sizes:
                continue
            shown = [number(cells[1]) for cells in periods]
            total = number(sizes[0][4:])
            assert total is not None
            assert sum(s is None for s in shown) != 1, (label, built.min_n)
            rest = total - sum(s for s in shown if s is not None)
            assert rest == 0 or rest >= built.min_n, (label, built.min_n, rest)
            checked += 1
    assert checked >= 4


def test_a_hidden_period_has_no_change_next_to_it(builds):
    for built in builds.values():
        for tab in built.page.tables:
            change = [h for h in tab["header"] if h.startswith("Change from previous")]
            if not change:
                continue
            col = at(tab, change[0])
            p = at(tab, "Adjusted p (Holm)")
            for before, cells in zip(tab["rows"], tab["rows"][1:], strict=False):
                if is_hidden(before) or is_hidden(cells):
                    assert cells[col] in EMPTY, (tab["caption"], cells)
                    assert cells[p] in EMPTY, (tab["caption"], cells)
            if tab["rows"] and tab["caption"].strip():
                # The table's first row: its previous period may be hidden; it never
                # shows a change unless the chart's data show the previous period.
                first = tab["rows"][0]
                chart = _period_rows(built, tab["header"][2]) or []
                labels = [cells[0] for cells in chart]
                if first[0] in labels and labels.index(first[0]) > 0:
                    previous = chart[labels.index(first[0]) - 1]
                    if is_hidden(previous):
                        assert first[col] in EMPTY, (tab["caption"], first)


# -- counts below the minimum in the new sections ----------------------------------------
NEW_COUNTS = {
    "Answers",
    "Comments",
    "Tickets",
    "Detractor answers",
    "Answers with a score before and after",
    "People served",
    "Workers",
    "Sessions",
    "People",
    "People visiting",
    "Leavers",
    "Came back",
    "Headcount at start",
    "Joined",
    "Left",
    "Headcount at end",
    "Invited",
    "Answered",
    "Answers with",
    "without",
}


def _small_counts(built: Built, headers: set[str]) -> list[tuple]:
    found = []
    for tab in built.page.tables:
        for position, name in enumerate(tab["header"]):
            if name not in headers:
                continue
            for cells in tab["rows"]:
                value = number(cells[position]) if position < len(cells) else None
                if value is not None and 0 < value < built.min_n:
                    found.append((built.min_n, tab["caption"], name, cells))
    return found


def test_no_count_of_the_new_sections_is_below_the_minimum(builds):
    found = [f for built in builds.values() for f in _small_counts(built, NEW_COUNTS)]
    assert not found, found


def test_sla_met_and_missed_are_never_below_the_minimum(builds):
    found = [f for built in builds.values() for f in _small_counts(built, {"Met", "Missed"})]
    assert not found, found


# -- turnover: the accounting identity start + joined - left = end ------------------------
def _determined(matrix: np.ndarray, column: int) -> bool:
    """Whether the unknown ``column`` is fixed by the equations ``matrix @ x = b``."""
    if not matrix.size:
        return False
    unit = np.zeros(matrix.shape[1])
    unit[column] = 1.0
    rank = np.linalg.matrix_rank(matrix)
    return bool(np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank)


def _worker_episodes_ended(built: Built) -> float | None:
    for tab in by_caption(built, "Median time in the role (months)"):
        for cells in tab["rows"]:
            if cells[0] == "worker":
                return number(cells[at(tab, "Ended")])
    return None


def test_hidden_headcounts_do_not_follow_from_their_neighbours(builds):
    checked = 0
    for built in builds.values():
        for tab in by_caption(built, "Worker headcount, joiners, leavers and turnover"):
            fields = ["Headcount at start", "Joined", "Left", "Headcount at end"]
            values = [[number(cells[at(tab, f)]) for f in fields] for cells in tab["rows"]]
            unknown = [
                (i, j) for i, row in enumerate(values) for j, v in enumerate(row) if v is None
            ]
            if not unknown:
                continue
            index = {cell: k for k, cell in enumerate(unknown)}
            equations = []
            # start + joined - left - end = 0 in each period; end(t) = start(t + 1).
            signs = (1.0, 1.0, -1.0, -1.0)
            for i in range(len(values)):
                equations.append([((i, j), c) for j, c in enumerate(signs)])
                if i + 1 < len(values):
                    equations.append([((i, 3), 1.0), ((i + 1, 0), -1.0)])
            rows = []
            for terms in equations:
                line = np.zeros(len(unknown))
                for cell, coefficient in terms:
                    if cell in index:
                        line[index[cell]] += coefficient
                if line.any():
                    rows.append(line)
            # Every worker episode that ended is a leaver of one of these years (the
            # retention table's "Ended"; tests/report/test_section_people.py checks it).
            ended = _worker_episodes_ended(built)
            if ended is not None:
                line = np.array([1.0 if j == 2 else 0.0 for _, j in unknown])
                if line.any():
                    rows.append(line)
            matrix = np.array(rows) if rows else np.zeros((0, len(unknown)))
            for cell, k in index.items():
                assert not _determined(matrix, k), (built.min_n, tab["rows"][cell[0]], cell)
                checked += 1
    assert checked >= 2


# -- comparisons against a hidden reference ------------------------------------------------
def test_no_difference_against_a_hidden_reference(builds):
    checked = 0
    for built in builds.values():
        for tab in built.page.tables:
            named = re.search(r"against the largest kind, ([^,]+),", tab["caption"])
            if not named:
                continue
            reference = named.group(1)
            ref_rows = [cells for cells in tab["rows"] if cells[0] == reference]
            assert len(ref_rows) == 1, (tab["caption"], reference)
            if not is_hidden(ref_rows[0]):
                continue
            checked += 1
            # No difference, p-value or flag (the columns are gone or blank).
            for header in (f"vs {reference}", "Holm p", "Differs"):
                if header in tab["header"]:
                    col = at(tab, header)
                    assert all(c[col] in EMPTY for c in tab["rows"]), (tab["caption"], header)
            for alt in built.page.alts:
                assert f"vs {reference}" not in (alt or ""), alt
    # Partner kinds in l800 are all hidden, the supplier reference with them.
    assert checked >= 1


# -- alt texts and verbatims ---------------------------------------------------------------
def test_alt_texts_name_no_hidden_kind_desk_or_theme(builds):
    checked = 0
    for built in builds.values():
        alts = [a or "" for a in built.page.alts]
        for caption, start in (
            ("eNPS by engagement kind", "Dot and interval plot of eNPS by engagement kind"),
            ("Partner NPS by partner kind", "Dot and interval plot of Partner NPS by partner"),
        ):
            for tab in by_caption(built, caption):
                shown = {cells[0] for cells in tab["rows"] if not is_hidden(cells)}
                for alt in (a for a in alts if a.startswith(start)):
                    for name in re.findall(r"(?:highest|lowest) (.+?) at ", alt):
                        assert name in shown, (alt, shown)
                        checked += 1
        for tab in by_caption(built, "Responsiveness per desk"):
            shown = {cells[0] for cells in tab["rows"] if not is_hidden(cells)}
            for alt in (a for a in alts if "per desk" in a):
                for name in re.findall(r"(?:fastest|slowest|highest|lowest) (\S+) \(", alt):
                    assert name in shown, (alt, shown)
                    checked += 1
        themes = {
            cells[0]
            for tab in by_caption(built, "")
            if tab["header"][:2] == ["Theme (top words)", "Comments"]
            for cells in tab["rows"]
            if not is_hidden(cells)
        }
        for alt in (a for a in alts if "theme" in a):
            for name in re.findall(r"'([^']+)' \(", alt):
                assert name in themes, (alt, themes)
                checked += 1
    assert checked >= 6


def test_verbatims_come_only_from_shown_themes_of_shown_roles(builds):
    quoted = 0
    for built in builds.values():
        text = html_lib.unescape(built.html)
        (tone,) = by_caption(built, "Comments and their tone by role")
        for cells in tone["rows"]:
            name = cells[0]
            if is_hidden(cells):
                assert f"What {name.lower()} wrote" not in text, name
                continue
            tabs = [t for t in by_caption(built, f"{name}: comment themes")]
            shown = {c[0] for t in tabs for c in t["rows"] if not is_hidden(c)}
            part = text.split(f"What {name.lower()} wrote", 1)
            if len(part) == 1:
                continue
            items = part[1].split("</ul>", 1)[0]
            for label in re.findall(r"<li>\[([^\]]*)\] “", items):
                assert label in shown, (name, label, shown)
                quoted += 1
    assert quoted >= 3


# -- totals against their parts across sections --------------------------------------------
def _partition(what: tuple, total: float | None, parts: list[float | None], min_n: int) -> int:
    """A total shown with its parts: never one hidden part, never a small hidden rest."""
    if total is None or not parts:
        return 0
    hidden = sum(p is None for p in parts)
    assert hidden != 1, (what, total, parts)
    rest = total - sum(p for p in parts if p is not None)
    assert rest == 0 or rest >= min_n, (what, total, parts)
    return 1


def _rows_of_table(built: Built, name: str) -> float | None:
    (tab,) = by_caption(built, "Input tables and how their rows were linked")
    cells = [c for c in tab["rows"] if c[0] == name]
    return number(cells[0][at(tab, "Rows")]) if cells else None


def test_kinds_roles_desks_and_severities_give_back_no_hidden_part(builds):
    checked = 0
    for built in builds.values():
        m = built.min_n
        by_role = nps_by_role_rows(built)
        # Engagement kinds and partner kinds: all of a role's NPS answers.
        for caption, role in (
            ("eNPS by engagement kind", "worker"),
            ("Partner NPS by partner kind", "partner"),
        ):
            for tab in by_caption(built, caption):
                total = number(by_role.get(INSTRUMENT_NAME[role], ["", "–"])[1])
                parts = [number(c[at(tab, "Answers")]) for c in tab["rows"]]
                checked += _partition((m, caption), total, parts, m)
        # The invited answers: everyone and each role.
        for tab in by_caption(built, "NPS of the answers linked to an invitation"):
            rows = {c[0]: c for c in tab["rows"]}
            if "everyone" in rows:
                total = number(rows["everyone"][at(tab, "Answers")])
                parts = [number(c[at(tab, "Answers")]) for k, c in rows.items() if k != "everyone"]
                checked += _partition((m, "invited NPS"), total, parts, m)
            # A role's answers linked to an invitation, within all its answers: the
            # answers without an invitation are the rest (their NPS follows as well).
            for role in ROLES:
                if role not in rows:
                    continue
                total = number(by_role.get(INSTRUMENT_NAME[role], ["", "–"])[1])
                invited = number(rows[role][at(tab, "Answers")])
                if total is not None and invited is not None:
                    rest = total - invited
                    assert rest == 0 or rest >= m, (m, role, "answers without invitation", rest)
                    checked += 1
        # Tickets: each desk within all tickets, each severity within its desk.
        for tab in by_caption(built, "Responsiveness per desk"):
            desks = {c[0]: number(c[at(tab, "Tickets")]) for c in tab["rows"]}
            checked += _partition(
                (m, "desks"), _rows_of_table(built, "tickets"), list(desks.values()), m
            )
            for sla in by_caption(built, "SLA attainment per desk and severity"):
                for desk, total in desks.items():
                    parts = [number(c[at(sla, "Tickets")]) for c in sla["rows"] if c[0] == desk]
                    checked += _partition((m, "severities", desk), total, parts, m)
        # Comments: each role's within the comments table's rows.
        for tab in by_caption(built, "Comments and their tone by role"):
            parts = [number(c[at(tab, "Comments")]) for c in tab["rows"]]
            checked += _partition((m, "comments"), _rows_of_table(built, "comments"), parts, m)
    assert checked >= 10


def test_no_complement_below_the_minimum(builds):
    # Invited minus answered are the people who did not answer: a count as well.
    checked = 0
    for built in builds.values():
        for tab in by_caption(built, "Response rate"):
            answered = next(h for h in tab["header"] if h.startswith("Answered"))
            for cells in tab["rows"]:
                invited = number(cells[at(tab, "Invited")])
                got = number(cells[at(tab, answered)])
                if invited is None or got is None:
                    continue
                rest = invited - got
                assert rest == 0 or rest >= built.min_n, (built.min_n, cells)
                checked += 1
        for tab in by_caption(built, "Closed loop by role"):
            for cells in tab["rows"]:
                total = number(cells[at(tab, "Detractor answers")])
                got = number(cells[at(tab, "Followed up")])
                if total is None or got is None:
                    continue
                rest = total - got
                assert rest == 0 or rest >= built.min_n, (built.min_n, cells)
                checked += 1
    assert checked >= 4


def test_the_headcount_solver_finds_a_determined_cell():
    # The attack itself: one hidden cell of an identity is found; two in one are not.
    assert _determined(np.array([[1.0, 0.0], [0.0, 1.0]]), 0)
    assert _determined(np.array([[1.0]]), 0)
    assert not _determined(np.array([[1.0, 1.0]]), 0)
    assert not _determined(np.zeros((0, 2)), 1)


def test_key_drivers_only_for_roles_whose_item_means_are_shown(builds):
    # A driver's performance is the role's item mean: never one the means table hides.
    checked = 0
    for built in builds.values():
        means = by_caption(built, "Core questions: mean score by role")
        shown = {
            (c[0], c[1]): c[3] for t in means for c in t["rows"] if not is_hidden(c) and c[3] != "–"
        }
        for tab in by_caption(built, "Key drivers for "):
            role = tab["caption"].strip()[len("Key drivers for ") :].split(":", 1)[0]
            for cells in tab["rows"]:
                assert (role, cells[0]) in shown, (built.min_n, role, cells)
                assert cells[at(tab, "Performance")] == shown[(role, cells[0])], (role, cells)
                checked += 1
    assert checked >= 6
