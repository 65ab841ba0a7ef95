"""Probabilistic identity resolution on the engine that holds the rosters (DuckDB, Spark).

The pandas path (:func:`~hxmetrics.stakeholders.resolve_identities`,
``method="probabilistic"``) normalises the identity values of every record in pandas,
registers that frame in splink, and links the scored pairs with scipy. Here the rosters
stay where they are: DuckDB relations are linked by splink's ``DuckDBAPI`` on the
relations' own connection, Spark DataFrames by its ``SparkAPI`` on their session. The
records, their normalised identity values, splink's tables, the scored pairs and the
links are tables of that engine; the connected components, the conflict rules (birth
years, the household rule, cuts of the weakest link) and the person ids are those of
:func:`~hxmetrics.stakeholders._engine_identity.resolve_exact_lazy`, with every model
link one more key value (the pseudo key ``model``) carried by its two records, exactly
as the pandas path adds it.

What comes back to Python: the model's parameters (when it is fitted here), counts (one
integer per propagation step and round, the records, the non-empty values of each
compared column), the conflict report and a few example rows for an error. No roster,
no pair table and no crosswalk is collected.

The same as the pandas path, on the same rosters and model: the partition, the person
ids, ``matched_on``, ``match_probability``, ``matched_fields``, the conflict report and
the review pairs (tested on the simulator's noisy rosters). Where it differs, and why:

* A record whose roster rows carry different values of an identity column takes the
  smallest normalised value (an engine table has no row order); the pandas path takes
  the first non-missing one in row order. Rosters with one value per record (the usual
  case: the simulator's) give the same values.
* A model fitted here (``model=None``) is fitted on its own random sample of
  ``max_records`` records (ordered by a seeded hash of the record, not numpy's draw),
  and splink draws its own random pairs on the engine: a model of the same quality
  (tested against the truth), not the pandas path's numbers. For the same links on
  every engine, fit once and pass the model (a pipeline does).
* Dates of birth given as text that do not parse are an error naming the table, the
  column, the check and how many rows; the rows are not numbered (no row order).

Engine-specific pieces (everything else is narwhals, or the exact path's):

* splink's database API: ``DuckDBAPI`` needs the connection object, which a DuckDB
  relation keeps privately (``relation._con``, checked to be a connection; pass
  ``connection=`` to name it); ``SparkAPI`` takes the DataFrame's session;
* the text that orders the links (the weakest first, ties by the records' hashes): a
  fixed-width decimal of the probability and of the unsigned hashes, written with each
  engine's own ``printf``/``format_string`` and 128-bit/decimal arithmetic (narwhals
  has no fixed-width number formatting);
* the record sample of the fit: a seeded hash order (``hash`` in DuckDB, ``xxhash64``
  in Spark), limited to ``max_records``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from hxmetrics.errors import InputTableError, ParameterError, did_you_mean
from hxmetrics.stakeholders._engine_identity import (
    EngineResolution,
    _check_key_columns,
    _episodes,
    _frames,
    _id_column,
    _Run,
    _scalars,
    _silo_rows,
)
from hxmetrics.stakeholders._rosters import (
    _TEXT_COLUMNS,
    IDENTITY_COLUMNS,
    _clean_distinct,
)
from hxmetrics.stakeholders.keys import (
    DEFAULT_KEYS,
    _key_kind,
    _process_secret,
    check_keys,
    secret_key,
)
from hxmetrics.stakeholders.probabilistic import (
    LinkageModel,
    _backend,
    _comparison_columns,
    _int_seed,
    _splink,
    _splink_log,
    _training_blocks,
    as_model,
)
from hxmetrics.stakeholders.resolution import (
    _KEY_YEARS_APART,
    _check_band,
    _conflict_rules,
)

__all__ = ["LINKAGE_ENGINES", "EngineLinkage", "resolve_probabilistic_lazy"]

#: Engines splink runs on here, by narwhals implementation name.
LINKAGE_ENGINES = ("duckdb", "spark")

# The sign bit: a signed record hash plus 2**63 is the unsigned hash (as text, 20 digits).
_OFFSET = 2**63
# A date of birth that did not parse (the mapped function cannot raise on an engine).
_BAD_DATE = "\x00bad"


@dataclass(frozen=True)
class EngineLinkage(EngineResolution):
    """Probabilistic identity resolution computed on an engine.

    The fields of :class:`~hxmetrics.stakeholders._engine_identity.EngineResolution`
    (``crosswalk`` adds ``match_probability`` and ``matched_fields``; ``keys`` are the
    exact key columns), and:

    Attributes
    ----------
    review : native lazy frame
        The pairs in the review band, the columns of ``Resolution.review`` (row order
        is the engine's: sort to compare).
    model : LinkageModel
        The model used (fitted here or passed in).
    attrs : dict
        ``crosswalk.attrs["hxmetrics"]`` of the pandas path: ``keys``, ``method``,
        ``threshold``, ``review_band``, ``conflict_rules``, ``n_links``,
        ``n_review_pairs``, ``n_persons_uncertain``, ``notes``.
    """

    review: Any = None
    model: LinkageModel | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)


def resolve_probabilistic_lazy(
    rosters: Mapping[str, Any],
    *,
    keys: str | Sequence[str] | None = None,
    secret: str | bytes | None = None,
    birth_year: str | None = "birth_year",
    birth_year_tolerance: int = 0,
    max_component_size: int = 50,
    key_kinds: Mapping[str, str] | None = None,
    min_phone_digits: int = 7,
    model: LinkageModel | Mapping[str, Any] | str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
    threshold: float | None = None,
    review_band: tuple[float, float] | None = None,
    conflict_rules: Mapping[str, Any] | None = None,
    random_state: int | np.random.Generator | None = None,
    connection: Any = None,
) -> EngineLinkage:
    """Link roster records into persons by exact keys and a linkage model, on the engine.

    :func:`~hxmetrics.stakeholders.resolve_identities` with ``method="probabilistic"``
    for rosters that are DuckDB relations or Spark DataFrames: splink fits (when no
    ``model`` is given) and scores on the rosters' own database, and every table stays
    there (see the module docstring for what differs and why).

    Parameters
    ----------
    rosters : mapping of str to native frame
        Roster per silo (``customers``, ``workers``, ``partners``), all DuckDB relations
        of one connection or all Spark DataFrames of one session.
    keys, secret, birth_year, birth_year_tolerance, max_component_size, key_kinds, min_phone_digits
        As in :func:`~hxmetrics.stakeholders.resolve_identities`.
    model, settings, threshold, review_band, conflict_rules, random_state
        As in :func:`~hxmetrics.stakeholders.resolve_identities` (``method=
        "probabilistic"``); ``random_state`` seeds the fit's record sample and random
        pairs. ``model`` may also be an unfitted
        :class:`~hxmetrics.stakeholders.probabilistic.LinkageModel`: it is fitted here
        with its options (``max_records``, ``max_pairs``, ``training_blocks``, ...).
    connection : duckdb.DuckDBPyConnection, optional
        DuckDB: the connection the relations were made on (default: the relations'
        own). Ignored on Spark.

    Returns
    -------
    EngineLinkage
        ``crosswalk``, ``episodes`` and ``review`` as native lazy frames of the engine;
        ``conflicts`` as a small pandas DataFrame; the ``model``; ``attrs``.

    Raises
    ------
    ParameterError
        For a bad argument, rosters on an engine splink does not run on here (pandas:
        use ``resolve_identities``; Polars: scan the files with DuckDB or Spark), or
        splink not installed.
    InputTableError
        For a roster that breaks the contract: a key or compared column in no roster,
        an identity column that is not text, a date of birth that does not parse, fewer
        than two records to fit a model on.

    Examples
    --------
    >>> import duckdb
    >>> from hxmetrics.datasets._identity import simulate_identity_rosters
    >>> from hxmetrics.stakeholders import new_secret, resolve_identities
    >>> from hxmetrics.stakeholders._engine_linkage import resolve_probabilistic_lazy
    >>> from hxmetrics.stakeholders.probabilistic import LinkageModel
    >>> sim = simulate_identity_rosters(300, random_state=0)
    >>> model = LinkageModel(max_pairs=1e5).fit(sim.rosters, random_state=0)
    >>> con = duckdb.connect()
    >>> for silo, df in sim.rosters.items():
    ...     _ = con.register(silo, df)
    >>> rosters = {silo: con.table(silo) for silo in sim.rosters}
    >>> secret = new_secret()
    >>> out = resolve_probabilistic_lazy(rosters, model=model, secret=secret)
    >>> ref = resolve_identities(sim.rosters, method="probabilistic", model=model,
    ...                          secret=secret)
    >>> out.attrs["n_links"] == ref.crosswalk.attrs["hxmetrics"]["n_links"]
    True
    >>> columns = ["silo", "source_id", "person_id", "matched_on"]
    >>> got = out.crosswalk.select(*columns).order("silo, source_id").fetchall()
    >>> want = ref.crosswalk[columns].sort_values(["silo", "source_id"])
    >>> got == list(want.itertuples(index=False, name=None))
    True
    """
    frames, engine = _frames(rosters)
    if engine.name not in LINKAGE_ENGINES:
        hint = (
            "use resolve_identities(..., method='probabilistic') on pandas rosters"
            if engine.name == "pandas"
            else "splink has no Polars backend; read the files with DuckDB "
            "(duckdb.read_parquet) or Spark instead of converting the frames"
        )
        raise ParameterError(
            f"probabilistic resolution on an engine runs splink on "
            f"{' or '.join(LINKAGE_ENGINES)}; the rosters are {engine.name} frames: {hint}."
        )
    if max_component_size < 2:
        raise ParameterError(f"max_component_size must be at least 2; got {max_component_size}.")
    if birth_year_tolerance < 0:
        raise ParameterError(f"birth_year_tolerance must be >= 0; got {birth_year_tolerance}.")
    thr, band = _check_band(threshold, review_band)
    rules = _conflict_rules("probabilistic", conflict_rules)
    if model is not None and settings is not None:
        raise ParameterError(
            "pass settings (to fit a new model) or model (a fitted one), not both."
        )
    key = _process_secret() if secret is None else secret_key(secret, name="secret")
    columns = {silo: list(lf.collect_schema().names()) for silo, lf in frames.items()}
    id_columns = {silo: _id_column(columns[silo], silo) for silo in frames}
    have = sorted({c for cols in columns.values() for c in cols})
    checked = check_keys(keys)
    if checked is None:
        checked = tuple(k for k in DEFAULT_KEYS if k in have)
    _check_key_columns(checked, frames, columns, have)
    kinds = {k: _key_kind(k, key_kinds) for k in checked}
    # An unfitted LinkageModel is fitted here with its own options (max_records, ...).
    fit = model is None or (isinstance(model, LinkageModel) and model.params_ is None)
    if model is None or fit:
        linkage = model if isinstance(model, LinkageModel) else LinkageModel(settings)
        if linkage.settings is None:
            compared = [c for c in IDENTITY_COLUMNS if c in have]
        else:
            used, blocked = _comparison_columns(linkage.settings, "duckdb")
            compared = [*used, *(c for c in blocked if c not in used)]
        if not compared:
            raise ParameterError(
                "no usable comparison: the rosters have none of the identity columns "
                f"{list(IDENTITY_COLUMNS)}. Add names or dates of birth, or use "
                "method='exact' with key columns."
            )
    else:
        linkage = as_model(model)
        compared = list(linkage.columns_)
    absent = [c for c in compared if c not in have]
    if absent:
        what = "settings name" if fit else "model compares"
        raise InputTableError(
            f"the linkage {what} column(s) {absent} that are in none of the "
            f"rosters ({', '.join(frames)})." + did_you_mean(absent[0], have),
            table=next(iter(frames)),
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
        use_birth_year = "date_of_birth" not in compared
    by_column = birth_year if use_birth_year else None
    splink_db = _Splink(engine, frames, connection)
    run = _LinkRun(
        engine,
        checked,
        float(birth_year_tolerance),
        max_component_size,
        frames=frames,
        id_columns=id_columns,
        columns=columns,
        compared=compared,
        linkage=linkage,
        fit=fit,
        threshold=thr,
        band=band,
        household=rules["household"],
        seed=_int_seed(random_state),
        splink_db=splink_db,
    )
    kept: list[nw.LazyFrame[Any]] = []
    try:
        rows = _silo_rows(
            frames, id_columns, columns, by_column, checked, kinds, min_phone_digits, engine
        )
        crosswalk = run.resolve(rows, key)
        kept.append(crosswalk)
        review = run.review_pairs(crosswalk)
        kept.append(review)
        n_links, n_review, n_uncertain = run.counts(crosswalk, review)
        episodes = _episodes(
            frames, id_columns, columns, crosswalk.select("silo", "source_id", "person_id")
        )
    finally:
        run.release(keep=kept)
        run.release_own(keep=kept)
    attrs = {
        "keys": list(checked),
        "method": "probabilistic",
        "threshold": thr,
        "review_band": list(band),
        "conflict_rules": {"birth_year": bool(use_birth_year), "household": rules["household"]},
        "n_links": n_links,
        "n_review_pairs": n_review,
        "n_persons_uncertain": n_uncertain,
        "notes": list(linkage.notes_),
    }
    return EngineLinkage(
        crosswalk=crosswalk.to_native(),
        conflicts=run.conflicts.table((*checked, "model")),
        episodes=episodes.to_native(),
        keys=checked,
        notes=tuple(linkage.notes_),
        engine=engine.name,
        steps=tuple(run.steps),
        scratch=engine.scratch,
        review=review.to_native(),
        model=linkage,
        attrs=attrs,
    )


# ---------------------------------------------------------------------------- splink


class _Splink:
    """splink's database API on the rosters' own DuckDB connection or Spark session."""

    def __init__(self, engine: Any, frames: Mapping[str, nw.LazyFrame[Any]], connection: Any):
        _splink()
        self.engine = engine
        natives = [lf.to_native() for lf in frames.values()]
        if engine.name == "duckdb":
            import duckdb

            if connection is None:
                # A relation keeps its connection privately (duckdb has no public
                # accessor); splink needs the connection object itself.
                connection = getattr(natives[0], "_con", None)
                if not isinstance(connection, duckdb.DuckDBPyConnection):
                    raise ParameterError(
                        "cannot find the DuckDB connection of the roster relations: pass "
                        "connection= (the connection they were made on)."
                    )
                if any(getattr(n, "_con", None) is not connection for n in natives[1:]):
                    raise ParameterError(
                        "the roster relations are on several DuckDB connections: make them "
                        "all on one."
                    )
            elif not isinstance(connection, duckdb.DuckDBPyConnection):
                raise ParameterError(
                    "connection must be a duckdb.DuckDBPyConnection; got "
                    f"{type(connection).__name__}."
                )
            self.connection: Any = connection
            self.session = None
            self.dialect = "duckdb"
        else:
            self.connection = None
            self.session = natives[0].sparkSession
            self.dialect = "spark"

    def api(self) -> Any:
        """A fresh splink database API (one per linker: its tables are dropped after)."""
        if self.dialect == "duckdb":
            from splink import DuckDBAPI

            return DuckDBAPI(connection=self.connection)
        db_api, _ = _backend(self.session)
        return db_api

    def register(self, db_api: Any, lf: nw.LazyFrame[Any]) -> Any:
        """A materialised engine table as splink's input, without a copy."""
        if self.dialect == "duckdb":
            return db_api.register(self.engine.table_of(lf))
        return db_api.register(lf.to_native())

    def keep(self, db_api: Any, splink_frame: Any, columns: Sequence[str]) -> nw.LazyFrame[Any]:
        """``columns`` of a splink table, copied into an engine table that outlives it."""
        if self.dialect == "duckdb":
            return self.engine.create(
                f"SELECT {', '.join(columns)} FROM {splink_frame.physical_name}"
            )
        native = splink_frame.as_spark_dataframe().select(*columns)
        return nw.from_native(native.localCheckpoint(eager=True))

    def drop(self, db_api: Any, registered: Sequence[Any]) -> None:
        db_api.delete_tables_created_by_splink_from_db()
        if self.dialect == "spark":
            for table in registered:
                table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)


