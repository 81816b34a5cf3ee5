"""Drawings behind the widgets of the convolution and pooling notebooks.

Every function here draws into a matplotlib figure and never raises for a bad
setting typed into a widget (NaN in a kernel, a window larger than the image):
it writes the reason into the figure and returns it, so the student sees why.
As in cnnlib.viz.digits, a figure made here is closed from pyplot before it is
returned: the caller shows it once (as a cell's last value or with display(fig)).

Introduced in notebooks/01_convolution.ipynb (kernels, feature maps) and
notebooks/02_pooling.ipynb (plot_pooling).
"""
import textwrap
from collections import namedtuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..checks import output_size
from ..conv import conv2d_fast
from ..pool import avgpool_fast, maxpool_fast

# figure: the matplotlib Figure; shape: output (rows, cols) or None; message: "" if all is well
Drawn = namedtuple("Drawn", "figure shape message")
MAX_PIXELS = 250_000  # larger feature maps are refused (they only come from absurd padding)

KERNEL_PRESETS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
    "vertical edge": np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], float),
    "horizontal edge": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], float),
    "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "Sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "random (seeded)": np.round(np.random.default_rng(0).normal(size=(3, 3)), 2),
}


def as_image(image):
    """A float64 image (any shape): raw uint8 pixels are scaled to [0, 1], floats are kept.

    Introduced in notebooks/01_convolution.ipynb.
    """
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float64) / 255
    return image.astype(np.float64)


def conv_problem(shape, kernel, pad=0, stride=1):
    """Check convolution settings for an image of `shape` (H, W).

    Returns (out_shape, message): out_shape is (Hout, Wout) with
    Hout = (H + 2*pad - KH) // stride + 1, or None when no output exists;
    message explains the problem or oddity ("" when there is none).
    Introduced in notebooks/01_convolution.ipynb.
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or kernel.size == 0:
        return None, f"The kernel must be a 2-D grid of numbers; got shape {kernel.shape}."
    bad = np.argwhere(~np.isfinite(kernel))
    if len(bad):
        r, c = bad[0]
        return None, (f"Kernel cell (row {r}, column {c}) is {kernel[r, c]}: "
                      "every cell needs a finite number.")
    for name, value, low in (("pad", pad, 0), ("stride", stride, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            return None, f"{name} must be a whole number >= {low}; got {value!r}."
    try:
        out = tuple(output_size(n, k, stride, pad) for n, k in zip(shape, kernel.shape))
    except ValueError as err:
        return None, f"No output: {err}"
    notes = []
    room = min(n + 2 * pad - k for n, k in zip(shape, kernel.shape))  # how far it can slide
    if 1 < stride and room < stride:
        notes.append(f"stride {stride} is more than the kernel can slide ({room} px): "
                     "only one window position fits along that side.")
    elif stride > max(kernel.shape):
        notes.append(f"stride {stride} > kernel size: some pixels are in no window.")
    if out[0] * out[1] > MAX_PIXELS:
        return None, (f"The output would be {out[0]}×{out[1]} pixels, too large to draw; "
                      "use less padding.")
    if pad >= max(kernel.shape):
        notes.append(f"pad {pad} >= kernel size: the outer outputs see only padding zeros.")
    return out, " ".join(notes)


def feature_map(image, kernel, pad=0, stride=1):
    """Slide one 2-D kernel over one 2-D image (cnnlib.conv.conv2d_fast, bias 0).

    image (H, W), kernel (KH, KW) -> feature map (Hout, Wout).
    Introduced in notebooks/01_convolution.ipynb.
    """
    x = as_image(image)[None, None]
    w = np.asarray(kernel, dtype=np.float64)[None, None]
    return conv2d_fast(x, w, np.zeros(1), stride, pad)[0, 0]


def _limit(values):
    """Symmetric colour limit; 1 for an all-zero (or empty) array, so nothing divides by 0."""
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return m if m > 0 else 1.0


def _annotate(ax, values, limit, fmt="{:.3g}", max_cells=64, fontsize=10):
    """Write each cell's number on a small grid (skipped when there are too many cells)."""
    if values.size > max_cells:
        return
    for (r, c), v in np.ndenumerate(values):
        dark = np.isfinite(v) and abs(v) > 0.6 * limit
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black")


