"""Simulate a synthetic organisation whose ground truth is known.

Persons are drawn from archetypes (pure customers, workers, partners; concurrent
and sequential hybrids), given role episodes, silo ids and noisy match keys, and
then leave exhaust behind: survey responses from a one-factor experience model,
interaction events, BG/NBD + Gamma-Gamma purchases and support tickets. Every
draw comes from one ``numpy.random.Generator`` seeded by ``random_state`` and is
vectorised over episodes, so 100 000 persons take a few seconds.

Time is handled in integer days (episodes) and integer seconds (exhaust)
counted from the observation start; both become ``datetime64[ns]`` at the end.

The steps live in one module each: the recipe (``_recipe``), episodes and silo ids
(``_episodes``), purchases (``_purchases``), match keys and rosters (``_keys``),
events and tickets (``_exhaust``), survey answers (``_experience``); this module
draws the persons and runs the steps, each on its own random stream.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._compat import renamed
from hxmetrics.errors import ParameterError

from ._draws import _choice, _ids, _str, _to_ts
from ._episodes import _build_episodes, _silo_ids
from ._exhaust import _events, _service_truth, _ticket_table, _tickets
from ._experience import _responses
from ._hybrids import hybrid_labels
from ._itr import _itr_params, _itr_truth, _stalls, _ticket_events
from ._keys import _keys_truth, _person_keys, _rosters
from ._model import Organisation, Truth
from ._purchases import _clv_truth, _simulate_purchases, _transactions
from ._recipe import (
    _CLOSE_AFTER_DROPOUT,
    _CLOSE_DELAY_DAYS,
    _DAY,
    _FOLLOW_UP_DELAY_MEDIAN_HOURS,
    _FOLLOW_UP_DELAY_SIGMA,
    _FOLLOW_UP_LEVEL_LOG_ODDS,
    _FOLLOW_UP_PROBABILITY,
    _FOLLOW_UP_ROLE_FACTOR,
    _FOLLOW_UP_TOUCHPOINT,
    _HYBRID_MIX,
    _OPEN,
    _PURE_MIX,
    ARCHETYPES,
    DEFAULT_CLV,
    DEFAULT_EXPERIENCE,
    _merge_clv,
    _merge_experience,
    _timestamp,
)

__all__ = ["ARCHETYPES", "DEFAULT_CLV", "DEFAULT_EXPERIENCE", "simulate_organisation"]


@renamed(seed="random_state")
def simulate_organisation(
    n_people: int = 3000,
    *,
    random_state: int = 0,
    hybrid_share: float = 0.2,
    key_noise: float = 0.05,
    start: str | pd.Timestamp = "2019-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    experience: Mapping[str, Any] | None = None,
    clv: Mapping[str, float] | None = None,
    ticket_stalls: bool = False,
    follow_ups: bool = False,
    follow_up_effect: float = 0.5,
    teams: bool | Mapping[str, Any] = False,
    journeys: bool | Mapping[str, Any] = False,
    instruments: bool | Mapping[str, Any] = False,
    comments: bool | Mapping[str, Any] = False,
    invitations: bool | Mapping[str, Any] = False,
) -> Organisation:
    """Simulate an organisation's silo rosters and exhaust, with the ground truth.

    Parameters
    ----------
    n_people : int, default 3000
        Number of persons (each has one or more role episodes).
    random_state : int, default 0
        Seed (a non-negative integer) of the ``numpy.random.SeedSequence`` whose
        streams draw every component; the same arguments give the same organisation.
        ``seed=`` is its old name (deprecated).
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
    ticket_stalls : bool, default False
        Let a share of tickets (by team) stall once, in ``triaged`` (delaying first
        response and close) or ``waiting_on_customer`` (delaying close), for a
        log-normal time (median 45 days): the backlog of old open tickets a real
        desk carries at the window end. Off, the tickets are those of earlier
        versions; the sample has it on.
    follow_ups : bool, default False
        Follow up relationship answers (the closed loop), with known confounding:
        the lower the likelihood to recommend, the likelier a follow-up (times a
        factor per role), and the lower the person's persistent level (their person
        effect in sd units, which no table shows), the higher its odds (times
        ``exp(-0.8 * level)``): teams call the angriest answers and the people they
        know to be unhappy first. The followed-up would answer lower next time
        without any follow-up, so the naive followed-up-vs-not comparison (and
        matching on the score) is biased downward, while a difference in differences
        from the person's prior answer is not (the level cancels).
        ``truth.follow_ups`` has each answer's probability and the person's level.
        The follow-up comes after a log-normal delay (median 20 hours); each is an
        ``events`` row with ``event_type`` ``follow_up`` and an ``F`` id. Off,
        answers and events are those of earlier versions (the sample has it off).
    follow_up_effect : float, default 0.5
        With ``follow_ups``: the shift of the latent experience (latent sd 1) of
        the person's next relationship answer (same silo id) when the follow-up
        came before it. ``truth.follow_ups`` has the expected change of that
        answer's likelihood to recommend.
    teams, journeys, instruments, comments, invitations : bool or mapping, default False
        The optional steps of zero distance and listening, run in this order after
        the rest, each on its own random stream; True runs a step with its defaults,
        a mapping passes options to it. What each plants is in
        ``truth.planted[<step>]``. Off, the organisation is that of earlier versions.

        * ``teams`` (:func:`~hxmetrics.datasets._teams.add_teams`): the ``teams``
          table (who owns each touchpoint, with one change of owner) and a planted
          shift in one team's relationship answers from a known month.
        * ``journeys`` (:func:`~hxmetrics.datasets._journeys.add_journeys`):
          multi-touchpoint sessions as events, with a planted touchpoint visited
          before detractor answers.
        * ``instruments`` (:func:`~hxmetrics.datasets._instruments.add_instruments`):
          answers to the zero-distance and customer-centricity banks (workers'
          self-assessment, customers' and partners' experience), with a known gap
          per practice for one team.
        * ``comments`` (:func:`~hxmetrics.datasets._comments.add_comments`): the
          ``comments`` table (themes with known sentiment and a known effect on the
          linked score, a few planted identifiers) and ticket descriptions.
        * ``invitations`` (:func:`~hxmetrics.datasets._invitations.add_invitations`):
          the ``invitations`` table, with role- and tenure-dependent non-response
          that biases the unweighted NPS by a known amount (non-respondents'
          answers removed).

    Returns
    -------
    Organisation
        Rosters, exhaust tables and the optional ``ticket_events`` (all valid under
        :func:`hxmetrics.tables.validate`) and ``truth``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers"
    the easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2).
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.

    Examples
    --------
    >>> from hxmetrics.datasets import simulate_organisation
    >>> org = simulate_organisation(200, random_state=1)
    >>> sorted(org.tables)
    ['customers', 'events', 'partners', 'responses', 'tickets', 'transactions', 'workers']
    >>> len(org.truth.hybrids)
    200
    >>> bool(org.truth.crosswalk.groupby(["silo", "source_id"]).size().eq(1).all())
    True
    >>> org.ticket_events.columns.tolist()  # the optional status histories
    ['ticket_id', 'status', 'timestamp', 'team']
    >>> looped = simulate_organisation(200, random_state=1, follow_ups=True)
    >>> sorted(looped.events.loc[looped.events["event_type"] == "follow_up", "touchpoint"].unique())
    ['in_person', 'phone']
    """
    if isinstance(n_people, bool) or not isinstance(n_people, int | np.integer):
        raise ParameterError(f"n_people must be an integer; got {n_people!r}.")
    if not 1 <= n_people <= 5_000_000:
        raise ParameterError(f"n_people must be between 1 and 5 000 000; got {n_people}.")
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, int | np.integer)
        or random_state < 0
    ):
        raise ParameterError(
            "random_state must be a non-negative integer (the organisation is drawn from "
            f"several streams of one seed); got {random_state!r}."
        )
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
    for name, flag in (("ticket_stalls", ticket_stalls), ("follow_ups", follow_ups)):
        if not isinstance(flag, bool | np.bool_):
            raise ParameterError(f"{name} must be True or False; got {flag!r}.")
    if (
        isinstance(follow_up_effect, bool)
        or not isinstance(follow_up_effect, int | float)
        or not -3 <= follow_up_effect <= 3
    ):
        raise ParameterError(
            "follow_up_effect must be a number in [-3, 3] (a shift of the latent "
            f"experience, whose sd is 1); got {follow_up_effect!r}."
        )
    exp_cfg = _merge_experience(experience)
    clv_cfg = _merge_clv(clv)
    settings = {
        "n_people": int(n_people),
        "random_state": int(random_state),
        "hybrid_share": float(hybrid_share),
        "key_noise": float(key_noise),
        "start": str(t0.date()),
        "end": str(t1.date()),
    }
    # Added with the ticket histories and follow-ups; not written when off, so the
    # settings of earlier organisations read the same.
    if ticket_stalls:
        settings["ticket_stalls"] = True
    if follow_ups:
        settings["follow_ups"] = True
        settings["follow_up_effect"] = float(follow_up_effect)
    steps = _optional_steps(
        teams=teams,
        journeys=journeys,
        instruments=instruments,
        comments=comments,
        invitations=invitations,
    )
    settings |= {name: True if not options else dict(options) for name, options in steps}
    # One independent stream per component: changing key_noise, say, changes the
    # keys and nothing else (same persons, episodes and exhaust). Streams 8 and 9
    # (ticket histories, follow-ups) came later: spawn(10)'s first eight are spawn(8)'s.
    streams = np.random.SeedSequence(int(random_state)).spawn(10)
    rng_arch, rng_ep, rng_buy, rng_ids, rng_keys, rng_ev, rng_tk, rng_srv, rng_itr, rng_fu = (
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

    source_id, silo, n_accounts = _silo_ids(rng_ids, ep)

    start_ts = _to_ts(origin, ep["start"] * _DAY)
    end_ts = np.where(
        ep["end"] == _OPEN,
        np.datetime64("NaT", "ns"),
        _to_ts(origin, np.minimum(ep["end"], end_d) * _DAY),
    )

    # Keys and rosters --------------------------------------------------------
    keys = _person_keys(rng_keys, n, key_noise)
    rosters = _rosters(rng_keys, keys, ep, key_noise, source_id, start_ts, end_ts)

    # Observed part of each episode, in seconds since the window start.
    a_sec = np.maximum(ep["start"], 0) * _DAY
    b_sec = np.minimum(ep["end"], end_d) * _DAY
    role_arr = ep["role"]

    # Events -------------------------------------------------------------------
    events, event_draws = _events(rng_ev, role_arr, a_sec, b_sec, silo, source_id, origin)

    # Transactions ---------------------------------------------------------------
    transactions = _transactions(rng_buy, buy, ep, cust, b_sec, clv_cfg, source_id, origin)

    # Tickets -----------------------------------------------------------------------
    tk = _tickets(rng_tk, role_arr, a_sec, b_sec, silo, source_id)
    stalled, stall_status, stall_s = _stalls(rng_itr, tk["team"])
    stall_status[~stalled] = None
    applied = stalled & bool(ticket_stalls)
    stall_triage = np.where(applied & (stall_status == "triaged"), stall_s, 0)
    stall_wait = np.where(applied & (stall_status != "triaged"), stall_s, 0)
    first_at = tk["opened"] + tk["first_s"] + stall_triage
    closed_at = first_at + tk["close_s"] + stall_wait
    tickets = _ticket_table(tk, first_at, closed_at, end_d, origin)
    ticket_events, ticket_paths = _ticket_events(
        rng_itr, tk, stall_status, stall_s, bool(ticket_stalls), end_d, origin
    )

    # Survey responses ----------------------------------------------------------------
    resp, unattributable, exp_truth, orphans, fu = _responses(
        rng_srv,
        exp_cfg,
        archetype,
        ep,
        event_draws,
        a_sec,
        b_sec,
        end_d,
        silo,
        source_id,
        n_accounts,
        person_ids,
        origin,
        (rng_fu, float(follow_up_effect)) if follow_ups else None,
    )
    if follow_ups:
        # Follow-ups after the events at the same second (a stable sort keeps order).
        events = pd.concat([events, fu.events], ignore_index=True)
        events = events.iloc[np.argsort(events["timestamp"].to_numpy(), kind="stable")]
        events = events.reset_index(drop=True)

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
            "silo": np.concatenate([silo, orphans["silo"].to_numpy(dtype=object)]),
            "source_id": np.concatenate([source_id, orphans["source_id"].to_numpy(dtype=object)]),
            "person_id": np.concatenate(
                [person_ids[ep["person"]], orphans["person_id"].to_numpy(dtype=object)]
            ),
            "in_roster": np.concatenate([np.ones(n_ep, bool), np.zeros(len(orphans), bool)]),
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

    truth = Truth(
        crosswalk=crosswalk,
        episodes=episodes,
        hybrids=hybrids,
        experience=exp_truth,
        clv=_clv_truth(buy, ep, cust, clv_cfg, person_ids, source_id, start_ts, origin),
        keys=_keys_truth(keys, person_ids),
        unattributable=unattributable,
        service=_service_truth(),
        itr=_itr_truth(),
        ticket_paths=ticket_paths,
        follow_ups=fu.truth,
        params={
            "tickets": _itr_params(bool(ticket_stalls)),
            "follow_ups": _follow_up_params(follow_ups, follow_up_effect, fu.att_next_ltr),
        },
    )
    org = Organisation(
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
        ticket_events=ticket_events,
    )
    # The optional steps: each on its own stream (spawned after the ten above, so the
    # rest of the organisation is the same with or without them).
    step_streams = np.random.SeedSequence(int(random_state)).spawn(10 + len(_STEPS))[10:]
    for name, options in steps:
        rng = np.random.default_rng(step_streams[_STEPS.index(name)])
        step = getattr(importlib.import_module(f"hxmetrics.datasets._{name}"), f"add_{name}")
        org = step(org, random_state=rng, **options)
    return org


#: The optional steps, in the order they run (module ``_<step>``, function ``add_<step>``).
_STEPS: tuple[str, ...] = ("teams", "journeys", "instruments", "comments", "invitations")


def _optional_steps(**given: bool | Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The steps to run, in order, with their options (True: the defaults)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name in _STEPS:
        value = given[name]
        if value is False or value is None:
            continue
        if value is True:
            out.append((name, {}))
        elif isinstance(value, Mapping):
            bad = [k for k in value if not isinstance(k, str) or k == "random_state"]
            if bad:
                raise ParameterError(
                    f"{name}= options are keyword arguments of add_{name} (other than "
                    f"random_state); got {bad}."
                )
            out.append((name, dict(value)))
        else:
            raise ParameterError(
                f"{name} must be True, False or a mapping of options; got {value!r}."
            )
    return out


def _follow_up_params(enabled: bool, effect: float, att: float | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "enabled": bool(enabled),
        "effect": float(effect) if enabled else 0.0,
        "trigger": "relationship answers (instrument nps); probability by ltr 0..10",
        "probability_by_ltr": list(_FOLLOW_UP_PROBABILITY),
        "role_factor": dict(_FOLLOW_UP_ROLE_FACTOR),
        "touchpoint": dict(_FOLLOW_UP_TOUCHPOINT),
        "delay_median_hours": _FOLLOW_UP_DELAY_MEDIAN_HOURS,
        "delay_sigma": _FOLLOW_UP_DELAY_SIGMA,
        "att_next_ltr": None if att is None else round(att, 10),
    }
    if enabled:
        # The confounding (only with follow-ups on, so that the parameters of
        # organisations without them, the committed sample's among them, read as
        # before): the odds of probability_by_ltr * role_factor times
        # exp(-level_log_odds * level), level = the person's persistent latent level
        # (person effect / person_sd), in truth.follow_ups["level"].
        params["level_log_odds"] = _FOLLOW_UP_LEVEL_LOG_ODDS
        params["selection"] = (
            "odds of probability_by_ltr[ltr] * role_factor[role] times "
            "exp(-level_log_odds * level), level = the person's persistent latent "
            "level in sd units (no table shows it): the angriest answers and the "
            "people known to be unhappy are followed up first, so the followed-up "
            "would answer lower next time without a follow-up"
        )
    return params
