"""Find model answers (homework/answers/NN.md) in what students receive: each answer's
sentences (five words or more) and each numeric answer's value, as written and as rounded
to the decimals the check compares."""

import json
import re

import numpy as np

from cnnlib.homework.written import ANSWERS, load_answers


def _plain(text):
    return re.sub(r"\s+", " ", text).strip()


def phrases(answer):
    """The sentences of a model answer that are long enough to be its own words."""
    out = []
    for part in re.split(r"(?<=[.;:!?])\s|\n\s*\n", answer):
        part = _plain(part)
        if len(part.split()) >= 5 and len(part) >= 25:
            out.append(part)
    return out


def numbers(entry):
    """How a numeric answer could be written: its repr and its rounded forms."""
    values = np.ravel(np.asarray(entry["check"], dtype=np.float64))
    out = set()
    for v in values:
        for text in (repr(float(v)), f"{round(float(v), entry['decimals'])}",
                     f"{v:.{entry['decimals']}f}"):
            if re.fullmatch(r"-?\d+\.0", text):
                text = text[:-2]
            out.add(text)
    return out


def notebook_text(path):
    """(all text of a notebook, text of its written-exercise cells) with whitespace folded."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    everything, exercise = [], []
    for c in nb["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        everything.append(src)
        if re.fullmatch(r"hw-ex\d+-\d+-(answer|check)", str(c.get("id", ""))):
            exercise.append(re.sub(r"decimals=\d+", "", src))
    return _plain("\n".join(everything)), _plain("\n".join(exercise))


def leaks(number, text, exercise_text=None):
    """Every model answer of notebook `number` found in text: ["03.1: '1.3863'", ...].
    Numbers of 4 or more digits are looked for everywhere, shorter ones only in the
    written exercises' answer and check cells (exercise_text), where a bare "2" would
    still be an answer."""
    found = []
    for k, entry in load_answers(number).items():
        for p in phrases(entry["answer"]):
            if p in text:
                found.append(f"{number}.{k}: {p!r}")
        if entry["check"] is None:
            continue
        for n in numbers(entry):
            where = text if len(re.sub(r"\D", "", n)) >= 4 else (exercise_text or "")
            if re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", where):
                found.append(f"{number}.{k}: the number {n}")
    return found


def all_numbers():
    return sorted(p.stem for p in ANSWERS.glob("[0-9][0-9].md"))
