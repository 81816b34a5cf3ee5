"""The registry of implementation exercises: what the student writes, where, and
which of cnnlib's functions is the model solution (so the two editions cannot drift).

Each exercise names a function of cnnlib ("conv2d_loop") or methods of a class
("Linear" with methods ("backward",)). The student edition replaces exactly those
bodies with a stub; the instructor edition wraps them in nbgrader's solution markers.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    """One implementation exercise.

    id: the key used by check() and the grader; name: what the student defines;
    module: where cnnlib's solution lives; methods: for a class, the methods to write
    (empty for a function); notebook: the two-digit notebook that asks for it;
    show: the show_source(...) expressions that reveal it; anchor: where to put the
    exercise when the notebook shows none of them; stub_hint: the one-line hint.
    What the answer may not call is EQUIVALENTS[id], below.
    """
    id: str
    title: str
    name: str
    module: str
    notebook: str
    stub_hint: str
    methods: tuple = ()
    show: tuple = ()
    anchor: tuple = ()
    minutes: int = 20

    def reference(self):
        """cnnlib's object for this exercise (a function or a class)."""
        return getattr(importlib.import_module(self.module), self.name)

    def targets(self):
        """The functions whose bodies are the exercise: [(qualname, function)]."""
        ref = self.reference()
        if not self.methods:
            return [(self.name, ref)]
        return [(f"{self.name}.{m}", ref.__dict__[m]) for m in self.methods]

    @property
    def equivalents(self):
        """The "module:qualname" of cnnlib's solution and of every cnnlib object that
        computes the same result (EQUIVALENTS[id])."""
        return EQUIVALENTS[self.id]

    def forbidden_objects(self):
        """[(label, owner, attribute)] for every cnnlib object the answer must not call."""
        out = []
        for spec in self.equivalents:
            module, qual = spec.split(":")
            owner = importlib.import_module(module)
            *path, attr = qual.split(".")
            for part in path:
                owner = getattr(owner, part)
            out.append((f"{module}.{qual}", owner, attr))
        return out


