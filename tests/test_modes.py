"""Networks with BatchNorm, Dropout and residual blocks (notebook 12) inside Sequential and the
training loop: training vs inference mode (fit trains with batch statistics and dropout;
evaluate and predict use the running statistics and drop nothing), save and load with the
buffers, checkpoints that resume bit for bit, whole-network gradient checks, and no batch
split across cores for layers whose result depends on the whole batch."""
import numpy as np
import pytest

from cnnlib.architectures import lenet99, lenet99_bn, make_net, plain_stack
from cnnlib.batchnorm import BatchNorm
from cnnlib.data import load_mnist, to_float
from cnnlib.dropout import Dropout
from cnnlib.gradcheck import check_gradients
from cnnlib.layers import Flatten, Linear
from cnnlib.model import Sequential
from cnnlib.recipes import Recipe, train_recipe
from cnnlib.speed.steps import split_batches
from cnnlib.train import evaluate, fit, train_step

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data():
    (x, y), _ = load_mnist()
    return to_float(x[:256, None]), y[:256]


def small_net(seed=0, dtype=np.float32):
    return Sequential([Flatten(), Linear(784, 16, seed=seed, dtype=dtype), BatchNorm(16, dtype=dtype),
                       Dropout(0.5, seed=seed), Linear(16, 10, seed=seed + 1, dtype=dtype)])


def test_train_and_eval_set_every_layer_and_return_the_net():
    net = lenet99_bn()
    assert net.eval() is net
    assert all(not layer.training for layer in net.layers if hasattr(layer, "training"))
    assert net.train() is net
    assert all(layer.training for layer in net.layers if hasattr(layer, "training"))
    with pytest.raises(TypeError, match="True .training. or False"):
        net.train("eval")


def test_predict_and_evaluate_use_inference_mode_and_restore_the_mode(data):
    x, y = data
    net = small_net()
    net.train()
    before = {k: v.copy() for k, v in net.named_buffers().items()}
    p1 = net.predict_proba(x[:50])
    p2 = net.predict_proba(x[:50])
    np.testing.assert_array_equal(p1, p2)                    # no dropout, no batch statistics
    np.testing.assert_allclose(net.predict_proba(x[:5]), p1[:5], rtol=1e-5)  # batch-independent
    evaluate(net, x, y)
    for k, v in net.named_buffers().items():                 # nothing counted or averaged
        np.testing.assert_array_equal(v, before[k])
    assert net.layers[2].training and net.layers[3].training
    with net.inference():
        np.testing.assert_allclose(net.forward(x[:50]).argmax(1), p1.argmax(1))


def test_fit_trains_in_training_mode_even_after_eval(data):
    x, y = data
    net = small_net()
    net.eval()
    fit(net, x, y, epochs=1, batch_size=64, progress=False)
    assert net.layers[2].training and net.layers[3].training
    assert int(net.named_buffers()["3.step"]) == 4            # one mask per batch: 256 / 64
    assert not np.allclose(net.named_buffers()["2.running_mean"], 0)


def test_save_and_load_carry_the_buffers(tmp_path, data):
    x, y = data
    net = make_net("lenet99_res", seed=0)
    fit(net, x[:64], y[:64], epochs=1, batch_size=32, progress=False)
    net.save(tmp_path / "res.npz")
    other = make_net("lenet99_res", seed=5).load(tmp_path / "res.npz")
    for k, v in {**net.named_params(), **net.named_buffers()}.items():
        np.testing.assert_array_equal({**other.named_params(), **other.named_buffers()}[k], v)
    np.testing.assert_array_equal(other.predict(x), net.predict(x))


def test_a_file_without_the_buffers_is_refused(tmp_path):
    net = lenet99_bn()
    arrays = {**net.named_params(), "__architecture__": np.array(net.architecture())}
    np.savez(tmp_path / "no_buffers.npz", **arrays)
    with pytest.raises(ValueError, match="missing array.*running_mean"):
        lenet99_bn().load(tmp_path / "no_buffers.npz")


def test_the_shipped_lenet99_weights_still_load():
    net = lenet99().load(ROOT / "resources" / "lenet_mnist.npz")
    assert net.named_buffers() == {}


