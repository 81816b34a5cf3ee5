"""The student edition's prose is true of the student edition.

A sentence that presents a function's code ("Here is the function that just ran:", "This
is the softmax of cnnlib:") is true in the course notebook, which shows the code, and false
in the student edition, where an exercise stub or a hidden body stands in its place. The
build rewords such sentences (STUDENT_WORDING in cnnlib/homework/build.py); this test
finds the ones it missed.
"""

import json
import os
import re

import pytest

from cnnlib.homework import build

SHOW = re.compile(r"^\s*show_source\(([\w.]+)\)\s*$", re.M)
# The paragraph that leads into a listing presents it: its last sentence introduces the
# listing (ends with ":"), or a sentence says what the shown code is or does ...
PRESENTS = re.compile(r"(\bhere (is|are)\b|\bthis is\b|\breads? like\b|\bone per (formula|move)\b|"
                      r"\bthe real code\b|\bjust ran\b)", re.I)
# ... and is true in the student edition only if it says that the code is not there.
ADMITS = re.compile(r"\b(exercise|hidden|yourself|you write|yours)\b", re.I)
HEADING = re.compile(r"\b(library|real) code\b", re.I)
# A sentence that points back at a listing, anywhere in the notebook.
POINTS_BACK = re.compile(r"\b(source|code|listing) above\b|\bjust ran\b", re.I)


def sentences(markdown):
    text = " ".join(markdown.split())
    return [s for s in re.split(r"(?<=[.:!?])\s+(?=[A-Z`(*$\[])", text) if s]


def hidden(expr, namespace):
    """Whether show_source(expr) hides an exercise body in the homework edition."""
    from cnnlib.viz.show import source_text
    obj = namespace.get(expr.split(".")[0])
    if obj is None:
        return False
    for part in expr.split(".")[1:]:
        obj = getattr(obj, part)
    old = os.environ.get("CNNLIB_HOMEWORK")
    os.environ["CNNLIB_HOMEWORK"] = "1"
    try:
        return "hidden in the homework edition" in source_text(obj)
    finally:
        if old is None:
            del os.environ["CNNLIB_HOMEWORK"]
        else:
            os.environ["CNNLIB_HOMEWORK"] = old


def _namespace(cells):
    """The cnnlib names a notebook imports (from cnnlib... import a, b)."""
    import importlib
    ns = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        for module, names in re.findall(r"^from (cnnlib[\w.]*) import ([\w, ]+)$",
                                        "".join(cell["source"]), re.M):
            mod = importlib.import_module(module)
            for name in names.split(","):
                if hasattr(mod, name.strip()):
                    ns[name.strip()] = getattr(mod, name.strip())
    return ns


def false_sentences(nb):
    """[(cell index, sentence)]: sentences of a homework edition that present code it does not show."""
    cells, found = nb["cells"], []
    ns = _namespace(cells)
    course = [i for i, c in enumerate(cells) if not c.get("id", "").startswith("hw-")]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        stub = cell["metadata"].get("homework", {}).get("role") == "solution"
        if not (stub or any(hidden(e, ns) for e in SHOW.findall("".join(cell["source"])))):
            continue
        lead = max((j for j in course if j < i and cells[j]["cell_type"] == "markdown"), default=None)
        if lead is None:
            continue
        # a section heading that promises the code ("## 3. The library code") is false too
        for line in "".join(cells[lead]["source"]).splitlines():
            if line.startswith("#") and HEADING.search(line) and not ADMITS.search(line):
                found.append((lead, line))
        paragraph = sentences("".join(cells[lead]["source"]).strip().split("\n\n")[-1])
        if any(ADMITS.search(s) for s in paragraph):
            continue
        for k, s in enumerate(paragraph):
            if PRESENTS.search(s) or (k == len(paragraph) - 1 and s.endswith(":")):
                found.append((lead, s))
    for i in course:
        if cells[i]["cell_type"] == "markdown":
            for s in sentences("".join(cells[i]["source"])):
                if POINTS_BACK.search(s) and not ADMITS.search(s):
                    found.append((i, s))
    return sorted(set(found))


STUDENT = sorted(build.STUDENT_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_no_sentence_presents_code_the_student_edition_does_not_show(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = false_sentences(nb)
    assert not found, (
        f"{path.name}: sentences that present code the student edition replaces by an exercise "
        f"or hides: " + " | ".join(f"cell {i}: {s!r}" for i, s in found)
        + ". Reword them for the homework edition in STUDENT_WORDING (cnnlib/homework/build.py).")


def test_the_course_wording_is_found_without_the_rewording(monkeypatch):
    """Built without STUDENT_WORDING, the editions hold the false sentences the test must find."""
    monkeypatch.setattr(build, "STUDENT_WORDING", [])
    nb = json.loads((build.NOTEBOOKS / "01_convolution.ipynb").read_text(encoding="utf-8"))
    found = false_sentences(build.build_notebook(nb, "01"))
    assert any("Here is the function that just ran" in s for _, s in found)
    nb = json.loads((build.NOTEBOOKS / "05_backprop_softmax.ipynb").read_text(encoding="utf-8"))
    found = " ".join(s for _, s in false_sentences(build.build_notebook(nb, "05")))
    assert "This is what the library runs" in found and "Its source above tells" in found
    assert "## 6. The real code" in found
    nb = json.loads((build.NOTEBOOKS / "07_backprop_convolution.ipynb").read_text(encoding="utf-8"))
    found = [s for _, s in false_sentences(build.build_notebook(nb, "07"))]
    assert "## 2. The library code" in found


def test_a_stale_rewording_stops_the_build(monkeypatch):
    monkeypatch.setattr(build, "STUDENT_WORDING",
                        [("conv2d_loop", "01", "a sentence no notebook contains", "anything")])
    nb = json.loads((build.NOTEBOOKS / "01_convolution.ipynb").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="STUDENT_WORDING"):
        build.build_notebook(nb, "01")
