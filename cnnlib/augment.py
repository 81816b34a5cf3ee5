"""Moving digits: shift and rotate one image, and random shifts of a whole batch.

transform_digit asks how a trained network copes with a digit that is moved or turned
(notebook 11); random_shifts is the data augmentation that trained the network in
resources/lenet_mnist.npz (scripts/train_pretrained.py); rotate_batch and random_rotations
(notebook 12) turn a whole batch by small angles, the same arithmetic as transform_digit
for every image at once. Pure NumPy, no SciPy.

Introduced in notebooks/11_what_it_learned.ipynb.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .checks import check_array, check_images, check_int

__all__ = ["TurnAndShift", "random_rotations", "random_shifts", "rotate_batch",
           "transform_digit"]


def transform_digit(image, shift=(0, 0), angle=0.0, interpolation="bilinear"):
    """Rotate a raw digit (H, W) by `angle` degrees counter-clockwise about its centre, then
    move it down by shift[0] and right by shift[1] pixels. Pure NumPy.

    Each output pixel (r, c) reads the input at the point that lands on it,
        (rs, cs) = centre + R(-angle) ((r, c) - shift - centre),
    by "nearest" (rounded) or "bilinear" interpolation; points outside the input are 0
    (background). Returns float64 (H, W). ValueError for a bad shape, non-finite pixels,
    shift or angle, or an unknown interpolation.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or 0 in img.shape:
        raise ValueError(f"expected one image (H, W), got shape {img.shape}")
    if not np.all(np.isfinite(img)):
        raise ValueError(f"the image has {np.count_nonzero(~np.isfinite(img))} NaN or "
                         f"infinite pixel(s); there is nothing sensible to move.")
    dy, dx = (float(s) for s in shift)
    if not np.all(np.isfinite([dy, dx, angle])):
        raise ValueError(f"shift and angle must be finite numbers; got {shift}, {angle}")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    h, w = img.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    t = np.deg2rad(angle)
    r, c = np.mgrid[0:h, 0:w].astype(np.float64)
    up, right = -(r - dy - cy), c - dx - cx            # output point, y axis pointing up
    src_r = cy - (-right * np.sin(t) + up * np.cos(t))  # rotate back by -angle
    src_c = cx + (right * np.cos(t) + up * np.sin(t))

    def at(rr, cc):
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        return np.where(inside, img[np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)], 0.0)

    if interpolation == "nearest":
        return at(np.round(src_r).astype(int), np.round(src_c).astype(int))
    src_r, src_c = np.round(src_r, 9), np.round(src_c, 9)   # 1e-17 noise is not a shift
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    fr, fc = src_r - r0, src_c - c0
    return ((1 - fr) * (1 - fc) * at(r0, c0) + (1 - fr) * fc * at(r0, c0 + 1)
            + fr * (1 - fc) * at(r0 + 1, c0) + fr * fc * at(r0 + 1, c0 + 1))


def random_shifts(xb, rng, shift=2, background=-0.5):
    """Move each image of a batch (N, C, H, W) by its own random offset in -shift..shift
    pixels along both axes (data augmentation: every epoch sees slightly moved digits).

    rng: a np.random.Generator (seeded by the caller, so runs repeat). Uncovered pixels get
    `background` (-0.5 is black after cnnlib.data.to_float). Returns a new (N, C, H, W) array.
    Used by scripts/train_pretrained.py and by python -m cnnlib --augment.
    """
    xb = check_images(xb, "xb")
    n, _, h, w = xb.shape
    if check_int(shift, "shift", 0) >= min(h, w):
        raise ValueError(f"shift={shift} would move the {h}x{w} images out of sight; "
                         f"use a few pixels, e.g. shift=2.")
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    return _shifted(xb, dy, dx, shift, background)


def _shifted(xb, dy, dx, shift, background):
    """Image n of xb moved by dy[n] - shift rows and dx[n] - shift columns (0..2 shift)."""
    n, _, h, w = xb.shape
    edge = (shift, shift)
    padded = np.pad(xb, ((0, 0), (0, 0), edge, edge), constant_values=background)
    crops = sliding_window_view(padded, (h, w), axis=(2, 3))    # (N, C, 2s+1, 2s+1, H, W)
    return crops[np.arange(n), :, dy, dx]


