"""Binder's files (repo2docker): runtime.txt, requirements.txt, postBuild.

repo2docker cannot run here (it needs Docker and the network), so each file is tested as far
as this machine allows: runtime.txt names a Python the package accepts; requirements.txt
installs the course with the extras the notebooks need; postBuild is valid bash, and run
in a throwaway prefix (as repo2docker runs it, from the repository's root with
$NB_PYTHON_PREFIX set) it puts the JupyterLab settings where JupyterLab reads them.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_runtime_txt_names_a_python_the_package_accepts():
    import tomllib
    from packaging.specifiers import SpecifierSet
    text = (ROOT / "runtime.txt").read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", text)
    assert match, f"runtime.txt: repo2docker expects python-X.Y, found {text!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["requires-python"]
    assert match.group(1) in SpecifierSet(requires), (match.group(1), requires)


def test_requirements_install_the_course_for_the_notebooks():
    lines = [line.split("#")[0].strip()
             for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()]
    course = [line for line in lines if line.startswith("-e .")]
    assert course == ["-e .[notebooks,grade]"], course


@pytest.mark.skipif(shutil.which("bash") is None, reason="postBuild is a bash script; no bash here")
def test_postbuild_is_valid_bash_and_installs_the_lab_settings(tmp_path):
    script = ROOT / "postBuild"
    assert os.access(script, os.X_OK), "postBuild must be executable (repo2docker runs it)"
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    prefix = tmp_path / "prefix"
    done = subprocess.run([str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NB_PYTHON_PREFIX": str(prefix)})
    assert done.returncode == 0, done.stderr
    installed = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.read_bytes() == (ROOT / ".jupyter/lab/settings/overrides.json").read_bytes()


def test_postbuild_writes_where_jupyterlab_reads_its_settings():
    """JupyterLab without --LabApp.app_settings_dir (as on Binder) reads
    <sys.prefix>/share/jupyter/lab/settings, the folder postBuild fills for NB_PYTHON_PREFIX."""
    from jupyterlab.commands import get_app_dir
    text = (ROOT / "postBuild").read_text(encoding="utf-8")
    assert '/share/jupyter/lab/settings"' in text
    assert Path(get_app_dir(), "settings") == Path(sys.prefix, "share", "jupyter", "lab", "settings")
