"""The report's "Distributions, items and drivers" section (issue 18, item 3).

Three views of the survey answers, per role:

- the 0-10 answers to the recommend question (instrument ``nps``, item ``ltr``) and
  the promoter / passive / detractor split;
- the mean of each core question (instrument ``hx_core``, :data:`HX_ITEMS`) with its
  t interval (:func:`hxmetrics.measures.satisfaction.mean_score`);
- the key drivers of the recommend score among the core questions, Shapley (LMG)
  relative importance with bootstrap intervals
  (:func:`hxmetrics.measures.drivers.key_drivers`), and the importance x
  performance quadrant.

Privacy. The 0-10 counts are cells of the NPS answers (base ``"responses:nps"``,
``use="used"``, the role), the same base as the NPS by role so that a role's total
and its parts are judged together. Per role, the three categories partition the
role's answers and the scores partition their category (one table per role: no total
over roles is shown that would tie the roles' cells together), so a small score or
category hides a neighbour (complementary suppression). A role whose split has a
hidden category gets no stacked bar (a segment's position would give the hidden
shares away). Item means are cells of the core answers (base
``"responses:hx_core"``) of one role and one item (the answers to two items overlap:
they are never parts of one total). The drivers' respondents (complete core answers
with a recommend answer) are one count per role, nested in the role's complete core
responses; a role's drivers are laid out only when its answers and item means are
shown too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics.errors import HxError
from hxmetrics.instruments import load_bank
from hxmetrics.measures.drivers import driver_table, key_drivers
from hxmetrics.measures.satisfaction import mean_score
from hxmetrics.plotting import ROLE_COLORS, new_figure, plot_estimates
from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report, Section
from hxmetrics.report.sections.formatting import (
    FIG_WIDTH,
    GROUP_NAME,
    INSTRUMENT_NAME,
    PCT_FMT,
    add_table,
    as_float,
    ci_formats,
    level,
)
from hxmetrics.report.sections.plan import HX_BASE, NPS_BASE, USED, _add, recorded
from hxmetrics.report.sections.settings import HX_ITEMS, ROLES

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

#: The recommend question's categories, in reading order, with the scores of each.
CATEGORIES: dict[str, tuple[int, ...]] = {
    "detractor": tuple(range(0, 7)),
    "passive": (7, 8),
    "promoter": (9, 10),
}
CATEGORY_NAME = {
    "detractor": "Detractors (0-6)",
    "passive": "Passives (7-8)",
    "promoter": "Promoters (9-10)",
}
CATEGORY_COLOR = {"detractor": "#c0392b", "passive": "#9aa5b1", "promoter": "#2e8b57"}
#: Respondents per driver below which a role gets no key drivers (a common rule of
#: thumb for regression: ten complete answers per predictor).
ANSWERS_PER_DRIVER = 10
#: The drivers' respondents: complete core answers that also answer the recommend question.
DRIVERS_WHERE: dict[str, Any] = {**USED, "complete": True, "nps": "answered"}
_P = "distributions:"


def _category(score: int) -> str:
    return next(c for c, scores in CATEGORIES.items() if score in scores)


def driver_floor(ctx: Context) -> int:
    """Fewest complete respondents for a role's key drivers."""
    return max(ctx.min_n, ANSWERS_PER_DRIVER * len(HX_ITEMS))


# -- the plan ---------------------------------------------------------------------------
def plan(ctx: Context, d: Disclosure) -> None:
    """Compute this section's numbers unsuppressed and register them with ``d``."""
    nps_rows = ctx.answers(
        "nps", ["ltr"], columns=["response_id", "instrument", "item", "score", "role"]
    )
    _plan_scores(ctx, nps_rows)
    core = ctx.answers(
        "hx_core", HX_ITEMS, columns=["response_id", "instrument", "item", "score", "role"]
    )
    _plan_items(ctx, core)
    _plan_drivers(ctx, d, nps_rows, core)


