"""trace_activations / plot_activations on real digits and on bad input."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from cnnlib.conv import Conv2D
from cnnlib.layers import Flatten, Linear
from cnnlib.viz.activations import plot_activations, trace_activations
from cnnlib.pool import MaxPool2D


def one_conv_layers():
    return [Conv2D(1, 8, 3, seed=0), MaxPool2D(2), Flatten(), Linear(13 * 13 * 8, 10, seed=1)]


def digit():
    img = np.zeros((28, 28), dtype=np.uint8)
    img[6:22, 12:16] = 255                       # a vertical bar, like a "1"
    return img


def texts(fig):
    out = [t.get_text() for t in fig.texts]
    for sub in getattr(fig, "subfigs", []):
        out += [t.get_text() for t in sub.texts]
    for ax in fig.axes:
        out += [ax.get_title()] + [t.get_text() for t in ax.texts]
    return " ".join(out).replace("\n", " ")


def test_trace_shapes_follow_the_one_conv_network():
    shapes = [out.shape for _, out in trace_activations(one_conv_layers(), digit())]
    assert shapes == [(1, 8, 26, 26), (1, 8, 13, 13), (1, 1352), (1, 10)]


def test_trace_scales_raw_pixels_like_to_float():
    layers = [Flatten()]
    (_, out), = trace_activations(layers, digit())
    assert out.min() == pytest.approx(-0.5) and out.max() == pytest.approx(0.5)
    (_, out), = trace_activations(layers, digit().astype(np.float32))
    assert out.min() == pytest.approx(-0.5) and out.max() == pytest.approx(0.5)  # same rule


def test_plot_shows_eight_conv_and_eight_pool_maps_and_probabilities():
    layers = one_conv_layers()
    fig = plot_activations(layers, digit(), label=1)
    images = [ax for ax in fig.axes if ax.images]
    shapes = sorted(ax.images[0].get_array().shape for ax in images)
    assert shapes.count((26, 26)) == 8 and shapes.count((13, 13)) == 8 and (28, 28) in shapes
    bars = [ax for ax in fig.axes if ax.patches]
    assert len(bars) == 1 and len(bars[0].patches) == 10
    heights = np.array([b.get_height() for b in bars[0].patches])
    assert heights.sum() == pytest.approx(1.0, abs=1e-6)
    assert "label 1" in texts(fig) and "predicted" in texts(fig)
    # the pooled maps drawn are the network's own pooled output
    pooled = trace_activations(layers, digit())[1][1][0]
    drawn = [ax.images[0].get_array() for ax in images if ax.images[0].get_array().shape == (13, 13)]
    np.testing.assert_allclose(drawn[0], pooled[0])


def test_colour_scale_is_symmetric_and_survives_a_blank_image():
    fig = plot_activations(one_conv_layers(), np.zeros((28, 28), np.uint8))
    for ax in fig.axes:
        for im in ax.images:
            lo, hi = im.get_clim()
            if im.get_array().shape != (28, 28):
                assert lo == -hi and hi > 0


def test_nan_image_gives_a_message():
    img = np.zeros((28, 28), np.float32)
    img[3, 3] = np.nan
    fig = plot_activations(one_conv_layers(), img)
    assert "NaN or infinite" in texts(fig)


def test_image_of_a_size_the_net_cannot_take_gives_a_message():
    fig = plot_activations(one_conv_layers(), np.zeros((20, 20), np.uint8))
    assert "Cannot show the activations" in texts(fig) and "Linear input" in texts(fig)


@pytest.mark.parametrize("shape", [(28,), (1, 28, 28), (0, 28)])
def test_image_of_wrong_rank_raises(shape):
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        plot_activations(one_conv_layers(), np.zeros(shape, np.uint8))


def test_not_a_network_raises():
    with pytest.raises(ValueError, match="list of layers"):
        plot_activations([], digit())
    with pytest.raises(ValueError, match="list of layers"):
        trace_activations("conv", digit())


def test_accepts_a_sequential():
    architectures = pytest.importorskip("cnnlib.architectures")
    fig = plot_activations(architectures.one_conv_net(), digit(), label=3)
    assert sum(1 for ax in fig.axes if ax.images) == 17
