"""The thread split of nets with BatchNorm, Dropout and Residual layers (cnnlib.speed.synced):
the parts meet to use the whole batch's statistics and dropout mask, so a split step computes
what the unsplit step computes, up to float rounding, and repeats exactly."""

import threading

import numpy as np
import pytest

from cnnlib.architectures import make_net
from cnnlib.batchnorm import BatchNorm
from cnnlib.conv import Conv2D
from cnnlib.dropout import Dropout
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.layers import Flatten, Layer, Linear, ReLU
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.optim import Adam, Momentum
from cnnlib.pool import MaxPool2D
from cnnlib.recipes import RECIPES
from cnnlib.residual import Residual
from cnnlib.speed import parallel, parts, steps, synced, threads
from cnnlib.train import train_step
from split_support import Recorder, batch

BEYOND = RECIPES["beyond99"].arch


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 1)


def small_net(dtype=np.float64, p=0.5):
    """BatchNorm on images and on features, dropout inside and outside a residual block."""
    return Sequential([
        Conv2D(1, 4, 3, pad=1, seed=1, dtype=dtype), BatchNorm(4, dtype=dtype), ReLU(),
        Residual([Conv2D(4, 4, 3, pad=1, seed=2, dtype=dtype), BatchNorm(4, dtype=dtype), ReLU(),
                  Dropout(p / 2, seed=5), Conv2D(4, 4, 3, pad=1, seed=3, dtype=dtype),
                  BatchNorm(4, dtype=dtype)]),
        ReLU(), MaxPool2D(2), Flatten(), Linear(4 * 4 * 4, 6, seed=4, dtype=dtype),
        BatchNorm(6, dtype=dtype), ReLU(), Dropout(p, seed=6), Linear(6, 3, seed=7, dtype=dtype)])


def small_batch(n=7, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 8, 8)).astype(dtype), rng.integers(0, 3, n)


def leaves(net):
    return [leaf for layer in net.layers for leaf in getattr(layer, "inner", [layer])]


def spy_on_twins(monkeypatch):
    """Record the replicas of every split step (to read their dropout masks)."""
    seen = []
    real = parallel.synchronise

    def spy(twins, bounds):
        seen.append(twins)
        return real(twins, bounds)

    monkeypatch.setattr(parallel, "synchronise", spy)
    return seen


def assert_same_nets(a, b, rtol, atol):
    for name, p in a.named_params().items():
        np.testing.assert_allclose(b.named_params()[name], p, rtol=rtol, atol=atol,
                                   err_msg=name)
    for name, buf in a.named_buffers().items():            # running mean and var, counters
        np.testing.assert_allclose(b.named_buffers()[name], buf, rtol=rtol, atol=atol,
                                   err_msg=name)


def compare_steps(build, x, y, parts_, optimizer, steps_, rtol, atol, monkeypatch):
    """steps_ unsplit steps on one net and split steps on its copy: same losses, scores,
    dropout masks, parameters and buffers after every step."""
    seen = spy_on_twins(monkeypatch)
    whole, split = build(), build()
    opt_w, opt_s = optimizer(whole), optimizer(split)
    dropouts = [i for i, leaf in enumerate(leaves(whole)) if isinstance(leaf, Dropout)]
    assert dropouts
    for _ in range(steps_):
        loss_w, logits_w = train_step(whole, x, y, opt_w)
        loss_s, logits_s = parallel.train_step_threads(split, x, y, opt_s, parts_)
        assert loss_s == pytest.approx(loss_w, rel=rtol)
        np.testing.assert_allclose(logits_s, logits_w, rtol=rtol, atol=atol)
        for i in dropouts:                                 # the same mask, bit for bit
            masks = [leaves(t)[i].mask for t in seen[-1]]
            assert len(masks) == parts_
            np.testing.assert_array_equal(np.concatenate(masks), leaves(whole)[i].mask)
        assert_same_nets(whole, split, rtol, atol)
    return whole, split


