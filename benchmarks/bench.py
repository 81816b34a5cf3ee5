"""How fast is cnnlib, and how does it compare with PyTorch on the same CPU?

    python benchmarks/bench.py [--quick] [--data-dir DIR] [--threads 2] [--recipe NAME]
                               [--recipe-only] [--epochs N] [--interleave STEPS]

Prints the machine, the libraries and their thread counts and the load average, then:
  * loop vs fast conv / max-pool, forward and backward, on one batched input (ratio),
  * Victor Zhou's setting (his one-conv network, 1000 images x 3 epochs, SGD at batch 1),
  * LeNet-style training and inference samples/s, cnnlib vs torch, at 1 thread and at
    --threads threads (same data, batch size, architecture, optimizer, dtype; measurements
    alternate between libraries and thread counts in short chunks and the table shows
    medians, because shared machines drift), the gain from the extra cores, the ratios,
  * per-layer forward and backward times of one cnnlib LeNet step at each thread count,
  * the 99% network: cnnlib and torch trained with the same recipe (--recipe, a name in
    cnnlib.recipes.RECIPES, default "lenet99": the shipped weights' recipe, chosen on a
    validation split; "beyond99" is notebook 12's), their epochs alternating (cnnlib's
    first, torch's first, cnnlib's second, ...), seconds, test accuracy and ratio, also
    epoch by epoch (skipped with --quick; with --recipe-only nothing else runs),
  * or, with --recipe-only --interleave STEPS, STEPS training steps of the recipe's network
    with each library in alternating chunks of --chunk steps: the steady-state ratio per
    step, with a 95% interval; drift that lasts longer than a chunk falls on both alike,
  * the load average again, so an idle run can be told from a busy one.
torch is optional: without it the torch columns are left out. cnnlib's threads are set
with cnnlib.speed.threads.set_threads (BLAS stays at 1 thread; training batches are split on worker
processes where they can be forked, CNNLIB_SPLIT=threads for threads), torch's with
torch.set_num_threads.
Full MNIST comes from --data-dir, else $CNNLIB_MNIST_DIR, else ../shared/data/mnist.
"""

import argparse
import contextlib
import itertools
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, 1 LeNet epoch, no 99%% network (about 1 minute)")
    p.add_argument("--data-dir", default=None, help="folder with the 4 MNIST IDX files")
    p.add_argument("--threads", type=int, default=2, help="threads of the multi-thread columns, cnnlib and torch (default 2)")
    p.add_argument("--recipe", default="lenet99",
                   help="recipe of the 99%% network rows, a name in cnnlib.recipes.RECIPES "
                        "(default lenet99)")
    p.add_argument("--recipe-only", action="store_true",
                   help="only the 99%% network rows: train --recipe with cnnlib, then with "
                        "torch, in the same run (e.g. --recipe beyond99 --recipe-only)")
    p.add_argument("--epochs", type=int, default=None,
                   help="train the 99%% network rows for this many epochs instead of the "
                        "recipe's (its schedule then spans these epochs); for a busy machine")
    p.add_argument("--interleave", type=int, default=None, metavar="STEPS",
                   help="with --recipe-only: instead of the whole recipe, time STEPS training "
                        "steps of its network with each library in alternating chunks "
                        "(--chunk steps each): the ratio of steady-state steps, with the "
                        "machine's drift cancelled chunk by chunk")
    p.add_argument("--chunk", type=int, default=20,
                   help="steps per chunk of --interleave (default 20)")
    args = p.parse_args(argv)
    if args.interleave is not None and (args.interleave < 1 or not args.recipe_only):
        p.error("--interleave needs a number of steps of 1 or more, and --recipe-only")
    if args.chunk < 1:
        p.error("--chunk needs 1 or more steps")
    return args


import numpy as np

from cnnlib.architectures import lenet, make_net, one_conv_net, output_layer
from cnnlib.augment import random_shifts
from cnnlib.conv import (Conv2D, conv2d_backward_fast, conv2d_backward_loop, conv2d_fast,
                         conv2d_loop)
from cnnlib.data import load_mnist, minibatches, to_float
from cnnlib.layers import Flatten
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential, SizeHint
from cnnlib.optim import SGD, Adam
from cnnlib.speed.parallel import (MIN_PART_WORK, MIN_PART_WORK_PROCESSES, run_parts,
                                   count_parts, work_per_sample)
