"""Which cells of a submission an answer needs: its own cell (the last top-level def/class
of the exercise's name), the cells that define the names it uses (helpers, constants;
followed transitively) and the notebook's import cells. The grading process runs exactly
these, in notebook order, so an answer is graded in the context the notebook gave it.

    p = plan(nb, exercise)     # p.answer, p.cells, p.unresolved
"""

import ast
import builtins
import re
from dataclasses import dataclass, field

# the magics whose cell body is Python that runs in the notebook's namespace
BODY_MAGICS = {"time", "timeit", "capture", "prun"}
IMPLICIT = set(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit",
                                 "_", "__", "___"}
SKIP_ROLES = {"check", "progress"}      # the homework's own check and progress cells


@dataclass
class Cell:
    index: int
    source: str
    binds: set = field(default_factory=set)
    loads: set = field(default_factory=set)
    imports: bool = False
    star: bool = False
    error: str = ""
    role: str = ""


@dataclass
class Plan:
    answer: int = None                    # index of the answer cell, None if there is none
    cells: list = field(default_factory=list)   # indices to run, in notebook order
    unresolved: dict = field(default_factory=dict)   # name -> why it cannot be found
    star: bool = False


def python_of(source):
    """The Python of a cell for analysis: line magics turned into calls, the body of a
    %%time-like cell magic, "" for other cell magics (their body is not Python)."""
    lines = source.lstrip("\n").split("\n")
    if lines and lines[0].startswith("%%"):
        name = lines[0][2:].split()[0] if lines[0][2:].split() else ""
        if name not in BODY_MAGICS:
            return ""
        source = "\n".join(lines[1:])
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:                       # IPython missing or a transformer failed
        return re.sub(r"^\s*[%!].*$", "", source, flags=re.M)


class _Names(ast.NodeVisitor):
    def __init__(self):
        self.top, self.stored, self.loaded = set(), set(), set()
        self.imports = self.star = False
        self.depth = 0

    def _bind(self, name):
        self.stored.add(name)
        if self.depth == 0:
            self.top.add(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.loaded.add(node.id)
        else:
            self._bind(node.id)

    def _scope(self, node):
        self._bind(node.name)
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        if isinstance(node, ast.ClassDef):
            for b in node.bases + [k.value for k in node.keywords]:
                self.visit(b)
        else:
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d]:
                self.visit(d)
            for a in node.args.args + node.args.posonlyargs + node.args.kwonlyargs + \
                    [a for a in (node.args.vararg, node.args.kwarg) if a]:
                self.stored.add(a.arg)
        self.depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Lambda(self, node):
        for a in node.args.args + node.args.kwonlyargs:
            self.stored.add(a.arg)
        self.generic_visit(node)

    def visit_Import(self, node):
        if self.depth == 0:
            self.imports = True
        for a in node.names:
            self._bind(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, node):
        if self.depth == 0:
            self.imports = True
        for a in node.names:
            if a.name == "*":
                self.star = True
            else:
                self._bind(a.asname or a.name)

    def visit_ExceptHandler(self, node):
        if node.name:
            self.stored.add(node.name)
        self.generic_visit(node)

    def visit_Global(self, node):
        for n in node.names:
            self.top.add(n)


def analyse(index, source, role=""):
    cell = Cell(index, source, role=role)
    code = python_of(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        cell.error = f"syntax error: {err.msg} (line {err.lineno})"
        return cell
    v = _Names()
    v.visit(tree)
    cell.binds, cell.imports, cell.star = v.top, v.imports, v.star
    cell.loads = v.loaded - v.stored - IMPLICIT
    return cell


def cells_of(nb):
    """[Cell] for every code cell of a notebook dict (index = position in nb["cells"])."""
    out = []
    for i, c in enumerate(nb.get("cells", [])):
        if c.get("cell_type") != "code":
            continue
        src = c.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        role = ((c.get("metadata") or {}).get("homework") or {}).get("role", "")
        out.append(analyse(i, src, role if isinstance(role, str) else ""))
    return out


def defines(cell, name):
    """True if the cell defines `name` with a top-level def or class."""
    code = python_of(cell.source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return bool(re.search(rf"^(def|class)\s+{re.escape(name)}\b", code, re.M))
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
               and n.name == name for n in tree.body)


def plan(nb, name, cells=None):
    """The Plan for the exercise whose answer defines `name`."""
    cells = cells if cells is not None else cells_of(nb)
    p = Plan()
    answers = [c for c in cells if defines(c, name)]
    if not answers:
        return p
    answer = answers[-1]
    p.answer = answer.index
    chosen = {answer.index}
    p.star = any(c.star for c in cells if c.index < answer.index)
    for c in cells:                           # import cells before the answer
        if c.imports and c.index < answer.index and c.role not in SKIP_ROLES:
            chosen.add(c.index)
    todo = [(n, answer.index) for n in answer.loads]
    seen = set()
    while todo:
        n, at = todo.pop()
        if (n, at) in seen:
            continue
        seen.add((n, at))
        if any(n in c.binds for c in cells if c.index in chosen and c.index <= at
               and c.imports and c.role not in SKIP_ROLES):
            continue
        before = [c for c in cells if n in c.binds and c.index < at and c.role not in SKIP_ROLES]
        after = [c for c in cells if n in c.binds and c.index > at and c.role not in SKIP_ROLES
                 and not defines(c, name)]
        if n in answer.binds and at == answer.index:
            continue
        found = before[-1] if before else (after[0] if after else None)
        if found is None:
            broken = [c for c in cells if c.error and re.search(rf"\b{re.escape(n)}\b", c.source)]
            if broken:
                p.unresolved[n] = (f"uses `{n}` from cell {broken[0].index}, which the grader "
                                   f"cannot read ({broken[0].error})")
            elif not p.star:
                p.unresolved[n] = f"uses `{n}`, which no cell of the notebook defines"
            continue
        if found.index not in chosen:
            chosen.add(found.index)
            todo += [(m, found.index) for m in found.loads]
    p.cells = sorted(chosen)
    return p
