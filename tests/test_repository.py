"""Checks on the repository as a whole: notebooks, README, CI script, settings.

These catch what a student or CI would trip over: a notebook missing from the
README, a cell tagged "nbval-check-output" with no stored output (nbval would then
compare nothing), a stored error or figure, a CI script that drifted from the
README's commands.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
README = (ROOT / "README.md").read_text(encoding="utf-8")


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell):
    return "".join(cell["source"])


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_listed_in_readme(path):
    assert path.name in README, f"add {path.name} to the notebook list in README.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_have_stored_outputs(path):
    unchecked = [i for i, c in enumerate(cells(path))
                 if c["cell_type"] == "code" and "nbval-check-output" in tags(c)
                 and not c.get("outputs")]
    assert not unchecked, (f"cells {unchecked} are tagged nbval-check-output but store no output, "
                           f"so nbval compares nothing: run scripts/store_outputs.py {path.name}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_only_small_text_outputs_are_stored(path):
    for i, c in enumerate(cells(path)):
        for out in c.get("outputs", []):
            assert out["output_type"] != "error", f"cell {i} stores an error"
            kinds = set(out.get("data", {}))
            assert kinds <= {"text/plain"}, f"cell {i} stores {kinds}: run scripts/store_outputs.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_test_plumbing_in_code_students_read(path):
    marked = [i for i, c in enumerate(cells(path))
              if c["cell_type"] == "code" and "NBVAL_" in source(c)]
    assert not marked, f"cells {marked} carry an NBVAL_ comment: use nbval's cell tags instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_summary_and_exercises(path):
    headings = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    text = "\n".join(headings)
    assert re.search(r"^#+ .*Summary", text, re.M), "no Summary heading"
    assert re.search(r"^#+ .*Exercises", text, re.M), "no Exercises heading"


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    install, test = commands[-2], commands[-1]
    assert install in README, "the install command in .ci/run is not the README's"
    assert test in README, "the test command in .ci/run is not the README's"


def test_jupyterlab_override_is_used_by_the_open_command():
    settings_dir = ".jupyter/lab/settings"
    overrides = json.loads((ROOT / settings_dir / "overrides.json").read_text(encoding="utf-8"))
    assert overrides["@jupyterlab/notebook-extension:tracker"]["windowingMode"] == "defer"
    assert f"--LabApp.app_settings_dir={settings_dir}" in README


def test_no_raw_mnist_is_committed():
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert not [f for f in tracked if "ubyte" in f]
    big = [f for f in tracked if (ROOT / f).is_file() and (ROOT / f).stat().st_size > 3_000_000]
    assert not big, f"files over 3 MB make clones slow for students: {big}"
