"""Tests for cnnlib.residual: out = x + F(x), the skip's gradient is added to the branch's,
parameters and buffers are named through the block, and a branch that changes the shape is
refused."""
import copy

import numpy as np
import pytest

from cnnlib.batchnorm import BatchNorm
from cnnlib.conv import Conv2D
from cnnlib.gradcheck import check_layer
from cnnlib.layers import Linear, ReLU
from cnnlib.model import Sequential
from cnnlib.residual import Residual


def block(dtype=np.float64, bn=True):
    inner = [Conv2D(2, 2, 3, pad=1, seed=1, dtype=dtype)]
    inner += [BatchNorm(2, dtype=dtype)] if bn else []
    return Residual(inner + [ReLU(), Conv2D(2, 2, 3, pad=1, seed=2, dtype=dtype)])


def test_forward_adds_the_input():
    r = block()
    x = np.random.default_rng(0).normal(size=(3, 2, 5, 5))
    branch = x
    for layer in copy.deepcopy(r.inner):
        branch = layer.forward(branch)
    np.testing.assert_allclose(r.forward(x), x + branch)


def test_gradient_check_float64():
    r = block(bn=False)                      # a bias followed by BatchNorm has gradient 0
    errors = check_layer(r, np.random.default_rng(1).normal(size=(3, 2, 5, 5)))
    assert set(errors) == {"x", "0.W", "0.b", "2.W", "2.b"}
    assert max(errors.values()) < 1e-7, errors


def test_gradient_check_with_batchnorm_inside():
    r = block()
    errors = check_layer(r, np.random.default_rng(2).normal(size=(3, 2, 5, 5)))
    errors.pop("0.b")                        # BatchNorm removes any constant: exactly 0
    assert max(errors.values()) < 1e-7, errors
    np.testing.assert_allclose(r.grads["0.b"], 0, atol=1e-10)


def test_forgetting_the_skip_gradient_fails_the_check():
    """The mistake of returning only the branch's gradient is caught by the check."""
    class NoSkip(Residual):
        def backward(self, dout):
            return super().backward(dout) - dout
    errors = check_layer(NoSkip(block(bn=False).inner),
                         np.random.default_rng(3).normal(size=(2, 2, 4, 4)))
    assert errors["x"] > 1e-2


def test_a_zero_branch_is_the_identity_and_passes_the_gradient_unchanged():
    lin = Linear(4, 4, dtype=np.float64)
    lin.params["W"][:] = 0
    r = Residual([lin])
    x = np.random.default_rng(4).normal(size=(3, 4))
    np.testing.assert_array_equal(r.forward(x), x)
    g = np.random.default_rng(5).normal(size=x.shape)
    np.testing.assert_array_equal(r.backward(g), g)


def test_params_grads_and_buffers_are_named_through_the_block():
    net = Sequential([block(np.float32)])
    assert sorted(net.named_params()) == ["0.0.W", "0.0.b", "0.1.beta", "0.1.gamma",
                                          "0.3.W", "0.3.b"]
    assert sorted(net.named_buffers()) == ["0.1.running_mean", "0.1.running_var"]
    # the names lead to the live arrays
    net.named_params()["0.0.W"][...] = 7
    assert (net.layers[0].inner[0].params["W"] == 7).all()
    net.astype(np.float64)
    assert net.layers[0].inner[0].params["W"].dtype == np.float64
    assert net.named_buffers()["0.1.running_var"].dtype == np.float64


def test_training_mode_reaches_the_inner_layers():
    net = Sequential([block()])
    net.eval()
    assert net.layers[0].inner[1].training is False
    net.train()
    assert net.layers[0].inner[1].training is True


def test_a_copy_has_its_own_caches_and_shares_the_weights():
    r = block()
    twin = copy.copy(r)
    assert twin.inner[0] is not r.inner[0]
    assert twin.inner[0].params["W"] is r.inner[0].params["W"]


def test_a_branch_that_changes_the_shape_is_refused():
    r = Residual([Conv2D(2, 3, 3, pad=1)])
    with pytest.raises(ValueError, match="keep"):
        r.forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="keep the shape"):
        r.output_shape((1, 2, 5, 5))


@pytest.mark.parametrize("inner", [[], [lambda x: x], "ReLU()"])
def test_a_branch_must_be_layers(inner):
    with pytest.raises(TypeError, match="non-empty list of layers"):
        Residual(inner)


def test_repr():
    assert repr(Residual([ReLU()])) == "Residual([ReLU()])"
