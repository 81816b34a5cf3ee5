"""Bad inputs and faults, as a careless student, a tired teacher or a hostile file would
bring them (issue 11). Each case asserts the exception type and the words that tell the
user what to do, or the right answer, or that no file was changed or left behind.

Layers, models and losses first; then optimizers and training; saving and loading;
data and downloads (local servers on 127.0.0.1 only); the command line last.
"""
import gzip
import hashlib
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from cnnlib import cli
from cnnlib.architectures import lenet, make_net, one_conv_net, two_conv_net
from cnnlib.augment import random_shifts
from cnnlib.conv import Conv2D, conv2d_fast
from cnnlib.data import load_mnist, to_float
from cnnlib.data import download
from cnnlib.data.download import DownloadError, cache_dir, check_file, fetch
from cnnlib.data.idx import IDXError, read_bytes, read_idx
from idx_files import write_idx
from cnnlib.files import remove_stale
from cnnlib.layers import Flatten, Linear, ReLU
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential, WeightsFileError
from cnnlib.optim import SGD, Adam, Momentum
from cnnlib.pool import AvgPool2D, MaxPool2D
from cnnlib.train import ChanceLevelWarning, TrainingDiverged, evaluate, fit

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)
Y4 = np.array([3, 7])


@pytest.fixture(autouse=True)
def time_limit():
    """Every test gets 30 s: a hang (a pipe, a slow server) fails instead of blocking CI."""
    def expired(signum, frame):
        raise TimeoutError("this test took longer than 30 s (a hang?)")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def check_raises(fn, exc, *words):
    """fn() raises exc and its message holds every one of words (case-insensitive)."""
    with pytest.raises(exc) as info:
        fn()
    text = str(info.value).lower()
    for w in words:
        assert w.lower() in text, f"{w!r} not in: {info.value}"
    assert "allow_pickle" not in text
    return info.value


def ran(layer, x):
    layer.forward(x)
    return layer


# ---------------------------------------------------------------- layers and models
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
def test_python_lists_give_the_same_answer_as_arrays(name):
    make, x = LAYERS[name]
    expected = make().forward(x)
    layer = make()
    got = layer.forward(x.tolist())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)   # lists become float64
    dx = layer.backward(np.ones_like(got).tolist())
    assert dx is None or np.shape(dx) == x.shape


@pytest.mark.parametrize("name", LAYERS)
def test_empty_batch_gives_an_empty_output(name):
    make, x = LAYERS[name]
    layer = make()
    full = make().forward(x)
    out = layer.forward(x[:0])
    assert out.shape == (0,) + full.shape[1:]
    dx = layer.backward(out)
    assert dx is None or dx.shape == x[:0].shape


def test_empty_batch_through_a_network_and_predict():
    net = lenet()
    empty = np.zeros((0, 1, 28, 28), np.float32)
    assert net.forward(empty).shape == (0, 10)
    assert net.predict_proba(empty).shape == (0, 10)
    assert net.predict(empty).shape == (0,)


