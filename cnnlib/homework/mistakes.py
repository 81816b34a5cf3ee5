"""The usual mistakes of every exercise, recognised from what the output looks like.

Each Mistake recomputes, from a failing case's inputs, what the mistaken code would have
returned (the flipped-kernel result, the output without the bias of some filters, the
pooling of |x|, ...) or reads a pattern in the error (wrong only where windows overlap,
off by a factor K), and names the mistake when the answer matches it:

    diagnose("conv2d_loop", case, outputs, expected, problem)
    -> "flipped kernel: ..." or ""

Used by the student's check (checks.py) and by the grader's report (grade.py), so both
say the same thing. Notebook 12's mistakes (BatchNorm, Dropout, the residual block) live in
mistakes_beyond.py and join the CATALOGUE here. tests/test_homework_mistakes.py holds a
wrong implementation of every mistake, written the way a student would, and shows each is
caught and named.
"""

import numpy as np

from .mistake_base import Mistake, _f, _g, close  # noqa: F401 (close: mistakes.close)
from .mistakes_beyond import MISTAKES as BEYOND


# ---------------------------------------------------------------- convolution forward
def _conv(x, w, b, s, p):
    from ..conv import conv2d_fast
    return conv2d_fast(_f(x), _f(w), _f(b), int(s), int(p))


def _flipped(i, got, want, problem):
    cand = _conv(i["x"], i["w"][:, :, ::-1, ::-1], i["b"], i["stride"], i["pad"])
    return close(_g(got, "out"), cand) and not close(want.get("out"), cand)


def _bias_some_filters(i, got, want, problem):
    out = _f(_g(got, "out"))
    ref = _f(want.get("out"))
    if out is None or out.shape != ref.shape:
        return False
    d = out - ref
    b = _f(i["b"])
    missing = [f for f in range(len(b)) if abs(b[f]) > 1e-9
               and np.allclose(d[:, f], -b[f], rtol=1e-6, atol=1e-8)]
    ok = [f for f in range(len(b)) if np.allclose(d[:, f], 0, atol=1e-8)]
    extra = [f for f in range(len(b)) if abs(b[f]) > 1e-9
             and np.allclose(d[:, f], b[f], rtol=1e-6, atol=1e-8)]
    return bool(missing or extra) and len(missing) + len(ok) + len(extra) == len(b)


def _stride_size(i, got, want, problem):
    s, p = int(i["stride"]), int(i["pad"])
    if s == 1:
        return False
    kh, kw = i["w"].shape[2:]
    h, w = i["x"].shape[2:]
    shape = (h + 2 * p - kh + 1, w + 2 * p - kw + 1)
    out = _g(got, "out")
    if out is not None:
        return np.shape(out)[2:] == shape
    return "broadcast" in problem or "IndexError" in problem or "shape" in problem


def _square(want, key, i, got, problem, x="x"):
    out = _g(got, key)
    exp = np.shape(want.get(key))
    h, w = np.shape(i[x])[2:]
    if out is not None:
        o = np.shape(out)
        return len(o) == 4 and o[2] == o[3] and exp[2] != exp[3] and o[2] in exp[2:]
    return h != w and ("broadcast" in problem or "IndexError" in problem)


def _float32(key):
    def matches(i, got, want, problem):
        out = _g(got, key)
        exp = want.get(key)
        if out is None or exp is None:
            return False
        out, exp = np.asarray(out), np.asarray(exp)
        if out.dtype == np.float32 and exp.dtype == np.float64:
            return True
        if out.shape != exp.shape or exp.dtype != np.float64:
            return False
        err = np.max(np.abs(out - exp) / (np.abs(exp) + 1e-3))
        return 1e-9 < err < 1e-5                  # float32 rounding, not a wrong formula
    return matches


def _no_padding(i, got, want, problem):
    return int(i["pad"]) > 0 and close(_g(got, "out"), _conv(i["x"], i["w"], i["b"],
                                                             i["stride"], 0))


def _start_without_stride(i, got, want, problem):
    s = int(i["stride"])
    out = _g(got, "out")
    if s == 1 or out is None:
        return False
    full = _conv(i["x"], i["w"], i["b"], 1, i["pad"])
    ho, wo = np.shape(want["out"])[2:]
    return close(out, full[:, :, :ho, :wo])


