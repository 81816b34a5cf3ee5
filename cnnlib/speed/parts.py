"""What both ways of splitting a training batch share: where the parts start and stop, a
replica of the net for each, and the step each part runs.

    bounds = part_bounds(64, 2)                          # [(0, 32), (32, 64)]
    loss_k, logits_k = part_gradients(replica(net), xb[a:b], yb[a:b], (b - a) / len(xb))

The loss of a batch is the mean over its N samples, so part k, holding n_k of them,
contributes n_k / N times its own mean loss and gradient (its share), and the parts'
gradients add up to the gradient of the whole batch. part_gradients is the one place that
step is written; cnnlib.speed.parallel (threads) and cnnlib.speed.workers (processes) both
run it and add the parts' gradients in a fixed order, so a run repeats exactly.

No notebook introduces this module: the README section "Cores and threads" explains it.
"""

import copy
import math

from ..losses import softmax_cross_entropy

__all__ = ["part_bounds", "part_gradients", "replica"]


def part_bounds(n, parts):
    """(start, stop) of each of `parts` near-equal parts of n samples, in order."""
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def replica(net):
    """A Sequential whose layers share net's parameter arrays but cache their own inputs."""
    twin = copy.copy(net)
    twin.layers = [copy.copy(layer) for layer in net.layers]
    return twin


def part_gradients(net, xb, yb, share, whole_loss=None):
    """Forward, loss and backward of one part (xb, yb) that is `share` of a batch.

    Returns (share * the part's mean loss, the part's scores); afterwards every layer's
    grads hold share times the gradient of the part's mean loss. When that loss is NaN or
    infinite nothing runs backward, as in cnnlib.train.train_step. whole_loss(share * loss),
    if given, returns the whole batch's loss, and backward runs only when that is finite:
    parts whose layers meet in backward (cnnlib.speed.synced) must all run it or none.
    """
    logits = net.forward(xb)
    loss, dlogits = softmax_cross_entropy(logits, yb)
    if math.isfinite(loss * share if whole_loss is None else whole_loss(loss * share)):
        dlogits *= dlogits.dtype.type(share)
        net.backward(dlogits)
    return loss * share, logits
