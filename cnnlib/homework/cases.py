"""Test cases for every exercise: a hand-sized case, random shapes and the edge cases,
each aimed at a usual mistake (cnnlib.homework.runners feeds them to a function).

Each case is a dict: name (what it tests), hint (the usual mistake it catches),
inputs (arrays and numbers only, so the grader can ship them without pickle) and
optionally numgrad (compare with a float64 numerical gradient instead of cnnlib's
answer). The expected outputs are the runner applied to cnnlib's own solution.
"""

import numpy as np

from .cases_beyond import MAKERS as BEYOND_MAKERS


def _rng(seed):
    return np.random.default_rng(seed)


def _case(name, hint, **inputs):
    return {"name": name, "hint": hint, "inputs": inputs}


def _conv_cases(r, hidden):
    hand = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    cs = [_case("hand-sized: 4x4 image 0..15, 3x3 kernel of ones, bias 1",
                "each output pixel is the sum of its 3x3 window plus the bias: out[0, 0, 0, 0] = "
                "0+1+2+4+5+6+8+9+10 + 1 = 46; the window of (i, j) starts at row i*stride, "
                "column j*stride (not at a fixed offset such as i*20)",
                x=hand, w=np.ones((1, 1, 3, 3)), b=np.ones(1), stride=1, pad=0)]
    shapes = [((2, 3, 5, 7), (4, 3, 3, 3), 1, 0, "random shapes, non-square 5x7 images",
               "use H for rows and W for columns: Hout = (H + 2*pad - KH)//stride + 1 and "
               "Wout = (W + 2*pad - KW)//stride + 1 (a fixed `w - 3` fits one case only)"),
              ((1, 2, 6, 5), (2, 2, 3, 2), 1, 0, "non-square 3x2 kernel",
               "take the kernel size from w.shape (KH, KW = w.shape[2:]): a fixed 3, or an "
               "output size like `w - 3` or `h - 2`, fits 3x3 kernels only"),
              ((2, 2, 7, 6), (3, 2, 3, 2), 2, 0, "stride 2 (non-square 3x2 kernel)",
               "with stride s the window of output pixel (i, j) starts at row i*s, column j*s "
               "(not at i, and not at a fixed offset such as i*20)"),
              ((1, 2, 5, 5), (2, 2, 3, 3), 1, 1, "padding 1",
               "pad the image with `pad` zeros on every side before sliding the window"),
              ((2, 1, 6, 8), (2, 1, 3, 3), 2, 1, "stride 2 and padding 1",
               "pad first, then step the window by the stride over the padded image")]
    if hidden:
        shapes += [((3, 2, 9, 4), (5, 2, 4, 2), 3, 2, "hidden: stride 3, padding 2", ""),
                   ((1, 4, 6, 6), (1, 4, 6, 6), 1, 0, "hidden: kernel as large as the image", "")]
    for xs, ws, s, p, name, hint in shapes:
        cs.append(_case(name, hint, x=r.normal(size=xs), w=r.normal(size=ws),
                        b=r.normal(size=ws[0]), stride=s, pad=p))
    cs.append(_case("float32 input keeps float32", "build out with the inputs' dtype "
                    "(np.zeros(..., dtype=x.dtype) or np.result_type(x, w))",
                    x=r.normal(size=(1, 1, 4, 5)).astype(np.float32),
                    w=r.normal(size=(2, 1, 2, 2)).astype(np.float32),
                    b=np.zeros(2, np.float32), stride=1, pad=0))
    return cs


def _pool_cases(r, hidden):
    hand = np.array([[1., 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 2], [2, 6, 1, 1]])[None, None]
    cs = [_case("hand-sized: 4x4, 2x2 windows", "max of [[1,3],[4,2]] is 4, of [[2,0],[1,5]] "
                "is 5, ...; the window of (i, j) starts at row i*stride, column j*stride (not "
                "at a fixed offset such as i*20)", x=hand, size=2, stride=2)]
    shapes = [((2, 3, 6, 8), 2, 2, "random shapes, non-square 6x8 images",
               "Hout = (H - size)//stride + 1 and Wout = (W - size)//stride + 1, each axis "
               "with its own length"),
              ((1, 2, 7, 7), 3, 2, "3x3 windows with stride 2 (overlapping)",
               "the window of output pixel (i, j) starts at row i*stride, column j*stride; "
               "kernel_size and stride are separate arguments"),
              ((2, 1, 5, 7), 2, 1, "stride 1", "the window starts at i*stride, not i*size"),
              ((1, 1, 5, 5), 2, 2, "odd size 5x5: the last row and column are dropped",
               "Hout = (5 - 2)//2 + 1 = 2: use floor division and do not pad")]
    if hidden:
        shapes += [((2, 2, 9, 4), 3, 3, "hidden: 3x3 windows, stride 3", ""),
                   ((1, 3, 4, 4), 4, 1, "hidden: one window covers the image", "")]
    for xs, size, s, name, hint in shapes:
        cs.append(_case(name, hint, x=r.normal(size=xs), size=size, stride=s))
    cs.append(_case("all-negative inputs", "start the maximum from the window, not from 0",
                    x=-1 - r.random((1, 2, 4, 4)), size=2, stride=2))
    return cs


