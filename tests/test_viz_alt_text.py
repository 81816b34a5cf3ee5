"""Alt text and the opaque background of displayed figures (cnnlib.viz.alt_text)."""
import io

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlib.viz import alt_text as at


def figure(ncols=1, titles=(), xlabel=""):
    fig, axes = plt.subplots(1, ncols, squeeze=False)
    plt.close(fig)
    for ax, title in zip(axes.flat, titles):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    return fig


def test_generated_text_names_panels_titles_and_labels():
    fig = figure(3, ["loss", "accuracy", "loss"], xlabel="epoch")
    fig.suptitle("training")
    text = at.alt_text(fig)
    assert text == ("Figure 'training' with 3 panels: loss (x axis: epoch) (x2); "
                    "accuracy (x axis: epoch).")


def test_message_panel_says_its_message_and_colorbars_are_not_panels():
    fig = figure()
    ax = fig.axes[0]
    ax.text(0.5, 0.5, "Cannot show this digit:\nindex 7 is out of range")
    fig.colorbar(ax.imshow([[0, 1]]), ax=ax)
    assert at.alt_text(fig) == "Figure with 1 panel: Cannot show this digit: index 7 is out of range."


def test_own_text_wins_and_empty_text_is_refused():
    fig = at.set_alt_text(figure(2, ["a", "b"]), "Two digits side by side")
    assert at.alt_text(fig) == "Two digits side by side"
    with pytest.raises(ValueError, match="say what the figure shows"):
        at.set_alt_text(fig, "  ")


def test_long_descriptions_are_cut():
    fig = figure(40, [f"panel title number {i}" for i in range(40)])
    text = at.alt_text(fig)
    assert len(text) == at.MAX_CHARS and text.endswith("…")


def test_png_is_opaque_white_even_for_a_transparent_figure():
    fig = figure(1, ["x"])
    fig.patch.set_facecolor((1, 1, 1, 0))        # what the inline backend's rc does
    fig.patch.set_alpha(0.0)                      # and a drawing function might add
    png, meta = at.figure_png(fig)
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    assert pixels.shape[2] == 3 or pixels[..., 3].min() == 1.0
    assert pixels[0, 0, :3].min() == 1.0          # the corner is white
    assert meta == {"alt": "Figure with 1 panel: x.", "needs_background": "light"}


def test_html_form_escapes_the_alt_text():
    fig = at.set_alt_text(figure(), 'a "quoted" <b>label</b>')
    html = at.figure_html(fig)
    assert 'alt="a &quot;quoted&quot; &lt;b&gt;label&lt;/b&gt;"' in html
    assert html.startswith('<img src="data:image/png;base64,iVBOR')


def test_registered_in_an_ipython_shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    assert at.register_formatter(shell)
    data, meta = shell.display_formatter.format(figure(2, ["left", "right"]))
    assert data["text/plain"] == "Figure with 2 panels: left; right."
    assert meta["image/png"]["alt"] == data["text/plain"]
    assert 'alt="Figure with 2 panels' in data["text/html"]
    shell.run_cell("pass")                        # the pre_run_cell hook keeps it registered
    assert shell.display_formatter.formatters["image/png"].lookup_by_type(
        type(figure())) is at.figure_png


def test_outside_ipython_nothing_is_registered():
    import subprocess
    import sys
    code = "from cnnlib.viz.alt_text import register_formatter as r; print(r())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


# ---------------------------------------------------------------- the lesson, in words
def test_pool_routing_alt_text_names_each_winner_and_its_gradient():
    from cnnlib.viz.gradients import plot_pool_routing
    x = np.array([[1, 3, 0, 0.6], [2, 0, 0.6, 0.2], [0, 0, 7, 1], [0.5, 0, 0, 2.0]])
    text = at.alt_text(plot_pool_routing(x, np.array([[1, 2], [3, 4.0]])))
    # the largest of each 2x2 window, found by hand: 3 at (0, 1), 0.6 at (0, 3) (first of
    # the tie with (1, 2)), 0.5 at (3, 0), 7 at (2, 2)
    for part in ("window (0, 0): x[0, 1] = 3 gets 1", "window (0, 1): x[0, 3] = 0.6 gets 2",
                 "window (1, 0): x[3, 0] = 0.5 gets 3", "window (1, 1): x[2, 2] = 7 gets 4",
                 "1 position(s) tie"):
        assert part in text
    assert "panels" not in text


def test_history_alt_text_says_how_the_loss_moved():
    from cnnlib.viz.training import plot_history
    text = at.alt_text(plot_history({"loss": [2.3, 0.5, 0.11], "acc": [0.3, 0.8, 0.95]}))
    assert text.startswith("The training loss falls from 2.30 to 0.11 over 3 epochs")
    assert "training accuracy rises from 30% to 95%" in text
    text = at.alt_text(plot_history({"loss": [1.0, float("nan")], "acc": [0.5, 0.1]}))
    assert "is 1.00 after 1 epoch" in text and "not drawn" in text


def test_pooling_convolution_softmax_and_digit_alt_texts_come_from_the_data():
    from cnnlib.viz.convolution import plot_convolution
    from cnnlib.viz.digits import browse_digit
    from cnnlib.viz.pooling import plot_pooling
    from cnnlib.viz.probabilities import plot_probabilities
    text = at.alt_text(plot_pooling(np.arange(36.0).reshape(6, 6), 2, 2, "max"))
    # 6x6 ramp 0..35, 2x2 windows: winners 7 (rows 0-1, cols 0-1) ... 35
    assert "shrinks the 6×6 feature map to 3×3" in text and "run from 7 to 35" in text
    image = np.zeros((5, 5))
    image[1:4, 2] = 255                              # a vertical bar of full ink, 1 after / 255
    text = at.alt_text(plot_convolution(image, np.array([[1.0, -1.0]])))
    # by hand, out[r, c] = x[r, c] - x[r, c + 1]: -1 at column 1, +1 at column 2, rows 1..3
    assert "gives a 5×4 feature map" in text
    assert "strongest response is 1 at row 1, column 2" in text
    assert "most negative -1 at row 1, column 1" in text
    text = at.alt_text(plot_probabilities([0.0, 0.0, np.log(2.0)], 2))
    # exp([0, 0, ln 2]) / 4 = [0.25, 0.25, 0.5]; loss -ln 0.5 = 0.693
    assert "class 2 is most probable (0.50)" in text and "-log p is 0.693" in text
    digits = np.zeros((2, 28, 28), np.uint8)
    digits[1, 10:12, 10:13] = 255
    text = at.alt_text(browse_digit(digits, np.array([3, 7]), 1))
    assert text.startswith("Digit #1, label 7: 28×28 pixels, 6 of 784 not 0 (the ink), "
                           "the brightest 255")
