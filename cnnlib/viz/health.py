"""How healthy each layer of a network is while it trains, and what to say when training
blows up: the numbers the training dashboard (cnnlib.viz.training) draws beside the loss.

    layer_health(net) -> [{"layer": "0 Conv2D", "weight_norm": 1.9, "grad_norm": 0.31}, ...]
    dead_fraction(relu.mask) -> 0.25     # a quarter of the units gave 0 for the whole batch
    divergence_message(error, lr) -> "The loss became nan ...: lower the learning rate, e.g. to 0.1."

Weight norm: the Euclidean length sqrt(sum w^2) of all of a layer's parameters (weights
and bias). Gradient norm: the same for their gradients from the last backward pass. A
gradient norm near 0 means the layer has stopped learning; one that grows by orders of
magnitude announces an exploding loss. A dead ReLU unit gives 0 for every image of the
batch, so no gradient passes it: a layer whose units are mostly dead has stopped learning.

Used by the training dashboard (cnnlib.viz.training.TrainingDashboard), whose lower panels it fills.
"""
import math
import re

import numpy as np

__all__ = ["dead_fraction", "divergence_message", "layer_health", "norm"]


def norm(arrays):
    """sqrt(sum of squares) over every entry of every array in arrays (float64); 0 for none."""
    return math.sqrt(sum(float(np.sum(np.square(np.asarray(a, dtype=np.float64))))
                         for a in arrays))


def dead_fraction(mask):
    """Fraction of units that were off (mask False) for every example of the batch.

    mask: bool (N, ...) as a ReLU keeps it (x > 0); a unit is one position of mask[0]
    (a channel and pixel of a feature map, or one neuron). None when there is no mask yet.
    """
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim < 2 or mask.shape[0] == 0:
        return None
    return float(np.mean(~mask.any(axis=0)))


def layer_health(net):
    """One row per layer that has parameters or is a ReLU, in the net's order.

    Rows: {"layer": "<index> <class name>", "weight_norm", "grad_norm"} for a layer with
    parameters (grad_norm None before the first backward), {"layer", "dead"} for a ReLU
    (dead_fraction of its last forward pass, None before it). Layers are read from
    net.layers (a Sequential); anything else gives [].
    """
    rows = []
    for i, layer in enumerate(getattr(net, "layers", [])):
        name = f"{i} {type(layer).__name__}"
        params = getattr(layer, "params", None) or {}
        if params:
            grads = getattr(layer, "grads", None) or {}
            have = [grads[k] for k in params if grads.get(k) is not None]
            rows.append({"layer": name, "weight_norm": norm(params.values()),
                         "grad_norm": norm(have) if have else None})
        elif type(layer).__name__ == "ReLU":
            rows.append({"layer": name, "dead": dead_fraction(getattr(layer, "mask", None))})
    return rows


def divergence_message(error, lr):
    """A short message for a run that diverged: what happened and the rate to try instead.

    error: the exception fit raised (TrainingDiverged) or its text; lr: the learning rate
    of the run. The suggestion is lr / 10; a tenth can still explode, so the message says
    to keep dividing by 10 until the loss falls.
    """
    text = str(error)
    where = re.search(r"the loss (became .*?) at (epoch \d+, batch \d+)", text)
    what = f"The loss {where.group(1).rstrip(',')} at {where.group(2)}" if where else \
        "Training diverged"
    if isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0:
        advice = (f"lower the learning rate, e.g. to {lr / 10:g} (from {lr:g}), and train "
                  "a fresh network; if it still explodes, divide it by 10 again.")
    else:
        advice = f"the learning rate must be a positive number; got {lr!r}."
    return f"{what}: {advice}"
