"""How many cores cnnlib uses, and why BLAS gets only one of them.

The policy, applied when cnnlib is imported (so no notebook cell has to do anything):

  * cnnlib's own threads: the number of CPUs this process may run on
    (os.sched_getaffinity, which a container or `taskset` restricts), or the teacher's
    override CNNLIB_THREADS=N. Every large mini-batch is split into that many parts:
    a training batch on worker processes forked for each epoch (cnnlib.speed.workers, Linux;
    CNNLIB_SPLIT=threads keeps it in this process), inference on threads
    (cnnlib.speed.parallel). Idle workers and threads sleep, so a busy machine loses nothing
    to them.
  * BLAS (numpy's matrix products): 1 thread, set with threadpoolctl. OpenBLAS threads
    busy-wait for work between calls; on a server where many kernels share few cores they
    burn the cores other students need, and the small matrices of a course-sized CNN gain
    little from them anyway (cnnlib's batch splitting uses the cores instead).
    CNNLIB_BLAS_THREADS=N overrides this; CNNLIB_THREADS_POLICY=off leaves BLAS alone.
  * memory (Linux): freed arrays are kept for reuse instead of being handed back to the
    operating system at once (keep_freed_memory); with two threads in one process, handing
    them back made the threads wait for each other. CNNLIB_THREADS_POLICY=off skips this too.

    set_threads(1)                # from a notebook: one core for this kernel
    CNNLIB_THREADS=1 jupyter lab  # for every kernel started from this shell

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import ctypes
import multiprocessing
import os
import sys

_state = {"threads": None, "blas": None}


def available_cpus():
    """CPUs this process may run on (the affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _env_int(name):
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number >= 1 (e.g. {name}=2); got {text!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}.")
    return value


def num_threads():
    """The number of threads cnnlib splits a batch across (see the module docstring).

    Not part of a notebook (see the README, "Cores and threads").
    """
    if _state["threads"] is None:
        _state["threads"] = _env_int("CNNLIB_THREADS") or available_cpus()
    return _state["threads"]


def split_with():
    """How a training batch is split across cores: "processes" (cnnlib.speed.workers; the
    default where worker processes can be forked, i.e. on Linux) or "threads"
    (cnnlib.speed.parallel; elsewhere, or chosen with CNNLIB_SPLIT=threads).

    Not part of a notebook (see the README, "Cores and threads").
    """
    text = os.environ.get("CNNLIB_SPLIT", "").strip().lower()
    if text not in ("", "processes", "threads"):
        raise ValueError(f"CNNLIB_SPLIT must be 'processes' or 'threads'; got {text!r}.")
    if text == "threads" or not can_fork():
        return "threads"
    return "processes"


def can_fork():
    """True where worker processes can be forked (Linux)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def set_threads(n=None, blas=None):
    """Use n threads for cnnlib's batch splitting (None: the default policy again) and,
    if given, `blas` threads for numpy's BLAS. Returns the previous (threads, blas).

    Not part of a notebook (see the README, "Cores and threads").
    """
    for name, value in (("n", n), ("blas", blas)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be an integer >= 1 or None; got {value!r}.")
    previous = (num_threads(), _state["blas"])
    _state["threads"] = n
    if blas is not None:
        set_blas_threads(blas)
    return previous


def set_blas_threads(n):
    """Limit numpy's BLAS to n threads with threadpoolctl; returns False without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=n, user_api="blas")
    _state["blas"] = n
    return True


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(mmap_threshold=32 * 2**20, trim_threshold=128 * 2**20):
    """Ask glibc's malloc to reuse the memory of freed arrays instead of returning it to the
    operating system at once. Returns True if applied, False where there is no glibc
    (macOS, Windows) or it refused a value. Not part of a notebook (see the README, "Cores
    and threads").

    Why: every training step allocates and frees the same large temporary arrays (im2col
    matrices, layer outputs: a megabyte each at batch 64). By default glibc maps fresh pages
    for such blocks and unmaps them when freed, so every step pays page faults, and with two
    threads in one process every unmap also interrupts the other core. Blocks up to
    mmap_threshold (32 MiB, as high as glibc's own adaptive threshold ever goes) now come
    from the heap, and up to trim_threshold of free heap memory is kept for the next step.
    benchmarks/RESULTS.md (version 0.4) has the page faults and the speed with and without
    it. The cost: a process keeps up to 128 MiB of freed
    memory instead of returning it, which its peak memory already includes.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
                and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))


def apply_policy():
    """Apply the import-time policy: BLAS threads from CNNLIB_BLAS_THREADS, else 1, and
    keep_freed_memory().

    Does nothing with CNNLIB_THREADS_POLICY=off. Called by cnnlib/__init__.py and the CLI.
    """
    if os.environ.get("CNNLIB_THREADS_POLICY", "").strip().lower() == "off":
        return
    num_threads()                               # reads and checks CNNLIB_THREADS once
    set_blas_threads(_env_int("CNNLIB_BLAS_THREADS") or 1)
    keep_freed_memory()
