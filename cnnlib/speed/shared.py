"""Memory and meetings that forked worker processes share with this process
(cnnlib.speed.workers).

    block = Shared({"x1": ((32, 1, 28, 28), np.float32)})   # block["x1"] in every process
    meeting = ProcessMeeting(parts=2, capacity=1024)         # made before the fork
    totals = meeting.meet(k, sums, count)                    # in part k's process

A ProcessMeeting is cnnlib.speed.synced.Meeting across processes: each part writes its
numbers into its slot of a shared block, the parts wait for each other (ProcessBarrier),
and every part then adds all the slots itself, in part order 0, 1, ..., with the same
numpy operations as Meeting: the same totals, bit for bit, in every process. Slots
alternate between two sets from one round to the next, so a part that runs ahead into the
next meeting never overwrites numbers another part is still adding.

A ProcessBarrier is threading.Barrier's wait for processes: a counter under a lock, and
two gates (semaphores) that alternate by round for the same reason. abort() breaks it for
good, so that no part waits for one that failed; a waiting part also asks every
POLL_S seconds whether its partners still run (check), and so never waits for a process
that was killed.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import mmap
import multiprocessing
import threading
import time

import numpy as np

__all__ = ["POLL_S", "SPIN_S", "ProcessBarrier", "ProcessMeeting", "Shared"]

POLL_S = 0.5          # how often a waiting part checks that its partners still run
SPIN_S = 0.0005       # how long a part that arrives first watches for the others to come
_ALIGN = 64


class Shared:
    """Arrays in one anonymous shared memory block, which forked children see as well:
    specs {name: (shape, dtype)}; shared[name] is the array."""

    def __init__(self, specs):
        offsets, total = {}, 0
        for name, (shape, dtype) in specs.items():
            total = -(-total // _ALIGN) * _ALIGN
            offsets[name] = (total, shape, np.dtype(dtype))
            total += int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.block = mmap.mmap(-1, max(total, 1))
        self.arrays = {name: np.frombuffer(self.block, dtype, int(np.prod(shape)), off)
                       .reshape(shape) for name, (off, shape, dtype) in offsets.items()}

    def __getitem__(self, name):
        return self.arrays[name]


class ProcessBarrier:
    """`parts` processes wait for each other; made before they are forked. Each process
    counts its own rounds (they stay equal because every part waits the same number of
    times). check, if set in a process, is called while it waits and may raise."""

    def __init__(self, parts, ctx=None):
        ctx = ctx or multiprocessing.get_context("fork")
        self.parts, self.round, self.check = parts, 0, None
        self.lock = ctx.Lock()
        self.gates = (ctx.Semaphore(0), ctx.Semaphore(0))
        # [arrived, broken, rounds completed, sleepers at gate 0, sleepers at gate 1]
        self.state = np.frombuffer(mmap.mmap(-1, 64), np.int64, 5)

    def wait(self):
        """Return once all parts have called wait this round; BrokenBarrierError if the
        barrier is (or becomes) broken.

        A part that arrives early first watches the round counter for up to SPIN_S seconds
        (the parts of a step arrive within microseconds of each other, and waking a
        sleeping process takes tens of them), then sleeps at this round's gate."""
        state, rnd = self.state, self.round
        self.round += 1
        with self.lock:
            if state[1]:
                raise threading.BrokenBarrierError
            state[0] += 1
            if state[0] == self.parts:              # the last to arrive opens the round
                state[0] = 0
                state[2] = rnd + 1
                for _ in range(int(state[3 + rnd % 2])):
                    self.gates[rnd % 2].release()
                state[3 + rnd % 2] = 0
                return
        deadline = time.perf_counter() + SPIN_S
        while state[2] == rnd and not state[1] and time.perf_counter() < deadline:
            pass
        with self.lock:                             # also orders the reads that follow
            if state[1]:
                raise threading.BrokenBarrierError
            if state[2] != rnd:
                return
            state[3 + rnd % 2] += 1                 # sleep until the last part opens it
        while not self.gates[rnd % 2].acquire(timeout=POLL_S):
            if state[1]:
                raise threading.BrokenBarrierError
            if self.check is not None:
                self.check()
        if state[1]:
            raise threading.BrokenBarrierError

    def abort(self):
        """Break the barrier for good: every part waiting now or later gets
        BrokenBarrierError. Takes no lock, so a partner that died holding it cannot stop it."""
        self.state[1] = 1
        for gate in self.gates:
            for _ in range(self.parts):
                gate.release()

    @property
    def broken(self):
        return bool(self.state[1])


class ProcessMeeting:
    """cnnlib.speed.synced.Meeting for `parts` processes: meet(k, *values) waits until every
    part has given its tuple of arrays (at most `capacity` bytes together, the same shapes
    and dtypes in every part) and returns their element-wise totals, added in part order."""

    def __init__(self, parts, capacity, ctx=None):
        self.parts, self.capacity = parts, -(-capacity // _ALIGN) * _ALIGN
        self.barrier = ProcessBarrier(parts, ctx)
        self.block = mmap.mmap(-1, 2 * parts * self.capacity)
        self._views = {}

    def _slots(self, values):
        """[round][part]: the views the values are written to (made once per shapes)."""
        key = tuple((v.shape, v.dtype.str) for v in values)
        slots = self._views.get(key)
        if slots is None:
            layout, total = [], 0
            for shape, dtype in key:
                layout.append((total, shape, np.dtype(dtype)))
                total += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 16) * 16
            if total > self.capacity:
                raise ValueError(f"a meeting's numbers take {total} bytes; its slots hold "
                                 f"{self.capacity} (a cnnlib bug: please report it).")
            slots = self._views[key] = [[
                [np.frombuffer(self.block, dtype, int(np.prod(shape)),
                               (rnd * self.parts + k) * self.capacity + off).reshape(shape)
                 for off, shape, dtype in layout]
                for k in range(self.parts)] for rnd in range(2)]
        return slots

    def meet(self, k, *values):
        values = [np.asarray(v) for v in values]
        slots = self._slots(values)[self.barrier.round % 2]
        for slot, v in zip(slots[k], values):
            slot[...] = v
        self.barrier.wait()
        first, *rest = slots
        total = [v.copy() for v in first]           # as Meeting adds: part 0's, then += ...
        for share in rest:
            for t, v in zip(total, share):
                t += v
        return tuple(total)

    def abort(self):
        self.barrier.abort()
