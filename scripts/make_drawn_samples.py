"""Write resources/drawn_digits.json: a few digits drawn as pen strokes from simple curves.

Notebook 11's drawing widget offers them in its "sample" menu, and the notebook uses the
first one when no one draws (in CI and on the preview site). They are made here from
lines, arcs and ellipses, never copied from MNIST, and placed on the 280x280 canvas at
different sizes and positions, as people draw: off-centre, small, large, slanted, so that
the notebook can show what goes wrong without MNIST's preprocessing.

    python scripts/make_drawn_samples.py      # rewrites resources/drawn_digits.json
"""
import json

import numpy as np

from cnnlib.data.strokes import CANVAS, PEN, SAMPLES_PATH


def arc(cx, cy, rx, ry, start, stop, n=24):
    """Points on an ellipse around (cx, cy) from angle start to stop (degrees, y down)."""
    t = np.radians(np.linspace(start, stop, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def line(*points, n=12):
    """Points along the polyline through points, n per piece."""
    p = np.asarray(points, dtype=float)
    pieces = [a + (b - a) * t[:, None] for a, b in zip(p[:-1], p[1:])
              for t in [np.linspace(0, 1, n, endpoint=False)]]
    return np.concatenate(pieces + [p[-1:]])


def stroke(*parts):
    return np.round(np.concatenate(parts), 1).tolist()


SAMPLES = {
    "2, small in the top-left corner": [stroke(arc(70, 62, 30, 28, 200, 360),
                                               line((100, 62), (40, 140), (108, 140)))],
    "7, large": [stroke(line((45, 40), (235, 40), (120, 255)))],
    "0, tall, off to the right": [stroke(arc(195, 140, 50, 100, -90, 270, n=48))],
    "3, at the bottom": [stroke(arc(150, 180, 32, 28, 200, 450),
                                arc(150, 235, 36, 30, 270, 520))],
    "1, slanted": [stroke(line((150, 50), (120, 240)))],
    "4, two strokes": [stroke(line((110, 40), (60, 160), (190, 160))),
                       stroke(line((165, 90), (160, 250)))],
}


def samples_json():
    """The text of resources/drawn_digits.json (tests/test_preprocess.py compares the two)."""
    data = {"canvas": CANVAS, "pen": PEN,
            "about": "Digits drawn as pen strokes by scripts/make_drawn_samples.py from lines "
                     "and arcs (not from MNIST). Each stroke is a list of [x, y] canvas pixels, "
                     "x to the right, y down; the name starts with the digit meant.",
            "samples": {name: {"digit": int(name[0]), "strokes": strokes}
                        for name, strokes in SAMPLES.items()}}
    return json.dumps(data, indent=1) + "\n"


def main():
    SAMPLES_PATH.write_text(samples_json(), encoding="utf-8")
    print(f"wrote {len(SAMPLES)} samples to {SAMPLES_PATH}")


if __name__ == "__main__":
    main()
