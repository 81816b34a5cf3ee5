"""Grade submissions: python -m cnnlib.homework grade SUBMISSION.ipynb [...] [--csv FILE]

For every submission, in a temporary folder of its own and under a supervisor
(cnnlib.homework.supervise: own session, limits, an unprivileged user when run as root,
nothing left running afterwards):
1. run a copy of the notebook in a fresh kernel and report how far it got;
2. for every exercise, find the answer cell (the last top-level def/class of its name) and
   the cells it needs (context.plan), run those in a grading process that imports the
   grading build of cnnlib (grading_build: the solutions are not there), call the answer on
   the public AND hidden cases, generated here, and bring back the raw outputs;
3. compare them here with cnnlib's answers computed here, and name the mistake when the
   output looks like a known one (mistakes.py).
Before the first and after every submission the grader fingerprints cnnlib's package and
every site-packages folder of the environment; if anything changed it stops with an error
naming what. The CSV and the reports are written only after every submission was graded.
"""

import csv
import json
import os
import pwd
import re
import shutil
import site
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import download
from . import context, exercises, grading_build, mistakes, supervise
from .cases import make_cases
from .checks import compare, expected_outputs
from .sandbox import unpack

PACKAGE = Path(__file__).resolve().parents[1]
FIRST_UID = 64000              # submissions run as uids from here when the grader is root


class GradingStopped(RuntimeError):
    """The package or the environment changed while grading: no score can be trusted."""


@dataclass
class Limits:
    cell_timeout: float = 120
    total_timeout: float = 900
    memory_mb: int = 4096
    max_output: int = 2 * 1024 * 1024
    grade_timeout: float = 60          # seconds for one exercise's grading process


# ---------------------------------------------------------------- the environment
def site_dirs():
    """The environment's site-packages folders and the folders its .pth files add."""
    dirs = [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]
    extra = []
    for d in dirs:
        for pth in sorted(d.glob("*.pth")):
            for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import ")) and \
                        (d / line).is_dir():
                    extra.append((d / line).resolve())
    return list(dict.fromkeys(dirs + extra))


