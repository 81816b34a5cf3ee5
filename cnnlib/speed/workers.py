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
numbers are those of the thread split.

Nets with a layer that has buffers (BatchNorm, Dropout, a Residual block) are refused:
their parts must meet in the middle of a step (the whole batch's statistics and dropout
mask), which cnnlib.speed.synced does on threads only, and a Residual block's parameters
are named "<layer>.<inner>.<name>", which the workers do not address.

A worker that fails sends its error back, and the step raises it; an interrupted step
(Ctrl-C) stops the workers, and the next step starts new ones.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import math
import mmap
import multiprocessing
import resource
import signal
import traceback
import weakref

import numpy as np

from .parts import part_bounds, part_gradients, replica
from .threads import can_fork

__all__ = ["WorkerTeam", "close_team", "has_buffers", "team_for", "worker_peak_memory"]


class _Shared:
    """Arrays in one anonymous shared memory block, which forked children see as well."""

    def __init__(self, specs):
        offsets, total = {}, 0
        for name, (shape, dtype) in specs.items():
            total = -(-total // 64) * 64                       # 64-byte aligned
            offsets[name] = (total, shape, np.dtype(dtype))
            total += int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.block = mmap.mmap(-1, max(total, 1))
        self.arrays = {name: np.frombuffer(self.block, dtype, int(np.prod(shape)), off)
                       .reshape(shape) for name, (off, shape, dtype) in offsets.items()}

    def __getitem__(self, name):
        return self.arrays[name]


_payload = {}     # what a forked worker starts from (set just before the fork)


def _worker(k):
    net, conn, shared, param_names = _payload[k]
    _payload.clear()
    _serve(net, k, conn, shared, param_names)


def _serve(net, k, conn, shared, param_names):
    """A worker's loop: wait for a part size, compute that part, send back its loss."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the notebook's process
    layers = {name: net.layers[int(name.split(".")[0])] for name in param_names}
    for name in param_names:                            # read the parameters from shared memory
        layers[name].params[name.split(".")[1]] = shared[f"p:{name}"]
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):                    # the main process has gone
            return
        if msg is None:                                 # stop: report the peak memory first
            conn.send(("peak", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                _private_kb())))
            return
        count, share = msg
        try:
            loss, logits = part_gradients(net, shared[f"x{k}"][:count], shared[f"y{k}"][:count],
                                          share)
            if math.isfinite(loss):
                for name in param_names:
                    layer, key = layers[name], name.split(".")[1]
                    shared[f"g{k}:{name}"][...] = layer.grads[key]
            shared[f"z{k}"][:count] = logits
            conn.send(("ok", loss))
        except BaseException as err:                   # report it; the main process raises
            conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))


class WorkerTeam:
    """parts - 1 forked worker processes that each run one part of a training batch on their
    copy of net (part 0 runs in this process), for batches of up to max_batch images of
    sample_shape and dtype whose scores are (N, num_classes) of out_dtype. Close it to stop
    the workers; it is also closed when it is garbage-collected or Python exits."""

    def __init__(self, net, parts, max_batch, sample_shape, dtype, num_classes, out_dtype):
        if has_buffers(net):
            raise ValueError("worker processes cannot split a net with BatchNorm, Dropout or "
                             "Residual layers (their parts need the whole batch's statistics);"
                             " split it on threads: cnnlib.speed.parallel.train_step_threads.")
        if not can_fork():
            raise RuntimeError("worker processes need fork (Linux); use cnnlib.speed.parallel's "
                               "threads instead.")
        self._net, self.parts = weakref.ref(net), parts
        self.max_batch, self.sample_shape, self.dtype = max_batch, tuple(sample_shape), dtype
        self.param_names = list(net.named_params())
        self.signature = _signature(net)
        part = -(-max_batch // parts)
        specs = {f"p:{n}": (p.shape, p.dtype) for n, p in net.named_params().items()}
        for k in range(1, parts):
            specs[f"x{k}"] = ((part,) + self.sample_shape, dtype)
            specs[f"y{k}"] = ((part,), np.int64)
            specs[f"z{k}"] = ((part, num_classes), out_dtype)
            specs.update({f"g{k}:{n}": (p.shape, p.dtype) for n, p in net.named_params().items()})
        self.shared = _Shared(specs)
        ctx = multiprocessing.get_context("fork")
        self.conns, self.procs = [], []
        self._finalizer = weakref.finalize(self, _stop, self.conns, self.procs)
        try:
            for k in range(1, parts):
                here, there = ctx.Pipe()
                self.conns.append(here)
                _payload[k] = (net, there, self.shared, self.param_names)
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

    def fits(self, net, xb):
        """Whether this team can run batch xb for net (same net, shapes and size limit)."""
        return bool(self.procs and net is self._net() and len(xb) <= self.max_batch
                and tuple(xb.shape[1:]) == self.sample_shape and xb.dtype == self.dtype
                and _signature(net) == self.signature)

    def train_step(self, xb, yb, optimizer):
        """cnnlib.train.train_step with the batch split across this process and the
        workers. Returns (loss, logits); a NaN or infinite loss is returned without
        updating, as in train_step."""
        try:
            return self._train_step(xb, yb, optimizer)
        except BaseException:
            self.close()        # a worker may be mid-step: start afresh next time
            raise

    def _train_step(self, xb, yb, optimizer):
        n, net = len(xb), self._net()
        bounds = self.dispatch(xb, yb)
        a, b = bounds[0]
        loss, logits = part_gradients(net, xb[a:b], yb[a:b], (b - a) / n)
        losses, outs = self.collect(bounds)
        loss += sum(losses)
        if math.isfinite(loss):
            for name in self.param_names:
                i, key = name.split(".")
                layer = net.layers[int(i)]
                total = layer.grads[key].copy()
                for k in range(1, self.parts):
                    total += self.shared[f"g{k}:{name}"]
                layer.grads[key] = total
            optimizer.step()
        return loss, np.concatenate([logits] + outs)

    def dispatch(self, xb, yb):
        """Copy the parameters and parts 1.. of the batch to the workers and start them;
        returns the parts' (start, stop) bounds. Part 0 is the caller's to run."""
        n, shared = len(xb), self.shared
        for name, p in self._net().named_params().items():
            shared[f"p:{name}"][...] = p
        bounds = part_bounds(n, self.parts)
        for k, (a, b) in enumerate(bounds[1:], 1):
            shared[f"x{k}"][:b - a] = xb[a:b]
            shared[f"y{k}"][:b - a] = yb[a:b]
            self.conns[k - 1].send((b - a, (b - a) / n))
        return bounds

    def collect(self, bounds):
        """Wait for the workers: returns their losses (each scaled by its share of the
        batch) and copies of their scores; raises RuntimeError if one failed."""
        losses, outs = [], []
        for k, conn in enumerate(self.conns, 1):
            status, value = conn.recv()
            if status == "error":
                raise RuntimeError(f"worker process {k} failed: {value}")
            losses.append(value)
            outs.append(self.shared[f"z{k}"][:bounds[k][1] - bounds[k][0]].copy())
        return losses, outs

    def close(self):
        """Stop the workers (idempotent)."""
        self._finalizer()
        self.procs = []


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


def _stop(conns, procs):
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
    """What a team's shared memory depends on: the layers and their parameters' shapes."""
    return tuple((type(layer).__name__, tuple((k, v.shape, v.dtype.str)
                                              for k, v in layer.params.items()))
                 for layer in net.layers)


def has_buffers(net):
    """True if a layer of net keeps buffers (BatchNorm, Dropout, a Residual block): such a
    net splits on threads only."""
    return any(hasattr(layer, "buffers") for layer in net.layers)


_teams = weakref.WeakKeyDictionary()


def team_for(net, xb, parts):
    """The running WorkerTeam for net that fits batch xb with `parts` parts; a new one (and
    the old one closed) if there is none."""
    team = _teams.get(net)
    if team is not None and team.parts == parts and team.fits(net, xb):
        return team
    if team is not None:
        team.close()
    out = replica(net).forward(xb[:1])                 # the scores' width and dtype
    team = _teams[net] = WorkerTeam(net, parts, len(xb), xb.shape[1:], xb.dtype, out.shape[1],
                                    out.dtype)
    return team


def close_team(net):
    """Stop net's worker processes, if it has any."""
    team = _teams.pop(net, None)
    if team is not None:
        team.close()
