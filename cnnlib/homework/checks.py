"""Checks with feedback: run a student's function on cnnlib's cases and say, kindly and
precisely, what is wrong (which case, expected shape/dtype/values, the largest error and
where, and a hint aimed at the usual mistake).

    check("conv2d_loop", conv2d_loop)    # shows feedback, returns a CheckResult

The feedback starts with a mark and a word (✓ passed, ✗ failed, … not implemented yet),
coloured in a notebook (feedback.py).

A check never raises: an unfinished exercise reports "not implemented yet" and the
notebook goes on. An answer that calls cnnlib's own solution does not pass.

Introduced in the homework edition (homework/student/).
"""

import os
from dataclasses import dataclass

import numpy as np

from . import exercises, mistakes
from .feedback import Table, Verdict, show
from .cases import make_cases
from .runners import RUNNERS, numerical_expected
from .guard import calls_reference, tripwires, CalledReference

PUBLIC_NOTE = "these are the public checks; grading runs more"
PASSED, FAILED, NOT_IMPLEMENTED, CALLS_REFERENCE = (
    "passed", "failed", "not implemented yet", "calls cnnlib's solution")
RESULTS = {}          # exercise id -> the latest CheckResult in this kernel
CHECKED = {}          # exercise id -> the object check() saw last (for check_hidden)


@dataclass
class CheckResult:
    """What a check found: status is one of passed / failed / not implemented yet /
    calls cnnlib's solution; message is the feedback (shown after the verdict's mark and
    word, without repeating the word)."""
    exercise: str
    status: str
    message: str
    case: str = ""

    @property
    def passed(self):
        return self.status == PASSED

    def __repr__(self):
        return f"CheckResult({self.exercise!r}, {self.status!r})"

    @property
    def kind(self):
        """The verdict's kind: passed, failed (or calls cnnlib's solution), not yet."""
        return {PASSED: "passed", NOT_IMPLEMENTED: "not yet"}.get(self.status, "failed")

    def verdict(self):
        word = "does not pass" if self.status == CALLS_REFERENCE else self.status
        text = self.message                 # the mark and word already say the status
        for said, rest in ((": FAILED on case", ": on case"), (": passed all", ": all"),
                           (": does not pass: it", ": it"), (": does not pass:", ":"),
                           (": not implemented yet (hint", " (hint")):
            text = text.replace(said, rest, 1)
        return Verdict(self.kind, text, word, note=PUBLIC_NOTE)


# ---------------------------------------------------------------- running (untrusted side)
def run_case(exercise_id, obj, inputs):
    """Run obj on one case's inputs. Returns (outputs, error): error is None,
    "not implemented", "calls reference: <what>" or "<Type>: message".
    Inputs that the function changed in place are reported as "modified input: x"."""
    copies = {k: np.copy(v) for k, v in inputs.items() if isinstance(v, np.ndarray)}
    work = {k: (np.copy(v) if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    try:
        with np.errstate(all="ignore"):
            outputs = RUNNERS[exercise_id](obj, work)
    except NotImplementedError:
        return None, "not implemented"
    except CalledReference as err:
        return None, f"calls reference: {err}"
    except Exception as err:                       # the student's bug, reported as feedback
        return None, f"{type(err).__name__}: {err}"
    changed = [k for k, v in copies.items() if not _same(work[k], v)]
    if changed and exercise_id not in ("momentum", "adam"):
        return outputs, f"modified input: {', '.join(changed)}"
    return outputs, None


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def expected_outputs(exercise_id, case):
    """cnnlib's answer for a case (or the numerical gradient for a gradient-check case)."""
    if case.get("numgrad"):
        return numerical_expected(exercise_id, case["inputs"])
    outputs, error = run_case(exercise_id, exercises.get(exercise_id).reference(), case["inputs"])
    if error:
        raise RuntimeError(f"cnnlib's own {exercise_id} failed on {case['name']!r}: {error}")
    return outputs


# ---------------------------------------------------------------- comparing (trusted side)
def _tolerance(expected, numgrad):
    if numgrad:
        return 1e-6, 1e-6
    return (1e-4, 1e-5) if expected.dtype == np.float32 else (1e-6, 1e-8)


def compare(exercise_id, case, outputs, expected, n_batch=None):
    """None if outputs match expected, else a feedback message for this case."""
    for key, want in expected.items():
        got = outputs.get(key) if isinstance(outputs, dict) else None
        want = np.asarray(want)
        if got is None:
            return f"{key}: expected an array of shape {want.shape}, got nothing (None)"
        got = np.asarray(got)
        if got.dtype == object or got.dtype.kind not in "fiub":
            return f"{key}: expected numbers (dtype {want.dtype}), got dtype {got.dtype}"
        if got.shape != want.shape:
            return (f"{key}: expected shape {want.shape}, got shape {got.shape}")
        if want.dtype.kind == "f" and got.dtype != want.dtype and not case.get("numgrad"):
            return f"{key}: expected dtype {want.dtype}, got dtype {got.dtype}"
        rtol, atol = _tolerance(want, case.get("numgrad"))
        got64, want64 = got.astype(np.float64), want.astype(np.float64)
        if not np.all(np.isfinite(got64)) and np.all(np.isfinite(want64)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got64))[0])
            return (f"{key}: got {got64[bad] if got64.ndim else got64} at index {bad} where "
                    f"{want64[bad] if want64.ndim else want64} was expected (an overflow?)")
        same_special = (np.isnan(got64) & np.isnan(want64)) | (np.isinf(want64) & (got64 == want64))
        with np.errstate(invalid="ignore"):
            err = np.where(same_special, 0.0, np.abs(got64 - want64))
            ok = same_special | (err <= atol + rtol * np.abs(want64))
        if np.all(ok):
            continue
        where = np.unravel_index(np.argmax(np.where(ok, -1, err)), err.shape) if err.ndim else ()
        where = tuple(int(i) for i in where)
        msg = (f"{key}: values differ, largest error {err[where]:.3g} at index {where}: "
               f"expected {want64[where]:.6g}, got {got64[where]:.6g}")
        return msg + _diagnose(got64, want64, n_batch)
    return None


