"""Tests for cnnlib.losses: softmax values, numerical stability at +-1000, the naive
version's overflow, the cross-entropy loss and its gradient, and label/logit checks."""

import numpy as np
import pytest

from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.losses import log_softmax, softmax, softmax_cross_entropy, softmax_naive
from bad_input_support import check_raises


# ---------------------------------------------------------------- softmax

def test_softmax_by_hand():
    # exp(0) : exp(ln 3) = 1 : 3
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75], rtol=1e-12)
    np.testing.assert_allclose(softmax(np.array([[2.0, 2.0, 2.0, 2.0]])), [[0.25] * 4])


def test_softmax_rows_sum_to_one_and_shift_invariance():
    z = np.random.default_rng(0).normal(scale=5, size=(6, 10))
    p = softmax(z)
    assert p.shape == z.shape and np.all(p > 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(z + 123.0), p, rtol=1e-10)
    # bigger score, bigger probability
    np.testing.assert_array_equal(np.argsort(p, axis=1), np.argsort(z, axis=1))


def test_softmax_of_huge_scores_is_finite_and_correct():
    z = np.array([1000.0, -1000.0, 0.0])
    p = softmax(z)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p, [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_array_equal(log_softmax(z), [0.0, -2000.0, -1000.0])


def test_naive_softmax_overflows_where_the_shifted_one_does_not():
    z = np.array([1000.0, -1000.0, 0.0])
    # exp(1000) overflows to inf (warning expected), then inf / inf is nan
    with pytest.warns(RuntimeWarning, match="overflow"), np.errstate(invalid="ignore"):
        p_naive = softmax_naive(z)
    assert np.isnan(p_naive).any()
    # the shifted version neither overflows nor divides inf by inf (underflow to 0 is fine)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax(z)
    assert np.all(np.isfinite(p))
    # for moderate scores the two agree
    small = np.array([[1.0, -2.0, 0.5]])
    np.testing.assert_allclose(softmax_naive(small), softmax(small), rtol=1e-12)


def test_log_softmax_matches_log_of_softmax():
    z = np.random.default_rng(1).normal(size=(4, 7))
    np.testing.assert_allclose(log_softmax(z), np.log(softmax(z)), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- cross-entropy

def test_cross_entropy_by_hand():
    logits = np.array([[0.0, np.log(3.0)]])
    loss, d = softmax_cross_entropy(logits, np.array([1]))
    np.testing.assert_allclose(loss, -np.log(0.75), rtol=1e-12)
    np.testing.assert_allclose(d, [[0.25, -0.25]], rtol=1e-12)


@pytest.mark.parametrize("k", [2, 10, 37])
def test_uniform_logits_give_log_k(k):
    n = 4
    loss, d = softmax_cross_entropy(np.full((n, k), 3.0), np.arange(n) % k)
    np.testing.assert_allclose(loss, np.log(k), rtol=1e-12)
    expected = np.full((n, k), 1.0 / k)
    expected[np.arange(n), np.arange(n) % k] -= 1
    np.testing.assert_allclose(d, expected / n, rtol=1e-12, atol=1e-15)


def test_cross_entropy_of_huge_logits_is_finite_and_correct():
    logits = np.array([[1000.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss_wrong, d_wrong = softmax_cross_entropy(logits, np.array([1]))
        loss_right, d_right = softmax_cross_entropy(logits, np.array([0]))
    # label is the -1000 class: -log p = -log exp(-2000) = 2000
    assert np.isfinite(loss_wrong) and loss_wrong == pytest.approx(2000.0, rel=1e-12)
    assert loss_right == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(d_wrong, [[1.0, -1.0]], atol=1e-12)
    np.testing.assert_allclose(d_right, [[0.0, 0.0]], atol=1e-12)
    # batch mean of the two wrong cases
    loss, d = softmax_cross_entropy(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]),
                                    np.array([1, 0]))
    assert loss == pytest.approx(2000.0, rel=1e-12)
    np.testing.assert_allclose(d, [[0.5, -0.5], [-0.5, 0.5]], atol=1e-12)


def test_cross_entropy_gradient_rows_sum_to_zero_and_is_mean_over_batch():
    rng = np.random.default_rng(2)
    logits, y = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    loss, d = softmax_cross_entropy(logits, y)
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-15)
    # the loss of a batch is the mean of the single-sample losses
    singles = [softmax_cross_entropy(logits[i:i + 1], y[i:i + 1])[0] for i in range(5)]
    np.testing.assert_allclose(loss, np.mean(singles), rtol=1e-12)


@pytest.mark.parametrize("n, k, scale", [(1, 3, 1.0), (4, 5, 1.0), (7, 10, 4.0), (3, 2, 0.1)])
def test_cross_entropy_gradcheck(n, k, scale):
    rng = np.random.default_rng(n * k)
    logits, y = rng.normal(scale=scale, size=(n, k)), rng.integers(0, k, size=n)
    _, d = softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda: softmax_cross_entropy(logits, y)[0], logits)
    assert rel_error(d, num) < 1e-6


def test_float32_logits_stay_float32():
    logits = np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32)
    loss, d = softmax_cross_entropy(logits, np.array([1, 2, 3]))
    assert d.dtype == np.float32
    assert np.asarray(loss).dtype == np.float32
    assert softmax(logits).dtype == np.float32


