"""Real-browser test of notebook 11's drawing widget: draw a digit with the mouse in Chromium.

The unit tests (tests/test_viz_drawing.py) set the canvas's strokes from Python; only a
browser shows that the <canvas> turns mouse movements into strokes that reach the kernel.
Here JupyterLab 4 runs notebook 11 in headless Chromium at the projector size (1280x720 at
150 % zoom: 853x480 CSS pixels, device scale 1.5), the test clears the canvas, draws a
vertical stroke with the mouse and checks that the network's answer in the status line and
the picture follow: a single upright stroke must be read as a 1. It also checks that every
control is found by its accessible name and that the sample menu works from the keyboard.
The screenshot goes to test-artifacts/browser/ (git-ignored; CI keeps it).

    .venv/bin/python -m pytest -m browser tests/test_browser_draw.py
"""
import re
import shutil
import time

import pytest

from browser_support import CHROMIUM_FLAGS, ROOT, chromium, in_ci, jupyter_lab

pytestmark = pytest.mark.browser
NOTEBOOK = "11_what_it_learned.ipynb"
SHOTS = ROOT / "test-artifacts" / "browser"
PROJECTOR = {"viewport": {"width": 853, "height": 480}, "device_scale_factor": 1.5}
KERNEL_IDLE = ("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
               " const k = w && w.sessionContext && w.sessionContext.session"
               " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }")
# Every code cell has run (an execution count) and the kernel is idle again; or some error.
RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget, cells = panel.content.model.cells;
  let waiting = 0, errors = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    if (c.executionCount === null) waiting++;
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  }
  return {waiting, errors, idle: panel.sessionContext.session.kernel.status === 'idle'};
}"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path, reason = chromium()
    if path is None:
        if in_ci():
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("lab-root")      # autosave must not write into the repository
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url, \
            sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(**PROJECTOR)
        page.goto(f"{url}/lab/tree/notebooks/{NOTEBOOK}?reset")
        page.wait_for_function(KERNEL_IDLE, timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + 600
        while True:
            state = page.evaluate(RUN_STATE)
            if state["errors"] or (state["waiting"] == 0 and state["idle"]):
                break
            assert time.monotonic() < deadline, f"Run All did not finish: {state}"
            time.sleep(0.5)
        assert not state["errors"], state["errors"]
        yield page
        browser.close()


def widget(page):
    """The drawing widget's canvas, status line and picture, scrolled into view."""
    canvas = page.locator("canvas.cnnlib-drawing-canvas")
    canvas.wait_for(timeout=60_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.locator("xpath=ancestor::div[contains(@class, 'widget-box')][last()]")
    return canvas, box.locator("[role=status]"), box.locator(".widget-output img")


def wait_for(read, test, what, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = read()
        if test(value):
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} within {seconds} s; last seen: {read()!r}")


def test_drawing_with_the_mouse_changes_the_answer(page):
    canvas, status, picture = widget(page)
    wait_for(status.inner_text, lambda t: "reads 2" in t, "the shipped sample (a 2) is read")
    page.get_by_role("button", name="Clear").click()
    wait_for(status.inner_text, lambda t: "empty" in t, "Clear empties the canvas")
    before = picture.first.get_attribute("src")
    canvas.scroll_into_view_if_needed()
    b = canvas.bounding_box()
    x = b["x"] + 0.5 * b["width"]
    page.mouse.move(x + 0.04 * b["width"], b["y"] + 0.15 * b["height"])
    page.mouse.down()
    page.mouse.move(x, b["y"] + 0.85 * b["height"], steps=25)   # an upright stroke: a 1
    page.mouse.up()
    said = wait_for(status.inner_text, lambda t: "reads" in t and "empty" not in t,
                    "the status line answers the drawn stroke")
    assert re.search(r"reads 1\b", said), said
    wait_for(lambda: picture.first.get_attribute("alt"), lambda a: a and "digit as 1" in a,
             "the picture follows the stroke (its alt text)")
    assert picture.first.get_attribute("src") != before
    label = canvas.get_attribute("aria-label")
    assert "1 stroke(s)" in label and "reads 1" in label, label
    page.screenshot(path=str(SHOTS / "11_drawing_widget_canvas_projector.png"))


def test_every_control_has_a_name_and_the_menu_works_by_keyboard(page):
    _, status, pictures = widget(page)
    assert page.get_by_role("img", name=re.compile("^Drawing canvas")).count() == 1
    for name in ("Undo stroke", "Clear"):
        assert page.get_by_role("button", name=name).count() == 1, name
    menu = page.get_by_role("combobox", name="sample")
    assert menu.count() == 1
    picture = pictures.first
    menu.focus()
    page.keyboard.type("7")                      # type-ahead picks "7, large"
    wait_for(status.inner_text, lambda t: "reads 7" in t, "a sample picked with the keyboard is read")
    wait_for(lambda: picture.get_attribute("alt"), lambda a: a and "digit as 7" in a,
             "the picture follows the sample (its alt text)")
    picture.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "11_drawing_widget_picture_projector.png"))
