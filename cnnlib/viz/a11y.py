"""Accessible names for the sliders of a widget, which ipywidgets 8 does not give them.

ipywidgets 8.1 links a Dropdown's or a Text box's description to its control (a <label
for=...>), and a Button says its own text, but a slider is a noUiSlider handle
(role="slider") that nothing names: a screen reader says "slider, 0", not "test digit".
SliderNames is an invisible anywidget placed inside a widget's box; in the browser it
copies each slider's description (the label's title, i.e. its tooltip, when it has one)
into aria-label on the handle and on the editable readout, and again whenever the box
redraws. FigureWidget, training_dashboard and the drawing widget include one; nothing else is
needed.

It also marks the box and every control in it that can take focus data-lm-suppress-shortcuts,
Lumino's way of keeping JupyterLab's keyboard shortcuts away from an element: without it,
ArrowDown on a focused menu selects the next cell instead of the next option, and a letter
key ("a", "b") on a focused slider inserts a cell, so a student without a mouse could not
use the widgets (tests/test_browser_keyboard.py).

No notebook introduces it: every widget of cnnlib.viz.widgets carries it.
"""
import anywidget
import ipywidgets as W

__all__ = ["BOX_CLASS", "SliderNames"]

BOX_CLASS = "cnnlib-widget"     # the CSS class of the box whose sliders get named

ESM = """
function nameSliders(box) {
  for (const slider of box.querySelectorAll('.widget-slider')) {
    const label = slider.querySelector('.widget-label');
    const name = label && (label.title || label.textContent || '').trim();
    if (!name) continue;
    for (const handle of slider.querySelectorAll('[role="slider"]')) {
      if (handle.getAttribute('aria-label') !== name) handle.setAttribute('aria-label', name);
    }
    const readout = slider.querySelector('.widget-readout');
    if (readout && readout.getAttribute('aria-label') !== name + ' value') {
      readout.setAttribute('aria-label', name + ' value');
    }
  }
}
// Lumino looks for the mark from the focused element up, but the notebook's shortcuts match
// the focused element itself (".jp-Notebook.jp-mod-commandMode :focus"), so every control
// that can take focus carries it, not only the box
const CONTROLS = 'select, input, textarea, button, [tabindex], [role="slider"]';
function keepShortcutsOut(box) {
  for (const el of [box, ...box.querySelectorAll(CONTROLS)]) {
    if (!el.hasAttribute('data-lm-suppress-shortcuts')) {
      el.setAttribute('data-lm-suppress-shortcuts', 'true');
    }
  }
}
export default {
  render({ el }) {
    // render() runs before ipywidgets puts el into the page: wait until it is there
    let watch = null, tries = 0, timer = null;
    const start = () => {
      const box = el.isConnected ? el.closest('.__BOX__') : null;
      if (!box) {
        if (tries++ < 300) timer = setTimeout(start, 100);
        return;
      }
      const mark = () => { nameSliders(box); keepShortcutsOut(box); };
      mark();
      watch = new MutationObserver(mark);
      watch.observe(box, { childList: true, subtree: true });
    };
    start();
    return () => { clearTimeout(timer); if (watch) watch.disconnect(); };
  }
};
""".replace("__BOX__", BOX_CLASS)


class SliderNames(anywidget.AnyWidget):
    """Invisible: names the sliders of the box it sits in (see the module docstring)."""
    _esm = ESM

    def __init__(self, **kw):
        super().__init__(layout=W.Layout(width="0", height="0", overflow="hidden"), **kw)
