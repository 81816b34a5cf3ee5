"""Checkpoints: a run that is interrupted and resumed ends with the weights, bit for bit, of
a run that never stopped; a damaged or foreign checkpoint is refused and changes nothing."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnlib.architectures import make_net
from cnnlib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cnnlib.data import load_mnist, to_float
from cnnlib.optim import OPTIMIZERS
from cnnlib.recipes import Recipe, train_recipe

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data():
    (x, y), _ = load_mnist()
    return to_float(x[:512, None]), y[:512]


def same_weights(a, b):
    pa, pb = a.named_params(), b.named_params()
    return pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


class Stop(Exception):
    pass


def stop_after(epochs):
    def callback(history):
        if len(history["loss"]) == epochs:
            raise Stop
    return callback


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
def test_stopped_and_resumed_run_equals_the_uninterrupted_one(data, tmp_path, optimizer):
    """Learning-rate decay, random shifts (their generator's state) and the optimizer's
    state (Adam's m, v, t; the velocity) all carry over."""
    x, y = data
    recipe = Recipe(arch="lenet", optimizer=optimizer, lr=2e-3 if optimizer == "adam" else 0.05,
                    lr_decay=0.8, shift=2, epochs=4, batch_size=64)
    whole, h_whole, _ = train_recipe(recipe, x, y)
    path = tmp_path / "run.npz"
    with pytest.raises(Stop):
        train_recipe(recipe, x, y, checkpoint=path, callback=stop_after(2))
    resumed, h_resumed, _ = train_recipe(recipe, x, y, checkpoint=path, resume=True)
    assert same_weights(whole, resumed)
    assert h_resumed["loss"] == h_whole["loss"] and h_resumed["acc"] == h_whole["acc"]
    # and without the checkpoint the second half of the run is a different run
    fresh, _, _ = train_recipe(recipe, x, y, epochs=2)
    assert not same_weights(whole, fresh)


def test_a_finished_run_can_be_taken_further(data, tmp_path):
    x, y = data
    recipe = Recipe(arch="one_conv", epochs=3, batch_size=32)
    longer, _, _ = train_recipe(recipe, x, y, epochs=5)
    path = tmp_path / "run.npz"
    train_recipe(recipe, x, y, checkpoint=path)
    more, history, _ = train_recipe(recipe, x, y, checkpoint=path, resume=True, epochs=5)
    assert same_weights(longer, more) and len(history["loss"]) == 5


def snapshot(net, opt):
    """What a refused load must leave as it was: the weights, the rate, the step count and
    which parameters have optimizer state (none, for the fresh optimizers used here)."""
    return ({k: v.copy() for k, v in net.named_params().items()}, opt.lr, set(opt.state),
            getattr(opt, "t", None))


def unchanged(before, net, opt):
    params, lr, state, t = before
    return (all(np.array_equal(params[k], v) for k, v in net.named_params().items())
            and opt.lr == lr and getattr(opt, "t", None) == t and set(opt.state) == state)


@pytest.fixture
def written(data, tmp_path):
    """A checkpoint of lenet after one epoch with Adam, and a fresh net + optimizer."""
    x, y = data
    recipe = Recipe(arch="lenet", epochs=1)
    path = tmp_path / "run.npz"
    train_recipe(recipe, x, y, checkpoint=path)
    net = make_net("lenet", seed=0)
    opt = OPTIMIZERS["adam"](net, lr=1e-3)
    return path, net, opt, recipe


@pytest.mark.parametrize("damage", ["truncated", "empty", "html", "not_checkpoint"])
def test_a_damaged_checkpoint_is_refused_and_changes_nothing(written, damage):
    path, net, opt, recipe = written
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "html":
        path.write_bytes(b"<!DOCTYPE html><html>moved</html>")
    else:
        net.save(path)          # a weights file, not a checkpoint
    before = snapshot(net, opt)
    with pytest.raises(CheckpointError, match=r"not a (readable )?cnnlib checkpoint"):
        load_checkpoint(path, net, opt, recipe=recipe)
    assert unchanged(before, net, opt)


@pytest.mark.parametrize("other, message", [
    ({"arch": "one_conv"}, "another network"),
    ({"lr": 0.01}, r"recipe differs in lr \(0.001, this run 0.01\)"),
    ({"optimizer": "sgd"}, "its optimizer is Adam, not SGD"),
    ({"shift": 2}, "recipe differs in shift"),
])
def test_a_checkpoint_of_another_run_is_refused_and_changes_nothing(written, other, message):
    path, _, _, recipe = written
    recipe = Recipe(**{**recipe.as_dict(), **other})
    net = make_net(recipe.arch, seed=0)
    opt = OPTIMIZERS[recipe.optimizer](net, lr=recipe.lr)
    before = snapshot(net, opt)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path, net, opt, np.random.default_rng(0) if recipe.shift else None,
                        recipe)
    assert unchanged(before, net, opt)


def test_other_training_data_is_refused(data, written):
    path, _, _, recipe = written
    x, y = data
    with pytest.raises(CheckpointError, match="other data"):
        train_recipe(recipe, x[:256], y[:256], checkpoint=path, resume=True)


def test_a_failed_write_keeps_the_previous_checkpoint_whole(written, monkeypatch):
    path, net, opt, recipe = written
    good = path.read_bytes()

    def broken(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, net, opt, 2, {"loss": [1.0, 0.5]}, recipe=recipe)
    assert path.read_bytes() == good
    assert os.listdir(path.parent) == [path.name]      # no temporary file left


def test_resume_without_a_checkpoint_says_what_to_do(data, tmp_path):
    x, y = data
    with pytest.raises(ValueError, match="resume=True needs checkpoint=PATH"):
        train_recipe(Recipe(arch="one_conv", epochs=1), x, y, resume=True)
    with pytest.raises(FileNotFoundError, match="start the run without resume"):
        train_recipe(Recipe(arch="one_conv", epochs=1), x, y, checkpoint=tmp_path / "no.npz",
                     resume=True)


def cli(*args):
    return [sys.executable, "-m", "cnnlib", "--no-progress", "--arch", "lenet", "--epochs", "4",
            "--augment", "2", "--lr-decay", "0.8", "--train-size", "3000", "--test-size", "100",
            *args]


def test_kill_9_mid_epoch_then_resume_gives_the_same_weights(tmp_path):
    """The command line, killed with SIGKILL (no handler runs) during its second epoch, then
    the same command with --resume: the saved weights equal an uninterrupted run's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ckpt = tmp_path / "run.npz"
    proc = subprocess.Popen(cli("--checkpoint", str(ckpt)), cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        end = time.monotonic() + 120
        while not ckpt.exists():
            assert proc.poll() is None and time.monotonic() < end, proc.stderr.read()
            time.sleep(0.01)
        time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed mid-epoch"
        os.killpg(proc.pid, signal.SIGKILL)      # the training and any worker it forked
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    first = np.load(ckpt)
    assert 1 <= json.loads(str(first["meta"]))["epoch"] < 4
    resumed = subprocess.run(cli("--checkpoint", str(ckpt), "--resume", "--save", "resumed.npz"),
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run(cli("--save", "whole.npz"), cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    a, b = np.load(tmp_path / "resumed.npz"), np.load(tmp_path / "whole.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k]), k
    acc = [line for line in resumed.stdout.splitlines() if line.startswith("test accuracy")]
    assert acc == [line for line in whole.stdout.splitlines() if line.startswith("test accuracy")]


def test_cli_resume_without_checkpoint_is_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cli("--resume"), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "--resume needs --checkpoint PATH" in r.stderr
    r = subprocess.run(cli("--resume", "--checkpoint", "none.npz"), cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no checkpoint at" in r.stderr
