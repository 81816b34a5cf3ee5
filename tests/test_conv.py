"""Tests for cnnlib.conv and cnnlib.im2col: hand-computed outputs, loop vs im2col vs fast
agreement on random shapes, im2col/col2im adjointness, gradient checks, bad input."""

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib.checks import output_size
from cnnlib.conv import (Conv2D, conv2d_backward_fast, conv2d_backward_im2col,
                         conv2d_backward_loop, conv2d_fast, conv2d_im2col, conv2d_loop)
from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.im2col import col2im, col2im_batch_last, im2col, im2col_batch_last
from cnnlib.speed.fftconv import FFTConv2D
from bad_input_support import X4, check_raises

CONV_FUNCS = [conv2d_loop, conv2d_im2col, conv2d_fast]


# ---------------------------------------------------------------- hand-computed cases

@pytest.mark.parametrize("conv", CONV_FUNCS)
def test_vertical_edge_by_hand(conv):
    # Left half dark (0), right half bright (1), except that the edge moves one
    # column left in the bottom two rows.
    img = np.array([[0, 0, 1, 1],
                    [0, 0, 1, 1],
                    [0, 1, 1, 1],
                    [0, 1, 1, 1]], dtype=np.float64)
    kernel = np.array([[1, 0, -1]] * 3, dtype=np.float64)
    # out[i, j] = sum over the 3 rows r = i..i+2 of img[r, j] - img[r, j + 2]
    # out[0, 0] = (0-1) + (0-1) + (0-1) = -3      out[0, 1] = (0-1) + (0-1) + (1-1) = -2
    # out[1, 0] = (0-1) + (0-1) + (0-1) = -3      out[1, 1] = (0-1) + (1-1) + (1-1) = -1
    expected = np.array([[-3, -2], [-3, -1]], dtype=np.float64)
    out = conv(img[None, None], kernel[None, None], np.array([0.5]))
    assert out.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(out[0, 0], expected + 0.5)


@pytest.mark.parametrize("conv", CONV_FUNCS)
def test_stride_two_with_padding_by_hand(conv):
    img = np.arange(9, dtype=np.float64).reshape(3, 3)   # 0 1 2 / 3 4 5 / 6 7 8
    ones = np.ones((1, 1, 3, 3))
    # Padded input is 5x5; windows start at padded rows/cols 0 and 2, i.e. each
    # window covers a 2x2 corner of the original image plus zeros.
    # top-left 0+1+3+4 = 8, top-right 1+2+4+5 = 12, bottom-left 3+4+6+7 = 20, bottom-right 24
    out = conv(img[None, None], ones, np.zeros(1), stride=2, pad=1)
    np.testing.assert_array_equal(out[0, 0], [[8, 12], [20, 24]])


@pytest.mark.parametrize("conv", CONV_FUNCS)
def test_channels_sum_and_filters_are_separate(conv):
    x = np.random.default_rng(1).normal(size=(2, 2, 3, 4))
    w = np.zeros((2, 2, 1, 1))
    w[0, :, 0, 0] = [2.0, -1.0]      # filter 0: 2*channel0 - channel1
    w[1, 1, 0, 0] = 3.0              # filter 1: 3*channel1
    b = np.array([1.0, -2.0])
    out = conv(x, w, b)
    np.testing.assert_allclose(out[:, 0], 2 * x[:, 0] - x[:, 1] + 1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], 3 * x[:, 1] - 2, rtol=0, atol=1e-12)


@pytest.mark.parametrize("size, kernel, stride, pad, expected", [
    (28, 3, 1, 0, 26), (28, 5, 1, 2, 28), (7, 3, 2, 1, 4), (5, 2, 2, 0, 2),
    (6, 3, 3, 0, 2), (4, 5, 1, 1, 2), (3, 3, 1, 0, 1)])
