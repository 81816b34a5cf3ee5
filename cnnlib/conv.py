"""2-D convolution (strictly, cross-correlation, as in every deep-learning library).

In the course's notation (table in notebooks/README.md; every index from 0): N images,
C channels, F filters of k x k, stride s (`stride`), padding p (`pad`), output pixel (i, j),
offset (u, v) inside the kernel:

out[n, f, i, j] = b[f] + sum over c, u, v of  w[f, c, u, v] * xpad[n, c, i*s + u, j*s + v]
Hout = (H + 2p - k) // s + 1, and the same for Wout.

The loop versions read like that formula; the im2col versions do the same sums as one
matrix product over im2col rows, exactly as notebook 09 derives it; the fast versions (what
Conv2D runs) are the same products with the rows in the image-last order (i, j, n), which
is faster. Tests check that all three agree.

Introduced in notebooks/01_convolution.ipynb; the backward pass is derived in
notebooks/07_backprop_convolution.ipynb.
"""

import numpy as np

# check_conv_args lives in checks (cnnlib.speed.fftconv uses it too); homework imports it
# from here
from .checks import check_arrays, check_conv_args, check_dout, check_int, output_size  # noqa: F401
from .im2col import col2im, col2im_batch_last, im2col, im2col_batch_last, pad_images
from .layers import Layer, init_weights

__all__ = ["Conv2D", "conv2d_backward_fast", "conv2d_backward_im2col", "conv2d_backward_loop",
           "conv2d_fast", "conv2d_im2col", "conv2d_loop"]


def conv2d_loop(x, w, b, stride=1, pad=0):
    """Convolution with explicit loops over images, filters and output pixels.

    x: (N, C, H, W); w: (F, C, KH, KW) (k x k in the notebooks; KH != KW works too); b: (F,).
    Returns out: (N, F, Hout, Wout), Hout = (H + 2p - KH) // s + 1 with p = pad, s = stride
    (Wout likewise with KW).
    """
    ho, wo = check_conv_args(x, w, b, stride, pad)
    xp = pad_images(x, pad)
    n_img, n_filt, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    out = np.zeros((n_img, n_filt, ho, wo), dtype=np.result_type(x, w))
    for n in range(n_img):
        for f in range(n_filt):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    return out


def conv2d_backward_loop(dout, x, w, stride=1, pad=0):
    """Gradients of conv2d by the same loops: every output pixel sends
    dout * patch to its filter and dout * filter back to its patch.

    With g = dout, stride s and padding p, the sums it computes are
        dw[f, c, u, v] = sum over n, i, j of g[n, f, i, j] * xpad[n, c, i*s + u, j*s + v]
        db[f]          = sum over n, i, j of g[n, f, i, j]
        dxpad[n, c, r, q] = sum of g[n, f, i, j] * w[f, c, u, v] over all f, i, j, u, v
                            with i*s + u = r and j*s + v = q,
    and dx is dxpad with its p-pixel border cut off.
    Returns (dx, dw, db) with the shapes of x, w and (F,).
    """
    xp = pad_images(x, pad)
    dxp, dw = np.zeros_like(xp, dtype=dout.dtype), np.zeros_like(w, dtype=dout.dtype)
    kh, kw = w.shape[2:]
    n_img, n_filt, ho, wo = dout.shape
    for n in range(n_img):
        for f in range(n_filt):
            for i in range(ho):
                for j in range(wo):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db


def conv2d_im2col(x, w, b, stride=1, pad=0):
    """conv2d as one matrix product: out_rows = cols @ w_rows.T + b.

    cols = im2col(x): one row per output pixel, in the order (n, i, j); w_rows = w as an
    (F, C*k*k) matrix. The (N*Hout*Wout, F) result, reshaped to (N, Hout, Wout, F), has its
    filter axis moved forward. Same inputs and output as conv2d_loop.
    """
    ho, wo = check_conv_args(x, w, b, stride, pad)
    n_filt, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, pad)                     # (N*Ho*Wo, C*KH*KW)
    out_rows = cols @ w.reshape(n_filt, -1).T + b             # (N*Ho*Wo, F)
    return out_rows.reshape(x.shape[0], ho, wo, n_filt).transpose(0, 3, 1, 2)


def conv2d_backward_im2col(dout, x, w, stride=1, pad=0):
    """Gradients of conv2d_im2col, those of a linear layer on the window rows:
    dw_rows = g_rows.T @ cols, db = the column sums of g_rows, dx = col2im(g_rows @ w_rows),
    where g_rows is dout as an (N*Hout*Wout, F) matrix (rows (n, i, j), as cols).
    Returns (dx, dw, db) with the shapes of x, w and (F,).
    """
    n_filt, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, pad)                     # (N*Ho*Wo, C*KH*KW)
    g_rows = dout.transpose(0, 2, 3, 1).reshape(-1, n_filt)   # (N*Ho*Wo, F)
    dw = (g_rows.T @ cols).reshape(w.shape)
    db = g_rows.sum(axis=0)
    dx = col2im(g_rows @ w.reshape(n_filt, -1), x.shape, kh, kw, stride, pad)
    return dx, dw, db


