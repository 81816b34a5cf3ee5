"""The grader is fair: full marks for the instructor edition and for honest answers written
the way students write them (a helper in another cell, a name from the notebook's import
cell, %%time, a later cell that raises), zero for the student edition, a clear reason when
it cannot grade; a hanging, crashing, flooding or memory-hungry submission is reported while
the run goes on; the CSV and the reports say why. Cheats: tests/test_homework_attacks.py."""

import csv
import json
import re

import pytest

from cnnlib.homework import build, context, exercises
from cnnlib.homework.grade import Limits, grade_all, grade_one

FAST = Limits(cell_timeout=60, total_timeout=240, memory_mb=3000, max_output=2_000_000,
              grade_timeout=60)


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


def student_with(path, number, exercise_id, *cells, after=()):
    """The student edition of notebook `number` with the answer cell of exercise_id replaced
    by `cells` (the last one is the answer) and `after` appended at the end."""
    src = next(build.STUDENT_DIR.glob(f"{number}_*.ipynb"))
    nb = json.loads(src.read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"])
              if c["metadata"].get("homework") == {"exercise": exercise_id, "role": "solution"})
    new = [{"cell_type": "code", "execution_count": None, "id": f"v{k}", "metadata": {},
            "outputs": [], "source": text} for k, text in enumerate(cells)]
    new[-1]["metadata"] = nb["cells"][at]["metadata"]
    extra = [{"cell_type": "code", "execution_count": None, "id": f"a{k}", "metadata": {},
              "outputs": [], "source": text} for k, text in enumerate(after)]
    nb["cells"][at:at + 1] = new
    nb["cells"] += extra
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


RIGHT_SOFTMAX = ("import numpy as np\n\ndef softmax(z):\n"
                 "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
                 "    return e / e.sum(axis=-1, keepdims=True)\n")
ROLE = {"homework": {"exercise": "softmax", "role": "solution"}}

# conv2d_loop written with a helper from the cell above and output_size, which only the
# notebook's own import cell (cell 3 of notebook 01) imports
HELPER = ("def window_times(window, kernel):\n"
          "    return float(np.sum(window * kernel))\n")
CONV_USING_CONTEXT = (
    "def conv2d_loop(x, w, b, stride=1, pad=0):\n"
    "    n, c, h, wd = x.shape\n"
    "    f, _, kh, kw = w.shape\n"
    "    ho, wo = output_size(h, kh, stride, pad), output_size(wd, kw, stride, pad)\n"
    "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
    "    out = np.zeros((n, f, ho, wo), dtype=np.result_type(x, w))\n"
    "    for a in range(n):\n"
    "        for g in range(f):\n"
    "            for i in range(ho):\n"
    "                for j in range(wo):\n"
    "                    win = xp[a, :, i*stride:i*stride + kh, j*stride:j*stride + kw]\n"
    "                    out[a, g, i, j] = window_times(win, w[g]) + b[g]\n"
    "    return out\n")


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instructor")
    build.build(instructor_dir=folder, student_dir=tmp_path_factory.mktemp("student"))
    return folder


def test_instructor_edition_scores_full_marks_and_student_edition_zero(instructor, tmp_path):
    path = next(instructor.glob("03_*.ipynb"))
    csv_path, reports = tmp_path / "scores.csv", tmp_path / "reports"
    lines = []
    res = grade_all([path, next(build.STUDENT_DIR.glob("03_*.ipynb"))], csv_path, FAST,
                    out=lines.append, report_dir=reports)
    assert res[0]["run"].startswith("ran to the end")
    assert res[0]["scores"] == {"softmax": (1, "passed 9 cases"),
                                "log_softmax": (1, "passed 9 cases")}
    assert all(s == (0, "not implemented") for s in res[1]["scores"].values())
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["submission", "run", "softmax", "log_softmax", "softmax reason",
                       "log_softmax reason", "total", "out of"]
    assert rows[1][-2:] == ["2", "2"] and rows[2][-2:] == ["0", "2"]
    assert rows[2][4:6] == ["not implemented", "not implemented"]
    assert any("softmax" in ln and "not implemented" in ln for ln in lines)
    texts = sorted((p.read_text() for p in reports.glob("*.md")), key=lambda t: "Score: 2" in t)
    assert len(texts) == 2 and "Score: 0 of 2" in texts[0] and "Score: 2 of 2" in texts[1]
    assert "ran to the end" in texts[1] and "| `softmax` | 0 | not implemented |" in texts[0]


