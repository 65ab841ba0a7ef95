"""Survey invitations with role- and covariate-dependent non-response.

:func:`add_invitations` writes the optional ``invitations`` table and links the
responses to it (``responses.invitation_id``). What it planted is in
``org.truth.planted["invitations"]``.

How the invitations are made
----------------------------
The simulator's relationship answers (instrument ``nps``, item ``ltr``; the teams step
may have credited some to a touchpoint) are the answers the invited *would* give.
Each such answer of a roster member (not an unattributable one, not one with a
comment or a follow-up: those keep no invitation and stay as they are) is an occasion
of a survey wave (the calendar quarter of the answer); a share ``invite_share`` of
each role's occasions per wave is invited. The invitation is sent up to ``lag_days``
before the answer (never before the wave, the person's episode or the observation
window starts), through a channel drawn per role.

An invited person answers with probability

``p = logistic(role_log_odds[role] + engagement_log_odds[role][engagement]
- nps_log_odds (NPS_g - NPS) / 100 + tenure_log_odds (log(1 + tenure years) - log 3))``

with the tenure at the invitation, ``NPS_g`` the NPS of the invited answers of the
person's role x engagement group and ``NPS`` that of all invited answers (so the less
satisfied groups answer more when ``nps_log_odds`` > 0, whatever earlier steps did to
the scores; 0 by default). The answers of those who do not answer are removed from
``responses`` (every row of that response, all its instruments); the others get the
``invitation_id``. Response depends only on role, engagement and tenure (missing at
random given them), while the likelihood to recommend depends on role and engagement
(the experience model): so the respondents' unweighted NPS is biased against the
invited population's, and inverse-propensity weights on those three covariates remove
the bias.

The truth is about the invited answers as drawn (a finite population):
``population_nps`` (their NPS), ``expected_respondent_nps`` =
``100 sum(p c) / sum(p)`` with ``c`` = +1 promoter, 0 passive, -1 detractor (the
ratio of expectations; its bias is O(1/n)), ``expected_bias`` (the difference) and
the realised ``respondent_nps`` and ``realised_bias``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics.errors import ParameterError
from hxmetrics.measures._inference import check_random_state

from ._draws import _ids, _str
from ._model import Organisation

__all__ = [
    "CHANNELS",
    "ENGAGEMENT_LOG_ODDS",
    "ROLE_LOG_ODDS",
    "add_invitations",
]

#: Log-odds of answering an invitation by role (customers answer least).
ROLE_LOG_ODDS: dict[str, float] = {"customer": -2.2, "worker": 1.3, "partner": 0.0}
#: Added log-odds by role and engagement (0 where not listed): the groups with the
#: lower likelihood to recommend answer more, so the respondents' NPS is too low.
ENGAGEMENT_LOG_ODDS: dict[str, dict[str, float]] = {
    "customer": {"business": 0.6},
    "worker": {"gig": 1.0, "freelance": 0.6, "contract": 0.3, "intern": -0.8},
    "partner": {"driver": 1.0, "host": -0.8},
}
#: Channels of the invitations per role (drawn uniformly).
CHANNELS: dict[str, tuple[str, ...]] = {
    "customer": ("email", "sms"),
    "worker": ("email", "intranet"),
    "partner": ("email", "portal"),
}
_DAY = pd.Timedelta(days=1)


def _share(name: str, value: float | Mapping[str, float]) -> dict[str, float]:
    roles = ("customer", "worker", "partner")
    if isinstance(value, Mapping):
        out = {r: float(value.get(r, 0.0)) for r in roles}
        unknown = set(map(str, value)) - set(roles)
        if unknown:
            raise ParameterError(f"{name}: unknown role(s) {sorted(unknown)}; roles are {roles}.")
    else:
        out = dict.fromkeys(roles, float(value))
    if not all(0.0 <= v <= 1.0 for v in out.values()):
        raise ParameterError(f"{name} must be shares in [0, 1]; got {value!r}.")
    return out


def _occasions(org: Organisation, instrument: str, item: str) -> pd.DataFrame:
    """One row per relationship answer that can be invited, with its episode."""
    resp = org.responses
    # Every answer to the item (the simulator's relationship answers; the teams step
    # may credit some of them to a touchpoint, which does not make them transactional).
    sel = (resp["instrument"].astype(str).to_numpy() == instrument) & (
        resp["item"].astype(str).to_numpy() == item
    )
    if "invitation_id" in resp.columns:
        ids = resp["invitation_id"].astype("string")
        sel &= ~(ids.notna() & (ids.str.strip() != "")).to_numpy(dtype=bool)
    occ = pd.DataFrame(
        {
            "response_id": resp["response_id"].astype(str).to_numpy()[sel],
            "silo": resp["silo"].astype(str).to_numpy()[sel],
            "source_id": resp["source_id"].astype(str).to_numpy()[sel],
            "timestamp": pd.to_datetime(resp["timestamp"]).to_numpy()[sel],
            "score": resp["score"].to_numpy(dtype=float)[sel],
        }
    ).drop_duplicates("response_id")
    skip: list[np.ndarray] = [org.truth.unattributable["response_id"].astype(str).to_numpy()]
    fu = org.truth.follow_ups
    if fu is not None and len(fu):
        for column in ("response_id", "next_response_id"):
            if column in fu.columns:
                skip.append(fu[column].dropna().astype(str).to_numpy())
    if org.comments is not None and "response_id" in org.comments.columns:
        skip.append(org.comments["response_id"].dropna().astype(str).to_numpy())
    occ = occ[~occ["response_id"].isin(np.concatenate(skip)).to_numpy(dtype=bool)]
    ep = org.truth.episodes[["role", "engagement", "start", "end", "silo", "source_id"]].copy()
    ep["silo"] = ep["silo"].astype(str)
    ep["source_id"] = ep["source_id"].astype(str)
    merged = occ.merge(ep, on=["silo", "source_id"], how="inner")
    ts = merged["timestamp"]
    inside = (merged["start"] <= ts) & (merged["end"].isna() | (ts < merged["end"] + _DAY))
    merged = merged[inside.to_numpy(dtype=bool)].drop_duplicates("response_id")
    return merged.sort_values(["timestamp", "response_id"], kind="stable").reset_index(drop=True)


def add_invitations(
    org: Organisation,
    *,
    random_state: int | np.random.Generator | None,
    instrument: str = "nps",
    item: str = "ltr",
    invite_share: float | Mapping[str, float] = 1.0,
    role_log_odds: Mapping[str, float] | None = None,
    engagement_log_odds: Mapping[str, Mapping[str, float]] | None = None,
    tenure_log_odds: float = 0.4,
    nps_log_odds: float = 0.0,
    lag_days: float = 14.0,
) -> Organisation:
    """Invite people to the relationship survey; remove the answers of non-respondents.

    Parameters
    ----------
    org : Organisation
        A simulated organisation (with or without the other optional steps).
    random_state : int or numpy.random.Generator
        Seed of the draws (the same seed, the same invitations).
    instrument, item : str
        The answers invited (default the ``nps`` / ``ltr`` relationship answers); the
        invitation's ``instrument``.
    invite_share : float or mapping role -> float, default 1.0
        Share of each role's occasions per wave (calendar quarter) that are invited;
        the rest stay as answers without an invitation.
    role_log_odds, engagement_log_odds : mapping, optional
        Log-odds of answering (:data:`ROLE_LOG_ODDS`, :data:`ENGAGEMENT_LOG_ODDS`).
    tenure_log_odds : float, default 0.4
        Log-odds per unit of ``log(1 + tenure years)`` (centred at ``log 3``).
    nps_log_odds : float, default 0.0
        Log-odds per unit (100 NPS points) by which a role x engagement group's NPS
        among the invited lies *below* that of all the invited: the less satisfied
        groups answer more, whatever earlier steps did to the scores (e.g. 3; it raises
        the bias and the weights' design effect).
    lag_days : float, default 14
        Longest time from invitation to answer.

    Returns
    -------
    Organisation
        A new organisation (``org`` is not changed) with ``invitations``
        (``invitation_id, silo, source_id, instrument, sent, channel``), responses
        with an ``invitation_id`` column (empty for answers without one) and without
        the non-respondents' answers, and ``truth.planted["invitations"]``:
        ``invitations`` (``invitation_id, response_id`` (the answer it would get),
        ``wave, role, engagement, tenure_years, propensity, responded, ltr,
        category``), ``by_role`` (``role, invited, responded, expected_rate,
        population_nps, respondent_nps``), ``population_nps``,
        ``expected_respondent_nps``, ``expected_bias``, ``respondent_nps``,
        ``realised_bias``, ``n_invited``, ``n_responded``, ``n_removed_rows`` and
        ``params``.

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = add_invitations(simulate_organisation(300, random_state=1), random_state=2)
    >>> planted = org.truth.planted["invitations"]
    >>> planted["n_responded"] < planted["n_invited"] == len(org.invitations)
    True
    """
    if org.invitations is not None:
        raise ParameterError(
            "the organisation already has invitations: add_invitations runs once (its "
            "truth describes one set of invitations)."
        )
    rng = check_random_state(random_state)
    shares = _share("invite_share", invite_share)
    role_lo = {**ROLE_LOG_ODDS, **dict(role_log_odds or {})}
    eng_lo: dict[str, dict[str, float]] = {r: dict(v) for r, v in ENGAGEMENT_LOG_ODDS.items()}
    if engagement_log_odds is not None:
        eng_lo = {
            str(r): {str(k): float(x) for k, x in v.items()} for r, v in engagement_log_odds.items()
        }
    for name, value in (
        ("tenure_log_odds", tenure_log_odds),
        ("nps_log_odds", nps_log_odds),
        ("lag_days", lag_days),
    ):
        if not np.isfinite(float(value)):
            raise ParameterError(f"{name} must be a finite number; got {value!r}.")
    if float(lag_days) < 0:
        raise ParameterError(f"lag_days must be >= 0; got {lag_days!r}.")

    occ = _occasions(org, instrument, item)
    n = len(occ)
    role = occ["role"].astype(str).to_numpy()
    invited = (
        rng.random(n)
        < np.array([shares.get(r, 0.0) for r in ("customer", "worker", "partner")])[
            pd.Index(["customer", "worker", "partner"]).get_indexer(pd.Index(role))
        ]
    )
    occ = occ[invited].reset_index(drop=True)
    role = role[invited]
    m = len(occ)
    ts = pd.DatetimeIndex(occ["timestamp"])
    wave = ts.to_period("Q")
    wave_start = wave.start_time
    lag = pd.to_timedelta(np.floor(rng.random(m) * float(lag_days) * 86400), unit="s")
    floor = np.maximum.reduce(
        [
            wave_start.to_numpy(dtype="datetime64[ns]"),
            pd.DatetimeIndex(occ["start"]).to_numpy(dtype="datetime64[ns]"),
            np.full(m, pd.Timestamp(org.start).as_unit("ns").to_datetime64()),
        ]
    )
    sent = np.maximum((ts - lag).to_numpy(dtype="datetime64[ns]"), floor)
    sent = np.minimum(sent, ts.to_numpy(dtype="datetime64[ns]"))
    tenure_years = (
        (sent - pd.DatetimeIndex(occ["start"]).to_numpy(dtype="datetime64[ns]"))
        / np.timedelta64(1, "D")
        / 365.25
    )
    engagement = occ["engagement"].astype(str).to_numpy()
    cells = pd.DataFrame({"role": role, "engagement": engagement})
    table = pd.DataFrame(
        [(r, e, x) for r, v in eng_lo.items() for e, x in v.items()],
        columns=["role", "engagement", "eng"],
    )
    eng_effect = (
        cells.merge(table.astype({"eng": float}), on=["role", "engagement"], how="left")["eng"]
        .fillna(0.0)
        .to_numpy(dtype=float)
    )
    role_effect = pd.Series(role_lo, dtype=float).reindex(role).fillna(0.0).to_numpy(dtype=float)
    # The groups (role x engagement) whose invited answers have the lower NPS answer
    # more: a function of the group, so response stays at random given the covariates.
    category = np.where(occ["score"] >= 9, 1.0, np.where(occ["score"] <= 6, -1.0, 0.0))
    group_nps = (
        pd.Series(category).groupby([role, engagement]).transform("mean").to_numpy(dtype=float)
    )
    nps_effect = -float(nps_log_odds) * (group_nps - category.mean()) if m else np.zeros(0)
    logit = (
        role_effect
        + eng_effect
        + nps_effect
        + float(tenure_log_odds) * (np.log1p(np.maximum(tenure_years, 0.0)) - np.log(3.0))
    )
    propensity = 1.0 / (1.0 + np.exp(-logit))
    responded = rng.random(m) < propensity
    channel = np.empty(m, dtype=object)
    pick = rng.random(m)
    for r, options in CHANNELS.items():
        sel = role == r
        channel[sel] = np.asarray(options, dtype=object)[
            np.minimum((pick[sel] * len(options)).astype(np.int64), len(options) - 1)
        ]
    order = np.lexsort((occ["response_id"].to_numpy(), sent))
    number = np.empty(m, dtype=np.int64)
    number[order] = np.arange(1, m + 1)
    inv_id = _ids("V", number, 7)

    invitations = pd.DataFrame(
        {
            "invitation_id": _str(inv_id),
            "silo": _str(occ["silo"].to_numpy()),
            "source_id": _str(occ["source_id"].to_numpy()),
            "instrument": _str(np.full(m, instrument, dtype=object)),
            "sent": pd.to_datetime(sent).astype("datetime64[ns]"),
            "channel": _str(channel),
        }
    )
    invitations = invitations.iloc[np.argsort(number, kind="stable")].reset_index(drop=True)

    resp = org.responses
    rid = resp["response_id"].astype(str)
    removed = occ["response_id"].to_numpy()[~responded]
    keep = ~rid.isin(removed).to_numpy(dtype=bool)
    link = pd.Series(inv_id[responded], index=occ["response_id"].to_numpy()[responded])
    new_resp = resp[keep].copy()
    new_link = link.reindex(new_resp["response_id"].astype(str).to_numpy())
    old = (
        new_resp["invitation_id"].astype("string").to_numpy(dtype=object)
        if "invitation_id" in new_resp.columns
        else np.full(len(new_resp), None, dtype=object)
    )
    values = np.where(new_link.notna().to_numpy(), new_link.to_numpy(dtype=object), old)
    # The dtype validate gives a text column (pandas' "str"), so a written and re-read
    # organisation equals the simulated one.
    new_resp["invitation_id"] = pd.Series(values, index=new_resp.index, dtype="str")
    new_resp = new_resp.reset_index(drop=True)

    truth_inv = pd.DataFrame(
        {
            "invitation_id": _str(inv_id),
            "response_id": _str(occ["response_id"].to_numpy()),
            "wave": _str(wave.astype(str).to_numpy()),
            "role": _str(role),
            "engagement": _str(engagement),
            "tenure_years": tenure_years,
            "propensity": propensity,
            "responded": responded,
            "ltr": occ["score"].to_numpy(dtype=float),
            "category": category,
        }
    )
    truth_inv = truth_inv.iloc[np.argsort(number, kind="stable")].reset_index(drop=True)
    population = 100 * float(category.mean()) if m else float("nan")
    expected = 100 * float((propensity * category).sum() / propensity.sum()) if m else float("nan")
    realised = 100 * float(category[responded].mean()) if responded.any() else float("nan")
    grouped = truth_inv.assign(
        resp_cat=np.where(truth_inv["responded"], truth_inv["category"], np.nan)
    ).groupby("role", sort=True)
    by_role = pd.DataFrame(
        {
            "invited": grouped.size(),
            "responded": grouped["responded"].sum().astype(np.int64),
            "expected_rate": grouped["propensity"].mean(),
            "population_nps": 100 * grouped["category"].mean(),
            "respondent_nps": 100 * grouped["resp_cat"].mean(),
        }
    ).reset_index()
    planted: dict[str, Any] = {
        "invitations": truth_inv,
        "by_role": by_role,
        "population_nps": population,
        "expected_respondent_nps": expected,
        "expected_bias": expected - population,
        "respondent_nps": realised,
        "realised_bias": realised - population,
        "n_invited": int(m),
        "n_responded": int(responded.sum()),
        "n_removed_rows": int((~keep).sum()),
        "params": {
            "instrument": instrument,
            "item": item,
            "invite_share": shares,
            "role_log_odds": role_lo,
            "engagement_log_odds": eng_lo,
            "tenure_log_odds": float(tenure_log_odds),
            "nps_log_odds": float(nps_log_odds),
            "tenure_covariate": "log(1 + tenure years at the invitation) - log(3)",
            "lag_days": float(lag_days),
            "wave": "calendar quarter of the answer",
        },
    }
    truth = dataclasses.replace(org.truth, planted={**org.truth.planted, "invitations": planted})
    return dataclasses.replace(org, responses=new_resp, invitations=invitations, truth=truth)
