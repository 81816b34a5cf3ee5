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


def _section(text, title):
    """The Markdown section under '## title', up to the next heading of level 2."""
    return re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)


def test_code_is_mit_and_course_text_is_cc_by():
    import tomllib
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    course = (ROOT / "LICENSE-course.md").read_text(encoding="utf-8")
    assert "https://creativecommons.org/licenses/by/4.0/" in course
    licence = _section(README, "Licence")
    assert "[LICENSE](LICENSE)" in licence and "[LICENSE-course.md](LICENSE-course.md)" in licence


def test_the_licence_keeps_every_tutorials_credit():
    """Every link the course map's Sources credit (articles, code) is in the README's Sources
    and in LICENSE-course.md: a teacher who adapts the course keeps them."""
    course_map = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    links = set(re.findall(r"https://[^\s>)]+", _section(course_map, "Sources")))
    assert len(links) >= 9, links            # 4 tutorials: 6 articles (3 parts of one), 2 code, 1 write-up
    readme_sources = _section(README, "Sources")
    course = (ROOT / "LICENSE-course.md").read_text(encoding="utf-8")
    # The licence names the first part of ww-rm's series for all three.
    missing_readme = sorted(u for u in links if u not in readme_sources)
    missing_licence = sorted(u for u in links if u not in course and not re.search(r"cnn-numpy-[23]/$", u))
    assert not missing_readme, f"README Sources lacks {missing_readme}"
    assert not missing_licence, f"LICENSE-course.md lacks {missing_licence}"


# Third-party modules the installed package imports, and the distribution that brings each.
MODULE_TO_DISTRIBUTION = {"numpy": "numpy", "tqdm": "tqdm", "threadpoolctl": "threadpoolctl",
                          "matplotlib": "matplotlib", "ipywidgets": "ipywidgets",
                          "IPython": "ipywidgets",  # ipywidgets requires IPython
                          "anywidget": "anywidget",
                          "traitlets": "ipywidgets",  # ipywidgets requires traitlets
                          "nbformat": "nbclient", "nbclient": "nbclient",
                          "jupyter_client": "nbclient",  # nbclient requires jupyter_client
                          "nbconvert": "nbconvert", "latex2mathml": "latex2mathml"}
GUARDED = {"google"}  # google.colab: only imported on Colab, where it is present


def _pyproject():
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements():
    from packaging.requirements import Requirement
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    reqs = [Requirement(line.split("#")[0].strip()) for line in lines
            if line.split("#")[0].strip() and not line.startswith("-")]
    return {r.name.lower(): r for r in reqs}


def _installed_third_party_imports():
    import ast
    import sys
    project = _pyproject()
    packages = project["tool"]["setuptools"]["packages"]
    found = set()
    for package in packages:
        folder = ROOT / project["tool"]["setuptools"].get("package-dir", {}).get(
            package, package.replace(".", "/"))
        for path in folder.glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                found |= {n.split(".")[0] for n in names}
    return {m for m in found if m not in sys.stdlib_module_names and m != "cnnlib"}


def test_a_non_editable_install_has_every_dependency_it_imports():
    """pip install "cnnlib[plots,grade,course]" brings every third-party module the installed
    package imports (cnnlib.course imports its tools only when run); the README names the
    extras."""
    from packaging.requirements import Requirement
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    declared = {Requirement(r).name for r in project["dependencies"]}
    for extra in ("plots", "grade", "course"):
        declared |= {Requirement(r).name for r in extras[extra]}
    imports = _installed_third_party_imports() - GUARDED
    unknown = sorted(imports - set(MODULE_TO_DISTRIBUTION))
    assert not unknown, f"new third-party imports {unknown}: add them to pyproject and to this map"
    missing = sorted({MODULE_TO_DISTRIBUTION[m] for m in imports} - declared)
    assert not missing, f"pyproject.toml does not declare {missing}"
    ships = _section(README, "What is in the repository")
    for extra in ("plots", "notebooks", "grade"):
        assert f"[{extra}" in ships or f",{extra}" in ships, f"README does not name the [{extra}] extra"


def test_pyproject_and_requirements_agree_on_every_bound():
    """The same package is bounded the same way in pyproject.toml and requirements.txt
    (ipykernel below 7 in both, nbconvert from 7.16.5 in both)."""
    from packaging.requirements import Requirement
    project = _pyproject()["project"]
    requirements = _requirements()
    pinned = [Requirement(r) for r in project["dependencies"]]
    pinned += [Requirement(r) for rs in project["optional-dependencies"].values() for r in rs]
    differ = [f"{r.name}: pyproject {r.specifier}, requirements.txt {requirements[r.name].specifier}"
              for r in pinned if r.name in requirements and r.specifier != requirements[r.name].specifier]
    assert not differ, differ
    assert "<7" in str(requirements["ipykernel"].specifier)
    assert ">=7.16.5" in str(requirements["nbconvert"].specifier)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_skipped_cell_says_why(path):
    """tests/conftest.py prints the reason in pytest's summary instead of nbval's bare 'Skipped'."""
    SKIP_REASON = "nbval-skip-reason"  # read by conftest.py at the top of the repository
    silent = [i for i, c in enumerate(cells(path))
              if "nbval-skip" in tags(c) and len(c["metadata"].get(SKIP_REASON, "")) < 20]
    assert not silent, f"{path.name}: cells {silent} are tagged nbval-skip without a {SKIP_REASON}"
