"""Read IDX files (the MNIST file format) into NumPy arrays, checking everything.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then
the payload. Magic = two zero bytes, a dtype code (0x08 = uint8) and the number
of dimensions: 0x00000803 (2051) for images (N, 28, 28), 0x00000801 (2049) for
labels (N,). Files may be gzip-compressed (detected from the first two bytes).

Used by cnnlib.data.load_mnist(source="full").
"""
import gzip
import os
import stat
import zlib

import numpy as np

from ..checks import memory_limit

_GZIP_START = b"\x1f\x8b"
_ADVICE = "delete it and download it again (or point the loader at a good copy)"


class IDXError(ValueError):
    """A file is not the IDX file it should be (bad magic, shape, length or gzip stream)."""


def _fail(path, expected, found):
    raise IDXError(f"{os.fspath(path)}: expected {expected}, found {found}; {_ADVICE}.")


def read_bytes(path, max_bytes=None):
    """Return the decompressed bytes of an IDX file (gzip if it starts with 1f 8b, else raw).

    Only regular files are read (a named pipe would block for ever). The size is checked
    while reading: never more than max_bytes if given, nor more than the IDX header
    promises, nor a header promising more than this machine's memory, so a small gzip
    that inflates to gigabytes is stopped early. A damaged gzip stream, like every
    failure here, raises IDXError naming the file.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(info.st_mode) else \
            "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        _fail(path, "a regular IDX file", kind)
    limit = memory_limit() if max_bytes is None else max_bytes
    header_seen = False
    out = bytearray()

    def add(piece):                          # append, then check the size so far
        nonlocal limit, header_seen
        out.extend(piece)
        if not header_seen and len(out) >= 4 and len(out) >= 4 + 4 * out[3]:
            header_seen = True
            if out[:3] == b"\x00\x00\x08" and out[3] > 0:   # else parse_idx says what is wrong
                dims = np.frombuffer(bytes(out[4:4 + 4 * out[3]]), dtype=">u4")
                promised = 4 + 4 * len(dims) + int(np.prod(dims.astype(object)))
                if promised > memory_limit():
                    _fail(path, "an IDX header whose size fits in memory",
                          f"one promising {promised:,} bytes")
                limit = min(limit, promised)
        if len(out) > limit:
            _fail(path, f"at most {limit:,} bytes of IDX data",
                  "more; stopped reading (a damaged or hostile file?)")

    with open(path, "rb") as f:
        head = f.read(2)
        if head != _GZIP_START:
            add(head)
            while chunk := f.read(1 << 20):
                add(chunk)
            return bytes(out)
        d, data = zlib.decompressobj(16 + zlib.MAX_WBITS), head
        try:
            while True:
                if not data:
                    data = f.read(1 << 20)
                    if not data:
                        break
                if d.eof:                    # another gzip member follows (gzip allows it)
                    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                # at most one byte past the limit, so a bomb is stopped without inflating it
                add(d.decompress(data, limit + 1 - len(out)))
                data = d.unused_data if d.eof else d.unconsumed_tail
        except zlib.error as err:
            _fail(path, "a complete gzip stream", f"a damaged one ({err})")
        if not d.eof:
            _fail(path, "a complete gzip stream", "a truncated one (it ends too early)")
    return bytes(out)


def parse_idx(data, path="<bytes>"):
    """Parse decompressed IDX bytes into a uint8 array of the shape in its header.

    Inputs: data (bytes), path (only used in error messages).
    Checks: magic = 00 00 08 ndim, and payload length == prod(dims) exactly.
    Returns: np.ndarray, dtype uint8, shape dims.
    """
    if len(data) < 4:
        _fail(path, "at least a 4-byte IDX header", f"{len(data)} bytes")
    zeros, code, ndim = data[:2], data[2], data[3]
    if zeros != b"\x00\x00" or code != 0x08 or ndim == 0:
        _fail(path, "an IDX magic number 0x000008nn (uint8 data)",
              f"0x{int.from_bytes(data[:4], 'big'):08x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        _fail(path, f"a {header}-byte header for {ndim} dimensions", f"{len(data)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    need = int(np.prod(dims, dtype=np.int64))
    have = len(data) - header
    if have != need:
        what = "truncated" if have < need else "trailing bytes"
        _fail(path, f"{need} data bytes for shape {dims}", f"{have} ({what})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx(path, kind=None):
    """Read one IDX file (gzip or raw) and check it is the expected kind.

    Inputs: path; kind = "images" (must be (N, 28, 28), magic 2051),
    "labels" (must be (N,), magic 2049) or None (any uint8 IDX).
    Returns: uint8 array (images) or int64 array (labels).
    Raises IDXError with the file, what was expected, what was found and what to do.
    """
    if kind not in (None, "images", "labels"):
        raise ValueError(f"kind must be None, 'images' or 'labels', got {kind!r}")
    arr = parse_idx(read_bytes(path), path)
    if kind == "images" and (arr.ndim != 3 or arr.shape[1:] != (28, 28)):
        _fail(path, "images of shape (N, 28, 28) (magic 2051)", f"shape {arr.shape}")
    if kind == "labels":
        if arr.ndim != 1:
            _fail(path, "labels of shape (N,) (magic 2049)", f"shape {arr.shape}")
        if arr.size and arr.max() > 9:
            _fail(path, "labels 0..9", f"a label {int(arr.max())}")
        arr = arr.astype(np.int64)
    return arr


def read_pair(images_path, labels_path):
    """Read an images file and its labels file; their counts must match.

    Returns: (x uint8 (N, 28, 28), y int64 (N,)).
    """
    x = read_idx(images_path, "images")
    y = read_idx(labels_path, "labels")
    if len(x) != len(y):
        raise IDXError(f"{os.fspath(images_path)} holds {len(x)} images but "
                       f"{os.fspath(labels_path)} holds {len(y)} labels; expected equal "
                       f"counts; {_ADVICE}.")
    return x, y

