"""JupyterLab pages for the browser tests: open a notebook at a screen size, Run All, wait for
its widgets, resize, photograph, and stop the kernels afterwards.

Every page is driven through JupyterLab's own application object (window.jupyterapp, which
the server exposes with --LabApp.expose_app_in_browser), so the tests read the notebook's
model (execution counts, outputs, kernel status) rather than guess from pixels.
"""
import json
import time
import urllib.request

import pytest

from browser_checks import ACTIVE
from browser_support import CHROMIUM_FLAGS, ROOT, chromium

SIZES = {"projector": ({"width": 853, "height": 480}, 1.5),     # 1280x720 at 150% zoom
         "laptop": ({"width": 1366, "height": 768}, 1),
         "wide": ({"width": 1920, "height": 1080}, 1)}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SHOTS = ROOT / "test-artifacts" / "browser"      # git-ignored; CI keeps it
RUN_S = 600        # a notebook takes ~10 s on an idle 2-core machine; CI may be busy


@pytest.fixture(scope="module")
def browser(request):
    """Debian's Chromium, headless; at the end, where the screenshots are."""
    path, _ = chromium()           # conftest skipped the test already when it is missing
    playwright_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:                           # shown also when output is captured
        terminal.write_line(f"\nbrowser screenshots: {SHOTS}")


@pytest.fixture(scope="module")
def projector(browser):
    """A browser window the size of a projector's picture at 150% zoom."""
    viewport, scale = SIZES["projector"]
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    yield context
    context.close()


def open_notebook(context, url, path):
    """A new page of context showing the notebook at path, its kernel idle, file browser open."""
    page = context.new_page()
    page.goto(f"{url}/lab/tree/{path}?reset")
    page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                           " const k = w && w.sessionContext && w.sessionContext.session"
                           " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
                           timeout=120_000)
    page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
    page.wait_for_function("() => { const f = document.getElementById('filebrowser');"
                           " return f && f.getBoundingClientRect().width > 100; }", timeout=10_000)
    return page


STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget, cells = panel.content.model.cells;
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
    """Run All; the notebook's state, or an AssertionError naming the cells that raised."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_S
    while True:
        state = page.evaluate(STATE_JS)
        errors = [f"cell {c['index']}: " + ", ".join(f"{o['ename']}: {o['evalue']}" for o in c["outputs"]
                                                     if o["output_type"] == "error")
                  for c in state["cells"] if "raises-exception" not in c["tags"]
                  and any(o["output_type"] == "error" for o in c["outputs"])]
        assert not errors, "Run All raised: " + "; ".join(errors)
        if state["status"] == "idle" and all(c["count"] is not None for c in state["cells"]):
            return state
        assert time.monotonic() < deadline, f"Run All did not finish in {RUN_S} s"
        time.sleep(0.5)


def wait_for_widgets(page, state):
    """Wait until every widget Run All displayed is drawn; how many there are."""
    expected = sum(WIDGET_MIME in o.get("data", {}) for c in state["cells"] for o in c["outputs"])
    page.wait_for_function(
        """([active, n]) => {
          const outputs = [...document.querySelectorAll(active + ' .jp-OutputArea-output')];
          return outputs.filter(o => o.querySelector(':scope > .jupyter-widgets')).length >= n
              && !outputs.some(o => o.textContent.startsWith('Loading widget'));
        }""", arg=[ACTIVE, expected], timeout=60_000)
    time.sleep(0.5)                                     # the figures' images decode
    return expected


def missing_alt(page):
    """Figures without alt text (ipywidgets.Image, 08's dashboard picture, has no alt attribute
    yet: issue 24's accessibility part adds one)."""
    count = page.evaluate(f"""() => [...document.querySelectorAll(
        '{ACTIVE} .jp-OutputArea-output img:not(.widget-image)')]
        .filter(img => !(img.getAttribute('alt') || '').trim()).length""")
    return [f"{count} figure(s) without alt text"] if count else []


def photograph(page, folder, size):
    """One screenshot per widget: scrolled to the top of the screen, the way it is shown."""
    folder.mkdir(parents=True, exist_ok=True)
    widgets = page.locator(f"{ACTIVE} .jp-OutputArea-output:has(> .jupyter-widgets)")
    for i in range(widgets.count()):
        widgets.nth(i).evaluate("el => el.scrollIntoView({block: 'start'})")
        time.sleep(0.2)
        page.screenshot(path=str(folder / f"{size}-widget{i}.png"),
                        scale="device" if size.startswith("projector") else "css")  # projector: 1280x720
    if size.startswith("projector"):
        whole_widgets(page, widgets, folder, size)
    return widgets.count()


def whole_widgets(page, widgets, folder, size):
    """Each widget whole, for a person to look at: a projector shows a tall widget a screen at
    a time, so the window is made taller (same width, so the same layout) while each is taken."""
    viewport = page.viewport_size
    page.set_viewport_size({"width": viewport["width"], "height": 3000})
    try:
        for i in range(widgets.count()):
            widgets.nth(i).evaluate("el => el.scrollIntoView({block: 'start'})")
            time.sleep(0.3)
            widgets.nth(i).screenshot(path=str(folder / f"{size}-widget{i}-whole.png"), scale="device")
    finally:
        page.set_viewport_size(viewport)


def resize(page, size):
    page.set_viewport_size(SIZES[size][0])
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    time.sleep(0.5)                                    # JupyterLab's panels re-lay themselves out


def stop_kernels(url):
    """Shut down every kernel the server runs, so the next notebook starts on a quiet machine."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
