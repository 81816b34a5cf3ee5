"""A drawing as pen strokes, and strokes turned into pixels.

A stroke is the list of [x, y] points the pen passed through between touching the canvas
and lifting off, in canvas pixels (x to the right, y down, origin at the top-left corner),
as notebook 11's drawing widget records them. A drawing is a list of strokes.

    image = render_strokes(strokes, size=280, pen=18)   # (280, 280) float pixels 0..255
    samples = drawn_samples()                           # {name: strokes} from resources/

render_strokes paints a round pen of diameter `pen` along every segment, with a
one-pixel soft edge (anti-aliasing), the way the browser's canvas draws the same strokes.
The shipped samples (resources/drawn_digits.json) were drawn by
scripts/make_drawn_samples.py from simple curves, not taken from MNIST.

Introduced in notebooks/11_what_it_learned.ipynb.
"""
import json

import numpy as np

from . import resource_path

__all__ = ["CANVAS", "PEN", "SAMPLES_PATH", "check_strokes", "drawn_samples", "render_strokes"]

CANVAS, PEN = 280, 18.0          # the widget's canvas side and pen diameter, in pixels
SAMPLES_PATH = resource_path("drawn_digits.json")


def check_strokes(strokes):
    """strokes as a list of float arrays (P, 2), after checking the format; ValueError else."""
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"strokes must be a list of strokes, each a list of [x, y] points; "
                         f"got {type(strokes).__name__}.")
    out = []
    for k, stroke in enumerate(strokes):
        try:
            points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            points = None
        if points is None or len(points) == 0 or np.ndim(stroke) != 2 or \
                not np.all(np.isfinite(points)):
            raise ValueError(f"stroke {k} must be a non-empty list of [x, y] points with "
                             f"finite numbers; got {str(stroke)[:60]}.")
        out.append(points)
    return out


def _distance_to_segment(px, py, a, b):
    """Distance of the points (px, py) to the segment from a to b (a point when a == b)."""
    d = b - a
    length2 = float(d @ d)
    t = 0.0 if length2 == 0 else np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / length2, 0, 1)
    return np.hypot(px - (a[0] + t * d[0]), py - (a[1] + t * d[1]))


def render_strokes(strokes, size=CANVAS, pen=PEN):
    """Paint strokes on a size x size canvas of background 0 with ink 255.

    A pixel's ink is how much of it the round pen covers, its centre at (x + 0.5, y + 0.5):
    255 inside the pen, falling to 0 over one pixel at its edge. Returns float64 (size, size).
    """
    if not pen > 0:
        raise ValueError(f"the pen diameter must be > 0 pixels; got {pen}.")
    image = np.zeros((size, size))
    radius = pen / 2
    for points in check_strokes(strokes):
        pairs = zip(points[:-1], points[1:]) if len(points) > 1 else [(points[0], points[0])]
        for a, b in pairs:
            # only the pixels near the segment can get ink: its bounding box plus the pen
            lo = np.floor(np.minimum(a, b) - radius - 1).astype(int).clip(0, size)
            hi = np.ceil(np.maximum(a, b) + radius + 1).astype(int).clip(0, size)
            if lo[0] >= hi[0] or lo[1] >= hi[1]:
                continue          # the segment lies outside the canvas
            py, px = np.mgrid[lo[1]:hi[1], lo[0]:hi[0]] + 0.5
            cover = np.clip(radius + 0.5 - _distance_to_segment(px, py, a, b), 0, 1)
            window = image[lo[1]:hi[1], lo[0]:hi[0]]
            np.maximum(window, 255 * cover, out=window)
    return image


def drawn_samples(path=SAMPLES_PATH):
    """{name: strokes} of the drawn digits shipped with cnnlib (the widget's sample menu).

    Each name starts with the digit that was meant ("7, small in a corner").
    """
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {name: sample["strokes"] for name, sample in data["samples"].items()}
