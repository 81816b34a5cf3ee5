"""Train the network that notebook 11 inspects and save it to resources/lenet_mnist.npz.

    python scripts/train_pretrained.py [MNIST_DIR] [--out PATH] [--threads 2]

MNIST_DIR defaults to $CNNLIB_MNIST_DIR, else ../shared/data/mnist relative to the repo.
Everything is seeded (weights: seed 0, shuffling: seed 0 + epoch), so a rerun on the same
machine with the same thread count gives the same weights; the script prints a SHA-256 of
the weight arrays (cnnlib.data.arrays_sha256) to compare, and the SHA-256 of the file
itself (which also depends on the zip timestamps np.savez writes).

Load the result with:  net = cnnlib.architectures.lenet99().load("resources/lenet_mnist.npz")
Inputs must be scaled like the training data: cnnlib.data.to_float(x) = x/255 - 0.5.
"""

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train and save the pretrained network.")
    p.add_argument("mnist_dir", nargs="?", default=None)
    p.add_argument("--out", default=None, help="default: resources/lenet_mnist.npz")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    return p.parse_args(argv)


if __name__ == "__main__":
    ARGS = parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)        # read once, when numpy is imported

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "resources" / "lenet_mnist.npz"

EPOCHS, BATCH_SIZE, LR, DECAY, SHIFT, SEED = 5, 64, 1e-3, 0.7, 2, 0
RECIPE = (f"recipe: lenet99(seed={SEED}), Adam lr {LR:g} times {DECAY:g} after every epoch, "
          f"batch {BATCH_SIZE}, {EPOCHS} epochs, inputs to_float (x/255 - 0.5), every training "
          f"image shifted by a random -{SHIFT}..{SHIFT} pixels in x and y each time it is used")


def train(x_train, y_train, epochs=EPOCHS, seed=SEED, progress=False):
    """Train lenet99 on float32 images (N, 1, 28, 28) with the recipe above (the fit loop,
    plus the random shifts). Returns (net, history, training seconds); history has the
    per-epoch lists "loss", "acc" (on the shifted images) and "seconds".
    """
    from cnnlib.augment import random_shifts
    from cnnlib.architectures import lenet99
    from cnnlib.optim import Adam
    from cnnlib.train import fit

    net = lenet99(seed=seed)
    opt = Adam(net, lr=LR)
    rng = np.random.default_rng(seed)

    def after_epoch(history):
        opt.lr *= DECAY
        if progress:
            print(f"epoch {len(history['loss'])}: train loss {history['loss'][-1]:.4f}, train "
                  f"accuracy {history['acc'][-1]:.2%}, {history['seconds'][-1]:.1f} s", flush=True)

    start = time.perf_counter()
    history = fit(net, x_train, y_train, epochs, BATCH_SIZE, opt, seed=seed, progress=False,
                  callback=after_epoch, augment=lambda xb: random_shifts(xb, rng, SHIFT))
    return net, history, time.perf_counter() - start


def main(args):
    sys.path.insert(0, str(REPO))
    from cnnlib.data import arrays_sha256, load_mnist, to_float
    from cnnlib.train import evaluate

    directory = (args.mnist_dir or os.environ.get("CNNLIB_MNIST_DIR")
                 or str(REPO.parent / "shared" / "data" / "mnist"))
    (x_train, y_train), (x_test, y_test) = load_mnist("full", directory=directory)
    x_train, x_test = to_float(x_train[:, None]), to_float(x_test[:, None])
    print(RECIPE)
    net, history, seconds = train(x_train, y_train, progress=True)
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
    main(ARGS)
