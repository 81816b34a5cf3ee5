"""Tests for cnnlib.viz.evaluation: what the confusion-matrix and optimizer plots draw and write."""
import math

import numpy as np
import pytest

from cnnlib.viz.evaluation import (block_means, normalize_rows, plot_confusion_matrix,
                              plot_optimizer_comparison, short_count)


def cell_texts(fig, k):
    """The k*k texts written inside the cells, as a (k, k) array of strings."""
    ax = fig.axes[0]
    cells = {}
    for t in ax.texts:
        x, y = t.get_position()
        if t.get_transform() is ax.transData:
            cells[(int(round(y)), int(round(x)))] = t.get_text()
    assert len(cells) == k * k
    return np.array([[cells[i, j] for j in range(k)] for i in range(k)])


def notes(ax):
    return " ".join(t.get_text() for t in ax.texts if t.get_transform() is not ax.transData)


def test_counts_written_in_the_right_cells():
    cm = np.array([[5, 1, 0], [0, 7, 2], [3, 0, 9]])
    texts = cell_texts(plot_confusion_matrix(cm), 3)
    assert texts.tolist() == [["5", "1", "0"], ["0", "7", "2"], ["3", "0", "9"]]


def test_normalized_rows_are_fractions_of_each_true_class():
    cm = np.array([[3, 1], [0, 4]])
    texts = cell_texts(plot_confusion_matrix(cm, normalize=True), 2)
    assert texts.tolist() == [["0.75", "0.25"], ["0.00", "1.00"]]


def test_all_zero_matrix_normalizes_without_dividing_by_zero():
    cm = np.zeros((10, 10), dtype=np.int64)
    with np.errstate(all="raise"):
        fig = plot_confusion_matrix(cm, normalize=True)
    assert set(cell_texts(fig, 10).ravel()) == {"0.00"}
    assert "all zeros" in notes(fig.axes[0])
    assert np.all(normalize_rows(cm) == 0)


def test_one_empty_row_stays_zero_and_the_others_sum_to_one():
    cm = np.array([[0, 0, 0], [2, 2, 0], [1, 0, 3]])
    fractions = normalize_rows(cm)
    assert fractions[0].tolist() == [0, 0, 0]
    assert fractions[1:].sum(axis=1) == pytest.approx([1, 1])


@pytest.mark.parametrize("shape", [(3, 4), (10,), (2, 2, 2), (0, 0)])
def test_non_square_matrix_is_a_clear_value_error(shape):
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones(shape))


@pytest.mark.parametrize("bad", [-1, np.nan, np.inf])
def test_negative_or_non_finite_counts_are_rejected(bad):
    cm = np.ones((2, 2))
    cm[0, 1] = bad
    with pytest.raises(ValueError, match="non-negative"):
        plot_confusion_matrix(cm)


def test_wrong_number_of_names_is_rejected():
    with pytest.raises(ValueError, match="3 entries"):
        plot_confusion_matrix(np.eye(3), names=["a", "b"])


def test_huge_counts_are_written_short_enough_to_fit():
    cm = np.array([[123_456_789_012, 7], [56_789, 1_500_000]], dtype=np.int64)
    texts = cell_texts(plot_confusion_matrix(cm), 2)
    assert texts.tolist() == [["123G", "7"], ["57k", "1.5M"]]
    assert max(len(t) for t in texts.ravel()) <= 4


@pytest.mark.parametrize("n, text", [(0, "0"), (9999, "9999"), (10_000, "10k"), (999_999, "1000k"),
                                     (2_345_678, "2.3M"), (45_000_000, "45M")])
def test_short_count(n, text):
    assert short_count(n) == text


def test_class_names_become_tick_labels():
    fig = plot_confusion_matrix(np.eye(2, dtype=int), names=["cat", "dog"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cat", "dog"]


def history(batch_losses, epochs):
    per = len(batch_losses) // epochs
    return {"batch_loss": list(batch_losses),
            "loss": [float(np.mean(batch_losses[e * per:(e + 1) * per])) for e in range(epochs)]}


def test_one_line_per_optimizer_with_x_in_epochs():
    runs = {"SGD": history(np.linspace(2, 1, 40), 2), "Adam": history(np.linspace(2, 0.1, 40), 2)}
    ax = plot_optimizer_comparison(runs, every=10).axes[0]
    assert [line.get_label() for line in ax.lines] == ["SGD", "Adam"]
    xs, ys = ax.lines[1].get_data()
    assert xs.tolist() == [0.5, 1.0, 1.5, 2.0]               # 20 batches per epoch, blocks of 10
    assert ys[0] == pytest.approx(np.mean(np.linspace(2, 0.1, 40)[:10]))
    assert notes(ax) == ""


def test_empty_dict_gives_a_figure_that_says_so():
    ax = plot_optimizer_comparison({}).axes[0]
    assert len(ax.lines) == 0
    assert "no runs given" in notes(ax)


def test_empty_history_is_named_in_the_note():
    ax = plot_optimizer_comparison({"SGD": {}, "Adam": history([1.0, 0.5], 1)}, every=1).axes[0]
    assert [line.get_label() for line in ax.lines] == ["Adam"]
    assert "SGD: empty history" in notes(ax)


def test_nan_losses_are_left_out_and_explained():
    losses = [2.0, 1.5, 1.0, 0.8, float("nan"), float("nan")]
    ax = plot_optimizer_comparison({"big lr": history(losses, 1)}, every=2).axes[0]
    xs, ys = ax.lines[0].get_data()
    assert np.all(np.isfinite(ys)) and len(ys) == 2           # the block with NaN is dropped
    assert "big lr" in notes(ax) and "batch 5" in notes(ax)


def test_all_nan_history_draws_nothing_but_explains():
    ax = plot_optimizer_comparison({"x": {"loss": [math.inf, math.nan]}}).axes[0]
    assert all(len(line.get_xdata()) == 0 for line in ax.lines)
    assert "epoch 1" in notes(ax)


def test_per_epoch_history_without_batches():
    ax = plot_optimizer_comparison({"run": {"loss": [1.0, 0.5, 0.25]}}).axes[0]
    xs, ys = ax.lines[0].get_data()
    assert xs.tolist() == [1, 2, 3] and ys.tolist() == [1.0, 0.5, 0.25]


def test_every_must_be_positive():
    with pytest.raises(ValueError, match="every"):
        plot_optimizer_comparison({"a": {"loss": [1.0]}}, every=0)


def test_block_means_keeps_the_short_last_block():
    ends, means = block_means([1, 2, 3, 4, 5], 2)
    assert ends.tolist() == [2, 4, 5] and means.tolist() == [1.5, 3.5, 5.0]


def test_log_scale_only_when_something_is_drawn():
    assert plot_optimizer_comparison({"a": {"loss": [1.0, 0.1]}}, logy=True).axes[0].get_yscale() == "log"
    assert plot_optimizer_comparison({}, logy=True).axes[0].get_yscale() == "linear"
