"""cnnlib.saliency: input gradients against float64 central differences, the need_dx view,
SmoothGrad, and occlusion on a hand-made network whose answer is known."""
import numpy as np
import pytest

from cnnlib.architectures import lenet, one_conv_net, two_conv_net
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.layers import Flatten, Linear
from cnnlib.losses import softmax, softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.saliency import input_gradient, occlusion, smoothgrad, with_input_gradient

X = np.random.default_rng(1).uniform(-0.5, 0.5, size=(2, 1, 28, 28))


@pytest.mark.parametrize("make", [one_conv_net, two_conv_net, lenet])
@pytest.mark.parametrize("of", ["score", "loss"])
def test_input_gradient_matches_a_float64_numerical_gradient(make, of):
    net = with_input_gradient(make(seed=3, dtype=np.float64))
    x, classes = X.copy(), np.array([3, 8])

    def f():                                    # the sum over images of what is differentiated
        z = net.forward(x)
        if of == "score":
            return float(z[np.arange(2), classes].sum())
        return softmax_cross_entropy(z, classes)[0] * len(x)    # mean -> sum of per-image losses

    analytic = input_gradient(net, x, classes, of=of)
    assert analytic.shape == x.shape
    assert rel_error(analytic, numerical_gradient(f, x)) < 1e-7


def test_a_wrong_sign_would_be_caught():
    net = with_input_gradient(lenet(seed=3, dtype=np.float64))
    x = X[:1].copy()
    num = numerical_gradient(lambda: float(net.forward(x)[0, 5]), x)
    assert rel_error(-input_gradient(net, x, 5), num) > 0.5


def test_the_view_computes_dx_without_changing_the_network():
    net = lenet(seed=0)
    assert net.layers[0].need_dx is False
    view = with_input_gradient(net)
    assert net.layers[0].need_dx is False and view.layers[0].need_dx is True
    x = X.astype(np.float32)
    np.testing.assert_array_equal(view.forward(x), net.forward(x))
    net.layers[0].params["W"] += 1                  # shared weights: a change shows in both
    np.testing.assert_array_equal(view.forward(x), net.forward(x))


def test_a_network_that_skips_dx_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match=r"layer 0 .* need_dx=False.*with_input_gradient\(net\)"):
        input_gradient(lenet(seed=0), X.astype(np.float32), 1)


@pytest.mark.parametrize("bad, message", [
    (X.tolist(), "must be a NumPy array; got list"),
    (X[0], r"must have shape \(N, C, H, W\)"),
    (np.full((1, 1, 28, 28), np.nan), "NaN or infinite"),
])
def test_bad_images_are_refused(bad, message):
    net = with_input_gradient(lenet(seed=0, dtype=np.float64))
    for f in (input_gradient, smoothgrad, occlusion):
        with pytest.raises((TypeError, ValueError), match=message):
            f(net, bad, 1)


def test_bad_classes_and_options_are_refused():
    net = with_input_gradient(lenet(seed=0, dtype=np.float64))
    with pytest.raises(ValueError, match=r"must lie in 0\.\.9"):
        input_gradient(net, X, 10)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        input_gradient(net, X, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="of must be 'score' or 'loss'"):
        input_gradient(net, X, 1, of="probability")
    with pytest.raises(ValueError, match="larger than the images"):
        occlusion(net, X, 1, size=29)


def test_smoothgrad_without_noise_is_the_gradient_and_with_noise_averages():
    net = with_input_gradient(lenet(seed=0, dtype=np.float64))
    np.testing.assert_allclose(smoothgrad(net, X, 4, sigma=0.0, samples=3),
                               input_gradient(net, X, 4), rtol=1e-12, atol=1e-15)
    rng = np.random.default_rng(7)
    by_hand = np.mean([input_gradient(net, X + rng.normal(0, 0.2, X.shape), 4)
                       for _ in range(3)], axis=0)
    np.testing.assert_allclose(smoothgrad(net, X, 4, sigma=0.2, samples=3, seed=7), by_hand)


def test_occlusion_on_a_network_that_reads_one_pixel():
    # class 0's score is 5 * the pixel at row 10, column 13; class 1's is always 0
    linear = Linear(784, 2, seed=0, dtype=np.float64)
    linear.params["W"][:] = 0
    linear.params["b"][:] = 0
    linear.params["W"][10 * 28 + 13, 0] = 5.0
    net = Sequential([Flatten(), linear])
    x = np.full((1, 1, 28, 28), -0.5)
    x[0, 0, 10, 13] = 0.5                           # ink on the pixel: p0 = softmax(2.5, 0)[0]
    drops = occlusion(net, x, 0, size=4, stride=2)
    assert drops.shape == (1, 13, 13)
    # windows at rows 2i .. 2i+3 cover row 10 for i = 4, 5; columns 13 for j = 5, 6
    covered = np.zeros((13, 13), bool)
    covered[4:6, 5:7] = True
    p_ink, p_covered = softmax(np.array([[2.5, 0.0], [-2.5, 0.0]]))[:, 0]
    np.testing.assert_allclose(drops[0][covered], p_ink - p_covered)
    np.testing.assert_array_equal(drops[0][~covered], 0)
