"""Convolution through the Fourier transform: the same numbers as conv2d_fast (up to
rounding), with far fewer multiplications when the kernel is large.

    layer = FFTConv2D(16, 32, 5, pad=2)    # Conv2D's weights and results, computed this way

The convolution theorem: the Fourier transform turns a correlation of two images into a
product, frequency by frequency. So each image and each filter is transformed once, then
for every frequency the channel sums are one small complex matrix product

    O[n, f] = sum over c of X[n, c] * conj(W[f, c])          (forward)

and the inverse transform gives the output. With a 5x5 kernel on a 14x14 image padded to
18x18, a product over channels costs 18 * 10 complex multiplications per (n, f, c)
instead of 14 * 14 * 25 real ones: lenet99's second convolution needs about a seventh of
the multiplications.

The transforms are small (18 points), so they are done as matrix products with the
discrete Fourier matrices rather than with np.fft, which spends most of its time on the
bookkeeping of many tiny transforms. The grid is the padded input, H + 2p by W + 2p: a
circular correlation on it never wraps around for the outputs we keep.

Stride 1 only. Backward: dx = the full convolution of dout with the filters, dw = the
correlation of the padded input with dout; both are products of transforms too.
Tests check these against the loop versions and a numerical gradient check.

FFTConv2D is a Conv2D (same parameters, initial values, shapes and saved weights) whose
forward and backward run these functions; cnnlib.architectures.lenet99 uses it for its
second convolution. Not part of a notebook; benchmarks/RESULTS.md (version 0.5) says why
and how fast.
"""

from functools import lru_cache

import numpy as np

from ..checks import check_conv_args, check_dout
from ..conv import Conv2D

__all__ = ["FFTConv2D", "conv2d_backward_fft", "conv2d_fft"]


def _complex(dtype):
    return np.complex128 if np.dtype(dtype) == np.float64 else np.complex64


