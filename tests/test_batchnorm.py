"""Tests for cnnlib.batchnorm: the forward pass normalises per feature and per channel, the
backward pass agrees with float64 numerical gradients and with the step-by-step chain rule,
training mode keeps running averages that inference mode uses, and bad input is refused."""
import numpy as np
import pytest

from cnnlib.batchnorm import BatchNorm, batchnorm_backward_steps
from cnnlib.gradcheck import check_layer


def layer(c, seed=0):
    """A float64 BatchNorm with gamma and beta away from 1 and 0, so a slip shows."""
    rng = np.random.default_rng(seed)
    bn = BatchNorm(c, dtype=np.float64)
    bn.params["gamma"][:] = rng.normal(1, 0.5, size=c)
    bn.params["beta"][:] = rng.normal(size=c)
    return bn


SHAPES = [(6, 4), (3, 2, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES)
def test_training_output_has_mean_beta_and_std_gamma_per_feature(shape):
    x = np.random.default_rng(1).normal(3, 2, size=shape)
    bn = layer(shape[1])
    out = bn.forward(x)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    np.testing.assert_allclose(out.mean(axis=axes), bn.params["beta"], atol=1e-12)
    # std of gamma * xhat is |gamma| * sqrt(var / (var + eps)), just under |gamma|
    var = x.var(axis=axes)
    np.testing.assert_allclose(out.std(axis=axes),
                               np.abs(bn.params["gamma"]) * np.sqrt(var / (var + 1e-5)),
                               rtol=1e-10)


def test_hand_example():
    # one feature, x = (1, 3): mu = 2, var = 1, xhat = (-1, 1) / sqrt(1 + 1e-5)
    bn = BatchNorm(1, dtype=np.float64)
    out = bn.forward(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(out[:, 0], np.array([-1, 1]) / np.sqrt(1 + 1e-5))
    # running mean 0.9 * 0 + 0.1 * 2; running var 0.9 * 1 + 0.1 * 2 (unbiased: 2/1 * 1)
    np.testing.assert_allclose(bn.buffers["running_mean"], [0.2])
    np.testing.assert_allclose(bn.buffers["running_var"], [1.1])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_gradient_check_float64(shape, training):
    bn = layer(shape[1])
    x = np.random.default_rng(2).normal(1, 3, size=shape)
    bn.forward(x)                    # running statistics away from their start
    bn.buffers["running_var"][:] = np.random.default_rng(3).uniform(0.5, 2, size=shape[1])
    bn.training = training
    errors = check_layer(bn, x)
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("shape", SHAPES)
def test_compact_backward_equals_the_step_by_step_chain_rule(shape):
    rng = np.random.default_rng(4)
    bn, x, g = layer(shape[1]), rng.normal(size=shape), rng.normal(size=shape)
    bn.forward(x)
    dx = bn.backward(g)
    dx_steps, dgamma, dbeta = batchnorm_backward_steps(g, x, bn.params["gamma"])
    np.testing.assert_allclose(dx, dx_steps, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.grads["gamma"], dgamma, rtol=1e-12)
    np.testing.assert_allclose(bn.grads["beta"], dbeta, rtol=1e-12)


def test_treating_mu_and_var_as_constants_gives_another_gradient():
    """Forgetting that mu and var depend on x (treating them as constants, the inference
    formula) is the classic slip: the check must catch it."""
    bn, x = layer(3), np.random.default_rng(5).normal(size=(8, 3))
    bn.forward(x)
    bn.mode = False                          # backward now uses the constant-statistics form
    g = np.random.default_rng(0).normal(size=x.shape)
    wrong = bn.backward(g)
    bn.forward(x)
    right = bn.backward(g)
    assert np.abs(wrong - right).max() > 0.1


def test_per_channel_statistics_equal_the_flattened_features():
    """(N, C, H, W) per channel is (N*H*W, C) per feature: the same numbers."""
    x = np.random.default_rng(6).normal(size=(2, 3, 4, 4))
    g = np.random.default_rng(7).normal(size=x.shape)
    img, flat = layer(3), layer(3)
    out = img.forward(x)
    as_rows = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    np.testing.assert_allclose(out.transpose(0, 2, 3, 1).reshape(-1, 3), flat.forward(as_rows))
    np.testing.assert_allclose(img.backward(g).transpose(0, 2, 3, 1).reshape(-1, 3),
                               flat.backward(g.transpose(0, 2, 3, 1).reshape(-1, 3)))
    np.testing.assert_allclose(img.buffers["running_var"], flat.buffers["running_var"])


def test_inference_uses_the_running_statistics_and_ignores_the_batch():
    rng = np.random.default_rng(8)
    bn = layer(2)
    for _ in range(200):                    # running averages converge to mean 5, var 4
        bn.forward(rng.normal(5, 2, size=(64, 2)))
    np.testing.assert_allclose(bn.buffers["running_mean"], 5, atol=0.15)
    np.testing.assert_allclose(bn.buffers["running_var"], 4, rtol=0.1)
    bn.training = False
    before = {k: v.copy() for k, v in bn.buffers.items()}
    x = rng.normal(size=(5, 2))
    one_by_one = np.concatenate([bn.forward(x[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(bn.forward(x), one_by_one)   # a digit's score ignores its batch
    expected = (bn.params["gamma"] * (x - before["running_mean"])
                / np.sqrt(before["running_var"] + 1e-5) + bn.params["beta"])
    np.testing.assert_allclose(bn.forward(x), expected)
    for k, v in bn.buffers.items():          # inference changes no running average
        np.testing.assert_array_equal(v, before[k])


def test_training_mode_depends_on_the_batch():
    bn, x = layer(2), np.random.default_rng(9).normal(size=(6, 2))
    assert not np.allclose(bn.forward(x)[:3], bn.forward(x[:3]))


def test_float32_stays_float32():
    bn = BatchNorm(4)
    out = bn.forward(np.random.default_rng(0).normal(size=(8, 4, 3, 3)).astype(np.float32))
    assert out.dtype == np.float32 and bn.buffers["running_var"].dtype == np.float32
    assert bn.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.parametrize("x, words", [
    (np.zeros((4, 3)), ["BatchNorm(2)", "(N, 2)", "(4, 3)"]),
    (np.zeros((4, 2, 5)), ["(N, 2, H, W)", "(4, 2, 5)"]),
    (np.zeros((1, 2)), ["at least 2", "net.eval()"]),
    (np.zeros((4, 2), dtype=np.int64), ["floating-point"]),
])
def test_bad_input_says_what_was_expected(x, words):
    with pytest.raises(ValueError) as info:
        BatchNorm(2).forward(x)
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"num_features": 0}, "num_features"), ({"num_features": 2, "momentum": 1.0}, "momentum"),
    ({"num_features": 2, "eps": 0.0}, "eps"), ({"num_features": 2, "dtype": np.int32}, "dtype"),
])
def test_bad_settings_are_refused(kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words):
        BatchNorm(**kwargs)


def test_backward_before_forward_and_wrong_dout():
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm(2).backward(np.zeros((3, 2)))
    bn = BatchNorm(2)
    bn.forward(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="shape of the last forward output"):
        bn.backward(np.zeros((3, 3), np.float32))


def test_step_by_step_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        batchnorm_backward_steps(np.zeros((3, 2)), np.zeros((3, 2)), np.ones(3))


def test_repr_and_output_shape():
    assert repr(BatchNorm(8)) == "BatchNorm(8)"
    assert repr(BatchNorm(8, momentum=0.5)) == "BatchNorm(8, momentum=0.5)"
    assert BatchNorm(8).output_shape((2, 8, 5, 5)) == (2, 8, 5, 5)
    with pytest.raises(ValueError, match="BatchNorm"):
        BatchNorm(8).output_shape((2, 7))