def _plan_scores(ctx: Context, rows: pd.DataFrame) -> None:
    rows = rows.loc[rows["score"].notna()]
    # The distinct roles (a set of every row's label costs a second at a million rows).
    present = set(pd.unique(rows["role"].astype("str")).tolist())
    roles = [r for r in ROLES if r in present]
    ctx.planned[_P + "score_roles"] = roles
    for role in roles:
        scores = rows.loc[rows["role"].astype("str") == role, "score"].astype(int)
        counts = scores.value_counts().sort_index()
        table = pd.DataFrame(
            {
                "category": [_category(int(s)) for s in counts.index],
                "score": [int(s) for s in counts.index],
                "n": counts.to_numpy(dtype=np.int64),
            }
        )
        ctx.planned[_P + f"scores:{role}"] = table
        # One table per role: a category's scores partition the category (a total the
        # split bar shows), and no total over roles is shown that would tie roles.
        _add(
            ctx,
            _P + f"scores:{role}",
            table,
            base=NPS_BASE,
            by=["category", "score"],
            where={**USED, "role": role},
        )
        split = pd.DataFrame(
            {
                "category": list(CATEGORIES),
                "answers": [int(table.loc[table["category"] == c, "n"].sum()) for c in CATEGORIES],
            }
        )
        split["share"] = 100 * split["answers"] / int(table["n"].sum())
        ctx.planned[_P + f"categories:{role}"] = split
        # The categories partition the role's answers (the cell of nps_by_role); an
        # empty category holds no one and is shown as 0, never hidden.
        _add(
            ctx,
            _P + f"categories:{role}",
            split.loc[split["answers"] > 0].reset_index(drop=True),
            base=NPS_BASE,
            by="category",
            where={**USED, "role": role},
            n="answers",
        )


def _plan_items(ctx: Context, core: pd.DataFrame) -> None:
    if core.empty:
        ctx.planned[_P + "items"] = []
        return
    result, said = recorded(
        mean_score, core, "score", by=["role", "item"], confidence=ctx.confidence
    )
    if said:
        ctx.notes[("distributions", "items")] = said
    result = result.assign(role=result["role"].astype("str"), item=result["item"].astype("str"))
    names = []
    for role in ROLES:
        for item in HX_ITEMS:
            row = result.loc[(result["role"] == role) & (result["item"] == item)]
            if row.empty or int(row["n"].iloc[0]) == 0:
                continue
            name = _P + f"item:{role}:{item}"
            # One cell per role and item (answers to an item overlap those to the next
            # item: they are no partition, so they are never one table's rows).
            _add(
                ctx,
                name,
                row.reset_index(drop=True),
                base=HX_BASE,
                where={**USED, "role": role, "item": item},
            )
            names.append(name)
    ctx.planned[_P + "items"] = names


