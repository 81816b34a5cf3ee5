"""The exercise's code from cnnlib's own source, in three forms: the student's stub,
the instructor's solution between nbgrader's markers, and the redacted text that
show_source() prints in a homework edition. One source, so they cannot drift.
"""

import ast
import builtins
import importlib
import inspect
import textwrap
import types

from . import exercises

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def unit_source(ex):
    """The source of the function, or of the whole class, that holds the exercise."""
    return textwrap.dedent(inspect.getsource(ex.reference()))


def _body_spans(tree_body):
    """[(first, last, indent)] 0-based line indices of a function's body after its docstring."""
    node = tree_body
    first = node.body[0]
    has_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
               and isinstance(first.value.value, str))
    start = first.end_lineno if has_doc else first.lineno - 1
    return start, node.end_lineno - 1, " " * first.col_offset


def spans(ex, text):
    """Line spans in `text` (the unit source) holding the exercise's bodies."""
    tree = ast.parse(text).body[0]
    if not ex.methods:
        return [_body_spans(tree)]
    found = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    return [_body_spans(found[m]) for m in ex.methods]


def _replace(text, spans_, make):
    lines = text.splitlines()
    for start, end, indent in sorted(spans_, reverse=True):
        lines[start:end + 1] = make(lines[start:end + 1], indent)
    return "\n".join(lines) + "\n"


def helper_imports(ex):
    """Import lines for the module-level names cnnlib's solution uses (numpy, helpers)."""
    module = importlib.import_module(ex.module)
    names = set()

    def walk(code):
        names.update(code.co_names)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                walk(c)
    walk(compile(unit_source(ex), "<exercise>", "exec"))
    # the exercise's own object only: other equivalents the solution calls (train_step's
    # split across workers, im2col's windows) stay importable helpers of the cell
    forbidden = {id(getattr(o, a, None)) for _, o, a in ex.forbidden_objects()[:1]}
    plain, modules = [], []
    for n in sorted(names):
        if n == ex.name or n not in module.__dict__ or hasattr(builtins, n):
            continue
        value = module.__dict__[n]
        if isinstance(value, types.ModuleType):
            real = value.__name__
            modules.append(f"import {real}" + ("" if real == n else f" as {n}"))
        elif id(value) not in forbidden:
            plain.append(n)
    lines = sorted(modules)
    if plain:
        lines.append(f"from {ex.module} import {', '.join(plain)}")
    return "\n".join(lines)


def student_source(ex):
    """The stub cell: imports, then the signature and docstring of each function to write,
    with a body that raises NotImplementedError and gives a one-line hint."""
    def stub(_, indent):
        return [f"{indent}# YOUR CODE HERE ({ex.stub_hint})",
                f"{indent}raise NotImplementedError(\"{ex.id}: not implemented yet\")"]
    return _cell(ex, _replace(unit_source(ex), spans(ex, unit_source(ex)), stub))


def solution_source(ex):
    """The instructor's cell: cnnlib's code with each body between nbgrader's markers."""
    def wrap(body, indent):
        return [f"{indent}{BEGIN}"] + body + [f"{indent}{END}"]
    return _cell(ex, _replace(unit_source(ex), spans(ex, unit_source(ex)), wrap))


def _cell(ex, code):
    imports = helper_imports(ex)
    head = f"# Exercise {ex.id}: {ex.title} (about {ex.minutes} minutes).\n"
    return head + (imports + "\n\n\n" if imports else "\n") + code.rstrip("\n")


def redact_source(obj, text):
    """show_source's text for obj with every exercise body it contains hidden."""
    try:
        lines, start = inspect.getsourcelines(obj)
        path = inspect.getsourcefile(obj)
    except (TypeError, OSError):
        return text
    out = text.splitlines()
    hidden = []
    for ex in exercises.EXERCISES:
        for qual, fn in ex.targets():
            try:
                fl, fstart = inspect.getsourcelines(fn)
                fpath = inspect.getsourcefile(fn)
            except (TypeError, OSError):
                continue
            if fpath != path or fstart < start or fstart + len(fl) > start + len(lines):
                continue
            first, last, indent = _body_spans(ast.parse(textwrap.dedent("".join(fl))).body[0])
            pad = len(fl[0]) - len(fl[0].lstrip())
            a, b = fstart - start + first, fstart - start + last
            hidden.append((a, b, " " * pad + indent, ex))
    for a, b, indent, ex in sorted(hidden, key=lambda h: -h[0]):
        out[a:b + 1] = [f"{indent}...  # hidden in the homework edition: exercise "
                        f"'{ex.id}' (notebook {ex.notebook})"]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")