def _softmax_cases(r, hidden):
    cs = [_case("hand-sized: [0, log 2, log 3]", "p = [1, 2, 3] / 6",
                z=np.log(np.array([[1.0, 2.0, 3.0]]))),
          _case("random (N, K) = (5, 10)", "normalise each ROW (axis=-1, keepdims=True), not "
                "the whole array", z=r.normal(size=(5, 10))),
          _case("large logits (1000)", "np.exp(1000) overflows to inf: subtract each row's "
                "maximum first (it cancels in the ratio)",
                z=np.array([[1000.0, 999.0, 0.0], [-1000.0, -1001.0, -2000.0]])),
          _case("one row, a 1-D vector", "use axis=-1 and keepdims=True so a vector works too",
                z=r.normal(size=7))]
    if hidden:
        cs.append(_case("hidden: (3, 4, 6) scores", "", z=r.normal(size=(3, 4, 6)) * 50))
    return cs


def _sce_cases(r, hidden):
    cs = [_case("hand-sized: logits [[0, 0]], label 0", "p = [0.5, 0.5]: loss = log 2, "
                "dlogits = [[-0.5, 0.5]]", logits=np.zeros((1, 2)), y=np.array([0])),
          _case("random batch of 8, 10 classes", "the loss is the MEAN over the batch and "
                "dlogits = (p - onehot(y)) / N: both divide by N",
                logits=r.normal(size=(8, 10)), y=r.integers(0, 10, 8)),
          _case("large logits (+-1000)", "use the shifted log-softmax: never compute exp(1000) "
                "or log(0)", logits=np.array([[1000.0, 0, -1000], [0, 1000, 10]]),
                y=np.array([1, 2]))]
    ng = _case("numerical gradient (float64)", "dlogits must be the gradient of the returned "
               "loss: compare with the central differences",
               logits=r.normal(size=(4, 5)), y=r.integers(0, 5, 4))
    ng["numgrad"] = True
    cs.append(ng)
    if hidden:
        cs.append(_case("hidden: batch of 64", "", logits=r.normal(size=(64, 10)) * 5,
                        y=r.integers(0, 10, 64)))
    return cs


def _linear_cases(r, hidden):
    cs = [_case("hand-sized: 1 sample, 2 -> 1", "dW = x.T @ dout = [[1], [2]] * 3",
                x=np.array([[1.0, 2.0]]), W=np.array([[0.5], [-1.0]]), b=np.zeros(1),
                dout=np.array([[3.0]])),
          _case("random batch of 6, 5 -> 3", "shapes: dW like W (in, out) = x.T @ dout; db "
                "(out,) = dout summed over axis 0 (a sum, not a mean); dx like x = dout @ W.T",
                x=r.normal(size=(6, 5)), W=r.normal(size=(5, 3)), b=r.normal(size=3),
                dout=r.normal(size=(6, 3)))]
    ng = _case("numerical gradient (float64)", "compare with central differences of "
               "sum(forward(x) * dout)", x=r.normal(size=(3, 4)), W=r.normal(size=(4, 2)),
               b=r.normal(size=2), dout=r.normal(size=(3, 2)))
    ng["numgrad"] = True
    cs.append(ng)
    if hidden:
        cs.append(_case("hidden: 32 samples, 20 -> 10", "", x=r.normal(size=(32, 20)),
                        W=r.normal(size=(20, 10)), b=r.normal(size=10),
                        dout=r.normal(size=(32, 10))))
    return cs


