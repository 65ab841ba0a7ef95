"""The recipe of the simulated organisation: archetypes, mixes, rates and defaults.

Every number the simulation draws from lives here: which roles each archetype holds,
how often each archetype, engagement, event, ticket and severity occurs, tenures and
gaps, the experience model (:data:`DEFAULT_EXPERIENCE`) and the CLV model
(:data:`DEFAULT_CLV`), and the checks of the overrides a caller passes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError, did_you_mean

__all__ = ["ARCHETYPES", "ARCHETYPE_ROLES", "DEFAULT_CLV", "DEFAULT_EXPERIENCE"]

_DAY = 86_400
_YEAR_DAYS = 365.25
_OPEN = np.int64(10**9)  # "no end" in day arithmetic
_NS = "datetime64[ns]"

#: Roles of each archetype (the recipe a person is generated from).
ARCHETYPE_ROLES: dict[str, tuple[str, ...]] = {
    "pure_customer": ("customer",),
    "pure_worker": ("worker",),
    "pure_partner": ("partner",),
    "worker_customer": ("worker", "customer"),
    "driver_partner_customer": ("partner", "customer"),
    "worker_partner": ("worker", "partner"),
    "boomerang": ("worker",),
    "alumni_customer": ("worker", "customer"),
    "alumni_partner": ("worker", "partner"),
    "customer_to_worker": ("customer", "worker"),
}
ARCHETYPES: tuple[str, ...] = tuple(ARCHETYPE_ROLES)
_PURE_MIX = {"pure_customer": 0.75, "pure_worker": 0.18, "pure_partner": 0.07}
_HYBRID_MIX = {
    "worker_customer": 0.30,
    "driver_partner_customer": 0.15,
    "worker_partner": 0.08,
    "boomerang": 0.12,
    "alumni_customer": 0.15,
    "alumni_partner": 0.06,
    "customer_to_worker": 0.14,
}
_ENGAGEMENT_MIX: dict[str, dict[str, float]] = {
    "customer": {"consumer": 0.85, "business": 0.15},
    "worker": {
        "full_time": 0.50,
        "part_time": 0.15,
        "contract": 0.10,
        "freelance": 0.07,
        "gig": 0.13,
        "intern": 0.05,
    },
    "partner": {"supplier": 0.30, "reseller": 0.20, "driver": 0.35, "host": 0.15},
}
# Log-normal episode lengths: median days by engagement, common log-sd.
_TENURE_MEDIAN_DAYS = {
    "full_time": 1100,
    "part_time": 550,
    "contract": 365,
    "freelance": 300,
    "gig": 180,
    "intern": 120,
    "supplier": 1100,
    "reseller": 900,
    "driver": 400,
    "host": 700,
}
_TENURE_SIGMA = 0.8
_PRE_WINDOW_SHARE = {"worker": 0.35, "partner": 0.2}  # already in the role at window start
_ZERO_GAP_SHARE = 0.1  # sequential moves on the very day the earlier episode ends
_GAP_MEDIAN_DAYS, _GAP_SIGMA = 300.0, 0.9
_CLOSE_AFTER_DROPOUT = 0.3  # share of lapsed customers who close their account
_CLOSE_DELAY_DAYS = 90.0

_TOUCHPOINTS: dict[str, dict[str, float]] = {
    "customer": {
        "web": 0.35,
        "app": 0.30,
        "store": 0.15,
        "phone": 0.10,
        "chat": 0.07,
        "email": 0.03,
    },
    "worker": {"intranet": 0.4, "app": 0.3, "in_person": 0.2, "email": 0.1},
    "partner": {"portal": 0.5, "app": 0.3, "phone": 0.1, "email": 0.1},
}
_EVENT_TYPES: dict[str, dict[str, float]] = {
    "customer": {
        "visit": 0.50,
        "support_contact": 0.25,
        "order_delivery": 0.15,
        "complaint": 0.05,
        "return": 0.05,
    },
    "worker": {"shift": 0.4, "training": 0.3, "hr_request": 0.2, "performance_review": 0.1},
    "partner": {"delivery": 0.4, "payout": 0.3, "partner_support": 0.2, "onboarding_call": 0.1},
}
_EVENT_RATE = {"customer": 1.0, "worker": 1.2, "partner": 1.5}  # per year in the role
# Customer events after which a transactional (CSAT + CES) survey may be sent.
_SURVEYED_EVENTS = ("support_contact", "order_delivery", "complaint", "return")

_TEAMS: dict[str, dict[str, float]] = {
    "customer": {"customer_care": 0.6, "billing": 0.25, "tech_support": 0.15},
    "worker": {"hr_ops": 0.7, "it_helpdesk": 0.3},
    "partner": {"partner_desk": 0.7, "billing": 0.3},
}
_TICKET_RATE = {"customer": 0.25, "worker": 0.3, "partner": 0.6}
_SEVERITY_MIX = {"low": 0.40, "medium": 0.35, "high": 0.20, "critical": 0.05}
_SEVERITY_FACTOR = {"low": 1.6, "medium": 1.0, "high": 0.5, "critical": 0.25}
# team: (median hours to first response, median hours first response -> close, reopen rate)
_TEAM_TIMES = {
    "customer_care": (4.0, 24.0, 0.10),
    "billing": (20.0, 48.0, 0.10),
    "tech_support": (10.0, 72.0, 0.25),
    "hr_ops": (30.0, 96.0, 0.10),
    "it_helpdesk": (6.0, 24.0, 0.15),
    "partner_desk": (8.0, 48.0, 0.10),
}
_FIRST_RESPONSE_SIGMA, _RESOLUTION_SIGMA = 1.0, 0.9

# Status histories (the issue-to-resolution chain). A ticket moves
#   opened -> triaged -> in_progress -> (waiting_on_customer -> in_progress)*
#   -> resolved [-> reopened -> in_progress -> ... -> resolved] -> closed.
# The first response of the tickets table is the first in_progress (the first move
# out of triage). The first-response time is split between opened and triaged by a
# Beta share; the time from first response to close is split between the statuses
# by a Dirichlet of the statuses the ticket visits (waiting_on_customer only when it
# pauses, reopened only when it is reopened), each status's share then spread evenly
# at random over its visits.
TICKET_STATUSES: tuple[str, ...] = (
    "opened",
    "triaged",
    "in_progress",
    "waiting_on_customer",
    "resolved",
    "reopened",
    "closed",
)
_TRIAGE_SHARE = (2.0, 5.0)  # Beta(a, b): share of the first-response time spent in 'opened'
# team: (pauses per ticket (Poisson mean), Dirichlet weights of
#        in_progress, waiting_on_customer, resolved, reopened)
_TEAM_STAGES: dict[str, tuple[float, tuple[float, float, float, float]]] = {
    "customer_care": (0.3, (4.0, 2.0, 2.0, 1.0)),
    "billing": (0.5, (3.0, 3.0, 2.0, 1.0)),
    "tech_support": (0.9, (4.0, 4.0, 1.5, 1.5)),
    "hr_ops": (0.4, (3.0, 2.0, 3.0, 1.0)),
    "it_helpdesk": (0.6, (5.0, 2.0, 2.0, 1.0)),
    "partner_desk": (0.5, (4.0, 3.0, 2.0, 1.0)),
}
# Stalls (ticket_stalls=True): a share of tickets stalls once, forgotten in the
# triage queue (delaying first response and close) or waiting on the customer
# (delaying close), for a heavy-tailed time: the backlog a real desk carries.
_STALL_PROBABILITY = {
    "customer_care": 0.06,
    "billing": 0.12,
    "tech_support": 0.15,
    "hr_ops": 0.12,
    "it_helpdesk": 0.15,
    "partner_desk": 0.12,
}
_STALL_STAGE_MIX = {"triaged": 0.3, "waiting_on_customer": 0.7}
_STALL_MEDIAN_DAYS, _STALL_SIGMA = 45.0, 1.5

# Follow-ups of relationship answers (follow_ups=True): the probability that an
# answer with likelihood to recommend 0..10 is followed up (teams call the angriest
# first), times a factor per role, with its odds multiplied by
# exp(-_FOLLOW_UP_LEVEL_LOG_ODDS * level), level the person's persistent latent level
# (person effect / person_sd, sd 1): teams also call first the people they know to be
# unhappy (their history, account notes), which the analyst's tables do not show.
# The followed-up are then lower for good, and their next answer lower without any
# follow-up: the confounding a naive comparison (and matching on the score) falls
# into. On its own the score dependence biases the naive comparison little (the
# 0-10 answer is a noisy reading of the level: about -0.07 points at 60 000 people,
# within noise); the level's dependence makes it strong (about -0.64 points, the
# effect set to 0). The delay is log-normal; a follow-up before the person's next
# relationship answer (same silo id) shifts that answer's latent experience by
# follow_up_effect.
_FOLLOW_UP_PROBABILITY = (0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.35, 0.08, 0.04, 0.0, 0.0)
_FOLLOW_UP_ROLE_FACTOR = {"customer": 1.0, "worker": 0.6, "partner": 0.8}
_FOLLOW_UP_TOUCHPOINT = {"customer": "phone", "worker": "in_person", "partner": "phone"}
_FOLLOW_UP_DELAY_MEDIAN_HOURS, _FOLLOW_UP_DELAY_SIGMA = 20.0, 0.8
_FOLLOW_UP_LEVEL_LOG_ODDS = 0.8  # odds ratio e^0.8 = 2.2 per sd lower

#: The experience model. Every number can be overridden through ``experience=``.
DEFAULT_EXPERIENCE: dict[str, Any] = {
    "role_mean": {"customer": 0.2, "worker": 0.0, "partner": -0.1},
    "engagement_shift": {
        "consumer": 0.0,
        "business": -0.1,
        "full_time": 0.0,
        "part_time": -0.1,
        "contract": -0.2,
        "freelance": -0.3,
        "gig": -0.6,
        "intern": 0.2,
        "supplier": 0.0,
        "reseller": 0.1,
        "driver": -0.3,
        "host": 0.2,
    },
    # Shift of the latent mean by archetype and by the role answering: worker-
    # customers are happier *customers* but the same workers, and so on.
    "archetype_shift": {
        "worker_customer": {"customer": 0.5, "worker": 0.0},
        "driver_partner_customer": {"customer": 0.3, "partner": 0.0},
        "worker_partner": {"worker": 0.0, "partner": 0.2},
        "boomerang": {"worker": 0.3},
        "alumni_customer": {"worker": -0.2, "customer": 0.4},
        "alumni_partner": {"worker": -0.1, "partner": 0.2},
        "customer_to_worker": {"customer": 0.3, "worker": 0.2},
    },
    "person_sd": 0.6,
    "hx_loadings": [0.9, 0.8, 0.85, 0.7, 0.75, 0.6],
    "hx_intercepts": [0.0, 0.1, -0.1, 0.2, 0.0, -0.2],
    "hx_residual_sd": [0.5, 0.6, 0.55, 0.7, 0.65, 0.8],
    "hx_thresholds": [-1.8, -0.8, 0.2, 1.3],
    # Known non-invariance: partners read hx5 more favourably (scalar, not metric).
    "hx_intercept_shift": {"partner": {"hx5": 0.4}},
    "ltr_loading": 1.3,
    "ltr_baseline": [0.03, 0.02, 0.03, 0.04, 0.05, 0.09, 0.09, 0.15, 0.20, 0.14, 0.16],
    "csat_loading": 1.0,
    "csat_baseline": [0.05, 0.08, 0.17, 0.40, 0.30],
    "csat_touchpoint_shift": {
        "web": 0.0,
        "app": 0.1,
        "store": 0.2,
        "phone": -0.3,
        "chat": 0.0,
        "email": -0.2,
    },
    "ces_loading": 0.8,
    "ces_baseline": [0.04, 0.05, 0.08, 0.13, 0.25, 0.27, 0.18],
    "ces_touchpoint_shift": {
        "web": 0.1,
        "app": 0.2,
        "store": 0.0,
        "phone": -0.4,
        "chat": 0.0,
        "email": -0.3,
    },
    "survey_rate": {"customer": 0.2, "worker": 0.6, "partner": 0.4},
    "propensity": {
        "consumer": 1.0,
        "business": 0.7,
        "full_time": 1.0,
        "part_time": 0.8,
        "contract": 0.7,
        "freelance": 0.6,
        "gig": 0.5,
        "intern": 0.9,
        "supplier": 0.8,
        "reseller": 0.8,
        "driver": 0.6,
        "host": 0.9,
    },
    "hx_core_share": 0.8,
    "transactional_share": 0.3,
    "unattributable_share": 0.005,
}

#: BG/NBD (weeks) and Gamma-Gamma parameters: the CDNOW estimates reported by
#: Fader, Hardie & Lee (2005), Marketing Science 24(2), and by Fader & Hardie
#: (2013), "The Gamma-Gamma Model of Monetary Value" (brucehardie.com note 025).
DEFAULT_CLV: dict[str, float] = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}

_HX_ITEMS = tuple(f"hx{j}" for j in range(1, 7))


# Silo id formats per role: prefix and digits (C000001, W-00001, P90001).
_ID_FORMAT: dict[str, tuple[str, int]] = {
    "customer": ("C", 6),
    "worker": ("W-", 5),
    "partner": ("P9", 4),
}


# --------------------------------------------------------------------------- checks


def _merge_experience(override: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = copy.deepcopy(DEFAULT_EXPERIENCE)
    if override is None:
        return cfg
    for key, value in override.items():
        if key not in cfg:
            raise ParameterError(
                f"experience: unknown parameter {key!r}; allowed are {sorted(cfg)}."
                + did_you_mean(str(key), cfg)
            )
        default = cfg[key]
        if isinstance(default, dict):
            if not isinstance(value, Mapping):
                raise ParameterError(
                    f"experience[{key!r}] must be a mapping like {default!r}; got {value!r}."
                )
            merged = dict(default)
            for k, v in value.items():
                if isinstance(default.get(k), dict) and isinstance(v, Mapping):
                    merged[k] = {**default[k], **v}
                else:
                    merged[k] = v
            cfg[key] = merged
        elif isinstance(default, list):
            if len(value) != len(default):
                raise ParameterError(
                    f"experience[{key!r}] needs {len(default)} numbers; got {len(value)}."
                )
            cfg[key] = [float(v) for v in value]
        else:
            cfg[key] = float(value)
    for key in ("ltr_baseline", "csat_baseline", "ces_baseline"):
        probs = np.asarray(cfg[key], dtype=float)
        if np.any(probs <= 0) or not math.isclose(probs.sum(), 1.0, abs_tol=1e-9):
            raise ParameterError(
                f"experience[{key!r}] must be positive probabilities summing to 1; "
                f"got {cfg[key]!r} (sum {probs.sum():.6g})."
            )
    if not 0 <= cfg["person_sd"] < 1:
        raise ParameterError(
            f"experience['person_sd'] must be in [0, 1) (the latent sd is 1); "
            f"got {cfg['person_sd']!r}."
        )
    for key in ("hx_core_share", "transactional_share", "unattributable_share"):
        if not 0 <= cfg[key] <= 1:
            raise ParameterError(f"experience[{key!r}] must be in [0, 1]; got {cfg[key]!r}.")
    if any(v <= 0 for v in cfg["propensity"].values()):
        raise ParameterError(
            f"experience['propensity'] values must be > 0; got {cfg['propensity']!r}."
        )
    return cfg


def _merge_clv(override: Mapping[str, float] | None) -> dict[str, float]:
    cfg = dict(DEFAULT_CLV)
    for key, value in (override or {}).items():
        if key not in cfg:
            raise ParameterError(
                f"clv: unknown parameter {key!r}; allowed are {sorted(cfg)}."
                + did_you_mean(str(key), cfg)
            )
        cfg[key] = float(value)
    bad = {k: v for k, v in cfg.items() if not (math.isfinite(v) and v > 0)}
    if bad:
        raise ParameterError(f"clv parameters must be finite and > 0; got {bad}.")
    if cfg["q"] <= 1:
        raise ParameterError(
            f"clv['q'] must be > 1 so that mean spend p*gamma/(q-1) exists; got {cfg['q']}."
        )
    return cfg


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a date like '2019-01-01'; got {value!r}.") from exc
    if ts is pd.NaT or ts.tz is not None or ts != ts.normalize():
        raise ParameterError(
            f"{name} must be a naive date at midnight like '2019-01-01'; got {value!r}."
        )
    return pd.Timestamp(ts).as_unit("ns")
