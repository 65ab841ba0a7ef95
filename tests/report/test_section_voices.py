"""The report's "What people say" section: comment themes per role with their volume,
sentiment and impact on the likelihood to recommend, redacted quotes; suppression of
small themes (no number, label or quote of a hidden theme); repeatability; absent data.

Numbers are recomputed through the public API (:mod:`hxmetrics.measures.text` on the
sample's comments, the used answers attributed as tests/report/test_main.py does,
Welch's test from scipy and Holm from :mod:`hxmetrics.measures._inference`) and
compared with the page's cells as it formats them.

The small reports here hold only this section (the other sections' plans are not
run): they test this section's behaviour, and stay independent of the others.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hxmetrics as hx
import hxmetrics.report.main as report_main
import hxmetrics.report.sections as sections
from hxmetrics.datasets import load_sample
from hxmetrics.measures._inference import holm
from hxmetrics.measures.text import comment_sentiment, comment_themes, theme_impact
from hxmetrics.privacy import redact_identifiers
from hxmetrics.report import Report, build_report, default_as_of, input_identifiers
from hxmetrics.report.main import DEFAULT_SEED, OPTIONAL_TABLES
from hxmetrics.report.sections import voices
from hxmetrics.report.sections.context import Context
from hxmetrics.tables import ROLE_OF_SILO
from tests.report.html_page import parse, table

SAMPLE_MIN_N = 5  # the report's default (WORKER_MIN_N)
DASH = "–"


def signed(value: float, decimals: int = 2) -> str:
    if abs(value) < 0.5 * 10.0**-decimals:
        return f"{0.0:.{decimals}f}"
    return f"{value:+.{decimals}f}"


def p_text(value: float) -> str:
    return "<0.001" if value < 0.0005 else f"{value:.3f}"


def section_html(document: str) -> str:
    return document.split('<section id="voices"', 1)[1].split("</section>", 1)[0]


def quotes(fragment: str) -> list[tuple[str, str]]:
    """The quoted comments of a section: (theme label, text)."""
    out = []
    for item in re.findall(r"<li>(.*?)</li>", fragment, flags=re.S):
        found = re.fullmatch(r"\[(.*?)\] “(.*)”", html.unescape(item), flags=re.S)
        assert found, item
        out.append((found.group(1), found.group(2)))
    return out


def sample_tables() -> dict[str, pd.DataFrame]:
    org = load_sample()
    tables = dict(org.tables)
    for name in OPTIONAL_TABLES:
        if getattr(org, name, None) is not None:
            tables[name] = getattr(org, name)
    return tables


def used_answers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The NPS answers the report uses: attributed, the surveying role held then."""
    registry = hx.StakeholderRegistry.from_rosters(
        **{k: tables[k] for k in ("customers", "workers", "partners") if k in tables}
    )
    answers = registry.attribute(tables["responses"])
    answers["role"] = answers["silo"].map(ROLE_OF_SILO)
    held = np.zeros(len(answers), dtype=bool)
    for role in ROLE_OF_SILO.values():
        held |= (answers["role"] == role).to_numpy() & answers[f"is_{role}"].to_numpy(bool)
    used = answers[(answers["attribution"] == "ok").to_numpy() & held]
    return used[(used["instrument"] == "nps") & (used["item"] == "ltr")]


def role_comments(tables: dict[str, pd.DataFrame], role: str) -> pd.DataFrame:
    comments = tables["comments"].assign(role=tables["comments"]["silo"].map(ROLE_OF_SILO))
    return comments[comments["role"] == role].reset_index(drop=True)


