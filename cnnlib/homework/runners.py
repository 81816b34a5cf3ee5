"""Runners: feed one case's inputs to a function or class with cnnlib's signature and
collect what it returns, as a dict of arrays; and the float64 numerical gradients that
the backward-pass exercises are compared with.

The same runner runs cnnlib's solution (to get the expected outputs) and the student's
answer (in the notebook, or in the grader's sandbox).
"""

import numpy as np

from ..gradcheck import numerical_gradient


class _Net:
    """The two methods an optimizer reads: named_params() and named_grads()."""

    def __init__(self, params):
        self.params, self.grads = params, {}

    def named_params(self):
        return self.params

    def named_grads(self):
        return self.grads


def _run_optimizer(make, inp):
    net = _Net({"0.W": inp["W"], "0.b": inp["b"]})
    opt = make(net)
    w_steps, b_steps = [], []
    for t in range(len(inp["gW"])):
        net.grads = {"0.W": inp["gW"][t].copy(), "0.b": inp["gb"][t].copy()}
        opt.step()
        w_steps.append(np.array(net.params["0.W"]))
        b_steps.append(np.array(net.params["0.b"]))
    return {"W after each step": np.stack(w_steps), "b after each step": np.stack(b_steps)}


def _run_train_step(fn, inp):
    from ..layers import Linear
    from ..model import Sequential
    from ..optim import SGD
    layer = Linear(*inp["W"].shape, dtype=np.float64)
    layer.params = {"W": inp["W"].copy(), "b": inp["b"].copy()}
    net = Sequential([layer])
    with np.errstate(all="ignore"):
        loss, logits = fn(net, inp["x"], inp["y"], SGD(net, lr=float(inp["lr"])))
    return {"loss": np.asarray(loss, dtype=np.float64), "logits": np.asarray(logits),
            "W after the step": layer.params["W"], "b after the step": layer.params["b"]}


def _run_linear(cls, inp):
    layer = cls(*inp["W"].shape, dtype=np.float64)
    layer.params = {"W": inp["W"], "b": inp["b"]}
    layer.forward(inp["x"])
    dx = layer.backward(inp["dout"])
    grads = getattr(layer, "grads", {}) or {}
    return {"dx": dx, "grads['W']": grads.get("W"), "grads['b']": grads.get("b")}


def _run_relu(cls, inp):
    layer = cls()
    out = layer.forward(inp["x"])
    return {"out": out, "dx": layer.backward(inp["dout"])}


def _run_fgsm(fn, inp):
    """A linear network (Flatten, then Linear with the case's W and b) that computes input
    gradients, attacked with the case's labels, eps and target (-1: no target)."""
    from ..layers import Flatten, Linear
    from ..model import Sequential
    layer = Linear(*inp["W"].shape, dtype=np.float64)
    layer.params = {"W": inp["W"].copy(), "b": inp["b"].copy()}
    target = None if int(inp["target"]) < 0 else int(inp["target"])
    return {"x_adv": fn(Sequential([Flatten(), layer]), inp["x"], inp["y"], float(inp["eps"]),
                        target=target)}


def _kw(inp, *names):
    # the cases say "size"; cnnlib's pooling functions call it kernel_size
    return {("kernel_size" if k == "size" else k): int(inp[k]) for k in names}


RUNNERS = {
    "conv2d_loop": lambda f, i: {"out": f(i["x"], i["w"], i["b"], **_kw(i, "stride", "pad"))},
    "maxpool_loop": lambda f, i: {"out": f(i["x"], **_kw(i, "size", "stride"))},
    "softmax": lambda f, i: {"probabilities": f(i["z"])},
    "log_softmax": lambda f, i: {"log-probabilities": f(i["z"])},
    "softmax_cross_entropy": lambda f, i: dict(zip(
        ("loss", "dlogits"), f(i["logits"], i["y"]))),
    "linear_backward": _run_linear,
    "relu": _run_relu,
    "maxpool_backward_loop": lambda f, i: {"dx": f(i["dout"], i["x"], **_kw(i, "size", "stride"))},
    "conv2d_backward_loop": lambda f, i: dict(zip(
        ("dx", "dw", "db"), f(i["dout"], i["x"], i["w"], **_kw(i, "stride", "pad")))),
    "im2col": lambda f, i: {"cols": f(i["x"], int(i["kh"]), int(i["kw"]), **_kw(i, "stride", "pad"))},
    "col2im": lambda f, i: {"dx": f(i["dcols"], tuple(int(s) for s in i["x_shape"]), int(i["kh"]),
                                    int(i["kw"]), **_kw(i, "stride", "pad"))},
    "momentum": lambda c, i: _run_optimizer(
        lambda net: c(net, lr=float(i["lr"]), momentum=float(i["momentum"])), i),
    "adam": lambda c, i: _run_optimizer(
        lambda net: c(net, lr=float(i["lr"]), beta1=0.9, beta2=0.999, eps=1e-8), i),
    "train_step": _run_train_step,
    "fgsm": _run_fgsm,
}




def numerical_expected(exercise_id, inp):
    """Expected backward outputs from float64 central differences of cnnlib's forward."""
    from ..conv import conv2d_loop
    from ..losses import softmax_cross_entropy
    from ..pool import maxpool_loop
    inp = {k: (np.array(v, dtype=np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
               else v) for k, v in inp.items()}

    def grad(f, x):
        return numerical_gradient(f, x)
    if exercise_id == "softmax_cross_entropy":
        return {"dlogits": grad(lambda: softmax_cross_entropy(inp["logits"], inp["y"])[0],
                                inp["logits"])}
    if exercise_id == "linear_backward":
        def f():
            return np.sum((inp["x"] @ inp["W"] + inp["b"]) * inp["dout"])
        return {"dx": grad(f, inp["x"]), "grads['W']": grad(f, inp["W"]),
                "grads['b']": grad(f, inp["b"])}
    if exercise_id == "relu":
        return {"dx": grad(lambda: np.sum(np.maximum(inp["x"], 0) * inp["dout"]), inp["x"])}
    if exercise_id == "maxpool_backward_loop":
        return {"dx": grad(lambda: np.sum(maxpool_loop(inp["x"], int(inp["size"]),
                                                       int(inp["stride"])) * inp["dout"]),
                           inp["x"])}
    if exercise_id == "conv2d_backward_loop":
        b = np.zeros(inp["w"].shape[0])

        def f():
            return np.sum(conv2d_loop(inp["x"], inp["w"], b, int(inp["stride"]),
                                      int(inp["pad"])) * inp["dout"])
        return {"dx": grad(f, inp["x"]), "dw": grad(f, inp["w"]), "db": grad(f, b)}
    raise ValueError(f"no numerical gradient for {exercise_id!r}")