def test_every_instructor_answer_scores_one(instructor):
    paths = sorted(instructor.glob("*.ipynb"))
    res = grade_all(paths, None, FAST, execute=False, out=lambda s: None, jobs=2)
    scores = {ex_id: s for r in res for ex_id, s in r["scores"].items()}
    assert set(scores) == {ex.id for ex in exercises.EXERCISES}
    for ex_id, (score, reason) in scores.items():
        assert score == 1 and reason.startswith("passed"), (ex_id, reason)


def test_honest_answers_score_full_in_the_context_their_notebook_gives_them(tmp_path):
    paths = [
        # a helper in the cell above, output_size from the notebook's import cell
        student_with(tmp_path / "a_01_helper.ipynb", "01", "conv2d_loop", HELPER,
                     CONV_USING_CONTEXT),
        # %%time on the answer cell's first line
        student_with(tmp_path / "b_01_time.ipynb", "01", "conv2d_loop", HELPER,
                     "%%time\n" + CONV_USING_CONTEXT),
        # the helper defined in a later cell, and a later unrelated cell that raises
        student_with(tmp_path / "c_01_later.ipynb", "01", "conv2d_loop", CONV_USING_CONTEXT,
                     after=(HELPER, "raise RuntimeError('an unrelated experiment')")),
        # a constant and a helper that uses it, two cells up (followed transitively)
        student_with(tmp_path / "d_03_const.ipynb", "03", "softmax", "AXIS = -1\n",
                     "def shift(z):\n    return z - z.max(axis=AXIS, keepdims=True)\n",
                     "def softmax(z):\n    e = np.exp(shift(z))\n"
                     "    return e / e.sum(axis=AXIS, keepdims=True)\n"),
    ]
    res = grade_all(paths, None, FAST, out=lambda s: None, jobs=2)
    for r in res:
        ex_id = "conv2d_loop" if "_01_" in r["submission"] else "softmax"
        assert r["scores"][ex_id][0] == 1, (r["submission"], r["scores"])
    assert "error in cell" in res[2]["run"] and "an unrelated experiment" in res[2]["run"]


def test_what_cannot_be_graded_is_said_per_exercise_never_a_silent_zero(tmp_path):
    uses_pad4 = ("def softmax(z):\n    e = np.exp(pad4(z))\n"
                 "    return e / e.sum(axis=-1, keepdims=True)\n")
    paths = [student_with(tmp_path / "a_03_nowhere.ipynb", "03", "softmax",
                          "globals()['pad4'] = lambda z: z - z.max(axis=-1, keepdims=True)\n",
                          uses_pad4),
             student_with(tmp_path / "b_03_broken.ipynb", "03", "softmax",
                          "def pad4(z)\n    return z - z.max(axis=-1, keepdims=True)\n",
                          uses_pad4)]
    res = grade_all(paths, None, FAST, execute=False, out=lambda s: None)
    reason = res[0]["scores"]["softmax"][1]
    assert res[0]["scores"]["softmax"][0] == 0
    assert reason == "could not isolate: uses `pad4`, which no cell of the notebook defines"
    reason = res[1]["scores"]["softmax"][1]
    assert re.fullmatch(r"could not isolate: uses `pad4` from cell \d+, which the grader cannot "
                        r"read \(syntax error: .*\)", reason), reason


def test_the_plan_follows_helpers_and_skips_the_homework_s_own_check_cells():
    nb = json.loads(next(build.STUDENT_DIR.glob("03_*.ipynb")).read_text())
    p = context.plan(nb, "log_softmax")
    roles = [nb["cells"][i]["metadata"].get("homework", {}).get("role") for i in p.cells]
    assert "check" not in roles and roles[-1] == "solution"
    assert p.unresolved == {}


