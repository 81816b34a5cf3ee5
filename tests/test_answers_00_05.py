"""Every experiment a model answer of notebooks 00-05 reports is re-run here.

Each test reads the numbers it checks from the answer itself (homework/answers/NN.md), so
an answer whose number no longer matches what the code does makes its test fail: change
"0.057" to "0.058" in 02.md and test_02_6 fails. Small and seeded: the bundled sample,
seed 0, a second or so per test.
"""

import re

import numpy as np
import pytest

from cnnlib.architectures import one_conv_net
from cnnlib.conv import Conv2D, conv2d_fast, conv2d_loop
from cnnlib.data import load_mnist, standardize, to_float
from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.homework.written import load_answers
from cnnlib.layers import Flatten, Layer, Linear, ReLU
from cnnlib.losses import log_softmax, softmax, softmax_cross_entropy, softmax_naive
from cnnlib.pool import AvgPool2D, MaxPool2D, avgpool_fast, maxpool_fast, maxpool_loop
from cnnlib.viz.convolution import KERNEL_PRESETS, as_image
from cnnlib.viz.probabilities import tempered_log_probs

NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"
DECIMAL = r"(-?\d+\.\d+)"          # skips the 2 of "2x2" and the 7 of "7s"


def answer(notebook, k):
    return " ".join(load_answers(notebook)[k]["answer"].split())    # one line, single spaces


def after(text, phrase, count=1, pattern=NUMBER):
    """The `count` numbers that follow `phrase` in text (a ValueError if phrase is missing)."""
    start = text.find(phrase)
    if start < 0:
        raise ValueError(f"the answer no longer says {phrase!r}: {text}")
    found = re.findall(pattern, text[start + len(phrase):])[:count]
    values = [float(v.replace(",", "")) for v in found]
    return values[0] if count == 1 else values


def shown(value, text_number):
    """Whether value, rounded as the answer writes text_number, gives text_number."""
    s = f"{text_number:g}" if text_number == int(text_number) else repr(text_number)
    decimals = len(s.split(".")[1]) if "." in s else 0
    return round(value, decimals) == text_number


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


# ---- 00 -------------------------------------------------------------------------------

def test_00_1_mean_ink_per_digit(mnist):
    (x, y), _ = mnist
    ink = [float((x[y == d] / 255).mean()) for d in range(10)]
    text = answer("00", 1)
    eight, one = after(text, "sample", 2)
    zero = after(text, "the 0s use the most,")
    assert shown(ink[8], eight) and shown(ink[1], one) and shown(ink[0], zero)
    assert int(np.argmax(ink)) == 0                       # "the 0s use the most"
    assert abs(ink[4] - ink[7]) < 0.01                    # "a 4 and a 7 use similar amounts"
    assert 1.8 < ink[8] / ink[1] < 2.2                    # "about twice"


def test_00_3_test_set_standardised_with_training_constants(mnist):
    _, (x_test, _) = mnist
    mean, std = after(answer("00", 3), "test images", 2)
    z = standardize(x_test)
    assert shown(float(z.mean()), mean) and shown(float(z.std()), std)


def test_00_4_bounding_boxes(mnist):
    (x, _), _ = mnist
    rows, cols = (x > 0).any(axis=2), (x > 0).any(axis=1)
    top, bottom = rows.argmax(1), 27 - rows[:, ::-1].argmax(1)
    left, right = cols.argmax(1), 27 - cols[:, ::-1].argmax(1)
    height, width = bottom - top + 1, right - left + 1
    text = answer("00", 4)
    assert after(text, "the boxes are", 2) == list(np.percentile(height, [5, 95]))
    assert after(text, "tall and", 2) == list(np.percentile(width, [5, 95]))
    assert after(text, "median") == np.median(width)
    assert after(text, "starting", 2) == list(np.percentile(top, [5, 95]))


# ---- 01 -------------------------------------------------------------------------------

X4 = np.array([[3, 1, 0, 2], [1, 4, 2, 0], [0, 2, 5, 1], [2, 0, 1, 3]], float)
W3 = np.array([[1, 0, -1], [2, 1, 0], [0, -1, 1]], float)


