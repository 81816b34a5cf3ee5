"""The training loop: mini-batches -> forward -> loss -> backward -> optimizer step.

    history = fit(net, x, y, epochs=3, batch_size=64, optimizer=Adam(net, 1e-3))
    loss, acc = evaluate(net, x_test, y_test)

The command line (python -m cnnlib) is in cnnlib.cli.

Introduced in notebooks/08_training.ipynb.
"""

import contextlib
import math
import time

import numpy as np
from tqdm.auto import tqdm

from .checks import check_finite_images, check_images, check_int, check_labels, check_seed
from .data import minibatches
# ChanceLevelWarning is imported for users too: from cnnlib.train import ChanceLevelWarning
from .diagnose import (EXPLODE_FACTOR, ChanceLevelWarning, check_optimizer,  # noqa: F401
                       likely_cause, warn_if_chance)
from .losses import softmax_cross_entropy
from .model import Sequential
from .optim import Adam
from .speed.parallel import forward_split
from .speed.steps import split_batches

__all__ = ["ChanceLevelWarning", "TrainingDiverged", "evaluate", "fit", "train_step"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite, or exploded; the message names the likely cause.

    Introduced in notebooks/08_training.ipynb.
    """


def check_data(x, y, name="x"):
    """Check images x: float (N, C, H, W) and labels y: int (N,) of the same length."""
    x = check_images(x, name)
    y = check_labels(y, name=f"labels for {name}")
    if len(x) != len(y):
        raise ValueError(f"{name} has {len(x)} images but its labels have {len(y)} entries.")
    if len(x) == 0:
        raise ValueError(f"{name} holds no images (shape {x.shape}).")
    check_finite_images(x, name, "training or scoring on them would give NaN")
    return x, y


def evaluate(net, x, y, batch_size=1000):
    """Mean cross-entropy loss and accuracy of net on (x, y), batch_size images at a time.

    x: float (N, C, H, W); y: int (N,). Returns (loss, acc) as Python floats. Runs the net
    in inference mode (Sequential.inference, notebook 12) and restores its mode afterwards.

    Introduced in notebooks/08_training.ipynb.
    """
    x, y = check_data(x, y)
    batch_size = check_int(batch_size, "batch_size", 1)
    total_loss, correct = 0.0, 0
    # inference mode (BatchNorm's running statistics, no dropout), restored afterwards
    with (net.inference() if hasattr(net, "inference") else contextlib.nullcontext()):
        for i in range(0, len(x), batch_size):
            logits = forward_split(net, x[i:i + batch_size]) if isinstance(net, Sequential) \
                else net.forward(x[i:i + batch_size])
            loss, _ = softmax_cross_entropy(logits, y[i:i + batch_size])
            total_loss += loss * len(logits)
            correct += int((logits.argmax(axis=1) == y[i:i + batch_size]).sum())
    return float(total_loss / len(x)), correct / len(x)


def diverged(loss, epoch, batch, optimizer, net=None, xb=None, first_loss=None):
    """The TrainingDiverged error for a non-finite or exploding loss, naming its likely cause
    (cnnlib.diagnose.likely_cause).
    """
    what = f"became {loss}" if not math.isfinite(loss) or first_loss is None else \
        f"became {loss:.3g}, exploding from {first_loss:.3g},"
    return TrainingDiverged(f"the loss {what} at epoch {epoch}, batch {batch}; "
                            f"{likely_cause(net, xb, optimizer)}; start again with a fresh "
                            f"net (this one's weights are ruined).")


def train_step(net, xb, yb, optimizer):
    """One step on a mini-batch: forward, loss, backward, optimizer update.

    Returns (loss, logits). A NaN or infinite loss is returned without updating.

    Introduced in notebooks/08_training.ipynb.
    """
    logits = net.forward(xb)
    loss, dlogits = softmax_cross_entropy(logits, yb)
    if math.isfinite(loss):
        net.backward(dlogits)
        optimizer.step()
    return loss, logits



def _wrap_row(bar):
    """In a notebook, let the progress bar's row (text, bar, loss and accuracy) wrap onto a
    second line on a narrow screen instead of cutting the accuracy off (a projector at 150%
    zoom leaves a 421 px wide output), and leave out the batches per second, so the text
    after the bar (batches, time, loss, accuracy) fits that width on one line. A terminal's
    bar has no such row."""
    container = getattr(bar, "container", None)
    if container is not None:
        container.layout.flex_flow = "row wrap"
        container.layout.max_width = "100%"
        bar.bar_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"

def fit(net, x, y, epochs=3, batch_size=64, optimizer=None, x_val=None, y_val=None,
        seed=0, progress=True, callback=None, callback_every=None, augment=None):
    """Train net on (x, y) with mini-batch gradient descent; returns the history.

    x: float (N, C, H, W); y: int (N,). Each epoch visits every sample once in a new
    shuffled order (minibatches with seed + epoch). optimizer defaults to Adam(net, 1e-3).
    history: dict of per-epoch lists "loss", "acc" (running means over the epoch's
    batches), "val_loss", "val_acc" (only with x_val, y_val), "seconds" (training time,
    validation excluded), plus "batch_loss" with every batch's loss.
    callback(history) runs after each epoch, and every callback_every batches if set;
    if it returns False training stops. augment(xb) -> xb, if given, changes every
    training batch before the step (e.g. cnnlib.augment.random_shifts).
    Raises TrainingDiverged (a FloatingPointError), naming the likely cause, as soon as
    the loss is NaN or infinite or explodes (EXPLODE_FACTOR times above max(first loss,
    ln K)); NumPy's overflow warnings are silenced. Warns ChanceLevelWarning when a run
    of at least CHANCE_MIN_STEPS steps ends no better than guessing. Refuses an optimizer
    built for another network (check_optimizer) and weights that are already NaN.
    The net is put in training mode (net.train()) and left in it; validation runs in
    inference mode (evaluate). On a machine with several cores each step may split its
    batch across them, and a cnnlib.augment.TurnAndShift its augmentation (split_batches,
    cnnlib.speed.steps): the same numbers up to float rounding.

    Introduced in notebooks/08_training.ipynb.
    """
    x, y = check_data(x, y)
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither.")
    if x_val is not None:
        x_val, y_val = check_data(x_val, y_val, "x_val")
    epochs, batch_size = check_int(epochs, "epochs", 0), check_int(batch_size, "batch_size", 1)
    seed = check_seed(seed)
    if callback_every is not None and callback is None:
        raise ValueError("callback_every needs a callback.")
    for f, name in ((callback, "callback"), (augment, "augment")):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be a function or None; got {type(f).__name__}.")
    optimizer = Adam(net) if optimizer is None else optimizer
    check_optimizer(optimizer, net)
    bad = [name for name, p in net.named_params().items() if not np.isfinite(p).all()]
    if bad:
        raise ValueError(f"the network's weights {bad} already hold NaN or infinite values (a "
                         f"run that diverged, or bad weights loaded); build a fresh net.")
    if hasattr(net, "train"):
        net.train()               # batch statistics and dropout (notebook 12)
    first_loss = None
    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "seconds": [],
               "batch_loss": []}
    n_batches = math.ceil(len(x) / batch_size)
    show_every = max(1, n_batches // 50)                  # keep the bar cheap for batch size 1
    stop = False
    for epoch in range(1, epochs + 1):
        start, total_loss, correct, seen = time.perf_counter(), 0.0, 0, 0
        batches = minibatches(x, y, batch_size, shuffle=True, seed=seed + epoch - 1)
        # step: train_step, or the same step with each batch split across the cores
        with split_batches(net, train_step, augment, batches) as (step, augment_batch, batches), \
                tqdm(batches, total=n_batches, desc=f"epoch {epoch}/{epochs}",
                     disable=not progress) as bar, np.errstate(over="ignore", invalid="ignore"):
            _wrap_row(bar)
            for b, (xb, yb) in enumerate(bar, 1):
                if augment_batch is not None:
                    xb = augment_batch(xb)
                loss, logits = step(net, xb, yb, optimizer)
                if first_loss is None:
                    first_loss = max(float(loss), math.log(logits.shape[1]))
                if not math.isfinite(loss) or loss > EXPLODE_FACTOR * first_loss:
                    raise diverged(loss, epoch, b, optimizer, net, xb, first_loss)
                history["batch_loss"].append(float(loss))
                total_loss += loss * len(yb)
                correct += int((logits.argmax(axis=1) == yb).sum())
                seen += len(yb)
                if progress and b % show_every == 0:
                    bar.set_postfix(loss=f"{total_loss / seen:.4f}",
                                    acc=f"{correct / seen:.3f}", refresh=False)
                if callback_every and b % callback_every == 0 and callback(history) is False:
                    stop = True
                    break
        history["seconds"].append(time.perf_counter() - start)
        history["loss"].append(float(total_loss / seen))
        history["acc"].append(correct / seen)
        if x_val is not None:
            val_loss, val_acc = evaluate(net, x_val, y_val)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
        if stop or (callback is not None and callback(history) is False):
            break
    if not stop:
        warn_if_chance(history, logits.shape[1] if history["acc"] else 0, optimizer)
    return history


if __name__ == "__main__":      # no import of the command line here: it builds on this module
    raise SystemExit("python -m cnnlib.train was the command line's old name; run "
                     "python -m cnnlib with the same options.")
