"""Tests for cnnlib.viz.trained and .robustness: the drawings of notebook 11 with normal and extreme inputs (they must explain a bad setting, never raise in a widget)."""
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from cnnlib.conv import Conv2D
from cnnlib.layers import Flatten, Linear
from cnnlib.model import Sequential
from cnnlib.architectures import lenet
from cnnlib.viz.trained import (conv_map_layers, first_conv_weights, load_trained, mosaic,
                                 most_confident_mistakes, plot_confidence_histogram,
                                 plot_filters, plot_layer_maps, plot_most_wrong,
                                 predict_view, to_input)
from cnnlib.viz.robustness import plot_transform_effect, transform_accuracy


@pytest.fixture(scope="module")
def net():
    return lenet(seed=0)


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    images = np.zeros((5, 28, 28), np.uint8)
    images[:, 8:20, 12:16] = rng.integers(100, 256, size=(5, 12, 4))   # a vertical bar
    return images, np.arange(5)


def texts(fig):
    """Every text drawn anywhere in the figure (figure texts, axes texts and titles)."""
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [t.get_text() for t in ax.texts] + [ax.get_title()]
    return " ".join(found).replace("\n", " ")


# inputs, loading, filters --------------------------------------------------------------------

def test_to_input_scales_and_checks():
    x = to_input(np.array([[0, 255]], np.uint8))
    assert x.shape == (1, 1, 1, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), [-0.5, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        to_input(np.full((28, 28), np.nan))


def test_load_trained_finds_the_architecture(tmp_path, net):
    path = tmp_path / "w.npz"
    net.save(path)
    loaded, name = load_trained(path)
    assert name == "lenet"
    np.testing.assert_array_equal(loaded.named_params()["0.W"], net.named_params()["0.W"])
    with pytest.raises(FileNotFoundError):
        load_trained(tmp_path / "missing.npz")
    Sequential([Flatten(), Linear(4, 3)]).save(tmp_path / "odd.npz")
    with pytest.raises(ValueError, match="no architecture"):
        load_trained(tmp_path / "odd.npz")


def test_first_conv_weights_needs_a_conv_first(net):
    assert first_conv_weights(net).shape == (8, 1, 3, 3)
    with pytest.raises(ValueError, match="Conv2D"):
        first_conv_weights(Sequential([Flatten(), Linear(784, 10)]))


def test_mosaic_places_maps_with_gaps():
    tiles, positions = mosaic(np.arange(3 * 2 * 2).reshape(3, 2, 2), ncols=2)
    assert tiles.shape == (5, 5) and positions == [(0, 0), (0, 3), (3, 0)]
    np.testing.assert_array_equal(tiles[3:5, 0:2], [[8, 9], [10, 11]])
    assert np.isnan(tiles[2]).all() and np.isnan(tiles[3:, 3:]).all()


def test_plot_filters_symmetric_scale_and_labels(net):
    fig = plot_filters(first_conv_weights(net))
    image = fig.axes[0].images[0]
    lo, hi = image.get_clim()
    assert lo == -hi and hi == pytest.approx(np.abs(first_conv_weights(net)).max())
    assert "8 filter(s) of 1 channel(s), 3×3" in texts(fig)


@pytest.mark.parametrize("shape", [(1, 1, 3, 3), (4, 3, 5, 5), (3, 3), (2, 5, 5)])
def test_plot_filters_unusual_shapes(shape):
    w = np.random.default_rng(0).normal(size=shape)
    fig = plot_filters(w)
    f = shape[0] if len(shape) >= 3 else 1
    c = shape[1] if len(shape) == 4 else 1
    assert f"{f} filter(s) of {c} channel(s)" in texts(fig)
    assert fig.axes[0].images[0].get_array().shape == (c * (shape[-2] + 1) - 1,
                                                       f * (shape[-1] + 1) - 1)


@pytest.mark.parametrize("w, match", [(np.zeros((1, 1, 1, 1, 3)), "shape"),
                                      (np.zeros(3), "shape"),
                                      (np.full((2, 1, 3, 3), np.nan), "NaN")])
def test_plot_filters_rejects_bad_weights(w, match):
    with pytest.raises(ValueError, match=match):
        plot_filters(w)


# feature maps, mistakes, confidence ----------------------------------------------------------

def test_layer_maps_default_to_both_conv_layers(net, digits):
    assert conv_map_layers(net) == [1, 4]          # the ReLU after each convolution
    fig = plot_layer_maps(net, digits[0][0])
    assert "8 maps of 28×28" in texts(fig) and "16 maps of 14×14" in texts(fig)
    no_relu = Sequential([Conv2D(1, 2, 3), Flatten()])
    assert conv_map_layers(no_relu) == [0]


def test_layer_maps_reject_bad_layers(net, digits):
    with pytest.raises(ValueError, match="out of range"):
        plot_layer_maps(net, digits[0][0], [99])
    with pytest.raises(ValueError, match="not feature maps"):
        plot_layer_maps(net, digits[0][0], [6])     # Flatten


def test_most_confident_mistakes_order():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    y = np.array([1, 1, 1, 0])                      # wrong: 0 (0.9), 2 (0.6), 3 (0.95)
    np.testing.assert_array_equal(most_confident_mistakes(probs, y, n=5), [3, 0, 2])
    np.testing.assert_array_equal(most_confident_mistakes(probs, y, n=1), [3])
    assert len(most_confident_mistakes(probs, np.array([0, 1, 0, 1]))) == 0


def test_plot_most_wrong_titles_and_no_mistakes(net, digits):
    images, y = digits
    probs = np.eye(10)[[3, 1, 2, 3, 4]] * 0.9 + 0.01
    fig = plot_most_wrong(net, None, y, images, probs=probs)
    assert len(fig.axes) == 1 and "true 0 → 3" in texts(fig) and "91%" in texts(fig)
    fig = plot_most_wrong(net, None, np.array([3, 1, 2, 3, 4]), images, probs=probs)
    assert "No mistakes" in texts(fig)


def test_confidence_histogram_counts():
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    fig = plot_confidence_histogram(probs, np.array([0, 0, 0]))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["correct (2)", "wrong (1)"]
    assert "accuracy 66.7%, mean confidence 73.3%" in texts(fig)
    with pytest.raises(ValueError, match="N >= 1"):
        plot_confidence_histogram(np.zeros((0, 2)), np.zeros(0))


# widget views --------------------------------------------------------------------------------

def test_predict_view_normal(net, digits):
    images, labels = digits
    fig = predict_view(net, images, 2, labels, shift=(1, -1), angle=10)
    bars = fig.axes[1].patches
    assert len(bars) == 10 and sum(b.get_height() for b in bars) == pytest.approx(1, abs=1e-5)
    assert "#2, label 2" in texts(fig) and "predicted" in texts(fig)
    assert "maps of 28×28" in texts(fig)


@pytest.mark.parametrize("index", [5, -1, 10**9, 2.5])
def test_predict_view_index_out_of_range(net, digits, index):
    images, labels = digits
    fig = predict_view(net, images, index, labels)
    assert "Cannot classify" in texts(fig) and "0..4" in texts(fig)


def test_predict_view_nan_image_and_blank(net, digits):
    images = np.full((1, 28, 28), np.nan)
    assert "NaN" in texts(predict_view(net, images, 0))
    fig = predict_view(net, digits[0], 0, digits[1], shift=(100, 100))
    assert "left the picture" in texts(fig)
    assert len(fig.axes[1].patches) == 10          # still a prediction for the blank input
    renderer = FigureCanvasAgg(fig).get_renderer()  # the note must not cover the axis label
    fig.draw(renderer)
    note = next(t for t in fig.texts if "left the picture" in t.get_text())
    xlabel = fig.axes[1].xaxis.label
    assert not note.get_window_extent(renderer).overlaps(xlabel.get_window_extent(renderer))


def test_plot_transform_effect(net, digits):
    images, labels = digits
    fig = plot_transform_effect(net, images[0], labels[0], shift=(0, 3), angle=15)
    assert "shift (dy, dx) = (0, 3), 15°" in texts(fig)
    assert sum(len(ax.patches) for ax in fig.axes) == 20
    assert "left the picture" in texts(plot_transform_effect(net, images[0], 0, (60, 0)))
    assert "Cannot transform" in texts(plot_transform_effect(net, np.full((28, 28), np.nan)))
    assert "finite" in texts(plot_transform_effect(net, images[0], 0, (0, np.nan)))


def test_transform_accuracy_of_a_shift_sensitive_net():
    # a "net" that answers 1 when the centre column is bright, else 0
    class CentreNet:
        def predict(self, x):
            return (x[:, 0, :, 14] > 0).any(axis=1).astype(int)
    images = np.zeros((4, 28, 28))
    images[:, 2:9, 14] = 255                       # upper half of the centre column
    shift_acc, angle_acc = transform_accuracy(CentreNet(), images, np.ones(4, int),
                                              shifts=[0, 3], angles=[0, 90])
    assert shift_acc == [1.0, 0.0] and angle_acc == [1.0, 0.0]


def test_plot_transform_accuracy_draws_both_curves():
    from cnnlib.viz.robustness import plot_transform_accuracy
    fig = plot_transform_accuracy([-2, 0, 2], [0.5, 1.0, 0.6], [-30, 0, 30], [0.4, 1.0, 0.3])
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), [0.5, 1.0, 0.6])
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_xdata(), [-30, 0, 30])


def test_to_input_rejects_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        to_input(np.zeros((2, 1, 28, 28)))
