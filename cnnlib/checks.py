"""Input checks shared by every layer, so a wrong shape or dtype fails with a
message that says what was expected, what arrived, and what to do about it.

Introduced in notebooks/01_convolution.ipynb.
"""

import os

import numpy as np

__all__ = ["check_conv_args", "check_dout", "check_float", "check_float_dtype",
           "check_array", "check_arrays", "check_finite_images", "check_images", "check_int", "check_labels", "check_memory",
           "check_memory_total", "check_real",
           "check_seed", "check_shape", "memory_limit", "output_size", "SMALL_ARRAY"]


def check_array(x, name="x"):
    """Check that `x` is a NumPy array. The project's one rule for arrays of numbers: a list
    or tuple is refused with this sentence rather than converted, because a list has no
    dtype (np.asarray would guess float64 or int64, where the network computes in float32)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(x).__name__}. Convert it "
                        f"first, e.g. np.asarray({name.split()[0]}, dtype=np.float32).")
    return x


def check_arrays(**arrays):
    """check_array for each keyword: check_arrays(dout=dout, x=x)."""
    for name, a in arrays.items():
        check_array(a, name)


def check_images(x, name="x"):
    """Check that `x` is a floating-point batch of images of shape (N, C, H, W)."""
    check_array(x, name)
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


def check_finite_images(x, name="x", then="the network's scores for those images would be NaN"):
    """Check a batch of images (N, ...) for NaN or infinite values; the error names how many
    and the first image that holds one, and how to find them all."""
    check_array(x, name)
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argmax(bad.reshape(len(x), -1).any(axis=1)))
        raise ValueError(f"{name} holds {int(bad.sum())} NaN or infinite pixel value(s) (the "
                         f"first in image {first}); {then}. Fix or drop those images, e.g. "
                         f"keep = np.isfinite({name}).all(axis=(1, 2, 3)).")
    return x


def check_float(x, name="x"):
    """Check that `x` is a NumPy array of floating-point numbers (not raw uint8 pixels)."""
    check_array(x, name)
    if not np.issubdtype(x.dtype, np.floating):
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


def check_seed(seed, name="seed"):
    """A random seed: None (fresh randomness) or an integer >= 0, as np.random.default_rng wants."""
    return None if seed is None else check_int(seed, name, 0)


def check_real(value, name, low, low_open=False, high=None):
    """Check that a hyper-parameter is a finite real number >= low (> low if low_open), < high.

    Used for learning rates, momentum, betas: inf and NaN are refused here because a
    NaN momentum or an infinite lr shows up only later, as a NaN loss with a wrong reason.
    """
    number = isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, (bool, np.bool_))
    ok = number and bool(np.isfinite(value)) and (value > low if low_open else value >= low) \
        and (high is None or value < high)
    if not ok:
        rule = f"{'>' if low_open else '>='} {low:g}" + ("" if high is None else f" and < {high:g}")
        raise ValueError(f"{name} must be {rule} (a finite number); got {value!r}.")
    return value


def check_float_dtype(dtype, name="dtype"):
    """A network's dtype must be a floating type: integer weights cannot take small steps."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not np.issubdtype(dt, np.floating):
        got = getattr(dt, "name", repr(dtype))
        raise ValueError(f"{name} must be a floating-point type (np.float32, or np.float64 for "
                         f"gradient checks); got {got}. Integer weights cannot learn: "
                         f"gradient steps are far smaller than 1.")
    return dt


def memory_limit():
    """Bytes of memory available now (MemAvailable on Linux, else all physical memory).

    An array larger than this cannot be allocated without swapping or being killed.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


SMALL_ARRAY = 2**26      # 64 MiB: below this, check_memory does not ask how much is free


def _nbytes(shape, dtype):
    return int(np.prod([int(s) for s in shape], dtype=object)) * np.dtype(dtype).itemsize


def check_memory(shape, dtype, what):
    """Refuse an array of `shape` before allocating it when it cannot fit in memory."""
    check_memory_total([(shape, dtype, what)], what)


def check_memory_total(arrays, what):
    """Refuse, before allocating any of them, the arrays [(shape, dtype, name)] that a
    function will hold at once when together they cannot fit in the memory available now.
    The one rule of every vectorised path: the project's MemoryError, saying what would be
    needed and what to do, never NumPy's half-way through."""
    sizes = [(_nbytes(shape, dtype), shape, name) for shape, dtype, name in arrays]
    need = sum(n for n, _, _ in sizes)
    if need <= SMALL_ARRAY:             # reading /proc/meminfo costs more than such arrays
        return
    have = memory_limit()
    if need > have:
        parts = "; ".join(f"{name} {tuple(int(s) for s in shape)} {n / 2**30:,.1f} GiB"
                          for n, shape, name in sorted(sizes, key=lambda t: -t[0]) if n)
        raise MemoryError(f"{what} would need {need / 2**30:,.1f} GiB at once ({parts}), more "
                          f"than the {have / 2**30:,.1f} GiB of memory available. Use a "
                          f"smaller batch (or layer).")


def check_dout(layer, dout, expected):
    """backward(dout) of `layer`: forward must have run, and dout must have its output's shape.

    expected() returns the output shape from what forward cached; it raises AttributeError
    when forward never ran (the cache does not exist yet). Returns dout as an array.
    """
    name = type(layer).__name__
    try:
        shape = tuple(expected())
    except AttributeError:
        raise RuntimeError(f"{name}.backward() was called before forward(): run "
                           f"forward(x) on a batch first, backward uses what it keeps.") from None
    check_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"{name}.backward(dout): dout must have the shape of the last "
                         f"forward output {shape}; got {dout.shape}. Pass the gradient of "
                         f"the loss with respect to this layer's output.")
    return dout


def check_conv_args(x, w, b, stride, pad):
    """Validate conv2d inputs; return the output size (Hout, Wout)."""
    check_images(x, "x")
    check_images(w, "w (filters)")
    f, c = w.shape[:2]
    if x.shape[1] != c:
        raise ValueError(f"x has {x.shape[1]} channels but the filters expect {c}; "
                         f"w must have shape (F, C, KH, KW) with C = x.shape[1].")
    if b is None:
        raise ValueError(f"b (bias) must be an array of shape ({f},); got None. "
                         f"For no bias pass np.zeros({f}).")
    check_shape(check_array(b, "b (bias)"), (f,), "b (bias)")
    if min(w.shape) < 1:
        raise ValueError(f"w (filters) must have shape (F, C, KH, KW) with every size >= 1; "
                         f"got {w.shape}.")
    stride, pad = check_int(stride, "stride", 1), check_int(pad, "pad", 0)
    ho = output_size(x.shape[2], w.shape[2], stride, pad)
    wo = output_size(x.shape[3], w.shape[3], stride, pad)
    # refuse before allocating: the padded input and the im2col matrix are the big arrays
    n, c, h, wd = x.shape
    check_memory_total([((n, c, h + 2 * pad, wd + 2 * pad), x.dtype, "the zero-padded input"),
                        ((n * ho * wo, c * w.shape[2] * w.shape[3]), x.dtype, "im2col"),
                        ((n, f, ho, wo), x.dtype, "the output")], "this convolution")
    return ho, wo
