"""Find or download the four IDX files of MNIST / Fashion-MNIST into a per-user cache.

Every file is checked by the SHA-256 of its DECOMPRESSED bytes, so a copy that was
re-gzipped (different .gz bytes, same content) is accepted and a damaged one is not.
Downloads go to a temporary file in the target folder and are renamed into place
only after the check passes, so the cache never holds a partial or wrong file.

Introduced in notebooks/11_what_it_learned.ipynb.
"""
import hashlib
import http.client
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..files import remove_stale, temp_file
from .idx import IDXError, parse_idx, read_bytes

__all__ = ["cache_dir", "check_file", "DATASETS", "DEADLINE", "DownloadError",
           "ensure_files", "FASHION_MNIST_MIRRORS", "FASHION_MNIST_SHA256",
           "FASHION_MNIST_SYSTEM_DIR", "fetch", "FILES", "MNIST_MIRRORS", "MNIST_SHA256",
           "SIZES", "USER_AGENT"]

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# The original host http://yann.lecun.com/exdb/mnist/ no longer serves the files
# (it answers with an HTML page or an auth error), so it is not in the list.
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

# SHA-256 of the decompressed IDX bytes (the same for the official downloads).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# Computed from Debian's dataset-fashion-mnist package (whose .gz files are
# recompressed, so only the decompressed bytes can be compared with upstream).
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# Decompressed sizes (header + pixels or labels), the same for MNIST and Fashion-MNIST:
# a file is never read past these, however much its gzip stream would inflate.
SIZES = {"train-images-idx3-ubyte.gz": 16 + 60000 * 28 * 28,
         "train-labels-idx1-ubyte.gz": 8 + 60000,
         "t10k-images-idx3-ubyte.gz": 16 + 10000 * 28 * 28,
         "t10k-labels-idx1-ubyte.gz": 8 + 10000}
# Seconds one file may take to download from one mirror before the next is tried.
DEADLINE = 600
# A mirror that delivers less than MIN_RATE bytes per second, averaged over STALL_WINDOW
# seconds, has stalled: the next mirror is tried long before the deadline. 1 kB/s would
# take almost three hours for the 9.9 MB training images.
MIN_RATE = 1024
STALL_WINDOW = 30
# Where `apt-get install dataset-fashion-mnist` (Debian/Ubuntu) puts the four files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

DATASETS = {
    "mnist": {"mirrors": MNIST_MIRRORS, "sha256": MNIST_SHA256, "env": "CNNLIB_MNIST_DIR"},
    "fashion-mnist": {"mirrors": FASHION_MNIST_MIRRORS, "sha256": FASHION_MNIST_SHA256,
                      "env": "CNNLIB_FASHION_MNIST_DIR"},
}
USER_AGENT = "cnnlib/0.1 (teaching course; Python urllib)"


class DownloadError(OSError):
    """No mirror delivered a correct copy of a file (the message lists every attempt).
    """


def cache_dir(dataset=None):
    """Per-user cache folder: $CNNLIB_CACHE, else $XDG_CACHE_HOME/cnnlib, else ~/.cache/cnnlib.

    A relative $XDG_CACHE_HOME is ignored, as the XDG Base Directory spec says (it would
    put the cache under whatever folder Python was started in).
    With dataset (e.g. "mnist") returns the subfolder for that data set. Not created here.
    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    base = os.environ.get("CNNLIB_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        if xdg and not os.path.isabs(xdg):
            xdg = None
        base = Path(xdg) / "cnnlib" if xdg else Path.home() / ".cache" / "cnnlib"
    return Path(base) / dataset if dataset else Path(base)


def check_file(path, sha256=None, max_bytes=None):
    """Check one downloaded/found file: decompressed SHA-256 if known, else IDX structure.

    max_bytes: the decompressed size it must not exceed (SIZES), checked while reading.
    Raises IDXError (a ValueError) naming the file, what was expected and what was found.
    """
    data = read_bytes(path, max_bytes)
    if sha256 is None:
        parse_idx(data, path)  # structure only: magic number, dims, exact length
        return
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        kind = "an HTML page" if data.lstrip()[:1] == b"<" else f"content with SHA-256 {found}"
        raise IDXError(f"{path}: expected decompressed SHA-256 {sha256}, found {kind}; "
                       "delete it and download it again (or point the loader at a good copy).")


def _stream(url, dest, timeout, progress, deadline, max_bytes, min_rate=MIN_RATE,
            stall_window=STALL_WINDOW):
    """Copy url into dest; TimeoutError once `deadline` seconds have passed overall, or when
    less than min_rate bytes per second arrived during the last stall_window seconds.

    timeout alone bounds each socket read, so a server trickling a byte a second never
    trips it: read1 returns whatever has arrived, and the clocks are checked after each piece.
    The progress bar shows the rate (bytes per second) as it goes.
    """
    start = time.monotonic()
    end = start + deadline
    window_start, window_got = start, 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        got = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                  disable=not progress, leave=False) as bar:
            while chunk := response.read1(1 << 16):
                dest.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
                if max_bytes is not None and got > max_bytes:
                    raise IDXError(f"the server sent more than {max_bytes:,} bytes; "
                                   "the file cannot be that large")
                now = time.monotonic()
                if now > end:
                    raise TimeoutError(f"too slow: {got:,} of {total or '?'} bytes after the "
                                       f"{deadline:g} s deadline for one file")
                if now - window_start >= stall_window:
                    if got - window_got < min_rate * (now - window_start):
                        raise TimeoutError(
                            f"stalled: {got - window_got:,} bytes in the last "
                            f"{now - window_start:.0f} s, below the minimum rate of "
                            f"{min_rate:g} bytes/s (settings min_rate={min_rate:g}, "
                            f"stall_window={stall_window:g})")
                    window_start, window_got = now, got


class _Signalled(BaseException):
    """Raised inside fetch by SIGTERM/SIGHUP so that its clean-up runs before the process ends."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _CleanUpOnSignals:
    """While active, SIGTERM and SIGHUP raise _Signalled in the main thread (so `finally`
    blocks remove temporary files); on exit the previous handlers are back and a caught
    signal is raised again, so the process ends (or its own handler runs) as it would have.
    Only the main thread can set handlers: elsewhere this does nothing (remove_stale
    cleans up after the next start instead)."""

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise _Signalled(signum)

    def __exit__(self, kind, err, tb):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        if isinstance(err, _Signalled):
            signal.raise_signal(err.signum)
        return False


