"""The instrument catalogue check on the engines (issue 13, items 2 and 4).

``check_responses_lazy`` on Polars, DuckDB and Spark must say exactly what
``check_responses`` says on pandas for the same answers: the same error text, the same
first 5 failure cases per check, the same keying warning.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import narwhals.stable.v2 as nw
import pandas as pd
import polars as pl
import pytest

from hxmetrics import tables
from hxmetrics.errors import HxWarning, InputTableError, ParameterError
from hxmetrics.instruments import _checks
from hxmetrics.instruments._banks import load_bank
from hxmetrics.instruments._checks import check_responses, check_responses_lazy, keying_check

from .conftest import simulated_answers

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SPARK_PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"
BANKS = ("core", "zero_distance", "customer_centricity")

Reader = Callable[[Path], Any]


def _polars(path: Path) -> Any:
    return pl.scan_csv(path, infer_schema=False)


def _duckdb(path: Path) -> Any:
    return duckdb.connect().read_csv(str(path), all_varchar=True)


READERS: dict[str, Reader] = {"polars": _polars, "duckdb": _duckdb}


@pytest.fixture
def no_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a Polars frame is converted to pandas (the answers never are)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the engine path converted a Polars frame to pandas")

    monkeypatch.setattr(pl.DataFrame, "to_pandas", refuse)
    monkeypatch.setattr(pl.LazyFrame, "to_pandas", refuse, raising=False)


def _planted(tmp_path: Path) -> Path:
    """The sample answers with bad ones planted among them (and a fully bad block).

    Off scale seven times (more than the 5 examples), a fraction on a whole-number
    scale, two unknown items, a role not asked, and one row failing two checks.
    """
    with (SAMPLES / "responses.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:400]
    col = {name: i for i, name in enumerate(header)}

    def row(silo: str, instrument: str, item: str, score: str, n: int) -> list[str]:
        out = list(body[0])
        out[col["response_id"]] = f"RBAD{n:04d}"
        out[col["silo"]] = silo
        out[col["source_id"]] = f"X-{n:05d}"
        out[col["instrument"]] = instrument
        out[col["item"]] = item
        out[col["score"]] = score
        return out

    bad = {
        3: row("customers", "csat", "overall", "6", 1),
        10: row("customers", "nps", "ltr_v2", "9", 2),
        20: row("customers", "csat", "overall", "3.5", 3),
        30: row("workers", "csat", "overall", "4", 4),
        40: row("workers", "csat", "overall", "6.5", 5),  # off scale and a role not asked
        50: row("partners", "enps", "ltr", "3", 6),
    }
    for k in range(6):
        bad[60 + 7 * k] = row("customers", "csat", "overall", str(7 + k), 10 + k)
    for at in sorted(bad, reverse=True):
        body.insert(at, bad[at])
    path = tmp_path / "responses.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *body])
    return path


def _pandas_error(path: Path) -> tuple[str, pd.DataFrame]:
    answers = tables.validate(tables.read_table(path), table="responses")
    with pytest.raises(InputTableError) as info:
        check_responses(answers, load_bank(*BANKS))
    cases = info.value.failure_cases
    # The engine path fetches the first 5 rows of each check, in row order.
    first = cases.groupby("check", sort=False).head(5).reset_index(drop=True)
    return str(info.value), first


def _engine_error(native: Any) -> tuple[str, pd.DataFrame]:
    with pytest.raises(InputTableError) as info:
        check_responses_lazy(native, load_bank(*BANKS))
    return str(info.value), info.value.failure_cases


def _assert_same_error(got: tuple[str, pd.DataFrame], want: tuple[str, pd.DataFrame]) -> None:
    assert got[0] == want[0]
    pd.testing.assert_frame_equal(got[1], want[1])


def _warning_texts(run: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [str(w.message) for w in caught if issubclass(w.category, HxWarning)]


def _keying_on_engine(native: Any, engine: str, cat: Any) -> pd.DataFrame:
    """The keying table the engine path computes (the warning is made from it)."""
    lf = nw.from_native(native).lazy()
    ref = _checks._catalogue_on(cat, engine, native)
    joined = _checks._joined(lf, ref, "silo")
    return _checks._keying_lazy(joined, cat, min_n=30, confidence=0.95)


def _wrong_way() -> pd.DataFrame:
    cat = load_bank("zero_distance")
    wrong = simulated_answers(cat, "zero_distance", {"worker": 150}, wrong_way=("zd_fv4",))
    wrong["silo"] = "workers"
    return wrong


def _clean() -> pd.DataFrame:
    cat = load_bank("zero_distance")
    return simulated_answers(cat, "zero_distance", {"worker": 150, "customer": 100}, seed=4)


# -- Polars and DuckDB ----------------------------------------------------------------


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_the_sample_passes_on_the_engine_as_on_pandas(engine: str, no_pandas: None) -> None:
    path = SAMPLES / "responses.csv"
    banks = load_bank(*BANKS)
    # Why: warnings as errors: the sample must pass clean, with no keying warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_responses(tables.validate(tables.read_table(path), table="responses"), banks)
        checked = tables.validate_lazy(READERS[engine](path), table="responses")
        assert check_responses_lazy(checked, banks) is None
    # The keying table behind the (absent) warning: the same numbers, to the bit.
    want = keying_check(tables.validate(tables.read_table(path), table="responses"), banks)
    got = _keying_on_engine(checked, engine, banks)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # The core bank alone does not know the banks' items: the same error as pandas.
    with pytest.raises(InputTableError) as on_pandas:
        # fmt: skip below keeps the call on two readable lines (the formatter would split it).
        check_responses(tables.validate(tables.read_table(path), table="responses"),
                        load_bank("core"))  # fmt: skip
    with pytest.raises(InputTableError) as on_engine:
        check_responses_lazy(checked, load_bank("core"))
    assert str(on_engine.value) == str(on_pandas.value)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_planted_bad_answers_give_the_pandas_error(
    engine: str, tmp_path: Path, no_pandas: None
) -> None:
    path = _planted(tmp_path)
    want = _pandas_error(path)
    # the planted rows are all found, by check, and one row fails two checks
    assert "failed 4 check(s)" in want[0]
    assert "on 12 row(s)" in want[0]
    assert (
        "check score_in_item_scale (the answer is outside its item's scale): 8 row(s)" in (want[0])
    )
    assert list(want[1]["check"].value_counts().sort_index().items()) == [
        ("item_in_catalogue", 2),
        ("role_asked", 2),
        ("score_in_item_scale", 5),
        ("score_integer", 1),
    ]
    checked = tables.validate_lazy(READERS[engine](path), table="responses")
    _assert_same_error(_engine_error(checked), want)
    for secret in ("RBAD", "X-0"):  # rows by position, never by an id
        assert secret not in want[0]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_role_that_is_no_role_gives_the_pandas_error(engine: str) -> None:
    answers = pd.DataFrame(
        {
            "response_id": ["a", "b", "c"],
            "role": ["customer", " boss ", "worker"],
            "instrument": "nps",
            "item": "ltr",
            "score": [9.0, 8.0, 7.0],
        }
    )
    with pytest.raises(InputTableError) as want:
        check_responses(answers, load_bank("core"))
    native = pl.from_pandas(answers).lazy() if engine == "polars" else duckdb.from_df(answers)
    with pytest.raises(InputTableError) as got:
        check_responses_lazy(native, load_bank("core"))
    assert str(got.value) == str(want.value)
    pd.testing.assert_frame_equal(got.value.failure_cases, want.value.failure_cases)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_the_keying_warning_is_the_pandas_warning(engine: str, no_pandas: None) -> None:
    cat = load_bank("zero_distance")
    for answers, flagged in ((_wrong_way(), 1), (_clean(), 0)):
        native = pl.from_pandas(answers).lazy() if engine == "polars" else duckdb.from_df(answers)
        want = _warning_texts(lambda a=answers: check_responses(a, cat))
        got = _warning_texts(lambda n=native: check_responses_lazy(n, cat))
        assert len(want) == flagged
        assert all("zero_distance/zd_fv4 (r = -0." in w for w in want)
        assert got == want
        pd.testing.assert_frame_equal(
            _keying_on_engine(native, engine, cat), keying_check(answers, cat), check_exact=True
        )


def test_the_keying_warning_names_the_wrong_item_on_polars() -> None:
    cat = load_bank("zero_distance")
    with pytest.warns(HxWarning, match=r"zero_distance/zd_fv4 \(r = -0\.\d+, reverse_keyed=True\)"):
        check_responses_lazy(pl.from_pandas(_wrong_way()).lazy(), cat)


def test_a_text_score_and_a_foreign_frame_are_refused() -> None:
    text = pl.LazyFrame({"instrument": ["nps"], "item": ["ltr"], "score": ["9"]})
    with pytest.raises(ParameterError, match="validate_lazy"):
        check_responses_lazy(text, load_bank("core"))
    with pytest.raises(ParameterError, match="expected a pandas DataFrame"):
        check_responses_lazy([1, 2], load_bank("core"))


def test_pandas_goes_to_check_responses() -> None:
    # fmt: skip: one answer row, kept on two lines rather than one key per line.
    answers = pd.DataFrame(
        {"response_id": ["a"], "silo": "customers", "instrument": "csat", "item": "overall",
         "score": [6.0]}
    )  # fmt: skip
    with pytest.raises(InputTableError) as want:
        check_responses(answers, load_bank("core"))
    with pytest.raises(InputTableError) as got:
        check_responses_lazy(answers, load_bank("core"))
    assert str(got.value) == str(want.value)


# -- Spark: one test function, the JVM is shared ---------------------------------------


@pytest.mark.spark
# pyspark warns on import that it does not support pandas 3; only pyspark.sql is used.
@pytest.mark.filterwarnings(SPARK_PANDAS_WARNING)
def test_spark_checks_like_pandas(spark: Any, tmp_path: Path) -> None:
    def read(path: Path) -> Any:
        return spark.read.csv(str(path), header=True)

    banks = load_bank(*BANKS)
    path = SAMPLES / "responses.csv"
    checked = tables.validate_lazy(read(path), table="responses")
    # Why: warnings as errors (HxWarning only: Spark's own FutureWarning is filtered).
    with warnings.catch_warnings():
        warnings.simplefilter("error", HxWarning)
        assert check_responses_lazy(checked, banks) is None
    want_keying = keying_check(tables.validate(tables.read_table(path), table="responses"), banks)
    pd.testing.assert_frame_equal(
        _keying_on_engine(checked, "spark", banks), want_keying, check_exact=True
    )
    bad = _planted(tmp_path)
    checked_bad = tables.validate_lazy(read(bad), table="responses")
    _assert_same_error(_engine_error(checked_bad), _pandas_error(bad))
    cat = load_bank("zero_distance")
    answers = _wrong_way()
    want = _warning_texts(lambda: check_responses(answers, cat))
    got = _warning_texts(lambda: check_responses_lazy(spark.createDataFrame(answers), cat))
    assert len(want) == 1
    assert got == want


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_answers_without_their_response_give_the_pandas_error(engine: str) -> None:
    cat = load_bank("zero_distance")
    answers = _clean().astype({"response_id": object})
    answers.loc[[7, 300, 301, 2000], "response_id"] = None  # 2000: a later subscale
    with pytest.raises(InputTableError) as want:
        check_responses(answers, cat)
    native = pl.from_pandas(answers).lazy() if engine == "polars" else duckdb.from_df(answers)
    with pytest.raises(InputTableError) as got:
        check_responses_lazy(native, cat)
    assert "empty at 3 answer row(s)" in str(want.value)
    assert str(got.value) == str(want.value)
    pd.testing.assert_frame_equal(got.value.failure_cases, want.value.failure_cases)
    # without the column, keying_check's own message
    with pytest.raises(InputTableError) as want:
        check_responses(answers.drop(columns="response_id"), cat)
    with pytest.raises(InputTableError) as got:
        check_responses_lazy(pl.from_pandas(answers.drop(columns="response_id")).lazy(), cat)
    assert str(got.value) == str(want.value)
