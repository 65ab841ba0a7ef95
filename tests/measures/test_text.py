"""Comments: sentiment (VADER), themes (rules and NMF), theme impact, verbatims."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._comments import THEMES, add_comments, theme_keywords
from hxmetrics.errors import HxWarning, InputTableError, ParameterError, PrivacyError
from hxmetrics.measures.text import (
    NEGATIVE_THRESHOLD,
    POSITIVE_THRESHOLD,
    SentimentResult,
    ThemeImpactResult,
    ThemesResult,
    _tone,
    comment_sentiment,
    comment_themes,
    theme_impact,
    verbatims,
)

from .conftest import to_engine


@pytest.fixture(scope="module")
def org() -> Organisation:
    """3000 persons: about 570 customer, 380 worker and 70 partner comments."""
    return add_comments(simulate_organisation(3000, random_state=1), random_state=2)


def _frame(texts: list[object], **columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {"comment_id": [f"c{i}" for i in range(len(texts))], "text": texts, **columns}
    )


# --------------------------------------------------------------------------- sentiment

# The vaderSentiment README (3.3.2), "Demo, including example of non-English text":
# the printed polarity_scores of its example sentences (Hutto & Gilbert 2014).
README = [
    ("VADER is smart, handsome, and funny.", 0.0, 0.254, 0.746, 0.8316),
    ("VADER is smart, handsome, and funny!", 0.0, 0.248, 0.752, 0.8439),
    ("VADER is VERY SMART, handsome, and FUNNY.", 0.0, 0.246, 0.754, 0.9227),
    ("VADER is not smart, handsome, nor funny.", 0.646, 0.354, 0.0, -0.7424),
    ("The book was good.", 0.0, 0.508, 0.492, 0.4404),
    ("At least it isn't a horrible book.", 0.0, 0.678, 0.322, 0.431),
    ("Today SUX!", 0.779, 0.221, 0.0, -0.5461),
]


def test_vader_readme_examples() -> None:
    df = _frame([r[0] for r in README])
    res = comment_sentiment(df, min_n=None)
    assert isinstance(res, SentimentResult)
    got = res.comments[["neg", "neu", "pos", "compound"]].to_numpy()
    assert got.tolist() == [list(r[1:]) for r in README]  # exact: VADER rounds to 4 places
    assert res.comments["compound"].iloc[0] == 0.8316
    assert "text" not in res.comments.columns


def test_tone_thresholds() -> None:
    # The README's thresholds: positive >= 0.05, negative <= -0.05, neutral between.
    assert POSITIVE_THRESHOLD == 0.05
    assert NEGATIVE_THRESHOLD == -0.05
    got = _tone(np.array([0.05, 0.0499, -0.0499, -0.05, 0.8, -0.8]))
    assert got.tolist() == ["positive", "neutral", "neutral", "negative", "positive", "negative"]


def test_group_summary_by_hand() -> None:
    texts = [r[0] for r in README] * 3
    df = _frame(texts, team=["a"] * 10 + ["b"] * 11)
    res = comment_sentiment(df, by="team", min_n=None)
    from scipy import stats

    for team, part in res.comments.groupby("team"):
        x = part["compound"].to_numpy()
        row = res.groups.set_index("team").loc[team]
        assert row["n"] == len(x)
        assert row["estimate"] == pytest.approx(x.mean(), rel=1e-12)
        low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert row["ci_low"] == pytest.approx(low, rel=1e-10)
        assert row["ci_high"] == pytest.approx(high, rel=1e-10)
        assert row["pct_positive"] == pytest.approx(100 * (x >= 0.05).mean())
        assert row["pct_negative"] == pytest.approx(100 * (x <= -0.05).mean())
        total = row["pct_positive"] + row["pct_neutral"] + row["pct_negative"]
        assert total == pytest.approx(100.0)
    meta = res.groups.attrs["hxmetrics"]
    assert meta["measure"] == "comment_sentiment"
    assert meta["by"] == ["team"]


def test_empty_comments_counted() -> None:
    df = _frame(["Great staff!", "", "   ", None, "\n\t", "Awful queue."], team=["a"] * 6)
    res = comment_sentiment(df, by="team", min_n=None)
    assert res.groups["n"].tolist() == [2]
    assert res.groups["n_excluded_empty"].tolist() == [4]
    assert res.comments["comment_id"].tolist() == ["c0", "c5"]
    all_empty = comment_sentiment(_frame(["", None]), min_n=None)
    assert all_empty.groups["n"].tolist() == [0]
    assert all_empty.groups["n_excluded_empty"].tolist() == [2]
    assert np.isnan(all_empty.groups["estimate"].iloc[0])


def test_non_text_is_an_error_naming_the_column_and_rows() -> None:
    with pytest.raises(InputTableError, match=r"column 'text' must hold text; its dtype is int64"):
        comment_sentiment(pd.DataFrame({"text": [1, 2, 3]}))
    mixed = pd.DataFrame({"text": ["fine", 5551234567, "ok", pd.Timestamp("2024-01-01")]})
    with pytest.raises(InputTableError, match=r"2 row\(s\).*positions \[1, 3\]") as caught:
        comment_sentiment(mixed)
    assert "5551234567" not in str(caught.value)
    with pytest.raises(InputTableError, match="not found"):
        comment_sentiment(pd.DataFrame({"body": ["x"]}))
    with pytest.raises(PrivacyError):
        comment_sentiment(_frame(["x"], source_id=["s"]), by="source_id")
    with pytest.raises(ParameterError, match="min_n"):
        comment_sentiment(_frame(["x"]), min_n=0)


def test_small_groups_suppressed_and_their_comments_left_out() -> None:
    sizes = {"big": 30, "mid": 12, "tiny": 3}
    team = np.repeat(list(sizes), list(sizes.values()))
    rng = np.random.default_rng(0)
    texts = rng.choice([r[0] for r in README], size=len(team)).tolist()
    res = comment_sentiment(_frame(texts, team=team.tolist()), by="team", min_n=5)
    shown = res.groups.set_index("team")["suppressed"]
    # tiny is below 5; mid is hidden with it (else tiny = total - big - mid).
    assert shown.to_dict() == {"big": False, "mid": True, "tiny": True}
    assert set(res.comments["team"]) == {"big"}
    assert res.settings["n_suppressed_comments"] == 15
    assert res.groups.loc[res.groups["suppressed"], "estimate"].isna().all()


@pytest.mark.parametrize("engine", ["pandas", "polars", "polars_lazy", "duckdb", "pyarrow"])
def test_engines_agree(engine: str) -> None:
    df = _frame([r[0] for r in README] * 2, team=["a", "b"] * 7)
    want = comment_sentiment(df, by="team", min_n=None)
    got = comment_sentiment(to_engine(df, engine), by="team", min_n=None)
    pd.testing.assert_frame_equal(got.groups, want.groups)
    pd.testing.assert_frame_equal(got.comments, want.comments, check_dtype=False)


def test_simulated_tone_is_recovered(org: Organisation) -> None:
    """The simulator's tone (by the score) against VADER's.

    This holds by construction, not as evidence of VADER's accuracy: the simulator
    writes each tone with sentence endings chosen for their VADER compound (about
    +0.8, 0 and -0.75, see datasets._comments.PREDICATES) and theme words VADER does
    not score, so every comment falls in its planted class. It checks the plumbing
    (scores, thresholds, the tone column, ids), not the lexicon."""
    res = comment_sentiment(org.comments, by="silo")
    planted = org.truth.planted["comments"]["comments"].set_index("comment_id")["tone"]
    tone = res.comments.set_index("comment_id")["tone"]
    want = planted.loc[tone.index].map({1: "positive", 0: "neutral", -1: "negative"})
    assert (tone == want).all()


# --------------------------------------------------------------------------- themes


def test_keyword_rules_and_spans() -> None:
    df = _frame(
        [
            "The QUEUE was long; I waited  on\thold for ages",
            "Queues everywhere, kind staff",
            "nothing to say",
            "",
            "staffing was fine; my order #1234 came",
        ]
    )
    rules = {
        "waiting": ["queue", "wait*", "on hold"],
        "staff": "staff",
        "order": re.compile(r"order\s+#\d+"),
    }
    res = comment_themes(df, themes=rules, min_n=None)
    assert isinstance(res, ThemesResult)
    ind = res.comments.set_index("comment_id")
    assert ind["waiting"].tolist() == [True, False, False, False]  # "Queues": no "*"
    assert ind["staff"].tolist() == [False, True, False, False]
    assert ind["order"].tolist() == [False, False, False, True]
    assert ind["n_themes"].tolist() == [1, 1, 0, 1]
    assert "c3" not in ind.index  # empty: excluded and counted
    assert res.settings["n_excluded_empty"] == 1
    text = df.set_index("comment_id")["text"]
    got = [text[r.comment_id][r.start : r.end] for r in res.spans.itertuples()]
    assert got == ["QUEUE", "waited", "on\thold", "staff", "order #1234"]
    assert "text" not in res.comments.columns


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(["wait", "waiting", "Queue", "queues", "x", "on", "hold", "-", "\n"]),
            max_size=8,
        ).map(" ".join),
        min_size=1,
        max_size=12,
    )
)
def test_spans_equal_one_search_per_comment(texts: list[str]) -> None:
    """The one-pass scan over all comments gives the spans of a search in each."""
    rules = {"w": ["wait*", "on hold"], "q": ["queue"]}
    df = _frame(list(texts))
    res = comment_themes(df, themes=rules, min_n=None, sentiment=False)
    want = []
    for i, t in enumerate(texts):
        if not t.strip():
            continue
        for theme, pattern in (
            ("w", r"(?<!\w)(?:wait\w*|on\s+hold)(?!\w)"),
            ("q", r"(?<!\w)(?:queue)(?!\w)"),
        ):
            want += [(f"c{i}", theme, *m.span()) for m in re.finditer(pattern, t, re.I)]
    got = list(res.spans[["comment_id", "theme", "start", "end"]].itertuples(index=False))
    assert sorted(map(tuple, got)) == sorted(want)


def test_bad_themes() -> None:
    df = _frame(["a queue"])
    for bad in ({}, {"x": []}, {"x": [3]}, {"": ["a"]}, {"x": ["*"]}, ["queue"]):
        with pytest.raises(ParameterError, match="themes"):
            comment_themes(df, themes=bad, min_n=None)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="column names of the result"):
        comment_themes(df, themes={"comment_id": "queue"}, min_n=None)
    with pytest.raises(ParameterError, match="n_themes=3"):
        comment_themes(_frame(["a queue", "the wait"]), n_themes=3, min_n=None)
    with pytest.raises(ParameterError, match="no words are left"):
        comment_themes(_frame(["the a", "of the", "and"]), n_themes=1, min_n=None)
    with pytest.raises(ParameterError, match="threshold"):
        comment_themes(df, n_themes=1, threshold=0, min_n=None)


def _f1(truth: np.ndarray, found: np.ndarray) -> float:
    return float(2 * (truth & found).sum() / (truth.sum() + found.sum()))


def test_keyword_rules_recover_planted_themes_exactly(org: Organisation) -> None:
    """With the planted vocabularies as keyword rules, every mention is found and
    nothing else (F1 = 1 for each of the 12 themes)."""
    assert org.comments is not None
    mentions = org.truth.planted["comments"]["mentions"]
    for silo in ("customers", "workers", "partners"):
        part = org.comments.loc[org.comments["silo"] == silo]
        res = comment_themes(part, themes=theme_keywords(silo[:-1]), sentiment=False, min_n=None)
        ind = res.comments.set_index("comment_id")
        for theme in THEMES[silo[:-1]]:
            truth = ind.index.isin(mentions.loc[mentions["theme"] == theme, "comment_id"])
            assert _f1(truth, ind[theme].to_numpy()) == 1.0, theme


@pytest.mark.parametrize("silo", ["customers", "workers"])
def test_nmf_recovers_planted_themes(org: Organisation, silo: str) -> None:
    """Data-driven themes (4 components) against the planted ones.

    * Comments with one planted theme: the adjusted Rand index between the planted
      theme and the NMF theme of largest weight is >= 0.9 (observed 1.0 for both
      silos at this seed);
    * every planted theme has an NMF theme whose indicators (weight share >= 0.3)
      match its mentions with F1 >= 0.75 (observed 0.80 to 1.0; the lowest is a
      theme whose comments often mention a second one).
    """
    from sklearn.metrics import adjusted_rand_score

    assert org.comments is not None
    planted = org.truth.planted["comments"]
    part = org.comments.loc[org.comments["silo"] == silo]
    res = comment_themes(part, n_themes=4, random_state=0, sentiment=False)
    single = planted["comments"].query("n_themes == 1 and silo == @silo")[["comment_id"]]
    single = single.merge(planted["mentions"], on="comment_id")
    assert res.weights is not None
    w = res.weights.set_index("comment_id").loc[single["comment_id"]].to_numpy()
    assert adjusted_rand_score(single["theme"], w.argmax(axis=1)) >= 0.9
    ind = res.comments.set_index("comment_id")
    mentions = planted["mentions"]
    for theme in THEMES[silo[:-1]]:
        truth = ind.index.isin(mentions.loc[mentions["theme"] == theme, "comment_id"])
        best = max(_f1(truth, ind[k].to_numpy()) for k in res.theme_names)
        assert best >= 0.75, theme
    assert res.terms is not None
    assert set(res.terms["theme"]) == set(res.theme_names)


def test_nmf_reproducible(org: Organisation) -> None:
    assert org.comments is not None
    part = org.comments.loc[org.comments["silo"] == "workers"]
    a = comment_themes(part, n_themes=4, random_state=3, sentiment=False)
    b = comment_themes(part, n_themes=4, random_state=3, sentiment=False)
    assert a.weights is not None
    assert b.weights is not None
    pd.testing.assert_frame_equal(a.weights, b.weights)
    pd.testing.assert_frame_equal(a.comments, b.comments)
    assert a.terms is not None
    assert b.terms is not None
    pd.testing.assert_frame_equal(a.terms, b.terms)


def test_nmf_weights_and_threshold(org: Organisation) -> None:
    assert org.comments is not None
    part = org.comments.loc[org.comments["silo"] == "customers"]
    res = comment_themes(part, n_themes=4, threshold=0.5, random_state=0, sentiment=False)
    assert res.weights is not None
    w = res.weights[res.theme_names].to_numpy()
    sums = w.sum(axis=1)
    assert np.allclose(sums[sums > 0], 1.0)
    assert ((w >= 0.5) == res.comments[res.theme_names].to_numpy()).all()
    assert (res.comments["n_themes"] <= 2).all()  # at most 1 / threshold themes


def test_theme_sentiment_and_volume(org: Organisation) -> None:
    assert org.comments is not None
    part = org.comments.loc[org.comments["silo"] == "customers"]
    part = part.assign(half=np.where(np.arange(len(part)) % 2 == 0, "even", "odd"))
    res = comment_themes(part, themes=theme_keywords("customer"), by="half")
    sent = comment_sentiment(part).comments.set_index("comment_id")["compound"]
    ind = res.comments.set_index("comment_id")
    table = res.themes.set_index(["half", "theme"])
    assert not table["suppressed"].any()
    for (half, theme), row in table.iterrows():
        on = ind.index[(ind["half"] == half) & ind[theme]]
        x = sent.loc[on].to_numpy()
        assert row["n"] == len(x)
        assert row["estimate"] == pytest.approx(x.mean())
        assert row["pct_comments"] == pytest.approx(100 * len(x) / (ind["half"] == half).sum())
        assert row["pct_positive"] == pytest.approx(100 * (x >= 0.05).mean())
    # Detractors mention wait_time more: its comments are negative on average;
    # promoters praise the staff.
    assert (table.xs("wait_time", level="theme")["ci_high"] < 0).all()
    assert (table.xs("staff", level="theme")["ci_low"] > 0).all()


def test_zero_mentions_are_hidden_cells() -> None:
    """The disclosure layer hides a (group, theme) cell of 0 mentions like any cell
    under min_n, and with two groups its complement too."""
    df = _frame(["queue"] * 10 + ["staff"] * 10, team=["a"] * 10 + ["b"] * 10)
    res = comment_themes(df, themes={"q": "queue", "s": "staff"}, by="team", min_n=5)
    assert res.themes["suppressed"].all()
    three = _frame(["queue"] * 20 + ["staff"] * 10, team=["a"] * 10 + ["c"] * 10 + ["b"] * 10)
    res = comment_themes(three, themes={"q": "queue"}, by="team", min_n=5)
    hidden = res.themes.set_index("team")["suppressed"]
    assert hidden["b"]
    assert hidden.sum() == 2  # b (0) and its smallest sibling (a tie: one of a, c)


def test_terms_come_from_at_least_min_n_comments() -> None:
    texts = ["queue queue long"] * 12 + ["billing error invoice"] * 12 + ["rare parrot"] * 4
    res = comment_themes(_frame(texts), n_themes=3, random_state=0, min_n=5, sentiment=False)
    assert res.terms is not None
    assert not {"rare", "parrot"} & set(res.terms["term"])
    volume = res.comments[res.theme_names].sum()
    shown = set(res.terms["theme"])
    assert all(volume[t] >= 5 for t in shown)
    assert res.themes.loc[res.themes["n"].isna(), "suppressed"].all()
    # Without a minimum, a word of four comments is a term.
    free = comment_themes(_frame(texts), n_themes=3, random_state=0, min_n=None, sentiment=False)
    assert free.terms is not None
    assert "parrot" in set(free.terms["term"])


# --------------------------------------------------------------------------- impact


def _welch(x1: np.ndarray, x0: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    test = stats.ttest_ind(x1, x0, equal_var=False)
    ci = test.confidence_interval(0.95)
    return float(x1.mean() - x0.mean()), float(ci.low), float(ci.high)


def test_impact_difference_is_welch() -> None:
    rng = np.random.default_rng(4)
    n = 60
    said = rng.random(n) < 0.4
    score = np.clip(np.round(7 - 2 * said + rng.normal(0, 2, n)), 0, 10)
    comments = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "text": np.where(said, "the queue was long", "nice people").tolist(),
        }
    )
    long = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)] * 2,
            "item": ["ltr"] * n + ["csat"] * n,
            "score": np.concatenate([score, np.ones(n)]),
        }
    )
    res = theme_impact(comments, long, themes={"queue": "queue"}, n_resamples=0, min_n=5)
    assert isinstance(res, ThemeImpactResult)
    row = res.differences.iloc[0]
    want = _welch(score[said], score[~said])
    assert (row["estimate"], row["ci_low"], row["ci_high"]) == pytest.approx(want, rel=1e-10)
    assert row["n_with"] == said.sum()
    assert row["n_without"] == (~said).sum()
    wide = pd.DataFrame({"response_id": [f"r{i}" for i in range(n)], "ltr": score})
    again = theme_impact(comments, wide, themes={"queue": "queue"}, n_resamples=0, min_n=5)
    pd.testing.assert_frame_equal(again.differences, res.differences)


def test_impact_links_and_counts() -> None:
    comments = pd.DataFrame(
        {
            "response_id": ["r1", "r1", "r2", None, "r9", "r3"] + [f"s{i}" for i in range(10)],
            "text": ["queue", "fine", "nice", "queue", "queue", ""] + ["ok"] * 5 + ["queue"] * 5,
        }
    )
    responses = pd.DataFrame(
        {"response_id": ["r1", "r2", "r3", *[f"s{i}" for i in range(10)]], "ltr": range(13)}
    )
    res = theme_impact(comments, responses, themes={"q": "queue"}, n_resamples=0, min_n=2)
    row = res.differences.iloc[0]
    # r1 has two comments, one on the theme: one answer "with". None and r9 are unlinked,
    # r3's comment is empty.
    assert row["n_with"] == 1 + 5
    assert row["n_without"] == 1 + 5
    assert res.settings["n_excluded_unlinked"] == 2
    assert "n_excluded_unlinked" not in res.differences.columns  # per group, not per theme
    assert res.settings["n_excluded_empty"] == 1
    assert res.settings["n_linked"] == 12


def test_impact_hides_small_sides() -> None:
    comments = pd.DataFrame(
        {"response_id": [f"r{i}" for i in range(20)], "text": ["queue"] * 3 + ["fine"] * 17}
    )
    responses = pd.DataFrame({"response_id": [f"r{i}" for i in range(20)], "ltr": range(20)})
    res = theme_impact(comments, responses, themes={"q": "queue"}, n_resamples=0, min_n=5)
    row = res.differences.iloc[0]
    assert row["suppressed"]
    assert np.isnan(row["estimate"])
    assert pd.isna(row["n_with"])
    assert pd.isna(row["mean_with"])


def test_impact_bad_input() -> None:
    comments = pd.DataFrame({"response_id": ["r1"], "text": ["queue"]})
    with pytest.raises(ParameterError, match="neither a column"):
        theme_impact(
            comments,
            pd.DataFrame({"response_id": ["r1"], "item": ["x"], "score": [1]}),
            themes={"q": "queue"},
        )
    with pytest.raises(InputTableError, match="must be numbers"):
        theme_impact(
            comments, pd.DataFrame({"response_id": ["r1"], "ltr": ["ten"]}), themes={"q": "queue"}
        )
    with pytest.raises(InputTableError, match="more than once"):
        theme_impact(
            comments,
            pd.DataFrame({"response_id": ["r1", "r1"], "ltr": [1, 2]}),
            themes={"q": "queue"},
        )
    with pytest.raises(InputTableError, match="response_id"):
        theme_impact(pd.DataFrame({"text": ["q"]}), pd.DataFrame({"response_id": ["r1"]}))


def test_impact_recovers_planted_effects(org: Organisation) -> None:
    """Each role's two effect themes (a problem with beta < 0, a praise with beta > 0)
    and two themes without effect: every estimate lies within 4 of its standard errors
    of the planted expected difference (truth conditional on the linked scores; see
    datasets._comments). 4 SE, not the 95% interval, because 8 intervals at one seed
    would all cover only 0.95**8 = 66% of the time; |z| > 4 has probability 6e-5 per
    theme, while a flipped sign (planted -2.9 and +1.6, SE about 0.25) or an
    estimate off by a point is caught. Coverage is tested over draws below."""
    assert org.comments is not None
    effects = org.truth.planted["comments"]["effects"].set_index(["silo", "theme"])
    for silo in ("customers", "workers"):
        part = org.comments.loc[org.comments["silo"] == silo]
        res = theme_impact(
            part,
            org.responses,
            themes=theme_keywords(silo[:-1]),
            n_resamples=200,
            random_state=1,
        )
        for row in res.differences.itertuples():
            truth = effects.loc[(silo, row.theme), "expected_difference"]
            z = (row.estimate - truth) / row.se
            assert abs(z) <= 4, (silo, row.theme, row.estimate, truth, row.se)
        drivers = res.drivers
        assert drivers is not None
        top = drivers.sort_values("rank")["driver"].iloc[0]
        assert top in {"wait_time", "workload"}
        assert drivers["estimate"].sum() == pytest.approx(drivers["r2"].iloc[0])


def test_impact_with_data_driven_themes(org: Organisation) -> None:
    """NMF themes found on the customers' comments: the theme whose top term is a
    wait-time word has the planted effect within its interval."""
    assert org.comments is not None
    part = org.comments.loc[org.comments["silo"] == "customers"]
    themes = comment_themes(part, n_themes=4, random_state=0, sentiment=False, min_n=None)
    res = theme_impact(part, org.responses, themes=themes, n_resamples=0)
    assert themes.terms is not None
    top = themes.terms.loc[themes.terms["rank"] == 1].set_index("theme")["term"]
    wait = [t for t, term in top.items() if term in {"time", "wait", "queue", "hold", "waiting"}]
    assert len(wait) == 1
    row = res.differences.set_index("theme").loc[wait[0]]
    truth = (
        org.truth.planted["comments"]["effects"]
        .set_index(["silo", "theme"])
        .loc[("customers", "wait_time"), "expected_difference"]
    )
    assert row["ci_low"] <= truth <= row["ci_high"]


def _conditional_sd(score: np.ndarray, p: np.ndarray) -> float:
    """SD of the with-minus-without difference when the mentions are redrawn with
    probabilities ``p`` and the scores kept: the delta method on
    sum(m y)/sum(m) - sum((1-m) y)/sum(1-m), m ~ Bernoulli(p) independent."""
    n1, n0 = p.sum(), (1 - p).sum()
    mu1, mu0 = (p * score).sum() / n1, ((1 - p) * score).sum() / n0
    grad = (score - mu1) / n1 + (score - mu0) / n0
    return float(np.sqrt((p * (1 - p) * grad**2).sum()))


def test_impact_interval_coverage() -> None:
    """Coverage of the Welch intervals of the four customer themes (two with an
    effect, two without) over 30 draws of the comments of one organisation (scores
    fixed; the truth the expected difference given the scores), two-sided.

    Welch's SE is the SE of resampled answers; with the scores held fixed only the
    mentions vary, whose SD (``_conditional_sd``, from the planted probabilities) is
    smaller (se / sd_cond about 1.1), so the interval over-covers this truth by design. The
    expected coverage of each interval is q = 2 Phi(z * se / sd_cond) - 1 (normal
    approximation), and the count covered must lie within 3 binomial SDs of sum(q),
    plus 1 for the approximations (the 4 themes of a draw share their scores: the
    binomial SD treats them as independent). At 50% (120 intervals; at seed 21:
    62 covered, 65.4 expected, bound +-17.3) this fails when the SE is half (about 35
    expected) or double (about 103) the right one, not only when it is too small. At
    95% at least 108 of 120 must cover (P(X <= 107 | p = 0.95) = 0.8%; the expected
    q is 0.965; 116 covered at seed 21)."""
    from scipy import stats

    base = simulate_organisation(1500, random_state=21)
    rules = theme_keywords("customer")
    covered = {0.5: 0, 0.95: 0}
    expected: dict[float, list[float]] = {0.5: [], 0.95: []}
    for seed in range(30):
        org = add_comments(base, random_state=seed, descriptions=False)
        assert org.comments is not None
        part = org.comments.loc[org.comments["silo"] == "customers"]
        planted = org.truth.planted["comments"]
        truth = planted["effects"].set_index(["silo", "theme"]).loc["customers"]
        spec = planted["themes"].set_index(["role", "theme"]).loc["customer"]
        linked = planted["comments"]
        score = linked.loc[linked["silo"] == "customers", "score"].to_numpy(dtype=float)
        for confidence in covered:
            res = theme_impact(
                part, org.responses, themes=rules, n_resamples=0, confidence=confidence
            )
            z = stats.norm.ppf((1 + confidence) / 2)
            for row in res.differences.itertuples():
                planted_diff = truth.loc[row.theme, "expected_difference"]
                covered[confidence] += int(row.ci_low <= planted_diff <= row.ci_high)
                a, b = spec.loc[row.theme, ["alpha", "beta"]]
                p = 1 / (1 + np.exp(-(a + b * (score - 7))))
                sd_cond = _conditional_sd(score, p)
                expected[confidence].append(2 * stats.norm.cdf(z * row.se / sd_cond) - 1)
    q = np.array(expected[0.5])
    assert len(q) == 120
    bound = 3 * np.sqrt((q * (1 - q)).sum()) + 1
    assert abs(covered[0.5] - q.sum()) <= bound, (covered, q.sum(), bound)
    assert stats.binom.cdf(107, 120, 0.95) < 0.01
    assert covered[0.95] >= 108, covered


def test_impact_by_group_fits_each_group(org: Organisation) -> None:
    rules = {**theme_keywords("customer"), **theme_keywords("worker")}
    res = theme_impact(org.comments, org.responses, themes=rules, by="silo", n_resamples=0)
    assert res.drivers is not None
    fitted = res.drivers.groupby("silo")["driver"].apply(set).to_dict()
    assert fitted["customers"] == set(THEMES["customer"])
    assert fitted["workers"] == set(THEMES["worker"])
    assert any("never (or always) mentioned" in n for n in res.settings["drivers_notes"])


# --------------------------------------------------------------------------- verbatims


def test_verbatims_never_from_small_groups() -> None:
    sizes = {"big": 40, "mid": 6, "tiny": 3}
    team = np.repeat(list(sizes), list(sizes.values()))
    texts = [f"queue {t} comment {i}" for i, t in enumerate(team)]
    df = _frame(texts, team=team.tolist())
    out = verbatims(df, themes={"q": "queue"}, by="team", n=50, min_n=5, random_state=0)
    assert set(out["team"]) == {"big"}  # tiny below 5, mid hidden with it
    assert len(out) == 40
    assert not out["text"].str.contains("tiny|mid").any()
    assert out.attrs["hxmetrics"]["n_groups_suppressed"] == 2
    assert list(out.columns) == ["theme", "team", "text"]
    with pytest.raises(ParameterError, match="min_n cannot be None"):
        verbatims(df, min_n=None)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="unknown theme"):
        verbatims(df, themes={"q": "queue"}, theme="nope")


def test_verbatims_draw() -> None:
    df = _frame([f"queue {i}" for i in range(20)] + [f"staff {i}" for i in range(20)])
    rules = {"q": "queue", "s": "staff"}
    a = verbatims(df, themes=rules, n=3, random_state=1)
    b = verbatims(df, themes=rules, n=3, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    assert a.groupby("theme").size().to_dict() == {"q": 3, "s": 3}
    assert a.loc[a["theme"] == "q", "text"].str.startswith("queue").all()
    only = verbatims(df, themes=rules, theme="s", n=2, random_state=1)
    assert set(only["theme"]) == {"s"}
    every = verbatims(df, n=100, random_state=0)
    assert len(every) == 40
    assert set(every["theme"]) == {"all"}


# --------------------------------------------------------------------------- privacy


def _strings(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return ""
    cells = [str(c) for c in frame.columns]
    for col in frame.columns:
        cells += [str(v) for v in frame[col].tolist()]
    return "\n".join(cells)


def test_no_planted_identifier_in_any_output(org: Organisation) -> None:
    """Every frame (and settings) of every function, on comments with planted emails
    and phones, and on a table where one email and one phone recur often enough to
    become a theme's top terms if they were not redacted."""
    assert org.comments is not None
    planted = org.truth.planted["comments"]["identifiers"]
    values = planted["value"].tolist()
    loud = pd.DataFrame(
        {
            "comment_id": [f"x{i}" for i in range(60)],
            "response_id": [f"y{i}" for i in range(60)],
            "silo": "customers",
            "text": ["write to ana.lee@example.org about the queue"] * 30
            + ["call zed on +44 20 7946 0958 about the fees"] * 30,
        }
    )
    values += ["ana.lee@example.org", "+44 20 7946 0958"]
    responses = pd.concat(
        [
            org.responses,
            pd.DataFrame({"response_id": loud["response_id"], "item": "ltr", "score": 5.0}),
        ],
        ignore_index=True,
    )
    outputs: list[str] = []
    terms: list[str] = []
    for comments in (org.comments, loud):
        s = comment_sentiment(comments, by="silo")
        t_nmf = comment_themes(comments, n_themes=3, random_state=0, by="silo")
        t_rules = comment_themes(comments, themes=theme_keywords("customer"), by="silo")
        if comments is loud:  # every loud answer scores 5: nothing for key drivers
            with pytest.warns(HxWarning, match="outcome 'ltr' is constant"):
                imp = theme_impact(comments, responses, themes=t_rules, n_resamples=0)
        else:
            imp = theme_impact(comments, responses, themes=t_rules, n_resamples=0)
        verb = verbatims(comments, themes=t_nmf, n=1000, random_state=0)
        verb_all = verbatims(comments, n=1000, random_state=0, by="silo")
        for frame in (
            s.comments,
            s.groups,
            t_nmf.comments,
            t_nmf.themes,
            t_nmf.spans,
            t_nmf.weights,
            t_nmf.terms,
            t_rules.comments,
            t_rules.themes,
            t_rules.spans,
            imp.differences,
            imp.drivers,
            verb,
            verb_all,
        ):
            outputs.append(_strings(frame))
        assert t_nmf.terms is not None
        terms += t_nmf.terms["term"].tolist()
        outputs += [repr(s.settings), repr(t_nmf.settings), repr(imp.settings)]
        assert len(verb_all) > 0
    text = "\n".join(outputs)
    # Without redaction the recurring email and phone would be top terms.
    assert not {"ana", "lee", "example", "7946", "0958"} & set(terms)
    for value in values:
        assert value not in text, "a planted identifier survived"
    # The redacted verbatims still say what kind of identifier was there.
    assert "[EMAIL]" in text
    assert "[PHONE]" in text


