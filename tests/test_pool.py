"""Tests for cnnlib.pool: hand-computed pooling, tie handling in max-pool backward,
every window routing its gradient, loop vs fast agreement, gradient checks, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib.gradcheck import check_layer
from cnnlib.pool import (AvgPool2D, MaxPool2D, avgpool_backward_fast, avgpool_backward_loop,
                         avgpool_fast, avgpool_loop, maxpool_backward_fast, maxpool_backward_loop,
                         maxpool_fast, maxpool_loop)
from bad_input_support import X4, check_raises

MAX_FORWARD = [maxpool_loop, maxpool_fast]
MAX_BACKWARD = [maxpool_backward_loop, maxpool_backward_fast]
AVG_BACKWARD = [avgpool_backward_loop, avgpool_backward_fast]


# ---------------------------------------------------------------- hand-computed cases

@pytest.mark.parametrize("pool", MAX_FORWARD)
def test_maxpool_by_hand(pool):
    x = np.array([[1, 5, 2, 0],
                  [3, -1, 7, 4],
                  [0, 0, -2, -3],
                  [6, 2, -5, -4]], dtype=np.float64)[None, None]
    np.testing.assert_array_equal(pool(x)[0, 0], [[5, 7], [6, -2]])
    # kernel_size 2, stride 1: overlapping windows, 3x3 output
    np.testing.assert_array_equal(pool(x, 2, 1)[0, 0], [[5, 7, 7], [3, 7, 7], [6, 2, -2]])


@pytest.mark.parametrize("backward", MAX_BACKWARD)
def test_maxpool_backward_by_hand(backward):
    x = np.array([[1, 5, 2, 0],
                  [3, -1, 7, 4],
                  [0, 0, -2, -3],
                  [6, 2, -5, -4]], dtype=np.float64)[None, None]
    dout = np.array([[10.0, 20.0], [30.0, 40.0]])[None, None]
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[3, 0], expected[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(backward(dout, x)[0, 0], expected)


@pytest.mark.parametrize("pool", [avgpool_loop, avgpool_fast])
def test_avgpool_by_hand(pool):
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    # windows {0,1,4,5} {2,3,6,7} {8,9,12,13} {10,11,14,15}
    np.testing.assert_array_equal(pool(x)[0, 0], [[2.5, 4.5], [10.5, 12.5]])


@pytest.mark.parametrize("backward", AVG_BACKWARD)
def test_avgpool_backward_by_hand(backward):
    x = np.zeros((1, 1, 3, 3))
    dout = np.full((1, 1, 2, 2), 4.0)
    # kernel_size 2, stride 1: each window gives 4 / (2*2) = 1 to each of its pixels;
    # the centre is in all four windows, edges in two, corners in one
    dx = backward(dout, x, kernel_size=2, stride=1)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


# ---------------------------------------------------------------- ties and routing

@pytest.mark.parametrize("backward", MAX_BACKWARD)
@pytest.mark.parametrize("window", [
    [[0.0, 0.0], [0.0, 0.0]],       # all zeros, as after a ReLU
    [[3.0, 1.0], [0.0, 3.0]],       # two equal maxima
    [[-2.0, -2.0], [-2.0, -5.0]],   # three equal maxima
])
def test_tied_window_gives_gradient_to_exactly_one_position(backward, window):
    x = np.array(window)[None, None]
    dx = backward(np.full((1, 1, 1, 1), 5.0), x)
    assert dx.sum() == 5.0                   # copying to every max would give 10 or 15
    assert np.count_nonzero(dx) == 1
    assert x.reshape(-1)[np.argmax(dx)] == x.max()   # and that position holds the maximum


@pytest.mark.parametrize("layer_impl", ["fast", "loop"])
def test_relu_zeros_then_maxpool_layer_routes_once(layer_impl):
    x = np.maximum(np.random.default_rng(0).normal(size=(2, 3, 6, 6)), 0)
    x[:, :, :2, :2] = 0.0                    # make sure at least one window is all zeros
    layer = MaxPool2D(2, impl=layer_impl)
    out = layer.forward(x)
    dout = np.ones_like(out)
    dx = layer.backward(dout)
    windows = dx.reshape(2, 3, 3, 2, 3, 2)
    np.testing.assert_array_equal(windows.sum(axis=(3, 5)), dout)
    np.testing.assert_array_equal(np.count_nonzero(windows, axis=(3, 5)), 1)


@pytest.mark.parametrize("backward", MAX_BACKWARD)
def test_every_window_routes_its_gradient(backward):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 6, 8))
    dout = rng.uniform(1, 2, size=(2, 2, 3, 4))       # non-zero and distinct per window
    dx = backward(dout, x)
    windows = dx.reshape(2, 2, 3, 2, 4, 2)            # (n, c, i, p, j, q)
    np.testing.assert_array_equal(windows.sum(axis=(3, 5)), dout)
    np.testing.assert_array_equal(np.count_nonzero(windows, axis=(3, 5)), 1)
    # the winner is the window's maximum
    xw = x.reshape(2, 2, 3, 2, 4, 2)
    np.testing.assert_array_equal(np.where(windows != 0, xw, -np.inf).max(axis=(3, 5)),
                                  xw.max(axis=(3, 5)))


@pytest.mark.parametrize("backward", MAX_BACKWARD)
def test_overlapping_windows_add_up_at_a_shared_maximum(backward):
    # kernel_size 3 stride 1 on a 1x4 strip (as a 3x4 image): both windows share the peak.
    x = np.zeros((1, 1, 3, 4))
    x[0, 0, 1, 2] = 9.0
    dx = backward(np.array([[[[2.0, 3.0]]]]), x, kernel_size=3, stride=1)
    assert dx[0, 0, 1, 2] == 5.0 and np.count_nonzero(dx) == 1


# ---------------------------------------------------------------- loop vs fast (hypothesis)

@st.composite
def pool_case(draw):
    size, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
             size + draw(st.integers(0, 5)), size + draw(st.integers(0, 5)))
    return shape, size, stride, draw(st.integers(0, 2**31 - 1)), draw(st.booleans())


@settings(max_examples=100, deadline=None)
@given(pool_case())
def test_maxpool_loop_and_fast_agree(case):
    shape, size, stride, seed, ties = case
    rng = np.random.default_rng(seed)
    # With ties=True many windows hold repeated values; both versions must still
    # pick the same (first) arg-max.
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else rng.normal(size=shape)
    out_loop, out_fast = maxpool_loop(x, size, stride), maxpool_fast(x, size, stride)
    ho, wo = (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1
    assert out_loop.shape == out_fast.shape == shape[:2] + (ho, wo)
    np.testing.assert_array_equal(out_fast, out_loop)
    dout = rng.normal(size=out_loop.shape)
    dx_loop = maxpool_backward_loop(dout, x, size, stride)
    dx_fast = maxpool_backward_fast(dout, x, size, stride)
    assert dx_loop.shape == dx_fast.shape == x.shape
    np.testing.assert_allclose(dx_fast, dx_loop, rtol=1e-10, atol=1e-10)
    # total gradient is conserved: each window passes on exactly its dout
    np.testing.assert_allclose(dx_fast.sum(), dout.sum(), rtol=1e-10, atol=1e-10)


@settings(max_examples=100, deadline=None)
@given(pool_case())
def test_avgpool_loop_and_fast_agree(case):
    shape, size, stride, seed, _ = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    out_loop, out_fast = avgpool_loop(x, size, stride), avgpool_fast(x, size, stride)
    assert out_loop.shape == out_fast.shape
    np.testing.assert_allclose(out_fast, out_loop, rtol=1e-10, atol=1e-10)
    dout = rng.normal(size=out_loop.shape)
    dx_loop = avgpool_backward_loop(dout, x, size, stride)
    dx_fast = avgpool_backward_fast(dout, x, size, stride)
    assert dx_loop.shape == dx_fast.shape == x.shape
    np.testing.assert_allclose(dx_fast, dx_loop, rtol=1e-10, atol=1e-10)
    # every window hands on exactly its dout, spread over its pixels
    np.testing.assert_allclose(dx_fast.sum(), dout.sum(), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- gradient checks

POOL_CASES = [  # (N, C, H, W, size, stride)
    (2, 3, 4, 6, 2, 2),
    (1, 2, 5, 7, 3, 2),
    (2, 1, 6, 5, 2, 1),
    (1, 2, 7, 7, 3, 3),
    (2, 2, 5, 4, 1, 2),
    (1, 1, 6, 6, 4, 1),
]


@pytest.mark.parametrize("impl", ["fast", "loop"])
@pytest.mark.parametrize("n, c, h, w, size, stride", POOL_CASES)
def test_maxpool_layer_gradcheck(impl, n, c, h, w, size, stride):
    # Random normals: ties (which would make the max non-differentiable) have probability 0.
    x = np.random.default_rng(size + 10 * stride).normal(size=(n, c, h, w))
    errors = check_layer(MaxPool2D(size, stride, impl=impl), x)
    assert list(errors) == ["x"] and errors["x"] < 1e-6, errors


@pytest.mark.parametrize("impl", ["fast", "loop"])
@pytest.mark.parametrize("n, c, h, w, size, stride", POOL_CASES)
def test_avgpool_layer_gradcheck(impl, n, c, h, w, size, stride):
    x = np.random.default_rng(size + 10 * stride).normal(size=(n, c, h, w))
    errors = check_layer(AvgPool2D(size, stride, impl=impl), x)
    assert list(errors) == ["x"] and errors["x"] < 1e-6, errors


# ---------------------------------------------------------------- layer behaviour

def test_default_stride_equals_size():
    x = np.random.default_rng(0).normal(size=(1, 2, 6, 6))
    assert MaxPool2D(3).forward(x).shape == (1, 2, 2, 2)
    assert AvgPool2D(3).forward(x).shape == (1, 2, 2, 2)
    assert MaxPool2D(2).forward(x).shape == (1, 2, 3, 3)


@pytest.mark.parametrize("layer", [MaxPool2D(2, impl="fast"), MaxPool2D(2, impl="loop"),
                                   AvgPool2D(2), AvgPool2D(2, impl="loop")])
def test_pool_float32_stays_float32(layer):
    x = np.random.default_rng(0).normal(size=(2, 1, 4, 4)).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert layer.params == {}


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("pool", MAX_FORWARD + [avgpool_loop, avgpool_fast])
def test_pool_bad_input(pool):
    with pytest.raises(ValueError, match=r"pooling window \(3\).*\(2 \+ 2\*0 = 2\)"):
        pool(np.zeros((1, 1, 2, 5)), 3, 1)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        pool(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="uint8"):
        pool(np.zeros((1, 1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="stride"):
        pool(np.zeros((1, 1, 4, 4)), 2, 0)
    with pytest.raises(ValueError, match="kernel_size"):
        pool(np.zeros((1, 1, 4, 4)), 0, 1)


@pytest.mark.parametrize("layer", [MaxPool2D(5, impl="fast"), MaxPool2D(5, impl="loop"),
                                   AvgPool2D(5)])
def test_pool_layer_window_larger_than_input(layer):
    with pytest.raises(ValueError, match="larger than the padded input"):
        layer.forward(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("make", [lambda: MaxPool2D(2, stride=0), lambda: AvgPool2D(2, stride=0)])
def test_pool_layer_stride_zero_is_rejected(make):
    # stride=0 is an error, not a request for the default stride.
    with pytest.raises(ValueError, match="stride"):
        make().forward(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("layer_class", [MaxPool2D, AvgPool2D])
def test_pool_unknown_impl_is_rejected(layer_class):
    with pytest.raises(ValueError, match="other"):
        layer_class(2, impl="other")


def test_kernel_size_keyword_matches_conv():
    # the pooling window and the conv kernel are both called kernel_size
    x = np.random.default_rng(0).normal(size=(1, 1, 6, 6))
    np.testing.assert_array_equal(maxpool_fast(x, kernel_size=3, stride=3),
                                  MaxPool2D(kernel_size=3).forward(x))
    np.testing.assert_array_equal(avgpool_loop(x, kernel_size=3, stride=3),
                                  AvgPool2D(kernel_size=3, impl="loop").forward(x))


# ---------------------------------------------------------------- bad inputs (issue 11)
BUILD = [
    pytest.param(lambda: MaxPool2D(0), ValueError, ["size", ">= 1"], id="pool0"),
    pytest.param(lambda: MaxPool2D(2, stride=0), ValueError, ["stride", ">= 1"],
                 id="poolstride0"),
    pytest.param(lambda: AvgPool2D(-2), ValueError, ["size", ">= 1"], id="avg-2"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)


FORWARD = [
    pytest.param(lambda: MaxPool2D(40).forward(X4), ValueError, ["pooling window", "larger"],
                 id="pool-too-big"),
]


@pytest.mark.parametrize("call, exc, words", FORWARD)
def test_bad_forward_input_says_what_to_do(call, exc, words):
    check_raises(call, exc, *words)
