"""Test cases for notebook 12's exercises (BatchNorm, Dropout, the residual block's backward),
in the format of cases.py: a hand-sized case, random shapes and the edge cases, each aimed
at a usual mistake (cnnlib/homework/mistakes_beyond.py names them).
"""

import numpy as np


def _case(name, hint, **inputs):
    return {"name": name, "hint": hint, "inputs": inputs}


def _bn(r, name, hint, shape, eps=1e-5, momentum=0.9, eval_n=3, x=None):
    c = shape[1]
    eval_shape = (eval_n,) + tuple(shape[1:])
    return _case(name, hint, x=r.normal(2, 3, size=shape) if x is None else x,
                 dout=r.normal(size=shape), gamma=r.normal(1, 0.5, size=c),
                 beta=r.normal(size=c), running_mean=r.normal(size=c),
                 running_var=r.uniform(0.5, 2, size=c), momentum=momentum, eps=eps,
                 x_eval=r.normal(2, 3, size=eval_shape), dout_eval=r.normal(size=eval_shape))


def batchnorm_cases(r, hidden):
    hand = _case("hand-sized: 2 samples, 2 features [[1, 2], [3, 6]], gamma 1, beta 0",
                 "feature 0 has mean 2 and variance 1, so out (training) is about [-1, 1] in "
                 "each column; running_mean after = 0.9 * 0 + 0.1 * [2, 4] = [0.2, 0.4]; the "
                 "running variance takes the UNBIASED variance (divide by m - 1 = 1): "
                 "0.9 * 1 + 0.1 * [2, 8] = [1.1, 1.7]; dx (training) is almost 0: with two "
                 "samples xhat is -1 and 1 whatever x is",
                 x=np.array([[1.0, 2.0], [3.0, 6.0]]), dout=np.array([[1.0, -1.0], [2.0, 0.5]]),
                 gamma=np.ones(2), beta=np.zeros(2), running_mean=np.zeros(2),
                 running_var=np.ones(2), momentum=0.9, eps=1e-5,
                 x_eval=np.array([[2.0, 4.0]]), dout_eval=np.ones((1, 2)))
    cs = [hand,
          _bn(r, "random (N, D) = (8, 5) features", "training statistics per feature over "
              "the batch (axis 0); mu and var depend on every x, so dx = gamma / (m * s) * "
              "(m * g - sum(g) - xhat * sum(g * xhat)), not just gamma * g / s", (8, 5)),
          _bn(r, "images (N, C, H, W) = (3, 4, 5, 5): one mean and variance per channel",
              "take the statistics over axes (0, 2, 3) (_axes(x)): m = N*H*W numbers per "
              "channel, in the formulas and in the sums of backward", (3, 4, 5, 5)),
          _bn(r, "eps = 0.1 and features of small variance", "eps goes INSIDE the square "
              "root: xhat = (x - mu) / sqrt(var + eps), with var divided by m (not m - 1)",
              (6, 3), eps=0.1, x=r.normal(0, 0.2, size=(6, 3))),
          _bn(r, "inference on ONE digit (x_eval of 1 sample)", "in inference mode "
              "(self.training False) use running_mean and running_var, never the batch's own "
              "statistics, and leave the running averages alone; backward is then just "
              "gamma * dout / sqrt(running_var + eps)", (4, 2, 3, 3), eval_n=1)]
    ng = _bn(r, "numerical gradient (float64)", "dx, grads['gamma'] and grads['beta'] must "
             "be the gradients of sum(out * dout) in training mode", (5, 3))
    ng["numgrad"] = True
    cs.append(ng)
    if hidden:
        cs += [_bn(r, "hidden: (16, 7) features, momentum 0.5", "", (16, 7), momentum=0.5),
               _bn(r, "hidden: (2, 3, 4, 6) images, eps 1e-3, inference on 1", "", (2, 3, 4, 6),
                   eps=1e-3, eval_n=1)]
    return cs


def dropout_cases(r, hidden):
    def case(name, hint, shape, p, seed, dtype=np.float64):
        return _case(name, hint, x=r.normal(size=shape).astype(dtype),
                     dout=r.normal(size=shape).astype(dtype), p=p, seed=seed)
    cs = [_case("hand-sized: p = 0.5 on a 4x6 array of ones",
                "kept numbers become 1 / (1 - p) = 2, dropped ones 0; keep = "
                "np.random.default_rng((self.seed, step)).random(x.shape) >= self.p",
                x=np.ones((4, 6)), dout=np.ones((4, 6)), p=0.5, seed=0),
          case("random (N, C, H, W) = (2, 3, 4, 4), p = 0.3", "backward multiplies dout by "
               "the SAME mask forward used, 1 / (1 - p) included: keep it in self.mask", (2, 3, 4, 4),
               0.3, 5),
          case("a second batch gets a new mask", "the batch counter self.buffers['step'] "
               "chooses the mask: add 1 to it after drawing, so batch 2 is not batch 1 again",
               (3, 10), 0.4, 11),
          case("p = 0: nothing is dropped", "with p = 0 every number is kept and the scale "
               "is 1: out is x", (2, 5), 0.0, 2),
          case("float32 input keeps float32", "build the mask in x's dtype "
               "(keep.astype(x.dtype) / (1 - p)): a bool array divided by a Python float is "
               "float64, and so is x times it", (3, 2, 5), 0.25, 3, np.float32)]
    if hidden:
        cs += [case("hidden: p = 0.8, (5, 40)", "", (5, 40), 0.8, 7)]
    return cs


def residual_cases(r, hidden):
    def case(name, hint, shape, zero=False):
        c = shape[1]
        wshape = (c, c) if len(shape) == 2 else (c, c, 3, 3)
        scale = 0.0 if zero else 1 / np.sqrt(np.prod(wshape[1:]))
        return _case(name, hint, x=r.normal(size=shape), dout=r.normal(size=shape),
                     W1=r.normal(size=wshape) * scale, b1=r.normal(size=c) * 0.1,
                     W2=r.normal(size=wshape) * scale, b2=r.normal(size=c) * 0.1)
    cs = [case("hand-sized: the branch's weights are all 0", "F(x) = 0 whatever x is, so dx "
               "= dout: the skip hands the gradient on unchanged", (3, 4), zero=True),
          case("random (N, D) = (5, 6): Linear -> ReLU -> Linear", "dx = dout + the branch's "
               "gradient: run dout back through the inner layers in REVERSE order (their "
               "backward also fills their grads), then add dout", (5, 6)),
          case("images (2, 3, 5, 5): Conv 3x3 pad 1 -> ReLU -> Conv 3x3 pad 1", "the same "
               "rule for any inner layers: the branch's gradient plus the skip's", (2, 3, 5, 5))]
    ng = case("numerical gradient (float64)", "dx and every inner gradient must be those of "
              "sum((x + F(x)) * dout)", (4, 5))
    ng["numgrad"] = True
    cs.append(ng)
    if hidden:
        cs += [case("hidden: (16, 10) features", "", (16, 10)),
               case("hidden: (1, 4, 6, 6) images", "", (1, 4, 6, 6))]
    return cs


MAKERS = {"batchnorm": batchnorm_cases, "dropout": dropout_cases,
          "residual_backward": residual_cases}