def voices_only(
    tables: dict[str, pd.DataFrame], *, min_n: int = SAMPLE_MIN_N
) -> tuple[Context, Report]:
    """A report of this section alone, with its context (the core plan and this one)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sections, "PLANS", (voices.plan,))
        ctx = Context.build(
            tables,
            as_of=default_as_of(tables),
            min_n=min_n,
            keys=("email", "phone"),
            confidence=0.95,
            random_state=DEFAULT_SEED,
        )
        ctx.plan()
    report = Report(
        title="What people say",
        forbidden=input_identifiers(tables, person_ids=ctx.person_ids()),
    )
    voices.section(report, ctx)
    return ctx, report


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    return sample_tables()


@pytest.fixture(scope="module")
def voices_page(sample_html: str) -> str:
    return section_html(sample_html)


# ------------------------------------------------------------------ the sample report
def test_tone_by_role_matches_the_api(voices_page, sample):
    page = parse(voices_page)
    tab = table(page, "Comments and their tone by role")
    comments = sample["comments"].assign(role=sample["comments"]["silo"].map(ROLE_OF_SILO))
    expected = comment_sentiment(comments, by="role", min_n=None).groups.set_index("role")
    assert [r[0] for r in tab["rows"]] == ["Customers", "Workers", "Partners"]
    for row, role in zip(tab["rows"], ["customer", "worker", "partner"], strict=True):
        e = expected.loc[role]
        assert row[1:] == [
            f"{int(e['n']):,}",
            signed(e["estimate"]),
            signed(e["ci_low"]),
            signed(e["ci_high"]),
            f"{e['pct_positive']:.1f}",
            f"{e['pct_negative']:.1f}",
        ]
    # The sample's 1,021 comments (docs/measures_text.md): 597, 330, 94.
    assert [r[1] for r in tab["rows"]] == ["597", "330", "94"]


@pytest.mark.parametrize("role", ["customer", "worker", "partner"])
def test_themes_sentiment_and_impact_match_the_api(voices_page, sample, role):
    comments = role_comments(sample, role)
    themes = comment_themes(
        comments,
        n_themes=voices.N_THEMES,
        min_df=SAMPLE_MIN_N,
        random_state=DEFAULT_SEED,
        min_n=None,
    )
    answers = used_answers(sample)
    answers = answers[answers["role"] == role]
    impact = theme_impact(
        comments, answers, themes=themes, outcome="ltr", n_resamples=0, min_n=None
    ).differences.set_index("theme")
    summary = themes.themes.set_index("theme")
    # Welch's test per theme from the answers themselves (scipy), Holm over the themes.
    flags = themes.comments.set_index("comment_id")[themes.theme_names]
    on = comments.set_index("comment_id")["response_id"]
    per_answer = flags.groupby(on.reindex(flags.index).to_numpy()).max()
    score = answers.set_index("response_id")["score"]
    per_answer = per_answer.loc[per_answer.index.isin(score.index)]
    y = score.reindex(per_answer.index).to_numpy(dtype=float)
    p = np.array(
        [
            stats.ttest_ind(
                y[per_answer[t].to_numpy(bool)], y[~per_answer[t].to_numpy(bool)], equal_var=False
            ).pvalue
            for t in themes.theme_names
        ]
    )
    adjusted = dict(zip(themes.theme_names, holm(p), strict=True))
    terms = themes.terms
    page = parse(voices_page)
    name = voices.ROLE_PLURAL[role]
    tab = table(
        page,
        f"{name}: comment themes, their tone and their impact on the likelihood to recommend",
    )
    assert len(tab["rows"]) == len(themes.theme_names)
    seen = []
    for row in tab["rows"]:
        (theme,) = [
            t
            for t in themes.theme_names
            if ", ".join(terms[terms["theme"] == t].sort_values("rank")["term"].head(3)) == row[0]
        ]
        seen.append(theme)
        s, i = summary.loc[theme], impact.loc[theme]
        assert row[1:] == [
            f"{int(s['n']):,}",
            f"{s['pct_comments']:.1f}",
            signed(s["estimate"]),
            signed(s["ci_low"]),
            signed(s["ci_high"]),
            signed(i["estimate"]),
            signed(i["ci_low"]),
            signed(i["ci_high"]),
            f"{int(i['n_with']):,}",
            f"{int(i['n_without']):,}",
            p_text(adjusted[theme]),
            "yes" if adjusted[theme] < 0.05 else "no",
        ]
    # Shown themes by volume, most mentioned first.
    counts = [int(summary.loc[t, "n"]) for t in seen]
    assert counts == sorted(counts, reverse=True)


def test_the_planted_themes_are_found_with_their_impact(voices_page):
    """The simulator's planted effects: customers' wait time -2.39 and staff +1.44,
    workers' workload -3.10 and manager +1.83 (docs/measures_text.md)."""
    page = parse(voices_page)
    rows = {
        (tab["caption"].split(":")[0], r[0]): r
        for tab in page.tables
        if tab["caption"].endswith("likelihood to recommend")
        for r in tab["rows"]
    }
    wait = rows[("Customers", "time, hold, response")]
    staff = rows[("Customers", "advisor, cashier, driver")]
    workload = rows[("Workers", "deadlines, workload, hours")]
    manager = rows[("Workers", "leadership, supervisor, boss")]
    # The interval (columns 7-8) covers the planted difference.
    for row, planted in ((wait, -2.39), (staff, 1.44), (workload, -3.10), (manager, 1.83)):
        assert float(row[7]) <= planted <= float(row[8]), row
        assert row[-1] == "yes"


