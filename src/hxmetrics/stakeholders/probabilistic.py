"""Probabilistic identity resolution: a Fellegi-Sunter model, fitted and scored by splink.

When the silos share no clean key (no email, no phone), records of one person are
found by comparing what describes the person: names, date of birth, address,
postcode (:data:`IDENTITY_COLUMNS`). The Fellegi-Sunter model (Fellegi & Sunter
1969) gives each comparison level (names equal, names within a Jaro-Winkler
similarity, dates a month apart, ...) a weight ``log2(m / u)``, where ``m`` is the
level's probability among pairs of records of one person and ``u`` among pairs of
different persons. splink (Linacre et al. 2022; MIT; DuckDB and Spark backends)
estimates ``u`` on random pairs and ``m`` by expectation maximisation, and scores
the candidate pairs its blocking rules produce.

:class:`LinkageModel` wraps that: :func:`default_settings` is the shipped template
(blocking rules, comparisons with fuzzy names, dates within a tolerance, addresses,
term-frequency adjustment of names); every choice can be overridden with a splink
settings dict; the trained model is saved as JSON (:meth:`LinkageModel.to_dict`,
:meth:`LinkageModel.save`) so that a pipeline scores new records with the same
weights. :func:`~hxmetrics.stakeholders.resolve_identities` with
``method="probabilistic"`` links the pairs above a threshold through the same
connected components and conflict rules as the exact keys.

splink is an optional dependency (``pip install 'hxmetrics[linkage]'``), imported
only here, when a model is fitted or scored.

Privacy: the model holds probabilities per comparison level, never a value of the
rosters; the splink tables live in an in-memory database that is dropped after each
call. splink's log messages (which name columns, never values) are collected into
:attr:`LinkageModel.notes_` instead of being printed.

References
----------
Fellegi, I. P. & Sunter, A. B. (1969). A theory for record linkage. *JASA* 64(328),
1183-1210.
Linacre, R., Lindsay, S., Manassis, T., Slade, Z., Hepworth, T., Kennedy, R. &
Bond, A. (2022). Splink: Free software for probabilistic record linkage at scale.
*International Journal of Population Data Science* 7(3).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import InputTableError, ParameterError, did_you_mean
from hxmetrics.stakeholders._rosters import (
    IDENTITY_COLUMNS,
    _collect,
    _Records,
    check_rosters,
    identity_frame,
)
from hxmetrics.stakeholders._unionfind import bipartite_components

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DEFAULT_REVIEW_BAND",
    "DEFAULT_THRESHOLD",
    "IDENTITY_COLUMNS",
    "LinkageModel",
    "default_settings",
]

#: Match probability at or above which a scored pair links two records.
DEFAULT_THRESHOLD = 0.9
#: Pairs with a match probability in ``[low, high)`` are listed for review.
DEFAULT_REVIEW_BAND = (0.5, 0.9)

_EXTRA = "pip install 'hxmetrics[linkage]'"
_FORMAT = 1
# Share of the pairs the exact rules find among the true pairs (the prior's recall):
# exact name + date of birth finds about half of the true pairs of noisy rosters.
_PRIOR_RECALL = 0.5


def _splink() -> Any:
    """The splink package, or a :class:`ParameterError` naming the extra to install."""
    try:
        import splink
    except ImportError as exc:
        raise ParameterError(
            "method='probabilistic' needs splink, which is not installed: "
            f"{_EXTRA} (splink, duckdb, pyarrow)."
        ) from exc
    return splink


@contextlib.contextmanager
def _splink_log(notes: list[str]) -> Iterator[None]:
    """Collect splink's log records (warnings and above) into ``notes``, print nothing."""

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = " ".join(record.getMessage().split())
            if text and text not in notes:
                notes.append(text)

    logger = logging.getLogger("splink")
    handler = _Collect(level=logging.WARNING)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


@contextlib.contextmanager
def _dropped(db_api: Any) -> Iterator[Any]:
    """``register`` for the roster frame; afterwards every table of the call is dropped
    (the rosters' values do not outlive the call in the user's Spark session)."""
    registered: list[Any] = []

    def register(frame: pd.DataFrame) -> Any:
        table = db_api.register(frame)
        registered.append(table)
        return table

    try:
        yield register
    finally:
        db_api.delete_tables_created_by_splink_from_db()
        for table in registered:
            table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)


