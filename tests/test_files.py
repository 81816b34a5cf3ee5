"""Tests for cnnlib.files through Sequential.save and load: bad destinations and files,
killed or failed saves, leftovers, permissions and symlinks; nothing is ever left half-written
(issue 11)."""

import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from cnnlib.architectures import one_conv_net
from cnnlib.files import remove_stale
from cnnlib.model import WeightsFileError

from bad_input_support import check_raises, dead_pid, leftovers, time_limit  # noqa: F401 (time_limit: autouse)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "w.npz"
    one_conv_net(seed=1).save(path)
    return path


def snapshot(net):
    return {k: v.copy() for k, v in net.named_params().items()}


def assert_unchanged(net, before):
    for k, v in net.named_params().items():
        np.testing.assert_array_equal(v, before[k])


SAVE = [
    pytest.param(lambda d: "", ValueError, ["empty", "lenet.npz"], id="empty-name"),
    pytest.param(lambda d: d / "missing" / "w.npz", FileNotFoundError,
                 ["does not exist", "mkdir -p"], id="missing-folder"),
    pytest.param(lambda d: d, IsADirectoryError, ["is a folder", "weights.npz"], id="folder"),
    pytest.param(lambda d: f"{d}/sub/", IsADirectoryError, ["names a folder"], id="slash"),
]


@pytest.mark.parametrize("where, exc, words", SAVE)
def test_bad_save_destination(tmp_path, where, exc, words):
    check_raises(lambda: one_conv_net().save(where(tmp_path)), exc, *words)
    assert leftovers(tmp_path) == []


def test_save_to_a_named_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    check_raises(lambda: one_conv_net().save(tmp_path / "pipe"), ValueError,
                 "not a regular file")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_save_into_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        check_raises(lambda: one_conv_net().save(folder / "w.npz"), PermissionError,
                     "no permission", "another folder")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_overwriting_keeps_the_file_mode(saved, mode):
    saved.chmod(mode)
    one_conv_net(seed=2).save(saved)
    assert stat.S_IMODE(saved.stat().st_mode) == mode
    one_conv_net().load(saved)


