"""Derive the bundled sample resources/mnist_sample.npz from the full MNIST files.

Rule (exactly): train = the first 600 images of each digit 0..9 in the order of the
official training file (train-images-idx3-ubyte); test = the first 100 images of each
digit in the order of the official test file (t10k-images-idx3-ubyte). Within each
split the chosen images stay in file order (sorted by their original index). Stored
with np.savez_compressed: x_train uint8 (6000, 28, 28), y_train int64 (6000,),
x_test uint8 (1000, 28, 28), y_test int64 (1000,), and the original positions
train_index, test_index (int64). The result must stay <= 2 MB.

Source: the MNIST database of handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges),
licence CC BY-SA 3.0. The full files are never committed to this repository.

Usage:  python scripts/make_sample.py [MNIST_DIR]
MNIST_DIR defaults to $CNNLIB_MNIST_DIR, else ../shared/data/mnist relative to the repo.
The choice is deterministic: running it twice gives identical arrays (the script prints
the SHA-256 of the array contents, cnnlib.data.arrays_sha256, to compare).
"""
import os
import sys
from pathlib import Path

import numpy as np

from cnnlib.data import arrays_sha256, load_mnist

REPO = Path(__file__).resolve().parent.parent

OUT = REPO / "resources" / "mnist_sample.npz"
PER_CLASS = {"train": 600, "test": 100}
MAX_BYTES = 2 * 1024 * 1024


def first_per_class(y, n):
    """Indices (sorted) of the first n occurrences of each label 0..9 in y."""
    picked = [np.flatnonzero(y == digit)[:n] for digit in range(10)]
    if any(len(p) < n for p in picked):
        raise ValueError(f"some digit has fewer than {n} examples")
    return np.sort(np.concatenate(picked)).astype(np.int64)


def main(argv):
    directory = argv[1] if len(argv) > 1 else (
        os.environ.get("CNNLIB_MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")
    (x_tr, y_tr), (x_te, y_te) = load_mnist("full", directory=directory)
    i_tr = first_per_class(y_tr, PER_CLASS["train"])
    i_te = first_per_class(y_te, PER_CLASS["test"])
    arrays = {"x_train": x_tr[i_tr], "y_train": y_tr[i_tr].astype(np.int64),
              "x_test": x_te[i_te], "y_test": y_te[i_te].astype(np.int64),
              "train_index": i_tr, "test_index": i_te}
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    size = OUT.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{OUT} is {size} bytes, more than the 2 MB budget")
    print(f"wrote {OUT.relative_to(REPO)} ({size / 1e6:.2f} MB) from {directory}")
    print(f"SHA-256 of the array contents: {arrays_sha256(arrays)}")


if __name__ == "__main__":
    main(sys.argv)
