"""The claims of notebook 12's model answers (homework/answers/12.md), re-run with cnnlib.

Each test reads the numbers it checks from the answer text (says, after), so a changed
number in an answer, or a change in cnnlib that moves a result, fails here. Where the
notebook defines the function an exercise uses (lenet_bn) the test runs the notebook's own
code; where an answer cites the notebook's run, the number comes from a checked output
(nbval re-runs those cells). One thread, as in tests/test_answers_13.py: split across cores,
a batch's sums round differently. The whole file takes seconds on one core.
"""
import ast
import inspect
import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from cnnlib.architectures import one_conv_net, output_layer, plain_stack
from cnnlib.batchnorm import BatchNorm
from cnnlib.conv import Conv2D
from cnnlib.data import load_mnist, minibatches, to_float
from cnnlib.dropout import Dropout
from cnnlib.gradcheck import check_layer
from cnnlib.homework.written import load_answers
from cnnlib.layers import Flatten, Linear, ReLU
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.optim import SGD
from cnnlib.pool import MaxPool2D
from cnnlib.schedules import warmup_cosine
from cnnlib.speed import threads
from cnnlib.train import evaluate, fit, train_step
from cnnlib.viz.depth import init_scale_explorer, signal_variances

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "12_beyond_lenet.ipynb"


def answer(section):
    """Section `section` of homework/answers/12.md on one line, single spaces."""
    return " ".join(load_answers("12")[section]["answer"].split())


def says(section, *values):
    """Each value, as the answer writes it, stands in answer `section`."""
    text = answer(section)
    missing = [v for v in values if v not in text]
    assert not missing, f"homework/answers/12.md section {section} does not say {missing}"


def after(section, phrase, pattern=r"(-?\d[\d,]*(?:\.\d+)?)"):
    """The first number after `phrase` in answer `section`."""
    text = answer(section)
    assert phrase in text, f"homework/answers/12.md section {section} no longer says {phrase!r}"
    return float(re.search(pattern, text[text.index(phrase) + len(phrase):]).group(1).replace(",", ""))


def cells():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def checked_output(containing):
    """The stored output of the notebook's checked cell (tag nbval-check-output) that prints
    `containing`: nbval compares it with a fresh run, so it is what the notebook computes."""
    for c in cells():
        if c["cell_type"] == "code" and "nbval-check-output" in c["metadata"].get("tags", []):
            text = "".join("".join(o.get("text", "")) for o in c["outputs"])
            if containing in text:
                return text
    raise AssertionError(f"no checked cell of {NOTEBOOK.name} prints {containing!r}")


def notebook_function(name, **names):
    """The function `name` as the notebook's code cell defines it, run with `names`."""
    for c in cells():
        if c["cell_type"] == "code":
            tree = ast.parse("".join(c["source"]))
            found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
            if found:
                scope = dict(names)
                exec(compile(ast.Module(found, []), str(NOTEBOOK), "exec"), scope)
                return scope[name]
    raise AssertionError(f"{NOTEBOOK.name} defines no function {name}")


@pytest.fixture(autouse=True)
def one_thread():
    saved = threads._state["threads"]
    threads.set_threads(1)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")           # overflow and chance-level warnings
            yield                                     # of the runs that are meant to fail
    finally:
        threads.set_threads(saved)


@pytest.fixture(scope="module")
def digits():
    """The bundled sample as notebook 12 splits it: 5,000 training digits, 1,000 validation."""
    (x_raw, y), _ = load_mnist()
    x = to_float(x_raw[:, None])
    return x[:5000], y[:5000], x[5000:], y[5000:]


# ---- 1: the flat std is sqrt(2/width) --------------------------------------------------

def variance_factor(x, y, width, init, depth):
    """The forward variance's factor per layer over the square hidden layers of section 1's
    stack (the geometric mean, as the notebook's cell measures it), computed as the widget
    draws it: signal_variances of plain_stack(batchnorm=False) in float64."""
    net = plain_stack(depth=depth, width=width, batchnorm=False, init=init, dtype=np.float64)
    acts = signal_variances(net, x, y)[0][1:-1]
    return (acts[-1] / acts[0]) ** (1 / (len(acts) - 1))


