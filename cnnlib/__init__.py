"""cnnlib: a convolutional neural network built from scratch in NumPy.

The engine is flat at the top, one module per idea, in the order the notebooks
introduce them:

    conv, pool, im2col     convolution and pooling (loop and vectorised versions)
    layers, losses         ReLU, Flatten, Linear; softmax and cross-entropy
    model, architectures   the Sequential container; the named networks
    gradcheck, checks      numerical gradient checks; input validation
    optim, train, metrics  SGD, momentum, Adam; the training loop; accuracy and reports
    diagnose, files        why training failed; safe writes and checked weights files
    augment                random shifts and small transforms of digits
    cli                    the command line: python -m cnnlib

Two sub-packages sit beside the engine and are never imported by it:
cnnlib.data (MNIST: the bundled sample, IDX files, downloads) and cnnlib.viz
(figures and widgets for the notebooks; needs matplotlib and ipywidgets).
"""

__version__ = "0.2.0"
