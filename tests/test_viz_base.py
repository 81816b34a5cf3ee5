"""cnnlib.viz.base: what every picture does (detached figures, messages, pixel scaling),
and that every drawing in cnnlib.viz returns a Figure that pyplot does not hold."""
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlib.data import to_float
from cnnlib.viz.base import (message_figure, say, scale_pixels, subplots, symmetric_limit)
from cnnlib.viz.gradients import plot_conv_touch, plot_pool_routing

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def empty_pyplot():
    plt.close("all")
    yield
    plt.close("all")


def test_figures_are_detached_from_pyplot():
    fig, axes = subplots(1, 2, figsize=(4, 2))
    assert isinstance(fig, Figure) and len(axes) == 2
    assert plt.get_fignums() == []           # the inline backend will not show it a second time


def test_gradient_pictures_no_longer_stay_in_pyplot():
    # plot_pool_routing / plot_conv_touch used plt.subplots without closing: shown twice
    x = np.arange(16.0).reshape(4, 4)
    figs = [plot_pool_routing(x, np.ones((2, 2))), plot_pool_routing(x, np.ones((3, 3))),
            plot_conv_touch(x, np.ones((3, 3)), 0, 0), plot_conv_touch(x, np.ones((3, 3)), 5, 5)]
    assert all(isinstance(f, Figure) for f in figs)
    assert plt.get_fignums() == []


def test_message_replaces_the_picture():
    fig = message_figure("stride must be >= 1; got 0.")
    ax, = fig.axes
    assert not ax.axison and [t.get_text() for t in ax.texts] == ["stride must be >= 1; got 0."]
    ax2 = subplots()[1]
    say(ax2, "word " * 30, width=40)
    assert max(len(line) for line in ax2.texts[0].get_text().split("\n")) <= 40


def test_symmetric_limit_ignores_non_finite_and_never_returns_zero():
    assert symmetric_limit([-3.0, 2.0]) == 3.0
    assert symmetric_limit([np.nan, -1.0, np.inf]) == 1.0
    assert symmetric_limit(np.zeros(4)) == 1.0 and symmetric_limit([]) == 1.0


def test_one_pixel_rule_for_every_dtype():
    raw = np.array([[0, 51, 255]], np.uint8)
    # 51 / 255 = 0.2
    np.testing.assert_allclose(scale_pixels(raw), [[0, 0.2, 1]])
    np.testing.assert_allclose(scale_pixels(raw.astype(np.float32)), [[0, 0.2, 1]])
    np.testing.assert_allclose(scale_pixels(raw, center=True), to_float(raw), atol=1e-7)
    with pytest.raises(ValueError, match="NaN or infinite"):
        scale_pixels(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="numbers"):
        scale_pixels(np.array(["a"]))


IDIOMS = {   # what only cnnlib/viz/base.py may write: one home for each
    "plt.figure(": "a new figure: use base.figure / base.subplots",
    "plt.subplots(": "a new figure: use base.figure / base.subplots",
    "plt.close(": "detaching a figure: use base.figure / base.subplots",
    "plt.show(": "a figure is returned, not shown",
    '"darkred"': "a message colour: use base.say / note / footnote (MESSAGE_COLOR)",
    "/ 255": "pixel scaling: use base.scale_pixels",
    '"coolwarm"': "a diverging map: use base.DIVERGING",
    '"RdBu_r"': "a diverging map: use base.DIVERGING",
}


def test_figure_message_and_pixel_idioms_live_only_in_base():
    viz = Path(__file__).resolve().parent.parent / "cnnlib" / "viz"
    found = [f"{path.name}: {snippet} ({why})" for path in sorted(viz.glob("*.py"))
             if path.name != "base.py" for snippet, why in IDIOMS.items()
             if snippet in path.read_text(encoding="utf-8")]
    assert not found, "\n".join(found)


# ---------------------------------------------------------------- presentation scale
@pytest.fixture
def scale_reset(monkeypatch):
    from cnnlib.viz import base, presentation
    monkeypatch.delenv(presentation.SCALE_ENV, raising=False)
    previous = presentation._scale
    presentation._scale = None
    yield base
    presentation._scale = previous


def test_presentation_scale_keeps_the_pixels_and_enlarges_the_text(scale_reset):
    base = scale_reset
    plain = base.figure(figsize=(10, 4), dpi=100)
    assert base.set_presentation_scale(2.0) == 1.0          # returns the previous scale
    big = base.figure(figsize=(10, 4), dpi=100)
    assert big.get_size_inches() * big.dpi == pytest.approx(plain.get_size_inches() * plain.dpi)
    assert tuple(big.get_size_inches()) == (5, 2) and big.dpi == 200
    for fig in (plain, big):
        fig.text(0.5, 0.5, "label", fontsize=10)
    # the same 10 pt text, shown at the same width: twice as many pixels tall
    assert base.text_px(big, 500) == pytest.approx(2 * base.text_px(plain, 500))


def test_presentation_scale_from_the_environment_and_its_errors(scale_reset, monkeypatch):
    base = scale_reset
    monkeypatch.setenv("CNNLIB_PRESENTATION_SCALE", "1.6")
    assert base.presentation_scale() == 1.6
    assert base.set_presentation_scale(1.2) == 1.6 and base.presentation_scale() == 1.2
    base.set_presentation_scale(None)                    # back to the environment
    assert base.presentation_scale() == 1.6
    monkeypatch.setenv("CNNLIB_PRESENTATION_SCALE", "big")
    with pytest.raises(ValueError, match="CNNLIB_PRESENTATION_SCALE must be a number from 0.5"):
        base.presentation_scale()
    for bad in (0, -1, float("nan"), 10, "x"):
        with pytest.raises(ValueError, match="presentation scale must be a number"):
            base.set_presentation_scale(bad)


def test_text_px_by_hand(scale_reset):
    base = scale_reset
    fig = base.figure(figsize=(8, 2), dpi=100)           # 800 px wide
    fig.text(0.1, 0.5, "small", fontsize=9)
    fig.text(0.6, 0.5, "large", fontsize=18)
    fig.text(0.3, 0.5, "", fontsize=2)                   # empty: not text anyone reads
    # 9 pt = 9/72 inch = 12.5 px at 100 dpi; shown 400 px wide: halved; 1.5 device px each
    assert base.text_px(fig) == pytest.approx(12.5)
    assert base.text_px(fig, 400, 1.5) == pytest.approx(12.5 * 0.5 * 1.5)
    assert base.text_px(fig, 1600) == pytest.approx(12.5)     # never enlarged
    assert base.text_px(base.figure()) is None


def test_fewer_panels_per_row_at_a_presentation_scale(scale_reset):
    base = scale_reset
    fig, axes = base.panels(4, figsize=(12, 3))
    assert len(axes) == 4 and {ax.get_subplotspec().rowspan.start for ax in axes} == {0}
    base.set_presentation_scale(1.6)
    fig, axes = base.panels(4, figsize=(12, 3))
    rows = [ax.get_subplotspec().rowspan.start for ax in axes]
    assert rows == [0, 0, 1, 1] and len(fig.axes) == 4      # 2 + 2, nothing left over
    # each panel keeps its width: 2 of 3 inches, drawn 1.6 times smaller
    assert fig.get_figwidth() == pytest.approx(6 / 1.6)
    fig, axes = base.panels(3, figsize=(9, 3))
    assert len(fig.axes) == 3 and [ax.get_subplotspec().rowspan.start for ax in axes] == [0, 0, 1]
