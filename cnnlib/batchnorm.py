"""Batch normalisation: make each feature (or channel) mean 0 and variance 1 over the batch,
then let the network rescale it.

Training mode, for a feature seen in m numbers x_1..x_m of the batch:
    mu = mean(x),  var = mean((x - mu)^2),  xhat = (x - mu) / sqrt(var + eps)
    out = gamma * xhat + beta
and the running averages that inference will use are updated:
    running_mean <- momentum * running_mean + (1 - momentum) * mu
    running_var  <- momentum * running_var + (1 - momentum) * var * m / (m - 1)
(the running variance averages the unbiased variance, divided by m - 1, as PyTorch keeps it;
the normalisation itself divides by m).
Inference mode uses running_mean and running_var instead of the batch's own statistics,
so a digit's score does not depend on the other digits in its batch.

Backward (training mode), with g = dL/dout and sums over the m numbers of one feature:
    dgamma = sum(g * xhat),  dbeta = sum(g)
    dx = gamma / (m sqrt(var + eps)) * (m g - sum(g) - xhat * sum(g * xhat))
the compact form of the step-by-step chain rule in batchnorm_backward_steps (notebook 12
derives both). For (N, D) inputs a feature's m = N numbers are a column; for (N, C, H, W)
images a channel's m = N*H*W numbers share one gamma and beta (per-channel, as in
Ioffe & Szegedy 2015, section 3.2).

Introduced in notebooks/12_beyond_lenet.ipynb.
"""

import numpy as np

from .checks import check_arrays, check_dout, check_float, check_float_dtype, check_int, check_real
from .layers import Layer

__all__ = ["BatchNorm", "batchnorm_backward_steps"]


def _axes(x):
    """The axes a feature's statistics are taken over: (0,) for (N, D), (0, 2, 3) for images."""
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _shaped(v, x):
    """A per-feature vector (C,) shaped to broadcast against x: (1, C) or (1, C, 1, 1)."""
    return v.reshape((1, -1) if x.ndim == 2 else (1, -1, 1, 1))


