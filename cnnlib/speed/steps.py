"""The seam between the training loop and the speed-ups: one mini-batch split across cores.

    with split_batches(net, train_step, augment, batches) as (step, augment, batches):
        for xb, yb in batches:                             # fit, every epoch
            xb = augment(xb)                               # augment's call and result
            loss, logits = step(net, xb, yb, optimizer)    # train_step's call and result

`step` is train_step itself when splitting does not pay (one core, a small batch, a net
that is not a Sequential), and otherwise the same step with the batch cut into parts that
run at the same time: on worker processes (cnnlib.speed.workers, Linux) or on threads
(cnnlib.speed.parallel; elsewhere, or CNNLIB_SPLIT=threads). The parts of a net with
BatchNorm or Dropout layers meet to see the whole batch (cnnlib.speed.synced, and
cnnlib.speed.shared across processes). Worker processes started in the block stop when it
ends, however it ends.

The block's `augment` is the one given (None if none is), except where batches split on
worker processes and it can be split (cnnlib.augment.TurnAndShift): then the random numbers
are drawn here, for the whole batch, and its images are turned and shifted in several
processes at the same time (the same numbers as augment(xb)). The block's `batches` are the
ones given, read one batch ahead: while this process adds a step's gradients and updates
the weights, the workers, whose parts are done, already turn their rows of the next batch
(cnnlib.speed.workers, WorkerTeam._ahead); its random numbers are drawn ahead and the
generator put back, so nothing changes if that batch is never turned.

Both ways run every part through cnnlib.speed.parts.part_gradients and add the parts'
gradients in a fixed order (so a run repeats exactly): the same numbers as train_step up
to float rounding.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import contextlib

from ..model import Sequential, SizeHint
from .parallel import MIN_PART_WORK, MIN_PART_WORK_PROCESSES, parts_for, train_step_threads
from .synced import can_synchronise, needs_whole_batch
from .threads import split_with
from .workers import close_team, team_for

__all__ = ["split_batches"]


@contextlib.contextmanager
def split_batches(net, train_step, augment=None, batches=None):
    """A block whose value is (step, augment, batches): a step function with train_step's
    call and result, step(net, xb, yb, optimizer) -> (loss, logits), that splits each batch
    of the Sequential net across the cores when every part carries enough work
    (parallel.parts_for), and is train_step otherwise; augment, or the same augmentation
    split across the worker processes; and the (xb, yb) pairs of `batches` (None if None),
    the same ones, read one ahead so that the workers can turn the next batch's rows while
    a step's update runs (see the module's text): each batch must then be a new array, as
    cnnlib.data.minibatches makes them (ValueError for one handed out again). A net with a
    layer that has buffers is not split if that layer is not a BatchNorm or a Dropout
    (synced.can_synchronise). The worker processes it starts stop when the block ends."""
    if not isinstance(net, Sequential) or not can_synchronise(net):
        yield train_step, augment, batches  # (a layer with buffers that has no twin: unsplit)
        return
    # A BatchNorm or Dropout (also in a Residual block) needs the whole batch: its twins meet,
    # on threads (cnnlib.speed.synced) or across the worker processes (cnnlib.speed.shared).
    processes = split_with() == "processes"
    min_work = MIN_PART_WORK_PROCESSES if processes else MIN_PART_WORK
    splits = processes and all(hasattr(augment, a) for a in ("draw", "rows", "apply"))
    ahead = _Ahead(batches) if splits and batches is not None else None

    def split(net, xb, yb, optimizer, parts):
        if processes:
            team = team_for(net, xb, parts)
            return team.train_step(xb, yb, optimizer, next_to_turn(team))
        return train_step_threads(net, xb, yb, optimizer, parts)

    def next_to_turn(team):         # the next batch, if the workers can turn it ahead
        nxt = None if ahead is None or ahead.next is None else ahead.next[0]
        if nxt is None or not team.fits(net, nxt, augment) or \
                parts_for(net, nxt, min_work) != team.parts:
            return None
        return nxt

    def step(net, xb, yb, optimizer):
        parts = parts_for(net, xb, min_work)
        if parts == 1:
            return train_step(net, xb, yb, optimizer)
        if needs_whole_batch(net):    # its parts run without the image-size hint: add it here
            with SizeHint(net, xb):
                return split(net, xb, yb, optimizer, parts)
        return split(net, xb, yb, optimizer, parts)

    def split_augment(xb):
        parts = parts_for(net, xb, min_work)
        if parts == 1:
            return augment(xb)
        return team_for(net, xb, parts, augment).augment(xb, augment.draw(len(xb)))

    try:
        yield step, split_augment if splits else augment, batches if ahead is None else ahead
    finally:
        close_team(net)         # nothing to do when no worker was started


class _Ahead:
    """An iterator over batches that reads one ahead: `next` is the batch after the one it
    handed out last (None once there is none)."""

    def __init__(self, batches):
        self._batches = iter(batches)
        self.next = next(self._batches, None)

    def __iter__(self):
        return self

    def __next__(self):
        if self.next is None:
            raise StopIteration
        batch, self.next = self.next, next(self._batches, None)
        if self.next is not None and self.next[0] is batch[0]:
            raise ValueError("the batches hand out the same images array again; split_batches "
                             "reads one batch ahead, so each batch must be a new array (as "
                             "cnnlib.data.minibatches makes them).")
        return batch
