"""Downloader against local HTTP servers (127.0.0.1, port 0): never touches the internet."""
import gzip
import hashlib
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from cnnlib.data import download
from cnnlib.data.download import DownloadError, cache_dir, ensure_files, fetch
from cnnlib.data.idx import IDXError, read_pair
from idx_files import write_idx
import time
from bad_input_support import check_raises, dead_pid, leftovers, time_limit  # noqa: F401 (time_limit: autouse)

NAME = "train-labels-idx1-ubyte.gz"
LABELS = np.arange(10, dtype=np.uint8)
RAW = b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + LABELS.tobytes()
RAW_SHA = hashlib.sha256(RAW).hexdigest()
HTML = b"<!DOCTYPE html><html><body>This site has moved</body></html>"


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens here any more


def test_success_and_recompressed_copy_accepted(servers, tmp_path):
    url = servers({NAME: (200, gzip.compress(RAW, compresslevel=1, mtime=123))})
    path = fetch(NAME, tmp_path / "cache", [url], RAW_SHA, timeout=5, progress=False)
    assert path == tmp_path / "cache" / NAME
    assert gzip.decompress(path.read_bytes()) == RAW
    assert os.listdir(tmp_path / "cache") == [NAME]  # no temporary file left behind


def test_checksum_mismatch_leaves_nothing(servers, tmp_path):
    url = servers({NAME: (200, gzip.compress(RAW[:-1] + b"\x05"))})
    with pytest.raises(DownloadError, match="SHA-256") as err:
        fetch(NAME, tmp_path / "cache", [url], RAW_SHA, timeout=5, progress=False)
    assert os.listdir(tmp_path / "cache") == []
    assert str(tmp_path / "cache") in str(err.value)  # tells where to put the file by hand


@pytest.mark.parametrize("first", ["404", "500", "closed"])
def test_first_mirror_down_second_up(servers, tmp_path, first):
    if first == "closed":
        bad = closed_port_url()
    else:
        bad = servers({NAME: (int(first), b"server error")})
    good = servers({NAME: (200, gzip.compress(RAW))})
    path = fetch(NAME, tmp_path, [bad, good], RAW_SHA, timeout=5, progress=False)
    assert gzip.decompress(path.read_bytes()) == RAW
    assert os.listdir(tmp_path) == [NAME]


def test_all_mirrors_down_names_each(servers, tmp_path):
    mirrors = [servers({}), servers({NAME: (500, b"")}), closed_port_url()]
    with pytest.raises(DownloadError) as err:
        fetch(NAME, tmp_path, mirrors, RAW_SHA, timeout=5, progress=False)
    message = str(err.value)
    for m in mirrors:
        assert m + NAME in message
    assert "404" in message and "500" in message
    assert isinstance(err.value, OSError)
    assert os.listdir(tmp_path) == []


def test_html_page_with_status_200_is_rejected(servers, tmp_path):
    url = servers({NAME: (200, HTML)})
    with pytest.raises(DownloadError, match="HTML page"):
        fetch(NAME, tmp_path, [url], RAW_SHA, timeout=5, progress=False)
    # without a known checksum the structural IDX check still rejects it
    with pytest.raises(DownloadError, match="IDX magic"):
        fetch(NAME, tmp_path, [url], None, timeout=5, progress=False)
    assert os.listdir(tmp_path) == []


def test_ensure_files_downloads_all_four_and_checks_existing(servers, tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    y = np.array([1, 2, 3], np.uint8)
    src = tmp_path / "src"
    src.mkdir()
    for split in ("train", "t10k"):
        write_idx(src / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(src / f"{split}-labels-idx1-ubyte.gz", y)
    routes = {n: (200, (src / n).read_bytes()) for n in download.FILES}
    sums = {n: hashlib.sha256(gzip.decompress(b)).hexdigest() for n, (_, b) in routes.items()}
    paths = ensure_files(tmp_path / "cache", [servers(routes)], sums, progress=False)
    assert sorted(os.listdir(tmp_path / "cache")) == sorted(download.FILES)
    xs, ys = read_pair(paths[download.FILES[0]], paths[download.FILES[1]])
    np.testing.assert_array_equal(xs, x)
    # a wrong file already in the folder is reported, not silently replaced
    write_idx(tmp_path / "cache" / download.FILES[3], np.array([0, 0, 0], np.uint8))
    with pytest.raises(IDXError, match="SHA-256"):
        ensure_files(tmp_path / "cache", [], sums)
    # a folder given by the user is never downloaded into
    with pytest.raises(FileNotFoundError, match="missing"):
        ensure_files(tmp_path / "empty", ["http://127.0.0.1:9/"], sums, download=False)


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLIB_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir("mnist") == Path.home() / ".cache" / "cnnlib" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("mnist") == tmp_path / "xdg" / "cnnlib" / "mnist"
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "mine"))
    assert cache_dir("fashion-mnist") == tmp_path / "mine" / "fashion-mnist"


def test_mirror_constants():
    assert download.MNIST_MIRRORS[0].startswith("https://ossci-datasets.s3.amazonaws.com/")
    assert not any("lecun.com" in m for m in download.MNIST_MIRRORS)
    for table in (download.MNIST_SHA256, download.FASHION_MNIST_SHA256):
        assert sorted(table) == sorted(download.FILES)
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in table.values())


# ---------------------------------------------------------------- bad inputs (issue 11)
def test_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLIB_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir("mnist") == tmp_path / ".cache" / "cnnlib" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "abs"))
    assert cache_dir("mnist") == tmp_path / "abs" / "cnnlib" / "mnist"


