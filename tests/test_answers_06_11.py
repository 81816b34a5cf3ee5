"""The experiments the model answers of notebooks 06-11 report, re-run small and seeded.

Each test reads the numbers it checks from the answer file itself (homework/answers/NN.md),
so a changed number in an answer, or a change in cnnlib that moves the result, fails here.
The settings are the ones the answers name (the bundled sample, seed 0), on one thread: split
across cores, a batch's gradient sums round differently, and the bumpier runs end elsewhere.
The whole file takes about half a minute on one idle core.
"""

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from answers_support import one_thread
from cnnlib.architectures import lenet, one_conv_net, two_conv_net
from cnnlib.conv import Conv2D, conv2d_backward_loop, conv2d_fast, conv2d_loop
from cnnlib.data import load_mnist, to_float
from cnnlib.gradcheck import rel_error
from cnnlib.im2col import windows
from cnnlib.model import Sequential
from cnnlib.optim import SGD, Adam, Momentum
from cnnlib.pool import AvgPool2D
from cnnlib.train import TrainingDiverged, evaluate, fit

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "homework" / "answers"


def answer(number, section):
    """The text of section `section` of homework/answers/<number>.md."""
    text = (ANSWERS / f"{number}.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\d+)\s*$", text, flags=re.M)
    sections = dict(zip(parts[1::2], parts[2::2]))
    return sections[str(section)]


def percents(text):
    """Every 'NN %' / 'NN.N %' of text, as fractions."""
    return [round(float(p) / 100, 6) for p in re.findall(r"(\d+(?:\.\d+)?)\s?%", text)]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture(autouse=True)
def quiet_and_one_thread():
    with one_thread(quiet=True):
        yield


def trains(net, x, y, lr, batch_size, optimizer=SGD, epochs=3, **kw):
    """True if fit runs to the end, False if it stops the run with TrainingDiverged."""
    try:
        fit(net, x, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer(net, lr=lr),
            seed=0, progress=False, **kw)
        return True
    except TrainingDiverged:
        return False


# ---- 06.md section 3: ties with mode="unit" -------------------------------------------

