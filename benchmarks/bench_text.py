"""Comment themes and sentiment against the plain ways, side by side.

    python -m benchmarks.bench_text            # 100,000 comments, 2 rounds
    python -m benchmarks.bench_text --quick    # 10,000 comments, 3 rounds
    python -m benchmarks.run text              # the same section into docs/benchmarks.md

Comments are made as the simulator makes them (:mod:`hxmetrics.datasets._comments`:
one or two of twelve themes, a tone, 3% with an email or a phone number), each with a
reference word drawn from 2,000 (so that texts repeat about as rarely as real ones).
Measured in one process, in interleaved rounds, reported as the median:

* keyword rules (12 themes, the simulator's vocabularies): ``comment_themes(themes=)``
  (one regex scan over all comments per theme, spans placed by binary search) against
  a loop over comments and themes with ``re.finditer`` (the same indicators and spans);
* data-driven themes: ``comment_themes(n_themes=12)`` (redaction, TF-IDF without stop
  and sentiment words, NMF, the per-comment and per-theme tables) against scikit-learn's
  ``TfidfVectorizer`` + ``NMF`` alone with the same settings (no redaction, no tables);
* sentiment: ``comment_sentiment`` (VADER once per distinct text) against VADER on
  every comment.

Ratio = hxmetrics / plain (below 1: faster).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._timing import ratio_rows, side_by_side

SIDES = ("hxmetrics", "plain")


def make_comments(n: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """``n`` comments from the simulator's vocabularies, and the keyword rules."""
    from hxmetrics.datasets._comments import THEMES, _sentences, _with_identifiers

    rng = np.random.default_rng(seed)
    themes = {t: spec for role in THEMES.values() for t, spec in role.items()}
    names = list(themes)
    tone = rng.integers(-1, 2, n)
    first = rng.integers(0, len(names), n)
    second = np.where(rng.random(n) < 0.3, rng.integers(0, len(names), n), -1)
    text = np.full(n, "", dtype=object)
    for k, name in enumerate(names):
        for pick in (first == k, second == k):
            rows = np.flatnonzero(pick)
            text[rows] = text[rows] + _sentences(rng, themes[name][0], tone[rows]) + " "
    refs = np.array([f"ref{k}" for k in range(2000)], dtype=object)
    text = text + "See " + refs[rng.integers(0, 2000, n)] + "."
    text, _, _ = _with_identifiers(rng, text, 0.03)
    frame = pd.DataFrame(
        {
            "comment_id": [f"M{i:07d}" for i in range(n)],
            "silo": "customers",
            "text": pd.Series(text, dtype="str"),
        }
    )
    return frame, {t: themes[t][0] for t in names}


def _loop_rules(texts: list[str], rules: dict[str, tuple[str, ...]]) -> tuple[np.ndarray, list]:
    patterns = {
        t: re.compile(
            r"(?<!\w)(?:"
            + "|".join(r"\s+".join(map(re.escape, w.split())) for w in v)
            + r")(?!\w)",
            re.IGNORECASE,
        )
        for t, v in rules.items()
    }
    hits = np.zeros((len(texts), len(rules)), dtype=bool)
    spans = []
    for i, text in enumerate(texts):
        for k, (theme, pattern) in enumerate(patterns.items()):
            for m in pattern.finditer(text):
                hits[i, k] = True
                spans.append((i, theme, *m.span()))
    return hits, spans


def _plain_nmf(texts: list[str], seed: int) -> Any:
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    from hxmetrics.measures.text import _sentiment_stop_words

    vectorizer = TfidfVectorizer(
        stop_words=sorted(_sentiment_stop_words()),
        min_df=5,
        max_df=0.95,
        max_features=5000,
        sublinear_tf=True,
    )
    x = vectorizer.fit_transform(texts)
    with np.errstate(invalid="ignore"):
        return NMF(n_components=12, init="nndsvda", random_state=seed, max_iter=500).fit_transform(
            x
        )


def _plain_vader(texts: list[str]) -> list[dict[str, float]]:
    from hxmetrics.measures.text import _analyzer

    analyzer = _analyzer()
    return [analyzer.polarity_scores(t) for t in texts]


def _check(frame: pd.DataFrame, rules: dict[str, tuple[str, ...]]) -> None:
    """A wrong result must not be timed: the same indicators and spans as the loop."""
    from hxmetrics.measures.text import comment_themes

    head = frame.head(2000)
    res = comment_themes(head, themes=rules, sentiment=False, min_n=None)
    hits, spans = _loop_rules(head["text"].tolist(), rules)
    assert (res.comments[list(rules)].to_numpy() == hits).all()
    ids = head["comment_id"].to_numpy()
    want = sorted((ids[i], t, s, e) for i, t, s, e in spans)
    got = sorted(map(tuple, res.spans[["comment_id", "theme", "start", "end"]].to_numpy()))
    assert [tuple(map(str, g)) for g in got] == [tuple(map(str, w)) for w in want]


def run(quick: bool = False) -> str:
    """Time themes and sentiment; return a Markdown section with times and ratios."""
    from hxmetrics.measures.text import comment_sentiment, comment_themes

    n, n_rounds = (10_000, 3) if quick else (100_000, 2)
    frame, rules = make_comments(n)
    texts = frame["text"].tolist()
    _check(frame, rules)
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "keyword rules, 12 themes (indicators and spans)",
            lambda: comment_themes(frame, themes=rules, sentiment=False),
            lambda: _loop_rules(texts, rules),
        ),
        (
            "data-driven themes, NMF with 12 components",
            lambda: comment_themes(frame, n_themes=12, sentiment=False, random_state=0),
            lambda: _plain_nmf(texts, 0),
        ),
        (
            "sentiment (VADER)",
            lambda: comment_sentiment(frame, by="silo"),
            lambda: _plain_vader(texts),
        ),
    ]
    wall, cpu = side_by_side(cases, SIDES, n_rounds)
    distinct = frame["text"].nunique() / n
    lines = [
        "## Comment themes and sentiment (text)",
        "",
        f"{n:,} simulated comments (12 themes, {distinct:.0%} distinct texts, 3% with an "
        f"email or phone); median seconds over {n_rounds} interleaved rounds; keyword",
        "indicators and spans checked equal to the loop first. Ratio = hxmetrics / plain.",
        "",
        "| case | hxmetrics (s) | plain way (s) | ratio | ratio of CPU times |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += ratio_rows(cases, wall, cpu, SIDES, digits=2)
    lines += [
        "",
        "The plain ways: a Python loop over comments and themes with `re.finditer`",
        "(keyword rules); scikit-learn's TfidfVectorizer + NMF with the same settings and",
        "no redaction or tables (data-driven themes); VADER on every comment (sentiment).",
        "hxmetrics' NMF time includes redacting identifiers before the fit.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    section = run(quick="--quick" in sys.argv[1:])
    title, rest = section.split("\n", 1)
    from benchmarks.run import machine  # the one machine description of the benchmarks

    print(f"{title}\n\n{machine()}\n{rest}")