def _diagnose(got, want, n_batch):
    """A sentence about a pattern in the error, when there is one."""
    nz = np.abs(want) > 1e-12
    neg = want < -1e-12
    if neg.sum() >= 2 and np.all(got[neg] >= 0):
        return ("\n  every value that should be negative came out as 0 or more: does a maximum "
                "start from 0 (or max(0, ...)) instead of from the window's own values?")
    if nz.sum() >= 2:
        ratio = got[nz] / want[nz]
        if np.allclose(ratio, ratio[0], rtol=1e-6) and not np.isclose(ratio[0], 1.0):
            r = ratio[0]
            extra = ""
            if n_batch and np.isclose(r, n_batch):
                extra = f" = the batch size N: divide by N (the loss is a mean)"
            elif n_batch and np.isclose(r, 1 / n_batch):
                extra = " = 1/N: you divided by the batch size N twice"
            return f"\n  every value is {r:.4g} times the expected one{extra}"
        zero_got = np.abs(got[nz]) < 1e-12
        if zero_got.mean() >= 0.25:
            return ("\n  most of your output is 0 where it should not be: is `return` inside "
                    "the loop, or does a loop range stop too early?")
    return ""


# ---------------------------------------------------------------- the check
def check(exercise_id, obj, hidden=False, quiet=False):
    """Check a student's answer to one exercise; shows feedback, returns a CheckResult.

    hidden=True adds the grading cases (the grader runs those in a sandbox instead).
    """
    ex = exercises.get(exercise_id)
    CHECKED[ex.id] = obj
    result = _check(ex, obj, hidden)
    RESULTS[ex.id] = result
    if not quiet:
        show(result.verdict())
    return result


def _check(ex, obj, hidden):
    title = f"{ex.id} ({ex.title})"
    reason = calls_reference(ex, obj)
    if reason:
        return CheckResult(ex.id, CALLS_REFERENCE, f"{title}: does not pass: {reason}. "
                           "Write the computation yourself with NumPy.")
    cases = make_cases(ex.id, hidden)
    for case in cases:
        with tripwires(ex):
            outputs, error = run_case(ex.id, obj, case["inputs"])
        n_batch = _batch_size(ex.id, case)
        if error == "not implemented":
            return CheckResult(ex.id, NOT_IMPLEMENTED, f"{title}: not implemented yet "
                               f"(hint: {ex.stub_hint}).")
        if error and error.startswith("calls reference"):
            return CheckResult(ex.id, CALLS_REFERENCE, f"{title}: does not pass: it "
                               f"{error[len('calls reference: '):]}. Write the computation yourself with NumPy.")
        if error and error.startswith("modified input"):
            return CheckResult(ex.id, FAILED, f"{title}: FAILED on case '{case['name']}': "
                               f"you changed your input array(s) {error[16:]} in place "
                               "(e.g. x[x < 0] = 0 or x -= ...); the caller still needs "
                               "them: work on a copy or build a new array." +
                               _named(ex, case, None, {}, "in place"), case["name"])
        expected = expected_outputs(ex.id, case)
        if error:
            return CheckResult(ex.id, FAILED, f"{title}: FAILED on case '{case['name']}': "
                               f"your code raised {error}" + _named(ex, case, None, expected,
                                                                    error) +
                               f"\n  hint: {case['hint'] or ex.stub_hint}", case["name"])
        problem = compare(ex.id, case, outputs, expected, n_batch)
        if problem:
            hint = case["hint"] or ex.stub_hint
            return CheckResult(ex.id, FAILED, f"{title}: FAILED on case '{case['name']}':\n"
                               f"  {problem}" + _named(ex, case, outputs, expected, problem) +
                               f"\n  hint: {hint}", case["name"])
    return CheckResult(ex.id, PASSED, f"{title}: passed all {len(cases)} "
                       f"{'public and hidden' if hidden else 'public'} cases.")


