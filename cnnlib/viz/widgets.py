"""The notebooks' widgets, each built by one call: sliders and menus above a picture.

    kernel_editor(x_test)                       # notebook 01: edit a 3x3 kernel, see its map
    digit_explorer(net, x_test, y_test)          # notebook 11: the net's view of any digit
    attack_explorer(net, x_test_in, y_test)      # notebook 13: move eps, watch the answer

Every widget but the training dashboard (a picture that a training thread refreshes, see
training_dashboard) is a FigureWidget: its controls (a dict, .controls) feed a drawing function
from the other cnnlib.viz modules, whose Figure is shown in an Output as tall as the figure
(never cut off, at any width) and replaced with clear_output(wait=True) (no flicker). Rows
of controls wrap on a narrow screen (row); every control has an accessible name
(name_control, and a11y.SliderNames for sliders). Sliders only report when released
(continuous_update=False), since every drawing takes a moment.
.figure is the Figure on show: the unit tests set the controls and check that it changed.
The drawings never raise for a setting a control can reach; they explain it in the figure.

Introduced in notebooks/00_mnist.ipynb (the first widget, digit_browser).
"""
import base64
import html
import threading

import ipywidgets as W
import numpy as np
from IPython.display import clear_output, display

from .a11y import BOX_CLASS, SliderNames
from .activations import plot_activations, to_input
from .adversarial import ATTACKS, attack_view
from .convolution import KERNEL_PRESETS, feature_map, plot_convolution
from .digits import browse_digit
from .gradients import plot_conv_touch, plot_pool_routing
from .pooling import plot_pooling
from .probabilities import plot_probabilities
from .robustness import plot_transform_effect
from .trained import most_confident_mistakes, predict_view
from .training import TrainingDashboard

__all__ = ["activation_explorer", "attack_explorer", "conv_touch_explorer", "digit_browser", "digit_explorer",
           "FigureWidget", "kernel_editor", "pool_routing_explorer", "pooling_explorer",
           "softmax_explorer", "training_dashboard", "transform_explorer"]


class FigureWidget(W.VBox):
    """Rows of controls above a picture that draw(**values) fills.

    inputs: {name: widget}; every change of a value redraws with all the values.
    rows: the widgets (or boxes) to lay out above the picture; a list of widgets inside
    rows is wrapped in a row() that wraps onto the next line on a narrow screen.
    min_height: optional reserved height of the picture (e.g. "300px") for a widget whose
    figures differ in height; the course's widgets pass none (see below).
    others: further controls that act through callbacks of their own (a preset menu).
    .controls holds inputs and others by name.

    The Output has no fixed height: JupyterLab shrinks a wide figure to the width of the
    column, so its height on screen is known only to the browser; a fixed height either
    cut the figure off (running under the next cell) or left a gap. clear_output(wait=True)
    keeps the old picture until the new one arrives, so a redraw does not flicker.
    Every control gets the full width its description needs ("temperature", not "temperat…"),
    and an accessible name: its description, which a11y.SliderNames also gives sliders.
    """

    def __init__(self, draw, inputs, rows, min_height=None, others=None):
        self.draw, self.inputs, self.figure, self.paused = draw, inputs, None, False
        self.controls = {**inputs, **(others or {})}
        for control in self.controls.values():
            name_control(control)
        self.output = W.Output(layout=W.Layout(min_height=min_height, max_width="100%"))
        rows = [row(*r) if isinstance(r, (list, tuple)) else r for r in rows]
        super().__init__(rows + [self.output, SliderNames()], layout=W.Layout(max_width="100%"))
        self.add_class(BOX_CLASS)
        for control in inputs.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, change=None):
        if self.paused:             # several controls are being set at once: draw once, after
            return
        self.figure = self.draw(**{name: c.value for name, c in self.inputs.items()})
        with self.output:
            clear_output(wait=True)
            display(self.figure)


def row(*children):
    """An HBox of controls that wraps onto a second line when the screen is too narrow
    (a projector at 150% zoom is 853 CSS px wide), instead of cutting controls off."""
    return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap", align_items="flex-start",
                                                  max_width="100%"))


