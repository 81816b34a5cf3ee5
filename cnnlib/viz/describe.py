"""Alt texts that say what a figure teaches, computed from the numbers it draws.

A screen reader user should hear the lesson ("the loss falls from 2.30 to 0.11", "each
window's gradient goes to its winner"), not the layout ("Figure with 3 panels"). The
drawing functions pass their data here and attach the sentence with
alt_text.set_alt_text; figures without one keep alt_text's description of their panels.

No notebook introduces it: every notebook hears it through the figures it shows.
"""
import math

import numpy as np

__all__ = ["describe_class_balance", "describe_convolution", "describe_conv_touch",
           "describe_digit", "describe_digit_grid", "describe_history",
           "describe_pool_routing", "describe_pooling", "describe_probabilities"]

MAX_LISTED = 9      # windows or wrong digits read out one by one; more are summarised


def _num(v):
    """2 significant digits, but whole numbers whole (255, not 2.6e+02)."""
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e6 else f"{v:.2g}"


def describe_digit(image, index, label=None):
    """00: which digit, and how much of the 28x28 grid is ink."""
    image = np.asarray(image)
    ink = int(np.count_nonzero(image))
    who = f"Digit #{index}" + (f", label {label}" if label is not None else "")
    return (f"{who}: {image.shape[0]}×{image.shape[1]} pixels, {ink} of {image.size} not 0 "
            f"(the ink), the brightest {_num(float(image.max()))}; the grid writes each "
            f"non-zero value in its cell.")


def describe_convolution(shape, kernel, fmap, pad, stride):
    """01: input size -> feature map size, and where the kernel responds most."""
    fmap = np.asarray(fmap, dtype=float)
    hi = np.unravel_index(np.nanargmax(fmap), fmap.shape)
    lo = np.unravel_index(np.nanargmin(fmap), fmap.shape)
    k = np.asarray(kernel).shape
    return (f"A {k[0]}×{k[1]} kernel slides over the {shape[0]}×{shape[1]} input (padding "
            f"{pad}, stride {stride}) and gives a {fmap.shape[0]}×{fmap.shape[1]} feature map; "
            f"its strongest response is {_num(fmap[hi])} at row {hi[0]}, column {hi[1]}, its "
            f"most negative {_num(fmap[lo])} at row {lo[0]}, column {lo[1]}.")


def describe_pooling(fmap_shape, pooled, size, stride, mode):
    """02: what pooling keeps of each window."""
    pooled = np.asarray(pooled, dtype=float)
    keeps = "its largest value (the winner, marked by a dot)" if mode == "max" else \
        "the mean of its values"
    return (f"{mode.capitalize()} pooling with {size}×{size} windows and stride {stride} shrinks "
            f"the {fmap_shape[0]}×{fmap_shape[1]} feature map to "
            f"{pooled.shape[0]}×{pooled.shape[1]}: each window keeps {keeps}; the pooled values "
            f"run from {_num(pooled.min())} to {_num(pooled.max())}.")


def describe_pool_routing(x, dout, winners, ties):
    """06: the winner of each window gets the window's whole gradient, the others 0.

    winners: [((i, j), (r, c))] window -> winner position in x; ties: number of positions
    equal to their window's winner that receive nothing.
    """
    parts = [f"window ({i}, {j}): x[{r}, {c}] = {_num(x[r, c])} gets {_num(dout[i, j])}"
             for (i, j), (r, c) in winners[:MAX_LISTED]]
    more = f"; and {len(winners) - MAX_LISTED} more windows" if len(winners) > MAX_LISTED else ""
    tie = (f" {ties} position(s) tie with their window's winner and get nothing: only the "
           f"first maximum is routed.") if ties else ""
    return ("Max-pool backward: the winner of each window receives that window's upstream "
            "gradient and every other input gets 0. " + "; ".join(parts) + more + "." + tie)


def describe_conv_touch(i, j, stride, pad, kernel_shape, corner, out_shape):
    """07: which input patch and which weights one output pixel's gradient reaches."""
    kh, kw = kernel_shape
    r0, c0 = corner
    return (f"Output pixel ({i}, {j}) of the {out_shape[0]}×{out_shape[1]} output (stride "
            f"{stride}, padding {pad}) is computed from the {kh}×{kw} input patch starting at "
            f"row {r0}, column {c0} (padded coordinates). With dout = 1 there, dx is the kernel "
            f"copied onto that patch and 0 elsewhere, and dw is the patch itself: every weight "
            f"gets a gradient from this one pixel.")


def describe_history(history):
    """08: how the loss and the accuracy moved over the epochs."""
    parts = []
    for key, what, fmt in (("loss", "training loss", "{:.2f}"), ("val_loss", "validation loss", "{:.2f}"),
                           ("acc", "training accuracy", "{:.0%}"),
                           ("val_acc", "validation accuracy", "{:.0%}")):
        values = [v for v in (history or {}).get(key, []) if math.isfinite(v)]
        if len(values) >= 2:
            verb = "falls" if values[-1] < values[0] else "rises" if values[-1] > values[0] \
                else "stays at"
            span = f"from {fmt.format(values[0])} to {fmt.format(values[-1])}" \
                if verb != "stays at" else fmt.format(values[0])
            parts.append(f"the {what} {verb} {span} over {len(values)} epochs")
        elif values:
            parts.append(f"the {what} is {fmt.format(values[0])} after 1 epoch")
    if not parts:
        return "Loss and accuracy per epoch: no finite value to draw yet."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def describe_probabilities(p, label, temperature, loss):
    """03: which class wins, what the correct class gets, and the loss."""
    p = np.asarray(p, dtype=float)
    top = int(np.argmax(p))
    return (f"Softmax at temperature {temperature:.3g}: class {top} is most probable "
            f"({p[top]:.2f}); the correct class {label} gets p = {p[label]:.3g}, so the loss "
            f"-log p is {loss:.3g}" + (" (the correct class wins)." if top == label else "."))


def describe_digit_grid(indices, labels=None, predictions=None):
    """00, 10: which digits a grid shows, their labels, and which predictions are wrong."""
    first, last = int(indices[0]), int(indices[-1])
    text = f"{len(indices)} digits, #{first} to #{last}"
    if labels is not None:
        text += ", labels " + " ".join(str(labels[i]) for i in indices)
    if predictions is None:
        return text + "."
    if labels is None:
        return text + ", predicted " + " ".join(str(predictions[i]) for i in indices) + "."
    wrong = [i for i in indices if predictions[i] != labels[i]]
    said = ", ".join(f"#{i}: a {labels[i]} read as {predictions[i]}" for i in wrong[:MAX_LISTED])
    return text + (f"; {len(wrong)} predicted wrong (in red): {said}." if wrong else
                   "; every prediction is right.")


def describe_class_balance(train, test):
    """00: how many digits each set has, and its rarest and most common class."""
    parts = []
    for name, c in (("training", np.asarray(train)), ("test", np.asarray(test))):
        lo, hi = int(np.argmin(c)), int(np.argmax(c))
        parts.append(f"the {name} set has {int(c.sum()):,} digits, from {int(c[lo]):,} of class "
                     f"{lo} to {int(c[hi]):,} of class {hi}")
    return "Examples per class: " + "; ".join(parts) + "."
