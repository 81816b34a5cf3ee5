"""Looking inside a trained network: its filters, feature maps, mistakes and confidence.

Images given to these functions are raw digits: (H, W) or (N, H, W) pixel values in
0..255 (uint8, or float after transform_digit), turned into the network's input by
to_input and run layer by layer by trace_activations (both from cnnlib.viz.activations).
Every drawing returns a Figure made with cnnlib.viz.base. The view behind the digit
explorer widget (predict_view) never raises: a bad setting is explained inside the
figure. Shifted and rotated digits: cnnlib.viz.robustness.

Introduced in notebooks/11_what_it_learned.ipynb.
"""
from pathlib import Path

import numpy as np
from matplotlib import colormaps

from ..architectures import ARCHITECTURES, make_net
from ..augment import transform_digit
from ..conv import Conv2D
from ..layers import ReLU
from .activations import to_input, trace_activations
from .alt_text import set_alt_text
from .base import DIVERGING, MESSAGE_COLOR, figure, footnote, say, show_digit, symmetric_limit
from .describe_trained import (describe_confidence, describe_filters, describe_maps,
                               describe_mistakes, describe_prediction)
from .probabilities import probability_bars

__all__ = ["conv_map_layers", "first_conv_weights", "layer_outputs", "load_trained",
           "mosaic", "most_confident_mistakes", "plot_confidence_histogram", "plot_filters",
           "plot_layer_maps", "plot_most_wrong", "predict_view",
           "to_input"]    # from viz.activations; notebook 11 imports it from here


def load_trained(path):
    """Build the architecture saved in an .npz written by Sequential.save and load it.

    The file names its layers, not its builder, so each builder of
    cnnlib.architectures.ARCHITECTURES is tried with Sequential.load, which refuses a file
    whose architecture or array shapes differ. Returns (net, name); raises
    FileNotFoundError, or ValueError with every builder's reason.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    reasons = []
    for name in ARCHITECTURES:
        try:
            return make_net(name).load(path), name
        except ValueError as err:
            reasons.append(f"{name}: {err}")
    raise ValueError(f"{path}: no architecture in cnnlib.architectures.ARCHITECTURES matches "
                     f"the file.\n" + "\n".join(reasons))


def first_conv_weights(net):
    """The filters W (F, C, KH, KW) of net's first layer; ValueError if it is not a Conv2D.

    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    first = net.layers[0] if getattr(net, "layers", None) else None
    if not isinstance(first, Conv2D):
        raise ValueError(f"the first layer must be a Conv2D to show its filters; got "
                         f"{type(first).__name__}.")
    return first.params["W"]