def test_01_1_hand_convolution_with_and_without_padding():
    entry = load_answers("01")[1]
    text = answer("01", 1)
    out = conv2d_loop(X4[None, None], W3[None, None], np.zeros(1))[0, 0]
    assert [after(text, "$\\text{out}[1,0] ="), after(text, "$\\text{out}[1,1] =")] == list(out[1])
    padded = conv2d_loop(X4[None, None], W3[None, None], np.zeros(1), pad=1)[0, 0]
    assert padded.tolist() == entry["check"]
    assert np.array_equal(padded[1:3, 1:3], out)          # "its centre 2x2 block is the unpadded output"


def test_01_3_anti_diagonal_kernel_prefers_sevens(mnist):
    _, (x_test, y_test) = mnist
    kernel = np.array([[-1, -1, 2], [-1, 2, -1], [2, -1, -1]], float)
    assert kernel.sum() == 0
    sevens, ones = after(answer("01", 3), "the mean of its positive responses is", 2, DECIMAL)
    for digit, stated in [(7, sevens), (1, ones)]:
        images = as_image(x_test[np.flatnonzero(y_test == digit)[:20]])[:, None]
        response = conv2d_fast(images, kernel[None, None], np.zeros(1))
        assert shown(float(np.maximum(response, 0).mean()), stated), (digit, stated)


def test_01_6_sobel_turned_by_180_degrees_is_its_negative():
    sobel = KERNEL_PRESETS["Sobel x"]
    assert np.array_equal(np.rot90(sobel, 2), -sobel)
    x = np.random.default_rng(0).normal(size=(1, 1, 6, 7))
    true_conv = conv2d_loop(x, sobel[::-1, ::-1][None, None].copy(), np.zeros(1))
    assert np.allclose(true_conv, -conv2d_loop(x, sobel[None, None], np.zeros(1)))


# ---- 02 -------------------------------------------------------------------------------

def _shifted_edge_maps(x_test, pixels, axis):
    """The notebook's shift experiment: ReLU of the vertical-edge map, original and shifted."""
    x = as_image(x_test[:100])[:, None]
    moved = np.zeros_like(x)
    if axis == "horizontal":
        moved[..., pixels:] = x[..., :-pixels]
    else:
        moved[..., pixels:, :] = x[..., :-pixels, :]
    kernel = KERNEL_PRESETS["vertical edge"][None, None]
    relu_map = lambda images: np.maximum(conv2d_fast(images, kernel, np.zeros(1)), 0)
    return relu_map(x), relu_map(moved)


def _change(a, b, pool=None, size=None, stride=None):
    if pool is not None:
        a, b = pool(a, size, stride), pool(b, size, stride)
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def test_02_1_pool_size_3_stride_1():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 1], [0, 1, 5, 2], [2, 2, 3, 4]], float)[None, None]
    assert maxpool_loop(x, kernel_size=3, stride=1)[0, 0].tolist() == load_answers("02")[1]["check"]


def test_02_2_two_pixel_shifts(mnist):
    _, (x_test, _) = mnist
    text = answer("02", 2)
    none, max2, max3, max4 = after(text, "a horizontal shift of 2 pixels gives", 4, DECIMAL)
    a, b = _shifted_edge_maps(x_test, 2, "horizontal")
    assert shown(_change(a, b), none)
    assert shown(_change(a, b, maxpool_fast, 2, 2), max2)
    assert shown(_change(a, b, maxpool_fast, 3, 2), max3)
    assert shown(_change(a, b, maxpool_fast, 4, 4), max4)
    a1, b1 = _shifted_edge_maps(x_test, 1, "horizontal")
    assert _change(a, b, maxpool_fast, 2, 2) > _change(a1, b1, maxpool_fast, 2, 2)   # 2 px > 1 px
    vertical_none, vertical_max4 = after(text, "(2 pixels:", 2, DECIMAL)
    av, bv = _shifted_edge_maps(x_test, 2, "vertical")
    assert shown(_change(av, bv), vertical_none) and shown(_change(av, bv, maxpool_fast, 4, 4), vertical_max4)
    assert _change(av, bv) < _change(a, b)                 # a vertical shift changes less


