"""Tests for cnnlib.dropout: inverted dropout keeps the expected value, drops about p of the
numbers, uses the same mask backward, passes everything in inference mode, repeats from its
seed, and refuses a bad p."""
import numpy as np
import pytest

from cnnlib.dropout import Dropout
from cnnlib.gradcheck import check_layer


def test_kept_numbers_are_scaled_and_dropped_ones_are_zero():
    d = Dropout(0.25)
    x = np.ones((100, 100))
    out = d.forward(x)
    assert set(np.unique(out)) <= {0.0, 1 / 0.75}
    dropped = np.mean(out == 0)
    # 10,000 draws with p = 0.25: the standard deviation of the fraction is 0.0043
    assert abs(dropped - 0.25) < 0.02
    assert abs(out.mean() - 1) < 0.03        # inverted: the expected value is kept


def test_backward_uses_the_forward_mask():
    d = Dropout(0.5)
    x = np.random.default_rng(0).normal(size=(4, 6))
    out = d.forward(x)
    g = np.random.default_rng(1).normal(size=x.shape)
    dx = d.backward(g)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], 2 * g[out != 0])


class FixedMask(Dropout):
    """Dropout whose every forward draws the first mask again: a numerical gradient nudges x
    and runs forward many times, and needs the function it differentiates to stay put."""

    def forward(self, x):
        self.buffers["step"][...] = 0
        return super().forward(x)


@pytest.mark.parametrize("training", [True, False])
def test_gradient_check_float64(training):
    d = FixedMask(0.3)
    d.training = training
    errors = check_layer(d, np.random.default_rng(2).normal(size=(5, 7)))
    assert errors["x"] < 1e-8, errors


def test_a_new_mask_for_every_batch_and_repeatable_from_the_seed():
    x = np.ones((8, 8))
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    first, second = a.forward(x), a.forward(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(b.forward(x), first)
    np.testing.assert_array_equal(b.forward(x), second)
    assert int(a.buffers["step"]) == 2


def test_inference_passes_everything_and_counts_nothing():
    d = Dropout(0.5)
    d.training = False
    x = np.random.default_rng(4).normal(size=(3, 5))
    assert d.forward(x) is x
    g = np.ones_like(x)
    assert d.backward(g) is g
    assert int(d.buffers["step"]) == 0


def test_p_zero_changes_nothing():
    x = np.random.default_rng(5).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_array_equal(Dropout(0.0).forward(x), x)


def test_float32_stays_float32():
    out = Dropout(0.5).forward(np.ones((4, 4), np.float32))
    assert out.dtype == np.float32


@pytest.mark.parametrize("p", [1.0, -0.1, float("nan"), "0.5"])
def test_bad_p_is_refused(p):
    with pytest.raises(ValueError, match="probability of dropping"):
        Dropout(p)


def test_bad_input_and_backward_before_forward():
    with pytest.raises(ValueError, match="floating-point"):
        Dropout(0.5).forward(np.ones((2, 2), dtype=np.int64))
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout(0.5).backward(np.ones((2, 2)))


def test_repr_leaves_the_seed_out():
    """The seed draws the masks but is no part of the weights, so a file saved from a net
    built with one seed loads into the same net built with another."""
    assert repr(Dropout(0.3, seed=7)) == "Dropout(0.3)"
