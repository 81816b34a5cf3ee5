"""What fit checks so that training never fails quietly.

    check_optimizer(optimizer, net)    before training: an optimizer, for this net, valid
    likely_cause(net, xb, optimizer)   after a NaN, infinite or exploding loss: why
    warn_if_chance(history, K, opt)    after training: warn if nothing was learned

The usual ways a run goes wrong in a notebook: a learning rate with a zero too few,
an optimizer cell not re-run after the network cell, NaN pixels, float16 weights.
"""

import math
import warnings

import numpy as np

from .optim import Optimizer

# A batch loss this many times above max(first batch loss, ln K) counts as exploding:
# a network that learns never climbs that far above where it started.
EXPLODE_FACTOR = 100
# Steps after which a run still at chance level is reported (MNIST passes 50% within ~50).
CHANCE_MIN_STEPS = 100


class ChanceLevelWarning(UserWarning):
    """Training finished with an accuracy no better than guessing (1/K): nothing was learned.
    """


def check_optimizer(optimizer, net):
    """Check that optimizer is an optimizer object, built for this net, with valid settings.

    Raises TypeError or ValueError saying what happened and what to do.
    """
    if isinstance(optimizer, type):
        raise TypeError(f"optimizer must be an optimizer object such as {optimizer.__name__}"
                        f"(net, lr=1e-3), not the class {optimizer.__name__} itself.")
    if not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must have a step() method (e.g. Adam(net, lr=1e-3)); got "
                        f"{type(optimizer).__name__}.")
    if getattr(optimizer, "net", net) is not net:
        raise ValueError(f"this {type(optimizer).__name__} was built for another network, so "
                         f"it would update that one and this net would learn nothing. Did you "
                         f"re-run the cell that builds the network? Build the optimizer again "
                         f"for this net: optimizer = {type(optimizer).__name__}(net, ...).")
    if isinstance(optimizer, Optimizer):
        optimizer.check()                   # settings may have changed since it was built


def likely_cause(net, xb, optimizer):
    """Why a loss went NaN, infinite or exploded, most specific cause first, as a phrase.

    Checks the batch xb for non-finite values, the optimizer's settings (they may have
    been changed after it was built), float16's narrow range; only then blames the step
    size. The hint names no rate to try: a rate 10x smaller can still explode (notebook 08's
    one_conv_net with SGD at batch 32 explodes at every rate it tries from 0.1 up to 1000,
    and lr=1e4 was once told to "try lr=1000"), so it says to keep dividing by 10 until the
    loss stops exploding. net and xb may be None (not checked).
    """
    if xb is not None:
        xb = np.asarray(xb)
        if np.issubdtype(xb.dtype, np.floating) and not np.isfinite(xb).all():
            return (f"the input batch holds {int(np.count_nonzero(~np.isfinite(xb)))} NaN or "
                    f"infinite value(s) (check your data or your augment function)")
    if isinstance(optimizer, Optimizer):
        try:
            optimizer.check()
        except ValueError as err:
            return f"a setting of {type(optimizer).__name__} is invalid: {err}"
    lr = getattr(optimizer, "lr", None)
    if isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0:
        step = (f"lr={lr:g} is probably too large: divide it by 10 and retry, again and "
                f"again, until the loss stops exploding")
    else:
        step = ("the learning rate is probably too large: divide it by 10 and retry, again "
                "and again, until the loss stops exploding")
    if net is not None and any(p.dtype == np.float16 for p in net.named_params().values()):
        return ("the network is float16, whose largest number is 65504, so activations and "
                f"gradients overflow easily: build it in float32 (if it fails there too, {step})")
    return step


def warn_if_chance(history, num_classes, optimizer):
    """Warn (ChanceLevelWarning) when the last epoch's accuracy is no better than guessing.

    "No better" is below 1/K + 5 points (below 15% for 10 classes), after at least
    CHANCE_MIN_STEPS steps (a shorter run may simply not have started learning).
    """
    if num_classes < 2 or not history["acc"] or len(history["batch_loss"]) < CHANCE_MIN_STEPS:
        return
    chance = 1 / num_classes
    acc = history["acc"][-1]
    if acc < chance + 0.05:
        lr = getattr(optimizer, "lr", None)
        lr_text = f"lr={lr:g}" if isinstance(lr, (int, float)) else "the learning rate"
        warnings.warn(
            f"training ended at chance level: accuracy {acc:.1%} in the last epoch, guessing "
            f"gives {chance:.0%}; the network learned nothing. Most likely {lr_text} is too "
            f"large (the weights jumped to where every ReLU outputs 0) or far too small; "
            f"try 10x smaller and 10x larger with a fresh net, and check that the labels "
            f"match the images.", ChanceLevelWarning, stacklevel=3)
