"""Generate the homework editions from the course notebooks and cnnlib's source.

    python -m cnnlib.homework build                      # homework/student/NN_*.ipynb
    python -m cnnlib.homework build --instructor DIR     # also DIR/NN_*.ipynb with solutions

For each exercise the notebook cell that shows its function with show_source(...) becomes
a stub cell (signature, docstring, NotImplementedError) and a check cell; cells are found
by the function they show, not by their position, so the build survives edits to the
notebooks. Everything else is copied, outputs cleared except the checked ones (tag
nbval-check-output), which the prose quotes and nbval re-checks.
"""

import copy
import json
import re
from pathlib import Path

from . import exercises, source, written

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
STUDENT_DIR = ROOT / "homework" / "student"
PRINTS = Path(__file__).with_name("answer_prints.py")   # the written answers' fingerprints
SHOW = re.compile(r"^\s*show_source\(([\w.]+)\)\s*$")
CHECKED = "nbval-check-output"     # nbval's tag: the cell's stored output is compared
SETUP = ("# Homework edition: check() gives feedback on your answers, and show_source()\n"
         "# no longer shows the solutions of the exercises.\n"
         "from cnnlib.homework import start_homework, check, check_hidden, check_answer, show_progress\n"
         "start_homework()")


# Sentences that are true in the course notebook but not in the homework edition, where the
# function they present is an exercise stub or its body is hidden. One entry per sentence:
# (exercise, notebook, course text, homework text). The course text must occur once in that
# notebook (line breaks may differ), or the build stops and says which entry to update.
STUDENT_WORDING = [
    ("conv2d_loop", "01", "Here is the function that just ran. The four nested loops walk over",
     "The function that just ran is `cnnlib`'s `conv2d_loop`; in the exercise below you write your "
     "own. Let four nested loops walk over"),
    ("conv2d_loop", "01", "the innermost line is exactly the formula above",
     "the innermost line is then exactly the formula above"),
    ("maxpool_loop", "02", "and take the maximum (or mean) of one window at a time:",
     "and take the maximum (or mean) of one window at a time. Here is the average-pooling one; "
     "the max-pooling one is yours to write in the exercise below:"),
    ("softmax", "03", "This is the `softmax` of `cnnlib`:",
     "In the exercise below you write this `softmax` yourself (the cells after it use `cnnlib`'s):"),
    ("log_softmax", "03", "This is `log_softmax`, and the loss `softmax_cross_entropy` is built on it "
     "(it also returns the gradient, which notebook 05 derives).",
     "This is `log_softmax`, which you write in the exercise below. The loss `softmax_cross_entropy` "
     "is built on it (it also returns the gradient, which notebook 05 derives; its body is an "
     "exercise there, so it is hidden here)."),
    ("relu", "04", "Here is the common base class, and two of the simplest layers (the third one in "
     "the same file, `ReLU`, gets its own section in notebook 05):",
     "Here is the common base class, and two of the simplest layers (the body of `Linear.backward` "
     "is hidden: it is an exercise of notebook 05). The third layer in the same file, `ReLU`, is "
     "an exercise right after them; notebook 05 gives it its own section:"),
    ("softmax_cross_entropy", "05", "This is what the library runs.",
     "The library runs `softmax_cross_entropy`, which you write in the exercise below."),
    ("linear_backward", "05", "`backward` is three lines, one per formula:",
     "`backward` takes three lines, one per formula; you write them in the exercise below:"),
    ("relu", "05", "Its source above tells; the next line runs it.",
     "Its source is hidden in this edition (`ReLU` is an exercise of notebook 04), so let the next "
     "line tell by running it."),
    ("softmax_cross_entropy", "05", "## 6. The real code", "## 6. The real code, yours to write"),
    ("maxpool_backward_loop", "06", "## 3. The library code",
     "## 3. The library code, yours to write"),
    ("conv2d_backward_loop", "07", "## 2. The library code `conv2d_backward_loop` does not "
     "evaluate the three formulas one by one;",
     "## 2. The library code, yours to write\n\n`conv2d_backward_loop`, which you write in the "
     "exercise below, does not evaluate the three formulas one by one;"),
    ("maxpool_backward_loop", "06", "The loop version reads like the definition: for every output "
     "pixel, find the first arg-max of its window and add the gradient there. It uses `+=` so that "
     "overlapping windows add up.",
     "The loop version, which you write in the exercise below, follows the definition: for every "
     "output pixel, find the first arg-max of its window and add the gradient there, with `+=` so "
     "that overlapping windows add up."),
    ("train_step", "08", "Here is the step as `cnnlib` does it: four lines, one per move.",
     "In the exercise below you write the step yourself: four lines, one per move."),
    ("im2col", "09", "Here is the code: `windows` builds the windows as a *view* (next section), "
     "`im2col` rearranges them into the matrix (its docstring explains a speed detail: the copy is "
     "written transposed, so that `cols.T` is the contiguous array), and `conv2d_im2col` is the "
     "formula above, line by line.",
     "Here is the code of `windows`, which builds the windows as a *view* (next section), and of "
     "`conv2d_im2col`, the formula above line by line. `im2col`, which rearranges the windows into "
     "the matrix, is yours to write in the exercise below (its docstring explains a speed detail: "
     "the copy is written transposed, so that `cols.T` is the contiguous array)."),
    ("adam", "10", "The shared loop (weight decay is an option we do not use here), then each `update`:",
     "The shared loop (weight decay is an option we do not use here), then the `update` of `SGD` "
     "and of `Momentum` (its body hidden: it is an exercise of notebook 08); `Adam.update` is "
     "yours to write in the exercise below:"),
    ("batchnorm", "12", "`BatchNorm.backward` computes this form, with the two sums it needs for "
     "$\\gamma$ and $\\beta$ anyway; `batchnorm_backward_steps` follows the chain step by step.",
     "In the exercise below you write `BatchNorm`'s forward pass and this compact backward pass, "
     "with the two sums it needs for $\\gamma$ and $\\beta$ anyway (`cnnlib`'s "
     "`batchnorm_backward_steps` follows the chain step by step; your answer may not call it)."),
]


