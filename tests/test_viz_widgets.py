"""The notebooks' widgets (cnnlib.viz.widgets), driven like a student would: set a slider,
pick from a menu, and check that the picture on show changed the right way.

Outside a Jupyter kernel an Output widget captures nothing, so display() prints the
figure's repr; the widget keeps the Figure it shows in .figure, which is what we check.
"""
import json
import re
from pathlib import Path

import ipywidgets as W

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlib.architectures import one_conv_net
from cnnlib.data import load_mnist
from cnnlib.viz.convolution import KERNEL_PRESETS
from cnnlib.viz.widgets import (activation_explorer, attack_explorer, conv_touch_explorer, digit_browser,
                                digit_explorer, kernel_editor, pool_routing_explorer,
                                pooling_explorer, softmax_explorer, training_dashboard,
                                transform_explorer)

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


def test_slow_sliders_report_on_release(digits):
    box = kernel_editor(digits[2])
    assert all(not c.continuous_update for c in box.controls.values()
               if hasattr(c, "continuous_update") and hasattr(c, "readout"))


# ---------------------------------------------------------------- every widget: layout, names
def tiny_net():
    from cnnlib.layers import Flatten, Linear
    from cnnlib.model import Sequential
    return Sequential([Flatten(), Linear(784, 10, seed=0)])


def build_every_widget(digits):
    """{factory name: widget} for every widget factory of cnnlib.viz (small data)."""
    from cnnlib.data import to_float
    from cnnlib.saliency import with_input_gradient
    from cnnlib.viz.depth import init_scale_explorer
    x_train, y_train, x_test, y_test = digits
    net = one_conv_net(seed=0)
    x = to_float(x_test[:, None])
    return {
        "digit_browser": digit_browser({"train": (x_train, y_train), "test": (x_test, y_test)}),
        "kernel_editor": kernel_editor(x_test),
        "pooling_explorer": pooling_explorer(x_test),
        "softmax_explorer": softmax_explorer([1.0, -0.5, 2.0, 0.3, -1.0, 0.0, 0.8, -2.0, 1.5, 0.2]),
        "activation_explorer": activation_explorer(net, x_test, y_test),
        "pool_routing_explorer": pool_routing_explorer(np.arange(36.0).reshape(6, 6) % 7,
                                                       np.arange(1.0, 10.0).reshape(3, 3)),
        "conv_touch_explorer": conv_touch_explorer(np.arange(64.0).reshape(8, 8), np.ones((3, 3))),
        "digit_explorer": digit_explorer(net, x_test, y_test),
        "transform_explorer": transform_explorer(net, x_test, y_test),
        "attack_explorer": attack_explorer(with_input_gradient(one_conv_net(seed=0)), x, y_test),
        "training_dashboard": training_dashboard(tiny_net, to_float(x_train[:, None]), y_train),
        "init_scale_explorer": init_scale_explorer(x[:8], y_test[:8], depth=4, width=8),
    }


@pytest.fixture(scope="module")
def every_widget(digits):
    widgets = build_every_widget(digits)
    plt.close("all")
    return widgets


