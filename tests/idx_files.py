"""Write small IDX files for the tests (the inverse of cnnlib.data.idx.parse_idx).

Only the tests write IDX files, so the writer lives here rather than in cnnlib.
"""
import gzip
import os

import numpy as np


def write_idx(path, array, compress=None):
    """Write a uint8 array as an IDX file (gzip if compress, default: path ends in .gz).

    Header: 00 00 08 ndim, then each dimension as a big-endian uint32. Returns path.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim == 0:
        raise ValueError(f"write_idx needs a uint8 array with >= 1 dimension, got "
                         f"{array.dtype} with shape {array.shape}")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + np.ascontiguousarray(array).tobytes()
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(data, mtime=0) if compress else data)
    return path
