"""The grading build: a copy of cnnlib in which the solution of every exercise being
graded, and every cnnlib object that computes the same result (exercises.EQUIVALENTS),
has its body replaced by a `raise`.

The grading process imports this copy (it is first on its sys.path, and the process runs
with python -I -S, so no .pth file or PYTHONPATH brings the real one back). The solution
is then not in the process at all: no import, default argument, closure, global, numpy
attribute or other cnnlib function can reach it, because its code is not there.

    make_build(dest, ["conv2d_loop"])     # dest/cnnlib, read-only, bodies removed

The expected values are computed by the grader's own process with the real cnnlib.
"""

import ast
import os
import shutil
import stat
from pathlib import Path

from . import exercises

PACKAGE = Path(__file__).resolve().parents[1]


def removed_message(spec, exercise_ids):
    return (f"{spec.replace(':', '.')} is removed from cnnlib while "
            f"{', '.join(exercise_ids)} {'is' if len(exercise_ids) == 1 else 'are'} graded: "
            "an answer has to compute the result itself")


def _body_lines(tree, qualname):
    """(first, last, indent) 0-based lines of the body of `qualname` after its docstring."""
    node, parts = tree, qualname.split(".")
    for part in parts:
        found = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.ClassDef,
                                                        ast.AsyncFunctionDef))
                 and n.name == part]
        if not found:
            raise LookupError(qualname)
        node = found[-1]
    if isinstance(node, ast.ClassDef):
        raise LookupError(f"{qualname} is a class: list its methods instead")
    first = node.body[0]
    doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
           and isinstance(first.value.value, str))
    start = first.end_lineno if doc else first.lineno - 1
    if doc and len(node.body) == 1:
        start = first.end_lineno
    return start, node.end_lineno - 1, " " * first.col_offset


def strip_source(text, qualnames, message):
    """text with the body of every function in qualnames replaced by a raise."""
    tree = ast.parse(text)
    lines = text.splitlines()
    spans = [(_body_lines(tree, q), q) for q in qualnames]
    for (start, end, indent), q in sorted(spans, reverse=True):
        lines[start:end + 1] = [f"{indent}raise RuntimeError({message(q)!r})"]
    return "\n".join(lines) + "\n"


def removed(exercise_ids):
    """{module: [qualname]} of everything the build for these exercises removes."""
    out = {}
    for ex_id in exercise_ids:
        for spec in exercises.get(ex_id).equivalents:
            module, qual = spec.split(":")
            if qual not in out.setdefault(module, []):
                out[module].append(qual)
    return out


def make_build(dest, exercise_ids, package=PACKAGE, compile=False):
    """Write dest/cnnlib: the package without the solutions of exercise_ids (compiled to
    .pyc if asked, so the processes that import it need not). Files are made read-only
    (and owned by whoever runs the grader). Returns dest/cnnlib."""
    ids = sorted(set(exercise_ids))
    target = Path(dest) / "cnnlib"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    resources = Path(package).parent / "resources"      # the bundled MNIST sample, weights
    if resources.is_dir():
        shutil.copytree(resources, Path(dest) / "resources")
        read_only(Path(dest) / "resources")
    for module, quals in removed(ids).items():
        path = Path(dest, *module.split(".")).with_suffix(".py")
        if not path.exists():
            raise LookupError(f"exercises.EQUIVALENTS names {module}, which is not a module "
                              f"of {package}: update the table")
        text = path.read_text(encoding="utf-8")
        try:
            new = strip_source(text, quals, lambda q: removed_message(f"{module}:{q}", ids))
        except LookupError as err:
            raise LookupError(f"exercises.EQUIVALENTS names {module}:{err}, which "
                              f"{path.name} does not define: update the table") from None
        path.write_text(new, encoding="utf-8")
    if compile:
        import compileall
        compileall.compile_dir(str(target), quiet=2)
    read_only(target)
    return target


def read_only(folder):
    """Make every file and folder under `folder` read-only for everyone (r-x / r--)."""
    for root, dirs, files in os.walk(folder):
        for f in files:
            os.chmod(os.path.join(root, f), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(root, 0o555)


def writable(folder):
    """Undo read_only so the folder can be deleted."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
