"""The grader: full marks for the instructor edition, zero for the student edition, zero
for every way of cheating, and a hanging, crashing, flooding or memory-hungry submission
is reported while the run goes on with the next one."""

import csv
import json

import pytest

from cnnlib.homework import build, exercises, source
from cnnlib.homework.cases import make_cases
from cnnlib.homework.grade import Limits, answer_cell, grade_all, grade_one, score_exercise

FAST = Limits(cell_timeout=60, total_timeout=240, memory_mb=3000, max_output=2_000_000)


def notebook(path, *cells):
    """Write a minimal notebook whose code cells are `cells` (str or (str, metadata))."""
    nb = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(cells):
        text, meta = (c, {}) if isinstance(c, str) else c
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": f"c{i}",
                            "metadata": meta, "outputs": [], "source": text})
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


RIGHT_SOFTMAX = ("import numpy as np\n\ndef softmax(z):\n"
                 "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
                 "    return e / e.sum(axis=-1, keepdims=True)\n")
STUB = source.student_source(exercises.get("softmax"))
ROLE = {"homework": {"exercise": "softmax", "role": "solution"}}


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instructor")
    build.build(instructor_dir=folder, student_dir=tmp_path_factory.mktemp("student"))
    return folder


def test_instructor_edition_scores_full_marks_and_student_edition_zero(instructor, tmp_path):
    path = next(instructor.glob("03_*.ipynb"))
    csv_path = tmp_path / "scores.csv"
    lines = []
    res = grade_all([path, next(build.STUDENT_DIR.glob("03_*.ipynb"))], csv_path, FAST,
                    out=lines.append)
    assert res[0]["run"].startswith("ran to the end")
    assert res[0]["scores"] == {"softmax": (1, "passed 9 cases"),
                                "log_softmax": (1, "passed 9 cases")}
    assert all(s == (0, "not implemented") for s in res[1]["scores"].values())
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["submission", "run", "softmax", "log_softmax", "total", "out of"]
    assert rows[1][-2:] == ["2", "2"] and rows[2][-2:] == ["0", "2"]
    assert any("softmax" in ln and "not implemented" in ln for ln in lines)


@pytest.mark.parametrize("ex", exercises.EXERCISES, ids=lambda e: e.id)
def test_every_instructor_answer_cell_scores_one(instructor, ex):
    nb = json.loads(next(instructor.glob(f"{ex.notebook}_*.ipynb")).read_text())
    assert score_exercise(answer_cell(nb, ex), ex, FAST) == \
        (1, f"passed {len(make_cases(ex.id, hidden=True))} cases")


def test_fake_output_patched_checks_and_edited_check_cells_score_zero(tmp_path):
    fake = notebook(tmp_path / "03_fake.ipynb", (STUB, ROLE),
                    "print('softmax (numerically stable softmax): passed all 4 public cases.')")
    patched = notebook(tmp_path / "03_patched.ipynb", (STUB, ROLE),
                       "import cnnlib.homework.checks as c\n"
                       "c._check = lambda ex, obj, hidden: c.CheckResult(ex.id, 'passed', 'ok')\n"
                       "c.check('softmax', softmax)")
    edited = notebook(tmp_path / "03_edited.ipynb", (STUB, ROLE), "print('passed')  # was check()")
    inside = notebook(tmp_path / "03_inside.ipynb",
                      (STUB + "\nimport cnnlib.homework.checks as c\nc.compare = "
                       "lambda *a, **k: None\n", ROLE))
    for path in (fake, patched, edited, inside):
        res = grade_one(path, FAST, execute=False)
        assert res["scores"]["softmax"][0] == 0, res
    assert "cnnlib.homework" in grade_one(inside, FAST, execute=False)["scores"]["softmax"][1]


