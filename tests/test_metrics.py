"""Tests for cnnlib.metrics on small examples worked out by hand."""

import warnings

import numpy as np
import pytest

from cnnlib.metrics import accuracy, classification_report, confusion_matrix, precision_recall_f1

# 3 classes, 2 samples each. Correct: one 0, both 1s, one 2 -> accuracy 4/6.
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 0, 2])


def test_accuracy_by_hand():
    assert accuracy(Y_PRED, Y_TRUE) == pytest.approx(4 / 6)
    assert accuracy(np.array([3]), np.array([3])) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        accuracy(np.array([1, 2]), np.array([1]))


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(Y_TRUE, Y_PRED, num_classes=3)
    np.testing.assert_array_equal(cm, [[1, 1, 0],     # true 0: one right, one called 1
                                       [0, 2, 0],     # true 1: both right
                                       [1, 0, 1]])    # true 2: one called 0, one right
    assert cm.sum() == 6 and cm.trace() == 4


def test_confusion_matrix_counts_repeats_and_checks_range():
    cm = confusion_matrix(np.array([1, 1, 1]), np.array([0, 0, 0]), num_classes=2)
    assert cm[1, 0] == 3                               # repeated pairs all counted
    with pytest.raises(ValueError, match=r"y_pred must lie in 0\.\.1"):
        confusion_matrix(np.array([0]), np.array([2]), num_classes=2)
    with pytest.raises(ValueError, match="integer labels"):
        confusion_matrix(np.array([0.0]), np.array([0]))


def test_precision_recall_f1_by_hand():
    p, r, f, s = precision_recall_f1(Y_TRUE, Y_PRED, num_classes=3)
    # precision = right / predicted as k: 1/2, 2/3, 1/1 ; recall = right / truly k: 1/2, 2/2, 1/2
    np.testing.assert_allclose(p, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(r, [0.5, 1.0, 0.5])
    # f1 = 2PR/(P+R): 0.5, 2*(2/3)/(5/3) = 0.8, 2*0.5/1.5 = 2/3
    np.testing.assert_allclose(f, [0.5, 0.8, 2 / 3])
    np.testing.assert_array_equal(s, [2, 2, 2])


def test_report_layout_and_averages():
    text = classification_report(Y_TRUE, Y_PRED, num_classes=3)
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert text.splitlines()[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines["1"].split() == ["1", "0.667", "1.000", "0.800", "2"]
    assert lines["accuracy"].split() == ["accuracy", "0.667", "6"]
    macro = lines["macro"].split()
    # macro precision (0.5 + 0.667 + 1) / 3 = 0.722 ; recall 2/3 ; f1 (0.5 + 0.8 + 0.667)/3 = 0.656
    assert macro[2:] == ["0.722", "0.667", "0.656", "6"]


def test_weighted_average_uses_support():
    # class 0: 3 samples all right; class 1: 1 sample, called 0.
    # precision 3/4 and 0 ; recall 1 and 0 ; f1 6/7 and 0 ; weights 3/4 and 1/4
    text = classification_report(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]), num_classes=2)
    weighted = [l for l in text.splitlines() if "weighted avg" in l][0].split()
    assert weighted[2:] == [f"{0.75 * 0.75:.3f}", "0.750", f"{0.75 * 6 / 7:.3f}", "4"]


def test_zero_division_is_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, r, f, s = precision_recall_f1(np.array([0, 0]), np.array([0, 0]), num_classes=3)
        text = classification_report(np.array([], dtype=int), np.array([], dtype=int), 3)
    np.testing.assert_array_equal(p, [1, 0, 0])         # classes 1, 2 never predicted nor present
    np.testing.assert_array_equal(f, [1, 0, 0])
    assert "accuracy" in text


def test_report_with_class_names():
    text = classification_report(Y_TRUE, Y_PRED, num_classes=3, names=["zero", "one", "two"])
    assert "zero" in text and "two" in text
