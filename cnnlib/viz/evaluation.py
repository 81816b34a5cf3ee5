"""Pictures for judging a trained network: the confusion matrix with its counts, and the
loss curves of several optimizers on one set of axes.

    fig = plot_confusion_matrix(confusion_matrix(y_test, net.predict(x_test)))
    fig = plot_optimizer_comparison({"SGD": h1, "Adam": h2}, every=20)

Odd numbers (NaN losses, rows with no samples, huge counts) never raise: they are left
out or written in a short form, and a note on the figure says what happened.

Introduced in notebooks/10_deeper_cnn.ipynb.
"""
import math

import numpy as np

from .alt_text import set_alt_text
from .base import MESSAGE_COLOR, axes_or_new, note
from .describe_trained import describe_confusion, describe_optimizers

__all__ = ["block_means", "normalize_rows", "plot_confusion_matrix",
           "plot_optimizer_comparison", "short_count"]


def short_count(n):
    """A count in at most ~4 characters so it fits in a cell: 987, 12k, 3.4M, 1.2G.
    """
    n = int(n)
    for limit, suffix in ((10**9, "G"), (10**6, "M"), (10**4, "k")):
        if abs(n) >= limit:
            value = n / (limit if suffix != "k" else 1000)
            return f"{value:.1f}{suffix}" if abs(value) < 10 else f"{value:.0f}{suffix}"
    return str(n)


def normalize_rows(cm):
    """Each row divided by its sum (the fraction of class i predicted as j); rows that sum to 0 stay 0.

    cm: (K, K) counts. Returns float64 (K, K).
    """
    cm = np.asarray(cm, dtype=float)
    sums = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, sums, out=np.zeros_like(cm), where=sums != 0)


def plot_confusion_matrix(cm, ax=None, normalize=False, names=None, title=None):
    """Heat map of a confusion matrix with the number written in every cell.

    cm: (K, K) non-negative counts, rows = true class, columns = predicted class (as
    returned by cnnlib.metrics.confusion_matrix). normalize=True shows each row as
    fractions of that class (the diagonal is then the recall); an empty row stays 0.
    names: K class names (default 0..K-1). Large counts are written short (12k, 3.4M).
    Returns the Figure. Raises ValueError if cm is not a square 2-D array of finite,
    non-negative numbers.
    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"a confusion matrix must be square (K, K) with K >= 1 "
                         f"(rows true, columns predicted); got shape {cm.shape}.")
    if not np.issubdtype(cm.dtype, np.number) or not np.all(np.isfinite(cm)) or (cm < 0).any():
        raise ValueError("a confusion matrix holds finite, non-negative counts.")
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if names is None else [str(n) for n in names]
    if len(names) != k:
        raise ValueError(f"names must have {k} entries, one per class; got {len(names)}.")
    own_figure = ax is None      # a figure of our own gets the lesson as its alt text
    ax = axes_or_new(ax, (0.45 * k + 2, 0.45 * k + 1.6))
    values = normalize_rows(cm) if normalize else cm.astype(float)
    top = values.max() if values.max() > 0 else 1.0
    # A log-like colour scale for counts, so the few mistakes are visible next to a full diagonal.
    shade = values / top if normalize else np.sqrt(values / top)
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalize else short_count(cm[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if k <= 12 else 6,
                    color="white" if shade[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("fraction of each true class" if normalize else "counts"))
    if cm.sum() == 0:
        ax.text(0.5, -0.25, "the matrix is all zeros: no predictions to show.",
                transform=ax.transAxes, ha="center", color=MESSAGE_COLOR, fontsize=9)
    ax.figure.tight_layout()
    if own_figure:
        set_alt_text(ax.figure, describe_confusion(cm, names))
    return ax.figure


def block_means(values, every):
    """Mean of each block of `every` consecutive values and the index (1-based) where it ends.

    A block with a NaN or infinite value is dropped. The last, shorter block is kept.
    Returns (ends, means) as float arrays.
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    starts = np.arange(0, len(values), every)
    ends = np.minimum(starts + every, len(values))
    means = np.array([values[s:e].mean() for s, e in zip(starts, ends)]) if len(values) else np.zeros(0)
    keep = np.isfinite(means)
    return ends[keep].astype(float), means[keep]


def _first_bad(values):
    bad = [i for i, v in enumerate(values, 1) if not math.isfinite(v)]
    return bad[0] if bad else None


def plot_optimizer_comparison(histories, ax=None, every=20, logy=False):
    """Training loss of several runs on one plot, x in epochs.

    histories: {label: history from cnnlib.train.fit}. A history with "batch_loss" is
    drawn as the mean of every `every` batches (x = fraction of epochs done); one with
    only "loss" is drawn per epoch. Non-finite losses are left out and named in a note
    (a diverged run usually means a too-large learning rate). An empty dict or empty
    histories give a figure that says so. Returns the Figure.
    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1 batch; got {every}.")
    own_figure = ax is None
    ax = axes_or_new(ax, (7, 3.8))
    notes, curves = [], {}
    if not histories:
        notes.append("no runs given: pass {label: history} with at least one training history.")
    for i, (label, h) in enumerate((histories or {}).items()):
        h = h or {}
        batch, epoch = list(h.get("batch_loss", [])), list(h.get("loss", []))
        if batch:
            per_epoch = len(batch) / max(len(epoch), 1)
            xs, ys = block_means(batch, every)
            xs = xs / per_epoch
            bad = _first_bad(batch)
            where = f"batch {bad}" if bad else None
        else:
            xs, ys = block_means(epoch, 1)
            bad = _first_bad(epoch)
            where = f"epoch {bad}" if bad else None
        if len(xs):
            ax.plot(xs, ys, color=f"C{i}", label=label)
            curves[label] = (float(ys[0]), float(ys[-1]))
        if not batch and not epoch:
            notes.append(f"{label}: empty history, nothing drawn.")
        elif where:
            notes.append(f"{label}: loss not finite from {where} on (learning rate too large?); "
                         f"those points are not drawn.")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"training loss (mean of {every} batches)" if every > 1 else "training loss")
    if logy and ax.lines:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    if notes:
        note(ax, "\n".join(notes))
    ax.figure.tight_layout()
    if own_figure:
        set_alt_text(ax.figure, describe_optimizers(curves, notes))
    return ax.figure
