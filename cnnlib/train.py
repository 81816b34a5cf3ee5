"""The training loop: mini-batches -> forward -> loss -> backward -> optimizer step.

    history = fit(net, x, y, epochs=3, batch_size=64, optimizer=Adam(net, 1e-3))
    loss, acc = evaluate(net, x_test, y_test)

The command line (python -m cnnlib, or its alias python -m cnnlib.train) is in cnnlib.cli.

Introduced in notebooks/08_training.ipynb.
"""

import math
import time

import numpy as np
from tqdm.auto import tqdm

from .checks import check_images, check_int, check_labels
from .data import minibatches
from .losses import softmax_cross_entropy
from .model import Sequential
from .optim import Adam
from .parallel import forward_split, split_parts, train_step_split


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: the step size is (almost always) too large.

    Introduced in notebooks/08_training.ipynb.
    """


def check_data(x, y, name="x"):
    """Check images x: float (N, C, H, W) and labels y: int (N,) of the same length."""
    check_images(x, name)
    y = check_labels(y, name=f"labels for {name}")
    if len(x) != len(y):
        raise ValueError(f"{name} has {len(x)} images but its labels have {len(y)} entries.")
    if len(x) == 0:
        raise ValueError(f"{name} holds no images (shape {x.shape}).")


def evaluate(net, x, y, batch_size=1000):
    """Mean cross-entropy loss and accuracy of net on (x, y), batch_size images at a time.

    x: float (N, C, H, W); y: int (N,). Returns (loss, acc) as Python floats.

    Introduced in notebooks/08_training.ipynb.
    """
    check_data(x, y)
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = forward_split(net, x[i:i + batch_size]) if isinstance(net, Sequential) \
            else net.forward(x[i:i + batch_size])
        loss, _ = softmax_cross_entropy(logits, y[i:i + batch_size])
        total_loss += loss * len(logits)
        correct += int((logits.argmax(axis=1) == y[i:i + batch_size]).sum())
    return float(total_loss / len(x)), correct / len(x)


def diverged(loss, epoch, batch, optimizer):
    """The TrainingDiverged error for a non-finite loss, with a 10x smaller lr to try."""
    lr = getattr(optimizer, "lr", None)
    hint = f"lr={lr:g} is probably too large: try lr={lr / 10:g}" if lr else \
        "the learning rate is probably too large: try one 10x smaller"
    return TrainingDiverged(f"the loss became {loss} at epoch {epoch}, batch {batch}; {hint} "
                            f"with a fresh net (this one's weights are ruined).")


def train_step(net, xb, yb, optimizer):
    """One step on a mini-batch: forward, loss, backward, optimizer update.

    Returns (loss, logits). A NaN or infinite loss is returned without updating.

    A Sequential net's batch is split across cnnlib.threads.num_threads() threads
    (cnnlib.parallel) when it is large enough; the result is the same up to float rounding.

    Introduced in notebooks/08_training.ipynb.
    """
    if isinstance(net, Sequential) and split_parts(len(xb)) > 1:
        return train_step_split(net, xb, yb, optimizer)
    logits = net.forward(xb)
    loss, dlogits = softmax_cross_entropy(logits, yb)
    if math.isfinite(loss):
        net.backward(dlogits)
        optimizer.step()
    return loss, logits


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
    training batch before the step (e.g. cnnlib.augment.random_shifts). Raises TrainingDiverged (a FloatingPointError)
    as soon as the loss is NaN or infinite (NumPy's overflow warnings are silenced).

    Introduced in notebooks/08_training.ipynb.
    """
    check_data(x, y)
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither.")
    if x_val is not None:
        check_data(x_val, y_val, "x_val")
    epochs, batch_size = check_int(epochs, "epochs", 0), check_int(batch_size, "batch_size", 1)
    if callback_every is not None and callback is None:
        raise ValueError("callback_every needs a callback.")
    optimizer = Adam(net) if optimizer is None else optimizer
    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "seconds": [],
               "batch_loss": []}
    n_batches = math.ceil(len(x) / batch_size)
    show_every = max(1, n_batches // 50)                  # keep the bar cheap for batch size 1
    stop = False
    for epoch in range(1, epochs + 1):
        start, total_loss, correct, seen = time.perf_counter(), 0.0, 0, 0
        batches = minibatches(x, y, batch_size, shuffle=True, seed=seed + epoch - 1)
        with tqdm(batches, total=n_batches, desc=f"epoch {epoch}/{epochs}",
                  disable=not progress) as bar, np.errstate(over="ignore", invalid="ignore"):
            for b, (xb, yb) in enumerate(bar, 1):
                if augment is not None:
                    xb = augment(xb)
                loss, logits = train_step(net, xb, yb, optimizer)
                if not math.isfinite(loss):
                    raise diverged(loss, epoch, b, optimizer)
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
    return history


if __name__ == "__main__":      # python -m cnnlib.train: the same as python -m cnnlib
    from .cli import main
    main()
