"""Probabilistic identity resolution on DuckDB and Spark (issue 13 item 3, issue 12 item 5).

Done when (the simulator's noisy rosters without email or phone,
``simulate_identity_rosters(2000, random_state=0)``, one saved model):

* ``resolve_probabilistic_lazy`` on DuckDB relations and on Spark DataFrames gives the
  pandas path's crosswalk (same partition, person ids, ``matched_on``,
  ``match_probability``, ``matched_fields``), conflict report, review pairs and counts;
* a model fitted on the engine (``model=None``) links the simulator's persons with the
  pandas path's quality (pairwise precision >= 0.995, recall >= 0.97, as
  tests/stakeholders/test_probabilistic.py asks of the pandas fit);
* Polars and pandas rosters get an error naming the engines that can; bad input gets
  named errors without a personal value;
* no roster is converted to pandas on the way (the conversions are patched to fail).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.stakeholders.evaluation import resolution_scores
from hxmetrics.stakeholders.resolution import resolve_identities

# Why: splink is an optional extra ([linkage]); CI installs it with the test extras.
pytest.importorskip(
    "splink", reason="splink is the [linkage] extra, in the test extras: CI installs it"
)
from hxmetrics.datasets import _identity as identity
from hxmetrics.stakeholders._engine_linkage import resolve_probabilistic_lazy
from hxmetrics.stakeholders.probabilistic import LinkageModel

SECRET = "0f3c9a7be2d54c18a6f0b9e3d7c21a45"
KEY = ["silo", "source_id"]
SPARK_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"


@pytest.fixture(scope="module")
def sim():
    return identity.simulate_identity_rosters(2000, random_state=0)


@pytest.fixture(scope="module")
def model(sim):
    return LinkageModel(max_pairs=5e5).fit(sim.rosters, random_state=1)


@pytest.fixture(scope="module")
def reference(sim, model):
    return resolve_identities(sim.rosters, method="probabilistic", model=model, secret=SECRET)


def _duckdb(rosters, con=None):
    con = con or duckdb.connect()
    out = {}
    for silo, df in rosters.items():
        con.register(f"src_{silo}", df)
        # A table of the connection (as a job's scan gives), not a view of pandas.
        con.execute(f"CREATE TABLE {silo} AS SELECT * FROM src_{silo}")
        con.unregister(f"src_{silo}")
        out[silo] = con.table(silo)
    return out, con


def _spark(spark, rosters):
    import pyarrow as pa

    # Through Arrow: pyspark's createDataFrame(pandas) warns under pandas 3.
    return {silo: spark.createDataFrame(pa.Table.from_pandas(df)) for silo, df in rosters.items()}


def _frame(native) -> pd.DataFrame:
    """A small result table (crosswalk, review) as pandas, to compare."""
    if isinstance(native, duckdb.DuckDBPyRelation):
        return native.arrow().read_all().to_pandas()
    return native.toArrow().to_pandas()


def _assert_same(reference, out) -> None:
    ref = reference.crosswalk.sort_values(KEY, ignore_index=True)
    got = _frame(out.crosswalk).sort_values(KEY, ignore_index=True)
    assert list(got.columns) == list(ref.columns)
    for c in ("silo", "source_id", "person_id", "matched_on", "matched_fields"):
        assert got[c].astype(str).tolist() == ref[c].astype(str).tolist(), c
    # Probabilities: the same model's SQL on the same values; Spark's exp/log may differ
    # in the last bits from DuckDB's (so a tolerance of 1e-12, far below any threshold).
    np.testing.assert_allclose(
        got["match_probability"].to_numpy(dtype=float, na_value=np.nan),
        ref["match_probability"].to_numpy(dtype=float, na_value=np.nan),
        rtol=0,
        atol=1e-12,
    )
    pd.testing.assert_frame_equal(out.conflicts, reference.conflicts)
    attrs = reference.crosswalk.attrs["hxmetrics"]
    assert dict(out.attrs) == attrs
    review_key = ["silo_l", "source_id_l", "silo_r", "source_id_r"]
    ref_review = reference.review.copy()
    # A pair's two records come in splink's order of its unique ids (positions on the
    # pandas path, hashes here): compare each pair with its records sorted.
    for frame in (ref_review,):
        _sort_sides(frame)
    got_review = _frame(out.review)
    _sort_sides(got_review)
    ref_review = ref_review.sort_values(review_key, ignore_index=True)
    got_review = got_review.sort_values(review_key, ignore_index=True)
    assert list(got_review.columns) == list(ref_review.columns)
    for c in ref_review.columns:
        if c in ("match_probability", "match_weight"):
            # The same SQL on another engine: exp/log may differ in the last bits; match
            # weights are log2 Bayes factors of order 10 (last bits ~1e-15): 1e-9 is loose
            # for rounding but far below any decision (thresholds differ by 1e-2 or more).
            np.testing.assert_allclose(got_review[c], ref_review[c], rtol=0, atol=1e-9)
        else:
            assert got_review[c].astype(str).tolist() == ref_review[c].astype(str).tolist(), c


def _sort_sides(frame: pd.DataFrame) -> None:
    left = list(zip(frame["silo_l"], frame["source_id_l"], strict=True))
    right = list(zip(frame["silo_r"], frame["source_id_r"], strict=True))
    swap = np.array([lt > rt for lt, rt in zip(left, right, strict=True)], dtype=bool)
    for a, b in (("silo_l", "silo_r"), ("source_id_l", "source_id_r")):
        la, lb = frame[a].to_numpy(dtype=object).copy(), frame[b].to_numpy(dtype=object).copy()
        frame[a] = np.where(swap, lb, la)
        frame[b] = np.where(swap, la, lb)


@pytest.fixture
def small_pandas_only(monkeypatch):
    """Fail if a table of more than 100 rows is read into pandas (splink reads its
    own small aggregates, the EM's level counts and parameters, through pandas)."""
    original = duckdb.DuckDBPyRelation.df

    def small(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if len(out) > 100:
            raise AssertionError(f"a table of {len(out)} rows was converted to pandas")
        return out

    monkeypatch.setattr(duckdb.DuckDBPyRelation, "df", small)
    yield
    monkeypatch.undo()


@pytest.fixture
def no_pandas(monkeypatch):
    """Fail if a roster relation is read whole into pandas on the way."""

    def refuse(*_, **__):
        raise AssertionError("an engine table was converted to pandas")

    monkeypatch.setattr(duckdb.DuckDBPyRelation, "df", refuse)
    monkeypatch.setattr(duckdb.DuckDBPyRelation, "to_df", refuse)
    monkeypatch.setattr(duckdb.DuckDBPyRelation, "fetchdf", refuse)
    yield
    monkeypatch.undo()


# ----------------------------------------------------------------------- the same result


def test_duckdb_gives_the_pandas_result(sim, model, reference, no_pandas):
    rels, _ = _duckdb(sim.rosters)
    out = resolve_probabilistic_lazy(rels, model=model, secret=SECRET)
    assert out.engine == "duckdb"
    assert isinstance(out.crosswalk, duckdb.DuckDBPyRelation)
    _assert_same(reference, out)


def test_duckdb_episodes_are_the_registry_episodes(sim, model, reference):
    from hxmetrics.stakeholders.episodes import role_episodes

    rels, _ = _duckdb(sim.rosters)
    out = resolve_probabilistic_lazy(rels, model=model, secret=SECRET)
    want = role_episodes(sim.rosters, reference.crosswalk)
    order = ["person_id", "role", "start", "silo", "source_id"]
    got = _frame(out.episodes).sort_values(order, ignore_index=True)
    want = want.sort_values(order, ignore_index=True)
    assert len(got) == len(want)
    for c in ("person_id", "role", "engagement", "silo", "source_id", "n_records"):
        assert got[c].astype(str).tolist() == want[c].astype(str).tolist(), c


@pytest.mark.spark
@pytest.mark.filterwarnings(SPARK_WARNING)  # pyspark 4.3's own pandas-version warning
def test_spark_gives_the_pandas_result(spark, sim, model, reference):
    out = resolve_probabilistic_lazy(_spark(spark, sim.rosters), model=model, secret=SECRET)
    assert out.engine == "spark"
    _assert_same(reference, out)


def test_model_fitted_on_duckdb_links_as_well_as_the_pandas_fit(sim, small_pandas_only):
    rels, _ = _duckdb(sim.rosters)
    out = resolve_probabilistic_lazy(
        rels, model=LinkageModel(max_pairs=5e5), random_state=1, secret=SECRET
    )
    fitted = out.model
    assert fitted is not None
    assert fitted.dialect_ == "duckdb"
    n = sum(df.iloc[:, 0].nunique() for df in sim.rosters.values())
    assert fitted.n_records_ == n
    assert fitted.n_fitted_records_ == n  # fewer records than max_records: no sample
    scores = resolution_scores(_frame(out.crosswalk), sim.truth).iloc[0]
    # The pandas fit's bar (tests/stakeholders/test_probabilistic.py, "done when").
    assert scores["precision"] >= 0.995
    assert scores["recall"] >= 0.97
    # The model saved from the engine scores the pandas rosters the same way.
    again = resolve_identities(
        sim.rosters, method="probabilistic", model=fitted.to_dict(), secret=SECRET
    )
    _assert_same(again, out)


def test_fit_on_a_sample_of_max_records(sim):
    rels, _ = _duckdb(sim.rosters)
    linkage = LinkageModel(max_records=1000, max_pairs=5e5)
    out = resolve_probabilistic_lazy(rels, model=linkage, random_state=3, secret=SECRET)
    assert out.model is linkage
    assert linkage.n_fitted_records_ == 1000
    assert linkage.n_records_ == sum(df.iloc[:, 0].nunique() for df in sim.rosters.values())
    assert "random sample of 1,000" in linkage.notes_[0]
    scores = resolution_scores(_frame(out.crosswalk), sim.truth).iloc[0]
    # A model of 40% of the records: the bar of test_probabilistic.py's sample test.
    assert scores["precision"] >= 0.99
    assert scores["recall"] >= 0.95


# ------------------------------------------------------------------------------ errors


def test_polars_and_pandas_rosters_name_the_engines(sim, model):
    pl = pytest.importorskip("polars", reason="polars is a test extra")
    lazy = {s: pl.from_pandas(df).lazy() for s, df in sim.rosters.items()}
    with pytest.raises(ParameterError, match=r"duckdb or spark; the rosters are polars"):
        resolve_probabilistic_lazy(lazy, model=model)
    with pytest.raises(ParameterError, match=r"resolve_identities"):
        resolve_probabilistic_lazy(sim.rosters, model=model)


def test_a_date_of_birth_that_does_not_parse_is_named_and_masked(sim, model):
    rosters = {s: df.copy() for s, df in sim.rosters.items()}
    workers = rosters["workers"]
    workers["date_of_birth"] = workers["date_of_birth"].dt.strftime("%Y-%m-%d")
    workers.loc[workers.index[3], "date_of_birth"] = "31/31/1999"
    rels, _ = _duckdb(rosters)
    with pytest.raises(InputTableError) as err:
        resolve_probabilistic_lazy(rels, model=model, secret=SECRET)
    assert err.value.table == "workers"
    message = str(err.value)
    assert "column 'date_of_birth'" in message
    assert "1 distinct value(s) fail date" in message
    assert "31/31/1999" not in message
    assert "31/31/1999" not in err.value.failure_cases.to_string()


def test_dates_as_text_give_the_same_result(sim, model, reference):
    rosters = {
        s: df.assign(date_of_birth=df["date_of_birth"].dt.strftime("%Y-%m-%d"))
        for s, df in sim.rosters.items()
    }
    rels, _ = _duckdb(rosters)
    out = resolve_probabilistic_lazy(rels, model=model, secret=SECRET)
    _assert_same(reference, out)


def test_a_compared_column_in_no_roster(sim, model):
    rosters = {s: df.drop(columns="postcode") for s, df in sim.rosters.items()}
    rels, _ = _duckdb(rosters)
    with pytest.raises(InputTableError, match=r"model compares column\(s\) \['postcode'\]"):
        resolve_probabilistic_lazy(rels, model=model, secret=SECRET)


def test_a_name_column_that_is_not_text(sim, model):
    rosters = {s: df.copy() for s, df in sim.rosters.items()}
    rosters["customers"]["given_name"] = np.arange(len(rosters["customers"]))
    rels, _ = _duckdb(rosters)
    with pytest.raises(InputTableError, match=r"'customers', column 'given_name' is"):
        resolve_probabilistic_lazy(rels, model=model, secret=SECRET)


def test_settings_and_model_together(sim, model):
    rels, _ = _duckdb(sim.rosters)
    with pytest.raises(ParameterError, match="not both"):
        resolve_probabilistic_lazy(rels, model=model, settings={"comparisons": []})


def test_relations_on_two_connections(sim, model):
    first, _ = _duckdb({"customers": sim.rosters["customers"]})
    second, _ = _duckdb({"workers": sim.rosters["workers"]})
    with pytest.raises(ParameterError, match="several DuckDB connections"):
        resolve_probabilistic_lazy({**first, **second}, model=model)


def test_splink_tables_are_dropped(sim, model):
    rels, con = _duckdb(sim.rosters)
    before = set(con.execute("SELECT table_name FROM duckdb_tables()").fetchall())
    out = resolve_probabilistic_lazy(rels, model=model, secret=SECRET)
    after = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not any(t.startswith("__splink") for t in after)
    # What stays: the rosters and the results' own tables (crosswalk, review).
    assert len(after - {t for (t,) in before}) <= 3
    del out


def test_the_engine_linkage_feeds_attribution(sim, model):
    """Rosters linked on DuckDB, then attributed on DuckDB: the registry's attribution."""
    from hxmetrics.stakeholders._engine_attribution import attribute_lazy
    from hxmetrics.stakeholders.registry import StakeholderRegistry

    registry = StakeholderRegistry.from_rosters(
        **sim.rosters, secret=SECRET, method="probabilistic", model=model
    )
    # One event per roster record, at its first episode's start and a day before it.
    events = pd.concat(
        [
            pd.DataFrame(
                {"silo": silo, "source_id": df.iloc[:, 0].astype(str), "timestamp": df["start"]}
            )
            for silo, df in sim.rosters.items()
        ],
        ignore_index=True,
    )
    events = pd.concat(
        [events, events.assign(timestamp=events["timestamp"] - pd.Timedelta(days=1))],
        ignore_index=True,
    )
    events["row"] = np.arange(len(events), dtype=np.int64)
    want = registry.attribute(events, time="timestamp").sort_values("row", ignore_index=True)
    rels, con = _duckdb(sim.rosters)
    resolution = resolve_probabilistic_lazy(rels, model=model, secret=SECRET)
    con.register("events_src", events)
    con.execute("CREATE TABLE events AS SELECT * FROM events_src")
    got = _frame(attribute_lazy(con.table("events"), resolution, time="timestamp"))
    got = got.sort_values("row", ignore_index=True)
    assert list(got.columns) == list(want.columns)
    for c in want.columns:
        if c == "timestamp":
            continue
        assert got[c].astype(str).tolist() == want[c].astype(str).tolist(), c
    assert set(want["attribution"].astype(str)) >= {"ok", "outside_episodes"}