# Every cnnlib object that computes an exercise's result, or the heart of it, from the
# arguments of its cases: the exercise's own function first, then the fast paths and the
# layers, optimizers and training helpers that reach it. ONE table, used three ways:
#   - the student's check (guard.tripwires) makes them raise while the answer runs;
#   - the grading build (grading_build.py) is a copy of cnnlib in which each of them,
#     for the exercises being graded, has its body replaced by a `raise`: in the grading
#     process the solution is not there to be called, however it is reached;
#   - tests/test_homework_attacks.py sweeps every public function and method of the
#     grading build with each exercise's cases, so an equivalent missing here (now or
#     after a refactor moves a module) fails a test.
# Entries are "module:qualname" strings; when a module moves, update them here.
EQUIVALENTS = {
    "conv2d_loop": ("cnnlib.conv:conv2d_loop", "cnnlib.conv:conv2d_fast",
                    "cnnlib.conv:conv2d_im2col", "cnnlib.conv:Conv2D.forward",
                    "cnnlib.speed.fftconv:conv2d_fft", "cnnlib.speed.fftconv:FFTConv2D.forward",
                    "cnnlib.im2col:im2col", "cnnlib.im2col:im2col_batch_last",
                    "cnnlib.im2col:windows"),
    "maxpool_loop": ("cnnlib.pool:maxpool_loop", "cnnlib.pool:maxpool_fast",
                     "cnnlib.pool:MaxPool2D.forward", "cnnlib.im2col:windows",
                     "cnnlib.im2col:im2col", "cnnlib.im2col:im2col_batch_last"),
    "softmax": ("cnnlib.losses:softmax", "cnnlib.losses:log_softmax",
                "cnnlib.losses:softmax_cross_entropy", "cnnlib.losses:softmax_naive"),
    "log_softmax": ("cnnlib.losses:log_softmax", "cnnlib.losses:softmax",
                    "cnnlib.losses:softmax_cross_entropy", "cnnlib.losses:softmax_naive"),
    "softmax_cross_entropy": ("cnnlib.losses:softmax_cross_entropy",),
    "linear_backward": ("cnnlib.layers:Linear.backward",),
    "relu": ("cnnlib.layers:ReLU.forward", "cnnlib.layers:ReLU.backward"),
    "maxpool_backward_loop": ("cnnlib.pool:maxpool_backward_loop",
                              "cnnlib.pool:maxpool_backward_fast",
                              "cnnlib.pool:MaxPool2D.backward", "cnnlib.pool:maxpool_fast"),
    "conv2d_backward_loop": ("cnnlib.conv:conv2d_backward_loop",
                             "cnnlib.conv:conv2d_backward_fast",
                             "cnnlib.conv:conv2d_backward_im2col", "cnnlib.conv:Conv2D.backward",
                             "cnnlib.speed.fftconv:conv2d_backward_fft",
                             "cnnlib.speed.fftconv:FFTConv2D.backward"),
    "train_step": ("cnnlib.train:train_step", "cnnlib.train:fit",
                   "cnnlib.speed.parts:part_gradients",
                   "cnnlib.speed.workers:WorkerTeam.train_step",
                   "cnnlib.speed.workers:WorkerTeam._train_step",
                   "cnnlib.speed.parallel:train_step_threads"),
    "momentum": ("cnnlib.optim:Momentum.update",),
    "im2col": ("cnnlib.im2col:im2col", "cnnlib.im2col:im2col_batch_last",
               "cnnlib.conv:conv2d_fast", "cnnlib.conv:conv2d_im2col"),
    "col2im": ("cnnlib.im2col:col2im", "cnnlib.im2col:col2im_batch_last",
               "cnnlib.conv:conv2d_backward_im2col"),
    "adam": ("cnnlib.optim:Adam.update",),
    # input_gradient stays allowed: the exercise is the step, its sign and the clipping
    "fgsm": ("cnnlib.attacks:fgsm", "cnnlib.attacks:pgd", "cnnlib.attacks:_direction"),
    # the training split's twins compute the same layers (cnnlib.speed.synced): a part that
    # meets no other is the whole batch, and _Draw.mask is Dropout's mask for a batch
    "batchnorm": ("cnnlib.batchnorm:BatchNorm.forward", "cnnlib.batchnorm:BatchNorm.backward",
                  "cnnlib.batchnorm:batchnorm_backward_steps",
                  "cnnlib.speed.synced:SyncBatchNorm.forward",
                  "cnnlib.speed.synced:SyncBatchNorm.backward"),
    "dropout": ("cnnlib.dropout:Dropout.forward", "cnnlib.dropout:Dropout.backward",
                "cnnlib.speed.synced:SplitDropout.forward", "cnnlib.speed.synced:_Draw.mask"),
    "residual_backward": ("cnnlib.residual:Residual.backward",),
}

