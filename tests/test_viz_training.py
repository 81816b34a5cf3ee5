"""History curves, the training dashboard and the speed-up plot (Agg backend, see conftest.py).

Each test looks at what was drawn: the data of the lines and the texts on the figure.
"""
import html
import math
import time

import numpy as np
import pytest

from cnnlib.layers import Flatten, Linear, ReLU
from cnnlib.model import Sequential
from cnnlib.viz.training import TrainingDashboard, plot_history, plot_speedup
from cnnlib.viz.widgets import training_dashboard

RNG = np.random.default_rng(0)
X = RNG.uniform(-0.5, 0.5, size=(40, 1, 4, 4)).astype(np.float32)
Y = RNG.integers(0, 3, size=40)


def tiny_net():
    return Sequential([Flatten(), Linear(16, 8, seed=0), ReLU(), Linear(8, 3, seed=1)])


def texts(fig):
    return " ".join(t.get_text() for t in fig.texts + [t for ax in fig.axes for t in ax.texts])


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


# ---------------------------------------------------------------- plot_history
def test_history_draws_train_and_validation_per_epoch():
    h = {"loss": [2.0, 1.0, 0.5], "acc": [0.3, 0.6, 0.8],
         "val_loss": [2.1, 1.2, 0.9], "val_acc": [0.25, 0.5, 0.7]}
    loss_ax, acc_ax = plot_history(h).axes
    loss, acc = lines_by_label(loss_ax), lines_by_label(acc_ax)
    assert sorted(loss) == sorted(acc) == ["train", "validation"]
    np.testing.assert_array_equal(loss["validation"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss["validation"].get_ydata(), h["val_loss"])
    np.testing.assert_array_equal(acc["train"].get_ydata(), h["acc"])


def test_history_without_validation_has_only_train_lines():
    fig = plot_history({"loss": [1.0], "acc": [0.5], "val_loss": [], "val_acc": []})
    for ax in fig.axes:
        assert list(lines_by_label(ax)) == ["train"]
    assert texts(fig) == ""                      # nothing to explain


def test_history_with_one_epoch_is_a_single_point():
    fig = plot_history({"loss": [0.7], "acc": [0.9]})
    line = lines_by_label(fig.axes[0])["train"]
    assert list(line.get_xdata()) == [1] and list(line.get_ydata()) == [0.7]


@pytest.mark.parametrize("h", [{}, None, {"loss": [], "acc": []}])
def test_empty_history_says_so(h):
    fig = plot_history(h)
    assert all(len(ax.get_lines()) == 0 for ax in fig.axes)
    assert "no epoch finished yet" in texts(fig)


def test_nan_and_inf_are_left_out_and_explained():
    h = {"loss": [1.0, math.nan, math.inf], "acc": [0.5, 0.1, 0.1]}
    fig = plot_history(h)
    line = lines_by_label(fig.axes[0])["train"]
    assert list(line.get_xdata()) == [1] and list(line.get_ydata()) == [1.0]
    assert "loss is nan from epoch 2" in texts(fig)


def test_history_into_given_axes():
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2)
    assert plot_history({"loss": [1.0], "acc": [0.5]}, axes=axes) is fig
    plt.close(fig)


# ---------------------------------------------------------------- dashboard
def test_dashboard_update_moves_lines_in_place():
    board = TrainingDashboard(batches_per_epoch=4)
    lines_before = list(board.axes[0].get_lines())
    board.update({"loss": [1.5, 1.0], "acc": [0.4, 0.7], "val_loss": [1.6, 1.2],
                  "val_acc": [0.35, 0.6], "batch_loss": [2, 1.8, 1.5, 1.3, 1.2, 1.1, 1.0, 0.9]})
    assert board.axes[0].get_lines() == lines_before       # same Line2D objects, new data
    np.testing.assert_array_equal(board.lines["val_acc"].get_ydata(), [0.35, 0.6])
    np.testing.assert_allclose(board.batch_line.get_xdata()[[0, -1]], [0.25, 2.0])
    assert board.axes[0].get_xlim()[1] >= 2
    assert board.status.get_text().startswith("epoch 2: train loss 1.000, acc 70.0%")