def test_no_roster_name_in_any_output_with_names(org: Organisation) -> None:
    """Issue 16: people's names in comments never reach an output when the caller
    passes the rosters' names (names are redacted only from a given list: no model
    finds them). Full names (given + family) of roster persons
    (simulate_identity_rosters) are planted in a third of the customers' comments, and
    one person's name in 40 of them, often enough to become a top term of a
    data-driven theme if it were not redacted (checked, so the test can fail)."""
    from hxmetrics.datasets import simulate_identity_rosters

    assert org.comments is not None
    rosters = simulate_identity_rosters(400, random_state=5).rosters
    people = pd.concat(
        [r[["given_name", "family_name"]] for r in rosters.values()], ignore_index=True
    ).dropna()
    names = sorted(set(people["given_name"]) | set(people["family_name"]))
    # Planted: whole names of letters only, at least 4 letters (an initial "M" is a
    # name of the list but cannot be checked as a word of the output).
    ok = people.apply(lambda c: c.str.fullmatch(r"[A-Za-z]{4,}")).all(axis=1)
    planted = people.loc[ok].drop_duplicates().head(60).reset_index(drop=True)
    part = org.comments.loc[org.comments["silo"] == "customers"].reset_index(drop=True)
    rng = np.random.default_rng(4)
    at = rng.choice(len(part), size=len(part) // 3, replace=False)
    who = planted.iloc[np.arange(len(at)) % len(planted)].reset_index(drop=True)
    who.iloc[:40] = planted.iloc[0].to_numpy()
    full = (who["given_name"] + " " + who["family_name"]).to_numpy(dtype=object)
    text = part["text"].to_numpy(dtype=object).copy()
    text[at] = text[at] + " Ask for " + full + " next time."
    part = part.assign(text=text)
    loud = {str(planted.iloc[0, 0]).lower(), str(planted.iloc[0, 1]).lower()}

    unredacted = comment_themes(part, n_themes=4, random_state=0, sentiment=False)
    assert unredacted.terms is not None
    assert loud & set(unredacted.terms["term"]), "the planted name should be a top term"

    t_nmf = comment_themes(part, n_themes=4, random_state=0, names=names)
    t_rules = comment_themes(part, themes=theme_keywords("customer"), names=names)
    imp_nmf = theme_impact(
        part, org.responses, n_themes=4, names=names, n_resamples=50, random_state=0
    )
    imp_rules = theme_impact(part, org.responses, themes=t_nmf, n_resamples=0, names=names)
    verb = verbatims(part, themes=t_nmf, n=1000, random_state=0, names=names)
    verb_all = verbatims(part, n=1000, random_state=0, names=names)
    frames = [
        t_nmf.comments,
        t_nmf.themes,
        t_nmf.spans,
        t_nmf.weights,
        t_nmf.terms,
        t_rules.comments,
        t_rules.themes,
        t_rules.spans,
        imp_nmf.differences,
        imp_nmf.drivers,
        imp_rules.differences,
        imp_rules.drivers,
        verb,
        verb_all,
    ]
    text_out = "\n".join(_strings(f) for f in frames) + "\n".join(
        repr(r.settings) for r in (t_nmf, t_rules, imp_nmf, imp_rules)
    )
    assert len(verb_all) > len(at) // 2  # the planted comments are quoted, redacted
    # theme_impact's own themes were fitted on the redacted texts: the same as the
    # themes comment_themes fits with names= (same seed), not those without.
    kw = {"n_themes": 4, "random_state": 0, "sentiment": False, "min_n": None}
    for listed, same in ((names, True), (None, False)):
        fitted = comment_themes(part, names=listed, **kw)  # type: ignore[arg-type]
        again = theme_impact(part, org.responses, themes=fitted, n_resamples=0)
        equal = np.allclose(
            again.differences["estimate"], imp_nmf.differences["estimate"], equal_nan=True
        )
        assert equal == same
    assert "[NAME]" in text_out
    words = set(planted["given_name"].str.lower()) | set(planted["family_name"].str.lower())
    found = set(re.findall(r"[a-z]+", text_out.lower())) & words
    assert not found, "a planted name survived"


def test_impact_warns_when_key_drivers_cannot_be_fitted() -> None:
    """Two themes mentioned by exactly the same answers are collinear: no key drivers
    for the group, said by an HxWarning (and kept in settings), the differences given."""
    comments = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(12)],
            "text": ["long queue, long wait"] * 6 + ["nice staff"] * 6,
        }
    )
    responses = pd.DataFrame(
        {"response_id": [f"r{i}" for i in range(12)], "ltr": [2, 3, 4, 3, 2, 4, 9, 8, 10, 9, 9, 8]}
    )
    rules = {"queue": "queue", "wait": "wait*"}
    with pytest.warns(HxWarning, match=r"all: key drivers not fitted.*collinear"):
        res = theme_impact(comments, responses, themes=rules, n_resamples=0)
    assert res.drivers is None
    assert any("key drivers not fitted" in n for n in res.settings["drivers_notes"])
    assert res.differences["estimate"].tolist() == pytest.approx([-5.833333333333333] * 2)
    # A group too small for a regression (3 answers, 2 varying themes: fewer than
    # themes + 2) is a size rule like min_n: noted, no warning (warnings are errors).
    small = theme_impact(
        comments.iloc[[0, 6, 7]],
        responses,
        themes={"queue": "queue", "staff": "staff"},
        n_resamples=0,
        min_n=None,
    )
    assert small.drivers is None
    assert any("fewer than themes + 2" in n for n in small.settings["drivers_notes"])


