"""Tests for cnnlib.speed.fftconv: the Fourier-transform convolution against the loop version on
random shapes, its transforms against np.fft, memory layout, and the layer and network that
use it. FFTConv2D's float64 gradient checks are test_conv.py's (its impl="fft" cases)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib.architectures import lenet, lenet99
from cnnlib.conv import (Conv2D, conv2d_backward_fast, conv2d_backward_loop, conv2d_fast,
                         conv2d_loop)
from cnnlib.speed.fftconv import FFTConv2D, conv2d_backward_fft, conv2d_fft, images, spectrum
from bad_input_support import check_raises


@st.composite
def fft_case(draw):
    """Stride 1; any kernel that fits the padded input, odd and even grids."""
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw, pad = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(0, 3))
    h = max(1, kh - 2 * pad) + draw(st.integers(0, 5))
    w = max(1, kw - 2 * pad) + draw(st.integers(0, 5))
    return (n, c, h, w), (f, c, kh, kw), pad, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=100, deadline=None)
@given(fft_case())
def test_fft_and_loop_agree_forward_and_backward(case):
    x_shape, w_shape, pad, seed = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    out_loop = conv2d_loop(x, w, b, 1, pad)
    out_fft, spectra = conv2d_fft(x, w, b, 1, pad, return_spectra=True)
    assert out_fft.shape == out_loop.shape and out_fft.dtype == np.float64
    np.testing.assert_allclose(out_fft, out_loop, rtol=1e-10, atol=1e-10)

    dout = rng.normal(size=out_loop.shape)
    loop = conv2d_backward_loop(dout, x, w, 1, pad)
    for kept in (spectra, None):                 # with the forward's transforms, and without
        fft = conv2d_backward_fft(dout, x, w, 1, pad, spectra=kept)
        for name, g_loop, g_fft, like in zip(("dx", "dw", "db"), loop, fft, (x, w, b)):
            assert g_fft.shape == g_loop.shape == like.shape, name
            np.testing.assert_allclose(g_fft, g_loop, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("grid, shape, offset", [((6, 6), (6, 6), (0, 0)),
                                                 ((7, 9), (4, 5), (2, 3)),
                                                 ((8, 5), (3, 2), (5, 0))])
def test_spectrum_is_rfft2_of_the_zero_padded_images_and_images_inverts_it(grid, shape,
                                                                          offset):
    rng = np.random.default_rng(0)
    a = rng.normal(size=shape + (4,))                          # 4 images, index last
    padded = np.zeros((4,) + grid)
    padded[:, offset[0]:offset[0] + shape[0], offset[1]:offset[1] + shape[1]] = \
        a.transpose(2, 0, 1)
    expected = np.fft.rfft2(padded)                            # (4, S1, V)
    z = spectrum(a, grid, offset)
    assert z.shape == (grid[0] * (grid[1] // 2 + 1), 4)
    np.testing.assert_allclose(z.T.reshape(expected.shape), expected, atol=1e-12)
    np.testing.assert_allclose(images(z, grid, shape, offset), a, atol=1e-12)


def test_float32_fft_matches_im2col_to_float32_rounding():
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, size=(8, 16, 14, 14)).astype(np.float32)
    w = (rng.normal(size=(32, 16, 5, 5)) * 0.05).astype(np.float32)
    b = rng.normal(size=32).astype(np.float32)
    out, spectra = conv2d_fft(x, w, b, 1, 2, return_spectra=True)
    ref, cols = conv2d_fast(x, w, b, 1, 2, return_cols=True)
    assert out.dtype == np.float32
    scale = np.abs(ref).max()
    assert np.abs(out - ref).max() < 1e-5 * scale
    dout = rng.normal(size=ref.shape).astype(np.float32)
    for g, g_ref in zip(conv2d_backward_fft(dout, x, w, 1, 2, spectra),
                        conv2d_backward_fast(dout, x, w, 1, 2, cols)):
        assert g.dtype == np.float32
        assert np.abs(g - g_ref).max() < 1e-5 * np.abs(g_ref).max()


def test_outputs_keep_the_batch_axis_last_in_memory():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(5, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3))
    out = conv2d_fft(x, w, np.zeros(4), 1, 1)
    assert out.transpose(2, 3, 1, 0).flags.c_contiguous        # (H, W, F, N) in memory
    dx, dw, _ = conv2d_backward_fft(rng.normal(size=out.shape), x, w, 1, 1)
    assert dx.transpose(2, 3, 1, 0).flags.c_contiguous
    assert dw.flags.c_contiguous


def test_need_dx_false_skips_dx_but_keeps_parameter_gradients():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 2, 5, 5))
    full = FFTConv2D(2, 3, 3, pad=1, dtype=np.float64)
    part = FFTConv2D(2, 3, 3, pad=1, dtype=np.float64, need_dx=False)
    dout = rng.normal(size=full.forward(x).shape)
    part.forward(x)
    assert full.backward(dout) is not None and part.backward(dout) is None
    for name in ("W", "b"):
        np.testing.assert_allclose(part.grads[name], full.grads[name], rtol=1e-12)


def test_lenet99_uses_fft_for_its_second_convolution_and_computes_the_same_scores():
    net, rng = lenet99(), np.random.default_rng(4)
    assert [type(layer) for layer in net.layers if isinstance(layer, Conv2D)] == \
        [Conv2D, FFTConv2D]
    reference = lenet(channels=(16, 32), kernel=5, hidden=128)       # im2col throughout
    for mine, theirs in zip(net.named_params().values(), reference.named_params().values()):
        assert np.array_equal(mine, theirs)                         # the same initial weights
    x = rng.uniform(-0.5, 0.5, size=(16, 1, 28, 28)).astype(np.float32)
    scores, ref = net.forward(x), reference.forward(x)
    assert np.abs(scores - ref).max() < 1e-5 * np.abs(ref).max()
    dout = rng.normal(size=scores.shape).astype(np.float32)
    net.backward(dout)
    reference.backward(dout)
    for mine, theirs in zip(net.layers, reference.layers):
        for name, g in getattr(mine, "grads", {}).items():
            assert np.abs(g - theirs.grads[name]).max() < 1e-4 * np.abs(theirs.grads[name]).max()


def test_fft_refuses_a_stride_other_than_one():
    x, w = np.zeros((1, 1, 6, 6)), np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError, match="stride 1.*Use Conv2D"):
        conv2d_fft(x, w, np.zeros(1), stride=2)
    with pytest.raises(ValueError, match="FFTConv2D.*stride 1"):
        FFTConv2D(1, 1, 3, stride=2)
    with pytest.raises(ValueError, match="stride 1"):
        conv2d_backward_fft(np.zeros((1, 1, 2, 2)), x, w, stride=2)


# ---------------------------------------------------------------- bad inputs (issue 11)
BUILD = [
    pytest.param(lambda: FFTConv2D(1, 4, 3, stride=2), ValueError,
                 ["FFTConv2D) needs stride 1", "stride=2", "Use Conv2D"], id="fft-stride2"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)


def test_weights_saved_with_either_convolution_load_into_both(tmp_path):
    # FFTConv2D holds Conv2D's weights: lenet99's file (its architecture names FFTConv2D)
    # loads into lenet with the same shapes, and the other way round
    fft_net, plain = lenet99(seed=1), lenet(seed=2, channels=(16, 32), kernel=5, hidden=128)
    fft_net.save(tmp_path / "fft.npz")
    plain.load(tmp_path / "fft.npz")
    for a, b in zip(fft_net.named_params().values(), plain.named_params().values()):
        assert np.array_equal(a, b)
    plain.layers[3].params["W"] += 1
    plain.save(tmp_path / "plain.npz")
    assert "FFTConv2D(16, 32, 5, pad=2)" in fft_net.architecture()
    fft_net.load(tmp_path / "plain.npz")
    assert np.array_equal(fft_net.layers[3].params["W"], plain.layers[3].params["W"])
    other = lenet(channels=(16, 32), kernel=3, hidden=128)     # 3x3: another architecture
    with pytest.raises(ValueError, match="saved architecture"):
        other.load(tmp_path / "fft.npz")