def test_figures_have_alt_texts_and_data(voices_page):
    page = parse(voices_page)
    assert len(page.alts) == 2
    assert all(a is not None and len(a.split()) >= 6 for a in page.alts)
    assert "sentiment" in page.alts[0]
    assert "impact" in page.alts[1]
    assert voices_page.count('class="figure-data"') == 2
    # The impact figure's data: every theme of the three roles, as in the tables.
    data = [t for t in page.tables if t["header"][:3] == ["Role", "Theme", "Answers with"]]
    assert len(data) == 1
    assert len(data[0]["rows"]) == 12


def test_quotes_are_redacted_comments_of_their_theme(voices_page, sample):
    found = quotes(voices_page)
    assert 0 < len(found) <= 3 * 12
    redacted = set(redact_identifiers(sample["comments"]["text"]).tolist())
    assert all(text in redacted for _, text in found)
    planted = load_sample().truth.planted["comments"]["identifiers"]["value"]
    assert not [v for v in planted if v in voices_page]
    per_theme = pd.Series([label for label, _ in found]).value_counts()
    assert per_theme.max() <= voices.N_QUOTES


def test_intro_and_how_to_read(voices_page):
    intro = voices_page.split("<p>", 1)[1].split("</p>", 1)[0]
    assert len(intro.split()) >= 20
    assert "How to read this" in voices_page


# ---------------------------------------------------------------------- suppression
@pytest.fixture(scope="module")
def strict(sample) -> tuple[Context, str]:
    """The sample with min_n=14: the partners' themes (terms in at least 14 comments)
    hold 4, 13, 16 and 14 comments: two are hidden, two shown."""
    ctx, report = voices_only(sample, min_n=14)
    return ctx, section_html(report.to_html())


def test_a_small_theme_shows_nothing(strict):
    ctx, fragment = strict
    rows = voices.theme_rows(ctx, "partner")
    hidden = rows.loc[rows["suppressed"]]
    shown = rows.loc[~rows["suppressed"]]
    assert len(hidden) >= 1
    assert len(shown) >= 1
    labels = ctx.planned["voices:theme_table:partner"].set_index("theme")["label"]
    hidden_labels = [labels[t] for t in hidden["theme"]]
    page = parse(fragment)
    tab = table(
        page, "Partners: comment themes, their tone and their impact on the likelihood to recommend"
    )
    suppressed = [r for r in tab["rows"] if r[-1] == "suppressed"]
    assert len(suppressed) == len(hidden)
    for r in suppressed:
        assert r[0] == voices.HIDDEN_LABEL
        assert set(r[1:-1]) <= {DASH, ""}
    # The hidden themes' words appear nowhere: no row, no figure, no quote.
    for label in hidden_labels:
        assert label not in fragment
    assert all(label not in hidden_labels for label, _ in quotes(fragment))
    allowed = set(labels[shown["theme"]])
    for role in ("customer", "worker"):
        others = voices.theme_rows(ctx, role)
        allowed |= set(others.loc[~others["suppressed"], "label"])
    assert {label for label, _ in quotes(fragment)} <= allowed
    assert "payment, terms, compliance" in {label for label, _ in quotes(fragment)}
    # Nor in the figures' data: only shown themes are drawn.
    data = [t for t in page.tables if t["header"][:2] == ["Role", "Theme"]]
    assert all(r[1] not in hidden_labels for t in data for r in t["rows"])


def test_holm_runs_over_the_shown_themes_only(strict):
    ctx, _ = strict
    rows = voices.theme_rows(ctx, "partner")
    impact = ctx.planned["voices:impact_table:partner"].set_index("theme")
    shown = rows.loc[rows["impact"].notna()]
    t = impact.loc[shown["theme"], "estimate"] / impact.loc[shown["theme"], "se"]
    p = 2 * stats.t.sf(np.abs(t.to_numpy()), impact.loc[shown["theme"], "df"].to_numpy())
    np.testing.assert_allclose(shown["p_adjusted"].to_numpy(), holm(p), rtol=1e-12)
    assert rows.loc[rows["suppressed"], ["impact", "p_adjusted"]].isna().all().all()
    assert (rows.loc[rows["suppressed"], "differs"] == "").all()


