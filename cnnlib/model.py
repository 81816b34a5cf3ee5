"""A network is a list of layers: forward runs them in order, backward in reverse.

    net = Sequential([Conv2D(1, 8, 3), MaxPool2D(2), Flatten(), Linear(13 * 13 * 8, 10)])
    logits = net.forward(x)          # x: float (N, 1, 28, 28) -> (N, 10)
    net.backward(dlogits)            # fills every layer's grads

Parameters are named "<layer index>.<name>" ("0.W", "0.b", "3.W", ...), which is
how optimizers keep their state and how save/load match arrays to layers.

Introduced in notebooks/08_training.ipynb (notebook 04 runs the same layers as a plain list).
"""

import ast
import os
import tempfile
from pathlib import Path

import numpy as np

from .conv import Conv2D
from .layers import Flatten, Linear, ReLU
from .losses import softmax
from .pool import AvgPool2D, MaxPool2D

ARCH_KEY = "__architecture__"


# The layers a saved architecture may name, and keywords renamed since (pooling said size=).
_LAYERS = {cls.__name__: cls for cls in (Conv2D, MaxPool2D, AvgPool2D, ReLU, Flatten, Linear)}
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


class Sequential:
    """A chain of layers that all follow the layer contract (params, grads, forward, backward).

    forward(x) -> output of the last layer; backward(dout) -> dL/dx (None when the first
    layer was built with need_dx=False). Introduced in notebooks/08_training.ipynb.
    """

    def __init__(self, layers):
        self.layers = list(layers)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
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

    def num_params(self):
        return sum(p.size for p in self.named_params().values())

    def predict_proba(self, x, batch_size=1000):
        """Class probabilities (N, K) = softmax(forward(x)), batch_size images at a time
        (each batch split across threads, cnnlib.parallel)."""
        from .parallel import forward_split     # parallel builds on this module
        return np.concatenate([softmax(forward_split(self, x[i:i + batch_size]))
                               for i in range(0, len(x), batch_size)])

    def predict(self, x, batch_size=1000):
        """Predicted class (N,) int64: the arg-max of the scores."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def astype(self, dtype):
        """Convert every parameter to dtype (np.float64 for gradient checks); returns self."""
        for layer in self.layers:
            layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
            layer.grads = {}
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
        """Write the parameters and the architecture to an .npz file (no pickle).

        Writes a temporary file next to `path` and renames it, so a crash never
        leaves a half-written file behind.
        """
        path = Path(path)
        arrays = {**self.named_params(), ARCH_KEY: np.array(self.architecture())}
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes it private (0600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, path):
        """Copy parameters from an .npz written by save() into this net (in place); returns self.

        Raises ValueError if an array is missing, extra, or has the wrong shape, or if the
        saved architecture differs from this net's.
        """
        params = self.named_params()
        with np.load(path, allow_pickle=False) as f:
            saved = {name: f[name] for name in f.files}
        arch = saved.pop(ARCH_KEY, None)
        missing = sorted(set(params) - set(saved))
        extra = sorted(set(saved) - set(params))
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing} expected by this model.")
        if extra:
            raise ValueError(f"{path}: extra array(s) {extra} that this model does not have.")
        for name, p in params.items():
            if saved[name].shape != p.shape:
                raise ValueError(f"{path}: array {name!r} has shape {saved[name].shape}, "
                                 f"expected {p.shape}.")
        if arch is not None and [_redescribe(a) for a in arch] != self.architecture():
            raise ValueError(f"{path}: saved architecture {list(arch)} differs from this "
                             f"model's {self.architecture()}.")
        for name, p in params.items():
            p[...] = saved[name]
        return self


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask

