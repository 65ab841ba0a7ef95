"""The containers a simulated organisation comes in: tables plus the truth behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hxmetrics._display import CountsDisplay

__all__ = ["ClvTruth", "ExperienceTruth", "Organisation", "Truth"]


@dataclass(frozen=True, eq=False, repr=False)
class ExperienceTruth(CountsDisplay):
    """The parameters the survey scores were drawn from.

    Every respondent-occasion has a latent experience ``eta = mu + b + w``:
    ``mu`` is the cell mean (role x engagement x archetype, in ``latent_mean``),
    ``b`` a person effect shared by all of a person's roles (sd ``person_sd``)
    and ``w`` an occasion effect (sd ``sqrt(1 - person_sd**2)``), so
    ``eta ~ N(mu, 1)`` for any single response.

    Attributes
    ----------
    params : dict
        The plain-number configuration used (loadings, thresholds, shifts,
        rates); round-trips through JSON.
    latent_mean : pandas.DataFrame
        ``role, engagement, archetype, hybrid, mu``: one row per possible cell.
    items : pandas.DataFrame
        ``role, item, loading, intercept, residual_sd, t1..t4``: the one-factor
        model of ``hx1..hx6`` per role: ``y = intercept + loading * eta +
        residual_sd * e`` and score ``1 + #{k: y > t_k}``.
    nps : pandas.DataFrame
        Per cell: ``p0..p10`` (exact probabilities of each 0-10 answer),
        ``p_detractor, p_passive, p_promoter, nps`` (NPS on the -100..100 scale).
    csat, ces : pandas.DataFrame
        Per customer cell and touchpoint: ``p1..p5`` / ``p1..p7`` and ``mean``.
    weights : pandas.DataFrame
        ``role, engagement, propensity, weight``: relative response propensity
        and the survey weight (``1 / propensity``) written on every response.
    """

    params: dict[str, Any]
    latent_mean: pd.DataFrame
    items: pd.DataFrame
    nps: pd.DataFrame
    csat: pd.DataFrame
    ces: pd.DataFrame
    weights: pd.DataFrame

    def _display_counts(self) -> dict[str, Any]:
        return {
            "cells": len(self.latent_mean),
            "items": int(self.items["item"].nunique()) if "item" in self.items else 0,
            "params": len(self.params),
        }


@dataclass(frozen=True, eq=False, repr=False)
class ClvTruth(CountsDisplay):
    """The purchase process behind ``transactions``.

    Attributes
    ----------
    params : dict
        ``r, alpha, a, b`` (BG/NBD, time unit weeks) and ``p, q, gamma``
        (Gamma-Gamma spend), plus ``time_unit``.
    latent : pandas.DataFrame
        One row per customer episode: ``person_id, silo, source_id, start``
        (first purchase), ``lambda_`` (purchase rate per week), ``p_dropout``,
        ``nu`` (Gamma-Gamma rate: mean spend is ``p / nu``), ``mean_spend``,
        ``alive`` (still active at the observation end), ``dropout`` (time of
        becoming inactive, NaT if alive), ``n_repeat`` (repeat purchases
        observed), ``T_weeks`` (time from first purchase to the end of
        observation of that episode).
    """

    params: dict[str, Any]
    latent: pd.DataFrame

    def _display_counts(self) -> dict[str, Any]:
        return {"customer_episodes": len(self.latent), "time_unit": self.params.get("time_unit")}

    def _display_rows(self) -> dict[str, Any]:
        numbers = {k: v for k, v in self.params.items() if isinstance(v, int | float)}
        return {**self._display_counts(), **numbers}


@dataclass(frozen=True, eq=False, repr=False)
class Truth(CountsDisplay):
    """What really happened in a simulated organisation.

    Attributes
    ----------
    crosswalk : pandas.DataFrame
        ``silo, source_id, person_id, in_roster``: the true person of every
        silo id that appears anywhere (``in_roster`` is False for the legacy
        ids that only occur in ``responses``).
    episodes : pandas.DataFrame
        ``person_id, role, engagement, start, end, silo, source_id``: one row
        per roster row.
    hybrids : pandas.DataFrame
        ``person_id``, one bool column per hybrid label, ``boomerang_gap_days``
        and ``archetype`` (the recipe the person was generated from).
    experience : ExperienceTruth
        Survey-score parameters.
    clv : ClvTruth
        Purchase-process parameters and per-customer latents.
    keys : pandas.DataFrame
        ``person_id, email, phone, birth_year, anchor, shares_phone_with``: the
        clean keys of each person (``phone`` as 10 digits), which key is never
        missing in their records (``anchor``) and, for the household trap,
        the other person whose phone they share.
    unattributable : pandas.DataFrame
        ``response_id, silo, source_id, person_id, reason``: responses whose id
        is not in any roster (``unknown_id``) or whose timestamp is outside
        every episode of that id (``outside_episode``).
    service : pandas.DataFrame
        ``team, severity, median_first_response_hours, first_response_sigma,
        median_resolution_hours, resolution_sigma, reopen_rate``: the
        log-normal ticket-handling times.
    itr : pandas.DataFrame or None
        ``team, severity, status, visit_probability, visits_per_ticket,
        median_hours``: for each status of the ticket histories, the share of
        tickets that ever take it, the expected number of visits and the median
        total hours a ticket spends in it among those taking it (without stalls,
        whose parameters are in ``params['tickets']['stalls']``). ``closed`` is
        final and has no row. None for an organisation written before histories.
    ticket_paths : pandas.DataFrame or None
        One row per ticket: ``ticket_id, team, severity, pauses`` (regular
        ``waiting_on_customer`` visits), ``reopened``, ``stall_status`` (empty
        when it did not stall), ``stall_hours``, and the uncensored
        ``first_response_hours`` and ``closed_hours`` (from opening, also for
        tickets still open at the window end: the times the censoring hides).
    follow_ups : pandas.DataFrame or None
        One row per relationship answer that could be followed up (probability
        > 0): ``response_id, silo, source_id, ltr, probability, level`` (the
        person's persistent latent level in sd units, on which the probability
        also depends: the known confounding; absent without follow-ups, as in
        organisations made before it), ``followed_up, event_id,
        follow_up_at, next_response_id, effect_applied``
        (the follow-up came before the id's next relationship answer, whose
        latent experience it shifted) and ``expected_next_ltr_change`` (the
        expected change of that answer's likelihood to recommend). Empty unless
        simulated with ``follow_ups=True``.
    planted : dict
        The effects planted by the optional simulation steps, one entry per step
        (``"teams"``, ``"journeys"``, ``"instruments"``, ``"comments"``,
        ``"invitations"``): what each step planted and the value a method should
        recover (plain values or DataFrames), as that step left the data (the
        invitations step, last, removes non-respondents' answers after the others
        counted theirs). Empty when no such step ran.
    params : dict
        ``tickets`` (statuses, stage and stall parameters) and ``follow_ups``
        (probabilities, ``level_log_odds`` and ``selection`` (the confounding,
        with follow-ups on),
        delay, effect and ``att_next_ltr``, the mean expected
        change over the answers shifted); empty for older organisations.
    """

    crosswalk: pd.DataFrame
    episodes: pd.DataFrame
    hybrids: pd.DataFrame
    experience: ExperienceTruth
    clv: ClvTruth
    keys: pd.DataFrame
    unattributable: pd.DataFrame
    service: pd.DataFrame
    itr: pd.DataFrame | None = None
    ticket_paths: pd.DataFrame | None = None
    follow_ups: pd.DataFrame | None = None
    params: dict[str, Any] = field(default_factory=dict)
    planted: dict[str, Any] = field(default_factory=dict)

    def _display_counts(self) -> dict[str, Any]:
        # Counts only: the truth holds every person's keys, never shown.
        return {
            "persons": len(self.hybrids),
            "records": len(self.crosswalk),
            "episodes": len(self.episodes),
            "unattributable": len(self.unattributable),
        }

    def _display_rows(self) -> dict[str, Any]:
        rows = self._display_counts()
        if "in_roster" in self.crosswalk:
            rows["records in no roster"] = int((~self.crosswalk["in_roster"]).sum())
        labels = [c for c in self.hybrids.columns if self.hybrids[c].dtype == bool]
        rows |= {f"persons: {c}": int(self.hybrids[c].sum()) for c in labels}
        if "shares_phone_with" in self.keys:
            rows["persons sharing a phone"] = int(self.keys["shares_phone_with"].notna().sum())
        return rows


@dataclass(frozen=True, eq=False, repr=False)
class Organisation(CountsDisplay):
    """A synthetic organisation: three silo rosters, four exhaust tables, the truth.

    Attributes
    ----------
    customers, workers, partners : pandas.DataFrame
        Rosters (one row per relationship episode), valid under
        :func:`hxmetrics.tables.validate`.
    responses, events, transactions, tickets : pandas.DataFrame
        Exhaust tables, valid under :func:`hxmetrics.tables.validate`.
    truth : Truth
        The ground truth.
    start, end : pandas.Timestamp
        The observation window ``[start, end)``: every exhaust timestamp lies
        in it, and an episode still running at ``end`` has ``end`` NaT.
    settings : dict
        The arguments of :func:`simulate_organisation` that made it.
    ticket_events : pandas.DataFrame or None
        The optional table of ticket status histories (``ticket_id, status,
        timestamp, team``), valid under :func:`hxmetrics.tables.validate`
        with the tickets as parent; not in :attr:`tables` (the optional tables
        are outside :data:`hxmetrics.tables.TABLES`). None when read from a
        folder written before histories.
    teams, comments, invitations : pandas.DataFrame or None
        The optional tables (:data:`hxmetrics.tables.OPTIONAL_TABLES`) of team
        ownership of touchpoints, free-text comments and survey invitations;
        None unless the step that makes them ran.
    """

    customers: pd.DataFrame
    workers: pd.DataFrame
    partners: pd.DataFrame
    responses: pd.DataFrame
    events: pd.DataFrame
    transactions: pd.DataFrame
    tickets: pd.DataFrame
    truth: Truth
    start: pd.Timestamp
    end: pd.Timestamp
    settings: dict[str, Any] = field(default_factory=dict)
    ticket_events: pd.DataFrame | None = None
    teams: pd.DataFrame | None = None
    comments: pd.DataFrame | None = None
    invitations: pd.DataFrame | None = None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The seven contract tables by name (rosters first)."""
        return {
            "customers": self.customers,
            "workers": self.workers,
            "partners": self.partners,
            "responses": self.responses,
            "events": self.events,
            "transactions": self.transactions,
            "tickets": self.tickets,
        }

    def _display_counts(self) -> dict[str, Any]:
        counts = {"persons": len(self.truth.hybrids), **{k: len(v) for k, v in self.tables.items()}}
        for name in ("ticket_events", "teams", "comments", "invitations"):
            frame = getattr(self, name)
            if frame is not None:
                counts[name] = len(frame)
        return counts

    def _display_rows(self) -> dict[str, Any]:
        counts = self._display_counts()
        rows: dict[str, Any] = {"persons": counts.pop("persons")}
        rows |= {f"rows: {k}": v for k, v in counts.items()}
        rows["window"] = f"[{self.start.date()}, {self.end.date()})"
        return rows | {f"setting: {k}": v for k, v in self.settings.items()}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self._display_counts().items())
        return f"Organisation({sizes}, window=[{self.start.date()}, {self.end.date()}))"
