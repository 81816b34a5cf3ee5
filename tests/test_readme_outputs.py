"""The README's command-line output blocks against fresh runs of the same commands.

A block shows one run; the numbers that depend on NumPy's version and the thread count are
given a range in the sentence after it. Here each command runs again: the first line (the
settings) must match exactly, every loss and accuracy in the block must be near the fresh
run's, and the fresh test accuracy must fall in the README's stated range. Timings are the
machine's and are not compared. The lenet99 block (minutes on full MNIST) is checked
through the shipped weights in tests/test_pretrained.py.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER = re.compile(r"(loss|accuracy):? (\d+\.\d+)(%?)")


def run(argv):
    done = subprocess.run([sys.executable, "-m", "cnnlib", *argv], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def block_after(marker):
    """The lines of the first code block after marker, and the paragraph after the block."""
    rest = README[README.index(marker):]
    found = re.search(r"```(?:text|bash)\n(.*?)```\n\n?(.*?)\n\n", rest, re.S)
    return found.group(1).splitlines(), found.group(2)


def stated_range(paragraph):
    low, high = re.search(r"between (\d+(?:\.\d+)?)% and (\d+(?:\.\d+)?)%", paragraph).groups()
    return float(low), float(high)


def numbers(line):
    return [(what, float(value)) for what, value, _ in NUMBER.findall(line)]


def compare(shown, fresh, paragraph):
    by_start = {line.split(":")[0]: line for line in fresh}
    for line in shown:
        line = line.lstrip("# ")
        if line in ("...", "") or line.startswith(".venv/bin/python"):
            continue
        key = line.split(":")[0]
        assert key in by_start, f"README shows {line!r}; a run prints no such line"
        if key == "data":                       # the threads are the machine's
            assert re.sub(r"\d+ thread", "N thread", line) == re.sub(r"\d+ thread", "N thread",
                                                                       by_start[key])
            continue
        for (what, value), (_, now) in zip(numbers(line), numbers(by_start[key])):
            if key == "test accuracy":
                low, high = stated_range(paragraph)
                assert low <= now <= high and low <= value <= high, (line, now, (low, high))
            else:   # losses within 0.02, accuracies within a point, of a fresh run
                assert abs(value - now) <= (0.02 if what == "loss" else 1.0), (line, by_start[key])


@pytest.mark.parametrize("marker, argv", [
    ("trains the small LeNet-style network", []),
    ("The experiment of Victor Zhou's", ["--arch", "one_conv", "--optimizer", "sgd", "--lr", "0.005",
                                         "--batch-size", "1", "--epochs", "3",
                                         "--train-size", "1000", "--test-size", "1000"]),
], ids=["default", "zhou"])
def test_readme_block_agrees_with_a_fresh_run(marker, argv):
    shown, paragraph = block_after(marker)
    if argv:                                    # the block starts with the command itself
        assert shown[0].split() == [".venv/bin/python", "-m", "cnnlib", *argv]
    compare(shown, run(argv), paragraph)


def test_the_lenet99_block_states_a_range_and_the_shipped_score():
    shown, paragraph = block_after("99.3% on the full MNIST test set")
    assert "# test accuracy: 99.3% to 99.4% (10000 images)" in shown
    assert stated_range(paragraph) == (99.3, 99.4)
    assert "score 99.32%" in paragraph          # tests/test_pretrained.py checks this number
