"""Grade submissions: python -m cnnlib.homework grade SUBMISSION.ipynb [...] [--csv FILE]

For every submission:
1. run a temporary copy in a fresh kernel (sandbox "run": per-cell and total time limits,
   a memory limit, a cap on output) and report how far it got;
2. for every exercise, take the cell that defines the answer (the last top-level
   `def`/`class` of that name), refuse it if it reaches for the grader, the interpreter
   or cnnlib's solution, run it alone in another sandbox on the public AND hidden cases,
   and compare its raw outputs here, with cnnlib's answers computed here.
The score therefore never depends on what the notebook printed, on its check cells, or
on anything it did to the check functions.
"""

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import exercises
from .cases import make_cases
from .checks import compare, expected_outputs

BANNED_NAMES = {"open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars",
                "setattr", "delattr", "breakpoint"}
BANNED_MODULES = {"os", "sys", "importlib", "builtins", "inspect", "subprocess", "ctypes",
                  "gc", "types", "pickle", "marshal", "threading", "multiprocessing", "signal",
                  "socket", "shutil", "pathlib", "io", "runpy", "code", "codeop"}
ALLOWED_DUNDERS = {"__init__", "__name__"}


@dataclass
class Limits:
    cell_timeout: float = 120
    total_timeout: float = 900
    memory_mb: int = 4096
    max_output: int = 2 * 1024 * 1024


def run_submission(path, limits):
    """Execute a temporary copy; returns the sandbox's report (status, cell, detail)."""
    with tempfile.TemporaryDirectory(prefix="cnnlib-grade-") as tmp:
        copy = Path(tmp) / "submission.ipynb"
        shutil.copyfile(path, copy)
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "cnnlib.homework.sandbox", "run", str(copy), str(result),
               str(limits.cell_timeout), str(limits.total_timeout), str(limits.memory_mb),
               str(limits.max_output)]
        try:
            # the submission runs in a clean environment: no homework or test flags of ours
            env = {k: v for k, v in os.environ.items() if not k.startswith("CNNLIB_HOMEWORK")}
            subprocess.run(cmd, cwd=tmp, timeout=limits.total_timeout + 60, check=False, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
        except subprocess.TimeoutExpired:
            return {"status": "total time limit", "cell": None,
                    "detail": f"the run did not finish within {limits.total_timeout:g} s"}
        if not result.exists():
            return {"status": "could not run", "cell": None, "detail": "the runner crashed"}
        return json.loads(result.read_text(encoding="utf-8"))


def answer_cell(nb, ex):
    """Source of the last code cell that defines ex.name at top level, or None."""
    found = None
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            if re.search(rf"^(def|class)\s+{ex.name}\b", src, re.M):
                found = src
            continue
        if any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == ex.name
               for n in tree.body):
            found = src
    return found


