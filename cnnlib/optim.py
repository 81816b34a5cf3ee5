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

from .checks import check_real

__all__ = ["Adam", "Momentum", "Optimizer", "OPTIMIZERS", "SGD"]


class Optimizer:
    """Shared loop: for every parameter p with gradient g, call self.update(name, p, g).

    Introduced in notebooks/08_training.ipynb.
    """

    def __init__(self, net, lr, weight_decay=0.0):
        if not hasattr(net, "named_params"):
            raise TypeError(f"the first argument must be the network to train (a Sequential); "
                            f"got {type(net).__name__}. Build it as {type(self).__name__}(net, "
                            f"lr=...).")
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self.state = {}
        self.check()

    def check(self):
        """Validate the hyper-parameters (again: fit calls this, lr may have been changed).

        Raises ValueError naming the setting, what is allowed and what it holds.
        """
        check_real(self.lr, "lr", 0, low_open=True)
        check_real(self.weight_decay, "weight_decay", 0)

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
        self.momentum = momentum
        super().__init__(net, lr, weight_decay)

    def check(self):
        super().check()
        # momentum 1 never forgets a step (the velocity grows without end); above 1 it explodes
        check_real(self.momentum, "momentum", 0, high=1)

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
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        super().__init__(net, lr, weight_decay)
        self.t = 0

    def check(self):
        super().check()
        # beta = 1 makes the bias correction 1 - beta**t zero: 0/0 = NaN on the first step
        check_real(self.beta1, "beta1", 0, high=1)
        check_real(self.beta2, "beta2", 0, high=1)
        check_real(self.eps, "eps", 0, low_open=True)
        for dtype in {p.dtype for p in self.net.named_params().values()}:
            if dtype.kind == "f" and dtype.type(self.eps) == 0:
                raise ValueError(f"eps={self.eps:g} is 0 in the network's dtype {dtype} (its "
                                 f"smallest number is {np.finfo(dtype).smallest_subnormal:.3g}),"
                                 f" so Adam would divide by zero; use eps=1e-4 or build the "
                                 f"network in float32.")

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
