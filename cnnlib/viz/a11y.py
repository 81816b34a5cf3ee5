"""Accessible names for the sliders of a widget, which ipywidgets 8 does not give them.

ipywidgets 8.1 links a Dropdown's or a Text box's description to its control (a <label
for=...>), and a Button says its own text, but a slider is a noUiSlider handle
(role="slider") that nothing names: a screen reader says "slider, 0", not "test digit".
SliderNames is an invisible anywidget placed inside a widget's box; in the browser it
copies each slider's description (the label's title, i.e. its tooltip, when it has one)
into aria-label on the handle and on the editable readout, and again whenever the box
redraws. FigureWidget and training_dashboard include one; nothing else is needed.

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
      nameSliders(box);
      watch = new MutationObserver(() => nameSliders(box));
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
