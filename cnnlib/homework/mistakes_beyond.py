"""The usual mistakes of notebook 12's exercises (BatchNorm, Dropout, the residual block's
backward), recognised from what the outputs look like, in the format of mistakes.py (whose
CATALOGUE ends with these). Each detector recomputes, from a failing case's inputs, what the
mistaken code returns and compares it with the answer.
"""

import numpy as np

from .mistake_base import Mistake as M, _f, _g, close


# ---------------------------------------------------------------- BatchNorm
def _axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _shape(v, x):
    return v.reshape((1, -1) if x.ndim == 2 else (1, -1, 1, 1))


def _bn_out(i, x=None, ddof=0, eps_inside=True, axes=None):
    """Training-mode BatchNorm of x (default: the case's x) with the given slips."""
    x = _f(i["x"]) if x is None else x
    axes = _axes(x) if axes is None else axes
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=ddof)
    eps = float(i["eps"])
    xhat = (x - mu) / (np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps)
    return _shape(_f(i["gamma"]), x) * xhat + _shape(_f(i["beta"]), x)


def _bn_is(key, cand):
    def matches(i, got, want, problem):
        c = cand(i)
        return close(_g(got, key), c) and not close(want.get(key), c)
    return matches


def _running(i, stat, momentum_swapped=False, ddof=1):
    x, m = _f(i["x"]), float(i["momentum"])
    batch = x.mean(axis=_axes(x)) if stat == "mean" else x.var(axis=_axes(x), ddof=ddof)
    run = _f(i[f"running_{stat}"])
    return m * batch + (1 - m) * run if momentum_swapped else m * run + (1 - m) * batch


def _backward_variants(i):
    """dx of training-mode BatchNorm without its mean term, its xhat term, or both."""
    x, g = _f(i["x"]), _f(i["dout"])
    axes = _axes(x)
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    s = np.sqrt(var + float(i["eps"]))
    xhat, scale = (x - mu) / s, _shape(_f(i["gamma"]), x) / s
    mean_g = g.mean(axis=axes, keepdims=True)
    along = xhat * (g * xhat).mean(axis=axes, keepdims=True)
    return {"both": scale * g, "mean": scale * (g - along), "xhat": scale * (g - mean_g)}


def _bn_backward_missing(which):
    def matches(i, got, want, problem):
        dx = _g(got, "dx (training)")
        return any(close(dx, _backward_variants(i)[k]) and
                   not close(want.get("dx (training)"), _backward_variants(i)[k]) for k in which)
    return matches


def _stats_not_updated(i, got, want, problem):
    return any(close(_g(got, f"{k} after"), i[k]) and not close(want.get(f"{k} after"), i[k])
               for k in ("running_mean", "running_var"))


def _training_backward_at_inference(i, got, want, problem):
    x, g = _f(i["x_eval"]), _f(i["dout_eval"])
    axes = _axes(x)
    # the running statistics after the training step, which inference uses
    s = np.sqrt(_shape(_f(want["running_var after"]), x) + float(i["eps"]))
    xhat = (x - _shape(_f(want["running_mean after"]), x)) / s
    m = x.size // x.shape[1]
    cand = _shape(_f(i["gamma"]), x) / (m * s) * (
        m * g - g.sum(axis=axes, keepdims=True) - xhat * (g * xhat).sum(axis=axes, keepdims=True))
    return close(_g(got, "dx (inference)"), cand) and not close(want.get("dx (inference)"), cand)


# ---------------------------------------------------------------- Dropout
def _keep(i, k):
    """The mask of training batch k (0-based) of the case's layer, without the scale."""
    x = _f(i["x"])
    return np.random.default_rng((int(i["seed"]), k)).random(x.shape) >= float(i["p"])


def _unscaled(i, got, want, problem):
    x = _f(i["x"])
    return float(i["p"]) > 0 and close(_g(got, "out (batch 1)"), x * _keep(i, 0))


def _same_mask(i, got, want, problem):
    x, p = _f(i["x"]), float(i["p"])
    return p > 0 and close(_g(got, "out (batch 2)"), x * _keep(i, 0) / (1 - p)) and \
        close(_g(got, "out (batch 1)"), want.get("out (batch 1)"))


def _zeros_or(out, x, factors):
    """Every number of out is 0 or x times one of the factors (a masked x)."""
    ok = np.isclose(out, 0, atol=1e-12)
    for f in factors:
        ok |= np.isclose(out, x * f, rtol=1e-6, atol=1e-12)
    return bool(ok.all())


def _at_inference(i, got, want, problem):
    out, x, p = _f(_g(got, "out (inference)")), _f(i["x"]), float(i["p"])
    return out is not None and out.shape == x.shape and p > 0 and not close(out, x) and \
        _zeros_or(out, x, (1.0, 1 / (1 - p)))


def _mask_not_reused(i, got, want, problem):
    p = float(i["p"])
    dx, g = _f(_g(got, "dx (batch 1)")), _f(i["dout"])
    if p == 0 or dx is None or dx.shape != g.shape:
        return False
    right_out = close(_g(got, "out (batch 1)"), want.get("out (batch 1)"))
    return right_out and not close(dx, want.get("dx (batch 1)")) and \
        _zeros_or(dx, g, (1.0, 1 / (1 - p)))


