"""Real-browser test: every notebook in JupyterLab 4 in headless Chromium (the course site:
tests/test_site_browser.py).

nbval runs cells headlessly and never sees a widget that fails to render, a slider that
redraws nothing, or a Start button that does nothing. Here Playwright drives Debian's
Chromium: for each notebook, Run All, wait for the kernel, then check errors, widgets,
the first slider that drives a figure, alt text, and in 08 the training dashboard.
Screenshots go to browser-screenshots/ (git-ignored). Run alone with:

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
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
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


def widget_count(state):
    return sum(WIDGET_MIME in o.get("data", {}) for c in state["cells"] for o in c["outputs"])


def wait_for_widgets(page, expected):
    """All widget views attached (a .jupyter-widgets root in their output) and none still loading."""
    page.wait_for_function(
        """(n) => {
          const outputs = [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')];
          const views = outputs.filter(o => o.querySelector(':scope > .jupyter-widgets'));
          const loading = outputs.filter(o => o.textContent.startsWith('Loading widget'));
          return views.length >= n && loading.length === 0;
        }""", arg=expected, timeout=60_000)


def image_sources(locator):
    return [img.get_attribute("src") for img in locator.locator("img").all()]


def wait_for_change(read, before, seconds=60, what="figure"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = read()
        if now and now != before:
            return now
        time.sleep(0.3)
    raise AssertionError(f"the {what} did not change within {seconds} s")


def drag_slider(page, slider, fraction):
    """Drag the slider's handle to `fraction` of its track, as a student would with the mouse."""
    track = slider.locator(".noUi-target, .slider").first
    handle = slider.locator(".noUi-handle").first
    box, hbox = track.bounding_box(), handle.bounding_box()
    page.mouse.move(hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2)
    page.mouse.down()
    cx, cy = hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2
    if "widget-vslider" in (slider.get_attribute("class") or ""):  # 03's score sliders
        page.mouse.move(cx, box["y"] + (1 - fraction) * box["height"], steps=8)
    else:
        page.mouse.move(box["x"] + fraction * box["width"], cy, steps=8)
    page.mouse.up()


def first_figure_slider(page):
    """The first slider whose cell also holds an Output widget (the figure it drives)."""
    for cell in page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").all():
        if cell.locator(".widget-slider").count() and cell.locator(".widget-output").count():
            return cell, cell.locator(".widget-slider").first
    return None, None


def check_dashboard(page):
    """08: Start draws loss and accuracy curves into the picture; Stop ends the training."""
    start = page.locator(".jupyter-widgets button", has_text=re.compile(r"^\s*Start\s*$")).first
    stop = page.locator(".jupyter-widgets button", has_text=re.compile(r"^\s*Stop\s*$")).first
    box = start.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    picture = box.locator("img").first
    box.locator(".widget-slider").first.scroll_into_view_if_needed()
    drag_slider(page, box.locator(".widget-slider").first, 1.2)     # epochs: the maximum
    initial = picture.get_attribute("src")
    start.click()
    page.wait_for_function("(b) => b.disabled", arg=start.element_handle(), timeout=10_000)
    wait_for_change(lambda: picture.get_attribute("src"), initial, what="training dashboard")
    stop.click()
    page.wait_for_function("(b) => !b.disabled", arg=start.element_handle(), timeout=60_000)
    after_stop = picture.get_attribute("src")
    time.sleep(2)
    assert picture.get_attribute("src") == after_stop, "the dashboard kept drawing after Stop"
    return picture


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_in_jupyterlab(browser, lab, path):
    url, _ = lab
    page = open_notebook(browser, url, path.name)
    try:
        state, errors = run_all(page)
        assert not errors, "unexpected errors: " + "; ".join(
            f"cell {c['index']}: " + ", ".join(f"{o['ename']}: {o['evalue']}" for o in c["outputs"]
                                                if o["output_type"] == "error") for c in errors)
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        expected = widget_count(state)
        if expected:
            wait_for_widgets(page, expected)
        text = notebook.inner_text()
        assert "Error displaying widget" not in text
        cell, slider = first_figure_slider(page)
        if expected and cell is None and path.name != "08_training.ipynb":
            pytest.fail("a widget notebook without a slider driving a figure")
        if cell is not None:
            slider.scroll_into_view_if_needed()
            before = image_sources(cell.locator(".widget-output"))
            readout = slider.locator(".widget-readout")
            value = readout.first.inner_text() if readout.count() else None
            drag_slider(page, slider, 0.35)
            time.sleep(0.5)
            if value is not None and readout.first.inner_text() == value:
                drag_slider(page, slider, 0.85)    # 0.35 of the track was the starting value
            wait_for_change(lambda: image_sources(cell.locator(".widget-output")),
                            before, what=f"figure under the first slider of {path.name}")
        if path.name == "08_training.ipynb":
            check_dashboard(page)
        # ipywidgets.Image has no alt attribute (the dashboard picture): only figures are checked
        missing = page.evaluate("""() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img:not(.widget-image)')]
            .filter(img => !(img.getAttribute('alt') || '').trim()).length""")
        assert missing == 0, f"{missing} figure(s) without alt text"
        page.screenshot(path=str(SHOTS / f"{path.stem}.png"))
    finally:
        page.close()
        stop_kernels(url)


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
        stop_kernels(url)
