"""Tests for cnnlib.layers (ReLU, Flatten, Linear, init_weights) and for building
the one-conv teaching network out of the layer classes."""

import numpy as np
import pytest

from cnnlib.conv import Conv2D
from cnnlib.gradcheck import check_layer
from cnnlib.layers import Flatten, Layer, Linear, ReLU, init_weights
from cnnlib.pool import AvgPool2D, MaxPool2D
from bad_input_support import X4, check_raises


# ---------------------------------------------------------------- hand-computed cases

def test_relu_forward_and_backward_by_hand():
    relu = ReLU()
    x = np.array([[-2.0, 0.0, 3.0], [1.5, -0.1, 0.2]])
    np.testing.assert_array_equal(relu.forward(x), [[0, 0, 3], [1.5, 0, 0.2]])
    dx = relu.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    # gradient passes only where x > 0 (at exactly 0 it is blocked)
    np.testing.assert_array_equal(dx, [[0, 0, 3], [4, 0, 6]])
    assert relu.params == {} and relu.grads == {}


def test_flatten_shapes_and_order():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    flat = Flatten()
    out = flat.forward(x)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], np.arange(12, 24))
    back = flat.backward(out * 2)
    assert back.shape == x.shape
    np.testing.assert_array_equal(back, 2 * x)


def test_flatten_backward_gives_the_memory_layout_of_its_input():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(3, 2, 2, 2).transpose(3, 0, 1, 2)
    flat = Flatten()
    out = flat.forward(x)                        # x is (N, C, H, W) seen, (C, H, W, N) stored
    back = flat.backward(out * 2)
    np.testing.assert_array_equal(back, 2 * x)
    assert back.strides == x.strides


def test_relu_backward_of_an_infinite_gradient_is_zero_where_x_is_not_positive():
    relu = ReLU()
    relu.forward(np.array([[-1.0, 0.0, 2.0]]))
    dx = relu.backward(np.array([[np.inf, -np.inf, np.inf]]))
    np.testing.assert_array_equal(dx, [[0.0, 0.0, np.inf]])


def test_linear_forward_and_backward_by_hand():
    lin = Linear(2, 3, dtype=np.float64)
    assert lin.params["W"].shape == (2, 3) and lin.params["b"].shape == (3,)
    lin.params["W"][:] = [[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]
    lin.params["b"][:] = [0.5, 0.0, 0.0]
    x = np.array([[1.0, 2.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(lin.forward(x), [[1.5, 2.0, 0.0], [-0.5, 0.0, -2.0]])
    dout = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    dx = lin.backward(dout)
    np.testing.assert_array_equal(dx, [[1.0, 0.0], [2.0, -1.0]])          # dout @ W.T
    np.testing.assert_array_equal(lin.grads["W"], [[1, 0, -1], [2, 0, 0]])  # x.T @ dout
    np.testing.assert_array_equal(lin.grads["b"], [1.0, 0.0, 1.0])


# ---------------------------------------------------------------- gradient checks

@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4, 5), (1, 1, 3, 7)])
def test_relu_gradcheck(shape):
    x = np.random.default_rng(len(shape)).normal(size=shape)
    x += np.sign(x) * 0.01        # keep every entry well away from the kink at 0
    errors = check_layer(ReLU(), x)
    assert errors["x"] < 1e-6, errors


@pytest.mark.parametrize("shape", [(3, 2, 4, 5), (1, 8, 3, 3)])
def test_flatten_gradcheck(shape):
    errors = check_layer(Flatten(), np.random.default_rng(0).normal(size=shape))
    assert errors["x"] < 1e-6, errors


@pytest.mark.parametrize("n, d_in, d_out, init", [(4, 7, 3, "he"), (1, 5, 10, "glorot"),
                                                  (6, 2, 2, "he")])
def test_linear_gradcheck(n, d_in, d_out, init):
    lin = Linear(d_in, d_out, init=init, seed=n, dtype=np.float64)
    lin.params["b"][:] = np.random.default_rng(1).normal(size=d_out)
    errors = check_layer(lin, np.random.default_rng(2).normal(size=(n, d_in)))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


# ---------------------------------------------------------------- initialisation

def test_he_init_has_the_right_spread():
    w = init_weights((400, 500), fan_in=400, fan_out=500, init="he", seed=0)
    assert w.dtype == np.float32
    assert abs(w.std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400)
    assert abs(w.mean()) < 5 * np.sqrt(2 / 400) / np.sqrt(w.size)   # 5 standard errors


def test_glorot_init_stays_in_its_bounds():
    limit = np.sqrt(6 / (30 + 20))
    w = init_weights((30, 20), 30, 20, init="glorot", seed=0, dtype=np.float64)
    assert w.dtype == np.float64
    assert np.all(np.abs(w) <= limit) and np.abs(w).max() > 0.9 * limit


def test_init_is_seeded_and_checked():
    a = init_weights((5, 5), 5, 5, seed=1)
    np.testing.assert_array_equal(a, init_weights((5, 5), 5, 5, seed=1))
    assert not np.array_equal(a, init_weights((5, 5), 5, 5, seed=2))
    with pytest.raises(ValueError, match="lecun"):
        init_weights((5, 5), 5, 5, init="lecun")
    # "xavier" is Glorot's rule under its other name (notebook 12), a number a standard deviation
    np.testing.assert_array_equal(init_weights((5, 5), 5, 5, init="xavier", seed=3),
                                  init_weights((5, 5), 5, 5, init="glorot", seed=3))
    assert init_weights((400, 500), 400, 500, init=0.01, seed=0).std() == pytest.approx(0.01, rel=0.02)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="standard deviation"):
            init_weights((5, 5), 5, 5, init=bad)


