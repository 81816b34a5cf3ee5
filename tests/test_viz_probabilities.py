"""plot_probabilities: the numbers in the figure, and clear messages for bad settings."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from cnnlib.viz.probabilities import plot_probabilities, tempered_log_probs


def title(fig):
    return fig.axes[0].get_title()


def all_text(fig):
    ax = fig.axes[0]
    texts = [ax.get_title(), ax.get_xlabel()] + [t.get_text() for t in ax.texts]
    return " ".join(texts)


def loss_in_title(fig):
    return float(title(fig).split("loss = -log p = ")[1].split()[0])


def bar_heights(fig):
    return np.array([b.get_height() for b in fig.axes[0].patches])


def test_three_class_example_matches_hand_computation():
    z = np.array([2.0, 1.0, 0.0])
    fig = plot_probabilities(z, 1)
    e = np.exp([2.0, 1.0, 0.0])
    p = e / e.sum()
    np.testing.assert_allclose(bar_heights(fig), p, rtol=1e-12)
    assert loss_in_title(fig) == pytest.approx(-np.log(p[1]), rel=1e-3)
    colors = [b.get_facecolor() for b in fig.axes[0].patches]
    assert colors[1] != colors[0] and colors[0] == colors[2]     # the label's bar stands out


def test_equal_logits_give_uniform_probabilities_and_loss_ln_k():
    fig = plot_probabilities(np.full(10, 3.7), 4)
    np.testing.assert_allclose(bar_heights(fig), 0.1)
    assert loss_in_title(fig) == pytest.approx(np.log(10), rel=1e-3)


def test_huge_logits_stay_finite():
    fig = plot_probabilities(np.array([1e6, 0.0, -1e6]), 0)
    assert loss_in_title(fig) == 0.0
    fig = plot_probabilities(np.array([1e6, 0.0, -1e6]), 2)
    assert loss_in_title(fig) == pytest.approx(2e6)
    assert "rounds to 0" in all_text(fig)              # the finite loss despite p == 0 is explained
    assert np.all(np.isfinite(bar_heights(fig)))


def test_tiny_temperature_is_arg_max_and_huge_temperature_is_uniform():
    z = np.array([0.3, 1.0, -2.0, 0.9])
    sharp = plot_probabilities(z, 1, temperature=1e-6)
    np.testing.assert_allclose(bar_heights(sharp), [0, 1, 0, 0], atol=1e-12)
    assert loss_in_title(sharp) == pytest.approx(0.0, abs=1e-12)
    flat = plot_probabilities(z, 2, temperature=1e9)
    np.testing.assert_allclose(bar_heights(flat), 0.25, atol=1e-8)
    assert loss_in_title(flat) == pytest.approx(np.log(4), rel=1e-3)


@pytest.mark.parametrize("t", [0, -1.0, np.nan, np.inf])
def test_bad_temperature_is_explained_in_the_figure(t):
    fig = plot_probabilities(np.zeros(10), 3, temperature=t)
    assert "temperature must be a finite number > 0" in all_text(fig)
    assert len(bar_heights(fig)) == 0


def test_overflowing_scaled_logits_are_explained():
    fig = plot_probabilities(np.array([1e300, 0.0]), 0, temperature=1e-300)
    assert "overflow" in all_text(fig)


@pytest.mark.parametrize("z", [[np.nan, 0.0, 1.0], [0.0, np.inf, 1.0]])
def test_non_finite_logit_is_explained(z):
    fig = plot_probabilities(np.array(z), 0)
    assert "NaN or infinite" in all_text(fig)
    assert "class 0" in all_text(fig) or "class 1" in all_text(fig)


@pytest.mark.parametrize("label", [-1, 10, 3.0, True])
def test_label_out_of_range_or_not_integer_raises(label):
    with pytest.raises(ValueError, match="label"):
        plot_probabilities(np.zeros(10), label)


@pytest.mark.parametrize("z", [np.zeros((2, 5)), np.zeros(1), 3.0, np.array(["a", "b"])])
def test_logits_of_wrong_shape_or_type_raise(z):
    with pytest.raises(ValueError, match="logits"):
        plot_probabilities(z, 0)


def test_class_names_length_is_checked_and_used():
    names = [f"c{i}" for i in range(3)]
    fig = plot_probabilities(np.zeros(3), 0, class_names=names)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == names
    with pytest.raises(ValueError, match="class_names"):
        plot_probabilities(np.zeros(3), 0, class_names=names[:2])


def test_draws_into_given_axes():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    assert plot_probabilities([1.0, 2.0], 1, ax=ax) is fig
    plt.close(fig)


def test_tempered_log_probs_is_shift_invariant_and_normalised():
    z = np.array([5.0, -3.0, 0.5])
    a = tempered_log_probs(z, 2.0)
    np.testing.assert_allclose(a, tempered_log_probs(z + 1000.0, 2.0), atol=1e-12)
    assert np.exp(a).sum() == pytest.approx(1.0)


def test_probability_bars_right_blue_wrong_orange_label_bold_hatched_and_marked():
    from matplotlib.colors import to_rgba
    from cnnlib.viz.base import subplots
    from cnnlib.viz.probabilities import probability_bars
    p = np.array([0.1, 0.7, 0.2])
    for label, colour in ((1, "tab:blue"), (2, "tab:orange"), (None, "tab:blue")):
        ax = subplots()[1]
        probability_bars(ax, p, label)
        assert ax.patches[1].get_facecolor() == to_rgba(colour)     # the predicted class, 1
        assert ax.patches[0].get_facecolor() == to_rgba("tab:gray")
        bold = [t.get_text() for t in ax.get_xticklabels() if t.get_fontweight() == "bold"]
        assert bold == ([] if label is None else [f"{label}\ntrue"])
        # the true class is marked without colour too: a hatched bar and the word "true"
        hatched = [i for i, bar in enumerate(ax.patches) if bar.get_hatch()]
        assert hatched == ([] if label is None else [label])


def test_the_labels_bar_is_hatched_not_only_orange():
    from cnnlib.viz.probabilities import plot_probabilities
    fig = plot_probabilities([1.0, 3.0, 0.5], 2)
    assert [i for i, bar in enumerate(fig.axes[0].patches) if bar.get_hatch()] == [2]
