"""What the bad-input tests of every module share (issue 11): check_raises, a 30-second
limit per test, a small batch of random images, and what the "nothing left behind" checks
need.

    from bad_input_support import check_raises, time_limit   # time_limit: autouse fixture
"""
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)
Y4 = np.array([3, 7])


@pytest.fixture(autouse=True)
def time_limit():
    """Every test gets 30 s: a hang (a pipe, a slow server) fails instead of blocking CI.
    Autouse in each module that imports it."""
    def expired(signum, frame):
        raise TimeoutError("this test took longer than 30 s (a hang?)")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def check_raises(fn, exc, *words):
    """fn() raises exc and its message holds every one of words (case-insensitive)."""
    with pytest.raises(exc) as info:
        fn()
    text = str(info.value).lower()
    for w in words:
        assert w.lower() in text, f"{w!r} not in: {info.value}"
    assert "allow_pickle" not in text
    return info.value


def leftovers(folder):
    """The hidden files (temporary files of saves and downloads) in folder."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def dead_pid():
    """The process id of a process that has ended (as a killed save's or download's)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