def _plan_drivers(ctx: Context, d: Disclosure, nps_rows: pd.DataFrame, core: pd.DataFrame) -> None:
    ctx.planned[_P + "drivers"] = {}
    ctx.planned[_P + "drivers_few"] = []
    if nps_rows.empty or core.empty:
        return
    try:
        wide = driver_table(
            pd.concat([nps_rows, core], ignore_index=True), ("nps", "ltr"), "hx_core", by="role"
        )
    except HxError as exc:
        # The check's name only: an error's text may quote a row of the input.
        ctx.planned[_P + "drivers_error"] = type(exc).__name__
        return
    drivers = [i for i in HX_ITEMS if i in wide.columns]
    if len(drivers) < 2:
        return
    complete = wide.dropna(subset=["ltr", *drivers])
    floor = driver_floor(ctx)
    enough = []
    for role in ROLES:
        n = int((complete["role"].astype("str") == role).sum())
        if n == 0:
            continue
        where = {**DRIVERS_WHERE, "role": role}
        d.add_count(_P + f"drivers_n:{role}", n, base=HX_BASE, where=where)
        if n >= floor:
            enough.append(role)
        else:
            ctx.planned[_P + "drivers_few"].append(role)
    if not enough:
        return
    for role in enough:
        # One role at a time, so that a role whose answers cannot be decomposed (a
        # question everyone answered alike, two questions answered identically) leaves
        # the other roles their drivers.
        rows = complete.loc[complete["role"].astype("str") == role].reset_index(drop=True)
        try:
            part, said = recorded(
                key_drivers,
                rows,
                "ltr",
                drivers,
                method="shapley",
                confidence=ctx.confidence,
                random_state=ctx.random_state,
            )
        except HxError as exc:
            ctx.planned[_P + "drivers_failed"] = {
                **ctx.planned.get(_P + "drivers_failed", {}),
                role: type(exc).__name__,
            }
            continue
        part = part.assign(role=role)
        # The drivers' numbers follow the role's cell of respondents (n=None).
        _add(
            ctx, _P + f"drivers:{role}", part, base=HX_BASE, by="role", where=DRIVERS_WHERE, n=None
        )
        ctx.planned[_P + "drivers"][role] = True
        if said:
            ctx.notes[("distributions:drivers", role)] = said


# -- the section --------------------------------------------------------------------------
_INTRO = (
    "Averages hide shapes. This section shows how the answers to the recommend question "
    "spread over the 0-10 scale and how they split into promoters, passives and "
    "detractors for each role; the mean of each core experience question (hx1 to hx6) "
    "per role with its interval; and which core questions go together with a higher "
    "likelihood to recommend (key drivers), set against how well each is rated."
)
_HOW_TO_READ = (
    "The bars give the share of a role's answers at each score (or in each category); "
    "each role's bars add up to 100%. A score or a category with few answers is "
    "suppressed and has no bar, together with a neighbour so that it cannot be worked "
    "out from the total.\n\n"
    "Item means are on the items' own scale (higher is better), each with its interval. "
    "Two shown means differ beyond chance when their intervals do not overlap; when "
    "they overlap, do not read a difference into them.\n\n"
    "Key drivers: relative importance (Shapley) splits the share of the recommend "
    "score's variance that the six core questions explain together (R²) into one part "
    "per question, with a bootstrap interval and the range of ranks it could take. "
    "The quadrant sets importance against performance (the question's mean): questions "
    "in the 'act first' quadrant matter more than most and are rated lower than most. "
    "Importance says which answers go together, not what causes what."
)


def section(report: Report, ctx: Context) -> None:
    """Lay out what the plan shows."""
    sec = report.add_section(
        "distributions",
        "Distributions, items and drivers",
        intro=_INTRO,
        how_to_read=_HOW_TO_READ,
    )
    has_scores = bool(ctx.planned.get(_P + "score_roles"))
    has_items = bool(ctx.planned.get(_P + "items"))
    if not has_scores and not has_items:
        sec.add_note(
            "No answers to the recommend question (instrument 'nps', item 'ltr') or to the "
            f"core questions (instrument 'hx_core', items {', '.join(HX_ITEMS)}) in the "
            "data: the distributions, item means and key drivers need them."
        )
        return
    shown_roles = _scores(sec, ctx)
    item_roles = _items(sec, ctx)
    if has_scores and has_items:
        _drivers(sec, ctx, set(shown_roles) & set(item_roles))


def _role_name(role: str) -> str:
    return GROUP_NAME.get(role, role)


