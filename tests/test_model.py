"""Tests for cnnlib.model: the Sequential container, the builders, save/load, and the
model-level sanity checks (initial loss ~ ln 10, whole-net gradient check, overfitting)."""

import numpy as np
import pytest

from cnnlib.conv import Conv2D
from cnnlib.data import load_mnist, to_float
from cnnlib.gradcheck import check_gradients, initial_loss, numerical_gradient, rel_error
from cnnlib.layers import Flatten, Layer, Linear, ReLU
from cnnlib.losses import softmax_cross_entropy
from cnnlib.model import Sequential
from cnnlib.architectures import lenet, make_net, two_conv_net, one_conv_net
from cnnlib.optim import Adam
from cnnlib.pool import MaxPool2D
from cnnlib.train import fit
from bad_input_support import check_raises

BUILDERS = [one_conv_net, lenet, two_conv_net]


def tiny_net(dtype=np.float64, need_dx=True):
    """Conv 2@3x3 pad 1 -> ReLU -> MaxPool -> Conv 3@3x3 -> ReLU -> Flatten -> Linear 12 -> 4,
    for 8x8 inputs (8 -> 8 -> 4 -> 2; 3 * 2 * 2 = 12)."""
    return Sequential([Conv2D(1, 2, 3, pad=1, seed=1, dtype=dtype, need_dx=need_dx), ReLU(),
                       MaxPool2D(2), Conv2D(2, 3, 3, seed=2, dtype=dtype), ReLU(), Flatten(),
                       Linear(12, 4, seed=3, dtype=dtype)])


@pytest.fixture(scope="module")
def sample():
    (x, y), (xt, yt) = load_mnist()
    return to_float(x[:, None]), y, to_float(xt[:, None]), yt


# ---------------------------------------------------------------- container

def test_named_params_are_the_live_arrays():
    net = one_conv_net()
    params = net.named_params()
    assert list(params) == ["0.W", "0.b", "3.W", "3.b"]
    assert params["0.W"].shape == (8, 1, 3, 3) and params["3.W"].shape == (1352, 10)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 1, 28, 28)).astype(np.float32)
    before = net.forward(x).copy()
    params["3.b"] += 1.0                                   # shifts every score by 1
    np.testing.assert_allclose(net.forward(x), before + 1, rtol=1e-5, atol=1e-5)


def test_named_grads_match_params_after_backward():
    net = lenet()
    x = np.zeros((3, 1, 28, 28), np.float32)
    _, d = softmax_cross_entropy(net.forward(x), np.array([0, 1, 2]))
    assert net.backward(d) is None                          # first conv skips dx
    grads, params = net.named_grads(), net.named_params()
    assert list(grads) == list(params)
    assert all(grads[k].shape == params[k].shape for k in params)


def test_backward_refuses_missing_gradient_in_the_middle():
    net = Sequential([Conv2D(1, 2, 3), Conv2D(2, 2, 3, need_dx=False), Flatten(),
                      Linear(2 * 24 * 24, 10)])
    _, d = softmax_cross_entropy(net.forward(np.zeros((1, 1, 28, 28), np.float32)), np.array([3]))
    with pytest.raises(ValueError, match="need_dx=False"):
        net.backward(d)


