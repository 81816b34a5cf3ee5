"""The command line: python -m cnnlib (or its alias python -m cnnlib.train).

    python -m cnnlib --arch lenet --epochs 2        # see --help for every option
    python -m cnnlib --recipe lenet99 --data full   # a named recipe (cnnlib.recipes)

Loads MNIST, builds a named network (cnnlib.architectures), trains it with
cnnlib.train.fit and prints the test accuracy.

Introduced in notebooks/08_training.ipynb.
"""

import argparse
import sys

from .architectures import ARCHITECTURES, OLD_NAMES, make_net
from .data import load_mnist, to_float
from .metrics import classification_report
from .optim import OPTIMIZERS
from .recipes import RECIPES, Recipe, get_recipe, train_recipe
from .threads import apply_policy, num_threads
from .train import TrainingDiverged, evaluate


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
    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="take arch, optimizer, lr, lr decay, augmentation, epochs, batch size "
                        "and seed from this recipe (cnnlib.recipes); options given as well win")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=None,
                   type=lambda name: OLD_NAMES.get(name, name), help="default lenet")
    p.add_argument("--epochs", type=_positive(int), default=None, help="default 5")
    p.add_argument("--batch-size", type=_positive(int), default=None, help="default 32")
    p.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default: 0.001 for adam, 0.01 for sgd/momentum)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None, help="default adam")
    p.add_argument("--lr-decay", type=_positive(float), default=None,
                   help="multiply the learning rate by this after every epoch (default 1)")
    p.add_argument("--augment", type=int, default=None, metavar="PIXELS",
                   help="shift every training image by a random -PIXELS..PIXELS (default 0)")
    p.add_argument("--seed", type=int, default=None,
                   help="weights, shuffling and augmentation seed (default 0)")
    p.add_argument("--train-size", type=_positive(int), default=None,
                   help="use only the first N training images")
    p.add_argument("--test-size", type=_positive(int), default=None,
                   help="use only the first N test images")
    p.add_argument("--save", default=None, help="write the trained weights to this .npz file")
    p.add_argument("--report", action="store_true", help="print a per-class report")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    defaults = (get_recipe(args.recipe) if args.recipe else
                Recipe(arch="lenet", epochs=5, batch_size=32, lr=None)).as_dict()
    defaults["augment"] = defaults.pop("shift")
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    """python -m cnnlib.train: load data, build, train, print the test accuracy.

    Introduced in notebooks/08_training.ipynb.
    """
    args = parse_args(argv)
    apply_policy()                  # BLAS threads; CNNLIB_THREADS sets cnnlib's (threads.py)
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(
            args.data, args.data_dir if args.data == "full" else None)
    except (OSError, ValueError) as err:
        sys.exit(f"error: could not load MNIST ({args.data}): {err}")
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    x_test, y_test = x_test[:args.test_size], y_test[:args.test_size]
    x_train, x_test = to_float(x_train[:, None]), to_float(x_test[:, None])
    recipe = Recipe(arch=args.arch, optimizer=args.optimizer, seed=args.seed,
                    lr=args.lr or (1e-3 if args.optimizer == "adam" else 1e-2),
                    lr_decay=args.lr_decay, shift=args.augment, epochs=args.epochs,
                    batch_size=args.batch_size)
    shown = make_net(args.arch, seed=args.seed)
    print(f"{args.arch} network:\n{shown.summary()}")
    print(f"data: {args.data}, {len(x_train)} train / {len(x_test)} test images; "
          f"{OPTIMIZERS[args.optimizer](shown, lr=recipe.lr)}, batch size {args.batch_size}, "
          f"{args.epochs} epoch(s), lr decay {args.lr_decay:g} per epoch, random shifts up to "
          f"{args.augment} px; {num_threads()} thread(s)")
    try:
        net, history, _ = train_recipe(recipe, x_train, y_train, progress=not args.no_progress)
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
