"""The public data API: bundled sample (pinned), full MNIST when available, and helpers."""
import os
from pathlib import Path

import numpy as np
import pytest

from cnnlib import data
from cnnlib.data import (arrays_sha256, load_fashion_mnist, load_mnist, minibatches,
                         one_hot, standardize, to_float)
from cnnlib.data.download import FASHION_MNIST_SYSTEM_DIR
from cnnlib.data.idx import IDXError
from idx_files import write_idx

# Pin of the bundled data: computed once with scripts/make_sample.py (arrays_sha256).
SAMPLE_SHA256 = "6b1af86174a18634275830e55cf02bb0375d7c22cc9c797e5fa33e3fa2aa380b"
REPO = Path(__file__).resolve().parent.parent
FULL_DIR = Path(os.environ.get("CNNLIB_MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")
needs_full = pytest.mark.skipif(
    not (FULL_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason=f"full MNIST not found at {FULL_DIR} (set CNNLIB_MNIST_DIR to run these checks)")


def test_sample_pinned_content():
    with np.load(data.SAMPLE_PATH, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    assert sorted(arrays) == ["test_index", "train_index", "x_test", "x_train",
                              "y_test", "y_train"]
    assert arrays_sha256(arrays) == SAMPLE_SHA256
    assert data.SAMPLE_PATH.stat().st_size <= 2 * 1024 * 1024


def test_sample_shapes_dtypes_balance_range():
    (x_tr, y_tr), (x_te, y_te) = load_mnist()
    assert x_tr.shape == (6000, 28, 28) and x_te.shape == (1000, 28, 28)
    assert x_tr.dtype == x_te.dtype == np.uint8
    assert y_tr.dtype == y_te.dtype == np.int64
    assert np.bincount(y_tr).tolist() == [600] * 10
    assert np.bincount(y_te).tolist() == [100] * 10
    assert x_tr.min() == 0 and x_tr.max() == 255


def test_sample_indices_in_file_order():
    with np.load(data.SAMPLE_PATH) as f:
        for key, n in (("train_index", 60000), ("test_index", 10000)):
            idx = f[key]
            assert np.all(np.diff(idx) > 0) and idx[-1] < n


def test_sample_works_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (x, _), _ = load_mnist("sample")
    assert len(x) == 6000


def test_returned_arrays_are_copies():
    (x, y), _ = load_mnist()
    x[0] = 0
    y[:] = 7
    (x2, y2), _ = load_mnist()
    assert x2[0].any() and np.bincount(y2).tolist() == [600] * 10


def test_unknown_source_lists_allowed():
    with pytest.raises(ValueError, match="'sample', 'full'"):
        load_mnist("mnist")
    with pytest.raises(ValueError, match="directory"):
        load_mnist("sample", directory="/tmp")


@needs_full
def test_full_mnist_facts():
    (x_tr, y_tr), (x_te, y_te) = load_mnist("full", directory=FULL_DIR)
    assert x_tr.shape == (60000, 28, 28) and x_te.shape == (10000, 28, 28)
    assert np.bincount(y_tr).tolist() == [5923, 6742, 5958, 6131, 5842,
                                          5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_te).tolist() == [980, 1135, 1032, 1010, 982,
                                          892, 958, 1028, 974, 1009]
    assert round(float(x_tr.mean(dtype=np.float64) / 255), 4) == 0.1307
    with np.load(data.SAMPLE_PATH) as f:
        np.testing.assert_array_equal(f["x_train"], x_tr[f["train_index"]])
        np.testing.assert_array_equal(f["y_train"], y_tr[f["train_index"]])
        np.testing.assert_array_equal(f["x_test"], x_te[f["test_index"]])
        np.testing.assert_array_equal(f["y_test"], y_te[f["test_index"]])


@needs_full
def test_full_via_env_var(monkeypatch):
    monkeypatch.setenv("CNNLIB_MNIST_DIR", str(FULL_DIR))
    _, (x_te, _) = load_mnist("full")
    assert x_te.shape == (10000, 28, 28)


def test_user_directory_with_wrong_files(tmp_path):
    x = np.zeros((2, 28, 28), np.uint8)
    y = np.zeros(2, np.uint8)
    for split in ("train", "t10k"):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", y)
    with pytest.raises(IDXError, match="expected decompressed SHA-256"):
        load_mnist("full", directory=tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_mnist("full", directory=tmp_path / "nowhere")


@pytest.mark.skipif(not FASHION_MNIST_SYSTEM_DIR.is_dir(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_system_folder(monkeypatch):
    monkeypatch.delenv("CNNLIB_FASHION_MNIST_DIR", raising=False)
    (x_tr, y_tr), (x_te, y_te) = load_fashion_mnist()
    assert x_tr.shape == (60000, 28, 28) and x_te.shape == (10000, 28, 28)
    assert np.bincount(y_tr).tolist() == [6000] * 10
    assert np.bincount(y_te).tolist() == [1000] * 10


def test_to_float_modes():
    x = np.array([[0, 51, 255]], np.uint8)
    c = to_float(x)
    assert c.dtype == np.float32
    np.testing.assert_allclose(c, [[-0.5, -0.3, 0.5]], atol=1e-7)
    np.testing.assert_allclose(to_float(x, mode="unit"), [[0, 0.2, 1]], atol=1e-7)


def test_standardize():
    x = np.array([0, 255], np.uint8)
    s = standardize(x)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, [-0.1307 / 0.3081, (1 - 0.1307) / 0.3081], rtol=1e-6)
    np.testing.assert_allclose(standardize(x, mean=0.5, std=0.5), [-1, 1], atol=1e-6)


@pytest.mark.parametrize("bad, message", [
    (np.array([0.1, 0.2], np.float32), "already scaled"),
    (np.array([-1, 300]), "0..255"),
])
def test_scaling_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        to_float(bad)
    with pytest.raises(ValueError, match=message):
        standardize(bad)


def test_scaling_bad_arguments():
    with pytest.raises(ValueError, match="center"):
        to_float(np.zeros(2, np.uint8), mode="minus_one")
    with pytest.raises(ValueError, match="std"):
        standardize(np.zeros(2, np.uint8), std=0)


def test_one_hot():
    out = one_hot(np.array([2, 0, 9]))
    assert out.shape == (3, 10) and out.dtype == np.float32
    assert out.sum(axis=1).tolist() == [1, 1, 1]
    assert out.argmax(axis=1).tolist() == [2, 0, 9]
    assert one_hot(np.array([1]), num_classes=3).tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("bad, message", [
    (np.array([0, 10]), "0..9"),
    (np.array([-1]), "0..9"),
    (np.array([[1, 2]]), r"shape \(N,\)"),
    (np.array([1.0, 2.0]), "integer"),
])
def test_one_hot_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        one_hot(bad)


def test_minibatches_cover_everything_once():
    x = np.arange(10).reshape(10, 1)
    y = np.arange(10)
    batches = list(minibatches(x, y, batch_size=4, seed=1))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # pairs stay together
    again = np.concatenate([yb for _, yb in minibatches(x, y, 4, seed=1)])
    np.testing.assert_array_equal(seen, again)
    in_order = np.concatenate([yb for _, yb in minibatches(x, y, 4, shuffle=False)])
    assert in_order.tolist() == list(range(10))


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_minibatches_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(np.zeros(4), np.zeros(4), batch_size)


def test_minibatches_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        minibatches(np.zeros(4), np.zeros(5), 2)


@pytest.mark.parametrize("bad", [123, 1.5, ["a", "b"]])
def test_full_with_a_directory_that_is_not_a_path_says_so(bad):
    with pytest.raises(TypeError, match=r"directory must be a folder's path .*got "):
        load_mnist("full", directory=bad)
