"""Numerical gradient checks: the test every backward pass must pass.

Central difference: df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h), error O(h^2).
Compare with the analytic gradient by the relative error
    ||a - n|| / (||a|| + ||n||)   (Euclidean norms over all elements);
in float64 a correct backward pass gives about 1e-8 or less, a wrong one 1e-2 or more.

Introduced in notebooks/05_backprop_softmax.ipynb.
"""

import numpy as np

from .losses import softmax_cross_entropy

__all__ = ["check_gradients", "check_layer", "initial_loss", "numerical_gradient",
           "rel_error"]


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Gradient of the scalar function f() with respect to array x, which f reads.

    x is changed in place one element at a time and restored afterwards.
    Returns an array shaped like x; with indices (flat positions in x), only those
    entries are computed and returned, as a 1-D array (for spot checks of big arrays).
    """
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be a contiguous array so it can be nudged in place.")
    positions = range(flat.size) if indices is None else indices
    grad = np.zeros(len(positions), dtype=np.float64)
    for j, i in enumerate(positions):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        grad[j] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape) if indices is None else grad


def rel_error(a, b):
    """Relative error ||a - b|| / (||a|| + ||b||) between two arrays (0 means identical).

    Norms rather than element-wise ratios, so entries that are zero in one and
    1e-12 in the other (rounding noise) do not count as 100% wrong.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}.")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def check_layer(layer, x, seed=0, h=1e-5):
    """Compare a layer's backward pass with numerical gradients.

    Uses the scalar L = sum(forward(x) * g) for a fixed random g, so dL/dout = g.
    x and every parameter must be float64. Returns {"x": err, "W": err, ...}.
    """
    arrays = {"x": x, **layer.params}
    for name, a in arrays.items():
        if a.dtype != np.float64:
            raise ValueError(f"gradient checks need float64; {name} is {a.dtype}. "
                             f"Build the layer with dtype=np.float64.")
    g = np.random.default_rng(seed).normal(size=layer.forward(x).shape)
    dx = layer.backward(g)
    analytic = {"x": dx, **layer.grads}

    def loss():
        return float(np.sum(layer.forward(x) * g))

    return {name: rel_error(analytic[name], numerical_gradient(loss, a, h))
            for name, a in arrays.items()}


def initial_loss(net, x=None, y=None, num_samples=64, seed=0):
    """Loss of a (typically untrained) net, by default on random images and labels.

    For K classes and near-uniform initial scores this should be close to ln K
    (ln 10 = 2.303 for MNIST). Returns (loss, ln K). (Notebook 08 makes the same check
    by hand on one_conv_net.)
    """
    rng = np.random.default_rng(seed)
    if x is None:
        dtype = next(iter(net.named_params().values())).dtype
        x = rng.uniform(-0.5, 0.5, size=(num_samples, 1, 28, 28)).astype(dtype)
    logits = net.forward(x)
    k = logits.shape[1]
    if y is None:
        y = rng.integers(0, k, size=len(x))
    return float(softmax_cross_entropy(logits, y)[0]), float(np.log(k))


def check_gradients(net, x, y, h=1e-5, samples=None, seed=0):
    """Compare backward's parameter gradients of the loss with central differences.

    The net and x must be float64. samples=None checks every entry (small nets only);
    an integer checks that many random entries per parameter array.
    Returns {"0.W": relative error, ...}; about 1e-7 or less means backward is right.
    """
    params = net.named_params()
    for name, p in params.items():
        if p.dtype != np.float64:
            raise ValueError(f"gradient checks need float64; {name} is {p.dtype}. "
                             f"Call net.astype(np.float64) first.")

    def loss():
        return softmax_cross_entropy(net.forward(x), y)[0]

    net.backward(softmax_cross_entropy(net.forward(x), y)[1])
    grads = {k: v.copy() for k, v in net.named_grads().items()}
    rng = np.random.default_rng(seed)
    errors = {}
    for name, p in params.items():
        idx = (np.arange(p.size) if samples is None
               else rng.choice(p.size, min(samples, p.size), replace=False))
        num = numerical_gradient(loss, p, h, indices=idx)
        errors[name] = rel_error(grads[name].reshape(-1)[idx], num)
    return errors
