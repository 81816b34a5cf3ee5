"""Launching without installing: the notebooks' setup cell, the badges, and a non-editable install.

The setup cell is tested by simulation: a fresh virtual environment that sees this
environment's third-party packages but not cnnlib, this clone as the repository, and the
cell run twice in IPython (it installs the first time and does nothing the second time);
a repository whose cnnlib is not this course is stopped with one line.
The same environment then shows that `pip install` (not editable) finds the bundled
MNIST sample and the pre-trained weights while resources/ stays at the top level.
"""
import json
import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlib.course import launch

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


IPYTHON = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c"]


def first_code_cell(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next(c for c in cells if c["cell_type"] == "code")


def test_every_link_and_setup_cell_agrees_with_the_one_setting():
    """pyproject.toml's [project.urls] Repository is the only place that names the repository:
    every badge, every setup cell (course and student editions) is made from it."""
    found = launch.disagreements()
    assert not found, "\n".join(found) + "\nrun python -m cnnlib.course.launch sync"
    assert launch.repository_url() == f"https://github.com/{launch.repository()}"
    assert launch.version() == metadata_version()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert launch.binder_url() in readme
    for path in NOTEBOOKS:
        cell = first_code_cell(path)
        assert launch.SETUP_TAG in cell["metadata"]["tags"]
        assert cell["metadata"]["jupyter"]["source_hidden"] is True    # collapsed in JupyterLab
        assert cell["metadata"]["cellView"] == "form"                   # and on Colab


def metadata_version():
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def _copy_of_the_course(where):
    """The files launch reads and writes, copied to where (a fork's clone, for set-repo)."""
    import shutil
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, where / name)
    shutil.copytree(ROOT / "notebooks", where / "notebooks")
    shutil.copytree(ROOT / "homework" / "student", where / "homework" / "student")
    return where


def test_set_repo_regenerates_every_link_and_check_finds_a_stale_one(tmp_path):
    fork = _copy_of_the_course(tmp_path)
    url = launch.set_repository("https://github.com/a-teacher/cnn-course.git", fork)
    assert url == "https://github.com/a-teacher/cnn-course"
    assert launch.repository(fork) == "a-teacher/cnn-course"
    assert len(launch.disagreements(fork)) > 12        # badges and cells still name the old one
    changed = launch.sync(fork)
    assert len(changed) == 2 + len(NOTEBOOKS)          # two READMEs, every notebook
    # the student editions are rebuilt by the homework build (main() runs it); here by hand:
    launch.write_setup_cells(sorted((fork / "homework" / "student").glob("*.ipynb")),
                             launch.setup_cell_source(root=fork))
    assert launch.disagreements(fork) == []
    text = (fork / "README.md").read_text(encoding="utf-8") + \
        (fork / "notebooks" / "README.md").read_text(encoding="utf-8")
    assert launch.repository() not in text and text.count("a-teacher/cnn-course") >= 14
    assert "git+https://github.com/a-teacher/cnn-course@main" in \
        "".join(first_code_cell(fork / "notebooks" / NOTEBOOKS[0].name)["source"])
    # one stale badge is found, and named
    course_map = fork / "notebooks" / "README.md"
    course_map.write_text(course_map.read_text(encoding="utf-8").replace(
        "github/a-teacher/cnn-course/blob/main/notebooks/03", "github/x/y/blob/main/notebooks/03"))
    assert [f for f in launch.disagreements(fork) if "x/y" in f or "03_" in f]


def test_set_repo_refuses_what_is_not_a_github_repository(tmp_path):
    fork = _copy_of_the_course(tmp_path)
    before = (fork / "pyproject.toml").read_text(encoding="utf-8")
    for bad in ("github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a", "a/b"):
        with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
            launch.set_repository(bad, fork)
    assert (fork / "pyproject.toml").read_text(encoding="utf-8") == before


