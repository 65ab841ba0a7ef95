"""One protocol for every grouped measure (issue 11), tested once over all of them.

Like scikit-learn's ``metrics/tests/test_common.py``: :data:`CASES` lists every grouped
measure of :mod:`hxmetrics.measures` with a small table for it, and each test below
runs over all of them: the columns and their order, one dtype per column (with or
without ``min_n``), ``attrs["hxmetrics"]``, suppression, :func:`compare_groups`,
:func:`plot_estimates`, the merge of partial statistics (where the measure has them),
and the same result on every engine (pandas, Polars eager and lazy, DuckDB, PyArrow;
Spark when pyspark and Java are there). A new grouped measure is one more case.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import HxWarning
from hxmetrics.measures._engine import merge_partials
from hxmetrics.measures._result import PROTOCOL_COLUMNS, is_result, result_meta
from hxmetrics.measures.index import hx_index
from hxmetrics.measures.registry import MEASURES
from hxmetrics.measures.segments import compare_groups
from hxmetrics.plotting import new_figure, plot_estimates

from .conftest import ENGINES, SPARK_PANDAS_WARNING, to_engine

# ``hxmetrics.measures`` exports functions named like these modules.
reliability = importlib.import_module("hxmetrics.measures.reliability")
tenure = importlib.import_module("hxmetrics.measures.tenure")

#: Group sizes: "tiny" is below MIN_N; complementary suppression hides the smallest
#: other group ("east"); "north" and "south" stay shown, so there is a pair to compare.
SIZES = {"east": 30, "north": 40, "south": 35, "tiny": 3}
MIN_N = 5
BY = ("segment",)
ITEMS = ["hx1", "hx2", "hx3", "hx4"]


@dataclass(frozen=True)
class Case:
    """A grouped measure as the shared tests run it.

    ``compute(data, min_n=...)`` gives the result grouped by ``by``; ``data()`` the
    pandas table it takes. With ``statistics``/``finish``, ``finish(statistics(part)
    merged, min_n=...)`` equals ``compute`` on the whole.
    """

    name: str
    compute: Callable[..., pd.DataFrame]
    data: Callable[[], pd.DataFrame]
    by: tuple[str, ...] = BY
    statistics: Callable[[Any], pd.DataFrame] | None = None
    finish: Callable[..., pd.DataFrame] | None = None
    #: Rows of one unit that a piece must not split (a response's answers in long data).
    rows_per_unit: int = 1
    #: Columns adjusted over the family of shown comparisons (Holm, BH): a hidden group
    #: leaves the family, so these differ from the unsuppressed result by design.
    family_columns: tuple[str, ...] = ()
    #: Why the Spark test does not apply (None: it does).
    not_on_spark: str | None = None


@cache
def _scores(values: tuple[float, ...]) -> pd.DataFrame:
    """One answer per row: ``score`` drawn from ``values``, a few missing, ``segment``."""
    rng = np.random.default_rng(11)
    segments = np.repeat(list(SIZES), list(SIZES.values()))
    scores = rng.choice(np.asarray(values), size=len(segments))
    frame = pd.DataFrame({"segment": segments, "score": scores.astype(float)})
    # Missing answers in a shown group and in the hidden one (n_excluded_missing).
    frame.loc[[0, 40, 41, len(frame) - 1], "score"] = np.nan
    return frame


@cache
def _long_items() -> pd.DataFrame:
    """Long answers (response, item, score) of four correlated 1-5 items."""
    rng = np.random.default_rng(3)
    rows = []
    rid = 0
    for segment, size in SIZES.items():
        for _ in range(size):
            rid += 1
            latent = rng.normal()
            for item in ITEMS:
                value = float(np.clip(np.round(3 + latent + rng.normal(scale=0.6)), 1, 5))
                rows.append((f"R{rid:04d}", segment, item, value))
    frame = pd.DataFrame(rows, columns=["response_id", "segment", "item", "score"])
    return frame


@cache
def _episodes() -> pd.DataFrame:
    """Worker episodes with a segment; some ended, some still open."""
    rng = np.random.default_rng(5)
    rows = []
    for segment, size in SIZES.items():
        for i in range(size):
            start = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
            ended = rng.random() < 0.7
            end = start + pd.Timedelta(days=int(rng.integers(30, 900))) if ended else pd.NaT
            rows.append((f"{segment}{i}", "worker", "full_time", start, end, segment))
            if ended and rng.random() < 0.3:  # some come back
                back = end + pd.Timedelta(days=int(rng.integers(30, 200)))
                rows.append((f"{segment}{i}", "worker", "full_time", back, pd.NaT, segment))
    return pd.DataFrame(
        rows, columns=["person_id", "role", "engagement", "start", "end", "segment"]
    )


def _registered(name: str) -> Case:
    measure = MEASURES[name]

    def compute(data: Any, *, min_n: int | None) -> pd.DataFrame:
        return measure.function(data, "score", by=list(BY), min_n=min_n)

    def statistics(data: Any) -> pd.DataFrame:
        return measure.statistics(data, "score", by=list(BY))

    def finish(stats: pd.DataFrame, *, min_n: int | None) -> pd.DataFrame:
        return measure.finish(stats, min_n=min_n)

    return Case(
        name, compute, lambda: _scores(measure.values), statistics=statistics, finish=finish
    )


def _hx_index(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return hx_index(data, ITEMS, by="segment", n_resamples=200, random_state=1, min_n=min_n)


def _alpha(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return reliability.cronbach_alpha(data, items=ITEMS, by="segment", min_n=min_n)


def _omega(data: Any, *, min_n: int | None) -> pd.DataFrame:
    if min_n is None:
        with pytest.warns(HxWarning, match="segment='tiny': no estimate"):
            return reliability.mcdonald_omega(data, items=ITEMS, by="segment", min_n=min_n)
    return reliability.mcdonald_omega(data, items=ITEMS, by="segment", min_n=min_n)


def _alpha_statistics(data: Any) -> pd.DataFrame:
    return reliability.cronbach_alpha_statistics(data, items=ITEMS, by="segment")


def _alpha_finish(stats: pd.DataFrame, *, min_n: int | None) -> pd.DataFrame:
    return reliability.cronbach_alpha_from_statistics(stats, items=ITEMS, min_n=min_n)


def _omega_statistics(data: Any) -> pd.DataFrame:
    return reliability.mcdonald_omega_statistics(data, items=ITEMS, by="segment")


def _omega_finish(stats: pd.DataFrame, *, min_n: int | None) -> pd.DataFrame:
    if min_n is None:
        with pytest.warns(HxWarning, match="segment='tiny': no estimate"):
            return reliability.mcdonald_omega_from_statistics(stats, items=ITEMS, min_n=min_n)
    return reliability.mcdonald_omega_from_statistics(stats, items=ITEMS, min_n=min_n)


def _reliability(data: Any, *, min_n: int | None) -> pd.DataFrame:
    if min_n is None:
        # Shown, the tiny group (3 people, 4 items) has no omega, and says so.
        with pytest.warns(HxWarning, match="segment='tiny': no estimate"):
            return reliability.reliability(data, items=ITEMS, by="segment", min_n=min_n)
    return reliability.reliability(data, items=ITEMS, by="segment", min_n=min_n)


def _median_tenure(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return tenure.median_tenure(data, as_of="2022-06-30", by="segment", min_n=min_n)


def _boomerang(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return tenure.boomerang_summary(data, as_of="2022-06-30", by="segment", min_n=min_n)


def _whole_seconds(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Times floored to the second: Spark holds microseconds, and refuses to truncate."""
    for column in columns:
        frame[column] = frame[column].dt.floor("s")
    return frame


