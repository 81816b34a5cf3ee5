"""Launching without installing: the notebooks' setup cell, the badges, and a non-editable install.

The setup cell is tested by simulation: a fresh virtual environment that sees this
environment's third-party packages but not cnnlib, a local clone as the repository, and
the cell run twice (it installs the first time and does nothing the second time).
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


def first_code_cell(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next(c for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_setup_cell(path):
    cell = first_code_cell(path)
    assert "".join(cell["source"]) == launch.setup_cell_source(), \
        f"{path.name}: first code cell is not the setup cell; run python -m cnnlib.course.launch"
    assert launch.SETUP_TAG in cell["metadata"].get("tags", [])


def test_badges_point_at_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    course_map = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    assert launch.binder_url() in readme, "README: the Binder badge must open launch.binder_url()"
    missing = [p.name for p in NOTEBOOKS if launch.colab_url(p.name) not in course_map]
    assert not missing, f"course map: no Colab badge for {missing}"


def test_setup_cell_is_silent_where_cnnlib_is_installed(tmp_path):
    done = subprocess.run([sys.executable, "-c", launch.setup_cell_source()], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
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
    check = [str(python), "-c", "import importlib.util; print(importlib.util.find_spec('cnnlib'))"]
    assert subprocess.run(check, cwd=work, capture_output=True, text=True).stdout.strip() == "None"
    # The published URL in the cell is replaced by a local clone source (file:// so --depth works).
    cell = launch.setup_cell_source().replace(f"https://github.com/{launch.REPOSITORY}",
                                              ROOT.as_uri())
    # pip may fetch the build backend (setuptools) from the package index, as on Colab;
    # the course's dependencies are already there, so nothing else is downloaded.
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    first = subprocess.run([str(python), "-c", cell], cwd=work, env=env, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (work / "cnn-from-scratch" / "notebooks").is_dir()
    again = subprocess.run([str(python), "-c", cell], cwd=work, env=env, capture_output=True,
                           text=True, timeout=120)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    # Run from another folder: the installed copy, not the clone, must serve the data.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed package trains and loads the weights (the speed wing ships with it) and
    # has the homework checks, but not the maintainers' course tooling (README, "Install").
    probe = ("import importlib.util, cnnlib, cnnlib.data as d, cnnlib.homework\n"
             "from cnnlib.architectures import lenet99\n"
             "(x, y), (xt, yt) = d.load_mnist()\n"
             "lenet99().load(d.PRETRAINED_PATH)\n"
             "print(cnnlib.__file__, d.SAMPLE_PATH, d.PRETRAINED_PATH.is_file(), len(x), len(xt),\n"
             "      importlib.util.find_spec('cnnlib.course') is None)")
    out = subprocess.run([str(python), "-c", probe], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    module, sample, weights, n_train, n_test, no_tooling = out.stdout.split()
    assert "site-packages" in module and str(tmp_path / "venv") in module
    assert re.search(r"site-packages/cnnlib/resources/mnist_sample\.npz$", sample)
    assert (weights, n_train, n_test, no_tooling) == ("True", "6000", "1000", "True")
