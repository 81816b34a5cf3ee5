"""Max and average pooling, as loops that read like the definition and as
vectorised versions over a sliding-window view.

In the course's notation (notebooks/README.md; indices from 0): window k x k (`kernel_size`),
stride s (`stride`, by default s = k), output pixel (i, j), offset (u, v) inside the window:
    max pool: out[n, c, i, j] = max over 0 <= u, v < k of x[n, c, i*s + u, j*s + v]
    Hout = (H - k) // s + 1, and the same for Wout.

Max-pool backward sends each window's gradient to ONE position, the first
arg-max of the window. Copying it to every position equal to the maximum (as the
MaxPool2.backprop of Victor Zhou's "CNNs, Part 2", victorzhou.com/blog/intro-to-cnns-part-2,
does) counts a tie, e.g. a window of zeros after ReLU, several times.

Introduced in notebooks/02_pooling.ipynb; the backward passes are derived in
notebooks/06_backprop_pooling.ipynb.
"""

import numpy as np

from .checks import (check_arrays, check_dout, check_images, check_int, check_memory_total,
                     output_size)
from .im2col import windows
from .layers import Layer

__all__ = ["AvgPool2D", "avgpool_backward_fast", "avgpool_backward_loop", "avgpool_fast",
           "avgpool_loop", "check_pool_args", "MaxPool2D", "maxpool_backward_fast",
           "maxpool_backward_loop", "maxpool_fast", "maxpool_loop", "pool_output_shape"]


def pool_output_shape(input_shape, kernel_size, stride):
    """Shape after pooling an (N, C, H, W) input: (N, C, Hout, Wout), where
    Hout = (H - kernel_size) // stride + 1 (same for W).

    Raises ValueError when the window is larger than the input.
    """
    k, s = check_int(kernel_size, "kernel_size", 1), check_int(stride, "stride", 1)
    if len(input_shape) != 4:
        raise ValueError(f"pooling expects input of shape (N, C, H, W); got shape "
                         f"{tuple(input_shape)}.")
    n, c, h, w = input_shape
    return (n, c, output_size(h, k, s, 0, what="pooling window"),
            output_size(w, k, s, 0, what="pooling window"))


def check_pool_args(x, kernel_size, stride):
    """Validate pooling inputs; return the output size (Hout, Wout)."""
    check_images(x, "x")
    ho, wo = pool_output_shape(x.shape, kernel_size, stride)[2:]
    n, c = x.shape[:2]
    # the output, and for the fast version the winners' positions and one comparison mask
    check_memory_total([((n, c, ho, wo), x.dtype, "the output"),
                        ((n, c, ho, wo, 2), np.uint8, "the arg-max and a mask")], "this pooling")
    return ho, wo


def maxpool_loop(x, kernel_size=2, stride=2):
    """Max over each k x k window (k = kernel_size, s = stride), one output pixel at a time.

    x: (N, C, H, W) -> (N, C, Hout, Wout), Hout = (H - k) // s + 1 (same for W):
    out[n, c, i, j] = max of x[n, c, i*s : i*s + k, j*s : j*s + k].
    """
    ho, wo = check_pool_args(x, kernel_size, stride)
    k = kernel_size
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    out[n, c, i, j] = window.max()
    return out


def maxpool_backward_loop(dout, x, kernel_size=2, stride=2):
    """Route dout[n, c, i, j] to the first arg-max of its window. Returns dx like x."""
    k = kernel_size
    dx = np.zeros_like(x, dtype=dout.dtype)
    n_img, n_ch, ho, wo = dout.shape
    for n in range(n_img):
        for c in range(n_ch):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx


def maxpool_fast(x, kernel_size=2, stride=2, return_argmax=False):
    """Vectorised max pooling. With return_argmax=True also returns, for every
    output pixel, the flat index u * k + v of the winner at offset (u, v) in its window.

    Works offset by offset: x[:, :, u::s, v::s] (cropped to Hout x Wout) holds entry (u, v)
    of every window at once (u, v are called p, q in the loop below). A position takes over only where it is strictly
    larger, so on a tie the first position in row-major order wins, as with np.argmax.
    (Plain arithmetic on whole arrays throughout: masked assignments are much slower,
    benchmarks/RESULTS.md, version 0.2.)
    """
    size = kernel_size
    ho, wo = check_pool_args(x, size, stride)
    index_type = np.min_scalar_type(size * size)      # uint8 for windows up to 15x15
    out = arg = None
    for p in range(size):
        for q in range(size):
            entry = x[:, :, p:p + stride * (ho - 1) + 1:stride, q:q + stride * (wo - 1) + 1:stride]
            if out is None:
                # order="K": keep x's memory layout (conv2d_fast stores the batch axis last)
                out, arg = entry.copy(order="K"), np.zeros_like(entry, dtype=index_type)
                continue
            larger = entry > out
            np.maximum(out, entry, out=out)
            # k = p*size + q only grows, so max(arg, k * larger) sets arg to k where larger.
            np.maximum(arg, larger * index_type.type(p * size + q), out=arg)
    return (out, arg) if return_argmax else out