def test_02_3_max_against_average_pooling(mnist):
    _, (x_test, _) = mnist
    text = answer("02", 3)
    a, b = _shifted_edge_maps(x_test, 1, "horizontal")
    max2, avg2 = after(text, "relative change", 2)
    max3, avg3 = after(text, "2x2 windows,", 2, DECIMAL)
    both4 = after(text, "the two are equal (")
    assert shown(_change(a, b, maxpool_fast, 2, 2), max2) and shown(_change(a, b, avgpool_fast, 2, 2), avg2)
    assert shown(_change(a, b, maxpool_fast, 3, 2), max3) and shown(_change(a, b, avgpool_fast, 3, 2), avg3)
    assert shown(_change(a, b, maxpool_fast, 4, 4), both4) and shown(_change(a, b, avgpool_fast, 4, 4), both4)


def test_02_4_relu_counts_and_the_average_counterexample():
    text = answer("02", 4)
    relu_first = after(text, "ReLU first: 8 x 26 x 26 =")
    pool_first = after(text, "pooling first: 8 x 13 x 13 =")
    maps = np.random.default_rng(0).normal(size=(1, 8, 26, 26))
    assert relu_first == maps.size and pool_first == maxpool_fast(maps, 2, 2).size
    relu = lambda t: np.maximum(t, 0)
    assert np.array_equal(maxpool_fast(relu(maps), 2, 2), relu(maxpool_fast(maps, 2, 2)))
    window = np.array([-1.0, 1, 0, 0]).reshape(1, 1, 2, 2)
    assert relu(avgpool_fast(window, 2, 2)).item() == 0 and avgpool_fast(relu(window), 2, 2).item() == 0.25


def test_02_6_global_average_pooling_measures_only_the_ink(mnist):
    _, (x_test, y_test) = mnist
    text = answer("02", 6)
    one_ink, eight_ink = after(text, "the ink per map pixel,", 2, DECIMAL)
    random_sum = after(text, "The seeded random kernel sums to")
    random_one, random_eight = after(text, "and gives", 2, DECIMAL)
    bank = np.stack(list(KERNEL_PRESETS.values()))[:, None]
    sums = dict(zip(KERNEL_PRESETS, bank.sum(axis=(1, 2, 3))))
    assert shown(sums["random (seeded)"], random_sum)
    for digit, ink, rand in [(1, one_ink, random_one), (8, eight_ink, random_eight)]:
        image = as_image(x_test[int(np.argmax(y_test == digit))])          # the first test 1 / 8
        assert not (image[[0, -1]].any() or image[:, [0, -1]].any())       # clear of the border
        gap = dict(zip(KERNEL_PRESETS, conv2d_fast(image[None, None], bank, np.zeros(8))[0].mean(axis=(1, 2))))
        for name in ("vertical edge", "horizontal edge", "Sobel x", "Sobel y"):
            assert sums[name] == 0 and abs(gap[name]) < 1e-12              # exactly 0
        for name in ("identity", "blur", "sharpen"):
            assert sums[name] == pytest.approx(1) and shown(gap[name], ink)
        assert shown(gap["random (seeded)"], rand)
        for name in KERNEL_PRESETS:                                        # (kernel sum) x (mean ink)
            assert gap[name] == pytest.approx(sums[name] * image.sum() / 26 ** 2, abs=1e-12)


# ---- 03 -------------------------------------------------------------------------------