# ---------------------------------------------------------------- the teaching network

@pytest.mark.parametrize("impl", ["fast", "loop"])
def test_one_conv_network_shapes(impl):
    layers = [Conv2D(1, 8, 3, impl=impl), MaxPool2D(2, impl=impl), Flatten(),
              Linear(13 * 13 * 8, 10)]
    x = np.random.default_rng(0).uniform(-0.5, 0.5, size=(1, 1, 28, 28)).astype(np.float32)
    shapes, out = [], x
    for layer in layers:
        out = layer.forward(out)
        shapes.append(out.shape)
        assert out.dtype == np.float32, type(layer).__name__
    assert shapes == [(1, 8, 26, 26), (1, 8, 13, 13), (1, 1352), (1, 10)]
    grad = np.ones_like(out)
    for layer in reversed(layers):
        grad = layer.backward(grad)
        assert grad.dtype == np.float32, type(layer).__name__
    assert grad.shape == x.shape
    assert layers[0].grads["W"].shape == (8, 1, 3, 3)
    assert layers[3].grads["W"].shape == (1352, 10)


def test_float32_defaults():
    assert Linear(3, 2).params["W"].dtype == np.float32
    assert Linear(3, 2).params["b"].dtype == np.float32
    x = np.ones((2, 3), dtype=np.float32)
    lin = Linear(3, 2)
    out = lin.forward(x)
    assert out.dtype == np.float32
    assert lin.backward(np.ones_like(out)).dtype == np.float32
    assert lin.grads["W"].dtype == np.float32
    relu = ReLU()
    assert relu.forward(x).dtype == np.float32
    assert relu.backward(x).dtype == np.float32


def test_every_layer_has_the_contract_members():
    for layer in [Conv2D(1, 2, 3), MaxPool2D(), AvgPool2D(), ReLU(), Flatten(), Linear(2, 2)]:
        assert isinstance(layer, Layer)
        assert isinstance(layer.params, dict) and isinstance(layer.grads, dict)
        assert callable(layer.forward) and callable(layer.backward)