def maxpool_backward_fast(dout, x, kernel_size=2, stride=2, arg=None):
    """Vectorised max-pool backward: one masked add per offset (u, v) in the k x k window.

    The forward pass's arg-max (flat index u * k + v, k = kernel_size) marks the windows each
    offset won; the strided slice dx[:, :, u::s, v::s] (s = stride) receives their dout. The
    loop variables p, q below are the offsets u, v of the notebooks. Returns dx like x.
    """
    check_arrays(dout=dout, x=x)
    size = kernel_size
    if arg is None:
        _, arg = maxpool_fast(x, size, stride, return_argmax=True)
    dx = np.zeros_like(x, dtype=dout.dtype)
    ho, wo = dout.shape[2:]
    for p in range(size):
        for q in range(size):
            won = arg == p * size + q
            target = dx[:, :, p:p + stride * ho:stride, q:q + stride * wo:stride]
            if stride >= size:                      # windows do not overlap: write directly
                np.multiply(dout, won, out=target)
            else:                                   # overlapping windows add up
                target += dout * won
    return dx


def avgpool_loop(x, kernel_size=2, stride=2):
    """Mean over each k x k window (k = kernel_size), one output pixel at a time;
    shapes as in maxpool_loop."""
    ho, wo = check_pool_args(x, kernel_size, stride)
    k = kernel_size
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    out[n, c, i, j] = window.mean()
    return out


def avgpool_backward_loop(dout, x, kernel_size=2, stride=2):
    """Every output pixel shares its gradient equally among the k * k pixels of its
    window: dx[window of (i, j)] += dout[n, c, i, j] / (k * k). Returns dx like x.

    Only x's shape is needed: the mean treats every pixel alike, whatever its value.
    """
    k = kernel_size
    dx = np.zeros_like(x, dtype=dout.dtype)
    n_img, n_ch, ho, wo = dout.shape
    for n in range(n_img):
        for c in range(n_ch):
            for i in range(ho):
                for j in range(wo):
                    dx[n, c, i * stride:i * stride + k, j * stride:j * stride + k] += \
                        dout[n, c, i, j] / (k * k)
    return dx


def avgpool_fast(x, kernel_size=2, stride=2):
    """Vectorised average pooling."""
    size = kernel_size
    check_pool_args(x, size, stride)
    return windows(x, size, size, stride).mean(axis=(4, 5))


def avgpool_backward_fast(dout, x, kernel_size=2, stride=2):
    """Vectorised avg-pool backward: one add of dout / k**2 (k = kernel_size) per offset (u, v)
    of the window, onto every window's (u, v) pixel at once (overlapping windows add up; the
    loop variables p, q below are u, v). Returns dx like x; x is read only for its shape."""
    size = kernel_size
    dx = np.zeros_like(x, dtype=dout.dtype)
    ho, wo = dout.shape[2:]
    share = dout / (size * size)
    for p in range(size):
        for q in range(size):
            dx[:, :, p:p + stride * ho:stride, q:q + stride * wo:stride] += share
    return dx


class MaxPool2D(Layer):
    """Max pooling layer (no parameters). impl="fast" or "loop"."""

    def __init__(self, kernel_size=2, stride=None, impl="fast"):
        super().__init__()
        if impl not in ("fast", "loop"):
            raise ValueError(f"impl must be 'fast' or 'loop'; got {impl!r}.")
        check_int(kernel_size, "kernel_size", 1), stride is None or check_int(stride, "stride", 1)
        self.kernel_size, self.impl = kernel_size, impl
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        self.x = x
        if self.impl == "loop":
            return maxpool_loop(x, self.kernel_size, self.stride)
        out, self.arg = maxpool_fast(x, self.kernel_size, self.stride, return_argmax=True)
        return out

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.output_shape(self.x.shape))
        if self.impl == "loop":
            return maxpool_backward_loop(dout, self.x, self.kernel_size, self.stride)
        return maxpool_backward_fast(dout, self.x, self.kernel_size, self.stride, self.arg)

    def output_shape(self, input_shape):
        return pool_output_shape(input_shape, self.kernel_size, self.stride)

    def __repr__(self):
        return _describe_pool(self)


class AvgPool2D(Layer):
    """Average pooling layer (no parameters). impl="fast" or "loop"."""

    def __init__(self, kernel_size=2, stride=None, impl="fast"):
        super().__init__()
        check_int(kernel_size, "kernel_size", 1), stride is None or check_int(stride, "stride", 1)
        if impl not in ("fast", "loop"):
            raise ValueError(f"impl must be 'fast' or 'loop'; got {impl!r}.")
        self.kernel_size, self.impl = kernel_size, impl
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        self.x = x
        if self.impl == "loop":
            return avgpool_loop(x, self.kernel_size, self.stride)
        return avgpool_fast(x, self.kernel_size, self.stride)

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.output_shape(self.x.shape))
        if self.impl == "loop":
            return avgpool_backward_loop(dout, self.x, self.kernel_size, self.stride)
        return avgpool_backward_fast(dout, self.x, self.kernel_size, self.stride)

    def output_shape(self, input_shape):
        return pool_output_shape(input_shape, self.kernel_size, self.stride)

    def __repr__(self):
        return _describe_pool(self)


def _describe_pool(layer):
    """MaxPool2D(2), or MaxPool2D(3, stride=2) when the stride is not the default."""
    stride = "" if layer.stride == layer.kernel_size else f", stride={layer.stride}"
    return f"{type(layer).__name__}({layer.kernel_size}{stride})"
