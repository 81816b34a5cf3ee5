"""IDX parser on small files written by the tests: good, truncated, wrong magic/shape, bad gzip."""
import gzip

import numpy as np
import pytest

from cnnlib.data.idx import IDXError, parse_idx, read_idx, read_pair
from idx_files import write_idx
import os
from cnnlib.data import download, load_mnist
from cnnlib.data.download import check_file
from cnnlib.data.idx import read_bytes
from bad_input_support import check_raises, time_limit  # noqa: F401 (time_limit: autouse)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
LABELS = np.array([3, 0, 9, 1, 7], dtype=np.uint8)


@pytest.mark.parametrize("name", ["img-idx3-ubyte.gz", "img-idx3-ubyte"])
def test_good_images_gzip_and_raw(tmp_path, name):
    path = write_idx(tmp_path / name, IMAGES)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    x = read_idx(path, "images")
    assert x.dtype == np.uint8 and x.shape == (5, 28, 28)
    np.testing.assert_array_equal(x, IMAGES)


def test_header_is_the_documented_magic(tmp_path):
    raw = (write_idx(tmp_path / "l", LABELS)).read_bytes()
    assert int.from_bytes(raw[:4], "big") == 2049
    assert int.from_bytes(raw[4:8], "big") == 5
    raw = (write_idx(tmp_path / "i", IMAGES)).read_bytes()
    assert int.from_bytes(raw[:4], "big") == 2051


def test_good_pair(tmp_path):
    x, y = read_pair(write_idx(tmp_path / "i.gz", IMAGES), write_idx(tmp_path / "l.gz", LABELS))
    assert y.dtype == np.int64 and y.tolist() == [3, 0, 9, 1, 7]
    assert len(x) == len(y) == 5


@pytest.mark.parametrize("cut", [1, 100, 28 * 28 * 5])
def test_truncated_file(tmp_path, cut):
    raw = write_idx(tmp_path / "i", IMAGES).read_bytes()
    (tmp_path / "i").write_bytes(raw[:-cut])
    with pytest.raises(IDXError, match="truncated") as err:
        read_idx(tmp_path / "i", "images")
    assert str(tmp_path / "i") in str(err.value) and "download" in str(err.value)


def test_trailing_garbage(tmp_path):
    raw = write_idx(tmp_path / "l", LABELS).read_bytes()
    (tmp_path / "l").write_bytes(raw + b"\x00")
    with pytest.raises(IDXError, match="trailing"):
        read_idx(tmp_path / "l", "labels")


@pytest.mark.parametrize("magic", [b"\x00\x00\x0d\x03", b"\x01\x00\x08\x03", b"<htm"])
def test_wrong_magic(tmp_path, magic):
    raw = write_idx(tmp_path / "i", IMAGES).read_bytes()
    (tmp_path / "i").write_bytes(magic + raw[4:])
    with pytest.raises(IDXError, match="magic"):
        read_idx(tmp_path / "i", "images")


def test_html_page_is_not_idx():
    with pytest.raises(IDXError, match="expected an IDX magic"):
        parse_idx(b"<!DOCTYPE html><html><body>Moved</body></html>", "page.gz")


def test_wrong_dimensions(tmp_path):
    write_idx(tmp_path / "small.gz", np.zeros((4, 14, 14), np.uint8))
    with pytest.raises(IDXError, match=r"\(N, 28, 28\).*\(4, 14, 14\)"):
        read_idx(tmp_path / "small.gz", "images")
    with pytest.raises(IDXError, match=r"shape \(N,\)"):
        read_idx(tmp_path / "small.gz", "labels")  # images file given as labels
    write_idx(tmp_path / "bad_labels.gz", np.array([1, 12], np.uint8))
    with pytest.raises(IDXError, match="0..9"):
        read_idx(tmp_path / "bad_labels.gz", "labels")


def test_count_mismatch(tmp_path):
    write_idx(tmp_path / "i.gz", IMAGES)
    write_idx(tmp_path / "l.gz", LABELS[:4])
    with pytest.raises(IDXError, match="5 images but .* 4 labels"):
        read_pair(tmp_path / "i.gz", tmp_path / "l.gz")


def test_corrupt_gzip(tmp_path):
    packed = gzip.compress(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + LABELS.tobytes())
    (tmp_path / "cut.gz").write_bytes(packed[:-6])        # stream ends early (EOFError)
    flipped = bytearray(packed)
    flipped[12] ^= 0xFF
    (tmp_path / "flip.gz").write_bytes(bytes(flipped))    # damaged deflate data / CRC
    for name in ("cut.gz", "flip.gz"):
        with pytest.raises(IDXError, match="gzip") as err:
            read_idx(tmp_path / name, "labels")
        assert name in str(err.value)
    assert issubclass(IDXError, ValueError)


def test_write_idx_rejects_non_uint8(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "x", np.zeros((2, 2), np.float32))


# ---------------------------------------------------------------- bad inputs (issue 11)
TEN_LABELS = np.arange(10, dtype=np.uint8)
RAW = b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + TEN_LABELS.tobytes()
NAME = "train-labels-idx1-ubyte.gz"


def test_named_pipe_instead_of_an_idx_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "labels")
    check_raises(lambda: read_idx(tmp_path / "labels"), IDXError, "named pipe",
                 "regular IDX file")


def test_named_pipe_in_the_mnist_folder_is_refused(tmp_path):
    for name in download.FILES:
        os.mkfifo(tmp_path / name)
    check_raises(lambda: load_mnist("full", tmp_path), IDXError, "named pipe")


def test_folder_instead_of_an_idx_file(tmp_path):
    check_raises(lambda: read_idx(tmp_path), IDXError, "a folder")


def test_gzip_bomb_is_stopped_while_decompressing(tmp_path):
    # 10 labels promised, then 64 MB of zeros: the gzip is small, its content is not
    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        f.write(RAW)
        zeros = bytes(1 << 20)
        for _ in range(64):
            f.write(zeros)
    assert bomb.stat().st_size < 1 << 20
    check_raises(lambda: read_idx(bomb), IDXError, "at most 18 bytes", "stopped reading")


def test_gzip_beyond_the_expected_mnist_size_is_stopped(tmp_path):
    path = tmp_path / NAME
    path.write_bytes(gzip.compress(bytes(100_000), compresslevel=1))   # no IDX header
    check_raises(lambda: check_file(path, "0" * 64, download.SIZES[NAME]), IDXError,
                 "at most 60,008 bytes")


def test_idx_header_promising_terabytes_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.gz"
    header = b"\x00\x00\x08\x03" + np.array([10**6, 10**4, 10**4], ">u4").tobytes()
    path.write_bytes(gzip.compress(header + bytes(100)))
    check_raises(lambda: read_idx(path), IDXError, "fits in memory")


def test_truncated_gzip_is_named(tmp_path):
    path = write_idx(tmp_path / "l.gz", TEN_LABELS)
    path.write_bytes(path.read_bytes()[:-6])
    check_raises(lambda: read_bytes(path), IDXError, "gzip", "delete it")
