"""Colours that tell things apart, and the rule that keeps them readable for colour-blind
students: every pair of colours a picture uses to distinguish two things must stay
distinguishable when deuteranopia or protanopia (red-green colour blindness, about 1 in
12 boys) is simulated.

    PAIR                       # Okabe-Ito blue and orange: the course's two-thing colours
    OUTLINES                   # (colour, line style) of alternating pooling windows (02)
    simulate(color, "deuteranopia") -> (r, g, b) as a deuteranope sees it
    cvd_distance(a, b) -> smallest CIELAB distance over normal vision and both deficiencies
    DISTINCTIONS               # every colour set cnnlib.viz uses to tell things apart

The simulation is Machado, Oliveira and Fernandes' model ("A Physiologically-based Model
for Simulation of Color Vision Deficiency", IEEE TVCG 2009) at full severity, applied to
linear RGB; distances are CIE76 Delta E in CIELAB. A pair needs MIN_DELTA_E: red against
green (about 24 for deuteranopes) and gold against limegreen (about 13 for protanopes),
which 02 once used, fail it. Colour is never the only mark either: the pooling windows
alternate line styles, the true class has a text mark (probabilities.probability_bars).

No notebook introduces it: the drawing modules take their colours from here.
"""
import itertools

import numpy as np
from matplotlib.colors import to_rgb

__all__ = ["DISTINCTIONS", "MIN_DELTA_E", "OKABE_ITO", "OUTLINES", "PAIR", "cvd_distance",
           "simulate"]

OKABE_ITO = {"orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
             "reddish purple": "#CC79A7", "black": "#000000"}
PAIR = (OKABE_ITO["blue"], OKABE_ITO["orange"])
OUTLINES = ((OKABE_ITO["orange"], "-"), (OKABE_ITO["blue"], "--"))
MIN_DELTA_E = 35.0

MACHADO = {   # linear-RGB matrices at severity 1.0 (Machado et al. 2009, table of the paper)
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}

# Every set of colours a cnnlib.viz picture uses to tell things apart (what they mean).
DISTINCTIONS = {
    "pooling windows, alternating (02)": tuple(c for c, _ in OUTLINES),
    "probability bars: other, right, wrong (03, 04, 11, 13)": ("tab:gray", "tab:blue", "tab:orange"),
    "train and validation curves (08)": ("C0", "C1"),
    "weights and gradients in the dashboard (08)": PAIR,
    "correct and wrong confidences (11)": ("tab:blue", "tab:orange"),
    "right and wrong digit titles (00, 11)": ("black", "red"),
}


def _linear(rgb):
    rgb = np.asarray(rgb, dtype=float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _srgb(lin):
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate(color, deficiency):
    """(r, g, b) in 0..1 of color (any matplotlib colour) as seen with deficiency
    ("deuteranopia", "protanopia", or "normal")."""
    lin = _linear(to_rgb(color))
    if deficiency != "normal":
        if deficiency not in MACHADO:
            raise ValueError(f"deficiency must be 'normal' or one of {sorted(MACHADO)}; "
                             f"got {deficiency!r}.")
        lin = MACHADO[deficiency] @ lin
    return tuple(float(v) for v in _srgb(lin))


def _lab(rgb):
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ _linear(rgb) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def cvd_distance(a, b):
    """Smallest CIE76 Delta E between colours a and b over normal vision, deuteranopia
    and protanopia: how far apart they look to the reader who sees them closest."""
    return min(float(np.linalg.norm(_lab(simulate(a, d)) - _lab(simulate(b, d))))
               for d in ("normal", *MACHADO))


def closest_pair(colors):
    """(distance, a, b): the two colours of colors that look most alike (cvd_distance)."""
    return min((cvd_distance(a, b), a, b) for a, b in itertools.combinations(colors, 2))
