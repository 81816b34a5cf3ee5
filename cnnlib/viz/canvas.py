"""Notebook 11's drawing widget: a student draws a digit with the mouse, a pen or a finger.

    box = drawing_explorer(net)     # canvas, sample menu, Undo and Clear, and the picture
    box.canvas.strokes = [...]      # what the canvas shows, in cnnlib.data.strokes's format

DrawingCanvas is an anywidget: a real HTML <canvas> whose pointer events (mouse, pen and
touch alike) record one stroke from pressing to lifting. When the pen lifts, the stroke is
added to .strokes and the list reaches Python; the canvas always paints .strokes, so
Python can clear it, undo a stroke or put a sample on it.

drawing_explorer redraws drawing_view (cnnlib.viz.drawing) every time .strokes changes.
Drawing needs a pointer; everything else works from the keyboard: the sample menu, Undo
and Clear are ordinary controls with accessible names, the canvas is an image whose
label says what it shows, and a status line (a live region) says what the network reads.
Without a kernel (the preview site) the picture of the first sample stays on show.

Introduced in notebooks/11_what_it_learned.ipynb.
"""
import anywidget
import ipywidgets as W
import traitlets
from IPython.display import clear_output, display

from ..data.preprocess import preprocess
from ..data.strokes import CANVAS, PEN, drawn_samples, render_strokes
from .a11y import BOX_CLASS, SliderNames
from .drawing import drawing_view, shrink
from .trained import to_input

__all__ = ["DrawingCanvas", "DrawingExplorer", "drawing_explorer"]

ESM = """
function render({ model, el }) {
  const size = model.get("size"), ratio = window.devicePixelRatio || 1;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = Math.round(size * ratio);
  canvas.className = "cnnlib-drawing-canvas";
  canvas.setAttribute("role", "img");
  Object.assign(canvas.style, {width: `min(${size}px, 100%)`, aspectRatio: "1 / 1",
    display: "block", boxSizing: "border-box", border: "2px solid #444", background: "#fff",
    touchAction: "none", cursor: "crosshair"});
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  let current = null;                      // the stroke being drawn, until the pen lifts
  const line = (points) => {
    const pen = model.get("pen");
    ctx.fillStyle = ctx.strokeStyle = "#000";
    ctx.lineWidth = pen; ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (points.length === 1) {
      ctx.arc(points[0][0], points[0][1], pen / 2, 0, 2 * Math.PI); ctx.fill(); return;
    }
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  };
  const paint = () => {
    ctx.clearRect(0, 0, size, size);
    for (const s of model.get("strokes")) line(s);
    if (current) line(current);
  };
  const label = () => canvas.setAttribute("aria-label", model.get("aria_label"));
  const at = (e) => {                      // canvas pixels, whatever size the page shows it at
    const r = canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) * size / r.width * 10) / 10,
            Math.round((e.clientY - r.top) * size / r.height * 10) / 10];
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button > 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = [at(e)];
    paint();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const p = at(e), q = current[current.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) < 2) return;   // fewer points, same line
    current.push(p);
    paint();
  });
  const lift = () => {
    if (!current) return;
    const stroke = current;
    current = null;
    model.set("strokes", [...model.get("strokes"), stroke]);
    model.save_changes();
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  model.on("change:strokes", paint);
  model.on("change:aria_label", label);
  label(); paint();
  el.appendChild(canvas);
}
export default { render };
"""


class DrawingCanvas(anywidget.AnyWidget):
    """A size x size canvas (CSS pixels) that records pen strokes into .strokes."""
    _esm = ESM
    strokes = traitlets.List([]).tag(sync=True)
    size = traitlets.Int(CANVAS).tag(sync=True)
    pen = traitlets.Float(PEN).tag(sync=True)
    aria_label = traitlets.Unicode("Drawing canvas: draw one digit with the mouse or a "
                                    "finger.").tag(sync=True)


def _reading(net, strokes):
    """(one sentence on what net reads in the drawing, the same for the canvas's label)."""
    image = render_strokes(strokes)
    try:
        digit = preprocess(image).digit
    except ValueError as err:
        return str(err), "Drawing canvas, empty: draw one digit with the mouse or a finger."
    p, q = (net.predict_proba(to_input(d))[0] for d in (digit, shrink(image)))
    said = (f"The network reads {p.argmax()} ({p.max():.0%}); without preprocessing it would "
            f"read {q.argmax()} ({q.max():.0%}).")
    return said, f"Drawing canvas with {len(strokes)} stroke(s). {said}"


class DrawingExplorer(W.Box):
    """The canvas, its controls and the picture; .controls by name, .figure on show."""

    def __init__(self, net, samples, sample):
        self.net, self.samples, self.figure = net, samples, None
        self.canvas = DrawingCanvas()
        self.show(samples[sample])
        menu = W.Dropdown(options=list(samples), value=sample, description="sample",
                          tooltip="Put one of the shipped drawings on the canvas",
                          style={"description_width": "initial"},
                          layout=W.Layout(width="auto"))
        undo = W.Button(description="Undo stroke", icon="undo",
                        tooltip="Remove the last stroke from the canvas")
        clear = W.Button(description="Clear", icon="eraser", tooltip="Empty the canvas")
        self.controls = {"sample": menu, "undo": undo, "clear": clear}
        self.status = W.HTML()
        self.output = W.Output(layout=W.Layout(flex="1 1 560px", min_width="0"))
        left = W.VBox([self.canvas, menu, W.HBox([undo, clear]), self.status, SliderNames()],
                      layout=W.Layout(width="300px", max_width="100%", margin="0 12px 8px 0"))
        super().__init__([left, self.output],
                         layout=W.Layout(display="flex", flex_flow="row wrap"))
        self.add_class(BOX_CLASS)       # a11y.SliderNames keeps notebook shortcuts out of it
        menu.observe(lambda change: change["new"] is not None and self.show(
            self.samples[change["new"]]), names="value")
        undo.on_click(lambda _: self.show(self.canvas.strokes[:-1]))
        clear.on_click(lambda _: self.show([]))
        self.canvas.observe(self.redraw, names="strokes")
        self.redraw()

    def show(self, strokes):
        """Put strokes on the canvas (the picture follows)."""
        self.canvas.strokes = [[list(p) for p in s] for s in strokes]

    def redraw(self, change=None):
        menu = self.controls["sample"]
        if menu.value is not None and self.canvas.strokes != self.samples[menu.value]:
            menu.value = None       # the canvas holds your own drawing: any sample can be picked
        said, self.canvas.aria_label = _reading(self.net, self.canvas.strokes)
        self.status.value = f'<p role="status" aria-live="polite">{said}</p>'
        self.figure = drawing_view(self.net, render_strokes(self.canvas.strokes))
        with self.output:
            clear_output(wait=True)
            display(self.figure)


def drawing_explorer(net, samples=None, sample=None):
    """Draw a digit; see MNIST's preprocessing of it, what net reads with and without it,
    and the feature maps (drawing_view), redrawn each time the pen lifts.

    samples: {name: strokes} for the menu (default: cnnlib.data.strokes.drawn_samples());
    sample: the one on the canvas at the start (default: the first).
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    samples = drawn_samples() if samples is None else samples
    sample = next(iter(samples)) if sample is None else sample
    if sample not in samples:
        raise ValueError(f"sample must be one of {list(samples)}; got {sample!r}.")
    return DrawingExplorer(net, samples, sample)