def test_output_size_formula(size, kernel, stride, pad, expected):
    assert output_size(size, kernel, stride, pad) == expected
    x = np.zeros((1, 1, size, size + 1))
    w = np.zeros((1, 1, kernel, kernel))
    for conv in CONV_FUNCS:
        out = conv(x, w, np.zeros(1), stride=stride, pad=pad)
        assert out.shape == (1, 1, expected, (size + 1 + 2 * pad - kernel) // stride + 1)


def test_backward_by_hand_single_pixel_output():
    # A 2x2 image and a 2x2 kernel give one output pixel o = sum(x * w) + b,
    # so do/dx = w, do/dw = x, do/db = 1 (times the upstream gradient 3).
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    w = np.array([[[[0.5, -1.0], [2.0, 0.0]]]])
    dout = np.full((1, 1, 1, 1), 3.0)
    for backward in (conv2d_backward_loop, conv2d_backward_im2col, conv2d_backward_fast):
        dx, dw, db = backward(dout, x, w)
        np.testing.assert_array_equal(dx, 3 * w)
        np.testing.assert_array_equal(dw, 3 * x)
        np.testing.assert_array_equal(db, [3.0])


# ---------------------------------------------------------------- loop vs fast (hypothesis)

@st.composite
def conv_case(draw):
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    # Build the image so that the kernel always fits in the padded input.
    h = max(1, kh - 2 * pad) + draw(st.integers(0, 4))
    w = max(1, kw - 2 * pad) + draw(st.integers(0, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    return (n, c, h, w), (f, c, kh, kw), stride, pad, seed


@settings(max_examples=100, deadline=None)
@given(conv_case())
@pytest.mark.parametrize("forward, backward", [(conv2d_im2col, conv2d_backward_im2col),
                                               (conv2d_fast, conv2d_backward_fast)])
def test_conv_loop_and_vectorised_agree(forward, backward, case):
    x_shape, w_shape, stride, pad, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    b = rng.normal(size=w_shape[0])
    out_loop = conv2d_loop(x, w, b, stride, pad)
    out_fast = forward(x, w, b, stride, pad)
    ho = (x_shape[2] + 2 * pad - w_shape[2]) // stride + 1
    wo = (x_shape[3] + 2 * pad - w_shape[3]) // stride + 1
    assert out_fast.shape == out_loop.shape == (x_shape[0], w_shape[0], ho, wo)
    np.testing.assert_allclose(out_fast, out_loop, rtol=1e-10, atol=1e-10)

    dout = rng.normal(size=out_loop.shape)
    grads_loop = conv2d_backward_loop(dout, x, w, stride, pad)
    grads_fast = backward(dout, x, w, stride, pad)
    for name, g_loop, g_fast, like in zip("dx dw db".split(), grads_loop, grads_fast,
                                          (x, w, b)):
        assert g_fast.shape == g_loop.shape == like.shape, name
        np.testing.assert_allclose(g_fast, g_loop, rtol=1e-10, atol=1e-10, err_msg=name)


@settings(max_examples=100, deadline=None)
@given(conv_case())
def test_im2col_col2im_are_adjoint(case):
    (n, c, h, w), (_, _, kh, kw), stride, pad, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    cols = im2col(x, kh, kw, stride, pad)
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    assert cols.shape == (n * ho * wo, c * kh * kw)
    d = rng.normal(size=cols.shape)
    back = col2im(d, x.shape, kh, kw, stride, pad)
    assert back.shape == x.shape
    lhs, rhs = np.sum(cols * d), np.sum(x * back)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


@settings(max_examples=60, deadline=None)
@given(conv_case())
def test_batch_last_im2col_is_the_same_rows_reordered_and_col2im_its_adjoint(case):
    (n, c, h, w), (_, _, kh, kw), stride, pad, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, pad)                      # rows (n, i, j)
    cols_bl = im2col_batch_last(x, kh, kw, stride, pad)  # rows (i, j, n)
    reordered = cols.reshape(n, ho, wo, -1).transpose(1, 2, 0, 3).reshape(cols.shape)
    np.testing.assert_array_equal(cols_bl, reordered)
    d = rng.normal(size=cols.shape)
    back = col2im_batch_last(d, x.shape, kh, kw, stride, pad)
    assert back.shape == x.shape
    lhs, rhs = np.sum(cols_bl * d), np.sum(x * back)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))
    d_nij = d.reshape(ho, wo, n, -1).transpose(2, 0, 1, 3).reshape(d.shape)
    np.testing.assert_allclose(back, col2im(d_nij, x.shape, kh, kw, stride, pad), rtol=1e-12,
                               atol=1e-12)


