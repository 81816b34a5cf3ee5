"""Pictures of training: loss and accuracy curves, a live dashboard, and speed-up plots.

    fig = plot_history(history)                       # after fit(...)
    board = TrainingDashboard(); board.train(net, x, y, epochs=3, lr=0.05); board.fig
    fig = plot_speedup(sizes, loop_seconds, fast_seconds)

The dashboard with Start and Stop buttons around a TrainingDashboard is
cnnlib.viz.widgets.training_dashboard.

Nothing here raises because of odd numbers: NaN or infinite losses, empty histories
and zero timings are left out of the curves and explained in a text on the figure.

Introduced in notebooks/08_training.ipynb (history, dashboard) and
notebooks/09_vectorization.ipynb (speed-up).
"""
import io
import math
import textwrap

import numpy as np

from ..optim import SGD
from ..train import fit
from .alt_text import set_alt_text
from .base import MESSAGE_COLOR, axes_or_new, figure, note, subplots
from .describe import describe_history
from .health import divergence_message, layer_health
from .health_plot import dashboard_alt_text, draw_health

__all__ = ["CURVES", "finite_points", "history_problems", "plot_history", "plot_speedup",
           "TrainingDashboard"]

CURVES = (("loss", "train", "C0"), ("val_loss", "validation", "C1"),
          ("acc", "train", "C0"), ("val_acc", "validation", "C1"))


def finite_points(values, start=1):
    """(xs, ys) of the finite entries of values, xs counting from start (epoch 1, 2, ...).
    """
    ys = np.asarray(values, dtype=float).reshape(-1)
    xs = np.arange(start, start + len(ys))
    keep = np.isfinite(ys)
    return xs[keep], ys[keep]


def history_problems(history):
    """Sentences about what cannot be drawn: no epoch yet, or non-finite values.
    """
    if not history or not history.get("loss"):
        return ["no epoch finished yet: nothing to draw."]
    notes = []
    for key, _, _ in CURVES:
        bad = [e for e, v in enumerate(history.get(key, []), 1) if not math.isfinite(v)]
        if bad:
            notes.append(f"{key} is {history[key][bad[0] - 1]} from epoch {bad[0]} "
                         f"(learning rate too large?); those points are not drawn.")
    return notes