def conv2d_fast(x, w, b, stride=1, pad=0, return_cols=False):
    """conv2d_im2col arranged for speed; what Conv2D runs. Same inputs and output as
    conv2d_loop. With return_cols=True also returns the im2col matrix so a backward pass
    can reuse it.

    Two changes from conv2d_im2col, same numbers: the windows are unfolded by
    im2col_batch_last (the im2col rows in the order (i, j, n), the image index last), and
    the product is computed transposed, w_rows @ cols.T, shape (F, Hout*Wout*N), because
    cols.T is the contiguous one. The result is returned as an (N, F, Hout, Wout) view of
    that (F, Hout, Wout, N) block, without a copy. Element-wise layers and pooling keep that
    memory layout, and conv2d_backward_fast reads it back without a copy.
    """
    ho, wo = check_conv_args(x, w, b, stride, pad)
    n_filt, _, kh, kw = w.shape
    cols = im2col_batch_last(x, kh, kw, stride, pad)          # (Ho*Wo*N, C*KH*KW)
    out = w.reshape(n_filt, -1) @ cols.T                      # (F, Ho*Wo*N)
    out += b[:, None]
    out = out.reshape(n_filt, ho, wo, x.shape[0]).transpose(3, 0, 1, 2)
    return (out, cols) if return_cols else out


def conv2d_backward_fast(dout, x, w, stride=1, pad=0, cols=None, need_dx=True):
    """conv2d_backward_im2col arranged for speed, as conv2d_fast is; what Conv2D runs.
    Returns (dx, dw, db); dx is None if not need_dx.

    dw = g_rows.T @ cols (correlation of input and upstream gradient);
    dx = col2im(g_rows @ w_rows) (a full convolution with the filters turned by 180°),
    where g_rows is dout as an (Hout*Wout*N, F) matrix (rows in conv2d_fast's order (i, j, n))
    and w_rows is w as (F, C*k*k). cols: conv2d_fast's im2col matrix, if kept.
    """
    check_arrays(dout=dout, x=x, w=w)
    n_filt, _, kh, kw = w.shape
    if cols is None:
        cols = im2col_batch_last(x, kh, kw, stride, pad)
    drows_t = dout.transpose(1, 2, 3, 0).reshape(n_filt, -1)   # (F, Ho*Wo*N)
    # dw = drows_t @ cols, computed as (cols.T @ drows_t.T).T: the same sums, but OpenBLAS runs
    # this shape (long rows of cols.T, few columns) faster (benchmarks/RESULTS.md, version 0.4);
    # np.dot, not @: the same BLAS call and bits, but for this shape @ keeps Python's global lock
    # while BLAS runs, so two threads' products ran one after the other (version 0.6)
    dw = np.dot(cols.T, drows_t.T).T.reshape(w.shape)
    db = drows_t.sum(axis=1)
    if not need_dx:
        return None, dw, db
    dcols = (w.reshape(n_filt, -1).T @ drows_t).T               # (Ho*Wo*N, C*KH*KW)
    return col2im_batch_last(dcols, x.shape, kh, kw, stride, pad), dw, db


class Conv2D(Layer):
    """Convolution layer with filters W (F, C, k, k), k = kernel_size, and biases b (F,).

    impl="fast" uses im2col, impl="loop" the explicit loops (slow, for teaching).
    need_dx=False skips the input gradient (useful for a network's first layer).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0,
                 impl="fast", init="he", seed=0, dtype=np.float32, need_dx=True):
        super().__init__()
        if impl not in ("fast", "loop"):
            raise ValueError(f"impl must be 'fast' or 'loop'; got {impl!r}.")
        for value, name in ((in_channels, "in_channels"), (out_channels, "out_channels"),
                            (kernel_size, "kernel_size"), (stride, "stride")):
            check_int(value, name, 1)
        check_int(pad, "pad", 0)
        k = kernel_size
        fan_in = in_channels * k * k
        self.params = {"W": init_weights((out_channels, in_channels, k, k), fan_in,
                                         out_channels * k * k, init, seed, dtype),
                       "b": np.zeros(out_channels, dtype=dtype)}
        self.stride, self.pad, self.impl, self.need_dx = stride, pad, impl, need_dx

    def forward(self, x):
        w, b = self.params["W"], self.params["b"]
        self.x = x
        if self.impl == "loop":
            return conv2d_loop(x, w, b, self.stride, self.pad)
        out, self.cols = conv2d_fast(x, w, b, self.stride, self.pad, return_cols=True)
        return out

    def backward(self, dout):
        w = self.params["W"]
        dout = check_dout(self, dout, lambda: self.output_shape(self.x.shape))
        if self.impl == "loop":
            dx, dw, db = conv2d_backward_loop(dout, self.x, w, self.stride, self.pad)
        else:
            dx, dw, db = conv2d_backward_fast(dout, self.x, w, self.stride, self.pad,
                                              self.cols, self.need_dx)
        self.grads = {"W": dw, "b": db}
        return dx if self.need_dx else None

    def output_shape(self, input_shape):
        """(N, F, Hout, Wout) for an (N, C, H, W) input; ValueError if it does not fit."""
        n_filt, n_ch, kh, kw = self.params["W"].shape
        if len(input_shape) != 4 or input_shape[1] != n_ch:
            raise ValueError(f"{self!r} expects input of shape (N, {n_ch}, H, W); "
                             f"got shape {tuple(input_shape)}.")
        stride, pad = check_int(self.stride, "stride", 1), check_int(self.pad, "pad", 0)
        return (input_shape[0], n_filt, output_size(input_shape[2], kh, stride, pad),
                output_size(input_shape[3], kw, stride, pad))

    def __repr__(self):
        """The call that builds this layer, defaults left out: Conv2D(1, 8, 3, pad=1)
        (FFTConv2D(...) for that subclass)."""
        n_filt, n_ch, k = self.params["W"].shape[:3]
        extra = "".join(f", {name}={value}" for name, value, default in
                        [("stride", self.stride, 1), ("pad", self.pad, 0)] if value != default)
        return f"{type(self).__name__}({n_ch}, {n_filt}, {k}{extra})"