def test_predict_proba_is_batched_softmax():
    net = two_conv_net()
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (7, 1, 28, 28)).astype(np.float32)
    p = net.predict_proba(x, batch_size=3)
    assert p.shape == (7, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(p, net.predict_proba(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(net.predict(x), p.argmax(axis=1))


def test_astype_converts_every_parameter():
    net = lenet().astype(np.float64)
    assert {p.dtype for p in net.named_params().values()} == {np.dtype(np.float64)}


def test_summary_lists_shapes_and_counts():
    text = one_conv_net().summary()
    # conv: 8 * 1 * 3 * 3 + 8 = 80 ; linear: 1352 * 10 + 10 = 13530 ; total 13610
    for part in ["Conv2D(1, 8, 3)", "(8, 26, 26)", "MaxPool2D(2)", "(8, 13, 13)", "(1352,)",
                 "(10,)", "80", "13,530", "total parameters: 13,610"]:
        assert part in text
    assert "total parameters: 52,138" in lenet().summary()   # 80 + 1168 + 50240 + 650


def test_repr_is_the_call_that_builds_the_net():
    text = repr(one_conv_net())
    assert text == ("Sequential([\n    Conv2D(1, 8, 3),\n    MaxPool2D(2),\n    Flatten(),\n"
                    "    Linear(1352, 10),\n])")
    assert one_conv_net().architecture() == ["Conv2D(1, 8, 3)", "MaxPool2D(2)", "Flatten()",
                                             "Linear(1352, 10)"]


def caches(net):
    """Every attribute of every layer, by identity (a forward pass would replace some)."""
    return [{k: id(v) for k, v in vars(layer).items()} for layer in net.layers]


@pytest.mark.parametrize("show", [repr, lambda net: net.summary(input_shape=(1, 8, 8)),
                                  lambda net: net.summary()])       # the last does not fit
def test_summary_and_repr_leave_the_layers_untouched(show):
    net, x, y = tiny_net(), np.random.default_rng(0).normal(size=(2, 1, 8, 8)), np.array([1, 3])
    net.backward(softmax_cross_entropy(net.forward(x), y)[1])
    expected = {k: v.copy() for k, v in net.named_grads().items()}
    _, d = softmax_cross_entropy(net.forward(x), y)
    before = caches(net)
    show(net)                                               # a display between forward and backward
    assert caches(net) == before
    net.backward(d)
    for k, v in expected.items():
        np.testing.assert_allclose(net.named_grads()[k], v)


def test_summary_and_repr_run_no_forward_pass():
    net = lenet()

    def refuse(x):
        raise AssertionError("forward ran")

    for layer in net.layers:
        layer.forward = refuse
    assert "(16, 7, 7)" in net.summary() and "Linear(784, 64)" in repr(net)


def test_summary_of_a_net_for_other_inputs():
    assert "(3, 2, 2)" in tiny_net().summary(input_shape=(1, 8, 8))


def test_summary_says_which_layer_does_not_fit():
    text = tiny_net().summary()              # tiny_net is for 8x8 inputs, not 28x28
    # 28 -> conv pad 1 -> 28 -> pool -> 14 -> conv 3x3 -> 12: Flatten gives 3 * 12 * 12 = 432
    assert "6  Linear(12, 4)" in text and "does not fit" in text
    assert ("layer 6, Linear(12, 4), does not fit the shape (432,) that reaches it from "
            "input_shape (1, 28, 28)") in text
    assert "expects input of shape (N, 12)" in text
    assert text.endswith("total parameters: 129")          # 20 + 57 + 52: all layers count


def test_make_net_names():
    assert len(make_net("two_conv").named_params()) == 6
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        make_net("resnet")


def test_builders_are_seeded():
    a, b, c = lenet(seed=0), lenet(seed=0), lenet(seed=1)
    assert all(np.array_equal(a.named_params()[k], b.named_params()[k]) for k in a.named_params())
    assert not np.array_equal(a.named_params()["0.W"], c.named_params()["0.W"])
    assert lenet(dtype=np.float64).named_params()["7.W"].dtype == np.float64


# ---------------------------------------------------------------- save / load

def test_save_load_round_trip(tmp_path):
    net, other = lenet(seed=0), lenet(seed=1)
    path = tmp_path / "w.npz"
    net.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]   # no temporary file left
    live = other.named_params()["0.W"]
    assert other.load(path) is other
    assert other.named_params()["0.W"] is live              # loaded in place
    for k, v in net.named_params().items():
        np.testing.assert_array_equal(other.named_params()[k], v)
    with np.load(path, allow_pickle=False) as f:             # readable without pickle
        assert "__architecture__" in f.files


def edited_copy(tmp_path, net, change):
    net.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


def test_load_wrong_shape(tmp_path):
    path = edited_copy(tmp_path, one_conv_net(), lambda a: a.update({"3.W": np.zeros((1352, 9))}))
    with pytest.raises(ValueError, match=r"'3\.W' has shape \(1352, 9\), expected \(1352, 10\)"):
        one_conv_net().load(path)


def test_load_missing_array(tmp_path):
    path = edited_copy(tmp_path, one_conv_net(), lambda a: a.pop("0.b"))
    with pytest.raises(ValueError, match=r"missing array\(s\) \['0\.b'\]"):
        one_conv_net().load(path)


def test_load_extra_array(tmp_path):
    path = edited_copy(tmp_path, one_conv_net(), lambda a: a.update({"4.W": np.zeros(3)}))
    with pytest.raises(ValueError, match=r"extra array\(s\) \['4\.W'\]"):
        one_conv_net().load(path)


def test_load_into_another_architecture(tmp_path):
    one_conv_net().save(tmp_path / "one_conv.npz")
    with pytest.raises(ValueError, match="missing"):
        lenet().load(tmp_path / "one_conv.npz")


OLD_DESCRIPTIONS = ["Conv2D(1, 8, 3, stride=1, pad=0)", "MaxPool2D(size=2, stride=2)", "Flatten()",
                    "Linear(1352, 10)"]      # how cnnlib described one_conv_net before repr


def test_load_weights_saved_with_older_layer_descriptions(tmp_path):
    path = edited_copy(tmp_path, one_conv_net(seed=1),
                       lambda a: a.update({"__architecture__": np.array(OLD_DESCRIPTIONS)}))
    net = one_conv_net(seed=2).load(path)
    for k, v in one_conv_net(seed=1).named_params().items():
        np.testing.assert_array_equal(net.named_params()[k], v)


@pytest.mark.parametrize("position, description", [
    (1, "MaxPool2D(size=2, stride=1)"),      # same arrays, different network
    (1, "AvgPool2D(2)"), (1, "MaxPool2D(2, impl='bogus')"), (0, "os.system('ls')"),
])
def test_load_refuses_a_different_saved_architecture(tmp_path, position, description):
    arch = OLD_DESCRIPTIONS.copy()
    arch[position] = description
    path = edited_copy(tmp_path, one_conv_net(),
                       lambda a: a.update({"__architecture__": np.array(arch)}))
    with pytest.raises(ValueError, match="saved architecture .* differs"):
        one_conv_net().load(path)


def test_crash_while_saving_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    net = one_conv_net()
    net.save(path)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        one_conv_net(seed=3).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


# ---------------------------------------------------------------- model-level checks

def test_whole_net_gradient_check_float64():
    net = tiny_net()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 1, 8, 8)), np.array([0, 3, 1])
    errors = check_gradients(net, x, y)
    assert set(errors) == set(net.named_params())
    assert max(errors.values()) < 1e-6, errors
    # and the input gradient, with the engine's independent checker
    dx = net.backward(softmax_cross_entropy(net.forward(x), y)[1])
    num = numerical_gradient(lambda: softmax_cross_entropy(net.forward(x), y)[0], x)
    assert rel_error(dx, num) < 1e-6


