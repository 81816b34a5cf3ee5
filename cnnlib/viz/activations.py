"""What one digit looks like inside the network: the feature maps after the convolution
and after the pooling, and the class probabilities at the end.

trace_activations is the one place in cnnlib.viz that runs a digit through a network
layer by layer (the loop of Sequential.forward, keeping every output); to_input is the
one place that turns raw digits into the network's input. cnnlib.viz.trained and .robustness use them.

Introduced in notebooks/04_forward_pass.ipynb.
"""
import numpy as np

from ..losses import softmax
from .base import DIVERGING, figure, say, scale_pixels, show_digit
from .probabilities import probability_bars

__all__ = ["network_layers", "one_digit", "plot_activations", "to_input",
           "trace_activations"]


def network_layers(net):
    """The list of layers of a Sequential (its .layers) or of a plain list of layers."""
    layers = getattr(net, "layers", net)
    if not isinstance(layers, (list, tuple)) or not layers or \
            not all(hasattr(layer, "forward") for layer in layers):
        raise ValueError("net must be a non-empty list of layers with a forward method "
                         f"(or a Sequential); got {type(net).__name__}.")
    return list(layers)


def one_digit(image):
    """image as an array if it is one grey image (H, W); else a ValueError that says so."""
    image = np.asarray(image)
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"image must be one grey image of shape (H, W), e.g. (28, 28); "
                         f"got shape {image.shape}.")
    return image


def to_input(images):
    """Raw digits (H, W) or (N, H, W), pixel values 0..255 of any dtype -> the network's input,
    float32 (N, 1, H, W) = x/255 - 0.5 (as cnnlib.data.to_float).

    Raises ValueError for another shape or for NaN / infinite pixels.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"expected a digit (H, W) or digits (N, H, W), e.g. (28, 28); "
                         f"got shape {x.shape}.")
    return scale_pixels(x, center=True).astype(np.float32)[:, None]


def trace_activations(net, image):
    """Run one raw digit through the layers and keep every layer's output.

    net: a list of layers (or a Sequential) taking (N, 1, H, W) float input.
    image: one digit (H, W), raw pixels 0..255 (uint8 or float), scaled by to_input.
    Returns a list of (layer name, output) pairs, output for the batch of one image.
    Raises ValueError for an image that is not 2-D or for a layer that rejects its input.
    Introduced in notebooks/04_forward_pass.ipynb.
    """
    layers = network_layers(net)
    x = to_input(one_digit(image))
    outputs = []
    for layer in layers:
        x = layer.forward(x)
        outputs.append((type(layer).__name__, x))
    return outputs


def _map_row(axes, maps, name, fig):
    """Draw the channels of maps (C, h, w) in one row of axes with a shared, symmetric colour scale."""
    limit = max(float(np.abs(maps).max()), 1e-12)
    for c, ax in enumerate(axes):
        ax.axis("off")
        if c < len(maps):
            im = ax.imshow(maps[c], cmap=DIVERGING, vmin=-limit, vmax=limit)
            ax.set_title(f"{name} {c}\n{maps.shape[1]}x{maps.shape[2]}", fontsize=7)
    fig.colorbar(im, ax=list(axes), fraction=0.02, pad=0.01)


def plot_activations(net, image, label=None, max_maps=8):
    """Figure: the input digit and its class probabilities, then the feature maps after the
    first 4-D layer (the convolution) and after the second (the pooling), one row each.

    net: list of layers or Sequential, e.g. [Conv2D(1, 8, 3), MaxPool2D(2), Flatten(), Linear(1352, 10)];
    image: (H, W) uint8 or float; label: the true class (shown in the title) or None;
    max_maps: how many channels to show per row.
    Colours: red positive, blue negative, one scale per row (the colour bar).
    Returns the Figure. An image with NaN/infinite pixels, or a net that rejects the image,
    gives a figure with the explanation; an image that is not 2-D, or a net that is not a
    list of layers, raises ValueError.
    Introduced in notebooks/04_forward_pass.ipynb.
    """
    network_layers(net)     # not a network or not a digit: a ValueError, not a figure
    image = one_digit(image)
    fig = figure(figsize=(11, 5.6), layout="constrained")
    try:
        outputs = trace_activations(net, image)
    except ValueError as err:       # NaN pixels, or layers that do not fit this image
        return say(fig.add_subplot(), f"Cannot show the activations: {err}", width=80)
    maps = [(name, out[0]) for name, out in outputs if out.ndim == 4][:2]
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.3, len(maps) or 1])
    ax_img, ax_p = top.subplots(1, 2, width_ratios=[1, 3])
    show_digit(ax_img, image, "input" + (f" (label {label})" if label is not None else ""))
    last = outputs[-1][1]
    if last.ndim == 2:
        p = softmax(last.astype(np.float64))[0]
        probability_bars(ax_p, p, label, f"probabilities: predicted {p.argmax()} ({p.max():.0%})",
                         top=max(0.3, float(p.max()) * 1.15))    # untrained: all near 0.1
    else:
        ax_p.axis("off")
    if maps:
        axes = bottom.subplots(len(maps), max_maps, squeeze=False)
        for row, (name, m) in zip(axes, maps):
            _map_row(row, m[:max_maps], name, bottom)
    return fig