def _backend(backend: Any) -> tuple[Any, str]:
    """A splink database API and its SQL dialect, for ``"duckdb"`` or a SparkSession."""
    if isinstance(backend, str) and backend == "duckdb":
        _splink()
        from splink import DuckDBAPI

        return DuckDBAPI(), "duckdb"
    if hasattr(backend, "sparkContext") and hasattr(backend, "createDataFrame"):
        _splink()
        from splink import SparkAPI

        # splink's string similarity functions (Jaro-Winkler, ...) are Java UDFs in a jar
        # shipped with splink: added to the running session (ADD JAR), then registered
        # by SparkAPI.
        from splink.internals.spark.jar_location import similarity_jar_location

        backend.sql(f"ADD JAR '{similarity_jar_location()}'")
        # Intermediate tables stay in the session's memory (persist) unless the session
        # has a checkpoint directory, where splink writes them as parquet files.
        has_dir = bool(backend.sparkContext.getCheckpointDir())
        method = None if has_dir else "persist"
        return SparkAPI(spark_session=backend, break_lineage_method=method), "spark"
    raise ParameterError(
        "backend must be 'duckdb' or a pyspark SparkSession; "
        f"got {backend if isinstance(backend, str) else type(backend).__name__!r}."
    )


def _training_blocks(columns: Sequence[str]) -> list[tuple[str, ...]]:
    """EM blocking rules: each comparison column is free (not blocked on) in one of them."""
    candidates = [
        ("date_of_birth",),
        ("given_name", "family_name"),
        ("postcode",),
        ("family_name",),
        ("given_name",),
        ("address",),
    ]
    have = set(columns)
    untrained = set(columns)
    blocks: list[tuple[str, ...]] = []
    for block in candidates:
        if set(block) <= have and untrained - set(block):
            blocks.append(block)
            untrained -= have - set(block)
        if not untrained:
            break
    return blocks


def default_settings(
    columns: Sequence[str] = IDENTITY_COLUMNS, *, dialect: str = "duckdb"
) -> dict[str, Any]:
    """The shipped splink settings template for the identity columns present.

    Comparisons (each only if its column is in ``columns``):

    * ``given_name``, ``family_name``: exact (with term-frequency adjustment: a match
      on a rare name weighs more than on a common one), given and family name swapped,
      Jaro-Winkler similarity at least 0.92, 0.88, one Damerau-Levenshtein edit (a
      transposition in a short name), Jaro-Winkler at least 0.70. Usual English short
      forms of given names were read as the full name before (``Bob`` -> ``robert``).
    * ``date_of_birth`` (``YYYY-MM-DD`` text): exact, one character edit (a typo),
      within a month, a year, ten years (``DateOfBirthComparison``).
    * ``address``: exact, Levenshtein distance 1, 3.
    * ``postcode``: exact.

    Candidate pairs (blocking rules): same date of birth and family name; same date of
    birth and given name; same given and family name and birth year; same names and
    day of the year; same names where a date of birth is missing; same date of birth
    and name initials; given and family name swapped; same date of birth and
    postcode; same postcode and family-name initial; same address. Every rule pairs
    a date of birth or a name with a second identifier (or uses postcode or address,
    whose values grow with the population), so the scored pairs grow about linearly
    with the records: about 2 per record at 100,000 records (a date of birth alone
    would give 28 per record at a million, growing with the square). A pair of one
    person that no rule produces is never scored: add rules for rosters noisier than
    that.

    Parameters
    ----------
    columns : sequence of str
        The identity columns the rosters have (a subset of :data:`IDENTITY_COLUMNS`).
    dialect : {"duckdb", "spark"}
        The SQL dialect of the backend.

    Returns
    -------
    dict
        A splink settings dictionary (JSON-ready); edit it and pass it as
        ``settings=`` to override any choice.

    Raises
    ------
    ParameterError
        If no identity column is given (no usable comparison).

    Examples
    --------
    >>> from hxmetrics.stakeholders.probabilistic import default_settings
    >>> s = default_settings(["given_name", "family_name", "date_of_birth"])
    >>> [c["output_column_name"] for c in s["comparisons"]]
    ['given_name', 'family_name', 'date_of_birth']
    """
    splink = _splink()
    import splink.comparison_library as cl

    if dialect not in ("duckdb", "spark"):
        raise ParameterError(f"dialect must be 'duckdb' or 'spark'; got {dialect!r}.")
    unknown = [c for c in columns if c not in IDENTITY_COLUMNS]
    if unknown:
        raise ParameterError(
            f"default_settings compares the identity columns {list(IDENTITY_COLUMNS)}; "
            f"got {unknown}. Write a splink settings dict for other columns."
            + did_you_mean(str(unknown[0]), IDENTITY_COLUMNS)
        )
    have = set(columns)
    if not have:
        raise ParameterError(
            "no usable comparison: the rosters have none of the identity columns "
            f"{list(IDENTITY_COLUMNS)}. Add at least names or a date of birth, or use "
            "method='exact' with key columns."
        )
    comparisons = []
    for name, other in (("given_name", "family_name"), ("family_name", "given_name")):
        if name in have:
            comparisons.append(_name_comparison(name, other if other in have else None))
    if "date_of_birth" in have:
        comparisons.append(cl.DateOfBirthComparison("date_of_birth", input_is_string=True))
    if "address" in have:
        comparisons.append(cl.LevenshteinAtThresholds("address", [1, 3]))
    if "postcode" in have:
        comparisons.append(cl.ExactMatch("postcode"))
    rules = _prediction_rules(have)
    creator = splink.SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        # The gamma (comparison level) columns come with the matching columns only;
        # _score_frame selects ids, probabilities and levels, never a value.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )
    settings: dict[str, Any] = creator.get_settings(dialect).as_dict()
    return settings


