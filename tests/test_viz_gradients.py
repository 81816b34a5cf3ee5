"""The gradient pictures: drawn off-screen (Agg), including impossible requests,
which must give a figure with an explanation rather than an exception."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlib.viz.gradients import plot_conv_touch, plot_pool_routing  # noqa: E402


def texts(fig):
    """Every piece of text in a figure: titles, labels and free text."""
    found = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return " ".join(found)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_pool_routing_draws_three_panels_and_the_routed_gradient():
    x = np.array([[1., 5, 0, 0], [2, 3, 0, 0], [7, 1, 4, 4], [0, 2, 4, 1]])
    dout = np.array([[10., 20], [30, 40]])
    fig = plot_pool_routing(x, dout, window=(1, 1))
    assert len(fig.axes) == 3
    dx_image = fig.axes[2].images[0].get_array()
    assert dx_image.sum() == pytest.approx(dout.sum())        # each window sends dout once
    assert dx_image[0, 1] == 10 and dx_image[2, 0] == 30       # to the arg-max of its window
    assert np.count_nonzero(dx_image) == 4                     # ties at 0 and 4 get it once


def test_pool_routing_all_zero_window_and_huge_values():
    x = np.zeros((4, 4))
    x[3, 3] = 1e300
    fig = plot_pool_routing(x, np.ones((2, 2)))
    assert np.count_nonzero(fig.axes[2].images[0].get_array()) == 4


def test_pool_routing_impossible_requests_explain_themselves():
    x = np.arange(16.).reshape(4, 4)
    assert "does not exist" in texts(plot_pool_routing(x, np.ones((2, 2)), window=(5, 0)))
    assert "pooled shape" in texts(plot_pool_routing(x, np.ones((3, 3))))
    assert "2-D" in texts(plot_pool_routing(x[0], np.ones(2)))
    fig = plot_pool_routing(np.ones((1, 1)), np.ones((1, 1)), size=2)
    assert "larger" in texts(fig)
    assert "stride" in texts(plot_pool_routing(x, np.ones((2, 2)), stride=0))


def test_conv_touch_dx_is_the_kernel_over_the_patch_and_dw_the_patch():
    x = np.arange(25.).reshape(5, 5)
    w = np.array([[1., 2, 3], [4, 5, 6], [7, 8, 9]])
    fig = plot_conv_touch(x, w, 1, 2)
    assert len(fig.axes) == 4
    dx = fig.axes[2].images[0].get_array()
    dw = fig.axes[3].images[0].get_array()
    assert np.array_equal(dx[1:4, 2:5], w) and dx.sum() == w.sum()
    assert np.array_equal(dw, x[1:4, 2:5])


def test_conv_touch_with_padding_clips_the_kernel_at_the_border():
    x = np.ones((4, 4))
    w = np.arange(1., 10.).reshape(3, 3)
    fig = plot_conv_touch(x, w, 0, 0, stride=2, pad=1)
    dx = fig.axes[2].images[0].get_array()
    assert dx.shape == (4, 4)
    assert np.array_equal(dx[:2, :2], w[1:, 1:])               # the padded row/column is cut off
    dw = fig.axes[3].images[0].get_array()
    assert dw[0].sum() == 0 and dw[:, 0].sum() == 0            # padding zeros give no weight gradient


def test_conv_touch_impossible_requests_explain_themselves():
    x, w = np.ones((5, 5)), np.ones((3, 3))
    assert "does not exist" in texts(plot_conv_touch(x, w, 3, 0))
    assert "does not exist" in texts(plot_conv_touch(x, w, -1, 0))
    assert "larger" in texts(plot_conv_touch(x, np.ones((7, 7)), 0, 0))
    assert "pad" in texts(plot_conv_touch(x, w, 0, 0, pad=-1))
    assert "2-D" in texts(plot_conv_touch(x[None], w, 0, 0))


def test_conv_touch_large_input_draws_without_numbers():
    x = np.random.default_rng(0).normal(size=(28, 28))
    fig = plot_conv_touch(x, np.ones((3, 3)), 25, 25)
    assert len(fig.axes[0].texts) == 0