BUILD = [
    pytest.param(lambda: Conv2D(1, 4, 0), ValueError, ["kernel_size", ">= 1", "got 0"], id="k0"),
    pytest.param(lambda: Conv2D(1, 4, -3), ValueError, ["kernel_size", ">= 1"], id="k-3"),
    pytest.param(lambda: Conv2D(1, 4, 2.5), ValueError, ["kernel_size", "integer"], id="k2.5"),
    pytest.param(lambda: Conv2D(1, 4, 3, stride=0), ValueError, ["stride", ">= 1"], id="stride0"),
    pytest.param(lambda: Conv2D(1, 4, 3, pad=-1), ValueError, ["pad", ">= 0"], id="pad-1"),
    pytest.param(lambda: Conv2D(0, 4, 3), ValueError, ["in_channels", ">= 1"], id="cin0"),
    pytest.param(lambda: Conv2D(1, 0, 3), ValueError, ["out_channels", ">= 1"], id="cout0"),
    pytest.param(lambda: Conv2D(1, 4, 3, impl="gpu"), ValueError, ["'fast', 'loop' or 'fft'"],
                 id="impl"),
    pytest.param(lambda: Conv2D(1, 4, 3, stride=2, impl="fft"), ValueError,
                 ["impl='fft' needs stride 1", "stride=2", "impl='fast'"], id="fft-stride2"),
    pytest.param(lambda: MaxPool2D(0), ValueError, ["size", ">= 1"], id="pool0"),
    pytest.param(lambda: MaxPool2D(2, stride=0), ValueError, ["stride", ">= 1"],
                 id="poolstride0"),
    pytest.param(lambda: AvgPool2D(-2), ValueError, ["size", ">= 1"], id="avg-2"),
    pytest.param(lambda: Linear(0, 10), ValueError, ["in_features", ">= 1"], id="lin0"),
    pytest.param(lambda: Linear(10, -1), ValueError, ["out_features", ">= 1"], id="lin-1"),
    pytest.param(lambda: Linear(10, 10, init="zeros"), ValueError, ["'he' or 'glorot'"],
                 id="init"),
    pytest.param(lambda: Linear(10**6, 10**5), MemoryError, ["GiB", "memory", "(1000000, 100000)"],
                 id="linear-too-big"),
    pytest.param(lambda: Linear(4, 2, dtype=np.int64), ValueError,
                 ["floating-point", "int64", "cannot learn"], id="int-linear"),
    pytest.param(lambda: Conv2D(1, 2, 3, dtype=np.uint8), ValueError, ["floating-point"],
                 id="int-conv"),
    pytest.param(lambda: lenet(dtype=np.int32), ValueError, ["floating-point", "int32"],
                 id="int-lenet"),
    pytest.param(lambda: lenet().astype(np.int64), ValueError, ["floating-point"],
                 id="astype-int"),
    pytest.param(lambda: lenet(dtype="banana"), ValueError, ["floating-point"], id="dtype-str"),
    pytest.param(lambda: Linear(4, 2, seed=-1), ValueError, ["seed", ">= 0", "-1"],
                 id="seed-linear"),
    pytest.param(lambda: Conv2D(1, 2, 3, seed=-5), ValueError, ["seed", ">= 0"], id="seed-conv"),
    pytest.param(lambda: make_net("lenet", seed=-1), ValueError, ["seed", ">= 0"],
                 id="seed-make_net"),
    pytest.param(lambda: one_conv_net(seed=1.5), ValueError, ["seed", "integer"],
                 id="seed-float"),
    pytest.param(lambda: make_net("resnet"), ValueError, ["unknown architecture", "lenet"],
                 id="arch"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)


MILLION = np.broadcast_to(np.zeros((1, 1, 28, 28), np.float32), (10**6, 1, 28, 28))
FORWARD = [
    pytest.param(lambda: lenet().forward(np.zeros((2, 1, 32, 32), np.float32)), ValueError,
                 ["expects images of 28x28", "got 32x32", "crop or resize"], id="32x32-lenet"),
    pytest.param(lambda: two_conv_net().forward(np.zeros((2, 1, 20, 20), np.float32)),
                 ValueError, ["expects images of 28x28", "got 20x20"], id="20x20-two_conv"),
    pytest.param(lambda: one_conv_net().forward(np.zeros((1, 1, 64, 64), np.float32)),
                 ValueError, ["expects images of 28x28"], id="64x64-one_conv"),
    pytest.param(lambda: lenet().forward(np.zeros((2, 3, 28, 28), np.float32)), ValueError,
                 ["3 channels", "expect 1"], id="rgb"),
    pytest.param(lambda: lenet().forward(np.zeros((2, 28, 28), np.float32)), ValueError,
                 ["x[:, None]"], id="3d-batch"),
    pytest.param(lambda: lenet().forward(np.zeros((28, 28), np.float32)), ValueError,
                 ["img[None, None]"], id="one-image"),
    pytest.param(lambda: lenet().forward(np.zeros((2, 1, 28, 28), np.uint8)), ValueError,
                 ["floating-point", "to_float"], id="uint8"),
    pytest.param(lambda: Linear(784, 10).forward(np.zeros((2, 100), np.float32)), ValueError,
                 ["(any, 784)", "(2, 100)"], id="linear-features"),
    pytest.param(lambda: Conv2D(1, 1, 3, pad=100000).forward(np.zeros((1, 1, 28, 28),
                                                                        np.float32)),
                 MemoryError, ["GiB", "padded input"], id="pad-100000"),
    # im2col: 10**6 * 28 * 28 rows of 5 * 5 float32 = 73 GiB
    pytest.param(lambda: Conv2D(1, 8, 5, pad=2).forward(MILLION), MemoryError,
                 ["GiB", "im2col", "smaller batch"], id="million-images"),
    pytest.param(lambda: conv2d_fast(X4, np.zeros((2, 1, 0, 0), np.float32), np.zeros(2)),
                 ValueError, ["every size >= 1"], id="empty-kernel"),
    pytest.param(lambda: MaxPool2D(40).forward(X4), ValueError, ["pooling window", "larger"],
                 id="pool-too-big"),
    pytest.param(lambda: random_shifts(X4, np.random.default_rng(0), -1), ValueError,
                 ["shift", ">= 0"], id="shift-1"),
    pytest.param(lambda: random_shifts(X4, np.random.default_rng(0), 28), ValueError,
                 ["out of sight", "shift=2"], id="shift28"),
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


def test_network_backward_before_forward():
    check_raises(lambda: lenet().backward(np.ones((2, 10), np.float32)), RuntimeError,
                 "before forward")


LOSS = [
    pytest.param(np.zeros((0, 10)), np.zeros(0, int), ValueError, ["empty batch"], id="N0"),
    pytest.param(np.zeros((3, 0)), np.zeros(3, int), ValueError, ["no classes", "Linear(..., 10)"],
                 id="K0"),
    pytest.param(np.zeros((2, 10)), np.array([3, 10]), ValueError, ["0..9", "10"], id="label10"),
    pytest.param(np.zeros((2, 10)), np.array([3.0, 1.0]), ValueError, ["integer labels"],
                 id="float-labels"),
    pytest.param(np.zeros((2, 10)), np.array([3, 1, 2]), ValueError, ["shape (2,)"],
                 id="length"),
    pytest.param(np.zeros(10), np.array([3]), ValueError, ["(N, K)"], id="1d-logits"),
    pytest.param(np.zeros((2, 10), int), np.array([3, 1]), ValueError, ["floating-point"],
                 id="int-logits"),
]


@pytest.mark.parametrize("logits, y, exc, words", LOSS)
def test_bad_loss_input(logits, y, exc, words):
    check_raises(lambda: softmax_cross_entropy(logits, y), exc, *words)


def test_loss_accepts_lists():
    # uniform scores over 4 classes: loss = ln 4
    loss, _ = softmax_cross_entropy([[0.0, 0.0, 0.0, 0.0]], [2])
    assert loss == pytest.approx(np.log(4))


# ---------------------------------------------------------------- optimizers
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


# ---------------------------------------------------------------- training
(XS, YS), _ = load_mnist()
XS = to_float(XS[:320, None])
YS = YS[:320]


def test_optimizer_of_another_network_is_refused():
    old = lenet()
    opt = Adam(old)
    new = lenet()                         # the notebook cell that builds the net, re-run
    before = {k: v.copy() for k, v in old.named_params().items()}
    check_raises(lambda: fit(new, XS, YS, epochs=1, optimizer=opt, progress=False), ValueError,
                 "built for another network", "re-run", "Adam(net")
    for k, v in old.named_params().items():
        np.testing.assert_array_equal(v, before[k])


FIT = [
    pytest.param(dict(optimizer=Adam), TypeError, ["object", "Adam(net, lr=1e-3)"],
                 id="optimizer-class"),
    pytest.param(dict(optimizer="adam"), TypeError, ["step()"], id="optimizer-str"),
    pytest.param(dict(seed=-1), ValueError, ["seed", ">= 0"], id="seed-1"),
    pytest.param(dict(epochs=-1), ValueError, ["epochs", ">= 0"], id="epochs-1"),
    pytest.param(dict(batch_size=0), ValueError, ["batch_size", ">= 1"], id="batch0"),
    pytest.param(dict(batch_size=2.5), ValueError, ["batch_size", "integer"], id="batch2.5"),
    pytest.param(dict(augment="yes"), TypeError, ["augment", "function"], id="augment-str"),
    pytest.param(dict(callback=3), TypeError, ["callback", "function"], id="callback-int"),
    pytest.param(dict(callback_every=2), ValueError, ["needs a callback"], id="every"),
    pytest.param(dict(x_val=XS[:4]), ValueError, ["both x_val and y_val"], id="x_val-only"),
]


@pytest.mark.parametrize("kwargs, exc, words", FIT)
def test_bad_fit_argument(kwargs, exc, words):
    check_raises(lambda: fit(one_conv_net(), XS[:8], YS[:8], progress=False, **kwargs),
                 exc, *words)


def with_nan(x, index=3):
    x = x.copy()
    x[index, 0, 5, 5] = np.nan
    return x


DATA = [
    pytest.param(lambda: (with_nan(XS), YS), ValueError, ["NaN or infinite", "image 3",
                                                           "np.isfinite"], id="nan-pixel"),
    pytest.param(lambda: (XS * np.float32(np.inf), YS), ValueError, ["NaN or infinite"],
                 id="inf-images"),
    pytest.param(lambda: (XS, YS[:-1]), ValueError, ["320 images", "319"], id="length"),
    pytest.param(lambda: (XS, YS.astype(float)), ValueError, ["integer labels"],
                 id="float-labels"),
    pytest.param(lambda: (XS[:0], YS[:0]), ValueError, ["no images"], id="empty"),
    pytest.param(lambda: ((XS * 255).astype(np.uint8), YS), ValueError, ["to_float"],
                 id="raw-pixels"),
    pytest.param(lambda: (XS[:, 0], YS), ValueError, ["x[:, None]"], id="3d"),
]


@pytest.mark.parametrize("make, exc, words", DATA)
def test_bad_training_data_is_refused_before_training(make, exc, words):
    x, y = make()
    check_raises(lambda: fit(one_conv_net(), x, y, progress=False), exc, *words)


@pytest.mark.parametrize("make, exc, words", DATA)
def test_bad_evaluation_data_is_refused(make, exc, words):
    x, y = make()
    check_raises(lambda: evaluate(one_conv_net(), x, y), exc, *words)


def test_bad_validation_data_names_x_val():
    check_raises(lambda: fit(one_conv_net(), XS, YS, x_val=with_nan(XS), y_val=YS,
                             progress=False), ValueError, "x_val", "NaN")


@pytest.mark.parametrize("batch_size", [-1, 0, 1.5, None])
def test_evaluate_batch_size_is_checked(batch_size):
    check_raises(lambda: evaluate(one_conv_net(), XS[:8], YS[:8], batch_size=batch_size),
                 ValueError, "batch_size", ">= 1")


DIVERGE = [
    pytest.param(lambda n: Adam(n, lr=10), ["exploding", "lr=10 is probably too large",
                                            "divide it by 10", "fresh net"], id="adam-lr10"),
    pytest.param(lambda n: Momentum(n, lr=5), ["exploding", "lr=5", "divide it by 10"],
                 id="momentum-lr5"),
    pytest.param(lambda n: SGD(n, lr=1e4), ["lr=10000", "until the loss stops exploding"],
                 id="sgd-lr1e4"),
]


@pytest.mark.parametrize("build, words", DIVERGE)
def test_exploding_loss_is_stopped_with_the_step_size_named(build, words):
    net = lenet()
    opt = build(net)
    with np.errstate(all="ignore"):
        err = check_raises(lambda: fit(net, XS, YS, epochs=2, batch_size=32,
                                       optimizer=opt, progress=False),
                           TrainingDiverged, *words)
    assert "inf" not in str(err).split("too large")[1]
    # The hint names no rate to try, only the one that failed: lr / 10 can explode too
    # (notebook 08's one_conv_net at batch 32 explodes at every lr it tries from 0.1 to 1000).
    assert re.findall(r"lr=(\S+?)[ ,;:]", str(err)) == [f"{opt.lr:g}"], str(err)


def test_the_hint_would_have_named_a_rate_that_also_explodes():
    """Why likely_cause names no rate: with SGD, lr / 10 = 1000 explodes as well."""
    for lr in (1e4, 1e3):
        net = lenet()
        with np.errstate(all="ignore"):
            check_raises(lambda: fit(net, XS, YS, epochs=1, batch_size=32,
                                     optimizer=SGD(net, lr=lr), progress=False),
                         TrainingDiverged, f"lr={lr:g}", "exploding")


def test_nan_made_by_augment_is_named_as_the_input():
    def poison(xb):
        return with_nan(xb, 0)
    check_raises(lambda: fit(one_conv_net(), XS, YS, progress=False, augment=poison),
                 TrainingDiverged, "input batch holds", "augment")


def test_settings_changed_after_building_are_named_not_the_lr():
    net = one_conv_net()
    opt = Momentum(net, 0.01)
    opt.momentum = float("nan")
    check_raises(lambda: fit(net, XS, YS, optimizer=opt, progress=False), ValueError,
                 "momentum", "nan")
    opt = SGD(net, 0.01)
    opt.lr = float("inf")                 # e.g. a learning-rate schedule gone wrong
    check_raises(lambda: fit(net, XS, YS, optimizer=opt, progress=False), ValueError,
                 "lr must be > 0", "inf")


def test_float16_network_with_default_adam_names_eps():
    check_raises(lambda: fit(one_conv_net(dtype=np.float16), XS, YS, progress=False),
                 ValueError, "eps", "float16")


def test_float16_overflow_is_named_not_the_lr():
    net = one_conv_net(dtype=np.float16)
    with np.errstate(all="ignore"):
        check_raises(lambda: fit(net, XS, YS, optimizer=SGD(net, 1e3), progress=False),
                     TrainingDiverged, "float16", "65504", "float32")


def test_python_lists_train_and_predict():
    net = one_conv_net()
    h = fit(net, XS[:16].tolist(), YS[:16].tolist(), epochs=1, batch_size=8, progress=False)
    assert len(h["batch_loss"]) == 2
    np.testing.assert_array_equal(net.predict(XS[:4].tolist()), net.predict(XS[:4]))


def test_weights_already_nan_are_named():
    net = one_conv_net()
    net.layers[-1].params["W"][0, 0] = np.nan
    check_raises(lambda: fit(net, XS, YS, progress=False), ValueError, "already hold NaN",
                 "fresh net")


def test_run_ending_at_chance_level_is_reported():
    x = np.zeros((800, 1, 28, 28), np.float32)          # blank images: nothing to learn
    y = np.arange(800) % 10
    with pytest.warns(ChanceLevelWarning, match="chance level.*learned nothing"):
        fit(one_conv_net(), x, y, epochs=1, batch_size=8, progress=False)


def test_short_or_learning_run_is_not_reported_as_chance():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChanceLevelWarning)
        h = fit(lenet(), XS, YS, epochs=1, batch_size=32, progress=False)
    assert len(h["batch_loss"]) == 10


# ---------------------------------------------------------------- saving and loading
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "w.npz"
    one_conv_net(seed=1).save(path)
    return path


def snapshot(net):
    return {k: v.copy() for k, v in net.named_params().items()}


def assert_unchanged(net, before):
    for k, v in net.named_params().items():
        np.testing.assert_array_equal(v, before[k])


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


SAVE = [
    pytest.param(lambda d: "", ValueError, ["empty", "lenet.npz"], id="empty-name"),
    pytest.param(lambda d: d / "missing" / "w.npz", FileNotFoundError,
                 ["does not exist", "mkdir -p"], id="missing-folder"),
    pytest.param(lambda d: d, IsADirectoryError, ["is a folder", "weights.npz"], id="folder"),
    pytest.param(lambda d: f"{d}/sub/", IsADirectoryError, ["names a folder"], id="slash"),
]


@pytest.mark.parametrize("where, exc, words", SAVE)
def test_bad_save_destination(tmp_path, where, exc, words):
    check_raises(lambda: one_conv_net().save(where(tmp_path)), exc, *words)
    assert leftovers(tmp_path) == []


def test_save_to_a_named_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    check_raises(lambda: one_conv_net().save(tmp_path / "pipe"), ValueError,
                 "not a regular file")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_save_into_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        check_raises(lambda: one_conv_net().save(folder / "w.npz"), PermissionError,
                     "no permission", "another folder")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_overwriting_keeps_the_file_mode(saved, mode):
    saved.chmod(mode)
    one_conv_net(seed=2).save(saved)
    assert stat.S_IMODE(saved.stat().st_mode) == mode
    one_conv_net().load(saved)


def test_new_file_follows_the_umask_without_changing_it(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:
        def forbidden(mask):
            raise AssertionError("save() must not change the process-wide umask")
        monkeypatch.setattr(os, "umask", forbidden)
        one_conv_net().save(tmp_path / "w.npz")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == 0o640


def test_save_writes_through_a_symlink(saved, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(saved)
    net = one_conv_net(seed=5)
    net.save(link)
    assert link.is_symlink()
    other = one_conv_net().load(saved)
    np.testing.assert_array_equal(other.layers[0].params["W"], net.layers[0].params["W"])


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "real.npz")
    one_conv_net().save(link)
    assert link.is_symlink() and (tmp_path / "real.npz").is_file()


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("action", ["save", "load"])
def test_leftover_of_a_killed_save_is_cleaned(saved, action):
    stale = saved.parent / f".{saved.name}.{dead_pid()}.0123abcd.tmp"
    live = saved.parent / f".{saved.name}.{os.getppid()}.0123abcd.tmp"   # still running
    stale.write_bytes(b"half")
    live.write_bytes(b"busy")
    net = one_conv_net()
    net.save(saved) if action == "save" else net.load(saved)
    assert not stale.exists() and live.exists()


def test_killed_save_leaves_the_old_file_and_a_recognisable_leftover(saved):
    before = saved.read_bytes()
    code = (f"import os, numpy as np\nfrom cnnlib.architectures import one_conv_net\n"
            f"np.savez = lambda *a, **k: os.kill(os.getpid(), 9)\n"
            f"one_conv_net().save({str(saved)!r})\n")
    subprocess.run([sys.executable, "-c", code], timeout=20)
    assert saved.read_bytes() == before
    (left,) = leftovers(saved.parent)
    assert left.startswith(f".{saved.name}.") and left.endswith(".tmp")
    one_conv_net().save(saved)
    assert leftovers(saved.parent) == []


@pytest.mark.parametrize("fault", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_save_keeps_the_old_file_and_leaves_nothing(saved, monkeypatch, fault):
    before = saved.read_bytes()

    def broken(*args, **kwargs):
        raise fault
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(type(fault)) as info:
        one_conv_net().save(saved)
    if isinstance(fault, OSError):
        assert f"could not save the weights to {saved}" in str(info.value)
        assert "No space left" in str(info.value)
    assert saved.read_bytes() == before and leftovers(saved.parent) == []


def zip_truncated(p):
    p.write_bytes(p.read_bytes()[:200])


def zip_corrupted(p):
    data = bytearray(p.read_bytes())
    data[100:400] = os.urandom(300)
    p.write_bytes(bytes(data))


def npy_renamed(p):
    with open(p, "wb") as f:
        np.save(f, np.zeros(3))


BAD_FILES = {
    "empty": (lambda p: p.write_bytes(b""), ["empty file"]),
    "truncated": (zip_truncated, []),
    "corrupted": (zip_corrupted, []),
    "npy-renamed": (npy_renamed, ["single NumPy array", ".npy"]),
    "html": (lambda p: p.write_text("<!DOCTYPE html><html>404 Not Found</html>"), ["HTML"]),
    "text": (lambda p: p.write_text("hello"), ["not an .npz"]),
    "random": (lambda p: p.write_bytes(os.urandom(1000)), []),
    "pickled-object": (lambda p: np.savez(p, **{"0.W": np.array([{"a": 1}], dtype=object)}),
                       []),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_not_a_weights_file_says_which_file_and_what_to_do(saved, name):
    damage, words = BAD_FILES[name]
    damage(saved)
    net = one_conv_net()
    before = snapshot(net)
    check_raises(lambda: net.load(saved), WeightsFileError, str(saved), "cnnlib", "net.save",
                 *words)
    assert_unchanged(net, before)


def rewrite(path, change):
    """Write path again with change(arrays) applied to its arrays."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)


def set_array(name, value):
    def change(arrays):
        arrays[name] = value(arrays[name]) if callable(value) else value
    return change


LOAD = [
    pytest.param(set_array("3.W", lambda a: a.astype(np.complex64)), ["'3.W'", "complex64",
                                                                      "real numbers"],
                 id="complex"),
    pytest.param(set_array("3.W", lambda a: np.full(a.shape, "x")), ["'3.W'", "real numbers"],
                 id="strings-last"),
    pytest.param(set_array("0.W", lambda a: a > 0), ["'0.W'", "bool"], id="bool"),
    pytest.param(set_array("3.W", lambda a: np.full_like(a, np.nan)), ["'3.W'", "NaN",
                                                                       "diverged"],
                 id="all-nan"),
    pytest.param(set_array("0.b", lambda a: np.r_[a[:-1], np.inf]), ["'0.b'", "1 of 8"],
                 id="one-inf"),
    pytest.param(set_array("0.W", lambda a: a.astype(np.float64) * 1e300), ["'0.W'",
                                                                           "float32"],
                 id="overflows-float32"),
    pytest.param(set_array("0.W", lambda a: a[:4]), ["'0.W'", "shape"], id="shape"),
    pytest.param(lambda arrays: arrays.pop("3.b"), ["missing", "3.b"], id="missing"),
    pytest.param(set_array("9.W", np.zeros(3)), ["extra", "9.W"], id="extra"),
    pytest.param(set_array("__architecture__", np.array(["Linear(1, 1)"])), ["architecture"],
                 id="architecture"),
]


@pytest.mark.parametrize("change, words", LOAD)
def test_bad_array_in_a_weights_file_loads_nothing(saved, change, words):
    rewrite(saved, change)
    net = one_conv_net()
    before = snapshot(net)
    check_raises(lambda: net.load(saved), ValueError, str(saved), *words)
    assert_unchanged(net, before)


def test_integer_weights_are_loaded(tmp_path):
    net = one_conv_net()
    np.savez(tmp_path / "w.npz", **{k: np.ones(v.shape, np.int16)
                                    for k, v in net.named_params().items()})
    net.load(tmp_path / "w.npz")
    assert all((v == 1).all() and v.dtype == np.float32 for v in net.named_params().values())


LOAD_PATHS = [
    pytest.param(lambda d: d / "nope.npz", FileNotFoundError, ["does not exist", "--save"],
                 id="missing"),
    pytest.param(lambda d: d, WeightsFileError, ["a folder", "net.save()"], id="folder"),
    pytest.param(lambda d: "", ValueError, ["empty"], id="empty-name"),
]


@pytest.mark.parametrize("where, exc, words", LOAD_PATHS)
def test_bad_load_path(tmp_path, where, exc, words):
    check_raises(lambda: one_conv_net().load(where(tmp_path)), exc, *words)


def test_loading_a_named_pipe_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    check_raises(lambda: one_conv_net().load(tmp_path / "pipe.npz"), WeightsFileError,
                 "not a regular file")


# ---------------------------------------------------------------- data files and downloads
LABELS = np.arange(10, dtype=np.uint8)
RAW = b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + LABELS.tobytes()
NAME = "train-labels-idx1-ubyte.gz"


def test_named_pipe_instead_of_an_idx_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "labels")
    check_raises(lambda: read_idx(tmp_path / "labels"), IDXError, "named pipe",
                 "regular IDX file")


def test_named_pipe_in_the_mnist_folder_is_refused(tmp_path):
    for name in download.FILES:
        os.mkfifo(tmp_path / name)
    check_raises(lambda: load_mnist("full", tmp_path), IDXError, "named pipe")


def test_folder_instead_of_an_idx_file(tmp_path):
    check_raises(lambda: read_idx(tmp_path), IDXError, "a folder")


def test_gzip_bomb_is_stopped_while_decompressing(tmp_path):
    # 10 labels promised, then 64 MB of zeros: the gzip is small, its content is not
    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        f.write(RAW)
        zeros = bytes(1 << 20)
        for _ in range(64):
            f.write(zeros)
    assert bomb.stat().st_size < 1 << 20
    check_raises(lambda: read_idx(bomb), IDXError, "at most 18 bytes", "stopped reading")


def test_gzip_beyond_the_expected_mnist_size_is_stopped(tmp_path):
    path = tmp_path / NAME
    path.write_bytes(gzip.compress(bytes(100_000), compresslevel=1))   # no IDX header
    check_raises(lambda: check_file(path, "0" * 64, download.SIZES[NAME]), IDXError,
                 "at most 60,008 bytes")


def test_idx_header_promising_terabytes_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.gz"
    header = b"\x00\x00\x08\x03" + np.array([10**6, 10**4, 10**4], ">u4").tobytes()
    path.write_bytes(gzip.compress(header + bytes(100)))
    check_raises(lambda: read_idx(path), IDXError, "fits in memory")


def test_truncated_gzip_is_named(tmp_path):
    path = write_idx(tmp_path / "l.gz", LABELS)
    path.write_bytes(path.read_bytes()[:-6])
    check_raises(lambda: read_bytes(path), IDXError, "gzip", "delete it")


def test_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLIB_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir("mnist") == tmp_path / ".cache" / "cnnlib" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "abs"))
    assert cache_dir("mnist") == tmp_path / "abs" / "cnnlib" / "mnist"


BODY = gzip.compress(RAW, mtime=0)
SHA = hashlib.sha256(RAW).hexdigest()


def good(h):
    h.send_response(200)
    h.send_header("Content-Length", str(len(BODY)))
    h.end_headers()
    h.wfile.write(BODY)


def trickle(h):
    """A mirror that sends one byte every 0.1 s: each read succeeds, the file never ends."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(BODY) * 1000))
    h.end_headers()
    try:
        for _ in range(600):
            h.wfile.write(b"\x1f")
            h.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


def endless(h):
    h.send_response(200)
    h.end_headers()
    try:
        for _ in range(200):
            h.wfile.write(bytes(1 << 16))
    except OSError:
        pass


def test_trickling_mirror_hits_the_deadline_then_the_next_mirror_is_used(servers, tmp_path):
    slow, fast = servers(trickle), servers(good)
    start = time.monotonic()
    path = fetch(NAME, tmp_path, [slow, fast], SHA, timeout=0.5, progress=False, deadline=1)
    assert time.monotonic() - start < 5
    assert gzip.decompress(path.read_bytes()) == RAW
    assert leftovers(tmp_path) == []


def test_trickling_mirror_alone_fails_with_the_deadline_named(servers, tmp_path):
    slow = servers(trickle)
    check_raises(lambda: fetch(NAME, tmp_path, [slow], SHA, timeout=0.5, progress=False,
                               deadline=1), DownloadError, "too slow", "1 s deadline",
                 "by hand")
    assert list(tmp_path.iterdir()) == []


def test_server_sending_too_much_is_cut_off(servers, tmp_path):
    check_raises(lambda: fetch(NAME, tmp_path, [servers(endless)], SHA, timeout=2,
                               progress=False), DownloadError, "more than")
    assert list(tmp_path.iterdir()) == []


def test_leftover_of_a_killed_download_is_cleaned(servers, tmp_path):
    stale = tmp_path / f".{NAME}.{dead_pid()}.0123abcd.part"
    stale.write_bytes(b"half")
    fetch(NAME, tmp_path, [servers(good)], SHA, timeout=2, progress=False)
    assert not stale.exists()


@pytest.mark.parametrize("name, suffix", [(".train-labels-idx1-ubyte.gz.k3_x9q2a.part", ".part"),
                                          ("w.npzab12cd_9.tmp", ".tmp")])
def test_leftovers_named_by_older_versions_are_removed_when_an_hour_old(tmp_path, name, suffix):
    target = tmp_path / (NAME if suffix == ".part" else "w.npz")
    old, new = tmp_path / name, tmp_path / name.replace("2", "3")
    old.write_bytes(b"")
    new.write_bytes(b"")
    os.utime(old, (time.time() - 7200,) * 2)
    assert remove_stale(target, suffix) == [old]
    assert new.exists()


def test_remove_stale_keeps_files_of_running_processes(tmp_path):
    target = tmp_path / "x.npz"
    mine = tmp_path / f".x.npz.{os.getpid()}.0123abcd.tmp"
    other = tmp_path / ".x.npz.notapid.tmp"
    mine.write_bytes(b"")
    other.write_bytes(b"")
    assert remove_stale(target, ".tmp") == []
    assert mine.exists() and other.exists()


# ---------------------------------------------------------------- the command line
def run_main(argv, capsys):
    """cli.main in-process: (exit code, stderr text). sys.exit("msg") means code 1 + msg."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
        raise SystemExit(0)
    code = info.value.code
    err = capsys.readouterr().err
    if isinstance(code, str):
        err, code = err + code + "\n", 1
    return code, err


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


QUICK = ["--epochs", "1", "--train-size", "64", "--test-size", "32", "--no-progress"]
CLI = [
    pytest.param(["--seed", "-1"], 2, ["--seed", ">= 0"], id="seed-1"),
    pytest.param(["--augment", "-1"], 2, ["--augment", ">= 0"], id="augment-1"),
    pytest.param(["--augment", "28"] + QUICK, 1, ["--augment 28", "28x28", "e.g. 2"],
                 id="augment28"),
    pytest.param(["--augment", "100"] + QUICK, 1, ["out of sight"], id="augment100"),
    pytest.param(["--data-dir", "/tmp"], 2, ["--data-dir", "--data full"], id="data-dir"),
    pytest.param(["--save", ""], 2, ["--save", "file name"], id="save-empty"),
    pytest.param(["--save", "  "], 2, ["--save", "file name"], id="save-blank"),
    pytest.param(["--save", "{tmp}/missing/w.npz"] + QUICK, 1, ["does not exist", "mkdir"],
                 id="save-missing-folder"),
    pytest.param(["--save", "{tmp}"] + QUICK, 1, ["is a folder"], id="save-folder"),
    pytest.param(["--lr", "inf"], 2, ["--lr", "finite"], id="lr-inf"),
    pytest.param(["--lr", "nan"], 2, ["--lr", "> 0"], id="lr-nan"),
    pytest.param(["--lr", "-1"], 2, ["--lr", "> 0"], id="lr-neg"),
    pytest.param(["--lr", "0"], 2, ["--lr", "> 0"], id="lr0"),
    pytest.param(["--lr", "fast"], 2, ["expected a float"], id="lr-word"),
    pytest.param(["--lr-decay", "inf"], 2, ["--lr-decay", "finite"], id="decay-inf"),
    pytest.param(["--epochs", "0"], 2, ["--epochs", "> 0"], id="epochs0"),
    pytest.param(["--epochs", "two"], 2, ["expected a int"], id="epochs-word"),
    pytest.param(["--batch-size", "0"], 2, ["--batch-size"], id="batch0"),
    pytest.param(["--train-size", "-5"], 2, ["--train-size"], id="train-size"),
    pytest.param(["--arch", "resnet"], 2, ["invalid choice", "lenet"], id="arch"),
    pytest.param(["--optimizer", "rmsprop"], 2, ["invalid choice"], id="optimizer"),
    pytest.param(["--data", "full", "--data-dir", "{tmp}/nowhere"], 1,
                 ["could not load mnist", "not a folder"], id="data-dir-missing"),
    pytest.param(["--data", "full", "--data-dir", "{tmp}"], 1,
                 ["could not load mnist", "missing"], id="data-dir-empty"),
    pytest.param(["--lr", "10"] + QUICK, 1, ["exploding", "lr=10", "divide it by 10"],
                 id="adam-lr10"),
    pytest.param(["--optimizer", "momentum", "--lr", "5", "--epochs", "1", "--train-size", "640",
                  "--no-progress"], 1, ["exploding", "lr=5"],
                 id="momentum-lr5"),
    pytest.param(["--optimizer", "sgd", "--lr", "1e-9", "--train-size", "1600",
                  "--batch-size", "16", "--epochs", "1", "--test-size", "10",
                  "--no-progress", "--arch", "one_conv"], 1,
                 ["chance level", "learned nothing"], id="chance"),
]


@pytest.mark.parametrize("argv, code, words", CLI)
def test_cli_failure_is_one_line_and_a_nonzero_exit(argv, code, words, capsys, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    got, err = run_main(argv, capsys)
    line = one_line(err).lower()
    assert got == code, err
    for w in words:
        assert w.lower() in line, line


def test_cli_save_fails_after_training_says_where_and_why(capsys, tmp_path, monkeypatch):
    def full_disk(self, path):
        raise OSError(28, f"could not save the weights to {path}: No space left on device")
    monkeypatch.setattr(Sequential, "save", full_disk)
    code, err = run_main(QUICK + ["--save", str(tmp_path / "w.npz")], capsys)
    line = one_line(err)
    assert code == 1 and str(tmp_path / "w.npz") in line and "No space left" in line


def test_cli_saves_after_a_good_run(capsys, tmp_path):
    code, err = run_main(QUICK + ["--arch", "one_conv", "--save", str(tmp_path / "w.npz")],
                         capsys)
    assert code == 0 and err == ""
    one_conv_net().load(tmp_path / "w.npz")


def cli_process(*args, **kwargs):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("CNNLIB_TRACEBACK", None)
    return subprocess.Popen([sys.executable, "-m", "cnnlib", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--augment", "-1"],
                                  ["--save", "/nonexistent-folder/w.npz"]])
def test_cli_process_never_prints_a_traceback(argv):
    p = cli_process(*argv)
    out, err = p.communicate(timeout=25)
    assert p.returncode != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def interrupt_after_training_started(p, seconds):
    """Wait for the summary line (training starts right after it), then send Ctrl-C."""
    for line in p.stdout:
        if line.startswith("data:"):
            break
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    return p.communicate(timeout=20)


def test_ctrl_c_saves_the_last_finished_epoch(tmp_path):
    target = tmp_path / "w.npz"
    p = cli_process("--arch", "one_conv", "--epochs", "100000", "--train-size", "64",
                    "--no-progress", "--save", str(target))
    out, err = interrupt_after_training_started(p, 3)
    assert p.returncode == 130 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "interrupted during epoch" in line and "(the last finished) were saved to" in line
    one_conv_net().load(target)
    assert leftovers(tmp_path) == []


def test_ctrl_c_without_save_is_one_line(tmp_path):
    p = cli_process("--arch", "one_conv", "--epochs", "100000", "--train-size", "64",
                    "--no-progress")
    out, err = interrupt_after_training_started(p, 1)
    assert p.returncode == 130 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "nothing saved (no --save)" in line


def children_of(pid):
    """The pids of the running processes whose parent is pid (Linux /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def running(pid):
    """Whether process pid exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or sys.platform != "linux",
                    reason="worker processes and /proc are Linux's")
def test_ctrl_c_during_a_split_training_stops_its_worker(monkeypatch):
    monkeypatch.setenv("CNNLIB_THREADS", "2")
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    p = cli_process("--arch", "lenet", "--batch-size", "64", "--epochs", "100000",
                    "--no-progress")
    for line in p.stdout:
        if line.startswith("data:"):
            break
    deadline, workers = time.monotonic() + 20, []
    while not workers and time.monotonic() < deadline:      # a worker lives during an epoch
        workers = children_of(p.pid)
        time.sleep(0.01)
    assert workers, "no worker process was forked"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130 and "Traceback" not in err
    assert "nothing saved (no --save)" in err
    time.sleep(0.5)
    assert [pid for pid in workers if running(pid)] == [], "worker processes left running"


def test_closed_port_mirror_is_reported(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check_raises(lambda: fetch(NAME, tmp_path, [f"http://127.0.0.1:{port}/"], SHA, timeout=2,
                               progress=False), DownloadError, "could not download", "by hand")