@pytest.mark.parametrize("parts_", [2, 3])
def test_a_split_beyond99_step_is_the_unsplit_step_in_float64(parts_, monkeypatch):
    # Momentum: an update linear in the gradient, so every parameter must agree
    x, y = batch(11, seed=1)
    whole, _ = compare_steps(lambda: make_net(BEYOND, seed=0, dtype=np.float64), x, y, parts_,
                             lambda net: Momentum(net, 0.05), 3, 1e-12, 1e-13, monkeypatch)
    assert int(whole.named_buffers()["14.step"]) == 3            # the counter moved once a step
    assert not np.allclose(whole.named_buffers()["1.running_var"], 1)


@pytest.mark.parametrize("parts_", [2, 3])
def test_a_split_step_of_a_small_net_is_the_unsplit_step(parts_, monkeypatch):
    x, y = small_batch(7)
    compare_steps(small_net, x, y, parts_, lambda net: Momentum(net, 0.1), 4, 1e-12, 1e-13,
                  monkeypatch)


def test_a_split_step_in_float32_is_the_unsplit_step_up_to_rounding(monkeypatch):
    x, y = batch(12, seed=2, dtype=np.float32)
    compare_steps(lambda: make_net(BEYOND, seed=0), x, y, 2, lambda net: Momentum(net, 0.05),
                  2, 2e-4, 2e-5, monkeypatch)


def test_with_adam_only_the_biases_in_front_of_a_batchnorm_move_apart(monkeypatch):
    # A bias just before a BatchNorm has gradient 0 (the mean subtracts it); its rounding
    # noise differs between the split and the unsplit sums, and Adam, which divides by the
    # gradient's size, turns either noise into a step of about lr. They change no score.
    x, y = batch(10, seed=3)
    whole, split = make_net(BEYOND, seed=0, dtype=np.float64), \
        make_net(BEYOND, seed=0, dtype=np.float64)
    opt_w, opt_s = Adam(whole, 1e-3), Adam(split, 1e-3)
    for _ in range(3):
        loss_w, logits_w = train_step(whole, x, y, opt_w)
        loss_s, logits_s = parallel.train_step_threads(split, x, y, opt_s, 2)
        assert loss_s == pytest.approx(loss_w, rel=1e-12)
        np.testing.assert_allclose(logits_s, logits_w, rtol=1e-9, atol=1e-11)
    grads = whole.named_grads()
    before_bn = {f"{i}.b" for i, layer in enumerate(whole.layers[:-1])
                 if "b" in layer.params and isinstance(whole.layers[i + 1], BatchNorm)}
    before_bn |= {f"8.{j}.b" for j in (0, 3)}                   # inside the residual block
    largest = max(np.abs(g).max() for g in grads.values())
    for name in before_bn:
        assert np.abs(grads[name]).max() < 1e-12 * largest, name
    for name, p in whole.named_params().items():
        if name not in before_bn:
            np.testing.assert_allclose(split.named_params()[name], p, rtol=1e-9, atol=1e-11,
                                       err_msg=name)
    for name, buf in whole.named_buffers().items():
        np.testing.assert_allclose(split.named_buffers()[name], buf, rtol=1e-9, atol=1e-11)


def assert_whole_batch_gradients(net, x, y, loss, grads):
    """A split step's loss and gradients (of small_net on x, y) are the whole batch's, with
    the dropout masks the step drew: float64 numerical gradient check."""
    drops = [leaf for leaf in leaves(net) if isinstance(leaf, Dropout)]

    def full_loss():                     # the whole batch, with the masks the step drew
        for d in drops:
            d.buffers["step"][...] = 0
        return softmax_cross_entropy(net.forward(x), y)[0]

    assert loss == pytest.approx(full_loss(), rel=1e-12)
    for name, p in net.named_params().items():
        expected = numerical_gradient(full_loss, p)
        if name in ("0.b", "3.0.b", "3.4.b", "7.b"):     # biases in front of a BatchNorm:
            assert np.abs(expected).max() < 1e-9         # the mean takes them out, gradient 0
            assert np.abs(grads[name]).max() < 1e-14, name
        else:
            assert rel_error(grads[name], expected) < 1e-6, name


