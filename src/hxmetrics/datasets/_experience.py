"""Survey answers of the simulated persons from a one-factor experience model.

Each answer's latent experience is the mean of its (role, engagement, archetype)
cell plus a person effect and an occasion effect; items are ordinal cuts of it
(NPS likelihood to recommend, the HX index items, CSAT, CES). Relationship surveys
are a Poisson process per episode, transactional ones follow customer events. A
small share is unattributable (an unknown id or a time outside every episode).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hxmetrics.tables import ENGAGEMENTS

from ._draws import _ids, _lookup, _poisson_times, _str, _take, _to_ts
from ._model import ExperienceTruth
from ._recipe import (
    _DAY,
    _FOLLOW_UP_DELAY_MEDIAN_HOURS,
    _FOLLOW_UP_DELAY_SIGMA,
    _FOLLOW_UP_LEVEL_LOG_ODDS,
    _FOLLOW_UP_PROBABILITY,
    _FOLLOW_UP_ROLE_FACTOR,
    _FOLLOW_UP_TOUCHPOINT,
    _HX_ITEMS,
    _ID_FORMAT,
    _SURVEYED_EVENTS,
    ARCHETYPE_ROLES,
)


def _ordinal_pmf(mean: np.ndarray, sd: float, thresholds: np.ndarray) -> np.ndarray:
    """P(category k) when y ~ N(mean, sd) is cut at ``thresholds`` (rows: means)."""
    cut = np.concatenate([[-np.inf], thresholds, [np.inf]])
    from scipy.special import ndtr  # here: scipy is most of the package's import time

    cdf = ndtr((cut[None, :] - np.asarray(mean)[:, None]) / sd)
    out: np.ndarray = np.diff(cdf, axis=1)
    return out


def _thresholds(baseline: list[float], loading: float) -> np.ndarray:
    """Cut points that give ``baseline`` when the latent mean is 0."""
    cum = np.cumsum(baseline)[:-1]
    from scipy.special import ndtri

    out: np.ndarray = ndtri(cum) * math.sqrt(loading**2 + 1.0)
    return out


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


def _score_draws(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The noise of every score of ``n`` answers (the draws of the scoring, in order)."""
    return {
        "ltr": rng.standard_normal(n),
        "hx_u": rng.random(n),
        "hx": rng.standard_normal((n, len(_HX_ITEMS))),
        "csat": rng.standard_normal(n),
        "ces": rng.standard_normal(n),
    }


