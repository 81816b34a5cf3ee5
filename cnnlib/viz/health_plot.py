"""The training dashboard's lower panels, drawn from cnnlib.viz.health's rows, and the
dashboard's alt text: what a teacher points at while a network trains.

    draw_health(norm_ax, dead_ax, layer_health(net))
    dashboard_alt_text(history, layer_health(net), status, hint) -> "The loss falls from 2.30 to ..."

Weights are solid blue bars and gradients hatched orange ones (told apart by pattern as
well as colour, and the title says which is which); every bar carries its number. Used by the training dashboard
(cnnlib.viz.training).
"""
import math
import textwrap

import numpy as np

from .palette import PAIR

__all__ = ["dashboard_alt_text", "draw_health"]

EMPTY = "appears once training starts"


def _waiting(ax, text):
    ax.text(0.5, 0.5, textwrap.fill(text, 28), transform=ax.transAxes, ha="center",
            va="center", fontsize=10, color="gray")


def draw_health(norm_ax, dead_ax, rows):
    """Clear both axes and draw the norms (log scale) and dead-unit fractions of rows."""
    for ax in (norm_ax, dead_ax):
        ax.cla()
    params = [r for r in rows if "weight_norm" in r]
    relus = [r for r in rows if "dead" in r]
    norm_ax.set_title("weights (solid), gradients (hatched)", fontsize=10)
    norm_ax.set_xlabel("norm = sqrt(sum of squares)")
    dead_ax.set_title("dead ReLU units", fontsize=10)
    dead_ax.set_xlabel("share of units 0 for the whole batch")
    dead_ax.set_xlim(0, 1)
    if params:
        y = np.arange(len(params))
        values = [(r["weight_norm"], r["grad_norm"]) for r in params]
        positive = [v for pair in values for v in pair if v and v > 0 and math.isfinite(v)]
        floor = min(positive) / 10 if positive else 1e-3
        for k, (label, color, hatch) in enumerate((("weights", PAIR[0], None),
                                                   ("gradients", PAIR[1], "//"))):
            vals = [pair[k] for pair in values]
            shown = [v if v is not None and math.isfinite(v) and v > floor else floor for v in vals]
            bars = norm_ax.barh(y + (0.2 if k else -0.2), shown, height=0.38, color=color,
                                hatch=hatch, edgecolor="black", lw=0.5, label=label)
            norm_ax.bar_label(bars, ["n/a" if v is None else f"{v:.2g}" for v in vals],
                              fontsize=8, padding=2)
        norm_ax.set_xscale("log")
        norm_ax.set_xlim(floor, max(positive or [1]) * 300)     # room for the numbers
        norm_ax.set_yticks(y, [r["layer"] for r in params], fontsize=8)
        norm_ax.invert_yaxis()
    else:
        norm_ax.set_yticks([])
        _waiting(norm_ax, f"weight and gradient norms of each layer {EMPTY}")
    known = [r for r in relus if r["dead"] is not None]
    if known:
        y = np.arange(len(known))
        bars = dead_ax.barh(y, [r["dead"] for r in known], color=PAIR[0], edgecolor="black", lw=0.5)
        dead_ax.bar_label(bars, [f"{r['dead']:.0%}" for r in known], fontsize=8, padding=2)
        dead_ax.set_yticks(y, [r["layer"] for r in known], fontsize=8)
        dead_ax.invert_yaxis()
    else:
        dead_ax.set_yticks([])
        _waiting(dead_ax, f"the share of dead units in each ReLU {EMPTY}"
                 if not rows or relus else "this network has no ReLU layer")


def dashboard_alt_text(history, rows, status, hint, failed=False):
    """The dashboard in words, from its numbers: how the loss moved, the last accuracy,
    each layer's gradient norm and dead units, and the status line (before any batch: the
    hint, or the status when failed, e.g. a run that diverged at once)."""
    history = history or {}
    losses = [v for v in history.get("batch_loss", []) if math.isfinite(v)]
    if not losses and not failed:
        return f"Training dashboard, empty: {hint.rstrip('.')}."
    first, last = (losses[0], losses[-1]) if losses else (None, None)
    if not losses:
        parts = ["Training dashboard, no loss drawn"]
    elif len(losses) == 1:
        parts = [f"The training loss is {first:.2f} after 1 batch"]
    else:
        verb = "falls" if last < first else "rises" if last > first else "stays the same,"
        parts = [f"The training loss {verb} from {first:.2f} to {last:.2f} over "
                 f"{len(losses)} batches"]
    if history.get("acc"):
        parts.append(f"train accuracy after epoch {len(history['acc'])}: {history['acc'][-1]:.0%}")
    grads = [f"{r['layer']} {r['grad_norm']:.2g}" for r in rows
             if r.get("grad_norm") is not None]
    if grads:
        parts.append("gradient norms: " + ", ".join(grads))
    dead = [f"{r['layer']} {r['dead']:.0%}" for r in rows if r.get("dead") is not None]
    if dead:
        parts.append("dead ReLU units: " + ", ".join(dead))
    return "; ".join(parts) + f". {status}".rstrip()
