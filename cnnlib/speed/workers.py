"""The batch split on worker processes: the same arithmetic as cnnlib.speed.parallel's threads,
without Python's global lock between them.

    team = team_for(net, xb, parts=2)         # forks 1 worker, or reuses net's team
    loss, logits = team.train_step(xb, yb, optimizer)
    close_team(net)              # cnnlib.speed.steps.split_batches does this when its block ends

Why processes: in one process, only one thread at a time runs Python code or starts a
numpy call (the global lock). A small network's step is many short numpy calls, so two
threads mostly wait for each other, and two processes do more work than two threads
(benchmarks/RESULTS.md, version 0.5).

How: the workers are forked copies of this process (Linux; elsewhere cnnlib keeps to
threads), so they start with the net already built. Before every step this process
copies the current parameters, each worker's part of the batch and its labels into memory
shared with the workers; each worker runs forward, loss and backward on its part and
writes its parameter gradients back there; this process does part 0 meanwhile, then adds
the parts' gradients in a fixed order and updates. So a run repeats exactly, and the
numbers are those of the thread split. With a step, the workers may also be handed their
rows of the next batch (train_step's ahead), which they turn and shift once their part is
done, while this process adds and updates (cnnlib.speed.steps reads fit's batches one
ahead); the random numbers for them are drawn ahead and the generator put back.

A net with BatchNorm or Dropout layers in training mode (also inside a Residual block)
splits too: its parts meet in the middle of a step, as cnnlib.speed.synced's threads do,
but through ProcessMeetings (cnnlib.speed.shared) made before the fork, one per BatchNorm
and one for the loss. Every part adds the meeting's numbers in part order itself, so the
numbers are the thread split's bit for bit; the running statistics move once, in this
process (part 0); each worker draws the whole batch's dropout mask from the same
generator, starting from this process's batch counter, which it is sent every step.

A worker that fails breaks the meetings (so no part waits for it) and sends its error
back, and the step raises it; an error here, or Ctrl-C, breaks them too; a worker killed
mid-step is noticed within cnnlib.speed.shared.POLL_S seconds. Then the workers stop, and
the next step starts new ones.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import math
import multiprocessing
import os
import resource
import signal
import threading
import traceback
import weakref

import numpy as np

from ..dropout import Dropout
from .parts import part_bounds, part_gradients, replica
from .shared import ProcessMeeting, Shared
from .synced import _leaves, can_synchronise, needs_whole_batch, synchronise, whole_batch_norms
from .threads import can_fork

__all__ = ["WorkerTeam", "close_team", "synced_part", "team_for", "worker_peak_memory"]

_payload = {}     # what a forked worker starts from (set just before the fork)


def _worker(k):
    net, conn, shared, param_names, meetings, augment = _payload[k]
    _payload.clear()
    _serve(net, k, conn, shared, param_names, meetings, augment)


def _serve(net, k, conn, shared, param_names, meetings, augment=None):
    """A worker's loop: wait for a part, compute it (a training step's part, or the turned
    and shifted images of a batch's part), send back its loss (None for images)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the notebook's process
    parent = os.getppid()

    def check():                                        # the main process has gone: so do we
        if os.getppid() != parent:
            os._exit(1)

    for meeting in meetings:
        meeting.barrier.check = check
    for name in param_names:                            # read the parameters from shared memory
        params, key = _where(net, name)
        params[key] = shared[f"p:{name}"]
    drops = _dropouts(net)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):                    # the main process has gone
            return
        if msg is None:                                 # stop: report the peak memory first
            conn.send(("peak", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                _private_kb())))
            return
        if msg[0] == "augment":
            _, count, draws = msg
            try:
                x = shared[f"x{k}"]
                x[:count] = augment.apply(x[:count], draws)
                conn.send(("ok", None))
            except BaseException as err:               # report it; the main process raises
                conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
            continue
        _, count, share, bounds, steps, ahead = msg
        for layer, step in zip(drops, steps):          # the batch counters, as in this process
            layer.buffers["step"][...] = step
        try:
            xb, yb = shared[f"x{k}"][:count], shared[f"y{k}"][:count]
            if meetings:
                ran, loss, logits, whole = synced_part(net, k, bounds, xb, yb, meetings)
            else:
                ran, (loss, logits) = net, part_gradients(net, xb, yb, share)
                whole = loss
            if math.isfinite(whole):
                grads = ran.named_grads()
                for name in param_names:
                    shared[f"g{k}:{name}"][...] = grads[name]
            shared[f"z{k}"][:count] = logits
            conn.send(("ok", loss))
        except BaseException as err:                   # report it; the main process raises
            for meeting in meetings:                    # ... and no part waits for this one
                meeting.abort()
            conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
            continue
        if ahead is not None:       # the next batch's rows, turned while the update runs there
            rows, draws = ahead
            try:
                x = shared[f"n{k}"]
                x[:rows] = augment.apply(x[:rows], draws)
                conn.send(("turned", None))
            except BaseException as err:
                conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))