def test_gradient_check_detects_a_wrong_gradient():
    net = tiny_net()
    x, y = np.random.default_rng(0).normal(size=(2, 1, 8, 8)), np.array([0, 1])
    relu = net.layers[1]
    relu.backward = lambda dout: dout                       # forget the ReLU mask
    assert check_gradients(net, x, y)["0.W"] > 1e-3


def test_gradient_check_wants_float64():
    with pytest.raises(ValueError, match="float64"):
        check_gradients(one_conv_net(), np.zeros((1, 1, 28, 28)), np.array([0]))


@pytest.mark.parametrize("build", BUILDERS)
def test_untrained_loss_is_about_ln10(build, sample):
    x, y = sample[0][:200], sample[1][:200]
    for seed in range(3):
        loss, expected = initial_loss(build(seed=seed))
        assert expected == pytest.approx(np.log(10))
        assert abs(loss - expected) < 0.3
        assert abs(initial_loss(build(seed=seed), x, y)[0] - np.log(10)) < 0.3


def test_overfits_twenty_samples(sample):
    x, y = sample[0][:20], sample[1][:20]
    net = lenet(seed=0)
    history = fit(net, x, y, epochs=40, batch_size=20, optimizer=Adam(net, lr=3e-3),
                  progress=False, callback=lambda h: h["acc"][-1] < 1.0)
    assert (net.predict(x) == y).all()
    assert history["loss"][-1] < 0.5


