"""Smoke test of benchmarks/bench.py: every benchmark function runs on tiny data and
returns sensible numbers, so the benchmark cannot silently rot. The torch part runs
only when torch is installed."""

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data():
    from cnnlib.data import load_mnist, to_float
    (x, y), (xt, yt) = load_mnist()
    return to_float(x[:256, None]), y[:256], to_float(xt[:100, None]), yt[:100]


def test_arguments(bench):
    args = bench.parse_args(["--quick", "--data-dir", "somewhere", "--threads", "1"])
    assert args.quick and args.data_dir == "somewhere" and args.threads == 1
    assert not bench.parse_args([]).quick
    args = bench.parse_args(["--recipe", "beyond99", "--recipe-only", "--epochs", "2"])
    assert args.recipe_only and args.epochs == 2 and args.recipe == "beyond99"
    assert not bench.parse_args([]).recipe_only and bench.parse_args([]).epochs is None


def test_interleave_arguments(bench):
    args = bench.parse_args(["--recipe", "beyond99", "--recipe-only", "--interleave", "400",
                             "--chunk", "10"])
    assert args.interleave == 400 and args.chunk == 10
    assert bench.parse_args([]).interleave is None and bench.parse_args([]).chunk == 20
    for bad in (["--interleave", "400"], ["--recipe-only", "--interleave", "0"],
                ["--recipe-only", "--interleave", "40", "--chunk", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_ratio_interval_of_paired_chunks(bench):
    theirs = np.array([1.0, 2.0, 1.5, 3.0])
    ratio, low, high = bench.ratio_interval(0.9 * theirs, theirs)
    assert np.isclose(ratio, 0.9) and np.isclose(low, 0.9) and np.isclose(high, 0.9)
    ours = theirs * np.array([0.8, 1.2, 0.9, 1.1])
    ratio, low, high = bench.ratio_interval(ours, theirs)
    assert np.isclose(ratio, ours.sum() / theirs.sum()) and 0.8 <= low < ratio < high <= 1.2


def test_interleaved_steps_alternate_the_libraries(bench, data):
    torch = pytest.importorskip("torch")
    from cnnlib.recipes import Recipe
    x, y, _, _ = data
    recipe = Recipe(arch="lenet", epochs=1, batch_size=32, shift=1)
    times = bench.interleaved_steps(recipe, torch, x, y, steps=6, chunk=2)
    assert len(times["cnnlib"]) == len(times["torch"]) == 3
    assert all(t > 0 for ts in times.values() for t in ts)


def test_timing_helpers(bench):
    calls = []
    times = bench.call_times(lambda: calls.append(1), repeats=3)
    assert len(calls) == 4 and len(times) == 3  # one warm-up and three timed calls
    assert bench.best_time(lambda: time.sleep(0.001), repeats=2) >= 0.001


def test_machine_info_names_numpy(bench):
    lines = bench.machine_info(2)
    assert any(np.__version__ in line for line in lines)
    assert lines[0].startswith("machine:")


def test_layer_rows_on_a_tiny_batch(bench):
    rows = bench.layer_rows(n=2, c=2, f=3, hw=6, repeats=1, dtype=np.float64)
    assert len(rows) == 4
    for name, loop, fast in rows:
        assert isinstance(name, str) and loop > 0 and fast > 0


def test_zhou_setting_and_loop_reference(bench, data):
    x, y, xt, yt = data
    seconds, acc = bench.zhou_setting(x[:60], y[:60], xt, yt, epochs=1)
    assert seconds > 0 and 0.0 <= acc <= 1.0
    assert bench.loop_reference_rate(x, y, n=2) > 0


def test_compare_training_cnnlib_only(bench, data):
    x, y, xt, yt = data
    trainer = bench.CnnlibTrainer(x, y, batch_size=32)
    res = bench.compare_training([trainer], x, y, xt, yt, epochs=1, chunk=128)
    assert len(res["cnnlib"]["train"]) == 2      # 256 samples in chunks of 128
    assert len(res["cnnlib"]["infer"]) == 5
    assert all(r > 0 for r in res["cnnlib"]["train"] + res["cnnlib"]["infer"])
    assert 0.0 <= res["cnnlib"]["acc"] <= 1.0


def test_compare_training_with_torch(bench, data):
    torch = pytest.importorskip("torch")
    x, y, xt, yt = data
    trainers = [bench.CnnlibTrainer(x, y, batch_size=32), bench.TorchTrainer(torch, x, y, 32)]
    res = bench.compare_training(trainers, x, y, xt, yt, epochs=1, chunk=128)
    assert set(res) == {"cnnlib", "torch"}
    assert len(res["torch"]["train"]) == len(res["cnnlib"]["train"]) == 2
    # the torch net really is the same architecture: same parameter count as cnnlib's lenet
    n_torch = sum(p.numel() for p in trainers[1].net.parameters())
    assert n_torch == trainers[0].net.num_params()
    assert 0.0 <= res["torch"]["acc"] <= 1.0


def test_compare_training_at_two_thread_counts(bench, data):
    x, y, xt, yt = data
    trainer = bench.CnnlibTrainer(x, y, batch_size=32)
    res = bench.compare_training([trainer], x, y, xt, yt, epochs=1, chunk=128,
                                 thread_counts=(1, 2))
    assert len(res["cnnlib"]["train@1"]) == len(res["cnnlib"]["train@2"]) == 2
    assert len(res["cnnlib"]["infer@2"]) == 5


def test_layer_profile_times_every_layer(bench, data):
    x, y, _, _ = data
    net = bench.lenet()
    for parts in (1, 2):
        rows = bench.layer_profile(net, x[:64], y[:64], parts, repeats=4)
        assert [r[0] for r in rows] == net.architecture()
        assert all(fwd >= 0 and bwd >= 0 for _, fwd, bwd in rows)
        assert sum(fwd for _, fwd, _ in rows) > 0


@pytest.mark.parametrize("split", ["processes", "threads"])
def test_layer_profile_of_a_batchnorm_net_meets_the_other_parts(bench, data, monkeypatch, split):
    # its parts meet in every BatchNorm: part 0 alone would leave the others waiting
    from cnnlib.architectures import make_net
    from cnnlib.recipes import RECIPES
    monkeypatch.setenv("CNNLIB_SPLIT", split)
    x, y, _, _ = data
    net = make_net(RECIPES["beyond99"].arch)
    before = {k: v.copy() for k, v in net.named_params().items()}
    rows = bench.layer_profile(net, x[:64], y[:64], 2, repeats=2)
    assert [r[0] for r in rows] == net.architecture()
    assert all(fwd > 0 and bwd > 0 for _, fwd, bwd in rows)
    assert all(np.array_equal(v, before[k]) for k, v in net.named_params().items())


def test_torch_recipe_trains_the_same_architecture(bench, data):
    torch = pytest.importorskip("torch")
    from cnnlib.recipes import Recipe
    x, y, xt, yt = data
    recipe = Recipe(arch="lenet", epochs=1, batch_size=64, lr_decay=0.5, shift=1)
    net, seconds = bench.torch_recipe(torch, recipe, x, y)
    assert seconds > 0
    assert sum(p.numel() for p in net.parameters()) == bench.lenet().num_params()
    assert 0.0 <= bench.torch_accuracy(torch, net, xt, yt) <= 1.0


def test_torch_twin_knows_every_layer_of_every_named_network(bench):
    """torch_net_like must translate every layer the named networks use (lenet99's
    FFTConv2D once was not, and only the torch run, skipped without torch, found it): a
    stand-in for torch.nn records what would be built. (tests/test_torch_crosscheck.py
    checks the real twin of notebook 12's network against cnnlib, with torch.)"""
    from types import SimpleNamespace

    from cnnlib.architectures import ARCHITECTURES, make_net

    def maker(kind):
        return lambda *args, **kw: (kind, args, tuple(sorted(kw.items())))

    class Module:                       # what the residual twin subclasses
        def __init__(self):
            pass
    nn = SimpleNamespace(**{k: maker(k) for k in ("Conv2d", "MaxPool2d", "Linear", "ReLU",
                                                   "Flatten", "BatchNorm1d", "BatchNorm2d",
                                                   "Dropout")},
                         Sequential=lambda *layers: list(layers), Module=Module)
    fake = SimpleNamespace(nn=nn, manual_seed=lambda seed: None)
    translated = set()
    for name in ARCHITECTURES:
        net = make_net(name)
        kinds = {type(layer).__name__ for layer in net.layers}
        assert kinds <= set(bench.TWINS), name
        twin = bench.torch_net_like(fake, net)
        assert len(twin) == len(net.layers), name
        convs = [layer for layer in twin if isinstance(layer, tuple) and layer[0] == "Conv2d"]
        assert len(convs) == sum(type(l).__name__.endswith("Conv2D") for l in net.layers), name
        translated.add(name)
    # BatchNorm after a convolution works on images, after Flatten on features
    twin = bench.torch_net_like(fake, make_net("lenet99_res"))
    norms = [layer[0] for layer in twin if isinstance(layer, tuple) and layer[0].startswith("BatchNorm")]
    assert norms == ["BatchNorm2d", "BatchNorm2d", "BatchNorm1d"]
    block = next(layer for layer in twin if isinstance(layer, Module))
    assert [layer[0] for layer in block.inner] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d",
                                                   "BatchNorm2d"]
    with pytest.raises(ValueError, match="no torch twin for a Tanh layer yet"):
        bench.torch_net_like(fake, SimpleNamespace(layers=[type("Tanh", (), {})()]))
    assert {"lenet", "lenet99", "lenet99_res"} <= translated   # what bench.py compares with torch
