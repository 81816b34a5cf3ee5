"""nbgrader (0.9.x, from homework/requirements-teachers.txt) accepts the instructor
edition: generate_assignment runs without errors and strips the solutions and hidden
tests, and autograde gives the instructor solution every autograded point (the written
answers in words are left for the teacher to grade by hand).

nbgrader is not one of the course's requirements. The test uses it when it is on the PATH;
in CI (CI=true, as .ci/run is run) or with CNNLIB_TEST_NBGRADER=1 it installs the
teachers' requirements into a virtual environment of its own first (a few minutes);
otherwise it is skipped, with that reason."""

import csv
import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from cnnlib.homework import build

ROOT = Path(__file__).resolve().parents[1]
TEACHERS = ROOT / "homework" / "requirements-teachers.txt"


def _nbgrader_command(tmp_path_factory):
    if shutil.which("nbgrader"):              # an environment with the teachers' requirements
        return [shutil.which("nbgrader")]
    if not (os.environ.get("CI") or os.environ.get("CNNLIB_TEST_NBGRADER")):
        pytest.skip("nbgrader is not installed (pip install -r homework/requirements-teachers.txt, "
                    "or set CNNLIB_TEST_NBGRADER=1 to let this test install it in a venv)")
    env_dir = tmp_path_factory.mktemp("teachers") / "venv"
    venv.create(env_dir, with_pip=True)
    pip = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "-r", str(TEACHERS)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, f"installing {TEACHERS.name} failed:\n{pip.stderr[-3000:]}"
    return [str(env_dir / "bin" / "nbgrader")]


def test_nbgrader_generates_the_assignment_and_gives_the_solution_full_marks(tmp_path_factory):
    nbgrader = _nbgrader_command(tmp_path_factory)
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / "hw1"
    build.build(instructor_dir=source, student_dir=course / "unused")
    keep = "03_softmax_and_cross_entropy.ipynb"
    for p in source.glob("*.ipynb"):
        if p.name != keep:
            p.unlink()
    env = {k: v for k, v in os.environ.items() if k != "CNNLIB_HOMEWORK_EXPECT"}
    # nbgrader runs alembic (and the kernel) from its own environment's bin/ by name
    env["PATH"] = str(Path(nbgrader[0]).parent) + os.pathsep + env.get("PATH", "")

    def run(*args):
        done = subprocess.run(nbgrader + list(args), cwd=course, capture_output=True,
                              text=True, timeout=600, env=env)
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}"
        return done

    run("generate_assignment", "hw1", "--force")
    released = (course / "release" / "hw1" / keep).read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in released and "BEGIN HIDDEN TESTS" not in released
    assert "raise NotImplementedError()" in released
    submitted = course / "submitted" / "teacher" / "hw1"
    submitted.mkdir(parents=True)
    shutil.copy(source / keep, submitted / keep)      # the solution, handed in
    run("autograde", "hw1", "--create", "--force")
    run("export", "--to", "grades.csv")
    rows = list(csv.DictReader((course / "grades.csv").open()))
    assert len(rows) == 1, rows
    # code cells are autograded; written answers in words wait for the teacher
    cells = json.loads((source / keep).read_text())["cells"]
    graded = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    auto = sum(c["metadata"]["nbgrader"]["points"] for c in graded if c["cell_type"] == "code")
    manual = sum(c["metadata"]["nbgrader"]["points"] for c in graded
                 if c["cell_type"] == "markdown")
    assert auto >= 2 and float(rows[0]["max_score"]) == auto + manual
    assert float(rows[0]["score"]) == auto, rows[0]          # every autograded point
    graded = json.loads((course / "autograded" / "teacher" / "hw1" / keep).read_text())
    assert not any(o.get("output_type") == "error" for c in graded["cells"]
                   for o in c.get("outputs", [])), "the solution raised in autograde"