@pytest.mark.parametrize("parts_", [2, 3])
def test_split_gradients_pass_a_float64_numerical_check(parts_):
    net = small_net()
    x, y = small_batch(7, seed=4)
    rec = Recorder(net)
    loss, _ = parallel.train_step_threads(net, x, y, rec, parts=parts_)
    assert_whole_batch_gradients(net, x, y, loss, rec.grads)


def test_two_split_runs_are_bit_identical():
    x, y = batch(16, seed=5, dtype=np.float32)
    runs = []
    for _ in range(2):
        net = make_net(BEYOND, seed=0)
        opt = Adam(net, 3e-3)
        losses = [parallel.train_step_threads(net, x, y, opt, 3)[0] for _ in range(3)]
        runs.append((losses, net.named_params(), net.named_buffers()))
    assert runs[0][0] == runs[1][0]
    for a, b in ((runs[0][1], runs[1][1]), (runs[0][2], runs[1][2])):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_eval_mode_splits_as_before_and_changes_no_buffer(monkeypatch):
    x, y = small_batch(9, seed=6)
    whole, split = small_net().eval(), small_net().eval()
    for net in (whole, split):
        for leaf in leaves(net):
            if isinstance(leaf, BatchNorm):
                leaf.buffers["running_var"][:] = 2.0
    before = {k: v.copy() for k, v in split.named_buffers().items()}
    rec_w, rec_s = Recorder(whole), Recorder(split)
    train_step(whole, x, y, rec_w)
    parallel.train_step_threads(split, x, y, rec_s, 3)
    for name in rec_w.grads:
        np.testing.assert_allclose(rec_s.grads[name], rec_w.grads[name], rtol=1e-10, atol=1e-13)
    for name, buf in split.named_buffers().items():
        np.testing.assert_array_equal(buf, before[name])
    assert synced.synchronise([parts.replica(split) for _ in range(2)], [(0, 4), (4, 9)]) == []


def test_forward_split_runs_unsplit_in_training_mode():
    x, _ = small_batch(20, seed=7)
    a, b = small_net(), small_net()
    assert synced.needs_whole_batch(a)
    np.testing.assert_array_equal(parallel.forward_split(a, x, parts=2), b.forward(x))
    assert not synced.needs_whole_batch(a.eval())


def test_a_nan_loss_returns_without_update():
    net = make_net(BEYOND, seed=0, dtype=np.float64)
    x, y = batch(12, seed=8)
    x[0, 0, 0, 0] = np.nan
    rec = Recorder(net)
    loss, _ = parallel.train_step_threads(net, x, y, rec, parts=2)
    assert not np.isfinite(loss) and rec.grads is None


