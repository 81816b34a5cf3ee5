"""Pictures of one convolution: the input, the kernel with its numbers and the feature
map side by side (plot_convolution), and a grid of feature maps (plot_feature_maps).

Every drawing returns a matplotlib Figure (made with cnnlib.viz.base) and never raises
for a setting typed into a widget (NaN in a kernel, a kernel larger than the image):
it writes the reason into the figure, so the student sees why. conv_problem says the
same in words. The kernel editor widget (cnnlib.viz.widgets) draws with these.

Introduced in notebooks/01_convolution.ipynb.
"""
import numpy as np
from matplotlib.patches import Rectangle

from ..checks import output_size
from ..conv import conv2d_fast
from .alt_text import set_alt_text
from .base import DIVERGING, annotate, footnote, say, scale_pixels, subplots, symmetric_limit
from .describe import describe_convolution

__all__ = ["as_image", "conv_problem", "feature_map", "KERNEL_PRESETS", "MAX_PIXELS",
           "plot_convolution", "plot_feature_maps"]

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
    """Raw pixels (any shape, 0..255) as float64 in [0, 1]: cnnlib.viz.base.scale_pixels.

    Introduced in notebooks/01_convolution.ipynb.
    """
    return scale_pixels(image)


def conv_problem(shape, kernel, pad=0, stride=1):
    """Check convolution settings for an image of `shape` (H, W).

    Returns (out_shape, message): out_shape is (Hout, Wout) with
    Hout = (H + 2*pad - KH) // stride + 1, or None when no output exists;
    message explains the problem or oddity ("" when there is none).
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
    """Slide one 2-D kernel over one 2-D image of raw pixels (scaled to [0, 1] by as_image)
    with cnnlib.conv.conv2d_fast, bias 0.

    image (H, W), kernel (KH, KW) -> feature map (Hout, Wout).
    Introduced in notebooks/01_convolution.ipynb.
    """
    return _slide(as_image(image), kernel, pad, stride)


def _slide(x, kernel, pad, stride):
    """conv2d_fast for one scaled image (H, W) and one kernel (KH, KW) -> (Hout, Wout)."""
    w = np.asarray(kernel, dtype=np.float64)[None, None]
    return conv2d_fast(x[None, None], w, np.zeros(1), stride, pad)[0, 0]


def plot_convolution(image, kernel, pad=0, stride=1, axes=None):
    """Draw input (padded), kernel with its numbers and the feature map side by side.

    image: (H, W) uint8 or float; kernel: (KH, KW). The window under output
    pixel (0, 0) is outlined in orange on the input and on the output.
    axes: three matplotlib axes, or None for a new figure.
    Returns the Figure; conv_problem gives its output shape and message in words.
    Introduced in notebooks/01_convolution.ipynb.
    """
    if axes is None:
        axes = subplots(1, 3, figsize=(11, 3.8), width_ratios=[1, 0.6, 1])[1]
    ax_in, ax_k, ax_out = axes
    fig = ax_in.figure
    img = as_image(image)
    kern = np.asarray(kernel, dtype=float)
    out_shape, message = conv_problem(img.shape, kern, pad, stride)
    shown = np.pad(img, pad) if out_shape is not None and pad else img
    ax_in.imshow(shown, cmap="gray_r", vmin=0, vmax=1)    # ink dark on white, as in every figure
    ax_in.set_title(f"input {img.shape[0]}×{img.shape[1]}" + (f", pad {pad}" if pad else ""))
    if pad and out_shape is not None:
        ax_in.add_patch(Rectangle((pad - 0.5, pad - 0.5), img.shape[1], img.shape[0],
                                  fill=False, ec="deepskyblue", ls="--"))
    if kern.ndim == 2 and kern.size:
        finite = np.where(np.isfinite(kern), kern, 0.0)
        lim = symmetric_limit(finite)
        ax_k.imshow(finite, cmap=DIVERGING, vmin=-lim, vmax=lim)
        annotate(ax_k, kern, lim)
        ax_k.set_title(f"kernel {kern.shape[0]}×{kern.shape[1]}")
    ax_k.set_xticks([]), ax_k.set_yticks([])
    if out_shape is None:
        return say(ax_out, message, width=32)
    ax_in.add_patch(Rectangle((-0.5, -0.5), kern.shape[1], kern.shape[0], fill=False, ec="orange", lw=2))
    fmap = _slide(img, kern, pad, stride)
    lim = symmetric_limit(fmap)
    ax_out.imshow(fmap, cmap=DIVERGING, vmin=-lim, vmax=lim)
    ax_out.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="orange", lw=2))
    h = img.shape[0]
    ax_out.set_title(f"feature map {out_shape[0]}×{out_shape[1]}\n"
                     f"({h} + 2·{pad} − {kern.shape[0]}) // {stride} + 1 = {out_shape[0]}")
    set_alt_text(fig, describe_convolution(img.shape, kern, fmap, pad, stride))
    if not np.any(fmap):
        message = (message + " Flat map: every output is 0.").strip()
    if message:
        footnote(fig, message)
    return fig


def plot_feature_maps(maps, titles=None, ncols=4, size=2.2, shared_scale=False):
    """Show several feature maps in a grid, each with a colour bar that gives its magnitude.

    maps: (F, H, W) or (1, F, H, W); titles: F strings (default "map k").
    Blue is negative, white 0, red positive. By default each map has its own symmetric scale,
    -m .. +m with m = max |value| of that map, so a faint map still shows its pattern (read
    the size off its colour bar). shared_scale=True draws every map on one scale, from -m to
    +m over all maps, and writes those limits in the figure's title, so the colours of
    different maps compare directly.
    Returns the figure. A flat map gets "(flat)" in its title.
    Introduced in notebooks/01_convolution.ipynb.
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3 or maps.shape[0] == 0:
        return say(subplots(figsize=(4, 2))[1], f"Expected maps of shape (F, H, W); got {maps.shape}.")
    n = maps.shape[0]
    titles = list(titles) if titles is not None else [f"map {k}" for k in range(n)]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = subplots(nrows, ncols, figsize=(size * ncols * 1.15, size * nrows + 0.5),
                         squeeze=False, layout="constrained")
    shared = symmetric_limit(maps) if shared_scale else None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if k >= n:
            ax.set_axis_off()
            continue
        lim = shared if shared_scale else symmetric_limit(maps[k])
        image = ax.imshow(maps[k], cmap=DIVERGING, vmin=-lim, vmax=lim)
        bar = fig.colorbar(image, ax=ax, shrink=0.8, ticks=[-lim, 0, lim])
        bar.ax.tick_params(labelsize=7)
        bar.ax.set_yticklabels([f"{-lim:.3g}", "0", f"{lim:.3g}"])
        ax.set_title(titles[k] + ("" if np.any(maps[k]) else " (flat)"), fontsize=9)
    if shared_scale:
        fig.suptitle(f"one colour scale for all maps: {-shared:.3g} (blue) to {shared:.3g} (red)",
                     fontsize=9)
    return fig
