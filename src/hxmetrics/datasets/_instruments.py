"""Simulation step "instruments": the zero-distance and customer-centricity banks answered.

One survey wave: every person in a role episode that spans the wave answers with a
role's response rate, at a uniform time in the wave, about one touchpoint (drawn
uniformly among the touchpoints owned by some team at that time, from ``org.teams`` or,
without it, a default ledger made from the tickets: each touchpoint owned by the team
that handles most of its tickets). Workers answer the worker variant of the
zero-distance items (a self-assessment of the team that owns their touchpoint) and the
customer-centricity items; customers and partners answer their variants (their
experience of the team that served them).

Answers come from a factor model per practice (one factor per practice, practices
correlated ``factor_correlation``): ``eta = mu[role side, team, practice] + factor``,
``y_j = intercept_j + loading_j * eta + residual_sd_j * e``, answer ``1 + #{k: y_j >
t_k}`` on 1-5 (reverse-keyed items are written reflected, ``6 - answer``). A team's
level is shared by both sides (``team_sd``); one team, ``gap_team``, rates itself
``gap[practice]`` higher (latent units) than the people it serves experience it; every
other team's gap is 0. The expected subscale scores (and so the gap a method should
recover, on the scale of the answers) are exact: ``E[answer_j] = 1 + sum_k Phi((nu_j +
lambda_j mu - t_k) / sqrt(lambda_j^2 + sd_j^2))``. ``non_invariant`` adds an intercept
shift to named items for workers only: a scalar non-invariance that makes the worker
and served means of that practice incomparable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError

from ._draws import _ids, _str
from ._model import Organisation

__all__ = ["DEFAULT_GAP", "add_instruments"]

#: Latent gap (self minus served, in sd of the practice factor) of the gap team.
DEFAULT_GAP: dict[str, float] = {
    "access_autonomy": 0.8,
    "accountability": 0.5,
    "no_barriers": 0.3,
    "feedback_value": 1.0,
    "fast_teams": 0.0,
    "ecosystem": 0.6,
}
#: Latent means of the customer-centricity dimensions (workers).
DEFAULT_CC_MEANS: dict[str, float] = {
    "culture": 0.3,
    "talent": -0.2,
    "incentive": -0.6,
    "customer_relationship": 0.4,
    "product": 0.1,
    "strategy": 0.0,
    "process": -0.4,
    "organisation": -0.2,
}
DEFAULT_RESPONSE_RATE: dict[str, float] = {"worker": 0.8, "customer": 0.5, "partner": 0.7}
_THRESHOLDS = (1.5, 2.5, 3.5, 4.5)
#: Loadings and intercepts cycle through these (fixed, so every run shares the items).
_LOADINGS = (1.0, 0.8, 1.1, 0.9)
_INTERCEPTS = (3.1, 2.9, 3.2, 2.8)
_RESIDUAL_SD = 0.55
_WAVE_DAYS = 21
_SERVED_BASE = 0.0
_SKIP = 0.02


def _ledger(org: Organisation) -> pd.DataFrame:
    """``org.teams``, or one spell per ticket touchpoint owned by its most frequent team."""
    if org.teams is not None:
        out = org.teams[["team", "touchpoint", "valid_from", "valid_to"]].copy()
        out["valid_from"] = pd.to_datetime(out["valid_from"])
        out["valid_to"] = pd.to_datetime(out["valid_to"])
        return out.reset_index(drop=True)
    counts = org.tickets.groupby(["touchpoint", "team"]).size().rename("n").reset_index()
    counts = counts.sort_values(["touchpoint", "n", "team"], ascending=[True, False, True])
    top = counts.drop_duplicates("touchpoint")
    return pd.DataFrame(
        {
            "team": _str(top["team"].to_numpy()),
            "touchpoint": _str(top["touchpoint"].to_numpy()),
            "valid_from": pd.Series([org.start] * len(top), dtype="datetime64[ns]"),
            "valid_to": pd.Series([pd.NaT] * len(top), dtype="datetime64[ns]"),
        }
    )


def _owners(ledger: pd.DataFrame, tps: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Owner code (index into the ledger's teams) of each touchpoint at each time; -1."""
    teams = np.asarray(sorted(ledger["team"].astype(str).unique()), dtype=object)
    out = np.full((len(t), len(tps)), -1, dtype=np.int64)
    code = {name: i for i, name in enumerate(teams)}
    tp_index = {name: j for j, name in enumerate(tps)}
    starts = pd.to_datetime(ledger["valid_from"]).to_numpy(dtype="datetime64[ns]")
    ends = pd.to_datetime(ledger["valid_to"]).to_numpy(dtype="datetime64[ns]")
    names = ledger["team"].astype(str).to_numpy(dtype=object)
    points = ledger["touchpoint"].astype(str).to_numpy(dtype=object)
    for k in range(len(ledger)):  # one pass per ownership spell
        inside = t >= starts[k]
        if not np.isnat(ends[k]):
            inside &= t < ends[k]
        out[inside, tp_index[str(points[k])]] = code[str(names[k])]
    return out