def synced_part(net, k, bounds, xb, yb, meetings):
    """Part k (rows bounds[k] of the batch: xb, yb) of a step of a net whose BatchNorm and
    Dropout layers see the whole batch, run in this process on a replica of net that meets
    the other processes' parts: meetings are one ProcessMeeting per whole_batch_norms(net)
    and one for the loss. Returns (the replica, which holds the part's gradients, share *
    the part's loss, its scores, the whole batch's loss)."""
    twin, (a, b), n = replica(net), bounds[k], bounds[-1][1]
    synchronise([twin], bounds, first=k, meetings=meetings[:-1])
    seen = []

    def whole_loss(loss):
        seen.append(float(meetings[-1].meet(k, np.array(loss))[0]))
        return seen[0]

    loss, logits = part_gradients(twin, xb, yb, (b - a) / n, whole_loss)
    return twin, loss, logits, seen[0]


class WorkerTeam:
    """parts - 1 forked worker processes that each run one part of a training batch on their
    copy of net (part 0 runs in this process), for batches of up to max_batch images of
    sample_shape and dtype whose scores are (N, num_classes) of out_dtype. Close it to stop
    the workers; it is also closed when it is garbage-collected or Python exits.
    augment (a cnnlib.augment.TurnAndShift, or None) is what augment() applies."""

    def __init__(self, net, parts, max_batch, sample_shape, dtype, num_classes, out_dtype,
                 augment=None):
        if not can_synchronise(net):
            raise ValueError("worker processes split a net whose layers with buffers are all "
                             "BatchNorm or Dropout (their twins meet the other parts); this "
                             "one has another kind: train it with cnnlib.train.train_step.")
        if not can_fork():
            raise RuntimeError("worker processes need fork (Linux); use cnnlib.speed.parallel's "
                               "threads instead.")
        self._net, self.parts, self.augmenter = weakref.ref(net), parts, augment
        self.pending = None     # the next batch's rows the workers turn (train_step's ahead)
        self.ahead_share = None     # the share of that batch they take (adapts; _ahead)
        self.max_batch, self.sample_shape, self.dtype = max_batch, tuple(sample_shape), dtype
        self.param_names = list(net.named_params())
        self.signature = _signature(net)
        part = -(-max_batch // parts)
        specs = {f"p:{n}": (p.shape, p.dtype) for n, p in net.named_params().items()}
        for k in range(1, parts):
            specs[f"x{k}"] = ((part,) + self.sample_shape, dtype)
            specs[f"y{k}"] = ((part,), np.int64)
            specs[f"z{k}"] = ((part, num_classes), out_dtype)
            if augment is not None:     # rows of the next batch this worker turns (ahead)
                specs[f"n{k}"] = ((max_batch,) + self.sample_shape, dtype)
            specs.update({f"g{k}:{n}": (p.shape, p.dtype) for n, p in net.named_params().items()})
        self.shared = Shared(specs)
        ctx = multiprocessing.get_context("fork")
        # a net whose parts meet: one meeting per BatchNorm (its sums: at most two numbers
        # of 8 bytes per channel, and a count) and one for the loss, made before the fork
        self.meetings = [ProcessMeeting(parts, 16 * layer.params["gamma"].size + 64, ctx)
                         for layer in whole_batch_norms(net)]
        if needs_whole_batch(net):
            self.meetings.append(ProcessMeeting(parts, 64, ctx))
        self.conns, self.procs = [], []
        self._finalizer = weakref.finalize(self, _stop, self.conns, self.procs, self.meetings)
        try:
            for k in range(1, parts):
                here, there = ctx.Pipe()
                self.conns.append(here)
                _payload[k] = (net, there, self.shared, self.param_names, self.meetings,
                               augment)
                proc = ctx.Process(target=_worker, args=(k,), name=f"cnnlib-worker-{k}",
                                   daemon=True)
                proc.start()
                self.procs.append(proc)
                there.close()
        except BaseException:
            self.close()                    # the workers already started stop again
            raise
        finally:
            _payload.clear()
        procs = self.procs

        def check():                        # a worker that was killed mid-step: stop waiting
            for k, proc in enumerate(procs, 1):
                if proc.exitcode is not None:
                    raise RuntimeError(f"worker process {k} stopped in the middle of a step "
                                       f"(exit code {proc.exitcode}); the next step starts "
                                       f"new workers.")

        for meeting in self.meetings:
            meeting.barrier.check = check

    def fits(self, net, xb, augment=None):
        """Whether this team can run batch xb for net (same net, shapes, modes and size
        limit), and augment it with `augment` if that is given."""
        return bool(self.procs and net is self._net() and len(xb) <= self.max_batch
                and tuple(xb.shape[1:]) == self.sample_shape and xb.dtype == self.dtype
                and _signature(net) == self.signature
                and (augment is None or augment is self.augmenter))

    def augment(self, xb, draws):
        """self.augmenter.apply(xb, draws), turned in several processes at once: the rows
        the workers turned ahead if xb and draws are the batch and draws of the last step's
        ahead (_turned_ahead), else each part of the batch in its own process; the same
        numbers, as every image depends on its own draws only."""
        try:
            pending = self.pending
            if pending is not None and pending.xb is xb and _same_draws(pending.draws, draws):
                return self._turned_ahead(xb, draws, pending)
            self._drain()           # rows turned ahead for another batch: not these
            bounds, rows = part_bounds(len(xb), self.parts), self.augmenter.rows
            for k, (a, b) in enumerate(bounds[1:], 1):
                self.shared[f"x{k}"][:b - a] = xb[a:b]
                self.conns[k - 1].send(("augment", b - a, rows(draws, a, b)))
            a, b = bounds[0]
            out = [self.augmenter.apply(xb[a:b], rows(draws, a, b))]
            for k in range(1, self.parts):
                self._reply(k)
                out.append(self.shared[f"x{k}"][:bounds[k][1] - bounds[k][0]].copy())
            return np.concatenate(out)
        except BaseException:
            self.close()        # a worker may be mid-way: start afresh next time
            raise

    def _turned_ahead(self, xb, draws, pending):
        """augment for the batch whose last rows the workers turned while the last step's
        update ran here (train_step's ahead): this process turns the first rows, and the
        workers' share of the next batch grows if their rows were ready first, else shrinks,
        so that both sides finish together (any split gives the same numbers)."""
        self.pending, first = None, pending.first
        out = [self.augmenter.apply(xb[:first], self.augmenter.rows(draws, 0, first))] \
            if first else []
        expected = [(k, a, b) for k, (a, b) in enumerate(pending.bounds, 1) if b > a]
        ready = all(self.conns[k - 1].poll() for k, _, _ in expected)
        for k, a, b in expected:
            self._reply(k)
            out.append(self.shared[f"n{k}"][:b - a].copy())
        move = 1 / 64 if ready else -1 / 64
        self.ahead_share = min(1.0, max(0.0, self.ahead_share + move))
        return np.concatenate(out)

    def _ahead(self, nxt):
        """For each worker, None or (rows, draws): its rows of the next batch nxt, copied to
        it, to turn once its part of this step is done, while this process adds the
        gradients and updates. Only for an augmentation that draws from a numpy Generator:
        the draws are made ahead and the generator is put back where it was (_peek), so
        nothing changes if the next batch is never turned; augment checks that the batch and
        the draws it is given are these."""
        none = [None] * (self.parts - 1)
        aug = self.augmenter
        if nxt is None or aug is None or not isinstance(getattr(aug, "rng", None),
                                                        np.random.Generator):
            return none
        n = len(nxt)
        if self.ahead_share is None:                    # start from equal parts
            self.ahead_share = (self.parts - 1) / self.parts
        first = n - round(self.ahead_share * n)
        bounds = [(first + a, first + b) for a, b in part_bounds(n - first, self.parts - 1)]
        draws = _peek(aug, n)
        for k, (a, b) in enumerate(bounds, 1):
            self.shared[f"n{k}"][:b - a] = nxt[a:b]
        self.pending = _Pending(nxt, draws, first, bounds)
        return [(b - a, aug.rows(draws, a, b)) if b > a else None for a, b in bounds]

    def _drain(self):
        """Take the workers' replies for rows they turned ahead that no augment call used
        (another batch came, or none); raises a worker's error."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        for k, (a, b) in enumerate(pending.bounds, 1):
            if b > a:
                self._reply(k)

    def train_step(self, xb, yb, optimizer, ahead=None):
        """cnnlib.train.train_step with the batch split across this process and the
        workers. Returns (loss, logits); a NaN or infinite loss is returned without
        updating, as in train_step. ahead: the next batch (images), if there is one and it
        is to be turned with self.augmenter: the workers begin turning their rows of it
        (_ahead) as soon as their parts of this step are done."""
        try:
            return self._train_step(xb, yb, optimizer, ahead)
        except BaseException:
            self.close()        # a worker may be mid-step: start afresh next time
            raise

    def _train_step(self, xb, yb, optimizer, ahead=None):
        n, net = len(xb), self._net()
        bounds = self.dispatch(xb, yb, ahead)
        a, b = bounds[0]
        if not self.meetings:
            ran, (loss, logits) = net, part_gradients(net, xb[a:b], yb[a:b], (b - a) / n)
        else:
            try:
                ran, loss, logits, _ = synced_part(net, 0, bounds, xb[a:b], yb[a:b],
                                                   self.meetings)
            except BaseException as err:
                self.abort()                            # no worker waits for this part
                if isinstance(err, threading.BrokenBarrierError):
                    self.collect(bounds)                # a worker failed: raise its error
                raise
        losses, outs = self.collect(bounds)
        loss = sum([loss] + losses)                     # in part order, as the threads add
        if math.isfinite(loss):
            for i, layer in enumerate(net.layers):
                own = ran.layers[i].grads
                layer.grads = {key: _plus(own[key], [self.shared[f"g{k}:{i}.{key}"]
                                                     for k in range(1, self.parts)])
                               for key in own}
            optimizer.step()
        return loss, np.concatenate([logits] + outs)

    def dispatch(self, xb, yb, ahead=None):
        """Copy the parameters and parts 1.. of the batch to the workers and start them;
        returns the parts' (start, stop) bounds. Part 0 is the caller's to run. ahead: as
        in train_step."""
        self._drain()
        n, shared = len(xb), self.shared
        for name, p in self._net().named_params().items():
            shared[f"p:{name}"][...] = p
        bounds = part_bounds(n, self.parts)
        steps = [int(layer.buffers["step"]) for layer in _dropouts(self._net())]
        aheads = self._ahead(ahead)
        for k, (a, b) in enumerate(bounds[1:], 1):
            shared[f"x{k}"][:b - a] = xb[a:b]
            shared[f"y{k}"][:b - a] = yb[a:b]
            self.conns[k - 1].send(("step", b - a, (b - a) / n, bounds, steps, aheads[k - 1]))
        return bounds

    def collect(self, bounds):
        """Wait for the workers: returns their losses (each scaled by its share of the
        batch) and copies of their scores; raises RuntimeError if one failed."""
        losses, outs = [], []
        for k in range(1, self.parts):
            losses.append(self._reply(k))
            outs.append(self.shared[f"z{k}"][:bounds[k][1] - bounds[k][0]].copy())
        return losses, outs

    def _reply(self, k):
        """Worker k's next reply: its value, or RuntimeError with the worker's error."""
        status, value = self.conns[k - 1].recv()
        if status == "error":
            raise RuntimeError(f"worker process {k} failed: {value}")
        return value

    def abort(self):
        """Break every meeting, so that no part waits for another."""
        for meeting in self.meetings:
            meeting.abort()

    def close(self):
        """Stop the workers (idempotent)."""
        self._finalizer()
        self.procs, self.pending = [], None


_peak_kb = [0, 0]    # the largest peak resident and private memory stopped workers reported


def worker_peak_memory():
    """(resident, private): the largest peak resident memory and the largest private
    memory (MB) that workers of this process reported when they stopped; (0, 0) if none
    has. Resident memory counts pages a worker still shares with this process (fork);
    private memory (Linux's smaps_rollup) is what the worker alone holds. Used by
    scripts/measure_notebooks.py."""
    return _peak_kb[0] / 1024, _peak_kb[1] / 1024


def _private_kb():
    """This process's private memory in KiB (Linux), 0 where it cannot be read."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith("Private_"))
    except (OSError, ValueError, IndexError):
        return 0


def _stop(conns, procs, meetings):
    for meeting in meetings:        # a worker waiting in a meeting stops waiting
        meeting.abort()
    for conn in conns:
        try:
            conn.send(None)
            while conn.poll(2):                         # skip a reply to an interrupted step
                status, value = conn.recv()
                if status == "peak":
                    _peak_kb[:] = [max(old, new) for old, new in zip(_peak_kb, value)]
                    break
        except (OSError, ValueError, EOFError):
            pass
    for proc in procs:
        proc.join(timeout=2)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=2)
    for conn in conns:
        conn.close()


def _signature(net):
    """What a team's shared memory and meetings depend on: the layers, their parameters'
    shapes, and what a forked copy must agree on (modes, dropout rates, BatchNorm's eps)."""
    def one(layer):
        if hasattr(layer, "inner"):
            return ("Residual", tuple(one(leaf) for leaf in layer.inner))
        return (type(layer).__name__, tuple((k, v.shape, v.dtype.str)
                                            for k, v in layer.params.items()),
                getattr(layer, "training", None), getattr(layer, "p", None),
                getattr(layer, "eps", None))
    return tuple(one(layer) for layer in net.layers)


def _where(net, name):
    """(the dict of parameters that holds net's parameter `name`, its key there):
    "2.W" is net.layers[2].params["W"], "3.0.W" the first inner layer's of a Residual."""
    *path, key = name.split(".")
    layer = net.layers[int(path[0])]
    for j in path[1:]:
        layer = layer.inner[int(j)]
    return layer.params, key


class _Pending:
    """Rows of the next batch xb that the workers are turning: with draws (drawn ahead),
    this process turns rows 0..first-1, worker k rows bounds[k - 1]."""

    def __init__(self, xb, draws, first, bounds):
        self.xb, self.draws, self.first, self.bounds = xb, draws, first, bounds


def _peek(augment, n):
    """augment.draw(n), with augment.rng put back where it was: the draws its next
    draw(n) will make."""
    bits = augment.rng.bit_generator
    state = bits.state
    try:
        return augment.draw(n)
    finally:
        bits.state = state


def _same_draws(a, b):
    return len(a) == len(b) and all(
        (u is None and v is None) or (u is not None and v is not None and np.array_equal(u, v))
        for u, v in zip(a, b))


def _dropouts(net):
    return [leaf for leaf in _leaves(net) if isinstance(leaf, Dropout)]


def _plus(first, rest):
    total = first.copy()
    for a in rest:
        total += a
    return total


_teams = weakref.WeakKeyDictionary()


def team_for(net, xb, parts, augment=None):
    """The running WorkerTeam for net that fits batch xb with `parts` parts (and can augment
    it with `augment`, if given); a new one (and the old one closed) if there is none."""
    team = _teams.get(net)
    if team is not None and team.parts == parts and team.fits(net, xb, augment):
        return team
    if team is not None:
        team.close()
    probe = replica(net)                    # the scores' width and dtype, from one image in
    for layer in probe.layers:              # inference mode: no running statistic or batch
        if hasattr(layer, "training"):      # counter of net moves (the replica's modes are
            layer.training = False          # its own)
    out = probe.forward(xb[:1])
    team = _teams[net] = WorkerTeam(net, parts, len(xb), xb.shape[1:], xb.dtype, out.shape[1],
                                    out.dtype, augment)
    return team


def close_team(net):
    """Stop net's worker processes, if it has any."""
    team = _teams.pop(net, None)
    if team is not None:
        team.close()
