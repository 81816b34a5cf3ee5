"""The recipes are defined once (cnnlib.recipes) and used by the CLI, the pretrained-weights
script and the benchmark."""

import numpy as np
import pytest

from cnnlib.architectures import ARCHITECTURES
from cnnlib.data import load_mnist, to_float
from cnnlib.recipes import CANDIDATES, RECIPES, Recipe, get_recipe, train_recipe


def test_every_recipe_names_a_known_architecture_and_optimizer():
    from cnnlib.optim import OPTIMIZERS
    for recipe in list(RECIPES.values()) + list(CANDIDATES.values()):
        assert recipe.arch in ARCHITECTURES and recipe.optimizer in OPTIMIZERS


def test_the_99_percent_recipe_is_one_of_the_validated_candidates():
    assert get_recipe("lenet99") in CANDIDATES.values()


def test_unknown_recipe_names_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        get_recipe("lenet100")


def test_describe_and_cli_args_say_every_field():
    r = Recipe(arch="lenet", lr=2e-3, lr_decay=0.5, shift=1, epochs=2, batch_size=16, seed=4)
    assert "lenet(seed=4)" in r.describe() and "-1..1 pixels" in r.describe()
    assert r.cli_args() == ("--arch lenet --optimizer adam --lr 0.002 --lr-decay 0.5 "
                            "--augment 1 --epochs 2 --batch-size 16 --seed 4")


def test_train_recipe_decays_the_rate_and_repeats_exactly():
    (x, y), _ = load_mnist()
    x, y = to_float(x[:200, None]), y[:200]
    recipe = Recipe(arch="lenet", lr_decay=0.5, shift=1, epochs=2, batch_size=50)
    seen = []
    net, history, seconds = train_recipe(recipe, x, y, callback=lambda h: seen.append(len(h["loss"])))
    again, _, _ = train_recipe(recipe, x, y)
    assert seen == [1, 2] and len(history["loss"]) == 2 and seconds > 0
    for name, p in net.named_params().items():
        np.testing.assert_array_equal(p, again.named_params()[name])
