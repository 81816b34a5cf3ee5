"""The colour rule: every colour pair a picture uses to tell two things apart stays apart
for red-green colour-blind readers (simulated), so a future red/green pair fails here."""
import re
from pathlib import Path

import numpy as np
import pytest

from cnnlib.viz.palette import (DISTINCTIONS, MIN_DELTA_E, OUTLINES, closest_pair,
                                cvd_distance, simulate)

VIZ = Path(__file__).resolve().parent.parent / "cnnlib" / "viz"


@pytest.mark.parametrize("what", sorted(DISTINCTIONS))
def test_every_distinction_survives_colour_blindness(what):
    distance, a, b = closest_pair(DISTINCTIONS[what])
    assert distance >= MIN_DELTA_E, (f"{what}: {a} and {b} are only {distance:.1f} apart "
                                     f"for a colour-blind reader (need {MIN_DELTA_E})")


@pytest.mark.parametrize("a, b", [("red", "green"), ("tab:red", "tab:green"),
                                  ("gold", "limegreen")])    # 02's old window outlines
def test_the_rule_rejects_red_green_pairs(a, b):
    assert cvd_distance(a, b) < MIN_DELTA_E
    assert cvd_distance(a, b) < cvd_distance(a, "black")   # not a rule that rejects all


def test_simulation_keeps_greys_and_merges_red_with_green():
    for grey in ("white", "black", "0.5"):
        for deficiency in ("deuteranopia", "protanopia"):
            np.testing.assert_allclose(simulate(grey, deficiency), simulate(grey, "normal"),
                                       atol=2e-3)
    red, green = (np.array(simulate(c, "deuteranopia")) for c in ("red", "green"))
    # for a deuteranope pure red and green are both dull yellows: close in hue, far from
    # (1, 0, 0) and (0, 0.5, 0); red keeps no blue
    assert red[0] > red[2] and green[0] > green[2] and abs(red[0] - red[1]) < 0.35
    with pytest.raises(ValueError, match="deficiency must be"):
        simulate("red", "tritanopia")


def test_window_outlines_differ_in_line_style_too():
    assert len({style for _, style in OUTLINES}) == len(OUTLINES)


CONFUSABLE = r'"(tab:)?(green|lime|limegreen|gold|yellow|olive|yellowgreen|lightgreen|darkgreen)"'


def test_no_drawing_uses_a_red_green_colour_name():
    """Distinctions take their colours from palette.py, where the rule above checks them."""
    found = [f"{path.name}: {m.group(0)}" for path in sorted(VIZ.glob("*.py"))
             if path.name != "palette.py"      # the Okabe-Ito names themselves
             for m in re.finditer(CONFUSABLE, path.read_text(encoding="utf-8"))]
    assert not found, found