def _say(ax, message):
    """Write a message in the middle of an (emptied) axes."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, textwrap.fill(message, 32), ha="center", va="center",
            transform=ax.transAxes, fontsize=10, color="darkred")


def _footnote(fig, message, width):
    """Write message in red under the axes, after making room so it cannot cover tick labels."""
    fig.subplots_adjust(bottom=0.22)
    fig.text(0.5, 0.01, textwrap.fill(message, width), ha="center", va="bottom",
             fontsize=9, color="darkred")


def plot_convolution(image, kernel, pad=0, stride=1, axes=None):
    """Draw input (padded), kernel with its numbers and the feature map side by side.

    image: (H, W) uint8 or float; kernel: (KH, KW). The window under output
    pixel (0, 0) is outlined in orange on the input and on the output.
    axes: three matplotlib axes, or None for a new figure.
    Returns Drawn(figure, (Hout, Wout) or None, message).
    Introduced in notebooks/01_convolution.ipynb.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 0.6, 1]})
        plt.close(fig)
    ax_in, ax_k, ax_out = axes
    fig = ax_in.figure
    img = as_image(image)
    kern = np.asarray(kernel, dtype=float)
    out_shape, message = conv_problem(img.shape, kern, pad, stride)
    shown = np.pad(img, pad) if out_shape is not None and pad else img
    ax_in.imshow(shown, cmap="gray")
    ax_in.set_title(f"input {img.shape[0]}×{img.shape[1]}" + (f", pad {pad}" if pad else ""))
    if pad and out_shape is not None:
        ax_in.add_patch(Rectangle((pad - 0.5, pad - 0.5), img.shape[1], img.shape[0],
                                  fill=False, ec="deepskyblue", ls="--"))
    if kern.ndim == 2 and kern.size:
        finite = np.where(np.isfinite(kern), kern, 0.0)
        lim = _limit(finite)
        ax_k.imshow(finite, cmap="RdBu_r", vmin=-lim, vmax=lim)
        _annotate(ax_k, kern, lim)
        ax_k.set_title(f"kernel {kern.shape[0]}×{kern.shape[1]}")
    ax_k.set_xticks([]), ax_k.set_yticks([])
    if out_shape is None:
        _say(ax_out, message)
        return Drawn(fig, None, message)
    ax_in.add_patch(Rectangle((-0.5, -0.5), kern.shape[1], kern.shape[0], fill=False, ec="orange", lw=2))
    fmap = feature_map(img, kern, pad, stride)
    lim = _limit(fmap)
    ax_out.imshow(fmap, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax_out.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="orange", lw=2))
    h = img.shape[0]
    ax_out.set_title(f"feature map {out_shape[0]}×{out_shape[1]}\n"
                     f"({h} + 2·{pad} − {kern.shape[0]}) // {stride} + 1 = {out_shape[0]}")
    if not np.any(fmap):
        message = (message + " Flat map: every output is 0.").strip()
    if message:
        _footnote(fig, message, 110)
    return Drawn(fig, out_shape, message)


