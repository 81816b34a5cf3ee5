"""nbgrader (0.9.x, from homework/requirements-teachers.txt) accepts the instructor
edition: generate_assignment releases every notebook in one call without a solution, a
hidden test or a model answer (sentence or number) left in it, and autograde gives the
instructor solution every autograded point (the written answers in words are left for the
teacher to grade by hand).

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


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with every notebook's instructor edition as assignment hw, and
    nbgrader's release of all of them (one generate_assignment call)."""
    nbgrader = _nbgrader_command(tmp_path_factory)
    folder = tmp_path_factory.mktemp("course")
    build.build(instructor_dir=folder / "source" / "hw", student_dir=folder / "unused")
    env = {k: v for k, v in os.environ.items() if k != "CNNLIB_HOMEWORK_EXPECT"}
    # nbgrader runs alembic (and the kernel) from its own environment's bin/ by name
    env["PATH"] = str(Path(nbgrader[0]).parent) + os.pathsep + env.get("PATH", "")

    def run(*args):
        done = subprocess.run(nbgrader + list(args), cwd=folder, capture_output=True,
                              text=True, timeout=900, env=env)
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}"
        return done

    run("generate_assignment", "hw", "--force")
    return folder, run


def test_the_release_of_every_notebook_holds_no_solution_and_no_model_answer(course):
    from homework_leaks import all_numbers, leaks, notebook_text
    folder, _ = course
    source = sorted((folder / "source" / "hw").glob("*.ipynb"))
    released = sorted((folder / "release" / "hw").glob("*.ipynb"))
    assert [p.name for p in released] == [p.name for p in source] and len(released) >= 10
    found = []
    for path in released:
        raw = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in raw and "BEGIN HIDDEN TESTS" not in raw, path.name
        assert "Model answer" not in raw, path.name
        text, exercise_text = notebook_text(path)
        found += leaks(path.name[:2], text, exercise_text)
    assert found == []
    # the search finds them where they are: in the instructor source
    text, exercise_text = notebook_text(next((folder / "source" / "hw").glob("03_*.ipynb")))
    assert len(leaks("03", text, exercise_text)) >= 4
    assert "03" in all_numbers()


def test_nbgrader_gives_the_solution_every_autograded_point(course):
    folder, run = course
    keep = "03_softmax_and_cross_entropy.ipynb"
    source = folder / "source" / "hw"
    submitted = folder / "submitted" / "teacher" / "hw"
    submitted.mkdir(parents=True)
    shutil.copy(source / keep, submitted / keep)      # the solution, handed in
    run("autograde", "hw", "--create", "--force")
    run("export", "--to", "grades.csv")
    rows = list(csv.DictReader((folder / "grades.csv").open()))
    assert len(rows) == 1, rows
    # code cells are autograded; written answers in words wait for the teacher
    cells = json.loads((source / keep).read_text())["cells"]
    graded = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    auto = sum(c["metadata"]["nbgrader"]["points"] for c in graded if c["cell_type"] == "code")
    manual = sum(c["metadata"]["nbgrader"]["points"] for c in graded
                 if c["cell_type"] == "markdown")
    # the assignment's maximum counts every notebook; this student handed in one
    assert auto >= 2 and float(rows[0]["score"]) == auto, rows[0]
    graded = json.loads((folder / "autograded" / "teacher" / "hw" / keep).read_text())
    assert not any(o.get("output_type") == "error" for c in graded["cells"]
                   for o in c.get("outputs", [])), "the solution raised in autograde"
    assert manual >= 1
