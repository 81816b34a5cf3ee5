"""What happens to the signal in a deep stack, and the pictures of notebook 12.

    acts, grads = signal_variances(net, x, y)    # variance per Linear layer, forward and back
    plot_signal({"He": (acts, grads)})            # both, per layer, on a log scale
    init_scale_explorer(x, y)                     # widget: pick the initial weights' scale
    plot_schedules({"cosine": rates})             # learning rate per epoch
    plot_augmented(images, rows)                  # a few digits and their moved copies

Introduced in notebooks/12_beyond_lenet.ipynb.
"""
import ipywidgets as W
import numpy as np

from ..architectures import plain_stack
from ..layers import Linear
from ..losses import softmax_cross_entropy
from .alt_text import set_alt_text
from .base import message_figure, note, show_digit, subplots
from .describe_trained import describe_signal
from .widgets import FigureWidget

__all__ = ["init_scale_explorer", "plot_augmented", "plot_schedules", "plot_signal",
           "signal_variances"]

RULES = {"He": "he", "Xavier/Glorot": "glorot"}


def signal_variances(net, x, y):
    """Variance of every Linear layer's output in the forward pass (over the batch and the
    units) and of the gradient of the loss with respect to that output in the backward pass.

    net: a Sequential; x, y: a batch and its labels. Returns two lists (one number per Linear
    layer, input side first). The first and last Linear layers are included.
    """
    outs, grads, z = [], [], x
    for layer in net.layers:
        z = layer.forward(z)
        if isinstance(layer, Linear):
            outs.append(float(np.var(z)))
    _, d = softmax_cross_entropy(z, y)
    for layer in reversed(net.layers):
        if isinstance(layer, Linear):
            grads.append(float(np.var(d)))
        d = layer.backward(d)
    return outs, grads[::-1]


def plot_signal(runs, axes=None, figsize=(10, 3.4)):
    """Two panels: forward variance and backward (gradient) variance per layer, log scale.

    runs: {label: (acts, grads)} as signal_variances returns them.
    """
    if axes is None:
        fig, axes = subplots(1, 2, figsize=figsize, layout="constrained")
    fig = axes[0].figure
    finite = True
    for label, (acts, grads) in runs.items():
        layers = np.arange(1, len(acts) + 1)
        for ax, values in zip(axes, (acts, grads)):
            v = np.asarray(values, dtype=float)
            ok = np.isfinite(v) & (v > 0)
            finite &= bool(ok.all())
            ax.semilogy(layers[ok], v[ok], marker="o", ms=3, label=label)
    for ax, title in zip(axes, ("forward: variance of each layer's output",
                                "backward: variance of the gradient at each layer")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("layer (input side = 1)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("variance (log scale)")
    axes[0].legend(fontsize=8)
    if not finite:
        note(axes[1], "values of 0, inf or NaN are left out")
    return set_alt_text(fig, describe_signal(runs))


def init_scale_explorer(x, y, depth=15, width=128):
    """Pick how the weights of a plain depth-layer ReLU stack (no BatchNorm) are drawn: He,
    Xavier/Glorot, or a fixed standard deviation on a slider; see the variance of the
    signal per layer forward and backward (plot_signal), He drawn for comparison.

    x: float images (N, 1, 28, 28); y: labels (N,).
    """
    def variances(init):
        net = plain_stack(depth=depth, width=width, batchnorm=False, init=init,
                          dtype=np.float64)
        return signal_variances(net, x.astype(np.float64), y)

    he = variances("he")

    def draw(rule, std):
        init = RULES.get(rule, std)
        label = rule if rule in RULES else f"std {std:.3g}"
        try:
            with np.errstate(all="ignore"):
                mine = variances(init)
        except ValueError as err:
            return message_figure(f"Cannot draw this setting: {err}")
        return plot_signal({label: mine} if rule == "He" else {label: mine, "He": he})

    c = {"rule": W.Dropdown(options=["fixed std", "Xavier/Glorot", "He"], value="fixed std",
                            description="weights"),
         "std": W.FloatLogSlider(value=0.01, base=10, min=-3, max=0, step=0.1,
                                 description="std", continuous_update=False,
                                 readout_format=".3f")}
    return FigureWidget(draw, c, [[c["rule"], c["std"]]])


def plot_schedules(schedules, ax=None, figsize=(6, 3.2)):
    """The learning rate of each epoch for every schedule: {label: rates per epoch}."""
    if ax is None:
        fig, ax = subplots(figsize=figsize, layout="constrained")
    for label, rates in schedules.items():
        ax.plot(np.arange(1, len(rates) + 1), rates, marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("learning-rate schedules", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return set_alt_text(ax.figure, "Line plot of the learning rate per epoch for "
                        + ", ".join(f"{k} (from {v[0]:.2g} to {v[-1]:.2g})"
                                    for k, v in schedules.items()) + ".")


def plot_augmented(images, rows, figsize=None):
    """A grid: first column the original digits (float, x/255 - 0.5), then one column per
    entry of rows = {title: moved copies of the same digits}."""
    n = len(images)
    cols = 1 + len(rows)
    fig, axes = subplots(n, cols, figsize=figsize or (1.4 * cols, 1.4 * n), squeeze=False,
                         layout="constrained")
    for j, (title, batch) in enumerate([("original", images), *rows.items()]):
        for i in range(n):
            show_digit(axes[i, j], (np.asarray(batch[i]).reshape(28, 28) + 0.5) * 255)
        axes[0, j].set_title(title, fontsize=8)
    return set_alt_text(fig, f"{n} digits (first column) and, in the next columns, copies "
                             f"moved by {', '.join(rows)}.")
