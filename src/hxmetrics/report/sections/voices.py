"""The report's "What people say" section: comment themes with their volume,
sentiment and impact on the score, and a few redacted quotes per theme.

Every number comes from :mod:`hxmetrics.measures.text`: the tone of each role's
comments (:func:`~hxmetrics.measures.text.comment_sentiment`, VADER), data-driven
themes per role (:func:`~hxmetrics.measures.text.comment_themes`, NMF of the
TF-IDF matrix with the report's seed), the difference in the likelihood to recommend
between answers whose comment mentions a theme and the others
(:func:`~hxmetrics.measures.text.theme_impact`, Welch), and quotes
(:func:`~hxmetrics.measures.text.verbatims`, redacted with the rosters' names).

Why data-driven themes, not keyword rules: rules need a vocabulary written for each
organisation, which a report run on any data cannot know; NMF finds the topics the
comments share (on the sample it recovers the simulator's planted themes with F1
0.88 to 1.00, see docs/measures_text.md) and each theme is named by its top terms.
Themes are fitted per role: customers, workers and partners write about different
things, and a theme's impact is on its own role's score (NPS, eNPS, partner NPS).

Disclosure: a comment count is a cell of base ``"comments"`` (``role``; for a theme
``role``, ``theme`` and ``mentions`` True/False, the two partitioning the role's
comments); the answers behind an impact are cells of the NPS answers
(``"responses:nps"``, used, the role, ``commented`` True/False partitioning the
role's answers, and ``theme``/``mentions`` partitioning the commented ones). A
theme's comments and its answers are the same people (linked). A hidden theme shows
no count, share, sentiment, difference, flag, rank, label or quote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.measures._inference import holm
from hxmetrics.measures.text import comment_sentiment, comment_themes, theme_impact, verbatims
from hxmetrics.plotting import new_figure, plot_estimates
from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    INSTRUMENT_NAME,
    PCT_FMT,
    add_table,
    level,
    p_value,
    signed,
)
from hxmetrics.report.sections.plan import NPS_BASE, USED, _add, _same, partition, recorded
from hxmetrics.report.sections.settings import ROLES
from hxmetrics.tables import ROLE_OF_SILO, ROSTERS

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

#: The base of comment counts (one unit: one non-empty comment).
COMMENTS = "comments"
#: Themes fitted per role: at most this many ...
N_THEMES = 4
#: ... and at least this many comments per theme (fewer comments, fewer themes).
COMMENTS_PER_THEME = 20
#: Quotes per theme.
N_QUOTES = 3
#: Top terms naming a theme.
N_LABEL_TERMS = 3
#: Roster columns holding people's names (redacted from the quotes and the themes).
NAME_COLUMNS = ("name", "given_name", "family_name")

ROLE_PLURAL = {"customer": "Customers", "worker": "Workers", "partner": "Partners"}
SENTIMENT_FMT = signed(2)
IMPACT_FMT = signed(2)
HIDDEN_LABEL = "(suppressed theme)"
#: The columns of a role's theme table, in order.
DISPLAY = [
    "label",
    "n",
    "pct_comments",
    "estimate",
    "ci_low",
    "ci_high",
    "impact",
    "impact_low",
    "impact_high",
    "n_with",
    "n_without",
    "p_adjusted",
    "differs",
]


# ---------------------------------------------------------------------------- plan
def plan(ctx: Context, d: Disclosure) -> None:
    """Compute this section's numbers unsuppressed and register them with ``d``.

    Keeps, in ``ctx.planned``: ``voices:absent`` (a sentence) when there is nothing
    to say; else ``voices:roles`` (the roles with comments, in the report's order),
    ``voices:themes:<role>`` (the :class:`~hxmetrics.measures.text.ThemesResult`),
    ``voices:impact:<role>`` (the :class:`~hxmetrics.measures.text.ThemeImpactResult`),
    ``voices:quotes:<role>`` (theme -> redacted quotes) and ``voices:notes:<role>``.
    """
    comments = _comments(ctx)
    if comments is None:
        held = "comments" in ctx.attributed and len(ctx.attributed["comments"]) > 0
        what = "The comments in the data hold no text" if held else "No comments in the data"
        ctx.planned["voices:absent"] = (
            f"{what}: themes, their sentiment and their impact on the score are not "
            "shown. A comments table with text (comment_id, silo, source_id, timestamp, "
            "text, and response_id to link a comment to its answer) fills this section."
        )
        return
    names = _roster_names(ctx)
    tone, said = recorded(
        comment_sentiment, comments, by="role", confidence=ctx.confidence, min_n=None
    )
    groups = tone.groups.assign(role=tone.groups["role"].astype("str"))
    ctx.planned["voices:by_role"] = groups
    if said:
        ctx.notes[("voices", "all")] = said
    _add(ctx, "voices:by_role", groups, base=COMMENTS, by="role")
    roles = [r for r in ROLES if r in set(groups["role"])]
    ctx.planned["voices:roles"] = roles
    answers = ctx.answers("nps", ["ltr"], columns=["response_id", "item", "score", "role"])
    for role in roles:
        _plan_role(ctx, comments.loc[comments["role"] == role], answers, role, names)


def _comments(ctx: Context) -> pd.DataFrame | None:
    """The non-empty comments with a role (the writing silo's), or None without any."""
    frame = ctx.attributed.get("comments")
    if frame is None or frame.empty or "text" not in frame.columns:
        return None
    text = frame["text"]
    written = text.notna().to_numpy() & (text.astype("str").str.strip() != "").to_numpy()
    # The writing silo's role (the attribution adds it; from the silo otherwise).
    role = (frame["role"] if "role" in frame else frame["silo"].map(ROLE_OF_SILO)).astype("str")
    keep = written & role.isin(list(ROLES)).to_numpy()
    if not keep.any():
        return None
    columns = ["comment_id", "text", "role", *(["response_id"] if "response_id" in frame else [])]
    out = frame.loc[keep, [c for c in columns if c != "role"]].reset_index(drop=True)
    out["role"] = role.to_numpy()[keep]
    return out.assign(role=out["role"].astype("str"), text=out["text"].astype("str"))


def _roster_names(ctx: Context) -> list[str]:
    """Names of the input's people (the rosters' name columns), and their words."""
    found: set[str] = set()
    for table in ROSTERS:
        frame = ctx.tables.get(table)
        if frame is None:
            continue
        for column in NAME_COLUMNS:
            if column in frame.columns:
                values = frame[column].dropna().astype("str").str.strip()
                found.update(v for v in values if v)
                # A full name is also redacted word by word ("Ask Maria").
                found.update(w for v in values for w in v.split() if len(w) > 1)
    return sorted(found)


def _label(themes: Any, theme: str) -> str:
    """A theme named by its top terms ("time, hold, response")."""
    terms = themes.terms
    if terms is None or terms.empty:
        return theme
    mine = terms.loc[terms["theme"].astype("str") == theme].sort_values("rank", kind="stable")
    words = mine["term"].astype("str").head(N_LABEL_TERMS).tolist()
    return ", ".join(words) if words else theme


def _plan_role(
    ctx: Context, comments: pd.DataFrame, answers: pd.DataFrame, role: str, names: list[str]
) -> None:
    notes: list[str] = []
    ctx.planned[f"voices:notes:{role}"] = notes
    total = len(comments)
    k = min(N_THEMES, total // COMMENTS_PER_THEME)
    if k < 2:
        notes.append(
            f"Too few comments for themes (at least {2 * COMMENTS_PER_THEME} are needed "
            "for two themes)."
        )
        return
    try:
        themes, said = recorded(
            comment_themes,
            comments,
            n_themes=k,
            names=names,
            # A term naming a theme occurs in at least min_n comments.
            min_df=max(2, ctx.min_n),
            random_state=ctx.random_state,
            confidence=ctx.confidence,
            min_n=None,
        )
    except ParameterError as exc:
        notes.append(f"No themes could be found: {exc}")
        return
    notes.extend(said)
    ctx.planned[f"voices:themes:{role}"] = themes
    table = themes.themes.assign(theme=themes.themes["theme"].astype("str"))
    table = table.loc[table["n"] > 0].reset_index(drop=True)
    table["label"] = [_label(themes, t) for t in table["theme"]]
    table["mentions"] = True
    ctx.planned[f"voices:theme_table:{role}"] = table
    for t, n in zip(table["theme"], table["n"], strict=True):
        where = {"role": role, "theme": t}
        split = partition({"mentions": [True, False]}, [int(n), total - int(n)])
        _add(ctx, f"voices:mentions:{role}:{t}", split, base=COMMENTS, by="mentions", where=where)
    _add(
        ctx,
        f"voices:themes:{role}",
        table,
        base=COMMENTS,
        by=["theme", "mentions"],
        where={"role": role},
        n=None,
    )
    quotes = verbatims(
        comments,
        themes=themes,
        theme=table["theme"].tolist(),
        # More than shown: a comment on two themes is quoted under the first only.
        n=2 * N_QUOTES,
        names=names,
        random_state=ctx.random_state,
        min_n=ctx.min_n,
    )
    ctx.planned[f"voices:quotes:{role}"] = {
        t: quotes.loc[quotes["theme"].astype("str") == t, "text"].astype("str").tolist()
        for t in table["theme"]
    }
    _plan_impact(ctx, comments, answers.loc[answers["role"] == role], role, themes, table)


def _plan_impact(
    ctx: Context,
    comments: pd.DataFrame,
    answers: pd.DataFrame,
    role: str,
    themes: Any,
    table: pd.DataFrame,
) -> None:
    if answers.empty or "response_id" not in comments.columns:
        return
    scored = ctx.nps_by_role.loc[ctx.nps_by_role["role"].astype("str") == role, "n"]
    if scored.empty:
        return
    # Its warnings concern the key drivers (a group whose drivers cannot be fitted),
    # which this section does not show: they are not repeated as notes.
    impact, _ = recorded(
        theme_impact,
        comments,
        answers,
        themes=themes,
        outcome="ltr",
        # Key drivers are not shown here: no bootstrap.
        n_resamples=0,
        confidence=ctx.confidence,
        random_state=ctx.random_state,
        min_n=None,
    )
    linked = int(impact.settings["n_linked"])
    if linked == 0:
        return
    ctx.planned[f"voices:impact:{role}"] = impact
    role_where = {**USED, "role": role}
    commented = partition({"commented": [True, False]}, [linked, int(scored.iloc[0]) - linked])
    _add(
        ctx, f"voices:commented:{role}", commented, base=NPS_BASE, by="commented", where=role_where
    )
    diff = impact.differences.assign(theme=impact.differences["theme"].astype("str"))
    diff = diff.loc[diff["theme"].isin(table["theme"]) & (diff["n_with"] > 0)]
    diff = diff.reset_index(drop=True).assign(mentions=True)
    where = {**role_where, "commented": True}
    for t, n1, n0 in zip(diff["theme"], diff["n_with"], diff["n_without"], strict=True):
        split = partition({"mentions": [True, False]}, [int(n1), int(n0)])
        _add(
            ctx,
            f"voices:answers:{role}:{t}",
            split,
            base=NPS_BASE,
            by="mentions",
            where={**where, "theme": t},
        )
        # A theme's comments and the answers they came with: the same people.
        _same(
            ctx,
            (COMMENTS, {"role": role, "theme": t, "mentions": True}),
            (NPS_BASE, {**where, "theme": t, "mentions": True}),
        )
    diff = diff.assign(df=_welch_df_of(diff, ctx.confidence))
    ctx.planned[f"voices:impact_table:{role}"] = diff
    _add(
        ctx,
        f"voices:impact:{role}",
        diff,
        base=NPS_BASE,
        by=["theme", "mentions"],
        where=where,
        n=None,
    )


def _welch_df_of(diff: pd.DataFrame, confidence: float) -> np.ndarray:
    """The Welch degrees of freedom of each difference, read back from its interval.

    :func:`~hxmetrics.measures.text.theme_impact` gives the difference, its standard
    error and its Welch t interval (``estimate ± t(df) se``), not ``df``; the
    critical value of the interval gives it back, so that the p-value is the one of
    the measure's own test.
    """
    from scipy import optimize, stats

    q = 0.5 + confidence / 2
    out = np.full(len(diff), np.nan)
    for i, (est, se, high) in enumerate(
        zip(diff["estimate"], diff["se"], diff["ci_high"], strict=True)
    ):
        if not (np.isfinite(est) and np.isfinite(se) and np.isfinite(high)) or se <= 0:
            continue
        crit = (float(high) - float(est)) / float(se)
        if crit <= float(stats.t.ppf(q, 1e7)):
            out[i] = 1e7
            continue
        out[i] = optimize.brentq(lambda v, c=crit: float(stats.t.ppf(q, v)) - c, 0.5, 1e7)
    return out


# ---------------------------------------------------------------------------- section
INTRO = (
    "What people write in their comments, grouped into themes: the topics their comments "
    "share, found in the words of each role's comments (not chosen in advance) and named "
    "by their most typical words. For each theme: how many comments mention it, their "
    "tone (sentiment), how the likelihood to recommend of the people who mention it "
    "differs from that of the other commenters, and a few of their comments, quoted with "
    "emails, phone numbers, ids and the names of people removed."
)
HOW_TO_READ = (
    "Sentiment is the mean VADER score of a theme's comments, from -1 (all negative) to "
    "+1 (all positive); 0 is neutral. Impact is the difference in the average likelihood "
    "to recommend (0-10) between answers whose comment mentions the theme and answers "
    "whose comment does not: -2.0 means two points lower. It is an association, not a "
    "cause. 'Yes' under 'Differs' means the difference is unlikely to be chance after the "
    "Holm adjustment for the number of themes shown. Quote the theme's impact with its "
    "interval; the quotes illustrate a theme, they do not measure it. A suppressed theme "
    "has too few comments (or would give such a theme away) and shows nothing."
)


def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows."""
    out = report.add_section("voices", "What people say", intro=INTRO, how_to_read=HOW_TO_READ)
    ctx.plan()
    absent = ctx.planned.get("voices:absent")
    if absent is not None:
        out.add_note(absent)
        return
    _by_role(out, ctx)
    _figures(out, ctx)
    for role in ctx.planned.get("voices:roles", []):
        _role(out, ctx, role)


def _by_role(out: Section, ctx: Context) -> None:
    frame = ctx.shown("voices:by_role")
    frame = frame.assign(_o=frame["role"].map({r: i for i, r in enumerate(ROLES)}))
    frame = frame.sort_values("_o", kind="stable").assign(
        group=lambda f: f["role"].map(ROLE_PLURAL)
    )
    columns = ["group", "n", "estimate", "ci_low", "ci_high", "pct_positive", "pct_negative"]
    add_table(
        out,
        ctx,
        frame[[*columns, "suppressed"]],
        caption="Comments and their tone by role",
        labels={
            "group": "Role",
            "n": "Comments",
            "estimate": "Sentiment",
            "ci_low": "CI from",
            "ci_high": "to",
            "pct_positive": "Positive %",
            "pct_negative": "Negative %",
            "suppressed": "Suppressed",
        },
        number_formats={
            "estimate": SENTIMENT_FMT,
            "ci_low": SENTIMENT_FMT,
            "ci_high": SENTIMENT_FMT,
            "pct_positive": PCT_FMT,
            "pct_negative": PCT_FMT,
        },
    )
    for said in ctx.notes.get(("voices", "all"), []):
        out.add_note(said)


def theme_rows(ctx: Context, role: str) -> pd.DataFrame:
    """One row per theme of a role as it may be shown: volume, sentiment, impact, flag.

    A hidden theme keeps no number and no label; the impact of a theme is shown only
    when both its answers with and without the theme are shown; the Holm adjustment
    runs over the shown impacts only. Shown themes come first, by volume.
    """
    themes = ctx.shown(f"voices:themes:{role}")
    hidden = themes["suppressed"].astype(bool).to_numpy()
    rows = themes[["theme", "label", "n", "pct_comments", "estimate", "ci_low", "ci_high"]].copy()
    rows["label"] = np.where(hidden, HIDDEN_LABEL, rows["label"].astype("str"))
    rows["suppressed"] = hidden
    impact_name = f"voices:impact:{role}"
    columns = ["impact", "impact_low", "impact_high", "n_with", "n_without", "p_adjusted"]
    if f"voices:impact_table:{role}" in ctx.planned:
        impact = ctx.shown(impact_name)
        both = [
            not bool(row["suppressed"]) and _both_shown(ctx, role, str(row["theme"]))
            for _, row in impact.iterrows()
        ]
        impact = impact.loc[np.asarray(both, dtype=bool)].reset_index(drop=True)
        impact = impact.assign(p=_two_sided_p(impact))
        impact["p_adjusted"] = holm(impact["p"].to_numpy(dtype=float))
        impact = impact.rename(
            columns={"estimate": "impact", "ci_low": "impact_low", "ci_high": "impact_high"}
        )[["theme", *columns]]
        rows = rows.merge(impact, on="theme", how="left", validate="one_to_one")
        rows.loc[rows["suppressed"], columns] = np.nan
    else:
        for column in columns:
            rows[column] = np.nan
    alpha = 1 - ctx.confidence
    verdict = np.where(rows["p_adjusted"].to_numpy(dtype=float) < alpha, "yes", "no")
    rows["differs"] = np.where(rows["p_adjusted"].isna(), "", verdict)
    order = np.lexsort((np.arange(len(rows)), -rows["n"].fillna(-1).to_numpy(dtype=float)))
    rows = rows.iloc[order]
    rows = pd.concat([rows.loc[~rows["suppressed"]], rows.loc[rows["suppressed"]]])
    return rows.reset_index(drop=True)


def _role_shown(ctx: Context, role: str) -> bool:
    """Whether a role's number of comments is shown.

    When it is hidden, nothing about the role's themes is shown either: a theme's
    share of the comments would give the number back.
    """
    by_role = ctx.shown("voices:by_role")
    return not by_role.loc[by_role["role"] == role, "suppressed"].astype(bool).all()


def _both_shown(ctx: Context, role: str, theme: str) -> bool:
    split = ctx.shown(f"voices:answers:{role}:{theme}")
    return not bool(split["suppressed"].astype(bool).any())


def _two_sided_p(impact: pd.DataFrame) -> np.ndarray:
    """The Welch t test's two-sided p-value of each shown difference."""
    from scipy import stats

    t = impact["estimate"].to_numpy(dtype=float) / impact["se"].to_numpy(dtype=float)
    return np.asarray(2 * stats.t.sf(np.abs(t), impact["df"].to_numpy(dtype=float)), dtype=float)


def _role(out: Section, ctx: Context, role: str) -> None:
    name = ROLE_PLURAL[role]
    out.add_heading(f"{name}: themes of their comments")
    notes = ctx.planned.get(f"voices:notes:{role}", [])
    if f"voices:themes:{role}" not in ctx.planned:
        for said in notes:
            out.add_note(f"{name}: {said}")
        return
    if not _role_shown(ctx, role):
        out.add_note(f"{name}: too few comments to show themes (suppressed).")
        return
    rows = theme_rows(ctx, role)
    shown = rows.loc[~rows["suppressed"]]
    score = INSTRUMENT_NAME[role]
    linked = f"voices:impact_table:{role}" in ctx.planned
    columns = DISPLAY if linked else DISPLAY[:6]
    add_table(
        out,
        ctx,
        rows[[*columns, "suppressed"]],
        caption=f"{name}: comment themes, their tone and their impact on the likelihood "
        "to recommend"
        if linked
        else f"{name}: comment themes and their tone",
        labels={
            "label": "Theme (top words)",
            "n": "Comments",
            "pct_comments": "% of comments",
            "estimate": "Sentiment",
            "ci_low": "CI from",
            "ci_high": "to",
            "n_with": "Answers with",
            "n_without": "without",
            "impact": "Impact (0-10)",
            "impact_low": f"{level(ctx.confidence)} CI from",
            "impact_high": "to",
            "p_adjusted": "Adjusted p",
            "differs": "Differs",
            "suppressed": "Suppressed",
        },
        number_formats={
            "pct_comments": PCT_FMT,
            "estimate": SENTIMENT_FMT,
            "ci_low": SENTIMENT_FMT,
            "ci_high": SENTIMENT_FMT,
            "impact": IMPACT_FMT,
            "impact_low": IMPACT_FMT,
            "impact_high": IMPACT_FMT,
            "p_adjusted": p_value,
        },
    )
    n_hidden = int(rows["suppressed"].sum())
    if n_hidden:
        out.add_note(
            f"{n_hidden} theme(s) of the {name.lower()}' comments are suppressed: fewer than "
            f"{ctx.min_n} comments or answers mention them (or do not), or they are hidden "
            "with such a theme so that it cannot be worked out by subtraction. They show no "
            "number, no words and no quote.",
            kind="warning",
        )
    if not linked:
        out.add_note(
            f"{name}: no comment is linked (by response_id) to an answer of {score}, so "
            "the impact of the themes on the score is not shown."
        )
    for said in notes:
        out.add_note(f"{name}: {said}")
    quotes = ctx.planned.get(f"voices:quotes:{role}", {})
    items: list[str] = []
    quoted: set[str] = set()
    # Only the shown themes are quoted; a comment on two of them under the first.
    for theme, label in zip(shown["theme"], shown["label"], strict=True):
        fresh = [t for t in quotes.get(str(theme), []) if t not in quoted][:N_QUOTES]
        quoted.update(fresh)
        items.extend(f"[{label}] “{text}”" for text in fresh)
    if items:
        out.add_text(
            f"What {name.lower()} wrote, at most {N_QUOTES} comments per theme shown, drawn at "
            "random and redacted (emails, phone numbers, ids, long numbers and the names of "
            f"the people in the rosters are replaced by placeholders). Impact is on {score}."
        )
        out.add_list(items)


def _figures(out: Section, ctx: Context) -> None:
    """Sentiment and impact of every shown theme, all roles in one figure each.

    Hidden themes are never drawn (only the shown rows are passed to the plot).
    """
    parts = []
    for role in ctx.planned.get("voices:roles", []):
        if f"voices:themes:{role}" not in ctx.planned or not _role_shown(ctx, role):
            continue
        rows = theme_rows(ctx, role)
        rows = rows.loc[~rows["suppressed"]]
        parts.append(rows.assign(group=ROLE_PLURAL[role], role=role))
    if not parts:
        return
    shown = pd.concat(parts, ignore_index=True)
    if shown.empty:
        return
    tone = shown[["group", "label", "n", "estimate", "ci_low", "ci_high"]]
    fig, ax = new_figure(FIG_WIDTH, 0.95 + 0.3 * len(tone))
    plot_estimates(
        tone,
        estimate="estimate",
        by=["group", "label"],
        reference=0.0,
        xlabel="Sentiment of the theme's comments (VADER, -1 to +1)",
        ax=ax,
    )
    low = tone.iloc[int(np.argmin(tone["estimate"].to_numpy(dtype=float)))]
    high = tone.iloc[int(np.argmax(tone["estimate"].to_numpy(dtype=float)))]
    alt = (
        "Dot plot of the sentiment of each role's comment themes with intervals: the most "
        f"negative is the {low['group'].lower()}' theme '{low['label']}' "
        f"({SENTIMENT_FMT(low['estimate'])}), the most positive the "
        f"{high['group'].lower()}' '{high['label']}' ({SENTIMENT_FMT(high['estimate'])})."
    )
    labels = {
        "group": "Role",
        "label": "Theme",
        "n": "Comments",
        "estimate": "Sentiment",
        "ci_low": f"{level(ctx.confidence)} CI from",
        "ci_high": "to",
    }
    out.add_figure(
        fig,
        alt=alt,
        data=tone,
        labels=labels,
        number_formats={
            "estimate": SENTIMENT_FMT,
            "ci_low": SENTIMENT_FMT,
            "ci_high": SENTIMENT_FMT,
        },
    )
    impact = shown.loc[shown["impact"].notna()]
    if impact.empty:
        return
    data = impact[["group", "label", "n_with", "impact", "impact_low", "impact_high", "differs"]]
    data = data.reset_index(drop=True)
    fig, ax = new_figure(FIG_WIDTH, 0.95 + 0.3 * len(data))
    plot_estimates(
        data.rename(columns={"n_with": "n"})[
            ["group", "label", "n", "impact", "impact_low", "impact_high"]
        ],
        estimate="impact",
        by=["group", "label"],
        ci_low="impact_low",
        ci_high="impact_high",
        reference=0.0,
        xlabel="Impact on the likelihood to recommend (points of 0-10)",
        ax=ax,
    )
    worst = data.iloc[int(np.argmin(data["impact"].to_numpy(dtype=float)))]
    best = data.iloc[int(np.argmax(data["impact"].to_numpy(dtype=float)))]
    alt = (
        "Dot plot of each theme's impact on its role's likelihood to recommend with "
        f"intervals: the {worst['group'].lower()}' theme '{worst['label']}' goes with "
        f"{IMPACT_FMT(worst['impact'])} points, the {best['group'].lower()}' "
        f"'{best['label']}' with {IMPACT_FMT(best['impact'])} points."
    )
    out.add_figure(
        fig,
        alt=alt,
        data=data,
        labels={
            "group": "Role",
            "label": "Theme",
            "n_with": "Answers with",
            "impact": "Impact (0-10)",
            "impact_low": f"{level(ctx.confidence)} CI from",
            "impact_high": "to",
            "differs": "Differs",
        },
        number_formats={
            "impact": IMPACT_FMT,
            "impact_low": IMPACT_FMT,
            "impact_high": IMPACT_FMT,
        },
    )
