"""Notebook 12's pictures (cnnlib.viz.depth): the variance of the signal per layer is what
its definition says, the initialisation widget redraws for each setting, and every figure
carries its own alt text."""
import matplotlib
import numpy as np
import pytest
from pyplot_support import no_figures_left_in_pyplot  # noqa: F401 (autouse fixture)

from cnnlib.architectures import plain_stack
from cnnlib.data import load_mnist, to_float
from cnnlib.layers import Linear
from cnnlib.viz.alt_text import ALT_ATTRIBUTE
from cnnlib.viz.depth import (init_scale_explorer, plot_augmented, plot_schedules, plot_signal,
                              signal_variances)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def batch():
    (x, y), _ = load_mnist()
    return to_float(x[:64, None]).astype(np.float64), y[:64]


def test_signal_variances_match_a_hand_run(batch):
    x, y = batch
    net = plain_stack(depth=3, width=16, batchnorm=False, dtype=np.float64)
    acts, grads = signal_variances(net, x, y)
    assert len(acts) == len(grads) == 5            # 784->16, three hidden, 16->10
    z, outs = x, []
    for layer in net.layers:
        z = layer.forward(z)
        if isinstance(layer, Linear):
            outs.append(np.var(z))
    np.testing.assert_allclose(acts, outs)
    # the last gradient is dL/dscores = (p - onehot) / N
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    assert grads[-1] == pytest.approx(np.var(p / len(y)))


def test_he_keeps_the_forward_variance_and_a_small_std_makes_it_vanish(batch):
    x, y = batch
    he = signal_variances(plain_stack(depth=15, width=128, batchnorm=False, dtype=np.float64), x, y)
    tiny = signal_variances(plain_stack(depth=15, width=128, batchnorm=False, init=0.01,
                                        dtype=np.float64), x, y)
    assert 0.1 < he[0][-2] / he[0][1] < 10          # hidden layers: same order of magnitude
    assert tiny[0][-2] / tiny[0][1] < 1e-10        # (128 * 0.01^2 / 2)^14: vanished


def test_init_scale_explorer_redraws_for_each_setting(batch):
    x, y = batch
    box = init_scale_explorer(x[:16], y[:16], depth=5, width=16)
    first = box.figure
    labels = [t.get_text() for t in first.axes[0].get_legend().get_texts()]
    assert labels == ["std 0.01", "He"]
    box.controls["std"].value = 0.5
    assert box.figure is not first
    assert [t.get_text() for t in box.figure.axes[0].get_legend().get_texts()] == ["std 0.5", "He"]
    box.controls["rule"].value = "Xavier/Glorot"
    assert [t.get_text() for t in box.figure.axes[0].get_legend().get_texts()] == \
        ["Xavier/Glorot", "He"]
    assert "Xavier/Glorot" in getattr(box.figure, ALT_ATTRIBUTE)


def test_plot_signal_leaves_out_zeros_and_says_so():
    fig = plot_signal({"dead": ([1.0, 0.0, 0.0], [np.inf, 1.0, 1.0])})
    assert "left out" in fig.axes[1].texts[0].get_text()
    assert len(fig.axes[0].lines[0].get_xdata()) == 1


def test_plot_schedules_and_augmented_have_alt_text():
    fig = plot_schedules({"cosine": [1e-3, 5e-4, 1e-4]})
    assert "cosine (from 0.001 to 0.0001)" in getattr(fig, ALT_ATTRIBUTE)
    imgs = np.zeros((2, 1, 28, 28)) - 0.5
    fig = plot_augmented(imgs, {"turned": imgs, "shifted": imgs})
    assert len(fig.axes) == 6 and "turned, shifted" in getattr(fig, ALT_ATTRIBUTE)
