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
from pathlib import Path

import numpy as np
import pytest

from answers_support import one_thread
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
def quiet_and_one_thread():
    with one_thread(quiet=True):
        yield


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
        assert std == f"{math.sqrt(2 / w):g}"                # 0.0625 = √(2/512): 1/√width
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
    says(2, "relative size ε/(var + ε)", "float64")
    rounding = after(2, "at the level of rounding (about", r"(\d+e-\d+) times the size")  # 1e-16
    var = float(x.var(axis=0).mean())
    firsts, seconds = [], []
    for eps in (1e-5, var / 2, var):          # cnnlib's ε, and ε as large as half and all of var
        first, second, predicted = batchnorm_sums(x, g, eps)
        firsts.append(first)
        np.testing.assert_allclose(second, predicted, rtol=1e-6)  # the second sum: ε/(var + ε)
        seconds.append(second)
    assert rounding / 3 < np.max(firsts) < 3 * rounding           # about 1e-16
    # the second sum is small only when ε is negligible next to the variance: not for
    # ε = var / 2, nor for cnnlib's ε on inputs 1000 times smaller (var about 1e-5)
    assert seconds[0].max() < 1e-5 and seconds[1].min() > 0.1
    _, second, predicted = batchnorm_sums(1e-3 * x, g, 1e-5)
    np.testing.assert_allclose(second, predicted, rtol=1e-6)
    assert second.min() > 0.1
    _, second, _ = batchnorm_sums(x, g, 1e-30)                  # without ε: 0 up to rounding
    assert np.abs(second).max() < 100 * rounding
    # the reason: shifting the batch never changes the output; scaling changes it only with ε
    bn = BatchNorm(5, eps=1e-5, dtype=np.float64)
    out = bn.forward(x)
    np.testing.assert_allclose(bn.forward(x + 7.0), out, atol=1e-12)
    for eps, same in ((1e-30, True), (var, False)):
        bn = BatchNorm(5, eps=eps, dtype=np.float64)
        assert np.allclose(bn.forward(3 * x), bn.forward(x), atol=1e-12) == same


# ---- 3: BatchNorm left in inference mode while training --------------------------------

USABLE = 0.2      # section 2's line: a run is usable when it ends above 20 % (twice guessing)


@pytest.fixture(scope="module")
def lenet_bn():
    return notebook_function("lenet_bn", np=np, BatchNorm=BatchNorm, Conv2D=Conv2D, ReLU=ReLU,
                             MaxPool2D=MaxPool2D, Flatten=Flatten, Linear=Linear,
                             Sequential=Sequential, output_layer=output_layer)


def test_12_3_batchnorm_in_inference_mode_trains_like_no_batchnorm(digits, lenet_bn):
    """Section 2's experiment (checked output: the rates usable with and without BatchNorm),
    re-run with the BatchNorm net put in inference mode and trained by train_step alone."""
    says(3, "(mean 0, variance 1)", "γ·x/√(1 + ε) + β", "nothing raises",
         "trains as if it had no batch normalisation")
    printed = checked_output("usable learning rates with BatchNorm:")
    usable = {w: {float(r) for r in re.search(rf"usable learning rates {w} BatchNorm: (.*)",
                                              printed).group(1).split(", ")}
              for w in ("with", "without")}
    code = next("".join(c["source"]) for c in cells() if "def lenet_bn" in "".join(c["source"]))
    rates = ast.literal_eval(re.search(r"^rates = (\[.*\])", code, re.M).group(1))
    x, y, x_val, y_val = digits
    usable_in_inference = set()
    for lr in rates:                                     # section 2's grid of rates
        net = lenet_bn()
        net.eval()
        optimizer = SGD(net, lr)
        for epoch in range(2):                           # as fit would: 2 epochs, batches of 32
            for xb, yb in minibatches(x[:1000], y[:1000], 32, shuffle=True, seed=epoch):
                train_step(net, xb, yb, optimizer)       # nothing raises, even when it diverges
        bns = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
        assert all(not bn.training for bn in bns)
        for bn in bns:                                   # the running statistics never moved
            assert (bn.buffers["running_mean"] == 0).all() and (bn.buffers["running_var"] == 1).all()
        if evaluate(net, x_val, y_val)[1] > USABLE:
            usable_in_inference.add(lr)
    assert usable_in_inference == usable["without"]      # as if it had no batch normalisation
    assert usable["with"] - usable_in_inference          # a rate that trained with it now fails
    # the layer computes γ·x/√(1 + ε) + β (γ and β as trained), an affine map of x alone
    bn = bns[0]
    z = np.random.default_rng(0).normal(size=(4, bn.params["gamma"].size, 5, 5)).astype(np.float32)
    shaped = lambda v: v[None, :, None, None]
    np.testing.assert_allclose(bn.forward(z), shaped(bn.params["gamma"]) * z / np.sqrt(1 + bn.eps)
                               + shaped(bn.params["beta"]), rtol=1e-5, atol=1e-6)