def _other_mask(i, got, want, problem):
    out, x, p = _f(_g(got, "out (batch 1)")), _f(i["x"]), float(i["p"])
    return out is not None and out.shape == x.shape and p > 0 and \
        not close(out, want.get("out (batch 1)")) and _zeros_or(out, x, (1 / (1 - p),))


# ---------------------------------------------------------------- the residual block
def _residual_is(cand):
    def matches(i, got, want, problem):
        c = cand(i, want)
        return close(_g(got, "dx"), c) and not close(want.get("dx"), c)
    return matches


MISTAKES = [
    M("bn-stats-per-pixel", "batchnorm", "the statistics are taken per pixel: for images "
      "(N, C, H, W) a channel's mean and variance run over axes (0, 2, 3), all N*H*W numbers "
      "of the channel (use _axes(x))",
      lambda i, g, w, p: np.ndim(i["x"]) == 4 and (
          "broadcast" in p or _bn_is("out (training)", lambda i: _bn_out(i, axes=(0,)))(i, g, w, p))),
    M("bn-eps-outside-sqrt", "batchnorm", "eps is added outside the square root: xhat = "
      "(x - mu) / sqrt(var + eps)", _bn_is("out (training)", lambda i: _bn_out(
          i, eps_inside=False))),
    M("bn-unbiased-var", "batchnorm", "xhat divides by the unbiased variance (ddof=1, divided "
      "by m - 1): the normalisation uses the batch's own variance, divided by m (x.var() with "
      "ddof=0); only the running average takes the unbiased one",
      _bn_is("out (training)", lambda i: _bn_out(i, ddof=1))),
    M("bn-batch-stats-at-inference", "batchnorm", "inference mode uses the batch's own "
      "statistics: when self.training is False, normalise with running_mean and running_var "
      "(a digit's score must not depend on the other digits of its batch)",
      _bn_is("out (inference)", lambda i: _bn_out(i, x=_f(i["x_eval"])))),
    M("bn-running-stats-not-updated", "batchnorm", "the running averages were not updated: in "
      "training mode, running <- momentum * running + (1 - momentum) * batch statistic, in "
      "place in self.buffers", _stats_not_updated),
    M("bn-momentum-swapped", "batchnorm", "the running average's weights are swapped: the OLD "
      "value keeps the weight momentum, running <- momentum * running + (1 - momentum) * "
      "batch statistic", lambda i, g, w, p: _bn_is(
          "running_mean after", lambda i: _running(i, "mean", True))(i, g, w, p) or _bn_is(
          "running_var after", lambda i: _running(i, "var", True))(i, g, w, p)),
    M("bn-running-var-biased", "batchnorm", "the running variance averages the biased "
      "variance: it takes the unbiased one, var * m / (m - 1) (x.var(ddof=1)), as PyTorch",
      _bn_is("running_var after", lambda i: _running(i, "var", ddof=0))),
    M("bn-backward-no-batch-terms", "batchnorm", "backward treats mu and var as constants "
      "(dx = gamma * dout / s): in training they depend on every x of the batch; dx = gamma / "
      "(m * s) * (m * dout - sum(dout) - xhat * sum(dout * xhat))",
      _bn_backward_missing(("both",))),
    M("bn-backward-missing-a-term", "batchnorm", "backward misses one of the batch terms: "
      "subtract both the mean of dout (from mu) and xhat * mean(dout * xhat) (from var)",
      _bn_backward_missing(("mean", "xhat"))),
    M("bn-training-backward-at-inference", "batchnorm", "backward uses the training formula "
      "in inference mode: there mu and var are constants and dx = gamma * dout / "
      "sqrt(running_var + eps); remember the mode of the last forward",
      _training_backward_at_inference),
    M("dropout-not-rescaled", "dropout", "the kept numbers are not rescaled: inverted dropout "
      "divides them by (1 - p), so every number keeps its expected value and inference can "
      "pass x unchanged", _unscaled),
    M("dropout-same-mask", "dropout", "every batch gets the same mask: the batch counter "
      "self.buffers['step'] must grow by 1 after each training forward", _same_mask),
    M("dropout-at-inference", "dropout", "dropout is applied in inference mode: when "
      "self.training is False forward returns x unchanged (and backward dout)", _at_inference),
    M("dropout-mask-not-reused", "dropout", "backward does not use forward's mask: dx = dout "
      "* the SAME mask (the same kept numbers, scale 1 / (1 - p) included); keep it in "
      "self.mask", _mask_not_reused),
    M("dropout-other-mask", "dropout", "the mask is drawn differently from the layer's: keep "
      "= np.random.default_rng((self.seed, step)).random(x.shape) >= self.p, step = the "
      "batch counter", _other_mask),
    M("residual-no-skip-gradient", "residual_backward", "the skip's gradient is missing: "
      "dx = dout + the branch's gradient (out = x + F(x) reaches x along two paths)",
      _residual_is(lambda i, w: _f(w.get("dx")) - _f(i["dout"]))),
    M("residual-skip-only", "residual_backward", "only the skip's gradient is returned: run "
      "dout back through the inner layers too, in reverse order, and add their result",
      _residual_is(lambda i, w: _f(i["dout"]))),
]
