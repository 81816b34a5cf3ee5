"""Max and average pooling, as loops that read like the definition and as
vectorised versions over a sliding-window view.

Max-pool backward sends each window's gradient to ONE position, the first
arg-max of the window. Copying it to every position equal to the maximum (as
some tutorials do) counts a tie, e.g. a window of zeros after ReLU, several times.

Introduced in notebooks/02_pooling.ipynb (forward) and
notebooks/06_backprop_pooling.ipynb (backward).
"""

import numpy as np

from .checks import check_images, check_int, output_size
from .im2col import windows
from .layers import Layer


def check_pool_args(x, size, stride):
    """Validate pooling inputs; return the output size (Hout, Wout)."""
    check_images(x, "x")
    size, stride = check_int(size, "size", 1), check_int(stride, "stride", 1)
    ho = output_size(x.shape[2], size, stride, 0, what="pooling window")
    wo = output_size(x.shape[3], size, stride, 0, what="pooling window")
    return ho, wo


def maxpool_loop(x, size=2, stride=2):
    """Max over each size x size window, one output pixel at a time.

    x: (N, C, H, W) -> (N, C, Hout, Wout), Hout = (H - size) // stride + 1 (same for W):
    out[n, c, i, j] = max of x[n, c, i*stride : i*stride + size, j*stride : j*stride + size].
    """
    ho, wo = check_pool_args(x, size, stride)
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    out[n, c, i, j] = window.max()
    return out


def maxpool_backward_loop(dout, x, size=2, stride=2):
    """Route dout[n, c, i, j] to the first arg-max of its window. Returns dx like x."""
    dx = np.zeros_like(x, dtype=dout.dtype)
    n_img, n_ch, ho, wo = dout.shape
    for n in range(n_img):
        for c in range(n_ch):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx


def maxpool_fast(x, size=2, stride=2, return_argmax=False):
    """Vectorised max pooling. With return_argmax=True also returns, for every
    output pixel, the flat index (row * size + col) of the winner in its window.

    Works position by position: x[:, :, p::stride, q::stride] (cropped to Hout x Wout) holds
    entry (p, q) of every window at once. A position takes over only where it is strictly
    larger, so on a tie the first position in row-major order wins, as with np.argmax.
    (Plain arithmetic on whole arrays throughout: masked assignments are ~10x slower.)
    """
    ho, wo = check_pool_args(x, size, stride)
    index_type = np.min_scalar_type(size * size)      # uint8 for windows up to 15x15
    out = arg = None
    for p in range(size):
        for q in range(size):
            entry = x[:, :, p:p + stride * (ho - 1) + 1:stride, q:q + stride * (wo - 1) + 1:stride]
            if out is None:
                out, arg = entry.copy(), np.zeros(entry.shape, dtype=index_type)
                continue
            larger = entry > out
            np.maximum(out, entry, out=out)
            # k = p*size + q only grows, so max(arg, k * larger) sets arg to k where larger.
            np.maximum(arg, larger * index_type.type(p * size + q), out=arg)
    return (out, arg) if return_argmax else out


def maxpool_backward_fast(dout, x, size=2, stride=2, arg=None):
    """Vectorised max-pool backward: one masked add per position in the window."""
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


def avgpool_loop(x, size=2, stride=2):
    """Mean over each size x size window, one output pixel at a time; shapes as in maxpool_loop."""
    ho, wo = check_pool_args(x, size, stride)
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    out[n, c, i, j] = window.mean()
    return out


def avgpool_fast(x, size=2, stride=2):
    """Vectorised average pooling."""
    check_pool_args(x, size, stride)
    return windows(x, size, size, stride).mean(axis=(4, 5))


def avgpool_backward(dout, x, size=2, stride=2):
    """Every input pixel of a window gets dout / (size * size), summed over windows."""
    dx = np.zeros_like(x, dtype=dout.dtype)
    ho, wo = dout.shape[2:]
    share = dout / (size * size)
    for p in range(size):
        for q in range(size):
            dx[:, :, p:p + stride * ho:stride, q:q + stride * wo:stride] += share
    return dx


class MaxPool2D(Layer):
    """Max pooling layer (no parameters). impl="fast" or "loop"."""

    def __init__(self, size=2, stride=None, impl="fast"):
        super().__init__()
        if impl not in ("fast", "loop"):
            raise ValueError(f"impl must be 'fast' or 'loop'; got {impl!r}.")
        self.size, self.stride, self.impl = size, size if stride is None else stride, impl

    def forward(self, x):
        self.x = x
        if self.impl == "loop":
            return maxpool_loop(x, self.size, self.stride)
        out, self.arg = maxpool_fast(x, self.size, self.stride, return_argmax=True)
        return out

    def backward(self, dout):
        if self.impl == "loop":
            return maxpool_backward_loop(dout, self.x, self.size, self.stride)
        return maxpool_backward_fast(dout, self.x, self.size, self.stride, self.arg)


class AvgPool2D(Layer):
    """Average pooling layer (no parameters)."""

    def __init__(self, size=2, stride=None):
        super().__init__()
        self.size, self.stride = size, size if stride is None else stride

    def forward(self, x):
        self.x = x
        return avgpool_fast(x, self.size, self.stride)

    def backward(self, dout):
        return avgpool_backward(dout, self.x, self.size, self.stride)