def _relu_cases(r, hidden):
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    cs = [_case("hand-sized: [-2, -0.5, 0, 0.5, 2]", "out = [0, 0, 0, 0.5, 2]; the gradient "
                "passes only where x > 0 (at exactly 0 it is 0)", x=x, dout=np.ones_like(x) * 3),
          _case("random (N, C, H, W) images", "work element-wise on any shape",
                x=r.normal(size=(2, 3, 4, 5)), dout=r.normal(size=(2, 3, 4, 5)))]
    ng = _case("numerical gradient (float64)", "backward must be the derivative of forward",
               x=r.normal(size=(3, 6)) + 0.05, dout=r.normal(size=(3, 6)))
    ng["numgrad"] = True
    cs.append(ng)
    if hidden:
        cs.append(_case("hidden: float32", "", x=r.normal(size=(4, 7)).astype(np.float32),
                        dout=r.normal(size=(4, 7)).astype(np.float32)))
    return cs


def _pool_back_cases(r, hidden):
    hand = np.array([[1., 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 2], [2, 6, 1, 1]])[None, None]
    ties = np.zeros((1, 1, 4, 4))
    ties[0, 0, 2:, 2:] = 7.0
    cs = [_case("hand-sized: 4x4, 2x2 windows", "each window's gradient goes to its maximum: "
                "4 at (1, 0), 5 at (1, 3), 3 at (2, 2), 6 at (3, 1)",
                x=hand, dout=np.array([[[[10.0, 20], [30, 40]]]]), size=2, stride=2),
          _case("ties: windows of equal values (zeros after ReLU)", "on a tie send the "
                "gradient to ONE position, the first arg-max (np.argmax + np.unravel_index); "
                "a mask `window == window.max()` counts a tie several times",
                x=ties, dout=np.array([[[[1.0, 2], [3, 4]]]]), size=2, stride=2),
          _case("overlapping 3x3 windows, stride 2", "windows overlap: ADD (+=) into dx, a "
                "pixel can win two windows", x=r.normal(size=(2, 2, 7, 7)),
                dout=r.normal(size=(2, 2, 3, 3)), size=3, stride=2),
          _case("random shapes, non-square 6x8", "dx has x's shape; the window of (i, j) "
                "starts at row i*stride, column j*stride", x=r.normal(size=(2, 3, 6, 8)),
                dout=r.normal(size=(2, 3, 3, 4)), size=2, stride=2)]
    ng = _case("numerical gradient (float64)", "dx must be the gradient of "
               "sum(maxpool(x) * dout)", x=r.permutation(36).reshape(1, 1, 6, 6) / 3.0,
               dout=r.normal(size=(1, 1, 3, 3)), size=2, stride=2)
    ng["numgrad"] = True
    cs.append(ng)
    if hidden:
        cs.append(_case("hidden: ties with overlap", "", x=np.round(r.normal(size=(1, 2, 5, 5))),
                        dout=r.normal(size=(1, 2, 4, 4)), size=2, stride=1))
    return cs


def _conv_back_cases(r, hidden):
    cs = [_case("hand-sized: 3x3 image, 2x2 kernel, dout of ones", "db = sum of dout = 4; "
                "dw[0, 0, p, q] = sum of the 2x2 block of x starting at (p, q); dx is the full "
                "convolution of dout with the FLIPPED filters, which the loop form "
                "dxpad[window] += dout * w[f] does for you (so do not flip w in it)",
                dout=np.ones((1, 1, 2, 2)), x=np.arange(9.0).reshape(1, 1, 3, 3),
                w=np.array([[[[1.0, 2], [3, 4]]]]), stride=1, pad=0)]
    shapes = [((2, 3, 5, 6), (4, 3, 3, 3), 1, 0, "random shapes, non-square 5x6",
               "dx is the full convolution of dout with the FLIPPED filters; the loop form "
               "(dxpad[window] += dout * w[f]) flips them for you"),
              ((2, 2, 7, 7), (3, 2, 3, 3), 2, 0, "stride 2",
               "the window of (i, j) starts at i*stride, j*stride in backward too"),
              ((1, 2, 5, 4), (2, 2, 3, 3), 1, 1, "padding 1",
               "accumulate into the PADDED dx, then crop pad rows/columns from EVERY side: "
               "dxpad[:, :, pad:pad+H, pad:pad+W]"),
              ((2, 1, 6, 6), (2, 1, 3, 3), 2, 1, "stride 2 and padding 1",
               "pad x for dw, and crop dx back to x's shape")]
    if hidden:
        shapes.append(((1, 3, 8, 5), (2, 3, 4, 2), 3, 2, "hidden: stride 3, padding 2", ""))
    for xs, ws, s, p, name, hint in shapes:
        ho, wo = (xs[2] + 2 * p - ws[2]) // s + 1, (xs[3] + 2 * p - ws[3]) // s + 1
        cs.append(_case(name, hint, dout=r.normal(size=(xs[0], ws[0], ho, wo)),
                        x=r.normal(size=xs), w=r.normal(size=ws), stride=s, pad=p))
    ng = _case("numerical gradient (float64), stride 2, padding 1", "dx, dw and db must be the "
               "gradients of sum(conv(x, w, b) * dout)", dout=r.normal(size=(1, 2, 3, 3)),
               x=r.normal(size=(1, 2, 5, 5)), w=r.normal(size=(2, 2, 3, 3)), stride=2, pad=1)
    ng["numgrad"] = True
    cs.append(ng)
    return cs