def test_dashboard_with_no_epoch_yet():
    board = TrainingDashboard()
    assert "no epoch finished yet" in board.status.get_text()
    board.update({"loss": [], "acc": [], "batch_loss": [2.3, 2.2]})
    assert "2 batches done" in board.status.get_text()
    assert all(len(line.get_xdata()) == 0 for line in board.lines.values())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_dashboard_with_non_finite_loss_explains(bad):
    board = TrainingDashboard(batches_per_epoch=1)
    board.update({"loss": [1.0, bad], "acc": [0.5, 0.1], "batch_loss": [1.0, bad]})
    assert list(board.lines["loss"].get_ydata()) == [1.0]
    assert list(board.batch_line.get_ydata()) == [1.0]
    assert f"loss is {bad} from epoch 2" in board.status.get_text()
    assert board.status.get_color() == "darkred"
    lo, hi = board.axes[0].get_ylim()
    assert math.isfinite(lo) and math.isfinite(hi)


def test_dashboard_trains_and_draws_each_epoch():
    board, drawn = TrainingDashboard(), []
    board.on_draw = lambda b: drawn.append(b.status.get_text())
    h = board.train(tiny_net(), X, Y, epochs=3, lr=0.1, batch_size=8, x_val=X, y_val=Y)
    assert len(h["loss"]) == 3
    np.testing.assert_allclose(board.lines["loss"].get_ydata(), h["loss"])
    np.testing.assert_allclose(board.lines["val_acc"].get_ydata(), h["val_acc"])
    assert any(s.startswith("epoch 1:") for s in drawn) and drawn[-1].startswith("epoch 3:")
    assert board.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dashboard_huge_learning_rate_gives_a_message_not_a_traceback():
    board = TrainingDashboard()
    assert board.train(tiny_net(), X, Y, epochs=2, lr=1e12, batch_size=8) is None
    text = board.status.get_text().replace("\n", " ")
    assert text.startswith("Training stopped:") and "loss became" in text
    assert "lower the learning rate, e.g. to 1e+11 (from 1e+12)" in text    # a tenth
    assert board.status.get_color() == "darkred"
    assert "lower the learning rate" in board.alt_text().replace("\n", " ")


def test_dashboard_before_any_training_says_what_to_do_with_labelled_axes():
    board = TrainingDashboard(hint="Press Start to train: the loss should fall.")
    hint = [t.get_text().replace("\n", " ") for t in board.axes[0].texts]
    assert "Press Start to train: the loss should fall." in hint
    for ax in (*board.axes, *board.health_axes):
        assert ax.get_xlabel() and ax.get_title() or ax.get_ylabel()
    assert board.axes[0].get_ylim() == (0, 3)          # where ln 10 = 2.30 will appear
    assert not any(legend.get_visible() for legend in board.legends)
    assert board.alt_text() == "Training dashboard, empty: Press Start to train: the loss should fall."
    assert "Training stopped" not in board.alt_text()
    board.update({"loss": [], "acc": [], "batch_loss": [2.3]})
    assert [t.get_text() for t in board.axes[0].texts] == [""]      # the hint gives way


def test_dashboard_shows_each_layers_health_after_training():
    board = TrainingDashboard()
    net = tiny_net()
    board.train(net, X, Y, epochs=1, lr=0.1, batch_size=8)
    norm_ax, dead_ax = board.health_axes
    assert [t.get_text() for t in norm_ax.get_yticklabels()] == ["1 Linear", "3 Linear"]
    assert [t.get_text() for t in dead_ax.get_yticklabels()] == ["2 ReLU"]
    w = net.layers[1].params
    weight_norm = float(np.sqrt(sum((v.astype(np.float64) ** 2).sum() for v in w.values())))
    assert norm_ax.texts[0].get_text() == f"{weight_norm:.2g}"
    alt = board.alt_text()
    assert alt.startswith("The training loss") and "gradient norms: 1 Linear" in alt


@pytest.mark.parametrize("lr", [0.0, -1.0])
def test_dashboard_rejected_learning_rate_is_shown(lr):
    board = TrainingDashboard()
    assert board.train(tiny_net(), X, Y, epochs=1, lr=lr) is None
    assert "lr must be > 0" in board.status.get_text()


def test_dashboard_zero_epochs():
    board = TrainingDashboard()
    h = board.train(tiny_net(), X, Y, epochs=0, lr=0.1)
    assert h["loss"] == []
    assert "nothing to train" in board.status.get_text()


def test_dashboard_stop_ends_training_early():
    board = TrainingDashboard()
    board.on_draw = lambda b: b.stop() if len(b.lines["loss"].get_xdata()) == 1 else None
    h = board.train(tiny_net(), X, Y, epochs=5, lr=0.1, batch_size=8, callback_every=100)
    assert len(h["loss"]) == 1
    assert "stopped" in board.status.get_text()


