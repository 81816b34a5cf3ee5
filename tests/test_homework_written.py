"""Written exercises: every end-of-notebook exercise has a difficulty and time, an answer
cell in the student edition and a model answer in the instructor edition only; numeric
answers are checked by fingerprint, and the stored answers are recomputed here."""

import json
import re

import numpy as np
import pytest

from cnnlib.homework import build, written
from cnnlib.homework.written import answer_matches, check_answer, fingerprint, load_answers


def _listed():
    out = {}
    for path in sorted(build.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for c in nb["cells"]:
            if c["cell_type"] == "markdown" and written.exercise_numbers("".join(c["source"])):
                out[path.name[:2]] = written.exercise_numbers("".join(c["source"]))
    return out


def test_every_exercise_has_a_level_a_time_and_a_model_answer():
    listed = _listed()
    assert sum(len(v) for v in listed.values()) >= 60
    for number, ks in listed.items():
        answers = load_answers(number)
        assert sorted(answers) == sorted(ks), \
            f"homework/answers/{number}.md must answer exactly exercises {ks}"
        for k in ks:
            level = answers[k]["level"] or ""
            assert re.fullmatch(r"(easy|medium|hard), \d+ minutes", level), (number, k, level)
            assert len(answers[k]["answer"]) > 40, (number, k)


def test_numeric_answers_are_right():
    from cnnlib.conv import conv2d_loop
    from cnnlib.losses import softmax
    from cnnlib.pool import maxpool_loop
    x = np.array([[3, 1, 0, 2], [1, 4, 2, 0], [0, 2, 5, 1], [2, 0, 1, 3]], float)[None, None]
    k = np.array([[1, 0, -1], [2, 1, 0], [0, -1, 1]], float)[None, None]
    p = np.array([[1, 3, 2, 0], [4, 2, 1, 1], [0, 1, 5, 2], [2, 2, 3, 4]], float)[None, None]
    z = np.log(np.e ** 2 + np.e)            # p_2 = 1/2 needs e^z = e^2 + e
    with np.errstate(over="ignore", invalid="ignore"):
        zs = np.arange(88.0, 89.0, 1e-4, dtype=np.float32)
        first_nan = next(v for v in zs if np.isnan(np.exp(np.array([v, 0], np.float32)).sum()
                                                   / np.exp(np.array([v, 0], np.float32)).sum()
                                                   ) or np.isinf(np.exp(v)))
    temps = np.linspace(1, 4, 300001)
    t = temps[np.argmin([abs(softmax(np.array([2.0, 1, 0]) / T)[0] - 0.5) for T in temps[::100]])
              * 100]
    recomputed = {
        ("01", 1): conv2d_loop(x, k, np.zeros(1), pad=1)[0, 0],
        ("01", 2): [32 * 3 * 5 * 5 + 32, 1000 * 1000 * 3 * 128 + 128],
        ("02", 1): maxpool_loop(p, kernel_size=3, stride=1)[0, 0],
        ("02", 5): 13 * 13 * 8,
        ("03", 1): -np.log(softmax(np.full(4, 5.0))[0]),
        ("03", 3): z,
        ("03", 4): float(first_nan),
        ("03", 7): t,
        ("04", 1): 16 * 25 + 16 + 12 * 12 * 16 * 10 + 10,
        ("04", 2): 14 * 14 * 8 * 10 + 10,
        ("07", 3): 26 * 26 * 8 * 9,
        ("09", 2): (112 * 112) * (64 * 9) * 4,
        ("09", 6): 64 * 8 * 26 * 26,
    }
    checked = {(n, k): e for n in _listed() for k, e in load_answers(n).items()
               if e["check"] is not None}
    assert set(checked) == set(recomputed), "recompute every checked answer here"
    for key, entry in checked.items():
        assert fingerprint(recomputed[key], entry["decimals"]) == \
            fingerprint(entry["check"], entry["decimals"]), (key, recomputed[key], entry["check"])


def test_check_answer_says_right_wrong_or_not_answered(capsys):
    fp = fingerprint([[5.0, 5.0], [5.0, 5.0]], 6)
    kinds = [written.answer_verdict("02.1", v, fp).kind
             for v in (np.full((2, 2), 5.0), np.full((2, 2), 4.0), None, "five")]
    assert kinds == ["passed", "failed", "not yet", "failed"]
    assert answer_matches(np.full((2, 2), 5.0), fp) and not answer_matches(np.full((2, 2), 4.0), fp)
    assert not answer_matches(None, fp) and not answer_matches("five", fp)
    for v in (np.full((2, 2), 5.0), np.full((2, 2), 4.0), None, "five"):
        assert check_answer("02.1", v, fp) is None          # the check cell echoes nothing
    out = capsys.readouterr().out
    # the mark and the word, in the text a terminal or a screen reader gets
    assert "✓ right" in out and "✗ not right yet" in out and "… not answered yet" in out
    assert "expected a number" in out


def test_check_cells_show_no_fingerprint_and_check_against_the_shipped_ones():
    """The check cell names the exercise only; the fingerprint it compares with comes from
    answer_prints.py, which is what the build computes from homework/answers/."""
    assert build.PRINTS.read_text(encoding="utf-8") == written.prints_source(), \
        "cnnlib/homework/answer_prints.py is out of date: run python -m cnnlib.homework build"
    prints = written.fingerprints()
    for number in _listed():
        for k, entry in load_answers(number).items():
            if entry["check"] is None:
                continue
            name = f"{number}.{k}"
            assert prints[name] == (fingerprint(entry["check"], entry["decimals"]),
                                    entry["decimals"])
            assert written.answer_verdict(name, entry["check"]).kind == "passed"
            wrong = np.asarray(entry["check"], dtype=float) + 1
            assert written.answer_verdict(name, wrong).kind == "failed"
    for path in build.STUDENT_DIR.glob("*.ipynb"):
        for c in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            assert not re.search(r"[0-9a-f]{64}", "".join(c["source"])), (path.name, c["id"])
    with pytest.raises(ValueError, match="no numeric written exercise '03.99'"):
        check_answer("03.99", 1.0)


def test_each_answer_cell_sits_right_under_its_question():
    for number, ks in _listed().items():
        path = next(build.STUDENT_DIR.glob(f"{number}_*.ipynb"))
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        ids = [c["id"] for c in cells]
        for k in ks:
            at = ids.index(f"hw-ex{number}-{k}-intro")
            question = "".join(cells[at - 1]["source"])
            assert question.startswith(f"{k}. "), (path.name, k, question[:60])
            # the exercise's own cells follow its question, one after the other
            own = [i for i, name in enumerate(ids) if name.startswith(f"hw-ex{number}-{k}-")]
            assert own == list(range(at, at + len(own))) and len(own) >= 2, (path.name, k)
        # the references come after the last answer, not between the questions and answers
        refs = [i for i, c in enumerate(cells) if "## References" in "".join(c["source"])]
        last = max(i for i, name in enumerate(ids) if name.startswith(f"hw-ex{number}-"))
        assert all(i > last for i in refs), (path.name, refs, last)


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instructor")
    build.build(instructor_dir=folder, student_dir=tmp_path_factory.mktemp("student"))
    return folder


def test_model_answers_only_in_the_instructor_edition(instructor):
    for number in _listed():
        student = next(build.STUDENT_DIR.glob(f"{number}_*.ipynb")).read_text(encoding="utf-8")
        teacher = next(instructor.glob(f"{number}_*.ipynb")).read_text(encoding="utf-8")
        for k, entry in load_answers(number).items():
            # as the notebook files hold it: JSON-escaped, but UTF-8 kept (nbformat writes
            # ensure_ascii=False; with escapes a line holding σ would never be found, and its
            # "not in the student edition" would pass for nothing)
            first = json.dumps(entry["answer"].split("\n")[0], ensure_ascii=False)[1:-1]
            assert first in teacher, (number, k)
            assert first not in student, (number, k)
            assert f"hw-ex{number}-{k}-answer" in student
            if entry["check"] is not None:
                assert f"answer_{k} = {entry['check']!r}" in teacher
                assert f"answer_{k} = None" in student
                cells = [c for c in json.loads(student)["cells"]
                         if c["id"].startswith(f"hw-ex{number}-{k}-")]
                assert len(cells) == 3
                assert not any(repr(entry["check"]) in "".join(c["source"]) for c in cells)


def test_no_model_answer_in_the_student_edition_or_the_installed_package():
    from homework_leaks import all_numbers, leaks, notebook_text
    for number in all_numbers():
        path = next(build.STUDENT_DIR.glob(f"{number}_*.ipynb"), None)
        if path is None:
            continue
        text, exercise_text = notebook_text(path)
        assert leaks(number, text, exercise_text) == [], path.name
    # what pip installs: the cnnlib package and resources/ (pyproject.toml's packages)
    root = build.ROOT
    files = [p for folder in (root / "cnnlib", root / "resources") for p in folder.rglob("*")
             if p.is_file() and p.suffix in (".py", ".md", ".txt", ".json", ".toml", "")]
    text = " ".join(" ".join(p.read_text(encoding="utf-8", errors="replace").split())
                    for p in files)
    for number in all_numbers():
        assert [f for f in leaks(number, text) if "the number" not in f] == [], number
