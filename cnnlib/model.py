"""A network is a list of layers: forward runs them in order, backward in reverse.

    net = Sequential([Conv2D(1, 8, 3), MaxPool2D(2), Flatten(), Linear(13 * 13 * 8, 10)])
    logits = net.forward(x)          # x: float (N, 1, 28, 28) -> (N, 10)
    net.backward(dlogits)            # fills every layer's grads

Parameters are named "<layer index>.<name>" ("0.W", "0.b", "3.W", ...), which is
how optimizers keep their state and how save/load match arrays to layers.

Introduced in notebooks/08_training.ipynb (notebook 04 runs the same layers as a plain list).
"""

import ast
import contextlib
import os
import stat

import numpy as np

from .batchnorm import BatchNorm
from .checks import check_finite_images, check_float_dtype, check_images, check_int
from .conv import Conv2D
from .dropout import Dropout
# WeightsFileError and check_weights_path are imported from here by users and the CLI too
from .files import (WeightsFileError, check_weights_path, read_weights,  # noqa: F401
                    remove_stale, temp_file, weights_source)
from .layers import Flatten, Linear, ReLU
from .losses import softmax
from .pool import AvgPool2D, MaxPool2D
from .residual import Residual
from .speed.parallel import forward_split

__all__ = ["ARCH_KEY", "Sequential", "WeightsFileError"]

ARCH_KEY = "__architecture__"


# The layers a saved architecture may name, and keywords renamed since (pooling said size=).
_LAYERS = {cls.__name__: cls for cls in (Conv2D, MaxPool2D, AvgPool2D, ReLU, Flatten, Linear,
                                         BatchNorm, Dropout)}
_RENAMED = {"size": "kernel_size"}


def _redescribe(text):
    """Today's repr of the layer a saved description builds, or `text` if it builds none.

    Files saved by older versions describe layers differently ("MaxPool2D(size=2,
    stride=2)", "Conv2D(1, 16, 5, stride=1, pad=2)"); rebuilding the layer from its
    literal arguments (no eval) and describing it again lets them load.
    """
    try:
        call = ast.parse(str(text), mode="eval").body
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {_RENAMED.get(k.arg, k.arg): ast.literal_eval(k.value) for k in call.keywords}
        return repr(_LAYERS[call.func.id](*args, **kwargs))
    except (SyntaxError, ValueError, TypeError, KeyError, AttributeError):
        return text


def _weights_layout(description):
    """A layer description with FFTConv2D read as Conv2D: the two hold the same weights and
    compute the same function (cnnlib.speed.fftconv), so files saved from either load into
    both."""
    return "Conv2D(" + description[len("FFTConv2D("):] \
        if description.startswith("FFTConv2D(") else description


