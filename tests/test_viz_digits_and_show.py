"""show_source and the plotting helpers of notebook 00 (Agg backend, see conftest.py)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlib.viz import show
from cnnlib.data import one_hot
from cnnlib.viz.digits import browse_digit, plot_class_balance, plot_digit_values, show_digits
from cnnlib.viz.show import show_source, source_text

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, size=20)


def test_show_source_prints_plain_text_outside_ipython(capsys):
    assert show_source(one_hot) is None
    out = capsys.readouterr().out
    assert out.startswith("def one_hot(") and "return out" in out


def test_show_source_uses_highlighted_code_in_a_notebook(monkeypatch):
    shown = []
    monkeypatch.setattr(show, "_in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    show_source(source_text)
    assert len(shown) == 1
    html = shown[0]._repr_html_()
    assert "source_text" in html and "<span" in html  # pygments markup


def test_show_source_of_a_builtin_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot show the source of"):
        source_text(len)


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts + [ax.title]]


def test_show_digits_titles_and_wrong_predictions_in_red():
    preds = LABELS.copy()
    preds[1] = (preds[1] + 1) % 10
    fig = show_digits(IMAGES, LABELS, predictions=preds, n=6, ncols=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    titles = [ax.title for ax in fig.axes]
    assert titles[0].get_text() == f"{LABELS[0]} (pred {preds[0]})"
    assert titles[1].get_color() == "red" and titles[0].get_color() == "black"
    assert plt.get_fignums() == []  # closed from pyplot: no double display


def test_show_digits_accepts_nchw_and_clips_n():
    fig = show_digits(IMAGES[:3, None].astype(np.float32) / 255, n=50)
    assert sum(ax.images != [] for ax in fig.axes) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"images": np.zeros((28, 28))}, r"\(N, H, W\)"),
    ({"images": IMAGES, "labels": LABELS[:5]}, r"shape \(20,\)"),
    ({"images": IMAGES, "start": 20}, "start must be in 0..19"),
    ({"images": IMAGES, "n": 0}, "n and ncols"),
])
def test_show_digits_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        show_digits(**kwargs)


def test_plot_digit_values_writes_nonzero_values():
    image = np.zeros((28, 28), np.uint8)
    image[3, 4], image[10, 10] = 255, 17
    fig = plot_digit_values(image)
    texts = {t.get_text(): t for t in fig.axes[0].texts}
    assert set(texts) == {"255", "17"}
    assert texts["255"].get_position() == (4, 3)  # x = column, y = row
    assert texts["255"].get_color() == "white" and texts["17"].get_color() == "black"


def test_plot_digit_values_into_given_axes_and_bad_shape():
    fig, ax = plt.subplots()
    assert plot_digit_values(IMAGES[0], ax=ax) is fig
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(H, W\).*\(2, 28, 28\)"):
        plot_digit_values(IMAGES[:2])


def test_plot_class_balance_counts():
    y_train = np.repeat(np.arange(10), 3)
    y_test = np.array([0, 0, 9])
    fig = plot_class_balance(y_train, y_test)
    labels = _texts(fig)
    assert labels.count("3") == 10 and "2" in labels
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["train (30)", "test (3)"]


@pytest.mark.parametrize("y, message", [
    (np.array([0, 10]), "0..9"),
    (np.array([0.5]), "integer"),
    (np.zeros((2, 2), int), "shape"),
])
def test_plot_class_balance_bad_input(y, message):
    with pytest.raises(ValueError, match=message):
        plot_class_balance(y, np.array([1]))


def test_browse_digit_good_and_extreme_indices():
    fig = browse_digit(IMAGES, LABELS, 19)
    assert f"#19, label {LABELS[19]}" in _texts(fig)
    for index in (20, -21, 10**9):
        msg = " ".join(_texts(browse_digit(IMAGES, LABELS, index))).replace("\n", " ")
        assert "Cannot show this digit" in msg and "out of range" in msg
    msg = " ".join(_texts(browse_digit(IMAGES[0], LABELS, 0))).replace("\n", " ")
    assert "Cannot show this digit" in msg and "(N, H, W)" in msg
    assert plt.get_fignums() == []


def test_browse_digit_gives_the_values_the_whole_width_at_a_presentation_scale(monkeypatch):
    from cnnlib.viz import presentation
    from cnnlib.viz.digits import browse_digit
    images, labels = np.zeros((2, 28, 28), np.uint8), np.array([3, 7])
    images[1, 5:9, 5:9] = 200
    monkeypatch.setattr(presentation, "_scale", 1.0)
    assert len(browse_digit(images, labels, 1).axes) == 2        # the digit, then its values
    monkeypatch.setattr(presentation, "_scale", 1.6)
    fig = browse_digit(images, labels, 1)
    ax, = fig.axes                                               # the values alone
    assert ax.get_title() == "#1, label 7: pixel values (blank = 0)"
    assert sum(t.get_text() == "200" for t in ax.texts) == 16
    fig = browse_digit(images, labels, 5)                        # a bad index is explained
    assert "Cannot show this digit" in fig.axes[0].texts[0].get_text()
