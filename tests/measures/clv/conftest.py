"""Fixtures: the published reference datasets (see data/README.md for provenance)."""

from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW sample, 2,357 customers, 39-week calibration, weeks (FHL 2005)."""
    frame = pd.read_csv(DATA / "cdnow_summary.csv").rename(
        columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )
    frame.attrs["hx_unit"] = "W"
    return frame


@pytest.fixture(scope="session")
def donations() -> pd.DataFrame:
    """1995 donor cohort, 11,104 donors, 6 yearly opportunities (FHS 2010)."""
    return pd.read_csv(DATA / "donations.csv").rename(columns={"periods": "n_periods"})
