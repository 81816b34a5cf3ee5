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
