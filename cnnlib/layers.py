"""The layer contract and the simplest layers: ReLU, Flatten and Linear (dense).

Every layer has the same four members:
    layer.params  dict of parameter arrays ({} when there are none)
    layer.grads   dict of their gradients, same keys, filled by backward
    layer.forward(x) -> out        caches what backward needs
    layer.backward(dout) -> dx     returns dL/dx and fills layer.grads
and two that describe it without running it:
    layer.output_shape(input_shape) -> the shape forward would return, e.g. for a summary
    repr(layer)                    the call that builds it, e.g. "Linear(1352, 10)"

Introduced in notebooks/04_forward_pass.ipynb.
"""

import copy

import numpy as np

from .checks import (check_array, check_dout, check_float, check_float_dtype, check_int, check_memory,
                     check_seed, check_shape)

__all__ = ["Flatten", "init_weights", "Layer", "Linear", "ReLU"]


def init_weights(shape, fan_in, fan_out, init="he", seed=0, dtype=np.float32):
    """Random initial weights of `shape`.

    "he":     normal with std sqrt(2 / fan_in), suited to ReLU networks (He et al. 2015).
    "glorot": uniform in +-sqrt(6 / (fan_in + fan_out)), suited to linear/softmax outputs
              (Glorot & Bengio 2010); "xavier" is the same rule under its other name.
    a number: normal with that standard deviation (notebook 12 compares fixed scales
              such as 0.01 with the two rules).
    """
    dtype = check_float_dtype(dtype)
    check_memory(shape, dtype, "the weights")
    rng = np.random.default_rng(check_seed(seed))
    if isinstance(init, (int, float, np.floating)) and not isinstance(init, bool):
        if not (np.isfinite(init) and init > 0):
            raise ValueError(f"a numeric init is the weights' standard deviation and must be a "
                             f"finite number > 0; got {init!r}.")
        w = rng.normal(0.0, float(init), size=shape)
    elif init == "he":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif init in ("glorot", "xavier"):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    else:
        raise ValueError(f"init must be 'he', 'glorot' (or 'xavier'), or a standard deviation "
                         f"> 0; got {init!r}.")
    return w.astype(dtype)


class Layer:
    """Base class: no parameters, calling the layer runs forward."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def __call__(self, x):
        return self.forward(x)

    def output_shape(self, input_shape):
        """Shape of forward's output for an input of `input_shape` (batch axis included).

        This fallback runs forward on zeros with a copy of the layer, so the layer's own
        cache is untouched; the layers below override it with their formula.
        """
        return copy.deepcopy(self).forward(np.zeros(input_shape)).shape

    def __repr__(self):
        return f"{type(self).__name__}()"


class ReLU(Layer):
    """max(0, x), element-wise. The gradient passes where x > 0 and is 0 elsewhere,
    so at x = 0 exactly it is 0 (one valid subgradient; PyTorch chooses the same).

    Introduced in notebooks/05_backprop_softmax.ipynb (section 8).
    """

    def forward(self, x):
        check_float(x)
        self.mask = x > 0
        return np.maximum(x, 0)      # not x * mask: -inf * 0 would be NaN

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.mask.shape)
        dx = dout * self.mask        # a product keeps dout's memory layout; np.where does not
        if not np.isfinite(dx).all():      # inf * 0 is NaN, but where x <= 0 the gradient is 0
            dx[~self.mask] = 0
        return dx

    def output_shape(self, input_shape):
        return tuple(input_shape)


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W); backward restores the shape."""

    def forward(self, x):
        check_array(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten input must have a batch axis and at least one more, "
                             f"(N, ...); got shape {x.shape}.")
        self.shape, self.x = x.shape, x
        # the product, not -1: reshape cannot infer -1 for an empty batch (N = 0)
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.output_shape(self.shape))
        # dout.reshape(self.shape) holds the right numbers; empty_like also stores them in
        # memory in the order x was stored in, which the layers below run faster on (notebook 09)
        dx = np.empty_like(self.x, dtype=dout.dtype)
        dx[...] = dout.reshape(self.shape)
        return dx

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"Flatten expects input of shape (N, ...) with at least 2 axes; "
                             f"got shape {tuple(input_shape)}.")
        return (input_shape[0], int(np.prod(input_shape[1:])))


class Linear(Layer):
    """Dense layer: out = x @ W + b.

    x: (N, in_features); W: (in_features, out_features); b: (out_features,).
    Backward: dW = x.T @ dout, db = sum of dout over the batch, dx = dout @ W.T.
    """

    def __init__(self, in_features, out_features, init="he", seed=0, dtype=np.float32):
        super().__init__()
        check_int(in_features, "in_features", 1), check_int(out_features, "out_features", 1)
        self.params = {"W": init_weights((in_features, out_features), in_features,
                                         out_features, init, seed, dtype),
                       "b": np.zeros(out_features, dtype=dtype)}

    def forward(self, x):
        check_float(x)
        check_shape(x, (None, self.params["W"].shape[0]), "Linear input")
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.output_shape(self.x.shape))
        self.grads = {"W": self.x.T @ dout, "b": dout.sum(axis=0)}
        return dout @ self.params["W"].T

    def output_shape(self, input_shape):
        n_in, n_out = self.params["W"].shape
        if len(input_shape) != 2 or input_shape[1] != n_in:
            raise ValueError(f"Linear({n_in}, {n_out}) expects input of shape (N, {n_in}); "
                             f"got shape {tuple(input_shape)}.")
        return (input_shape[0], n_out)

    def __repr__(self):
        return f"Linear({self.params['W'].shape[0]}, {self.params['W'].shape[1]})"