def test_03_numeric_answers_recomputed():
    answers = load_answers("03")
    loss, _ = softmax_cross_entropy(np.full((1, 4), 5.0), np.array([2]))
    assert round(float(loss), 6) == answers[1]["check"]
    z = np.array([2.0, 1.0, 0.0])
    rise = answers[3]["check"]
    assert round(float(np.log(np.exp(2) + np.exp(1))), 3) == rise
    assert softmax(z + [0, 0, np.log(np.exp(2) + np.exp(1))])[2] == pytest.approx(0.5)
    # 4: bisection for the smallest float32 score whose naive softmax is nan
    lo, hi = 80.0, 100.0
    with np.errstate(all="ignore"):
        for _ in range(60):
            mid = (lo + hi) / 2
            nan = np.isnan(softmax_naive(np.array([mid, 0.0], dtype=np.float32))).any()
            lo, hi = (lo, mid) if nan else (mid, hi)
    assert round(hi, 2) == answers[4]["check"] and shown(hi, after(answer("03", 4), "is about"))
    # 7: bisection on T for p_0 = 1/2
    lo, hi = 0.1, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.exp(tempered_log_probs(z, mid)[0]) > 0.5 else (lo, mid)
    assert round(lo, 3) == answers[7]["check"]


def test_03_5_and_6_zero_probabilities_and_the_one_line_test():
    text = answer("03", 5)
    z, label = np.array([1000.0, 0.0]), 1
    with np.errstate(divide="ignore"):
        assert np.isinf(-np.log(softmax(z)[label]))
    assert -log_softmax(z)[label] == after(text, "from `log_softmax`, is")
    assert np.all(np.isfinite(softmax(np.array([1000.0, 0.0]))))          # passes for cnnlib
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(softmax_naive(np.array([1000.0, 0.0]))))   # catches the bug


# ---- 04 -------------------------------------------------------------------------------