def solution_copies():
    """Folders holding a copy of cnnlib's solutions (or the model answers): the checkout
    this grader runs from, every checkout an editable install maps cnnlib to, cnnlib
    installed into a site-packages folder. The submissions' minimal root never holds them,
    even when the environment lives inside a checkout."""
    out = [PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").exists() else PACKAGE]
    for d in site_dirs():
        if (d / "cnnlib").is_dir():
            out.append(d / "cnnlib")
        for finder in d.glob("__editable__*cnnlib*finder.py"):
            for path in re.findall(r"'cnnlib': '([^']+)'", finder.read_text(errors="replace")):
                p = Path(path)
                out.append(p.parent if (p.parent / "pyproject.toml").exists() else p)
    return list(dict.fromkeys(out))


def watched_dirs():
    return list(dict.fromkeys([PACKAGE] + site_dirs()))


def fingerprint(dirs):
    """{path: (mode, uid, size, mtime_ns, ctime_ns, inode)} of every file and folder under
    dirs. st_ctime_ns changes with every write, rename or chmod and cannot be set back."""
    out = {}
    for top in dirs:
        for root, folders, files in os.walk(top):
            for name in [""] + files:
                p = os.path.join(root, name) if name else root
                try:
                    s = os.lstat(p)
                except OSError:
                    continue
                out[p] = (s.st_mode, s.st_uid, s.st_size, s.st_mtime_ns, s.st_ctime_ns,
                          s.st_ino)
    return out


def changes(before, after, limit=5):
    """A sentence naming what differs between two fingerprints ("" if nothing)."""
    added = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    parts = []
    for what, paths in (("added", added), ("removed", gone), ("changed", changed)):
        if paths:
            more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
            parts.append(f"{what}: {', '.join(paths[:limit])}{more}")
    return "; ".join(parts)


# ---------------------------------------------------------------- users and folders
class Users:
    """Unprivileged user ids for the submissions running at the same time (root only)."""

    def __init__(self):
        self.lock, self.busy = threading.Lock(), set()
        self.root = os.geteuid() == 0

    def take(self):
        if not self.root:
            return None
        with self.lock:
            running = {u for _, u, _ in supervise.processes().values()}
            for uid in range(FIRST_UID, FIRST_UID + 1000):
                if uid in self.busy or uid in running or _known_uid(uid):
                    continue
                self.busy.add(uid)
                return uid
        raise RuntimeError(f"no free user id in {FIRST_UID}..{FIRST_UID + 999}")

    def give(self, uid):
        with self.lock:
            self.busy.discard(uid)


def _known_uid(uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def _remove(folder):
    def retry(func, path, _):
        os.chmod(os.path.dirname(path), 0o700)
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
        func(path)
    grading_build.writable(folder)
    shutil.rmtree(folder, onerror=retry)


# ---------------------------------------------------------------- one submission
BOOT = ("import sys; sys.path[:0] = {paths!r}; "
        "from cnnlib.homework.sandbox import grade_main; grade_main()")


def exercises_of(path, nb):
    """The exercises a submission is expected to answer: from its cells' metadata, and
    from the notebook number in its file name."""
    ids = set()
    for c in nb.get("cells", []):
        meta = (c.get("metadata") or {}).get("homework") or {}
        if isinstance(meta, dict):
            ids.add(meta.get("exercise"))
    number = re.search(r"(?:^|\D)(\d\d)_", Path(path).name)
    return [ex for ex in exercises.EXERCISES
            if ex.id in ids or (number and ex.notebook == number.group(1))]


_EXPECTED, _EXPECTED_LOCK = {}, threading.Lock()
_LIVE, _LIVE_LOCK = set(), threading.Lock()     # pids of the supervisors now running


def cases_and_expected(exercise_id):
    """The public and hidden cases of an exercise and cnnlib's answers to them, computed
    once per grading run, here, with the real cnnlib."""
    with _EXPECTED_LOCK:
        if exercise_id not in _EXPECTED:
            cases = make_cases(exercise_id, hidden=True)
            _EXPECTED[exercise_id] = (cases, [expected_outputs(exercise_id, c) for c in cases])
        return _EXPECTED[exercise_id]


def _inputs(cases):
    return {f"{i}/{k}": np.asarray(v) for i, c in enumerate(cases)
            for k, v in c["inputs"].items()}


class Builds:
    """The grading builds of one grading run, made once per set of exercises (and the
    plain copy the notebooks run with), compiled, read-only; the fingerprint watches them."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="cnnlib-builds-"))
        os.chmod(self.root, 0o755)
        self.made, self.lock = {}, threading.Lock()

    def get(self, exercise_ids):
        key = ",".join(sorted(set(exercise_ids))) or "plain"
        with self.lock:
            if key not in self.made:
                dest = self.root / f"b{len(self.made)}"
                dest.mkdir()
                grading_build.make_build(dest, exercise_ids, compile=True)
                os.chmod(dest, 0o755)
                self.made[key] = dest
            return self.made[key]

    def remove(self):
        _remove(self.root)


def grade_one(path, limits, execute=True, users=None, builds=None):
    """{"submission", "run", "scores": {id: (score, reason)}, "details": {id: {...}}}."""
    users = users or Users()
    own_builds = builds is None
    builds = builds or Builds()
    res = {"submission": str(path), "run": "", "scores": {}, "details": {}}
    try:
        raw = Path(path).read_bytes()
        nb = json.loads(raw.decode("utf-8"))
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (OSError, ValueError, AttributeError, UnicodeDecodeError) as err:
        res["run"] = f"not a notebook: {err}"
        return res
    chosen = exercises_of(path, nb)
    cells = context.cells_of(nb)
    plans = {ex.id: context.plan(nb, ex.name, cells) for ex in chosen}
    uid = users.take()
    tmp = Path(tempfile.mkdtemp(prefix="cnnlib-grade-"))
    try:
        os.chmod(tmp, 0o711)
        control, work = tmp / "control", tmp / "work"
        control.mkdir(mode=0o700)
        run_copy = builds.get([])                  # cnnlib as it is, read-only
        grading_copy = builds.get([ex.id for ex in chosen])
        work.mkdir(mode=0o700)
        for sub in ("tmp", ".ipython", ".mpl", ".jupyter"):
            (work / sub).mkdir()
        (work / "submission.ipynb").write_bytes(raw)
        if uid is not None:
            for p in [work, *work.rglob("*")]:
                os.chown(p, uid, uid)
        env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
               "HOME": str(work), "TMPDIR": str(work / "tmp"), "USER": "student",
               "LOGNAME": "student", "IPYTHONDIR": str(work / ".ipython"),
               "MPLCONFIGDIR": str(work / ".mpl"), "JUPYTER_CONFIG_DIR": str(work / ".jupyter"),
               "JUPYTER_RUNTIME_DIR": str(work / ".jupyter"), "PYTHONDONTWRITEBYTECODE": "1",
               "MPLBACKEND": "Agg", "LANG": "C.UTF-8", "PYTHONPATH": str(run_copy),
               "JUPYTER_PLATFORM_DIRS": "1"}
        for spec in download.DATASETS.values():     # where the teacher keeps full MNIST
            if os.environ.get(spec["env"]):
                env[spec["env"]] = os.environ[spec["env"]]
        steps, cases_of = [], {}
        if execute:
            steps.append({"name": "run", "argv": [sys.executable, "-B", "-m",
                                                  "cnnlib.homework.sandbox", "run",
                                                  str(work / "submission.ipynb"),
                                                  str(limits.cell_timeout),
                                                  str(limits.total_timeout),
                                                  str(limits.max_output)],
                          "stdin": None, "timeout": limits.total_timeout + 30,
                          "memory_mb": limits.memory_mb,
                          "cpu_seconds": int(limits.total_timeout * 4) + 60,
                          "max_out": 100_000})
        paths = [str(grading_copy)] + [str(d) for d in site_dirs()]
        for ex in chosen:
            p = plans[ex.id]
            if p.answer is None:
                continue
            cases = cases_of[ex.id] = cases_and_expected(ex.id)[0]
            job = {"exercise": ex.id, "name": ex.name, "answer": p.answer,
                   "cells": [[i, _source(nb["cells"][i])] for i in p.cells],
                   "n_cases": len(cases)}
            stdin = control / f"{ex.id}.in"
            with open(stdin, "wb") as f:
                f.write(json.dumps(job).encode() + b"\n")
                np.savez(f, **_inputs(cases))
            steps.append({"name": ex.id, "argv": [sys.executable, "-I", "-S", "-B", "-c",
                                                  BOOT.format(paths=paths)],
                          "stdin": str(stdin), "timeout": limits.grade_timeout,
                          "memory_mb": min(limits.memory_mb, 2048),
                          "cpu_seconds": int(limits.grade_timeout),
                          "max_out": 64 * 1024 * 1024, "network": False})
        (tmp / "root").mkdir()
        keep = [sys.base_prefix, sys.prefix, os.path.realpath(sys.executable), str(work),
                str(run_copy), str(grading_copy)] + \
            [str(d) for d in site_dirs()] + \
            [env[s["env"]] for s in download.DATASETS.values() if s["env"] in env]
        hide = solution_copies()
        keep = [k for k in keep if not any(h == Path(k) for h in hide)]
        mask = [str(h) for h in hide if any(h.is_relative_to(k) for k in keep)]
        job = {"cwd": str(work), "env": env, "uid": uid, "out_dir": str(control),
               "steps": steps, "keep": keep, "mask": mask, "newroot": str(tmp / "root")}
        timeout = sum(s["timeout"] for s in steps) + 120
        try:
            with _LIVE_LOCK:         # registered before _kill_strays can see it
                sup = subprocess.Popen([sys.executable, "-B", "-m", "cnnlib.homework.supervise"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, cwd=str(control),
                                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
                _LIVE.add(sup.pid)
            try:
                stdout, stderr = sup.communicate(json.dumps(job).encode(), timeout=timeout)
            finally:
                if sup.poll() is None:
                    sup.kill()
                    sup.wait()
                with _LIVE_LOCK:
                    _LIVE.discard(sup.pid)
            report = json.loads(stdout.decode())
        except (subprocess.TimeoutExpired, ValueError) as err:
            why = (f"exit code {sup.returncode}: " + stderr.decode(errors="replace")[-2000:]
                   if isinstance(err, ValueError) else type(err).__name__)
            raise GradingStopped(f"the supervisor of {path} failed ({why}); "
                                 "no score of this run can be trusted") from None
        failed = [s for s in report["steps"] if s.get("error")]
        if failed:
            raise GradingStopped(
                f"could not start {failed[0]['name']!r} of {path} in its sandbox "
                f"({failed[0]['error']}). As root the grader runs every submission as a user "
                "of its own, chrooted in a minimal root (Linux mount namespaces); where the "
                "machine refuses that (a container without CAP_SYS_ADMIN), run the grader as "
                "an ordinary user instead and read 'What it does not guarantee' in "
                "homework/README.md")
        if report["survivors"] or any(s["survivors"] for s in report["steps"]):
            raise GradingStopped(f"processes of {path} survived the supervisor: "
                                 f"{report['survivors']}")
        by_name = {s["name"]: s for s in report["steps"]}
        res["run"] = _run_status(by_name.get("run"), control, limits) if execute \
            else "not executed"
        for ex in chosen:
            p = plans[ex.id]
            if p.answer is None:
                res["scores"][ex.id] = (0, "no cell defines " + ex.name)
                res["details"][ex.id] = {}
                continue
            score, reason, detail = _score(ex, cases_of[ex.id], by_name[ex.id], control, p,
                                           limits)
            res["scores"][ex.id] = (score, reason)
            res["details"][ex.id] = detail
    finally:
        if uid is not None:
            users.give(uid)
        _remove(tmp)
        if own_builds:
            builds.remove()
    return res


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _run_status(step, control, limits):
    try:
        run = json.loads((control / "run.out").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if step and step["timed_out"]:
            return f"total time limit (the run did not finish within {limits.total_timeout:g} s)"
        return "could not run (the runner crashed)"
    where = f" in cell {run['cell']}" if run.get("cell") is not None else ""
    if run.get("status") == "ok":
        return f"ran to the end in {run.get('seconds', 0):g} s"
    return str(run.get("status")) + where + (f" ({run['detail']})" if run.get("detail") else "")


def _score(ex, cases, step, control, p, limits):
    """(score, reason, detail) for one exercise from its grading process's output."""
    detail = {"answer_cell": p.answer, "cells_run": p.cells, "unresolved": p.unresolved}
    isolate = ""
    if p.unresolved:
        isolate = "could not isolate: " + "; ".join(p.unresolved.values())
    try:
        meta, outs = unpack((control / f"{ex.id}.out").read_bytes())
    except (OSError, ValueError, KeyError):
        if step["timed_out"]:
            why = f"the answer did not finish within {limits.grade_timeout:g} s on the grading cases"
        elif step["too_much_output"]:
            why = "the grading process wrote too much"
        else:
            why = f"the answer crashed the grading process (exit code {step['returncode']})"
        return 0, _join(isolate, why), detail
    detail["cell_errors"] = meta.get("cells", {})
    score, reason, more = judge(ex, meta, outs, isolate)
    detail.update(more)
    return score, reason, detail


def judge(ex, meta, outs, isolate=""):
    """(score, reason, detail) from a grading process's errors (meta) and raw outputs
    ({"<case>/<name>": array}), compared with cnnlib's answers computed here."""
    detail = {}
    errors = meta.get("errors") or []
    for i, (case, expected) in enumerate(zip(*cases_and_expected(ex.id))):
        error = errors[i] if i < len(errors) else (errors[0] if errors else "no result")
        detail["case"] = case["name"]
        if error == "not implemented":
            detail.pop("case")
            return 0, "not implemented", detail
        got = {k.split("/", 1)[1]: v for k, v in outs.items() if k.split("/", 1)[0] == str(i)}
        if error:
            if "NameError" in error and isolate:
                return 0, isolate, detail
            named = mistakes.diagnose(ex.id, case, None, expected, error)
            detail["mistake"] = named
            return 0, _join(f"case '{case['name']}': {error}", named and f"likely: {named}"), detail
        problem = compare(ex.id, case, got, expected)
        if problem is None and ex.id not in ("momentum", "adam"):
            changed = [k for k, v in case["inputs"].items() if isinstance(v, np.ndarray)
                       and not _same(got.get(f"input after: {k}"), v)]
            if changed:
                problem = f"changed the input array(s) {', '.join(changed)} in place"
        if problem:
            named = mistakes.diagnose(ex.id, case, got, expected, problem)
            detail["mistake"] = named
            return 0, _join(f"case '{case['name']}': {problem.splitlines()[0]}",
                            named and f"likely: {named}"), detail
    detail.pop("case", None)
    return 1, f"passed {len(cases_and_expected(ex.id)[0])} cases", detail


def _same(a, b):
    return a is not None and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _join(*parts):
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------- all submissions
def grade_all(paths, csv_path=None, limits=None, execute=True, out=print, jobs=1,
              report_dir=None):
    """Grade every submission (jobs at a time), print a summary per submission, then write
    the CSV and the reports. Raises GradingStopped, writing nothing, if the package or the
    environment changed while grading."""
    limits = limits or Limits()
    # this process writes no .pyc while grading: a file appearing in the package or in
    # site-packages is then the work of someone else
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    builds = Builds()
    for path in paths:                   # every build, before the first fingerprint
        try:
            nb = json.loads(Path(path).read_text(encoding="utf-8"))
            builds.get([ex.id for ex in exercises_of(path, nb)])
        except (OSError, ValueError, AttributeError, TypeError):
            pass
    builds.get([])
    dirs = watched_dirs() + [builds.root]
    before = fingerprint(dirs)
    users, lock = Users(), threading.Lock()
    strays_before = set(_children())
    supervise.become_subreaper()   # an orphan whose supervisor was killed comes back here
    try:
        def one(path):
            res = grade_one(path, limits, execute, users, builds)
            with lock:
                _kill_strays(strays_before)
                now = fingerprint(dirs)
                diff = changes(before, now)
                if diff:
                    raise GradingStopped(
                        f"the package or the environment changed while {path} was graded"
                        f"{' (with others at the same time)' if jobs > 1 else ''}: {diff}. "
                        "Restore them (e.g. git checkout, reinstall) before grading again; "
                        "no scores were written.")
            return res
        with ThreadPoolExecutor(max(1, int(jobs))) as pool:
            results = list(pool.map(one, paths))
    finally:
        supervise.become_subreaper(False)
        sys.dont_write_bytecode = writes_bytecode
        builds.remove()
    for res in results:
        total = sum(s for s, _ in res["scores"].values())
        out(f"\n{res['submission']}: {total}/{len(res['scores'])}   run: {res['run']}")
        for ex_id, (s, reason) in res["scores"].items():
            out(f"  {ex_id:<24} {s}   {reason}")
    if report_dir:
        for path in write_reports(results, report_dir):
            out(f"wrote {path}")
    if csv_path:
        write_csv(results, csv_path)
        out(f"\nwrote {csv_path}")
    return results


def _children():
    me = os.getpid()
    return [p for p, (pp, _, _) in supervise.processes().items() if pp == me]


def _kill_strays(known):
    """Kill children of this process that are not ours: processes of a submission whose
    supervisor was killed, re-parented here because this process is a subreaper."""
    import signal
    with _LIVE_LOCK:                # no supervisor starts while strays are looked for
        for pid in set(_children()) - set(known) - _LIVE:
            for p in supervise.descendants(pid) + [pid]:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def write_csv(results, csv_path):
    ids = [ex.id for ex in exercises.EXERCISES if any(ex.id in r["scores"] for r in results)]
    tmp = Path(str(csv_path) + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["submission", "run"] + ids + [f"{i} reason" for i in ids] +
                   ["total", "out of"])
        for r in results:
            w.writerow([r["submission"], r["run"]] +
                       [r["scores"][i][0] if i in r["scores"] else "" for i in ids] +
                       [r["scores"][i][1] if i in r["scores"] else "" for i in ids] +
                       [sum(s for s, _ in r["scores"].values()), len(r["scores"])])
    tmp.replace(csv_path)


def report_text(res):
    """The Markdown report a teacher can hand back to one student."""
    total = sum(s for s, _ in res["scores"].values())
    lines = [f"# {res['submission']}", "",
             f"**Score: {total} of {len(res['scores'])}**", "",
             f"How far the notebook ran: {res['run']}", "",
             "| exercise | score | why |", "| --- | --- | --- |"]
    for ex_id, (s, reason) in res["scores"].items():
        lines.append(f"| `{ex_id}` | {s} | {reason.replace('|', '/')} |")
    for ex_id, (s, _) in res["scores"].items():
        d = res.get("details", {}).get(ex_id) or {}
        if s or not d:
            continue
        lines += ["", f"## `{ex_id}`", ""]
        if d.get("case"):
            lines.append(f"- failing case: {d['case']}")
        if d.get("mistake"):
            lines.append(f"- the usual mistake this looks like: {d['mistake']}")
        if d.get("answer_cell") is not None:
            first = [str(c) for c in d.get("cells_run", []) if c != d["answer_cell"]]
            lines.append(f"- the answer is cell {d['answer_cell']}"
                         + (f"; cells {', '.join(first)} ran with it (imports, helpers)"
                            if first else ""))
        for cell, err in sorted((d.get("cell_errors") or {}).items(), key=lambda c: int(c[0])):
            lines.append(f"- cell {cell} raised {err}")
        for why in (d.get("unresolved") or {}).values():
            lines.append(f"- could not isolate: {why}")
    return "\n".join(lines) + "\n"


def write_reports(results, folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, seen = [], set()
    for res in results:
        stem = Path(res["submission"]).stem
        name = stem if stem not in seen else f"{stem}-{len(seen)}"
        seen.add(name)
        dest = folder / f"{name}.md"
        tmp = dest.with_suffix(".md.tmp")
        tmp.write_text(report_text(res), encoding="utf-8")
        tmp.replace(dest)
        written.append(dest)
    return written
