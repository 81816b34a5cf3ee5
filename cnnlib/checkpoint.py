"""Checkpoints: everything a training run needs to go on after a crash, in one .npz file.

    save_checkpoint(path, net, optimizer, epoch, history, rng, recipe)
    epoch, history = load_checkpoint(path, net, optimizer, rng, recipe)

A checkpoint holds the weights and buffers (BatchNorm's running statistics, Dropout's batch
counter), the optimizer's state (Adam's m, v and step count,
momentum's velocity, the current learning rate), the number of finished epochs, the
history so far, the state of the random generator that shifts the images, and the
recipe. cnnlib.recipes.train_recipe writes one after every epoch when given
checkpoint=PATH and continues from it with resume=True; since fit shuffles epoch e with
seed + e - 1, a run that is killed and resumed ends with the same weights, bit for bit,
as one that was never interrupted.

The file is written beside its target and renamed into place (a kill mid-write leaves
the previous checkpoint whole), never pickled, and checked completely before anything
is copied into the network or the optimizer: a damaged file, or one written for
another network, optimizer or recipe, raises CheckpointError and changes nothing.
"""

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .files import remove_stale, temp_file

FORMAT = "cnnlib-checkpoint-1"
SCALARS = (int, float)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, or written for another run."""


def _optimizer_arrays(optimizer):
    """{key: array} of the optimizer's per-parameter state; a tuple (Adam's m, v) is split."""
    out = {}
    for name, value in optimizer.state.items():
        parts = value if isinstance(value, tuple) else (value,)
        for i, a in enumerate(parts):
            out[f"opt/{name}/{i}/{len(parts)}"] = a
    return out


def _optimizer_settings(optimizer):
    """The optimizer's numbers (lr, t, betas, momentum, ...), not its network or state."""
    return {k: v for k, v in vars(optimizer).items()
            if isinstance(v, SCALARS) and not isinstance(v, bool)}


def data_fingerprint(x, y):
    """A short SHA-256 of the training data (shapes, labels, every 97th image): resuming on
    other data is refused."""
    h = hashlib.sha256(f"{x.shape}{x.dtype}".encode())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(np.ascontiguousarray(x[::97]).tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(path, net, optimizer, epoch, history, rng=None, recipe=None, data=None):
    """Write the run's state after `epoch` finished epochs to path (.npz), atomically.

    history: fit's history dict (lists of numbers); rng: the numpy Generator that draws the
    augmentation (or None); recipe: a Recipe (or None), stored to refuse a resume with
    another recipe; data: data_fingerprint(x, y) of the training data (or None).
    """
    path = Path(path)
    meta = {"format": FORMAT, "epoch": int(epoch), "architecture": net.architecture(),
            "optimizer": type(optimizer).__name__, "settings": _optimizer_settings(optimizer),
            "history": history, "recipe": None if recipe is None else recipe.as_dict(),
            "rng": None if rng is None else rng.bit_generator.state, "data": data}
    arrays = {f"param/{k}": v for k, v in net.named_params().items()}
    arrays.update({f"buffer/{k}": v for k, v in net.named_buffers().items()})
    arrays.update(_optimizer_arrays(optimizer))
    arrays["meta"] = np.array(json.dumps(meta))
    remove_stale(path, ".tmp")
    fd, tmp = temp_file(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path} is not a readable cnnlib checkpoint ({err}); delete it "
                              "and start the run again without resume.") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a cnnlib checkpoint (format "
                              f"{meta.get('format') if isinstance(meta, dict) else '?'!r}, "
                              f"expected {FORMAT!r}).")
    return arrays, meta


def _refuse(path, problems):
    raise CheckpointError(f"cannot resume from {path}: " + "; ".join(problems) +
                          ". Start the run again without resume, or pass the checkpoint "
                          "of this run.")


