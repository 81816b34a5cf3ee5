"""Layers that see the whole batch, split across threads: BatchNorm and Dropout twins that
compute what the unsplit layer computes.

    twins = [replica(net) for _ in bounds]
    meetings = synchronise(twins, bounds)      # swaps the twins' BatchNorm and Dropout layers

BatchNorm in training mode normalises with the whole batch's per-channel mean and variance,
and its backward needs the whole batch's sums of g and g * xhat. Each part's twin adds up
its own share; the parts meet (a threading.Barrier), and every part adds the shares in part
order 0, 1, ..., so all parts use the same totals and a run repeats exactly. Forward meets
twice, like numpy's var: the sum (mean = sum / m), then the centred sum of squares
(var = sum((x - mean)^2) / m); backward meets once. The running statistics are updated
once per step, by part 0, with the whole batch's mean and unbiased variance. A part's sums
per channel are matrix-vector products (_sums): BLAS runs them without Python's global lock,
which numpy's sum over several axes holds while the other part waits for it (2% of a
beyond99 step on 2 cores, benchmarks/RESULTS.md); the same sums up to float rounding.
Dropout's mask of the whole batch is drawn once, from the generator keyed on (seed, step)
that the unsplit layer uses, and each part takes its rows; the step counter moves once.
A Residual block's inner layers are swapped the same way.

A part that fails aborts the meetings, so the others stop waiting (BrokenBarrierError) and
cnnlib.speed.parallel raises the first real error. Worker processes (cnnlib.speed.workers)
use the same twins, meeting through cnnlib.speed.shared.ProcessMeeting.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import functools
import threading

import numpy as np

from ..batchnorm import BatchNorm, _shaped
from ..checks import check_dout, check_float
from ..dropout import Dropout

__all__ = ["Meeting", "SplitDropout", "SyncBatchNorm", "can_synchronise", "needs_whole_batch",
           "synchronise", "whole_batch_norms"]


class Meeting:
    """parts threads exchange numbers: meet(k, values) waits until every part has given its
    tuple of arrays, then returns the element-wise totals, added in part order."""

    def __init__(self, parts):
        self.shares, self.total = [None] * parts, None
        self.barrier = threading.Barrier(parts, action=self._add)

    def _add(self):                 # runs once per round, in the last part to arrive
        first, *rest = self.shares
        total = [np.array(v, copy=True) for v in first]
        for share in rest:
            for t, v in zip(total, share):
                t += v
        self.total = tuple(total)

    def meet(self, k, *values):
        self.shares[k] = values
        self.barrier.wait()
        return self.total           # replaced only after every part has arrived again

    def abort(self):
        self.barrier.abort()


class SyncBatchNorm(BatchNorm):
    """Part k's twin of a BatchNorm in training mode, sharing its parameters and buffers;
    forward and backward meet the other parts' twins (meeting) to use whole-batch sums."""

    def forward(self, x):
        self._check(x)
        k = self.part
        s, count = self.meeting.meet(k, _sums(x), np.array(x.size // x.shape[1]))
        m = int(count)
        if m < 2:
            raise ValueError(f"BatchNorm in training mode needs at least 2 numbers per feature "
                             f"to take a variance; got {m} in the whole batch. Train on "
                             f"batches of 2 or more, or call net.eval() to use the running "
                             f"statistics.")
        mu = s / m                                        # as numpy's mean: sum / count
        xc = x - _shaped(mu, x).astype(x.dtype)
        sq = np.multiply(xc, xc)
        var = self.meeting.meet(k, _sums(sq))[0] / m          # as numpy's var
        if k == 0:                                        # once per step, as unsplit
            for name, stat in (("running_mean", mu), ("running_var", var * m / (m - 1))):
                run = self.buffers[name]
                run *= run.dtype.type(self.momentum)
                run += run.dtype.type(1 - self.momentum) * stat.astype(run.dtype)
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        # BatchNorm.forward's products, written into the arrays already made (out=) when
        # no dtype changes: the same numbers, two large arrays made per call instead of five
        xhat = np.multiply(xc, _shaped(inv_std, x).astype(x.dtype), out=sq)
        self.xhat, self.inv_std, self.mode, self.m = xhat, inv_std.astype(x.dtype), True, m
        gamma, beta = self.params["gamma"], self.params["beta"]
        if gamma.dtype != x.dtype or beta.dtype != x.dtype:
            return _shaped(gamma, x) * xhat + _shaped(beta, x)
        out = np.multiply(_shaped(gamma, x), xhat, out=xc)
        out += _shaped(beta, x)
        return out

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.xhat.shape)
        xhat, m = self.xhat, self.m
        dx = np.multiply(dout, xhat)
        self.grads = {"gamma": _sums(dx), "beta": _sums(dout)}
        dgamma, dbeta = self.meeting.meet(self.part, self.grads["gamma"], self.grads["beta"])
        scale = _shaped(self.params["gamma"] * self.inv_std, dout)
        if not dout.dtype == xhat.dtype == scale.dtype:
            return scale / m * (m * dout - _shaped(dbeta, dout) - xhat * _shaped(dgamma, dout))
        # the same numbers step by step, into dx (not dout: it may be another layer's too,
        # e.g. a Residual block's skip): two large arrays made per call instead of six
        np.multiply(m, dout, out=dx)
        dx -= _shaped(dbeta, dout)
        dx -= xhat * _shaped(dgamma, dout)
        np.multiply(scale / m, dx, out=dx)
        return dx


def _sums(a):
    """a's sums per channel (axis 1), as a matrix-vector product: BLAS runs it without
    Python's global lock, which numpy's sum over several axes keeps (the other part waits)."""
    rows = (a.T if a.ndim == 2 else a.transpose(1, 2, 3, 0)).reshape(a.shape[1], -1)
    return np.dot(rows, np.ones(rows.shape[1], a.dtype))


class SplitDropout(Dropout):
    """Part k's twin of a Dropout in training mode: its rows (start, stop) of the mask the
    unsplit layer would draw for the whole batch of n, drawn once for all parts (draw)."""

    def forward(self, x):
        check_float(x)
        self.shape = x.shape
        self.mask = self.draw.mask((self.n,) + x.shape[1:], x.dtype)[self.start:self.stop]
        return x * self.mask


class _Draw:
    """The whole batch's dropout mask, drawn by the first part that asks (Dropout's rule)."""

    def __init__(self, layer):
        self.layer, self.lock, self.drawn = layer, threading.Lock(), None

    def mask(self, shape, dtype):
        with self.lock:
            if self.drawn is None:
                layer = self.layer
                rng = np.random.default_rng((layer.seed, int(layer.buffers["step"])))
                layer.buffers["step"][...] += 1
                keep = rng.random(shape, dtype=np.float64) >= layer.p
                self.drawn = keep.astype(dtype) * dtype.type(1 / (1 - layer.p))
            return self.drawn


def _twin(cls, layer, **extra):
    twin = cls.__new__(cls)
    twin.__dict__.update(layer.__dict__, **extra)
    return twin


def synchronise(twins, bounds, first=0, meetings=None):
    """Swap, in each replica twins[j] (part k = first + j holds rows bounds[k] of the
    batch), every BatchNorm and Dropout in training mode, also inside Residual blocks, for
    a twin that sees the whole batch. Returns the meetings used (empty: the net has no such
    layer in training mode, and the twins are untouched): new threading Meetings, or, for
    the twin of one part in a worker process, the ProcessMeetings given in `meetings`, one
    per BatchNorm in the order of whole_batch_norms. ValueError for another layer with
    buffers (can_synchronise is False)."""
    given = None if meetings is None else iter(meetings)
    meetings, n = [], bounds[-1][1]

    def swap(layer_lists):                  # layer_lists[k]: part k's list of layers
        for i, layer in enumerate(layer_lists[0]):
            column = [layers[i] for layers in layer_lists]
            if hasattr(layer, "inner"):
                swap([t.inner for t in column])
            elif hasattr(layer, "buffers") and type(layer) not in (BatchNorm, Dropout):
                raise ValueError(f"cannot split a batch across threads for {layer!r}: it keeps "
                                 f"buffers, and only BatchNorm and Dropout have twins that see "
                                 f"the whole batch; train this net with cnnlib.train.train_step.")
            elif type(layer) is BatchNorm and layer.training:
                meetings.append(Meeting(len(bounds)) if given is None else next(given))
                for j, t in enumerate(column):
                    layer_lists[j][i] = _twin(SyncBatchNorm, t, meeting=meetings[-1],
                                              part=first + j)
            elif type(layer) is Dropout and layer.training and layer.p > 0:
                draw = _Draw(layer)         # in a worker process: its own, of the same mask
                for j, t in enumerate(column):
                    k = first + j
                    layer_lists[j][i] = _twin(SplitDropout, t, draw=draw, n=n,
                                              start=bounds[k][0], stop=bounds[k][1])

    swap([t.layers for t in twins])
    if needs_whole_batch(twins[0]):     # no size hint in a part: its probe would meet others
        for t in twins:                 # (cnnlib.speed.steps adds it for the whole step)
            t.forward = functools.partial(_bare_forward, t.layers)
    return meetings


def _bare_forward(layers, x):
    """Sequential.forward without its size hint (cnnlib.model.SizeHint), which on an error
    sends probe images through the layers, and so through the meetings, alone;
    cnnlib.speed.steps adds the hint once every part has ended."""
    for layer in layers:
        x = layer.forward(x)
    return x


def whole_batch_norms(net):
    """net's BatchNorm layers in training mode, also inside Residual blocks, in the order
    synchronise swaps them (one meeting each)."""
    return [leaf for leaf in _leaves(net) if type(leaf) is BatchNorm and leaf.training]


def _leaves(net):
    return [leaf for layer in net.layers for leaf in getattr(layer, "inner", [layer])]


def can_synchronise(net):
    """True if every layer of net that keeps buffers, also inside a Residual block, is a
    BatchNorm or a Dropout (not a subclass, whose forward may differ): synchronise's twins
    then compute what the unsplit layers compute."""
    return all(type(leaf) in (BatchNorm, Dropout) for leaf in _leaves(net)
               if hasattr(leaf, "buffers"))


def needs_whole_batch(net):
    """True if a forward pass of net depends on the whole batch at once: it has a BatchNorm,
    or a Dropout that drops, in training mode (also inside a Residual block)."""
    leaves = _leaves(net)
    return any(getattr(leaf, "training", False) and (isinstance(leaf, BatchNorm) or
                                                     isinstance(leaf, Dropout) and leaf.p > 0)
               for leaf in leaves)
