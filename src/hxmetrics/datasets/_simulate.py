"""Simulate a synthetic organisation whose ground truth is known.

Persons are drawn from archetypes (pure customers, workers, partners; concurrent
and sequential hybrids), given role episodes, silo ids and noisy match keys, and
then leave exhaust behind: survey responses from a one-factor experience model,
interaction events, BG/NBD + Gamma-Gamma purchases and support tickets. Every
draw comes from one ``numpy.random.Generator`` seeded by ``seed`` and is
vectorised over episodes, so 100 000 persons take a few seconds.

Time is handled in integer days (episodes) and integer seconds (exhaust)
counted from the observation start; both become ``datetime64[ns]`` at the end.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from hxmetrics.errors import ParameterError, did_you_mean
from hxmetrics.tables import ENGAGEMENTS, ROLE_OF_SILO

from ._hybrids import LABELS, hybrid_labels
from ._model import ClvTruth, ExperienceTruth, Organisation, Truth

__all__ = ["DEFAULT_CLV", "DEFAULT_EXPERIENCE", "simulate_organisation"]

_DAY = 86_400
_YEAR_DAYS = 365.25
_OPEN = np.int64(10**9)  # "no end" in day arithmetic
_NS = "datetime64[ns]"

SILO_OF_ROLE: dict[str, str] = {role: silo for silo, role in ROLE_OF_SILO.items()}

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


# --------------------------------------------------------------------------- helpers


def _choice(rng: np.random.Generator, mix: Mapping[str, float], size: int) -> np.ndarray:
    names = np.array(list(mix), dtype=object)
    p = np.array(list(mix.values()), dtype=float)
    return names[rng.choice(len(names), size=size, p=p / p.sum())]


def _lookup(mapping: Mapping[str, float], keys: np.ndarray) -> np.ndarray:
    codes, names = pd.factorize(np.asarray(keys, dtype=object))
    values = np.array([mapping[str(k)] for k in names], dtype=float)
    out: np.ndarray = values[codes]
    return out


def _tenure(rng: np.random.Generator, eng: np.ndarray) -> np.ndarray:
    med = _lookup(_TENURE_MEDIAN_DAYS, eng)
    days = med * np.exp(_TENURE_SIGMA * rng.standard_normal(len(eng)))
    return np.maximum(1, np.rint(days)).astype(np.int64)


def _free_episode(
    rng: np.random.Generator, eng: np.ndarray, role: str, end_d: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end days of an episode that intersects the window."""
    m = len(eng)
    pre = rng.random(m) < _PRE_WINDOW_SHARE.get(role, 0.0)
    start = np.where(pre, -rng.integers(1, 3651, m), rng.integers(0, end_d, m))
    end = start + _tenure(rng, eng)
    # Already in the role at window start: draw how much longer they stay.
    end = np.where(end <= 0, _tenure(rng, eng), end)
    return start.astype(np.int64), end.astype(np.int64)


def _inside(rng: np.random.Generator, s: np.ndarray, e: np.ndarray, end_d: int) -> np.ndarray:
    """A day in [max(s, 0), min(e, end_d)): a start that makes two episodes overlap."""
    lo = np.maximum(s, 0)
    hi = np.minimum(e, end_d)
    return lo + np.floor(rng.random(len(s)) * (hi - lo)).astype(np.int64)


def _ended(rng: np.random.Generator, eng: np.ndarray, end_d: int) -> tuple[np.ndarray, np.ndarray]:
    """An episode that ends inside the window, early enough for a successor."""
    e1 = rng.integers(30, end_d - 60, len(eng)).astype(np.int64)
    return e1 - _tenure(rng, eng), e1


def _after(rng: np.random.Generator, e1: np.ndarray, end_d: int) -> np.ndarray:
    """The start of a successor: on/after ``e1`` and before the window end."""
    m = len(e1)
    zero = rng.random(m) < _ZERO_GAP_SHARE
    gap = np.ceil(_GAP_MEDIAN_DAYS * np.exp(_GAP_SIGMA * rng.standard_normal(m)))
    room = end_d - e1
    squeeze = np.floor(rng.random(m) * room)
    gap = np.where(gap >= room, squeeze, gap)
    return e1 + np.where(zero, 0, gap).astype(np.int64)


def _engagement(
    rng: np.random.Generator, role: str, m: int, only: tuple[str, ...] | None = None
) -> np.ndarray:
    mix = _ENGAGEMENT_MIX[role]
    if only is not None:
        mix = {k: v for k, v in mix.items() if k in only}
    return _choice(rng, mix, m)


