"""cnnlib against PyTorch (only when torch is installed): the same float64 inputs and
parameters must give the same outputs and gradients to 1e-6, for convolution (with
stride and padding), max pooling, the dense layer and softmax cross-entropy, and the gradient
with respect to the input of a whole network (cnnlib.saliency) with the FGSM step built on it."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from cnnlib.conv import conv2d_backward_fast, conv2d_fast  # noqa: E402
from cnnlib.layers import Linear  # noqa: E402
from cnnlib.losses import softmax_cross_entropy  # noqa: E402
from cnnlib.pool import maxpool_backward_fast, maxpool_fast  # noqa: E402


def close(a, b):
    np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n,c,h,w,f,k,stride,pad", [
    (2, 3, 7, 6, 4, 3, 1, 1),
    (3, 1, 9, 9, 2, 5, 2, 2),
    (1, 2, 8, 5, 3, 2, 3, 0),
])
def test_conv2d_matches_torch(n, c, h, w, f, k, stride, pad):
    rng = np.random.default_rng(n * 100 + k)
    x, wt, b = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    tout = F.conv2d(tx, tw, tb, stride=stride, padding=pad)
    out = conv2d_fast(x, wt, b, stride, pad)
    close(out, tout)
    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    dx, dw, db = conv2d_backward_fast(dout, x, wt, stride, pad)
    close(dx, tx.grad)
    close(dw, tw.grad)
    close(db, tb.grad)


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 1), (2, 3)])
def test_maxpool_matches_torch(size, stride):
    rng = np.random.default_rng(size * 10 + stride)
    x = rng.normal(size=(2, 3, 9, 8))            # distinct values: no ties to break
    tx = torch.tensor(x, requires_grad=True)
    tout = F.max_pool2d(tx, size, stride)
    out = maxpool_fast(x, size, stride)
    close(out, tout)
    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    close(maxpool_backward_fast(dout, x, size, stride), tx.grad)


def test_linear_and_cross_entropy_match_torch():
    rng = np.random.default_rng(0)
    layer = Linear(7, 5, dtype=np.float64)
    layer.params["b"][:] = rng.normal(size=5)
    x, y = rng.normal(size=(4, 7)), np.array([0, 4, 2, 2])
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.params["W"], requires_grad=True)
    tb = torch.tensor(layer.params["b"], requires_grad=True)
    tlogits = tx @ tw + tb
    tloss = F.cross_entropy(tlogits, torch.tensor(y))
    tloss.backward()
    logits = layer.forward(x)
    close(logits, tlogits)
    loss, dlogits = softmax_cross_entropy(logits, y)
    assert abs(loss - tloss.item()) < 1e-9
    dx = layer.backward(dlogits)
    close(dx, tx.grad)
    close(layer.grads["W"], tw.grad)
    close(layer.grads["b"], tb.grad)


def test_input_gradient_and_fgsm_match_torch():
    from cnnlib.architectures import lenet
    from cnnlib.attacks import fgsm
    from cnnlib.saliency import input_gradient, with_input_gradient
    net = with_input_gradient(lenet(seed=3, dtype=np.float64))
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-0.5, 0.5, size=(3, 1, 28, 28)), np.array([1, 7, 3])
    p = {k: torch.tensor(v) for k, v in net.named_params().items()}
    tx = torch.tensor(x, requires_grad=True)
    h = F.max_pool2d(F.relu(F.conv2d(tx, p["0.W"], p["0.b"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["3.W"], p["3.b"], padding=1)), 2)
    h = F.relu(h.flatten(1) @ p["7.W"] + p["7.b"])
    F.cross_entropy(h @ p["9.W"] + p["9.b"], torch.tensor(y), reduction="sum").backward()
    close(input_gradient(net, x, y, of="loss"), tx.grad)     # per-image losses, summed
    g = tx.grad.numpy()
    sure = np.abs(g) > 1e-9                 # a sign of a rounding-sized entry may differ
    np.testing.assert_array_equal(fgsm(net, x, y, 0.1)[sure],
                                  np.clip(x + 0.1 * np.sign(g), -0.5, 0.5)[sure])


def _pairs(tmods, layers):
    """(cnnlib array, torch tensor, what) for every parameter and BatchNorm buffer of a
    cnnlib net and its torch twin (bench.torch_net_like), walked side by side."""
    out = []
    for t, layer in zip(tmods, layers):
        kind = type(layer).__name__
        if kind == "Residual":
            out += _pairs(t.inner, layer.inner)
        elif kind == "BatchNorm":
            out += [(layer.params["gamma"], t.weight, "gamma"), (layer.params["beta"], t.bias, "beta"),
                    (layer.buffers["running_mean"], t.running_mean, "running_mean"),
                    (layer.buffers["running_var"], t.running_var, "running_var")]
        elif "W" in getattr(layer, "params", {}):
            linear = kind == "Linear"
            out += [(layer.params["W"], t.weight, "W.T" if linear else "W"),
                    (layer.params["b"], t.bias, "b")]
    return out


def test_the_torch_twin_of_notebook_12_s_network_matches_cnnlib():
    """bench.py's torch twin of lenet99_res (BatchNorm on images and on features, dropout,
    a residual block), given cnnlib's float64 weights: the same logits and loss, the same
    gradient for every parameter, the same running statistics after a training step, and
    the same inference-mode logits."""
    import importlib.util
    from pathlib import Path

    from cnnlib.architectures import lenet99_res
    spec = importlib.util.spec_from_file_location(
        "bench", Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    net = lenet99_res(seed=4, dtype=np.float64)
    twin = bench.torch_net_like(torch, net).double()
    pairs = _pairs(twin, net.layers)
    assert len(pairs) == 6 * 2 + 5 * 4                   # 6 weight layers, 5 BatchNorms
    with torch.no_grad():
        for a, t, what in pairs:
            t.copy_(torch.tensor(a.T if what == "W.T" else a))
    drops = [(layer, t) for layer, t in zip(net.layers, twin) if type(layer).__name__ == "Dropout"]
    assert len(drops) == 1 and drops[0][1].p == drops[0][0].p == 0.3
    for layer, t in drops:              # masks are drawn differently: compare without them
        layer.p = t.p = 0.0
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-0.5, 0.5, size=(6, 1, 28, 28)), np.array([0, 3, 3, 9, 4, 1])
    net.train()
    twin.train()
    logits = net.forward(x)
    loss, dlogits = softmax_cross_entropy(logits, y)
    net.backward(dlogits)
    tlogits = twin(torch.tensor(x))
    tloss = F.cross_entropy(tlogits, torch.tensor(y))
    tloss.backward()
    close(logits, tlogits)
    assert abs(loss - tloss.item()) < 1e-9
    grads = {id(v): g for layer in net.layers for k, v in layer.params.items()
             for k2, g in layer.grads.items() if k2 == k}
    for a, t, what in pairs:
        if what in ("running_mean", "running_var"):
            close(a, t)                 # updated by the training-mode forward, in both
        else:
            g = grads[id(a)]
            close(g.T if what == "W.T" else g, t.grad)
    for layer, t in drops:
        layer.p = t.p = 0.3             # inference passes everything whatever p is
    net.eval()
    twin.eval()
    with torch.no_grad():
        close(net.forward(x), twin(torch.tensor(x)))
