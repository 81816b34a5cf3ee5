"""What every detector of the mistakes catalogue shares: the Mistake record and the ways to
read and compare outputs (mistakes.py and mistakes_beyond.py build on it)."""

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Mistake:
    id: str
    exercise: str
    says: str                      # the sentence the student reads
    matches: Callable              # (inputs, got, expected, problem) -> bool


def _f(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def close(got, want, rtol=1e-6, atol=1e-8):
    """True if got has want's shape and values (NaNs in the same places)."""
    if got is None or want is None:
        return False
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype.kind not in "fiub":
        return False
    return bool(np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                            atol=atol, equal_nan=True))


def _g(got, key):
    return None if not isinstance(got, dict) else got.get(key)