# ---------------------------------------------------------------- bad input

LOGITS = np.zeros((3, 5))


@pytest.mark.parametrize("logits, y, fragment", [
    (LOGITS, np.array([0, 5, 1]), "0..4"),                     # label too large
    (LOGITS, np.array([0, -1, 1]), "0..4"),                    # negative label
    (LOGITS, np.array([0.0, 1.0, 2.0]), "float64"),            # float labels
    (LOGITS, np.array([0, 1]), "(2,)"),                        # wrong length
    (LOGITS, np.array([[0, 1, 2]]), "(1, 3)"),                 # labels not 1-D
    (np.zeros(5), np.array([0]), "(5,)"),                      # logits 1-D
    (np.zeros((3, 5, 1)), np.array([0, 1, 2]), "(3, 5, 1)"),   # logits 3-D
    (np.zeros((3, 5), dtype=np.int64), np.array([0, 1, 2]), "int64"),  # integer logits
])
def test_bad_input_raises_value_error(logits, y, fragment):
    with pytest.raises(ValueError) as info:
        softmax_cross_entropy(logits, y)
    assert fragment in str(info.value)


def test_bad_labels_message_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        softmax_cross_entropy(LOGITS, np.array([0, 1]))


# ---------------------------------------------------------------- bad inputs (issue 11)
LOSS = [
    pytest.param(np.zeros((0, 10)), np.zeros(0, int), ValueError, ["empty batch"], id="N0"),
    pytest.param(np.zeros((3, 0)), np.zeros(3, int), ValueError, ["no classes", "Linear(..., 10)"],
                 id="K0"),
    pytest.param(np.zeros((2, 10)), np.array([3, 10]), ValueError, ["0..9", "10"], id="label10"),
    pytest.param(np.zeros((2, 10)), np.array([3.0, 1.0]), ValueError, ["integer labels"],
                 id="float-labels"),
    pytest.param(np.zeros((2, 10)), np.array([3, 1, 2]), ValueError, ["shape (2,)"],
                 id="length"),
    pytest.param(np.zeros(10), np.array([3]), ValueError, ["(N, K)"], id="1d-logits"),
    pytest.param(np.zeros((2, 10), int), np.array([3, 1]), ValueError, ["floating-point"],
                 id="int-logits"),
]


@pytest.mark.parametrize("logits, y, exc, words", LOSS)
def test_bad_loss_input(logits, y, exc, words):
    check_raises(lambda: softmax_cross_entropy(logits, y), exc, *words)


def test_loss_refuses_lists_in_one_sentence_and_takes_label_lists():
    """The project's one rule: arrays of numbers must be NumPy arrays (a list has no dtype);
    labels may be any sequence of integers."""
    with pytest.raises(TypeError, match=r"^logits must be a NumPy array; got list\. Convert it "
                                        r"first, e\.g\. np\.asarray\(logits"):
        softmax_cross_entropy([[0.0, 0.0, 0.0, 0.0]], [2])
    # uniform scores over 4 classes: loss = ln 4
    loss, _ = softmax_cross_entropy(np.zeros((1, 4)), [2])
    assert loss == pytest.approx(np.log(4))