def rotate_batch(xb, angles, background=-0.5):
    """Rotate each image of a batch (N, C, H, W) about its centre by its own angle in degrees
    (counter-clockwise), with bilinear interpolation; uncovered pixels get `background`.

    angles: float array (N,). Image n is background + transform_digit(xb[n, c] - background,
    angle=angles[n]) for every channel c, computed for the whole batch at once
    (tests/test_augment.py compares the two). Returns an array of xb's dtype.
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    xb = check_images(xb, "xb")
    check_array(angles, "angles")
    if angles.shape != (len(xb),) or not np.all(np.isfinite(angles)):
        raise ValueError(f"angles must hold one finite angle per image, shape ({len(xb)},); "
                         f"got shape {angles.shape}.")
    n, c, h, w = xb.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    t = np.deg2rad(angles.astype(np.float64))[:, None, None]
    r, col = np.mgrid[0:h, 0:w].astype(np.float64)
    up, right = -(r - cy), col - cx                     # output point, y axis pointing up
    src_r = np.round(cy - (-right * np.sin(t) + up * np.cos(t)), 9)     # (N, H, W)
    src_c = np.round(cx + (right * np.cos(t) + up * np.sin(t)), 9)
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    fr, fc = src_r - r0, src_c - c0
    img = xb.astype(np.float64) - background
    idx = np.arange(n)[:, None, None]

    def at(rr, cc):                                     # (N, C, H, W), 0 outside the image
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        vals = img[idx, :, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]   # (N, H, W, C)
        return np.where(inside[..., None], vals, 0.0).transpose(0, 3, 1, 2)

    wts = [((1 - fr) * (1 - fc)), ((1 - fr) * fc), (fr * (1 - fc)), (fr * fc)]
    out = sum(wt[:, None] * at(r0 + dr, c0 + dc)
              for wt, (dr, dc) in zip(wts, ((0, 0), (0, 1), (1, 0), (1, 1))))
    return (out + background).astype(xb.dtype)


def random_rotations(xb, rng, max_angle=10.0, background=-0.5):
    """Rotate each image of a batch (N, C, H, W) by its own random angle, uniform in
    -max_angle..max_angle degrees (data augmentation; rotate_batch does the turning).

    rng: a np.random.Generator seeded by the caller, so runs repeat.
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    xb = check_images(xb, "xb")
    if not (isinstance(max_angle, (int, float)) and 0 <= max_angle <= 180):
        raise ValueError(f"max_angle must be a number of degrees in 0..180; got {max_angle!r}.")
    return rotate_batch(xb, rng.uniform(-max_angle, max_angle, size=len(xb)), background)


class TurnAndShift:
    """The recipes' augmentation (cnnlib.recipes): turn every image of a batch by its own
    random angle in -rotate..rotate degrees, then move it by its own random offset in
    -shift..shift pixels, both drawn from rng (0 leaves that step out). Calling it on a
    batch gives, with the same draws, random_shifts(random_rotations(xb, rng, rotate), rng,
    shift).

    draw(n) and apply(xb, draws) are its two halves, and rows(draws, a, b) the draws of
    images a..b-1: each image depends on its own draws only, so when training splits a batch
    across the cores several processes turn its images at once (cnnlib.speed.steps), with
    the numbers of the whole batch turned in one.
    """

    def __init__(self, rng, rotate=10.0, shift=2, background=-0.5):
        if not (isinstance(rotate, (int, float)) and 0 <= rotate <= 180):
            raise ValueError(f"rotate must be a number of degrees in 0..180; got {rotate!r}.")
        self.rng, self.rotate = rng, rotate
        self.shift, self.background = check_int(shift, "shift", 0), background

    def draw(self, n):
        """The random numbers of a batch of n: (angles (n,) or None, offsets (2, n) or None),
        drawn in the order random_rotations and random_shifts draw them."""
        angles = self.rng.uniform(-self.rotate, self.rotate, size=n) if self.rotate else None
        moves = self.rng.integers(0, 2 * self.shift + 1, size=(2, n)) if self.shift else None
        return angles, moves

    @staticmethod
    def rows(draws, a, b):
        """The draws of images a..b-1."""
        angles, moves = draws
        return (None if angles is None else angles[a:b],
                None if moves is None else moves[:, a:b])

    def apply(self, xb, draws):
        """xb turned and moved by draws (from draw(len(xb)), or rows of a larger batch's)."""
        angles, moves = draws
        if angles is not None:
            xb = rotate_batch(xb, angles, self.background)
        if moves is None:
            return xb
        xb = check_images(xb, "xb")
        if self.shift >= min(xb.shape[2:]):
            raise ValueError(f"shift={self.shift} would move the {xb.shape[2]}x{xb.shape[3]} "
                             f"images out of sight; use a few pixels, e.g. shift=2.")
        return _shifted(xb, moves[0], moves[1], self.shift, self.background)

    def __call__(self, xb):
        xb = check_images(xb, "xb")
        return self.apply(xb, self.draw(len(xb)))

    def __repr__(self):
        return f"TurnAndShift(rotate={self.rotate!r}, shift={self.shift!r})"