def _scores(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def test_04_1_and_2_parameter_counts():
    answers = load_answers("04")
    net1 = [Conv2D(1, 16, 5), MaxPool2D(2), Flatten(), Linear(12 * 12 * 16, 10)]
    net2 = [Conv2D(1, 8, 3, pad=1), MaxPool2D(2), Flatten(), Linear(14 * 14 * 8, 10)]
    count = lambda layers: sum(a.size for layer in layers for a in layer.params.values())
    assert _scores(net1, np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 10)
    assert _scores(net2, np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 10)
    assert count(net1) == answers[1]["check"]
    assert sum(a.size for a in net2[3].params.values()) == answers[2]["check"]


def test_04_3_to_5_untrained_network(mnist):
    _, (x_test, y_test) = mnist
    x = to_float(x_test)[:, None]
    net = one_conv_net(seed=0)
    scores = _scores(net.layers, x)
    accuracy = float(np.mean(scores.argmax(1) == y_test))
    max_acc, avg_acc = after(answer("04", 3), "test digits:", 2)
    avg_net = [net.layers[0], AvgPool2D(2), net.layers[2], net.layers[3]]
    assert shown(100 * accuracy, max_acc)
    assert shown(100 * float(np.mean(_scores(avg_net, x).argmax(1) == y_test)), avg_acc)

    text = answer("04", 4)
    stated = after(text, "the loss is", 4)
    stated_acc = after(text, "the accuracy stays")
    assert not net.layers[3].params["b"].any()            # "the dense layer's bias starts at 0"
    w = net.layers[3].params["W"].copy()
    for c, loss_text in zip([1, 10, 100, 1000], stated):
        net.layers[3].params["W"][...] = c * w
        s = _scores(net.layers, x)
        loss, _ = softmax_cross_entropy(s, y_test)
        assert shown(float(loss), loss_text), (c, float(loss), loss_text)
        assert shown(100 * float(np.mean(s.argmax(1) == y_test)), stated_acc)
    net.layers[3].params["W"][...] = w

    text = answer("04", 5)
    predicted = np.bincount(scores.argmax(1), minlength=10)
    favourite = int(predicted.argmax())
    assert favourite == 0 and predicted[0] == after(text, "answers 0 for")
    right = float(np.mean(scores.argmax(1)[y_test == 0] == 0))
    assert shown(100 * right, after(text, "it is right")) and right > 0.3


def test_04_6_memory_of_the_intermediate_outputs():
    text = answer("04", 6)
    net = one_conv_net(seed=0)
    outs, x = [], np.zeros((1, 1, 28, 28), np.float32)
    for layer in net.layers:
        x = layer.forward(x)
        outs.append(x)
    new = [o for o in outs if not isinstance(o.base, np.ndarray) or o.base is None or
           not any(np.shares_memory(o, p) for p in outs if p is not o)]
    numbers = sum(o.size for o in outs) - outs[2].size      # the flattened output is a view
    assert np.shares_memory(outs[2], outs[1]) and len(new) == 3
    assert numbers == after(text, "about")
    assert round(numbers * 4 / 1000) == after(text, "new numbers,")
    assert round(sum(o.size for o in outs) * 4 / 1000) in (32, 33)   # "32 kB counting the copy"
    assert round(numbers * 4 * 1000 / 1e6) == after(text, "for 1,000 digits about")


# ---- 05 -------------------------------------------------------------------------------

def test_05_1_jacobian_rows_sum_to_zero():
    p = softmax(np.array([2.0, 1.0, 0.0]))
    jacobian = np.diag(p) - np.outer(p, p)
    assert np.allclose(jacobian @ np.ones(3), 0) and np.allclose(jacobian.sum(axis=0), 0)


def test_05_2_label_smoothing_gradient():
    assert "below $10^{-9}$" in answer("05", 2)
    bound = 1e-9
    rng = np.random.default_rng(0)
    z, labels, eps = rng.normal(size=(5, 10)), rng.integers(0, 10, 5), 0.1
    target = (1 - eps) * np.eye(10)[labels] + eps / 10
    loss = lambda: float(-(target * log_softmax(z)).sum() / len(z))
    assert rel_error((softmax(z) - target) / len(z), numerical_gradient(loss, z)) < bound


def test_05_4_transposed_weight_gradient_is_caught():
    stated = after(answer("05", 4), "of order 1 (")
    layer = Linear(4, 4, seed=0, dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(3, 4))
    g = np.random.default_rng(2).normal(size=(3, 4))
    numeric = numerical_gradient(lambda: float((layer.forward(x) * g).sum()), layer.params["W"])
    assert rel_error(x.T @ g, numeric) < 1e-7
    assert shown(rel_error(g.T @ x, numeric), stated)


def test_05_5_the_u_shape_bottoms_out_near_1e_5():
    assert "$h = 10^{-5}$" in answer("05", 5)
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=(5, 10)), rng.integers(0, 10, size=5)
    _, analytic = softmax_cross_entropy(scores, labels)
    steps = [1e-1, 1e-3, 1e-5, 1e-7, 1e-9]
    errors = [rel_error(analytic, numerical_gradient(
        lambda: softmax_cross_entropy(scores, labels)[0], scores, h=h)) for h in steps]
    assert steps[int(np.argmin(errors))] == 1e-5
    assert errors[0] > errors[1] > errors[2] < errors[3] < errors[4]


class _LeakyReLU(Layer):
    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, 0.01 * x)

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, 0.01)


def test_05_6_and_7_leaky_relu_check_and_the_kink():
    assert "below $10^{-9}$" in answer("05", 6)
    x = np.random.default_rng(5).normal(size=(2, 3, 5, 5))
    assert check_layer(_LeakyReLU(), x)["x"] < 1e-9
    first, second = Linear(6, 5, seed=3, dtype=np.float64), Linear(5, 4, seed=4, dtype=np.float64)
    a, b = np.random.default_rng(3).normal(size=(2, 3, 6))
    f = lambda t: second.forward(_LeakyReLU().forward(first.forward(t)))
    assert not np.allclose(f(a) + f(b), f(a + b) + f(np.zeros_like(a)))   # still not affine
    text = answer("05", 7)
    assert "$x = 10^{-7}$ with $h = 10^{-5}$" in text
    near = np.array([[1e-7]])
    slope = numerical_gradient(lambda: float(np.maximum(near, 0).sum()), near, h=1e-5)
    assert slope.item() == pytest.approx(0.5, abs=0.01)
    assert check_layer(ReLU(), near)["x"] > 0.1
