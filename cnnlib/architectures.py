"""The networks the course builds, by name: build one with make_net("lenet").

    one_conv   Conv 8@3x3 -> MaxPool -> Linear            (notebook 04)
    two_conv   two convolutions, no hidden dense layer    (notebook 10)
    lenet      two convolutions + a hidden dense layer     (notebook 10)
    lenet99    a wider lenet that reaches 99% on MNIST     (notebook 11)
    lenet99_bn     lenet99 with BatchNorm and dropout       (notebook 12)
    lenet99_res    lenet99_bn with a residual block         (notebook 12)
    plain_stack    a deep stack of dense layers, with or without skips (notebook 12)

Each is a Sequential (cnnlib.model) of layers from conv, pool and layers; lenet99's
second convolution is cnnlib.speed.fftconv's FFTConv2D.

Introduced in notebooks/04_forward_pass.ipynb.
"""

import numpy as np

from .batchnorm import BatchNorm
from .checks import check_int, check_seed
from .conv import Conv2D
from .dropout import Dropout
from .layers import Flatten, Linear, ReLU
from .model import Sequential
from .pool import MaxPool2D
from .residual import Residual
from .speed.fftconv import FFTConv2D

__all__ = ["ARCHITECTURES", "lenet", "lenet99", "lenet99_bn", "lenet99_res", "make_net",
           "one_conv_net", "output_layer", "plain_stack", "two_conv_net"]


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
    check_seed(seed)
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=n)]


def one_conv_net(seed=0, dtype=np.float32):
    """One convolution: Conv 8@3x3 -> MaxPool 2 -> Flatten -> Linear 1352 -> 10.

    The network of Victor Zhou's "CNNs from scratch" posts (2019). No ReLU: the
    max-pool is the only non-linearity, as in those posts.
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
        Conv2D(c1, c2, kernel, pad=pad, seed=s[1], dtype=dtype), ReLU(),
        MaxPool2D(2),
        Flatten(),
        Linear(7 * 7 * c2, hidden, seed=s[2], dtype=dtype), ReLU(),
        output_layer(hidden, 10, s[3], dtype),
    ])


def two_conv_net(seed=0, dtype=np.float32):
    """Two convolutions, as in ww-rm's NumPy CNN series (part 3): Conv 4@5x5 -> MaxPool -> ReLU -> Conv 16@3x3 -> MaxPool -> ReLU ->
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
    Flatten -> Linear 1568 -> 128 -> ReLU -> Linear 128 -> 10: lenet with
    channels=(16, 32), kernel=5, hidden=128 (and its initial weights for the same seed).
    The pretrained weights in resources/lenet_mnist.npz (scripts/train_pretrained.py) are for
    this net; notebook 11 inspects them.
    The second convolution is an FFTConv2D (cnnlib.speed.fftconv): Conv2D's weights and
    numbers (up to rounding), computed through the Fourier transform, which is faster for
    this layer (benchmarks/RESULTS.md, version 0.5).
    """
    s = _layer_seeds(seed, 4)
    return Sequential([
        Conv2D(1, 16, 5, pad=2, seed=s[0], dtype=dtype, need_dx=False), ReLU(),
        MaxPool2D(2),
        FFTConv2D(16, 32, 5, pad=2, seed=s[1], dtype=dtype), ReLU(),
        MaxPool2D(2),
        Flatten(),
        Linear(7 * 7 * 32, 128, seed=s[2], dtype=dtype), ReLU(),
        output_layer(128, 10, s[3], dtype),
    ])


def lenet99_bn(seed=0, dtype=np.float32, dropout=0.3, residual=False, batchnorm=True):
    """lenet99 with batch normalisation after each convolution and the hidden dense layer,
    and dropout before the output layer (about 216k parameters):
    Conv 16@5x5 pad 2 -> BatchNorm -> ReLU -> MaxPool -> Conv 32@5x5 pad 2 -> BatchNorm ->
    ReLU -> MaxPool -> [residual block] -> Flatten -> Linear 1568 -> 128 -> BatchNorm ->
    ReLU -> Dropout(dropout) -> Linear 128 -> 10.
    residual=True adds, on the 32 maps of 7x7, a block x + F(x) with F = Conv 32@3x3 pad 1
    -> BatchNorm -> ReLU -> Conv 32@3x3 pad 1 -> BatchNorm, followed by a ReLU
    (He et al. 2016's basic block). dropout=0 keeps the layer but drops nothing;
    batchnorm=False leaves every BatchNorm out (for an ablation).
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    s = _layer_seeds(seed, 7)

    def bn(c):
        return [BatchNorm(c, dtype=dtype)] if batchnorm else []

    block = [Residual([Conv2D(32, 32, 3, pad=1, seed=s[4], dtype=dtype), *bn(32), ReLU(),
                       Conv2D(32, 32, 3, pad=1, seed=s[5], dtype=dtype), *bn(32)]),
             ReLU()] if residual else []
    return Sequential([
        Conv2D(1, 16, 5, pad=2, seed=s[0], dtype=dtype, need_dx=False), *bn(16), ReLU(),
        MaxPool2D(2),
        FFTConv2D(16, 32, 5, pad=2, seed=s[1], dtype=dtype), *bn(32), ReLU(),
        MaxPool2D(2),
        *block,
        Flatten(),
        Linear(7 * 7 * 32, 128, seed=s[2], dtype=dtype), *bn(128), ReLU(),
        Dropout(dropout, seed=s[6]),
        output_layer(128, 10, s[3], dtype),
    ])


def lenet99_res(seed=0, dtype=np.float32, dropout=0.3):
    """lenet99_bn with its residual block (residual=True).
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    return lenet99_bn(seed, dtype, dropout, residual=True)


def plain_stack(depth=30, width=64, skips=False, batchnorm=True, init="he", seed=0,
                dtype=np.float32):
    """A deep stack of dense layers for notebook 12's experiments on 28x28 digits:
    Flatten -> Linear 784 -> width, then `depth` blocks [BatchNorm ->] ReLU -> Linear
    width -> width, each wrapped as x + F(x) when skips (He et al. 2016's "pre-activation"
    order), then ReLU -> Linear width -> 10 (output_layer).
    init: the hidden Linear layers' init_weights rule ("he", "glorot" or a standard deviation).
    Introduced in notebooks/12_beyond_lenet.ipynb.
    """
    depth, width = check_int(depth, "depth", 1), check_int(width, "width", 1)
    s = _layer_seeds(seed, depth + 2)
    layers = [Flatten(), Linear(784, width, init=init, seed=s[0], dtype=dtype)]
    for k in range(depth):
        branch = [BatchNorm(width, dtype=dtype)] if batchnorm else []
        branch += [ReLU(), Linear(width, width, init=init, seed=s[k + 1], dtype=dtype)]
        layers += [Residual(branch)] if skips else branch
    return Sequential(layers + [ReLU(), output_layer(width, 10, s[-1], dtype)])


ARCHITECTURES = {"one_conv": one_conv_net, "two_conv": two_conv_net, "lenet": lenet,
                 "lenet99": lenet99, "lenet99_bn": lenet99_bn, "lenet99_res": lenet99_res}


def make_net(name, seed=0, dtype=np.float32):
    """Build a named architecture: "one_conv", "two_conv", "lenet" or "lenet99" (ARCHITECTURES).

    Introduced in notebooks/11_what_it_learned.ipynb.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name](seed=seed, dtype=dtype)
