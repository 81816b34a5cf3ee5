"""cnnlib.viz.adversarial: each picture draws what it says, carries alt text, and the widget's
view explains a setting it cannot draw instead of raising."""
import numpy as np
import pytest
from pyplot_support import no_figures_left_in_pyplot  # noqa: F401 (autouse fixture)

from cnnlib.architectures import one_conv_net
from cnnlib.attacks import fgsm
from cnnlib.data import load_mnist, to_float
from cnnlib.saliency import input_gradient, occlusion, with_input_gradient
from cnnlib.viz.adversarial import attack_view, plot_attack, plot_eps_histogram, plot_saliency
from cnnlib.viz.alt_text import ALT_ATTRIBUTE


@pytest.fixture(scope="module")
def case():
    _, (x, y) = load_mnist()
    return with_input_gradient(one_conv_net(seed=0)), to_float(x[:3, None]), y[:3]


def test_plot_saliency_draws_each_map_under_its_digit(case):
    net, x, y = case
    g, occ = input_gradient(net, x, y), occlusion(net, x, y, size=7, stride=7)
    fig = plot_saliency(x, {"gradient": g, "occlusion": occ}, titles=["a", "b", "c"])
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 9
    # row by row: the three digits, their gradients, their occlusion maps
    np.testing.assert_allclose(images[0], (x[0, 0] + 0.5) * 255, rtol=1e-6)
    np.testing.assert_allclose(images[3], g[0, 0])
    np.testing.assert_allclose(images[8], occ[2])
    assert "2 maps below it (gradient, occlusion)" in getattr(fig, ALT_ATTRIBUTE)


def test_plot_attack_shows_the_change_and_both_answers(case):
    net, x, y = case
    adv = fgsm(net, x[:1], y[:1], 0.1)
    fig = plot_attack(net, x[:1], adv, int(y[0]), "FGSM")
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), (adv - x[:1])[0, 0])
    p = net.predict_proba(adv)[0]
    assert fig.axes[2].get_title() == f"FGSM: {p.argmax()} ({p.max():.0%})"
    assert "read as" in getattr(fig, ALT_ATTRIBUTE)


def test_attack_view_explains_instead_of_raising(case):
    net, x, y = case
    for kw in ({"eps": -1.0}, {"attack": "deepfool"}, {"attack": "random signs", "target": 3}):
        fig = attack_view(net, x[:1], int(y[0]), **{"eps": 0.1, **kw})
        assert "Cannot attack this digit" in fig.axes[0].texts[0].get_text()
    fig = attack_view(one_conv_net(seed=0), x[:1], int(y[0]))    # first layer skips dx
    assert "with_input_gradient" in fig.axes[0].texts[0].get_text()


def test_plot_eps_histogram_counts_what_never_flipped():
    fig = plot_eps_histogram({"FGSM": np.array([0.1, 0.2, np.inf]), "noise": np.full(3, np.inf)}, 0.5)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["FGSM (1 of 3 never flipped)", "noise (3 of 3 never flipped)"]
    assert sum(p.get_height() for p in fig.axes[0].patches[:25]) == 2
