"""Validation accuracy of a recipe with one of its ideas removed (an ablation), never the test set.

    python scripts/ablate_recipe.py [MNIST_DIR] --without augmentation [--recipe beyond99]
        [--checkpoint PATH [--resume]]

Trains the recipe (cnnlib.recipes.RECIPES) on the first 55,000 training images with one idea
removed and prints its accuracy on the last 5,000, as one table row, the same split as
scripts/select_recipe.py. "residual" is not offered: candidate h of the search is the same recipe
without the residual block.
"""

import argparse
import os
from dataclasses import replace
from pathlib import Path

from cnnlib.architectures import lenet99_bn
from cnnlib.data import load_mnist, to_float
from cnnlib.recipes import RECIPES, train_recipe
from cnnlib.train import evaluate

REPO = Path(__file__).resolve().parent.parent
IDEAS = ("augmentation", "batchnorm", "dropout", "schedule")


def ablated(recipe, idea):
    """(recipe, net or None) for `recipe` without `idea`."""
    residual = recipe.arch == "lenet99_res"
    if idea == "augmentation":
        return replace(recipe, shift=0, rotate=0.0), None
    if idea == "schedule":                      # constant rate: "decay" by a factor of 1
        return replace(recipe, schedule="decay", lr_decay=1.0, warmup=0), None
    if idea == "batchnorm":
        return recipe, lenet99_bn(seed=recipe.seed, residual=residual, batchnorm=False)
    return recipe, lenet99_bn(seed=recipe.seed, residual=residual, dropout=0.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mnist_dir", nargs="?", default=None)
    p.add_argument("--recipe", default="beyond99", choices=sorted(RECIPES))
    p.add_argument("--without", required=True, choices=IDEAS)
    p.add_argument("--val", type=int, default=5000)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args(argv)
    directory = (args.mnist_dir or os.environ.get("CNNLIB_MNIST_DIR")
                 or str(REPO.parent / "shared" / "data" / "mnist"))
    (x, y), _ = load_mnist("full", directory=directory)
    x = to_float(x[:, None])
    recipe, net = ablated(RECIPES[args.recipe], args.without)

    def report(history):
        print(f"# epoch {len(history['loss'])}: train loss {history['loss'][-1]:.4f}, "
              f"{history['seconds'][-1]:.0f} s", flush=True)

    net, history, _ = train_recipe(recipe, x[:-args.val], y[:-args.val], net=net, callback=report,
                                   checkpoint=args.checkpoint,
                                   resume=args.resume and Path(args.checkpoint).is_file())
    acc = evaluate(net, x[-args.val:], y[-args.val:])[1]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"| {args.recipe} without {args.without} | {acc:.2%} | {sum(history['seconds']):.0f} | "
          f"{load} |", flush=True)


if __name__ == "__main__":
    main()
