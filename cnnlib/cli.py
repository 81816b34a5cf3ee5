"""The command line: python -m cnnlib.

    python -m cnnlib --arch lenet --epochs 2        # see --help for every option
    python -m cnnlib --recipe lenet99 --data full   # a named recipe (cnnlib.recipes)

Loads MNIST, builds a named network (cnnlib.architectures), trains it with
cnnlib.train.fit and prints the test accuracy.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import warnings
from pathlib import Path

from .architectures import ARCHITECTURES, make_net
from .data import load_mnist, to_float
from .data.download import cache_dir
from .metrics import classification_report
from .model import check_weights_path
from .optim import OPTIMIZERS
from .recipes import RECIPES, Recipe, get_recipe, train_recipe
from .speed.threads import apply_policy, num_threads
from .train import ChanceLevelWarning, evaluate


def _positive(kind, minimum=None):
    """An argparse type: a finite number > 0 (or >= minimum when given)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if minimum is None and not value > 0 or minimum is not None and not value >= minimum:
            raise argparse.ArgumentTypeError(
                f"must be {'> 0' if minimum is None else f'>= {minimum}'}, got {text}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        return value
    return parse


def _file_name(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a file name, e.g. --save lenet.npz")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (the usage is in --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None):
    """Command-line options of python -m cnnlib (argparse errors for bad values).
    """
    p = _Parser(
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
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=None, help="default lenet")
    p.add_argument("--epochs", type=_positive(int), default=None, help="default 5")
    p.add_argument("--batch-size", type=_positive(int), default=None, help="default 32")
    p.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default: 0.001 for adam, 0.01 for sgd/momentum)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None, help="default adam")
    p.add_argument("--lr-decay", type=_positive(float), default=None,
                   help="multiply the learning rate by this after every epoch (default 1)")
    p.add_argument("--augment", type=_positive(int, 0), default=None, metavar="PIXELS",
                   help="shift every training image by a random -PIXELS..PIXELS (default 0)")
    p.add_argument("--schedule", choices=["decay", "cosine", "step"], default=None,
                   help="decay: multiply lr by --lr-decay after every epoch (default); cosine or "
                        "step: cnnlib.schedules, per epoch, after --warmup epochs")
    p.add_argument("--warmup", type=_positive(int, 0), default=None,
                   help="epochs of linear warm-up for --schedule cosine/step (default 0)")
    p.add_argument("--rotate", type=_positive(float, 0), default=None, metavar="DEGREES",
                   help="turn every training image by a random -DEGREES..DEGREES (default 0)")
    p.add_argument("--seed", type=_positive(int, 0), default=None,
                   help="weights, shuffling and augmentation seed (an integer >= 0, default 0)")
    p.add_argument("--train-size", type=_positive(int), default=None,
                   help="use only the first N training images")
    p.add_argument("--test-size", type=_positive(int), default=None,
                   help="use only the first N test images")
    p.add_argument("--save", type=_file_name, default=None,
                   help="write the trained weights to this .npz file (checked before training)")
    p.add_argument("--checkpoint", type=_file_name, default=None, metavar="PATH",
                   help="write the run's state to PATH after every epoch (default with --data "
                        "full: a file in the cache, removed when the run ends well)")
    p.add_argument("--resume", action="store_true",
                   help="go on from the checkpoint's last finished epoch; the same command "
                        "plus --resume ends with the weights an uninterrupted run gives")
    p.add_argument("--report", action="store_true", help="print a per-class report")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.resume and args.checkpoint is None and args.data != "full":
        p.error("--resume needs --checkpoint PATH, the file the interrupted run wrote")
    if args.data_dir is not None and args.data != "full":
        p.error("--data-dir only applies to --data full (the sample is bundled); "
                "add --data full or drop --data-dir")
    defaults = (get_recipe(args.recipe) if args.recipe else
                Recipe(arch="lenet", epochs=5, batch_size=32, lr=None)).as_dict()
    defaults["augment"] = defaults.pop("shift")
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    """python -m cnnlib: load data, build, train, print the test accuracy.

    Every failure ends with one line on stderr and a non-zero exit status (no traceback;
    set CNNLIB_TRACEBACK=1 to see one): 2 for bad options, 1 for other errors, 130 for
    Ctrl-C.
    """
    args = parse_args(argv)
    apply_policy()                  # BLAS threads; CNNLIB_THREADS sets cnnlib's (threads.py)
    state = {}
    try:
        _run(args, state)
    except KeyboardInterrupt:
        print(_interrupted(args, state), file=sys.stderr)
        sys.exit(130)                       # the shell's code for "stopped by Ctrl-C"
    except SystemExit:
        raise
    except Exception as err:                # one line, never a traceback
        if os.environ.get("CNNLIB_TRACEBACK"):
            raise
        sys.exit(f"error: {err}".replace("\n", " "))


