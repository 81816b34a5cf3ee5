"""Real-browser test: JupyterLab's dark theme in headless Chromium.

Every notebook's widgets, at three screen sizes, with every control moved, are tested in
tests/test_browser_widgets.py; the course site in tests/test_site_browser.py. Here
Playwright drives Debian's Chromium through JupyterLab's dark theme. Screenshots go to
browser-screenshots/ (git-ignored).
Run alone with:

    .venv/bin/python -m pytest -m browser
"""
import io
import re
import shutil

import pytest

from browser_page import browser, open_notebook, run_all, stop_kernels  # noqa: F401 (fixture)
from browser_support import ROOT, jupyter_lab

pytestmark = pytest.mark.browser
SHOTS = ROOT / "browser-screenshots"


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab serving a copy of the notebooks (autosave must not write into the repository)."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
        yield url, root


def light_corner(png_bytes):
    import matplotlib.image as mpimg
    pixels = mpimg.imread(io.BytesIO(png_bytes), format="png")
    return float(pixels[2:6, 2:6, :3].mean())


def test_dark_theme_keeps_figures_light(browser, lab):
    url, _ = lab
    page = open_notebook(browser, url, "notebooks/03_softmax_and_cross_entropy.ipynb")
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        run_all(page)                      # an AssertionError names any cell that raised
        figure = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) img.cnnlib-figure").first
        figure.scroll_into_view_if_needed()
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "dark_theme.png"))
        background = page.evaluate("() => getComputedStyle(document.querySelector("
                                   "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook'))"
                                   ".backgroundColor")
        rgb = [int(v) for v in re.findall(r"\d+", background)[:3]]
        assert sum(rgb) / 3 < 100, f"the dark theme did not apply: background {background}"
        assert light_corner(figure.screenshot()) > 0.9, "a figure is not on a light background"
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Light'})")
        page.close()
        stop_kernels(url)
