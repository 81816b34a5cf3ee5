"""cnnlib: a convolutional neural network built from scratch in NumPy.

The engine is flat at the top, one module per idea, in the order the notebooks
introduce them:

    conv, pool, im2col     convolution and pooling (loop and vectorised versions)
    fftconv                convolution through the Fourier transform (large kernels)
    layers, losses         ReLU, Flatten, Linear; softmax and cross-entropy
    model, architectures   the Sequential container; the named networks
    gradcheck, checks      numerical gradient checks; input validation
    optim, train, metrics  SGD, momentum, Adam; the training loop; accuracy and reports
    diagnose, files        why training failed; safe writes and checked weights files
    augment                random shifts and small transforms of digits
    cli                    the command line: python -m cnnlib
    recipes                the training recipes (architecture, optimizer, epochs...) by name
    threads, parallel      how many cores to use; a mini-batch split across threads
    workers                a training batch split across worker processes

Two sub-packages sit beside the engine and are never imported by it:
cnnlib.data (MNIST: the bundled sample, IDX files, downloads) and cnnlib.viz
(figures and widgets for the notebooks; needs matplotlib and ipywidgets).
"""

__version__ = "0.5.0"

# The threading policy (cnnlib/threads.py): BLAS single-threaded, cnnlib's own batch
# splitting on the CPUs this process may use; CNNLIB_THREADS=N overrides. Applied on import
# so that every notebook and the CLI get it without a line of their own.
import numpy as _np  # noqa: E402,F401  (BLAS must be loaded before its threads are set)

from .threads import apply_policy as _apply_policy  # noqa: E402

_apply_policy()