class BatchNorm(Layer):
    """Batch normalisation over (N, D) features or (N, C, H, W) channels (num_features = D or C).

    params: gamma (ones) and beta (zeros), shape (num_features,).
    buffers: running_mean (zeros) and running_var (ones), shape (num_features,), saved with
    the weights but not trained by the optimizer.
    layer.training (True after construction) chooses batch statistics (True) or the running
    ones (False); Sequential.train() and Sequential.eval() set it, and cnnlib.train's
    evaluate, and predict, run in inference mode.
    forward in training mode updates the running averages in place:
    running <- momentum * running + (1 - momentum) * batch statistic, where the variance's
    batch statistic is the unbiased one (divided by m - 1, m = numbers per feature) while
    xhat divides by the biased one (divided by m); eps goes inside the square root.
    momentum: how much of the old running average each batch keeps (0.9 here; PyTorch
    writes the same rule with its momentum = 1 - ours).
    """

    def __init__(self, num_features, momentum=0.9, eps=1e-5, dtype=np.float32):
        super().__init__()
        check_int(num_features, "num_features", 1)
        check_real(momentum, "momentum", 0, high=1)
        check_real(eps, "eps", 0, low_open=True)
        dtype = check_float_dtype(dtype)
        self.momentum, self.eps, self.training = momentum, eps, True
        self.params = {"gamma": np.ones(num_features, dtype), "beta": np.zeros(num_features, dtype)}
        self.buffers = {"running_mean": np.zeros(num_features, dtype),
                        "running_var": np.ones(num_features, dtype)}

    def _check(self, x):
        check_float(x)
        c = self.params["gamma"].shape[0]
        if x.ndim not in (2, 4) or x.shape[1] != c:
            raise ValueError(f"BatchNorm({c}) expects (N, {c}) features or (N, {c}, H, W) images;"
                             f" got shape {x.shape}.")

    def forward(self, x):
        self._check(x)
        axes, gamma, beta = _axes(x), self.params["gamma"], self.params["beta"]
        if self.training:
            m = x.size // x.shape[1]
            if m < 2:
                raise ValueError(f"BatchNorm in training mode needs at least 2 numbers per "
                                 f"feature to take a variance; got shape {x.shape}. Train on "
                                 f"batches of 2 or more, or call net.eval() to use the "
                                 f"running statistics.")
            mu, var = x.mean(axis=axes), x.var(axis=axes)
            for name, stat in (("running_mean", mu), ("running_var", var * m / (m - 1))):
                run = self.buffers[name]                      # unbiased var, as PyTorch keeps
                run *= run.dtype.type(self.momentum)
                run += run.dtype.type(1 - self.momentum) * stat.astype(run.dtype)
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = (x - _shaped(mu, x).astype(x.dtype)) * _shaped(inv_std, x).astype(x.dtype)
        self.xhat, self.inv_std, self.mode = xhat, inv_std.astype(x.dtype), self.training
        return _shaped(gamma, x) * xhat + _shaped(beta, x)

    def backward(self, dout):
        dout = check_dout(self, dout, lambda: self.xhat.shape)
        axes, xhat, gamma = _axes(dout), self.xhat, self.params["gamma"]
        self.grads = {"gamma": (dout * xhat).sum(axis=axes), "beta": dout.sum(axis=axes)}
        scale = _shaped(gamma * self.inv_std, dout)
        if not self.mode:             # inference: mu and var are constants, out is affine in x
            return dout * scale
        m = dout.size // dout.shape[1]
        return scale / m * (m * dout - _shaped(self.grads["beta"], dout)
                            - xhat * _shaped(self.grads["gamma"], dout))

    def output_shape(self, input_shape):
        c = self.params["gamma"].shape[0]
        if len(input_shape) not in (2, 4) or input_shape[1] != c:
            raise ValueError(f"BatchNorm({c}) expects (N, {c}) or (N, {c}, H, W); got shape "
                             f"{tuple(input_shape)}.")
        return tuple(input_shape)

    def __repr__(self):
        extra = "" if self.momentum == 0.9 else f", momentum={self.momentum!r}"
        extra += "" if self.eps == 1e-5 else f", eps={self.eps!r}"
        return f"BatchNorm({self.params['gamma'].shape[0]}{extra})"


def batchnorm_backward_steps(dout, x, gamma, eps=1e-5):
    """dL/dx, dL/dgamma, dL/dbeta of training-mode batch norm, one chain-rule step at a time.

    x, dout: (N, D) or (N, C, H, W); gamma: (D,) or (C,). The forward is recomputed as a
    chain of small steps, xc = x - mu, var = mean(xc^2), s = sqrt(var + eps), xhat = xc / s,
    out = gamma * xhat + beta, and each step's gradient is taken in reverse: the version
    a derivation by hand produces. BatchNorm.backward computes the same numbers in its
    compact form (tests/test_batchnorm.py compares the two).
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    check_arrays(dout=dout, x=x, gamma=gamma)
    if dout.shape != x.shape or x.ndim not in (2, 4) or gamma.shape != (x.shape[1],):
        raise ValueError(f"expected dout and x of one shape (N, D) or (N, C, H, W) and gamma "
                         f"(D,) or (C,); got {dout.shape}, {x.shape} and {gamma.shape}.")
    axes = _axes(x)
    m = x.size // x.shape[1]
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc ** 2).mean(axis=axes, keepdims=True)
    s = np.sqrt(var + eps)
    xhat = xc / s
    dgamma, dbeta = (dout * xhat).sum(axis=axes), dout.sum(axis=axes)
    dxhat = dout * _shaped(gamma, x)
    dxc = dxhat / s                                             # through xhat = xc / s, xc part
    ds = -(dxhat * xc / s ** 2).sum(axis=axes, keepdims=True)   # ... and s part
    dvar = ds / (2 * s)                                         # s = sqrt(var + eps)
    dxc = dxc + dvar * 2 * xc / m                               # var = mean(xc^2)
    dx = dxc - dxc.sum(axis=axes, keepdims=True) / m            # xc = x - mean(x)
    return dx, dgamma, dbeta