# ---------------------------------------------------------------- pooling forward
def _pool(x, k, s):
    from ..pool import maxpool_fast
    return maxpool_fast(_f(x), int(k), int(s))


def _offset_size(i, got, want, problem):
    k, s = int(i["size"]), int(i["stride"])
    if k == s:
        return False
    if "zero-size" in problem or "empty" in problem:
        return True
    out = _g(got, "out")
    if out is None or np.shape(out) != np.shape(want["out"]):
        return False
    by_size = _pool(i["x"], k, k)
    h, w = by_size.shape[2:]
    return close(np.asarray(out)[:, :, :h, :w], by_size) and not close(out, want["out"])


def _abs_max(i, got, want, problem):
    out = _g(got, "out")
    if out is None:
        return False
    x = _f(i["x"])
    from ..im2col import windows
    k, s = int(i["size"]), int(i["stride"])
    win = windows(x, k, k, s)
    flat = win.reshape(*win.shape[:4], -1)
    signed = np.take_along_axis(flat, np.abs(flat).argmax(-1)[..., None], -1)[..., 0]
    return close(out, _pool(np.abs(x), k, s)) or close(out, signed)


def _zero_start(i, got, want, problem):
    out = _f(_g(got, "out"))
    exp = _f(want.get("out"))
    return (out is not None and out.shape == exp.shape and np.any(exp < 0)
            and np.allclose(out, np.maximum(exp, 0)))


# ---------------------------------------------------------------- softmax family
def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _no_keepdims(key, log=False):
    def matches(i, got, want, problem):
        z = _f(i["z"])
        if z.ndim < 2:
            return False
        if "broadcast" in problem:
            return True
        if z.shape[-1] == z.shape[-2]:
            with np.errstate(all="ignore"):
                sh = z - z.max(axis=-1)
                cand = sh - np.log(np.exp(sh).sum(axis=-1)) if log else \
                    np.exp(sh) / np.exp(sh).sum(axis=-1)
            return close(_g(got, key), cand)
        return False
    return matches


def _no_shift(key):
    def matches(i, got, want, problem):
        out = _g(got, key)
        z = _f(i["z"])
        return (out is not None and np.abs(z).max() > 700 and
                not np.all(np.isfinite(np.asarray(out, dtype=np.float64)))
                and np.all(np.isfinite(np.asarray(want[key], dtype=np.float64))))
    return matches


def _whole_array(i, got, want, problem):
    z = _f(i["z"])
    e = np.exp(z - z.max())
    return z.ndim > 1 and close(_g(got, "probabilities"), e / e.sum())


def _log_eps(i, got, want, problem):
    out = _f(_g(got, "log-probabilities"))
    exp = _f(want.get("log-probabilities"))
    if out is None or out.shape != exp.shape:
        return False
    p = _softmax(_f(i["z"]))
    for eps in (1e-300, 1e-100, 1e-30, 1e-20, 1e-16, 1e-15, 1e-12, 1e-10, 1e-9, 1e-8,
                1e-7, 1e-6, 1e-5):
        if close(out, np.log(p + eps), rtol=1e-5, atol=1e-6):
            return True
    deep = exp < -40
    return bool(deep.any() and np.all(np.isfinite(out)) and
                np.ptp(out[deep]) < 1e-3 and -100 < out[deep].mean() < -5)


def _log_of_zero(i, got, want, problem):
    out = _g(got, "log-probabilities")
    return out is not None and np.isneginf(np.asarray(out, dtype=np.float64)).any() and \
        np.all(np.isfinite(want["log-probabilities"]))


# ---------------------------------------------------------------- cross-entropy
def _ratio(key, factor):
    def matches(i, got, want, problem):
        out, exp = _f(_g(got, key)), _f(want.get(key))
        if out is None or out.shape != exp.shape:
            return False
        f = factor(i)
        return not np.isclose(f, 1) and close(out, exp * f)
    return matches


def _mean_nk(i, got, want, problem):
    return _ratio("loss", lambda i: 1 / np.shape(i["logits"])[1])(i, got, want, problem)


# ---------------------------------------------------------------- dense, ReLU
def _transposed_dw(i, got, want, problem):
    return close(_g(got, "grads['W']"), np.asarray(want["grads['W']"]).T) and \
        np.shape(want["grads['W']"])[0] != np.shape(want["grads['W']"])[1]


