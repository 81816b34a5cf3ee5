"""The one boundary rule of every public function (cnnlib/checks.py), tried on all of them:
an array of numbers given as a Python list is refused in one sentence that says how to
convert it; an allocation larger than the memory available is refused before it starts,
with the project's message (what it would need, what to do); non-finite images are named
by the functions a user calls to score a network."""
import numpy as np
import pytest

from cnnlib import checks
from cnnlib.architectures import lenet
from cnnlib.attacks import fgsm, pgd, sign_noise, smallest_flipping_eps
from cnnlib.augment import random_rotations, rotate_batch
from cnnlib.batchnorm import BatchNorm, batchnorm_backward_steps
from cnnlib.dropout import Dropout
from cnnlib.residual import Residual
from cnnlib.conv import conv2d_backward_fast, conv2d_fast, conv2d_im2col, conv2d_loop
from cnnlib.layers import Linear, ReLU
from cnnlib.losses import log_softmax, softmax, softmax_cross_entropy
from cnnlib.saliency import input_gradient, occlusion, smoothgrad, with_input_gradient
from cnnlib.pool import avgpool_fast, avgpool_loop, maxpool_backward_fast, maxpool_fast, maxpool_loop
from cnnlib.train import evaluate, fit

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 1, 6, 6)).astype(np.float32)
W = RNG.normal(size=(3, 1, 3, 3)).astype(np.float32)
B = np.zeros(3, np.float32)
Z = RNG.normal(size=(2, 4))
IMAGES = RNG.normal(size=(4, 1, 28, 28)).astype(np.float32)
LABELS = np.array([0, 1, 2, 3])
INPUTS = np.clip(IMAGES, -0.5, 0.5)             # network inputs, as the attacks require
SEES_X = with_input_gradient(lenet(seed=0))

# (name, function, arguments): each array argument is replaced, in turn, by a list
PUBLIC = [
    ("conv2d_loop", conv2d_loop, (X, W, B)),
    ("conv2d_fast", conv2d_fast, (X, W, B)),
    ("conv2d_im2col", conv2d_im2col, (X, W, B)),
    ("conv2d_backward_fast", conv2d_backward_fast,
     (np.ones((2, 3, 4, 4), np.float32), X, W)),
    ("maxpool_loop", maxpool_loop, (X,)),
    ("maxpool_fast", maxpool_fast, (X,)),
    ("maxpool_backward_fast", maxpool_backward_fast, (np.ones((2, 1, 3, 3), np.float32), X)),
    ("avgpool_loop", avgpool_loop, (X,)),
    ("avgpool_fast", avgpool_fast, (X,)),
    ("softmax", softmax, (Z,)),
    ("log_softmax", log_softmax, (Z,)),
    ("softmax_cross_entropy", softmax_cross_entropy, (Z, np.array([0, 3]))),
    ("Linear.forward", Linear(4, 2, seed=0).forward, (Z.astype(np.float32),)),
    ("ReLU.forward", ReLU().forward, (Z,)),
    ("Sequential.predict", lenet(seed=0).predict, (IMAGES,)),
    ("BatchNorm.forward", BatchNorm(4).forward, (Z.astype(np.float32),)),
    ("batchnorm_backward_steps", batchnorm_backward_steps, (Z, Z, np.ones(4))),
    ("Dropout.forward", Dropout(0.5).forward, (Z,)),
    ("Residual.forward", Residual([ReLU()]).forward, (Z,)),
    ("rotate_batch", rotate_batch, (X, np.zeros(2))),
    ("random_rotations", lambda x: random_rotations(x, np.random.default_rng(0)), (X,)),
    ("evaluate", lambda x, y: evaluate(lenet(seed=0), x, y), (IMAGES, LABELS)),
    ("fit", lambda x, y: fit(lenet(seed=0), x, y, epochs=1, progress=False), (IMAGES, LABELS)),
    ("input_gradient", lambda x: input_gradient(SEES_X, x, 1), (IMAGES,)),
    ("smoothgrad", lambda x: smoothgrad(SEES_X, x, 1, samples=2), (IMAGES,)),
    ("occlusion", lambda x: occlusion(SEES_X, x[:1], 1, size=14, stride=14), (IMAGES,)),
    ("fgsm", lambda x, e: fgsm(SEES_X, x, LABELS, e), (INPUTS, np.full(4, 0.1))),
    ("pgd", lambda x, e: pgd(SEES_X, x, LABELS, e, steps=2), (INPUTS, np.full(4, 0.1))),
    ("sign_noise", sign_noise, (INPUTS, np.full(4, 0.1))),
    ("smallest_flipping_eps", lambda x: smallest_flipping_eps(SEES_X, x, LABELS, iterations=2),
     (INPUTS,)),
]
CASES = [(name, f, args, i) for name, f, args in PUBLIC for i, a in enumerate(args)
         if np.issubdtype(a.dtype, np.floating)]


