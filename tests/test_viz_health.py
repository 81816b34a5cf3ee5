"""cnnlib.viz.health and health_plot: the layer health the training dashboard draws beside
the loss, checked against numbers computed by hand, and the message for a diverging run."""
import math

import numpy as np
import pytest

from cnnlib.layers import Flatten, Linear, ReLU
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.train import fit
from cnnlib.optim import SGD
from cnnlib.viz.base import subplots
from cnnlib.viz.health import dead_fraction, divergence_message, layer_health, norm
from cnnlib.viz.health_plot import dashboard_alt_text, draw_health


def test_norm_is_the_length_of_all_entries_together():
    # sqrt(3^2 + 4^2 + 12^2) = sqrt(169) = 13
    assert norm([np.array([3.0, 4.0]), np.array([[12.0]])]) == 13.0
    assert norm([]) == 0.0


def test_dead_fraction_counts_units_off_for_the_whole_batch():
    mask = np.array([[True, False, False, True],
                     [False, False, True, True],
                     [False, False, False, True]])
    # unit 1 is off for all 3 examples; units 0, 2, 3 are on somewhere: 1 of 4 dead
    assert dead_fraction(mask) == 0.25
    maps = np.zeros((2, 3, 2, 2), bool)           # (N, C, H, W): every unit of channel 0 on
    maps[0, 0] = True
    assert dead_fraction(maps) == pytest.approx(8 / 12)
    assert dead_fraction(None) is None


def tiny_net():
    return Sequential([Flatten(), Linear(4, 3, seed=0), ReLU(), Linear(3, 2, seed=1)])


def test_layer_health_matches_the_arrays_of_the_net():
    net = tiny_net()
    before = layer_health(net)
    assert [r["layer"] for r in before] == ["1 Linear", "2 ReLU", "3 Linear"]
    assert before[0]["grad_norm"] is None and before[1]["dead"] is None   # nothing ran yet
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 1, 2, 2)).astype(np.float32)
    loss, dlogits = softmax_cross_entropy(net.forward(x), np.array([0, 1, 0, 1, 1]))
    net.backward(dlogits)
    rows = layer_health(net)
    first = net.layers[1]
    by_hand = math.sqrt(float((first.params["W"].astype(np.float64) ** 2).sum()
                              + (first.params["b"].astype(np.float64) ** 2).sum()))
    assert rows[0]["weight_norm"] == pytest.approx(by_hand, rel=1e-12)
    grad_by_hand = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum())
                                 for g in first.grads.values()))
    assert rows[0]["grad_norm"] == pytest.approx(grad_by_hand, rel=1e-12) and grad_by_hand > 0
    hidden = first.forward(x.reshape(5, 4)) > 0        # the ReLU's input, recomputed
    assert rows[1]["dead"] == pytest.approx(np.mean(~hidden.any(axis=0)))


def test_a_dead_layer_shows_as_dead():
    net = tiny_net()
    net.layers[1].params["b"][:] = -100.0          # every hidden unit negative: all dead
    x = np.random.default_rng(1).normal(size=(6, 1, 2, 2)).astype(np.float32)
    net.forward(x)
    assert layer_health(net)[1]["dead"] == 1.0


def test_layer_health_of_something_without_layers_is_empty():
    assert layer_health(None) == [] and layer_health(object()) == []


def test_divergence_message_names_what_happened_and_a_tenth_of_the_rate():
    x = np.random.default_rng(0).normal(size=(32, 1, 2, 2)).astype(np.float32)
    y = np.arange(32) % 2
    net = tiny_net()
    with pytest.raises(FloatingPointError) as err:
        fit(net, x, y, epochs=3, batch_size=8, optimizer=SGD(net, lr=1e6), progress=False)
    text = divergence_message(err.value, 1e6)
    assert text.startswith("The loss became") and "at epoch 1, batch" in text
    assert "lower the learning rate, e.g. to 100000 (from 1e+06)" in text
    assert "divide it by 10 again" in text


def test_divergence_message_with_a_nan_loss_and_a_bad_rate():
    text = divergence_message("the loss became nan at epoch 2, batch 7; lr=0.5 is ...", 0.5)
    assert text.startswith("The loss became nan at epoch 2, batch 7: lower the learning rate, "
                           "e.g. to 0.05 (from 0.5)")
    assert divergence_message("something else", float("nan")).startswith(
        "Training diverged: the learning rate must be a positive number")


def test_health_panels_draw_every_number_and_explain_an_empty_state():
    norm_ax, dead_ax = subplots(1, 2)[1]
    draw_health(norm_ax, dead_ax, [])
    assert "appears once training starts" in " ".join(t.get_text() for t in norm_ax.texts).replace("\n", " ")
    assert norm_ax.get_xlabel() and dead_ax.get_xlabel()        # labelled before any data
    rows = [{"layer": "1 Linear", "weight_norm": 2.0, "grad_norm": 0.05},
            {"layer": "2 ReLU", "dead": 0.25}, {"layer": "3 Linear", "weight_norm": 1.5,
                                                "grad_norm": None}]
    draw_health(norm_ax, dead_ax, rows)
    labels = [t.get_text() for t in norm_ax.texts]
    assert labels == ["2", "1.5", "0.05", "n/a"]                 # weights, then gradients
    assert [t.get_text() for t in dead_ax.texts] == ["25%"]
    assert [t.get_text() for t in norm_ax.get_yticklabels()] == ["1 Linear", "3 Linear"]
    hatched = {bool(p.get_hatch()) for p in norm_ax.patches[2:]}
    assert hatched == {True}                # gradients are told apart by pattern too


def test_dashboard_alt_text_says_how_the_loss_moved():
    h = {"batch_loss": [2.3, 1.7, 0.41], "acc": [0.62]}
    rows = [{"layer": "1 Linear", "weight_norm": 2.0, "grad_norm": 0.05},
            {"layer": "2 ReLU", "dead": 0.25}]
    text = dashboard_alt_text(h, rows, "epoch 1: ...", "press Start")
    assert text.startswith("The training loss falls from 2.30 to 0.41 over 3 batches")
    assert "train accuracy after epoch 1: 62%" in text and "1 Linear 0.05" in text
    assert "dead ReLU units: 2 ReLU 25%" in text and text.endswith("epoch 1: ...")
    assert dashboard_alt_text({}, [], "", "Press Start to train") == \
        "Training dashboard, empty: Press Start to train."
    failed = dashboard_alt_text({}, rows, "Training stopped: the loss became nan", "hint", True)
    assert failed == ("Training dashboard, no loss drawn; gradient norms: 1 Linear 0.05; dead "
                      "ReLU units: 2 ReLU 25%. Training stopped: the loss became nan")
    assert "rises from 1.00 to 5.00" in dashboard_alt_text({"batch_loss": [1, 5]}, [], "", "")