def _run(args, state):
    if args.save:
        check_weights_path(args.save)    # before training, not after: never lose the work
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(
            args.data, args.data_dir if args.data == "full" else None)
    except (OSError, ValueError) as err:
        raise RuntimeError(f"could not load MNIST ({args.data}): {err}") from err
    if args.augment >= min(x_train.shape[1:]):
        raise ValueError(f"--augment {args.augment} would shift the {x_train.shape[1]}x"
                         f"{x_train.shape[2]} images out of sight; use a few pixels, e.g. 2.")
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    x_test, y_test = x_test[:args.test_size], y_test[:args.test_size]
    x_train, x_test = to_float(x_train[:, None]), to_float(x_test[:, None])
    recipe = Recipe(arch=args.arch, optimizer=args.optimizer, seed=args.seed,
                    lr=args.lr or (1e-3 if args.optimizer == "adam" else 1e-2),
                    lr_decay=args.lr_decay, shift=args.augment, epochs=args.epochs,
                    batch_size=args.batch_size, schedule=args.schedule, warmup=args.warmup,
                    rotate=args.rotate)
    net = make_net(args.arch, seed=args.seed)
    checkpoint, temporary = _checkpoint_path(args, recipe)
    print(f"{args.arch} network:\n{net.summary()}")
    print(f"data: {args.data}, {len(x_train)} train / {len(x_test)} test images; "
          f"{OPTIMIZERS[args.optimizer](net, lr=recipe.lr)}, batch size {args.batch_size}, "
          f"{args.epochs} epoch(s), " + (f"lr decay {args.lr_decay:g} per epoch" if
                                          args.schedule == "decay" else
                                          f"{args.schedule} schedule after {args.warmup} warm-up "
                                          f"epoch(s)") +
          f", random shifts up to {args.augment} px" +
          (f", random turns up to {args.rotate:g} degrees" if args.rotate else "") +
          f"; {num_threads()} thread(s)")
    state.update(net=net, epoch=0, checkpoint=checkpoint)

    def end_of_epoch(history):
        # keep the last finished epoch's weights: Ctrl-C in the next one saves these
        state.update(epoch=len(history["loss"]),
                     weights={k: v.copy() for k, v in {**net.named_params(),
                                                       **net.named_buffers()}.items()})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ChanceLevelWarning)
        _, history, _ = train_recipe(recipe, x_train, y_train, progress=not args.no_progress,
                                     callback=end_of_epoch, net=net, checkpoint=checkpoint,
                                     resume=args.resume)
    state["done"] = True
    if temporary:
        checkpoint.unlink(missing_ok=True)
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
        state["saved"] = True
        print(f"weights saved to {args.save}")
    for w in caught:
        if issubclass(w.category, ChanceLevelWarning):
            raise RuntimeError(str(w.message))
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _checkpoint_path(args, recipe):
    """(path or None, whether it is the default one, removed after a run that ended well).

    Runs on the full data take minutes, so they checkpoint by default, into the cache, in a
    file named after everything that makes the run what it is."""
    if args.checkpoint is not None:
        path = Path(args.checkpoint).expanduser()
        if args.resume and not path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {path}; run without --resume "
                                    "to start (it writes one after every epoch).")
        print(f"checkpoint after every epoch: {path}")
        return path, False
    if args.data != "full":
        return None, False
    key = json.dumps([recipe.as_dict(), args.train_size, str(args.data_dir)], sort_keys=True)
    folder = cache_dir() / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{recipe.arch}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"
    if args.resume and not path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint of this run in {folder}; run without "
                                "--resume to start.")
    print(f"checkpoint after every epoch: {path} (if the run stops, repeat the command with "
          f"--resume)")
    return path, True


def _interrupted(args, state):
    """The one line for Ctrl-C; with --save, saves the last finished epoch's weights."""
    line = _interrupted_weights(args, state)
    if state.get("checkpoint") is not None and state.get("epoch") and not state.get("done"):
        line += (f" The run's state after epoch {state['epoch']} is in {state['checkpoint']}: "
                 "repeat the command with --resume to go on.")
    return line


def _interrupted_weights(args, state):
    if "net" not in state:
        return "interrupted before training started; nothing saved."
    if state.get("done"):
        saved = f"the weights are in {args.save}" if state.get("saved") else \
            "the weights were not saved" if args.save else "nothing saved (no --save)"
        return f"interrupted after training; {saved}."
    if not args.save:
        return f"interrupted during epoch {state.get('epoch', 0) + 1}; nothing saved (no --save)."
    if not state.get("weights"):
        return "interrupted before the first epoch finished; no weights to save."
    net = state["net"]
    for name, p in {**net.named_params(), **net.named_buffers()}.items():
        p[...] = state["weights"][name]
    try:
        net.save(args.save)
    except (OSError, ValueError) as err:
        return f"interrupted; could not save the weights of epoch {state['epoch']}: {err}"
    return (f"interrupted during epoch {state['epoch'] + 1}; the weights of epoch "
            f"{state['epoch']} (the last finished) were saved to {args.save}.")
