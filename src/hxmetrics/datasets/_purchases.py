"""Purchases of the simulated customers: BG/NBD repeat purchases, Gamma-Gamma amounts.

Also the transactions table and the CLV truth (each customer's latent parameters).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._draws import _ids, _sig, _str, _take, _to_ts
from ._model import ClvTruth
from ._recipe import (
    _DAY,
)


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


def _transactions(
    rng: np.random.Generator,
    buy: Mapping[str, np.ndarray],
    ep: Mapping[str, np.ndarray],
    cust: np.ndarray,
    b_sec: np.ndarray,
    clv_cfg: Mapping[str, float],
    source_id: np.ndarray,
    origin: np.datetime64,
) -> pd.DataFrame:
    """The first purchase at each customer episode's start, then the repeat ones."""
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
    amount = rng.gamma(clv_cfg["p"], 1.0 / buy["nu"][tx_owner])
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
    return transactions


def _clv_truth(
    buy: Mapping[str, np.ndarray],
    ep: Mapping[str, np.ndarray],
    cust: np.ndarray,
    clv_cfg: Mapping[str, float],
    person_ids: np.ndarray,
    source_id: np.ndarray,
    start_ts: np.ndarray,
    origin: np.datetime64,
) -> ClvTruth:
    """The CLV parameters and every customer episode's latent purchase process."""
    n_cust = len(cust)
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
    return clv_truth