def walk(widget):
    """widget and every widget inside it (children of boxes), depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def test_every_widget_factory_is_checked(every_widget):
    import cnnlib.viz.depth as depth
    import cnnlib.viz.widgets as widgets
    factories = {name for name in widgets.__all__ if name[0].islower()} | \
        {name for name in depth.__all__ if name.endswith("_explorer")}
    assert factories == set(every_widget), "add the new widget to build_every_widget"


def test_no_picture_has_a_fixed_height(every_widget):
    """A fixed height cut off taller figures (00's digits, 06's bottom row, 07's grid):
    JupyterLab shrinks a figure to the column, so only the browser knows its height."""
    for name, box in every_widget.items():
        for w in walk(box):
            layout = getattr(w, "layout", None)
            if isinstance(w, (W.Output, W.Image)) or isinstance(w, W.VBox):
                assert layout.height in (None, "", "auto"), f"{name}: {type(w).__name__} " \
                    f"has the fixed height {layout.height}"


def px(value):
    return float(value[:-2]) if isinstance(value, str) and value.endswith("px") else 0.0


def test_rows_wrap_and_nothing_is_wider_than_the_projector(every_widget):
    """A projector at 150 % zoom is 853 CSS px wide, the notebook column about 420 of them:
    rows of controls wrap, and a fixed width is narrow or capped by max_width 100 %."""
    for name, box in every_widget.items():
        for w in walk(box):
            if isinstance(w, W.HBox):
                assert "wrap" in (w.layout.flex_flow or ""), f"{name}: a row that cannot wrap"
            width = px(w.layout.width) if hasattr(w, "layout") else 0
            if width > 300:
                # 100 %, or 100 % less the control's margins (the browser test measures both)
                assert w.layout.max_width in ("100%", "calc(100% - 4px)"), \
                    f"{name}: {type(w).__name__} is {w.layout.width} wide without max_width"
            grid = getattr(w.layout, "grid_template_columns", None) or ""
            assert "px" not in grid or sum(px(f"{v}px") for v in re.findall(r"(\d+)px", grid)) \
                * int((re.findall(r"repeat\((\d+)", grid) or ["1"])[0]) <= 300, f"{name}: {grid}"


CONTROLS = (W.ValueWidget, W.Button)


def test_every_control_has_an_accessible_name_and_room_for_it(every_widget):
    """A screen reader reads a control's description (or its tooltip) as its name; without
    one it says "slider, 0". The description gets the width it needs ("temperat…" was cut)."""
    count = 0
    for name, box in every_widget.items():
        for w in walk(box):
            if not isinstance(w, CONTROLS) or isinstance(w, (W.Output, W.Image, W.Label, W.HTML)):
                continue
            count += 1
            label = getattr(w, "description", "") or w.tooltip
            assert label and label.strip(), f"{name}: a {type(w).__name__} without a name"
            if getattr(w, "description", "") and not isinstance(w, W.Button):
                assert w.style.description_width == "initial", f"{name}: {w.description} cut"
            if isinstance(w, W.Button):
                assert w.description.strip(), f"{name}: a button with no text"
    assert count >= 40                  # the walk really reached the controls


def test_every_widget_figure_is_readable_on_a_projector_at_the_presentation_scale(digits):
    """At PROJECTOR_SCALE, shown in JupyterLab's column on a 1280x720 projector at 150 %
    zoom (file browser closed), the smallest text of every widget's figure is at least
    12 device pixels; at scale 1 several are not (the check can fail)."""
    from cnnlib.viz import presentation as base
    from cnnlib.viz.base import PROJECTOR, PROJECTOR_SCALE, set_presentation_scale, text_px

    def smallest(widgets):
        out = {}
        for name, box in widgets.items():
            fig = box.board.fig if name == "training_dashboard" else box.figure
            out[name] = text_px(fig, PROJECTOR["column_css_px"], PROJECTOR["device_scale"])
        plt.close("all")
        return out

    previous = base._scale
    try:
        set_presentation_scale(PROJECTOR_SCALE)
        scaled = smallest(build_every_widget(digits))
        set_presentation_scale(1.0)
        plain = smallest(build_every_widget(digits))
    finally:
        base._scale = previous
    small = {name: round(px, 1) for name, px in scaled.items() if px < PROJECTOR["min_text_px"]}
    assert not small, f"text below {PROJECTOR['min_text_px']} device px on a projector: {small}"
    assert min(plain.values()) < PROJECTOR["min_text_px"]      # the scale is what does it


def test_every_widget_names_its_sliders_for_screen_readers(every_widget):
    """ipywidgets 8 leaves a slider's handle (role="slider") unnamed; a SliderNames inside
    each widget's box copies the description onto it in the browser."""
    from cnnlib.viz.a11y import BOX_CLASS, ESM, SliderNames
    for name, box in every_widget.items():
        assert BOX_CLASS in box._dom_classes, name
        assert sum(isinstance(w, SliderNames) for w in walk(box)) == 1, name
    assert "[role=\"slider\"]" in ESM and "setAttribute('aria-label', name)" in ESM
    assert f"closest('.{BOX_CLASS}')" in ESM
    # ... and keeps JupyterLab's notebook shortcuts out of the box (tests/test_browser_keyboard.py)
    assert "el.setAttribute('data-lm-suppress-shortcuts', 'true')" in ESM


def test_a_control_without_a_name_is_refused():
    from cnnlib.viz.widgets import FigureWidget
    with pytest.raises(ValueError, match="description or a tooltip"):
        FigureWidget(lambda v: plt.figure(), {"v": W.IntSlider()}, [])


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
