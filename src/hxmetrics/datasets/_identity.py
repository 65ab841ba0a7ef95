"""Noisy identity rosters: names, birth dates and addresses across silos, with the truth.

:func:`simulate_identity_rosters` draws persons (given and family names from Zipf-like
frequencies, a date of birth, an address in a postcode, some living in households),
gives each one to one, two or three silos with one or more records per silo and one or
more episodes per record, and copies the person's identity into every record with the
noise real rosters carry: keyboard typos, nicknames and initials, given and family name
swapped, an old family name (a name change the silo never heard of), an old address (a
move), wrong dates of birth, missing values and each silo's own formatting. Households
are the trap: different persons with the same family name, address and postcode (twins
even share the date of birth).

Every draw is vectorised (no Python loop per record) and comes from one stream per
component, so changing a noise rate changes that noise and nothing else. A record's
noise flags come from uniforms drawn whatever the rate: a record noisy at a rate is
noisy at every higher rate. Text columns are integer codes into vocabularies until the
end, where a pandas string array takes them: 1M records (760 000 persons) take about
4 s of CPU and 0.8 GB of memory.

Name lists: a short list of common given and family names (facts) at the head of each
frequency table, and names composed of syllables for the tail. No list is copied from
any data set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from hxmetrics._display import CountsDisplay
from hxmetrics.errors import ParameterError, did_you_mean
from hxmetrics.tables import ID_COLUMN, ROLE_OF_SILO, SILOS

from ._draws import _choice
from ._recipe import _ENGAGEMENT_MIX

__all__ = ["DEFAULT_MISSING", "IDENTITY_COLUMNS", "IdentityRosters", "simulate_identity_rosters"]

#: The identity columns of a roster (with ``contacts=True`` also ``email`` and ``phone``).
IDENTITY_COLUMNS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "date_of_birth",
    "address",
    "postcode",
)

#: Default share of records missing each column (see ``missing_rate``).
DEFAULT_MISSING: dict[str, float] = {
    "given_name": 0.005,
    "family_name": 0.005,
    "date_of_birth": 0.05,
    "address": 0.03,
    "postcode": 0.03,
    "email": 0.1,
    "phone": 0.1,
}

# --------------------------------------------------------------------------- name lists
# Common given and family names (facts, in no particular source's order): the head of
# the frequency tables. Nicknames: the usual English short forms.
_COMMON_GIVEN = (
    "Maria", "James", "Anna", "John", "Mohamed", "Sarah", "David", "Laura", "Michael",
    "Emma", "Robert", "Sofia", "William", "Olivia", "Daniel", "Elizabeth", "Thomas",
    "Katherine", "Joseph", "Hannah", "Christopher", "Jennifer", "Richard", "Margaret",
    "Ahmed", "Fatima", "Wei", "Mei", "Carlos", "Lucia", "Peter", "Julia", "Paul", "Sophie",
    "Mark", "Rebecca", "Andrew", "Susan", "Alexander", "Victoria", "Samuel", "Rachel",
    "Benjamin", "Patricia", "Matthew", "Grace", "Anthony", "Chloe", "Nicholas", "Amelia",
    "Jonathan", "Isabel", "Edward", "Alice", "Jose", "Ana", "Luis", "Elena", "Ali", "Aisha",
    "Ivan", "Olga", "Hiroshi", "Yuki", "Raj", "Priya", "Kwame", "Amara", "Lars", "Ingrid",
    "Pierre", "Claire", "Giovanni", "Chiara", "Jan", "Eva", "Omar", "Leila", "Noah", "Mia",
)  # fmt: skip
_NICKNAMES = {
    "James": "Jim", "John": "Johnny", "David": "Dave", "Michael": "Mike", "Robert": "Bob",
    "William": "Bill", "Daniel": "Dan", "Elizabeth": "Liz", "Thomas": "Tom",
    "Katherine": "Kate", "Joseph": "Joe", "Christopher": "Chris", "Jennifer": "Jen",
    "Richard": "Rick", "Margaret": "Maggie", "Peter": "Pete", "Rebecca": "Becky",
    "Andrew": "Andy", "Susan": "Sue", "Alexander": "Alex", "Victoria": "Vicky",
    "Samuel": "Sam", "Benjamin": "Ben", "Patricia": "Pat", "Matthew": "Matt",
    "Anthony": "Tony", "Nicholas": "Nick", "Jonathan": "Jon", "Isabel": "Bella",
    "Edward": "Ed", "Olivia": "Liv",
}  # fmt: skip
_COMMON_FAMILY = (
    "Smith", "Garcia", "Mueller", "Wang", "Kim", "Nguyen", "Johnson", "Rossi", "Martin",
    "Silva", "Brown", "Lopez", "Jones", "Williams", "Taylor", "Lee", "Chen", "Li", "Kumar",
    "Singh", "Patel", "Khan", "Ahmed", "Hernandez", "Gonzalez", "Rodriguez", "Martinez",
    "Perez", "Sanchez", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
    "Becker", "Dubois", "Bernard", "Moreau", "Laurent", "Bianchi", "Romano", "Colombo",
    "Novak", "Kowalski", "Nowak", "Ivanov", "Petrov", "Jensen", "Nielsen", "Hansen",
    "Andersson", "Johansson", "Larsen", "Murphy", "Kelly", "Walsh", "Wilson", "Davies",
    "Evans", "Thomas", "Roberts", "Clarke", "Wright", "Walker", "White", "Green", "Hall",
    "Wood", "Jackson", "Harris", "Lewis", "Young", "King", "Baker", "Adams", "Campbell",
    "Anderson", "Scott", "Mitchell", "Okafor", "Mensah", "Tanaka", "Suzuki", "Sato",
    "Yamamoto", "Park", "Choi", "Tran", "Pham", "Cohen", "Levi", "Haddad", "Yilmaz", "Kaya",
    "Demir", "Santos", "Oliveira", "Costa", "Pereira",
)  # fmt: skip
_COMMON_STREET = (
    "High", "Station", "Church", "Park", "Mill", "Main", "Oak", "Elm", "Maple", "Cedar",
    "Hill", "Lake", "River", "Green", "School", "Market", "North", "South", "West", "East",
)  # fmt: skip
_STREET_TYPES = ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Place", "Court")
_STREET_ABBR = ("St", "Rd", "Ln", "Ave", "Cl", "Way", "Dr", "Pl", "Ct")

_ONSETS = (
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
    "z", "br", "ch", "cl", "dr", "fr", "gr", "kr", "pl", "sh", "st", "tr",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "a", "ai", "ea", "ie", "ou")
_CODAS = ("", "", "", "", "n", "r", "l", "s", "m", "t", "nd", "rt")
_GIVEN_ENDINGS = ("a", "o", "e", "", "ie", "an", "en", "in", "el", "ia")
_FAMILY_ENDINGS = (
    "son", "sen", "er", "ley", "ton", "man", "berg", "ova", "ini", "ez", "ski", "wood",
    "field", "", "", "",
)  # fmt: skip

# Vocabulary sizes and the Zipf-Mandelbrot frequencies p(rank) ~ 1 / (rank + q):
# the most common given name ~3.5% of persons, the most common family name ~1.1%.
_N_GIVEN, _Q_GIVEN = 4000, 3.0
_N_FAMILY, _Q_FAMILY = 60000, 10.0
_N_STREET = 3000
_VOCAB_SEED = 20261206  # the vocabularies are the same for every random_state

# QWERTY rows with their horizontal offsets: neighbours are keys at most one row and
# about one key apart (the substitution and insertion typos).
_KEY_ROWS = (("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75))

# Time: integer days from the window start; records are captured up to three years
# before it, name changes and moves happen any time in that span.
_WINDOW_START = np.datetime64("2019-01-01", "D")
_WINDOW_DAYS = 2556  # 2019-01-01 .. 2025-12-31
_PRE_DAYS = 1095
# Which silos a person is in: customers only, workers only, partners only, C+W, C+P,
# W+P, all three (bit 1 customers, 2 workers, 4 partners).
_SILO_PATTERNS = {1: 0.55, 2: 0.15, 4: 0.08, 3: 0.10, 5: 0.06, 6: 0.03, 7: 0.03}
_SILO_BIT = {"customers": 1, "workers": 2, "partners": 4}
_ID_PREFIX = {"customers": "C", "workers": "W-", "partners": "P9"}
_RETURN_SHARE = 0.1  # records with a second episode under the same id
_TENURE_MEDIAN, _TENURE_SIGMA = 700.0, 0.8
_GAP_MEDIAN, _GAP_SIGMA = 200.0, 0.9
_HOUSEHOLD_SIZES = {2: 0.6, 3: 0.25, 4: 0.15}
_PERSONS_PER_POSTCODE = 30
_DATE_ERRORS = ("day_month_swapped", "day_off_by_one", "year_off_by_one", "first_of_january")
_PHONE_STYLE = {"customers": 0, "workers": 1, "partners": 2}


@dataclass(frozen=True, eq=False, repr=False)
class IdentityRosters(CountsDisplay):
    """Simulated rosters with identity columns, and who is who.

    Attributes
    ----------
    rosters : dict of str to pandas.DataFrame
        ``customers``, ``workers``, ``partners``: one row per episode with the silo's
        id column (``customer_id``, ``worker_id``, ``partner_id``), ``given_name``,
        ``family_name``, ``date_of_birth`` (datetime64, a date), ``address``,
        ``postcode``, with ``contacts=True`` also ``email`` and ``phone``, and
        ``start``, ``end``, ``engagement``. Valid under
        :func:`hxmetrics.tables.validate`; missing values are ``None`` / ``NaT``.
        All rows of one record (one silo id) carry the same identity values.
    truth : pandas.DataFrame
        ``silo, source_id, person_id``: the true person of every record, the
        ``truth`` that :func:`hxmetrics.stakeholders.resolution_scores` takes.
    persons : pandas.DataFrame
        One row per person with the clean, current identity: ``person_id``,
        ``given_name``, ``family_name``, ``birth_family_name`` (before a name
        change, else the same), ``name_changed_on`` (NaT if none), ``date_of_birth``,
        ``address``, ``postcode``, ``previous_address``, ``previous_postcode``,
        ``moved_on`` (the previous address and the move date; missing if the person
        did not move), ``household_id`` (missing for a person living alone),
        ``twin`` (shares the date of birth with a household member), and with
        ``contacts=True`` ``email`` and ``phone`` (personal).
    noise : pandas.DataFrame
        One row per record (``silo, source_id, person_id``) and one bool column per
        kind of noise applied to it: ``nickname``, ``initial``, ``given_typo``,
        ``family_typo``, ``previous_family_name``, ``names_swapped``,
        ``address_typo``, ``previous_address``, ``postcode_typo``, ``dob_error``
        (``"none"`` or the kind of error: ``day_month_swapped``, ``day_off_by_one``,
        ``year_off_by_one``, ``first_of_january``) and ``missing_<column>``.
    params : dict
        The arguments that made it (plain numbers; JSON-ready).
    """

    rosters: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    persons: pd.DataFrame
    noise: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def _display_counts(self) -> dict[str, Any]:
        # Counts only: the tables hold names, birth dates and addresses.
        return {
            "persons": len(self.persons),
            "records": len(self.truth),
            **{silo: len(df) for silo, df in self.rosters.items()},
        }

    def _display_rows(self) -> dict[str, Any]:
        rows = self._display_counts()
        rows["persons in a household"] = int(self.persons["household_id"].notna().sum())
        rows["persons who moved"] = int(self.persons["moved_on"].notna().sum())
        rows["persons with a name change"] = int(self.persons["name_changed_on"].notna().sum())
        return rows | {f"param: {k}": v for k, v in self.params.items()}


# --------------------------------------------------------------------------- vocabularies
def _compose(
    rng: np.random.Generator, size: int, n_syll: np.ndarray, endings: tuple[str, ...]
) -> list[str]:
    """Names of ``n_syll`` syllables (onset + vowel + coda) and an ending."""
    on = rng.integers(0, len(_ONSETS), (size, 3))
    vo = rng.integers(0, len(_VOWELS), (size, 3))
    co = rng.integers(0, len(_CODAS), (size, 3))
    end = rng.integers(0, len(endings), size)
    out = []
    for i in range(size):  # once per vocabulary entry (cached), never per record
        parts = [
            _ONSETS[on[i, j]] + _VOWELS[vo[i, j]] + (_CODAS[co[i, j]] if j < n_syll[i] - 1 else "")
            for j in range(int(n_syll[i]))
        ]
        out.append(("".join(parts) + endings[end[i]]).capitalize())
    return out


def _vocabulary(
    rng: np.random.Generator,
    head: tuple[str, ...],
    size: int,
    syllables: tuple[int, int],
    endings: tuple[str, ...],
    max_len: int,
) -> np.ndarray:
    seen = set(head)
    words = list(head)
    while len(words) < size:
        need = 2 * (size - len(words)) + 100
        cand = _compose(rng, need, rng.integers(syllables[0], syllables[1] + 1, need), endings)
        for w in cand:
            if w not in seen and 3 <= len(w) <= max_len:
                seen.add(w)
                words.append(w)
                if len(words) == size:
                    break
    return np.array(words, dtype=object)


@lru_cache(maxsize=1)
def _vocabularies() -> dict[str, np.ndarray]:
    """Given, family and street names, in order of frequency rank (cached)."""
    rng = np.random.default_rng(_VOCAB_SEED)
    given = _vocabulary(rng, _COMMON_GIVEN, _N_GIVEN, (2, 2), _GIVEN_ENDINGS, 11)
    family = _vocabulary(rng, _COMMON_FAMILY, _N_FAMILY, (2, 2), _FAMILY_ENDINGS, 13)
    street = _vocabulary(rng, _COMMON_STREET, _N_STREET, (2, 2), _FAMILY_ENDINGS, 14)
    nick = np.array([_NICKNAMES.get(g, "") for g in given.tolist()], dtype=object)
    initial = np.array([g[0] for g in given.tolist()], dtype=object)
    return {
        "given": given,
        "family": family,
        "street": street,
        "nick": nick,
        "initial": initial,
    }


def _zipf(rng: np.random.Generator, size: int, n: int, q: float) -> np.ndarray:
    w = 1.0 / (np.arange(1, n + 1) + q)
    cdf = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n - 1)


@lru_cache(maxsize=1)
def _keyboard() -> tuple[np.ndarray, np.ndarray]:
    """Neighbour table (26 x 8, as code points) and the number of neighbours per letter."""
    pos = {ch: (r, off + i) for r, (row, off) in enumerate(_KEY_ROWS) for i, ch in enumerate(row)}
    table = np.zeros((26, 8), dtype=np.uint32)
    count = np.zeros(26, dtype=np.int64)
    for ch, (r, x) in pos.items():
        near = [
            o for o, (r2, x2) in pos.items() if o != ch and abs(r2 - r) <= 1 and abs(x2 - x) <= 1.0
        ]
        k = ord(ch) - 97
        count[k] = len(near)
        table[k, : len(near)] = [ord(o) for o in near]
    return table, count


# --------------------------------------------------------------------------- string noise
def _as_codes(words: np.ndarray, extra: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Words as a (m, width) matrix of code points, and their lengths."""
    u = np.asarray(words, dtype=str)
    width = max(u.dtype.itemsize // 4, 1) + extra
    u = u.astype(f"<U{width}")
    codes = u.view(np.uint32).reshape(len(u), width).copy()
    return codes, np.strings.str_len(u).astype(np.int64)


def _from_codes(codes: np.ndarray) -> np.ndarray:
    width = codes.shape[1]
    out: np.ndarray = np.ascontiguousarray(codes).view(f"<U{width}").ravel().astype(object)
    return out


def _typos(rng: np.random.Generator, words: np.ndarray) -> np.ndarray:
    """One keyboard edit per word: substitution by a neighbouring key, transposition of
    two adjacent different letters, deletion or insertion (a doubled letter or a
    neighbour). Words are capitalised letters; so are the results, and every result
    differs from its word."""
    m = len(words)
    if m == 0:
        return np.asarray(words, dtype=object)
    codes, length = _as_codes(words)
    width = codes.shape[1]
    upper = (codes >= 65) & (codes <= 90)
    codes[upper] += 32
    table, count = _keyboard()
    rows = np.arange(m)
    kind = rng.integers(0, 4, m)  # 0 substitute, 1 transpose, 2 delete, 3 insert
    u_pos, u_key, u_dbl = rng.random((3, m))
    pos = np.floor(u_pos * length).astype(np.int64)
    # Transposition needs two different adjacent letters; else a substitution.
    tpos = np.floor(u_pos * np.maximum(length - 1, 1)).astype(np.int64)
    nxt = np.minimum(tpos + 1, width - 1)
    kind = np.where((kind == 1) & ((length < 2) | (codes[rows, tpos] == codes[rows, nxt])), 0, kind)
    kind = np.where((kind == 2) & (length < 2), 0, kind)

    def neighbour(ch: np.ndarray) -> np.ndarray:
        letter = np.clip(ch.astype(np.int64) - 97, 0, 25)
        pick = np.floor(u_key[: len(ch)] * count[letter]).astype(np.int64)
        return table[letter, pick]

    out = codes.copy()
    sub = kind == 0
    out[rows[sub], pos[sub]] = neighbour(codes[rows[sub], pos[sub]])
    tr = kind == 1
    out[rows[tr], tpos[tr]] = codes[rows[tr], nxt[tr]]
    out[rows[tr], nxt[tr]] = codes[rows[tr], tpos[tr]]
    col = np.arange(width)
    de = kind == 2
    if de.any():
        src = np.where(col[None, :] >= pos[de, None], col[None, :] + 1, col[None, :])
        shifted = np.take_along_axis(codes[de], np.minimum(src, width - 1), axis=1)
        shifted[src >= width] = 0
        out[de] = shifted
    ins = kind == 3
    if ins.any():
        p = pos[ins]
        src = np.where(col[None, :] > p[:, None], col[None, :] - 1, col[None, :])
        shifted = np.take_along_axis(codes[ins], src, axis=1)
        here = codes[ins][np.arange(p.size), p]
        new = np.where(u_dbl[ins] < 0.5, here, neighbour(here))
        shifted[np.arange(p.size), p] = new
        out[ins] = shifted
    first = (out[:, 0] >= 97) & (out[:, 0] <= 122)
    out[first, 0] -= 32
    return _from_codes(out)


def _postcode_typos(rng: np.random.Generator, codes_in: np.ndarray) -> np.ndarray:
    """One character of a postcode wrong: a digit one off or a letter's neighbour."""
    m = len(codes_in)
    if m == 0:
        return np.asarray(codes_in, dtype=object)
    codes, _ = _as_codes(codes_in, extra=0)
    table, count = _keyboard()
    rows = np.arange(m)
    # Postcodes are "A9 9AA": characters 0, 4, 5 letters; 1, 3 digits.
    pos = np.array([0, 1, 3, 4, 5])[rng.integers(0, 5, m)]
    ch = codes[rows, pos].astype(np.int64)
    digit = (ch >= 48) & (ch <= 57)
    step = np.where(rng.random(m) < 0.5, 1, -1)
    new_digit = 48 + (ch - 48 + step) % 10
    letter = np.clip(ch + 32 - 97, 0, 25)
    new_letter = table[letter, np.floor(rng.random(m) * count[letter]).astype(np.int64)] - 32
    codes[rows, pos] = np.where(digit, new_digit, new_letter)
    return _from_codes(codes)


def _postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct fictional postcodes of the form ``A9 9AA``."""
    space = 26 * 10 * 10 * 26 * 26
    c = rng.choice(space, size=n, replace=False)
    parts = []
    for base in (26, 10, 10, 26, 26):
        parts.append(c % base)
        c = c // base
    l1, d1, d2, l2, l3 = parts
    codes = np.stack([65 + l1, 48 + d1, np.full(n, 32), 48 + d2, 65 + l2, 65 + l3], axis=1).astype(
        np.uint32
    )
    return _from_codes(codes)


class _Texts:
    """A growing vocabulary of texts; a column is integer codes into it (-1: missing).

    Columns are built by ``take`` on a pandas string array: no Python string per record.
    """

    def __init__(self, *parts: np.ndarray) -> None:
        self.parts = [np.asarray(p, dtype=object) for p in parts]
        self.size = sum(p.size for p in self.parts)
        self._array: Any = None

    def add(self, texts: np.ndarray) -> np.ndarray:
        """Append texts; returns their codes."""
        codes = self.size + np.arange(len(texts), dtype=np.int64)
        self.parts.append(np.asarray(texts, dtype=object))
        self.size += len(texts)
        self._array = None
        return codes

    def words(self, codes: np.ndarray) -> np.ndarray:
        """The texts of some codes, as Python strings (for the few that get noise)."""
        out: np.ndarray = np.concatenate(self.parts)[codes] if codes.size else np.zeros(0, object)
        return out

    def take(self, codes: np.ndarray) -> Any:
        if self._array is None:
            self._array = pd.array(np.concatenate(self.parts), dtype="str")
        return self._array.take(np.asarray(codes, dtype=np.int64), allow_fill=True)


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> Any:
    """``prefix`` + zero-padded numbers, as a pandas string array."""
    text = pd.Series(np.asarray(numbers, dtype=np.int64)).astype("str").str.zfill(width)
    return (prefix + text).array


def _with_missing(codes: np.ndarray, missing: np.ndarray) -> np.ndarray:
    return np.where(missing, -1, codes)


# --------------------------------------------------------------------------- persons
def _households(
    rng: np.random.Generator, n: int, share: float, twin_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Household of each person (-1: alone), and the member whose date of birth a
    twin copies (-1: none)."""
    household = np.full(n, -1, dtype=np.int64)
    twin_of = np.full(n, -1, dtype=np.int64)
    sizes_mix = np.array(list(_HOUSEHOLD_SIZES), dtype=np.int64)
    p = np.array(list(_HOUSEHOLD_SIZES.values()))
    mean = float(sizes_mix @ p)
    n_house = round(share * n / mean)
    if n_house == 0 or n < 2:
        return household, twin_of
    sizes = sizes_mix[rng.choice(len(sizes_mix), n_house, p=p)]
    total = np.cumsum(sizes)
    keep = total <= n
    sizes = sizes[keep]
    members = rng.permutation(n)[: int(sizes.sum())]
    hh = np.repeat(np.arange(sizes.size), sizes)
    household[members] = hh
    # The first two members of a twin household share the date of birth.
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    twins = rng.random(sizes.size) < twin_share
    twin_of[members[first[twins] + 1]] = members[first[twins]]
    return household, twin_of


def _distinct_in_household(given: np.ndarray, household: np.ndarray, n_vocab: int) -> np.ndarray:
    """Shift given-name codes until the members of each household differ."""
    given = given.copy()
    members = np.flatnonzero(household >= 0)
    for _ in range(8):
        frame = pd.DataFrame({"h": household[members], "g": given[members]})
        dup = members[frame.duplicated(["h", "g"]).to_numpy()]
        if dup.size == 0:
            break
        given[dup] = (given[dup] + 1) % n_vocab
    return given


def _draw_persons(
    rng: np.random.Generator,
    n: int,
    share: float,
    twin_share: float,
    move_rate: float,
    name_change_rate: float,
) -> dict[str, np.ndarray]:
    household, twin_of = _households(rng, n, share, twin_share)
    given = _distinct_in_household(_zipf(rng, n, _N_GIVEN, _Q_GIVEN), household, _N_GIVEN)
    family = _zipf(rng, n, _N_FAMILY, _Q_FAMILY)
    birth_family = _zipf(rng, n, _N_FAMILY, _Q_FAMILY)
    year = np.clip(np.rint(1982 + 14 * rng.standard_normal(n)), 1935, 2006).astype(np.int64)
    dob = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + rng.integers(
        0, 365, n
    ).astype("timedelta64[D]")
    n_post = max(10, -(-n // _PERSONS_PER_POSTCODE))
    postcode_names = _postcodes(rng, n_post)
    # Up to three streets per postcode, each with a name and a type.
    street_name = rng.integers(0, _N_STREET, (n_post, 3))
    street_type = rng.integers(0, len(_STREET_TYPES), (n_post, 3))
    n_streets = rng.integers(1, 4, n_post)

    def address(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        pc = rng.integers(0, n_post, size)
        slot = np.floor(rng.random(size) * n_streets[pc]).astype(np.int64)
        number = np.minimum(1 + rng.geometric(0.03, size), 400)
        return pc, street_name[pc, slot], street_type[pc, slot], number

    pc, sname, stype, number = address(n)
    pc0, sname0, stype0, number0 = address(n)  # the address before a move
    moved = rng.random(n) < move_rate
    moved_on = rng.integers(-_PRE_DAYS, _WINDOW_DAYS, n)
    changed = rng.random(n) < name_change_rate
    changed_on = rng.integers(-_PRE_DAYS, _WINDOW_DAYS, n)
    # Household members share the family name, the address (now and before) and the
    # move; twins share the date of birth.
    in_house = household >= 0
    if in_house.any():
        head = pd.Series(np.arange(n)[in_house]).groupby(household[in_house]).transform("min")
        lead = np.arange(n)
        lead[in_house] = head.to_numpy()
        for arr in (family, pc, sname, stype, number, pc0, sname0, stype0, number0, moved_on):
            arr[:] = arr[lead]
        moved[:] = moved[lead]
    twin = twin_of >= 0
    dob[twin] = dob[twin_of[twin]]
    birth_family = np.where(
        changed & (birth_family == family), (family + 1) % _N_FAMILY, birth_family
    )
    birth_family = np.where(changed, birth_family, family)
    return {
        "given": given,
        "family": family,
        "birth_family": birth_family,
        "changed": changed,
        "changed_on": changed_on,
        "dob": dob,
        "postcode_names": postcode_names,
        "pc": pc,
        "sname": sname,
        "stype": stype,
        "number": number,
        "pc0": np.where(moved, pc0, pc),
        "sname0": np.where(moved, sname0, sname),
        "stype0": np.where(moved, stype0, stype),
        "number0": np.where(moved, number0, number),
        "moved": moved,
        "moved_on": moved_on,
        "household": household,
        "twin": twin | np.isin(np.arange(n), twin_of[twin]),
    }


# --------------------------------------------------------------------------- records
def _draw_records(rng: np.random.Generator, n: int, duplicate_rate: float) -> dict[str, np.ndarray]:
    """Records (silo, person) and their capture day: a person's silos from the
    patterns, a second record in a silo at ``duplicate_rate``."""
    patterns = np.array(list(_SILO_PATTERNS), dtype=np.int64)
    p = np.array(list(_SILO_PATTERNS.values()))
    pattern = patterns[rng.choice(len(patterns), n, p=p / p.sum())]
    person, silo = [], []
    for code, s in enumerate(SILOS):
        who = np.flatnonzero(pattern & _SILO_BIT[s])
        k = 1 + (rng.random(who.size) < duplicate_rate)
        person.append(np.repeat(who, k))
        silo.append(np.full(int(k.sum()), code, dtype=np.int64))
    rec_person = np.concatenate(person)
    return {
        "person": rec_person,
        "silo": np.concatenate(silo),
        "captured": rng.integers(-_PRE_DAYS, _WINDOW_DAYS - 30, rec_person.size),
    }


def _episodes(rng: np.random.Generator, captured: np.ndarray) -> dict[str, np.ndarray]:
    """One or two episodes per record: (record, start day, end day or -1 if open)."""
    m = captured.size
    t1 = np.maximum(1, np.rint(_TENURE_MEDIAN * np.exp(_TENURE_SIGMA * rng.standard_normal(m))))
    end1 = captured + t1.astype(np.int64)
    gap = np.maximum(1, np.rint(_GAP_MEDIAN * np.exp(_GAP_SIGMA * rng.standard_normal(m))))
    start2 = end1 + gap.astype(np.int64)
    t2 = np.maximum(1, np.rint(_TENURE_MEDIAN * np.exp(_TENURE_SIGMA * rng.standard_normal(m))))
    end2 = start2 + t2.astype(np.int64)
    second = (rng.random(m) < _RETURN_SHARE) & (start2 < _WINDOW_DAYS)
    rec = np.r_[np.arange(m), np.flatnonzero(second)]
    start = np.r_[captured, start2[second]]
    end = np.r_[end1, end2[second]]
    end = np.where(end >= _WINDOW_DAYS, -1, end)
    return {"record": rec, "start": start, "end": end}


def _dob_errors(rng: np.random.Generator, dob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A wrong date for each date of birth, and the kind of each error."""
    k = rng.integers(0, len(_DATE_ERRORS), dob.size)
    y = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dob - dob.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    # An impossible swap (day > 12 or day == month) becomes a day off by one; a date
    # already on the 1st of January gets its year off by one.
    k = np.where((k == 0) & ((d > 12) | (d == mo)), 1, k)
    k = np.where((k == 3) & (d == 1) & (mo == 1), 2, k)
    sign = np.where(rng.random(dob.size) < 0.5, 1, -1)
    ny, nm, nd = y.copy(), mo.copy(), d.copy()
    sw = k == 0
    nm[sw], nd[sw] = d[sw], mo[sw]
    off = k == 1
    nd[off] = np.where(d[off] == 1, 2, np.where(d[off] >= 28, d[off] - 1, d[off] + sign[off]))
    yr = k == 2
    ny[yr] = y[yr] + sign[yr]
    nd[yr & (mo == 2) & (d == 29)] = 28
    jan = k == 3
    nm[jan], nd[jan] = 1, 1
    wrong = (
        (ny - 1970).astype("datetime64[Y]").astype("datetime64[M]")
        + (nm - 1).astype("timedelta64[M]")
    ).astype("datetime64[D]") + (nd - 1).astype("timedelta64[D]")
    return wrong, k


def _missing_rates(missing_rate: float | Mapping[str, float] | None) -> dict[str, float]:
    columns = (*IDENTITY_COLUMNS, "email", "phone")
    if missing_rate is None:
        return dict(DEFAULT_MISSING)
    if isinstance(missing_rate, Mapping):
        for c in missing_rate:
            if c not in columns:
                raise ParameterError(
                    f"missing_rate names an unknown column {c!r}; the columns are "
                    f"{', '.join(columns)}." + did_you_mean(str(c), columns)
                )
        return {c: _check_rate(f"missing_rate[{c!r}]", missing_rate.get(c, 0.0)) for c in columns}
    rate = _check_rate("missing_rate", missing_rate)
    return dict.fromkeys(columns, rate)


def _check_rate(name: str, value: Any, upper: float = 0.5) -> float:
    number = int | float | np.integer | np.floating
    if isinstance(value, bool) or not isinstance(value, number) or not 0 <= value <= upper:
        raise ParameterError(f"{name} must be a number in [0, {upper}]; got {value!r}.")
    return float(value)


def simulate_identity_rosters(
    n_people: int = 2000,
    *,
    random_state: int | np.random.Generator = 0,
    typo_rate: float = 0.05,
    move_rate: float = 0.15,
    name_change_rate: float = 0.05,
    missing_rate: float | Mapping[str, float] | None = None,
    household_share: float = 0.2,
    contacts: bool = False,
    nickname_rate: float = 0.3,
    initial_rate: float = 0.01,
    swap_rate: float = 0.01,
    date_error_rate: float = 0.02,
    duplicate_rate: float = 0.05,
    twin_share: float = 0.01,
    silo_styles: bool = True,
) -> IdentityRosters:
    """Simulate rosters whose records share no clean key, with the true persons.

    Each person is in one to three silos (``customers``, ``workers``,
    ``partners``), has one record per silo (two at ``duplicate_rate``: a duplicate
    account, a re-hire under a new id) and one or two episodes per record. Every
    record copies the person's identity as the silo captured it, with noise.

    Parameters
    ----------
    n_people : int, default 2000
        Number of persons (about 1.3 records and 1.4 roster rows each).
    random_state : int or numpy.random.Generator, default 0
        Seed (a non-negative integer) or generator; one independent stream per
        component is spawned from it, so the same arguments give the same rosters
        and changing a noise rate changes only that noise.
    typo_rate : float, default 0.05
        Per record, independently for the given name, the family name, the street
        name and the postcode: one keyboard edit (substitution by a neighbouring
        key, transposition, deletion, insertion; a postcode digit one off or a
        letter's neighbour). Every edit changes the value.
    move_rate : float, default 0.15
        Share of persons (households move together) who moved once, on a date in
        the three years before the window or in the window (2019-01-01 to
        2025-12-31); records captured before the move carry the old address and
        postcode.
    name_change_rate : float, default 0.05
        Share of persons whose family name changed on a date (a marriage);
        records captured before it carry the birth family name.
    missing_rate : float or mapping, optional
        Per record and column, independently: the value is missing. One number for
        every identity column (and ``email``, ``phone``), or a rate per column
        (columns not named: never missing). Default :data:`DEFAULT_MISSING`: names
        0.005 (rosters rarely lack a name), date of birth 0.05, address and postcode
        0.03, email and phone 0.1.
    household_share : float, default 0.2
        Share of persons living in a household of two to four persons who share
        the family name, the address and the postcode (and move together): the
        different persons that must not be merged.
    contacts : bool, default False
        Add ``email`` and ``phone``: customers and partners give a personal email,
        workers a work email; customers and workers a personal phone, partners a
        business phone at half the records; members of a household give a shared
        landline at 30% of the records (the shared-phone trap). Default: no
        contact key, the case exact keys cannot solve.
    nickname_rate : float, default 0.3
        Per record of a person whose given name has a usual short form
        (William: Bill): the record shows the short form.
    initial_rate : float, default 0.01
        Per record: the given name shows its initial only.
    swap_rate : float, default 0.01
        Per record: given and family name are in each other's column.
    date_error_rate : float, default 0.02
        Per record: a wrong date of birth (day and month swapped, day off by one,
        year off by one, or the 1st of January of the right year).
    duplicate_rate : float, default 0.05
        Per person and silo: a second record (another id) in the silo.
    twin_share : float, default 0.01
        Share of households whose first two members are twins (same date of birth).
    silo_styles : bool, default True
        Each silo's format: partners write family names in capitals, customers
        abbreviate street types (``Rd``, ``St``). A resolver has to normalise them.

    Returns
    -------
    IdentityRosters
        ``rosters`` (by silo), ``truth`` (``silo, source_id, person_id``),
        ``persons`` (the clean identity), ``noise`` (per record) and ``params``.

    References
    ----------
    Christen, P. (2012). *Data Matching*. Springer, ch. 4 and 10 (the kinds of
    errors in names, dates and addresses; synthetic data with known truth).
    Zipf-Mandelbrot frequencies for names: the frequency of the r-th most common
    name falls about as 1 / (r + q).

    Examples
    --------
    >>> from hxmetrics.datasets._identity import simulate_identity_rosters
    >>> sim = simulate_identity_rosters(500, random_state=1)
    >>> sorted(sim.rosters)
    ['customers', 'partners', 'workers']
    >>> list(sim.rosters["workers"].columns)  # doctest: +NORMALIZE_WHITESPACE
    ['worker_id', 'given_name', 'family_name', 'date_of_birth', 'address', 'postcode',
     'start', 'end', 'engagement']
    >>> list(sim.truth.columns)
    ['silo', 'source_id', 'person_id']
    >>> sim.truth["person_id"].nunique()
    500
    """
    if isinstance(n_people, bool) or not isinstance(n_people, int | np.integer):
        raise ParameterError(f"n_people must be an integer; got {n_people!r}.")
    if not 2 <= n_people <= 10_000_000:
        raise ParameterError(f"n_people must be between 2 and 10 000 000; got {n_people}.")
    if isinstance(random_state, np.random.Generator):
        gens = random_state.spawn(6)
    elif (
        isinstance(random_state, bool)
        or not isinstance(random_state, int | np.integer)
        or random_state < 0
    ):
        raise ParameterError(
            "random_state must be a non-negative integer or a numpy Generator; "
            f"got {random_state!r}."
        )
    else:
        gens = [
            np.random.default_rng(s) for s in np.random.SeedSequence(int(random_state)).spawn(6)
        ]
    rates = {
        "typo_rate": _check_rate("typo_rate", typo_rate),
        "move_rate": _check_rate("move_rate", move_rate, 1.0),
        "name_change_rate": _check_rate("name_change_rate", name_change_rate, 1.0),
        "household_share": _check_rate("household_share", household_share, 0.9),
        "nickname_rate": _check_rate("nickname_rate", nickname_rate, 1.0),
        "initial_rate": _check_rate("initial_rate", initial_rate),
        "swap_rate": _check_rate("swap_rate", swap_rate),
        "date_error_rate": _check_rate("date_error_rate", date_error_rate),
        "duplicate_rate": _check_rate("duplicate_rate", duplicate_rate, 1.0),
        "twin_share": _check_rate("twin_share", twin_share, 1.0),
    }
    for name, flag in (("contacts", contacts), ("silo_styles", silo_styles)):
        if not isinstance(flag, bool):
            raise ParameterError(f"{name} must be True or False; got {flag!r}.")
    missing_rates = _missing_rates(missing_rate)
    rng_persons, rng_records, rng_ids, rng_noise, rng_typos, rng_contacts = gens
    n = int(n_people)
    params: dict[str, Any] = {"n_people": n}
    if not isinstance(random_state, np.random.Generator):
        params["random_state"] = int(random_state)
    params |= rates | {
        "missing_rate": missing_rates,
        "contacts": contacts,
        "silo_styles": silo_styles,
    }

    vocab = _vocabularies()
    per = _draw_persons(
        rng_persons,
        n,
        rates["household_share"],
        rates["twin_share"],
        rates["move_rate"],
        rates["name_change_rate"],
    )
    recs = _draw_records(rng_records, n, rates["duplicate_rate"])
    ep = _episodes(rng_records, recs["captured"])
    id_number = _id_numbers(rng_ids, recs["silo"])
    p = recs["person"]
    m = p.size
    silo = recs["silo"]
    captured = recs["captured"]

    # Names: one vocabulary of given names, their short forms and initials, family
    # names; the noisy texts are appended to it.
    n_given = len(vocab["given"])
    names = _Texts(vocab["given"], vocab["nick"], vocab["initial"], vocab["family"])
    family_base = 3 * n_given
    old_name = per["changed"][p] & (captured < per["changed_on"][p])
    old_addr = per["moved"][p] & (captured < per["moved_on"][p])
    family_code = family_base + np.where(old_name, per["birth_family"][p], per["family"][p])
    given_code = per["given"][p]
    pc = np.where(old_addr, per["pc0"][p], per["pc"][p])
    sname = np.where(old_addr, per["sname0"][p], per["sname"][p])
    stype = np.where(old_addr, per["stype0"][p], per["stype"][p])
    number = np.where(old_addr, per["number0"][p], per["number"][p])

    # Uniforms drawn whatever the rates: a record noisy at a rate is noisy at a higher one.
    # (One row at a time, in a fixed order: 13 rows of floats per record at once would
    # be most of the memory at 10M records.)
    def hit(rate: str | float) -> np.ndarray:
        out: np.ndarray = rng_noise.random(m) < (rates[rate] if isinstance(rate, str) else rate)
        return out

    nick = hit("nickname_rate") & (vocab["nick"][given_code] != "")
    initial = hit("initial_rate")
    nick &= ~initial
    given_typo = hit("typo_rate") & ~initial
    family_typo = hit("typo_rate")
    address_typo = hit("typo_rate")
    postcode_typo = hit("typo_rate")
    swapped = hit("swap_rate")
    dob_hit = hit("date_error_rate")
    missing = {c: hit(missing_rates[c]) for c in IDENTITY_COLUMNS}

    given_code = np.where(nick, n_given + given_code, given_code)
    given_code = np.where(initial, 2 * n_given + given_code, given_code)
    given_code[given_typo] = names.add(_typos(rng_typos, names.words(given_code[given_typo])))
    family_code[family_typo] = names.add(_typos(rng_typos, names.words(family_code[family_typo])))
    given_code, family_code = (
        np.where(swapped, family_code, given_code),
        np.where(swapped, given_code, family_code),
    )
    streets = _Texts(vocab["street"])
    sname = sname.copy()
    sname[address_typo] = streets.add(_typos(rng_typos, streets.words(sname[address_typo])))
    postcodes = _Texts(per["postcode_names"])
    pc = pc.copy()
    pc[postcode_typo] = postcodes.add(
        _postcode_typos(rng_typos, postcodes.words(pc[postcode_typo]))
    )
    dob = per["dob"][p]
    dob_kind = np.full(m, -1, dtype=np.int64)
    dob[dob_hit], dob_kind[dob_hit] = _dob_errors(rng_noise, dob[dob_hit])
    dob[missing["date_of_birth"]] = np.datetime64("NaT")

    customers, partners = SILOS.index("customers"), SILOS.index("partners")
    abbreviate = (silo == customers) if silo_styles else np.zeros(m, dtype=bool)
    columns: dict[str, Any] = {
        "given_name": names.take(_with_missing(given_code, missing["given_name"])),
        "family_name": names.take(_with_missing(family_code, missing["family_name"])),
        "date_of_birth": dob,
        "address": _address(
            _with_missing(number, missing["address"]),
            streets.take(sname),
            stype + len(_STREET_TYPES) * abbreviate,
        ),
        "postcode": postcodes.take(_with_missing(pc, missing["postcode"])),
    }
    if contacts:
        columns |= _contacts(rng_contacts, per, p, silo, missing_rates)

    rosters = _assemble(
        rng_records, columns, ep, silo, id_number, upper=partners if silo_styles else None
    )
    order = np.lexsort((id_number, silo))
    person_ids = _numbered("I", np.arange(1, n + 1), max(7, len(str(n))))
    truth = pd.DataFrame(
        {
            "silo": pd.array(np.asarray(SILOS, dtype=object), dtype="str").take(silo[order]),
            "source_id": _source_ids(silo[order], id_number[order]),
            "person_id": person_ids.take(p[order]),
        }
    )
    flags = {
        "nickname": nick,
        "initial": initial,
        "given_typo": given_typo,
        "family_typo": family_typo,
        "previous_family_name": old_name,
        "names_swapped": swapped,
        "address_typo": address_typo,
        "previous_address": old_addr,
        "postcode_typo": postcode_typo,
    }
    noise = truth.copy(deep=False)  # the keys are shared (copy on write), not copied
    for k, v in flags.items():
        noise[k] = v[order]
    kinds = pd.array(np.array([*_DATE_ERRORS, "none"], dtype=object), dtype="str")
    noise["dob_error"] = kinds.take(dob_kind[order])
    for c, miss in missing.items():
        noise[f"missing_{c}"] = miss[order]
    return IdentityRosters(
        rosters=rosters,
        truth=truth,
        persons=_persons_table(per, vocab, person_ids, contacts),
        noise=noise,
        params=params,
    )


_HOUSE_NUMBERS: Any = pd.array(np.arange(401).astype(str).astype(object), dtype="str")
_TYPE_TEXTS: Any = pd.array(np.array([*_STREET_TYPES, *_STREET_ABBR], dtype=object), dtype="str")


def _address(number: np.ndarray, street: Any, stype: np.ndarray) -> Any:
    """``"12 Maple Road"``: missing where ``number`` is -1 (pandas string arrays)."""
    return (
        _HOUSE_NUMBERS.take(number, allow_fill=True) + " " + street + " " + _TYPE_TEXTS.take(stype)
    )


def _id_numbers(rng: np.random.Generator, silo: np.ndarray) -> np.ndarray:
    """Silo ids are numbered in random order: they say nothing about the person."""
    number = np.zeros(silo.size, dtype=np.int64)
    for code in range(len(SILOS)):
        sel = np.flatnonzero(silo == code)
        number[sel] = rng.permutation(sel.size) + 1
    return number


def _source_ids(silo: np.ndarray, number: np.ndarray) -> Any:
    """``C000123``, ``W-000123``, ``P9000123``: the silo's prefix and the number.

    ``silo`` is sorted (blocks of one silo); the width of a silo's numbers is set by
    its number of records, so a record's id is the same in every table.
    """
    parts = []
    for code, s in enumerate(SILOS):
        sel = silo == code
        if sel.any():
            width = max(6, len(str(int(number[sel].max()))))
            parts.append(pd.Series(_numbered(_ID_PREFIX[s], number[sel], width)))
    return pd.concat(parts, ignore_index=True).array if parts else pd.array([], dtype="str")


def _contacts(
    rng: np.random.Generator,
    per: dict[str, Any],
    p: np.ndarray,
    silo: np.ndarray,
    missing_rate: Mapping[str, float],
) -> dict[str, Any]:
    """Emails and phones per record (see ``contacts`` in the docstring)."""
    vocab = _vocabularies()
    n = per["given"].size
    m = p.size
    lower_given = pd.array(vocab["given"], dtype="str").take(per["given"])
    given = pd.Series(lower_given).str.lower()
    family = pd.Series(pd.array(vocab["family"], dtype="str").take(per["family"])).str.lower()
    # Shuffled numbers keep addresses unique without revealing the person's index.
    suffix = pd.Series(rng.permutation(n) + 1).astype("str")
    personal = given + "." + family + suffix + "@example.org"
    suffix = pd.Series(rng.permutation(n) + 1).astype("str")
    work = given.str.slice(0, 1) + "." + family + suffix + "@corp.example"
    # Area code 555 is not in service: every number is fictional.
    mobile = np.asarray(_numbered("555", rng.choice(10**7, n, replace=False), 7), dtype=object)
    household = per["household"]
    landline = rng.integers(0, 10**7, n)
    lead = pd.Series(np.arange(n)).groupby(household).transform("min").to_numpy()
    landline = np.asarray(
        _numbered("555", np.where(household >= 0, landline[lead], landline), 7), dtype=object
    )
    business = np.asarray(_numbered("555", rng.integers(0, 10**7, m), 7), dtype=object)
    workers, partners = SILOS.index("workers"), SILOS.index("partners")
    u = rng.random((4, m))
    email = np.where(
        silo == workers, work.to_numpy(dtype=object)[p], personal.to_numpy(dtype=object)[p]
    )
    phone = np.where((household[p] >= 0) & (u[0] < 0.3), landline[p], mobile[p])
    phone = pd.Series(np.where((silo == partners) & (u[1] < 0.5), business, phone), dtype="str")
    a, b, c = phone.str.slice(0, 3), phone.str.slice(3, 6), phone.str.slice(6, 10)
    styles = {0: "+1 (" + a + ") " + b + "-" + c, 1: phone, 2: a + "." + b + "." + c}
    shown = phone.copy()
    for code, s in enumerate(SILOS):
        sel = silo == code
        shown[sel] = styles[_PHONE_STYLE[s]][sel]
    per["email"] = personal.array
    per["phone"] = pd.array(mobile, dtype="str")
    email_s = pd.Series(email, dtype="str")
    email_s[u[2] < missing_rate["email"]] = np.nan
    shown[u[3] < missing_rate["phone"]] = np.nan
    return {"email": email_s.array, "phone": shown.array}


def _assemble(
    rng: np.random.Generator,
    columns: dict[str, Any],
    ep: dict[str, np.ndarray],
    silo: np.ndarray,
    id_number: np.ndarray,
    *,
    upper: int | None,
) -> dict[str, pd.DataFrame]:
    """One roster per silo: id, identity columns, episode and engagement."""
    rec = ep["record"]
    start = (_WINDOW_START + ep["start"].astype("timedelta64[D]")).astype("datetime64[ns]")
    end = np.where(
        ep["end"] < 0,
        np.datetime64("NaT", "ns"),
        (_WINDOW_START + ep["end"].astype("timedelta64[D]")).astype("datetime64[ns]"),
    )
    out: dict[str, pd.DataFrame] = {}
    for code, s in enumerate(SILOS):
        rows = np.flatnonzero(silo[rec] == code)
        # Sorted by id, then start (ids are numbered: integer keys sort fast).
        rows = rows[np.lexsort((ep["start"][rows], id_number[rec[rows]]))]
        r = rec[rows]
        frame: dict[str, Any] = {
            ID_COLUMN[s]: _source_ids(np.full(r.size, code), id_number[r]),
        }
        for c, v in columns.items():
            if c == "date_of_birth":
                frame[c] = v[r].astype("datetime64[ns]")
            else:
                frame[c] = v.take(r)
        if upper == code:
            frame["family_name"] = pd.Series(frame["family_name"]).str.upper().array
        frame["start"] = start[rows]
        frame["end"] = end[rows]
        eng = _choice(rng, _ENGAGEMENT_MIX[ROLE_OF_SILO[s]], rows.size)
        frame["engagement"] = pd.array(eng, dtype="str")
        out[s] = pd.DataFrame(frame)
    return out


def _persons_table(
    per: dict[str, Any], vocab: dict[str, np.ndarray], person_ids: Any, contacts: bool
) -> pd.DataFrame:
    def day(offsets: np.ndarray, keep: np.ndarray) -> np.ndarray:
        ts = (_WINDOW_START + offsets.astype("timedelta64[D]")).astype("datetime64[ns]")
        return np.where(keep, ts, np.datetime64("NaT", "ns"))

    moved = per["moved"]
    streets = pd.array(vocab["street"], dtype="str")
    postcodes = pd.array(per["postcode_names"], dtype="str")
    given = pd.array(vocab["given"], dtype="str")
    family = pd.array(vocab["family"], dtype="str")
    household = per["household"]
    frame = {
        "person_id": person_ids,
        "given_name": given.take(per["given"]),
        "family_name": family.take(per["family"]),
        "birth_family_name": family.take(per["birth_family"]),
        "name_changed_on": day(per["changed_on"], per["changed"]),
        "date_of_birth": per["dob"].astype("datetime64[ns]"),
        "address": _address(per["number"], streets.take(per["sname"]), per["stype"]),
        "postcode": postcodes.take(per["pc"]),
        "previous_address": _address(
            np.where(moved, per["number0"], -1), streets.take(per["sname0"]), per["stype0"]
        ),
        "previous_postcode": postcodes.take(np.where(moved, per["pc0"], -1), allow_fill=True),
        "moved_on": day(per["moved_on"], moved),
        "household_id": pd.array(
            np.where(
                household >= 0,
                np.asarray(
                    _numbered("F", household + 1, max(6, len(str(household.max() + 1)))),
                    dtype=object,
                ),
                np.nan,
            ),
            dtype="str",
        ),
        "twin": per["twin"],
    }
    if contacts:
        frame["email"] = per["email"]
        frame["phone"] = per["phone"]
    return pd.DataFrame(frame)
