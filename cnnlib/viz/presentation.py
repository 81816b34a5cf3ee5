"""The presentation scale: figures readable from the back of a classroom.

    set_presentation_scale(1.6)        # or CNNLIB_PRESENTATION_SCALE=1.6 before starting Jupyter
    text_px(fig, 648, 1.5)             # its smallest text in device px on a projector

cnnlib.viz.base.figure reads presentation_scale() for every new figure: at scale s a
figure is drawn figsize / s inches at s times the dpi, so it keeps its size in pixels and
its text, lines and markers come out s times larger relative to the picture;
base.panels puts fewer panels in a row. cnnlib.viz.base re-exports these names.
How to use it in class: notebooks/README.md, "Teaching with a projector".
"""
import math
import os

__all__ = ["PROJECTOR", "PROJECTOR_SCALE", "SCALE_ENV", "presentation_scale",
           "set_presentation_scale", "text_px"]

SCALE_ENV = "CNNLIB_PRESENTATION_SCALE"
SCALE_RANGE = (0.5, 4.0)
# A projector at 1280x720 and 150 % zoom: 853x480 CSS px, 1.5 device px each. With the
# file browser closed (Ctrl+B) JupyterLab 4 shows a widget's picture at most this wide
# (tests/test_browser_presentation.py measures it in Chromium and fails if pictures are
# shown narrower); at PROJECTOR_SCALE every widget's figure text is >= 12 device px there
# (tests/test_viz_widgets.py checks it).
PROJECTOR = {"column_css_px": 648, "device_scale": 1.5, "min_text_px": 12}
PROJECTOR_SCALE = 1.6

_scale = None       # None: read SCALE_ENV (1 when unset)


def _check_scale(value, where):
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = math.nan
    low, high = SCALE_RANGE
    if not low <= scale <= high:        # also False for NaN
        raise ValueError(f"{where} must be a number from {low:g} to {high:g} (1 = normal, "
                         f"about 1.6 for a projector); got {value!r}.")
    return scale


def presentation_scale():
    """The scale new figures are drawn at: set_presentation_scale's value, else the
    environment variable CNNLIB_PRESENTATION_SCALE, else 1."""
    if _scale is not None:
        return _scale
    value = os.environ.get(SCALE_ENV, "").strip()
    return _check_scale(value, f"${SCALE_ENV}") if value else 1.0


def set_presentation_scale(scale=1.0):
    """Draw every later figure's text (and lines) `scale` times larger relative to the
    figure, keeping its size in pixels; 1 is normal, 1.6 makes the course readable on a
    projector at 150 % zoom. None goes back to the environment variable. Returns the
    previous scale. Widgets redraw at the new scale when a control next moves.
    """
    global _scale
    new = None if scale is None else _check_scale(scale, "the presentation scale")
    try:
        previous = presentation_scale()
    except ValueError:                  # a bad environment variable is being overridden
        previous = None
    _scale = new
    return previous


def text_px(fig, shown_width=None, device_scale=1.0):
    """The height in device pixels of the smallest visible text of fig (its font size)
    when the figure is shown shown_width CSS pixels wide (None: at its own pixel width;
    JupyterLab shrinks a wider figure to the column, never enlarges it) on a screen with
    device_scale device pixels per CSS pixel (1.5 for a projector at 150 % zoom).
    Tick labels count; empty and invisible texts do not. None when fig has no text.
    """
    fig.canvas.draw()                   # tick labels exist only after a draw
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize"))
             if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
             and _in_figure(t, fig)]
    if not sizes:
        return None
    width = fig.get_figwidth() * fig.dpi
    shrink = 1.0 if shown_width is None else min(1.0, shown_width / width)
    return min(sizes) / 72 * fig.dpi * shrink * device_scale


def _in_figure(text, fig):
    """False for tick labels matplotlib keeps but does not draw (outside the axis range)."""
    box = text.get_window_extent()
    return box.width > 0 and box.x1 >= 0 and box.x0 <= fig.bbox.width + 1