def test_12_3_inference_mode_backward_is_right_for_the_affine_map():
    says(3, "Its backward pass in inference mode is correct for that affine map")
    rng = np.random.default_rng(0)
    bn = BatchNorm(3, dtype=np.float64)
    bn.params["gamma"][:], bn.params["beta"][:] = rng.normal(1, 0.5, 3), rng.normal(size=3)
    bn.training = False
    assert max(check_layer(bn, rng.normal(2, 3, size=(4, 3, 5, 5))).values()) < 1e-7


def test_12_3_fit_trains_in_training_mode_and_evaluate_predict_switch_back(digits, lenet_bn):
    says(3, "`fit` puts the net in training mode itself",
         "`evaluate`/`predict` switch to inference mode and back")
    x, y, x_val, y_val = digits
    net = lenet_bn()
    net.eval()
    fit(net, x[:64], y[:64], epochs=1, batch_size=32, optimizer=SGD(net, 0.1), progress=False)
    bns = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    assert all(bn.training for bn in bns)                           # fit switched it itself
    assert all((bn.buffers["running_mean"] != 0).any() for bn in bns)
    xs, ys = x_val[:50], y_val[:50]
    for mode in (True, False):
        net.train(mode)
        training_scores = net.train().forward(xs)                   # the batch's statistics
        inference_scores = net.eval().forward(xs)                   # the running ones
        assert not np.allclose(training_scores, inference_scores, atol=1e-3)
        net.train(mode)
        saved = {k: v.copy() for k, v in net.named_buffers().items()}
        loss, acc = evaluate(net, xs, ys)
        predicted = net.predict(xs)
        assert acc == float((inference_scores.argmax(1) == ys).mean())
        assert loss == pytest.approx(softmax_cross_entropy(inference_scores, ys)[0], rel=1e-5)
        assert (predicted == inference_scores.argmax(1)).all()
        assert all(bn.training == mode for bn in bns)               # ... and back
        assert all((saved[k] == v).all() for k, v in net.named_buffers().items())


# ---- 4: dropout without the 1/(1 - p) scaling ------------------------------------------

class MaskOnly(Dropout):
    """The exercise's mistake: multiply by the mask only, without the 1/(1 - p) scaling."""

    def forward(self, x):
        out = super().forward(x)
        return out if self.mask is None else out * x.dtype.type(1 - self.p)


def inference_over_training(layer, a, view=lambda v: v, draws=40):
    """How many times larger the next layer's input (or view(input)) is in inference than
    on average in training: Σ i² / Σ i·t, with i the inference value and t the mean over
    `draws` training masks (unbiased: E[t] is what training feeds on average)."""
    layer.training = True
    t = np.mean([view(layer.forward(a)) for _ in range(draws)], axis=0, dtype=np.float64)
    layer.training = False
    i = view(layer.forward(a)).astype(np.float64)
    return float((i * i).sum() / (i * t).sum())


