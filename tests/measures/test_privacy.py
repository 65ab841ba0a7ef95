"""Small-group suppression: primary, complementary, and nothing recoverable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hxmetrics.errors import ParameterError
from hxmetrics.measures.nps import nps
from hxmetrics.measures.privacy import WORKER_MIN_N, suppress
from hxmetrics.measures.satisfaction import csat, mean_score


def _result(ns: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": [f"t{i}" for i in range(len(ns))],
            "n": np.array(ns, dtype=np.int64),
            "score": np.arange(len(ns), dtype=float),
            "method": "x",
        }
    )


def test_no_min_n_hides_nothing() -> None:
    out = suppress(_result([1, 2]), min_n=None, by=["team"])
    assert out["suppressed"].tolist() == [False, False]
    assert out["n"].dtype == np.int64


def test_a_single_small_group_takes_its_smallest_sibling_with_it() -> None:
    # Only t0 is small; the total of the partition is showable (run the measure
    # without by), so t0 = total - t1 - t2 unless one more group is hidden: the
    # smallest other one, t2.
    out = suppress(_result([3, 50, 9]), min_n=WORKER_MIN_N, by=["team"])
    assert out["suppressed"].tolist() == [True, False, True]
    assert out.loc[0, ["n", "score"]].isna().all()
    assert out.loc[1, "n"] == 50
    assert out["method"].tolist() == ["x", "x", "x"]  # descriptions stay
    assert str(out["n"].dtype) == "Int64"


def test_two_small_groups_need_no_complement() -> None:
    out = suppress(_result([3, 50, 2, 9]), min_n=5, by=["team"])
    assert out["suppressed"].tolist() == [True, False, True, False]


def test_complementary_suppression_in_two_dimensions_reaches_a_fixed_point() -> None:
    # region x team; each region's total and each team's total can be shown.
    result = pd.DataFrame(
        {
            "region": ["n", "n", "s", "s"],
            "team": ["a", "b", "a", "b"],
            "n": [2, 40, 30, 50],
        }
    )
    out = suppress(result, min_n=5, by=["region", "team"])
    hidden = out["suppressed"].to_numpy()
    # (n, a) is small; region n needs (n, b) hidden, team a needs (s, a) hidden,
    # and then region s and team b each have one hidden cell: (s, b) too.
    assert hidden.tolist() == [True, True, True, True]
    for keys in (["region"], ["team"]):
        for _, part in out.groupby(keys):
            assert part["suppressed"].sum() != 1


def test_suppressed_counts_cannot_be_recovered_from_totals() -> None:
    rng = np.random.default_rng(0)
    teams = ["a"] * 3 + ["b"] * 40 + ["c"] * 12 + ["d"] * 25
    df = pd.DataFrame({"ltr": rng.integers(0, 11, len(teams)).astype(float), "team": teams})
    by_team = nps(df, "ltr", by="team", min_n=5)
    total = nps(df, "ltr", min_n=5)
    visible = by_team.loc[~by_team["suppressed"], "n"].sum()
    hidden = by_team["suppressed"].sum()
    assert hidden >= 2  # a alone would be total - visible
    assert int(total["n"].iloc[0]) - visible == 3 + 12  # only the sum of two is known
    for column in ("n", "promoters", "passives", "detractors", "n_excluded_missing"):
        assert by_team.loc[by_team["suppressed"], column].isna().all()
    for column in ("estimate", "se", "ci_low", "ci_high", "pct_promoters", "n_eff", "deff"):
        assert by_team.loc[by_team["suppressed"], column].isna().all()


def test_every_measure_suppresses() -> None:
    df = pd.DataFrame({"x": [4, 5, 3, 4, 5, 5, 1, 2], "team": list("aaaaabbb")})
    for result in (
        csat(df, "x", scale=(1, 5), box=(4, 5), by="team", min_n=4),
        mean_score(df, "x", by="team", min_n=4),
    ):
        assert result["suppressed"].tolist() == [True, True]  # b small, a its complement
        assert result["n"].isna().all()


def test_min_n_is_checked() -> None:
    for bad in (0, -1, 2.5, True, "5"):
        with pytest.raises(ParameterError, match="min_n"):
            # wrong type on purpose: the runtime check is under test
            suppress(_result([3]), min_n=bad, by=["team"])  # type: ignore[arg-type]
