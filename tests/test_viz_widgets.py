"""The notebooks' widgets (cnnlib.viz.widgets), driven like a student would: set a slider,
pick from a menu, and check that the picture on show changed the right way.

Outside a Jupyter kernel an Output widget captures nothing, so display() prints the
figure's repr; the widget keeps the Figure it shows in .figure, which is what we check.
"""
import json
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlib.architectures import one_conv_net
from cnnlib.data import load_mnist
from cnnlib.viz.convolution import KERNEL_PRESETS
from cnnlib.viz.widgets import (activation_explorer, attack_explorer, conv_touch_explorer, digit_browser,
                                digit_explorer, kernel_editor, pool_routing_explorer,
                                pooling_explorer, softmax_explorer, transform_explorer)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    return x_train[:30], y_train[:30], x_test[:20], y_test[:20]


@pytest.fixture(autouse=True)
def no_figures_left_in_pyplot():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a widget left a figure in pyplot: it would show twice"


def texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel()] + [t.get_text() for t in ax.texts]
    return " ".join(out).replace("\n", " ")


def image(fig, k):
    """The array drawn by the k-th axes that shows an image."""
    return np.asarray([ax for ax in fig.axes if ax.images][k].images[0].get_array())


def set_and_get(box, **values):
    """Set controls by name; return the figure the widget shows afterwards."""
    before = box.figure
    for name, value in values.items():
        box.controls[name].value = value
    assert box.figure is not before, f"setting {values} did not redraw"
    return box.figure


def test_widget_has_fixed_height_output_and_slow_sliders_report_on_release(digits):
    box = kernel_editor(digits[2])
    assert box.output.layout.height == "420px"
    assert all(not c.continuous_update for c in box.controls.values()
               if hasattr(c, "continuous_update") and hasattr(c, "readout"))


def test_digit_browser_switches_split_and_index(digits):
    x_train, y_train, x_test, y_test = digits
    box = digit_browser({"train": (x_train, y_train), "test": (x_test, y_test)})
    assert f"#0, label {y_train[0]}" in texts(box.figure)
    fig = set_and_get(box, index=25)
    assert f"#25, label {y_train[25]}" in texts(fig)
    fig = set_and_get(box, split="test")            # 20 test digits: the slider shrinks
    assert box.controls["index"].max == 19
    assert f"#19, label {y_test[19]}" in texts(fig)
    np.testing.assert_array_equal(image(fig, 0), x_test[19])


def test_kernel_editor_cells_preset_pad_and_stride(digits):
    box = kernel_editor(digits[2])
    assert "feature map 26×26" in texts(box.figure)
    np.testing.assert_array_equal(image(box.figure, 1), KERNEL_PRESETS["vertical edge"])
    fig = set_and_get(box, pad=1, stride=2)
    assert "feature map 14×14" in texts(fig)
    fig = set_and_get(box, k4=5.0)                   # the middle cell of the kernel
    assert image(fig, 1)[1, 1] == 5.0
    drawn = []
    box.draw = lambda **kw: drawn.append(kw) or plt.figure()   # count the drawings
    box.controls["preset"].value = "blur"
    plt.close("all")
    assert len(drawn) == 1, "a preset fills nine cells but must draw once"
    assert drawn[0]["k0"] == pytest.approx(1 / 9, abs=1e-4)


def test_kernel_editor_nan_cell_is_explained_not_raised(digits):
    box = kernel_editor(digits[2])
    fig = set_and_get(box, k2=float("nan"))
    assert "row 0, column 2" in texts(fig)


def test_pooling_explorer(digits):
    box = pooling_explorer(digits[2])
    assert "max pool size 2, stride 2 → 13×13" in texts(box.figure)
    fig = set_and_get(box, mode="average", size=3, stride=3)
    assert "average pool size 3, stride 3 → 8×8" in texts(fig)
    fig = set_and_get(box, size=8, stride=1, index=5, kernel="blur")
    assert image(fig, 0).shape == (26, 26) and "→ 19×19" in texts(fig)


def test_softmax_explorer_scores_label_and_temperature():
    box = softmax_explorer([1.0, -0.5, 2.0, 0.3, -1.0, 0.0, 0.8, -2.0, 1.5, 0.2], label=8)
    assert "label 8" in texts(box.figure)
    heights = [b.get_height() for b in box.figure.axes[0].patches]
    assert int(np.argmax(heights)) == 2
    fig = set_and_get(box, z7=9.0)
    assert int(np.argmax([b.get_height() for b in fig.axes[0].patches])) == 7
    fig = set_and_get(box, label=7, temperature=100.0)
    assert "label 7" in texts(fig) and "T = 100" in texts(fig)
    assert max(b.get_height() for b in fig.axes[0].patches) < 0.2     # hot: nearly uniform


