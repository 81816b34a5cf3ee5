"""A drawn digit through MNIST's preprocessing, and what the trained network reads in it.

    plot_preprocessing(image)               # the steps as pictures: drawing and ink box, the
                                            # box cut out, scaled to fit 20x20, centred in 28x28
    plot_without_preprocessing(net, image)  # the drawing shrunk to 28x28 as it is, against the
                                            # preprocessed digit: what the network reads in each
    drawing_view(net, image)                # all of it with the feature maps: the drawing
                                            # widget's picture (cnnlib.viz.canvas)

image is a drawing (H, W), raw pixels 0..255 with ink high, e.g. from
cnnlib.data.strokes.render_strokes; the steps are cnnlib.data.preprocess's. drawing_view
never raises: an empty canvas or a bad image is explained in the figure.

Introduced in notebooks/11_what_it_learned.ipynb.
"""
import numpy as np
from matplotlib.patches import Rectangle

from ..data.preprocess import BOX, center_of_mass, preprocess, resize
from .alt_text import set_alt_text
from .base import figure, message_figure, presentation_scale, show_digit
from .probabilities import probability_bars
from .trained import conv_map_layers, layer_outputs, plot_layer_maps, to_input

__all__ = ["drawing_view", "plot_preprocessing", "plot_without_preprocessing", "shrink"]

MARK = "tab:orange"      # box outline and centre marks: visible on grey ink, colour-blind safe


def shrink(image, size=28):
    """The drawing shrunk to size x size as it is (no box, no centring): uint8 0..255."""
    return np.clip(np.rint(resize(image, (size, size))), 0, 255).astype(np.uint8)


def _steps(axes, image, steps):
    """Draw the four steps of preprocess into four axes."""
    (r0, r1, c0, c1), small, digit = steps.box, steps.small, steps.digit
    show_digit(axes[0], image, f"1. drawing {image.shape[0]}×{image.shape[1]},\n"
               f"ink box {r1 - r0}×{c1 - c0}")
    axes[0].add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, lw=1.5,
                                ec=MARK))
    show_digit(axes[1], steps.crop, "2. the box cut out")
    frame = np.zeros((BOX, BOX))
    frame[:small.shape[0], :small.shape[1]] = small
    show_digit(axes[2], frame, f"3. scaled to fit {BOX}×{BOX}:\n"
               f"{small.shape[0]}×{small.shape[1]}, aspect kept")
    cy, cx = center_of_mass(digit)
    show_digit(axes[3], digit, f"4. in 28×28, centre of\nmass ({cy:.1f}, {cx:.1f}) → +")
    axes[3].plot([14], [14], "+", color=MARK, ms=14, mew=2)
    for ax in axes:                # a frame shows each picture's size (the canvas too)
        ax.set_axis_on(), ax.set_xticks([]), ax.set_yticks([])


def plot_preprocessing(image):
    """MNIST's preprocessing of one drawing as four pictures (see cnnlib.data.preprocess).

    ValueError for an empty canvas or a bad image. Returns the Figure.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    steps = preprocess(image)
    fig = figure(figsize=(11, 3.3), layout="constrained")
    _steps(fig.subplots(1, 4), np.asarray(image, dtype=np.float64), steps)
    (r0, r1, c0, c1), (h, w) = steps.box, steps.small.shape
    return set_alt_text(fig, f"MNIST's preprocessing of the drawing: the ink fills a box of "
                             f"{r1 - r0} by {c1 - c0} pixels, scaled to {h} by {w} so the longer "
                             f"side is {BOX}, then placed in 28 by 28 with its centre of mass in "
                             f"the middle.")


def _read(net, digit):
    p = net.predict_proba(to_input(digit))[0]
    return p, int(p.argmax())


def _compare(axes, net, image, steps):
    """Top: the drawing shrunk as it is and the preprocessed digit; below: what net reads."""
    readings = []
    for (ax_img, ax_bar), digit, name in zip(axes, (shrink(image), steps.digit),
                                             ("shrunk as drawn", "preprocessed")):
        p, d = _read(net, digit)
        if ax_img is not None:     # None: the picture is on show elsewhere
            show_digit(ax_img, digit, f"{name} (28×28)")
            ax_img.set_axis_on(), ax_img.set_xticks([]), ax_img.set_yticks([])
        probability_bars(ax_bar, p, None, f"{name}: reads {d} ({p[d]:.0%})")
        readings.append((d, p[d]))
    return readings


def _said(readings):
    (d0, p0), (d1, p1) = readings
    return (f"The network reads the preprocessed digit as {d1} ({p1:.0%}); the drawing shrunk "
            f"to 28 by 28 without preprocessing it reads as {d0} ({p0:.0%}).")


def plot_without_preprocessing(net, image):
    """What net reads in the drawing shrunk to 28x28 as it is, and in the preprocessed digit:
    both pictures with their ten probabilities. ValueError for an empty canvas or a bad
    image. Returns the Figure. Introduced in notebooks/11_what_it_learned.ipynb.
    """
    steps = preprocess(image)
    fig = figure(figsize=(7, 5), layout="constrained")
    axes = fig.subplots(2, 2, height_ratios=[1, 0.9])
    readings = _compare(axes.T, net, np.asarray(image, dtype=np.float64), steps)
    return set_alt_text(fig, _said(readings))


def drawing_view(net, image):
    """The drawing widget's picture: the four preprocessing steps, the drawing shrunk as it
    is, what net reads in both, and the feature maps of its first two conv layers for the
    preprocessed digit. Never raises: a problem is explained in the figure.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    try:
        steps = preprocess(image)
    except ValueError as err:
        fig = message_figure(f"{err} Drag the mouse (or a finger) over the canvas.")
        return set_alt_text(fig, str(err))
    image = np.asarray(image, dtype=np.float64)
    # three rows, 9 inches wide: titles stay readable when a projector shows it small; with
    # the presentation scale's larger text the five steps take two rows, or titles collide
    big = presentation_scale() > 1
    fig = figure(figsize=(9, 12.4 if big else 9.4), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[2 if big else 1, 0.95, 1.45])
    row = top.subplots(2, 3).ravel() if big else top.subplots(1, 5)
    if big:
        row[5].set_visible(False)
    _steps(row[:4], image, steps)
    readings = _compare(zip([row[4], None], middle.subplots(1, 2)), net, image, steps)
    outs = layer_outputs(net, steps.digit)
    for ax, i in zip(bottom.subplots(1, 2), conv_map_layers(net)[:2]):   # 16 maps -> 4x4
        plot_layer_maps(net, steps.digit, [i], ncols=int(np.ceil(np.sqrt(len(outs[i])))),
                        axes=[ax])
    return set_alt_text(fig, _said(readings) + " Below: its probabilities and the feature maps "
                             "of both convolution layers for the preprocessed digit.")

