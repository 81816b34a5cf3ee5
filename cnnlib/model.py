"""A network is a list of layers: forward runs them in order, backward in reverse.

    net = Sequential([Conv2D(1, 8, 3), MaxPool2D(2), Flatten(), Linear(13 * 13 * 8, 10)])
    logits = net.forward(x)          # x: float (N, 1, 28, 28) -> (N, 10)
    net.backward(dlogits)            # fills every layer's grads

Parameters are named "<layer index>.<name>" ("0.W", "0.b", "3.W", ...), which is
how optimizers keep their state and how save/load match arrays to layers.

Introduced in notebooks/04_forward_pass.ipynb.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

from .conv import Conv2D
from .layers import Flatten, Linear, ReLU
from .losses import softmax
from .pool import AvgPool2D, MaxPool2D

ARCH_KEY = "__architecture__"


def describe(layer):
    """One-line description of a layer with its hyper-parameters, e.g. "Conv2D(1, 8, 3, pad=1)".

    Introduced in notebooks/04_forward_pass.ipynb.
    """
    name = type(layer).__name__
    if isinstance(layer, Conv2D):
        f, c, k = layer.params["W"].shape[:3]
        return f"{name}({c}, {f}, {k}, stride={layer.stride}, pad={layer.pad})"
    if isinstance(layer, (MaxPool2D, AvgPool2D)):
        return f"{name}(size={layer.size}, stride={layer.stride})"
    if isinstance(layer, Linear):
        return f"{name}({layer.params['W'].shape[0]}, {layer.params['W'].shape[1]})"
    return f"{name}()"


class Sequential:
    """A chain of layers that all follow the layer contract (params, grads, forward, backward).

    forward(x) -> output of the last layer; backward(dout) -> dL/dx (None when the first
    layer was built with need_dx=False). Introduced in notebooks/04_forward_pass.ipynb.
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
        """Class probabilities (N, K) = softmax(forward(x)), batch_size images at a time."""
        return np.concatenate([softmax(self.forward(x[i:i + batch_size]))
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
        return [describe(layer) for layer in self.layers]

    def summary(self, input_shape=(1, 28, 28)):
        """A printable table: each layer, its output shape for one input, its parameter count."""
        saved = [dict(layer.__dict__) for layer in self.layers]   # keep forward caches intact
        dtype = next(iter(self.named_params().values()), np.zeros(0, np.float32)).dtype
        x = np.zeros((1,) + tuple(input_shape), dtype=dtype)
        rows = [("", "input", str(tuple(input_shape)), "")]
        try:
            for i, (layer, desc) in enumerate(zip(self.layers, self.architecture())):
                x = layer.forward(x)
                n = sum(p.size for p in layer.params.values())
                rows.append((str(i), desc, str(x.shape[1:]), f"{n:,}" if n else ""))
        except ValueError as err:
            rows.append(("", f"(does not fit input {tuple(input_shape)}: {err})", "", ""))
        finally:
            for layer, state in zip(self.layers, saved):
                layer.__dict__.clear()
                layer.__dict__.update(state)
        rows.insert(0, ("#", "layer", "output", "params"))
        w = [max(len(r[j]) for r in rows) for j in range(4)]
        lines = [f"{a:>{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d:>{w[3]}}".rstrip()
                 for a, b, c, d in rows]
        return "\n".join(lines + [f"total parameters: {self.num_params():,}"])

    def __repr__(self):
        return "Sequential(\n" + self.summary() + "\n)"

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
        if arch is not None and list(arch) != self.architecture():
            raise ValueError(f"{path}: saved architecture {list(arch)} differs from this "
                             f"model's {self.architecture()}.")
        for name, p in params.items():
            p[...] = saved[name]
        return self


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_layer(in_features, out_features, seed, dtype, scale=0.1):
    """The final Linear layer: Glorot init scaled down by `scale`.

    Small output weights make every initial score close to 0, so the untrained
    net predicts nearly uniform probabilities and its loss starts near ln 10.

    Introduced in notebooks/04_forward_pass.ipynb.
    """
    layer = Linear(in_features, out_features, init="glorot", seed=seed, dtype=dtype)
    layer.params["W"] *= scale
    return layer


def _layer_seeds(seed, n):
    """n different seeds derived from one, so layers do not share random draws."""
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=n)]


