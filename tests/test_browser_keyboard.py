"""A student without a mouse: keys pressed on a widget's control reach the control, not
JupyterLab's notebook shortcuts (command mode: ArrowDown selects the next cell, "b" inserts a
cell below, "a" above).

cnnlib.viz.a11y marks every widget box, and every control in it that can take focus,
data-lm-suppress-shortcuts, which Lumino reads as "no keyboard shortcut for keys pressed
here" (on the box alone it is not enough: the notebook's shortcuts match the focused control
itself, before Lumino reaches the box). Here, on notebook 01's convolution explorer
in Chromium: a bare ArrowDown on its menu picks the next option and leaves the active cell;
letter keys on its slider change no cell; and, to show that the attribute is what makes the
difference, the same ArrowDown with the attribute taken away moves to the next cell instead.
Every other control of every notebook is pressed the same way in test_browser_widgets.py.
"""
import shutil

import pytest

from browser_checks import ACTIVE
from browser_controls import CELLS_JS, VALUE_JS
from browser_page import browser, open_notebook, projector, run_all, stop_kernels  # noqa: F401
from browser_support import ROOT, jupyter_lab

pytestmark = pytest.mark.browser
BOX = f"{ACTIVE} .cnnlib-widget"
IDLE_JS = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"


@pytest.fixture(scope="module")
def page(projector, tmp_path_factory):
    """Notebook 01 run in JupyterLab at projector size (a copy: autosave must not write here)."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
        page = open_notebook(projector, url, "notebooks/01_convolution.ipynb")
        try:
            run_all(page)
            page.wait_for_selector(f"{BOX} .widget-dropdown select", timeout=60_000)
            page.wait_for_function(f"() => document.querySelector('{BOX}')"
                                   ".hasAttribute('data-lm-suppress-shortcuts')",
                                   timeout=30_000)
            yield page
        finally:
            page.close()
            stop_kernels(url)


def settle(page):
    """Give the kernel a moment to answer, then wait until it is idle."""
    page.wait_for_timeout(300)
    page.wait_for_function(f"() => ({IDLE_JS})() === 'idle'", timeout=120_000)


def test_arrow_down_on_a_menu_picks_the_next_option(page):
    menu = page.locator(f"{BOX} .widget-dropdown select").first
    menu.scroll_into_view_if_needed()
    menu.focus()
    before, cells = menu.input_value(), page.evaluate(CELLS_JS)
    menu.press("ArrowDown")
    settle(page)
    assert menu.input_value() != before, "ArrowDown did not change the menu's choice"
    assert page.evaluate(CELLS_JS) == cells, "ArrowDown on the menu moved to another cell"
    menu.press("ArrowUp")                     # back where it was, for the next test
    settle(page)
    assert menu.input_value() == before


def test_letter_keys_on_a_slider_insert_no_cell(page):
    slider = page.locator(f"{BOX} .widget-slider").first
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    cells = page.evaluate(CELLS_JS)
    for key in ("b", "a", "x", "m", "ArrowDown", "ArrowUp"):
        handle.press(key)
    settle(page)
    assert page.evaluate(CELLS_JS) == cells, (
        f"keys on a slider reached the notebook: (active cell, cells) {cells} -> "
        f"{page.evaluate(CELLS_JS)}")
    before = slider.evaluate(VALUE_JS)["now"]
    handle.press("ArrowRight")
    settle(page)
    assert slider.evaluate(VALUE_JS)["now"] != before, "ArrowRight did not move the slider"


def test_without_the_attribute_the_notebook_takes_the_key(page):
    """The planted failure: the attribute removed, ArrowDown selects the next cell."""
    menu = page.locator(f"{BOX} .widget-dropdown select").first
    assert menu.get_attribute("data-lm-suppress-shortcuts") == "true"
    menu.evaluate("m => m.removeAttribute('data-lm-suppress-shortcuts')")
    try:
        menu.scroll_into_view_if_needed()
        menu.focus()
        before, cells = menu.input_value(), page.evaluate(CELLS_JS)
        menu.press("ArrowDown")
        settle(page)
        after = page.evaluate(CELLS_JS)
        assert after[0] == cells[0] + 1 and menu.input_value() == before, (
            f"without data-lm-suppress-shortcuts ArrowDown should select the next cell; "
            f"(active cell, cells) {cells} -> {after}, menu {before!r} -> {menu.input_value()!r}")
    finally:
        menu.evaluate("m => m.setAttribute('data-lm-suppress-shortcuts', 'true')")