def name_control(control):
    """Let control's description take the width it needs, and repeat it as the tooltip: a
    control's accessible name and its visible label. Raises ValueError for a control a
    screen reader would announce without a name (no description, no text)."""
    name = getattr(control, "description", "") or control.tooltip
    if not name:
        raise ValueError(f"every control needs a description or a tooltip (its accessible "
                         f"name); this {type(control).__name__} has neither: pass description=...")
    if control.description and not isinstance(control, W.Button):
        control.style.description_width = "initial"
    control.tooltip = control.tooltip or name
    return control


def _slider(description, value, low, high, step=1, **kw):
    return W.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=False, **kw)


def _digit_slider(images, value=0, description="test digit"):
    return _slider(description, value, 0, len(images) - 1,
                   # 100% less the 2 px margin each side, or a narrow column overflows by 4 px
                   layout=W.Layout(width="500px", max_width="calc(100% - 4px)"))


def digit_browser(splits):
    """Pick a data set and a digit; see the digit and its pixel values (browse_digit).

    splits: {name: (images (N, H, W), labels (N,))}, e.g. {"train": (x_train, y_train)}.
    Introduced in notebooks/00_mnist.ipynb.
    """
    split = W.Dropdown(options=list(splits), description="images")
    index = _digit_slider(splits[split.value][0], description="index")
    # registered before FigureWidget's observer, so the slider's range is right when it draws
    split.observe(lambda change: setattr(index, "max", len(splits[change["new"]][0]) - 1),
                  names="value")
    return FigureWidget(lambda split, index: browse_digit(*splits[split], index),
                        {"split": split, "index": index}, [[split, index]])


def kernel_editor(images, preset="vertical edge"):
    """Type a 3x3 kernel (or pick a preset), padding and stride; see the feature map of a digit
    (plot_convolution). images: (N, H, W) raw digits. Introduced in notebooks/01_convolution.ipynb.
    """
    cells = {f"k{i}": W.FloatText(value=round(float(v), 4), layout=W.Layout(width="75px"),
                                  tooltip=f"kernel row {i // 3 + 1}, column {i % 3 + 1}")
             for i, v in enumerate(KERNEL_PRESETS[preset].ravel())}
    menu = W.Dropdown(options=list(KERNEL_PRESETS), value=preset, description="preset")
    controls = {"index": _digit_slider(images), "pad": _slider("padding", 0, 0, 6),
                "stride": _slider("stride", 1, 1, 6), **cells}

    def draw(index, pad, stride, **kernel):
        grid = np.array([kernel[f"k{i}"] for i in range(9)], dtype=float).reshape(3, 3)
        return plot_convolution(images[index], grid, pad, stride)

    grid = W.GridBox(list(cells.values()), layout=W.Layout(grid_template_columns="repeat(3, 80px)"))
    left = W.VBox([menu, controls["index"], controls["pad"], controls["stride"]])
    box = FigureWidget(draw, controls, [[left, W.VBox([W.Label("kernel (row by row)"), grid])]],
                       others={"preset": menu})

    def fill(change):
        box.paused = True           # nine cells change: one drawing, not nine
        for cell, value in zip(cells.values(), KERNEL_PRESETS[menu.value].ravel()):
            cell.value = round(float(value), 4)
        box.paused = False
        box.redraw()

    menu.observe(fill, names="value")
    return box


def pooling_explorer(images):
    """Pick a digit, an edge kernel, window size, stride and max/average; see the pooling
    windows and the pooled map (plot_pooling). Introduced in notebooks/02_pooling.ipynb.
    """
    controls = {"index": _digit_slider(images),
                "kernel": W.Dropdown(options=list(KERNEL_PRESETS), value="vertical edge",
                                     description="kernel"),
                "size": _slider("size", 2, 1, 8), "stride": _slider("stride", 2, 1, 8),
                "mode": W.ToggleButtons(options=["max", "average"], value="max", description="mode")}

    def draw(index, kernel, size, stride, mode):
        return plot_pooling(feature_map(images[index], KERNEL_PRESETS[kernel]), size, stride, mode)

    c = controls
    rows = [[W.VBox([c["index"], c["kernel"]]), W.VBox([c["size"], c["stride"], c["mode"]])]]
    return FigureWidget(draw, controls, rows)


