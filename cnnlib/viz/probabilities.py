"""Bar chart of softmax probabilities with the cross-entropy loss of one label.

The widget in notebook 03 calls plot_probabilities(logits, label, temperature) on every
slider move. Settings a widget can reach (huge logits, tiny or huge temperatures, a
temperature of 0) never raise: the figure explains what is wrong instead. Misuse that
only code can produce (logits of the wrong shape, a label outside 0..K-1) raises a
ValueError that says what was expected.

Introduced in notebooks/03_softmax_and_cross_entropy.ipynb.
"""
import numpy as np

from ..losses import log_softmax
from .alt_text import set_alt_text
from .base import MESSAGE_COLOR, say, subplots
from .describe import describe_probabilities

__all__ = ["check_logits_label", "plot_probabilities", "probability_bars",
           "tempered_log_probs"]


def check_logits_label(logits, label):
    """Return logits as a float64 vector (K,) and label as an int in 0..K-1, or raise ValueError."""
    z = np.asarray(logits)
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"logits must be a 1-D list of at least 2 scores (one per class); "
                         f"got shape {z.shape}.")
    if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
        raise ValueError(f"logits must be numbers; got dtype {z.dtype}.")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise ValueError(f"label must be an integer class index; got {label!r}.")
    if not 0 <= label < z.size:
        raise ValueError(f"label must lie in 0..{z.size - 1} for {z.size} classes; got {label}.")
    return z.astype(np.float64), int(label)


def tempered_log_probs(logits, temperature=1.0):
    """log softmax(logits / temperature) as float64, or a str explaining why it cannot be computed.

    logits: (K,) finite numbers; temperature: a number > 0. Small temperatures sharpen the
    distribution towards the largest score, large ones flatten it towards uniform.
    Returns an array (K,) of log-probabilities, or a message (str) for settings a widget can
    reach: a temperature <= 0 or not finite, a NaN/infinite score, or an overflow of z / T.
    Introduced in notebooks/03_softmax_and_cross_entropy.ipynb.
    """
    z = np.asarray(logits, dtype=np.float64)
    if not np.all(np.isfinite(z)):
        bad = ", ".join(str(i) for i in np.flatnonzero(~np.isfinite(z)))
        return f"score(s) of class {bad} are NaN or infinite: softmax is undefined."
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        return (f"temperature must be a finite number > 0; got {temperature!r}. "
                f"(T -> 0 approaches the arg-max, T -> infinity the uniform distribution.)")
    with np.errstate(over="ignore"):
        scaled = z / t
    if not np.all(np.isfinite(scaled)):
        return (f"scores / temperature overflow float64 (max |z| = {np.abs(z).max():.3g}, "
                f"T = {t:.3g}): choose a larger temperature.")
    return log_softmax(scaled)


def plot_probabilities(logits, label, temperature=1.0, ax=None, class_names=None):
    """Bar chart of p = softmax(logits / temperature), the label's bar orange and hatched.

    Inputs: logits (K,) scores; label: the correct class, int in 0..K-1; temperature > 0;
    ax: axes to draw into (a new figure if None); class_names: K tick labels (default 0..K-1).
    The title shows p_label and the loss -log p_label, computed from log-softmax so it stays
    finite even when p_label rounds to 0. Returns the Figure.
    Raises ValueError for logits that are not a 1-D vector or a label out of range; for a bad
    temperature or non-finite scores the figure shows the reason instead.
    Introduced in notebooks/03_softmax_and_cross_entropy.ipynb.
    """
    z, label = check_logits_label(logits, label)
    k = z.size
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"class_names must have {k} entries (one per score); got {len(class_names)}.")
    if ax is None:
        ax = subplots(figsize=(7, 3.4), layout="constrained")[1]
    ticks = np.arange(k)
    ax.set_xticks(ticks, [str(c) for c in class_names] if class_names is not None
                  else [str(i) for i in ticks])
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1.12)
    logp = tempered_log_probs(z, temperature)
    if isinstance(logp, str):
        ax.set_title("no probabilities for these settings", color=MESSAGE_COLOR)
        return say(ax, logp, width=60)
    p = np.exp(logp)
    colors = ["tab:gray"] * k
    colors[label] = "tab:orange"
    bars = ax.bar(ticks, p, color=colors)
    bars[label].set(hatch="//", edgecolor="black", linewidth=0.8)   # marked without colour too
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in p], fontsize=8)
    loss = -logp[label]
    ax.set_title(f"label {label}: p = {p[label]:.3g},  loss = -log p = {loss:.4g}  (T = {temperature:.3g})")
    set_alt_text(ax.figure, describe_probabilities(p, label, temperature, loss))
    if p[label] == 0:
        ax.set_xlabel(f"class\np rounds to 0 in float64, yet log-softmax gives the finite loss {loss:.4g}",
                      color=MESSAGE_COLOR)
    return ax.figure


def probability_bars(ax, p, label=None, title="probabilities", top=1.05):
    """Bars of class probabilities p (K,): the predicted class blue when it is the label (or
    no label is given), orange when it is wrong; the label's bar hatched and its tick bold
    and marked "true", so the true class is found without colour. Colour-blind safe:
    no red against green (palette.DISTINCTIONS). top: the y limit. Used by cnnlib.viz.activations and .trained.
    """
    colors = ["tab:gray"] * len(p)
    pred = int(np.argmax(p))
    colors[pred] = "tab:blue" if label is None or pred == label else "tab:orange"
    bars = ax.bar(range(len(p)), p, color=colors)
    ax.set_ylim(0, top)
    ax.set_xticks(range(len(p)))
    if label is not None and 0 <= label < len(p):
        bars[label].set(hatch="//", edgecolor="black", linewidth=0.8)
        ax.set_xticks(range(len(p)), [f"{k}\ntrue" if k == label else str(k) for k in range(len(p))])
        ax.get_xticklabels()[label].set_fontweight("bold")
    ax.set_xlabel("digit" + ("" if label is None else f" (true: {label}, hatched)"))
    ax.set_title(title, fontsize=10)
