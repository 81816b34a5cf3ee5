"""The experiments the model answers of notebook 13 report, re-run with the same settings.

Each test reads the numbers it checks from homework/answers/13.md, so a changed number in an
answer, or a change in cnnlib that moves the result, fails here. One thread, as in
tests/test_answers_06_11.py. The whole file takes a minute or two on one core.
"""
import re
from pathlib import Path

import numpy as np
import pytest

from answers_support import one_thread
from cnnlib.architectures import lenet, lenet99
from cnnlib.attacks import fgsm, pgd, smallest_flipping_eps
from cnnlib.data import load_mnist, minibatches, to_float
from cnnlib.optim import Adam
from cnnlib.saliency import input_gradient, with_input_gradient
from cnnlib.train import train_step

ROOT = Path(__file__).resolve().parent.parent


def answer(section):
    text = (ROOT / "homework" / "answers" / "13.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\d+)\s*$", text, flags=re.M)
    return " ".join(dict(zip(parts[1::2], parts[2::2]))[str(section)].split())


def says(section, *values):
    """Each value, as the answer writes it, stands in answer `section`."""
    text = answer(section)
    missing = [v for v in values if v not in text]
    assert not missing, f"homework/answers/13.md section {section} does not say {missing}"


@pytest.fixture(autouse=True)
def on_one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def data():
    (xt, yt), (x, y) = load_mnist()
    return to_float(xt[:, None]), yt, to_float(x[:, None]), y


@pytest.fixture(scope="module")
def shipped():
    net = lenet99().load(ROOT / "resources" / "lenet_mnist.npz")
    return net, with_input_gradient(net)


def train(xtr, ytr, attack=None, epochs=2, seed=0):
    """Section 9's loop: lenet, Adam 1e-3, batches of 64, each with its attacked copy."""
    model = lenet(seed=seed)
    optimizer, sees = Adam(model, 1e-3), with_input_gradient(model)
    for epoch in range(epochs):
        for xb, yb in minibatches(xtr, ytr, 64, shuffle=True, seed=seed + epoch):
            if attack is not None:
                xb, yb = np.concatenate([xb, attack(sees, xb, yb)]), np.concatenate([yb, yb])
            train_step(model, xb, yb, optimizer)
    return model


def robustness(model, x, y):
    sees = with_input_gradient(model)
    return [round(100 * float((model.predict(a) == y).mean()), 1)
            for a in (x, fgsm(sees, x, y, 0.1), pgd(sees, x, y, 0.1, steps=10))]


def test_13_3_the_sign_spends_the_box_better_than_the_scaled_gradient(shipped, data):
    net, sees = shipped
    x, y = data[2][:500], data[3][:500]
    g = input_gradient(sees, x, y, of="loss")
    for eps in (0.1, 0.2):
        scaled = np.clip(x + eps * g / np.abs(g).max(axis=(1, 2, 3), keepdims=True), -0.5, 0.5)
        with_sign, with_scaled = [float((net.predict(a) == y).mean()) for a in (fgsm(sees, x, y, eps), scaled)]
        assert with_sign < with_scaled
        says(3, f"{100 * with_sign:.1f} %", f"{100 * with_scaled:.1f} %")


def test_13_4_more_pgd_steps_stop_paying(shipped, data):
    net, sees = shipped
    x, y = data[2][:100], data[3][:100]
    medians = [float(np.median(smallest_flipping_eps(sees, x, y, attack="pgd", steps=s, iterations=7)))
               for s in (5, 10, 20)]
    assert medians[0] >= medians[1] >= medians[2]
    fgsm_median = float(np.median(smallest_flipping_eps(sees, x, y)))
    says(4, f"{medians[0]:.3f} with 5 PGD steps", f"{medians[1]:.3f} with 10", f"{medians[2]:.3f} with 20",
         f"FGSM: {fgsm_median:.2f}")


def test_13_5_which_class_is_hardest_to_turn_into_an_8(shipped, data):
    net, sees = shipped
    x, y = data[2], data[3]
    pred = net.predict(x)
    medians = {}
    for c in (0, 1, 2, 3, 4, 5, 6, 7, 9):
        idx = np.flatnonzero((y == c) & (pred == c))[:20]
        eps = smallest_flipping_eps(sees, x[idx], c, attack="pgd", target=8, steps=5, iterations=6)
        assert np.isfinite(eps).all()
        medians[c] = float(np.median(eps))
    easiest, hardest = min(medians.values()), max(medians.values())
    assert [c for c, m in medians.items() if m == easiest] == [1, 9]
    assert [c for c, m in medians.items() if m == hardest] == [7]
    says(5, f"from {easiest:.3f} (for 1 and 9) to {hardest:.3f} (for", f"0 ({medians[0]:.3f})",
         f"2 ({medians[2]:.3f})", f"middle ({medians[3]:.3f})")


def test_13_6_and_7_pgd_training_and_transfer(shipped, data):
    net, sees = shipped
    xtr, ytr, x, y = data
    fgsm_trained = robustness(train(xtr, ytr, lambda m, a, b: fgsm(m, a, b, 0.1)), x, y)
    pgd_trained = robustness(train(xtr, ytr, lambda m, a, b: pgd(m, a, b, 0.1, steps=5)), x, y)
    says(6, *[f"{v:.1f} %" for v in pgd_trained + fgsm_trained])
    plain = train(xtr, ytr)
    adv = fgsm(with_input_gradient(plain), x, y, 0.1)
    own = fgsm(sees, x, y, 0.1)
    says(7, *[f"{100 * float((m.predict(a) == y).mean()):.1f} %"
              for m, a in ((plain, adv), (net, adv), (net, own))])