def _named(ex, case, outputs, expected, problem):
    said = mistakes.diagnose(ex.id, case, outputs, expected, problem)
    return f"\n  the usual mistake this looks like: {said}" if said else ""


def check_hidden(exercise_id):
    """True if the object last given to check(exercise_id) passes the public and hidden
    cases (used by the instructor edition's hidden tests, for nbgrader)."""
    if exercise_id not in CHECKED:
        return False
    return _check(exercises.get(exercise_id), CHECKED[exercise_id], True).passed


def _batch_size(exercise_id, case):
    if exercise_id == "softmax_cross_entropy":
        return len(case["inputs"]["logits"])
    return None


def current_definition(name, shell=None):
    """The newest definition of `name` that ran in this IPython kernel, rebuilt from its
    cell (only that cell's imports and def/class statements run again, in a copy of the
    notebook's namespace), or None outside IPython or if no cell defined it. The check
    cells rebind the name to cnnlib's version, so the namespace alone cannot say."""
    import ast
    from .context import python_of
    if shell is None:
        try:
            from IPython import get_ipython
            shell = get_ipython()
        except ImportError:
            return None
    if shell is None:
        return None
    for raw in reversed(list(shell.history_manager.input_hist_raw)):
        try:
            tree = ast.parse(python_of(raw))
        except SyntaxError:
            continue
        if not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name
                   for n in tree.body):
            continue
        tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom,
                                                           ast.FunctionDef, ast.ClassDef))]
        ns = dict(shell.user_ns)
        try:
            exec(compile(tree, "<your cell>", "exec"), ns)
        except Exception:
            return None
        return ns.get(name)
    return None


def progress(notebook=None):
    """{exercise id: status or None} for the exercises of `notebook` ("05"; all if None):
    the code as it is now (the newest definition of each exercise that ran in this kernel
    is checked again), not the last check run; None for an exercise never run."""
    chosen = exercises.EXERCISES if notebook is None else exercises.for_notebook(notebook)
    for ex in chosen:
        obj = current_definition(ex.name)
        if obj is not None:
            check(ex.id, obj, quiet=True)
    return {ex.id: (RESULTS[ex.id].status if ex.id in RESULTS else None) for ex in chosen}


def show_progress(notebook=None):
    """Show, as a table with a mark and a word per exercise, which exercises of `notebook`
    pass, which are not implemented yet and which fail (see progress()); then the numeric
    written exercises whose answer_N holds a value. Returns None."""
    from . import written
    status = progress(notebook)
    rows = [(ex_id, "not yet", "not written yet", "run its cell") if s is None else
            (ex_id, RESULTS[ex_id].kind, "does not pass" if s == CALLS_REFERENCE else s,
             RESULTS[ex_id].case and f"case '{RESULTS[ex_id].case}'")
            for ex_id, s in status.items()]
    rows += written.progress_rows(notebook)
    expect = os.environ.get("CNNLIB_HOMEWORK_EXPECT")       # set by the test suite
    if expect and any(s != expect for s in status.values()):
        raise AssertionError(f"the test suite expects every exercise to be {expect!r}")
    passed = sum(1 for s in status.values() if s == PASSED)
    where = "" if notebook is None else f" in notebook {notebook}"
    footer = (f"{passed} of {len(status)} exercises pass the public checks ({PUBLIC_NOTE})."
              if status else "")
    show(Table(f"Your progress{where}:", rows, footer))