def test_widget_start_trains_in_a_thread_and_ignores_a_second_click():
    box = training_dashboard(tiny_net, X, Y, batch_size=8, max_epochs=3)
    board, picture = box.board, box.children[1]
    epochs, lr, start, stop = box.children[0].children
    epochs.value, lr.value = 2, 0.1
    first_png = picture.value
    assert box.thread is None
    start.click()
    thread = box.thread
    start.click()                                # while running: no second thread
    assert box.thread is thread
    thread.join(timeout=30)
    assert not thread.is_alive() and not start.disabled
    assert board.status.get_text().startswith("epoch 2:")
    assert picture.value != first_png
    alt = html.escape(board.alt_text(), quote=True)
    assert f'alt="{alt}"' in picture.value and "epoch 2:" in alt         # alt follows the state
    assert 'alt="Training dashboard, empty: Press Start' in first_png
    for key in ("loss", "acc"):                  # Start drew both curves, one point per epoch
        np.testing.assert_array_equal(board.lines[key].get_xdata(), [1, 2])
        assert np.all(np.isfinite(board.lines[key].get_ydata()))


def test_widget_stop_ends_a_running_training():
    box = training_dashboard(tiny_net, X, Y, batch_size=8, max_epochs=500)
    box.controls["epochs"].value = 500           # minutes of training if Stop did nothing
    box.controls["stop"].click()                 # a Stop before Start is forgotten at Start
    box.controls["start"].click()
    deadline = time.monotonic() + 60
    while not len(box.board.lines["loss"].get_xdata()) and time.monotonic() < deadline:
        time.sleep(0.01)                         # wait for the first finished epoch
    box.controls["stop"].click()
    box.thread.join(timeout=60)
    assert not box.thread.is_alive()
    epochs_done = len(box.board.lines["loss"].get_xdata())
    assert 1 <= epochs_done < 500
    assert "stopped by the Stop button" in box.board.status.get_text().replace("\n", " ")
    assert not box.controls["start"].disabled and not box.board.stop_requested


def test_widget_thread_reports_unexpected_errors():
    def broken_net():
        raise RuntimeError("no such architecture")
    box = training_dashboard(broken_net, X, Y)
    box.controls["start"].click()
    box.thread.join(timeout=30)
    assert "RuntimeError: no such architecture" in box.board.status.get_text()


# ---------------------------------------------------------------- plot_speedup
def test_speedup_points_are_loop_over_fast():
    fig = plot_speedup([8, 16, 32], [0.2, 0.8, 3.2], [0.1, 0.1, 0.1])
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [2, 8, 32])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["2.0 x", "8.0 x", "32 x"]


def test_speedup_with_zero_times_skips_them_and_says_so():
    fig = plot_speedup([8, 16, 32], [0.0, 0.5, 1.0], [0.0, 0.0, 0.25])
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [32] and list(line.get_ydata()) == [4]
    assert "2 of 3 size(s) not drawn" in texts(fig)


def test_speedup_all_zero_draws_nothing_but_explains():
    fig = plot_speedup([8], [0.0], [0.0])
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 0
    assert "1 of 1 size(s) not drawn" in texts(fig)


def test_speedup_lengths_must_match():
    with pytest.raises(ValueError, match="same length"):
        plot_speedup([8, 16], [1.0], [0.5, 0.5])


def test_speedup_two_series_on_one_axes_get_a_legend():
    fig = plot_speedup([8, 16], [1.0, 4.0], [0.5, 0.5], name="forward", label="pixels")
    plot_speedup([8, 16], [2.0, 2.0], [1.0, 0.5], ax=fig.axes[0], name="backward")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["forward", "backward"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [2, 4])
    assert ax.get_xlabel() == "pixels"          # the second call keeps the first's axis title


def test_speedup_always_uses_a_log_axis():
    assert plot_speedup([8, 64], [1.0, 100.0], [1.0, 1.0]).axes[0].get_yscale() == "log"
    assert plot_speedup([8, 64], [1.0, 5.0], [1.0, 1.0]).axes[0].get_yscale() == "log"


def test_speedup_labels_of_two_series_never_sit_between_their_points():
    # the curves cross: at size 8 the second series is lower, at size 16 the first one
    fig = plot_speedup([8, 16], [100.0, 100.0], [1.0, 1.0], name="backward")
    plot_speedup([8, 16], [40.0, 400.0], [1.0, 1.0], ax=fig.axes[0], name="forward")
    first, second = fig.axes[0].texts[:2], fig.axes[0].texts[2:]
    assert [t.get_text() for t in second] == ["40 x", "400 x"]
    above = [t.xyann[1] > 0 for t in first + second]
    assert above == [True, False, False, True]   # the lower point's label is below it at each size
