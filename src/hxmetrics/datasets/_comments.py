"""Free-text comments with known themes, sentiment and theme effect; ticket descriptions.

:func:`add_comments` writes the optional ``comments`` table: a comment for a share of
the relationship answers (the ``ltr`` item) of customers, workers and partners,
linked by ``response_id``, and a ``description`` for every ticket. What it planted is
in ``org.truth.planted["comments"]``.

How a comment is made
---------------------
Each role has four themes (:data:`THEMES`), each with a small vocabulary of its own.
A comment on an answer with likelihood to recommend ``s`` (0-10) mentions each theme
of the role independently with probability

``m_t(s) = 1 / (1 + exp(-(alpha_t + beta_t (s - 7))))``

so a theme with ``beta_t < 0`` is mentioned more by detractors (``wait_time``,
``workload``, ``payments``: the problems), one with ``beta_t > 0`` more by promoters
(``staff``, ``manager``, ``communication``: the praise) and one with ``beta_t = 0``
regardless of the score. Each mention is a sentence with two words of the theme's
vocabulary; a comment without a theme says "All in all it ...". The tone follows the
score: promoters (9-10) write positive sentences, passives (7-8) neutral ones and
detractors (0-6) negative ones (:data:`PREDICATES`; their VADER compound is about
+0.8, 0 and -0.75). The theme words carry no sentiment in VADER's lexicon, and the
neutral sentences are made of English stop words only: tone and topic are apart.

The theme effect on the score is planted by **drawing the mentions conditional on the
score**; the scores are not changed. The recoverable truth is the difference in mean
likelihood to recommend between the linked answers whose comment mentions a theme
and those whose comment does not: given the answers' scores, its expectation is

``E[diff_t] = sum(s m_t(s)) / sum(m_t(s)) - sum(s (1 - m_t(s))) / sum(1 - m_t(s))``

over the commented answers (ratio of expectations; its bias is O(1/n)). It is in
``planted["comments"]["effects"]`` per silo and theme, in points of the 0-10 scale.

A few comments (``identifier_share``) and ticket descriptions end with a planted
email address or phone number, as people write them; they are listed in
``planted["comments"]["identifiers"]`` so that tests can check none survives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.tables import ROLE_OF_SILO

from ._draws import _ids, _str
from ._model import Organisation

__all__ = ["PREDICATES", "THEMES", "add_comments", "theme_keywords"]

#: Per role: theme -> (vocabulary, alpha, beta). Mention probabilities are
#: ``logistic(alpha + beta (ltr - 7))``.
THEMES: dict[str, dict[str, tuple[tuple[str, ...], float, float]]] = {
    "customer": {
        "wait_time": (
            ("wait time", "queue", "hold time", "waiting", "response time", "callback"),
            -1.0,
            -0.5,
        ),
        "staff": (("staff", "agent", "advisor", "representative", "cashier", "driver"), -1.0, 0.35),
        "price": (("price", "cost", "fees", "invoice", "discount", "subscription"), -1.0, 0.0),
        "product": (("product", "delivery", "packaging", "website", "app", "order"), -1.0, 0.0),
    },
    "worker": {
        "workload": (("workload", "overtime", "shifts", "deadlines", "rota", "hours"), -1.0, -0.5),
        "manager": (
            ("manager", "supervisor", "leadership", "boss", "mentor", "director"),
            -1.0,
            0.35,
        ),
        "pay": (("wages", "salary", "commission", "pension", "allowance", "payslip"), -1.0, 0.0),
        "tools": (
            ("laptop", "software", "equipment", "systems", "intranet", "training"),
            -1.0,
            0.0,
        ),
    },
    "partner": {
        "payments": (
            ("payments", "invoices", "remittance", "payouts", "settlement", "payment terms"),
            -1.0,
            -0.5,
        ),
        "communication": (
            ("communication", "account manager", "updates", "newsletter", "meetings", "calls"),
            -1.0,
            0.35,
        ),
        "onboarding": (
            ("onboarding", "contract", "paperwork", "documentation", "setup", "compliance"),
            -1.0,
            0.0,
        ),
        "portal": (
            ("portal", "dashboard", "reports", "login", "catalogue", "stock levels"),
            -1.0,
            0.0,
        ),
    },
}

#: Sentence endings by tone: -1 negative (detractors), 0 neutral (passives), +1 positive.
PREDICATES: dict[int, tuple[str, ...]] = {
    1: ("was great", "was excellent", "was really good", "was wonderful", "made me happy"),
    0: (
        "was what it was",
        "was as it is",
        "was the same as before",
        "was there",
        "was as it always is",
    ),
    -1: ("was terrible", "was awful", "was really bad", "was horrible", "made me angry"),
}
_OUTCOME_ITEM = "ltr"
_PIVOT = 7.0


def _logistic(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def _tone(score: np.ndarray) -> np.ndarray:
    return np.where(score >= 9, 1, np.where(score >= 7, 0, -1)).astype(np.int64)


def _pick(rng: np.random.Generator, options: tuple[str, ...], size: int) -> np.ndarray:
    values = np.array(options, dtype=object)
    out: np.ndarray = values[rng.integers(0, len(values), size)]
    return out


def _predicates(rng: np.random.Generator, tone: np.ndarray) -> np.ndarray:
    out = np.empty(tone.size, dtype=object)
    for value, options in PREDICATES.items():
        at = tone == value
        out[at] = _pick(rng, options, int(at.sum()))
    return out


def _sentences(
    rng: np.random.Generator, vocabulary: tuple[str, ...], tone: np.ndarray
) -> np.ndarray:
    """One sentence per row: two different words of the theme, each with a predicate."""
    k = len(vocabulary)
    first = rng.integers(0, k, tone.size)
    second = (first + rng.integers(1, k, tone.size)) % k
    words = np.array(vocabulary, dtype=object)
    out: np.ndarray = (
        "The "
        + words[first]
        + " "
        + _predicates(rng, tone)
        + ", the "
        + words[second]
        + " "
        + _predicates(rng, tone)
        + "."
    )
    return out


def _identifiers(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Planted emails and phone numbers in the formats people type: (kind, value)."""
    kind = np.where(rng.random(size) < 0.5, "email", "phone").astype(object)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=object)
    local = letters[rng.integers(0, 26, size)]
    for _ in range(5):
        local = local + letters[rng.integers(0, 26, size)]
    number = pd.Series(rng.integers(0, 10_000, size)).astype(str).str.zfill(4).to_numpy(object)
    exchange = pd.Series(rng.integers(200, 999, size)).astype(str).to_numpy(object)
    domain = _pick(rng, ("example.org", "example.com", "mail.example.net"), size)
    email = local + number + "@" + domain
    formats = rng.integers(0, 5, size)
    phone = np.select(
        [formats == 0, formats == 1, formats == 2, formats == 3],
        [
            "+1 (555) " + exchange + "-" + number,
            "(555) " + exchange + "-" + number,
            "555." + exchange + "." + number,
            "+44 20 7" + exchange + " " + number,
        ],
        default=exchange + "-" + number,
    )
    value = np.where(kind == "email", email, phone).astype(object)
    return kind, value


