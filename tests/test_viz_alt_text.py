"""Alt text and the opaque background of displayed figures (cnnlib.viz.alt_text)."""
import io

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
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
