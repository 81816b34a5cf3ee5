"""How good are the predictions? Accuracy, the confusion matrix, and a per-class report.

Introduced in notebooks/10_deeper_cnn.ipynb.
"""

import numpy as np

from .checks import check_labels

__all__ = ["accuracy", "classification_report", "confusion_matrix", "precision_recall_f1"]


def _pair(y_true, y_pred):
    y_true, y_pred = check_labels(y_true, name="y_true"), check_labels(y_pred, name="y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {y_true.shape} "
                         f"and {y_pred.shape}.")
    return y_true, y_pred


def accuracy(pred, y):
    """Fraction of predictions equal to the labels: mean(pred == y). pred, y: (N,) ints.

    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    y, pred = _pair(y, pred)
    return float(np.mean(pred == y)) if len(y) else 0.0


def confusion_matrix(y_true, y_pred, num_classes=10):
    """(num_classes, num_classes) int64 counts: entry [i, j] = how many of class i were
    predicted as j (rows true, columns predicted; the diagonal is the correct ones).

    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    check_labels(y_true, num_classes, "y_true"), check_labels(y_pred, num_classes, "y_pred")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _divide(a, b):
    """a / b element-wise, 0 where b == 0 (no warnings)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def precision_recall_f1(y_true, y_pred, num_classes=10):
    """Per-class arrays (precision, recall, f1, support).

    precision_k = TP / predicted as k ; recall_k = TP / truly k ;
    f1 = 2 P R / (P + R); every 0/0 counts as 0.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm)
    precision = _divide(tp, cm.sum(axis=0))
    recall = _divide(tp, cm.sum(axis=1))
    f1 = _divide(2 * precision * recall, precision + recall)
    return precision, recall, f1, cm.sum(axis=1)


def classification_report(y_true, y_pred, num_classes=10, names=None, digits=3):
    """A printable table of precision, recall, F1 and support per class, then the
    accuracy and the macro (plain mean over classes) and weighted (by support) averages.

    Introduced in notebooks/10_deeper_cnn.ipynb.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    p, r, f, s = precision_recall_f1(y_true, y_pred, num_classes)
    names = [str(k) for k in range(num_classes)] if names is None else [str(n) for n in names]
    w = max(12, max(len(n) for n in names))
    num = f">9.{digits}f"
    head = f"{'':>{w}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"

    def row(label, prec, rec, f1, support):
        return f"{label:>{w}} {prec:{num}} {rec:{num}} {f1:{num}} {support:>9}"

    lines = [head, ""] + [row(names[k], p[k], r[k], f[k], s[k]) for k in range(num_classes)]
    total = int(s.sum())
    weights = s / total if total else np.zeros(num_classes)
    lines += ["",
              f"{'accuracy':>{w}} {'':>19} {accuracy(y_pred, y_true):{num}} {total:>9}",
              row("macro avg", p.mean(), r.mean(), f.mean(), total),
              row("weighted avg", p @ weights, r @ weights, f @ weights, total)]
    return "\n".join(lines)