BODY = gzip.compress(RAW, mtime=0)
SHA = RAW_SHA


def good(h):
    h.send_response(200)
    h.send_header("Content-Length", str(len(BODY)))
    h.end_headers()
    h.wfile.write(BODY)


def trickle(h):
    """A mirror that sends one byte every 0.1 s: each read succeeds, the file never ends."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(BODY) * 1000))
    h.end_headers()
    try:
        for _ in range(600):
            h.wfile.write(b"\x1f")
            h.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


def endless(h):
    h.send_response(200)
    h.end_headers()
    try:
        for _ in range(200):
            h.wfile.write(bytes(1 << 16))
    except OSError:
        pass


def test_trickling_mirror_hits_the_deadline_then_the_next_mirror_is_used(servers, tmp_path):
    slow, fast = servers(trickle), servers(good)
    start = time.monotonic()
    path = fetch(NAME, tmp_path, [slow, fast], SHA, timeout=0.5, progress=False, deadline=1)
    assert time.monotonic() - start < 5
    assert gzip.decompress(path.read_bytes()) == RAW
    assert leftovers(tmp_path) == []


def test_trickling_mirror_alone_fails_with_the_deadline_named(servers, tmp_path):
    slow = servers(trickle)
    check_raises(lambda: fetch(NAME, tmp_path, [slow], SHA, timeout=0.5, progress=False,
                               deadline=1), DownloadError, "too slow", "1 s deadline",
                 "by hand")
    assert list(tmp_path.iterdir()) == []


def test_server_sending_too_much_is_cut_off(servers, tmp_path):
    check_raises(lambda: fetch(NAME, tmp_path, [servers(endless)], SHA, timeout=2,
                               progress=False), DownloadError, "more than")
    assert list(tmp_path.iterdir()) == []


def test_leftover_of_a_killed_download_is_cleaned(servers, tmp_path):
    stale = tmp_path / f".{NAME}.{dead_pid()}.0123abcd.part"
    stale.write_bytes(b"half")
    fetch(NAME, tmp_path, [servers(good)], SHA, timeout=2, progress=False)
    assert not stale.exists()


def test_closed_port_mirror_is_reported(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check_raises(lambda: fetch(NAME, tmp_path, [f"http://127.0.0.1:{port}/"], SHA, timeout=2,
                               progress=False), DownloadError, "could not download", "by hand")


def trickling(seconds=20, every=0.05):
    """A handler for servers(): headers for a large file, then one byte every `every` s,
    for at most `seconds` (bounded, so the test server always stops by itself)."""
    import time

    def handler_get(request):
        request.send_response(200)
        request.send_header("Content-Length", str(10 ** 6))
        request.end_headers()
        try:
            for _ in range(int(seconds / every)):
                request.wfile.write(b"\x1f")
                request.wfile.flush()
                time.sleep(every)
        except OSError:
            pass
    return handler_get


def test_a_stalled_mirror_is_left_after_the_stall_window_not_the_deadline(servers, tmp_path):
    """20 bytes/s is far below min_rate: the stall detector names the rate and the next
    mirror delivers, long before the (default, 600 s) deadline."""
    import time
    slow, good = servers(trickling()), servers({NAME: (200, gzip.compress(RAW))})
    start = time.monotonic()
    path = fetch(NAME, tmp_path, [slow, good], RAW_SHA, timeout=5, progress=False,
                 min_rate=1000, stall_window=1)
    assert time.monotonic() - start < 8
    assert gzip.decompress(path.read_bytes()) == RAW
    assert os.listdir(tmp_path) == [NAME]
    with pytest.raises(DownloadError, match=r"stalled: \d+ bytes in the last 1 s, below the "
                                            r"minimum rate of 1000 bytes/s"):
        fetch(NAME, tmp_path / "alone", [slow], RAW_SHA, timeout=5, progress=False,
              min_rate=1000, stall_window=1)
    assert os.listdir(tmp_path / "alone") == []


def test_a_slow_but_steady_mirror_is_not_called_stalled(servers, tmp_path):
    """The same trickle passes when the minimum rate is below it (the check measures, it
    does not guess): here 2 s of it, then the server ends the response short."""
    with pytest.raises(DownloadError) as err:
        fetch(NAME, tmp_path, [servers(trickling(seconds=2))], RAW_SHA, timeout=5,
              progress=False, min_rate=5, stall_window=0.5)
    assert "stalled" not in str(err.value)


DOWNLOAD_SCRIPT = """
import sys
from cnnlib.data.download import fetch
print("start", flush=True)
fetch(sys.argv[1], sys.argv[2], [sys.argv[3]], None, timeout=30, progress=False)
"""


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_download_stopped_by_a_signal_leaves_no_part_file(servers, tmp_path, signame):
    """Kill a download mid-file (a separate Python process, a local trickling server):
    its temporary .part file is gone as soon as the process has ended, and the process
    still ends the way the signal says (killed by it, as if nothing had caught it)."""
    import signal
    import subprocess
    import sys
    import time
    url = servers(trickling(seconds=30))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", DOWNLOAD_SCRIPT, NAME, str(cache), url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while not (cache.is_dir() and any(p.suffix == ".part" for p in cache.iterdir())):
            assert time.monotonic() < end and proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(0.5)   # well inside the transfer: bytes are arriving
        proc.send_signal(getattr(signal, signame))
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert os.listdir(cache) == []
    # Python ends an uncaught KeyboardInterrupt by SIGINT too, after its traceback
    assert proc.returncode == -getattr(signal, signame)
    assert ("KeyboardInterrupt" in stderr) == (signame == "SIGINT")
