"""Pictures and widgets for the notebooks: everything that draws lives here, apart from
the CNN engine (cnnlib.*), which never imports this package.

Each drawing function returns a matplotlib Figure (show it as a cell's last value or with
display) and explains an impossible setting inside the figure instead of raising.

    base           what every figure does: detached figures, messages, pixel scaling, colours
    digits         grids of digits, one digit's pixel values, class balance       (notebook 00)
    convolution    input, kernel and feature map side by side; feature map grids  (01)
    pooling        pooling windows, their winners and the pooled map               (02)
    probabilities  softmax probabilities and the loss, with a temperature          (03)
    activations    one digit's feature maps and probabilities; trace_activations   (04)
    gradients      where max-pool and convolution gradients go                     (06, 07)
    training       loss and accuracy curves, the live training dashboard, speed-ups (08, 09)
    evaluation     confusion matrix, optimizer comparison                          (10)
    trained        a trained net's filters, feature maps, mistakes, confidence     (11)
    robustness     the net's answer for shifted and rotated digits                 (11)
    drawing        a drawn digit through MNIST's preprocessing, and the net's answer (11)
    canvas         the drawing widget: a canvas for mouse, pen or finger (anywidget) (11)
    depth          signal variance per layer, the init widget, schedules, moved digits (12)
    adversarial    saliency maps, one attack, the smallest flipping eps           (13)
    widgets        every notebook widget, built by one call (kernel_editor, ...)   (00-13)
    show           show_source: the engine's own code, displayed in a notebook     (00-11)
    alt_text       alt text and an opaque white background for every figure shown in Jupyter
    describe       alt texts that say what a figure teaches, from its numbers          (00-10)
    describe_trained  the same for the trained network's figures                    (10-13)
    health         layer health (weight/gradient norms, dead ReLUs), divergence advice (08)
    health_plot    the dashboard's health panels and its alt text                      (08)
    palette        colour pairs that stay apart for colour-blind eyes, and the rule    (all)
    presentation   the presentation scale for a projector, and text_px to measure it  (all)
    a11y           accessible names for sliders (ipywidgets 8 gives them none)        (all)

Presentation scale for a projector: base.set_presentation_scale(1.6) or the environment
variable CNNLIB_PRESENTATION_SCALE (see notebooks/README.md).

Importing any cnnlib.viz module in a Jupyter kernel registers alt_text's formatter.
"""
from .alt_text import register_formatter as _register_formatter

_register_formatter()


def _colab_widgets():
    """On Colab, third-party widgets (our sliders) draw only through its custom widget manager."""
    import sys
    if "google.colab" in sys.modules:
        from google.colab import output
        output.enable_custom_widget_manager()


_colab_widgets()
