"""The data every notebook uses: MNIST (bundled sample or full), Fashion-MNIST, and helpers.

    (x_train, y_train), (x_test, y_test) = load_mnist()    # bundled sample, offline
    x_*: uint8 (N, 28, 28), y_*: int64 (N,)

A digit drawn by hand: cnnlib.data.strokes (pen strokes to pixels, the shipped drawn
samples) and cnnlib.data.preprocess (MNIST's preprocessing), both for notebook 11.

Introduced in notebooks/00_mnist.ipynb.
"""
import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from . import download
from ..checks import check_int, check_labels
from .idx import read_pair

__all__ = ["arrays_sha256", "load_fashion_mnist", "load_mnist", "minibatches", "MNIST_MEAN",
           "MNIST_STD", "one_hot", "PRETRAINED_PATH", "resource_path", "SAMPLE_PATH", "SOURCES",
           "standardize", "to_float"]


def resource_path(name):
    """Path of a file shipped in the repository's top-level resources/ folder.

    A clone or an editable install reads resources/ directly; `pip install .` (or from a
    git URL) installs that folder as the package cnnlib.resources (pyproject.toml's
    package-dir), found through importlib.resources. Returns the repository path when
    neither has the file, so the caller's "missing" error names the expected place.
    """
    try:
        from importlib.resources import files
        installed = files("cnnlib.resources") / name
        if installed.is_file():
            return Path(str(installed))
    except (ModuleNotFoundError, TypeError):  # no such package: running from a clone
        pass
    return Path(__file__).resolve().parents[2] / "resources" / name


SAMPLE_PATH = resource_path("mnist_sample.npz")
PRETRAINED_PATH = resource_path("lenet_mnist.npz")  # notebook 11's 99% network
SOURCES = ("sample", "full")
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # full training set, pixels scaled to [0, 1]


def arrays_sha256(arrays):
    """SHA-256 over named arrays {name: ndarray}: names, dtypes, shapes and bytes, sorted by name.

    Used to pin the bundled sample's and the pretrained weights' content (independent of
    npz/zip metadata).
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _copies(arrays):
    (x_tr, y_tr), (x_te, y_te) = arrays
    return (x_tr.copy(), y_tr.copy()), (x_te.copy(), y_te.copy())


@functools.lru_cache(maxsize=None)
def _read_sample(path):
    if not Path(path).exists():
        raise FileNotFoundError(f"bundled sample {path} is missing; it ships with the "
                                "repository (re-create it with scripts/make_sample.py).")
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"].astype(np.int64)), \
               (f["x_test"], f["y_test"].astype(np.int64))


@functools.lru_cache(maxsize=None)
def _read_full(directory, dataset, may_download):
    spec = download.DATASETS[dataset]
    paths = download.ensure_files(directory, spec["mirrors"], spec["sha256"],
                                  download=may_download)
    f = [paths[name] for name in download.FILES]
    return read_pair(f[0], f[1]), read_pair(f[2], f[3])


def _full(dataset, directory, fallbacks=()):
    """Pick the folder (argument, env var, fallbacks, cache) and load the four files."""
    env = download.DATASETS[dataset]["env"]
    if directory is None and os.environ.get(env):
        directory = os.environ[env]
    if directory is None:
        directory = next((d for d in fallbacks if d.is_dir()), None)
    if directory is not None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a folder's path (a str or pathlib.Path), got "
                            f"{type(directory).__name__} {directory!r}; e.g. "
                            "load_mnist('full', directory='~/mnist').")
        directory = Path(directory).expanduser().resolve()
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory} (from directory=... or ${env}) is not a "
                                    "folder; it must hold the four IDX files.")
        return _copies(_read_full(directory, dataset, False))
    return _copies(_read_full(download.cache_dir(dataset).resolve(), dataset, True))


def load_mnist(source="sample", directory=None):
    """Load MNIST as ((x_train, y_train), (x_test, y_test)); x uint8 (N, 28, 28), y int64 (N,).

    source="sample": the bundled 6000 train (600 per digit) + 1000 test (100 per digit)
    images in resources/mnist_sample.npz, no network needed.
    source="full": 60000 + 10000 from directory, else $CNNLIB_MNIST_DIR, else the cache
    (cnnlib.data.download.cache_dir("mnist")), else downloaded into the cache. Files are checked
    (IDX structure + SHA-256); arrays are cached in memory and each call returns copies.
    Introduced in notebooks/00_mnist.ipynb.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "sample":
        if directory is not None:
            raise ValueError("directory=... only applies to source='full'")
        return _copies(_read_sample(SAMPLE_PATH))
    return _full("mnist", directory)


def load_fashion_mnist(directory=None):
    """Load full Fashion-MNIST (60000 + 10000 clothing images, same format as MNIST).

    Folder: directory, else $CNNLIB_FASHION_MNIST_DIR, else the Debian package folder
    /usr/share/datasets/fashion-mnist (apt install dataset-fashion-mnist), else the cache,
    else downloaded into the cache. Returns ((x_train, y_train), (x_test, y_test)).
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    return _full("fashion-mnist", directory, fallbacks=(download.FASHION_MNIST_SYSTEM_DIR,))


def _raw_pixels(x, name):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} expects raw pixel values (uint8, 0..255), got dtype "
                         f"{x.dtype}; was it already scaled?")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError(f"{name} expects pixel values in 0..255, found range "
                         f"{x.min()}..{x.max()}")
    return x


def to_float(x, mode="center"):
    """Scale raw pixels (uint8, any shape) to float32.

    mode="center": x/255 - 0.5, values in [-0.5, 0.5]; mode="unit": x/255, in [0, 1].
    Introduced in notebooks/00_mnist.ipynb.
    """
    modes = ("center", "unit")
    if mode not in modes:
        raise ValueError(f"mode must be one of {modes}, got {mode!r}")
    x = _raw_pixels(x, "to_float").astype(np.float32) / np.float32(255)
    return x - np.float32(0.5) if mode == "center" else x


def standardize(x, mean=MNIST_MEAN, std=MNIST_STD):
    """Standardise raw pixels: float32 (x/255 - mean) / std (defaults: full MNIST train).

    Introduced in notebooks/00_mnist.ipynb.
    """
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    x = _raw_pixels(x, "standardize").astype(np.float32) / np.float32(255)
    return (x - np.float32(mean)) / np.float32(std)


def one_hot(y, num_classes=10):
    """Integer labels (N,) -> float32 (N, num_classes) with a single 1 per row.

    Introduced in notebooks/00_mnist.ipynb.
    """
    y = check_labels(y, num_classes, "one_hot's labels")
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1
    return out


def minibatches(x, y, batch_size, shuffle=True, seed=0):
    """Iterate over (xb, yb) batches of batch_size along axis 0; the last may be smaller.

    shuffle=True draws one permutation from np.random.default_rng(seed), so the
    order is repeatable. Every sample appears exactly once per pass.
    Introduced in notebooks/00_mnist.ipynb.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    check_int(batch_size, "batch_size", 1)
    order = np.random.default_rng(seed).permutation(len(x)) if shuffle else np.arange(len(x))

    def batches():
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]
    return batches()