def fetch(filename, directory, mirrors, sha256=None, timeout=30, progress=True,
          deadline=DEADLINE, min_rate=MIN_RATE, stall_window=STALL_WINDOW):
    """Download filename from the first mirror that gives a correct copy; return its path.

    Inputs: filename, directory (created if needed), mirrors (base URLs ending in "/"),
    sha256 (hex digest of the decompressed bytes, or None for a structural check).
    Each attempt writes a temporary file .NAME.<pid>.<random>.part in directory, checks it,
    then os.replace()s it into place; a failed attempt deletes its temporary file and tries
    the next mirror, as does one that takes longer than deadline seconds (timeout bounds
    each read) or delivers less than min_rate bytes/s over stall_window seconds. Ctrl-C,
    SIGTERM and SIGHUP remove the temporary file before the process stops; leftovers of a
    download killed harder (SIGKILL, power cut) are removed first, at the next call.
    Raises DownloadError listing every mirror and its failure, and where to put the file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    remove_stale(target, ".part")
    max_bytes = SIZES.get(filename)
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        with _CleanUpOnSignals():
            found = _attempt(url, target, sha256, max_bytes, failures,
                             (timeout, progress, deadline, min_rate, stall_window))
        if found:
            return target
    raise DownloadError(
        f"could not download {filename}; tried:\n" + "\n".join(failures) +
        f"\nDownload the four files by hand and put them in {directory} "
        "(or pass directory=... / set $CNNLIB_MNIST_DIR or $CNNLIB_FASHION_MNIST_DIR).")


def _attempt(url, target, sha256, max_bytes, failures, stream_args):
    """One mirror: download into a temporary file, check, move into place; True on success.
    A failure is appended to failures; the temporary file never outlives the call."""
    timeout, progress, deadline, min_rate, stall_window = stream_args
    fd, tmp = temp_file(target, ".part")
    try:
        with os.fdopen(fd, "wb") as dest:
            # a gzip is barely larger than its content even when nothing compresses
            _stream(url, dest, timeout, progress, deadline,
                    None if max_bytes is None else max_bytes + (1 << 20), min_rate, stall_window)
        check_file(tmp, sha256, max_bytes)
        os.replace(tmp, target)
        return True
    # URLError covers HTTP errors and refused connections; OSError timeouts and resets;
    # HTTPException truncated responses; ValueError (IDXError) a wrong file.
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
        failures.append(f"  {url}: {err}")
        return False
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def ensure_files(directory, mirrors, checksums, download=True, timeout=30, progress=True,
                 deadline=DEADLINE, min_rate=MIN_RATE, stall_window=STALL_WINDOW):
    """Make sure all four files are in directory and correct, downloading what is missing.

    Inputs: directory, mirrors, checksums {filename: sha256 or None}.
    A file already present (as name.gz or gunzipped) is checked; a wrong one raises
    IDXError and is never overwritten. A missing file is downloaded only if download
    is true (the cache); otherwise FileNotFoundError says which file is missing.
    Returns: dict {filename: Path}.
    """
    paths = {}
    for name in FILES:
        path = Path(directory) / name
        if not path.exists() and (Path(directory) / name[:-3]).exists():
            path = Path(directory) / name[:-3]  # an already gunzipped copy is fine too
        if path.exists():
            check_file(path, checksums.get(name), SIZES.get(name))
        elif not download:
            raise FileNotFoundError(f"{path} is missing; {directory} must hold all four "
                                    f"files: {', '.join(FILES)} (gzip or gunzipped).")
        else:
            fetch(name, directory, mirrors, checksums.get(name), timeout, progress, deadline,
                  min_rate, stall_window)
        paths[name] = path
    return paths