def test_lenet99_weights_do_not_load_into_the_batchnorm_net():
    with pytest.raises(ValueError, match="missing"):
        lenet99_bn().load(ROOT / "resources" / "lenet_mnist.npz")


@pytest.mark.parametrize("skips", [False, True])
def test_whole_network_gradient_check_float64(skips):
    """A small stack with BatchNorm (and skips) in training mode, every parameter checked."""
    rng = np.random.default_rng(0)
    net = plain_stack(depth=2, width=5, skips=skips, batchnorm=True, dtype=np.float64)
    x = rng.normal(size=(6, 1, 28, 28))
    y = np.array([0, 1, 2, 3, 4, 5])
    errors = check_gradients(net, x, y, h=1e-6, samples=20)
    # a Linear bias that goes straight into BatchNorm (which subtracts every constant) has
    # gradient 0, and its relative error would compare two rounding noises: check the 0
    for name in [] if skips else ["1.b", "4.b"]:       # with skips, x + F(x) keeps it
        assert np.abs(net.named_grads()[name]).max() < 1e-12
        errors.pop(name)
    assert max(errors.values()) < 1e-6, errors


def test_a_stateful_net_splits_like_any_other_its_parts_meeting(monkeypatch):
    # Since cnnlib.speed.synced, BatchNorm and Dropout nets split too, their parts sharing the
    # whole batch's statistics (tests/test_parallel_batchnorm.py checks the numbers on
    # threads, tests/test_workers_synced.py on worker processes).
    monkeypatch.setattr("cnnlib.speed.steps.parts_for", lambda *a: 2)
    with split_batches(lenet99_bn(), train_step) as (step, _, _):
        assert step is not train_step
    with split_batches(lenet99(), train_step) as (step, _, _):
        assert step is not train_step


def test_resumed_run_with_batchnorm_dropout_rotations_and_cosine_equals_the_whole(data, tmp_path):
    x, y = data
    recipe = Recipe(arch="lenet99_bn", lr=3e-3, schedule="cosine", warmup=1, shift=2,
                    rotate=10.0, epochs=3, batch_size=64)

    class Stop(Exception):
        pass

    def stop(history):
        if len(history["loss"]) == 2:
            raise Stop

    whole, h_whole, _ = train_recipe(recipe, x, y)
    with pytest.raises(Stop):
        train_recipe(recipe, x, y, checkpoint=tmp_path / "c.npz", callback=stop)
    resumed, h_resumed, _ = train_recipe(recipe, x, y, checkpoint=tmp_path / "c.npz",
                                         resume=True)
    for k, v in {**whole.named_params(), **whole.named_buffers()}.items():
        np.testing.assert_array_equal({**resumed.named_params(), **resumed.named_buffers()}[k], v)
    assert h_resumed["loss"] == h_whole["loss"]


def test_the_cosine_schedule_sets_each_epochs_rate(data, monkeypatch):
    from cnnlib.optim import OPTIMIZERS, Adam
    from cnnlib.schedules import warmup_cosine
    rates = []

    class Recording(Adam):
        def step(self):
            rates.append(self.lr)
            super().step()

    monkeypatch.setitem(OPTIMIZERS, "adam", Recording)
    x, y = data
    train_recipe(Recipe(arch="lenet", lr=1e-2, schedule="cosine", warmup=1, epochs=3,
                        batch_size=128), x, y)
    # 256 images in batches of 128: two steps per epoch, each epoch at its scheduled rate
    expected = [warmup_cosine(k, 3, 1e-2, 1) for k in range(3)]
    assert rates == pytest.approx([r for r in expected for _ in range(2)])
    assert expected == pytest.approx([1e-2, 1e-2, 5e-3])


def test_a_bad_schedule_is_refused_before_training(data):
    x, y = data
    with pytest.raises(ValueError, match="unknown schedule"):
        train_recipe(Recipe(arch="lenet", schedule="linear", epochs=1), x, y)
    with pytest.raises(ValueError, match="warmup"):
        train_recipe(Recipe(arch="lenet", schedule="cosine", warmup=3, epochs=3), x, y)
