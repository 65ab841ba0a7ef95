"""Issue 11: one vocabulary in hxmetrics.compare; each old name warns and gives the same result."""

from __future__ import annotations

import inspect
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

from hxmetrics.compare import (
    SiloComparison,
    plot_decomposition,
    plot_silo_bias,
    siloed_vs_unified,
    simulate_silo_bias,
)
from hxmetrics.errors import ParameterError
from hxmetrics.stakeholders import StakeholderRegistry

matplotlib.use("Agg")


def assert_same(a: SiloComparison, b: SiloComparison) -> None:
    assert (a.measure, a.role) == (b.measure, b.role)
    for name in ("estimates", "difference", "decomposition", "strata", "overlap", "exclusions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_role_is_the_name_of_the_target(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    """Found: in siloed_vs_unified `group=` means a role."""
    reg, responses = tiny
    res = siloed_vs_unified(reg, responses, role="customer")
    assert res.role == "customer"
    assert "role" in inspect.signature(siloed_vs_unified).parameters
    assert "group" not in inspect.signature(siloed_vs_unified).parameters


def test_group_is_a_deprecated_role(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    new = siloed_vs_unified(reg, responses, role="customer")
    with pytest.warns(DeprecationWarning, match="'group' is deprecated, use 'role'"):
        old = siloed_vs_unified(reg, responses, group="customer")
    assert_same(old, new)
    with pytest.warns(DeprecationWarning, match="'group' is deprecated, use 'role'"):
        assert new.group == "customer"
    with pytest.raises(ParameterError, match="pass 'role' only"):
        siloed_vs_unified(reg, responses, group="customer", role="customer")


@pytest.mark.parametrize(("plural", "role"), [("customers", "customer"), ("workers", "worker")])
def test_silo_names_read_as_roles(
    tiny: tuple[StakeholderRegistry, pd.DataFrame], plural: str, role: str
) -> None:
    """Found: silo names are plural, roles singular; the plural spelling names the role."""
    reg, responses = tiny
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = siloed_vs_unified(reg, responses, role=plural)
    assert res.role == role
    assert_same(res, siloed_vs_unified(reg, responses, role=role))


def test_n_bootstrap_is_a_deprecated_n_resamples(
    tiny: tuple[StakeholderRegistry, pd.DataFrame],
) -> None:
    reg, responses = tiny
    new = siloed_vs_unified(reg, responses, n_resamples=200, random_state=1)
    with pytest.warns(DeprecationWarning, match="'n_bootstrap' is deprecated, use 'n_resamples'"):
        old = siloed_vs_unified(reg, responses, n_bootstrap=200, random_state=1)
    assert_same(old, new)
    assert "se_bootstrap" in new.estimates.columns


def test_random_state_takes_a_generator(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    reg, responses = tiny
    a = siloed_vs_unified(reg, responses, n_resamples=200, random_state=np.random.default_rng(9))
    b = siloed_vs_unified(reg, responses, n_resamples=200, random_state=9)
    assert_same(a, b)


def test_ax_is_keyword_only(tiny: tuple[StakeholderRegistry, pd.DataFrame]) -> None:
    """Found: `ax` is positional in some plots and keyword-only in others."""
    import matplotlib.pyplot as plt

    reg, responses = tiny
    res = siloed_vs_unified(reg, responses, role="customer")
    for func in (plot_decomposition, plot_silo_bias, SiloComparison.plot):
        ax = inspect.signature(func).parameters["ax"]
        assert ax.kind is inspect.Parameter.KEYWORD_ONLY, func
    fig, ax = plt.subplots()
    with pytest.warns(DeprecationWarning, match="passing ax by position is deprecated"):
        assert plot_decomposition(res, ax) is ax
    with pytest.warns(DeprecationWarning, match="passing ax by position is deprecated"):
        assert res.plot(ax) is ax
    with pytest.raises(ParameterError, match="ax= by keyword only"):
        plot_decomposition(res, ax, ax=ax)
    plt.close(fig)


def test_simulation_speaks_the_same_vocabulary() -> None:
    import matplotlib.pyplot as plt

    kwargs = dict(
        n_people=200,
        hybrid_shares=[0.4],
        hybrid_effects=[1.0],
        n_replications=20,
        n_organisations=1,
        random_state=3,
    )
    # type: ignore: kwargs is a dict of mixed values; mypy cannot match it to the keywords
    new = simulate_silo_bias(role="customers", **kwargs)  # type: ignore[arg-type]
    assert new["role"].unique().tolist() == ["customer"]
    with pytest.warns(DeprecationWarning, match="'group' is deprecated, use 'role'"):
        # type: ignore: the old keyword on purpose, and a dict of mixed values
        old = simulate_silo_bias(group="customer", **kwargs)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(old, new)
    gen = simulate_silo_bias(
        role="customer",
        # type: ignore: a dict of mixed values; mypy cannot match it to the keywords
        **{**kwargs, "random_state": np.random.default_rng(3)},  # type: ignore[arg-type]
    )
    pd.testing.assert_frame_equal(gen, new)
    fig, ax = plt.subplots()
    with pytest.warns(DeprecationWarning, match="passing ax by position is deprecated"):
        assert plot_silo_bias(new, ax) is ax
    # A study saved before the column was named role still plots.
    assert plot_silo_bias(new.rename(columns={"role": "group"}), ax=ax) is ax
    plt.close(fig)