def test_12_4_without_the_scaling_inference_inputs_are_1_over_1_minus_p_larger(digits):
    p = after(4, "for p_drop =")
    says(4, f"1/(1 − p_drop) times larger than in training (twice as large for p_drop = {p:g})")
    net = one_conv_net(seed=0)                # the exercise: Dropout before the dense layer
    a = Sequential(net.layers[:3]).forward(digits[0][:200])       # the pooled 1352 values
    dense = net.layers[3]
    scores = lambda v: v @ dense.params["W"]                      # the scores, bias aside
    for view in (lambda v: v, scores):
        wrong = inference_over_training(MaskOnly(p, seed=1), a, view)
        assert wrong * (1 - p) == pytest.approx(1, abs=0.01)       # 1/(1 − p) larger ...
        assert round(wrong, 1) == 2.0                               # ... twice, at p = 0.5
        assert inference_over_training(Dropout(p, seed=1), a, view) == pytest.approx(1, abs=0.01)
    layer = Dropout(p)                        # inverted dropout: inference needs no change
    layer.training = False
    assert layer.forward(a) is a


# ---- 5: the plain stack against the stack with skips -----------------------------------

RUNS = {}


def validation_accuracy(digits, depth, skips=False, lr=0.05, seed=0):
    """Section 4's run: plain_stack, 3 epochs of SGD on 2,000 digits, batches of 32 (each
    setting run once per session)."""
    key = (depth, skips, lr, seed)
    if key not in RUNS:
        x, y, x_val, y_val = digits
        net = plain_stack(depth=depth, skips=skips, seed=seed)
        fit(net, x[:2000], y[:2000], epochs=3, batch_size=32, optimizer=SGD(net, lr), seed=0,
            progress=False)
        RUNS[key] = evaluate(net, x_val, y_val)[1]
    return RUNS[key]


def test_12_5_the_plain_stack_fails_with_depth_and_the_skips_train(digits):
    says(5, "(2,000 digits, batches of 32, SGD with η = 0.05, seed 0)",
         "falls at every step of depth 5, 10, 20, 30, from above 80 % to below 20 %",
         "passes 80 % at every one of these depths")
    depths = (5, 10, 20, 30)
    plain = [validation_accuracy(digits, d) for d in depths]
    assert all(a > b for a, b in zip(plain, plain[1:]))
    assert plain[0] > 0.8 and plain[-1] < USABLE
    assert all(validation_accuracy(digits, d, skips=True) > 0.8 for d in depths)
    # where it fails depends on the learning rate ...
    fails = re.search(r"below 20 % is (\d+) with η = ([\d.]+) and (\d+) with η = ([\d.]+)", answer(5))
    assert fails, "homework/answers/12.md section 5 no longer names the failing depths"
    for depth, lr in ((int(fails[1]), float(fails[2])), (int(fails[3]), float(fails[4]))):
        first = next(d for d in depths if validation_accuracy(digits, d, lr=lr) < USABLE)
        assert first == depth, (lr, first)
    # ... and, near it, on the seed
    seeds = re.search(r"at depth (\d+) seed (\d+) stays above 20 % and seed (\d+) does not", answer(5))
    assert seeds, "homework/answers/12.md section 5 no longer names the seeds"
    depth, above, below = map(int, seeds.groups())
    assert validation_accuracy(digits, depth, seed=above) > USABLE
    assert validation_accuracy(digits, depth, seed=below) < USABLE


def test_12_5_the_product_of_jacobians_is_large_not_small(digits):
    """The gradient norm at the first block's input over the one at the last block's output,
    at initialisation, on the first 32 digits (section 4's depth 30)."""
    says(5, "at initialisation, on the first 32 sample digits")
    x, y = digits[0][:32], digits[1][:32]
    growth = {}
    for skips in (False, True):
        net = plain_stack(depth=30, skips=skips, seed=0)
        _, d = softmax_cross_entropy(net.forward(x), y)
        for layer in net.layers[:1:-1]:                 # down to the first block's input
            if layer is net.layers[-3]:                  # the last block's output
                top = np.linalg.norm(d)
            d = layer.backward(d)
        growth[skips] = np.linalg.norm(d) / top
    says(5, f"about {round(growth[False], -2):,.0f} times as large as at the last block's output",
         f"about {growth[True]:.0f} times with skips")