def _in_place(i, got, want, problem):
    return "in place" in problem


def _grad_at_zero(i, got, want, problem):
    x = _f(i["x"])
    dx = _f(_g(got, "dx"))
    if dx is None or dx.shape != x.shape or not np.any(x == 0):
        return False
    cand = np.where(x >= 0, i["dout"], 0)
    return close(dx, cand)


# ---------------------------------------------------------------- windows that overlap
def _coverage(shape, k, s, kw=None):
    """How many windows cover each pixel of an image of `shape` (N, C, H, W)."""
    kw = kw or k
    cover = np.zeros(shape[2:])
    ho, wo = (shape[2] - k) // s + 1, (shape[3] - kw) // s + 1
    for a in range(ho):
        for b in range(wo):
            cover[a * s:a * s + k, b * s:b * s + kw] += 1
    return cover


def _only_where_overlap(key, window):
    def matches(i, got, want, problem):
        out, exp = _f(_g(got, key)), _f(want.get(key))
        if out is None or out.shape != exp.shape:
            return False
        shape, k, kw, s = window(i)
        cover = _coverage(shape, k, s, kw)
        wrong = ~np.isclose(out, exp, rtol=1e-6, atol=1e-8)
        return bool(wrong.any() and np.all(cover[None, None].repeat(shape[0], 0)
                                           .repeat(shape[1], 1)[wrong] >= 2))
    return matches


def _pool_window(i):
    return np.shape(i["x"]), int(i["size"]), None, int(i["stride"])


def _col_window(i):
    n, c, h, w = (int(v) for v in i["x_shape"])
    p = int(i["pad"])
    return (n, c, h + 2 * p, w + 2 * p), int(i["kh"]), int(i["kw"]), int(i["stride"])


def _col_overlap(i, got, want, problem):
    out, exp = _f(_g(got, "dx")), _f(want.get("dx"))
    if out is None or out.shape != exp.shape:
        return False
    shape, kh, kw, s = _col_window(i)
    p = int(i["pad"])
    cover = _coverage(shape, kh, s, kw)[p:shape[2] - p, p:shape[3] - p]
    wrong = ~np.isclose(out, exp, rtol=1e-6, atol=1e-8)
    return bool(wrong.any() and np.all(np.broadcast_to(cover, out.shape)[wrong] >= 2))


def _ties_twice(i, got, want, problem):
    from ..im2col import windows
    x, dout = _f(i["x"]), _f(i["dout"])
    k, s = int(i["size"]), int(i["stride"])
    win = windows(x, k, k, s)
    mask = win == win.max(axis=(-2, -1), keepdims=True)
    dx = np.zeros_like(x)
    ho, wo = win.shape[2:4]
    for a in range(ho):
        for b in range(wo):
            dx[:, :, a * s:a * s + k, b * s:b * s + k] += mask[:, :, a, b] * dout[:, :, a, b, None, None]
    return close(_g(got, "dx"), dx)


# ---------------------------------------------------------------- convolution backward
def _back_flipped(i, got, want, problem):
    from ..conv import conv2d_backward_fast
    dx, _ = conv2d_backward_fast(_f(i["dout"]), _f(i["x"]), _f(i["w"])[:, :, ::-1, ::-1],
                                 int(i["stride"]), int(i["pad"]))[:2]
    return close(_g(got, "dx"), dx)


def _back_no_crop(i, got, want, problem):
    p = int(i["pad"])
    dx = _g(got, "dx")
    if p == 0 or dx is None:
        return False
    n, c, h, w = np.shape(i["x"])
    return np.shape(dx) == (n, c, h + 2 * p, w + 2 * p)


def _db_axes(i, got, want, problem):
    db = _g(got, "db")
    return db is not None and np.shape(db) != np.shape(want["db"])


# ---------------------------------------------------------------- im2col
def _cols(x, kh, kw, s, p):
    from ..im2col import im2col
    return im2col(_f(x), int(kh), int(kw), int(s), int(p))


def _cols_channel_last(i, got, want, problem):
    c = np.shape(i["x"])[1]
    ref = _f(want.get("cols"))
    if c == 1 or ref is None:
        return False
    kh, kw = int(i["kh"]), int(i["kw"])
    cand = ref.reshape(len(ref), c, kh, kw).transpose(0, 2, 3, 1).reshape(len(ref), -1)
    return close(_g(got, "cols"), cand)


