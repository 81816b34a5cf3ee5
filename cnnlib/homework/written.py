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
against, never the value.
"""

import ast
import hashlib
import json
import re
from pathlib import Path

import numpy as np

ANSWERS = Path(__file__).resolve().parents[2] / "homework" / "answers"
ITEM = re.compile(r"^(\d+)\.\s", re.M)


def exercise_numbers(markdown):
    """The numbers of the exercises listed after '## Exercises' in a markdown cell."""
    if "## Exercises" not in markdown:
        return []
    return [int(n) for n in ITEM.findall(markdown.split("## Exercises", 1)[1])]


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


def check_answer(name, value, expected, decimals=6):
    """Print whether `value` matches the expected fingerprint; returns True or False."""
    if value is None or value is Ellipsis:
        print(f"exercise {name}: not answered yet")
        return False
    try:
        ok = fingerprint(value, decimals) == expected
    except (TypeError, ValueError):
        print(f"exercise {name}: expected a number or an array of numbers, got {type(value).__name__}")
        return False
    shape = np.shape(value)
    print(f"exercise {name}: " + ("right" if ok else
          f"not right yet (compared to {decimals} decimals{', shape ' + str(shape) if shape else ''})"))
    return ok


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
            check = f"check_answer({name!r}, answer_{k}, {fp!r}, decimals={entry['decimals']})"
            meta = {}
            if instructor:
                check += (f"\n### BEGIN HIDDEN TESTS\nassert check_answer({name!r}, answer_{k}, "
                          f"{fp!r}, decimals={entry['decimals']})\n### END HIDDEN TESTS")
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
