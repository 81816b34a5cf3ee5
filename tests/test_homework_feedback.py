"""The student edition's feedback reads at a glance: a mark, a word and a colour per verdict,
readable without the colour (text/plain, a screen reader, red-green colour blindness), and
no cell of the student edition echoes a return value."""

import json

import numpy as np
import pytest

from cnnlib.homework import build
from cnnlib.homework.feedback import KINDS, Table, Verdict


def _linear(hex_colour):
    c = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _luminance(hex_colour):
    return float(_linear(hex_colour) @ [0.2126, 0.7152, 0.0722])


def _contrast(a, b):
    la, lb = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _deuteranope(hex_colour):
    """The colour as a deuteranope sees it (Viénot, Brettel & Mollon 1999, linear RGB)."""
    m = np.array([[0.29275, 0.70725, 0.0], [0.29275, 0.70725, 0.0], [-0.02234, 0.02234, 1.0]])
    return m @ _linear(hex_colour)


def test_words_are_readable_on_their_backgrounds():
    # WCAG AA: 4.5:1 for text; e.g. the failed word #A34700 on #FCEEE5 is about 5.4:1
    for kind, (mark, border, word, background) in KINDS.items():
        assert _contrast(word, background) >= 4.5, kind


def test_passed_and_failed_differ_for_a_deuteranope():
    """Blue against orange, not green against red: after simulating deuteranopia the two
    border colours still differ clearly (a red/green pair would collapse to one yellow)."""
    passed, failed = _deuteranope(KINDS["passed"][1]), _deuteranope(KINDS["failed"][1])
    assert np.abs(passed - failed).max() > 0.3
    red, green = _deuteranope("#D62728"), _deuteranope("#2CA02C")    # what the rule guards
    assert np.abs(red - green).max() < np.abs(passed - failed).max()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_verdict_has_its_mark_and_word_in_html_and_text(kind):
    from IPython.core.formatters import DisplayFormatter
    v = Verdict(kind, "softmax <stable>", word=f"{kind} word", note="public checks")
    data, _ = DisplayFormatter().format(v)     # what Jupyter receives (no shell left behind)
    mark = KINDS[kind][0]
    assert data["text/plain"].startswith(f"{mark} {kind} word: softmax <stable>")
    html = data["text/html"]
    assert 'role="status"' in html and f"{mark} {kind} word" in html
    assert "softmax &lt;stable&gt;" in html and "public checks" in html
    with pytest.raises(ValueError, match="a verdict's kind is one of"):
        Verdict("green", "x")


def test_a_progress_table_has_one_row_per_exercise():
    t = Table("Your progress:", [("softmax", "passed", "passed", ""),
                                 ("log_softmax", "not yet", "not implemented yet", "")], "1 of 2")
    assert str(t).splitlines() == ["Your progress:", "  ✓ softmax      passed",
                                   "  … log_softmax  not implemented yet", "1 of 2"]
    assert t._repr_html_().count("<tr>") == 3 and 'role="status"' in t._repr_html_()


def test_the_feedback_cells_of_the_student_edition_echo_nothing(monkeypatch):
    """Run the check, answer and progress cells of notebook 03's student edition as they are
    built (a stub, an unanswered and a wrong answer): each shows its verdict and none leaves
    a return value for Jupyter to echo (Out: False, a dict)."""
    from IPython.core.interactiveshell import InteractiveShell
    monkeypatch.delenv("CNNLIB_HOMEWORK_EXPECT", raising=False)
    # the setup cell's start_homework() sets CNNLIB_HOMEWORK; undo it after the test
    monkeypatch.setenv("CNNLIB_HOMEWORK", "1")
    path = next(build.STUDENT_DIR.glob("03_*.ipynb"))
    cells = {c["id"]: "".join(c["source"])
             for c in json.loads(path.read_text(encoding="utf-8"))["cells"]}
    shell = InteractiveShell.instance()
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    try:
        for cell_id in ("hw-setup", "hw-softmax-code", "hw-softmax-check", "hw-ex03-1-answer",
                        "hw-ex03-1-check", "hw-ex03-3-answer", "hw-ex03-3-check",
                        "hw-progress"):
            source = cells[cell_id].replace("answer_3 = None", "answer_3 = 1")
            result = shell.run_cell(source, store_history=True)
            assert result.success, (cell_id, result.error_in_exec)
            assert result.result is None, (cell_id, result.result)
        words = [(v.kind, v.word) for v in shown if isinstance(v, Verdict)]
        assert words == [("not yet", "not implemented yet"), ("not yet", "not answered yet"),
                         ("failed", "not right yet")]
        table = [t for t in shown if isinstance(t, Table)]
        assert len(table) == 1 and ("answer_3", "failed", "not right yet",
                                    "written exercise 3") in table[0].rows
    finally:
        InteractiveShell.clear_instance()
