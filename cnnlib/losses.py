"""Softmax turns scores into probabilities; cross-entropy scores them against the label.

softmax(z)_k = exp(z_k - m) / sum_j exp(z_j - m), with m = max_j z_j.
Subtracting m changes nothing mathematically but keeps exp from overflowing.
For one sample with label y the loss is L = -log softmax(z)_y, and dL/dz = p - onehot(y).

Introduced in notebooks/03_softmax_and_cross_entropy.ipynb; the gradient is derived in
notebooks/05_backprop_softmax.ipynb.
"""

import numpy as np

from .checks import check_float, check_labels

__all__ = ["log_softmax", "softmax", "softmax_cross_entropy", "softmax_naive"]


def softmax_naive(z):
    """exp(z) / sum(exp(z)) without the shift: overflows for large scores (a demo of the bug)."""
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax(z):
    """Probabilities along the last axis, shifted by the maximum so exp never overflows."""
    check_float(z, "z")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    """log(softmax(z)) computed stably: (z - m) - log(sum(exp(z - m)))."""
    check_float(z, "z")
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, K) scores; y: (N,) integer labels in [0, K).
    Returns (loss, dlogits): loss = mean_n -log p[n, y_n], dlogits = (p - onehot(y)) / N.
    Finite for any finite logits, even +-1000. A NaN or infinite logit gives a NaN loss, as
    NumPy would: train_step then skips the update and fit stops with TrainingDiverged, which
    names the likely cause (evaluate refuses NaN images before they reach the loss).
    """
    check_float(logits, "logits")
    if np.ndim(logits) != 2:
        raise ValueError(f"logits must have shape (N, K); got shape {np.shape(logits)}.")
    n, k = logits.shape
    if k == 0:
        raise ValueError(f"logits have no classes (shape {logits.shape}); the last layer needs "
                         f"one output per class, e.g. Linear(..., 10) for digits.")
    if n == 0:
        raise ValueError(f"logits hold no samples (shape {logits.shape}): the mean loss of an "
                         f"empty batch is undefined. Pass at least one sample.")
    y = check_labels(y, k, n=n)
    logp = log_softmax(logits)
    loss = -logp[np.arange(n), y].mean()
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    return loss, dlogits / n
