"""The widget drawings of notebooks 01 and 02 (cnnlib.viz.convolution and .pooling), called
directly with normal and absurd settings: they must draw (and return) a clear message,
never raise or warn."""
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlib.conv import conv2d_loop
from cnnlib.viz.convolution import (KERNEL_PRESETS, conv_problem, feature_map, plot_convolution,
                                    plot_feature_maps)
from cnnlib.viz.pooling import plot_pooling, pool_problem
from cnnlib.pool import avgpool_loop, maxpool_loop

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # e.g. a 0/0 in a colour scale would fail the test
        yield


def texts(fig):
    """Every string drawn in a figure: figure texts, axes titles and axes texts."""
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title()] + [t.get_text() for t in ax.texts]
    return " ".join(out).replace("\n", " ")


def digit():
    """A 'digit': a bright vertical bar and a bar across on a dark 28 x 28 background."""
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 12:16] = 255
    img[6:9, 6:20] = 200
    return img


def test_presets_are_3x3_and_edge_kernels_sum_to_zero():
    assert len(KERNEL_PRESETS) == 8
    for name, k in KERNEL_PRESETS.items():
        assert k.shape == (3, 3), name
    for name in ("vertical edge", "horizontal edge", "Sobel x", "Sobel y"):
        assert KERNEL_PRESETS[name].sum() == 0
    assert KERNEL_PRESETS["blur"].sum() == pytest.approx(1)


def test_feature_map_matches_conv2d_loop_with_pad_and_stride():
    img = np.random.default_rng(0).integers(0, 256, (7, 9))
    k = KERNEL_PRESETS["Sobel x"]
    want = conv2d_loop(img[None, None] / 255, k[None, None], np.zeros(1), stride=2, pad=1)[0, 0]
    np.testing.assert_allclose(feature_map(img, k, pad=1, stride=2), want)
    # one rule for every dtype: float pixels 0..255 give the same map as uint8 ones
    np.testing.assert_allclose(feature_map(img.astype(float), k, pad=1, stride=2), want)


def test_vertical_edge_kernel_responds_to_the_bar_sides_not_the_background():
    fmap = feature_map(digit(), KERNEL_PRESETS["vertical edge"])
    assert fmap[15, 10] > 0 > fmap[15, 14]        # left side of the bar +, right side -
    assert fmap[20, 0] == 0                        # flat background gives 0


def test_plot_convolution_normal_case_reports_output_size():
    fig = plot_convolution(digit(), KERNEL_PRESETS["Sobel x"], pad=1, stride=2)
    assert conv_problem((28, 28), KERNEL_PRESETS["Sobel x"], pad=1, stride=2) == ((14, 14), "")
    text = texts(fig)
    assert "feature map 14×14" in text and "(28 + 2·1 − 3) // 2 + 1 = 14" in text
    assert "-2" in text and "2" in text               # the kernel's numbers are drawn


def test_huge_kernel_values_draw_without_overflow():
    k = np.array([[1e6, 0, -1e6]] * 3)
    fig = plot_convolution(digit(), k)
    assert fig.axes[2].images[0].get_array().shape == (26, 26)
    assert "1e+06" in texts(fig) and "-1e+06" in texts(fig)


def test_zero_kernel_gives_a_flat_map_message():
    fig = plot_convolution(digit(), np.zeros((3, 3)))
    assert fig.axes[2].images[0].get_array().shape == (26, 26)
    assert "Flat map" in texts(fig)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_kernel_cell_is_named(bad):
    k = np.ones((3, 3))
    k[1, 2] = bad
    out, message = conv_problem((28, 28), k)
    assert out is None
    assert "row 1, column 2" in message and "finite number" in message
    fig = plot_convolution(digit(), k)
    assert "row 1, column 2" in texts(fig) and not fig.axes[2].images


def test_stride_larger_than_the_image_allows():
    fig = plot_convolution(digit(), KERNEL_PRESETS["blur"], stride=40)
    assert fig.axes[2].images[0].get_array().shape == (1, 1)
    assert "only one window position fits" in texts(fig)


def test_stride_larger_than_kernel_skips_pixels():
    out, message = conv_problem((28, 28), np.ones((3, 3)), pad=0, stride=5)
    assert out == (6, 6) and "in no window" in message


def test_large_padding_is_explained_and_absurd_padding_refused():
    fig = plot_convolution(digit(), KERNEL_PRESETS["identity"], pad=50)
    assert fig.axes[2].images[0].get_array().shape == (126, 126)
    assert "only padding zeros" in texts(fig)
    fig = plot_convolution(digit(), KERNEL_PRESETS["identity"], pad=10_000)
    assert not fig.axes[2].images and "too large to draw" in texts(fig)


