"""The batch split on worker processes (cnnlib.speed.workers): the same numbers as the thread
split, a float64 gradient check of its own, errors and interruptions that leave nothing
behind, and the policy that chooses it."""

import multiprocessing

import numpy as np
import pytest

from cnnlib.speed import parallel, steps, threads, workers
from cnnlib.architectures import lenet, lenet99, one_conv_net
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.layers import Layer
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.optim import Adam
from cnnlib.train import fit, train_step
from split_support import Recorder, batch

pytestmark = pytest.mark.skipif(not threads.can_fork(), reason="worker processes need fork")


@pytest.fixture
def two_cores():
    previous = threads.set_threads(2)
    yield
    threads.set_threads(previous[0])


@pytest.mark.parametrize("parts", [2, 3])
def test_worker_gradients_pass_a_float64_numerical_check(parts):
    net = lenet(seed=1, dtype=np.float64, channels=(2, 3), hidden=5)
    x, y = batch(40, seed=2)
    rec = Recorder(net)
    team = workers.WorkerTeam(net, parts, 40, x.shape[1:], x.dtype, 10, np.float64)
    try:
        loss, logits = team.train_step(x, y, rec)
    finally:
        team.close()
    assert logits.shape == (40, 10)
    assert loss == pytest.approx(softmax_cross_entropy(net.forward(x), y)[0], rel=1e-12)
    rng = np.random.default_rng(3)
    for name, p in net.named_params().items():
        # a few entries of every parameter: the numerical gradient of the whole batch's loss
        idx = tuple(rng.integers(0, s) for s in p.shape)
        numeric = numerical_gradient(lambda: softmax_cross_entropy(net.forward(x), y)[0], p)
        assert rel_error(rec.grads[name], numeric) < 1e-6, name
        assert rec.grads[name][idx] == pytest.approx(numeric[idx], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("build, n, dtype", [(lenet, 64, np.float32), (lenet99, 48, np.float32),
                                             (lenet, 50, np.float64)])
def test_workers_compute_exactly_what_the_thread_split_computes(build, n, dtype):
    a, b = build(seed=4, dtype=dtype), build(seed=4, dtype=dtype)
    opt_a, opt_b = Adam(a), Adam(b)
    x, y = batch(4 * n, seed=5, dtype=dtype)
    for i in range(4):
        xb, yb = x[i * n:(i + 1) * n], y[i * n:(i + 1) * n]
        loss_a, logits_a = parallel.train_step_threads(a, xb, yb, opt_a, parts=2)
        loss_b, logits_b = workers.team_for(b, xb, 2).train_step(xb, yb, opt_b)
        assert loss_a == loss_b
        np.testing.assert_array_equal(logits_a, logits_b)
    for (name, p), q in zip(a.named_params().items(), b.named_params().values()):
        np.testing.assert_array_equal(p, q, err_msg=name)
    workers.close_team(b)


def test_a_smaller_last_batch_reuses_the_team_and_a_larger_one_starts_another():
    net = lenet(seed=0)
    opt = Adam(net)
    x, y = batch(96, seed=6, dtype=np.float32)
    first = workers.team_for(net, x[:64], 2)
    first.train_step(x[:64], y[:64], opt)
    assert workers.team_for(net, x[64:96], 2) is first
    bigger = workers.team_for(net, x, 2)
    assert bigger is not first and first.procs == []
    workers.close_team(net)
    assert bigger.procs == []


class FailsOn17(Layer):
    """Passes its input on, but refuses batches of exactly 17 images."""

    def forward(self, x):
        if len(x) == 17:
            raise ValueError("17 images are not allowed here")
        return x

    def backward(self, dout):
        return dout


def test_a_worker_error_is_raised_here_and_the_next_step_starts_new_workers(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 1)
    base = lenet(seed=0, dtype=np.float64, channels=(2, 3), hidden=5)
    net = Sequential(base.layers + [FailsOn17()])
    x, y = batch(33, seed=7)                     # parts of 16 (here) and 17 (the worker)
    team = workers.team_for(net, x, 2)
    with pytest.raises(RuntimeError, match=r"worker process 1 failed: ValueError: .*17 images are not allowed"):
        team.train_step(x, y, Recorder(net))
    assert team.procs == []                      # stopped, not left waiting
    again = workers.team_for(net, x[:32], 2)     # 16 + 16: fine
    assert again is not team
    again.train_step(x[:32], y[:32], Recorder(net))
    workers.close_team(net)


def test_an_interrupted_step_stops_the_workers():
    net = lenet(seed=0)
    x, y = batch(64, seed=8, dtype=np.float32)

    class Interrupting(Recorder):
        def step(self):
            raise KeyboardInterrupt

    team = workers.team_for(net, x, 2)
    procs = list(team.procs)
    with pytest.raises(KeyboardInterrupt):
        team.train_step(x, y, Interrupting(net))
    assert team.procs == [] and not any(p.is_alive() for p in procs)


def test_split_batches_uses_workers_for_batches_with_enough_work(monkeypatch, two_cores):
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    calls = []
    team_for = workers.team_for
    monkeypatch.setattr(steps, "team_for", lambda net, xb, parts: calls.append(len(xb))
                        or team_for(net, xb, parts))
    net = one_conv_net(seed=0, dtype=np.float64)           # 62,192 multiply-adds per image
    with steps.split_batches(net, train_step) as (step, _, _):
        for n in (24, 64, 128):       # under 2 * MIN_PART; parts of 2.0 and 4.0 million
            x, y = batch(n, seed=9)
            loss, logits = step(net, x, y, Recorder(net))
            assert loss == pytest.approx(softmax_cross_entropy(logits, y)[0], rel=1e-12)
        assert calls == [128] and len(multiprocessing.active_children()) == 1
    assert multiprocessing.active_children() == []         # the block stopped the worker


def test_train_step_itself_never_splits(monkeypatch, two_cores):
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    net = one_conv_net(seed=0, dtype=np.float64)
    x, y = batch(128, seed=9)
    train_step(net, x, y, Recorder(net))
    assert multiprocessing.active_children() == []


def test_fit_leaves_no_worker_running(monkeypatch, two_cores):
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    net = lenet(seed=0)
    x, y = batch(256, seed=10, dtype=np.float32)
    seen = []
    fit(net, x, y, epochs=2, batch_size=128, progress=False, callback_every=1,
        callback=lambda h: seen.append(len(multiprocessing.active_children())))
    assert seen == [1, 1, 0, 1, 1, 0]     # a worker during each epoch's 2 steps, none after it
    assert multiprocessing.active_children() == []


def test_split_with_follows_cnnlib_split(monkeypatch):
    monkeypatch.setenv("CNNLIB_SPLIT", "threads")
    assert threads.split_with() == "threads"
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    assert threads.split_with() == "processes"
    monkeypatch.delenv("CNNLIB_SPLIT")
    assert threads.split_with() == "processes"    # the default where fork exists
    monkeypatch.setenv("CNNLIB_SPLIT", "gpu")
    with pytest.raises(ValueError, match="CNNLIB_SPLIT must be 'processes' or 'threads'"):
        threads.split_with()


def test_a_stopped_worker_reports_its_peak_memory():
    net = lenet(seed=0)
    x, y = batch(64, seed=11, dtype=np.float32)
    workers.team_for(net, x, 2).train_step(x, y, Adam(net))
    workers.close_team(net)
    resident, private = workers.worker_peak_memory()
    assert resident > 10                              # MB: a Python process with numpy
    assert 0 < private < resident                     # most pages are shared with this one
