"""Use every core: split a mini-batch into equal parts and run each part through its own
replica of the network on its own thread.

    loss, logits = train_step_threads(net, xb, yb, optimizer, parts=2)
    scores = forward_split(net, x, parts=2)

Why threads work here: NumPy releases Python's global lock inside matrix products, copies
and element-wise loops, which is where a CNN's time goes. Why whole replicas rather than
splitting each operation: one hand-off per step instead of one per operation, and BLAS
stays single-threaded (cnnlib.speed.threads), so no thread spins waiting for a busy core.

A replica (cnnlib.speed.parts) shares the parameter arrays with the net but keeps its own
forward caches; each part runs parts.part_gradients, and the parts' parameter gradients add
up (in a fixed order, so a run repeats exactly) to the gradient of the whole batch.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .parts import part_bounds, part_gradients, replica
from .synced import Meeting, needs_whole_batch, synchronise
from .threads import num_threads

__all__ = ["count_parts", "forward_split", "parts_for", "train_step_threads", "work_per_sample"]

MIN_PART = 16          # smaller parts lose more to Python overhead than a core gains
# Each layer's Python work (checks, reshapes, starting numpy calls) runs one thread at a time
# (Python's global lock), so a part must also carry enough arithmetic, in multiply-adds;
# the thresholds come from measurements on the 2-core test machine (benchmarks/RESULTS.md:
# version 0.4 for threads, 0.5 for worker processes, which share no lock, only a hand-off
# per step, and so pay with less work per part).
MIN_PART_WORK = 20_000_000
MIN_PART_WORK_PROCESSES = 3_000_000
FORWARD_CHUNK = 64     # images a thread sends through the net at a time in forward_split
_pools = {}


def _pool(workers):
    if workers not in _pools:
        _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="cnnlib")
    return _pools[workers]


def count_parts(n, parts=None, work=None, min_work=MIN_PART_WORK):
    """How many parts a batch of n samples is cut into: at most `parts` (default:
    cnnlib.speed.threads.num_threads()), each at least MIN_PART samples and, if `work` (the
    multiply-adds of one sample, work_per_sample) is given, at least min_work
    multiply-adds; 1 means no split."""
    parts = num_threads() if parts is None else parts
    limit = n // MIN_PART
    if work is not None:
        limit = min(limit, int(n * work // min_work))
    return max(1, min(parts, limit))


def work_per_sample(net, sample_shape):
    """Multiply-adds of one sample's forward pass through net's Conv2D and Linear layers
    (weights times output positions); sample_shape is one input's shape, e.g. (1, 28, 28)."""
    total, shape = 0, (1,) + tuple(sample_shape)
    for layer in net.layers:
        for leaf in getattr(layer, "inner", [layer]):       # a Residual block's layers
            out = leaf.output_shape(shape)
            w = leaf.params.get("W")
            if w is not None:
                total += w.size * int(np.prod(out[2:]))  # 1 for a Linear layer's (N, out)
            shape = out
    return total


def parts_for(net, x, min_work=MIN_PART_WORK):
    """count_parts for batch x through net on cnnlib.speed.threads.num_threads() threads,
    with the work rule (each part at least min_work multiply-adds). 1 also when x does not
    fit the net: the unsplit path then reports why."""
    parts = num_threads()
    if parts == 1 or len(x) < 2 * MIN_PART:
        return 1
    try:
        work = work_per_sample(net, np.shape(x)[1:])
    except (ValueError, TypeError, IndexError):
        return 1
    return count_parts(len(x), parts, work, min_work)


def run_parts(fn, chunks, meetings=()):
    """fn(k, chunk) for every chunk, the first on this thread and the rest on the pool;
    returns the results in order. If a part fails, the meetings (cnnlib.speed.synced) are
    aborted so no part waits for it, and once every part has ended the first failure that
    is not such an abort is raised."""
    if len(chunks) == 1:
        return [fn(0, chunks[0])]

    def guarded(k, chunk):
        try:
            return fn(k, chunk)
        except BaseException:
            for meeting in meetings:
                meeting.abort()
            raise

    futures = [_pool(len(chunks) - 1).submit(guarded, k, c) for k, c in enumerate(chunks) if k]
    results, errors = [], []
    for get in [lambda: guarded(0, chunks[0])] + [f.result for f in futures]:
        try:
            results.append(get())
        except BaseException as err:        # wait for the other parts before raising
            errors.append(err)
    if errors:
        raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)),
                   errors[0])
    return results


def forward_split(net, x, parts=None, chunk=FORWARD_CHUNK):
    """net.forward(x) computed part by part on threads, each part `chunk` images at a time;
    same scores (N, K) up to rounding. The net's own forward caches are left alone unless
    x is a single chunk on one thread, or the net has a BatchNorm or Dropout layer in
    training mode, whose numbers depend on the whole batch (then this is net.forward(x)).

    Why chunks: the intermediate arrays of 64 images stay in a core's cache, those of a
    batch of 1000 do not (the speed-up: benchmarks/RESULTS.md, version 0.4). Not part of a notebook (see the
    README, "Cores and threads").
    """
    parts = parts_for(net, x) if parts is None else count_parts(len(x), parts)
    if parts == 1 and len(x) <= chunk or needs_whole_batch(net):
        return net.forward(x)            # BatchNorm or Dropout in training mode: unsplit
    twins = [replica(net) for _ in range(parts)]

    def part(k, b):
        outs = [twins[k].forward(x[i:min(i + chunk, b[1])]) for i in range(b[0], b[1], chunk)]
        return np.concatenate(outs)

    return np.concatenate(run_parts(part, part_bounds(len(x), parts)))


def train_step_threads(net, xb, yb, optimizer, parts=None):
    """cnnlib.train.train_step with the batch split across threads (at most `parts` parts,
    count_parts). Returns (loss, logits); a NaN or infinite loss is returned without
    updating, as in train_step. BatchNorm and Dropout layers in training mode (also inside
    Residual blocks) use the whole batch's statistics and mask (cnnlib.speed.synced), and
    update their running statistics and batch counter once, as the unsplit step does.
    """
    n = len(xb)
    parts = count_parts(n, parts)
    bounds = part_bounds(n, parts)
    twins = [replica(net) for _ in range(parts)]
    meetings = synchronise(twins, bounds)       # BatchNorm and Dropout see the whole batch
    if meetings:                                # ... and all parts agree on running backward
        meetings.append(Meeting(parts))

    def part(k, b):
        whole = (lambda loss: float(meetings[-1].meet(k, np.array(loss))[0])) if meetings \
            else None
        return part_gradients(twins[k], xb[b[0]:b[1]], yb[b[0]:b[1]], (b[1] - b[0]) / n, whole)

    results = run_parts(part, bounds, meetings)
    loss = sum(r[0] for r in results)
    if math.isfinite(loss):
        for i, layer in enumerate(net.layers):
            grads = [t.layers[i].grads for t in twins]
            layer.grads = {k: _add(g[k] for g in grads) for k in grads[0]}
        optimizer.step()
    return loss, np.concatenate([r[1] for r in results])


def _add(arrays):
    arrays = iter(arrays)
    total = next(arrays).copy()
    for a in arrays:
        total += a
    return total