@pytest.mark.parametrize("layer, text", [
    (Conv2D(1, 8, 3), "Conv2D(1, 8, 3)"),
    (Conv2D(1, 8, 3, pad=1), "Conv2D(1, 8, 3, pad=1)"),            # defaults left out
    (Conv2D(4, 16, 5, stride=2, impl="loop", seed=3), "Conv2D(4, 16, 5, stride=2)"),
    (MaxPool2D(), "MaxPool2D(2)"), (MaxPool2D(3, stride=2), "MaxPool2D(3, stride=2)"),
    (AvgPool2D(kernel_size=4, stride=4, impl="loop"), "AvgPool2D(4)"),
    (ReLU(), "ReLU()"), (Flatten(), "Flatten()"), (Linear(3, 2), "Linear(3, 2)"),
])
def test_repr_is_the_call_that_builds_the_layer(layer, text):
    assert repr(layer) == text
    rebuilt = eval(text, {"Conv2D": Conv2D, "MaxPool2D": MaxPool2D, "AvgPool2D": AvgPool2D,
                          "ReLU": ReLU, "Flatten": Flatten, "Linear": Linear})
    assert repr(rebuilt) == text
    assert {k: v.shape for k, v in rebuilt.params.items()} == \
        {k: v.shape for k, v in layer.params.items()}


@pytest.mark.parametrize("layer, in_shape", [
    (Conv2D(3, 4, 3), (2, 3, 9, 8)), (Conv2D(3, 4, 3, stride=2, pad=1), (2, 3, 9, 8)),
    (Conv2D(1, 2, 5, pad=2), (1, 1, 7, 7)), (MaxPool2D(2), (2, 3, 9, 8)),
    (MaxPool2D(3, stride=1), (1, 2, 5, 6)), (AvgPool2D(2, stride=3), (2, 1, 8, 11)),
    (ReLU(), (2, 3, 4, 5)), (Flatten(), (2, 3, 4, 5)), (Linear(6, 3), (4, 6)),
])
def test_output_shape_is_what_forward_returns(layer, in_shape):
    x = np.random.default_rng(0).normal(size=in_shape)
    assert layer.output_shape(in_shape) == layer.forward(x).shape


@pytest.mark.parametrize("layer, in_shape, message", [
    (Conv2D(3, 4, 3), (2, 1, 9, 8), r"Conv2D\(3, 4, 3\) expects input of shape \(N, 3, H, W\)"),
    (Conv2D(1, 4, 5), (2, 1, 4, 8), r"kernel \(5\) is larger than the padded input \(4"),
    (MaxPool2D(3), (2, 1, 2, 8), r"pooling window \(3\) is larger"),
    (MaxPool2D(2), (2, 8), r"\(N, C, H, W\); got shape \(2, 8\)"),
    (Flatten(), (5,), r"at least 2 axes; got shape \(5,\)"),
    (Linear(6, 3), (4, 5), r"Linear\(6, 3\) expects input of shape \(N, 6\); got shape \(4, 5\)"),
])
def test_output_shape_says_when_the_input_does_not_fit(layer, in_shape, message):
    with pytest.raises(ValueError, match=message):
        layer.output_shape(in_shape)


def test_base_layer_output_shape_leaves_the_layer_alone():
    class Double(Layer):                     # a layer without its own output_shape
        def forward(self, x):
            self.x = x
            return np.concatenate([x, x], axis=1)

    layer, x = Double(), np.ones((2, 3))
    layer.forward(x)
    assert layer.output_shape((5, 4)) == (5, 8)
    assert layer.x is x                      # the cache still holds the last real input


def test_layer_call_runs_forward():
    x = np.array([[-1.0, 2.0]])
    np.testing.assert_array_equal(ReLU()(x), [[0.0, 2.0]])


# ---------------------------------------------------------------- bad input