@lru_cache(maxsize=64)
def _row_transform(size, length, offset, dtype):
    """(2V, length) real matrix for V = size//2 + 1: times a row of `length` samples placed
    at `offset` in a grid of `size`, it gives the real parts of the row's first V Fourier
    coefficients, then their imaginary parts."""
    angle = 2 * np.pi * np.outer(np.arange(size // 2 + 1), np.arange(offset, offset + length))
    return np.concatenate([np.cos(angle / size), -np.sin(angle / size)]).astype(dtype)


@lru_cache(maxsize=64)
def _column_transform(size, length, offset, dtype, inverse=False):
    """Complex Fourier matrix along the other axis: (size, length) forward, for `length`
    samples at `offset`; (length, size) inverse (scaled by 1/size), for the `length`
    outputs starting at `offset`."""
    angle = 2 * np.pi * np.outer(np.arange(offset, offset + length), np.arange(size)) / size
    if inverse:
        return ((np.cos(angle) + 1j * np.sin(angle)) / size).astype(_complex(dtype))
    return (np.cos(angle) - 1j * np.sin(angle)).T.astype(_complex(dtype))


@lru_cache(maxsize=64)
def _row_inverse(size, length, offset, dtype):
    """(length, 2V) real matrix: times the real parts, then the imaginary parts, of the
    V = size//2 + 1 first Fourier coefficients of a real row (the others are their
    conjugates), it gives `length` samples of the row starting at `offset`."""
    v = np.arange(size // 2 + 1)
    weight = np.where((v == 0) | (2 * v == size), 1.0, 2.0) / size
    angle = 2 * np.pi * np.outer(np.arange(offset, offset + length), v) / size
    return np.concatenate([weight * np.cos(angle), -weight * np.sin(angle)], axis=1).astype(dtype)


def spectrum(a, grid, offset=(0, 0)):
    """Fourier coefficients of M images stored as a (h, w, M) array (image index last),
    placed at `offset` in a zero grid of shape `grid` (S1, S2). Returns a complex array
    (S1 * V, M), V = S2 // 2 + 1, frequencies first: the numbers of np.fft.rfft2 of the
    zero-padded images, rearranged."""
    h, w, m = a.shape
    s1, s2 = grid
    v = s2 // 2 + 1
    rows = np.matmul(_row_transform(s2, w, offset[1], a.dtype), a)          # (h, 2V, M)
    packed = np.empty((h, v, m), _complex(a.dtype))
    packed.real, packed.imag = rows[:, :v], rows[:, v:]
    columns = _column_transform(s1, h, offset[0], a.dtype)
    return (columns @ packed.reshape(h, v * m)).reshape(s1 * v, m)


def images(z, grid, shape, offset=(0, 0)):
    """The inverse of spectrum: coefficients z (S1 * V, M) of M real images on `grid` back
    to the (h, w) window at `offset` of each, as an (h, w, M) array; shape = (h, w)."""
    s1, s2 = grid
    v = s2 // 2 + 1
    (h, w), m = shape, z.shape[1]
    real = np.dtype(z.real.dtype)
    rows = _column_transform(s1, h, offset[0], real, inverse=True) @ z.reshape(s1, v * m)
    rows = rows.reshape(h, v, m)
    parts = np.empty((h, 2 * v, m), real)
    parts[:, :v], parts[:, v:] = rows.real, rows.imag
    return np.matmul(_row_inverse(s2, w, offset[1], real), parts)           # (h, w, M)


def check_stride(stride):
    if stride != 1:
        raise ValueError(f"the Fourier-transform convolution (FFTConv2D) needs stride 1; "
                         f"got stride={stride!r}. Use Conv2D for other strides.")


def _maps_last(a):
    """(N, C, H, W) -> (H, W, C * N): every image a column of maps, the batch index last
    (no copy when a is stored that way, as this module's outputs are)."""
    n, c, h, w = a.shape
    return a.transpose(2, 3, 1, 0).reshape(h, w, c * n)


def conv2d_fft(x, w, b, stride=1, pad=0, return_spectra=False):
    """conv2d through the Fourier transform; same inputs and output as conv2d_fast
    (stride 1 only). With return_spectra=True also returns what conv2d_backward_fft reuses:
    the transforms of x and w.

    The output is an (N, F, Hout, Wout) view of an (Hout, Wout, F, N) block: the batch axis
    last, as with conv2d_fast, so ReLU and pooling work on long contiguous rows.
    """
    ho, wo = check_conv_args(x, w, b, stride, pad)
    check_stride(stride)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    grid = (h + 2 * pad, wd + 2 * pad)
    xs = spectrum(_maps_last(x), grid, (pad, pad)).reshape(-1, c, n)
    ws = spectrum(_maps_last(w.astype(x.dtype, copy=False)), grid).reshape(-1, c, f)
    out = ws.conj().transpose(0, 2, 1) @ xs                      # (frequencies, F, N)
    out[0] += b.astype(x.dtype)[:, None] * (grid[0] * grid[1])    # a constant is all DC
    out = images(out.reshape(-1, f * n), grid, (ho, wo)).reshape(ho, wo, f, n)
    out = out.transpose(3, 2, 0, 1)
    return (out, (xs, ws)) if return_spectra else out


def conv2d_backward_fft(dout, x, w, stride=1, pad=0, spectra=None, need_dx=True):
    """Gradients of conv2d through the Fourier transform; same as conv2d_backward_fast.
    spectra: conv2d_fft's (xs, ws), if kept. Returns (dx, dw, db); dx is None if not need_dx.

    dw[f, c] = correlation of the padded x[:, c] with dout[:, f], summed over images:
    conj(D) X per frequency. dx[:, c] = full convolution of dout with w[:, c]: W D per
    frequency, cropped back to the unpadded image.
    """
    check_stride(stride)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    grid = (h + 2 * pad, wd + 2 * pad)
    if spectra is None:
        _, spectra = conv2d_fft(x, w, np.zeros(f, x.dtype), stride, pad, return_spectra=True)
    xs, ws = spectra                                       # (frequencies, C, N), (.., C, F)
    ds = spectrum(_maps_last(dout), grid).reshape(-1, f, n)
    db = dout.sum(axis=(0, 2, 3))
    dx = None
    if need_dx:
        dx = ws @ ds                                       # (frequencies, C, N)
        dx = images(dx.reshape(-1, c * n), grid, (h, wd), (pad, pad)).reshape(h, wd, c, n)
        dx = dx.transpose(3, 2, 0, 1)
    dw = np.conjugate(ds, out=ds) @ xs.transpose(0, 2, 1)  # (frequencies, F, C); ds is done
    dw = images(dw.reshape(-1, f * c), grid, (kh, kw)).reshape(kh, kw, f, c)
    return dx, np.ascontiguousarray(dw.transpose(2, 3, 0, 1)), db


class FFTConv2D(Conv2D):
    """Conv2D computed through the Fourier transform (stride 1 only): the same parameters,
    initial values (for the same seed), output and gradients up to rounding, and weights
    saved from either load into the other (cnnlib.model). Faster than im2col for large
    kernels on many channels, such as lenet99's second convolution (benchmarks/RESULTS.md).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0, init="he",
                 seed=0, dtype=np.float32, need_dx=True):
        check_stride(stride)
        super().__init__(in_channels, out_channels, kernel_size, stride, pad, init=init,
                         seed=seed, dtype=dtype, need_dx=need_dx)
        self.impl = "fft"       # what Conv2D's impl would say; forward, backward are this class's

    def forward(self, x):
        x = np.asarray(x)
        self.x = x
        out, self.spectra = conv2d_fft(x, self.params["W"], self.params["b"], self.stride,
                                       self.pad, return_spectra=True)
        return out

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.output_shape(self.x.shape))
        dx, dw, db = conv2d_backward_fft(dout, self.x, self.params["W"], self.stride, self.pad,
                                         self.spectra, self.need_dx)
        self.grads = {"W": dw, "b": db}
        return dx if self.need_dx else None
