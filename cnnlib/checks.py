"""Input checks shared by every layer, so a wrong shape or dtype fails with a
message that says what was expected, what arrived, and what to do about it.

Introduced in notebooks/01_convolution.ipynb.
"""

import numpy as np


def check_images(x, name="x"):
    """Check that `x` is a floating-point batch of images of shape (N, C, H, W)."""
    x = np.asarray(x)
    if x.ndim != 4:
        hint = ""
        if x.ndim == 2:
            hint = " For a single grey image img of shape (H, W) pass img[None, None]."
        elif x.ndim == 3:
            hint = " For a batch of grey images of shape (N, H, W) pass x[:, None]."
        raise ValueError(
            f"{name} must have shape (N, C, H, W) (4 dimensions); got shape {x.shape}.{hint}")
    check_float(x, name)
    return x


def check_float(x, name="x"):
    """Check that `x` holds floating-point numbers (not raw uint8 pixels)."""
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise ValueError(
            f"{name} must be a floating-point array (float32 or float64); got dtype "
            f"{np.asarray(x).dtype}. Scale raw pixels first, e.g. cnnlib.data.to_float(x).")


def check_int(value, name, minimum):
    """Check that a hyper-parameter such as stride or pad is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def output_size(size, kernel, stride, pad, what="kernel"):
    """Output length along one axis: (size + 2*pad - kernel) // stride + 1.

    Raises ValueError when the window does not fit in the padded input.
    """
    if kernel > size + 2 * pad:
        raise ValueError(
            f"the {what} ({kernel}) is larger than the padded input ({size} + 2*{pad} = "
            f"{size + 2 * pad}); use a smaller {what} or more padding.")
    return (size + 2 * pad - kernel) // stride + 1


def check_shape(x, expected, name="x"):
    """Check `x.shape` against `expected`, where None in `expected` matches any length."""
    shape = np.shape(x)
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {want}; got shape {shape}.")


def check_labels(y, num_classes=None, name="labels", n=None):
    """Check class labels: integers of shape (N,) (N = n if given), each in 0..num_classes-1.

    Returns y as an array.
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (n is not None and len(y) != n):
        raise ValueError(f"{name} must be integer labels of shape ({'N' if n is None else n},); "
                         f"got dtype {y.dtype} and shape {y.shape}.")
    if num_classes is not None and y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must lie in 0..{num_classes - 1}; got values from "
                         f"{y.min()} to {y.max()}.")
    return y
