"""The training loop: mini-batches -> forward -> loss -> backward -> optimizer step.

    history = fit(net, x, y, epochs=3, batch_size=64, optimizer=Adam(net, 1e-3))
    loss, acc = evaluate(net, x_test, y_test)

Also a command line:  python -m cnnlib.train --arch lenet --epochs 2  (see --help).

Introduced in notebooks/08_training.ipynb.
"""

import argparse
import math
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .augment import random_shifts
from .checks import check_images, check_int, check_labels
from .data import load_mnist, minibatches, to_float
from .losses import softmax_cross_entropy
from .metrics import classification_report
from .model import ARCHITECTURES, make_net
from .optim import OPTIMIZERS, Adam


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: the step size is (almost always) too large.

    Introduced in notebooks/08_training.ipynb.
    """


def check_data(x, y, name="x"):
    """Check images x: float (N, C, H, W) and labels y: int (N,) of the same length.

    Introduced in notebooks/08_training.ipynb.
    """
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
        logits = net.forward(x[i:i + batch_size])
        loss, _ = softmax_cross_entropy(logits, y[i:i + batch_size])
        total_loss += loss * len(logits)
        correct += int((logits.argmax(axis=1) == y[i:i + batch_size]).sum())
    return float(total_loss / len(x)), correct / len(x)


def diverged(loss, epoch, batch, optimizer):
    """The TrainingDiverged error for a non-finite loss, with a 10x smaller lr to try.

    Introduced in notebooks/08_training.ipynb.
    """
    lr = getattr(optimizer, "lr", None)
    hint = f"lr={lr:g} is probably too large: try lr={lr / 10:g}" if lr else \
        "the learning rate is probably too large: try one 10x smaller"
    return TrainingDiverged(f"the loss became {loss} at epoch {epoch}, batch {batch}; {hint} "
                            f"with a fresh net (this one's weights are ruined).")


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


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def parse_args(argv=None):
    """Command-line options of python -m cnnlib.train (argparse errors for bad values).

    Introduced in notebooks/08_training.ipynb.
    """
    p = argparse.ArgumentParser(
        prog="python -m cnnlib.train",
        description="Train a from-scratch CNN on MNIST and report the test accuracy. "
                    "Pixels are scaled with to_float: x/255 - 0.5.")
    p.add_argument("--data", choices=["sample", "full"], default="sample",
                   help="bundled 6000/1000 sample (default) or full MNIST")
    p.add_argument("--data-dir", default=None,
                   help="folder with the 4 MNIST IDX files for --data full "
                        "(default: $CNNLIB_MNIST_DIR, then the cache)")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="lenet")
    p.add_argument("--epochs", type=_positive(int), default=5)
    p.add_argument("--batch-size", type=_positive(int), default=32)
    p.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default: 0.001 for adam, 0.01 for sgd/momentum)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    p.add_argument("--lr-decay", type=_positive(float), default=1.0,
                   help="multiply the learning rate by this after every epoch (default 1)")
    p.add_argument("--augment", type=int, default=0, metavar="PIXELS",
                   help="shift every training image by a random -PIXELS..PIXELS (default 0)")
    p.add_argument("--seed", type=int, default=0, help="weights, shuffling and augmentation seed")
    p.add_argument("--train-size", type=_positive(int), default=None,
                   help="use only the first N training images")
    p.add_argument("--test-size", type=_positive(int), default=None,
                   help="use only the first N test images")
    p.add_argument("--save", default=None, help="write the trained weights to this .npz file")
    p.add_argument("--report", action="store_true", help="print a per-class report")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv=None):
    """python -m cnnlib.train: load data, build, train, print the test accuracy.

    Introduced in notebooks/08_training.ipynb.
    """
    args = parse_args(argv)
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(
            args.data, args.data_dir if args.data == "full" else None)
    except (OSError, ValueError) as err:
        sys.exit(f"error: could not load MNIST ({args.data}): {err}")
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    x_test, y_test = x_test[:args.test_size], y_test[:args.test_size]
    x_train, x_test = to_float(x_train[:, None]), to_float(x_test[:, None])
    lr = args.lr or (1e-3 if args.optimizer == "adam" else 1e-2)
    net = make_net(args.arch, seed=args.seed)
    optimizer = OPTIMIZERS[args.optimizer](net, lr=lr)
    print(f"{args.arch} network:\n{net.summary()}")
    print(f"data: {args.data}, {len(x_train)} train / {len(x_test)} test images; "
          f"{optimizer}, batch size {args.batch_size}, {args.epochs} epoch(s), "
          f"lr decay {args.lr_decay:g} per epoch, random shifts up to {args.augment} px")
    rng = np.random.default_rng(args.seed)
    augment = (lambda xb: random_shifts(xb, rng, args.augment)) if args.augment else None

    def decay(history):
        optimizer.lr *= args.lr_decay

    try:
        history = fit(net, x_train, y_train, args.epochs, args.batch_size, optimizer,
                      seed=args.seed, progress=not args.no_progress, callback=decay,
                      augment=augment)
    except TrainingDiverged as err:
        sys.exit(f"error: {err}")
    per_epoch = zip(history["loss"], history["acc"], history["seconds"])
    for e, (loss, acc, sec) in enumerate(per_epoch, 1):
        print(f"epoch {e}: train loss {loss:.4f}, train accuracy {acc:.2%}, {sec:.1f} s")
    test_loss, test_acc = evaluate(net, x_test, y_test)
    print(f"training time: {sum(history['seconds']):.1f} s")
    print(f"test loss {test_loss:.4f}")
    print(f"test accuracy: {test_acc:.2%} ({len(x_test)} images)")
    if args.report:
        print(classification_report(y_test, net.predict(x_test)))
    if args.save:
        net.save(args.save)
        print(f"weights saved to {args.save}")


if __name__ == "__main__":
    main()
