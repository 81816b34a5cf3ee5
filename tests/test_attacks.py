"""cnnlib.attacks: FGSM and PGD stay in the eps box and the pixel range, the smallest
flipping eps on a linear network where it is known exactly, a targeted attack on the shipped
network, and the random-sign baseline against FGSM."""
from pathlib import Path

import numpy as np
import pytest

from cnnlib.architectures import lenet, lenet99
from cnnlib.attacks import PIXEL_MAX, PIXEL_MIN, fgsm, pgd, sign_noise, smallest_flipping_eps
from cnnlib.data import load_mnist, to_float
from cnnlib.layers import Flatten, Linear
from cnnlib.model import Sequential
from cnnlib.saliency import input_gradient, with_input_gradient

WEIGHTS = Path(__file__).resolve().parent.parent / "resources" / "lenet_mnist.npz"
RNG = np.random.default_rng(0)
# digits with pixels on both ends of the range, where clipping matters
X = RNG.choice(np.array([-0.5, -0.3, 0.0, 0.4, 0.5], np.float32), size=(4, 1, 28, 28))
Y = np.array([0, 1, 2, 3])


@pytest.fixture(scope="module")
def small():
    return with_input_gradient(lenet(seed=0))


@pytest.fixture(scope="module")
def shipped():
    net = lenet99().load(WEIGHTS)
    _, (x, y) = load_mnist()
    return with_input_gradient(net), to_float(x[:, None]), y


def linear_net(w_diff, margin):
    """Two classes, z1 - z0 = w_diff . x - margin: class 0 while w_diff . x < margin."""
    layer = Linear(784, 2, seed=0, dtype=np.float64)
    layer.params["W"][:] = 0
    layer.params["W"][:, 1] = w_diff.ravel()
    layer.params["b"][:] = [margin, 0.0]
    return Sequential([Flatten(), layer])


@pytest.mark.parametrize("eps", [0.0, 0.01, 0.1, 0.3, 1.0])
def test_fgsm_and_pgd_stay_within_eps_and_the_pixel_range(small, eps):
    for adv in (fgsm(small, X, Y, eps), pgd(small, X, Y, eps, steps=4),
                pgd(small, X, Y, eps, steps=3, target=7), sign_noise(X, eps)):
        assert adv.shape == X.shape and adv.dtype == X.dtype
        assert np.abs(adv - X).max() <= eps + 1e-7
        assert adv.min() >= PIXEL_MIN and adv.max() <= PIXEL_MAX


def test_fgsm_is_the_clipped_signed_loss_gradient(small):
    g = input_gradient(small, X, Y, of="loss")
    expected = np.clip(X + 0.1 * np.sign(g), -0.5, 0.5)
    np.testing.assert_array_equal(fgsm(small, X, Y, 0.1), expected)
    # targeted: downhill on the target's loss
    g7 = input_gradient(small, X, 7, of="loss")
    np.testing.assert_array_equal(fgsm(small, X, Y, 0.1, target=7),
                                  np.clip(X - np.float32(0.1) * np.sign(g7), -0.5, 0.5))


def test_one_pgd_step_of_size_eps_is_fgsm(small):
    np.testing.assert_array_equal(pgd(small, X, Y, 0.05, steps=1, step_size=0.05),
                                  fgsm(small, X, Y, 0.05))


def test_fgsm_and_pgd_raise_the_loss_on_average(small):
    def loss(x):
        z = small.forward(x)
        p = np.exp(z - z.max(1, keepdims=True))
        return -np.log(p[np.arange(4), Y] / p.sum(1)).mean()
    assert loss(fgsm(small, X, Y, 0.05)) > loss(X)
    assert loss(pgd(small, X, Y, 0.05, steps=5)) > loss(fgsm(small, X, Y, 0.05))


