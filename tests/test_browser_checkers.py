"""The browser checks can fail: a notebook with each problem a student would meet, one per
cell (an error view, a traceback in an Output, a picture larger than its box, a cut label, a
slider that does not move, a picture that no control redraws, a menu whose ArrowDown goes to
JupyterLab's "next cell" because nothing keeps the notebook's shortcuts out of it) and one
widget that works (marked as cnnlib's are, cnnlib.viz.a11y), run in JupyterLab on the
projector.
Every planted problem must be found in its own cell, and nothing in the working widget.
"""
import json

import pytest

from browser_checks import kinds, problems
from browser_controls import exercise
from browser_page import (browser, open_notebook, projector, run_all, stop_kernels,  # noqa: F401
                          wait_for_widgets)
from browser_support import jupyter_lab

pytestmark = pytest.mark.browser
# A notebook with each thing that goes wrong for students, one per cell, and a widget that works.
BROKEN_CELLS = {
    "error view": """import ipywidgets as W
from traitlets import Unicode
from ipywidgets._version import __jupyter_widgets_controls_version__ as version

class Broken(W.DOMWidget):   # a view class the front end does not have: an error view
    _view_name = Unicode("NoSuchView").tag(sync=True)
    _view_module = Unicode("@jupyter-widgets/controls").tag(sync=True)
    _view_module_version = Unicode(version).tag(sync=True)

Broken()""",
    "traceback in Output": """out = W.Output()
fails = W.IntSlider(description="fails", max=5)

def callback(change):
    with out:                # the exception is shown in the Output, Run All stays green
        raise RuntimeError("a callback failed")

fails.observe(callback, names="value")
W.VBox([fails, out])""",
    "overflow": """tall = W.Output(layout=W.Layout(height="100px"))
with tall:
    display(W.HTML('<div style="height: 300px; background: #ccc">300 px tall</div>'))
W.VBox([W.IntSlider(description="size"), tall,
        W.HBox([W.Button(description="wide", layout=W.Layout(width="600px", flex="0 0 auto"))],
               layout=W.Layout(width="300px"))])""",
    "text cut": """W.IntSlider(description="a description far too long for its label")""",
    "not moved": """stuck = W.IntSlider(description="stuck", max=5)
stuck.observe(lambda change: setattr(stuck, "value", 0), names="value")
stuck""",
    "picture frozen": """def square(colour):
    return W.HTML(f'<img alt="a {colour} square" width="40" height="40" src="data:image/svg+xml,'
                  f'<svg xmlns=%22http://www.w3.org/2000/svg%22><rect width=%2240%22 height=%2240%22 '
                  f'fill=%22{colour}%22/></svg>">')

frozen_out = W.Output()
with frozen_out:
    display(square("gray"))
W.VBox([W.IntSlider(description="frozen", max=5), frozen_out])""",
    "keys to the notebook": """W.VBox([W.Dropdown(options=["a", "b", "c"], description="plain menu"),
        W.Label("(a plain ipywidgets box: no data-lm-suppress-shortcuts)")])""",
    "works": """from cnnlib.viz.a11y import BOX_CLASS, SliderNames

good_out = W.Output(layout=W.Layout(min_height="50px"))
good = W.IntSlider(description="works", max=5)

def redraw(change):
    with good_out:
        good_out.clear_output(wait=True)
        display(square(["red", "blue"][change["new"] % 2]))

good.observe(redraw, names="value")
W.VBox([good, W.Dropdown(options=["a", "b"], description="menu"),
        W.ToggleButtons(options=["x", "y"]), W.Checkbox(description="box"),
        W.BoundedIntText(value=1, max=9, description="number"), good_out,
        SliderNames()]).add_class(BOX_CLASS)""",
}


def broken_notebook():
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in BROKEN_CELLS.values()]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    (root / "broken.ipynb").write_text(json.dumps(broken_notebook()))
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
        yield url


def test_checkers_see_what_students_would_see(projector, lab):
    """Each kind of problem, planted in its own cell, is found in that cell and nowhere else:
    the suite fails when students would see an error view, a traceback, a cut picture or
    label, a control that does not move, or a picture that follows no control; the widget
    that works passes every check."""
    page = open_notebook(projector, lab, "broken.ipynb")
    try:
        wait_for_widgets(page, run_all(page))
        found = problems(page)
        exercise(page, set(), lambda label, lines: found.extend(lines))
        cells = kinds(found)
        print("\n".join(sorted(set(found))))
        for cell, kind in enumerate(BROKEN_CELLS):
            if kind == "works":
                assert cell not in cells, f"the working widget was reported: {cells[cell]}"
            else:
                assert kind in cells.get(cell, set()), f"{kind} in cell {cell} was not found"
    finally:
        page.close()
        stop_kernels(lab)