# Responsiveness (issue 14): tickets with a segment; some unanswered, some opened after
# as_of (n_excluded_opened_after_as_of), one SLA target.
_resp = importlib.import_module("hxmetrics.measures.responsiveness.tickets")


@cache
def _tickets() -> pd.DataFrame:
    """Tickets per segment: hours to first answer and to closing; some still open."""
    rng = np.random.default_rng(7)
    rows = []
    start = pd.Timestamp("2025-01-01")
    for segment, size in SIZES.items():
        for i in range(size):
            opened = start + pd.Timedelta(hours=float(rng.uniform(0, 24 * 62)))
            answer = opened + pd.Timedelta(hours=float(rng.lognormal(2, 1)))
            closed = answer + pd.Timedelta(hours=float(rng.lognormal(3, 1)))
            reopened = int(rng.random() < 0.1)
            rows.append((f"K{segment}{i}", segment, opened, answer, closed, reopened, "high"))
    columns = ["ticket_id", "segment", "opened", "first_response", "closed", "reopened"]
    frame = pd.DataFrame(rows, columns=[*columns, "severity"])
    return _whole_seconds(frame, ["opened", "first_response", "closed"])


def _responsiveness(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return _resp.responsiveness(
        data, by="segment", as_of="2025-03-01", sla={"high": "12h"}, min_n=min_n
    )


def _sla_attainment(data: Any, *, min_n: int | None) -> pd.DataFrame:
    return _resp.sla_attainment(
        data, {"high": "12h"}, by="segment", as_of="2025-03-01", min_n=min_n
    )


# The closed loop (issue 14): three NPS answers per person (days 0, 30, 60); "tiny" has
# one person, so that at most three triggers fall below MIN_N.
_loop = importlib.import_module("hxmetrics.measures.responsiveness.closed_loop")
CL_SIZES = {"east": 30, "north": 40, "south": 35, "tiny": 1}


@cache
def _cl_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """NPS answers per segment and follow-ups of most detractor answers.

    Levels N(4.5, 1.5) make most answers detractors (0-6); three in four detractor
    answers are followed up after U(0, 60) h, so most within the 48 h window: the
    median time to follow-up is reached and both arms of the effect keep MIN_N people
    in every group but the tiny one.
    """
    rng = np.random.default_rng(14)
    segments = np.repeat(list(CL_SIZES), list(CL_SIZES.values()))
    people = len(segments)
    ids = np.array([f"p{i:03d}" for i in range(people)])
    level = rng.normal(4.5, 1.5, people)
    t0 = pd.Timestamp("2024-01-01")
    scores, stamps = [], []
    for day in (0, 30, 60):
        scores.append(np.clip(np.round(level + rng.normal(0, 1.2, people)), 0, 10))
        hours = rng.uniform(0, 20, people)
        stamps.append(t0 + pd.to_timedelta(day * 24 + hours, "h"))
    score = np.concatenate(scores)
    timestamp = pd.DatetimeIndex(np.concatenate([np.asarray(s) for s in stamps]))
    responses = pd.DataFrame(
        {
            "response_id": [f"r{i:04d}" for i in range(3 * people)],
            "silo": "customers",
            "source_id": np.tile(ids, 3),
            "instrument": "nps",
            "item": "ltr",
            "score": score,
            "timestamp": timestamp,
            "segment": np.tile(segments, 3),
        }
    )
    chosen = (score <= 6) & (rng.random(len(score)) < 0.75)
    delay = pd.to_timedelta(rng.uniform(0, 60, len(score)), "h")
    followups = pd.DataFrame(
        {
            "silo": "customers",
            "source_id": responses["source_id"].to_numpy()[chosen],
            "timestamp": (timestamp + delay)[chosen],
        }
    )
    return _whole_seconds(responses, ["timestamp"]), _whole_seconds(followups, ["timestamp"])


def _cl_responses() -> pd.DataFrame:
    return _cl_data()[0]


def _same_engine(data: Any, frame: pd.DataFrame) -> Any:
    """``frame`` on the engine of ``data``: the two tables of a measure come from one place.

    (On Spark, times are instants: a Spark table's timestamps come back with a time
    zone, and closed_loop refuses to compare them with a pandas table's naive ones.)
    """
    module = type(data).__module__.split(".")[0]
    if module == "pyspark":
        return data.sparkSession.createDataFrame(frame)
    if module == "polars":
        return to_engine(frame, "polars_lazy" if type(data).__name__ == "LazyFrame" else "polars")
    if module in ("duckdb", "pyarrow"):
        return to_engine(frame, module)
    return frame


def _closed_loop(table: str, design: str = "did") -> Case:
    def compute(data: Any, *, min_n: int | None) -> pd.DataFrame:
        out = _loop.closed_loop(
            data,
            _same_engine(data, _cl_data()[1]),
            by="segment",
            as_of="2024-06-30",
            design=design,
            min_n=min_n,
        )
        result: pd.DataFrame = getattr(out, table)
        return result

    return Case(f"closed_loop_{table}_{design}", compute, _cl_responses)


# The issue-to-resolution chain (issue 14): status histories with a segment and the team
# holding the ticket; some tickets loop back, pause, are still open at as_of, or open
# after it (n_excluded_tickets_opened_after_as_of, n_excluded_events_after_as_of).
_itr = importlib.import_module("hxmetrics.measures.responsiveness.itr")
ITR_STAGES = ["opened", "triaged", "in_progress", "resolved", "closed"]
ITR_PAUSE = ["waiting_on_customer"]
ITR_AS_OF = pd.Timestamp("2024-02-01")
#: Group sizes of the chain. The team table crosses segment, stage and team: a tiny
#: segment in only some of its cells makes complementary suppression (relation by
#: relation, then the audit) spread to every row; a tiny segment in every cell of its
#: plane takes one plane with it, the smallest other segment's ("east").
ITR_SIZES = {"east": 20, "north": 40, "south": 40, "tiny": 4}


@cache
def _ticket_events() -> pd.DataFrame:
    """One row per status change: ticket_id, status, timestamp, team, segment."""
    rng = np.random.default_rng(21)
    rows = []
    t0 = pd.Timestamp("2024-01-01")
    for segment, size in ITR_SIZES.items():
        for i in range(size):
            ticket = f"T{segment}{i}"
            # The tiny segment: early, triaged, each team in turn, no hand-over; two of
            # its tickets still open (a segment without open tickets, n = 0 on every
            # stall row, makes the suppression audit hide every row: see the report).
            tiny = segment == "tiny"
            # Hours after t0; a few tickets open after as_of.
            clock = float(rng.uniform(0, 24 * (5 if tiny else 33)))
            steps = [("opened", "desk")]
            if tiny or rng.random() < 0.8:  # some skip triage
                steps.append(("triaged", "desk"))
            worker = ("tier1", "tier2")[i % 2] if tiny else str(rng.choice(["tier1", "tier2"]))
            steps.append(("in_progress", worker))
            if not tiny and rng.random() < 0.3:  # the clock stops; another team may resume
                steps.append(("waiting_on_customer", worker))
                worker = str(rng.choice(["tier1", "tier2"]))
                steps.append(("in_progress", worker))
            steps.append(("resolved", worker))
            if rng.random() < 0.15:  # sent back: rework from resolved
                steps += [("in_progress", worker), ("resolved", worker)]
            steps.append(("closed", "desk"))
            for status, team in steps:
                if tiny and i >= 2 and status == "closed":  # two tiny tickets still open
                    clock = (ITR_AS_OF - t0) / pd.Timedelta(hours=1) + 24
                rows.append((ticket, status, t0 + pd.Timedelta(hours=clock), team, segment))
                clock += float(rng.exponential(60))
    columns = ["ticket_id", "status", "timestamp", "team", "segment"]
    return _whole_seconds(pd.DataFrame(rows, columns=columns), ["timestamp"])


def _itr_stages(table: str) -> Case:
    def compute(data: Any, *, min_n: int | None) -> pd.DataFrame:
        out = _itr.itr_stages(
            data,
            stages=ITR_STAGES,
            pause=ITR_PAUSE,
            by="segment",
            as_of=ITR_AS_OF,
            min_n=min_n,
        )
        result: pd.DataFrame = getattr(out, table)
        return result

    by = ("segment", "stage", "held_by") if table == "teams" else ("segment", "stage")
    return Case(f"itr_stages_{table}", compute, _ticket_events, by=by)


# Trends (issue 15): NPS by segment over two months; the month-on-month change is
# adjusted over the shown comparisons (Holm), so hidden ones leave the family.
_trends = importlib.import_module("hxmetrics.measures.trends")


@cache
def _trend_data() -> pd.DataFrame:
    frame = _scores(tuple(float(v) for v in range(11))).copy()
    months = np.where(np.arange(len(frame)) % 2 == 0, "2025-01-10", "2025-02-10")
    frame["timestamp"] = pd.to_datetime(months)
    return frame


def _trend(data: Any, *, min_n: int | None) -> pd.DataFrame:
    result: pd.DataFrame = _trends.trend(data, "nps", by="segment", min_n=min_n)
    return result


# Response rates (issue 17): invitations by segment, AAPOR RR2 (partials count).
_rates = importlib.import_module("hxmetrics.measures.response_rates")


@cache
def _rr_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(17)
    segments = np.repeat(list(SIZES), list(SIZES.values()))
    k = len(segments)
    invitations = pd.DataFrame(
        {
            "invitation_id": [f"i{j}" for j in range(k)],
            "silo": "customers",
            "source_id": [f"C{j}" for j in range(k)],
            "instrument": "pulse",
            "sent": pd.Timestamp("2024-01-01"),
            "segment": segments,
            "eligibility": rng.choice(["eligible"] * 3 + ["unknown", "ineligible"], size=k),
        }
    )
    answered = rng.choice([0, 0, 1, 2, 3], size=k)
    rows = [(f"r{j}", f"C{j}", f"q{q}", f"i{j}") for j in range(k) for q in range(answered[j])]
    responses = pd.DataFrame(
        rows, columns=["response_id", "source_id", "item", "invitation_id"]
    ).assign(silo="customers", instrument="pulse", score=3.0, timestamp=pd.Timestamp("2024-01-05"))
    return invitations, responses


def _response_rate(data: Any, *, min_n: int | None) -> pd.DataFrame:
    result: pd.DataFrame = _rates.response_rates(
        data,
        _rr_tables()[1],
        by="segment",
        eligibility="eligibility",
        definition="RR2",
        min_n=min_n,
    )
    return result


# Behaviour signals (issue 15): a summary of one per-person signal by segment.
_behaviour = importlib.import_module("hxmetrics.measures.behaviour")


@cache
def _profile() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    segments = np.repeat(list(SIZES), list(SIZES.values()))
    frame = pd.DataFrame({"segment": segments, "recency_days": rng.gamma(2.0, 30.0, len(segments))})
    frame.loc[[0, 40, 41, len(frame) - 1], "recency_days"] = np.nan
    return frame


def _behaviour_summary(data: Any, *, min_n: int | None) -> pd.DataFrame:
    result: pd.DataFrame = _behaviour.behaviour_summary(
        data, by="segment", signals=["recency_days"], statistics=["mean"], min_n=min_n
    )
    return result


# Key drivers (issue 16): two drivers of an outcome, relative weights by segment.
_drivers = importlib.import_module("hxmetrics.measures.drivers")


@cache
def _driver_data() -> pd.DataFrame:
    rng = np.random.default_rng(23)
    segments = np.repeat(list(SIZES), list(SIZES.values()))
    x1, x2 = rng.normal(size=(2, len(segments)))
    y = 0.6 * x1 + 0.3 * x2 + rng.normal(size=len(segments))
    frame = pd.DataFrame({"segment": segments, "y": y, "x1": x1, "x2": x2})
    frame.loc[[0, 40], "x2"] = np.nan  # rows with a missing driver: counted, not used
    return frame


def _key_drivers(data: Any, *, min_n: int | None) -> pd.DataFrame:
    result: pd.DataFrame = _drivers.key_drivers(
        data, "y", ["x1", "x2"], by="segment", n_resamples=200, random_state=1, min_n=min_n
    )
    return result


# Touchpoints and journeys (issue 15): events of persons by segment at two touchpoints
# ("tiny": app only), and one likelihood-to-recommend answer per person.
_touchpoints = importlib.import_module("hxmetrics.measures.touchpoints")
_journeys = importlib.import_module("hxmetrics.measures.journeys")


@cache
def _tp_events() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    rows = []
    t0 = pd.Timestamp("2025-01-01")
    for segment, size in SIZES.items():
        for i in range(size):
            for _ in range(int(rng.integers(1, 6))):
                tp = ["app", "web"][int(rng.integers(0, 2))] if segment != "tiny" else "app"
                at = t0 + pd.Timedelta(hours=float(rng.uniform(0, 24 * 60)))
                rows.append((f"{segment}{i}", segment, at, tp))
    frame = pd.DataFrame(rows, columns=["person_id", "segment", "timestamp", "touchpoint"])
    return _whole_seconds(frame, ["timestamp"])


@cache
def _tp_answers() -> pd.DataFrame:
    rng = np.random.default_rng(10)
    persons = _tp_events().drop_duplicates("person_id")
    return pd.DataFrame(
        {
            "person_id": persons["person_id"].to_numpy(),
            "segment": persons["segment"].to_numpy(),
            "timestamp": pd.Timestamp("2025-03-15"),
            "item": "ltr",
            "score": rng.integers(0, 11, len(persons)).astype(float),
        }
    )


def _touchpoint_case(table: str) -> Case:
    def compute(data: Any, *, min_n: int | None) -> pd.DataFrame:
        summary = _touchpoints.touchpoint_summary(
            data, _tp_answers(), by=("touchpoint", "segment"), window="90D", min_n=min_n
        )
        result: pd.DataFrame = getattr(summary, table)
        return result

    return Case(f"touchpoints_{table}", compute, _tp_events, by=("touchpoint", "segment"))


def _journeys_case(table: str) -> Case:
    def compute(data: Any, *, min_n: int | None) -> pd.DataFrame:
        out = _journeys.journeys(
            data,
            by="segment",
            outcome=_tp_answers(),
            outcome_window="90D",
            gap="2h",
            min_n=min_n,
        )
        result: pd.DataFrame = getattr(out, table)
        return result

    by = ("segment",) if table == "sessions" else ("segment", "touchpoint")
    return Case(f"journeys_{table}", compute, _tp_events, by=by)


# Comments (issue 16): short comments by segment, a few empty, each with a linked
# likelihood to recommend; two caller-defined themes.
_text = importlib.import_module("hxmetrics.measures.text")
TEXT_THEMES = {"queue": "queue", "staff": "staff"}


@cache
def _comments() -> pd.DataFrame:
    rng = np.random.default_rng(31)
    segments = np.repeat(list(SIZES), list(SIZES.values()))
    phrases = np.array(
        [
            "the queue was long and slow",
            "staff were friendly and helpful",
            "great staff but a terrible queue",
            "nothing to add",
            "the queue moved fast, lovely",
            "rude staff",
        ]
    )
    text = rng.choice(phrases, size=len(segments)).astype(object)
    text[[1, 45]] = ""  # empty comments: counted as excluded
    ltr = rng.integers(0, 11, len(segments)).astype(float)
    return pd.DataFrame(
        {
            "comment_id": [f"m{j}" for j in range(len(segments))],
            "response_id": [f"r{j}" for j in range(len(segments))],
            "segment": segments,
            "text": text,
            "ltr": ltr,
        }
    )


def _sentiment(data: Any, *, min_n: int | None) -> pd.DataFrame:
    result: pd.DataFrame = _text.comment_sentiment(data, by="segment", min_n=min_n).groups
    return result


def _themes(data: Any, *, min_n: int | None) -> pd.DataFrame:
    out = _text.comment_themes(data, themes=TEXT_THEMES, by="segment", min_n=min_n)
    result: pd.DataFrame = out.themes
    return result


def _theme_impact(data: Any, *, min_n: int | None) -> pd.DataFrame:
    scores = _comments()[["response_id", "ltr"]]
    out = _text.theme_impact(
        data, scores, themes=TEXT_THEMES, by="segment", min_n=min_n, n_resamples=0
    )
    result: pd.DataFrame = out.differences
    return result


# The team ledger (issue 15): one team per segment, each owning one touchpoint; the
# period-over-period change is Holm-adjusted over the shown changes.
_ledger = importlib.import_module("hxmetrics.measures.ledger")


@cache
def _ledger_answers() -> pd.DataFrame:
    frame = _scores(tuple(float(v) for v in range(11)))
    n = len(frame)
    return pd.DataFrame(
        {
            "person_id": [f"P{i:04d}" for i in range(n)],
            "role": "customer",
            "touchpoint": "tp_" + frame["segment"].astype(str),
            "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n), unit="h"),
            "instrument": "nps",
            "item": "ltr",
            "score": frame["score"].to_numpy(),
        }
    )


def _team_ledger(data: Any, *, min_n: int | None) -> pd.DataFrame:
    teams = pd.DataFrame(
        {
            "team": list(SIZES),
            "touchpoint": [f"tp_{s}" for s in SIZES],
            "valid_from": pd.Timestamp("2024-01-01"),
            "valid_to": pd.NaT,
        }
    )
    result: pd.DataFrame = _ledger.team_ledger(teams, responses=data, period="Q", min_n=min_n)
    return result


#: Every grouped measure of the package. Adding a measure: add its case here.
CASES: list[Case] = [
    *(_registered(name) for name in sorted(MEASURES)),
    Case("hx_index", _hx_index, _long_items),
    Case(
        "cronbach_alpha",
        _alpha,
        _long_items,
        statistics=_alpha_statistics,
        finish=_alpha_finish,
        rows_per_unit=len(ITEMS),
    ),
    Case(
        "mcdonald_omega",
        _omega,
        _long_items,
        statistics=_omega_statistics,
        finish=_omega_finish,
        rows_per_unit=len(ITEMS),
    ),
    Case("reliability", _reliability, _long_items, by=("segment", "scale")),
    Case("median_tenure", _median_tenure, _episodes),
    Case("boomerang_summary", _boomerang, _episodes),
    Case("responsiveness", _responsiveness, _tickets),
    Case("sla_attainment", _sla_attainment, _tickets, by=("segment", "severity")),
    *(_closed_loop(table) for table in ("share", "time", "effect")),
    _closed_loop("effect", "matching"),
    _closed_loop("effect", "naive"),
    *(_itr_stages(table) for table in ("reach", "time", "rework", "stalls", "teams")),
    Case(
        "trend_nps",
        _trend,
        _trend_data,
        by=("segment", "period"),
        family_columns=("change_p_adjusted",),
    ),
    Case(
        "response_rate",
        _response_rate,
        lambda: _rr_tables()[0],
        # Its second table (responses) stays pandas, with naive times, while Spark
        # gives the invitations' times as UTC instants: response_rates refuses to
        # compare a zoned and a naive clock (check same_time_zone), by design.
        not_on_spark="the responses stay a pandas table with naive times",
    ),
    Case("behaviour_summary", _behaviour_summary, _profile),
    Case("key_drivers", _key_drivers, _driver_data, by=("segment", "driver")),
    *(_touchpoint_case(table) for table in ("reach", "contacts", "lift")),
    *(_journeys_case(table) for table in ("sessions", "removal")),
    Case(
        "team_ledger",
        _team_ledger,
        _ledger_answers,
        by=("team", "period"),
        family_columns=("change_p_holm",),
    ),
    Case("comment_sentiment", _sentiment, _comments),
    Case("comment_themes", _themes, _comments, by=("segment", "theme")),
    Case("theme_impact", _theme_impact, _comments, by=("segment", "theme")),
]
IDS = [case.name for case in CASES]


def _sort_key(column: pd.Series) -> list[Any]:
    """A group column's values as sort keys: category codes if ordered, else text."""
    if isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered:
        return column.cat.codes.tolist()
    return column.astype(str).tolist()


def _float_columns(result: pd.DataFrame) -> list[str]:
    return ["estimate", "se", "ci_low", "ci_high"]


def _count_columns(result: pd.DataFrame) -> list[str]:
    return ["n", *(c for c in result.columns if c.startswith("n_excluded_"))]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_columns_order_and_dtypes(case: Case) -> None:
    # Found (issue 11): estimate columns named nps/csat/ces/mean/hx_index/survival;
    # n int64 without min_n and Int64 with it; exclusions in three shapes.
    for min_n in (None, MIN_N):
        result = case.compute(case.data(), min_n=min_n)
        assert is_result(result)
        by = list(case.by)
        columns = list(result.columns)
        assert columns[: 2 + len(by)] == ["measure", *by, "n"]
        assert columns[1 + len(by) : 6 + len(by)] == ["n", "estimate", "se", "ci_low", "ci_high"]
        assert columns[-1] == "suppressed"
        excluded = [c for c in columns if c.startswith("n_excluded_")]
        assert columns[-1 - len(excluded) : -1] == excluded  # together, before suppressed
        assert len(set(columns)) == len(columns)
        assert isinstance(result.index, pd.RangeIndex)
        assert isinstance(result["measure"].dtype, pd.StringDtype)
        for column in _count_columns(result):
            assert str(result[column].dtype) == "Int64", column
        for column in _float_columns(result):
            assert result[column].dtype == np.float64, column
        assert result["suppressed"].dtype == bool
        shares = [c for c in columns if c.startswith("pct_")]
        for column in shares:  # percentages, not 0-1 shares
            values = result[column].dropna().to_numpy(dtype=float)
            assert np.all((values >= 0) & (values <= 100))
    unsuppressed = case.compute(case.data(), min_n=None)
    suppressed = case.compute(case.data(), min_n=MIN_N)
    # One dtype per column, whatever min_n.
    pd.testing.assert_series_equal(unsuppressed.dtypes, suppressed.dtypes)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_attrs(case: Case) -> None:
    result = case.compute(case.data(), min_n=MIN_N)
    meta = result_meta(result)
    assert meta is not None
    assert meta["estimate"] == "estimate"
    assert meta["by"] == list(case.by)
    assert meta["confidence"] == 0.95
    assert meta["min_n"] == MIN_N
    assert "method" in meta
    names = set(result["measure"].astype(str))
    assert names == {meta["measure"]} or names <= set(meta.get("measures", ()))
    excluded = meta["excluded"]
    assert all(isinstance(v, int) for v in excluded.values())
    shown = result[~result["suppressed"]]
    if meta.get("group_by"):
        # Several rows per group (a row per driver): a group's exclusions count once.
        shown = shown.drop_duplicates(list(meta["group_by"]))
    for column in (c for c in result.columns if c.startswith("n_excluded_")):
        reason = column.removeprefix("n_excluded_")
        # Totals of the groups shown only: a hidden group's count must not follow.
        assert excluded[reason] == int(shown[column].sum()), reason
    if "bounds" in meta:
        lo, hi = meta["bounds"]
        estimates = shown["estimate"].dropna().to_numpy(dtype=float)
        assert np.all((estimates >= lo - 1e-9) & (estimates <= hi + 1e-9))
    # Rows come sorted by their groups: as text, but an ordered categorical (the stages
    # of a chain) by its categories' order.
    columns = [_sort_key(result[c]) for c in case.by]
    keys = list(zip(*columns, strict=True))
    assert keys == sorted(keys)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_suppression(case: Case) -> None:
    # Found (issue 11): suppression differed by measure (complement or not, n kept
    # or not, a note, nothing). Now one layer, the same for every measure.
    data = case.data()
    full = case.compute(data, min_n=None)
    result = case.compute(data, min_n=MIN_N)
    assert not full["suppressed"].any()
    hidden = result["suppressed"].to_numpy()
    by = list(case.by)
    small = full["n"].to_numpy(dtype=float) < MIN_N
    assert small.any()
    assert hidden[small].all()
    assert hidden.sum() > small.sum()  # a complement too: "total minus the rest"
    assert not hidden.all()
    numbers = [
        c
        for c in result.columns
        if c not in (*by, "measure", "suppressed")
        and pd.api.types.is_numeric_dtype(result[c].dtype)
        and not pd.api.types.is_bool_dtype(result[c].dtype)
    ]
    assert {"n", "estimate", "se", "ci_low", "ci_high"} <= set(numbers)
    assert result.loc[hidden, numbers].isna().all().all()
    # What is shown is the true figure (adjusted p-values: over the shown family).
    same = [c for c in numbers if c not in case.family_columns]
    pd.testing.assert_frame_equal(
        result.loc[~hidden, same].reset_index(drop=True),
        full.loc[~hidden, same].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(result[by], full[by])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compare_groups(case: Case) -> None:
    # Found (issue 11): compare_groups(hx_index(...)) raised.
    result = case.compute(case.data(), min_n=MIN_N)
    compared = compare_groups(result)
    shown = result.loc[~result["suppressed"], list(case.by)].astype(str)
    labels = set(shown.apply(tuple, axis=1))
    by = list(case.by)
    for side in (by, [f"{c}_other" for c in by]):
        assert set(compared[side].astype(str).apply(tuple, axis=1)) <= labels
    usable = result.loc[~result["suppressed"] & np.isfinite(result["se"].astype(float))]
    pairs = usable.groupby("measure").size()
    expected = int((pairs * (pairs - 1) // 2).sum())
    assert len(compared) == expected
    if "measure" in compared.columns:  # several measures: each compared within itself
        assert set(compared["measure"]) <= set(result["measure"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_plot_estimates(case: Case) -> None:
    # Found (issue 11): plot_estimates(nps_result) failed.
    result = case.compute(case.data(), min_n=MIN_N)
    _fig, ax = new_figure(5, 3)
    assert plot_estimates(result, ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    expected = result[list(case.by)].astype(str).agg(" · ".join, axis=1)
    assert labels == list(dict.fromkeys(expected))
    assert ax.get_xlabel() == result.attrs["hxmetrics"]["measure"]
    assert "suppressed" in [t.get_text() for t in ax.texts]


MERGEABLE = [case for case in CASES if case.statistics is not None]


@pytest.mark.parametrize("case", MERGEABLE, ids=[c.name for c in MERGEABLE])
def test_merge_of_partials(case: Case) -> None:
    assert case.statistics is not None
    assert case.finish is not None
    data = case.data()
    k = case.rows_per_unit
    pieces = [data.iloc[: 17 * k], data.iloc[17 * k : 17 * k], data.iloc[17 * k : 60 * k]]
    pieces.append(data.iloc[60 * k :])
    parts = [case.statistics(piece) for piece in pieces]
    for min_n in (None, MIN_N):
        merged = case.finish(merge_partials(parts, by=list(case.by)), min_n=min_n)
        whole = case.compute(data, min_n=min_n)
        pd.testing.assert_frame_equal(merged, whole, check_exact=False, rtol=1e-12)
        assert merged.attrs == whole.attrs


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_engine_gives_the_pandas_result(case: Case, engine_name: str) -> None:
    # An engine is a test extra; without it the case cannot run (CI installs every one).
    pytest.importorskip("polars" if engine_name.startswith("polars") else engine_name)
    data = case.data()
    expected = case.compute(data, min_n=MIN_N)
    got = case.compute(to_engine(data, engine_name), min_n=MIN_N)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert got.attrs == expected.attrs


@pytest.mark.spark
# pyspark's own notice that it does not fully support pandas 3 (see conftest).
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_measure_on_spark(spark: Any, case: Case) -> None:
    # The session fixture starts the JVM once for all cases (see test_spark.py).
    if case.not_on_spark is not None:
        pytest.skip(case.not_on_spark)
    data = case.data()
    expected = case.compute(data, min_n=MIN_N)
    got = case.compute(spark.createDataFrame(data), min_n=MIN_N)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert got.attrs == expected.attrs


def test_every_grouped_measure_is_a_case() -> None:
    # The protocol columns are the builder's; a grouped measure not listed here would
    # escape every test above.
    assert PROTOCOL_COLUMNS[:2] == ("measure", "n")
    names = {case.name for case in CASES}
    assert set(MEASURES) <= names
    assert {"hx_index", "cronbach_alpha", "mcdonald_omega", "reliability"} <= names
    assert {"median_tenure", "boomerang_summary"} <= names
    assert {"responsiveness", "sla_attainment"} <= names
    assert {f"closed_loop_{t}_did" for t in ("share", "time", "effect")} <= names
    assert {"closed_loop_effect_matching", "closed_loop_effect_naive"} <= names
    assert {f"itr_stages_{t}" for t in ("reach", "time", "rework", "stalls", "teams")} <= names
    assert {"trend_nps", "response_rate", "behaviour_summary", "key_drivers"} <= names
    assert {f"touchpoints_{t}" for t in ("reach", "contacts", "lift")} <= names
    assert {"journeys_sessions", "journeys_removal"} <= names
    assert {"comment_sentiment", "comment_themes", "theme_impact"} <= names
    assert "team_ledger" in names
