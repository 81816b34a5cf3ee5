"""Tests for cnnlib.optim: single steps worked out by hand, Adam's bias correction,
weight decay, and convergence on a simple quadratic bowl."""

import numpy as np
import pytest

from cnnlib.optim import SGD, Adam, Momentum
from cnnlib.layers import Flatten, Linear
from cnnlib.model import Sequential
from bad_input_support import check_raises


class FakeNet:
    """Stands in for Sequential: named_params / named_grads over plain dicts."""

    def __init__(self, **params):
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.grads = {}

    def named_params(self):
        return self.params

    def named_grads(self):
        return self.grads


def test_sgd_one_step_by_hand():
    net = FakeNet(**{"0.W": [1.0, 2.0]})
    net.grads = {"0.W": np.array([0.5, -1.0])}
    SGD(net, lr=0.1).step()
    np.testing.assert_allclose(net.params["0.W"], [0.95, 2.1])   # 1 - 0.1*0.5, 2 + 0.1*1


def test_momentum_two_steps_by_hand():
    net = FakeNet(**{"0.W": [1.0, 2.0]})
    net.grads = {"0.W": np.array([0.5, -1.0])}
    opt = Momentum(net, lr=0.1, momentum=0.9)
    opt.step()       # v = -0.1 * g = [-0.05, 0.1]
    np.testing.assert_allclose(net.params["0.W"], [0.95, 2.1])
    opt.step()       # v = 0.9 * [-0.05, 0.1] - 0.1 * g = [-0.095, 0.19]
    np.testing.assert_allclose(net.params["0.W"], [0.855, 2.29])


def test_adam_first_step_is_lr_times_sign():
    # With bias correction m_hat = g and v_hat = g^2 after one step, so the step is
    # lr * g / |g|. Without it the step would be lr * 0.1 g / sqrt(0.001 g^2) ~ 3.16 lr.
    net = FakeNet(**{"0.W": [1.0, 2.0, 3.0]})
    net.grads = {"0.W": np.array([1e-3, -50.0, 2.0])}
    opt = Adam(net, lr=0.01)
    opt.step()
    np.testing.assert_allclose(net.params["0.W"], [0.99, 2.01, 2.99], atol=1e-7)
    assert opt.t == 1


def test_adam_bias_correction_with_constant_gradient():
    # A constant gradient g gives m_hat = g and v_hat = g^2 at every step t, so every
    # step has size lr exactly (up to eps).
    net = FakeNet(**{"0.W": [0.0]})
    net.grads = {"0.W": np.array([4.0])}
    opt = Adam(net, lr=0.5)
    for t in range(1, 6):
        opt.step()
        assert net.params["0.W"][0] == pytest.approx(-0.5 * t, abs=1e-6)


def test_adam_second_step_by_hand():
    net = FakeNet(**{"0.W": [0.0]})
    # eps must be > 0; 1e-300 vanishes next to sqrt(v_hat) = 2, so the arithmetic stays exact
    opt = Adam(net, lr=1.0, beta1=0.5, beta2=0.75, eps=1e-300)
    net.grads = {"0.W": np.array([2.0])}
    opt.step()                   # moves by -1
    net.grads = {"0.W": np.array([-2.0])}
    opt.step()
    # t=2: m = 0.5*1 + 0.5*(-2) = -0.5 ; m_hat = -0.5 / (1 - 0.25) = -2/3
    #      v = 0.75*1 + 0.25*4 = 1.75 ; v_hat = 1.75 / (1 - 0.5625) = 4 ; step = -(-2/3)/2
    assert net.params["0.W"][0] == pytest.approx(-1 + 1 / 3)


def test_weight_decay_applies_to_weights_only():
    net = FakeNet(**{"0.W": [2.0], "0.b": [2.0]})
    net.grads = {"0.W": np.array([0.0]), "0.b": np.array([0.0])}
    SGD(net, lr=0.1, weight_decay=0.5).step()
    assert net.params["0.W"][0] == pytest.approx(2 - 0.1 * 0.5 * 2)
    assert net.params["0.b"][0] == 2.0


def test_updates_are_in_place_and_keep_dtype():
    net = FakeNet(**{"0.W": [1.0]})
    net.params["0.W"] = net.params["0.W"].astype(np.float32)
    live = net.params["0.W"]
    for opt in (SGD(net, 0.1), Momentum(net, 0.1), Adam(net, 0.1)):
        net.grads = {"0.W": np.array([1.0], np.float32)}
        opt.step()
    assert net.params["0.W"] is live and live.dtype == np.float32


