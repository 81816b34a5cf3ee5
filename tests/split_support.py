"""What the tests of the batch split (test_parallel.py, test_workers.py) share: an optimizer
that only records the gradients it is given, and a batch of random digits."""

import numpy as np


class Recorder:
    """An optimizer that only copies the gradients it is given."""

    def __init__(self, net):
        self.net, self.grads = net, None

    def step(self):
        self.grads = {k: v.copy() for k, v in self.net.named_grads().items()}


def batch(n, seed=0, dtype=np.float64):
    """n random 28x28 one-channel images in [-0.5, 0.5) and n labels 0-9."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (n, 1, 28, 28)).astype(dtype), rng.integers(0, 10, n)
