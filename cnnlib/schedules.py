"""Learning-rate schedules: the rate for step k of K (a step is one batch, or one epoch).

    warmup_cosine(k, K, lr_max, warmup=W, lr_min=0):
        k < W:   lr_max * (k + 1) / W                       linear warm-up
        k >= W:  lr_min + (lr_max - lr_min) * (1 + cos(pi * (k - W) / (K - W))) / 2
    warmup_step(k, K, lr_max, warmup=W, drop=0.1, every=S):
        k < W:   the same warm-up
        k >= W:  lr_max * drop ** ((k - W) // S)

Warm-up starts with small steps while the weights (and Adam's running averages, and
BatchNorm's statistics) are still settling; the decay ends with small steps that let the
weights settle into a minimum instead of bouncing around it.

Introduced in notebooks/12_beyond_lenet.ipynb.
"""

import math

from .checks import check_int, check_real

__all__ = ["SCHEDULES", "warmup_cosine", "warmup_step"]


def _check(k, total, lr_max, warmup):
    total = check_int(total, "total (the number of steps)", 1)
    k = check_int(k, "k (the step)", 0)
    if k >= total:
        raise ValueError(f"step k={k} is past the schedule's last step {total - 1}.")
    check_real(lr_max, "lr_max", 0, low_open=True)
    warmup = check_int(warmup, "warmup", 0)
    if warmup >= total:
        raise ValueError(f"warmup={warmup} leaves no step of the {total} to decay in; use "
                         f"fewer warm-up steps.")
    return k, total, warmup


def warmup_cosine(k, total, lr_max, warmup=0, lr_min=0.0):
    """The rate of step k (0..total-1): linear warm-up over `warmup` steps up to lr_max, then
    half a cosine from lr_max down towards lr_min (reached just after the last step).
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    k, total, warmup = _check(k, total, lr_max, warmup)
    check_real(lr_min, "lr_min", 0, high=lr_max)
    if k < warmup:
        return lr_max * (k + 1) / warmup
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * (k - warmup) / (total - warmup))) / 2


def warmup_step(k, total, lr_max, warmup=0, drop=0.1, every=1):
    """The rate of step k (0..total-1): linear warm-up over `warmup` steps, then lr_max
    multiplied by `drop` after every `every` steps.
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    k, total, warmup = _check(k, total, lr_max, warmup)
    check_real(drop, "drop", 0, low_open=True, high=1)
    every = check_int(every, "every", 1)
    if k < warmup:
        return lr_max * (k + 1) / warmup
    return lr_max * drop ** ((k - warmup) // every)


SCHEDULES = {"cosine": warmup_cosine, "step": warmup_step}