from cnnlib.speed.parts import part_bounds, part_gradients, replica
from cnnlib.pool import (MaxPool2D, maxpool_backward_fast, maxpool_backward_loop,
                         maxpool_fast, maxpool_loop)
from cnnlib.recipes import get_recipe, train_recipe
from cnnlib.speed.steps import split_batches
from cnnlib.speed.synced import Meeting, synchronise
from cnnlib.speed.threads import set_threads, split_with
from cnnlib.speed.workers import close_team, team_for
from cnnlib.train import evaluate, fit, train_step


# ---------------------------------------------------------------- timing helpers

def call_times(fn, repeats=5):
    """Wall times of `repeats` calls of fn() in seconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_time(fn, repeats=5):
    """The fastest of `repeats` calls, as timeit reports: on a shared machine the slower
    calls measure the other programs (a BLAS thread waiting for a busy core), not fn."""
    return min(call_times(fn, repeats))


def machine_info(threads, torch=None):
    """Lines describing the CPU, numpy's BLAS and torch, with thread counts."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"machine: {cpu}, {os.cpu_count()} logical cores ({usable} usable), "
             f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"]
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    lines.append(f"numpy {np.__version__}, BLAS {blas.get('name')} {blas.get('version')}, "
                 f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
                 f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
                 f"CNNLIB_THREADS={os.environ.get('CNNLIB_THREADS')}")
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            lines.append(f"  threadpoolctl: {pool['internal_api']} {pool.get('version')} "
                         f"kernel {pool.get('architecture')} num_threads={pool['num_threads']}")
    except ImportError:
        lines.append("  (threadpoolctl not installed: thread count set by environment variables)")
    lines.append(f"cnnlib threads: {threads} (training batches split on {split_with()}, "
                 f"inference on threads); load average (1, 5, 15 min): {load()}")
    if torch is None:
        lines.append("torch: not installed (torch columns skipped)")
    else:
        lines.append(f"torch {torch.__version__}, "
                     f"torch.get_num_threads()={torch.get_num_threads()}")
    return lines


# ---------------------------------------------------------------- 1. layers, loop vs fast