def _expected(mu: np.ndarray, intercept: np.ndarray, loading: np.ndarray) -> np.ndarray:
    """E[answer] of items (columns) at latent means ``mu`` (rows), factor variance 1."""
    from scipy.special import ndtr

    sd = np.sqrt(loading**2 + _RESIDUAL_SD**2)
    lin = intercept[None, :] + loading[None, :] * mu[:, None]
    out: np.ndarray = 1.0 + sum(ndtr((lin - t) / sd[None, :]) for t in _THRESHOLDS)
    return out


def _answers(
    rng: np.random.Generator,
    eta: np.ndarray,
    intercept: np.ndarray,
    loading: np.ndarray,
) -> np.ndarray:
    """Ordinal answers; ``intercept`` broadcasts against ``eta`` (rows: respondents)."""
    y = intercept + loading[None, :] * eta + _RESIDUAL_SD * rng.standard_normal(eta.shape)
    out: np.ndarray = 1.0 + np.searchsorted(np.asarray(_THRESHOLDS), y.ravel()).reshape(y.shape)
    return out


def _factors(rng: np.random.Generator, n: int, k: int, rho: float) -> np.ndarray:
    g = rng.standard_normal((n, 1))
    out: np.ndarray = math.sqrt(rho) * g + math.sqrt(1.0 - rho) * rng.standard_normal((n, k))
    return out


