"""Tests for cnnlib.gradcheck: the checker must be accurate on known functions, and
it must catch a broken backward pass (a checker that always passes proves nothing)."""

import numpy as np
import pytest

from cnnlib.conv import Conv2D
from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.layers import Linear


# ---------------------------------------------------------------- numerical_gradient

def test_numerical_gradient_of_cubes():
    x = np.random.default_rng(0).normal(size=(3, 4))
    grad = numerical_gradient(lambda: np.sum(x ** 3), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    # central difference error is h^2 * f'''/6 = 1e-10 per entry for f = x^3
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=0, atol=1e-8)
    assert rel_error(grad, 3 * x ** 2) < 1e-9


def test_numerical_gradient_of_a_matrix_function():
    rng = np.random.default_rng(1)
    a, x = rng.normal(size=(4, 3)), rng.normal(size=3)
    # f(x) = ||A x||^2 / 2  ->  grad = A.T A x
    grad = numerical_gradient(lambda: 0.5 * np.sum((a @ x) ** 2), x)
    np.testing.assert_allclose(grad, a.T @ a @ x, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_restores_x():
    x = np.random.default_rng(2).normal(size=(2, 5))
    before = x.copy()
    numerical_gradient(lambda: np.sum(np.sin(x)), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_refuses_an_array_it_cannot_nudge_in_place():
    x = np.zeros((4, 3)).T           # flattening a transpose needs a copy
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, x)


def test_numerical_gradient_through_a_strided_view():
    base = np.random.default_rng(4).normal(size=(4, 6))
    x = base[:, ::2]                 # flattens to a view, so nudging reaches base
    grad = numerical_gradient(lambda: np.sum(base[:, ::2] ** 2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)


# ---------------------------------------------------------------- rel_error

def test_rel_error_values():
    a = np.random.default_rng(3).normal(size=(3, 3))
    assert rel_error(a, a.copy()) == 0.0
    assert rel_error(np.zeros(4), np.zeros(4)) == 0.0
    assert rel_error(a, a + 1e-3) > 0
    # ||[1,0] - [0,1]|| / (1 + 1) = sqrt(2) / 2
    assert rel_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2, rel=1e-12)
    assert rel_error(a, -a) == pytest.approx(1.0, rel=1e-12)
    assert rel_error(a, 2 * a) == pytest.approx(1 / 3, rel=1e-12)
    assert rel_error(a, 2 * a) == rel_error(2 * a, a)


def test_rel_error_rejects_different_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        rel_error(np.zeros(3), np.zeros(4))


# ---------------------------------------------------------------- check_layer

def test_check_layer_refuses_float32_parameters():
    layer = Linear(3, 2)                                   # float32 by default
    with pytest.raises(ValueError, match="float64.*W is float32"):
        check_layer(layer, np.zeros((2, 3)))


def test_check_layer_refuses_float32_input():
    layer = Linear(3, 2, dtype=np.float64)
    with pytest.raises(ValueError, match="x is float32"):
        check_layer(layer, np.zeros((2, 3), dtype=np.float32))


def test_check_layer_passes_a_correct_layer():
    layer = Linear(4, 3, dtype=np.float64)
    errors = check_layer(layer, np.random.default_rng(0).normal(size=(5, 4)))
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-8


class LinearWrongDx(Linear):
    """dx uses W instead of W.T on a square layer: right shape, wrong values."""

    def backward(self, dout):
        super().backward(dout)
        return dout @ self.params["W"]


class LinearWrongDW(Linear):
    """Reports half the true dW (e.g. a stray factor from a mean)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"] * 0.5
        return dx


class LinearMeanBias(Linear):
    """Averages db over the batch instead of summing it."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=0)
        return dx


@pytest.mark.parametrize("cls, broken", [(LinearWrongDx, "x"), (LinearWrongDW, "W"),
                                         (LinearMeanBias, "b")])
def test_check_layer_detects_a_broken_backward(cls, broken):
    layer = cls(4, 4, seed=1, dtype=np.float64)
    errors = check_layer(layer, np.random.default_rng(0).normal(size=(3, 4)))
    assert errors[broken] > 1e-2, errors
    for name, err in errors.items():       # and it blames only the broken gradient
        if name != broken:
            assert err < 1e-6, errors


def test_check_layer_detects_conv_backward_with_flipped_sign():
    class BadConv(Conv2D):
        def backward(self, dout):
            return -super().backward(dout)

    layer = BadConv(2, 2, 3, pad=1, dtype=np.float64)
    errors = check_layer(layer, np.random.default_rng(0).normal(size=(1, 2, 4, 4)))
    assert errors["x"] > 0.5 and errors["W"] < 1e-6


def test_check_layer_is_deterministic_given_seed():
    layer = Linear(3, 2, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(2, 3))
    assert check_layer(layer, x, seed=4) == check_layer(layer, x, seed=4)