def layer_rows(n=16, c=8, f=16, hw=14, repeats=3, dtype=np.float32):
    """(name, loop seconds, fast seconds) for conv 3x3 pad 1 and 2x2 max-pool, fwd and bwd,
    each the best of several calls."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, c, hw, hw)).astype(dtype)
    w = rng.normal(size=(f, c, 3, 3)).astype(dtype)
    b = rng.normal(size=f).astype(dtype)
    dout = rng.normal(size=(n, f, hw, hw)).astype(dtype)
    dpool = rng.normal(size=(n, c, hw // 2, hw // 2)).astype(dtype)
    cases = [
        (f"conv forward  {n}x{c}x{hw}x{hw} -> {f}@3x3 pad1",
         lambda: conv2d_loop(x, w, b, 1, 1), lambda: conv2d_fast(x, w, b, 1, 1)),
        ("conv backward (dx, dw, db)",
         lambda: conv2d_backward_loop(dout, x, w, 1, 1),
         lambda: conv2d_backward_fast(dout, x, w, 1, 1)),
        (f"maxpool forward {n}x{c}x{hw}x{hw}, 2x2",
         lambda: maxpool_loop(x), lambda: maxpool_fast(x)),
        ("maxpool backward",
         lambda: maxpool_backward_loop(dpool, x), lambda: maxpool_backward_fast(dpool, x)),
    ]
    return [(name, best_time(loop, repeats), best_time(fast, 20 * repeats))
            for name, loop, fast in cases]


# ---------------------------------------------------------------- 2. Zhou's setting

def zhou_setting(x_train, y_train, x_test, y_test, epochs=3):
    """Victor Zhou's experiment: the one-conv network, per-sample SGD (lr 0.005) on the given images.

    Returns (seconds, test accuracy). x_* float32 (N, 1, 28, 28) scaled with to_float.
    """
    net = one_conv_net(seed=0)
    start = time.perf_counter()
    fit(net, x_train, y_train, epochs=epochs, batch_size=1, optimizer=SGD(net, lr=0.005),
        seed=0, progress=False)
    seconds = time.perf_counter() - start
    return seconds, evaluate(net, x_test, y_test)[1]


def loop_reference_rate(x, y, n=100):
    """Samples/s of the one-conv network built from the loop layers, SGD at batch 1."""
    fast = one_conv_net(seed=0)
    conv, last = fast.layers[0], fast.layers[-1]
    net = Sequential([Conv2D(1, 8, 3, impl="loop", need_dx=False), MaxPool2D(2, impl="loop"),
                      Flatten(), output_layer(13 * 13 * 8, 10, 0, np.float32)])
    net.layers[0].params = {k: v.copy() for k, v in conv.params.items()}
    net.layers[-1].params = {k: v.copy() for k, v in last.params.items()}
    opt = SGD(net, lr=0.005)
    start = time.perf_counter()
    for i in range(n):
        train_step(net, x[i:i + 1], y[i:i + 1], opt)
    return n / (time.perf_counter() - start)


# ---------------------------------------------------------------- 3. LeNet: cnnlib vs torch

def torch_lenet(torch, seed=0):
    """The same LeNet-style net in torch (its default initialisation), with Adam 1e-3."""
    nn = torch.nn
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    return net, torch.optim.Adam(net.parameters(), lr=1e-3)


class CnnlibTrainer:
    """Trains cnnlib's lenet chunk by chunk: the fit loop's work (batching by a shuffled
    index, forward, loss, backward, Adam step, each batch split across the cores as fit
    splits it) without progress bar or bookkeeping. close() stops its worker processes."""

    name = "cnnlib"

    def __init__(self, x, y, batch_size=64, seed=0):
        self.net = lenet(seed=seed)
        self.opt = Adam(self.net, lr=1e-3)
        self.x, self.y, self.batch_size = x, y, batch_size
        # fit's step for its whole life (fit opens it per epoch): workers are not forked anew
        # for every chunk, and the split follows set_threads between chunks
        self._split = contextlib.ExitStack()
        self.step, _, _ = self._split.enter_context(split_batches(self.net, train_step))

    def train(self, idx):
        """One step per batch_size slice of idx; returns the number of samples seen."""
        for start in range(0, len(idx), self.batch_size):
            b = idx[start:start + self.batch_size]
            self.step(self.net, self.x[b], self.y[b], self.opt)
        return len(idx)

    def close(self):
        self._split.close()

    def predict(self, x, batch_size=1000):
        return self.net.predict(x, batch_size)


class TorchTrainer:
    """The same for torch, on the same float32 arrays (shared memory, no copy)."""

    name = "torch"

    def __init__(self, torch, x, y, batch_size=64, seed=0):
        self.torch = torch
        self.net, self.opt = torch_lenet(torch, seed)
        self.loss = torch.nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.batch_size = batch_size

    def train(self, idx):
        idx = self.torch.from_numpy(idx)
        self.net.train()
        for start in range(0, len(idx), self.batch_size):
            b = idx[start:start + self.batch_size]
            self.opt.zero_grad()
            self.loss(self.net(self.x[b]), self.y[b]).backward()
            self.opt.step()
        return len(idx)

    def predict(self, x, batch_size=1000):
        self.net.eval()
        with self.torch.no_grad():
            x = self.torch.from_numpy(x)
            return np.concatenate([self.net(x[i:i + batch_size]).argmax(1).numpy()
                                   for i in range(0, len(x), batch_size)])


def use_threads(n, torch=None):
    """Run cnnlib (batch split) and torch (intra-op threads) on n threads; None: no change."""
    if n is None:
        return
    set_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def compare_training(trainers, x, y, x_test, y_test, epochs=1, chunk=6400, seed=0,
                     thread_counts=(None,), torch=None):
    """Train every trainer for `epochs` epochs, alternating between them (and between the
    thread counts) every `chunk` samples (same shuffled order for all), then test them.

    Returns {name: {"train": [samples/s per chunk], "infer": [samples/s], "acc": float}};
    with thread counts other than None the keys are "train@N" and "infer@N".
    """
    keys = {t: ("train", "infer") if t is None else (f"train@{t}", f"infer@{t}")
            for t in thread_counts}
    res = {t.name: {k: [] for pair in keys.values() for k in pair} for t in trainers}
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for k, start in enumerate(range(0, len(x), chunk)):
            idx = order[start:start + chunk]
            # alternate who goes first, so neither always follows the other
            for n in (thread_counts if k % 2 == 0 else thread_counts[::-1]):
                use_threads(n, torch)
                for t in (trainers if k % 2 == 0 else trainers[::-1]):
                    t0 = time.perf_counter()
                    count = t.train(idx)
                    res[t.name][keys[n][0]].append(count / (time.perf_counter() - t0))
    for k in range(5):
        for n in thread_counts:
            use_threads(n, torch)
            for t in (trainers if k % 2 == 0 else trainers[::-1]):
                t0 = time.perf_counter()
                pred = t.predict(x_test)
                res[t.name][keys[n][1]].append(len(x_test) / (time.perf_counter() - t0))
                res[t.name]["acc"] = float((pred == y_test).mean())
    return res


class TimedLayer:
    """A layer's stand-in that writes how long its forward and backward take into
    times[0, i] and times[1, i] (seconds)."""

    def __init__(self, layer, times, i):
        self.layer, self.times, self.i = layer, times, i

    def forward(self, x):
        t0 = time.perf_counter()
        out = self.layer.forward(x)
        self.times[0, self.i] = time.perf_counter() - t0
        return out

    def backward(self, dout):
        t0 = time.perf_counter()
        dx = self.layer.backward(dout)
        self.times[1, self.i] = time.perf_counter() - t0
        return dx


def layer_profile(net, xb, yb, parts, repeats=20):
    """Median forward and backward ms per layer of one training step (no optimizer step)
    with the batch split into `parts` parts, the other parts run as training runs them
    (worker processes or threads, split_with); the times are those of part 0, which this
    thread runs, i.e. what the step waits for. Returns [(layer description, fwd ms, bwd ms)]."""
    processes = split_with() == "processes"
    parts = count_parts(len(xb), parts)
    bounds = part_bounds(len(xb), parts)
    n_layers = len(net.layers)
    times = np.zeros((repeats, 2, n_layers))

    def timed(twins, first, bounds, meetings, r):
        """Part first + j of twins[j] as training runs it (BatchNorm and Dropout meeting the
        other parts), part 0's layers timed; returns fn(k, b) for run_parts."""
        if twins[0] is not None and first == 0:  # in place: a synced forward keeps the list
            twins[0].layers[:] = [TimedLayer(layer, times[r], i)
                                  for i, layer in enumerate(twins[0].layers)]

        def run(k, b):
            whole = ((lambda loss: float(meetings[-1].meet(k, np.array(loss))[0]))
                     if meetings else None)
            part_gradients(twins[k - first], xb[b[0]:b[1]], yb[b[0]:b[1]],
                           (b[1] - b[0]) / len(xb), whole)
        return run

    for r in range(repeats):
        with SizeHint(net, xb):
            if processes and parts > 1:
                team = team_for(net, xb, parts)
                sent = team.dispatch(xb, yb)
                twin = replica(net)
                if team.meetings:
                    synchronise([twin], sent, first=0, meetings=team.meetings[:-1])
                timed([twin], 0, sent, team.meetings, r)(0, sent[0])
                team.collect(sent)
            else:
                twins = [replica(net) for _ in bounds]
                meetings = synchronise(twins, bounds)
                if meetings:
                    meetings.append(Meeting(parts))
                run_parts(timed(twins, 0, bounds, meetings, r), bounds, meetings)
    if processes:
        close_team(net)
    med = np.median(times[repeats // 4:], axis=0) * 1e3     # drop the warm-up quarter
    return [(repr(layer), med[0, i], med[1, i]) for i, layer in enumerate(net.layers)]


# ---------------------------------------------------------------- 4. the 99% network

def torch_net_like(torch, net, seed=0):
    """A torch Sequential with the layers of a cnnlib net (torch's own initialisation):
    lenet-style layers, and notebook 12's BatchNorm (BatchNorm2d on images, BatchNorm1d on
    features, the same eps and running-average rule), Dropout and Residual blocks."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(*_twins(torch.nn, net.layers, flat=False))


def _twins(nn, layers, flat):
    """torch modules for cnnlib layers; flat: whether the input is (N, D) features."""
    out = []
    for layer in layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "FFTConv2D"):      # the same convolution, computed another way
            f, c, k = layer.params["W"].shape[:3]
            out.append(nn.Conv2d(c, f, k, stride=layer.stride, padding=layer.pad))
        elif kind == "MaxPool2D":
            size = getattr(layer, "kernel_size", None) or layer.size
            out.append(nn.MaxPool2d(size, layer.stride))
        elif kind == "Linear":
            out.append(nn.Linear(*layer.params["W"].shape))
        elif kind in ("ReLU", "Flatten"):
            out.append(getattr(nn, kind)())
            flat = flat or kind == "Flatten"
        elif kind == "BatchNorm":               # torch's momentum is 1 - cnnlib's
            norm = nn.BatchNorm1d if flat else nn.BatchNorm2d
            out.append(norm(layer.params["gamma"].shape[0], eps=layer.eps,
                            momentum=1 - layer.momentum))
        elif kind == "Dropout":
            out.append(nn.Dropout(layer.p))
        elif kind == "Residual":
            out.append(_skip_class(nn)(*_twins(nn, layer.inner, flat)))
        else:
            raise ValueError(f"no torch twin for a {kind} layer yet: torch_net_like knows "
                             f"{', '.join(TWINS)}")
    return out


def _skip_class(nn):
    class Skip(nn.Module):
        """x + inner(x), cnnlib's Residual."""

        def __init__(self, *inner):
            super().__init__()
            self.inner = nn.Sequential(*inner)

        def forward(self, x):
            return x + self.inner(x)
    return Skip


TWINS = ("Conv2D", "FFTConv2D", "MaxPool2D", "Linear", "ReLU", "Flatten", "BatchNorm",
         "Dropout", "Residual")


def torch_recipe(torch, recipe, x, y):
    """Train the recipe's architecture in torch with the same recipe: Adam, the learning rate
    of every epoch (decay or schedule), batch size, epochs, the same shuffles (minibatches)
    and the same turned and shifted digits (cnnlib.augment, drawn from the same generator in
    the same order as train_recipe). Returns (net, seconds)."""
    run = TorchRun(torch, recipe, x, y)
    seconds = sum(run.epoch() for _ in range(recipe.epochs))
    return run.net, seconds


class TorchRun:
    """torch_recipe one epoch at a time (epoch() trains the next one and returns its
    seconds), so that recipe_rows can alternate the two libraries epoch by epoch."""

    def __init__(self, torch, recipe, x, y):
        self.torch, self.recipe, self.x, self.y, self.done = torch, recipe, x, y, 0
        self.net = torch_net_like(torch, make_net(recipe.arch), recipe.seed)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=recipe.lr)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.rng = np.random.default_rng(recipe.seed)

    def rate(self, epoch):
        from cnnlib.schedules import SCHEDULES
        recipe = self.recipe
        if recipe.schedule == "decay":
            return recipe.lr * recipe.lr_decay ** epoch
        return SCHEDULES[recipe.schedule](epoch, recipe.epochs, recipe.lr, recipe.warmup)

    def epoch(self):
        start = time.perf_counter()
        self.net.train()
        for group in self.opt.param_groups:
            group["lr"] = self.rate(self.done)
        for xb, yb in minibatches(self.x, self.y, self.recipe.batch_size,
                                  seed=self.recipe.seed + self.done):
            self.step(xb, yb)
        self.done += 1
        return time.perf_counter() - start

    def step(self, xb, yb):
        """One training step on a batch: turned and shifted as the recipe says (cnnlib.augment,
        drawn from this run's generator), then forward, loss, backward and Adam."""
        from cnnlib.augment import random_rotations
        recipe = self.recipe
        if recipe.rotate:
            xb = random_rotations(xb, self.rng, recipe.rotate)
        if recipe.shift:
            xb = random_shifts(xb, self.rng, recipe.shift)
        self.opt.zero_grad()
        self.loss_fn(self.net(self.torch.from_numpy(xb)), self.torch.from_numpy(yb)).backward()
        self.opt.step()


def endless_batches(x, y, batch_size, seed):
    """minibatches of (x, y), epoch after epoch (seed, seed + 1, ...), without end."""
    for epoch in itertools.count():
        yield from minibatches(x, y, batch_size, seed=seed + epoch)


def interleaved_steps(recipe, torch, x, y, steps, chunk):
    """Time `steps` training steps of the recipe's network with each library, in chunks of
    `chunk` steps that alternate (cnnlib's chunk, torch's chunk, torch's, cnnlib's, ...),
    after one warm-up chunk each: the machine's drift then falls on both alike within
    seconds, not minutes. cnnlib's steps are fit's (split_batches with the recipe's
    augmentation, then the step, the loss and the count of right answers); torch's are
    TorchRun.step. Both at the recipe's first learning rate, on the same batch order.
    Returns {"cnnlib": [seconds of each chunk], "torch": [...]}, paired by index."""
    from cnnlib.augment import TurnAndShift
    from cnnlib.optim import OPTIMIZERS
    net = make_net(recipe.arch, seed=recipe.seed)
    opt = OPTIMIZERS[recipe.optimizer](net, lr=recipe.lr)
    turn = (TurnAndShift(np.random.default_rng(recipe.seed), recipe.rotate, recipe.shift)
            if recipe.rotate or recipe.shift else None)
    ours = endless_batches(x, y, recipe.batch_size, recipe.seed)
    run = TorchRun(torch, recipe, x, y)
    theirs = endless_batches(x, y, recipe.batch_size, recipe.seed)
    run.net.train()
    net.train()
    times = {"cnnlib": [], "torch": []}
    with np.errstate(over="ignore", invalid="ignore"), \
            split_batches(net, train_step, turn, ours) as (step, augment, ours):
        def cnnlib_chunk():
            start, total, right = time.perf_counter(), 0.0, 0
            for _ in range(chunk):                      # what fit does with every batch
                xb, yb = next(ours)
                loss, logits = step(net, xb if augment is None else augment(xb), yb, opt)
                total += float(loss) * len(yb)
                right += int((logits.argmax(axis=1) == yb).sum())
            return time.perf_counter() - start

        def torch_chunk():
            start = time.perf_counter()
            for _ in range(chunk):
                run.step(*next(theirs))
            return time.perf_counter() - start

        cnnlib_chunk(), torch_chunk()                   # warm-up: workers start, caches fill
        for i in range(max(1, steps // chunk)):
            pair = (("cnnlib", cnnlib_chunk), ("torch", torch_chunk))
            for name, chunk_of in (pair if i % 2 == 0 else pair[::-1]):
                times[name].append(chunk_of())
    return times


def ratio_interval(ours, theirs, rounds=2000, seed=0):
    """sum(ours) / sum(theirs) and its 95% bootstrap interval over the (ours, theirs) pairs."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    pick = np.random.default_rng(seed).integers(0, len(ours), (rounds, len(ours)))
    draws = ours[pick].sum(axis=1) / theirs[pick].sum(axis=1)
    low, high = np.percentile(draws, [2.5, 97.5])
    return ours.sum() / theirs.sum(), float(low), float(high)


def interleaved_rows(args, recipe, torch, x_train, y_train):
    """Print interleaved_steps' figures: each library's seconds per step, the ratio of the
    totals with its 95% interval, and the spread of the chunk by chunk ratios."""
    use_threads(args.threads, torch)
    load_before = load()
    times = interleaved_steps(recipe, torch, x_train, y_train, args.interleave, args.chunk)
    ours, theirs = np.array(times["cnnlib"]), np.array(times["torch"])
    ratio, low, high = ratio_interval(ours, theirs)
    per = ours / theirs
    n = len(ours) * args.chunk
    row(f"{args.recipe} steps, cnnlib, {args.threads} threads",
        f"{ours.sum() / n * 1e3:.2f} ms per step",
        f"{n} steps of batch {recipe.batch_size} in {len(ours)} chunks of {args.chunk}, "
        f"alternating with torch's; load before {load_before}, after {load()}")
    row(f"{args.recipe} steps, torch, {args.threads} threads",
        f"{theirs.sum() / n * 1e3:.2f} ms per step",
        f"cnnlib / torch = **{ratio:.3f}x** (95% interval {low:.3f}-{high:.3f}); chunk by "
        f"chunk {per.min():.2f}-{per.max():.2f}x, median {float(np.median(per)):.3f}x, "
        f"quartiles {np.percentile(per, 25):.3f}-{np.percentile(per, 75):.3f}x")


def torch_accuracy(torch, net, x, y):
    net.eval()
    with torch.no_grad():
        pred = np.concatenate([net(torch.from_numpy(x[i:i + 1000])).argmax(1).numpy()
                               for i in range(0, len(x), 1000)])
    return float((pred == y).mean())


# ---------------------------------------------------------------- main

def load():
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def load_full(data_dir):
    directory = (data_dir or os.environ.get("CNNLIB_MNIST_DIR")
                 or str(REPO.parent / "shared" / "data" / "mnist"))
    (xtr, ytr), (xte, yte) = load_mnist("full", directory=directory)
    return (to_float(xtr[:, None]), ytr), (to_float(xte[:, None]), yte), directory


def row(name, value, note=""):
    print(f"| {name:<48} | {value:>32} | {note} |")


def cpu_seconds():
    """CPU seconds of this process (all its threads) and of its children that have ended
    (fit's worker processes stop at the end of every epoch)."""
    import resource
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def recipe_rows(args, recipe, torch, x_train, y_train, x_test, y_test):
    """Train the recipe with cnnlib and with torch (if installed) in this run, alternating
    epoch by epoch: cnnlib's epoch 1, torch's epoch 1, cnnlib's epoch 2, ... so that the
    machine's drift (2-3x between runs, and within minutes) falls on both alike. Prints the
    training seconds (the sum of each library's epochs; wall, and the CPU seconds of this
    process and cnnlib's workers), test accuracies, the load before and after, and the time
    ratio. args.epochs, if given, replaces the recipe's."""
    from dataclasses import replace
    if args.epochs:
        recipe = replace(recipe, epochs=args.epochs)
    use_threads(args.threads, torch)
    load_before = load()
    run = None if torch is None else TorchRun(torch, recipe, x_train, y_train)
    tseconds, tcpu = [], []

    def torch_epoch(history):           # train_recipe's callback: after every cnnlib epoch
        if run is not None:
            cpu = cpu_seconds()
            tseconds.append(run.epoch())
            tcpu.append(cpu_seconds() - cpu)

    cpu = cpu_seconds()
    net, history, _ = train_recipe(recipe, x_train, y_train, callback=torch_epoch)
    cpu = cpu_seconds() - cpu - sum(tcpu)
    seconds = sum(history["seconds"])
    acc = evaluate(net, x_test, y_test)[1]
    target = "600" if args.recipe == "beyond99" else "180"
    note = (f"target <= {target} s for the recipe on an idle machine; CPU {cpu:.0f} s (this "
            f"process and its worker processes); load before {load_before}, after {load()}"
            + ("; epochs alternating with torch's" if run is not None else ""))
    row(f"{args.recipe}, cnnlib, {args.threads} threads",
        f"{seconds:.1f} s, {recipe.epochs} epochs, acc {acc:.2%}", note)
    if run is not None:
        tacc = torch_accuracy(torch, run.net, x_test, y_test)
        ratios = [a / b for a, b in zip(history["seconds"], tseconds)]
        row(f"{args.recipe}, torch, {args.threads} threads",
            f"{sum(tseconds):.1f} s, acc {tacc:.2%}",
            f"same recipe; cnnlib / torch time = **{seconds / sum(tseconds):.3f}x** (target <= "
            f"1.0; epoch by epoch {min(ratios):.2f}-{max(ratios):.2f}x, median "
            f"{float(np.median(ratios)):.2f}x), CPU {sum(tcpu):.0f} s (cnnlib / torch "
            f"{cpu / sum(tcpu):.2f}x)")
    return recipe


def main(args):
    try:
        import torch
    except ImportError:
        torch = None
    counts = sorted({1, args.threads})
    use_threads(args.threads, torch)
    wall = time.perf_counter()
    print(f"command: python benchmarks/bench.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print("\n".join(machine_info(args.threads, torch)))
    (x_train, y_train), (x_test, y_test), directory = load_full(args.data_dir)
    print(f"data: full MNIST from {directory}: {len(x_train)} train / {len(x_test)} test, "
          "float32 x/255 - 0.5\n")
    print(f"| {'benchmark':<48} | {'result':>32} | note |")
    print(f"|{'-' * 50}|{'-' * 34}|------|")
    if args.recipe_only and args.interleave:
        if torch is None:
            raise SystemExit("--interleave compares cnnlib with torch: install torch first.")
        recipe = get_recipe(args.recipe)
        interleaved_rows(args, recipe, torch, x_train, y_train)
        print(f"\n{recipe.describe()}")
        print(f"load average (1, 5, 15 min) at the end: {load()}; "
              f"wall time of the run: {time.perf_counter() - wall:.0f} s")
        return
    if args.recipe_only:
        recipe = recipe_rows(args, get_recipe(args.recipe), torch, x_train, y_train, x_test,
                             y_test)
        print(f"\n{recipe.describe()}")
        print(f"load average (1, 5, 15 min) at the end: {load()}; "
              f"wall time of the run: {time.perf_counter() - wall:.0f} s")
        return

    use_threads(1, torch)
    for name, loop, fast in layer_rows(repeats=1 if args.quick else 3):
        note = f"fast is {loop / fast:,.0f}x faster (target >= 100x); 1 thread"
        row(name, f"{loop * 1e3:.1f} ms loop / {fast * 1e3:.3f} ms fast", note)

    seconds, acc = zhou_setting(x_train[:1000], y_train[:1000], x_test[:1000], y_test[:1000])
    row("Zhou's setting: one-conv net, 1000 img x 3 ep, bs 1", f"{seconds:.1f} s, acc {acc:.1%}",
        "SGD lr 0.005; first 1000 test images (target >= 78% in <= 5 s)")
    rate = loop_reference_rate(x_train, y_train, n=10 if args.quick else 50)
    row("  same, loop layers (loop-style reference)", f"{rate:,.0f} samples/s",
        f"fast layers: {3000 / seconds:,.0f} samples/s")

    epochs = 1 if args.quick else 2
    trainers = [CnnlibTrainer(x_train, y_train)]
    if torch is not None:
        trainers.append(TorchTrainer(torch, x_train, y_train))
    res = compare_training(trainers, x_train, y_train, x_test, y_test, epochs=epochs,
                           thread_counts=counts, torch=torch)
    trainers[0].close()
    med = {name: {k: float(np.median(v)) for k, v in r.items() if k != "acc"}
           for name, r in res.items()}
    for kind, what in (("train", "training, bs 64, Adam"), ("infer", "inference, bs 1000")):
        for n in counts:
            key = f"{kind}@{n}"
            c = med["cnnlib"][key]
            lo, hi = np.percentile(res["cnnlib"][key], [25, 75])
            spread = (f"medians of {len(res['cnnlib'][key])} alternating runs, "
                      f"cnnlib IQR {lo:,.0f}-{hi:,.0f}")
            if torch is None:
                row(f"LeNet {what}, {n} thread(s)", f"{c:,.0f} samples/s", spread)
                continue
            t = med["torch"][key]
            row(f"LeNet {what}, {n} thread(s)", f"{c:,.0f} vs {t:,.0f} samples/s",
                f"cnnlib / torch = **{c / t:.2f}x** (target >= 1.0); {spread}")
        if len(counts) > 1:
            gains = ", ".join(f"{name} {med[name][f'{kind}@{counts[-1]}'] / med[name][f'{kind}@1']:.2f}x"
                              for name in med)
            row(f"  gain from {counts[-1]} threads over 1 ({kind})", gains, "scaling factor")
    accs = ", ".join(f"{name} {v['acc']:.2%}" for name, v in res.items())
    row(f"LeNet test accuracy after {epochs * len(counts)} epoch(s)", accs, "10,000 test images")

    recipe = get_recipe(args.recipe)
    if not args.quick:
        recipe = recipe_rows(args, recipe, torch, x_train, y_train, x_test, y_test)

    nets = [("LeNet", trainers[0].net, 64), (recipe.arch, make_net(recipe.arch), recipe.batch_size)]
    for title, net, bs in nets:
        xb, yb = x_train[:bs], y_train[:bs]
        work = work_per_sample(net, xb.shape[1:])
        print(f"\nPer-layer times of one cnnlib {title} training step, batch {bs}, float32 (ms, "
              f"median; with N threads each thread runs {bs}/N images, the times are thread 0's;")
        least = MIN_PART_WORK_PROCESSES if split_with() == "processes" else MIN_PART_WORK
        print(f"training splits this batch into {count_parts(bs, counts[-1], work, least)} "
              f"part(s) on {split_with()} at {counts[-1]} threads: {work * bs / 1e6:.0f} million "
              f"multiply-adds, at least {least / 1e6:.0f} million per part):\n")
        profiles = {n: layer_profile(net, xb, yb, n) for n in counts}
        head = " | ".join(f"fwd {n}t | bwd {n}t" for n in counts)
        print(f"| layer | {head} |")
        print("|---|" + "---|" * (2 * len(counts)))
        for i, (name, _, _) in enumerate(profiles[counts[0]]):
            cells = " | ".join(f"{profiles[n][i][1]:.3f} | {profiles[n][i][2]:.3f}" for n in counts)
            print(f"| {i} {name} | {cells} |")
        totals = " | ".join(f"{sum(r[1] for r in profiles[n]):.3f} | "
                            f"{sum(r[2] for r in profiles[n]):.3f}" for n in counts)
        print(f"| total | {totals} |")
    print(f"\n{recipe.describe()}")
    print(f"load average (1, 5, 15 min) at the end: {load()}; "
          f"wall time of the run: {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main(parse_args())