EXERCISES = [
    Exercise("conv2d_loop", "convolution forward (loops)", "conv2d_loop", "cnnlib.conv", "01",
             "loop over images n, filters f and output pixels (i, j); out[n, f, i, j] = "
             "sum(window * w[f]) + b[f]",
             show=("conv2d_loop",), minutes=30),
    Exercise("maxpool_loop", "max-pool forward (loops)", "maxpool_loop", "cnnlib.pool", "02",
             "out[n, c, i, j] = max of the size x size window starting at row i*stride, "
             "column j*stride",
             show=("maxpool_loop",), minutes=20),
    Exercise("softmax", "numerically stable softmax", "softmax", "cnnlib.losses", "03",
             "subtract each row's maximum before np.exp, then divide by the row sum",
             show=("softmax",), minutes=15),
    Exercise("log_softmax", "stable log-softmax (the cross-entropy's log-probabilities)",
             "log_softmax", "cnnlib.losses", "03",
             "(z - m) - log(sum(exp(z - m))) with m the row maximum; never take log of a "
             "probability that may be 0",
             show=("log_softmax",),
             minutes=15),
    Exercise("softmax_cross_entropy", "softmax-cross-entropy loss and its gradient",
             "softmax_cross_entropy", "cnnlib.losses", "05",
             "loss = mean of -log p[n, y_n]; dlogits = (p - onehot(y)) / N",
             show=("softmax_cross_entropy",), minutes=25),
    Exercise("linear_backward", "dense layer backward", "Linear", "cnnlib.layers", "05",
             "dW = x.T @ dout, db = dout summed over the batch, dx = dout @ W.T; store "
             "dW and db in self.grads",
             methods=("backward",), show=("Linear", "Linear.backward"), minutes=20),
    Exercise("relu", "ReLU forward and backward", "ReLU", "cnnlib.layers", "04",
             "forward: keep x where x > 0 (without changing x); backward: pass dout where "
             "x was > 0",
             methods=("forward", "backward"), show=("ReLU", "ReLU.forward", "ReLU.backward"),
             anchor=("Layer",),
             minutes=15),
    Exercise("maxpool_backward_loop", "max-pool backward (ties!)", "maxpool_backward_loop",
             "cnnlib.pool", "06",
             "send dout[n, c, i, j] to ONE position, the first arg-max of its window",
             show=("maxpool_backward_loop",), minutes=30),
    Exercise("conv2d_backward_loop", "convolution backward (dx, dw, db)",
             "conv2d_backward_loop", "cnnlib.conv", "07",
             "every output pixel adds dout * window to dw[f] and dout * w[f] to the "
             "window of the padded dx; crop the padding at the end",
             show=("conv2d_backward_loop",), minutes=45),
    Exercise("train_step", "one training step", "train_step", "cnnlib.train", "08",
             "forward, softmax_cross_entropy, and only if the loss is finite: backward "
             "and optimizer.step(); return (loss, logits)",
             show=("train_step",), minutes=15),
    Exercise("momentum", "one SGD-with-momentum step", "Momentum", "cnnlib.optim", "08",
             "v <- momentum * v - lr * g, kept per parameter name in self.state; then "
             "p <- p + v, in place",
             methods=("update",), show=("Momentum", "Momentum.update"), minutes=20),
    Exercise("im2col", "im2col", "im2col", "cnnlib.im2col", "09",
             "one row per output pixel (n, i, j), holding its window in the order channel, "
             "row, column",
             show=("im2col",), minutes=30),
    Exercise("col2im", "col2im", "col2im", "cnnlib.im2col", "09",
             "add (not assign) every row back onto its window of a padded zero image, "
             "then crop the padding",
             show=("col2im",), minutes=30),
    Exercise("adam", "one Adam step", "Adam", "cnnlib.optim", "10",
             "update the running means m and v, correct their bias with self.t, then "
             "p -= lr * m_hat / (sqrt(v_hat) + eps), in place",
             methods=("update",), show=("Adam", "Adam.update"), minutes=20),
    Exercise("fgsm", "the fast gradient sign method", "fgsm", "cnnlib.attacks", "13",
             "g = input_gradient(net, x, labels, of='loss'); x + eps * np.sign(g), clipped to "
             "[-0.5, 0.5]; with a target: x - eps * np.sign(gradient of the target's loss)",
             show=("fgsm",), minutes=20),
    Exercise("batchnorm", "batch normalisation forward and backward", "BatchNorm",
             "cnnlib.batchnorm", "12",
             "training: mu, var (divide by m) over _axes(x), xhat = (x - mu) / sqrt(var + eps), "
             "running <- momentum * running + (1 - momentum) * stat (var * m / (m - 1)); "
             "inference: the running statistics; backward: the compact formula",
             methods=("forward", "backward"), show=("BatchNorm",), minutes=45),
    Exercise("dropout", "inverted dropout forward and backward", "Dropout", "cnnlib.dropout",
             "12",
             "training: keep = np.random.default_rng((self.seed, step)).random(x.shape) >= "
             "self.p, then step += 1; out = x * keep / (1 - p), the mask kept for backward; "
             "inference: x itself",
             methods=("forward", "backward"), show=("Dropout",), minutes=20),
    Exercise("residual_backward", "the residual block's backward", "Residual",
             "cnnlib.residual", "12",
             "run dout back through the inner layers in reverse order, then add the skip's "
             "gradient: dx = dout + the branch's gradient",
             methods=("backward",), show=("Residual.backward",), minutes=15),
]

BY_ID = {ex.id: ex for ex in EXERCISES}


def get(exercise_id):
    """The Exercise with this id; a clear error listing the ids otherwise."""
    try:
        return BY_ID[exercise_id]
    except KeyError:
        raise ValueError(f"unknown exercise {exercise_id!r}; the exercises are "
                         f"{', '.join(BY_ID)}.") from None


def for_notebook(number):
    """The exercises notebook `number` ("01") asks for, in registry order."""
    return [ex for ex in EXERCISES if ex.notebook == number]