def mosaic(maps, ncols=8, gap=1):
    """Tile maps (K, H, W) into one 2-D array, ncols per row, separated by NaN gaps.

    Returns (array, positions) where positions[k] = (row, col) of map k's top-left pixel.
    """
    maps = np.asarray(maps, dtype=np.float64)
    k, h, w = maps.shape
    ncols = max(1, min(ncols, k))
    nrows = -(-k // ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    positions = []
    for i in range(k):
        r, c = (i // ncols) * (h + gap), (i % ncols) * (w + gap)
        out[r:r + h, c:c + w] = maps[i]
        positions.append((r, c))
    return out, positions


def _show_mosaic(ax, maps, ncols, cmap, symmetric, labels=None, above=False):
    tiles, positions = mosaic(maps, ncols)
    top = symmetric_limit(tiles)
    cm = colormaps[cmap].with_extremes(bad="white")
    im = ax.imshow(tiles, cmap=cm, vmin=-top if symmetric else 0.0, vmax=top)
    for k, (r, c) in enumerate(positions):
        text = str(k) if labels is None else labels[k]
        if above:   # tiny tiles (3x3 filters): label over the tile, not on it
            ax.text(c + maps.shape[2] / 2 - 0.5, r - 0.6, text, fontsize=8, ha="center",
                    va="bottom")
        else:
            ax.text(c - 0.4, r - 0.4, text, fontsize=8, va="top", ha="left",
                    bbox=dict(fc="white", ec="none", pad=0.5, alpha=0.7))
    ax.set_xticks([]), ax.set_yticks([])
    return im


def plot_filters(w, ax=None):
    """Draw filters w (F, C, KH, KW) as small images: row c = input channel c, column f =
    filter f, one colour scale symmetric about 0 for all (red > 0, blue < 0).

    Also accepts (F, KH, KW) or one kernel (KH, KW). ValueError for other shapes or
    non-finite weights. Returns the Figure. Introduced in notebooks/11_what_it_learned.ipynb.
    """
    w = np.asarray(w, dtype=np.float64)
    w = w[None, None] if w.ndim == 2 else w[:, None] if w.ndim == 3 else w   # -> (F, C, ...)
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"filters must have shape (F, C, KH, KW), (F, KH, KW) or (KH, KW); "
                         f"got {np.shape(w)}")
    if not np.all(np.isfinite(w)):
        raise ValueError("the filters contain NaN or infinite weights: the training diverged.")
    f, c, kh, kw = w.shape
    maps = w.transpose(1, 0, 2, 3).reshape(c * f, kh, kw)       # channel-major: one row each
    own = ax is None             # only a figure of our own gets the filters' alt text
    if own:
        fig = figure(figsize=(min(1.1 * f + 1.5, 16), 1.3 * c + 1.0))
        ax = fig.add_subplot()
    im = _show_mosaic(ax, maps, f, DIVERGING, True, labels=[f"f{i}" for i in range(f)] * c,
                      above=True)
    if c > 1:
        ax.set_yticks([r + kh / 2 - 0.5 for r in range(0, c * (kh + 1), kh + 1)],
                      [f"channel {i}" for i in range(c)], fontsize=8)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(f"{f} filter(s) of {c} channel(s), {kh}×{kw}"
                 + (" (row = input channel)" if c > 1 else ""), fontsize=10, pad=16)
    return set_alt_text(ax.figure, describe_filters(w)) if own else ax.figure


def layer_outputs(net, image):
    """Every layer's output for one raw digit (H, W), batch axis removed (trace_activations).
    """
    return [out[0] for _, out in trace_activations(net, image)]


def conv_map_layers(net):
    """Indices of the layers whose output shows each Conv2D's maps: the ReLU right after
    the convolution if there is one, else the convolution itself.
    """
    picks = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Conv2D):
            after = i + 1 < len(net.layers) and isinstance(net.layers[i + 1], ReLU)
            picks.append(i + 1 if after else i)
    return picks