def softmax_explorer(logits, label=0):
    """Ten vertical score sliders, the correct class and a temperature; see the softmax
    probabilities and the loss (plot_probabilities).
    Introduced in notebooks/03_softmax_and_cross_entropy.ipynb.
    """
    scores = {f"z{k}": W.FloatSlider(value=v, min=-10.0, max=10.0, step=0.1, description=str(k),
                                     orientation="vertical", readout_format=".1f",
                                     continuous_update=False, tooltip=f"score of class {k}",
                                     layout=W.Layout(height="170px", width="48px"))
              for k, v in enumerate(logits)}
    controls = {"label": W.Dropdown(options=list(range(len(scores))), value=label,
                                    description="correct digit"),
                "temperature": W.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.05,
                                                description="temperature", continuous_update=False),
                **scores}

    def draw(label, temperature, **z):
        return plot_probabilities(np.array([z[f"z{k}"] for k in range(len(z))]), label, temperature)

    rows = [list(scores.values()), [controls["label"], controls["temperature"]]]
    return FigureWidget(draw, controls, rows)


def activation_explorer(net, images, labels):
    """Pick a digit; see its feature maps and probabilities (plot_activations).

    Introduced in notebooks/04_forward_pass.ipynb.
    """
    controls = {"index": _digit_slider(images)}
    return FigureWidget(lambda index: plot_activations(net, images[index], int(labels[index])),
                        controls, [controls["index"]])


def pool_routing_explorer(x, dout, size=2, stride=2):
    """Pick a pooling window; see where its gradient goes (plot_pool_routing).

    x (H, W), dout (Hout, Wout). Introduced in notebooks/06_backprop_pooling.ipynb.
    """
    rows, cols = np.shape(dout)
    controls = {"i": _slider("window row", 0, 0, rows - 1), "j": _slider("window col", 0, 0, cols - 1)}
    return FigureWidget(lambda i, j: plot_pool_routing(x, dout, size, stride, window=(i, j)),
                        controls, [list(controls.values())])


def conv_touch_explorer(x, w, i=0, j=0):
    """Pick one output pixel, stride and padding; see what its gradient touches
    (plot_conv_touch). x (H, W), w (KH, KW).
    Introduced in notebooks/07_backprop_convolution.ipynb.
    """
    c = {"i": _slider("out row i", i, 0, 9), "j": _slider("out col j", j, 0, 9),
         "stride": _slider("stride", 1, 1, 3), "pad": _slider("pad", 0, 0, 2)}
    return FigureWidget(lambda i, j, stride, pad: plot_conv_touch(x, w, i, j, stride, pad), c,
                        [[c["i"], c["j"]], [c["stride"], c["pad"]]])


def digit_explorer(net, images, labels, index=0, probs=None, mistakes=20):
    """Pick a test digit, or one of the most confident mistakes; see the trained network's
    probabilities and feature maps for it (predict_view).

    images (N, H, W) raw digits, labels (N,); probs (N, K) if already computed.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    probs = net.predict_proba(to_input(images)) if probs is None else probs
    pred = probs.argmax(axis=1)
    picker = _digit_slider(images, index)
    menu = W.Dropdown(options=[("(choose a mistake)", -1)] +
                      [(f"#{i}: {labels[i]} → {pred[i]}", int(i))
                       for i in most_confident_mistakes(probs, labels, mistakes)],
                      description="mistakes")
    menu.observe(lambda change: setattr(picker, "value", change["new"]) if change["new"] >= 0
                 else None, names="value")
    return FigureWidget(lambda index: predict_view(net, images, index, labels),
                        {"index": picker}, [[picker, menu]], others={"mistakes": menu})


def transform_explorer(net, images, labels, index=0):
    """Shift and rotate a digit; see the network's answer before and after
    (plot_transform_effect). Introduced in notebooks/11_what_it_learned.ipynb.
    """
    c = {"index": W.BoundedIntText(value=index, min=0, max=len(images) - 1, description="digit #"),
         "dy": _slider("dy (down)", 0, -8, 8), "dx": _slider("dx (right)", 0, -8, 8),
         "angle": _slider("angle (°)", 0, -180, 180, step=5)}

    def draw(index, dy, dx, angle):
        return plot_transform_effect(net, images[index], labels[index], (dy, dx), angle)

    return FigureWidget(draw, c, [[c["index"], c["angle"]], [c["dy"], c["dx"]]])


def attack_explorer(net, inputs, labels, index=0, eps=0.1):
    """Pick a digit, an attack (FGSM, PGD, random signs), eps and a target; see the digit,
    the perturbation, the attacked digit and both sets of probabilities (attack_view).

    inputs (N, 1, H, W) network inputs (to_float), labels (N,); net must compute input
    gradients (cnnlib.saliency.with_input_gradient).
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    c = {"index": W.BoundedIntText(value=index, min=0, max=len(inputs) - 1, description="digit #"),
         "eps": W.FloatSlider(value=eps, min=0.0, max=0.3, step=0.01, description="ε",
                              readout_format=".2f", continuous_update=False),
         "attack": W.ToggleButtons(options=list(ATTACKS), value="FGSM", description="attack"),
         "target": W.Dropdown(options=[("any wrong answer", None)] + [(str(d), d) for d in range(10)],
                              value=None, description="target")}

    def draw(index, eps, attack, target):
        return attack_view(net, inputs[index:index + 1], int(labels[index]), eps, attack, target)

    return FigureWidget(draw, c, [[c["index"], c["eps"]], [c["attack"], c["target"]]])