# ---- 6: the notebook's augmentation run, as its checked cell prints it -----------------

def test_12_6_what_the_answer_cites_from_the_notebooks_run():
    """The answer cites the notebook's run only through what its checked cell prints; the
    rest of section 6 is an experiment the student runs (three versions, one run each): what
    it "expects" of turns against shifts is a hypothesis the answer asks to check, not a
    result, and is left unchecked here."""
    says(6, "augmentation lowered the validation loss",
         "on the turned digits it was at least 3 points better")
    printed = checked_output("at least 3 points better on the turned validation digits")
    assert "lower validation loss: True" in printed
    assert "at least 3 points better on the turned validation digits: True" in printed
    # the run the answer describes is the notebook's: 10 epochs on 1,000 digits, turned by 15°
    code = next("".join(c["source"]) for c in cells()
                if c["cell_type"] == "code" and "turn_and_shift" in "".join(c["source"]))
    epochs, n = re.search(r"fit\(net, x_all\[:(\d+)\].*?epochs=(\d+)", code, re.S).groups()[::-1]
    angle = re.search(r"rotate_batch\(x_val, .*?(\d+)\.0", code).group(1)
    says(6, f"one run of {epochs} epochs on {int(n):,} digits", f"turned by {angle}°")


# ---- 7: warmup_linear, run from the answer's own code ----------------------------------

def answer_code(section):
    """The indented code block of answer `section`, dedented."""
    lines = load_answers("12")[section]["answer"].splitlines()
    block = [line[4:] for line in lines if line.startswith("    ")]
    assert block, f"homework/answers/12.md section {section} has no indented code"
    return "\n".join(block)


@pytest.mark.parametrize("total,lr_max,warmup", [(15, 3e-3, 1), (40, 0.1, 5), (9, 1.0, 4)])
def test_12_7_warmup_linear_against_warmup_cosine(total, lr_max, warmup):
    scope = {}
    exec(answer_code(7), scope)
    linear = [scope["warmup_linear"](k, total, lr_max, warmup) for k in range(total + 1)]
    cosine = [warmup_cosine(k, total, lr_max, warmup=warmup) for k in range(total)]
    says(7, "rates lr_max·(k + 1)/warmup for k < warmup", "starts at lr_max right after the warm-up",
         "reaching lr_max/(total − warmup) at the last step (0 just after it)")
    for k in range(warmup):                                       # the same warm-up
        assert linear[k] == cosine[k] == pytest.approx(lr_max * (k + 1) / warmup, rel=1e-12)
    assert linear[warmup] == pytest.approx(lr_max, rel=1e-12)
    steps = np.diff(linear[warmup:total])                         # equal steps down
    np.testing.assert_allclose(steps, -lr_max / (total - warmup), rtol=1e-9)
    assert linear[total - 1] == pytest.approx(lr_max / (total - warmup), rel=1e-12)
    assert linear[total] == 0
    # the cosine keeps the rate higher in the first half after the warm-up, lower in the second
    says(7, "the cosine keeps the rate high for longer at the start and lower for longer at the end",
         "both reach 0 after the last step")
    middle = warmup + (total - warmup) / 2
    for k in range(warmup + 1, total):
        if k < middle:
            assert cosine[k] > linear[k], k
        elif k > middle:
            assert cosine[k] < linear[k], k
    # cnnlib's cosine is the half cosine that reaches 0 one step after the last
    half = lambda k: lr_max * (1 + math.cos(math.pi * (k - warmup) / (total - warmup))) / 2
    np.testing.assert_allclose(cosine[warmup:], [half(k) for k in range(warmup, total)], rtol=1e-12)
    assert half(total) == pytest.approx(0, abs=1e-15 * lr_max)
