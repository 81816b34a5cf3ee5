"""cnnlib: a convolutional neural network built from scratch in NumPy.

One module per idea, in the order the notebooks introduce them:
data (MNIST), conv, pool, layers, losses, gradcheck, model, optim, train, metrics.
"""

__version__ = "0.1.0"
