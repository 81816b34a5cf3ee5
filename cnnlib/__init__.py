"""cnnlib: a convolutional neural network built from scratch in NumPy.

The teaching engine is flat at the top, one module per idea, in the order the notebooks
introduce them, with the entry points that run it:

    conv, pool, im2col     convolution and pooling (loop and vectorised versions)
    layers, losses         ReLU, Flatten, Linear; softmax and cross-entropy
    model, architectures   the Sequential container; the named networks
    gradcheck, checks      numerical gradient checks; input validation
    optim, train, metrics  SGD, momentum, Adam; the training loop; accuracy and reports
    diagnose, files        why training failed; safe writes and checked weights files
    augment                random shifts, rotations and small transforms of digits
    saliency, attacks      what a trained network looks at; adversarial digits (FGSM, PGD)
    batchnorm, dropout     batch normalisation; inverted dropout             (notebook 12)
    residual, schedules    the residual block; learning-rate schedules       (notebook 12)
    cli, recipes           the command line (python -m cnnlib); training recipes by name

Sub-packages beside it:

    speed      the speed-ups no notebook shows: cores and threads, a batch split across
               threads or worker processes, the Fourier-transform convolution. Only
               train, model and architectures import it (train through the one seam,
               speed.steps.split_batches), and the package's __init__ and cli, which
               apply its threading policy.
    data       MNIST: the bundled sample, IDX files, downloads
    viz        figures and widgets for the notebooks (needs matplotlib and ipywidgets)
    homework   the homework edition: build, checks, grading
    course     maintainer tooling: the preview site and the launch links (not installed)

The engine never imports viz, homework or course; tests/test_architecture_rules.py
checks these rules.
"""

__version__ = "0.5.0"

# The threading policy (cnnlib/speed/threads.py): BLAS single-threaded, cnnlib's own batch
# splitting on the CPUs this process may use; CNNLIB_THREADS=N overrides. Applied on import
# so that every notebook and the CLI get it without a line of their own.
import numpy as _np  # noqa: E402,F401  (BLAS must be loaded before its threads are set)

from .speed.threads import apply_policy as _apply_policy  # noqa: E402

_apply_policy()
