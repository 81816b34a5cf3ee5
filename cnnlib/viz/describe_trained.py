"""Alt texts for the trained network's figures (notebooks 10-13), computed from their numbers.

Same idea as cnnlib.viz.describe (notebooks 00-08): a screen reader user hears what the
figure teaches ("most mistakes: 4 read as 9, 12 times"; "with ε = 0.10 the 7 is read as
3"), not its layout. The drawing functions pass their data here and attach the sentence
with alt_text.set_alt_text; figures without one keep alt_text's description of panels.

No notebook introduces it: every notebook hears it through the figures it shows.
"""
import numpy as np

__all__ = ["describe_attack", "describe_confidence", "describe_confusion", "describe_eps",
           "describe_filters", "describe_maps", "describe_optimizers", "describe_mistakes", "describe_prediction", "describe_signal",
           "describe_transform", "describe_transform_accuracy"]

MAX_LISTED = 3      # confusions / mistakes read out one by one


def _reading(p):
    """'7 (99 %)' for a probability vector: its most probable class and that probability."""
    p = np.asarray(p, dtype=float)
    return f"{int(p.argmax())} ({p.max():.0%})"


def describe_prediction(p, label, index):
    """11, digit explorer: what the network reads, the runner-up, and whether it is right."""
    p = np.asarray(p, dtype=float)
    top, second = np.argsort(-p, kind="stable")[:2]
    wrong = f" (wrong: the label is {label}, which gets {p[label]:.1%})." if label is not None \
        else ""
    verdict = " (right)." if label is not None and top == label else wrong
    who = f"Test digit #{index}" + ("" if label is None else f", label {label}")
    return (f"{who}: the network reads it as {_reading(p)}, runner-up {int(second)} "
            f"({p[second]:.1%})" + (verdict or "."))


def describe_maps(name, maps):
    """Feature maps (C, H, W) of one layer: how many, which map responds most, how many are 0."""
    maps = np.asarray(maps, dtype=float)
    means = maps.reshape(len(maps), -1).mean(axis=1)
    strongest = int(np.argmax(means))
    silent = int((np.abs(maps).reshape(len(maps), -1).max(axis=1) == 0).sum())
    return (f"{name}: {len(maps)} maps of {maps.shape[1]}×{maps.shape[2]}, the strongest on "
            f"average is map {strongest} (mean {means[strongest]:.2g})"
            + (f", {silent} {'is' if silent == 1 else 'are'} 0 everywhere" if silent else "") + ".")


def describe_transform(p, q, label, shift, angle):
    """11, transform explorer: the answer before and after moving the digit."""
    same = int(np.argmax(p)) == int(np.argmax(q))
    moved = f"shifted by (dy, dx) = ({shift[0]:g}, {shift[1]:g}) and rotated by {angle:g}°"
    return (f"The digit" + ("" if label is None else f" (label {label})") + f" is read as "
            f"{_reading(p)}; {moved} it is read as {_reading(q)}"
            + ("; the answer stays the same." if same else "; the answer changes."))


def describe_confusion(cm, names=None):
    """10: accuracy and the most frequent confusions (true -> predicted) of a count matrix."""
    cm = np.asarray(cm, dtype=float)
    names = [str(i) for i in range(len(cm))] if names is None else [str(n) for n in names]
    total = cm.sum()
    if total == 0:
        return "Confusion matrix of zeros: no predictions to show."
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = [divmod(int(k), len(cm)) for k in np.argsort(-off, axis=None, kind="stable")]
    worst = [f"{names[i]} read as {names[j]} ({int(off[i, j])} times)"
             for i, j in order[:MAX_LISTED] if off[i, j] > 0]
    text = (f"Confusion matrix, rows true class, columns predicted: accuracy "
            f"{np.trace(cm) / total:.1%} on {int(total):,} digits; ")
    return text + ("most mistakes: " + ", ".join(worst) + "." if worst else "no mistakes.")


def describe_mistakes(indices, labels, probs):
    """11: the most confident mistakes, the first few read out."""
    if len(indices) == 0:
        return "No mistakes: every digit is classified correctly."
    probs = np.asarray(probs, dtype=float)
    parts = [f"#{i}, a {labels[i]} read as {_reading(probs[i])}" for i in indices[:MAX_LISTED]]
    return (f"The {len(indices)} test digits the network got wrong with the most confidence, "
            f"e.g. " + "; ".join(parts) + ".")


def describe_attack(p, q, label, delta, title):
    """13: the answer before and after the attack, and how big the change is per pixel."""
    delta = np.abs(np.asarray(delta, dtype=float))
    top = float(delta.max())
    full = int(np.isclose(delta, top, rtol=0, atol=1e-6).sum()) if top > 0 else 0
    flipped = int(np.argmax(p)) != int(np.argmax(q))
    return (f"{title}: the digit" + ("" if label is None else f" (label {label})")
            + f" read as {_reading(p)} is read as {_reading(q)} after the attack"
            + (" (the answer changes)" if flipped else " (the answer holds)")
            + f"; the change is at most {top:.3f} per pixel, that much on {full} of "
              f"{delta.size} pixels.")