class Sequential:
    """A chain of layers that all follow the layer contract (params, grads, forward, backward).

    forward(x) -> output of the last layer; backward(dout) -> dL/dx (None when the first
    layer was built with need_dx=False). forward, like every layer, lets NaN through as NumPy
    does (training relies on a NaN loss to stop with the likely cause); predict and
    predict_proba refuse images holding NaN, naming the first. Introduced in
    notebooks/08_training.ipynb.
    """

    def __init__(self, layers):
        self.layers = list(layers)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        with SizeHint(self, x):      # an error about the image size says which size fits
            for layer in self.layers:
                x = layer.forward(x)
        return x

    def backward(self, dout):
        for i in range(len(self.layers) - 1, -1, -1):
            if dout is None:
                raise ValueError(f"layer {i + 1} returned no input gradient (need_dx=False) "
                                 f"but layer {i} needs one; only the first layer may skip it.")
            dout = self.layers[i].backward(dout)
        return dout

    def named_params(self):
        """{"0.W": array, ...}: the live parameter arrays (updating them changes the net)."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.params.items()}

    def named_grads(self):
        """{"0.W": dL/dW, ...} as filled by the last backward (same keys as named_params)."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.grads.items()}

    def named_buffers(self):
        """{"1.running_mean": array, ...}: the live arrays a layer keeps besides its parameters
        (BatchNorm's running statistics, Dropout's batch counter); saved with the weights
        and in checkpoints, never touched by an optimizer. Introduced in notebook 12."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, "buffers", {}).items()}

    def train(self, mode=True):
        """Training mode (mode=True) or inference mode (False) for every layer that has both
        (BatchNorm: batch or running statistics; Dropout: drop or pass). Returns self.
        fit() trains in training mode; evaluate(), predict() and predict_proba() run in
        inference mode and then restore the mode they found. Introduced in notebook 12."""
        if not isinstance(mode, bool):
            raise TypeError(f"mode must be True (training) or False (inference); got {mode!r}.")
        for layer in self.layers:
            if hasattr(layer, "training"):
                layer.training = mode
        return self

    def eval(self):
        """Inference mode: net.train(False). Returns self."""
        return self.train(False)

    @contextlib.contextmanager
    def inference(self):
        """A block run in inference mode; each layer's mode is restored when it ends."""
        modes = [getattr(layer, "training", None) for layer in self.layers]
        self.eval()
        try:
            yield self
        finally:
            for layer, mode in zip(self.layers, modes):
                if mode is not None:
                    layer.training = mode

    def num_params(self):
        return sum(p.size for p in self.named_params().values())

    def predict_proba(self, x, batch_size=1000):
        """Class probabilities (N, K) = softmax(forward(x)), batch_size images at a time
        (each batch split across threads, cnnlib.speed.parallel)."""
        check_finite_images(check_images(x))    # one NaN pixel makes all ten scores NaN
        batch_size = check_int(batch_size, "batch_size", 1)
        with self.inference():              # running statistics, no dropout
            if len(x) == 0:                 # no batches to concatenate: still (0, K)
                return softmax(self.forward(x))
            return np.concatenate([softmax(forward_split(self, x[i:i + batch_size]))
                                   for i in range(0, len(x), batch_size)])

    def predict(self, x, batch_size=1000):
        """Predicted class (N,) int64: the arg-max of the scores."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def astype(self, dtype):
        """Convert every parameter to dtype (np.float64 for gradient checks); returns self."""
        dtype = check_float_dtype(dtype)
        for layer in self.layers:
            layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
            layer.grads = {}
            for leaf in getattr(layer, "inner", [layer]):    # a Residual's buffers are its layers'
                if hasattr(leaf, "buffers"):
                    leaf.buffers = {k: v.astype(dtype) if v.dtype.kind == "f" else v
                                    for k, v in leaf.buffers.items()}
        return self

    def architecture(self):
        """Each layer's description, its repr ("Conv2D(1, 8, 3, pad=1)"); save() stores it."""
        return [repr(layer) for layer in self.layers]

    def summary(self, input_shape=(1, 28, 28)):
        """A printable table: each layer, its output shape for one input of input_shape
        (C, H, W), its parameter count.

        The shapes come from each layer's output_shape, so nothing runs and every
        layer's forward cache stays as it was. A layer that cannot take the shape
        arriving at it ends the table with a line saying which and why.
        """
        shape, problem = (1,) + tuple(input_shape), None
        rows = [("#", "layer", "output", "params"), ("", "input", str(tuple(input_shape)), "")]
        for i, layer in enumerate(self.layers):
            try:
                shape = tuple(layer.output_shape(shape))
            except ValueError as err:
                rows.append((str(i), repr(layer), "does not fit", ""))
                problem = (f"layer {i}, {layer!r}, does not fit the shape {shape[1:]} that "
                           f"reaches it from input_shape {tuple(input_shape)}: {err}")
                break
            n = sum(p.size for p in layer.params.values())
            rows.append((str(i), repr(layer), str(shape[1:]), f"{n:,}" if n else ""))
        w = [max(len(r[j]) for r in rows) for j in range(4)]
        lines = [f"{a:>{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d:>{w[3]}}".rstrip()
                 for a, b, c, d in rows]
        lines += [problem] if problem else []
        return "\n".join(lines + [f"total parameters: {self.num_params():,}"])

    def __repr__(self):
        """The call that builds this net, one layer per line (nothing runs)."""
        return "Sequential([\n" + "".join(f"    {layer!r},\n" for layer in self.layers) + "])"

    def save(self, path):
        """Write the parameters, the buffers (named_buffers) and the architecture to an .npz
        file (no pickle).

        Writes a temporary file next to `path` and renames it, so a crash never leaves a
        half-written file behind (a killed save's leftover is removed by the next save or
        load of the same path). Overwriting keeps the old file's permissions; a symlink
        is followed and its target is replaced. Raises ValueError/OSError saying which
        path could not be written and why.
        """
        target = check_weights_path(path)
        arrays = {**self.named_params(), **self.named_buffers(),
                  ARCH_KEY: np.array(self.architecture())}
        remove_stale(target, ".tmp")
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
        tmp = None
        try:
            fd, tmp = temp_file(target, ".tmp", 0o666 if mode is None else mode)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        except OSError as err:
            raise type(err)(err.errno, f"could not save the weights to {target}: "
                                       f"{err.strerror or err}") from None
        finally:
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)

    def load(self, path):
        """Copy parameters (and buffers, named_buffers) from an .npz written by save() into
        this net (in place); returns self.

        Every array is checked first (name, shape, a real float or integer dtype, finite
        values in this net's dtype) and the saved architecture is compared, so a bad file
        raises ValueError (WeightsFileError when it is not a cnnlib weights file at all)
        and leaves the net unchanged.
        """
        path = weights_source(path)
        remove_stale(path, ".tmp")
        params = {**self.named_params(), **self.named_buffers()}
        saved = read_weights(path)
        arch = saved.pop(ARCH_KEY, None)
        missing = sorted(set(params) - set(saved))
        extra = sorted(set(saved) - set(params))
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing} expected by this model.")
        if extra:
            raise ValueError(f"{path}: extra array(s) {extra} that this model does not have.")
        if arch is not None and [_weights_layout(_redescribe(a)) for a in arch] != \
                [_weights_layout(a) for a in self.architecture()]:
            raise ValueError(f"{path}: saved architecture {list(arch)} differs from this "
                             f"model's {self.architecture()}.")
        for name, p in params.items():
            a = saved[name]
            if a.dtype.kind not in "fiu":
                raise ValueError(f"{path}: array {name!r} has dtype {a.dtype}; weights must be "
                                 f"real numbers (float or integer). Nothing was loaded.")
            if a.shape != p.shape:
                raise ValueError(f"{path}: array {name!r} has shape {a.shape}, "
                                 f"expected {p.shape}. Nothing was loaded.")
            with np.errstate(over="ignore", invalid="ignore"):
                bad = int(np.count_nonzero(~np.isfinite(a.astype(p.dtype))))
            if bad:
                raise ValueError(f"{path}: array {name!r} holds {bad} of {a.size} values that "
                                 f"are NaN or infinite (in {p.dtype}); these weights come from "
                                 f"a run that diverged. Nothing was loaded.")
        for name, p in params.items():
            p[...] = saved[name]
        return self