def run_with_timeout(fn, seconds=60):
    """fn() on a thread; fails if it has not ended after `seconds` (a part left waiting)."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as err:
            out["error"] = err

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "a part is still waiting for the others"
    return out


def test_an_infinite_loss_in_one_part_only_stops_every_part(monkeypatch):
    # part 3 of 3 (3 of the 7 images) reports an infinite loss; the other two must not
    # wait in backward for it, and nothing is updated
    real = parts.softmax_cross_entropy

    def loss_fn(logits, y):
        loss, d = real(logits, y)
        return (np.inf if len(y) == 3 else loss), d

    monkeypatch.setattr(parts, "softmax_cross_entropy", loss_fn)
    net = small_net()
    x, y = small_batch(7, seed=9)
    rec = Recorder(net)
    out = run_with_timeout(lambda: parallel.train_step_threads(net, x, y, rec, 3))
    assert not np.isfinite(out["value"][0]) and rec.grads is None


class FailsOnThree(Layer):
    def forward(self, x):
        if len(x) == 3:
            raise ValueError("three images")
        return x

    def backward(self, dout):
        return dout


def test_an_error_in_one_part_is_raised_and_no_part_waits():
    net = Sequential([Flatten(), Linear(64, 5, seed=1, dtype=np.float64),
                      BatchNorm(5, dtype=np.float64), FailsOnThree(), Linear(5, 5, seed=2,
                                                                           dtype=np.float64),
                      BatchNorm(5, dtype=np.float64), Linear(5, 3, seed=3, dtype=np.float64)])
    x, y = small_batch(7, seed=10)
    out = run_with_timeout(lambda: parallel.train_step_threads(net, x, y, Recorder(net), 3))
    assert isinstance(out["error"], ValueError) and str(out["error"]) == "three images"


def test_a_batchnorm_on_one_number_per_part_uses_the_whole_batch():
    # 2 images in 2 parts: each part alone has 1 number per feature, the batch has 2
    net = Sequential([Flatten(), Linear(64, 4, seed=1, dtype=np.float64),
                      BatchNorm(4, dtype=np.float64), Linear(4, 3, seed=2, dtype=np.float64)])
    twin = Sequential([Flatten(), Linear(64, 4, seed=1, dtype=np.float64),
                       BatchNorm(4, dtype=np.float64), Linear(4, 3, seed=2, dtype=np.float64)])
    x, y = small_batch(2, seed=11)
    loss, _ = parallel.train_step_threads(net, x, y, Recorder(net), 2)
    assert loss == pytest.approx(train_step(twin, x, y, Recorder(twin))[0], rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 numbers per feature"):
        parallel.train_step_threads(net, x[:1], y[:1], Recorder(net), 2)


class OtherBatchNorm(BatchNorm):
    """A subclass may compute something else: the split must not replace it."""


def test_a_layer_with_buffers_but_no_twin_is_not_split():
    net = Sequential([Flatten(), Linear(64, 4, seed=1), OtherBatchNorm(4), Linear(4, 3)])
    assert not synced.can_synchronise(net) and synced.can_synchronise(small_net())
    with pytest.raises(ValueError, match="only BatchNorm and Dropout"):
        parallel.train_step_threads(net, *small_batch(8, dtype=np.float32), Recorder(net), 2)
    with steps.split_batches(net, train_step) as (step, _, _):
        assert step is train_step


@pytest.mark.parametrize("split", ["threads", "processes"])
def test_split_batches_splits_a_batchnorm_net_the_way_asked(monkeypatch, split):
    if split == "processes" and not threads.can_fork():
        pytest.skip("worker processes need fork (Linux)")
    monkeypatch.setenv("CNNLIB_SPLIT", split)
    calls = []
    used, unused = {"threads": ("train_step_threads", "team_for"),
                    "processes": ("team_for", "train_step_threads")}[split]
    real = getattr(steps, used)
    monkeypatch.setattr(steps, used, lambda *a: calls.append(len(a[1])) or real(*a))
    monkeypatch.setattr(steps, unused, lambda *a: pytest.fail(f"{unused} was asked"))
    previous = threads.set_threads(2)
    try:
        net, twin = make_net(BEYOND, seed=0), make_net(BEYOND, seed=0)
        x, y = batch(128, seed=12, dtype=np.float32)
        with steps.split_batches(net, train_step) as (step, _, _):
            loss, _ = step(net, x, y, Recorder(net))
        assert calls == [128]
        assert loss == pytest.approx(train_step(twin, x, y, Recorder(twin))[0], rel=1e-5)
    finally:
        threads.set_threads(previous[0])


def test_work_per_sample_counts_the_residual_block():
    net = make_net(BEYOND, seed=0)
    block = 2 * 32 * 32 * 9 * 7 * 7          # two 3x3 convolutions, 32 -> 32 maps of 7x7
    plain = make_net("lenet99_bn", seed=0)
    assert parallel.work_per_sample(net, (1, 28, 28)) == \
        parallel.work_per_sample(plain, (1, 28, 28)) + block


def test_a_batch_that_does_not_fit_gets_the_unsplit_error(monkeypatch):
    monkeypatch.setenv("CNNLIB_SPLIT", "threads")
    monkeypatch.setattr(steps, "parts_for", lambda *a: 2)      # split even the wrong size
    previous = threads.set_threads(2)
    try:
        net = make_net(BEYOND, seed=0, dtype=np.float64)
        x, y = batch(64, seed=13)
        with pytest.raises(ValueError) as split_error, \
                steps.split_batches(net, train_step) as (step, _, _):
            out = run_with_timeout(lambda: step(net, x[:, :, :20, :20], y, Recorder(net)))
            raise out["error"]
        with pytest.raises(ValueError) as plain_error:
            train_step(net, x[:, :, :20, :20], y, Recorder(net))
        # the same words, about the part of 32 images that reached the layer first
        assert str(split_error.value) == str(plain_error.value).replace("(64,", "(32,")
        assert "1568" in str(plain_error.value)
    finally:
        threads.set_threads(previous[0])


def test_a_dropout_net_that_does_not_fit_gets_the_unsplit_error_once(monkeypatch):
    monkeypatch.setenv("CNNLIB_SPLIT", "threads")
    monkeypatch.setattr(steps, "parts_for", lambda *a: 2)
    previous = threads.set_threads(2)
    try:
        def build():
            return Sequential([Conv2D(1, 2, 3, pad=1, seed=1, dtype=np.float64), ReLU(),
                               Dropout(0.5), Flatten(), Linear(2 * 8 * 8, 3, seed=2,
                                                                 dtype=np.float64)])
        x, y = small_batch(8, seed=14)
        big = np.zeros((8, 1, 10, 10))
        big[:, :, :8, :8] = x
        net = build()
        with pytest.raises(ValueError) as split_error, \
                steps.split_batches(net, train_step) as (step, _, _):
            step(net, big, y, Recorder(net))
        with pytest.raises(ValueError) as plain_error:
            train_step(build(), big, y, Recorder(net))
        assert "8x8" in str(plain_error.value)
        assert str(split_error.value) == str(plain_error.value).replace("(8,", "(4,")
    finally:
        threads.set_threads(previous[0])


@pytest.mark.parametrize("x_dtype, bn_dtype, shape", [
    (np.float32, np.float32, (6, 3, 5, 4)), (np.float64, np.float64, (6, 3, 5, 4)),
    (np.float32, np.float64, (6, 3, 5, 4)), (np.float64, np.float32, (7, 5)),
    (np.float32, np.float32, (7, 5))])
def test_the_batchnorm_twin_computes_its_formula_bit_for_bit(x_dtype, bn_dtype, shape):
    """SyncBatchNorm writes its products into arrays it already made: the numbers are those
    of the formula written as whole expressions (one part: the meeting's totals are the
    part's own sums), for every mix of dtypes; the images' memory order (batch-last, as
    the convolutions leave it) and the gradient it was given (a Residual's skip may hold it
    too) are left as they were."""
    rng = np.random.default_rng(3)
    order = (1, 2, 3, 0) if len(shape) == 4 else (0, 1)
    x = np.ascontiguousarray(rng.standard_normal(shape).astype(x_dtype).transpose(order))
    x = x.transpose(np.argsort(order))
    g = rng.standard_normal(shape).astype(x_dtype)
    bn = BatchNorm(shape[1], dtype=bn_dtype)
    bn.params["gamma"][:], bn.params["beta"][:] = rng.random(shape[1]), rng.random(shape[1])
    twin = synced._twin(synced.SyncBatchNorm, bn, meeting=synced.Meeting(1), part=0)
    out, g_before = twin.forward(x), g.copy()
    dx = twin.backward(g)

    shaped, m = synced._shaped, x.size // x.shape[1]
    mu = synced._sums(x) / m
    xc = x - shaped(mu, x).astype(x.dtype)
    var = synced._sums(xc * xc) / m
    inv_std = 1 / np.sqrt(var + x.dtype.type(bn.eps))
    xhat = xc * shaped(inv_std, x).astype(x.dtype)
    want = shaped(bn.params["gamma"], x) * xhat + shaped(bn.params["beta"], x)
    dgamma, dbeta = synced._sums(g * xhat), synced._sums(g)
    scale = shaped(bn.params["gamma"] * inv_std.astype(x.dtype), g)
    want_dx = scale / m * (m * g - shaped(dbeta, g) - xhat * shaped(dgamma, g))
    for got, expected in ((out, want), (dx, want_dx), (twin.grads["gamma"], dgamma),
                          (twin.grads["beta"], dbeta)):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(g, g_before)
    assert out.strides == want.strides
