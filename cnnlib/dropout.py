"""Inverted dropout: in training, zero each number with probability p and scale the rest by
1 / (1 - p); in inference, pass everything through unchanged.

    mask = (u >= p) / (1 - p)      u uniform in [0, 1), one per number, new for every batch
    out = x * mask                 dx = dout * mask

The scaling keeps every number's expected value: E[out] = (1 - p) * x / (1 - p) = x, so
the network at inference, which drops nothing, sees inputs of the size it trained on
(Srivastava et al. 2014 scale the weights at test time instead; scaling in training
leaves inference untouched).

Introduced in notebooks/12_beyond_lenet.ipynb.
"""

import numpy as np

from .checks import check_dout, check_float, check_real, check_seed
from .layers import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout with drop probability p (0 <= p < 1); no parameters.

    x: any float array (N, ...); out has its shape. The mask of the k-th training batch
    (k = 0, 1, ...) keeps the numbers where np.random.default_rng((seed, k)).random(x.shape)
    >= p, so a run repeats exactly; the batch counter k is buffers["step"], saved with the
    weights and in checkpoints, so a resumed run draws the masks the uninterrupted one would
    have. Backward multiplies dout by the mask of the last forward, scale included.
    layer.training (True after construction): Sequential.train() / eval() set it; in
    inference mode forward returns x itself and backward dout.
    """

    def __init__(self, p=0.5, seed=0):
        super().__init__()
        check_real(p, "p (the probability of dropping a number)", 0, high=1)
        self.p, self.seed, self.training = float(p), check_seed(seed), True
        self.buffers = {"step": np.zeros((), np.int64)}

    def forward(self, x):
        check_float(x)
        self.shape = x.shape
        if not self.training or self.p == 0:
            self.mask = None
            return x
        rng = np.random.default_rng((self.seed, int(self.buffers["step"])))
        self.buffers["step"][...] += 1
        keep = rng.random(x.shape, dtype=np.float64) >= self.p
        self.mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - self.p))
        return x * self.mask

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.shape)
        return dout if self.mask is None else dout * self.mask

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def __repr__(self):
        return f"Dropout({self.p!r})"       # the seed draws masks; it is no part of the weights
