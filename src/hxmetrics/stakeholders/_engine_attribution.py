"""As-of attribution on the engine: the rows stay where they are (DuckDB, Polars lazy, Spark).

:func:`attribute_lazy` adds to an exhaust table the columns that
:meth:`StakeholderRegistry.attribute <hxmetrics.stakeholders.StakeholderRegistry.attribute>`
adds, with the same values and statuses, as a lazy query of the exhaust's own
engine: nothing of the exhaust table is collected or converted to pandas.

The plan (written once with narwhals; engine-specific code only where narwhals has
no operation for it, said where):

1. **Hybrid type per person**, from the episodes, by the rules of
   :mod:`~hxmetrics.stakeholders.hybrids` (default :data:`HYBRID_RULES`, or
   ``rules=``), in two group-bys by person: one over the episodes (``engagement``,
   ``first_after`` and ``sequential`` rules, as aggregates), one over the pairs of
   the person's episodes of the rules' roles (a self-join on ``person_id``:
   ``concurrent`` rules only); the first true rule in order names the person, else
   ``"none"``. A ``sequential`` rule of one role (a boomerang) counts the role's
   episodes, which is exact for merged episodes only (see below).
2. **Role segments**: every start and end of a person's episodes is a boundary; at
   each boundary one group-by over (person, boundary) records which roles the person
   holds from there on, and with which engagement. Between two boundaries nothing
   changes, so one as-of lookup of the segment starting at or before the row's time
   answers all three roles at once (episodes are merged: a person holds at most one
   episode per role at any time).
3. **Id lookup**: an equi-join of ``(silo, source_id)`` on the crosswalk (with each
   person's hybrid type), a left join: every row kept.
4. **As-of lookup**: the segment of the row's person that holds the row's time.
   Polars: one backward as-of join on the row's time by an integer code of the
   person, ``polars.LazyFrame.join_asof`` after sorting both sides by time, called
   natively to pass ``check_sortedness=False`` (narwhals' ``join_asof`` cannot, and
   Polars then warns at every collect); only integers are sorted (by time, then back
   by position), and the text columns are looked up in the exhaust's order and set
   beside the exhaust's own columns (:func:`_attribute_polars`). DuckDB and Spark: a left *range
   join* ``person equal and segment start <= t < segment end``, the segment's end
   being the person's next boundary (the segments of a person do not overlap, so a
   row matches at most one: the as-of join's answer). On DuckDB it is a hash join on
   the person with the two comparisons checked in the probe (:func:`_range_join_duckdb`),
   which compares an answer with every segment of its person: a person with more than
   32 (a gig worker with one episode per gig) has their segments bucketed by time and
   their answers joined on the person and the answer's bucket instead (review finding
   F2: 200,000 answers of one worker with 2,000 one-day gigs took 2.3 CPU s, 0.35 with
   the buckets, 0.2 with 20 gigs). The exhaust streams through it, where DuckDB's
   ``ASOF JOIN`` sorts every exhaust row with all its columns by person and time
   (5M answers under a 128MB limit: 5.4-6.3
   CPU s for the range join's query against 15.2 for the ASOF one, neither sorted back;
   10M answers: 23-24 CPU s with the sort back against 25-30 for the ASOF one without).
   Spark has no as-of join (narwhals: not implemented), and its range join is the
   same condition in PySpark.
5. The statuses, as :mod:`~hxmetrics.stakeholders.attribution` defines them:
   ``unknown_id`` (the pair is in no roster, or silo or id missing), then
   ``missing_time``, then ``outside_episodes`` (no role held), else ``ok``.

What the resolution must give (the layout :func:`attribute_lazy` requires)
--------------------------------------------------------------------------
Any object with two attributes, native lazy frames of the exhaust's engine:

``crosswalk``
    ``silo`` (text), ``source_id`` (text), ``person_id`` (text); other columns are
    ignored. One row per ``(silo, source_id)`` (checked: one aggregate of the
    crosswalk). As :attr:`StakeholderRegistry.crosswalk`.
``episodes``
    The *merged* role episodes, as :attr:`StakeholderRegistry.episodes` /
    :func:`~hxmetrics.stakeholders.role_episodes` give them: ``person_id`` (text),
    ``role`` (text: ``customer``, ``worker``, ``partner``), ``engagement`` (text;
    merged engagements joined by ``"+"``), ``start`` (naive timestamp, never
    missing), ``end`` (naive timestamp, missing = open; the interval is
    ``[start, end)``); other columns (``silo``, ``source_id``, ``n_records``) are
    ignored. Merged means: overlapping or duplicated episodes of one person and role
    are one episode (:func:`~hxmetrics.stakeholders.merge_episodes`), so a person
    holds at most one episode per role at any time. This is not checked here
    (a check is a self-join of the episodes): unmerged episodes give wrong roles
    (and may give wrong boomerangs).

Differences from the pandas output (documented, tested)
-------------------------------------------------------
* Text columns the pandas path makes categorical (``person_id``, the engagements,
  ``hybrid_type``, ``attribution``, ``role``) are plain text on every engine:
  DuckDB and Spark have no categorical that a lazy query can build without first
  listing the categories (a collect), and Polars' ``Categorical`` would make the
  three engines differ. The values are the pandas categories' labels.
* Row order: on Polars and DuckDB the rows come back in the exhaust's order (each
  row's position is numbered before the joins and the rows are put back by it), so
  that "row N" in a later error message (e.g. ``rfm_summary``'s) is the row of the
  input as read, as the pandas label is. On DuckDB that is an ``ORDER BY`` of the rows
  numbered as read (``row_number() OVER ()``, which follows the input's order while
  ``preserve_insertion_order`` is on, DuckDB's default, as validation's "row N" does),
  which DuckDB spills beyond ``memory_limit`` (the out-of-core job of
  ``tests/test_out_of_core.py`` runs under 128MB with it; ``ordered=False`` skips it
  for a caller that only aggregates). Spark keeps no order: the
  rows are the input's rows, each once, and a later error names rows of the
  attributed table, not of the input.
* On pandas input (engine ``"pandas"``) the pandas implementation itself runs
  (:func:`~hxmetrics.stakeholders.attribution.attribute_with_index`): the frame is
  in memory already, and its output (categoricals, row order) is the reference.

Cost
----
The exhaust is read once. The crosswalk is read twice (the uniqueness check runs
when :func:`attribute_lazy` is called; the rest is lazy) and the episodes about six
times in the query: give them materialised (a DuckDB table, a cached Spark
DataFrame, a Parquet scan), not as an unevaluated plan that each read would
recompute (Polars caches them within the query: one read of each). On DuckDB each
call leaves one temporary view (``__hx_segments_<id>``) on the connection, which the
returned relation reads, and the rows are sorted once, by their position (an
integer), at the end. The query materialises the segments once and counts each
person's (three of its tables read them): about 0.4 CPU s at a million persons, whatever
the number of answers (10M answers: 9.9 CPU s against 9.5 for the plain range join
unordered, 17.6 against 17.2 ordered, medians of 4 interleaved rounds); a person with
more than ``_HEAVY_SEGMENTS`` (32) segments adds
fewer than twice their segments to the bucketed join's build side, and each of their
answers is compared with the segments of its bucket: about two when the person's
segments are spread over their span, at most all of the person's when a burst of them
falls in one bucket. What still grows with a person's episodes is computed once per
person, not per answer: the segments (each boundary against each episode of its
person) and the pairs of the ``concurrent`` hybrid rules, quadratic in the person's
episodes (20,000 gigs of one worker: about 11 CPU s on DuckDB, with 1,000 answers as
with 200,000).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

import narwhals as nw
import pandas as pd

from hxmetrics.errors import ParameterError, check_columns
from hxmetrics.stakeholders.attribution import (
    ATTRIBUTION_COLUMNS,
    STATUSES,
    AttributionIndex,
    attribute_with_index,
)
from hxmetrics.stakeholders.hybrids import HybridRule, _coerce_rules, classify_hybrids
from hxmetrics.tables import ROLE_OF_SILO, ROLES

__all__ = ["attribute_lazy", "attribution_counts"]

TimeUnit = Literal["ns", "us", "ms", "s"]

# Working columns; the prefix keeps them clear of the caller's names.
_P = "__hx_person"
_POS = "__hx_position"
_T = "__hx_time"
_B = "__hx_boundary"
_END = "__hx_segment_end"
_KS, _KI = "__hx_key_silo", "__hx_key_source"
_HELD = {r: f"__hx_held_{r}" for r in ROLES}
_ENG = {r: f"__hx_eng_{r}" for r in ROLES}
_ENG_CODE = "__hx_eng_code"


def _engine(frame: Any) -> str:
    """The engine name of a native frame (``pandas``, ``polars``, ``duckdb``, ``spark``)."""
    if isinstance(frame, pd.DataFrame):
        return "pandas"
    try:
        impl = nw.from_native(frame).implementation
    except TypeError:
        impl = None
    if impl is nw.Implementation.POLARS:
        return "polars"
    if impl is nw.Implementation.DUCKDB:
        return "duckdb"
    if impl in (nw.Implementation.PYSPARK, nw.Implementation.PYSPARK_CONNECT):
        return "spark"
    raise ParameterError(
        "attribute_lazy takes a pandas DataFrame, a polars LazyFrame/DataFrame, a DuckDB "
        f"relation or a Spark DataFrame; got {type(frame).__name__}."
    )


def attribute_lazy(
    exhaust: Any,
    resolution: Any,
    *,
    time: str = "timestamp",
    silo: str = "silo",
    source_id: str = "source_id",
    rules: Sequence[HybridRule] | pd.DataFrame | None = None,
    ordered: bool = True,
) -> Any:
    """Add the person and the roles they held at each row's time, on the exhaust's engine.

    Parameters
    ----------
    exhaust : native frame
        A pandas DataFrame, polars LazyFrame (or DataFrame), DuckDB relation or Spark
        DataFrame with a silo column, the silo's id column and a time column
        (naive timestamps, e.g. from ``validate_lazy``).
    resolution : object with ``crosswalk`` and ``episodes``
        Native frames of the same engine, laid out as the module docstring says
        (e.g. an ``EngineResolution``, or a registry's crosswalk and episodes).
    time, silo, source_id : str
        Column names in ``exhaust``.
    rules : optional
        Hybrid rules (default :data:`~hxmetrics.stakeholders.HYBRID_RULES`), as
        :func:`~hxmetrics.stakeholders.classify_hybrids` takes them.
    ordered : bool, default True
        DuckDB: sort the rows back into the exhaust's order (so that "row N" of a later
        error is the input's row). ``False`` leaves them in the joins' order and saves
        that sort (about half the query's CPU time at 5M answers), for a caller that
        only aggregates the result. Pandas and Polars keep the order either way; Spark
        never does.

    Returns
    -------
    native lazy frame
        Of the exhaust's engine (pandas: a DataFrame; polars: a LazyFrame): the
        exhaust's columns, then :data:`~hxmetrics.stakeholders.ATTRIBUTION_COLUMNS`
        with the values of :meth:`StakeholderRegistry.attribute`, every row once.
        Text columns are text, not categorical (module docstring).

    Raises
    ------
    InputTableError
        If a named column is missing.
    ParameterError
        If the exhaust already has an added column or a column named ``__hx_...``
        (reserved for the engine plan's working columns), the time column is not a naive
        timestamp, the crosswalk or episodes are of another engine or lack a column,
        or the crosswalk repeats a ``(silo, source_id)``.

    Examples
    --------
    >>> import pandas as pd, polars as pl
    >>> from types import SimpleNamespace
    >>> cw = pl.LazyFrame({"silo": ["customers"], "source_id": ["c1"], "person_id": ["P1"]})
    >>> eps = pl.LazyFrame({"person_id": ["P1"], "role": ["customer"],
    ...     "engagement": ["consumer"], "start": [pd.Timestamp("2020-01-01")],
    ...     "end": [pd.Timestamp("2021-01-01")]})
    >>> events = pl.LazyFrame({"silo": ["customers", "customers", "workers"],
    ...     "source_id": ["c1", "c1", "w9"],
    ...     "timestamp": pd.to_datetime(["2020-06-01", "2021-01-01", "2020-06-01"])})
    >>> out = attribute_lazy(events, SimpleNamespace(crosswalk=cw, episodes=eps))
    >>> out = out.select("is_customer", "attribution", "role").sort("attribution")
    >>> out.collect().rows()  # doctest: +NORMALIZE_WHITESPACE
    [(True, 'ok', 'customer'), (False, 'outside_episodes', 'customer'),
     (False, 'unknown_id', 'worker')]
    """
    engine = _engine(exhaust)
    if engine == "pandas":
        return _attribute_pandas(exhaust, resolution, time, silo, source_id, rules)
    lf = nw.from_native(exhaust).lazy()
    schema = lf.collect_schema()
    check_columns(schema.names(), [time, silo, source_id], table="events")
    clash = [c for c in ATTRIBUTION_COLUMNS if c in schema]
    if clash:
        raise ParameterError(
            f"events already has column(s) {clash} that attribution adds; "
            "drop or rename them first."
        )
    # The engine plans name their working columns with this prefix; an exhaust column of
    # that name would clash with one (Polars: DuplicateError; DuckDB: overwritten, or
    # read as a segment's roles, silently). Refused by name (review finding A1).
    reserved = [c for c in schema.names() if c.startswith("__hx_")]
    if reserved:
        raise ParameterError(
            f"events has column(s) {reserved}: names starting with '__hx_' are reserved "
            "for attribution's working columns on the engine; rename them first."
        )
    crosswalk = _part(resolution, "crosswalk", engine, ["silo", "source_id", "person_id"])
    episodes = _part(
        resolution, "episodes", engine, ["person_id", "role", "engagement", "start", "end"]
    )
    unit = _time_unit(schema[time], episodes.collect_schema(), time, engine)
    _check_unique(crosswalk)

    cast = nw.Datetime(unit) if unit else None
    eps = episodes.select(
        nw.col("person_id").cast(nw.String).alias(_P),
        nw.col("role").cast(nw.String),
        nw.col("engagement").cast(nw.String),
        _as_time(nw.col("start"), cast),
        _as_time(nw.col("end"), cast),
    )
    persons = crosswalk.select(
        nw.col("silo").cast(nw.String).alias(_KS),
        nw.col("source_id").cast(nw.String).alias(_KI),
        nw.col("person_id").cast(nw.String).alias("person_id"),
    )
    time_dtype = schema[time]
    t = nw.col(time)
    if time_dtype == nw.Date:
        t = t.cast(nw.Datetime(unit or "us"))
    if engine == "polars":
        return _attribute_polars(
            lf,
            persons,
            eps,
            _coerce_rules(rules),
            t=_as_time(t, cast),
            silo=silo,
            source_id=source_id,
            columns=list(schema.names()),
        )
    hybrid = _hybrid_types(eps, _coerce_rules(rules))
    ids = persons.join(hybrid, left_on="person_id", right_on=_P, how="left").select(
        _KS, _KI, "person_id", nw.col("hybrid_type").fill_null(nw.lit("none"))
    )
    if engine == "duckdb" and ordered:
        # Each row's position, to put the rows back in the exhaust's order after the
        # joins (which reorder them): "row N" of a later error is then the input's row,
        # as on pandas. Engine-specific: narwhals numbers the rows of a lazy frame only
        # by an order of its columns; an empty window numbers them as read (DuckDB keeps
        # insertion order), streaming.
        lf = nw.from_native(lf.to_native().project(f'*, row_number() OVER () AS "{_POS}"'))
        lf = lf.lazy()
    try:
        rows = lf.with_columns(
            nw.col(silo).cast(nw.String).alias(_KS),
            nw.col(source_id).cast(nw.String).alias(_KI),
            _as_time(t, cast).alias(_T),
        ).join(ids, on=[_KS, _KI], how="left")
        # The keys are no longer needed: narrower joins and sort (role reads the silo).
        rows = rows.drop(_KS, _KI)
    except Exception as exc:  # DuckDB refuses relations of two connections: say so
        if "different connections" not in str(exc):
            raise
        raise ParameterError(
            "the exhaust and the resolution are DuckDB relations of different connections; "
            "scan them with one connection."
        ) from exc
    segments = _segments_with_end(_segments(eps))
    if engine == "spark":
        return _finish(_range_join_spark(rows, segments), list(schema.names()), silo).to_native()
    out = _finish(_range_join_duckdb(rows, segments), list(schema.names()), silo)
    if not ordered:
        return out.to_native()
    # One sort, by an integer, of the finished rows: DuckDB spills it beyond
    # memory_limit (a positional join of the sorted lookups beside a materialised
    # exhaust, tried before, ran out of memory under 128MB).
    return out.sort(_POS).drop(_POS).to_native()


def _attribute_polars(
    lf: nw.LazyFrame[Any],
    persons: nw.LazyFrame[Any],
    eps: nw.LazyFrame[Any],
    rules: tuple[HybridRule, ...],
    *,
    t: nw.Expr,
    silo: str,
    source_id: str,
    columns: list[str],
) -> Any:
    """Polars: integers through the joins and sorts; text gathered once, in order.

    At 10M rows the cost is in moving text: a join that keeps its left side's order,
    or a sort, moves each text column in a random order (about 1 CPU s a column at
    10M rows, as much as the as-of join), where gathering it from a small table by
    an integer index costs a fraction of that. So:

    * every person of the crosswalk gets a number, its index in a table of the
      persons (sorted by id: the same number wherever the table is read); the
      episodes are keyed by that number, and the hybrid types and segments are
      grouped by it (an integer key hashes cheaper than the text id);
    * the id lookup (a left join, any order) and the as-of join (rows sorted by
      time, by the person's number) carry integers only: each row's position, its
      person's number and its segment's *kind*, the rank of the segment's (held,
      engagement) values, a few hundred distinct ones however many segments there
      are. Each row's *code* then says all that the added columns other than the
      person's need: ``0`` unknown id, ``1`` no time, ``2`` no segment (outside the
      episodes), ``2 + kind`` otherwise. Sorted back by position, the person's
      ``person_id`` and ``hybrid_type`` are gathered from the persons' table by
      number, the roles, engagements and status from a table of the codes (a few
      hundred rows, the statuses as :func:`_finish` gives them);
    * the exhaust's own columns are never moved: the result is the exhaust and the
      looked-up columns side by side (a horizontal concatenation).

    ``cache()`` makes both branches read one evaluation of the exhaust, so row ``i``
    of each part is the same row. Engine-specific (narwhals has no ``cache``, no
    horizontal concatenation of lazy frames, no gather by an index column and no
    as-of option ``check_sortedness``); the segments and hybrid types are narwhals.
    """
    import polars as pl

    number, kind, code = "__hx_number", "__hx_kind", "__hx_code"
    attrs = [*_HELD.values(), *_ENG.values()]
    persons = nw.from_native(persons.to_native().cache()).lazy()  # numbered, and the ids
    numbers = (
        persons.select(nw.col("person_id").alias(_P))
        .unique()
        .to_native()
        .sort(_P)
        .with_row_index(number)
        .cache()  # read three times: computed once
    )
    # The episodes keyed by the person's number (as _P: the helpers group by it),
    # cached: the hybrid types and the segments read them six times.
    eps_n = eps.join(nw.from_native(numbers).lazy(), on=_P, how="inner").select(
        nw.col(number).alias(_P), "role", "engagement", "start", "end"
    )
    eps_n = nw.from_native(eps_n.to_native().cache()).lazy()
    hybrid = _hybrid_types(eps_n, rules).to_native()
    # The persons' table: row i is person number i (sorted back after the join). The
    # sorts are in the expressions: Polars 2.1 drops a frame's sort followed by a select
    # of `when/then` on literals (`lf.sort("k").select(pl.when(...).then(pl.lit(..))...)`
    # comes back unsorted), and a gather by position needs the order.
    people = numbers.join(hybrid.rename({_P: number}), on=number, how="left").select(
        pl.col(_P).sort_by(number).alias("__hx_person_id"),
        pl.col("hybrid_type").fill_null("none").sort_by(number).alias("__hx_hybrid"),
    )
    # The segments' engagements as integer codes, the dense rank of the text (in the
    # text's order: a segment's max is the same engagement), so that the segments'
    # group-by and the kinds' rank compare integers; the codes' table reads the text.
    engagement = pl.col("engagement")
    engagements = eps_n.to_native().select(engagement.unique().drop_nulls())
    engagements = engagements.select(engagement, engagement.rank("dense").alias(_ENG_CODE))
    eps_e = eps_n.to_native().with_columns(engagement.rank("dense"))
    segments = _segments(nw.from_native(eps_e).lazy()).to_native()
    # A kind is the dense rank of the (held, engagement) row (a struct rank: nulls
    # are values, as they are not in a join's keys): the same number wherever it is read.
    segments = segments.with_columns(pl.struct(attrs).rank("dense").alias(kind)).cache()
    kinds = segments.select(kind, *attrs).unique(subset=[kind])
    codes = _codes_polars(kinds, kind, engagements)
    ids = persons.to_native().join(
        numbers.select(pl.col(_P).alias("person_id"), number), on="person_id", how="left"
    )

    base = lf.to_native().cache()
    rows = (
        nw.from_native(base)
        .lazy()
        .select(
            nw.col(silo).cast(nw.String).alias(_KS),
            nw.col(source_id).cast(nw.String).alias(_KI),
            t.alias(_T),
        )
        .to_native()
    )
    # Rows without a time sort first and match nothing; persons without episodes have
    # no segment and match nothing.
    by_time = (
        rows.with_row_index(_POS)
        .join(ids.select(_KS, _KI, number), on=[_KS, _KI], how="left")
        .select(_POS, _T, number)
        .sort(_T, nulls_last=False)
    )
    on_segments = by_time.join_asof(
        segments.select(pl.col(_P).alias(number), _B, kind).sort(_B),
        left_on=_T,
        right_on=_B,
        by=number,
        strategy="backward",
        check_sortedness=False,  # both sides are sorted just above
    )
    row_code = (
        pl.when(pl.col(number).is_null())
        .then(0)
        .when(pl.col(_T).is_null())
        .then(1)
        .otherwise(pl.col(kind).fill_null(0) + 2)
        .cast(pl.UInt32)
    )
    back = on_segments.select(_POS, number, row_code.alias(code)).sort(_POS)
    # The small tables set beside the rows, each as one row of lists (padding them to
    # the rows' height with nulls would write every column 10M times: ~0.3 CPU s more
    # at 10M rows), so that one select gathers from them by index; then only the rows
    # are kept (an empty exhaust still has the tables' one row).
    tables = pl.concat(
        [back, people.select(pl.all().implode()), codes.select(pl.all().implode())],
        # Polars 2 names the padding concatenation "horizontal_extend" ("horizontal"
        # requires equal heights there); before, "horizontal" padded.
        how="horizontal_extend" if int(pl.__version__.split(".")[0]) >= 2 else "horizontal",
    )

    def table(name: str) -> pl.Expr:
        return pl.col(name).first().explode()

    added = [c for c in ATTRIBUTION_COLUMNS if c not in ("person_id", "hybrid_type", "role")]
    looked_up = tables.select(
        _POS,
        table("__hx_person_id").gather(pl.col(number)).alias("person_id"),
        table("__hx_hybrid").gather(pl.col(number)).alias("hybrid_type"),
        *(table(f"__hx_code_{c}").gather(pl.col(code)).alias(c) for c in added),
    ).filter(pl.col(_POS).is_not_null())
    both = pl.concat([base, looked_up.drop(_POS)], how="horizontal")
    added_columns = [*columns, *ATTRIBUTION_COLUMNS[:-1], _role(silo)]
    return nw.from_native(both).lazy().select(*added_columns).to_native()


def _codes_polars(kinds: Any, kind: str, engagements: Any) -> Any:
    """The added columns of each row code (Polars), row ``c`` for code ``c``.

    Codes ``0``-``2``: unknown id, no time, no segment (no role held, the statuses'
    order of :func:`_finish`); code ``2 + k``: a segment of kind ``k`` (``kinds``:
    a native LazyFrame, one row per kind ``1..K`` in column ``kind``, any order, with
    the held flags and the engagements' codes, which ``engagements`` maps to the
    text: columns ``engagement``, ``_ENG_CODE``). Columns ``__hx_code_<name>`` for
    ``is_<role>``, ``<role>_engagement`` and ``attribution``, as :func:`_finish`
    computes them (a row with a time and a segment holds the segment's roles).
    """
    import polars as pl

    for r in ROLES:  # the text of each role's engagement code (a missing code: none)
        text = engagements.rename({"engagement": f"{_ENG[r]}_text", _ENG_CODE: _ENG[r]})
        kinds = kinds.join(text, on=_ENG[r], how="left")

    def column(name: str) -> str:
        return f"__hx_code_{name}"

    held = {r: pl.col(_HELD[r]).fill_null(0) == 1 for r in ROLES}
    status = pl.when(pl.any_horizontal(*held.values())).then(pl.lit(STATUSES[0]))
    values = [
        *(held[r].alias(column(f"is_{r}")) for r in ROLES),
        *(
            pl.when(held[r]).then(pl.col(f"{_ENG[r]}_text")).alias(column(f"{r}_engagement"))
            for r in ROLES
        ),
        status.otherwise(pl.lit(STATUSES[2])).alias(column("attribution")),
    ]
    # In kind order, sorted in the expressions (see the persons' table in
    # _attribute_polars: Polars 2.1 drops a frame's sort before such a select).
    from_kinds = kinds.select(v.sort_by(kind) for v in values)
    special = pl.LazyFrame(
        {
            **{column(f"is_{r}"): [False] * 3 for r in ROLES},
            **{column(f"{r}_engagement"): pl.Series([None] * 3, dtype=pl.String) for r in ROLES},
            column("attribution"): [STATUSES[1], STATUSES[3], STATUSES[2]],
        }
    )
    return pl.concat([special, from_kinds], how="vertical")


def _role(silo: str) -> nw.Expr:
    """The silo's role (``ROLE_OF_SILO``; missing for any other silo)."""
    role: Any = nw.lit(None, nw.String)
    silo_text = nw.col(silo).cast(nw.String)
    for name, r in ROLE_OF_SILO.items():
        role = nw.when(silo_text == name).then(nw.lit(r)).otherwise(role)
    return role.alias("role")


def _attribute_pandas(
    exhaust: pd.DataFrame,
    resolution: Any,
    time: str,
    silo: str,
    source_id: str,
    rules: Sequence[HybridRule] | pd.DataFrame | None,
) -> pd.DataFrame:
    crosswalk, episodes = resolution.crosswalk, resolution.episodes
    for name, part in (("crosswalk", crosswalk), ("episodes", episodes)):
        if not isinstance(part, pd.DataFrame):
            raise ParameterError(
                f"resolution.{name} is a {type(part).__name__}; the exhaust is a pandas "
                "DataFrame: both must be of one engine."
            )
    hybrids = classify_hybrids(episodes, rules=rules, merged=True)
    index = AttributionIndex.build(crosswalk, episodes, hybrids, merged=True)
    return attribute_with_index(exhaust, index, time=time, silo=silo, source_id=source_id)


def _part(resolution: Any, name: str, engine: str, required: list[str]) -> nw.LazyFrame[Any]:
    try:
        native = getattr(resolution, name)
    except AttributeError:
        raise ParameterError(
            f"resolution has no {name!r}: pass an EngineResolution (crosswalk, episodes) "
            "or an object with both."
        ) from None
    got = _engine(native)
    if got != engine:
        raise ParameterError(
            f"resolution.{name} is a {got} frame, the exhaust a {engine} one: both must be "
            "of one engine (scan the inputs with the same engine)."
        )
    frame = nw.from_native(native).lazy()
    check_columns(frame.collect_schema().names(), required, table=name)
    return frame


def _time_unit(dtype: Any, eps_schema: Any, time: str, engine: str) -> TimeUnit | None:
    """The time unit both sides of the as-of key are cast to (None: leave as is)."""
    kinds = [("events", time, dtype), ("episodes", "start", eps_schema["start"])]
    kinds.append(("episodes", "end", eps_schema["end"]))
    units = []
    for table, column, dt in kinds:
        if dt == nw.Date and table == "events":
            continue
        if not dt == nw.Datetime:
            raise ParameterError(
                f"{table}: column {column!r} is {dt}, not a timestamp; the engine path "
                "compares timestamps: validate the table first (validate_lazy coerces it)."
            )
        if dt.time_zone is not None and engine != "spark":
            # Spark's TIMESTAMP is read in the session time zone (narwhals reports it);
            # elsewhere a time zone is the caller's to drop, as on the pandas path.
            raise ParameterError(
                f"{table}: column {column!r} has time zone {dt.time_zone!r}; timestamps "
                "in hxmetrics are naive UTC (convert and drop the zone first)."
            )
        units.append(dt.time_unit)
    if engine == "spark":
        return None  # one unit (microseconds); Spark compares its two timestamp types itself
    finest: tuple[TimeUnit, ...] = ("ns", "us", "ms", "s")
    for unit in finest:  # the finest wins: casting to it is exact
        if unit in units:
            return unit
    return None  # pragma: no cover - units always holds the episodes' two


def _as_time(expr: nw.Expr, cast: Any) -> nw.Expr:
    return expr if cast is None else expr.cast(cast)


def _check_unique(crosswalk: nw.LazyFrame[Any]) -> None:
    """One aggregate: a repeated (silo, source_id) would duplicate exhaust rows."""
    dup = (
        crosswalk.group_by("silo", "source_id")
        .agg(nw.len().alias("n"))
        .filter(nw.col("n") > 1)
        .group_by("silo")
        .agg(nw.len().alias("n"))
        .sort("silo")
        .collect()
    )
    if len(dup):
        silos, counts = dup["silo"].to_list(), dup["n"].to_list()
        raise ParameterError(
            "crosswalk: (silo, source_id) must be unique; repeated ids per silo: "
            f"{dict(zip(silos, counts, strict=True))} (ids not shown)."
        )


def _hybrid_types(eps: nw.LazyFrame[Any], rules: tuple[HybridRule, ...]) -> nw.LazyFrame[Any]:
    """``_P``, ``hybrid_type``: the first rule (in order) true of each person with episodes.

    The rules of :func:`~hxmetrics.stakeholders.classify_hybrids`, on the engine, in
    one group-by over the episodes and, for ``concurrent`` rules only, one over the
    pairs of a person's episodes (a self-join on the person, each side restricted to
    the rules' roles). Each rule is an indicator (or a min/max/count) per episode
    first, then an aggregate per person (as the measures aggregate):

    * ``engagement``: max of "role ``first`` with one of the engagements";
    * ``first_after``: the earliest start of each of the two roles;
    * ``sequential`` with two roles: some ended ``first`` episode ends on or before
      some ``second`` episode starts, i.e. the latest ``second`` start is on/after
      the earliest ``first`` end (no pair needed: the two episodes differ);
    * ``sequential`` of one role (a boomerang): two or more episodes of the role.
      Merged episodes of one role never overlap (``a.start < b.end`` and
      ``b.start < a.end`` fails), so of any two one starts on or after the other,
      ended one ends: the pair exists exactly when there are two episodes;
    * ``concurrent``: max over the pairs of "the two overlap" (different episodes).
    """
    pair_rules = [(i, r) for i, r in enumerate(rules) if r.kind == "concurrent"]
    flag = {i: f"__hx_rule_{i}" for i in range(len(rules))}
    per_episode: list[nw.Expr] = []
    aggs: list[nw.Expr] = []
    for i, rule in enumerate(rules):
        first = nw.col("role") == rule.first
        second = nw.col("role") == str(rule.second)
        if rule.kind == "engagement":
            # "full_time+gig" counts as both parts: match whole parts between "+".
            padded = nw.concat_str([nw.lit("+"), nw.col("engagement"), nw.lit("+")])
            hit = nw.any_horizontal(
                *(padded.str.contains(f"+{k}+", literal=True) for k in rule.engagements),
                ignore_nulls=True,
            )
            per_episode.append((first & hit).cast(nw.Int8).alias(flag[i]))
            aggs.append(nw.col(flag[i]).max())
        elif rule.kind == "first_after":
            per_episode.append(nw.when(first).then(nw.col("start")).alias(f"{flag[i]}_a"))
            per_episode.append(nw.when(second).then(nw.col("start")).alias(f"{flag[i]}_b"))
            aggs.extend([nw.col(f"{flag[i]}_a").min(), nw.col(f"{flag[i]}_b").min()])
        elif rule.kind == "sequential" and rule.first == rule.second:
            per_episode.append(first.cast(nw.Int32).alias(flag[i]))
            aggs.append(nw.col(flag[i]).sum())
        elif rule.kind == "sequential":
            ended = first & ~nw.col("end").is_null()
            per_episode.append(nw.when(ended).then(nw.col("end")).alias(f"{flag[i]}_a"))
            per_episode.append(nw.when(second).then(nw.col("start")).alias(f"{flag[i]}_b"))
            aggs.extend([nw.col(f"{flag[i]}_a").min(), nw.col(f"{flag[i]}_b").max()])
    by_person = eps.with_columns(*per_episode).group_by(_P).agg(*aggs) if aggs else None
    if by_person is None:
        by_person = eps.select(_P).unique()
    if pair_rules:
        firsts = sorted({r.first for _, r in pair_rules})
        seconds = sorted({str(r.second) for _, r in pair_rules})
        a = eps.filter(nw.col("role").is_in(firsts)).select(
            _P,
            nw.col("role").alias("role_a"),
            nw.col("start").alias("start_a"),
            nw.col("end").alias("end_a"),
        )
        b = eps.filter(nw.col("role").is_in(seconds)).select(
            _P,
            nw.col("role").alias("role_b"),
            nw.col("start").alias("start_b"),
            nw.col("end").alias("end_b"),
        )
        # Merged episodes of one person and role differ in (start, end).
        same = (
            (nw.col("role_a") == nw.col("role_b"))
            & (nw.col("start_a") == nw.col("start_b"))
            & (
                (nw.col("end_a") == nw.col("end_b"))
                | (nw.col("end_a").is_null() & nw.col("end_b").is_null())
            ).fill_null(False)
        )
        overlap = (nw.col("end_b").is_null() | (nw.col("start_a") < nw.col("end_b"))) & (
            nw.col("end_a").is_null() | (nw.col("start_b") < nw.col("end_a"))
        )
        pair_flags = []
        for i, r in pair_rules:
            hit = (nw.col("role_a") == r.first) & (nw.col("role_b") == str(r.second)) & overlap
            if r.first == r.second:  # of two roles the episodes differ anyway
                hit = hit & ~same
            pair_flags.append(hit.fill_null(False).cast(nw.Int8).alias(flag[i]))
        pairs = (
            a.join(b, on=_P, how="inner")
            .with_columns(*pair_flags)
            .group_by(_P)
            .agg(*(nw.col(flag[i]).max() for i, _ in pair_rules))
        )
        by_person = by_person.join(pairs, on=_P, how="left")
    label: Any = nw.lit("none")
    for i, rule in reversed(list(enumerate(rules))):
        if rule.kind == "first_after":
            a_min, b_min = nw.col(f"{flag[i]}_a"), nw.col(f"{flag[i]}_b")
            true = (~a_min.is_null() & ~b_min.is_null() & (b_min > a_min)).fill_null(False)
        elif rule.kind == "sequential" and rule.first == rule.second:
            true = nw.col(flag[i]).fill_null(0) >= 2
        elif rule.kind == "sequential":
            end_min, start_max = nw.col(f"{flag[i]}_a"), nw.col(f"{flag[i]}_b")
            true = (~end_min.is_null() & ~start_max.is_null() & (start_max >= end_min)).fill_null(
                False
            )
        else:
            true = nw.col(flag[i]).fill_null(0) == 1
        label = nw.when(true).then(nw.lit(rule.label)).otherwise(label)
    return by_person.select(_P, label.alias("hybrid_type"))


def _segments(eps: nw.LazyFrame[Any], *, by: str = _P) -> nw.LazyFrame[Any]:
    """Per person (column ``by``) and boundary: the roles held from there to the next one.

    A boundary repeated (an end that is another episode's start) is joined twice and
    counted once by the group-by (max): cheaper than a ``unique`` of the boundaries.
    """
    bounds = nw.concat(
        [
            eps.select(by, nw.col("start").alias(_B)),
            eps.filter(~nw.col("end").is_null()).select(by, nw.col("end").alias(_B)),
        ],
        how="vertical",
    )
    at = bounds.join(eps.select(by, "role", "engagement", "start", "end"), on=by, how="inner")
    holds = (nw.col("start") <= nw.col(_B)) & (
        nw.col("end").is_null() | (nw.col(_B) < nw.col("end"))
    )
    flags = []
    for r in ROLES:
        held = holds & (nw.col("role") == r)
        flags.append(held.cast(nw.Int8).alias(_HELD[r]))
        flags.append(nw.when(held).then(nw.col("engagement")).alias(_ENG[r]))
    return (
        at.with_columns(*flags)
        .group_by(by, _B)
        .agg(*(nw.col(_HELD[r]).max() for r in ROLES), *(nw.col(_ENG[r]).max() for r in ROLES))
    )


def _segments_with_end(segments: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """Each segment's end: the person's next boundary (missing for the last one)."""
    return segments.with_columns(nw.col(_B).shift(-1).over(_P, order_by=_B).alias(_END))


# A person with more role segments than this has them bucketed by time on DuckDB
# (_range_join_duckdb): up to it, an answer is compared with at most this many segments
# of its person, about the cost of a bucket's lookup (the normal case: a few each).
_HEAVY_SEGMENTS = 32
_BUCKET = "__hx_bucket"
_LO, _WIDTH, _N_BUCKETS = "__hx_bucket_origin", "__hx_bucket_width", "__hx_buckets"


def _range_join_duckdb(rows: nw.LazyFrame[Any], segments: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """A left range join on DuckDB, on the relations' own connection.

    narwhals' joins are equi-joins only; DuckDB plans this one as a hash join on the
    person, the segment's start and end checked in the probe, so the rows stream
    through it unsorted (an ``ASOF JOIN`` sorts them all). That compares an answer
    with every segment of its person: a person with more than :data:`_HEAVY_SEGMENTS`
    (a gig worker with one episode per gig) has their segments bucketed by time
    instead, in equal-width buckets as many as the segments, and the hash join is on
    the person and the answer's bucket, so that an answer meets the segments of its
    bucket only (:func:`_range_join_sql`). The right side becomes a
    temporary view of the left side's connection and the query runs through
    ``DuckDBPyRelation.query`` (``duckdb.sql`` runs on the default connection, which
    cannot see relations of another one: a scan with ``connection=...``).
    """
    lhs, rhs = rows.to_native(), segments.to_native()
    tag = uuid.uuid4().hex  # names of this call only (the view stays for the query's life)
    view, rows_name = f"__hx_segments_{tag}", f"__hx_rows_{tag}"
    rhs.create_view(view, replace=True)
    keep = [c for c in rhs.columns if c not in (_P, _B, _END)]
    return nw.from_native(lhs.query(rows_name, _range_join_sql(rows_name, view, keep))).lazy()


def _bucket_sql(time: str, widths: str) -> str:
    """SQL: the bucket of ``time`` given a person's row of the widths table ``widths``.

    Any non-decreasing function of the time is exact (a row in ``[start, end)`` falls in
    a bucket between those of ``start`` and ``end``, all of which hold a copy of the
    segment); ``epoch_us`` is one for every timestamp unit (nanoseconds truncated).
    Times before the first boundary fall in bucket 0, after the last in the last one.
    ``epoch_us`` of an infinite timestamp is missing: ``-infinity`` falls in the first
    bucket, ``infinity`` in the last. DuckDB's ``greatest``/``least`` skip missing
    values, so a missing time gets bucket 0, not a missing one: harmless for a row (its
    comparisons are missing: it matches nothing), wrong for a segment's open end, which
    the caller maps to the last bucket.
    """
    last = f'{widths}."{_N_BUCKETS}" - 1'
    step = f'(epoch_us({time}) - {widths}."{_LO}") // {widths}."{_WIDTH}"'
    infinite = f"CASE WHEN {time} > TIMESTAMP 'epoch' THEN {last} ELSE 0 END"
    return f"LEAST(GREATEST(coalesce({step}, {infinite}), 0), {last})"


def _range_join_sql(rows: str, segments: str, keep: list[str]) -> str:
    """The left join of ``rows`` (``person_id``, ``_T``) on the role ``segments``.

    ``widths``: one row per *heavy* person, with more than :data:`_HEAVY_SEGMENTS`
    segments: the first boundary, the number of buckets (the number of segments) and
    their width in microseconds (the span over that number, rounded up: the last
    boundary falls in the last bucket). ``light``: the other persons' segments, joined on
    the person alone (the range join of before the buckets). ``heavy``: a heavy person's
    segments, each once per bucket it overlaps (the last one, open, up to the last
    bucket): fewer than twice the person's segments, since they tile the span.

    Each row is left-joined to both; a light person's row finds its segment in
    ``light``, a heavy one's in ``heavy``, and the columns are taken from the join of
    its kind of person. An answer of a heavy person is compared with the segments
    overlapping its bucket: about two when the person's segments are spread over their
    span, never more than all of the person's (a burst of short segments shares a
    bucket). With nobody heavy (the normal case) the two extra joins have empty build
    sides, which DuckDB skips; the segments are materialised once (three tables read
    them).
    """
    # Over the finite boundaries (epoch_us of an infinite one is missing: skipped).
    lo, hi, n = f'min(epoch_us("{_B}"))', f'max(epoch_us("{_B}"))', "count(*)"
    widths = (
        f'SELECT "{_P}", {lo} AS "{_LO}", {n} AS "{_N_BUCKETS}", '
        f'({hi} - {lo}) // {n} + 1 AS "{_WIDTH}" '
        f'FROM seg GROUP BY "{_P}" HAVING {n} > {_HEAVY_SEGMENTS}'
    )
    light = f'SELECT s.* FROM seg AS s ANTI JOIN widths AS w ON s."{_P}" = w."{_P}"'
    first, last = _bucket_sql(f's."{_B}"', "w"), _bucket_sql(f's."{_END}"', "w")
    last = f'CASE WHEN s."{_END}" IS NULL THEN w."{_N_BUCKETS}" - 1 ELSE {last} END'
    heavy = (
        f'SELECT s.*, UNNEST(range({first}, {last} + 1)) AS "{_BUCKET}" '
        f'FROM seg AS s JOIN widths AS w ON s."{_P}" = w."{_P}"'
    )

    def holds(seg: str) -> str:
        return f'{seg}."{_B}" <= l."{_T}" AND ({seg}."{_END}" IS NULL OR l."{_T}" < {seg}."{_END}")'

    row_bucket = _bucket_sql(f'l."{_T}"', "w")
    picked = ", ".join(
        f'CASE WHEN w."{_P}" IS NULL THEN a."{c}" ELSE b."{c}" END AS "{c}"' for c in keep
    )
    return (
        f'WITH seg AS MATERIALIZED (FROM "{segments}"), widths AS ({widths}), '
        f"light AS ({light}), heavy AS ({heavy}) "
        f"SELECT l.*, {picked}"
        f' FROM "{rows}" AS l LEFT JOIN widths AS w ON l."person_id" = w."{_P}"'
        f' LEFT JOIN light AS a ON l."person_id" = a."{_P}" AND {holds("a")}'
        f' LEFT JOIN heavy AS b ON l."person_id" = b."{_P}"'
        f' AND b."{_BUCKET}" = {row_bucket} AND {holds("b")}'
    )


def _range_join_spark(rows: nw.LazyFrame[Any], segments: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """A left range join (Spark has no as-of join; narwhals' is not implemented there)."""
    lhs, rhs = rows.to_native(), segments.to_native()
    cond = (
        (lhs["person_id"] == rhs[_P])
        & (rhs[_B] <= lhs[_T])
        & (rhs[_END].isNull() | (lhs[_T] < rhs[_END]))
    )
    joined = lhs.join(rhs, on=cond, how="left").drop(_P, _B, _END)
    return nw.from_native(joined).lazy()


def _finish(joined: nw.LazyFrame[Any], columns: list[str], silo: str) -> nw.LazyFrame[Any]:
    has_time = ~nw.col(_T).is_null()
    known = ~nw.col("person_id").is_null()
    held = {r: (nw.col(_HELD[r]).fill_null(0) == 1) & has_time for r in ROLES}
    flagged = joined.with_columns(*(held[r].alias(f"is_{r}") for r in ROLES))
    any_role = nw.any_horizontal(*(nw.col(f"is_{r}") for r in ROLES), ignore_nulls=True)
    status = (
        nw.when(~known)
        .then(nw.lit(STATUSES[1]))
        .otherwise(
            nw.when(~has_time)
            .then(nw.lit(STATUSES[3]))
            .otherwise(nw.when(any_role).then(nw.lit(STATUSES[0])).otherwise(nw.lit(STATUSES[2])))
        )
    )
    position = [_POS] if _POS in joined.collect_schema() else []
    return flagged.select(
        *columns,
        *position,
        "person_id",
        *(f"is_{r}" for r in ROLES),
        *(nw.when(nw.col(f"is_{r}")).then(nw.col(_ENG[r])).alias(f"{r}_engagement") for r in ROLES),
        "hybrid_type",
        status.alias("attribution"),
        _role(silo),
    )


def attribution_counts(frame: Any) -> dict[str, int]:
    """Rows per attribution status (every status, zeros included), in one aggregate.

    Parameters
    ----------
    frame : native frame
        The output of :func:`attribute_lazy` (or of ``StakeholderRegistry.attribute``),
        any engine.

    Returns
    -------
    dict of str to int
        ``{status: n}`` in the order of :data:`~hxmetrics.stakeholders.STATUSES`.

    Examples
    --------
    >>> import polars as pl
    >>> attribution_counts(pl.LazyFrame({"attribution": ["ok", "ok", "unknown_id"]}))
    {'ok': 2, 'unknown_id': 1, 'outside_episodes': 0, 'missing_time': 0, 'other_silo': 0}
    """
    lf = nw.from_native(frame)
    check_columns(lf.collect_schema().names(), ["attribution"], table="attributed")
    column = nw.col("attribution")
    if lf.collect_schema()["attribution"] != nw.String:
        column = column.cast(nw.String)  # a pandas categorical: count its labels
    # One aggregate: a sum per status (indicators first, as the measures do).
    counts = (
        lf.lazy()
        .select(*((column == s).cast(nw.Int64).alias(s) for s in STATUSES))
        .select(nw.col(s).sum() for s in STATUSES)
        .collect()
    )
    return {s: int(counts[s][0] or 0) for s in STATUSES}
