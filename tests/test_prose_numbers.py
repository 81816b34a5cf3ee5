"""Every number a student reads in a notebook's prose is computed, not typed.

A percentage, a decimal or a number in scientific notation in a Markdown cell must
either appear in the stored output of a cell tagged "nbval-check-output" of the same
notebook (nbval re-runs that cell on every test run and fails when its output
changes, so the sentence cannot drift from what the code does), or appear in the
notebook's code (a setting the student sees: `lr=0.005`), or be listed with its
reason in tests/prose_numbers/<notebook stem>.txt (definitions and references that
no run produces: an arXiv number, a constant of a formula).

Integers are not checked (28x28, 10 classes, 3 epochs are everywhere): print a
counted integer in a checked cell all the same.

The course notebooks and their student editions are both checked: the student
edition keeps the prose, so its numbers must be backed there too. A student edition
stores no outputs (tests/test_homework_build.py), so there a number counts as printed
when the course notebook's checked cell that prints it is in the student edition
unchanged (same cell id, same source): the student runs that very cell, and nbval
checks its output in the course notebook. A cell that became an exercise stub backs
nothing.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_DIR = Path(__file__).resolve().parent / "prose_numbers"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + \
    sorted((ROOT / "homework" / "student").glob("*.ipynb"))

# 27 %, 27%, 94.66 %, 0.44, 1.5e-3, 2e-3 (not a version such as 3.11.2, nor a date).
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?\s?%|\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)(?![\w.]*\d)")
LINK = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
ARXIV = re.compile(r"arXiv[: ]*\d{4}\.\d{4,5}", re.I)


def prose_numbers(markdown):
    """The checked number tokens of one Markdown text, links and arXiv ids left out."""
    text = ARXIV.sub(" ", LINK.sub(" ", markdown))
    return [m.group(1) for m in NUMBER.finditer(text)]


def squash(text):
    return re.sub(r"\s+", "", text)


def occurs(token, text):
    """Whether token (spaces ignored) stands in text, not as part of a longer number."""
    return re.search(r"(?<![\d.])" + re.escape(squash(token)) + r"(?!\d)", text) is not None


def checked_output_text(nb, keep=None):
    """The stored outputs of nb's checked cells (only those whose (id, source) is in keep)."""
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "nbval-check-output" not in cell["metadata"].get("tags", []):
            continue
        if keep is not None and (cell.get("id"), "".join(cell["source"])) not in keep:
            continue
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return squash("\n".join(parts))


def code_text(nb):
    return squash("\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"))


def allowed(stem):
    """{token: reason} from tests/prose_numbers/<stem>.txt ("token<TAB or spaces>reason")."""
    path = ALLOWED_DIR / f"{stem}.txt"
    out = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            token, _, reason = line.strip().partition(" ")
            assert reason.strip(), f"{path.name}: '{token}' needs a reason"
            out[squash(token)] = reason.strip()
    return out


def printed_text(nb, path):
    """What the checked cells print: for a student edition, the course notebook's checked
    cells that the student edition keeps unchanged."""
    if path.parent.name != "student":
        return checked_output_text(nb)
    course = json.loads((ROOT / "notebooks" / path.name).read_text(encoding="utf-8"))
    keep = {(c.get("id"), "".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"}
    return checked_output_text(course, keep)


def unbacked(nb, stem, outputs=None):
    """[(cell index, token)] for prose numbers that nothing in the notebook backs."""
    outputs = checked_output_text(nb) if outputs is None else outputs
    code, ok = code_text(nb), allowed(stem)
    missing = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for token in prose_numbers("".join(cell["source"])):
            if squash(token) in ok or occurs(token, outputs) or occurs(token, code):
                continue
            missing.append((i, token))
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_number_in_prose_is_backed(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    missing = unbacked(nb, path.stem, printed_text(nb, path))
    assert not missing, (
        f"{path.name}: numbers in prose that no checked cell prints: "
        + ", ".join(f"cell {i}: {t!r}" for i, t in missing)
        + ". Print them in a cell tagged nbval-check-output, or list them with a reason in "
        f"tests/prose_numbers/{path.stem}.txt if no run produces them.")


def test_a_changed_number_in_prose_fails():
    """Take a prose number that a checked output backs, change it, and see the check fail."""
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        outputs, ok = checked_output_text(nb), allowed(path.stem)
        for cell in nb["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            src = "".join(cell["source"])
            for token in prose_numbers(src):
                if squash(token) in ok or not occurs(token, outputs):
                    continue
                digits = [k for k, ch in enumerate(token) if ch.isdigit()]
                k = digits[-1]
                changed = token[:k] + str((int(token[k]) + 3) % 10) + token[k + 1:]
                if occurs(changed, outputs) or occurs(changed, code_text(nb)):
                    continue
                before = len(unbacked(nb, path.stem))
                cell["source"] = src.replace(token, changed, 1)
                assert len(unbacked(nb, path.stem)) > before, (path.name, token, changed)
                return
    pytest.fail("no prose number backed by a checked output was found to change")


def test_tokens():
    text = ("78 % tie, 27% at a positive value; relative 0.44; lr 1e-3 and 2.5e-4; "
            "Python 3.11.2, [link](https://x.org/1.5), arXiv:1502.01852, 28x28 and 10 classes")
    assert prose_numbers(text) == ["78 %", "27%", "0.44", "1e-3", "2.5e-4"]
    assert occurs("27 %", "tie27%.") and not occurs("7%", "27%") and not occurs("0.4", "0.44")


def test_a_student_edition_is_backed_only_by_the_cells_it_keeps():
    """A checked cell of the course notebook that the student edition changed backs nothing."""
    path = ROOT / "homework" / "student" / "06_backprop_pooling.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    printed = printed_text(nb, path)
    assert occurs("78 %", printed)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "tied.mean():.0%" in "".join(cell["source"]):
            cell["source"] = ["# YOUR CODE HERE\n"]
    assert not occurs("78 %", printed_text(nb, path))