class SizeHint:
    """A block that adds to a ValueError raised inside it, when the images x (N, C, H, W) fed
    to net have the wrong size, which layer refused them and which size would have fitted:
    "layer 7 (Linear(784, 64)): ... This network expects images of 28x28 pixels ...".

    An error of the first layer is left as it is (that layer's own message is about the
    input it was given), and so is one that is not about the size.
    """

    def __init__(self, net, x):
        self.net, self.x = net, x

    def __enter__(self):
        return self

    def __exit__(self, kind, err, trace):
        if kind is None or not issubclass(kind, ValueError):
            return False
        x = np.asarray(self.x)
        i = _refusing_layer(self.net, x.shape)
        hint = _size_hint(self.net, x) if i else None
        if hint is None:
            return False
        raise ValueError(f"layer {i} ({self.net.layers[i]!r}): {err} {hint}") from None


def _refusing_layer(net, shape):
    """The index of the first layer whose output_shape refuses what reaches it from an input
    of `shape`, or None."""
    try:
        for i, layer in enumerate(net.layers):
            shape = layer.output_shape(shape)
    except ValueError:
        return i
    return None


def _size_hint(net, x):
    """"This network expects 28x28 images ..." for a batch x (N, C, H, W) that did not fit.

    Tries square images (28 first, then 1..128 pixels) through the layers, keeping every
    layer's forward cache intact; None if x is not a batch of images or nothing fits.
    """
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.floating):
        return None
    saved = [dict(layer.__dict__) for layer in net.layers]
    try:
        for size in [28] + list(range(1, 129)):
            try:
                y = np.zeros((1, x.shape[1], size, size), dtype=x.dtype)
                for layer in net.layers:
                    y = layer.forward(y)
            except ValueError:
                continue
            if x.shape[2:] == (size, size):     # the size fits: the error is about something else
                return None
            return (f"This network expects images of {size}x{size} pixels, shape "
                    f"(N, {x.shape[1]}, {size}, {size}); got {x.shape[2]}x{x.shape[3]}. "
                    f"Crop or resize the images to {size}x{size}.")
        return None
    finally:
        for layer, state in zip(net.layers, saved):
            layer.__dict__.clear()
            layer.__dict__.update(state)
