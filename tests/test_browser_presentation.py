"""The presentation scale in a real browser: a class's projector, used the way the course map
says ("Teaching with a projector": close the file browser, start Jupyter with
CNNLIB_PRESENTATION_SCALE=1.6).

tests/test_viz_widgets.py computes every widget's smallest figure text on a projector from
the figures themselves, assuming each is shown PROJECTOR["column_css_px"] wide (or at its own
width if narrower). Here JupyterLab shows 01, 06, 08 and 11 at 853x480 CSS px and device
scale 1.5 with the file browser closed, and checks that assumption: no widget picture is
shown narrower than that, so its text is at least as large as that test says. It also
checks that nothing overflows at that scale, and saves each widget whole to
test-artifacts/browser/presentation/ for a person to look at.
"""
import os
import shutil
from pathlib import Path

import pytest

from browser_checks import ACTIVE, problems
from browser_page import (SHOTS, browser, missing_alt, open_notebook, projector,  # noqa: F401
                          run_all, stop_kernels, wait_for_widgets, whole_widgets)
from browser_support import ROOT, jupyter_lab
from cnnlib.viz.presentation import PROJECTOR

pytestmark = pytest.mark.browser
NAMES = ["01_convolution.ipynb", "06_backprop_pooling.ipynb", "08_training.ipynb",
         "11_what_it_learned.ipynb"]
SCALE = "1.6"                     # what the course map tells a teacher to use


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-presentation")
    for name in NAMES:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    before = os.environ.get("CNNLIB_PRESENTATION_SCALE")
    os.environ["CNNLIB_PRESENTATION_SCALE"] = SCALE         # the kernels inherit it
    try:
        with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
            yield url
    finally:
        if before is None:
            os.environ.pop("CNNLIB_PRESENTATION_SCALE")
        else:
            os.environ["CNNLIB_PRESENTATION_SCALE"] = before


SHOWN_JS = """(active) => [...document.querySelectorAll(
    active + ' .jp-OutputArea-output > .jupyter-widgets img')].map(i => ({
    shown: i.getBoundingClientRect().width, natural: i.naturalWidth, alt: i.alt.slice(0, 60)}))"""


@pytest.mark.parametrize("name", NAMES, ids=[n[:2] for n in NAMES])
def test_projector_at_presentation_scale(projector, lab, name):
    page = open_notebook(projector, lab, name)
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        page.wait_for_function("() => { const f = document.getElementById('filebrowser');"
                               " return !f || f.getBoundingClientRect().width === 0; }", timeout=10_000)
        state = run_all(page)
        # run_all saw the kernel idle with every cell run; the widgets it drew then talk to the
        # kernel (comm messages), which makes it busy for a moment: wait for that to settle
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext"
                               ".session.kernel.status === 'idle'", timeout=60_000)
        assert wait_for_widgets(page, state) > 0, f"{name} shows no widget"
        images = page.evaluate(SHOWN_JS, ACTIVE)
        assert images, f"{name}: no widget picture to measure"
        column = PROJECTOR["column_css_px"]
        narrow = [i for i in images if i["shown"] < min(i["natural"], column) - 1]
        assert not narrow, (f"{name}: widget pictures shown narrower than the {column} CSS px "
                            f"the text-size test assumes (file browser closed): {narrow}")
        found = problems(page) + missing_alt(page)
        assert not found, f"{name} at presentation scale {SCALE}: " + "; ".join(found)
        widgets = page.locator(f"{ACTIVE} .jp-OutputArea-output:has(> .jupyter-widgets)")
        whole_widgets(page, widgets, SHOTS / "presentation" / Path(name).stem, "projector")
    finally:
        page.close()
        stop_kernels(lab)