def test_hanging_crashing_flooding_and_memory_hungry_submissions_are_reported(tmp_path):
    limits = Limits(cell_timeout=4, total_timeout=60, memory_mb=1500, max_output=200_000,
                    grade_timeout=20)
    paths = [notebook(tmp_path / "03_hang.ipynb", (RIGHT_SOFTMAX, ROLE), "while True:\n    pass"),
             notebook(tmp_path / "03_crash.ipynb", (RIGHT_SOFTMAX, ROLE), "import os\nos._exit(1)"),
             notebook(tmp_path / "03_flood.ipynb", (RIGHT_SOFTMAX, ROLE),
                      "for i in range(100):\n    print('x' * 100_000)"),
             notebook(tmp_path / "03_memory.ipynb", (RIGHT_SOFTMAX, ROLE),
                      "import numpy as np\na = np.ones(2 * 1024**3, dtype=np.uint8)"),
             notebook(tmp_path / "03_fine.ipynb", (RIGHT_SOFTMAX, ROLE), "print(softmax)",
                      ("1 / 0", {"tags": ["raises-exception"]}))]   # a deliberate error demo
    res = grade_all(paths, None, limits, out=lambda s: None, jobs=2)
    runs = [r["run"] for r in res]
    assert runs[0].startswith("timeout in cell 1"), runs
    assert runs[1].startswith("kernel died in cell 1"), runs
    assert runs[2].startswith("output too large in cell 1"), runs
    assert runs[3].startswith("error in cell 1") and "MemoryError" in runs[3], runs
    assert runs[4].startswith("ran to the end"), runs
    assert all(r["scores"]["softmax"][0] == 1 for r in res)   # the answers themselves are right


def test_a_memory_bomb_in_the_answer_fails_at_once_with_the_reason(tmp_path):
    bomb = ("import numpy as np\n\ndef softmax(z):\n"
            "    a = np.ones(8 * 1024**3, dtype=np.uint8)\n    return z\n")
    res = grade_all([notebook(tmp_path / "03_bomb.ipynb", (bomb, ROLE))], None, FAST,
                    execute=False, out=lambda s: None)
    assert "MemoryError" in res[0]["scores"]["softmax"][1]


def test_nothing_is_unpickled_and_bad_files_are_reported(tmp_path):
    bad = tmp_path / "03_bad.ipynb"
    bad.write_text("not json")
    assert grade_one(bad, FAST, execute=False)["run"].startswith("not a notebook")
    import cnnlib.homework.grade as g
    import cnnlib.homework.sandbox as s
    for mod in (g, s):
        text = open(mod.__file__).read()
        assert "pickle.load" not in text and "allow_pickle=True" not in text


def test_the_guide_s_steps_work_from_a_fresh_clone_and_leave_it_clean(tmp_path):
    """homework/README.md from a fresh clone: build both editions (the instructor one into
    the guide's course folder), grade with the guide's command; afterwards `git status`
    shows nothing new (course/, scores.csv and reports/ are git-ignored)."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(build.ROOT)
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CNNLIB"))}
    env["PYTHONPATH"] = str(clone)

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "cnnlib.homework", *args], cwd=clone,
                              env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout
    run("build", "--instructor", "course/source/hw2")
    (clone / "submissions").mkdir()
    for src in (next((clone / "course/source/hw2").glob("03_*.ipynb")),
                next((clone / "homework/student").glob("03_*.ipynb"))):
        (clone / "submissions" / f"{src.parent.name}_{src.name}").write_bytes(src.read_bytes())
    out = run("grade", *sorted(str(p.relative_to(clone)) for p in
                               (clone / "submissions").glob("*.ipynb")),
              "--csv", "scores.csv", "--reports", "reports", "--jobs", "2", "--no-execute")
    assert "wrote scores.csv" in out
    rows = list(csv.DictReader((clone / "scores.csv").open()))
    assert [r["total"] for r in rows] == ["2", "0"], rows
    assert len(list((clone / "reports").glob("*.md"))) == 2
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout
    assert status.strip() == "?? submissions/", status
