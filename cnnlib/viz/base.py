"""What every picture in cnnlib.viz does, written once.

    fig, axes = subplots(1, 3, figsize=(11, 4))   # a Figure pyplot does not know about
    say(axes[2], "stride must be >= 1")             # a message in place of a picture
    x = scale_pixels(digit)                         # raw pixels 0..255 -> x / 255
    show_digit(axes[0], digit)                      # raw pixels drawn on the scale 0..255

Figures are detached from pyplot (made with plt.figure, then plt.close): pyplot's
inline backend shows every figure it still holds at the end of a cell, so a figure
that is also the cell's value (or passed to display) would appear twice. Detached,
it appears exactly once, wherever the caller shows it.

A drawing that a widget calls never raises for a setting a student can reach (a
window larger than the image, a NaN in a kernel): it writes the reason into the
figure with say, note or footnote, all in MESSAGE_COLOR.

Colours that carry a sign (weights, gradients, feature maps) use DIVERGING, a
red-white-blue map that colour-blind readers can read (no red-green contrast).
Only the other cnnlib.viz modules use this one; notebooks call those.

Presentation scale (cnnlib.viz.presentation, re-exported here): after
set_presentation_scale(1.6), or with CNNLIB_PRESENTATION_SCALE=1.6, figure() draws every
new figure with the same pixels and 1.6 times larger text, and panels() puts fewer panels
in a row, so the course is readable on a projector.
"""
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np

from .presentation import (PROJECTOR, PROJECTOR_SCALE, presentation_scale,  # noqa: F401
                           set_presentation_scale, text_px)

DIVERGING = "RdBu_r"        # blue < 0 < red, white at 0
MESSAGE_COLOR = "darkred"
__all__ = ["DIVERGING", "MESSAGE_COLOR", "figure", "panels", "subplots", "axes_or_new", "say",
           "message_figure", "note", "annotate", "show_digit", "footnote", "symmetric_limit",
           "scale_pixels", "presentation_scale", "set_presentation_scale", "text_px",
           "PROJECTOR", "PROJECTOR_SCALE"]

def figure(figsize=(6, 4), **kw):
    """A new matplotlib Figure, detached from pyplot so that the caller shows it once.

    kw go to plt.figure (layout="constrained", dpi=...). At presentation scale s the
    figure is figsize / s inches at s times the dpi: the same pixels, s times larger text.
    """
    scale = presentation_scale()
    if scale != 1.0:
        kw["dpi"] = (kw.get("dpi") or plt.rcParams["figure.dpi"]) * scale
        figsize = (figsize[0] / scale, figsize[1] / scale)
    fig = plt.figure(figsize=figsize, **kw)
    plt.close(fig)
    return fig


def panels(n, figsize, **kw):
    """(fig, axes) for n equal panels side by side, figsize=(width, height) for one row;
    axes is a flat array of n axes, in reading order.

    At presentation scale s > 1 there are fewer panels per row, ceil(n / s), each keeping
    its width: on a projector the figure's pixel width then fits the notebook column, so it
    is shrunk less and its text stays readable. Unused cells of the last row are hidden.
    """
    cols = max(1, min(n, math.ceil(n / presentation_scale())))
    rows = math.ceil(n / cols)
    cols = math.ceil(n / rows)          # balanced: 4 panels as 2 + 2, not 3 + 1
    fig, axes = subplots(rows, cols, figsize=(figsize[0] * cols / n, figsize[1] * rows),
                         squeeze=False, **kw)
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, axes.flat[:n]


def subplots(nrows=1, ncols=1, figsize=(6, 4), layout=None, **kw):
    """(fig, axes) like plt.subplots, with the figure detached (see figure).

    kw go to Figure.subplots (squeeze, width_ratios, gridspec_kw, ...).
    """
    fig = figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **kw)


def axes_or_new(ax, figsize):
    """ax itself, or the single axes of a new detached figure when ax is None."""
    return subplots(figsize=figsize)[1] if ax is None else ax


def say(ax, message, width=40, fontsize=10):
    """Empty ax and write message (wrapped to `width` characters) in its middle."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, textwrap.fill(message, width), ha="center", va="center",
            transform=ax.transAxes, fontsize=fontsize, color=MESSAGE_COLOR)
    return ax.figure


def message_figure(message, figsize=(6, 2)):
    """A figure that only says message: what a drawing returns instead of raising."""
    return say(subplots(figsize=figsize)[1], message, width=70, fontsize=11)


def note(ax, message, fontsize=8):
    """A small note in the lower left corner of ax, over the plot (e.g. "points left out")."""
    ax.text(0.02, 0.02, message, transform=ax.transAxes, fontsize=fontsize,
            color=MESSAGE_COLOR, va="bottom", wrap=True)


def footnote(fig, message, width=110):
    """A note under all the axes, after making room so it cannot cover tick labels."""
    fig.subplots_adjust(bottom=0.22)
    fig.text(0.5, 0.01, textwrap.fill(message, width), ha="center", va="bottom",
             fontsize=9, color=MESSAGE_COLOR)


def annotate(ax, values, limit, fmt="{:.3g}", max_cells=64, fontsize=10):
    """Write each cell's number on a small image of values (skipped when there are more
    than max_cells cells); white on cells darker than 0.6 * limit, so it stays legible."""
    values = np.asarray(values)
    if values.size > max_cells:
        return
    for (r, c), v in np.ndenumerate(values):
        dark = np.isfinite(v) and abs(v) > 0.6 * limit
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black")


def show_digit(ax, image, title=None, fontsize=9, color="black"):
    """Draw raw pixels 0..255 (uint8, or float after transform_digit) as dark ink on white,
    on the fixed scale 0..255 so that a faint digit looks faint, without axes."""
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=fontsize, color=color)


def symmetric_limit(values):
    """max |finite value|, for a colour scale from -limit to +limit; 1 when that is 0 or
    there is no finite value, so that nothing divides by zero."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0


def scale_pixels(images, center=False):
    """Raw pixels 0..255 (uint8, or floats such as cnnlib.augment.transform_digit returns)
    -> float64 x / 255 in [0, 1], or with center=True x / 255 - 0.5, the network's input
    scaling (cnnlib.data.to_float). One rule for every dtype: an image is always raw pixels.

    Any shape. Raises ValueError for non-numeric or NaN / infinite pixels.
    """
    x = np.asarray(images)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"pixels must be numbers 0..255; got dtype {x.dtype}.")
    x = x.astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise ValueError(f"the image has {bad} NaN or infinite pixel(s); pass raw pixels "
                         f"0..255.")
    return x / 255 - 0.5 if center else x / 255