def test_calling_cnnlibs_solution_scores_zero_however_it_is_spelled(tmp_path):
    answers = {
        "import": "from cnnlib.losses import softmax as s\n\ndef softmax(z):\n    return s(z)\n",
        "module": "import numpy as np\nimport cnnlib.losses as L\n\ndef softmax(z):\n"
                  "    return np.exp(L.log_softmax(z))\n",
        "getattr": "import numpy as np\nimport cnnlib.losses as L\n\ndef softmax(z):\n"
                   "    return np.exp(getattr(L, 'log_' + 'softmax')(z))\n",
        "dunder": "import numpy as np\n\ndef softmax(z):\n"
                  "    return np.exp.__globals__['x'](z)\n",
        "os": "import os\n\ndef softmax(z):\n    return z\n",
        "builtins": "def softmax(z):\n    return __builtins__['__import__']('cnnlib').losses.softmax(z)\n",
        "dunder getattr": "import numpy as np\n\ndef softmax(z):\n"
                          "    return getattr(np, '__dict__')['exp'](z)\n",
        "check patch": "import cnnlib.homework.grade as g\n\ndef softmax(z):\n    return z\n",
    }
    for name, text in answers.items():
        path = notebook(tmp_path / f"03_{name}.ipynb", (text, ROLE))
        score, reason = grade_one(path, FAST, execute=False)["scores"]["softmax"]
        assert score == 0, (name, reason)
    right = notebook(tmp_path / "03_right.ipynb", (RIGHT_SOFTMAX, ROLE), "softmax = None")
    assert grade_one(right, FAST, execute=False)["scores"]["softmax"][0] == 1
    # ordinary names that happen to be module names are fine
    plain = ("import numpy as np\n\ndef softmax(z):\n    input = z - z.max(axis=-1, keepdims=True)\n"
             "    code = np.exp(input)\n    return code / code.sum(axis=-1, keepdims=True)\n")
    path = notebook(tmp_path / "03_plain.ipynb", (plain, ROLE))
    assert grade_one(path, FAST, execute=False)["scores"]["softmax"] == (1, "passed 9 cases")


def test_hanging_crashing_flooding_and_memory_hungry_submissions_are_reported(tmp_path):
    limits = Limits(cell_timeout=4, total_timeout=60, memory_mb=1500, max_output=200_000)
    paths = [notebook(tmp_path / "03_hang.ipynb", (RIGHT_SOFTMAX, ROLE), "while True:\n    pass"),
             notebook(tmp_path / "03_crash.ipynb", (RIGHT_SOFTMAX, ROLE), "import os\nos._exit(1)"),
             notebook(tmp_path / "03_flood.ipynb", (RIGHT_SOFTMAX, ROLE),
                      "for i in range(100):\n    print('x' * 100_000)"),
             notebook(tmp_path / "03_memory.ipynb", (RIGHT_SOFTMAX, ROLE),
                      "import numpy as np\na = np.ones(2 * 1024**3, dtype=np.uint8)"),
             notebook(tmp_path / "03_fine.ipynb", (RIGHT_SOFTMAX, ROLE), "print(softmax)",
                      ("1 / 0", {"tags": ["raises-exception"]}))]   # a deliberate error demo
    res = grade_all(paths, None, limits, out=lambda s: None)
    runs = [r["run"] for r in res]
    assert runs[0].startswith("timeout in cell 1"), runs
    assert runs[1].startswith("kernel died in cell 1"), runs
    assert runs[2].startswith("output too large in cell 1"), runs
    assert runs[3].startswith("error in cell 1") and "MemoryError" in runs[3], runs
    assert runs[4].startswith("ran to the end"), runs
    assert all(r["scores"]["softmax"][0] == 1 for r in res)   # the answers themselves are right


def test_nothing_is_unpickled_and_bad_files_are_reported(tmp_path):
    bad = tmp_path / "03_bad.ipynb"
    bad.write_text("not json")
    assert grade_one(bad, FAST, execute=False)["run"].startswith("not a notebook")
    import cnnlib.homework.grade as g
    import cnnlib.homework.sandbox as s
    for mod in (g, s):
        text = open(mod.__file__).read()
        assert "pickle.load" not in text and "allow_pickle=True" not in text