def seed_net(seed=0, dtype=np.float32):
    """The seeds' network: Conv 8@3x3 -> MaxPool 2 -> Flatten -> Linear 1352 -> 10.

    No ReLU (the max-pool is the only non-linearity), as in the source articles.
    Conv filters: He init; the final Linear layer: Glorot init times 0.1 (see
    output_layer), so the initial loss is close to ln 10.
    Introduced in notebooks/04_forward_pass.ipynb.
    """
    s = _layer_seeds(seed, 2)
    return Sequential([
        Conv2D(1, 8, 3, seed=s[0], dtype=dtype, need_dx=False),
        MaxPool2D(2),
        Flatten(),
        output_layer(13 * 13 * 8, 10, s[1], dtype),
    ])


def lenet(seed=0, dtype=np.float32, channels=(8, 16), kernel=3, hidden=64):
    """A small LeNet-style network (with the defaults about 52k parameters):
    Conv 8@3x3 pad 1 -> ReLU -> MaxPool -> Conv 16@3x3 pad 1 -> ReLU -> MaxPool ->
    Flatten -> Linear 784 -> 64 -> ReLU -> Linear 64 -> 10.
    channels, kernel (odd; "same" padding) and hidden size it; each 28x28 image leaves
    the two pools as channels[1] maps of 7x7.
    He init for layers followed by ReLU, small Glorot (output_layer) for the last.
    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    (c1, c2), pad, s = channels, kernel // 2, _layer_seeds(seed, 4)
    return Sequential([
        Conv2D(1, c1, kernel, pad=pad, seed=s[0], dtype=dtype, need_dx=False), ReLU(),
        MaxPool2D(2),
        Conv2D(c1, c2, kernel, pad=pad, seed=s[1], dtype=dtype), ReLU(), MaxPool2D(2),
        Flatten(),
        Linear(7 * 7 * c2, hidden, seed=s[2], dtype=dtype), ReLU(),
        output_layer(hidden, 10, s[3], dtype),
    ])


def seed002_net(seed=0, dtype=np.float32):
    """Seed 002's network: Conv 4@5x5 -> MaxPool -> ReLU -> Conv 16@3x3 -> MaxPool -> ReLU ->
    Flatten -> Linear 400 -> 10 (28 -> 24 -> 12 -> 10 -> 5; 16 * 5 * 5 = 400).
    He init for the convolutions, small Glorot (output_layer) for the last.
    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    s = _layer_seeds(seed, 3)
    return Sequential([
        Conv2D(1, 4, 5, seed=s[0], dtype=dtype, need_dx=False), MaxPool2D(2), ReLU(),
        Conv2D(4, 16, 3, seed=s[1], dtype=dtype), MaxPool2D(2), ReLU(),
        Flatten(),
        output_layer(16 * 5 * 5, 10, s[2], dtype),
    ])


def lenet99(seed=0, dtype=np.float32):
    """A bigger LeNet-style network that reaches 99% on MNIST (about 215k parameters):
    Conv 16@5x5 pad 2 -> ReLU -> MaxPool -> Conv 32@5x5 pad 2 -> ReLU -> MaxPool ->
    Flatten -> Linear 1568 -> 128 -> ReLU -> Linear 128 -> 10.
    The pretrained weights in resources/lenet_mnist.npz (scripts/train_pretrained.py) are for
    this net. Introduced in notebooks/11_what_it_learned.ipynb.
    """
    return lenet(seed, dtype, channels=(16, 32), kernel=5, hidden=128)


ARCHITECTURES = {"seed": seed_net, "lenet": lenet, "seed002": seed002_net,
                 "lenet99": lenet99}


def make_net(name, seed=0, dtype=np.float32):
    """Build a named architecture: "seed", "lenet", "seed002" or "lenet99" (see ARCHITECTURES).

    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name](seed=seed, dtype=dtype)
