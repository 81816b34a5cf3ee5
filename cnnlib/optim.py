"""Optimizers: turn the gradients left by net.backward into a parameter update.

    opt = Adam(net, lr=1e-3)
    ...; net.backward(dlogits); opt.step()

Each optimizer reads net.named_params() and net.named_grads() ("0.W", "0.b", ...),
updates the parameters in place, and keeps its own state (velocity, moments) in
dicts keyed by the same names.

weight_decay adds weight_decay * W to the gradient of every weight matrix "W"
(the L2 penalty weight_decay/2 * ||W||^2; biases are not decayed).

Introduced in notebooks/08_training.ipynb (SGD, momentum); Adam in notebooks/10_deeper_cnn.ipynb.
"""

import numpy as np


class Optimizer:
    """Shared loop: for every parameter p with gradient g, call self.update(name, p, g).

    Introduced in notebooks/08_training.ipynb.
    """

    def __init__(self, net, lr, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"lr must be > 0; got {lr!r}.")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay!r}.")
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self.state = {}

    def step(self):
        grads = self.net.named_grads()
        for name, p in self.net.named_params().items():
            if name not in grads:
                raise ValueError(f"no gradient for {name!r}: call net.backward() before step().")
            g = grads[name]
            if self.weight_decay and name.endswith(".W"):
                g = g + self.weight_decay * p
            self.update(name, p, g)

    def update(self, name, p, g):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr:g}, weight_decay={self.weight_decay:g})"


class SGD(Optimizer):
    """Plain gradient descent: p <- p - lr * g.

    Introduced in notebooks/08_training.ipynb.
    """

    def update(self, name, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    """SGD with momentum: v <- momentum * v - lr * g ; p <- p + v.

    v is a running (decaying) sum of past steps, so directions that agree from
    step to step speed up and zig-zags cancel out.

    Introduced in notebooks/08_training.ipynb.
    """

    def __init__(self, net, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(net, lr, weight_decay)
        self.momentum = momentum

    def update(self, name, p, g):
        v = self.state.setdefault(name, np.zeros_like(p))
        v *= self.momentum
        v -= self.lr * g
        p += v


class Adam(Optimizer):
    """Adam: running means of g (m) and g^2 (v), bias-corrected, give a per-parameter step.

    m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2      (m, v start at 0)
    m_hat = m / (1 - b1^t) ;  v_hat = v / (1 - b2^t)        (t = number of steps so far)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Introduced in notebooks/10_deeper_cnn.ipynb.
    """

    def __init__(self, net, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(net, lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0

    def step(self):
        self.t += 1
        super().step()

    def update(self, name, p, g):
        m, v = self.state.setdefault(name, (np.zeros_like(p), np.zeros_like(p)))
        m += (1 - self.beta1) * (g - m)          # same as m = b1 m + (1 - b1) g
        v += (1 - self.beta2) * (g * g - v)
        m_hat = m / (1 - self.beta1 ** self.t)
        v_hat = v / (1 - self.beta2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