def test_fast_conv_output_keeps_the_batch_axis_last_in_memory():
    x = np.random.default_rng(0).normal(size=(3, 2, 5, 5))
    out = conv2d_fast(x, np.ones((4, 2, 3, 3)), np.zeros(4), pad=1)
    assert out.shape == (3, 4, 5, 5)
    assert out.transpose(1, 2, 3, 0).flags.c_contiguous      # (F, H, W, N) in memory


def test_im2col_row_layout_channels_then_rows_then_columns():
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)
    cols = im2col(x, 2, 2, stride=1, pad=0)
    assert cols.shape == (2 * 2 * 2, 2 * 2 * 2)
    # row for image 1, output pixel (1, 0): window rows 1..2, cols 0..1 of both channels
    np.testing.assert_array_equal(cols[1 * 4 + 1 * 2 + 0], x[1, :, 1:3, 0:2].reshape(-1))


def test_col2im_adds_overlapping_windows():
    # 1x3 image, 1x2 kernel, stride 1: the middle pixel lies in both windows.
    ones = np.ones((2, 2))
    np.testing.assert_array_equal(col2im(ones, (1, 1, 1, 3), 1, 2), [[[[1, 2, 1]]]])


# ---------------------------------------------------------------- gradient checks

CONV_CASES = [  # (N, C, H, W, F, K, stride, pad)
    (2, 2, 5, 6, 3, 3, 1, 1),
    (1, 3, 4, 5, 2, 1, 1, 0),
    (2, 1, 7, 6, 2, 5, 2, 2),
    (1, 2, 5, 4, 2, 2, 3, 0),
    (2, 2, 4, 6, 2, 4, 2, 1),
    (1, 1, 3, 3, 2, 5, 1, 2),
]


@pytest.mark.parametrize("impl, n, c, h, w, f, k, stride, pad",
                         [(impl,) + case for impl in ("fast", "loop") for case in CONV_CASES]
                         + [("fft",) + case for case in CONV_CASES if case[6] == 1])
def test_conv_layer_gradcheck(impl, n, c, h, w, f, k, stride, pad):
    # impl "fft": the speed wing's FFTConv2D, a Conv2D computed through the Fourier transform
    kind = FFTConv2D if impl == "fft" else partial(Conv2D, impl=impl)
    layer = kind(c, f, k, stride=stride, pad=pad, seed=3, dtype=np.float64)
    rng = np.random.default_rng(n + 10 * c + 100 * k)
    layer.params["b"][:] = rng.normal(size=f)
    errors = check_layer(layer, rng.normal(size=(n, c, h, w)))
    assert set(errors) == {"x", "W", "b"}
    for name, err in errors.items():
        assert err < 1e-6, (name, err)


@pytest.mark.parametrize("n, c, h, w, f, k, stride, pad", CONV_CASES)
def test_im2col_conv_backward_gradcheck(n, c, h, w, f, k, stride, pad):
    # notebook 09's matrix-product backward against centred differences of
    # L = sum(conv2d_im2col(x, w, b) * g), so that dL/dout = g
    rng = np.random.default_rng(n + 10 * c + 100 * k)
    x, wt, b = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
    g = rng.normal(size=conv2d_im2col(x, wt, b, stride, pad).shape)
    dx, dw, db = conv2d_backward_im2col(g, x, wt, stride, pad)
    for name, arr, grad in (("x", x, dx), ("w", wt, dw), ("b", b, db)):
        num = numerical_gradient(lambda: np.sum(conv2d_im2col(x, wt, b, stride, pad) * g), arr)
        assert rel_error(grad, num) < 1e-8, name


