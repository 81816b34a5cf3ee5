"""Adversarial digits: small changes of the pixels, chosen with the loss gradient, that
change the network's answer.

Images are the network's inputs x = pixels/255 - 0.5 (cnnlib.data.to_float), so every
pixel lies in [PIXEL_MIN, PIXEL_MAX] = [-0.5, 0.5]; an attack may move each pixel by at most
eps (the L-infinity ball) and never leaves that range. With g = dL/dx, the gradient of
the loss of the true label (cnnlib.saliency.input_gradient, of="loss"):

    FGSM       x' = clip(x + eps * sign(g))                      (Goodfellow et al. 2014)
    PGD        x <- clip(project(x + step * sign(g))), `steps` times  (Madry et al. 2017)
    targeted   the same with g the gradient of the loss of the target, and minus:
               walk downhill towards the target class instead of uphill away from the label
    baseline   x' = clip(x + eps * random signs): the same size, no gradient

smallest_flipping_eps finds, per digit, by bisection, the smallest eps at which an attack
changes the prediction.

Introduced in notebooks/13_saliency_and_adversarial.ipynb.
"""

import numpy as np

from .checks import check_array, check_int, check_labels, check_real, check_seed
from .saliency import _check_batch, input_gradient

__all__ = ["PIXEL_MAX", "PIXEL_MIN", "fgsm", "pgd", "sign_noise", "smallest_flipping_eps"]

PIXEL_MIN, PIXEL_MAX = -0.5, 0.5        # to_float: 0 -> -0.5 (background), 255 -> +0.5 (ink)


def _check_inputs(net, x, labels, eps, target):
    x, labels = _check_batch(net, x, labels, "labels")
    if x.size and (x.min() < PIXEL_MIN or x.max() > PIXEL_MAX):
        raise ValueError(f"x must hold network inputs in [{PIXEL_MIN}, {PIXEL_MAX}] (raw pixels "
                         f"scaled by cnnlib.data.to_float); got values from {x.min():g} to "
                         f"{x.max():g}.")
    if np.ndim(eps) == 0:
        eps = check_real(eps, "eps", 0)
    else:
        eps = check_array(eps, "eps")
        if eps.shape != (len(x),) or not np.isfinite(eps).all() or (eps < 0).any():
            raise ValueError(f"eps must be one number >= 0 or finite numbers >= 0 of shape "
                             f"({len(x)},), one per image; got shape {eps.shape}.")
    eps = np.broadcast_to(np.asarray(eps, x.dtype), (len(x),)).reshape(-1, 1, 1, 1)
    if target is not None:
        target = _check_batch(net, x, target, "target")[1]
    return x, labels, eps, target


def _direction(net, x, labels, target):
    """The sign of the step that raises the label's loss, or lowers the target's."""
    if target is None:
        return np.sign(input_gradient(net, x, labels, of="loss"))
    return -np.sign(input_gradient(net, x, target, of="loss"))


def fgsm(net, x, labels, eps, target=None):
    """One step of size eps along the sign of the loss gradient, clipped to the pixel range.

    x (N, C, H, W) in [-0.5, 0.5]; labels (N,) (or one int); eps one number or (N,);
    target None (any wrong answer) or the classes (N,) (or one int) to turn x into.
    net must compute input gradients (cnnlib.saliency.with_input_gradient).
    Returns x' shaped like x, with |x' - x| <= eps everywhere.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    x, labels, eps, target = _check_inputs(net, x, labels, eps, target)
    if target is None:      # uphill on the loss of the true label: away from it
        step = np.sign(input_gradient(net, x, labels, of="loss"))
    else:                   # downhill on the loss of the target: towards it
        step = -np.sign(input_gradient(net, x, target, of="loss"))
    return np.clip(x + eps * step, PIXEL_MIN, PIXEL_MAX)


def pgd(net, x, labels, eps, steps=10, step_size=None, target=None):
    """Projected gradient ascent: `steps` signed steps of step_size (default 2.5 * eps / steps,
    as Madry et al. 2017), each followed by projection onto the box |x' - x| <= eps and
    clipping to the pixel range. Starts at x itself. Arguments and result as fgsm.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    x, labels, eps, target = _check_inputs(net, x, labels, eps, target)
    steps = check_int(steps, "steps", 1)
    step = 2.5 * eps / steps if step_size is None else check_real(step_size, "step_size", 0)
    adv = x.copy()
    for _ in range(steps):
        adv = adv + step * _direction(net, adv, labels, target)
        adv = np.clip(np.clip(adv, x - eps, x + eps), PIXEL_MIN, PIXEL_MAX)
    return adv.astype(x.dtype)


def sign_noise(x, eps, seed=0):
    """The baseline: every pixel moved by +eps or -eps at random, clipped to the pixel range.
    x (N, C, H, W); eps one number or (N,). Introduced in
    notebooks/13_saliency_and_adversarial.ipynb.
    """
    rng = np.random.default_rng(check_seed(seed))
    x, _, eps, _ = _check_inputs(None, x, np.zeros(len(check_array(x)), int), eps, None)
    signs = rng.choice(np.array([-1, 1], x.dtype), size=x.shape)
    return np.clip(x + eps * signs, PIXEL_MIN, PIXEL_MAX)


def smallest_flipping_eps(net, x, labels, attack="fgsm", high=0.5, iterations=10, target=None,
                          **options):
    """Per image, the smallest eps in (0, high] at which attack(x, eps) is misclassified
    (or, with target, classified as target), found by bisection.

    attack: "fgsm", "pgd" (options such as steps go to it) or "noise" (sign_noise, seed 0).
    Returns eps (N,) float64: 0 for an image already wrong (or already the target), inf when
    even `high` does not succeed; otherwise the upper end of a bracket of width
    high / 2**iterations known to succeed. Bisection assumes success stays once reached as
    eps grows; where it does not, the eps returned still succeeds, a smaller one might too.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    high, iterations = check_real(high, "high", 0, low_open=True), check_int(iterations, "iterations", 1)
    if attack not in ("fgsm", "pgd", "noise"):
        raise ValueError(f"attack must be 'fgsm', 'pgd' or 'noise'; got {attack!r}.")
    x, labels, _, target = _check_inputs(net, x, labels, 0.0, target)
    if attack == "fgsm":            # the step's direction does not depend on eps: compute it once
        direction = _direction(net, x, labels, target)

    def succeeds(eps):
        e = eps.astype(x.dtype).reshape(-1, 1, 1, 1)
        if attack == "fgsm":
            adv = np.clip(x + e * direction, PIXEL_MIN, PIXEL_MAX)
        elif attack == "pgd":
            adv = pgd(net, x, labels, eps.astype(x.dtype), target=target, **options)
        else:
            adv = sign_noise(x, eps.astype(x.dtype))
        pred = net.forward(adv).argmax(axis=1)
        return pred != labels if target is None else pred == target

    done = succeeds(np.zeros(len(x)))
    lo, hi = np.zeros(len(x)), np.full(len(x), float(high))
    ok = succeeds(hi) | done
    for _ in range(iterations):
        mid = (lo + hi) / 2
        flip = succeeds(mid)
        hi, lo = np.where(flip, mid, hi), np.where(flip, lo, mid)
    found = ok | (hi < high)        # high failed but a smaller eps succeeded: keep that one
    return np.where(done, 0.0, np.where(found, hi, np.inf))