def _cols_no_pad(i, got, want, problem):
    return int(i["pad"]) > 0 and close(_g(got, "cols"), _cols(i["x"], i["kh"], i["kw"],
                                                             i["stride"], 0))


# ---------------------------------------------------------------- optimizers
def _simulate(i, update, state0):
    out = {}
    for name, key in (("W", "gW"), ("b", "gb")):
        p = _f(i[name]).copy()
        state, steps = state0(p), []
        for t, g in enumerate(_f(i[key]), start=1):
            p, state = update(p, g, state, t)
            steps.append(p.copy())
        out[f"{name} after each step"] = np.stack(steps)
    return out


def _optimizer(variant):
    def matches(i, got, want, problem):
        sim = variant(i)
        return all(close(_g(got, k), sim[k], rtol=1e-6, atol=1e-10) for k in sim) and \
            not all(close(_g(got, k), want[k]) for k in sim)
    return matches


def _momentum(sign_v, sign_p, keep=True):
    def variant(i):
        lr, mu = float(i["lr"]), float(i["momentum"])

        def update(p, g, v, t):
            v = (mu * v if keep else 0) + sign_v * lr * g
            return p + sign_p * v, v
        return _simulate(i, update, np.zeros_like)
    return variant


def _adam(correct=True, eps_inside=False):
    def variant(i):
        lr, b1, b2, eps = float(i["lr"]), 0.9, 0.999, 1e-8

        def update(p, g, s, t):
            m, v = s
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            mh, vh = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if correct else (m, v)
            step = mh / np.sqrt(vh + eps) if eps_inside else mh / (np.sqrt(vh) + eps)
            return p - lr * step, (m, v)
        return _simulate(i, update, lambda p: (np.zeros_like(p), np.zeros_like(p)))
    return variant


# ---------------------------------------------------------------- training step
def _nan_step(i, got, want, problem):
    return "NaN" in str(i.get("__name__", "")) or (
        not np.all(np.isfinite(_f(i["x"]))) and _g(got, "W after the step") is not None
        and not close(_g(got, "W after the step"), i["W"]))


def _no_step(i, got, want, problem):
    return np.all(np.isfinite(_f(i["x"]))) and close(_g(got, "W after the step"), i["W"]) \
        and not close(want["W after the step"], i["W"])


# ---------------------------------------------------------------- FGSM
def _fgsm_variant(sign=+1, use_sign=True, clip=True):
    """What FGSM returns when written with the given step sign (+1: uphill on the label's
    loss, downhill on the target's, as it should), with or without np.sign and np.clip."""
    def variant(i):
        from ..layers import Flatten, Linear
        from ..model import Sequential
        from ..saliency import input_gradient
        layer = Linear(*np.shape(i["W"]), dtype=np.float64)
        layer.params = {"W": _f(i["W"]), "b": _f(i["b"])}
        net = Sequential([Flatten(), layer])
        x, target = _f(i["x"]), int(i["target"])
        g = input_gradient(net, x, i["y"] if target < 0 else target, of="loss")
        step = np.sign(g) if use_sign else g
        adv = x + (sign if target < 0 else -sign) * float(i["eps"]) * step
        return np.clip(adv, -0.5, 0.5) if clip else adv
    return variant


def _fgsm_is(variant):
    def matches(i, got, want, problem):
        cand = variant(i)
        return close(_g(got, "x_adv"), cand) and not close(want.get("x_adv"), cand)
    return matches


