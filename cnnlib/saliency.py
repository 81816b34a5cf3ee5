"""What a trained network looks at: gradients with respect to the input, and occlusion.

For images x (N, C, H, W) and the scores z = net.forward(x) (N, K), the backward pass that
training runs already computes dL/dx: every layer's backward returns the gradient for its
input, and the first layer's is the gradient for the image. Seeding it with a one-hot
dz picks one class score,

    saliency[n] = d z[n, d] / d x[n]          (Simonyan et al. 2013)
    loss gradient[n] = d L_n / d x[n],  L_n = -log p[n, y_n]  (what an attack climbs)

SmoothGrad averages the saliency over noisy copies of the image (Smilkov et al. 2017);
occlusion covers a k x k patch with background and records how much the class
probability drops, with no gradient at all (Zeiler & Fergus 2014).

A network's first layer may skip its input gradient (need_dx=False, nothing below it needs
one during training); with_input_gradient gives a view of the same network that computes it.

Introduced in notebooks/13_saliency_and_adversarial.ipynb.
"""

import copy

import numpy as np

from .checks import (check_finite_images, check_images, check_int, check_labels, check_real,
                     check_seed)
from .losses import softmax

__all__ = ["input_gradient", "occlusion", "smoothgrad", "with_input_gradient"]


def with_input_gradient(net):
    """A view of net whose every layer returns its input gradient (need_dx=True).

    Each layer is a shallow copy that shares the original's parameter arrays (so it always
    scores exactly like net, and an optimizer that updates net updates it too) but keeps
    its own forward caches; net itself is not changed.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    view = copy.copy(net)
    view.layers = [copy.copy(layer) for layer in net.layers]
    for layer in view.layers:
        if hasattr(layer, "need_dx"):
            layer.need_dx = True
    return view


def _check_batch(net, x, classes, name="classes"):
    x = check_finite_images(check_images(x), then="so would their gradients")
    k = net.forward(x[:1]).shape[1] if net is not None and len(x) else None
    if np.ndim(classes) == 0:
        classes = np.full(len(x), classes)
    return x, check_labels(classes, k, name, n=len(x))


def input_gradient(net, x, classes, of="score"):
    """Gradient with respect to the images x (N, C, H, W) of each image's class score
    z[n, classes[n]] (of="score") or of its loss -log p[n, classes[n]] (of="loss").

    classes: one int for all images, or ints (N,). Returns an array shaped like x.
    Every layer of net must compute its input gradient: pass with_input_gradient(net)
    when the first layer was built with need_dx=False.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    skipping = [i for i, layer in enumerate(net.layers) if getattr(layer, "need_dx", True) is False]
    if skipping:
        raise ValueError(f"layer {skipping[0]} of this network was built with need_dx=False, "
                         f"so its backward pass stops before the image; pass "
                         f"with_input_gradient(net), a view of the same weights that computes it.")
    if of not in ("score", "loss"):
        raise ValueError(f"of must be 'score' or 'loss'; got {of!r}.")
    x, classes = _check_batch(net, x, classes)
    z = net.forward(x)
    dz = np.zeros_like(z)
    dz[np.arange(len(x)), classes] = 1.0                # d z[n, c] / d z = one-hot
    if of == "loss":                                    # d(-log p_c)/dz = p - one-hot
        dz = softmax(z) - dz
    return net.backward(dz)


def smoothgrad(net, x, classes, sigma=0.1, samples=20, seed=0):
    """The mean of input_gradient(net, x + noise, classes) over `samples` draws of Gaussian
    noise of standard deviation sigma (in the units of x; x/255 - 0.5 spans 1).

    x (N, C, H, W); returns an array shaped like x. Introduced in
    notebooks/13_saliency_and_adversarial.ipynb.
    """
    sigma = check_real(sigma, "sigma", 0)
    samples = check_int(samples, "samples", 1)
    x, classes = _check_batch(net, x, classes)
    rng = np.random.default_rng(check_seed(seed))
    total = np.zeros_like(x)
    for _ in range(samples):
        noisy = x + rng.normal(0, sigma, size=x.shape).astype(x.dtype)
        total += input_gradient(net, noisy, classes)
    return total / samples


def occlusion(net, x, classes, size=4, stride=2, fill=-0.5):
    """How much the probability of each image's class drops when a size x size patch
    is covered with `fill` (the background, -0.5, for to_float inputs).

    x (N, C, H, W); returns drops (N, Hout, Wout), Hout = (H - size) // stride + 1:
    drops[n, i, j] = p(class | x[n]) - p(class | x[n] with rows i*stride .. i*stride+size-1
    and the same columns covered). Positive: the patch helped that class. Needs only forward
    passes (one batch of Hout * Wout copies per image).
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    size, stride = check_int(size, "size", 1), check_int(stride, "stride", 1)
    check_real(fill, "fill", -np.inf)
    x, classes = _check_batch(net, x, classes)
    h, w = x.shape[2:]
    if size > min(h, w):
        raise ValueError(f"the patch ({size}) is larger than the images ({h}x{w}); use a "
                         f"smaller size.")
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    drops = np.zeros((len(x), ho, wo))
    for n in range(len(x)):
        copies = np.repeat(x[n:n + 1], ho * wo, axis=0)
        for i in range(ho):
            for j in range(wo):
                copies[i * wo + j, :, i * stride:i * stride + size,
                       j * stride:j * stride + size] = fill
        p = softmax(net.forward(np.concatenate([x[n:n + 1], copies])))[:, classes[n]]
        drops[n] = (p[0] - p[1:]).reshape(ho, wo)
    return drops