def _prediction_rules(have: set[str]) -> list[Any]:
    """Blocking rules of the shipped template whose pairs grow about linearly with records.

    A rule on a column of fixed cardinality alone (a date of birth: ~26,000 values; a
    given name: a few thousand) yields pairs that grow with the square of the records
    (28 million pairs per million records for the date of birth alone), so every rule
    here pairs a date of birth or a name with a second identifier, or uses a key that
    grows with the population (postcode, address).
    """
    from splink.blocking_rule_library import And, CustomRule

    block_on = _splink().block_on
    dob = "date_of_birth" in have
    names = {"given_name", "family_name"} <= have
    year = "substr(date_of_birth, 1, 4)"
    month_day = "substr(date_of_birth, 6, 5)"
    initial = {c: f"substr({c}, 1, 1)" for c in ("given_name", "family_name")}
    rules: list[Any] = []
    if dob:
        rules += [block_on("date_of_birth", c) for c in ("family_name", "given_name") if c in have]
    if names:
        if dob:
            # A typo in the date: the names and the year, or the names and month-day.
            rules += [
                block_on("given_name", "family_name", year),
                block_on("given_name", "family_name", month_day),
                # No date on one side: the names alone (a join on the names, filtered).
                And(
                    block_on("given_name", "family_name"),
                    CustomRule("(l.date_of_birth IS NULL OR r.date_of_birth IS NULL)"),
                ),
                # Both names changed by a typo: the date and the initials.
                block_on("date_of_birth", initial["given_name"], initial["family_name"]),
            ]
        else:
            rules.append(block_on("given_name", "family_name"))
        # Given and family name swapped between the records.
        rules.append(CustomRule("l.given_name = r.family_name AND l.family_name = r.given_name"))
    if dob and "postcode" in have:
        rules.append(block_on("date_of_birth", "postcode"))
    if "postcode" in have and "family_name" in have:
        rules.append(block_on("postcode", initial["family_name"]))
    if "address" in have:
        rules.append(block_on("address"))
    if not rules and dob:
        rules.append(block_on("date_of_birth"))
    if not rules:
        # A lone column without a rule of its own (e.g. postcode only): block on it.
        rules.append(block_on(*sorted(have)))
    return rules


