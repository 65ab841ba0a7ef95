"""pooled_vs_stratified: the Simpson's-paradox check, on Berkeley's admissions and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from hxmetrics.compare import pooled_vs_stratified
from hxmetrics.errors import InputTableError, ParameterError

# UCBAdmissions (R datasets; Bickel, Hammel & O'Connell 1975, Science 187): admitted and
# rejected applicants by department and sex, the six largest departments of 1973.
UCB = {
    # dept: (male admitted, male rejected, female admitted, female rejected)
    "A": (512, 313, 89, 19),
    "B": (353, 207, 17, 8),
    "C": (120, 205, 202, 391),
    "D": (138, 279, 131, 244),
    "E": (53, 138, 94, 299),
    "F": (22, 351, 24, 317),
}


def _ucb() -> pd.DataFrame:
    parts = []
    for dept, (ma, mr, fa, fr) in UCB.items():
        for sex, adm, rej in (("male", ma, mr), ("female", fa, fr)):
            rows = {"dept": dept, "sex": sex, "admitted": [1] * adm + [0] * rej}
            parts.append(pd.DataFrame(rows))
    return pd.concat(parts, ignore_index=True)


def test_berkeley_admissions_reverse_within_departments() -> None:
    check = pooled_vs_stratified(
        _ucb(), "admitted", compare="sex", by="dept", levels=("male", "female")
    )
    t = check.table
    pooled = t[t["level"] == "pooled"].iloc[0]
    # R's ?UCBAdmissions: 2691 men, 1198 (44.5%) admitted; 1835 women, 557 (30.4%).
    assert (pooled["n_a"], pooled["n_b"]) == (2691, 1835)
    assert pooled["estimate_a"] == pytest.approx(0.445, abs=5e-4)
    assert pooled["estimate_b"] == pytest.approx(0.304, abs=5e-4)
    assert check.pooled == pytest.approx(1198 / 2691 - 557 / 1835)
    strata = t[t["level"] == "stratum"].set_index("dept")
    # Women are admitted at higher rates in A, B, D and F: R's UCBAdmissions data
    # (?UCBAdmissions: "the six largest departments in 1973"; the counts above).
    assert sorted(strata.index[strata["difference"] < 0]) == ["A", "B", "D", "F"]
    assert strata["opposite_sign"].sum() == 4
    # Those four departments hold 3024 of the 4526 applicants.
    assert check.share_opposite == pytest.approx(3024 / 4526)
    assert check.kind == "majority"
    assert check.reversal
    # Direct standardisation, recomputed here from the counts.
    n = {d: sum(c) for d, c in UCB.items()}
    diffs = {d: c[0] / (c[0] + c[1]) - c[2] / (c[2] + c[3]) for d, c in UCB.items()}
    expected = sum(n[d] * diffs[d] for d in UCB) / sum(n.values())
    assert check.standardised == pytest.approx(expected)
    assert check.standardised < 0 < check.pooled


def test_unclustered_se_is_the_two_sample_binomial_se() -> None:
    check = pooled_vs_stratified(
        _ucb(), "admitted", compare="sex", by="dept", levels=("male", "female")
    )
    p1, n1, p2, n2 = 1198 / 2691, 2691, 557 / 1835, 1835
    g = n1 + n2
    # Influence-function variance p(1-p)/n per group, times the G/(G-1) cluster factor.
    expected = np.sqrt((p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) * g / (g - 1))
    assert check.table["se"].iloc[0] == pytest.approx(expected, rel=1e-10)


def test_clustered_se_equals_statsmodels() -> None:
    rng = np.random.default_rng(8)
    n = 400
    person = rng.integers(0, 90, n)
    df = pd.DataFrame(
        {
            "y": rng.normal(size=n) + 0.5 * rng.normal(size=90)[person],
            "grp": np.where(rng.random(n) < 0.5, "a", "b"),
            "stratum": rng.integers(0, 3, n),
            "person": person,
        }
    )
    check = pooled_vs_stratified(df, "y", compare="grp", by="stratum", cluster="person")
    x = sm.add_constant((df["grp"] == "a").astype(float).to_numpy())
    fit = sm.OLS(df["y"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": person})
    assert check.pooled == pytest.approx(fit.params[1])
    # statsmodels' small-sample factor G/(G-1) (N-1)/(N-K) vs our G/(G-1).
    ours = check.table["se"].iloc[0] ** 2 * (n - 1) / (n - 2)
    assert ours == pytest.approx(fit.cov_params()[1, 1], rel=1e-9)


def test_full_reversal_and_no_reversal() -> None:
    cells = [
        ("A", "mild", 1, 95), ("A", "mild", 0, 5), ("A", "severe", 1, 300),
        ("A", "severe", 0, 300), ("B", "mild", 1, 450), ("B", "mild", 0, 50),
        ("B", "severe", 1, 40), ("B", "severe", 0, 60),
    ]  # fmt: skip
    df = pd.DataFrame(
        [(h, s, y) for h, s, y, k in cells for _ in range(k)],
        columns=["hospital", "severity", "survived"],
    )
    check = pooled_vs_stratified(df, "survived", compare="hospital", by="severity")
    # A: 395/700 survive, B: 490/600; within strata A: 0.95 vs 0.90, 0.50 vs 0.40.
    assert check.pooled == pytest.approx(395 / 700 - 490 / 600)
    strata = check.table[check.table["level"] == "stratum"]
    np.testing.assert_allclose(strata["difference"], [0.05, 0.10])
    assert check.kind == "all"
    assert check.share_opposite == 1.0
    same = df.assign(survived=np.where(df["hospital"] == "A", 1, df["survived"]))
    assert pooled_vs_stratified(same, "survived", compare="hospital", by="severity").kind == "none"
    assert "Simpson reversal" in repr(check)


@settings(max_examples=30)
@given(
    counts=st.lists(st.integers(1, 30), min_size=8, max_size=8),
    admitted=st.lists(st.floats(0, 1), min_size=4, max_size=4),
)
def test_strata_recombine_to_the_pooled_means(counts: list[int], admitted: list[float]) -> None:
    rows = []
    for j in range(4):
        for side in range(2):
            n = counts[2 * j + side]
            k = round(admitted[j] * n)
            rows += [(f"s{j}", "ab"[side], 1.0 if i < k else 0.0) for i in range(n)]
    df = pd.DataFrame(rows, columns=["s", "g", "y"])
    t = pooled_vs_stratified(df, "y", compare="g", by="s").table
    st_ = t[t["level"] == "stratum"]
    for side in "ab":
        n_col, e_col = f"n_{side}", f"estimate_{side}"
        pooled = (st_[n_col] * st_[e_col]).sum() / st_[n_col].sum()
        assert t[e_col].iloc[0] == pytest.approx(pooled)
    assert ((t["se"].dropna()) >= 0).all()


def test_errors() -> None:
    df = pd.DataFrame({"y": [1.0, 0.0, 1.0], "g": ["a", "b", "c"], "s": [1, 1, 2]})
    with pytest.raises(ParameterError, match="exactly two groups"):
        pooled_vs_stratified(df, "y", compare="g", by="s")
    with pytest.raises(InputTableError, match="not found"):
        pooled_vs_stratified(df, "y", compare="grp", by="s")
    with pytest.raises(InputTableError, match="no rows"):
        pooled_vs_stratified(df, "y", compare="g", by="s", levels=("x", "z"))
    with pytest.raises(ParameterError, match="at least one"):
        pooled_vs_stratified(df, "y", compare="g", by=[], levels=("a", "b"))


def test_rows_left_out_are_counted_where_every_result_keeps_them() -> None:
    """Issue 11: metadata lives in attrs["hxmetrics"] (here it was a flat attr), and the
    rows without a value are said, not only counted."""
    df = pd.DataFrame(
        {"y": [1.0, 0.0, None, 1.0, 0.0, 1.0], "g": list("ababab"), "s": [1, 1, 1, 2, 2, 2]}
    )
    check = pooled_vs_stratified(df, "y", compare="g", by="s")
    meta = check.table.attrs["hxmetrics"]
    assert meta["excluded"] == {"missing": 1}
    assert meta["confidence"] == 0.95
    assert (meta["compare"], meta["by"], meta["levels"]) == ("g", ["s"], ["a", "b"])
    assert "1 row(s) without a value in 'y' left out" in repr(check)
    bad = df.assign(y=["x", 0.0, 1.0, 1.0, 0.0, 1.0])
    with pytest.raises(InputTableError, match=r"^data: column 'y' must hold numbers"):
        pooled_vs_stratified(bad, "y", compare="g", by="s")


def test_any_frame_narwhals_accepts() -> None:
    """Issue 11: every door accepts the frames the measures accept (here Polars)."""
    import polars as pl

    df = _ucb()
    base = pooled_vs_stratified(df, "admitted", compare="sex", by="dept").table
    other = pooled_vs_stratified(pl.from_pandas(df), "admitted", compare="sex", by="dept").table
    pd.testing.assert_frame_equal(base, other)
    with pytest.raises(ParameterError, match="data must be a DataFrame"):
        pooled_vs_stratified([1, 2], "admitted", compare="sex", by="dept")
