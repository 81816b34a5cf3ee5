"""cnnlib.viz.describe_trained: the alt texts of notebooks 10-13's figures say what the data
shows (the largest confusion, the most confident mistake, the strongest feature map, the
answer before and after an attack or a move, how the signal's variance changes), each checked
here against numbers the test computes itself."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from pyplot_support import no_figures_left_in_pyplot  # noqa: F401 (autouse fixture)

from cnnlib.architectures import lenet, one_conv_net, plain_stack
from cnnlib.attacks import fgsm
from cnnlib.augment import transform_digit
from cnnlib.data import load_mnist, to_float
from cnnlib.saliency import with_input_gradient
from cnnlib.viz.activations import trace_activations
from cnnlib.viz.adversarial import attack_view, plot_eps_histogram
from cnnlib.viz.alt_text import ALT_ATTRIBUTE, alt_text
from cnnlib.viz.depth import plot_signal, signal_variances
from cnnlib.viz.describe_trained import (describe_confusion, describe_signal,
                                         describe_transform_accuracy)
from cnnlib.viz.evaluation import plot_confusion_matrix, plot_optimizer_comparison
from cnnlib.viz.robustness import (plot_transform_accuracy, plot_transform_effect,
                                    transform_accuracy)
from cnnlib.viz.trained import (conv_map_layers, first_conv_weights, plot_confidence_histogram,
                                 plot_filters, plot_layer_maps, plot_most_wrong, predict_view,
                                 to_input)


@pytest.fixture(scope="module")
def net():
    return lenet(seed=0)


@pytest.fixture(scope="module")
def digits():
    _, (x, y) = load_mnist()
    return x[:12], y[:12]


def own(fig):
    text = getattr(fig, ALT_ATTRIBUTE, None)
    plt.close(fig)
    return text


# notebook 10: the confusion matrix ----------------------------------------------------------

def test_confusion_names_the_largest_confusions_and_the_accuracy():
    rng = np.random.default_rng(1)
    cm = np.zeros((10, 10), int)
    off = ~np.eye(10, dtype=bool)
    cm[off] = rng.permutation(90)                  # distinct counts: a clear order
    cm[np.diag_indices(10)] = rng.integers(500, 1000, 10)
    cells = sorted(((cm[i, j], i, j) for i in range(10) for j in range(10) if i != j),
                   reverse=True)
    text = own(plot_confusion_matrix(cm))
    listed = [f"{i} read as {j} ({n} times)" for n, i, j in cells[:3]]
    assert ", ".join(listed) in text
    assert f"{cells[3][1]} read as {cells[3][2]} " not in text
    assert f"accuracy {np.trace(cm) / cm.sum():.1%} on {cm.sum():,} digits" in text


def test_confusion_without_mistakes_or_predictions_says_so():
    assert describe_confusion(np.diag([3, 4])).endswith("no mistakes.")
    assert "no predictions" in describe_confusion(np.zeros((3, 3)))


def test_confusion_drawn_into_a_given_axes_keeps_the_generic_text():
    fig = plt.figure()
    ax = fig.add_subplot(1, 2, 1)
    fig.add_subplot(1, 2, 2).plot([0, 1])
    plot_confusion_matrix(np.eye(3, dtype=int), ax=ax)
    assert own(fig) is None                        # the figure holds more than the matrix


# notebook 11: mistakes, the digit explorer, the transform explorer ----------------------------

def test_mistakes_read_out_the_most_confident_ones(net, digits):
    images, labels = digits
    probs = net.predict_proba(to_input(images))
    wrong = [(probs[i].max(), -i, i) for i in range(len(labels)) if probs[i].argmax() != labels[i]]
    assert wrong, "an untrained net gets some of 12 digits wrong"
    first = max(wrong)[2]
    text = own(plot_most_wrong(net, to_input(images), labels, images, n=5, probs=probs))
    assert text.startswith(f"The {min(5, len(wrong))} test digits the network got wrong")
    assert (f"e.g. #{first}, a {labels[first]} read as {probs[first].argmax()} "
            f"({probs[first].max():.0%})") in text


@pytest.mark.parametrize("index", [0, 3])
def test_digit_explorer_says_the_answer_and_the_strongest_map(net, digits, index):
    images, labels = digits
    p = net.predict_proba(to_input(images[index]))[0]
    text = own(predict_view(net, images, index, labels))
    assert f"label {labels[index]}: the network reads it as {p.argmax()} ({p.max():.0%})" in text
    assert ("(right)" in text) == (p.argmax() == labels[index])
    outs = [out[0] for _, out in trace_activations(net, images[index])]
    for i in conv_map_layers(net)[:2]:
        means = [m.mean() for m in outs[i]]
        assert f"{len(means)} maps of" in text
        assert f"the strongest on average is map {int(np.argmax(means))} " in text


def test_a_bad_index_keeps_the_generic_text(net, digits):
    assert own(predict_view(net, digits[0], 99, digits[1])) is None


@pytest.mark.parametrize("shift, angle", [((0, 0), 0.0), ((3, -2), 45.0)])
def test_transform_explorer_compares_the_answers(net, digits, shift, angle):
    image, label = digits[0][1], int(digits[1][1])
    p, q = net.predict_proba(to_input(np.stack([image.astype(float),
                                                transform_digit(image, shift, angle)])))
    text = own(plot_transform_effect(net, image, label, shift, angle))
    assert f"is read as {p.argmax()} ({p.max():.0%})" in text
    assert f"it is read as {q.argmax()} ({q.max():.0%})" in text
    assert ("stays the same" in text) == (p.argmax() == q.argmax())


# notebook 12: the signal per layer -----------------------------------------------------------

def test_signal_says_whether_the_variance_holds_or_vanishes(digits):
    images, labels = digits
    x = to_float(images[:, None]).astype(np.float64)
    runs = {name: signal_variances(plain_stack(depth=8, width=32, batchnorm=False, init=init,
                                               dtype=np.float64), x, labels)
            for name, init in (("He", "he"), ("std 0.01", 0.01))}
    text = own(plot_signal(runs))
    for name, (acts, grads) in runs.items():
        a = np.asarray(acts)
        if a.max() <= 10 * a.min():
            said = f"with {name} the output variance stays between {a.min():.2g} and {a.max():.2g}"
        else:
            verb = "falls" if a[-1] < a[0] else "rises"
            said = (f"with {name} the output variance {verb} from {a[0]:.2g} at layer 1 to "
                    f"{a[-1]:.2g} at layer {len(a)}")
        assert said in text
        assert f"gradient variance at layer 1: {grads[0]:.2g}" in text
    tiny = runs["std 0.01"][0]
    assert tiny[-1] < 1e-6 * tiny[0] and "std 0.01 the output variance falls" in text


def test_signal_with_no_finite_variance_says_so():
    assert "no layer has a finite, non-zero variance" in \
        describe_signal({"std 1": ([np.inf, np.nan], [np.nan, np.nan])})


# notebook 13: one attack ---------------------------------------------------------------------

def test_attack_says_both_answers_and_the_size_of_the_change():
    _, (x, y) = load_mnist()
    net, x, label = with_input_gradient(one_conv_net(seed=0)), to_float(x[:1, None]), int(y[0])
    adv = fgsm(net, x, label, 0.1)
    p, q = net.predict_proba(np.concatenate([x, adv]).astype(x.dtype))
    delta = np.abs(adv - x)
    text = own(attack_view(net, x, label, 0.1, "FGSM"))
    assert text.startswith("FGSM, ε = 0.1: the digit")
    assert f"read as {p.argmax()} ({p.max():.0%}) is read as {q.argmax()} ({q.max():.0%})" in text
    assert ("answer changes" in text) == (p.argmax() != q.argmax())
    at_max = int((delta >= delta.max() - 1e-6).sum())
    assert f"at most {delta.max():.3f} per pixel, that much on {at_max} of {delta.size}" in text
    assert alt_text(attack_view(net, x, label, 0.1, "random signs", target=3)).startswith(
        "A message: cannot attack")


# notebook 11: filters, confidence, accuracy of moved digits ----------------------------------

def test_filters_name_the_range_and_the_largest_filter(net):
    w = first_conv_weights(net)
    norms = [np.sqrt((f ** 2).sum()) for f in w]
    text = own(plot_filters(w))
    assert f"{len(w)} filter(s) of {w.shape[1]} channel(s), {w.shape[2]}×{w.shape[3]}" in text
    assert f"weights from {w.min():.2g} (blue) to {w.max():.2g} (red)" in text
    largest = int(np.argmax(norms))
    assert f"filter f{largest} has the largest weights (norm {norms[largest]:.2g})" in text


def test_confidence_compares_accuracy_with_mean_confidence(net, digits):
    images, labels = digits
    probs = net.predict_proba(to_input(images))
    right = probs.argmax(axis=1) == labels
    conf = probs.max(axis=1)
    text = own(plot_confidence_histogram(probs, labels))
    assert f"{right.sum()} correct" in text and f"{(~right).sum()} wrong" in text
    assert f"accuracy {right.mean():.1%} against mean confidence {conf.mean():.1%}" in text
    assert ("over-confident" in text) == (conf.mean() - right.mean() > 0.005)
    sure = np.eye(10)[labels]                      # every answer right with probability 1
    assert "calibrated on average" in own(plot_confidence_histogram(sure, labels))


def test_transform_accuracy_names_the_best_and_worst_move(net, digits):
    images, labels = digits
    shifts, angles = (-6, 0, 6), (0, 90)
    shift_acc, angle_acc = transform_accuracy(net, images, labels, shifts, angles)
    text = own(plot_transform_accuracy(shifts, shift_acc, angles, angle_acc))
    lo = int(np.argmin(shift_acc))
    assert f"lowest {shift_acc[lo]:.0%} at {shifts[lo]} pixels" in text
    hi = int(np.argmax(angle_acc))
    assert f"rotated, highest {angle_acc[hi]:.0%} at {angles[hi]}°" in text


def test_transform_accuracy_text_follows_the_numbers():
    rng = np.random.default_rng(2)
    shifts, angles = [-4, -2, 0, 2, 4], [-60, 0, 60]
    shift_acc, angle_acc = rng.permutation(5) / 5, rng.permutation(3) / 3
    text = describe_transform_accuracy(shifts, shift_acc, angles, angle_acc)
    for xs, ys, what, unit in ((shifts, shift_acc, "shifted right", " pixels"),
                               (angles, angle_acc, "rotated", "°")):
        hi, lo = int(np.argmax(ys)), int(np.argmin(ys))
        assert (f"{what}, highest {ys[hi]:.0%} at {xs[hi]}{unit} and lowest {ys[lo]:.0%} at "
                f"{xs[lo]}{unit}") in text
    assert describe_transform_accuracy([], [], [], []).endswith("nothing measured.")


# notebook 10: optimizers; notebook 13: smallest flipping eps ---------------------------------

def test_optimizer_comparison_says_where_each_loss_ends_and_which_is_lowest():
    rng = np.random.default_rng(4)
    histories = {name: {"batch_loss": list(2.3 * np.exp(-rate * np.arange(60)) +
                                           0.01 * rng.random(60)), "loss": [0.0] * 3}
                 for name, rate in (("SGD", 0.01), ("Adam", 0.08))}
    histories["diverged"] = {"loss": [2.3, float("nan"), float("nan")]}
    text = own(plot_optimizer_comparison(histories, every=20))
    ends = {}
    for name in ("SGD", "Adam"):
        loss = np.asarray(histories[name]["batch_loss"])
        first, last = loss[:20].mean(), loss[-20:].mean()
        ends[name] = last
        assert f"{name} falls from {first:.2g} to {last:.2g}" in text
    best = min(ends, key=ends.get)
    assert f"lowest at the end: {best} ({ends[best]:.2g})" in text
    assert "diverged: loss not finite from epoch 2 on" in text


def test_eps_histogram_gives_medians_and_the_never_flipped():
    rng = np.random.default_rng(5)
    runs = {"FGSM": rng.random(40) * 0.3, "PGD": rng.random(40) * 0.2}
    runs["FGSM"][:4] = np.inf
    text = own(plot_eps_histogram(runs, 0.3))
    for name, eps in runs.items():
        done = eps[np.isfinite(eps)]
        assert f"{name}: median {np.median(done):.3f}, {len(eps) - len(done)} of 40" in text
    smallest = min(runs, key=lambda n: np.median(runs[n][np.isfinite(runs[n])]))
    assert f"{smallest} needs the smallest ε" in text


def test_layer_maps_name_the_strongest_and_the_silent_maps(net, digits):
    image = digits[0][0]
    outs = [out[0] for _, out in trace_activations(net, image)]
    text = own(plot_layer_maps(net, image))
    for i in conv_map_layers(net):
        maps = outs[i]
        means = maps.reshape(len(maps), -1).mean(axis=1)
        silent = sum(not m.any() for m in maps)
        said = (f"Layer {i} ({type(net.layers[i]).__name__}): {len(maps)} maps of "
                f"{maps.shape[1]}×{maps.shape[2]}, the strongest on average is map "
                f"{int(np.argmax(means))} (mean {means.max():.2g})")
        assert said + (f", {silent} " if silent else ".") in text