def test_welch_df_read_back_from_the_interval_is_scipys(sample):
    """The p-value's degrees of freedom are Welch-Satterthwaite's (scipy's ttest_ind)."""
    comments = role_comments(sample, "partner")
    answers = used_answers(sample)
    answers = answers[answers["role"] == "partner"]
    rules = {"pay": ["payment*", "invoice*", "payout*"]}
    diff = theme_impact(
        comments, answers, themes=rules, outcome="ltr", n_resamples=0, min_n=None
    ).differences
    df = voices._welch_df_of(diff, 0.95)
    themed = comment_themes(comments, themes=rules, min_n=None).comments["pay"].to_numpy()
    score = answers.set_index("response_id")["score"]
    linked = comments["response_id"].isin(score.index).to_numpy()
    y = score.reindex(comments["response_id"][linked]).to_numpy(dtype=float)
    expected = stats.ttest_ind(y[themed[linked]], y[~themed[linked]], equal_var=False).df
    # The df is solved from the interval's t quantile (a root search), not read from a
    # stored value: agreement to 1e-6 relative, far tighter than any df that changes p.
    np.testing.assert_allclose(df[0], expected, rtol=1e-6)


# ------------------------------------------------------------- privacy of the quotes
@pytest.fixture(scope="module")
def planted() -> tuple[dict[str, pd.DataFrame], Report]:
    org = hx.simulate_organisation(300, random_state=3, comments=True)
    tables = dict(org.tables)
    customers = tables["customers"].copy()
    customers["given_name"] = "Zelda"
    customers["family_name"] = "Quarrington"
    tables["customers"] = customers
    comments = org.comments.copy()
    mine = comments["silo"] == "customers"
    comments.loc[mine, "text"] = (
        comments.loc[mine, "text"]
        + " Ask for Zelda Quarrington: zelda.q@example.org or +44 20 7946 0958."
    )
    tables["comments"] = comments
    return tables, voices_only(tables)[1]


def test_planted_identifiers_never_appear(planted, tmp_path):
    _, report = planted
    document = report.to_html()
    fragment = section_html(document)
    said = quotes(fragment)
    customers = [text for label, text in said if "[NAME]" in text]
    assert customers, said  # the customers' quotes are shown, redacted
    for text in customers:
        assert "[NAME] [NAME]" in text
        assert "[EMAIL]" in text
        assert "[PHONE]" in text
    for secret in ("Zelda", "Quarrington", "zelda.q@example.org", "7946", "0958"):
        assert secret.lower() not in document.lower()
    assert report.write(tmp_path / "voices.html").is_file()  # the guard passes


def test_repeatable(planted):
    tables, report = planted
    again = voices_only(tables)[1]
    assert again.to_html() == report.to_html()


# ---------------------------------------------------------------------- absent data
def only_note(fragment: str) -> list[str]:
    page = parse(fragment)
    assert page.tables == []
    assert page.alts == []
    return re.findall(r'class="note[^"]*"[^>]*>(.*?)</', fragment, flags=re.S)


def small_tables(**changes: Any) -> dict[str, pd.DataFrame]:
    org = hx.simulate_organisation(150, random_state=1, comments=True)
    tables = dict(org.tables)
    tables["comments"] = org.comments
    tables.update(changes)
    return {k: v for k, v in tables.items() if v is not None}


@pytest.fixture(scope="module")
def isolated() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sections, "PLANS", (voices.plan,))
        mp.setattr(report_main, "SECTIONS", (("What people say", voices.section),))
        yield


@pytest.mark.parametrize("case", ["no table", "no text"])
def test_absent_comments_one_note(isolated, case):
    tables = small_tables()
    if case == "no table":
        del tables["comments"]
    else:
        tables["comments"] = tables["comments"].assign(text="")
    report = build_report(tables)
    fragment = section_html(report.to_html())
    notes = only_note(fragment)
    assert len(notes) == 1
    said = "No comments in the data" if case == "no table" else "comments in the data hold no text"
    assert said in notes[0]


def test_comments_without_answers_show_themes_without_impact():
    org = hx.simulate_organisation(600, random_state=2, comments=True)
    tables = {
        "customers": org.customers,
        "workers": org.workers,
        "comments": org.comments.drop(columns="response_id"),
    }
    _, report = voices_only(tables)
    fragment = section_html(report.to_html())
    page = parse(fragment)
    tab = table(page, "Customers: comment themes and their tone")
    header = ["Theme (top words)", "Comments", "% of comments", "Sentiment", "95% CI from", "to"]
    assert tab["header"] == header
    assert len(tab["rows"]) == voices.N_THEMES
    assert "impact of the themes on the score is not shown" in fragment
    assert len(page.alts) == 1  # the sentiment figure; no impact figure