def _style(loss_ax, acc_ax):
    for ax, name in ((loss_ax, "loss (cross-entropy)"), (acc_ax, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    acc_ax.set_ylim(0, 1.02)


def plot_history(history, axes=None, figsize=(10, 3.6)):
    """Loss and accuracy per epoch, train and (if present) validation, from fit's history.

    history: dict with lists "loss", "acc" and optionally "val_loss", "val_acc"
    (one value per epoch). axes: optional pair (loss_ax, acc_ax). Non-finite values are
    skipped and explained in a text under the curves. Returns the Figure.
    Introduced in notebooks/08_training.ipynb.
    """
    loss_ax, acc_ax = subplots(1, 2, figsize=figsize)[1] if axes is None else axes
    fig = loss_ax.figure
    history = history or {}
    for i, (key, label, color) in enumerate(CURVES):
        xs, ys = finite_points(history.get(key, []))
        if len(xs):
            ax = loss_ax if i < 2 else acc_ax
            ax.plot(xs, ys, "o-", color=color, label=label)
    _style(loss_ax, acc_ax)
    for ax in (loss_ax, acc_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    notes = history_problems(history)
    if notes:
        note(loss_ax, "\n".join(notes))
    set_alt_text(fig, describe_history(history) + (" " + " ".join(notes) if notes else ""))
    fig.tight_layout()
    return fig


class TrainingDashboard:
    """Loss and accuracy curves that a training run updates in place, and below them the
    health of each layer (cnnlib.viz.health): weight and gradient norms, dead ReLU units.

    update(history) moves the lines (set_data) instead of drawing a new figure, so it is
    cheap enough to run every few batches; use it as fit's callback. Besides the epoch
    curves, the loss panel shows every batch's loss (thin line, x in fractional epochs,
    needs batches_per_epoch). status shows the last numbers or what went wrong; a run
    that diverges says which learning rate to try instead. Before any training the
    panels are labelled and say what they will show (hint: e.g. "Press Start to train").
    stop() makes the next update return False, which tells fit to stop.
    on_draw(board), if set, runs after every update (e.g. to refresh a widget).
    .net is the network being trained (None before train); alt_text() describes the state.
    Introduced in notebooks/08_training.ipynb.
    """

    def __init__(self, batches_per_epoch=None, figsize=(10, 6.4), dpi=80, hint=None):
        self.fig = figure(figsize=figsize, dpi=dpi)
        grid = self.fig.subplots(2, 2, gridspec_kw={"height_ratios": (1.2, 1)})
        self.axes, self.health_axes = tuple(grid[0]), tuple(grid[1])
        loss_ax, acc_ax = self.axes
        self.batch_line, = loss_ax.plot([], [], color="C0", alpha=0.3, lw=0.8, label="train, each batch")
        self.lines = {key: (loss_ax if key.endswith("loss") else acc_ax).plot(
            [], [], "o-", color=color, label=label)[0] for key, label, color in CURVES}
        _style(loss_ax, acc_ax)
        self.legends = [ax.legend(loc="upper right" if ax is loss_ax else "lower right", fontsize=8)
                        for ax in self.axes]
        self.hint = hint or "No training yet: call train(...) to fill these panels."
        self.empty = loss_ax.text(0.5, 0.5, "", transform=loss_ax.transAxes, ha="center",
                                  va="center", fontsize=10, color="gray", wrap=True)
        self.status = self.fig.text(0.01, 0.01, "", fontsize=9, va="bottom")
        self.batches_per_epoch = batches_per_epoch
        self.stop_requested = False
        self.on_draw = None
        self.net, self.history, self.laid_out_for = None, {}, None
        self.update({})

    def update(self, history):
        """Redraw from a (possibly partial) history. Returns False after stop(), else None."""
        history = self.history = history or {}
        for key, line in self.lines.items():
            line.set_data(*finite_points(history.get(key, [])))
        if self.batches_per_epoch:
            xs, ys = finite_points(history.get("batch_loss", []))
            self.batch_line.set_data(xs / self.batches_per_epoch, ys)
        loss_ax, acc_ax = self.axes
        n = len(history.get("loss", []))
        batches = len(history.get("batch_loss", []))
        loss_ax.relim()
        loss_ax.autoscale_view()
        if not (n or batches):
            loss_ax.set_ylim(0, 3)              # where an untrained net's loss (ln 10) will be
        for ax in self.axes:
            ax.set_xlim(0, max(1, n + 0.2, batches / (self.batches_per_epoch or math.inf)))
        self.empty.set_text("" if n or batches else textwrap.fill(self.hint, 30))
        for legend in self.legends:             # no legend over the hint of an empty board
            legend.set_visible(bool(n or batches))
        rows = layer_health(self.net)
        draw_health(*self.health_axes, rows)
        names = [r["layer"] for r in rows]
        if names != self.laid_out_for:      # new layer names need new margins; once per net
            self.fig.tight_layout(rect=(0, 0.12, 1, 1))     # (a layout per update is slow)
            self.laid_out_for = names
        notes = history_problems(history)
        if n and notes == []:
            text = f"epoch {n}: train loss {history['loss'][-1]:.3f}, acc {history['acc'][-1]:.1%}"
            if history.get("val_acc"):
                text += f"; validation loss {history['val_loss'][-1]:.3f}, acc {history['val_acc'][-1]:.1%}"
            self.show_message(text, "black")
        elif n == 0 and batches:
            self.show_message(f"epoch 1 running: {batches} batches done", "black")
        else:
            self.show_message(" ".join(notes), MESSAGE_COLOR if n else "gray")
        return False if self.stop_requested else None

    __call__ = update       # so the board itself can be fit's callback

    def show_message(self, text, color=MESSAGE_COLOR):
        # as many characters as fit the figure's width (fewer at a presentation scale)
        chars = int(self.fig.get_figwidth() * 72 / (0.55 * self.status.get_fontsize()))
        self.status.set_text(textwrap.fill(text, width=chars))
        self.status.set_color(color)
        set_alt_text(self.fig, self.alt_text())
        if self.on_draw:
            self.on_draw(self)

    def alt_text(self):
        """What the dashboard shows, in words: the loss curve's start and end, the accuracy,
        each layer's gradient norm and dead units, and the status line."""
        return dashboard_alt_text(self.history, layer_health(self.net),
                                  self.status.get_text().replace("\n", " "), self.hint,
                                  failed=self.status.get_color() == MESSAGE_COLOR)

    def stop(self):
        self.stop_requested = True

    def png(self):
        """The figure as PNG bytes (for an ipywidgets.Image)."""
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        return buf.getvalue()

    def train(self, net, x, y, epochs, lr, batch_size=32, x_val=None, y_val=None,
              optimizer=SGD, callback_every=None, seed=0):
        """Train net with fit(..., callback=self), optimizer(net, lr=lr).

        Never raises for a bad setting: a diverging run (fit's FloatingPointError) is shown
        in the status text with a smaller learning rate to try (health.divergence_message),
        a rejected value (ValueError) with fit's reason. Returns the history, or
        None if training failed. callback_every defaults to about 10 updates per epoch.
        Introduced in notebooks/08_training.ipynb.
        """
        self.batches_per_epoch = max(1, math.ceil(len(x) / batch_size))
        every = callback_every or max(1, self.batches_per_epoch // 10)
        self.net = net
        self.update({})
        try:
            history = fit(net, x, y, epochs=epochs, batch_size=batch_size,
                          optimizer=optimizer(net, lr=lr), x_val=x_val, y_val=y_val, seed=seed,
                          progress=False, callback=self, callback_every=every)
        except FloatingPointError as err:
            self.show_message(f"Training stopped: {divergence_message(err, lr)}")
            return None
        except ValueError as err:
            self.show_message(f"Training stopped: {err}")
            return None
        finally:
            stopped, self.stop_requested = self.stop_requested, False   # the next run starts afresh
        if epochs < 1:
            self.show_message(f"epochs = {epochs}: nothing to train.", "gray")
        elif stopped:
            self.show_message(self.status.get_text().replace("\n", " ") + "  (stopped by the Stop button)",
                              "black")
        return history


def _label_below(annotation):
    annotation.xyann = (0, -7)
    annotation.set_va("top")


def plot_speedup(sizes, loop_seconds, fast_seconds, ax=None, label=None, name=None):
    """Speed-up loop_seconds / fast_seconds against size on a log axis, each point labelled "N x".

    sizes, loop_seconds, fast_seconds: sequences of equal length. name: legend entry
    (call again with the same ax and another name to compare). label: x-axis title
    (default "image size"; a title already on ax is kept). Pairs where a time is
    0, negative or not finite (a timer too coarse for the work) are left out and
    mentioned in a note. Returns the Figure. Introduced in notebooks/09_vectorization.ipynb.
    """
    sizes, loop_t, fast_t = (np.asarray(a, dtype=float).reshape(-1)
                             for a in (sizes, loop_seconds, fast_seconds))
    if not len(sizes) == len(loop_t) == len(fast_t):
        raise ValueError(f"sizes, loop_seconds and fast_seconds need the same length; got "
                         f"{len(sizes)}, {len(loop_t)} and {len(fast_t)}.")
    ax = axes_or_new(ax, (6, 3.5))
    ok = np.isfinite(loop_t) & np.isfinite(fast_t) & (loop_t > 0) & (fast_t > 0)
    ratio = loop_t[ok] / fast_t[ok] if ok.any() else np.zeros(0)
    # Each label sits above its point, except where another series drawn on the same axes has a
    # point at the same size: there the lower point's label goes below it, so labels never overlap
    # (also where two curves cross).
    earlier = [t for t in ax.texts if hasattr(t, "xyann")]
    ax.plot(sizes[ok], ratio, "o-", label=name)
    for s, r in zip(sizes[ok], ratio):
        same_size = [t for t in earlier if t.xy[0] == s]
        for t in same_size:
            if t.xy[1] <= r:
                _label_below(t)
        value = ax.annotate(f"{r:.0f} x" if r >= 10 else f"{r:.1f} x", (s, r),
                            textcoords="offset points", xytext=(0, 6), ha="center", va="bottom",
                            fontsize=8)
        if any(t.xy[1] > r for t in same_size):
            _label_below(value)
    if label or not ax.get_xlabel():
        ax.set_xlabel(label or "image size")
    ax.set_ylabel("speed-up (loop time / fast time)")
    # Always a log axis: speed-ups are ratios, and every speed-up figure of the course can then
    # be read the same way (equal steps = equal factors), whatever range its numbers span.
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.margins(y=0.15)
    if name:
        ax.legend()
    if not ok.all():
        note(ax, f"{int((~ok).sum())} of {len(ok)} size(s) not drawn: a time of 0 or "
             "not finite (too fast for the clock?)")
    ax.figure.tight_layout()
    return ax.figure
