"""Pictures of pooling: a feature map with its pooling windows, each window's winner, and
the pooled result (plot_pooling); pool_problem says what is wrong with a setting.

Like cnnlib.viz.convolution: returns a Figure and never raises for a widget setting.

Introduced in notebooks/02_pooling.ipynb.
"""
import numpy as np
from matplotlib.patches import Rectangle

from ..checks import output_size
from ..pool import avgpool_fast, maxpool_fast
from .alt_text import set_alt_text
from .describe import describe_pooling
from .palette import OUTLINES
from .base import DIVERGING, annotate, footnote, say, subplots, symmetric_limit

__all__ = ["plot_pooling", "pool_problem"]


def pool_problem(shape, size, stride, mode="max"):
    """Check pooling settings for a map of `shape` (H, W); returns (out_shape, message)
    like conv_problem, with Hout = (H - size) // stride + 1.
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

    feature_map: (H, W) float. Windows are outlined (alternating orange solid and blue
    dashed, palette.OUTLINES, so overlapping ones stay apart, also for colour-blind eyes); with mode="max" a dot marks each window's
    winner (its first maximum; windows whose values are all equal get none).
    Returns the Figure (pool_problem gives the output shape, Hout = (H - size) // stride + 1,
    and the message in words).
    Introduced in notebooks/02_pooling.ipynb.
    """
    if axes is None:
        axes = subplots(1, 2, figsize=(10, 4.6))[1]
    ax_in, ax_out = axes
    fig = ax_in.figure
    fmap = np.asarray(feature_map, dtype=np.float64)
    if fmap.ndim != 2 or not np.all(np.isfinite(fmap)):
        message = f"The feature map must be a finite 2-D array; got shape {fmap.shape}."
        say(ax_in, message, width=32)
        return say(ax_out, message, width=32)
    lim = symmetric_limit(fmap)
    ax_in.imshow(fmap, cmap=DIVERGING, vmin=-lim, vmax=lim)
    ax_in.set_title(f"feature map {fmap.shape[0]}×{fmap.shape[1]}")
    out_shape, message = pool_problem(fmap.shape, size, stride, mode)
    if out_shape is None:
        return say(ax_out, message, width=32)
    x = fmap[None, None]
    pooled, arg = maxpool_fast(x, size, stride, return_argmax=True)
    if mode == "average":
        pooled = avgpool_fast(x, size, stride)
    pooled, arg = pooled[0, 0], arg[0, 0]
    wins = []
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            r, c = i * stride, j * stride
            color, style = OUTLINES[(i + j) % 2]
            ax_in.add_patch(Rectangle((c - 0.5, r - 0.5), size, size, fill=False, lw=1.2,
                                      ec=color, ls=style))
            window = fmap[r:r + size, c:c + size]
            if mode == "max" and window.max() > window.min():
                wins.append((r + arg[i, j] // size, c + arg[i, j] % size))
    if wins:
        ax_in.plot([w[1] for w in wins], [w[0] for w in wins], "o", ms=4, mfc="black", mec="white")
    ax_out.imshow(pooled, cmap=DIVERGING, vmin=-lim, vmax=lim)
    annotate(ax_out, pooled, lim, fmt="{:.2f}", max_cells=49, fontsize=8)
    ax_out.set_xticks([]), ax_out.set_yticks([])
    ax_out.set_title(f"{mode} pool size {size}, stride {stride} → {out_shape[0]}×{out_shape[1]}\n"
                     f"({fmap.shape[0]} − {size}) // {stride} + 1 = {out_shape[0]}")
    set_alt_text(fig, describe_pooling(fmap.shape, pooled, size, stride, mode))
    if message:
        footnote(fig, message, 100)
    return fig
