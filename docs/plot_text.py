"""Draw docs/_static/text_theme_impact.png and print every number of docs/measures_text.md.

    python docs/plot_text.py

On the bundled sample (:func:`hxmetrics.datasets.load_sample`): its ``comments`` (free
text linked to the likelihood-to-recommend answers by ``response_id``) and its
tickets' ``description``. The text measures group by ``silo``, a column of every
exhaust table, so no attribution is needed here. The figure is the customers'
difference in the mean likelihood to recommend between the answers whose comment
mentions each data-driven theme and the others, with the simulator's planted
difference. Everything drawn is computed by hxmetrics; the truth is the simulator's.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hxmetrics.datasets import load_sample
from hxmetrics.measures.text import comment_sentiment, comment_themes, theme_impact, verbatims
from hxmetrics.privacy import PLACEHOLDERS

OUT = Path(__file__).resolve().parent / "_static" / "text_theme_impact.png"


def _table(frame: pd.DataFrame) -> None:
    cells = frame.astype(str)
    print("| " + " | ".join(map(str, frame.columns)) + " |")
    print("| " + " | ".join("---" for _ in frame.columns) + " |")
    for row in cells.itertuples(index=False):
        print("| " + " | ".join(row) + " |")
    print()


def main() -> None:
    org = load_sample()
    assert org.comments is not None
    planted = org.truth.planted["comments"]
    print("comments by silo:", org.comments.groupby("silo").size().to_dict())
    print("planted identifiers:", planted["identifiers"]["kind"].value_counts().to_dict())

    sentiment = comment_sentiment(org.comments, by="silo")
    cols = ["silo", "n", "estimate", "ci_low", "ci_high", "pct_positive", "pct_neutral"]
    _table(sentiment.groups[[*cols, "pct_negative"]].round(3))
    tickets = comment_sentiment(org.tickets, text="description", by="silo")
    _table(tickets.groups[["silo", "n", "estimate", "ci_low", "ci_high"]].round(3))

    customers = org.comments[org.comments["silo"] == "customers"]
    themes = comment_themes(customers, n_themes=4, random_state=0)
    shown = themes.themes[["theme", "n", "pct_comments", "estimate", "ci_low", "ci_high"]]
    _table(shown.round(3))
    assert themes.terms is not None
    top = themes.terms[themes.terms["rank"] <= 6].groupby("theme")["term"].apply(", ".join)
    print(top.to_dict(), "\n")

    # Which planted theme each NMF theme found: F1 of its comments against the
    # comments the simulator wrote about each planted theme.
    mentions = planted["mentions"]
    ind = themes.indicators().set_index("comment_id")
    match = {}
    for theme in themes.theme_names:
        found = set(ind.index[ind[theme].to_numpy(dtype=bool)])
        best = (0.0, "")
        for name, part in mentions[mentions["comment_id"].isin(ind.index)].groupby("theme"):
            truth = set(part["comment_id"])
            f1 = 2 * len(found & truth) / (len(found) + len(truth))
            best = max(best, (f1, str(name)))
        match[theme] = best[1]
        print(f"{theme}: planted {best[1]}, F1 {best[0]:.3f}")
    print()

    rules = comment_themes(customers, themes={"waiting": ["wait*", "queue", "on hold"]})
    _table(rules.themes[["theme", "n", "pct_comments", "estimate"]].round(3))

    impact = theme_impact(
        customers, org.responses, themes=themes, outcome="ltr", n_resamples=1000, random_state=0
    )
    effects = planted["effects"].set_index(["silo", "theme"]).loc["customers"]
    diff = impact.differences.assign(
        planted_theme=lambda d: d["theme"].map(match),
        planted=lambda d: d["planted_theme"].map(effects["expected_difference"]).round(3),
    )
    cols = ["theme", "planted_theme", "n_with", "n_without", "estimate", "ci_low", "ci_high"]
    _table(diff[[*cols, "planted"]].round(3))
    assert impact.drivers is not None
    _table(impact.drivers[["driver", "estimate", "pct_of_r2", "rank", "r2"]].round(3))
    print("settings:", {k: v for k, v in impact.settings.items() if k.startswith("n_")})

    quotes = verbatims(customers, themes=themes, theme="theme_1", n=2, random_state=0)
    print(quotes.to_string(), "\n")
    every = verbatims(org.comments, n=10_000, by="silo", random_state=0)
    ids = planted["identifiers"]
    print("planted identifiers by table:", ids.groupby(["table", "kind"]).size().to_dict())
    left = sum(int(every["text"].str.contains(v, regex=False).sum()) for v in ids["value"])
    tags = {k: int(every["text"].str.count(re.escape(t)).sum()) for k, t in PLACEHOLDERS.items()}
    print(f"verbatims of every comment: {len(every)}, placeholders {tags}, identifiers left {left}")
    desc = verbatims(org.tickets, text="description", n=100_000, by="silo", random_state=0)
    left = sum(int(desc["text"].str.contains(v, regex=False).sum()) for v in ids["value"])
    tags = {k: int(desc["text"].str.count(re.escape(t)).sum()) for k, t in PLACEHOLDERS.items()}
    print(f"verbatims of every ticket: {len(desc)}, placeholders {tags}, identifiers left {left}")

    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    y = np.arange(len(diff))[::-1]
    ax.errorbar(
        diff["estimate"],
        y,
        xerr=[diff["estimate"] - diff["ci_low"], diff["ci_high"] - diff["estimate"]],
        fmt="o",
        capsize=3,
        label="estimate, 95% Welch interval",
    )
    ax.plot(diff["planted"], y, "x", color="black", ms=9, label="planted difference")
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(
        y, [f"{t} ({p})" for t, p in zip(diff["theme"], diff["planted_theme"], strict=True)]
    )
    ax.set_xlabel("likelihood to recommend, mention - no mention (points of 0-10)")
    ax.set_title("Customers' comments on the sample: NMF themes")
    ax.legend(frameon=False, loc="lower left", fontsize=8)
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