def test_kernel_larger_than_image_and_bad_hyper_parameters():
    fig = plot_convolution(digit(), np.ones((30, 30)))
    assert not fig.axes[2].images and "larger than the padded input" in texts(fig)
    for pad, stride, word in ((-1, 1, "pad"), (0, 0, "stride"), (0, 1.5, "stride")):
        out, message = conv_problem((28, 28), np.ones((3, 3)), pad, stride)
        assert out is None and message.startswith(word)


def test_plot_convolution_draws_into_given_axes():
    fig, axes = plt.subplots(1, 3)
    assert plot_convolution(digit(), KERNEL_PRESETS["sharpen"], axes=axes) is fig
    assert len(fig.axes) == 3


def test_plot_feature_maps_titles_and_flat_marker():
    maps = np.stack([feature_map(digit(), k) for k in KERNEL_PRESETS.values()])
    maps[2] = 0
    fig = plot_feature_maps(maps, titles=list(KERNEL_PRESETS))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 8 and titles[0] == "identity"
    assert titles[2] == "horizontal edge (flat)"
    fig = plot_feature_maps(np.zeros((0, 5, 5)))
    assert "Expected maps of shape (F, H, W)" in texts(fig)


def test_plot_pooling_winners_are_the_maxima():
    fmap = np.arange(16.0).reshape(4, 4)
    fig = plot_pooling(fmap, size=2, stride=2)
    assert pool_problem(fmap.shape, 2, 2) == ((2, 2), "")
    xs, ys = fig.axes[0].lines[0].get_data()
    winners = sorted(zip(ys, xs))
    assert winners == [(1, 1), (1, 3), (3, 1), (3, 3)]      # bottom-right of each window
    pooled = fig.axes[1].images[0].get_array()
    np.testing.assert_array_equal(pooled, maxpool_loop(fmap[None, None])[0, 0])
    assert "15.00" in texts(fig)


def test_plot_pooling_average_has_no_winners_and_right_values():
    fmap = np.random.default_rng(1).normal(size=(6, 6))
    fig = plot_pooling(fmap, size=3, stride=3, mode="average")
    assert not fig.axes[0].lines
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(),
                               avgpool_loop(fmap[None, None], 3, 3)[0, 0])


def test_pooling_flat_windows_get_no_dot_and_flat_map_draws():
    fig = plot_pooling(np.zeros((6, 6)), 2, 2)
    assert fig.axes[1].images[0].get_array().shape == (3, 3) and not fig.axes[0].lines


def test_pool_larger_than_map_and_other_problems():
    fig = plot_pooling(np.ones((5, 5)), size=6, stride=2)
    assert not fig.axes[1].images and "larger than the feature map (5×5)" in texts(fig)
    assert pool_problem((26, 26), 3, 2)[0] == (12, 12)
    assert "dropped" in pool_problem((27, 27), 2, 2)[1]
    assert "never looked at" in pool_problem((26, 26), 2, 3)[1]
    assert "mode" in pool_problem((4, 4), 2, 2, mode="median")[1]
    assert "stride must be" in texts(plot_pooling(np.ones((4, 4)), 2, 0))
    assert "finite" in texts(plot_pooling(np.full((4, 4), np.nan), 2, 2))


def test_figures_are_closed_from_pyplot_so_notebooks_show_them_once():
    plt.close("all")
    plot_convolution(digit(), KERNEL_PRESETS["blur"])
    plot_pooling(np.ones((4, 4)), 2, 2)
    plot_feature_maps(np.ones((2, 4, 4)))
    assert plt.get_fignums() == []


def test_plot_feature_maps_gives_every_map_a_colour_bar_with_its_own_limits():
    maps = np.stack([feature_map(digit(), KERNEL_PRESETS[k]) for k in ("identity", "Sobel x")])
    fig = plot_feature_maps(maps, titles=["identity", "Sobel x"])
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2 and all(im.colorbar is not None for im in images)
    for im, m in zip(images, maps):
        top = np.abs(m).max()                      # each map: -max|value| .. +max|value|
        assert im.get_clim() == pytest.approx((-top, top))
        labels = [t.get_text() for t in im.colorbar.ax.get_yticklabels()]
        assert labels == [f"{-top:.3g}", "0", f"{top:.3g}"]
    assert np.abs(maps[1]).max() > 2 * np.abs(maps[0]).max()   # so the two scales differ
    assert fig._suptitle is None


def test_plot_feature_maps_shared_scale_puts_its_limits_in_the_title():
    maps = np.stack([np.full((3, 3), 0.5), np.array([[0, -2.0, 0], [0, 1, 0], [0, 0, 0]])])
    fig = plot_feature_maps(maps, shared_scale=True)
    clims = [ax.images[0].get_clim() for ax in fig.axes if ax.images]
    assert clims == [(-2.0, 2.0), (-2.0, 2.0)]     # max |value| over both maps is 2
    assert fig._suptitle.get_text() == "one colour scale for all maps: -2 (blue) to 2 (red)"
