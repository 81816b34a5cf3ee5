"""The drawn-digit pictures (cnnlib.viz.drawing) and notebook 11's drawing widget (.canvas).

The widget's wiring is tested by setting what the browser would set (the canvas's strokes)
and pressing its buttons; tests/test_browser_draw.py draws with a real mouse in Chromium.
"""
import numpy as np
import pytest

pytest.importorskip("anywidget")

from cnnlib.data import PRETRAINED_PATH                                  # noqa: E402
from cnnlib.data.strokes import drawn_samples, render_strokes            # noqa: E402
from cnnlib.viz.alt_text import alt_text                                 # noqa: E402
from cnnlib.viz.canvas import drawing_explorer                           # noqa: E402
from cnnlib.viz.drawing import (drawing_view, plot_preprocessing,        # noqa: E402
                                plot_without_preprocessing, shrink)
from cnnlib.viz.trained import load_trained                              # noqa: E402

SAMPLES = drawn_samples()
SMALL_TWO = "2, small in the top-left corner"


@pytest.fixture(scope="module")
def net():
    return load_trained(PRETRAINED_PATH)[0]


def test_the_steps_figure_names_the_box_and_its_new_size():
    fig = plot_preprocessing(render_strokes(SAMPLES[SMALL_TWO]))
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4 and "ink box 124×86" in titles[0] and "20×14" in titles[2]
    assert "124 by 86" in alt_text(fig)


def test_without_preprocessing_the_small_two_is_misread(net):
    # the small 2 in a corner, shrunk as drawn, is a tiny off-centre shape the net reads wrongly
    image = render_strokes(SAMPLES[SMALL_TWO])
    fig = plot_without_preprocessing(net, image)
    said = alt_text(fig)
    assert "preprocessed digit as 2" in said
    wrong = int(net.predict_proba((shrink(image)[None, None] / 255 - 0.5).astype(np.float32))
                .argmax())
    assert wrong != 2 and f"reads as {wrong}" in said


@pytest.mark.parametrize("image, words", [(np.zeros((280, 280)), "canvas is empty"),
                                          (np.full((28, 28), np.nan), "NaN")])
def test_the_view_explains_what_it_cannot_draw(net, image, words):
    fig = drawing_view(net, image)
    assert words in alt_text(fig)
    with pytest.raises(ValueError, match=words):
        plot_preprocessing(image)


def test_the_view_shows_steps_readings_and_feature_maps(net):
    fig = drawing_view(net, render_strokes(SAMPLES["7, large"]))
    titles = " | ".join(ax.get_title() for ax in fig.axes)
    for words in ("1. drawing", "4. in 28×28", "shrunk as drawn", "preprocessed: reads 7",
                  "16 maps", "32 maps"):
        assert words in titles, words


def test_the_widget_follows_the_strokes_the_menu_and_the_buttons(net):
    box = drawing_explorer(net, sample=SMALL_TWO)
    c = box.controls
    assert box.canvas.strokes == SAMPLES[SMALL_TWO]
    assert "reads 2" in box.status.value and 'aria-live="polite"' in box.status.value
    assert "reads 2" in box.canvas.aria_label
    first = box.figure
    c["sample"].value = "7, large"                               # the menu puts a sample on
    assert box.canvas.strokes == SAMPLES["7, large"] and box.figure is not first
    assert "reads 7" in box.status.value
    box.canvas.strokes = box.canvas.strokes + [[[20.0, 20.0], [40.0, 30.0]]]   # a pen stroke
    assert c["sample"].value is None                             # your drawing, no sample
    c["undo"].click()
    assert box.canvas.strokes == SAMPLES["7, large"]
    c["clear"].click()
    assert box.canvas.strokes == [] and "canvas is empty" in alt_text(box.figure)
    assert "empty" in box.canvas.aria_label and "draw a digit" in box.status.value
    c["sample"].value = "7, large"                               # the same sample again
    assert box.canvas.strokes == SAMPLES["7, large"]


def test_every_control_has_a_name_and_the_canvas_is_labelled(net):
    box = drawing_explorer(net)
    for name, control in box.controls.items():
        assert control.description.strip() and control.tooltip.strip(), name
    assert 'setAttribute("role", "img")' in box.canvas._esm
    # the box is a cnnlib widget box, so keys on its menu reach the menu, not the notebook
    from cnnlib.viz.a11y import BOX_CLASS, SliderNames
    assert BOX_CLASS in box._dom_classes
    assert sum(isinstance(w, SliderNames) for w in box.children[0].children) == 1
    with pytest.raises(ValueError, match="sample must be one of"):
        drawing_explorer(net, sample="a 10")


def test_at_the_presentation_scale_no_two_titles_overlap(net):
    # With the projector's larger text the five step panels in one row had their titles run
    # into each other (seen in the browser test's screenshots); every title must stand alone.
    from cnnlib.viz import presentation
    previous = presentation._scale
    try:
        for scale in (1.0, presentation.PROJECTOR_SCALE):
            presentation.set_presentation_scale(scale)
            fig = drawing_view(net, render_strokes(SAMPLES[SMALL_TWO]))
            fig.draw_without_rendering()             # lay out (constrained) as when shown
            boxes = [ax.title.get_window_extent() for ax in fig.axes
                     if ax.get_visible() and ax.get_title()]
            clashes = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
            assert not clashes, f"scale {scale}: {len(clashes)} pair(s) of titles overlap"
    finally:
        presentation._scale = previous