def test_ticket_descriptions_are_comments_too(org: Organisation) -> None:
    tickets = org.tickets
    res = comment_sentiment(tickets, text="description", by="silo")
    assert (res.groups["estimate"] < 0).all()  # descriptions are complaints
    assert res.comments.columns[0] == "row"  # no comment_id: positions
    # Why: warnings as errors: themes on ticket descriptions run without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        themes = comment_themes(
            tickets, text="description", themes=theme_keywords("customer"), sentiment=False
        )
    assert themes.settings["n_comments"] == len(tickets)


def test_spans_when_lower_casing_changes_lengths() -> None:
    """ "İ" lower-cases to two characters: the rules then search the text as given, and
    the offsets stay those of the caller's text."""
    df = _frame(["İstanbul QUEUE", "a queue"])
    res = comment_themes(df, themes={"q": "queue"}, min_n=None, sentiment=False)
    assert res.spans[["comment_id", "start", "end"]].to_numpy().tolist() == [
        ["c0", 9, 14],
        ["c1", 2, 7],
    ]


def test_row_order_does_not_matter() -> None:
    rng = np.random.default_rng(8)
    texts = rng.choice([r[0] for r in README] + ["queue", "", "the staff"], size=60).tolist()
    df = _frame(texts, team=rng.choice(["a", "b", "c"], size=60).tolist())
    shuffled = df.sample(frac=1.0, random_state=3)
    a = comment_sentiment(df, by="team", min_n=5).groups
    b = comment_sentiment(shuffled, by="team", min_n=5).groups
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    rules = {"q": "queue", "s": "staff"}
    ta = comment_themes(df, themes=rules, by="team").themes
    tb = comment_themes(shuffled, themes=rules, by="team").themes
    pd.testing.assert_frame_equal(ta, tb, rtol=1e-12)