M = Mistake
CATALOGUE = [
    M("float32-accumulation", "conv2d_loop", "accumulated in float32: the sums are rounded "
      "to float32 (an np.float32 array or dtype somewhere); build out with the inputs' dtype",
      _float32("out")),
    M("flipped-kernel", "conv2d_loop", "flipped kernel: your output is the TRUE convolution "
      "(the kernel turned by 180 degrees); the layer computes cross-correlation: multiply "
      "each window by w[f] as it is, without flipping it", _flipped),
    M("stride-not-in-size", "conv2d_loop", "the output size ignores the stride: Hout = "
      "(H + 2*pad - KH)//stride + 1 and Wout = (W + 2*pad - KW)//stride + 1", _stride_size),
    M("bias-some-filters", "conv2d_loop", "off exactly by the bias on some filters: add b[f] "
      "to every output pixel of every filter f (out[n, f, i, j] = ... + b[f])",
      _bias_some_filters),
    M("square-only", "conv2d_loop", "square output: one size used for both axes; compute "
      "Hout from H and KH, and Wout from W and KW", lambda i, g, w, p: _square(w, "out", i, g, p)),
    M("no-padding", "conv2d_loop", "the padding is ignored: pad x with `pad` zeros on every "
      "side before sliding the window", _no_padding),
    M("start-without-stride", "conv2d_loop", "the window of output pixel (i, j) starts at "
      "(i, j); it starts at (i*stride, j*stride)", _start_without_stride),
    M("window-offset-size", "maxpool_loop", "the window starts at i*size (the window's "
      "size); it starts at i*stride, which differs from the size when windows overlap",
      _offset_size),
    M("max-of-abs", "maxpool_loop", "max of absolute values: max pooling keeps the largest "
      "value, so -5 loses to 1; do not take np.abs", _abs_max),
    M("max-from-zero", "maxpool_loop", "the maximum starts from 0: start it from the window's "
      "own values (all-negative windows have a negative maximum)", _zero_start),
    M("square-only-pool", "maxpool_loop", "square output: compute Hout from H and Wout from W",
      lambda i, g, w, p: _square(w, "out", i, g, p)),
    M("max-shift-no-keepdims", "softmax", "the maximum is subtracted without keepdims=True: "
      "z.max(axis=-1) has shape (N,), which does not line up with (N, K); use "
      "z.max(axis=-1, keepdims=True) (and keepdims in the sum too)",
      _no_keepdims("probabilities")),
    M("no-max-shift", "softmax", "no max shift: np.exp of a large logit overflows; subtract "
      "each row's maximum first", _no_shift("probabilities")),
    M("whole-array", "softmax", "normalised over the whole array: each ROW must sum to 1 "
      "(axis=-1, keepdims=True)", _whole_array),
    M("log-p-plus-eps", "log_softmax", "log(p + eps): for a very unlikely class the answer "
      "is stuck at log(eps) instead of about -1000; compute (z - m) - log(sum(exp(z - m))) "
      "and never take the log of a probability", _log_eps),
    M("log-of-zero", "log_softmax", "log of a probability that underflowed to 0 gives -inf: "
      "compute (z - m) - log(sum(exp(z - m)))", _log_of_zero),
    M("max-shift-no-keepdims-log", "log_softmax", "the maximum is subtracted without "
      "keepdims=True: use z.max(axis=-1, keepdims=True)", _no_keepdims("log-probabilities", True)),
    M("mean-over-NK", "softmax_cross_entropy", "the loss is the mean over all N*K entries "
      "(np.mean of the whole array): it is the mean over the N samples of -log p[n, y_n]",
      _mean_nk),
    M("dlogits-not-divided", "softmax_cross_entropy", "dlogits is not divided by N: the loss "
      "is a mean, so its gradient is (p - onehot(y)) / N",
      _ratio("dlogits", lambda i: np.shape(i["logits"])[0])),
    M("sum-not-mean", "softmax_cross_entropy", "the loss is a sum over the batch: divide by N",
      _ratio("loss", lambda i: np.shape(i["logits"])[0])),
    M("db-mean", "linear_backward", "db is a mean over the batch: it is the sum, "
      "dout.sum(axis=0)", _ratio("grads['b']", lambda i: 1 / np.shape(i["x"])[0])),
    M("dw-transposed", "linear_backward", "dW is transposed: dW = x.T @ dout has W's shape "
      "(in, out)", _transposed_dw),
    M("input-in-place", "relu", "input mutated in place (x[x < 0] = 0, np.maximum(x, 0, "
      "out=x)): the caller still needs x; build a new array", _in_place),
    M("grad-at-zero", "relu", "the gradient passes where x == 0: ReLU's gradient there is 0 "
      "(use x > 0, not x >= 0)", _grad_at_zero),
    M("overwrite-overlap", "maxpool_backward_loop", "overlapping windows overwrite instead of "
      "adding: wrong only where windows overlap; use dx[...] += (a pixel can win two windows)",
      _only_where_overlap("dx", _pool_window)),
    M("ties-counted-twice", "maxpool_backward_loop", "a tie sends the gradient to every "
      "maximum of the window: send it to ONE position, the first arg-max", _ties_twice),
    M("dx-flipped", "conv2d_backward_loop", "dx uses the flipped kernel: the loop form "
      "dxpad[window] += dout * w[f] already does the flip; do not flip w again", _back_flipped),
    M("dx-not-cropped", "conv2d_backward_loop", "dx keeps the padding: crop `pad` rows and "
      "columns from every side (dxpad[:, :, pad:pad+H, pad:pad+W])", _back_no_crop),
    M("db-shape", "conv2d_backward_loop", "db has the wrong axes: sum dout over the batch and "
      "both pixel axes, dout.sum(axis=(0, 2, 3))", _db_axes),
    M("cols-channel-last", "im2col", "the channel is the last axis of a row: a row holds its "
      "window channel first, then kernel row, then kernel column (as w.reshape(F, -1))",
      _cols_channel_last),
    M("cols-no-padding", "im2col", "the padding is ignored: pad x with `pad` zeros on every "
      "side first", _cols_no_pad),
    M("overwrite-overlap-col2im", "col2im", "overlapping windows overwrite instead of adding: "
      "wrong only where windows overlap; use += into the padded image", _col_overlap),
    M("adam-no-bias-correction", "adam", "Adam without bias correction: divide m by "
      "(1 - beta1**t) and v by (1 - beta2**t) before the step", _optimizer(_adam(False))),
    M("adam-eps-inside", "adam", "eps inside the square root: it is m_hat / (sqrt(v_hat) + "
      "eps)", _optimizer(_adam(True, True))),
    M("momentum-wrong-sign", "momentum", "momentum with the wrong sign: the velocity "
      "points downhill, v = momentum * v - lr * g, and then p += v",
      lambda i, g, w, p: _optimizer(_momentum(+1, +1))(i, g, w, p)
      or _optimizer(_momentum(-1, -1))(i, g, w, p)),
    M("momentum-no-state", "momentum", "the velocity does not carry over between steps: "
      "keep it in self.state[name]", _optimizer(_momentum(-1, +1, keep=False))),
    M("step-on-nan", "train_step", "the weights were updated on a NaN loss: check "
      "math.isfinite(loss) before backward and step", _nan_step),
    M("no-step", "train_step", "the weights did not change: call optimizer.step() after "
      "net.backward(dlogits)", _no_step),
    M("fgsm-wrong-sign", "fgsm", "the step goes the wrong way: without a target it climbs the "
      "label's loss, x + eps * sign(g); with a target it descends the target's loss, "
      "x - eps * sign(g)", lambda i, g, w, p: any(
          _fgsm_is(_fgsm_variant(-1, s, c))(i, g, w, p) for s in (True, False)
          for c in (True, False))),
    M("fgsm-no-clip", "fgsm", "the result leaves the pixel range: clip it to [-0.5, 0.5] "
      "with np.clip", _fgsm_is(_fgsm_variant(clip=False))),
    M("fgsm-gradient-not-sign", "fgsm", "the step uses the gradient itself: FGSM moves every "
      "pixel by exactly eps, x + eps * np.sign(g)", lambda i, g, w, p: any(
          _fgsm_is(_fgsm_variant(+1, False, c))(i, g, w, p) for c in (True, False))),
]
CATALOGUE += BEYOND
BY_EXERCISE = {}
for _m in CATALOGUE:
    BY_EXERCISE.setdefault(_m.exercise, []).append(_m)


def find(exercise_id, case, got, expected, problem=""):
    """The first Mistake of the catalogue the failing output looks like, or None."""
    inputs = dict(case["inputs"], __name__=case.get("name", ""))
    if isinstance(got, dict) and expected and not problem and all(
            close(got.get(k), v) and np.asarray(got.get(k)).dtype == np.asarray(v).dtype
            for k, v in expected.items()):
        return None                         # the output is right: nothing to name
    for m in BY_EXERCISE.get(exercise_id, []):
        try:
            with np.errstate(all="ignore"):
                if m.matches(inputs, got, expected or {}, problem or ""):
                    return m
        except Exception:                   # a detector never breaks a check
            continue
    return None


def diagnose(exercise_id, case, got, expected, problem=""):
    """The sentence naming the mistake, or ""."""
    m = find(exercise_id, case, got, expected, problem)
    return m.says if m else ""
