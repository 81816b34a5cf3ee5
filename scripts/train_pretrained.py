"""Train the network that notebook 11 inspects and save it to resources/lenet_mnist.npz.

    python scripts/train_pretrained.py [MNIST_DIR] [--out PATH] [--threads 2] [--recipe NAME]
                                       [--resume]

The recipe is cnnlib.recipes.RECIPES["lenet99"] (chosen on a validation split, see that
module); the same run from the command line is `python -m cnnlib --recipe lenet99 --data full`.

MNIST_DIR defaults to $CNNLIB_MNIST_DIR, else ../shared/data/mnist relative to the repo.
Everything is seeded (weights: seed 0, shuffling: seed 0 + epoch), so a rerun on the same
machine with the same thread count and cnnlib version gives the same weights; the script
prints a SHA-256 of the weight arrays (cnnlib.data.arrays_sha256) to compare, and the
SHA-256 of the file itself (which also depends on the zip timestamps np.savez writes).

A checkpoint is written after every epoch (in the cache, cnnlib.data.download.cache_dir(), and
removed when the run ends well): after a crash, the same command with --resume goes on from the
last finished epoch and ends with the same weights.

Load the result with:  net = cnnlib.architectures.lenet99().load("resources/lenet_mnist.npz")
Inputs must be scaled like the training data: cnnlib.data.to_float(x) = x/255 - 0.5.
"""

import argparse
import hashlib
import os
import sys
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train and save the pretrained network.")
    p.add_argument("mnist_dir", nargs="?", default=None)
    p.add_argument("--out", default=None, help="default: resources/lenet_mnist.npz")
    p.add_argument("--threads", type=int, default=2,
                   help="parts cnnlib splits each batch into, one per core (default 2)")
    p.add_argument("--recipe", default="lenet99",
                   help="a name in cnnlib.recipes.RECIPES (default lenet99, the shipped weights)")
    p.add_argument("--resume", action="store_true",
                   help="go on from the checkpoint an interrupted run of the same recipe left")
    return p.parse_args(argv)


from cnnlib.recipes import get_recipe, train_recipe  # noqa: E402  (the installed package)
from cnnlib.speed.threads import set_threads  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "resources" / "lenet_mnist.npz"

RECIPE = get_recipe("lenet99")


def train(x_train, y_train, progress=False, recipe=None, **changes):
    """Train lenet99 on float32 images (N, 1, 28, 28) with `recipe` (default RECIPE; changes
    override its fields, e.g. epochs=1). Returns (net, history, training seconds); history has the
    per-epoch lists "loss", "acc" (on the shifted images) and "seconds".
    """
    def report(history):
        if progress:
            print(f"epoch {len(history['loss'])}: train loss {history['loss'][-1]:.4f}, train "
                  f"accuracy {history['acc'][-1]:.2%}, {history['seconds'][-1]:.1f} s", flush=True)

    return train_recipe(recipe or RECIPE, x_train, y_train, callback=report, **changes)


def main(args):
    set_threads(args.threads)
    from cnnlib.data import arrays_sha256, load_mnist, to_float
    from cnnlib.train import evaluate

    directory = (args.mnist_dir or os.environ.get("CNNLIB_MNIST_DIR")
                 or str(REPO.parent / "shared" / "data" / "mnist"))
    (x_train, y_train), (x_test, y_test) = load_mnist("full", directory=directory)
    x_train, x_test = to_float(x_train[:, None]), to_float(x_test[:, None])
    from cnnlib.data.download import cache_dir
    recipe = get_recipe(args.recipe)
    print(f"{args.recipe}: {recipe.describe()}")
    checkpoint = cache_dir() / "checkpoints" / f"train_pretrained-{args.recipe}.npz"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    print(f"checkpoint after every epoch: {checkpoint} (after a crash, add --resume)")
    net, history, seconds = train(x_train, y_train, progress=True, recipe=recipe,
                                  checkpoint=checkpoint, resume=args.resume)
    checkpoint.unlink(missing_ok=True)
    print(net.summary())
    test_loss, test_acc = evaluate(net, x_test, y_test)
    print(f"training time: {seconds:.1f} s on {args.threads} thread(s)")
    print(f"test accuracy: {test_acc:.2%} (loss {test_loss:.4f}) on {len(x_test)} images")
    if test_acc < 0.99:
        sys.exit("error: below 99.0% test accuracy; not saving.")
    out = Path(args.out or OUT)
    net.save(out)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    print(f"SHA-256 of the weight arrays: {arrays_sha256(net.named_params())}")
    print(f"SHA-256 of the file:          {hashlib.sha256(out.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(parse_args())
