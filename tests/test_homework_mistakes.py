"""Every usual mistake of the catalogue (cnnlib/homework/mistakes.py), written the way a
student would write it, fails the student's check AND the grader, and both name it.

The wrong implementations below are loops like the ones students hand in; the catalogue
recognises them only from what their outputs look like."""

import math

import numpy as np
import pytest

from cnnlib.homework import check, exercises, mistakes
from cnnlib.homework.checks import FAILED
from cnnlib.homework.grade import cases_and_expected, judge
from cnnlib.homework.runners import RUNNERS
from cnnlib.layers import Layer
from cnnlib.losses import softmax_cross_entropy
from cnnlib.optim import Optimizer


# ---------------------------------------------------------------- convolution forward
def conv(flip=False, bias_on=None, stride_in_size=True, dtype=None, square=False,
         use_pad=True, start_stride=True):
    def conv2d_loop(x, w, b, stride=1, pad=0):
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        p = pad if use_pad else 0
        s = stride if stride_in_size else 1
        ho = (h + 2 * p - kh) // s + 1
        wo = (wd + 2 * p - kw) // s + 1
        if square:
            wo = ho
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out = np.zeros((n, f, ho, wo), dtype=dtype or np.result_type(x, w))
        k = w[:, :, ::-1, ::-1] if flip else w
        for a in range(n):
            for g in range(f):
                for i in range(ho):
                    for j in range(wo):
                        r, q = (i * stride, j * stride) if start_stride else (i, j)
                        win = xp[a, :, r:r + kh, q:q + kw]
                        out[a, g, i, j] = np.sum(win * k[g]) + (
                            b[g] if bias_on is None or g in bias_on else 0)
        return out
    return conv2d_loop


# ---------------------------------------------------------------- pooling forward
def pool(offset_size=False, absolute=False, from_zero=False, square=False):
    def maxpool_loop(x, kernel_size=2, stride=2):
        n, c, h, w = x.shape
        k = kernel_size
        ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
        if square:
            wo = ho
        out = np.zeros((n, c, ho, wo), dtype=x.dtype)
        for i in range(ho):
            for j in range(wo):
                r, q = (i * k, j * k) if offset_size else (i * stride, j * stride)
                win = x[:, :, r:r + k, q:q + k]
                if absolute:
                    win = np.abs(win)
                m = win.max(axis=(2, 3))
                out[:, :, i, j] = np.maximum(m, 0) if from_zero else m
        return out
    return maxpool_loop


# ---------------------------------------------------------------- softmax family
def softmax_no_keepdims(z):
    e = np.exp(z - z.max(axis=-1))
    return e / e.sum(axis=-1)