def test_06_3_background_windows_tie_with_either_scaling(mnist):
    (x, _), _ = mnist
    stated = percents(answer("06", 3))
    assert len(stated) == 1, "06.md section 3 should state one tie fraction"
    conv = one_conv_net(seed=0, dtype=np.float64).layers[0]
    fractions = []
    for mode in ("center", "unit"):
        maps = conv2d_fast(to_float(x[:100, None], mode=mode).astype(np.float64),
                           conv.params["W"], conv.params["b"])
        win = windows(maps, 2, 2, 2).reshape(100, 8, 13, 13, 4)
        fractions.append(((win == win.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).mean())
    assert [round(100 * f) for f in fractions] == [round(100 * stated[0])] * 2, fractions


# ---- 07.md section 3: what need_dx=False saves ----------------------------------------

class Tagged(np.ndarray):
    """An array that counts the multiplications it takes part in, by the tags of the operands
    (a plain number or a scalar taken out of an array counts as "g", the upstream gradient)."""

    counts = Counter()

    def __new__(cls, a, tag):
        obj = np.asarray(a, dtype=np.float64).view(cls)
        obj.tag = tag
        return obj

    def __array_finalize__(self, obj):
        self.tag = getattr(obj, "tag", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [i.view(np.ndarray) if isinstance(i, Tagged) else i for i in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Tagged) else o
                                  for o in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        if ufunc is np.multiply and method == "__call__":
            tags = tuple(sorted(getattr(i, "tag", None) or "g" for i in inputs))
            Tagged.counts[tags] += int(np.size(result))
        return result


def test_07_3_skipping_dx_saves_half_the_backward_multiplications():
    text = answer("07", 3)
    forward_stated = int(re.search(r"^check:\s*(\d+)", text, re.M).group(1))
    saved, backward = (int(n.replace(",", "")) for n in
                       re.search(r"([\d,]+) of ([\d,]+)\)", text).groups())
    assert "half of its backward" in text and "a third of forward and backward" in text
    rng = np.random.default_rng(0)
    x, w = Tagged(rng.normal(size=(1, 1, 28, 28)), "x"), Tagged(rng.normal(size=(8, 1, 3, 3)), "w")
    Tagged.counts.clear()
    out = conv2d_loop(x, w, np.zeros(8))
    forward = Tagged.counts[("w", "x")]
    Tagged.counts.clear()
    conv2d_backward_loop(np.ones(out.shape), x, w)
    dw, dx = Tagged.counts[("g", "x")], Tagged.counts[("g", "w")]
    # 26 * 26 output pixels * 8 filters * 9 weights
    assert forward == forward_stated == 26 * 26 * 8 * 9
    assert dw == dx == saved and dw + dx == backward
    assert dx / (dw + dx) == 1 / 2 and dx / (forward + dw + dx) == 1 / 3


# ---- 07.md section 5: `=` instead of `+=` in the conv backward ------------------------

def conv_backward_assign(dout, x, w, stride=1):
    """conv2d_backward_loop's dx with the slip: `=` instead of `+=` (no padding)."""
    dx = np.zeros_like(x)
    kh, kw = w.shape[2:]
    n_img, n_filt, ho, wo = dout.shape
    for n in range(n_img):
        for f in range(n_filt):
            for i in range(ho):
                for j in range(wo):
                    dx[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = \
                        dout[n, f, i, j] * w[f]
    return dx


def assign_error(filters, k, stride, size=6, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(2, 2, size, size)), rng.normal(size=(filters, 2, k, k))
    out = (size - k) // stride + 1
    g = rng.normal(size=(2, filters, out, out))
    return rel_error(conv_backward_assign(g, x, w, stride), conv2d_backward_loop(g, x, w, stride)[0])


def test_07_5_assignment_passes_only_with_one_filter_and_no_overlap():
    text = answer("07", 5)
    assert "single filter" in text and "fails at every stride" in text
    for k, s in ((2, 2), (3, 3), (2, 3)):                  # one filter, no overlap: exact
        assert assign_error(1, k, s) < 1e-12, (k, s)
    for filters in (2, 3):                                  # several filters: fails at every stride
        for k, s in ((2, 1), (2, 2), (2, 3), (3, 3), (3, 1)):
            assert assign_error(filters, k, s) > 0.1, (filters, k, s)
    assert assign_error(1, 3, 1) > 0.1                      # one filter, overlapping windows
    stated = float(re.search(r"relative error of dx on\s+random inputs is about ([\d.]+)", text).group(1))
    assert round(assign_error(3, 2, 2), 1) == stated


# ---- 08.md: Zhou's network on the sample ---------------------------------------------

@pytest.fixture(scope="module")
def zhou(mnist):
    (xa, ya), (xt, yt) = mnist
    return (to_float(xa[:1000, None]), ya[:1000], to_float(xa[1000:2000, None]),
            ya[1000:2000], to_float(xt[:, None]), yt)


def test_08_1_validation_loss_turns_up_while_training_loss_falls(zhou):
    x, y, xv, yv, _, _ = zhou
    text = answer("08", 1)
    best, last, first_train, last_train = (float(v) for v in re.search(
        r"lowest after epoch 4 \(([\d.]+);.*?up to ([\d.]+) by epoch 10.*?from ([\d.]+) in "
        r"epoch 1 to ([\d.]+)", text, re.S).groups())
    net = one_conv_net(seed=0)
    h = fit(net, x, y, epochs=10, batch_size=1, optimizer=SGD(net, lr=0.005), x_val=xv,
            y_val=yv, seed=0, progress=False)
    val, train = np.round(h["val_loss"], 3), np.round(h["loss"], 3)
    assert val.argmin() == 3 and val[3] == val[4] == best
    assert val[-1] == last and train[0] == first_train and train[-1] == last_train
    assert np.all(np.diff(h["loss"]) < 0)


def test_08_2_six_times_the_data(zhou, mnist):
    (xa, ya), _ = mnist
    _, _, _, _, xt, yt = zhou
    small_stated, large_stated = percents(answer("08", 2))
    accs, steps = [], []
    for n in (1000, 6000):
        net = one_conv_net(seed=0)
        h = fit(net, to_float(xa[:n, None]), ya[:n], epochs=3, batch_size=1,
                optimizer=SGD(net, lr=0.005), seed=0, progress=False)
        accs.append(round(evaluate(net, xt, yt)[1], 3))
        steps.append(len(h["batch_loss"]))
    assert accs == [small_stated, large_stated] and steps[1] == 6 * steps[0]


def test_08_3_largest_stable_rate_per_batch_size(zhou):
    x, y = zhou[:2]
    rows = [line for line in answer("08", 3).splitlines() if line.startswith("|")]
    sizes = [int(v) for v in rows[0].strip("|").split("|")[1:]]
    largest = [float(v) for v in rows[2].strip("|").split("|")[1:]]
    explodes = [float(v) for v in rows[3].strip("|").split("|")[1:]]
    grid = [float(v) for v in re.findall(r"(\d\.\d+)(?=[,\s])",
                                         re.search(r"trying ([\d., ]+)", answer("08", 3)).group(1))]
    for bs, ok, bad in zip(sizes, largest, explodes):
        assert grid.index(bad) == grid.index(ok) + 1, (bs, ok, bad)     # neighbours in the grid
        assert trains(one_conv_net(seed=0), x, y, ok, bs), (bs, ok)
        assert not trains(one_conv_net(seed=0), x, y, bad, bs), (bs, bad)


def test_08_4_lenet_needs_a_larger_sgd_step_in_the_dashboard_setting(mnist):
    (xa, ya), _ = mnist
    xs, ys = to_float(xa[:640, None]), ya[:640]                 # the dashboard's x_small
    xv, yv = to_float(xa[1000:1500, None]), ya[1000:1500]      # and its 500 validation digits
    text = answer("08", 4)
    lenet_part, one_part = text.split("while")
    lenet_accs, lenet_lrs = percents(lenet_part), [0.01, 0.05, 0.1, 0.3]
    one_accs, one_lrs = percents(one_part), [0.01, 0.05, 0.1]
    assert re.search(r"at lr 0\.01, 0\.05, 0\.1 and 0\.3", lenet_part)
    assert re.search(r"at 0\.01, 0\.05 and 0\.1 and explodes at 0\.3", one_part)
    for make, lrs, stated in ((lenet, lenet_lrs, lenet_accs), (one_conv_net, one_lrs, one_accs)):
        got = []
        for lr in lrs:
            net = make(seed=0)
            assert trains(net, xs, ys, lr, 32)
            got.append(round(evaluate(net, xv, yv)[1], 2))
        assert got == stated, (make.__name__, got)
    assert not trains(one_conv_net(seed=0), xs, ys, 0.3, 32)


# ---- 10.md: notebook 10's split ------------------------------------------------------

@pytest.fixture(scope="module")
def split10(mnist):
    (xr, yr), (xtr, yt) = mnist
    x_all = to_float(xr[:, None])
    held = np.zeros(len(yr), dtype=bool)
    for digit in range(10):
        held[np.flatnonzero(yr == digit)[-100:]] = True
    return x_all, yr, held, to_float(xtr[:, None]), yt


def test_10_1_receptive_field_of_two_conv_net():
    stated = int(re.search(r"sees \*\*(\d+)x\1\*\* pixels", answer("10", 1)).group(1))
    kernels = [layer.params["W"].shape[-1] for layer in two_conv_net().layers
               if isinstance(layer, Conv2D)]
    # the probe: all weights 1, average pooling, a gradient of 1 into one unit in the middle
    probe = Sequential([Conv2D(1, 1, kernels[0], dtype=np.float64), AvgPool2D(2),
                        Conv2D(1, 1, kernels[1], dtype=np.float64), AvgPool2D(2)])
    for layer in probe.layers:
        for p in layer.params.values():
            p[...] = 1.0
    out = probe.forward(np.zeros((1, 1, 28, 28)))
    dout = np.zeros_like(out)
    dout[0, 0, 2, 2] = 1.0
    rows, cols = np.nonzero(probe.backward(dout)[0, 0])
    assert out.shape == (1, 1, 5, 5)
    assert rows.max() - rows.min() + 1 == cols.max() - cols.min() + 1 == stated == 12


def test_10_3_momentum_at_large_learning_rates_trains(split10):
    x_all, y, held, _, _ = split10
    text = answer("10", 3)
    losses = [float(v) for v in re.search(r"epoch losses are ([\d., ]+?), a faster", text)
              .group(1).split(", ")]
    acc_01, acc_001, acc_02, acc_03 = percents(text)
    got = {}
    for lr in (0.01, 0.1, 0.2, 0.3):
        net = two_conv_net(seed=0)
        h = fit(net, x_all[~held], y[~held], epochs=4, batch_size=64,
                optimizer=Momentum(net, lr=lr), seed=0, progress=False)
        got[lr] = (round(evaluate(net, x_all[held], y[held])[1], 3), np.round(h["loss"], 3))
    assert list(got[0.1][1]) == losses
    assert losses[3] > losses[2]                                           # the wobble
    assert [got[lr][0] for lr in (0.1, 0.01, 0.2, 0.3)] == [acc_01, acc_001, acc_02, acc_03]
    assert got[0.1][1][0] < got[0.01][1][0]                                # a faster start


def test_10_4_the_extra_validation_digits(split10):
    x_all, y, held, x_test, y_test = split10
    text = answer("10", 4)
    assert "after the 10th epoch" in text
    with_all, with_5000 = percents(text.split("standard error")[0])
    net = lenet(seed=0)
    h = fit(net, x_all[~held], y[~held], epochs=10, batch_size=64, optimizer=Adam(net, lr=2e-3),
            x_val=x_all[held], y_val=y[held], seed=0, progress=False)
    assert int(np.argmin(h["val_loss"])) + 1 == 10
    assert round(evaluate(net, x_test, y_test)[1], 3) == with_5000
    net_all = lenet(seed=0)
    fit(net_all, x_all, y, epochs=10, batch_size=64, optimizer=Adam(net_all, lr=2e-3), seed=0,
        progress=False)
    assert round(evaluate(net_all, x_test, y_test)[1], 3) == with_all


def test_10_6_named_confusions_are_the_notebooks():
    """The pairs 10.md names are the ones notebook 10's checked cell prints (nbval re-runs it)."""
    nb = json.loads((ROOT / "notebooks" / "10_deeper_cnn.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                      and "nbval-check-output" in c["metadata"].get("tags", [])
                      for o in c["outputs"])
    notebook_pairs = re.search(r"two most frequent mistakes: (\d) -> (\d), (\d) -> (\d)",
                               printed).groups()
    stated = re.findall(r"(\d)s taken for\s+(\d)s", answer("10", 6))
    assert [d for pair in stated for d in pair] == list(notebook_pairs)


# ---- 11.md: the shipped weights, and the augmentation experiment ----------------------

@pytest.fixture(scope="module")
def shipped():
    from cnnlib.data import SAMPLE_PATH
    from cnnlib.viz.trained import load_trained
    return load_trained(SAMPLE_PATH.parent / "lenet_mnist.npz")[0]


def response_correlation(learned, kernels, images):
    """|correlation| of the feature maps of each learned kernel with each hand-made one."""
    x = to_float(images[:, None]).astype(np.float64)
    maps = [conv2d_fast(x, k[:, None].astype(np.float64), np.zeros(len(k)), pad=k.shape[-1] // 2)
            for k in (learned, kernels)]
    a, b = [m.transpose(1, 0, 2, 3).reshape(m.shape[1], -1) for m in maps]
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    return np.abs(a @ b.T / (np.linalg.norm(a, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None]))


def test_11_1_blur_sharpen_and_the_unmatched_filters(shipped, mnist):
    from cnnlib.viz.convolution import KERNEL_PRESETS
    from cnnlib.viz.trained import first_conv_weights
    _, (x_test, _) = mnist
    text = answer("11", 1)
    blur_filters = [int(f) for f in re.search(r"filters, f(\d+) and f(\d+), respond much like a blur",
                                              text).groups()]
    blur_rho = [float(v) for v in re.search(r"\(\|ρ\| ([\d.]+) and ([\d.]+)\)", text).groups()]
    sharpen_max = float(re.search(r"largest \|ρ\| ([\d.]+)\)", text).group(1))
    unmatched = [int(f) for f in re.findall(r"f(\d+)", text.split("none of them:")[1].split(".")[0])]
    diagonals = np.array([[[0, 1, 2], [-1, 0, 1], [-2, -1, 0]],
                          [[2, 1, 0], [1, 0, -1], [0, -1, -2]]], float)
    kernels = np.concatenate([np.stack([KERNEL_PRESETS[name] for name in
                                        ("vertical edge", "horizontal edge")]), diagonals,
                              np.stack([KERNEL_PRESETS["blur"], KERNEL_PRESETS["sharpen"]])])
    rho = response_correlation(first_conv_weights(shipped)[:, 0], kernels, x_test[:50])
    assert list(np.flatnonzero(rho[:, 4] >= 0.8)) == blur_filters
    assert list(rho[blur_filters, 4].round(2)) == blur_rho
    assert round(rho[:, 5].max(), 2) == sharpen_max
    assert list(np.flatnonzero(rho.max(axis=1) < 0.6)) == unmatched


def test_11_2_confident_mistakes_survive_a_one_pixel_shift(shipped, mnist):
    from cnnlib.augment import transform_digit
    from cnnlib.viz.trained import most_confident_mistakes, to_input
    _, (x_test, y_test) = mnist
    text = answer("11", 2)
    true, read = re.search(r"\(a (\d) read as a (\d)\)", text).groups()
    n_wrong, kept, shifted = (int(v) for v in re.search(
        r"over all (\d+) mistakes .*? (\d+) of the (\d+)\s+shifted copies", text, re.S).groups())
    probs = shipped.predict_proba(to_float(x_test[:, None]))
    pred = probs.argmax(axis=1)
    wrong = most_confident_mistakes(probs, y_test)
    assert len(wrong) == n_wrong and (y_test[wrong[0]], pred[wrong[0]]) == (int(true), int(read))
    moves = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    same = np.array([[shipped.predict(to_input(transform_digit(x_test[i], shift=s)[None]))[0] == pred[i]
                      for s in moves] for i in wrong])
    assert same[0].all() and same.size == shifted and same.sum() == kept


def test_11_4_shift_tolerance_map(shipped, mnist):
    from cnnlib.augment import transform_digit
    from cnnlib.viz.trained import to_input
    _, (x_test, y_test) = mnist
    stated = percents(answer("11", 4))
    grid = np.array([[(shipped.predict(to_input(np.stack([transform_digit(im, shift=(dy, dx))
                                                          for im in x_test[:300]])))
                       == y_test[:300]).mean() for dx in range(-3, 4)] for dy in range(-3, 4)])
    assert stated == [round(grid.min(), 3)]
    assert grid.min() in (grid[0, 0], grid[0, -1], grid[-1, 0], grid[-1, -1])   # in a corner


def test_11_5_augmentation_flattens_the_shift_curve(mnist):
    from cnnlib.augment import random_shifts
    from cnnlib.viz.robustness import transform_accuracy
    (x_train, y_train), (x_test, y_test) = mnist
    plain, augmented = answer("11", 5).split("the augmented one")
    plain0, plain_m1, plain_p1, plain_m2, plain_p2 = percents(plain)
    aug0, aug_m2, aug_p2 = percents(augmented)
    curves = {}
    for aug in (False, True):
        net, rng = lenet(seed=0), np.random.default_rng(0)
        fit(net, to_float(x_train[:, None]), y_train, epochs=2, batch_size=64,
            optimizer=Adam(net, lr=1e-3), seed=0, progress=False,
            augment=(lambda xb: random_shifts(xb, rng)) if aug else None)
        accs, _ = transform_accuracy(net, x_test[:300], y_test[:300], [-2, -1, 0, 1, 2])
        curves[aug] = [round(a, 3) for a in accs]
    assert curves[False] == [plain_m2, plain_m1, plain0, plain_p1, plain_p2]
    assert [curves[True][i] for i in (2, 0, 4)] == [aug0, aug_m2, aug_p2]
    assert min(curves[True][0], curves[True][4]) > max(curves[False][0], curves[False][4])


def test_10_2_relu_before_or_after_the_pool_trains_identically(mnist):
    (xr, yr), _ = mnist
    text = answer("10", 2)
    assert "bit\nfor bit" in text or "bit for bit" in text
    x, y = to_float(xr[:2000, None]), yr[:2000]
    after = two_conv_net(seed=0)                                  # conv, pool, ReLU (ww-rm's order)
    layers = two_conv_net(seed=0).layers
    before = Sequential([layers[i] for i in (0, 2, 1, 3, 5, 4, 6, 7)])   # conv, ReLU, pool
    assert [type(l).__name__ for l in before.layers[:3]] == ["Conv2D", "ReLU", "MaxPool2D"]
    losses = [fit(net, x, y, epochs=3, batch_size=64, optimizer=Adam(net, lr=1e-3), seed=0,
                  progress=False)["batch_loss"] for net in (after, before)]
    assert np.array_equal(losses[0], losses[1])


def test_06_4_a_near_tie_spoils_the_check_of_a_correct_backward_pass():
    from cnnlib.gradcheck import numerical_gradient
    from cnnlib.pool import maxpool_backward_loop, maxpool_loop
    assert "h = 10^{-5}" in answer("06", 4)
    g = np.random.default_rng(0).normal(size=(1, 1, 3, 3))
    errors = []
    for gap in (1e-7, 1e-2):                      # two entries of the first window, gap apart
        x = np.random.default_rng(2).normal(size=(1, 1, 6, 6))
        x[0, 0, 0, 0] = x[0, 0, :2, :2].max() + 1
        x[0, 0, 0, 1] = x[0, 0, 0, 0] + gap
        numeric = numerical_gradient(lambda: float(np.sum(maxpool_loop(x) * g)), x, h=1e-5)
        errors.append(rel_error(maxpool_backward_loop(g, x), numeric))
    assert errors[0] > 1e-3 and errors[1] < 1e-7, errors