def picture_html(board, width=800):
    """<img> of a TrainingDashboard: its PNG, its alt text (also the title, shown on hover),
    at most width CSS px wide and never wider than the notebook column."""
    png = base64.b64encode(board.png()).decode("ascii")
    alt = html.escape(board.alt_text(), quote=True)
    return (f'<img src="data:image/png;base64,{png}" alt="{alt}" title="{alt}" '
            f'style="width: {width}px; max-width: 100%; height: auto;"/>')


def training_dashboard(make_net, x, y, x_val=None, y_val=None, batch_size=32, max_epochs=10):
    """Controls (epochs, learning rate, Start, Stop) above a live TrainingDashboard picture.

    Start builds a fresh make_net() and trains it in a background thread. The thread is
    what makes Stop work: while a cell (or a button handler) is running, the kernel does
    not read widget messages, so a Stop click would only arrive after training ended.
    Here the handler returns at once, the kernel stays free, and the click sets a flag
    that the next dashboard update passes on to fit. The picture is
    refreshed with PNG bytes, which works from a thread and in every front end; it is an
    <img> in an ipywidgets.HTML (picture_html) so that it carries the board's alt text,
    which changes with the state (an ipywidgets.Image has no alt, and in ipywidgets 8.1
    its view fails to render when given a tooltip).
    Returns the widget; .board is the TrainingDashboard, .controls the sliders and buttons,
    .thread the last training thread (None before the first Start).
    Introduced in notebooks/08_training.ipynb.
    """
    board = TrainingDashboard(hint="Press Start to train: the loss (left) should fall and the "
                                   "accuracy (right) rise; the lower panels show each layer's "
                                   "health.")
    picture = W.HTML(value=picture_html(board), layout=W.Layout(max_width="100%"))
    board.on_draw = lambda b: setattr(picture, "value", picture_html(b))
    c = {"epochs": _slider("epochs", 3, 1, max_epochs),
         "lr": W.FloatLogSlider(0.05, base=10, min=-4, max=1, step=0.25, description="learning rate",
                                readout_format=".4f", continuous_update=False),
         "start": W.Button(description="Start", button_style="success", tooltip="start training"),
         "stop": W.Button(description="Stop", tooltip="stop after this batch")}
    for control in c.values():
        name_control(control)
    box = W.VBox([row(*c.values()), picture, SliderNames()], layout=W.Layout(max_width="100%"))
    box.add_class(BOX_CLASS)
    box.board, box.controls, box.picture, box.thread = board, c, picture, None

    def run():
        try:
            board.train(make_net(), x, y, c["epochs"].value, c["lr"].value, batch_size, x_val, y_val)
        except Exception as err:            # a thread's traceback would be invisible
            board.show_message(f"Training failed: {type(err).__name__}: {err}")
        finally:
            c["start"].disabled = False

    def on_start(_):
        if box.thread is not None and box.thread.is_alive():
            return                           # a second click while running does nothing
        c["start"].disabled = True
        board.stop_requested = False        # a Stop pressed while nothing ran does not count
        box.thread = threading.Thread(target=run, daemon=True)
        box.thread.start()

    c["start"].on_click(on_start)
    c["stop"].on_click(lambda _: board.stop())
    return box