def _student_wording(cells, number):
    """Reword, in place, the sentences of STUDENT_WORDING that belong to notebook `number`."""
    for ex_id, nb, old, new in STUDENT_WORDING:
        if nb != number:
            continue
        pattern = re.compile(r"\s+".join(map(re.escape, old.split())))
        hits = [c for c in cells
                if c["cell_type"] == "markdown" and pattern.search("".join(c["source"]))]
        if len(hits) != 1:
            raise ValueError(
                f"notebook {nb}: the sentence {old[:60]!r}... that the homework edition rewords "
                f"for exercise {ex_id!r} occurs {len(hits)} times (expected once); update its "
                f"entry in STUDENT_WORDING, cnnlib/homework/build.py.")
        text = pattern.sub(lambda m: new, "".join(hits[0]["source"]), count=1)
        hits[0]["source"] = _lines(text)


def _cell(kind, text, cell_id, meta=None):
    cell = {"cell_type": kind, "id": cell_id, "metadata": meta or {}, "source": _lines(text)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
        cell = {k: cell[k] for k in ("cell_type", "execution_count", "id", "metadata",
                                     "outputs", "source")}
    return cell


def _lines(text):
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _nbgrader(grade_id, solution=False, points=None):
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def exercise_cells(ex, instructor):
    """Markdown introduction, the stub (or solution) cell and the check cell."""
    intro = (f"### Exercise: `{ex.name}`{' (' + ', '.join(ex.methods) + ')' if ex.methods else ''}"
             f" — {ex.title}\n\nAbout {ex.minutes} minutes. Replace the `raise "
             f"NotImplementedError` line{'s' if len(ex.methods) > 1 else ''} in the next cell "
             f"with your code, run it, then run the check below it: it says which case fails, "
             f"what was expected and what usually causes that mistake. The rest of the "
             f"notebook uses cnnlib's version, so it runs whether or not yours is finished.")
    meta = {"homework": {"exercise": ex.id, "role": "solution"}}
    check_meta = {"homework": {"exercise": ex.id, "role": "check"}}
    if instructor:
        code = source.solution_source(ex)
        meta.update(_nbgrader(f"{ex.id}_solution", solution=True))
        check_meta.update(_nbgrader(f"{ex.id}_check", points=1))
    else:
        code = source.student_source(ex)
    check = (f"check({ex.id!r}, {ex.name})\n"
             f"from {ex.module} import {ex.name}   # later cells use cnnlib's {ex.name}")
    if instructor:
        check += (f"\n### BEGIN HIDDEN TESTS\nassert check_hidden({ex.id!r}), "
                  f"\"{ex.id} fails the hidden checks\"\n### END HIDDEN TESTS")
    return [_cell("markdown", intro, f"hw-{ex.id}-intro"),
            _cell("code", code, f"hw-{ex.id}-code", meta),
            _cell("code", check, f"hw-{ex.id}-check", check_meta)]


def _shows(cell):
    return [m.group(1) for line in cell["source"] for m in [SHOW.match(line.rstrip("\n"))] if m]


def _without(cell, exprs):
    kept = [line for line in cell["source"]
            if not (SHOW.match(line.rstrip("\n")) and SHOW.match(line.rstrip("\n")).group(1)
                    in exprs)]
    if kept:
        kept[-1] = kept[-1].rstrip("\n")
    return kept


def _keep_only_checked_output(cell, changed):
    """Clear a code cell's outputs, except those of an unchanged cell tagged nbval-check-output.

    The checked outputs are small deterministic results (shapes, rounded numbers) that the
    prose quotes; keeping them, with the tag, makes nbval re-check them in the student
    edition too, so a sentence there cannot drift from what its cell prints. A cell the build
    changed (a show_source line removed) starts empty and untagged.
    """
    tags = cell["metadata"].get("tags", [])
    if CHECKED in tags and not changed and cell.get("outputs"):
        return
    cell["outputs"], cell["execution_count"] = [], None
    tags = [t for t in tags if t != CHECKED]
    cell["metadata"].pop("tags", None)
    if tags:
        cell["metadata"]["tags"] = tags


def _with_answers(cell, number, instructor):
    """The cell that lists the exercises, cut so that each exercise's answer cells sit right
    under its question: the head (to '## Exercises'), then per exercise its item and its
    answer cells, then the rest (the references) in a cell of its own."""
    head, items, tail = written.split_list("".join(cell["source"]))
    out = [{**cell, "source": _lines(head)}]
    for k, text in items:
        out.append(_cell("markdown", text, f"{cell['id']}-q{k}"))
        out.extend(written.cells(number, [k], instructor, _cell, _nbgrader))
    if tail.strip():
        out.append(_cell("markdown", tail.strip("\n"), f"{cell['id']}-rest"))
    return out


def build_notebook(nb, number, instructor=False):
    """The homework edition of one notebook (a new dict; nb is not changed)."""
    todo = exercises.for_notebook(number)
    cells = [copy.deepcopy(c) for c in nb["cells"]]
    _student_wording(cells, number)
    placed, after = set(), {}
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for expr in _shows(cell):
            for ex in todo:
                if ex.id not in placed and expr in ex.show:
                    placed.add(ex.id)
                    after.setdefault(i, []).append((ex, expr))
    for ex in todo:                      # no show_source cell: put it after its anchor
        if ex.id in placed:
            continue
        spot = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"
                     and set(_shows(c)) & set(ex.anchor)), None)
        if spot is None:
            raise ValueError(f"notebook {number} shows neither {ex.show} nor {ex.anchor}: "
                             f"update exercise {ex.id!r} in cnnlib/homework/exercises.py.")
        after.setdefault(spot, []).append((ex, None))
    out = []
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    listed = {i: written.exercise_numbers("".join(c["source"])) for i, c in enumerate(cells)
              if c["cell_type"] == "markdown"}
    # The course's setup cell (tag colab-setup) stays first: on Colab it installs cnnlib,
    # which the homework's own setup cell imports.
    installs = "colab-setup" in cells[first_code].get("metadata", {}).get("tags", [])
    for i, cell in enumerate(cells):
        if i == first_code + installs:
            out.append(_cell("code", SETUP, "hw-setup"))
        if cell["cell_type"] == "code":
            exprs = {expr for _, expr in after.get(i, []) if expr}
            if exprs:
                cell["source"] = _without(cell, exprs)
            _keep_only_checked_output(cell, changed=bool(exprs))
        if listed.get(i):
            out.extend(_with_answers(cell, number, instructor))
        elif cell["cell_type"] != "code" or "".join(cell["source"]).strip():
            out.append(cell)
        for ex, _ in after.get(i, []):
            out.extend(exercise_cells(ex, instructor))
    if not todo:
        return {**nb, "cells": out}
    numeric = any(e["check"] is not None for e in written.load_answers(number).values())
    out.append(_cell("markdown", "## Your progress\n\nRun this cell after the checks above "
                     "to see which exercises pass, which are not implemented yet and which "
                     "fail" + (", and which of your numeric answers are right" if numeric
                               else "") + ". (These are the public checks; grading runs more.)",
                     "hw-progress-intro"))
    out.append(_cell("code", f"show_progress({number!r})", "hw-progress",
                     {"homework": {"role": "progress"}}))
    return {**nb, "cells": out}


def dumps(nb):
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def build(instructor_dir=None, student_dir=STUDENT_DIR, notebooks=NOTEBOOKS):
    """Write every student edition (and instructor edition if a folder is given).
    Returns the list of paths written."""
    paths = []
    prints = written.prints_source()
    # the real edition's fingerprints ship with cnnlib; an unchanged file is left alone, so a
    # build during grading does not touch the package the grader watches
    if Path(student_dir) == STUDENT_DIR and (not PRINTS.exists()
                                             or PRINTS.read_text(encoding="utf-8") != prints):
        _write(PRINTS, prints)
        paths.append(PRINTS)
    for path in sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb")):
        number = path.name[:2]
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not exercises.for_notebook(number) and not any(
                written.exercise_numbers("".join(c["source"])) for c in nb["cells"]
                if c["cell_type"] == "markdown"):
            continue
        targets = [(Path(student_dir), False)]
        if instructor_dir is not None:
            targets.append((Path(instructor_dir), True))
        for folder, instructor in targets:
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / path.name
            _write(dest, dumps(build_notebook(nb, number, instructor)))
            paths.append(dest)
    return paths


def _write(dest, text):
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dest)                       # never leave a half-written file