@pytest.mark.parametrize("make_opt", [lambda n: SGD(n, lr=0.05),
                                      lambda n: Momentum(n, lr=0.01, momentum=0.9),
                                      lambda n: Adam(n, lr=0.05)])
def test_minimises_a_quadratic(make_opt):
    # f(p) = 1/2 sum a (p - c)^2, an elongated bowl with its minimum at c.
    a, c = np.array([1.0, 10.0]), np.array([3.0, -2.0])
    net = FakeNet(**{"0.W": [0.0, 0.0]})
    opt = make_opt(net)
    for _ in range(2000):
        net.grads = {"0.W": a * (net.params["0.W"] - c)}
        opt.step()
    np.testing.assert_allclose(net.params["0.W"], c, atol=1e-3)


def test_bad_settings_and_missing_gradients():
    net = FakeNet(**{"0.W": [1.0]})
    with pytest.raises(ValueError, match="lr must be > 0"):
        SGD(net, lr=0)
    with pytest.raises(ValueError, match="weight_decay"):
        Adam(net, weight_decay=-1)
    with pytest.raises(ValueError, match="call net.backward"):
        SGD(net, lr=0.1).step()


# ---------------------------------------------------------------- bad inputs (issue 11)
def small_net(dtype=np.float32):
    return Sequential([Flatten(), Linear(4, 3, dtype=dtype)])


OPTIM = [
    pytest.param(lambda n: SGD(n, 0), ["lr must be > 0", "got 0"], id="lr0"),
    pytest.param(lambda n: SGD(n, -0.1), ["lr must be > 0"], id="lr-neg"),
    pytest.param(lambda n: SGD(n, float("inf")), ["lr must be > 0", "finite", "inf"], id="lr-inf"),
    pytest.param(lambda n: SGD(n, float("nan")), ["lr must be > 0", "nan"], id="lr-nan"),
    pytest.param(lambda n: SGD(n, "0.1"), ["lr must be", "'0.1'"], id="lr-str"),
    pytest.param(lambda n: SGD(n, True), ["lr must be"], id="lr-bool"),
    pytest.param(lambda n: SGD(n, 0.1, weight_decay=-1), ["weight_decay", ">= 0"], id="wd-neg"),
    pytest.param(lambda n: Adam(n, weight_decay=float("nan")), ["weight_decay"], id="wd-nan"),
    pytest.param(lambda n: Momentum(n, 0.1, momentum=1), ["momentum", "< 1"], id="mom1"),
    pytest.param(lambda n: Momentum(n, 0.1, momentum=float("nan")), ["momentum", "nan"],
                 id="mom-nan"),
    pytest.param(lambda n: Momentum(n, 0.1, momentum=-0.1), ["momentum", ">= 0"], id="mom-neg"),
    pytest.param(lambda n: Momentum(n, 0.1, momentum=1.5), ["momentum", "< 1"], id="mom1.5"),
    pytest.param(lambda n: Adam(n, beta1=1), ["beta1", "< 1"], id="beta1=1"),
    pytest.param(lambda n: Adam(n, beta2=1.0), ["beta2", "< 1"], id="beta2=1"),
    pytest.param(lambda n: Adam(n, beta1=-0.1), ["beta1", ">= 0"], id="beta1-neg"),
    pytest.param(lambda n: Adam(n, eps=0), ["eps", "> 0"], id="eps0"),
    pytest.param(lambda n: Adam(n, eps=-1e-8), ["eps", "> 0"], id="eps-neg"),
    pytest.param(lambda n: Adam(n, eps=float("nan")), ["eps"], id="eps-nan"),
    pytest.param(lambda n: Adam(small_net(np.float16)), ["eps=1e-08 is 0", "float16",
                                                          "eps=1e-4", "float32"],
                 id="float16-eps"),
]


@pytest.mark.parametrize("build, words", OPTIM)
def test_bad_optimizer_setting_is_refused_when_built(build, words):
    check_raises(lambda: build(small_net()), ValueError, *words)


def test_optimizer_without_a_network():
    check_raises(lambda: Adam(0.01), TypeError, "network to train", "Adam(net")


def test_float16_adam_with_a_representable_eps_is_accepted():
    opt = Adam(small_net(np.float16), eps=1e-4)
    assert opt.eps == 1e-4
