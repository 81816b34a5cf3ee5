"""Real-browser test: JupyterLab's dark theme in headless Chromium.

Every notebook's widgets, at three screen sizes, with every control moved, are tested in
tests/test_browser_widgets.py; the course site in tests/test_site_browser.py. Here
Playwright drives Debian's Chromium through JupyterLab's dark theme. Screenshots go to
browser-screenshots/ (git-ignored).
Run alone with:

    .venv/bin/python -m pytest -m browser
"""
import io
import json
import re
import shutil
import time
import urllib.request

import pytest

from browser_support import CHROMIUM_FLAGS, ROOT, chromium, in_ci, jupyter_lab

pytestmark = pytest.mark.browser
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOTS = ROOT / "browser-screenshots"
RUN_TIMEOUT_MS = 600_000  # a notebook takes ~10 s on an idle 2-core machine; CI may be busy


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    path, reason = chromium()
    if path is None:
        if in_ci():
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    playwright_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        # launch() gives Chromium a new empty user-data directory of its own every time
        # (Playwright refuses --user-data-dir here); no browser is downloaded.
        browser = p.chromium.launch(executable_path=str(path), headless=True,
                                    args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab serving a copy of the notebooks (autosave must not write into the repository)."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
        yield url, root


def open_notebook(browser, url, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/notebooks/{name}?reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           ".status === 'idle'", timeout=120_000)
    return page


# Run in the page: the notebook model's state, cell by cell.
NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < c.outputs.length; j++) outputs.push(c.outputs.get(j).toJSON());
    out.push({index: i, count: c.executionCount, tags: c.getMetadata('tags') || [], outputs});
  }
  return {status: panel.sessionContext.session.kernel.status, cells: out};
}"""


def run_all(page):
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while True:
        state = page.evaluate(NOTEBOOK_STATE)
        done = all(c["count"] is not None for c in state["cells"])
        errors = [c for c in state["cells"] if any(o["output_type"] == "error" for o in c["outputs"])
                  and "raises-exception" not in c["tags"]]
        if errors or (done and state["status"] == "idle"):
            return state, errors
        if time.monotonic() > deadline:
            pending = [c["index"] for c in state["cells"] if c["count"] is None]
            raise AssertionError(f"Run All did not finish in {RUN_TIMEOUT_MS / 1000:.0f} s; "
                                 f"cells still waiting: {pending}")
        time.sleep(0.5)


def stop_kernels(url):
    """Shut down every kernel the server runs, so the next notebook starts on a quiet machine."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def light_corner(png_bytes):
    import matplotlib.image as mpimg
    pixels = mpimg.imread(io.BytesIO(png_bytes), format="png")
    return float(pixels[2:6, 2:6, :3].mean())


def test_dark_theme_keeps_figures_light(browser, lab):
    url, _ = lab
    page = open_notebook(browser, url, "03_softmax_and_cross_entropy.ipynb")
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        _, errors = run_all(page)
        assert not errors
        figure = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) img.cnnlib-figure").first
        figure.scroll_into_view_if_needed()
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