def _score_responses(
    cfg: Mapping[str, Any],
    eta: np.ndarray,
    kind: np.ndarray,
    touchpoint: np.ndarray,
    role: np.ndarray,
    draws: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    n = len(eta)
    out: dict[str, np.ndarray] = {}
    a = cfg["ltr_loading"]
    tau = _thresholds(cfg["ltr_baseline"], a)
    out["ltr"] = np.searchsorted(tau, a * eta + draws["ltr"]).astype(float)
    out["hx_asked"] = (kind == 0) & (draws["hx_u"] < cfg["hx_core_share"])
    thr = np.asarray(cfg["hx_thresholds"], dtype=float)
    noise = draws["hx"]
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
        out[inst] = 1.0 + np.searchsorted(t, load * eta + shift + draws[inst])
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


def _responses(
    rng: np.random.Generator,
    exp_cfg: Mapping[str, Any],
    archetype: np.ndarray,
    ep: Mapping[str, np.ndarray],
    events: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    a_sec: np.ndarray,
    b_sec: np.ndarray,
    end_d: int,
    silo: np.ndarray,
    source_id: np.ndarray,
    n_accounts: Mapping[str, int],
    person_ids: np.ndarray,
    origin: np.datetime64,
    follow_up: tuple[np.random.Generator, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, ExperienceTruth, pd.DataFrame, _FollowUps]:
    """Long survey answers, the unattributable ones, the experience truth, the
    unknown ids' records (``silo``, ``source_id``, ``person_id``) for the crosswalk
    and the follow-ups (events and truth; empty unless ``follow_up`` gives their
    random stream and effect)."""
    n = len(person_ids)
    role_arr = ep["role"]
    ev_ep, ev_ts, ev_type, ev_tp = events
    exp_truth, cell_mu = _experience_truth(exp_cfg, archetype, ep)
    prop = _lookup(exp_cfg["propensity"], ep["engagement"])
    rate = _lookup(exp_cfg["survey_rate"], role_arr) * prop
    rel_ep, rel_ts = _poisson_times(rng, a_sec, b_sec, rate)
    is_cust_event = (role_arr[ev_ep] == "customer") & np.isin(ev_type, _SURVEYED_EVENTS)
    asked = is_cust_event & (rng.random(len(ev_ep)) < exp_cfg["transactional_share"])
    tr_ep = ev_ep[asked]
    tr_ts = np.minimum(
        ev_ts[asked] + np.floor(rng.random(int(asked.sum())) * 2 * _DAY).astype(np.int64),
        b_sec[tr_ep] - 1,
    )
    tr_tp = ev_tp[asked]
    r_ep = np.concatenate([rel_ep, tr_ep])
    r_ts = np.concatenate([rel_ts, tr_ts])
    r_kind = np.concatenate([np.zeros(len(rel_ep), np.int64), np.ones(len(tr_ep), np.int64)])
    r_tp = np.concatenate([np.full(len(rel_ep), None, dtype=object), tr_tp])
    n_r = len(r_ep)

    # Latent experience of each answer: cell mean + person effect + occasion effect.
    person_effect = exp_cfg["person_sd"] * rng.standard_normal(n)
    occ_sd = math.sqrt(1.0 - exp_cfg["person_sd"] ** 2)
    eta = cell_mu[r_ep] + person_effect[ep["person"][r_ep]] + occ_sd * rng.standard_normal(n_r)
    draws = _score_draws(rng, n_r)
    scores = _score_responses(exp_cfg, eta, r_kind, r_tp, role_arr[r_ep], draws)

    # Unattributable responses: unknown (legacy) ids and answers outside every episode.
    r_source = source_id[r_ep].copy()
    odd = rng.random(n_r) < exp_cfg["unattributable_share"]
    want_outside = rng.random(n_r) < 0.5
    acct = pd.DataFrame({"source_id": source_id, "start": ep["start"], "end": ep["end"]})
    span = acct.groupby("source_id").agg(lo=("start", "min"), hi=("end", "max"))
    lo = span["lo"].reindex(r_source).to_numpy()
    hi = span["hi"].reindex(r_source).to_numpy()
    after_ok = hi < end_d
    before_ok = lo > 0
    outside = odd & want_outside & (after_ok | before_ok)
    u = rng.random(n_r)
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
        orphans[sel] = _ids(_ID_FORMAT[role][0], base, _ID_FORMAT[role][1])
    r_source[unknown] = orphans

    order = np.lexsort((np.arange(n_r), r_ts))
    rnum = np.empty(n_r, dtype=np.int64)
    rnum[order] = np.arange(1, n_r + 1)
    rid = _ids("R", rnum, 7)
    fu = _empty_follow_ups()
    if follow_up is not None:
        fu_rng, effect = follow_up
        fu = _follow_ups(
            fu_rng,
            effect,
            exp_cfg,
            eta,
            person_effect[ep["person"][r_ep]] / exp_cfg["person_sd"]
            if exp_cfg["person_sd"] > 0
            else np.zeros(n_r),
            r_kind,
            r_tp,
            role_arr[r_ep],
            draws,
            scores,
            r_ts,
            silo[r_ep],
            r_source,
            rid,
            end_d * _DAY,
            origin,
        )
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
    orphans_truth = pd.DataFrame(
        {
            "silo": silo[r_ep][unknown],
            "source_id": r_source[unknown],
            "person_id": person_ids[ep["person"][r_ep][unknown]],
        }
    )
    return resp, unattributable, exp_truth, orphans_truth, fu


def _follow_up_probability(base: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The probability of a follow-up: the odds of ``base`` (by score and role) times
    ``exp(-_FOLLOW_UP_LEVEL_LOG_ODDS * level)``, ``level`` the person's persistent
    level in sd units (0 stays 0)."""
    odds = base / (1.0 - base) * np.exp(-_FOLLOW_UP_LEVEL_LOG_ODDS * level)
    out: np.ndarray = odds / (1.0 + odds)
    return out


class _FollowUps(NamedTuple):
    """Follow-up events (the events table's columns) and their truth."""

    events: pd.DataFrame
    truth: pd.DataFrame
    att_next_ltr: float | None


_FOLLOW_UP_COLUMNS = {
    "response_id": "str",
    "silo": "str",
    "source_id": "str",
    "ltr": "int64",
    "probability": "float64",
    "level": "float64",
    "followed_up": "bool",
    "event_id": "str",
    "follow_up_at": "datetime64[ns]",
    "next_response_id": "str",
    "effect_applied": "bool",
    "expected_next_ltr_change": "float64",
}


def _empty_follow_ups() -> _FollowUps:
    # Without follow-ups the truth frame keeps the columns it had before ``level``
    # came (the committed sample, simulated without follow-ups, stays byte-identical).
    truth = pd.DataFrame(
        {c: pd.Series([], dtype=t) for c, t in _FOLLOW_UP_COLUMNS.items() if c != "level"}
    )
    events = pd.DataFrame(
        {
            c: pd.Series([], dtype="datetime64[ns]" if c == "timestamp" else "str")
            for c in ("event_id", "silo", "source_id", "timestamp", "event_type", "touchpoint")
        }
    )
    return _FollowUps(events, truth, None)


def _follow_ups(
    rng: np.random.Generator,
    effect: float,
    cfg: Mapping[str, Any],
    eta: np.ndarray,
    level: np.ndarray,
    kind: np.ndarray,
    touchpoint: np.ndarray,
    role: np.ndarray,
    draws: Mapping[str, np.ndarray],
    scores: dict[str, np.ndarray],
    r_ts: np.ndarray,
    r_silo: np.ndarray,
    r_source: np.ndarray,
    rid: np.ndarray,
    end_sec: int,
    origin: np.datetime64,
) -> _FollowUps:
    """Follow up relationship answers and shift the next answer of those followed up.

    Answers are taken in order within each silo id: an answer's score (after any
    shift from an earlier follow-up) and the person's persistent ``level`` (person
    effect in sd units) decide whether it is followed up, with the probability of its
    likelihood to recommend times the role's factor, its odds times
    ``exp(-_FOLLOW_UP_LEVEL_LOG_ODDS * level)`` (the confounding: see ``_recipe``); a
    follow-up before the window end is recorded; one before the id's next relationship
    answer adds ``effect`` to that answer's latent experience. ``scores`` is updated in
    place (only the shifted answers are re-scored, with their own noise).
    """
    from scipy.special import ndtr

    rel = np.flatnonzero(kind == 0)
    grp = pd.factorize(
        pd.Series(r_silo[rel], dtype=object) + "\x1f" + pd.Series(r_source[rel], dtype=object)
    )[0]
    o = np.lexsort((rel, r_ts[rel], grp))
    idx, grp = rel[o], grp[o]
    m = len(idx)
    same_next = np.r_[grp[1:] == grp[:-1], False] if m else np.zeros(0, bool)
    nxt = np.where(same_next, np.r_[idx[1:], -1] if m else idx, -1)
    starts = np.r_[True, grp[1:] != grp[:-1]] if m else np.zeros(0, bool)
    rank = np.arange(m) - np.maximum.accumulate(np.where(starts, np.arange(m), 0))
    u = rng.random(m)
    delay = np.rint(
        _FOLLOW_UP_DELAY_MEDIAN_HOURS
        * 3600
        * np.exp(_FOLLOW_UP_DELAY_SIGMA * rng.standard_normal(m))
    ).astype(np.int64)
    a = cfg["ltr_loading"]
    tau = _thresholds(cfg["ltr_baseline"], a)
    prob_by_ltr = np.asarray(_FOLLOW_UP_PROBABILITY, dtype=float)
    factor = _lookup(_FOLLOW_UP_ROLE_FACTOR, role[idx]) if m else np.zeros(0)
    shift = np.zeros(len(eta))
    ltr = np.zeros(m, dtype=np.int64)
    prob = np.zeros(m)
    followed = np.zeros(m, dtype=bool)
    applied = np.zeros(m, dtype=bool)
    at = r_ts[idx] + delay
    for k in range(int(rank.max()) + 1 if m else 0):
        pos = np.flatnonzero(rank == k)
        i = idx[pos]
        ltr[pos] = np.searchsorted(tau, a * (eta[i] + shift[i]) + draws["ltr"][i])
        prob[pos] = _follow_up_probability(prob_by_ltr[ltr[pos]] * factor[pos], level[i])
        followed[pos] = (u[pos] < prob[pos]) & (at[pos] < end_sec)
        nx = nxt[pos]
        ok = followed[pos] & (nx >= 0)
        ok[ok] = at[pos][ok] < r_ts[nx[ok]]
        applied[pos] = ok
        shift[nx[ok]] = effect
    hit = np.flatnonzero(shift != 0)
    if len(hit):
        sub = _score_responses(
            cfg,
            eta[hit] + shift[hit],
            kind[hit],
            touchpoint[hit],
            role[hit],
            {key: v[hit] for key, v in draws.items()},
        )
        for key, values in sub.items():
            scores[key][hit] = values
    # Expected change of the next likelihood to recommend: sum_k P(ltr > k) moves
    # from Phi(a eta - tau_k) to Phi(a (eta + effect) - tau_k).
    change = np.zeros(m)
    nx_a = nxt[applied]
    change[applied] = (
        ndtr(a * (eta[nx_a] + effect)[:, None] - tau[None, :])
        - ndtr(a * eta[nx_a][:, None] - tau[None, :])
    ).sum(axis=1)

    f_pos = np.flatnonzero(followed)
    f_order = f_pos[np.lexsort((idx[f_pos], at[f_pos]))]
    event_id = np.full(m, None, dtype=object)
    event_id[f_order] = _ids("F", np.arange(1, len(f_order) + 1), 7)
    f_role = role[idx[f_order]]
    events = pd.DataFrame(
        {
            "event_id": _str(event_id[f_order]),
            "silo": _str(r_silo[idx[f_order]]),
            "source_id": _str(r_source[idx[f_order]]),
            "timestamp": _to_ts(origin, at[f_order]),
            "event_type": _str(np.full(len(f_order), "follow_up", dtype=object)),
            "touchpoint": _str(
                np.array([_FOLLOW_UP_TOUCHPOINT[str(r)] for r in f_role], dtype=object)
            ),
        }
    )
    keep = np.flatnonzero(prob > 0)
    keep = keep[np.argsort(rid[idx[keep]], kind="stable")]
    nat = np.datetime64("NaT", "ns")
    next_id = np.full(m, None, dtype=object)
    next_id[nxt >= 0] = rid[nxt[nxt >= 0]]
    truth = pd.DataFrame(
        {
            "response_id": _str(rid[idx[keep]]),
            "silo": _str(r_silo[idx[keep]]),
            "source_id": _str(r_source[idx[keep]]),
            "ltr": ltr[keep].astype(np.int64),
            "probability": np.round(prob[keep], 10),
            "level": np.round(level[idx[keep]], 10),
            "followed_up": followed[keep],
            "event_id": _str(event_id[keep]),
            "follow_up_at": np.where(followed[keep], _to_ts(origin, at[keep]), nat),
            "next_response_id": _str(next_id[keep]),
            "effect_applied": applied[keep],
            "expected_next_ltr_change": np.round(change[keep], 10),
        }
    )
    att = float(change[applied].mean()) if applied.any() else None
    return _FollowUps(events, truth, att)