def _scores(sec: Section, ctx: Context) -> list[str]:
    """The 0-10 bars and the promoter split; returns the roles whose answers are shown."""
    sec.add_heading("The 0-10 answers to the recommend question")
    roles: list[str] = ctx.planned.get(_P + "score_roles", [])
    if not roles:
        sec.add_note(
            "No answers to the recommend question (instrument 'nps', item 'ltr') in the "
            "data: the 0-10 distribution, the promoter split and the key drivers need them."
        )
        return []
    by_role = ctx.shown("nps_by_role")
    hidden_role = set(by_role.loc[by_role["suppressed"].astype(bool), "role"].astype("str"))
    shown_roles = [r for r in roles if r not in hidden_role]
    drawn: list[dict[str, Any]] = []
    n_hidden = 0
    for role in shown_roles:
        total = as_float(by_role.loc[by_role["role"].astype("str") == role, "n"].iloc[0])
        table = ctx.shown(_P + f"scores:{role}")
        rows = {
            int(s): (bool(h), n)
            for s, h, n in zip(table["score"], table["suppressed"], table["n"], strict=True)
        }
        for score in range(11):
            hidden, n = rows.get(score, (False, 0))
            if hidden:
                n_hidden += 1
                continue
            count = int(as_float(n))
            drawn.append(
                {"role": role, "score": score, "answers": count, "share": 100 * count / total}
            )
    if drawn:
        _score_bars(sec, pd.DataFrame(drawn), shown_roles, n_hidden)
        _split_bar(sec, ctx, shown_roles)
    hidden_roles = [r for r in roles if r in hidden_role]
    if hidden_roles:
        sec.add_note(
            "Suppressed (too few answers, or hidden with such a group): the answers of "
            + ", ".join(_role_name(r) for r in hidden_roles)
            + "; they have no bar.",
            kind="warning",
        )
    return shown_roles


def _score_bars(sec: Section, frame: pd.DataFrame, roles: list[str], n_hidden: int) -> None:
    fig, ax = new_figure(FIG_WIDTH, 3.4)
    width = 0.8 / len(roles)
    for i, role in enumerate(roles):
        part = frame.loc[frame["role"] == role]
        x = part["score"].to_numpy(float) + (i - (len(roles) - 1) / 2) * width
        ax.bar(
            x,
            part["share"].to_numpy(float),
            width=width,
            color=ROLE_COLORS[role],
            label=INSTRUMENT_NAME[role],
        )
    ax.set_xticks(range(11))
    ax.set_xlabel("Answer to 'How likely are you to recommend ...?' (0-10)")
    ax.set_ylabel("% of the role's answers")
    for edge in (6.5, 8.5):
        ax.axvline(edge, color="grey", linestyle=":", linewidth=0.8)
    ax.legend(frameon=False, fontsize="small")
    modes = []
    for role in roles:
        part = frame.loc[(frame["role"] == role) & (frame["answers"] > 0)]
        if part.empty:
            continue
        top = part.iloc[int(np.argmax(part["share"].to_numpy(float)))]
        modes.append(f"{_role_name(role)} {int(top['score'])} ({PCT_FMT.format(top['share'])}%)")
    finding = (
        "the most common answer shown is " + ", ".join(modes)
        if modes
        else "every score with answers is suppressed"
    )
    sec.add_figure(
        fig,
        alt=f"Bar chart of the 0-10 answers to the recommend question by role; {finding}.",
        caption=(
            "Share of each role's answers at each score; dotted lines separate "
            "detractors (0-6), passives (7-8) and promoters (9-10)."
            + (f" {n_hidden} suppressed score(s) have no bar." if n_hidden else "")
        ),
        data=frame.assign(role=frame["role"].map(_role_name)),
        labels={"role": "Role", "score": "Score", "answers": "Answers", "share": "Share %"},
        number_formats={"share": PCT_FMT},
    )