def describe_signal(runs):
    """12: for each weight rule, how the output variance moves over the layers, and the
    first layer's gradient variance. runs {label: (acts, grads)} as signal_variances returns."""
    parts = []
    for name, (acts, grads) in runs.items():
        a = np.asarray(acts, dtype=float)
        ok = a[np.isfinite(a) & (a > 0)]
        if len(ok) == 0:
            parts.append(f"with {name} no layer has a finite, non-zero variance")
            continue
        lo, hi = ok.min(), ok.max()
        verb = "falls" if a[-1] < a[0] else "rises"
        move = (f"stays between {lo:.2g} and {hi:.2g} over {len(a)} layers" if hi <= 10 * lo
                else f"{verb} from {a[0]:.2g} at layer 1 to {a[-1]:.2g} at layer {len(a)}")
        parts.append(f"with {name} the output variance {move} (gradient variance at layer 1: "
                     f"{float(grads[0]):.2g})")
    return "Variance of the signal per layer, log scale: " + "; ".join(parts) + "."


def describe_filters(w):
    """11: the filters (F, C, KH, KW): their weight range and the filter with the most weight."""
    w = np.asarray(w, dtype=float)
    norms = np.sqrt((w.reshape(len(w), -1) ** 2).sum(axis=1))
    k = int(np.argmax(norms))
    return (f"{w.shape[0]} filter(s) of {w.shape[1]} channel(s), {w.shape[2]}×{w.shape[3]}, "
            f"weights from {w.min():.2g} (blue) to {w.max():.2g} (red); filter f{k} has the "
            f"largest weights (norm {norms[k]:.2g}), filter f{int(np.argmin(norms))} the "
            f"smallest ({norms.min():.2g}).")


def describe_confidence(conf, right):
    """11: confidence (largest probability) of correct and wrong answers, and calibration."""
    conf, right = np.asarray(conf, dtype=float), np.asarray(right, dtype=bool)
    parts = [f"{int(s.sum())} {name} with median confidence {np.median(conf[s]):.1%}"
             for s, name in ((right, "correct"), (~right, "wrong")) if s.any()]
    gap = conf.mean() - right.mean()
    verdict = ("over-confident" if gap > 0.005 else "under-confident" if gap < -0.005
               else "calibrated on average")
    return (f"Confidence of {len(conf):,} answers: " + ", ".join(parts) + f"; accuracy "
            f"{right.mean():.1%} against mean confidence {conf.mean():.1%}: {verdict}.")


def describe_transform_accuracy(shifts, shift_acc, angles, angle_acc):
    """11: accuracy of moved digits: the worst shift and the worst rotation."""
    parts = []
    for xs, ys, what, unit in ((shifts, shift_acc, "shifted right", " pixels"),
                               (angles, angle_acc, "rotated", "°")):
        if len(ys):
            hi, lo = int(np.argmax(ys)), int(np.argmin(ys))
            parts.append(f"{what}, highest {ys[hi]:.0%} at {xs[hi]:g}{unit} and lowest "
                         f"{ys[lo]:.0%} at {xs[lo]:g}{unit}")
    return "Accuracy of moved digits: " + ("; ".join(parts) or "nothing measured") + "."


def describe_optimizers(curves, notes=()):
    """10: each run's (smoothed) training loss, first and last drawn value, and the lowest.
    curves {label: (first, last)}; notes: the figure's own notes (diverged runs)."""
    parts = [f"{name} {'falls' if last < first else 'rises' if last > first else 'stays'} "
             f"from {first:.2g} to {last:.2g}" for name, (first, last) in curves.items()]
    text = "Training loss per run: " + ("; ".join(parts) or "nothing to draw")
    if len(curves) > 1:
        best = min(curves, key=lambda name: curves[name][1])
        text += f"; lowest at the end: {best} ({curves[best][1]:.2g})"
    return text + "." + "".join(f" {n}" for n in notes)


def describe_eps(eps_by_attack):
    """13: per attack, the median smallest flipping ε and how many digits never flipped."""
    parts, medians = [], {}
    for name, eps in eps_by_attack.items():
        eps = np.asarray(eps, dtype=float)
        done = eps[np.isfinite(eps)]
        if len(done):
            medians[name] = float(np.median(done))
        parts.append(f"{name}: " + (f"median {medians[name]:.3f}, " if len(done) else "")
                     + f"{len(eps) - len(done)} of {len(eps)} digits never flipped")
    text = "Smallest ε that changes the answer, per digit: " + "; ".join(parts)
    if len(medians) > 1:
        text += f"; {min(medians, key=medians.get)} needs the smallest ε"
    return text + "."
