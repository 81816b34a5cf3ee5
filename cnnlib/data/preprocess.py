"""MNIST's preprocessing, for a digit drawn on a canvas: from a drawing to the network's input.

MNIST was made from larger black-and-white scans of handwriting in three steps (LeCun,
Cortes and Burges describe them with the data set). A digit drawn by hand must go through
the same steps, or the network sees something unlike anything it was trained on:

    r0, r1, c0, c1 = ink_box(image)          # 1. the rows r0:r1 and columns c0:c1 with ink
    small = fit_box(image[r0:r1, c0:c1])     # 2. scaled to fit 20x20, aspect ratio kept;
                                             #    area averaging gives grey, anti-aliased edges
    digit, offset = center_by_mass(small)    # 3. pasted into 28x28 with its centre of mass
                                             #    at (14, 14), rounded to whole pixels
    x = to_float(digit[None, None])          # 4. the course's scaling, x/255 - 0.5

preprocess(image) runs all four and keeps every step (Steps) for the pictures of notebook
11. Images are raw pixels 0..255 with ink high, as everywhere in cnnlib: (H, W), any size.
(14, 14) is where MNIST's own digits have their centre of mass in row/column index
coordinates (the 10,000 test digits average 13.99 and 14.01, spread 0.3 pixels).

Introduced in notebooks/11_what_it_learned.ipynb.
"""
from typing import NamedTuple

import numpy as np

from . import to_float

__all__ = ["BOX", "CENTER", "SIZE", "Steps", "center_by_mass", "center_of_mass", "check_drawing",
           "fit_box", "ink_box", "preprocess", "resize"]

SIZE, BOX, CENTER = 28, 20, (14.0, 14.0)   # MNIST: 28x28 images, digits fit 20x20


def check_drawing(image):
    """image as float64 (H, W) after checking it is one grey drawing with some ink in 0..255.

    Raises ValueError with one sentence saying what was expected and what to do.
    """
    x = np.asarray(image)
    if x.ndim != 2 or min(x.shape, default=0) < 1:
        raise ValueError(f"a drawing must be one grey image of shape (H, W), e.g. (280, 280); "
                         f"got shape {x.shape}.")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"a drawing's pixels must be numbers 0..255; got dtype {x.dtype}.")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("the drawing has NaN or infinite pixels; pass raw pixels 0..255.")
    if x.min() < 0 or x.max() > 255:
        raise ValueError(f"a drawing's pixels must lie in 0..255 (ink high); got {x.min():g} "
                         f"to {x.max():g}: scale the image to 0..255 first.")
    if not x.any():
        raise ValueError("The canvas is empty: draw a digit first (or pick a sample).")
    return x


def ink_box(image):
    """(r0, r1, c0, c1): the smallest box image[r0:r1, c0:c1] that holds every inked pixel
    (value > 0). ValueError for an empty or invalid drawing (check_drawing).
    """
    ink = check_drawing(image) > 0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _area_weights(n_in, n_out):
    """(n_out, n_in) matrix: entry [i, j] is the share of output pixel i that input pixel j
    covers when n_in pixels are stretched onto n_out; every row sums to 1."""
    edges = np.arange(n_in + 1) * (n_out / n_in)                # input pixel edges, output units
    lo = np.maximum(edges[None, :-1], np.arange(n_out)[:, None])
    hi = np.minimum(edges[None, 1:], np.arange(n_out)[:, None] + 1.0)
    return np.clip(hi - lo, 0.0, None)


def resize(image, shape):
    """image (H, W) resampled to shape (h, w) by area averaging: each new pixel is the mean of
    the old pixels under it (in fractions), so shrinking smooths instead of dropping pixels.
    """
    x = np.asarray(image, dtype=np.float64)
    (h, w), (nh, nw) = x.shape, shape
    return _area_weights(h, nh) @ x @ _area_weights(w, nw).T


def fit_box(crop, box=BOX):
    """Scale crop (h, w) so that its longer side is box pixels and the aspect ratio stays
    (the shorter side rounded, at least 1); returns the float image of that size.
    """
    h, w = np.shape(crop)
    scale = box / max(h, w)
    return resize(crop, (max(1, round(h * scale)), max(1, round(w * scale))))


def center_of_mass(image):
    """(row, col) of image's centre of mass, the pixel values as weights, in index units."""
    x = np.asarray(image, dtype=np.float64)
    total = x.sum()
    if total <= 0:
        raise ValueError("an image without ink has no centre of mass: draw something first.")
    rows, cols = np.indices(x.shape)
    return float((rows * x).sum() / total), float((cols * x).sum() / total)


def center_by_mass(small, size=SIZE, center=CENTER):
    """Paste small (h, w), h, w <= size, into a size x size canvas so that its centre of
    mass lands on center (rounded to whole pixels, so within half a pixel), but never past
    the border: a lopsided digit keeps all its ink. Returns (uint8 image, (row, col) offset).
    """
    small = np.asarray(small, dtype=np.float64)
    h, w = small.shape
    if h > size or w > size:
        raise ValueError(f"a {h}x{w} image does not fit into {size}x{size}: fit_box it first.")
    cy, cx = center_of_mass(small)
    top = int(np.clip(round(center[0] - cy), 0, size - h))
    left = int(np.clip(round(center[1] - cx), 0, size - w))
    out = np.zeros((size, size))
    out[top:top + h, left:left + w] = small
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), (top, left)


class Steps(NamedTuple):
    """What preprocess computed, step by step (see the module docstring)."""
    box: tuple          # (r0, r1, c0, c1) of the ink in the drawing
    crop: np.ndarray    # the drawing inside the box
    small: np.ndarray   # the box scaled to fit BOX x BOX (float)
    digit: np.ndarray   # the centred SIZE x SIZE digit, uint8 0..255, like an MNIST image
    offset: tuple       # where small's top-left corner went in digit
    x: np.ndarray       # the network's input (1, 1, SIZE, SIZE) float32, x/255 - 0.5


def preprocess(image, box=BOX, size=SIZE):
    """MNIST's preprocessing of one drawing (H, W), raw pixels 0..255 with ink high.

    Returns Steps; ValueError (one sentence) for an empty canvas or a bad image.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    r0, r1, c0, c1 = ink_box(image)
    crop = check_drawing(image)[r0:r1, c0:c1]
    small = fit_box(crop, box)
    digit, offset = center_by_mass(small, size, (size / 2, size / 2))
    return Steps((r0, r1, c0, c1), crop, small, digit, offset, to_float(digit[None, None]))