class _Episodes:
    """Accumulates episode parts: person index, role, engagement, start/end day, id slot."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        person: np.ndarray,
        role: str,
        eng: np.ndarray,
        start: np.ndarray,
        end: np.ndarray | None,
        slot: np.ndarray | None = None,
    ) -> None:
        m = len(person)
        self.parts.append(
            {
                "person": person.astype(np.int64),
                "role": np.full(m, role, dtype=object),
                "engagement": eng.astype(object),
                "start": start.astype(np.int64),
                "end": (np.full(m, _OPEN) if end is None else end).astype(np.int64),
                "slot": (np.zeros(m, np.int64) if slot is None else slot.astype(np.int64)),
            }
        )

    def frame(self) -> dict[str, np.ndarray]:
        keys = ("person", "role", "engagement", "start", "end", "slot")
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}


def _build_episodes(
    rng: np.random.Generator, archetype: np.ndarray, end_d: int
) -> dict[str, np.ndarray]:
    eps = _Episodes()
    for arch in ARCHETYPES:
        idx = np.flatnonzero(archetype == arch)
        m = len(idx)
        if m == 0:
            continue
        if arch == "pure_customer":
            eps.add(
                idx, "customer", _engagement(rng, "customer", m), rng.integers(0, end_d, m), None
            )
        elif arch in ("pure_worker", "pure_partner"):
            role = "worker" if arch == "pure_worker" else "partner"
            eng = _engagement(rng, role, m)
            s, e = _free_episode(rng, eng, role, end_d)
            eps.add(idx, role, eng, s, e)
        elif arch in ("worker_customer", "driver_partner_customer", "worker_partner"):
            # Concurrent: the second role starts inside the first role's episode.
            first = "partner" if arch == "driver_partner_customer" else "worker"
            only = ("driver",) if arch == "driver_partner_customer" else None
            eng = _engagement(rng, first, m, only)
            s, e = _free_episode(rng, eng, first, end_d)
            eps.add(idx, first, eng, s, e)
            second = "partner" if arch == "worker_partner" else "customer"
            only2 = ("supplier", "reseller", "host") if arch == "worker_partner" else None
            eng2 = _engagement(rng, second, m, only2)
            s2 = _inside(rng, s, e, end_d)
            if second == "customer":
                eps.add(idx, second, eng2, s2, None)
            else:
                eps.add(idx, second, eng2, s2, s2 + _tenure(rng, eng2))
        elif arch in ("boomerang", "alumni_customer", "alumni_partner"):
            # Sequential: a worker episode ends, the next starts on/after that end.
            eng = _engagement(rng, "worker", m)
            s, e = _ended(rng, eng, end_d)
            eps.add(idx, "worker", eng, s, e)
            s2 = _after(rng, e, end_d)
            second = {"boomerang": "worker", "alumni_customer": "customer"}.get(arch, "partner")
            eng2 = _engagement(rng, second, m)
            if second == "customer":
                eps.add(idx, second, eng2, s2, None)
            else:
                # A re-hire keeps the old worker id half of the time (slot 0), as HRIS do.
                slot = (rng.random(m) >= 0.5).astype(np.int64) if arch == "boomerang" else None
                eps.add(idx, second, eng2, s2, s2 + _tenure(rng, eng2), slot)
        elif arch == "customer_to_worker":
            cs = rng.integers(0, end_d - 60, m).astype(np.int64)
            eps.add(idx, "customer", _engagement(rng, "customer", m), cs, None)
            ws = cs + 1 + np.floor(rng.random(m) * (end_d - cs - 1)).astype(np.int64)
            eng = _engagement(rng, "worker", m)
            eps.add(idx, "worker", eng, ws, ws + _tenure(rng, eng))
        else:  # pragma: no cover - ARCHETYPES is closed
            raise AssertionError(arch)
    return eps.frame()


def _group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group (groups are consecutive runs)."""
    total = np.cumsum(values)
    first = np.cumsum(counts) - counts
    before = np.zeros(len(counts))
    starts_later = first > 0
    before[starts_later] = total[first[starts_later] - 1]
    out: np.ndarray = total - np.repeat(before, counts)
    return out