def _split_bar(sec: Section, ctx: Context, roles: list[str]) -> None:
    """Stacked promoter / passive / detractor bars of the roles whose split is all shown.

    A role with a hidden category gets no bar: a segment's position in a stacked bar
    would give away the hidden shares before it.
    """
    whole, partial = [], []
    parts = []
    for role in roles:
        shown = ctx.shown(_P + f"categories:{role}").set_index("category")
        split = ctx.planned[_P + f"categories:{role}"].set_index("category")
        if shown["suppressed"].astype(bool).any():
            partial.append(role)
            continue
        whole.append(role)
        # Empty categories are not registered: they hold no one (0%).
        parts.append(split.reset_index().assign(role=role))
    if partial:
        sec.add_note(
            "The promoter split of "
            + ", ".join(_role_name(r) for r in partial)
            + " is partly suppressed (a category with too few answers): no bar is drawn; "
            "the categories that may be shown are in the table below.",
            kind="warning",
        )
        rows = [
            ctx.shown(_P + f"categories:{role}").assign(role=role)[
                ["role", "category", "answers", "share", "suppressed"]
            ]
            for role in partial
        ]
        table = pd.concat(rows, ignore_index=True)
        table = table.assign(
            role=table["role"].map(_role_name), category=table["category"].map(CATEGORY_NAME)
        )
        add_table(
            sec,
            ctx,
            table,
            caption="Promoter split of the roles with a suppressed category",
            labels={
                "role": "Role",
                "category": "Category",
                "answers": "Answers",
                "share": "Share %",
                "suppressed": "",
            },
            number_formats={"share": PCT_FMT},
        )
    if not whole:
        return
    frame = pd.concat(parts, ignore_index=True)
    fig, ax = new_figure(FIG_WIDTH, 0.9 + 0.5 * len(whole))
    ys = np.arange(len(whole))[::-1]
    for y, role in zip(ys, whole, strict=True):
        left = 0.0
        for cat in CATEGORIES:
            mine = frame.loc[(frame["role"] == role) & (frame["category"] == cat), "share"]
            share = as_float(mine.iloc[0])
            ax.barh(
                y,
                share,
                left=left,
                color=CATEGORY_COLOR[cat],
                label=CATEGORY_NAME[cat] if y == ys[0] else None,
            )
            if share >= 6:
                ax.text(
                    left + share / 2,
                    y,
                    f"{share:.0f}%",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="white",
                )
            left += share
    ax.set_yticks(ys, [INSTRUMENT_NAME[r] for r in whole])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the role's answers")
    ax.legend(
        frameon=False, fontsize="small", ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0)
    )
    said = []
    for role in whole:
        mine = frame.loc[frame["role"] == role].set_index("category")["share"]
        said.append(
            f"{_role_name(role)} {PCT_FMT.format(mine['promoter'])}% promoters and "
            f"{PCT_FMT.format(mine['detractor'])}% detractors"
        )
    data = frame[["role", "category", "answers", "share"]].assign(
        role=frame["role"].map(_role_name), category=frame["category"].map(CATEGORY_NAME)
    )
    sec.add_figure(
        fig,
        alt="Stacked bars of promoters, passives and detractors by role: " + "; ".join(said) + ".",
        caption="Promoters, passives and detractors as shares of each role's answers.",
        data=data,
        labels={"role": "Role", "category": "Category", "answers": "Answers", "share": "Share %"},
        number_formats={"share": PCT_FMT},
    )