def test_setup_cell_is_silent_where_cnnlib_is_installed(tmp_path):
    done = subprocess.run(IPYTHON + [launch.setup_cell_source()], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (done.stdout.strip(), done.stderr) == ("", "")
    assert list(tmp_path.iterdir()) == [], "the setup cell made files although cnnlib is importable"


def _venv_without_cnnlib(where):
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    python = where / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    # A plain path line: this environment's packages become importable, but their .pth
    # files (among them cnnlib's editable-install hook) are not run, so cnnlib is missing.
    Path(target, "third_party.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def test_setup_cell_installs_from_a_clone_and_resources_are_found(tmp_path):
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout: nothing to clone")
    python = _venv_without_cnnlib(tmp_path / "venv")
    work = tmp_path / "colab"
    work.mkdir()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)                 # a developer's PYTHONPATH would find cnnlib
    check = [str(python), "-c", "import importlib.util; print(importlib.util.find_spec('cnnlib'))"]
    assert subprocess.run(check, cwd=work, env=env, capture_output=True,
                          text=True).stdout.strip() == "None"
    # The published URL in the cell is replaced by this clone at its commit (pip clones it).
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    published = f"git+https://github.com/{launch.repository()}@{launch.BRANCH}"
    cell = launch.setup_cell_source()
    assert published in cell
    cell = cell.replace(published, f"git+file://localhost{ROOT}@{head}")
    # pip may fetch the build backend (setuptools) from the package index, as on Colab;
    # the course's dependencies are already there, so nothing else is downloaded.
    ipython = [str(python), "-m", "IPython", "--no-banner", "--colors=NoColor", "-c"]
    first = subprocess.run(ipython + [cell], cwd=work, env=env, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0 and "Error" not in first.stdout + first.stderr, \
        first.stdout + first.stderr
    assert list(work.iterdir()) == [], "the setup cell left files in the notebook's folder"
    again = subprocess.run(ipython + [cell], cwd=work, env=env, capture_output=True,
                           text=True, timeout=120)
    assert (again.returncode, again.stdout.strip(), again.stderr) == (0, "", "")
    # Run from another folder: the installed copy, not the clone, must serve the data.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed package trains and loads the weights (the speed wing ships with it) and
    # has the homework checks, but not the maintainers' course tooling (README, "Install").
    probe = ("import cnnlib, cnnlib.data as d, cnnlib.homework\n"
             "from cnnlib.architectures import lenet99\n"
             "(x, y), (xt, yt) = d.load_mnist()\n"
             "lenet99().load(d.PRETRAINED_PATH)\n"
             "print(cnnlib.__file__, d.SAMPLE_PATH, d.PRETRAINED_PATH.is_file(), len(x), len(xt))")
    out = subprocess.run([str(python), "-c", probe], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    module, sample, weights, n_train, n_test = out.stdout.split()
    assert "site-packages" in module and str(tmp_path / "venv") in module
    assert re.search(r"site-packages/cnnlib/resources/mnist_sample\.npz$", sample)
    assert (weights, n_train, n_test) == ("True", "6000", "1000")
    # The maintainers' tools need the clone around cnnlib/: installed, each says so in one line.
    for command in (["cnnlib.course.site", "build"], ["cnnlib.homework", "build"],
                    ["cnnlib.course.launch", "check"]):
        done = subprocess.run([str(python), "-m", *command], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and done.stdout == "", (command, done)
        assert len(done.stderr.splitlines()) == 1 and "needs a clone of the course" in done.stderr, \
            (command, done.stderr)
    assert list(elsewhere.iterdir()) == [], "a tool wrote files outside a clone"


def test_tools_refuse_to_run_outside_a_clone(tmp_path):
    from cnnlib.course import clone_root
    assert clone_root("x", ROOT) == ROOT
    with pytest.raises(SystemExit) as stop:
        clone_root("python -m cnnlib.homework build", tmp_path)
    message = str(stop.value.code)
    assert "\n" not in message and "python -m cnnlib.homework build needs a clone" in message
    assert str(tmp_path) in message


def test_setup_cell_stops_in_one_line_when_the_repository_is_not_this_course(tmp_path):
    """A repository (a wrong fork address, a name taken by someone else) whose package is
    called cnnlib but is another version: the cell says so in one line, no traceback."""
    other = tmp_path / "other"
    (other / "cnnlib").mkdir(parents=True)
    (other / "cnnlib" / "__init__.py").write_text("")
    (other / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "cnnlib"\nversion = "9.9.9"\n[tool.setuptools]\npackages = ["cnnlib"]\n')
    git = ["git", "-C", str(other), "-c", "user.name=t", "-c", "user.email=t@t"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "not the course"]):
        subprocess.run(git + cmd, check=True, capture_output=True)
    python = _venv_without_cnnlib(tmp_path / "venv")
    cell = launch.setup_cell_source().replace(
        f"git+https://github.com/{launch.repository()}@{launch.BRANCH}", f"git+file://localhost{other}")  # a host: pip refuses file:/// here
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "-m", "IPython", "--no-banner", "--colors=NoColor", "-c",
                           cell], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    shown = (done.stdout + done.stderr).strip().splitlines()
    assert "Traceback" not in done.stdout + done.stderr
    assert [line for line in shown if "UsageError" in line] == [
        f"UsageError: github.com/{launch.repository()} did not install this course "
        f"(cnnlib {launch.version()}): check the Colab link"], shown
