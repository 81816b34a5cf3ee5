"""Convolution as a matrix product: im2col unfolds every window of the input into
a row, col2im folds gradients of those rows back onto the image.

Introduced in notebooks/09_vectorization.ipynb.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["col2im", "col2im_batch_last", "im2col", "im2col_batch_last", "pad_images",
           "windows"]


def pad_images(x, pad, batch_last=False):
    """Zero-pad the two spatial axes of x (N, C, H, W) by `pad` pixels on each side.

    batch_last=True stores the result as (C, H, W, N) in memory (always a new array), still
    seen as (N, C, H, W): see im2col for why.
    """
    if pad == 0 and not batch_last:
        return x
    n, c, h, w = x.shape
    if batch_last:
        xp = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=x.dtype).transpose(3, 0, 1, 2)
    else:
        xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)   # np.pad, but faster
    xp[:, :, pad:pad + h, pad:pad + w] = x
    return xp


def windows(x, kh, kw, stride=1):
    """A read-only view of every (kh, kw) window of x (N, C, H, W), no copy.

    Returns an array of shape (N, C, Hout, Wout, kh, kw) with
    Hout = (H - kh) // stride + 1 and Wout = (W - kw) // stride + 1.
    """
    view = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def im2col(x, kh, kw, stride=1, pad=0):
    """Unfold x (N, C, H, W) into a matrix with one row per output pixel.

    Returns cols of shape (N * Hout * Wout, C * kh * kw); row (n, i, j) holds the
    window under output pixel (i, j) of image n, channels first, then rows, then columns,
    which matches w.reshape(F, C * kh * kw).

    Speed: the copy is made in the order (C, kh, kw, N, Hout, Wout), so numpy moves whole
    image rows at a time instead of kw-pixel pieces (faster: benchmarks/RESULTS.md, version
    0.2, "What made the fast path fast"), and the result is
    its transpose, a free view. cols.T is therefore contiguous, ready for a matrix product.
    """
    win = windows(pad_images(x, pad), kh, kw, stride)    # (N, C, Ho, Wo, kh, kw)
    n, c, ho, wo = win.shape[:4]
    cols_t = win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)
    return cols_t.T


def col2im(dcols, x_shape, kh, kw, stride=1, pad=0):
    """The adjoint of im2col: add each row of dcols back onto the window it came from.

    dcols: (N * Hout * Wout, C * kh * kw). Returns dx of shape x_shape = (N, C, H, W).
    Overlapping windows add up, which is exactly what the chain rule asks for.
    """
    n, c, h, w = x_shape
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    d = dcols.T.reshape(c, kh, kw, n, ho, wo)     # a view when dcols came from im2col's layout
    # dx is built channel by channel: (C, N, H, W) in memory, seen as (N, C, H, W).
    dxp = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype).transpose(1, 0, 2, 3)
    for u in range(kh):          # kh * kw vectorised adds, one per kernel offset (u, v)
        for v in range(kw):
            dxp[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride] += \
                d[:, u, v].transpose(1, 0, 2, 3)
    return dxp[:, :, pad:pad + h, pad:pad + w]


# The pair conv2d_fast uses: the same matrices with the rows in the order (i, j, n), the
# image index last. The input is first copied into a (C, H, W, N) memory layout, so every
# piece the copies move is Wout * N numbers long instead of Wout, and the convolution's
# output, (F, Hout, Wout, N) in memory, flows through ReLU and pooling in that layout
# (a whole LeNet training step is faster than with the (n, i, j) order: benchmarks/RESULTS.md,
# version 0.4).

def im2col_batch_last(x, kh, kw, stride=1, pad=0):
    """im2col(x, ...) with its rows reordered from (n, i, j) to (i, j, n); same shape."""
    win = windows(pad_images(x, pad, batch_last=True), kh, kw, stride)
    n, c, ho, wo = win.shape[:4]
    cols_t = win.transpose(1, 4, 5, 2, 3, 0).reshape(c * kh * kw, ho * wo * n)
    return cols_t.T


def col2im_batch_last(dcols, x_shape, kh, kw, stride=1, pad=0):
    """The adjoint of im2col_batch_last (rows (i, j, n)); dx is (C, H, W, N) in memory."""
    n, c, h, w = x_shape
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    d = dcols.T.reshape(c, kh, kw, ho, wo, n)
    dxp = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, u:u + stride * ho:stride, v:v + stride * wo:stride] += d[:, u, v]
    return dxp[:, pad:pad + h, pad:pad + w].transpose(3, 0, 1, 2)