# ---------------------------------------------------------------- layer behaviour

@pytest.mark.parametrize("impl", ["fast", "loop"])
def test_need_dx_false_skips_dx_but_keeps_parameter_gradients(impl):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 2, 6, 5))
    full = Conv2D(2, 3, 3, pad=1, impl=impl, dtype=np.float64)
    lean = Conv2D(2, 3, 3, pad=1, impl=impl, dtype=np.float64, need_dx=False)
    dout = rng.normal(size=full.forward(x).shape)
    lean.forward(x)
    assert full.backward(dout) is not None
    assert lean.backward(dout) is None
    np.testing.assert_allclose(lean.grads["W"], full.grads["W"], rtol=1e-12)
    np.testing.assert_allclose(lean.grads["b"], full.grads["b"], rtol=1e-12)


@pytest.mark.parametrize("impl", ["fast", "loop"])
def test_float32_stays_float32(impl):
    layer = Conv2D(1, 4, 3, impl=impl)
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6)).astype(np.float32)
    out = layer.forward(x)
    assert layer.params["W"].dtype == np.float32 and out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32
    assert layer.grads["W"].dtype == np.float32 and layer.grads["b"].dtype == np.float32


def test_same_seed_same_filters_different_seed_different():
    a, b, c = Conv2D(1, 4, 3, seed=5), Conv2D(1, 4, 3, seed=5), Conv2D(1, 4, 3, seed=6)
    assert a.params["W"].shape == (4, 1, 3, 3) and a.params["b"].shape == (4,)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], c.params["W"])


# ---------------------------------------------------------------- bad input

X_OK = np.zeros((1, 1, 5, 5))
W_OK = np.zeros((2, 1, 3, 3))
B_OK = np.zeros(2)


