"""The committed sample in data/samples/ is exactly what the generator makes now."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hxmetrics.datasets import (
    SAMPLE_SETTINGS,
    Organisation,
    load_sample,
    read_organisation,
    simulate_organisation,
    write_organisation,
)
from hxmetrics.datasets._sample import _frames
from hxmetrics.errors import HxError
from hxmetrics.tables import validate

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
HINT = "regenerate with `python scripts/make_sample.py` and commit data/samples/"


@pytest.fixture(scope="module")
def sample_org() -> Organisation:
    return simulate_organisation(**SAMPLE_SETTINGS)


def test_committed_files_equal_the_generator(sample_org: Organisation, tmp_path: Path) -> None:
    written = write_organisation(sample_org, tmp_path)
    fresh = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    committed = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file())
    assert fresh == committed, HINT
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (SAMPLES / rel).read_bytes(), f"{rel}: {HINT}"
    total = sum((SAMPLES / rel).stat().st_size for rel in committed)
    assert total < 5_000_000


def test_load_sample_round_trips_exactly(sample_org: Organisation) -> None:
    loaded = load_sample()
    a, b = _frames(loaded), _frames(sample_org)
    assert list(a) == list(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    assert loaded.truth.experience.params == sample_org.truth.experience.params
    assert loaded.truth.clv.params == sample_org.truth.clv.params
    assert loaded.settings == sample_org.settings
    assert loaded.start == sample_org.start
    assert loaded.end == sample_org.end
    for name, df in loaded.tables.items():
        pd.testing.assert_frame_equal(validate(df, table=name), df)


def test_write_read_other_directory(tmp_path: Path) -> None:
    org = simulate_organisation(60, random_state=4, key_noise=0.3)
    write_organisation(org, tmp_path / "x")
    back = read_organisation(tmp_path / "x")
    for name, df in _frames(org).items():
        pd.testing.assert_frame_equal(_frames(back)[name], df, check_exact=True, obj=name)


def test_missing_directory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(HxError, match="make_sample"):
        load_sample(tmp_path)
