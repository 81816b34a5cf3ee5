"""The layer contract and the simplest layers: ReLU, Flatten and Linear (dense).

Every layer has the same four members:
    layer.params  dict of parameter arrays ({} when there are none)
    layer.grads   dict of their gradients, same keys, filled by backward
    layer.forward(x) -> out        caches what backward needs
    layer.backward(dout) -> dx     returns dL/dx and fills layer.grads

Introduced in notebooks/04_forward_pass.ipynb.
"""

import numpy as np

from .checks import check_float, check_shape


def init_weights(shape, fan_in, fan_out, init="he", seed=0, dtype=np.float32):
    """Random initial weights of `shape`.

    "he":     normal with std sqrt(2 / fan_in), suited to ReLU networks.
    "glorot": uniform in +-sqrt(6 / (fan_in + fan_out)), suited to linear/softmax outputs.
    """
    rng = np.random.default_rng(seed)
    if init == "he":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    else:
        raise ValueError(f"init must be 'he' or 'glorot'; got {init!r}.")
    return w.astype(dtype)


class Layer:
    """Base class: no parameters, calling the layer runs forward."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class ReLU(Layer):
    """max(0, x), element-wise. The gradient passes where x > 0 and is 0 elsewhere."""

    def forward(self, x):
        check_float(x)
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W); backward restores the shape."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class Linear(Layer):
    """Dense layer: out = x @ W + b.

    x: (N, in_features); W: (in_features, out_features); b: (out_features,).
    Backward: dW = x.T @ dout, db = sum of dout over the batch, dx = dout @ W.T.
    """

    def __init__(self, in_features, out_features, init="he", seed=0, dtype=np.float32):
        super().__init__()
        self.params = {"W": init_weights((in_features, out_features), in_features,
                                         out_features, init, seed, dtype),
                       "b": np.zeros(out_features, dtype=dtype)}

    def forward(self, x):
        check_float(x)
        check_shape(x, (None, self.params["W"].shape[0]), "Linear input")
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads = {"W": self.x.T @ dout, "b": dout.sum(axis=0)}
        return dout @ self.params["W"].T