def _with_identifiers(
    rng: np.random.Generator, text: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    planted = rng.random(text.size) < share
    kind, value = _identifiers(rng, text.size)
    lead = np.where(kind == "email", " Email me at ", " Call me on ").astype(object)
    out = np.where(planted, text + lead + value + ".", text).astype(object)
    kind = kind.copy()
    value = value.copy()
    kind[~planted] = None
    value[~planted] = None
    return out, kind, value


def _check(share: float, name: str) -> float:
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ParameterError(f"{name} must be a share between 0 and 1; got {share!r}.")
    return float(share)


def add_comments(
    org: Organisation,
    *,
    random_state: int | np.random.Generator | None,
    share: float = 0.4,
    identifier_share: float = 0.03,
    descriptions: bool = True,
) -> Organisation:
    """Add free-text comments (linked to relationship answers) and ticket descriptions.

    Parameters
    ----------
    org : Organisation
        A simulated organisation (with or without the other optional steps).
    random_state : int or numpy.random.Generator
        Seed of the draws (the same seed, the same comments).
    share : float, default 0.4
        Share of the relationship answers (item ``ltr``) that come with a comment.
    identifier_share : float, default 0.03
        Share of comments and ticket descriptions that end with a planted email
        address or phone number.
    descriptions : bool, default True
        Give the tickets a ``description`` (a negative sentence on one of the themes
        of the ticket's role).

    Returns
    -------
    Organisation
        A new organisation (``org`` is not changed) with ``comments`` (``comment_id,
        silo, source_id, timestamp, text, response_id, touchpoint``), tickets with a
        ``description``, and ``truth.planted["comments"]``: ``themes`` (role, theme,
        keywords, alpha, beta), ``comments`` (comment_id, response_id, silo, score,
        tone, n_themes, identifier), ``mentions`` (comment_id, theme), ``effects``
        (silo, theme, n_comments, expected_mentions, expected_difference: see the
        module notes), ``tickets`` (ticket_id, theme), ``identifiers`` (table, id,
        kind, value) and ``params``.

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = add_comments(simulate_organisation(200, random_state=1), random_state=2)
    >>> list(org.comments.columns)
    ['comment_id', 'silo', 'source_id', 'timestamp', 'text', 'response_id', 'touchpoint']
    """
    share = _check(share, "share")
    identifier_share = _check(identifier_share, "identifier_share")
    if isinstance(random_state, np.random.Generator):
        rng = random_state
    elif isinstance(random_state, int | np.integer) and not isinstance(random_state, bool):
        rng = np.random.default_rng(int(random_state))
    else:
        raise ParameterError(
            f"random_state must be an int or a numpy Generator; got {random_state!r}."
        )

    responses = org.responses
    ltr = responses.loc[
        responses["item"].to_numpy() == _OUTCOME_ITEM,
        ["response_id", "silo", "source_id", "score", "timestamp"],
    ]
    ltr = ltr.loc[ltr["score"].notna().to_numpy()]
    if "touchpoint" in responses.columns:
        touch = (
            responses.dropna(subset=["touchpoint"])
            .drop_duplicates("response_id")
            .set_index("response_id")["touchpoint"]
        )
    else:
        touch = pd.Series(dtype="str")
    chosen = ltr.loc[rng.random(len(ltr)) < share].reset_index(drop=True)
    n = len(chosen)
    score = chosen["score"].to_numpy(dtype=float)
    silo = chosen["silo"].to_numpy(dtype=object)
    tone = _tone(score)

    text = np.full(n, "", dtype=object)
    n_themes = np.zeros(n, dtype=np.int64)
    mention_rows: list[pd.DataFrame] = []
    theme_rows: list[dict[str, Any]] = []
    effect_rows: list[dict[str, Any]] = []
    comment_id = _ids("M", np.arange(1, n + 1), 7)
    for silo_name, role in ROLE_OF_SILO.items():
        at = np.flatnonzero(silo == silo_name)
        s = score[at]
        for theme, (vocabulary, alpha, beta) in THEMES[role].items():
            p = _logistic(alpha + beta * (s - _PIVOT))
            mentioned = rng.random(at.size) < p
            rows = at[mentioned]
            text[rows] = text[rows] + _sentences(rng, vocabulary, tone[rows]) + " "
            n_themes[rows] += 1
            mention_rows.append(pd.DataFrame({"comment_id": comment_id[rows], "theme": theme}))
            theme_rows.append(
                {
                    "role": role,
                    "theme": theme,
                    "keywords": "|".join(vocabulary),
                    "alpha": alpha,
                    "beta": beta,
                }
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = float((s * p).sum() / p.sum() - (s * (1 - p)).sum() / (1 - p).sum())
            effect_rows.append(
                {
                    "silo": silo_name,
                    "theme": theme,
                    "n_comments": int(at.size),
                    "expected_mentions": float(p.sum()),
                    "expected_difference": diff if at.size else float("nan"),
                }
            )
    plain = n_themes == 0
    text[plain] = "All in all it " + _predicates(rng, tone[plain]) + ". "
    text = pd.Series(text, dtype=object).str.strip().to_numpy(dtype=object)
    text, kind, value = _with_identifiers(rng, text, identifier_share)

    seconds = rng.integers(10, 600, n).astype("timedelta64[s]")
    last = np.datetime64(pd.Timestamp(org.end) - pd.Timedelta(seconds=1), "ns")
    stamp = np.minimum(chosen["timestamp"].to_numpy("datetime64[ns]") + seconds, last)
    comments = pd.DataFrame(
        {
            "comment_id": _str(comment_id),
            "silo": _str(silo),
            "source_id": _str(chosen["source_id"].to_numpy(object)),
            "timestamp": pd.Series(stamp, dtype="datetime64[ns]"),
            "text": _str(text),
            "response_id": _str(chosen["response_id"].to_numpy(object)),
            "touchpoint": pd.Series(chosen["response_id"].map(touch).to_numpy(object), dtype="str"),
        }
    )
    identifiers = [
        pd.DataFrame({"table": "comments", "id": comment_id, "kind": kind, "value": value}).dropna(
            subset=["kind"]
        )
    ]

    tickets = org.tickets
    ticket_truth = pd.DataFrame(
        {"ticket_id": pd.Series(dtype="str"), "theme": pd.Series(dtype="str")}
    )
    if descriptions and len(tickets):
        t_silo = tickets["silo"].to_numpy(dtype=object)
        description = np.full(len(tickets), "", dtype=object)
        t_theme = np.full(len(tickets), "", dtype=object)
        for silo_name, role in ROLE_OF_SILO.items():
            at = np.flatnonzero(t_silo == silo_name)
            names = list(THEMES[role])
            pick = rng.integers(0, len(names), at.size)
            for k, theme in enumerate(names):
                rows = at[pick == k]
                t_theme[rows] = theme
                description[rows] = _sentences(
                    rng, THEMES[role][theme][0], np.full(rows.size, -1, dtype=np.int64)
                )
        description, t_kind, t_value = _with_identifiers(rng, description, identifier_share)
        tickets = tickets.assign(description=_str(description).set_axis(tickets.index))
        ticket_truth = pd.DataFrame(
            {"ticket_id": tickets["ticket_id"].to_numpy(object), "theme": t_theme}
        )
        identifiers.append(
            pd.DataFrame(
                {
                    "table": "tickets",
                    "id": tickets["ticket_id"].to_numpy(object),
                    "kind": t_kind,
                    "value": t_value,
                }
            ).dropna(subset=["kind"])
        )

    planted = {
        "themes": pd.DataFrame(theme_rows),
        "comments": pd.DataFrame(
            {
                "comment_id": comment_id,
                "response_id": chosen["response_id"].to_numpy(object),
                "silo": silo,
                "score": score,
                "tone": tone,
                "n_themes": n_themes,
                "identifier": kind,
            }
        ),
        "mentions": pd.concat(mention_rows, ignore_index=True),
        "effects": pd.DataFrame(effect_rows),
        "tickets": ticket_truth,
        "identifiers": pd.concat(identifiers, ignore_index=True),
        "params": {
            "share": share,
            "identifier_share": identifier_share,
            "outcome_item": _OUTCOME_ITEM,
            "pivot": _PIVOT,
            "mention_model": "logistic(alpha + beta * (ltr - pivot)), themes independent",
            "effect": "mentions drawn conditional on the score; scores unchanged",
            "predicates": {str(k): list(v) for k, v in PREDICATES.items()},
        },
    }
    truth = dataclasses.replace(org.truth, planted={**org.truth.planted, "comments": planted})
    return dataclasses.replace(org, comments=comments, tickets=tickets, truth=truth)


def theme_keywords(role: str) -> Mapping[str, tuple[str, ...]]:
    """The planted vocabulary of a role's themes (theme -> words), for keyword rules."""
    return {theme: spec[0] for theme, spec in THEMES[role].items()}
