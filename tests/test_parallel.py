"""The batch split across threads (cnnlib.speed.parallel, the seam cnnlib.speed.steps) and the
threading policy (cnnlib.speed.threads).

The split path is a new way to compute the same gradients, so it gets its own float64
numerical gradient check and is compared with the single-thread path."""

import os
import subprocess
import sys

import numpy as np
import pytest

from cnnlib.speed import parallel, parts, steps, threads
from cnnlib.architectures import lenet, lenet99
from cnnlib.conv import Conv2D
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.layers import Flatten, Linear, ReLU
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.optim import Adam
from cnnlib.pool import MaxPool2D
from cnnlib.train import train_step
from split_support import Recorder, batch


def test_count_parts_keeps_parts_large_enough():
    assert parallel.count_parts(64, 2) == 2
    assert parallel.count_parts(64, 8) == 4          # 64 // MIN_PART = 4
    assert parallel.count_parts(20, 2) == 1          # two parts of 10 are too small
    assert parallel.count_parts(1, 4) == 1
    assert parts.part_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]


def test_replica_shares_parameters_but_not_caches():
    net = lenet(dtype=np.float64)
    twin = parts.replica(net)
    assert twin.layers[0].params["W"] is net.layers[0].params["W"]
    twin.forward(batch(2)[0])
    assert not hasattr(net.layers[0], "x")


def tiny_net():
    return Sequential([Conv2D(1, 2, 3, pad=1, seed=1, dtype=np.float64), ReLU(), MaxPool2D(2),
                       Conv2D(2, 3, 3, pad=1, seed=2, dtype=np.float64), ReLU(), Flatten(),
                       Linear(3 * 4 * 4, 3, seed=3, dtype=np.float64)])


@pytest.mark.parametrize("parts", [2, 3])
def test_split_gradients_pass_a_float64_numerical_check(parts, monkeypatch):
    # 7 images in 2 or 3 parts (unequal sizes): the summed, rescaled part gradients must be
    # the gradient of the mean loss over the whole batch, for every parameter and entry.
    monkeypatch.setattr(parallel, "MIN_PART", 1)
    net = tiny_net()
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 1, 8, 8)), rng.integers(0, 3, 7)
    rec = Recorder(net)
    loss, logits = parallel.train_step_threads(net, x, y, rec, parts=parts)
    assert logits.shape == (7, 3)
    assert loss == pytest.approx(softmax_cross_entropy(net.forward(x), y)[0], rel=1e-12)

    def full_loss():
        return softmax_cross_entropy(net.forward(x), y)[0]

    for name, p in net.named_params().items():
        assert rel_error(rec.grads[name], numerical_gradient(full_loss, p)) < 1e-6, name


def test_split_step_agrees_with_the_single_thread_step():
    net_a, net_b = lenet(seed=3, dtype=np.float64), lenet(seed=3, dtype=np.float64)
    x, y = batch(64, seed=4)
    rec_a, rec_b = Recorder(net_a), Recorder(net_b)
    parallel.train_step_threads(net_a, x, y, rec_a, parts=2)
    logits = net_b.forward(x)
    net_b.backward(softmax_cross_entropy(logits, y)[1])
    rec_b.step()
    for name in rec_b.grads:
        np.testing.assert_allclose(rec_a.grads[name], rec_b.grads[name], rtol=1e-10, atol=1e-13)


def test_split_training_repeats_exactly_and_updates_weights():
    x, y = batch(64, seed=5, dtype=np.float32)
    weights = []
    for _ in range(2):
        net = lenet(seed=0)
        opt = Adam(net)
        for _ in range(3):
            parallel.train_step_threads(net, x, y, opt, parts=2)
        weights.append(net.layers[0].params["W"].copy())
    np.testing.assert_array_equal(weights[0], weights[1])
    assert not np.array_equal(weights[0], lenet(seed=0).layers[0].params["W"])


