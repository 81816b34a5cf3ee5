"""Alt texts of notebook 00's (and 10's) digit grids and class balance say which digits are
shown, which predictions are wrong and how the classes are spread, computed here from the
same labels."""
import numpy as np

from cnnlib.viz.alt_text import ALT_ATTRIBUTE
from cnnlib.viz.describe import MAX_LISTED
from cnnlib.viz.digits import plot_class_balance, show_digits

RNG = np.random.default_rng(3)
IMAGES = RNG.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, size=30)


def test_grid_lists_the_labels_of_the_digits_it_shows():
    text = getattr(show_digits(IMAGES, LABELS, n=8, start=5), ALT_ATTRIBUTE)
    assert text == "8 digits, #5 to #12, labels " + " ".join(map(str, LABELS[5:13])) + "."


def test_grid_names_the_wrong_predictions():
    predictions = LABELS.copy()
    wrong = RNG.choice(16, size=MAX_LISTED + 2, replace=False)
    predictions[wrong] = (LABELS[wrong] + 1 + RNG.integers(0, 9, len(wrong))) % 10
    text = getattr(show_digits(IMAGES, LABELS, predictions, n=16), ALT_ATTRIBUTE)
    first = sorted(wrong)[:MAX_LISTED]
    assert f"; {len(wrong)} predicted wrong (in red): " in text
    assert ", ".join(f"#{i}: a {LABELS[i]} read as {predictions[i]}" for i in first) + "." in text
    right = getattr(show_digits(IMAGES, LABELS, LABELS, n=4), ALT_ATTRIBUTE)
    assert right.endswith("every prediction is right.")


def test_class_balance_names_the_sizes_and_the_extreme_classes():
    y_train, y_test = RNG.integers(0, 10, 500), RNG.integers(0, 10, 120)
    text = getattr(plot_class_balance(y_train, y_test), ALT_ATTRIBUTE)
    for name, y in (("training", y_train), ("test", y_test)):
        c = np.bincount(y, minlength=10)
        assert (f"the {name} set has {len(y):,} digits, from {c.min():,} of class "
                f"{c.argmin()} to {c.max():,} of class {c.argmax()}") in text