def add_instruments(
    org: Organisation,
    *,
    random_state: int | np.random.Generator | None = None,
    wave: Any = None,
    response_rate: Mapping[str, float] | None = None,
    gap: Mapping[str, float] | None = None,
    gap_team: str | None = None,
    team_sd: float = 0.3,
    factor_correlation: float = 0.4,
    non_invariant: Mapping[str, float] | None = None,
    customer_centricity: bool = True,
) -> Organisation:
    """Add answers to the ``zero_distance`` and ``customer_centricity`` banks.

    Parameters
    ----------
    org : Organisation
        With or without ``teams`` (without: a default ledger from the tickets).
    random_state : int or numpy Generator
    wave : timestamp, optional
        Start of the 21-day survey wave; default 60 days before ``org.end``.
    response_rate : mapping, optional
        Role -> share of the people in a role episode spanning the wave who answer
        (default worker 0.8, customer 0.5, partner 0.7).
    gap : mapping, optional
        Practice -> latent gap (self minus served) of ``gap_team``; default
        :data:`DEFAULT_GAP`.
    gap_team : str, optional
        Default: the team owning the most touchpoints at the wave's start (ties: the
        first in sorted order).
    team_sd : float
        Sd of the team levels (shared by both sides).
    factor_correlation : float
        Correlation of the practice factors (and of the dimensions).
    non_invariant : mapping, optional
        Item -> intercept shift for workers only (scalar non-invariance).
    customer_centricity : bool
        Also let workers answer the customer-centricity bank.

    Returns
    -------
    Organisation
        A copy with the new rows appended to ``responses`` (new ``response_id`` values
        continuing the ``R`` numbering; ``touchpoint`` set; ``weight`` 1) and
        ``truth.planted["instruments"]``: ``gap`` (per team and practice:
        ``self_mean``, ``served_mean``, ``gap`` on the answers' scale, ``latent_gap``),
        ``gap_team``, ``items`` (item parameters), ``customer_centricity`` (expected
        worker scores per dimension), ``teams`` (the ledger used), ``wave_start``,
        ``wave_end``, ``n_respondents`` per role, and the settings.

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = simulate_organisation(n_people=300, random_state=1)
    >>> new = add_instruments(org, random_state=2)
    >>> sorted(set(new.responses["instrument"]) - set(org.responses["instrument"]))
    ['customer_centricity', 'zero_distance']
    """
    from hxmetrics.instruments import load_bank
    from hxmetrics.measures._inference import check_random_state

    rng = check_random_state(random_state)
    rates = {**DEFAULT_RESPONSE_RATE, **dict(response_rate or {})}
    gaps = {**DEFAULT_GAP, **dict(gap or {})}
    shifts = dict(non_invariant or {})
    cat = load_bank("zero_distance", "customer_centricity")
    zd_subs = cat.subscales("zero_distance")
    cc_subs = cat.subscales("customer_centricity")
    unknown = sorted(set(gaps) - set(zd_subs))
    if unknown:
        raise ParameterError(f"gap names unknown practice(s) {unknown}; practices: {list(zd_subs)}")
    zd_items = [i for its in zd_subs.values() for i in its]
    bad_items = sorted(set(shifts) - set(zd_items))
    if bad_items:
        raise ParameterError(f"non_invariant names unknown zero_distance item(s) {bad_items}")

    start = pd.Timestamp(wave) if wave is not None else org.end - pd.Timedelta(days=60)
    end = start + pd.Timedelta(days=_WAVE_DAYS)
    if not (org.start <= start and end <= org.end):
        raise ParameterError(
            f"the wave [{start}, {end}) must lie in the window [{org.start}, {org.end})."
        )

    ledger = _ledger(org)
    teams_sorted = np.asarray(sorted(ledger["team"].astype(str).unique()), dtype=object)
    tps = np.asarray(sorted(ledger["touchpoint"].astype(str).unique()), dtype=object)
    at_start = _owners(ledger, tps, np.array([np.datetime64(start, "ns")]))[0]
    if (at_start < 0).all():
        raise ParameterError("no team owns a touchpoint at the wave's start.")
    if gap_team is None:
        owned = np.bincount(at_start[at_start >= 0], minlength=len(teams_sorted))
        gap_team = str(teams_sorted[int(np.argmax(owned))])
    if gap_team not in set(teams_sorted):
        raise ParameterError(
            f"gap_team {gap_team!r} is not a team of the ledger {list(teams_sorted)}."
        )

    # Respondents: role episodes spanning the wave, each answering with its role's rate.
    ep = org.truth.episodes
    spans = (ep["start"] <= start) & (ep["end"].isna() | (ep["end"] > end))
    ep = ep[spans.to_numpy(dtype=bool)].reset_index(drop=True)
    role = ep["role"].astype(str).to_numpy(dtype=object)
    answers = rng.random(len(ep)) < np.array([rates[r] for r in role])
    ep, role = ep[answers].reset_index(drop=True), role[answers]
    n = len(ep)
    origin = np.datetime64(start, "ns")
    t = origin + (rng.random(n) * _WAVE_DAYS * 86400).astype("timedelta64[s]").astype(
        "timedelta64[ns]"
    )
    own = _owners(ledger, tps, t.astype("datetime64[ns]"))
    pick = np.where(own >= 0, rng.random(own.shape), np.inf).argmin(axis=1)
    owner = own[np.arange(n), pick]
    ok = owner >= 0
    ep, role, t, pick, owner = ep[ok].reset_index(drop=True), role[ok], t[ok], pick[ok], owner[ok]
    n = len(ep)
    is_self = role == "worker"

    # Latent means: team level (both sides) + the gap team's self-assessment lift.
    team_level = team_sd * rng.standard_normal(len(teams_sorted))
    gap_code = int(np.flatnonzero(teams_sorted == gap_team)[0])
    subs = list(zd_subs)
    gap_vec = np.array([gaps[s] for s in subs])
    mu = _SERVED_BASE + team_level[owner][:, None] + np.zeros((n, len(subs)))
    mu[is_self & (owner == gap_code)] += gap_vec
    eta_p = mu + _factors(rng, n, len(subs), factor_correlation)

    item_sub = np.array([s for s, its in zd_subs.items() for _ in its], dtype=object)
    sub_col = np.array([subs.index(s) for s in item_sub])
    pos_in = np.concatenate([np.arange(len(its)) for its in zd_subs.values()])
    loading = np.array([_LOADINGS[k % 4] for k in pos_in])
    intercept = np.array([_INTERCEPTS[k % 4] for k in pos_in])
    shift = np.array([shifts.get(i, 0.0) for i in zd_items])
    reverse = np.array([cat.item("zero_distance", i).reverse_keyed for i in zd_items])
    eta = eta_p[:, sub_col]
    icpt = intercept[None, :] + np.where(is_self[:, None], shift[None, :], 0.0)
    zd = _answers(rng, eta, icpt, loading)
    zd_scores = np.where(reverse[None, :], 6.0 - zd, zd)

    # Expected subscale scores per team and side (exact; see the module).
    rows = []
    for k_team, name in enumerate(teams_sorted):
        for j, s in enumerate(subs):
            cols = np.flatnonzero(sub_col == j)
            served_mu = np.array([_SERVED_BASE + team_level[k_team]])
            self_mu = served_mu + (gap_vec[j] if k_team == gap_code else 0.0)
            e_served = float(_expected(served_mu, intercept[cols], loading[cols]).mean())
            e_self = float(_expected(self_mu, intercept[cols] + shift[cols], loading[cols]).mean())
            rows.append(
                {
                    "team": name,
                    "subscale": s,
                    "self_mean": round(e_self, 10),
                    "served_mean": round(e_served, 10),
                    "gap": round(e_self - e_served, 10),
                    "latent_gap": float(gap_vec[j]) if k_team == gap_code else 0.0,
                    "non_invariant": bool(np.any(shift[cols] != 0)),
                }
            )
    planted_gap = pd.DataFrame(rows)
    items_truth = pd.DataFrame(
        {
            "instrument": "zero_distance",
            "item": zd_items,
            "subscale": item_sub,
            "loading": loading,
            "intercept": intercept,
            "residual_sd": _RESIDUAL_SD,
            "reverse_keyed": reverse,
            "worker_intercept_shift": shift,
        }
    )

    # Long rows: zero_distance for everyone, customer_centricity for workers.
    blocks = [("zero_distance", np.arange(n), zd_items, zd_scores)]
    cc_truth = None
    if customer_centricity and is_self.any():
        w = np.flatnonzero(is_self)
        dims = list(cc_subs)
        cc_items = [i for its in cc_subs.values() for i in its]
        dim_col = np.array([dims.index(s) for s, its in cc_subs.items() for _ in its])
        k_in = np.concatenate([np.arange(len(its)) for its in cc_subs.values()])
        cc_load = np.array([_LOADINGS[k % 4] for k in k_in])
        cc_icpt = np.array([_INTERCEPTS[k % 4] for k in k_in])
        cc_mu = np.array([DEFAULT_CC_MEANS[d] for d in dims])
        cc_eta = (cc_mu[None, :] + _factors(rng, len(w), len(dims), factor_correlation))[:, dim_col]
        cc = _answers(rng, cc_eta, cc_icpt[None, :], cc_load)
        cc_rev = np.array([cat.item("customer_centricity", i).reverse_keyed for i in cc_items])
        blocks.append(("customer_centricity", w, cc_items, np.where(cc_rev[None, :], 6.0 - cc, cc)))
        expected = _expected(cc_mu, cc_icpt, cc_load)  # (dims x items)
        cc_truth = pd.DataFrame(
            {
                "subscale": dims,
                "latent_mean": cc_mu,
                "expected_score": [
                    round(float(expected[d, dim_col == d].mean()), 10) for d in range(len(dims))
                ],
            }
        )

    resp = org.responses
    numbers = pd.to_numeric(
        resp["response_id"].astype(str).str.extract(r"^R(\d+)$")[0], errors="coerce"
    )
    next_id = int(numbers.max()) + 1 if numbers.notna().any() else 1
    frames = []
    for inst, who, items, scores in blocks:
        who_sorted = who[np.argsort(t[who], kind="stable")]
        ids = _ids("R", next_id + np.arange(len(who_sorted)), 7)
        next_id += len(who_sorted)
        k = len(items)
        m = len(who_sorted)
        row_of = np.searchsorted(np.sort(who), who_sorted)
        vals = scores[row_of] if inst != "zero_distance" else scores[who_sorted]
        keep = rng.random((m, k)) >= _SKIP
        r_idx, i_idx = np.nonzero(keep)
        p = who_sorted[r_idx]
        frames.append(
            pd.DataFrame(
                {
                    "response_id": _str(ids[r_idx]),
                    "silo": _str(ep["silo"].to_numpy(dtype=object)[p]),
                    "source_id": _str(ep["source_id"].to_numpy(dtype=object)[p]),
                    "instrument": _str(np.full(len(p), inst, dtype=object)),
                    "item": _str(np.asarray(items, dtype=object)[i_idx]),
                    "score": vals[r_idx, i_idx].astype(float),
                    "timestamp": pd.Series(t[p].astype("datetime64[ns]")),
                    "weight": 1.0,
                    "touchpoint": _str(tps[pick[p]]),
                }
            )
        )
    new = pd.concat(frames, ignore_index=True)
    for c in resp.columns:
        if c not in new.columns:
            # empty in the new rows, in the column's own dtype where it has a missing value
            new[c] = resp[c].iloc[:0].reindex(new.index)
    if "weight" not in resp.columns:
        new = new.drop(columns="weight")
    columns = [*resp.columns, *(c for c in new.columns if c not in resp.columns)]
    out_resp = pd.concat([resp, new[columns]], ignore_index=True)

    counts = {r: int((role == r).sum()) for r in ("customer", "worker", "partner")}
    planted = {
        "instrument": "zero_distance",
        "gap_team": gap_team,
        "gap": planted_gap,
        "items": items_truth,
        "customer_centricity": cc_truth,
        "teams": ledger,
        "wave_start": start,
        "wave_end": end,
        "n_respondents": counts,
        "settings": {
            "response_rate": rates,
            "gap": gaps,
            "team_sd": team_sd,
            "factor_correlation": factor_correlation,
            "non_invariant": shifts,
            "thresholds": list(_THRESHOLDS),
            "skip_share": _SKIP,
            "wave_days": _WAVE_DAYS,
        },
    }
    truth = dataclasses.replace(org.truth, planted={**org.truth.planted, "instruments": planted})
    return dataclasses.replace(org, responses=out_resp, truth=truth)