def test_smallest_eps_is_found_where_it_is_known():
    # x = 0 everywhere (no clipping for eps <= 0.5); FGSM moves each pixel by eps * sign(w_diff)
    # and so raises z1 - z0 by eps * ||w_diff||_1: the prediction flips at margin / ||w_diff||_1
    w_diff = np.random.default_rng(3).normal(size=784)
    margin = 0.2 * np.abs(w_diff).sum()             # known answer: eps* = 0.2
    net = linear_net(w_diff, margin)
    x = np.zeros((1, 1, 28, 28))
    assert net.forward(x).argmax() == 0
    eps = smallest_flipping_eps(net, x, 0, high=0.5, iterations=12)
    assert 0.2 <= eps[0] <= 0.2 + 0.5 / 2**12
    assert net.forward(fgsm(net, x, 0, eps[0])).argmax() == 1     # the eps returned flips it
    # PGD on a linear net does the same in the end; noise of any size below high cannot flip
    # a margin it lowers only by chance: here it must be larger than 0.2 when found at all
    assert 0.2 <= smallest_flipping_eps(net, x, 0, attack="pgd", iterations=8)[0] <= 0.2 + 0.5 / 2**8
    assert smallest_flipping_eps(net, x, 0, attack="noise")[0] > 0.2


def test_smallest_eps_is_zero_for_a_mistake_and_inf_beyond_reach():
    w_diff = np.ones(784)
    net = linear_net(w_diff, 1000.0)                # z0 - z1 = 1000 at x = 0: out of reach
    x = np.zeros((2, 1, 28, 28))
    eps = smallest_flipping_eps(net, x, np.array([1, 0]))       # image 0 is already wrong
    assert eps[0] == 0 and eps[1] == np.inf


def test_a_targeted_attack_turns_a_shipped_network_3_into_an_8(shipped):
    net, x, y = shipped
    first_3 = int(np.flatnonzero((y == 3) & (net.predict(x) == 3))[0])
    digit = x[first_3:first_3 + 1]
    adv = pgd(net, digit, 3, 0.2, steps=20, target=8)
    assert np.abs(adv - digit).max() <= 0.2 + 1e-7
    assert net.predict(adv)[0] == 8
    assert net.predict(fgsm(net, digit, 3, 0.02, target=8))[0] == 3     # too small a step: no


def test_random_signs_of_the_same_size_flip_far_fewer_digits(shipped):
    net, x, y = shipped
    x, y = x[:200], y[:200]
    right = net.predict(x) == y
    flipped_fgsm = ((net.predict(fgsm(net, x, y, 0.15)) != y) & right).sum()
    flipped_noise = ((net.predict(sign_noise(x, 0.15)) != y) & right).sum()
    assert flipped_fgsm >= 20 and flipped_fgsm >= 5 * max(flipped_noise, 1)


@pytest.mark.parametrize("call, message", [
    (lambda n: fgsm(n, X.tolist(), Y, 0.1), "must be a NumPy array; got list"),
    (lambda n: fgsm(n, X * 255, Y, 0.1), r"must hold network inputs in \[-0.5, 0.5\].*to_float"),
    (lambda n: fgsm(n, X, Y, -0.1), "eps must be >= 0"),
    (lambda n: fgsm(n, X, Y, np.array([0.1, 0.2])), r"shape \(4,\), one per image"),
    (lambda n: fgsm(n, X, Y, [0.1] * 4), "eps must be a NumPy array; got list"),
    (lambda n: fgsm(n, X, Y[:3], 0.1), r"labels must be integer labels of shape \(4,\)"),
    (lambda n: fgsm(n, X, Y, 0.1, target=12), r"target must lie in 0\.\.9"),
    (lambda n: pgd(n, X, Y, 0.1, steps=0), "steps must be an integer >= 1"),
    (lambda n: smallest_flipping_eps(n, X, Y, attack="deepfool"), "attack must be 'fgsm'"),
    (lambda n: fgsm(lenet(seed=0), X, Y, 0.1), "need_dx=False"),
])
def test_bad_input_is_refused_with_what_to_do(small, call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call(small)