def test_saved_weights_get_ordinary_file_permissions(tmp_path):
    # mkstemp creates private (0600) files; a saved model should be readable like any
    # other file the user writes, i.e. 0666 minus the umask.
    import os
    import stat
    mask = os.umask(0)
    os.umask(mask)
    path = tmp_path / "w.npz"
    lenet().save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask


def test_an_error_on_images_of_the_right_size_gets_no_size_hint():
    class Refuses(Layer):
        def forward(self, x):
            if len(x) == 3:
                raise ValueError("three is a crowd")
            return x

    net = Sequential(lenet().layers + [Refuses()])
    with pytest.raises(ValueError) as err:
        net.forward(np.zeros((3, 1, 28, 28), np.float32))
    assert "three is a crowd" in str(err.value) and "expects images" not in str(err.value)


# ---------------------------------------------------------------- bad inputs (issue 11)
def test_empty_batch_through_a_network_and_predict():
    net = lenet()
    empty = np.zeros((0, 1, 28, 28), np.float32)
    assert net.forward(empty).shape == (0, 10)
    assert net.predict_proba(empty).shape == (0, 10)
    assert net.predict(empty).shape == (0,)


BUILD = [
    pytest.param(lambda: lenet().astype(np.int64), ValueError, ["floating-point"],
                 id="astype-int"),
]


@pytest.mark.parametrize("build, exc, words", BUILD)
def test_bad_layer_or_network_is_refused_when_built(build, exc, words):
    check_raises(build, exc, *words)


FORWARD = [
    pytest.param(lambda: lenet().forward(np.zeros((2, 1, 32, 32), np.float32)), ValueError,
                 ["expects images of 28x28", "got 32x32", "crop or resize"], id="32x32-lenet"),
    pytest.param(lambda: two_conv_net().forward(np.zeros((2, 1, 20, 20), np.float32)),
                 ValueError, ["expects images of 28x28", "got 20x20"], id="20x20-two_conv"),
    pytest.param(lambda: one_conv_net().forward(np.zeros((1, 1, 64, 64), np.float32)),
                 ValueError, ["expects images of 28x28"], id="64x64-one_conv"),
    pytest.param(lambda: lenet().forward(np.zeros((2, 3, 28, 28), np.float32)), ValueError,
                 ["3 channels", "expect 1"], id="rgb"),
    pytest.param(lambda: lenet().forward(np.zeros((2, 28, 28), np.float32)), ValueError,
                 ["x[:, None]"], id="3d-batch"),
    pytest.param(lambda: lenet().forward(np.zeros((28, 28), np.float32)), ValueError,
                 ["img[None, None]"], id="one-image"),
    pytest.param(lambda: lenet().forward(np.zeros((2, 1, 28, 28), np.uint8)), ValueError,
                 ["floating-point", "to_float"], id="uint8"),
]


@pytest.mark.parametrize("call, exc, words", FORWARD)
def test_bad_forward_input_says_what_to_do(call, exc, words):
    check_raises(call, exc, *words)


def test_network_backward_before_forward():
    check_raises(lambda: lenet().backward(np.ones((2, 10), np.float32)), RuntimeError,
                 "before forward")
