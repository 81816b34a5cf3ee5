"""The homework editions: in sync with notebooks/ and cnnlib, no solution in the student
edition, every instructor solution passes its checks, show_source hides solutions."""

import json

import pytest

from cnnlib.homework import build, check_hidden, exercises, source
from cnnlib.homework.checks import PASSED, check
from cnnlib.viz.show import show_source


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_regenerating_the_student_edition_changes_nothing(tmp_path):
    written = build.build(student_dir=tmp_path)
    committed = sorted(p.name for p in build.STUDENT_DIR.glob("*.ipynb"))
    assert sorted(p.name for p in written) == committed, \
        "run: python -m cnnlib.homework build"
    for path in written:
        assert path.read_text(encoding="utf-8") == \
            (build.STUDENT_DIR / path.name).read_text(encoding="utf-8"), \
            f"homework/student/{path.name} is out of date: run python -m cnnlib.homework build"


def _solution_lines(ex):
    """Lines of cnnlib's solution bodies long enough to be recognisable."""
    text = source.unit_source(ex)
    lines = text.splitlines()
    out = []
    for start, end, _ in source.spans(ex, text):
        out += [ln.strip() for ln in lines[start:end + 1]
                if len(ln.strip()) > 20 and not ln.strip().startswith("#")]
    return out


def test_student_editions_hold_stubs_checks_and_no_solution():
    texts = {p.name: p.read_text(encoding="utf-8") for p in build.STUDENT_DIR.glob("*.ipynb")}
    for ex in exercises.EXERCISES:
        name = next(n for n in texts if n.startswith(ex.notebook))
        nb = json.loads(texts[name])
        roles = [c["metadata"].get("homework", {}) for c in nb["cells"]]
        assert {"exercise": ex.id, "role": "solution"} in roles
        assert {"exercise": ex.id, "role": "check"} in roles
        assert roles[-1] == {"role": "progress"}
        code = next(c for c in nb["cells"]
                    if c["metadata"].get("homework") == {"exercise": ex.id, "role": "solution"})
        assert "raise NotImplementedError" in "".join(code["source"])
        for line in _solution_lines(ex):
            for n, t in texts.items():
                for c in json.loads(t)["cells"]:
                    # the course's deliberately wrong demos (an early return...) may look alike
                    text = "".join(c["source"])
                    assert "DELIBERATELY WRONG" in text or line not in text, \
                        f"{ex.id}'s solution line in {n}: {line}"
    for t in texts.values():
        assert "BEGIN SOLUTION" not in t and "nbgrader" not in t and '"outputs": []' in t


def test_student_editions_keep_only_the_checked_outputs_of_the_course():
    """The prose quotes the outputs of checked cells, so the student edition keeps exactly
    those (nbval re-checks them there); every other cell starts empty."""
    kept = 0
    for path in sorted(build.STUDENT_DIR.glob("*.ipynb")):
        course = {c["id"]: c for c in _load(build.NOTEBOOKS / path.name)["cells"]}
        for cell in _load(path)["cells"]:
            if cell["cell_type"] != "code" or not cell["outputs"]:
                continue
            assert "nbval-check-output" in cell["metadata"].get("tags", []), (path.name, cell["id"])
            assert cell["id"] in course and cell["source"] == course[cell["id"]]["source"] \
                and cell["outputs"] == course[cell["id"]]["outputs"], (path.name, cell["id"])
            kept += 1
    assert kept > 50


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instructor")
    build.build(instructor_dir=folder, student_dir=tmp_path_factory.mktemp("student"))
    return folder


def test_every_instructor_solution_passes_every_check(instructor, monkeypatch):
    for ex in exercises.EXERCISES:
        nb = _load(next(instructor.glob(f"{ex.notebook}_*.ipynb")))
        cells = {c["metadata"].get("homework", {}).get("role"): c for c in nb["cells"]
                 if c["metadata"].get("homework", {}).get("exercise") == ex.id}
        code, checker = "".join(cells["solution"]["source"]), "".join(cells["check"]["source"])
        assert "### BEGIN SOLUTION" in code and "### END SOLUTION" in code
        assert "### BEGIN HIDDEN TESTS" in checker and "### END HIDDEN TESTS" in checker
        assert cells["solution"]["metadata"]["nbgrader"]["solution"] is True
        assert cells["check"]["metadata"]["nbgrader"]["points"] == 1
        ns = {"check": check, "check_hidden": check_hidden}
        exec(compile(code, f"<{ex.id} solution cell>", "exec"), ns)
        exec(compile(checker, f"<{ex.id} check cell>", "exec"), ns)   # hidden asserts pass
        assert check(ex.id, ns["__builtins__"] and _defined(code, ex), quiet=True).status == PASSED


def _defined(code, ex):
    ns = {}
    exec(compile(code, "<again>", "exec"), ns)
    return ns[ex.name]


def test_show_source_hides_exercise_bodies_only_in_a_homework_kernel(monkeypatch, capsys):
    from cnnlib.layers import Linear
    from cnnlib.optim import Adam
    show_source(Linear)
    assert "self.x.T @ dout" in capsys.readouterr().out
    monkeypatch.setenv("CNNLIB_HOMEWORK", "1")
    show_source(Linear)
    show_source(Adam.update)
    out = capsys.readouterr().out
    assert "self.x.T @ dout" not in out and "m_hat" not in out.split("p <-")[-1]
    assert out.count("hidden in the homework edition") == 2
    assert "def forward(self, x):" in out and "x @ self.params" in out   # the rest stays


def test_cells_are_found_by_the_function_they_show_not_by_position():
    nb = _load(build.NOTEBOOKS / "09_vectorization.ipynb")
    cells = nb["cells"]
    moved = {**nb, "cells": cells[:1] + [dict(cells[5], id="extra")] + cells[1:][::-1]}
    out = build.build_notebook(moved, "09")
    ids = [c["id"] for c in out["cells"]]
    for ex in ("im2col", "col2im"):
        i = ids.index(f"hw-{ex}-code")
        shown = "".join(out["cells"][i - 2]["source"])  # the cell before the intro
        assert "show_source" in shown and f"show_source({ex})" not in shown
    without = {**nb, "cells": [c for c in cells if "show_source(col2im)" not in
                               "".join(c["source"])]}
    with pytest.raises(ValueError, match="col2im"):
        build.build_notebook(without, "09")
