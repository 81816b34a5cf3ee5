"""Pictures for notebook 13: saliency maps next to their digits, one attack (digit,
perturbation, adversarial digit, probabilities before and after), and the histogram of the
smallest eps that flips each digit.

Images here are network inputs x/255 - 0.5 (N, 1, H, W) or (H, W), drawn back as ink on
paper; perturbations and gradients use the diverging colour map, centred on 0.
Every figure carries its own alt text (cnnlib.viz.alt_text.set_alt_text).

Introduced in notebooks/13_saliency_and_adversarial.ipynb.
"""
import numpy as np

from ..attacks import fgsm, pgd, sign_noise
from .alt_text import set_alt_text
from .base import DIVERGING, figure, say, show_digit, symmetric_limit
from .describe_trained import describe_attack, describe_eps
from .probabilities import probability_bars

__all__ = ["ATTACKS", "attack_view", "plot_attack", "plot_eps_histogram", "plot_saliency"]

ATTACKS = ("FGSM", "PGD", "random signs")


def _pixels(x):
    """A network input (..., H, W) in [-0.5, 0.5] as raw pixels 0..255 for show_digit."""
    return (np.asarray(x, dtype=np.float64).reshape(np.shape(x)[-2:]) + 0.5) * 255


def plot_saliency(inputs, maps, titles=None):
    """One column per digit: the digit on top, then one row per map.

    inputs (n, 1, H, W) network inputs; maps {row name: array (n, h, w) or (n, 1, h, w)},
    each drawn on its own colour scale symmetric about 0 per digit (red: raises the class
    score or probability, blue: lowers it). titles: n strings above the digits.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    n, rows = len(inputs), list(maps)
    fig = figure(figsize=(1.6 * n + 1.2, 1.7 * (len(rows) + 1)), layout="constrained")
    axes = np.asarray(fig.subplots(len(rows) + 1, n, squeeze=False))
    for j in range(n):
        show_digit(axes[0, j], _pixels(inputs[j]), None if titles is None else titles[j])
        for i, name in enumerate(rows, 1):
            m = np.asarray(maps[name][j], dtype=np.float64).reshape(np.shape(maps[name][j])[-2:])
            top = symmetric_limit(m)
            axes[i, j].imshow(m, cmap=DIVERGING, vmin=-top, vmax=top)
            axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(name, fontsize=9)
    return set_alt_text(fig, f"{n} digits in a row, each with {len(rows)} maps below it "
                             f"({', '.join(rows)}): red where the pixel supports the class, "
                             f"blue where it speaks against it, white where it does not matter.")


def plot_attack(net, x, adv, label=None, title="adversarial"):
    """Four panels: digit x (1, 1, H, W), the perturbation adv - x, the digit adv, and the
    network's probabilities for both (bars side by side). Returns the Figure.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    fig = figure(figsize=(12, 2.9))
    axes = fig.subplots(1, 5, gridspec_kw={"width_ratios": [1, 1, 1, 1.5, 1.5]})
    p, q = net.predict_proba(np.concatenate([x, adv]).astype(x.dtype))
    delta = (adv - x).reshape(x.shape[-2:])
    top = float(np.abs(delta).max())
    show_digit(axes[0], _pixels(x), f"original: {p.argmax()} ({p.max():.0%})")
    axes[1].imshow(delta, cmap=DIVERGING, vmin=-max(top, 1e-12), vmax=max(top, 1e-12))
    axes[1].set_title(f"change, max |Δ| = {top:.3f}", fontsize=9)
    axes[1].set_axis_off()
    show_digit(axes[2], _pixels(adv), f"{title}: {q.argmax()} ({q.max():.0%})",
               color="black" if label is None or q.argmax() == label else "tab:orange")
    probability_bars(axes[3], p, label, "probabilities, original")
    probability_bars(axes[4], q, label, f"probabilities, {title}")
    fig.tight_layout()
    return set_alt_text(fig, describe_attack(p, q, label, delta, title))


def attack_view(net, x, label, eps=0.1, attack="FGSM", target=None, steps=10):
    """The widget's view: attack one digit x (1, 1, H, W) with label, by FGSM, PGD (steps)
    or random signs at eps, towards target (None: any wrong answer), and draw plot_attack.
    Never raises: a setting that cannot be drawn is explained in the figure.
    net must compute input gradients (cnnlib.saliency.with_input_gradient).
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    try:
        if attack not in ATTACKS:
            raise ValueError(f"attack must be one of {ATTACKS}; got {attack!r}.")
        if attack == "random signs" and target is not None:
            raise ValueError("random signs have no target: they do not look at the network.")
        if attack == "FGSM":
            adv = fgsm(net, x, label, eps, target=target)
        elif attack == "PGD":
            adv = pgd(net, x, label, eps, steps=steps, target=target)
        else:
            adv = sign_noise(x, eps)
    except (ValueError, TypeError) as err:
        fig = figure(figsize=(12, 2.9))
        say(fig.add_subplot(), f"Cannot attack this digit: {err}", width=90)
        return set_alt_text(fig, f"A message: cannot attack this digit: {err}")
    name = attack if target is None else f"{attack} → {target}"
    return plot_attack(net, x, adv, label, f"{name}, ε = {eps:g}")


def plot_eps_histogram(eps_by_attack, high, bins=25):
    """Histograms of the smallest flipping eps per digit, one per attack, on shared bins
    from 0 to high; digits never flipped (eps = inf) are counted in the legend.

    eps_by_attack: {name: eps (N,)} as cnnlib.attacks.smallest_flipping_eps returns.
    Introduced in notebooks/13_saliency_and_adversarial.ipynb.
    """
    fig = figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    edges = np.linspace(0, high, bins + 1)
    for name, eps in eps_by_attack.items():
        eps = np.asarray(eps)
        ax.hist(eps[np.isfinite(eps)], bins=edges, alpha=0.55,
                label=f"{name} ({int(np.isinf(eps).sum())} of {len(eps)} never flipped)")
    ax.set_xlabel("smallest ε that changes the answer (pixel range is 1)")
    ax.set_ylabel("digits")
    ax.legend(fontsize=8)
    return set_alt_text(fig, describe_eps(eps_by_attack))