def plot_layer_maps(net, image, layer_indices=None, ncols=8, axes=None):
    """Feature maps of the chosen layers (default: conv_map_layers) for one raw digit.

    Each layer's maps form one panel with its own colour scale (symmetric when some values
    are negative). ValueError for an index out of range or a layer without (C, H, W) maps.
    Returns the Figure. Introduced in notebooks/11_what_it_learned.ipynb.
    """
    picks = conv_map_layers(net) if layer_indices is None else list(layer_indices)
    outs = layer_outputs(net, image)
    for i in picks:
        if not -len(outs) <= i < len(outs):
            raise ValueError(f"layer index {i} out of range: the net has {len(outs)} layers")
        if outs[i].ndim != 3:
            raise ValueError(f"layer {i} ({type(net.layers[i]).__name__}) outputs shape "
                             f"{outs[i].shape}, not feature maps (C, H, W)")
    own = axes is None           # a figure of our own gets the maps' alt text
    if own:
        rows = [-(-len(outs[i]) // ncols) for i in picks]
        fig = figure(figsize=(12, 0.6 + 1.6 * sum(rows)), layout="constrained")
        axes = fig.subplots(len(picks), 1, squeeze=False, height_ratios=rows)[:, 0]
    for ax, i in zip(axes, picks):
        maps = outs[i]
        _show_mosaic(ax, maps, ncols, DIVERGING if maps.min() < 0 else "magma_r",
                     maps.min() < 0)
        ax.set_title(f"layer {i} ({type(net.layers[i]).__name__}): {maps.shape[0]} maps of "
                     f"{maps.shape[1]}×{maps.shape[2]}", fontsize=10)
    if own:
        set_alt_text(axes[0].figure, " ".join(
            describe_maps(f"Layer {i} ({type(net.layers[i]).__name__})", outs[i]) for i in picks))
    return axes[0].figure


def most_confident_mistakes(probs, y, n=12):
    """Indices of the wrong predictions, most confident first (at most n).

    probs (N, K) class probabilities, y (N,) true labels. Introduced in
    notebooks/11_what_it_learned.ipynb.
    """
    probs, y = np.asarray(probs), np.asarray(y)
    pred, conf = probs.argmax(axis=1), probs.max(axis=1)
    wrong = np.flatnonzero(pred != y)
    return wrong[np.argsort(-conf[wrong], kind="stable")][:n]


def plot_most_wrong(net, x, y, images, n=12, ncols=6, probs=None):
    """Grid of the n most confidently wrong digits: "true t → pred p" and the confidence.

    x float (N, 1, H, W) network input, y (N,) labels, images (N, H, W) for display;
    probs (N, K) may be passed to avoid recomputing. Returns the Figure.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    probs = net.predict_proba(x) if probs is None else probs
    idx = most_confident_mistakes(probs, y, n)
    if len(idx) == 0:
        fig = figure(figsize=(4, 1.5))
        say(fig.add_subplot(), "No mistakes: every digit is classified correctly.")
        return fig
    ncols = min(ncols, len(idx))
    nrows = -(-len(idx) // ncols)
    fig = figure(figsize=(1.7 * ncols, 2.0 * nrows))
    for k, i in enumerate(idx):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        show_digit(ax, images[i], f"#{i}: true {y[i]} → {probs[i].argmax()}\n"
                   f"confidence {probs[i].max():.0%}", fontsize=8, color=MESSAGE_COLOR)
    fig.tight_layout()
    return set_alt_text(fig, describe_mistakes(idx, y, probs))


def plot_confidence_histogram(probs, y, ax=None, bins=20):
    """Histogram of the confidence (largest probability), correct and wrong predictions apart.

    probs (N, K), y (N,). The title compares accuracy with the mean confidence (equal for
    a calibrated net). Log count axis so the few mistakes stay visible. Returns the Figure.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    probs, y = np.asarray(probs), np.asarray(y)
    if probs.ndim != 2 or len(probs) != len(y) or len(y) == 0:
        raise ValueError(f"expected probs (N, K) and y (N,) with N >= 1; got {probs.shape}, "
                         f"{y.shape}")
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == y
    own = ax is None
    if own:
        ax = figure(figsize=(7, 3.2)).add_subplot()
    edges = np.linspace(1 / probs.shape[1], 1, bins + 1)
    ax.hist([conf[right], conf[~right]], bins=edges, color=["tab:blue", "tab:orange"],
            label=[f"correct ({right.sum()})", f"wrong ({(~right).sum()})"], log=True)
    ax.set_xlabel("confidence = largest probability")
    ax.set_ylabel("digits (log scale)")
    ax.set_title(f"accuracy {right.mean():.1%}, mean confidence {conf.mean():.1%}", fontsize=10)
    ax.legend(loc="upper left")
    return set_alt_text(ax.figure, describe_confidence(conf, right)) if own else ax.figure


def predict_view(net, images, index, labels=None, shift=(0, 0), angle=0.0):
    """Widget view: digit images[index] (optionally shifted/rotated with transform_digit),
    the network's ten probabilities as bars and the feature maps of every conv layer.

    Never raises: a bad index, NaN pixels or other bad input is explained in the figure;
    a digit moved out of the picture is classified anyway, with a note. Returns the Figure.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    fig = figure(figsize=(13, 4.2))
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1.3, 1.9, 1.9])
    ax_img, ax_bar = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    try:
        n = len(images)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise ValueError(f"index {index!r} is out of range: choose 0..{n - 1}")
        label = None if labels is None else int(labels[index])
        digit = transform_digit(images[index], shift, angle)
        p = net.predict_proba(to_input(digit))[0]
    except (ValueError, TypeError, IndexError) as err:
        ax_img.set_axis_off()
        say(ax_bar, f"Cannot classify this digit: {err}")
        return fig
    show_digit(ax_img, digit, f"#{index}" + ("" if label is None else f", label {label}")
               + (f"\nshift {tuple(shift)}, {angle:g}°" if any(shift) or angle else ""), fontsize=10)
    probability_bars(ax_bar, p, label, f"predicted {p.argmax()} ({p.max():.0%})")
    if not digit.any():
        footnote(fig, "The digit has left the picture (blank input): the answer only "
                 "reflects the biases.")
    outs = layer_outputs(net, digit)
    said = [describe_prediction(p, label, index)]
    for k, i in enumerate(conv_map_layers(net)[:2]):   # near-square blocks: 16 maps -> 4x4
        plot_layer_maps(net, digit, [i], ncols=int(np.ceil(np.sqrt(len(outs[i])))),
                        axes=[fig.add_subplot(grid[2 + k])])
        said.append(describe_maps(f"Layer {i} ({type(net.layers[i]).__name__})", outs[i]))
    return set_alt_text(fig, " ".join(said))
