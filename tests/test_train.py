"""Tests for cnnlib.train: the fit loop's history and callbacks, divergence detection,
input checks, Victor Zhou's per-sample SGD setting, and the command line."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlib.data import load_mnist, to_float
from cnnlib.metrics import accuracy
from cnnlib.architectures import lenet, one_conv_net
from cnnlib.optim import SGD, Adam
from cnnlib.train import TrainingDiverged, evaluate, fit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample():
    (x, y), (xt, yt) = load_mnist()
    return to_float(x[:, None]), y, to_float(xt[:, None]), yt


def test_history_has_one_entry_per_epoch(sample):
    x, y, xt, yt = sample
    net = one_conv_net()
    h = fit(net, x[:100], y[:100], epochs=3, batch_size=32, x_val=xt[:50], y_val=yt[:50],
            progress=False)
    for key in ("loss", "acc", "val_loss", "val_acc", "seconds"):
        assert len(h[key]) == 3, key
    assert len(h["batch_loss"]) == 3 * 4                  # ceil(100 / 32) = 4 batches per epoch
    assert h["loss"][-1] < h["loss"][0]
    assert (h["val_loss"][-1], h["val_acc"][-1]) == pytest.approx(evaluate(net, xt[:50], yt[:50]))
    assert fit(one_conv_net(), x[:10], y[:10], epochs=1, progress=False)["val_loss"] == []


def test_fit_is_repeatable(sample):
    x, y = sample[0][:64], sample[1][:64]
    runs = [fit(one_conv_net(seed=1), x, y, epochs=2, batch_size=8, progress=False)["batch_loss"]
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_callback_false_stops_after_that_epoch(sample):
    x, y = sample[0][:40], sample[1][:40]
    seen = []

    def callback(history):
        seen.append(len(history["loss"]))
        return len(history["loss"]) < 2

    h = fit(one_conv_net(), x, y, epochs=5, batch_size=10, progress=False, callback=callback)
    assert seen == [1, 2] and len(h["loss"]) == 2


def test_callback_every_k_batches_can_stop_mid_epoch(sample):
    x, y = sample[0][:100], sample[1][:100]
    calls = []

    def callback(history):
        calls.append(len(history["batch_loss"]))
        return len(history["batch_loss"]) < 6

    h = fit(one_conv_net(), x, y, epochs=3, batch_size=10, progress=False, callback=callback,
            callback_every=3)
    assert calls == [3, 6] and len(h["batch_loss"]) == 6 and len(h["loss"]) == 1


def test_huge_learning_rate_raises_with_a_hint(sample):
    x, y = sample[0][:100], sample[1][:100]
    net = lenet()
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch \d+.*lr=1000 is probably too large: "
                                                 r"divide it by 10 and retry.*until the loss stops exploding"):
        fit(net, x, y, epochs=2, batch_size=10, optimizer=SGD(net, lr=1000.0), progress=False)
    assert issubclass(TrainingDiverged, FloatingPointError)


def test_batch_size_one_and_progress_bar(sample, capsys):
    x, y = sample[0][:30], sample[1][:30]
    h = fit(one_conv_net(), x, y, epochs=1, batch_size=1, optimizer=None, progress=True)
    assert len(h["batch_loss"]) == 30
    assert "epoch 1/1" in capsys.readouterr().err


def test_evaluate_agrees_with_predict(sample):
    _, _, xt, yt = sample
    net = one_conv_net()
    fit(net, sample[0][:200], sample[1][:200], epochs=1, batch_size=20, progress=False)
    loss, acc = evaluate(net, xt[:250], yt[:250], batch_size=100)
    assert acc == pytest.approx(accuracy(net.predict(xt[:250]), yt[:250]))
    p = net.predict_proba(xt[:250])
    assert loss == pytest.approx(-np.log(p[np.arange(250), yt[:250]]).mean(), rel=1e-4)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((4, 1, 28, 28), np.uint8), np.zeros(4, int), "floating-point"),
    (np.zeros((4, 28, 28), np.float32), np.zeros(4, int), r"x\[:, None\]"),
    (np.zeros((4, 1, 28, 28), np.float32), np.zeros(4), "integer labels of shape"),
    (np.zeros((4, 1, 28, 28), np.float32), np.zeros(3, int), "4 images but its labels have 3"),
    (np.zeros((0, 1, 28, 28), np.float32), np.zeros(0, int), "no images"),
])
def test_bad_inputs(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit(one_conv_net(), x, y, progress=False)
    with pytest.raises(ValueError, match=match):
        evaluate(one_conv_net(), x, y)


def test_bad_settings(sample):
    x, y = sample[0][:4], sample[1][:4]
    with pytest.raises(ValueError, match="batch_size"):
        fit(one_conv_net(), x, y, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="x_val and y_val"):
        fit(one_conv_net(), x, y, x_val=x, progress=False)
    with pytest.raises(ValueError, match="needs a callback"):
        fit(one_conv_net(), x, y, callback_every=2, progress=False)


def test_zhou_setting_reaches_78_percent(sample):
    # Victor Zhou's experiment: per-sample SGD, lr 0.005, 3 epochs on the first 1000
    # training images, tested on 1000 test images; they report 78%.
    x, y, xt, yt = sample
    net = one_conv_net()
    fit(net, x[:1000], y[:1000], epochs=3, batch_size=1, optimizer=SGD(net, lr=0.005),
        progress=False)
    assert evaluate(net, xt[:1000], yt[:1000])[1] >= 0.78


def test_adam_default_learns(sample):
    x, y, xt, yt = sample
    net = lenet()
    fit(net, x[:1000], y[:1000], epochs=4, batch_size=32, optimizer=Adam(net), progress=False)
    assert evaluate(net, xt[:500], yt[:500])[1] > 0.75      # about 0.83 for seeds 0-2


# ---------------------------------------------------------------- command line

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cnnlib.train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_end_to_end(tmp_path):
    out = run_cli("--arch", "one_conv", "--optimizer", "sgd", "--lr", "0.005", "--epochs", "1",
                  "--batch-size", "1", "--train-size", "300", "--test-size", "200",
                  "--no-progress", "--report", "--save", str(tmp_path / "w.npz"))
    assert out.returncode == 0, out.stderr
    match = re.search(r"test accuracy: (\d+\.\d\d)% \(200 images\)", out.stdout)
    assert match and 40 < float(match.group(1)) <= 100, out.stdout
    assert "Conv2D(1, 8, 3" in out.stdout and "epoch 1:" in out.stdout
    assert "macro avg" in out.stdout
    one_conv_net().load(tmp_path / "w.npz")


@pytest.mark.parametrize("args, message", [
    (["--arch", "resnet"], "invalid choice: 'resnet'"),
    (["--epochs", "0"], "must be > 0"),
    (["--lr", "fast"], "expected a float"),
    (["--optimizer", "rmsprop"], "invalid choice"),
])
def test_cli_rejects_bad_values(args, message):
    out = run_cli(*args)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_fit_augment_changes_every_training_batch(sample):
    x, y = sample[0][:100], sample[1][:100]
    seen = []

    def blank(xb):
        seen.append(len(xb))
        return np.zeros_like(xb)           # the net only ever sees empty images

    net = one_conv_net()
    fit(net, x, y, epochs=2, batch_size=32, progress=False, augment=blank)
    assert seen == [32, 32, 32, 4] * 2
    assert net.layers[0].x.shape == (4, 1, 28, 28) and not net.layers[0].x.any()


def test_cli_lr_decay_and_augment(tmp_path):
    out = run_cli("--arch", "one_conv", "--epochs", "2", "--train-size", "200", "--test-size",
                  "100", "--lr-decay", "0.5", "--augment", "2", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "lr decay 0.5 per epoch, random shifts up to 2 px" in out.stdout
    assert re.search(r"test accuracy: \d+\.\d\d% \(100 images\)", out.stdout)
    bad = run_cli("--lr-decay", "0")
    assert bad.returncode == 2 and "must be > 0" in bad.stderr


def test_losses_are_plain_python_floats(sample):
    # as documented: history and evaluate give floats, not float32 scalars that print oddly
    x, y, xt, yt = sample
    net = one_conv_net()
    history = fit(net, x[:64], y[:64], epochs=1, batch_size=32, progress=False,
                  x_val=xt[:32], y_val=yt[:32])
    assert all(type(history[k][0]) is float for k in ("loss", "acc", "val_loss", "val_acc"))
    assert type(evaluate(net, xt[:32], yt[:32])[0]) is float


def test_cli_recipe_fills_the_options_and_explicit_ones_win():
    from cnnlib.cli import parse_args
    from cnnlib.recipes import get_recipe
    recipe = get_recipe("lenet99")
    args = parse_args(["--recipe", "lenet99", "--epochs", "1"])
    assert (args.arch, args.lr, args.lr_decay, args.augment, args.batch_size) == \
        (recipe.arch, recipe.lr, recipe.lr_decay, recipe.shift, recipe.batch_size)
    assert args.epochs == 1
    plain = parse_args([])
    assert (plain.arch, plain.epochs, plain.batch_size, plain.augment) == ("lenet", 5, 32, 0)
    out = run_cli("--recipe", "nonsense")
    assert out.returncode == 2 and "invalid choice: 'nonsense'" in out.stderr