def _items(sec: Section, ctx: Context) -> list[str]:
    """The item means; returns the roles whose every item mean is shown."""
    sec.add_heading("Core questions: mean score by role")
    names: list[str] = ctx.planned.get(_P + "items", [])
    if not names:
        sec.add_note(
            "No answers to the core questions (instrument 'hx_core', items "
            f"{', '.join(HX_ITEMS)}) in the data: item means and key drivers need them."
        )
        return []
    _wording(sec, ctx)
    frame = pd.concat([ctx.shown(name) for name in names], ignore_index=True)
    hidden = frame["suppressed"].astype(bool)
    shown = frame.loc[~hidden]
    if not shown.empty:
        fig, ax = new_figure(FIG_WIDTH, 1.0 + 0.45 * len(HX_ITEMS))
        plot_estimates(
            shown.assign(role=shown["role"].map(_role_name))[
                ["item", "role", "estimate", "ci_low", "ci_high"]
            ],
            estimate="estimate",
            by="item",
            hue="role",
            n=None,
            xlabel="Mean score (higher is better)",
            ax=ax,
        )
        best = shown.iloc[int(np.argmax(shown["estimate"].to_numpy(float)))]
        worst = shown.iloc[int(np.argmin(shown["estimate"].to_numpy(float)))]
        sec.add_figure(
            fig,
            alt=(
                f"Dot plot of the core questions' means by role with {level(ctx.confidence)} "
                f"intervals: highest {best['item']} for {_role_name(str(best['role']))} "
                f"({as_float(best['estimate']):.2f}), lowest {worst['item']} for "
                f"{_role_name(str(worst['role']))} ({as_float(worst['estimate']):.2f})."
            ),
            data=shown.assign(role=shown["role"].map(_role_name))[
                ["item", "role", "n", "estimate", "ci_low", "ci_high"]
            ],
            labels={**_ITEM_LABELS, "ci_low": f"{level(ctx.confidence)} CI from"},
            number_formats=ci_formats("estimate", "{:.2f}"),
        )
    table = frame.assign(role=frame["role"].map(_role_name))[
        ["role", "item", "n", "estimate", "ci_low", "ci_high", "suppressed"]
    ]
    add_table(
        sec,
        ctx,
        table,
        caption="Core questions: mean score by role",
        labels={**_ITEM_LABELS, "suppressed": "Suppressed"},
        number_formats=ci_formats("estimate", "{:.2f}"),
    )
    if (shown.groupby("item")["role"].nunique() > 1).any():
        sec.add_text(_item_differences(shown))
    said = ctx.notes.get(("distributions", "items"))
    if said and not shown.empty:
        sec.add_note(" ".join(said))
    if hidden.any():
        roles = sorted({_role_name(str(r)) for r in frame.loc[hidden, "role"]})
        sec.add_note(
            f"Suppressed item means ({int(hidden.sum())}): too few answers, or hidden with "
            f"such a group ({', '.join(roles)}); they are neither drawn nor compared.",
            kind="warning",
        )
    roles_hidden = set(frame.loc[hidden, "role"].astype("str"))
    return sorted(set(frame["role"].astype("str")) - roles_hidden)


def _wording(sec: Section, ctx: Context) -> None:
    """The core questions as asked, from the report's catalogue or the built-in bank."""
    catalogue = ctx.catalogue
    source = "the instrument catalogue given to the report"
    if catalogue is None or "hx_core" not in tuple(catalogue.instruments):
        catalogue = load_bank("core")
        source = "the built-in 'core' bank (answers to another wording may differ)"
    asked = {it.item: it for it in catalogue.items_of("hx_core")}
    lines = [f"{item}: {asked[item].wording}" for item in HX_ITEMS if item in asked]
    if not lines:
        return
    first = asked[next(i for i in HX_ITEMS if i in asked)]
    scale = ""
    if first.has_scale:
        scale = f", answered from {first.scale_min:g} to {first.scale_max:g}"
        if len(first.labels) >= 2:
            scale += f" ({first.labels[0]} to {first.labels[-1]})"
    sec.add_text(f"The core questions, as worded in {source}{scale}:")
    sec.add_list(lines)


_ITEM_LABELS = {
    "item": "Question",
    "role": "Role",
    "n": "Answers",
    "estimate": "Mean",
    "ci_low": "CI from",
    "ci_high": "to",
}


