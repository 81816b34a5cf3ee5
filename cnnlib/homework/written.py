"""The end-of-notebook exercises: a difficulty and time for each, an answer cell in the
student edition, the model answer in the instructor edition, and an automatic check
where the answer is a number or an array.

The model answers live in ONE place, homework/answers/NN.md, which only the build and
the instructor edition read:

    ## 3
    level: medium, 15 minutes
    check: 1352                  (optional: a number or a list, as a Python literal)
    ask: the number of outputs   (with check: what answer_N should hold)
    decimals: 3                  (optional: how many decimals the check compares; 6)

    The model answer, in Markdown.

The student edition gets only a fingerprint (SHA-256 of the rounded value) to check
against, never the value. The fingerprints live in answer_prints.py, which the build
writes, so the check cell reads check_answer("03.1", answer_1) with no hash in sight.
"""

import ast
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from .feedback import Verdict, show

ANSWERS = Path(__file__).resolve().parents[2] / "homework" / "answers"
ITEM = re.compile(r"^(\d+)\.\s", re.M)


def exercise_numbers(markdown):
    """The numbers of the exercises listed after '## Exercises' in a markdown cell."""
    if "## Exercises" not in markdown:
        return []
    return [int(n) for n in ITEM.findall(markdown.split("## Exercises", 1)[1])]


def split_list(markdown):
    """(head, [(k, text of exercise k)], tail) of a cell listing exercises: the head ends
    where the first item starts, the last item ends at the next heading (the references)."""
    before, _, after = markdown.partition("## Exercises")
    starts = [(m.start(), int(m.group(1))) for m in ITEM.finditer(after)]
    heading = re.compile(r"^#", re.M).search(after, starts[-1][0])
    end = heading.start() if heading else len(after)
    bounds = [a for a, _ in starts[1:]] + [end]
    items = [(k, after[a:b].strip("\n")) for (a, k), b in zip(starts, bounds)]
    return (before + "## Exercises" + after[:starts[0][0]]).rstrip("\n"), items, after[end:]


def load_answers(number, folder=ANSWERS):
    """{exercise number: {"level", "check", "decimals", "answer"}} for notebook `number`."""
    path = Path(folder) / f"{number}.md"
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    out = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        entry = {"level": None, "check": None, "decimals": 6, "ask": ""}
        lines = body.strip("\n").split("\n")
        while lines and re.match(r"^(level|check|decimals|ask):", lines[0]):
            key, _, value = lines.pop(0).partition(":")
            value = value.strip()
            entry[key] = ast.literal_eval(value) if key in ("check", "decimals") else value
        entry["answer"] = "\n".join(lines).strip()
        out[int(head.strip())] = entry
    return out


def fingerprint(value, decimals=6):
    """SHA-256 of the value rounded to `decimals`, as the check cell stores it."""
    arr = np.round(np.asarray(value, dtype=np.float64), decimals) + 0.0   # -0.0 -> 0.0
    canon = json.dumps({"shape": list(arr.shape), "values": arr.ravel().tolist()})
    return hashlib.sha256(canon.encode()).hexdigest()


def fingerprints():
    """{"03.1": (fingerprint, decimals)} for every numeric written exercise (answer_prints.py)."""
    from .answer_prints import PRINTS
    return PRINTS


def prints_source(folder=ANSWERS):
    """The text of answer_prints.py, computed from homework/answers/NN.md."""
    rows = []
    for path in sorted(Path(folder).glob("[0-9][0-9].md")):
        for k, entry in sorted(load_answers(path.stem, folder).items()):
            if entry["check"] is not None:
                fp = fingerprint(entry["check"], entry["decimals"])
                rows.append(f"    {path.stem + '.' + str(k)!r}: ({fp!r}, {entry['decimals']}),")
    return ('"""Written by python -m cnnlib.homework build from homework/answers/NN.md; do not '
            'edit.\n\nThe fingerprint (written.fingerprint: SHA-256 of the rounded value) and the '
            'decimals of\nevery numeric written exercise, for check_answer. The values are not '
            'here.\n"""\n\nPRINTS = {\n' + "\n".join(rows) + "\n}\n")


def answer_matches(value, expected, decimals=6):
    """True if value's fingerprint is `expected` (what the instructor's hidden tests assert)."""
    try:
        return value is not None and fingerprint(value, decimals) == expected
    except (TypeError, ValueError):
        return False


