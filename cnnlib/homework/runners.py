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


def _run_batchnorm(cls, inp):
    """One training-mode forward and backward from the case's parameters and running
    statistics, then one inference-mode forward and backward on x_eval."""
    x = inp["x"]
    layer = cls(x.shape[1], momentum=float(inp["momentum"]), eps=float(inp["eps"]),
                dtype=x.dtype)
    layer.params = {"gamma": inp["gamma"].copy(), "beta": inp["beta"].copy()}
    layer.buffers = {"running_mean": inp["running_mean"].copy(),
                     "running_var": inp["running_var"].copy()}
    layer.training = True
    out = {"out (training)": layer.forward(x)}
    out.update({f"{k} after": np.array(v) for k, v in layer.buffers.items()})
    out["dx (training)"] = layer.backward(inp["dout"])
    grads = dict(getattr(layer, "grads", {}) or {})
    out.update({f"grads['{k}']": grads.get(k) for k in ("gamma", "beta")})
    layer.training = False
    out["out (inference)"] = layer.forward(inp["x_eval"])
    out["dx (inference)"] = layer.backward(inp["dout_eval"])
    return out


def _run_dropout(cls, inp):
    """Two training batches (each with its own mask), then inference, on the same x."""
    layer = cls(p=float(inp["p"]), seed=int(inp["seed"]))
    layer.training = True
    out = {}
    for k in (1, 2):
        out[f"out (batch {k})"] = layer.forward(inp["x"])
        out[f"dx (batch {k})"] = layer.backward(inp["dout"])
    layer.training = False
    out["out (inference)"] = layer.forward(inp["x"])
    out["dx (inference)"] = layer.backward(inp["dout"])
    return out


def _residual_branch(inp):
    """cnnlib's layers for the case's branch: Linear -> ReLU -> Linear (W1 of shape (D, D)) or
    Conv2D 3x3 pad 1 -> ReLU -> Conv2D 3x3 pad 1 (W1 of shape (C, C, 3, 3)), float64."""
    from ..conv import Conv2D
    from ..layers import Linear, ReLU
    inner = []
    for w, b in ((inp["W1"], inp["b1"]), (inp["W2"], inp["b2"])):
        layer = (Linear(*w.shape, dtype=np.float64) if w.ndim == 2 else
                 Conv2D(w.shape[1], w.shape[0], w.shape[2], pad=w.shape[2] // 2,
                        dtype=np.float64))
        layer.params = {"W": w.copy(), "b": b.copy()}
        inner += [layer, ReLU()]
    return inner[:-1]


def _run_residual(cls, inp):
    block = cls(_residual_branch(inp))
    block.forward(inp["x"])
    out = {"dx": block.backward(inp["dout"])}
    grads = dict(getattr(block, "grads", {}) or {})
    out.update({f"grads['{k}']": grads.get(k) for k in ("0.W", "0.b", "2.W", "2.b")})
    return out


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
    "batchnorm": _run_batchnorm,
    "dropout": _run_dropout,
    "residual_backward": _run_residual,
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
    if exercise_id == "batchnorm":
        from ..batchnorm import BatchNorm
        layer = BatchNorm(inp["x"].shape[1], eps=float(inp["eps"]), dtype=np.float64)
        layer.params = {"gamma": inp["gamma"], "beta": inp["beta"]}

        def f():
            return np.sum(layer.forward(inp["x"]) * inp["dout"])
        return {"dx (training)": grad(f, inp["x"]), "grads['gamma']": grad(f, inp["gamma"]),
                "grads['beta']": grad(f, inp["beta"])}
    if exercise_id == "residual_backward":
        from ..model import Sequential
        branch = Sequential(_residual_branch(inp))
        p = branch.named_params()

        def f():
            return np.sum((inp["x"] + branch.forward(inp["x"])) * inp["dout"])
        return {"dx": grad(f, inp["x"]), **{f"grads['{k}']": grad(f, p[k])
                                            for k in ("0.W", "0.b", "2.W", "2.b")}}
    raise ValueError(f"no numerical gradient for {exercise_id!r}")
