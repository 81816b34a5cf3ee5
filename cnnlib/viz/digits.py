"""Pictures of the raw data: a grid of digits with labels, one digit's pixel values,
the class balance, and the view behind notebook 00's digit browser.

Every function returns a matplotlib Figure made with cnnlib.viz.base (shown once by
the caller). Pass ax=... to draw into your own axes instead.

Introduced in notebooks/00_mnist.ipynb.
"""
import numpy as np

from ..checks import check_labels
from .alt_text import set_alt_text
from .base import presentation_scale, say, show_digit, subplots
from .describe import describe_class_balance, describe_digit, describe_digit_grid

__all__ = ["browse_digit", "plot_class_balance", "plot_digit_values", "show_digits"]


def _images(images):
    """Accept (N, H, W) or (N, 1, H, W) -> (N, H, W); anything else is a ValueError."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or 0 in images.shape:
        raise ValueError(f"expected images of shape (N, H, W) or (N, 1, H, W) with N >= 1, "
                         f"got shape {images.shape}")
    return images


def _labels(labels, n, name):
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the images, got {labels.shape}")
    return labels


def show_digits(images, labels=None, predictions=None, n=16, ncols=8, start=0):
    """Grid of images[start:start+n] with their labels (and predictions, red when wrong).

    Inputs: images (N, H, W) or (N, 1, H, W), uint8 or float; labels, predictions (N,)
    or None; n >= 1 (clipped to what is left after start); ncols per row.
    Returns the Figure. Introduced in notebooks/00_mnist.ipynb.
    """
    images = _images(images)
    labels = _labels(labels, len(images), "labels")
    predictions = _labels(predictions, len(images), "predictions")
    if not 0 <= start < len(images):
        raise ValueError(f"start must be in 0..{len(images) - 1}, got {start}")
    if n < 1 or ncols < 1:
        raise ValueError(f"n and ncols must be >= 1, got n={n}, ncols={ncols}")
    idx = np.arange(start, min(start + n, len(images)))
    ncols = min(ncols, len(idx))
    nrows = -(-len(idx) // ncols)
    fig, axes = subplots(nrows, ncols, figsize=(1.1 * ncols, 1.3 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, idx):
        title, color = ("" if labels is None else str(labels[i])), "black"
        if predictions is not None:
            title += f" (pred {predictions[i]})" if labels is not None else str(predictions[i])
            if labels is not None and predictions[i] != labels[i]:
                color = "red"
        show_digit(ax, images[i], title, fontsize=8, color=color)
    fig.tight_layout()
    return set_alt_text(fig, describe_digit_grid(idx, labels, predictions))


def plot_digit_values(image, ax=None, title=None, fontsize=5.5):
    """Heat map of one image with each non-zero pixel value written in its cell.

    Inputs: image (H, W) (or (1, H, W)), values shown as they are (uint8: 0..255);
    blank cells are 0. Returns the Figure. Introduced in notebooks/00_mnist.ipynb.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"expected one image of shape (H, W), got shape {image.shape}")
    if ax is None:
        ax = subplots(figsize=(8, 8))[1]
    lo, hi = float(image.min()), float(image.max())
    ax.imshow(image, cmap="gray_r", vmin=lo, vmax=hi if hi > lo else lo + 1)
    integer = np.issubdtype(image.dtype, np.integer)
    for (r, c), v in np.ndenumerate(image):
        if v != 0:
            dark = (v - lo) > 0.5 * (hi - lo)
            ax.text(c, r, f"{v}" if integer else f"{v:.2f}", ha="center", va="center",
                    fontsize=fontsize, color="white" if dark else "black")
    ax.set_xticks(range(0, image.shape[1], 4))
    ax.set_yticks(range(0, image.shape[0], 4))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_class_balance(y_train, y_test, num_classes=10, ax=None):
    """Bar chart of how many train and test examples each class has (counts on the bars).

    Inputs: integer labels y_train (N,), y_test (M,) in 0..num_classes-1.
    Returns the Figure. Introduced in notebooks/00_mnist.ipynb.
    """
    counts = []
    for name, y in (("y_train", y_train), ("y_test", y_test)):
        y = check_labels(y, num_classes, name)
        counts.append(np.bincount(y, minlength=num_classes))
    own = ax is None
    if own:
        ax = subplots(figsize=(8, 3))[1]
    x = np.arange(num_classes)
    for shift, c, name in ((-0.2, counts[0], "train"), (0.2, counts[1], "test")):
        bars = ax.bar(x + shift, c, width=0.4, label=f"{name} ({c.sum()})")
        ax.bar_label(bars, fontsize=6)
    ax.set_xticks(x)
    ax.set_xlabel("class")
    ax.set_ylabel("examples")
    ax.set_ylim(0, 1.25 * max(counts[0].max(), counts[1].max(), 1))
    ax.legend(loc="upper center", ncols=2)
    if own:
        ax.figure.tight_layout()
        set_alt_text(ax.figure, describe_class_balance(*counts))
    return ax.figure


def browse_digit(images, labels, index):
    """Widget view: digit number index (small picture + heat map of its values).

    Never raises for a bad index or input: the figure then shows the explanation.
    Returns the Figure. Introduced in notebooks/00_mnist.ipynb.
    """
    # 9.5 inches, not wider: the square values panel is as wide as the figure is tall, and
    # a wider figure is shrunk more on a projector (its 784 numbers are the smallest text).
    # At a presentation scale the values panel alone takes the width (it shows the digit
    # too), so that its larger numbers still fit their cells.
    alone = presentation_scale() > 1
    fig, axes = subplots(1, 1 if alone else 2, figsize=(8, 8) if alone else (9.5, 8),
                         squeeze=False, **({} if alone else {"width_ratios": [1, 3]}))
    small, big = (None, axes[0, 0]) if alone else axes[0]
    try:
        images = _images(images)
        labels = _labels(labels, len(images), "labels")
        if not -len(images) <= index < len(images):
            raise ValueError(f"index {index} is out of range: there are {len(images)} images "
                             f"(0..{len(images) - 1})")
        name = f"#{index}, label {labels[index]}" if labels is not None else f"#{index}"
        if small is not None:
            show_digit(small, images[index], name, fontsize=12)
        plot_digit_values(images[index], ax=big, title=("" if small is not None else name + ": ")
                          + "pixel values (blank = 0)")
        set_alt_text(fig, describe_digit(images[index], index,
                                         None if labels is None else labels[index]))
    except (ValueError, TypeError, IndexError) as err:
        if small is not None:
            small.axis("off")
        say(big, f"Cannot show this digit: {err}", fontsize=14)
    return fig
