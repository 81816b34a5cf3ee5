"""The worker-process split of nets with BatchNorm, Dropout and Residual layers: the parts meet
across processes (cnnlib.speed.shared) and compute what the thread split computes, bit for
bit; a part that fails, is interrupted or is killed leaves no part waiting."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from cnnlib.architectures import make_net
from cnnlib.batchnorm import BatchNorm
from cnnlib.dropout import Dropout
from cnnlib.layers import Flatten, Layer, Linear
from cnnlib.model import Sequential, SizeHint
from cnnlib.optim import Adam
from cnnlib.recipes import RECIPES
from cnnlib.speed import parallel, shared, steps, threads, workers
from cnnlib.speed.threads import can_fork
from cnnlib.train import train_step
from split_support import Recorder, batch
from test_parallel_batchnorm import (assert_whole_batch_gradients, run_with_timeout, small_batch,
                                     small_net)

pytestmark = pytest.mark.skipif(not can_fork(), reason="worker processes need fork (Linux)")
BEYOND = RECIPES["beyond99"].arch


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 1)


def run(net, batches, parts, how, optimizer):
    """Train net on batches (x, y; a batch of parts=1 runs unsplit), each split in `parts` on
    threads or processes; (loss, logits) of each step."""
    out = []
    for x, y in batches:
        with SizeHint(net, x):
            if len(x) < 4:
                out.append(train_step(net, x, y, optimizer))
            elif how == "threads":
                out.append(parallel.train_step_threads(net, x, y, optimizer, parts))
            else:
                out.append(workers.team_for(net, x, parts).train_step(x, y, optimizer))
    workers.close_team(net)
    return out


@pytest.mark.parametrize("parts_", [2, 3])
def test_processes_compute_bit_for_bit_what_threads_compute(parts_):
    # small batches; an unsplit step between two that reuse a team (the dropout counter
    # moves in this process only); an evaluation in between (a mode change: a new team)
    batches = [small_batch(n, seed=s) for n, s in [(7, 1), (9, 2), (3, 3), (8, 4), (9, 5)]]
    results = {}
    for how in ("threads", "processes"):
        net = small_net()
        opt = Adam(net, 0.01)
        out = run(net, batches[:4], parts_, how, opt)
        net.eval()
        out.append((0.0, net.forward(batches[0][0])))
        net.train()
        out += run(net, batches[4:], parts_, how, opt)
        results[how] = net, out
    (a, out_a), (b, out_b) = results["threads"], results["processes"]
    for (la, za), (lb, zb) in zip(out_a, out_b):
        assert la == lb and np.array_equal(za, zb)
    for kind in ("named_params", "named_buffers"):
        theirs = getattr(b, kind)()
        for name, value in getattr(a, kind)().items():
            assert np.array_equal(value, theirs[name]), (kind, name)
    assert int(a.named_buffers()["10.step"]) == 5          # once per training step


def test_the_beyond99_net_splits_on_processes_as_on_threads_in_float32():
    x, y = batch(64, seed=5, dtype=np.float32)
    batches = [(x, y), (x[::-1].copy(), y[::-1].copy())]
    outs, nets = [], []
    for how in ("threads", "processes"):
        net = make_net(BEYOND, seed=0)
        outs.append(run(net, batches, 2, how, Adam(net, 3e-3)))
        nets.append(net)
    assert all(la == lb and np.array_equal(za, zb) for (la, za), (lb, zb) in zip(*outs))
    theirs = nets[1].named_params()
    assert all(np.array_equal(v, theirs[k]) for k, v in nets[0].named_params().items())


def test_process_split_gradients_pass_a_float64_numerical_check():
    net = small_net()
    x, y = small_batch(7, seed=4)
    rec = Recorder(net)
    with SizeHint(net, x):
        loss, _ = workers.team_for(net, x, 2).train_step(x, y, rec)
    workers.close_team(net)
    assert_whole_batch_gradients(net, x, y, loss, rec.grads)


def test_starting_a_team_moves_no_running_statistic_or_batch_counter():
    net = make_net(BEYOND, seed=0)
    before = {k: v.copy() for k, v in net.named_buffers().items()}
    x, _ = batch(64, seed=6, dtype=np.float32)
    workers.team_for(net, x, 2)
    workers.close_team(net)
    assert all(np.array_equal(v, before[k]) for k, v in net.named_buffers().items())


class Fails(Layer):
    """Raises `error` on a part of `size` images (part 0 runs here, the others in workers),
    or kills its own process."""

    def __init__(self, size, error):
        super().__init__()
        self.size, self.error = size, error

    def forward(self, x):
        if len(x) == self.size:
            if self.error == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise self.error
        return x

    def backward(self, dout):
        return dout


def failing_net(size, error):
    return Sequential([Flatten(), Linear(64, 5, seed=1, dtype=np.float64),
                       BatchNorm(5, dtype=np.float64), Fails(size, error),
                       Linear(5, 5, seed=2, dtype=np.float64), BatchNorm(5, dtype=np.float64),
                       Dropout(0.5, seed=3), Linear(5, 3, seed=4, dtype=np.float64)])


def fails_then_recovers(net, x, y, parts_=2):
    """A step that fails (its outcome, within a time limit: no part left waiting), then the
    same net on a batch that does not fail, which must start new workers."""
    team = workers.team_for(net, x, parts_)
    procs = list(team.procs)
    out = run_with_timeout(lambda: team.train_step(x, y, Recorder(net)), seconds=30)
    assert team.procs == [] and not any(p.is_alive() for p in procs)
    x2, y2 = small_batch(10, seed=13)                    # parts of 5: nothing fails
    again = workers.team_for(net, x2, 2)
    assert again is not team
    again.train_step(x2, y2, Recorder(net))
    workers.close_team(net)
    return out


def test_an_error_in_a_worker_is_raised_here_and_no_part_waits():
    x, y = small_batch(7, seed=10)                       # parts of 3 (here) and 4 (the worker)
    out = fails_then_recovers(failing_net(4, ValueError("four images")), x, y)
    assert isinstance(out["error"], RuntimeError)
    assert "worker process 1 failed: ValueError: four images" in str(out["error"])


def test_an_error_here_is_raised_and_no_worker_waits():
    x, y = small_batch(7, seed=10)
    out = fails_then_recovers(failing_net(3, ValueError("three images")), x, y)
    assert isinstance(out["error"], ValueError) and str(out["error"]) == "three images"


def test_an_interrupted_step_stops_the_waiting_workers():
    x, y = small_batch(7, seed=10)
    out = fails_then_recovers(failing_net(3, KeyboardInterrupt()), x, y)
    assert isinstance(out["error"], KeyboardInterrupt)


def test_a_worker_killed_mid_step_is_noticed_and_raised(monkeypatch):
    monkeypatch.setattr(shared, "POLL_S", 0.05)
    x, y = small_batch(7, seed=10)
    start = time.monotonic()
    out = fails_then_recovers(failing_net(4, "kill"), x, y)
    assert isinstance(out["error"], (RuntimeError, EOFError)), out
    assert "worker process 1 stopped" in str(out["error"])
    assert time.monotonic() - start < 20


class OtherBatchNorm(BatchNorm):
    """A subclass may compute something else: the workers must not replace it."""


def test_worker_processes_refuse_a_layer_with_buffers_but_no_twin():
    net = Sequential([Flatten(), Linear(64, 4, seed=1), OtherBatchNorm(4), Linear(4, 3)])
    with pytest.raises(ValueError, match="train it with cnnlib.train.train_step"):
        workers.WorkerTeam(net, 2, 64, (1, 8, 8), np.float32, 3, np.float32)


# ProcessBarrier and ProcessMeeting on their own

def in_child(fn):
    """Run fn() in a forked child process; returns the process."""
    import multiprocessing
    proc = multiprocessing.get_context("fork").Process(target=fn, daemon=True)
    proc.start()
    return proc


@pytest.mark.parametrize("spin", [0.0, shared.SPIN_S, 1.0])
def test_a_meeting_adds_in_part_order_over_many_rounds(monkeypatch, spin):
    # spin 0: every early part sleeps at a gate; 1 s: every early part watches the counter
    monkeypatch.setattr(shared, "SPIN_S", spin)
    parts_, rounds = 3, 200
    meeting = shared.ProcessMeeting(parts_, 256)
    results = shared.Shared({"ok": ((parts_,), np.int64)})

    def values(k, r):
        rng = np.random.default_rng((k, r))
        return rng.normal(size=5).astype(np.float32), np.array(r * 10 + k)

    def part(k):
        for r in range(rounds):
            total = meeting.meet(k, *values(k, r))
            first = [v.copy() for v in values(0, r)]
            for j in range(1, parts_):
                for t, v in zip(first, values(j, r)):
                    t += v
            if not all(np.array_equal(t, e) for t, e in zip(total, first)):
                return
        results["ok"][k] = 1

    procs = [in_child(lambda k=k: part(k)) for k in range(1, parts_)]
    part(0)
    for proc in procs:
        proc.join(30)
    assert results["ok"].tolist() == [1] * parts_


def test_abort_wakes_a_waiting_part_and_breaks_every_later_wait():
    barrier = shared.ProcessBarrier(2)
    out = run_with_timeout(lambda: (threading.Timer(0.2, barrier.abort).start(),
                                    barrier.wait()), seconds=10)
    assert isinstance(out["error"], threading.BrokenBarrierError)
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait()


def test_a_waiting_part_asks_check_and_stops_on_its_error(monkeypatch):
    monkeypatch.setattr(shared, "POLL_S", 0.05)
    barrier = shared.ProcessBarrier(2)
    asked = []

    def check():
        asked.append(1)
        if len(asked) == 3:
            raise RuntimeError("the partner has gone")

    barrier.check = check
    out = run_with_timeout(barrier.wait, seconds=10)
    assert str(out["error"]) == "the partner has gone" and len(asked) == 3


# Turning and shifting a batch split across the processes (cnnlib.augment.TurnAndShift)

def test_turn_and_shift_draws_and_moves_as_random_rotations_then_random_shifts():
    from cnnlib.augment import TurnAndShift, random_rotations, random_shifts
    mine, theirs = np.random.default_rng(3), np.random.default_rng(3)
    augment = TurnAndShift(mine, 10.0, 2)
    for n in (5, 8):
        x, _ = batch(n, seed=n, dtype=np.float32)
        expected = random_shifts(random_rotations(x, theirs, 10.0), theirs, 2)
        assert np.array_equal(augment(x), expected)
    assert mine.bit_generator.state == theirs.bit_generator.state


def test_each_part_turned_alone_is_its_rows_of_the_whole_batch():
    from cnnlib.augment import TurnAndShift
    augment = TurnAndShift(np.random.default_rng(4), 15.0, 3)
    x, _ = batch(9, seed=9, dtype=np.float32)
    draws = augment.draw(9)
    whole = augment.apply(x, draws)
    parts = [augment.apply(x[a:b], augment.rows(draws, a, b)) for a, b in [(0, 4), (4, 9)]]
    assert np.array_equal(np.concatenate(parts), whole)


class Recorded:
    """A TurnAndShift that writes the pid of every process that applies it to shared memory."""

    def __init__(self, inner):
        self.inner, self.pids = inner, shared.Shared({"pids": ((8,), np.int64)})
        self.draw, self.rows = inner.draw, inner.rows

    def apply(self, xb, draws):
        pids = self.pids["pids"]
        pids[np.flatnonzero(pids == 0)[0]] = os.getpid()
        return self.inner.apply(xb, draws)

    def __call__(self, xb):
        return self.apply(xb, self.draw(len(xb)))


def split_augment(augment, x, monkeypatch):
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    monkeypatch.setattr(steps, "parts_for", lambda *a: 2)
    net = make_net(BEYOND, seed=0)
    with steps.split_batches(net, train_step, augment) as (_, turn, _):
        assert turn is not augment
        return run_with_timeout(lambda: turn(x), seconds=30), net


def test_split_batches_turns_each_part_in_its_own_process(monkeypatch):
    from cnnlib.augment import TurnAndShift
    x, _ = batch(16, seed=16, dtype=np.float32)
    expected = TurnAndShift(np.random.default_rng(5))(x)
    augment = Recorded(TurnAndShift(np.random.default_rng(5)))
    out, _ = split_augment(augment, x, monkeypatch)
    assert np.array_equal(out["value"], expected)
    pids = augment.pids["pids"][augment.pids["pids"] > 0]
    assert len(pids) == 2 and os.getpid() in pids and len(set(pids)) == 2


class FailsInAWorker(Recorded):
    def apply(self, xb, draws):
        if os.getpid() != self.pids["pids"][7]:
            raise ValueError("no turning here")
        return self.inner.apply(xb, draws)


def test_an_augmentation_error_in_a_worker_is_raised_here(monkeypatch):
    from cnnlib.augment import TurnAndShift
    augment = FailsInAWorker(TurnAndShift(np.random.default_rng(6)))
    augment.pids["pids"][7] = os.getpid()
    x, _ = batch(16, seed=17, dtype=np.float32)
    out, net = split_augment(augment, x, monkeypatch)
    assert isinstance(out["error"], RuntimeError)
    assert "worker process 1 failed: ValueError: no turning here" in str(out["error"])
    assert net not in workers._teams or not workers._teams[net].procs


def test_fit_with_augmentation_on_processes_is_fit_on_threads_bit_for_bit(monkeypatch):
    from cnnlib.augment import TurnAndShift
    from cnnlib.train import fit
    x, y = batch(192, seed=18, dtype=np.float32)
    previous = threads.set_threads(2)
    nets, histories = [], []
    try:
        for split in ("threads", "processes"):
            monkeypatch.setenv("CNNLIB_SPLIT", split)
            net = make_net(BEYOND, seed=0)
            histories.append(fit(net, x, y, epochs=2, batch_size=96, optimizer=Adam(net, 3e-3),
                                 progress=False, augment=TurnAndShift(np.random.default_rng(7))))
            nets.append(net)
    finally:
        threads.set_threads(previous[0])
    assert histories[0]["batch_loss"] == histories[1]["batch_loss"]
    theirs = nets[1].named_params()
    assert all(np.array_equal(v, theirs[k]) for k, v in nets[0].named_params().items())


# The next batch turned ahead: the workers turn their rows of it while this process adds the
# gradients and updates (cnnlib.speed.steps reads the batches one ahead)

def count_turned_ahead(monkeypatch):
    """A list that gets an entry for every batch the workers turned ahead and augment used."""
    turned = []
    real = workers.WorkerTeam._turned_ahead
    monkeypatch.setattr(workers.WorkerTeam, "_turned_ahead",
                        lambda team, *a: turned.append(1) or real(team, *a))
    return turned


def through_the_seam(split, scenario, monkeypatch, seed=20, hook=None):
    """scenario(step, augment, batches, rng, net, opt) run in split_batches on `split`, on four
    batches of 16 digits; returns (its losses, the weights, the augmentation's generator state,
    how many batches the workers turned ahead). hook(team), if given, runs after every step."""
    from cnnlib.augment import TurnAndShift
    monkeypatch.setenv("CNNLIB_SPLIT", split)
    monkeypatch.setattr(steps, "parts_for", lambda *a: 2)
    turned = count_turned_ahead(monkeypatch)
    x, y = batch(64, seed=seed, dtype=np.float32)
    net = make_net(BEYOND, seed=0)
    opt, rng = Adam(net, 3e-3), np.random.default_rng(seed)
    given = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]

    def go():
        with steps.split_batches(net, train_step, TurnAndShift(rng), iter(given)) as (
                step, augment, batches):
            def stepped(*args):
                out = step(*args)
                if hook is not None and split == "processes":
                    hook(workers._teams[net])
                return out
            return scenario(stepped, augment, batches, rng, net, opt)

    out = run_with_timeout(go)
    assert "error" not in out, out.get("error")
    return out["value"], net.named_params(), rng.bit_generator.state, len(turned)


def same_through_the_seam(scenario, monkeypatch, ahead, **kwargs):
    """The scenario gives the same losses, weights and generator state on processes as on
    threads (which turn nothing ahead), and the workers turned `ahead` batches ahead."""
    losses_t, params_t, rng_t, _ = through_the_seam("threads", scenario, monkeypatch, **kwargs)
    losses_p, params_p, rng_p, turned = through_the_seam("processes", scenario, monkeypatch,
                                                         **kwargs)
    assert losses_p == losses_t and len(losses_t) > 0
    assert all(np.array_equal(v, params_p[k]) for k, v in params_t.items())
    assert rng_p == rng_t
    assert turned == ahead


def every_batch(step, augment, batches, rng, net, opt):
    return [step(net, augment(xb), yb, opt)[0] for xb, yb in batches]


def test_the_next_batch_turned_ahead_gives_the_same_numbers(monkeypatch):
    same_through_the_seam(every_batch, monkeypatch, ahead=3)   # batches 2-4 turned ahead


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_all_rows_or_none_turned_ahead_give_the_same_numbers(monkeypatch, share):
    def hook(team):             # 0: this process turns every row; 1: the worker does
        team.ahead_share = share
    same_through_the_seam(every_batch, monkeypatch, ahead=3, hook=hook)


def test_a_draw_from_the_generator_between_steps_is_noticed(monkeypatch):
    def drawing_between(step, augment, batches, rng, net, opt):
        out = []
        for i, (xb, yb) in enumerate(batches):
            if i == 2:
                rng.random()        # another user of the generator: the draws made ahead
            out.append(step(net, augment(xb), yb, opt)[0])     # for batch 3 are not its
        return out
    same_through_the_seam(drawing_between, monkeypatch, ahead=2)


def test_a_batch_that_is_not_the_one_read_ahead_is_turned_afresh(monkeypatch):
    def another(step, augment, batches, rng, net, opt):
        return [step(net, augment(xb[::-1].copy() if i == 1 else xb), yb, opt)[0]
                for i, (xb, yb) in enumerate(batches)]
    same_through_the_seam(another, monkeypatch, ahead=2)


def test_a_batch_left_unturned_leaves_no_reply_behind(monkeypatch):
    def skips(step, augment, batches, rng, net, opt):
        return [step(net, xb if i == 1 else augment(xb), yb, opt)[0]
                for i, (xb, yb) in enumerate(batches)]
    same_through_the_seam(skips, monkeypatch, ahead=2)


def test_stopping_early_leaves_the_generator_where_unsplit_training_leaves_it(monkeypatch):
    def one_step(step, augment, batches, rng, net, opt):
        xb, yb = next(batches)
        return [step(net, augment(xb), yb, opt)[0]]            # batch 2's draws made ahead
    same_through_the_seam(one_step, monkeypatch, ahead=0)


def test_an_error_turning_ahead_is_raised_at_the_next_augment(monkeypatch):
    from cnnlib.augment import TurnAndShift
    calls = shared.Shared({"calls": ((1,), np.int64)})["calls"]
    here = os.getpid()

    class FailsTurningAhead(TurnAndShift):
        def apply(self, xb, draws):     # a worker's second turning is batch 2's, ahead
            if os.getpid() != here:
                calls[0] += 1
                if calls[0] == 2:
                    raise ValueError("no turning ahead")
            return super().apply(xb, draws)

    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    monkeypatch.setattr(steps, "parts_for", lambda *a: 2)
    x, y = batch(32, seed=21, dtype=np.float32)
    net = make_net(BEYOND, seed=0)
    opt = Adam(net, 3e-3)
    given = [(x[:16], y[:16]), (x[16:], y[16:])]

    def go():
        with steps.split_batches(net, train_step, FailsTurningAhead(np.random.default_rng(1)),
                                 given) as (step, augment, batches):
            (x1, y1), (x2, _) = next(batches), next(batches)
            step(net, augment(x1), y1, opt)
            with pytest.raises(RuntimeError, match="worker process 1 failed: ValueError: no "
                                                   "turning ahead"):
                augment(x2)
            return net not in workers._teams or not workers._teams[net].procs

    out = run_with_timeout(go)
    assert out.get("value") is True, out


def test_fit_turns_batches_ahead_and_repeats_the_thread_split(monkeypatch):
    from cnnlib.augment import TurnAndShift
    from cnnlib.train import fit
    turned = count_turned_ahead(monkeypatch)
    x, y = batch(192, seed=22, dtype=np.float32)
    previous = threads.set_threads(2)
    out = []
    try:
        for split in ("threads", "processes"):
            monkeypatch.setenv("CNNLIB_SPLIT", split)
            net = make_net(BEYOND, seed=0)
            turn = TurnAndShift(np.random.default_rng(9))
            history = fit(net, x, y, epochs=2, batch_size=64, optimizer=Adam(net, 3e-3),
                          progress=False, augment=turn)
            out.append((history["batch_loss"], net.named_params(), turn.rng.bit_generator.state))
    finally:
        threads.set_threads(previous[0])
    (losses_t, params_t, rng_t), (losses_p, params_p, rng_p) = out
    assert losses_p == losses_t and rng_p == rng_t
    assert all(np.array_equal(v, params_p[k]) for k, v in params_t.items())
    assert len(turned) == 4         # 3 batches an epoch: the 2nd and 3rd of each turned ahead


def test_batches_that_reuse_one_array_are_refused_when_read_ahead(monkeypatch):
    from cnnlib.augment import TurnAndShift
    monkeypatch.setenv("CNNLIB_SPLIT", "processes")
    x, y = batch(16, seed=23, dtype=np.float32)

    def one_buffer():           # refills and hands out the same array: reading ahead would
        for _ in range(3):      # change the batch in use
            yield x, y

    net = make_net(BEYOND, seed=0)
    with steps.split_batches(net, train_step, TurnAndShift(np.random.default_rng(2)),
                             one_buffer()) as (_, _, batches):
        with pytest.raises(ValueError, match="same images array again.*new array"):
            next(batches)
