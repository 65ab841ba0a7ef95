"""The ``df.hx`` accessor: each method is its measure, with the measure's signature and
docs (what ``help()`` and Jupyter's ``?`` show), the frame as the data argument."""

from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys

import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics import measures
from hxmetrics.accessor import HxAccessor

METHODS = [
    "nps",
    "csat",
    "ces",
    "mean_score",
    "cronbach_alpha",
    "mcdonald_omega",
    "reliability",
    "hx_index",
    "median_tenure",
    "rfm_summary",
    "compare_groups",
]


def _accessor_methods() -> list[str]:
    return [name for name in vars(HxAccessor) if not name.startswith("_")]


def test_the_accessor_offers_the_listed_measures():
    assert sorted(_accessor_methods()) == sorted(METHODS)


def test_nps_shows_its_parameters_not_args_kwargs():
    """Found (issue 11): `df.hx.nps` had the signature (*args, **kwargs)."""
    params = inspect.signature(pd.DataFrame().hx.nps).parameters
    assert "data" not in params
    assert list(params)[:2] == ["score", "by"]
    for name in ("weights", "method", "confidence", "min_n", "random_state"):
        assert name in params
    assert params["score"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["by"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["confidence"].default == 0.95


@pytest.mark.parametrize("name", METHODS)
def test_each_method_has_its_measures_signature_minus_the_data(name):
    measure = inspect.signature(getattr(measures, name))
    method = inspect.signature(getattr(pd.DataFrame().hx, name))
    assert list(method.parameters.values()) == list(measure.parameters.values())[1:]
    assert method.return_annotation == measure.return_annotation


@pytest.mark.parametrize("name", METHODS)
def test_each_method_has_its_measures_docs(name):
    """Found (issue 11): the doc was "see its docs"; help() and ? now show the measure's
    own docstring, its Parameters included."""
    method = getattr(pd.DataFrame().hx, name)
    doc = inspect.getdoc(method)
    assert "see its docs" not in doc
    assert doc.startswith(f"``df.hx.{name}(...)`` is ``hxmetrics.{name}(df, ...)``")
    assert inspect.cleandoc(getattr(measures, name).__doc__) in doc
    assert "Parameters\n----------" in doc
    shown = pydoc.render_doc(method, renderer=pydoc.plaintext)
    assert f"{name}{inspect.signature(method)}" in shown
    assert "(*args, **kwargs)" not in shown


def test_the_class_attribute_is_a_function_with_self_first():
    # help(df.hx) and Sphinx document the methods of the class.
    params = list(inspect.signature(HxAccessor.nps).parameters)
    assert params[:3] == ["self", "score", "by"]
    assert HxAccessor.nps.__qualname__ == "HxAccessor.nps"


def test_calls_equal_the_measure_functions():
    df = pd.DataFrame({"ltr": [10, 9, 8, 3, 10, 6, 7, 9], "segment": list("aabbabab")})
    expected = hx.nps(df, "ltr", by="segment", method="wald")
    pd.testing.assert_frame_equal(df.hx.nps("ltr", by="segment", method="wald"), expected)
    pd.testing.assert_frame_equal(df.hx.nps(score="ltr", by="segment", method="wald"), expected)
    mean = hx.mean_score(df, "ltr", by="segment")
    pd.testing.assert_frame_equal(df.hx.mean_score("ltr", by="segment"), mean)


def test_a_wrong_keyword_is_refused_like_the_measure_refuses_it():
    df = pd.DataFrame({"ltr": [10, 9]})
    with pytest.raises(TypeError, match="scroe"):
        df.hx.nps(scroe="ltr")
    with pytest.raises(TypeError):
        inspect.signature(df.hx.nps).bind(scroe="ltr")


def test_the_method_uses_its_own_frame():
    a = pd.DataFrame({"ltr": [10, 10, 10, 10, 10]})
    b = pd.DataFrame({"ltr": [0, 0, 0, 0, 0]})
    nps_a, nps_b = a.hx.nps, b.hx.nps
    assert nps_b("ltr", method="wald")["estimate"].iloc[0] == -100
    assert nps_a("ltr", method="wald")["estimate"].iloc[0] == 100


def test_accessing_the_accessor_does_not_import_the_measures():
    code = (
        "import sys, hxmetrics, pandas as pd; pd.DataFrame().hx; "
        "print('hxmetrics.measures' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_result_compares_its_groups_through_the_accessor():
    df = pd.DataFrame({"ltr": [10, 9, 8, 3, 10, 6, 0, 2], "segment": list("aabbabbb")})
    result = df.hx.nps(score="ltr", by="segment", method="wald")
    pd.testing.assert_frame_equal(result.hx.compare_groups(), hx.compare_groups(result))