def test_forward_split_equals_forward():
    net = lenet(seed=2, dtype=np.float64)
    x, _ = batch(50, seed=6)
    np.testing.assert_allclose(parallel.forward_split(net, x, parts=3), net.forward(x),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("parts, chunk", [(1, 16), (2, 7), (3, 64), (4, 1)])
def test_forward_split_in_chunks_equals_forward(parts, chunk):
    net = lenet(seed=3, dtype=np.float64)
    x, _ = batch(50, seed=8)
    expected = net.forward(x)
    cached = net.layers[0].x                 # what backward would use
    np.testing.assert_allclose(parallel.forward_split(net, x, parts, chunk), expected,
                               rtol=1e-12, atol=1e-12)
    assert net.layers[0].x is cached         # the replicas kept their own caches
    assert parallel.forward_split(net, x[:0], parts, chunk).shape == (0, 10)


def test_work_per_sample_counts_the_multiply_adds():
    # lenet: conv 8@3x3 on 28x28, conv 16@3x3 (8 channels) on 14x14, Linear 784->64, 64->10
    expected = 8 * 9 * 28 * 28 + 16 * 8 * 9 * 14 * 14 + 784 * 64 + 64 * 10
    assert parallel.work_per_sample(lenet(), (1, 28, 28)) == expected
    work = parallel.work_per_sample(lenet99(), (1, 28, 28))
    assert parallel.count_parts(64, 2, expected) == 1      # 2 x 32 lenet images: too little
    assert parallel.count_parts(128, 2, expected) == 2
    assert parallel.count_parts(32, 2, work) == 2          # lenet99 carries 9x the work


def test_split_batches_splits_only_batches_with_enough_work_on_threads(monkeypatch):
    monkeypatch.setenv("CNNLIB_SPLIT", "threads")
    calls = []
    split = parallel.train_step_threads
    monkeypatch.setattr(steps, "train_step_threads",
                        lambda *a: calls.append(len(a[1])) or split(*a))
    previous = threads.set_threads(2)
    try:
        net = lenet(seed=0, dtype=np.float64)
        with steps.split_batches(net, train_step) as (step, _, _):
            for n in (64, 128):
                x, y = batch(n, seed=7)
                loss, logits = step(net, x, y, Recorder(net))
                assert loss == pytest.approx(softmax_cross_entropy(logits, y)[0], rel=1e-12)
        assert calls == [128]
    finally:
        threads.set_threads(previous[0])


def test_split_batches_hands_back_train_step_for_a_net_that_is_not_a_sequential():
    with steps.split_batches([Linear(2, 2)], train_step) as (step, _, _):
        assert step is train_step


def test_a_batch_that_does_not_fit_the_net_gets_the_usual_error_with_threads(monkeypatch):
    monkeypatch.setenv("CNNLIB_SPLIT", "threads")
    previous = threads.set_threads(2)
    try:
        net = lenet(seed=0, dtype=np.float64)
        x, y = batch(128, seed=7)
        with pytest.raises(ValueError) as split_error, \
                steps.split_batches(net, train_step) as (step, _, _):
            step(net, x[:, :, :20, :20], y, Recorder(net))
        with pytest.raises(ValueError) as plain_error:
            train_step(net, x[:, :, :20, :20], y, Recorder(net))
        assert str(split_error.value) == str(plain_error.value)
    finally:
        threads.set_threads(previous[0])


def test_a_non_finite_loss_leaves_the_weights_alone():
    net = lenet(seed=0, dtype=np.float64)
    x, y = batch(32)
    x[0, 0, 0, 0] = np.nan
    rec = Recorder(net)
    loss, _ = parallel.train_step_threads(net, x, y, rec, parts=2)
    assert not np.isfinite(loss) and rec.grads is None


def test_threads_come_from_the_environment(monkeypatch):
    previous = threads.set_threads(None)
    try:
        monkeypatch.setenv("CNNLIB_THREADS", "3")
        assert threads.num_threads() == 3
        threads.set_threads(None)
        monkeypatch.delenv("CNNLIB_THREADS")
        assert threads.num_threads() == threads.available_cpus() >= 1
        threads.set_threads(None)
        monkeypatch.setenv("CNNLIB_THREADS", "many")
        with pytest.raises(ValueError, match="CNNLIB_THREADS must be a whole number"):
            threads.num_threads()
    finally:
        monkeypatch.delenv("CNNLIB_THREADS", raising=False)
        threads.set_threads(previous[0])


def test_set_threads_rejects_nonsense():
    with pytest.raises(ValueError, match="integer >= 1"):
        threads.set_threads(0)
    with pytest.raises(ValueError, match="integer >= 1"):
        threads.set_threads(2, blas=1.5)


def test_import_limits_blas_to_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)


FAULTS_SCRIPT = """
import resource, threading
import numpy as np
import cnnlib
from cnnlib.conv import conv2d_fast
rng = np.random.default_rng(0)
w, b = rng.standard_normal((8, 1, 3, 3), dtype=np.float32), np.zeros(8, np.float32)
xs = [rng.standard_normal((32, 1, 28, 28), dtype=np.float32) for _ in range(2)]
def work(x):
    for _ in range(200):
        conv2d_fast(x, w, b, 1, 1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
pair = [threading.Thread(target=work, args=(x,)) for x in xs]
[t.start() for t in pair]
[t.join() for t in pair]
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_keeping_freed_memory_saves_page_faults_in_threads():
    # Two threads convolving like a split training step: with the policy, freed arrays are
    # reused; without it (CNNLIB_THREADS_POLICY=off) glibc maps fresh pages again and again.
    if not threads.keep_freed_memory():
        pytest.skip("no glibc mallopt on this system")
    faults = {}
    for policy in ("on", "off"):
        env = {**os.environ, "CNNLIB_THREADS_POLICY": policy}
        out = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT], env=env, check=True,
                             capture_output=True, text=True).stdout
        faults[policy] = int(out.split()[-1])
    assert faults["on"] * 4 < faults["off"], faults