def test_linear_rejects_wrong_width_and_integers():
    lin = Linear(4, 2)
    with pytest.raises(ValueError, match=r"\(any, 4\).*\(3, 5\)"):
        lin.forward(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(any, 4\).*\(4,\)"):
        lin.forward(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="uint8"):
        lin.forward(np.zeros((3, 4), dtype=np.uint8))


def test_relu_rejects_integers():
    with pytest.raises(ValueError, match="int64"):
        ReLU().forward(np.array([[1, -2]], dtype=np.int64))


# ---------------------------------------------------------------- bad inputs (issue 11)
LAYERS = {
    "ReLU": (lambda: ReLU(), X4),
    "Flatten": (lambda: Flatten(), X4),
    "Linear": (lambda: Linear(784, 10), X4.reshape(2, -1)),
    "Conv2D": (lambda: Conv2D(1, 4, 3), X4),
    "Conv2D-loop": (lambda: Conv2D(1, 2, 3, impl="loop"), X4[:1, :, :6, :6]),
    "MaxPool2D": (lambda: MaxPool2D(2), X4),
    "MaxPool2D-loop": (lambda: MaxPool2D(2, impl="loop"), X4[:, :, :6, :6]),
    "AvgPool2D": (lambda: AvgPool2D(2), X4),
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_before_forward_says_run_forward_first(name):
    layer = LAYERS[name][0]()
    check_raises(lambda: layer.backward(np.ones((2, 3))), RuntimeError,
                 "before forward", "run forward(x)")


@pytest.mark.parametrize("name", LAYERS)
def test_dout_of_the_wrong_shape_names_the_expected_shape(name):
    make, x = LAYERS[name]
    layer = make()
    out = layer.forward(x)
    wrong = np.ones(out.shape[:-1] + (out.shape[-1] + 1,), dtype=out.dtype)
    check_raises(lambda: layer.backward(wrong), ValueError, "dout must have the shape",
                 str(out.shape))


@pytest.mark.parametrize("name", LAYERS)
def test_python_lists_are_refused_in_one_sentence(name):
    """The project's one rule (cnnlib/checks.py, tests/test_checks.py): a list has no dtype,
    so forward and backward ask for a NumPy array instead of guessing float64."""
    make, x = LAYERS[name]
    layer = make()
    check_raises(lambda: layer.forward(x.tolist()), TypeError,
                 "must be a NumPy array; got list", "np.asarray(")
    out = layer.forward(x)
    check_raises(lambda: layer.backward(np.ones_like(out).tolist()), TypeError,
                 "dout must be a NumPy array; got list", "np.asarray(dout")


@pytest.mark.parametrize("name", LAYERS)
def test_empty_batch_gives_an_empty_output(name):
    make, x = LAYERS[name]
    layer = make()
    full = make().forward(x)
    out = layer.forward(x[:0])
    assert out.shape == (0,) + full.shape[1:]
    dx = layer.backward(out)
    assert dx is None or dx.shape == x[:0].shape


BUILD = [
    pytest.param(lambda: Linear(0, 10), ValueError, ["in_features", ">= 1"], id="lin0"),
    pytest.param(lambda: Linear(10, -1), ValueError, ["out_features", ">= 1"], id="lin-1"),
    pytest.param(lambda: Linear(10, 10, init="zeros"), ValueError, ["'he', 'glorot'", "'zeros'"],
                 id="init"),
    pytest.param(lambda: Linear(10**6, 10**5), MemoryError, ["GiB", "memory", "(1000000, 100000)"],
                 id="linear-too-big"),
    pytest.param(lambda: Linear(4, 2, dtype=np.int64), ValueError,
                 ["floating-point", "int64", "cannot learn"], id="int-linear"),
    pytest.param(lambda: Linear(4, 2, seed=-1), ValueError, ["seed", ">= 0", "-1"],
                 id="seed-linear"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)


FORWARD = [
    pytest.param(lambda: Linear(784, 10).forward(np.zeros((2, 100), np.float32)), ValueError,
                 ["(any, 784)", "(2, 100)"], id="linear-features"),
    pytest.param(lambda: Flatten().forward(np.zeros(5, np.float32)), ValueError,
                 ["(N, ...)"], id="flatten-1d"),
]


@pytest.mark.parametrize("call, exc, words", FORWARD)
def test_bad_forward_input_says_what_to_do(call, exc, words):
    check_raises(call, exc, *words)


def test_relu_of_minus_infinity_is_zero_and_its_gradient_finite():
    relu = ReLU()
    x = np.array([[-np.inf, -1.0, 0.0, 2.0, np.inf]])
    np.testing.assert_array_equal(relu.forward(x), [[0, 0, 0, 2, np.inf]])
    dx = relu.backward(np.array([[np.inf, 1.0, 1.0, 1.0, 1.0]]))
    np.testing.assert_array_equal(dx, [[0, 0, 0, 1, 1]])
