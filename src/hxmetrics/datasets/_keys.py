"""Match keys of the simulated persons and the noisy copies each silo's roster holds.

Every person gets an email, a fictional phone (area code 555) and a birth year; a
few share another person's phone (the household trap). Each roster row copies them
with noise: changed case, padding, missing values and the silo's favourite phone
format.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hxmetrics.tables import ID_COLUMN, ROLE_OF_SILO

from ._draws import _str

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


def _rosters(
    rng: np.random.Generator,
    keys: pd.DataFrame,
    ep: Mapping[str, np.ndarray],
    key_noise: float,
    source_id: np.ndarray,
    start_ts: np.ndarray,
    end_ts: np.ndarray,
) -> dict[str, pd.DataFrame]:
    """One roster per silo: the silo's id, noisy keys, the episode and its engagement."""
    rosters: dict[str, pd.DataFrame] = {}
    for s, role in ROLE_OF_SILO.items():
        rows = np.flatnonzero(ep["role"] == role)
        noisy = _noisy_keys(rng, keys, ep["person"][rows], s, key_noise)
        id_col = ID_COLUMN[s]
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
    return rosters


def _keys_truth(keys: pd.DataFrame, person_ids: np.ndarray) -> pd.DataFrame:
    """Each person's true keys, anchor and phone sharer (by person id)."""
    return pd.DataFrame(
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
