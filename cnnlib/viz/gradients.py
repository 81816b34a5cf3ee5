"""Pictures of where gradients go: a max-pooling window routing its gradient to
the winner, and one convolution output pixel sending gradient to a patch of the
input and to every weight of its filter.

Both functions take single-channel 2-D arrays and return a matplotlib Figure made
with cnnlib.viz.base (shown once by the caller). Impossible requests (a window or pixel that does not exist, a kernel
larger than the input) give a figure with an explanation instead of a traceback,
so a widget slider can never break the notebook.

Introduced in notebooks/06_backprop_pooling.ipynb and
notebooks/07_backprop_convolution.ipynb.
"""

import numpy as np
from matplotlib.patches import Rectangle

from ..conv import conv2d_backward_loop, conv2d_loop
from ..pool import maxpool_backward_loop, maxpool_loop
from .alt_text import set_alt_text
from .base import DIVERGING, MESSAGE_COLOR, annotate, message_figure, panels, symmetric_limit
from .describe import describe_conv_touch, describe_pool_routing

__all__ = ["heatmap", "outline", "plot_conv_touch", "plot_pool_routing", "WINDOW"]

WINDOW = "orange"     # the window / patch being explained; stands out on red and on blue


def heatmap(ax, a, title):
    """Draw 2-D array `a` on `ax` with a symmetric colour scale (blue < 0 < red); write the
    numbers into the cells when the array is small (at most 10 x 10)."""
    a = np.asarray(a, dtype=float)
    limit = symmetric_limit(a)
    ax.imshow(a, cmap=DIVERGING, vmin=-limit, vmax=limit)
    size = 8 if a.shape[1] <= 8 else 6      # smaller digits so wide arrays stay legible
    annotate(ax, a, limit, fmt="{:.2g}", max_cells=100 if max(a.shape) <= 10 else 0, fontsize=size)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def outline(ax, row, col, height, width, color="black", style="-"):
    """Draw a rectangle around cells row..row+height-1, col..col+width-1."""
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False,
                           edgecolor=color, linewidth=2.5, linestyle=style))


def plot_pool_routing(x, dout, size=2, stride=2, window=None):
    """Max-pool backward on one channel: input x, upstream gradient dout and the
    resulting dx, with each window's winner outlined.

    x: (H, W) input of the pooling layer; dout: (Hout, Wout) with
    Hout = (H - size) // stride + 1. window: optional (i, j) of one output pixel
    whose window is outlined in orange. Positions that tie with the winner but receive
    nothing are outlined with dashes. Returns the matplotlib Figure.
    Introduced in notebooks/06_backprop_pooling.ipynb.
    """
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    if x.ndim != 2 or dout.ndim != 2:
        return message_figure(f"x and dout must be 2-D; got shapes {x.shape} and {dout.shape}.")
    try:
        out = maxpool_loop(x[None, None], size, stride)[0, 0]
    except ValueError as err:
        return message_figure(str(err))
    if dout.shape != out.shape:
        return message_figure(f"dout must have the pooled shape {out.shape}; got {dout.shape}.")
    dx = maxpool_backward_loop(dout[None, None], x[None, None], size, stride)[0, 0]
    fig, axes = panels(3, figsize=(11, 3.8))
    heatmap(axes[0], x, "input x (winners outlined)")
    heatmap(axes[1], dout, "upstream gradient dout")
    heatmap(axes[2], dx, "dx = gradient routed to winners")
    winners, ties = [], 0
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            win = x[i * stride:i * stride + size, j * stride:j * stride + size]
            p, q = np.unravel_index(np.argmax(win), win.shape)
            winners.append(((i, j), (i * stride + p, j * stride + q)))
            for ax in (axes[0], axes[2]):
                outline(ax, i * stride + p, j * stride + q, 1, 1)
            for p2, q2 in zip(*np.nonzero(win == win.max())):
                if (p2, q2) != (p, q):
                    ties += 1
                    outline(axes[0], i * stride + p2, j * stride + q2, 1, 1, "grey", "--")
    set_alt_text(fig, describe_pool_routing(x, dout, winners, ties))
    if window is not None:
        i, j = window
        if not (0 <= i < out.shape[0] and 0 <= j < out.shape[1]):
            axes[1].set_xlabel(f"window {window} does not exist: "
                               f"choose i < {out.shape[0]}, j < {out.shape[1]}", color=MESSAGE_COLOR)
        else:
            for ax in (axes[0], axes[2]):
                outline(ax, i * stride, j * stride, size, size, WINDOW)
            outline(axes[1], i, j, 1, 1, WINDOW)
    fig.tight_layout()
    return fig


def plot_conv_touch(x, w, i, j, stride=1, pad=0):
    """What the gradient of ONE convolution output pixel (i, j) touches.

    x: (H, W) input; w: (KH, KW) kernel. Runs conv2d_backward_loop with an
    upstream gradient that is 1 at (i, j) and 0 elsewhere, and draws four panels:
    the padded input with the patch outlined (orange), the output with (i, j) outlined,
    dx (a copy of the kernel placed over the patch) and dw (a copy of the patch).
    Returns the matplotlib Figure. Introduced in notebooks/07_backprop_convolution.ipynb.
    """
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if x.ndim != 2 or w.ndim != 2:
        return message_figure(f"x and w must be 2-D; got shapes {x.shape} and {w.shape}.")
    try:
        out = conv2d_loop(x[None, None], w[None, None], np.zeros(1), stride, pad)[0, 0]
    except ValueError as err:
        return message_figure(str(err))
    ho, wo = out.shape
    if not (0 <= i < ho and 0 <= j < wo):
        return message_figure(f"Output pixel ({i}, {j}) does not exist: the output is "
                              f"{ho} x {wo}, so choose 0 <= i < {ho} and 0 <= j < {wo}.")
    dout = np.zeros((1, 1, ho, wo))
    dout[0, 0, i, j] = 1.0
    dx, dw, _ = conv2d_backward_loop(dout, x[None, None], w[None, None], stride, pad)
    kh, kw = w.shape
    xp = np.pad(x, pad)
    fig, axes = panels(4, figsize=(14, 3.8))
    heatmap(axes[0], xp, f"input (pad={pad}), patch of ({i}, {j})")
    outline(axes[0], i * stride, j * stride, kh, kw, WINDOW)
    if pad:
        outline(axes[0], pad, pad, x.shape[0], x.shape[1], "grey", "--")
    heatmap(axes[1], out, f"output, pixel ({i}, {j})")
    outline(axes[1], i, j, 1, 1, WINDOW)
    heatmap(axes[2], dx[0, 0], "dx when dout = 1 at that pixel")
    r0, c0 = i * stride - pad, j * stride - pad
    outline(axes[2], r0, c0, kh, kw, WINDOW)
    axes[2].set_xlim(-0.5, x.shape[1] - 0.5)
    axes[2].set_ylim(x.shape[0] - 0.5, -0.5)
    heatmap(axes[3], dw[0, 0], "dw when dout = 1 at that pixel")
    set_alt_text(fig, describe_conv_touch(i, j, stride, pad, w.shape, (i * stride, j * stride),
                                          out.shape))
    fig.tight_layout()
    return fig
