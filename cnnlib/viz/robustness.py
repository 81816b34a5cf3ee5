"""How robust a trained network is: the same digit shifted or rotated, with the network's
probabilities before and after (plot_transform_effect, the view behind the widget), and the
accuracy on many moved digits (transform_accuracy, plot_transform_accuracy).

Digits are raw pixels 0..255 moved with cnnlib.augment.transform_digit and turned into the
network's input by to_input. Drawings return a Figure made with cnnlib.viz.base.

Introduced in notebooks/11_what_it_learned.ipynb.
"""
import numpy as np

from ..augment import transform_digit
from .activations import to_input
from .alt_text import set_alt_text
from .base import figure, footnote, say, show_digit
from .describe_trained import describe_transform, describe_transform_accuracy
from .probabilities import probability_bars

__all__ = ["plot_transform_accuracy", "plot_transform_effect", "transform_accuracy"]


def plot_transform_effect(net, image, label=None, shift=(0, 0), angle=0.0):
    """Original digit and its shifted/rotated copy, each with the network's probabilities.

    Never raises (a bad setting is explained in the figure). Returns the Figure.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    fig = figure(figsize=(11, 3.2))
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1.4, 1, 1.4]})
    try:
        moved = transform_digit(image, shift, angle)
        pairs = [(np.asarray(image, float), "original"),
                 (moved, f"shift (dy, dx) = ({shift[0]:g}, {shift[1]:g}), {angle:g}°")]
        probs = net.predict_proba(to_input(np.stack([d for d, _ in pairs])))
    except (ValueError, TypeError, IndexError) as err:
        for ax in axes:
            ax.set_axis_off()
        say(axes[1], f"Cannot transform this digit: {err}")
        return fig
    for k, ((digit, name), p) in enumerate(zip(pairs, probs)):
        show_digit(axes[2 * k], digit, name)
        probability_bars(axes[2 * k + 1], p, label, f"predicted {p.argmax()} ({p.max():.0%})")
    fig.tight_layout()
    if not moved.any():
        footnote(fig, "The digit has left the picture (blank input).")
    return set_alt_text(fig, describe_transform(probs[0], probs[1], label, shift, angle))


def transform_accuracy(net, images, labels, shifts=(), angles=()):
    """Accuracy on images moved right by each dx in shifts (dy = 0), and rotated by each
    angle in angles. Returns two lists of floats. Introduced in notebooks/11_what_it_learned.ipynb.
    """
    labels = np.asarray(labels)

    def acc(**kw):
        moved = np.stack([transform_digit(im, **kw) for im in images])
        return float((net.predict(to_input(moved)) == labels).mean())

    return [acc(shift=(0, dx)) for dx in shifts], [acc(angle=a) for a in angles]


def plot_transform_accuracy(shifts, shift_acc, angles, angle_acc):
    """Two panels: accuracy against horizontal shift (pixels) and against rotation (degrees).

    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    fig = figure(figsize=(10, 3))
    for ax, xs, ys, name in zip(fig.subplots(1, 2), (shifts, angles), (shift_acc, angle_acc),
                                ("shift right by dx (pixels)", "rotation (degrees)")):
        ax.plot(xs, ys, "o-")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(name)
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return set_alt_text(fig, describe_transform_accuracy(shifts, shift_acc, angles, angle_acc))