def test_results_display_and_plot(org: Organisation) -> None:
    from hxmetrics.plotting import new_figure

    assert org.comments is not None
    part = org.comments.loc[org.comments["silo"] == "customers"]
    rules = theme_keywords("customer")
    results = [
        comment_sentiment(org.comments, by="silo"),
        comment_themes(part, themes=rules),
        theme_impact(part, org.responses, themes=rules, n_resamples=0),
    ]
    for res in results:
        html = res._repr_html_()
        assert type(res).__name__ in html
        assert "@" not in html
        _, ax = new_figure()
        assert res.plot(ax=ax) is ax
        assert isinstance(res.summary(), pd.DataFrame)


def test_impact_leaves_out_comments_the_themes_result_lacks() -> None:
    """Comments of a group suppressed in the themes result have unknown themes: they
    are counted, never read as "no theme"."""
    n = 50
    comments = pd.DataFrame(
        {
            "comment_id": [f"c{i}" for i in range(n)],
            "response_id": [f"r{i}" for i in range(n)],
            "team": ["a"] * 36 + ["b"] * 4 + ["c"] * 10,
            "text": ["queue"] * 18 + ["fine"] * 18 + ["queue"] * 4 + ["fine"] * 10,
        }
    )
    # Scores that vary (a constant score would leave no key drivers, with a warning).
    responses = pd.DataFrame({"response_id": comments["response_id"], "ltr": np.arange(n) % 11})
    themes = comment_themes(comments, themes={"q": "queue"}, by="team", min_n=5)
    assert set(themes.comments["team"]) == {"a"}  # b below 5, c hidden with it
    res = theme_impact(comments, responses, themes=themes, n_resamples=0, min_n=5)
    assert res.settings["n_excluded_not_in_themes"] == 14
    assert res.settings["n_excluded_unlinked"] == 0
    row = res.differences.iloc[0]
    assert (row["n_with"], row["n_without"]) == (18, 18)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without vaderSentiment / scikit-learn the functions say which extra to install."""
    import sys

    from hxmetrics.measures import text

    text._analyzer.cache_clear()
    monkeypatch.setitem(sys.modules, "vaderSentiment", None)
    monkeypatch.setitem(sys.modules, "vaderSentiment.vaderSentiment", None)
    with pytest.raises(ImportError, match=r'pip install "hxmetrics\[text\]"'):
        comment_sentiment(_frame(["fine"]))
    monkeypatch.setitem(sys.modules, "sklearn.decomposition", None)
    with pytest.raises(ImportError, match=r'pip install "hxmetrics\[text\]"'):
        comment_themes(_frame(["a queue", "a wait"]), n_themes=1, sentiment=False, min_n=None)
    monkeypatch.undo()
    text._analyzer.cache_clear()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from([r[0] for r in README] + ["", "  ", None, "queue", "staff ok"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_sentiment_counts_reconcile_and_bounds(rows: list[tuple[str, str | None]]) -> None:
    df = _frame([t for _, t in rows], team=[g for g, _ in rows])
    res = comment_sentiment(df, by="team", min_n=None)
    groups = res.groups.set_index("team")
    sizes = df.groupby("team").size()
    for team, row in groups.iterrows():
        assert row["n"] + row["n_excluded_empty"] == sizes[team]  # every row counted once
        if row["n"] > 0:
            assert -1 <= row["estimate"] <= 1
            total = row["pct_positive"] + row["pct_neutral"] + row["pct_negative"]
            assert total == pytest.approx(100.0)
    assert len(res.comments) == int(groups["n"].sum())
    themes = comment_themes(df, themes={"q": "queue"}, by="team", min_n=None, sentiment=False)
    assert len(themes.comments) == int(groups["n"].sum())