def load_checkpoint(path, net, optimizer, rng=None, recipe=None, data=None):
    """Restore a run written by save_checkpoint; returns (finished epochs, history).

    Checks everything first (architecture, optimizer type, recipe, every array's name,
    shape, dtype and finiteness), then copies into net, optimizer and rng. On any mismatch
    raises CheckpointError saying what differs, and net, optimizer and rng are unchanged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: start the run without resume (it "
                                "writes one after every epoch).")
    arrays, meta = _read(path)
    problems = []
    if meta.get("architecture") != net.architecture():
        problems.append(f"it was written for another network ({' '.join(meta.get('architecture') or [])}"
                        f"; this one is {' '.join(net.architecture())})")
    if meta.get("optimizer") != type(optimizer).__name__:
        problems.append(f"its optimizer is {meta.get('optimizer')}, not "
                        f"{type(optimizer).__name__}")
    if recipe is not None:
        # the number of epochs may grow: a finished run can be taken further
        # a field added since (schedule, warmup, rotate) had its default in older files
        saved = {**type(recipe)().as_dict(), **(meta.get("recipe") or {})}
        theirs = {k: v for k, v in saved.items() if k != "epochs"}
        ours = {k: v for k, v in recipe.as_dict().items() if k != "epochs"}
        if theirs != ours:
            differ = sorted(k for k in ours if theirs.get(k) != ours[k])
            problems.append("its recipe differs in " + ", ".join(
                f"{k} ({theirs.get(k)!r}, this run {ours[k]!r})" for k in differ))
    if data is not None and meta.get("data") != data:
        problems.append("it was trained on other data (another --data, --train-size or set)")
    if (rng is None) != (meta.get("rng") is None):
        problems.append("one of the two runs shifts images at random and the other does not")
    epoch = meta.get("epoch")
    if not isinstance(epoch, int) or epoch < 0:
        problems.append(f"its epoch count {epoch!r} is not a whole number >= 0")
    if problems:
        _refuse(path, problems)
    params = net.named_params()
    saved = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    if not problems and set(saved) != set(params):
        problems.append(f"its parameters {sorted(saved)} are not the network's {sorted(params)}")
    for name, p in params.items():
        a = saved.get(name)
        if a is not None and (a.shape != p.shape or a.dtype != p.dtype
                              or not np.isfinite(a).all()):
            problems.append(f"{name} is {a.dtype} {a.shape} (finite: {bool(np.isfinite(a).all())}"
                            f"), expected finite {p.dtype} {p.shape}")
    buffers = net.named_buffers()           # BatchNorm's running statistics, Dropout's counter
    saved_buffers = {k[len("buffer/"):]: v for k, v in arrays.items() if k.startswith("buffer/")}
    if set(saved_buffers) != set(buffers):
        problems.append(f"its buffers {sorted(saved_buffers)} are not the network's "
                        f"{sorted(buffers)}")
    for name, b in buffers.items():
        a = saved_buffers.get(name)
        if a is not None and (a.shape != b.shape or a.dtype != b.dtype):
            problems.append(f"buffer {name} is {a.dtype} {a.shape}, expected {b.dtype} {b.shape}")
    state = {}
    for key, a in arrays.items():
        if key.startswith("opt/"):
            name, i, n = key[len("opt/"):].rsplit("/", 2)
            if name not in params or a.shape != params[name].shape:
                problems.append(f"its optimizer state {key} does not fit the network")
                break
            state.setdefault(name, [None] * int(n))[int(i)] = a
    if any(part is None for parts in state.values() for part in parts):
        problems.append("its optimizer state is incomplete")
    if problems:
        _refuse(path, problems)
    for name, p in params.items():
        p[...] = saved[name]
    for name, b in buffers.items():
        b[...] = saved_buffers[name]
    optimizer.state = {name: tuple(v) if len(v) > 1 else v[0] for name, v in state.items()}
    for key, value in meta["settings"].items():
        setattr(optimizer, key, value)
    if rng is not None:
        rng.bit_generator.state = meta["rng"]
    return epoch, meta["history"]