def refuse(source, ex):
    """A reason to refuse an answer cell without running it, or "" if it looks honest."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return f"syntax error in the answer cell: {err.msg} (line {err.lineno})"
    forbidden = {attr for _, _, attr in ex.forbidden_objects()}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in mods:
                top = mod.split(".")[0]
                if top in BANNED_MODULES or mod.startswith("cnnlib.homework"):
                    return f"imports {mod} (answers may import numpy, math and cnnlib helpers)"
                if top not in ("numpy", "math", "cnnlib"):
                    return f"imports {mod} (answers may import numpy, math and cnnlib helpers)"
            if isinstance(node, ast.ImportFrom):
                bad = [a.name for a in node.names if a.name in forbidden or a.name == "*"]
                if bad:
                    return f"imports cnnlib's {', '.join(bad)}: an answer may not use cnnlib's solution"
        elif isinstance(node, ast.Name) and (node.id in BANNED_NAMES or node.id.startswith("__")):
            return f"uses {node.id!r}, which an answer cell has no business with"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr") and not (
                    len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str)
                    and not node.args[1].value.startswith("__")):
            return f"calls {node.func.id} with a computed or dunder name"
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") \
                and node.attr not in ALLOWED_DUNDERS:
            return f"touches {node.attr!r}, which an answer cell has no business with"
    return ""


def score_exercise(source, ex, limits):
    """(score 0 or 1, reason) from the public and hidden cases, compared here."""
    reason = refuse(source, ex)
    if reason:
        return 0, reason
    cases = make_cases(ex.id, hidden=True)
    with tempfile.TemporaryDirectory(prefix="cnnlib-score-") as tmp:
        arrays = {f"{i}/{k}": np.asarray(v) for i, c in enumerate(cases)
                  for k, v in c["inputs"].items()}
        np.savez(Path(tmp) / "inputs.npz", **arrays)
        job = {"exercise": ex.id, "source": source, "n_cases": len(cases),
               "inputs": str(Path(tmp) / "inputs.npz"), "outputs": str(Path(tmp) / "out.npz"),
               "memory_mb": min(limits.memory_mb, 2048), "cpu_seconds": 60}
        (Path(tmp) / "job.json").write_text(json.dumps(job), encoding="utf-8")
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CNNLIB_HOMEWORK")}
            done = subprocess.run([sys.executable, "-m", "cnnlib.homework.sandbox", "score",
                                   str(Path(tmp) / "job.json")], cwd=tmp, timeout=90, env=env,
                                  capture_output=True, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            return 0, "the answer did not finish within 90 s on the grading cases"
        try:
            meta = json.loads(done.stdout.decode()[:100000])
            with np.load(Path(tmp) / "out.npz", allow_pickle=False) as data:
                outs = {k: data[k] for k in data.files}
        except (ValueError, OSError):
            return 0, f"the answer crashed the grading process (exit code {done.returncode})"
    if meta.get("calls_reference"):
        return 0, f"calls cnnlib's solution: {meta['calls_reference']}"
    errors = meta.get("errors") or []
    for i, case in enumerate(cases):
        error = errors[i] if i < len(errors) else (errors[0] if errors else "no result")
        if error == "not implemented":
            return 0, "not implemented"
        if error:
            return 0, f"case '{case['name']}': {error}"
        got = {k.split("/", 1)[1]: v for k, v in outs.items() if k.split("/", 1)[0] == str(i)}
        problem = compare(ex.id, case, got, expected_outputs(ex.id, case))
        if problem:
            return 0, f"case '{case['name']}': {problem}"
    return 1, f"passed {len(cases)} cases"


def exercises_of(path, nb):
    """The exercises a submission is expected to answer: from its cells' metadata, and
    from the notebook number in its file name."""
    ids = {c.get("metadata", {}).get("homework", {}).get("exercise") for c in nb.get("cells", [])}
    number = re.search(r"(?:^|\D)(\d\d)_", Path(path).name)
    chosen = [ex for ex in exercises.EXERCISES
              if ex.id in ids or (number and ex.notebook == number.group(1))]
    return chosen


def grade_one(path, limits, execute=True):
    """{"submission", "run", "scores": {id: (score, reason)}} for one notebook."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return {"submission": str(path), "run": f"not a notebook: {err}", "scores": {}}
    run = run_submission(path, limits) if execute else {"status": "not executed"}
    where = f" in cell {run['cell']}" if run.get("cell") is not None else ""
    if run["status"] == "ok":
        status = f"ran to the end in {run.get('seconds', 0):g} s"
    else:
        status = run["status"] + where + (f" ({run['detail']})" if run.get("detail") else "")
    scores = {}
    for ex in exercises_of(path, nb):
        source = answer_cell(nb, ex)
        scores[ex.id] = (0, "no cell defines " + ex.name) if source is None else \
            score_exercise(source, ex, limits)
    return {"submission": str(path), "run": status, "scores": scores}


def grade_all(paths, csv_path=None, limits=None, execute=True, out=print):
    """Grade every submission, print a table per submission, write the CSV if asked."""
    limits = limits or Limits()
    results = []
    for path in paths:
        res = grade_one(path, limits, execute)
        results.append(res)
        total = sum(s for s, _ in res["scores"].values())
        out(f"\n{res['submission']}: {total}/{len(res['scores'])}   run: {res['run']}")
        for ex_id, (s, reason) in res["scores"].items():
            out(f"  {ex_id:<24} {s}   {reason}")
    if csv_path:
        ids = [ex.id for ex in exercises.EXERCISES
               if any(ex.id in r["scores"] for r in results)]
        tmp = Path(str(csv_path) + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["submission", "run"] + ids + ["total", "out of"])
            for r in results:
                w.writerow([r["submission"], r["run"]] +
                           [r["scores"][i][0] if i in r["scores"] else "" for i in ids] +
                           [sum(s for s, _ in r["scores"].values()), len(r["scores"])])
        tmp.replace(csv_path)
        out(f"\nwrote {csv_path}")
    return results