def _im2col_cases(r, hidden):
    cs = [_case("hand-sized: 1x1x3x3 image 0..8, 2x2 windows", "row 0 is the window at (0, 0): "
                "[0, 1, 3, 4]; row 1 the window at (0, 1): [1, 2, 4, 5]",
                x=np.arange(9.0).reshape(1, 1, 3, 3), kh=2, kw=2, stride=1, pad=0),
          _case("2 images, 3 channels, non-square 4x5", "rows in the order (n, i, j); inside "
                "a row channel first, then kernel row, then kernel column (as "
                "w.reshape(F, -1))", x=r.normal(size=(2, 3, 4, 5)), kh=3, kw=2, stride=1, pad=0),
          _case("stride 2, padding 1", "pad first; the window of (i, j) starts at i*stride, "
                "j*stride of the padded image", x=r.normal(size=(1, 2, 5, 5)), kh=3, kw=3,
                stride=2, pad=1)]
    if hidden:
        cs.append(_case("hidden: stride 3, padding 2", "", x=r.normal(size=(2, 2, 7, 6)),
                        kh=3, kw=4, stride=3, pad=2))
    return cs


def _col2im_cases(r, hidden):
    def case(name, hint, xs, k, s, p):
        ho, wo = (xs[2] + 2 * p - k[0]) // s + 1, (xs[3] + 2 * p - k[1]) // s + 1
        return _case(name, hint, dcols=r.normal(size=(xs[0] * ho * wo, xs[1] * k[0] * k[1])),
                     x_shape=np.array(xs), kh=k[0], kw=k[1], stride=s, pad=p)
    cs = [_case("hand-sized: rows of ones, 3x3 image, 2x2 windows", "the centre pixel lies in "
                "all 4 windows, so it gets 4: overlapping windows ADD up (+=, not =)",
                dcols=np.ones((4, 4)), x_shape=np.array([1, 1, 3, 3]), kh=2, kw=2, stride=1,
                pad=0),
          case("2 images, 3 channels, non-square 4x5", "undo im2col's order: rows (n, i, j), "
               "columns (c, kernel row, kernel column)", (2, 3, 4, 5), (3, 2), 1, 0),
          case("stride 2, padding 1", "add into a PADDED zero image, then crop `pad` from "
               "every side", (1, 2, 5, 5), (3, 3), 2, 1)]
    if hidden:
        cs.append(case("hidden: stride 3, padding 2", "", (2, 2, 7, 6), (3, 4), 3, 2))
    return cs


def _optim_cases(r, hidden, adam):
    steps = 4 if hidden else 3
    extra = {} if adam else {"momentum": 0.9}
    cs = [_case("hand-sized: one weight 1.0, gradient 1.0 three times",
                "m_hat = 1 and v_hat = 1 after bias correction, so each step is -lr" if adam else
                "v = -0.1, -0.19, -0.271: the velocity carries over between steps (keep it "
                "in self.state[name]) and p changes IN PLACE (p += v, not p = p + v)",
                W=np.ones((1, 1)), b=np.zeros(1), gW=np.ones((3, 1, 1)), gb=np.zeros((3, 1)),
                lr=0.1, **extra),
          _case(f"{steps} steps, two parameters of different shapes",
                "keep the state per parameter NAME (self.state[name]) and update p IN PLACE "
                "(p -= ..., p += ...): `p = p - ...` only rebinds a local name",
                W=r.normal(size=(3, 2)), b=r.normal(size=2), gW=r.normal(size=(steps, 3, 2)),
                gb=r.normal(size=(steps, 2)), lr=0.01, **extra)]
    if adam:
        cs.append(_case("tiny gradients (1e-6)", "Adam's step does not shrink with the "
                        "gradient: divide m_hat by sqrt(v_hat) + eps, eps outside the sqrt",
                        W=np.zeros((2, 2)), b=np.zeros(2), gW=np.full((2, 2, 2), 1e-6),
                        gb=np.full((2, 2), -1e-6), lr=0.001))
    return cs


