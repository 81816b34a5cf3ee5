"""What the tests that re-run the model answers share (tests/test_answers_*.py)."""
import contextlib
import warnings

import numpy as np

from cnnlib.speed import threads


@contextlib.contextmanager
def one_thread(quiet=False):
    """cnnlib on one thread, as the answers' runs were made (the numbers then do not depend on
    the core count), restored afterwards. quiet: also hide numpy's overflow warnings and
    cnnlib's chance-level warnings, which the runs that are meant to fail give."""
    saved = threads._state["threads"]
    threads.set_threads(1)
    try:
        if quiet:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                yield
        else:
            yield
    finally:
        threads.set_threads(saved)