def plot_feature_maps(maps, titles=None, ncols=4, size=2.2):
    """Show several feature maps in a grid, each with its own symmetric colour scale.

    maps: (F, H, W) or (1, F, H, W); titles: F strings (default "map k").
    Returns the figure. A flat map gets "(flat)" in its title.
    Introduced in notebooks/01_convolution.ipynb.
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3 or maps.shape[0] == 0:
        fig, ax = plt.subplots(figsize=(4, 2))
        plt.close(fig)
        _say(ax, f"Expected maps of shape (F, H, W); got {maps.shape}.")
        return fig
    n = maps.shape[0]
    titles = list(titles) if titles is not None else [f"map {k}" for k in range(n)]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    plt.close(fig)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if k >= n:
            ax.set_axis_off()
            continue
        lim = _limit(maps[k])
        ax.imshow(maps[k], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(titles[k] + ("" if np.any(maps[k]) else " (flat)"), fontsize=9)
    fig.tight_layout()
    return fig


def pool_problem(shape, size, stride, mode="max"):
    """Check pooling settings for a map of `shape` (H, W); returns (out_shape, message)
    like conv_problem, with Hout = (H - size) // stride + 1.

    Introduced in notebooks/02_pooling.ipynb.
    """
    if mode not in ("max", "average"):
        return None, f"mode must be 'max' or 'average'; got {mode!r}."
    for name, value in (("size", size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            return None, f"{name} must be a whole number >= 1; got {value!r}."
    if size > min(shape):
        return None, (f"No output: the pooling window ({size}×{size}) is larger than the "
                      f"feature map ({shape[0]}×{shape[1]}); choose size <= {min(shape)}.")
    out = tuple(output_size(n, size, stride, 0, what="pooling window") for n in shape)
    notes = []
    if stride > size:
        notes.append(f"stride {stride} > size {size}: pixels between windows are never looked at.")
    left = [n - ((o - 1) * stride + size) for n, o in zip(shape, out)]  # fit in no window
    if any(left):
        notes.append(f"the last {left[0]} row(s) and {left[1]} column(s) fit no window "
                     "and are dropped.")
    return out, " ".join(notes)


def plot_pooling(feature_map, size=2, stride=2, mode="max", axes=None):
    """Draw a feature map with its pooling windows and the pooled result.

    feature_map: (H, W) float. Windows are outlined (two alternating colours so
    overlapping ones stay apart); with mode="max" a dot marks each window's
    winner (its first maximum; windows whose values are all equal get none).
    Returns Drawn(figure, (Hout, Wout) or None, message); Hout = (H - size) // stride + 1.
    Introduced in notebooks/02_pooling.ipynb.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
        plt.close(fig)
    ax_in, ax_out = axes
    fig = ax_in.figure
    fmap = np.asarray(feature_map, dtype=np.float64)
    if fmap.ndim != 2 or not np.all(np.isfinite(fmap)):
        message = f"The feature map must be a finite 2-D array; got shape {fmap.shape}."
        _say(ax_in, message), _say(ax_out, message)
        return Drawn(fig, None, message)
    lim = _limit(fmap)
    ax_in.imshow(fmap, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax_in.set_title(f"feature map {fmap.shape[0]}×{fmap.shape[1]}")
    out_shape, message = pool_problem(fmap.shape, size, stride, mode)
    if out_shape is None:
        _say(ax_out, message)
        return Drawn(fig, None, message)
    x = fmap[None, None]
    pooled, arg = maxpool_fast(x, size, stride, return_argmax=True)
    if mode == "average":
        pooled = avgpool_fast(x, size, stride)
    pooled, arg = pooled[0, 0], arg[0, 0]
    wins = []
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            r, c = i * stride, j * stride
            ax_in.add_patch(Rectangle((c - 0.5, r - 0.5), size, size, fill=False, lw=1,
                                      ec="gold" if (i + j) % 2 else "limegreen"))
            window = fmap[r:r + size, c:c + size]
            if mode == "max" and window.max() > window.min():
                wins.append((r + arg[i, j] // size, c + arg[i, j] % size))
    if wins:
        ax_in.plot([w[1] for w in wins], [w[0] for w in wins], "o", ms=4, mfc="black", mec="white")
    ax_out.imshow(pooled, cmap="RdBu_r", vmin=-lim, vmax=lim)
    _annotate(ax_out, pooled, lim, fmt="{:.2f}", max_cells=49, fontsize=8)
    ax_out.set_xticks([]), ax_out.set_yticks([])
    ax_out.set_title(f"{mode} pool size {size}, stride {stride} → {out_shape[0]}×{out_shape[1]}\n"
                     f"({fmap.shape[0]} − {size}) // {stride} + 1 = {out_shape[0]}")
    if message:
        _footnote(fig, message, 100)
    return Drawn(fig, out_shape, message)