def test_new_file_follows_the_umask_without_changing_it(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:
        def forbidden(mask):
            raise AssertionError("save() must not change the process-wide umask")
        monkeypatch.setattr(os, "umask", forbidden)
        one_conv_net().save(tmp_path / "w.npz")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == 0o640


def test_save_writes_through_a_symlink(saved, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(saved)
    net = one_conv_net(seed=5)
    net.save(link)
    assert link.is_symlink()
    other = one_conv_net().load(saved)
    np.testing.assert_array_equal(other.layers[0].params["W"], net.layers[0].params["W"])


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "real.npz")
    one_conv_net().save(link)
    assert link.is_symlink() and (tmp_path / "real.npz").is_file()


@pytest.mark.parametrize("action", ["save", "load"])
def test_leftover_of_a_killed_save_is_cleaned(saved, action):
    stale = saved.parent / f".{saved.name}.{dead_pid()}.0123abcd.tmp"
    live = saved.parent / f".{saved.name}.{os.getppid()}.0123abcd.tmp"   # still running
    stale.write_bytes(b"half")
    live.write_bytes(b"busy")
    net = one_conv_net()
    net.save(saved) if action == "save" else net.load(saved)
    assert not stale.exists() and live.exists()


def test_killed_save_leaves_the_old_file_and_a_recognisable_leftover(saved):
    before = saved.read_bytes()
    code = (f"import os, numpy as np\nfrom cnnlib.architectures import one_conv_net\n"
            f"np.savez = lambda *a, **k: os.kill(os.getpid(), 9)\n"
            f"one_conv_net().save({str(saved)!r})\n")
    subprocess.run([sys.executable, "-c", code], timeout=20)
    assert saved.read_bytes() == before
    (left,) = leftovers(saved.parent)
    assert left.startswith(f".{saved.name}.") and left.endswith(".tmp")
    one_conv_net().save(saved)
    assert leftovers(saved.parent) == []


@pytest.mark.parametrize("fault", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_save_keeps_the_old_file_and_leaves_nothing(saved, monkeypatch, fault):
    before = saved.read_bytes()

    def broken(*args, **kwargs):
        raise fault
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(type(fault)) as info:
        one_conv_net().save(saved)
    if isinstance(fault, OSError):
        assert f"could not save the weights to {saved}" in str(info.value)
        assert "No space left" in str(info.value)
    assert saved.read_bytes() == before and leftovers(saved.parent) == []


def zip_truncated(p):
    p.write_bytes(p.read_bytes()[:200])


def zip_corrupted(p):
    data = bytearray(p.read_bytes())
    data[100:400] = os.urandom(300)
    p.write_bytes(bytes(data))


def npy_renamed(p):
    with open(p, "wb") as f:
        np.save(f, np.zeros(3))


BAD_FILES = {
    "empty": (lambda p: p.write_bytes(b""), ["empty file"]),
    "truncated": (zip_truncated, []),
    "corrupted": (zip_corrupted, []),
    "npy-renamed": (npy_renamed, ["single NumPy array", ".npy"]),
    "html": (lambda p: p.write_text("<!DOCTYPE html><html>404 Not Found</html>"), ["HTML"]),
    "text": (lambda p: p.write_text("hello"), ["not an .npz"]),
    "random": (lambda p: p.write_bytes(os.urandom(1000)), []),
    "pickled-object": (lambda p: np.savez(p, **{"0.W": np.array([{"a": 1}], dtype=object)}),
                       []),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_not_a_weights_file_says_which_file_and_what_to_do(saved, name):
    damage, words = BAD_FILES[name]
    damage(saved)
    net = one_conv_net()
    before = snapshot(net)
    check_raises(lambda: net.load(saved), WeightsFileError, str(saved), "cnnlib", "net.save",
                 *words)
    assert_unchanged(net, before)


def rewrite(path, change):
    """Write path again with change(arrays) applied to its arrays."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)


def set_array(name, value):
    def change(arrays):
        arrays[name] = value(arrays[name]) if callable(value) else value
    return change


LOAD = [
    pytest.param(set_array("3.W", lambda a: a.astype(np.complex64)), ["'3.W'", "complex64",
                                                                      "real numbers"],
                 id="complex"),
    pytest.param(set_array("3.W", lambda a: np.full(a.shape, "x")), ["'3.W'", "real numbers"],
                 id="strings-last"),
    pytest.param(set_array("0.W", lambda a: a > 0), ["'0.W'", "bool"], id="bool"),
    pytest.param(set_array("3.W", lambda a: np.full_like(a, np.nan)), ["'3.W'", "NaN",
                                                                       "diverged"],
                 id="all-nan"),
    pytest.param(set_array("0.b", lambda a: np.r_[a[:-1], np.inf]), ["'0.b'", "1 of 8"],
                 id="one-inf"),
    pytest.param(set_array("0.W", lambda a: a.astype(np.float64) * 1e300), ["'0.W'",
                                                                           "float32"],
                 id="overflows-float32"),
    pytest.param(set_array("0.W", lambda a: a[:4]), ["'0.W'", "shape"], id="shape"),
    pytest.param(lambda arrays: arrays.pop("3.b"), ["missing", "3.b"], id="missing"),
    pytest.param(set_array("9.W", np.zeros(3)), ["extra", "9.W"], id="extra"),
    pytest.param(set_array("__architecture__", np.array(["Linear(1, 1)"])), ["architecture"],
                 id="architecture"),
]


@pytest.mark.parametrize("change, words", LOAD)
def test_bad_array_in_a_weights_file_loads_nothing(saved, change, words):
    rewrite(saved, change)
    net = one_conv_net()
    before = snapshot(net)
    check_raises(lambda: net.load(saved), ValueError, str(saved), *words)
    assert_unchanged(net, before)


def test_integer_weights_are_loaded(tmp_path):
    net = one_conv_net()
    np.savez(tmp_path / "w.npz", **{k: np.ones(v.shape, np.int16)
                                    for k, v in net.named_params().items()})
    net.load(tmp_path / "w.npz")
    assert all((v == 1).all() and v.dtype == np.float32 for v in net.named_params().values())


LOAD_PATHS = [
    pytest.param(lambda d: d / "nope.npz", FileNotFoundError, ["does not exist", "--save"],
                 id="missing"),
    pytest.param(lambda d: d, WeightsFileError, ["a folder", "net.save()"], id="folder"),
    pytest.param(lambda d: "", ValueError, ["empty"], id="empty-name"),
]


@pytest.mark.parametrize("where, exc, words", LOAD_PATHS)
def test_bad_load_path(tmp_path, where, exc, words):
    check_raises(lambda: one_conv_net().load(where(tmp_path)), exc, *words)


def test_loading_a_named_pipe_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    check_raises(lambda: one_conv_net().load(tmp_path / "pipe.npz"), WeightsFileError,
                 "not a regular file")


@pytest.mark.parametrize("name, suffix", [(".train-labels-idx1-ubyte.gz.k3_x9q2a.part", ".part"),
                                          ("w.npzab12cd_9.tmp", ".tmp")])
def test_leftovers_named_by_older_versions_are_removed_when_an_hour_old(tmp_path, name, suffix):
    target = tmp_path / ("train-labels-idx1-ubyte.gz" if suffix == ".part" else "w.npz")
    old, new = tmp_path / name, tmp_path / name.replace("2", "3")
    old.write_bytes(b"")
    new.write_bytes(b"")
    os.utime(old, (time.time() - 7200,) * 2)
    assert remove_stale(target, suffix) == [old]
    assert new.exists()


def test_remove_stale_keeps_files_of_running_processes(tmp_path):
    target = tmp_path / "x.npz"
    mine = tmp_path / f".x.npz.{os.getpid()}.0123abcd.tmp"
    other = tmp_path / ".x.npz.notapid.tmp"
    mine.write_bytes(b"")
    other.write_bytes(b"")
    assert remove_stale(target, ".tmp") == []
    assert mine.exists() and other.exists()
