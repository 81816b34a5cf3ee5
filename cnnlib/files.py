"""Files on disk: write them so that a crash never leaves a half-written file or loses
the old one, and check weights files before reading or writing them.

    fd, tmp = temp_file(target, ".tmp")    # .NAME.<pid>.<random>.tmp beside target
    ... write, then os.replace(tmp, target)

A temporary file is named after its target and the process writing it, so a leftover
of a killed process (SIGKILL, power cut) is recognisable: remove_stale(target, ".tmp")
deletes those whose process is gone, and is called by the next save, load or download
of the same target.

check_weights_path(path) and read_weights(path) are the checks of Sequential.save/load:
a folder that does not exist, an empty file, an HTML page saved as .npz are each named
before any work is done or any parameter is changed.
"""

import os
import re
import secrets
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np


def temp_file(target, suffix, mode=0o666):
    """Create a new empty file .NAME.<pid>.<random><suffix> in target's folder.

    Returns (fd, path). The file is created with mode minus the umask, like any new
    file (tempfile.mkstemp would make it private, 0600), without touching the
    process-wide umask; pass the mode of the file it will replace so that a private
    file is never readable by others, not even while it is written.
    """
    target = Path(target)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    return fd, tmp


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # someone else's process: alive
        return True
    return True


def _age(path):
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0


def remove_stale(target, suffix):
    """Delete leftovers .NAME.<pid>.<random><suffix> of target whose process has ended.

    Returns the list of removed paths. Files of a process still running are kept: it may
    be writing right now. Leftovers named by older versions are removed after an hour.
    """
    target = Path(target)
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[0-9a-f]{8}" + re.escape(suffix))
    # names made by tempfile.mkstemp in cnnlib 0.2 (NAME<8 chars>.tmp, .NAME.<8 chars>.part)
    # carry no process id: remove those an hour old, no writer is that slow
    legacy = re.compile(rf"\.?{re.escape(target.name)}\.?[a-z0-9_]{{8}}{re.escape(suffix)}")
    removed = []
    try:
        names = os.listdir(target.parent or ".")
    except OSError:
        return removed
    for name in names:
        m = pattern.fullmatch(name)
        old = m is None and legacy.fullmatch(name) and _age(target.parent / name) > 3600
        if m and not _alive(int(m.group(1))) or old:
            try:
                (target.parent / name).unlink()
                removed.append(target.parent / name)
            except OSError:
                pass
    return removed


class WeightsFileError(ValueError):
    """A file given to Sequential.load is not a weights file written by Sequential.save.
    """


def check_weights_path(path):
    """Check, before any work is done, that weights can be written to path; return the file.

    A symlink is followed to its target. Raises ValueError for an empty name,
    IsADirectoryError for a folder, FileNotFoundError for a missing folder,
    PermissionError for a folder that cannot be written.
    """
    if path is None or str(path).strip() == "":
        raise ValueError("the weights file name is empty; give one such as lenet.npz.")
    if str(path).endswith(("/", os.sep)):
        raise IsADirectoryError(f"{path} ends in '/', so it names a folder; give a file name "
                                f"such as {Path(path) / 'weights.npz'}.")
    target = Path(os.path.realpath(Path(path).expanduser()))
    if target.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name inside it, such as "
                                f"{Path(path) / 'weights.npz'}.")
    if target.exists() and not target.is_file():
        raise ValueError(f"{path} exists and is not a regular file; choose another name.")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {target.parent} does not "
                                f"exist; create it first (mkdir -p {target.parent}) or choose "
                                f"another path.")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot save to {path}: no permission to write in the folder "
                              f"{target.parent}; choose another folder.")
    return target


def weights_source(path):
    """The file to load, symlinks followed: it must exist and be a regular file (np.load
    would wait for ever on a named pipe).
    """
    if path is None or str(path).strip() == "":
        raise ValueError("the weights file name is empty; give the .npz written by net.save().")
    target = Path(os.path.realpath(Path(path).expanduser()))
    if not target.exists():
        raise FileNotFoundError(f"weights file {path} does not exist; check the name, or "
                                f"train and save first (net.save(path) or --save).")
    if not target.is_file():
        kind = "a folder" if target.is_dir() else "not a regular file"
        raise WeightsFileError(f"{path} is {kind}, not a weights file saved by cnnlib; give "
                               f"the .npz written by net.save().")
    return target


def _what_is(path):
    """A few words on what a file that np.load cannot read as an .npz actually holds."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "an empty file (0 bytes; was a save interrupted or a download cut off?)"
    if head.startswith(b"\x93NUMPY"):
        return "a single NumPy array (.npy, from np.save), not an .npz archive of named arrays"
    if head.lstrip()[:1] == b"<":
        return "a text/HTML page (an error page saved instead of the file?)"
    if head.startswith(b"PK"):
        return "a damaged or truncated zip archive"
    return "not an .npz archive"


def read_weights(path):
    """All arrays of a weights file as {name: array}; WeightsFileError if it is not one.

    Never unpickles.
    """
    advice = ("save weights with net.save(path) or python -m cnnlib --save PATH, "
              "or check that you picked the right file.")
    try:
        f = np.load(path, allow_pickle=False)
    except PermissionError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise WeightsFileError(f"{path} is not a weights file saved by cnnlib: it is "
                               f"{_what_is(path)}. To fix: {advice}") from err
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise WeightsFileError(f"{path} is not a weights file saved by cnnlib: it is "
                               f"{_what_is(path)}. To fix: {advice}")
    try:
        with f:
            return {name: f[name] for name in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as err:
        raise WeightsFileError(f"{path} is not a readable weights file: it is a damaged .npz "
                               f"({type(err).__name__}; a copy cut short?). To fix: "
                               f"{advice}") from err
