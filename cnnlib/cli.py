"""The command line: python -m cnnlib (or its alias python -m cnnlib.train).

    python -m cnnlib --arch lenet --epochs 2        # see --help for every option

Loads MNIST, builds a named network (cnnlib.architectures), trains it with
cnnlib.train.fit and prints the test accuracy.

Introduced in notebooks/08_training.ipynb.
"""

import argparse
import sys

import numpy as np

from .architectures import ARCHITECTURES, OLD_NAMES, make_net
from .augment import random_shifts
from .data import load_mnist, to_float
from .metrics import classification_report
from .optim import OPTIMIZERS
from .train import TrainingDiverged, evaluate, fit


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
        prog="python -m cnnlib",
        description="Train a from-scratch CNN on MNIST and report the test accuracy. "
                    "Pixels are scaled with to_float: x/255 - 0.5.")
    p.add_argument("--data", choices=["sample", "full"], default="sample",
                   help="bundled 6000/1000 sample (default) or full MNIST")
    p.add_argument("--data-dir", default=None,
                   help="folder with the 4 MNIST IDX files for --data full "
                        "(default: $CNNLIB_MNIST_DIR, then the cache)")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="lenet",
                   type=lambda name: OLD_NAMES.get(name, name))
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