def _name_comparison(name: str, other: str | None) -> Any:
    """Levels of a name: exact (tf), swapped with ``other``, fuzzy, typo, else."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels: list[Any] = [
        cll.NullLevel(name),
        cll.ExactMatchLevel(name, term_frequency_adjustments=True),
    ]
    if other is not None:
        levels.append(cll.ColumnsReversedLevel(name, other, symmetrical=True))
    levels += [
        cll.JaroWinklerLevel(name, 0.92),
        cll.JaroWinklerLevel(name, 0.88),
        cll.DamerauLevenshteinLevel(name, 1),
        cll.JaroWinklerLevel(name, 0.7),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name=name)


def _comparison_columns(settings: Mapping[str, Any], dialect: str) -> tuple[list[str], list[str]]:
    """(input columns the comparisons read, input columns the blocking rules read)."""
    splink = _splink()
    from splink.internals.parse_sql import get_columns_used_from_sql

    creator = splink.SettingsCreator.from_path_or_dict(dict(settings))
    obj = creator.get_settings(dialect)
    used: list[str] = []
    for comparison in obj.comparisons:
        for col in comparison._input_columns_used_by_case_statement:
            name = col.unquote().name
            if name not in used:
                used.append(name)
    blocked: list[str] = []
    for rule in obj._blocking_rules_to_generate_predictions:
        for name in get_columns_used_from_sql(rule.blocking_rule_sql, rule.sqlglot_dialect):
            if name not in blocked:
                blocked.append(str(name))
    return used, blocked


def _prior(rec: _Records, frame: pd.DataFrame, keys: Sequence[str], recall: float) -> float:
    """Probability that two random records are one person, from the exact rules.

    Pairs joined by an exact key (email, phone, external ids) or by equal given name,
    family name and date of birth, divided by the rules' ``recall`` and by all pairs
    (splink's ``estimate_probability_two_random_records_match``, computed here so that
    it is the same on every backend).
    """
    n = len(frame)
    tokens: list[np.ndarray] = []
    nodes: list[np.ndarray] = []
    offset = 0
    for k in keys:
        vals = rec.key_values[k]
        valid = vals.notna().to_numpy()
        codes: np.ndarray = pd.factorize(vals[valid])[0].astype(np.int64)
        nodes.append(rec.row_node[valid])
        tokens.append(codes + offset)
        offset += int(codes.max()) + 1 if codes.size else 0
    composite = [c for c in ("given_name", "family_name", "date_of_birth") if c in frame]
    if len(composite) == 3:
        sub = frame[composite]
        valid = sub.notna().all(axis=1).to_numpy()
        groups = sub[valid].groupby(composite, sort=False).ngroup()
        codes = groups.to_numpy(dtype=np.int64)
        nodes.append(frame["unique_id"].to_numpy()[valid])
        tokens.append(codes + offset)
        offset += int(codes.max()) + 1 if codes.size else 0
    if not tokens or offset == 0:
        return 1e-4
    labels = bipartite_components(n, offset, np.concatenate(nodes), np.concatenate(tokens))
    sizes = np.bincount(labels).astype(float)
    pairs = float(np.sum(sizes * (sizes - 1) / 2))
    total = n * (n - 1) / 2
    if pairs == 0 or total == 0:
        return 1e-4
    return float(min(max(pairs / recall / total, 1e-9), 0.5))


def _sample_records(
    rosters: dict[str, pd.DataFrame], rec: _Records, size: int, seed: int | None
) -> tuple[dict[str, pd.DataFrame], _Records]:
    """``size`` records drawn at random without replacement, each with all of its rows:
    the rosters cut to those rows and their :class:`_Records`, renumbered."""
    keep = _sample_nodes(rec.node_hash.size, size, seed)
    row_keep = keep[rec.row_node]
    out: dict[str, pd.DataFrame] = {}
    start = 0
    for silo, df in rosters.items():
        mask = row_keep[start : start + len(df)]
        out[silo] = df.iloc[np.flatnonzero(mask)]
        start += len(df)
    return out, _sample_rec(rec, keep)


def _sample_nodes(n: int, size: int, seed: int | None) -> np.ndarray:
    """Boolean mask of ``size`` of ``n`` records, drawn without replacement."""
    keep = np.zeros(n, dtype=bool)
    keep[np.random.default_rng(seed).choice(n, size, replace=False)] = True
    return keep


def _sample_rec(rec: _Records, keep: np.ndarray) -> _Records:
    """The :class:`_Records` of the records in ``keep`` (with their rows), renumbered."""
    new_node = np.cumsum(keep) - 1
    row_keep = keep[rec.row_node]
    return rec._replace(
        node_silo=rec.node_silo[keep],
        node_source=rec.node_source[keep].reset_index(drop=True),
        node_hash=rec.node_hash[keep],
        row_node=new_node[rec.row_node[row_keep]],
        row_birth_year=rec.row_birth_year[row_keep],
        key_values={k: v[row_keep].reset_index(drop=True) for k, v in rec.key_values.items()},
    )


def _int_seed(random_state: int | np.random.Generator | None) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ParameterError(
            f"random_state must be an int or a numpy Generator; got {type(random_state).__name__}."
        )
    return int(random_state) % (2**31 - 1)


class LinkageModel(DisplayMixin):
    """A Fellegi-Sunter record-linkage model over the roster identity columns (splink).

    Parameters
    ----------
    settings : mapping, optional
        A splink settings dictionary (comparisons, blocking rules, ...). Default: the
        shipped template (:func:`default_settings`) for the identity columns the
        rosters have. Its ``unique_id_column_name`` must be ``unique_id`` and its
        ``link_type`` ``dedupe_only`` (all silos form one table of records).
    training_blocks : sequence of sequence of str, optional
        Blocking rules of the EM sessions, as column lists (e.g.
        ``[["date_of_birth"], ["given_name", "family_name"]]``); each comparison's
        ``m`` is estimated in the sessions that do not block on its columns. Default:
        chosen from the columns so that every comparison is estimated.
    prior_recall : float, default 0.5
        Share of the true pairs that the exact rules (exact keys; equal names and date
        of birth) find; sets the prior probability that two records match.
    max_pairs : float, default 2e6
        Random pairs used to estimate ``u``.
    max_records : int or None, default 200_000
        The model is fitted on a random sample of at most this many records (``None``:
        on every record). ``m`` and ``u`` are properties of pairs of one person and of
        random pairs: a random sample of records estimates both without bias (as the
        prior, the share of matching pairs among all pairs), while the pairs EM reads
        grow with the square of the records (the date-of-birth block has 28 million
        pairs at a million records). Scoring always reads every record. On the
        simulator, a model fitted on 70% of the records scores within the stated
        precision and recall of the one fitted on all (tests).

    Attributes
    ----------
    params_ : dict
        The trained splink model (settings with ``m`` and ``u`` per level): JSON-ready.
    columns_ : tuple of str
        The input columns the comparisons read.
    notes_ : list of str
        splink's messages during the fit (levels it could not train, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders.probabilistic import LinkageModel
    >>> model = LinkageModel()
    >>> model.params_ is None
    True
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        training_blocks: Sequence[Sequence[str]] | None = None,
        prior_recall: float = _PRIOR_RECALL,
        max_pairs: float = 2e6,
        max_records: int | None = 200_000,
    ) -> None:
        if settings is not None and not isinstance(settings, Mapping):
            raise ParameterError(
                f"settings must be a splink settings dict; got {type(settings).__name__}."
            )
        if not (isinstance(prior_recall, int | float) and 0 < prior_recall <= 1):
            raise ParameterError(f"prior_recall must be in (0, 1]; got {prior_recall!r}.")
        if not (isinstance(max_pairs, int | float) and max_pairs >= 1):
            raise ParameterError(f"max_pairs must be at least 1; got {max_pairs!r}.")
        if max_records is not None and (
            isinstance(max_records, bool)
            or not isinstance(max_records, int | np.integer)
            or max_records < 2
        ):
            raise ParameterError(
                f"max_records must be an integer of at least 2 or None; got {max_records!r}."
            )
        self.settings = None if settings is None else dict(settings)
        self.training_blocks = (
            None if training_blocks is None else [tuple(b) for b in training_blocks]
        )
        self.prior_recall = float(prior_recall)
        self.max_pairs = float(max_pairs)
        self.max_records = None if max_records is None else int(max_records)
        self.params_: dict[str, Any] | None = None
        self.columns_: tuple[str, ...] = ()
        self.template_: str = "default" if settings is None else "custom"
        self.dialect_: str | None = None
        self.n_records_: int | None = None
        self.n_fitted_records_: int | None = None
        self.notes_: list[str] = []

    # -- fitting ---------------------------------------------------------------------
    def fit(
        self,
        rosters: Mapping[str, pd.DataFrame],
        *,
        keys: Sequence[str] = (),
        random_state: int | np.random.Generator | None = None,
        backend: Any = "duckdb",
    ) -> LinkageModel:
        """Estimate ``u`` on random pairs and ``m`` by EM on the rosters' records.

        On at most ``max_records`` records, drawn at random (with ``random_state``)
        after the rosters are checked whole.

        Parameters
        ----------
        rosters : mapping of str to DataFrame
            Rosters per silo, as for :func:`~hxmetrics.stakeholders.resolve_identities`
            (converted to pandas at the door).
        keys : sequence of str, default ()
            Exact key columns (emails, external ids) whose links set the prior.
        random_state : int or numpy Generator, optional
            Seed of the record sample and of the random pairs (reproducible model).
        backend : "duckdb" or pyspark.sql.SparkSession
            Where splink runs.

        Returns
        -------
        LinkageModel
            ``self``, fitted.
        """
        checked = check_rosters(rosters)
        rec = _collect(checked, tuple(keys), None, None, 7)
        columns = self._input_columns(checked)
        seed = _int_seed(random_state)
        n_all = rec.node_hash.size
        if self.max_records is not None and n_all > self.max_records:
            checked, rec = _sample_records(checked, rec, self.max_records, seed)
        # The sample is drawn before the identity values are normalised: only the
        # sampled records are.
        frame = identity_frame(checked, rec, columns)
        return self._fit_frame(frame, rec, tuple(keys), seed, backend, n_all=n_all)

    def _input_columns(self, rosters: Mapping[str, pd.DataFrame]) -> list[str]:
        have = {str(c) for df in rosters.values() for c in df.columns}
        if self.params_ is not None:
            return list(self.columns_)
        if self.settings is None:
            return [c for c in IDENTITY_COLUMNS if c in have]
        used, blocked = _comparison_columns(self.settings, "duckdb")
        return [*used, *(c for c in blocked if c not in used)]

    def _settings_for(self, columns: Sequence[str], dialect: str) -> dict[str, Any]:
        if self.settings is None:
            return default_settings(columns, dialect=dialect)
        settings = dict(self.settings)
        if settings.get("link_type", "dedupe_only") != "dedupe_only":
            raise ParameterError(
                "settings['link_type'] must be 'dedupe_only': the silos are one table of "
                f"records here; got {settings.get('link_type')!r}."
            )
        if settings.get("unique_id_column_name", "unique_id") != "unique_id":
            raise ParameterError(
                "settings['unique_id_column_name'] must be 'unique_id' (the record number "
                f"hxmetrics assigns); got {settings.get('unique_id_column_name')!r}."
            )
        settings["link_type"] = "dedupe_only"
        settings["retain_matching_columns"] = True
        settings["retain_intermediate_calculation_columns"] = False
        return settings

    def _check_columns(
        self, settings: Mapping[str, Any], frame: pd.DataFrame, dialect: str
    ) -> None:
        used, blocked = _comparison_columns(settings, dialect)
        if not settings.get("comparisons"):
            raise ParameterError(
                "no usable comparison: the settings have no comparisons. Compare at least "
                "names or a date of birth."
            )
        have = [str(c) for c in frame.columns if c != "unique_id"]
        missing = [c for c in [*used, *blocked] if c not in frame.columns]
        if missing:
            raise InputTableError(
                f"the linkage settings name column(s) {sorted(set(missing))} that are in none "
                f"of the rosters; identity columns found: {have}."
                + did_you_mean(missing[0], [*have, *IDENTITY_COLUMNS]),
                table="rosters",
                failure_cases=pd.DataFrame(
                    {
                        "column": sorted(set(missing)),
                        "check": "column_in_dataframe",
                        "failure_case": sorted(set(missing)),
                        "index": [None] * len(set(missing)),
                    }
                ),
            )
        empty = [c for c in used if frame[c].isna().all()]
        if len(empty) == len(used):
            raise ParameterError(
                f"no usable comparison: the compared column(s) {used} are empty in every roster."
            )

    def _fit_frame(
        self,
        frame: pd.DataFrame,
        rec: _Records,
        keys: tuple[str, ...],
        random_state: int | np.random.Generator | None,
        backend: Any,
        *,
        n_all: int | None = None,
    ) -> LinkageModel:
        """Fit on ``frame`` (or on a sample of ``max_records`` of its records);
        ``n_all``: the records ``frame`` was sampled from, if it was."""
        if len(frame) < 2:
            raise InputTableError(
                f"a linkage model needs at least 2 roster records to learn from; got "
                f"{len(frame)}. Pass a model trained on more records (model=...), or use "
                "method='exact'.",
                table="rosters",
                failure_cases=pd.DataFrame(
                    {
                        "column": [None],
                        "check": ["min_records"],
                        "failure_case": [len(frame)],
                        "index": [None],
                    }
                ),
            )
        splink = _splink()
        seed = _int_seed(random_state)
        n_all = len(frame) if n_all is None else n_all
        if self.max_records is not None and len(frame) > self.max_records:
            keep = _sample_nodes(len(frame), self.max_records, seed)
            rec = _sample_rec(rec, keep)
            frame = frame.iloc[np.flatnonzero(keep)].reset_index(drop=True)
            frame["unique_id"] = np.arange(len(frame), dtype=np.int64)
        db_api, dialect = _backend(backend)
        columns = [c for c in frame.columns if c != "unique_id"]
        settings = self._settings_for(columns, dialect)
        self._check_columns(settings, frame, dialect)
        used, _ = _comparison_columns(settings, dialect)
        settings["probability_two_random_records_match"] = _prior(
            rec, frame, keys, self.prior_recall
        )
        blocks = self.training_blocks or _training_blocks(used)
        notes: list[str] = []
        with _splink_log(notes), _dropped(db_api) as register:
            linker = splink.Linker(register(frame), settings, log_level=None)
            params = self._train(linker, blocks, seed, notes)
        return self._fitted(params, columns, dialect, n_all, len(frame), notes)

    def _train(
        self, linker: Any, blocks: Sequence[Sequence[str]], seed: int | None, notes: list[str]
    ) -> dict[str, Any]:
        """``u`` on random pairs, ``m`` by EM per training block; the splink model JSON.

        Shared by the pandas path and the engine path
        (:mod:`hxmetrics.stakeholders._engine_linkage`), whatever table ``linker`` reads.
        """
        splink = _splink()
        linker.training.estimate_u_using_random_sampling(max_pairs=self.max_pairs, seed=seed)
        for block in blocks:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    splink.block_on(*block)
                )
            except Exception as exc:  # splink raises plain errors for empty blocks
                notes.append(
                    f"EM on pairs blocked by {list(block)} failed ({type(exc).__name__}); "
                    "its m values keep their starting values."
                )
        params: dict[str, Any] = linker.misc.save_model_to_json()
        return params

    def _fitted(
        self,
        params: Mapping[str, Any],
        columns: Sequence[str],
        dialect: str,
        n_all: int,
        n_fitted: int,
        notes: list[str],
    ) -> LinkageModel:
        """Store a trained splink model and what it was fitted on; ``self``."""
        self.params_ = json.loads(json.dumps(dict(params)))
        self.columns_ = tuple(columns)
        self.dialect_ = dialect
        self.n_records_ = n_all
        self.n_fitted_records_ = n_fitted
        if n_fitted < n_all:
            notes.insert(
                0,
                f"fitted on a random sample of {n_fitted:,} of the {n_all:,} records "
                "(max_records).",
            )
        self.notes_ = notes
        return self

    # -- scoring ---------------------------------------------------------------------
    def _check_fitted(self) -> dict[str, Any]:
        if self.params_ is None:
            raise ParameterError(
                "the LinkageModel is not fitted: call fit(rosters) or load a saved model."
            )
        return self.params_

    def _scoring_settings(self, dialect: str) -> dict[str, Any]:
        params = self._check_fitted()
        if dialect == self.dialect_ or self.template_ != "default":
            return dict(params)
        # The shipped template again, in the other dialect, with the trained m and u.
        settings = default_settings(self.columns_, dialect=dialect)
        settings["probability_two_random_records_match"] = params[
            "probability_two_random_records_match"
        ]
        for new, old in zip(settings["comparisons"], params["comparisons"], strict=True):
            for lnew, lold in zip(new["comparison_levels"], old["comparison_levels"], strict=True):
                for p in ("m_probability", "u_probability"):
                    if p in lold:
                        lnew[p] = lold[p]
        return settings

    def _score_frame(self, frame: pd.DataFrame, threshold: float, backend: Any) -> pd.DataFrame:
        """Scored pairs ``unique_id_l``, ``unique_id_r``, ``match_probability``,
        ``match_weight``, ``gamma_<comparison>`` (pairs at or above ``threshold``)."""
        splink = _splink()
        db_api, dialect = _backend(backend)
        settings = self._scoring_settings(dialect)
        self._check_columns(settings, frame, dialect)
        names = [c["output_column_name"] for c in settings["comparisons"]]
        keep = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
        keep += [f"gamma_{n}" for n in names]
        if len(frame) < 2:
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in keep})
        with _splink_log(self.notes_), _dropped(db_api) as register:
            linker = splink.Linker(register(frame), settings, log_level=None)
            pred = linker.inference.predict(threshold_match_probability=threshold)
            # Only ids, probabilities and levels leave the database, never a value.
            sql = f"select {', '.join(keep)} from {pred.physical_name}"
            if dialect == "spark":
                # Through Arrow: pyspark's toPandas passes pandas 3 a deprecated keyword.
                out = backend.sql(sql).toArrow().to_pandas()
            else:
                out = linker.misc.query_sql(sql, output_type="pandas")
        out = out.astype({"unique_id_l": "int64", "unique_id_r": "int64"})
        return out.sort_values(["unique_id_l", "unique_id_r"], ignore_index=True)

    def level_labels(self) -> dict[str, dict[int, str]]:
        """Per comparison: comparison-vector value -> the level's label (``-1``: null)."""
        params = self._check_fitted()
        out: dict[str, dict[int, str]] = {}
        for comparison in params["comparisons"]:
            levels = comparison["comparison_levels"]
            labels: dict[int, str] = {}
            value = len([lv for lv in levels if not lv.get("is_null_level")]) - 1
            for level in levels:
                label = str(level.get("label_for_charts", level["sql_condition"]))
                if level.get("is_null_level"):
                    labels[-1] = label
                else:
                    labels[value] = label
                    value -= 1
            out[comparison["output_column_name"]] = labels
        return out

    # -- protocol ---------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per comparison level: ``comparison``, ``level`` (value), ``label``,
        ``m_probability``, ``u_probability``, ``match_weight`` (``log2(m / u)``)."""
        params = self._check_fitted()
        rows = []
        labels = self.level_labels()
        for comparison in params["comparisons"]:
            name = comparison["output_column_name"]
            inverse = {v: k for k, v in labels[name].items()}
            for level in comparison["comparison_levels"]:
                label = str(level.get("label_for_charts", level["sql_condition"]))
                if level.get("is_null_level"):
                    continue
                m = level.get("m_probability")
                u = level.get("u_probability")
                weight = (
                    math.log2(m / u)
                    if m is not None and u is not None and m > 0 and u > 0
                    else math.nan
                )
                rows.append(
                    {
                        "comparison": name,
                        "level": inverse.get(label, -1),
                        "label": label,
                        "m_probability": math.nan if m is None else float(m),
                        "u_probability": math.nan if u is None else float(u),
                        "match_weight": weight,
                    }
                )
        return pd.DataFrame(rows)

    def _display_title(self) -> str:
        if self.params_ is None:
            return "LinkageModel (not fitted)"
        return f"LinkageModel on {self.n_records_} records, columns {list(self.columns_)}"

    def _display_notes(self) -> Sequence[str]:
        return tuple(self.notes_[:5])

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Match weight (``log2(m / u)``) of each comparison level, as horizontal bars.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from hxmetrics.plotting import PALETTE, _axes, style

        table = self.summary()
        ax = _axes(ax, 6.4, max(2.0, 0.25 * len(table) + 0.8))
        with style():
            y = np.arange(len(table))[::-1]
            weights = table["match_weight"].to_numpy(dtype=float)
            colors = [PALETTE[0] if w >= 0 else PALETTE[1] for w in np.nan_to_num(weights)]
            ax.barh(y, np.nan_to_num(weights), color=colors)
            ax.set_yticks(
                y,
                [f"{c}: {lab}" for c, lab in zip(table["comparison"], table["label"], strict=True)],
            )
            ax.axvline(0.0, color="0.5", linewidth=0.8)
            ax.set_xlabel("match weight, log2(m / u)")
        return ax

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as a JSON-ready dict; :meth:`from_dict` restores it."""
        params = self._check_fitted()
        return {
            "model": "LinkageModel",
            "format": _FORMAT,
            "template": self.template_,
            "dialect": self.dialect_,
            "columns": list(self.columns_),
            "n_records": self.n_records_,
            "prior_recall": self.prior_recall,
            "max_pairs": self.max_pairs,
            "max_records": self.max_records,
            "n_fitted_records": self.n_fitted_records_,
            "training_blocks": None
            if self.training_blocks is None
            else [list(b) for b in self.training_blocks],
            "splink_model": params,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> LinkageModel:
        """Restore a model saved with :meth:`to_dict` (after a JSON round trip too)."""
        if not isinstance(state, Mapping) or state.get("model") != "LinkageModel":
            raise ParameterError(
                "not a saved LinkageModel: expected a dict from LinkageModel.to_dict() "
                "(with model='LinkageModel')."
            )
        if state.get("format") != _FORMAT:
            raise ParameterError(
                f"saved LinkageModel format {state.get('format')!r} is not supported "
                f"(this version reads format {_FORMAT})."
            )
        params = state.get("splink_model")
        if not isinstance(params, Mapping) or not params.get("comparisons"):
            raise ParameterError("saved LinkageModel has no splink_model with comparisons.")
        model = cls(
            None if state.get("template") == "default" else dict(params),
            training_blocks=state.get("training_blocks"),
            prior_recall=float(state.get("prior_recall", _PRIOR_RECALL)),
            max_pairs=float(state.get("max_pairs", 2e6)),
            # Saved before max_records existed: fitted on every record.
            max_records=state.get("max_records"),
        )
        model.params_ = json.loads(json.dumps(dict(params)))
        model.template_ = str(state.get("template", "custom"))
        model.dialect_ = state.get("dialect")
        model.columns_ = tuple(state.get("columns", ()))
        n = state.get("n_records")
        model.n_records_ = None if n is None else int(n)
        fitted = state.get("n_fitted_records", n)
        model.n_fitted_records_ = None if fitted is None else int(fitted)
        return model

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path``; returns the path.

        Only a new file or a model this method saved before is written: a symlink, a
        folder or any other file at ``path`` (a roster, a job file) is refused before
        anything is written, and the file is replaced in one rename, so a failed save
        leaves the old model whole.
        """
        target = Path(path)
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        where = f"will not save the model over {target}"
        if target.is_symlink() or target.is_dir():
            raise ParameterError(f"{where}: it is a symbolic link or a folder.")
        if not target.parent.is_dir():
            raise ParameterError(f"{where}: its folder does not exist.")
        if target.exists() and not _is_saved_model(target):
            raise ParameterError(
                f"{where}: the file there is not a saved LinkageModel. Choose a new path."
            )
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            staging.write_text(text, encoding="utf-8")
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)
        return target

    @classmethod
    def load(cls, path: str | Path) -> LinkageModel:
        """Read a model written by :meth:`save`."""
        source = Path(path)
        if not source.is_file():
            raise ParameterError(f"no saved LinkageModel at {source}.")
        try:
            state = json.loads(source.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{source} is not JSON: {exc.msg} (line {exc.lineno}).") from exc
        return cls.from_dict(state)


def _is_saved_model(path: Path) -> bool:
    """Whether ``path`` holds JSON written by :meth:`LinkageModel.save`."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(state, dict) and state.get("model") == "LinkageModel"


def as_model(model: LinkageModel | Mapping[str, Any] | str | Path) -> LinkageModel:
    """A fitted :class:`LinkageModel` from a model, its dict or a path to its JSON."""
    if isinstance(model, LinkageModel):
        model._check_fitted()
        return model
    if isinstance(model, Mapping):
        return LinkageModel.from_dict(model)
    if isinstance(model, str | Path):
        return LinkageModel.load(model)
    raise ParameterError(
        "model must be a fitted LinkageModel, its to_dict() or the path of its saved JSON; "
        f"got {type(model).__name__}."
    )