# ------------------------------------------------------------------------ resolution


class _LinkRun(_Run):
    """The exact path's run, with the model's links as key values of the kind ``model``."""

    def __init__(
        self,
        engine: Any,
        keys: tuple[str, ...],
        tol: float,
        max_size: int,
        *,
        frames: Mapping[str, nw.LazyFrame[Any]],
        id_columns: Mapping[str, str],
        columns: Mapping[str, list[str]],
        compared: list[str],
        linkage: LinkageModel,
        fit: bool,
        threshold: float,
        band: tuple[float, float],
        household: Mapping[str, Mapping[str, int]] | None,
        seed: int | None,
        splink_db: _Splink,
    ) -> None:
        # The kinds: the key columns, then the pseudo key "model" (matched_on, conflicts).
        super().__init__(engine, (*keys, "model"), tol, max_size)
        self.real_keys = keys
        self.frames = frames
        self.id_columns = id_columns
        self.columns = columns
        self.compared = compared
        self.linkage = linkage
        self.fit = fit
        self.threshold = threshold
        self.band = band
        self.household = household
        self.seed = seed
        self.splink_db = splink_db
        # Tables of this run that outlive the run's own release (pairs, links).
        self._own: list[nw.LazyFrame[Any]] = []
        self.pairs: nw.LazyFrame[Any]
        self.links: nw.LazyFrame[Any]
        self.refused: nw.LazyFrame[Any]
        self.names: list[str] = []

    def own(self, lf: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        out = self.engine.materialise(lf)
        self._own.append(out)
        return out

    def release_own(self, keep: Sequence[nw.LazyFrame[Any]] = ()) -> None:
        for lf in self._own:
            if not any(lf is k for k in keep):
                self.engine.release(lf)
        self._own = []

    # ---------------------------------------------------------------- identity values

    def _identity(self) -> nw.LazyFrame[Any]:
        """One row per record: ``unique_id`` (its hash) and normalised identity values."""
        parts = []
        for silo, lf in self.frames.items():
            present = self.columns[silo]
            schema = lf.collect_schema()
            base = lf.select(
                nw.col(self.id_columns[silo]).cast(nw.String).alias("source_id"),
                *(
                    nw.col(c) if c in present else nw.lit(None, dtype=nw.String).alias(c)
                    for c in self.compared
                ),
            )
            for c in self.compared:
                if c in present:
                    base = self._clean(base, c, schema[c], silo)
            per_record = base.group_by("source_id").agg([nw.col(c).min() for c in self.compared])
            parts.append(per_record.with_columns(nw.lit(silo, dtype=nw.String).alias("silo")))
        values = nw.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        return self.own(
            values.join(self.rec.select("silo", "source_id", "h"), on=["silo", "source_id"]).select(
                nw.col("h").alias("unique_id"), *self.compared
            )
        )

    def _clean(
        self, lf: nw.LazyFrame[Any], column: str, dtype: Any, silo: str
    ) -> nw.LazyFrame[Any]:
        """``column`` normalised as the pandas path does (each distinct value once)."""
        if column == "date_of_birth":
            if dtype == nw.Date or dtype == nw.Datetime:
                return lf.with_columns(nw.col(column).dt.to_string("%Y-%m-%d"))
            if dtype != nw.String:
                raise _type_error(silo, column, dtype, "date")
            function = _parse_dates
        else:
            if dtype != nw.String:
                if column != "postcode" or not dtype.is_integer():
                    raise _type_error(silo, column, dtype, "text")
                lf = lf.with_columns(nw.col(column).cast(nw.String))
            keep = r"[^\w\s]" if column in _TEXT_COLUMNS else r"[^\w]"
            function = _cleaner(column, keep)
        distinct = lf.select(nw.col(column).alias("raw")).unique().filter(~nw.col("raw").is_null())
        cleaned = self.hold(self.engine.map_text(distinct, "raw", "clean", function, "str"))
        if column == "date_of_birth":
            (n_bad,) = _scalars(cleaned, (nw.col("clean") == _BAD_DATE).cast(nw.Int64).sum())
            if n_bad:
                raise InputTableError(
                    f"table {silo!r}, column 'date_of_birth': {n_bad} distinct value(s) fail "
                    "date, e.g. <date_of_birth, masked>. Dates of birth must be dates "
                    "(YYYY-MM-DD) or missing.",
                    table=silo,
                    failure_cases=pd.DataFrame(
                        {
                            "column": ["date_of_birth"],
                            "check": ["date"],
                            "failure_case": ["<date_of_birth, masked>"],
                            "index": [None],
                        }
                    ),
                )
        cleaned = cleaned.select(nw.col("raw").alias(column), "clean")
        return lf.join(cleaned, on=column, how="left").drop(column).rename({"clean": column})

    # ----------------------------------------------------------------- the model

    def _fit(self, ident: nw.LazyFrame[Any], rows: Mapping[str, nw.LazyFrame[Any]]) -> None:
        linkage, db = self.linkage, self.splink_db
        (n_all,) = _scalars(ident, nw.len())
        if n_all < 2:
            raise InputTableError(
                f"a linkage model needs at least 2 roster records to learn from; got "
                f"{n_all}. Pass a model trained on more records (model=...), or use "
                "method='exact'.",
                table="rosters",
                failure_cases=pd.DataFrame(
                    {
                        "column": [None],
                        "check": ["min_records"],
                        "failure_case": [n_all],
                        "index": [None],
                    }
                ),
            )
        seed = self.seed if self.seed is not None else int(np.random.default_rng().integers(2**31))
        sample = ident
        if linkage.max_records is not None and n_all > linkage.max_records:
            sample = self.own(self._sample(ident, linkage.max_records, seed))
        (n_fit,) = _scalars(sample, nw.len())
        settings = linkage._settings_for(self.compared, db.dialect)
        self._check_columns(settings, sample)
        used, _ = _comparison_columns(settings, db.dialect)
        settings["probability_two_random_records_match"] = self._prior(sample, rows, n_fit)
        blocks = linkage.training_blocks or _training_blocks(used)
        notes: list[str] = []
        splink = _splink()
        db_api = db.api()
        registered = [db.register(db_api, sample)]
        try:
            with _splink_log(notes):
                linker = splink.Linker(registered[0], settings, log_level=None)
                params = linkage._train(linker, blocks, seed, notes)
        finally:
            db.drop(db_api, registered)
        linkage._fitted(params, self.compared, db.dialect, n_all, n_fit, notes)

    def _sample(self, ident: nw.LazyFrame[Any], size: int, seed: int) -> nw.LazyFrame[Any]:
        """``size`` records in the order of a seeded hash of the record (engine SQL)."""
        native = ident.to_native()
        if self.engine.name == "duckdb":
            return nw.from_native(
                native.query(
                    "hx_src",
                    f"SELECT * FROM hx_src ORDER BY hash(unique_id, {seed}), unique_id "
                    f"LIMIT {size}",
                )
            )
        from pyspark.sql import functions as F

        order = F.xxhash64(F.col("unique_id"), F.lit(seed))
        return nw.from_native(native.orderBy(order, F.col("unique_id")).limit(size))

    def _prior(
        self, sample: nw.LazyFrame[Any], rows: Mapping[str, nw.LazyFrame[Any]], n: int
    ) -> float:
        """``probability._prior`` on the engine: pairs of the exact rules' components."""
        recall = self.linkage.prior_recall
        h = sample.select(nw.col("unique_id").alias("h"))
        parts = []
        for silo, lf in rows.items():
            ids = self.rec.filter(nw.col("silo") == silo).select("source_id", "h")
            for i in range(len(self.real_keys)):
                parts.append(
                    lf.select("source_id", nw.col(f"k{i}").alias("value"))
                    .filter(~nw.col("value").is_null())
                    .join(ids, on="source_id")
                    .join(h, on="h", how="semi")
                    .select("h", nw.lit(i, dtype=nw.Int64).alias("kind"), "value")
                )
        triple = ("given_name", "family_name", "date_of_birth")
        if all(c in self.compared for c in triple):
            parts.append(
                sample.filter(
                    ~nw.col(triple[0]).is_null()
                    & ~nw.col(triple[1]).is_null()
                    & ~nw.col(triple[2]).is_null()
                ).select(
                    nw.col("unique_id").alias("h"),
                    nw.lit(len(self.real_keys), dtype=nw.Int64).alias("kind"),
                    nw.concat_str([nw.col(c) for c in triple], separator="\x1f").alias("value"),
                )
            )
        if not parts:
            return 1e-4
        edges = self.hold(
            (nw.concat(parts, how="vertical") if len(parts) > 1 else parts[0]).unique()
        )
        labels = self._propagate(edges)
        self.steps.pop()  # the prior's propagation is not one of the resolution's rounds
        (pairs,) = _scalars(
            labels.group_by("lab")
            .agg(nw.len().cast(nw.Float64).alias("size"))
            .select((nw.col("size") * (nw.col("size") - 1) / 2).alias("pairs")),
            nw.col("pairs").sum(),
        )
        self.drop(labels)
        self.drop(edges)
        total = n * (n - 1) / 2
        if not pairs or total == 0:
            return 1e-4
        return float(min(max(float(pairs) / recall / total, 1e-9), 0.5))

    def _check_columns(self, settings: Mapping[str, Any], ident: nw.LazyFrame[Any]) -> None:
        """``LinkageModel._check_columns`` on the engine (non-empty counts only)."""
        used, blocked = _comparison_columns(settings, self.splink_db.dialect)
        if not settings.get("comparisons"):
            raise ParameterError(
                "no usable comparison: the settings have no comparisons. Compare at least "
                "names or a date of birth."
            )
        names = ident.collect_schema().names()
        have = [c for c in names if c != "unique_id"]
        missing = sorted({c for c in [*used, *blocked] if c not in names})
        if missing:
            raise InputTableError(
                f"the linkage settings name column(s) {missing} that are in none "
                f"of the rosters; identity columns found: {have}."
                + did_you_mean(missing[0], [*have, *IDENTITY_COLUMNS]),
                table="rosters",
                failure_cases=pd.DataFrame(
                    {
                        "column": missing,
                        "check": "column_in_dataframe",
                        "failure_case": missing,
                        "index": [None] * len(missing),
                    }
                ),
            )
        counts = _scalars(ident, *(nw.col(c).count().alias(c) for c in used))
        if not any(counts):
            raise ParameterError(
                f"no usable comparison: the compared column(s) {used} are empty in every roster."
            )

    def _score(self, ident: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        """The scored pairs at or above ``min(threshold, band low)``, an engine table."""
        linkage, db = self.linkage, self.splink_db
        settings = linkage._scoring_settings(db.dialect)
        self._check_columns(settings, ident)
        self.names = [c["output_column_name"] for c in settings["comparisons"]]
        keep = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
        keep += [f"gamma_{n}" for n in self.names]
        splink = _splink()
        db_api = db.api()
        registered = [db.register(db_api, ident)]
        try:
            with _splink_log(linkage.notes_):
                linker = splink.Linker(registered[0], settings, log_level=None)
                predicted = linker.inference.predict(
                    threshold_match_probability=min(self.threshold, self.band[0])
                )
                # Only ids, probabilities and levels are kept, never a value.
                return self.own(db.keep(db_api, predicted, keep))
        finally:
            db.drop(db_api, registered)

    # ---------------------------------------------------------------- the links

    def _link_table(self, pairs: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        """Pairs at or above the threshold: ``l``, ``r``, ``prob``, ``refused`` (the
        household rule), one flag per comparison that agreed, and ``value``, the text
        whose order is the cut order (the weakest link first; ties by the hashes)."""
        level = {c: nw.col(f"gamma_{c}") for c in self.names}
        refuse: nw.Expr = nw.lit(value=False)
        rule = self.household
        if rule is not None and rule["shared"] and all(c in level for c in rule["shared"]):
            shared: nw.Expr = nw.lit(value=True)
            for c, at in rule["shared"].items():
                shared = shared & (level[c] >= at)
            differ: nw.Expr = nw.lit(value=False)
            for c, at in rule["different"].items():
                if c in level:
                    differ = differ | ((level[c] >= 0) & (level[c] <= at))
            personal: nw.Expr = nw.lit(value=False)
            for c, at in rule["personal"].items():
                if c in level:
                    personal = personal | (level[c] >= at)
            refuse = shared & (differ | ~personal)
        links = pairs.filter(nw.col("match_probability") >= self.threshold).select(
            nw.col("unique_id_l").alias("l"),
            nw.col("unique_id_r").alias("r"),
            nw.col("match_probability").alias("prob"),
            refuse.alias("refused"),
            *((level[c] > 0).alias(f"g{i}") for i, c in enumerate(self.names)),
        )
        native = links.to_native()
        if self.engine.name == "duckdb":
            text = (
                "printf('%.20f', prob) || '|' || "
                f"lpad(CAST(CAST(least(l, r) AS HUGEINT) + {_OFFSET} AS VARCHAR), 20, '0') || "
                f"'|' || lpad(CAST(CAST(greatest(l, r) AS HUGEINT) + {_OFFSET} AS VARCHAR), "
                "20, '0')"
            )
            out = native.query("hx_src", f"SELECT *, {text} AS value FROM hx_src")
        else:
            from pyspark.sql import functions as F

            def unsigned(c: Any) -> Any:
                shifted = c.cast("decimal(20,0)") + F.lit(str(_OFFSET)).cast("decimal(20,0)")
                return F.lpad(shifted.cast("decimal(20,0)").cast("string"), 20, "0")

            out = native.withColumn(
                "value",
                F.concat_ws(
                    "|",
                    F.format_string("%.20f", F.col("prob")),
                    unsigned(F.least("l", "r")),
                    unsigned(F.greatest("l", "r")),
                ),
            )
        return self.own(nw.from_native(out))

    def _edges(self, rows: Mapping[str, nw.LazyFrame[Any]]) -> nw.LazyFrame[Any]:
        """The exact path's edges plus the links; the birth-year and household rules."""
        ident = self._identity()
        if self.fit:
            self._fit(ident, rows)
        self.pairs = self._score(ident)
        self.links = self._link_table(self.pairs)
        n_keys = len(self.real_keys)
        parts = [
            lf.select(
                nw.lit(silo, dtype=nw.String).alias("silo"),
                "source_id",
                nw.lit(i, dtype=nw.Int64).alias("kind"),
                nw.col(f"k{i}").alias("value"),
            ).filter(~nw.col("value").is_null())
            for silo, lf in rows.items()
            for i in range(n_keys)
        ]
        rec = self.rec.select("silo", "source_id", "h", "lo", "hi")
        keyed = [
            part.join(rec, on=["silo", "source_id"]).select("h", "kind", "value", "lo", "hi")
            for part in parts
        ]
        years = rec.select("h", "lo", "hi")
        for side in ("l", "r"):
            keyed.append(
                self.links.select(
                    nw.col(side).alias("h"), nw.lit(n_keys, dtype=nw.Int64).alias("kind"), "value"
                )
                .join(years, on="h")
                .select("h", "kind", "value", "lo", "hi")
            )
        edges = self.hold(nw.concat(keyed, how="vertical").unique(["h", "kind", "value"]))
        tokens = self.hold(self._key_tokens(edges))  # read again by the household rule
        self._linking(edges, tokens)
        refused = [
            self.links.filter(nw.col("refused")).select(
                nw.lit(n_keys, dtype=nw.Int64).alias("kind"), "value"
            )
        ]
        if self.household is not None and "date_of_birth" in self.compared and n_keys:
            refused.append(self._household_keys(ident, tokens))
        self.refused = self.own(
            nw.concat(refused, how="vertical").unique() if len(refused) > 1 else refused[0]
        )
        self.drop(tokens)
        self._add_token_conflicts("household", self.refused)
        return self.hold(
            self.linking.filter(~nw.col("mismatch"))
            .join(self.refused, on=["kind", "value"], how="anti")
            .select("h", "kind", "value")
        )

    def _household_keys(
        self, ident: nw.LazyFrame[Any], tokens: nw.LazyFrame[Any]
    ) -> nw.LazyFrame[Any]:
        """Key values (not links) shared by records whose dates of birth lie more than a
        year apart, or whose given names start with different letters."""
        person = ident.select(
            nw.col("unique_id").alias("h"),
            nw.col("date_of_birth").str.slice(0, 4).cast(nw.Float64).alias("year"),
            (
                nw.col("given_name").str.slice(0, 1)
                if "given_name" in self.compared
                else nw.lit(None, dtype=nw.String)
            ).alias("initial"),
        )
        per_key = (
            self.linking.filter(~nw.col("mismatch") & (nw.col("kind") < len(self.real_keys)))
            .join(person, on="h")
            .group_by("kind", "value")
            .agg(
                nw.col("year").min().alias("ylo"),
                nw.col("year").max().alias("yhi"),
                nw.col("initial").min().alias("ilo"),
                nw.col("initial").max().alias("ihi"),
            )
        )
        apart = ((nw.col("yhi") - nw.col("ylo")) > _KEY_YEARS_APART).fill_null(value=False)
        initials = (nw.col("ihi") != nw.col("ilo")).fill_null(value=False)
        if "given_name" not in self.compared:
            initials = nw.lit(value=False)
        del tokens
        return per_key.filter(apart | initials).select("kind", "value")

    # ------------------------------------------------------------- the crosswalk

    def _crosswalk(self, labels: nw.LazyFrame[Any] | None, secret: bytes) -> nw.LazyFrame[Any]:
        """The exact path's crosswalk plus ``match_probability`` and ``matched_fields``."""
        n_keys = len(self.real_keys)
        active = self.active
        degree = active.group_by("kind", "value").agg(nw.len().alias("degree"))
        linked = active.join(degree.filter(nw.col("degree") >= 2), on=["kind", "value"])
        # A link is used when both of its records still carry it (it is then linked).
        self.used = self.own(linked.filter(nw.col("kind") == n_keys).select("value").unique())
        flags = [f"f{i}" for i in range(n_keys)] + [f"g{i}" for i in range(len(self.names))]
        per_key = linked.filter(nw.col("kind") < n_keys).select(
            "h",
            nw.lit(1.0, dtype=nw.Float64).alias("prob"),
            *((nw.col("kind") == i).cast(nw.Int64).alias(f"f{i}") for i in range(n_keys)),
            *(nw.lit(0, dtype=nw.Int64).alias(f"g{i}") for i in range(len(self.names))),
        )
        used_links = self.links.join(self.used, on="value")
        per_link = [
            used_links.select(
                nw.col(side).alias("h"),
                "prob",
                *(nw.lit(0, dtype=nw.Int64).alias(f"f{i}") for i in range(n_keys)),
                *(nw.col(f"g{i}").cast(nw.Int64) for i in range(len(self.names))),
            )
            for side in ("l", "r")
        ]
        evidence = (
            nw.concat([per_key, *per_link], how="vertical")
            .group_by("h")
            .agg(nw.col("prob").max().alias("match_probability"), *(nw.col(f).max() for f in flags))
        )
        names = [*self.real_keys, *self.names]
        fields = nw.concat_str(
            [nw.when(nw.col(f) == 1).then(nw.lit(n)) for f, n in zip(flags, names, strict=True)],
            separator="+",
            ignore_nulls=True,
        )
        evidence = self.own(
            self.rec.select("silo", "source_id", "h")
            .join(evidence, on="h")
            .select("silo", "source_id", "match_probability", fields.alias("matched_fields"))
        )
        # The records' table outlives the run's release (the review reads it).
        self._held = [t for t in self._held if t is not self.rec]
        self._own.append(self.rec)
        out = super()._crosswalk(labels, secret)
        crosswalk = self.own(
            out.join(evidence, on=["silo", "source_id"], how="left").select(
                "silo",
                "source_id",
                "person_id",
                "matched_on",
                nw.col("match_probability").cast(nw.Float64),
                nw.col("matched_fields").fill_null("none"),
            )
        )
        self.engine.release(out)
        self._held = []
        self.engine.release(evidence)
        return crosswalk

    # ------------------------------------------------------------------ review

    def review_pairs(self, crosswalk: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        """``Resolution.review`` on the engine: the scored pairs in the review band."""
        low, high = self.band
        prob = nw.col("match_probability")
        upper = prob < high if high < 1 else prob <= 1
        persons = crosswalk.select("silo", "source_id", "person_id")
        ids = self.rec.select("h", "silo", "source_id")
        sides = {
            side: ids.join(persons, on=["silo", "source_id"]).select(
                nw.col("h").alias(f"unique_id_{side}"),
                nw.col("silo").alias(f"silo_{side}"),
                nw.col("source_id").alias(f"source_id_{side}"),
                nw.col("person_id").alias(f"person_{side}"),
            )
            for side in ("l", "r")
        }
        # A pair in the band is a link only if it is at or above the threshold too.
        link_ids = self.links.select(
            nw.col("l").alias("unique_id_l"), nw.col("r").alias("unique_id_r"), "value"
        )
        used = link_ids.join(self.used, on="value").select(
            "unique_id_l", "unique_id_r", nw.lit(value=True).alias("is_linked")
        )
        refused = link_ids.join(
            self.refused.filter(nw.col("kind") == len(self.real_keys)), on="value"
        ).select("unique_id_l", "unique_id_r", nw.lit(value=True).alias("is_refused"))
        labels = self.linkage.level_labels()
        label_columns = []
        for name in self.names:
            level = nw.col(f"gamma_{name}")
            # The level's label; a level without one keeps its number (as the pandas path).
            expr: nw.Expr = level.cast(nw.String)
            for value, text in labels[name].items():
                expr = nw.when(level == value).then(nw.lit(text)).otherwise(expr)
            label_columns.append(expr.alias(name))
        pair_ids = ["unique_id_l", "unique_id_r"]
        out = (
            self.pairs.filter((prob >= low) & upper)
            .join(sides["l"], on="unique_id_l")
            .join(sides["r"], on="unique_id_r")
            .join(used, on=pair_ids, how="left")
            .join(refused, on=pair_ids, how="left")
            .select(
                "silo_l",
                "source_id_l",
                "silo_r",
                "source_id_r",
                "match_probability",
                "match_weight",
                nw.col("is_linked").fill_null(value=False).alias("linked"),
                nw.col("is_refused").fill_null(value=False).alias("household"),
                (nw.col("person_l") == nw.col("person_r")).alias("same_person"),
                *label_columns,
            )
        )
        return self.own(out)

    def counts(
        self, crosswalk: nw.LazyFrame[Any], review: nw.LazyFrame[Any]
    ) -> tuple[int, int, int]:
        """``n_links``, ``n_review_pairs``, ``n_persons_uncertain`` (pandas path's)."""
        (n_links,) = _scalars(self.used, nw.len())
        (n_review,) = _scalars(review, nw.len())
        persons = crosswalk.select("silo", "source_id", "person_id")
        touched = nw.concat(
            [
                review.select(
                    nw.col(f"silo_{s}").alias("silo"), nw.col(f"source_id_{s}").alias("source_id")
                )
                for s in ("l", "r")
            ],
            how="vertical",
        ).unique()
        weak = crosswalk.filter(
            (nw.col("match_probability") < self.band[1]).fill_null(value=False)
        ).select("person_id")
        unsure = nw.concat(
            [persons.join(touched, on=["silo", "source_id"]).select("person_id"), weak],
            how="vertical",
        )
        (n_unsure,) = _scalars(unsure, nw.col("person_id").n_unique())
        return int(n_links), int(n_review), int(n_unsure)


# ------------------------------------------------------------------------ functions


def _type_error(silo: str, column: str, dtype: Any, check: str) -> InputTableError:
    return InputTableError(
        f"table {silo!r}, column {column!r} is {dtype}; {column} must be "
        f"{'dates' if check == 'date' else 'text'} or missing (the column's type fails "
        f"{check}).",
        table=silo,
        failure_cases=pd.DataFrame(
            {"column": [column], "check": [check], "failure_case": [str(dtype)], "index": [None]}
        ),
    )


def _cleaner(column: str, keep: str) -> Any:
    """The pandas path's cleaning of distinct values, as a batch function."""

    def function(values: np.ndarray) -> np.ndarray:
        out = _clean_distinct(pd.Series(values, dtype="str"), column=column, keep=keep)
        return np.array([v if isinstance(v, str) else None for v in out], dtype=object)

    return function


def _parse_dates(values: np.ndarray) -> np.ndarray:
    """Dates of birth as ``YYYY-MM-DD`` (``_rosters._clean_date``); unparsable: a marker."""
    text = pd.Series(values, dtype="str")
    present = text.str.strip().ne("")
    dates = pd.to_datetime(text.where(present), errors="coerce", format="ISO8601")
    out = dates.dt.strftime("%Y-%m-%d").astype(object)
    bad = (present & dates.isna()).to_numpy()
    result = np.array([v if isinstance(v, str) else None for v in out], dtype=object)
    result[bad] = _BAD_DATE
    return result