def test_activation_explorer(digits):
    x_test, y_test = digits[2:]
    box = activation_explorer(one_conv_net(seed=0), x_test, y_test)
    assert f"label {y_test[0]}" in texts(box.figure)
    fig = set_and_get(box, index=3)
    assert f"label {y_test[3]}" in texts(fig)
    np.testing.assert_array_equal(image(fig, 0), x_test[3])


def test_pool_routing_explorer_moves_the_window():
    x = np.arange(36.0).reshape(6, 6)
    box = pool_routing_explorer(x, np.ones((3, 3)))
    assert box.controls["i"].max == 2 and box.controls["j"].max == 2

    def window(fig):
        # the orange square on the dout panel marks the chosen window
        return [p.get_xy() for p in fig.axes[1].patches if p.get_edgecolor()[:3] != (0, 0, 0)]

    assert window(box.figure) == [(-0.5, -0.5)]
    fig = set_and_get(box, i=2, j=1)
    assert window(fig) == [(0.5, 1.5)]


def test_conv_touch_explorer_pixel_stride_and_impossible_pixel():
    x, w = np.arange(64.0).reshape(8, 8), np.ones((3, 3))
    box = conv_touch_explorer(x, w, i=2, j=3)
    assert "pixel (2, 3)" in texts(box.figure)
    fig = set_and_get(box, stride=2, pad=1)
    assert "input (pad=1)" in texts(fig)
    fig = set_and_get(box, i=9)                      # the output is only 4 x 4 now
    assert "does not exist" in texts(fig)


def test_digit_explorer_slider_and_mistake_menu(digits):
    x_test, y_test = digits[2:]
    net = one_conv_net(seed=0)
    box = digit_explorer(net, x_test, y_test, index=2)
    assert f"#2, label {y_test[2]}" in texts(box.figure)
    fig = set_and_get(box, index=4)
    assert f"#4, label {y_test[4]}" in texts(fig)
    menu = box.controls["mistakes"]
    mistake = menu.options[1][1]                     # an untrained net makes plenty
    menu.value = mistake
    assert box.controls["index"].value == mistake
    assert f"#{mistake}, label {y_test[mistake]}" in texts(box.figure)


def test_transform_explorer_shift_rotate_and_push_out(digits):
    x_test, y_test = digits[2:]
    box = transform_explorer(one_conv_net(seed=0), x_test, y_test, index=1)
    assert "shift (dy, dx) = (0, 0), 0°" in texts(box.figure)
    fig = set_and_get(box, dx=3, angle=90)
    assert "shift (dy, dx) = (0, 3), 90°" in texts(fig)
    np.testing.assert_array_equal(image(fig, 0), x_test[1])
    assert not np.array_equal(image(fig, 1), x_test[1])


def test_attack_explorer_eps_attack_and_target(digits):
    from cnnlib.data import to_float
    from cnnlib.saliency import with_input_gradient
    x_test, y_test = digits[2:]
    net = with_input_gradient(one_conv_net(seed=0))
    box = attack_explorer(net, to_float(x_test[:, None]), y_test, index=2, eps=0.1)
    assert "FGSM, ε = 0.1" in texts(box.figure)
    before = image(box.figure, 1)                   # the perturbation: +-0.1 where not clipped
    assert np.abs(before).max() == pytest.approx(0.1, abs=1e-6)
    fig = set_and_get(box, eps=0.2, attack="PGD", target=8)
    assert "PGD → 8, ε = 0.2" in texts(fig) and np.abs(image(fig, 1)).max() <= 0.2 + 1e-6
    np.testing.assert_allclose(image(fig, 0), x_test[2], atol=1e-4)     # the original digit
    fig = set_and_get(box, attack="random signs")
    assert "Cannot attack this digit: random signs have no target" in texts(fig)
    fig = set_and_get(box, target=None, eps=0.0)
    assert "change, max |Δ| = 0.000" in texts(fig)


NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_cell_builds_a_widget_by_hand(path):
    hand_made = ("ipywidgets", ".observe(", "interactive_output", "clear_output", ".figure\n")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [(i, word) for i, c in enumerate(cells) if c["cell_type"] == "code"
             for word in hand_made if word in "".join(c["source"]) + "\n"]
    assert not found, f"cells build widgets by hand (use cnnlib.viz.widgets): {found}"
