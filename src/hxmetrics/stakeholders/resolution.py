"""Identity resolution: link silo records into persons through shared keys.

Every silo keeps its own id for a person (``customer_id``, ``worker_id``,
``partner_id``). A *record* here is one ``(silo, source_id)``; a roster may hold
several rows for it (one per episode). Records are linked when they carry the
same normalised key value (email, phone, any external id), and links are
transitive: the persons are the connected components of the bipartite graph
record -- key value (union-find over key components, computed by
:func:`scipy.sparse.csgraph.connected_components`, no Python loop per record).

Suspicious merges are reported in a conflicts table and never silently made:

* ``birth_year_mismatch``: a key value shared by records whose birth years
  contradict (a household phone, a shared mailbox). The key is not used.
* ``ambiguous_birth_year_bridge``: records without a birth year joined records
  with contradicting birth years (A 1980 -- B ? -- C 1985). The records without a
  birth year in that component are not linked through these keys (the key still
  links the other records).
* ``component_birth_year_mismatch`` / ``component_too_large``: a component that
  still contradicts itself, or has more than ``max_component_size`` records. Its
  most shared key is not used, and the graph is cut again.
* ``unresolved_component``: still suspicious after the cuts: its records stay
  separate persons.
* ``record_birth_year_mismatch``: one record's own rows carry different birth
  years; its birth year is ignored for the checks above.
* ``household`` (``method="probabilistic"``): a model link between records at one
  address whose given names disagree, or where nothing personal agrees
  (:data:`HOUSEHOLD_RULE`): not made; a key value (a landline, a family mailbox)
  shared by records whose dates of birth lie more than a year apart, or whose given
  names start with different letters: not used.

With ``method="probabilistic"``, each model link above the threshold is one more
"key value" carried by its two records (the pseudo key ``model``): the same
components, conflict rules, cuts (the weakest link first) and person ids.

``person_id`` is ``"P"`` followed by 16 hex digits of a keyed hash (HMAC-SHA256,
RFC 2104) of one member record's ``(silo, source_id)`` under a secret: without the
secret, ids cannot be computed from roster ids, so hashing guessed ids (``C000001``,
...) re-identifies no one. Pass the organisation's secret (:func:`new_secret` makes
one; keep it with the rosters, not with the outputs) for ids that are stable across
runs; without one, a random secret is drawn once per process and the ids are stable
within that process only. The secret changes the ids and nothing else: which records
form a person, which member names it (the member whose unkeyed 64-bit hash is smallest,
so ids do not depend on the rows' order), the conflicts and the crosswalk's row order
are the same under any secret. The crosswalk lists records in order of first
appearance in the rosters (silos in the order customers, partners, workers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, check_choice, did_you_mean
from hxmetrics.stakeholders._person_ids import (
    _check_unique_hashes,
    _distinct,
    _group_min_hash,
    _person_ids,
)
from hxmetrics.stakeholders._rosters import (
    IDENTITY_COLUMNS,
    _collect,
    _Records,
    check_rosters,
    identity_frame,
)
from hxmetrics.stakeholders._unionfind import bipartite_components, group_max, group_min
from hxmetrics.stakeholders.keys import (
    DEFAULT_KEYS,
    _process_secret,
    check_keys,
    secret_key,
)

if TYPE_CHECKING:
    from hxmetrics.stakeholders.probabilistic import LinkageModel

__all__ = [
    "CONFLICT_KINDS",
    "CONFLICT_RULES",
    "HOUSEHOLD_RULE",
    "METHODS",
    "Resolution",
    "resolve_identities",
]

#: Resolution methods: exact keys only, or exact keys plus a linkage model's pairs.
METHODS = ("exact", "probabilistic")

#: Conflict kinds, in the order conflicts are numbered, and what was done about each.
CONFLICT_KINDS: dict[str, str] = {
    "birth_year_mismatch": "key_not_used",
    "ambiguous_birth_year_bridge": "records_without_birth_year_not_linked",
    "component_birth_year_mismatch": "key_not_used",
    "component_too_large": "key_not_used",
    "unresolved_component": "split_into_records",
    "record_birth_year_mismatch": "birth_year_ignored",
    "household": "link_not_used",
}

#: The household rule of the probabilistic method, as data. A model link between
#: records that share a home (every comparison in ``shared`` at or above its level) is
#: refused when a comparison in ``different`` is known and at or below its level (the
#: given names disagree: twins, siblings, a couple), or when no comparison in
#: ``personal`` reaches its level (nothing personal agrees: a parent and a child whose
#: given names or dates of birth are missing). A refused link is reported as a
#: ``household`` conflict. Levels are comparison-vector values of the shipped template
#: (:func:`~hxmetrics.stakeholders.probabilistic.default_settings`): address 1 = within
#: 3 edits; given name 0 = no similarity level, 2 = one edit or closer; date of birth
#: 4 = equal or one typo. Write your own for other settings.
HOUSEHOLD_RULE: dict[str, dict[str, int]] = {
    "shared": {"address": 1},
    "different": {"given_name": 0},
    "personal": {"given_name": 2, "date_of_birth": 4},
}

#: Conflict rules and their defaults per method (``conflict_rules=`` overrides them).
#: ``birth_year``: records with contradicting ``birth_year`` values are not merged
#: (off in the probabilistic method when its model compares dates of birth: the
#: fuzzy date comparison already weighs them, and the exact rule removed only true
#: links on noisy rosters). ``household``: :data:`HOUSEHOLD_RULE` (probabilistic
#: method; ``None`` turns it off).
CONFLICT_RULES: dict[str, dict[str, Any]] = {
    "exact": {"birth_year": True, "household": None},
    "probabilistic": {"birth_year": "unless_date_of_birth_compared", "household": HOUSEHOLD_RULE},
}
_KIND_CODE = {kind: i for i, kind in enumerate(CONFLICT_KINDS)}

# Years of birth further apart than this make a shared key value a household's
# (probabilistic method, from the dates of birth; a typo rarely moves the year by more).
_KEY_YEARS_APART = 1

# Rounds of "cut the most shared key of each suspicious component" before the
# remaining suspicious components are split into their records.
_MAX_ROUNDS = 10


class _Tables(NamedTuple):
    crosswalk: pd.DataFrame
    conflicts: pd.DataFrame


class Resolution(_Tables):
    """The result of :func:`resolve_identities` (either method).

    Unpacks as ``crosswalk, conflicts = resolve_identities(...)``.

    Attributes
    ----------
    crosswalk : pandas.DataFrame
        One row per ``(silo, source_id)``: ``silo``, ``source_id``, ``person_id``
        (a keyed hash under the secret, see :func:`resolve_identities`),
        ``matched_on`` (the key kinds that linked the record to another record of
        the same person, joined by ``"+"``, ``"model"`` for a link by the linkage
        model; ``"none"`` for a person with one record). The probabilistic method adds
        ``match_probability`` (the highest probability among the links joining the
        record to its person: 1.0 for an exact key; missing for a person with one
        record) and ``matched_fields`` (the keys and compared columns that agreed,
        exactly or within a fuzzy level, on those links).
    conflicts : pandas.DataFrame
        One row per record involved in a suspicious merge: ``conflict_id``,
        ``kind``, ``key``, ``silo``, ``source_id``, ``birth_year``, ``action``.
        Raw key values never appear.
    review : pandas.DataFrame
        Pairs of records whose match probability is in the review band (empty for the
        exact method): ``silo_l``, ``source_id_l``, ``silo_r``, ``source_id_r``,
        ``match_probability``, ``match_weight``, ``linked`` (the pair's link was
        made), ``household`` (the household rule refused it), ``same_person`` (the
        records ended in one person, through this or other links), then one column
        per comparison with its level's label ("Exact match on given_name",
        "Jaro-Winkler distance of given_name >= 0.92", ...). For the data owner's
        clerical review: roster ids, never a name, a date or an address.
    model : LinkageModel or None
        The linkage model used (fitted here or passed in); ``None`` for the exact
        method. Save it (:meth:`LinkageModel.save`) to score later rosters with the
        same weights.
    """

    review: pd.DataFrame
    model: LinkageModel | None = None


def _resolution(
    crosswalk: pd.DataFrame,
    conflicts: pd.DataFrame,
    review: pd.DataFrame | None = None,
    model: LinkageModel | None = None,
) -> Resolution:
    out = Resolution(crosswalk, conflicts)
    out.review = _empty_review() if review is None else review
    out.model = model
    return out


def _empty_review() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "silo_l": pd.Series(dtype="str"),
            "source_id_l": pd.Series(dtype="str"),
            "silo_r": pd.Series(dtype="str"),
            "source_id_r": pd.Series(dtype="str"),
            "match_probability": pd.Series(dtype="float64"),
            "match_weight": pd.Series(dtype="float64"),
            "linked": pd.Series(dtype="bool"),
            "household": pd.Series(dtype="bool"),
            "same_person": pd.Series(dtype="bool"),
        }
    )


def resolve_identities(
    rosters: Mapping[str, pd.DataFrame],
    *,
    keys: Sequence[str] | None = None,
    birth_year: str | None = "birth_year",
    birth_year_tolerance: int = 0,
    max_component_size: int = 50,
    key_kinds: Mapping[str, str] | None = None,
    min_phone_digits: int = 7,
    secret: str | bytes | None = None,
    method: str = "exact",
    model: LinkageModel | Mapping[str, Any] | str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
    threshold: float | None = None,
    review_band: tuple[float, float] | None = None,
    conflict_rules: Mapping[str, Any] | None = None,
    random_state: int | np.random.Generator | None = None,
    backend: Any = "duckdb",
) -> Resolution:
    """Link roster records across (and within) silos into persons.

    Two methods, one result. ``method="exact"`` (the default, no dependency) links
    records that share a normalised key value. ``method="probabilistic"`` also links
    records that a Fellegi-Sunter model (:class:`~hxmetrics.stakeholders.LinkageModel`,
    fitted by splink: ``pip install 'hxmetrics[linkage]'``) scores at or above
    ``threshold`` on the identity columns (``given_name``, ``family_name``,
    ``date_of_birth``, ``address``, ``postcode``); the model's pairs and the exact
    keys then go through the same connected components, conflict rules and person
    ids.

    Parameters
    ----------
    rosters : mapping of str to pandas.DataFrame
        Roster per silo (``customers``, ``workers``, ``partners``), one row per
        episode, with the silo's id column (``customer_id``, ``worker_id``,
        ``partner_id``, or ``source_id``) and the key columns. A key column may be
        missing from some rosters, not from all. Polars, PyArrow and other frames
        narwhals accepts are converted to pandas (lazy frames collected).
    keys : str or sequence of str, optional
        Key columns; each must be in at least one roster (a named key in none is an
        error: a typo). One string is one column (``keys="email"``). Default:
        ``email`` and ``phone``, those of them that the rosters have. Values are
        normalised (see :func:`normalise_key`); columns whose name contains
        ``email`` / ``phone`` get the email / phone rules. Pseudonymised keys
        (:func:`pseudonymise`, one salt for every roster) link exactly as the raw
        keys do. ``keys=[]`` links nothing: one person per record
        ``(silo, source_id)``, ``matched_on="none"``. Rosters without any default
        key (a CRM export of ids only) get the same when ``keys`` is not given; in
        both cases ``crosswalk.attrs["hxmetrics"]["notes"]`` says so.
    birth_year : str or None, default "birth_year"
        Column used as a conflict signal only: records with contradicting birth
        years are never merged through a shared key. ``None`` disables the check.
    birth_year_tolerance : int, default 0
        Birth years further apart than this contradict.
    max_component_size : int, default 50
        A person with more records than this is suspicious (a shared mailbox, a
        placeholder phone): its most shared key is cut and the rest re-linked.
    key_kinds : mapping, optional
        Normalisation per key column (``email``, ``phone``, ``generic``),
        overriding the guess from the name.
    min_phone_digits : int, default 7
        Shorter phone numbers are treated as missing.
    secret : str or bytes, optional
        The organisation's secret key of the person ids (HMAC-SHA256): at least
        :data:`MIN_SECRET_BYTES` (16) bytes, not a common word, a run or a repeated
        pattern; :func:`new_secret` makes one. Pass the same secret to every run
        whose person ids must match. Default: a random secret drawn once per process,
        so the ids are stable within the process only. The secret changes the ids,
        never which records form a person, the conflicts or the row order.
    method : {"exact", "probabilistic"}, default "exact"
        ``exact``: shared key values only (no dependency). ``probabilistic``: the
        exact keys plus the links of a linkage model over the identity columns
        (``given_name``, ``family_name``, ``date_of_birth``, ``address``,
        ``postcode``; a roster may lack some, each is optional; values are
        normalised per record: the first non-missing value of its rows, lower case,
        no accents or punctuation, usual English short forms of given names read as
        the full name, one spelling per street type, dates as ``YYYY-MM-DD``).
    model : LinkageModel, dict or path, optional
        A fitted :class:`~hxmetrics.stakeholders.probabilistic.LinkageModel`, its
        :meth:`~LinkageModel.to_dict` or the path of its saved JSON: the rosters are
        scored with its weights (a pipeline fits once, then scores every run).
        Default: a model is fitted on these rosters (``Resolution.model``).
    settings : dict, optional
        A splink settings dict for the model fitted here (default: the shipped
        template, :func:`~hxmetrics.stakeholders.probabilistic.default_settings`).
    threshold : float, default 0.9
        Match probability at or above which a scored pair links its records.
    review_band : (float, float), default (0.5, 0.9)
        Pairs with a probability in ``[low, high)`` go to ``Resolution.review``.
    conflict_rules : mapping, optional
        Overrides of :data:`CONFLICT_RULES`: ``{"birth_year": bool}`` (default: on for
        the exact method; for the probabilistic one on only if the model does not
        compare dates of birth) and ``{"household": rule or None}`` (probabilistic
        method; default :data:`HOUSEHOLD_RULE`).
    random_state : int or numpy Generator, optional
        Seed of the model's random pairs (``u``), when a model is fitted here.
    backend : "duckdb" or pyspark.sql.SparkSession, default "duckdb"
        Where splink fits and scores. A model fitted on one backend scores on the
        other (the shipped template is rebuilt in the other's SQL dialect).

    Returns
    -------
    Resolution
        ``crosswalk`` (silo, source_id, person_id, matched_on; the probabilistic
        method adds match_probability and matched_fields), in order of first
        appearance (silos in the order customers, partners, workers),
        ``conflicts`` (one row per record in a reported conflict), ``review`` (pairs
        in the review band, empty for the exact method) and ``model``.
        ``crosswalk.attrs["hxmetrics"]`` holds ``keys`` (the key columns used),
        ``method``, ``notes`` (e.g. that no key linked any record) and, for the
        probabilistic method, ``threshold``, ``review_band``, ``conflict_rules``,
        ``n_links``, ``n_review_pairs`` and ``n_persons_uncertain`` (persons with a
        record in a pair scored inside the review band, linked or not, or whose best
        link is below the band's upper end).

    Raises
    ------
    ParameterError
        For a bad argument (a weak ``secret``: the message never repeats it; an
        unknown method; settings and model together; no usable comparison; splink
        not installed: the message names the ``hxmetrics[linkage]`` extra).
    InputTableError
        For a roster that breaks the contract (identifier values are masked): a date
        of birth that does not parse, settings or a model naming a column that no
        roster has, fewer than two records to fit a model on.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import new_secret, resolve_identities
    >>> customers = pd.DataFrame({"customer_id": ["c1", "c2"],
    ...     "email": ["Ann@x.org", "bo@y.org"], "phone": [None, "555-010-2030"]})
    >>> workers = pd.DataFrame({"worker_id": ["w1"], "email": ["ann@x.org "],
    ...     "phone": ["+1 555 010 9999"]})
    >>> secret = new_secret()  # stored with the rosters: the same ids in every run
    >>> cw, conflicts = resolve_identities({"customers": customers, "workers": workers},
    ...                                    secret=secret)
    >>> cw[["silo", "source_id", "matched_on"]]
            silo source_id matched_on
    0  customers        c1      email
    1  customers        c2       none
    2    workers        w1      email
    >>> cw["person_id"].nunique(), len(conflicts)
    (2, 0)
    """
    check_choice("method", method, METHODS)
    if method == "exact":
        unused = {
            "model": model,
            "settings": settings,
            "threshold": threshold,
            "review_band": review_band,
            "random_state": random_state,
        }
        given = [name for name, value in unused.items() if value is not None]
        if given:
            raise ParameterError(
                f"{', '.join(given)} only apply to method='probabilistic'; got them with "
                "method='exact'."
            )
    rules = _conflict_rules(method, conflict_rules)
    rosters = check_rosters(rosters)
    key = _process_secret() if secret is None else secret_key(secret, name="secret")
    keys = check_keys(keys)
    notes: list[str] = []
    if keys is None:
        have = {str(c) for df in rosters.values() for c in df.columns}
        keys = tuple(k for k in DEFAULT_KEYS if k in have)
        if not keys and method == "exact":
            # A CRM export of ids, a transaction log's customers: valid rosters that
            # simply carry no contact key. Not an error; the result says so.
            hints = "".join(did_you_mean(k, sorted(have)) for k in DEFAULT_KEYS)
            notes.append(
                f"no key column ({', '.join(DEFAULT_KEYS)}) in the rosters: no record is "
                "linked to another, one person per record (silo, source_id). Name the key "
                f"columns with keys=[...] to link records across silos.{hints}"
            )
    elif not keys and method == "exact":
        notes.append(
            "keys=[] (no key): no record is linked to another, one person per record "
            "(silo, source_id)."
        )
    if max_component_size < 2:
        raise ParameterError(f"max_component_size must be at least 2; got {max_component_size}.")
    if birth_year_tolerance < 0:
        raise ParameterError(f"birth_year_tolerance must be >= 0; got {birth_year_tolerance}.")
    if method == "exact":
        rec = _collect(
            rosters, keys, birth_year if rules["birth_year"] else None, key_kinds, min_phone_digits
        )
        resolution = _resolve(rec, keys, float(birth_year_tolerance), max_component_size, key)
        resolution.crosswalk.attrs["hxmetrics"] = {
            "keys": list(keys),
            "method": "exact",
            "notes": notes,
        }
        return resolution
    return _resolve_probabilistic(
        rosters,
        keys=keys,
        notes=notes,
        rules=rules,
        birth_year=birth_year,
        birth_year_tolerance=float(birth_year_tolerance),
        max_component_size=max_component_size,
        key_kinds=key_kinds,
        min_phone_digits=min_phone_digits,
        secret=key,
        model=model,
        settings=settings,
        threshold=threshold,
        review_band=review_band,
        random_state=random_state,
        backend=backend,
    )


def _conflict_rules(method: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The conflict rules of ``method``, with the caller's overrides (checked)."""
    rules = dict(CONFLICT_RULES[method])
    if given is None:
        return rules
    if not isinstance(given, Mapping):
        raise ParameterError(
            "conflict_rules must be a mapping such as {'birth_year': False}; got "
            f"{type(given).__name__}."
        )
    for name, value in given.items():
        if name not in rules:
            raise ParameterError(
                f"unknown conflict rule {name!r}; rules: {sorted(rules)}."
                + did_you_mean(str(name), rules)
            )
        if name == "birth_year" and not isinstance(value, bool):
            raise ParameterError(
                f"conflict_rules['birth_year'] must be True or False; got {value!r}."
            )
        if name == "household" and value is not None:
            if method == "exact":
                raise ParameterError(
                    "conflict_rules['household'] applies to method='probabilistic' (it reads "
                    "the model's comparison levels); the exact method has the birth_year rule."
                )
            if (
                not isinstance(value, Mapping)
                or set(value) != {"shared", "different", "personal"}
                or not all(
                    isinstance(value[part], Mapping)
                    and all(
                        isinstance(c, str) and isinstance(v, int) for c, v in value[part].items()
                    )
                    for part in ("shared", "different", "personal")
                )
            ):
                raise ParameterError(
                    "conflict_rules['household'] must look like HOUSEHOLD_RULE: "
                    "{'shared': {comparison: level}, 'different': {comparison: level}, "
                    "'personal': {comparison: level}}, or None."
                )
        rules[name] = value
    return rules


def _check_band(
    threshold: float | None, review_band: tuple[float, float] | None
) -> tuple[float, tuple[float, float]]:
    from hxmetrics.stakeholders.probabilistic import DEFAULT_REVIEW_BAND, DEFAULT_THRESHOLD

    thr = DEFAULT_THRESHOLD if threshold is None else threshold
    if isinstance(thr, bool) or not isinstance(thr, int | float) or not 0 < thr <= 1:
        raise ParameterError(f"threshold must be a probability in (0, 1]; got {threshold!r}.")
    band = DEFAULT_REVIEW_BAND if review_band is None else review_band
    try:
        low, high = (float(band[0]), float(band[1]))
        ok = len(band) == 2 and 0 < low < high <= 1
    except (TypeError, ValueError, IndexError):
        ok = False
    if not ok:
        raise ParameterError(
            f"review_band must be (low, high) with 0 < low < high <= 1; got {review_band!r}."
        )
    return float(thr), (low, high)


def _resolve_probabilistic(
    rosters: dict[str, pd.DataFrame],
    *,
    keys: tuple[str, ...],
    notes: list[str],
    rules: dict[str, Any],
    birth_year: str | None,
    birth_year_tolerance: float,
    max_component_size: int,
    key_kinds: Mapping[str, str] | None,
    min_phone_digits: int,
    secret: bytes,
    model: LinkageModel | Mapping[str, Any] | str | Path | None,
    settings: Mapping[str, Any] | None,
    threshold: float | None,
    review_band: tuple[float, float] | None,
    random_state: int | np.random.Generator | None,
    backend: Any,
) -> Resolution:
    from hxmetrics.stakeholders.probabilistic import LinkageModel, as_model

    thr, band = _check_band(threshold, review_band)
    if model is not None and settings is not None:
        raise ParameterError(
            "pass settings (to fit a new model) or model (a fitted one), not both."
        )
    have = {str(c) for df in rosters.values() for c in df.columns}
    if model is None:
        linkage = LinkageModel(settings)
        columns = linkage._input_columns(rosters)
        if not columns:
            raise ParameterError(
                "no usable comparison: the rosters have none of the identity columns "
                f"{list(IDENTITY_COLUMNS)}. Add names or dates of birth, or use "
                "method='exact' with key columns."
            )
    else:
        linkage = as_model(model)
        columns = list(linkage.columns_)
    absent = [c for c in columns if c not in have]
    if absent:
        what = "settings name" if model is None else "model compares"
        raise InputTableError(
            f"the linkage {what} column(s) {absent} that are in none of the "
            f"rosters ({', '.join(rosters)}).",
            table=next(iter(rosters)),
            failure_cases=pd.DataFrame(
                {
                    "column": absent,
                    "check": "column_in_dataframe",
                    "failure_case": absent,
                    "index": [None] * len(absent),
                }
            ),
        )
    use_birth_year = rules["birth_year"]
    if use_birth_year == "unless_date_of_birth_compared":
        use_birth_year = "date_of_birth" not in columns
    rec = _collect(
        rosters, keys, birth_year if use_birth_year else None, key_kinds, min_phone_digits
    )
    frame = identity_frame(rosters, rec, columns)
    if model is None:
        linkage._fit_frame(frame, rec, keys, random_state, backend)
    pairs = linkage._score_frame(frame, min(thr, band[0]), backend)
    links = _model_links(pairs, linkage, thr, rules["household"], rec.node_hash)
    key_years = None
    if rules["household"] is not None and "date_of_birth" in frame:
        key_years = pd.to_numeric(frame["date_of_birth"].str.slice(0, 4)).to_numpy(
            dtype=float, na_value=np.nan
        )
    key_initials = None
    if key_years is not None and "given_name" in frame:
        first = frame["given_name"].str.slice(0, 1)
        key_initials = pd.factorize(first)[0].astype(np.int64)  # -1: missing
    resolution = _resolve(
        rec,
        keys,
        birth_year_tolerance,
        max_component_size,
        secret,
        links=links,
        key_years=key_years,
        key_initials=key_initials,
    )
    crosswalk, conflicts = resolution
    review = _review(pairs, links, band, rec, crosswalk, linkage)
    persons_unsure = _uncertain_persons(crosswalk, review, band)
    crosswalk.attrs["hxmetrics"] = {
        "keys": list(keys),
        "method": "probabilistic",
        "threshold": thr,
        "review_band": list(band),
        "conflict_rules": {
            "birth_year": bool(use_birth_year),
            "household": rules["household"],
        },
        "n_links": int(links.used.sum()),
        "n_review_pairs": len(review),
        "n_persons_uncertain": int(persons_unsure),
        "notes": [*notes, *linkage.notes_],
    }
    return _resolution(crosswalk, conflicts, review, linkage)


def _uncertain_persons(crosswalk: pd.DataFrame, review: pd.DataFrame, band: Any) -> int:
    """Persons resting on an uncertain link: a record in a pair scored inside the review
    band (linked or not), or a record whose best link is below the band's upper end.

    With the default threshold at the band's upper end every link made is above the
    band, so the second kind alone counted no one; the first is what a reviewer sees.
    """
    sides = [
        review[[f"silo_{side}", f"source_id_{side}"]].set_axis(["silo", "source_id"], axis=1)
        for side in ("l", "r")
    ]
    touched = pd.concat(sides, ignore_index=True).astype("str").drop_duplicates()
    records = crosswalk[["silo", "source_id", "person_id"]].astype("str")
    in_review = records.merge(touched, on=["silo", "source_id"])["person_id"]
    weak = crosswalk["match_probability"].lt(band[1]).fillna(False).astype(bool).to_numpy()
    return int(pd.concat([in_review, records.loc[weak, "person_id"]]).nunique())


class _Links(NamedTuple):
    """Model pairs at or above the threshold, as links between records."""

    node_l: np.ndarray
    node_r: np.ndarray
    probability: np.ndarray
    household: np.ndarray  # bool: the household rule refuses the link
    fields: np.ndarray  # bitmask over comparison columns that agreed
    field_names: tuple[str, ...]
    order: np.ndarray  # rank strings: weakest link first, then record hashes
    pair_row: np.ndarray  # row of each link in the scored pairs
    used: np.ndarray  # bool, filled by _resolve: the link joins its records


def _model_links(
    pairs: pd.DataFrame,
    linkage: LinkageModel,
    threshold: float,
    household: Mapping[str, Mapping[str, int]] | None,
    node_hash: np.ndarray,
) -> _Links:
    names = tuple(c[len("gamma_") :] for c in pairs.columns if c.startswith("gamma_"))
    above = np.flatnonzero(pairs["match_probability"].to_numpy(dtype=float) >= threshold)
    sub = pairs.iloc[above]
    refuse = np.zeros(len(sub), dtype=bool)
    if household is not None and household["shared"]:
        level = {c: sub[f"gamma_{c}"].to_numpy(dtype=np.int64) for c in names}
        if all(c in level for c in household["shared"]):
            shared = np.ones(len(sub), dtype=bool)
            for c, at in household["shared"].items():
                shared &= level[c] >= at
            differ = np.zeros(len(sub), dtype=bool)
            for c, at in household["different"].items():
                if c in level:
                    differ |= (level[c] >= 0) & (level[c] <= at)
            personal = np.zeros(len(sub), dtype=bool)
            for c, at in household["personal"].items():
                if c in level:
                    personal |= level[c] >= at
            refuse = shared & (differ | ~personal)
    fields = np.zeros(len(sub), dtype=np.int64)
    for i, c in enumerate(names):
        fields |= (sub[f"gamma_{c}"].to_numpy(dtype=np.int64) > 0).astype(np.int64) << i
    node_l = sub["unique_id_l"].to_numpy(dtype=np.int64)
    node_r = sub["unique_id_r"].to_numpy(dtype=np.int64)
    prob = sub["match_probability"].to_numpy(dtype=float)
    lo = np.minimum(node_hash[node_l], node_hash[node_r])
    hi = np.maximum(node_hash[node_l], node_hash[node_r])
    # Cut order among links: the weakest first; ties by the records' hashes (an order
    # that does not depend on the rows' order). The token "value" is the link's rank in
    # that order as zero-padded text (it is only ever sorted): one numeric sort instead
    # of a formatted string per link (10 s of 500 at a million records).
    rank = np.empty(prob.size, dtype=np.int64)
    rank[np.lexsort((hi, lo, prob))] = np.arange(prob.size, dtype=np.int64)
    width = len(str(max(prob.size - 1, 0)))
    order = (
        np.strings.zfill(rank.astype(str), width).astype(object)
        if prob.size
        else np.zeros(0, dtype=object)  # numpy's zfill fails on an empty array
    )
    del linkage
    return _Links(
        node_l,
        node_r,
        prob,
        refuse,
        fields,
        names,
        order,
        above,
        np.zeros(len(sub), dtype=bool),
    )


def _review(
    pairs: pd.DataFrame,
    links: _Links,
    band: tuple[float, float],
    rec: _Records,
    crosswalk: pd.DataFrame,
    linkage: LinkageModel,
) -> pd.DataFrame:
    prob = pairs["match_probability"].to_numpy(dtype=float)
    # [low, high); a band reaching 1 includes the pairs at 1.
    upper = prob < band[1] if band[1] < 1 else prob <= 1
    rows = np.flatnonzero((prob >= band[0]) & upper)
    sub = pairs.iloc[rows]
    node_l = sub["unique_id_l"].to_numpy(dtype=np.int64)
    node_r = sub["unique_id_r"].to_numpy(dtype=np.int64)
    linked = np.zeros(len(pairs), dtype=bool)
    linked[links.pair_row[links.used]] = True
    refused = np.zeros(len(pairs), dtype=bool)
    refused[links.pair_row[links.household]] = True
    silos = np.asarray(rec.silos, dtype=object)
    source = rec.node_source.to_numpy(dtype=object)
    person = crosswalk["person_id"].to_numpy(dtype=object)
    out = pd.DataFrame(
        {
            "silo_l": pd.Series(silos[rec.node_silo[node_l]], dtype="str"),
            "source_id_l": pd.Series(source[node_l], dtype="str"),
            "silo_r": pd.Series(silos[rec.node_silo[node_r]], dtype="str"),
            "source_id_r": pd.Series(source[node_r], dtype="str"),
            "match_probability": sub["match_probability"].to_numpy(dtype=float),
            "match_weight": sub["match_weight"].to_numpy(dtype=float),
            "linked": linked[rows],
            "household": refused[rows],
            "same_person": person[node_l] == person[node_r],
        }
    )
    labels = linkage.level_labels()
    for name in links.field_names:
        level = sub[f"gamma_{name}"].to_numpy(dtype=np.int64)
        # One label per distinct level (a handful), not one dict look-up per pair.
        values, inverse = np.unique(level, return_inverse=True)
        text = np.array([labels[name].get(int(v), str(v)) for v in values], dtype=object)
        out[name] = pd.Series(text[inverse], dtype="str")
    return out.sort_values(
        ["match_probability", "silo_l", "source_id_l", "silo_r", "source_id_r"],
        ascending=[False, True, True, True, True],
        ignore_index=True,
    )


def _resolve(
    rec: _Records,
    keys: tuple[str, ...],
    tol: float,
    max_size: int,
    secret: bytes,
    links: _Links | None = None,
    key_years: np.ndarray | None = None,
    key_initials: np.ndarray | None = None,
) -> Resolution:
    n_nodes = rec.node_hash.size
    _check_unique_hashes(rec)
    # Key tokens: one integer per (key column, normalised value).
    edge_nodes, edge_toks, kind_offsets = [], [], [0]
    uniques: list[pd.Series] = []
    for k in keys:
        vals = rec.key_values[k]
        valid = vals.notna().to_numpy()
        codes, uniq = pd.factorize(vals[valid])
        uniques.append(pd.Series(uniq, dtype="str"))
        edge_nodes.append(rec.row_node[valid])
        edge_toks.append(codes.astype(np.int64) + kind_offsets[-1])
        kind_offsets.append(kind_offsets[-1] + len(uniq))
    kinds = keys
    if links is not None:
        # Each model link is a token of the pseudo key "model" carried by its two
        # records: the same components, cuts and conflicts as a shared key value.
        kinds = (*keys, "model")
        n_links = links.node_l.size
        link_toks = np.arange(n_links, dtype=np.int64) + kind_offsets[-1]
        edge_nodes += [links.node_l, links.node_r]
        edge_toks += [link_toks, link_toks]
        uniques.append(pd.Series(links.order, dtype="str"))
        kind_offsets.append(kind_offsets[-1] + n_links)
    tokens = _Tokens(np.asarray(kind_offsets, dtype=np.int64), uniques)
    n_tok = tokens.n
    width = max(n_tok, 1)
    # The empty arrays first: with no key (keys=()) there are no edges at all.
    none = np.zeros(0, dtype=np.int64)
    pair = _distinct(
        np.concatenate([none, *edge_nodes]) * width + np.concatenate([none, *edge_toks])
    )
    edge_node, edge_tok = pair // width, pair % width
    tok_nodes = np.bincount(edge_tok, minlength=n_tok)

    # Birth year per record; a record whose own rows disagree gets none.
    known = ~np.isnan(rec.row_birth_year)
    nlo = group_min(rec.row_node[known], rec.row_birth_year[known], n_nodes)
    nhi = group_max(rec.row_node[known], rec.row_birth_year[known], n_nodes)
    inconsistent = nhi - nlo > tol
    node_lo = np.where(inconsistent, np.inf, nlo)
    node_hi = np.where(inconsistent, -np.inf, nhi)
    unknown = np.isinf(node_lo)

    conflicts = _ConflictLog(edge_node, edge_tok, tokens)
    conflicts.add_nodes("record_birth_year_mismatch", np.flatnonzero(inconsistent), rec.node_hash)

    klo = group_min(edge_tok, node_lo[edge_node], n_tok)
    khi = group_max(edge_tok, node_hi[edge_node], n_tok)
    linking = tok_nodes >= 2
    mismatch = linking & (khi - klo > tol)
    conflicts.add_keys("birth_year_mismatch", np.flatnonzero(mismatch))
    # Links are edges: a key can stop linking one record (an ambiguous bridge)
    # and keep linking the others.
    act_e = linking[edge_tok] & ~mismatch[edge_tok]
    if links is not None:
        refused = link_toks[links.household]
        if key_years is not None and len(keys):
            # A key value (a landline, a family mailbox) shared by records whose dates
            # of birth lie years apart is a household's, not a person's: not used.
            known_e = ~np.isnan(key_years[edge_node]) & (edge_tok < kind_offsets[len(keys)])
            ylo = group_min(edge_tok[known_e], key_years[edge_node[known_e]], n_tok)
            yhi = group_max(edge_tok[known_e], key_years[edge_node[known_e]], n_tok)
            shared_key = linking & ~mismatch & (yhi - ylo > _KEY_YEARS_APART)
            if key_initials is not None:
                # ... or whose given names start with different letters (twins,
                # a couple born the same year).
                known_e = (key_initials[edge_node] >= 0) & (edge_tok < kind_offsets[len(keys)])
                vals = key_initials[edge_node[known_e]].astype(float)
                ilo = group_min(edge_tok[known_e], vals, n_tok)
                ihi = group_max(edge_tok[known_e], vals, n_tok)
                shared_key |= linking & ~mismatch & (ihi > ilo)
            refused = np.concatenate([np.flatnonzero(shared_key), refused])
        conflicts.add_keys("household", refused)
        act_e &= ~np.isin(edge_tok, refused)

    for round_ in range(_MAX_ROUNDS + 1):
        labels = bipartite_components(n_nodes, n_tok, edge_node[act_e], edge_tok[act_e])
        n_comp = int(labels.max()) + 1 if n_nodes else 0
        size = np.bincount(labels, minlength=n_comp)
        bad_by = group_max(labels, node_hi, n_comp) - group_min(labels, node_lo, n_comp) > tol
        bad_size = size > max_size
        bad = bad_by | bad_size
        if not bad.any():
            break
        if round_ == _MAX_ROUNDS:
            split = bad[labels]
            conflicts.add_groups(
                "unresolved_component",
                np.flatnonzero(split),
                _group_min_hash(labels, rec.node_hash, n_comp)[labels[split]],
            )
            act_e &= ~split[edge_node]
            labels = labels.copy()
            labels[split] = n_comp + np.arange(int(split.sum()))
            break
        e_comp = labels[edge_node]
        # Records without a birth year that join contradicting birth years are
        # ambiguous bridges: they are not linked through any key in that component.
        bridge_e = act_e & bad_by[e_comp] & unknown[edge_node]
        has_bridge = np.zeros(n_comp, dtype=bool)
        has_bridge[e_comp[bridge_e]] = True
        conflicts.add_keys("ambiguous_birth_year_bridge", _distinct(edge_tok[bridge_e]))
        act_e &= ~bridge_e
        # Otherwise cut the most shared key (ties: the first key column, then the
        # smallest value: an order that does not depend on the rows' order).
        need = bad & ~has_bridge
        cand_e = act_e & need[e_comp]
        if cand_e.any():
            degree = np.bincount(edge_tok[act_e], minlength=n_tok)
            comp_c, tok_c = e_comp[cand_e], edge_tok[cand_e]
            order = np.lexsort((tokens.rank(tok_c), -degree[tok_c], comp_c))
            comp_c, tok_c = comp_c[order], tok_c[order]
            lead = np.r_[True, comp_c[1:] != comp_c[:-1]]
            cut_comp, cut_tok = comp_c[lead], tok_c[lead]
            too_large = bad_size[cut_comp]
            conflicts.add_keys("component_too_large", cut_tok[too_large])
            conflicts.add_keys("component_birth_year_mismatch", cut_tok[~too_large])
            act_e &= ~np.isin(edge_tok, cut_tok)

    n_comp = int(labels.max()) + 1 if n_nodes else 0
    size = np.bincount(labels, minlength=n_comp)

    # matched_on: key columns whose value links the record to another record.
    link_e = act_e & (np.bincount(edge_tok[act_e], minlength=n_tok)[edge_tok] >= 2)
    bits = np.zeros(n_nodes, dtype=np.int64)
    np.bitwise_or.at(bits, edge_node[link_e], np.left_shift(1, tokens.kind(edge_tok[link_e])))
    bits[size[labels] == 1] = 0
    names = pd.Index(
        [
            "+".join(k for i, k in enumerate(kinds) if m >> i & 1) or "none"
            for m in range(2 ** len(kinds))
        ],
        dtype="str",
    )
    crosswalk = pd.DataFrame(
        {
            "silo": pd.Series(pd.Index(rec.silos, dtype="str")[rec.node_silo], dtype="str"),
            "source_id": rec.node_source,
            "person_id": _person_ids(rec, labels, secret),
            "matched_on": pd.Series(names[bits], dtype="str"),
        }
    )
    if links is not None:
        _link_evidence(
            crosswalk, links, keys, act_e, edge_node, edge_tok, link_e, tokens, size[labels]
        )
    return _resolution(crosswalk, conflicts.table(rec, kinds, node_lo))


def _link_evidence(
    crosswalk: pd.DataFrame,
    links: _Links,
    keys: tuple[str, ...],
    act_e: np.ndarray,
    edge_node: np.ndarray,
    edge_tok: np.ndarray,
    link_e: np.ndarray,
    tokens: _Tokens,
    person_size: np.ndarray,
) -> None:
    """``match_probability`` and ``matched_fields`` of each record (in place)."""
    n_nodes = len(crosswalk)
    first_link = int(tokens.offsets[len(keys)])
    is_link = edge_tok >= first_link
    # A link is used when both of its records still carry it.
    active = np.bincount(edge_tok[act_e & is_link] - first_link, minlength=links.node_l.size)
    links.used[:] = active == 2
    best = np.full(n_nodes, -np.inf)
    key_e = link_e & ~is_link
    best[edge_node[key_e]] = 1.0
    used = np.flatnonzero(links.used)
    np.maximum.at(best, links.node_l[used], links.probability[used])
    np.maximum.at(best, links.node_r[used], links.probability[used])
    best[person_size == 1] = -np.inf
    # Fields: key columns (bits 0..k-1) then compared columns, over every used link.
    bits = np.zeros(n_nodes, dtype=np.int64)
    np.bitwise_or.at(bits, edge_node[key_e], np.left_shift(1, tokens.kind(edge_tok[key_e])))
    shifted = links.fields[used] << len(keys)
    np.bitwise_or.at(bits, links.node_l[used], shifted)
    np.bitwise_or.at(bits, links.node_r[used], shifted)
    bits[person_size == 1] = 0
    field_names = (*keys, *links.field_names)
    distinct, inverse = np.unique(bits, return_inverse=True)
    text = np.array(
        [
            "+".join(f for i, f in enumerate(field_names) if int(m) >> i & 1) or "none"
            for m in distinct
        ],
        dtype=object,
    )
    crosswalk["match_probability"] = pd.array(
        np.where(np.isinf(best), np.nan, best), dtype="Float64"
    )
    crosswalk["matched_fields"] = pd.Series(text[inverse], dtype="str")


class _Tokens:
    """Key tokens: kind = which key column; rank = order by (column, value)."""

    def __init__(self, offsets: np.ndarray, uniques: list[pd.Series]) -> None:
        self.offsets = offsets
        self.uniques = uniques
        self.n = int(offsets[-1])

    def kind(self, toks: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.searchsorted(self.offsets[1:], toks, side="right")
        return out

    def rank(self, toks: np.ndarray) -> np.ndarray:
        """Rank of each token by (key column, value); computed for these tokens only."""
        if toks.size == 0:
            return np.zeros(0, dtype=np.int64)
        kinds = self.kind(toks)
        values = np.empty(toks.size, dtype=object)
        for k in _distinct(kinds):
            sel = kinds == k
            values[sel] = self.uniques[k].to_numpy(dtype=object)[toks[sel] - self.offsets[k]]
        frame = pd.DataFrame({"kind": kinds, "value": values})
        order = frame.sort_values(["kind", "value"], kind="stable").index.to_numpy()
        key = frame.iloc[order]
        new = np.r_[
            True,
            (key["kind"].to_numpy()[1:] != key["kind"].to_numpy()[:-1])
            | (key["value"].to_numpy()[1:] != key["value"].to_numpy()[:-1]),
        ]
        rank = np.empty(toks.size, dtype=np.int64)
        rank[order] = np.cumsum(new) - 1
        return rank


class _ConflictLog:
    """Collects conflicts as (kind, key column, group, record) arrays."""

    def __init__(self, edge_node: np.ndarray, edge_tok: np.ndarray, tokens: _Tokens) -> None:
        self.edge_node = edge_node
        self.edge_tok = edge_tok
        self.tokens = tokens
        # (kind, key column or -1, token or -1, group hash or 0, record)
        self.parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add_keys(self, kind: str, toks: np.ndarray) -> None:
        if toks.size == 0:
            return
        hit = np.isin(self.edge_tok, toks)
        tok = self.edge_tok[hit]
        zeros = np.zeros(tok.size, dtype=np.uint64)
        self.parts.append(
            (_KIND_CODE[kind], self.tokens.kind(tok), tok, zeros, self.edge_node[hit])
        )

    def add_nodes(self, kind: str, nodes: np.ndarray, hashes: np.ndarray) -> None:
        self.add_groups(kind, nodes, hashes[nodes])

    def add_groups(self, kind: str, nodes: np.ndarray, groups: np.ndarray) -> None:
        if nodes.size:
            minus = np.full(nodes.size, -1, dtype=np.int64)
            self.parts.append((_KIND_CODE[kind], minus, minus, groups.astype(np.uint64), nodes))

    def table(self, rec: _Records, keys: tuple[str, ...], node_lo: np.ndarray) -> pd.DataFrame:
        columns = {
            "conflict_id": "int64",
            "kind": "str",
            "key": "str",
            "silo": "str",
            "source_id": "str",
            "birth_year": "Int64",
            "action": "str",
        }
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
        kind = np.concatenate([np.full(p[2].size, p[0]) for p in self.parts])
        key = np.concatenate([p[1] for p in self.parts])
        tok = np.concatenate([p[2] for p in self.parts])
        group_hash = np.concatenate([p[3] for p in self.parts])
        node = np.concatenate([p[4] for p in self.parts])
        # The group of a key conflict is the key value, ranked by (column, value);
        # of a record conflict, a record hash. Neither depends on the rows' order.
        group = np.zeros(kind.size, dtype=np.int64)
        is_tok = tok >= 0
        group[is_tok] = self.tokens.rank(tok[is_tok])
        by_hash = _distinct(group_hash[~is_tok])
        group[~is_tok] = np.searchsorted(by_hash, group_hash[~is_tok])
        frame = pd.DataFrame(
            {
                "k": kind,
                "key_i": key,
                "group": group,
                "silo_i": rec.node_silo[node],
                "source_id": rec.node_source.to_numpy(dtype=object)[node],
                "node": node,
            }
        ).drop_duplicates(["k", "key_i", "group", "node"])
        frame = frame.sort_values(["k", "key_i", "group", "silo_i", "source_id"], ignore_index=True)
        lead = frame[["k", "key_i", "group"]].ne(frame[["k", "key_i", "group"]].shift()).any(axis=1)
        kinds = np.array(list(CONFLICT_KINDS), dtype=object)
        actions = np.array(list(CONFLICT_KINDS.values()), dtype=object)
        key_names = np.array([*keys, None], dtype=object)
        years = node_lo[frame["node"].to_numpy()]
        k = frame["k"].to_numpy()
        return pd.DataFrame(
            {
                "conflict_id": np.cumsum(lead.to_numpy()) - 1,
                "kind": pd.Series(kinds[k], dtype="str"),
                "key": pd.Series(key_names[frame["key_i"].to_numpy()], dtype="str"),
                "silo": pd.Series(
                    np.asarray(rec.silos, dtype=object)[frame["silo_i"]], dtype="str"
                ),
                "source_id": pd.Series(frame["source_id"].to_numpy(), dtype="str"),
                "birth_year": pd.array(np.where(np.isinf(years), np.nan, years), dtype="Int64"),
                "action": pd.Series(actions[k], dtype="str"),
            }
        )