def _train_cases(r, hidden):
    cs = [_case("a batch of 5 samples, 4 features, 3 classes", "forward, loss and gradient with "
                "softmax_cross_entropy(logits, yb), net.backward(dlogits), then "
                "optimizer.step(); return (loss, logits)",
                x=r.normal(size=(5, 4)), y=r.integers(0, 3, 5), W=r.normal(size=(4, 3)),
                b=np.zeros(3), lr=0.1),
          _case("a NaN loss must not update the weights", "check math.isfinite(loss) before "
                "backward and step: a NaN step ruins every weight",
                x=np.array([[np.inf, 1.0, 0, 0], [0, 1.0, 2, 3]]), y=np.array([0, 1]),
                W=r.normal(size=(4, 3)), b=np.zeros(3), lr=0.1)]
    if hidden:
        cs.append(_case("hidden: batch of 16", "", x=r.normal(size=(16, 6)),
                        y=r.integers(0, 4, 16), W=r.normal(size=(6, 4)), b=r.normal(size=4),
                        lr=0.5))
    return cs


def _fgsm_cases(r, hidden):
    def case(name, hint, n, k, eps, target=-1, x=None, size=4):
        x = r.uniform(-0.4, 0.4, size=(n, 1, size, size)) if x is None else x
        return _case(name, hint, x=x, y=r.integers(0, k, n), W=r.normal(size=(x[0].size, k)),
                     b=r.normal(size=k), eps=eps, target=target)
    # hand-sized: one 1x2 image, class 0 scores +x0, class 1 scores +x1; label 0, so the loss
    # -log p0 grows when x0 falls and x1 rises
    hand = _case("hand-sized: 2 pixels, class d scores pixel d, label 0, eps 0.1",
                 "g = input_gradient(net, x, labels, of='loss') is (-, +) here: step UPHILL on "
                 "the loss, x + eps * np.sign(g) = [0.1 - 0.1, 0.2 + 0.1] = [0, 0.3]",
                 x=np.array([[[[0.1, 0.2]]]]), y=np.array([0]), W=np.eye(2), b=np.zeros(2),
                 eps=0.1, target=-1)
    cs = [hand,
          case("random: 4 images, 3 classes, eps 0.05", "every pixel moves by exactly eps: use "
               "np.sign of the gradient, not the gradient itself", 4, 3, 0.05),
          case("pixels at the edges of the range, eps 0.3", "clip the result to the pixel range "
               "[-0.5, 0.5] (np.clip(..., -0.5, 0.5)): an attacked image is still an image", 3, 4,
               0.3, x=r.choice(np.array([-0.5, -0.45, 0.0, 0.45, 0.5]), size=(3, 1, 4, 4))),
          case("targeted at class 2", "with a target, step DOWNHILL on the target's loss: "
               "x - eps * np.sign(input_gradient(net, x, target, of='loss'))", 4, 3, 0.1,
               target=2)]
    if hidden:
        cs += [case("hidden: 6 images, 5 classes, eps 0.2, 6x6", "", 6, 5, 0.2, size=6),
               case("hidden: targeted at class 0, eps 0.45", "", 5, 4, 0.45, target=0)]
    return cs


_MAKERS = {"conv2d_loop": _conv_cases, "maxpool_loop": _pool_cases,
           "softmax": _softmax_cases, "log_softmax": _softmax_cases,
           "softmax_cross_entropy": _sce_cases, "linear_backward": _linear_cases,
           "relu": _relu_cases, "maxpool_backward_loop": _pool_back_cases,
           "conv2d_backward_loop": _conv_back_cases, "im2col": _im2col_cases,
           "col2im": _col2im_cases, "train_step": _train_cases,
           "momentum": lambda r, h: _optim_cases(r, h, adam=False),
           "adam": lambda r, h: _optim_cases(r, h, adam=True), "fgsm": _fgsm_cases,
           **BEYOND_MAKERS}


def make_cases(exercise_id, hidden=False):
    """The cases for one exercise: the public ones, plus more (other seeds, shapes) if hidden."""
    cases = _MAKERS[exercise_id](_rng(0), False)
    if hidden:
        extra = _MAKERS[exercise_id](_rng(1234), True)
        cases += [dict(c, name=c["name"] if c["name"].startswith("hidden") else
                       f"hidden: {c['name']}") for c in extra]
    return cases