@pytest.mark.parametrize("name, f, args, i", CASES, ids=[f"{c[0]}-arg{c[3]}" for c in CASES])
def test_a_list_of_numbers_is_refused_in_one_sentence(name, f, args, i):
    f(*args)                                                    # the arrays themselves work
    as_list = list(args)
    as_list[i] = args[i].tolist()
    with pytest.raises(TypeError, match=r"must be a NumPy array; got list\. Convert it first, "
                                        r"e\.g\. np\.asarray\("):
        f(*as_list)


def test_labels_may_be_any_sequence_of_integers():
    assert softmax_cross_entropy(Z, [0, 3])[0] == softmax_cross_entropy(Z, np.array([0, 3]))[0]


@pytest.fixture
def little_memory(monkeypatch):
    """The machine as if it had 100 MiB free: nothing large is ever allocated by the test."""
    monkeypatch.setattr(checks, "memory_limit", lambda: 100 * 2**20)


@pytest.mark.parametrize("call, what", [
    (lambda x: conv2d_fast(x, np.zeros((8, 1, 3, 3), np.float32), np.zeros(8, np.float32)),
     "this convolution"),
    (lambda x: conv2d_loop(x, np.zeros((8, 1, 3, 3), np.float32), np.zeros(8, np.float32)),
     "this convolution"),
    (lambda x: maxpool_fast(x), "this pooling"),
    (lambda x: avgpool_fast(x), "this pooling"),
    (lambda x: lenet(seed=0).forward(x), "this convolution"),
])
def test_too_large_for_memory_is_refused_before_allocating(little_memory, call, what):
    """A broadcast batch of 10^5 images takes no memory itself; what the function would
    allocate for it is added up and refused with the project's message."""
    x = np.broadcast_to(np.float32(0), (10**5, 1, 28, 28))
    with pytest.raises(MemoryError, match=rf"^{what} would need [\d.,]+ GiB at once \(.*\), more "
                                          r"than the 0\.1 GiB of memory available\. Use a "
                                          r"smaller batch"):
        call(x)


def test_the_memory_rule_adds_up_what_is_held_at_once(little_memory):
    """Two arrays that fit one by one but not together are refused."""
    each = ((60 * 2**20,), np.uint8, "a")
    checks.check_memory_total([each], "one")
    with pytest.raises(MemoryError, match=r"two would need 0\.1 GiB at once \(a \(62914560,\)"):
        checks.check_memory_total([each, each], "two")


@pytest.mark.parametrize("call", [
    lambda net, x: net.predict(x), lambda net, x: net.predict_proba(x),
    lambda net, x: evaluate(net, x, LABELS)])
def test_a_nan_pixel_is_named_by_the_scoring_functions(call):
    x = IMAGES.copy()
    x[2, 0, 5, 7] = np.nan
    with pytest.raises(ValueError, match=r"x holds 1 NaN or infinite pixel value\(s\) \(the "
                                         r"first in image 2\).*np\.isfinite\(x\)"):
        call(lenet(seed=0), x)


def test_predict_batch_size_must_be_a_positive_integer():
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
            lenet(seed=0).predict(IMAGES, batch_size=bad)
