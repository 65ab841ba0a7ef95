"""Plots take ax= and return it; figures encode to the same bytes every time."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from hxmetrics.errors import InputTableError, ParameterError
from hxmetrics.plotting import (
    PALETTE,
    ROLE_COLORS,
    figure_to_png,
    new_figure,
    plot_curves,
    plot_estimates,
    plot_overlap,
)
from hxmetrics.report import builder
from tests.report import demo


def _texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_plot_estimates_draws_on_the_given_axes():
    _fig, ax = new_figure(6, 3)
    assert plot_estimates(demo.NPS, estimate="nps", by="role", hue="view", ax=ax) is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["customer", "worker", "partner"]
    # Two views x two visible roles: four dots and four interval lines.
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 4
    assert sorted(float(d.get_xdata()[0]) for d in dots) == sorted(
        demo.NPS["nps"].dropna().tolist()
    )
    # The suppressed partner rows are shown as suppressed, not silently left out: one
    # label for the group, hidden in both views.
    assert _texts(ax).count("suppressed") == 1
    partly = demo.NPS.copy()
    partly.loc[3, "suppressed"] = True  # unified customers hidden, siloed shown
    _fig, ax2 = new_figure(6, 3)
    plot_estimates(partly, estimate="nps", by="role", hue="view", ax=ax2)
    assert _texts(ax2).count("suppressed") == 2
    assert "n=812" in _texts(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["siloed", "unified"]


def test_plot_estimates_infers_group_columns_and_reads_summary_objects():
    class Result:
        def summary(self):
            return demo.NPS[demo.NPS["view"] == "unified"].drop(columns="suppressed")

    _fig, ax = new_figure(6, 3)
    plot_estimates(Result(), estimate="nps", reference=0, ax=ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "unified · customer",
        "unified · worker",
        "unified · partner",
    ]
    assert _texts(ax).count("suppressed") == 1  # NaN estimate without a suppressed column


def test_plot_estimates_errors():
    _fig, ax = new_figure(6, 3)
    with pytest.raises(InputTableError, match="Did you mean 'nps'"):
        plot_estimates(demo.NPS, estimate="npss", ax=ax)
    numbers_only = demo.NPS[["nps", "ci_low", "ci_high"]]
    with pytest.raises(ParameterError, match="by="):
        plot_estimates(numbers_only, estimate="nps", ax=ax)
    with pytest.raises(ParameterError, match="DataFrame"):
        plot_estimates([1, 2], ax=ax)
    with pytest.raises(ParameterError, match="Axes"):
        # wrong type on purpose: the runtime check is under test
        plot_estimates(demo.NPS, estimate="nps", ax="left")  # type: ignore[arg-type]


def test_plot_overlap_bars_put_single_roles_first_then_by_size():
    _fig, ax = new_figure(6, 3)
    assert plot_overlap(demo.OVERLAP, ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "customer",
        "worker",
        "partner",
        "customer + worker",
        "customer + partner",
        "worker + partner",
        "customer + worker + partner",
    ]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [4210, 388, 152, 96, 41, 17, 6]
    assert "4,210" in _texts(ax)


def test_plot_overlap_heatmap_and_series():
    square = pd.DataFrame(
        [[5000, 96, 41], [96, 500, 17], [41, 17, 180]],
        index=["customer", "worker", "partner"],
        columns=["customer", "worker", "partner"],
    )
    _fig, ax = new_figure(4, 3.5)
    assert plot_overlap(square, ax=ax) is ax
    assert len(ax.images) == 1
    assert sorted(_texts(ax)) == sorted(f"{v:,}" for v in square.to_numpy().ravel())
    _fig, ax = new_figure(4, 2)
    plot_overlap(pd.Series({"customer": 10, "customer + worker": 3}), ax=ax)
    assert [p.get_width() for p in ax.patches] == [10, 3]
    with pytest.raises(ParameterError, match="boolean role columns"):
        plot_overlap(pd.DataFrame({"a": ["x"], "n": [1]}), ax=ax)


def test_plot_curves_with_bands():
    _fig, ax = new_figure(6, 3)
    out = plot_curves(
        demo.RETENTION,
        x="month",
        y="retained",
        by="role",
        ci_low="ci_low",
        ci_high="ci_high",
        step=True,
        ax=ax,
    )
    assert out is ax
    assert [line.get_color() for line in ax.get_lines()] == [
        ROLE_COLORS["customer"],
        ROLE_COLORS["worker"],
    ]
    assert len(ax.collections) == 2
    with pytest.raises(ParameterError, match="both ci_low and ci_high"):
        plot_curves(demo.RETENTION, x="month", y="retained", ci_low="ci_low", ax=ax)


@pytest.mark.parametrize("draw", ["estimates", "overlap", "curves"])
def test_without_ax_a_new_pyplot_figure_is_made(draw):
    before = plt.get_fignums()
    try:
        if draw == "estimates":
            ax = plot_estimates(demo.NPS, estimate="nps", by="role", hue="view")
        elif draw == "overlap":
            ax = plot_overlap(demo.OVERLAP)
        else:
            ax = plot_curves(demo.RETENTION, x="month", y="retained", by="role")
        assert isinstance(ax, Axes)
        assert ax.figure.number not in before
    finally:
        plt.close("all")


def test_png_bytes_are_deterministic_and_carry_no_software_tag():
    def draw() -> bytes:
        fig, ax = new_figure(3, 2)
        plot_estimates(demo.NPS, estimate="nps", by="role", hue="view", ax=ax)
        return figure_to_png(fig, dpi=72)

    first = draw()
    assert first == draw()
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"Software" not in first
    assert b"matplotlib" not in first
    # A figure drawn several times encodes to the same bytes as a fresh one.
    fig, ax = new_figure(3, 2)
    plot_estimates(demo.NPS, estimate="nps", by="role", hue="view", ax=ax)
    fig.canvas.draw()
    assert figure_to_png(fig, dpi=72) == first


def test_new_figure_checks_its_size():
    with pytest.raises(ParameterError):
        new_figure(0, 3)
    with pytest.raises(ParameterError):
        new_figure(np.nan, 3)
    with pytest.raises(ParameterError, match="Figure"):
        # wrong type on purpose: the runtime check is under test
        figure_to_png("fig")  # type: ignore[arg-type]


def _luminance(colour: str) -> float:
    # WCAG 2.1, "relative luminance": sRGB channels linearised, then weighted.
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_palette_and_report_colours_have_accessible_contrast():
    # WCAG 2.1 defines the ratio so that black on white is 21:1 and a colour on itself 1:1.
    assert _contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert _contrast("#777777", "#777777") == pytest.approx(1.0)
    for colour in PALETTE:
        assert _contrast(colour, "#ffffff") >= 4.5, colour
    css = builder._CSS
    colours = dict(re.findall(r"--([a-z-]+):(#[0-9a-f]{6})", css))
    # Text colours on the backgrounds they are used on: 4.5:1 (WCAG 2.1 AA, body text).
    for text, background in [
        ("ink", "#ffffff"),
        ("muted", "#ffffff"),
        ("muted", colours["soft"]),
        ("accent", "#ffffff"),
        ("accent", colours["soft"]),
        ("ink", colours["warn-bg"]),
        ("ink", colours["info-bg"]),
    ]:
        assert _contrast(colours[text], background) >= 4.5, (text, background)


def test_plot_estimates_takes_any_measure_result_as_it_comes():
    # Found (issue 11): plot_estimates(nps_result) failed (it wanted "estimate").
    # A protocol result now plots unchanged: its attrs name the groups and the measure.
    from hxmetrics.measures.nps import nps
    from hxmetrics.measures.satisfaction import mean_score

    answers = pd.DataFrame(
        {"ltr": [10, 9, 3, 8, 10, 6, 9, 2], "role": list("ccwwccwp"), "team": list("xyxyxyxy")}
    )
    _fig, ax = new_figure(5, 3)
    assert plot_estimates(nps(answers, "ltr", by="role"), reference=0, ax=ax) is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "p", "w"]
    assert ax.get_xlabel() == "nps"
    # Two group columns label "c · x"; an ungrouped result is labelled by its measure.
    _fig, ax2 = new_figure(5, 3)
    plot_estimates(nps(answers, "ltr", by=["role", "team"]), ax=ax2)
    assert ax2.get_yticklabels()[0].get_text() == "c · x"
    _fig, ax3 = new_figure(5, 2)
    plot_estimates(mean_score(answers, "ltr"), ax=ax3)
    assert [t.get_text() for t in ax3.get_yticklabels()] == ["mean_score"]
    # Suppressed groups are shown as such.
    _fig, ax4 = new_figure(5, 2)
    plot_estimates(nps(answers, "ltr", by="role", min_n=3), ax=ax4)
    assert "suppressed" in _texts(ax4)


def test_every_plotting_function_takes_ax_keyword_only():
    # Found (issue 11): ax was positional in some plots and keyword-only in others.
    import inspect

    from hxmetrics import plotting

    drawing = [
        getattr(plotting, name)
        for name in plotting.__all__
        if callable(getattr(plotting, name))
        and "ax" in inspect.signature(getattr(plotting, name)).parameters
    ]
    assert len(drawing) == 4
    for function in drawing:
        ax = inspect.signature(function).parameters["ax"]
        assert ax.kind is inspect.Parameter.KEYWORD_ONLY, function.__name__
        assert ax.default is None
