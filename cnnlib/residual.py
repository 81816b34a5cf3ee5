"""A residual block: out = x + F(x), where F is a short chain of layers (He et al. 2016).

Backward: L depends on x along two paths, through F and through the skip, so their
gradients add,
    dL/dx = dout + (dF/dx)^T dout
the first term is the skip's: the gradient reaches x unchanged however badly F's layers
scale it, which is why a deep stack of blocks still trains when the plain stack does not.

Introduced in notebooks/12_beyond_lenet.ipynb.
"""

import copy

from .checks import check_dout, check_float
from .layers import Layer

__all__ = ["Residual"]


class Residual(Layer):
    """out = x + F(x) with F = the layers in `inner`, run in order; F(x) must keep x's shape.

    Its parameters, gradients and buffers are those of the inner layers, named
    "<inner index>.<name>" ("0.W", "1.gamma", ...), so in a Sequential they are called
    "<block index>.<inner index>.<name>" ("3.0.W"). training passes to the inner layers.
    """

    def __init__(self, inner):          # no Layer.__init__: params and grads are views
        self.inner = list(inner)
        if not self.inner or not all(isinstance(layer, Layer) for layer in self.inner):
            raise TypeError("Residual needs a non-empty list of layers, e.g. Residual([Conv2D(8,"
                            " 8, 3, pad=1), ReLU(), Conv2D(8, 8, 3, pad=1)]).")

    # params, grads and buffers live in the inner layers; these views name them
    def _view(self, attr):
        return {f"{j}.{k}": v for j, layer in enumerate(self.inner)
                for k, v in getattr(layer, attr, {}).items()}

    def _spread(self, attr, values):
        for j, layer in enumerate(self.inner):
            setattr(layer, attr, {k.split(".", 1)[1]: v for k, v in values.items()
                                  if k.split(".", 1)[0] == str(j)})

    params = property(lambda self: self._view("params"),
                      lambda self, v: self._spread("params", v))
    grads = property(lambda self: self._view("grads"), lambda self, v: self._spread("grads", v))
    buffers = property(lambda self: self._view("buffers"))

    @property
    def training(self):
        return all(getattr(layer, "training", True) for layer in self.inner)

    @training.setter
    def training(self, mode):
        for layer in self.inner:
            if hasattr(layer, "training"):
                layer.training = mode

    def forward(self, x):
        check_float(x)
        out = x
        for layer in self.inner:
            out = layer.forward(out)
        if out.shape != x.shape:
            raise ValueError(f"the residual branch changed the shape from {x.shape} to "
                             f"{out.shape}; x + F(x) needs F to keep it (pad convolutions, "
                             f"keep the channel count, no pooling inside).")
        self.shape = x.shape
        return x + out

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.shape)
        d = dout
        for layer in reversed(self.inner):
            d = layer.backward(d)
        return dout + d               # the skip's gradient plus the branch's

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.inner:
            shape = tuple(layer.output_shape(shape))
        if shape != tuple(input_shape):
            raise ValueError(f"the residual branch maps {tuple(input_shape)} to {shape}; it "
                             f"must keep the shape.")
        return shape

    def __copy__(self):
        """A copy whose inner layers are copies too (sharing the parameter arrays), so two
        copies can run forward at the same time without sharing caches."""
        twin = Residual.__new__(Residual)
        twin.__dict__.update(self.__dict__)
        twin.inner = [copy.copy(layer) for layer in self.inner]
        return twin

    def __repr__(self):
        return "Residual([" + ", ".join(repr(layer) for layer in self.inner) + "])"