def _simulate_purchases(
    rng: np.random.Generator, start: np.ndarray, end_d: int, clv: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """BG/NBD purchase times and Gamma-Gamma amounts for customer episodes.

    The first purchase is at the episode start (time 0, as in Fader, Hardie &
    Lee 2005); repeat purchases follow a Poisson(lambda) process while active,
    and after each repeat purchase the customer drops out with probability p.
    The first ``k`` of ``N ~ Poisson(lambda T)`` uniform arrival times are drawn
    as exponential spacings ``S_j / (S_k + Gamma(N - k + 1))`` (order statistics).
    """
    m = len(start)
    t_weeks = (end_d - start) / 7.0
    lam = rng.gamma(clv["r"], 1.0 / clv["alpha"], m)
    p = rng.beta(clv["a"], clv["b"], m)
    nu = rng.gamma(clv["q"], 1.0 / clv["gamma"], m)
    n_window = rng.poisson(lam * t_weeks)
    j_drop = rng.geometric(p)
    k = np.minimum(n_window, j_drop)
    dies = j_drop <= n_window
    spacing = rng.exponential(1.0, int(k.sum()))
    s = _group_cumsum(spacing, k)
    last = np.zeros(m)
    has = k > 0
    ends = np.cumsum(k) - 1
    last[has] = s[ends[has]]
    total = last + rng.gamma((n_window - k + 1).astype(float), 1.0)
    owner = np.repeat(np.arange(m), k)
    t_repeat = s / total[owner] * t_weeks[owner]
    dropout_weeks = np.full(m, np.nan)
    dropout_weeks[dies] = t_repeat[ends[dies]]
    return {
        "lam": lam,
        "p": p,
        "nu": nu,
        "k": k,
        "alive": ~dies,
        "dropout_weeks": dropout_weeks,
        "t_weeks": t_weeks,
        "owner": owner,
        "t_repeat": t_repeat,
    }


def _ordinal_pmf(mean: np.ndarray, sd: float, thresholds: np.ndarray) -> np.ndarray:
    """P(category k) when y ~ N(mean, sd) is cut at ``thresholds`` (rows: means)."""
    cut = np.concatenate([[-np.inf], thresholds, [np.inf]])
    cdf = ndtr((cut[None, :] - np.asarray(mean)[:, None]) / sd)
    out: np.ndarray = np.diff(cdf, axis=1)
    return out


def _thresholds(baseline: list[float], loading: float) -> np.ndarray:
    """Cut points that give ``baseline`` when the latent mean is 0."""
    cum = np.cumsum(baseline)[:-1]
    out: np.ndarray = ndtri(cum) * math.sqrt(loading**2 + 1.0)
    return out


def _sig(x: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to significant digits so the truth files are short and stable."""
    return np.array([float(f"{v:.{digits}g}") for v in np.asarray(x, dtype=float)])


# --------------------------------------------------------------------------- keys


_PHONE_FORMATS = (
    "+1 ({a}) {b}-{c}",
    "{a}{b}{c}",
    "{a}.{b}.{c}",
    "{a}-{b}-{c}",
    "({a}) {b}-{c}",
    "+1{a}{b}{c}",
    "+1 {a} {b} {c}",
)
_PREFERRED_PHONE_FORMAT = {"customers": 0, "workers": 1, "partners": 2}


def _format_phones(digits: np.ndarray, fmt: np.ndarray) -> list[str]:
    return [
        _PHONE_FORMATS[f].format(a=d[:3], b=d[3:6], c=d[6:])
        for d, f in zip(digits.tolist(), fmt.tolist(), strict=True)
    ]


def _person_keys(rng: np.random.Generator, n: int, key_noise: float) -> pd.DataFrame:
    letters = rng.integers(0, 26, size=(n, 6))
    domains = np.array(["example.com", "example.org", "example.net"], dtype=object)
    domain = domains[rng.integers(0, 3, n)]
    local = (97 + letters).astype(np.uint8).view("S6").ravel().astype(str).tolist()
    # A shuffled number keeps emails unique without revealing the person's index.
    suffix = (rng.permutation(n) + 1).tolist()
    email = [f"{loc}{k}@{dom}" for loc, k, dom in zip(local, suffix, domain.tolist(), strict=True)]
    # Area code 555 is not in service: every number is fictional.
    phone = [f"555{x:07d}" for x in rng.choice(10**7, size=n, replace=False).tolist()]
    birth = np.clip(np.rint(1982 + 13 * rng.standard_normal(n)), 1940, 2006).astype(np.int64)
    anchor = np.where(rng.random(n) < 0.7, "email", "phone").astype(object)
    # Household trap: a person who shares another person's phone (different birth year).
    sharer = rng.random(n) < key_noise / 10
    hosts_pool = np.flatnonzero(~sharer)
    share_with = np.full(n, -1, dtype=np.int64)
    if sharer.any() and len(hosts_pool) > 0:
        who = np.flatnonzero(sharer)
        host = hosts_pool[rng.integers(0, len(hosts_pool), len(who))]
        share_with[who] = host
        for i, h in zip(who.tolist(), host.tolist(), strict=True):
            phone[i] = phone[h]
        birth[who] = birth[host] + rng.choice(np.array([-30, -3, 2, 28]), len(who))
        anchor[who] = "email"
    return pd.DataFrame(
        {
            "email": email,
            "phone": phone,
            "birth_year": birth,
            "anchor": anchor,
            "share_with": share_with,
        }
    )


def _noisy_keys(
    rng: np.random.Generator,
    keys: pd.DataFrame,
    person: np.ndarray,
    silo: str,
    key_noise: float,
) -> pd.DataFrame:
    m = len(person)
    email = pd.Series(keys["email"].to_numpy(dtype=object)[person], dtype=object)
    anchor = keys["anchor"].to_numpy(dtype=object)[person]
    u_case, u_space, u_miss_e, u_miss_p, u_birth = rng.random((5, m))
    how_case = rng.random(m) < 0.5
    how_space = rng.integers(0, 3, m)
    case = u_case < key_noise
    email = email.where(~(case & how_case), email.str.upper())
    email = email.where(~(case & ~how_case), email.str.capitalize())
    space = u_space < key_noise
    email = email.where(~(space & (how_space == 0)), " " + email)
    email = email.where(~(space & (how_space == 1)), email + " ")
    email = email.where(~(space & (how_space == 2)), "  " + email + " ")
    email = email.where(~((u_miss_e < key_noise) & (anchor == "phone")), None)
    pref = _PREFERRED_PHONE_FORMAT[silo]
    fmt = np.where(rng.random(m) < 0.7, pref, rng.integers(0, len(_PHONE_FORMATS), m)).astype(
        np.int64
    )
    digits = keys["phone"].to_numpy(dtype=object)[person]
    phone = pd.Series(_format_phones(digits, fmt), dtype=object)
    phone = phone.where(~((u_miss_p < key_noise) & (anchor == "email")), None)
    birth = pd.array(keys["birth_year"].to_numpy()[person], dtype="Int64")
    birth[u_birth < key_noise / 2] = pd.NA
    return pd.DataFrame({"email": email.to_numpy(), "phone": phone.to_numpy(), "birth_year": birth})


# --------------------------------------------------------------------------- exhaust


def _poisson_times(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, rate_per_year: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Episode index and second of each event of a Poisson process on [a, b)."""
    n = rng.poisson(rate_per_year * (b - a) / (_YEAR_DAYS * _DAY))
    ep = np.repeat(np.arange(len(a)), n)
    ts = a[ep] + np.floor(rng.random(len(ep)) * (b - a)[ep]).astype(np.int64)
    return ep, ts


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.array([f"{prefix}{x:0{width}d}" for x in numbers.tolist()], dtype=object)


def _to_ts(origin: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    out: np.ndarray = (origin + seconds.astype("timedelta64[s]")).astype(_NS)
    return out


def _str(values: Any) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def _take(base: Any, index: np.ndarray) -> pd.Series:
    """``base[index]`` as a string column, converting only the (short) base."""
    return pd.Series(_str(base).array.take(np.asarray(index, dtype=np.intp)), dtype="str")


# --------------------------------------------------------------------------- main


def simulate_organisation(
    n_people: int = 3000,
    *,
    seed: int = 0,
    hybrid_share: float = 0.2,
    key_noise: float = 0.05,
    start: str | pd.Timestamp = "2019-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    experience: Mapping[str, Any] | None = None,
    clv: Mapping[str, float] | None = None,
) -> Organisation:
    """Simulate an organisation's silo rosters and exhaust, with the ground truth.

    Parameters
    ----------
    n_people : int, default 3000
        Number of persons (each has one or more role episodes).
    seed : int, default 0
        Seed of the ``numpy.random.Generator``; the same arguments give the
        same organisation.
    hybrid_share : float, default 0.2
        Share of persons generated from a hybrid archetype (more than one role,
        or a boomerang re-hire). The rest are pure customers, workers, partners.
    key_noise : float, default 0.05
        Per-record rate of each kind of match-key noise: email case changed,
        email padded with whitespace, email missing (only for persons linked by
        phone), phone missing (only for persons linked by email); birth year
        missing at half that rate, and persons sharing another's phone
        (household trap) at a tenth of it.
    start, end : str or Timestamp, default "2019-01-01", "2025-12-31"
        Observation window ``[start, end)`` (dates at midnight, at least 180
        days apart). Worker and partner episodes may start before ``start``.
    experience : mapping, optional
        Overrides of :data:`DEFAULT_EXPERIENCE` (latent means, loadings,
        thresholds, rates); nested mappings are merged.
    clv : mapping, optional
        Overrides of :data:`DEFAULT_CLV` (``r, alpha, a, b, p, q, gamma``).

    Returns
    -------
    Organisation
        Rosters, exhaust tables (all valid under :func:`hxmetrics.tables.validate`)
        and ``truth``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers"
    the easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2).
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = simulate_organisation(200, seed=1)
    >>> sorted(org.tables)
    ['customers', 'events', 'partners', 'responses', 'tickets', 'transactions', 'workers']
    >>> len(org.truth.hybrids)
    200
    >>> bool(org.truth.crosswalk.groupby(["silo", "source_id"]).size().eq(1).all())
    True
    """
    if isinstance(n_people, bool) or not isinstance(n_people, int | np.integer):
        raise ParameterError(f"n_people must be an integer; got {n_people!r}.")
    if not 1 <= n_people <= 5_000_000:
        raise ParameterError(f"n_people must be between 1 and 5 000 000; got {n_people}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer; got {seed!r}.")
    for name, value, upper in (("hybrid_share", hybrid_share, 1.0), ("key_noise", key_noise, 0.5)):
        if not isinstance(value, int | float) or not 0 <= value <= upper:
            raise ParameterError(f"{name} must be a number in [0, {upper}]; got {value!r}.")
    t0 = _timestamp(start, "start")
    t1 = _timestamp(end, "end")
    end_d = int((t1 - t0).days)
    if end_d < 180:
        raise ParameterError(
            f"the window [start, end) must span at least 180 days; got {end_d} "
            f"({t0.date()} to {t1.date()})."
        )
    exp_cfg = _merge_experience(experience)
    clv_cfg = _merge_clv(clv)
    settings = {
        "n_people": int(n_people),
        "seed": int(seed),
        "hybrid_share": float(hybrid_share),
        "key_noise": float(key_noise),
        "start": str(t0.date()),
        "end": str(t1.date()),
    }
    # One independent stream per component: changing key_noise, say, changes the
    # keys and nothing else (same persons, episodes and exhaust).
    streams = np.random.SeedSequence(int(seed)).spawn(8)
    rng_arch, rng_ep, rng_buy, rng_ids, rng_keys, rng_ev, rng_tk, rng_srv = (
        np.random.default_rng(s) for s in streams
    )
    n = int(n_people)
    origin = t0.to_datetime64()

    # Persons and archetypes ------------------------------------------------
    mix = {k: (1 - hybrid_share) * v for k, v in _PURE_MIX.items()}
    mix |= {k: hybrid_share * v for k, v in _HYBRID_MIX.items()}
    mix = {k: v for k, v in mix.items() if v > 0}
    archetype = _choice(rng_arch, mix, n)
    person_ids = _ids("H", np.arange(1, n + 1), 6)

    # Episodes ---------------------------------------------------------------
    ep = _build_episodes(rng_ep, archetype, end_d)
    cust = np.flatnonzero(ep["role"] == "customer")
    buy = _simulate_purchases(rng_buy, ep["start"][cust], end_d, clv_cfg)
    close = (~buy["alive"]) & (rng_buy.random(len(cust)) < _CLOSE_AFTER_DROPOUT)
    delay = rng_buy.exponential(_CLOSE_DELAY_DAYS, len(cust))
    closed_day = (
        np.floor(ep["start"][cust] + np.nan_to_num(buy["dropout_weeks"]) * 7 + delay).astype(
            np.int64
        )
        + 1
    )
    ep["end"][cust] = np.where(close & (closed_day < end_d), closed_day, _OPEN)
    ep["end"] = np.where(ep["end"] >= end_d, _OPEN, ep["end"])
    n_ep = len(ep["person"])

    # Silo ids: one account per (role, person, slot), numbered by first start.
    account_key = pd.DataFrame(
        {"role": ep["role"], "person": ep["person"], "slot": ep["slot"], "start": ep["start"]}
    )
    tiebreak = rng_ids.random(n_ep)
    account_key["tiebreak"] = tiebreak
    first = account_key.groupby(["role", "person", "slot"], sort=True).agg(
        start=("start", "min"), tiebreak=("tiebreak", "min")
    )
    first = first.reset_index().sort_values(["role", "start", "tiebreak"], kind="stable")
    first["number"] = first.groupby("role").cumcount() + 1
    id_format = {"customer": ("C", 6), "worker": ("W-", 5), "partner": ("P9", 4)}
    first["source_id"] = [
        f"{id_format[r][0]}{x:0{id_format[r][1]}d}"
        for r, x in zip(first["role"], first["number"], strict=True)
    ]
    merged = account_key.merge(
        first[["role", "person", "slot", "source_id"]], on=["role", "person", "slot"], how="left"
    )
    source_id = merged["source_id"].to_numpy(dtype=object)
    silo = pd.Series(ep["role"]).map(SILO_OF_ROLE).to_numpy(dtype=object)
    n_accounts = first.groupby("role").size().to_dict()

    start_ts = _to_ts(origin, ep["start"] * _DAY)
    end_ts = np.where(
        ep["end"] == _OPEN,
        np.datetime64("NaT", "ns"),
        _to_ts(origin, np.minimum(ep["end"], end_d) * _DAY),
    )

    # Keys and rosters --------------------------------------------------------
    keys = _person_keys(rng_keys, n, key_noise)
    rosters: dict[str, pd.DataFrame] = {}
    for s, role in ROLE_OF_SILO.items():
        rows = np.flatnonzero(ep["role"] == role)
        noisy = _noisy_keys(rng_keys, keys, ep["person"][rows], s, key_noise)
        id_col = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}[s]
        frame = pd.DataFrame(
            {
                id_col: _str(source_id[rows]),
                "email": _str(noisy["email"]),
                "phone": _str(noisy["phone"]),
                "birth_year": noisy["birth_year"].array,
                "start": start_ts[rows],
                "end": end_ts[rows],
                "engagement": _str(ep["engagement"][rows]),
            }
        )
        rosters[s] = frame.sort_values([id_col, "start"], kind="stable").reset_index(drop=True)

    # Observed part of each episode, in seconds since the window start.
    a_sec = np.maximum(ep["start"], 0) * _DAY
    b_sec = np.minimum(ep["end"], end_d) * _DAY
    role_arr = ep["role"]

    # Events -------------------------------------------------------------------
    ev_ep, ev_ts = _poisson_times(rng_ev, a_sec, b_sec, _lookup(_EVENT_RATE, role_arr))
    ev_type = np.empty(len(ev_ep), dtype=object)
    ev_tp = np.empty(len(ev_ep), dtype=object)
    for role in ("customer", "worker", "partner"):
        sel = role_arr[ev_ep] == role
        ev_type[sel] = _choice(rng_ev, _EVENT_TYPES[role], int(sel.sum()))
        ev_tp[sel] = _choice(rng_ev, _TOUCHPOINTS[role], int(sel.sum()))
    order = np.lexsort((np.arange(len(ev_ep)), ev_ts))
    ev_ep, ev_ts, ev_type, ev_tp = ev_ep[order], ev_ts[order], ev_type[order], ev_tp[order]
    events = pd.DataFrame(
        {
            "event_id": _str(_ids("E", np.arange(1, len(ev_ep) + 1), 7)),
            "silo": _take(silo, ev_ep),
            "source_id": _take(source_id, ev_ep),
            "timestamp": _to_ts(origin, ev_ts),
            "event_type": _str(ev_type),
            "touchpoint": _str(ev_tp),
        }
    )

    # Transactions ---------------------------------------------------------------
    n_cust = len(cust)
    tx_owner = np.concatenate([np.arange(n_cust), buy["owner"]])
    tx_sec = np.concatenate(
        [
            ep["start"][cust] * _DAY,
            ep["start"][cust][buy["owner"]] * _DAY
            + np.floor(buy["t_repeat"] * 7 * _DAY).astype(np.int64),
        ]
    )
    tx_sec = np.minimum(tx_sec, b_sec[cust][tx_owner] - 1)
    amount = rng_buy.gamma(clv_cfg["p"], 1.0 / buy["nu"][tx_owner])
    amount = np.maximum(np.round(amount, 2), 0.01)
    order = np.lexsort((np.arange(len(tx_owner)), tx_sec))
    tx_owner, tx_sec, amount = tx_owner[order], tx_sec[order], amount[order]
    transactions = pd.DataFrame(
        {
            "transaction_id": _str(_ids("T", np.arange(1, len(tx_owner) + 1), 7)),
            "silo": _str(np.full(len(tx_owner), "customers", dtype=object)),
            "source_id": _take(source_id, cust[tx_owner]),
            "timestamp": _to_ts(origin, tx_sec),
            "amount": amount.astype(float),
        }
    )

    # Tickets -----------------------------------------------------------------------
    tk_ep, tk_ts = _poisson_times(rng_tk, a_sec, b_sec, _lookup(_TICKET_RATE, role_arr))
    m_tk = len(tk_ep)
    team = np.empty(m_tk, dtype=object)
    tk_tp = np.empty(m_tk, dtype=object)
    for role in ("customer", "worker", "partner"):
        sel = role_arr[tk_ep] == role
        team[sel] = _choice(rng_tk, _TEAMS[role], int(sel.sum()))
        tk_tp[sel] = _choice(rng_tk, _TOUCHPOINTS[role], int(sel.sum()))
    severity = _choice(rng_tk, _SEVERITY_MIX, m_tk)
    factor = _lookup(_SEVERITY_FACTOR, severity)
    med_first = _lookup({t: v[0] for t, v in _TEAM_TIMES.items()}, team) * factor
    med_close = _lookup({t: v[1] for t, v in _TEAM_TIMES.items()}, team) * factor
    reopen_rate = _lookup({t: v[2] for t, v in _TEAM_TIMES.items()}, team)
    first_s = np.maximum(
        60, np.rint(med_first * 3600 * np.exp(_FIRST_RESPONSE_SIGMA * rng_tk.standard_normal(m_tk)))
    ).astype(np.int64)
    close_s = np.maximum(
        60, np.rint(med_close * 3600 * np.exp(_RESOLUTION_SIGMA * rng_tk.standard_normal(m_tk)))
    ).astype(np.int64)
    reopened = rng_tk.poisson(reopen_rate)
    first_at = tk_ts + first_s
    closed_at = first_at + close_s
    end_sec = end_d * _DAY
    nat = np.datetime64("NaT", "ns")
    order = np.lexsort((np.arange(m_tk), tk_ts))
    tickets = pd.DataFrame(
        {
            "ticket_id": _str(_ids("K", np.arange(1, m_tk + 1), 6)),
            "silo": _str(silo[tk_ep][order]),
            "source_id": _str(source_id[tk_ep][order]),
            "opened": _to_ts(origin, tk_ts[order]),
            "first_response": np.where(
                first_at[order] < end_sec, _to_ts(origin, first_at[order]), nat
            ),
            "closed": np.where(closed_at[order] < end_sec, _to_ts(origin, closed_at[order]), nat),
            "reopened": pd.array(reopened[order], dtype="Int64"),
            "severity": _str(severity[order]),
            "touchpoint": _str(tk_tp[order]),
            "team": _str(team[order]),
        }
    )

    # Survey responses ----------------------------------------------------------------
    exp_truth, cell_mu = _experience_truth(exp_cfg, archetype, ep)
    prop = _lookup(exp_cfg["propensity"], ep["engagement"])
    rate = _lookup(exp_cfg["survey_rate"], role_arr) * prop
    rel_ep, rel_ts = _poisson_times(rng_srv, a_sec, b_sec, rate)
    is_cust_event = (role_arr[ev_ep] == "customer") & np.isin(ev_type, _SURVEYED_EVENTS)
    asked = is_cust_event & (rng_srv.random(len(ev_ep)) < exp_cfg["transactional_share"])
    tr_ep = ev_ep[asked]
    tr_ts = np.minimum(
        ev_ts[asked] + np.floor(rng_srv.random(int(asked.sum())) * 2 * _DAY).astype(np.int64),
        b_sec[tr_ep] - 1,
    )
    tr_tp = ev_tp[asked]
    r_ep = np.concatenate([rel_ep, tr_ep])
    r_ts = np.concatenate([rel_ts, tr_ts])
    r_kind = np.concatenate([np.zeros(len(rel_ep), np.int64), np.ones(len(tr_ep), np.int64)])
    r_tp = np.concatenate([np.full(len(rel_ep), None, dtype=object), tr_tp])
    n_r = len(r_ep)

    # Latent experience of each answer: cell mean + person effect + occasion effect.
    person_effect = exp_cfg["person_sd"] * rng_srv.standard_normal(n)
    occ_sd = math.sqrt(1.0 - exp_cfg["person_sd"] ** 2)
    eta = cell_mu[r_ep] + person_effect[ep["person"][r_ep]] + occ_sd * rng_srv.standard_normal(n_r)
    scores = _score_responses(rng_srv, exp_cfg, eta, r_kind, r_tp, role_arr[r_ep])

    # Unattributable responses: unknown (legacy) ids and answers outside every episode.
    r_source = source_id[r_ep].copy()
    odd = rng_srv.random(n_r) < exp_cfg["unattributable_share"]
    want_outside = rng_srv.random(n_r) < 0.5
    acct = pd.DataFrame({"source_id": source_id, "start": ep["start"], "end": ep["end"]})
    span = acct.groupby("source_id").agg(lo=("start", "min"), hi=("end", "max"))
    lo = span["lo"].reindex(r_source).to_numpy()
    hi = span["hi"].reindex(r_source).to_numpy()
    after_ok = hi < end_d
    before_ok = lo > 0
    outside = odd & want_outside & (after_ok | before_ok)
    u = rng_srv.random(n_r)
    after_ts = (hi * _DAY + np.floor(u * (np.minimum(end_d, hi + 180) - hi) * _DAY)).astype(
        np.int64
    )
    before_lo = np.maximum(0, lo - 180)
    before_ts = (before_lo * _DAY + np.floor(u * (lo - before_lo) * _DAY)).astype(np.int64)
    r_ts = np.where(outside & after_ok, after_ts, np.where(outside & before_ok, before_ts, r_ts))
    unknown = odd & ~outside
    orphan_role = role_arr[r_ep][unknown]
    orphans = np.empty(int(unknown.sum()), dtype=object)
    for role in ("customer", "worker", "partner"):
        sel = orphan_role == role
        base = n_accounts.get(role, 0) + 1 + np.arange(int(sel.sum()))
        orphans[sel] = _ids(id_format[role][0], base, id_format[role][1])
    r_source[unknown] = orphans

    order = np.lexsort((np.arange(n_r), r_ts))
    rnum = np.empty(n_r, dtype=np.int64)
    rnum[order] = np.arange(1, n_r + 1)
    rid = _ids("R", rnum, 7)
    weight = np.round(1.0 / prop[r_ep], 4)
    resp = _long_responses(
        rid, rnum, r_ep, r_ts, r_kind, r_tp, scores, weight, silo, r_source, origin
    )

    unattributable = pd.DataFrame(
        {
            "response_id": _str(rid[odd]),
            "silo": _str(silo[r_ep][odd]),
            "source_id": _str(r_source[odd]),
            "person_id": _str(person_ids[ep["person"][r_ep][odd]]),
            "reason": _str(np.where(outside[odd], "outside_episode", "unknown_id")),
        }
    )
    unattributable = unattributable.iloc[np.argsort(rnum[odd], kind="stable")]
    unattributable = unattributable.reset_index(drop=True)

    # Truth ----------------------------------------------------------------------------
    episodes = pd.DataFrame(
        {
            "person_id": _str(person_ids[ep["person"]]),
            "role": _str(role_arr),
            "engagement": _str(ep["engagement"]),
            "start": start_ts,
            "end": end_ts,
            "silo": _str(silo),
            "source_id": _str(source_id),
        }
    )
    episodes = episodes.sort_values(["person_id", "start", "role"], kind="stable")
    episodes = episodes.reset_index(drop=True)
    cw = pd.DataFrame(
        {
            "silo": np.concatenate([silo, silo[r_ep][unknown]]),
            "source_id": np.concatenate([source_id, r_source[unknown]]),
            "person_id": np.concatenate(
                [person_ids[ep["person"]], person_ids[ep["person"][r_ep][unknown]]]
            ),
            "in_roster": np.concatenate([np.ones(n_ep, bool), np.zeros(int(unknown.sum()), bool)]),
        }
    ).drop_duplicates(["silo", "source_id"])
    cw = cw.sort_values(["silo", "source_id"]).reset_index(drop=True)
    crosswalk = pd.DataFrame(
        {
            "silo": _str(cw["silo"]),
            "source_id": _str(cw["source_id"]),
            "person_id": _str(cw["person_id"]),
            "in_roster": cw["in_roster"].to_numpy(dtype=bool),
        }
    )
    hybrids = hybrid_labels(episodes, persons=list(person_ids))
    hybrids["person_id"] = _str(hybrids["person_id"])
    arch_by_person = pd.Series(archetype, index=person_ids)
    hybrids["archetype"] = _str(arch_by_person.reindex(hybrids["person_id"]).to_numpy())

    keys_truth = pd.DataFrame(
        {
            "person_id": _str(person_ids),
            "email": _str(keys["email"]),
            "phone": _str(keys["phone"]),
            "birth_year": pd.array(keys["birth_year"].to_numpy(), dtype="Int64"),
            "anchor": _str(keys["anchor"]),
            "shares_phone_with": _str(
                np.where(
                    keys["share_with"].to_numpy() >= 0,
                    person_ids[np.maximum(keys["share_with"].to_numpy(), 0)],
                    None,
                )
            ),
        }
    )
    dropout = np.where(
        np.isnan(buy["dropout_weeks"]),
        np.datetime64("NaT", "ns"),
        _to_ts(
            origin,
            ep["start"][cust] * _DAY
            + np.floor(np.nan_to_num(buy["dropout_weeks"]) * 7 * _DAY).astype(np.int64),
        ),
    )
    latent = pd.DataFrame(
        {
            "person_id": _str(person_ids[ep["person"][cust]]),
            "silo": _str(np.full(n_cust, "customers", dtype=object)),
            "source_id": _str(source_id[cust]),
            "start": start_ts[cust],
            "lambda_": _sig(buy["lam"]),
            "p_dropout": _sig(buy["p"]),
            "nu": _sig(buy["nu"]),
            "mean_spend": _sig(clv_cfg["p"] / buy["nu"]),
            "alive": buy["alive"].astype(bool),
            "dropout": dropout,
            "n_repeat": buy["k"].astype(np.int64),
            "T_weeks": _sig(buy["t_weeks"]),
        }
    )
    latent = latent.sort_values(["source_id"]).reset_index(drop=True)
    clv_truth = ClvTruth(params={**clv_cfg, "time_unit": "weeks"}, latent=latent)

    truth = Truth(
        crosswalk=crosswalk,
        episodes=episodes,
        hybrids=hybrids,
        experience=exp_truth,
        clv=clv_truth,
        keys=keys_truth,
        unattributable=unattributable,
        service=_service_truth(),
    )
    return Organisation(
        customers=rosters["customers"],
        workers=rosters["workers"],
        partners=rosters["partners"],
        responses=resp,
        events=events,
        transactions=transactions,
        tickets=tickets,
        truth=truth,
        start=t0,
        end=t1,
        settings=settings,
    )


# --------------------------------------------------------------------------- experience


def _cell_mu(cfg: Mapping[str, Any], role: str, eng: str, arch: str) -> float:
    return float(
        cfg["role_mean"].get(role, 0.0)
        + cfg["engagement_shift"].get(eng, 0.0)
        + cfg["archetype_shift"].get(arch, {}).get(role, 0.0)
    )


def _experience_truth(
    cfg: Mapping[str, Any], archetype: np.ndarray, ep: Mapping[str, np.ndarray]
) -> tuple[ExperienceTruth, np.ndarray]:
    rows = []
    for role in ("customer", "worker", "partner"):
        for arch, roles in ARCHETYPE_ROLES.items():
            if role not in roles:
                continue
            for eng in ENGAGEMENTS[role]:
                if arch == "driver_partner_customer" and role == "partner" and eng != "driver":
                    continue
                if arch == "worker_partner" and role == "partner" and eng == "driver":
                    continue
                rows.append(
                    {
                        "role": role,
                        "engagement": eng,
                        "archetype": arch,
                        "hybrid": not arch.startswith("pure_"),
                        "mu": round(_cell_mu(cfg, role, eng, arch), 10),
                    }
                )
    latent_mean = pd.DataFrame(rows)
    for col in ("role", "engagement", "archetype"):
        latent_mean[col] = _str(latent_mean[col])

    # Per-episode cell mean (the same formula the table shows).
    ep_arch = archetype[ep["person"]]
    key = pd.MultiIndex.from_arrays([ep["role"], ep["engagement"], ep_arch])
    mu_lookup = pd.Series(
        latent_mean["mu"].to_numpy(),
        index=pd.MultiIndex.from_frame(
            latent_mean[["role", "engagement", "archetype"]].astype(object)
        ),
    )
    cell_mu = mu_lookup.reindex(key).to_numpy(dtype=float)

    mu = latent_mean["mu"].to_numpy()
    a = cfg["ltr_loading"]
    tau = _thresholds(cfg["ltr_baseline"], a)
    pmf = _ordinal_pmf(a * mu, math.sqrt(a**2 + 1), tau)
    nps = latent_mean.copy()
    for k in range(11):
        nps[f"p{k}"] = np.round(pmf[:, k], 10)
    nps["p_detractor"] = np.round(pmf[:, :7].sum(axis=1), 10)
    nps["p_passive"] = np.round(pmf[:, 7:9].sum(axis=1), 10)
    nps["p_promoter"] = np.round(pmf[:, 9:].sum(axis=1), 10)
    nps["nps"] = np.round(100 * (pmf[:, 9:].sum(axis=1) - pmf[:, :7].sum(axis=1)), 8)

    cust_cells = latent_mean[latent_mean["role"] == "customer"].reset_index(drop=True)
    frames = {}
    for inst, n_cat in (("csat", 5), ("ces", 7)):
        load = cfg[f"{inst}_loading"]
        thr = _thresholds(cfg[f"{inst}_baseline"], load)
        parts = []
        for tp, shift in cfg[f"{inst}_touchpoint_shift"].items():
            f = cust_cells.copy()
            f.insert(3, "touchpoint", tp)
            probs = _ordinal_pmf(load * f["mu"].to_numpy() + shift, math.sqrt(load**2 + 1), thr)
            for k in range(n_cat):
                f[f"p{k + 1}"] = np.round(probs[:, k], 10)
            f["mean"] = np.round(probs @ np.arange(1, n_cat + 1), 10)
            parts.append(f)
        out = pd.concat(parts, ignore_index=True)
        out["touchpoint"] = _str(out["touchpoint"])
        frames[inst] = out

    item_rows = []
    for role in ("customer", "worker", "partner"):
        shifts = cfg["hx_intercept_shift"].get(role, {})
        for j, item in enumerate(_HX_ITEMS):
            row = {
                "role": role,
                "item": item,
                "loading": cfg["hx_loadings"][j],
                "intercept": round(cfg["hx_intercepts"][j] + shifts.get(item, 0.0), 10),
                "residual_sd": cfg["hx_residual_sd"][j],
            }
            for k, t in enumerate(cfg["hx_thresholds"]):
                row[f"t{k + 1}"] = t
            item_rows.append(row)
    items = pd.DataFrame(item_rows)
    items["role"] = _str(items["role"])
    items["item"] = _str(items["item"])

    wrows = []
    for role in ("customer", "worker", "partner"):
        for eng in ENGAGEMENTS[role]:
            p = cfg["propensity"][eng]
            wrows.append(
                {"role": role, "engagement": eng, "propensity": p, "weight": round(1 / p, 4)}
            )
    weights = pd.DataFrame(wrows)
    weights["role"] = _str(weights["role"])
    weights["engagement"] = _str(weights["engagement"])

    truth = ExperienceTruth(
        params=copy.deepcopy(dict(cfg)),
        latent_mean=latent_mean,
        items=items,
        nps=nps,
        csat=frames["csat"],
        ces=frames["ces"],
        weights=weights,
    )
    return truth, cell_mu


def _score_responses(
    rng: np.random.Generator,
    cfg: Mapping[str, Any],
    eta: np.ndarray,
    kind: np.ndarray,
    touchpoint: np.ndarray,
    role: np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(eta)
    out: dict[str, np.ndarray] = {}
    a = cfg["ltr_loading"]
    tau = _thresholds(cfg["ltr_baseline"], a)
    out["ltr"] = np.searchsorted(tau, a * eta + rng.standard_normal(n)).astype(float)
    out["hx_asked"] = (kind == 0) & (rng.random(n) < cfg["hx_core_share"])
    thr = np.asarray(cfg["hx_thresholds"], dtype=float)
    noise = rng.standard_normal((n, len(_HX_ITEMS)))
    for j, item in enumerate(_HX_ITEMS):
        intercept = np.full(n, cfg["hx_intercepts"][j])
        for r, shifts in cfg["hx_intercept_shift"].items():
            intercept[role == r] += shifts.get(item, 0.0)
        y = intercept + cfg["hx_loadings"][j] * eta + cfg["hx_residual_sd"][j] * noise[:, j]
        out[item] = 1.0 + np.searchsorted(thr, y)
    for inst in ("csat", "ces"):
        load = cfg[f"{inst}_loading"]
        t = _thresholds(cfg[f"{inst}_baseline"], load)
        shift = np.zeros(n)
        tp = np.asarray(touchpoint, dtype=object)
        for name, value in cfg[f"{inst}_touchpoint_shift"].items():
            shift[tp == name] = value
        out[inst] = 1.0 + np.searchsorted(t, load * eta + shift + rng.standard_normal(n))
    return out


def _long_responses(
    rid: np.ndarray,
    rnum: np.ndarray,
    r_ep: np.ndarray,
    r_ts: np.ndarray,
    kind: np.ndarray,
    touchpoint: np.ndarray,
    scores: Mapping[str, np.ndarray],
    weight: np.ndarray,
    silo: np.ndarray,
    source: np.ndarray,
    origin: np.datetime64,
) -> pd.DataFrame:
    # (instrument, item, score key, which responses carry it), in item order.
    spec: list[tuple[str, str, str, np.ndarray]] = [
        ("nps", "ltr", "ltr", kind == 0),
        *[("hx_core", item, item, scores["hx_asked"]) for item in _HX_ITEMS],
        ("csat", "overall", "csat", kind == 1),
        ("ces", "effort", "ces", kind == 1),
    ]
    # Row k of the long table: response idx[k], spec entry rank[k] (also the item order).
    sel = [np.flatnonzero(mask) for _, _, _, mask in spec]
    idx = np.concatenate(sel)
    rank = np.concatenate([np.full(len(x), k) for k, x in enumerate(sel)])
    score = np.concatenate([scores[key][x] for (_, _, key, _), x in zip(spec, sel, strict=True)])
    order = np.lexsort((rank, rnum[idx]))
    idx, rank, score = idx[order], rank[order], score[order]
    return pd.DataFrame(
        {
            "response_id": _take(rid, idx),
            "silo": _take(silo, r_ep[idx]),
            "source_id": _take(source, idx),
            "instrument": _take([x[0] for x in spec], rank),
            "item": _take([x[1] for x in spec], rank),
            "score": score.astype(float),
            "timestamp": _to_ts(origin, r_ts[idx]),
            "weight": weight[idx].astype(float),
            "touchpoint": _take(touchpoint, idx),
        }
    )


def _service_truth() -> pd.DataFrame:
    rows = []
    for team, (first, close, reopen) in _TEAM_TIMES.items():
        for sev, f in _SEVERITY_FACTOR.items():
            rows.append(
                {
                    "team": team,
                    "severity": sev,
                    "median_first_response_hours": round(first * f, 10),
                    "first_response_sigma": _FIRST_RESPONSE_SIGMA,
                    "median_resolution_hours": round(close * f, 10),
                    "resolution_sigma": _RESOLUTION_SIGMA,
                    "reopen_rate": reopen,
                }
            )
    out = pd.DataFrame(rows)
    out["team"] = _str(out["team"])
    out["severity"] = _str(out["severity"])
    return out


_ = LABELS  # re-exported through the package for tests and docs
