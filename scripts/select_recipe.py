"""Choose the 99% network's recipe on a validation split, never on the test set.

    python scripts/select_recipe.py [MNIST_DIR] [--names a_5ep_decay0.7 ...] [--val 5000]

Trains every candidate of cnnlib.recipes.CANDIDATES on the first 60,000 - VAL training
images and prints its accuracy on the last VAL (default 5,000) training images, as one
table row per candidate. The test images are not loaded.
"""

import argparse
import os
from pathlib import Path

from cnnlib.data import load_mnist, to_float
from cnnlib.recipes import BEYOND_CANDIDATES, CANDIDATES, train_recipe
from cnnlib.train import evaluate

REPO = Path(__file__).resolve().parent.parent
ALL = {**CANDIDATES, **BEYOND_CANDIDATES}       # lenet99's search and notebook 12's


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mnist_dir", nargs="?", default=None)
    p.add_argument("--names", nargs="*", default=sorted(CANDIDATES), choices=sorted(ALL))
    p.add_argument("--val", type=int, default=5000, help="validation images (the last ones)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="write each candidate's state to DIR/<name>.npz after every epoch")
    p.add_argument("--resume", action="store_true",
                   help="go on from the checkpoints in --checkpoint-dir")
    args = p.parse_args(argv)
    directory = (args.mnist_dir or os.environ.get("CNNLIB_MNIST_DIR")
                 or str(REPO.parent / "shared" / "data" / "mnist"))
    (x, y), _ = load_mnist("full", directory=directory)
    x = to_float(x[:, None])
    x_fit, y_fit, x_val, y_val = x[:-args.val], y[:-args.val], x[-args.val:], y[-args.val:]
    print(f"| candidate | recipe | validation accuracy ({args.val} images) | seconds | load |")
    print("| --- | --- | --- | --- | --- |")
    if args.resume and args.checkpoint_dir is None:
        p.error("--resume needs --checkpoint-dir")
    for name in args.names:
        checkpoint = None if args.checkpoint_dir is None else \
            Path(args.checkpoint_dir) / f"{name}.npz"
        resume = args.resume and checkpoint.is_file()

        def report(history, name=name):
            print(f"# {name} epoch {len(history['loss'])}: train loss {history['loss'][-1]:.4f}"
                  f", {history['seconds'][-1]:.0f} s", flush=True)

        net, history, seconds = train_recipe(ALL[name], x_fit, y_fit, callback=report,
                                             checkpoint=checkpoint, resume=resume)
        seconds = sum(history["seconds"])       # all epochs, resumed ones included
        acc = evaluate(net, x_val, y_val)[1]
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"| {name} | {ALL[name].describe()} | {acc:.2%} | {seconds:.0f} | {load} |",
              flush=True)


if __name__ == "__main__":
    main()