def answer_verdict(name, value, expected=None, decimals=None):
    """The Verdict of check_answer: right, not right yet, or not answered yet."""
    if expected is None:
        if name not in fingerprints():
            raise ValueError(f"there is no numeric written exercise {name!r}: the check cell "
                             f"names one of {', '.join(sorted(fingerprints()))}.")
        expected, stored = fingerprints()[name]
        decimals = stored if decimals is None else decimals
    decimals = 6 if decimals is None else decimals
    if value is None or value is Ellipsis:
        return Verdict("not yet", f"exercise {name} (put your answer in the cell above, run it, "
                       "then this one)", word="not answered yet")
    try:
        fingerprint(value, decimals)
    except (TypeError, ValueError):
        return Verdict("failed", f"exercise {name}: expected a number or an array of numbers, "
                       f"got {type(value).__name__}", word="not right yet")
    if answer_matches(value, expected, decimals):
        return Verdict("passed", f"exercise {name}", word="right")
    shape = np.shape(value)
    return Verdict("failed", f"exercise {name} (compared to {decimals} decimals"
                   f"{', shape ' + str(shape) if shape else ''})", word="not right yet")


def check_answer(name, value, expected=None, decimals=None):
    """Show whether `value` is the answer of written exercise `name` ("03.1"): ✓ right,
    ✗ not right yet or … not answered yet. It compares fingerprints (answer_prints.py,
    or `expected` if given). Returns None, so the check cell echoes nothing."""
    show(answer_verdict(name, value, expected, decimals))


def progress_rows(notebook, namespace=None):
    """Rows for show_progress: each numeric written exercise of `notebook` and its verdict
    on the answer_N the notebook holds now."""
    if notebook is None:
        return []
    if namespace is None:
        try:
            from IPython import get_ipython
            namespace = get_ipython().user_ns
        except (ImportError, AttributeError):
            namespace = {}
    rows = []
    for name in sorted(fingerprints(), key=lambda n: int(n.split(".")[1])):
        if name.split(".")[0] == notebook:
            k = name.split(".")[1]
            v = answer_verdict(name, namespace.get(f"answer_{k}"))
            rows.append((f"answer_{k}", v.kind, v.word, f"written exercise {k}"))
    return rows


def cells(number, numbers, instructor, make_cell, nbgrader):
    """The cells that follow the notebook's list of exercises."""
    answers = load_answers(number)
    out = []
    for k in numbers:
        entry = answers.get(k, {})
        level = entry.get("level") or "not rated yet"
        name = f"{number}.{k}"
        tag = f"hw-ex{number}-{k}"
        if entry.get("check") is not None:
            what = f" ({entry['ask']})" if entry.get("ask") else ""
            intro = (f"**Exercise {k}** ({level}). Put your answer in `answer_{k}`{what} and "
                     f"run the check under it.")
            out.append(make_cell("markdown", intro, f"{tag}-intro"))
            if instructor:
                # the model answer goes INSIDE the solution region, as comments: nbgrader's
                # generate_assignment removes it with the value (a Markdown cell without
                # nbgrader metadata would be released to the students)
                model = ("\n" + "\n".join(f"# {line}".rstrip() for line in
                                           ("Model answer: " + entry["answer"]).split("\n"))
                         if entry.get("answer") else "")
                code = (f"### BEGIN SOLUTION\nanswer_{k} = {entry['check']!r}{model}\n"
                        "### END SOLUTION")
                meta = nbgrader(f"ex{number}_{k}_answer", solution=True)
            else:
                code, meta = f"answer_{k} = None   # your answer: a number or a list", {}
            out.append(make_cell("code", code, f"{tag}-answer", meta))
            fp = fingerprint(entry["check"], entry["decimals"])
            check = f"check_answer({name!r}, answer_{k})"
            meta = {}
            if instructor:
                check += (f"\n### BEGIN HIDDEN TESTS\nfrom cnnlib.homework.written import "
                          f"answer_matches\nassert answer_matches(answer_{k}, {fp!r}, "
                          f"decimals={entry['decimals']}), \"exercise {name} is not right\""
                          "\n### END HIDDEN TESTS")
                meta = nbgrader(f"ex{number}_{k}_check", points=1)
            out.append(make_cell("code", check, f"{tag}-check", meta))
        else:
            out.append(make_cell("markdown", f"**Exercise {k}** ({level}). Your answer:",
                                 f"{tag}-intro"))
            if instructor:
                text = entry.get("answer") or "(no model answer written yet)"
                meta = nbgrader(f"ex{number}_{k}_answer", solution=True, points=1)
                out.append(make_cell("markdown", "*Model answer:* " + text, f"{tag}-answer",
                                     meta))
            else:
                out.append(make_cell("markdown", "*Write your answer here (double-click to "
                                     "edit).*", f"{tag}-answer"))
    return out