def non_overlapping(shown: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Per item, pairs of shown roles whose intervals do not overlap (higher first)."""
    pairs = []
    for item in HX_ITEMS:
        rows = shown.loc[shown["item"] == item]
        rows = rows.loc[rows["ci_low"].notna() & rows["ci_high"].notna()]
        recs = rows.to_dict("records")
        for i, a in enumerate(recs):
            for b in recs[i + 1 :]:
                hi, lo = (a, b) if a["estimate"] > b["estimate"] else (b, a)
                if float(lo["ci_high"]) < float(hi["ci_low"]):
                    pairs.append((item, str(hi["role"]), str(lo["role"])))
    return pairs


def _item_differences(shown: pd.DataFrame) -> str:
    pairs = non_overlapping(shown)
    if not pairs:
        return (
            "Among the means shown, no two roles' intervals on the same question are apart: "
            "no difference between roles is clear."
        )
    said = "; ".join(f"{item}: {_role_name(hi)} above {_role_name(lo)}" for item, hi, lo in pairs)
    return (
        "Differences between roles whose intervals do not overlap (among the means shown): "
        f"{said}. Other differences may be chance."
    )


def _drivers(sec: Section, ctx: Context, roles_shown: set[str]) -> None:
    """Key drivers per role: only for roles whose answers are shown above too.

    A role whose 0-10 answers or item means are hidden gets no drivers even when its
    respondents' cell is shown: hiding more than the disclosure asks is always safe,
    and the reader never sees a role's drivers without its answers.
    """
    sec.add_heading("Key drivers of the recommend score")
    done: dict[str, bool] = ctx.planned.get(_P + "drivers", {})
    few: list[str] = ctx.planned.get(_P + "drivers_few", [])
    failed: dict[str, str] = ctx.planned.get(_P + "drivers_failed", {})
    if _P + "drivers_error" in ctx.planned:
        sec.add_note(
            "Key drivers could not be computed: the recommend and core answers could not "
            "be put side by side, one row per response "
            f"({ctx.planned[_P + 'drivers_error']}; an item answered twice in one response?)."
        )
        return
    if not done and not few and not failed:
        sec.add_note(
            "Key drivers need answers to the recommend question and to the core "
            "questions in the same response; the data have none."
        )
        return
    sec.add_text(
        "The outcome is the 0-10 recommend answer; the drivers are the six core "
        "questions answered in the same response (complete answers only, unweighted). "
        f"Importance is each question's Shapley share of R² with a {level(ctx.confidence)} "
        "bootstrap interval; performance is its mean. The quadrant lines are at the "
        "medians of the role's six questions (importance and performance)."
    )
    hidden = []
    for role in ROLES:
        if role not in done:
            continue
        result = ctx.shown(_P + f"drivers:{role}")
        if result["suppressed"].astype(bool).any() or role not in roles_shown:
            hidden.append(role)
            continue
        _role_drivers(sec, ctx, role, result)
    for role in few:
        n = ctx.count(_P + f"drivers_n:{role}")
        amount = "too few" if n is None else f"only {n}"
        sec.add_note(
            f"No key drivers for {_role_name(role)}: {amount} complete respondents "
            f"(at least {driver_floor(ctx):,} are needed, ten per question)."
        )
    for role in ROLES:
        if role in failed and role in roles_shown:
            sec.add_note(
                f"No key drivers for {_role_name(role)}: the questions cannot be told apart "
                f"in its answers ({failed[role]}: a question answered alike by everyone, or "
                "questions that move together exactly)."
            )
    if hidden:
        sec.add_note(
            "Key drivers suppressed (too few respondents, or hidden with such a group): "
            + ", ".join(_role_name(r) for r in hidden)
            + ".",
            kind="warning",
        )


def quadrant(result: pd.DataFrame) -> pd.DataFrame:
    """Each driver's quadrant, split at the medians of importance and performance."""
    weight = result["estimate"].to_numpy(float)
    mean = result["driver_mean"].to_numpy(float)
    high_w = weight >= np.median(weight)
    high_m = mean >= np.median(mean)
    labels = np.select(
        [high_w & ~high_m, high_w & high_m, ~high_w & ~high_m],
        ["act first", "keep up", "low priority"],
        "maintain",
    )
    return result.assign(quadrant=labels)


def _role_drivers(sec: Section, ctx: Context, role: str, result: pd.DataFrame) -> None:
    frame = quadrant(result.sort_values("rank", kind="stable").reset_index(drop=True))
    first = frame.iloc[0]
    sec.add_heading(f"Key drivers: {_role_name(role)}")
    fig, ax = new_figure(FIG_WIDTH, 3.4)
    x = frame["driver_mean"].to_numpy(float)
    y = frame["estimate"].to_numpy(float)
    low = y - frame["ci_low"].to_numpy(float)
    high = frame["ci_high"].to_numpy(float) - y
    ax.errorbar(x, y, yerr=np.vstack([low, high]), fmt="o", color=ROLE_COLORS[role], capsize=3)
    for xi, yi, name in zip(x, y, frame["driver"].astype(str), strict=True):
        ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize="small")
    ax.axvline(float(np.median(x)), linestyle="--", linewidth=0.8, color="grey")
    ax.axhline(float(np.median(y)), linestyle="--", linewidth=0.8, color="grey")
    for cx, cy, text, ha, va in (
        (0.01, 0.99, "act first", "left", "top"),
        (0.99, 0.99, "keep up", "right", "top"),
        (0.01, 0.01, "low priority", "left", "bottom"),
        (0.99, 0.01, "maintain", "right", "bottom"),
    ):
        ax.text(
            cx, cy, text, transform=ax.transAxes, ha=ha, va=va, fontsize="x-small", color="grey"
        )
    ax.set_xlabel("Performance (mean score)")
    ax.set_ylabel("Importance (Shapley share of R²)")
    act = frame.loc[frame["quadrant"] == "act first", "driver"].astype(str).tolist()
    alt = (
        f"Importance x performance quadrant of the core questions for {_role_name(role)}: "
        f"{first['driver']} matters most ({as_float(first['pct_of_r2']):.1f}% of R²); "
        + ("act first on " + ", ".join(act) if act else "no question is in the act-first quadrant")
        + "."
    )
    data = frame[["driver", "estimate", "ci_low", "ci_high", "driver_mean", "quadrant"]]
    sec.add_figure(
        fig,
        alt=alt,
        caption="Dashed lines: medians of the six questions' importance and performance.",
        data=data,
        labels={
            "driver": "Question",
            "estimate": "Importance",
            "ci_low": f"{level(ctx.confidence)} CI from",
            "ci_high": "to",
            "driver_mean": "Performance",
            "quadrant": "Quadrant",
        },
        number_formats={**ci_formats("estimate", "{:.3f}"), "driver_mean": "{:.2f}"},
    )
    table = frame.assign(
        ranks=[
            f"{int(a)}-{int(b)}" for a, b in zip(frame["rank_low"], frame["rank_high"], strict=True)
        ]
    )[
        [
            "driver",
            "estimate",
            "ci_low",
            "ci_high",
            "pct_of_r2",
            "rank",
            "ranks",
            "driver_mean",
            "quadrant",
        ]
    ]
    add_table(
        sec,
        ctx,
        table,
        caption=(
            f"Key drivers for {_role_name(role)}: {int(first['n']):,} respondents, R² "
            f"{as_float(first['r2']):.3f} ({as_float(first['r2_ci_low']):.3f} to "
            f"{as_float(first['r2_ci_high']):.3f})"
        ),
        labels={
            "driver": "Question",
            "estimate": "Importance",
            "ci_low": "CI from",
            "ci_high": "to",
            "pct_of_r2": "% of R²",
            "rank": "Rank",
            "ranks": "Rank could be",
            "driver_mean": "Performance",
            "quadrant": "Quadrant",
        },
        number_formats={
            **ci_formats("estimate", "{:.3f}"),
            "pct_of_r2": PCT_FMT,
            "driver_mean": "{:.2f}",
        },
    )
    said = ctx.notes.get(("distributions:drivers", role))
    if said:
        sec.add_note(" ".join(said))