@pytest.mark.parametrize("conv", CONV_FUNCS)
@pytest.mark.parametrize("x, w, b, kwargs, fragment", [
    (np.zeros((5, 5)), W_OK, B_OK, {}, "(5, 5)"),
    (np.zeros((1, 5, 5)), W_OK, B_OK, {}, "(1, 5, 5)"),
    (np.zeros((1, 1, 5, 5), dtype=np.uint8), W_OK, B_OK, {}, "uint8"),
    (np.zeros((1, 3, 5, 5)), W_OK, B_OK, {}, "3 channels"),
    (X_OK, np.zeros((2, 1, 6, 6)), B_OK, {}, "larger than the padded input"),
    (X_OK, np.zeros((2, 1, 8, 8)), B_OK, {"pad": 1}, "5 + 2*1 = 7"),
    (X_OK, W_OK, B_OK, {"stride": 0}, "stride"),
    (X_OK, W_OK, B_OK, {"pad": -1}, "pad"),
    (X_OK, W_OK, np.zeros(3), {}, "(3,)"),
])
def test_bad_input_raises_value_error(conv, x, w, b, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        conv(x, w, b, **kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("impl", ["fast", "loop"])
def test_conv_layer_rejects_bad_images(impl):
    layer = Conv2D(1, 2, 3, impl=impl)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(28, 28\)"):
        layer.forward(np.zeros((28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="uint8"):
        layer.forward(np.zeros((1, 1, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="channels"):
        layer.forward(np.zeros((1, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="stride"):
        Conv2D(1, 2, 3, stride=0, impl=impl).forward(np.zeros((1, 1, 8, 8)))


def test_unknown_impl_is_rejected():
    with pytest.raises(ValueError, match="other"):
        Conv2D(1, 2, 3, impl="other")


def test_missing_bias_is_a_clear_value_error():
    x, w = np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3))
    for conv in (conv2d_loop, conv2d_fast):
        with pytest.raises(ValueError, match=r"np\.zeros\(2\)"):
            conv(x, w, None)


# ---------------------------------------------------------------- bad inputs (issue 11)
BUILD = [
    pytest.param(lambda: Conv2D(1, 4, 0), ValueError, ["kernel_size", ">= 1", "got 0"], id="k0"),
    pytest.param(lambda: Conv2D(1, 4, -3), ValueError, ["kernel_size", ">= 1"], id="k-3"),
    pytest.param(lambda: Conv2D(1, 4, 2.5), ValueError, ["kernel_size", "integer"], id="k2.5"),
    pytest.param(lambda: Conv2D(1, 4, 3, stride=0), ValueError, ["stride", ">= 1"], id="stride0"),
    pytest.param(lambda: Conv2D(1, 4, 3, pad=-1), ValueError, ["pad", ">= 0"], id="pad-1"),
    pytest.param(lambda: Conv2D(0, 4, 3), ValueError, ["in_channels", ">= 1"], id="cin0"),
    pytest.param(lambda: Conv2D(1, 0, 3), ValueError, ["out_channels", ">= 1"], id="cout0"),
    pytest.param(lambda: Conv2D(1, 4, 3, impl="gpu"), ValueError, ["'fast' or 'loop'"],
                 id="impl"),
    pytest.param(lambda: Conv2D(1, 2, 3, dtype=np.uint8), ValueError, ["floating-point"],
                 id="int-conv"),
    pytest.param(lambda: Conv2D(1, 2, 3, seed=-5), ValueError, ["seed", ">= 0"], id="seed-conv"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)


MILLION = np.broadcast_to(np.zeros((1, 1, 28, 28), np.float32), (10**6, 1, 28, 28))


FORWARD = [
    pytest.param(lambda: Conv2D(1, 1, 3, pad=100000).forward(np.zeros((1, 1, 28, 28),
                                                                        np.float32)),
                 MemoryError, ["GiB", "padded input"], id="pad-100000"),
    # im2col: 10**6 * 28 * 28 rows of 5 * 5 float32 = 73 GiB
    pytest.param(lambda: Conv2D(1, 8, 5, pad=2).forward(MILLION), MemoryError,
                 ["GiB", "im2col", "smaller batch"], id="million-images"),
    pytest.param(lambda: conv2d_fast(X4, np.zeros((2, 1, 0, 0), np.float32), np.zeros(2)),
                 ValueError, ["every size >= 1"], id="empty-kernel"),
]


@pytest.mark.parametrize("call, exc, words", FORWARD)
def test_bad_forward_input_says_what_to_do(call, exc, words):
    check_raises(call, exc, *words)


@pytest.mark.parametrize("n, c, h, f, k, pad", [(128, 1, 28, 16, 5, 2), (64, 32, 7, 32, 3, 1),
                                                (7, 3, 9, 4, 3, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_dw_through_np_dot_keeps_the_bits_of_the_matmul(n, c, h, f, k, pad, dtype):
    """conv2d_backward_fast computes dw with np.dot rather than @ (for the first conv's shape
    @ holds Python's global lock during BLAS, so split parts waited for each other): the same
    BLAS product, so the same bits as the @ form it replaced."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    w = rng.standard_normal((f, c, k, k)).astype(dtype)
    ho = h + 2 * pad - k + 1
    dout = rng.standard_normal((n, f, ho, ho)).astype(dtype)
    cols = im2col_batch_last(x, k, k, 1, pad)
    before = (cols.T @ dout.transpose(1, 2, 3, 0).reshape(f, -1).T).T.reshape(w.shape)
    _, dw, _ = conv2d_backward_fast(dout, x, w, 1, pad, cols=cols)
    np.testing.assert_array_equal(dw, before)