def test_12_1_the_flat_std_is_sqrt_2_over_width(digits):
    """"Flat": the per-layer factor within 10^±0.1 of 1. One slider step multiplies σ by
    10^0.1 and the factor by 10^0.2, so a flat setting is nearer 1 than half a step."""
    flat = lambda f: abs(math.log10(f)) <= 0.1
    defaults = inspect.signature(init_scale_explorer).parameters
    depth, width = defaults["depth"].default, defaults["width"].default
    slider = init_scale_explorer(digits[0][:2], digits[1][:2], depth=1, width=2).controls["std"]
    exponents = np.round(np.arange(slider.min, slider.max + slider.step / 2, slider.step), 6)
    x, y = digits[0][:64].astype(np.float64), digits[1][:64]     # the widget's 64 probe digits

    says(1, f"M = {width} inputs", f"σ = √(2/{width}) = {math.sqrt(2 / width):g}")
    nearest = exponents[np.argmin(np.abs(exponents - math.log10(math.sqrt(2 / width))))]
    says(1, f"(10^{nearest:g} ≈ {slider.base ** nearest:.3f})")
    assert flat(variance_factor(x, y, width, "he", depth))               # He's flat line
    others = dict(re.findall(r"([\d.]+) for width (\d+)", answer(1)))
    assert sorted(others.values()) == ["32", "512"]
    for std, w in [(f"{math.sqrt(2 / width):g}", str(width))] + list(others.items()):
        w = int(w)
        assert std == f"{math.sqrt(2 / w):g}"                            # 0.0625 = √(2/512)
        assert math.isclose(float(std) * math.sqrt(w), math.sqrt(2))     # moves as 1/√width
        assert flat(variance_factor(x, y, w, float(std), depth))
        # the slider setting that measures flattest is the one nearest √(2/width) ...
        best = min(exponents, key=lambda e: abs(math.log10(
            variance_factor(x, y, w, float(slider.base ** e), depth))))
        assert best == exponents[np.argmin(np.abs(exponents - math.log10(float(std))))]
        # ... and four slider steps either side (10^-0.5 and 10^-1.3 at width 128) are not flat
        for e in (best - 4 * slider.step, best + 4 * slider.step):
            assert not flat(variance_factor(x, y, w, float(slider.base ** e), depth))


# ---- 2: the two sums of BatchNorm's input gradient -------------------------------------

def batchnorm_sums(x, g, eps):
    """Σₙ ∂L/∂xₙ and Σₙ x̂ₙ·∂L/∂xₙ per feature, relative to the gradient's size (Σ|∂L/∂xₙ|
    for the first, (γ/σ)·|Σ gₙx̂ₙ| for the second), from cnnlib's BatchNorm in float64."""
    bn = BatchNorm(x.shape[1], eps=eps, dtype=np.float64)
    bn.params["gamma"][:] = np.random.default_rng(1).normal(1, 0.5, size=x.shape[1])
    bn.forward(x)
    dx, xhat = bn.backward(g), bn.xhat
    n, var = len(x), x.var(axis=0)
    sigma, gamma = np.sqrt(var + eps), bn.params["gamma"]
    # the answer's compact formula is what cnnlib computes
    compact = gamma / sigma * (g - g.mean(0) - xhat * (g * xhat).mean(0))
    np.testing.assert_allclose(dx, compact, rtol=1e-9, atol=1e-12 * np.abs(dx).max())
    np.testing.assert_allclose((xhat ** 2).sum(0), n * var / (var + eps), rtol=1e-12)
    first = np.abs(dx.sum(0)) / np.abs(dx).sum(0)
    second = (xhat * dx).sum(0) / (gamma / sigma * (g * xhat).sum(0))
    return first, second, eps / (var + eps)


def test_12_2_the_sums_vanish_up_to_rounding_and_eps():
    rng = np.random.default_rng(0)
    x, g = rng.normal(2, 3, size=(64, 5)), rng.normal(size=(64, 5))
    says(2, "relative size ε/(var + ε)", "about 1e-16", "float64")
    var = float(x.var(axis=0).mean())
    seconds = []
    for eps in (1e-5, var / 2, var):          # cnnlib's ε, and ε as large as half and all of var
        first, second, predicted = batchnorm_sums(x, g, eps)
        assert first.max() < 10 * np.finfo(np.float64).eps       # rounding level, about 1e-16
        np.testing.assert_allclose(second, predicted, rtol=1e-6)  # the second sum: ε/(var + ε)
        seconds.append(second)
    assert seconds[0].max() < 1e-5 and seconds[1].min() > 0.1    # small only when ε << var:
    _, second, predicted = batchnorm_sums(1e-3 * x, g, 1e-5)      # inputs 1000 times smaller,
    np.testing.assert_allclose(second, predicted, rtol=1e-6)      # var about ε, cnnlib's ε
    assert second.min() > 0.1
    # the reason: shifting the batch never changes the output; scaling changes it only with ε
    bn = BatchNorm(5, eps=1e-5, dtype=np.float64)
    out = bn.forward(x)
    np.testing.assert_allclose(bn.forward(x + 7.0), out, atol=1e-12)
    for eps, same in ((1e-30, True), (var, False)):
        bn = BatchNorm(5, eps=eps, dtype=np.float64)
        assert np.allclose(bn.forward(3 * x), bn.forward(x), atol=1e-12) == same
