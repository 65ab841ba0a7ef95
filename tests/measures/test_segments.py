"""compare_groups: which segments differ, with Holm or Benjamini-Hochberg."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hxmetrics.errors import ParameterError
from hxmetrics.measures.nps import nps, nps_test
from hxmetrics.measures.satisfaction import csat, mean_score
from hxmetrics.measures.segments import compare_groups

SLEEP = pd.DataFrame(
    {
        "group": ["1"] * 10 + ["2"] * 10,
        "extra": [
            *(0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0),
            *(1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4),
        ],
    }
)


def test_means_are_compared_with_welch_t_as_in_r() -> None:
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939.
    c = compare_groups(mean_score(SLEEP, "extra", by="group"))
    row = c.iloc[0]
    assert (row["group"], row["group_other"]) == ("1", "2")
    assert row["statistic"] == pytest.approx(-1.8608, abs=5e-5)
    assert row["df"] == pytest.approx(17.776, abs=5e-4)
    assert row["p_value"] == pytest.approx(0.07939, abs=5e-6)
    assert row["difference"] == pytest.approx(0.75 - 2.33)
    ref = stats.ttest_ind(SLEEP["extra"][:10], SLEEP["extra"][10:], equal_var=False)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert not row["differs"]


def test_nps_comparison_is_the_two_sample_z_test() -> None:
    a = [10] * 20 + [7] * 10 + [0] * 10
    b = [9] * 15 + [8] * 15 + [6] * 20
    df = pd.DataFrame({"ltr": a + b, "seg": ["a"] * 40 + ["b"] * 50})
    c = compare_groups(nps(df, "ltr", by="seg", method="wald")).iloc[0]
    t = nps_test(a, b, method="wald").iloc[0]
    assert c["difference"] == pytest.approx(t["difference"])
    assert c["p_value"] == pytest.approx(t["p_value"])


def test_holm_and_bh_flag_different_segments() -> None:
    rng = np.random.default_rng(4)
    rates = {"s0": 0.30, "s1": 0.31, "s2": 0.30, "s3": 0.60, "s4": 0.62}
    rows = [(s, int(rng.random() < r)) for s, r in rates.items() for _ in range(400)]
    df = pd.DataFrame(rows, columns=["seg", "hit"]).assign(x=lambda d: 4 * d["hit"] + 1)
    result = csat(df, "x", scale=(1, 5), box=(5,), by="seg")
    holm = compare_groups(result, correction="holm")
    bh = compare_groups(result, correction="bh")
    assert len(holm) == 10  # all pairs of 5 groups
    high = {"s3", "s4"}
    expected = [
        (a in high) != (b in high) for a, b in zip(holm["seg"], holm["seg_other"], strict=True)
    ]
    assert holm["differs"].tolist() == expected
    assert (bh["p_adjusted"] <= holm["p_adjusted"] + 1e-15).all()
    assert (holm["p_adjusted"] >= holm["p_value"]).all()
    none = compare_groups(result, correction="none")
    np.testing.assert_array_equal(none["p_adjusted"], none["p_value"])


def test_reference_group_and_suppressed_groups() -> None:
    df = pd.DataFrame(
        {
            "x": [5, 4, 1, 2] * 20 + [5, 5, 4, 3] * 20 + [1, 2],
            "seg": ["a"] * 80 + ["b"] * 80 + ["c"] * 2,
        }
    )
    result = csat(df, "x", scale=(1, 5), box=(4, 5), by="seg", min_n=5)
    # c (2 answers) is suppressed, and with it its smallest sibling (a, tied with b):
    # one visible group is left, so there is nothing to compare.
    assert result.loc[~result["suppressed"], "seg"].tolist() == ["b"]
    assert compare_groups(result).empty
    full = csat(df, "x", scale=(1, 5), box=(4, 5), by="seg")
    vs_a = compare_groups(full, reference="a")
    assert vs_a["seg"].tolist() == ["b", "c"]
    assert (vs_a["seg_other"] == "a").all()
    with pytest.raises(ParameterError, match="not in the result"):
        compare_groups(full, reference="z")


def test_compare_groups_needs_a_grouped_measure_result() -> None:
    with pytest.raises(ParameterError, match="needs the result"):
        compare_groups(pd.DataFrame({"nps": [1.0], "se": [1.0]}))
    with pytest.raises(ParameterError, match="grouped"):
        compare_groups(mean_score(SLEEP, "extra"))
    with pytest.raises(ParameterError, match="correction"):
        compare_groups(mean_score(SLEEP, "extra", by="group"), correction="bonferroni")


def test_two_group_columns_are_labelled_on_both_sides() -> None:
    rng = np.random.default_rng(6)
    df = pd.DataFrame(
        {
            "ltr": rng.integers(0, 11, 400).astype(float),
            "silo": rng.choice(["customers", "workers"], 400),
            "region": rng.choice(["n", "s"], 400),
        }
    )
    result = nps(df, "ltr", by=["silo", "region"])
    c = compare_groups(result, reference=("customers", "n"), correction="bh")
    assert len(c) == 3
    assert (c["silo_other"] == "customers").all()
    assert (c["region_other"] == "n").all()
    assert set(zip(c["silo"], c["region"], strict=True)) == {
        ("customers", "s"),
        ("workers", "n"),
        ("workers", "s"),
    }
    assert compare_groups(result, reference={"silo": "workers", "region": "s"}).shape[0] == 3


def test_compare_groups_takes_any_protocol_result() -> None:
    # Found (issue 11): compare_groups(hx_index(...)) raised (flat attrs). Any result
    # built by the one builder is compared, whatever its measure.
    from hxmetrics.measures._result import grouped_result

    keys = pd.DataFrame({"team": ["a", "b", "c", "d"]})
    index_like = grouped_result(
        keys,
        measure="hx_index",
        n=[40, 50, 60, 3],
        estimate=[60.0, 70.0, 80.0, 10.0],
        se=[2.0, 2.5, 3.0, 9.0],
        ci_low=[56.0, 65.0, 74.0, 0.0],
        ci_high=[64.0, 75.0, 86.0, 28.0],
        confidence=0.95,
        method="bootstrap",
        min_n=5,
    )
    # d is below min_n, a (the smallest sibling) hides it from the total: b and c stay.
    assert index_like["suppressed"].tolist() == [True, False, False, True]
    c = compare_groups(index_like)
    assert (c["team"].tolist(), c["team_other"].tolist()) == (["b"], ["c"])
    se = np.sqrt(2.5**2 + 3.0**2)
    assert c["difference"].iloc[0] == pytest.approx(-10.0)
    assert c["p_value"].iloc[0] == pytest.approx(2 * stats.norm.sf(10.0 / se))
    assert c.attrs["hxmetrics"]["measure"] == "hx_index"
    # A package measure with hidden groups: Int64 n holds <NA>, the rest is compared.
    df = pd.DataFrame(
        {
            "ltr": [10, 9, 9, 3, 2, 8, 10, 0, 9, 9, 7, 10, 9, 9, 1, 5],
            "seg": list("aaaabbbbbccddddd"),
        }
    )
    r = nps(df, "ltr", by="seg", min_n=3)
    assert str(r["n"].dtype) == "Int64"
    assert r["suppressed"].tolist() == [True, False, True, False]
    c = compare_groups(r)
    assert (c["seg"].tolist(), c["seg_other"].tolist()) == (["b"], ["d"])


def test_confidence_is_the_threshold_and_alpha_is_deprecated() -> None:
    # Found (issue 11): confidence was confidence, level, alpha or significance.
    result = nps(
        pd.DataFrame(
            {"ltr": [10] * 30 + [0] * 10 + [10] * 18 + [0] * 22, "g": ["a"] * 40 + ["b"] * 40}
        ),
        "ltr",
        by="g",
    )
    default = compare_groups(result)
    assert default.attrs["hxmetrics"]["confidence"] == 0.95
    p = float(default["p_adjusted"].iloc[0])
    assert 0.001 < p < 0.05
    assert bool(default["differs"].iloc[0])
    assert not bool(compare_groups(result, confidence=0.999)["differs"].iloc[0])
    with pytest.warns(DeprecationWarning, match="'alpha' is deprecated, use 'confidence'"):
        old = compare_groups(result, alpha=0.05)
    pd.testing.assert_frame_equal(old, default)
    with pytest.raises(ParameterError, match="pass 'confidence' only"):
        compare_groups(result, alpha=0.05, confidence=0.9)
    with pytest.raises(ParameterError, match="unexpected argument"):
        compare_groups(result, significance=0.05)