def softmax_naive(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_whole(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def log_softmax_no_keepdims(z):
    s = z - z.max(axis=-1)
    return s - np.log(np.exp(s).sum(axis=-1))


def log_softmax_eps(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return np.log(e / e.sum(axis=-1, keepdims=True) + 1e-12)


def log_softmax_of_p(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    with np.errstate(divide="ignore"):
        return np.log(e / e.sum(axis=-1, keepdims=True))


def sce(mean_nk=False, no_n=False, sum_loss=False):
    def softmax_cross_entropy(logits, y):
        n, k = logits.shape
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        onehot = np.eye(k)[y]
        if mean_nk:
            loss = np.mean(-onehot * logp)
        elif sum_loss:
            loss = -logp[np.arange(n), y].sum()
        else:
            loss = -logp[np.arange(n), y].mean()
        d = np.exp(logp) - onehot
        return loss, d if no_n else d / n
    return softmax_cross_entropy


# ---------------------------------------------------------------- layers
def linear(mean_db=False, transposed=False):
    class Linear(Layer):
        def __init__(self, i, o, init="he", seed=0, dtype=np.float32):
            super().__init__()
            self.params = {"W": np.zeros((i, o), dtype), "b": np.zeros(o, dtype)}

        def forward(self, x):
            self.x = x
            return x @ self.params["W"] + self.params["b"]

        def backward(self, dout):
            dw = self.x.T @ dout
            self.grads = {"W": dw.T if transposed else dw,
                          "b": dout.mean(axis=0) if mean_db else dout.sum(axis=0)}
            return dout @ self.params["W"].T
    return Linear


def relu(in_place=False, at_zero=False):
    class ReLU(Layer):
        def forward(self, x):
            self.x = x.copy()
            if in_place:
                x[x < 0] = 0
                return x
            return np.maximum(x, 0)

        def backward(self, dout):
            return dout * ((self.x >= 0) if at_zero else (self.x > 0))
    return ReLU


# ---------------------------------------------------------------- windows that overlap
def pool_back(assign=False, all_maxima=False):
    def maxpool_backward_loop(dout, x, kernel_size=2, stride=2):
        k, s = kernel_size, stride
        dx = np.zeros_like(x)
        n, c, ho, wo = dout.shape
        for a in range(n):
            for ch in range(c):
                for i in range(ho):
                    for j in range(wo):
                        win = x[a, ch, i * s:i * s + k, j * s:j * s + k]
                        if all_maxima:
                            dx[a, ch, i * s:i * s + k, j * s:j * s + k] += \
                                (win == win.max()) * dout[a, ch, i, j]
                            continue
                        u, v = np.unravel_index(np.argmax(win), win.shape)
                        if assign:
                            dx[a, ch, i * s + u, j * s + v] = dout[a, ch, i, j]
                        else:
                            dx[a, ch, i * s + u, j * s + v] += dout[a, ch, i, j]
        return dx
    return maxpool_backward_loop


def im2col_loop(channel_last=False, use_pad=True):
    def im2col(x, kh, kw, stride=1, pad=0):
        p = pad if use_pad else 0
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, c, h, w = xp.shape
        ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
        rows = []
        for a in range(n):
            for i in range(ho):
                for j in range(wo):
                    win = xp[a, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    rows.append((win.transpose(1, 2, 0) if channel_last else win).ravel())
        return np.array(rows)
    return im2col


def col2im_assign(dcols, x_shape, kh, kw, stride=1, pad=0):
    n, c, h, w = x_shape
    ho, wo = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    row = 0
    for a in range(n):
        for i in range(ho):
            for j in range(wo):
                xp[a, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = \
                    dcols[row].reshape(c, kh, kw)
                row += 1
    return xp[:, :, pad:pad + h, pad:pad + w]


def conv_back(flip=False, crop=True, db_axes=(0, 2, 3)):
    def conv2d_backward_loop(dout, x, w, stride=1, pad=0):
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        k = w[:, :, ::-1, ::-1] if flip else w
        for a in range(n):
            for g in range(f):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        r, q = i * stride, j * stride
                        dw[g] += dout[a, g, i, j] * xp[a, :, r:r + kh, q:q + kw]
                        dxp[a, :, r:r + kh, q:q + kw] += dout[a, g, i, j] * k[g]
        dx = dxp[:, :, pad:pad + h, pad:pad + wd] if crop else dxp
        return dx, dw, dout.sum(axis=db_axes)
    return conv2d_backward_loop


# ---------------------------------------------------------------- optimizers, training
def momentum(sign=1, keep=True):
    class Momentum(Optimizer):
        def __init__(self, net, lr, momentum=0.9, weight_decay=0.0):
            self.momentum = momentum
            super().__init__(net, lr, weight_decay)

        def update(self, name, p, g):
            v = self.state.get(name, np.zeros_like(p)) if keep else np.zeros_like(p)
            v = self.momentum * v + sign * self.lr * g     # sign=-1 is right
            self.state[name] = v
            p += v
    return Momentum


def adam(correct=True, eps_inside=False):
    class Adam(Optimizer):
        def __init__(self, net, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
            self.beta1, self.beta2, self.eps = beta1, beta2, eps
            super().__init__(net, lr, weight_decay)
            self.t = 0

        def step(self):
            self.t += 1
            super().step()

        def update(self, name, p, g):
            m, v = self.state.setdefault(name, (np.zeros_like(p), np.zeros_like(p)))
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            mh = m / (1 - self.beta1 ** self.t) if correct else m
            vh = v / (1 - self.beta2 ** self.t) if correct else v
            p -= self.lr * mh / (np.sqrt(vh + self.eps) if eps_inside else np.sqrt(vh) + self.eps)
    return Adam


def train(always=False, step=True):
    def train_step(net, xb, yb, optimizer):
        logits = net.forward(xb)
        loss, dlogits = softmax_cross_entropy(logits, yb)
        if always or math.isfinite(loss):
            net.backward(dlogits)
            if step:
                optimizer.step()
        return loss, logits
    return train_step


# ---------------------------------------------------------------- FGSM
def fgsm_answer(sign=+1, use_sign=True, clip=True):
    def fgsm(net, x, labels, eps, target=None):
        from cnnlib.saliency import input_gradient
        if target is None:
            g = input_gradient(net, x, labels, of="loss")
        else:
            g = -input_gradient(net, x, target, of="loss")
        adv = x + sign * eps * (np.sign(g) if use_sign else g)
        return np.clip(adv, -0.5, 0.5) if clip else adv
    return fgsm


# ---------------------------------------------------------------- notebook 12's layers
def batchnorm(axes4=(0, 2, 3), eps_outside=False, ddof=0, batch_at_eval=False, update=True,
              swap=False, running_ddof=1, backward="full", mode_aware=True):
    class BatchNorm(Layer):
        def __init__(self, num_features, momentum=0.9, eps=1e-5, dtype=np.float32):
            super().__init__()
            self.momentum, self.eps, self.training = momentum, eps, True
            self.params = {"gamma": np.ones(num_features, dtype),
                           "beta": np.zeros(num_features, dtype)}
            self.buffers = {"running_mean": np.zeros(num_features, dtype),
                            "running_var": np.ones(num_features, dtype)}

        def forward(self, x):
            axes = (0,) if x.ndim == 2 else axes4
            shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
            if self.training or batch_at_eval:
                mu, var = x.mean(axis=axes), x.var(axis=axes, ddof=ddof)
            else:
                mu, var = self.buffers["running_mean"], self.buffers["running_var"]
            if self.training and update:
                a = 1 - self.momentum if swap else self.momentum
                run = self.buffers["running_mean"]
                run *= a
                run += (1 - a) * mu
                run = self.buffers["running_var"]
                run *= a
                run += (1 - a) * x.var(axis=axes, ddof=running_ddof)
            s = np.sqrt(var) + self.eps if eps_outside else np.sqrt(var + self.eps)
            self.s = s.reshape(shape)
            self.xhat = (x - mu.reshape(shape)) / self.s
            self.mode = self.training
            return self.params["gamma"].reshape(shape) * self.xhat + \
                self.params["beta"].reshape(shape)

        def backward(self, dout):
            axes = (0,) if dout.ndim == 2 else (0, 2, 3)
            shape = (1, -1) if dout.ndim == 2 else (1, -1, 1, 1)
            self.grads = {"gamma": (dout * self.xhat).sum(axis=axes), "beta": dout.sum(axis=axes)}
            dxhat = dout * self.params["gamma"].reshape(shape)
            if mode_aware and not self.mode:
                return dxhat / self.s
            mean_term = dxhat.mean(axis=axes, keepdims=True)
            xhat_term = self.xhat * (dxhat * self.xhat).mean(axis=axes, keepdims=True)
            if backward == "constants":
                return dxhat / self.s
            if backward == "no mean term":
                return (dxhat - xhat_term) / self.s
            if backward == "no xhat term":
                return (dxhat - mean_term) / self.s
            return (dxhat - mean_term - xhat_term) / self.s
    return BatchNorm


def dropout(scale=True, at_eval=False, reuse=True, advance=True, own_rng=False):
    class Dropout(Layer):
        def __init__(self, p=0.5, seed=0):
            super().__init__()
            self.p, self.seed, self.training = p, seed, True
            self.buffers = {"step": np.zeros((), np.int64)}

        def forward(self, x):
            self.mask = None
            if (not self.training and not at_eval) or self.p == 0:
                return x
            rng = np.random.default_rng((self.seed, int(self.buffers["step"])))
            u = rng.random(x.shape)
            keep = (u < 1 - self.p if own_rng else u >= self.p).astype(x.dtype)
            if advance:
                self.buffers["step"] += 1
            self.mask = keep / (1 - self.p) if scale else keep
            return x * self.mask

        def backward(self, dout):
            if self.mask is None:
                return dout
            if not reuse:                 # a new mask, drawn like forward's
                rng = np.random.default_rng((self.seed, int(self.buffers["step"])))
                return dout * (rng.random(dout.shape) >= self.p) / (1 - self.p)
            return dout * self.mask
    return Dropout


def residual(skip=True, branch=True):
    from cnnlib.residual import Residual as CnnlibResidual

    class Residual(CnnlibResidual):
        def backward(self, dout):
            d = dout
            for layer in reversed(self.inner):
                d = layer.backward(d)
            if not branch:
                return dout
            return dout + d if skip else d
    return Residual


FIXTURES = {
    # the fourteen of issue 20
    "flipped-kernel": conv(flip=True),
    "stride-not-in-size": conv(stride_in_size=False),
    "bias-some-filters": conv(bias_on={0}),
    "float32-accumulation": conv(dtype=np.float32),
    "square-only": conv(square=True),
    "input-in-place": relu(in_place=True),
    "window-offset-size": pool(offset_size=True),
    "max-of-abs": pool(absolute=True),
    "overwrite-overlap": pool_back(assign=True),
    "mean-over-NK": sce(mean_nk=True),
    "max-shift-no-keepdims": softmax_no_keepdims,
    "log-p-plus-eps": log_softmax_eps,
    "adam-no-bias-correction": adam(correct=False),
    "momentum-wrong-sign": momentum(sign=+1),
    # more
    "no-padding": conv(use_pad=False),
    "start-without-stride": conv(start_stride=False),
    "max-from-zero": pool(from_zero=True),
    "square-only-pool": pool(square=True),
    "no-max-shift": softmax_naive,
    "whole-array": softmax_whole,
    "log-of-zero": log_softmax_of_p,
    "max-shift-no-keepdims-log": log_softmax_no_keepdims,
    "dlogits-not-divided": sce(no_n=True),
    "sum-not-mean": sce(sum_loss=True),
    "db-mean": linear(mean_db=True),
    "dw-transposed": linear(transposed=True),
    "grad-at-zero": relu(at_zero=True),
    "ties-counted-twice": pool_back(all_maxima=True),
    "dx-flipped": conv_back(flip=True),
    "dx-not-cropped": conv_back(crop=False),
    "db-shape": conv_back(db_axes=(0,)),
    "overwrite-overlap-col2im": col2im_assign,
    "cols-channel-last": im2col_loop(channel_last=True),
    "cols-no-padding": im2col_loop(use_pad=False),
    "adam-eps-inside": adam(eps_inside=True),
    "momentum-no-state": momentum(sign=-1, keep=False),
    "step-on-nan": train(always=True),
    "no-step": train(step=False),
    "fgsm-wrong-sign": fgsm_answer(sign=-1),
    "fgsm-no-clip": fgsm_answer(clip=False),
    "fgsm-gradient-not-sign": fgsm_answer(use_sign=False),
    # notebook 12
    "bn-stats-per-pixel": batchnorm(axes4=(0,)),
    "bn-eps-outside-sqrt": batchnorm(eps_outside=True),
    "bn-unbiased-var": batchnorm(ddof=1),
    "bn-batch-stats-at-inference": batchnorm(batch_at_eval=True),
    "bn-running-stats-not-updated": batchnorm(update=False),
    "bn-momentum-swapped": batchnorm(swap=True),
    "bn-running-var-biased": batchnorm(running_ddof=0),
    "bn-backward-no-batch-terms": batchnorm(backward="constants"),
    "bn-backward-missing-a-term": batchnorm(backward="no mean term"),
    "bn-training-backward-at-inference": batchnorm(mode_aware=False),
    "dropout-not-rescaled": dropout(scale=False),
    "dropout-same-mask": dropout(advance=False),
    "dropout-at-inference": dropout(at_eval=True),
    "dropout-mask-not-reused": dropout(reuse=False),
    "dropout-other-mask": dropout(own_rng=True),
    "residual-no-skip-gradient": residual(skip=False),
    "residual-skip-only": residual(branch=False),
}
RIGHT = {"batchnorm": batchnorm(), "dropout": dropout(), "residual_backward": residual()}
# a second fixture for mistakes with more than one form
MORE = {"bn-backward-missing-a-term": batchnorm(backward="no xhat term")}
BY_ID = {m.id: m for m in mistakes.CATALOGUE}


def test_every_mistake_of_the_catalogue_has_a_fixture_and_the_issue_s_fourteen_are_there():
    assert set(FIXTURES) == set(BY_ID)
    assert len(BY_ID) >= 14 + 10


def grading_process(ex, obj):
    """What the grading process does with an answer (sandbox.grade_main), in this process."""
    meta, outs = {"errors": []}, {}
    for i, case in enumerate(cases_and_expected(ex.id)[0]):
        work = {k: (np.copy(v) if isinstance(v, np.ndarray) else v)
                for k, v in case["inputs"].items()}
        try:
            with np.errstate(all="ignore"):
                got = RUNNERS[ex.id](obj, work)
            meta["errors"].append(None)
        except Exception as err:
            got = {}
            meta["errors"].append(f"{type(err).__name__}: {err}")
        for k, v in got.items():
            if v is not None:
                outs[f"{i}/{k}"] = np.asarray(v)
        for k, v in work.items():
            if isinstance(v, np.ndarray):
                outs[f"{i}/input after: {k}"] = v
    return meta, outs


@pytest.mark.parametrize("mistake_id", sorted(FIXTURES))
def test_the_mistake_is_caught_and_named_by_the_check_and_by_the_grader(mistake_id):
    m = BY_ID[mistake_id]
    ex = exercises.get(m.exercise)
    wrong = FIXTURES[mistake_id]
    res = check(ex.id, wrong, hidden=True, quiet=True)
    assert res.status == FAILED, res.message
    assert m.says in res.message, res.message
    score, reason, detail = judge(ex, *grading_process(ex, wrong))
    assert score == 0 and m.says in reason, reason
    assert detail["mistake"] == m.says


@pytest.mark.parametrize("mistake_id", sorted(MORE))
def test_the_other_form_of_a_mistake_is_named_too(mistake_id):
    m = BY_ID[mistake_id]
    res = check(m.exercise, MORE[mistake_id], hidden=True, quiet=True)
    assert res.status == FAILED and m.says in res.message, res.message


@pytest.mark.parametrize("ex_id", sorted(RIGHT))
def test_the_right_answer_written_the_same_way_scores_full_marks(ex_id):
    """The fixtures above with no mistake switched on pass the check and score 1, so each
    mistake's failure is the mistake's doing."""
    ex = exercises.get(ex_id)
    res = check(ex_id, RIGHT[ex_id], hidden=True, quiet=True)
    assert res.passed, res.message
    assert judge(ex, *grading_process(ex, RIGHT[ex_id]))[0] == 1


def test_a_right_answer_is_not_diagnosed_with_any_mistake():
    # every detector stays silent on cnnlib's own outputs
    for ex in exercises.EXERCISES:
        for case, expected in zip(*cases_and_expected(ex.id)):
            assert mistakes.diagnose(ex.id, case, expected, expected, "") == "", (ex.id, case["name"])
